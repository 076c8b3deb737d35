"""Project construction (项目建设): stages, amounts, progress texts and the quarterly unit score.

The ledger (台账) tracks each project through 储备 → 在建 → 投产 → 入规 with its planned and
completed investment; cadres report progress in free text. The quarterly assessment of a unit
(`000_…txt`, 项目建设考核) adds and deducts points, each group under its own cap:

- 新招商引资 (signed this quarter): 世界500强 or ≥ 20亿 +0.3, 中国500强 / 主板上市 or ≥ 10亿 +0.2,
  总部经济 +0.3; at most +1 a quarter;
- 新开工入库工业项目 ≥ 10亿 / ≥ 5亿 +0.3 / +0.2, and 省领导督办 projects on their 时序进度 +0.2;
  together at most +1 (a supervised project behind schedule −0.2, never capped);
- 入限文化产业项目 +0.1 each, at most +0.3;
- 未落实“五个一” −0.1 a project, at most −0.5;
- 迟报 and 数据质量不高 −0.1 each, together at most −0.5.

Pure: plain values in, plain values out. Amounts are whole yuan; points are worked in Decimal
so 0.1 + 0.2 is 0.3. Lines carry a `Rule` code and their numbers; `services.zh` words them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

# ---------------------------------------------------------------------------
# Stages, investors, key levels
# ---------------------------------------------------------------------------


class Stage(StrEnum):
    """项目阶段, in order."""

    RESERVE = "reserve"  # 储备
    BUILDING = "building"  # 在建
    PRODUCING = "producing"  # 投产
    ABOVE_SCALE = "above_scale"  # 入规

    @property
    def word(self) -> str:
        return STAGE_WORDS[self]

    @property
    def order(self) -> int:
        return _STAGE_ORDER[self]


STAGE_WORDS = {
    Stage.RESERVE: "储备",
    Stage.BUILDING: "在建",
    Stage.PRODUCING: "投产",
    Stage.ABOVE_SCALE: "入规",
}
_STAGE_ORDER = {stage: index for index, stage in enumerate(Stage)}
# The words naming a stage in a text or a ledger cell; 入限 (服务业) is 入规's twin.
_STAGE_BY_WORD = {
    "储备": Stage.RESERVE,
    "在建": Stage.BUILDING,
    "投产": Stage.PRODUCING,
    "入规": Stage.ABOVE_SCALE,
    "入限": Stage.ABOVE_SCALE,
}


def _squeeze(text: str) -> str:
    """Folded for exact lookups: NFKC (full-width digits and spaces), no whitespace, casefolded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def _stage_lookup() -> dict[str, Stage]:
    words: dict[str, Stage] = {stage.value: stage for stage in Stage}
    for word, stage in _STAGE_BY_WORD.items():
        for suffix in ("", "项目", "阶段"):
            words[word + suffix] = stage
    for word in ("投产", "入规", "入限"):
        words["已" + word] = _STAGE_BY_WORD[word]
        words["已" + word + "项目"] = _STAGE_BY_WORD[word]
    # Started means under construction; 未开工 / 待开工 stay unreadable rather than guessed.
    for word in ("建设中", "在建中", "开工", "已开工", "新开工", "开工建设"):
        words[word] = Stage.BUILDING
    return words


_STAGE_LOOKUP = _stage_lookup()


# Stages still under way: a project in them is expected to report progress (入规 is the end).
OPEN_STAGES = (Stage.RESERVE, Stage.BUILDING, Stage.PRODUCING)


@dataclass(frozen=True)
class Silence:
    """How long a project has gone without a progress update."""

    last_update_on: date | None
    since: date  # the last update, or the day the project entered the ledger
    days: int
    stale: bool  # still under way and silent for more than the allowed days (滞后)


def silence(
    stage: Stage, last_update_on: date | None, entered_on: date, today: date, stale_days: int
) -> Silence:
    since = last_update_on or entered_on
    days = (today - since).days
    return Silence(last_update_on, since, days, stage in OPEN_STAGES and days > stale_days)


def parse_stage(text: str) -> Stage | None:
    """The stage a ledger cell or an argument names (投产, 在建项目, 入限, building), or None."""
    return _STAGE_LOOKUP.get(_squeeze(text))


