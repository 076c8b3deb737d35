"""Reads for operators: how much work waits in the inbox and the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from storage.models import InboxStatus, InboxUpdate, OutboxMessage, OutboxStatus
from storage.repositories import _Repository


@dataclass(frozen=True, slots=True)
class BacklogCounts:
    inbox_pending: int
    inbox_failed: int
    outbox_pending: int
    oldest_pending_received_at: datetime | None


class OpsRepository(_Repository):
    async def backlog(self) -> BacklogCounts:
        """Two indexed queries: the inbox by status (pending, failed) and the pending outbox."""
        statuses = (InboxStatus.PENDING.value, InboxStatus.FAILED.value)
        inbox = await self.session.execute(
            select(InboxUpdate.status, func.count(), func.min(InboxUpdate.received_at))
            .where(InboxUpdate.status.in_(statuses))
            .group_by(InboxUpdate.status)
        )
        by_status = {status: (count, oldest) for status, count, oldest in inbox.all()}
        outbox = await self.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING.value)
        )
        pending, oldest = by_status.get(InboxStatus.PENDING.value, (0, None))
        failed, _ = by_status.get(InboxStatus.FAILED.value, (0, None))
        return BacklogCounts(pending, failed, int(outbox or 0), oldest)
