"""The project ledger import: files, creates, updates, refusals, the CLI; SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import pytest_asyncio
from openpyxl import Workbook
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.cli import main
from services import zh
from services.clock import FrozenClock
from services.project_import import (
    ProjectImportReport,
    ProjectRefusal,
    ProjectRefusalCode,
    ProjectRow,
    import_projects,
    read_project_file,
)
from services.roster import RosterService, read_roster_file
from services.tables import TableFileError
from storage.db import create_engine, session_factory
from storage.models import AuditLog, Person, Project, ProjectMember, ProjectUpdate, Unit
from storage.uow import UnitOfWork

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "projects_sample.csv"
ROSTER = DATA / "roster_sample.csv"
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
TODAY = date(2026, 11, 20)
HEADER = "名称,简称,类别,阶段,计划投资,牵头领导,责任单位,工作专班,项目秘书,成员"
SAMPLE_NAMES = {
    "华新水泥技改项目",
    "城关古镇文旅综合体",
    "新能源汽车零部件产业园",
    "城北污水处理厂提标改造",
    "智慧物流园区总部基地",
}


# ---------------------------------------------------------------------------------------------
class Db:
    """The import on a test database with the sample roster, and sessions to inspect it."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: FrozenClock) -> None:
        self.sessions = sessions
        self.clock = clock

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    async def run(self, rows: list[ProjectRow]) -> ProjectImportReport:
        return await import_projects(self.uow, self.clock, SHANGHAI, rows)

    def __call__(self) -> AsyncSession:
        return self.sessions()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest_asyncio.fixture
async def db(db_url: str, clock: FrozenClock) -> AsyncIterator[Db]:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    roster = await RosterService(lambda: UnitOfWork(sessions), clock).import_rows(
        read_roster_file(ROSTER)
    )
    assert roster.created == 12 and not roster.refused
    yield Db(sessions, clock)
    await engine.dispose()


def prow(line: int, name: str, **cells: str | None) -> ProjectRow:
    """A complete 五个一 row in 县发改委, with the given cells changed."""
    values: dict[str, str | None] = {
        "stage": "在建",
        "planned_investment": "10000",
        "leader": "1001",
        "unit": "县发改委",
        "task_force": "项目专班",
        "secretary": "1004",
        "members": "1004",
    }
    values.update(cells)
    return ProjectRow(line, name, **values)  # type: ignore[arg-type]


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "projects.csv"
    path.write_bytes(text.encode(encoding))
    return path


async def stored(db: Db) -> dict[str, dict[str, object]]:
    """Project name -> its columns, with roster ids for people, the unit name and members."""
    leader, secretary = aliased(Person), aliased(Person)
    async with db() as session:
        rows = (
            await session.execute(
                select(Project, leader.roster_id, secretary.roster_id, Unit.name)
                .outerjoin(leader, Project.leader_id == leader.id)
                .outerjoin(secretary, Project.secretary_id == secretary.id)
                .outerjoin(Unit, Project.unit_id == Unit.id)
            )
        ).all()
        members = (
            await session.execute(
                select(ProjectMember.project_id, Person.roster_id).join(
                    Person, Person.id == ProjectMember.person_id
                )
            )
        ).all()
    found: dict[str, dict[str, object]] = {}
    for project, leader_id, secretary_id, unit in rows:
        found[project.name] = {
            "aliases": project.aliases,
            "category": project.category,
            "stage": project.stage,
            "planned": project.planned_yuan,
            "completed": project.completed_yuan,
            "signed_on": project.signed_on,
            "started_on": project.started_on,
            "expected_on": project.expected_on,
            "above_scale_on": project.above_scale_on,
            "key_level": project.key_level,
            "investor": project.investor,
            "headquarters": project.headquarters,
            "supervised": project.supervised,
            "leader": leader_id,
            "unit": unit,
            "task_force": project.task_force,
            "secretary": secretary_id,
            "members": sorted(rid for pid, rid in members if pid == project.id),
            "created_at": project.created_at,
            "updated_at": project.updated_at,
        }
    return found


async def updates(db: Db) -> list[ProjectUpdate]:
    async with db() as session:
        return list(await session.scalars(select(ProjectUpdate).order_by(ProjectUpdate.id)))


async def count(db: Db, model: type) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def audit_details(db: Db) -> list[dict]:
    async with db() as session:
        lines = await session.scalars(
            select(AuditLog).where(AuditLog.action == "projects_imported").order_by(AuditLog.id)
        )
        return [json.loads(line.detail) for line in lines]


# ---------------------------------------------------------------------------------------------
# Reading files


