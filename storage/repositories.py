"""Repositories: queries and inserts; they flush when ids are needed, never commit.

Reads that views over many people need (a team, a unit, the whole city) are set-based: one
query for a `PeopleScope` and a period, never one query per person.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Time,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.locks import OUTBOX_CHANNEL
from storage.models import (
    Absence,
    AuditLog,
    Comment,
    EntryHistory,
    Evaluation,
    InboxStatus,
    InboxUpdate,
    Invite,
    LogEntry,
    OutboxMessage,
    OutboxStatus,
    Person,
    Reflection,
    SpotCheck,
    SpotCheckItem,
    Unit,
)

# ids per IN (...) query: far below SQLite's and asyncpg's parameter limits
CHUNK = 5000
# PostgreSQL advisory lock key under which processes take turns claiming inbox updates.
INBOX_CLAIM_LOCK_KEY = 0x776F726B696E62  # "workinb"


def _dialect(session: AsyncSession) -> str:
    return "postgresql" if session.bind and session.bind.dialect.name == "postgresql" else "sqlite"


def _upsert_insert(session: AsyncSession, table: Any) -> Any:
    """INSERT for the session's dialect, which offers ON CONFLICT DO NOTHING."""
    return (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(table)


@dataclass(frozen=True)
class PeopleScope:
    """Whose rows a set-based read covers; the given conditions are combined, none = everyone."""

    person_ids: tuple[int, ...] | None = None
    reports_of: int | None = None  # the direct reports of this supervisor (下管一级)
    unit_ids: tuple[int, ...] | None = None
    active_only: bool = False  # only people still on the roster

    def ids(self) -> Select[tuple[int]]:
        query = select(Person.id)
        if self.active_only:
            query = query.where(Person.active)
        if self.person_ids is not None:
            query = query.where(Person.id.in_(self.person_ids))
        if self.reports_of is not None:
            query = query.where(Person.supervisor_id == self.reports_of)
        if self.unit_ids is not None:
            query = query.where(Person.unit_id.in_(self.unit_ids))
        return query


@dataclass(frozen=True)
class Reach:
    """Whose logs a viewer may read: their direct reports (下管一级), whole units, or everyone.

    Built from the database at the moment of the read; never includes the viewer, and only
    people still on the roster.
    """

    viewer_id: int
    reports: bool = True
    unit_ids: tuple[int, ...] = ()
    everyone: bool = False

    def condition(self) -> ColumnElement[bool]:
        grounds: list[ColumnElement[bool]] = []
        if self.everyone:
            grounds.append(Person.id.is_not(None))
        if self.reports:
            grounds.append(Person.supervisor_id == self.viewer_id)
        if self.unit_ids:
            grounds.append(Person.unit_id.in_(self.unit_ids))
        allowed = or_(*grounds) if grounds else false()
        return allowed & Person.active & (Person.id != self.viewer_id)


def like_pattern(text: str) -> str:
    """`text` for a LIKE pattern with escape character backslash: its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class PersonCard:
    """Who someone is, as lists and headings show them."""

    id: int
    roster_id: str
    name: str
    position: str
    unit_name: str
    supervisor_id: int | None
    unit_id: int


_CARD_COLUMNS = (
    Person.id,
    Person.roster_id,
    Person.name,
    Person.position,
    Unit.name,
    Person.supervisor_id,
    Person.unit_id,
)


@dataclass(frozen=True, slots=True)
class EntryCounts:
    """Live (not withdrawn) entries of one person in a period."""

    total: int
    late: int  # 补记
    overlong: int
    flagged: int = 0  # repeated, copied or trivial (read only when asked for)


@dataclass(frozen=True, slots=True)
class ReviewedEntry:
    """An entry's columns as a review shows them, and whether it was ever edited."""

    id: int
    work_date: date
    item_no: int
    text: str
    kind: str
    collaborator: str | None
    is_late: bool
    is_overlong: bool
    withdrawn: bool
    edited: bool
    quality: str | None  # the nightly check's flags (scoring.quality); None: not checked yet


@dataclass(frozen=True, slots=True)
class StoredPerson:
    """A person as stored, only the columns a roster import compares."""

    id: int
    name: str
    unit_id: int
    position: str
    supervisor_id: int | None
    roles: str
    active: bool
    joined_on: date | None


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session


def _logged_or_excused(day: date) -> ColumnElement[bool]:
    """The person (the outer query's Person row) has a live entry for `day` or is excused."""
    logged = select(LogEntry.id).where(
        LogEntry.person_id == Person.id, LogEntry.work_date == day, LogEntry.withdrawn.is_(False)
    )
    excused = select(Absence.id).where(
        Absence.person_id == Person.id,
        Absence.withdrawn.is_(False),
        Absence.start_date <= day,
        Absence.end_date >= day,
    )
    return logged.exists() | excused.exists()


class PeopleRepository(_Repository):
    async def by_telegram_id(self, telegram_user_id: int) -> Person | None:
        return await self.session.scalar(
            select(Person).where(Person.telegram_user_id == telegram_user_id, Person.active)
        )

    async def holding_account(self, telegram_user_id: int) -> Person | None:
        """Whoever the account is bound to, deactivated people included."""
        return await self.session.scalar(
            select(Person).where(Person.telegram_user_id == telegram_user_id)
        )

    async def get(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def names(self) -> tuple[list[str], list[str]]:
        """All unit names and all active people's names (for the collaborator dictionary)."""
        units = (await self.session.scalars(select(Unit.name))).all()
        people = (await self.session.scalars(select(Person.name).where(Person.active))).all()
        return list(units), list(people)

    async def ids_in(self, scope: PeopleScope) -> list[int]:
        return list((await self.session.scalars(scope.ids().order_by(Person.id))).all())

    async def cards_in(self, scope: PeopleScope) -> list[PersonCard]:
        """Everyone in `scope` (active or not: the caller's scope decides), by roster id."""
        rows = await self.session.execute(
            select(*_CARD_COLUMNS)
            .join(Unit, Unit.id == Person.unit_id)
            .where(Person.id.in_(scope.ids()))
            .order_by(Person.roster_id)
        )
        return [PersonCard(*row) for row in rows]

    async def find_within(self, reach: Reach, text: str, limit: int = 20) -> list[PersonCard]:
        """People within `reach` whose roster id or name is `text` (roster id matches first)."""
        rows = await self.session.execute(
            select(*_CARD_COLUMNS)
            .join(Unit, Unit.id == Person.unit_id)
            .where(reach.condition(), or_(Person.roster_id == text, Person.name == text))
            .order_by((Person.roster_id != text), Person.roster_id)
            .limit(limit)
        )
        return [PersonCard(*row) for row in rows]

    async def card_within(self, reach: Reach, person_id: int) -> PersonCard | None:
        """The person if `reach` covers them now (a button's id is checked again)."""
        row = (
            await self.session.execute(
                select(*_CARD_COLUMNS)
                .join(Unit, Unit.id == Person.unit_id)
                .where(reach.condition(), Person.id == person_id)
            )
        ).first()
        return None if row is None else PersonCard(*row)

    async def suggest(self, text: str, limit: int) -> list[tuple[str, str]]:
        """Collaborator suggestions for what a cadre started typing: units whose name holds
        `text`, then active people whose name starts with it; (value, the unit) pairs."""
        pattern = like_pattern(text)
        units = await self.session.scalars(
            select(Unit.name)
            .where(Unit.name.like(f"%{pattern}%", escape="\\"))
            .order_by(func.length(Unit.name), Unit.name)
            .limit(limit)
        )
        people = await self.session.execute(
            select(Person.name, Unit.name)
            .join(Unit, Unit.id == Person.unit_id)
            .where(Person.active, Person.name.like(f"{pattern}%", escape="\\"))
            .order_by(func.length(Person.name), Person.name, Unit.name)
            .limit(limit)
        )
        found = [(name, "单位") for name in units] + [(name, unit) for name, unit in people]
        return found[:limit]

    async def matching_anyone(self, text: str) -> list[int]:
        """Ids of everyone with this roster id or name, for the audit trail of a refusal."""
        rows = await self.session.scalars(
            select(Person.id).where(or_(Person.roster_id == text, Person.name == text)).limit(5)
        )
        return list(rows.all())

    async def to_remind(
        self,
        day: date,
        key_prefix: str,
        due_by: time,
        default_time: time,
        window: tuple[time, time],
    ) -> list[int]:
        """Active, reachable people whose reminder time is due, with nothing for `day`, not
        excused and not yet reminded (no outbox row under `key_prefix` + id); one query.

        An own time outside `window` (the window was narrowed since) counts as the default.
        """
        reminded = select(OutboxMessage.id).where(
            OutboxMessage.key == literal(key_prefix) + cast(Person.id, String)
        )
        start, end = (literal(t, Time()) for t in window)
        own_time = case(
            (Person.remind_at.between(start, end), Person.remind_at),
            else_=literal(default_time, Time()),
        )
        rows = await self.session.scalars(
            select(Person.id)
            .where(
                Person.active,
                Person.telegram_user_id.is_not(None),
                Person.bot_blocked_at.is_(None),
                own_time <= due_by,
                ~_logged_or_excused(day),
                ~reminded.exists(),
            )
            .order_by(Person.id)
        )
        return list(rows.all())

    async def to_nudge(self, day: date, first_prefix: str, nudge_prefix: str) -> list[int]:
        """People reminded today (first_prefix) who still have nothing, not muted, not nudged."""
        reminded = select(OutboxMessage.id).where(
            OutboxMessage.key == literal(first_prefix) + cast(Person.id, String),
            OutboxMessage.status == OutboxStatus.SENT.value,
        )
        nudged = select(OutboxMessage.id).where(
            OutboxMessage.key == literal(nudge_prefix) + cast(Person.id, String)
        )
        rows = await self.session.scalars(
            select(Person.id)
            .where(
                Person.active,
                Person.telegram_user_id.is_not(None),  # the account may have moved since
                Person.bot_blocked_at.is_(None),
                Person.second_nudge_muted.is_(False),
                reminded.exists(),
                ~nudged.exists(),
                ~_logged_or_excused(day),
            )
            .order_by(Person.id)
        )
        return list(rows.all())

    async def reachable_ids(self) -> set[int]:
        """Active people with a bound account who have not blocked the bot."""
        rows = await self.session.scalars(
            select(Person.id).where(
                Person.active,
                Person.telegram_user_id.is_not(None),
                Person.bot_blocked_at.is_(None),
            )
        )
        return set(rows.all())

    async def with_role_reachable(self, role: str) -> list[int]:
        """Reachable people holding `role` (admin: 组织部 / 考核办; rater: 党委 / 党组)."""
        rows = await self.session.execute(
            select(Person.id, Person.roles)
            .where(
                Person.active,
                Person.telegram_user_id.is_not(None),
                Person.bot_blocked_at.is_(None),
                Person.roles.contains(role),
            )
            .order_by(Person.id)
        )
        return [pid for pid, roles in rows if role in roles.split(",")]

    async def blocked_ids(self) -> set[int]:
        """Active people who blocked the bot (reported to their supervisor)."""
        rows = await self.session.scalars(
            select(Person.id).where(Person.active, Person.bot_blocked_at.is_not(None))
        )
        return set(rows.all())

    async def find_roster_id(self, roster_id: str) -> int | None:
        return await self.session.scalar(select(Person.id).where(Person.roster_id == roster_id))

    async def has_reports(self, person_id: int) -> int:
        """How many active direct reports the person has (a supervisor has at least one)."""
        count = await self.session.scalar(
            select(func.count()).where(Person.supervisor_id == person_id, Person.active)
        )
        return int(count or 0)

    async def unit_subtree(self, unit_id: int) -> list[int]:
        """The unit and every unit below it in the unit tree (one recursive query)."""
        tree = select(Unit.id).where(Unit.id == unit_id).cte("tree", recursive=True)
        tree = tree.union(select(Unit.id).join(tree, Unit.parent_id == tree.c.id))
        return list((await self.session.scalars(select(tree.c.id))).all())

    async def unbind_account(self, person: Person, at: datetime) -> None:
        """End the binding of `person`'s Telegram account (it is being bound to someone else)."""
        person.telegram_user_id = None
        person.updated_at = at
        # Flushed now: the account's new binding must not meet the unique key still held here.
        await self.session.flush()

    # -- the roster import and invites: set-based over the whole roster --------------------

    async def stored_for_import(self) -> dict[str, StoredPerson]:
        result = await self.session.execute(
            select(
                Person.roster_id,
                Person.id,
                Person.name,
                Person.unit_id,
                Person.position,
                Person.supervisor_id,
                Person.roles,
                Person.active,
                Person.joined_on,
            )
        )
        return {rid: StoredPerson(*rest) for rid, *rest in result.all()}

    async def ensure_units(self, names: set[str]) -> tuple[dict[str, int], int]:
        """Ids of the named units, creating the missing ones; returns (ids by name, created)."""
        ids = dict((await self.session.execute(select(Unit.name, Unit.id))).all())
        missing = sorted(names - ids.keys())
        if missing:
            created = await self.session.execute(
                insert(Unit).returning(Unit.name, Unit.id), [{"name": name} for name in missing]
            )
            ids.update(dict(created.all()))
        return ids, len(missing)

    async def unit_parents(self) -> dict[str, str | None]:
        """Every unit's parent unit by name (None: a top-level unit), in one query."""
        rows = (await self.session.execute(select(Unit.id, Unit.name, Unit.parent_id))).all()
        name_of = {unit_id: name for unit_id, name, _ in rows}
        return {name: name_of.get(parent_id) for _, name, parent_id in rows}

    async def set_unit_parents(self, parents: Mapping[int, int | None]) -> None:
        """Bulk UPDATE of units' parent (unit id -> parent unit id or None), one executemany."""
        if parents:
            await self.session.execute(
                update(Unit), [{"id": uid, "parent_id": pid} for uid, pid in parents.items()]
            )

    async def unit_categories(self) -> dict[str, str | None]:
        """Every unit's category (单位类别) by unit name, None when it has none."""
        return dict((await self.session.execute(select(Unit.name, Unit.category))).all())

    async def set_unit_categories(self, categories: Mapping[int, str | None]) -> None:
        """Bulk UPDATE of units' category (unit id -> category), one executemany."""
        if categories:
            await self.session.execute(
                update(Unit), [{"id": uid, "category": c} for uid, c in categories.items()]
            )

    async def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Insert people; returns their ids by roster id."""
        if not rows:
            return {}
        inserted = await self.session.execute(
            insert(Person).returning(Person.roster_id, Person.id), list(rows)
        )
        return dict(inserted.all())

    async def update_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Bulk UPDATE by primary key (each row has "id"); one executemany per row shape."""
        if rows:
            await self.session.execute(update(Person), list(rows))

    async def for_invites(
        self, roster_ids: Sequence[str] | None
    ) -> list[tuple[int, str, str, int | None, bool]]:
        """(id, roster id, name, telegram id, active) of the given people, or every active one."""
        columns = (Person.id, Person.roster_id, Person.name, Person.telegram_user_id, Person.active)
        if roster_ids is None:
            query = select(*columns).where(Person.active).order_by(Person.roster_id)
            return [tuple(row) for row in (await self.session.execute(query)).all()]  # type: ignore[misc]
        found = []
        for start in range(0, len(roster_ids), CHUNK):
            chunk = roster_ids[start : start + CHUNK]
            result = await self.session.execute(select(*columns).where(Person.roster_id.in_(chunk)))
            found.extend(tuple(row) for row in result.all())
        return found  # type: ignore[return-value]


class InviteRepository(_Repository):
    async def by_token(self, token: str) -> Invite | None:
        return await self.session.scalar(select(Invite).where(Invite.token == token))

    async def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(Invite), list(rows))


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
    "channel",
    "project_id",
    "source_key",
    "source_part",
    "withdrawn",
    "created_at",
    "updated_at",
)
_NEXT_ITEM_NO = (
    select(func.coalesce(func.max(LogEntry.item_no), 0))
    .where(
        LogEntry.person_id == bindparam("day_person"),
        LogEntry.work_date == bindparam("day_date"),
    )
    .scalar_subquery()
    + 1
)

