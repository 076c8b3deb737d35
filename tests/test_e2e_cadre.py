"""End-to-end: a cadre keeps a work log through the real bot, as a user would on a phone.

Every scenario runs the real Application and durable intake against the fake Bot API, on
SQLite and on PostgreSQL. Replies are asserted word for word (from bot/zh.py) together with
what was stored, and every refusal is checked to have stored nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services import zh
from storage.models import Absence, AuditLog, EntryHistory, LogEntry, Reflection
from tests.fakebot import FakeUser
from tests.harness import buttons, press

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZHANG = FakeUser(id=1001, first_name="伟")
LI = FakeUser(id=1002, first_name="娜")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


async def send(bot: Any, user: FakeUser, text: str) -> tuple[int, dict[str, Any]]:
    """Send `text`; return the id of the user's message and the bot's reply (edits applied)."""
    mark = bot.api.mark()
    update = bot.api.send_text(user, text)
    [reply] = await bot.api.wait_for_reply(user.id, since=mark)
    return update["message"]["message_id"], reply


def shown(bot: Any, user: FakeUser, message_id: int) -> dict[str, Any]:
    """The bot's message as the user sees it now."""
    message = bot.api.message(user.id, message_id)
    assert message is not None
    return message


async def history(bot: Any) -> list[tuple[int, str, dict, dict]]:
    rows = await bot.rows(EntryHistory)
    return [(r.entry_id, r.action, json.loads(r.before), json.loads(r.after)) for r in rows]


async def rows(bot: Any, model: type) -> list[Any]:
    return await bot.rows(model)


def snapshot(entry: LogEntry) -> tuple:
    return (
        entry.work_date.isoformat(),
        entry.item_no,
        entry.text,
        entry.kind,
        entry.collaborator,
        entry.is_late,
        entry.withdrawn,
    )


async def state(bot: Any) -> tuple:
    """Everything a cadre's commands can change, to prove a refusal changed nothing."""
    entries = [snapshot(e) for e in await bot.entries()]
    reflections = [(r.work_date, r.text) for r in await rows(bot, Reflection)]
    absences = [(a.start_date, a.end_date, a.reason) for a in await rows(bot, Absence)]
    return entries, await history(bot), reflections, absences