def test_sample_file_reads_with_the_header_unit() -> None:
    rows = read_project_file(SAMPLE)

    assert [r.name for r in rows] == [
        "华新水泥技改项目",
        "城关古镇文旅综合体",
        "新能源汽车零部件产业园",
        "城北污水处理厂提标改造",
        "智慧物流园区总部基地",
    ]
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    # 计划投资（万元）: a bare number gets the header's unit; a cell with its own unit keeps it.
    assert rows[0].planned_investment == "32000万元"
    assert rows[1].planned_investment == "5.8亿"
    assert rows[3].secretary == ""
    assert rows[3].completed_investment == ""


def test_gbk_csv_as_saved_by_chinese_excel(tmp_path: Path) -> None:
    text = HEADER + ",重点级别\r\n"
    text += "华新水泥技改项目,华新技改,技改,在建,32000,1001,县发改委,专班,1004,1004;1005,市重点\r\n"
    path = write_csv(tmp_path, text, encoding="gbk")

    assert read_project_file(path) == [
        ProjectRow(
            2,
            "华新水泥技改项目",
            "华新技改",
            "技改",
            "在建",
            "32000",
            "1001",
            "县发改委",
            "专班",
            "1004",
            "1004;1005",
            key_level="市重点",
        )
    ]


def test_english_headers_bom_and_extra_columns(tmp_path: Path) -> None:
    text = (
        "Name,Aliases,Category,Stage,Planned Investment,Leader,Unit,Task Force,Secretary,"
        "Members,Completed_Investment,Started On,Expected On,Key Level,Investor,Headquarters,"
        "Supervised,Reason,备注\n"
        "\n"
        "园区项目,园区,工业,building,3.2亿,1001,县发改委,专班,1004,1004,1亿,2026-01-05,"
        "2027-01-05,province,world500,N,Y,,电话 123\n"
    )
    path = write_csv(tmp_path, text, encoding="utf-8-sig")

    [row] = read_project_file(path)

    assert row == ProjectRow(
        3,
        "园区项目",
        "园区",
        "工业",
        "building",
        "3.2亿",
        "1001",
        "县发改委",
        "专班",
        "1004",
        "1004",
        completed_investment="1亿",
        started_on="2026-01-05",
        expected_on="2027-01-05",
        key_level="province",
        investor="world500",
        headquarters="N",
        supervised="Y",
        reason="",
    )


def test_xlsx_with_numbers_and_date_cells(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([*HEADER.split(","), "累计完成投资（亿元）", "开工日期", "省领导督办"])
    park = ["园区项目", None, "工业", "在建", 25000, 1001, "县发改委", "专班", 1004.0, "1004、1005"]
    sheet.append([*park, 1.5, date(2026, 3, 28), True])
    sheet.append([None] * 13)
    upgrade = ["技改项目", "技改", "技改", None, 3000.5, 1002, "县发改委", None, None, None]
    sheet.append([*upgrade, None, datetime(2026, 4, 1, 0, 0), "√"])
    workbook.create_sheet("说明").append(["这一页不读"])
    path = tmp_path / "projects.xlsx"
    workbook.save(path)

    rows = read_project_file(path)

    assert [(r.line, r.name, r.planned_investment, r.secretary, r.members) for r in rows] == [
        (2, "园区项目", "25000", "1004", "1004、1005"),
        (4, "技改项目", "3000.5", "", ""),
    ]
    assert [(r.completed_investment, r.started_on, r.supervised) for r in rows] == [
        ("1.5亿元", "2026-03-28", "True"),
        ("", "2026-04-01", "√"),
    ]


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("简称,类别,阶段,计划投资,牵头领导,责任单位,工作专班,项目秘书,成员", "名称"),
        ("名称,简称,类别,阶段,计划投资,牵头领导,责任单位,工作专班,成员", "项目秘书"),
        ("名称,简称,类别,阶段,计划投资,牵头领导,责任单位,项目秘书,成员", "工作专班"),
        ("name,aliases,category,stage,leader,unit,task_force,secretary,members", "计划投资"),
        ("名称,类别,阶段,计划投资,牵头领导,责任单位,工作专班,项目秘书,成员", "简称"),
    ],
)
def test_missing_required_column_refuses_the_file(
    tmp_path: Path, header: str, missing: str
) -> None:
    path = write_csv(tmp_path, header + "\n园区项目,a,b,c,d,e,f,g,h\n")

    with pytest.raises(TableFileError, match=f"项目台账缺少「{missing}」列"):
        read_project_file(path)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TableFileError, match="找不到项目台账文件"):
        read_project_file(tmp_path / "nope.csv")
    with pytest.raises(TableFileError, match="项目台账文件是空的"):
        read_project_file(write_csv(tmp_path, "\n\n"))
    with pytest.raises(TableFileError, match="表头「名称」和「项目名称」都表示「名称」"):
        read_project_file(write_csv(tmp_path, "名称,项目名称," + HEADER + "\n"))
    bad_xlsx = tmp_path / "broken.xlsx"
    bad_xlsx.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(TableFileError, match="无法读取项目台账文件"):
        read_project_file(bad_xlsx)


