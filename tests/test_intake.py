"""The durable intake under Bot API faults, duplicates and replays (on SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import json
from datetime import date

from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from storage.models import Absence, EntryHistory, LogEntry, OutboxMessage, Reflection
from tests.fakebot import FakeUser

ZHANG = FakeUser(id=7001, first_name="伟", username="zhangwei")


async def test_429_on_reply_is_waited_out_and_the_reply_arrives(bot):
    await bot.enrol(ZHANG, "A001", "张伟")
    bot.api.inject("sendMessage", "429", times=1, retry_after=1)
    replies = await bot.say(ZHANG, "与县发改委对接项目用地")
    assert replies[0].startswith("已记录 11月20日 1条")
    sends = bot.api.calls("sendMessage")
    assert [c.fault for c in sends[-2:]] == ["429", None]
    assert len(await bot.entries("A001")) == 1


async def test_500_on_reply_retries_the_reply_not_the_update(bot):
    """The entries and their confirmation are committed together; only the sending is retried."""
    await bot.enrol(ZHANG, "A001", "张伟")
    bot.api.inject("sendMessage", "500", times=2)
    replies = await bot.say(ZHANG, "1.起草月度报告\n2.参加项目调度会")
    assert replies[0].startswith("已记录 11月20日 2条")
    await bot.settle()
    entries = await bot.entries("A001")
    assert [e.text for e in entries] == ["起草月度报告", "参加项目调度会"]
    [row] = [r for r in await bot.inbox() if "起草月度报告" in r.payload]
    assert (row.status, row.attempts, row.last_error) == ("done", 0, None)
    assert row.processed_at == bot.clock.now()  # the injected clock, not the system's
    [reply] = await bot.rows(OutboxMessage, OutboxMessage.key == f"reply:{row.id}")
    assert (reply.status, reply.chat_id, reply.text) == ("sent", ZHANG.id, replies[0])
    sends = [c for c in bot.api.calls("sendMessage") if c.text == replies[0]]
    assert [c.status for c in sends] == [500, 500, 200]
    assert bot.sleeps, "the retry should back off"


async def test_polling_survives_dropped_connections_and_server_errors(bot):
    await bot.enrol(ZHANG, "A001", "张伟")
    bot.api.inject("getUpdates", "drop", times=1)
    bot.api.inject("getUpdates", "500", times=1)
    replies = await bot.say(ZHANG, "整理项目档案")
    assert replies[0].startswith("已记录")
    assert [e.text for e in await bot.entries("A001")] == ["整理项目档案"]
    faults = [c.fault for c in bot.api.calls("getUpdates") if c.fault]
    assert faults == ["drop", "500"]


async def test_the_same_message_fed_twice_is_processed_once(bot):
    await bot.enrol(ZHANG, "A001", "张伟")
    update = bot.api.send_text(ZHANG, "走访慰问困难群众")
    await bot.api.wait_for_reply(ZHANG.id)
    # The same message arriving again (say through a webhook) under another update id.
    again = copy.deepcopy(update)
    again["update_id"] = update["update_id"] + 10_000
    await bot.intake.feed([again])
    await bot.settle()
    assert [e.text for e in await bot.entries("A001")] == ["走访慰问困难群众"]
    assert sum(1 for r in await bot.inbox() if "走访慰问困难群众" in r.payload) == 1


async def test_a_database_outage_during_a_message_is_retried(bot):
    await bot.enrol(ZHANG, "A001", "张伟")
    failures = {"left": 1}

    def locked_once(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO log_entries") and failures["left"]:
            failures["left"] -= 1
            raise OperationalError(statement, {}, Exception("database is locked"))

    mark = bot.api.mark()
    event.listen(bot.engine.sync_engine, "before_cursor_execute", locked_once)
    try:
        bot.api.send_text(ZHANG, "协调县住建局解决安置房问题")
        [reply] = await bot.api.wait_for_reply(ZHANG.id, since=mark)
    finally:
        event.remove(bot.engine.sync_engine, "before_cursor_execute", locked_once)
    assert reply["text"].startswith("已记录")
    assert failures["left"] == 0
    await bot.settle()
    assert [e.text for e in await bot.entries("A001")] == ["协调县住建局解决安置房问题"]
    [row] = [r for r in await bot.inbox() if "安置房" in r.payload]
    assert (row.status, row.attempts) == ("done", 1)
    assert "database is locked" in (row.last_error or "")


async def test_every_update_processed_twice_in_a_row_is_applied_once(bot, monkeypatch):
    """Handlers are idempotent, and an update handled again is not confirmed again.

    (A committed update is never replayed; this guards the handlers all the same.)
    """
    once = bot.intake._process_one

    async def twice(stored):
        assert await once(stored)
        return await once(stored)

    monkeypatch.setattr(bot.intake, "_process_one", twice)
    await bot.enrol(ZHANG, "A001", "张伟")
    mark = bot.api.mark()
    await bot.say(ZHANG, "1.与县发改委对接项目用地\n2.起草月度报告")
    reply = bot.api.last_message_to(ZHANG.id)
    button = reply["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    bot.api.press_button(ZHANG, reply["message_id"], button)
    await bot.settle()
    source = next(u for u in await bot.inbox() if "起草月度报告" in u.payload)
    message_id = json.loads(source.payload)["message"]["message_id"]
    bot.api.edit_text(ZHANG, message_id, "1.与县发改委对接项目用地\n2.起草年度报告")
    await bot.settle()
    for command in [
        "/edit 1 与县发改委对接项目用地问题",
        "/del 2",
        "/with 1 县发改委",
        "/reflect 多听群众意见",
        "/leave 11-25 11-26 出差",
        "/backfill 昨天 值班",
    ]:
        await bot.say(ZHANG, command)
    await bot.settle()
    answers = [c.text for c in bot.api.calls("sendMessage", since=mark) if c.ok]
    assert len(answers) == len(set(answers)) == 8  # the message, its edit, six commands

    state = await _state(bot)
    assert [(e[2], e[3], e[4], e[6], e[7]) for e in state["entries"]] == [
        (1, "与县发改委对接项目用地问题", "after_hours", False, False),
        (2, "起草年度报告", "regular", True, False),
        (1, "值班", "regular", False, True),
    ]
    assert [h[1] for h in state["history"]] == ["kind", "edit", "edit", "withdraw"]
    assert state["reflections"] == [(date(2026, 11, 20), "多听群众意见")]
    assert state["absences"] == [(date(2026, 11, 25), date(2026, 11, 26), "出差")]


async def _state(bot) -> dict[str, list[tuple]]:
    async with bot.db() as s:
        return {
            "entries": [
                (
                    e.id,
                    e.work_date,
                    e.item_no,
                    e.text,
                    e.kind,
                    e.collaborator,
                    e.withdrawn,
                    e.is_late,
                )
                for e in (await s.scalars(select(LogEntry).order_by(LogEntry.id))).all()
            ],
            "history": [
                (h.entry_id, h.action, h.before, h.after)
                for h in (await s.scalars(select(EntryHistory).order_by(EntryHistory.id))).all()
            ],
            "reflections": [
                (r.work_date, r.text) for r in (await s.scalars(select(Reflection))).all()
            ],
            "absences": [
                (a.start_date, a.end_date, a.reason)
                for a in (await s.scalars(select(Absence))).all()
            ],
        }
