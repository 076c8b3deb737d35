"""Use cases of a cadre's own log: record, edit, withdraw, backfill, reflect, leave, view."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from bot import zh
from bot.config import LoggingRules
from bot.errors import NotAllowed, NotFound, UsageError
from scoring.completeness import Completeness, completeness
from scoring.dates import (
    Period,
    WorkingDays,
    backfill_allowed,
    expected_days,
    is_after_hours,
    parse_date,
    work_date_for,
)
from scoring.text import is_overlong, split_items
from storage.models import Absence, EntryKind, LogEntry, Reflection
from storage.uow import UnitOfWork

# Past starts accepted by /leave (a trip is often reported after the return) and the longest span.
LEAVE_PAST_DAYS = 31
LEAVE_FUTURE_DAYS = 180
LEAVE_MAX_DAYS = 92
# Commands refuse arguments beyond this; plain messages are never refused, only flagged.
COMMAND_TEXT_LIMIT = 4000
# History action of an entry withdrawn because its line was removed from the edited message.
EDIT_WITHDRAW = "edit_withdraw"


class Extractor(Protocol):
    def extract(self, text: str) -> str | None:
        """The collaborator or people served named in one log item, if any."""
        ...


@dataclass(frozen=True)
class LogPolicy:
    """Everything the logging rules need besides the database: config, calendar, extractor."""

    rules: LoggingRules
    calendar: WorkingDays
    extractor: Extractor

    def work_date(self, moment: datetime) -> date:
        return work_date_for(moment, self.rules.rollover_hour, self.rules.tz)

    def after_hours(self, moment: datetime) -> bool:
        return is_after_hours(
            moment,
            self.calendar,
            self.rules.work_day_start,
            self.rules.work_day_end,
            self.rules.rollover_hour,
            self.rules.tz,
        )

    def editable(self, work_date: date, today: date) -> bool:
        """Today's entries and those inside the backfill window may still change."""
        return work_date == today or backfill_allowed(
            work_date, today, self.rules.backfill_window, self.calendar
        )


@dataclass(frozen=True)
class Source:
    """Where a log message came from: used to deduplicate replays and to date the entries."""

    chat_id: int
    message_id: int
    sent_at: datetime


@dataclass
class Recorded:
    work_date: date
    entries: list[LogEntry]
    late: bool = False
    after_hours: bool = False
    replayed: bool = False


@dataclass
class DayView:
    work_date: date
    entries: Sequence[LogEntry]
    reflection: Reflection | None


@dataclass
class PeriodView:
    period: Period
    entries: Sequence[LogEntry]
    absences: Sequence[Absence]
    completeness: Completeness
    by_day: dict[date, list[LogEntry]] = field(default_factory=dict)


def _snapshot(entry: LogEntry) -> dict[str, object]:
    return {
        "text": entry.text,
        "kind": entry.kind,
        "collaborator": entry.collaborator,
        "withdrawn": entry.withdrawn,
    }


def _set_text(policy: LogPolicy, entry: LogEntry, text: str, now: datetime) -> None:
    """New text for an entry: its collaborator and overlong flag follow the text."""
    entry.text = text
    entry.collaborator = policy.extractor.extract(text)
    entry.is_overlong = is_overlong(text, policy.rules.max_item_chars)
    entry.updated_at = now


async def _new_entries(
    uow: UnitOfWork,
    policy: LogPolicy,
    person_id: int,
    work_date: date,
    items: Sequence[str],
    source: Source,
    now: datetime,
    *,
    late: bool = False,
    attachment: str | None = None,
    first_part: int = 0,
) -> list[LogEntry]:
    entries = [
        LogEntry(
            person_id=person_id,
            work_date=work_date,
            text=item,
            kind=EntryKind.REGULAR.value,
            collaborator=policy.extractor.extract(item),
            is_late=late,
            is_overlong=is_overlong(item, policy.rules.max_item_chars),
            attachment_file_id=attachment if i == 0 else None,
            source_chat_id=source.chat_id,
            source_message_id=source.message_id,
            source_part=first_part + i,
            withdrawn=False,
            created_at=now,
            updated_at=now,
        )
        for i, item in enumerate(items)
    ]
    await uow.entries.insert_numbered(entries)
    return entries


