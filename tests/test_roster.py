"""Roster files, import (creates, updates, refusals) and invites, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import time
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from openpyxl import Workbook
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from services.clock import FrozenClock
from services.identity import IdentityService
from services.roster import (
    ImportReport,
    Refusal,
    RefusalCode,
    RosterFileError,
    RosterRow,
    RosterService,
    invite_link,
    parse_joined_on,
    parse_roles,
    read_roster_file,
)
from storage.db import create_engine, session_factory
from storage.models import AuditLog, Invite, Person, Role, Unit
from storage.uow import UnitOfWork

SAMPLE = Path(__file__).parent / "data" / "roster_sample.csv"
HEADER = "工号,姓名,单位,职务,上级工号,角色\n"
T0 = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
class Db:
    """The roster use cases on the test database, and sessions to inspect it directly."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock) -> None:
        self.sessions = sessions
        self.roster = RosterService(lambda: UnitOfWork(sessions), clock)
        self.identity = IdentityService(lambda: UnitOfWork(sessions), clock, UTC)

    def __call__(self) -> AsyncSession:
        return self.sessions()


@pytest_asyncio.fixture
async def db(db_url: str, clock: FrozenClock) -> AsyncIterator[Db]:
    engine = create_engine(db_url)
    yield Db(session_factory(engine), clock)
    await engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


# ---------------------------------------------------------------------------------------------
# Helpers


async def run_import(db: Db, rows: list[RosterRow]) -> ImportReport:
    return await db.roster.import_rows(rows)


async def stored_people(
    db: Db,
) -> dict[str, tuple[object, ...]]:
    """roster id -> (name, unit, position, supervisor roster id, roles, telegram id, active)."""
    boss = aliased(Person)
    async with db() as session:
        result = await session.execute(
            select(
                Person.roster_id,
                Person.name,
                Unit.name,
                Person.position,
                boss.roster_id,
                Person.roles,
                Person.telegram_user_id,
                Person.active,
            )
            .join(Unit, Person.unit_id == Unit.id)
            .outerjoin(boss, Person.supervisor_id == boss.id)
        )
        return {row[0]: tuple(row[1:]) for row in result.all()}


async def unit_names(db: Db) -> set[str]:
    async with db() as session:
        return set((await session.scalars(select(Unit.name))).all())


async def audit_details(db: Db, action: str) -> list[dict]:
    async with db() as session:
        lines = await session.scalars(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        )
        return [json.loads(line.detail) for line in lines]


def row(
    line: int, rid: str, name: str, unit: str = "县发改委", sup: str = "", role: str = ""
) -> RosterRow:
    """A row with position 科员, for tests about ids, supervisors and roles."""
    return RosterRow(line, rid, name, unit, "科员", sup, role)


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes(text.encode(encoding))
    return path


SAMPLE_STATE = {
    "1001": ("王建国", "县发改委", "主任", None, "cadre,supervisor", None, True),
    "1002": ("李明", "县发改委", "副主任", "1001", "cadre,supervisor", None, True),
    "1003": ("张伟", "县发改委", "投资科科长", "1002", "cadre,supervisor", None, True),
    "1004": ("刘洋", "县发改委", "投资科科员", "1003", "cadre", None, True),
    "1005": ("陈静", "县发改委", "办公室科员", "1002", "cadre", None, True),
    "2001": ("赵志强", "市住建局", "局长", None, "cadre,supervisor", None, True),
    "2002": ("孙丽", "市住建局", "城建科科长", "2001", "cadre,supervisor", None, True),
    "2003": ("周杰", "市住建局", "城建科科员", "2002", "cadre", None, True),
    "2004": ("吴敏", "市住建局", "党组书记", None, "cadre,rater", None, True),
    "3001": ("郑海", "城关镇人民政府", "镇长", None, "cadre,supervisor", None, True),
    "3002": ("冯晓", "城关镇人民政府", "党委副书记", "3001", "cadre,rater", None, True),
    "3003": ("许婷", "城关镇人民政府", "党政办主任（考核办）", "3001", "cadre,admin", None, True),
}


# ---------------------------------------------------------------------------------------------
# Reading files


def test_sample_csv_with_chinese_headers() -> None:
    rows = read_roster_file(SAMPLE)

    assert len(rows) == 12
    assert rows[0] == RosterRow(2, "1001", "王建国", "县发改委", "主任", "", "干部、上级")
    assert rows[4] == RosterRow(6, "1005", "陈静", "县发改委", "办公室科员", "1002", "")
    assert rows[-1] == RosterRow(
        13, "3003", "许婷", "城关镇人民政府", "党政办主任（考核办）", "3001", "干部、管理员"
    )


def test_csv_in_gbk_as_saved_by_chinese_excel(tmp_path: Path) -> None:
    text = "编号,姓名,单位,职务,上级工号,角色\r\n1001,王建国,县发改委,主任,,干部、上级\r\n"
    text += "1002,李明,县发改委,副主任,1001,干部\r\n"
    path = write_csv(tmp_path, text, encoding="gbk")

    assert read_roster_file(path) == [
        RosterRow(2, "1001", "王建国", "县发改委", "主任", "", "干部、上级"),
        RosterRow(3, "1002", "李明", "县发改委", "副主任", "1001", "干部"),
    ]


def test_csv_with_bom_english_headers_extra_column_and_blank_rows(tmp_path: Path) -> None:
    text = (
        " ID ,Name,UNIT,Position,Supervisor ID,role,备注\n"
        "\n"
        " 1001 , 王建国　,县发改委,主任,,admin,电话 123\n"
        ",,,,,,\n"
        "1002,李明,县发改委,副主任,1001\n"  # short row: missing cells are empty
    )
    path = write_csv(tmp_path, text, encoding="utf-8-sig")

    assert read_roster_file(path) == [
        RosterRow(3, "1001", "王建国", "县发改委", "主任", "", "admin"),
        RosterRow(5, "1002", "李明", "县发改委", "副主任", "1001", ""),
    ]


def test_xlsx_with_numeric_ids(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["工号", "姓名", "单位（全称）", "职务", "上级工号", "角色", "手机"])
    sheet.append([1001, "王建国", "县发改委", "主任", None, "干部 上级", 13800000000])
    sheet.append([1002.0, " 李明 ", " 县发改委 ", "副主任", 1001.0, "干部", None])
    sheet.append([None, None, None, None, None, None, None])
    sheet.append(["A-7", "刘洋", "县发改委", None, "1002", None, None])
    workbook.create_sheet("说明").append(["这一页不读"])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    # openpyxl writes 1002.0 as "1002"; other exporters keep the decimal, read back as float.
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet_xml = "xl/worksheets/sheet1.xml"
    parts[sheet_xml] = parts[sheet_xml].replace(b"<v>1002</v>", b"<v>1002.0</v>")
    parts[sheet_xml] = parts[sheet_xml].replace(b"<v>1001</v>", b"<v>1001.0</v>")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)

    assert read_roster_file(path) == [
        RosterRow(2, "1001", "王建国", "县发改委", "主任", "", "干部 上级"),
        RosterRow(3, "1002", "李明", "县发改委", "副主任", "1001", "干部"),
        RosterRow(5, "A-7", "刘洋", "县发改委", "", "1002", ""),
    ]


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("工号,单位,职务,上级工号,角色", "姓名"),
        ("姓名,单位,职务,上级工号,角色", "工号"),
        ("id,name,unit,position,role", "上级工号"),
        ("id,name,unit,position,supervisor_id", "角色"),
    ],
)
def test_missing_column_is_named(tmp_path: Path, header: str, missing: str) -> None:
    path = write_csv(tmp_path, header + "\n1001,x,y,z,w\n")

    with pytest.raises(RosterFileError, match=f"花名册缺少「{missing}」列"):
        read_roster_file(path)


