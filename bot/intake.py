"""The durable intake: every update is stored before Telegram is told it arrived.

PTB's Updater confirms an update (by asking for the next offset) before handlers run, so a
crash loses it. Here the poller writes each batch of updates to the `inbox_updates` table and
commits before the next getUpdates confirms them; a worker then feeds stored updates to
`Application.process_update` in order. A handler's commit marks its update done in the same
transaction (see `storage.uow.current_inbox_id`), so an update is applied exactly once even if
the process dies at any point; what was not done is replayed at start. A webhook can later
call `Intake.feed` with the same dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from telegram import Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from storage.uow import UnitOfWork, current_inbox_id

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


@dataclass
class _Outcome:
    error: BaseException | None = None


_outcome: ContextVar[_Outcome | None] = ContextVar("intake_outcome", default=None)


def is_transient(error: BaseException | None) -> bool:
    """Failures worth retrying the whole update for: the database or network was unavailable."""
    if isinstance(error, BadRequest | Forbidden | InvalidToken):
        return False
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        OperationalError | SAInterfaceError | NetworkError | ConnectionError | TimeoutError,
    )


def report_transient(error: BaseException) -> None:
    """Called by the error handler: the update being processed must be retried later."""
    outcome = _outcome.get()
    if outcome is not None:
        outcome.error = error


def dedup_key(update: dict[str, Any]) -> str:
    """The same message (or the same edit, or the same button press) gives the same key."""
    for field, prefix in (("message", "m"), ("edited_message", "e")):
        message = update.get(field)
        if message:
            key = f"{prefix}:{message['chat']['id']}:{message['message_id']}"
            return f"{key}:{message.get('edit_date', 0)}" if prefix == "e" else key
    if update.get("callback_query"):
        return f"c:{update['callback_query']['id']}"
    return f"u:{update['update_id']}"


class Intake:
    """Polls Telegram into the inbox table and processes the inbox in order."""

    def __init__(
        self,
        app: Application,
        uow: Callable[[], UnitOfWork],
        *,
        poll_timeout: int = 30,
        batch_size: int = 100,
        max_attempts: int = 5,
        retry_delay: float = 1.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.uow = uow
        self.poll_timeout = poll_timeout
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.processed = 0
        self.fatal: BaseException | None = None

    # -- feeding ---------------------------------------------------------------------------

    async def feed(self, updates: Sequence[dict[str, Any]]) -> None:
        """Store raw updates durably (duplicates are dropped) and wake the worker."""
        if not updates:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "update_id": u["update_id"],
                "dedup_key": dedup_key(u),
                "payload": json.dumps(u, ensure_ascii=False, separators=(",", ":")),
                "status": "pending",
                "attempts": 0,
                "received_at": now,
            }
            for u in updates
        ]
        async with self.uow() as uow:
            await uow.inbox.add_many(rows)
            await uow.session.commit()
        self._wake.set()

    async def poll(self) -> None:
        """Long-poll getUpdates; the next call's offset confirms only what was stored."""
        bot = self.app.bot
        offset: int | None = None
        backoff = 0.5
        while not self._stopping:
            try:
                updates = await bot.get_updates(
                    offset=offset,
                    timeout=self.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                )
            except RetryAfter as exc:
                await self._sleep(_seconds(exc.retry_after))
                continue
            except TimedOut:
                continue
            except InvalidToken as exc:
                self.fatal = exc
                log.error("Telegram refused the bot token; stopping the intake")
                self._wake.set()
                return
            except NetworkError as exc:
                log.warning("getUpdates failed, retrying in %.1fs: %s", backoff, exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            if not updates:
                continue
            await self.feed([u.to_dict() for u in updates])
            offset = updates[-1].update_id + 1

    # -- processing ------------------------------------------------------------------------

    async def drain(self) -> int:
        """Process every pending update in order; returns how many were handled."""
        handled = 0
        while True:
            async with self.uow() as uow:
                rows = await uow.inbox.pending(self.batch_size)
                batch = [(r.id, r.payload, r.attempts) for r in rows]
            if not batch:
                return handled
            done: list[int] = []
            for inbox_id, payload, attempts in batch:
                if self._stopping:
                    break
                if await self._process_one(inbox_id, payload, attempts):
                    done.append(inbox_id)
                else:
                    break  # keep order: retry this one before anything after it
                handled += 1
            if done:
                async with self.uow() as uow:
                    await uow.inbox.mark_many_done(done)
                    await uow.session.commit()
            if self._stopping:
                return handled
            if len(done) < len(batch):
                await self._sleep(self.retry_delay)

    async def _process_one(self, inbox_id: int, payload: str, attempts: int) -> bool:
        update = Update.de_json(json.loads(payload), self.app.bot)
        outcome = _Outcome()
        inbox_token = current_inbox_id.set(inbox_id)
        outcome_token = _outcome.set(outcome)
        try:
            await self.app.process_update(update)
        finally:
            current_inbox_id.reset(inbox_token)
            _outcome.reset(outcome_token)
        if outcome.error is None:
            self.processed += 1
            return True
        give_up = attempts + 1 >= self.max_attempts
        async with self.uow() as uow:
            await uow.inbox.record_failure(inbox_id, repr(outcome.error), give_up)
            await uow.session.commit()
        if give_up:
            log.error("update %s failed %d times, parked as failed", inbox_id, attempts + 1)
            return True
        return False

    async def work(self) -> None:
        """Process the inbox whenever the poller (or a webhook) stored something."""
        while not self._stopping:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # the database may be away; keep the loop alive
                log.exception("processing the inbox failed; retrying")
                await self._sleep(self.retry_delay)
                continue
            if self.fatal is not None:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5.0)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, polling: bool = True) -> None:
        """Start the worker (which first replays what is pending) and, if asked, the poller."""
        self._stopping = False
        self._tasks.append(asyncio.create_task(self.work(), name="intake-worker"))
        if polling:
            self._tasks.append(asyncio.create_task(self.poll(), name="intake-poller"))

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling at once; let the worker finish the update in hand, then stop it."""
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            if task.get_name() == "intake-poller":
                task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), grace)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