async def test_numbered_items_kind_button_withdraw_and_stable_numbers(bot):
    """一事一记 with each numbering style; one tap re-classifies or withdraws; numbers stay."""
    await bot.enrol(ZHANG, "A001", "张伟", unit="县发改委")
    await bot.add_person("A900", "王强", unit="县财政局")

    message_id, reply = await send(
        bot, ZHANG, "1.与县发改委对接项目用地\n2、起草月度工作总结\n3. 走访困难群众"
    )
    assert reply["text"] == (
        "已记录 11月20日 3条：\n"
        "1. 与县发改委对接项目用地（合作者：县发改委）\n"
        "2. 起草月度工作总结\n"
        "3. 走访困难群众（合作者：困难群众）"
    )
    first, second, third = await bot.entries("A001")
    assert [snapshot(e) for e in (first, second, third)] == [
        ("2026-11-20", 1, "与县发改委对接项目用地", "regular", "县发改委", False, False),
        ("2026-11-20", 2, "起草月度工作总结", "regular", None, False, False),
        ("2026-11-20", 3, "走访困难群众", "regular", "困难群众", False, False),
    ]
    key = f"{ZHANG.id}:{message_id}"
    assert [(e.channel, e.source_key, e.source_part) for e in (first, second, third)] == [
        ("telegram", key, 0),
        ("telegram", key, 1),
        ("telegram", key, 2),
    ]
    assert buttons(reply) == [
        [("撤回1", f"w:{first.id}"), ("1：日常工作", f"k:{first.id}:a")],
        [("撤回2", f"w:{second.id}"), ("2：日常工作", f"k:{second.id}:a")],
        [("撤回3", f"w:{third.id}"), ("3：日常工作", f"k:{third.id}:a")],
    ]
    bot_message = reply["message_id"]

    # One tap: 日常工作 → 八小时外; the reply is edited in place and the change is on record.
    answer = await press(bot, ZHANG, bot_message, f"k:{first.id}:a")
    assert answer["text"] == "第1条已改为「八小时外」。"
    edited = shown(bot, ZHANG, bot_message)
    assert (
        edited["text"].split("\n")[1] == "1. 与县发改委对接项目用地【八小时外】（合作者：县发改委）"
    )
    assert buttons(edited)[0] == [("撤回1", f"w:{first.id}"), ("1：八小时外", f"k:{first.id}:o")]
    assert (await bot.entries("A001"))[0].kind == "after_hours"
    assert await history(bot) == [
        (
            first.id,
            "kind",
            {
                "text": "与县发改委对接项目用地",
                "kind": "regular",
                "collaborator": "县发改委",
                "withdrawn": False,
            },
            {
                "text": "与县发改委对接项目用地",
                "kind": "after_hours",
                "collaborator": "县发改委",
                "withdrawn": False,
            },
        )
    ]

    # Withdraw the second item: it stays stored, marked, without buttons.
    answer = await press(bot, ZHANG, bot_message, f"w:{second.id}")
    assert answer["text"] == "已撤回第2条。"
    edited = shown(bot, ZHANG, bot_message)
    assert edited["text"] == (
        "已记录 11月20日 2条：\n"
        "1. 与县发改委对接项目用地【八小时外】（合作者：县发改委）\n"
        "2. （已撤回）起草月度工作总结\n"
        "3. 走访困难群众（合作者：困难群众）"
    )
    assert [row[0][1] for row in buttons(edited)] == [f"w:{first.id}", f"w:{third.id}"]
    entries = await bot.entries("A001")
    assert [e.withdrawn for e in entries] == [False, True, False]
    assert (await history(bot))[-1][:2] == (second.id, "withdraw")

    # An old copy of the buttons (a second tap, another phone) changes nothing more.
    answer = await press(bot, ZHANG, bot_message, f"w:{second.id}", edits=False)
    assert answer["text"] == "第2条已经撤回过了。"
    answer = await press(bot, ZHANG, bot_message, f"k:{second.id}:a", edits=False)
    assert answer == {
        "callback_query_id": answer["callback_query_id"],
        "text": "第2条已撤回，不能再修改。",
        "show_alert": True,
    }
    assert len(await history(bot)) == 2

    # Numbers are stable: the next item is 4, not 3, and /today shows the withdrawn one.
    _, reply = await send(bot, ZHANG, "一、参加全县项目推进会\n二、整理档案")
    assert reply["text"] == "已记录 11月20日 2条：\n4. 参加全县项目推进会\n5. 整理档案"
    _, reply = await send(bot, ZHANG, "①起草项目申报材料②与县财政局核对预算")
    assert reply["text"] == (
        "已记录 11月20日 2条：\n6. 起草项目申报材料\n7. 与县财政局核对预算（合作者：县财政局）"
    )
    _, reply = await send(bot, ZHANG, "/today")
    assert reply["text"] == (
        "11月20日（周五）工作日志 6条\n"
        "1. 与县发改委对接项目用地【八小时外】（合作者：县发改委）\n"
        "2. （已撤回）起草月度工作总结\n"
        "3. 走访困难群众（合作者：困难群众）\n"
        "4. 参加全县项目推进会\n"
        "5. 整理档案\n"
        "6. 起草项目申报材料\n"
        "7. 与县财政局核对预算（合作者：县财政局）"
    )
    assert "reply_markup" not in reply

    # A single-item reply has plain button labels; the kind cycles 八小时外 → 其他工作 → 日常.
    _, reply = await send(bot, ZHANG, "接待来访群众")
    single = (await bot.entries("A001"))[-1]
    assert single.item_no == 8
    assert buttons(reply) == [[("撤回", f"w:{single.id}"), ("类别：日常工作", f"k:{single.id}:a")]]
    await press(bot, ZHANG, reply["message_id"], f"k:{single.id}:a")
    answer = await press(bot, ZHANG, reply["message_id"], f"k:{single.id}:o")
    assert answer["text"] == "第8条已改为「其他工作」。"
    edited = shown(bot, ZHANG, reply["message_id"])
    assert (
        edited["text"] == "已记录 11月20日 1条：\n8. 接待来访群众【其他工作】（合作者：来访群众）"
    )
    assert buttons(edited) == [[("撤回", f"w:{single.id}"), ("类别：其他工作", f"k:{single.id}:r")]]
    assert (await bot.entries("A001"))[-1].kind == "other"


