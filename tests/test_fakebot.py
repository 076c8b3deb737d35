"""Tests of the fake Telegram Bot API, driven by a real python-telegram-bot ``Bot``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from tests.fakebot import FakeBotApi, FakeUser

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST-token"
ALICE = FakeUser(1001, "张三", username="zhangsan")
BOB = FakeUser(1002, "李四")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _timedelta_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's timedelta durations so RetryAfter & co. raise no deprecation warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest_asyncio.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """A running fake API."""
    async with FakeBotApi() as fake:
        yield fake


@pytest_asyncio.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """A real PTB Bot pointed at the fake API."""
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as real_bot:
        yield real_bot


def keyboard(*data: str) -> InlineKeyboardMarkup:
    """One row of inline buttons whose text equals their callback data."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


async def test_get_me_and_token_recorded(api: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "worklog_test_bot"
    assert me.id == api.bot_id
    assert me.is_bot
    assert TOKEN in api.tokens
    assert api.calls("getme")[0].token == TOKEN


async def test_get_updates_offset_confirmation(api: FakeBotApi, bot: Bot) -> None:
    first = api.send_text(ALICE, "hello")
    second = api.send_text(ALICE, "world")
    assert second["update_id"] == first["update_id"] + 1

    delivered = await bot.get_updates()
    assert [u.message.text for u in delivered] == ["hello", "world"]
    # Without a higher offset nothing is confirmed: both are delivered again.
    again = await bot.get_updates(offset=first["update_id"])
    assert [u.update_id for u in again] == [first["update_id"], second["update_id"]]

    only_second = await bot.get_updates(offset=first["update_id"] + 1)
    assert [u.message.text for u in only_second] == ["world"]
    assert api.confirmed_offset == first["update_id"] + 1
    assert [u["update_id"] for u in api.pending_updates()] == [second["update_id"]]

    # Confirmed updates are gone forever, even when asking with an older offset.
    assert [u.message.text for u in await bot.get_updates(offset=0)] == ["world"]
    assert await bot.get_updates(offset=second["update_id"] + 1) == ()
    assert api.pending_updates() == []
    assert await bot.get_updates() == ()


async def test_get_updates_limit_and_negative_offset(api: FakeBotApi, bot: Bot) -> None:
    for i in range(5):
        api.send_text(ALICE, f"m{i}")
    assert [u.message.text for u in await bot.get_updates(limit=2)] == ["m0", "m1"]
    assert [u.message.text for u in await bot.get_updates(offset=-2)] == ["m3", "m4"]
    assert len(api.pending_updates()) == 2


async def test_long_poll_wakes_up_when_update_arrives(api: FakeBotApi, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_for_poll()
    assert api.polling == 1
    api.send_text(ALICE, "wake up")
    updates = await asyncio.wait_for(poll, 5)
    assert [u.message.text for u in updates] == ["wake up"]
    assert loop.time() - started < 5
    assert api.polling == 0


async def test_long_poll_times_out_empty(api: FakeBotApi, bot: Bot) -> None:
    assert await bot.get_updates(timeout=0.2) == ()


async def test_newer_get_updates_terminates_older_one(api: FakeBotApi, bot: Bot) -> None:
    old = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_for_poll()
    # PTB's getUpdates connection pool has a single connection: use a second bot instance.
    async with Bot(TOKEN, base_url=api.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await old


async def test_user_messages_have_commands_dates_and_media() -> None:
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    async with (
        FakeBotApi(clock=lambda: moment) as fake,
        Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as b,
    ):
        fake.send_text(ALICE, "/log@worklog_test_bot 写报告")
        fake.send_text(ALICE, "plain", date=moment - timedelta(days=1))
        fake.send_photo(ALICE, caption="照片 /today")
        fake.send_sticker(ALICE)
        fake.send_voice(ALICE)
        fake.send_document(ALICE, b"a,b\n", "log.csv", "text/csv")
        updates = await b.get_updates()
        cmd, plain, photo, sticker, voice, doc = (u.message for u in updates)
        assert cmd.date == moment
        assert cmd.parse_entities() == {cmd.entities[0]: "/log@worklog_test_bot"}
        assert cmd.from_user.language_code == "zh-hans"
        assert cmd.chat.id == ALICE.id
        assert plain.date == moment - timedelta(days=1)
        assert not plain.entities
        assert photo.caption == "照片 /today"
        assert photo.parse_caption_entities() == {photo.caption_entities[0]: "/today"}
        assert len({size.file_id for size in photo.photo}) == 3
        assert sticker.sticker.emoji
        assert voice.voice.duration == timedelta(seconds=3)
        assert (doc.document.file_name, doc.document.file_size) == ("log.csv", 4)
        assert doc.caption is None
        assert [m.message_id for m in (cmd, plain, photo)] == [1, 2, 3]


async def test_send_edit_round_trip(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "/start")
    sent = await bot.send_message(ALICE.id, "今日日志？", reply_markup=keyboard("yes", "no"))
    assert sent.message_id == 2  # the user's /start is message 1 of this chat
    assert sent.from_user.id == api.bot_id
    assert sent.reply_markup == keyboard("yes", "no")

    edited = await bot.edit_message_text("已记录", chat_id=ALICE.id, message_id=sent.message_id)
    assert edited.text == "已记录"
    assert edited.edit_date is not None
    assert edited.reply_markup is None  # editing text without markup drops the keyboard
    await bot.edit_message_text(
        "已撤回", chat_id=ALICE.id, message_id=sent.message_id, reply_markup=keyboard("undo")
    )

    assert api.messages_to(ALICE.id) == ["已撤回"]
    last = api.last_message_to(ALICE.id)
    assert last is not None
    assert last["reply_markup"] == {
        "inline_keyboard": [[{"text": "undo", "callback_data": "undo"}]]
    }

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "已撤回", chat_id=ALICE.id, message_id=sent.message_id, reply_markup=keyboard("undo")
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE.id, message_id=99)
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", chat_id=ALICE.id, message_id=1)


async def test_chat_not_found_unless_relaxed(api: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hi")
    api.strict_chats = False
    assert (await bot.send_message(424242, "hi")).chat.id == 424242


async def test_text_limits_and_unsupported_formatting(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "hi")
    assert (await bot.send_message(ALICE.id, "  <b>张三</b> 😀\n")).text == "<b>张三</b> 😀"
    with pytest.raises(BadRequest, match=r"(?i)parse_mode is not supported"):
        await bot.send_message(ALICE.id, "<b>x</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)only supports inline keyboards"):
        await bot.send_message(ALICE.id, "x", reply_markup=ReplyKeyboardMarkup([["a"]]))
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ALICE.id, "字" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(ALICE.id, "   ")
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(ALICE.id, "x", reply_markup=keyboard("x" * 65))


async def test_callback_query(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "/start")
    sent = await bot.send_message(ALICE.id, "选择", reply_markup=keyboard("a", "b"))
    with pytest.raises(ValueError, match="no button"):
        api.press_button(ALICE, sent.message_id, "zzz")
    api.press_button(ALICE, sent.message_id, "b")
    updates = await bot.get_updates(offset=-1)
    query = updates[0].callback_query
    assert query.data == "b"
    assert query.from_user.id == ALICE.id
    assert query.message.message_id == sent.message_id
    assert query.message.reply_markup == keyboard("a", "b")
    assert await bot.answer_callback_query(query.id, text="好的")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    assert api.calls("answerCallbackQuery")[0].params["text"] == "好的"


async def test_user_edit_produces_edited_message(api: FakeBotApi, bot: Bot) -> None:
    original = api.send_text(ALICE, "typo")
    api.edit_text(ALICE, original["message"]["message_id"], "fixed")
    updates = await bot.get_updates()
    assert updates[0].message.text == "typo"  # the queued original is left untouched
    assert updates[1].edited_message.text == "fixed"
    assert updates[1].edited_message.edit_date is not None
    assert updates[1].edited_message.message_id == original["message"]["message_id"]


async def test_429_surfaces_as_retry_after(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "hi")
    api.inject("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ALICE.id, "x")
    assert caught.value.retry_after == timedelta(seconds=7)
    await bot.send_message(ALICE.id, "retried")
    faulted, ok = api.calls("sendMessage")
    assert (faulted.fault, faulted.status, faulted.ok) == ("429", 429, False)
    assert ok.ok and ok.fault is None
    assert api.messages_to(ALICE.id) == ["retried"]


async def test_500_and_drop_surface_as_network_error(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "hi")
    api.inject("*", "500")
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(ALICE.id, "x")
    assert type(caught.value) is NetworkError
    assert "Internal Server Error" in str(caught.value)

    api.inject("SENDMESSAGE", "drop", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(ALICE.id, "x")
        assert type(caught.value) is NetworkError
    assert (await bot.send_message(ALICE.id, "ok")).text == "ok"
    assert [c.fault for c in api.calls("sendMessage")] == ["500", "drop", "drop", None]
    assert api.messages_to(ALICE.id) == ["ok"]


async def test_slow_call_is_seen_on_arrival_and_answered_after_the_delay(
    api: FakeBotApi, bot: Bot
) -> None:
    api.send_text(ALICE, "hi")
    api.inject("sendMessage", "slow", delay=1.0)
    mark = api.mark()
    send = asyncio.create_task(bot.send_message(ALICE.id, "稍后"))
    call = await api.wait_for(method="sendMessage", since=mark)
    # Recorded as it arrives, before the delay is over: a test can kill the bot right now.
    assert (call.fault, call.text, call.answered, call.ok) == ("slow", "稍后", False, False)
    assert not send.done()
    assert api.calls("sendMessage") == [call]
    assert api.messages_to(ALICE.id) == []  # carried out when answered, like a late Telegram
    [reply] = await api.wait_for_reply(ALICE.id, since=mark)  # waits for the answer
    sent = await send
    assert reply["message_id"] == sent.message_id
    assert sent.text == "稍后"
    assert call.ok and call.delivered
    assert api.messages_to(ALICE.id) == ["稍后"]


async def test_slow_answer_trips_client_read_timeout(api: FakeBotApi) -> None:
    api.send_text(ALICE, "hi")
    api.inject("sendMessage", "slow", delay=0.3)
    request = HTTPXRequest(read_timeout=0.05)
    async with Bot(TOKEN, base_url=api.base_url, request=request) as slow_bot:
        with pytest.raises(TimedOut):
            await slow_bot.send_message(ALICE.id, "late")
    # Like Telegram, the server still carries out a request whose answer came too late.
    call = await api.wait_for(lambda c: c.answered, method="sendMessage")
    assert (call.fault, call.text, call.ok) == ("slow", "late", True)
    assert not call.delivered  # the client had already given up
    assert api.messages_to(ALICE.id) == ["late"]


async def test_client_killed_during_slow_answer(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "hi")
    api.inject("sendMessage", "slow", delay=0.3)
    _, writer = await asyncio.open_connection(api.host, api.port)
    body = json.dumps({"chat_id": ALICE.id, "text": "killed"}).encode()
    head = (
        f"POST /bot{TOKEN}/sendMessage HTTP/1.1\r\nHost: {api.host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    call = await api.wait_for(method="sendMessage")
    writer.transport.abort()  # the connection vanishes, as when the bot is SIGKILLed
    assert await api.wait_for(lambda c: c.answered, method="sendMessage") is call
    assert call.ok and not call.delivered
    assert (await bot.send_message(ALICE.id, "still serving")).text == "still serving"
    assert api.messages_to(ALICE.id) == ["killed", "still serving"]


async def test_stop_answers_a_stalled_call_at_once() -> None:
    async with FakeBotApi() as fake, Bot(TOKEN, base_url=fake.base_url) as b:
        fake.send_text(ALICE, "hi")
        fake.inject("sendMessage", "slow", delay=30)
        send = asyncio.create_task(b.send_message(ALICE.id, "x"))
        await fake.wait_for(method="sendMessage")
        await asyncio.wait_for(fake.stop(), 5)
        assert (await send).text == "x"


async def test_unknown_method_and_raw_encodings(api: FakeBotApi) -> None:
    api.send_text(ALICE, "hi")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}{TOKEN}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.post(f"{api.base_url}{TOKEN}/sendPhoto") as resp:  # not served
            assert resp.status == 404
        async with http.get(f"{api.base_url}{TOKEN}/GETME") as resp:
            assert (await resp.json())["result"]["username"] == "worklog_test_bot"
        body = {
            "chat_id": str(ALICE.id),
            "text": "json body",
            "reply_markup": keyboard("j").to_dict(),
        }
        async with http.post(f"{api.base_url}{TOKEN}/sendmessage", json=body) as resp:
            result = (await resp.json())["result"]
            assert result["text"] == "json body"
            assert result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "j"
        form = {"chat_id": str(ALICE.id), "text": "123"}  # form fields; text stays a string
        async with http.post(f"{api.base_url}{TOKEN}/sendMessage", data=form) as resp:
            assert (await resp.json())["result"]["text"] == "123"
    assert [c.method for c in api.calls()] == [
        "noSuchMethod",
        "sendPhoto",
        "getMe",
        "sendMessage",
        "sendMessage",
    ]


async def test_wait_for_and_wait_for_reply(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "hi")
    api.send_text(BOB, "hi")
    mark = api.mark()

    async def reply_later() -> None:
        await bot.send_message(BOB.id, "not for alice")
        await bot.send_message(ALICE.id, "one")
        await bot.send_message(ALICE.id, "two")

    task = asyncio.create_task(reply_later())
    replies = await api.wait_for_reply(ALICE.id, count=2)
    assert [m["text"] for m in replies] == ["one", "two"]
    await task
    call = await api.wait_for(lambda c: c.chat_id == BOB.id, method="sendMessage", since=mark)
    assert call.text == "not for alice"
    with pytest.raises(AssertionError, match=r"(?s)no matching call.*sendMessage"):
        await api.wait_for(lambda c: c.text == "never", timeout=0.05)
    api.mark()
    with pytest.raises(AssertionError, match="expected 1 new message"):
        await api.wait_for_reply(ALICE.id, timeout=0.05)


async def test_per_chat_rate_limit() -> None:
    async with (
        FakeBotApi(per_chat_limit=2) as fake,
        Bot(TOKEN, base_url=fake.base_url) as b,
    ):
        fake.send_text(ALICE, "hi")
        fake.send_text(BOB, "hi")
        await b.send_message(ALICE.id, "1")
        await b.send_message(ALICE.id, "2")
        with pytest.raises(RetryAfter):
            await b.send_message(ALICE.id, "3")
        await b.send_message(BOB.id, "other chat is fine")
        assert fake.calls("sendMessage")[2].fault == "rate"


async def test_blocked_user_gets_forbidden(api: FakeBotApi, bot: Bot) -> None:
    from telegram.error import Forbidden

    api.send_text(ALICE, "hi")
    api.block(ALICE)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(ALICE.id, "reminder")
    updates = await bot.get_updates(allowed_updates=["message", "my_chat_member"])
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"
    api.unblock(ALICE, notify=False)
    assert (await bot.send_message(ALICE.id, "welcome back")).text == "welcome back"
    assert [c.error for c in api.calls("sendMessage")] == [
        "Forbidden: bot was blocked by the user",
        None,
    ]


async def test_commands_and_delete_webhook(api: FakeBotApi, bot: Bot) -> None:
    await bot.set_my_commands([("log", "写日志"), ("help", "帮助")], language_code="zh")
    assert [c["command"] for c in api.commands(language_code="zh")] == ["log", "help"]
    assert api.commands() == []
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Log", "大写不行")])
    # PTB's Updater deletes the webhook before polling; pending updates may be dropped.
    api.send_text(ALICE, "pending")
    assert await bot.delete_webhook()
    assert len(api.pending_updates()) == 1
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert api.pending_updates() == []
    with pytest.raises(InvalidToken, match="Not Found"):  # PTB's reading of a 404
        await bot.get_webhook_info()


async def test_control_http_api(api: FakeBotApi, bot: Bot) -> None:
    control = api.url + "/_control"
    async with aiohttp.ClientSession() as http:

        async def post(action: str, status: int = 200, **body: object) -> Any:
            async with http.post(f"{control}/{action}", json=body) as resp:
                assert resp.status == status
                payload = await resp.json()
                return payload.get("result", payload)

        update = await post("send_text", user_id=2001, text="/start", first_name="王五")
        assert update["message"]["from"]["first_name"] == "王五"
        batch = [{"user_id": 2002, "text": f"b{i}"} for i in range(3)]
        first = update["update_id"] + 1
        assert await post("send_texts", messages=batch) == {
            "count": 3,
            "update_ids": [first, first + 1, first + 2],
        }
        got = await bot.get_updates()
        assert [u.message.text for u in got] == ["/start", "b0", "b1", "b2"]
        assert got[1].message.from_user.first_name == "User2002"
        await bot.send_message(2002, "pong")
        stats = await post("stats")
        assert stats["methods"]["sendMessage"] == 1
        assert (stats["pending_updates"], stats["confirmed_offset"]) == (4, 0)
        assert (await post("nope", 404))["description"] == "unknown action"
        assert "bad arguments" in (await post("send_text", 400, text="who?"))["description"]


async def test_application_end_to_end(api: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("欢迎")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(
            update.effective_message.text.upper(), do_quote=True
        )

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=5)
        mark = api.mark()
        api.send_text(ALICE, "/start")
        assert [m["text"] for m in await api.wait_for_reply(ALICE.id, since=mark)] == ["欢迎"]
        mark = api.mark()
        api.send_text(ALICE, "abc")
        replies = await api.wait_for_reply(ALICE.id, since=mark)
        assert replies[0]["text"] == "ABC"
        assert replies[0]["reply_to_message"]["text"] == "abc"
        await app.updater.stop()
        await app.stop()
    # Stopping the updater confirmed everything it had fetched.
    assert api.pending_updates() == []


async def test_module_entry_point_serves_until_killed() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakebot",
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode().strip()
        assert line.startswith("READY http://127.0.0.1:")
        base_url = line.split()[1]
        root = base_url.removesuffix("/bot")
        async with Bot(TOKEN, base_url=base_url) as remote_bot, aiohttp.ClientSession() as http:
            body = json.dumps({"user_id": 7, "text": "hi"})
            async with http.post(f"{root}/_control/send_text", data=body) as resp:
                assert resp.status == 200
            updates = await remote_bot.get_updates()
            assert updates[0].message.text == "hi"
            await remote_bot.send_message(7, "pong")
            async with http.get(f"{root}/_control/stats") as resp:
                stats = (await resp.json())["result"]
            assert stats["methods"]["sendMessage"] == 1
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