async def record_message(
    uow: UnitOfWork,
    policy: LogPolicy,
    person_id: int,
    text: str,
    source: Source,
    now: datetime,
    attachment: str | None = None,
) -> Recorded:
    """Store one message as one entry per item (一事一记), dated by when it was sent."""
    work_date = policy.work_date(source.sent_at)
    items = split_items(text)
    if not items:
        raise UsageError(zh.EMPTY_MESSAGE)
    try:
        entries = await _new_entries(
            uow, policy, person_id, work_date, items, source, now, attachment=attachment
        )
    except IntegrityError:
        # Processed before (a retry after its reply failed): show what was stored then.
        await uow.session.rollback()
        existing = await uow.entries.from_message(source.chat_id, source.message_id)
        if not existing:
            raise
        return Recorded(existing[0].work_date, list(existing), replayed=True)
    await uow.commit()
    return Recorded(work_date, entries, after_hours=policy.after_hours(source.sent_at))


async def apply_message_edit(
    uow: UnitOfWork,
    policy: LogPolicy,
    person_id: int,
    text: str,
    source: Source,
    now: datetime,
    attachment: str | None = None,
) -> Recorded | None:
    """Bring the entries of an edited Telegram message in line with its new text (history kept).

    Returns None when nothing changed. A message that never produced entries (a photo sent
    without a caption) is recorded now, with its attachment.
    """
    existing = list(await uow.entries.from_message(source.chat_id, source.message_id))
    if not existing:
        return await record_message(uow, policy, person_id, text, source, now, attachment)
    if existing[0].person_id != person_id:
        raise NotAllowed(zh.STALE_BUTTON)
    work_date = existing[0].work_date
    today = policy.work_date(now)
    if not policy.editable(work_date, today):
        raise NotAllowed(
            zh.OUT_OF_WINDOW.format(date=_md(work_date), window=policy.rules.backfill_window)
        )
    items = split_items(text)
    if not items:
        raise UsageError(zh.EMPTY_MESSAGE)
    changed: list[LogEntry] = []
    for entry, item in zip(existing, items, strict=False):
        # A line that an earlier edit removed is back: its entry comes back too.
        restore = entry.withdrawn and await _removed_by_edit(uow, entry)
        if entry.text == item and not restore:
            continue
        before = _snapshot(entry)
        _set_text(policy, entry, item, now)
        entry.withdrawn = entry.withdrawn and not restore
        action = "restore" if restore else "edit"
        await uow.entries.add_history(entry, person_id, now, action, before, _snapshot(entry))
        changed.append(entry)
    for entry in existing[len(items) :]:
        if entry.withdrawn:
            continue
        before = _snapshot(entry)
        entry.withdrawn = True
        entry.updated_at = now
        await uow.entries.add_history(
            entry, person_id, now, EDIT_WITHDRAW, before, _snapshot(entry)
        )
        changed.append(entry)
    if len(items) > len(existing):
        last_part = max(e.source_part or 0 for e in existing)
        changed += await _new_entries(
            uow,
            policy,
            person_id,
            work_date,
            items[len(existing) :],
            source,
            now,
            late=existing[0].is_late,
            first_part=last_part + 1,
        )
    if not changed:
        return None
    await uow.commit()
    return Recorded(work_date, changed, late=existing[0].is_late)


async def _removed_by_edit(uow: UnitOfWork, entry: LogEntry) -> bool:
    """Whether the entry was withdrawn because its line left the edited message (not by /del)."""
    history = await uow.entries.history(entry.id)
    return bool(history) and history[-1].action == EDIT_WITHDRAW


async def _own_entry(
    uow: UnitOfWork, policy: LogPolicy, person_id: int, entry_id: int, now: datetime
) -> LogEntry:
    entry = await uow.entries.get(entry_id)
    if entry is None or entry.person_id != person_id:
        raise NotFound(zh.STALE_BUTTON)
    if not policy.editable(entry.work_date, policy.work_date(now)):
        raise NotAllowed(
            zh.OUT_OF_WINDOW.format(date=_md(entry.work_date), window=policy.rules.backfill_window)
        )
    return entry


async def _today_entry(
    uow: UnitOfWork, policy: LogPolicy, person_id: int, number: int, now: datetime
) -> LogEntry:
    entry = await uow.entries.by_number(person_id, policy.work_date(now), number)
    if entry is None:
        raise NotFound(zh.NO_SUCH_ENTRY.format(n=number))
    return entry


async def _withdraw(uow: UnitOfWork, entry: LogEntry, person_id: int, now: datetime) -> bool:
    if entry.withdrawn:
        return False
    before = _snapshot(entry)
    entry.withdrawn = True
    entry.updated_at = now
    await uow.entries.add_history(entry, person_id, now, "withdraw", before, _snapshot(entry))
    await uow.commit()
    return True