def stage_backwards(old: Stage, new: Stage) -> bool:
    """Whether moving from `old` to `new` goes back (投产 → 在建), which needs a reason."""
    return new.order < old.order


class Investor(StrEnum):
    """投资方类别 of a newly signed project."""

    WORLD500 = "world500"  # 世界500强
    CHINA500 = "china500"  # 中国500强
    LISTED = "listed"  # 主板上市公司

    @property
    def word(self) -> str:
        return INVESTOR_WORDS[self]


INVESTOR_WORDS = {
    Investor.WORLD500: "世界500强",
    Investor.CHINA500: "中国500强",
    Investor.LISTED: "上市公司",
}
_INVESTOR_PATTERNS = (
    (
        Investor.WORLD500,
        re.compile(r"(?:世界|财富|财富世界|world|fortune|global)(?:500|五百)强?(?:企业|公司)?"),
    ),
    (Investor.CHINA500, re.compile(r"(?:中国|china)(?:500|五百)强?(?:企业|公司)?")),
    (Investor.LISTED, re.compile(r"(?:主板)?上市(?:公司|企业)?|listed")),
)


def parse_investor(text: str) -> Investor | None:
    """The investor class a ledger cell names (世界五百强, 主板上市, world500), or None."""
    folded = _squeeze(text)
    for investor, pattern in _INVESTOR_PATTERNS:
        if pattern.fullmatch(folded):
            return investor
    return None


class KeyLevel(StrEnum):
    """重点项目级别."""

    PROVINCE = "province"  # 省重点
    CITY = "city"  # 市重点

    @property
    def word(self) -> str:
        return KEY_LEVEL_WORDS[self]


KEY_LEVEL_WORDS = {KeyLevel.PROVINCE: "省重点", KeyLevel.CITY: "市重点"}
_KEY_LEVEL = re.compile(r"(省|市)级?重点(?:项目)?")


def parse_key_level(text: str) -> KeyLevel | None:
    """The key-project level a ledger cell names (省重点, 市级重点项目, city), or None."""
    folded = _squeeze(text)
    for level in KeyLevel:
        if folded == level.value:
            return level
    match = _KEY_LEVEL.fullmatch(folded)
    if not match:
        return None
    return KeyLevel.PROVINCE if match.group(1) == "省" else KeyLevel.CITY


# ---------------------------------------------------------------------------
# Amounts (whole yuan)
# ---------------------------------------------------------------------------

YI = 100_000_000  # 亿
WAN = 10_000  # 万
MAX_AMOUNT = 10**13  # anything above is a typo (a whole province's investment is far less)

_UNITS = {
    "亿元": YI,
    "亿": YI,
    "千万元": 10_000_000,
    "千万": 10_000_000,
    "百万元": 1_000_000,
    "百万": 1_000_000,
    "万元": WAN,
    "万": WAN,
    "元": 1,
}
# Thousands separators only in groups of three, so "1,50万" is not silently 150万.
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))
_AMOUNT = re.compile(rf"(?P<number>{_NUMBER})(?P<unit>{_UNIT})?")


def _yuan(number: str, unit: str | None) -> int | None:
    """A number in a unit (None: 万元, the ledger's unit) as whole yuan, half up; None if absurd."""
    try:
        value = Decimal(number.replace(",", ""))
    except InvalidOperation:
        return None
    scaled = (value * _UNITS[unit or "万"]).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if scaled < 0 or scaled > MAX_AMOUNT:
        return None
    return int(scaled)


def parse_amount(text: str) -> int | None:
    """An amount in yuan: "3.2亿", "32000万元", "３.２亿", "1,500.5万", "32000" (万元); None."""
    match = _AMOUNT.fullmatch(_squeeze(text))
    if not match:
        return None
    return _yuan(match.group("number"), match.group("unit"))


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 3.20 → "3.2", 300 → "300"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_amount(yuan: int) -> str:
    """Yuan as the ledger writes them: "3.25亿元" (≥ 1亿, 2 decimals at most), else "1500.5万元"."""
    if yuan < 0:
        return "-" + format_amount(-yuan)
    if yuan >= YI:
        hundred_millions = (Decimal(yuan) / YI).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return f"{_plain(hundred_millions)}亿元"
    # Below 1亿 the 万 figure is exact (four decimals at most), so it reads back to the same yuan.
    return f"{_plain(Decimal(yuan) / WAN)}万元"


