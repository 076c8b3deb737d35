"""The unit of work: one session, the repositories on it, and the only place that commits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.forms import FormRepository
from storage.ops import OpsRepository
from storage.projects import ProjectRepository
from storage.repositories import (
    AuditRepository,
    EntryRepository,
    InboxRepository,
    InviteRepository,
    OutboxRepository,
    PeopleRepository,
    ReviewRepository,
)
from storage.scoring import ScoringRepository
from storage.web import WebRepository

# Set by the intake while an inbox update is processed: committing the update's work marks
# that update done in the same transaction, so a replay after a crash never repeats it.
current_inbox_id: ContextVar[int | None] = ContextVar("current_inbox_id", default=None)


@dataclass
class InboxClaim:
    """The process (`worker`) that claimed the update being processed; `done` once a commit
    marked the update done (a handler may commit more than once)."""

    worker: str
    done: bool = False


# Set by the intake beside current_inbox_id: the done mark then counts only while this
# process still holds the update, so a process that lost it to another cannot apply it too.
current_claim: ContextVar[InboxClaim | None] = ContextVar("current_claim", default=None)


class ClaimLost(Exception):
    """Another process took the update over (this one was too slow): its work is rolled back."""

    def __init__(self, inbox_id: int) -> None:
        super().__init__(f"inbox update {inbox_id} is no longer claimed by this process")
        self.inbox_id = inbox_id


class UnitOfWork:
    """`async with uow:` opens a transaction; leaving without `commit()` rolls it back."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        lock: asyncio.Lock | None = None,
        on_outbox: Callable[[], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._sessions = sessions
        # SQLite has one writer: concurrent transactions would meet SQLITE_BUSY and sleep, so
        # units of work take turns instead. Never open a unit of work inside another.
        self._lock = lock
        # Called after a commit that queued outbox messages: wakes the sender at once.
        self._on_outbox = on_outbox
        # The injected clock's time, for the done mark of the update being processed.
        self._now = now or (lambda: datetime.now(UTC))
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        if self._lock is not None:
            await self._lock.acquire()
        session = self._sessions()
        self._session = session
        self.people = PeopleRepository(session)
        self.invites = InviteRepository(session)
        self.entries = EntryRepository(session)
        self.audit = AuditRepository(session)
        self.inbox = InboxRepository(session)
        self.outbox = OutboxRepository(session)
        self.review = ReviewRepository(session)
        self.forms = FormRepository(session)
        self.scoring = ScoringRepository(session)
        self.projects = ProjectRepository(session)
        self.web = WebRepository(session)
        self.ops = OpsRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        # close() rolls back what was not committed; unlike rollback() it leaves loaded
        # objects readable (detached, not expired) for the reply that follows.
        try:
            await self._session.close()
        finally:
            self._session = None
            if self._lock is not None:
                self._lock.release()

    async def commit(self) -> None:
        """Commit, marking the inbox update being processed (if any) as done with it."""
        assert self._session is not None, "unit of work used outside `async with`"
        inbox_id = current_inbox_id.get()
        claim = current_claim.get()
        if inbox_id is not None:
            if claim is None:
                await self.inbox.mark_done([inbox_id], self._now())
            elif not claim.done and not await self.inbox.mark_done(
                [inbox_id], self._now(), claim.worker
            ):
                raise ClaimLost(inbox_id)
        if self.outbox.added:
            await self.outbox.notify()
        await self._session.commit()
        if claim is not None and inbox_id is not None:
            claim.done = True
        if self.outbox.added and self._on_outbox is not None:
            self.outbox.added = False
            self._on_outbox()

    async def queue_reply(
        self,
        chat_id: int,
        text: str,
        buttons: Sequence[Sequence[tuple[str, str]]] | None,
        at: datetime,
        document: tuple[str, bytes] | None = None,
    ) -> bool:
        """Queue the reply to the update being processed (with a file: `text` is its
        caption); False outside an update."""
        inbox_id = current_inbox_id.get()
        if inbox_id is None:
            return False
        await self.outbox.add(
            f"reply:{inbox_id}",
            "reply",
            text,
            at,
            chat_id=chat_id,
            buttons=buttons,
            document=document,
        )
        return True

    async def scrub_current_update(self) -> None:
        """Keep nothing of the update being processed but that it came (strangers, groups)."""
        inbox_id = current_inbox_id.get()
        if inbox_id is not None:
            await self.inbox.scrub(inbox_id)


UowFactory = Callable[[], UnitOfWork]
