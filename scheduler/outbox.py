"""The outbox sender: delivers what use cases queued, once each, within Telegram's limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from scheduler.outage import Outage
from services.outbox import DueMessage, OutboxService

log = logging.getLogger(__name__)

NO_ACCOUNT = "no Telegram account bound"


class RetryLater(Exception):
    """The channel asks to try again after `seconds` (429 flood wait, network trouble)."""

    def __init__(self, seconds: float, reason: str, *, unsure: bool = False) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.unsure = unsure  # the message may have been delivered (a timeout)


class RecipientBlocked(Exception):
    """The recipient blocked the bot."""


class Undeliverable(Exception):
    """The channel refused this message for good (chat not found, malformed)."""


class Transport(Protocol):
    async def send(
        self, chat_id: int, text: str, buttons: Sequence[Sequence[tuple[str, str]]] | None
    ) -> None:
        """Deliver one message or raise RetryLater, RecipientBlocked or Undeliverable."""
        ...


class OutboxSender:
    """Sends due outbox messages and records each outcome.

    Replies (the confirmation of a stored message) go out at once, several chats side by
    side, claimed a small batch at a time so that a crash leaves few sends of unknown fate.
    Other messages (notices, later reminders) are paced at `rate` per second. One chat's
    messages keep their order. A failure that may pass is retried a few times here
    (`inline_retries`, for waits up to `inline_wait` seconds), then postponed in the
    database. A message is marked sent after Telegram took it; if the process dies in
    between, it is sent again on restart and counted as unsure (at least once: a crash can
    repeat a message, never lose one).
    """

    def __init__(
        self,
        outbox: OutboxService,
        transport: Transport,
        *,
        rate: float = 25.0,
        idle_poll: float = 2.0,
        batch_size: int = 16,
        concurrency: int = 8,
        inline_retries: int = 3,
        inline_wait: float = 5.0,
        wake: asyncio.Event | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`wake` is set when something was queued, so the sender looks at once."""
        self.outbox = outbox
        self.transport = transport
        self.interval = 1.0 / rate
        self.idle_poll = idle_poll
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.inline_retries = inline_retries
        self.inline_wait = inline_wait
        self._wake = wake or asyncio.Event()
        self._sleep = sleep
        self._pace = asyncio.Lock()
        self._stopping = False
        self.outage = Outage("the outbox")
        self.record_outage = Outage("recording outbox deliveries")
        self.sent = 0

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                batch = await self.outbox.due(self.batch_size)
            except Exception as exc:  # the database may be away: wait, then look again
                self.outage.failed(exc)
                await self._sleep(self.outage.delay())
                continue
            self.outage.recovered()
            if batch:
                await self.send(batch)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def send_due(self) -> int:
        """Send one batch of due messages; returns how many were attempted."""
        batch = await self.outbox.due(self.batch_size)
        await self.send(batch)
        return len(batch)

    async def send(self, batch: list[DueMessage]) -> None:
        """Send a claimed batch, chats side by side.

        Each outcome is recorded as soon as it is known: a delivery right after Telegram took
        it, so that a crash can repeat only the sends under way at that moment.
        """
        lanes: dict[int | None, list[DueMessage]] = {}
        for message in batch:
            lanes.setdefault(message.chat_id, []).append(message)
        limit = asyncio.Semaphore(self.concurrency)

        async def lane(messages: list[DueMessage]) -> None:
            async with limit:
                for message in messages:
                    if self._stopping:
                        return
                    if await self._send(message):
                        await self._record(self.outbox.sent, message)
                        self.sent += 1

        await asyncio.gather(*(lane(messages) for messages in lanes.values()))

    async def _send(self, message: DueMessage) -> bool:
        """Try to deliver one message; True when Telegram took it."""
        if message.chat_id is None:
            await self._record(self.outbox.failed, message, NO_ACCOUNT)
            return False
        if message.kind != "reply":
            async with self._pace:
                await self._sleep(self.interval)
        for attempt in range(self.inline_retries + 1):
            try:
                await self.transport.send(message.chat_id, message.text, message.buttons)
            except RetryLater as exc:
                if exc.unsure:
                    log.warning("outbox message %s timed out; it may arrive twice", message.id)
                    await self._record(self.outbox.unsure, message)
                if attempt == self.inline_retries or exc.seconds > self.inline_wait:
                    log.info("outbox message %s postponed %.0fs: %s", message.id, exc.seconds, exc)
                    await self._record(self.outbox.retry_later, message, exc.seconds, str(exc))
                    return False
                log.debug("outbox message %s, attempt %d failed: %s", message.id, attempt, exc)
                await self._sleep(exc.seconds)
            except RecipientBlocked as exc:
                await self._record(self.outbox.blocked, message, str(exc))
                return False
            except Undeliverable as exc:
                log.warning("outbox message %s refused: %s", message.id, exc)
                await self._record(self.outbox.failed, message, str(exc))
                return False
            else:
                return True
        return False

    async def _record(self, outcome: Callable[..., Awaitable[object]], *args: object) -> None:
        """Store what became of a send, retrying while the database is away.

        Never by sending again: a message Telegram took is not sent twice for a database
        hiccup (only a crash before this is stored can repeat it).
        """
        outage = self.record_outage
        while True:
            try:
                await outcome(*args)
            except Exception as exc:
                outage.failed(exc)
                if self._stopping and outage.attempts >= 3:
                    # Shutting down: the row stays marked in flight, counted unsure on restart.
                    log.warning("could not record an outbox outcome before stopping: %r", exc)
                    return
                await self._sleep(outage.delay())
                continue
            outage.recovered()
            return
