"""Monthly summary (月小结) drafts and 5+2 form (实绩登记表) suggestions from a cadre's log.

Pure rules over plain values: the caller passes the live (not withdrawn) entries of one
person and the themes extractor; nothing here reads the database or the clock.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

from scoring.completeness import Completeness
from scoring.dates import Period
from scoring.review import GENERIC, GENERIC_WORDS, SHORT, entry_weakness, normalized
from scoring.text import clean_text

KINDS = ("regular", "other", "after_hours")  # 日常工作 / 其他工作 / 八小时外


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Phrases of government work that jieba would cut in two ("安全/生产", "乡村/振兴"): taught to
# the tokenizer so a theme reads as the organisation names its work.
DOMAIN_PHRASES = _words(
    "安全生产 乡村振兴 招商引资 项目建设 重点项目 项目资金 人居环境 人居环境整治 营商环境 "
    "信访积案 信访事项 矛盾纠纷 疫情防控 防汛抗旱 森林防火 耕地保护 生态环境 环境保护 "
    "党风廉政 党风廉政建设 主题教育 基层党建 党建工作 意识形态 民生实事 就业创业 "
    "产业发展 乡村治理 城乡建设 文明创建 扫黑除恶 安全隐患 隐患排查 征地拆迁 "
    "预算编制 资金拨付 财政资金 专项债 固定资产投资 项目用地 企业服务 双招双引"
)
# Words that say a piece of work happened but not what it was about: never a theme. The
# spot-check list of generic words (会议, 学习, 调研 ...) is included.
THEME_STOP_WORDS = (
    _words(
        "工作 开展 进行 会议 参加 召开 组织 完成 情况 问题 相关 有关 推进 落实 做好 负责 "
        "事项 材料 文件 起草 整理 审核 复核 核对 对接 协调 陪同 走访 接待 检查 督查 督导 "
        "调研 学习 培训 汇报 报告 总结 方案 通知 安排 部署 研究 讨论 处理 办理 跟进 "
        "推动 加强 提升 持续 继续 全面 重点 有序 扎实 认真 及时 深入 专题 日常 其他 "
        "今天 上午 下午 本周 本月 月度 季度 年度 全县 全市 全区 本局 本单位 单位 我局 "
        "人次 次 件 家 个 份 万元 亿元 表态 发言 需求 了解 情况汇报 精神 领导 同志"
    )
    | GENERIC_WORDS
)
# Parts of speech a theme may be: nouns, verbal nouns, idioms and abbreviations; places (ns),
# organisations (nt) and people (nr) are partners, listed apart.
THEME_POS = ("n", "nz", "vn", "l", "j", "eng", "nw")
THEME_TAG = "nz"
_PHRASE_FREQ = 50_000


class Themes(Protocol):
    def themes(self, texts: Sequence[str], k: int) -> list[str]:
        """The `k` main themes of a set of log texts, most prominent first."""
        ...


_LOADING = threading.Lock()
_CUTTING = threading.Lock()
# The loaded keyword extractors by cache directory: read-only once built, so shared.
_LOADED: dict[str | None, Any] = {}


def domain_tokenizer() -> Any:
    """The jieba tokenizer that knows DOMAIN_PHRASES (安全生产 stays one word): loaded once per
    process, only read afterwards, so the quality check shares it."""
    return _load(None).tokenizer


def _load(cache_dir: str | None) -> Any:
    """A TF-IDF keyword extractor on a tokenizer of its own that knows DOMAIN_PHRASES."""
    with _LOADING:
        if cache_dir not in _LOADED:
            # Imported here: jieba's dictionary takes about a second to load.
            import jieba
            import jieba.analyse
            import jieba.posseg

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.tmp_dir = cache_dir or tempfile.gettempdir()
            tokenizer.initialize()
            for phrase in DOMAIN_PHRASES:
                tokenizer.add_word(phrase, _PHRASE_FREQ, THEME_TAG)
            tfidf = jieba.analyse.TFIDF()
            tfidf.tokenizer = tokenizer
            tfidf.postokenizer = jieba.posseg.POSTokenizer(tokenizer)
            tfidf.stop_words = set(tfidf.stop_words) | set(THEME_STOP_WORDS)
            _LOADED[cache_dir] = tfidf
        return _LOADED[cache_dir]


class ThemeExtractor:
    """Main themes (主要工作) of a period's log: TF-IDF keywords (jieba.analyse) over its texts.

    The tokenizer (about a second and tens of MB to load) is loaded on first use or by
    warm_up(), once per process: it holds no per-instance data, so instances share it.
    Generic work words and partners (places, organisations, people) are never themes; nor
    is a word inside a collaborator the caller names.
    """

    def __init__(self, cache_dir: str | None = None) -> None:
        self._cache_dir = cache_dir
        self._tfidf: Any = None

    def warm_up(self) -> None:
        """Load the dictionary now instead of on the first draft."""
        self._extractor()

    def _extractor(self) -> Any:
        if self._tfidf is None:
            self._tfidf = _load(self._cache_dir)
        return self._tfidf

    def themes(self, texts: Sequence[str], k: int, exclude: Iterable[str] = ()) -> list[str]:
        """The `k` highest TF-IDF theme words of `texts`, none inside an `exclude` phrase."""
        body = "\n".join(clean_text(t) for t in texts if t)
        if not body.strip() or k <= 0:
            return []
        tfidf = self._extractor()
        excluded = [e for e in exclude if e]
        with _CUTTING:  # the POS tokenizer is not safe to share between threads
            ranked = tfidf.extract_tags(body, topK=k * 3 + len(excluded), allowPOS=THEME_POS)
        kept: list[str] = []
        for word in ranked:
            if word.isdigit() or word in THEME_STOP_WORDS:
                continue
            if any(word in phrase for phrase in excluded):
                continue
            # "项目" then "项目资金": one theme, said the more specific way, where the first stood.
            wider = next((n for n, k in enumerate(kept) if k in word), None)
            if wider is not None:
                kept[wider] = word
            elif not any(word in k for k in kept):
                kept.append(word)
        return list(dict.fromkeys(kept))[:k]


# ---------------------------------------------------------------------------
# What the summaries read of an entry
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One live log entry as the summaries read it."""

    work_date: date
    text: str
    kind: str = "regular"
    collaborator: str | None = None
    project_id: int | None = None
    is_late: bool = False


