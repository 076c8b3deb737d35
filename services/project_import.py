"""The project ledger (项目台账) import: the admin's CSV/XLSX in, projects created or updated.

A project is keyed by its name: importing the same file twice changes nothing the second
time. Each row carries the "五个一" — 牵头领导 (leader, a roster id), 责任单位 (unit, a roster
unit), 工作专班 (task force, free text), 项目秘书 (secretary, a roster id) — and the members
(成员) who report on it. Those columns and 名称, 简称, 类别, 阶段, 计划投资 must be in the header
and their cells are the truth (an empty 五个一 cell means that part is missing, which the
quarter's score deducts for). The other columns are optional and an empty cell keeps what
is stored, except the yes/no flags (总部经济, 省领导督办), where an empty cell means 否.

Importing is all-or-nothing per row: a refused row is not written at all and is reported
with its line number; every accepted row is written in one transaction. A stage moving back
or a completed investment going down needs the row's 说明 (reason). A change of stage or
completed investment is also written as a progress update (source "import"), so the
project's history shows it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from scoring.projects import (
    Investor,
    KeyLevel,
    Stage,
    format_amount,
    parse_amount,
    parse_investor,
    parse_key_level,
    parse_stage,
    stage_backwards,
)
from services import zh
from services.clock import Clock
from services.tables import TableKind, clean, parse_date, read_table
from storage.models import Project, ProjectUpdate
from storage.projects import ALIAS_SEPARATOR, split_aliases
from storage.uow import UowFactory

# Normalized header text -> field (see services.tables.normalize_header: no case, spaces,
# '_', '-' or "（万元）").
HEADER_ALIASES = {
    "名称": "name",
    "项目名称": "name",
    "name": "name",
    "project": "name",
    "projectname": "name",
    "简称": "aliases",
    "项目简称": "aliases",
    "别名": "aliases",
    "aliases": "aliases",
    "alias": "aliases",
    "类别": "category",
    "项目类别": "category",
    "类型": "category",
    "项目类型": "category",
    "category": "category",
    "阶段": "stage",
    "项目阶段": "stage",
    "建设阶段": "stage",
    "stage": "stage",
    "计划投资": "planned_investment",
    "计划总投资": "planned_investment",
    "总投资": "planned_investment",
    "plannedinvestment": "planned_investment",
    "planned": "planned_investment",
    "牵头领导": "leader",
    "牵头领导工号": "leader",
    "leader": "leader",
    "leaderid": "leader",
    "责任单位": "unit",
    "责任部门": "unit",
    "牵头单位": "unit",
    "unit": "unit",
    "工作专班": "task_force",
    "专班": "task_force",
    "taskforce": "task_force",
    "项目秘书": "secretary",
    "项目秘书工号": "secretary",
    "秘书": "secretary",
    "secretary": "secretary",
    "secretaryid": "secretary",
    "成员": "members",
    "项目成员": "members",
    "成员工号": "members",
    "members": "members",
    "累计完成投资": "completed_investment",
    "完成投资": "completed_investment",
    "累计投资": "completed_investment",
    "completedinvestment": "completed_investment",
    "completed": "completed_investment",
    "签约日期": "signed_on",
    "签约时间": "signed_on",
    "signedon": "signed_on",
    "开工日期": "started_on",  # also 开工（入库）日期: the parenthesis is dropped
    "开工时间": "started_on",
    "startedon": "started_on",
    "预计竣工日期": "expected_on",  # also 预计竣工（投产）日期
    "预计投产日期": "expected_on",
    "预计竣工投产日期": "expected_on",
    "expectedon": "expected_on",
    "重点级别": "key_level",
    "重点项目级别": "key_level",
    "keylevel": "key_level",
    "投资方类别": "investor",
    "投资方": "investor",
    "investor": "investor",
    "总部经济": "headquarters",
    "headquarters": "headquarters",
    "省领导督办": "supervised",
    "督办": "supervised",
    "supervised": "supervised",
    "说明": "reason",
    "原因": "reason",
    "reason": "reason",
}
# The 五个一 and the project's identity: a ledger without one of these columns would silently
# strip that part from every project on a re-import. Cells may be empty.
REQUIRED_FIELDS = (
    "name",
    "aliases",
    "category",
    "stage",
    "planned_investment",
    "leader",
    "unit",
    "task_force",
    "secretary",
    "members",
)
PROJECTS_TABLE = TableKind(
    aliases=HEADER_ALIASES,
    required=REQUIRED_FIELDS,
    labels=zh.PROJECTS_FILE_LABELS,
    not_found=zh.PROJECTS_FILE_NOT_FOUND,
    unreadable=zh.PROJECTS_FILE_UNREADABLE,
    empty=zh.PROJECTS_FILE_EMPTY,
    missing_column=zh.PROJECTS_FILE_MISSING_COLUMN,
)
# Column limits of the projects table: longer values are refused, not truncated.
MAX_LENGTHS = {"name": 200, "category": 50, "task_force": 200}
AMOUNT_FIELDS = ("planned_investment", "completed_investment")
DATE_FIELDS = ("signed_on", "started_on", "expected_on")
FLAG_FIELDS = ("headquarters", "supervised")
PEOPLE_FIELDS = ("leader", "secretary", "members")
YES_WORDS = frozenset({"是", "y", "yes", "1", "√", "✓", "✔", "true", "对"})
NO_WORDS = frozenset({"否", "n", "no", "0", "×", "✗", "✘", "x", "false", "不是"})
_LIST_SEPARATORS = re.compile(r"[;；、,，\s]+")
# A header's money unit, "计划投资（亿元）": a bare number in that column is in this unit.
_HEADER_UNIT = re.compile(r"[（(]\s*(亿元|亿|万元|万|元)\s*[)）]")
_BARE_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NEGATIVE = ("-", "−", "－")
UPDATE_SOURCE = "import"
_Word = TypeVar("_Word", KeyLevel, Investor)


class ProjectRefusalCode(StrEnum):
    """Why a ledger row was not imported (machine-readable; `ProjectRefusal.reason` words it)."""

    EMPTY_NAME = "empty_name"
    DUPLICATE_NAME = "duplicate_name"
    TOO_LONG = "too_long"
    BAD_STAGE = "bad_stage"
    BAD_AMOUNT = "bad_amount"
    NEGATIVE_AMOUNT = "negative_amount"
    BAD_DATE = "bad_date"
    EXPECTED_BEFORE_START = "expected_before_start"
    BAD_KEY_LEVEL = "bad_key_level"
    BAD_INVESTOR = "bad_investor"
    BAD_FLAG = "bad_flag"
    UNKNOWN_PERSON = "unknown_person"
    INACTIVE_PERSON = "inactive_person"
    UNKNOWN_UNIT = "unknown_unit"
    NAME_TAKEN = "name_taken"
    ALIAS_TAKEN = "alias_taken"
    STAGE_BACKWARDS = "stage_backwards"
    INVESTMENT_DOWN = "investment_down"


@dataclass(frozen=True, slots=True)
class ProjectRow:
    """One project as written in the ledger file; `line` is the row number the admin sees.

    Cells are kept as text and read by the import. The optional columns are None when the
    file has no such column.
    """

    line: int
    name: str
    aliases: str = ""  # several, separated by ; ； 、 or ,
    category: str = ""
    stage: str = ""
    planned_investment: str = ""  # 万元 when a bare number; "3.2亿", "32000万元"
    leader: str = ""  # roster id (工号)
    unit: str = ""  # a unit name on the roster
    task_force: str = ""
    secretary: str = ""  # roster id
    members: str = ""  # roster ids, separated like the aliases
    completed_investment: str | None = None
    signed_on: str | None = None
    started_on: str | None = None
    expected_on: str | None = None
    key_level: str | None = None
    investor: str | None = None
    headquarters: str | None = None
    supervised: str | None = None
    reason: str | None = None  # 说明: why a stage moves back or the investment goes down

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "line" and value is not None:
                object.__setattr__(self, item.name, clean(value))


@dataclass(frozen=True, slots=True)
class ProjectRefusal:
    line: int
    name: str
    code: ProjectRefusalCode
    reason: str  # Chinese, starts with "第n行："


@dataclass
class ProjectImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    progress_written: int = 0  # projects whose stage or completed investment the import changed
    missing_five_ones: int = 0  # imported projects (all three kinds) lacking part of 五个一
    refused: list[ProjectRefusal] = field(default_factory=list)

    def render(self) -> str:
        """The report for the CLI: a summary line, then one line per refused row."""
        lines = [
            zh.PROJECT_IMPORT_SUMMARY.format(
                created=self.created,
                updated=self.updated,
                unchanged=self.unchanged,
                refused=len(self.refused),
            )
        ]
        if self.progress_written:
            lines.append(zh.PROJECT_IMPORT_UPDATES.format(count=self.progress_written))
        if self.missing_five_ones:
            lines.append(zh.PROJECT_IMPORT_FIVE_ONES.format(count=self.missing_five_ones))
        if self.refused:
            lines.append(zh.REPORT_REFUSED_HEAD)
            lines.extend(refusal.reason for refusal in self.refused)
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Reading the file


def read_project_file(path: Path) -> list[ProjectRow]:
    """Read a ledger from CSV (UTF-8, UTF-8 BOM, GB18030/GBK, UTF-16) or XLSX (first sheet).

    The first non-blank row is the header; blank rows are skipped; line numbers are the
    file's row numbers. A money column whose header names a unit ("计划投资（亿元）") reads
    bare numbers in that unit. Raises `services.tables.TableFileError` for anything that
    spoils the whole file.
    """
    table = read_table(path, PROJECTS_TABLE)
    units = {
        name: match.group(1)
        for name in AMOUNT_FIELDS
        if name in table.headers and (match := _HEADER_UNIT.search(table.headers[name]))
    }
    rows = []
    for row in table.rows:
        values = dict(row.values)
        for name, unit in units.items():
            if _BARE_NUMBER.fullmatch(values[name]):
                values[name] += unit
        rows.append(ProjectRow(line=row.line, **values))
    return rows


# ---------------------------------------------------------------------------------------------
# Importing


class _Refused(Exception):
    """A row problem found while reading the row's cells."""

    def __init__(self, code: ProjectRefusalCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class _Wanted:
    """A row's cells as values; None in an optional field keeps the stored value."""

    row: ProjectRow
    aliases: tuple[str, ...]
    category: str
    stage: Stage | None  # None: keep (储备 for a new project)
    planned_yuan: int | None
    leader_id: int | None
    unit_id: int | None
    task_force: str | None
    secretary_id: int | None
    member_ids: frozenset[int]
    completed_yuan: int | None
    signed_on: date | None
    started_on: date | None
    expected_on: date | None
    key_level: KeyLevel | None
    investor: Investor | None
    headquarters: bool | None
    supervised: bool | None
    reason: str | None


@dataclass(frozen=True)
class _Lookups:
    """What a row is checked against, loaded once for the whole file."""

    projects: Mapping[str, Project]  # by name
    people: Mapping[str, tuple[int, bool]]  # roster id -> (person id, active)
    units: Mapping[str, int]  # unit name -> id


async def import_projects(
    uow: UowFactory, clock: Clock, tz: tzinfo, rows: Sequence[ProjectRow]
) -> ProjectImportReport:
    """Create or update the ledger's projects (keyed by name), refusing bad rows.

    Projects missing from the file are left as they are. Members are replaced by the row's.
    A new project without a stage is 储备; a stored one keeps its stage. Moving to 入规 sets
    the day it got there (the import's local date in `tz`) unless one is stored. One
    transaction: reads the whole ledger and the roster once, commits once.
    """
    now = clock.now().astimezone(UTC)
    today = now.astimezone(tz).date()
    async with uow() as u:
        lookups = _Lookups(
            await u.projects.by_name(),
            await u.projects.people_by_roster_id(),
            await u.projects.units_by_name(),
        )
        wanted, refusals = _plan(rows, lookups)
        stored_ids = [lookups.projects[name].id for name in wanted if name in lookups.projects]
        stored_members = await u.projects.members_of(stored_ids)

        report = ProjectImportReport(refused=[refusals[p] for p in sorted(refusals)])
        created: list[tuple[Project, _Wanted]] = []
        member_changes: dict[int, tuple[set[int], set[int]]] = {}  # project id: adds, removes
        updates: list[tuple[Project, _Wanted, str | None]] = []  # with the stage before
        for name, want in wanted.items():
            project = lookups.projects.get(name)
            values = _values(want, project, today)
            if not (want.leader_id and want.unit_id and want.task_force and want.secretary_id):
                report.missing_five_ones += 1
            if project is None:
                project = Project(name=name, **values, created_at=now, updated_at=now)
                created.append((project, want))
                if values["completed_yuan"] is not None:
                    updates.append((project, want, None))
                continue
            members = stored_members.get(project.id, set())
            changes = {k: v for k, v in values.items() if getattr(project, k) != v}
            if not changes and members == want.member_ids:
                report.unchanged += 1
                continue
            report.updated += 1
            if "stage" in changes or "completed_yuan" in changes:
                updates.append((project, want, project.stage if "stage" in changes else None))
            for key, value in changes.items():
                setattr(project, key, value)
            project.updated_at = now
            if members != want.member_ids:
                member_changes[project.id] = (
                    set(want.member_ids - members),
                    members - want.member_ids,
                )
        report.created = len(created)
        await u.projects.add_projects([project for project, _ in created])
        for project, want in created:
            if want.member_ids:
                member_changes[project.id] = (set(want.member_ids), set())
        await u.projects.set_members(member_changes)
        await u.projects.add_updates(
            [_progress(project, want, before, now, today) for project, want, before in updates]
        )
        report.progress_written = len(updates)
        await u.audit.record(
            now,
            "projects_imported",
            detail={
                "rows": len(rows),
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "refused": len(report.refused),
                "progress_written": report.progress_written,
                "missing_five_ones": report.missing_five_ones,
                "refusal_codes": dict(Counter(r.code.value for r in report.refused)),
            },
        )
        await u.commit()
    return report


def _plan(
    rows: Sequence[ProjectRow], lookups: _Lookups
) -> tuple[dict[str, _Wanted], dict[int, ProjectRefusal]]:
    """The accepted rows by project name (file order) and the refusals by row position."""
    wanted: dict[str, _Wanted] = {}
    position_of: dict[str, int] = {}
    refusals: dict[int, ProjectRefusal] = {}
    first_line: dict[str, int] = {}
    for position, row in enumerate(rows):
        try:
            if not row.name:
                raise _Refused(
                    ProjectRefusalCode.EMPTY_NAME,
                    zh.PROJECT_IMPORT_EMPTY_NAME.format(line=row.line),
                )
            if row.name in first_line:
                reason = zh.PROJECT_IMPORT_DUPLICATE_NAME.format(
                    line=row.line, name=row.name, first_line=first_line[row.name]
                )
                raise _Refused(ProjectRefusalCode.DUPLICATE_NAME, reason)
            first_line[row.name] = row.line
            wanted[row.name] = _read_row(row, lookups)
            position_of[row.name] = position
        except _Refused as refused:
            refusals[position] = ProjectRefusal(row.line, row.name, refused.code, refused.reason)
    # Refusing a row changes who holds which name: a new project's names go away, a stored
    # project's stored aliases come back. Refuse the rows clashing with a project that does
    # not clash itself (or else the first one), then look again.
    while clashes := _name_clashes(wanted, lookups.projects):
        sure = {name: c for name, c in clashes.items() if c[0] not in clashes}
        for name, (_, code, reason) in (sure or dict(list(clashes.items())[:1])).items():
            want = wanted.pop(name)
            refusals[position_of[name]] = ProjectRefusal(want.row.line, name, code, reason)
    return wanted, refusals


def _fold(text: str) -> str:
    """A name or alias as compared for clashes: NFKC, no whitespace, casefolded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def _name_clashes(
    wanted: Mapping[str, _Wanted], stored: Mapping[str, Project]
) -> dict[str, tuple[str, ProjectRefusalCode, str]]:
    """Accepted rows whose name or an alias is another project's name or alias after import.

    Project name -> (the other project, code, reason). Claims are made in this order, the
    first claim of a text wins: stored projects the accepted rows do not set (with their
    stored aliases), the rows' names, the aliases rows keep from their stored project, then
    new aliases in file order (a later row claiming an earlier row's alias is refused).
    """
    owner: dict[str, str] = {}
    for name, project in stored.items():
        if name not in wanted:
            for text in (name, *split_aliases(project.aliases)):
                owner.setdefault(_fold(text), name)
    clashes: dict[str, tuple[str, ProjectRefusalCode, str]] = {}
    for name, want in wanted.items():
        other = owner.setdefault(_fold(name), name)
        if other != name:
            reason = zh.PROJECT_IMPORT_NAME_TAKEN.format(line=want.row.line, name=name, other=other)
            clashes[name] = (other, ProjectRefusalCode.NAME_TAKEN, reason)
    held = {
        name: {_fold(a) for a in split_aliases(stored[name].aliases)}
        for name in wanted
        if name in stored
    }
    kept_first = sorted(
        ((name, alias) for name, want in wanted.items() for alias in want.aliases),
        key=lambda pair: _fold(pair[1]) not in held.get(pair[0], ()),
    )
    for name, alias in kept_first:
        other = owner.setdefault(_fold(alias), name)
        if other != name and name not in clashes:
            reason = zh.PROJECT_IMPORT_ALIAS_TAKEN.format(
                line=wanted[name].row.line, alias=alias, other=other
            )
            clashes[name] = (other, ProjectRefusalCode.ALIAS_TAKEN, reason)
    return clashes


def _read_row(row: ProjectRow, lookups: _Lookups) -> _Wanted:
    """The row's cells as values, checked on their own and against the stored project."""
    line = row.line
    for name, limit in MAX_LENGTHS.items():
        if len(getattr(row, name)) > limit:
            label = zh.PROJECTS_FILE_LABELS[name]
            reason = zh.REFUSED_TOO_LONG.format(line=line, label=label, limit=limit)
            raise _Refused(ProjectRefusalCode.TOO_LONG, reason)
    stage = None
    if row.stage:
        stage = parse_stage(row.stage)
        if stage is None:
            reason = zh.PROJECT_IMPORT_BAD_STAGE.format(line=line, cell=row.stage)
            raise _Refused(ProjectRefusalCode.BAD_STAGE, reason)
    planned = _amount(row, "planned_investment")
    completed = _amount(row, "completed_investment")
    signed_on, started_on, expected_on = (_date(row, name) for name in DATE_FIELDS)
    key_level = _word(
        row,
        "key_level",
        parse_key_level,
        ProjectRefusalCode.BAD_KEY_LEVEL,
        zh.PROJECT_IMPORT_BAD_KEY_LEVEL,
    )
    investor = _word(
        row,
        "investor",
        parse_investor,
        ProjectRefusalCode.BAD_INVESTOR,
        zh.PROJECT_IMPORT_BAD_INVESTOR,
    )
    headquarters, supervised = (_flag(row, name) for name in FLAG_FIELDS)
    people = {name: _people(row, name, lookups.people) for name in PEOPLE_FIELDS}
    unit_id = None
    if row.unit:
        unit_id = lookups.units.get(row.unit)
        if unit_id is None:
            reason = zh.PROJECT_IMPORT_UNKNOWN_UNIT.format(line=line, unit=row.unit)
            raise _Refused(ProjectRefusalCode.UNKNOWN_UNIT, reason)

    stored = lookups.projects.get(row.name)
    reason_text = row.reason or None
    if started_on is not None or expected_on is not None:
        start = started_on or (stored.started_on if stored else None)
        end = expected_on or (stored.expected_on if stored else None)
        if start is not None and end is not None and end < start:
            reason = zh.PROJECT_IMPORT_EXPECTED_BEFORE_START.format(
                line=line, expected=end.isoformat(), started=start.isoformat()
            )
            raise _Refused(ProjectRefusalCode.EXPECTED_BEFORE_START, reason)
    if stored is not None and not reason_text:
        before = Stage(stored.stage)
        if stage is not None and stage_backwards(before, stage):
            reason = zh.PROJECT_IMPORT_STAGE_BACKWARDS.format(
                line=line, before=before.word, after=stage.word
            )
            raise _Refused(ProjectRefusalCode.STAGE_BACKWARDS, reason)
        had = stored.completed_yuan
        if had is not None and completed is not None and completed < had:
            reason = zh.PROJECT_IMPORT_INVESTMENT_DOWN.format(
                line=line, before=format_amount(had), after=format_amount(completed)
            )
            raise _Refused(ProjectRefusalCode.INVESTMENT_DOWN, reason)

    aliases = [a for a in _LIST_SEPARATORS.split(row.aliases) if a and _fold(a) != _fold(row.name)]
    leader = people["leader"]
    secretary = people["secretary"]
    return _Wanted(
        row=row,
        aliases=tuple(dict.fromkeys(aliases)),
        category=row.category,
        stage=stage,
        planned_yuan=planned,
        leader_id=leader[0] if leader else None,
        unit_id=unit_id,
        task_force=row.task_force or None,
        secretary_id=secretary[0] if secretary else None,
        member_ids=frozenset(people["members"]),
        completed_yuan=completed,
        signed_on=signed_on,
        started_on=started_on,
        expected_on=expected_on,
        key_level=key_level,
        investor=investor,
        headquarters=headquarters,
        supervised=supervised,
        reason=reason_text,
    )


def _amount(row: ProjectRow, name: str) -> int | None:
    cell = getattr(row, name) or ""
    if not cell:
        return None
    amount = parse_amount(cell)
    if amount is None:
        label = zh.PROJECTS_FILE_LABELS[name]
        if cell.startswith(_NEGATIVE):
            reason = zh.PROJECT_IMPORT_NEGATIVE_AMOUNT.format(line=row.line, label=label, cell=cell)
            raise _Refused(ProjectRefusalCode.NEGATIVE_AMOUNT, reason)
        reason = zh.PROJECT_IMPORT_BAD_AMOUNT.format(line=row.line, label=label, cell=cell)
        raise _Refused(ProjectRefusalCode.BAD_AMOUNT, reason)
    return amount


def _date(row: ProjectRow, name: str) -> date | None:
    cell = getattr(row, name) or ""
    if not cell:
        return None
    day = parse_date(cell)
    if day is None:
        label = zh.PROJECTS_FILE_LABELS[name]
        reason = zh.PROJECT_IMPORT_BAD_DATE.format(line=row.line, label=label, cell=cell)
        raise _Refused(ProjectRefusalCode.BAD_DATE, reason)
    return day


def _word(
    row: ProjectRow,
    name: str,
    parse: Callable[[str], _Word | None],
    code: ProjectRefusalCode,
    template: str,
) -> _Word | None:
    """A key level or investor class (None: empty cell); refuses words it does not know."""
    cell = getattr(row, name) or ""
    if not cell:
        return None
    value = parse(cell)
    if value is None:
        raise _Refused(code, template.format(line=row.line, cell=cell))
    return value


def _flag(row: ProjectRow, name: str) -> bool | None:
    """是 / 否 (an empty cell is 否); None when the file has no such column."""
    cell = getattr(row, name)
    if cell is None:
        return None
    word = cell.casefold()
    if not word or word in NO_WORDS:
        return False
    if word in YES_WORDS:
        return True
    label = zh.PROJECTS_FILE_LABELS[name]
    reason = zh.PROJECT_IMPORT_BAD_FLAG.format(line=row.line, label=label, cell=cell)
    raise _Refused(ProjectRefusalCode.BAD_FLAG, reason)


def _people(row: ProjectRow, name: str, people: Mapping[str, tuple[int, bool]]) -> list[int]:
    """The person ids of the roster ids in a cell, in order; refuses unknown or inactive ones."""
    ids = list(dict.fromkeys(i for i in _LIST_SEPARATORS.split(getattr(row, name)) if i))
    label = zh.PROJECTS_FILE_LABELS[name]
    unknown = [i for i in ids if i not in people]
    if unknown:
        reason = zh.PROJECT_IMPORT_UNKNOWN_PERSON.format(
            line=row.line, label=label, ids="、".join(unknown)
        )
        raise _Refused(ProjectRefusalCode.UNKNOWN_PERSON, reason)
    inactive = [i for i in ids if not people[i][1]]
    if inactive:
        reason = zh.PROJECT_IMPORT_INACTIVE_PERSON.format(
            line=row.line, label=label, ids="、".join(inactive)
        )
        raise _Refused(ProjectRefusalCode.INACTIVE_PERSON, reason)
    return [people[i][0] for i in ids]


def _values(want: _Wanted, project: Project | None, today: date) -> dict[str, Any]:
    """The project's columns after the import (created_at, updated_at and name aside)."""

    def kept(new: Any, column: str, default: Any = None) -> Any:
        if new is not None:
            return new
        return getattr(project, column) if project is not None else default

    if want.stage is not None:
        stage = want.stage
    else:
        stage = Stage(project.stage) if project is not None else Stage.RESERVE
    above_scale_on = project.above_scale_on if project is not None else None
    moved_up = project is not None and project.stage != Stage.ABOVE_SCALE.value
    if stage is Stage.ABOVE_SCALE and moved_up and above_scale_on is None:
        above_scale_on = today
    return {
        "aliases": ALIAS_SEPARATOR.join(want.aliases),
        "category": want.category,
        "stage": stage.value,
        "planned_yuan": want.planned_yuan,
        "leader_id": want.leader_id,
        "unit_id": want.unit_id,
        "task_force": want.task_force,
        "secretary_id": want.secretary_id,
        "completed_yuan": kept(want.completed_yuan, "completed_yuan"),
        "signed_on": kept(want.signed_on, "signed_on"),
        "started_on": kept(want.started_on, "started_on"),
        "expected_on": kept(want.expected_on, "expected_on"),
        "above_scale_on": above_scale_on,
        "key_level": kept(want.key_level and want.key_level.value, "key_level"),
        "investor": kept(want.investor and want.investor.value, "investor"),
        "headquarters": kept(want.headquarters, "headquarters", False),
        "supervised": kept(want.supervised, "supervised", False),
    }


def _progress(
    project: Project, want: _Wanted, stage_before: str | None, now: datetime, today: date
) -> ProjectUpdate:
    """The progress update recording what the import changed (stage and/or investment)."""
    changes = []
    if stage_before is not None:
        changes.append(
            zh.PROJECT_IMPORT_UPDATE_STAGE.format(
                before=Stage(stage_before).word, after=Stage(project.stage).word
            )
        )
    if want.completed_yuan is not None:
        amount = format_amount(want.completed_yuan)
        changes.append(zh.PROJECT_IMPORT_UPDATE_COMPLETED.format(amount=amount))
    return ProjectUpdate(
        project_id=project.id,
        person_id=None,
        at=now,
        work_date=today,
        text=zh.PROJECT_IMPORT_UPDATE_TEXT.format(
            changes=zh.PROJECT_IMPORT_UPDATE_SEPARATOR.join(changes)
        ),
        completed_yuan=want.completed_yuan,
        stage_before=stage_before,
        stage_after=project.stage if stage_before is not None else None,
        reason=want.reason,
        source=UPDATE_SOURCE,
    )


class ProjectImportService:
    """The ledger import as the CLI (and, later, an upload page) calls it."""

    def __init__(self, uow: UowFactory, clock: Clock, tz: tzinfo) -> None:
        self.uow = uow
        self.clock = clock
        self.tz = tz

    async def import_rows(self, rows: Sequence[ProjectRow]) -> ProjectImportReport:
        return await import_projects(self.uow, self.clock, self.tz, rows)