def test_two_columns_for_one_field_are_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "工号,编号,姓名,单位,职务,上级工号,角色\n")

    with pytest.raises(RosterFileError, match="表头「工号」和「编号」都表示「工号」"):
        read_roster_file(path)


def test_empty_file_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RosterFileError, match="花名册文件是空的"):
        read_roster_file(write_csv(tmp_path, "\n\n"))
    with pytest.raises(RosterFileError, match="找不到花名册文件"):
        read_roster_file(tmp_path / "nope.csv")


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    assert read_roster_file(write_csv(tmp_path, HEADER)) == []


@pytest.mark.parametrize(
    "header", ["上级单位", "上级部门", "parent_unit", "Parent Unit", "PARENTUNIT"]
)
def test_parent_unit_column_under_each_header(tmp_path: Path, header: str) -> None:
    text = f"工号,姓名,单位,职务,上级工号,角色,{header}\n"
    text += "1001,王建国,县发改委,主任,,干部, 县政府 \n"
    text += "2001,赵志强,县政府,县长,,干部,\n"
    text += "2002,孙丽,县政府,副县长,2001\n"  # short row: the parent cell is empty

    assert read_roster_file(write_csv(tmp_path, text)) == [
        RosterRow(2, "1001", "王建国", "县发改委", "主任", "", "干部", "县政府"),
        RosterRow(3, "2001", "赵志强", "县政府", "县长", "", "干部", ""),
        RosterRow(4, "2002", "孙丽", "县政府", "副县长", "2001", "", ""),
    ]


def test_parent_unit_column_in_gbk_csv(tmp_path: Path) -> None:
    text = "工号,姓名,单位,上级单位,职务,上级工号,角色\r\n"
    text += "1001,王建国,县发改委,县人民政府,主任,,干部\r\n"
    path = write_csv(tmp_path, text, encoding="gbk")

    assert read_roster_file(path) == [
        RosterRow(2, "1001", "王建国", "县发改委", "主任", "", "干部", "县人民政府")
    ]


def test_parent_unit_column_in_xlsx_with_english_header(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "name", "unit", "parent_unit", "position", "supervisor_id", "role"])
    sheet.append([1001, "王建国", "县发改委", "县政府", "主任", None, "cadre"])
    sheet.append([2001, "赵志强", "县政府", None, "县长", None, "cadre"])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)

    assert read_roster_file(path) == [
        RosterRow(2, "1001", "王建国", "县发改委", "主任", "", "cadre", "县政府"),
        RosterRow(3, "2001", "赵志强", "县政府", "县长", "", "cadre", ""),
    ]


def test_without_parent_unit_column_the_parent_is_not_given(tmp_path: Path) -> None:
    rows = read_roster_file(write_csv(tmp_path, HEADER + "1001,王建国,县发改委,主任,,\n"))

    assert [r.parent_unit for r in rows] == [None]
    assert all(r.parent_unit is None for r in read_roster_file(SAMPLE))


def test_two_parent_unit_columns_are_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "工号,姓名,单位,职务,上级工号,角色,上级单位,上级部门\n")

    with pytest.raises(RosterFileError, match="表头「上级单位」和「上级部门」都表示「上级单位」"):
        read_roster_file(path)


@pytest.mark.parametrize(
    ("cell", "roles", "unknown"),
    [
        ("", {Role.CADRE}, ()),
        ("干部、上级", {Role.CADRE, Role.SUPERVISOR}, ()),
        ("Admin / RATER", {Role.ADMIN, Role.RATER}, ()),
        ("领导;党委|考核办 干部", {Role.SUPERVISOR, Role.RATER, Role.ADMIN, Role.CADRE}, ()),
        ("干部，主管", {Role.CADRE, Role.SUPERVISOR}, ()),
        ("评价,组织部", {Role.RATER, Role.ADMIN}, ()),
        ("干部、组长", {Role.CADRE}, ("组长",)),
    ],
)
def test_parse_roles(cell: str, roles: set[Role], unknown: tuple[str, ...]) -> None:
    assert parse_roles(cell) == (frozenset(roles), unknown)


# ---------------------------------------------------------------------------------------------
# Importing


@pytest.mark.asyncio
async def test_import_sample_builds_units_people_and_tree(db, clock) -> None:
    report = await run_import(db, read_roster_file(SAMPLE))

    assert (report.created, report.updated, report.unchanged, report.refused) == (12, 0, 0, [])
    assert report.units_created == 3
    assert await stored_people(db) == SAMPLE_STATE
    assert await unit_names(db) == {"县发改委", "市住建局", "城关镇人民政府"}
    assert await audit_details(db, "roster_import") == [
        {
            "rows": 12,
            "created": 12,
            "updated": 0,
            "unchanged": 0,
            "refused": 0,
            "units_created": 3,
            "units_reparented": 0,
            "units_categorized": 0,
            "joined_defaulted": 12,
            "refusal_codes": {},
        }
    ]
    async with db() as session:
        stamps = (await session.execute(select(Person.created_at, Person.updated_at))).all()
    assert set(stamps) == {(T0, T0)}


@pytest.mark.asyncio
async def test_reimport_updates_without_duplicating_and_keeps_binding(db, clock) -> None:
    await run_import(db, read_roster_file(SAMPLE))
    async with db() as session:
        await session.execute(
            update(Person)
            .where(Person.roster_id.in_(["1004", "2003"]))
            .values(telegram_user_id=Person.id + 700, active=False)
        )
        await session.commit()
        ids = dict((await session.execute(select(Person.roster_id, Person.id))).all())
    clock.advance(days=1)
    rows = read_roster_file(SAMPLE)
    rows[3] = RosterRow(5, "1004", "刘洋", "市住建局", "城建科副科长", "2002", "干部、上级")
    rows[4] = RosterRow(6, "1005", "陈静", "县发改委", "办公室主任", "1001", "")
    rows.append(RosterRow(14, "4001", "钱多", "县财政局", "局长", "", ""))

    report = await run_import(db, rows)

    assert (report.created, report.updated, report.unchanged, report.refused) == (1, 3, 9, [])
    assert report.units_created == 1
    expected = dict(SAMPLE_STATE)
    bound_1004 = ids["1004"] + 700
    expected["1004"] = (
        "刘洋",
        "市住建局",
        "城建科副科长",
        "2002",
        "cadre,supervisor",
        bound_1004,
        True,
    )
    expected["1005"] = ("陈静", "县发改委", "办公室主任", "1001", "cadre", None, True)
    # Only reactivated: the binding stays.
    expected["2003"] = (*SAMPLE_STATE["2003"][:5], ids["2003"] + 700, True)
    expected["4001"] = ("钱多", "县财政局", "局长", None, "cadre", None, True)
    assert await stored_people(db) == expected
    async with db() as session:
        count = await session.scalar(select(func.count()).select_from(Person))
        stamps = dict((await session.execute(select(Person.roster_id, Person.updated_at))).all())
        new_ids = dict((await session.execute(select(Person.roster_id, Person.id))).all())
    assert count == 13
    assert {rid: new_ids[rid] for rid in ids} == ids
    t1 = T0 + timedelta(days=1)
    assert {rid for rid, at in stamps.items() if at == t1} == {"1004", "1005", "2003", "4001"}


