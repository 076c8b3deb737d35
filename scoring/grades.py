"""Ratings, the 好 quota, performance scores (实绩得分), annual grades and rankings.

The seeds' rules, each configurable through `ScoringRules`:
- a unit's party committee rates each cadre 好 / 较好 / 一般 / 差 per quarter, and 好 may go to
  at most `good_cap_percent` of the unit's cadres (40 %, rounded down: 6 cadres → 2), unless
  the unit has its own cap for that quarter (`000_…txt`; `001_…txt`: 60–80 % for top units);
- the rating converts to points; the score mixes them with log completeness and the
  positive / negative comments; the rating may itself be a mix of self, department and
  leader ratings (`002_…txt`: 30 / 30 / 40); quarters weigh into the year (`004_…txt`);
- only a cadre rated 好 can be 优秀, within the unit's 优秀 share; unexcused missing days
  after reminders cap the grade at 基本称职 (`000_…txt`);
- the top and bottom of each unit category are singled out (`003_…txt`: 30 % / 10 %).

Pure: plain values in, plain values out. Reasons are codes with numbers (`Reason`); the words
a cadre reads are in `services.zh`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Rating(StrEnum):
    """实绩评价 等次, best first."""

    GOOD = "good"  # 好
    FAIR = "fair"  # 较好
    AVERAGE = "average"  # 一般
    POOR = "poor"  # 差

    @property
    def word(self) -> str:
        return RATING_WORDS[self]


RATING_WORDS = {
    Rating.GOOD: "好",
    Rating.FAIR: "较好",
    Rating.AVERAGE: "一般",
    Rating.POOR: "差",
}
_RATING_BY_WORD = {word: rating for rating, word in RATING_WORDS.items()}


def parse_rating(word: str) -> Rating | None:
    """The rating a word names (好 / 较好 / 一般 / 差), or None."""
    return _RATING_BY_WORD.get(word.strip())


def leading_rating(text: str | None) -> Rating | None:
    """The rating a free text opens with ("较好。该同志…", "自评：好"), or None.

    Self-assessments (自评) and leader evaluations (领导评鉴) are free text; a rating word at
    their start, followed by punctuation, a space or nothing, is what the optional self /
    leader weights use: "好的，…", "一般来说…" and "差不多完成" name no rating.
    """
    if not text:
        return None
    match = _LEADING_RATING.match(text)
    return _RATING_BY_WORD[match.group(1)] if match else None


_LEADING_RATING = re.compile(
    r"^\s*(?:(?:领导)?评鉴|自评|等次)?\s*[：:，,]?\s*(较好|一般|好|差)(?=$|[\s。.，,；;！!、：:（(])"
)


class Grade(StrEnum):
    """年度考核 等次, best first."""

    EXCELLENT = "优秀"
    COMPETENT = "称职"
    BASIC = "基本称职"
    INCOMPETENT = "不称职"


class Rounding(StrEnum):
    """How a share of a head count becomes a whole number of people."""

    DOWN = "down"
    NEAREST = "nearest"  # halves round up
    UP = "up"


def share_of(count: int, percent: float, rounding: Rounding) -> int:
    """`percent` % of `count` people as a whole number (40 % of 6 rounded down is 2)."""
    if count <= 0:
        return 0
    # Work in hundredths of a person so 40 % of 5 is exactly 2, not 1.9999….
    # Only float noise is rounded away: 33.3 % of 3 is 0.999 (down 0), 0.5 % of 1 is 0.005 (up 1).
    hundredths = round(count * percent, 6)
    whole, rest = divmod(hundredths, 100)
    if (rounding is Rounding.UP and rest) or (rounding is Rounding.NEAREST and rest >= 50):
        whole += 1
    return min(int(whole), count)


@dataclass(frozen=True)
class Quota:
    """A unit's 好 quota for a quarter: `limit` of its `cadres` may be rated 好."""

    cadres: int
    percent: float
    limit: int
    used: int
    overridden: bool = False  # the unit has its own cap for the quarter

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


def good_quota(
    cadres: int, used: int, percent: float, rounding: Rounding, overridden: bool = False
) -> Quota:
    return Quota(cadres, percent, share_of(cadres, percent, rounding), used, overridden)


def rating_allowed(quota: Quota, current: Rating | None, new: Rating) -> bool:
    """Whether rating a cadre `new` (now `current`) keeps 好 within the quota.

    Only a new 好 takes a place; keeping a 好 or giving anything else never breaks the cap.
    """
    return new is not Rating.GOOD or current is Rating.GOOD or quota.used < quota.limit


def valid_cap_percent(percent: float) -> bool:
    return 0 <= percent <= 100 and not math.isnan(percent)


