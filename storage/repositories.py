"""Repositories: queries and inserts; they flush when ids are needed, never commit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Absence,
    AuditLog,
    EntryHistory,
    InboxStatus,
    InboxUpdate,
    Invite,
    LogEntry,
    Person,
    Reflection,
    Unit,
)

# New entries are numbered after the day's last one inside the INSERT itself, so recording a
# message is one statement; (person, day, number) is unique, so a race cannot double-number.
_ENTRY_COLUMNS = (
    "person_id",
    "work_date",
    "text",
    "kind",
    "collaborator",
    "is_late",
    "is_overlong",
    "attachment_file_id",
    "source_chat_id",
    "source_message_id",
    "source_part",
    "withdrawn",
    "created_at",
    "updated_at",
)
_INSERT_NUMBERED = (
    insert(LogEntry.__table__)
    .values(
        item_no=select(func.coalesce(func.max(LogEntry.item_no), 0))
        .where(
            LogEntry.person_id == bindparam("day_person"),
            LogEntry.work_date == bindparam("day_date"),
        )
        .scalar_subquery()
        + 1
    )
    .returning(LogEntry.id, LogEntry.item_no)
)


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session


class PeopleRepository(_Repository):
    async def by_telegram_id(self, telegram_user_id: int) -> Person | None:
        return await self.session.scalar(
            select(Person).where(Person.telegram_user_id == telegram_user_id, Person.active)
        )

    async def get(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def by_roster_ids(self, roster_ids: Iterable[str]) -> dict[str, Person]:
        ids = list(roster_ids)
        if not ids:
            return {}
        rows = await self.session.scalars(select(Person).where(Person.roster_id.in_(ids)))
        return {p.roster_id: p for p in rows}

    async def unit_by_name(self, name: str) -> Unit | None:
        return await self.session.scalar(select(Unit).where(Unit.name == name))

    async def add(self, obj: Person | Unit) -> None:
        self.session.add(obj)
        await self.session.flush()

    async def names(self) -> tuple[list[str], list[str]]:
        """All unit names and all active people's names (for the collaborator dictionary)."""
        units = (await self.session.scalars(select(Unit.name))).all()
        people = (await self.session.scalars(select(Person.name).where(Person.active))).all()
        return list(units), list(people)


class InviteRepository(_Repository):
    async def by_token(self, token: str) -> Invite | None:
        return await self.session.scalar(select(Invite).where(Invite.token == token))

    async def add(self, invite: Invite) -> None:
        self.session.add(invite)
        await self.session.flush()


