"""Webhook mode and several processes, as real `worklog run` processes against the fake Bot
API: the secret is checked, a redelivery is stored once, a SIGKILL between receipt and commit
is healed by Telegram's retry, SIGTERM loses and repeats nothing, and two processes on one
PostgreSQL share a burst while one of them is killed again and again."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.webhook import SECRET_HEADER
from storage.db import create_engine
from storage.models import InboxUpdate, LogEntry, OutboxMessage, Person
from tests.fakebot import FakeBotApi
from tests.outages import DatabaseLock
from tests.seeding import process_env, write_config
from tests.test_crash import USERS, Burst, _outbox, _seed, _stored
from tests.test_serve import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-Token_for-tests"


class Service:
    """One `worklog run` process in webhook mode, its log in a file (a pipe could fill up)."""

    def __init__(self, tmp: Path, name: str, api: FakeBotApi, db_url: str, **extra: str) -> None:
        self.port = free_port()
        self.ops_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram/webhook"
        self.config = tmp / f"{name}.toml"
        self.log = tmp / f"{name}.log"
        sections = {
            "telegram": {
                "token": "999:webhook-test",
                "base_url": api.base_url,
                "base_file_url": api.base_file_url,
                "mode": "webhook",
                "webhook_secret": SECRET,
                "webhook_url": extra.pop("webhook_url", self.url),
            },
            "database": {"url": db_url},
            "web": {"host": "127.0.0.1", "port": self.port},
            "ops": {"port": self.ops_port},
            "service": {"claim_timeout": 5, "stop_grace": 10},
            "backup": {"enabled": False},
        }
        write_config(self.config, sections)
        self.process: asyncio.subprocess.Process | None = None

    def env(self) -> dict[str, str]:
        return process_env(self.config)

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=self.env(), cwd=str(ROOT),
                stdout=log, stderr=log,
            )  # fmt: skip
        await _until(self.healthy, 90, f"{self.config.stem} to answer /healthz")

    async def healthy(self) -> bool:
        try:
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{self.ops_port}/healthz"
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                    return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            assert self.process is not None and self.process.returncode is None, self.tail()
            return False

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)

    async def cli(self, *args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, env=self.env(), cwd=str(ROOT),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        return int(process.returncode or 0), out.decode()

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


async def _until(predicate: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _post(url: str, body: dict[str, Any], secret: str | None) -> int:
    headers = {} if secret is None else {SECRET_HEADER: secret}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as r:
        return r.status


async def _inbox_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(InboxUpdate)) or 0)
    finally:
        await engine.dispose()


async def _everything_done(db_url: str, burst: Burst, api: FakeBotApi) -> bool:
    per_message, pending = await _stored(db_url)
    replies, _ = await _outbox(db_url)
    state = api.webhook_state()
    return (
        pending == 0
        and replies == 0
        and len(per_message) == len(burst.expected)
        and state["pending"] == 0
        and not state["in_flight"]
    )


def _assert_once_and_confirmed(burst: Burst, per_message: Counter[Any], unsure: int) -> None:
    assert dict(per_message) == burst.expected  # every message, with exactly its items, once
    confirmations = burst.confirmations()
    assert [key for key in burst.expected if confirmations[key] == 0] == []
    doubled = sum(n - 1 for n in confirmations.values() if n > 1)
    assert doubled <= unsure, f"{doubled} doubled confirmations, {unsure} counted as unsure"


@pytest.fixture
async def api() -> Any:
    fake = FakeBotApi(webhook_retry_delay=0.2)
    await fake.start()
    yield fake
    await fake.stop()


async def test_webhook_checks_the_secret_and_stores_a_redelivery_once(
    db_url: str, tmp_path: Path, api: FakeBotApi
) -> None:
    await _seed(db_url)
    service = Service(tmp_path, "one", api, db_url)
    code, out = await service.cli("webhook", "set")
    assert code == 0, out
    assert f"已向 Telegram 登记 webhook：{service.url}" in out
    assert api.webhook_info()["url"] == service.url
    await service.start()
    try:
        burst = Burst(api, 1)
        burst.send(4)
        update = api.send_text(USERS[0], "1.走访企业第900号项目")
        key = (update["message"]["chat"]["id"], update["message"]["message_id"])
        burst.expected[key], burst.markers[key] = 1, "走访企业第900号项目"
        await _until(lambda: _everything_done(db_url, burst, api), 60, "the five messages")
        rows = await _inbox_rows(db_url)

        # A caller without the secret, or with another one, is refused and stores nothing.
        assert await _post(service.url, {"update_id": 999999, "message": {}}, None) == 401
        assert await _post(service.url, update, "not-the-secret") == 401
        # Telegram delivering the same update again (say its 200 got lost): stored once.
        assert await _post(service.url, update, SECRET) == 200
        assert await _post(service.url, update, SECRET) == 200
        # Not an update at all.
        assert await _post(service.url, {"hello": 1}, SECRET) == 400
        assert await _inbox_rows(db_url) == rows
        per_message, _ = await _stored(db_url)
        _, unsure = await _outbox(db_url)
        _assert_once_and_confirmed(burst, per_message, unsure)

        # What the process counted, as Prometheus scrapes it.
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{service.ops_port}/metrics") as response,
        ):
            metrics = await response.text()
        # The two redeliveries were received, and stored as nothing new.
        assert "worklog_updates_received_total 7.0" in metrics
        assert "worklog_updates_processed_total 5.0" in metrics
        assert 'worklog_messages_sent_total{kind="reply"} 5.0' in metrics
        assert "worklog_inbox_backlog 0.0" in metrics

        code, out = await service.cli("webhook", "info")
        assert code == 0 and "与配置一致" in out, out
        assert await service.terminate() == 0, service.tail()
    finally:
        if service.process and service.process.returncode is None:
            await service.kill()
    log = service.tail()
    assert "webhook-test" not in log and "999:" not in log, "the token leaked into the log"
    assert "走访企业" not in log, "a cadre's message leaked into the log"
    code, out = await service.cli("webhook", "delete")
    assert code == 0 and "已删除 webhook" in out, out
    assert api.webhook_info()["url"] == ""


@contextlib.asynccontextmanager
async def _serving(db_url: str, tmp_path: Path, api: FakeBotApi) -> AsyncIterator[Service]:
    """Seeded cadres and one service, registered as the webhook; killed if a test fails."""
    await _seed(db_url)
    service = Service(tmp_path, "one", api, db_url)
    api.set_webhook(service.url, secret_token=SECRET)
    await service.start()
    try:
        yield service
    finally:
        if service.process and service.process.returncode is None:
            await service.kill()


async def test_a_sigkill_between_receipt_and_commit_is_healed_by_telegrams_retry(
    db_url: str, tmp_path: Path, api: FakeBotApi
) -> None:
    burst = Burst(api, 2)
    async with _serving(db_url, tmp_path, api) as service:
        async with DatabaseLock(db_url):
            burst.send(1)
            # The delivery is in the service, which waits for the locked inbox table.
            await api.wait_webhook(lambda state: bool(state["in_flight"]), timeout=30)
            await asyncio.sleep(0.3)
            await service.kill()
        assert await _inbox_rows(db_url) == 0, "nothing may be stored without its commit"
        await api.wait_webhook(lambda state: state["last_error_message"], timeout=30)
        await service.start()  # Telegram's next attempt reaches the restarted service
        await _until(lambda: _everything_done(db_url, burst, api), 60, "the redelivery")
        assert await service.terminate() == 0, service.tail()
    [delivery] = api.webhook_deliveries()
    assert delivery.attempts >= 2
    per_message, _ = await _stored(db_url)
    _, unsure = await _outbox(db_url)
    _assert_once_and_confirmed(burst, per_message, unsure)


async def test_sigterm_stops_taking_updates_and_finishes_those_in_hand(
    db_url: str, tmp_path: Path, api: FakeBotApi
) -> None:
    burst = Burst(api, 3)
    async with _serving(db_url, tmp_path, api) as service:
        burst.send(60)
        await _until(lambda: _async(len(api.calls("sendMessage")) >= 10), 60, "some replies")
        assert await service.terminate() == 0, service.tail()
        burst.send(20)  # arriving while it is down: Telegram keeps them
        await service.start()
        await _until(lambda: _everything_done(db_url, burst, api), 90, "the whole burst")
        assert await service.terminate() == 0, service.tail()
    per_message, _ = await _stored(db_url)
    _, unsure = await _outbox(db_url)
    assert unsure == 0, "a graceful stop leaves no send in doubt"
    _assert_once_and_confirmed(burst, per_message, unsure)


async def test_sqlite_refuses_a_second_process(
    db_url: str, tmp_path: Path, api: FakeBotApi
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL is the one that runs several processes")
    first = Service(tmp_path, "first", api, db_url)
    await first.start()
    try:
        second = Service(tmp_path, "second", api, db_url)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=second.env(), cwd=str(ROOT),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 2
        assert "SQLite serves one process" in out.decode()
        assert await first.healthy()
    finally:
        assert await first.terminate() == 0, first.tail()


class RoundRobin:
    """A reverse proxy in front of several services, like nginx with two upstreams: each
    request goes to the next one; one that cannot be reached answers 502 (Telegram retries,
    and the retry goes to the next)."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = itertools.cycle(targets)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram/webhook"

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {SECRET_HEADER: request.headers.get(SECRET_HEADER, "")}
        headers["Content-Type"] = "application/json"
        try:
            async with self.http.post(next(self.targets), data=body, headers=headers) as r:
                return web.Response(status=r.status)
        except (aiohttp.ClientError, TimeoutError):
            return web.Response(status=502)

    async def __aenter__(self) -> RoundRobin:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post("/telegram/webhook", self.forward)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()
        await self.http.close()


