"""Operators' endpoints over real HTTP on real databases: /healthz, /metrics; the log format."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.ops
from bot.config import Config, OpsConfig, TelegramConfig
from bot.logs import PAYLOAD_LOGGERS, configure
from bot.ops import Metrics, build_ops_app, start_ops
from services.clock import FrozenClock
from services.ops import OpsService
from storage.db import create_engine, session_factory
from storage.uow import UnitOfWork
from tests.conftest import PG_HOST, PG_PORT

TOKEN = "123456:AAE-secret_token_value"
CONFIG = OpsConfig(port=0, max_pending_age=300.0)


@dataclass
class Probe:
    """A stand-in for getMe that counts its calls and fails when told to."""

    error: BaseException | None = None
    hang: bool = False
    calls: int = 0

    async def __call__(self) -> object:
        self.calls += 1
        if self.hang:
            await asyncio.sleep(3600)
        if self.error is not None:
            raise self.error
        return {"username": "county_worklog_bot"}


@dataclass
class Ops:
    """The ops endpoints served on 127.0.0.1 over one test database."""

    engine: AsyncEngine
    clock: FrozenClock
    lock: asyncio.Lock
    metrics: Metrics = field(default_factory=Metrics)

    def uow(self) -> UnitOfWork:
        # One lock for every dialect: the test takes it to make the database "hang".
        return UnitOfWork(session_factory(self.engine), self.lock, now=self.clock.now)

    @contextlib.asynccontextmanager
    async def serve(
        self, probe: Callable[[], Awaitable[object]] | None, config: OpsConfig = CONFIG
    ) -> AsyncIterator[Client]:
        ops = OpsService(self.uow, self.clock)
        app = build_ops_app(ops, self.metrics, config, probe_bot=probe, token=TOKEN)
        runner = await start_ops(app, config)
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
                yield Client(session)
        finally:
            await runner.cleanup()

    async def store_updates(self, pending: int, failed: int = 0) -> None:
        """Inbox rows received now, as the intake stores them."""
        statuses = ["pending"] * pending + ["failed"] * failed
        async with self.uow() as uow:
            start = (await uow.ops.backlog()).inbox_pending
            await uow.inbox.add_many(
                [
                    {
                        "update_id": start + i,
                        "dedup_key": f"m:{start + i}",
                        "payload": "{}",
                        "status": status,
                        "attempts": 0,
                        "received_at": self.clock.now(),
                    }
                    for i, status in enumerate(statuses)
                ]
            )
            await uow.commit()


@dataclass
class Client:
    session: aiohttp.ClientSession

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with self.session.get("/healthz") as response:
            return response.status, await response.json()

    async def metrics(self, accept: str = "") -> tuple[str, dict[str, float]]:
        headers = {"Accept": accept} if accept else {}
        async with self.session.get("/metrics", headers=headers) as response:
            assert response.status == 200
            text = await response.text()
            return response.headers["Content-Type"], samples(text)


def samples(text: str) -> dict[str, float]:
    """name{label="value"} → value of every sample in a Prometheus text page."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


async def ops_env(url: str, clock: FrozenClock) -> Ops:
    return Ops(create_engine(url), clock, asyncio.Lock())


@pytest.fixture
async def env(db_url: str, clock: FrozenClock) -> AsyncIterator[Ops]:
    ops = await ops_env(db_url, clock)
    try:
        yield ops
    finally:
        await ops.engine.dispose()


async def test_healthy_database_and_bot_api_answer_200(env: Ops) -> None:
    probe = Probe()
    async with env.serve(probe) as client:
        status, body = await client.health()
        again, _ = await client.health()
    assert (status, again) == (200, 200)
    assert body == {
        "status": "ok",
        "database": {"ok": True},
        "bot_api": {"ok": True},
        "inbox": {"ok": True, "pending": 0, "failed": 0, "oldest_pending_seconds": None},
        "outbox": {"pending": 0},
    }
    # A scraper polling every few seconds does not ask Telegram every time.
    assert probe.calls == 1


async def test_local_mode_has_no_bot_api_to_ask(env: Ops) -> None:
    async with env.serve(None) as client:
        status, body = await client.health()
    assert status == 200
    assert body["bot_api"] == "not used"


