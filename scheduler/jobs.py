"""Scheduled jobs: what runs when (APScheduler cron triggers, local time) and the loop that runs it.

The loop asks APScheduler's triggers for fire times but keeps time by the injected clock and
sleep, so tests advance a clock instead of waiting. A fire time missed while the service was
down runs late within the grace, once (coalesced), never the next day. Every job is safe to
run twice for the same period: what it sends is keyed in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from scheduler.outage import Outage
from scoring.dates import Period, parse_date, parse_period
from services import zh
from services.clock import Clock
from services.errors import UsageError
from services.policy import SchedulerRules
from services.projects import ProjectService
from services.quality import QualityService
from services.reminders import JobOutcome, ReminderService

log = logging.getLogger(__name__)

# Looked at least this often, so a clock change or a new day is noticed.
MAX_NAP_SECONDS = 60.0
# The daily reminder runs this often inside the window: each cadre at their own time.
DAILY_EVERY_MINUTES = 10


@dataclass(frozen=True)
class Job:
    name: str
    about: str  # for operators: what it does and when (Chinese)
    trigger: CronTrigger
    run: Callable[[str | None], Awaitable[JobOutcome]]  # the period an operator gave, or None


class Lease(Protocol):
    """Who runs the scheduler when several processes share a database (one at a time)."""

    async def acquire(self) -> bool: ...

    async def release(self) -> None: ...


class BackupDone(Protocol):
    """What one daily backup wrote and deleted (storage.backup.ScheduledBackup)."""

    @property
    def path(self) -> Path: ...

    @property
    def size(self) -> int: ...

    @property
    def removed(self) -> Sequence[Path]: ...


@dataclass(frozen=True)
class DailyBackup:
    """The daily backup (`[backup]`): when, into which directory, how many kept, and how."""

    at: time
    directory: Path
    keep: int
    copy: Callable[[Path, int, datetime], Awaitable[BackupDone]]  # (directory, keep, local now)


def _stale_reminder(projects: ProjectService) -> Callable[[str | None], Awaitable[JobOutcome]]:
    async def remind(_: str | None) -> JobOutcome:
        return await projects.remind_stale()

    return remind


def build_jobs(
    reminders: ReminderService,
    rules: SchedulerRules,
    tz: ZoneInfo,
    *,
    quality: QualityService | None = None,
    projects: ProjectService | None = None,
    projects_at: time | None = None,
    backup: DailyBackup | None = None,
) -> list[Job]:
    """Every scheduled job, with its times from the config (the quality check, the
    stale-project reminder and the daily backup if given)."""

    def day_of(text: str | None) -> date | None:
        if text is None:
            return None
        day = parse_date(text, reminders.today())
        if day is None:
            raise UsageError(zh.JOB_BAD_DAY.format(text=text))
        return day

    def week_of(text: str | None) -> Period | None:
        if text is None:
            return None
        period = parse_period(text, reminders.today())
        if period is None:
            raise UsageError(zh.JOB_BAD_WEEK.format(text=text))
        return Period.week_of(period.start)

    def period_of(kind: str, wording: str) -> Callable[[str | None], Period | None]:
        """A parser of the operator's --period for a job about one kind of period."""

        def parse(text: str | None) -> Period | None:
            if text is None:
                return None
            period = parse_period(text, reminders.today())
            if period is None or period.kind != kind:
                raise UsageError(wording.format(text=text))
            return period

        return parse

    quarter_of = period_of("quarter", zh.JOB_BAD_QUARTER)
    month_of = period_of("month", zh.JOB_BAD_MONTH)
    year_of = period_of("year", zh.JOB_BAD_YEAR)
    half_of = period_of("half", zh.JOB_BAD_HALF)

    async def housekeeping(_: str | None) -> JobOutcome:
        return await reminders.housekeeping()

    async def check_quality(text: str | None) -> JobOutcome:
        assert quality is not None
        if text is None:
            start, end = quality.nightly_range()
            key = end.isoformat()
        else:  # any period an operator names, up to today
            period = parse_period(text, reminders.today())
            if period is None:
                raise UsageError(zh.JOB_BAD_PERIOD.format(text=text))
            start, end, key = period.start, min(period.end, quality.today()), period.label
        count = await quality.check(start, end)
        note = zh.JOB_NOTE_QUALITY.format(count=count, start=start, end=end)
        return JobOutcome("quality", key, 0, note)

    start, end = rules.reminder_window_start, rules.reminder_window_end
    window = f"{start:%H:%M}–{end:%H:%M}"
    checks = []
    if quality is not None:
        at = quality.rules.check_at
        about = zh.JOB_ABOUT["quality"].format(at=f"{at:%H:%M}")
        checks.append(Job("quality", about, _daily(at, tz), check_quality))
    if projects is not None:
        at = projects_at or time(9, 30)
        about = zh.JOB_ABOUT["project-stale"].format(
            at=f"{at:%H:%M}", days=projects.rules.stale_days
        )
        checks.append(Job("project-stale", about, _daily(at, tz), _stale_reminder(projects)))
    if backup is not None:
        about = zh.JOB_ABOUT["backup"].format(
            at=f"{backup.at:%H:%M}", dir=backup.directory, keep=backup.keep
        )
        checks.append(Job("backup", about, _daily(backup.at, tz), _backup(backup, reminders, tz)))
    return [
        Job(
            "daily-reminder",
            zh.JOB_ABOUT["daily-reminder"].format(window=window, every=DAILY_EVERY_MINUTES),
            CronTrigger(
                hour=f"{start.hour}-{end.hour}", minute=f"*/{DAILY_EVERY_MINUTES}", timezone=tz
            ),
            lambda period: reminders.daily_reminder(day_of(period)),
        ),
        Job(
            "daily-nudge",
            zh.JOB_ABOUT["daily-nudge"].format(at=f"{rules.second_nudge_at:%H:%M}"),
            _daily(rules.second_nudge_at, tz),
            lambda period: reminders.daily_nudge(day_of(period)),
        ),
        Job(
            "weekly-digest",
            zh.JOB_ABOUT["weekly-digest"].format(
                day=rules.weekly_digest_day, at=f"{rules.weekly_digest_at:%H:%M}"
            ),
            CronTrigger(
                day_of_week=rules.weekly_digest_day,
                hour=rules.weekly_digest_at.hour,
                minute=rules.weekly_digest_at.minute,
                timezone=tz,
            ),
            lambda period: reminders.weekly_digest(week_of(period)),
        ),
        Job(
            "quarterly-review",
            zh.JOB_ABOUT["quarterly-review"].format(at=f"{rules.quarterly_review_at:%H:%M}"),
            _daily(rules.quarterly_review_at, tz),
            lambda period: reminders.quarterly_review(quarter_of(period)),
        ),
        Job(
            "monthly-summary",
            zh.JOB_ABOUT["monthly-summary"].format(at=f"{rules.monthly_summary_at:%H:%M}"),
            _daily(rules.monthly_summary_at, tz),
            lambda period: reminders.monthly_summary(month_of(period)),
        ),
        Job(
            "quarterly-fivetwo",
            zh.JOB_ABOUT["quarterly-fivetwo"].format(at=f"{rules.quarterly_review_at:%H:%M}"),
            _daily(rules.quarterly_review_at, tz),
            lambda period: reminders.quarterly_fivetwo(quarter_of(period)),
        ),
        Job(
            "rating-reminder",
            zh.JOB_ABOUT["rating-reminder"].format(at=f"{rules.quarterly_review_at:%H:%M}"),
            _daily(rules.quarterly_review_at, tz),
            lambda period: reminders.rating_reminder(quarter_of(period)),
        ),
        Job(
            "fivetwo-deadline",
            zh.JOB_ABOUT["fivetwo-deadline"].format(at=f"{rules.quarterly_review_at:%H:%M}"),
            _daily(rules.quarterly_review_at, tz),
            lambda period: reminders.fivetwo_deadline(quarter_of(period)),
        ),
        Job(
            "year-end",
            zh.JOB_ABOUT["year-end"].format(at=f"{rules.monthly_summary_at:%H:%M}"),
            _daily(rules.monthly_summary_at, tz),
            lambda period: reminders.year_end(year_of(period)),
        ),
        Job(
            "half-year",
            zh.JOB_ABOUT["half-year"].format(at=f"{rules.weekly_digest_at:%H:%M}"),
            _daily(rules.weekly_digest_at, tz),
            lambda period: reminders.half_year(half_of(period)),
        ),
        Job(
            "housekeeping",
            zh.JOB_ABOUT["housekeeping"].format(at=f"{rules.housekeeping_at:%H:%M}"),
            _daily(rules.housekeeping_at, tz),
            housekeeping,
        ),
        *checks,
    ]