async def _queue_reminders(db_url: str) -> dict[int, str]:
    """One reminder per cadre in the outbox, as the daily job queues them: person -> text."""
    engine = create_engine(db_url)
    now = datetime.now(UTC)
    texts = {}
    try:
        async with engine.begin() as conn:
            people = (await conn.execute(select(Person.id, Person.telegram_user_id))).all()
            for person_id, user_id in people:
                texts[user_id] = f"今天的工作日志还没有记录（测试提醒{person_id}）"
                await conn.execute(
                    OutboxMessage.__table__.insert().values(
                        key=f"test-reminder:{person_id}",
                        kind="reminder",
                        person_id=person_id,
                        text=texts[user_id],
                        priority=1,
                        status="pending",
                        attempts=0,
                        unsure=0,
                        not_before=now,
                        created_at=now,
                    )
                )
    finally:
        await engine.dispose()
    return texts


async def _entries_in_order(db_url: str) -> dict[int, list[int]]:
    """Per chat, the message ids of its entries in the order they were stored."""
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(LogEntry.source_key).where(LogEntry.source_part == 0).order_by(LogEntry.id)
            )
            order: dict[int, list[int]] = defaultdict(list)
            for (key,) in rows.all():
                chat, message = (int(n) for n in key.split(":"))
                order[chat].append(message)
            return order
    finally:
        await engine.dispose()


