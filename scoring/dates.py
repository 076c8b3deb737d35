"""Dates and periods of the work log: work date, parsing, working hours, backfill window."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_ROLLOVER_HOUR = 4
DEFAULT_DAY_START = time(8, 30)
DEFAULT_DAY_END = time(17, 30)

PeriodKind = Literal["day", "week", "month", "quarter", "half", "year"]


class WorkingDays(Protocol):
    """The official working-day calendar (工作日, including 调休 make-up days)."""

    def is_working_day(self, d: date) -> bool:
        """Return whether `d` is a working day."""
        ...


# ---------------------------------------------------------------------------
# Work date and working hours
# ---------------------------------------------------------------------------


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    """Return an aware moment in local time; naive moments are a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(tz)


def work_date_for(
    moment: datetime, rollover_hour: int = DEFAULT_ROLLOVER_HOUR, tz: ZoneInfo = SHANGHAI
) -> date:
    """Return the work date of a message: before `rollover_hour` local time it is yesterday's."""
    if not 0 <= rollover_hour <= 23:
        raise ValueError(f"rollover_hour must be 0..23, got {rollover_hour}")
    local = _local(moment, tz)
    # Work finished after midnight (加班到凌晨) belongs to the day it started.
    if local.hour < rollover_hour:
        return local.date() - timedelta(days=1)
    return local.date()


def is_after_hours(
    moment: datetime,
    calendar: WorkingDays,
    day_start: time = DEFAULT_DAY_START,
    day_end: time = DEFAULT_DAY_END,
    rollover_hour: int = DEFAULT_ROLLOVER_HOUR,
    tz: ZoneInfo = SHANGHAI,
) -> bool:
    """Return whether a moment lies outside working hours (八小时外).

    Working hours are day_start inclusive to day_end exclusive on a working day; any time
    on a non-working work date (weekend, holiday) is after hours.
    """
    if not calendar.is_working_day(work_date_for(moment, rollover_hour, tz)):
        return True
    clock = _local(moment, tz).time().replace(tzinfo=None)
    return not day_start <= clock < day_end


# ---------------------------------------------------------------------------
# Parsing a date typed by a cadre
# ---------------------------------------------------------------------------

_RELATIVE_DAYS = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "大前天": 3}
_FULL_DATE = re.compile(
    r"(\d{4})\s*(?:[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?)"
)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*(?:[-/.]\s*(\d{1,2})|月\s*(\d{1,2})\s*[日号]?)")
_DAY_ONLY = re.compile(r"(\d{1,2})\s*[日号]")


def _normalize(text: str) -> str:
    """Fold full-width digits and punctuation typed on phones ("１１－２０") to ASCII."""
    return unicodedata.normalize("NFKC", text).strip()


