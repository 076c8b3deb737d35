"""A reminder fan-out within Telegram's limits while cadres write, and planning a city's one.

Runs on a fresh database (a SQLite file, or a throwaway PostgreSQL database) with 35,000
bound cadres:

1. Planning: 35,000 reminders (priority 1), one per cadre, written into the outbox in one
   transaction through `OutboxRepository.add_to_people` (one statement per chunk, ON
   CONFLICT DO NOTHING on the key); then planned again, as a restarted planner would (every
   key is known: nothing is added). Target: under 5 s each.
2. Fan-out: the real Application with the durable intake and the outbox sender, as
   `bot.app` builds them (`[outbox]` defaults: 25 paced messages a second, 30 in all, one a
   second per chat), sends the first `--reminders` of those 35,000 (the rest stay queued
   behind them) through the fake Bot API, which enforces Telegram's limits: 30 messages a
   second overall and one a second per chat, a 429 with retry_after beyond. Meanwhile
   `--cadres` simulated cadres (reminder recipients too) write log messages: each waits for
   the bot's confirmation, then thinks for 10 to 30 seconds before writing again.

Prints reminders/s (first to last reminder arriving at the fake API) and its ratio to the
configured rate, the 429s the fake answered, and the p50/p95 latency of the cadres' replies
(message queued at the fake API to the bot's confirmation arriving there). Targets: ratio
>= 0.95, no 429, p95 <= 2 s. The fake runs in the bot's event loop. Run from the
repository root:

    .venv/bin/python -m benchmarks.fanout --db both
    .venv/bin/python -m benchmarks.fanout --db postgresql --pg-url postgresql+asyncpg://u@h/db
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from bot.app import build_app, build_sender, build_services
from bot.config import Config, DatabaseConfig, OutboxConfig, TelegramConfig
from bot.intake import Intake
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import OutboxMessage, Person, Unit
from tests.fakebot import FakeBotApi, FakeUser

TOKEN = "42:fanout-benchmark"
REMINDER = "今天的工作日志还没有记录，请发送今天做了什么。"
FIRST_USER = 10_000_000
CHUNK = 5_000
DEFAULT_PG_URL = os.environ.get(
    "WORKLOG_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TARGET_RATIO = 0.95
TARGET_P95_S = 2.0
TARGET_PLAN_S = 5.0


@dataclass(frozen=True)
class Spec:
    people: int = 35_000  # bound cadres, each planned one reminder
    reminders: int = 3_000  # of them sent in the fan-out
    cadres: int = 40  # of the recipients writing meanwhile
    think: tuple[float, float] = (10.0, 30.0)  # seconds between a reply and the next message
    seed: int = 20261120


# -- databases -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database(kind: str, pg_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database URL, dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'fanout.db'}"
            await _migrate(url)
            yield url
        return
    base = make_url(pg_url)
    name = f"bench_fanout_{uuid.uuid4().hex[:10]}"

    async def admin() -> asyncpg.Connection:
        return await asyncpg.connect(
            host=base.host,
            port=base.port or 5432,
            user=base.username,
            password=base.password,
            database=base.database,
        )

    conn = await admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        await _migrate(url)
        yield url
    finally:
        conn = await admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def seed_people(url: str, people: int) -> list[int]:
    """Bound cadres in one unit, Telegram accounts FIRST_USER + n; their ids in order."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with session_factory(engine)() as db:
            unit = Unit(name="县发改委")
            db.add(unit)
            await db.flush()
            rows = [
                {
                    "roster_id": f"F{n:05d}",
                    "name": f"干部{n}",
                    "unit_id": unit.id,
                    "position": "科员",
                    "roles": "cadre",
                    "telegram_user_id": FIRST_USER + n,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(people)
            ]
            for start in range(0, people, CHUNK):
                await db.execute(insert(Person), rows[start : start + CHUNK])
            await db.commit()
            return list((await db.scalars(select(Person.id).order_by(Person.id))).all())
    finally:
        await engine.dispose()


# -- the run ---------------------------------------------------------------------------------


def refusals(api: FakeBotApi) -> list[dict[str, Any]]:
    """The sends the fake's limits refused: which limit, what, and how soon after the chat's
    previous message (or how many messages in the second before)."""
    calls = api.calls("sendMessage")
    out = []
    for n, call in enumerate(calls):
        if call.fault != "rate":
            continue
        before = [c for c in calls[:n] if c.ok and c.at > call.at - 1.0]
        same_chat = [c for c in before if c.chat_id == call.chat_id]
        out.append(
            {
                "limit": "chat" if same_chat else "global",
                "what": "reminder" if call.text == REMINDER else "reply",
                "after_s": round(call.at - same_chat[-1].at, 3) if same_chat else None,
                "in_last_second": len(before),
            }
        )
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def plan(wiring: Any, person_ids: list[int], key: str) -> float:
    """Plan one reminder per person in one transaction; seconds taken."""
    started = time.perf_counter()
    async with wiring.uow() as uow:
        messages = [(f"{key}:{pid}", pid, REMINDER) for pid in person_ids]
        await uow.outbox.add_to_people(messages, "reminder", datetime.now(UTC))
        await uow.commit()
    return time.perf_counter() - started


async def cadre(
    api: FakeBotApi, user: FakeUser, spec: Spec, rng: random.Random, done: asyncio.Event
) -> list[float]:
    """Write log messages until `done`; each reply's latency in seconds."""
    latencies: list[float] = []
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), rng.uniform(0, spec.think[1]))
    serial = 0
    while not done.is_set():
        serial += 1
        mark = len(api.calls())
        sent_at = time.time()
        api.send_text(user, f"1.走访企业第{user.id}-{serial}号项目\n2.整理项目档案")
        reply = await api.wait_for(
            lambda c, uid=user.id: c.chat_id == uid and c.ok and c.text != REMINDER,
            method="sendMessage",
            since=mark,
            timeout=60,
        )
        latencies.append(reply.at - sent_at)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), rng.uniform(*spec.think))
    return latencies


