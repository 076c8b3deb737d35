"""The deployment's one outbox sender: whichever process holds the sender lease sends.

Telegram's limits (about 30 messages a second, one a second per chat) are the bot's, not a
process's, so one sender paces the whole deployment and keeps each chat's messages in
order; when its process dies, its database connection closes, the lease passes, and another
process's sender takes over (a send under way at the death is sent again, counted unsure).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from scheduler.outbox import OutboxSender
from storage.locks import OUTBOX_CHANNEL, SchedulerLease

log = logging.getLogger(__name__)

# Seconds between checks that the lease is still held (or free to take).
LEASE_CHECK_SECONDS = 5.0


class LeasedSender:
    def __init__(
        self,
        lease: SchedulerLease,
        make_sender: Callable[[], OutboxSender],
        wake: Callable[[], None],
    ) -> None:
        self.lease = lease
        self.make_sender = make_sender
        self.wake = wake
        self.sender: OutboxSender | None = None
        self._stop = asyncio.Event()

    async def _holds(self) -> bool:
        try:
            return await self.lease.acquire()
        except Exception as exc:  # the database is away: not held, ask again later
            log.warning("could not check the outbox sender lease: %r", exc)
            return False

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), LEASE_CHECK_SECONDS)

    async def run(self) -> None:
        """Send while holding the lease; wait for it while another process holds it."""
        try:
            while not self._stop.is_set():
                if not await self._holds():
                    await self._pause()
                    continue
                await self._send_while_held()
        finally:
            with contextlib.suppress(Exception):
                await self.lease.release()

    async def _send_while_held(self) -> None:
        sender = self.sender = self.make_sender()
        with contextlib.suppress(Exception):  # without it, the sender still polls
            await self.lease.listen(OUTBOX_CHANNEL, self.wake)
        log.info("this process sends the outbox")
        sending = asyncio.create_task(sender.run(), name="outbox-sender-run")
        try:
            while not sending.done() and not self._stop.is_set():
                await asyncio.wait([sending], timeout=LEASE_CHECK_SECONDS)
                if not sending.done() and not await self._holds():
                    log.warning("the outbox sender lease was lost; sending stops here")
                    break
            sender.stop()
            await sending  # stop() starts nothing new; the sends under way are recorded
        finally:
            sending.cancel()
            self.sender = None

    def stop(self) -> None:
        """Finish the sends under way and end `run()`."""
        self._stop.set()
        if self.sender is not None:
            self.sender.stop()
