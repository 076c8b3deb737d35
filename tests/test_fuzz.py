"""Random input through the fake Bot API: every private message is answered, no traceback, and
nothing is stored half-way. Hypothesis picks texts, commands, arguments, captions and button
data (derandomized, so CI sees the same cases every run)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from scoring.text import split_items
from services import zh
from storage.models import InboxUpdate, LogEntry, OutboxMessage
from tests.fakebot import FakeUser

pytestmark = pytest.mark.slow

ZHANG = FakeUser(id=8801, first_name="伟")

# Characters a cadre's phone can produce, and the ones that hide text.
TRICKY = "\u200b\u200c\u200d\ufeff\u202d\u202e\u200f\u2066\u2069\u3000\t\n\r"
WORDS = ["开会", "调研", "走访企业", "县发改委", "项目", "1.", "2、", "①", "一、", "(3)", "；"]
text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.sampled_from(TRICKY + "。！？…—,.;:-1234567890"), max_size=30),
    st.lists(st.sampled_from([*WORDS, *TRICKY, " ", "\n"]), max_size=25).map("".join),
    st.just("走访企业" * 200),  # over the overlong limit
)
COMMANDS = [
    "/today", "/week", "/month", "/edit", "/del", "/with", "/backfill", "/reflect", "/leave",
    "/help", "/start", "/nosuch", "/edit@worklog_test_bot",
]  # fmt: skip
argument = st.one_of(
    text,
    st.sampled_from(["1", "0", "999", "-1", "9" * 15, "昨天", "前天", "11-20", "2026-02-30"]),
    st.integers(-(10**20), 10**20).map(str),
)
command = st.tuples(st.sampled_from(COMMANDS), st.lists(argument, max_size=3)).map(
    lambda parts: " ".join([parts[0], *parts[1]])
)
button = st.one_of(
    st.text(max_size=64).filter(lambda data: len(data.encode()) <= 64),
    st.tuples(
        st.sampled_from(["w", "k", "x", ""]), st.integers(-5, 2**40), st.text(max_size=3)
    ).map(lambda p: f"{p[0]}:{p[1]}:{p[2]}"),
)


@dataclass(frozen=True)
class Action:
    kind: str  # text, command, photo, document, sticker, voice, button, edit
    value: str | None = None


action = st.one_of(
    text.map(lambda v: Action("text", v)),
    command.map(lambda v: Action("command", v)),
    st.one_of(st.none(), text).map(lambda v: Action("photo", v)),
    st.one_of(st.none(), text).map(lambda v: Action("document", v)),
    st.just(Action("sticker")),
    st.just(Action("voice")),
    button.map(lambda v: Action("button", v)),
    text.map(lambda v: Action("edit", v)),
)


async def perform(bot: Any, act: Action, last_text: dict[str, int]) -> None:
    """Send one action as the user and check that it was answered and left a whole state."""
    api = bot.api
    mark = api.mark()
    if act.kind == "button":
        under = api.last_message_to(ZHANG.id)  # forged data under the bot's last message
        assert under is not None
        api.press_button(ZHANG, under["message_id"], act.value or "", strict=False)
        await api.wait_for(method="answerCallbackQuery", since=mark)
    elif act.kind == "edit":
        if "id" not in last_text:
            return
        api.edit_text(ZHANG, last_text["id"], act.value or "")
    else:
        sent = {
            "text": lambda: api.send_text(ZHANG, act.value or ""),
            "command": lambda: api.send_text(ZHANG, act.value or ""),
            "photo": lambda: api.send_photo(ZHANG, caption=act.value),
            "document": lambda: api.send_document(ZHANG, caption=act.value),
            "sticker": lambda: api.send_sticker(ZHANG),
            "voice": lambda: api.send_voice(ZHANG),
        }[act.kind]()
        if act.kind == "text" and act.value:
            last_text["id"] = sent["message"]["message_id"]
        [reply] = await api.wait_for_reply(ZHANG.id, since=mark)
        assert reply["text"] != zh.INTERNAL_ERROR, act
        value = act.value or ""
        # Text with nothing to log (only spaces, punctuation, invisible characters) is refused.
        if act.kind == "text" and value and not value.startswith("/") and not split_items(value):
            assert reply["text"] == zh.EMPTY_MESSAGE, act
    await bot.settle()
    await check_whole(bot)


async def check_whole(bot: Any) -> None:
    """No update left pending, no reply left unsent, every message's entries all there."""
    async with bot.db() as db:
        assert await db.scalar(select(func.count()).where(InboxUpdate.status != "done")) == 0
        unsent = select(func.count()).where(OutboxMessage.status == "pending")
        assert await db.scalar(unsent) == 0
        parts = await db.execute(
            select(LogEntry.source_key, func.count(), func.max(LogEntry.source_part)).group_by(
                LogEntry.source_key
            )
        )
        for key, count, last in parts.all():
            assert last == count - 1, f"message {key} has {count} of {last + 1} parts"


async def test_random_input_is_answered_and_never_half_stored(
    bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.enrol(ZHANG, "A001", "张伟")
    loop = asyncio.get_running_loop()
    last_text: dict[str, int] = {}

    def run(coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    @settings(
        max_examples=80,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(actions=st.lists(action, min_size=1, max_size=4))
    def property_holds(actions: list[Action]) -> None:
        for act in actions:
            run(perform(bot, act, last_text))

    with caplog.at_level(logging.ERROR):
        await asyncio.to_thread(property_holds)
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert crashes == [], [r.getMessage() for r in crashes]
