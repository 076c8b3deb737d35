"""The roster (花名册): reading the admin's CSV/XLSX, importing it, and issuing invite links.

The roster file is the one source of the people, their units, the supervisor tree (下管一级)
and, when it has the optional 上级单位 column, the unit tree. Two more optional columns feed
scoring: 单位类别 (the unit's category, grades rank within it) and 到岗日期 (the person's first
day on the roster, `people.joined_on`: earlier working days are not due). Importing is
all-or-nothing per row: a refused row is not written and is reported with its line number;
every accepted row is written in one transaction.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from services import zh
from services.clock import Clock
from services.tables import TableFileError, TableKind, clean, parse_date, read_table
from storage.models import Role
from storage.repositories import StoredPerson
from storage.uow import UnitOfWork, UowFactory

# Column limits of the people and units tables: longer values are refused, not truncated.
MAX_LENGTHS = {
    "roster_id": 64,
    "name": 100,
    "unit": 200,
    "position": 200,
    "parent_unit": 200,
    "unit_category": 100,
}

# Normalized header text -> field. Normalizing drops case, spaces, '_', '-' and "（说明）".
HEADER_ALIASES = {
    "id": "roster_id",
    "rosterid": "roster_id",
    "工号": "roster_id",
    "编号": "roster_id",
    "name": "name",
    "姓名": "name",
    "unit": "unit",
    "单位": "unit",
    "单位名称": "unit",
    "工作单位": "unit",
    "position": "position",
    "职务": "position",
    "supervisorid": "supervisor_id",
    "supervisor": "supervisor_id",
    "上级工号": "supervisor_id",
    "上级编号": "supervisor_id",
    "role": "role",
    "roles": "role",
    "角色": "role",
    "parentunit": "parent_unit",  # also parent_unit, Parent-Unit: '_' and '-' are dropped
    "上级单位": "parent_unit",
    "上级部门": "parent_unit",
    "unitcategory": "unit_category",
    "category": "unit_category",
    "单位类别": "unit_category",
    "类别": "unit_category",
    "joinedon": "joined_on",
    "joined": "joined_on",
    "到岗日期": "joined_on",
    "入职日期": "joined_on",
}
# All six are required: a missing supervisor or role column would silently strip the tree
# or admin rights on a re-import. Cells may be empty. The parent-unit, category and join
# date columns are optional: a roster without them leaves the stored values alone.
REQUIRED_FIELDS = ("roster_id", "name", "unit", "position", "supervisor_id", "role")

ROLE_ALIASES: dict[str, Role] = {
    "cadre": Role.CADRE,
    "干部": Role.CADRE,
    "supervisor": Role.SUPERVISOR,
    "上级": Role.SUPERVISOR,
    "领导": Role.SUPERVISOR,
    "主管": Role.SUPERVISOR,
    "rater": Role.RATER,
    "评定": Role.RATER,
    "评价": Role.RATER,
    "党委": Role.RATER,
    "党组": Role.RATER,
    "admin": Role.ADMIN,
    "管理员": Role.ADMIN,
    "组织部": Role.ADMIN,
    "考核办": Role.ADMIN,
}
_ROLE_SEPARATORS = re.compile(r"[,;、|/，；\s]+")
SHANGHAI = ZoneInfo("Asia/Shanghai")
CYCLE_SHOWN = 5  # people (or units) named in a refusal for a supervisor (or unit) loop
ROSTER_TABLE = TableKind(
    aliases=HEADER_ALIASES,
    required=REQUIRED_FIELDS,
    labels=zh.FIELD_LABELS,
    not_found=zh.FILE_NOT_FOUND,
    unreadable=zh.FILE_UNREADABLE,
    empty=zh.FILE_EMPTY,
    missing_column=zh.MISSING_COLUMN,
)
# The roster file cannot be read as a whole (format, encoding, header); message in Chinese.
RosterFileError = TableFileError


class RefusalCode(StrEnum):
    """Why a roster row was not imported (machine-readable; `Refusal.reason` is the wording)."""

    EMPTY_ID = "empty_id"
    DUPLICATE_ID = "duplicate_id"
    EMPTY_NAME = "empty_name"
    EMPTY_UNIT = "empty_unit"
    TOO_LONG = "too_long"
    BAD_ROLE = "bad_role"
    SELF_SUPERVISOR = "self_supervisor"
    UNKNOWN_SUPERVISOR = "unknown_supervisor"
    SUPERVISOR_CYCLE = "supervisor_cycle"
    SUPERVISOR_REFUSED = "supervisor_refused"
    SELF_PARENT_UNIT = "self_parent_unit"
    PARENT_UNIT_CONFLICT = "parent_unit_conflict"
    PARENT_UNIT_CYCLE = "parent_unit_cycle"
    UNIT_CATEGORY_CONFLICT = "unit_category_conflict"
    BAD_JOINED_DATE = "bad_joined_date"


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One person as written in the roster file; `line` is the row number the admin sees."""

    line: int
    roster_id: str
    name: str
    unit: str
    position: str = ""
    supervisor_id: str = ""  # the supervisor's roster id (上级工号), "" for none
    role: str = ""  # the raw role cell, parsed by `parse_roles`
    # The unit's parent unit (上级单位): "" for a top-level unit, None when the file has no
    # such column (the stored parent is then left as it is).
    parent_unit: str | None = None
    # The unit's category (单位类别); "" says nothing about it (the stored one is kept).
    unit_category: str = ""
    # The first day on the roster (到岗日期) as written, parsed by `parse_joined_on`; "" for
    # none: a new person then joins on the import's date, a stored one keeps theirs.
    joined_on: str = ""

    def __post_init__(self) -> None:
        fields = ("roster_id", "name", "unit", "position", "supervisor_id", "role")
        for name in (*fields, "unit_category", "joined_on"):
            object.__setattr__(self, name, clean(getattr(self, name)))
        if self.parent_unit is not None:
            object.__setattr__(self, "parent_unit", clean(self.parent_unit))


