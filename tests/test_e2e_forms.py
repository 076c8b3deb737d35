"""End-to-end: the monthly summary (/summary) and the quarterly 5+2 form (/fivetwo) on a phone.

The real Application and durable intake run against the fake Bot API, on SQLite and on
PostgreSQL. The dialogues live in the database: each flow stops the bot half-way and goes on
with a new one on the same database. While a form waits for text, plain messages go to it
and not to the log (the reply says so); /cancel leaves it, and an idle dialogue expires.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services import zh
from services.forms import CONVERSATION_IDLE, SUMMARY_LIMIT
from storage.models import AuditLog, Conversation, FiveTwoForm, LogEntry, MonthlySummary
from tests.fakebot import FakeBotApi, FakeUser
from tests.harness import BotHarness, buttons, press, send

ZHANG = FakeUser(id=1101, first_name="伟")
LI = FakeUser(id=1102, first_name="娜")
BOSS = FakeUser(id=1100, first_name="局")

ZHANG_LOG = (
    "1.到城关镇调研乡村振兴项目推进情况\n"
    "2.与县财政局核对项目资金预算\n"
    "3.开展安全生产大检查，检查企业5家\n"
    "4.接待来访群众3人次，登记信访事项2件\n"
    "5.召开招商引资项目推进会，对接客商3批\n"
    "6.审核城关镇人居环境整治项目资金拨付材料\n"
    "7.值班"
)
LI_LOG = "走访光伏产业园区企业12家，收集用电诉求"
FORM_HINT = zh.FORM_CANCEL_HINT


class Bots:
    """The bot, which a test may stop and start again on the same database."""

    def __init__(self, api: FakeBotApi, clock: Any, db_url: str) -> None:
        self.bot = BotHarness(api, clock, db_url)

    async def restart(self) -> BotHarness:
        """Stop the bot (as a deploy would) and start a new one on the same database."""
        await self.bot.stop()
        self.bot = BotHarness(self.bot.api, self.bot.clock, self.bot.db_url)
        await self.bot.start()
        return self.bot


@pytest.fixture
async def bots(api: FakeBotApi, clock: Any, db_url: str) -> AsyncIterator[Bots]:
    holder = Bots(api, clock, db_url)
    await holder.bot.start()
    try:
        yield holder
    finally:
        await holder.bot.stop()


async def office(bot: BotHarness) -> None:
    """张伟 and 李娜 under 周局, each with this morning's log."""
    await bot.enrol(BOSS, "A000", "周局", roles="cadre,supervisor")
    await bot.enrol(ZHANG, "A001", "张伟", supervisor="A000")
    await bot.enrol(LI, "A002", "李娜", supervisor="A000")
    assert (await send(bot, ZHANG, ZHANG_LOG))["text"].startswith("已记录 11月20日 7条：")
    assert (await send(bot, LI, LI_LOG))["text"].startswith("已记录 11月20日 1条：")


async def entry_texts(bot: BotHarness) -> list[str]:
    return [e.text for e in await bot.entries()]


def summary_prompt(head: str, body: str, hint: str) -> str:
    return "\n".join([head, body, hint, FORM_HINT])


# -- /summary --------------------------------------------------------------------------------