@dataclass(frozen=True)
class MonthDigest:
    """Everything a monthly summary draft says, as data (the service words it in Chinese)."""

    entries: int
    days_logged: int
    kinds: tuple[tuple[str, int], ...]  # every kind in KINDS order, zeros included
    late: int  # 补记 entries
    themes: tuple[str, ...]
    collaborators: tuple[tuple[str, int], ...]  # most frequent first
    projects: tuple[tuple[int, int], ...]  # (project id, entries), most entries first
    highlights: tuple[str, ...]  # the most substantial distinct entries, in log order
    completeness: Completeness | None


THEME_COUNT = 6
COLLABORATOR_COUNT = 5
HIGHLIGHT_COUNT = 5


def _themes(themes: Themes, texts: Sequence[str], k: int, exclude: Sequence[str]) -> list[str]:
    """Themes without partner names when the extractor can leave them out."""
    if isinstance(themes, ThemeExtractor):
        return themes.themes(texts, k, exclude)
    return themes.themes(texts, k)


def _top_collaborators(items: Sequence[Item], k: int) -> list[tuple[str, int]]:
    counts = Counter(
        " ".join(i.collaborator.split()) for i in items if i.collaborator and i.collaborator.strip()
    )
    # most_common keeps first-seen order among equal counts: the log's order.
    return counts.most_common(k)


def monthly_draft(
    items: Sequence[Item],
    themes: Themes,
    completeness: Completeness | None = None,
    *,
    theme_count: int = THEME_COUNT,
    collaborator_count: int = COLLABORATOR_COUNT,
    highlight_count: int = HIGHLIGHT_COUNT,
) -> MonthDigest:
    """What a month's log amounts to: counts by kind, days, themes, partners, highlights.

    `items` are the month's live entries of one person; `completeness` (应记/已记/请假) is
    computed by the caller, which knows the calendar and the absences.
    """
    kinds = Counter(i.kind for i in items)
    partners = _top_collaborators(items, collaborator_count)
    all_partners = [name for name, _ in _top_collaborators(items, len(items))]
    main = _themes(themes, [i.text for i in items], theme_count, all_partners)
    projects = Counter(i.project_id for i in items if i.project_id is not None)
    picked = _best(items, highlight_count, main)
    order = {id(item): n for n, item in enumerate(items)}
    highlights = tuple(item.text for item in sorted(picked, key=lambda i: order[id(i)]))
    return MonthDigest(
        entries=len(items),
        days_logged=len({i.work_date for i in items}),
        kinds=tuple((kind, kinds.get(kind, 0)) for kind in KINDS),
        late=sum(1 for i in items if i.is_late),
        themes=tuple(main),
        collaborators=tuple(partners),
        projects=tuple(sorted(projects.items(), key=lambda p: (-p[1], p[0]))),
        highlights=highlights,
        completeness=completeness,
    )


# ---------------------------------------------------------------------------
# 5+2: suggestions for the five best and the two weaker pieces of work
# ---------------------------------------------------------------------------

