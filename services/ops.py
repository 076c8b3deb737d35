"""What operators watch: the backlog of the inbox and the outbox, aged by the clock."""

from __future__ import annotations

from dataclasses import dataclass

from services.clock import Clock
from storage.uow import UowFactory


@dataclass(frozen=True, slots=True)
class Backlog:
    inbox_pending: int
    inbox_failed: int
    outbox_pending: int
    # Seconds since the oldest update still waiting to be processed arrived; None: none waits.
    oldest_pending_age: float | None


class OpsService:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    async def backlog(self) -> Backlog:
        """One read transaction; it also tells whether the database answers."""
        async with self.uow() as uow:
            counts = await uow.ops.backlog()
        oldest = counts.oldest_pending_received_at
        age = None if oldest is None else max(0.0, (self.clock.now() - oldest).total_seconds())
        return Backlog(counts.inbox_pending, counts.inbox_failed, counts.outbox_pending, age)