@dataclass(frozen=True, slots=True)
class Refusal:
    line: int
    roster_id: str
    code: RefusalCode
    reason: str  # Chinese, starts with "第n行："


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    units_created: int = 0
    units_reparented: int = 0  # units that existed before and got another parent unit
    units_categorized: int = 0  # units whose category was set or changed (new units too)
    joined_defaulted: int = 0  # new people without a join date: they join on `import_day`
    import_day: date | None = None  # the import's local date
    refused: list[Refusal] = field(default_factory=list)

    def render(self) -> str:
        """The report for the CLI: a summary line, then one line per refused row."""
        lines = [
            zh.REPORT_SUMMARY.format(
                created=self.created,
                updated=self.updated,
                unchanged=self.unchanged,
                refused=len(self.refused),
            )
        ]
        if self.units_created:
            lines.append(zh.REPORT_UNITS.format(count=self.units_created))
        if self.units_reparented:
            lines.append(zh.REPORT_UNITS_REPARENTED.format(count=self.units_reparented))
        if self.units_categorized:
            lines.append(zh.REPORT_UNITS_CATEGORIZED.format(count=self.units_categorized))
        if self.joined_defaulted:
            day = self.import_day.isoformat() if self.import_day else ""
            lines.append(zh.REPORT_JOINED_DEFAULTED.format(count=self.joined_defaulted, day=day))
        if self.refused:
            lines.append(zh.REPORT_REFUSED_HEAD)
            lines.extend(refusal.reason for refusal in self.refused)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    roster_id: str
    name: str
    token: str
    expires_at: datetime


@dataclass
class InviteBatch:
    """Invites issued in one call, and the roster ids that got none (and why)."""

    expires_at: datetime
    invites: list[IssuedInvite] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # not on the roster
    inactive: list[str] = field(default_factory=list)  # on the roster but deactivated
    already_bound: list[str] = field(default_factory=list)  # skipped by unbound_only

    def render(self, bot_username: str, tz: tzinfo = SHANGHAI) -> str:
        """One line per invite with its deep link, then the ids that got none."""
        expires = self.expires_at.astimezone(tz).strftime("%Y-%m-%d %H:%M (UTC%z)")
        lines = [zh.INVITES_SUMMARY.format(count=len(self.invites), expires=expires)]
        lines.extend(
            zh.INVITES_LINE.format(
                roster_id=i.roster_id, name=i.name, link=invite_link(bot_username, i.token)
            )
            for i in self.invites
        )
        for template, ids in (
            (zh.INVITES_UNKNOWN, self.unknown),
            (zh.INVITES_INACTIVE, self.inactive),
            (zh.INVITES_BOUND, self.already_bound),
        ):
            if ids:
                lines.append(template.format(ids="、".join(ids)))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Reading the file


