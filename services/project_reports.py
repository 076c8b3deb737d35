"""The organization department's project reports: the ledger (台账) and the quarterly unit
project score (项目建设考核) with every point traced to its project and rule.

The score's facts come from the ledger and the progress updates as they stood at the
quarter's end: the stage then, the investment reported by then, the stretches without an
update (迟报), and whether a project under construction reported any investment in the
quarter (数据质量); reporting is judged only from the day a project entered the ledger.
The 五个一 and the ledger's dates (签约, 开工, 入规) are read as the ledger has them now. The
points themselves are `scoring.projects`' pure rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from scoring.dates import Period
from scoring.projects import (
    FIVE_ONES,
    OPEN_STAGES,
    Investor,
    ProjectFacts,
    ProjectRules,
    RankedUnit,
    Rule,
    ScoreLine,
    Stage,
    format_amount,
    rank_units,
    score_unit,
    silence,
    stale_episodes,
)
from services import zh
from services.clock import Clock
from services.entries import LogPolicy
from services.periods import period_asked
from storage.models import Project
from storage.projects import LedgerRow, UpdateFact
from storage.uow import UowFactory


@dataclass(frozen=True)
class LedgerLine:
    """One project of the ledger export: the row, and how long it has been silent."""

    row: LedgerRow
    last_update_on: date | None
    silent_days: int
    stale: bool


@dataclass(frozen=True)
class Ledger:
    lines: tuple[LedgerLine, ...]
    today: date
    stale_days: int


@dataclass(frozen=True)
class UnitLine:
    rank: int
    unit_name: str
    projects: int
    ranked: RankedUnit


@dataclass(frozen=True)
class ProjectScoreReport:
    quarter: Period
    to_date: bool  # the quarter is still running: facts up to today
    units: tuple[UnitLine, ...]
    # Projects without a responsible unit: no unit's score can hold them.
    unassigned: tuple[str, ...]


def _missing_five_ones(project: Project) -> tuple[str, ...]:
    present = {
        "leader": project.leader_id is not None,
        "unit": project.unit_id is not None,
        "task_force": bool((project.task_force or "").strip()),
        "secretary": project.secretary_id is not None,
    }
    return tuple(part for part in FIVE_ONES if not present[part])


def _stage_at(project: Project, changes: Sequence[UpdateFact], day: date) -> Stage:
    """The stage on `day`: the last change by then, else what the first later change left."""
    before = [c for c in changes if c.work_date <= day]
    if before:
        return Stage(before[-1].stage_after)
    later = [c for c in changes if c.work_date > day]
    return Stage(later[0].stage_before) if later and later[0].stage_before else Stage(project.stage)


class ProjectReportService:
    """The ledger export and the quarterly unit project score."""

    def __init__(self, uow: UowFactory, clock: Clock, policy: LogPolicy, rules: ProjectRules):
        self.uow = uow
        self.clock = clock
        self.policy = policy
        self.rules = rules

    def today(self) -> date:
        return self.policy.work_date(self.clock.now())

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.policy.rules.tz).date()

    async def ledger(self) -> Ledger:
        """Every project with its 五个一, members, investment and last update."""
        today = self.today()
        async with self.uow() as uow:
            rows = await uow.projects.ledger()
        lines = []
        for row in rows:
            project = row.project
            last = project.last_update_at
            quiet = silence(
                Stage(project.stage),
                self._local_day(last) if last else None,
                self._local_day(project.created_at),
                today,
                self.rules.stale_days,
            )
            lines.append(LedgerLine(row, quiet.last_update_on, quiet.days, quiet.stale))
        return Ledger(tuple(lines), today, self.rules.stale_days)

    def quarter(self, text: str | None) -> Period:
        return period_asked(
            text, self.today(), "quarter", ("quarter",), zh.PROJECT_SCORE_QUARTER_ONLY
        )

    async def score(self, quarter_text: str | None) -> ProjectScoreReport:
        """Each unit's project score for the quarter, ranked, every line traceable."""
        quarter = self.quarter(quarter_text)
        today = self.today()
        end = min(quarter.end, today)
        async with self.uow() as uow:
            projects = await uow.projects.all_projects()
            updates = await uow.projects.updates()
            unit_names = await uow.projects.units_by_name()
        names = {unit_id: name for name, unit_id in unit_names.items()}
        changes: dict[int, list[UpdateFact]] = defaultdict(list)
        reports: dict[int, list[UpdateFact]] = defaultdict(list)
        for update in updates:
            if update.stage_after is not None:
                changes[update.project_id].append(update)
            reports[update.project_id].append(update)
        by_unit: dict[int, list[ProjectFacts]] = defaultdict(list)
        unassigned = []
        for project in projects:
            if project.unit_id is None:
                unassigned.append(project.name)
                continue
            by_unit[project.unit_id].append(
                self._facts(project, changes[project.id], reports[project.id], quarter, end)
            )
        scores = [
            score_unit(unit_id, facts, quarter.start, end, self.rules)
            for unit_id, facts in by_unit.items()
        ]
        units = tuple(
            UnitLine(r.rank, names.get(r.score.unit_id, ""), len(by_unit[r.score.unit_id]), r)
            for r in rank_units(scores)
        )
        return ProjectScoreReport(quarter, end < quarter.end, units, tuple(sorted(unassigned)))

    def _facts(
        self,
        project: Project,
        changes: Sequence[UpdateFact],
        reports: Sequence[UpdateFact],
        quarter: Period,
        end: date,
    ) -> ProjectFacts:
        stage = _stage_at(project, changes, end)
        amounts = [r for r in reports if r.completed_yuan is not None]
        known = [r.completed_yuan for r in amounts if r.work_date <= end]
        # Without any reported figure, the ledger's own (an import before updates existed).
        completed = known[-1] if known else (None if amounts else project.completed_yuan)
        since = self._local_day(project.created_at)
        # Reporting is judged only once the project is on the ledger: a ledger imported today
        # still earns last year's bonuses, but owes no reports from before it existed here.
        judged = since <= end
        by_cadres = [r.work_date for r in reports if r.by_person]
        episodes = (
            stale_episodes(by_cadres, since, quarter.start, end, self.rules.stale_days)
            if judged and stage in OPEN_STAGES
            else 0
        )
        # Figures an admin imported count as data too; staleness counts only cadres' reports.
        reported = not judged or any(quarter.start <= r.work_date <= end for r in amounts)
        return ProjectFacts(
            project_id=project.id,
            name=project.name,
            category=project.category,
            stage=stage,
            planned_yuan=project.planned_yuan,
            investor=Investor(project.investor) if project.investor else None,
            headquarters=project.headquarters,
            supervised=project.supervised,
            signed_on=project.signed_on,
            started_on=project.started_on,
            expected_on=project.expected_on,
            above_scale_on=project.above_scale_on,
            completed_yuan=completed,
            missing_five_ones=_missing_five_ones(project),
            stale_episodes=episodes,
            investment_reported=reported,
        )


