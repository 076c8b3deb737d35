"""scoring.quality: repeats across days, copies from colleagues, trivial and long entries.

Most items are made of DOMAIN_PHRASES joined by 、, so their content words are known exactly
(each phrase is one jieba word) and the Jaccard index of two items is plain arithmetic.
"""

from __future__ import annotations

import pytest

from scoring.quality import (
    COPY,
    LONG,
    MIN_TOKENS,
    REPEAT,
    TRIVIAL,
    Entry,
    Thresholds,
    decode,
    encode,
    flag_entries,
    jaccard,
    tokens,
)

W = ["安全生产", "乡村振兴", "招商引资", "项目建设", "营商环境", "人居环境", "矛盾纠纷", "森林防火"]


def words(*indexes: int) -> str:
    return "、".join(W[i] for i in indexes)


def test_domain_phrases_are_one_word_each() -> None:
    assert tokens(words(*range(len(W)))) == frozenset(W)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # punctuation, numbering, width and spaces do not make words; numbers and filler go
        ("1. 走访慰问城关镇困难群众，送去米面油", {"走访", "慰问", "城关镇", "困难群众", "米面"}),
        ("走访慰问城关镇困难群众 送去米面油。", {"走访", "慰问", "城关镇", "困难群众", "米面"}),
        ("今天上午参加全县安全生产会议", {"全县", "安全生产", "会议"}),
        ("走访农户12户", {"走访", "农户"}),
        ("起草ＰＰＴ", {"起草", "ppt"}),
    ],
)
def test_content_words(text: str, expected: set[str]) -> None:
    assert tokens(text) == frozenset(expected)


def test_jaccard() -> None:
    assert jaccard({"a", "b", "c", "d"}, {"a", "b", "c", "d", "e"}) == 0.8
    assert jaccard(set(), set()) == 0.0


def repeat_of(text: str, earlier: str, similarity: float = 0.8) -> frozenset[str]:
    new = Entry(100, 1, 1, text)
    return flag_entries([new], {1: ["别的工作内容记录", earlier]}, [], Thresholds(similarity))[100]


@pytest.mark.parametrize(
    ("text", "earlier", "similarity", "flagged"),
    [
        # the same sentence on another day, whatever its punctuation and numbering
        ("1.走访慰问城关镇困难群众，送去米面油", "走访慰问城关镇困难群众 送去米面油。", 0.8, True),
        ("审核招商引资合同", "审核招商引资合同；", 0.8, True),
        ("招商引资合同审核", "审核招商引资合同", 0.8, True),  # the same words in another order
        # a number changed, the rest the same: the same item again
        ("走访农户15户，了解产业发展需求", "走访农户12户，了解产业发展需求", 0.8, True),
        # the threshold: 4 of 5 words shared is exactly 0.8
        (words(0, 1, 2, 3, 4), words(0, 1, 2, 3), 0.8, True),
        (words(0, 1, 2, 3, 4), words(0, 1, 2, 3), 0.81, False),
        (words(0, 1, 2, 3), words(0, 1, 2, 3, 4), 0.8, True),  # symmetric
        (words(0, 1, 2, 3), words(0, 1, 2), 0.75, True),  # 3/4
        (words(0, 1, 2, 3), words(0, 1, 2), 0.8, False),
        (words(0, 1, 2, 3, 4), words(0, 1, 2, 3, 5), 0.8, False),  # 4/6
        # different work sharing a few words
        ("到城关镇调研乡村振兴项目推进情况", "到城关镇督导安全生产隐患排查整改", 0.8, False),
        ("起草招商引资合同", "审核招商引资合同", 0.8, False),
        # below MIN_TOKENS words only the exact text counts, not the same words reordered
        (words(5, 6), words(5, 6) + "。", 0.8, True),
        (words(5, 6), words(6, 5), 0.8, False),
    ],
)
def test_repeat(text: str, earlier: str, similarity: float, flagged: bool) -> None:
    assert repeat_of(text, earlier, similarity) == (frozenset({REPEAT}) if flagged else set())


def test_two_word_items_need_the_exact_text() -> None:
    assert len(tokens(words(5, 6))) < MIN_TOKENS <= len(tokens(words(0, 1, 2)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("开会", {TRIVIAL}),
        ("学习", {TRIVIAL}),
        ("参加会议，学习文件", {TRIVIAL}),  # only generic words and filler
        ("今天上午开会2次", {TRIVIAL}),
        ("处理日常事务", {TRIVIAL}),
        ("走访困难群众", {TRIVIAL}),  # six characters: too short to say what was done
        ("走访城关镇困难群众", set()),
        ("走访城关镇困难群众。" * 20, set()),  # 200 characters: still one item
        ("走访城关镇困难群众。" * 20 + "另", {LONG}),
        ("开会。" * 70, {TRIVIAL, LONG}),
    ],
)
def test_trivial_and_long(text: str, expected: set[str]) -> None:
    assert flag_entries([Entry(100, 1, 1, text)], {}, [])[100] == expected


def test_a_trivial_item_is_never_a_repeat_or_a_copy() -> None:
    new = [Entry(100, 1, 1, "开会"), Entry(101, 1, 1, "学习")]
    peers = [Entry(5, 2, 1, "开会"), *new]
    got = flag_entries(new, {1: ["开会", "学习"]}, peers)
    assert got == {100: {TRIVIAL}, 101: {TRIVIAL}}


def test_copy_from_a_colleague_who_wrote_first() -> None:
    text = "走访慰问城关镇困难群众，送去米面油"
    new = [
        Entry(10, 1, 7, text),  # stored first: the original
        Entry(11, 2, 7, text + "。"),  # a colleague, later the same day: a copy
        Entry(12, 3, 8, text),  # the same words in another unit: nobody's colleague
        Entry(13, 1, 7, text),  # the writer again: not a copy of themselves
        Entry(14, 4, 7, "陪同县领导到城关镇调研人居环境整治"),
    ]
    yesterday = Entry(3, 5, 7, "陪同县领导调研城关镇人居环境整治")  # a colleague's, earlier
    got = flag_entries(new, {}, [yesterday, *new])
    assert got == {10: set(), 11: {COPY}, 12: set(), 13: {COPY}, 14: {COPY}}


def test_new_entries_without_anything_to_compare() -> None:
    got = flag_entries([Entry(1, 1, 1, "起草城关镇人居环境整治方案")], {}, [])
    assert got == {1: frozenset()}


def test_encode_and_decode() -> None:
    assert encode({TRIVIAL, REPEAT, LONG}) == "long,repeat,trivial"
    assert encode(set()) == ""
    assert decode("long,repeat") == ("long", "repeat")
    assert decode("") == decode(None) == ()


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError):
        Thresholds(similarity=0)
    with pytest.raises(ValueError):
        Thresholds(similarity=1.2)
