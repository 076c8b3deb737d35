"""Delivery bookkeeping of the outbox: what is due, and what became of each attempt.

Use cases write outbox messages in their own transactions (`uow.outbox.add`); the sender
(`scheduler.outbox`) asks this service what is due and reports each outcome here.
"""

from __future__ import annotations

from datetime import timedelta

from services.clock import Clock
from storage.models import OutboxStatus
from storage.repositories import DueMessage
from storage.uow import UowFactory

__all__ = ["DueMessage", "OutboxService"]


class OutboxService:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    async def due(self, limit: int = 100) -> list[DueMessage]:
        async with self.uow() as uow:
            return await uow.outbox.due(self.clock.now(), limit)

    async def sent(self, message: DueMessage) -> None:
        """Delivered; a recipient marked as blocked has evidently unblocked the bot."""
        now = self.clock.now()
        async with self.uow() as uow:
            await uow.outbox.finish(message.id, OutboxStatus.SENT, now)
            if message.blocked and message.chat_id is not None:
                await uow.outbox.mark_chat_blocked(message.chat_id, None)
            await uow.commit()

    async def blocked(self, message: DueMessage, error: str) -> None:
        """The recipient blocked the bot: not retried, and their person row says so."""
        now = self.clock.now()
        async with self.uow() as uow:
            await uow.outbox.finish(message.id, OutboxStatus.BLOCKED, now, error)
            if message.chat_id is not None:
                await uow.outbox.mark_chat_blocked(message.chat_id, now)
            await uow.commit()

    async def failed(self, message: DueMessage, error: str) -> None:
        """Refused for good (no account bound, chat not found): kept with the reason."""
        async with self.uow() as uow:
            await uow.outbox.finish(message.id, OutboxStatus.FAILED, self.clock.now(), error)
            await uow.commit()

    async def retry_later(self, message: DueMessage, seconds: float, error: str) -> None:
        """Try again after `seconds` (429 retry_after, a network error's back-off)."""
        until = self.clock.now() + timedelta(seconds=seconds)
        async with self.uow() as uow:
            await uow.outbox.postpone(message.id, until, error)
            await uow.commit()
