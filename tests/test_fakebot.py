"""Tests of the fake Telegram Bot API, driven by a real python-telegram-bot ``Bot``."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import openpyxl
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from tests.fakebot import FakeBotApi, FakeUser, UploadedFile

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST-token"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
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


def xlsx(*rows: tuple[object, ...]) -> bytes:
    """An XLSX workbook with ``rows`` in its active sheet."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_xlsx(data: bytes) -> list[tuple[object, ...]]:
    """The rows of the active sheet of an XLSX workbook."""
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


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


async def test_send_document_upload_and_resend(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "/export")
    content = xlsx(("日期", "工作"), ("2026-03-02", "写报告"))
    mark = api.mark()
    sent = await bot.send_document(
        ALICE.id,
        content,
        filename="工作日志 3月.xlsx",
        caption="  本周日志 ",
        reply_markup=keyboard("again"),
    )
    doc = sent.document
    assert doc is not None
    assert (doc.file_name, doc.mime_type, doc.file_size) == (
        "工作日志 3月.xlsx",
        XLSX_TYPE,
        len(content),
    )
    assert doc.file_id and doc.file_unique_id
    assert (sent.caption, sent.text, sent.message_id) == ("本周日志", None, 2)
    assert sent.from_user.id == api.bot_id
    assert sent.reply_markup == keyboard("again")

    [reply] = await api.wait_for_reply(ALICE.id, since=mark)  # documents count as replies
    assert reply == api.last_message_to(ALICE.id)
    assert reply["document"]["file_name"] == "工作日志 3月.xlsx"
    assert reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "again"
    assert api.document_bytes(reply) == content
    assert read_xlsx(api.document_bytes(reply)) == [("日期", "工作"), ("2026-03-02", "写报告")]
    [call] = api.calls("sendDocument")
    upload = call.params["document"]
    assert isinstance(upload, UploadedFile)
    assert (upload.filename, upload.content_type, upload.data) == (
        "工作日志 3月.xlsx",
        XLSX_TYPE,
        content,
    )
    assert "bytes" in call.describe() and call.params["caption"] == "  本周日志 "
    assert api.messages_to(ALICE.id) == ["本周日志"]  # a document stands for its caption
    api.press_button(ALICE, sent.message_id, "again")  # its keyboard works like any other

    # A known file_id is sent again without uploading; an InputFile from a stream works too.
    again = await bot.send_document(ALICE.id, doc.file_id, reply_to_message_id=sent.message_id)
    assert again.document is not None
    assert (again.document.file_unique_id, again.caption) == (doc.file_unique_id, None)
    assert again.reply_to_message is not None
    assert again.reply_to_message.document.file_id == doc.file_id
    assert api.document_bytes(again.document.file_id) == content
    stream = InputFile(io.BytesIO(b"a,b\n1,2\n"), filename="log.csv")
    csv = await bot.send_document(ALICE.id, stream)
    assert csv.document is not None and csv.document.mime_type == "text/csv"
    assert api.document_bytes(api.last_message_to(ALICE.id) or {}) == b"a,b\n1,2\n"
    unnamed = await bot.send_document(ALICE.id, b"\x00\x01")
    assert unnamed.document is not None
    assert unnamed.document.mime_type == "application/octet-stream"
    assert api.messages_to(ALICE.id) == ["本周日志", "", "", ""]

    # What a user sent can be sent back by its file_id; its content is kept as well.
    user_doc = api.send_document(ALICE, b"x,y\n", "mine.csv", "text/csv")["message"]["document"]
    assert api.document_bytes(user_doc["file_id"]) == b"x,y\n"
    echoed = await bot.send_document(ALICE.id, user_doc["file_id"], caption="原样返回")
    assert echoed.document is not None and echoed.document.file_name == "mine.csv"
    with pytest.raises(LookupError, match="no document"):
        api.document_bytes("nope")
    with pytest.raises(LookupError, match="no document"):
        api.document_bytes(api.message(ALICE.id, 1) or {})  # a text message