async def test_commands_edit_del_with_reflect_keep_history(bot):
    """/edit, /del, /with and /reflect change today's log and keep every earlier version."""
    await bot.enrol(ZHANG, "A001", "张伟")
    await send(bot, ZHANG, "1.与县发改委对接项目用地\n2.起草月度工作总结")
    first, second = await bot.entries("A001")

    assert await bot.say(ZHANG, "/edit 1 与县财政局对接项目资金") == [
        "已修改第1条：\n1. 与县财政局对接项目资金（合作者：县财政局）"
    ]
    assert await history(bot) == [
        (
            first.id,
            "edit",
            {
                "text": "与县发改委对接项目用地",
                "kind": "regular",
                "collaborator": "县发改委",
                "withdrawn": False,
            },
            {
                "text": "与县财政局对接项目资金",
                "kind": "regular",
                "collaborator": "县财政局",
                "withdrawn": False,
            },
        )
    ]
    assert await bot.say(ZHANG, "/edit 1   与县财政局对接项目资金 ") == ["第1条内容没有变化。"]
    assert len(await history(bot)) == 1

    assert await bot.say(ZHANG, "/del 2") == ["已撤回第2条。"]
    assert await bot.say(ZHANG, "/del 2") == ["第2条已经撤回过了。"]
    assert [e.withdrawn for e in await bot.entries("A001")] == [False, True]
    assert [h[:2] for h in await history(bot)] == [(first.id, "edit"), (second.id, "withdraw")]

    assert await bot.say(ZHANG, "/with 1 县委办") == ["第1条的合作者已改为：县委办"]
    assert (await bot.entries("A001"))[0].collaborator == "县委办"
    assert await bot.say(ZHANG, "/with 1 无") == ["第1条的合作者已清空。"]
    assert (await bot.entries("A001"))[0].collaborator is None
    assert [h[1] for h in await history(bot)] == [
        "edit",
        "withdraw",
        "collaborator",
        "collaborator",
    ]

    assert await bot.say(ZHANG, "/reflect 做群众工作要多听少说") == ["已保存 11月20日 的心得体会。"]
    assert await bot.say(ZHANG, "/reflect 做群众工作要先听后说") == [
        "已更新 11月20日 的心得体会（原内容已留档）。"
    ]
    [reflection] = await rows(bot, Reflection)
    assert (reflection.work_date.isoformat(), reflection.text) == (
        "2026-11-20",
        "做群众工作要先听后说",
    )
    audit = [(a.action, json.loads(a.detail)) for a in await rows(bot, AuditLog)]
    assert audit[-1] == (
        "reflection_replaced",
        {
            "work_date": "2026-11-20",
            "before": "做群众工作要多听少说",
            "after": "做群众工作要先听后说",
        },
    )
    assert await bot.say(ZHANG, "/today") == [
        "11月20日（周五）工作日志 1条\n"
        "1. 与县财政局对接项目资金\n"
        "2. （已撤回）起草月度工作总结\n"
        "心得体会：做群众工作要先听后说"
    ]

    # Wrong input: a reply that says what to do, and nothing stored half-way.
    before = await state(bot)
    refusals = [
        ("/edit", zh.EDIT_USAGE),
        ("/edit x", zh.EDIT_USAGE),
        ("/edit 1", zh.EDIT_USAGE),
        ("/edit 99 参加会议", "今天没有第99条。发送 /today 查看序号。"),
        ("/edit 2 改写撤回的条目", "第2条已撤回，不能再修改。"),
        ("/del", zh.DEL_USAGE),
        ("/del 1 2", zh.DEL_USAGE),
        ("/del x", zh.DEL_USAGE),
        ("/del 3", "今天没有第3条。发送 /today 查看序号。"),
        ("/with", zh.WITH_USAGE),
        ("/with 1", zh.WITH_USAGE),
        ("/with 2 县委办", "第2条已撤回，不能再修改。"),
        ("/reflect", zh.REFLECT_USAGE),
        ("/reflect    ", zh.REFLECT_USAGE),
        ("/reflect " + "长" * 4001, "内容太长（超过4000字），请分几条发送。"),
        ("/nosuchcommand 1", zh.UNKNOWN_COMMAND),
    ]
    for command, expected in refusals:
        assert await bot.say(ZHANG, command) == [expected], command
    assert await state(bot) == before


