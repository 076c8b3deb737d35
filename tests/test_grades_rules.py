"""Tests for scoring.grades: shares, the 好 quota, ratings, scores, grades, ranks, [scoring]."""

from __future__ import annotations

import math
import tomllib
from dataclasses import fields, replace
from pathlib import Path

import pytest

from bot.config import ConfigError, config_from_dict
from scoring.grades import (
    CadreFacts,
    Grade,
    GradeResult,
    QuarterFacts,
    Rank,
    Rating,
    Reason,
    Rounding,
    ScoringRules,
    Standing,
    comment_points,
    good_quota,
    grade_unit,
    leading_rating,
    parse_rating,
    period_rating,
    period_score,
    quarter_score,
    rank,
    rating_allowed,
    rating_points,
    share_of,
    valid_cap_percent,
)

DOWN, NEAREST, UP = Rounding.DOWN, Rounding.NEAREST, Rounding.UP
GOOD, FAIR, AVERAGE, POOR = Rating.GOOD, Rating.FAIR, Rating.AVERAGE, Rating.POOR
RULES = ScoringRules()
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.toml"


# ---------------------------------------------------------------------------
# share_of
# ---------------------------------------------------------------------------

# (count, percent, exact people, rounded down, nearest, up)
SHARE_TABLE: list[tuple[int, float, str, int, int, int]] = [
    (0, 0, "0", 0, 0, 0),
    (0, 30, "0", 0, 0, 0),
    (0, 40, "0", 0, 0, 0),
    (0, 60, "0", 0, 0, 0),
    (0, 80, "0", 0, 0, 0),
    (0, 100, "0", 0, 0, 0),
    (0, 33.3, "0", 0, 0, 0),
    (1, 0, "0", 0, 0, 0),
    (1, 30, "0.3", 0, 0, 1),
    (1, 40, "0.4", 0, 0, 1),
    (1, 60, "0.6", 0, 1, 1),
    (1, 80, "0.8", 0, 1, 1),
    (1, 100, "1", 1, 1, 1),
    (1, 33.3, "0.333", 0, 0, 1),
    (2, 0, "0", 0, 0, 0),
    (2, 30, "0.6", 0, 1, 1),
    (2, 40, "0.8", 0, 1, 1),
    (2, 60, "1.2", 1, 1, 2),
    (2, 80, "1.6", 1, 2, 2),
    (2, 100, "2", 2, 2, 2),
    (2, 33.3, "0.666", 0, 1, 1),
    (3, 0, "0", 0, 0, 0),
    (3, 30, "0.9", 0, 1, 1),
    (3, 40, "1.2", 1, 1, 2),
    (3, 60, "1.8", 1, 2, 2),
    (3, 80, "2.4", 2, 2, 3),
    (3, 100, "3", 3, 3, 3),
    (3, 33.3, "0.999", 0, 1, 1),
    (5, 0, "0", 0, 0, 0),
    (5, 30, "1.5", 1, 2, 2),
    (5, 40, "2", 2, 2, 2),
    (5, 60, "3", 3, 3, 3),
    (5, 80, "4", 4, 4, 4),
    (5, 100, "5", 5, 5, 5),
    (5, 33.3, "1.665", 1, 2, 2),
    (6, 0, "0", 0, 0, 0),
    (6, 30, "1.8", 1, 2, 2),
    (6, 40, "2.4", 2, 2, 3),
    (6, 60, "3.6", 3, 4, 4),
    (6, 80, "4.8", 4, 5, 5),
    (6, 100, "6", 6, 6, 6),
    (6, 33.3, "1.998", 1, 2, 2),
    (10, 0, "0", 0, 0, 0),
    (10, 30, "3", 3, 3, 3),
    (10, 40, "4", 4, 4, 4),
    (10, 60, "6", 6, 6, 6),
    (10, 80, "8", 8, 8, 8),
    (10, 100, "10", 10, 10, 10),
    (10, 33.3, "3.33", 3, 3, 4),
]

SHARE_CASES = [
    pytest.param(
        count,
        percent,
        rounding,
        expected,
        id=f"{percent}%_of_{count}={exact}_{rounding.value}->{expected}",
    )
    for count, percent, exact, down, nearest, up in SHARE_TABLE
    for rounding, expected in ((DOWN, down), (NEAREST, nearest), (UP, up))
]


@pytest.mark.parametrize(("count", "percent", "rounding", "expected"), SHARE_CASES)
def test_share_of_table(count: int, percent: float, rounding: Rounding, expected: int) -> None:
    assert share_of(count, percent, rounding) == expected


@pytest.mark.parametrize(
    ("count", "percent", "rounding", "expected"),
    [
        # float arithmetic would make these 1.9999… / 2.0000…1; a whole share is exact
        pytest.param(5, 40.0, DOWN, 2, id="40%_of_5_down_is_exactly_2_not_1"),
        pytest.param(5, 40.0, UP, 2, id="40%_of_5_up_is_exactly_2_not_3"),
        pytest.param(10, 70.0, DOWN, 7, id="70%_of_10_down_is_exactly_7"),
        pytest.param(10, 70.0, UP, 7, id="70%_of_10_up_is_exactly_7_not_8"),
        pytest.param(3, 100 / 3, DOWN, 1, id="a_third_of_3_down_is_1"),
        pytest.param(3, 100 / 3, UP, 1, id="a_third_of_3_up_is_1_not_2"),
        pytest.param(6, 100 / 3, DOWN, 2, id="a_third_of_6_down_is_2"),
        pytest.param(7, 20.0, DOWN, 1, id="20%_of_7_is_1.4_down_1"),
        pytest.param(7, 20.0, UP, 2, id="20%_of_7_is_1.4_up_2"),
        pytest.param(3, 50.0, NEAREST, 2, id="nearest_rounds_half_up_1.5->2"),
        pytest.param(1, 50.0, NEAREST, 1, id="nearest_rounds_half_up_0.5->1"),
        pytest.param(5, 10.0, NEAREST, 1, id="nearest_rounds_half_up_0.5_of_5->1"),
        pytest.param(1, 0.5, UP, 1, id="up_rounds_any_fraction_0.005->1"),
        pytest.param(1, 0.5, NEAREST, 0, id="nearest_0.005->0"),
        pytest.param(1000, 0.1, DOWN, 1, id="0.1%_of_1000_is_1"),
        pytest.param(4, 150.0, UP, 4, id="over_100%_never_above_the_count"),
        pytest.param(4, 100.0, UP, 4, id="100%_up_is_the_count"),
        pytest.param(-3, 40.0, UP, 0, id="negative_count_is_0"),
    ],
)
def test_share_of_edges(count: int, percent: float, rounding: Rounding, expected: int) -> None:
    assert share_of(count, percent, rounding) == expected