# ---------------------------------------------------------------------------
# Progress texts
# ---------------------------------------------------------------------------

# Words before a figure that make it a plan, not a fact (计划完成投资5亿).
_PLAN_BEFORE = "".join(
    f"(?<!{word})"
    for word in ("计划", "预计", "力争", "争取", "确保", "目标", "拟", "未", "应", "需")
)
# A bare number (万元) must end there: "80%", "3个", "1,50" and "80.5%" are no amounts.
_BARE_END = r"(?=$|[\s;:!?、)。]|[.,](?!\d))"
# Not a sum of money: "3万平方米", "2万吨", "5万人".
_NOT_MONEY = "(?![平方吨米亩人户千瓦度台套个件株只头条张次项间栋座辆])"


def _cue(words: str) -> re.Pattern[str]:
    return re.compile(
        rf"{_PLAN_BEFORE}(?:{words})额?[\s:]*(?:达到|到|达|为|约)?\s*(?P<number>{_NUMBER})"
        rf"(?:(?P<unit>{_UNIT}){_NOT_MONEY}|{_BARE_END})"
    )


_CUMULATIVE_CUE = _cue("累计完成投资|累计完成|累计投资")
_DONE_CUE = _cue("已完成投资|完成投资")


def find_investment(text: str) -> int | None:
    """The cumulative completed investment (累计完成投资) a progress text states, in yuan.

    A figure needs a cue (累计完成投资, 累计完成, 累计投资, 已完成投资, 完成投资) and is read as
    万元 without a unit; "签订3亿元合同" states none. A 累计 figure wins over an earlier plain
    完成投资 one ("本月完成投资3000万，累计完成投资2亿" is 2亿); otherwise the first figure.
    A bare number must end there, so "累计完成3个项目" and "完成投资80%" are no figures.
    """
    folded = unicodedata.normalize("NFKC", text)
    for cue in (_CUMULATIVE_CUE, _DONE_CUE):
        match = cue.search(folded)
        if match:
            return _yuan(match.group("number"), match.group("unit"))
    return None


_STAGE_WORD = "(?P<stage>储备|在建|投产|入规|入限)"
# The stage word must end the phrase: "进入投产准备" and "投产前检查" are not stage changes.
_STAGE_END = r"(?>(?:阶段|项目)?)(?![前后准条手计目时日率期])"
_STAGE_PATTERNS = (
    re.compile(rf"阶段\s*(?::|为|调整为|变更为|改为|变为)?\s*{_STAGE_WORD}{_STAGE_END}"),
    re.compile(
        rf"(?:进入|转入|转为|转至|转到|变为|变更为|调整为|升为){_STAGE_WORD}"
        r"(?:阶段|项目)?(?=$|[\s,.;!?、。)])"
    ),
    re.compile(
        rf"(?:已经?(?:正式|全面|顺利|成功|建成|竣工)?|正式|建成|竣工|实现){_STAGE_WORD}{_STAGE_END}"
    ),
    re.compile(rf"(?:→|->|=>|⇒|➡)\s*{_STAGE_WORD}{_STAGE_END}"),
)
# A stage named in a clause with one of these is hoped for or denied, not reached.
_HEDGES = re.compile(
    r"未|没有|没能|不能|无法|计划|争取|预计|力争|拟|即将|将于|将在|准备|有望|确保|目标|能否|是否|如果|若"
)
_CLAUSE_BREAK = re.compile(r"[,.;!?、。\n]")


def find_stage(text: str) -> Stage | None:
    """An explicit stage change a progress text states ("阶段：投产", "转入投产阶段", "已正式投产").

    Hopes and denials are not changes: "尚未投产", "计划下月投产", "争取年底正式投产". The
    first stated change in the text wins.
    """
    folded = unicodedata.normalize("NFKC", text)
    found: list[tuple[int, Stage]] = []
    for pattern in _STAGE_PATTERNS:
        for match in pattern.finditer(folded):
            clause_start = max(
                (m.end() for m in _CLAUSE_BREAK.finditer(folded, 0, match.start())), default=0
            )
            if _HEDGES.search(folded, clause_start, match.end()):
                continue
            found.append((match.start(), _STAGE_BY_WORD[match.group("stage")]))
            break
    return min(found)[1] if found else None