async def test_summary_draft_edit_restart_confirm(bots):
    bot = bots.bot
    await office(bot)
    logged = await entry_texts(bot)

    reply = await send(bot, ZHANG, "/summary")
    [row] = await bot.rows(MonthlySummary)
    draft = row.draft
    assert reply["text"] == summary_prompt(
        "2026年11月工作小结草稿（根据您的日志生成）：", draft, zh.SUMMARY_OPEN_HINT
    )
    assert buttons(reply) == [[("✅ 确认提交", "sm:2026-11:ok")]]
    # The draft is 张伟's own log: his counts, his work, nothing of 李娜, no routine.
    assert draft.split("\n")[:2] == [
        "2026年11月工作小结",
        "本月记工作日志1天、7条（日常工作7条，其他工作0条，八小时外0条）。",
    ]
    assert "安全生产" in draft and "1. " in draft
    assert "光伏" not in draft and "值班" not in draft

    # The edited text goes to the form, not to the log.
    edited = "本月重点抓招商引资和安全生产。\n下月推进项目建设。"
    reply = await send(bot, ZHANG, edited)
    assert reply["text"] == summary_prompt(
        "已收到2026年11月工作小结修改稿（未记入日志）：", edited, zh.SUMMARY_EDITED_HINT
    )
    assert buttons(reply) == [[("✅ 确认提交", "sm:2026-11:ok")]]
    assert await entry_texts(bot) == logged

    # A deploy in the middle: the next message still goes to the form.
    bot = await bots.restart()
    final = "本月重点抓招商引资和安全生产，检查企业5家。\n下月推进项目建设。"
    reply = await send(bot, ZHANG, final)
    assert reply["text"].startswith("已收到2026年11月工作小结修改稿（未记入日志）：\n" + final)
    assert await entry_texts(bot) == logged

    # 确认: a new message says it is stored; the prompt loses its button.
    mark = bot.api.mark()
    answer = await press(bot, ZHANG, reply["message_id"], "sm:2026-11:ok")
    [done] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    assert done["text"] == f"已提交2026年11月工作小结（{len(final)}字）。"
    assert answer["text"] == done["text"]
    assert buttons(bot.api.message(ZHANG.id, reply["message_id"])) == []
    [row] = await bot.rows(MonthlySummary)
    assert (row.text, row.confirmed_at, row.draft) == (final, bot.clock.now(), draft)
    assert await bot.count(Conversation) == 0
    # The same button again is stale; the log works as before.
    answer = await press(bot, ZHANG, reply["message_id"], "sm:2026-11:ok", edits=False)
    assert answer == {
        "callback_query_id": answer["callback_query_id"],
        "text": zh.STALE_BUTTON,
        "show_alert": True,
    }
    reply = await send(bot, ZHANG, "与县自然资源局对接项目用地问题")
    assert reply["text"].startswith("已记录 11月20日 1条：")

    # Later the cadre revises it: the confirmed text is shown, the old one kept in the audit.
    reply = await send(bot, ZHANG, "/summary")
    assert reply["text"] == summary_prompt(
        "您已于11月20日提交2026年11月工作小结：", final, zh.SUMMARY_CONFIRMED_HINT
    )
    await send(bot, ZHANG, "修订后的小结")
    mark = bot.api.mark()
    await press(bot, ZHANG, reply["message_id"], "sm:2026-11:ok")
    [done] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    assert done["text"] == "已更新2026年11月工作小结（6字），原内容已留档。"
    [trail] = await bot.rows(AuditLog, AuditLog.action == "summary_replaced")
    assert json.loads(trail.detail) == {
        "month": "2026-11",
        "before": final,
        "after": "修订后的小结",
    }