@pytest.mark.parametrize("rounding", list(Rounding), ids=lambda r: r.value)
@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 6, 10, 37])
@pytest.mark.parametrize("percent", [0, 12.5, 33.3, 40, 66.7, 99.9, 100, 250])
def test_share_of_never_above_the_count_nor_below_0(
    count: int, percent: float, rounding: Rounding
) -> None:
    assert 0 <= share_of(count, percent, rounding) <= count


@pytest.mark.parametrize("count", [1, 2, 3, 5, 6, 10, 37])
@pytest.mark.parametrize("percent", [12.5, 33.3, 40, 66.7])
def test_share_of_down_never_exceeds_the_percent_and_up_never_falls_short(
    count: int, percent: float
) -> None:
    down, up = share_of(count, percent, DOWN), share_of(count, percent, UP)
    assert down * 100 <= count * percent + 1e-9
    assert up * 100 >= count * percent - 1e-9
    assert up - down in (0, 1)


# ---------------------------------------------------------------------------
# good_quota, Quota.left, rating_allowed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cadres", "used", "percent", "limit", "left"),
    [
        pytest.param(1, 0, 40.0, 0, 0, id="unit_of_1_under_40%_limit_0"),
        pytest.param(2, 0, 40.0, 0, 0, id="unit_of_2_under_40%_limit_0"),
        pytest.param(3, 0, 40.0, 1, 1, id="unit_of_3_under_40%_limit_1"),
        pytest.param(3, 1, 40.0, 1, 0, id="unit_of_3_one_used_none_left"),
        pytest.param(5, 0, 40.0, 2, 2, id="unit_of_5_under_40%_limit_exactly_2"),
        pytest.param(6, 0, 40.0, 2, 2, id="unit_of_6_under_40%_limit_2"),
        pytest.param(6, 1, 40.0, 2, 1, id="unit_of_6_one_used_one_left"),
        pytest.param(6, 2, 40.0, 2, 0, id="unit_of_6_two_used_none_left"),
        pytest.param(6, 3, 40.0, 2, 0, id="over_the_limit_left_is_0_not_negative"),
        pytest.param(10, 0, 40.0, 4, 4, id="unit_of_10_under_40%_limit_4"),
        pytest.param(6, 0, 0.0, 0, 0, id="cap_0%_limit_0"),
        pytest.param(6, 0, 100.0, 6, 6, id="cap_100%_everyone"),
        pytest.param(5, 0, 60.0, 3, 3, id="top_unit_60%_of_5_is_3"),
        pytest.param(5, 0, 80.0, 4, 4, id="top_unit_80%_of_5_is_4"),
        pytest.param(0, 0, 40.0, 0, 0, id="empty_unit_limit_0"),
    ],
)
def test_good_quota_limit_and_left(
    cadres: int, used: int, percent: float, limit: int, left: int
) -> None:
    quota = good_quota(cadres, used, percent, DOWN)
    assert (quota.cadres, quota.used, quota.percent) == (cadres, used, percent)
    assert quota.limit == limit
    assert quota.left == left
    assert quota.overridden is False


def test_good_quota_follows_the_rounding() -> None:
    assert good_quota(6, 0, 40.0, UP).limit == 3
    assert good_quota(6, 0, 40.0, NEAREST).limit == 2
    assert good_quota(2, 0, 40.0, NEAREST).limit == 1


def test_good_quota_records_a_unit_override() -> None:
    assert good_quota(5, 0, 80.0, DOWN, overridden=True).overridden is True


ALL_RATINGS = list(Rating)


@pytest.mark.parametrize(
    ("cadres", "used", "percent", "current", "new", "allowed"),
    [
        pytest.param(6, 1, 40.0, None, GOOD, True, id="first_rating_good_with_a_place_left"),
        pytest.param(6, 1, 40.0, FAIR, GOOD, True, id="fair_to_good_with_a_place_left"),
        pytest.param(6, 2, 40.0, None, GOOD, False, id="new_good_at_the_limit_refused"),
        pytest.param(6, 2, 40.0, FAIR, GOOD, False, id="fair_to_good_at_the_limit_refused"),
        pytest.param(6, 2, 40.0, POOR, GOOD, False, id="poor_to_good_at_the_limit_refused"),
        pytest.param(6, 2, 40.0, GOOD, GOOD, True, id="keeping_an_existing_good_at_the_limit"),
        pytest.param(6, 3, 40.0, GOOD, GOOD, True, id="keeping_a_good_even_over_the_limit"),
        pytest.param(6, 2, 40.0, GOOD, FAIR, True, id="good_to_fair_at_the_limit"),
        pytest.param(1, 0, 40.0, None, GOOD, False, id="unit_of_1_no_good_at_all"),
        pytest.param(2, 0, 40.0, None, GOOD, False, id="unit_of_2_no_good_at_all"),
        pytest.param(3, 0, 40.0, None, GOOD, True, id="unit_of_3_first_good"),
        pytest.param(3, 1, 40.0, None, GOOD, False, id="unit_of_3_second_good_refused"),
        pytest.param(6, 0, 0.0, None, GOOD, False, id="cap_0%_refuses_every_new_good"),
        pytest.param(6, 5, 100.0, None, GOOD, True, id="cap_100%_allows_the_last_cadre"),
        pytest.param(6, 6, 100.0, FAIR, GOOD, False, id="cap_100%_full_when_all_used"),
    ],
)
def test_rating_allowed(
    cadres: int, used: int, percent: float, current: Rating | None, new: Rating, allowed: bool
) -> None:
    assert rating_allowed(good_quota(cadres, used, percent, DOWN), current, new) is allowed


@pytest.mark.parametrize("new", [FAIR, AVERAGE, POOR], ids=lambda r: f"new_{r.value}")
@pytest.mark.parametrize("current", [None, *ALL_RATINGS], ids=lambda r: f"from_{r}")
@pytest.mark.parametrize("percent", [0.0, 40.0], ids=["cap_0%", "cap_40%_full"])
def test_any_non_good_rating_is_always_allowed(
    percent: float, current: Rating | None, new: Rating
) -> None:
    full = good_quota(1, 5, percent, DOWN)
    assert full.left == 0
    assert rating_allowed(full, current, new) is True


def test_changing_good_to_fair_frees_a_place_for_another_good() -> None:
    at_limit = good_quota(6, 2, 40.0, DOWN)
    assert rating_allowed(at_limit, None, GOOD) is False
    assert rating_allowed(at_limit, GOOD, FAIR) is True
    after = good_quota(6, 1, 40.0, DOWN)  # the fair no longer counts
    assert after.left == 1
    assert rating_allowed(after, None, GOOD) is True


# ---------------------------------------------------------------------------
# parse_rating, leading_rating
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        pytest.param("好", GOOD, id="好"),
        pytest.param("较好", FAIR, id="较好"),
        pytest.param("一般", AVERAGE, id="一般"),
        pytest.param("差", POOR, id="差"),
        pytest.param(" 好 ", GOOD, id="spaces_around"),
        pytest.param("较好\n", FAIR, id="newline_after"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="blank"),
        pytest.param("很好", None, id="其他词_很好"),
        pytest.param("好。", None, id="word_with_punctuation_is_not_a_word"),
        pytest.param("good", None, id="english_value_is_not_a_word"),
        pytest.param("较", None, id="half_a_word"),
    ],
)
def test_parse_rating(word: str, expected: Rating | None) -> None:
    assert parse_rating(word) is expected


