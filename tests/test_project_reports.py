"""The quarterly unit project score and the ledger, from the database: which facts feed the
rules (as of the quarter's end), the ranking, every line traced to its project and rule, and
the two XLSX files; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

import openpyxl
import pytest

from services import zh
from services.errors import UsageError
from services.project_reports import line_explanation, rule_name
from services.sheets import ledger_workbook, project_score_workbook
from storage.models import Project, ProjectUpdate
from tests.services_fixtures import OTHER_UNIT, SHANGHAI, UNIT, Env

pytest_plugins = ("tests.services_fixtures",)

YI = 100_000_000


def moment(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI)


async def project(env: Env, name: str, **values: Any) -> int:
    created = values.pop("created", date(2026, 9, 1))
    row = {
        "aliases": "",
        "category": "工业",
        "stage": "building",
        "headquarters": False,
        "supervised": False,
        "task_force": "专班",
        "created_at": moment(created),
        "updated_at": moment(created),
        **values,
    }
    async with env.sessions() as db:
        item = Project(name=name, **row)
        db.add(item)
        await db.commit()
        return item.id


async def report(env: Env, project_id: int, day: date, **values: Any) -> None:
    """A progress update as /progress stores it (by a cadre), or an import (person None)."""
    async with env.sessions() as db:
        db.add(
            ProjectUpdate(
                project_id=project_id,
                person_id=values.pop("person_id"),
                at=moment(day),
                work_date=day,
                text=values.pop("text", "进展"),
                source=values.pop("source", "telegram"),
                **values,
            )
        )
        await db.commit()


async def seed(env: Env) -> dict[str, int]:
    unit_a, unit_b = await env.unit(UNIT), await env.unit(OTHER_UNIT)
    lead = await env.person("L01", "严领导")
    sec = await env.person("S01", "秦秘书")
    five = {"leader_id": lead, "secretary_id": sec}
    ids = {
        "P1": await project(
            env,
            "华新水泥技改项目",
            unit_id=unit_a,
            planned_yuan=12 * YI,
            signed_on=date(2026, 10, 10),
            started_on=date(2026, 10, 15),
            investor="world500",
            **five,
        ),
        "P2": await project(
            env,
            "光谷科创园",
            unit_id=unit_a,
            planned_yuan=25 * YI,
            signed_on=date(2026, 11, 2),
            started_on=date(2026, 11, 5),
            leader_id=lead,
            created=date(2026, 10, 1),
        ),
        "P3": await project(
            env,
            "总部大楼",
            unit_id=unit_a,
            stage="reserve",
            category="服务业",
            headquarters=True,
            signed_on=date(2026, 10, 20),
            created=date(2026, 11, 10),
            **five,
        ),
        "P4": await project(
            env,
            "电子信息产业园",
            unit_id=unit_a,
            stage="reserve",
            investor="china500",
            signed_on=date(2026, 11, 1),
            created=date(2026, 11, 10),
            **five,
        ),
        "P5": await project(
            env,
            "温泉度假区",
            unit_id=unit_b,
            category="文旅",
            stage="above_scale",
            above_scale_on=date(2026, 11, 3),
            **five,
        ),
        "P6": await project(
            env,
            "沿江公路",
            unit_id=unit_b,
            category="服务业",
            supervised=True,
            planned_yuan=10 * YI,
            started_on=date(2026, 1, 1),
            expected_on=date(2026, 12, 31),
            completed_yuan=8 * YI,
            created=date(2026, 1, 1),
            **five,
        ),
        "P7": await project(env, "无主项目", stage="reserve", created=date(2026, 11, 1), **five),
    }
    # 华新 reports every week from October, with its investment.
    day = date(2026, 10, 1)
    while day <= date(2026, 11, 19):
        await report(env, ids["P1"], day, person_id=sec, completed_yuan=YI)
        day += timedelta(days=7)
    # 温泉度假区 reached 入规 on 3 November; 沿江公路 reported once, behind its schedule.
    await report(
        env,
        ids["P5"],
        date(2026, 11, 3),
        person_id=sec,
        stage_before="producing",
        stage_after="above_scale",
    )
    for day in (date(2026, 10, 6), date(2026, 10, 20), date(2026, 11, 17)):
        await report(env, ids["P5"], day, person_id=sec)
    await report(env, ids["P6"], date(2026, 11, 15), person_id=sec, completed_yuan=8 * YI)
    return ids


async def test_the_quarter_to_date_ranks_units_and_traces_every_point(env: Env) -> None:
    ids = await seed(env)
    result = await env.services.project_reports.score("2026Q4")
    assert (result.quarter.label, result.to_date) == ("2026Q4", True)
    assert result.unassigned == ("无主项目",)
    ranked = [(u.rank, u.unit_name, u.projects, u.ranked.score.total) for u in result.units]
    assert ranked == [(1, UNIT, 4, 1.3), (2, OTHER_UNIT, 2, -0.2)]
    first = result.units[0].ranked.score
    lines = [(line.project_id, line.rule.value, line.points, line.counted) for line in first.lines]
    assert lines == [
        # 新招商引资 in order of signing: the fourth crosses the 1-point cap and counts 0.2.
        (ids["P1"], "signed_world500", 0.3, 0.3),
        (ids["P3"], "signed_headquarters", 0.3, 0.3),
        (ids["P4"], "signed_china500", 0.2, 0.2),
        (ids["P2"], "signed_big", 0.3, 0.2),
        (ids["P1"], "started_big", 0.3, 0.3),
        (ids["P2"], "started_big", 0.3, 0.3),
        (ids["P2"], "missing_five_ones", -0.1, -0.1),
        # 光谷 never reported: silent for more than 14 days once, and no investment figure.
        (ids["P2"], "late_report", -0.1, -0.1),
        (ids["P2"], "poor_data", -0.1, -0.1),
    ]
    assert (first.bonus, first.deduction) == (1.6, -0.3)
    capped = first.lines[3]
    assert rule_name(capped) == "新招商引资：单体投资20亿元以上项目"
    assert line_explanation(capped) == (
        "2026-11-02签约；计划投资25亿元；超出本季度该类加分上限1.0分"
    )
    assert line_explanation(first.lines[6]) == "缺项目秘书"
    assert line_explanation(first.lines[7]) == "超过14天未报送进展1次"
    second = result.units[1].ranked.score
    assert [(line.rule.value, line.counted) for line in second.lines] == [
        ("culture_above_scale", 0.1),
        ("supervised_behind", -0.2),
        ("late_report", -0.1),
    ]
    behind = second.lines[1]
    assert line_explanation(behind).startswith("按时序进度应完成投资8.")
    assert line_explanation(behind).endswith("已完成8亿元")


async def test_a_past_quarter_reads_the_facts_as_they_stood(env: Env) -> None:
    ids = await seed(env)
    result = await env.services.project_reports.score("2026Q3")
    assert result.to_date is False
    # 温泉度假区 was still 投产 then (no 入规 bonus, but its silence counts); nothing was signed
    # or started in Q3; projects that entered the ledger later owe no reports for Q3.
    by_unit = {u.unit_name: u for u in result.units}
    assert by_unit[UNIT].projects == 4 and by_unit[OTHER_UNIT].projects == 2
    lines = [
        (line.project_id, line.rule.value, line.counted)
        for line in by_unit[UNIT].ranked.score.lines
    ]
    assert lines == [
        (ids["P2"], "missing_five_ones", -0.1),
        (ids["P1"], "late_report", -0.1),
        (ids["P1"], "poor_data", -0.1),
    ]
    other = {line.project_id: line.rule.value for line in by_unit[OTHER_UNIT].ranked.score.lines}
    assert other[ids["P5"]] == "late_report"
    assert "culture_above_scale" not in other.values()


@pytest.mark.parametrize("text", ["2026-11", "2026", "2027Q1", "明年"])
async def test_only_a_begun_quarter_is_scored(env: Env, text: str) -> None:
    with pytest.raises(UsageError):
        await env.services.project_reports.score(text)


async def test_the_ledger_and_score_workbooks(env: Env) -> None:
    ids = await seed(env)
    ledger = await env.services.project_reports.ledger()
    assert [line.row.project.name for line in ledger.lines][:2] == [
        "光谷科创园",
        "华新水泥技改项目",
    ]
    book = openpyxl.load_workbook(io.BytesIO(ledger_workbook(ledger)))
    rows = list(book[zh.LEDGER_SHEET].values)
    assert rows[0] == zh.LEDGER_HEADER
    by_name = {row[0]: dict(zip(zh.LEDGER_HEADER, row, strict=True)) for row in rows[1:]}
    road = by_name["沿江公路"]
    assert (road["阶段"], road["计划投资（万元）"], road["累计完成投资（万元）"]) == (
        "在建",
        100000,
        80000,
    )
    assert road["投资完成率"] == 80 and road["省领导督办"] == "是"
    assert (road["牵头领导"], road["项目秘书"]) == ("严领导（L01）", "秦秘书（S01）")
    # 光谷 has no secretary and never reported: 50 days since it entered the ledger.
    park = by_name["光谷科创园"]
    assert (park["项目秘书"], park["未报送天数"], park["是否滞后"]) == (
        None,
        50,
        "滞后（超过14天）",
    )
    assert by_name["华新水泥技改项目"]["最近进展"] == "进展"
    scores = openpyxl.load_workbook(
        io.BytesIO(project_score_workbook(await env.services.project_reports.score("2026Q4")))
    )
    units = list(scores[zh.PROJECT_SCORE_SHEET].values)
    assert units == [
        zh.PROJECT_SCORE_HEADER,
        (1, UNIT, 4, 1.3, 1.6, -0.3),
        (2, OTHER_UNIT, 2, -0.2, 0.1, -0.3),
    ]
    lines = list(scores[zh.PROJECT_LINES_SHEET].values)
    assert lines[0] == zh.PROJECT_LINES_HEADER
    assert len(lines) == 1 + 9 + 3
    assert lines[4] == (
        UNIT,
        "光谷科创园",
        "新招商引资：单体投资20亿元以上项目",
        0.3,
        0.2,
        "2026-11-02签约；计划投资25亿元；超出本季度该类加分上限1.0分",
    )
    assert ids