@pytest.mark.asyncio
async def test_supervisor_defined_later_in_file(db, clock) -> None:
    rows = [
        row(2, "3", "科员", sup="2"),
        row(3, "2", "科长", sup="1"),
        row(4, "1", "主任"),
    ]

    report = await run_import(db, rows)

    assert (report.created, report.refused) == (3, [])
    people = await stored_people(db)
    assert {rid: p[3] for rid, p in people.items()} == {"3": "2", "2": "1", "1": None}


@pytest.mark.asyncio
async def test_each_row_problem_is_refused_with_line_code_and_reason(db, clock) -> None:
    rows = [
        row(2, "1001", "王建国"),
        row(3, "", "无号"),
        row(4, "1002", ""),
        RosterRow(5, "1003", "张伟", "", "科员"),
        row(6, "1001", "王建国二"),
        row(7, "1004", "刘洋", role="干部、组长"),
        row(8, "1005", "陈静", sup="1005"),
        row(9, "1006", "周杰", sup="1009"),
        row(10, "1007", "吴" * 101),
        row(11, "1008", "孙丽", unit="市住建局", sup="1001", role="上级"),
    ]

    report = await run_import(db, rows)

    assert report.refused == [
        Refusal(3, "", RefusalCode.EMPTY_ID, "第3行：工号为空"),
        Refusal(4, "1002", RefusalCode.EMPTY_NAME, "第4行：工号 1002 的姓名为空"),
        Refusal(5, "1003", RefusalCode.EMPTY_UNIT, "第5行：张伟（1003）的单位为空"),
        Refusal(6, "1001", RefusalCode.DUPLICATE_ID, "第6行：工号 1001 与第2行重复，以第2行为准"),
        Refusal(
            7,
            "1004",
            RefusalCode.BAD_ROLE,
            "第7行：角色「组长」无法识别（可写：干部、上级、评定、管理员）",
        ),
        Refusal(8, "1005", RefusalCode.SELF_SUPERVISOR, "第8行：陈静（1005）的上级工号是本人"),
        Refusal(9, "1006", RefusalCode.UNKNOWN_SUPERVISOR, "第9行：上级工号 1009 不存在"),
        Refusal(10, "1007", RefusalCode.TOO_LONG, "第10行：姓名超过100个字"),
    ]
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert await stored_people(db) == {
        "1001": ("王建国", "县发改委", "科员", None, "cadre", None, True),
        "1008": ("孙丽", "市住建局", "科员", "1001", "supervisor", None, True),
    }
    # The unit of a refused row is not created either.
    assert await unit_names(db) == {"县发改委", "市住建局"}
    [detail] = await audit_details(db, "roster_import")
    assert detail["refused"] == 8
    assert detail["refusal_codes"]["empty_id"] == 1


@pytest.mark.asyncio
async def test_three_person_cycle_is_refused_with_its_subordinates(db, clock) -> None:
    rows = [
        row(2, "A", "甲", sup="C"),
        row(3, "B", "乙", sup="A"),
        row(4, "C", "丙", sup="B"),
        row(5, "D", "丁", sup="C"),  # under the cycle: cascade
        row(6, "E", "戊", sup="D"),  # under a cascaded row: cascade again
        row(7, "F", "己"),
        row(8, "G", "庚", sup="F"),
    ]

    report = await run_import(db, rows)

    assert report.refused == [
        Refusal(2, "A", RefusalCode.SUPERVISOR_CYCLE, "第2行：上级关系形成循环 A → C → B → A"),
        Refusal(3, "B", RefusalCode.SUPERVISOR_CYCLE, "第3行：上级关系形成循环 B → A → C → B"),
        Refusal(4, "C", RefusalCode.SUPERVISOR_CYCLE, "第4行：上级关系形成循环 C → B → A → C"),
        Refusal(
            5,
            "D",
            RefusalCode.SUPERVISOR_REFUSED,
            "第5行：上级 C（第4行）未导入，本行也未导入",
        ),
        Refusal(
            6,
            "E",
            RefusalCode.SUPERVISOR_REFUSED,
            "第6行：上级 D（第5行）未导入，本行也未导入",
        ),
    ]
    people = await stored_people(db)
    assert {rid: p[3] for rid, p in people.items()} == {"F": None, "G": "F"}


@pytest.mark.asyncio
async def test_long_cycle_is_shown_short(db, clock) -> None:
    rows = [row(n + 2, f"P{n}", f"人{n}", sup=f"P{(n + 1) % 8}") for n in range(8)]

    report = await run_import(db, rows)

    assert [r.code for r in report.refused] == [RefusalCode.SUPERVISOR_CYCLE] * 8
    assert report.refused[6].reason == (
        "第8行：上级关系形成循环 P6 → P7 → P0 → P1 → P2 → …… → P6（共8人）"
    )
    assert await stored_people(db) == {}


@pytest.mark.asyncio
async def test_subordinates_of_a_row_refused_for_its_own_fault_cascade(db, clock) -> None:
    rows = [
        row(2, "1001", "", role=""),
        row(3, "1002", "李明", sup="1001"),
        row(4, "1003", "张伟", sup="1002"),
    ]

    report = await run_import(db, rows)

    assert [(r.line, r.code) for r in report.refused] == [
        (2, RefusalCode.EMPTY_NAME),
        (3, RefusalCode.SUPERVISOR_REFUSED),
        (4, RefusalCode.SUPERVISOR_REFUSED),
    ]
    assert report.refused[1].reason == "第3行：上级 1001（第2行）未导入，本行也未导入"
    assert await stored_people(db) == {}


@pytest.mark.asyncio
async def test_cycle_through_a_stored_person_is_refused(db, clock) -> None:
    await run_import(db, [row(2, "1001", "王建国"), row(3, "1002", "李明", sup="1001")])

    report = await run_import(db, [row(2, "1001", "王建国", sup="1002")])

    assert report.refused == [
        Refusal(
            2, "1001", RefusalCode.SUPERVISOR_CYCLE, "第2行：上级关系形成循环 1001 → 1002 → 1001"
        )
    ]
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    people = await stored_people(db)
    assert {rid: p[3] for rid, p in people.items()} == {"1001": None, "1002": "1001"}


@pytest.mark.asyncio
async def test_reversing_a_stored_chain_in_one_file_is_accepted(db, clock) -> None:
    await run_import(db, [row(2, "1001", "王建国"), row(3, "1002", "李明", sup="1001")])

    report = await run_import(db, [row(2, "1001", "王建国", sup="1002"), row(3, "1002", "李明")])

    assert (report.created, report.updated, report.refused) == (0, 2, [])
    people = await stored_people(db)
    assert {rid: p[3] for rid, p in people.items()} == {"1001": "1002", "1002": None}


