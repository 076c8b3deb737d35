"""The outbox and its sender: queued once, delivered once, each outcome recorded, within
Telegram's limits.

A recording transport stands in for Telegram. The sender runs on virtual time: its clock
moves only when it sleeps, so its pacing is measured, never waited for. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from telegram.ext import ExtBot

from bot.config import ConfigError, OutboxConfig, config_from_dict
from bot.telegram import RetryAfterLimiter, TelegramTransport
from scheduler.outbox import (
    NO_ACCOUNT,
    OutboxSender,
    RecipientBlocked,
    RetryLater,
    Undeliverable,
)
from scheduler.throttle import SLACK, Throttle
from services import zh
from services.outbox import DueMessage, OutboxService
from storage.models import OutboxMessage, Person
from tests.fakebot import FakeBotApi
from tests.services_fixtures import Env

pytest_plugins = ("tests.services_fixtures",)

CHAT = 555
BUTTONS = [[("撤回", "w:1"), ("类别：日常工作", "k:1:r")]]
EPSILON = 1e-6


class VirtualTime:
    """Monotonic seconds that pass only when someone sleeps; the sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)  # what was started now runs now
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


class RecordingTransport:
    """Delivers by appending to `sent` (and the virtual time to `times`); `refusals[chat]`
    are raised, in turn, for that chat; `on_send(n)` runs before the n-th delivery."""

    def __init__(self, time: VirtualTime | None = None) -> None:
        self.time = time or VirtualTime()
        self.calls: list[tuple[int, str, Any]] = []
        self.documents: list[tuple[str, bytes] | None] = []
        self.sent: list[tuple[int, str]] = []
        self.times: list[float] = []
        self.refusals: dict[int, list[Exception]] = {}
        self.delivered = asyncio.Event()
        self.on_send: Callable[[int], Awaitable[None]] | None = None

    async def send(
        self,
        chat_id: int,
        text: str,
        buttons: Sequence[Sequence[tuple[str, str]]] | None,
        *,
        document: tuple[str, bytes] | None = None,
    ) -> None:
        self.calls.append((chat_id, text, buttons))
        self.documents.append(document)
        pending = self.refusals.get(chat_id)
        if pending:
            raise pending.pop(0)
        if self.on_send is not None:
            await self.on_send(len(self.sent))
        self.sent.append((chat_id, text))
        self.times.append(self.time.now)
        self.delivered.set()

    def times_of(self, chat_id: int) -> list[float]:
        return [t for (chat, _), t in zip(self.sent, self.times, strict=True) if chat == chat_id]


class FlakyOutbox(OutboxService):
    """The database is away for the first `failures` looks at what is due; counts looks."""

    def __init__(self, outbox: OutboxService, failures: int) -> None:
        super().__init__(outbox.uow, outbox.clock)
        self.failures = failures
        self.looks = 0

    async def pending(self, limit: int, **options: Any) -> list[DueMessage]:
        self.looks += 1
        if self.looks <= self.failures:
            raise OperationalError("SELECT ... FROM outbox_messages", {}, ConnectionError())
        return await super().pending(limit, **options)


LIMITS = ("rate", "budget", "per_chat_interval")


def sender_for(
    env: Env, transport: RecordingTransport, outbox: OutboxService | None = None, **options: Any
) -> tuple[OutboxSender, VirtualTime]:
    """A sender on the test's outbox, woken by its commits, on the transport's virtual time.

    `rate`, `budget` and `per_chat_interval` go to its throttle, the rest to the sender.
    """
    time = transport.time
    limits = {name: options.pop(name) for name in LIMITS if name in options}
    throttle = Throttle(**limits, clock=time.clock, sleep=time.sleep)
    sender = OutboxSender(
        outbox or env.services.outbox,
        transport,
        throttle=throttle,
        wake=env.wiring.outbox_wake,
        sleep=time.sleep,
        **options,
    )
    return sender, time