_REASON = re.compile(r"原因\s*(?:[:：]|是|为)\s*(.*)", re.DOTALL)


def find_reason(text: str) -> str | None:
    """What follows "原因：" / "原因是" to the end of the text (why a stage moves back), or None."""
    match = _REASON.search(text)
    if not match:
        return None
    return match.group(1).strip() or None


# ---------------------------------------------------------------------------
# Schedule and reporting
# ---------------------------------------------------------------------------


def expected_completion(planned: int, started_on: date, expected_on: date, as_of: date) -> int:
    """时序进度: the investment due by `as_of` on a straight line from start to expected end.

    planned × elapsed / duration, clamped to 0..planned, in yuan rounded half up. A project
    with no duration (expected on or before its start) owes everything from its expected day.
    """
    duration = (expected_on - started_on).days
    if duration <= 0:
        return planned if as_of >= expected_on else 0
    elapsed = min(max((as_of - started_on).days, 0), duration)
    whole, rest = divmod(planned * elapsed, duration)
    return whole + (1 if 2 * rest >= duration else 0)


def stale_episodes(
    updates: Sequence[date], since: date, start: date, end: date, stale_days: int
) -> int:
    """迟报: how many times within [start, end] the project went more than `stale_days` unreported.

    A day is stale when more than `stale_days` days have passed since the last update on or
    before it (the day it entered the ledger, `since`, counts as one); each maximal run of
    stale days that touches [start, end] counts once. Days before `since` are never stale.
    """
    if end < start:
        return 0
    anchors = sorted({since, *(day for day in updates if day >= since)})
    episodes = 0
    for index, anchor in enumerate(anchors):
        # Stale from the first day past the allowance until the day before the next update.
        first_stale = anchor.toordinal() + stale_days + 1
        last_stale = anchors[index + 1].toordinal() - 1 if index + 1 < len(anchors) else None
        low = max(first_stale, start.toordinal())
        high = end.toordinal() if last_stale is None else min(last_stale, end.toordinal())
        if low <= high:
            episodes += 1
    return episodes


# ---------------------------------------------------------------------------
# The quarterly unit score
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectRules:
    """Points, thresholds and caps of the quarterly project score (`000_…txt`'s table)."""

    signed_world500: float = 0.3  # 新招商引资: 世界500强投资项目
    signed_big_yuan: int = 2_000_000_000  # 或单体投资20亿元
    signed_big: float = 0.3
    signed_china500: float = 0.2  # 中国500强 或 主板上市公司
    signed_mid_yuan: int = 1_000_000_000  # 或单体投资10亿元
    signed_mid: float = 0.2
    signed_headquarters: float = (
        0.3  # 总部经济 (年缴税1000万元以上: the ledger flag means qualified)
    )
    signed_cap: float = 1.0  # 每季度加分上限1分
    started_big_yuan: int = 1_000_000_000  # 新开工入库工业项目 10亿
    started_big: float = 0.3
    started_mid_yuan: int = 500_000_000  # 5亿
    started_mid: float = 0.2
    supervised_on_schedule: float = 0.2  # 省领导督办项目 完成时序投资进度
    supervised_behind: float = 0.2  # 未完成: a deduction, outside started_cap
    started_cap: float = 1.0  # 每季度加分上限1分 (started and supervised bonuses)
    culture_above_scale: float = 0.1  # 入限文化产业项目
    culture_cap: float = 0.3
    missing_five_ones: float = 0.1  # 未落实“五个一”, per project
    missing_five_ones_cap: float = 0.5
    late_report: float = 0.1  # 迟报, per stale episode
    poor_data: float = 0.1  # 数据质量不高: 在建 with no investment figure in the quarter
    data_cap: float = 0.5  # 迟报 and 数据质量 together
    industrial_categories: tuple[str, ...] = ("工业", "技改")
    culture_categories: tuple[str, ...] = ("文旅",)
    stale_days: int = 14

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, list):  # TOML gives lists; keep the rules hashable
                value = tuple(value)
                object.__setattr__(self, item.name, value)
            if isinstance(value, bool) or not isinstance(value, int | float | tuple):
                raise ValueError(f"projects.{item.name} has the wrong type: {value!r}")
            if isinstance(value, tuple):
                if not all(isinstance(word, str) and word for word in value):
                    raise ValueError(f"projects.{item.name} must be a list of category words")
            elif not value >= 0:  # also refuses NaN
                raise ValueError(f"projects.{item.name} must not be negative: {value!r}")
        if self.signed_mid_yuan > self.signed_big_yuan:
            raise ValueError("projects.signed_mid_yuan must not exceed signed_big_yuan")
        if self.started_mid_yuan > self.started_big_yuan:
            raise ValueError("projects.started_mid_yuan must not exceed started_big_yuan")
        if not isinstance(self.stale_days, int) or self.stale_days < 1:
            raise ValueError(f"projects.stale_days must be a whole number ≥ 1: {self.stale_days!r}")