def read_roster_file(path: Path) -> list[RosterRow]:
    """Read a roster from CSV (UTF-8, UTF-8 BOM, GB18030/GBK, UTF-16) or XLSX (first sheet).

    The first non-blank row is the header; blank rows are skipped; line numbers are the
    file's row numbers. Raises `RosterFileError` for anything that spoils the whole file.
    """
    table = read_table(path, ROSTER_TABLE)
    return [RosterRow(line=row.line, **row.values) for row in table.rows]


def parse_roles(text: str) -> tuple[frozenset[Role], tuple[str, ...]]:
    """Roles named in one cell and the words that are not roles; an empty cell means cadre."""
    roles: set[Role] = set()
    unknown: list[str] = []
    for word in _ROLE_SEPARATORS.split(text.strip()):
        if not word:
            continue
        role = ROLE_ALIASES.get(word.lower())
        if role is None:
            unknown.append(word)
        else:
            roles.add(role)
    if not roles and not unknown:
        roles.add(Role.CADRE)
    return frozenset(roles), tuple(unknown)


def roles_value(roles: Iterable[Role | str]) -> str:
    """The stored form of a role set: comma-separated in the enum's order."""
    wanted = {Role(r) for r in roles if r}
    return ",".join(role.value for role in Role if role in wanted)


# The date in a 到岗日期 cell (2026-11-09, 2026/11/9, 2026.11.9, 2026年11月9日), or None.
parse_joined_on = parse_date


# ---------------------------------------------------------------------------------------------
# Importing


@dataclass
class _Plan:
    """The import decided in memory before anything is written."""

    accepted: dict[str, RosterRow] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    joined_on: dict[str, date] = field(default_factory=dict)  # given join dates, by roster id
    first_row: dict[str, RosterRow] = field(default_factory=dict)  # by roster id, file order
    position: dict[str, int] = field(default_factory=dict)  # of the first row, by roster id
    refusals: dict[int, Refusal] = field(default_factory=dict)  # by row position

    def refuse(self, position: int, row: RosterRow, code: RefusalCode, reason: str) -> None:
        self.refusals[position] = Refusal(row.line, row.roster_id, code, reason)
        if self.accepted.get(row.roster_id) is row:
            del self.accepted[row.roster_id]