async def withdraw_entry(
    uow: UnitOfWork, policy: LogPolicy, person_id: int, entry_id: int, now: datetime
) -> tuple[LogEntry, bool]:
    """Withdraw an entry by id (inline button); False when it was already withdrawn."""
    entry = await _own_entry(uow, policy, person_id, entry_id, now)
    return entry, await _withdraw(uow, entry, person_id, now)


async def withdraw_today(
    uow: UnitOfWork, policy: LogPolicy, person_id: int, number: int, now: datetime
) -> tuple[LogEntry, bool]:
    """Withdraw today's entry `number` (/del n)."""
    entry = await _today_entry(uow, policy, person_id, number, now)
    return entry, await _withdraw(uow, entry, person_id, now)


async def change_kind(
    uow: UnitOfWork,
    policy: LogPolicy,
    person_id: int,
    entry_id: int,
    kind: EntryKind,
    now: datetime,
) -> LogEntry:
    """Set an entry's kind (日常工作/其他工作/八小时外) from an inline button."""
    entry = await _own_entry(uow, policy, person_id, entry_id, now)
    if entry.withdrawn:
        raise NotAllowed(zh.ENTRY_IS_WITHDRAWN.format(n=entry.item_no))
    if entry.kind != kind.value:
        before = _snapshot(entry)
        entry.kind = kind.value
        entry.updated_at = now
        await uow.entries.add_history(entry, person_id, now, "kind", before, _snapshot(entry))
        await uow.commit()
    return entry


async def edit_today(
    uow: UnitOfWork, policy: LogPolicy, person_id: int, number: int, text: str, now: datetime
) -> tuple[LogEntry, bool]:
    """Replace the text of today's entry `number` (/edit n text); False when it is unchanged."""
    text = " ".join(text.split())
    if not text:
        raise UsageError(zh.EDIT_USAGE)
    entry = await _today_entry(uow, policy, person_id, number, now)
    if entry.withdrawn:
        raise NotAllowed(zh.ENTRY_IS_WITHDRAWN.format(n=number))
    if entry.text == text:
        return entry, False
    before = _snapshot(entry)
    _set_text(policy, entry, text, now)
    await uow.entries.add_history(entry, person_id, now, "edit", before, _snapshot(entry))
    await uow.commit()
    return entry, True


async def set_collaborator(
    uow: UnitOfWork,
    policy: LogPolicy,
    person_id: int,
    number: int,
    name: str | None,
    now: datetime,
) -> LogEntry:
    """Correct the 合作者或服务对象 of today's entry `number`; None clears it."""
    entry = await _today_entry(uow, policy, person_id, number, now)
    if entry.withdrawn:
        raise NotAllowed(zh.ENTRY_IS_WITHDRAWN.format(n=number))
    if entry.collaborator != name:
        before = _snapshot(entry)
        entry.collaborator = name
        entry.updated_at = now
        await uow.entries.add_history(
            entry, person_id, now, "collaborator", before, _snapshot(entry)
        )
        await uow.commit()
    return entry


def resolve_past_date(policy: LogPolicy, text: str, today: date) -> date:
    """Parse a date the cadre typed, refusing future dates with a clear reply."""
    day = parse_date(text, today)
    if day is None:
        raise UsageError(zh.BAD_DATE.format(text=text))
    if day.year < today.year and not re.search(r"\d{4}", text):
        # "11-25" typed on 11-23 means this year's 11-25 (ahead), not last year's.
        with contextlib.suppress(ValueError):  # 02-29
            this_year = day.replace(year=today.year)
            if this_year - today < today - day:
                day = this_year
    if day > today:
        raise NotAllowed(zh.FUTURE_DATE.format(date=_md(day)))
    return day


async def backfill(
    uow: UnitOfWork,
    policy: LogPolicy,
    person_id: int,
    date_text: str,
    text: str,
    source: Source,
    now: datetime,
) -> Recorded:
    """Entries for a past day inside the window, marked 补记."""
    today = policy.work_date(now)
    day = resolve_past_date(policy, date_text, today)
    if day == today:
        raise UsageError(zh.BACKFILL_TODAY)
    if not backfill_allowed(day, today, policy.rules.backfill_window, policy.calendar):
        raise NotAllowed(
            zh.BACKFILL_TOO_OLD.format(window=policy.rules.backfill_window, date=_md(day))
        )
    existing = await uow.entries.from_message(source.chat_id, source.message_id)
    if existing:
        return Recorded(day, list(existing), late=True, replayed=True)
    items = split_items(text)
    if not items:
        raise UsageError(zh.BACKFILL_USAGE)
    entries = await _new_entries(uow, policy, person_id, day, items, source, now, late=True)
    await uow.commit()
    return Recorded(day, entries, late=True)