@pytest.mark.asyncio
async def test_subordinate_of_a_refused_but_stored_supervisor_is_kept(db, clock) -> None:
    await run_import(db, [row(2, "1001", "王建国", role="上级")])

    report = await run_import(
        db,
        [row(2, "1001", "王建国", role="老板"), row(3, "1002", "李明", sup="1001")],
    )

    assert [(r.line, r.code) for r in report.refused] == [(2, RefusalCode.BAD_ROLE)]
    assert await stored_people(db) == {
        "1001": ("王建国", "县发改委", "科员", None, "supervisor", None, True),
        "1002": ("李明", "县发改委", "科员", "1001", "cadre", None, True),
    }


@pytest.mark.asyncio
async def test_stored_person_refused_for_a_bad_supervisor_keeps_subordinates(db, clock) -> None:
    await run_import(db, [row(2, "1001", "王建国")])

    report = await run_import(
        db,
        [row(2, "1001", "王建国", sup="9999"), row(3, "1002", "李明", sup="1001")],
    )

    assert [(r.line, r.code) for r in report.refused] == [(2, RefusalCode.UNKNOWN_SUPERVISOR)]
    people = await stored_people(db)
    assert {rid: p[3] for rid, p in people.items()} == {"1001": None, "1002": "1001"}


@pytest.mark.asyncio
async def test_supervisor_may_be_already_stored(db, clock) -> None:
    await run_import(db, [row(2, "1001", "王建国")])

    report = await run_import(db, [row(2, "1002", "李明", sup="1001")])

    assert (report.created, report.refused) == (1, [])
    assert (await stored_people(db))["1002"][3] == "1001"


# ---------------------------------------------------------------------------------------------
# The unit tree (上级单位)


async def unit_tree(db: Db) -> dict[str, str | None]:
    """unit name -> parent unit name (None: top-level), every stored unit."""
    parent = aliased(Unit)
    async with db() as session:
        result = await session.execute(
            select(Unit.name, parent.name).outerjoin(parent, Unit.parent_id == parent.id)
        )
        return dict(result.all())


def unit_row(line: int, rid: str, unit: str, parent: str | None, sup: str = "") -> RosterRow:
    """A person of `unit`, whose row gives `parent` as the unit's parent (None: no column)."""
    return RosterRow(line, rid, f"人{rid}", unit, "科员", sup, "", parent)


@pytest.mark.asyncio
async def test_parent_units_are_set_and_created(db, clock) -> None:
    rows = [
        unit_row(2, "1001", "县发改委", "县政府"),
        unit_row(3, "1002", "县发改委", "县政府"),
        unit_row(4, "2001", "县政府", "市政府"),
        unit_row(5, "3001", "城关镇", ""),
    ]

    report = await run_import(db, rows)

    assert (report.created, report.refused) == (4, [])
    # 市政府 is created as a parent though nobody works there; new units are not "reparented".
    assert (report.units_created, report.units_reparented) == (4, 0)
    assert await unit_tree(db) == {
        "县发改委": "县政府",
        "县政府": "市政府",
        "市政府": None,
        "城关镇": None,
    }
    [detail] = await audit_details(db, "roster_import")
    assert (detail["units_created"], detail["units_reparented"]) == (4, 0)


@pytest.mark.asyncio
async def test_reimport_with_parent_units_is_idempotent(db, clock, tmp_path: Path) -> None:
    text = "工号,姓名,单位,职务,上级工号,角色,上级单位\n"
    text += "1001,王建国,县发改委,主任,,,县政府\n1002,李明,县发改委,科员,1001,,县政府\n"
    text += "2001,赵志强,县政府,县长,,,\n"
    rows = read_roster_file(write_csv(tmp_path, text))
    await run_import(db, rows)
    tree = await unit_tree(db)

    again = await run_import(db, rows)

    assert (again.created, again.updated, again.unchanged, again.refused) == (0, 0, 3, [])
    assert (again.units_created, again.units_reparented) == (0, 0)
    assert again.render() == "花名册导入完成：新增 0 人，更新 0 人，未变 3 人，未导入 0 行。"
    assert await unit_tree(db) == tree == {"县发改委": "县政府", "县政府": None}


@pytest.mark.asyncio
async def test_roster_without_the_column_leaves_stored_parents(db, clock, tmp_path: Path) -> None:
    await run_import(
        db, [unit_row(2, "1001", "县发改委", "县政府"), unit_row(3, "2001", "县政府", "市政府")]
    )
    # The same people moved around, and a new unit, from a file without the column.
    text = (
        HEADER + "1001,王建国,县政府,科员,,\n2001,赵志强,县发改委,科员,,\n3001,郑海,城关镇,镇长,,\n"
    )

    report = await run_import(db, read_roster_file(write_csv(tmp_path, text)))

    assert (report.created, report.updated, report.refused) == (1, 2, [])
    assert (report.units_created, report.units_reparented) == (1, 0)
    assert await unit_tree(db) == {
        "县发改委": "县政府",
        "县政府": "市政府",
        "市政府": None,
        "城关镇": None,
    }


@pytest.mark.asyncio
async def test_empty_cell_makes_a_unit_top_level_and_parents_can_move(db, clock) -> None:
    await run_import(
        db, [unit_row(2, "1001", "县发改委", "县政府"), unit_row(3, "2001", "县政府", "市政府")]
    )

    report = await run_import(
        db, [unit_row(2, "1001", "县发改委", ""), unit_row(3, "2001", "县政府", "省政府")]
    )

    assert (report.updated, report.unchanged, report.refused) == (0, 2, [])
    assert (report.units_created, report.units_reparented) == (1, 2)
    assert report.render() == (
        "花名册导入完成：新增 0 人，更新 0 人，未变 2 人，未导入 0 行。\n"
        "新建单位 1 个。\n"
        "调整上级单位 2 个。"
    )
    assert await unit_tree(db) == {
        "县发改委": None,
        "县政府": "省政府",
        "市政府": None,  # stays, no longer anyone's parent
        "省政府": None,
    }
    [_, detail] = await audit_details(db, "roster_import")
    assert detail["units_reparented"] == 2


@pytest.mark.asyncio
async def test_rows_disagreeing_on_the_parent_are_refused(db, clock) -> None:
    rows = [
        unit_row(2, "1001", "县发改委", "县政府"),
        unit_row(3, "1002", "县发改委", ""),
        unit_row(4, "1003", "县发改委", "市政府"),
        unit_row(5, "1004", "县发改委", "县政府", sup="1003"),  # under a refused row
        unit_row(6, "1005", "县发改委", "县政府"),
        unit_row(7, "2001", "城关镇", ""),
        unit_row(8, "2002", "城关镇", "县政府"),
    ]

    report = await run_import(db, rows)

    assert report.refused == [
        Refusal(
            3,
            "1002",
            RefusalCode.PARENT_UNIT_CONFLICT,
            "第3行：单位「县发改委」的上级单位写为空，而第2行写为「县政府」；"
            "同一单位各行的上级单位须一致",
        ),
        Refusal(
            4,
            "1003",
            RefusalCode.PARENT_UNIT_CONFLICT,
            "第4行：单位「县发改委」的上级单位写为「市政府」，而第2行写为「县政府」；"
            "同一单位各行的上级单位须一致",
        ),
        Refusal(
            5,
            "1004",
            RefusalCode.SUPERVISOR_REFUSED,
            "第5行：上级 1003（第4行）未导入，本行也未导入",
        ),
        Refusal(
            8,
            "2002",
            RefusalCode.PARENT_UNIT_CONFLICT,
            "第8行：单位「城关镇」的上级单位写为「县政府」，而第7行写为空；"
            "同一单位各行的上级单位须一致",
        ),
    ]
    assert set(await stored_people(db)) == {"1001", "1005", "2001"}
    assert await unit_tree(db) == {"县发改委": "县政府", "县政府": None, "城关镇": None}


