"""Fault injection and the optional rate limits of sending methods."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from .common import ApiError, too_many_requests

# "429": flood wait with retry_after; "500": internal server error; "slow": answer normally
# after `delay` seconds; "drop": close the connection without answering.
FAULTS = ("401", "429", "500", "slow", "drop")

# Methods subject to the optional per-chat / global rate limits.
RATE_LIMITED = frozenset({"sendMessage", "sendDocument", "sendPhoto", "editMessageText"})


@dataclass
class Fault:
    """A pending fault injection."""

    method: str  # lower-cased method name, or "*" for any method
    kind: str
    remaining: int | None  # None: forever
    retry_after: int = 1
    delay: float = 0.0

    def error(self) -> ApiError:
        """The error answered for a "401", "429" or "500" fault."""
        if self.kind == "429":
            return too_many_requests(self.retry_after)
        if self.kind == "401":  # a revoked or mistyped token
            return ApiError(401, "Unauthorized")
        return ApiError(500, "Internal Server Error")


class FaultsMixin:
    """Injected faults (``inject``) and rate limits (``per_chat_limit`` / ``global_limit``)."""

    per_chat_limit: float | None
    global_limit: float | None
    rate_limited: int  # 429s answered for a rate limit (not injected ones)
    _faults: list[Fault]
    _rate_chat: dict[Any, deque[float]]
    _rate_global: deque[float]

    def inject(
        self,
        method: str,
        fault: str | int,
        times: int | None = 1,
        retry_after: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"``: any) meet ``fault``.

        ``times=None`` keeps the fault forever. See ``FAULTS`` for the kinds.
        """
        kind = str(fault)
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        if times is not None and times <= 0:
            raise ValueError("times must be positive or None")
        self._faults.append(Fault(method.lower(), kind, times, int(retry_after), float(delay)))

    def enforce_limits(
        self, global_per_second: float | None = 30, per_chat_per_second: float | None = 1
    ) -> None:
        """Answer sends beyond Telegram's limits with 429 and retry_after, like Telegram.

        At most ``global_per_second`` sends in any second overall and ``per_chat_per_second``
        in one chat (None: no limit), counted on arrival over a sliding second. Counting
        starts afresh; ``rate_limited`` tells how many 429s the limits answered.
        """
        self.global_limit = global_per_second
        self.per_chat_limit = per_chat_per_second
        self._rate_global.clear()
        self._rate_chat.clear()
        self.rate_limited = 0

    def clear_faults(self) -> None:
        """Remove all pending fault injections."""
        self._faults.clear()

    def _take_fault(self, method: str) -> Fault | None:
        """Consume and return the first fault matching ``method``."""
        lowered = method.lower()
        for fault in self._faults:
            if fault.method in ("*", lowered):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _rate_limit(self, method: str, chat_id: Any) -> ApiError | None:
        """The 429 error when a rate limit is exceeded; otherwise count the call."""
        if method not in RATE_LIMITED:
            return None
        now = time.monotonic()
        windows = []
        if self.global_limit:
            windows.append((self._rate_global, self.global_limit))
        if self.per_chat_limit and chat_id is not None:
            windows.append((self._rate_chat.setdefault(chat_id, deque()), self.per_chat_limit))
        for window, limit in windows:
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                self.rate_limited += 1
                return too_many_requests(max(1, math.ceil(window[0] + 1.0 - now)))
        for window, _ in windows:
            window.append(now)
        return None