async def queue(
    env: Env,
    key: str,
    text: str = "请记录今天的工作日志。",
    *,
    person_id: int | None = None,
    chat_id: int | None = None,
    buttons: Any = None,
    kind: str = "reminder",
) -> None:
    """Queue a message as a use case does: in a unit of work that commits."""
    async with env.wiring.uow() as uow:
        await uow.outbox.add(
            key,
            kind,
            text,
            env.clock.now(),
            person_id=person_id,
            chat_id=chat_id,
            buttons=buttons,
        )
        await uow.commit()


async def message(env: Env, key: str) -> OutboxMessage:
    return await env.one(OutboxMessage, OutboxMessage.key == key)


async def refused_once(
    env: Env, refusal: Exception, **address: int
) -> tuple[OutboxSender, OutboxMessage]:
    """Queue "remind:1", have the transport refuse it once with `refusal`; the row after."""
    transport = RecordingTransport()
    transport.refusals[CHAT] = [refusal]
    sender, _ = sender_for(env, transport)
    await queue(env, "remind:1", **address)
    assert await sender.send_due() == 1
    return sender, await message(env, "remind:1")


async def test_a_queued_document_goes_out_with_its_text_as_the_caption(env: Env) -> None:
    transport = RecordingTransport()
    sender, _ = sender_for(env, transport, rate=25)
    async with env.wiring.uow() as uow:
        await uow.outbox.add(
            "half-year:2026H1:1",
            "half-year",
            "2026年上半年 工作日志完成情况",
            env.clock.now(),
            chat_id=CHAT,
            document=("2026H1.xlsx", b"PK\x03\x04 not really a workbook"),
        )
        await uow.commit()
    await queue(env, "remind:1", chat_id=CHAT + 1)
    env.clock.advance(seconds=5)

    assert await sender.send_due() == 2
    sent = dict(zip([chat for chat, _, _ in transport.calls], transport.documents, strict=True))
    assert sent == {
        CHAT: ("2026H1.xlsx", b"PK\x03\x04 not really a workbook"),
        CHAT + 1: None,
    }
    assert (await message(env, "half-year:2026H1:1")).status == "sent"


async def blocked_at(env: Env, person_id: int) -> Any:
    return (await env.one(Person, Person.id == person_id)).bot_blocked_at


async def test_a_queued_message_is_sent_once_and_marked_sent(env: Env) -> None:
    transport = RecordingTransport()
    sender, _ = sender_for(env, transport, rate=25)
    await queue(env, "remind:1", chat_id=CHAT, buttons=BUTTONS)
    env.clock.advance(seconds=5)

    assert await sender.send_due() == 1
    assert await sender.send_due() == 0

    assert transport.calls == [(CHAT, "请记录今天的工作日志。", BUTTONS)]
    row = await message(env, "remind:1")
    assert (row.status, row.sent_at, row.attempts, row.last_error) == (
        "sent",
        env.clock.now(),
        1,
        None,
    )
    assert sender.sent == 1


async def test_the_same_key_is_queued_once(env: Env) -> None:
    await queue(env, "rebound:7:111", "第一次", chat_id=CHAT)
    await queue(env, "rebound:7:111", "第二次", chat_id=CHAT)

    assert [m.text for m in await env.rows(OutboxMessage)] == ["第一次"]


async def test_retry_later_postpones_until_the_clock_passes(env: Env) -> None:
    queued_at = env.clock.now()

    sender, row = await refused_once(env, RetryLater(30, "Flood control exceeded"), chat_id=CHAT)

    assert (row.status, row.attempts, row.last_error, row.not_before) == (
        "pending",
        1,
        "Flood control exceeded",
        queued_at + timedelta(seconds=30),
    )
    env.clock.advance(seconds=29)
    assert await sender.send_due() == 0
    env.clock.advance(seconds=2)
    assert await sender.send_due() == 1
    row = await message(env, "remind:1")
    assert (row.status, row.attempts, row.sent_at, sender.sent) == ("sent", 2, env.clock.now(), 1)