# ---------------------------------------------------------------------------------------------
# Importing


@pytest.mark.asyncio
async def test_sample_imports_cleanly(db: Db) -> None:
    report = await db.run(read_project_file(SAMPLE))

    assert (report.created, report.updated, report.unchanged, report.refused) == (5, 0, 0, [])
    assert report.missing_five_ones == 1  # 城北污水处理厂提标改造 has no 项目秘书
    assert report.progress_written == 4  # every project created with a completed investment
    projects = await stored(db)
    assert set(projects) == SAMPLE_NAMES
    assert projects["华新水泥技改项目"] | {"created_at": None, "updated_at": None} == {
        "aliases": "华新技改",
        "category": "技改",
        "stage": "building",
        "planned": 320_000_000,
        "completed": 125_000_000,
        "signed_on": date(2025, 6, 18),
        "started_on": date(2025, 9, 1),
        "expected_on": date(2027, 6, 30),
        "above_scale_on": None,
        "key_level": "city",
        "investor": None,
        "headquarters": False,
        "supervised": False,
        "leader": "1001",
        "unit": "县发改委",
        "task_force": "华新技改项目工作专班",
        "secretary": "1004",
        "members": ["1004", "1005"],
        "created_at": None,
        "updated_at": None,
    }
    assert projects["华新水泥技改项目"]["created_at"] == T0
    town = projects["城关古镇文旅综合体"]
    assert (town["aliases"], town["planned"], town["completed"]) == (
        "古镇文旅;城关古镇",
        580_000_000,
        120_000_000,
    )
    assert (town["started_on"], town["expected_on"], town["members"]) == (
        date(2025, 5, 20),
        date(2027, 12, 31),
        ["3002", "3003"],
    )
    park = projects["新能源汽车零部件产业园"]
    assert (park["investor"], park["supervised"], park["key_level"], park["planned"]) == (
        "world500",
        True,
        "province",
        2_500_000_000,
    )
    sewage = projects["城北污水处理厂提标改造"]
    assert (sewage["stage"], sewage["secretary"], sewage["completed"], sewage["unit"]) == (
        "reserve",
        None,
        None,
        "市住建局",
    )
    logistics = projects["智慧物流园区总部基地"]
    assert (logistics["stage"], logistics["investor"], logistics["headquarters"]) == (
        "producing",
        "china500",
        True,
    )
    rows = await updates(db)
    assert [(u.person_id, u.source, u.work_date, u.at) for u in rows] == [
        (None, "import", TODAY, T0)
    ] * 4
    assert rows[0].text == "台账导入：累计完成投资 1.25亿元"
    assert (rows[0].completed_yuan, rows[0].stage_before, rows[0].stage_after) == (
        125_000_000,
        None,
        None,
    )
    assert await audit_details(db) == [
        {
            "rows": 5,
            "created": 5,
            "updated": 0,
            "unchanged": 0,
            "refused": 0,
            "progress_written": 4,
            "missing_five_ones": 1,
            "refusal_codes": {},
        }
    ]
    assert report.render() == (
        "项目台账导入完成：新增 5 个，更新 0 个，未变 0 个，未导入 0 行。\n"
        "阶段或累计完成投资有变化的 4 个，已记入项目进展。\n"
        "1 个项目“五个一”不全（缺牵头领导、责任单位、工作专班或项目秘书，季度考核扣分）。"
    )


@pytest.mark.asyncio
async def test_the_same_file_twice_changes_nothing(db: Db, clock: FrozenClock) -> None:
    rows = read_project_file(SAMPLE)
    await db.run(rows)
    before = await stored(db)
    members = await count(db, ProjectMember)
    clock.advance(days=1)

    again = await db.run(rows)

    assert (again.created, again.updated, again.unchanged, again.refused) == (0, 0, 5, [])
    assert again.progress_written == 0
    assert await stored(db) == before  # updated_at untouched too
    assert await count(db, Project) == 5
    assert await count(db, ProjectMember) == members == 9
    assert len(await updates(db)) == 4


