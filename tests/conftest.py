"""Shared fixtures: a migrated database on SQLite and PostgreSQL, a clock, the running bot."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from services.clock import FrozenClock
from storage.db import create_engine
from storage.migrate import upgrade

# PTB 22 warns unless durations are timedeltas; the product opts in the same way (bot.cli).
os.environ.setdefault("PTB_TIMEDELTA", "true")

PG_HOST = os.environ.get("WORKLOG_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("WORKLOG_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("WORKLOG_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("WORKLOG_TEST_PG_DB", "test")
REQUIRE_PG = os.environ.get("WORKLOG_TEST_REQUIRE_PG") == "1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _pg_admin() -> asyncpg.Connection:
    return await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5
    )


def _run(coroutine_fn, *args):  # type: ignore[no-untyped-def]
    """Run a coroutine to completion from sync code, even while a test's loop is running."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine_fn(*args)).result()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test instead of migrating each time."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    _run(_migrate, f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL template database, or None (with the reason) when unreachable."""

    async def create() -> str:
        conn = await _pg_admin()
        name = f"wl_tpl_{uuid.uuid4().hex[:10]}"
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        await _migrate(pg_url(name))
        return name

    async def drop(name: str) -> None:
        conn = await _pg_admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        name = _run(create)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required (WORKLOG_TEST_REQUIRE_PG=1) but unusable: {exc}")
        yield None
        return
    yield name
    _run(drop, name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    """A freshly migrated, empty database URL: each test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "worklog.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    if template is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}")
    name = f"wl_{uuid.uuid4().hex[:12]}"
    conn = await _pg_admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    try:
        yield pg_url(name)
    finally:
        conn = await _pg_admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
def clock() -> FrozenClock:
    """Friday 2026-11-20, 10:00 in Shanghai: inside working hours."""
    return FrozenClock(datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
async def api(clock: FrozenClock) -> AsyncIterator[object]:
    """The fake Bot API on 127.0.0.1, dating user messages by the test clock."""
    from tests.fakebot import FakeBotApi

    server = FakeBotApi(clock=clock.now)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bot(api: object, clock: FrozenClock, db_url: str) -> AsyncIterator[object]:
    """The real Application with the durable intake, polling the fake Bot API."""
    from tests.harness import BotHarness

    harness = BotHarness(api, clock, db_url)  # type: ignore[arg-type]
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file for the CLI: a temporary SQLite database, no token in the environment."""
    monkeypatch.delenv("WORKLOG_TELEGRAM_TOKEN", raising=False)
    monkeypatch.delenv("WORKLOG_DATABASE_URL", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[telegram]\nbot_username = "county_worklog_bot"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/data/worklog.db"\n'
        f'[backup]\ndir = "{tmp_path}/backups"\n[ops]\nport = 0\n',
        encoding="utf-8",
    )
    return path
