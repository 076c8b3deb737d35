"""Spot-check (抽查) support: weak-entry flags, repeat detection and weighted sampling."""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from scoring.text import clean_text

T = TypeVar("T")

# ---------------------------------------------------------------------------
# Weak entries: too short, generic, or repeated day after day
# ---------------------------------------------------------------------------

SHORT = "short"
GENERIC = "generic"
REPEATED = "repeated"
WEAK_REASONS = frozenset({SHORT, GENERIC, REPEATED})

DEFAULT_SHORT_CHARS = 8


def _words(text: str) -> frozenset[str]:
    """Return the space-separated words of a word list (keeps long lists compact)."""
    return frozenset(text.split())


# Work words that name a kind of activity but not what was done. An item made only of these
# (and filler) says nothing a supervisor could check; one more word ("党组会议", "接待来访群众")
# makes it specific, so bare 会议 is generic while 党组会议 is not.
GENERIC_WORDS = _words(
    "开会 会议 参会 例会 学习 自学 集中学习 政治学习 理论学习 业务学习 值班 值守 带班 "
    "办公 上班 正常上班 坐班 加班 日常工作 日常事务 日常 事务 工作 其他工作 相关工作 "
    "各项工作 处理日常事务 处理日常工作 处理事务 处理文件 处理公文 文件 公文 阅文 阅读文件 "
    "批阅文件 收发文件 整理材料 整理资料 写材料 撰写材料 材料 资料 接待 培训 业务培训 "
    "会务 内勤 事宜 调研 下乡 检查 督查 督导"
)
# Filler around the work words: time of day, light verbs, places that are always the same
# ("在办公室"), particles and counting words ("开会2次"). Filler alone makes an item generic
# too, but it never turns a specific item generic: every character must be accounted for.
FILLER_WORDS = _words(
    "今天 今日 昨天 当天 全天 上午 下午 中午 晚上 早上 白天 夜间 半天 一天 "
    "参加 参与 出席 列席 进行 开展 组织 召开 主持 继续 完成 负责 做好 处理 "
    "在 于 到 单位 本单位 办公室 了 等 的 和 及 与 并 相关 有关 一些 各项 其他 集中 一下 "
    "次 场 个 份 件 小时"
)
_VOCABULARY = GENERIC_WORDS | FILLER_WORDS
_LONGEST_WORD = max(len(word) for word in _VOCABULARY)

# Leading list numbering: "1." "1、" "（1）" "(一)" "①" "⑴" "⒈" "一、", after optional bullets.
# Matched before NFKC, which would turn "①" into a bare "1" that reads as content.
_CN_DIGITS = "一二三四五六七八九"
# 一 … 二十, in order: enough for any day's list of items.
_CN_NUMERALS = [*_CN_DIGITS, "十", *("十" + d for d in _CN_DIGITS), "二十"]
_CN = "|".join(sorted(_CN_NUMERALS, key=len, reverse=True))
# "一、二季度", "1、2月份": a number followed by the next one is a run, not numbering.
_CN_MARKER = "|".join(
    rf"{numeral}[、.．](?!\d|{following})"
    for numeral, following in sorted(
        zip(_CN_NUMERALS, [*_CN_NUMERALS[1:], "二十一"], strict=True),
        key=lambda pair: -len(pair[0]),
    )
)
_LEADING_MARKERS = re.compile(
    rf"""
    ^(?:\s*
        (?: [-*•·●▪◦](?!\d)
          | [(（]\s*(?:\d{{1,3}}|{_CN})\s*[)）]
          | [\u2460-\u249b]
          | \d{{1,3}}\s*[.．、)）](?!\d)
          | {_CN_MARKER}
        )
    )+
    """,
    re.VERBOSE,
)


def _strip_numbering(text: str) -> str:
    """Return the text without invisible characters and its leading list numbering."""
    text = clean_text(text)
    marker = _LEADING_MARKERS.match(text)
    return text[marker.end() :] if marker else text


def _core(text: str) -> str:
    """Return the letters and digits of an item, NFKC-folded, without numbering."""
    folded = unicodedata.normalize("NFKC", _strip_numbering(text)).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def _only_generic(core: str) -> bool:
    """Return whether `core` splits entirely into generic words, filler and numbers."""
    # reachable[i]: core[:i] is fully covered. A closed vocabulary makes this exact, which
    # a statistical segmenter such as jieba would not be.
    reachable = [True] + [False] * len(core)
    for start in range(len(core)):
        if not reachable[start]:
            continue
        if core[start].isdigit():
            end = start
            while end < len(core) and core[end].isdigit():
                end += 1
            reachable[end] = True
        for end in range(start + 1, min(len(core), start + _LONGEST_WORD) + 1):
            if core[start:end] in _VOCABULARY:
                reachable[end] = True
    return reachable[-1]


