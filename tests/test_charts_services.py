"""ChartService without Telegram, on SQLite and PostgreSQL: whose chart, the audit of reports
read, the photo queued as the update's reply, and refusals that store nothing.

The clock stands at Friday 2026-11-20 10:00 in Shanghai. 吴科长 supervises 张三 and 李四
(and 孙七, who left the roster); 张三 logged the 2nd–6th and was on a trip the 9th–10th.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from matplotlib.image import imread

from scoring.dates import Period
from services import zh
from services.charts import ChartService, ChartView, DayStatus, HeatMap, TeamChart
from services.errors import NotAllowed, UsageError
from services.outbox import Confirm
from storage.models import Absence, AuditLog, InboxUpdate, LogEntry, OutboxMessage
from tests.services_fixtures import Env, at, processing

pytest_plugins = ("tests.services_fixtures",)

CHAT = 7001


def nov(*days: int) -> list[date]:
    return [date(2026, 11, d) for d in days]


def entry_rows(person_id: int, days: list[date], items: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "person_id": person_id,
            "work_date": day,
            "item_no": n,
            "text": f"与县财政局对接项目资金{day.day}日第{n}项",
            "kind": "regular",
            "is_late": False,
            "is_overlong": False,
            "withdrawn": False,
            "channel": "cli",
            "created_at": at(20),
            "updated_at": at(20),
        }
        for day in days
        for n in range(1, items + 1)
    ]


@dataclass(frozen=True)
class Team:
    boss: int
    zhang: int
    li: int
    gone: int
    loner: int  # no reports, no entries


@pytest.fixture
async def team(env: Env) -> Team:
    boss = await env.person("s001", "吴科长")
    zhang = await env.person("c001", "张三", supervisor_id=boss)
    li = await env.person("c002", "李四", supervisor_id=boss)
    gone = await env.person("c009", "孙七", supervisor_id=boss, active=False)
    loner = await env.person("c005", "陈五")
    rows = entry_rows(zhang, nov(2, 3, 4), items=2) + entry_rows(zhang, nov(5, 6))
    withdrawn = entry_rows(zhang, nov(12))
    withdrawn[0]["withdrawn"] = True  # a withdrawn entry does not count
    await env.insert_rows(LogEntry, rows + withdrawn + entry_rows(boss, nov(19)))
    await env.insert_rows(
        Absence,
        [
            {
                "person_id": zhang,
                "start_date": date(2026, 11, 9),
                "end_date": date(2026, 11, 10),
                "reason": "出差省城招商",
                "kind": "trip",
                "created_at": at(20),
                "withdrawn": False,
            }
        ],
    )
    return Team(boss, zhang, li, gone, loner)


@pytest.fixture
def charts(env: Env) -> ChartService:
    return env.services.charts


def statuses(data: HeatMap) -> dict[int, DayStatus]:
    return {d.day.day: d.status for d in data.days}


async def reads(env: Env) -> list[tuple[int | None, int | None, str | None, dict]]:
    rows = await env.rows(AuditLog, AuditLog.action == "read")
    return [(r.actor_person_id, r.subject_person_id, r.command, json.loads(r.detail)) for r in rows]


def size_of(png: bytes) -> tuple[int, int]:
    return imread(io.BytesIO(png), format="png").shape[:2]


# -- a cadre's month ----------------------------------------------------------------------------


async def test_a_cadre_gets_their_month_as_a_heat_map(
    env: Env, team: Team, charts: ChartService
) -> None:
    view = await charts.chart(team.zhang)
    data = view.data
    assert isinstance(data, HeatMap)
    assert (data.name, data.roster_id, data.period) == ("张三", "c001", Period.month(2026, 11))
    assert not view.supervisor
    days = {d.day.day: d for d in data.days}
    assert [days[n].entries for n in (2, 5, 12)] == [2, 1, 0]
    assert (days[9].status, days[9].absence_kind) == (DayStatus.EXCUSED, "trip")
    assert statuses(data)[12] is DayStatus.MISSING
    assert statuses(data)[20] is DayStatus.PENDING
    c = data.completeness
    assert (c.expected, c.logged, c.excused) == (12, 5, 2)
    assert view.file_name == "month_c001_2026-11.png"
    assert size_of(view.png) == (600, 800)
    # One's own log: no audit line, nothing queued, nothing committed.
    assert await reads(env) == []
    assert await env.count(OutboxMessage) == 0


async def test_a_month_may_be_named(env: Env, team: Team, charts: ChartService) -> None:
    for text in ["10月", "2026-10", "上月", "2026年10月"]:
        data = (await charts.chart(team.zhang, text)).data
        assert data.period == Period.month(2026, 10), text
        assert DayStatus.PENDING not in statuses(data).values()  # type: ignore[arg-type]


async def test_someone_without_entries_still_gets_a_chart(
    env: Env, team: Team, charts: ChartService
) -> None:
    view = await charts.chart(team.loner)
    assert isinstance(view.data, HeatMap)
    assert view.data.entries == 0
    assert view.data.completeness.missing == tuple(nov(*range(2, 7), *range(9, 14), 16, 17, 18, 19))
    assert size_of(view.png) == (600, 800)


async def test_the_photo_is_queued_as_the_reply_of_the_update(
    env: Env, team: Team, charts: ChartService
) -> None:
    inbox_id = await env.inbox_row()
    confirm: Confirm[ChartView] = Confirm(CHAT, lambda v: (f"{v.data.period.label} 热力图", None))
    with processing(inbox_id):
        view = await charts.chart(team.zhang, None, confirm)
    assert confirm.queued
    [reply] = await env.rows(OutboxMessage)
    assert (reply.key, reply.kind, reply.chat_id, reply.person_id) == (
        f"reply:{inbox_id}",
        "reply",
        CHAT,
        None,
    )
    assert (reply.text, reply.document_name) == ("2026-11 热力图", "month_c001_2026-11.png")
    assert reply.document == view.png
    assert (await env.one(InboxUpdate)).status == "done"


# -- a supervisor's team ------------------------------------------------------------------------


async def test_a_supervisor_gets_the_team_chart_and_the_reads_are_audited(
    env: Env, team: Team, charts: ChartService
) -> None:
    view = await charts.chart(team.boss)
    data = view.data
    assert isinstance(data, TeamChart) and view.supervisor
    assert [(b.name, b.completeness.logged, b.completeness.expected) for b in data.bars] == [
        ("李四", 0, 14),  # laggards first; 孙七 left the roster
        ("张三", 5, 12),
    ]
    assert (data.total, data.logged, data.expected, data.to_date) == (2, 5, 26, True)
    assert view.file_name == "team_s001_2026-11.png"
    assert size_of(view.png) == (600, 800)
    assert await reads(env) == [
        (team.boss, team.li, "chart", {"period": "2026-11"}),
        (team.boss, team.zhang, "chart", {"period": "2026-11"}),
    ]


async def test_team_order_is_the_order_of_team(env: Env, team: Team, charts: ChartService) -> None:
    extra = [await env.person(f"c1{n:02d}", f"干部{n}", supervisor_id=team.boss) for n in range(6)]
    await env.insert_rows(
        LogEntry,
        [row for n, pid in enumerate(extra) for row in entry_rows(pid, nov(*range(2, 2 + n)))],
    )
    chart = (await charts.chart(team.boss, "本月")).data
    listed = await env.services.review.team(team.boss)
    assert isinstance(chart, TeamChart)
    assert [b.roster_id for b in chart.bars] == [row.person.roster_id for row in listed.rows]


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("2026Q4", Period.quarter(2026, 4)),
        ("本季度", Period.quarter(2026, 4)),
        ("2026H2", Period.half(2026, 2)),
        ("2026", Period.year(2026)),
        ("上月", Period.month(2026, 10)),
    ],
)
async def test_a_team_chart_covers_a_month_quarter_half_or_year(
    env: Env, team: Team, charts: ChartService, text: str, period: Period
) -> None:
    data = (await charts.chart(team.boss, text)).data
    assert isinstance(data, TeamChart) and data.period == period
    assert (await reads(env))[0][3] == {"period": period.label}


@pytest.mark.parametrize("text", ["我", "me", "我 本月", "本月 我", "ME"])
async def test_a_supervisor_asks_their_own_heat_map_with_me(
    env: Env, team: Team, charts: ChartService, text: str
) -> None:
    view = await charts.chart(team.boss, text)
    assert isinstance(view.data, HeatMap) and view.supervisor
    assert (view.data.name, view.data.period.label) == ("吴科长", "2026-11")
    assert await reads(env) == []


async def test_a_supervisors_own_month_may_be_named(
    env: Env, team: Team, charts: ChartService
) -> None:
    data = (await charts.chart(team.boss, "我 10月")).data
    assert isinstance(data, HeatMap) and data.period == Period.month(2026, 10)


async def test_a_team_chart_reads_in_the_same_few_queries_whatever_the_team(
    env: Env, team: Team, charts: ChartService
) -> None:
    with env.statements() as small:
        await charts.chart(team.boss)
    for n in range(30):
        pid = await env.person(f"x{n:03d}", f"干部{n}", supervisor_id=team.boss)
        await env.insert_rows(LogEntry, entry_rows(pid, nov(2, 3)))
    with env.statements() as large:
        data = (await charts.chart(team.boss)).data
    assert isinstance(data, TeamChart) and data.total == 32
    assert len(large) == len(small)


# -- refusals: a clear reply, nothing stored ---------------------------------------------------


@pytest.mark.parametrize(
    ("who", "text", "reply"),
    [
        ("zhang", "下个月吧", zh.CHART_BAD_PERIOD.format(text="下个月吧")),
        ("zhang", "2026-13", zh.CHART_BAD_PERIOD.format(text="2026-13")),
        ("boss", "张三", zh.CHART_BAD_PERIOD.format(text="张三")),
        ("zhang", "2026-12", zh.CHART_FUTURE_PERIOD.format(label="2026年12月")),
        ("boss", "2027", zh.CHART_FUTURE_PERIOD.format(label="2027年")),
        ("zhang", "2026Q4", zh.CHART_MONTH_ONLY.format(text="2026Q4")),
        ("zhang", "2026", zh.CHART_MONTH_ONLY.format(text="2026")),
        ("boss", "我 本季度", zh.CHART_MONTH_ONLY.format(text="本季度")),
        ("zhang", "昨天", zh.CHART_MONTH_ONLY.format(text="昨天")),
        ("boss", "本周", zh.CHART_TEAM_PERIOD.format(text="本周")),
        ("boss", "11-19", zh.CHART_TEAM_PERIOD.format(text="11-19")),
    ],
)
async def test_bad_periods_are_refused_with_a_hint(
    env: Env, team: Team, charts: ChartService, who: str, text: str, reply: str
) -> None:
    inbox_id = await env.inbox_row()
    confirm: Confirm[ChartView] = Confirm(CHAT, lambda v: ("图", None))
    with processing(inbox_id), pytest.raises(UsageError) as refused:
        await charts.chart(getattr(team, who), text, confirm)
    assert refused.value.reply == reply
    assert not confirm.queued
    assert await env.count(AuditLog) == 0
    assert await env.count(OutboxMessage) == 0
    assert (await env.one(InboxUpdate)).status == "pending"


def test_hints_name_what_to_write() -> None:
    assert "2026-11" in zh.CHART_MONTH_ONLY and "/chart 11月" in zh.CHART_MONTH_ONLY
    assert "2026Q4" in zh.CHART_TEAM_PERIOD and "/chart 我" in zh.CHART_TEAM_PERIOD


async def test_someone_not_on_the_roster_is_refused(
    env: Env, team: Team, charts: ChartService
) -> None:
    for person_id in (team.gone, 999_999):
        with pytest.raises(NotAllowed) as refused:
            await charts.chart(person_id)
        assert refused.value.reply == zh.NOT_REGISTERED
    assert await env.count(AuditLog) == 0
    assert await env.count(OutboxMessage) == 0
