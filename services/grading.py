"""The grade table (考核表): completeness, ratings, scores and suggested grades per cadre.

One read of the whole scope (a rater's units, or the city) with a fixed number of set-based
queries per quarter of the period, the rules applied in memory (scoring.grades), and the
result as plain rows in the export's column order. The same report serves `worklog score`,
`worklog export` and /grades.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from scoring.completeness import Completeness
from scoring.dates import Period
from scoring.grades import (
    CadreFacts,
    Grade,
    GradeResult,
    QuarterFacts,
    Rank,
    Rating,
    ScoringRules,
    grade_unit,
    leading_rating,
    rank,
)
from services import zh
from services.clock import Clock
from services.entries import LogPolicy
from services.errors import NotAllowed
from services.outbox import Confirm, commit
from services.periods import period_asked
from storage.models import Absence, Role
from storage.repositories import EntryCounts, PeopleScope
from storage.scoring import FormFacts, GradedPerson
from storage.uow import UnitOfWork, UowFactory

NO_CATEGORY = ""
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GradeRow:
    """One cadre's row of the export; `columns()` gives DESIGN.md's columns in order."""

    unit: str
    roster_id: str
    name: str
    position: str
    expected: int
    logged: int
    excused: int
    rate: float | None
    late: int
    entries: int
    flagged: int
    positive: int
    negative: int
    forms: str  # 5+2已交: 是/否 for a quarter, "2/4" over several
    self_assessment: str
    evaluation: str
    ratings: str  # 评定等次
    score: float | None
    grade: Grade | None
    explanation: str
    category: str
    rank: Rank | None

    def columns(self) -> list[object]:
        return [
            self.unit,
            self.roster_id,
            self.name,
            self.position,
            self.expected,
            self.logged,
            self.excused,
            "" if self.rate is None else round(self.rate * 100, 1),
            self.late,
            self.entries,
            self.flagged,
            self.positive,
            self.negative,
            self.forms,
            self.self_assessment,
            self.evaluation,
            self.ratings,
            "" if self.score is None else self.score,
            self.grade.value if self.grade else "",
            self.explanation,
        ]


@dataclass(frozen=True, slots=True)
class UnitSummary:
    unit: str
    category: str
    cadres: int
    expected: int
    logged: int
    ratings: dict[Rating, int]
    grades: dict[Grade, int]
    mean_score: float | None

    @property
    def rate(self) -> float | None:
        return None if self.expected == 0 else self.logged / self.expected


@dataclass(frozen=True)
class GradeReport:
    period: Period
    quarters: tuple[str, ...]
    rows: tuple[GradeRow, ...]
    units: tuple[UnitSummary, ...]
    to_date: bool  # the period is still running: figures are up to today


@dataclass
class _Quarter:
    """One quarter's facts of everyone, as read."""

    period: Period
    activity: dict[int, tuple[Completeness, EntryCounts]]
    comments: dict[int, tuple[int, int]]
    reminded: dict[int, set[date]]