FIVE_ONES = ("leader", "unit", "task_force", "secretary")  # 领导挂帅, 部门负责, 专班服务, 项目秘书


@dataclass(frozen=True)
class ProjectFacts:
    """One project as the quarter's score sees it (the service builds these from the database)."""

    project_id: int
    name: str
    category: str
    stage: Stage  # at quarter end
    planned_yuan: int | None
    investor: Investor | None
    headquarters: bool
    supervised: bool  # 省领导督办
    signed_on: date | None  # 签约日期
    started_on: date | None  # 开工(入库)日期
    expected_on: date | None  # 预计竣工/投产日期
    above_scale_on: date | None  # the day it reached 入规 (None: not reached, or unknown)
    completed_yuan: int | None  # cumulative completed investment known at quarter end
    missing_five_ones: tuple[str, ...]  # which of FIVE_ONES are missing
    stale_episodes: int  # from stale_episodes()
    investment_reported: bool  # some completed-investment figure was reported in the quarter


class Rule(StrEnum):
    """One code per kind of score line; `services.zh` words them."""

    SIGNED_WORLD500 = "signed_world500"
    SIGNED_BIG = "signed_big"
    SIGNED_CHINA500 = "signed_china500"
    SIGNED_LISTED = "signed_listed"
    SIGNED_MID = "signed_mid"
    SIGNED_HEADQUARTERS = "signed_headquarters"
    STARTED_BIG = "started_big"
    STARTED_MID = "started_mid"
    SUPERVISED_ON_SCHEDULE = "supervised_on_schedule"
    SUPERVISED_BEHIND = "supervised_behind"
    CULTURE_ABOVE_SCALE = "culture_above_scale"
    MISSING_FIVE_ONES = "missing_five_ones"
    LATE_REPORT = "late_report"
    POOR_DATA = "poor_data"


@dataclass(frozen=True)
class ScoreLine:
    """One project's contribution: what the rule gives and what counts after its group's cap."""

    project_id: int
    project_name: str
    rule: Rule
    points: float  # + bonus, − deduction, before the cap
    counted: float  # after the cap; same sign, 0 when the cap was already full
    capped: bool  # counted != points because of a cap
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitScore:
    unit_id: int
    total: float  # sum of counted, 2 decimals
    bonus: float  # sum of positive counted
    deduction: float  # sum of negative counted (≤ 0)
    lines: tuple[ScoreLine, ...]


Values = dict[str, object]


@dataclass(frozen=True)
class _Draft:
    """A line before its cap; `when` (its event's day) and the project id order a capped group."""

    when: date
    project: ProjectFacts
    rule: Rule
    points: Decimal
    values: Values


def _points(value: float) -> Decimal:
    # str() first: Decimal(0.1) is 0.1000000000000000055…, Decimal("0.1") is 0.1.
    return Decimal(str(value))


def _out(value: Decimal) -> float:
    # + 0.0 turns a −0.0 (a deduction capped to nothing) into 0.0.
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) + 0.0


def _within(day: date, start: date, end: date) -> bool:
    return start <= day <= end


def _best(
    options: Sequence[tuple[bool, Rule, float, Values]],
) -> tuple[Rule, Decimal, Values] | None:
    """The applicable option worth most; on a tie the one listed first (the seed's order)."""
    best: tuple[Rule, Decimal, Values] | None = None
    for applies, rule, points, values in options:
        # A rule worth nothing is switched off: it gives no line, and the next best applies.
        if applies and points > 0 and (best is None or _points(points) > best[1]):
            best = (rule, _points(points), values)
    return best