async def test_cancel_limits_edits_expiry_and_forged_buttons(bot):
    await office(bot)
    logged = await entry_texts(bot)
    assert (await send(bot, ZHANG, "/cancel"))["text"] == zh.NOTHING_TO_CANCEL

    prompt = await send(bot, ZHANG, "/summary")
    # Empty and too long texts are refused in the form's words; nothing is logged or kept.
    in_form = zh.FORM_IN_PROGRESS.format(form="工作小结")
    assert (await send(bot, ZHANG, "。。。"))["text"] == zh.SUMMARY_EMPTY + in_form
    too_long = "长" * (SUMMARY_LIMIT + 1)
    assert (await send(bot, ZHANG, too_long))["text"] == (
        zh.SUMMARY_TOO_LONG.format(limit=SUMMARY_LIMIT) + in_form
    )
    async with bot.db() as db:
        state = json.loads((await db.get(Conversation, (await bot.person("A001")).id)).state)
    assert state["text"] is None

    # An edit of a message the form took is not logged either.
    mark = bot.api.mark()
    update = bot.api.send_text(ZHANG, "写了一半")
    await bot.api.wait_for_reply(ZHANG.id, since=mark)
    mark = bot.api.mark()
    bot.api.edit_text(ZHANG, update["message"]["message_id"], "写了一半，改一下")
    [reply] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    assert reply["text"] == zh.EDIT_IN_FORM.format(form="工作小结")
    assert await entry_texts(bot) == logged

    # Forged and foreign buttons: refused, nothing moves.
    for data in ("sm:2026-10:ok", "sm:2026-11:xx", "ft:2026Q4:b1", "ft:2026Q4:s", "ft:9999Q9:n"):
        answer = await press(bot, ZHANG, prompt["message_id"], data, edits=False)
        assert answer["text"] == zh.STALE_BUTTON, data
    li_reply = bot.api.last_message_to(LI.id)
    assert li_reply is not None
    answer = await press(bot, LI, li_reply["message_id"], "sm:2026-11:ok", edits=False)
    assert answer["text"] == zh.STALE_BUTTON
    [row] = await bot.rows(MonthlySummary)
    assert row.confirmed_at is None and row.text is None

    # /cancel: the form is left, messages are logged again.
    assert (await send(bot, ZHANG, "/cancel"))["text"] == zh.CANCELLED.format(form="工作小结")
    reply = await send(bot, ZHANG, "整理档案")
    assert reply["text"].startswith("已记录 11月20日 1条：")
    answer = await press(bot, ZHANG, prompt["message_id"], "sm:2026-11:ok", edits=False)
    assert answer["text"] == zh.STALE_BUTTON

    # A dialogue left alone expires: the next message is a log message.
    await send(bot, ZHANG, "/summary")
    bot.clock.advance(seconds=CONVERSATION_IDLE.total_seconds())
    reply = await send(bot, ZHANG, "陪同市领导调研园区企业")
    assert reply["text"].startswith("已记录 11月20日 1条：")
    # Started again, it goes on where it was; 确认 may be typed instead of tapped.
    reply = await send(bot, ZHANG, "/summary")
    assert reply["text"].startswith(zh.FORM_RESUMED + "\n")
    reply = await send(bot, ZHANG, "确认")
    assert reply["text"].startswith("已提交2026年11月工作小结（")
    assert (await bot.rows(MonthlySummary))[0].confirmed_at == bot.clock.now()

    # The monthly job's notice carries a button that opens the form of its month.
    notice = bot.api.last_message_to(LI.id)
    assert notice is not None
    mark = bot.api.mark()
    bot.api.press_button(LI, notice["message_id"], "sm:2026-11:go", strict=False)
    [reply] = await bot.api.wait_for_reply(LI.id, since=mark)
    assert reply["text"].startswith("2026年11月工作小结草稿（根据您的日志生成）：\n")
    assert "光伏产业园区" in reply["text"] and "城关镇" not in reply["text"]
    assert (await send(bot, LI, "取消"))["text"] == zh.CANCELLED.format(form="工作小结")
    assert (await send(bot, LI, "整理档案"))["text"].startswith("已记录 11月20日 1条：")
    assert await entry_texts(bot) == [*logged, "整理档案", "陪同市领导调研园区企业", "整理档案"]


# -- /fivetwo --------------------------------------------------------------------------------