def _backup(
    backup: DailyBackup, reminders: ReminderService, tz: ZoneInfo
) -> Callable[[str | None], Awaitable[JobOutcome]]:
    async def run(_: str | None) -> JobOutcome:
        now = reminders.clock.now().astimezone(tz)  # the file is named by local time
        done = await backup.copy(backup.directory, backup.keep, now)
        note = zh.JOB_NOTE_BACKUP.format(
            path=done.path, size=zh.file_size(done.size), removed=len(done.removed)
        )
        return JobOutcome("backup", done.path.name, 0, note)

    return run


def _daily(at: time, tz: ZoneInfo) -> CronTrigger:
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=tz)


class JobRunner:
    """Runs each job at its fire times by the injected clock, one process at a time."""

    def __init__(
        self,
        jobs: list[Job],
        clock: Clock,
        grace: timedelta,
        *,
        lease: Lease | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.jobs = jobs
        self.clock = clock
        self.grace = grace
        self.lease = lease
        self._sleep = sleep
        self._stopping = False
        # Fire times before these moments are handled; at start, the grace looks back.
        self._after = {job.name: clock.now() - grace for job in jobs}
        self.outage = Outage("the scheduler")
        self.outcomes: list[JobOutcome] = []

    def stop(self) -> None:
        self._stopping = True

    async def _acquire(self, lease: Lease) -> bool:
        """Ask for the lease; a database that is away is asked again later, not given up on."""
        try:
            got = await lease.acquire()
        except Exception as exc:
            self.outage.failed(exc)
            return False
        self.outage.recovered()
        return got

    async def run(self) -> None:
        """Run jobs while this process holds the lease (another process may), until stopped.
        The lease is checked before each tick: one lost with its connection is waited for
        again, so two processes never run the jobs at once."""
        holding = False
        try:
            while not self._stopping:
                if self.lease is not None:
                    got = await self._acquire(self.lease)
                    if got != holding:
                        log.info(
                            "this process runs the scheduled jobs"
                            if got
                            else "the scheduler lease was lost; waiting to get it back"
                        )
                        holding = got
                    if not got:
                        await self._sleep(MAX_NAP_SECONDS)
                        continue
                await self.tick()
                await self._sleep(self._nap())
        finally:
            if self.lease is not None:
                await self.lease.release()

    async def tick(self) -> list[JobOutcome]:
        """Run every job whose fire time has come since the last tick (latest one only)."""
        now = self.clock.now()
        ran = []
        for job in self.jobs:
            fire = self._due(job, now)
            if fire is None:
                continue
            try:
                outcome = await job.run(None)
            except Exception as exc:  # the database may be away: the next tick tries again
                self.outage.failed(exc)
                continue
            self.outage.recovered()
            self._after[job.name] = fire + timedelta(microseconds=1)
            log.info(
                "job %s (%s) planned %d message(s) %s",
                job.name,
                outcome.run_key,
                outcome.messages,
                outcome.note,
            )
            ran.append(outcome)
        self.outcomes += ran
        return ran

    def _due(self, job: Job, now: datetime) -> datetime | None:
        """The latest fire time in (last handled, now], if it lies within the grace."""
        latest = None
        fire = job.trigger.get_next_fire_time(None, self._after[job.name])
        while fire is not None and fire <= now:
            latest = fire
            fire = job.trigger.get_next_fire_time(None, fire + timedelta(microseconds=1))
        if latest is None:
            return None
        if now - latest > self.grace:  # missed for too long: skip to the next one
            self._after[job.name] = latest + timedelta(microseconds=1)
            return None
        return latest

    def _nap(self) -> float:
        if self.outage.attempts:  # a job failed: back off before trying again
            return self.outage.delay()
        now = self.clock.now()
        upcoming = [
            fire
            for job in self.jobs
            if (fire := job.trigger.get_next_fire_time(None, self._after[job.name])) is not None
        ]
        if not upcoming:
            return MAX_NAP_SECONDS
        wait = (min(upcoming) - now).total_seconds()
        return min(max(wait, 0.5), MAX_NAP_SECONDS)


async def run_job(jobs: list[Job], name: str, period: str | None) -> JobOutcome:
    """Run one job now (`worklog jobs run NAME [--period P]`)."""
    for job in jobs:
        if job.name == name:
            return await job.run(period)
    raise UsageError(zh.JOB_UNKNOWN.format(name=name, names=", ".join(j.name for j in jobs)))