async def test_two_processes_share_a_burst_while_one_is_killed_again_and_again(
    db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several processes need PostgreSQL")
    # Telegram's overall limit, which the two processes must respect together; reminders go
    # to cadres who may not have written yet.
    api = FakeBotApi(webhook_retry_delay=0.2, strict_chats=False, global_limit=35)
    await api.start()
    try:
        await _two_processes(db_url, tmp_path, api)
    finally:
        await api.stop()


async def _two_processes(db_url: str, tmp_path: Path, api: FakeBotApi) -> None:
    await _seed(db_url)
    reminders = await _queue_reminders(db_url)
    steady = Service(tmp_path, "steady", api, db_url)
    victim = Service(tmp_path, "victim", api, db_url)
    burst = Burst(api, 4)
    async with RoundRobin([steady.url, victim.url]) as proxy:
        api.set_webhook(proxy.url, secret_token=SECRET, max_connections=8)
        await steady.start()
        await victim.start()
        try:
            for round_no in range(4):
                burst.send(80)
                target = len(api.calls("sendMessage")) + 25
                await _until(
                    lambda t=target: _async(len(api.calls("sendMessage")) >= t),
                    60,
                    f"replies in round {round_no}",
                )
                await victim.kill()
                burst.send(20)  # only the steady process takes these, and the dead one's
                await victim.start()
            await _until(lambda: _everything_done(db_url, burst, api), 120, "the whole burst")
            await _until(lambda: _reminders_sent(db_url), 60, "every reminder")
            assert await victim.terminate() == 0, victim.tail()
            assert await steady.terminate() == 0, steady.tail()
        finally:
            for service in (steady, victim):
                if service.process and service.process.returncode is None:
                    await service.kill()

    per_message, _ = await _stored(db_url)
    _, unsure = await _outbox(db_url)
    _assert_once_and_confirmed(burst, per_message, unsure)
    # Each chat's messages were stored in the order the users sent them.
    for chat, messages in (await _entries_in_order(db_url)).items():
        assert messages == sorted(messages), f"chat {chat} out of order"
    # Every reminder reached its cadre; one reaches twice only if a kill hit its send.
    got = Counter(
        call.chat_id
        for call in api.calls("sendMessage")
        if call.ok and call.text in reminders.values()
    )
    assert set(got) == set(reminders)
    assert sum(n - 1 for n in got.values()) <= unsure
    # One sender at a time kept the bot inside Telegram's overall limit.
    assert [c for c in api.calls("sendMessage") if c.status == 429] == []
    assert "this process sends the outbox" in steady.tail() + victim.tail()


async def _reminders_sent(db_url: str) -> bool:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            waiting = await conn.scalar(
                select(func.count()).where(
                    OutboxMessage.kind == "reminder", OutboxMessage.status == "pending"
                )
            )
            return waiting == 0
    finally:
        await engine.dispose()


async def _async(value: bool) -> bool:
    return value