@pytest.mark.asyncio
async def test_unit_may_not_be_its_own_parent(db, clock) -> None:
    rows = [
        unit_row(2, "1001", "县发改委", "县发改委"),
        unit_row(3, "1002", "县发改委", "县政府"),  # the first row that counts
        RosterRow(4, "1003", "人1003", "县政府", "科员", "", "", "政" * 201),
    ]

    report = await run_import(db, rows)

    assert report.refused == [
        Refusal(
            2, "1001", RefusalCode.SELF_PARENT_UNIT, "第2行：单位「县发改委」的上级单位是它本身"
        ),
        Refusal(4, "1003", RefusalCode.TOO_LONG, "第4行：上级单位超过200个字"),
    ]
    assert await unit_tree(db) == {"县发改委": "县政府", "县政府": None}


@pytest.mark.asyncio
async def test_unit_loop_in_the_file_is_refused_with_its_chain(db, clock) -> None:
    rows = [
        unit_row(2, "1001", "甲局", "乙局"),
        unit_row(3, "2001", "乙局", "丙局"),
        unit_row(4, "2002", "乙局", "丙局"),
        unit_row(5, "3001", "丙局", "甲局"),
        unit_row(6, "4001", "丁局", "甲局"),  # under the loop: kept, 甲局 is created for it
        unit_row(7, "5001", "戊局", "", sup="2002"),  # a person under a refused row
    ]

    report = await run_import(db, rows)

    loop = RefusalCode.PARENT_UNIT_CYCLE
    assert report.refused == [
        Refusal(2, "1001", loop, "第2行：上级单位关系形成循环 甲局 → 乙局 → 丙局 → 甲局"),
        Refusal(3, "2001", loop, "第3行：上级单位关系形成循环 乙局 → 丙局 → 甲局 → 乙局"),
        Refusal(4, "2002", loop, "第4行：上级单位关系形成循环 乙局 → 丙局 → 甲局 → 乙局"),
        Refusal(5, "3001", loop, "第5行：上级单位关系形成循环 丙局 → 甲局 → 乙局 → 丙局"),
        Refusal(
            7,
            "5001",
            RefusalCode.SUPERVISOR_REFUSED,
            "第7行：上级 2002（第4行）未导入，本行也未导入",
        ),
    ]
    assert set(await stored_people(db)) == {"4001"}
    assert await unit_tree(db) == {"丁局": "甲局", "甲局": None}
    assert report.units_created == 2


@pytest.mark.asyncio
async def test_long_unit_loop_is_shown_short(db, clock) -> None:
    rows = [unit_row(n + 2, f"P{n}", f"单位{n}", f"单位{(n + 1) % 7}") for n in range(7)]

    report = await run_import(db, rows)

    assert [r.code for r in report.refused] == [RefusalCode.PARENT_UNIT_CYCLE] * 7
    assert report.refused[0].reason == (
        "第2行：上级单位关系形成循环 单位0 → 单位1 → 单位2 → 单位3 → 单位4 → …… → 单位0"
        "（共7个单位）"
    )
    assert await unit_tree(db) == {}


@pytest.mark.asyncio
async def test_unit_loop_through_stored_parents_is_refused(db, clock) -> None:
    await run_import(
        db, [unit_row(2, "1001", "县发改委", "县政府"), unit_row(3, "2001", "县政府", "市政府")]
    )

    # 市政府 under 县发改委 closes 市政府 → 县发改委 → 县政府 → 市政府 through stored parents.
    report = await run_import(db, [unit_row(2, "3001", "市政府", "县发改委")])

    assert report.refused == [
        Refusal(
            2,
            "3001",
            RefusalCode.PARENT_UNIT_CYCLE,
            "第2行：上级单位关系形成循环 市政府 → 县发改委 → 县政府 → 市政府",
        )
    ]
    assert (report.created, report.units_reparented) == (0, 0)
    assert await unit_tree(db) == {"县发改委": "县政府", "县政府": "市政府", "市政府": None}


@pytest.mark.asyncio
async def test_reversing_a_stored_unit_chain_in_one_file_is_accepted(db, clock) -> None:
    await run_import(
        db, [unit_row(2, "1001", "县发改委", "县政府"), unit_row(3, "2001", "县政府", "")]
    )

    report = await run_import(
        db, [unit_row(2, "1001", "县发改委", ""), unit_row(3, "2001", "县政府", "县发改委")]
    )

    assert (report.refused, report.units_reparented) == ([], 2)
    assert await unit_tree(db) == {"县发改委": None, "县政府": "县发改委"}


@pytest.mark.asyncio
async def test_refused_loop_bringing_back_a_stored_parent_is_checked_again(db, clock) -> None:
    await run_import(db, [unit_row(2, "1001", "甲局", "乙局"), unit_row(3, "2001", "乙局", "")])

    rows = [
        unit_row(2, "2001", "乙局", "甲局"),  # fine while 甲局 moves under 丙局 ...
        unit_row(3, "1001", "甲局", "丙局"),  # ... but 甲局 and 丙局 form a loop
        unit_row(4, "3001", "丙局", "甲局"),
    ]

    report = await run_import(db, rows)

    # 甲局 keeps its stored parent 乙局, so 乙局 under 甲局 is a loop too.
    assert [(r.line, r.code) for r in report.refused] == [
        (2, RefusalCode.PARENT_UNIT_CYCLE),
        (3, RefusalCode.PARENT_UNIT_CYCLE),
        (4, RefusalCode.PARENT_UNIT_CYCLE),
    ]
    assert report.refused[0].reason == "第2行：上级单位关系形成循环 乙局 → 甲局 → 乙局"
    assert await unit_tree(db) == {"甲局": "乙局", "乙局": None}


# ---------------------------------------------------------------------------------------------
# Unit categories (单位类别) and join dates (到岗日期)


async def unit_categories(db: Db) -> dict[str, str | None]:
    """unit name -> category, every stored unit."""
    async with db() as session:
        return dict((await session.execute(select(Unit.name, Unit.category))).all())


async def joined_dates(db: Db) -> dict[str, date | None]:
    """roster id -> joined_on, every stored person."""
    async with db() as session:
        return dict((await session.execute(select(Person.roster_id, Person.joined_on))).all())


def scored_row(
    line: int, rid: str, unit: str = "县发改委", category: str = "", joined: str = ""
) -> RosterRow:
    """A person of `unit` whose row gives a unit category and a join date ("" for none)."""
    return RosterRow(
        line, rid, f"人{rid}", unit, "科员", "", "", unit_category=category, joined_on=joined
    )