async def test_after_hours_hint_rollover_and_weekend(bot):
    """Kind defaults to 日常工作; after 17:30 or on a weekend the reply offers 八小时外."""
    await bot.enrol(ZHANG, "A001", "张伟")
    hint_line = "现在是八小时外。如果是八小时外的工作，请点「改为八小时外」。"
    assert await bot.say(ZHANG, "/today") == [
        "11月20日（周五）还没有记录。\n直接发送工作内容即可记录。"
    ]
    assert await bot.say(ZHANG, "/week") == [
        "本周 工作日志\n应记4天 已记0天 请假0天\n完成率 0%\n未记：11-16、11-17、11-18、11-19"
        "\n\n这段时间还没有记录。"
    ]

    _, reply = await send(bot, ZHANG, "整理档案")
    assert reply["text"] == "已记录 11月20日 1条：\n1. 整理档案"

    bot.clock.set(at(11, 20, 20))
    _, reply = await send(bot, ZHANG, "加班起草项目申报材料")
    assert reply["text"] == f"已记录 11月20日 1条：\n2. 加班起草项目申报材料\n{hint_line}"
    overtime = (await bot.entries("A001"))[-1]
    # The button the hint names is there; one tap and the entry is 八小时外.
    assert buttons(reply) == [
        [("撤回", f"w:{overtime.id}"), ("改为八小时外", f"k:{overtime.id}:a")]
    ]
    answer = await press(bot, ZHANG, reply["message_id"], f"k:{overtime.id}:a")
    assert answer["text"] == "第2条已改为「八小时外」。"
    edited = shown(bot, ZHANG, reply["message_id"])
    assert edited["text"] == "已记录 11月20日 1条：\n2. 加班起草项目申报材料【八小时外】"
    assert buttons(edited) == [
        [("撤回", f"w:{overtime.id}"), ("类别：八小时外", f"k:{overtime.id}:o")]
    ]

    # 00:30 on Saturday still belongs to Friday's log (凌晨4点前记入前一天).
    bot.clock.set(at(11, 21, 0, 30))
    _, reply = await send(bot, ZHANG, "修改招商方案")
    assert reply["text"] == f"已记录 11月20日 1条：\n3. 修改招商方案\n{hint_line}"
    assert await bot.say(ZHANG, "/today") == [
        "11月20日（周五）工作日志 3条\n"
        "1. 整理档案\n"
        "2. 加班起草项目申报材料【八小时外】\n"
        "3. 修改招商方案"
    ]

    bot.clock.set(at(11, 21, 10))
    _, reply = await send(bot, ZHANG, "1.参加防汛值班\n2.整理档案")
    assert reply["text"] == f"已记录 11月21日 2条：\n1. 参加防汛值班\n2. 整理档案\n{hint_line}"
    assert [row[1][0] for row in buttons(reply)] == ["1：改为八小时外", "2：改为八小时外"]

    bot.clock.set(at(11, 23, 8, 30))
    _, reply = await send(bot, ZHANG, "参加周一例会")
    assert reply["text"] == "已记录 11月23日 1条：\n1. 参加周一例会"

    entries = await bot.entries("A001")
    assert [(e.work_date.isoformat(), e.item_no, e.kind) for e in entries] == [
        ("2026-11-20", 1, "regular"),
        ("2026-11-20", 2, "after_hours"),
        ("2026-11-20", 3, "regular"),
        ("2026-11-21", 1, "regular"),
        ("2026-11-21", 2, "regular"),
        ("2026-11-23", 1, "regular"),
    ]


async def test_edited_message_updates_its_entries(bot):
    """Editing a sent message edits, withdraws and adds entries; every change has history."""
    await bot.enrol(ZHANG, "A001", "张伟")
    message_id, _ = await send(bot, ZHANG, "1.起草月度工作总结\n2.整理档案")
    first, second = await bot.entries("A001")

    async def edit(text: str) -> str:
        bot.clock.advance(minutes=1)  # Telegram dates edits by the second
        mark = bot.api.mark()
        bot.api.edit_text(ZHANG, message_id, text)
        [reply] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
        return reply["text"]

    bot.clock.advance(minutes=5)
    assert await edit("1.起草十一月工作总结\n2.整理档案") == (
        "已按修改后的消息更新 11月20日 的日志：\n1. 起草十一月工作总结"
    )
    assert [e.text for e in await bot.entries("A001")] == ["起草十一月工作总结", "整理档案"]
    assert (await history(bot))[-1][:4] == (
        first.id,
        "edit",
        {"text": "起草月度工作总结", "kind": "regular", "collaborator": None, "withdrawn": False},
        {"text": "起草十一月工作总结", "kind": "regular", "collaborator": None, "withdrawn": False},
    )

    # A line removed: its entry is withdrawn, not deleted.
    assert await edit("起草十一月工作总结") == (
        "已按修改后的消息更新 11月20日 的日志：\n2. （已撤回）整理档案"
    )
    assert [(e.text, e.withdrawn) for e in await bot.entries("A001")] == [
        ("起草十一月工作总结", False),
        ("整理档案", True),
    ]
    assert (await history(bot))[-1][:2] == (second.id, "edit_withdraw")

    # The removed line is back and a line added: restored, and a new entry numbered 3.
    assert await edit("1.起草十一月工作总结\n2.整理档案\n3.走访企业") == (
        "已按修改后的消息更新 11月20日 的日志：\n2. 整理档案\n3. 走访企业"
    )
    assert [(e.item_no, e.text, e.withdrawn) for e in await bot.entries("A001")] == [
        (1, "起草十一月工作总结", False),
        (2, "整理档案", False),
        (3, "走访企业", False),
    ]
    assert [h[1] for h in await history(bot)] == ["edit", "edit_withdraw", "restore"]

    # The same text again changes nothing and says nothing (a later edit_date, so the
    # intake does not take it for a copy of the previous edit).
    bot.clock.advance(minutes=1)
    mark = bot.api.mark()
    before = await state(bot)
    bot.api.edit_text(ZHANG, message_id, "1.起草十一月工作总结\n2.整理档案\n3.走访企业")
    await bot.settle()
    assert bot.api.calls("sendMessage", since=mark) == []
    assert await state(bot) == before

    # Emptied: refused, the entries stay as they were.
    assert await edit("1.") == zh.EMPTY_MESSAGE
    assert await state(bot) == before

    # A week later the day is outside the backfill window: the edit is refused.
    bot.clock.set(at(11, 27, 10))
    assert await edit("1.改写上周的日志") == (
        "11月20日 的日志已超过补记期限（最近3个工作日），不能再修改。"
    )
    assert await state(bot) == before