@pytest.mark.asyncio
async def test_an_update_changes_fields_and_replaces_members(db: Db, clock: FrozenClock) -> None:
    await db.run(read_project_file(SAMPLE))
    clock.advance(days=3)

    report = await db.run(
        [
            prow(
                7,
                "华新水泥技改项目",
                aliases="华新技改；华新二期",
                category="工业",
                stage="投产",
                planned_investment="3.5亿",
                leader="1002",
                task_force="技改专班（调整）",
                secretary="1005",
                members="1003、1005",
                completed_investment="2.8亿",
            ),
        ]
    )

    assert (report.created, report.updated, report.unchanged, report.refused) == (0, 1, 0, [])
    after = await stored(db)
    project = after["华新水泥技改项目"]
    assert (project["aliases"], project["category"], project["stage"]) == (
        "华新技改;华新二期",
        "工业",
        "producing",
    )
    assert (project["planned"], project["completed"], project["leader"]) == (
        350_000_000,
        280_000_000,
        "1002",
    )
    assert (project["secretary"], project["members"], project["task_force"]) == (
        "1005",
        ["1003", "1005"],
        "技改专班（调整）",
    )
    # Optional columns the rows did not carry keep their values.
    assert (project["started_on"], project["key_level"]) == (date(2025, 9, 1), "city")
    assert project["created_at"] == T0
    assert project["updated_at"] == clock.now()
    # Projects missing from the file are left alone.
    assert after["城关古镇文旅综合体"]["updated_at"] == T0
    last = (await updates(db))[-1]
    assert (last.stage_before, last.stage_after, last.completed_yuan) == (
        "building",
        "producing",
        280_000_000,
    )
    assert last.text == "台账导入：阶段 在建 → 投产；累计完成投资 2.8亿元"
    assert (last.work_date, last.person_id, last.reason) == (date(2026, 11, 23), None, None)


@pytest.mark.asyncio
async def test_empty_cells_of_required_and_optional_columns(db: Db) -> None:
    await db.run(read_project_file(SAMPLE))
    full = next(r for r in read_project_file(SAMPLE) if r.name == "新能源汽车零部件产业园")

    # Required columns: the cell is the truth. Optional columns: empty keeps, except flags.
    emptied = dataclasses.replace(
        full,
        aliases="",
        stage="",
        planned_investment="",
        leader="",
        task_force="",
        secretary="",
        members="",
        completed_investment="",
        signed_on="",
        key_level="",
        investor="",
        supervised="",
    )
    report = await db.run([emptied])

    assert (report.updated, report.refused, report.progress_written) == (1, [], 0)
    assert report.missing_five_ones == 1
    park = (await stored(db))["新能源汽车零部件产业园"]
    assert (park["aliases"], park["stage"], park["planned"], park["members"]) == (
        "",
        "building",  # an empty stage keeps the stored one
        None,
        [],
    )
    assert (park["leader"], park["task_force"], park["secretary"], park["unit"]) == (
        None,
        None,
        None,
        "县发改委",
    )
    assert (park["completed"], park["signed_on"], park["key_level"], park["investor"]) == (
        680_000_000,
        date(2026, 1, 15),
        "province",
        "world500",
    )
    assert park["supervised"] is False  # an empty flag cell is 否


@pytest.mark.asyncio
async def test_without_optional_columns_stored_values_stay(db: Db) -> None:
    await db.run(read_project_file(SAMPLE))
    full = next(r for r in read_project_file(SAMPLE) if r.name == "智慧物流园区总部基地")
    bare = ProjectRow(
        2, full.name, full.aliases, full.category, full.stage, full.planned_investment,
        full.leader, full.unit, full.task_force, full.secretary, full.members,
    )  # fmt: skip

    report = await db.run([bare])

    assert (report.updated, report.unchanged) == (0, 1)
    logistics = (await stored(db))["智慧物流园区总部基地"]
    assert (logistics["headquarters"], logistics["investor"], logistics["completed"]) == (
        True,
        "china500",
        960_000_000,
    )


@pytest.mark.asyncio
async def test_a_new_project_without_stage_is_reserve(db: Db) -> None:
    report = await db.run([prow(2, "新项目", stage="", members="1004;1004;1005")])

    assert report.created == 1
    project = (await stored(db))["新项目"]
    assert (project["stage"], project["members"]) == ("reserve", ["1004", "1005"])
    assert await updates(db) == []  # no completed investment: nothing to record


@pytest.mark.asyncio
async def test_flags_and_words(db: Db) -> None:
    words = [("是", "否"), ("Y", "n"), ("1", "0"), ("√", "×"), ("TRUE", "false")]
    rows = [
        prow(i + 2, f"项目{i}", headquarters=yes, supervised=no, investor="主板上市")
        for i, (yes, no) in enumerate(words)
    ]

    report = await db.run(rows)

    assert (report.created, report.refused) == (5, [])
    projects = await stored(db)
    assert {(p["headquarters"], p["supervised"], p["investor"]) for p in projects.values()} == {
        (True, False, "listed")
    }