def _date_or_none(year: int, month: int, day: int) -> date | None:
    """Return the date, or None when it does not exist (02-30)."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str, today: date) -> date | None:
    """Parse a date such as 2026-11-20, 11-20, 11月20日, 20号 or 昨天; None if not a date.

    Without a year the date is the most recent one not after today (on 2026-01-05 "12-30" is
    2025-12-30). A bare day ("20号") is in the current month, even when that is ahead.
    Future dates are returned as parsed; callers decide whether to accept them.
    """
    s = _normalize(text)
    if s in _RELATIVE_DAYS:
        return today - timedelta(days=_RELATIVE_DAYS[s])
    if m := _FULL_DATE.fullmatch(s):
        year, month, day = (int(g) for g in m.groups() if g is not None)
        return _date_or_none(year, month, day)
    if m := _COMPACT_DATE.fullmatch(s):
        return _date_or_none(int(m[1]), int(m[2]), int(m[3]))
    if m := _MONTH_DAY.fullmatch(s):
        month, day = (int(g) for g in m.groups() if g is not None)
        year = today.year if (month, day) <= (today.month, today.day) else today.year - 1
        return _date_or_none(year, month, day)
    if m := _DAY_ONLY.fullmatch(s):
        return _date_or_none(today.year, today.month, int(m[1]))
    return None


# ---------------------------------------------------------------------------
# Periods: day, week, month, quarter, half year, year
# ---------------------------------------------------------------------------


def _month_end(year: int, month: int) -> date:
    """Return the last day of a month."""
    first_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first_next - timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """A reporting period: start and end are inclusive; label is e.g. 2026-11, 2026Q4, 2026H2."""

    kind: PeriodKind
    start: date
    end: date
    label: str

    @classmethod
    def day(cls, d: date) -> Period:
        """Return the period of a single day."""
        return cls("day", d, d, d.isoformat())

    @classmethod
    def week_of(cls, d: date) -> Period:
        """Return the Monday-to-Sunday week containing `d`, labelled by ISO week (2026-W47)."""
        monday = d - timedelta(days=d.weekday())
        iso_year, iso_week, _ = monday.isocalendar()
        return cls("week", monday, monday + timedelta(days=6), f"{iso_year}-W{iso_week:02d}")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """Return a calendar month."""
        if not 1 <= month <= 12:
            raise ValueError(f"month must be 1..12, got {month}")
        return cls("month", date(year, month, 1), _month_end(year, month), f"{year}-{month:02d}")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        """Return a calendar quarter (季度)."""
        if not 1 <= quarter <= 4:
            raise ValueError(f"quarter must be 1..4, got {quarter}")
        first = 3 * quarter - 2
        return cls(
            "quarter", date(year, first, 1), _month_end(year, first + 2), f"{year}Q{quarter}"
        )

    @classmethod
    def half(cls, year: int, half: int) -> Period:
        """Return a half year (上半年 = H1, 下半年 = H2)."""
        if half not in (1, 2):
            raise ValueError(f"half must be 1 or 2, got {half}")
        first = 1 if half == 1 else 7
        return cls("half", date(year, first, 1), _month_end(year, first + 5), f"{year}H{half}")

    @classmethod
    def year(cls, year: int) -> Period:
        """Return a calendar year."""
        return cls("year", date(year, 1, 1), date(year, 12, 31), str(year))

    @classmethod
    def containing(cls, kind: PeriodKind, d: date) -> Period:
        """Return the period of the given kind that contains `d`."""
        if kind == "day":
            return cls.day(d)
        if kind == "week":
            return cls.week_of(d)
        if kind == "month":
            return cls.month(d.year, d.month)
        if kind == "quarter":
            return cls.quarter(d.year, (d.month - 1) // 3 + 1)
        if kind == "half":
            return cls.half(d.year, 1 if d.month <= 6 else 2)
        if kind == "year":
            return cls.year(d.year)
        raise ValueError(f"unknown period kind {kind!r}")

    def previous(self) -> Period:
        """Return the period of the same kind just before this one."""
        return Period.containing(self.kind, self.start - timedelta(days=1))

    def next(self) -> Period:
        """Return the period of the same kind just after this one."""
        return Period.containing(self.kind, self.end + timedelta(days=1))

    def __contains__(self, d: object) -> bool:
        """Return whether a date lies inside the period."""
        return isinstance(d, date) and self.start <= d <= self.end

    def days(self) -> Iterator[date]:
        """Yield every calendar day of the period in order."""
        d = self.start
        while d <= self.end:
            yield d
            d += timedelta(days=1)


_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_RELATIVE_PERIODS: dict[str, tuple[PeriodKind, int]] = {
    "本周": ("week", 0),
    "这周": ("week", 0),
    "上周": ("week", -1),
    "本月": ("month", 0),
    "这个月": ("month", 0),
    "上月": ("month", -1),
    "上个月": ("month", -1),
    "本季度": ("quarter", 0),
    "本季": ("quarter", 0),
    "这个季度": ("quarter", 0),
    "上季度": ("quarter", -1),
    "上季": ("quarter", -1),
    "上个季度": ("quarter", -1),
    "今年": ("year", 0),
    "本年": ("year", 0),
    "本年度": ("year", 0),
    "去年": ("year", -1),
}
_YEAR_MONTH = re.compile(r"(\d{4})\s*(?:[-/.]\s*(\d{1,2})|年\s*(\d{1,2})\s*月份?)")
_MONTH_ONLY = re.compile(r"(\d{1,2})\s*月份?")
_QUARTER = re.compile(r"(?:(\d{4})\s*(?:年\s*)?)?(?:-?\s*q\s*([1-4])|第?\s*([一二三四1-4])\s*季度)")
_HALF = re.compile(r"(?:(\d{4})\s*(?:年\s*)?)?(?:-?\s*h\s*([12])|([上下])\s*半年)")
_YEAR = re.compile(r"(\d{4})\s*(?:年度?)?")
_ISO_WEEK = re.compile(r"(\d{4})\s*-?\s*w\s*(\d{1,2})")


def _shift(period: Period, steps: int) -> Period:
    """Return the period `steps` periods before (negative) or after this one."""
    for _ in range(abs(steps)):
        period = period.previous() if steps < 0 else period.next()
    return period


def _latest(candidate_this_year: Period, today: date, year_given: bool) -> Period:
    """Without a year, take the most recent period that has started by today."""
    if year_given or candidate_this_year.start <= today:
        return candidate_this_year
    return Period.containing(
        candidate_this_year.kind, candidate_this_year.start.replace(year=today.year - 1)
    )


def parse_period(text: str, today: date) -> Period | None:
    """Parse a period such as 2026-11, 11月, 2026Q4, 2026年下半年, 2026, 本月 or a date.

    Without a year a month, quarter or half year is the most recent one that has begun by
    today (in January "12月" is last December); a plain date gives a one-day period.
    """
    s = _normalize(text).lower()
    if not s:
        return None
    if s in _RELATIVE_PERIODS:
        kind, steps = _RELATIVE_PERIODS[s]
        return _shift(Period.containing(kind, today), steps)
    try:
        return _parse_explicit_period(s, today)
    except ValueError:  # month 13, quarter 0 and the like
        return None


def _parse_explicit_period(s: str, today: date) -> Period | None:
    """Parse a written-out period; raises ValueError on impossible values."""
    if m := _YEAR_MONTH.fullmatch(s):
        year, month = (int(g) for g in m.groups() if g is not None)
        return Period.month(year, month)
    if m := _MONTH_ONLY.fullmatch(s):
        return _latest(Period.month(today.year, int(m[1])), today, year_given=False)
    if m := _QUARTER.fullmatch(s):
        quarter = _CN_DIGITS[m[2] or m[3]]
        return _latest(Period.quarter(int(m[1] or today.year), quarter), today, bool(m[1]))
    if m := _HALF.fullmatch(s):
        half = int(m[2]) if m[2] else (1 if m[3] == "上" else 2)
        return _latest(Period.half(int(m[1] or today.year), half), today, bool(m[1]))
    if m := _ISO_WEEK.fullmatch(s):
        return Period.week_of(date.fromisocalendar(int(m[1]), int(m[2]), 1))
    if m := _YEAR.fullmatch(s):
        return Period.year(int(m[1]))
    day = parse_date(s, today)
    return Period.day(day) if day else None


# ---------------------------------------------------------------------------
# Working days: backfill window and expected days
# ---------------------------------------------------------------------------


def working_days_between(start: date, end: date, calendar: WorkingDays) -> int:
    """Return the number of working days d with start <= d < end (0 when end <= start)."""
    count = 0
    d = start
    while d < end:
        count += calendar.is_working_day(d)
        d += timedelta(days=1)
    return count


def backfill_allowed(target: date, today: date, window: int, calendar: WorkingDays) -> bool:
    """Return whether a past day may still be back-filled (补记).

    Rule: target < today and the working days from target (inclusive) up to today
    (exclusive) number at most `window`. With window 3 on Monday 2026-11-23 (Mon-Fri
    calendar) Wed 11-18 to Sun 11-22 are allowed and Tue 11-17 is not; non-working days
    inside that span are allowed too. Today and future dates are never back-fill, and a
    window of 0 or less turns back-filling off.
    """
    if window <= 0 or target >= today:
        return False
    # Walk back from yesterday and stop early: an old date must not scan years of calendar.
    count = 0
    d = today - timedelta(days=1)
    while d >= target:
        count += calendar.is_working_day(d)
        if count > window:
            return False
        d -= timedelta(days=1)
    return True


def expected_days(period: Period, calendar: WorkingDays, until: date | None = None) -> list[date]:
    """Return the working days of the period, up to `until` inclusive when given."""
    last = period.end if until is None else min(period.end, until)
    days: list[date] = []
    d = period.start
    while d <= last:
        if calendar.is_working_day(d):
            days.append(d)
        d += timedelta(days=1)
    return days
