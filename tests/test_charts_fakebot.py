"""sendPhoto in the fake Bot API, and the outbox transport sending a .png as a photo."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import Bot, InputFile
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import ExtBot

from bot.telegram import TelegramTransport
from scheduler.outbox import Undeliverable
from tests.fakebot import FakeBotApi, FakeUser, UploadedFile

TOKEN = "123456:TEST-token"
ALICE = FakeUser(1001, "张三")


@pytest.fixture(autouse=True)
def _timedelta_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB's timedelta durations, so RetryAfter raises no deprecation warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest_asyncio.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        fake.send_text(ALICE, "/chart")  # the chat exists
        yield fake


@pytest_asyncio.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as real_bot:
        yield real_bot


def png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int) -> bytes:
    """The start of a JPEG: SOI, an APP0 segment, then a baseline frame header (SOF0)."""
    app0 = (
        b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    )
    sof0 = b"\xff\xc0" + struct.pack(">HBHH", 17, 8, height, width) + b"\x03" + b"\x00" * 9
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


async def test_send_photo_upload_sizes_bytes_and_resend(api: FakeBotApi, bot: Bot) -> None:
    picture = png(800, 600)
    mark = api.mark()
    sent = await bot.send_photo(
        ALICE.id, InputFile(picture, filename="month.png"), caption=" 11月热力图 "
    )
    assert [(p.width, p.height) for p in sent.photo] == [(90, 68), (320, 240), (800, 600)]
    assert (sent.caption, sent.text, sent.from_user.id) == ("11月热力图", None, api.bot_id)
    [reply] = await api.wait_for_reply(ALICE.id, since=mark)  # photos count as replies
    assert reply == api.last_message_to(ALICE.id)
    assert api.photo_bytes(reply) == picture  # kept as uploaded
    assert api.photo_bytes(reply["photo"][0]["file_id"]) == picture
    assert api.messages_to(ALICE.id)[-1] == "11月热力图"  # a photo stands for its caption
    [call] = api.calls("sendPhoto")
    upload = call.params["photo"]
    assert isinstance(upload, UploadedFile) and upload.filename == "month.png"
    assert "bytes" in call.describe()

    # A photo's file_id is sent again without uploading.
    again = await bot.send_photo(ALICE.id, sent.photo[-1].file_id)
    assert [p.file_id for p in again.photo] == [p.file_id for p in sent.photo]
    assert again.caption is None
    # A small picture has no thumbnail smaller than itself; JPEG sizes are read too.
    small = await bot.send_photo(ALICE.id, png(60, 40))
    assert [(p.width, p.height) for p in small.photo] == [(60, 40)]
    photo = await bot.send_photo(ALICE.id, InputFile(jpeg_header(1000, 500), filename="a.jpg"))
    assert [(p.width, p.height) for p in photo.photo][-1] == (1000, 500)
    with pytest.raises(LookupError, match="no photo"):
        api.photo_bytes(api.message(ALICE.id, 1) or {})  # the user's text message


async def test_send_photo_refusals(api: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_photo(424242, png(10, 10))
    with pytest.raises(BadRequest, match=r"(?i)^file must be non-empty$"):
        await bot.send_photo(ALICE.id, InputFile(b"", filename="empty.png"))
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(ALICE.id, InputFile(b"not a picture", filename="a.png"))
    with pytest.raises(BadRequest, match=r"(?i)photo_invalid_dimensions"):
        await bot.send_photo(ALICE.id, png(2100, 100))  # more than 20 times wider than high
    with pytest.raises(BadRequest, match=r"(?i)photo_invalid_dimensions"):
        await bot.send_photo(ALICE.id, InputFile(jpeg_header(6000, 5000), filename="big.jpg"))
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(ALICE.id, "AgACAgIAAxkBAAI99999999")
    document = await bot.send_document(ALICE.id, b"data", filename="a.txt")
    assert document.document is not None
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(ALICE.id, document.document.file_id)  # a file is no photo
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_photo(ALICE.id, png(10, 10), caption="字" * 1025)
    api.max_upload_bytes = 10
    with pytest.raises(NetworkError, match=r"Request Entity Too Large"):
        await bot.send_photo(ALICE.id, png(10, 10))
    assert [c.status for c in api.calls("sendPhoto")] == [400] * 8 + [413]

    # Faults and rate limits apply to sendPhoto as to sendDocument.
    api.max_upload_bytes = 10_000_000
    api.inject("sendPhoto", "429", retry_after=3)
    with pytest.raises(RetryAfter):
        await bot.send_photo(ALICE.id, png(10, 10))
    api.enforce_limits(global_per_second=None, per_chat_per_second=1)
    await bot.send_photo(ALICE.id, png(10, 10))
    with pytest.raises(RetryAfter):
        await bot.send_photo(ALICE.id, png(10, 10))
    assert api.rate_limited == 1


async def test_the_outbox_transport_sends_a_png_as_a_photo(api: FakeBotApi) -> None:
    async with ExtBot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        await _send_through_transport(api, TelegramTransport(bot))


async def _send_through_transport(api: FakeBotApi, transport: TelegramTransport) -> None:
    picture = png(800, 600)
    await transport.send(ALICE.id, "团队完成率", None, document=("team_s001_2026-11.png", picture))
    await transport.send(ALICE.id, "考核表", None, document=("grades.xlsx", b"PK\x03\x04"))
    await transport.send(ALICE.id, "文字", [[("好", "ok")]])
    [photo] = api.calls("sendPhoto")
    [document] = api.calls("sendDocument")
    assert (photo.params["caption"], document.params["caption"]) == ("团队完成率", "考核表")
    assert api.photo_bytes(api.message(ALICE.id, photo.result["message_id"]) or {}) == picture
    with pytest.raises(Undeliverable, match=r"(?i)image_process_failed"):
        await transport.send(ALICE.id, "坏图", None, document=("broken.PNG", b"oops"))