async def test_two_edits_in_one_second_are_both_applied(bot):
    await bot.enrol(ZHANG, "A001", "张伟")
    message_id, _ = await send(bot, ZHANG, "整理档案")
    bot.clock.advance(minutes=1)
    bot.api.edit_text(ZHANG, message_id, "整理文书档案")
    bot.api.edit_text(ZHANG, message_id, "整理人事档案")
    await bot.settle()
    [entry] = await bot.entries("A001")
    assert entry.text == "整理人事档案"


async def test_backfill_window_and_bad_dates(bot):
    """补记 reaches 3 working days back (Mon 11-23 → Wed 11-18); outside it nothing is stored."""
    await bot.enrol(ZHANG, "A001", "张伟")
    bot.clock.set(at(11, 23, 10))

    _, reply = await send(bot, ZHANG, "/backfill 11-18 参加全县项目推进会\n走访企业")
    wednesday_reply = reply["message_id"]
    assert reply["text"] == ("已补记 11月18日 2条：\n1. 参加全县项目推进会\n2. 走访企业")
    assert buttons(reply)[0][0][0] == "撤回1"
    _, reply = await send(bot, ZHANG, "/backfill 昨天 参加防汛值班")
    assert reply["text"] == "已补记 11月22日 1条：\n1. 参加防汛值班"
    _, reply = await send(bot, ZHANG, "/backfill 2026-11-20 整理档案")
    friday_reply = reply["message_id"]
    assert reply["text"] == "已补记 11月20日 1条：\n1. 整理档案"
    assert [snapshot(e) for e in await bot.entries("A001")] == [
        ("2026-11-18", 1, "参加全县项目推进会", "regular", None, True, False),
        ("2026-11-18", 2, "走访企业", "regular", None, True, False),
        ("2026-11-22", 1, "参加防汛值班", "regular", None, True, False),
        ("2026-11-20", 1, "整理档案", "regular", None, True, False),
    ]

    before = await state(bot)
    refusals = [
        ("/backfill 11-17 整理档案", zh.BACKFILL_TOO_OLD.format(window=3, date="11月17日")),
        ("/backfill 今天 整理档案", zh.BACKFILL_TODAY),
        ("/backfill 11-23 整理档案", zh.BACKFILL_TODAY),
        ("/backfill 2026-11-24 整理档案", "不能给将来的日期（11月24日）记日志。"),
        ("/backfill 11-25 整理档案", "不能给将来的日期（11月25日）记日志。"),
        ("/backfill", zh.BACKFILL_USAGE),
        ("/backfill 昨天", zh.BACKFILL_USAGE),
        ("/backfill 昨天 1.", zh.BACKFILL_USAGE),
        ("/backfill 13-45 整理档案", "看不懂日期「13-45」。\n可写 2026-11-20、11-20、昨天、前天。"),
        ("/backfill 上周 整理档案", "看不懂日期「上周」。\n可写 2026-11-20、11-20、昨天、前天。"),
    ]
    for command, expected in refusals:
        assert await bot.say(ZHANG, command) == [expected], command
    assert await state(bot) == before

    # /month marks the late entries; a button on a backfilled entry works like any other.
    [month] = await bot.say(ZHANG, "/month")
    assert "— 11-18 周三 2条\n1. 【补记】参加全县项目推进会\n2. 【补记】走访企业" in month
    backfilled = (await bot.entries("A001"))[0]
    answer = await press(bot, ZHANG, wednesday_reply, f"w:{backfilled.id}")
    assert answer["text"] == "已撤回第1条。"
    assert shown(bot, ZHANG, wednesday_reply)["text"].startswith(
        "已补记 11月18日 1条：\n1. （已撤回）"
    )

    # On Thursday 11-26 the 11-20 entry has left the window: its button no longer works.
    friday_entry = (await bot.entries("A001"))[3]
    bot.clock.set(at(11, 26, 10))
    before = await state(bot)
    answer = await press(bot, ZHANG, friday_reply, f"w:{friday_entry.id}", edits=False)
    assert answer["text"] == "11月20日 的日志已超过补记期限（最近3个工作日），不能再修改。"
    assert answer["show_alert"] is True
    assert await state(bot) == before


