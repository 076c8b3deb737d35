"""The working-day calendar: the official schedule, the Mon–Fri fallback and the overrides."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from scheduler import calendar as calendar_module
from scheduler.calendar import OFFICIAL_YEARS, DayInfo, WorkCalendar
from scoring.dates import Period, backfill_allowed, expected_days


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the once-per-process warnings as if the process had just started."""
    monkeypatch.setattr(calendar_module, "_warned_years", set())


def test_the_package_knows_the_published_years() -> None:
    assert set(range(2004, 2027)) <= OFFICIAL_YEARS
    assert 1999 not in OFFICIAL_YEARS and 2100 not in OFFICIAL_YEARS
    assert WorkCalendar().has_official(2026)


@pytest.mark.parametrize(
    ("day", "working", "name", "make_up"),
    [
        ("2026-10-01", False, "National Day", False),  # Thursday, 国庆节
        ("2026-10-07", False, "National Day", False),  # Wednesday, still 国庆节
        ("2026-10-08", True, None, False),
        ("2026-10-10", True, "National Day", True),  # Saturday worked instead (调休)
        ("2026-09-20", True, "National Day", True),  # a Sunday worked
        ("2026-02-16", False, "Spring Festival", False),
        ("2026-02-14", True, "Spring Festival", True),
        ("2026-01-01", False, "New Year's Day", False),
        ("2026-11-21", False, None, False),  # a plain Saturday
        ("2026-11-23", True, None, False),  # a plain Monday
        ("2025-01-28", False, "Spring Festival", False),
    ],
)
def test_official_days(day: str, working: bool, name: str | None, make_up: bool) -> None:
    calendar = WorkCalendar()
    assert calendar.is_working_day(d(day)) is working
    assert calendar.explain(d(day)) == DayInfo(working, "package", name, make_up)


def test_every_official_day_agrees_with_the_package() -> None:
    calendar = WorkCalendar()
    for year in sorted(OFFICIAL_YEARS):
        for day in Period.year(year).days():
            assert calendar.is_working_day(day) is chinese_calendar.is_workday(day), day


def test_overrides_take_precedence_over_the_package() -> None:
    calendar = WorkCalendar(
        holidays=[d("2026-11-23"), d("2026-10-02")], workdays=[d("2026-10-02"), d("2026-11-21")]
    )
    # A day in both lists is a working day.
    assert calendar.explain(d("2026-10-02")) == DayInfo(True, "override", "National Day", True)
    assert calendar.explain(d("2026-11-21")) == DayInfo(True, "override", None, True)
    assert calendar.explain(d("2026-11-23")) == DayInfo(False, "override", None, False)
    assert calendar.is_working_day(d("2026-11-21"))
    assert not calendar.is_working_day(d("2026-11-23"))
    # A working day listed as a working day again is no make-up day.
    assert WorkCalendar(workdays=[d("2026-11-23")]).explain(d("2026-11-23")).make_up is False
    assert calendar.missing_years() == ()


@pytest.mark.parametrize("year", [1999, 2027, 2030, 2100])
def test_other_years_fall_back_to_monday_to_friday(year: int) -> None:
    calendar = WorkCalendar()
    expected = "package" if year in OFFICIAL_YEARS else "fallback"
    for day in Period.year(year).days():
        info = calendar.explain(day)
        assert info.source == expected
        assert calendar.is_working_day(day) is info.working
        if expected == "fallback":
            assert info == DayInfo(day.weekday() < 5, "fallback")
    assert calendar.missing_years() == (() if year in OFFICIAL_YEARS else (year,))


def test_overrides_apply_to_fallback_years() -> None:
    calendar = WorkCalendar(holidays=[d("2030-10-01")], workdays=[d("2030-09-29")])
    assert calendar.explain(d("2030-10-01")) == DayInfo(False, "override")  # a Tuesday
    assert calendar.explain(d("2030-09-29")) == DayInfo(True, "override", None, True)  # Sunday
    assert calendar.explain(d("2030-10-02")) == DayInfo(True, "fallback")
    assert not calendar.is_working_day(d("2030-10-01"))
    assert calendar.is_working_day(d("2030-09-29"))


def test_no_date_raises() -> None:
    calendar = WorkCalendar(holidays=[date.max], workdays=[date.min])
    for day in (date.min, date.max, d("1999-12-31"), d("2100-02-28"), d("2400-02-29")):
        calendar.is_working_day(day)
        calendar.explain(day)
    assert calendar.is_working_day(date.min) and not calendar.is_working_day(date.max)
    # Every day of a century around the published years.
    day, last = d("1999-01-01"), d("2100-12-31")
    while day <= last:
        assert isinstance(calendar.is_working_day(day), bool)
        day += timedelta(days=1)


def test_a_datetime_counts_as_its_date() -> None:
    calendar = WorkCalendar()
    assert calendar.is_working_day(datetime(2026, 10, 10, 9)) is True
    assert calendar.is_working_day(datetime(2026, 10, 1, 9)) is False
    assert calendar.explain(datetime(2026, 10, 1, 9)).holiday_name == "National Day"


def test_a_missing_year_is_warned_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler.calendar")
    first, second = WorkCalendar(), WorkCalendar()
    for day in Period.month(2030, 1).days():
        first.is_working_day(day)
        second.is_working_day(day)
    first.explain(d("2030-05-01"))
    first.is_working_day(d("2031-03-03"))
    second.is_working_day(d("2026-03-03"))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2
    assert "2030" in warned[0] and "2031" in warned[1]
    assert first.missing_years() == (2030, 2031)
    assert second.missing_years() == (2030,)


def test_a_year_is_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The completeness loops ask about every day for every cadre: each year is built once."""
    calendar = WorkCalendar()
    calls = 0
    explain = calendar.explain

    def counting(day: date) -> DayInfo:
        nonlocal calls
        calls += 1
        return explain(day)

    monkeypatch.setattr(calendar, "explain", counting)
    quarter = Period.quarter(2026, 4)
    for _ in range(1000):
        days = expected_days(quarter, calendar)
    assert calls == 365
    assert len(days) == 18 + 21 + 23  # October keeps 18 working days after the holidays


def test_backfill_window_over_national_day() -> None:
    """补记 counts official working days: the National Day week does not use up the window."""
    calendar = WorkCalendar()
    today = d("2026-10-09")  # Friday after the National Day week
    # Working days before it: 10-08 (Thu), then 09-30 (Wed), 09-29 (Tue).
    assert backfill_allowed(d("2026-09-29"), today, 3, calendar)
    assert not backfill_allowed(d("2026-09-28"), today, 3, calendar)
    assert backfill_allowed(d("2026-10-03"), today, 3, calendar)  # a holiday inside the window