async def test_send_document_refusals(api: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_document(424242, b"data", filename="a.txt")
    api.send_text(ALICE, "hi")
    with pytest.raises(BadRequest, match=r"^File must be non-empty$"):
        await bot.send_document(ALICE.id, b"", filename="empty.xlsx")
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(ALICE.id, "BQACAgIAAxkBAAI99999999")
    with pytest.raises(BadRequest, match=r"(?i)can't fetch files from urls"):
        await bot.send_document(ALICE.id, "https://example.invalid/report.xlsx")
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_document(ALICE.id, b"data", filename="a.txt", caption="字" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)parse_mode is not supported"):
        await bot.send_document(ALICE.id, b"data", caption="<b>x</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)only supports inline keyboards"):
        await bot.send_document(ALICE.id, b"data", reply_markup=ReplyKeyboardMarkup([["a"]]))
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_document(ALICE.id, b"data", reply_to_message_id=99)
    api.max_upload_bytes = 3
    with pytest.raises(NetworkError, match=r"Request Entity Too Large"):
        await bot.send_document(ALICE.id, b"data", filename="big.bin")
    api.max_upload_bytes = 4
    max_caption = await bot.send_document(ALICE.id, b"data", filename="a.txt", caption="字" * 1024)
    assert max_caption.caption == "字" * 1024
    assert max_caption.message_id == 2  # the refused sends used no message id
    assert api.messages_to(ALICE.id) == ["字" * 1024]
    assert [c.status for c in api.calls("sendDocument")] == [400] * 8 + [413, 200]
    assert api.calls("sendDocument")[1].error == "Bad Request: file must be non-empty"

    # A document has no text to edit; faults and rate limits apply to sendDocument too.
    with pytest.raises(BadRequest, match=r"(?i)there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=ALICE.id, message_id=max_caption.message_id)
    api.inject("sendDocument", "429", retry_after=3)
    with pytest.raises(RetryAfter):
        await bot.send_document(ALICE.id, b"data")
    assert api.calls("sendDocument")[-1].fault == "429"


async def test_raw_multipart_uploads(api: FakeBotApi) -> None:
    api.send_text(ALICE, "hi")
    url = f"{api.base_url}{TOKEN}/sendDocument"
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("chat_id", str(ALICE.id))
        form.add_field("caption", "123")  # stays a string
        form.add_field("reply_markup", json.dumps(keyboard("ok").to_dict()))
        form.add_field("document", b"PK\x03\x04", filename="r.xlsx", content_type=XLSX_TYPE)
        async with http.post(url, data=form) as resp:
            result = (await resp.json())["result"]
        assert result["caption"] == "123"
        assert result["document"]["mime_type"] == XLSX_TYPE
        assert result["reply_markup"] == keyboard("ok").to_dict()

        form = aiohttp.FormData()  # the document names its part through attach://
        form.add_field("chat_id", str(ALICE.id))
        form.add_field("document", "attach://file0")
        form.add_field("file0", b"abc", filename="a.txt")  # no type: guessed from the name
        async with http.post(url, data=form) as resp:
            assert (await resp.json())["result"]["document"]["mime_type"] == "text/plain"

        async with http.post(url, data={"chat_id": str(ALICE.id)}) as resp:
            assert resp.status == 400
            assert (await resp.json())["description"] == (
                "Bad Request: there is no document in the request"
            )
    uploaded = [api.message(ALICE.id, mid) or {} for mid in (2, 3)]
    assert [api.document_bytes(m) for m in uploaded] == [b"PK\x03\x04", b"abc"]


async def test_force_reply_markup(api: FakeBotApi, bot: Bot) -> None:
    api.send_text(ALICE, "/log")
    prompt = await bot.send_message(
        ALICE.id, "今天做了什么？", reply_markup=ForceReply(input_field_placeholder="写报告")
    )
    assert prompt.reply_markup is None  # like Telegram: a Message only shows inline keyboards
    recorded = api.last_message_to(ALICE.id)
    assert recorded is not None
    assert recorded["message_id"] == prompt.message_id
    assert recorded["reply_markup"] == {"force_reply": True, "input_field_placeholder": "写报告"}
    with pytest.raises(ValueError, match="no button"):
        api.press_button(ALICE, prompt.message_id, "x")
    # Editing the text keeps the record of the ForceReply; the same text is "not modified".
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "今天做了什么？", chat_id=ALICE.id, message_id=prompt.message_id
        )
    edited = await bot.edit_message_text("今天呢？", chat_id=ALICE.id, message_id=prompt.message_id)
    assert edited.reply_markup is None
    assert (api.last_message_to(ALICE.id) or {})["reply_markup"]["force_reply"] is True
    selective = await bot.send_message(ALICE.id, "x", reply_markup=ForceReply(selective=True))
    assert (api.message(ALICE.id, selective.message_id) or {})["reply_markup"] == {
        "force_reply": True,
        "selective": True,
    }

    garbage = [
        {"force_reply": False},
        {"force_reply": True, "input_field_placeholder": "字" * 65},
        {"force_reply": True, "input_field_placeholder": ""},
        {"force_reply": True, "selective": "yes"},
        {"force_reply": True, "keyboard": [["a"]]},
        {"keyboard": [["a"]]},
        {"remove_keyboard": True},
        ["inline_keyboard"],
        "{not json",
    ]
    async with aiohttp.ClientSession() as http:
        for markup in garbage:
            body = {"chat_id": ALICE.id, "text": "x", "reply_markup": markup}
            async with http.post(f"{api.base_url}{TOKEN}/sendMessage", json=body) as resp:
                assert resp.status == 400, markup
                assert (await resp.json())["description"].startswith("Bad Request: "), markup
    assert api.messages_to(ALICE.id) == ["今天呢？", "x"]


async def test_user_replies(api: FakeBotApi, bot: Bot) -> None:
    start = api.send_text(ALICE, "/log")
    prompt = await bot.send_message(
        ALICE.id,
        "今天做了什么？",
        reply_markup=ForceReply(),
        reply_to_message_id=start["message"]["message_id"],
    )
    assert prompt.reply_to_message is not None and prompt.reply_to_message.text == "/log"
    await bot.edit_message_text("今天呢？", chat_id=ALICE.id, message_id=prompt.message_id)
    recorded = api.last_message_to(ALICE.id)
    assert recorded is not None

    answer = api.send_text(ALICE, "写报告", reply_to=recorded)
    replied = answer["message"]["reply_to_message"]
    assert replied["from"] == api.bot_user
    assert "reply_to_message" not in replied  # Telegram nests one level only
    assert "reply_markup" not in replied  # the ForceReply is not part of the message
    forged = api.send_text(ALICE, "我自己说的", reply_to=answer)  # the update itself
    by_id = api.send_text(ALICE, "按编号", reply_to=prompt.message_id)
    other = api.send_text(BOB, "hi")
    bot_to_bob = await bot.send_message(BOB.id, "hello bob")
    with pytest.raises(ValueError, match="no message 99"):
        api.send_text(ALICE, "x", reply_to=99)
    with pytest.raises(ValueError, match="can't reply in chat"):
        api.send_text(ALICE, "x", reply_to=other)
    with pytest.raises(ValueError, match="no message"):
        api.send_text(ALICE, "x", reply_to=bot_to_bob.message_id + 10)
    with pytest.raises(ValueError, match="reply_to must be"):
        api.send_text(ALICE, "x", reply_to={"text": "no id"})

    updates = await bot.get_updates()
    got = {u.message.text: u.message for u in updates if u.message}
    reply = got["写报告"].reply_to_message
    assert reply is not None
    assert reply.from_user is not None and reply.from_user.id == api.bot_id
    assert reply.from_user.is_bot and reply.from_user.username == "worklog_test_bot"
    assert (reply.message_id, reply.chat.id, reply.text) == (
        prompt.message_id,
        ALICE.id,
        "今天呢？",
    )
    assert reply.date == prompt.date and reply.edit_date is not None
    assert reply.reply_to_message is None
    own = got["我自己说的"].reply_to_message
    assert own is not None and own.from_user is not None
    assert (own.from_user.id, own.text) == (ALICE.id, "写报告")
    assert got["按编号"].reply_to_message.message_id == prompt.message_id
    assert api.message(ALICE.id, by_id["message"]["message_id"])["reply_to_message"]["text"] == (
        "今天呢？"
    )
    assert forged["message"]["message_id"] == answer["message"]["message_id"] + 1
    # Replies work on the other kinds of user messages too.
    photo = api.send_photo(ALICE, reply_to=recorded)
    doc = api.send_document(ALICE, reply_to=recorded)
    for update in (photo, doc):
        assert update["message"]["reply_to_message"]["message_id"] == prompt.message_id


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
        async with http.post(f"{api.base_url}{TOKEN}/sendVoice") as resp:  # not served
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
        "sendVoice",
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


async def test_enforce_limits_answers_429_like_telegram_and_counts_them() -> None:
    async with (
        FakeBotApi(strict_chats=False) as fake,
        Bot(TOKEN, base_url=fake.base_url) as b,
    ):
        fake.enforce_limits(global_per_second=3, per_chat_per_second=1)
        await b.send_message(ALICE.id, "1")
        with pytest.raises(RetryAfter) as refused:  # the same chat within a second
            await b.send_message(ALICE.id, "2")
        assert refused.value.retry_after.total_seconds() >= 1  # type: ignore[union-attr]
        await b.send_message(BOB.id, "3")
        await b.send_message(7003, "4")
        with pytest.raises(RetryAfter):  # a fourth in the second
            await b.send_message(7004, "5")
        assert fake.rate_limited == 2
        assert fake.stats()["rate_limited"] == 2
        assert [c.fault for c in fake.calls("sendMessage")] == [None, "rate", None, None, "rate"]
        fake.enforce_limits(global_per_second=None, per_chat_per_second=None)
        await b.send_message(ALICE.id, "no limits")
        assert fake.rate_limited == 0


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
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.max_connections) == ("", 0, None)


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
        pong = await bot.send_message(2002, "pong")
        stats = await post("stats")
        assert stats["methods"]["sendMessage"] == 1
        assert (stats["pending_updates"], stats["confirmed_offset"]) == (4, 0)
        assert (await post("nope", 404))["description"] == "unknown action"
        assert "bad arguments" in (await post("send_text", 400, text="who?"))["description"]
        reply = await post("send_text", user_id=2002, text="re", reply_to=pong.message_id)
        assert reply["message"]["reply_to_message"]["text"] == "pong"
        bad_reply = await post("send_text", 400, user_id=2002, text="re", reply_to=99)
        assert "no message 99" in bad_reply["description"]
        limits = await post("enforce_limits", global_per_second=30, per_chat_per_second=None)
        assert limits == {"global_per_second": 30.0, "per_chat_per_second": None}
        assert (api.global_limit, api.per_chat_limit, api.rate_limited) == (30.0, None, 0)


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