_DEDUCTIONS = frozenset(
    {Rule.SUPERVISED_BEHIND, Rule.MISSING_FIVE_ONES, Rule.LATE_REPORT, Rule.POOR_DATA}
)


def rule_name(line: ScoreLine) -> str:
    """The 规则 cell: the rule in words, with its threshold when it has one."""
    threshold = line.values.get("threshold")
    amount = format_amount(threshold) if isinstance(threshold, int) else ""
    return zh.PROJECT_RULES[line.rule.value].format(threshold=amount)


def line_explanation(line: ScoreLine) -> str:
    """The 说明 cell: the facts that made the rule apply, and the cap if it bit."""
    values, details = line.values, zh.PROJECT_DETAILS
    parts: list[str] = []
    for key in ("signed_on", "started_on", "above_scale_on"):
        day = values.get(key)
        if isinstance(day, date):
            parts.append(details[key].format(date=day.isoformat()))
    investor = values.get("investor")
    if isinstance(investor, str):
        parts.append(Investor(investor).word)
    planned = values.get("planned")
    if isinstance(planned, int) and "expected" not in values:
        parts.append(details["planned"].format(amount=format_amount(planned)))
    expected, completed = values.get("expected"), values.get("completed")
    if isinstance(expected, int):
        done = completed if isinstance(completed, int) else 0
        parts.append(
            details["schedule"].format(
                expected=format_amount(expected), completed=format_amount(done)
            )
        )
    missing = values.get("missing")
    if isinstance(missing, tuple) and missing:
        words = "、".join(zh.FIVE_ONES_WORDS[part] for part in missing)
        parts.append(details["missing"].format(parts=words))
    if values.get("episodes"):
        parts.append(
            details["episodes"].format(
                stale_days=values.get("stale_days"), episodes=values.get("episodes")
            )
        )
    if line.rule is Rule.POOR_DATA:
        parts.append(details["poor_data"])
    if line.capped and "cap" in values:
        key = "deduction_capped" if line.rule in _DEDUCTIONS else "bonus_capped"
        parts.append(details[key].format(cap=values["cap"]))
    return "；".join(parts)
