"""End-to-end /chart, as on a phone: the real Application, intake and outbox sender against
the fake Bot API, on SQLite and PostgreSQL. The picture arrives as a photo (sendPhoto); the
tests decode the PNG the bot uploaded and look at its pixels and its caption.

Friday 2026-11-20, 10:00. 王科 supervises 张三 and 陈六; 张三 logs two items this morning.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from services import charts, zh
from storage.models import AuditLog, OutboxMessage
from tests.fakebot import FakeUser
from tests.harness import BotHarness

SUP = FakeUser(3001, "科")
TARGET = FakeUser(3002, "三")
CADRE = FakeUser(3005, "六")
STRANGER = FakeUser(6666, "陌生人")
# November 2026 starts on a Sunday: six week rows; the 20th is a Friday in the fourth.
WEEKS = 6
AXES = (0.03, 0.14, 0.94, 0.71)  # where heat_map_figure puts the calendar
MISSED = 14  # working days of November before the 20th


async def office(bot: BotHarness) -> None:
    await bot.enrol(SUP, "A001", "王科")
    await bot.enrol(TARGET, "A002", "张三", supervisor="A001")
    await bot.enrol(CADRE, "A005", "陈六", supervisor="A001")
    [reply] = await bot.say(TARGET, "1.到城关镇调研乡村振兴项目推进情况\n2.起草月度工作总结")
    assert reply.startswith("已记录 11月20日 2条"), reply


async def chart(bot: BotHarness, user: FakeUser, text: str = "/chart") -> dict[str, Any]:
    """Send `text`; the bot's one reply as the user sees it."""
    mark = bot.api.mark()
    bot.api.send_text(user, text)
    [reply] = await bot.api.wait_for_reply(user.id, since=mark, timeout=20)
    return reply


def picture(bot: BotHarness, reply: dict[str, Any]) -> np.ndarray:
    """The photo's pixels as RGB 0–255, from the PNG the bot uploaded."""
    assert "photo" in reply, reply
    data = bot.api.photo_bytes(reply)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 200_000
    pixels = imread(io.BytesIO(data), format="png")
    return (pixels[:, :, :3] * 255).round().astype(int)


def rgb(colour: str) -> tuple[int, ...]:
    return tuple(round(c * 255) for c in to_rgb(colour))


def cell(pixels: np.ndarray, day: int, x: float = 0.8, y: float = 0.3) -> tuple[int, ...]:
    """The colour at (x, y) inside the square of November `day` (a blank corner by default)."""
    row, column = divmod(6 + day - 1, 7)
    left, bottom, width, height = AXES
    fx = left + width * (column + x) / 7
    fy = bottom + height * (WEEKS - (row + y)) / (WEEKS + 0.5)
    rows, cols = pixels.shape[:2]
    return tuple(pixels[round((1 - fy) * rows), round(fx * cols)])


def colours(pixels: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(p) for p in pixels.reshape(-1, 3)}


async def reads(bot: BotHarness) -> list[tuple[str, str | None, dict]]:
    names = {p.id: p.name for p in [await bot.person(r) for r in ("A001", "A002", "A005")]}
    rows = await bot.rows(AuditLog, AuditLog.action == "read")
    return [(names[r.subject_person_id], r.command, json.loads(r.detail)) for r in rows]