async def test_a_blocked_recipient_is_marked_until_a_later_delivery_succeeds(env: Env) -> None:
    person_id = await env.person("c001", telegram_user_id=CHAT)

    sender, row = await refused_once(
        env, RecipientBlocked("Forbidden: bot was blocked by the user"), person_id=person_id
    )

    assert (row.status, row.last_error, row.sent_at) == (
        "blocked",
        "Forbidden: bot was blocked by the user",
        None,
    )
    assert await blocked_at(env, person_id) == env.clock.now()
    assert await sender.send_due() == 0  # not retried
    env.clock.advance(days=1)
    await queue(env, "remind:2", person_id=person_id)
    await sender.send_due()
    assert (await message(env, "remind:2")).status == "sent"
    assert await blocked_at(env, person_id) is None


async def test_an_undeliverable_message_fails_with_its_reason(env: Env) -> None:
    sender, row = await refused_once(
        env, Undeliverable("Bad Request: chat not found"), chat_id=CHAT
    )

    assert (row.status, row.last_error, row.attempts, row.sent_at) == (
        "failed",
        "Bad Request: chat not found",
        1,
        None,
    )
    assert await sender.send_due() == 0


async def test_a_message_to_a_person_without_an_account_fails_unsent(env: Env) -> None:
    person_id = await env.person("c001")
    transport = RecordingTransport()
    sender, _ = sender_for(env, transport)
    await queue(env, "remind:1", person_id=person_id)

    await sender.send_due()

    row = await message(env, "remind:1")
    assert (row.status, row.last_error) == ("failed", NO_ACCOUNT)
    assert transport.calls == []


async def test_a_message_to_a_person_goes_to_their_current_account(env: Env) -> None:
    person_id = await env.person("c001", telegram_user_id=CHAT)
    await queue(env, "remind:1", "今天还没有记录。", person_id=person_id)
    await env.services.identity.bind(await env.invite(person_id), 666)  # rebound meanwhile
    transport = RecordingTransport()
    sender, _ = sender_for(env, transport)

    assert await sender.send_due() == 2

    assert sorted(transport.sent) == [(CHAT, zh.REBOUND_OLD_ACCOUNT), (666, "今天还没有记录。")]


async def test_run_wakes_at_once_when_a_commit_queues_a_message_and_stop_ends_it(
    env: Env,
) -> None:
    transport = RecordingTransport()
    sender, _ = sender_for(env, transport, idle_poll=60)  # without the wake: a minute
    running = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.05)  # the sender found nothing and waits
        await queue(env, "remind:1", chat_id=CHAT)
        await asyncio.wait_for(transport.delivered.wait(), timeout=5)
    finally:
        sender.stop()
        await asyncio.wait_for(running, timeout=5)

    assert transport.sent == [(CHAT, "请记录今天的工作日志。")]
    assert (await message(env, "remind:1")).status == "sent"


async def test_run_outlives_a_database_error(env: Env) -> None:
    transport = RecordingTransport()
    outbox = FlakyOutbox(env.services.outbox, failures=2)
    sender, _ = sender_for(env, transport, outbox, idle_poll=0.01)
    await queue(env, "remind:1", chat_id=CHAT)
    running = asyncio.create_task(sender.run())
    try:
        await asyncio.wait_for(transport.delivered.wait(), timeout=5)
    finally:
        sender.stop()
        await asyncio.wait_for(running, timeout=5)

    assert outbox.looks >= 3
    assert transport.sent == [(CHAT, "请记录今天的工作日志。")]
    assert not running.cancelled() and running.exception() is None


async def test_messages_go_out_oldest_first_at_the_configured_rate(env: Env) -> None:
    for n in range(3):
        await queue(env, f"remind:{n}", f"第{n}条", chat_id=CHAT + n)
        env.clock.advance(seconds=1)
    transport = RecordingTransport()
    sender, _ = sender_for(env, transport, rate=5)

    assert await sender.send_due() == 3

    assert transport.sent == [(CHAT + n, f"第{n}条") for n in range(3)]
    assert transport.times == [0.0, 0.2, 0.4]