async def _import(
    uow: UnitOfWork, now: datetime, rows: Sequence[RosterRow], tz: tzinfo = SHANGHAI
) -> ImportReport:
    """Create or update people (keyed by roster id) and their units, refusing bad rows.

    Re-importing updates name, unit, position, supervisor and roles and marks the person
    active; it never duplicates anyone and keeps the Telegram binding. People missing from
    the file are left as they are. Supervisor checks use the state after the import: file
    rows that are accepted plus people already stored. A subordinate of a refused row is
    refused too unless that supervisor is already stored (it then keeps its stored data).

    Units are created when missing. With the parent-unit column (`RosterRow.parent_unit` not
    None) the accepted rows set their unit's parent, creating the parent unit when missing;
    an empty cell makes the unit top-level. All rows of a unit must name the same parent:
    the first row that passes the row checks decides and rows naming another parent are
    refused. A unit may not be its own parent, and rows that would close a loop in the unit
    tree are refused; loops are looked for in the tree after the import, the stored parents
    of the units no accepted row sets included. Without the column parents are left alone.

    A unit category cell sets the unit's category; all rows of a unit naming one must name
    the same (the first accepted row decides, as for parents); empty cells and a file without
    the column leave the stored category alone. A join date cell sets `joined_on`, also of
    stored people (a correction); without one a new person joins on the import's local date
    in `tz` (days before they were on the roster are not due) and a stored person keeps theirs.

    Commits once; refused rows are not written.
    """
    plan = _check_rows(rows)
    stored = {
        rid: replace(person, roles=_stored_roles(person.roles))
        for rid, person in (await uow.people.stored_for_import()).items()
    }
    roster_id_of = {person.id: roster_id for roster_id, person in stored.items()}
    stored_supervisor = {
        roster_id: roster_id_of.get(person.supervisor_id) if person.supervisor_id else None
        for roster_id, person in stored.items()
    }
    stored_parent = await uow.people.unit_parents()
    _check_parent_agreement(plan)
    _check_category_agreement(plan)
    # Refusing people for a unit loop cascades to their subordinates, and refusing people
    # for the supervisor tree can take away a unit's last row setting its parent, bringing
    # back a stored parent that may close a unit loop: check both until nothing changes.
    while True:
        accepted_before = len(plan.accepted)
        _check_unit_cycles(plan, stored_parent)
        _check_supervisors(plan, stored_supervisor)
        if len(plan.accepted) == accepted_before:
            break

    accepted = plan.accepted
    parent_of = _declared_parents(accepted.values())
    unit_ids, units_created = await uow.people.ensure_units(
        {r.unit for r in accepted.values()} | {p for p in parent_of.values() if p}
    )
    new_parents: dict[int, int | None] = {}
    units_reparented = 0
    for unit, parent in parent_of.items():
        if unit in stored_parent:
            if stored_parent[unit] == parent:
                continue
            units_reparented += 1
        elif parent is None:
            continue  # created just now without a parent
        new_parents[unit_ids[unit]] = unit_ids[parent] if parent else None
    await uow.people.set_unit_parents(new_parents)
    category_of = {row.unit: row.unit_category for row in accepted.values() if row.unit_category}
    stored_category = await uow.people.unit_categories() if category_of else {}
    new_categories = {
        unit_ids[unit]: category
        for unit, category in category_of.items()
        if stored_category.get(unit) != category
    }
    await uow.people.set_unit_categories(new_categories)
    new_rows = [row for rid, row in accepted.items() if rid not in stored]
    today = now.astimezone(tz).date()
    person_ids = {rid: person.id for rid, person in stored.items()}
    person_ids |= await uow.people.insert_many(
        [
            {
                "roster_id": row.roster_id,
                "name": row.name,
                "unit_id": unit_ids[row.unit],
                "position": row.position,
                "supervisor_id": None,  # set below, once every new person has an id
                "roles": plan.roles[row.roster_id],
                "active": True,
                "joined_on": plan.joined_on.get(row.roster_id, today),
                "created_at": now,
                "updated_at": now,
            }
            for row in new_rows
        ]
    )

    new_supervisors: list[dict[str, object]] = []
    changes: list[dict[str, object]] = []
    unchanged = 0
    for rid, row in accepted.items():
        supervisor_pid = person_ids[row.supervisor_id] if row.supervisor_id else None
        person = stored.get(rid)
        if person is None:
            if supervisor_pid is not None:
                new_supervisors.append({"id": person_ids[rid], "supervisor_id": supervisor_pid})
            continue
        wanted = StoredPerson(
            id=person.id,
            name=row.name,
            unit_id=unit_ids[row.unit],
            position=row.position,
            supervisor_id=supervisor_pid,
            roles=plan.roles[rid],
            active=True,
            joined_on=plan.joined_on.get(rid, person.joined_on),
        )
        if wanted == person:
            unchanged += 1
        else:
            changes.append({**_as_values(wanted), "updated_at": now})
    await uow.people.update_many(new_supervisors)
    await uow.people.update_many(changes)

    report = ImportReport(
        created=len(new_rows),
        updated=len(changes),
        unchanged=unchanged,
        units_created=units_created,
        units_reparented=units_reparented,
        units_categorized=len(new_categories),
        joined_defaulted=sum(1 for row in new_rows if row.roster_id not in plan.joined_on),
        import_day=today,
        refused=[plan.refusals[p] for p in sorted(plan.refusals)],
    )
    await uow.audit.record(
        now,
        "roster_import",
        detail={
            "rows": len(rows),
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "refused": len(report.refused),
            "units_created": units_created,
            "units_reparented": units_reparented,
            "units_categorized": report.units_categorized,
            "joined_defaulted": report.joined_defaulted,
            "refusal_codes": dict(Counter(r.code.value for r in report.refused)),
        },
    )
    await uow.commit()
    return report


def _as_values(person: StoredPerson) -> dict[str, object]:
    return {
        "id": person.id,
        "name": person.name,
        "unit_id": person.unit_id,
        "position": person.position,
        "supervisor_id": person.supervisor_id,
        "roles": person.roles,
        "active": person.active,
        "joined_on": person.joined_on,
    }