async def test_leave_week_and_month_completeness(bot):
    """Entries over several days, a leave and a missing day give the completeness numbers."""
    await bot.enrol(ZHANG, "A001", "张伟")
    bot.clock.set(at(11, 16, 9))
    await send(bot, ZHANG, "参加周一例会")
    bot.clock.set(at(11, 17, 9))
    await send(bot, ZHANG, "1.走访企业\n2.整理档案")
    # Wednesday 11-18: nothing. Thursday: training, reported on Friday.
    bot.clock.set(at(11, 20, 9))
    assert await bot.say(ZHANG, "/leave 11-19 参加市委党校培训") == [
        "已登记培训：11月19日 参加市委党校培训\n这些天不计入未记录天数。"
    ]
    await send(bot, ZHANG, "起草月度工作总结")
    assert await bot.say(ZHANG, "/leave 11-23 11-25 出差省城招商") == [
        "已登记出差：11月23日至11月25日 出差省城招商\n这些天不计入未记录天数。"
    ]
    assert await bot.say(ZHANG, "/leave 11-23 11-25 出差省城招商") == [
        "已登记出差：11月23日至11月25日 出差省城招商\n这些天不计入未记录天数。"
    ]
    assert await bot.say(ZHANG, "/leave 今天 下午 病假") == [
        "已登记请假：11月20日 下午 病假\n这些天不计入未记录天数。"
    ]
    absences = [
        (a.start_date.isoformat(), a.end_date.isoformat(), a.reason, a.kind)
        for a in await rows(bot, Absence)
    ]
    assert absences == [
        ("2026-11-19", "2026-11-19", "参加市委党校培训", "training"),
        ("2026-11-23", "2026-11-25", "出差省城招商", "trip"),
        ("2026-11-20", "2026-11-20", "下午 病假", "leave"),
    ]

    [week] = await bot.say(ZHANG, "/week")
    assert week == (
        "本周 工作日志\n"
        "应记4天 已记3天 请假1天\n"
        "完成率 75%\n"
        "未记：11-18\n"
        "培训：11-19 参加市委党校培训\n"
        "请假：11-20 下午 病假\n"
        "\n"
        "— 11-16 周一 1条\n"
        "1. 参加周一例会\n"
        "\n"
        "— 11-17 周二 2条\n"
        "1. 走访企业\n"
        "2. 整理档案\n"
        "\n"
        "— 11-20 周五 1条\n"
        "1. 起草月度工作总结"
    )
    [month] = await bot.say(ZHANG, "/month")
    # Working days 11-02 … 11-20 = 15; 11-19 excused; 3 logged.
    assert month.split("\n")[:4] == [
        "2026年11月 工作日志",
        "应记14天 已记3天 请假1天",
        "完成率 21%",
        "未记：11-02、11-03、11-04、11-05、11-06、11-09、11-10、11-11、11-12、11-13、11-18",
    ]

    before = await state(bot)
    refusals = [
        ("/leave", zh.LEAVE_USAGE),
        ("/leave 11-25", zh.LEAVE_NO_REASON),
        ("/leave 11-23 11-25", zh.LEAVE_NO_REASON),
        ("/leave 11-25 11-20 出差", "结束日期 11月20日 早于开始日期 11月25日。"),
        ("/leave 13-45 事假", "看不懂日期「13-45」。\n可写 2026-11-20、11-20、昨天、前天。"),
        ("/leave 2026-11-01 2027-03-01 借调", "一次最多登记92天。"),
        ("/leave 2026-09-01 事假", "只能登记最近31天内开始的请假或出差。"),
        ("/leave 2027-12-01 事假", "只能登记180天以内的请假或出差。"),
        ("/leave 今天 " + "出差" * 2001, "内容太长（超过4000字），请分几条发送。"),
    ]
    for command, expected in refusals:
        assert await bot.say(ZHANG, command) == [expected], command
    assert await state(bot) == before


