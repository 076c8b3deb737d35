"""The durable intake: every update is stored before Telegram is told it arrived.

Several processes may share one PostgreSQL inbox: each claims the updates it works on for
`claim_timeout` seconds (renewing while alive), never an update of a chat another process is
working on, and takes over the claims of a process that died once they expire.

PTB's Updater confirms an update (by asking for the next offset) before handlers run, so a
crash loses it. Here the poller writes each batch of updates to the `inbox_updates` table and
commits before the next getUpdates confirms them; a worker then feeds stored updates to
`Application.process_update` in order. A handler's commit marks its update done in the same
transaction (see `storage.uow.current_inbox_id`), so an update is applied exactly once even if
the process dies at any point; what was not done is replayed at start. The webhook
(`bot.webhook`) calls `Intake.feed` with the same dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from telegram import Update
from telegram.constants import ChatType
from telegram.error import InvalidToken, RetryAfter, TimedOut
from telegram.ext import Application

from bot.telegram import retry_after_seconds
from handlers.outcome import Outcome, current_outcome
from scheduler.outage import Outage
from services import zh
from services.inbox import InboxService, StoredUpdate
from storage.uow import ClaimLost, InboxClaim, current_claim, current_inbox_id

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


def dedup_key(update: dict[str, Any]) -> str:
    """The same message (or the same edit, or the same button press) gives the same key."""
    message = update.get("message")
    if message:
        return f"m:{message['chat']['id']}:{message['message_id']}"
    edited = update.get("edited_message")
    if edited:
        # Two edits can share a second: the new text tells them apart.
        content = (edited.get("text") or edited.get("caption") or "").encode()
        digest = hashlib.sha1(content, usedforsecurity=False).hexdigest()[:12]
        return (
            f"e:{edited['chat']['id']}:{edited['message_id']}:{edited.get('edit_date', 0)}:{digest}"
        )
    if update.get("callback_query"):
        return f"c:{update['callback_query']['id']}"
    return f"u:{update['update_id']}"


def lane_key(update: dict[str, Any]) -> str:
    """Updates with the same key are processed in order: one chat, or one user's buttons.
    (Migration 0008 computes the same keys for updates stored before it.)"""
    for field in ("message", "edited_message"):
        if update.get(field):
            return f"chat:{update[field]['chat']['id']}"
    query = update.get("callback_query")
    if query:
        return f"user:{query['from']['id']}"
    return f"update:{update['update_id']}"


def worker_name() -> str:
    """This process, as its claims on inbox updates name it: host, pid and a random tag
    (a restarted process with the same pid must not inherit the dead one's claims)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class IntakeMetrics(Protocol):
    """What the intake reports to the operator's metrics (bot.ops.Metrics)."""

    def received(self, count: int) -> None: ...

    def processed(self, seconds: float) -> None: ...

    def failed(self) -> None: ...


class Intake:
    """Polls Telegram into the inbox table and processes the inbox in order."""

    def __init__(
        self,
        app: Application,
        inbox: InboxService,
        *,
        poll_timeout: int = 30,
        batch_size: int = 100,
        max_attempts: int = 5,
        concurrency: int = 8,
        retry_delay: float = 1.0,
        claim_timeout: float = 60.0,
        worker: str | None = None,
        metrics: IntakeMetrics | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.inbox = inbox
        self.poll_timeout = poll_timeout
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.retry_delay = retry_delay
        self.claim_timeout = claim_timeout
        self.worker = worker or worker_name()
        self.metrics = metrics
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.fed = 0
        self.fatal: BaseException | None = None
        # Each loop logs an outage once, when it starts and when it ends, not per attempt.
        self.telegram_outage = Outage("getUpdates")
        self.database_outage = Outage("storing updates in the inbox")
        self.worker_outage = Outage("processing the inbox")

    # -- feeding ---------------------------------------------------------------------------

    async def feed(self, updates: Sequence[dict[str, Any]]) -> None:
        """Store raw updates durably (duplicates are dropped) and wake the worker."""
        if not updates:
            return
        await self.inbox.store([(u["update_id"], dedup_key(u), lane_key(u), u) for u in updates])
        self.fed += len(updates)
        if self.metrics is not None:
            self.metrics.received(len(updates))
        self._wake.set()

    async def poll(self) -> None:
        """Long-poll getUpdates; the next call's offset confirms only what was stored."""
        bot = self.app.bot
        offset: int | None = None
        while not self._stopping:
            try:
                updates = await bot.get_updates(
                    offset=offset,
                    timeout=self.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                )
            except RetryAfter as exc:
                await self._sleep(retry_after_seconds(exc))
                continue
            except TimedOut:
                continue
            except InvalidToken as exc:
                self.fatal = exc
                log.error("Telegram refused the bot token; stopping the intake")
                self._wake.set()
                return
            except Exception as exc:  # NetworkError, or anything else: never end the poller
                self.telegram_outage.failed(exc)
                await self._sleep(self.telegram_outage.delay())
                continue
            self.telegram_outage.recovered()
            if not updates:
                continue
            try:
                await self.feed([u.to_dict() for u in updates])
            except Exception as exc:  # the database refused: ask Telegram again, unconfirmed
                self.database_outage.failed(exc)
                await self._sleep(self.database_outage.delay())
                continue
            self.database_outage.recovered()
            offset = updates[-1].update_id + 1

    # -- processing ------------------------------------------------------------------------

    async def drain(self) -> int:
        """Process every pending update this process can claim; returns how many were handled.

        Updates of one chat run in order; different chats run side by side (up to
        `concurrency`), so one cadre's slow reply does not hold up everyone else's.
        """
        handled = 0
        while True:
            batch = await self.inbox.claim(self.worker, self.batch_size, self.claim_timeout)
            if not batch:
                return handled
            lanes: dict[str, list[StoredUpdate]] = {}
            # Two deliveries of one chat can be stored out of order (webhooks in parallel):
            # Telegram's update_id puts them back in order.
            for stored in sorted(batch, key=lambda s: s.data["update_id"]):
                lanes.setdefault(lane_key(stored.data), []).append(stored)
            limit = asyncio.Semaphore(self.concurrency)
            done: list[int] = []

            async def run_lane(
                lane: list[StoredUpdate],
                limit: asyncio.Semaphore = limit,
                done: list[int] = done,
            ) -> bool:
                async with limit:
                    for stored in lane:
                        if self._stopping:
                            return True
                        if not await self._process_one(stored):
                            return False  # keep order: retry this before the chat's next
                        done.append(stored.inbox_id)
                return True

            try:
                results = await asyncio.gather(*(run_lane(lane) for lane in lanes.values()))
                handled += len(done)
                # Updates whose handling committed are done already; this covers the rest.
                await self.inbox.done(done, self.worker)
            finally:
                # What was not finished (a failure, a stop) goes back, its lane still in order.
                with contextlib.suppress(Exception):
                    await self.inbox.release(self.worker)
            if self._stopping:
                return handled
            if not all(results):
                await self._sleep(self.retry_delay)

    async def _process_one(self, stored: StoredUpdate) -> bool:
        update = Update.de_json(stored.data, self.app.bot)
        outcome = Outcome()
        inbox_token = current_inbox_id.set(stored.inbox_id)
        claim_token = current_claim.set(InboxClaim(self.worker))
        outcome_token = current_outcome.set(outcome)
        started = time.perf_counter()
        try:
            await self.app.process_update(update)
        finally:
            current_inbox_id.reset(inbox_token)
            current_claim.reset(claim_token)
            current_outcome.reset(outcome_token)
        if isinstance(outcome.error, ClaimLost):
            return False  # another process has this chat now
        if outcome.error is None:
            if self.metrics is not None:
                self.metrics.processed(time.perf_counter() - started)
            return True
        if self.metrics is not None:
            self.metrics.failed()
        give_up = stored.attempts + 1 >= self.max_attempts
        await self.inbox.failed(stored.inbox_id, repr(outcome.error), give_up, self.worker)
        if give_up:
            log.error(
                "update %s failed %d times, parked as failed", stored.inbox_id, stored.attempts + 1
            )
            await self._tell_parked(update)
            return True
        return False

    async def _tell_parked(self, update: Update) -> None:
        """Tell the cadre their message was kept but not handled, rather than stay silent."""
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE:
            return
        try:
            await self.app.bot.send_message(chat.id, zh.UPDATE_PARKED)
        except Exception as exc:  # best effort: the update is kept for the operator anyway
            log.warning("could not tell chat %s about a parked update: %r", chat.id, exc)

    async def keep_claims(self) -> None:
        """Renew this process's claims well before they expire, while it is alive."""
        while not self._stopping:
            # Real time, not the injected sleep: claims expire by the wall clock.
            await asyncio.sleep(self.claim_timeout / 3)
            try:
                await self.inbox.renew(self.worker, self.claim_timeout)
            except Exception as exc:  # the database may be away; the worker notices too
                log.warning("could not renew the inbox claims: %r", exc)

    async def work(self) -> None:
        """Process the inbox whenever the poller (or a webhook) stored something."""
        while not self._stopping:
            self._wake.clear()
            try:
                await self.drain()
            except Exception as exc:  # the database may be away; keep the loop alive
                self.worker_outage.failed(exc)
                await self._sleep(self.worker_outage.delay())
                continue
            self.worker_outage.recovered()
            if self.fatal is not None:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5.0)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, polling: bool = True) -> None:
        """Start the worker (which first replays what is pending) and, if asked, the poller."""
        self._stopping = False
        self._tasks.append(asyncio.create_task(self.work(), name="intake-worker"))
        self._tasks.append(asyncio.create_task(self.keep_claims(), name="intake-claims"))
        if polling:
            self._tasks.append(asyncio.create_task(self.poll(), name="intake-poller"))

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)

    @property
    def stopping(self) -> bool:
        """Set once `stop()` was called: a webhook then refuses new updates (Telegram
        delivers them again, to a process that is not stopping)."""
        return self._stopping

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling at once; let the worker finish the update in hand, then stop it."""
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            if task.get_name() in ("intake-poller", "intake-claims"):
                task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), grace)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