# -- Telegram's limits -----------------------------------------------------------------------


async def queue_many(env: Env, keys: Sequence[tuple[str, int]], kind: str = "reminder") -> None:
    """Queue (key, chat) messages in one unit of work, texts named after their keys."""
    async with env.wiring.uow() as uow:
        for key, chat_id in keys:
            await uow.outbox.add(key, kind, f"消息 {key}", env.clock.now(), chat_id=chat_id)
        await uow.commit()


def assert_within_limits(
    transport: RecordingTransport, *, rate: float | None, budget: float, per_chat: float
) -> None:
    """Consecutive paced sends 1/rate apart, at most `budget` in any second, each chat's
    sends `per_chat` apart."""
    times = transport.times
    assert times == sorted(times)
    if rate is not None:
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 1 / rate - EPSILON, gaps
    for i, start in enumerate(times):
        within = [t for t in times[i:] if t < start + 1.0]
        assert len(within) <= budget, (start, within)
    for chat in {chat for chat, _ in transport.sent}:
        mine = transport.times_of(chat)
        gaps = [b - a for a, b in itertools.pairwise(mine)]
        assert all(gap >= per_chat - EPSILON for gap in gaps), (chat, mine)


async def test_paced_messages_keep_the_rate_and_one_chat_waits_its_interval(env: Env) -> None:
    # Five chats with three messages each, queued chat after chat: the sender interleaves.
    await queue_many(env, [(f"n:{c}:{k}", CHAT + c) for c in range(5) for k in range(3)])
    transport = RecordingTransport()
    sender, _ = sender_for(env, transport, rate=10, per_chat_interval=1.0)

    assert await sender.send_due() == 15

    assert_within_limits(transport, rate=10, budget=30, per_chat=1.0)
    for c in range(5):  # each chat in its order
        assert [text for chat, text in transport.sent if chat == CHAT + c] == [
            f"消息 n:{c}:{k}" for k in range(3)
        ]
    # Not one chat after another (about 15 seconds): the chats take turns.
    assert transport.times[-1] <= 2 * (1.0 + SLACK) + 0.5
    assert await env.count(OutboxMessage, OutboxMessage.status == "sent") == 15


async def test_a_fan_out_runs_at_the_rate_in_small_batches(env: Env) -> None:
    await queue_many(env, [(f"remind:{n}", CHAT + n) for n in range(60)])
    transport = RecordingTransport()
    outbox = FlakyOutbox(env.services.outbox, failures=0)
    sender, _ = sender_for(env, transport, outbox, rate=25, batch_size=8)
    running = asyncio.create_task(sender.run())
    try:
        while len(transport.sent) < 60:
            await asyncio.wait_for(transport.delivered.wait(), timeout=10)
            transport.delivered.clear()
    finally:
        sender.stop()
        await asyncio.wait_for(running, timeout=10)

    assert sorted(transport.sent) == sorted((CHAT + n, f"消息 remind:{n}") for n in range(60))
    assert transport.times == pytest.approx([n / 25 for n in range(60)])
    # Small batches, the next looked up while half of one is left: 60 in 8 to 10 looks.
    assert 8 <= outbox.looks <= 10
    assert await env.count(OutboxMessage, OutboxMessage.status == "sent") == 60


async def test_replies_are_not_paced_but_count_against_the_budget(env: Env) -> None:
    await queue_many(env, [(f"reply:{n}", CHAT + n) for n in range(45)], kind="reply")
    transport = RecordingTransport()
    sender, _ = sender_for(env, transport, rate=5, budget=30, batch_size=50)

    assert await sender.send_due() == 45

    assert_within_limits(transport, rate=None, budget=30, per_chat=1.0)
    assert transport.times[:30] == [0.0] * 30  # not paced at 5 a second
    assert all(t >= 1.0 for t in transport.times[30:])  # the budget is spent for a second