async def test_photos_documents_voice_stickers_help(bot):
    """A captioned photo or file is an entry with its attachment; other media are refused."""
    await bot.enrol(ZHANG, "A001", "张伟")
    await bot.add_person("B001", "李娜", supervisor="A001")

    mark = bot.api.mark()
    update = bot.api.send_photo(ZHANG, caption="现场查看项目施工进度")
    [reply] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    assert reply["text"] == "已记录 11月20日 1条：\n1. 现场查看项目施工进度"
    largest = update["message"]["photo"][-1]["file_id"]

    mark = bot.api.mark()
    update = bot.api.send_document(
        ZHANG, b"%PDF-1.4", "minutes.pdf", "application/pdf", caption="1.整理会议纪要\n2.报送县委办"
    )
    [reply] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    assert (
        reply["text"] == "已记录 11月20日 2条：\n2. 整理会议纪要\n3. 报送县委办（合作者：县委办）"
    )
    document = update["message"]["document"]["file_id"]
    assert [(e.text, e.attachment_file_id) for e in await bot.entries("A001")] == [
        ("现场查看项目施工进度", largest),
        ("整理会议纪要", document),
        ("报送县委办", None),
    ]

    before = await state(bot)
    for send_media, expected in [
        (lambda: bot.api.send_photo(ZHANG), zh.PHOTO_NO_CAPTION),
        (lambda: bot.api.send_photo(ZHANG, caption="  "), zh.PHOTO_NO_CAPTION),
        (lambda: bot.api.send_document(ZHANG), zh.DOCUMENT_NO_CAPTION),
        (lambda: bot.api.send_voice(ZHANG), zh.UNSUPPORTED_MEDIA["voice"]),
        (lambda: bot.api.send_sticker(ZHANG), zh.UNSUPPORTED_MEDIA["sticker"]),
    ]:
        mark = bot.api.mark()
        send_media()
        [reply] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
        assert reply["text"] == expected
    assert await state(bot) == before

    [help_text] = await bot.say(ZHANG, "/help")
    # 张伟 has one direct report (李娜): the supervisor's commands are listed.
    assert help_text == (
        zh.HELP_CADRE.format(rollover=4, window=3) + zh.HELP_SUPERVISOR.format(count=1)
    )
    assert "凌晨4点前发的消息记入前一天。\n可补记最近3个工作日。" in help_text
    assert await bot.say(ZHANG, "/nosuch") == [zh.UNKNOWN_COMMAND]
    assert await state(bot) == before

    await bot.enrol(LI, "S001", "赵书记", roles="cadre,supervisor,rater")
    # The supervisor role alone gives nothing: supervisors are those with direct reports.
    [help_text] = await bot.say(LI, "/help")
    assert help_text == (
        zh.HELP_CADRE.format(rollover=4, window=3) + zh.HELP_RATER + zh.HELP_RATING
    )

    # A photo sent without a caption and captioned afterwards is recorded, with the photo.
    mark = bot.api.mark()
    update = bot.api.send_photo(ZHANG)
    assert [m["text"] for m in await bot.api.wait_for_reply(ZHANG.id, since=mark)] == [
        zh.PHOTO_NO_CAPTION
    ]
    photo = bot.api.message(ZHANG.id, update["message"]["message_id"])
    bot.clock.advance(minutes=1)
    photo["caption"] = "检查安全生产台账"
    photo["edit_date"] = int(bot.clock.now().timestamp())
    mark = bot.api.mark()
    bot.api.enqueue({"edited_message": photo})
    [reply] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    assert reply["text"] == "已按修改后的消息更新 11月20日 的日志：\n4. 检查安全生产台账"
    captioned = (await bot.entries("A001"))[-1]
    assert (captioned.item_no, captioned.text, captioned.attachment_file_id) == (
        4,
        "检查安全生产台账",
        update["message"]["photo"][-1]["file_id"],
    )