def _signed(project: ProjectFacts, signed_on: date, rules: ProjectRules) -> _Draft | None:
    """The one 新招商引资 line of a project signed this quarter."""
    planned = project.planned_yuan
    investor: Values = {"investor": project.investor.value} if project.investor else {}
    big: Values = {"planned": planned, "threshold": rules.signed_big_yuan}
    mid: Values = {"planned": planned, "threshold": rules.signed_mid_yuan}
    best = _best(
        [
            (
                project.investor is Investor.WORLD500,
                Rule.SIGNED_WORLD500,
                rules.signed_world500,
                investor,
            ),
            (
                planned is not None and planned >= rules.signed_big_yuan,
                Rule.SIGNED_BIG,
                rules.signed_big,
                big,
            ),
            (project.headquarters, Rule.SIGNED_HEADQUARTERS, rules.signed_headquarters, {}),
            (
                project.investor is Investor.CHINA500,
                Rule.SIGNED_CHINA500,
                rules.signed_china500,
                investor,
            ),
            (
                project.investor is Investor.LISTED,
                Rule.SIGNED_LISTED,
                rules.signed_china500,
                investor,
            ),
            (
                planned is not None and planned >= rules.signed_mid_yuan,
                Rule.SIGNED_MID,
                rules.signed_mid,
                mid,
            ),
        ]
    )
    if best is None:
        return None
    rule, points, values = best
    return _Draft(signed_on, project, rule, points, {**values, "signed_on": signed_on})


def _started(project: ProjectFacts, started_on: date, rules: ProjectRules) -> _Draft | None:
    """新开工入库工业项目 by size: 10亿 or 5亿."""
    planned = project.planned_yuan
    if planned is None or project.category not in rules.industrial_categories:
        return None
    best = _best(
        [
            (
                planned >= rules.started_big_yuan,
                Rule.STARTED_BIG,
                rules.started_big,
                {"threshold": rules.started_big_yuan},
            ),
            (
                planned >= rules.started_mid_yuan,
                Rule.STARTED_MID,
                rules.started_mid,
                {"threshold": rules.started_mid_yuan},
            ),
        ]
    )
    if best is None:
        return None
    rule, points, values = best
    values = {"planned": planned, **values, "started_on": started_on}
    return _Draft(started_on, project, rule, points, values)


def _supervised(project: ProjectFacts, end: date, rules: ProjectRules) -> _Draft | None:
    """省领导督办: on or behind its 时序进度 as of the quarter's end."""
    planned, started_on, expected_on = project.planned_yuan, project.started_on, project.expected_on
    if not project.supervised or planned is None or started_on is None or expected_on is None:
        return None
    if started_on > end:
        return None
    expected = expected_completion(planned, started_on, expected_on, end)
    completed = project.completed_yuan or 0
    values: Values = {"expected": expected, "completed": completed, "planned": planned}
    if completed >= expected:
        rule, points = Rule.SUPERVISED_ON_SCHEDULE, _points(rules.supervised_on_schedule)
    else:
        rule, points = Rule.SUPERVISED_BEHIND, -_points(rules.supervised_behind)
    return _Draft(end, project, rule, points, values) if points else None


def _deduction(
    project: ProjectFacts, end: date, rule: Rule, points: Decimal, values: Values
) -> list[_Draft]:
    return [_Draft(end, project, rule, -points, values)] if points > 0 else []


def _apply(
    drafts: list[_Draft], cap: Decimal | None, order: Callable[[_Draft], tuple[Any, ...]]
) -> list[tuple[ScoreLine, Decimal]]:
    """The group's lines in application order, each with what it counts under the cap."""
    room = cap
    applied: list[tuple[ScoreLine, Decimal]] = []
    for draft in sorted(drafts, key=order):
        size = abs(draft.points)
        counted = size if room is None else min(size, room)
        if room is not None:
            room -= counted
        capped = counted != size
        values = {**draft.values, "cap": float(cap)} if capped and cap is not None else draft.values
        signed = counted if draft.points > 0 else -counted
        line = ScoreLine(
            project_id=draft.project.project_id,
            project_name=draft.project.name,
            rule=draft.rule,
            points=_out(draft.points),
            counted=_out(signed),
            capped=capped,
            values=values,
        )
        applied.append((line, signed))
    return applied