@pytest.mark.parametrize(
    ("category_header", "joined_header"),
    [
        ("单位类别", "到岗日期"),
        ("类别", "入职日期"),
        ("unit_category", "joined_on"),
        ("Category", "Joined"),
        ("单位类别（考核用）", "到岗日期（年-月-日）"),
    ],
)
def test_category_and_join_date_columns_under_each_header(
    tmp_path: Path, category_header: str, joined_header: str
) -> None:
    text = f"工号,姓名,单位,职务,上级工号,角色,{category_header},{joined_header}\n"
    text += "1001,王建国,县发改委,主任,,干部, 经济发展类 ,2026-11-09\n"
    text += "1002,李明,县发改委,副主任,1001\n"  # short row: both cells empty

    assert read_roster_file(write_csv(tmp_path, text)) == [
        RosterRow(
            2,
            "1001",
            "王建国",
            "县发改委",
            "主任",
            "",
            "干部",
            unit_category="经济发展类",
            joined_on="2026-11-09",
        ),
        RosterRow(3, "1002", "李明", "县发改委", "副主任", "1001", ""),
    ]


def test_category_and_join_date_in_gbk_csv(tmp_path: Path) -> None:
    text = "工号,姓名,单位,单位类别,职务,上级工号,角色,入职日期\r\n"
    text += "1001,王建国,县发改委,执法服务类,主任,,干部,2026年11月9日\r\n"
    path = write_csv(tmp_path, text, encoding="gbk")

    [only] = read_roster_file(path)
    assert (only.unit_category, only.joined_on) == ("执法服务类", "2026年11月9日")


def test_without_the_columns_nothing_is_given() -> None:
    rows = read_roster_file(SAMPLE)

    assert {(r.unit_category, r.joined_on) for r in rows} == {("", "")}


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026-11-09", date(2026, 11, 9)),
        ("2026/11/9", date(2026, 11, 9)),
        ("2026.11.9", date(2026, 11, 9)),
        ("2026年11月9日", date(2026, 11, 9)),
        ("2026年11月9", date(2026, 11, 9)),
        (" 2026 年 1 月 5 日 ", date(2026, 1, 5)),
        ("２０２６－１１－０９", None),  # full-width separator
        ("2026-11/9", None),  # mixed separators
        ("2026-02-30", None),
        ("2026-13-01", None),
        ("11/9/2026", None),
        ("20261109", None),
        ("46335", None),  # an Excel serial number typed as text
        ("下周一", None),
    ],
)
def test_parse_joined_on(cell: str, expected: date | None) -> None:
    assert parse_joined_on(cell) == expected


def test_join_date_from_an_xlsx_date_cell(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["工号", "姓名", "单位", "职务", "上级工号", "角色", "单位类别", "到岗日期"])
    sheet.append(
        [1001, "王建国", "县发改委", "主任", None, "干部", "经济发展类", date(2026, 11, 9)]
    )
    sheet.append([1002, "李明", "县发改委", "科员", 1001, "干部", None, datetime(2026, 3, 2)])
    sheet.append([1003, "张伟", "县发改委", "科员", 1001, "干部", None, "2026/1/5"])
    sheet.append([1004, "刘洋", "县发改委", "科员", 1001, "干部", None, None])
    sheet["H2"].number_format = "yyyy/m/d"
    path = tmp_path / "roster.xlsx"
    workbook.save(path)

    rows = read_roster_file(path)

    assert [(r.unit_category, r.joined_on) for r in rows] == [
        ("经济发展类", "2026-11-09"),
        ("", "2026-03-02"),
        ("", "2026/1/5"),
        ("", ""),
    ]
    assert [parse_joined_on(r.joined_on) for r in rows[:3]] == [
        date(2026, 11, 9),
        date(2026, 3, 2),
        date(2026, 1, 5),
    ]


@pytest.mark.asyncio
async def test_unit_categories_are_set_and_reported(db, clock) -> None:
    await run_import(db, [scored_row(2, "9001", unit="城关镇")])
    rows = [
        scored_row(2, "1001", category="经济发展类"),
        scored_row(3, "1002"),  # an empty cell says nothing about the category
        scored_row(4, "1003", category="经济发展类"),
        scored_row(5, "2001", unit="市住建局", category="执法服务类"),
        scored_row(6, "3001", unit="城关镇", category="乡镇类"),
        scored_row(7, "4001", unit="县财政局"),
    ]

    report = await run_import(db, rows)

    assert (report.created, report.refused) == (6, [])
    # New units count too: each of them got a category it did not have.
    assert (report.units_created, report.units_categorized) == (3, 3)
    assert await unit_categories(db) == {
        "县发改委": "经济发展类",
        "市住建局": "执法服务类",
        "城关镇": "乡镇类",
        "县财政局": None,
    }
    assert report.render().splitlines()[1:3] == ["新建单位 3 个。", "单位类别更新 3 个。"]
    [_, detail] = await audit_details(db, "roster_import")
    assert detail["units_categorized"] == 3

    rows[3] = scored_row(5, "2001", unit="市住建局", category="综合类")
    again = await run_import(db, rows)

    assert (again.updated, again.unchanged, again.units_categorized) == (0, 6, 1)
    assert again.render() == (
        "花名册导入完成：新增 0 人，更新 0 人，未变 6 人，未导入 0 行。\n单位类别更新 1 个。"
    )
    assert (await unit_categories(db))["市住建局"] == "综合类"


@pytest.mark.asyncio
async def test_rows_disagreeing_on_the_category_are_refused(db, clock) -> None:
    rows = [
        scored_row(2, "1001"),
        scored_row(3, "1002", category="经济发展类"),  # the first row naming one decides
        scored_row(4, "1003", category="执法服务类"),
        scored_row(5, "1004"),
        scored_row(6, "1005", category="经济发展类"),
        RosterRow(7, "1006", "人1006", "县发改委", "科员", "1003", ""),  # under a refused row
        scored_row(8, "2001", unit="市住建局", category="类" * 101),
        scored_row(9, "2002", unit="市住建局", category="执法服务类"),
    ]

    report = await run_import(db, rows)

    assert report.refused == [
        Refusal(
            4,
            "1003",
            RefusalCode.UNIT_CATEGORY_CONFLICT,
            "第4行：单位「县发改委」的单位类别写为「执法服务类」，而第3行写为「经济发展类」；"
            "同一单位各行的单位类别须一致",
        ),
        Refusal(
            7,
            "1006",
            RefusalCode.SUPERVISOR_REFUSED,
            "第7行：上级 1003（第4行）未导入，本行也未导入",
        ),
        Refusal(8, "2001", RefusalCode.TOO_LONG, "第8行：单位类别超过100个字"),
    ]
    assert set(await stored_people(db)) == {"1001", "1002", "1004", "1005", "2002"}
    assert await unit_categories(db) == {"县发改委": "经济发展类", "市住建局": "执法服务类"}
    [detail] = await audit_details(db, "roster_import")
    assert detail["refusal_codes"]["unit_category_conflict"] == 1


@pytest.mark.asyncio
async def test_without_the_category_column_stored_categories_stay(
    db, clock, tmp_path: Path
) -> None:
    await run_import(
        db,
        [
            scored_row(2, "1001", category="经济发展类"),
            scored_row(3, "2001", unit="市住建局", category="执法服务类"),
        ],
    )
    text = HEADER + "1001,王建国,县发改委,主任,,\n2001,赵志强,县发改委,科员,,\n"
    text += "3001,郑海,城关镇,镇长,,\n"

    report = await run_import(db, read_roster_file(write_csv(tmp_path, text)))

    assert (report.created, report.updated, report.units_categorized) == (1, 2, 0)
    assert await unit_categories(db) == {
        "县发改委": "经济发展类",
        "市住建局": "执法服务类",  # nobody works there any more: the category stays
        "城关镇": None,
    }


