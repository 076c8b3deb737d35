"""The nightly quality check (质量提示): flags repeated, copied, trivial and overlong entries.

Flags are stored on the entry (`log_entries.quality`, see scoring.quality) and never change
or hide it. Each day is its own unit of work: read the day's unchecked entries and what they
are compared with in three set-based queries, flag them in a worker thread (jieba takes
seconds for a city's day and must not stall the bot), write the flags in one executemany.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta

from scoring.quality import Entry, Thresholds, encode, flag_entries
from services.clock import Clock
from services.entries import LogPolicy
from services.policy import QualityRules
from storage.uow import UowFactory

log = logging.getLogger(__name__)


class QualityService:
    """Flags entries nobody has checked yet; the flags are read by /review and the export."""

    def __init__(
        self, uow: UowFactory, clock: Clock, policy: LogPolicy, rules: QualityRules
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy
        self.rules = rules
        self.thresholds = Thresholds(rules.similarity, rules.short_chars, rules.long_chars)

    def today(self) -> date:
        return self.policy.work_date(self.clock.now())

    def nightly_range(self) -> tuple[date, date]:
        """Yesterday, and back over the backfill window (补记 land there, edits too)."""
        end = self.today() - timedelta(days=1)
        start, working = end, 0
        # The window counts working days: step back over weekends and holidays to cover it.
        while working < self.policy.rules.backfill_window:
            start -= timedelta(days=1)
            working += self.policy.calendar.is_working_day(start)
        return start, end

    async def check(self, start: date, end: date) -> int:
        """Flag every live entry of [start, end] not checked yet; returns how many."""
        checked = 0
        day = start
        while day <= end:
            checked += await self._check_day(day)
            day += timedelta(days=1)
        return checked

    async def _check_day(self, day: date) -> int:
        async with self.uow() as uow:
            unchecked = await uow.entries.unchecked(day)
            if not unchecked:
                return 0
            since = day - timedelta(days=self.rules.repeat_window_days)
            earlier = await uow.entries.earlier_texts(day, since)
            since = day - timedelta(days=self.rules.copy_window_days)
            peers = [Entry(*row) for row in await uow.entries.unit_entries(day, since)]
            new = [Entry(i, person, unit, text) for i, person, unit, text, _ in unchecked]
            flags = await asyncio.to_thread(flag_entries, new, earlier, peers, self.thresholds)
            await uow.entries.set_quality(
                [(i, encode(flags[i]), seen) for i, _, _, _, seen in unchecked]
            )
            await uow.commit()
        log.info("quality check of %s: %d entries", day, len(unchecked))
        return len(unchecked)