async def test_application_prompts_replies_and_exports(api: FakeBotApi) -> None:
    """The bot asks with a ForceReply, accepts only replies to its prompt, exports an XLSX."""

    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "今天做了什么？", reply_markup=ForceReply(input_field_placeholder="工作内容")
        )

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        assert msg is not None and msg.reply_to_message is not None
        replied = msg.reply_to_message
        to_prompt = replied.from_user is not None and replied.from_user.id == context.bot.id
        if to_prompt and replied.text == "今天做了什么？":
            await msg.reply_text(f"已记录：{msg.text}")
        else:
            await msg.reply_text("请回复机器人的提问")

    async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        data = xlsx(("姓名", "工作"), ("张三", "写报告"))
        await update.effective_message.reply_document(
            InputFile(data, filename="日志.xlsx"), caption="导出", reply_markup=keyboard("again")
        )

    app = Application.builder().token(TOKEN).base_url(api.base_url).build()
    app.add_handler(CommandHandler("ask", ask))
    app.add_handler(CommandHandler("export", export))
    app.add_handler(MessageHandler(filters.TEXT & filters.REPLY, answer))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=5)
        mark = api.mark()
        api.send_text(ALICE, "/ask")
        [prompt] = await api.wait_for_reply(ALICE.id, since=mark)
        assert prompt == api.last_message_to(ALICE.id)
        assert prompt["reply_markup"]["input_field_placeholder"] == "工作内容"

        mark = api.mark()
        mine = api.send_text(ALICE, "写报告", reply_to=prompt)
        [ok] = await api.wait_for_reply(ALICE.id, since=mark)
        assert ok["text"] == "已记录：写报告"
        mark = api.mark()
        api.send_text(ALICE, "伪造", reply_to=mine)  # a reply to the user's own message
        [refused] = await api.wait_for_reply(ALICE.id, since=mark)
        assert refused["text"] == "请回复机器人的提问"

        mark = api.mark()
        api.send_text(ALICE, "/export")
        [sent] = await api.wait_for_reply(ALICE.id, since=mark)
        assert (sent["caption"], sent["document"]["file_name"]) == ("导出", "日志.xlsx")
        assert sent["document"]["mime_type"] == XLSX_TYPE
        assert read_xlsx(api.document_bytes(sent)) == [("姓名", "工作"), ("张三", "写报告")]
        api.press_button(ALICE, sent["message_id"], "again")
        await app.updater.stop()
        await app.stop()


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