@pytest.mark.parametrize("rating", ALL_RATINGS, ids=lambda r: r.value)
def test_parse_rating_reads_each_rating_word(rating: Rating) -> None:
    assert parse_rating(rating.word) is rating


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("好", GOOD, id="好_alone"),
        pytest.param("较好", FAIR, id="较好_alone_not_read_as_好"),
        pytest.param("一般", AVERAGE, id="一般_alone"),
        pytest.param("差", POOR, id="差_alone"),
        pytest.param("好。该同志工作扎实", GOOD, id="好_then_text"),
        pytest.param("较好。该同志…", FAIR, id="较好_then_text_not_好"),
        pytest.param("一般，有待提高", AVERAGE, id="一般_then_text"),
        pytest.param("差，多次未记录", POOR, id="差_then_text"),
        pytest.param("自评：好", GOOD, id="自评：_好"),
        pytest.param("自评：较好", FAIR, id="自评：_较好"),
        pytest.param("自评:一般", AVERAGE, id="自评_ascii_colon_一般"),
        pytest.param("自评， 差", POOR, id="自评_comma_space_差"),
        pytest.param("自评好", GOOD, id="自评_without_colon_好"),
        pytest.param("评鉴：较好", FAIR, id="评鉴：_较好"),
        pytest.param("评鉴: 好", GOOD, id="评鉴_ascii_colon_space_好"),
        pytest.param("  自评：好  ", GOOD, id="spaces_around_the_whole_text"),
        pytest.param("\n较好\n工作扎实", FAIR, id="leading_newline"),
        pytest.param("工作较好", None, id="rating_word_not_at_the_start"),
        pytest.param("自评：工作扎实", None, id="自评_without_a_rating"),
        pytest.param("本季度完成任务", None, id="no_rating_word"),
        pytest.param("自评：", None, id="prefix_only"),
        pytest.param("：", None, id="colon_only"),
        pytest.param("好的，本季度完成招商任务", None, id="好的_is_no_rating"),
        pytest.param("一般来说工作较扎实", None, id="一般来说_is_no_rating"),
        pytest.param("差不多完成了全年任务", None, id="差不多_is_no_rating"),
        pytest.param("好好学习，天天向上", None, id="好好_is_no_rating"),
        pytest.param("领导评鉴：较好。该同志…", FAIR, id="领导评鉴_prefix"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="blank"),
        pytest.param(None, None, id="None"),
    ],
)
def test_leading_rating(text: str | None, expected: Rating | None) -> None:
    assert leading_rating(text) is expected


# ---------------------------------------------------------------------------
# valid_cap_percent
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "valid"),
    [
        pytest.param(-1, False, id="-1"),
        pytest.param(-0.1, False, id="-0.1"),
        pytest.param(0, True, id="0"),
        pytest.param(0.0, True, id="0.0"),
        pytest.param(40, True, id="40"),
        pytest.param(33.3, True, id="33.3"),
        pytest.param(100, True, id="100"),
        pytest.param(100.1, False, id="100.1"),
        pytest.param(math.nan, False, id="nan"),
        pytest.param(math.inf, False, id="inf"),
        pytest.param(-math.inf, False, id="-inf"),
    ],
)
def test_valid_cap_percent(percent: float, valid: bool) -> None:
    assert valid_cap_percent(percent) is valid


# ---------------------------------------------------------------------------
# rating_points
# ---------------------------------------------------------------------------

MIXED = replace(RULES, weight_self=0.3, weight_department=0.3, weight_leader=0.4)  # 002


def quarter(
    rating: Rating | None = None,
    completeness: float | None = 1.0,
    *,
    q: int = 1,
    positive: int = 0,
    negative: int = 0,
    self_rating: Rating | None = None,
    leader_rating: Rating | None = None,
) -> QuarterFacts:
    return QuarterFacts(q, completeness, positive, negative, rating, self_rating, leader_rating)


@pytest.mark.parametrize(
    ("facts", "rules", "expected"),
    [
        pytest.param(quarter(GOOD), RULES, 95.0, id="default_department_only_好_95"),
        pytest.param(quarter(FAIR), RULES, 85.0, id="default_department_only_较好_85"),
        pytest.param(quarter(AVERAGE), RULES, 75.0, id="default_department_only_一般_75"),
        pytest.param(quarter(POOR), RULES, 60.0, id="default_department_only_差_60"),
        pytest.param(
            quarter(FAIR, self_rating=GOOD, leader_rating=GOOD),
            RULES,
            85.0,
            id="default_weights_ignore_self_and_leader",
        ),
        pytest.param(
            quarter(FAIR, self_rating=GOOD, leader_rating=AVERAGE),
            MIXED,
            84.0,  # 0.3·95 + 0.3·85 + 0.4·75
            id="30_30_40_all_present",
        ),
        pytest.param(
            quarter(GOOD, self_rating=GOOD, leader_rating=GOOD),
            MIXED,
            95.0,
            id="30_30_40_all_好_is_95",
        ),
        pytest.param(
            quarter(FAIR, self_rating=GOOD),
            MIXED,
            90.0,  # (0.3·95 + 0.3·85) / 0.6
            id="30_30_40_leader_missing_redistributes",
        ),
        pytest.param(
            quarter(POOR, leader_rating=GOOD),
            MIXED,
            80.0,  # (0.3·60 + 0.4·95) / 0.7 = 56 / 0.7
            id="30_30_40_self_missing_redistributes",
        ),
        pytest.param(quarter(AVERAGE), MIXED, 75.0, id="30_30_40_only_department"),
        pytest.param(
            quarter(None, self_rating=GOOD, leader_rating=GOOD),
            MIXED,
            None,
            id="30_30_40_no_department_rating_is_None",
        ),
        pytest.param(quarter(None), RULES, None, id="default_no_rating_is_None"),
    ],
)
def test_rating_points(facts: QuarterFacts, rules: ScoringRules, expected: float | None) -> None:
    points = rating_points(facts, rules)
    if expected is None:
        assert points is None
    else:
        assert points == pytest.approx(expected, abs=1e-9)


def test_rating_points_use_the_configured_points() -> None:
    rules = replace(RULES, rating_points={GOOD: 100.0, FAIR: 80.0, AVERAGE: 50.0, POOR: 0.0})
    assert [rating_points(quarter(r), rules) for r in ALL_RATINGS] == [100.0, 80.0, 50.0, 0.0]