def entry_weakness(
    text: str, *, repeated: bool, short_chars: int = DEFAULT_SHORT_CHARS
) -> frozenset[str]:
    """Return why a log item deserves a closer look: a subset of WEAK_REASONS.

    "short": at most `short_chars` letters, digits or CJK characters once numbering,
    punctuation and spaces are gone (time words still count). "generic": nothing but
    GENERIC_WORDS and filler, or nothing at all. "repeated": as passed in (see
    repeated_texts; the caller knows which other days to compare with).
    """
    core = _core(text)
    reasons: set[str] = set()
    if len(core) <= short_chars:
        reasons.add(SHORT)
    if _only_generic(core):
        reasons.add(GENERIC)
    if repeated:
        reasons.add(REPEATED)
    return frozenset(reasons)


def normalized(text: str) -> str:
    """Return the form that tells the same item written on several days.

    Numbering, punctuation, symbols and whitespace go, and NFKC plus casefolding erase
    full-/half-width and case differences. Digits inside the item stay: "走访农户12户" and
    "走访农户15户" report different work.
    """
    folded = unicodedata.normalize("NFKC", _strip_numbering(text)).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LNM")


def repeated_texts(texts: Iterable[str]) -> set[str]:
    """Return the normalized forms that occur more than once among `texts`.

    Every occurrence counts, so an item written twice on one day is repeated too; pass one
    text per day if that should not count. Items with no content are never reported.
    """
    counts = Counter(form for form in map(normalized, texts) if form)
    return {form for form, count in counts.items() if count > 1}


# ---------------------------------------------------------------------------
# Sampling weights and weighted sampling without replacement
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleWeights:
    """Extra sampling weight per unit of completeness shortfall and per weakness reason."""

    low_completeness: float = 2.0
    weak_entry: float = 1.5

    def __post_init__(self) -> None:
        # Non-negative factors keep every check weight at 1 or more, as sampling requires.
        for name in ("low_completeness", "weak_entry"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def check_weight(rate: float | None, reasons: frozenset[str], weights: SampleWeights) -> float:
    """Return an item's sampling weight: 1, plus its cadre's shortfall, plus its weaknesses.

    `rate` is the cadre's completeness, clamped to [0, 1]; None (nothing was due) adds no
    weight, since there is no shortfall to punish.
    """
    shortfall = 0.0 if rate is None else 1.0 - min(1.0, max(0.0, rate))
    return 1.0 + weights.low_completeness * shortfall + weights.weak_entry * len(reasons)


def _keys(weights: Sequence[float], count: int, rng: random.Random) -> list[float]:
    """Return one Efraimidis–Spirakis key per weight, after checking the weights."""
    if len(weights) != count:
        raise ValueError(f"{count} items but {len(weights)} weights")
    for weight in weights:
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"weights must be finite and > 0, got {weight!r}")
    # log(u) / w orders items exactly as u ** (1 / w) does, without underflowing to 0 for
    # small weights; 1 - random() lies in (0, 1], so the log is always defined.
    return [math.log(1.0 - rng.random()) / weight for weight in weights]


def _by_key(keys: Sequence[float]) -> list[int]:
    """Return item indexes, highest key first (ties keep item order)."""
    return sorted(range(len(keys)), key=lambda i: -keys[i])


def weighted_sample(
    items: Sequence[T], weights: Sequence[float], k: int, rng: random.Random
) -> list[T]:
    """Return k distinct items, each drawn with probability proportional to its weight.

    Weights must be finite and > 0, one per item (ValueError otherwise). k <= 0 gives [];
    k >= len(items) gives every item. Items come highest key first, so a seeded `rng`
    always gives the same list in the same order.
    """
    keys = _keys(weights, len(items), rng)
    if k <= 0:
        return []
    return [items[i] for i in _by_key(keys)[:k]]


def weighted_sample_capped(
    items: Sequence[T],
    weights: Sequence[float],
    owners: Sequence[Hashable],
    k: int,
    rng: random.Random,
    max_per_person: int,
) -> list[T]:
    """Like weighted_sample, but at most `max_per_person` items of one owner when possible.

    Items are taken in key order, skipping those whose owner already has `max_per_person`
    in the sample. Only if that leaves the sample short of k (too few owners) are the
    skipped items added, again in key order, after the capped picks. With the same seed
    and a cap nobody reaches, the result equals weighted_sample's.
    """
    if len(owners) != len(items):
        raise ValueError(f"{len(items)} items but {len(owners)} owners")
    if max_per_person < 1:
        raise ValueError(f"max_per_person must be >= 1, got {max_per_person!r}")
    keys = _keys(weights, len(items), rng)
    if k <= 0:
        return []
    taken: list[int] = []
    skipped: list[int] = []
    per_owner: Counter[Hashable] = Counter()
    for i in _by_key(keys):
        if len(taken) == k:
            break
        if per_owner[owners[i]] < max_per_person:
            per_owner[owners[i]] += 1
            taken.append(i)
        else:
            skipped.append(i)
    taken += skipped[: k - len(taken)]
    return [items[i] for i in taken]