async def test_a_reply_overtakes_a_running_fan_out(env: Env) -> None:
    await queue_many(env, [(f"remind:{n}", CHAT + n) for n in range(200)])
    transport = RecordingTransport()
    sender, time = sender_for(env, transport, rate=25, batch_size=20, idle_poll=60)
    cadre = CHAT + 10  # already reminded when they write
    asked: list[tuple[int, float]] = []

    async def cadre_writes(sent: int) -> None:
        if sent >= 40 and not asked:
            asked.append((sent, time.now))
            await queue(env, "reply:1", "已记录", chat_id=cadre, kind="reply")

    transport.on_send = cadre_writes
    running = asyncio.create_task(sender.run())
    try:
        while (cadre, "已记录") not in transport.sent:
            await asyncio.wait_for(transport.delivered.wait(), timeout=10)
            transport.delivered.clear()
    finally:
        sender.stop()
        await asyncio.wait_for(running, timeout=10)

    [(queued_at_send, queued_at)] = asked
    position = transport.sent.index((cadre, "已记录"))
    replied_at = transport.times[position]
    # Out with the next few sends, not after the 160 reminders still queued.
    assert position - queued_at_send <= 8, position
    assert replied_at - queued_at <= 0.5
    # The cadre's reminder went out at 0.4s: the reply kept the chat's interval.
    assert replied_at >= transport.times_of(cadre)[0] + 1.0
    assert_within_limits(transport, rate=None, budget=30, per_chat=1.0)


async def test_a_429_pauses_every_send_and_nothing_is_lost(env: Env) -> None:
    await queue_many(env, [(f"remind:{n}", CHAT + n) for n in range(30)])
    transport = RecordingTransport()
    transport.refusals[CHAT + 10] = [RetryLater(3, "Too Many Requests: retry after 3", flood=True)]
    sender, _ = sender_for(env, transport, rate=25, batch_size=50)

    assert await sender.send_due() == 30

    assert sorted(chat for chat, _ in transport.sent) == [CHAT + n for n in range(30)]
    refused_at = transport.times[transport.sent.index((CHAT + 9, "消息 remind:9"))] + 1 / 25
    later = [t for t in transport.times if t > refused_at - EPSILON]
    assert later and min(later) >= refused_at + 3 - EPSILON  # quiet for retry_after
    assert (sender.floods, sender.throttle.floods) == (1, 1)
    rows = await env.rows(OutboxMessage)
    assert {r.status for r in rows} == {"sent"}
    assert [chat for chat, _, _ in transport.calls].count(CHAT + 10) == 2  # retried once


async def test_a_long_429_postpones_the_message_in_the_database(env: Env) -> None:
    await queue_many(env, [("remind:1", CHAT), ("remind:2", CHAT + 1)])
    transport = RecordingTransport()
    transport.refusals[CHAT] = [RetryLater(60, "Too Many Requests: retry after 60", flood=True)]
    sender, _ = sender_for(env, transport, rate=25)

    assert await sender.send_due() == 2

    assert transport.sent == [(CHAT + 1, "消息 remind:2")]
    assert transport.times[0] >= 60  # the whole bot waited
    row = await message(env, "remind:1")
    assert (row.status, row.not_before) == ("pending", env.clock.now() + timedelta(seconds=60))


async def test_a_blocked_recipient_is_tried_once_and_others_go_on(env: Env) -> None:
    blocked = await env.person("c001", telegram_user_id=CHAT)
    other = await env.person("c002", telegram_user_id=CHAT + 1)
    async with env.wiring.uow() as uow:
        for person_id in (blocked, other):
            await uow.outbox.add(
                f"remind:{person_id}", "reminder", "请记录", env.clock.now(), person_id=person_id
            )
        await uow.commit()
    transport = RecordingTransport()
    transport.refusals[CHAT] = [RecipientBlocked("Forbidden: bot was blocked by the user")]
    sender, _ = sender_for(env, transport)

    assert await sender.send_due() == 2
    env.clock.advance(hours=1)
    assert await sender.send_due() == 0

    assert [chat for chat, _, _ in transport.calls] == [CHAT, CHAT + 1]  # no retry
    assert await blocked_at(env, blocked) == env.clock.now() - timedelta(hours=1)
    assert await blocked_at(env, other) is None
    assert sender.floods == 0


