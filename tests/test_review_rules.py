"""Tests for scoring.review: weak-entry flags, repeats, check weights and weighted sampling."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from scoring.review import (
    GENERIC,
    GENERIC_WORDS,
    REPEATED,
    SHORT,
    WEAK_REASONS,
    SampleWeights,
    check_weight,
    entry_weakness,
    normalized,
    repeated_texts,
    weighted_sample,
    weighted_sample_capped,
)

# ---------------------------------------------------------------------------
# entry_weakness
# ---------------------------------------------------------------------------

G, S = GENERIC, SHORT

WEAKNESS_CASES: list[tuple[str, set[str]]] = [
    # bare generic work words: generic and short
    ("开会", {G, S}),
    ("会议", {G, S}),
    ("学习", {G, S}),
    ("值班", {G, S}),
    ("办公", {G, S}),
    ("阅文", {G, S}),
    ("接待", {G, S}),
    ("培训", {G, S}),
    ("写材料", {G, S}),
    ("整理材料", {G, S}),
    ("处理文件", {G, S}),
    ("日常工作", {G, S}),
    ("处理日常事务", {G, S}),
    # numbering and punctuation do not hide a generic item
    ("1. 学习。", {G, S}),
    ("１．开会", {G, S}),
    ("①值班", {G, S}),
    ("（一）阅文", {G, S}),
    ("一、办公", {G, S}),
    ("- 2、写材料！", {G, S}),
    # filler around generic words: time of day, light verbs, particles, counts
    ("今天开会", {G, S}),
    ("上午参加会议", {G, S}),
    ("下午进行学习", {G, S}),
    ("开会、学习等", {G, S}),
    ("学习了", {G, S}),
    ("开会2次", {G, S}),
    ("在办公室值班", {G, S}),
    # long but still says nothing: generic only
    ("今天上午参加会议，下午在办公室处理日常事务、整理材料", {G}),
    ("全天在单位值班，处理文件，阅文，接待，写材料", {G}),
    # one specific word is enough: 会议 alone is generic, 党组会议 is not (still short)
    ("参加党组会议", {S}),
    ("党组会议", {S}),
    ("接待来访群众", {S}),
    ("学习强国", {S}),
    ("起草年度工作总结", {S}),  # 8 characters: short at the default limit
    # specific and long enough: nothing to flag
    ("到XX镇调研乡村振兴项目推进情况，走访农户12户", set()),
    ("参加全县安全生产工作会议并作表态发言", set()),
    ("接待来访群众3人次，登记信访事项2件", set()),
    ("起草2025年度全县经济运行分析报告", set()),
    ("1.陪同市领导调研园区重点企业", set()),
    ("组织学习贯彻党的二十届四中全会精神", set()),
    ("审核城关镇人居环境整治项目资金拨付材料", set()),
    # nothing but punctuation or filler: nothing specific at all
    ("。。。", {G, S}),
    ("", {G, S}),
    ("今天上午", {G, S}),
]


@pytest.mark.parametrize(("text", "expected"), WEAKNESS_CASES)
def test_entry_weakness(text: str, expected: set[str]) -> None:
    assert entry_weakness(text, repeated=False) == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("开会", {G, S, REPEATED}),
        ("到XX镇调研乡村振兴项目推进情况，走访农户12户", {REPEATED}),
    ],
)
def test_repeated_is_passed_through(text: str, expected: set[str]) -> None:
    assert entry_weakness(text, repeated=True) == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "short_chars", "short"),
    [
        ("起草年度工作总结", 8, True),  # exactly the limit counts as short
        ("起草年度工作总结", 7, False),
        ("起草年度工作总结报告", 8, False),
        ("1. 走访企业！", 4, True),  # numbering and punctuation are not counted
        ("1. 走访企业！", 3, False),
        ("走访 企业 3 家", 6, True),  # spaces are not counted, digits are
        ("走访 企业 3 家", 5, False),
        ("今天上午走访企业", 7, False),  # time words still count as characters
        ("visit ABC", 8, True),
        ("visit ABC company", 8, False),
    ],
)
def test_short_limit(text: str, short_chars: int, short: bool) -> None:
    reasons = entry_weakness(text, repeated=False, short_chars=short_chars)
    assert (SHORT in reasons) is short


def test_reason_names() -> None:
    assert {SHORT, GENERIC, REPEATED} == WEAK_REASONS
    assert {"开会", "会议", "学习", "值班", "办公", "阅文", "接待", "培训"} <= GENERIC_WORDS
    # Only multi-character words: a single character would match inside specific words.
    assert all(len(word) >= 2 for word in GENERIC_WORDS)


# ---------------------------------------------------------------------------
# normalized / repeated_texts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("开会", "开会"),
        ("  开 会。 ", "开会"),
        ("1.开会", "开会"),
        ("1、开会", "开会"),
        ("１．开会", "开会"),  # full-width numbering
        ("（１）开会", "开会"),
        ("(2)开会", "开会"),
        ("①开会", "开会"),
        ("⑴开会", "开会"),
        ("⒈开会", "开会"),
        ("一、开会", "开会"),
        ("（三）开会", "开会"),
        ("十一、开会", "开会"),
        ("- 1.开会", "开会"),
        ("• 开会；", "开会"),
        ("走访农户１２户", "走访农户12户"),  # full-width digits fold, content digits stay
        ("走访农户12户", "走访农户12户"),
        ("起草ＡＢＣ项目报告", "起草abc项目报告"),
        ("Review OA Docs", "reviewoadocs"),
        ("开\u200b会", "开会"),  # invisible characters
        ("1.5亿元项目签约", "15亿元项目签约"),  # a decimal, not numbering
        ("1、2月份工作总结", "12月份工作总结"),  # a run of numbers, not numbering
        ("一、二季度经济运行分析", "一二季度经济运行分析"),
        ("。。。", ""),
    ],
)
def test_normalized(text: str, expected: str) -> None:
    assert normalized(text) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ([], set()),
        (["开会"], set()),
        (["开会", "调研"], set()),
        (["开会", "1. 开会。", "调研"], {"开会"}),
        (["１．走访农户１２户", "2、走访农户12户", "走访农户15户"], {"走访农户12户"}),
        (["①值班", "值班", "（一）值班", "阅文", "阅文！"], {"值班", "阅文"}),
        (["Review docs", "review DOCS"], {"reviewdocs"}),
        (["。。。", "！！"], set()),  # no content is never a repeat
    ],
)
def test_repeated_texts(texts: list[str], expected: set[str]) -> None:
    assert repeated_texts(texts) == expected


def test_repeated_texts_takes_any_iterable() -> None:
    assert repeated_texts(t for t in ("开会", "开会")) == {"开会"}


# ---------------------------------------------------------------------------
# check_weight
# ---------------------------------------------------------------------------

NONE: frozenset[str] = frozenset()
ONE = frozenset({GENERIC})
TWO = frozenset({GENERIC, SHORT})
THREE = WEAK_REASONS


@pytest.mark.parametrize(
    ("rate", "reasons", "weights", "expected"),
    [
        (1.0, NONE, SampleWeights(), 1.0),
        (None, NONE, SampleWeights(), 1.0),  # nothing due: no extra weight
        (0.0, NONE, SampleWeights(), 3.0),
        (0.5, NONE, SampleWeights(), 2.0),
        (0.75, ONE, SampleWeights(), 1.0 + 0.5 + 1.5),
        (1.0, TWO, SampleWeights(), 4.0),
        (0.0, THREE, SampleWeights(), 1.0 + 2.0 + 4.5),
        (None, THREE, SampleWeights(), 5.5),
        (1.7, NONE, SampleWeights(), 1.0),  # clamped to 1
        (-0.3, NONE, SampleWeights(), 3.0),  # clamped to 0
        (0.5, TWO, SampleWeights(low_completeness=4.0, weak_entry=0.5), 1.0 + 2.0 + 1.0),
        (0.0, THREE, SampleWeights(low_completeness=0.0, weak_entry=0.0), 1.0),
    ],
)
def test_check_weight(
    rate: float | None, reasons: frozenset[str], weights: SampleWeights, expected: float
) -> None:
    assert check_weight(rate, reasons, weights) == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"low_completeness": -1.0},
        {"weak_entry": -0.1},
        {"weak_entry": math.nan},
        {"low_completeness": math.inf},
    ],
)
def test_sample_weights_reject_negative_or_non_finite(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SampleWeights(**kwargs)


# ---------------------------------------------------------------------------
# weighted_sample
# ---------------------------------------------------------------------------

ITEMS = list("abcdefghij")
WEIGHTS = [1.0, 2.0, 3.0, 1.5, 1.0, 5.0, 1.0, 2.5, 1.0, 4.0]


@pytest.mark.parametrize("seed", [0, 1, 42, 2026])
def test_weighted_sample_is_deterministic_for_a_seed(seed: int) -> None:
    first = weighted_sample(ITEMS, WEIGHTS, 4, random.Random(seed))
    second = weighted_sample(ITEMS, WEIGHTS, 4, random.Random(seed))
    assert first == second


@pytest.mark.parametrize(
    ("k", "size"),
    [(-1, 0), (0, 0), (1, 1), (4, 4), (9, 9), (10, 10), (11, 10), (100, 10)],
)
def test_weighted_sample_size_and_no_duplicates(k: int, size: int) -> None:
    for seed in range(20):
        sample = weighted_sample(ITEMS, WEIGHTS, k, random.Random(seed))
        assert len(sample) == size
        assert len(set(sample)) == size
        assert set(sample) <= set(ITEMS)


def test_weighted_sample_of_all_is_a_deterministic_permutation() -> None:
    everything = weighted_sample(ITEMS, WEIGHTS, len(ITEMS) + 5, random.Random(7))
    assert sorted(everything) == ITEMS
    assert everything == weighted_sample(ITEMS, WEIGHTS, len(ITEMS), random.Random(7))
    # The same keys order a partial sample: it is a prefix of the full order.
    assert weighted_sample(ITEMS, WEIGHTS, 3, random.Random(7)) == everything[:3]


def test_weighted_sample_of_nothing() -> None:
    assert weighted_sample([], [], 3, random.Random(0)) == []


@pytest.mark.parametrize(
    ("items", "weights"),
    [
        (["a", "b"], [1.0]),  # lengths differ
        (["a"], [1.0, 2.0]),
        (["a", "b"], [1.0, 0.0]),  # weights must be > 0
        (["a", "b"], [1.0, -2.0]),
        (["a", "b"], [1.0, math.nan]),
        (["a", "b"], [1.0, math.inf]),
    ],
)
@pytest.mark.parametrize("k", [0, 1, 5])
def test_weighted_sample_rejects_bad_weights(
    items: list[str], weights: list[float], k: int
) -> None:
    with pytest.raises(ValueError):
        weighted_sample(items, weights, k, random.Random(0))


def test_weighted_sample_frequencies_follow_weights() -> None:
    rng = random.Random(12345)
    draws = 20_000
    counts = Counter(
        weighted_sample(["light", "heavy"], [1.0, 3.0], 1, rng)[0] for _ in range(draws)
    )
    assert counts["light"] / draws == pytest.approx(0.25, abs=0.02)
    assert counts["heavy"] / draws == pytest.approx(0.75, abs=0.02)


def test_weighted_sample_handles_tiny_weights() -> None:
    # u ** (1 / w) would underflow to 0 for every item here; the order must stay random.
    firsts = {
        weighted_sample(["a", "b", "c"], [1e-9, 1e-9, 1e-9], 1, random.Random(seed))[0]
        for seed in range(50)
    }
    assert firsts == {"a", "b", "c"}


# ---------------------------------------------------------------------------
# weighted_sample_capped
# ---------------------------------------------------------------------------

# Zhang has many heavily weighted items; Li and Wang have a few light ones.
CAP_ITEMS = ["z1", "z2", "z3", "z4", "z5", "z6", "l1", "l2", "w1", "w2", "w3"]
CAP_OWNERS = ["zhang"] * 6 + ["li"] * 2 + ["wang"] * 3
CAP_WEIGHTS = [10.0] * 6 + [1.0] * 5


def owners_of(sample: list[str]) -> Counter[str]:
    return Counter(CAP_OWNERS[CAP_ITEMS.index(item)] for item in sample)


@pytest.mark.parametrize(
    ("k", "cap", "most_per_owner"),
    [
        (3, 1, 1),
        (6, 2, 2),
        (7, 3, 3),
        (8, 3, 3),  # 3 + 2 + 3 candidates under the cap: exactly enough
        (5, 5, 5),
    ],
)
def test_capped_sample_respects_cap_when_possible(k: int, cap: int, most_per_owner: int) -> None:
    for seed in range(30):
        sample = weighted_sample_capped(
            CAP_ITEMS, CAP_WEIGHTS, CAP_OWNERS, k, random.Random(seed), cap
        )
        assert len(sample) == len(set(sample)) == k
        assert max(owners_of(sample).values()) <= most_per_owner


def test_without_cap_the_heavy_owner_dominates() -> None:
    """The cap matters: uncapped, Zhang's weight-10 items fill most of a sample of 3."""
    zhang = sum(
        owners_of(weighted_sample(CAP_ITEMS, CAP_WEIGHTS, 3, random.Random(seed)))["zhang"]
        for seed in range(30)
    )
    assert zhang > 60