@pytest.mark.asyncio
async def test_join_dates_in_every_format_are_stored(db, clock, tmp_path: Path) -> None:
    text = "工号,姓名,单位,职务,上级工号,角色,到岗日期\n"
    text += "1001,王建国,县发改委,主任,,,2026-11-09\n"
    text += "1002,李明,县发改委,科员,,,2026/3/2\n"
    text += "1003,张伟,县发改委,科员,,,2026.1.5\n"
    text += "1004,刘洋,县发改委,科员,,,2025年12月31日\n"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "name", "unit", "position", "supervisor_id", "role", "joined_on"])
    sheet.append(["2001", "赵志强", "市住建局", "局长", None, None, datetime(2026, 10, 8)])
    xlsx = tmp_path / "roster.xlsx"
    workbook.save(xlsx)

    report = await run_import(db, read_roster_file(write_csv(tmp_path, text)))
    from_xlsx = await run_import(db, read_roster_file(xlsx))

    assert (report.created, report.refused, report.joined_defaulted) == (4, [], 0)
    assert (from_xlsx.created, from_xlsx.refused) == (1, [])
    assert await joined_dates(db) == {
        "1001": date(2026, 11, 9),
        "1002": date(2026, 3, 2),
        "1003": date(2026, 1, 5),
        "1004": date(2025, 12, 31),
        "2001": date(2026, 10, 8),
    }


@pytest.mark.asyncio
async def test_unreadable_join_date_refuses_the_row(db, clock) -> None:
    await run_import(db, [scored_row(2, "1001", joined="2026-09-01")])

    rows = [
        RosterRow(2, "1001", "王建国", "市住建局", "局长", "", "", joined_on="2026-13-01"),
        scored_row(3, "2001", unit="城关镇", category="乡镇类", joined="下周一"),
        RosterRow(4, "2002", "人2002", "城关镇", "科员", "2001", ""),  # under a refused row
    ]
    report = await run_import(db, rows)

    hint = "（可写：2026-11-09、2026/11/9、2026.11.9、2026年11月9日）"
    assert report.refused == [
        Refusal(
            2, "1001", RefusalCode.BAD_JOINED_DATE, f"第2行：到岗日期「2026-13-01」无法识别{hint}"
        ),
        Refusal(3, "2001", RefusalCode.BAD_JOINED_DATE, f"第3行：到岗日期「下周一」无法识别{hint}"),
        Refusal(
            4,
            "2002",
            RefusalCode.SUPERVISOR_REFUSED,
            "第4行：上级 2001（第3行）未导入，本行也未导入",
        ),
    ]
    # Nothing of the refused rows is stored: not the move, the new unit or its category.
    assert await stored_people(db) == {
        "1001": ("人1001", "县发改委", "科员", None, "cadre", None, True)
    }
    assert await joined_dates(db) == {"1001": date(2026, 9, 1)}
    assert await unit_categories(db) == {"县发改委": None}


@pytest.mark.asyncio
async def test_new_people_without_a_join_date_join_on_the_import_day(
    db, clock, tmp_path: Path
) -> None:
    # 20:00 UTC on 19 November is already 20 November in Shanghai.
    clock.set(datetime(2026, 11, 19, 20, 0, tzinfo=UTC))
    text = "工号,姓名,单位,职务,上级工号,角色,到岗日期\n"
    text += "5001,钱多,县财政局,局长,,,\n5002,孙少,县财政局,科员,,,2026-11-02\n"

    without_column = await run_import(db, read_roster_file(SAMPLE))
    with_empty_cell = await run_import(db, read_roster_file(write_csv(tmp_path, text)))

    import_day = date(2026, 11, 20)
    assert (without_column.joined_defaulted, without_column.import_day) == (12, import_day)
    assert (with_empty_cell.created, with_empty_cell.joined_defaulted) == (2, 1)
    assert await joined_dates(db) == {
        **dict.fromkeys(SAMPLE_STATE, import_day),
        "5001": import_day,
        "5002": date(2026, 11, 2),
    }
    assert without_column.render() == (
        "花名册导入完成：新增 12 人，更新 0 人，未变 0 人，未导入 0 行。\n"
        "新建单位 3 个。\n"
        "新增人员中 12 人未填到岗日期，按导入当天 2026-11-20 计。"
    )


@pytest.mark.asyncio
async def test_stored_people_keep_their_join_date_unless_corrected(
    db, clock, tmp_path: Path
) -> None:
    await run_import(db, read_roster_file(SAMPLE))
    clock.advance(days=30)
    text = "工号,姓名,单位,职务,上级工号,角色,到岗日期\n"
    text += "1001,王建国,县发改委,主任,,干部、上级,\n"  # empty cell: keeps the stored date
    text += "1002,李明,县发改委,副主任,1001,干部、上级,2026年10月8日\n"  # a correction
    text += "1003,张伟,县发改委,投资科科长,1002,干部、上级,2026-11-20\n"  # the same date

    without_column = await run_import(db, read_roster_file(SAMPLE))
    corrected = await run_import(db, read_roster_file(write_csv(tmp_path, text)))

    assert (without_column.updated, without_column.unchanged) == (0, 12)
    assert (corrected.created, corrected.updated, corrected.unchanged) == (0, 1, 2)
    assert corrected.joined_defaulted == 0
    assert await joined_dates(db) == {
        **dict.fromkeys(SAMPLE_STATE, date(2026, 11, 20)),
        "1002": date(2026, 10, 8),
    }
    async with db() as session:
        stamp = await session.scalar(select(Person.updated_at).where(Person.roster_id == "1002"))
    assert stamp == T0 + timedelta(days=30)


def test_report_render() -> None:
    report = ImportReport(
        created=10,
        updated=2,
        unchanged=1,
        units_created=3,
        refused=[
            Refusal(5, "1006", RefusalCode.UNKNOWN_SUPERVISOR, "第5行：上级工号 1009 不存在"),
            Refusal(9, "", RefusalCode.EMPTY_ID, "第9行：工号为空"),
        ],
    )

    assert report.render() == (
        "花名册导入完成：新增 10 人，更新 2 人，未变 1 人，未导入 2 行。\n"
        "新建单位 3 个。\n"
        "未导入的行（请修改文件后重新导入，已导入的不会重复）：\n"
        "第5行：上级工号 1009 不存在\n"
        "第9行：工号为空"
    )
    assert ImportReport(unchanged=4).render() == (
        "花名册导入完成：新增 0 人，更新 0 人，未变 4 人，未导入 0 行。"
    )