# ---------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoringRules:
    """Every weight and threshold of the scores and grades; defaults in config.example.toml."""

    good_cap_percent: float = 40.0
    rounding: Rounding = Rounding.DOWN
    rating_points: Mapping[Rating, float] = field(
        default_factory=lambda: {
            Rating.GOOD: 95.0,
            Rating.FAIR: 85.0,
            Rating.AVERAGE: 75.0,
            Rating.POOR: 60.0,
        }
    )
    # 实绩得分 = rating points × weight_rating + completeness (0–100) × weight_completeness
    #           + comment points (capped), clamped to 0–100.
    weight_rating: float = 0.7
    weight_completeness: float = 0.3
    positive_comment_points: float = 1.0
    positive_comment_cap: float = 5.0
    negative_comment_points: float = 2.0
    negative_comment_cap: float = 10.0
    # The rating's own mix: department = the party committee's /rate; self and leader are the
    # rating words opening the 5+2 self-assessment and the 领导评鉴 (0 = not used).
    weight_self: float = 0.0
    weight_department: float = 1.0
    weight_leader: float = 0.0
    # Quarter 1..4 weights of the year (equal; 10/20/30/40 is the seeds' alternative).
    quarter_weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    # Annual grade thresholds on the score, and the 优秀 share of a unit's graded cadres.
    excellent_min_score: float = 90.0
    competent_min_score: float = 70.0
    basic_min_score: float = 60.0
    excellent_cap_percent: float = 20.0
    # Units with their own 好 cap in the period (top-ranked, `001_…txt`) get this much more.
    excellent_cap_bonus_percent: float = 15.0
    # More unexcused missing days than this, each after a reminder: at most 基本称职.
    missing_days_limit: int = 5
    # Flagged within each unit category.
    top_percent: float = 30.0
    bottom_percent: float = 10.0


@dataclass(frozen=True)
class Reason:
    """Why a score or grade came out as it did: a code and its numbers (worded in services.zh)."""

    code: str
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class QuarterFacts:
    """What one quarter of a cadre's record holds, as the score needs it."""

    quarter: int  # 1..4
    completeness: float | None  # None: nothing was due
    positive: int = 0
    negative: int = 0
    rating: Rating | None = None  # the party committee's (department) rating
    self_rating: Rating | None = None
    leader_rating: Rating | None = None


def rating_points(facts: QuarterFacts, rules: ScoringRules) -> float | None:
    """The rating part of a quarter's score; None without the department rating.

    Self and leader ratings count with their weights when present; a missing one gives its
    weight to the others in proportion.
    """
    if facts.rating is None:
        return None
    parts = [
        (rules.weight_department, facts.rating),
        (rules.weight_self, facts.self_rating),
        (rules.weight_leader, facts.leader_rating),
    ]
    present = [(w, r) for w, r in parts if r is not None and w > 0]
    total = sum(w for w, _ in present)
    if total <= 0:
        return rules.rating_points[facts.rating]
    return sum(w * rules.rating_points[r] for w, r in present) / total


def comment_points(positive: int, negative: int, rules: ScoringRules) -> float:
    plus = min(positive * rules.positive_comment_points, rules.positive_comment_cap)
    minus = min(negative * rules.negative_comment_points, rules.negative_comment_cap)
    return plus - minus


def quarter_score(facts: QuarterFacts, rules: ScoringRules) -> float | None:
    """实绩得分 of one quarter (0–100, one decimal), or None when the quarter is not rated."""
    points = rating_points(facts, rules)
    if points is None:
        return None
    rate = 1.0 if facts.completeness is None else facts.completeness
    weights = rules.weight_rating + rules.weight_completeness
    base = (points * rules.weight_rating + rate * 100 * rules.weight_completeness) / (weights or 1)
    score = base + comment_points(facts.positive, facts.negative, rules)
    return round(min(100.0, max(0.0, score)), 1)


def period_score(quarters: Sequence[QuarterFacts], rules: ScoringRules) -> float | None:
    """The quarters' scores weighted into the period (the year); unrated quarters drop out."""
    scored = [(rules.quarter_weights[q.quarter - 1], quarter_score(q, rules)) for q in quarters]
    counted = [(w, s) for w, s in scored if s is not None and w > 0]
    total = sum(w for w, _ in counted)
    if total <= 0:
        return None
    return round(sum(w * s for w, s in counted) / total, 1)


def period_rating(quarters: Sequence[QuarterFacts]) -> Rating | None:
    """The rating that decides 优秀: that of the period's latest rated quarter."""
    rated = [q for q in sorted(quarters, key=lambda q: q.quarter) if q.rating is not None]
    return rated[-1].rating if rated else None


# ---------------------------------------------------------------------------
# Grades
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CadreFacts:
    """One cadre's period, as grading needs it."""

    person_id: int
    unit_id: int
    quarters: tuple[QuarterFacts, ...]
    reminded_missing_days: int = 0  # unexcused missing working days that had a reminder


@dataclass(frozen=True)
class GradeResult:
    person_id: int
    score: float | None
    rating: Rating | None
    grade: Grade | None  # None: not rated yet, no suggestion
    reasons: tuple[Reason, ...]


def _score_grade(score: float, rules: ScoringRules) -> Grade:
    if score >= rules.competent_min_score:
        return Grade.COMPETENT
    if score >= rules.basic_min_score:
        return Grade.BASIC
    return Grade.INCOMPETENT