def _check_rows(rows: Sequence[RosterRow]) -> _Plan:
    """Checks that need only the row itself, plus duplicates (the first row keeps the id)."""
    plan = _Plan()
    for position, row in enumerate(rows):
        rid = row.roster_id
        if not rid:
            plan.refuse(
                position, row, RefusalCode.EMPTY_ID, zh.REFUSED_EMPTY_ID.format(line=row.line)
            )
            continue
        first = plan.first_row.get(rid)
        if first is not None:
            reason = zh.REFUSED_DUPLICATE_ID.format(
                line=row.line, roster_id=rid, first_line=first.line
            )
            plan.refuse(position, row, RefusalCode.DUPLICATE_ID, reason)
            continue
        plan.first_row[rid] = row
        plan.position[rid] = position
        refusal = _row_problem(row)
        if refusal is not None:
            plan.refuse(position, row, *refusal)
            continue
        roles, _ = parse_roles(row.role)
        plan.accepted[rid] = row
        plan.roles[rid] = roles_value(roles)
        joined_on = parse_joined_on(row.joined_on) if row.joined_on else None
        if joined_on is not None:
            plan.joined_on[rid] = joined_on
    return plan


def _row_problem(row: RosterRow) -> tuple[RefusalCode, str] | None:
    if not row.name:
        reason = zh.REFUSED_EMPTY_NAME.format(line=row.line, roster_id=row.roster_id)
        return RefusalCode.EMPTY_NAME, reason
    if not row.unit:
        reason = zh.REFUSED_EMPTY_UNIT.format(line=row.line, name=row.name, roster_id=row.roster_id)
        return RefusalCode.EMPTY_UNIT, reason
    for name, limit in MAX_LENGTHS.items():
        if len(getattr(row, name) or "") > limit:
            label = zh.FIELD_LABELS[name]
            reason = zh.REFUSED_TOO_LONG.format(line=row.line, label=label, limit=limit)
            return RefusalCode.TOO_LONG, reason
    _, unknown = parse_roles(row.role)
    if unknown:
        return RefusalCode.BAD_ROLE, zh.REFUSED_BAD_ROLE.format(line=row.line, role=unknown[0])
    if row.supervisor_id == row.roster_id:
        reason = zh.REFUSED_SELF_SUPERVISOR.format(
            line=row.line, name=row.name, roster_id=row.roster_id
        )
        return RefusalCode.SELF_SUPERVISOR, reason
    if row.parent_unit == row.unit:
        reason = zh.REFUSED_SELF_PARENT_UNIT.format(line=row.line, unit=row.unit)
        return RefusalCode.SELF_PARENT_UNIT, reason
    if row.joined_on and parse_joined_on(row.joined_on) is None:
        reason = zh.REFUSED_BAD_JOINED_DATE.format(line=row.line, cell=row.joined_on)
        return RefusalCode.BAD_JOINED_DATE, reason
    return None


def _declared_parents(rows: Iterable[RosterRow]) -> dict[str, str | None]:
    """The parent unit the rows set for their units (None: top-level); units not set are absent."""
    return {row.unit: row.parent_unit or None for row in rows if row.parent_unit is not None}


def _parent_text(parent: str | None) -> str:
    return zh.PARENT_UNIT_NAMED.format(name=parent) if parent else zh.PARENT_UNIT_EMPTY


def _check_parent_agreement(plan: _Plan) -> None:
    """Refuse rows naming another parent unit than the unit's first accepted row (file order)."""
    first: dict[str, RosterRow] = {}
    for rid, row in list(plan.accepted.items()):
        if row.parent_unit is None:
            continue
        decided = first.setdefault(row.unit, row)
        if decided.parent_unit != row.parent_unit:
            reason = zh.REFUSED_PARENT_UNIT_CONFLICT.format(
                line=row.line,
                unit=row.unit,
                parent=_parent_text(row.parent_unit),
                first_line=decided.line,
                first_parent=_parent_text(decided.parent_unit),
            )
            plan.refuse(plan.position[rid], row, RefusalCode.PARENT_UNIT_CONFLICT, reason)