class EntryRepository(_Repository):
    async def get(self, entry_id: int) -> LogEntry | None:
        return await self.session.get(LogEntry, entry_id)

    async def for_day(self, person_id: int, work_date: date) -> Sequence[LogEntry]:
        return (
            await self.session.scalars(
                select(LogEntry)
                .where(LogEntry.person_id == person_id, LogEntry.work_date == work_date)
                .order_by(LogEntry.item_no)
            )
        ).all()

    async def for_range(self, person_id: int, start: date, end: date) -> Sequence[LogEntry]:
        return (
            await self.session.scalars(
                select(LogEntry)
                .where(
                    LogEntry.person_id == person_id,
                    LogEntry.work_date >= start,
                    LogEntry.work_date <= end,
                )
                .order_by(LogEntry.work_date, LogEntry.item_no)
            )
        ).all()

    async def by_number(self, person_id: int, work_date: date, item_no: int) -> LogEntry | None:
        return await self.session.scalar(
            select(LogEntry).where(
                LogEntry.person_id == person_id,
                LogEntry.work_date == work_date,
                LogEntry.item_no == item_no,
            )
        )

    async def from_message(self, chat_id: int, message_id: int) -> Sequence[LogEntry]:
        return (
            await self.session.scalars(
                select(LogEntry)
                .where(LogEntry.source_chat_id == chat_id, LogEntry.source_message_id == message_id)
                .order_by(LogEntry.source_part)
            )
        ).all()

    async def insert_numbered(self, entries: Sequence[LogEntry]) -> None:
        """Insert new entries of one person and day, setting their ids and day numbers.

        One statement per entry: whether a multi-row INSERT sees its own earlier rows differs
        between SQLite and PostgreSQL, and most messages hold a single item anyway.
        """
        for entry in entries:
            params = {column: getattr(entry, column) for column in _ENTRY_COLUMNS}
            params.update(day_person=entry.person_id, day_date=entry.work_date)
            entry.id, entry.item_no = (await self.session.execute(_INSERT_NUMBERED, params)).one()

    async def add_history(
        self,
        entry: LogEntry,
        changed_by: int,
        at: datetime,
        action: str,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> None:
        self.session.add(
            EntryHistory(
                entry_id=entry.id,
                changed_by=changed_by,
                changed_at=at,
                action=action,
                before=json.dumps(before, ensure_ascii=False, default=str),
                after=json.dumps(after, ensure_ascii=False, default=str),
            )
        )

    async def history(self, entry_id: int) -> Sequence[EntryHistory]:
        return (
            await self.session.scalars(
                select(EntryHistory)
                .where(EntryHistory.entry_id == entry_id)
                .order_by(EntryHistory.id)
            )
        ).all()

    async def reflection(self, person_id: int, work_date: date) -> Reflection | None:
        return await self.session.scalar(
            select(Reflection).where(
                Reflection.person_id == person_id, Reflection.work_date == work_date
            )
        )

    async def add_reflection(self, reflection: Reflection) -> None:
        self.session.add(reflection)
        await self.session.flush()

    async def absences(self, person_id: int, start: date, end: date) -> Sequence[Absence]:
        return (
            await self.session.scalars(
                select(Absence)
                .where(
                    Absence.person_id == person_id,
                    Absence.withdrawn.is_(False),
                    Absence.start_date <= end,
                    Absence.end_date >= start,
                )
                .order_by(Absence.start_date)
            )
        ).all()

    async def add_absence(self, absence: Absence) -> None:
        self.session.add(absence)
        await self.session.flush()


class AuditRepository(_Repository):
    async def record(
        self,
        at: datetime,
        action: str,
        *,
        actor_person_id: int | None = None,
        actor_telegram_id: int | None = None,
        subject_person_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.session.add(
            AuditLog(
                at=at,
                action=action,
                actor_person_id=actor_person_id,
                actor_telegram_id=actor_telegram_id,
                subject_person_id=subject_person_id,
                detail=json.dumps(detail or {}, ensure_ascii=False, default=str),
            )
        )

    async def list(self, action: str | None = None) -> Sequence[AuditLog]:
        query = select(AuditLog).order_by(AuditLog.id)
        if action:
            query = query.where(AuditLog.action == action)
        return (await self.session.scalars(query)).all()


class InboxRepository(_Repository):
    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert updates, silently skipping ones already stored (same update or same message)."""
        if not rows:
            return
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self.session.execute(insert(InboxUpdate).on_conflict_do_nothing(), list(rows))

    async def pending(self, limit: int) -> Sequence[InboxUpdate]:
        return (
            await self.session.scalars(
                select(InboxUpdate)
                .where(InboxUpdate.status == InboxStatus.PENDING.value)
                .order_by(InboxUpdate.id)
                .limit(limit)
            )
        ).all()

    async def mark_done(self, inbox_id: int) -> None:
        """Mark one update processed; the last error of earlier attempts stays on record."""
        await self.session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.id == inbox_id, InboxUpdate.status == InboxStatus.PENDING.value)
            .values(status=InboxStatus.DONE.value, processed_at=datetime.now(UTC))
        )

    async def mark_many_done(self, inbox_ids: Sequence[int]) -> None:
        if not inbox_ids:
            return
        await self.session.execute(
            update(InboxUpdate)
            .where(
                InboxUpdate.id.in_(list(inbox_ids)),
                InboxUpdate.status == InboxStatus.PENDING.value,
            )
            .values(status=InboxStatus.DONE.value, processed_at=datetime.now(UTC))
        )

    async def scrub(self, inbox_id: int) -> None:
        """Drop an update's content, keeping only that it was received (and its dedup key)."""
        await self.session.execute(
            update(InboxUpdate).where(InboxUpdate.id == inbox_id).values(payload="{}")
        )

    async def record_failure(self, inbox_id: int, error: str, give_up: bool) -> None:
        await self.session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.id == inbox_id)
            .values(
                attempts=InboxUpdate.attempts + 1,
                last_error=error[:2000],
                status=InboxStatus.FAILED.value if give_up else InboxStatus.PENDING.value,
            )
        )

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
        )
        return {status: n for status, n in rows.all()}