async def test_fivetwo_pick_type_restart_and_submit(bots):
    bot = bots.bot
    await office(bot)
    mark = bot.api.mark()
    assert (await send(bot, BOSS, "/comment 张伟 - 材料报送不及时"))["text"].startswith("已给张伟")
    # The comment's notice reaches 张伟 first, so it cannot pass for the /fivetwo reply below.
    [notice] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    assert "材料报送不及时" in notice["text"]
    logged = await entry_texts(bot)

    prompt = await send(bot, ZHANG, "/fivetwo")
    lines = prompt["text"].split("\n")
    assert lines[:3] == [
        "2026年第四季度 5+2实绩登记表",
        "第1步（共3步）：选出5项最满意的工作，已选0/5。",
        zh.FIVETWO_CHOOSE,
    ]
    assert lines[-2:] == [zh.FIVETWO_TYPE_HINT, FORM_HINT]
    listed = lines[3:-2]
    # Suggestions from 张伟's own log only, the routine left out; the concern waits for step 2.
    assert listed == [
        "1. 接待来访群众3人次，登记信访事项2件",
        "2. 审核城关镇人居环境整治项目资金拨付材料",
        "3. 到城关镇调研乡村振兴项目推进情况",
        "4. 召开招商引资项目推进会，对接客商3批",
        "5. 开展安全生产大检查，检查企业5家",
        "6. 与县财政局核对项目资金预算",
    ]
    assert all(line.split(". ", 1)[1] in ZHANG_LOG for line in listed)
    assert not any("值班" in line or "光伏" in line or "材料报送" in line for line in listed)
    rows = buttons(prompt)
    assert rows[0] == [(str(n), f"ft:2026Q4:b{n}") for n in range(1, 6)]
    assert rows[-1] == [("下一步 ▶", "ft:2026Q4:n")]

    # Two taps redraw the message; 下一步 with too few is refused in an alert.
    await press(bot, ZHANG, prompt["message_id"], "ft:2026Q4:b2")
    await press(bot, ZHANG, prompt["message_id"], "ft:2026Q4:b1")
    shown = bot.api.message(ZHANG.id, prompt["message_id"])
    assert "已选2/5" in shown["text"] and "1. ✅ " in shown["text"]
    assert buttons(shown)[0][:2] == [("✅1", "ft:2026Q4:b1"), ("✅2", "ft:2026Q4:b2")]
    answer = await press(bot, ZHANG, prompt["message_id"], "ft:2026Q4:n", edits=False)
    assert answer["text"] == zh.FIVETWO_NEED_BEST.format(count=2)
    assert answer["show_alert"] is True

    # Typed items are the cadre's own, chosen at once; not logged.
    reply = await send(bot, ZHANG, "牵头完成县重点项目年度考核\n组织全县项目观摩")
    assert reply["text"].startswith("已添加2项（未记入日志）。\n2026年第四季度 5+2实绩登记表\n")
    assert "已选4/5" in reply["text"]
    assert await entry_texts(bot) == logged

    # A deploy: the buttons of the message sent before it still work.
    bot = await bots.restart()
    await press(bot, ZHANG, prompt["message_id"], "ft:2026Q4:b3")
    await press(bot, ZHANG, prompt["message_id"], "ft:2026Q4:n")
    shown = bot.api.message(ZHANG.id, prompt["message_id"])
    assert "第2步（共3步）：选出2项不够满意的工作，已选0/2。" in shown["text"]
    assert "材料报送不及时（上级意见）" in shown["text"]
    concern = next(
        data
        for row in buttons(shown)
        for label, data in row
        if data.startswith("ft:2026Q4:w")
        and shown["text"].split(f"{label}. ", 1)[1].startswith("材料报送不及时")
    )
    await press(bot, ZHANG, prompt["message_id"], concern)
    reply = await send(bot, ZHANG, "档案整理进度偏慢")
    assert "已选2/2" in reply["text"]
    await press(bot, ZHANG, reply["message_id"], "ft:2026Q4:n")
    shown = bot.api.message(ZHANG.id, reply["message_id"])
    assert "第3步（共3步）：请直接发送自评（1000字以内）。" in shown["text"]
    assert buttons(shown) == [[("◀ 上一步", "ft:2026Q4:p")]]

    reply = await send(bot, ZHANG, "本季度完成了主要任务，作风还需更扎实。")
    assert "自评：本季度完成了主要任务，作风还需更扎实。" in reply["text"]
    assert buttons(reply) == [[("◀ 上一步", "ft:2026Q4:p"), ("✅ 提交", "ft:2026Q4:s")]]
    mark = bot.api.mark()
    answer = await press(bot, ZHANG, reply["message_id"], "ft:2026Q4:s")
    [done] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    assert answer["text"] == "已提交2026年第四季度 5+2实绩登记表。"
    [form] = await bot.rows(FiveTwoForm)
    best = json.loads(form.best)
    # In the order picked: two taps, two typed, one tap after the restart.
    assert len(best) == 5 and best[2:4] == ["牵头完成县重点项目年度考核", "组织全县项目观摩"]
    assert json.loads(form.weaker) == ["材料报送不及时", "档案整理进度偏慢"]
    assert form.self_assessment == "本季度完成了主要任务，作风还需更扎实。"
    assert form.submitted_at == bot.clock.now()
    assert done["text"] == "\n".join(
        [
            "已提交2026年第四季度 5+2实绩登记表。",
            "最满意的工作：",
            *(f"{n}. {text}" for n, text in enumerate(best, 1)),
            "不够满意的工作：",
            "1. 材料报送不及时",
            "2. 档案整理进度偏慢",
            "自评：本季度完成了主要任务，作风还需更扎实。",
        ]
    )
    assert await bot.count(Conversation) == 0
    assert await entry_texts(bot) == logged
    # 李娜 has no form; 张伟's buttons are stale now.
    answer = await press(bot, ZHANG, reply["message_id"], "ft:2026Q4:s", edits=False)
    assert answer["text"] == zh.STALE_BUTTON
    assert await bot.count(FiveTwoForm) == 1
    assert await bot.count(LogEntry) == len(logged)


async def test_help_lists_the_forms(bot):
    await bot.enrol(ZHANG, "A001", "张伟")
    [text] = await bot.say(ZHANG, "/help")
    for line in (
        "/summary 月度工作小结",
        "/fivetwo 季度5+2实绩登记表",
        "/cancel 退出正在填写的表单",
    ):
        assert line in text
