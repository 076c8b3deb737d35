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


def completeness(
    working_days: Iterable[date],
    logged_days: Iterable[date],
    excused_days: Iterable[date],
    today: date,
) -> Completeness:
    """Completeness over `working_days`, counting today only once something is logged for it.

    A logged day counts even when it is also excused; days after `today` are never due.
    """
    logged = set(logged_days)
    excused = set(excused_days)
    due = [d for d in working_days if d < today or (d == today and d in logged)]
    done = [d for d in due if d in logged]
    excused_due = [d for d in due if d in excused and d not in logged]
    missing = tuple(d for d in due if d not in logged and d not in excused)
    return Completeness(
        expected=len(due) - len(excused_due),
        logged=len(done),
        excused=len(excused_due),
        missing=missing,
    )
