"""Tests for scoring.dates: work date, parsing, periods, working hours and the backfill window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from scoring.dates import (
    Period,
    backfill_allowed,
    expected_days,
    is_after_hours,
    parse_date,
    parse_period,
    work_date_for,
    working_days_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


class MonFri:
    """Mon-Fri calendar with optional holidays and make-up working days (调休)."""

    def __init__(self, holidays: set[date] | None = None, workdays: set[date] | None = None):
        self.holidays = holidays or set()
        self.workdays = workdays or set()

    def is_working_day(self, d: date) -> bool:
        if d in self.workdays:
            return True
        return d.weekday() < 5 and d not in self.holidays


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def d(text: str) -> date:
    return date.fromisoformat(text)


# ---------------------------------------------------------------------------
# work_date_for
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "rollover", "expected"),
    [
        (utc(2026, 11, 20, 1, 0), 4, "2026-11-20"),  # 09:00 local
        (utc(2026, 11, 20, 15, 59, 59), 4, "2026-11-20"),  # 23:59:59 local
        (utc(2026, 11, 20, 16, 0), 4, "2026-11-20"),  # 00:00 local, 11-21
        (utc(2026, 11, 20, 16, 30), 4, "2026-11-20"),  # 00:30 local, 11-21
        (utc(2026, 11, 20, 19, 59, 59), 4, "2026-11-20"),  # 03:59:59 local, 11-21
        (utc(2026, 11, 20, 20, 0), 4, "2026-11-21"),  # 04:00 local, 11-21
        (utc(2026, 11, 20, 16, 30), 0, "2026-11-21"),  # no rollover
        (utc(2026, 11, 20, 16, 30), 1, "2026-11-20"),
        (utc(2026, 11, 20, 17, 0), 1, "2026-11-21"),  # 01:00 local with rollover 1
        (utc(2026, 12, 31, 16, 30), 4, "2026-12-31"),  # 00:30 on new year's day
        (utc(2026, 2, 28, 17, 0), 4, "2026-02-28"),  # 01:00 on 03-01
        (utc(2026, 12, 31, 23, 0), 4, "2027-01-01"),  # 07:00 local
    ],
)
def test_work_date_for(moment: datetime, rollover: int, expected: str) -> None:
    assert work_date_for(moment, rollover) == d(expected)


def test_work_date_for_defaults_and_other_offsets() -> None:
    local = datetime(2026, 11, 21, 0, 30, tzinfo=SHANGHAI)
    assert work_date_for(local) == d("2026-11-20")
    minus_five = timezone(timedelta(hours=-5))
    # 15:30 at UTC-5 is 04:30 on 11-21 in Shanghai: past the rollover.
    assert work_date_for(datetime(2026, 11, 20, 15, 30, tzinfo=minus_five)) == d("2026-11-21")
    assert work_date_for(utc(2026, 11, 20, 16, 30), 4, ZoneInfo("UTC")) == d("2026-11-20")


def test_work_date_for_refuses_naive_and_bad_rollover() -> None:
    with pytest.raises(ValueError):
        work_date_for(datetime(2026, 11, 20, 9, 0))
    with pytest.raises(ValueError):
        work_date_for(utc(2026, 11, 20, 1, 0), 24)


# ---------------------------------------------------------------------------
# parse_date
# ---------------------------------------------------------------------------

TODAY = d("2026-11-23")  # a Monday


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("2026-11-20", TODAY, "2026-11-20"),
        ("2026/11/20", TODAY, "2026-11-20"),
        ("2026.11.20", TODAY, "2026-11-20"),
        ("20261120", TODAY, "2026-11-20"),
        ("2026-1-5", TODAY, "2026-01-05"),
        ("2026年11月20日", TODAY, "2026-11-20"),
        ("11-20", TODAY, "2026-11-20"),
        ("11/20", TODAY, "2026-11-20"),
        ("11.20", TODAY, "2026-11-20"),
        ("11月20日", TODAY, "2026-11-20"),
        ("11月20号", TODAY, "2026-11-20"),
        ("11-23", TODAY, "2026-11-23"),
        ("11-24", TODAY, "2025-11-24"),  # not after today: last year
        ("12-30", d("2026-01-05"), "2025-12-30"),
        ("１１－２０", TODAY, "2026-11-20"),  # full-width phone input
        ("20日", TODAY, "2026-11-20"),
        ("20号", TODAY, "2026-11-20"),
        ("28号", TODAY, "2026-11-28"),  # this month, even ahead: callers refuse it
        ("今天", TODAY, "2026-11-23"),
        ("昨天", TODAY, "2026-11-22"),
        ("前天", TODAY, "2026-11-21"),
        ("大前天", TODAY, "2026-11-20"),
        ("昨天", d("2027-01-01"), "2026-12-31"),
        (" 昨天 ", TODAY, "2026-11-22"),
        ("2026-12-01", TODAY, "2026-12-01"),  # future, returned as parsed
        ("2024-02-29", TODAY, "2024-02-29"),
    ],
)
def test_parse_date(text: str, today: date, expected: str) -> None:
    assert parse_date(text, today) == d(expected)


@pytest.mark.parametrize(
    "text",
    [
        "02-30",
        "2026-02-29",
        "20260230",
        "13-01",
        "11-31",
        "31号",
        "0-1",
        "",
        "abc",
        "明天",
        "2026-11",
    ],
)
def test_parse_date_invalid(text: str) -> None:
    assert parse_date(text, TODAY) is None


# ---------------------------------------------------------------------------
# Period and parse_period
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "today", "kind", "start", "end", "label"),
    [
        ("2026-11", TODAY, "month", "2026-11-01", "2026-11-30", "2026-11"),
        ("2026/2", TODAY, "month", "2026-02-01", "2026-02-28", "2026-02"),
        ("2026年11月", TODAY, "month", "2026-11-01", "2026-11-30", "2026-11"),
        ("2024年2月份", TODAY, "month", "2024-02-01", "2024-02-29", "2024-02"),
        ("11月", TODAY, "month", "2026-11-01", "2026-11-30", "2026-11"),
        ("12月", TODAY, "month", "2025-12-01", "2025-12-31", "2025-12"),
        ("12月", d("2026-01-05"), "month", "2025-12-01", "2025-12-31", "2025-12"),
        ("2026Q4", TODAY, "quarter", "2026-10-01", "2026-12-31", "2026Q4"),
        ("2026q4", TODAY, "quarter", "2026-10-01", "2026-12-31", "2026Q4"),
        ("2026年第四季度", TODAY, "quarter", "2026-10-01", "2026-12-31", "2026Q4"),
        ("2026年第1季度", TODAY, "quarter", "2026-01-01", "2026-03-31", "2026Q1"),
        ("三季度", TODAY, "quarter", "2026-07-01", "2026-09-30", "2026Q3"),
        ("Q4", d("2026-02-10"), "quarter", "2025-10-01", "2025-12-31", "2025Q4"),
        ("2026H2", TODAY, "half", "2026-07-01", "2026-12-31", "2026H2"),
        ("2026h1", TODAY, "half", "2026-01-01", "2026-06-30", "2026H1"),
        ("2026年下半年", TODAY, "half", "2026-07-01", "2026-12-31", "2026H2"),
        ("2026年上半年", TODAY, "half", "2026-01-01", "2026-06-30", "2026H1"),
        ("2026", TODAY, "year", "2026-01-01", "2026-12-31", "2026"),
        ("2026年", TODAY, "year", "2026-01-01", "2026-12-31", "2026"),
        ("本周", TODAY, "week", "2026-11-23", "2026-11-29", "2026-W48"),
        ("上周", TODAY, "week", "2026-11-16", "2026-11-22", "2026-W47"),
        ("上周", d("2026-01-07"), "week", "2025-12-29", "2026-01-04", "2026-W01"),
        ("本月", TODAY, "month", "2026-11-01", "2026-11-30", "2026-11"),
        ("上月", TODAY, "month", "2026-10-01", "2026-10-31", "2026-10"),
        ("上月", d("2026-01-05"), "month", "2025-12-01", "2025-12-31", "2025-12"),
        ("本季度", TODAY, "quarter", "2026-10-01", "2026-12-31", "2026Q4"),
        ("上季度", TODAY, "quarter", "2026-07-01", "2026-09-30", "2026Q3"),
        ("上季度", d("2026-02-01"), "quarter", "2025-10-01", "2025-12-31", "2025Q4"),
        ("今年", TODAY, "year", "2026-01-01", "2026-12-31", "2026"),
        ("2026-W48", TODAY, "week", "2026-11-23", "2026-11-29", "2026-W48"),
        ("2026-11-20", TODAY, "day", "2026-11-20", "2026-11-20", "2026-11-20"),
        ("昨天", TODAY, "day", "2026-11-22", "2026-11-22", "2026-11-22"),
    ],
)
def test_parse_period(text: str, today: date, kind: str, start: str, end: str, label: str) -> None:
    assert parse_period(text, today) == Period(kind, d(start), d(end), label)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["", "2026-13", "2026Q5", "2026H3", "13月", "0月", "2026-W54", "下个月", "abc"]
)
def test_parse_period_invalid(text: str) -> None:
    assert parse_period(text, TODAY) is None


def test_period_constructors() -> None:
    assert Period.month(2024, 2) == Period("month", d("2024-02-01"), d("2024-02-29"), "2024-02")
    assert Period.quarter(2026, 1) == Period("quarter", d("2026-01-01"), d("2026-03-31"), "2026Q1")
    assert Period.half(2026, 2) == Period("half", d("2026-07-01"), d("2026-12-31"), "2026H2")
    assert Period.year(2027) == Period("year", d("2027-01-01"), d("2027-12-31"), "2027")
    assert Period.week_of(d("2026-01-01")) == Period(
        "week", d("2025-12-29"), d("2026-01-04"), "2026-W01"
    )
    assert Period.week_of(d("2026-11-29")).start == d("2026-11-23")  # Sunday ends the week
    assert Period.day(d("2026-11-20")).label == "2026-11-20"


@pytest.mark.parametrize(
    ("kind", "day", "label"),
    [
        ("day", "2026-11-20", "2026-11-20"),
        ("week", "2026-11-20", "2026-W47"),
        ("month", "2026-11-20", "2026-11"),
        ("quarter", "2026-11-20", "2026Q4"),
        ("quarter", "2026-04-01", "2026Q2"),
        ("half", "2026-06-30", "2026H1"),
        ("half", "2026-07-01", "2026H2"),
        ("year", "2026-11-20", "2026"),
    ],
)
def test_period_containing(kind: str, day: str, label: str) -> None:
    period = Period.containing(kind, d(day))  # type: ignore[arg-type]
    assert period.label == label
    assert d(day) in period


def test_period_rejects_impossible_values() -> None:
    for build in (
        lambda: Period.month(2026, 13),
        lambda: Period.quarter(2026, 0),
        lambda: Period.half(2026, 3),
        lambda: Period.containing("decade", d("2026-01-01")),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError):
            build()


def test_period_days_previous_next() -> None:
    feb = Period.month(2026, 2)
    days = list(feb.days())
    assert len(days) == 28
    assert days[0] == d("2026-02-01")
    assert days[-1] == d("2026-02-28")
    assert feb.previous().label == "2026-01"
    assert Period.quarter(2026, 1).previous().label == "2025Q4"
    assert Period.half(2026, 2).next().label == "2027H1"
    assert d("2026-03-01") not in feb


# ---------------------------------------------------------------------------
# is_after_hours
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2026, 11, 20, 0, 29), True),  # Fri 08:29 local
        (utc(2026, 11, 20, 0, 30), False),  # Fri 08:30
        (utc(2026, 11, 20, 6, 0), False),  # Fri 14:00
        (utc(2026, 11, 20, 9, 29, 59), False),  # Fri 17:29:59
        (utc(2026, 11, 20, 9, 30), True),  # Fri 17:30
        (utc(2026, 11, 20, 13, 0), True),  # Fri 21:00
        (utc(2026, 11, 20, 17, 0), True),  # Sat 01:00, still Friday's work date
        (utc(2026, 11, 21, 2, 0), True),  # Sat 10:00
        (utc(2026, 11, 22, 6, 0), True),  # Sun 14:00
        (utc(2026, 11, 23, 2, 0), False),  # Mon 10:00
    ],
)
def test_is_after_hours(moment: datetime, expected: bool) -> None:
    assert is_after_hours(moment, MonFri()) is expected


def test_is_after_hours_calendar_overrides_and_custom_hours() -> None:
    calendar = MonFri(holidays={d("2026-10-01")}, workdays={d("2026-10-10")})
    assert is_after_hours(utc(2026, 10, 1, 2, 0), calendar) is True  # holiday Thursday
    assert is_after_hours(utc(2026, 10, 10, 2, 0), calendar) is False  # make-up Saturday
    nine_to_six = {"day_start": time(9, 0), "day_end": time(18, 0)}
    assert is_after_hours(utc(2026, 11, 20, 0, 45), MonFri(), **nine_to_six) is True  # 08:45
    assert is_after_hours(utc(2026, 11, 20, 9, 45), MonFri(), **nine_to_six) is False  # 17:45


# ---------------------------------------------------------------------------
# working days, backfill window, expected days
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-11-23", "2026-11-23", 0),
        ("2026-11-20", "2026-11-23", 1),  # Fri only
        ("2026-11-18", "2026-11-23", 3),
        ("2026-11-16", "2026-11-23", 5),
        ("2026-11-21", "2026-11-23", 0),  # weekend only
        ("2026-11-23", "2026-11-20", 0),  # reversed
    ],
)
def test_working_days_between(start: str, end: str, expected: int) -> None:
    assert working_days_between(d(start), d(end), MonFri()) == expected


@pytest.mark.parametrize(
    ("target", "today", "window", "expected"),
    [
        # Monday 2026-11-23, window 3: back to Wednesday, weekend in between allowed
        ("2026-11-22", "2026-11-23", 3, True),
        ("2026-11-21", "2026-11-23", 3, True),
        ("2026-11-20", "2026-11-23", 3, True),
        ("2026-11-19", "2026-11-23", 3, True),
        ("2026-11-18", "2026-11-23", 3, True),
        ("2026-11-17", "2026-11-23", 3, False),
        ("2026-11-15", "2026-11-23", 3, False),  # previous weekend
        # today and the future are not back-fill
        ("2026-11-23", "2026-11-23", 3, False),
        ("2026-11-24", "2026-11-23", 3, False),
        # window 1 on a Monday: Friday and the weekend
        ("2026-11-20", "2026-11-23", 1, True),
        ("2026-11-19", "2026-11-23", 1, False),
        ("2026-11-22", "2026-11-23", 0, False),  # window 0 switches it off
        # month boundary: Tuesday 2026-12-01
        ("2026-11-30", "2026-12-01", 3, True),
        ("2026-11-27", "2026-12-01", 3, True),
        ("2026-11-26", "2026-12-01", 3, True),
        ("2026-11-25", "2026-12-01", 3, False),
        # year boundary: Monday 2027-01-04
        ("2027-01-01", "2027-01-04", 3, True),
        ("2026-12-30", "2027-01-04", 3, True),
        ("2026-12-29", "2027-01-04", 3, False),
        # backfilling on a Saturday
        ("2026-11-18", "2026-11-21", 3, True),
        ("2026-11-17", "2026-11-21", 3, False),
        ("2000-01-03", "2026-11-23", 3, False),
    ],
)
def test_backfill_allowed(target: str, today: str, window: int, expected: bool) -> None:
    assert backfill_allowed(d(target), d(today), window, MonFri()) is expected


def test_backfill_window_skips_holidays() -> None:
    # 2026-10-01..07 off, Saturday 10-10 a make-up working day: on Thu 10-08 the three
    # working days back are 09-28, 09-29, 09-30.
    holidays = {d("2026-10-01") + timedelta(days=i) for i in range(7)}
    calendar = MonFri(holidays=holidays, workdays={d("2026-10-10")})
    assert backfill_allowed(d("2026-10-05"), d("2026-10-08"), 3, calendar) is True
    assert backfill_allowed(d("2026-09-28"), d("2026-10-08"), 3, calendar) is True
    assert backfill_allowed(d("2026-09-27"), d("2026-10-08"), 3, calendar) is True  # Sunday
    assert backfill_allowed(d("2026-09-25"), d("2026-10-08"), 3, calendar) is False
    # Monday 10-12: make-up Sat 10-10, Fri 10-09 and Thu 10-08 fill the window; the
    # holidays before them are inside it, Wed 09-30 is not.
    assert backfill_allowed(d("2026-10-08"), d("2026-10-12"), 3, calendar) is True
    assert backfill_allowed(d("2026-10-07"), d("2026-10-12"), 3, calendar) is True
    assert backfill_allowed(d("2026-10-01"), d("2026-10-12"), 3, calendar) is True
    assert backfill_allowed(d("2026-09-30"), d("2026-10-12"), 3, calendar) is False
    assert working_days_between(d("2026-09-25"), d("2026-10-08"), calendar) == 4


def test_expected_days() -> None:
    nov = Period.month(2026, 11)
    assert len(expected_days(nov, MonFri())) == 21
    assert expected_days(nov, MonFri(), until=d("2026-11-06")) == [
        d("2026-11-02"),
        d("2026-11-03"),
        d("2026-11-04"),
        d("2026-11-05"),
        d("2026-11-06"),
    ]
    assert expected_days(nov, MonFri(), until=d("2026-10-31")) == []
    assert len(expected_days(nov, MonFri(), until=d("2027-01-01"))) == 21
    week = Period.week_of(d("2026-10-08"))
    holidays = {d("2026-10-01") + timedelta(days=i) for i in range(7)}
    calendar = MonFri(holidays=holidays, workdays={d("2026-10-10")})
    assert expected_days(week, calendar) == [d("2026-10-08"), d("2026-10-09"), d("2026-10-10")]