def _check_category_agreement(plan: _Plan) -> None:
    """Refuse rows naming another unit category than the unit's first accepted row naming one."""
    first: dict[str, RosterRow] = {}
    for rid, row in list(plan.accepted.items()):
        if not row.unit_category:
            continue
        decided = first.setdefault(row.unit, row)
        if decided.unit_category != row.unit_category:
            reason = zh.REFUSED_UNIT_CATEGORY_CONFLICT.format(
                line=row.line,
                unit=row.unit,
                category=row.unit_category,
                first_line=decided.line,
                first_category=decided.unit_category,
            )
            plan.refuse(plan.position[rid], row, RefusalCode.UNIT_CATEGORY_CONFLICT, reason)


def _check_unit_cycles(plan: _Plan, stored_parent: dict[str, str | None]) -> None:
    """Refuse the rows setting the parent of a unit on a loop of the unit tree after import.

    Units on the loop whose parent no accepted row sets keep their stored parent; one pass,
    the caller repeats it while refusals change the tree.
    """
    declared = _declared_parents(plan.accepted.values())
    final = dict(stored_parent)
    final.update(declared)
    chains: dict[str, str] = {}
    for cycle in _cycles(final):
        for index, unit in enumerate(cycle):
            if unit in declared:
                loop = [*cycle[index:], *cycle[:index]]
                chains[unit] = _chain_text(loop, zh.UNIT_CYCLE_LONG)
    if not chains:
        return
    for rid, row in list(plan.accepted.items()):
        chain = chains.get(row.unit)
        if chain is not None and row.parent_unit is not None:
            reason = zh.REFUSED_PARENT_UNIT_CYCLE.format(line=row.line, chain=chain)
            plan.refuse(plan.position[rid], row, RefusalCode.PARENT_UNIT_CYCLE, reason)


def _check_supervisors(plan: _Plan, stored_supervisor: dict[str, str | None]) -> None:
    """Refuse unknown supervisors, cycles and (transitively) subordinates of refused rows."""
    children: dict[str, list[RosterRow]] = defaultdict(list)
    for row in plan.accepted.values():
        if row.supervisor_id:
            children[row.supervisor_id].append(row)

    # A refused row that is not stored yet will not exist: its subordinates go with it.
    pending: deque[str] = deque(
        rid for rid in plan.first_row if rid not in plan.accepted and rid not in stored_supervisor
    )

    def refuse(row: RosterRow, code: RefusalCode, reason: str) -> None:
        plan.refuse(plan.position[row.roster_id], row, code, reason)
        if row.roster_id not in stored_supervisor:
            pending.append(row.roster_id)

    for row in list(plan.accepted.values()):
        sid = row.supervisor_id
        if sid and sid not in plan.first_row and sid not in stored_supervisor:
            reason = zh.REFUSED_UNKNOWN_SUPERVISOR.format(line=row.line, supervisor_id=sid)
            refuse(row, RefusalCode.UNKNOWN_SUPERVISOR, reason)

    while True:
        while pending:
            sid = pending.popleft()
            for child in children.get(sid, ()):
                if plan.accepted.get(child.roster_id) is child:
                    reason = zh.REFUSED_SUPERVISOR_REFUSED.format(
                        line=child.line, supervisor_id=sid, supervisor_line=plan.first_row[sid].line
                    )
                    refuse(child, RefusalCode.SUPERVISOR_REFUSED, reason)
        final = dict(stored_supervisor)
        final.update({rid: row.supervisor_id or None for rid, row in plan.accepted.items()})
        refused_any = False
        for cycle in _cycles(final):
            for index, rid in enumerate(cycle):
                row = plan.accepted.get(rid)
                if row is None:
                    continue  # a stored person whose file row was refused: keeps stored data
                chain = _chain_text([*cycle[index:], *cycle[:index]])
                reason = zh.REFUSED_SUPERVISOR_CYCLE.format(line=row.line, chain=chain)
                refuse(row, RefusalCode.SUPERVISOR_CYCLE, reason)
                refused_any = True
        # Refusing a cycle brings back stored supervisors, which could close a new cycle.
        if not refused_any:
            return


def _chain_text(cycle: list[str], long: str = zh.CYCLE_LONG) -> str:
    """The loop as "1 → 2 → 3 → 1", cut short (with `long`) so a refusal stays one line."""
    if len(cycle) <= CYCLE_SHOWN:
        return " → ".join([*cycle, cycle[0]])
    shown = " → ".join(cycle[:CYCLE_SHOWN])
    return long.format(chain=shown, first=cycle[0], count=len(cycle))


