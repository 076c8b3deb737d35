"""Back-off and logging for a dependency (the database, the Bot API) that went away."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Outage:
    """Logs a failing dependency once when it goes away and once when it is back.

    `delay()` gives a capped exponential back-off for the next attempt.
    """

    def __init__(self, what: str, first: float = 0.5, cap: float = 30.0) -> None:
        self.what = what
        self.first = first
        self.cap = cap
        self.attempts = 0
        self.since: float | None = None

    def failed(self, error: BaseException) -> None:
        self.attempts += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning("%s is failing, retrying with back-off: %r", self.what, error)

    def delay(self) -> float:
        # The exponent is capped too: a long outage counts thousands of attempts.
        return min(self.cap, self.first * 2 ** min(max(0, self.attempts - 1), 16))

    def recovered(self) -> None:
        if self.since is not None:
            log.warning(
                "%s works again after %.0fs and %d failed attempts",
                self.what,
                time.monotonic() - self.since,
                self.attempts,
            )
        self.since = None
        self.attempts = 0
