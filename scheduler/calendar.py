"""The working-day calendar: China's official holidays and 调休, with the admin's overrides.

The official schedule comes from the `chinesecalendar` package, which knows only the years
the State Council has published. For any other year the calendar falls back to Mon–Fri,
logs a warning once per year and lists the year in `missing_years()`. The admin's
`calendar.extra_holidays` / `calendar.extra_workdays` take precedence over both.
No date makes it raise: 1999, 2100 and `date.max` are answered like any other day.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from services import zh

try:
    import chinese_calendar
except ImportError:  # pragma: no cover - a broken install still gets a working calendar
    chinese_calendar = None

log = logging.getLogger(__name__)

DaySource = Literal["package", "fallback", "override"]

# The package's tables: day → English holiday name ("Spring Festival").
_HOLIDAYS: dict[date, str] = dict(chinese_calendar.holidays) if chinese_calendar else {}
_MAKE_UP_DAYS: dict[date, str] = dict(chinese_calendar.workdays) if chinese_calendar else {}
OFFICIAL_YEARS: frozenset[int] = frozenset(d.year for d in _HOLIDAYS)

# Years already reported as missing by this process (one warning per year, not per instance).
_warned_years: set[int] = set()
_warned_lock = threading.Lock()


def _warn_missing(year: int) -> None:
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    version = getattr(chinese_calendar, "__version__", "?") if chinese_calendar else "missing"
    log.warning(
        "calendar: chinesecalendar (%s) has no official holiday schedule for %d; "
        "working days of %d are Mon-Fri plus calendar.extra_holidays / extra_workdays. "
        "Upgrade chinesecalendar once the State Council has published the year, "
        "or list the year's holidays and make-up days in the config.",
        version,
        year,
        year,
    )


@dataclass(frozen=True, slots=True)
class DayInfo:
    """Why a day is or is not a working day.

    `source` is "package" (the official schedule), "fallback" (Mon–Fri, the year is not
    published) or "override" (the admin's config). `holiday_name` is the package's English
    name of the holiday the day belongs to ("National Day"), also on its make-up working
    days; `make_up` marks a working day on what would otherwise be a day off (调休上班).
    """

    working: bool
    source: DaySource
    holiday_name: str | None = None
    make_up: bool = False


class WorkCalendar:
    """Official working days (工作日, including 调休 make-up days) with admin overrides.

    A date listed in both `holidays` and `workdays` is a working day. Each year's working
    days are computed once, on first use, so `is_working_day` is a set lookup.
    """

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        self._years: dict[int, frozenset[date]] = {}
        self._missing: set[int] = set()

    # -- the WorkingDays protocol ----------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Return whether `d` is a working day."""
        if type(d) is not date:
            d = _as_date(d)
        days = self._years.get(d.year)
        if days is None:
            days = self._year(d.year)
        return d in days

    # -- explanations ------------------------------------------------------------------------

    def explain(self, d: date) -> DayInfo:
        """Return whether `d` is a working day and which source decided it."""
        d = _as_date(d)
        base = self._base(d)
        if d in self._workdays:
            return DayInfo(True, "override", base.holiday_name, make_up=not base.working)
        if d in self._holidays:
            return DayInfo(False, "override", base.holiday_name)
        return base

    def has_official(self, year: int) -> bool:
        """Return whether the package knows the State Council's schedule for `year`."""
        return year in OFFICIAL_YEARS

    def missing_years(self) -> tuple[int, ...]:
        """Years this calendar was asked about that have no official schedule, in order."""
        return tuple(sorted(self._missing))

    def overrides_in(self, year: int) -> bool:
        """Return whether the config changes any day of `year`."""
        return any(d.year == year for d in self._holidays | self._workdays)

    # -- internals -------------------------------------------------------------------------

    def _base(self, d: date) -> DayInfo:
        """The day before overrides: the official schedule, or Mon–Fri outside it."""
        if d.year not in OFFICIAL_YEARS:
            self._note_missing(d.year)
            return DayInfo(d.weekday() < 5, "fallback")
        if (name := _MAKE_UP_DAYS.get(d)) is not None:
            return DayInfo(True, "package", name, make_up=True)
        if (name := _HOLIDAYS.get(d)) is not None:
            return DayInfo(False, "package", name)
        return DayInfo(d.weekday() < 5, "package")

    def _note_missing(self, year: int) -> None:
        if year not in self._missing:
            self._missing.add(year)
            _warn_missing(year)

    def _year(self, year: int) -> frozenset[date]:
        days = frozenset(d for d in _days_of(year) if self.explain(d).working)
        self._years[year] = days
        return days


def _as_date(d: date) -> date:
    """A datetime counts as its date (datetime is a date subclass that never equals one)."""
    return d.date() if isinstance(d, datetime) else d


def _days_of(year: int) -> list[date]:
    """Every day of a year (`date.max`'s year included)."""
    first = date(year, 1, 1)
    last = date(year, 12, 31)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# ---------------------------------------------------------------------------
# `worklog calendar YEAR`: the year month by month, in Chinese
# ---------------------------------------------------------------------------


def _md(d: date) -> str:
    return f"{d.month}月{d.day}日"


def _span(first: date, last: date) -> str:
    if first == last:
        return _md(first)
    return zh.CALENDAR_SPAN.format(start=_md(first), end=_md(last), days=(last - first).days + 1)


def _name(name: str | None) -> str:
    """The Chinese name of a package holiday ("Spring Festival" → 春节)."""
    return "" if name is None else zh.HOLIDAY_NAMES.get(name, name)


def describe_year(calendar: WorkCalendar, year: int) -> str:
    """The year month by month: working days, holidays, 调休上班 days and where each came from."""
    days = _days_of(year)
    infos = {d: calendar.explain(d) for d in days}
    official = calendar.has_official(year)
    lines = [zh.CALENDAR_HEAD.format(year=year)]
    lines.append(zh.CALENDAR_OFFICIAL if official else zh.CALENDAR_MISSING.format(year=year))
    if calendar.overrides_in(year):
        lines.append(zh.CALENDAR_HAS_OVERRIDES)
    lines.append(zh.CALENDAR_TOTAL.format(days=sum(i.working for i in infos.values())))
    base_source = zh.CALENDAR_SOURCES["package" if official else "fallback"]
    for month in range(1, 13):
        month_days = [d for d in days if d.month == month]
        overridden = any(infos[d].source == "override" for d in month_days)
        lines.append("")
        lines.append(
            zh.CALENDAR_MONTH.format(
                month=month,
                days=sum(infos[d].working for d in month_days),
                source=base_source + (zh.CALENDAR_PLUS_CONFIG if overridden else ""),
            )
        )
        lines += _holiday_lines(month_days, infos)
        lines += [
            zh.CALENDAR_MAKE_UP.format(
                date=_md(d),
                weekday=zh.WEEKDAYS[d.weekday()],
                holiday=zh.CALENDAR_MAKE_UP_FOR.format(name=_name(info.holiday_name))
                if info.holiday_name
                else "",
                source=zh.CALENDAR_SOURCES[info.source],
            )
            for d in month_days
            if (info := infos[d]).make_up
        ]
    return "\n".join(lines)


def _holiday_lines(month_days: list[date], infos: dict[date, DayInfo]) -> list[str]:
    """Runs of consecutive days off that are holidays (not plain weekends), one line each."""
    runs: list[tuple[date, date, str | None, DaySource]] = []
    for d in month_days:
        info = infos[d]
        if info.working or not (info.holiday_name or info.source == "override"):
            continue
        if (
            runs
            and runs[-1][1] == d - timedelta(days=1)
            and runs[-1][2:]
            == (
                info.holiday_name,
                info.source,
            )
        ):
            runs[-1] = (runs[-1][0], d, info.holiday_name, info.source)
        else:
            runs.append((d, d, info.holiday_name, info.source))
    return [
        zh.CALENDAR_HOLIDAY.format(
            name=f"{_name(name)} " if name else "",
            span=_span(first, last),
            source=zh.CALENDAR_SOURCES[source],
        )
        for first, last, name, source in runs
    ]
