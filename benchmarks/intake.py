"""Throughput of the durable intake against a bare PTB echo bot, measured in one run.

Both bots poll the same fake Bot API, served by a separate process on 127.0.0.1, and answer
every message with one sendMessage; both run on the same (uvloop) event loop. The echo bot
stores nothing; worklog stores every update in its inbox before confirming it, then stores
each message as a log entry and replies with its buttons. Prints messages/s for both (first
message sent to last reply received), the ratio, and how fast updates reached the durable
inbox. Run from the repository root:

    .venv/bin/python -m benchmarks.intake --messages 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import uvloop
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.app import build_app, build_sender, build_services
from bot.config import Config, DatabaseConfig, OutboxConfig, TelegramConfig
from bot.intake import Intake
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import LogEntry
from tests.seeding import seed_bound_people

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "42:benchmark"
USERS = 50


class FakeApiProcess:
    """The fake Bot API in its own process, driven through its /_control/ routes."""

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fakebot",
            "--port",
            "0",
            cwd=str(ROOT),
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = (await self.proc.stdout.readline()).decode().strip()
        assert line.startswith("READY "), line
        self.base_url = line.split(" ", 1)[1]
        self.root = self.base_url.rsplit("/bot", 1)[0]
        self.base_file_url = self.root + "/file/bot"
        self.http = aiohttp.ClientSession()

    async def control(self, action: str, payload: dict | None = None) -> dict:
        async with self.http.post(f"{self.root}/_control/{action}", json=payload or {}) as r:
            body = await r.json()
            return body.get("result", body)

    async def sent(self) -> int:
        stats = await self.control("stats")
        return int(stats["methods"].get("sendMessage", 0))

    async def send_burst(self, n: int, text: str) -> None:
        batch = [{"user_id": 9000 + i % USERS, "text": f"{text}第{i}项"} for i in range(n)]
        for start in range(0, n, 1000):
            await self.control("send_texts", {"messages": batch[start : start + 1000]})

    async def wait_sent(self, target: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while await self.sent() < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {await self.sent()} of {target} replies")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        await self.http.close()
        self.proc.terminate()
        await self.proc.wait()


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(update.message.text or "")


async def run_echo(api: FakeApiProcess, n: int) -> float:
    """Messages/s of a bare PTB bot: default Updater, one echo reply per message."""
    app: Application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.updater.start_polling(poll_interval=0, timeout=10)  # type: ignore[union-attr]
        await app.start()
        base = await api.sent()
        started = time.perf_counter()
        await api.send_burst(n, "echo")
        await api.wait_sent(base + n)
        elapsed = time.perf_counter() - started
        await app.updater.stop()  # type: ignore[union-attr]
        await app.stop()
    return n / elapsed


async def seed(url: str) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    await seed_bound_people(url, [(f"B{i:04d}", 9000 + i) for i in range(USERS)])


async def run_worklog(api: FakeApiProcess, n: int, url: str) -> tuple[float, float, int]:
    """Messages/s of worklog: durable intake, one stored entry and one reply per message."""
    await seed(url)
    config = Config(
        telegram=TelegramConfig(
            token=TOKEN, base_url=api.base_url, base_file_url=api.base_file_url, poll_timeout=10
        ),
        database=DatabaseConfig(url=url),
        # The intake is measured, not Telegram's limits (see benchmarks.fanout for those):
        # replies as fast as the echo bot's.
        outbox=OutboxConfig(rate=1000.0, budget=100_000.0, per_chat_interval=0.0),
    )
    engine = create_engine(url)
    wiring = build_services(config, engine)
    app = build_app(config, wiring.services)
    await wiring.load_names()
    await asyncio.to_thread(wiring.extractor.warm_up)
    async with app:
        await app.start()
        intake = Intake(app, wiring.services.inbox, poll_timeout=10)
        intake.start()
        sender = build_sender(wiring, app)
        sending = asyncio.create_task(sender.run())
        base = await api.sent()
        started = time.perf_counter()
        await api.send_burst(n, "与县发改委对接项目用地")
        while intake.fed < n:  # durably stored in the inbox, offsets not yet confirmed
            await asyncio.sleep(0.005)
        stored_in = time.perf_counter() - started
        await api.wait_sent(base + n)
        elapsed = time.perf_counter() - started
        sender.stop()
        await sending
        await intake.stop()
        await app.stop()
    async with session_factory(engine)() as db:
        stored = int(await db.scalar(select(func.count()).select_from(LogEntry)) or 0)
    await engine.dispose()
    return n / elapsed, n / stored_in, stored


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    api = FakeApiProcess()
    await api.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database or f"sqlite+aiosqlite:///{tmp}/bench.db"
            echo_rate = await run_echo(api, args.messages)
            worklog_rate, intake_rate, stored = await run_worklog(api, args.messages, url)
    finally:
        await api.stop()
    result = {
        "messages": args.messages,
        "database": "sqlite" if not args.database else args.database.split(":")[0],
        "echo_msgs_per_s": round(echo_rate),
        "worklog_msgs_per_s": round(worklog_rate),
        "ratio": round(worklog_rate / echo_rate, 2),
        "inbox_stored_msgs_per_s": round(intake_rate),
        "entries_stored": stored,
    }
    print(json.dumps(result, ensure_ascii=False))
    if stored != args.messages:
        raise SystemExit(f"expected {args.messages} stored entries, found {stored}")


if __name__ == "__main__":
    uvloop.run(main())