# Built once per dialect: recording a message is the hot path.
_INSERT_NUMBERED = {
    name: dialect.insert(LogEntry.__table__)
    .values(item_no=_NEXT_ITEM_NO)
    .on_conflict_do_nothing(index_elements=["channel", "source_key", "source_part"])
    .returning(LogEntry.id, LogEntry.item_no)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


class EntryRepository(_Repository):
    async def get(self, entry_id: int) -> LogEntry | None:
        return await self.session.get(LogEntry, entry_id)

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

    async def from_source(self, channel: str, source_key: str) -> Sequence[LogEntry]:
        """The entries one message produced, in the order of its items."""
        return (
            await self.session.scalars(
                select(LogEntry)
                .where(LogEntry.channel == channel, LogEntry.source_key == source_key)
                .order_by(LogEntry.source_part)
            )
        ).all()

    async def insert_numbered(self, entries: Sequence[LogEntry]) -> bool:
        """Insert new entries of one person and day, setting their ids and day numbers.

        Returns False, inserting nothing, when the first entry's source was stored before (a
        message processed again after a crash): the caller then reads what was stored. One
        statement per entry: whether a multi-row INSERT sees its own earlier rows differs
        between SQLite and PostgreSQL, and most messages hold a single item anyway.
        """
        statement = _INSERT_NUMBERED[_dialect(self.session)]
        for position, entry in enumerate(entries):
            params = {column: getattr(entry, column) for column in _ENTRY_COLUMNS}
            params.update(day_person=entry.person_id, day_date=entry.work_date)
            row = (await self.session.execute(statement, params)).first()
            if row is None:
                if position:
                    raise RuntimeError("a message's later item was stored without its first")
                return False
            entry.id, entry.item_no = row
        return True

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
        """Every change of an entry, oldest first."""
        rows = await self.session.scalars(
            select(EntryHistory)
            .where(EntryHistory.entry_id == entry_id)
            .order_by(EntryHistory.changed_at, EntryHistory.id)
        )
        return rows.all()

    async def last_actions(self, entry_ids: Sequence[int]) -> dict[int, str]:
        """The latest history action of each entry that has one."""
        if not entry_ids:
            return {}
        latest = (
            select(func.max(EntryHistory.id))
            .where(EntryHistory.entry_id.in_(entry_ids))
            .group_by(EntryHistory.entry_id)
        )
        rows = await self.session.execute(
            select(EntryHistory.entry_id, EntryHistory.action).where(EntryHistory.id.in_(latest))
        )
        return dict(rows.all())

    async def for_review(self, person_id: int, start: date, end: date) -> list[ReviewedEntry]:
        """A person's entries in [start, end] as a reviewer sees them, with whether each was
        ever edited (已修改: text, kind or collaborator changed); one indexed query."""
        edited = (
            select(EntryHistory.id)
            .where(
                EntryHistory.entry_id == LogEntry.id,
                EntryHistory.action.in_(("edit", "kind", "collaborator", "restore")),
            )
            .exists()
        )
        rows = await self.session.execute(
            select(
                LogEntry.id,
                LogEntry.work_date,
                LogEntry.item_no,
                LogEntry.text,
                LogEntry.kind,
                LogEntry.collaborator,
                LogEntry.is_late,
                LogEntry.is_overlong,
                LogEntry.withdrawn,
                edited,
                LogEntry.quality,
            )
            .where(
                LogEntry.person_id == person_id,
                LogEntry.work_date >= start,
                LogEntry.work_date <= end,
            )
            .order_by(LogEntry.work_date, LogEntry.item_no)
        )
        return [ReviewedEntry(*row) for row in rows]

    async def live_in_scope(
        self, scope: PeopleScope, start: date, end: date, limit: int
    ) -> Sequence[LogEntry]:
        """Live entries of everyone in `scope` over [start, end], newest first, at most `limit`."""
        return (
            await self.session.scalars(
                select(LogEntry)
                .where(
                    LogEntry.person_id.in_(scope.ids()),
                    LogEntry.work_date >= start,
                    LogEntry.work_date <= end,
                    LogEntry.withdrawn.is_(False),
                )
                .order_by(LogEntry.work_date.desc(), LogEntry.id.desc())
                .limit(limit)
            )
        ).all()

    async def done_for(self, person_ids: Sequence[int], day: date) -> set[int]:
        """Who of `person_ids` has logged `day` or is excused for it (needs no reminder)."""
        if not person_ids:
            return set()
        scope = PeopleScope(person_ids=tuple(person_ids))
        excused = await self.session.scalars(
            select(Absence.person_id).where(
                Absence.person_id.in_(scope.ids()),
                Absence.withdrawn.is_(False),
                Absence.start_date <= day,
                Absence.end_date >= day,
            )
        )
        return await self.logged_on(scope, day) | set(excused.all())

    async def logged_on(self, scope: PeopleScope, day: date) -> set[int]:
        """Who in `scope` has a live entry for `day`."""
        rows = await self.session.scalars(
            select(LogEntry.person_id)
            .where(
                LogEntry.person_id.in_(scope.ids()),
                LogEntry.work_date == day,
                LogEntry.withdrawn.is_(False),
            )
            .distinct()
        )
        return set(rows.all())

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

    # -- set-based reads over many people -------------------------------------------------

    async def activity(
        self, scope: PeopleScope, start: date, end: date, *, flagged: bool = False
    ) -> dict[int, tuple[set[date], EntryCounts]]:
        """Per person of `scope` with live entries in [start, end]: the days logged and counts
        (with `flagged`, also the entries flagged repeated, copied or trivial).

        One scan, one row per person with the days aggregated: a team of 50 logs about 3,000
        distinct days a quarter, and fetching those as rows cost as much as the scan itself.
        """
        postgres = _dialect(self.session) == "postgresql"
        day = LogEntry.work_date.distinct()
        # A date array on PostgreSQL; on SQLite the stored ISO dates joined by commas.
        days_of = func.array_agg(day) if postgres else func.group_concat(day)
        flags = func.sum(case((_counted_flags(), 1), else_=0)) if flagged else literal(0)
        rows = await self.session.execute(
            select(
                LogEntry.person_id,
                days_of,
                func.count(),
                func.sum(case((LogEntry.is_late, 1), else_=0)),
                func.sum(case((LogEntry.is_overlong, 1), else_=0)),
                flags,
            )
            .where(
                LogEntry.person_id.in_(scope.ids()),
                LogEntry.work_date >= start,
                LogEntry.work_date <= end,
                LogEntry.withdrawn.is_(False),
            )
            .group_by(LogEntry.person_id)
        )
        # The span's few distinct days, each one object: every person's set refers to them
        # (a city's quarter has some two million person-days), looked up in C.
        span = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        shared: dict[Any, date] = (
            {d: d for d in span} if postgres else {d.isoformat(): d for d in span}
        )
        return {
            person_id: (
                set(map(shared.__getitem__, days if postgres else days.split(","))),
                EntryCounts(int(total), int(late), int(overlong), int(flags or 0)),
            )
            for person_id, days, total, late, overlong, flags in rows
        }

    async def excused_spans(
        self, scope: PeopleScope, start: date, end: date
    ) -> dict[int, list[Absence]]:
        """Absences overlapping [start, end] per person of `scope`, by start date."""
        rows = await self.session.scalars(
            select(Absence)
            .where(
                Absence.person_id.in_(scope.ids()),
                Absence.withdrawn.is_(False),
                Absence.start_date <= end,
                Absence.end_date >= start,
            )
            .order_by(Absence.person_id, Absence.start_date)
        )
        spans: dict[int, list[Absence]] = {}
        for absence in rows:
            spans.setdefault(absence.person_id, []).append(absence)
        return spans

    # -- the nightly quality check (质量提示) -------------------------------------------------

    def _unchecked_people(self, day: date) -> Select[tuple[int]]:
        return select(LogEntry.person_id).where(
            LogEntry.work_date == day, LogEntry.quality.is_(None), LogEntry.withdrawn.is_(False)
        )

    async def unchecked(self, day: date) -> list[tuple[int, int, int, str, datetime]]:
        """(id, person, unit, text, updated_at) of the live entries of `day` not checked yet."""
        rows = await self.session.execute(
            select(
                LogEntry.id, LogEntry.person_id, Person.unit_id, LogEntry.text, LogEntry.updated_at
            )
            .join(Person, Person.id == LogEntry.person_id)
            .where(
                LogEntry.work_date == day,
                LogEntry.quality.is_(None),
                LogEntry.withdrawn.is_(False),
            )
            .order_by(LogEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    async def earlier_texts(self, day: date, since: date) -> dict[int, list[str]]:
        """Per person with unchecked entries on `day`: the texts of their live entries from
        `since` to the day before. One row per person, the texts joined in the database."""
        separator = "\x1f"  # never in a stored text (scoring.text.clean_text drops it)
        if _dialect(self.session) == "postgresql":
            texts = func.string_agg(LogEntry.text, separator)
        else:
            texts = func.group_concat(LogEntry.text, separator)
        rows = await self.session.execute(
            select(LogEntry.person_id, texts)
            .where(
                LogEntry.person_id.in_(self._unchecked_people(day)),
                LogEntry.work_date >= since,
                LogEntry.work_date < day,
                LogEntry.withdrawn.is_(False),
            )
            .group_by(LogEntry.person_id)
        )
        return {person_id: joined.split(separator) for person_id, joined in rows}

    async def unit_entries(self, day: date, since: date) -> list[tuple[int, int, int, str]]:
        """(id, person, unit, text) of the live entries from `since` to `day` of everyone in
        the units of the people with unchecked entries on `day`."""
        units = select(Person.unit_id).where(Person.id.in_(self._unchecked_people(day)))
        rows = await self.session.execute(
            select(LogEntry.id, LogEntry.person_id, Person.unit_id, LogEntry.text)
            .join(Person, Person.id == LogEntry.person_id)
            .where(
                Person.unit_id.in_(units),
                LogEntry.work_date >= since,
                LogEntry.work_date <= day,
                LogEntry.withdrawn.is_(False),
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    async def set_quality(self, flags: Sequence[tuple[int, str, datetime]]) -> int:
        """Store (id, flags, updated_at as read) in one executemany; an entry edited since it
        was read (its quality reset, updated_at moved) keeps None and is checked again."""
        if not flags:
            return 0
        table = LogEntry.__table__
        statement = (
            update(table)
            .where(
                table.c.id == bindparam("entry_id"),
                table.c.quality.is_(None),
                table.c.updated_at == bindparam("seen"),
            )
            .values(quality=bindparam("flags"))
        )
        await self.session.execute(
            statement,
            [{"entry_id": i, "flags": f, "seen": seen} for i, f, seen in flags],
        )
        return len(flags)

    async def flag_counts(self, scope: PeopleScope, start: date, end: date) -> dict[int, int]:
        """Per person of `scope`: live entries in [start, end] flagged repeat, copy or trivial
        (重复或琐碎条数); people without any are left out. One GROUP BY."""
        counted = _counted_flags()
        rows = await self.session.execute(
            select(LogEntry.person_id, func.count())
            .where(
                LogEntry.person_id.in_(scope.ids()),
                LogEntry.work_date >= start,
                LogEntry.work_date <= end,
                LogEntry.withdrawn.is_(False),
                counted,
            )
            .group_by(LogEntry.person_id)
        )
        return {person_id: int(count) for person_id, count in rows}


def _counted_flags() -> ColumnElement[bool]:
    """An entry flagged repeated, copied or trivial (the export's 重复或琐碎条数).

    Flags are stored sorted and comma-separated: whole items of the list are matched.
    """
    padded = literal(",") + LogEntry.quality + literal(",")
    listed = or_(*(padded.contains(f",{flag},") for flag in ("copy", "repeat", "trivial")))
    # Most entries have no flag: test that first and skip the string work (halves the scan).
    return and_(LogEntry.quality > "", listed)


def _json(detail: dict[str, Any] | None) -> str:
    return json.dumps(detail or {}, ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One line of the audit trail with the names of the people involved."""

    at: datetime
    action: str
    command: str | None
    actor: str | None  # "工号 姓名"
    actor_telegram_id: int | None
    subject: str | None
    detail: str


class AuditRepository(_Repository):
    async def record(
        self,
        at: datetime,
        action: str,
        *,
        actor_person_id: int | None = None,
        actor_telegram_id: int | None = None,
        subject_person_id: int | None = None,
        command: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.session.add(
            AuditLog(
                at=at,
                action=action,
                actor_person_id=actor_person_id,
                actor_telegram_id=actor_telegram_id,
                subject_person_id=subject_person_id,
                command=command,
                detail=_json(detail),
            )
        )

    async def record_reads(
        self,
        at: datetime,
        actor_person_id: int,
        subject_ids: Sequence[int],
        command: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """One "read" line per person whose log was shown, in one statement."""
        if subject_ids:
            text = _json(detail)
            await self.session.execute(
                insert(AuditLog),
                [
                    {
                        "at": at,
                        "action": "read",
                        "actor_person_id": actor_person_id,
                        "subject_person_id": subject,
                        "command": command,
                        "detail": text,
                    }
                    for subject in subject_ids
                ],
            )

    async def trail(
        self, person_id: int | None, since: datetime | None, limit: int
    ) -> list[AuditRow]:
        """The newest `limit` lines, optionally those by or about one person, since a moment."""
        actor = Person.__table__.alias("actor")
        subject = Person.__table__.alias("subject")
        query = (
            select(
                AuditLog.at,
                AuditLog.action,
                AuditLog.command,
                actor.c.roster_id + " " + actor.c.name,
                AuditLog.actor_telegram_id,
                subject.c.roster_id + " " + subject.c.name,
                AuditLog.detail,
            )
            .outerjoin(actor, actor.c.id == AuditLog.actor_person_id)
            .outerjoin(subject, subject.c.id == AuditLog.subject_person_id)
            .order_by(AuditLog.at.desc(), AuditLog.id.desc())
            .limit(limit)
        )
        if person_id is not None:
            query = query.where(
                or_(AuditLog.actor_person_id == person_id, AuditLog.subject_person_id == person_id)
            )
        if since is not None:
            query = query.where(AuditLog.at >= since)
        return [AuditRow(*row) for row in await self.session.execute(query)]

    async def reviewed_pairs(self, since: datetime, until: datetime) -> set[tuple[int, int]]:
        """(reader, person) pairs of /review reads in [since, until) (for the 季查阅 reminder)."""
        rows = await self.session.execute(
            select(AuditLog.actor_person_id, AuditLog.subject_person_id)
            .where(
                AuditLog.action == "read",
                AuditLog.command == "review",
                AuditLog.at >= since,
                AuditLog.at < until,
            )
            .distinct()
        )
        return {(actor, subject) for actor, subject in rows}


class ReviewRepository(_Repository):
    """Spot checks, comments and evaluations of supervisors on their reports' logs."""

    async def add(self, row: SpotCheck | Comment | Evaluation) -> None:
        self.session.add(row)
        await self.session.flush()

    async def add_check_items(self, items: Sequence[SpotCheckItem]) -> None:
        self.session.add_all(items)
        await self.session.flush()

    async def check_item(self, item_id: int) -> tuple[SpotCheckItem, SpotCheck, LogEntry] | None:
        row = (
            await self.session.execute(
                select(SpotCheckItem, SpotCheck, LogEntry)
                .join(SpotCheck, SpotCheck.id == SpotCheckItem.check_id)
                .join(LogEntry, LogEntry.id == SpotCheckItem.entry_id)
                .where(SpotCheckItem.id == item_id)
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    async def check_items(self, check_id: int) -> Sequence[SpotCheckItem]:
        return (
            await self.session.scalars(
                select(SpotCheckItem)
                .where(SpotCheckItem.check_id == check_id)
                .order_by(SpotCheckItem.position)
            )
        ).all()

    async def comments(self, subject_id: int, start: datetime, end: datetime) -> list[Comment]:
        """Comments on a person made in [start, end), oldest first."""
        rows = await self.session.scalars(
            select(Comment)
            .where(
                Comment.subject_id == subject_id,
                Comment.created_at >= start,
                Comment.created_at < end,
            )
            .order_by(Comment.created_at, Comment.id)
        )
        return list(rows.all())

    async def evaluation(self, subject_id: int, quarter: str) -> Evaluation | None:
        return await self.session.scalar(
            select(Evaluation).where(
                Evaluation.subject_id == subject_id, Evaluation.quarter == quarter
            )
        )


class InboxRepository(_Repository):
    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert updates, silently skipping ones already stored (same update or same message)."""
        if rows:
            statement = _upsert_insert(self.session, InboxUpdate).on_conflict_do_nothing()
            await self.session.execute(statement, list(rows))

    async def claim(
        self, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[tuple[int, str, int]]:
        """Claim for `worker` the oldest pending updates nobody holds, and return (id, payload,
        attempts) of each. A lane (chat) with an update another process holds is left out
        whole, so one chat's updates are never worked on by two processes at once.
        """
        if _dialect(self.session) == "postgresql":
            # Claims take turns (a few ms each): two processes claiming at once could each
            # take a different update of one chat.
            await self.session.execute(select(func.pg_advisory_xact_lock(INBOX_CLAIM_LOCK_KEY)))
            free = or_(InboxUpdate.claimed_until.is_(None), InboxUpdate.claimed_until <= now)
            busy = InboxUpdate.lane.not_in(
                select(InboxUpdate.lane).where(
                    InboxUpdate.status == InboxStatus.PENDING.value,
                    InboxUpdate.claimed_until > now,
                    InboxUpdate.claimed_by != worker,
                )
            )
        else:
            # SQLite serves one process (the service refuses a second one), so a claim left
            # behind is a dead process's: free at once.
            free = busy = true()
        rows = list(
            (
                await self.session.execute(
                    select(InboxUpdate.id, InboxUpdate.payload, InboxUpdate.attempts)
                    .where(
                        InboxUpdate.status == InboxStatus.PENDING.value,
                        free,
                        busy,
                    )
                    .order_by(InboxUpdate.id)
                    .limit(limit)
                )
            ).all()
        )
        if rows:
            await self.session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.id.in_([row[0] for row in rows]))
                .values(claimed_by=worker, claimed_until=until)
            )
        return rows

    async def renew(self, worker: str, until: datetime) -> None:
        """Keep the claims of a live process from expiring."""
        await self.session.execute(
            update(InboxUpdate)
            .where(
                InboxUpdate.claimed_by == worker,
                InboxUpdate.status == InboxStatus.PENDING.value,
            )
            .values(claimed_until=until)
        )

    async def release(self, worker: str) -> None:
        """Give up the claims on updates `worker` did not finish (their lanes stop in order)."""
        await self.session.execute(
            update(InboxUpdate)
            .where(
                InboxUpdate.claimed_by == worker,
                InboxUpdate.status == InboxStatus.PENDING.value,
            )
            .values(claimed_by=None, claimed_until=None)
        )

    async def mark_done(
        self, inbox_ids: Sequence[int], at: datetime, worker: str | None = None
    ) -> int:
        """Mark updates processed (only those `worker` holds, if given); returns how many.
        The last error of earlier attempts stays on record."""
        if not inbox_ids:
            return 0
        # One id (every handler's commit) keeps a plain cached statement; a batch uses IN.
        which = (
            InboxUpdate.id == inbox_ids[0]
            if len(inbox_ids) == 1
            else InboxUpdate.id.in_(list(inbox_ids))
        )
        result = await self.session.execute(
            update(InboxUpdate)
            .where(
                which,
                InboxUpdate.status == InboxStatus.PENDING.value,
                true() if worker is None else InboxUpdate.claimed_by == worker,
            )
            .values(status=InboxStatus.DONE.value, processed_at=at)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def scrub(self, inbox_id: int) -> None:
        """Drop an update's content, keeping only that it was received (and its dedup key)."""
        await self.session.execute(
            update(InboxUpdate).where(InboxUpdate.id == inbox_id).values(payload="{}")
        )

    async def purge_payloads(self, before: datetime) -> int:
        """Empty the payloads of updates processed before `before`; returns how many."""
        result = await self.session.execute(
            update(InboxUpdate)
            .where(
                InboxUpdate.status == InboxStatus.DONE.value,
                InboxUpdate.processed_at < before,
                InboxUpdate.payload != "{}",
            )
            .values(payload="{}")
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def record_failure(
        self, inbox_id: int, error: str, give_up: bool, worker: str | None = None
    ) -> None:
        """Count a failed attempt of a pending update; a done update is never reopened.

        (A failure after the commit, such as a reply that did not go out, is the outbox's to
        retry: the confirmation was queued with the change.)
        """
        await self.session.execute(
            update(InboxUpdate)
            .where(
                InboxUpdate.id == inbox_id,
                InboxUpdate.status == InboxStatus.PENDING.value,
                true() if worker is None else InboxUpdate.claimed_by == worker,
            )
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
        return dict(rows.all())


@dataclass(frozen=True, slots=True)
class DueMessage:
    """An outbox message ready to send, with the chat it goes to now (None: nobody to reach)."""

    id: int
    kind: str
    chat_id: int | None
    text: str
    buttons: list[list[tuple[str, str]]] | None
    attempts: int
    blocked: bool  # the recipient was marked as having blocked the bot
    in_flight: bool  # a send was under way when the process that made it stopped
    person_id: int | None = None
    reminds_of: date | None = None  # a reminder to log this day (skipped once it is logged)
    document: tuple[str, bytes] | None = None  # (file name, content), the text its caption


# Built once per dialect and run with parameters, so it is compiled once.
_INSERT_OUTBOX = {
    name: dialect.insert(OutboxMessage).on_conflict_do_nothing(index_elements=["key"])
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def _buttons(stored: str | None) -> list[list[tuple[str, str]]] | None:
    if stored is None:
        return None
    return [[(label, data) for label, data in row] for row in json.loads(stored)]


class OutboxRepository(_Repository):
    """Messages the product starts on its own; written by use cases, read by the sender."""

    added = False  # whether this unit of work wrote a message (the sender is woken on commit)

    async def add(
        self,
        key: str,
        kind: str,
        text: str,
        at: datetime,
        *,
        person_id: int | None = None,
        chat_id: int | None = None,
        buttons: Sequence[Sequence[tuple[str, str]]] | None = None,
        reminds_of: date | None = None,
        not_before: datetime | None = None,
        document: tuple[str, bytes] | None = None,
    ) -> None:
        """Queue a message for a person (their account at sending time) or a chat, once per key."""
        if (person_id is None) == (chat_id is None):
            raise ValueError("an outbox message goes to a person or to a chat")
        values = {
            "key": key[:200],
            "kind": kind,
            "person_id": person_id,
            "chat_id": chat_id,
            "text": text,
            "buttons": None if buttons is None else json.dumps(buttons, ensure_ascii=False),
            # Someone is waiting for a reply: it overtakes notices and scheduled fan-outs.
            "priority": 0 if kind == "reply" else 1,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "unsure": 0,
            "reminds_of": reminds_of,
            "document_name": None if document is None else document[0],
            "document": None if document is None else document[1],
            "not_before": not_before or at,
            "created_at": at,
        }
        await self.session.execute(_INSERT_OUTBOX[_dialect(self.session)], values)
        self.added = True

    async def add_to_people(
        self,
        messages: Sequence[tuple[str, int, str]],
        kind: str,
        at: datetime,
        *,
        buttons: Sequence[Sequence[tuple[str, str]]] | None = None,
        reminds_of: date | None = None,
    ) -> None:
        """Queue many (key, person id, text) messages of one kind; keys seen before are skipped.

        One executemany per chunk: planning a reminder for a whole city is a few statements.
        """
        stored_buttons = None if buttons is None else json.dumps(buttons, ensure_ascii=False)
        statement = _INSERT_OUTBOX[_dialect(self.session)]
        for start in range(0, len(messages), CHUNK):
            rows = [
                {
                    "key": key[:200],
                    "kind": kind,
                    "person_id": person_id,
                    "chat_id": None,
                    "text": text,
                    "buttons": stored_buttons,
                    "priority": 1,
                    "status": OutboxStatus.PENDING.value,
                    "attempts": 0,
                    "unsure": 0,
                    "reminds_of": reminds_of,
                    "not_before": at,
                    "created_at": at,
                }
                for key, person_id, text in messages[start : start + CHUNK]
            ]
            await self.session.execute(statement, rows)
            self.added = True

    async def due(
        self,
        now: datetime,
        limit: int,
        *,
        priority: int | None = None,
        exclude: Collection[int] = (),
    ) -> list[DueMessage]:
        """Pending messages whose time has come, replies first, then oldest first.

        `priority` keeps one kind (0: replies, 1: the others); `exclude` leaves out messages
        the sender holds already. The due ids are chosen first, then only those are joined
        to their recipients (a fan-out keeps tens of thousands pending).
        """
        order = (OutboxMessage.priority, OutboxMessage.not_before, OutboxMessage.id)
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.not_before <= now,
                true() if priority is None else OutboxMessage.priority == priority,
                OutboxMessage.id.not_in(list(exclude)) if exclude else true(),
            )
            .order_by(*order)
            .limit(limit)
            .subquery()
        )
        rows = await self.session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.kind,
                func.coalesce(OutboxMessage.chat_id, Person.telegram_user_id),
                OutboxMessage.text,
                OutboxMessage.buttons,
                OutboxMessage.attempts,
                Person.bot_blocked_at.is_not(None),
                OutboxMessage.in_flight_since.is_not(None),
                OutboxMessage.person_id,
                OutboxMessage.reminds_of,
                OutboxMessage.document_name,
                OutboxMessage.document,
            )
            .join(due, due.c.id == OutboxMessage.id)
            .outerjoin(Person, Person.id == OutboxMessage.person_id)
            .order_by(*order)
        )
        return [
            DueMessage(
                row[0],
                row.kind,
                row[2],
                row.text,
                _buttons(row.buttons),
                row.attempts,
                row[6],
                row[7],
                person_id=row.person_id,
                reminds_of=row.reminds_of,
                document=None if row.document is None else (row.document_name, row.document),
            )
            for row in rows
        ]

    async def claim(self, message_ids: Sequence[int], at: datetime) -> None:
        """Mark messages as being sent now (one statement for a batch)."""
        if message_ids:
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(list(message_ids)))
                .values(in_flight_since=at)
            )

    async def count_unsure(self, message_ids: Sequence[int]) -> None:
        """Note a send whose fate is unknown: the message may reach its recipient twice."""
        if message_ids:
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(list(message_ids)))
                .values(unsure=OutboxMessage.unsure + 1)
            )

    async def finish(
        self, message_ids: Sequence[int], status: OutboxStatus, at: datetime, error: str = ""
    ) -> None:
        if not message_ids:
            return
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(message_ids)))
            .values(
                status=status.value,
                attempts=OutboxMessage.attempts + 1,
                sent_at=at if status is OutboxStatus.SENT else None,
                last_error=error[:2000] or None,
                in_flight_since=None,
            )
        )

    async def postpone(self, message_id: int, until: datetime, error: str) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                attempts=OutboxMessage.attempts + 1,
                not_before=until,
                last_error=error[:2000],
                in_flight_since=None,
            )
        )

    async def mark_chat_blocked(self, chat_id: int, at: datetime | None) -> None:
        """Note on the person bound to `chat_id` that they blocked the bot (None: not any more)."""
        await self.session.execute(
            update(Person).where(Person.telegram_user_id == chat_id).values(bot_blocked_at=at)
        )

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return dict(rows.all())

    async def notify(self) -> None:
        """Tell the sending process, whichever it is, that messages wait (on commit)."""
        if _dialect(self.session) == "postgresql":
            await self.session.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))
