"""Delivery bookkeeping of the outbox: what is due, and what became of each attempt.

Use cases write outbox messages in their own transactions (`uow.outbox.add`); the sender
(`scheduler.outbox`) asks this service what is due and reports each outcome here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Generic, TypeVar

from services.clock import Clock
from storage.models import OutboxStatus
from storage.repositories import DueMessage
from storage.uow import UnitOfWork, UowFactory

__all__ = ["Buttons", "Confirm", "DueMessage", "OutboxService", "commit"]

log = logging.getLogger(__name__)

Result = TypeVar("Result")
# Inline buttons: rows of (label, callback data).
Buttons = Sequence[Sequence[tuple[str, str]]]


@dataclass
class Confirm(Generic[Result]):
    """How a channel confirms a stored change, handed to the use case that stores it.

    The use case renders the confirmation inside its transaction and queues it in the outbox
    with the change, keyed by the update being processed: it is sent once, even if the
    process dies right after the commit. Outside an update (no inbox row) nothing is queued
    and `queued` stays False: the channel answers itself.
    """

    chat_id: int
    render: Callable[[Result], tuple[str, Buttons | None]]
    queued: bool = False
    # A file sent with the reply, the text as its caption: (file name, bytes) or None.
    attach: Callable[[Result], tuple[str, bytes] | None] | None = None
    # The file, when `prepare` built it before the transaction.
    prepared: tuple[str, bytes] | None = None

    async def prepare(self, result: Result) -> None:
        """Build the file ahead of the transaction, in a worker thread (a big one takes
        seconds that neither the event loop nor the database should wait)."""
        if self.attach is not None:
            self.prepared = await asyncio.to_thread(self.attach, result)

    async def queue(self, uow: UnitOfWork, result: Result, at: datetime) -> None:
        text, buttons = self.render(result)
        document = self.prepared
        if document is None and self.attach is not None:
            document = self.attach(result)
        self.queued = await uow.queue_reply(self.chat_id, text, buttons, at, document)


async def commit(
    uow: UnitOfWork, confirm: Confirm[Result] | None, result: Result, at: datetime
) -> Result:
    """Commit a use case's change with its confirmation (if any) queued in the same transaction."""
    if confirm is not None:
        await confirm.queue(uow, result, at)
    await uow.commit()
    return result


class OutboxService:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    async def pending(
        self, limit: int, *, replies: bool, exclude: Collection[int] = ()
    ) -> list[DueMessage]:
        """The replies (or the other messages) due now, not claimed: the sender claims each
        right before sending it, so that a crash leaves only real sends of unknown fate.

        Reminders no longer needed are marked skipped on the way. `exclude`: the messages
        the sender holds already.
        """
        async with self.uow() as uow:
            due = await uow.outbox.due(
                self.clock.now(), limit, priority=0 if replies else 1, exclude=exclude
            )
            kept = await self._drop_needless_reminders(uow, due)
            if len(kept) < len(due):
                await uow.commit()
        return kept

    async def claim(self, message: DueMessage) -> None:
        """Mark a message as being sent now.

        One still marked in flight was being sent when a process died: Telegram may have
        delivered it, so sending it again may repeat it. That is counted and logged.
        """
        async with self.uow() as uow:
            if message.in_flight:
                log.warning(
                    "outbox message %s was being sent when the bot stopped; sending it again, "
                    "the recipient may get it twice",
                    message.id,
                )
                await uow.outbox.count_unsure([message.id])
            await uow.outbox.claim([message.id], self.clock.now())
            await uow.commit()

    async def _drop_needless_reminders(
        self, uow: UnitOfWork, due: list[DueMessage]
    ) -> list[DueMessage]:
        """Mark skipped the reminders whose day the person has logged or is excused for."""
        days: dict[date, list[int]] = {}
        for message in due:
            if message.reminds_of is not None and message.person_id is not None:
                days.setdefault(message.reminds_of, []).append(message.person_id)
        if not days:
            return due
        done = {
            (day, pid)
            for day, people in days.items()
            for pid in await uow.entries.done_for(people, day)
        }
        needless = [m for m in due if (m.reminds_of, m.person_id) in done]
        await uow.outbox.finish([m.id for m in needless], OutboxStatus.SKIPPED, self.clock.now())
        return [m for m in due if m not in needless]

    async def sent(self, message: DueMessage) -> None:
        """Delivered; a recipient marked as blocked has evidently unblocked the bot."""
        async with self.uow() as uow:
            await uow.outbox.finish([message.id], OutboxStatus.SENT, self.clock.now())
            if message.blocked and message.chat_id is not None:
                await uow.outbox.mark_chat_blocked(message.chat_id, None)
            await uow.commit()

    async def unsure(self, message: DueMessage) -> None:
        """A send timed out: Telegram may have delivered it, the retry may repeat it."""
        async with self.uow() as uow:
            await uow.outbox.count_unsure([message.id])
            await uow.commit()

    async def blocked(self, message: DueMessage, error: str) -> None:
        """The recipient blocked the bot: not retried, and their person row says so."""
        now = self.clock.now()
        async with self.uow() as uow:
            await uow.outbox.finish([message.id], OutboxStatus.BLOCKED, now, error)
            if message.chat_id is not None:
                await uow.outbox.mark_chat_blocked(message.chat_id, now)
            await uow.commit()

    async def failed(self, message: DueMessage, error: str) -> None:
        """Refused for good (no account bound, chat not found): kept with the reason."""
        async with self.uow() as uow:
            await uow.outbox.finish([message.id], OutboxStatus.FAILED, self.clock.now(), error)
            await uow.commit()

    async def retry_later(self, message: DueMessage, seconds: float, error: str) -> None:
        """Try again after `seconds` (429 retry_after, a network error's back-off)."""
        until = self.clock.now() + timedelta(seconds=seconds)
        async with self.uow() as uow:
            await uow.outbox.postpone(message.id, until, error)
            await uow.commit()