async def fan_out(url: str, spec: Spec) -> dict[str, Any]:
    """Send the first `spec.reminders` planned reminders with the real bot while cadres
    write (the cadres are among those recipients)."""
    rng = random.Random(spec.seed)
    step = max(1, spec.reminders // max(1, spec.cadres))
    writers = [FakeUser(FIRST_USER + n, f"干部{n}") for n in range(0, spec.reminders, step)]
    writers = writers[: spec.cadres]
    api = FakeBotApi(strict_chats=False)
    await api.start()
    api.enforce_limits(global_per_second=30, per_chat_per_second=1)
    config = Config(
        telegram=TelegramConfig(
            token=TOKEN, base_url=api.base_url, base_file_url=api.base_file_url, poll_timeout=10
        ),
        database=DatabaseConfig(url=url),
        outbox=OutboxConfig(),
    )
    engine = create_engine(url)
    wiring = build_services(config, engine)
    app = build_app(config, wiring.services)
    try:
        await wiring.load_names()
        await asyncio.to_thread(wiring.extractor.warm_up)
        async with app:
            await app.start()
            intake = Intake(app, wiring.services.inbox, poll_timeout=10)
            intake.start()
            sender = build_sender(wiring, app)
            done = asyncio.Event()
            started = time.time()
            sending = asyncio.create_task(sender.run())
            writing = [
                asyncio.create_task(cadre(api, user, spec, random.Random(rng.random()), done))
                for user in writers
            ]

            def reminders() -> list[Any]:
                return [c for c in api.calls("sendMessage") if c.ok and c.text == REMINDER]

            while len(reminders()) < spec.reminders:
                await asyncio.sleep(0.1)
                if time.time() - started > 10 * spec.reminders / config.outbox.rate + 60:
                    raise TimeoutError(f"only {len(reminders())} of {spec.reminders} sent")
            done.set()
            latencies = [x for got in await asyncio.gather(*writing) for x in got]
            sender.stop()  # the reminders under way are finished and recorded
            await sending
            await intake.stop()
            await app.stop()
    finally:
        await api.stop()
        async with session_factory(engine)() as db:
            statuses = dict(
                (
                    await db.execute(
                        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                    )
                ).all()
            )
            unsure = int(await db.scalar(select(func.sum(OutboxMessage.unsure))) or 0)
            recorded = int(
                await db.scalar(
                    select(func.count()).where(
                        OutboxMessage.kind == "reminder", OutboxMessage.status == "sent"
                    )
                )
                or 0
            )
        await engine.dispose()
    sent = reminders()[: spec.reminders]
    times = sorted(c.at for c in sent)
    per_chat = Counter(c.chat_id for c in reminders())
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "reminders": spec.reminders,
        "reminders_sent": len(reminders()),
        # Everyone reached once, in order, and each delivery recorded as sent.
        "each_recipient_once": sorted(per_chat) == [FIRST_USER + n for n in range(len(per_chat))]
        and set(per_chat.values()) == {1}
        and recorded == len(per_chat),
        "reminders_per_s": round(rate, 2),
        "configured_rate": config.outbox.rate,
        "ratio": round(rate / config.outbox.rate, 3),
        "fan_out_s": round(times[-1] - times[0], 1),
        "telegram_429s": api.rate_limited,
        "refused": refusals(api),
        "sender_429s": sender.floods,
        "cadres": len(writers),
        "replies": len(latencies),
        "reply_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "reply_p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "reply_max_s": round(max(latencies), 3) if latencies else None,
        "outbox": statuses,
        "unsure": unsure,
    }