def _cap(grade: Grade, ceiling: Grade) -> Grade:
    order = list(Grade)
    return order[max(order.index(grade), order.index(ceiling))]


def grade_unit(
    cadres: Iterable[CadreFacts], rules: ScoringRules, excellent_cap_percent: float | None = None
) -> dict[int, GradeResult]:
    """Suggested grades (年度建议等次) of one unit's cadres, with the reasons for each.

    优秀 goes, best score first, to cadres rated 好 with at least `excellent_min_score`, up to
    the unit's 优秀 share of its cadres (rated or not, as the 好 quota counts them); ties at
    the last place are broken by person id (stable, and stated). The other grades follow the
    score thresholds, then the ceilings.
    """
    people = list(cadres)
    results: dict[int, GradeResult] = {}
    candidates: list[tuple[float, int]] = []
    pending: dict[int, tuple[float | None, Rating | None, Grade | None, list[Reason]]] = {}
    for cadre in people:
        score = period_score(cadre.quarters, rules)
        rating = period_rating(cadre.quarters)
        reasons: list[Reason] = []
        grade: Grade | None = None
        if score is None:
            reasons.append(Reason("not_rated"))
        else:
            grade = _score_grade(score, rules)
            reasons.append(
                Reason(
                    "score_band",
                    {
                        "score": score,
                        "grade": grade.value,
                        "competent": rules.competent_min_score,
                        "basic": rules.basic_min_score,
                    },
                )
            )
            if rating is Rating.GOOD and score >= rules.excellent_min_score:
                candidates.append((score, cadre.person_id))
            elif score >= rules.excellent_min_score:
                reasons.append(
                    Reason("excellent_needs_good", {"rating": rating.word if rating else "—"})
                )
            if rating is Rating.POOR:
                capped = _cap(grade, Grade.BASIC)
                if capped is not grade:
                    reasons.append(Reason("poor_rating_ceiling"))
                grade = capped
        if cadre.reminded_missing_days > rules.missing_days_limit:
            reasons.append(
                Reason(
                    "missing_days_ceiling",
                    {"days": cadre.reminded_missing_days, "limit": rules.missing_days_limit},
                )
            )
            if grade is not None:
                grade = _cap(grade, Grade.BASIC)
        pending[cadre.person_id] = (score, rating, grade, reasons)

    # The share is of everyone taking part (the unit's cadres), as the 好 quota is.
    graded = len(people)
    percent = (
        rules.excellent_cap_percent if excellent_cap_percent is None else excellent_cap_percent
    )
    places = share_of(graded, percent, rules.rounding)
    candidates.sort(key=lambda c: (-c[0], c[1]))
    given = 0
    for score, pid in candidates:
        _, rating, grade, reasons = pending[pid]
        ceilinged = grade is Grade.BASIC or grade is Grade.INCOMPETENT
        if ceilinged:
            continue
        if given < places:
            given += 1
            pending[pid] = (score, rating, Grade.EXCELLENT, reasons)
            reasons.append(
                Reason(
                    "excellent",
                    {
                        "score": score,
                        "min": rules.excellent_min_score,
                        "place": given,
                        "places": places,
                    },
                )
            )
        else:
            reasons.append(Reason("excellent_share_full", {"places": places, "graded": graded}))
    for pid, (score, rating, grade, reasons) in pending.items():
        results[pid] = GradeResult(pid, score, rating, grade, tuple(reasons))
    return results


# ---------------------------------------------------------------------------
# Ranking within a unit category
# ---------------------------------------------------------------------------


class Standing(StrEnum):
    TOP = "top"  # 前 30 %
    BOTTOM = "bottom"  # 后 10 %


@dataclass(frozen=True)
class Rank:
    place: int  # 1 = best; equal scores share a place
    of: int
    standing: Standing | None


def rank(scores: Mapping[int, float | None], rules: ScoringRules) -> dict[int, Rank]:
    """Places by score within one unit category, the top and bottom shares flagged.

    Unscored people are not ranked. Equal scores share a place, and a share's border never
    splits them: all of a tied group are in it or none (so the flagged counts may be fewer).
    """
    scored = sorted(((s, pid) for pid, s in scores.items() if s is not None), key=lambda x: -x[0])
    total = len(scored)
    top = share_of(total, rules.top_percent, Rounding.DOWN)
    bottom = share_of(total, rules.bottom_percent, Rounding.DOWN)
    ranks: dict[int, Rank] = {}
    first = 0
    while first < total:  # one group of equal scores at a time: places first+1 .. last+1
        last = first
        while last + 1 < total and scored[last + 1][0] == scored[first][0]:
            last += 1
        standing = None
        if last + 1 <= top:
            standing = Standing.TOP
        elif first + 1 > total - bottom:
            standing = Standing.BOTTOM
        for _, pid in scored[first : last + 1]:
            ranks[pid] = Rank(first + 1, total, standing)
        first = last + 1
    return ranks