@pytest.mark.asyncio
async def test_moving_to_above_scale_sets_the_day_once(db: Db, clock: FrozenClock) -> None:
    await db.run([prow(2, "入规项目", stage="投产"), prow(3, "早已入规", stage="入规")])
    assert (await stored(db))["早已入规"]["above_scale_on"] is None  # the day is unknown

    clock.advance(days=2)
    await db.run([prow(2, "入规项目", stage="入规")])
    assert (await stored(db))["入规项目"]["above_scale_on"] == date(2026, 11, 22)

    clock.advance(days=2)
    await db.run([prow(2, "入规项目", stage="投产", reason="统计口径调整")])
    await db.run([prow(2, "入规项目", stage="入规")])
    assert (await stored(db))["入规项目"]["above_scale_on"] == date(2026, 11, 22)


# ---------------------------------------------------------------------------------------------
# Refusals

STAGE_HINT = "（可写：储备、在建、投产、入规）"
AMOUNT_HINT = "（可写：32000（单位万元）、3.2亿、32000万元）"
DATE_HINT = "（可写：2026-11-09、2026/11/9、2026年11月9日）"


@pytest.mark.parametrize(
    ("cells", "code", "reason"),
    [
        ({"name": ""}, ProjectRefusalCode.EMPTY_NAME, "第3行：项目名称为空"),
        ({"name": "长" * 201}, ProjectRefusalCode.TOO_LONG, "第3行：名称超过200个字"),
        ({"category": "类" * 51}, ProjectRefusalCode.TOO_LONG, "第3行：类别超过50个字"),
        ({"task_force": "专" * 201}, ProjectRefusalCode.TOO_LONG, "第3行：工作专班超过200个字"),
        (
            {"stage": "筹建"},
            ProjectRefusalCode.BAD_STAGE,
            f"第3行：阶段「筹建」无法识别{STAGE_HINT}",
        ),
        (
            {"investor": "外资企业"},
            ProjectRefusalCode.BAD_INVESTOR,
            "第3行：投资方类别「外资企业」无法识别（可写：世界500强、中国500强、上市公司，或留空）",
        ),
        (
            {"key_level": "县重点"},
            ProjectRefusalCode.BAD_KEY_LEVEL,
            "第3行：重点级别「县重点」无法识别（可写：省重点、市重点，或留空）",
        ),
        (
            {"supervised": "可能"},
            ProjectRefusalCode.BAD_FLAG,
            "第3行：省领导督办「可能」无法识别（可写：是、否，或留空表示否）",
        ),
        (
            {"headquarters": "待定"},
            ProjectRefusalCode.BAD_FLAG,
            "第3行：总部经济「待定」无法识别（可写：是、否，或留空表示否）",
        ),
        (
            {"planned_investment": "大约3亿"},
            ProjectRefusalCode.BAD_AMOUNT,
            f"第3行：计划投资「大约3亿」无法识别{AMOUNT_HINT}",
        ),
        (
            {"completed_investment": "-500"},
            ProjectRefusalCode.NEGATIVE_AMOUNT,
            "第3行：累计完成投资「-500」不能为负数",
        ),
        (
            {"planned_investment": "－3亿"},
            ProjectRefusalCode.NEGATIVE_AMOUNT,
            "第3行：计划投资「－3亿」不能为负数",
        ),
        (
            {"started_on": "2026-13-01"},
            ProjectRefusalCode.BAD_DATE,
            f"第3行：开工日期「2026-13-01」无法识别{DATE_HINT}",
        ),
        (
            {"signed_on": "下个月"},
            ProjectRefusalCode.BAD_DATE,
            f"第3行：签约日期「下个月」无法识别{DATE_HINT}",
        ),
        (
            {"expected_on": "46335"},
            ProjectRefusalCode.BAD_DATE,
            f"第3行：预计竣工日期「46335」无法识别{DATE_HINT}",
        ),
        (
            {"started_on": "2026-05-01", "expected_on": "2026年4月30日"},
            ProjectRefusalCode.EXPECTED_BEFORE_START,
            "第3行：预计竣工日期 2026-04-30 早于开工日期 2026-05-01",
        ),
        (
            {"leader": "9999"},
            ProjectRefusalCode.UNKNOWN_PERSON,
            "第3行：牵头领导工号 9999 不在花名册中",
        ),
        (
            {"secretary": "8888"},
            ProjectRefusalCode.UNKNOWN_PERSON,
            "第3行：项目秘书工号 8888 不在花名册中",
        ),
        (
            {"members": "1004;7777；1005、6666"},
            ProjectRefusalCode.UNKNOWN_PERSON,
            "第3行：成员工号 7777、6666 不在花名册中",
        ),
        (
            {"unit": "县财政局"},
            ProjectRefusalCode.UNKNOWN_UNIT,
            "第3行：责任单位「县财政局」不在花名册中",
        ),
        (
            {"aliases": "好项目,甲项目"},
            ProjectRefusalCode.ALIAS_TAKEN,
            "第3行：简称「甲项目」与项目「甲项目」的名称或简称相同，无法区分",
        ),
        (
            {"aliases": "甲 "},
            ProjectRefusalCode.ALIAS_TAKEN,
            "第3行：简称「甲」与项目「甲项目」的名称或简称相同，无法区分",
        ),
    ],
)
@pytest.mark.asyncio
async def test_a_refused_row_is_named_and_not_stored(
    db: Db, cells: dict[str, str], code: ProjectRefusalCode, reason: str
) -> None:
    cells = dict(cells)  # the parameters are shared by both backends
    name = cells.pop("name", "乙项目")
    rows = [
        prow(2, "甲项目", aliases="甲"),
        prow(3, name, **cells),
        prow(4, "丙项目", members="1004;1005"),
    ]

    report = await db.run(rows)

    assert report.refused == [ProjectRefusal(3, name, code, reason)]
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert set(await stored(db)) == {"甲项目", "丙项目"}
    assert await count(db, ProjectMember) == 3
    assert reason in report.render().splitlines()
    assert (await audit_details(db))[0]["refusal_codes"] == {code.value: 1}