# -- webhooks --------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (for now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A small webhook listener on 127.0.0.1 that records what it receives.

    It answers ``statuses`` in turn, then ``status``; with ``gate`` set each request waits
    for that event first; ``on_update`` (if any) runs on each update before the answer.
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.status = 200
        self.statuses: list[int] = []
        self.gate: asyncio.Event | None = None
        self.on_update: Any = None
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.times: list[float] = []
        self.active = 0
        self.peak = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.requests]

    async def handle(self, request: web.Request) -> web.Response:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            body = await request.json()
            self.requests.append((dict(request.headers), body))
            self.times.append(asyncio.get_running_loop().time())
            if self.gate is not None:
                await self.gate.wait()
            if self.on_update is not None:
                await self.on_update(body)
            return web.Response(status=self.statuses.pop(0) if self.statuses else self.status)
        finally:
            self.active -= 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self.gate is not None:
            self.gate.set()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A running webhook listener."""
    listener = Receiver()
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


async def test_set_get_and_delete_webhook(api: FakeBotApi, bot: Bot, receiver: Receiver) -> None:
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.set_webhook(
        receiver.url,
        secret_token="s3cret_-X",
        max_connections=5,
        allowed_updates=["message", "callback_query"],
    )
    info = await bot.get_webhook_info()
    assert (info.url, info.has_custom_certificate, info.pending_update_count) == (
        receiver.url,
        False,
        0,
    )
    assert info.max_connections == 5
    assert info.allowed_updates == ("callback_query", "message")
    assert info.last_error_date is None and info.last_error_message is None
    assert api.webhook_state()["secret"] == "s3cret_-X"
    # Each setWebhook replaces the secret and max_connections; allowed_updates stay if omitted.
    assert await bot.set_webhook(receiver.url)
    info = await bot.get_webhook_info()
    assert (info.max_connections, info.allowed_updates) == (40, ("callback_query", "message"))
    assert api.webhook_state()["secret"] is None
    assert await bot.delete_webhook()
    info = await bot.get_webhook_info()
    assert (info.url, info.max_connections, info.allowed_updates) == ("", None, ())
    assert await bot.delete_webhook()  # nothing to delete is fine
    # An empty URL removes the webhook too.
    await bot.set_webhook(receiver.url)
    assert await bot.set_webhook("")
    assert api.webhook_info() == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }
    # JSON and form bodies; a secret of digits stays a string.
    method = f"{api.base_url}{TOKEN}/setWebhook"
    async with aiohttp.ClientSession() as http:
        body = {"url": receiver.url, "max_connections": 3, "secret_token": "123"}
        async with http.post(method, json=body) as resp:
            assert await resp.json() == {"ok": True, "result": True}
        assert (api.webhook_state()["secret"], api.webhook_state()["max_connections"]) == (
            "123",
            3,
        )
        form = {"url": receiver.url, "max_connections": "7", "secret_token": "007"}
        async with http.post(method, data=form) as resp:
            assert (await resp.json())["result"] is True
        assert (api.webhook_state()["secret"], api.webhook_state()["max_connections"]) == (
            "007",
            7,
        )
        async with http.get(f"{api.base_url}{TOKEN}/getWebhookInfo") as resp:
            result = (await resp.json())["result"]
        assert result["url"] == receiver.url
        assert result["allowed_updates"] == ["callback_query", "message"]  # set at first


async def test_webhook_must_be_https_except_on_loopback(api: FakeBotApi, bot: Bot) -> None:
    for url in (
        "http://example.com/hook",
        "http://10.0.0.1/hook",
        "ftp://127.0.0.1/hook",
        "example.com/hook",
    ):
        # PTB drops "Bad Request: " and capitalises the rest.
        with pytest.raises(BadRequest, match=r"(?i)an HTTPS URL must be provided for webhook"):
            await bot.set_webhook(url)
    with pytest.raises(BadRequest, match="only on ports 80, 88, 443 or 8443"):
        await bot.set_webhook("https://example.com:8080/hook")
    with pytest.raises(BadRequest, match=r"(?i)IP address 192\.168\.1\.5 is reserved"):
        await bot.set_webhook("https://192.168.1.5/hook")
    assert api.webhook_info()["url"] == ""
    async with aiohttp.ClientSession() as http:
        body = {"url": "http://example.com/hook"}
        async with http.post(f"{api.base_url}{TOKEN}/setWebhook", json=body) as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: bad webhook: "
                "An HTTPS URL must be provided for webhook",
            }
    for url in (
        "https://example.com/hook",
        "https://example.com:8443/hook",
        # The fake's deviation: plain HTTP on any port of a loopback host.
        "http://127.0.0.1:1/hook",
        "http://localhost:65000/hook",
        "http://[::1]:8080/hook",
        "https://127.0.0.2:9/hook",
    ):
        assert await bot.set_webhook(url)
        assert (await bot.get_webhook_info()).url == url


async def test_webhook_secret_and_max_connections_are_checked(
    api: FakeBotApi, bot: Bot, receiver: Receiver
) -> None:
    for secret in ("has space", "semi;colon", "ünïcode", "a" * 257):
        with pytest.raises(BadRequest, match=r"(?i)secret token"):
            await bot.set_webhook(receiver.url, secret_token=secret)
    for count in (0, 101):
        with pytest.raises(BadRequest, match=r"(?i)max_connections must be between 1 and 100"):
            await bot.set_webhook(receiver.url, max_connections=count)
    assert api.webhook_info()["url"] == ""
    assert await bot.set_webhook(receiver.url, secret_token="a-Z_9" * 51 + "x", max_connections=100)
    assert api.webhook_state()["secret"] == "a-Z_9" * 51 + "x"
    assert api.webhook_info()["max_connections"] == 100


async def test_get_updates_conflicts_while_webhook_is_set(
    api: FakeBotApi, bot: Bot, receiver: Receiver
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_for_poll()
    await bot.set_webhook(receiver.url)
    with pytest.raises(Conflict, match="terminated by setWebhook request"):
        await asyncio.wait_for(poll, 5)
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    url = f"{api.base_url}{TOKEN}/getUpdates"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 409
        assert await resp.json() == {
            "ok": False,
            "error_code": 409,
            "description": "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        }
    await bot.delete_webhook()
    assert await bot.get_updates() == ()


async def test_webhook_delivers_updates_with_the_secret(
    api: FakeBotApi, bot: Bot, receiver: Receiver
) -> None:
    early = api.send_text(ALICE, "queued before the webhook")
    await bot.set_webhook(receiver.url, secret_token="tok_123")
    sent = api.send_text(ALICE, "你好")
    edited = api.edit_text(ALICE, sent["message"]["message_id"], "你好!")
    state = await api.wait_webhook_idle()
    assert receiver.bodies == [early, sent, edited]
    for headers, _ in receiver.requests:
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == "tok_123"
        assert headers["Content-Type"] == "application/json"
    update = Update.de_json(receiver.bodies[2], bot)
    assert update.edited_message is not None and update.edited_message.text == "你好!"
    assert state["pending"] == 0 and state["in_flight"] == []
    assert state["deliveries"] == [
        {
            "update_id": u["update_id"],
            "attempts": 1,
            "status": 200,
            "history": [200],
            "delivered": True,
        }
        for u in (early, sent, edited)
    ]
    assert api.pending_updates() == []
    info = await bot.get_webhook_info()
    assert (info.pending_update_count, info.last_error_message) == (0, None)
    # Without a secret there is no header.
    await bot.set_webhook(receiver.url)
    api.send_text(BOB, "no secret")
    await api.wait_webhook_idle()
    headers, body = receiver.requests[-1]
    assert body["message"]["text"] == "no secret"
    assert "X-Telegram-Bot-Api-Secret-Token" not in headers


async def test_webhook_retries_after_an_error_status(
    api: FakeBotApi, bot: Bot, receiver: Receiver
) -> None:
    api.webhook_retry_delay = 0.05
    receiver.statuses = [500, 503]
    await bot.set_webhook(receiver.url)
    update = api.send_text(ALICE, "retry me")
    await api.wait_webhook_idle()
    [delivery] = api.webhook_deliveries()
    assert (delivery.update_id, delivery.attempts) == (update["update_id"], 3)
    assert (delivery.history, delivery.status, delivery.delivered) == ([500, 503, 200], 200, True)
    assert receiver.bodies == [update] * 3
    gaps = [b - a for a, b in zip(receiver.times, receiver.times[1:], strict=False)]
    assert min(gaps) >= 0.04
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 503 Service Unavailable"
    assert info.last_error_date is not None
    assert info.pending_update_count == 0


async def test_webhook_retries_until_the_listener_starts(api: FakeBotApi, bot: Bot) -> None:
    api.webhook_retry_delay = 0.05
    late = Receiver(free_port())
    await bot.set_webhook(late.url)
    update = api.send_text(ALICE, "anyone there?")
    state = await api.wait_webhook(lambda s: s["deliveries"][0]["attempts"] >= 3)
    assert state["deliveries"][0]["history"][:2] == ["Connection refused"] * 2
    info = await bot.get_webhook_info()
    assert (info.last_error_message, info.pending_update_count) == ("Connection refused", 1)
    await late.start()
    try:
        await api.wait_webhook_idle()
        [delivery] = api.webhook_deliveries()
        assert delivery.delivered and delivery.attempts >= 3
        assert delivery.history[-1] == 200
        assert set(delivery.history[:-1]) == {"Connection refused"}
        assert late.bodies == [update]
    finally:
        await late.stop()


async def test_webhook_timeout_counts_as_a_failure(
    api: FakeBotApi, bot: Bot, receiver: Receiver
) -> None:
    api.webhook_retry_delay = 0.05
    api.webhook_timeout = 0.2
    receiver.gate = asyncio.Event()
    await bot.set_webhook(receiver.url)
    api.send_text(ALICE, "slow listener")
    await api.wait_webhook(lambda s: s["deliveries"][0]["attempts"] >= 2)
    receiver.gate.set()
    await api.wait_webhook_idle()
    [delivery] = api.webhook_deliveries()
    assert delivery.history[0] == "Read timeout expired"
    assert delivery.delivered
    assert api.webhook_state()["last_error_message"] == "Read timeout expired"


async def test_webhook_respects_max_connections(
    api: FakeBotApi, bot: Bot, receiver: Receiver
) -> None:
    receiver.gate = asyncio.Event()
    await bot.set_webhook(receiver.url, max_connections=2)
    users = [FakeUser(3000 + i, f"用户{i}") for i in range(5)]
    sent = [api.send_text(user, f"m{i}") for i, user in enumerate(users)]
    for _ in range(500):
        if receiver.active == 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # time for more deliveries, were any allowed
    assert (receiver.active, receiver.peak) == (2, 2)
    state = api.webhook_state()
    assert state["in_flight"] == [sent[0]["update_id"], sent[1]["update_id"]]
    assert state["pending"] == 5 and not state["idle"]
    assert (await bot.get_webhook_info()).pending_update_count == 5
    receiver.gate.set()
    await api.wait_webhook_idle()
    assert receiver.peak == 2
    assert sorted(b["message"]["text"] for b in receiver.bodies) == [f"m{i}" for i in range(5)]
    assert [d.attempts for d in api.webhook_deliveries()] == [1] * 5


async def test_webhook_delivers_one_chats_updates_one_at_a_time(
    api: FakeBotApi, bot: Bot, receiver: Receiver
) -> None:
    receiver.gate = asyncio.Event()
    await bot.set_webhook(receiver.url, max_connections=10)
    first, second = api.send_text(ALICE, "one"), api.send_text(ALICE, "two")
    other = api.send_text(BOB, "three")
    await api.wait_webhook(lambda state: len(state["in_flight"]) == 2)
    assert api.webhook_state()["in_flight"] == [first["update_id"], other["update_id"]]
    receiver.gate.set()
    await api.wait_webhook_idle()
    texts = [b["message"]["text"] for b in receiver.bodies if b["message"]["chat"]["id"] == 1001]
    assert texts == ["one", "two"] and second["update_id"] > first["update_id"]


async def test_delete_webhook_returns_pending_updates_to_get_updates(
    api: FakeBotApi, bot: Bot, receiver: Receiver
) -> None:
    api.webhook_retry_delay = 0.05
    receiver.status = 503
    await bot.set_webhook(receiver.url)
    first, second = api.send_text(ALICE, "one"), api.send_text(BOB, "two")
    await api.wait_webhook(
        lambda s: len(s["deliveries"]) == 2 and all(d["attempts"] >= 2 for d in s["deliveries"])
    )
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 2
    assert info.last_error_message == "Wrong response from the webhook: 503 Service Unavailable"
    assert await bot.delete_webhook()
    attempts = [d.attempts for d in api.webhook_deliveries()]
    got = await bot.get_updates()
    assert [u.update_id for u in got] == [first["update_id"], second["update_id"]]
    await asyncio.sleep(0.15)  # no more deliveries once deleted
    assert [d.attempts for d in api.webhook_deliveries()] == attempts
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.last_error_message) == ("", 2, None)


async def test_drop_pending_updates_with_the_webhook(
    api: FakeBotApi, bot: Bot, receiver: Receiver
) -> None:
    api.webhook_retry_delay = 0.05
    receiver.status = 503
    await bot.set_webhook(receiver.url)
    api.send_text(ALICE, "stale")
    await api.wait_webhook(lambda s: s["last_error_message"] is not None)
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()
    # setWebhook may drop what waits for getUpdates, too.
    api.send_text(ALICE, "old")
    receiver.status = 200
    await bot.set_webhook(receiver.url, drop_pending_updates=True)
    assert api.webhook_info()["pending_update_count"] == 0
    api.send_text(ALICE, "new")
    await api.wait_webhook_idle()
    texts = [b["message"]["text"] for b in receiver.bodies]
    assert texts[-1] == "new" and "old" not in texts and set(texts[:-1]) == {"stale"}


async def test_webhook_control_http_api(api: FakeBotApi, bot: Bot, receiver: Receiver) -> None:
    control = api.url + "/_control"
    async with aiohttp.ClientSession() as http:

        async def call(verb: str, path: str, **body: object) -> Any:
            async with http.request(verb, f"{control}/{path}", json=body or None) as resp:
                assert resp.status == 200
                return (await resp.json())["result"]

        state = await call("GET", "webhook")
        assert (state["url"], state["pending"], state["deliveries"]) == ("", 0, [])
        state = await call("POST", "webhook/config", retry_delay=0.05, timeout=2)
        assert (state["retry_delay"], state["timeout"]) == (0.05, 2.0)
        assert (api.webhook_retry_delay, api.webhook_timeout) == (0.05, 2.0)
        await bot.set_webhook(receiver.url, secret_token="abc")
        receiver.statuses = [500]
        update = await call("POST", "send_text", user_id=3001, text="via control")
        state = await call("POST", "webhook/wait_idle?timeout=5")
        assert state["idle"] and state["pending"] == 0
        assert (state["url"], state["secret"]) == (receiver.url, "abc")
        assert state["max_connections"] == 40
        assert state["deliveries"] == [
            {
                "update_id": update["update_id"],
                "attempts": 2,
                "status": 200,
                "history": [500, 200],
                "delivered": True,
            }
        ]
        assert state["last_error_message"] == (
            "Wrong response from the webhook: 500 Internal Server Error"
        )
        assert isinstance(state["last_error_date"], int)
        assert state == api.webhook_state()
        # A webhook that keeps failing is not idle: wait_idle answers after its timeout.
        receiver.status = 503
        await call("POST", "send_text", user_id=3001, text="refused")
        state = await call("POST", "webhook/wait_idle", timeout=0.2)
        assert not state["idle"] and state["pending"] == 1


async def test_application_served_by_webhook(api: FakeBotApi, receiver: Receiver) -> None:
    """A PTB Application fed by the webhook (no polling) answers through the Bot API."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(update.effective_message.text.upper())

    app = Application.builder().token(TOKEN).base_url(api.base_url).updater(None).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))

    async def feed(body: dict[str, Any]) -> None:
        await app.process_update(Update.de_json(body, app.bot))

    receiver.on_update = feed
    async with app:
        await app.bot.set_webhook(receiver.url, secret_token="s")
        mark = api.mark()
        api.send_text(ALICE, "hook")
        [reply] = await api.wait_for_reply(ALICE.id, since=mark)
        assert reply["text"] == "HOOK"
        await api.wait_webhook_idle()
        assert api.pending_updates() == []
        with pytest.raises(Conflict):
            await app.bot.get_updates()
