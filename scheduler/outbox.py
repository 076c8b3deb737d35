"""The outbox sender: delivers what use cases queued, once each, within Telegram's limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from services.outbox import DueMessage, OutboxService

log = logging.getLogger(__name__)

NO_ACCOUNT = "no Telegram account bound"


class RetryLater(Exception):
    """The channel asks to try again after `seconds` (429 flood wait, network trouble)."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


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
    """Sends due outbox messages in order, at most `rate` per second, and records each outcome.

    A message is marked sent after Telegram accepted it; if the process dies in between it is
    sent again on restart (at least once: a crash can repeat a message, never lose one).
    """

    def __init__(
        self,
        outbox: OutboxService,
        transport: Transport,
        *,
        rate: float = 25.0,
        idle_poll: float = 2.0,
        batch_size: int = 100,
        wake: asyncio.Event | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`wake` is set when something was queued, so the sender looks at once."""
        self.outbox = outbox
        self.transport = transport
        self.interval = 1.0 / rate
        self.idle_poll = idle_poll
        self.batch_size = batch_size
        self._sleep = sleep
        self._wake = wake or asyncio.Event()
        self._stopping = False
        self.sent = 0

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                handled = await self.send_due()
            except Exception:  # the database may be away; try again at the next poll
                log.exception("sending the outbox failed; retrying")
                handled = 0
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def send_due(self) -> int:
        """Send one batch of due messages; returns how many were attempted."""
        batch = await self.outbox.due(self.batch_size)
        for message in batch:
            if self._stopping:
                break
            await self._send(message)
            await self._sleep(self.interval)
        return len(batch)

    async def _send(self, message: DueMessage) -> None:
        if message.chat_id is None:
            await self.outbox.failed(message, NO_ACCOUNT)
            return
        try:
            await self.transport.send(message.chat_id, message.text, message.buttons)
        except RetryLater as exc:
            log.info("outbox message %s postponed %.0fs: %s", message.id, exc.seconds, exc)
            await self.outbox.retry_later(message, exc.seconds, str(exc))
        except RecipientBlocked as exc:
            await self.outbox.blocked(message, str(exc))
        except Undeliverable as exc:
            log.warning("outbox message %s refused: %s", message.id, exc)
            await self.outbox.failed(message, str(exc))
        else:
            await self.outbox.sent(message)
            self.sent += 1
