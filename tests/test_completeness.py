from datetime import date, timedelta

import pytest

from scoring.completeness import completeness

MON = date(2026, 11, 16)
WEEK = [MON + timedelta(days=i) for i in range(5)]  # Mon..Fri


def d(i: int) -> date:
    return MON + timedelta(days=i)


@pytest.mark.parametrize(
    ("logged", "excused", "today", "expected", "done", "excused_n", "missing", "rate"),
    [
        ([], [], d(7), 5, 0, 0, WEEK, 0.0),
        (WEEK, [], d(7), 5, 5, 0, [], 1.0),
        ([d(0), d(1)], [d(2), d(3)], d(7), 3, 2, 2, [d(4)], 2 / 3),
        # today is not due until something is logged for it
        ([d(0)], [], d(2), 2, 1, 0, [d(1)], 0.5),
        ([d(0), d(2)], [], d(2), 3, 2, 0, [d(1)], 2 / 3),
        # a day that is both logged and excused counts as logged
        ([d(0)], [d(0), d(1)], d(2), 1, 1, 1, [], 1.0),
        # everything excused: nothing is due, the rate is undefined
        ([], WEEK, d(7), 0, 0, 5, [], None),
        # weekend entries do not raise the count above the working days
        ([d(5), d(6)], [], d(7), 5, 0, 0, WEEK, 0.0),
        # before the period starts nothing is due
        ([], [], d(0), 0, 0, 0, [], None),
    ],
)
def test_completeness_table(logged, excused, today, expected, done, excused_n, missing, rate):
    result = completeness(WEEK, logged, excused, today)
    assert result.expected == expected
    assert result.logged == done
    assert result.excused == excused_n
    assert list(result.missing) == missing
    if rate is None:
        assert result.rate is None
    else:
        assert result.rate == pytest.approx(rate)