# ---------------------------------------------------------------------------
# comment_points
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positive", "negative", "expected"),
    [
        pytest.param(0, 0, 0.0, id="none"),
        pytest.param(1, 0, 1.0, id="one_positive_plus_1"),
        pytest.param(4, 0, 4.0, id="four_positive_plus_4"),
        pytest.param(5, 0, 5.0, id="five_positive_reach_the_cap_5"),
        pytest.param(9, 0, 5.0, id="nine_positive_capped_at_5"),
        pytest.param(0, 1, -2.0, id="one_negative_minus_2"),
        pytest.param(0, 4, -8.0, id="four_negative_minus_8"),
        pytest.param(0, 5, -10.0, id="five_negative_reach_the_cap_10"),
        pytest.param(0, 8, -10.0, id="eight_negative_capped_at_10"),
        pytest.param(3, 2, -1.0, id="three_positive_two_negative"),
        pytest.param(9, 8, -5.0, id="both_capped_5_minus_10"),
    ],
)
def test_comment_points_default_caps(positive: int, negative: int, expected: float) -> None:
    assert comment_points(positive, negative, RULES) == expected


def test_comment_points_configured() -> None:
    rules = replace(
        RULES,
        positive_comment_points=0.5,
        positive_comment_cap=2.0,
        negative_comment_points=3.0,
        negative_comment_cap=4.0,
    )
    assert comment_points(3, 0, rules) == 1.5
    assert comment_points(5, 0, rules) == 2.0
    assert comment_points(0, 1, rules) == -3.0
    assert comment_points(0, 2, rules) == -4.0


# ---------------------------------------------------------------------------
# quarter_score
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(quarter(GOOD, 1.0), 96.5, id="好_100%_is_0.7x95+0.3x100=96.5"),
        pytest.param(quarter(GOOD, 0.8), 90.5, id="好_80%_is_66.5+24=90.5"),
        pytest.param(quarter(GOOD, 0.0), 66.5, id="好_0%_is_66.5"),
        pytest.param(quarter(FAIR, 1.0), 89.5, id="较好_100%_is_89.5"),
        pytest.param(quarter(FAIR, 0.5), 74.5, id="较好_50%_is_74.5"),
        pytest.param(quarter(AVERAGE, 1.0), 82.5, id="一般_100%_is_82.5"),
        pytest.param(quarter(POOR, 1.0), 72.0, id="差_100%_is_72"),
        pytest.param(quarter(POOR, 0.0), 42.0, id="差_0%_is_42"),
        pytest.param(quarter(GOOD, 0.333), 76.5, id="one_decimal_好_33.3%_is_76.49->76.5"),
        pytest.param(
            quarter(GOOD, None), 96.5, id="completeness_None_all_days_excused_counts_as_complete"
        ),
        pytest.param(
            quarter(POOR, None), 72.0, id="completeness_None_nothing_due_counts_as_complete_差"
        ),
        pytest.param(quarter(GOOD, 0.8, positive=3), 93.5, id="好_80%_plus_3_positive"),
        pytest.param(quarter(GOOD, 0.8, positive=20), 95.5, id="好_80%_positive_capped_+5"),
        pytest.param(quarter(GOOD, 1.0, positive=5), 100.0, id="clamped_at_100_not_101.5"),
        pytest.param(quarter(AVERAGE, 1.0, negative=2), 78.5, id="一般_100%_minus_2_negative"),
        pytest.param(quarter(POOR, 0.0, negative=30), 32.0, id="差_0%_negative_capped_-10"),
        pytest.param(quarter(None, 1.0), None, id="not_rated_is_None"),
        pytest.param(
            quarter(None, 1.0, self_rating=GOOD, leader_rating=GOOD),
            None,
            id="self_and_leader_without_department_is_None",
        ),
    ],
)
def test_quarter_score_with_defaults(facts: QuarterFacts, expected: float | None) -> None:
    assert quarter_score(facts, RULES) == expected


def test_quarter_score_clamped_at_0() -> None:
    rules = replace(RULES, rating_points={GOOD: 95.0, FAIR: 85.0, AVERAGE: 75.0, POOR: 0.0})
    assert quarter_score(quarter(POOR, 0.0, negative=5), rules) == 0.0


def test_quarter_score_completeness_0_is_not_treated_as_missing() -> None:
    assert quarter_score(quarter(GOOD, 0.0), RULES) == 66.5
    assert quarter_score(quarter(GOOD, 0.0), RULES) != quarter_score(quarter(GOOD, None), RULES)


def test_quarter_score_weights_are_normalised() -> None:
    scaled = replace(RULES, weight_rating=7.0, weight_completeness=3.0)
    assert quarter_score(quarter(GOOD, 0.8), scaled) == 90.5


def test_quarter_score_completeness_weight_0_is_the_rating_points() -> None:
    rules = replace(RULES, weight_rating=1.0, weight_completeness=0.0)
    assert quarter_score(quarter(FAIR, 0.0), rules) == 85.0


def test_quarter_score_with_30_30_40_mix() -> None:
    # rating points 84 (see test_rating_points): 0.7·84 + 0.3·100 = 88.8
    facts = quarter(FAIR, 1.0, self_rating=GOOD, leader_rating=AVERAGE)
    assert quarter_score(facts, MIXED) == 88.8


# ---------------------------------------------------------------------------
# period_score, period_rating
# ---------------------------------------------------------------------------

WEIGHTED = replace(RULES, quarter_weights=(10.0, 20.0, 30.0, 40.0))  # 004
# Quarter scores: 67.5, 89.5, 90.5, 96.5.
YEAR = (
    quarter(AVERAGE, 0.5, q=1),
    quarter(FAIR, 1.0, q=2),
    quarter(GOOD, 0.8, q=3),
    quarter(GOOD, 1.0, q=4),
)
YEAR_Q4_UNRATED = (*YEAR[:3], quarter(None, 1.0, q=4))


@pytest.mark.parametrize(
    ("quarters", "rules", "expected"),
    [
        pytest.param(YEAR, RULES, 86.0, id="equal_weights_mean_344/4=86.0"),
        pytest.param(YEAR, WEIGHTED, 90.4, id="10_20_30_40_weights_9040/100=90.4"),
        pytest.param(YEAR_Q4_UNRATED, RULES, 82.5, id="equal_weights_unrated_Q4_drops_out_247.5/3"),
        pytest.param(
            YEAR_Q4_UNRATED, WEIGHTED, 86.3, id="10_20_30_40_unrated_Q4_drops_out_5180/60"
        ),
        pytest.param(YEAR[:1], WEIGHTED, 67.5, id="only_Q1_rated_is_Q1s_score"),
        pytest.param(YEAR[3:], RULES, 96.5, id="only_Q4_given_is_Q4s_score"),
        pytest.param(tuple(reversed(YEAR)), WEIGHTED, 90.4, id="order_of_quarters_irrelevant"),
        pytest.param(
            YEAR, replace(RULES, quarter_weights=(0.0, 1.0, 1.0, 1.0)), 92.2, id="weight_0_drops_Q1"
        ),
        pytest.param(
            (quarter(None, q=1), quarter(None, q=2)), RULES, None, id="nothing_rated_is_None"
        ),
        pytest.param((), RULES, None, id="no_quarters_is_None"),
        pytest.param(
            YEAR[:1], replace(RULES, quarter_weights=(0.0, 1.0, 1.0, 1.0)), None, id="only_weight_0"
        ),
    ],
)
def test_period_score(
    quarters: tuple[QuarterFacts, ...], rules: ScoringRules, expected: float | None
) -> None:
    assert period_score(quarters, rules) == expected


