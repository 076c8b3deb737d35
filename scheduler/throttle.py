"""Telegram's sending limits of one bot, shared by everything the bot sends.

Telegram takes about 30 messages a second from a bot and about one a second in one chat;
beyond that it answers 429 with `retry_after`, and the bot must be quiet that long. Replies,
the handlers' direct answers and paced messages (notices, reminders, fan-outs) all draw on
that one budget here. Each send reserves a moment ("slot") at once, then waits for it:

- every send: at most `budget` sends in any second (plus `SLACK`), none before a 429 pause
  ends;
- an outbox message (reply or paced): a chat's slots at least `per_chat_interval` apart;
- a paced message: paced slots `1 / rate` apart, so that a fan-out leaves room for replies.

Telegram counts a message when it arrives, somewhat after its slot (the network, a busy
event loop). Once a send is answered, Telegram has counted it: from then on it counts at its
answer's time, later than its arrival, so a request that was slow to arrive cannot crowd the
next ones.

A reservation is only a few milliseconds ahead (a paced slot at most `1 / rate`): a reply that
comes during a fan-out waits for one paced message at most, then for its chat.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections.abc import Awaitable, Callable

# Telegram counts messages when they arrive: this much slack (in seconds) on each limit keeps
# the jitter of the network from crossing one.
SLACK = 0.05
# Drop the per-chat bookkeeping of chats quiet for a while, every this many reservations.
PRUNE_EVERY = 4096


class Throttle:
    """Slots for sends within Telegram's limits (see the module docstring).

    `reply`, `paced` and `direct` wait for a slot and return it; `answered(chat, slot)` tells
    that its send got its answer. `clock` (monotonic seconds) and `sleep` are injectable:
    tests run it on virtual time. A moment slept towards is taken as reached, so a shortened
    test sleep never spins.
    """

    def __init__(
        self,
        budget: float = 30.0,
        rate: float = 25.0,
        per_chat_interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if budget <= 0 or rate <= 0 or per_chat_interval < 0:
            raise ValueError("budget and rate must be positive, per_chat_interval not negative")
        self.budget = budget
        self.rate = rate
        self.per_chat_interval = per_chat_interval
        self._clock = clock
        self._sleep = sleep
        self._window = max(1, math.floor(budget))  # sends in any second
        # When recent sends count for Telegram, ascending: their slot, or their answer's time
        # once answered. Only the last second or so is kept.
        self._counted: list[float] = []
        self._last = -math.inf
        self._last_paced = -math.inf
        self._chat_next: dict[int, float] = {}
        self._resume_at = -math.inf
        self._reserved = 0
        self.floods = 0  # 429s reported

    def flood(self, seconds: float) -> None:
        """Telegram answered 429: the whole bot sends nothing for `seconds`."""
        self._resume_at = max(self._resume_at, self._clock() + seconds)
        self.floods += 1

    def answered(self, chat_id: int | None, slot: float) -> None:
        """The send of `slot` to `chat_id` got its answer (any answer): Telegram has counted
        it by now. It counts from now against the budget, and the chat's next outbox message
        keeps its interval from now too."""
        now = self._clock()
        at = bisect.bisect_left(self._counted, slot)
        if at < len(self._counted) and self._counted[at] == slot and now > slot:
            del self._counted[at]
            bisect.insort(self._counted, now)
        if chat_id is not None and self.per_chat_interval > 0:
            after = now + self.per_chat_interval
            self._chat_next[chat_id] = max(self._chat_next.get(chat_id, -math.inf), after)

    def chat_wait(self, chat_id: int) -> float:
        """Seconds until `chat_id` may get its next outbox message (0: now)."""
        ready = max(self._resume_at, self._chat_next.get(chat_id, -math.inf))
        return max(0.0, ready - self._clock())

    async def reply(self, chat_id: int) -> float:
        """Wait for the slot of a reply (or of another outbox message sent again)."""
        slot = await self._acquire(chat_id, paced=False, keep_chat_interval=True)
        assert slot is not None
        return slot

    async def paced(self, chat_id: int) -> float:
        """Wait for the slot of a paced message (notice, reminder)."""
        slot = await self._acquire(chat_id, paced=True, keep_chat_interval=True)
        assert slot is not None
        return slot

    async def paced_if_free(self, chat_id: int) -> float | None:
        """Wait for the slot of a paced message if its chat is free now; None (nothing
        reserved) if not, as when a reply just took it: the sender goes on with another chat."""
        return await self._acquire(
            chat_id, paced=True, keep_chat_interval=True, wait_for_chat=False
        )

    async def direct(self, chat_id: int | None) -> float:
        """Wait for the slot of a handler's direct answer: it counts against the budget and
        keeps later outbox messages off its chat for a while, but it does not wait for its
        chat (someone is looking at the screen; Telegram allows a short burst in a chat)."""
        slot = await self._acquire(chat_id, paced=False, keep_chat_interval=False)
        assert slot is not None
        return slot

    async def _acquire(
        self,
        chat_id: int | None,
        *,
        paced: bool,
        keep_chat_interval: bool,
        wait_for_chat: bool = True,
    ) -> float | None:
        reached = -math.inf  # the latest moment slept towards
        while True:
            now = self._clock()
            ready = self._resume_at
            if keep_chat_interval and chat_id is not None:
                chat_ready = self._chat_next.get(chat_id, -math.inf)
                if not wait_for_chat and chat_ready > max(now, reached):
                    return None
                ready = max(ready, chat_ready)
            if ready > max(now, reached):
                await self._sleep(ready - now)
                reached = ready
                continue
            slot = max(now, self._last)
            if len(self._counted) >= self._window:
                slot = max(slot, self._counted[-self._window] + 1.0 + SLACK)
            if paced:
                slot = max(slot, self._last_paced + 1.0 / self.rate)
            before = self._reserve(slot, chat_id, paced)
            floods = self.floods
            if slot > now:
                await self._sleep(slot - now)
            if self.floods == floods or self._resume_at <= slot:
                return slot
            # A 429 came while waiting: this slot is void, queue again behind the pause.
            if chat_id is not None and before is not None:
                self._chat_next[chat_id] = before
            elif chat_id is not None:
                self._chat_next.pop(chat_id, None)
            reached = -math.inf

    def _reserve(self, slot: float, chat_id: int | None, paced: bool) -> float | None:
        """Take `slot`; returns the chat's previous next-slot time (None: none)."""
        self._last = slot
        bisect.insort(self._counted, slot)
        # What counted more than a second before this slot limits no later slot.
        del self._counted[: bisect.bisect_left(self._counted, slot - 1.0 - SLACK)]
        if paced:
            self._last_paced = slot
        before = None
        if chat_id is not None:
            before = self._chat_next.get(chat_id)
            spacing = self.per_chat_interval + SLACK if self.per_chat_interval > 0 else 0.0
            self._chat_next[chat_id] = max(before or -math.inf, slot + spacing)
        self._reserved += 1
        if self._reserved % PRUNE_EVERY == 0:
            now = self._clock()
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
        return before
