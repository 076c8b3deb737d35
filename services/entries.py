"""Use cases of a cadre's own log: record, edit, withdraw, backfill, reflect, leave, view.

Every method opens its unit of work, commits at most once and returns plain values; the same
use case serves Telegram, the web page and the CLI, which differ only in the `EntrySource`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from scoring.absence import absence_kind
from scoring.completeness import Completeness, DueDays
from scoring.dates import (
    Period,
    WorkingDays,
    backfill_allowed,
    expected_days,
    is_after_hours,
    parse_date,
    work_date_for,
)
from scoring.text import clean_text, has_content, is_overlong, split_items
from services import zh
from services.clock import Clock
from services.errors import NotAllowed, NotFound, UsageError
from services.outbox import Confirm, commit
from services.policy import LoggingRules
from storage.models import Absence, AbsenceKind, Channel, EntryKind, LogEntry, Reflection
from storage.repositories import EntryCounts, PeopleScope
from storage.uow import UnitOfWork, UowFactory

# Past starts accepted by /leave (a trip is often reported after the return) and the longest span.
LEAVE_PAST_DAYS = 31
LEAVE_FUTURE_DAYS = 180
LEAVE_MAX_DAYS = 92
# Commands refuse arguments beyond this; plain messages are never refused, only flagged.
COMMAND_TEXT_LIMIT = 4000
# Rows of one web form post: a day's work, not a bulk upload.
FORM_ROWS_LIMIT = 30
# The longest 合作者或服务对象 a cadre may type (the column holds 200).
COLLABORATOR_LIMIT = 100
# History action of an entry withdrawn because its line was removed from the edited message.
EDIT_WITHDRAW = "edit_withdraw"


class Extractor(Protocol):
    def extract(self, text: str) -> str | None:
        """The collaborator or people served named in one log item, if any."""
        ...

    def project_terms(self, text: str) -> list[str]:
        """The project names and aliases one log item mentions, in order."""
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

    def calendar_published(self, year: int) -> bool:
        """Whether the official schedule of `year` is known (else Mon–Fri is assumed)."""
        published = getattr(self.calendar, "has_official", None)
        return True if published is None else bool(published(year))

    def completeness(
        self,
        period: Period,
        logged: set[date],
        absences: Sequence[Absence],
        today: date,
        due: DueDays | None = None,
        since: date | None = None,
    ) -> Completeness:
        """Completeness over the period's working days up to today, absences excusing days.

        `due`: the period's days prepared once when the caller scores many people; `since`:
        the person's first day on the roster, when earlier days are not to count.
        """
        excused = {
            day
            for a in absences
            for day in _days_in(max(a.start_date, period.start), min(a.end_date, period.end))
        }
        if due is None:
            due = self.due_days(period, today)
        return due.of(logged, excused, since)

    def due_days(self, period: Period, today: date) -> DueDays:
        return DueDays(expected_days(period, self.calendar, until=today), today)

    def editable(self, work_date: date, today: date) -> bool:
        """Today's entries and those inside the backfill window may still change."""
        return work_date == today or backfill_allowed(
            work_date, today, self.rules.backfill_window, self.calendar
        )


@dataclass(frozen=True)
class EntrySource:
    """Where a log message came from: its channel, a key unique within it, and when it was sent.

    The key makes a replayed message find its entries instead of storing them again, and lets
    an edited message find the entries it produced.
    """

    channel: Channel
    key: str | None
    sent_at: datetime

    @classmethod
    def telegram(cls, chat_id: int, message_id: int, sent_at: datetime) -> EntrySource:
        return cls(Channel.TELEGRAM, f"{chat_id}:{message_id}", sent_at)

    @classmethod
    def web(cls, person_id: int, form_key: str, sent_at: datetime) -> EntrySource:
        """A web form post: its one-time form key makes a double submit store nothing twice."""
        return cls(Channel.WEB, f"{person_id}:{form_key}", sent_at)