@pytest.mark.parametrize(("k", "cap"), [(4, 1), (9, 2), (11, 1), (20, 2)])
def test_capped_sample_fills_when_the_cap_cannot_hold(k: int, cap: int) -> None:
    for seed in range(30):
        rng = random.Random(seed)
        sample = weighted_sample_capped(CAP_ITEMS, CAP_WEIGHTS, CAP_OWNERS, k, rng, cap)
        expected = min(k, len(CAP_ITEMS))
        assert len(sample) == len(set(sample)) == expected
        # The capped picks come first: one per owner (up to the cap) before any fill.
        head = owners_of(sample[: 3 * cap])
        capped = {owner: min(cap, CAP_OWNERS.count(owner)) for owner in set(CAP_OWNERS)}
        assert head == capped


def test_capped_fill_is_in_key_order() -> None:
    # Everything belongs to one person: the cap holds for one item, the rest fill by key.
    items = list("abcdef")
    weights = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    owners = ["zhang"] * 6
    capped = weighted_sample_capped(items, weights, owners, 4, random.Random(3), 1)
    assert capped == weighted_sample(items, weights, 4, random.Random(3))


@pytest.mark.parametrize("seed", [0, 5, 99])
def test_capped_equals_plain_when_nobody_reaches_the_cap(seed: int) -> None:
    plain = weighted_sample(CAP_ITEMS, CAP_WEIGHTS, 5, random.Random(seed))
    capped = weighted_sample_capped(
        CAP_ITEMS, CAP_WEIGHTS, CAP_OWNERS, 5, random.Random(seed), max_per_person=10
    )
    assert capped == plain


def test_capped_is_deterministic_and_handles_small_k() -> None:
    args = (CAP_ITEMS, CAP_WEIGHTS, CAP_OWNERS)
    assert weighted_sample_capped(*args, 4, random.Random(8), 1) == weighted_sample_capped(
        *args, 4, random.Random(8), 1
    )
    assert weighted_sample_capped(*args, 0, random.Random(8), 1) == []
    assert weighted_sample_capped(*args, -3, random.Random(8), 1) == []
    assert weighted_sample_capped([], [], [], 3, random.Random(8), 1) == []


@pytest.mark.parametrize(
    ("items", "weights", "owners", "cap"),
    [
        (["a", "b"], [1.0, 1.0], ["x"], 1),  # owners length differs
        (["a", "b"], [1.0], ["x", "y"], 1),  # weights length differs
        (["a", "b"], [1.0, 0.0], ["x", "y"], 1),  # weight not > 0
        (["a", "b"], [1.0, 1.0], ["x", "y"], 0),  # cap below 1
    ],
)
def test_capped_rejects_bad_arguments(
    items: list[str], weights: list[float], owners: list[str], cap: int
) -> None:
    with pytest.raises(ValueError):
        weighted_sample_capped(items, weights, owners, 2, random.Random(0), cap)
