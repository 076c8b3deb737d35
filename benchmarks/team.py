"""Latency of /team and /review over a quarter of a 35,000-cadre county, against one raw query.

Generates a county (about 1,000 units in a parent tree, 35,000 cadres with supervisors,
one quarter of entries: about 6 million rows, with gaps, absences, withdrawn, late and edited
entries), then times through the service layer, with the clock on the quarter's last day:

- /team 2026Q4 of a supervisor with exactly 50 direct reports;
- /review of one of those reports for a month (one page) and for the quarter (more than
  `review_file_over` entries: every entry, sent as a file).

Each is compared with one indexed raw SQL query run on the same engine (a connection from its
pool, one statement, all rows fetched), alternating service and raw calls in one run. The
generated database is kept (a file under the temp directory for SQLite, the schema
`bench_team` on PostgreSQL) and reused while its size and the migrations match. Run from
the repository root:

    .venv/bin/python -m benchmarks.team --db both
    .venv/bin/python -m benchmarks.team --db postgresql --pg-url postgresql+asyncpg://u@host/db
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import uvloop
from alembic.script import ScriptDirectory
from sqlalchemy import Date, bindparam, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.config import Config
from scheduler.calendar import WorkCalendar
from scoring.dates import Period
from services.clock import FrozenClock
from storage.db import create_engine
from storage.migrate import alembic_config, upgrade

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUARTER = Period.quarter(2026, 4)
MONTH = Period.month(2026, 12)
TODAY = QUARTER.end
NOW = datetime(2026, 12, 31, 18, 30, tzinfo=SHANGHAI)  # after work on the quarter's last day
TEAM_SIZE = 50
TARGET_P95_MS = 50.0
TARGET_RATIO = 3.0
PG_SCHEMA = "bench_team"
DEFAULT_PG_URL = os.environ.get(
    "WORKLOG_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# Bump when the generated data changes: cached databases of another version are rebuilt.
GENERATOR_VERSION = "2"
# The official calendar: National Day 10-01…10-07 off, Saturday 10-10 worked instead (调休).
CALENDAR = WorkCalendar()

UNIT_COLUMNS = ("id", "name", "parent_id")
PEOPLE_COLUMNS = (
    "id",
    "roster_id",
    "name",
    "unit_id",
    "position",
    "supervisor_id",
    "roles",
    "telegram_user_id",
    "bot_blocked_at",
    "active",
    "bound_at",
    "created_at",
    "updated_at",
)
ABSENCE_COLUMNS = ("id", "person_id", "start_date", "end_date", "reason", "created_at", "withdrawn")
ENTRY_COLUMNS = (
    "id",
    "person_id",
    "work_date",
    "item_no",
    "text",
    "kind",
    "collaborator",
    "project_id",
    "is_late",
    "is_overlong",
    "attachment_file_id",
    "channel",
    "source_key",
    "source_part",
    "withdrawn",
    "created_at",
    "updated_at",
)
HISTORY_COLUMNS = ("id", "entry_id", "changed_by", "changed_at", "action", "before", "after")
LOADED_TABLES = ("units", "people", "absences", "log_entries", "entry_history")

# The floor each command is compared with: one statement over the same indexes.
TEAM_SQL = text(
    "SELECT e.person_id, COUNT(DISTINCT e.work_date), COUNT(*),"
    " SUM(CASE WHEN e.is_late THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN e.is_overlong THEN 1 ELSE 0 END)"
    " FROM people p JOIN log_entries e ON e.person_id = p.id"
    " WHERE p.supervisor_id = :supervisor AND p.active"
    " AND e.work_date >= :start AND e.work_date <= :end AND NOT e.withdrawn"
    " GROUP BY e.person_id"
).bindparams(bindparam("start", type_=Date), bindparam("end", type_=Date))
# The same figures a review shows: every column of the period's entries and whether each was
# ever edited (已修改).
REVIEW_SQL = text(
    "SELECT " + ", ".join(f"e.{c}" for c in ENTRY_COLUMNS) + ","
    " EXISTS (SELECT 1 FROM entry_history h WHERE h.entry_id = e.id"
    " AND h.action IN ('edit', 'kind', 'collaborator', 'restore'))"
    " FROM log_entries e"
    " WHERE e.person_id = :person AND e.work_date >= :start AND e.work_date <= :end"
    " ORDER BY e.work_date, e.item_no"
).bindparams(bindparam("start", type_=Date), bindparam("end", type_=Date))


# -- the generated county ---------------------------------------------------------------------


def _words(*lines: str) -> list[str]:
    return [word for line in lines for word in line.split()]


SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌辉鹏宇浩然晨阳雪梅琳海峰"
BUREAUS = _words(
    "县委办公室 县政府办公室 县委组织部 县委宣传部 县委统战部 县委政法委 县纪委监委",
    "县发改委 县教育局 县科技局 县工信局 县公安局 县民政局 县司法局 县财政局 县人社局",
    "县自然资源局 县生态环境局 县住建局 县交通运输局 县水利局 县农业农村局 县商务局",
    "县文旅局 县卫健委 县退役军人事务局 县应急管理局 县审计局 县市场监管局 县统计局",
    "县医保局 县林业局 县信访局 县行政审批局 县城管局 县乡村振兴局 县数据局 县机关事务局",
    "县总工会 团县委 县妇联 县科协 县工商联 县融媒体中心",
)
TOWNS = _words(
    "城关镇 东关镇 西湖镇 南山镇 北塘镇 青石镇 白沙镇 龙泉乡 桃源乡 柳河乡 双河镇",
    "金川镇",
)
PLACE = "东西南北上下大小新老清白青红黄金石木水山河湖泉桥岭坪沟湾坝"
SECTIONS = _words(
    "办公室 综合股 政策法规股 规划股 财务股 人事股 督查室 信息中心 项目办 审批股",
    "执法大队 服务中心 监督股 宣传股 党建办 产业股 计划股 安全股 统计股 档案室",
    "社会事务办 经济发展办 村镇建设办",
)
VERBS = (
    "与{u}对接",
    "参加{u}召开的",
    "起草",
    "审核",
    "赴{p}调研",
    "牵头推进",
    "督办",
    "整理",
    "汇报",
    "陪同领导检查",
    "配合{u}开展",
    "协调解决",
)
OBJECTS = (
    "项目用地报批事宜",
    "年度工作总结",
    "安全生产专项检查",
    "信访件办理情况",
    "重点项目推进会",
    "乡村振兴示范点建设",
    "财政资金拨付手续",
    "党风廉政建设责任制落实情况",
    "防汛物资储备",
    "营商环境问题清单",
    "人大代表建议办理",
    "民生实事项目进度",
    "季度经济运行分析",
    "档案数字化工作",
    "政务服务窗口运行",
    "干部教育培训计划",
    "招商引资项目洽谈",
    "农村人居环境整治",
    "统计报表",
    "疫苗接种点巡查",
    "校园安全隐患排查",
    "老旧小区改造方案",
    "河长制巡河记录",
)
DETAILS = (
    "",
    "",
    "",
    "，形成会议纪要",
    "，已报分管领导",
    "，下周继续跟进",
    "，发现问题3处已督促整改",
    "，共计12份材料",
    "，协调解决2个难点问题",
    "，约谈相关负责人",
    "，梳理存在问题并提出建议",
)
REASONS = ("请假", "出差", "培训", "会议", "下乡驻村")


def _stamp_sqlite(moment: datetime) -> str:
    """A timestamp as SQLAlchemy stores a UTC DateTime in SQLite."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _stamp_pg(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Spec:
    """What to generate: the size of the county and how many working days hold entries."""

    people: int = 35_000
    days: int | None = None  # the last N working days up to TODAY; None: the whole quarter
    seed: int = 20261231

    def meta(self) -> dict[str, str]:
        return {
            "generator": GENERATOR_VERSION,
            "people": str(self.people),
            "days": str(self.days or 0),
            "seed": str(self.seed),
            "migrations": _migrations_head(),
        }