@pytest.mark.asyncio
async def test_duplicate_name_keeps_the_first_row(db: Db) -> None:
    report = await db.run([prow(2, "甲项目", category="工业"), prow(5, "甲项目", category="文旅")])

    assert report.refused == [
        ProjectRefusal(
            5,
            "甲项目",
            ProjectRefusalCode.DUPLICATE_NAME,
            "第5行：项目「甲项目」与第2行重复，以第2行为准",
        )
    ]
    assert (await stored(db))["甲项目"]["category"] == "工业"


@pytest.mark.asyncio
async def test_inactive_people_are_refused(db: Db) -> None:
    async with db() as session:
        await session.execute(update(Person).where(Person.roster_id == "1005").values(active=False))
        await session.commit()

    report = await db.run(
        [prow(2, "甲项目", secretary="1005"), prow(3, "乙项目", members="1004;1005")]
    )

    assert [(r.line, r.code, r.reason) for r in report.refused] == [
        (2, ProjectRefusalCode.INACTIVE_PERSON, "第2行：项目秘书工号 1005 已停用"),
        (3, ProjectRefusalCode.INACTIVE_PERSON, "第3行：成员工号 1005 已停用"),
    ]
    assert await stored(db) == {}


@pytest.mark.asyncio
async def test_aliases_clash_with_stored_projects(db: Db) -> None:
    await db.run(read_project_file(SAMPLE))

    report = await db.run(
        [
            prow(2, "华新水泥二期", aliases="华新技改"),  # a stored project's alias
            prow(3, "物流园", aliases="智慧物流园区总部基地"),  # a stored project's name
            prow(4, "古镇文旅"),  # named like a stored project's alias
            # A stored project may take another alias; its own name in the cell is dropped.
            prow(5, "华新水泥技改项目", aliases="华新技改、华新、华新水泥技改项目"),
        ]
    )

    assert [(r.line, r.code) for r in report.refused] == [
        (2, ProjectRefusalCode.ALIAS_TAKEN),
        (3, ProjectRefusalCode.ALIAS_TAKEN),
        (4, ProjectRefusalCode.NAME_TAKEN),
    ]
    assert report.refused[0].reason == (
        "第2行：简称「华新技改」与项目「华新水泥技改项目」的名称或简称相同，无法区分"
    )
    assert report.updated == 1
    projects = await stored(db)
    assert set(projects) == SAMPLE_NAMES
    assert projects["华新水泥技改项目"]["aliases"] == "华新技改;华新"


@pytest.mark.asyncio
async def test_an_alias_naming_a_project_of_the_file_is_refused(db: Db) -> None:
    report = await db.run([prow(2, "甲项目", aliases="乙"), prow(3, "乙", aliases="乙项目")])

    assert [(r.line, r.code, r.reason) for r in report.refused] == [
        (
            2,
            ProjectRefusalCode.ALIAS_TAKEN,
            "第2行：简称「乙」与项目「乙」的名称或简称相同，无法区分",
        )
    ]
    assert (await stored(db))["乙"]["aliases"] == "乙项目"


