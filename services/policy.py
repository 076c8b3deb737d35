"""Policy values the use cases apply: the organisation's logging rules (set in config)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class LoggingRules:
    """How cadres' log entries are dated, classified and limited."""

    timezone: str = "Asia/Shanghai"
    rollover_hour: int = 4
    work_day_start: time = time(8, 30)
    work_day_end: time = time(17, 30)
    backfill_window: int = 3
    max_item_chars: int = 500

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