@dataclass
class Habit:
    """How one cadre logs: entries a day, how often a day is skipped, when they left."""

    pid: int
    chat: int | None  # Telegram account; None: logs on the web page
    mean: float
    gap: float
    until: date | None = None  # left the roster after this day
    absent: set[date] = field(default_factory=set)


@dataclass
class County:
    """The generated roster, ready to insert, and the people the benchmark times."""

    units: list[tuple[Any, ...]]
    people: list[tuple[Any, ...]]
    absences: list[tuple[Any, ...]]
    habits: list[Habit]
    supervisor: int
    team: list[int]


class Generator:
    """Deterministic county and entries, rows formatted for one dialect."""

    def __init__(self, spec: Spec, sqlite_rows: bool) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.day = (lambda d: d.isoformat()) if sqlite_rows else (lambda d: d)
        self.stamp = _stamp_sqlite if sqlite_rows else _stamp_pg
        last = TODAY
        days = [d for d in QUARTER.days() if CALENDAR.is_working_day(d)]
        first = days[-spec.days] if spec.days else QUARTER.start
        self.entry_days = [d for d in QUARTER.days() if first <= d <= last]
        self.working = [d for d in self.entry_days if CALENDAR.is_working_day(d)]
        self.texts = self._texts()
        self.entries = 0
        self.history = 0
        # Live and withdrawn entries of the timed team, per person: (quarter, month).
        self.team_counts: dict[int, list[int]] = {}

    # -- roster ---------------------------------------------------------------------------

    def county(self) -> County:
        rng = self.rng
        n = self.spec.people
        if n < 200:
            raise ValueError("at least 200 people: the timed team alone has 51")
        n_units = max(6, round(n / 35))
        n_top = max(2, round(n_units * 0.08))
        n_sections = n_units - 1 - n_top - 1  # besides the root, the top units and the team's
        # Bureaus first, then townships; a bigger county gets more townships.
        top_names = [*BUREAUS, *TOWNS]
        top_names += [a + b + "乡" for a in PLACE for b in PLACE if a != b][: max(0, n_top)]
        top_names = list(dict.fromkeys(top_names))[:n_top]
        units: list[tuple[Any, ...]] = [(1, "某县县委县政府", None)]
        for i, name in enumerate(top_names):
            units.append((i + 2, name, 1))
        section_parent: list[int] = []
        used: set[str] = set()
        for i in range(n_sections + 1):
            parent = 2 + (i % n_top if i < n_top * 2 else rng.randrange(n_top))
            base = units[parent - 1][1] + SECTIONS[i % len(SECTIONS)]
            name, k = base, 1
            while name in used:
                k += 1
                name = f"{base}{k}"
            used.add(name)
            units.append((len(units) + 1, name, parent))
            section_parent.append(parent)
        team_unit = len(units)  # the last section: head and 50 staff, nobody else

        # People per unit: the root's leaders, a few at each top unit, the rest in sections.
        root_size = 8
        top_sizes = [rng.randint(4, 9) for _ in range(n_top)]
        rest = n - root_size - sum(top_sizes) - (TEAM_SIZE + 1)
        if rest < 2 * n_sections:
            raise ValueError("too few people for the generated units")
        weights = [rng.lognormvariate(0, 0.6) for _ in range(n_sections)]
        total = sum(weights)
        sizes = [max(2, int(rest * w / total)) for w in weights]
        i = 0
        while sum(sizes) != rest:  # spread the rounding
            j = i % n_sections
            if sum(sizes) < rest:
                sizes[j] += 1
            elif sizes[j] > 2:
                sizes[j] -= 1
            i += 1

        people: list[list[Any]] = []
        habits: list[Habit] = []
        leaders: dict[int, list[int]] = {}  # unit -> [head, deputies...]
        created = self.stamp(datetime(2026, 9, 1, 9, tzinfo=SHANGHAI))

        def add(unit: int, position: str, supervisor: int | None, staff: bool) -> int:
            pid = len(people) + 1
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2))))
            bound = rng.random() > 0.03
            leaves = staff and unit != team_unit and rng.random() < 0.015
            people.append(
                [
                    pid,
                    f"G{pid:06d}",
                    name,
                    unit,
                    position,
                    supervisor,
                    "cadre",
                    700_000_000 + pid if bound else None,
                    None,
                    not leaves,
                    created if bound else None,
                    created,
                    created,
                ]
            )
            roll = rng.random()
            gap = 0.02 if roll < 0.85 else 0.15 if roll < 0.97 else 0.5
            habit = Habit(pid, 700_000_000 + pid if bound else None, rng.uniform(1.6, 4.2), gap)
            if leaves:
                habit.until = rng.choice(self.working) if self.working else None
            habits.append(habit)
            return pid

        def staff_unit(unit: int, size: int, boss: int) -> None:
            head = add(unit, "负责人", boss, staff=False)
            deputies = [add(unit, "副职", head, staff=False) for _ in range(size // 12)]
            leaders[unit] = [head, *deputies]
            for _ in range(size - 1 - len(deputies)):
                add(unit, "科员", rng.choice(leaders[unit]), staff=True)

        # The county's leaders: each top unit answers to one of them (分管县领导).
        county_head = add(1, "书记", None, staff=False)
        county_leaders = [add(1, "县领导", county_head, staff=False) for _ in range(root_size - 1)]
        for i, size in enumerate(top_sizes):
            unit = i + 2
            head = add(unit, "局长", rng.choice(county_leaders), staff=False)
            deputies = [add(unit, "副局长", head, staff=False) for _ in range(max(1, size // 3))]
            leaders[unit] = [head, *deputies]
            for _ in range(size - 1 - len(deputies)):
                add(unit, "科员", rng.choice(deputies), staff=True)
        for i, size in enumerate(sizes):
            parent = section_parent[i]
            staff_unit(n_top + 2 + i, size, rng.choice(leaders[parent]))
        supervisor = add(team_unit, "负责人", rng.choice(leaders[section_parent[-1]]), False)
        team = [add(team_unit, "科员", supervisor, staff=True) for _ in range(TEAM_SIZE)]
        self.team_counts = {pid: [0, 0] for pid in team}

        has_reports = {row[5] for row in people if row[5] is not None}
        for row in people:
            if row[0] in has_reports:
                row[6] = "cadre,supervisor"
            if row[4] == "局长":
                row[6] += ",rater"
        people[1][6] += ",admin"  # 组织部: not timed
        absences = self._absences(habits)
        return County(units, [tuple(r) for r in people], absences, habits, supervisor, team)

    def _absences(self, habits: list[Habit]) -> list[tuple[Any, ...]]:
        rng = self.rng
        rows: list[tuple[Any, ...]] = []
        if not self.working:
            return rows
        for habit in habits:
            if rng.random() >= 0.15:
                continue
            for _ in range(rng.choice((1, 1, 2))):
                start = rng.choice(self.working)
                end = start + timedelta(days=rng.choice((0, 0, 1, 2, 4, 6, 9)))
                withdrawn = rng.random() < 0.08
                rows.append(
                    (
                        len(rows) + 1,
                        habit.pid,
                        self.day(start),
                        self.day(end),
                        rng.choice(REASONS),
                        self.stamp(datetime.combine(start, datetime.min.time(), SHANGHAI)),
                        withdrawn,
                    )
                )
                if not withdrawn:
                    day = start
                    while day <= end:
                        habit.absent.add(day)
                        day += timedelta(days=1)
        return rows

    # -- entries ----------------------------------------------------------------------------

    def _texts(self) -> list[str]:
        rng = random.Random(self.spec.seed + 1)
        units = [*BUREAUS, *TOWNS]
        texts = []
        for _ in range(4096):
            verb = rng.choice(VERBS).format(u=rng.choice(units), p=rng.choice(TOWNS))
            texts.append(verb + rng.choice(OBJECTS) + rng.choice(DETAILS))
        return texts

    def entry_chunks(
        self, habits: Sequence[Habit]
    ) -> Iterable[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """(entries, history) of each day in turn, in the order the entries arrived."""
        rng = self.rng
        rand = rng.random
        bits = rng.getrandbits
        texts = self.texts
        overlong_text = "（详细情况）" * 90
        collaborators = [*BUREAUS, *TOWNS, "张局长", "李主任", "王书记", "群众代表", "企业负责人"]
        stamps: dict[date, list[Any]] = {}
        first = self.entry_days[0] if self.entry_days else TODAY
        for offset in range((TODAY - first).days + 1):
            d = first + timedelta(days=offset)
            base = datetime.combine(d, datetime.min.time(), SHANGHAI) + timedelta(hours=8)
            stamps[d] = [self.stamp(base + timedelta(minutes=m)) for m in range(0, 900, 3)]
        messages = [0] * (len(habits) + 2)
        team = self.team_counts
        for day in self.entry_days:
            working = CALENDAR.is_working_day(day)
            wd = self.day(day)
            same = stamps[day]
            rows: list[tuple[Any, ...]] = []
            history: list[tuple[Any, ...]] = []
            for habit in habits:
                if habit.until is not None and day > habit.until:
                    continue
                if working:
                    if rand() < habit.gap or day in habit.absent:
                        continue
                    mean = habit.mean
                    k = int(mean) + (rand() < mean - int(mean))
                    roll = rand()
                    k += -1 if roll < 0.15 and k > 1 else 1 if roll > 0.85 else 0
                elif rand() < 0.02:  # weekend or holiday duty
                    k = 1
                else:
                    continue
                pid = habit.pid
                late = day < TODAY and rand() < 0.04
                later = stamps[min(TODAY, day + timedelta(days=1 + bits(1)))] if late else same
                one_message = rand() < 0.6
                if habit.chat is None or rand() < 0.02:
                    channel, chat = "web", f"web{pid}"
                else:
                    channel, chat = "telegram", str(habit.chat)
                if one_message:
                    messages[pid] += 1
                    key = f"{chat}:{messages[pid]}"
                created = later[bits(8) % 290]
                for item in range(1, k + 1):
                    if not one_message:
                        messages[pid] += 1
                        key = f"{chat}:{messages[pid]}"
                        created = later[bits(8) % 290]
                    self.entries += 1
                    entry_id = self.entries
                    overlong = rand() < 0.007
                    withdrawn = rand() < 0.015
                    edited = rand() < 0.01
                    roll = rand()
                    kind = "regular" if roll < 0.85 else "other" if roll < 0.95 else "after_hours"
                    body = texts[bits(12)]
                    updated = created
                    if edited:
                        updated = later[-1]
                        self.history += 1
                        history.append(
                            (
                                self.history,
                                entry_id,
                                pid,
                                updated,
                                "edit",
                                json.dumps({"text": body[:6]}, ensure_ascii=False),
                                json.dumps({"text": body}, ensure_ascii=False),
                            )
                        )
                    if withdrawn:
                        updated = later[-1]
                        self.history += 1
                        history.append(
                            (self.history, entry_id, pid, updated, "withdraw", "{}", "{}")
                        )
                    rows.append(
                        (
                            entry_id,
                            pid,
                            wd,
                            item,
                            body + overlong_text if overlong else body,
                            kind,
                            collaborators[bits(5) % len(collaborators)] if rand() < 0.25 else None,
                            None,
                            late,
                            overlong,
                            None,
                            channel,
                            key,
                            item - 1 if one_message else 0,
                            withdrawn,
                            created,
                            updated,
                        )
                    )
                if pid in team:
                    team[pid][0] += k
                    if day >= MONTH.start:
                        team[pid][1] += k
            yield rows, history


class Progress:
    """Phases of the generation, timed, on stderr."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.started = self.last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        print(f"  {self.what}: {phase} in {now - self.last:.1f} s", file=sys.stderr, flush=True)
        self.last = now

    def total(self) -> float:
        return time.perf_counter() - self.started


def _migrations_head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def _pick_report(generator: Generator, review_file_over: int) -> tuple[int, int]:
    """A report whose quarter comes as a file (if any does): the median of those."""
    counts = sorted((q, pid) for pid, (q, _) in generator.team_counts.items())
    over = [c for c in counts if c[0] > review_file_over] or counts
    quarter, pid = over[len(over) // 2]
    return pid, quarter


# -- storing the county --------------------------------------------------------------------------


@dataclass
class Generated:
    """What the cached database holds, read back from its bench_meta table."""

    supervisor: int
    report: int
    report_who: str
    units: int
    people: int
    entries: int
    seconds: float  # to generate; 0 when reused
    reused: bool


def _meta_rows(spec: Spec, county: County, gen: Generator, report: int) -> dict[str, str]:
    names = [row[2] for row in county.people if row[5] == county.supervisor]
    report_row = county.people[report - 1]
    who = report_row[2] if names.count(report_row[2]) == 1 else report_row[1]
    return {
        **spec.meta(),
        "supervisor": str(county.supervisor),
        "report": str(report),
        "report_who": who,
        "units": str(len(county.units)),
        "people_rows": str(len(county.people)),
        "entries": str(gen.entries),
        "complete": "yes",
    }


def _generated(meta: dict[str, str], seconds: float, reused: bool) -> Generated:
    return Generated(
        int(meta["supervisor"]),
        int(meta["report"]),
        meta["report_who"],
        int(meta["units"]),
        int(meta["people_rows"]),
        int(meta["entries"]),
        seconds,
        reused,
    )


def _matches(meta: dict[str, str], spec: Spec) -> bool:
    wanted = spec.meta()
    return meta.get("complete") == "yes" and all(meta.get(k) == v for k, v in wanted.items())


def sqlite_path(cache_dir: Path, spec: Spec) -> Path:
    days = spec.days or "all"
    return cache_dir / f"team-{spec.people}p-{days}d-{spec.seed}.db"


async def prepare_sqlite(path: Path, spec: Spec, fresh: bool, review_file_over: int) -> Generated:
    """The SQLite database of `spec` at `path`, generated unless a matching one is there."""
    if path.exists() and not fresh:
        with sqlite3.connect(path) as db:
            try:
                meta = dict(db.execute("SELECT key, value FROM bench_meta").fetchall())
            except sqlite3.DatabaseError:
                meta = {}
            if (
                _matches(meta, spec)
                and int(meta["entries"])
                == db.execute("SELECT COUNT(*) FROM log_entries").fetchone()[0]
            ):
                return _generated(meta, 0.0, reused=True)
    progress = Progress("SQLite")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    await engine.dispose()
    progress("migrated")

    gen = Generator(spec, sqlite_rows=True)
    county = gen.county()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        # Only this connection: fast and unsafe while generating, WAL again at the end.
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("CREATE TABLE bench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        # Declared indexes are built after the load (unique constraints cannot be dropped).
        marks = ", ".join("?" * len(LOADED_TABLES))
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({marks})",
            LOADED_TABLES,
        ).fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')

        def insert(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
            marks = ", ".join("?" * len(columns))
            db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

        db.execute("BEGIN")
        insert("units", UNIT_COLUMNS, county.units)
        insert("people", PEOPLE_COLUMNS, county.people)
        insert("absences", ABSENCE_COLUMNS, county.absences)
        db.execute("COMMIT")
        for rows, history in gen.entry_chunks(county.habits):
            db.execute("BEGIN")
            insert("log_entries", ENTRY_COLUMNS, rows)
            insert("entry_history", HISTORY_COLUMNS, history)
            db.execute("COMMIT")
        progress(f"{gen.entries:,} entries inserted")
        for _, sql in indexes:
            db.execute(sql)
        progress("indexes built")
        report, _ = _pick_report(gen, review_file_over)
        meta = _meta_rows(spec, county, gen, report)
        db.execute("BEGIN")
        insert("bench_meta", ("key", "value"), list(meta.items()))
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()
    return _generated(meta, progress.total(), reused=False)


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_engine(url: str, schema: str | None = None) -> AsyncEngine:
    """The product's engine for `url`, with every connection's search_path on bench_team."""
    engine = create_engine(url)
    schema = schema or PG_SCHEMA

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(lambda conn: conn.execute(f'SET search_path TO "{schema}"'))

    event.listen(engine.sync_engine, "connect", on_connect)
    return engine


async def prepare_pg(
    url: str, spec: Spec, fresh: bool, review_file_over: int, schema: str = PG_SCHEMA
) -> Generated:
    """The schema `schema` of `spec`, generated unless a matching one is there."""
    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".bench_meta')
        if exists and not fresh:
            meta = dict(await conn.fetch(f'SELECT key, value FROM "{schema}".bench_meta'))
            if _matches(meta, spec):
                count = await conn.fetchval(f'SELECT COUNT(*) FROM "{schema}".log_entries')
                if count == int(meta["entries"]):
                    return _generated(meta, 0.0, reused=True)
        progress = Progress("PostgreSQL")
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    engine = pg_engine(url, schema)
    await upgrade(engine)
    await engine.dispose()
    progress("migrated")

    gen = Generator(spec, sqlite_rows=False)
    county = gen.county()
    conn = await asyncpg.connect(_pg_dsn(url), server_settings={"search_path": schema})
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute("CREATE TABLE bench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        # Indexes and constraints are dropped for the load and built again afterwards.
        constraints = await conn.fetch(
            "SELECT t.relname AS tab, c.conname, pg_get_constraintdef(c.oid) AS d, c.contype"
            " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
            " JOIN pg_namespace n ON n.oid = t.relnamespace"
            " WHERE n.nspname = $1 AND t.relname = ANY($2::text[])"
            " AND c.contype IN ('u', 'f')",
            schema,
            list(LOADED_TABLES),
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1"
            " AND tablename = ANY($2::text[]) AND indexname NOT IN (SELECT c.conname"
            " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
            " WHERE n.nspname = $1)",
            schema,
            list(LOADED_TABLES),
        )
        for row in constraints:
            if row["contype"] == "f":
                await conn.execute(f'ALTER TABLE {row["tab"]} DROP CONSTRAINT "{row["conname"]}"')
        for row in constraints:
            if row["contype"] == "u":
                await conn.execute(f'ALTER TABLE {row["tab"]} DROP CONSTRAINT "{row["conname"]}"')
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')

        async def copy(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
            if rows:
                await conn.copy_records_to_table(
                    table, records=rows, columns=list(columns), schema_name=schema
                )

        await copy("units", UNIT_COLUMNS, county.units)
        await copy("people", PEOPLE_COLUMNS, county.people)
        await copy("absences", ABSENCE_COLUMNS, county.absences)
        for rows, history in gen.entry_chunks(county.habits):
            await copy("log_entries", ENTRY_COLUMNS, rows)
            await copy("entry_history", HISTORY_COLUMNS, history)
        progress(f"{gen.entries:,} entries copied")
        for row in indexes:
            await conn.execute(row["indexdef"])
        for kind in ("u", "f"):
            for row in constraints:
                if row["contype"] == kind:
                    await conn.execute(
                        f'ALTER TABLE {row["tab"]} ADD CONSTRAINT "{row["conname"]}" {row["d"]}'
                    )
        progress("indexes and constraints built")
        for table in LOADED_TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{schema}.{table}', 'id'),"
                f" (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        report, _ = _pick_report(gen, review_file_over)
        meta = _meta_rows(spec, county, gen, report)
        await conn.executemany("INSERT INTO bench_meta VALUES ($1, $2)", list(meta.items()))
        # What autovacuum would have done by the end of a quarter.
        await conn.execute("VACUUM ANALYZE")
        progress("vacuumed and analysed")
    finally:
        await conn.close()
    return _generated(meta, progress.total(), reused=False)


# -- timing ------------------------------------------------------------------------------------


@dataclass
class Figures:
    """One command: service and raw latencies in ms, their ratios, what it returned."""

    command: str
    service_p50: float
    service_p95: float
    raw_p50: float
    raw_p95: float
    statements: int  # SQL statements the service ran for one call
    rows: str  # what came back

    @property
    def ratio_p50(self) -> float:
        return self.service_p50 / self.raw_p50

    @property
    def ratio_p95(self) -> float:
        return self.service_p95 / self.raw_p95

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "ratio_p50": round(self.ratio_p50, 2),
            "ratio_p95": round(self.ratio_p95, 2),
        }


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def measure(
    engine: AsyncEngine, generated: Generated, iterations: int, warmup: int
) -> list[Figures]:
    """Time the three commands through the services and as raw queries, alternating."""
    config = Config()
    wiring = build_services(config, engine, FrozenClock(NOW))
    review = wiring.services.review
    async with engine.begin() as conn:  # reads recorded by earlier runs
        await conn.execute(text("DELETE FROM audit_log"))
    supervisor, report, who = generated.supervisor, generated.report, generated.report_who

    async def raw(statement: Any, **params: Any) -> list[Any]:
        async with engine.connect() as conn:
            return list((await conn.execute(statement, params)).all())

    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    commands: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = [
        (
            f"/team {QUARTER.label}",
            lambda: review.team(supervisor, QUARTER.label),
            lambda: raw(TEAM_SQL, supervisor=supervisor, start=QUARTER.start, end=QUARTER.end),
        ),
        (
            f"/review {MONTH.label}",
            lambda: review.review(supervisor, who, MONTH.label),
            lambda: raw(REVIEW_SQL, person=report, start=MONTH.start, end=MONTH.end),
        ),
        (
            f"/review {QUARTER.label}",
            lambda: review.review(supervisor, who, QUARTER.label),
            lambda: raw(REVIEW_SQL, person=report, start=QUARTER.start, end=QUARTER.end),
        ),
    ]
    results = []
    for name, service, floor in commands:
        for _ in range(warmup):
            await service()
            await floor()
        service_ms, raw_ms = [], []
        for _ in range(iterations):
            service_ms.append(await _timed(service))
            raw_ms.append(await _timed(floor))
        statements = 0
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            view = await service()
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        raw_rows = len(await floor())
        if name.startswith("/team"):
            shown = f"{len(view.rows)} of {view.total} reports shown; raw {raw_rows} rows"
        else:
            how = "file" if view.as_file else f"page 1 of {view.pages}"
            shown = f"{view.total} entries ({how}); raw {raw_rows} rows"
        results.append(
            Figures(
                name,
                round(percentile(service_ms, 0.5), 2),
                round(percentile(service_ms, 0.95), 2),
                round(percentile(raw_ms, 0.5), 2),
                round(percentile(raw_ms, 0.95), 2),
                statements,
                shown,
            )
        )
    return results


def verdicts(figures: Sequence[Figures]) -> tuple[bool, bool]:
    """(every service p95 under the latency target, every ratio under the ratio target)."""
    fast = all(f.service_p95 < TARGET_P95_MS for f in figures)
    close = all(f.ratio_p50 < TARGET_RATIO and f.ratio_p95 < TARGET_RATIO for f in figures)
    return fast, close


async def run(
    database: str,
    spec: Spec,
    *,
    iterations: int,
    warmup: int,
    fresh: bool = False,
    cache_dir: Path | None = None,
    pg_url: str = DEFAULT_PG_URL,
) -> dict[str, Any]:
    """Prepare (or reuse) the database, time the commands, return the figures."""
    review_file_over = Config().review.review_file_over
    if database == "sqlite":
        path = sqlite_path(cache_dir or Path(tempfile.gettempdir()) / "worklog-bench", spec)
        generated = await prepare_sqlite(path, spec, fresh, review_file_over)
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        where = str(path)
    else:
        generated = await prepare_pg(pg_url, spec, fresh, review_file_over)
        engine = pg_engine(pg_url)
        where = f"{make_url(pg_url).render_as_string()} schema {PG_SCHEMA}"
    try:
        async with engine.connect() as conn:
            version = (
                (await conn.execute(text("SELECT sqlite_version()"))).scalar()
                if database == "sqlite"
                else (await conn.execute(text("SHOW server_version"))).scalar()
            )
        figures = await measure(engine, generated, iterations, warmup)
    finally:
        await engine.dispose()
    fast, close = verdicts(figures)
    return {
        "database": database,
        "version": version,
        "where": where,
        "generated": asdict(generated),
        "iterations": iterations,
        "figures": figures,
        "p95_target_met": fast,
        "ratio_target_met": close,
    }


def report(result: dict[str, Any]) -> str:
    g = result["generated"]
    how = "reused" if g["reused"] else f"generated in {g['seconds']:.0f} s"
    lines = [
        f"{result['database']} {result['version']} ({result['where']}): {g['people']:,} people, "
        f"{g['units']:,} units, {g['entries']:,} entries; {how}; {result['iterations']} "
        "iterations after warm-up, ms",
        f"  {'command':<16} {'service p50':>11} {'p95':>7} {'raw p50':>8} {'p95':>7} "
        f"{'ratio p50':>9} {'p95':>5} {'stmts':>5}  returned",
    ]
    for f in result["figures"]:
        lines.append(
            f"  {f.command:<16} {f.service_p50:>11.2f} {f.service_p95:>7.2f} {f.raw_p50:>8.2f} "
            f"{f.raw_p95:>7.2f} {f.ratio_p50:>9.2f} {f.ratio_p95:>5.2f} {f.statements:>5}  "
            f"{f.rows}"
        )
    met = {True: "met", False: "NOT met"}
    lines.append(
        f"  target p95 < {TARGET_P95_MS:.0f} ms: {met[result['p95_target_met']]}; "
        f"target ratio < {TARGET_RATIO:.0f} (p50 and p95): {met[result['ratio_target_met']]}"
    )
    return "\n".join(lines)


def county_arguments(description: str, iterations: int, warmup: int) -> argparse.ArgumentParser:
    """The options of a benchmark over the generated county (this one and benchmarks.scoring)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--people", type=int, default=35_000)
    parser.add_argument(
        "--days", type=int, help="working days with entries, back from 2026-12-31 (default: all)"
    )
    parser.add_argument("--iterations", type=int, default=iterations)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--fresh", action="store_true", help="generate even if a cache matches")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="SQLAlchemy URL of PostgreSQL")
    parser.add_argument("--cache-dir", type=Path, help="where the SQLite database is kept")
    return parser


async def main() -> None:
    args = county_arguments(__doc__.split("\n")[0], iterations=100, warmup=10).parse_args()
    spec = Spec(args.people, args.days)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results = []
    for kind in kinds:
        result = await run(
            kind,
            spec,
            iterations=args.iterations,
            warmup=args.warmup,
            fresh=args.fresh,
            cache_dir=args.cache_dir,
            pg_url=args.pg_url,
        )
        print(report(result), flush=True)
        results.append(result)
    summary = [
        {
            "database": r["database"],
            "entries": r["generated"]["entries"],
            **{f.command: f.as_dict() for f in r["figures"]},
        }
        for r in results
    ]
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    uvloop.run(main())
