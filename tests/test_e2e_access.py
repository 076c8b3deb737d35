"""End-to-end: who may use the bot — invites, rebinding, strangers, forged buttons, groups.

Each refusal is checked twice: the words the user reads and the rows left in the database.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services import zh
from storage.models import (
    Absence,
    AuditLog,
    EntryHistory,
    Invite,
    LogEntry,
    OutboxMessage,
    Person,
    Reflection,
)
from tests.fakebot import FakeUser

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZHANG = FakeUser(id=1001, first_name="伟")
LI = FakeUser(id=1002, first_name="娜")
STRANGER = FakeUser(id=6666, first_name="陌生人", username="curious_visitor")
GROUP = {"id": -100500, "type": "supergroup", "title": "县发改委工作群"}

BOUND_ZHANG = zh.BOUND.format(name="张伟", unit="县发改委")


async def audit(bot: Any) -> list[tuple[str, int | None, int | None, int | None, dict]]:
    """(action, actor person, actor telegram id, subject person, detail) of every audit line."""
    rows = await bot.rows(AuditLog)
    return [
        (
            r.action,
            r.actor_person_id,
            r.actor_telegram_id,
            r.subject_person_id,
            json.loads(r.detail),
        )
        for r in rows
    ]


async def person(bot: Any, roster_id: str) -> Person:
    return await bot.person(roster_id)


async def invite_row(bot: Any, token: str) -> Invite:
    [invite] = await bot.rows(Invite, Invite.token == token)
    return invite


async def test_invites_bind_once_and_refuse_unknown_used_and_expired(bot):
    """A valid invite binds; unknown, used and expired ones are refused and bind nobody."""
    zhang = await bot.add_person("A001", "张伟", unit="县发改委")
    li = await bot.add_person("A002", "李娜", unit="县财政局")
    token = await bot.invite("A001")

    assert await bot.say(ZHANG, f"/start {token}") == [BOUND_ZHANG]
    assert (await person(bot, "A001")).telegram_user_id == ZHANG.id
    invite = await invite_row(bot, token)
    assert (invite.used_at, invite.used_by_telegram_id) == (bot.clock.now(), ZHANG.id)
    # The same person opening the link again, or /start alone, is greeted, nothing changes.
    already = zh.ALREADY_BOUND.format(name="张伟", unit="县发改委")
    assert await bot.say(ZHANG, f"/start {token}") == [already]
    assert await bot.say(ZHANG, "/start") == [already]
    assert await audit(bot) == [
        (
            "bound",
            zhang.id,
            ZHANG.id,
            zhang.id,
            {"invite_id": invite.id, "revoked_telegram_id": None},
        )
    ]

    # Editing the /start message (a corrected link) is not replayed and breaks nothing.
    mark = bot.api.mark()
    start_message = bot.api.send_text(ZHANG, "/start")["message"]["message_id"]
    await bot.api.wait_for_reply(ZHANG.id, since=mark)
    bot.clock.advance(minutes=1)
    mark = bot.api.mark()
    bot.api.edit_text(ZHANG, start_message, f"/start {token}")
    await bot.settle()
    assert bot.api.calls("sendMessage", since=mark) == []

    # Someone else with the used link, a made-up token, an expired link: all refused.
    assert await bot.say(LI, f"/start {token}") == [zh.INVITE_USED]
    assert await bot.say(LI, "/start not-a-real-token") == [zh.INVITE_UNKNOWN]
    assert await bot.say(LI, "/start " + "x" * 300) == [zh.INVITE_UNKNOWN]
    expiring = await bot.invite("A002", valid=timedelta(hours=1))
    bot.clock.advance(hours=2)
    assert await bot.say(LI, f"/start {expiring}") == [
        "这个邀请链接已于 2026-11-20 过期。\n请联系单位管理员重新获取。"
    ]
    assert (await person(bot, "A001")).telegram_user_id == ZHANG.id
    assert (await person(bot, "A002")).telegram_user_id is None
    assert (await invite_row(bot, expiring)).used_at is None
    assert (await audit(bot))[1:] == [
        ("invite_refused", None, LI.id, zhang.id, {"reason": "used_token"}),
        ("invite_refused", None, LI.id, None, {"reason": "unknown_token"}),
        ("invite_refused", None, LI.id, None, {"reason": "unknown_token"}),
        ("invite_refused", None, LI.id, li.id, {"reason": "expired_token"}),
    ]
    # Still a stranger: a log message is refused and not stored.
    assert await bot.say(LI, "整理档案") == [zh.NOT_REGISTERED]
    assert await bot.count(LogEntry) == 0

    # A person taken off the roster cannot bind, even with a fresh invite.
    fresh = await bot.invite("A002")
    async with bot.db() as db:
        (await db.get(Person, li.id)).active = False
        await db.commit()
    assert await bot.say(LI, f"/start {fresh}") == [zh.INVITE_INACTIVE]
    assert (await person(bot, "A002")).telegram_user_id is None


async def test_notice_to_an_old_account_that_blocked_the_bot_is_kept_as_blocked(bot):
    """The cut-off phone blocked the bot: the notice is tried once and kept, not retried."""
    await bot.enrol(ZHANG, "A001", "张伟")
    bot.api.block(ZHANG, notify=False)
    token = await bot.invite("A001")
    assert await bot.say(LI, f"/start {token}") == [BOUND_ZHANG]
    await bot.settle()
    [notice] = await bot.rows(OutboxMessage, OutboxMessage.kind == "rebound")
    assert (notice.chat_id, notice.status, notice.attempts) == (ZHANG.id, "blocked", 1)
    assert "blocked" in (notice.last_error or "")
    tries = [c for c in bot.api.calls("sendMessage") if c.chat_id == ZHANG.id]
    assert [(c.status, c.text) for c in tries[1:]] == [(403, zh.REBOUND_OLD_ACCOUNT)]


async def test_expiry_date_is_shown_in_local_time(bot):
    """An invite that ran out at 07:00 Shanghai time (23:00 UTC the day before) says so."""
    await bot.add_person("A001", "张伟")
    bot.clock.set(datetime(2026, 11, 20, 7, 0, tzinfo=SHANGHAI))
    token = await bot.invite("A001", valid=timedelta(days=1))
    bot.clock.advance(days=2)
    assert await bot.say(ZHANG, f"/start {token}") == [
        "这个邀请链接已于 2026-11-21 过期。\n请联系单位管理员重新获取。"
    ]


async def test_binding_again_cuts_off_the_old_account(bot):
    """A new invite for the same person moves the log to the new phone; the old one is refused."""
    zhang = await bot.add_person("A001", "张伟", unit="县发改委")
    first_token = await bot.invite("A001")
    assert await bot.say(ZHANG, f"/start {first_token}") == [BOUND_ZHANG]
    mark = bot.api.mark()
    bot.api.send_text(ZHANG, "参加全县项目推进会")
    [first_reply] = await bot.api.wait_for_reply(ZHANG.id, since=mark)

    token = await bot.invite("A001")
    mark = bot.api.mark()
    bot.api.send_text(LI, f"/start {token}")
    [new_phone] = await bot.api.wait_for_reply(LI.id, since=mark)
    [old_phone] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    assert new_phone["text"] == BOUND_ZHANG
    assert old_phone["text"] == zh.REBOUND_OLD_ACCOUNT
    assert (await person(bot, "A001")).telegram_user_id == LI.id
    assert (await audit(bot))[-1] == (
        "bound",
        zhang.id,
        LI.id,
        zhang.id,
        {"invite_id": (await invite_row(bot, token)).id, "revoked_telegram_id": ZHANG.id},
    )

    # The old account's next message is refused and stored nowhere; the new one logs on.
    assert await bot.say(ZHANG, "整理档案") == [zh.NOT_REGISTERED]
    assert await bot.say(ZHANG, "/today") == [zh.NOT_REGISTERED]
    assert await bot.say(ZHANG, "/start") == [zh.NOT_REGISTERED]
    assert await bot.say(ZHANG, f"/start {first_token}") == [zh.INVITE_USED]
    assert await bot.say(LI, "起草月度工作总结") == ["已记录 11月20日 1条：\n2. 起草月度工作总结"]
    assert [(e.person_id, e.item_no, e.text) for e in await bot.entries()] == [
        (zhang.id, 1, "参加全县项目推进会"),
        (zhang.id, 2, "起草月度工作总结"),
    ]
    # The old account's buttons no longer work either.
    entry_id = (await bot.entries())[0].id
    mark = bot.api.mark()
    bot.api.press_button(ZHANG, first_reply["message_id"], f"w:{entry_id}")
    answer = await bot.api.wait_for(method="answerCallbackQuery", since=mark)
    assert (answer.params["text"], answer.params["show_alert"]) == (zh.NOT_REGISTERED, True)
    await bot.settle()
    assert not (await bot.entries())[0].withdrawn


async def test_account_rebound_to_another_person(bot):
    """An account that redeems another person's invite now writes that person's log."""
    await bot.enrol(ZHANG, "A001", "张伟", unit="县发改委")
    other = await bot.add_person("A002", "李娜", unit="县财政局")
    first = await person(bot, "A001")
    token = await bot.invite("A002")
    mark = bot.api.mark()
    assert await bot.say(ZHANG, f"/start {token}") == [
        zh.BOUND.format(name="李娜", unit="县财政局")
    ]
    await bot.settle()
    assert len(bot.api.calls("sendMessage", since=mark)) == 1  # nobody else was told anything
    assert (await person(bot, "A001")).telegram_user_id is None
    assert (await person(bot, "A002")).telegram_user_id == ZHANG.id
    assert [a[:4] for a in await audit(bot)][-2:] == [
        ("unbound", None, ZHANG.id, first.id),
        ("bound", other.id, ZHANG.id, other.id),
    ]
    await bot.say(ZHANG, "与县发改委对接项目用地")
    [entry] = await bot.entries()
    assert (entry.person_id, entry.text) == (other.id, "与县发改委对接项目用地")


async def test_strangers_are_refused_and_nothing_about_them_is_kept(bot):
    """Whatever a stranger sends gets one clear reply; only audit lines remain of them."""
    await bot.add_person("A001", "张伟")
    people = await bot.count(Person)

    assert await bot.say(STRANGER, "1.与县发改委对接项目用地\n2.起草月度工作总结") == [
        zh.NOT_REGISTERED
    ]
    for command in ["/today", "/reflect 心得", "/leave 今天 病假", "/backfill 昨天 开会", "/start"]:
        assert await bot.say(STRANGER, command) == [zh.NOT_REGISTERED], command
    assert await bot.say(STRANGER, "/start forged-token") == [zh.INVITE_UNKNOWN]
    mark = bot.api.mark()
    bot.api.send_photo(STRANGER, caption="现场查看项目进度")
    assert [m["text"] for m in await bot.api.wait_for_reply(STRANGER.id, since=mark)] == [
        zh.NOT_REGISTERED
    ]
    # A button forged on one of the bot's messages to them.
    refusal = bot.api.last_message_to(STRANGER.id)
    assert refusal is not None
    mark = bot.api.mark()
    bot.api.press_button(STRANGER, refusal["message_id"], "w:1", strict=False)
    answer = await bot.api.wait_for(method="answerCallbackQuery", since=mark)
    assert (answer.params["text"], answer.params["show_alert"]) == (zh.NOT_REGISTERED, True)
    await bot.settle()

    assert await bot.count(Person) == people
    for model in (LogEntry, EntryHistory, Reflection, Absence):
        assert await bot.count(model) == 0, model.__name__
    lines = await audit(bot)
    assert [(a[0], a[4]) for a in lines] == [
        ("refused_unregistered", {"action": "message"}),
        ("refused_unregistered", {"action": "message"}),
        ("refused_unregistered", {"action": "message"}),
        ("refused_unregistered", {"action": "message"}),
        ("refused_unregistered", {"action": "message"}),
        ("refused_unregistered", {"action": "start"}),
        ("invite_refused", {"reason": "unknown_token"}),
        ("refused_unregistered", {"action": "message"}),
        ("refused_unregistered", {"action": "callback"}),
    ]
    assert {(a[1], a[2], a[3]) for a in lines} == {(None, STRANGER.id, None)}
    stored = json.dumps([a[4] for a in lines], ensure_ascii=False)
    assert "陌生人" not in stored and "curious_visitor" not in stored and "发改委" not in stored


async def test_strangers_text_is_not_kept_in_the_inbox(bot):
    """DESIGN §3: of an unknown person nothing is kept but an audit line."""
    assert await bot.say(STRANGER, "与县发改委对接项目用地") == [zh.NOT_REGISTERED]
    await bot.settle()
    kept = " ".join(row.payload for row in await bot.inbox())
    assert "与县发改委对接项目用地" not in kept
    assert "curious_visitor" not in kept


async def test_forged_and_foreign_buttons_change_nothing(bot):
    """Callback data is not trusted: unknown ids, bad codes, garbage, another's entry."""
    await bot.enrol(ZHANG, "A001", "张伟")
    await bot.enrol(LI, "A002", "李娜")
    mark = bot.api.mark()
    bot.api.send_text(ZHANG, "整理档案")
    [zhang_reply] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    await bot.say(LI, "走访企业")
    mine, theirs = await bot.entries()

    async def snapshot() -> list[tuple]:
        entries = [(e.id, e.kind, e.withdrawn, e.text) for e in await bot.entries()]
        return [entries, await bot.count(EntryHistory)]

    before = await snapshot()
    for data, alert in [
        ("w:999999", True),
        ("w:999999999999", False),
        ("k:99999999999:a", False),
        ("w:2147483648", False),
        ("w:2147483647", True),
        (f"k:{mine.id}:x", False),
        ("k:1:x", False),
        ("garbage", False),
        ("w:1; DROP TABLE log_entries", False),
        ("", False),
        (f"w:{theirs.id}", True),
        (f"k:{theirs.id}:a", True),
        (f"k:{theirs.id}:o", True),
    ]:
        mark = bot.api.mark()
        bot.api.press_button(ZHANG, zhang_reply["message_id"], data, strict=False)
        answer = await bot.api.wait_for(method="answerCallbackQuery", since=mark)
        await bot.settle()
        assert answer.params["text"] == zh.STALE_BUTTON, data
        assert bool(answer.params.get("show_alert")) is alert, data
        assert [c for c in bot.api.calls("editMessageText", since=mark) if c.ok] == [], data
        assert bot.api.calls("sendMessage", since=mark) == [], data
    assert await snapshot() == before
    assert bot.api.message(ZHANG.id, zhang_reply["message_id"]) == zhang_reply


async def test_group_chats_are_ignored_and_told_once(bot):
    """Group chatter is never logged or kept; the group hears once that the log is private."""
    await bot.enrol(ZHANG, "A001", "张伟")
    audit_before = await audit(bot)

    mark = bot.api.mark()
    for user, text in [
        (ZHANG, "1.与县发改委对接项目用地\n2.起草月度工作总结"),
        (STRANGER, "大家好"),
        (ZHANG, "/today"),
        (STRANGER, "/start abc"),
    ]:
        bot.api.send_text(user, text, chat=GROUP)
    await bot.settle()
    sent = bot.api.calls("sendMessage", since=mark)
    assert [(c.chat_id, c.text, c.ok) for c in sent] == [(GROUP["id"], zh.GROUP_CHAT, True)]
    assert await bot.count(LogEntry) == 0
    assert await audit(bot) == audit_before
    assert all(row.payload == "{}" for row in (await bot.inbox())[-4:])
