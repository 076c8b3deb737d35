"""The working-day calendar: Mon–Fri plus the admin's holidays and make-up working days (调休)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date


class WorkCalendar:
    """Mon–Fri working days, corrected by configured holidays and make-up working days.

    The official State Council calendar is added by a later change; until then the admin's
    `calendar.extra_holidays` / `calendar.extra_workdays` carry the public holidays.
    """

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)

    def is_working_day(self, day: date) -> bool:
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        return day.weekday() < 5