async def reflect(
    uow: UnitOfWork, policy: LogPolicy, person_id: int, text: str, now: datetime
) -> tuple[date, bool]:
    """Save today's 心得体会; True when an earlier text was replaced (kept in the audit log)."""
    text = text.strip()
    if not text:
        raise UsageError(zh.REFLECT_USAGE)
    if len(text) > COMMAND_TEXT_LIMIT:
        raise UsageError(zh.TOO_LONG_COMMAND.format(limit=COMMAND_TEXT_LIMIT))
    day = policy.work_date(now)
    current = await uow.entries.reflection(person_id, day)
    replaced = False
    if current is None:
        await uow.entries.add_reflection(
            Reflection(
                person_id=person_id, work_date=day, text=text, created_at=now, updated_at=now
            )
        )
    elif current.text != text:
        await uow.audit.record(
            now,
            "reflection_replaced",
            actor_person_id=person_id,
            subject_person_id=person_id,
            detail={"work_date": day.isoformat(), "before": current.text, "after": text},
        )
        current.text = text
        current.updated_at = now
        replaced = True
    await uow.commit()
    return day, replaced


async def add_absence(
    uow: UnitOfWork,
    policy: LogPolicy,
    person_id: int,
    start_text: str,
    end_text: str | None,
    reason: str,
    now: datetime,
) -> Absence:
    """Register excused days (leave, trip, training, meeting); a repeat is not stored twice."""
    today = policy.work_date(now)
    reason = " ".join(reason.split())
    if not reason:
        raise UsageError(zh.LEAVE_NO_REASON)
    if len(reason) > COMMAND_TEXT_LIMIT:
        raise UsageError(zh.TOO_LONG_COMMAND.format(limit=COMMAND_TEXT_LIMIT))
    start = _leave_date(start_text, today)
    end = _leave_date(end_text, today) if end_text else start
    if end < start:
        raise UsageError(zh.LEAVE_BAD_RANGE.format(start=_md(start), end=_md(end)))
    if (end - start).days + 1 > LEAVE_MAX_DAYS:
        raise UsageError(zh.LEAVE_TOO_LONG.format(days=LEAVE_MAX_DAYS))
    if start < today - timedelta(days=LEAVE_PAST_DAYS):
        raise NotAllowed(zh.LEAVE_TOO_OLD.format(days=LEAVE_PAST_DAYS))
    if end > today + timedelta(days=LEAVE_FUTURE_DAYS):
        raise NotAllowed(zh.LEAVE_TOO_FAR.format(days=LEAVE_FUTURE_DAYS))
    for absence in await uow.entries.absences(person_id, start, end):
        if (absence.start_date, absence.end_date, absence.reason) == (start, end, reason):
            return absence
    absence = Absence(
        person_id=person_id,
        start_date=start,
        end_date=end,
        reason=reason,
        created_at=now,
        withdrawn=False,
    )
    await uow.entries.add_absence(absence)
    await uow.commit()
    return absence


def _leave_date(text: str, today: date) -> date:
    """A date for /leave: without a year it may lie ahead ("11-25" typed on 11-21 is this year)."""
    day = parse_date(text, today)
    if day is None:
        raise UsageError(zh.BAD_DATE.format(text=text))
    if not re.search(r"\d{4}", text) and day < today - timedelta(days=LEAVE_PAST_DAYS):
        try:
            return day.replace(year=day.year + 1)
        except ValueError:  # 02-29
            return day
    return day


def _days_in(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


async def day_view(uow: UnitOfWork, person_id: int, day: date) -> DayView:
    entries = await uow.entries.for_day(person_id, day)
    return DayView(day, entries, await uow.entries.reflection(person_id, day))


async def period_view(
    uow: UnitOfWork, policy: LogPolicy, person_id: int, period: Period, today: date
) -> PeriodView:
    """A cadre's entries over a period with completeness up to today."""
    entries = await uow.entries.for_range(person_id, period.start, period.end)
    absences = await uow.entries.absences(person_id, period.start, period.end)
    excused = {
        day
        for a in absences
        for day in _days_in(max(a.start_date, period.start), min(a.end_date, period.end))
    }
    logged = {e.work_date for e in entries if not e.withdrawn}
    working = expected_days(period, policy.calendar, until=today)
    by_day: dict[date, list[LogEntry]] = {}
    for entry in entries:
        by_day.setdefault(entry.work_date, []).append(entry)
    return PeriodView(
        period, entries, absences, completeness(working, logged, excused, today), by_day
    )


def _md(day: date) -> str:
    return f"{day.month}月{day.day}日"