_RULE_ORDER = {rule: index for index, rule in enumerate(Rule)}


def _by_date(draft: _Draft) -> tuple[Any, ...]:
    # A supervised check (as of the quarter's end) follows a new start on that same last day.
    checked = draft.rule is Rule.SUPERVISED_ON_SCHEDULE
    return (draft.when, checked, draft.project.project_id, _RULE_ORDER[draft.rule])


def _by_project(draft: _Draft) -> tuple[Any, ...]:
    return (draft.project.project_id, _RULE_ORDER[draft.rule])


def score_unit(
    unit_id: int, projects: Sequence[ProjectFacts], start: date, end: date, rules: ProjectRules
) -> UnitScore:
    """A unit's project score for the quarter [start, end]: every line, capped group by group.

    In a capped group lines apply by their event's day (signed, started, 入规; a supervised
    check is as of `end`), then project id: the line that reaches the cap counts partly, later
    ones count 0. Deductions apply by project id. Bonus caps never touch deductions.
    """
    signed: list[_Draft] = []
    started: list[_Draft] = []
    culture: list[_Draft] = []
    behind: list[_Draft] = []
    five_ones: list[_Draft] = []
    data: list[_Draft] = []
    for project in projects:
        day = project.signed_on
        if day and _within(day, start, end) and (draft := _signed(project, day, rules)):
            signed.append(draft)
        day = project.started_on
        if day and _within(day, start, end) and (draft := _started(project, day, rules)):
            started.append(draft)
        if draft := _supervised(project, end, rules):
            (started if draft.points > 0 else behind).append(draft)
        day = project.above_scale_on
        if day and _within(day, start, end) and project.category in rules.culture_categories:
            points = _points(rules.culture_above_scale)
            if points > 0:
                values: Values = {"above_scale_on": day}
                culture.append(_Draft(day, project, Rule.CULTURE_ABOVE_SCALE, points, values))
        if project.missing_five_ones:
            values = {"missing": tuple(project.missing_five_ones)}
            points = _points(rules.missing_five_ones)
            five_ones += _deduction(project, end, Rule.MISSING_FIVE_ONES, points, values)
        if project.stale_episodes > 0:
            values = {"episodes": project.stale_episodes, "stale_days": rules.stale_days}
            points = _points(rules.late_report) * project.stale_episodes
            data += _deduction(project, end, Rule.LATE_REPORT, points, values)
        if project.stage is Stage.BUILDING and not project.investment_reported:
            data += _deduction(project, end, Rule.POOR_DATA, _points(rules.poor_data), {})

    applied = [
        *_apply(signed, _points(rules.signed_cap), _by_date),
        *_apply(started, _points(rules.started_cap), _by_date),
        *_apply(culture, _points(rules.culture_cap), _by_date),
        *_apply(behind, None, _by_project),
        *_apply(five_ones, _points(rules.missing_five_ones_cap), _by_project),
        *_apply(data, _points(rules.data_cap), _by_project),
    ]
    bonus = sum((counted for _, counted in applied if counted > 0), Decimal(0))
    deduction = sum((counted for _, counted in applied if counted < 0), Decimal(0))
    return UnitScore(
        unit_id=unit_id,
        total=_out(bonus + deduction),
        bonus=_out(bonus),
        deduction=_out(deduction),
        lines=tuple(line for line, _ in applied),
    )


@dataclass(frozen=True)
class RankedUnit:
    rank: int  # competition ranking: equal totals share a rank, the next rank skips (1, 1, 3)
    score: UnitScore


def rank_units(scores: Sequence[UnitScore]) -> list[RankedUnit]:
    """Units by total, best first (unit id breaks ties for display only)."""
    ordered = sorted(scores, key=lambda s: (-s.total, s.unit_id))
    ranked: list[RankedUnit] = []
    for index, score in enumerate(ordered):
        tied = ranked and ranked[-1].score.total == score.total
        ranked.append(RankedUnit(ranked[-1].rank if tied else index + 1, score))
    return ranked