@dataclass(frozen=True, slots=True)
class EntryView:
    """One entry as the channels show it."""

    id: int
    work_date: date
    item_no: int
    text: str
    kind: EntryKind
    collaborator: str | None
    is_late: bool
    is_overlong: bool
    withdrawn: bool
    project: str | None = None  # the linked project's name, where the caller looked it up

    @classmethod
    def of(cls, entry: LogEntry, projects: Mapping[int, str] | None = None) -> EntryView:
        return cls(
            entry.id,
            entry.work_date,
            entry.item_no,
            entry.text,
            EntryKind(entry.kind),
            entry.collaborator,
            entry.is_late,
            entry.is_overlong,
            entry.withdrawn,
            projects.get(entry.project_id) if projects and entry.project_id else None,
        )


def _views(
    entries: Sequence[LogEntry], projects: Mapping[int, str] | None = None
) -> tuple[EntryView, ...]:
    return tuple(EntryView.of(e, projects) for e in entries)


def pick_project(
    terms: Sequence[str], by_term: Mapping[str, Sequence[int]], own: Collection[int]
) -> int | None:
    """The project an item is about: the first term naming exactly one of the writer's own
    projects, else the first naming exactly one project; a term shared by several is skipped."""
    for term in terms:
        mine = [pid for pid in by_term.get(term, ()) if pid in own]
        if len(mine) == 1:
            return mine[0]
    for term in terms:
        ids = by_term.get(term, ())
        if len(ids) == 1:
            return ids[0]
    return None


@dataclass(frozen=True)
class Recorded:
    """The entries a message produced (or, for an edit, the ones it changed)."""

    work_date: date
    entries: tuple[EntryView, ...]
    late: bool = False
    after_hours: bool = False
    replayed: bool = False


@dataclass(frozen=True)
class EntryChange:
    """One entry after a change; `siblings` are all entries of its message, for redrawing it."""

    entry: EntryView
    changed: bool
    siblings: tuple[EntryView, ...]


@dataclass(frozen=True, slots=True)
class AbsenceView:
    start_date: date
    end_date: date
    reason: str
    kind: str = AbsenceKind.OTHER.value  # leave / trip / training / meeting / other

    @classmethod
    def of(cls, absence: Absence) -> AbsenceView:
        return cls(absence.start_date, absence.end_date, absence.reason, absence.kind)


@dataclass(frozen=True, slots=True)
class FormRow:
    """One row of the web page's add form: the item, its kind, and optionally the cadre's
    own choice of collaborator and project (otherwise found in the text, as in the chat)."""

    text: str
    kind: EntryKind = EntryKind.REGULAR
    collaborator: str = ""
    project_id: int | None = None


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One change of an entry: when, what kind of change, the fields before and after."""

    at: datetime
    action: str  # edit / kind / collaborator / withdraw / restore / edit_withdraw
    before: Mapping[str, object]
    after: Mapping[str, object]


@dataclass(frozen=True)
class EntryDetail:
    """One of a cadre's own entries with its whole history (the web page's entry page)."""

    entry: EntryView
    editable: bool  # inside the backfill window and not withdrawn
    history: tuple[HistoryLine, ...]


@dataclass(frozen=True)
class DayView:
    work_date: date
    entries: tuple[EntryView, ...]
    reflection: str | None


@dataclass(frozen=True)
class PeriodView:
    period: Period
    entries: tuple[EntryView, ...]
    absences: tuple[AbsenceView, ...]
    completeness: Completeness

    def by_day(self) -> dict[date, list[EntryView]]:
        days: dict[date, list[EntryView]] = {}
        for entry in self.entries:
            days.setdefault(entry.work_date, []).append(entry)
        return days


NO_ENTRIES = EntryCounts(0, 0, 0)


@dataclass(frozen=True, slots=True)
class Activity:
    """One person's log over a period, as team views and grade exports need it."""

    completeness: Completeness
    counts: EntryCounts


def _snapshot(entry: LogEntry) -> dict[str, object]:
    return {
        "text": entry.text,
        "kind": entry.kind,
        "collaborator": entry.collaborator,
        "withdrawn": entry.withdrawn,
    }


