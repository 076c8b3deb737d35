"""The demo organization (`worklog demo`, `./dev demo`): a county with a month of work logs.

Seeds the configured database with 青山县: five units, 32 cadres with their supervisors
(下管一级: staff → unit head → county leader), a rater (党委/党组) and an admin, three projects
of the ledger (项目台账), and a month of entries on working days only: one to four items a
day with collaborators (合作者或服务对象), some linked to a project, a few after hours, some
days missed, a few backfilled (补记), leave, a business trip and a training, 心得体会, progress
updates and a few ratings of the current quarter within the 好 quota. The texts come from
templates filled by a `random.Random` seeded with the person and the day, so a day always
reads the same.

Only a database without a real roster is touched: every demo roster id starts with "DEMO-",
and a database holding anyone else is refused before anything is written. Running it again
on a demo database writes nothing twice: the roster and the ledger import unchanged, missing
ratings are added, and the log is topped up with the days since its last entry, so a demo
database kept for weeks stays current (absences and progress updates come with the first run
only). The roster and the ledger go through their imports, the ratings through /rate's use
case; the log of past days is written here in one transaction, since cadres can only write
today and inside the backfill window.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from scoring.absence import absence_kind
from scoring.dates import Period
from scoring.projects import find_investment
from scoring.text import is_overlong
from services import Services, zh
from services.clock import Clock
from services.entries import LogPolicy
from services.errors import DomainError
from services.project_import import ProjectImportService, ProjectRow
from services.rating import RatingService
from services.roster import RosterRow, RosterService
from storage.models import (
    Absence,
    Channel,
    EntryKind,
    LogEntry,
    Project,
    ProjectUpdate,
    Reflection,
)
from storage.repositories import PeopleScope
from storage.uow import UnitOfWork, UowFactory

PREFIX = "DEMO-"  # every demo roster id starts with it; anyone else is a real roster
COUNTY = "青山县"
MONTH_DAYS = 30  # how far back the first run's log goes
TOP_UP_LOOKBACK_DAYS = 400  # a rerun looks this far back for the log's last day

# -- the organization ---------------------------------------------------------------------------

LEADERS = "青山县委县政府"
OFFICE = "青山县委办公室"
ORG = "青山县委组织部"
DEV = "青山县发展和改革局"
TOWN = "青山县青石镇人民政府"
# Unit: (parent unit, category 单位类别). The county leaders' unit holds the others, so the
# rater sitting in it rates everyone below.
UNITS: dict[str, tuple[str, str]] = {
    LEADERS: ("", "县领导"),
    OFFICE: (LEADERS, "党群部门"),
    ORG: (LEADERS, "党群部门"),
    DEV: (LEADERS, "政府部门"),
    TOWN: (LEADERS, "乡镇"),
}
SUPERVISOR = "cadre,supervisor"


@dataclass(frozen=True, slots=True)
class _Cadre:
    number: int
    name: str
    unit: str
    position: str
    supervisor: int | None
    roles: str = "cadre"
    missing: float = 0.0  # share of working days left unlogged
    today: bool | None = None  # logs today: always, never, or (None) most do

    @property
    def roster_id(self) -> str:
        return demo_id(self.number)


def demo_id(number: int) -> str:
    return f"{PREFIX}{number:03d}"


CADRES = (
    _Cadre(1, "林建国", LEADERS, "县委书记", None, SUPERVISOR),
    _Cadre(2, "周海峰", LEADERS, "县委副书记、县长", 1, SUPERVISOR),
    _Cadre(3, "陈晓东", LEADERS, "县委副书记", 1, SUPERVISOR),
    _Cadre(4, "黄志明", LEADERS, "县委常委、常务副县长", 2, SUPERVISOR),
    _Cadre(5, "吴丽华", LEADERS, "县委常委、组织部部长", 1, "cadre,supervisor,rater", today=True),
    _Cadre(6, "郑伟", OFFICE, "主任", 3, SUPERVISOR),
    _Cadre(7, "孙静", OFFICE, "副主任", 6),
    _Cadre(8, "何俊杰", OFFICE, "督查室主任", 6),
    _Cadre(9, "罗晓燕", OFFICE, "综合科科长", 6, today=False),
    _Cadre(10, "梁志强", OFFICE, "信息科科员", 6, missing=0.3, today=False),
    _Cadre(11, "宋佳", OFFICE, "机要科科员", 6),
    _Cadre(12, "谢明", ORG, "常务副部长", 5, SUPERVISOR),
    _Cadre(13, "韩雪", ORG, "干部考核办主任", 12, "cadre,admin"),
    _Cadre(14, "唐晨", ORG, "干部科科员", 12),
    _Cadre(15, "王建军", DEV, "局长", 4, SUPERVISOR, today=True),
    _Cadre(16, "李红梅", DEV, "副局长", 15),
    _Cadre(17, "张磊", DEV, "重点项目办主任", 15),
    _Cadre(18, "刘洋", DEV, "投资科科长", 15),
    _Cadre(19, "杨帆", DEV, "规划科科员", 15),
    _Cadre(20, "赵敏", DEV, "价格科科员", 15, missing=0.25, today=False),
    _Cadre(21, "许文博", DEV, "重点项目办科员", 15, today=True),
    _Cadre(22, "马丽", DEV, "办公室主任", 15),
    _Cadre(23, "胡斌", DEV, "能源科科员", 15, today=False),
    _Cadre(24, "高峰", TOWN, "镇党委书记", 2, SUPERVISOR),
    _Cadre(25, "徐慧", TOWN, "镇长", 24),
    _Cadre(26, "冯刚", TOWN, "镇党委副书记", 24),
    _Cadre(27, "曹亮", TOWN, "副镇长", 24),
    _Cadre(28, "彭丽娟", TOWN, "党政办主任", 24),
    _Cadre(29, "曾涛", TOWN, "农业农村服务中心主任", 24),
    _Cadre(30, "吕鹏", TOWN, "综治中心干事", 24, missing=0.2),
    _Cadre(31, "苏婷", TOWN, "社会事务办干事", 24, missing=0.35, today=False),
    _Cadre(32, "蒋磊", TOWN, "乡村振兴办干事", 24, today=False),
)
BY_NUMBER = {cadre.number: cadre for cadre in CADRES}
# Whose login links `worklog demo` prints.
LOGIN_CADRE, LOGIN_SUPERVISOR, LOGIN_RATER = 21, 15, 5
# Ratings of the current quarter (the rest is left for the rater to try, quota and all).
RATINGS = ((16, "好"), (17, "好"), (18, "较好"), (19, "一般"), (25, "好"), (28, "较好"))
# Excused days of the first run: (cadre, reason, first working day counted from the end of
# the month's working days before today, working days long).
ABSENCES = (
    (18, "请年休假", 14, 3),
    (27, "出差赴省农业农村厅汇报农旅融合示范区项目前期工作", 9, 2),
    (14, "参加市委党校中青年干部培训班", 6, 4),
)

# -- the ledger ---------------------------------------------------------------------------------

PARK = "青山县新能源汽车零部件产业园项目"
FARM = "青石镇农旅融合示范区项目"
SEWAGE = "青山县城污水处理厂提标改造项目"


def _project_rows(today: date) -> list[ProjectRow]:
    """The ledger as an admin would import it; the sewage works lacks its 项目秘书 (五个一)."""
    return [
        ProjectRow(
            line=2,
            name=PARK,
            aliases="零部件产业园;产业园项目",
            category="工业",
            stage="在建",
            planned_investment="12亿",
            leader=demo_id(4),
            unit=DEV,
            task_force="零部件产业园项目工作专班",
            secretary=demo_id(17),
            members=";".join(demo_id(n) for n in (18, 21, 27)),
            started_on=f"{today.year - 1}-03-18",
            expected_on=f"{today.year + 1}-06-30",
            key_level="市重点",
        ),
        ProjectRow(
            line=3,
            name=FARM,
            aliases="农旅示范区",
            category="文旅",
            stage="在建",
            planned_investment="3.5亿",
            leader=demo_id(2),
            unit=TOWN,
            task_force="农旅融合示范区项目专班",
            secretary=demo_id(32),
            members=";".join(demo_id(n) for n in (27, 29)),
            started_on=f"{today.year - 1}-09-01",
            expected_on=f"{today.year + 1}-05-01",
        ),
        ProjectRow(
            line=4,
            name=SEWAGE,
            aliases="污水厂提标",
            category="基础设施",
            stage="储备",
            planned_investment="2.8亿",
            leader=demo_id(4),
            unit=DEV,
            task_force="",
            secretary="",
            members=demo_id(19),
        ),
    ]


PROJECTS_OF: dict[int, tuple[str, ...]] = {
    17: (PARK,),
    18: (PARK,),
    21: (PARK,),
    27: (PARK, FARM),
    29: (FARM,),
    32: (FARM,),
    19: (SEWAGE,),
}
# Progress updates of the first run: (cadre, project, working day counted from the end, text).
PROGRESS = (
    (17, PARK, 16, "2号、3号厂房主体结构封顶，累计完成投资4.2亿"),
    (32, FARM, 12, "游客服务中心主体完工，正在进行内部装修，累计完成投资1.1亿"),
    (17, PARK, 6, "配套110千伏变电站完成设备安装调试，累计完成投资4.8亿"),
    (32, FARM, 4, "柳溪村民宿改造完成12户，环村绿道铺设过半，累计完成投资1.3亿"),
    (21, PARK, 2, "协调县供电公司完成二期施工临时用电接入，塔吊进场"),
)

# -- the texts (data of the demo, not wording of the product) -------------------------------

VOCAB: dict[str, tuple[str, ...]] = {
    "dept": (
        "县自然资源局",
        "县住建局",
        "县财政局",
        "县生态环境局",
        "县市场监管局",
        "县人社局",
        "县农业农村局",
        "县应急管理局",
        "县水利局",
        "县交通运输局",
        "县教育局",
        "县卫健局",
        "县商务局",
        "县统计局",
    ),
    "village": ("青石村", "柳溪村", "石门村", "桃源村", "东岭村", "白沙村", "枫树坪村", "龙潭村"),
    "company": (
        "华锐汽车零部件有限公司",
        "青山新材料科技有限公司",
        "绿源农业专业合作社",
        "县城市建设投资集团",
        "宏达精密机械有限公司",
        "山水文旅发展有限公司",
    ),
    "topic": (
        "乡村振兴",
        "安全生产",
        "营商环境优化",
        "重点项目建设",
        "招商引资",
        "耕地保护",
        "人居环境整治",
        "信访维稳",
        "民生实事",
        "粮食生产",
        "基层党建",
        "干部作风建设",
    ),
    "doc": (
        "县委常委会汇报材料",
        "季度工作总结",
        "专项督查通报",
        "乡村振兴调研报告",
        "政务信息专报",
        "县政府工作报告分工方案",
        "县委主要领导讲话稿",
        "经济运行分析报告",
    ),
    "upper": ("市发改委", "市委办公室", "市委组织部", "省发改委", "市政府办公室", "市农业农村局"),
    "minor": (
        "城南片区棚户区改造项目",
        "县人民医院综合楼项目",
        "青石至柳溪公路改建项目",
        "城东标准厂房项目",
        "县职教中心实训楼项目",
        "城区智慧停车场项目",
    ),
    "issue": (
        "施工用电",
        "用地指标",
        "企业用工",
        "融资担保",
        "道路通行",
        "供水管网迁改",
        "环评审批",
    ),
    "policy": (
        "习近平新时代中国特色社会主义思想",
        "省委全会精神",
        "《中国共产党纪律处分条例》",
        "市委经济工作会议精神",
        "意识形态工作责任制有关要求",
    ),
}


@dataclass(frozen=True, slots=True)
class _Template:
    text: str
    collaborator: str | None = None
    kind: EntryKind = EntryKind.REGULAR


def _t(text: str, collaborator: str | None = None) -> _Template:
    return _Template(text, collaborator)


COMMON = (
    _t("参加机关党支部集中学习，学习{policy}"),
    _t("处理日常公文{n}件，提出拟办意见"),
    _t("参加全县{topic}工作推进会，汇报本单位进展"),
    _t("与{dept}对接{topic}工作中需要协同的事项", "{dept}"),
    _t("整理{topic}工作台账，补充完善佐证材料"),
)
FAMILY: dict[str, tuple[_Template, ...]] = {
    LEADERS: (
        _t("主持召开{topic}专题会议，研究部署下阶段工作"),
        _t("参加县委常委会，汇报{topic}工作"),
        _t("带队赴{village}调研{topic}工作", "{village}两委"),
        _t("接待{company}客商考察，洽谈投资合作事宜", "{company}"),
        _t("到{company}走访，帮助解决{issue}问题", "{company}"),
        _t("听取{dept}关于{topic}工作情况汇报", "{dept}"),
        _t("参加市委召开的{topic}视频会议"),
        _t("督导{village}{season}工作，现场交办问题{n}个", "{village}两委"),
        _t("参加县委理论学习中心组学习，围绕{topic}作交流发言"),
    ),
    OFFICE: (
        _t("起草{doc}初稿"),
        _t("校核县委常委会会议纪要"),
        _t("办理上级来文{n}件，提出拟办意见"),
        _t("跟踪督办{topic}工作落实情况，形成督查通报"),
        _t("与{dept}对接{topic}督办事项进展", "{dept}"),
        _t("编发《青山信息》，向{upper}报送{topic}工作信息", "{upper}"),
        _t("统筹安排县委主要领导本周日程"),
        _t("赴{village}核实群众反映的{issue}问题", "{village}群众"),
        _t("筹备县委全会会务，落实会场和会议材料"),
    ),
    ORG: (
        _t("统计各单位工作日志记录情况，形成通报"),
        _t("审核{n}名干部的人事档案材料"),
        _t("起草干部实绩考核工作方案"),
        _t("与{dept}党组对接年度考核准备工作", "{dept}党组"),
        _t("赴{village}调研村级后备干部队伍建设", "{village}党支部"),
        _t("整理干部工作日志抽查情况，梳理问题{n}条"),
        _t("参加{upper}召开的干部监督工作会议", "{upper}"),
        _t("谈心谈话{n}人次，了解干部思想和工作状态", "新提拔干部"),
    ),
    DEV: (
        _t("与{dept}对接{minor}用地报批事项", "{dept}"),
        _t("审核{minor}可行性研究报告，提出修改意见{n}条"),
        _t("梳理专项债券储备项目{n}个，完善申报材料"),
        _t("向{upper}报送固定资产投资月度数据", "{upper}"),
        _t("赴{company}调度项目建设进度，协调解决{issue}问题", "{company}"),
        _t("参加{upper}视频会议，学习重大项目谋划要求"),
        _t("核查{minor}入库资料，更新项目台账"),
        _t("开展重要民生商品价格监测，采集价格数据{n}条"),
        _t("起草经济运行分析报告，分析{topic}指标变化"),
    ),
    TOWN: (
        _t("走访{village}困难群众{n}户，了解生产生活情况", "{village}困难群众"),
        _t("到{village}督导人居环境整治工作", "{village}两委"),
        _t("召开{village}两委班子会议，研究{topic}工作", "{village}两委"),
        _t("入户核查{village}低保对象{n}户", "{village}低保户"),
        _t("接待来访群众{n}人次，登记诉求并转办", "来访群众"),
        _t("调解{village}村民宅基地纠纷1起", "{village}村民"),
        _t("巡查{village}{patrol}"),
        _t("组织{village}开展安全生产隐患排查，排查隐患{n}处", "{village}两委"),
        _t("指导{village}做好高标准农田建设", "{village}两委"),
    ),
}
AFTER_HOURS = (
    _Template("加班修改{doc}", kind=EntryKind.AFTER_HOURS),
    _Template("晚上参加{topic}视频调度会", kind=EntryKind.AFTER_HOURS),
    _Template("夜间值班，处置群众来电诉求{n}件", "来电群众", EntryKind.AFTER_HOURS),
)
OTHER = (
    _Template("参加机关党支部主题党日活动", kind=EntryKind.OTHER),
    _Template("参加志愿服务活动，到{village}开展政策宣传", "{village}群众", EntryKind.OTHER),
    _Template("参加全县干部职工健步走活动", kind=EntryKind.OTHER),
)
PROJECT_WORK: dict[str, tuple[_Template, ...]] = {
    PARK: (
        _t("赴零部件产业园项目现场，协调解决{issue}问题", "华锐汽车零部件有限公司"),
        _t("参加产业园项目工作专班周例会，梳理问题{n}个"),
        _t("与县自然资源局对接零部件产业园二期用地报批事项", "县自然资源局"),
    ),
    FARM: (
        _t("到农旅示范区项目现场查看民宿改造进度", "柳溪村两委"),
        _t("与山水文旅发展有限公司对接农旅示范区运营方案", "山水文旅发展有限公司"),
    ),
    SEWAGE: (_t("梳理污水厂提标项目前期工作清单，对接环评要求", "县生态环境局"),),
}
REFLECTIONS = (
    "基层工作要多听群众意见，少坐办公室。",
    "项目推进要盯住堵点，一件一件销号。",
    "写材料先吃透上级精神，再结合县情找准切入点。",
    "今天的事今天记，月底小结时心里有数。",
    "协调事项要留痕，跟进要有回音。",
    "走访中发现问题要及时转办，给群众一个明确答复。",
)
_FIELD = re.compile(r"\{(\w+)\}")


# -- the plan: pure, from the days and the clock ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    text: str
    kind: EntryKind
    collaborator: str | None
    project: str | None  # the ledger name of the project it is about
    progress: bool  # also a progress update of that project
    at: datetime


@dataclass(frozen=True, slots=True)
class _Day:
    """One cadre's log of one day as the demo writes it."""

    day: date
    items: tuple[_Item, ...]
    late: bool
    channel: Channel
    reflection: tuple[str, datetime] | None