@pytest.mark.asyncio
async def test_an_alias_freed_in_the_same_file_can_be_taken(db: Db) -> None:
    await db.run([prow(2, "甲项目", aliases="老简称")])

    report = await db.run(
        [prow(2, "乙项目", aliases="老简称"), prow(3, "甲项目", aliases="新简称")]
    )

    assert (report.created, report.updated, report.refused) == (1, 1, [])
    # When the freeing row is refused, the stored alias stays and the taker is refused too.
    report = await db.run(
        [prow(2, "丙项目", aliases="新简称"), prow(3, "甲项目", aliases="", leader="9999")]
    )
    assert [(r.line, r.code) for r in report.refused] == [
        (2, ProjectRefusalCode.ALIAS_TAKEN),
        (3, ProjectRefusalCode.UNKNOWN_PERSON),
    ]
    assert set(await stored(db)) == {"甲项目", "乙项目"}


@pytest.mark.asyncio
async def test_stage_backwards_needs_a_reason(db: Db, clock: FrozenClock) -> None:
    await db.run(read_project_file(SAMPLE))
    clock.advance(days=1)
    back = prow(2, "智慧物流园区总部基地", stage="在建", completed_investment="9.6亿")

    refused = await db.run([back])

    assert refused.refused == [
        ProjectRefusal(
            2,
            "智慧物流园区总部基地",
            ProjectRefusalCode.STAGE_BACKWARDS,
            "第2行：阶段从投产退回在建，须在「说明」列写明原因",
        )
    ]
    assert (await stored(db))["智慧物流园区总部基地"]["stage"] == "producing"

    accepted = await db.run([dataclasses.replace(back, reason="生产线停产检修，复工建设")])

    assert (accepted.updated, accepted.refused, accepted.progress_written) == (1, [], 1)
    assert (await stored(db))["智慧物流园区总部基地"]["stage"] == "building"
    last = (await updates(db))[-1]
    assert (last.stage_before, last.stage_after, last.reason, last.source) == (
        "producing",
        "building",
        "生产线停产检修，复工建设",
        "import",
    )
    assert (last.work_date, last.completed_yuan, last.person_id) == (
        date(2026, 11, 21),
        960_000_000,
        None,
    )


@pytest.mark.asyncio
async def test_completed_investment_down_needs_a_reason(db: Db) -> None:
    await db.run(read_project_file(SAMPLE))
    down = prow(2, "华新水泥技改项目", completed_investment="12000")

    refused = await db.run([down])

    assert [(r.code, r.reason) for r in refused.refused] == [
        (
            ProjectRefusalCode.INVESTMENT_DOWN,
            "第2行：累计完成投资从1.25亿元减少为1.2亿元，须在「说明」列写明原因",
        )
    ]
    assert (await stored(db))["华新水泥技改项目"]["completed"] == 125_000_000

    accepted = await db.run([dataclasses.replace(down, reason="审计核减")])

    assert accepted.refused == []
    assert (await stored(db))["华新水泥技改项目"]["completed"] == 120_000_000
    last = (await updates(db))[-1]
    assert (last.completed_yuan, last.stage_before, last.stage_after, last.reason) == (
        120_000_000,
        None,
        None,
        "审计核减",
    )
    assert last.text == "台账导入：累计完成投资 1.2亿元"


@pytest.mark.asyncio
async def test_a_header_unit_reads_bare_numbers(db: Db, tmp_path: Path) -> None:
    text = (
        "名称,简称,类别,阶段,计划投资(亿元),牵头领导,责任单位,工作专班,项目秘书,成员,"
        "累计完成投资（元）\n"
        "园区项目,,工业,在建,3.2,1001,县发改委,专班,1004,1004,1500000\n"
        "技改项目,,技改,在建,8000万,1001,县发改委,专班,1004,1004,-3\n"
    )

    report = await db.run(read_project_file(write_csv(tmp_path, text)))

    assert [(r.line, r.reason) for r in report.refused] == [
        (3, "第3行：累计完成投资「-3」不能为负数")
    ]
    park = (await stored(db))["园区项目"]
    assert (park["planned"], park["completed"]) == (320_000_000, 1_500_000)