async def run(kind: str, spec: Spec, pg_url: str = DEFAULT_PG_URL) -> dict[str, Any]:
    """Planning, then the fan-out, on a fresh database of `kind`."""
    async with database(kind, pg_url) as url:
        person_ids = await seed_people(url, spec.people)
        engine = create_engine(url)
        wiring = build_services(Config(database=DatabaseConfig(url=url)), engine)
        try:
            plan_s = await plan(wiring, person_ids, "daily-reminder:2026-11-20")
            replan_s = await plan(wiring, person_ids, "daily-reminder:2026-11-20")
            async with session_factory(engine)() as db:
                planned = int(await db.scalar(select(func.count(OutboxMessage.id))) or 0)
        finally:
            await engine.dispose()
        result = await fan_out(url, spec)
    return {
        "database": kind,
        "planned": planned,
        "plan_s": round(plan_s, 2),
        "replan_s": round(replan_s, 2),
        **result,
    }


def verdict(result: dict[str, Any]) -> list[str]:
    """The targets a result misses."""
    misses = []
    if result["ratio"] < TARGET_RATIO:
        misses.append(f"reminders/s below {TARGET_RATIO:.0%} of the configured rate")
    if result["telegram_429s"]:
        misses.append("Telegram answered 429")
    if result["reply_p95_s"] is not None and result["reply_p95_s"] > TARGET_P95_S:
        misses.append(f"reply p95 above {TARGET_P95_S} s")
    if max(result["plan_s"], result["replan_s"]) > TARGET_PLAN_S:
        misses.append(f"planning took more than {TARGET_PLAN_S} s")
    if not result["each_recipient_once"]:
        misses.append("not every recipient got exactly one reminder")
    return misses


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--people", type=int, default=Spec.people)
    parser.add_argument("--reminders", type=int, default=Spec.reminders)
    parser.add_argument("--cadres", type=int, default=Spec.cadres)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="SQLAlchemy URL of PostgreSQL")
    args = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    spec = Spec(people=args.people, reminders=args.reminders, cadres=args.cadres)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    failed = False
    for kind in kinds:
        result = await run(kind, spec, args.pg_url)
        misses = verdict(result)
        result["targets_met"] = not misses
        print(json.dumps(result, ensure_ascii=False), flush=True)
        for miss in misses:
            print(f"  MISSED ({kind}): {miss}", flush=True)
        failed = failed or bool(misses)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    uvloop.run(main())