def city_roster(units: int, per_unit: int) -> list[RosterRow]:
    """A city: each unit has a head, section chiefs under it and staff under the chiefs.

    Subordinates come before their supervisors in the file, as in a roster sorted by name.
    Units form a tree: unit n is under unit (n - 1) // 10, and unit 0 under 市委.
    """
    rows: list[RosterRow] = []
    for u in range(units):
        unit = f"第{u:04d}单位"
        parent = f"第{(u - 1) // 10:04d}单位" if u else "市委"
        head = f"{u:04d}000"
        staff = []
        for p in range(1, per_unit):
            chief = f"{u:04d}{(p % 5) + 1:03d}"
            rid = f"{u:04d}{p:03d}"
            sup = head if p <= 5 else chief
            staff.append((rid, f"干部{u}-{p}", sup, "干部、上级" if p <= 5 else "干部"))
        staff.append((head, f"主任{u}", "", "干部、上级、评定"))
        for rid, name, sup, role in staff:
            rows.append(RosterRow(len(rows) + 2, rid, name, unit, "科员", sup, role, parent))
    return rows


@pytest.mark.asyncio
async def test_import_35000_people(db, clock) -> None:
    rows = city_roster(units=1000, per_unit=35)
    assert len(rows) == 35_000
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = db.sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        report = await run_import(db, rows)
        first = time.perf_counter() - started
        first_statements = len(statements)
        statements.clear()
        started = time.perf_counter()
        again = await run_import(db, rows)
        second = time.perf_counter() - started
    finally:
        event.remove(engine, "before_cursor_execute", count)
    print(
        f"\n35,000-row roster: first import {first:.2f}s ({first_statements} statements), "
        f"unchanged re-import {second:.2f}s ({len(statements)} statements)"
    )

    assert (report.created, report.updated, report.refused) == (35_000, 0, [])
    assert (report.units_created, report.units_reparented) == (1001, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 35_000)
    assert (again.units_created, again.units_reparented) == (0, 0)
    boss = aliased(Person)
    async with db() as session:
        count_people = await session.scalar(select(func.count()).select_from(Person))
        sample = (
            await session.execute(
                select(Person.roster_id, boss.roster_id, Person.roles)
                .outerjoin(boss, Person.supervisor_id == boss.id)
                .where(Person.roster_id.in_(["0999000", "0999003", "0999034", "0000007"]))
                .order_by(Person.roster_id)
            )
        ).all()
    assert count_people == 35_000
    assert [tuple(r) for r in sample] == [
        ("0000007", "0000003", "cadre"),
        ("0999000", None, "cadre,supervisor,rater"),
        ("0999003", "0999000", "cadre,supervisor"),
        ("0999034", "0999005", "cadre"),
    ]
    tree = await unit_tree(db)
    assert len(tree) == 1001
    assert [tree[u] for u in ("第0999单位", "第0010单位", "第0001单位", "第0000单位", "市委")] == [
        "第0099单位",
        "第0000单位",
        "第0000单位",
        "市委",
        None,
    ]
    # Set-based: a handful of statements (row inserts go in pages of many rows), never one
    # per person or unit.
    assert first_statements <= 60 and len(statements) <= 10
    assert first < 120 and second < 120


# ---------------------------------------------------------------------------------------------
# Invites


async def invites_in_db(db: Db) -> list[tuple[object, ...]]:
    async with db() as session:
        result = await session.execute(
            select(
                Person.roster_id,
                Invite.token,
                Invite.created_at,
                Invite.expires_at,
                Invite.used_at,
            )
            .join(Person, Invite.person_id == Person.id)
            .order_by(Invite.id)
        )
        return [tuple(r) for r in result.all()]


@pytest.mark.asyncio
async def test_invites_for_named_people(db, clock) -> None:
    await run_import(db, read_roster_file(SAMPLE))
    clock.advance(hours=3)
    now = clock.now()

    batch = await db.roster.create_invites(["1001", " 2002 ", "9999", "1001", ""], 7)

    expires = now + timedelta(days=7)
    assert [(i.roster_id, i.name, i.expires_at) for i in batch.invites] == [
        ("1001", "王建国", expires),
        ("2002", "孙丽", expires),
    ]
    assert (batch.unknown, batch.inactive, batch.already_bound) == (["9999"], [], [])
    assert batch.expires_at == expires
    stored = await invites_in_db(db)
    assert stored == [
        ("1001", batch.invites[0].token, now, expires, None),
        ("2002", batch.invites[1].token, now, expires, None),
    ]
    tokens = [i.token for i in batch.invites]
    assert len(set(tokens)) == 2
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", t) for t in tokens)
    assert await audit_details(db, "invites_created") == [
        {
            "count": 2,
            "ttl_days": 7,
            "unbound_only": False,
            "unknown": 1,
            "inactive": 0,
            "already_bound": 0,
        }
    ]
    assert batch.render("@worklog_bot").splitlines() == [
        "已生成 2 个邀请链接，2026-11-27 12:30 (UTC+0800) 前有效，每个链接只能用一次。",
        f"1001 王建国 https://t.me/worklog_bot?start={tokens[0]}",
        f"2002 孙丽 https://t.me/worklog_bot?start={tokens[1]}",
        "花名册中没有这些工号：9999",
    ]


@pytest.mark.asyncio
async def test_earlier_unused_invite_stays_valid_and_binds(db, clock) -> None:
    await run_import(db, read_roster_file(SAMPLE))
    first = await db.roster.create_invites(["1003"], 14)
    clock.advance(days=1)
    second = await db.roster.create_invites(["1003"], 14)

    stored = await invites_in_db(db)
    assert [(r[0], r[1], r[4]) for r in stored] == [
        ("1003", first.invites[0].token, None),
        ("1003", second.invites[0].token, None),
    ]
    assert first.invites[0].token != second.invites[0].token
    binding = await db.identity.bind(first.invites[0].token, 5551234)
    assert (binding.actor.roster_id, binding.actor.name) == ("1003", "张伟")
    assert (await stored_people(db))["1003"][5] == 5551234


@pytest.mark.asyncio
async def test_invites_for_everyone_unbound(db, clock) -> None:
    await run_import(db, read_roster_file(SAMPLE))
    async with db() as session:
        await session.execute(
            update(Person).where(Person.roster_id == "1001").values(telegram_user_id=11)
        )
        await session.execute(
            update(Person).where(Person.roster_id == "2001").values(telegram_user_id=22)
        )
        await session.execute(update(Person).where(Person.roster_id == "3003").values(active=False))
        await session.commit()

    batch = await db.roster.create_invites(None, 30, unbound_only=True)

    expected = sorted(set(SAMPLE_STATE) - {"1001", "2001", "3003"})
    assert [i.roster_id for i in batch.invites] == expected
    assert (batch.unknown, batch.inactive, batch.already_bound) == ([], [], ["1001", "2001"])
    assert sorted(r[0] for r in await invites_in_db(db)) == expected

    named = await db.roster.create_invites(["3003", "1001"], 30, unbound_only=True)
    assert (named.invites, named.inactive, named.already_bound) == ([], ["3003"], ["1001"])


@pytest.mark.asyncio
async def test_invite_ttl_must_be_positive(db, clock) -> None:
    async with db() as session:
        with pytest.raises(ValueError, match="ttl_days"):
            await db.roster.create_invites(["1001"], 0)
        count = await session.scalar(select(func.count()).select_from(AuditLog))
    assert count == 0


def test_invite_link() -> None:
    assert invite_link("worklog_bot", "abc_D-9") == "https://t.me/worklog_bot?start=abc_D-9"
    assert invite_link("@worklog_bot", "abc") == "https://t.me/worklog_bot?start=abc"
