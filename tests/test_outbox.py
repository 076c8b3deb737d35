"""The outbox and its sender: queued once, delivered once, each outcome recorded.

A recording transport stands in for Telegram; the sender's pacing sleep is recorded, never
slept. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import OperationalError

from scheduler.outbox import (
    NO_ACCOUNT,
    OutboxSender,
    RecipientBlocked,
    RetryLater,
    Undeliverable,
)
from services import zh
from services.outbox import DueMessage, OutboxService
from storage.models import OutboxMessage, Person
from tests.services_fixtures import Env

pytest_plugins = ("tests.services_fixtures",)

CHAT = 555
BUTTONS = [[("撤回", "w:1"), ("类别：日常工作", "k:1:r")]]


class RecordingTransport:
    """Delivers by appending to `sent`; `refusals[chat]` are raised, in turn, for that chat."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, Any]] = []
        self.sent: list[tuple[int, str]] = []
        self.refusals: dict[int, list[Exception]] = {}
        self.delivered = asyncio.Event()

    async def send(
        self, chat_id: int, text: str, buttons: Sequence[Sequence[tuple[str, str]]] | None
    ) -> None:
        self.calls.append((chat_id, text, buttons))
        pending = self.refusals.get(chat_id)
        if pending:
            raise pending.pop(0)
        self.sent.append((chat_id, text))
        self.delivered.set()


class FlakyOutbox(OutboxService):
    """The database is away for the first `failures` looks at what is due."""

    def __init__(self, outbox: OutboxService, failures: int) -> None:
        super().__init__(outbox.uow, outbox.clock)
        self.failures = failures
        self.looks = 0

    async def due(self, limit: int = 100) -> list[DueMessage]:
        self.looks += 1
        if self.looks <= self.failures:
            raise OperationalError("SELECT ... FROM outbox_messages", {}, ConnectionError())
        return await super().due(limit)


def sender_for(
    env: Env, transport: RecordingTransport, outbox: OutboxService | None = None, **options: Any
) -> tuple[OutboxSender, list[float]]:
    """A sender on the test's outbox, woken by its commits, with its sleeps recorded."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    sender = OutboxSender(
        outbox or env.services.outbox,
        transport,
        wake=env.wiring.outbox_wake,
        sleep=sleep,
        **options,
    )
    return sender, sleeps


async def queue(
    env: Env,
    key: str,
    text: str = "请记录今天的工作日志。",
    *,
    person_id: int | None = None,
    chat_id: int | None = None,
    buttons: Any = None,
) -> None:
    """Queue a message as a use case does: in a unit of work that commits."""
    async with env.wiring.uow() as uow:
        await uow.outbox.add(
            key,
            "reminder",
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


async def blocked_at(env: Env, person_id: int) -> Any:
    return (await env.one(Person, Person.id == person_id)).bot_blocked_at


async def test_a_queued_message_is_sent_once_and_marked_sent(env: Env) -> None:
    transport = RecordingTransport()
    sender, sleeps = sender_for(env, transport, rate=25)
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
    assert (sender.sent, sleeps) == (1, [1 / 25])


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
    sender, sleeps = sender_for(env, transport, rate=5)

    assert await sender.send_due() == 3

    assert transport.sent == [(CHAT + n, f"第{n}条") for n in range(3)]
    assert sleeps == [0.2, 0.2, 0.2]
