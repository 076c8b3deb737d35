"""Text analysis of work-log messages: item splitting and collaborator extraction.

Splitting (一事一记, see split_items): line breaks, list numbering and, on a line without
numbering, semicolons separate items; a short heading ending with a colon that introduces
items ("今日工作：1.开会 2.调研", "上午：" on its own line) is not an item.

The collaborator (合作者或服务对象, see CollaboratorExtractor) is who the work was done
with or for, named well enough for a supervisor to check: a roster unit or person, a named
organisation (华新水泥公司, 东湖社区), or a definite group of people served (来访群众,
困难群众, 脱贫户, 市领导). A bare generic word (企业, 群众, 客商, 领导, 同事, 项目), also
with only scope or size words (辖区企业, 3家企业, 各乡镇), gives None, and so do meetings and
the body holding them (召开党组会, 县委常委会), names inside 《titles》 and the writer's own
scope (全县, 本局). tests/data/text_corpus.tsv measures both against labelled messages.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

DEFAULT_OVERLONG_LIMIT = 500

# ---------------------------------------------------------------------------
# 一事一记: splitting one message into log items
# ---------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    """Return the space-separated words of a word list (keeps long lists compact)."""
    return frozenset(text.split())


_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u0085\u2028\u2029\v\f]")

_CN_DIGITS = "一二三四五六七八九"
# 一 … 二十: enough for any day's list of items.
_CN_NUMERALS = {
    **{d: i for i, d in enumerate(_CN_DIGITS, 1)},
    "十": 10,
    **{"十" + d: 10 + i for i, d in enumerate(_CN_DIGITS, 1)},
    "二十": 20,
}
_CN_BY_VALUE = {value: text for text, value in _CN_NUMERALS.items()}
_CN = r"二十|十[一二三四五六七八九]?|[一二三四五六七八九]"

_MARKER = re.compile(
    rf"""
    [(（]\s*(?P<pnum>\d{{1,3}})\s*[)）]
    | [(（]\s*(?P<pcn>{_CN})\s*[)）]
    | (?P<circled>[\u2460-\u2473])
    | (?P<pcircled>[\u2474-\u2487])
    | (?P<dcircled>[\u2488-\u249b])
    | (?P<num>\d{{1,3}})(?P<numdelim>[.．、)）])
    | (?P<cn>{_CN})(?P<cndelim>[、.．])
    """,
    re.VERBOSE,
)

# A marker in the middle of a line opens a list only after one of these (or whitespace).
_BOUNDARY = frozenset("。；;，,！!？?：:")
# Once a list is running, these may follow text directly ("①开会②调研", "1.开会2.调研").
_GLUE_KINDS = frozenset({"num", "paren", "paren_cn", "circled", "pcircled", "dcircled"})
_BULLET = re.compile(r"[-*•·●▪◦](?!\d)")
_ITEM_TRIM = " \t\u3000；;，,、"
_SEMICOLONS = re.compile("[；;]")
# A short heading: a few words and a final colon ("今日工作：", "11月21日工作："); a colon
# right after a digit is a time ("9：30"), not a heading.
_HEADING = re.compile(r"^[^\s:：，,。；;、]{0,11}[^\s\d:：，,。；;、][:：]$")
# Headings that only say "today's work"; the work date already says that.
_GENERIC_HEADING = re.compile(
    r"^\s*(?:(?:今日|今天|当日|本日)(?:主要)?(?:工作)?(?:内容|情况|安排|记录)?"
    r"|(?:主要)?工作(?:内容|情况|安排|记录|日志)?|日志)\s*[:：]\s*"
)


@dataclass(frozen=True)
class _Marker:
    """A list-numbering marker found in a line."""

    start: int
    end: int
    kind: str
    value: int


def _next_numeral(kind: str, value: int) -> str:
    """Return how the number after `value` is written in the marker's numeral system."""
    if kind in ("cn", "paren_cn"):
        return _CN_BY_VALUE.get(value + 1, "")
    return str(value + 1)


