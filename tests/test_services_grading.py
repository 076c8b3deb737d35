"""GradingService without Telegram: the grade table's rows, columns, reasons and summaries,
the export file, and /grades' reach, on SQLite and PostgreSQL.

The clock stands at Friday 2026-11-20 10:00 in Shanghai. 2026Q4 so far has 32 working days
before today: October has 18 (National Day runs 1–7 October, and Saturday 10 October is a
调休 working day), November 14 (2nd–6th, 9th–13th, 16th–19th).

县发改委 (经济发展类): 陈书记 r001 (rater) and five cadres:
    c001 logs every day (two of them 补记, one entry flagged as repeated), 好, 2 positive comments
    c002 joined on 9 November and logs every day since, 较好
    c003 logs every other day and was reminded on 7 missed days, 一般, 1 negative comment
    c004 was away the whole quarter (all days excused), 好
    c005 is not rated
县财政局: f001 (outside the rater's units).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from scheduler.calendar import WorkCalendar
from scoring.dates import Period, expected_days
from scoring.grades import Grade, Rating
from services import zh
from services.errors import NotAllowed, UsageError
from services.grading import GradeReport, GradeRow
from services.sheets import grades_workbook
from storage.models import (
    Absence,
    AuditLog,
    Comment,
    Evaluation,
    FiveTwoForm,
    LogEntry,
    OutboxMessage,
    Person,
    Unit,
)
from storage.models import Rating as RatingRow
from tests.services_fixtures import OTHER_UNIT, SHANGHAI, UNIT, Env

pytest_plugins = ("tests.services_fixtures",)

Q4 = Period.quarter(2026, 4)
TODAY = date(2026, 11, 20)
DUE = expected_days(Q4, WorkCalendar(), until=TODAY - timedelta(days=1))
JOINED = date(2026, 11, 9)
STAMP = datetime(2026, 11, 20, 2, 0, tzinfo=SHANGHAI)


@dataclass
class Org:
    rater: int
    c: dict[str, int]
    other: int


def entry(person_id: int, day: date, n: int = 1, **extra: object) -> dict[str, object]:
    return {
        "person_id": person_id,
        "work_date": day,
        "item_no": n,
        "text": f"走访企业了解用地需求{day.isoformat()}-{n}",
        "kind": "regular",
        "is_late": False,
        "is_overlong": False,
        "channel": "telegram",
        "source_key": f"{person_id}:{day.isoformat()}:{n}",
        "source_part": 0,
        "withdrawn": False,
        "quality": "",
        "created_at": STAMP,
        "updated_at": STAMP,
    } | extra


def rating_row(person_id: int, unit_id: int, grade: str, rater: int) -> dict[str, object]:
    return {
        "person_id": person_id,
        "quarter": "2026Q4",
        "unit_id": unit_id,
        "grade": grade,
        "rater_id": rater,
        "created_at": STAMP,
        "updated_at": STAMP,
    }


async def build_org(env: Env) -> Org:
    unit = await env.unit(UNIT)
    await env.unit(OTHER_UNIT)
    rater = await env.person("r001", "陈书记")
    c = {
        rid: await env.person(rid, f"干部{rid[-1]}")
        for rid in ("c001", "c002", "c003", "c004", "c005")
    }
    other = await env.person("f001", "财政干部", unit=OTHER_UNIT)
    async with env.sessions() as db:
        await db.execute(update(Person).where(Person.id == rater).values(roles="cadre,rater"))
        await db.execute(update(Person).where(Person.id == c["c002"]).values(joined_on=JOINED))
        await db.execute(update(Unit).where(Unit.id == unit).values(category="经济发展类"))
        await db.commit()
    rows = [entry(c["c001"], d) for d in DUE]
    rows[0]["is_late"] = rows[1]["is_late"] = True
    rows[2]["quality"] = "repeat"
    rows.append(entry(c["c001"], DUE[3], 2, quality="long", is_overlong=True))
    rows += [entry(c["c002"], d) for d in DUE if d >= JOINED]
    rows += [entry(c["c003"], d) for d in DUE[::2]]
    rows.append(entry(c["c003"], DUE[1], withdrawn=True))  # withdrawn: the day stays missed
    rows += [entry(other, d) for d in DUE]
    await env.insert_rows(LogEntry, rows)
    await env.insert_rows(
        Absence,
        [
            {
                "person_id": c["c004"],
                "start_date": Q4.start,
                "end_date": Q4.end,
                "reason": "脱产培训",
                "kind": "training",
                "created_at": STAMP,
                "withdrawn": False,
            }
        ],
    )
    missed = DUE[1::2]
    await env.insert_rows(
        OutboxMessage,
        [
            {
                "key": f"daily:{d.isoformat()}:{c['c003']}",
                "kind": "daily",
                "priority": 1,
                "person_id": c["c003"],
                "reminds_of": d,
                "text": "提醒",
                "status": "sent",
                "attempts": 1,
                "unsure": 0,
                "not_before": STAMP,
                "created_at": STAMP,
            }
            for d in missed[:7]
        ],
    )
    unit_id = await env.unit(UNIT)
    await env.insert_rows(
        RatingRow,
        [
            rating_row(c["c001"], unit_id, "good", rater),
            rating_row(c["c002"], unit_id, "fair", rater),
            rating_row(c["c003"], unit_id, "average", rater),
            rating_row(c["c004"], unit_id, "good", rater),
        ],
    )
    comment = {"author_id": rater, "text": "点评", "created_at": STAMP}
    await env.insert_rows(
        Comment,
        [
            comment | {"subject_id": c["c001"], "positive": True},
            comment | {"subject_id": c["c001"], "positive": True},
            comment | {"subject_id": c["c003"], "positive": False},
            # Last quarter's comment does not count in Q4.
            comment
            | {
                "subject_id": c["c003"],
                "positive": False,
                "created_at": datetime(2026, 9, 30, 12, tzinfo=SHANGHAI),
            },
        ],
    )
    await env.insert_rows(
        FiveTwoForm,
        [
            {
                "person_id": c["c001"],
                "quarter": "2026Q4",
                "best": "[]",
                "weaker": "[]",
                "self_assessment": "较好。招商引资任务完成",
                "submitted_at": STAMP,
                "created_at": STAMP,
                "updated_at": STAMP,
            }
        ],
    )
    await env.insert_rows(
        Evaluation,
        [
            {
                "subject_id": c["c001"],
                "quarter": "2026Q4",
                "author_id": rater,
                "text": "工作扎实，敢于担当",
                "created_at": STAMP,
                "updated_at": STAMP,
            }
        ],
    )
    return Org(rater, c, other)


@pytest.fixture
async def org(env: Env) -> Org:
    return await build_org(env)


def rows_by_id(report: GradeReport) -> dict[str, GradeRow]:
    return {row.roster_id: row for row in report.rows}


async def test_every_active_cadre_has_a_row_with_the_designed_columns(env: Env, org: Org):
    report = await env.services.grading.report(Q4)
    # National Day (1–7 October) is not due, the 调休 Saturday 10 October is: 18 + 14 days.
    assert len(DUE) == 32
    assert date(2026, 10, 5) not in DUE and date(2026, 10, 10) in DUE
    assert sum(1 for d in DUE if d.month == 10) == 18
    rows = rows_by_id(report)
    assert set(rows) == {"r001", "c001", "c002", "c003", "c004", "c005", "f001"}
    c001 = rows["c001"]
    assert c001.columns() == [
        UNIT,
        "c001",
        "干部1",
        "科员",
        32,  # 应记天数
        32,  # 已记天数
        0,  # 请假天数
        100.0,  # 完成率
        2,  # 补记条数
        33,  # 条目数
        1,  # 重复或琐碎条数 (the 'long' flag is not counted)
        2,  # 正面点评
        0,  # 负面点评
        zh.YES,  # 5+2已交
        "较好。招商引资任务完成",
        "工作扎实，敢于担当",
        "好",
        98.5,  # 0.7·95 + 0.3·100 + 2 comments
        "优秀",
        c001.explanation,
    ]
    assert "实绩得分98.5" in c001.explanation
    assert "优秀名额第1/1名" in c001.explanation
    assert "本类（经济发展类）第1/" in c001.explanation


async def test_completeness_counts_only_days_on_the_roster_and_not_excused(env: Env, org: Org):
    rows = rows_by_id(await env.services.grading.report(Q4))
    # Joined on 9 November: 9 working days due, all logged.
    assert (rows["c002"].expected, rows["c002"].logged, rows["c002"].rate) == (9, 9, 1.0)
    # Every other day; the withdrawn entry does not fill its day.
    assert (rows["c003"].expected, rows["c003"].logged) == (32, 16)
    assert rows["c003"].entries == 16
    # Away all quarter: nothing due, every day excused, counted as complete for the score.
    assert (rows["c004"].expected, rows["c004"].logged, rows["c004"].excused) == (0, 0, 32)
    assert rows["c004"].rate is None
    assert rows["c004"].score == 96.5


async def test_grades_follow_the_seeds_rules_with_reasons(env: Env, org: Org):
    rows = rows_by_id(await env.services.grading.report(Q4))
    # 较好 with 89.5 points: 称职.
    assert (rows["c002"].ratings, rows["c002"].score, rows["c002"].grade) == (
        "较好",
        89.5,
        Grade.COMPETENT,
    )
    # 一般, half the days, one negative comment: 0.7·75 + 0.3·50 − 2 = 65.5 → 基本称职, and
    # 7 missed days after reminders (more than 5) cap it there anyway.
    c003 = rows["c003"]
    assert (c003.score, c003.grade, c003.negative) == (65.5, Grade.BASIC, 1)
    assert "提醒后仍无故未记录7天（超过5天），最高为基本称职" in c003.explanation
    # 好 and 96.5, but the unit's one 优秀 place (20 % of its 6 cadres, rounded down) is c001's.
    c004 = rows["c004"]
    assert c004.grade is Grade.COMPETENT
    assert "本单位优秀名额" in c004.explanation and "已满" in c004.explanation
    # Not rated: a row, no score, no grade, and the reason says so.
    c005 = rows["c005"]
    assert (c005.ratings, c005.score, c005.grade) == ("", None, None)
    assert c005.explanation.startswith(zh.GRADE_REASONS["not_rated"])
    assert c005.columns()[17:19] == ["", ""]


async def test_the_unit_summary_counts_ratings_and_grades(env: Env, org: Org):
    report = await env.services.grading.report(Q4)
    (unit,) = [u for u in report.units if u.unit == UNIT]
    assert (unit.category, unit.cadres) == ("经济发展类", 6)
    assert unit.ratings == {Rating.GOOD: 2, Rating.FAIR: 1, Rating.AVERAGE: 1}
    assert unit.grades == {Grade.EXCELLENT: 1, Grade.COMPETENT: 2, Grade.BASIC: 1}
    assert unit.mean_score == round((98.5 + 89.5 + 65.5 + 96.5) / 4, 1)


async def test_the_export_file_has_the_columns_in_order_a_frozen_header_and_widths(
    env: Env, org: Org
):
    report = await env.services.grading.report(Q4)
    book = load_workbook(io.BytesIO(grades_workbook(report)))
    sheet = book[zh.GRADES_SHEET]
    values = list(sheet.values)
    assert values[0] == zh.GRADES_HEADER
    assert ", ".join(zh.GRADES_HEADER) == (
        "单位, 工号, 姓名, 职务, 应记天数, 已记天数, 请假天数, 完成率, 补记条数, 条目数, "
        "重复或琐碎条数, 正面点评, 负面点评, 5+2已交, 自评, 领导评鉴, 评定等次, 实绩得分, "
        "年度建议等次, 说明"
    )  # DESIGN.md's columns, as written there
    assert len(values) == 1 + 7
    assert sheet.freeze_panes == "A2"
    assert 60 <= sheet.column_dimensions["T"].width < 61  # 说明 is the widest column
    by_id = {row[1]: row for row in values[1:]}
    assert by_id["c001"][16:19] == ("好", 98.5, "优秀")
    assert by_id["c005"][16:19] == (None, None, None)
    summary = list(book[zh.GRADES_SUMMARY_SHEET].values)
    assert summary[0] == zh.GRADES_SUMMARY_HEADER
    assert {row[0] for row in summary[1:]} == {UNIT, OTHER_UNIT}


async def test_a_year_weighs_its_quarters(env: Env, org: Org):
    report = await env.services.grading.report(Period.year(2026))
    assert report.quarters == ("2026Q1", "2026Q2", "2026Q3", "2026Q4")
    c001 = rows_by_id(report)["c001"]
    # Only Q4 is rated; the year's score is Q4's. Q1–Q3 have no entries but were due.
    assert c001.score == 98.5
    assert c001.ratings == "Q1— Q2— Q3— Q4好"
    assert c001.forms == "1/4"


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("2026-11", zh.GRADES_PERIOD_KIND.format(text="2026-11")),
        ("2027", zh.FUTURE_PERIOD.format(label="2027")),
        ("明年", zh.BAD_PERIOD.format(text="明年")),
    ],
)
async def test_bad_periods_are_refused(env: Env, org: Org, text: str, reply: str):
    with pytest.raises(UsageError) as refused:
        env.services.grading.period(text)
    assert refused.value.reply == reply


async def test_grades_reach_the_raters_units_only_and_are_audited(env: Env, org: Org):
    report = await env.services.grading.rater_report(org.rater, "2026Q4")
    assert {row.roster_id for row in report.rows} == {
        "r001",
        "c001",
        "c002",
        "c003",
        "c004",
        "c005",
    }
    (line,) = await env.rows(AuditLog, AuditLog.action == "grades_export")
    assert line.actor_person_id == org.rater and '"rows": 6' in line.detail
    with pytest.raises(NotAllowed) as refused:
        await env.services.grading.rater_report(org.c["c001"], None)
    assert refused.value.reply == zh.GRADES_NOT_RATER
