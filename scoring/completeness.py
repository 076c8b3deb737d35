"""Log completeness (应记/已记/请假 days) for one cadre over a span of days."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Completeness:
    """`expected` counts working days that are not excused; `rate` is None when nothing is due."""

    expected: int
    logged: int
    excused: int
    missing: tuple[date, ...]

    @property
    def rate(self) -> float | None:
        return None if self.expected == 0 else self.logged / self.expected


class DueDays:
    """The working days of a span as of `today`, prepared once for many people.

    Days before today are due; today is due only once something is logged for it; later days
    never are. A logged day counts even when it is also excused.
    """

    def __init__(self, working_days: Iterable[date], today: date) -> None:
        working = set(working_days)
        self.past = frozenset(d for d in working if d < today)
        self.today = today if today in working else None

    def of(self, logged: set[date], excused: set[date], since: date | None = None) -> Completeness:
        """Completeness of one person; `since`: the first day on the roster, if any."""
        past = self.past if since is None else frozenset(d for d in self.past if d >= since)
        done = len(past & logged)
        if (
            self.today is not None
            and self.today in logged
            and (since is None or since <= self.today)
        ):
            done += 1
            due = len(past) + 1
        else:
            due = len(past)
        excused_due = past & excused
        excused_due -= logged
        missing = past - logged - excused
        return Completeness(
            expected=due - len(excused_due),
            logged=done,
            excused=len(excused_due),
            missing=tuple(sorted(missing)),
        )


def completeness(
    working_days: Iterable[date],
    logged_days: Iterable[date],
    excused_days: Iterable[date],
    today: date,
) -> Completeness:
    """Completeness over `working_days`, counting today only once something is logged for it.

    A logged day counts even when it is also excused; days after `today` are never due.
    """
    return DueDays(working_days, today).of(set(logged_days), set(excused_days))