async def test_bot_api_failure_is_503_without_the_token_and_not_cached(env: Ops) -> None:
    probe = Probe(error=ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe"))
    async with env.serve(probe) as client:
        status, body = await client.health()
        again, _ = await client.health()
        probe.error = None
        healed, _ = await client.health()
    assert (status, again, healed) == (503, 503, 200)
    assert body["status"] == "fail"
    assert body["database"] == {"ok": True}
    assert body["bot_api"] == {
        "ok": False,
        "error": "ConnectionError: cannot reach https://api.telegram.org/bot<token>/getMe",
    }
    assert probe.calls == 3


async def test_bot_api_that_does_not_answer_is_503(
    env: Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.ops, "BOT_API_TIMEOUT", 0.2)
    async with env.serve(Probe(hang=True)) as client:
        status, body = await client.health()
    assert status == 503
    assert body["bot_api"]["error"].startswith("TimeoutError")


async def test_an_update_waiting_too_long_is_503(env: Ops) -> None:
    await env.store_updates(2)
    async with env.serve(Probe()) as client:
        env.clock.advance(seconds=120)
        fresh, fresh_body = await client.health()
        env.clock.advance(seconds=181)
        stale, body = await client.health()
    assert fresh == 200
    assert fresh_body["inbox"]["oldest_pending_seconds"] == 120.0
    assert stale == 503
    assert body["status"] == "fail"
    assert body["inbox"] == {
        "ok": False,
        "pending": 2,
        "failed": 0,
        "oldest_pending_seconds": 301.0,
    }
    assert body["database"] == {"ok": True}


async def test_metrics_count_and_show_the_backlog(env: Ops) -> None:
    await env.store_updates(2, failed=1)
    async with env.uow() as uow:
        await uow.outbox.add("notice:1", "notice", "通知", env.clock.now(), chat_id=1)
        await uow.commit()
    env.clock.advance(seconds=42)
    m = env.metrics
    m.received(3)
    m.processed(0.02)
    m.processed(12.0)
    m.failed()
    m.sent("reply")
    m.sent("reply")
    m.sent("reminder")
    m.flood_wait()
    async with env.serve(None) as client:
        content_type, values = await client.metrics()
        open_type, _ = await client.metrics("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("text/plain; version=")
    assert open_type.startswith("application/openmetrics-text")
    assert values["worklog_updates_received_total"] == 3
    assert values["worklog_updates_processed_total"] == 2
    assert values["worklog_updates_failed_total"] == 1
    assert values["worklog_update_processing_seconds_count"] == 2
    assert values['worklog_update_processing_seconds_bucket{le="0.025"}'] == 1
    assert values['worklog_update_processing_seconds_bucket{le="30.0"}'] == 2
    assert values['worklog_messages_sent_total{kind="reply"}'] == 2
    assert values['worklog_messages_sent_total{kind="reminder"}'] == 1
    assert values["worklog_telegram_flood_waits_total"] == 1
    assert values["worklog_inbox_backlog"] == 2
    assert values["worklog_inbox_failed"] == 1
    assert values["worklog_outbox_backlog"] == 1
    assert values["worklog_inbox_oldest_pending_seconds"] == 42


async def test_a_database_that_does_not_answer_is_503_and_metrics_still_answer(
    env: Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.ops, "DATABASE_TIMEOUT", 0.3)
    await env.store_updates(1)
    async with env.serve(Probe()) as client:
        _, before = await client.metrics()
        async with env.lock:  # every unit of work waits for it
            status, body = await client.health()
            _, during = await client.metrics()
        healed, _ = await client.health()
    assert status == 503
    assert body["database"] == {"ok": False, "error": "TimeoutError: no answer in time"}
    assert body["inbox"] is None
    assert body["bot_api"] == {"ok": True}
    assert before["worklog_inbox_backlog"] == during["worklog_inbox_backlog"] == 1
    assert healed == 200


def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.failed()
    assert first.registry.get_sample_value("worklog_updates_failed_total") == 1
    assert second.registry.get_sample_value("worklog_updates_failed_total") == 0


class TcpProxy:
    """127.0.0.1:port → PostgreSQL, which a test can take away (connections cut) and bring back
    on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        # Cleared: bytes are held back, as on a network that lost its route.
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()
        self.server = None

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            self.writers.discard(writer)
            writer.transport.abort()


@contextlib.asynccontextmanager
async def behind_proxy(db_url: str, clock: FrozenClock) -> AsyncIterator[tuple[Ops, TcpProxy]]:
    """The ops endpoints over an engine (storage.db's, pool_pre_ping) that reaches
    PostgreSQL through a TcpProxy."""
    if db_url.startswith("sqlite"):
        pytest.skip(
            "SQLite has no network to lose, and its file stays readable through the "
            "descriptors the pool holds open; a database that does not answer is covered by "
            "test_a_database_that_does_not_answer_is_503_and_metrics_still_answer"
        )
    proxy = TcpProxy()
    await proxy.open()
    url = make_url(db_url).set(host="127.0.0.1", port=proxy.port)
    env = await ops_env(url.render_as_string(hide_password=False), clock)
    try:
        yield env, proxy
    finally:
        await env.engine.dispose()
        if proxy.server is not None:
            await proxy.close()


async def test_the_database_goes_away_and_comes_back(db_url: str, clock: FrozenClock) -> None:
    async with behind_proxy(db_url, clock) as (env, proxy), env.serve(Probe()) as client:
        up, _ = await client.health()
        await proxy.close()
        started = time.monotonic()
        down, body = await client.health()
        elapsed = time.monotonic() - started
        _, metrics = await client.metrics()  # still answers while the database is away
        await proxy.open()
        back, _ = await client.health()
    assert (up, down, back) == (200, 503, 200)
    assert elapsed < bot.ops.DATABASE_TIMEOUT + 1
    assert body["status"] == "fail"
    assert body["database"]["ok"] is False
    assert body["database"]["error"].startswith("ConnectionRefusedError")
    assert body["bot_api"] == {"ok": True}
    assert metrics["worklog_inbox_backlog"] == 0


async def test_a_database_that_stops_answering_is_503_in_time_and_recovers(
    db_url: str, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.ops, "DATABASE_TIMEOUT", 1.0)
    async with behind_proxy(db_url, clock) as (env, proxy), env.serve(Probe()) as client:
        up, _ = await client.health()
        proxy.flowing.clear()
        started = time.monotonic()
        down, body = await client.health()
        elapsed = time.monotonic() - started
        proxy.flowing.set()
        back, _ = await client.health()
    assert (up, down, back) == (200, 503, 200)
    # On time, although cancelling the stuck call waits seconds for its connection to close.
    assert elapsed < bot.ops.DATABASE_TIMEOUT + 0.5
    assert body["database"] == {"ok": False, "error": "TimeoutError: no answer in time"}


@contextlib.contextmanager
def only_configured_handlers() -> Iterator[logging.Logger]:
    """The root logger without pytest's handlers (added around the test call), restored after."""
    root = logging.getLogger()
    handlers = root.handlers
    levels = {name: logging.getLogger(name).level for name in ("", "httpx", *PAYLOAD_LOGGERS)}
    root.handlers = []
    try:
        yield root
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = handlers
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def logged(config: Config, monkeypatch: pytest.MonkeyPatch) -> str:
    """Configure logging, log a URL with the token, a Chinese text and an exception."""
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    configure(config)
    configure(config)  # twice: still one handler
    log = logging.getLogger("telegram.ext.test")
    log.info("POST %s", f"https://api.telegram.org/bot{TOKEN}/sendMessage")
    logging.getLogger("httpx").info("GET %s", f"https://api.telegram.org/bot{TOKEN}/getMe")
    log.warning("数据库已就绪")
    try:
        raise ConnectionError(f"https://api.telegram.org/bot{TOKEN}/getUpdates timed out")
    except ConnectionError:
        log.exception("polling failed")
    return stderr.getvalue()


def test_json_logs_are_one_object_per_line_without_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = Config(telegram=TelegramConfig(token=TOKEN), log_format="json")
    with only_configured_handlers() as root:
        output = logged(config, monkeypatch)
        handlers = len(root.handlers)
    assert TOKEN not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert [line["message"] for line in lines] == [
        "POST https://api.telegram.org/bot<token>/sendMessage",
        "数据库已就绪",
        "polling failed",
    ]
    assert [line["level"] for line in lines] == ["INFO", "WARNING", "ERROR"]
    assert {line["logger"] for line in lines} == {"telegram.ext.test"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", lines[0]["time"])
    assert "exc" not in lines[0]
    assert lines[2]["exc"].startswith("Traceback")
    assert "bot<token>/getUpdates timed out" in lines[2]["exc"]
    assert "数据库已就绪" in output  # ensure_ascii=False
    assert handlers == 1


def test_text_logs_keep_their_format_without_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with only_configured_handlers() as root:
        output = logged(Config(telegram=TelegramConfig(token=TOKEN)), monkeypatch)
        handlers = len(root.handlers)
    assert TOKEN not in output
    first = output.splitlines()[0]
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO telegram\.ext\.test: POST \S+"
    assert re.fullmatch(pattern, first)
    assert first.endswith("bot<token>/sendMessage")
    assert "bot<token>/getUpdates timed out" in output
    assert handlers == 1


def test_debug_logs_leave_out_the_updates_and_requests_telegram_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    with only_configured_handlers():
        configure(Config(log_level="DEBUG"))
        update = {"message": {"text": "今天整理了项目台账"}}
        logging.getLogger("telegram.ext.Application").debug("Processing update %s", update)
        logging.getLogger("telegram.ext.ExtBot").debug("Call finished with `%s`", [update])
        logging.getLogger("scheduler.jobs").debug("job planned 3 message(s)")
    output = stderr.getvalue()
    assert "项目台账" not in output
    assert "job planned 3 message(s)" in output