@pytest.mark.parametrize(
    ("quarters", "expected"),
    [
        pytest.param(YEAR, GOOD, id="latest_quarter_Q4"),
        pytest.param(tuple(reversed(YEAR)), GOOD, id="latest_by_quarter_number_not_order"),
        pytest.param(YEAR_Q4_UNRATED, GOOD, id="Q4_unrated_Q3_decides"),
        pytest.param(YEAR[:2], FAIR, id="Q2_latest_rated"),
        pytest.param(
            (quarter(GOOD, q=1), quarter(GOOD, q=2), quarter(POOR, q=3)),
            POOR,
            id="earlier_好_then_差_is_差",
        ),
        pytest.param(
            (quarter(POOR, q=3), quarter(FAIR, q=1)), POOR, id="unordered_Q3_差_beats_Q1_较好"
        ),
        pytest.param((quarter(None, q=1),), None, id="nothing_rated_is_None"),
        pytest.param((), None, id="no_quarters_is_None"),
    ],
)
def test_period_rating_is_the_latest_rated_quarter(
    quarters: tuple[QuarterFacts, ...], expected: Rating | None
) -> None:
    assert period_rating(quarters) is expected


# ---------------------------------------------------------------------------
# grade_unit
# ---------------------------------------------------------------------------


def cadre(
    pid: int,
    rating: Rating | None,
    completeness: float | None = 1.0,
    *,
    positive: int = 0,
    missing: int = 0,
) -> CadreFacts:
    """A cadre with one quarter (Q1); defaults: 好 100 % = 96.5, 好 80 % = 90.5."""
    return CadreFacts(pid, 1, (quarter(rating, completeness, positive=positive),), missing)


def fixed_score(score: float) -> ScoringRules:
    """Rules where every rating scores exactly `score` (completeness does not count)."""
    return replace(
        RULES,
        weight_rating=1.0,
        weight_completeness=0.0,
        rating_points=dict.fromkeys(Rating, score),
    )


def codes(result: GradeResult) -> list[str]:
    return [reason.code for reason in result.reasons]


def reason(result: GradeResult, code: str) -> dict[str, object]:
    (found,) = [r for r in result.reasons if r.code == code]
    return dict(found.values)


def grades(results: dict[int, GradeResult]) -> dict[int, Grade | None]:
    return {pid: result.grade for pid, result in sorted(results.items())}


def test_grade_unit_a_good_with_a_top_score_is_excellent_with_its_reasons() -> None:
    results = grade_unit([cadre(pid, GOOD) for pid in range(1, 6)], RULES)
    first = results[1]
    assert (first.score, first.rating, first.grade) == (96.5, GOOD, Grade.EXCELLENT)
    assert codes(first) == ["score_band", "excellent"]
    assert reason(first, "score_band") == {
        "score": 96.5,
        "grade": "称职",
        "competent": 70.0,
        "basic": 60.0,
    }
    assert reason(first, "excellent") == {"score": 96.5, "min": 90.0, "place": 1, "places": 1}


def test_grade_unit_fair_with_top_score_is_competent_because_excellent_needs_good() -> None:
    results = grade_unit(
        [cadre(1, FAIR, positive=5), *(cadre(p, AVERAGE) for p in (2, 3, 4, 5))], RULES
    )
    fair = results[1]
    assert (fair.score, fair.rating, fair.grade) == (94.5, FAIR, Grade.COMPETENT)
    assert codes(fair) == ["score_band", "excellent_needs_good"]
    assert reason(fair, "excellent_needs_good") == {"rating": "较好"}


def test_grade_unit_only_good_can_be_excellent_even_with_places_left() -> None:
    # 100 % share: every place is free, yet 较好 / 一般 at 100 points stay 称职
    rules = fixed_score(100.0)
    cadres = [cadre(1, GOOD), cadre(2, FAIR), cadre(3, AVERAGE)]
    results = grade_unit(cadres, rules, excellent_cap_percent=100.0)
    assert grades(results) == {1: Grade.EXCELLENT, 2: Grade.COMPETENT, 3: Grade.COMPETENT}
    assert reason(results[2], "excellent_needs_good") == {"rating": "较好"}
    assert reason(results[3], "excellent_needs_good") == {"rating": "一般"}


def test_grade_unit_good_below_the_excellent_score_is_competent_without_excellent_reasons() -> None:
    results = grade_unit([cadre(1, GOOD, 0.7), *(cadre(p, GOOD) for p in (2, 3, 4, 5))], RULES)
    assert (results[1].score, results[1].grade) == (87.5, Grade.COMPETENT)
    assert codes(results[1]) == ["score_band"]


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        pytest.param(89.9, Grade.COMPETENT, id="好_89.9_below_excellent_min_称职"),
        pytest.param(90.0, Grade.EXCELLENT, id="好_exactly_90_is_优秀"),
    ],
)
def test_grade_unit_excellent_min_score_edge(score: float, grade: Grade) -> None:
    results = grade_unit([cadre(p, GOOD) for p in range(1, 6)], fixed_score(score))
    assert results[1].grade is grade


@pytest.mark.parametrize(
    ("size", "places"),
    [
        pytest.param(1, 0, id="unit_of_1_gets_0_places"),
        pytest.param(4, 0, id="unit_of_4_gets_0_places"),
        pytest.param(5, 1, id="unit_of_5_gets_1_place"),
        pytest.param(9, 1, id="unit_of_9_gets_1_place"),
        pytest.param(10, 2, id="unit_of_10_gets_2_places"),
        pytest.param(15, 3, id="unit_of_15_gets_3_places"),
    ],
)
def test_grade_unit_excellent_share_20_percent_rounded_down(size: int, places: int) -> None:
    # everyone 好 96.5, listed in reverse: ties go to the lowest person ids
    results = grade_unit([cadre(pid, GOOD) for pid in range(size, 0, -1)], RULES)
    excellent = sorted(pid for pid, r in results.items() if r.grade is Grade.EXCELLENT)
    assert excellent == list(range(1, places + 1))
    for pid in range(places + 1, size + 1):
        assert results[pid].grade is Grade.COMPETENT
        assert codes(results[pid]) == ["score_band", "excellent_share_full"]
        assert reason(results[pid], "excellent_share_full") == {"places": places, "graded": size}
    for place, pid in enumerate(excellent, start=1):
        assert reason(results[pid], "excellent")["place"] == place