def _cycles(supervisor_of: dict[str, str | None]) -> list[list[str]]:
    """Every cycle of a graph where each node has at most one successor (supervisor, parent)."""
    done: set[str] = set()
    cycles: list[list[str]] = []
    for start in supervisor_of:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node in supervisor_of and node not in done:
            if node in on_path:
                cycles.append(path[on_path[node] :])
                break
            on_path[node] = len(path)
            path.append(node)
            node = supervisor_of[node]
        done.update(path)
    return cycles


def _stored_roles(value: str) -> str:
    """Stored roles in canonical order; a value this module did not write is kept as is."""
    try:
        return roles_value(value.split(","))
    except ValueError:
        return value


# ---------------------------------------------------------------------------------------------
# Invites


def invite_link(bot_username: str, token: str) -> str:
    """The deep link that opens the bot and sends `/start <token>`."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={token}"


async def _create_invites(
    uow: UnitOfWork,
    now: datetime,
    roster_ids: Sequence[str] | None,
    ttl_days: int,
    *,
    unbound_only: bool = False,
) -> InviteBatch:
    """Issue a fresh single-use invite per person, valid for `ttl_days` from now.

    `roster_ids=None` means every active person (with `unbound_only=True`: the mass rollout
    to everyone not yet bound). Unknown ids are reported, not fatal; deactivated people get
    no invite. Earlier unused invites of the same person stay valid until they expire, so a
    link already handed out keeps working; whichever is redeemed first binds the account.
    Commits.
    """
    expires_at = now + timedelta(days=ttl_days)
    batch = InviteBatch(expires_at=expires_at)
    if roster_ids is None:
        people = await uow.people.for_invites(None)
    else:
        wanted = list(dict.fromkeys(clean(rid) for rid in roster_ids if clean(rid)))
        found = {row[1]: row for row in await uow.people.for_invites(wanted)}
        batch.unknown = [rid for rid in wanted if rid not in found]
        people = [found[rid] for rid in wanted if rid in found]

    values: list[dict[str, object]] = []
    tokens: set[str] = set()
    for person_id, roster_id, name, telegram_user_id, active in people:
        if not active:
            batch.inactive.append(roster_id)
            continue
        if unbound_only and telegram_user_id is not None:
            batch.already_bound.append(roster_id)
            continue
        token = secrets.token_urlsafe(16)  # 22 chars of [A-Za-z0-9_-]: valid in a deep link
        while token in tokens:
            token = secrets.token_urlsafe(16)
        tokens.add(token)
        values.append(
            {"token": token, "person_id": person_id, "created_at": now, "expires_at": expires_at}
        )
        batch.invites.append(IssuedInvite(roster_id, name, token, expires_at))
    await uow.invites.insert_many(values)
    await uow.audit.record(
        now,
        "invites_created",
        detail={
            "count": len(values),
            "ttl_days": ttl_days,
            "unbound_only": unbound_only,
            "unknown": len(batch.unknown),
            "inactive": len(batch.inactive),
            "already_bound": len(batch.already_bound),
        },
    )
    await uow.commit()
    return batch


class RosterService:
    """The admin's roster operations (CLI)."""

    def __init__(self, uow: UowFactory, clock: Clock, tz: tzinfo = SHANGHAI) -> None:
        self.uow = uow
        self.clock = clock
        self.tz = tz  # whose calendar date a new person without a join date joins on

    async def import_rows(self, rows: Sequence[RosterRow]) -> ImportReport:
        """Import roster rows in one transaction; see `_import`."""
        async with self.uow() as uow:
            return await _import(uow, self.clock.now(), rows, self.tz)

    async def create_invites(
        self, roster_ids: Sequence[str] | None, ttl_days: int, *, unbound_only: bool = False
    ) -> InviteBatch:
        """Issue invites in one transaction; see `_create_invites`."""
        if ttl_days < 1:
            raise ValueError("ttl_days must be at least 1")
        async with self.uow() as uow:
            return await _create_invites(
                uow, self.clock.now(), roster_ids, ttl_days, unbound_only=unbound_only
            )