def _fill(template: str | None, rng: random.Random, values: dict[str, str], day: date) -> str:
    """The template with each {field} drawn once per item (text and collaborator agree)."""
    if template is None:
        return ""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            if key == "n":
                values[key] = str(rng.randint(2, 12))
            elif key == "season":
                values[key] = "防汛备汛" if 5 <= day.month <= 9 else "森林防火"
            elif key == "patrol":
                values[key] = "山塘水库" if 5 <= day.month <= 9 else "森林防火卡点"
            else:
                values[key] = rng.choice(VOCAB[key])
        return values[key]

    return _FIELD.sub(value, template)


def _moments(rng: random.Random, day: date, count: int, policy: LogPolicy) -> list[datetime]:
    """When the day's items were sent: through the working day, in order."""
    tz = policy.rules.tz
    minute = 8 * 60 + 40 + rng.randint(0, 50)
    moments = []
    for _ in range(count):
        moments.append(datetime.combine(day, time(minute // 60, minute % 60), tz))
        minute = min(minute + rng.randint(40, 150), 17 * 60 + 50)
    return moments


def _templates(cadre: _Cadre, rng: random.Random, count: int) -> list[_Template]:
    """`count` different templates for one day: the unit's work, now and then a project's,
    something other (其他工作) or after hours (八小时外)."""
    pool = (*FAMILY[cadre.unit], *FAMILY[cadre.unit], *COMMON)
    chosen: list[_Template] = []
    while len(chosen) < count:
        template = rng.choice(pool)
        if template not in chosen:
            chosen.append(template)
    projects = PROJECTS_OF.get(cadre.number, ())
    if chosen and projects and rng.random() < 0.35:
        chosen[0] = rng.choice(PROJECT_WORK[rng.choice(projects)])
    if len(chosen) > 1 and rng.random() < 0.06:
        chosen[1] = rng.choice(OTHER)
    if chosen and rng.random() < 0.12:
        chosen[-1] = rng.choice(AFTER_HOURS)
    return chosen


def _project_of(template: _Template) -> str | None:
    for project, templates in PROJECT_WORK.items():
        if template in templates:
            return project
    return None


def _plan_day(
    cadre: _Cadre,
    day: date,
    today: date,
    now: datetime,
    policy: LogPolicy,
    progress: Sequence[tuple[str, str]],
) -> _Day | None:
    """The cadre's log of a working day they were not away, or None for a day missed."""
    rng = random.Random(f"{cadre.roster_id}:{day.isoformat()}")
    late = False
    if day == today:
        if cadre.today is False or (cadre.today is None and rng.random() < 0.3):
            return None
    elif not progress and rng.random() < cadre.missing:
        if rng.random() < 0.6:
            return None
        late = True  # backfilled (补记) the next morning
    count = rng.choices((1, 2, 3, 4), (3, 4, 2, 1))[0]
    templates = _templates(cadre, rng, max(count - len(progress), 0))
    moments = _moments(rng, day, len(templates), policy)
    items = []
    for template, at in zip(templates, moments, strict=True):
        values: dict[str, str] = {}
        text = _fill(template.text, rng, values, day)
        if template.kind is EntryKind.AFTER_HOURS:
            at = datetime.combine(day, time(19 + rng.randint(0, 2), rng.randint(0, 59)), at.tzinfo)
        if late:
            at = datetime.combine(day + timedelta(days=1), time(8, 50 + len(items)), at.tzinfo)
        collaborator = _fill(template.collaborator, rng, values, day) or None
        items.append(_Item(text, template.kind, collaborator, _project_of(template), False, at))
    for project, text in progress:
        at = datetime.combine(day, time(16, rng.randint(0, 59)), policy.rules.tz)
        items.append(_Item(text, EntryKind.REGULAR, None, project, True, at))
    items = [item for item in items if item.at <= now]  # today's later items are not sent yet
    if not items:
        return None
    items.sort(key=lambda item: item.at)
    reflection = None
    if cadre.number % 3 == 0 and not late and rng.random() < 0.2:
        moment = datetime.combine(day, time(21, rng.randint(0, 59)), policy.rules.tz)
        if moment <= now:
            reflection = (rng.choice(REFLECTIONS), moment)
    channel = Channel.WEB if rng.random() < 0.2 else Channel.TELEGRAM
    return _Day(day, tuple(items), late, channel, reflection)


def _counted_back(working: Sequence[date], back: int) -> date | None:
    """The working day `back` places before the end of `working` (1 = the last), if any."""
    return working[-back] if 0 < back <= len(working) else None


# -- the use case --------------------------------------------------------------------------------


class DemoRefused(DomainError):
    """The database holds a real roster (or the demo's could not be imported)."""


@dataclass(frozen=True, slots=True)
class DemoPerson:
    roster_id: str
    name: str
    unit: str
    position: str


@dataclass(frozen=True)
class DemoReport:
    """What one run wrote; the log counts are of this run only."""

    first_run: bool
    people: int
    units: int
    projects: int
    entries: int
    reflections: int
    absences: int
    progress: int
    ratings: int
    log_from: date | None  # the first and last day logged by this run, None: nothing
    log_to: date | None
    cadre: DemoPerson
    supervisor: DemoPerson
    rater: DemoPerson

    def render(self) -> str:
        if self.first_run:
            return zh.DEMO_SEEDED.format(
                county=COUNTY,
                units=self.units,
                people=self.people,
                start=self.log_from or "—",
                end=self.log_to or "—",
                entries=self.entries,
                reflections=self.reflections,
                absences=self.absences,
                projects=self.projects,
                progress=self.progress,
                ratings=self.ratings,
            )
        if self.entries:
            return zh.DEMO_TOPPED_UP.format(
                people=self.people, start=self.log_from, end=self.log_to, entries=self.entries
            )
        return zh.DEMO_UP_TO_DATE.format(people=self.people)


def _person(number: int) -> DemoPerson:
    cadre = BY_NUMBER[number]
    return DemoPerson(cadre.roster_id, cadre.name, cadre.unit, cadre.position)


@dataclass
class _Written:
    entries: int = 0
    reflections: int = 0
    absences: int = 0
    progress: int = 0
    first_day: date | None = None
    last_day: date | None = None


class DemoService:
    """Seeds (or tops up) the demo organization; see the module docstring."""

    def __init__(
        self,
        uow: UowFactory,
        clock: Clock,
        policy: LogPolicy,
        roster: RosterService,
        project_import: ProjectImportService,
        rating: RatingService,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy
        self.roster = roster
        self.project_import = project_import
        self.rating = rating

    @classmethod
    def of(cls, services: Services) -> DemoService:
        entries = services.entries
        return cls(
            entries.uow,
            services.clock,
            entries.policy,
            services.roster,
            services.project_import,
            services.rating,
        )

    async def seed(self) -> DemoReport:
        """Seed the demo, or top it up; DemoRefused (nothing written) on a real roster."""
        now = self.clock.now()
        today = self.policy.work_date(now)
        start = today - timedelta(days=MONTH_DAYS)
        async with self.uow() as uow:
            stored = set(await uow.people.stored_for_import())
        real = sorted(rid for rid in stored if not rid.startswith(PREFIX))
        if real:
            raise DemoRefused(zh.DEMO_REFUSED.format(count=len(real), example=real[0]))
        roster = await self.roster.import_rows(self._roster_rows(start, first=not stored))
        if roster.refused:
            raise DemoRefused(roster.render())
        await self.project_import.import_rows(_project_rows(today))

        async with self.uow() as uow:
            people = await uow.people.stored_for_import()
            ids = {rid: person.id for rid, person in people.items()}
            scope = PeopleScope(person_ids=tuple(ids.values()))
            logged = await uow.entries.activity(
                scope, today - timedelta(days=TOP_UP_LOOKBACK_DAYS), today
            )
            last = max((max(days) for days, _ in logged.values()), default=None)
            first = last is None
            since = start if last is None else max(start, last + timedelta(days=1))
            written = await self._write_log(uow, ids, since, today, now, first)
            rated = await self._rated(uow, ids, Period.containing("quarter", today).label)
            await uow.audit.record(
                now,
                "demo_seeded",
                detail={
                    "first": first,
                    "entries": written.entries,
                    "absences": written.absences,
                    "progress": written.progress,
                },
            )
            await uow.commit()
        ratings = await self._rate(ids, rated)
        return DemoReport(
            first_run=first,
            people=len(people),
            units=len(UNITS),
            projects=len(_project_rows(today)),
            entries=written.entries,
            reflections=written.reflections,
            absences=written.absences,
            progress=written.progress,
            ratings=ratings,
            log_from=written.first_day,
            log_to=written.last_day,
            cadre=_person(LOGIN_CADRE),
            supervisor=_person(LOGIN_SUPERVISOR),
            rater=_person(LOGIN_RATER),
        )

    @staticmethod
    def _roster_rows(start: date, *, first: bool) -> list[RosterRow]:
        """The roster; on the first run everyone joins on the log's first day (到岗日期), so
        earlier days are not due; later runs keep the stored day."""
        return [
            RosterRow(
                line=line,
                roster_id=cadre.roster_id,
                name=cadre.name,
                unit=cadre.unit,
                position=cadre.position,
                supervisor_id=demo_id(cadre.supervisor) if cadre.supervisor else "",
                role=cadre.roles,
                parent_unit=UNITS[cadre.unit][0],
                unit_category=UNITS[cadre.unit][1],
                joined_on=start.isoformat() if first else "",
            )
            for line, cadre in enumerate(CADRES, start=2)
        ]

    async def _write_log(
        self,
        uow: UnitOfWork,
        ids: dict[str, int],
        since: date,
        today: date,
        now: datetime,
        first: bool,
    ) -> _Written:
        """Entries from `since` to today on working days; on the first run also the absences
        and progress updates. Does not commit."""
        calendar = self.policy.calendar
        days = [
            since + timedelta(days=n)
            for n in range((today - since).days + 1)
            if calendar.is_working_day(since + timedelta(days=n))
        ]
        before_today = [day for day in days if day < today]
        away: set[tuple[int, date]] = set()
        progress: dict[tuple[int, date], list[tuple[str, str]]] = {}
        written = _Written()
        if first:
            written.absences = await self._absences(uow, ids, before_today, now, away)
            for number, project, back, text in PROGRESS:
                day = _counted_back(before_today, back)
                if day is not None:
                    progress.setdefault((number, day), []).append((project, text))

        projects = await uow.projects.by_name()
        updates: list[tuple[Project, ProjectUpdate]] = []
        for cadre in CADRES:
            person_id = ids[cadre.roster_id]
            for day in days:
                if (cadre.number, day) in away:
                    continue
                reports = progress.get((cadre.number, day), ())
                planned = _plan_day(cadre, day, today, now, self.policy, reports)
                if planned is None:
                    continue
                entries = self._entries(person_id, planned, projects)
                await uow.entries.insert_numbered(entries)
                written.entries += len(entries)
                written.first_day = min(written.first_day or day, day)
                written.last_day = max(written.last_day or day, day)
                for entry, item in zip(entries, planned.items, strict=True):
                    if item.progress and item.project is not None:
                        project = projects[item.project]
                        updates.append((project, self._update(project, entry, item, planned)))
                if planned.reflection is not None:
                    text, at = planned.reflection
                    await uow.entries.add_reflection(
                        Reflection(
                            person_id=person_id,
                            work_date=day,
                            text=text,
                            created_at=at,
                            updated_at=at,
                        )
                    )
                    written.reflections += 1
        await uow.projects.add_updates([update for _, update in updates])
        for project, update in sorted(updates, key=lambda pair: pair[1].at):
            if update.completed_yuan is not None:
                project.completed_yuan = update.completed_yuan
            project.last_update_at = update.at
            project.updated_at = now
        await uow.projects.flush()
        written.progress = len(updates)
        return written

    @staticmethod
    def _entries(person_id: int, planned: _Day, projects: Mapping[str, Project]) -> list[LogEntry]:
        return [
            LogEntry(
                person_id=person_id,
                work_date=planned.day,
                text=item.text,
                kind=item.kind.value,
                collaborator=item.collaborator,
                project_id=projects[item.project].id if item.project else None,
                is_late=planned.late,
                is_overlong=is_overlong(item.text),
                attachment_file_id=None,
                channel=planned.channel.value,
                source_key=None,
                source_part=None,
                withdrawn=False,
                created_at=item.at,
                updated_at=item.at,
            )
            for item in planned.items
        ]

    @staticmethod
    def _update(project: Project, entry: LogEntry, item: _Item, planned: _Day) -> ProjectUpdate:
        """The progress update an item is too, as /progress writes it."""
        return ProjectUpdate(
            project_id=project.id,
            person_id=entry.person_id,
            at=item.at,
            work_date=entry.work_date,
            text=item.text,
            completed_yuan=find_investment(item.text),
            entry_id=entry.id,
            source=planned.channel.value,
        )

    async def _absences(
        self,
        uow: UnitOfWork,
        ids: dict[str, int],
        working: Sequence[date],
        now: datetime,
        away: set[tuple[int, date]],
    ) -> int:
        """The first run's leave, trip and training; their working days go into `away`."""
        count = 0
        for number, reason, back, length in ABSENCES:
            start = _counted_back(working, back)
            if start is None:
                continue
            span = [day for day in working if day >= start][:length]
            at = datetime.combine(start - timedelta(days=1), time(17, 20), self.policy.rules.tz)
            await uow.entries.add_absence(
                Absence(
                    person_id=ids[demo_id(number)],
                    start_date=span[0],
                    end_date=span[-1],
                    reason=reason,
                    kind=absence_kind(reason),
                    created_at=min(at, now),
                    withdrawn=False,
                )
            )
            away.update((number, day) for day in span)
            count += 1
        return count

    @staticmethod
    async def _rated(uow: UnitOfWork, ids: dict[str, int], quarter: str) -> set[int]:
        """Which of the demo's ratings already exist this quarter (kept, whatever they say)."""
        return {
            number
            for number, _ in RATINGS
            if await uow.scoring.rating(ids[demo_id(number)], quarter) is not None
        }

    async def _rate(self, ids: dict[str, int], rated: set[int]) -> int:
        """The missing ratings, as the rater gives them with /rate (quota checked)."""
        count = 0
        for number, word in RATINGS:
            if number in rated:
                continue
            try:
                await self.rating.rate(ids[demo_id(LOGIN_RATER)], demo_id(number), word)
            except DomainError:
                continue  # e.g. a configured 好 cap lower than the demo expects
            count += 1
        return count
