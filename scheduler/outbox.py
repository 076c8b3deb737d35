"""The outbox sender: delivers what use cases queued, once each, within Telegram's limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from scheduler.outage import Outage
from scheduler.throttle import Throttle
from services.outbox import DueMessage, OutboxService

log = logging.getLogger(__name__)

NO_ACCOUNT = "no Telegram account bound"
# At most this many batches of replies are held waiting for their chats at once.
HELD_REPLY_BATCHES = 4


class RetryLater(Exception):
    """The channel asks to try again after `seconds` (429 flood wait, network trouble)."""

    def __init__(
        self, seconds: float, reason: str, *, unsure: bool = False, flood: bool = False
    ) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.unsure = unsure  # the message may have been delivered (a timeout)
        self.flood = flood  # Telegram's 429: the whole bot must wait `seconds`


class RecipientBlocked(Exception):
    """The recipient blocked the bot."""


class Undeliverable(Exception):
    """The channel refused this message for good (chat not found, malformed)."""


class Transport(Protocol):
    async def send(
        self,
        chat_id: int,
        text: str,
        buttons: Sequence[Sequence[tuple[str, str]]] | None,
        *,
        document: tuple[str, bytes] | None = None,
    ) -> None:
        """Deliver one message (a file with `text` as its caption when `document` is given,
        a photo when the file's name ends in .png) or raise RetryLater, RecipientBlocked or
        Undeliverable."""
        ...


class OutboxSender:
    """Sends due outbox messages and records each outcome, within Telegram's limits.

    Two lanes share one `Throttle` (the bot's budget, which the handlers' direct answers draw
    on too):

    - replies (someone is waiting): sent as soon as they are queued, chats side by side, one
      chat's in order; never behind the paced lane;
    - the others (notices, reminders, fan-outs): fetched `batch_size` at a time and paced at
      the throttle's `rate`, a chat whose last message is too recent passed over for now.

    Each chat gets at most one outbox message per `per_chat_interval`. A 429 pauses every
    send of the bot for its retry_after. A failure that may pass is retried a few times here
    (`inline_retries`, for waits up to `inline_wait` seconds), then postponed in the
    database. A message is claimed (marked in flight) right before it is sent and marked sent
    once Telegram took it; if the process dies in between, it is sent again on restart and
    counted as unsure (at least once: a crash can repeat a message, never lose one).
    """

    def __init__(
        self,
        outbox: OutboxService,
        transport: Transport,
        *,
        throttle: Throttle | None = None,
        idle_poll: float = 2.0,
        batch_size: int = 20,
        concurrency: int = 16,
        inline_retries: int = 3,
        inline_wait: float = 5.0,
        wake: asyncio.Event | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_sent: Callable[[str], None] | None = None,
        on_flood: Callable[[], None] | None = None,
    ) -> None:
        """`wake` is set when something was queued, so the sender looks at once; `on_sent`
        (with the message's kind) and `on_flood` (a 429) feed the operator's metrics."""
        self._on_sent = on_sent
        self._on_flood = on_flood
        self.outbox = outbox
        self.transport = transport
        self.throttle = throttle or Throttle(sleep=sleep)
        self.idle_poll = idle_poll
        self.batch_size = batch_size
        self.inline_retries = inline_retries
        self.inline_wait = inline_wait
        self._wake = wake or asyncio.Event()
        self._sleep = sleep
        self._stopping = False
        self.outage = Outage("the outbox")
        self.record_outage = Outage("recording outbox deliveries")
        self.sent = 0
        self.floods = 0  # 429 answers met
        # Messages looked up and not finished yet: left out of the next looks.
        self._held: set[int] = set()
        self._reply_wake = asyncio.Event()
        self._paced_wake = asyncio.Event()
        self._reply_slots = asyncio.Semaphore(concurrency)
        self._paced_slots = asyncio.Semaphore(concurrency)
        self._reply_queues: dict[int | None, deque[DueMessage]] = {}
        self._reply_workers: dict[int | None, asyncio.Task[None]] = {}
        self._reply_progress = asyncio.Event()
        self._paced_busy: dict[int, asyncio.Task[None]] = {}
        # Paced messages claimed whose chat a reply took before their slot: sent later.
        self._claimed: set[int] = set()

    async def run(self) -> None:
        """Send until `stop()`: both lanes side by side, woken by `wake`."""
        relay = asyncio.create_task(self._relay_wake())
        try:
            await asyncio.gather(self._reply_lane(), self._paced_lane())
        finally:
            relay.cancel()
            # Cancelled (not stopped): the sends under way stay in flight, unsure on restart.
            pending = [*self._reply_workers.values(), *self._paced_busy.values(), relay]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        """Finish the sends under way and end `run()`; nothing new is started."""
        self._stopping = True
        self._wake.set()
        self._reply_wake.set()
        self._paced_wake.set()
        self._reply_progress.set()

    async def send_due(self) -> int:
        """Send one batch of due replies and one of the other messages, waiting for every
        outcome; returns how many messages were looked at."""
        replies, paced = await asyncio.gather(
            self._reply_lane(once=True), self._paced_lane(once=True)
        )
        return replies + paced

    async def _relay_wake(self) -> None:
        """Pass a wake-up (something was queued) on to both lanes."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._reply_wake.set()
            self._paced_wake.set()

    async def _look(self, *, replies: bool) -> list[DueMessage] | None:
        """The next due messages of a lane, held from now on; None after a database error."""
        try:
            batch = await self.outbox.pending(self.batch_size, replies=replies, exclude=self._held)
        except Exception as exc:  # the database may be away: wait, then look again
            self.outage.failed(exc)
            await self._sleep(self.outage.delay())
            return None
        self.outage.recovered()
        self._held.update(message.id for message in batch)
        return batch

    async def _idle(self, event: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=self.idle_poll)

    # -- replies ---------------------------------------------------------------------------

    async def _reply_lane(self, once: bool = False) -> int:
        """Hand due replies to one worker per chat as soon as they are queued."""
        looked = 0
        while not self._stopping:
            held = sum(len(queue) for queue in self._reply_queues.values())
            if held >= HELD_REPLY_BATCHES * self.batch_size:
                self._reply_progress.clear()
                await self._reply_progress.wait()
                continue
            self._reply_wake.clear()
            batch = await self._look(replies=True)
            if batch is None:
                continue
            looked += len(batch)
            for message in batch:
                self._queue_reply(message)
            if once:
                break
            if len(batch) < self.batch_size:
                await self._idle(self._reply_wake)
        await asyncio.gather(*self._reply_workers.values(), return_exceptions=True)
        return looked

    def _queue_reply(self, message: DueMessage) -> None:
        queue = self._reply_queues.setdefault(message.chat_id, deque())
        queue.append(message)
        if message.chat_id not in self._reply_workers:
            task = asyncio.create_task(self._reply_worker(message.chat_id, queue))
            self._reply_workers[message.chat_id] = task

    async def _reply_worker(self, chat_id: int | None, queue: deque[DueMessage]) -> None:
        """Send one chat's replies in order."""
        try:
            while queue and not self._stopping:
                message = queue[0]
                await self._reply(message)
                queue.popleft()
                self._held.discard(message.id)
                self._reply_progress.set()
        finally:
            for message in queue:  # stopped: left for the next start
                self._held.discard(message.id)
            self._reply_queues.pop(chat_id, None)
            self._reply_workers.pop(chat_id, None)
            self._reply_progress.set()

    async def _reply(self, message: DueMessage) -> None:
        chat_id = message.chat_id
        if chat_id is None:
            await self._record(self.outbox.failed, message, NO_ACCOUNT)
            return
        wait = self.throttle.chat_wait(chat_id)
        if wait > 0:  # outside the concurrency limit: other chats go on meanwhile
            await self._sleep(wait)
        async with self._reply_slots:
            if not await self._record(self.outbox.claim, message):
                return
            slot = await self.throttle.reply(chat_id)
            await self._send(message, slot, paced=False)

    # -- paced messages --------------------------------------------------------------------

    async def _paced_lane(self, once: bool = False) -> int:
        """Send the other messages at the throttle's rate, a small batch looked up at a time
        (the next one while the last half of the current one goes out)."""
        queue: list[DueMessage] = []
        looking: asyncio.Task[list[DueMessage] | None] | None = None
        looked = 0
        looks = 0
        exhausted = False  # the last look found fewer than it asked for
        while not self._stopping:
            low = len(queue) <= self.batch_size // 2
            if (
                looking is None
                and not (once and looks)
                and (not queue or (low and (not exhausted or self._paced_wake.is_set())))
            ):
                self._paced_wake.clear()
                looking = asyncio.create_task(self._look(replies=False))
            if looking is not None and (looking.done() or not queue):
                batch = await looking
                looking = None
                if batch is None:
                    continue
                looks += 1
                looked += len(batch)
                exhausted = len(batch) < self.batch_size
                queue += batch
            if not queue:
                if once:
                    break
                await self._idle(self._paced_wake)
                continue
            message = self._pick(queue)
            if message is None:
                await self._wait_for_a_chat(queue)
                continue
            position = queue.index(message)
            del queue[position]
            if not await self._start_paced(message):
                queue.insert(position, message)
        if looking is not None:
            queue += await looking or []
        for message in queue:  # stopped: left for the next start
            self._held.discard(message.id)
        await asyncio.gather(*self._paced_busy.values(), return_exceptions=True)
        return looked

    def _pick(self, queue: list[DueMessage]) -> DueMessage | None:
        """The first message whose chat may get it now, keeping each chat's order."""
        seen: set[int] = set()
        for message in queue:
            chat_id = message.chat_id
            if chat_id is None:
                return message
            if chat_id in seen:
                continue
            seen.add(chat_id)
            if chat_id in self._paced_busy or chat_id in self._reply_queues:
                continue  # a reply to the chat goes first
            if self.throttle.chat_wait(chat_id) <= 0:
                return message
        return None

    async def _wait_for_a_chat(self, queue: list[DueMessage]) -> None:
        """Wait until a chat of the queue is free again (its interval passed, its send done)."""
        heads = {m.chat_id for m in queue if m.chat_id is not None}
        busy = [self._paced_busy[c] for c in heads if c in self._paced_busy]
        waits = [
            self.throttle.chat_wait(c)
            for c in heads
            if c not in self._paced_busy and c not in self._reply_queues
        ]
        if waits:
            await self._sleep(max(0.0, min(waits)))
        elif busy:
            await asyncio.wait(busy, return_when=asyncio.FIRST_COMPLETED)
        else:  # every chat has a reply under way
            self._reply_progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reply_progress.wait(), timeout=self.idle_poll)

    async def _start_paced(self, message: DueMessage) -> bool:
        """Claim the message, wait for its slot and send it in the background; False: its
        chat was taken meanwhile (by a reply), it waits in the queue, claimed."""
        chat_id = message.chat_id
        if chat_id is None:
            await self._record(self.outbox.failed, message, NO_ACCOUNT)
            self._held.discard(message.id)
            return True
        await self._paced_slots.acquire()
        try:
            claimed = message.id in self._claimed or await self._record(self.outbox.claim, message)
            slot = await self.throttle.paced_if_free(chat_id) if claimed else None
        except BaseException:
            self._paced_slots.release()
            raise
        if slot is None:
            self._paced_slots.release()
            if claimed:
                self._claimed.add(message.id)
                return False
            self._held.discard(message.id)  # not claimed: the sender is stopping
            return True
        self._claimed.discard(message.id)
        task = asyncio.create_task(self._paced_send(message, slot))
        self._paced_busy[chat_id] = task
        return True

    async def _paced_send(self, message: DueMessage, slot: float) -> None:
        try:
            await self._send(message, slot, paced=True)
        finally:
            self._paced_slots.release()
            self._held.discard(message.id)
            if message.chat_id is not None:
                self._paced_busy.pop(message.chat_id, None)

    # -- sending and recording -------------------------------------------------------------

    async def _send(self, message: DueMessage, slot: float, *, paced: bool) -> None:
        """Send a claimed message whose slot has come and record the outcome."""
        chat_id = message.chat_id
        assert chat_id is not None
        for attempt in range(self.inline_retries + 1):
            if attempt:  # another send: another slot
                if paced:
                    slot = await self.throttle.paced(chat_id)
                else:
                    slot = await self.throttle.reply(chat_id)
            try:
                try:
                    await self.transport.send(
                        chat_id, message.text, message.buttons, document=message.document
                    )
                finally:
                    self.throttle.answered(chat_id, slot)
            except RetryLater as exc:
                if exc.flood:
                    self.floods += 1
                    if self._on_flood is not None:
                        self._on_flood()
                    self.throttle.flood(exc.seconds)
                    log.warning("Telegram asks to slow down: no sends for %.0fs", exc.seconds)
                if exc.unsure:
                    log.warning("outbox message %s timed out; it may arrive twice", message.id)
                    await self._record(self.outbox.unsure, message)
                if attempt == self.inline_retries or exc.seconds > self.inline_wait:
                    log.info("outbox message %s postponed %.0fs: %s", message.id, exc.seconds, exc)
                    await self._record(self.outbox.retry_later, message, exc.seconds, str(exc))
                    return
                log.debug("outbox message %s, attempt %d failed: %s", message.id, attempt, exc)
                if not exc.flood:  # a 429's pause is waited out in the throttle
                    await self._sleep(exc.seconds)
            except RecipientBlocked as exc:
                await self._record(self.outbox.blocked, message, str(exc))
                return
            except Undeliverable as exc:
                log.warning("outbox message %s refused: %s", message.id, exc)
                await self._record(self.outbox.failed, message, str(exc))
                return
            else:
                await self._record(self.outbox.sent, message)
                self.sent += 1
                if self._on_sent is not None:
                    self._on_sent(message.kind)
                return

    async def _record(self, outcome: Callable[..., Awaitable[object]], *args: object) -> bool:
        """Store a claim or what became of a send, retrying while the database is away.

        Never by sending again: a message Telegram took is not sent twice for a database
        hiccup (only a crash before this is stored can repeat it). False: not stored, the
        sender is stopping.
        """
        outage = self.record_outage
        while True:
            try:
                await outcome(*args)
            except Exception as exc:
                outage.failed(exc)
                if self._stopping and outage.attempts >= 3:
                    # Shutting down: the row stays as it was (in flight: unsure on restart).
                    log.warning("could not record an outbox outcome before stopping: %r", exc)
                    return False
                await self._sleep(outage.delay())
                continue
            outage.recovered()
            return True