def test_grade_unit_excellent_goes_best_score_first_then_lowest_id() -> None:
    cadres = [
        cadre(1, GOOD, 0.8),  # 90.5
        cadre(2, GOOD, 0.8),  # 90.5, loses the tie to 1
        cadre(3, GOOD),  # 96.5, best
        cadre(4, FAIR, positive=5),  # 94.5 but 较好
        cadre(5, GOOD, 0.7),  # 87.5, below 90
        *(cadre(pid, AVERAGE) for pid in range(6, 11)),  # 82.5
    ]
    results = grade_unit(cadres, RULES)  # 10 graded → 2 places
    assert grades(results) == {
        1: Grade.EXCELLENT,
        2: Grade.COMPETENT,
        3: Grade.EXCELLENT,
        4: Grade.COMPETENT,
        5: Grade.COMPETENT,
        **dict.fromkeys(range(6, 11), Grade.COMPETENT),
    }
    assert reason(results[3], "excellent")["place"] == 1
    assert reason(results[1], "excellent")["place"] == 2
    assert reason(results[2], "excellent_share_full") == {"places": 2, "graded": 10}
    assert codes(results[4]) == ["score_band", "excellent_needs_good"]
    assert codes(results[5]) == ["score_band"]
    assert codes(results[6]) == ["score_band"]


def test_grade_unit_unrated_cadre_gets_no_grade_and_not_rated() -> None:
    results = grade_unit([cadre(1, None), cadre(2, GOOD)], RULES)
    assert results[1] == GradeResult(1, None, None, None, (Reason("not_rated"),))
    assert results[2].grade is Grade.COMPETENT


def test_grade_unit_share_counts_every_cadre_of_the_unit_rated_or_not() -> None:
    # like the 好 quota: 4 rated + 1 unrated is a unit of 5, so 1 place
    four_and_one_unrated = [*(cadre(p, GOOD) for p in range(1, 5)), cadre(5, None)]
    results = grade_unit(four_and_one_unrated, RULES)
    assert grades(results) == {
        1: Grade.EXCELLENT,
        **dict.fromkeys((2, 3, 4), Grade.COMPETENT),
        5: None,
    }
    assert reason(results[1], "excellent") == {"score": 96.5, "min": 90.0, "place": 1, "places": 1}
    assert reason(results[2], "excellent_share_full") == {"places": 1, "graded": 5}
    three_and_one_unrated = [*(cadre(p, GOOD) for p in range(1, 4)), cadre(4, None)]
    results = grade_unit(three_and_one_unrated, RULES)
    assert reason(results[1], "excellent_share_full") == {"places": 0, "graded": 4}


def test_grade_unit_empty_unit() -> None:
    assert grade_unit([], RULES) == {}


@pytest.mark.parametrize(
    ("days", "grade", "capped"),
    [
        pytest.param(0, Grade.COMPETENT, False, id="no_missing_days_称职"),
        pytest.param(5, Grade.COMPETENT, False, id="exactly_at_the_limit_5_not_capped"),
        pytest.param(6, Grade.BASIC, True, id="6_days_over_the_limit_capped_基本称职"),
        pytest.param(40, Grade.BASIC, True, id="40_days_capped_基本称职"),
    ],
)
def test_grade_unit_missing_days_ceiling(days: int, grade: Grade, capped: bool) -> None:
    results = grade_unit([cadre(1, AVERAGE, missing=days)], RULES)  # 82.5
    assert results[1].grade is grade
    if capped:
        assert codes(results[1]) == ["score_band", "missing_days_ceiling"]
        assert reason(results[1], "missing_days_ceiling") == {"days": days, "limit": 5}
    else:
        assert codes(results[1]) == ["score_band"]


def test_grade_unit_missing_days_ceiling_does_not_raise_an_incompetent() -> None:
    results = grade_unit([cadre(1, POOR, 0.0, missing=6)], RULES)  # 42
    assert results[1].grade is Grade.INCOMPETENT
    assert codes(results[1]) == ["score_band", "missing_days_ceiling"]


def test_grade_unit_missing_days_limit_0_caps_from_the_first_day() -> None:
    rules = replace(RULES, missing_days_limit=0)
    assert grade_unit([cadre(1, AVERAGE, missing=0)], rules)[1].grade is Grade.COMPETENT
    assert grade_unit([cadre(1, AVERAGE, missing=1)], rules)[1].grade is Grade.BASIC


def test_grade_unit_missing_days_on_an_unrated_cadre_keep_grade_none_with_the_reason() -> None:
    result = grade_unit([cadre(1, None, missing=9)], RULES)[1]
    assert result.grade is None
    assert codes(result) == ["not_rated", "missing_days_ceiling"]


def test_grade_unit_good_with_missing_days_ceiling_cannot_take_an_excellent_place() -> None:
    cadres = [
        cadre(1, GOOD, missing=6),  # 96.5, the best score, but capped
        cadre(2, GOOD, 0.8),  # 90.5
        *(cadre(pid, AVERAGE) for pid in (3, 4, 5)),
    ]
    results = grade_unit(cadres, RULES)  # 5 graded → 1 place, and 2 gets it
    assert (results[1].score, results[1].grade) == (96.5, Grade.BASIC)
    assert codes(results[1]) == ["score_band", "missing_days_ceiling"]
    assert results[2].grade is Grade.EXCELLENT
    assert reason(results[2], "excellent") == {"score": 90.5, "min": 90.0, "place": 1, "places": 1}


def test_grade_unit_good_exactly_at_the_missing_days_limit_can_be_excellent() -> None:
    cadres = [cadre(1, GOOD, missing=5), *(cadre(pid, AVERAGE) for pid in (2, 3, 4, 5))]
    assert grade_unit(cadres, RULES)[1].grade is Grade.EXCELLENT


@pytest.mark.parametrize(
    ("completeness", "score", "grade", "ceiling_reason"),
    [
        pytest.param(1.0, 72.0, Grade.BASIC, True, id="差_72_would_be_称职_capped_基本称职"),
        pytest.param(0.6, 60.0, Grade.BASIC, False, id="差_60_already_基本称职_no_ceiling_reason"),
        pytest.param(0.0, 42.0, Grade.INCOMPETENT, False, id="差_42_stays_不称职"),
    ],
)
def test_grade_unit_poor_rating_caps_at_basic(
    completeness: float, score: float, grade: Grade, ceiling_reason: bool
) -> None:
    result = grade_unit([cadre(1, POOR, completeness)], RULES)[1]
    assert (result.score, result.rating, result.grade) == (score, POOR, grade)
    expected = ["score_band", "poor_rating_ceiling"] if ceiling_reason else ["score_band"]
    assert codes(result) == expected


def test_grade_unit_poor_ceiling_uses_the_latest_rated_quarter() -> None:
    poor_last = CadreFacts(1, 1, (quarter(GOOD, q=1), quarter(GOOD, q=2), quarter(POOR, q=3)))
    good_last = CadreFacts(2, 1, (quarter(POOR, q=1), quarter(GOOD, q=2), quarter(GOOD, q=3)))
    results = grade_unit([poor_last, good_last], RULES)
    assert (results[1].rating, results[1].grade) == (POOR, Grade.BASIC)  # 88.3 → capped
    assert results[1].score == 88.3
    assert "poor_rating_ceiling" in codes(results[1])
    assert (results[2].rating, results[2].grade) == (GOOD, Grade.COMPETENT)  # 88.3, < 90


