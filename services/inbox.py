"""The inbox of the durable intake: updates stored before Telegram is told they arrived."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.clock import Clock
from storage.uow import UowFactory


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    inbox_id: int
    data: dict[str, Any]
    attempts: int


class InboxService:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    async def store(self, updates: Sequence[tuple[int, str, str, dict[str, Any]]]) -> None:
        """Store (update id, dedup key, lane, raw update); duplicates are dropped."""
        now = self.clock.now()
        rows = [
            {
                "update_id": update_id,
                "dedup_key": key,
                "lane": lane,
                "payload": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                "status": "pending",
                "attempts": 0,
                "received_at": now,
            }
            for update_id, key, lane, data in updates
        ]
        async with self.uow() as uow:
            await uow.inbox.add_many(rows)
            await uow.commit()

    async def claim(self, worker: str, limit: int, timeout: float) -> list[StoredUpdate]:
        """Claim the oldest pending updates for `worker` (a process) for `timeout` seconds."""
        now = self.clock.now()
        async with self.uow() as uow:
            rows = await uow.inbox.claim(worker, now, now + timedelta(seconds=timeout), limit)
            await uow.commit()
        return [StoredUpdate(i, json.loads(payload), attempts) for i, payload, attempts in rows]

    async def renew(self, worker: str, timeout: float) -> None:
        """Extend `worker`'s claims: it is alive and still working on them."""
        async with self.uow() as uow:
            await uow.inbox.renew(worker, self.clock.now() + timedelta(seconds=timeout))
            await uow.commit()

    async def release(self, worker: str) -> None:
        """Let other processes take the updates `worker` claimed and did not finish."""
        async with self.uow() as uow:
            await uow.inbox.release(worker)
            await uow.commit()

    async def done(self, inbox_ids: Sequence[int], worker: str | None = None) -> None:
        """Mark updates done whose handling wrote nothing (a view, a refusal reply)."""
        if inbox_ids:
            async with self.uow() as uow:
                await uow.inbox.mark_done(inbox_ids, self.clock.now(), worker)
                await uow.commit()

    async def failed(
        self, inbox_id: int, error: str, give_up: bool, worker: str | None = None
    ) -> None:
        async with self.uow() as uow:
            await uow.inbox.record_failure(inbox_id, error, give_up, worker)
            await uow.commit()
