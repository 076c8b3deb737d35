"""Tests of the fake Telegram Bot API, driven by a real python-telegram-bot ``Bot``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from tests.fakebot import FakeBotApi, FakeUser, parse_html

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
        fake.send_photo(ALICE, caption="照片")
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
        assert photo.caption == "照片"
        assert len(photo.photo) == 3
        assert sticker.sticker.emoji
        assert voice.voice.duration == timedelta(seconds=3)
        assert doc.document.file_name == "log.csv"
        photo_file = await b.get_file(photo.photo[-1].file_id)
        assert (await photo_file.download_as_bytearray()).startswith(b"\x89PNG")
        doc_file = await b.get_file(doc.document.file_id)
        assert await doc_file.download_as_bytearray() == bytearray(b"a,b\n")
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
    await bot.edit_message_reply_markup(ALICE.id, sent.message_id, reply_markup=keyboard("undo"))

    assert api.messages_to(ALICE.id) == ["已记录"]
    last = api.last_message_to(ALICE.id)
    assert last is not None
    assert last["reply_markup"] == {
        "inline_keyboard": [[{"text": "undo", "callback_data": "undo"}]]
    }

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "已记录", chat_id=ALICE.id, message_id=sent.message_id, reply_markup=keyboard("undo")
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE.id, message_id=99)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(
            ALICE.id, sent.message_id, reply_markup=keyboard("undo")
        )


async def test_chat_not_found_unless_relaxed(api: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hi")
    api.strict_chats = False
    assert (await bot.send_message(424242, "hi")).chat.id == 424242


async def test_html_parse_mode_and_limits(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "hi")
    msg = await bot.send_message(ALICE.id, "<b>张三</b> &lt;ok&gt; 😀<i>!</i>", parse_mode="HTML")
    assert msg.text == "张三 <ok> 😀!"
    assert msg.parse_entities() == {msg.entities[0]: "张三", msg.entities[1]: "!"}
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(ALICE.id, "a < b", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ALICE.id, "字" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(ALICE.id, "   ")
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(ALICE.id, "x", reply_markup=keyboard("x" * 65))


async def test_parse_html_entities() -> None:
    text, entities = parse_html(
        '<a href="https://e.x/?a=1&amp;b=2">链接</a> <pre><code class="language-py">x</code></pre>'
    )
    assert text == "链接 x"
    assert entities == [
        {"offset": 0, "length": 2, "type": "text_link", "url": "https://e.x/?a=1&b=2"},
        {"offset": 3, "length": 1, "type": "pre", "language": "py"},
    ]


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


async def test_send_document_and_download(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "/export")
    payload = "日期,事项\n2026-03-02,写报告\n".encode()
    msg = await bot.send_document(ALICE.id, payload, filename="日志.csv", caption="导出")
    assert msg.document.file_name == "日志.csv"
    assert msg.document.file_size == len(payload)
    assert msg.caption == "导出"
    call = api.calls("sendDocument")[0]
    assert call.files["document"].data == payload
    assert call.files["document"].filename == "日志.csv"
    assert call.params["chat_id"] == ALICE.id

    file = await bot.get_file(msg.document.file_id)
    assert file.file_path.startswith(api.base_file_url + TOKEN + "/documents/")
    assert await file.download_as_bytearray() == bytearray(payload)

    # Re-sending by file_id reuses the stored file; unknown ids are rejected.
    again = await bot.send_document(ALICE.id, msg.document.file_id)
    assert again.document.file_id == msg.document.file_id
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(ALICE.id, "nonexistent-file-id")


async def test_send_photo_upload(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "hi")
    msg = await bot.send_photo(ALICE.id, b"\x89PNG fake", caption="图")
    assert len(msg.photo) == 3
    file = await msg.photo[-1].get_file()
    assert await file.download_as_bytearray() == bytearray(b"\x89PNG fake")


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


async def test_slow_answer_trips_client_read_timeout(api: FakeBotApi) -> None:
    api.send_text(ALICE, "hi")
    api.inject("sendMessage", "slow", delay=0.3)
    request = HTTPXRequest(read_timeout=0.05)
    async with Bot(TOKEN, base_url=api.base_url, request=request) as slow_bot:
        with pytest.raises(TimedOut):
            await slow_bot.send_message(ALICE.id, "late")
    # Like Telegram, the server still carries out a request whose answer came too late.
    call = await api.wait_for(lambda c: c.params.get("text") == "late", method="sendMessage")
    assert call.fault == "slow"
    assert call.ok
    assert not call.delivered  # the client had already given up
    assert api.messages_to(ALICE.id) == ["late"]


async def test_unknown_method_and_raw_encodings(api: FakeBotApi) -> None:
    api.send_text(ALICE, "hi")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}{TOKEN}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
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
        form = aiohttp.FormData()
        form.add_field("chat_id", str(ALICE.id))
        form.add_field("document", b"raw", filename="raw.bin")
        async with http.post(f"{api.base_url}{TOKEN}/sendDocument", data=form) as resp:
            assert (await resp.json())["result"]["document"]["file_name"] == "raw.bin"
    assert [c.method for c in api.calls()] == [
        "noSuchMethod",
        "getMe",
        "sendMessage",
        "sendDocument",
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


async def test_webhook_and_commands(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "pending")
    assert await bot.set_webhook("https://example.invalid/hook")
    with pytest.raises(Conflict):
        await bot.get_updates()
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert api.pending_updates() == []

    await bot.set_my_commands([("log", "写日志"), ("help", "帮助")], language_code="zh")
    assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["log", "help"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Log", "大写不行")])
    assert await bot.delete_my_commands(language_code="zh")
    assert api.commands(language_code="zh") == []
    assert await bot.set_chat_menu_button()
    assert await bot.close()
    assert await bot.log_out()


async def test_blocked_user_gets_forbidden(api: FakeBotApi, bot: Bot) -> None:
    from telegram.error import Forbidden

    api.send_text(ALICE, "hi")
    api.block(ALICE)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(ALICE.id, "reminder")
    updates = await bot.get_updates(allowed_updates=["message", "my_chat_member"])
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"


async def test_control_http_api(api: FakeBotApi, bot: Bot) -> None:
    control = api.url + "/_control"
    async with aiohttp.ClientSession() as http:

        async def post(action: str, **body: object) -> object:
            async with http.post(f"{control}/{action}", json=body) as resp:
                payload = await resp.json()
                assert payload["ok"], payload
                return payload["result"]

        async def get(action: str, **query: str) -> object:
            async with http.get(f"{control}/{action}", params=query) as resp:
                payload = await resp.json()
                assert payload["ok"], payload
                return payload["result"]

        update = await post("send_text", user_id=2001, text="/start", first_name="王五")
        assert update["message"]["from"]["first_name"] == "王五"
        got = await bot.get_updates()
        assert got[0].message.text == "/start"
        sent = await bot.send_message(2001, "pick", reply_markup=keyboard("p"))

        await post("edit_text", user_id=2001, message_id=update["message"]["message_id"], text="/s")
        await post("press_button", user_id=2001, message_id=sent.message_id, data="p")
        await post(
            "enqueue",
            update={
                "message": {
                    "chat": {"id": -5, "type": "group", "title": "G"},
                    "date": 0,
                    "text": "group",
                }
            },
        )
        texts = [u.effective_message.text for u in await bot.get_updates(offset=-3)]
        assert texts == ["/s", "pick", "group"]

        calls = await get("calls", method="sendMessage", since="0")
        assert [c["params"]["text"] for c in calls["calls"]] == ["pick"]
        stats = await get("stats")
        assert stats["methods"]["sendMessage"] == 1
        assert stats["pending_updates"] == 3
        assert stats["confirmed_offset"] == api.confirmed_offset

        await post("inject", method="sendMessage", fault="429", retry_after=3)
        with pytest.raises(RetryAfter):
            await bot.send_message(2001, "x")

        # Long-poll the call log from another "process".
        nxt = (await get("calls"))["next"]
        waiter = asyncio.create_task(get("calls", since=str(nxt), wait="5"))
        await bot.send_message(2001, "later")
        assert [c["params"]["text"] for c in (await waiter)["calls"]] == ["later"]

        assert await post("reset") is True
        assert api.calls() == []
        assert (await get("stats"))["pending_updates"] == 0
        batch = [{"user_id": 2002, "text": f"b{i}"} for i in range(3)]
        assert (await post("send_texts", messages=batch))["count"] == 3
        assert [u.message.text for u in await bot.get_updates()] == ["b0", "b1", "b2"]
        async with http.post(f"{control}/nope", json={}) as resp:
            assert resp.status == 404


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