class GradingService:
    """Builds the grade table for a period over the city or a rater's units."""

    def __init__(
        self, uow: UowFactory, clock: Clock, policy: LogPolicy, rules: ScoringRules
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy
        self.rules = rules

    def today(self) -> date:
        return self.policy.work_date(self.clock.now())

    def period(self, text: str | None) -> Period:
        """A quarter, half year or year (default: this quarter); months are refused."""
        return period_asked(
            text, self.today(), "quarter", ("quarter", "half", "year"), zh.GRADES_PERIOD_KIND
        )

    async def report(self, period: Period, unit_ids: Sequence[int] | None = None) -> GradeReport:
        """The grade table of every active cadre (of `unit_ids`, or everyone)."""
        async with self.uow() as uow:
            return await self._report(uow, period, unit_ids)

    async def rater_report(
        self,
        rater_id: int,
        period_text: str | None = None,
        confirm: Confirm[GradeReport] | None = None,
    ) -> GradeReport:
        """/grades: the table of the rater's unit and the units below it; the read is audited.

        Read in one unit of work, the file built outside any (in a worker thread: a city's
        table takes seconds), then the audit line and the reply committed in a short second.
        """
        period = self.period(period_text)
        async with self.uow() as uow:
            rater = await uow.people.get(rater_id)
            if rater is None or not rater.active:
                raise NotAllowed(zh.NOT_REGISTERED)
            if Role.RATER not in rater.role_set and Role.ADMIN not in rater.role_set:
                raise NotAllowed(zh.GRADES_NOT_RATER)
            units = (
                None
                if Role.ADMIN in rater.role_set
                else await uow.people.unit_subtree(rater.unit_id)
            )
            report = await self._report(uow, period, units)
        if confirm is not None:
            await confirm.prepare(report)
        async with self.uow() as uow:
            await uow.audit.record(
                self.clock.now(),
                "grades_export",
                actor_person_id=rater_id,
                command="grades",
                detail={"period": period.label, "rows": len(report.rows)},
            )
            return await commit(uow, confirm, report, self.clock.now())

    async def _report(
        self, uow: UnitOfWork, period: Period, unit_ids: Sequence[int] | None
    ) -> GradeReport:
        today = self.today()
        scope = PeopleScope(
            unit_ids=tuple(unit_ids) if unit_ids is not None else None, active_only=True
        )
        people = await uow.scoring.people(scope)
        joined = {p.id: p.joined_on for p in people if p.joined_on is not None}
        quarters = _quarters(period)
        labels = [q.label for q in quarters]
        facts = [await self._quarter(uow, scope, q, today, people, joined) for q in quarters]
        ratings = await uow.scoring.ratings_in(scope, labels)
        forms = await uow.scoring.forms_in(scope, labels)
        evaluations = await uow.scoring.evaluations_in(scope, labels)
        bonus_units = {cap.unit_id for q in labels for cap in await uow.scoring.caps(q)}
        return self._assemble(
            period, today, people, quarters, facts, ratings, forms, evaluations, bonus_units
        )

    async def _quarter(
        self,
        uow: UnitOfWork,
        scope: PeopleScope,
        quarter: Period,
        today: date,
        people: list[GradedPerson],
        joined: dict[int, date],
    ) -> _Quarter:
        if quarter.start > today:
            return _Quarter(quarter, {}, {}, {})
        logged = await uow.entries.activity(scope, quarter.start, quarter.end, flagged=True)
        spans = await uow.entries.excused_spans(scope, quarter.start, quarter.end)
        due = self.policy.due_days(quarter, today)
        nothing: tuple[set[date], EntryCounts] = (set(), EntryCounts(0, 0, 0))
        no_spans: list[Absence] = []
        activity = {}
        for person in people:
            days, counts = logged.get(person.id, nothing)
            done = self.policy.completeness(
                quarter, days, spans.get(person.id, no_spans), today, due, joined.get(person.id)
            )
            activity[person.id] = (done, counts)
        tz = self.policy.rules.tz
        start_at = datetime.combine(quarter.start, time(), tz)
        end_at = datetime.combine(quarter.end + timedelta(days=1), time(), tz)
        return _Quarter(
            quarter,
            activity,
            await uow.scoring.comment_counts(scope, start_at, end_at),
            await uow.scoring.reminded_days(scope, quarter.start, quarter.end),
        )

    def _assemble(
        self,
        period: Period,
        today: date,
        people: list[GradedPerson],
        quarters: list[Period],
        facts: list[_Quarter],
        ratings: dict[int, dict[str, str]],
        forms: dict[int, dict[str, FormFacts]],
        evaluations: dict[int, dict[str, str]],
        bonus_units: set[int],
    ) -> GradeReport:
        rules = self.rules
        cadres: dict[int, CadreFacts] = {}
        for person in people:
            rated = ratings.get(person.id, {})
            own_forms = forms.get(person.id, {})
            evaluated = evaluations.get(person.id, {})
            quarter_facts = []
            reminded_missing = 0
            for quarter, q in zip(quarters, facts, strict=True):
                done = q.activity.get(person.id)
                plus, minus = q.comments.get(person.id, (0, 0))
                form = own_forms.get(quarter.label)
                grade = rated.get(quarter.label)
                quarter_facts.append(
                    QuarterFacts(
                        int(quarter.label[-1]),
                        done[0].rate if done else None,
                        plus,
                        minus,
                        Rating(grade) if grade else None,
                        leading_rating(form.self_assessment if form else None),
                        leading_rating(evaluated.get(quarter.label)),
                    )
                )
                if done:
                    reminded = q.reminded.get(person.id, set())
                    reminded_missing += sum(1 for d in done[0].missing if d in reminded)
            cadres[person.id] = CadreFacts(
                person.id, person.unit_id, tuple(quarter_facts), reminded_missing
            )

        by_unit: dict[int, list[CadreFacts]] = {}
        for cadre in cadres.values():
            by_unit.setdefault(cadre.unit_id, []).append(cadre)
        results: dict[int, GradeResult] = {}
        for unit_id, members in by_unit.items():
            share = rules.excellent_cap_percent + (
                rules.excellent_cap_bonus_percent if unit_id in bonus_units else 0
            )
            results |= grade_unit(members, rules, min(100.0, share))

        categories: dict[str, dict[int, float | None]] = {}
        for person in people:
            categories.setdefault(person.category or NO_CATEGORY, {})[person.id] = results[
                person.id
            ].score
        ranks: dict[int, Rank] = {}
        for scores in categories.values():
            ranks |= rank(scores, rules)

        rows = []
        for person in people:
            result = results[person.id]
            totals = _totals(person.id, facts)
            rated = ratings.get(person.id, {})
            own_forms = forms.get(person.id, {})
            evaluated = evaluations.get(person.id, {})
            latest = quarters[-1].label if quarters else ""
            form = own_forms.get(latest) if len(quarters) == 1 else _latest(own_forms, quarters)
            category = person.category or NO_CATEGORY
            rows.append(
                GradeRow(
                    person.unit_name,
                    person.roster_id,
                    person.name,
                    person.position,
                    *totals,
                    _forms_cell(own_forms, quarters),
                    (form.self_assessment or "") if form else "",
                    _latest(evaluated, quarters) or "",
                    _ratings_cell(rated, quarters),
                    result.score,
                    result.grade,
                    zh.grade_explanation(
                        result.reasons, ranks.get(person.id), category or zh.NO_CATEGORY
                    ),
                    category,
                    ranks.get(person.id),
                )
            )
        return GradeReport(
            period,
            tuple(q.label for q in quarters),
            tuple(rows),
            _summaries(rows, ratings, people, quarters),
            period.end >= today,
        )


def _quarters(period: Period) -> list[Period]:
    """The quarters that make up a quarter, half year or year."""
    quarters = []
    q = Period.containing("quarter", period.start)
    while q.start <= period.end:
        quarters.append(q)
        q = q.next()
    return quarters


def _totals(
    pid: int, facts: list[_Quarter]
) -> tuple[int, int, int, float | None, int, int, int, int, int]:
    expected = logged = excused = late = entries = flagged = plus = minus = 0
    for q in facts:
        done = q.activity.get(pid)
        if done is not None:
            expected += done[0].expected
            logged += done[0].logged
            excused += done[0].excused
            late += done[1].late
            entries += done[1].total
            flagged += done[1].flagged
        p, m = q.comments.get(pid, (0, 0))
        plus += p
        minus += m
    rate = None if expected == 0 else logged / expected
    return expected, logged, excused, rate, late, entries, flagged, plus, minus


def _latest(by_quarter: dict[str, T], quarters: list[Period]) -> T | None:
    for q in reversed(quarters):
        if q.label in by_quarter:
            return by_quarter[q.label]
    return None


def _forms_cell(forms: dict[str, FormFacts], quarters: list[Period]) -> str:
    submitted = sum(1 for q in quarters if (f := forms.get(q.label)) and f.submitted)
    if len(quarters) == 1:
        return zh.YES if submitted else zh.NO
    return f"{submitted}/{len(quarters)}"


def _ratings_cell(rated: dict[str, str], quarters: list[Period]) -> str:
    if len(quarters) == 1:
        grade = rated.get(quarters[0].label)
        return Rating(grade).word if grade else ""
    if not rated:
        return ""
    return " ".join(
        f"Q{q.label[-1]}{Rating(rated[q.label]).word if q.label in rated else '—'}"
        for q in quarters
    )


def _summaries(
    rows: list[GradeRow],
    ratings: dict[int, dict[str, str]],
    people: list[GradedPerson],
    quarters: list[Period],
) -> tuple[UnitSummary, ...]:
    by_unit: dict[str, list[GradeRow]] = {}
    for row in rows:
        by_unit.setdefault(row.unit, []).append(row)
    latest = quarters[-1].label if quarters else ""
    unit_of = {p.id: p.unit_name for p in people}
    rating_counts: dict[str, Counter[Rating]] = {}
    for pid, rated in ratings.items():
        if latest in rated and pid in unit_of:
            rating_counts.setdefault(unit_of[pid], Counter())[Rating(rated[latest])] += 1
    summaries = []
    for unit, members in sorted(by_unit.items()):
        scores = [m.score for m in members if m.score is not None]
        summaries.append(
            UnitSummary(
                unit,
                members[0].category,
                len(members),
                sum(m.expected for m in members),
                sum(m.logged for m in members),
                dict(rating_counts.get(unit, Counter())),
                dict(Counter(m.grade for m in members if m.grade is not None)),
                round(sum(scores) / len(scores), 1) if scores else None,
            )
        )
    return tuple(summaries)
