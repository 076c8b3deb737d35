"""The database goes away for 30 s while cadres keep writing: the bot stays up, loses nothing."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from storage.db import is_transient_error
from tests.fakebot import FakeUser
from tests.outages import ConnectionsRefused, DatabaseLock

pytestmark = pytest.mark.slow

ZHANG = FakeUser(id=7001, first_name="伟")
OUTAGE_SECONDS = 30


async def test_the_bot_stays_up_through_a_database_outage(
    bot, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL refusing connections, or SQLite locked longer than its busy timeout."""
    await bot.enrol(ZHANG, "A001", "张伟")
    outage = DatabaseLock(db_url) if db_url.startswith("sqlite") else ConnectionsRefused(db_url)
    loop = asyncio.get_running_loop()
    sent: list[str] = []
    async with outage:
        end = loop.time() + OUTAGE_SECONDS
        while loop.time() < end:
            sent.append(f"走访第{len(sent) + 1}家企业")
            bot.api.send_text(ZHANG, sent[-1])
            await asyncio.sleep(1.0)
        loops = [*bot.intake.tasks, bot.sender_task]
        running = [t.get_name() for t in loops if not t.done()]
        assert len(running) == len(loops) == 4, f"a loop ended during the outage: {running}"
    # After the outage, by itself: every message stored once and confirmed once.
    await bot.settle(timeout=90)
    assert [e.text for e in await bot.entries("A001")] == sent
    confirmed = Counter(
        call.text.split("\n")[1].removeprefix(f"{n}. ").split("（")[0]
        for n, call in enumerate(
            (c for c in bot.api.calls("sendMessage") if c.ok and c.text.startswith("已记录")),
            start=1,
        )
    )
    assert confirmed == Counter(sent)
    # The outage was logged when it began and when it ended, by each loop, not per attempt.
    began = Counter(
        r.getMessage().split(" is failing")[0]
        for r in caplog.records
        if " is failing" in r.getMessage()
    )
    ended = Counter(
        r.getMessage().split(" works again")[0]
        for r in caplog.records
        if " works again" in r.getMessage()
    )
    assert began, "the outage went unnoticed"
    assert set(began.values()) == {1}, began
    assert began == ended
    assert bot.intake.database_outage.attempts == 0


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("SELECT 1", {}, Exception("database is locked")), True),
        (DBAPIError("SELECT 1", {}, Exception("not currently accepting connections")), True),
        (InterfaceError("SELECT 1", {}, Exception("connection is closed")), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), True),
        (SQLAlchemyTimeoutError("QueuePool limit reached"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (ProgrammingError("SELEKT", {}, Exception("syntax error")), False),
        (DataError("INSERT", {}, Exception("value too long")), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_database_errors_are_retried(error: BaseException, transient: bool) -> None:
    assert is_transient_error(error) is transient