# How much of an entry's letters and digits count towards its substance.
SUBSTANCE_CHARS = 30
# At most this many letters and digits is too short to be one of the five (审核招商引资合同 is not).
SUBSTANCE_SHORT_CHARS = 6
# Two entries whose character pairs overlap this much report the same work.
SIMILAR = 0.6
BEST_SUGGESTED = 10
WEAKER_SUGGESTED = 2


@dataclass(frozen=True)
class FiveTwoCandidates:
    """Suggestions the cadre picks from; they may also type their own items."""

    best: tuple[str, ...]  # most substantial first
    weaker: tuple[str, ...]


def _letters(text: str) -> str:
    return "".join(ch for ch in normalized(text) if ch.isalnum())


def substance(item: Item) -> float:
    """How specific and checkable an entry is: its length, a partner, a project, figures.

    0 for an entry that is generic or at most SUBSTANCE_SHORT_CHARS letters long.
    """
    weak = entry_weakness(item.text, repeated=False, short_chars=SUBSTANCE_SHORT_CHARS)
    if weak & {SHORT, GENERIC}:
        return 0.0
    letters = _letters(item.text)
    score = min(len(letters), SUBSTANCE_CHARS) / SUBSTANCE_CHARS * 3
    if item.collaborator:
        score += 1
    if item.project_id is not None:
        score += 1
    if any(ch.isdigit() for ch in letters):
        score += 0.5  # figures ("5家", "3000万元") make work checkable
    return score


def _pairs(text: str) -> set[str]:
    letters = _letters(text)
    return {letters[i : i + 2] for i in range(len(letters) - 1)} or {letters}


def _similar(a: set[str], b: set[str]) -> bool:
    return len(a & b) / max(1, min(len(a), len(b))) >= SIMILAR


def _best(items: Sequence[Item], k: int, themes: Sequence[str]) -> list[Item]:
    """The `k` most substantial entries, one per theme first, never two alike.

    An entry written again on another day (routine: 值班, a weekly meeting) is left out.
    """
    forms = Counter(normalized(i.text) for i in items)
    ranked = sorted(
        (i for i in items if forms[normalized(i.text)] == 1 and substance(i) > 0),
        key=lambda i: (-substance(i), i.work_date),
    )
    picked: list[Item] = []
    shapes: list[set[str]] = []
    used_themes: set[str] = set()

    def take(item: Item) -> None:
        picked.append(item)
        shapes.append(_pairs(item.text))

    def fresh(item: Item) -> bool:
        shape = _pairs(item.text)
        return item not in picked and not any(_similar(shape, s) for s in shapes)

    # First round: the best entry of each theme, so the five are not all about one project.
    for item in ranked:
        if len(picked) >= k:
            break
        theme = next((t for t in themes if t in item.text), None)
        if theme is not None and theme in used_themes:
            continue
        if fresh(item):
            take(item)
            if theme is not None:
                used_themes.add(theme)
    # Then whatever is left, still never two alike.
    for item in ranked:
        if len(picked) >= k:
            break
        if fresh(item):
            take(item)
    return picked


def fivetwo_candidates(
    items: Sequence[Item],
    k: int,
    themes: Themes,
    concerns: Sequence[str] = (),
    weaker_k: int = WEAKER_SUGGESTED,
) -> FiveTwoCandidates:
    """Suggestions for a quarter's 5+2 form from the cadre's own live entries.

    Best: the `k` most substantial entries (long, specific, with a partner, a project or
    figures), never a repeated routine item, one per theme before a second of any theme.

    Weaker: the log cannot tell which work went less well, and its thinnest entries ("开会")
    are poorly written records, not less satisfying work; suggesting them would invite a
    token answer. So the only suggestions are `concerns`, the problems supervisors raised
    in the quarter (负面清单), newest first as given; without any the cadre writes their own.
    """
    quarter_themes = _themes(
        themes,
        [i.text for i in items],
        THEME_COUNT * 2,
        [name for name, _ in _top_collaborators(items, len(items))],
    )
    best = tuple(i.text for i in _best(items, k, quarter_themes))
    weaker: list[str] = []
    for concern in concerns:
        text = " ".join(clean_text(concern).split())
        if text and text not in weaker and text not in best:
            weaker.append(text)
    return FiveTwoCandidates(best, tuple(weaker[:weaker_k]))


# ---------------------------------------------------------------------------
# Which month or quarter a form is for
# ---------------------------------------------------------------------------


def open_periods(kind: Literal["month", "quarter"], today: date, grace_days: int) -> list[Period]:
    """The months (or quarters) whose form may be filled in today, the current one first.

    The previous one stays open for `grace_days` calendar days after it ended: a summary is
    written when the month is over.
    """
    current = Period.containing(kind, today)
    previous = current.previous()
    if (today - previous.end).days <= grace_days:
        return [current, previous]
    return [current]
