"""Service-level fixtures: the wired use cases on a fresh database, seeding and SQL probes.

Test modules load this with `pytest_plugins = ("tests.services_fixtures",)` and import its
helpers, so it is imported before pytest could rewrite its asserts: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import Wiring, build_services
from bot.config import Config, DatabaseConfig
from scheduler.calendar import WorkCalendar
from scoring.text import CollaboratorExtractor
from services import Services
from services.clock import FrozenClock
from services.entries import EntryService, LogPolicy
from storage.db import create_engine, session_factory
from storage.models import AuditLog, InboxStatus, InboxUpdate, Invite, Person, Unit
from storage.uow import current_inbox_id

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNIT = "县发改委"
OTHER_UNIT = "县财政局"
ROSTER_NAMES = ["张三", "李四"]
_TOKENS = itertools.count(1)


def at(day: int, hour: int = 10) -> datetime:
    """A moment in November 2026, Shanghai time (the clock starts on Friday the 20th, 10:00)."""
    return datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


def person_row(
    roster_id: str, unit_id: int, *, name: str | None = None, active: bool = True
) -> dict[str, Any]:
    """A roster person as a row for INSERT (bulk seeding takes lists of these)."""
    return {
        "roster_id": roster_id,
        "name": name or f"干部{roster_id}",
        "unit_id": unit_id,
        "position": "科员",
        "roles": "cadre",
        "active": active,
        "created_at": at(20),
        "updated_at": at(20),
    }


class InjectedFault(Exception):
    """Raised by `Env.fail_statement` in place of a real database error."""


@pytest.fixture(scope="session")
def collaborator_extractor() -> CollaboratorExtractor:
    """One collaborator extractor for the session: its dictionary takes over a second to load."""
    extractor = CollaboratorExtractor([UNIT, OTHER_UNIT], ROSTER_NAMES)
    extractor.warm_up()
    return extractor


@dataclass
class Env:
    """The services as `bot.app` wires them, on one test database, plus direct access to it."""

    engine: AsyncEngine
    clock: FrozenClock
    wiring: Wiring
    entries: EntryService
    sessions: async_sessionmaker[AsyncSession] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)

    @property
    def services(self) -> Services:
        return self.wiring.services

    # -- seeding ---------------------------------------------------------------------------

    async def unit(self, name: str = UNIT) -> int:
        async with self.sessions() as db:
            unit_id = await db.scalar(select(Unit.id).where(Unit.name == name))
            if unit_id is None:
                unit = Unit(name=name)
                db.add(unit)
                await db.commit()
                unit_id = unit.id
            return unit_id

    async def person(
        self,
        roster_id: str,
        name: str | None = None,
        *,
        unit: str = UNIT,
        supervisor_id: int | None = None,
        telegram_user_id: int | None = None,
        active: bool = True,
    ) -> int:
        row = person_row(roster_id, await self.unit(unit), name=name, active=active)
        row.update(supervisor_id=supervisor_id, telegram_user_id=telegram_user_id)
        async with self.sessions() as db:
            person_id = await db.scalar(insert(Person).returning(Person.id), row)
            await db.commit()
        assert person_id is not None
        return person_id

    async def invite(self, person_id: int, *, valid: timedelta = timedelta(days=14)) -> str:
        """A fresh invite token for the person, valid for `valid` from now."""
        now = self.clock.now()
        token = f"token-{next(_TOKENS)}"
        async with self.sessions() as db:
            db.add(Invite(token=token, person_id=person_id, created_at=now, expires_at=now + valid))
            await db.commit()
        return token

    async def insert_rows(self, model: type, rows: list[dict[str, Any]]) -> None:
        """Bulk INSERT (one executemany), for seeding thousands of rows quickly."""
        async with self.sessions() as db:
            await db.execute(insert(model), rows)
            await db.commit()

    async def inbox_row(self, payload: dict[str, Any] | None = None) -> int:
        """A pending inbox update, as the intake stores it before handling."""
        async with self.sessions() as db:
            row = InboxUpdate(
                update_id=1,
                dedup_key=f"test:{next(_TOKENS)}",
                payload=json.dumps(payload or {"message": {"text": "一条消息"}}),
                status=InboxStatus.PENDING.value,
                attempts=0,
                received_at=self.clock.now(),
            )
            db.add(row)
            await db.commit()
            return row.id

    # -- reading back ----------------------------------------------------------------------

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        """Rows of a table (matching `where`) in insertion order."""
        async with self.sessions() as db:
            return list((await db.scalars(select(model).where(*where).order_by(model.id))).all())

    async def one(self, model: Any, *where: Any) -> Any:
        rows = await self.rows(model, *where)
        assert len(rows) == 1, rows
        return rows[0]

    async def count(self, model: Any, *where: Any) -> int:
        async with self.sessions() as db:
            return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    async def audit(self, action: str) -> list[AuditLog]:
        return await self.rows(AuditLog, AuditLog.action == action)

    # -- SQL probes ------------------------------------------------------------------------

    @contextlib.contextmanager
    def statements(self) -> Iterator[list[str]]:
        """Collect every SQL statement the engine sends while the block runs."""
        seen: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)

        event.listen(self.engine.sync_engine, "before_cursor_execute", record)
        try:
            yield seen
        finally:
            event.remove(self.engine.sync_engine, "before_cursor_execute", record)

    @contextlib.contextmanager
    def fail_statement(self, prefix: str, nth: int = 1) -> Iterator[None]:
        """Make the `nth` statement starting with `prefix` fail (as a lost connection would)."""
        matched = 0

        def maybe_fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            nonlocal matched
            if " ".join(statement.split()).upper().startswith(prefix.upper()):
                matched += 1
                if matched == nth:
                    raise InjectedFault(statement)

        event.listen(self.engine.sync_engine, "before_cursor_execute", maybe_fail)
        try:
            yield
        finally:
            event.remove(self.engine.sync_engine, "before_cursor_execute", maybe_fail)


@contextlib.contextmanager
def processing(inbox_id: int) -> Iterator[None]:
    """Run the block as the intake runs a handler: with `current_inbox_id` set."""
    token = current_inbox_id.set(inbox_id)
    try:
        yield
    finally:
        current_inbox_id.reset(token)


@pytest.fixture
async def env(
    db_url: str, clock: FrozenClock, collaborator_extractor: CollaboratorExtractor
) -> AsyncIterator[Env]:
    engine = create_engine(db_url)
    config = Config(database=DatabaseConfig(url=db_url))
    wiring = build_services(config, engine, clock)
    # The same wiring as build_services, but with the session's warmed-up extractor.
    entries = EntryService(
        wiring.uow, clock, LogPolicy(config.logging, WorkCalendar(), collaborator_extractor)
    )
    try:
        yield Env(engine, clock, wiring, entries)
    finally:
        await engine.dispose()