def _match_marker(line: str, pos: int) -> _Marker | None:
    """Return the numbering marker starting exactly at `pos`, if any."""
    m = _MARKER.match(line, pos)
    if m is None:
        return None
    rest = line[m.end() :]
    if m.group("pnum"):
        return _Marker(pos, m.end(), "paren", int(m.group("pnum")))
    if m.group("pcn"):
        return _Marker(pos, m.end(), "paren_cn", _CN_NUMERALS[m.group("pcn")])
    for kind, base in (("circled", 0x2460), ("pcircled", 0x2474), ("dcircled", 0x2488)):
        if m.group(kind):
            return _Marker(pos, m.end(), kind, ord(m.group(kind)) - base + 1)
    if m.group("num"):
        if pos > 0 and line[pos - 1].isdigit():
            return None
        value = int(m.group("num"))
        # "1.5亿元", "11.20", "2026.11.20": a dot followed by a digit is a decimal or a date.
        if m.group("numdelim") in ".．" and rest[:1].isdigit():
            return None
        kind = "num"
    else:
        value = _CN_NUMERALS[m.group("cn")]
        kind = "cn"
        # "统一、规范": a Chinese numeral glued to a preceding character is a word, not a marker.
        if pos > 0 and ("\u4e00" <= line[pos - 1] <= "\u9fff"):
            return None
        if m.group("cndelim") in ".．" and rest[:1].isdigit():
            return None
    # "1、2月份", "一、二季度", "七、八十岁": a run of numbers, not a numbered list.
    following = _next_numeral(kind, value)
    if following and rest.startswith(following):
        after = rest[len(following) : len(following) + 1]
        if not (after.isdigit() or (kind == "cn" and after in _CN_NUMERALS)):
            return None
    return _Marker(pos, m.end(), kind, value)


def _strip_leading_marker(line: str) -> tuple[int, _Marker | None]:
    """Return where the content of a line starts, after a bullet and a numbering marker."""
    pos = len(line) - len(line.lstrip())
    bullet = _BULLET.match(line, pos)
    if bullet:
        pos = bullet.end()
        pos += len(line[pos:]) - len(line[pos:].lstrip())
    marker = _match_marker(line, pos)
    if marker is None:
        return pos, None
    return marker.end, marker


def _split_line(line: str) -> tuple[list[str], bool]:
    """Split one line at sequential inline numbering markers; say whether it was numbered."""
    content_start, lead = _strip_leading_marker(line)
    chain: list[_Marker] = []
    expected = lead.value + 1 if lead else 1
    kind = lead.kind if lead else None
    pos = content_start
    while pos < len(line):
        marker = _match_marker(line, pos)
        if marker is None or marker.value != expected:
            pos += 1
            continue
        if kind is not None and marker.kind != kind:
            pos += 1
            continue
        prev = line[pos - 1]
        running = lead is not None or bool(chain)
        # "第1、2季度" / "完成第2、第3批": an ordinal is never a list marker.
        glued = running and marker.kind in _GLUE_KINDS and prev != "第"
        if not (prev.isspace() or prev in _BOUNDARY or glued):
            pos += 1
            continue
        chain.append(marker)
        kind = marker.kind
        expected += 1
        pos = marker.end
    # A lone "1." in mid-line ("完成任务 1、组织学习") is too weak a signal to split on.
    if lead is None and len(chain) < 2:
        chain = []
    pieces: list[str] = []
    start = content_start
    for marker in chain:
        pieces.append(line[start : marker.start])
        start = marker.end
    pieces.append(line[start:])
    return pieces, lead is not None or bool(chain)


def _clean(piece: str) -> str:
    """Strip whitespace and separators around an item."""
    return piece.strip().rstrip(_ITEM_TRIM).strip()


# Characters that show nothing: zero-width spaces and joiners, the BOM, bidi controls, and
# control characters other than tab and line breaks (PostgreSQL refuses NUL in text).
_INVISIBLE = re.compile(
    "[\u200b-\u200f\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069\u061c"
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)


