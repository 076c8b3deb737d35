"""Scheduled jobs' use cases: the daily reminder and nudge, the weekly digest, housekeeping.

Each run plans its messages into the outbox under keys made of the job, the period and the
person, in one transaction: running a job again for the same period (a restart, an operator's
`worklog jobs run`) adds nothing twice, and the sender delivers what is planned at its pace.
A reminder carries the day it is about: if the cadre logs or is excused before it goes out,
the sender skips it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from scoring.dates import Period
from services import zh
from services.clock import Clock
from services.entries import Activity, LogPolicy, activity_in
from services.errors import NotAllowed, UsageError
from services.policy import SchedulerRules
from services.sheets import CompletenessRow, completeness_workbook
from storage.repositories import PeopleScope, PersonCard
from storage.uow import UnitOfWork, UowFactory

# The reminder's buttons: excuse the day (as leave or a trip) or ask again later.
EXCUSE, LATER = "x", "l"
DIGEST_LINES = 20
SETTINGS_TIME = re.compile(r"^\s*(\d{1,2})\s*[:：点]\s*(\d{2})?\s*(?:分)?\s*$")


@dataclass(frozen=True)
class JobOutcome:
    """What one run of a job did: how many messages it planned, or why it did nothing."""

    job: str
    run_key: str
    messages: int
    note: str = ""


@dataclass(frozen=True)
class ReminderSettings:
    remind_at: time
    own_time: bool
    second_nudge: bool  # the cadre gets the second nudge
    nudge_enabled: bool  # the organisation sends a second nudge at all
    nudge_at: time
    window: tuple[time, time]


def reminder_buttons(day: date) -> list[list[tuple[str, str]]]:
    stamp = day.isoformat()
    return [
        [
            (zh.BUTTON_EXCUSE_LEAVE, f"rm:{EXCUSE}:leave:{stamp}"),
            (zh.BUTTON_EXCUSE_TRIP, f"rm:{EXCUSE}:trip:{stamp}"),
        ],
        [(zh.BUTTON_LATER, f"rm:{LATER}:{stamp}")],
    ]


class ReminderService:
    """The reminders and digests the scheduler sends, and each cadre's reminder settings."""

    def __init__(
        self, uow: UowFactory, clock: Clock, policy: LogPolicy, rules: SchedulerRules
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy
        self.rules = rules

    def today(self) -> date:
        return self.policy.work_date(self.clock.now())

    def _local_time(self) -> time:
        return self.clock.now().astimezone(self.policy.rules.tz).time().replace(tzinfo=None)

    # -- the daily reminder and the second nudge ----------------------------------------------

    async def daily_reminder(self, day: date | None = None) -> JobOutcome:
        """Remind everyone whose reminder time has come and who has nothing for `day` yet.

        Runs every few minutes through the reminder window, so each cadre is reminded at their
        own time; a run for a past day (an operator catching up) reminds everyone due.
        """
        today = self.today()
        day = day or today
        if not self.policy.calendar.is_working_day(day):
            return JobOutcome("daily-reminder", day.isoformat(), 0, zh.JOB_NOTE_NOT_WORKING_DAY)
        due_by = self._local_time() if day == today else time.max
        text = zh.DAILY_REMINDER.format(date=zh.md(day), weekday=zh.WEEKDAYS[day.weekday()])
        async with self.uow() as uow:
            people = await uow.people.to_remind(
                day,
                f"daily:{day.isoformat()}:",
                due_by,
                self.rules.daily_reminder,
                (self.rules.reminder_window_start, self.rules.reminder_window_end),
            )
            await self._remind(uow, "daily", day, people, text)
        return JobOutcome("daily-reminder", day.isoformat(), len(people))

    async def daily_nudge(self, day: date | None = None) -> JobOutcome:
        """The second nudge: to those reminded today who still have nothing and did not mute it."""
        day = day or self.today()
        if not self.rules.second_nudge or not self.policy.calendar.is_working_day(day):
            return JobOutcome("daily-nudge", day.isoformat(), 0, zh.JOB_NOTE_NUDGE_OFF)
        text = zh.DAILY_NUDGE.format(date=zh.md(day))
        async with self.uow() as uow:
            people = await uow.people.to_nudge(
                day, f"daily:{day.isoformat()}:", f"daily-nudge:{day.isoformat()}:"
            )
            await self._remind(uow, "daily-nudge", day, people, text)
        return JobOutcome("daily-nudge", day.isoformat(), len(people))

    async def _remind(
        self, uow: UnitOfWork, kind: str, day: date, people: list[int], text: str
    ) -> None:
        """Queue one reminder about `day` per person, keyed kind:day:person, and commit."""
        await uow.outbox.add_to_people(
            [(f"{kind}:{day.isoformat()}:{pid}", pid, text) for pid in people],
            kind,
            self.clock.now(),
            buttons=reminder_buttons(day),
            reminds_of=day,
        )
        await uow.commit()

    async def snooze(self, person_id: int, day: date) -> int:
        """稍后提醒: remind this cadre again about `day` later; returns the minutes."""
        now = self.clock.now()
        if day != self.today():
            raise NotAllowed(zh.REMINDER_DAY_PASSED)
        async with self.uow() as uow:
            if person_id in await uow.entries.done_for([person_id], day):
                raise NotAllowed(zh.ALREADY_LOGGED.format(date=zh.md(day)))
            await uow.outbox.add(
                f"daily-later:{day.isoformat()}:{person_id}:{now:%H%M}",
                "daily-later",
                zh.DAILY_NUDGE.format(date=zh.md(day)),
                now,
                person_id=person_id,
                buttons=reminder_buttons(day),
                reminds_of=day,
                not_before=now + timedelta(minutes=self.rules.snooze_minutes),
            )
            await uow.commit()
        return self.rules.snooze_minutes

    # -- the weekly digest --------------------------------------------------------------------

    async def weekly_digest(self, week: Period | None = None) -> JobOutcome:
        """Each supervisor gets last week's completeness of their team, laggards first."""
        week = week or Period.week_of(self.today()).previous()
        today = self.today()
        async with self.uow() as uow:
            scope = PeopleScope(active_only=True)
            cards = await uow.people.cards_in(scope)
            ids = [card.id for card in cards]
            activity = await activity_in(uow, self.policy, scope, week, today, ids)
            blocked = await uow.people.blocked_ids()
            reachable = await uow.people.reachable_ids()
            names = {card.id: card.name for card in cards}
            messages = []
            for supervisor, team in _teams(cards).items():
                if supervisor not in reachable:  # left the roster, never bound, or blocked us
                    continue
                text = self._digest_text(week, [c.id for c in team], names, activity, blocked)
                messages.append((f"weekly:{week.label}:{supervisor}", supervisor, text))
            await uow.outbox.add_to_people(messages, "weekly", self.clock.now())
            await uow.commit()
        return JobOutcome("weekly-digest", week.label, len(messages))

    @staticmethod
    def _digest_text(
        week: Period,
        team: list[int],
        names: dict[int, str],
        activity: dict[int, Activity],
        blocked: set[int],
    ) -> str:
        def rate_key(pid: int) -> tuple[float, str]:
            rate = activity[pid].completeness.rate
            return (2.0 if rate is None else rate, names[pid])

        ordered = sorted(team, key=rate_key)
        lines = [
            zh.WEEKLY_DIGEST_HEAD.format(
                start=zh.md(week.start), end=zh.md(week.end), count=len(ordered)
            )
        ]
        for pid in ordered[:DIGEST_LINES]:
            c = activity[pid].completeness
            rate = "—" if c.rate is None else f"{c.rate:.0%}"
            lines.append(
                zh.WEEKLY_DIGEST_LINE.format(
                    name=names[pid], logged=c.logged, expected=c.expected, rate=rate
                )
            )
        if len(ordered) > DIGEST_LINES:
            lines.append(zh.WEEKLY_DIGEST_MORE.format(count=len(ordered) - DIGEST_LINES))
        unreachable = [names[pid] for pid in ordered if pid in blocked]
        if unreachable:
            lines.append(zh.WEEKLY_DIGEST_BLOCKED.format(names="、".join(unreachable)))
        lines.append(zh.WEEKLY_DIGEST_FOOT)
        return "\n".join(lines)

    # -- the quarterly review (季查阅) -----------------------------------------------------------

    def last_working_day(self, period: Period) -> date:
        day = period.end
        while day > period.start and not self.policy.calendar.is_working_day(day):
            day -= timedelta(days=1)
        return day

    async def quarterly_review(self, quarter: Period | None = None) -> JobOutcome:
        """On the quarter's last working day, each supervisor hears whom they have not read.

        "Read" means a /review (调阅) of that report during the quarter, from the audit trail.
        """
        today = self.today()
        if quarter is None:
            quarter = Period.containing("quarter", today)
            if today != self.last_working_day(quarter):
                return JobOutcome("quarterly-review", quarter.label, 0, zh.JOB_NOTE_NOT_YET)
        tz = self.policy.rules.tz
        since = datetime.combine(quarter.start, time(), tz)
        until = datetime.combine(quarter.end + timedelta(days=1), time(), tz)
        async with self.uow() as uow:
            cards = await uow.people.cards_in(PeopleScope(active_only=True))
            reachable = await uow.people.reachable_ids()
            read = await uow.audit.reviewed_pairs(since, until)
            messages = []
            for supervisor, team in _teams(cards).items():
                if supervisor not in reachable:
                    continue
                unread = [
                    c.name
                    for c in sorted(team, key=lambda c: c.id)
                    if (supervisor, c.id) not in read
                ]
                if unread:
                    text = zh.QUARTERLY_REVIEW.format(
                        quarter=quarter.label, count=len(unread), names="、".join(unread[:30])
                    )
                else:
                    text = zh.QUARTERLY_REVIEW_DONE.format(quarter=quarter.label)
                messages.append(
                    (f"quarterly-review:{quarter.label}:{supervisor}", supervisor, text)
                )
            await uow.outbox.add_to_people(messages, "quarterly-review", self.clock.now())
            await uow.commit()
        return JobOutcome("quarterly-review", quarter.label, len(messages))

    # -- the monthly summary and the quarterly 5+2 form ----------------------------------------

    async def _notify_all_but(
        self,
        job: str,
        period: Period,
        done: set[int],
        text: str,
        buttons: list[list[tuple[str, str]]] | None = None,
    ) -> JobOutcome:
        """One notice to every reachable cadre not in `done`, keyed by job, period and person."""
        async with self.uow() as uow:
            people = sorted(await uow.people.reachable_ids() - done)
            await uow.outbox.add_to_people(
                [(f"{job}:{period.label}:{pid}", pid, text) for pid in people],
                job,
                self.clock.now(),
                buttons=buttons,
            )
            await uow.commit()
        return JobOutcome(job, period.label, len(people))

    async def monthly_summary(self, month: Period | None = None) -> JobOutcome:
        """On the month's last working day: write your 月小结 (the draft is built on opening)."""
        today = self.today()
        if month is None:
            month = Period.containing("month", today)
            if today != self.last_working_day(month):
                return JobOutcome("monthly-summary", month.label, 0, zh.JOB_NOTE_NOT_YET)
        async with self.uow() as uow:
            done = await uow.forms.confirmed_summaries(month.label)
        label = f"{month.start.year}年{month.start.month}月"
        return await self._notify_all_but(
            "monthly-summary",
            month,
            done,
            zh.MONTHLY_NOTICE.format(month=label),
            [[(zh.BUTTON_OPEN_SUMMARY, f"sm:{month.label}:go")]],
        )

    async def quarterly_fivetwo(self, quarter: Period | None = None) -> JobOutcome:
        """On the quarter's last working day: fill in the 5+2 实绩登记表 and the 自评."""
        today = self.today()
        if quarter is None:
            quarter = Period.containing("quarter", today)
            if today != self.last_working_day(quarter):
                return JobOutcome("quarterly-fivetwo", quarter.label, 0, zh.JOB_NOTE_NOT_YET)
        async with self.uow() as uow:
            done = await uow.forms.submitted_fivetwo(quarter.label)
        deadline = quarter.end + timedelta(days=self.rules.fivetwo_deadline_days)
        text = zh.FIVETWO_NOTICE.format(quarter=quarter.label, deadline=zh.md(deadline))
        return await self._notify_all_but("quarterly-fivetwo", quarter, done, text)

    async def rating_reminder(self, quarter: Period | None = None) -> JobOutcome:
        """On the quarter's last working day, raters (评定) are reminded that rating is due."""
        today = self.today()
        if quarter is None:
            quarter = Period.containing("quarter", today)
            if today != self.last_working_day(quarter):
                return JobOutcome("rating-reminder", quarter.label, 0, zh.JOB_NOTE_NOT_YET)
        text = zh.RATING_REMINDER.format(quarter=quarter.label)
        async with self.uow() as uow:
            raters = await uow.people.with_role_reachable("rater")
            await uow.outbox.add_to_people(
                [(f"rating-reminder:{quarter.label}:{pid}", pid, text) for pid in raters],
                "rating-reminder",
                self.clock.now(),
            )
            await uow.commit()
        return JobOutcome("rating-reminder", quarter.label, len(raters))

    async def fivetwo_deadline(self, quarter: Period | None = None) -> JobOutcome:
        """The day after the 5+2 deadline: the late cadre is reminded, their supervisor told."""
        today = self.today()
        if quarter is None:
            quarter = Period.containing("quarter", today).previous()
            deadline = quarter.end + timedelta(days=self.rules.fivetwo_deadline_days)
            if today != deadline + timedelta(days=1):
                return JobOutcome("fivetwo-deadline", quarter.label, 0, zh.JOB_NOTE_NOT_YET)
        async with self.uow() as uow:
            done = await uow.forms.submitted_fivetwo(quarter.label)
            cards = await uow.people.cards_in(PeopleScope(active_only=True))
            reachable = await uow.people.reachable_ids()
            late = [c for c in cards if c.id not in done]
            messages = [
                (
                    f"fivetwo-late:{quarter.label}:{c.id}",
                    c.id,
                    zh.FIVETWO_LATE.format(quarter=quarter.label),
                )
                for c in late
                if c.id in reachable
            ]
            messages += [
                (
                    f"fivetwo-late-team:{quarter.label}:{sup}",
                    sup,
                    zh.FIVETWO_LATE_TEAM.format(
                        quarter=quarter.label,
                        count=len(team),
                        names="、".join(c.name for c in team[:30]),
                    ),
                )
                for sup, team in _teams(late).items()
                if sup in reachable
            ]
            await uow.outbox.add_to_people(messages, "fivetwo-late", self.clock.now())
            await uow.commit()
        return JobOutcome("fivetwo-deadline", quarter.label, len(messages))

    async def year_end(self, year: Period | None = None) -> JobOutcome:
        """On the year's last working day: the annual evaluation (年终考评) is coming."""
        today = self.today()
        if year is None:
            year = Period.containing("year", today)
            if today != self.last_working_day(year):
                return JobOutcome("year-end", year.label, 0, zh.JOB_NOTE_NOT_YET)
        text = zh.YEAR_END_NOTICE.format(year=year.start.year)
        return await self._notify_all_but("year-end", year, set(), text)

    async def half_year(self, half: Period | None = None) -> JobOutcome:
        """半年公示: on the first working day after a half year, each unit's admins get an XLSX
        of the completeness of every cadre in their unit and the units below it."""
        today = self.today()
        if half is None:
            half = Period.containing("half", today).previous()
            first = half.end + timedelta(days=1)
            while not self.policy.calendar.is_working_day(first):
                first += timedelta(days=1)
            if today != first:
                return JobOutcome("half-year", half.label, 0, zh.JOB_NOTE_NOT_YET)
        label = _half_label(half)
        async with self.uow() as uow:
            admins = await uow.people.with_role_reachable("admin")
            if not admins:
                return JobOutcome("half-year", half.label, 0)
            scope = PeopleScope(active_only=True)
            cards = await uow.people.cards_in(scope)
            ids = [card.id for card in cards]
            activity = await activity_in(uow, self.policy, scope, half, today, ids)
            sent = 0
            for admin in admins:
                viewer = await uow.people.get(admin)
                assert viewer is not None
                reach = set(await uow.people.unit_subtree(viewer.unit_id))
                rows = [
                    _completeness_row(card, activity[card.id])
                    for card in cards
                    if card.unit_id in reach
                ]
                book = completeness_workbook(zh.HALF_YEAR_TITLE.format(label=label), rows)
                caption = zh.HALF_YEAR_CAPTION.format(
                    label=label, units=len({r.unit for r in rows}), people=len(rows)
                )
                await uow.outbox.add(
                    f"half-year:{half.label}:{admin}",
                    "half-year",
                    caption,
                    self.clock.now(),
                    person_id=admin,
                    document=(f"{half.label}_日志完成情况.xlsx", book),
                )
                sent += 1
            await uow.commit()
        return JobOutcome("half-year", half.label, sent)

    # -- housekeeping -------------------------------------------------------------------------

    async def housekeeping(self) -> JobOutcome:
        """Purge processed inbox payloads older than the retention (the rows stay as evidence)."""
        now = self.clock.now()
        cutoff = now - timedelta(days=self.rules.inbox_retention_days)
        today = self.today()
        # In December the coming year matters too: its schedule is published around then.
        years = [today.year, today.year + 1] if today.month == 12 else [today.year]
        missing = [y for y in years if not self.policy.calendar_published(y)]
        async with self.uow() as uow:
            purged = await uow.inbox.purge_payloads(cutoff)
            admins = await uow.people.with_role_reachable("admin") if missing else []
            await uow.outbox.add_to_people(
                [
                    (f"calendar-missing:{y}:{pid}", pid, zh.CALENDAR_MISSING.format(year=y))
                    for y in missing
                    for pid in admins
                ],
                "calendar-missing",
                now,
            )
            await uow.commit()
        note = zh.JOB_NOTE_PURGED.format(count=purged)
        return JobOutcome("housekeeping", today.isoformat(), len(admins) * len(missing), note)

    # -- /settings ------------------------------------------------------------------------------

    async def settings(self, person_id: int) -> ReminderSettings:
        async with self.uow() as uow:
            person = await uow.people.get(person_id)
            assert person is not None
            return self._settings(person.remind_at, person.second_nudge_muted)

    def _settings(self, remind_at: time | None, muted: bool) -> ReminderSettings:
        return ReminderSettings(
            remind_at or self.rules.daily_reminder,
            remind_at is not None,
            not muted,
            self.rules.second_nudge,
            self.rules.second_nudge_at,
            (self.rules.reminder_window_start, self.rules.reminder_window_end),
        )

    def parse_time(self, text: str) -> time:
        """A reminder time the cadre typed (18:00, 18点, 18点30), inside the allowed window."""
        match = SETTINGS_TIME.match(text)
        start, end = self.rules.reminder_window_start, self.rules.reminder_window_end
        bad = UsageError(zh.SETTINGS_BAD_TIME.format(start=f"{start:%H:%M}", end=f"{end:%H:%M}"))
        if match is None:
            raise bad
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if hour > 23 or minute > 59 or not start <= time(hour, minute) <= end:
            raise bad
        return time(hour, minute)

    async def set_time(self, person_id: int, remind_at: time | None) -> ReminderSettings:
        """The cadre's own reminder time inside the window; None goes back to the default."""
        start, end = self.rules.reminder_window_start, self.rules.reminder_window_end
        if remind_at is not None and not start <= remind_at <= end:
            raise UsageError(
                zh.SETTINGS_BAD_TIME.format(start=f"{start:%H:%M}", end=f"{end:%H:%M}")
            )
        return await self._change(person_id, remind_at=remind_at)

    async def set_second_nudge(self, person_id: int, wanted: bool) -> ReminderSettings:
        return await self._change(person_id, second_nudge_muted=not wanted)

    async def _change(self, person_id: int, **values: object) -> ReminderSettings:
        async with self.uow() as uow:
            person = await uow.people.get(person_id)
            assert person is not None
            for name, value in values.items():
                setattr(person, name, value)
            person.updated_at = self.clock.now()
            result = self._settings(person.remind_at, person.second_nudge_muted)
            await uow.commit()
        return result

    def choices(self) -> list[time]:
        """Reminder times offered as buttons: every half hour of the window, at most eight."""
        start, end = self.rules.reminder_window_start, self.rules.reminder_window_end
        times = []
        moment = datetime.combine(date.min, start)
        while moment.time() <= end and moment.date() == date.min:
            times.append(moment.time())
            moment += timedelta(minutes=30)
        step = max(1, -(-len(times) // 8))
        return times[::step]


def _half_label(half: Period) -> str:
    return f"{half.start.year}年{'上' if half.start.month == 1 else '下'}半年"


def _completeness_row(card: PersonCard, activity: Activity) -> CompletenessRow:
    c = activity.completeness
    return CompletenessRow(
        card.unit_name,
        card.roster_id,
        card.name,
        card.position,
        c.expected,
        c.logged,
        c.excused,
        c.rate,
    )


def _teams(cards: list[PersonCard]) -> dict[int, list[PersonCard]]:
    """The people of `cards` by their supervisor (下管一级), in the order given."""
    teams: dict[int, list[PersonCard]] = {}
    for card in cards:
        if card.supervisor_id is not None:
            teams.setdefault(card.supervisor_id, []).append(card)
    return teams