async def test_commands_refuse_invisible_text(bot):
    """An edit or a command cannot make an entry, a reflection or an absence invisible."""
    await bot.enrol(ZHANG, "A001", "张伟")
    await bot.say(ZHANG, "起草月度工作总结")
    for command, usage in [
        ("/edit 1 \u200b\u200d", zh.EDIT_USAGE),
        ("/edit 1 。。。", zh.EDIT_USAGE),
        ("/with 1 \u202e", zh.WITH_USAGE),
        ("/reflect \ufeff…", zh.REFLECT_USAGE),
        ("/leave 11-23 \u200b！", zh.LEAVE_NO_REASON),
    ]:
        assert await bot.say(ZHANG, command) == [usage], repr(command)
    [entry] = await bot.entries()
    assert (entry.text, entry.collaborator) == ("起草月度工作总结", None)
    assert (await bot.count(Reflection), await bot.count(Absence)) == (0, 0)


async def test_empty_and_very_long_messages(bot):
    """Nothing from an empty message; a long item is stored whole and flagged; replies fit."""
    await bot.enrol(ZHANG, "A001", "张伟")
    for text in [
        "   ",
        "1.",
        "1.\n2、\n③",
        "\u200b\u200c\u200d\ufeff",  # zero-width only
        "\u202d\u202e\u200f",  # bidi controls only
        "。。。！！？…—",  # punctuation only
    ]:
        assert await bot.say(ZHANG, text) == [zh.EMPTY_MESSAGE], repr(text)
    assert await bot.entries() == []

    long_item = "对接项目用地报批" + "推进征地拆迁工作" * 74  # 600 characters
    _, reply = await send(bot, ZHANG, long_item)
    assert reply["text"] == (
        f"已记录 11月20日 1条：\n1. {long_item[:300]}…\n（第1条较长，已完整保存；建议一事一句。）"
    )
    [entry] = await bot.entries("A001")
    assert (entry.text, entry.is_overlong) == (long_item, True)

    # A message as long as Telegram allows, 14 items of 290 characters: all stored, reply fits.
    items = [f"第{i:02d}项" + "推进重点项目建设" * 35 + "完成" for i in range(1, 15)]
    assert {len(item) for item in items} == {286}
    text = "\n".join(items)
    assert len(text) <= 4096
    _, reply = await send(bot, ZHANG, text)
    lines = reply["text"].split("\n")
    assert lines[0] == "已记录 11月20日 14条："
    listed = lines[1:-1]
    assert listed == [f"{n}. {item}" for n, item in enumerate(items[: len(listed)], start=2)]
    assert (len(listed), lines[-1]) == (12, "……另有2条未列出，均已保存。")
    assert len(reply["text"]) <= 4096
    stored = await bot.entries("A001")
    assert [e.text for e in stored[1:]] == items
    assert [e.item_no for e in stored] == list(range(1, 16))
    assert len(buttons(reply)) == 8  # the rest are reached with /del and /edit

    # /today with all of it is split into messages that Telegram accepts.
    mark = bot.api.mark()
    bot.api.send_text(ZHANG, "/today")
    await bot.settle()
    replies = [c.params["text"] for c in bot.api.calls("sendMessage", since=mark)]
    assert all(c.ok for c in bot.api.calls("sendMessage", since=mark))
    assert len(replies) >= 2
    assert all(len(r) <= 4096 for r in replies)
    assert replies[0].startswith("11月20日（周五）工作日志 15条\n1. 对接项目用地报批")
    joined = "\n".join(replies)
    assert all(item in joined for item in items)


async def test_huge_month_is_split_into_messages_under_the_limit(bot):
    """/month over many long entries arrives as several messages, each under 4096 chars."""
    await bot.enrol(ZHANG, "A001", "张伟")
    texts: list[str] = []
    for day, messages in [(16, 1), (18, 3), (19, 1), (20, 1)]:
        bot.clock.set(at(11, day, 10))
        for m in range(messages):
            batch = [f"{day}日第{m * 5 + i}项" + "协调推进重点项目建设" * 28 for i in range(1, 6)]
            texts += batch
            await send(bot, ZHANG, "\n".join(batch))
    assert len(await bot.entries("A001")) == 30

    mark = bot.api.mark()
    bot.api.send_text(ZHANG, "/month")
    await bot.settle()
    calls = bot.api.calls("sendMessage", since=mark)
    assert all(c.ok for c in calls)
    replies = [c.params["text"] for c in calls]
    assert len(replies) >= 3
    assert all(len(r) < 4096 for r in replies)
    assert replies[0].startswith(
        "2026年11月 工作日志\n应记15天 已记4天 请假0天\n完成率 27%\n未记：11-02、"
    )
    assert all(r.startswith("（续）\n") for r in replies[1:])
    joined = "\n".join(replies)
    positions = [joined.index(text) for text in texts]
    assert positions == sorted(positions)
    assert joined.count("— 11-18 周三 15条") == 1