def clean_text(text: str) -> str:
    """Text as stored: Unicode NFC, without invisible characters that could hide content."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFC", text))


def has_content(text: str) -> bool:
    """Whether the text holds a letter or a digit (punctuation or emoji alone says nothing)."""
    return any(unicodedata.category(char)[0] in "LN" for char in text)


def _line_items(line: str) -> list[str]:
    """Split one line into its items (some may be empty or a bare heading)."""
    pieces, numbered = _split_line(line)
    if numbered:
        # "今日工作：1.开会 2.调研": the heading that introduces the list is not an item.
        if len(pieces) > 1 and _HEADING.match(_clean(pieces[0])):
            pieces = pieces[1:]
        return [_clean(piece) for piece in pieces]
    # Without numbering, a semicolon ends an item ("上午参加党组会；下午走访企业").
    body = _GENERIC_HEADING.sub("", pieces[0], count=1)
    if not has_content(body):
        body = pieces[0]
    return [_clean(piece) for piece in _SEMICOLONS.split(body)]


def split_items(text: str) -> list[str]:
    """Split one message into its log items (一事一记), never losing content.

    Items are separated by line breaks, by list numbering ("1." "1、" "（1）" "①" "一、",
    inline too when it runs in sequence) and, on a line without numbering, by semicolons.
    Inside a numbered item a semicolon is ordinary punctuation ("1.走访企业；协调用电").
    A short heading ending with a colon ("今日工作：", "上午：") is not an item when it only
    introduces what follows: on its own line before other items, or before a numbered list
    on the same line. A generic heading ("今日工作：", "工作内容：") in front of plain text
    is dropped too; any other ("上午：参加党组会", "调研：走访…") stays part of the item.
    A message that is only a heading keeps it. Items without a letter or digit ("。。。",
    "！！") are not items; invisible characters are removed first, so a message of only
    those has no items at all.
    """
    items: list[tuple[str, bool]] = []
    for line in _LINE_BREAKS.split(clean_text(text)):
        for item in _line_items(line):
            if item and has_content(item):
                items.append((item, bool(_HEADING.match(item))))
    # A heading line is dropped when real items follow it.
    last_item = max((k for k, (_, heading) in enumerate(items) if not heading), default=-1)
    return [item for k, (item, heading) in enumerate(items) if not heading or k > last_item]


def is_overlong(item: str, limit: int = DEFAULT_OVERLONG_LIMIT) -> bool:
    """Return whether an item is long enough to be flagged (it is still stored)."""
    return len(item) > limit


# ---------------------------------------------------------------------------
# 合作者或服务对象: collaborator or the people served
# ---------------------------------------------------------------------------

_NAME_FREQ = 10**6
# Longer answers are trimmed from the left: a partner's name, not a clause.
_MAX_PHRASE = 16
_UNIT_TAG = "nt"
_PERSON_TAG = "nr"
# Project names and aliases: proper nouns to jieba, so they come out as one word.
_PROJECT_TAG = "nz"
# Given to tokens inside a title (《…》): a document's name names no partner.
_TITLE_TAG = "title"
_TITLES = re.compile(r"《[^《》]*》")

# Words that introduce the partner or the people served; several may follow each other.
_CUES = _words(
    "与 和 同 跟 及 会同 联合 配合 协助 陪同 为 给 向 帮 帮助 帮扶 "
    "服务 走访 慰问 看望 接待 对接 指导 联系 邀请"
)
_JOINERS = frozenset({"、", "和", "及", "与", "以及", "同", "跟"})
_JOINER_TEXT = re.compile(r"^(?:\s|、|和|及|与|以及|同|跟|及其)*$")
# Tokens allowed between a cue and its noun phrase ("走访了3家企业").
_LEAD_IN_FLAGS = frozenset({"m", "q", "mq", "ul", "uz", "ug"})
# Modifiers that may open the phrase after a cue ("接待来访群众", "帮扶脱贫户").
_MODIFIERS = _words(
    "来访 困难 贫困 脱贫 低保 留守 孤寡 空巢 独居 退役 受灾 返乡 外来 "
    "外地 外出 相关 重点 有关 基层 一线 特困 残疾 失业 退休 本地 入驻 "
    "签约 在建 招商 新 老"
)
_NOUN_FLAGS = _words("n nr nrfg nrt ns nt nz ng nl l j b eng")
_PERSON_FLAGS = frozenset({"nr", "nrfg", "nrt"})
_VERB_FLAGS = _words("v vd vg vi vq d ad p c u m q")
# Function words that never sit inside a name, even as a single character.
_NON_NAME_FLAGS = _words("p c u ul uj m q r d")
# Single characters that name an administrative level or an office ("县/住/建局", "自然资源/局").
_SINGLE_SUFFIXES = frozenset("局委办部厅处科室村镇乡县区市省组户站所队院校")
# Administrative levels: in front of a group word they make it a definite one ("市领导").
_LEVELS = frozenset("省市县区乡镇")
_ORG_SUFFIXES = _words(
    "委员会 管委会 委会 合作社 工作组 工作队 中心 公司 企业 集团 社区 街道 "
    "学校 医院 政府 党委 支部 协会 银行 专班 群众 村民 居民 农户 客商 "
    "专家 党员 干部 老人 儿童 学生 职工 商户 家庭 群体 军人 人员 团 "
    "大队 中队 支队 中学 小学 大学 学院 幼儿园 工会 妇联 残联 侨联 "
    "工商联 文联 科协 团委 局 委 办 部 厅 处 科 室 村 镇 乡 县 区 市 "
    "省 组 户 站 所 队 院 校"
)
# Bare group words that read as a party ("服务企业3家"), though only a generic one.
_BARE_HEADS = _words(
    "企业 群众 村民 居民 农户 客商 专家 社区 学校 医院 公司 党员 干部 "
    "老人 儿童 学生 职工 商户 客户 市民 家长 患者 游客 乡镇 街道"
)
# Groups of people served that are definite on their own ("为残疾人办理补贴").
_GROUP_WORDS = _words("残疾人 孤儿 农民工 五保户 低保户 贫困户 脱贫户 监测户 拆迁户")
# Heads that only count after a cue: people by role or relation ("陪同市领导", "向上级").
_ROLE_SUFFIXES = _words(
    "领导 书记 县长 市长 区长 镇长 乡长 主任 局长 部长 处长 科长 同志 "
    "经理 董事长 主席 老师 医生 代表 委员 同事 上级 下属 老乡 村干部 "
    "网格员"
)
# A kind of party, not a party: alone or with only the words below, it names nobody.
_GENERIC_HEADS = _words(
    "企业 公司 群众 村民 居民 农户 客商 专家 党员 干部 职工 干部职工 "
    "领导 同事 上级 下级 下属 部门 单位 乡镇 村 社区 学校 医院 商户 "
    "客户 市民 家长 患者 游客 老人 儿童 学生 人员 负责人 加油站 工地 "
    "村干部 网格员 老乡 同志 代表 委员"
)
# Scope, size or status words that do not single out a party ("辖区企业", "各乡镇").
_GENERIC_MODIFIERS = _words(
    "辖区 相关 有关 重点 全体 全局 全县 全市 全区 全镇 全乡 本地 本单位 "
    "规上 规模以上 工业 小微 中小 民营 入驻 签约 新签约 在建 参训 分管 "
    "主要 支部 机关 部分 广大 一线 基层 新 各 各级 各类 所有 其他 其它 "
    "招商 外来 外地 本 上门服务 我"
)
_GENERIC_FLAGS = frozenset({"m", "q", "mq", "r"})
# Words that end like a meeting but name an organisation ("县总工会", "村委会").
_ORG_HUI = ("委员会", "管委会", "委会", "协会", "工会", "商会", "学会", "联合会", "基金会")
# Meetings and study sessions are no partner, nor is the body that holds them.
_MEETINGS = _words("中心组 例会 常委会")
# Words that may sit between a body and its meeting ("党组理论学习中心组").
_MEETING_FILLERS = _words("理论 学习 常务 扩大 全体 专题 工作")
# Often tagged as nouns by the tokenizer, but acts, not parts of a name ("办理", "入户").
_NOT_MEMBERS = _words(
    "办理 整理 督导 督查 督办 检查 核查 审核 调研 协调 研究 部署 落实 推进 "
    "开展 汇报 申报 会商 入户 上门 上门服务 下乡 现场 检查人员 发展党员"
)
# Words ending like an organisation that are not one ("全部", "布局", "城乡", "会议室").
_NOT_ORGS = _words(
    "全部 内部 外部 局部 东部 西部 南部 北部 中部 底部 顶部 格局 布局 "
    "大局 全局 结局 开局 时局 政局 残局 骗局 饭局 举办 承办 主办 督办 "
    "交办 创办 兴办 包办 代办 操办 查办 协办 开办 停办 申办 筹办 领办 "
    "原委 到处 处处 好处 坏处 长处 短处 用处 难处 益处 相处 住处 出处 "
    "四处 各处 深处 远处 近处 此处 学科 本科 专科 理科 文科 工科 会议室 "
    "教室 卧室 浴室 温室 密室 大厅 客厅 餐厅 展厅 门厅 城市 超市 上市 "
    "股市 夜市 集市 楼市 都市 园区 小区 辖区 景区 城区 山区 灾区 地区 "
    "片区 街区 库区 矿区 林区 牧区 校区 城乡 下乡 家乡 故乡 返乡 回乡 "
    "异乡 城镇 农村 乡村 新农村 分组 编组 重组 改组 门户 账户 开户 落户 "
    "入户 分户 户户 窗户 场所 厕所 住所 处所 网站 排队 插队 庭院 住院 "
    "市中心 中心 电站 车站"
)
# "全县", "本局", "我市": the writer's own scope, not a partner.
_SCOPE_PREFIXES = frozenset("全本我该此")


_Span = tuple[int, int]


@dataclass(frozen=True)
class _Token:
    """One segmented word with its POS flag and character span."""

    word: str
    flag: str
    start: int
    end: int


def _org_like(token: _Token) -> bool:
    """Return whether a token reads as an organisation or a group of people served."""
    return _org_like_word(token.word, token.flag)


# Word classes are cached: the same few thousand words come back in every message.
@lru_cache(maxsize=8192)
def _org_like_word(word: str, flag: str) -> bool:
    """Return whether a word with this POS flag reads as an organisation or a group."""
    if word in _NOT_ORGS or flag in _VERB_FLAGS or _is_meeting(word):
        return False
    if word in _BARE_HEADS or word in _GROUP_WORDS:
        return True
    if len(word) == 2 and word[0] in _SCOPE_PREFIXES and word[1] in _SINGLE_SUFFIXES:
        return False
    # A one-character suffix needs a name in front; "公司" or "合作社" alone still reads as one.
    return any(word.endswith(s) and len(word) > min(len(s), 1) for s in _ORG_SUFFIXES)


@lru_cache(maxsize=8192)
def _is_meeting(word: str) -> bool:
    """Return whether a word names a meeting ("党组会", "常务会议", "中心组")."""
    if word in _MEETINGS:
        return True
    return (word.endswith("会") or word.endswith("会议")) and not word.endswith(_ORG_HUI)


@lru_cache(maxsize=8192)
def _is_role(word: str) -> bool:
    """Return whether a word names a person by role or relation ("镇长", "同事")."""
    return any(word.endswith(s) for s in _ROLE_SUFFIXES)


def _generic(token: _Token) -> bool:
    """Return whether a token alone leaves the party unnamed ("辖区", "企业", "3家")."""
    return _generic_word(token.word, token.flag)


@lru_cache(maxsize=8192)
def _generic_word(word: str, flag: str) -> bool:
    """Return whether a word with this POS flag alone leaves the party unnamed."""
    if word in _GENERIC_HEADS or word in _GENERIC_MODIFIERS or flag in _GENERIC_FLAGS:
        return True
    if len(word) == 1:
        # "市领导", "老党员", "王书记": a level, a qualifier or a surname singles them out.
        return not (word in _LEVELS or word in _MODIFIERS or flag in _PERSON_FLAGS)
    if word in _ORG_SUFFIXES or word in _ROLE_SUFFIXES:
        return True
    # One token for a generic head with a scope word: "各乡镇", "分管领导".
    return any(
        word.endswith(head) and word[: -len(head)] in _GENERIC_MODIFIERS for head in _GENERIC_HEADS
    )


def _meeting_follows(tokens: list[_Token], last: int) -> bool:
    """Return whether the phrase ending at token `last` is the holder of a meeting."""
    k = last + 1
    while k < len(tokens) and k - last <= 2 and tokens[k].word in _MEETING_FILLERS:
        k += 1
    # "党组/会议纪要": the minutes of a meeting are no partner either.
    return k < len(tokens) and (_is_meeting(tokens[k].word) or tokens[k].word.startswith("会议"))


class CollaboratorExtractor:
    """Finds the 合作者或服务对象 (collaborator or people served) in one log item.

    The answer is who the work was done with or for, named well enough that a supervisor
    could check it:
    - a roster unit or person, as the roster writes it ("陪同张伟副县长调研" gives 张伟);
    - a named organisation ("走访华新水泥公司", "到东湖社区", "向县委组织部报送");
    - a definite group of people served: a group word with a qualifier that says which
      people ("接待来访群众", "走访慰问困难群众5户", "与南京客商洽谈", "陪同市领导"), or a
      group that is definite on its own (脱贫户, 残疾人, 留守儿童).
    None for a bare generic word (企业, 群众, 村民, 客商, 领导, 同事, 上级, 项目), also with
    only scope, size or status words (辖区企业, 3家企业, 各乡镇, 分管领导, 规上企业); for
    a meeting or the body holding one (召开党组会, 参加县委常委会, 县政府常务会议); for a
    name inside a document title (《…》); for places and the writer's own scope (全县, 本局).

    Priority: (a) a roster unit or person named in the text; (b) the noun phrase after a
    cue word (与, 陪同, 走访, 为 ...); (c) the first organisation-like noun phrase anywhere.
    A phrase ends at its first head word that makes it definite, so "与县气象局会商强降雨"
    gives 县气象局 and "走访慰问困难群众5户" gives 困难群众; "、"-lists stay together.

    Each instance owns a jieba tokenizer (about 1 s and tens of MB to load), so build one
    per process and share it; it is loaded on first use or by warm_up(). Beyond the jieba
    call, an extraction costs a few passes over its tokens.
    """

    def __init__(
        self,
        unit_names: Iterable[str] = (),
        person_names: Iterable[str] = (),
        cache_dir: str | None = None,
    ) -> None:
        """Remember the roster names; the tokenizer is loaded lazily."""
        self._units: set[str] = set()
        self._persons: set[str] = set()
        self._units_by_length: list[str] = []
        self._projects: set[str] = set()
        # Any project term as a substring: most items name none and skip the second cut.
        self._project_hint: re.Pattern[str] | None = None
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._posseg: Any = None
        self.add_names(unit_names, person_names)

    def add_names(self, unit_names: Iterable[str] = (), person_names: Iterable[str] = ()) -> None:
        """Add roster names, e.g. after a roster re-import."""
        units = {n.strip() for n in unit_names if n and n.strip()} - self._units
        persons = {n.strip() for n in person_names if n and n.strip()} - self._persons
        with self._lock:
            self._units |= units
            self._persons |= persons
            # Longest first so "城关镇人民政府" wins over a roster entry "城关镇".
            self._units_by_length = sorted(self._units, key=len, reverse=True)
            if self._posseg is not None:
                self._add_words(units, persons)

    def add_project_terms(self, terms: Iterable[str]) -> None:
        """Add project names and aliases (项目名称, 简称), e.g. after a ledger import."""
        new = {t.strip() for t in terms if t and len(t.strip()) >= 2} - self._projects
        if not new:
            return
        with self._lock:
            self._projects |= new
            by_length = sorted(self._projects, key=len, reverse=True)
            self._project_hint = re.compile("|".join(map(re.escape, by_length)))
            if self._posseg is not None:
                for term in new:
                    self._posseg.tokenizer.add_word(term, _NAME_FREQ, _PROJECT_TAG)

    def project_terms(self, text: str) -> list[str]:
        """The project names and aliases the text mentions as whole words, in order.

        A term inside a longer word does not count: with the terms in jieba's dictionary,
        an alias "长江" is found in "长江项目开工" but not in "长江大桥", which jieba keeps whole.
        """
        hint = self._project_hint
        if hint is None or not text or hint.search(text) is None:
            return []
        tagger = self._tagger()
        with self._lock:
            words = list(tagger.tokenizer.cut(text, HMM=False))
        found: list[str] = []
        for word in words:
            if word in self._projects and word not in found:
                found.append(word)
        return found

    def warm_up(self) -> None:
        """Load the dictionary now instead of on the first extraction."""
        self._tagger()

    def _add_words(self, units: Iterable[str], persons: Iterable[str]) -> None:
        """Teach the tokenizer the roster names so they come out as single words."""
        tokenizer = self._posseg.tokenizer
        for name in units:
            tokenizer.add_word(name, _NAME_FREQ, _UNIT_TAG)
        for name in persons:
            tokenizer.add_word(name, _NAME_FREQ, _PERSON_TAG)

    def _tagger(self) -> Any:
        """Return the POS tokenizer, building it on first use."""
        if self._posseg is not None:
            return self._posseg
        with self._lock:
            if self._posseg is None:
                # Imported here: jieba.posseg alone takes ~0.4 s, the dictionary ~1 s more.
                import jieba
                import jieba.posseg

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.tmp_dir = self._cache_dir or tempfile.gettempdir()
                tokenizer.initialize()
                self._posseg = jieba.posseg.POSTokenizer(tokenizer)
                self._add_words(self._units, self._persons)
                for term in self._projects:
                    self._posseg.tokenizer.add_word(term, _NAME_FREQ, _PROJECT_TAG)
        return self._posseg

    def _tokens(self, text: str, titles: list[_Span]) -> list[_Token]:
        """Segment text into tagged tokens with their character offsets."""
        tagger = self._tagger()
        # add_names() may run in another thread; jieba merges new tags during a cut.
        with self._lock:
            pairs = list(tagger.cut(text))
        tokens: list[_Token] = []
        pos = 0
        for pair in pairs:
            word, flag = pair.word, pair.flag
            start = pos if text.startswith(word, pos) else text.find(word, pos)
            if start < 0:
                continue
            if titles and any(a <= start < b for a, b in titles):
                flag = _TITLE_TAG
            elif word in self._persons:
                flag = _PERSON_TAG
            elif word in self._units:
                flag = _UNIT_TAG
            tokens.append(_Token(word, flag, start, start + len(word)))
            pos = start + len(word)
        return tokens

    def extract(self, text: str) -> str | None:
        """Return the collaborator or people served named in one log item, or None."""
        if not text or not text.strip():
            return None
        titles = [m.span() for m in _TITLES.finditer(text)] if "《" in text else []
        tokens = self._tokens(text, titles)
        known = self._known_names(text, tokens, titles)
        cued = self._after_cue(tokens)
        span = known or cued or self._any_org(tokens)
        # A cue-led list around the roster name ("与县自然资源局、县财政局") says more.
        if known and cued and cued[0] <= known[0] and known[1] <= cued[1]:
            outside = text[cued[0] : known[0]] + text[known[1] : cued[1]]
            if any(joiner in outside for joiner in _JOINERS):
                span = cued
        return text[span[0] : span[1]] if span else None

    def _known_names(self, text: str, tokens: list[_Token], titles: list[_Span]) -> _Span | None:
        """Return roster names in the text; adjacent ones ("张伟、李娜") are kept together."""
        spans: list[tuple[int, int]] = []
        taken = [False] * len(text)
        for a, b in titles:
            taken[a:b] = [True] * (b - a)
        for name in self._units_by_length:
            start = text.find(name)
            while start >= 0:
                if not any(taken[start : start + len(name)]):
                    spans.append((start, start + len(name)))
                    for i in range(start, start + len(name)):
                        taken[i] = True
                start = text.find(name, start + 1)
        # Person names only count as whole words, so "王强" does not match inside "王强化".
        for token in tokens:
            if token.word in self._persons and not any(taken[token.start : token.end]):
                spans.append((token.start, token.end))
        if not spans:
            return None
        spans.sort()
        first_start, end = spans[0]
        for start, stop in spans[1:]:
            if not _JOINER_TEXT.match(text[end:start]):
                break
            end = stop
        last = next((k for k, t in enumerate(tokens) if t.end == end), None)
        if last is not None:
            # "参加县发改委党组会": a unit's own meeting is no partner.
            if _meeting_follows(tokens, last):
                return None
            # "县财政局、县自然资源局": a roster name may head a list of other partners.
            end = self._extend_list(tokens, last, after_cue=True)
        return first_start, end

    def _after_cue(self, tokens: list[_Token]) -> _Span | None:
        """Return the noun phrase following the first cue word that introduces one."""
        i = 0
        while i < len(tokens):
            if tokens[i].word not in _CUES or tokens[i].flag == _TITLE_TAG:
                i += 1
                continue
            j = i + 1
            while j < len(tokens) and (tokens[j].word in _CUES or tokens[j].flag in _LEAD_IN_FLAGS):
                j += 1
            phrase = self._phrase(tokens, j, after_cue=True)
            if phrase:
                return phrase
            i = j
        return None

    def _any_org(self, tokens: list[_Token]) -> _Span | None:
        """Return the first organisation-like noun phrase anywhere in the item."""
        i = 0
        while i < len(tokens):
            token = tokens[i]
            # A phrase may open with a qualifier ("转移受灾群众"), not with an act ("研究/干部").
            if token.word in _MODIFIERS or (token.flag != "vn" and self._member(tokens, i)):
                phrase = self._phrase(tokens, i, after_cue=False)
                if phrase:
                    return phrase
                while i < len(tokens) and self._member(tokens, i):
                    i += 1
            i += 1
        return None

    def _member(self, tokens: list[_Token], i: int) -> bool:
        """Return whether token i can be part of an organisation or people noun phrase."""
        token = tokens[i]
        if self._member_basic(token):
            return True
        if not self._may_join(token):
            return False
        if token.flag == "m" and token.word.startswith("第"):
            return True  # "市第一人民医院"
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        # "县/供电/公司", "监测/户": a verbal noun right before an organisation word.
        if token.flag == "vn" and nxt is not None and self._member_basic(nxt):
            return nxt.word in _SINGLE_SUFFIXES or _org_like(nxt)
        # A stray single character between nouns, as in "县/住/建局".
        return (
            len(token.word) == 1
            and token.flag not in _NON_NAME_FLAGS
            and 0 < i < len(tokens) - 1
            and self._member_basic(tokens[i - 1])
            and nxt is not None
            and self._member_basic(nxt)
        )

    @staticmethod
    def _may_join(token: _Token) -> bool:
        """Return whether a token may sit inside a phrase at all."""
        word = token.word
        return (
            token.flag != _TITLE_TAG
            and word not in _CUES
            and word not in _NOT_MEMBERS
            and any(ch.isalnum() for ch in word)
            and not _is_meeting(word)
        )

    @classmethod
    def _member_basic(cls, token: _Token) -> bool:
        """Return whether a token is a noun-like word, without looking at neighbours."""
        return cls._may_join(token) and (
            token.flag in _NOUN_FLAGS
            or _org_like(token)
            or token.word in _SINGLE_SUFFIXES
            or _is_role(token.word)
        )

    def _head(self, tokens: list[_Token], i: int, start: int, after_cue: bool) -> bool:
        """Return whether token i can end a collaborator phrase that starts at `start`."""
        token = tokens[i]
        word = token.word
        if len(word) == 1:
            return word in _SINGLE_SUFFIXES and i > start and word not in "省市县区"
        if _is_meeting(word):
            return False
        if token.flag == _UNIT_TAG or _org_like(token):
            return True
        if not after_cue:
            return False
        return token.flag in _PERSON_FLAGS or token.flag == "ns" or _is_role(word)

    def _phrase(self, tokens: list[_Token], start: int, after_cue: bool) -> _Span | None:
        """Return the phrase from token `start` to its first definite head, joining lists."""
        last = self._definite_end(tokens, start, after_cue)
        if last is None:
            return None
        phrase_start = _trim_start(tokens, start, last)
        return tokens[phrase_start].start, self._extend_list(tokens, last, after_cue)

    def _definite_end(self, tokens: list[_Token], start: int, after_cue: bool) -> int | None:
        """Return the last token of the shortest definite phrase from `start`, if any.

        A phrase runs over noun-like tokens; it may end after a run of head words, and
        does at the first run that leaves it definite (not only generic words).
        """
        i = start
        while i < len(tokens) and i - start < 2 and tokens[i].word in _MODIFIERS:
            i += 1
        end = i
        while end < len(tokens) and self._member(tokens, end):
            end += 1
        k = i
        while k < end:
            if not self._head(tokens, k, start, after_cue):
                k += 1
                continue
            k = self._head_run_end(tokens, k, start, end, after_cue)
            if _meeting_follows(tokens, k):
                return None
            first = _trim_start(tokens, start, k)
            definite = not all(_generic(tokens[t]) for t in range(first, k + 1))
            # "与金龙/纺织/有限公司": a name-like head gives way to an organisation after it.
            if definite and (self._strong(tokens[k]) or not self._strong_after(tokens, k, end)):
                return k
            k += 1
        return None

    def _head_run_end(
        self, tokens: list[_Token], k: int, start: int, end: int, after_cue: bool
    ) -> int:
        """Return the last head of the run of heads at token k.

        The run goes on over a qualifier or a scope word before a further head, so
        "开发区/重点/企业" stays one group.
        """
        while True:
            j = k + 1
            while (
                j < end
                and j - k <= 2
                and (tokens[j].word in _GENERIC_MODIFIERS or tokens[j].word in _MODIFIERS)
            ):
                j += 1
            if j >= end or not self._head(tokens, j, start, after_cue):
                return k
            k = j

    @staticmethod
    def _strong(token: _Token) -> bool:
        """Return whether a head names an organisation or group, not just a name or role."""
        return token.flag == _UNIT_TAG or _org_like(token) or token.word in _SINGLE_SUFFIXES

    def _strong_after(self, tokens: list[_Token], k: int, end: int) -> bool:
        """Return whether an organisation head follows token k within the phrase."""
        return any(self._strong(tokens[t]) for t in range(k + 1, end))

    def _extend_list(self, tokens: list[_Token], last: int, after_cue: bool) -> int:
        """Return where a phrase ending at token `last` stops once "、"-joined partners join."""
        stop = tokens[last].end
        k = last + 1
        while k + 1 < len(tokens) and tokens[k].word in _JOINERS:
            more = self._definite_end(tokens, k + 1, after_cue)
            if more is None:
                break
            stop = tokens[more].end
            k = more + 1
        return stop


def _trim_start(tokens: list[_Token], start: int, last: int) -> int:
    """Drop leading tokens until the phrase is short enough to read as a name."""
    while start < last and tokens[last].end - tokens[start].start > _MAX_PHRASE:
        start += 1
    return start