def test_grade_unit_poor_with_a_top_score_needs_good_and_is_capped() -> None:
    result = grade_unit([cadre(1, POOR)], fixed_score(95.0), excellent_cap_percent=100.0)[1]
    assert result.grade is Grade.BASIC
    assert codes(result) == ["score_band", "excellent_needs_good", "poor_rating_ceiling"]
    assert reason(result, "excellent_needs_good") == {"rating": "差"}


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        pytest.param(100.0, Grade.COMPETENT, id="100_较好_称职"),
        pytest.param(89.9, Grade.COMPETENT, id="89.9_称职"),
        pytest.param(70.0, Grade.COMPETENT, id="exactly_70_称职"),
        pytest.param(69.9, Grade.BASIC, id="69.9_基本称职"),
        pytest.param(60.0, Grade.BASIC, id="exactly_60_基本称职"),
        pytest.param(59.9, Grade.INCOMPETENT, id="59.9_不称职"),
        pytest.param(0.0, Grade.INCOMPETENT, id="0_不称职"),
    ],
)
def test_grade_unit_score_bands(score: float, grade: Grade) -> None:
    result = grade_unit([cadre(1, FAIR)], fixed_score(score))[1]
    assert (result.score, result.grade) == (score, grade)
    assert reason(result, "score_band") == {
        "score": score,
        "grade": grade.value,
        "competent": 70.0,
        "basic": 60.0,
    }


def test_grade_unit_score_bands_follow_the_rules() -> None:
    rules = replace(fixed_score(75.0), competent_min_score=80.0, basic_min_score=75.0)
    result = grade_unit([cadre(1, FAIR)], rules)[1]
    assert result.grade is Grade.BASIC
    assert reason(result, "score_band")["competent"] == 80.0


@pytest.mark.parametrize(
    ("size", "override", "places"),
    [
        pytest.param(5, None, 1, id="no_override_20%_of_5_is_1"),
        pytest.param(5, 40.0, 2, id="override_40%_of_5_is_2"),
        pytest.param(5, 0.0, 0, id="override_0%_gives_none"),
        pytest.param(3, 35.0, 1, id="override_20+15%_of_3_is_1"),
        pytest.param(4, 35.0, 1, id="override_35%_of_4_is_1"),
        pytest.param(6, 35.0, 2, id="override_35%_of_6_is_2"),
        pytest.param(5, 100.0, 5, id="override_100%_everyone"),
    ],
)
def test_grade_unit_excellent_cap_percent_override(
    size: int, override: float | None, places: int
) -> None:
    results = grade_unit([cadre(pid, GOOD) for pid in range(1, size + 1)], RULES, override)
    excellent = sorted(pid for pid, r in results.items() if r.grade is Grade.EXCELLENT)
    assert excellent == list(range(1, places + 1))


def test_grade_unit_excellent_share_follows_the_rounding_rule() -> None:
    rules = replace(RULES, rounding=NEAREST)  # 20 % of 4 = 0.8 → 1
    results = grade_unit([cadre(pid, GOOD) for pid in range(1, 5)], rules)
    assert grades(results) == {1: Grade.EXCELLENT, **dict.fromkeys((2, 3, 4), Grade.COMPETENT)}


def test_grade_unit_rules_excellent_cap_percent_is_used_without_override() -> None:
    rules = replace(RULES, excellent_cap_percent=40.0)
    results = grade_unit([cadre(pid, GOOD) for pid in range(1, 6)], rules)
    assert [r.grade for _, r in sorted(results.items())] == [
        Grade.EXCELLENT,
        Grade.EXCELLENT,
        Grade.COMPETENT,
        Grade.COMPETENT,
        Grade.COMPETENT,
    ]


# ---------------------------------------------------------------------------
# rank
# ---------------------------------------------------------------------------

TOP, BOTTOM = Standing.TOP, Standing.BOTTOM


def descending(n: int) -> dict[int, float | None]:
    """Person 1 best … person n worst, all different."""
    return {pid: float(100 - pid) for pid in range(1, n + 1)}


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        pytest.param({1: 80.0}, {1: Rank(1, 1, None)}, id="category_of_1_nobody_flagged"),
        pytest.param(
            descending(3),
            {1: Rank(1, 3, None), 2: Rank(2, 3, None), 3: Rank(3, 3, None)},
            id="category_of_3_30%_is_0.9_nobody_flagged",
        ),
        pytest.param(
            descending(10),
            {
                **{pid: Rank(pid, 10, TOP) for pid in (1, 2, 3)},
                **{pid: Rank(pid, 10, None) for pid in range(4, 10)},
                10: Rank(10, 10, BOTTOM),
            },
            id="category_of_10_top_3_bottom_1",
        ),
        pytest.param(
            descending(11),
            {
                **{pid: Rank(pid, 11, TOP) for pid in (1, 2, 3)},
                **{pid: Rank(pid, 11, None) for pid in range(4, 11)},
                11: Rank(11, 11, BOTTOM),
            },
            id="category_of_11_top_3.3->3_bottom_1.1->1",
        ),
        pytest.param(
            descending(20),
            {
                **{pid: Rank(pid, 20, TOP) for pid in range(1, 7)},
                **{pid: Rank(pid, 20, None) for pid in range(7, 19)},
                19: Rank(19, 20, BOTTOM),
                20: Rank(20, 20, BOTTOM),
            },
            id="category_of_20_top_6_bottom_2",
        ),
        pytest.param({}, {}, id="empty_category"),
        pytest.param({1: None, 2: None}, {}, id="nobody_scored"),
    ],
)
def test_rank_flags_top_30_and_bottom_10_percent_rounded_down(
    scores: dict[int, float | None], expected: dict[int, Rank]
) -> None:
    assert rank(scores, RULES) == expected


def test_rank_ties_share_a_place_inside_the_top() -> None:
    scores = {**descending(10), 2: 99.0}  # 1 and 2 both 99
    ranks = rank(scores, RULES)
    assert ranks[1] == ranks[2] == Rank(1, 10, TOP)
    assert ranks[3] == Rank(3, 10, TOP)
    assert ranks[4] == Rank(4, 10, None)


def test_rank_tie_straddling_the_top_border_is_not_flagged() -> None:
    scores = {**descending(10), 4: 97.0}  # 3 and 4 tie across places 3 / 4
    ranks = rank(scores, RULES)
    assert [ranks[pid] for pid in (1, 2)] == [Rank(1, 10, TOP), Rank(2, 10, TOP)]
    assert ranks[3] == ranks[4] == Rank(3, 10, None)
    assert ranks[5] == Rank(5, 10, None)