async def test_a_cadre_gets_their_month_as_a_heat_map_photo(bot: BotHarness) -> None:
    await office(bot)
    reply = await chart(bot, TARGET)
    assert reply["caption"] == "张三 2026年11月 日志热力图\n应记15天 已记1天 请假0天 完成率 7%"
    assert [(p["width"], p["height"]) for p in reply["photo"]][-1] == (800, 600)
    pixels = picture(bot, reply)
    assert pixels.shape[:2] == (600, 800)
    assert cell(pixels, 20) == rgb(charts.COUNT_COLOURS[1])  # two entries today
    assert cell(pixels, 20, x=0.05, y=0.5) == rgb(charts.TODAY_EDGE)  # today is outlined
    assert cell(pixels, 19, x=0.05, y=0.5) != rgb(charts.TODAY_EDGE)
    for day in (2, 13, 19):
        assert cell(pixels, day) == rgb(charts.MISSING_COLOUR), day
    for day in (1, 7, 21):
        assert cell(pixels, day) == rgb(charts.REST_COLOUR), day
    assert cell(pixels, 23) == rgb(charts.OPEN_COLOUR)  # ahead: nothing due yet
    # Sent from the outbox as the reply of the update, once; one's own log is not audited.
    await bot.settle()
    [row] = await bot.rows(OutboxMessage, OutboxMessage.document_name.is_not(None))
    assert (row.kind, row.status, row.document_name) == ("reply", "sent", "month_A002_2026-11.png")
    assert len(bot.api.calls("sendPhoto")) == 1
    assert await reads(bot) == []


async def test_a_supervisor_gets_the_team_chart_and_their_own_with_me(bot: BotHarness) -> None:
    await office(bot)
    reply = await chart(bot, SUP)
    assert reply["caption"] == (
        "2026年11月 团队日志完成率（2人），完成率低的在上。\n"
        "/team 看明细  /chart 我 看自己的日志热力图"
    )
    pixels = picture(bot, reply)
    assert pixels.shape[:2] == (600, 800)
    seen = colours(pixels)
    assert rgb(charts.LOW_COLOUR) in seen  # both are below 80 %
    assert rgb(charts.OK_COLOUR) in seen  # the legend
    assert await reads(bot) == [
        ("陈六", "chart", {"period": "2026-11"}),
        ("张三", "chart", {"period": "2026-11"}),
    ]

    own = await chart(bot, SUP, "/chart 我")
    assert own["caption"] == (
        "王科 2026年11月 日志热力图\n应记14天 已记0天 请假0天 完成率 0%\n看团队完成率：/chart"
    )
    mine = picture(bot, own)
    assert [cell(mine, day) for day in (2, 19)] == [rgb(charts.MISSING_COLOUR)] * 2
    assert cell(mine, 20) == rgb(charts.OPEN_COLOUR)  # today: still to come
    assert len(await reads(bot)) == 2  # nothing more audited

    quarter = await chart(bot, SUP, "/chart 本季度")
    assert quarter["caption"].startswith("2026年第4季度 团队日志完成率（2人）")
    assert len(await reads(bot)) == 4


async def test_bad_periods_and_strangers_get_a_clear_reply(bot: BotHarness) -> None:
    await office(bot)
    before = await bot.count(OutboxMessage)
    for user, text, answer in [
        (TARGET, "/chart 2026Q4", zh.CHART_MONTH_ONLY.format(text="2026Q4")),
        (TARGET, "/chart 2027-01", zh.CHART_FUTURE_PERIOD.format(label="2027年1月")),
        (TARGET, "/chart 乱写一通", zh.CHART_BAD_PERIOD.format(text="乱写一通")),
        (SUP, "/chart 本周", zh.CHART_TEAM_PERIOD.format(text="本周")),
        (STRANGER, "/chart", zh.NOT_REGISTERED),
    ]:
        reply = await chart(bot, user, text)
        assert reply.get("text") == answer, text
        assert "photo" not in reply
    assert bot.api.calls("sendPhoto") == []
    assert await bot.count(OutboxMessage) == before
    assert await reads(bot) == []


async def test_help_names_chart_for_whom_it_does_what(bot: BotHarness) -> None:
    await office(bot)
    cadre_help = zh.HELP_CADRE.format(rollover=4, window=3)
    assert await bot.say(CADRE, "/help") == [cadre_help]
    assert "/chart" in cadre_help
    supervisor = await bot.say(SUP, "/help")
    assert supervisor == [cadre_help + zh.HELP_SUPERVISOR.format(count=2)]
    assert "/chart 我" in supervisor[0]
    assert ("chart", "本月日志热力图（上级：团队完成率图）") in zh.COMMANDS