# -- crashes ---------------------------------------------------------------------------------


async def test_a_kill_mid_fan_out_then_a_restart_reaches_everyone_once(env: Env) -> None:
    """The first sender dies (all its tasks cancelled, as by SIGKILL) right after Telegram
    took its 26th message, before recording it; a new one (the restarted process) sends the
    rest: everyone gets the reminder; those in flight at the kill may get it twice, and each
    such send is counted as unsure."""
    chats = [CHAT + n for n in range(80)]
    await queue_many(env, [(f"remind:{chat}", chat) for chat in chats])
    telegram: Counter[int] = Counter()

    first = RecordingTransport()
    dying, _ = sender_for(env, first, rate=25, batch_size=10)
    running = asyncio.create_task(dying.run())

    async def die_after_delivering(sent: int) -> None:
        if sent == 25:
            telegram[first.calls[-1][0]] += 1  # Telegram has it
            running.cancel()  # the process is gone: nothing more is recorded
            await asyncio.Event().wait()

    first.on_send = die_after_delivering
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(running, timeout=10)
    telegram.update(chat for chat, _ in first.sent)
    assert sum(telegram.values()) == 26
    in_flight = {
        row.chat_id for row in await env.rows(OutboxMessage) if row.in_flight_since is not None
    }
    assert first.calls[-1][0] in in_flight

    second = RecordingTransport()
    restarted, _ = sender_for(env, second, rate=25, batch_size=10)
    while await restarted.send_due():
        pass
    telegram.update(chat for chat, _ in second.sent)

    assert set(telegram) == set(chats)  # nobody skipped
    doubled = {chat for chat, n in telegram.items() if n > 1}
    async with env.sessions() as db:
        unsure = await db.scalar(select(func.sum(OutboxMessage.unsure)))
    assert doubled and doubled <= in_flight and max(telegram.values()) == 2
    assert unsure == len(in_flight)  # each send of unknown fate counted, no other
    assert await env.count(OutboxMessage, OutboxMessage.status != "sent") == 0


# -- against the fake Bot API, in real time ----------------------------------------------------


async def telegram_sender(
    env: Env, api: FakeBotApi, **limits: float
) -> tuple[OutboxSender, ExtBot[Any]]:
    """The sender as `bot.app` builds it: TelegramTransport, RetryAfterLimiter, one throttle."""
    throttle = Throttle(**limits)
    bot: ExtBot[Any] = ExtBot(
        "42:outbox", base_url=api.base_url, rate_limiter=RetryAfterLimiter(throttle=throttle)
    )
    await bot.initialize()
    sender = OutboxSender(env.services.outbox, TelegramTransport(bot), throttle=throttle)
    return sender, bot


def delivered(api: FakeBotApi) -> Counter[int]:
    return Counter(c.chat_id for c in api.calls("sendMessage") if c.ok)  # type: ignore[misc]


async def test_within_telegrams_limits_the_fake_refuses_nothing(env: Env) -> None:
    chats = [CHAT + n for n in range(20)]
    await queue_many(env, [(f"n:{chat}:{k}", chat) for k in range(2) for chat in chats])
    async with FakeBotApi(strict_chats=False) as api:
        api.enforce_limits(global_per_second=30, per_chat_per_second=1)
        sender, bot = await telegram_sender(env, api, rate=25, budget=30, per_chat_interval=1.0)
        try:
            answer = asyncio.create_task(bot.send_message(CHAT, "直接回复"))  # a handler's
            while await sender.send_due():
                pass
            await answer
        finally:
            await bot.shutdown()

    assert api.rate_limited == 0
    assert delivered(api) == Counter({chat: 2 for chat in chats}) + Counter({CHAT: 1})
    assert await env.count(OutboxMessage, OutboxMessage.status != "sent") == 0


