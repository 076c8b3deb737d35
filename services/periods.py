"""The period a command names (本月, 2026Q4, 上季度…), read the same way by every use case."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from scoring.dates import Period, PeriodKind, parse_period
from services import zh
from services.errors import UsageError


def period_asked(
    text: str | None,
    today: date,
    default: PeriodKind,
    kinds: Collection[str] = (),
    wrong_kind: str = "",
) -> Period:
    """The period in `text`, or the `default` kind's period containing today when empty.

    Unreadable and not yet started periods are refused; so is a period of another kind than
    `kinds` (when given), with `wrong_kind` as the reply ({text} is the typed period).
    """
    if not text:
        return Period.containing(default, today)
    period = parse_period(text, today)
    if period is None:
        raise UsageError(zh.BAD_PERIOD.format(text=text[:30]))
    if period.start > today:
        raise UsageError(zh.FUTURE_PERIOD.format(label=period.label))
    if kinds and period.kind not in kinds:
        raise UsageError(wrong_kind.format(text=text[:30]))
    return period