@pytest.mark.asyncio
async def test_3000_projects_without_per_row_queries(db: Db) -> None:
    rows = [
        prow(
            n + 2,
            f"第{n:04d}号项目",
            aliases=f"项目{n:04d}",
            members="1003;1004;1005",
            completed_investment=str(n),
        )
        for n in range(3000)
    ]
    statements: list[str] = []

    def counted(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    async def measured(rows: list[ProjectRow]) -> tuple[ProjectImportReport, Counter[str]]:
        statements.clear()
        started = time.perf_counter()
        report = await db.run(rows)
        print(f"{time.perf_counter() - started:.2f}s {dict(Counter(statements))}")
        return report, Counter(statements)

    engine = db.sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        print("\n3,000-project ledger: first import, unchanged re-import, all moved")
        first, first_counts = await measured(rows)
        again, again_counts = await measured(rows)
        moved_rows = [dataclasses.replace(r, stage="投产", members="1004") for r in rows]
        moved, moved_counts = await measured(moved_rows)
    finally:
        event.remove(engine, "before_cursor_execute", counted)

    assert (first.created, again.unchanged, moved.updated) == (3000, 3000, 3000)
    assert await count(db, Project) == 3000
    assert await count(db, ProjectMember) == 3000
    assert await count(db, ProjectUpdate) == 6000
    # Lookups are whole-ledger reads: a few SELECTs, however many rows. (Writes may go a
    # row at a time: SQLite inserts ORM rows one by one, member removals go per project.)
    for counts in (first_counts, again_counts, moved_counts):
        assert counts["SELECT"] <= 6
    assert again_counts.total() <= 10


# ---------------------------------------------------------------------------------------------
# The CLI


def test_cli_imports_the_ledger(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = ["-c", str(config_file)]
    assert main([*config, "roster", "import", str(ROSTER)]) == 0
    capsys.readouterr()

    assert main([*config, "projects", "import", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "项目台账导入完成：新增 5 个，更新 0 个，未变 0 个，未导入 0 行。" in out
    assert "1 个项目“五个一”不全" in out

    assert main([*config, "projects", "import", str(SAMPLE)]) == 0
    assert "新增 0 个，更新 0 个，未变 5 个，未导入 0 行" in capsys.readouterr().out
    with sqlite3.connect(config_file.parent / "data" / "worklog.db") as conn:
        assert conn.execute("select count(*) from projects").fetchone()[0] == 5


def test_cli_reports_refused_rows_and_unreadable_files(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ["-c", str(config_file)]
    assert main([*config, "roster", "import", str(ROSTER)]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER + "\n甲项目,,工业,在建,100,1001,县发改委,专班,1004,1004\n"
        "乙项目,,工业,在建,100,9999,县发改委,专班,1004,1004\n",
        encoding="utf-8",
    )

    assert main([*config, "projects", "import", str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "项目台账导入完成：新增 1 个，更新 0 个，未变 0 个，未导入 1 行。",
        "未导入的行（请修改文件后重新导入，已导入的不会重复）：",
        "第3行：牵头领导工号 9999 不在花名册中",
    ]

    no_secretary = tmp_path / "columns.csv"
    no_secretary.write_text("名称,简称,类别,阶段,计划投资,牵头领导,责任单位,工作专班,成员\n")
    assert main([*config, "projects", "import", str(no_secretary)]) == 1
    assert "项目台账缺少「项目秘书」列" in capsys.readouterr().err
    assert main([*config, "projects", "import", str(tmp_path / "none.csv")]) == 1
    assert "找不到项目台账文件" in capsys.readouterr().err


def test_cli_exports_the_ledger_and_scores_the_quarter(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ["-c", str(config_file)]
    assert main([*config, "roster", "import", str(ROSTER)]) == 0
    assert main([*config, "projects", "import", str(SAMPLE)]) == 0
    capsys.readouterr()

    ledger = tmp_path / "台账.xlsx"
    assert main([*config, "projects", "export", "--out", str(ledger)]) == 0
    assert capsys.readouterr().out.strip() == f"已导出5个项目到 {ledger}"
    rows = list(openpyxl.load_workbook(ledger)[zh.LEDGER_SHEET].values)
    assert rows[0] == zh.LEDGER_HEADER and len(rows) == 6
    row = next(r for r in rows if r[0] == "华新水泥技改项目")
    huaxin = dict(zip(zh.LEDGER_HEADER, row, strict=True))
    assert (huaxin["计划投资（万元）"], huaxin["累计完成投资（万元）"]) == (32000, 12500)
    assert huaxin["投资完成率"] == 39.1

    scores = tmp_path / "考核.xlsx"
    assert main([*config, "projects", "score", "2026Q1", "--out", str(scores)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2026Q1 项目建设考核：3个责任单位"
    # A unit without deductions reads 减0.00, never 减-0.00.
    assert any("减0.00" in line for line in out[1:4]) and not any("-0.00" in x for x in out)
    assert out[-1] == f"已写入 {scores}"
    book = openpyxl.load_workbook(scores)
    assert next(book[zh.PROJECT_SCORE_SHEET].values) == zh.PROJECT_SCORE_HEADER
    details = list(book[zh.PROJECT_LINES_SHEET].values)
    # 新能源汽车零部件产业园 (世界500强) was signed on 15 January 2026: +0.3 that quarter.
    assert (
        "县发改委",
        "新能源汽车零部件产业园",
        "新招商引资：世界500强投资项目",
        0.3,
        0.3,
        "2026-01-15签约；世界500强",
    ) in details

    assert main([*config, "projects", "score", "2026-11"]) == 2
    assert "请写季度" in capsys.readouterr().err