async def test_a_sender_faster_than_telegram_meets_429s_pauses_and_loses_nothing(
    env: Env,
) -> None:
    chats = [CHAT + n for n in range(50)]
    await queue_many(env, [(f"remind:{chat}", chat) for chat in chats])
    async with FakeBotApi(strict_chats=False) as api:
        api.enforce_limits(global_per_second=30, per_chat_per_second=1)
        # Twice what Telegram takes: the 31st message in a second is refused.
        sender, bot = await telegram_sender(env, api, rate=60, budget=60, per_chat_interval=1.0)
        try:
            while await sender.send_due():
                pass
        finally:
            await bot.shutdown()

    assert api.rate_limited >= 1
    assert sender.floods == api.rate_limited  # each 429 reached the sender, which paused
    assert delivered(api) == Counter(chats)  # everyone once
    refused = [c for c in api.calls("sendMessage") if c.fault == "rate"]
    after = [c.at for c in api.calls("sendMessage") if c.at > refused[0].at]
    assert min(after) >= refused[0].at + 1.0 - SLACK  # quiet for retry_after (1 s)
    assert await env.count(OutboxMessage, OutboxMessage.status != "sent") == 0


# -- the throttle alone ----------------------------------------------------------------------


async def test_the_throttle_keeps_the_budget_the_pauses_and_the_chats() -> None:
    time = VirtualTime()
    throttle = Throttle(budget=3, rate=2, clock=time.clock, sleep=time.sleep)
    for chat in range(5):  # replies: only the budget holds them
        await throttle.reply(chat)
    assert time.sleeps == pytest.approx([1 + SLACK])  # the fourth waited for a second

    time = VirtualTime()
    throttle = Throttle(budget=30, rate=2, clock=time.clock, sleep=time.sleep)
    await throttle.reply(0)
    assert await throttle.paced_if_free(0) is None  # the reply has chat 0
    assert throttle.chat_wait(0) == pytest.approx(1 + SLACK)
    assert [await throttle.paced(7), await throttle.paced(8)] == pytest.approx([0, 0.5])
    assert time.now == pytest.approx(0.5)  # paced: 1 / rate apart

    throttle.flood(4)
    assert throttle.chat_wait(9) == pytest.approx(4)
    await throttle.direct(9)  # a handler's answer waits out the pause too
    assert time.now == pytest.approx(4.5)
    await throttle.direct(9)  # but not for its chat
    assert time.now == pytest.approx(4.5)
    assert throttle.chat_wait(9) == pytest.approx(1 + SLACK)  # outbox messages do
    assert throttle.floods == 1
    time.now += 0.4  # the answer to the last send to chat 9 comes late
    throttle.answered(9, 4.5)
    assert throttle.chat_wait(9) == pytest.approx(1.0)  # a second from the answer

    # A send answered late counts from its answer: the budget's second starts then.
    time = VirtualTime()
    throttle = Throttle(budget=2, clock=time.clock, sleep=time.sleep)
    first, _ = await throttle.reply(1), await throttle.reply(2)
    time.now = 0.3
    throttle.answered(1, first)
    assert [await throttle.reply(3), await throttle.reply(4)] == pytest.approx(
        [1 + SLACK, 1.3 + SLACK]
    )


def test_the_outbox_section_of_the_configuration_is_checked() -> None:
    config = config_from_dict({"outbox": {"rate": 20, "per_chat_interval": 2}}, env={})
    assert config.outbox == OutboxConfig(rate=20.0, per_chat_interval=2.0)
    for wrong in (
        {"rate": 40},  # above the budget
        {"rate": 0},
        {"per_chat_interval": -1},
        {"batch_size": 0},
        {"concurrency": 5000},
        {"rate": "fast"},
    ):
        with pytest.raises(ConfigError, match="outbox"):
            config_from_dict({"outbox": wrong}, env={})