def _days_in(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


class EntryService:
    """A cadre's own work log (一事一记)."""

    def __init__(self, uow: UowFactory, clock: Clock, policy: LogPolicy) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy

    def today(self) -> date:
        """Today's work date (before the rollover hour it is still yesterday)."""
        return self.policy.work_date(self.clock.now())

    # -- writing -----------------------------------------------------------------------------

    async def record(
        self,
        person_id: int,
        text: str,
        source: EntrySource,
        attachment: str | None = None,
        confirm: Confirm[Recorded] | None = None,
    ) -> Recorded:
        """Store one message as one entry per item, dated by when it was sent."""
        items = split_items(text)
        if not items:
            raise UsageError(zh.EMPTY_MESSAGE)
        async with self.uow() as uow:
            return await self._record(uow, person_id, items, source, attachment, confirm=confirm)

    async def _record(
        self,
        uow: UnitOfWork,
        person_id: int,
        items: Sequence[str],
        source: EntrySource,
        attachment: str | None,
        *,
        work_date: date | None = None,
        late: bool = False,
        confirm: Confirm[Recorded] | None = None,
    ) -> Recorded:
        """Insert the items as entries of `work_date` (by default the day they were sent)."""
        work_date = work_date or self.policy.work_date(source.sent_at)
        entries = self.new_entries(
            person_id, work_date, items, source, late=late, attachment=attachment
        )
        projects = await self.link_projects(uow, person_id, entries)
        if not await uow.entries.insert_numbered(entries):
            # Stored before under the same source (the same message reached the bot twice):
            # show what was stored then.
            assert source.key is not None
            existing = await uow.entries.from_source(source.channel, source.key)
            result = Recorded(existing[0].work_date, _views(existing), late=late, replayed=True)
            return await commit(uow, confirm, result, self.clock.now())
        after_hours = not late and self.policy.after_hours(source.sent_at)
        result = Recorded(work_date, _views(entries, projects), late=late, after_hours=after_hours)
        return await commit(uow, confirm, result, self.clock.now())

    async def link_projects(
        self, uow: UnitOfWork, person_id: int, entries: Sequence[LogEntry]
    ) -> dict[int, str]:
        """Link each entry that names a project (by name or alias) to it; an entry linked
        already (by /progress) keeps its project. Returns the linked projects' names by id."""
        terms = [
            [] if e.project_id else self.policy.extractor.project_terms(e.text) for e in entries
        ]
        wanted = {term for found in terms for term in found}
        if not wanted:
            return {}
        by_term = await uow.projects.by_terms(wanted)
        candidates = {pid for ids in by_term.values() for pid in ids}
        own = await uow.projects.involving_ids(person_id, candidates)
        for entry, found in zip(entries, terms, strict=True):
            if found:
                entry.project_id = pick_project(found, by_term, own)
        linked = {e.project_id for e in entries if e.project_id}
        return await uow.projects.names(linked)

    def new_entries(
        self,
        person_id: int,
        work_date: date,
        items: Sequence[str],
        source: EntrySource,
        *,
        late: bool = False,
        attachment: str | None = None,
        first_part: int = 0,
    ) -> list[LogEntry]:
        """Unsaved entries for the items, each with its collaborator and overlong flag."""
        now = self.clock.now()
        return [
            LogEntry(
                person_id=person_id,
                work_date=work_date,
                text=item,
                kind=EntryKind.REGULAR.value,
                collaborator=self.policy.extractor.extract(item),
                is_late=late,
                is_overlong=is_overlong(item, self.policy.rules.max_item_chars),
                attachment_file_id=attachment if i == 0 else None,
                channel=source.channel.value,
                source_key=source.key,
                source_part=first_part + i if source.key is not None else None,
                withdrawn=False,
                created_at=now,
                updated_at=now,
            )
            for i, item in enumerate(items)
        ]

    async def _change(
        self,
        uow: UnitOfWork,
        entry: LogEntry,
        by: int,
        action: str,
        *,
        text: str | None = None,
        **fields: object,
    ) -> None:
        """Apply a change to an entry and record it in its history (who, when, before/after).

        A new text brings its own collaborator and overlong flag, and is quality-checked again.
        """
        now = self.clock.now()
        before = _snapshot(entry)
        if text is not None:
            entry.text = text
            entry.collaborator = self.policy.extractor.extract(text)
            entry.is_overlong = is_overlong(text, self.policy.rules.max_item_chars)
            entry.quality = None  # the nightly check (services.quality) looks at it again
            # A project found in the old text is looked for again; one named by /progress stays.
            if entry.project_id and not await uow.projects.is_progress_entry(entry.id):
                entry.project_id = None
            await self.link_projects(uow, entry.person_id, [entry])
        for name, value in fields.items():
            setattr(entry, name, value)
        entry.updated_at = now
        await uow.entries.add_history(entry, by, now, action, before, _snapshot(entry))

    async def apply_edit(
        self,
        person_id: int,
        text: str,
        source: EntrySource,
        attachment: str | None = None,
        confirm: Confirm[Recorded] | None = None,
    ) -> Recorded | None:
        """Bring the entries of an edited message in line with its new text (history kept).

        Returns None when nothing changed. A message that never produced entries (a photo sent
        without a caption) is recorded now, with its attachment.
        """
        assert source.key is not None, "only a message with a key can be edited"
        items = split_items(text)
        if not items:
            raise UsageError(zh.EMPTY_MESSAGE)
        async with self.uow() as uow:
            existing = list(await uow.entries.from_source(source.channel, source.key))
            if not existing:
                # First recorded now (a photo that had no caption): the window applies.
                sent_on = self.policy.work_date(source.sent_at)
                self._check_editable(sent_on)
                late = sent_on != self.today()
                return await self._record(
                    uow, person_id, items, source, attachment, late=late, confirm=confirm
                )
            if existing[0].person_id != person_id:
                raise NotAllowed(zh.STALE_BUTTON)
            work_date = existing[0].work_date
            self._check_editable(work_date)
            last_actions = await uow.entries.last_actions([e.id for e in existing if e.withdrawn])
            changed: list[LogEntry] = []
            for entry, item in zip(existing, items, strict=False):
                # A line that an earlier edit removed is back: its entry comes back too.
                restore = last_actions.get(entry.id) == EDIT_WITHDRAW
                if entry.text == item and not restore:
                    continue
                action, withdrawn = ("restore", False) if restore else ("edit", entry.withdrawn)
                await self._change(uow, entry, person_id, action, text=item, withdrawn=withdrawn)
                changed.append(entry)
            for entry in existing[len(items) :]:
                if not entry.withdrawn:
                    await self._change(uow, entry, person_id, EDIT_WITHDRAW, withdrawn=True)
                    changed.append(entry)
            if len(items) > len(existing):
                added = self.new_entries(
                    person_id,
                    work_date,
                    items[len(existing) :],
                    source,
                    late=existing[0].is_late,
                    first_part=max(e.source_part or 0 for e in existing) + 1,
                )
                await self.link_projects(uow, person_id, added)
                await uow.entries.insert_numbered(added)
                changed += added
            if not changed:
                return None
            projects = await uow.projects.names({e.project_id for e in changed if e.project_id})
            result = Recorded(work_date, _views(changed, projects), late=existing[0].is_late)
            return await commit(uow, confirm, result, self.clock.now())

    def _check_editable(self, work_date: date) -> None:
        if not self.policy.editable(work_date, self.today()):
            window = self.policy.rules.backfill_window
            raise NotAllowed(zh.OUT_OF_WINDOW.format(date=zh.md(work_date), window=window))

    async def _own_entry(self, uow: UnitOfWork, person_id: int, entry_id: int) -> LogEntry:
        entry = await uow.entries.get(entry_id)
        if entry is None or entry.person_id != person_id:
            raise NotFound(zh.STALE_BUTTON)
        self._check_editable(entry.work_date)
        return entry

    async def _today_entry(
        self, uow: UnitOfWork, person_id: int, number: int, *, live: bool = False
    ) -> LogEntry:
        entry = await uow.entries.by_number(person_id, self.today(), number)
        if entry is None:
            raise NotFound(zh.NO_SUCH_ENTRY.format(n=number))
        if live and entry.withdrawn:
            raise NotAllowed(zh.ENTRY_IS_WITHDRAWN.format(n=number))
        return entry

    async def _finish(
        self,
        uow: UnitOfWork,
        entry: LogEntry,
        changed: bool,
        confirm: Confirm[EntryChange] | None = None,
    ) -> EntryChange:
        """Describe the entry with its message's siblings; commit if something changed."""
        siblings: Sequence[LogEntry] = [entry]
        if entry.source_key is not None:
            # The changed entry is this very object (identity map), its change included.
            siblings = await uow.entries.from_source(entry.channel, entry.source_key)
        projects = await uow.projects.names({e.project_id for e in siblings if e.project_id})
        result = EntryChange(EntryView.of(entry, projects), changed, _views(siblings, projects))
        # Committed even without a change: the answer is queued with the update, once.
        return (
            await commit(uow, confirm, result, self.clock.now()) if changed or confirm else result
        )

    async def withdraw(self, person_id: int, entry_id: int) -> EntryChange:
        """Withdraw an entry by id (a button); `changed` is False when it was withdrawn before."""
        async with self.uow() as uow:
            entry = await self._own_entry(uow, person_id, entry_id)
            return await self._withdraw(uow, entry, person_id)

    async def withdraw_today(
        self, person_id: int, number: int, confirm: Confirm[EntryChange] | None = None
    ) -> EntryChange:
        """Withdraw today's entry `number` (/del n)."""
        async with self.uow() as uow:
            entry = await self._today_entry(uow, person_id, number)
            return await self._withdraw(uow, entry, person_id, confirm)

    async def _withdraw(
        self,
        uow: UnitOfWork,
        entry: LogEntry,
        person_id: int,
        confirm: Confirm[EntryChange] | None = None,
    ) -> EntryChange:
        if entry.withdrawn:
            return await self._finish(uow, entry, changed=False, confirm=confirm)
        await self._change(uow, entry, person_id, "withdraw", withdrawn=True)
        return await self._finish(uow, entry, changed=True, confirm=confirm)

    async def change_kind(self, person_id: int, entry_id: int, kind: EntryKind) -> EntryChange:
        """Set an entry's kind (日常工作/其他工作/八小时外) from a button."""
        async with self.uow() as uow:
            entry = await self._own_entry(uow, person_id, entry_id)
            if entry.withdrawn:
                raise NotAllowed(zh.ENTRY_IS_WITHDRAWN.format(n=entry.item_no))
            changed = entry.kind != kind.value
            if changed:
                await self._change(uow, entry, person_id, "kind", kind=kind.value)
            return await self._finish(uow, entry, changed)

    async def edit_today(
        self, person_id: int, number: int, text: str, confirm: Confirm[EntryChange] | None = None
    ) -> EntryChange:
        """Replace the text of today's entry `number` (/edit n text)."""
        text = _one_line(text)
        if not has_content(text):
            raise UsageError(zh.EDIT_USAGE)
        return await self._change_today(person_id, number, "edit", confirm, text=text)

    async def set_collaborator(
        self,
        person_id: int,
        number: int,
        name: str | None,
        confirm: Confirm[EntryChange] | None = None,
    ) -> EntryChange:
        """Correct the 合作者或服务对象 of today's entry `number`; None clears it."""
        if name is not None:
            name = _one_line(name)
            if not has_content(name) or len(name) > COLLABORATOR_LIMIT:
                raise UsageError(zh.WITH_USAGE)
        return await self._change_today(
            person_id, number, "collaborator", confirm, collaborator=name
        )

    async def _change_today(
        self,
        person_id: int,
        number: int,
        action: str,
        confirm: Confirm[EntryChange] | None,
        **fields: str | None,
    ) -> EntryChange:
        async with self.uow() as uow:
            entry = await self._today_entry(uow, person_id, number, live=True)
            changed = any(getattr(entry, name) != value for name, value in fields.items())
            if changed:
                await self._change(uow, entry, person_id, action, **fields)
            return await self._finish(uow, entry, changed, confirm)

    async def detail(self, person_id: int, entry_id: int) -> EntryDetail:
        """One's own entry with its history; someone else's entry is no such entry."""
        async with self.uow() as uow:
            entry = await uow.entries.get(entry_id)
            if entry is None or entry.person_id != person_id:
                raise NotFound(zh.STALE_BUTTON)
            rows = await uow.entries.history(entry.id)
            projects = await uow.projects.names({entry.project_id} if entry.project_id else set())
            view = EntryView.of(entry, projects)
        history = tuple(
            HistoryLine(row.changed_at, row.action, json.loads(row.before), json.loads(row.after))
            for row in rows
        )
        editable = not view.withdrawn and self.policy.editable(view.work_date, self.today())
        return EntryDetail(view, editable, history)

    async def edit(
        self,
        person_id: int,
        entry_id: int,
        text: str,
        kind: EntryKind,
        collaborator: str,
        shown_collaborator: str,
    ) -> EntryChange:
        """Change an entry's text, kind and collaborator at once (the web page's edit form),
        each change in the history. A new text finds its own collaborator; the form's value
        wins only when the cadre changed it from the one shown (`shown_collaborator`)."""
        text = _one_line(text)
        if not has_content(text):
            raise UsageError(zh.WEB_EDIT_EMPTY)
        if len(text) > COMMAND_TEXT_LIMIT:
            raise UsageError(zh.TOO_LONG_COMMAND.format(limit=COMMAND_TEXT_LIMIT))
        wanted = _one_line(collaborator) or None
        if wanted is not None and len(wanted) > COLLABORATOR_LIMIT:
            raise UsageError(zh.WEB_COLLABORATOR_TOO_LONG.format(limit=COLLABORATOR_LIMIT))
        async with self.uow() as uow:
            entry = await self._own_entry(uow, person_id, entry_id)
            if entry.withdrawn:
                raise NotAllowed(zh.ENTRY_IS_WITHDRAWN.format(n=entry.item_no))
            changed = False
            if entry.text != text:
                await self._change(uow, entry, person_id, "edit", text=text)
                changed = True
            if entry.kind != kind.value:
                await self._change(uow, entry, person_id, "kind", kind=kind.value)
                changed = True
            touched = wanted != (_one_line(shown_collaborator) or None)
            if touched and entry.collaborator != wanted:
                await self._change(uow, entry, person_id, "collaborator", collaborator=wanted)
                changed = True
            return await self._finish(uow, entry, changed)

    def backfill_days(self) -> list[date]:
        """The past days a late entry (补记) may still be written for, latest first."""
        today = self.today()
        window = self.policy.rules.backfill_window
        days = []
        day = today
        # The window counts working days; rest days between them may be written for too.
        while len(days) < 3 * window + 7:
            day -= timedelta(days=1)
            if not backfill_allowed(day, today, window, self.policy.calendar):
                break
            days.append(day)
        return days

    def resolve_past_date(self, text: str) -> date:
        """Parse a date the cadre typed, refusing future dates with a clear reply."""
        today = self.today()
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
            raise NotAllowed(zh.FUTURE_DATE.format(date=zh.md(day)))
        return day

    async def backfill(
        self,
        person_id: int,
        date_text: str,
        text: str,
        source: EntrySource,
        confirm: Confirm[Recorded] | None = None,
    ) -> Recorded:
        """Entries for a past day inside the window, marked 补记."""
        today = self.today()
        day = self.resolve_past_date(date_text)
        window = self.policy.rules.backfill_window
        if day == today:
            raise UsageError(zh.BACKFILL_TODAY)
        if not backfill_allowed(day, today, window, self.policy.calendar):
            raise NotAllowed(zh.BACKFILL_TOO_OLD.format(window=window, date=zh.md(day)))
        items = split_items(text)
        if not items:
            raise UsageError(zh.BACKFILL_USAGE)
        async with self.uow() as uow:
            return await self._record(
                uow, person_id, items, source, None, work_date=day, late=True, confirm=confirm
            )

    async def reflect(
        self, person_id: int, text: str, confirm: Confirm[tuple[date, bool]] | None = None
    ) -> tuple[date, bool]:
        """Save today's 心得体会; True when an earlier text was replaced (kept in the audit log)."""
        text = clean_text(text).strip()
        if not has_content(text):
            raise UsageError(zh.REFLECT_USAGE)
        if len(text) > COMMAND_TEXT_LIMIT:
            raise UsageError(zh.TOO_LONG_COMMAND.format(limit=COMMAND_TEXT_LIMIT))
        day = self.today()
        async with self.uow() as uow:
            replaced = await self._save_reflection(uow, person_id, day, text)
            return await commit(uow, confirm, (day, replaced), self.clock.now())

    async def _save_reflection(self, uow: UnitOfWork, person_id: int, day: date, text: str) -> bool:
        """Store a day's 心得体会; True when it replaced another text (kept in the audit log)."""
        now = self.clock.now()
        current = await uow.entries.reflection(person_id, day)
        if current is None:
            await uow.entries.add_reflection(
                Reflection(
                    person_id=person_id, work_date=day, text=text, created_at=now, updated_at=now
                )
            )
            return False
        if current.text == text:
            return False
        await uow.audit.record(
            now,
            "reflection_replaced",
            actor_person_id=person_id,
            subject_person_id=person_id,
            detail={"work_date": day.isoformat(), "before": current.text, "after": text},
        )
        current.text = text
        current.updated_at = now
        return True

    async def record_items(
        self,
        person_id: int,
        work_date: date,
        items: Sequence[FormRow],
        source: EntrySource,
        reflection: str = "",
    ) -> Recorded:
        """Entries typed one per row (the web form), each with its kind, collaborator and
        project, for today or a day inside the backfill window, and the day's 心得体会; all
        or nothing. A project must be one of the cadre's own."""
        today = self.today()
        if work_date > today:
            raise NotAllowed(zh.FUTURE_DATE.format(date=zh.md(work_date)))
        if work_date != today and not backfill_allowed(
            work_date, today, self.policy.rules.backfill_window, self.policy.calendar
        ):
            window = self.policy.rules.backfill_window
            raise NotAllowed(zh.BACKFILL_TOO_OLD.format(window=window, date=zh.md(work_date)))
        rows = [
            FormRow(_one_line(row.text), row.kind, _one_line(row.collaborator), row.project_id)
            for row in items
        ]
        rows = [row for row in rows if has_content(row.text)]
        reflection = clean_text(reflection).strip()
        if not rows and not has_content(reflection):
            raise UsageError(zh.EMPTY_MESSAGE)
        if len(rows) > FORM_ROWS_LIMIT:
            raise UsageError(zh.TOO_MANY_ROWS.format(limit=FORM_ROWS_LIMIT))
        if (
            any(len(row.text) > COMMAND_TEXT_LIMIT for row in rows)
            or len(reflection) > COMMAND_TEXT_LIMIT
        ):
            raise UsageError(zh.TOO_LONG_COMMAND.format(limit=COMMAND_TEXT_LIMIT))
        if any(len(row.collaborator) > COLLABORATOR_LIMIT for row in rows):
            raise UsageError(zh.WEB_COLLABORATOR_TOO_LONG.format(limit=COLLABORATOR_LIMIT))
        late = work_date != today
        chosen = {row.project_id for row in rows if row.project_id is not None}
        async with self.uow() as uow:
            if chosen - await uow.projects.involving_ids(person_id, chosen):
                raise NotAllowed(zh.WEB_PROJECT_NOT_YOURS)
            entries = self.new_entries(
                person_id, work_date, [row.text for row in rows], source, late=late
            )
            for entry, row in zip(entries, rows, strict=True):
                entry.kind = row.kind.value
                entry.project_id = row.project_id
                if row.collaborator:
                    entry.collaborator = row.collaborator
            await self.link_projects(uow, person_id, entries)
            projects = await uow.projects.names({e.project_id for e in entries if e.project_id})
            if entries and not await uow.entries.insert_numbered(entries):
                assert source.key is not None
                existing = await uow.entries.from_source(source.channel, source.key)
                return Recorded(work_date, _views(existing), late=late, replayed=True)
            if has_content(reflection):
                await self._save_reflection(uow, person_id, work_date, reflection)
            await uow.commit()
        return Recorded(work_date, _views(entries, projects), late=late)

    async def suggest_collaborators(self, text: str, limit: int = 10) -> list[tuple[str, str]]:
        """Units and people from the roster matching what was typed: (value, unit) pairs."""
        text = _one_line(text)[:COLLABORATOR_LIMIT]
        if not has_content(text):
            return []
        async with self.uow() as uow:
            return await uow.people.suggest(text, limit)

    def is_date(self, text: str) -> bool:
        """Whether a word of a command is a date (so /leave can tell an end date from a reason)."""
        return parse_date(text, self.today()) is not None

    async def add_absence(
        self,
        person_id: int,
        start_text: str,
        end_text: str | None,
        reason: str,
        confirm: Confirm[AbsenceView] | None = None,
    ) -> AbsenceView:
        """Register excused days (leave, trip, training, meeting); a repeat is not stored twice."""
        today = self.today()
        reason = _one_line(reason)
        if not has_content(reason):
            raise UsageError(zh.LEAVE_NO_REASON)
        if len(reason) > COMMAND_TEXT_LIMIT:
            raise UsageError(zh.TOO_LONG_COMMAND.format(limit=COMMAND_TEXT_LIMIT))
        start = _leave_date(start_text, today)
        end = _leave_date(end_text, today) if end_text else start
        if end < start:
            raise UsageError(zh.LEAVE_BAD_RANGE.format(start=zh.md(start), end=zh.md(end)))
        if (end - start).days + 1 > LEAVE_MAX_DAYS:
            raise UsageError(zh.LEAVE_TOO_LONG.format(days=LEAVE_MAX_DAYS))
        if start < today - timedelta(days=LEAVE_PAST_DAYS):
            raise NotAllowed(zh.LEAVE_TOO_OLD.format(days=LEAVE_PAST_DAYS))
        if end > today + timedelta(days=LEAVE_FUTURE_DAYS):
            raise NotAllowed(zh.LEAVE_TOO_FAR.format(days=LEAVE_FUTURE_DAYS))
        kind = absence_kind(reason)
        view = AbsenceView(start, end, reason, kind)
        async with self.uow() as uow:
            for absence in await uow.entries.absences(person_id, start, end):
                if (absence.start_date, absence.end_date, absence.reason) == (start, end, reason):
                    return await commit(uow, confirm, AbsenceView.of(absence), self.clock.now())
            await uow.entries.add_absence(
                Absence(
                    person_id=person_id,
                    start_date=start,
                    end_date=end,
                    reason=reason,
                    kind=kind,
                    created_at=self.clock.now(),
                    withdrawn=False,
                )
            )
            return await commit(uow, confirm, view, self.clock.now())

    # -- reading -----------------------------------------------------------------------------

    async def day(self, person_id: int) -> DayView:
        """Today's entries and reflection."""
        today = self.today()
        async with self.uow() as uow:
            entries = await uow.entries.for_range(person_id, today, today)
            reflection = await uow.entries.reflection(person_id, today)
            projects = await uow.projects.names({e.project_id for e in entries if e.project_id})
        text = None if reflection is None else reflection.text
        return DayView(today, _views(entries, projects), text)

    async def period(self, person_id: int, kind: str) -> PeriodView:
        """The cadre's entries over the current week or month, with completeness up to today."""
        today = self.today()
        period = Period.containing(kind, today)
        async with self.uow() as uow:
            entries = await uow.entries.for_range(person_id, period.start, period.end)
            absences = await uow.entries.absences(person_id, period.start, period.end)
        logged = {e.work_date for e in entries if not e.withdrawn}
        return PeriodView(
            period,
            _views(entries),
            tuple(AbsenceView.of(a) for a in absences),
            self._completeness(period, logged, absences, today),
        )

    def _completeness(
        self, period: Period, logged: set[date], absences: Sequence[Absence], today: date
    ) -> Completeness:
        return self.policy.completeness(period, logged, absences, today)

    async def activity_of(self, scope: PeopleScope, period: Period) -> dict[int, Activity]:
        """Completeness and entry counts of everyone in `scope` over `period`."""
        async with self.uow() as uow:
            return await activity_in(uow, self.policy, scope, period, self.today())


async def activity_in(
    uow: UnitOfWork,
    policy: LogPolicy,
    scope: PeopleScope,
    period: Period,
    today: date,
    people: Sequence[int] | None = None,
) -> dict[int, Activity]:
    """Completeness and entry counts of everyone in `scope` over `period`, inside `uow`.

    Three queries whatever the scope's size (a team, a unit, the city), two when the caller
    has the scope's people already (`people`); people without entries or absences get
    their row too.
    """
    if people is None:
        people = await uow.people.ids_in(scope)
    logged = await uow.entries.activity(scope, period.start, period.end)
    absences = await uow.entries.excused_spans(scope, period.start, period.end)
    due = policy.due_days(period, today)
    nothing: tuple[set[date], EntryCounts] = (set(), NO_ENTRIES)
    activity = {}
    for pid in people:
        days, counts = logged.get(pid, nothing)
        spans = absences.get(pid, [])
        activity[pid] = Activity(policy.completeness(period, days, spans, today, due), counts)
    return activity


def _one_line(text: str) -> str:
    """A command argument as stored: cleaned of invisible characters, spaces collapsed."""
    return " ".join(clean_text(text).split())


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
