"""The inbox of the durable intake: updates stored before Telegram is told they arrived."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
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

    async def store(self, updates: Sequence[tuple[int, str, dict[str, Any]]]) -> None:
        """Store (update id, dedup key, raw update) triples; duplicates are dropped."""
        now = self.clock.now()
        rows = [
            {
                "update_id": update_id,
                "dedup_key": key,
                "payload": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                "status": "pending",
                "attempts": 0,
                "received_at": now,
            }
            for update_id, key, data in updates
        ]
        async with self.uow() as uow:
            await uow.inbox.add_many(rows)
            await uow.commit()

    async def pending(self, limit: int) -> list[StoredUpdate]:
        async with self.uow() as uow:
            rows = await uow.inbox.pending(limit)
        return [StoredUpdate(i, json.loads(payload), attempts) for i, payload, attempts in rows]

    async def done(self, inbox_ids: Sequence[int]) -> None:
        """Mark updates done whose handling wrote nothing (a view, a refusal reply)."""
        if inbox_ids:
            async with self.uow() as uow:
                await uow.inbox.mark_done(inbox_ids, self.clock.now())
                await uow.commit()

    async def failed(self, inbox_id: int, error: str, give_up: bool) -> None:
        async with self.uow() as uow:
            await uow.inbox.record_failure(inbox_id, error, give_up)
            await uow.commit()
