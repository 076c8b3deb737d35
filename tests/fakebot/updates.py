"""The update queue: ``enqueue`` and getUpdates with real offsets and long polling.

The webhook methods, which deliver this queue instead, are in ``webhook.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from .chats import ChatsMixin
from .common import ApiError, as_int, bad, sleep_on, wake

# Update types Telegram leaves out when getUpdates never received ``allowed_updates``.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdatesMixin(ChatsMixin):
    """Pending updates, confirmed through the ``offset`` of the next getUpdates."""

    _closing: bool
    _updates: deque[dict[str, Any]]
    _next_update_id: int
    _confirmed_offset: int
    _allowed_updates: frozenset[str] | None
    _open_queries: set[str]
    _poll_gen: int
    _poll_conflict: str  # the 409 that ends a parked getUpdates when ``_poll_gen`` moves on
    _parked: int
    _update_waiters: list[asyncio.Future[None]]
    _park_waiters: list[asyncio.Future[None]]

    def enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates under the next ``update_id``; returns it."""
        upd = {"update_id": self._next_update_id}
        upd.update((k, v) for k, v in update.items() if k != "update_id")
        self._next_update_id += 1
        for key in ("message", "edited_message"):
            msg = upd.get(key)
            if isinstance(msg, dict) and isinstance(msg.get("chat"), dict):
                self._remember_chat(msg["chat"])
                if key == "message":
                    if "message_id" not in msg:
                        msg["message_id"] = self._alloc_message_id(msg["chat"]["id"])
                    self._messages[(msg["chat"]["id"], msg["message_id"])] = msg
        if isinstance(upd.get("callback_query"), dict):
            self._open_queries.add(str(upd["callback_query"]["id"]))
        self._updates.append(upd)
        wake(self._update_waiters)
        return upd

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed through a getUpdates ``offset``."""
        return list(self._updates)

    @property
    def confirmed_offset(self) -> int:
        """Updates with an ``update_id`` below this value have been confirmed and dropped."""
        return self._confirmed_offset

    @property
    def polling(self) -> int:
        """Number of getUpdates long polls currently parked waiting for updates."""
        return self._parked

    async def wait_for_poll(self, timeout: float = 10.0) -> None:
        """Wait until a getUpdates long poll is parked, i.e. the bot is idle and listening."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._parked:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no getUpdates long poll parked within {timeout}s")
            await sleep_on(self._park_waiters, remaining)

    def _confirm(self, offset: int) -> None:
        """Drop confirmed updates according to a getUpdates ``offset``."""
        updates = self._updates
        if offset > 0:
            while updates and updates[0]["update_id"] < offset:
                updates.popleft()
            self._confirmed_offset = max(self._confirmed_offset, offset)
        elif offset < 0:
            while len(updates) > -offset:
                updates.popleft()
            first = updates[0]["update_id"] if updates else self._next_update_id
            self._confirmed_offset = max(self._confirmed_offset, first)

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` pending updates allowed by ``allowed_updates``."""
        out: list[dict[str, Any]] = []
        for upd in self._updates:
            kind = next((k for k in upd if k != "update_id"), "")
            if self._allowed_updates is None:
                if kind in DEFAULT_EXCLUDED_UPDATES:
                    continue
            elif kind not in self._allowed_updates:
                continue
            out.append(upd)
            if len(out) >= limit:
                break
        return out

    async def _api_get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """getUpdates with real offset confirmation and long polling."""
        offset = as_int(params, "offset", 0)
        limit = min(100, max(1, as_int(params, "limit", 100)))
        try:
            timeout = max(0.0, float(params.get("timeout") or 0))
        except (TypeError, ValueError):
            raise bad("invalid timeout specified") from None
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            if isinstance(allowed, str):
                allowed = json.loads(allowed) if allowed.startswith("[") else [allowed]
            self._allowed_updates = frozenset(allowed) if allowed else None
        self._confirm(offset)
        # A newer getUpdates terminates an older pending one, like Telegram does.
        self._poll_gen += 1
        self._poll_conflict = (
            "Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running"
        )
        generation = self._poll_gen
        wake(self._update_waiters)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._deliverable(limit)
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                return batch
            self._parked += 1
            wake(self._park_waiters)
            try:
                await sleep_on(self._update_waiters, remaining)
            finally:
                self._parked -= 1
            if generation != self._poll_gen:
                raise ApiError(409, self._poll_conflict)
