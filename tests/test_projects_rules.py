"""Tests for scoring.projects: stage words, amounts, progress texts, schedules, the unit score."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from scoring.projects import (
    FIVE_ONES,
    Investor,
    KeyLevel,
    ProjectFacts,
    ProjectRules,
    RankedUnit,
    Rule,
    ScoreLine,
    Stage,
    UnitScore,
    expected_completion,
    find_investment,
    find_reason,
    find_stage,
    format_amount,
    parse_amount,
    parse_investor,
    parse_key_level,
    parse_stage,
    rank_units,
    score_unit,
    stage_backwards,
    stale_episodes,
)

RESERVE, BUILDING, PRODUCING, ABOVE = (
    Stage.RESERVE,
    Stage.BUILDING,
    Stage.PRODUCING,
    Stage.ABOVE_SCALE,
)
YI = 100_000_000
WAN = 10_000
RULES = ProjectRules()
START, END = date(2026, 7, 1), date(2026, 9, 30)  # 2026Q3
MID = date(2026, 8, 15)


def d(text: str) -> date:
    return date.fromisoformat(text)


# ---------------------------------------------------------------------------
# Stage, Investor, KeyLevel
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "value", "word", "order"),
    [
        (RESERVE, "reserve", "储备", 0),
        (BUILDING, "building", "在建", 1),
        (PRODUCING, "producing", "投产", 2),
        (ABOVE, "above_scale", "入规", 3),
    ],
    ids=lambda v: str(v),
)
def test_stage_value_word_and_order(stage: Stage, value: str, word: str, order: int) -> None:
    assert (stage.value, stage.word, stage.order) == (value, word, order)
    assert list(Stage)[order] is stage


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("储备", RESERVE),
        ("在建", BUILDING),
        ("投产", PRODUCING),
        ("入规", ABOVE),
        ("储备项目", RESERVE),
        ("在建项目", BUILDING),
        ("投产项目", PRODUCING),
        ("入规项目", ABOVE),
        ("储备阶段", RESERVE),
        ("在建阶段", BUILDING),
        ("投产阶段", PRODUCING),
        ("入规阶段", ABOVE),
        ("已投产", PRODUCING),
        ("已投产项目", PRODUCING),
        ("已入规", ABOVE),
        ("入限", ABOVE),
        ("入限项目", ABOVE),
        ("已入限", ABOVE),
        ("建设中", BUILDING),
        ("在建中", BUILDING),
        ("开工", BUILDING),
        ("已开工", BUILDING),
        ("新开工", BUILDING),
        ("开工建设", BUILDING),
        ("reserve", RESERVE),
        ("building", BUILDING),
        ("producing", PRODUCING),
        ("above_scale", ABOVE),
        ("BUILDING", BUILDING),
        ("Above_Scale", ABOVE),
        ("ＢＵＩＬＤＩＮＧ", BUILDING),
        (" 投产 ", PRODUCING),
        ("\u3000投产\u3000", PRODUCING),
        ("投 产", PRODUCING),
        ("在建\n", BUILDING),
        ("", None),
        ("   ", None),
        ("投", None),
        ("生产", None),
        ("未开工", None),
        ("待开工", None),
        ("尚未投产", None),
        ("计划投产", None),
        ("已储备", None),
        ("规上", None),
        ("above scale", None),
        ("above-scale", None),
        ("production", None),
        ("投产了", None),
        ("2", None),
    ],
    ids=repr,
)
def test_parse_stage(text: str, expected: Stage | None) -> None:
    assert parse_stage(text) is expected


@pytest.mark.parametrize("stage", list(Stage), ids=str)
def test_parse_stage_reads_its_own_word_and_value(stage: Stage) -> None:
    assert parse_stage(stage.word) is stage
    assert parse_stage(stage.value) is stage


BACKWARDS = {
    (BUILDING, RESERVE),
    (PRODUCING, RESERVE),
    (PRODUCING, BUILDING),
    (ABOVE, RESERVE),
    (ABOVE, BUILDING),
    (ABOVE, PRODUCING),
}


@pytest.mark.parametrize("old", list(Stage), ids=str)
@pytest.mark.parametrize("new", list(Stage), ids=str)
def test_stage_backwards_every_pair(old: Stage, new: Stage) -> None:
    assert stage_backwards(old, new) is ((old, new) in BACKWARDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("世界500强", Investor.WORLD500),
        ("世界五百强", Investor.WORLD500),
        ("财富500强", Investor.WORLD500),
        ("财富世界500强", Investor.WORLD500),
        ("世界500强企业", Investor.WORLD500),
        ("世界５００强", Investor.WORLD500),
        (" 世界 500 强 ", Investor.WORLD500),
        ("world500", Investor.WORLD500),
        ("World500", Investor.WORLD500),
        ("WORLD 500", Investor.WORLD500),
        ("fortune500", Investor.WORLD500),
        ("中国500强", Investor.CHINA500),
        ("中国五百强", Investor.CHINA500),
        ("中国500强企业", Investor.CHINA500),
        ("china500", Investor.CHINA500),
        ("China500", Investor.CHINA500),
        ("上市公司", Investor.LISTED),
        ("主板上市", Investor.LISTED),
        ("主板上市公司", Investor.LISTED),
        ("上市", Investor.LISTED),
        ("上市企业", Investor.LISTED),
        ("listed", Investor.LISTED),
        ("LISTED", Investor.LISTED),
        ("", None),
        ("500强", None),
        ("五百强", None),
        ("世界", None),
        ("民营企业", None),
        ("中国100强", None),
        ("拟上市", None),
        ("未上市", None),
        ("外资", None),
    ],
    ids=repr,
)
def test_parse_investor(text: str, expected: Investor | None) -> None:
    assert parse_investor(text) is expected


@pytest.mark.parametrize(
    ("investor", "word"),
    [
        (Investor.WORLD500, "世界500强"),
        (Investor.CHINA500, "中国500强"),
        (Investor.LISTED, "上市公司"),
    ],
    ids=str,
)
def test_investor_word_reads_back(investor: Investor, word: str) -> None:
    assert investor.word == word
    assert parse_investor(word) is investor
    assert parse_investor(investor.value) is investor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("省重点", KeyLevel.PROVINCE),
        ("省级重点", KeyLevel.PROVINCE),
        ("省重点项目", KeyLevel.PROVINCE),
        ("省级重点项目", KeyLevel.PROVINCE),
        (" 省 重点 ", KeyLevel.PROVINCE),
        ("province", KeyLevel.PROVINCE),
        ("Province", KeyLevel.PROVINCE),
        ("市重点", KeyLevel.CITY),
        ("市级重点", KeyLevel.CITY),
        ("市重点项目", KeyLevel.CITY),
        ("市级重点项目", KeyLevel.CITY),
        ("city", KeyLevel.CITY),
        ("CITY", KeyLevel.CITY),
        ("", None),
        ("重点", None),
        ("县重点", None),
        ("国家重点", None),
        ("省", None),
        ("非重点", None),
    ],
    ids=repr,
)
def test_parse_key_level(text: str, expected: KeyLevel | None) -> None:
    assert parse_key_level(text) is expected


def test_key_level_words() -> None:
    assert (KeyLevel.PROVINCE.word, KeyLevel.CITY.word) == ("省重点", "市重点")
    assert all(parse_key_level(level.word) is level for level in KeyLevel)


# ---------------------------------------------------------------------------
# Amounts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("3.2亿", 320_000_000),
        ("3.2亿元", 320_000_000),
        ("32000万元", 320_000_000),
        ("32000万", 320_000_000),
        ("32000", 320_000_000),
        ("1,500.5万", 15_005_000),
        ("1,500.5万元", 15_005_000),
        ("1,500", 15_000_000),
        ("12,345,678元", 12_345_678),
        ("３.２亿", 320_000_000),
        ("３２０００万元", 320_000_000),
        ("0.5亿", 50_000_000),
        ("0.05亿", 5_000_000),
        ("3亿", 300_000_000),
        ("20亿元", 2_000_000_000),
        ("5000万", 50_000_000),
        ("5千万", 50_000_000),
        ("5千万元", 50_000_000),
        ("3百万", 3_000_000),
        ("3百万元", 3_000_000),
        ("800元", 800),
        ("0", 0),
        ("0万元", 0),
        ("0.0001万", 1),
        ("0.00005万", 1),  # half a yuan rounds up
        ("0.00004万", 0),
        ("1.23456789亿", 123_456_789),
        ("1.234567895亿", 123_456_790),  # half up
        ("3.2 亿", 320_000_000),
        (" 3.2亿元 ", 320_000_000),
        ("3.2\u3000亿元", 320_000_000),
        ("1，500万", 15_000_000),  # a full-width comma is a thousands separator too
        ("100000亿", 10**13),  # the largest sane amount
        ("1000000000万", 10**13),
        ("", None),
        ("   ", None),
        ("亿", None),
        ("万元", None),
        ("abc", None),
        ("三亿", None),
        ("-3亿", None),
        ("-5000", None),
        ("+3亿", None),
        ("3.2.1亿", None),
        (".5亿", None),
        ("5.亿", None),
        ("1,50万", None),
        ("1,5000万", None),
        (",500万", None),
        ("3亿5000万", None),
        ("约3亿", None),
        ("3亿多", None),
        ("3.2美元", None),
        ("3.2亿美元", None),
        ("1e5", None),
        ("NaN", None),
        ("Infinity", None),
        ("100001亿", None),  # absurd
        ("10000000000万", None),
        ("3亿 元 元", None),
    ],
    ids=repr,
)
def test_parse_amount(text: str, yuan: int | None) -> None:
    assert parse_amount(text) == yuan


@pytest.mark.parametrize(
    ("yuan", "text"),
    [
        (0, "0万元"),
        (1, "0.0001万元"),
        (12_345, "1.2345万元"),
        (50_000_000, "5000万元"),
        (15_005_000, "1500.5万元"),
        (15_000_000, "1500万元"),
        (99_999_999, "9999.9999万元"),
        (100_000_000, "1亿元"),
        (300_000_000, "3亿元"),
        (320_000_000, "3.2亿元"),
        (325_000_000, "3.25亿元"),
        (325_400_000, "3.25亿元"),
        (325_500_000, "3.26亿元"),  # half up
        (149_950_000, "1.5亿元"),
        (199_999_999, "2亿元"),
        (2_000_000_000, "20亿元"),
        (10**13, "100000亿元"),
    ],
    ids=repr,
)
def test_format_amount(yuan: int, text: str) -> None:
    assert format_amount(yuan) == text


@pytest.mark.parametrize(
    "yuan", [0, 1, 9_999, 12_345, 5_000_000, 15_005_000, 99_999_999, 300_000_000, 325_000_000]
)
def test_format_amount_reads_back(yuan: int) -> None:
    # Below 1亿 exact; at 1亿 and above exact when the amount has two decimals of 亿 at most.
    assert parse_amount(format_amount(yuan)) == yuan


# ---------------------------------------------------------------------------
# Progress texts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("累计完成投资3.2亿元", 320_000_000),
        ("累计完成投资3.2亿", 320_000_000),
        ("累计完成投资：3.2亿元", 320_000_000),
        ("累计完成投资:3.2亿元", 320_000_000),
        ("累计完成投资 3.2亿元", 320_000_000),
        ("累计完成投资：　3.2亿元", 320_000_000),
        ("累计完成投资到3亿", 300_000_000),
        ("累计完成投资达3亿", 300_000_000),
        ("累计完成投资达到3亿元", 300_000_000),
        ("累计完成投资为3亿元", 300_000_000),
        ("累计完成投资约3亿元", 300_000_000),
        ("累计完成投资额3亿元", 300_000_000),
        ("累计完成投资额为8000万元", 80_000_000),
        ("累计完成投资32000万元", 320_000_000),
        ("累计完成投资32000万", 320_000_000),
        ("累计完成投资5000", 50_000_000),
        ("累计完成投资5000。", 50_000_000),
        ("累计完成投资5000，下周进场", 50_000_000),
        ("累计完成投资1,500万元", 15_000_000),
        ("累计完成投资1,500", 15_000_000),
        ("累计完成投资３.２亿", 320_000_000),
        ("累计完成投资3千万", 30_000_000),
        ("累计完成1.2亿", 120_000_000),
        ("累计完成2000万元", 20_000_000),
        ("累计投资8000万", 80_000_000),
        ("累计投资达1亿元", 100_000_000),
        ("已完成投资1.5亿元", 150_000_000),
        ("已完成投资 6000", 60_000_000),
        ("完成投资2000万元", 20_000_000),
        ("本月完成投资3000万元", 30_000_000),
        ("主体封顶，累计完成投资2.5亿元，设备进场", 250_000_000),
        ("计划投资5亿，累计完成投资2亿", 200_000_000),
        ("累计完成投资2亿，占计划的40%", 200_000_000),
        ("累计完成投资2亿，累计完成投资3亿", 200_000_000),  # the first figure
        ("本月完成投资3000万，累计完成投资2亿", 200_000_000),  # 累计 beats a month's figure
        ("完成投资3000万，已完成投资5000万", 30_000_000),
        ("累计完成3个项目，累计完成投资2亿", 200_000_000),
        ("累计完成投资0.5亿元", 50_000_000),
        ("累计完成投资1.23456亿", 123_456_000),
    ],
    ids=repr,
)
def test_find_investment(text: str, yuan: int) -> None:
    assert find_investment(text) == yuan


@pytest.mark.parametrize(
    "text",
    [
        "",
        "签订3亿元合同",
        "项目总投资3亿元",
        "计划投资5亿元",
        "今年投资3亿",
        "计划完成投资5亿",
        "预计完成投资5亿元",
        "力争完成投资5亿元",
        "争取完成投资5亿元",
        "确保完成投资5亿元",
        "目标完成投资5亿元",
        "未完成投资5亿元",
        "累计完成投资80%",
        "累计完成投资80.5%",
        "完成投资计划的60%",
        "累计完成3个项目",
        "累计完成3万平方米",
        "累计完成土方2万方",
        "累计完成投资3000多万",
        "累计完成投资",
        "累计完成投资：待统计",
        "完成投资1,50万",
        "累计完成投资三亿元",
        "累计完成投资-3亿",
        "累计完成投资100001亿",
    ],
    ids=repr,
)
def test_find_investment_none(text: str) -> None:
    assert find_investment(text) is None


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("阶段：投产", PRODUCING),
        ("阶段:投产", PRODUCING),
        ("阶段 投产", PRODUCING),
        ("阶段　投产", PRODUCING),
        ("阶段：在建", BUILDING),
        ("阶段：储备", RESERVE),
        ("阶段：入规", ABOVE),
        ("阶段：入限", ABOVE),
        ("阶段：投产阶段", PRODUCING),
        ("阶段调整为投产", PRODUCING),
        ("阶段变更为在建", BUILDING),
        ("设备调试完成。阶段：投产", PRODUCING),
        ("阶段：储备，原因：规划调整", RESERVE),
        ("进入在建阶段", BUILDING),
        ("项目进入在建阶段，桩基施工", BUILDING),
        ("转入投产", PRODUCING),
        ("转为投产", PRODUCING),
        ("转入投产阶段", PRODUCING),
        ("转入投产阶段。", PRODUCING),
        ("转为在建项目", BUILDING),
        ("调整为储备", RESERVE),
        ("已投产", PRODUCING),
        ("项目已投产", PRODUCING),
        ("已经投产", PRODUCING),
        ("已正式投产", PRODUCING),
        ("已全面投产", PRODUCING),
        ("已建成投产", PRODUCING),
        ("已竣工投产", PRODUCING),
        ("项目已建成投产，运行良好", PRODUCING),
        ("正式投产", PRODUCING),
        ("本月正式投产，产值500万", PRODUCING),
        ("已入规", ABOVE),
        ("正式入规", ABOVE),
        ("已入限", ABOVE),
        ("实现入规", ABOVE),
        ("→投产", PRODUCING),
        ("储备→在建", BUILDING),
        ("在建 → 投产", PRODUCING),
        ("在建->投产", PRODUCING),
        ("在建－＞投产", PRODUCING),
        ("在建=>入规", ABOVE),
        ("一期已投产，二期计划明年开工", PRODUCING),
        ("尚未投产。阶段：在建", BUILDING),  # the denial is in another sentence
        ("已投产，累计完成投资3亿", PRODUCING),
        ("已正式投产，年底争取入规", PRODUCING),
        ("正式入规，已投产", ABOVE),  # the first stated change
    ],
    ids=repr,
)
def test_find_stage(text: str, stage: Stage) -> None:
    assert find_stage(text) is stage


@pytest.mark.parametrize(
    "text",
    [
        "",
        "尚未投产",
        "还未投产",
        "未投产",
        "没有投产",
        "计划下月投产",
        "计划下月正式投产",
        "进入投产准备",
        "进入投产准备阶段",
        "争取年底投产",
        "争取年底正式投产",
        "力争年底建成投产",
        "预计下月转入投产阶段",
        "计划转入投产",
        "即将正式投产",
        "有望年内实现入规",
        "确保年底实现入规",
        "目标：正式投产",
        "投产前检查",
        "投产前准备",
        "阶段：投产前准备",
        "已投产前检查",
        "投产",
        "在建",
        "投产条件已具备",
        "正在办理投产手续",
        "转入投产准备",
        "进入投产期",
        "尚未正式投产",
        "无法按期投产",
        "是否正式投产待定",
        "在建项目推进顺利",
        "签约3亿元",
    ],
    ids=repr,
)
def test_find_stage_none(text: str) -> None:
    assert find_stage(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("阶段：在建，原因：设备返厂检修", "设备返厂检修"),
        ("阶段：在建，原因:设备返厂检修", "设备返厂检修"),
        ("原因是环评未通过", "环评未通过"),
        ("原因为规划调整", "规划调整"),
        ("原因 ： 规划调整 ", "规划调整"),
        ("原因：\u3000规划调整\u3000", "规划调整"),
        ("原因：投资方撤资。已重新招商", "投资方撤资。已重新招商"),
        ("原因：第一行\n第二行", "第一行\n第二行"),
        ("原因：a 原因：b", "a 原因：b"),
        ("", None),
        ("设备返厂检修", None),
        ("原因", None),
        ("原因：", None),
        ("原因：   ", None),
        ("原因不明", None),
        ("分析原因，整改到位", None),
    ],
    ids=repr,
)
def test_find_reason(text: str, reason: str | None) -> None:
    assert find_reason(text) == reason


# ---------------------------------------------------------------------------
# expected_completion (时序进度)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("planned", "started", "expected", "as_of", "due"),
    [
        pytest.param(1000, "2026-01-01", "2026-01-11", "2025-12-31", 0, id="before_start"),
        pytest.param(1000, "2026-01-01", "2026-01-11", "2026-01-01", 0, id="at_start"),
        pytest.param(1000, "2026-01-01", "2026-01-11", "2026-01-02", 100, id="one_day_of_ten"),
        pytest.param(1000, "2026-01-01", "2026-01-11", "2026-01-06", 500, id="half_way"),
        pytest.param(1000, "2026-01-01", "2026-01-11", "2026-01-10", 900, id="a_day_before"),
        pytest.param(1000, "2026-01-01", "2026-01-11", "2026-01-11", 1000, id="at_expected"),
        pytest.param(1000, "2026-01-01", "2026-01-11", "2026-06-30", 1000, id="after_expected"),
        pytest.param(100, "2026-01-01", "2026-01-04", "2026-01-02", 33, id="third_rounds_down"),
        pytest.param(100, "2026-01-01", "2026-01-04", "2026-01-03", 67, id="two_thirds_up"),
        pytest.param(1, "2026-01-01", "2026-01-03", "2026-01-02", 1, id="half_a_yuan_rounds_up"),
        pytest.param(3, "2026-01-01", "2026-01-05", "2026-01-02", 1, id="0.75_rounds_up"),
        pytest.param(5, "2026-01-01", "2026-01-05", "2026-01-02", 1, id="1.25_rounds_down"),
        pytest.param(0, "2026-01-01", "2026-12-31", "2026-06-30", 0, id="nothing_planned"),
        pytest.param(10 * YI, "2026-01-01", "2026-01-21", "2026-01-11", 5 * YI, id="half_of_10yi"),
        pytest.param(
            10 * YI, "2026-01-01", "2028-01-01", "2026-09-30", 372_602_740, id="two_years"
        ),
        pytest.param(1000, "2026-01-11", "2026-01-11", "2026-01-10", 0, id="no_duration_before"),
        pytest.param(1000, "2026-01-11", "2026-01-11", "2026-01-11", 1000, id="no_duration_at"),
        pytest.param(1000, "2026-01-11", "2026-01-01", "2026-01-01", 1000, id="expected_first_at"),
        pytest.param(1000, "2026-01-11", "2026-01-01", "2025-12-31", 0, id="expected_first_pre"),
        pytest.param(1000, "2026-01-11", "2026-01-01", "2026-01-05", 1000, id="expected_first_mid"),
    ],
)
def test_expected_completion(
    planned: int, started: str, expected: str, as_of: str, due: int
) -> None:
    assert expected_completion(planned, d(started), d(expected), d(as_of)) == due


# ---------------------------------------------------------------------------
# stale_episodes (迟报)
# ---------------------------------------------------------------------------


def every(first: str, last: str, step: int) -> list[date]:
    days, day = [], d(first)
    while day <= d(last):
        days.append(day)
        day += timedelta(days=step)
    return days


@pytest.mark.parametrize(
    ("updates", "since", "episodes"),
    [
        # since 06-01, stale_days 14: stale from 06-16 on, a run reaching into the window
        pytest.param([], "2026-06-01", 1, id="no_updates_since_before_the_window"),
        pytest.param([], "2026-07-01", 1, id="no_updates_since_at_start_stale_from_07-16"),
        pytest.param([], "2026-09-16", 0, id="no_updates_since_inside_allowance_to_end"),
        pytest.param([], "2026-09-15", 1, id="no_updates_stale_on_the_last_day_only"),
        pytest.param([], "2026-10-01", 0, id="since_after_the_window"),
        pytest.param([], "2026-12-01", 0, id="since_far_after_the_window"),
        pytest.param(every("2026-06-01", "2026-10-31", 7), "2026-06-01", 0, id="weekly"),
        pytest.param(every("2026-06-01", "2026-10-31", 3), "2026-06-01", 0, id="every_3_days"),
        pytest.param(every("2026-06-01", "2026-10-31", 14), "2026-06-01", 0, id="gap_exactly_14"),
        pytest.param(every("2026-06-01", "2026-10-31", 15), "2026-06-01", 0, id="15_apart"),
        pytest.param(every("2026-06-01", "2026-10-31", 16), "2026-06-01", 6, id="16_apart"),
        pytest.param(["2026-06-30", "2026-07-15"], "2026-06-30", 1, id="gap_15_then_silence"),
        pytest.param(
            [
                "2026-07-01",
                "2026-07-15",
                "2026-07-29",
                "2026-08-12",
                "2026-08-26",
                "2026-09-09",
                "2026-09-23",
                "2026-10-07",
            ],
            "2026-06-01",
            0,
            id="every_14_days_across_the_window",
        ),
        pytest.param(
            ["2026-07-01", "2026-07-16", "2026-09-23"],
            "2026-07-01",
            1,
            id="update_on_day_15_is_in_time_then_one_long_gap",
        ),
        pytest.param(
            ["2026-07-01", "2026-07-17", "2026-10-01"],
            "2026-07-01",
            2,
            id="stale_07-16_then_a_long_gap_to_the_end",
        ),
        pytest.param(
            ["2026-07-05", "2026-08-01", "2026-08-10", "2026-09-20"],
            "2026-05-01",
            3,
            id="run_from_before_the_window_counts_once_plus_two",
        ),
        pytest.param(["2026-07-02"], "2026-05-01", 2, id="run_ending_on_the_second_day"),
        pytest.param(["2026-07-01"], "2026-05-01", 1, id="update_on_the_first_day_ends_the_run"),
        pytest.param(
            ["2026-06-20", "2026-09-30"], "2026-05-01", 1, id="update_on_the_last_day_ends_it"
        ),
        pytest.param(["2026-06-20", "2026-10-15"], "2026-05-01", 1, id="update_after_the_window"),
        pytest.param(["2026-05-02", "2026-06-28"], "2026-05-01", 1, id="updates_before_window"),
        pytest.param(["2026-06-17"], "2026-05-01", 1, id="last_update_before_start_stale_07-02"),
        pytest.param(
            ["2026-07-20", "2026-07-20", "2026-07-20", "2026-08-30", "2026-08-30"],
            "2026-07-15",
            2,
            id="duplicates_count_once",
        ),
        pytest.param(
            ["2026-09-10", "2026-07-10", "2026-08-05", "2026-07-20"],
            "2026-07-01",
            3,
            id="any_order_gaps_16_36_and_to_the_end",
        ),
        pytest.param(["2026-04-01"], "2026-08-01", 1, id="update_before_since_is_ignored"),
        pytest.param(["2026-08-20"], "2026-08-01", 2, id="since_inside_the_window"),
        pytest.param(["2026-08-10"], "2026-08-01", 1, id="since_inside_the_window_short"),
        pytest.param(every("2026-08-01", "2026-10-31", 10), "2026-08-01", 0, id="since_inside_ok"),
    ],
)
def test_stale_episodes(updates: list[date | str], since: str, episodes: int) -> None:
    days = [day if isinstance(day, date) else d(day) for day in updates]
    assert stale_episodes(days, d(since), START, END, 14) == episodes


@pytest.mark.parametrize(
    ("apart", "stale"),
    [(1, 0), (7, 0), (14, 0), (15, 0), (16, 1), (17, 1), (30, 1)],
)
def test_stale_episodes_border_of_the_allowance(apart: int, stale: int) -> None:
    # Updates `apart` days apart leave at most apart − 1 days since the last one: 15 apart is
    # a wait of 14 (in time), 16 apart a wait of 15 (stale). Daily updates follow.
    first = date(2026, 7, 10)
    then = first + timedelta(days=apart)
    updates = [then, *every((then + timedelta(days=1)).isoformat(), "2026-09-30", 1)]
    assert stale_episodes(updates, first, START, END, 14) == stale


@pytest.mark.parametrize(
    ("day", "stale"),
    [("2026-07-14", 0), ("2026-07-15", 0), ("2026-07-16", 1), ("2026-07-17", 1)],
)
def test_stale_episodes_a_day_exactly_stale_days_after_is_in_time(day: str, stale: int) -> None:
    # since 07-01: on 07-15 14 days have passed (in time), on 07-16 15 (stale)
    assert stale_episodes([], d("2026-07-01"), d(day), d(day), 14) == stale


@pytest.mark.parametrize(
    ("stale_days", "episodes"),
    [(1, 3), (2, 2), (3, 1), (5, 1), (8, 1), (9, 0), (30, 0)],
)
def test_stale_episodes_other_allowances(stale_days: int, episodes: int) -> None:
    # gaps: 07-01 → 07-04 (3), → 07-06 (2), → 07-16 (10), → 07-20 (4), then daily to the end
    updates = [d("2026-07-04"), d("2026-07-06"), d("2026-07-16"), d("2026-07-20")]
    updates += every("2026-07-21", "2026-09-30", 1)
    assert stale_episodes(updates, d("2026-07-01"), START, END, stale_days) == episodes


def brute_stale_episodes(
    updates: list[date], since: date, start: date, end: date, stale_days: int
) -> int:
    """The definition day by day: runs of days more than stale_days after the last update."""
    runs, before, day = 0, False, start
    while day <= end:
        last = max([since, *(u for u in updates if u <= day)])
        stale = day >= since and (day - last).days > stale_days
        runs += stale and not before
        before, day = stale, day + timedelta(days=1)
    return runs


@pytest.mark.parametrize("seed", range(40))
def test_stale_episodes_matches_the_day_by_day_definition(seed: int) -> None:
    rng = random.Random(seed)
    base = d("2026-05-01")
    since = base + timedelta(days=rng.randrange(0, 160))
    updates = [base + timedelta(days=rng.randrange(0, 200)) for _ in range(rng.randrange(0, 12))]
    stale_days = rng.choice([1, 3, 7, 14, 30])
    expected = brute_stale_episodes(updates, since, START, END, stale_days)
    assert stale_episodes(updates, since, START, END, stale_days) == expected


def test_stale_episodes_empty_window() -> None:
    assert stale_episodes([], d("2026-01-01"), END, START, 14) == 0


def test_stale_episodes_one_day_window() -> None:
    assert stale_episodes([], d("2026-01-01"), MID, MID, 14) == 1
    assert stale_episodes([MID], d("2026-01-01"), MID, MID, 14) == 0


# ---------------------------------------------------------------------------
# ProjectRules
# ---------------------------------------------------------------------------

NUMBER_KEYS = [
    "signed_world500",
    "signed_big_yuan",
    "signed_big",
    "signed_china500",
    "signed_mid_yuan",
    "signed_mid",
    "signed_headquarters",
    "signed_cap",
    "started_big_yuan",
    "started_big",
    "started_mid_yuan",
    "started_mid",
    "supervised_on_schedule",
    "supervised_behind",
    "started_cap",
    "culture_above_scale",
    "culture_cap",
    "missing_five_ones",
    "missing_five_ones_cap",
    "late_report",
    "poor_data",
    "data_cap",
    "stale_days",
]


def rules_with(changes: dict[str, Any]) -> ProjectRules:
    """Rules with some keys changed, values of any type (as a config file may give them)."""
    return ProjectRules(**changes)


def test_rules_defaults_follow_the_seed() -> None:
    assert (RULES.signed_world500, RULES.signed_big, RULES.signed_big_yuan) == (0.3, 0.3, 20 * YI)
    assert (RULES.signed_china500, RULES.signed_mid, RULES.signed_mid_yuan) == (0.2, 0.2, 10 * YI)
    assert (RULES.signed_headquarters, RULES.signed_cap) == (0.3, 1.0)
    assert (RULES.started_big, RULES.started_big_yuan) == (0.3, 10 * YI)
    assert (RULES.started_mid, RULES.started_mid_yuan) == (0.2, 5 * YI)
    assert (RULES.supervised_on_schedule, RULES.supervised_behind, RULES.started_cap) == (
        0.2,
        0.2,
        1.0,
    )
    assert (RULES.culture_above_scale, RULES.culture_cap) == (0.1, 0.3)
    assert (RULES.missing_five_ones, RULES.missing_five_ones_cap) == (0.1, 0.5)
    assert (RULES.late_report, RULES.poor_data, RULES.data_cap) == (0.1, 0.1, 0.5)
    assert RULES.industrial_categories == ("工业", "技改")
    assert RULES.culture_categories == ("文旅",)
    assert RULES.stale_days == 14


@pytest.mark.parametrize("key", NUMBER_KEYS)
def test_rules_refuse_a_negative_number(key: str) -> None:
    with pytest.raises(ValueError, match=key):
        rules_with({key: -1})


@pytest.mark.parametrize("key", [k for k in NUMBER_KEYS if not k.endswith(("_yuan", "_days"))])
def test_rules_refuse_nan(key: str) -> None:
    with pytest.raises(ValueError, match=key):
        rules_with({key: math.nan})


@pytest.mark.parametrize("key", [k for k in NUMBER_KEYS if k != "stale_days"])
def test_rules_allow_zero(key: str) -> None:
    if key in ("signed_big_yuan", "started_big_yuan"):
        mid = key.replace("big", "mid")
        rules_with({key: 0, mid: 0})
    else:
        rules_with({key: 0})


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"signed_mid_yuan": 30 * YI}, "signed_mid_yuan"),
        ({"signed_big_yuan": 5 * YI}, "signed_mid_yuan"),
        ({"started_mid_yuan": 11 * YI}, "started_mid_yuan"),
        ({"started_big_yuan": 4 * YI}, "started_mid_yuan"),
        ({"stale_days": 0}, "stale_days"),
        ({"stale_days": 1.5}, "stale_days"),
        ({"stale_days": "14"}, "stale_days"),
        ({"signed_cap": "1"}, "signed_cap"),
        ({"late_report": True}, "late_report"),
        ({"late_report": None}, "late_report"),
        ({"industrial_categories": "工业"}, "industrial_categories"),
        ({"industrial_categories": ("工业", "")}, "industrial_categories"),
        ({"culture_categories": (1,)}, "culture_categories"),
    ],
    ids=repr,
)
def test_rules_refuse_bad_values(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        rules_with(overrides)


def test_rules_accept_equal_thresholds_and_a_one_day_allowance() -> None:
    rules = ProjectRules(signed_mid_yuan=20 * YI, started_mid_yuan=10 * YI, stale_days=1)
    assert rules.signed_mid_yuan == rules.signed_big_yuan


def test_rules_take_lists_from_toml_as_tuples() -> None:
    rules = rules_with({"industrial_categories": ["工业"], "culture_categories": ["文旅", "文化"]})
    assert rules.industrial_categories == ("工业",)
    assert rules.culture_categories == ("文旅", "文化")
    hash(rules)


# ---------------------------------------------------------------------------
# score_unit
# ---------------------------------------------------------------------------


def project(pid: int = 1, **overrides: object) -> ProjectFacts:
    """A project that earns and loses nothing unless told to."""
    base = ProjectFacts(
        project_id=pid,
        name=f"项目{pid}",
        category="服务业",
        stage=PRODUCING,
        planned_yuan=None,
        investor=None,
        headquarters=False,
        supervised=False,
        signed_on=None,
        started_on=None,
        expected_on=None,
        above_scale_on=None,
        completed_yuan=None,
        missing_five_ones=(),
        stale_episodes=0,
        investment_reported=True,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def signed(pid: int, on: date = MID, **overrides: object) -> ProjectFacts:
    return project(pid, **{"signed_on": on, "stage": RESERVE, **overrides})


def started(pid: int, planned: int, on: date = MID, **overrides: object) -> ProjectFacts:
    fields = {"category": "工业", "stage": BUILDING, "planned_yuan": planned, "started_on": on}
    return project(pid, **{**fields, **overrides})


def supervised(pid: int, completed: int | None, **overrides: object) -> ProjectFacts:
    # 12亿 over 2026-01-01 → 2027-01-01: at 09-30 (272 of 365 days) 894,246,575 yuan are due.
    fields: dict[str, object] = {
        "category": "服务业",
        "stage": BUILDING,
        "planned_yuan": 12 * YI,
        "started_on": d("2026-01-01"),
        "expected_on": d("2027-01-01"),
        "completed_yuan": completed,
        "supervised": True,
    }
    return project(pid, **{**fields, **overrides})


DUE_AT_END = 894_246_575


def culture(pid: int, on: date = MID, **overrides: object) -> ProjectFacts:
    return project(pid, **{"category": "文旅", "stage": ABOVE, "above_scale_on": on, **overrides})


def score(*projects: ProjectFacts, rules: ProjectRules = RULES) -> UnitScore:
    return score_unit(7, projects, START, END, rules)


def summary(result: UnitScore) -> list[tuple[int, Rule, float, float, bool]]:
    return [(ln.project_id, ln.rule, ln.points, ln.counted, ln.capped) for ln in result.lines]


def totals(result: UnitScore) -> tuple[float, float, float]:
    return (result.total, result.bonus, result.deduction)


def test_score_unit_with_no_projects() -> None:
    result = score()
    assert result == UnitScore(7, 0.0, 0.0, 0.0, ())


def test_score_unit_with_a_project_that_earns_nothing() -> None:
    result = score(project(1), project(2, stage=RESERVE), project(3, stage=ABOVE))
    assert result.lines == ()
    assert totals(result) == (0.0, 0.0, 0.0)


SUPERVISED_VALUES = {"expected": DUE_AT_END, "planned": 12 * YI}

# (facts, rule, points, the values the line carries)
ALONE: list[tuple[str, ProjectFacts, Rule, float, dict[str, object]]] = [
    (
        "world500",
        signed(1, investor=Investor.WORLD500),
        Rule.SIGNED_WORLD500,
        0.3,
        {"investor": "world500", "signed_on": MID},
    ),
    (
        "signed_20yi",
        signed(1, planned_yuan=20 * YI),
        Rule.SIGNED_BIG,
        0.3,
        {"planned": 20 * YI, "threshold": 20 * YI, "signed_on": MID},
    ),
    (
        "headquarters",
        signed(1, headquarters=True),
        Rule.SIGNED_HEADQUARTERS,
        0.3,
        {"signed_on": MID},
    ),
    (
        "china500",
        signed(1, investor=Investor.CHINA500),
        Rule.SIGNED_CHINA500,
        0.2,
        {"investor": "china500", "signed_on": MID},
    ),
    (
        "listed",
        signed(1, investor=Investor.LISTED),
        Rule.SIGNED_LISTED,
        0.2,
        {"investor": "listed", "signed_on": MID},
    ),
    (
        "signed_10yi",
        signed(1, planned_yuan=10 * YI),
        Rule.SIGNED_MID,
        0.2,
        {"planned": 10 * YI, "threshold": 10 * YI, "signed_on": MID},
    ),
    (
        "started_10yi",
        started(1, 10 * YI),
        Rule.STARTED_BIG,
        0.3,
        {"planned": 10 * YI, "threshold": 10 * YI, "started_on": MID},
    ),
    (
        "started_5yi",
        started(1, 5 * YI),
        Rule.STARTED_MID,
        0.2,
        {"planned": 5 * YI, "threshold": 5 * YI, "started_on": MID},
    ),
    (
        "started_tech_upgrade",
        started(1, 6 * YI, category="技改"),
        Rule.STARTED_MID,
        0.2,
        {"planned": 6 * YI, "threshold": 5 * YI, "started_on": MID},
    ),
    (
        "supervised_on_schedule",
        supervised(1, DUE_AT_END),
        Rule.SUPERVISED_ON_SCHEDULE,
        0.2,
        {**SUPERVISED_VALUES, "completed": DUE_AT_END},
    ),
    (
        "supervised_ahead",
        supervised(1, 10 * YI),
        Rule.SUPERVISED_ON_SCHEDULE,
        0.2,
        {**SUPERVISED_VALUES, "completed": 10 * YI},
    ),
    (
        "supervised_a_yuan_behind",
        supervised(1, DUE_AT_END - 1),
        Rule.SUPERVISED_BEHIND,
        -0.2,
        {**SUPERVISED_VALUES, "completed": DUE_AT_END - 1},
    ),
    (
        "supervised_nothing_reported",
        supervised(1, None),
        Rule.SUPERVISED_BEHIND,
        -0.2,
        {**SUPERVISED_VALUES, "completed": 0},
    ),
    (
        "culture_above_scale",
        culture(1),
        Rule.CULTURE_ABOVE_SCALE,
        0.1,
        {"above_scale_on": MID},
    ),
    (
        "missing_secretary",
        project(1, missing_five_ones=("secretary",)),
        Rule.MISSING_FIVE_ONES,
        -0.1,
        {"missing": ("secretary",)},
    ),
    (
        "missing_all_four_is_still_one",
        project(1, missing_five_ones=FIVE_ONES),
        Rule.MISSING_FIVE_ONES,
        -0.1,
        {"missing": FIVE_ONES},
    ),
    (
        "late_once",
        project(1, stale_episodes=1),
        Rule.LATE_REPORT,
        -0.1,
        {"episodes": 1, "stale_days": 14},
    ),
    (
        "late_three_times",
        project(1, stale_episodes=3),
        Rule.LATE_REPORT,
        -0.3,
        {"episodes": 3, "stale_days": 14},
    ),
    (
        "poor_data",
        project(1, stage=BUILDING, investment_reported=False),
        Rule.POOR_DATA,
        -0.1,
        {},
    ),
]


@pytest.mark.parametrize(
    ("facts", "rule", "points", "values"),
    [pytest.param(f, r, p, v, id=name) for name, f, r, p, v in ALONE],
)
def test_every_rule_alone(
    facts: ProjectFacts, rule: Rule, points: float, values: dict[str, object]
) -> None:
    result = score(facts)
    assert result.lines == (ScoreLine(1, "项目1", rule, points, points, False, values),)
    assert result.total == points
    assert (result.bonus, result.deduction) == ((points, 0.0) if points > 0 else (0.0, points))


def test_rule_values_are_lower_snake_names() -> None:
    assert [rule.value for rule in Rule] == [rule.name.lower() for rule in Rule]
    assert len(Rule) == 14


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"investor": Investor.WORLD500, "planned_yuan": 30 * YI}, Rule.SIGNED_WORLD500),
        ({"investor": Investor.WORLD500, "headquarters": True}, Rule.SIGNED_WORLD500),
        ({"planned_yuan": 20 * YI, "headquarters": True}, Rule.SIGNED_BIG),
        ({"planned_yuan": 20 * YI, "investor": Investor.CHINA500}, Rule.SIGNED_BIG),
        ({"planned_yuan": 20 * YI - 1}, Rule.SIGNED_MID),
        ({"planned_yuan": 15 * YI, "headquarters": True}, Rule.SIGNED_HEADQUARTERS),
        ({"investor": Investor.CHINA500, "headquarters": True}, Rule.SIGNED_HEADQUARTERS),
        ({"investor": Investor.LISTED, "headquarters": True}, Rule.SIGNED_HEADQUARTERS),
        ({"investor": Investor.CHINA500, "planned_yuan": 15 * YI}, Rule.SIGNED_CHINA500),
        ({"investor": Investor.LISTED, "planned_yuan": 15 * YI}, Rule.SIGNED_LISTED),
        ({"investor": Investor.LISTED, "planned_yuan": 25 * YI}, Rule.SIGNED_BIG),
        ({"planned_yuan": 10 * YI}, Rule.SIGNED_MID),
        ({"planned_yuan": 10 * YI - 1}, None),
        ({"planned_yuan": None}, None),
        ({}, None),
    ],
    ids=repr,
)
def test_signed_takes_the_best_rule_once(overrides: dict[str, Any], rule: Rule | None) -> None:
    result = score(signed(1, **overrides))
    assert [line.rule for line in result.lines] == ([rule] if rule else [])


def test_signed_ties_follow_the_seed_order_and_higher_points_win() -> None:
    # Headquarters worth more than world500 under these rules: it wins.
    rules = ProjectRules(signed_headquarters=0.5)
    both = signed(1, investor=Investor.WORLD500, headquarters=True, planned_yuan=30 * YI)
    assert summary(score(both, rules=rules)) == [(1, Rule.SIGNED_HEADQUARTERS, 0.5, 0.5, False)]
    # The 10亿 rule worth more than the 中国500强 rule: it wins.
    rules = ProjectRules(signed_mid=0.25)
    mid = signed(1, investor=Investor.CHINA500, planned_yuan=10 * YI)
    assert summary(score(mid, rules=rules)) == [(1, Rule.SIGNED_MID, 0.25, 0.25, False)]
    # Listed uses the 中国500强 points.
    rules = ProjectRules(signed_china500=0.15, signed_mid=0.1)
    listed = signed(1, investor=Investor.LISTED, planned_yuan=10 * YI)
    assert summary(score(listed, rules=rules)) == [(1, Rule.SIGNED_LISTED, 0.15, 0.15, False)]


@pytest.mark.parametrize(
    ("planned", "rule"),
    [
        (20 * YI, Rule.STARTED_BIG),
        (10 * YI, Rule.STARTED_BIG),
        (10 * YI - 1, Rule.STARTED_MID),
        (5 * YI, Rule.STARTED_MID),
        (5 * YI - 1, None),
        (0, None),
    ],
)
def test_started_by_size(planned: int, rule: Rule | None) -> None:
    assert [line.rule for line in score(started(1, planned)).lines] == ([rule] if rule else [])


@pytest.mark.parametrize("category", ["服务业", "文旅", "", "工业 ", "基础设施"])
def test_started_only_industrial(category: str) -> None:
    assert score(started(1, 20 * YI, category=category)).lines == ()


def test_started_needs_a_planned_amount() -> None:
    assert score(started(1, 0, planned_yuan=None)).lines == ()


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"supervised": False}, None),
        ({"planned_yuan": None}, None),
        ({"started_on": None}, None),
        ({"expected_on": None}, None),
        ({"started_on": END + timedelta(days=1)}, None),  # not started by the quarter's end
        ({"started_on": END, "expected_on": d("2027-06-30")}, Rule.SUPERVISED_ON_SCHEDULE),
        ({"started_on": d("2025-01-01"), "expected_on": d("2026-01-01")}, Rule.SUPERVISED_BEHIND),
        (
            {
                "started_on": d("2025-01-01"),
                "expected_on": d("2026-01-01"),
                "completed_yuan": 12 * YI,
            },
            Rule.SUPERVISED_ON_SCHEDULE,
        ),
        ({"stage": PRODUCING}, Rule.SUPERVISED_ON_SCHEDULE),  # any stage
        ({"category": "工业"}, Rule.SUPERVISED_ON_SCHEDULE),
    ],
    ids=repr,
)
def test_supervised_conditions(overrides: dict[str, object], rule: Rule | None) -> None:
    result = score(supervised(1, DUE_AT_END, **overrides))
    assert [line.rule for line in result.lines] == ([rule] if rule else [])


def test_supervised_new_start_earns_both_lines_in_the_started_group() -> None:
    facts = started(
        1, 10 * YI, on=START, supervised=True, expected_on=d("2027-07-01"), completed_yuan=3 * YI
    )
    assert summary(score(facts)) == [
        (1, Rule.STARTED_BIG, 0.3, 0.3, False),
        (1, Rule.SUPERVISED_ON_SCHEDULE, 0.2, 0.2, False),
    ]
    assert score(facts).total == 0.5


@pytest.mark.parametrize(
    ("on", "counted"),
    [
        (START - timedelta(days=1), False),
        (START, True),
        (START + timedelta(days=1), True),
        (MID, True),
        (END - timedelta(days=1), True),
        (END, True),
        (END + timedelta(days=1), False),
        (d("2025-08-15"), False),
    ],
    ids=str,
)
def test_events_count_only_inside_the_quarter(on: date, counted: bool) -> None:
    projects = [
        signed(1, on=on, investor=Investor.WORLD500),
        started(2, 10 * YI, on=on),
        culture(3, on=on),
    ]
    rules = [Rule.SIGNED_WORLD500, Rule.STARTED_BIG, Rule.CULTURE_ABOVE_SCALE]
    assert [line.rule for line in score(*projects).lines] == (rules if counted else [])


# Signed group: cap 1.0 — (points of each project signed in order, counted of each)
SIGNED_CAP_TABLE = [
    pytest.param([0.3], [0.3], id="one"),
    pytest.param([0.3, 0.2], [0.3, 0.2], id="below"),
    pytest.param([0.3, 0.3, 0.2, 0.2], [0.3, 0.3, 0.2, 0.2], id="exactly_at_the_cap"),
    pytest.param([0.2, 0.2, 0.2, 0.2, 0.2], [0.2] * 5, id="five_0.2_exactly"),
    pytest.param([0.3, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.1], id="over_partial"),
    pytest.param([0.3, 0.3, 0.3, 0.3, 0.2], [0.3, 0.3, 0.3, 0.1, 0.0], id="over_partial_then_0"),
    pytest.param([0.2] * 6, [0.2] * 5 + [0.0], id="full_then_0"),
    pytest.param([0.3, 0.3, 0.3, 0.2, 0.3], [0.3, 0.3, 0.3, 0.1, 0.0], id="mixed"),
]


def _signed_worth(pid: int, points: float, on: date) -> ProjectFacts:
    investor = Investor.WORLD500 if points == 0.3 else Investor.CHINA500
    return signed(pid, on=on, investor=investor)


@pytest.mark.parametrize(("points", "counted"), SIGNED_CAP_TABLE)
def test_signed_cap(points: list[float], counted: list[float]) -> None:
    projects = [_signed_worth(i + 1, p, START + timedelta(days=i)) for i, p in enumerate(points)]
    result = score(*projects)
    assert [line.points for line in result.lines] == points
    assert [line.counted for line in result.lines] == counted
    assert [line.capped for line in result.lines] == [
        c != p for p, c in zip(points, counted, strict=True)
    ]
    assert result.total == result.bonus == round(sum(counted), 2)
    assert result.total <= RULES.signed_cap
    for line in result.lines:
        assert ("cap" in line.values) is line.capped
        if line.capped:
            assert line.values["cap"] == 1.0


def test_signed_cap_applies_by_signing_day_then_project_id() -> None:
    # ids 1..5 signed in reverse order: the later projects (by day) lose the cap
    projects = [
        signed(5, on=d("2026-07-01"), investor=Investor.WORLD500),
        signed(4, on=d("2026-07-02"), investor=Investor.WORLD500),
        signed(3, on=d("2026-08-01"), investor=Investor.WORLD500),
        signed(2, on=d("2026-08-01"), investor=Investor.WORLD500),  # same day: id 2 first
        signed(1, on=d("2026-09-30"), investor=Investor.WORLD500),
    ]
    assert summary(score(*projects)) == [
        (5, Rule.SIGNED_WORLD500, 0.3, 0.3, False),
        (4, Rule.SIGNED_WORLD500, 0.3, 0.3, False),
        (2, Rule.SIGNED_WORLD500, 0.3, 0.3, False),
        (3, Rule.SIGNED_WORLD500, 0.3, 0.1, True),
        (1, Rule.SIGNED_WORLD500, 0.3, 0.0, True),
    ]


def test_score_is_independent_of_input_order() -> None:
    projects = [
        signed(i, on=START + timedelta(days=i % 3), investor=Investor.WORLD500) for i in range(1, 7)
    ]
    projects += [project(10 + i, missing_five_ones=("leader",)) for i in range(7)]
    assert score(*projects) == score(*reversed(projects))


# Started group: cap 1.0, new starts by day first, supervised on-schedule as of the end
def test_started_cap_exactly_at_the_cap() -> None:
    projects = [
        started(1, 10 * YI, on=d("2026-07-01")),
        started(2, 10 * YI, on=d("2026-07-02")),
        started(3, 5 * YI, on=d("2026-07-03")),
        supervised(4, DUE_AT_END),
    ]
    result = score(*projects)
    assert summary(result) == [
        (1, Rule.STARTED_BIG, 0.3, 0.3, False),
        (2, Rule.STARTED_BIG, 0.3, 0.3, False),
        (3, Rule.STARTED_MID, 0.2, 0.2, False),
        (4, Rule.SUPERVISED_ON_SCHEDULE, 0.2, 0.2, False),
    ]
    assert totals(result) == (1.0, 1.0, 0.0)


def test_started_cap_over_the_cap_supervised_checks_come_last() -> None:
    projects = [
        supervised(1, DUE_AT_END),  # lowest id, but checked at the quarter's end
        started(2, 10 * YI, on=d("2026-09-30")),
        started(3, 10 * YI, on=d("2026-07-01")),
        started(4, 10 * YI, on=d("2026-07-02")),
        supervised(5, DUE_AT_END),
    ]
    result = score(*projects)
    assert summary(result) == [
        (3, Rule.STARTED_BIG, 0.3, 0.3, False),
        (4, Rule.STARTED_BIG, 0.3, 0.3, False),
        (2, Rule.STARTED_BIG, 0.3, 0.3, False),
        (1, Rule.SUPERVISED_ON_SCHEDULE, 0.2, 0.1, True),
        (5, Rule.SUPERVISED_ON_SCHEDULE, 0.2, 0.0, True),
    ]
    assert totals(result) == (1.0, 1.0, 0.0)


def test_started_below_the_cap() -> None:
    result = score(started(1, 10 * YI), started(2, 5 * YI))
    assert totals(result) == (0.5, 0.5, 0.0)
    assert not any(line.capped for line in result.lines)


def test_supervised_behind_is_never_capped() -> None:
    projects = [supervised(i, 0) for i in range(1, 8)]
    result = score(*projects)
    assert [line.rule for line in result.lines] == [Rule.SUPERVISED_BEHIND] * 7
    assert [line.counted for line in result.lines] == [-0.2] * 7
    assert not any(line.capped for line in result.lines)
    assert totals(result) == (-1.4, 0.0, -1.4)


def test_supervised_behind_does_not_use_up_the_started_cap() -> None:
    projects = [supervised(i, 0) for i in range(1, 4)]
    projects += [started(10 + i, 10 * YI, on=START + timedelta(days=i)) for i in range(4)]
    result = score(*projects)
    started_lines = [line for line in result.lines if line.rule is Rule.STARTED_BIG]
    assert [line.counted for line in started_lines] == [0.3, 0.3, 0.3, 0.1]
    assert totals(result) == (0.4, 1.0, -0.6)


@pytest.mark.parametrize(
    ("count", "counted"),
    [
        (1, [0.1]),
        (2, [0.1, 0.1]),
        (3, [0.1, 0.1, 0.1]),
        (4, [0.1, 0.1, 0.1, 0.0]),
        (6, [0.1, 0.1, 0.1, 0.0, 0.0, 0.0]),
    ],
)
def test_culture_cap(count: int, counted: list[float]) -> None:
    projects = [culture(i, on=START + timedelta(days=10 - i)) for i in range(1, count + 1)]
    result = score(*projects)
    assert [line.counted for line in result.lines] == counted
    assert [line.capped for line in result.lines] == [c == 0.0 for c in counted]
    assert [line.project_id for line in result.lines] == list(range(count, 0, -1))  # by day
    assert result.total == round(sum(counted), 2)


@pytest.mark.parametrize("category", ["工业", "服务业", "文化", ""])
def test_culture_only_its_categories(category: str) -> None:
    assert score(culture(1, category=category)).lines == ()


@pytest.mark.parametrize(
    ("count", "total"),
    [(1, -0.1), (4, -0.4), (5, -0.5), (6, -0.5), (9, -0.5)],
)
def test_five_ones_cap(count: int, total: float) -> None:
    projects = [project(i, missing_five_ones=("unit",)) for i in range(count, 0, -1)]
    result = score(*projects)
    assert [line.project_id for line in result.lines] == list(range(1, count + 1))
    assert [line.points for line in result.lines] == [-0.1] * count
    counted = [-0.1] * min(count, 5) + [0.0] * max(0, count - 5)
    assert [line.counted for line in result.lines] == counted
    assert [line.capped for line in result.lines] == [c == 0.0 for c in counted]
    assert totals(result) == (total, 0.0, total)


def test_five_ones_six_projects_sixth_is_capped_with_the_cap_value() -> None:
    projects = [project(i, missing_five_ones=(FIVE_ONES[i % 4],)) for i in range(1, 7)]
    last = score(*projects).lines[-1]
    assert (last.project_id, last.points, last.counted, last.capped) == (6, -0.1, 0.0, True)
    assert last.values == {"missing": ("task_force",), "cap": 0.5}


def test_data_cap_is_shared_by_late_and_poor_data() -> None:
    projects = [
        project(1, stage=BUILDING, stale_episodes=2, investment_reported=False),
        project(2, stale_episodes=1),
        project(3, stage=BUILDING, investment_reported=False),
        project(4, stage=BUILDING, stale_episodes=1, investment_reported=False),
    ]
    result = score(*projects)
    assert summary(result) == [
        (1, Rule.LATE_REPORT, -0.2, -0.2, False),
        (1, Rule.POOR_DATA, -0.1, -0.1, False),
        (2, Rule.LATE_REPORT, -0.1, -0.1, False),
        (3, Rule.POOR_DATA, -0.1, -0.1, False),
        (4, Rule.LATE_REPORT, -0.1, 0.0, True),
        (4, Rule.POOR_DATA, -0.1, 0.0, True),
    ]
    assert totals(result) == (-0.5, 0.0, -0.5)


def test_data_cap_partial_late_line() -> None:
    projects = [project(1, stale_episodes=3), project(2, stale_episodes=4)]
    assert summary(score(*projects)) == [
        (1, Rule.LATE_REPORT, -0.3, -0.3, False),
        (2, Rule.LATE_REPORT, -0.4, -0.2, True),
    ]


def test_data_one_project_late_many_times_is_capped() -> None:
    assert summary(score(project(1, stale_episodes=7))) == [(1, Rule.LATE_REPORT, -0.7, -0.5, True)]


def test_data_below_the_cap() -> None:
    result = score(
        project(1, stale_episodes=1), project(2, stage=BUILDING, investment_reported=False)
    )
    assert totals(result) == (-0.2, 0.0, -0.2)
    assert not any(line.capped for line in result.lines)


@pytest.mark.parametrize("stage", [RESERVE, PRODUCING, ABOVE], ids=str)
def test_poor_data_only_for_projects_under_construction(stage: Stage) -> None:
    assert score(project(1, stage=stage, investment_reported=False)).lines == ()


def test_caps_are_per_group_bonuses_and_deductions_apart() -> None:
    projects = [
        signed(i, on=START + timedelta(days=i), investor=Investor.WORLD500) for i in range(1, 6)
    ]
    projects += [started(10 + i, 10 * YI, on=START + timedelta(days=i)) for i in range(1, 5)]
    projects += [culture(20 + i, on=START + timedelta(days=i)) for i in range(1, 5)]
    projects += [supervised(30, 0)]
    projects += [project(40 + i, missing_five_ones=("task_force",)) for i in range(1, 7)]
    projects += [project(50 + i, stale_episodes=1) for i in range(1, 7)]
    result = score(*projects)
    by_rule: dict[Rule, float] = {}
    for line in result.lines:
        by_rule[line.rule] = round(by_rule.get(line.rule, 0.0) + line.counted, 2)
    assert by_rule == {
        Rule.SIGNED_WORLD500: 1.0,
        Rule.STARTED_BIG: 1.0,
        Rule.CULTURE_ABOVE_SCALE: 0.3,
        Rule.SUPERVISED_BEHIND: -0.2,
        Rule.MISSING_FIVE_ONES: -0.5,
        Rule.LATE_REPORT: -0.5,
    }
    assert totals(result) == (1.1, 2.3, -1.2)


def test_deductions_are_full_when_the_bonus_cap_is_reached_and_vice_versa() -> None:
    bonuses = [signed(i, investor=Investor.WORLD500) for i in range(1, 5)]
    deductions = [project(10, missing_five_ones=("leader",)), project(11, stale_episodes=2)]
    result = score(*bonuses, *deductions)
    assert [line.counted for line in result.lines if line.points < 0] == [-0.1, -0.2]
    assert result.bonus == 1.0
    assert result.deduction == -0.3
    assert result.total == 0.7
    # A full deduction cap leaves bonuses alone.
    many = [project(20 + i, stale_episodes=1) for i in range(8)]
    result = score(signed(1, investor=Investor.WORLD500), *many)
    assert (result.bonus, result.deduction, result.total) == (0.3, -0.5, -0.2)


def test_lines_order_bonuses_then_deductions_by_group() -> None:
    projects = [
        project(1, stage=BUILDING, investment_reported=False, stale_episodes=1),
        project(2, missing_five_ones=("secretary",)),
        supervised(3, 0),
        culture(4),
        supervised(5, 12 * YI),
        started(6, 5 * YI),
        signed(7, headquarters=True),
    ]
    assert [line.rule for line in score(*projects).lines] == [
        Rule.SIGNED_HEADQUARTERS,
        Rule.STARTED_MID,
        Rule.SUPERVISED_ON_SCHEDULE,
        Rule.CULTURE_ABOVE_SCALE,
        Rule.SUPERVISED_BEHIND,
        Rule.MISSING_FIVE_ONES,
        Rule.LATE_REPORT,
        Rule.POOR_DATA,
    ]


def test_one_project_can_collect_lines_in_several_groups() -> None:
    facts = signed(
        1,
        category="工业",
        stage=BUILDING,
        investor=Investor.CHINA500,
        planned_yuan=12 * YI,
        started_on=MID,
        missing_five_ones=("leader", "secretary"),
        stale_episodes=1,
        investment_reported=False,
    )
    result = score(facts)
    assert summary(result) == [
        (1, Rule.SIGNED_CHINA500, 0.2, 0.2, False),  # tied with 10亿: the seed's order
        (1, Rule.STARTED_BIG, 0.3, 0.3, False),
        (1, Rule.MISSING_FIVE_ONES, -0.1, -0.1, False),
        (1, Rule.LATE_REPORT, -0.1, -0.1, False),
        (1, Rule.POOR_DATA, -0.1, -0.1, False),
    ]
    assert totals(result) == (0.2, 0.5, -0.3)
    assert all(line.project_name == "项目1" for line in result.lines)


def test_sums_are_exact() -> None:
    result = score(*(culture(i) for i in range(1, 4)))
    assert result.total == 0.3
    assert result.bonus == 0.3
    assert 0.1 + 0.1 + 0.1 != 0.3  # what float addition would have given
    rules = ProjectRules(culture_cap=1.0)
    assert score(*(culture(i) for i in range(1, 11)), rules=rules).total == 1.0
    mixed = score(culture(1), signed(2, investor=Investor.CHINA500))
    assert mixed.total == 0.3
    deductions = score(*(project(i, stale_episodes=1) for i in range(1, 4)))
    assert deductions.total == deductions.deduction == -0.3


def test_a_fully_capped_deduction_is_zero_not_minus_zero() -> None:
    projects = [project(i, missing_five_ones=("unit",)) for i in range(1, 7)]
    last = score(*projects).lines[-1]
    assert last.counted == 0.0
    assert math.copysign(1.0, last.counted) == 1.0
    assert str(score().deduction) == "0.0"


def test_custom_rules_points_caps_and_categories() -> None:
    rules = ProjectRules(
        signed_world500=0.5,
        signed_cap=0.8,
        started_big_yuan=3 * YI,
        started_mid_yuan=YI,
        started_big=0.4,
        started_mid=0.25,
        started_cap=0.5,
        industrial_categories=("制造业",),
        culture_categories=("文化", "旅游"),
        culture_above_scale=0.15,
        culture_cap=0.2,
        missing_five_ones=0.2,
        missing_five_ones_cap=0.3,
        late_report=0.05,
        poor_data=0.3,
        data_cap=0.35,
        supervised_behind=0.5,
    )
    projects = [
        signed(1, on=d("2026-07-01"), investor=Investor.WORLD500),
        signed(2, on=d("2026-07-02"), investor=Investor.WORLD500),
        started(3, 3 * YI, category="制造业", on=d("2026-07-01")),
        started(4, YI, category="制造业", on=d("2026-07-02")),
        started(5, 10 * YI, category="工业"),  # not industrial under these rules
        culture(6, category="文化", on=d("2026-07-01")),
        culture(7, category="旅游", on=d("2026-07-02")),
        culture(8, category="文旅"),  # not culture under these rules
        supervised(9, 0),
        project(10, missing_five_ones=("leader",)),
        project(11, missing_five_ones=("unit",)),
        project(12, stale_episodes=3),
        project(13, stage=BUILDING, investment_reported=False),
    ]
    assert summary(score(*projects, rules=rules)) == [
        (1, Rule.SIGNED_WORLD500, 0.5, 0.5, False),
        (2, Rule.SIGNED_WORLD500, 0.5, 0.3, True),
        (3, Rule.STARTED_BIG, 0.4, 0.4, False),
        (4, Rule.STARTED_MID, 0.25, 0.1, True),
        (6, Rule.CULTURE_ABOVE_SCALE, 0.15, 0.15, False),
        (7, Rule.CULTURE_ABOVE_SCALE, 0.15, 0.05, True),
        (9, Rule.SUPERVISED_BEHIND, -0.5, -0.5, False),
        (10, Rule.MISSING_FIVE_ONES, -0.2, -0.2, False),
        (11, Rule.MISSING_FIVE_ONES, -0.2, -0.1, True),
        (12, Rule.LATE_REPORT, -0.15, -0.15, False),
        (13, Rule.POOR_DATA, -0.3, -0.2, True),
    ]
    result = score(*projects, rules=rules)
    assert totals(result) == (0.35, 1.5, -1.15)


def test_custom_stale_days_reach_the_values() -> None:
    line = score(project(1, stale_episodes=2), rules=ProjectRules(stale_days=7)).lines[0]
    assert line.values == {"episodes": 2, "stale_days": 7}


@pytest.mark.parametrize(
    ("key", "facts"),
    [
        ("signed_world500", signed(1, investor=Investor.WORLD500)),
        ("started_mid", started(1, 5 * YI)),
        ("supervised_on_schedule", supervised(1, DUE_AT_END)),
        ("supervised_behind", supervised(1, 0)),
        ("culture_above_scale", culture(1)),
        ("missing_five_ones", project(1, missing_five_ones=("leader",))),
        ("late_report", project(1, stale_episodes=2)),
        ("poor_data", project(1, stage=BUILDING, investment_reported=False)),
    ],
)
def test_a_rule_worth_nothing_gives_no_line(key: str, facts: ProjectFacts) -> None:
    assert score(facts, rules=rules_with({key: 0})).lines == ()


def test_a_rule_worth_nothing_leaves_the_best_other_rule() -> None:
    # 20亿 signed with SIGNED_BIG off: it is also over 10亿, so SIGNED_MID applies
    rules = ProjectRules(signed_big=0)
    assert [ln.rule for ln in score(signed(1, planned_yuan=20 * YI), rules=rules).lines] == [
        Rule.SIGNED_MID
    ]
    rules = ProjectRules(started_big=0)
    assert [ln.rule for ln in score(started(1, 10 * YI), rules=rules).lines] == [Rule.STARTED_MID]
    # A 5亿 rule worth more than the 10亿 one: the better rule wins for a 10亿 project.
    rules = ProjectRules(started_mid=0.35)
    assert summary(score(started(1, 10 * YI), rules=rules)) == [
        (1, Rule.STARTED_MID, 0.35, 0.35, False)
    ]


@pytest.mark.parametrize("cap_key", ["signed_cap", "started_cap", "culture_cap", "data_cap"])
def test_a_zero_cap_counts_nothing(cap_key: str) -> None:
    projects = [
        signed(1, investor=Investor.WORLD500),
        started(2, 10 * YI),
        culture(3),
        project(4, stale_episodes=1),
    ]
    result = score(*projects, rules=rules_with({cap_key: 0}))
    zero = [line for line in result.lines if line.counted == 0.0]
    assert len(zero) == 1
    assert zero[0].capped
    assert zero[0].values["cap"] == 0.0


def test_unit_score_keeps_the_unit_id() -> None:
    assert score_unit(42, [], START, END, RULES).unit_id == 42


# ---------------------------------------------------------------------------
# rank_units
# ---------------------------------------------------------------------------


def unit(uid: int, total: float) -> UnitScore:
    return UnitScore(uid, total, max(total, 0.0), min(total, 0.0), ())


@pytest.mark.parametrize(
    ("totals_by_unit", "expected"),
    [
        pytest.param({}, [], id="none"),
        pytest.param({1: 0.5}, [(1, 1)], id="one"),
        pytest.param({1: 0.5, 2: 1.0, 3: -0.2}, [(2, 1), (1, 2), (3, 3)], id="distinct"),
        pytest.param({3: 1.0, 1: 1.0, 2: 0.5}, [(1, 1), (3, 1), (2, 3)], id="tie_at_the_top"),
        pytest.param(
            {1: 1.0, 2: 0.5, 3: 0.5, 4: 0.5, 5: 0.0},
            [(1, 1), (2, 2), (3, 2), (4, 2), (5, 5)],
            id="tie_in_the_middle",
        ),
        pytest.param({2: 0.0, 1: 0.0}, [(1, 1), (2, 1)], id="all_tied"),
        pytest.param(
            {1: -0.5, 2: -0.5, 3: -0.1},
            [(3, 1), (1, 2), (2, 2)],
            id="tie_at_the_bottom_negative",
        ),
    ],
)
def test_rank_units(totals_by_unit: dict[int, float], expected: list[tuple[int, int]]) -> None:
    ranked = rank_units([unit(uid, total) for uid, total in totals_by_unit.items()])
    assert [(r.score.unit_id, r.rank) for r in ranked] == expected
    assert all(isinstance(r, RankedUnit) for r in ranked)


def test_rank_units_ties_on_exact_sums() -> None:
    three_tenths = score_unit(1, [culture(i) for i in range(1, 4)], START, END, RULES)
    china500_and_culture = score_unit(
        2, [signed(1, investor=Investor.CHINA500), culture(2)], START, END, RULES
    )
    ranked = rank_units([china500_and_culture, three_tenths])
    assert [(r.score.unit_id, r.rank) for r in ranked] == [(1, 1), (2, 1)]


# ---------------------------------------------------------------------------
# [projects] in the configuration file
# ---------------------------------------------------------------------------


def _example_projects() -> dict[str, object]:
    import tomllib
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "config.example.toml"
    return dict(tomllib.loads(path.read_text(encoding="utf-8"))["projects"])


def test_example_projects_section_names_every_key_and_is_the_defaults() -> None:
    from dataclasses import fields

    from bot.config import config_from_dict
    from services.policy import ProjectSettings

    example = _example_projects()
    assert set(example) == {f.name for f in fields(ProjectRules)} | {"remind_at"}
    assert config_from_dict({"projects": example}, env={}).projects == ProjectSettings()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"signed_big_yuan": "30亿"}, {"signed_big_yuan": 3_000_000_000}),
        ({"started_mid_yuan": 600_000_000}, {"started_mid_yuan": 600_000_000}),
        ({"culture_categories": ["文旅", "文化"]}, {"culture_categories": ("文旅", "文化")}),
        ({"stale_days": 7, "late_report": 0.2}, {"stale_days": 7, "late_report": 0.2}),
    ],
)
def test_projects_config_sets_the_rules(
    values: dict[str, object], expected: dict[str, object]
) -> None:
    from bot.config import config_from_dict

    rules = config_from_dict({"projects": values}, env={}).projects.rules
    assert {key: getattr(rules, key) for key in expected} == expected


@pytest.mark.parametrize(
    "values",
    [
        {"nonsense": 1},
        {"signed_big_yuan": "很多"},
        {"signed_big_yuan": -5},
        {"signed_mid_yuan": "30亿"},  # above signed_big_yuan
        {"stale_days": 0},
        {"late_report": -0.1},
        {"industrial_categories": "工业"},
        {"remind_at": "25:00"},
        {"signed_cap": "一分"},
    ],
)
def test_bad_projects_config_is_refused_with_the_key(values: dict[str, object]) -> None:
    from bot.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match="projects"):
        config_from_dict({"projects": values}, env={})