def test_rank_tie_straddling_the_bottom_border_is_not_flagged() -> None:
    scores = {**descending(10), 10: 91.0}  # 9 and 10 tie across places 9 / 10
    ranks = rank(scores, RULES)
    assert ranks[9] == ranks[10] == Rank(9, 10, None)
    assert sum(1 for r in ranks.values() if r.standing is BOTTOM) == 0


def test_rank_tie_wholly_inside_the_bottom_is_flagged() -> None:
    scores = {**descending(20), 20: 81.0}  # 19 and 20 tie, bottom share is 2
    ranks = rank(scores, RULES)
    assert ranks[19] == ranks[20] == Rank(19, 20, BOTTOM)
    assert ranks[18] == Rank(18, 20, None)


def test_rank_all_tied_nobody_flagged() -> None:
    assert rank(dict.fromkeys(range(1, 11), 80.0), RULES) == {
        pid: Rank(1, 10, None) for pid in range(1, 11)
    }


def test_rank_unscored_people_are_not_ranked_nor_counted() -> None:
    scores: dict[int, float | None] = {**descending(10), 11: None, 12: None}
    ranks = rank(scores, RULES)
    assert set(ranks) == set(range(1, 11))
    assert {r.of for r in ranks.values()} == {10}
    assert ranks[10] == Rank(10, 10, BOTTOM)


def test_rank_follows_the_configured_shares() -> None:
    rules = replace(RULES, top_percent=50.0, bottom_percent=50.0)
    ranks = rank(descending(4), rules)
    assert [ranks[pid].standing for pid in (1, 2, 3, 4)] == [TOP, TOP, BOTTOM, BOTTOM]


# ---------------------------------------------------------------------------
# [scoring] in the configuration
# ---------------------------------------------------------------------------


def scoring(section: dict[str, object]) -> ScoringRules:
    return config_from_dict({"scoring": section}, env={}).scoring


def test_config_without_scoring_section_is_the_defaults() -> None:
    assert config_from_dict({}, env={}).scoring == ScoringRules()


def test_config_builds_scoring_rules_from_flat_keys() -> None:
    rules = scoring(
        {
            "points_good": 90,
            "points_poor": 50.5,
            "rounding": "nearest",
            "quarter_weights": [10, 20, 30, 40],
            "weight_self": 0.3,
            "weight_department": 0.3,
            "weight_leader": 0.4,
            "good_cap_percent": 60,
            "missing_days_limit": 3,
        }
    )
    assert rules.rating_points == {GOOD: 90.0, FAIR: 85.0, AVERAGE: 75.0, POOR: 50.5}
    assert rules.rounding is NEAREST
    assert rules.quarter_weights == (10.0, 20.0, 30.0, 40.0)
    assert (rules.weight_self, rules.weight_department, rules.weight_leader) == (0.3, 0.3, 0.4)
    assert rules.good_cap_percent == 60.0
    assert isinstance(rules.good_cap_percent, float)
    assert rules.missing_days_limit == 3
    assert rules.excellent_cap_percent == 20.0  # untouched keys keep their defaults


@pytest.mark.parametrize(
    "section",
    [
        pytest.param({"good_cap_percent": 120}, id="good_cap_percent_120"),
        pytest.param({"good_cap_percent": -1}, id="good_cap_percent_negative"),
        pytest.param({"good_cap_percent": math.nan}, id="good_cap_percent_nan"),
        pytest.param({"excellent_cap_percent": 101}, id="excellent_cap_percent_101"),
        pytest.param({"excellent_cap_bonus_percent": -5}, id="excellent_cap_bonus_negative"),
        pytest.param({"top_percent": 150}, id="top_percent_150"),
        pytest.param({"bottom_percent": -10}, id="bottom_percent_negative"),
        pytest.param({"rounding": "sideways"}, id="rounding_sideways"),
        pytest.param({"rounding": "DOWN"}, id="rounding_upper_case"),
        pytest.param({"quarter_weights": [1, 2, 3]}, id="quarter_weights_of_3"),
        pytest.param({"quarter_weights": [1, 2, 3, 4, 5]}, id="quarter_weights_of_5"),
        pytest.param({"quarter_weights": "10,20,30,40"}, id="quarter_weights_a_string"),
        pytest.param({"quarter_weights": [1, 2, "x", 4]}, id="quarter_weights_not_numbers"),
        pytest.param({"quarter_weights": [1, -1, 1, 1]}, id="quarter_weight_negative"),
        pytest.param({"weight_self": -0.1}, id="negative_weight_self"),
        pytest.param({"weight_leader": -0.4}, id="negative_weight_leader"),
        pytest.param({"weight_completeness": -0.3}, id="negative_weight_completeness"),
        pytest.param({"weight_department": 0}, id="weight_department_0"),
        pytest.param(
            {"weight_rating": 0, "weight_completeness": 0}, id="rating_plus_completeness_0"
        ),
        pytest.param({"basic_min_score": 75}, id="basic_above_competent"),
        pytest.param({"competent_min_score": 95}, id="competent_above_excellent"),
        pytest.param({"excellent_min_score": 50}, id="excellent_below_basic"),
        pytest.param({"missing_days_limit": -1}, id="missing_days_limit_negative"),
        pytest.param({"missing_days_limit": 2.5}, id="missing_days_limit_not_integer"),
        pytest.param({"points_good": "high"}, id="points_not_a_number"),
        pytest.param({"points_good": True}, id="points_a_boolean"),
        pytest.param({"points_great": 99}, id="unknown_key_points_great"),
        pytest.param({"rating_points": {"good": 95}}, id="rating_points_is_not_a_file_key"),
        pytest.param({"cap": 40}, id="unknown_key_cap"),
    ],
)
def test_config_refuses_bad_scoring_values(section: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        scoring(section)


@pytest.mark.parametrize(
    "section",
    [
        pytest.param({"good_cap_percent": 0, "excellent_cap_percent": 100}, id="shares_0_and_100"),
        pytest.param({"quarter_weights": [0, 0, 0, 1]}, id="quarter_weights_0_allowed"),
        pytest.param({"weight_rating": 1, "weight_completeness": 0}, id="completeness_weight_0"),
        pytest.param(
            {"basic_min_score": 70, "competent_min_score": 70, "excellent_min_score": 70},
            id="equal_thresholds",
        ),
        pytest.param({"missing_days_limit": 0}, id="missing_days_limit_0"),
    ],
)
def test_config_accepts_edge_scoring_values(section: dict[str, object]) -> None:
    scoring(section)


def example_scoring() -> dict[str, object]:
    return tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))["scoring"]


def test_example_scoring_section_names_every_scoring_rules_field() -> None:
    keys = set(example_scoring())
    points_keys = {"points_good", "points_fair", "points_average", "points_poor"}
    assert points_keys <= keys
    named = (keys - points_keys) | {"rating_points"}
    assert named == {f.name for f in fields(ScoringRules)}


def test_example_scoring_section_is_the_defaults() -> None:
    assert scoring(example_scoring()) == ScoringRules()
