"""Health and metrics for operators: /healthz and /metrics on their own port ([ops])."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from bot.config import OpsConfig, redact
from services.ops import Backlog, OpsService

# A database that takes longer than this to count the backlog counts as away.
DATABASE_TIMEOUT = 3.0
BOT_API_TIMEOUT = 5.0
# A Bot API that answered is not asked again for this long (scrapers poll every few seconds).
BOT_API_CACHE_SECONDS = 30.0
# Processing one update: a cached reply in milliseconds, an XLSX export in tens of seconds.
PROCESSING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

T = TypeVar("T")


class Metrics:
    """The bot's Prometheus metrics, in a registry of their own (tests run several at once)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._received = Counter(
            "worklog_updates_received", "Telegram updates stored in the inbox", registry=r
        )
        self._processed = Counter(
            "worklog_updates_processed", "Updates processed to the end", registry=r
        )
        self._failed = Counter(
            "worklog_updates_failed", "Failed attempts at processing an update", registry=r
        )
        self._processing = Histogram(
            "worklog_update_processing_seconds",
            "Time spent processing one update",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self._sent = Counter(
            "worklog_messages_sent", "Messages delivered to Telegram", ["kind"], registry=r
        )
        self._flood_waits = Counter(
            "worklog_telegram_flood_waits", "429 answers (retry after) from Telegram", registry=r
        )
        self._inbox_backlog = Gauge(
            "worklog_inbox_backlog", "Updates waiting to be processed", registry=r
        )
        self._inbox_failed = Gauge("worklog_inbox_failed", "Updates given up on", registry=r)
        self._outbox_backlog = Gauge(
            "worklog_outbox_backlog", "Outbox messages waiting to be sent", registry=r
        )
        self._oldest_pending = Gauge(
            "worklog_inbox_oldest_pending_seconds",
            "Age of the oldest update waiting to be processed (0: none waits)",
            registry=r,
        )

    def received(self, count: int = 1) -> None:
        self._received.inc(count)

    def processed(self, seconds: float) -> None:
        self._processed.inc()
        self._processing.observe(seconds)

    def failed(self) -> None:
        self._failed.inc()

    def sent(self, kind: str) -> None:
        self._sent.labels(kind=kind).inc()

    def flood_wait(self) -> None:
        self._flood_waits.inc()

    def show(self, backlog: Backlog) -> None:
        """Set the backlog gauges (at scrape time)."""
        self._inbox_backlog.set(backlog.inbox_pending)
        self._inbox_failed.set(backlog.inbox_failed)
        self._outbox_backlog.set(backlog.outbox_pending)
        self._oldest_pending.set(backlog.oldest_pending_age or 0.0)


# Checks that ran out of time, left to finish their cleanup (a pooled connection's close).
_late: set[asyncio.Task[Any]] = set()


async def _within(seconds: float, check: Awaitable[T]) -> T:
    """Await a check for at most `seconds`, then answer at once: cancelling a database call
    may itself wait seconds for its connection to close."""
    task = asyncio.ensure_future(check)
    try:
        done, _ = await asyncio.wait([task], timeout=seconds)
    finally:  # out of time, or the request itself cancelled
        if not task.done():
            task.cancel()
            _late.add(task)
            task.add_done_callback(_forget)
    if not done:
        raise TimeoutError
    return task.result()


def _forget(task: asyncio.Task[Any]) -> None:
    _late.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a late failure is not worth a log line


def _error(exc: BaseException, token: str) -> dict[str, Any]:
    """A failed check as the class name and the first line of the message, token removed."""
    if isinstance(exc, TimeoutError):
        return {"ok": False, "error": "TimeoutError: no answer in time"}
    message = redact(str(exc), token).strip().splitlines()
    name = type(exc).__name__
    return {"ok": False, "error": f"{name}: {message[0][:200]}" if message else name}


class _BotApiCheck:
    """Ask the Bot API at most every BOT_API_CACHE_SECONDS while it answers."""

    def __init__(self, probe: Callable[[], Awaitable[object]]) -> None:
        self._probe = probe
        self._ok_until = 0.0

    async def __call__(self) -> None:
        if time.monotonic() < self._ok_until:
            return
        await _within(BOT_API_TIMEOUT, self._probe())
        self._ok_until = time.monotonic() + BOT_API_CACHE_SECONDS


async def _not_used() -> None:
    return None


def build_ops_app(
    ops: OpsService,
    metrics: Metrics,
    config: OpsConfig,
    *,
    probe_bot: Callable[[], Awaitable[object]] | None,
    token: str = "",
) -> web.Application:
    """GET /healthz (200 or 503 with what failed) and GET /metrics (Prometheus text)."""
    bot_check = None if probe_bot is None else _BotApiCheck(probe_bot)

    async def healthz(request: web.Request) -> web.Response:
        database, bot_api = await asyncio.gather(
            _within(DATABASE_TIMEOUT, ops.backlog()),
            bot_check() if bot_check is not None else _not_used(),
            return_exceptions=True,
        )
        body: dict[str, Any] = {}
        if isinstance(database, BaseException):
            healthy = False
            body["database"] = _error(database, token)
            body["inbox"] = body["outbox"] = None
        else:
            age = database.oldest_pending_age
            healthy = age is None or age < config.max_pending_age
            body["database"] = {"ok": True}
            body["inbox"] = {
                "ok": healthy,
                "pending": database.inbox_pending,
                "failed": database.inbox_failed,
                "oldest_pending_seconds": None if age is None else round(age, 1),
            }
            body["outbox"] = {"pending": database.outbox_pending}
        if bot_check is None:
            body["bot_api"] = "not used"
        elif isinstance(bot_api, BaseException):
            healthy = False
            body["bot_api"] = _error(bot_api, token)
        else:
            body["bot_api"] = {"ok": True}
        body = {"status": "ok" if healthy else "fail", **body}
        return web.json_response(body, status=200 if healthy else 503)

    async def scrape(request: web.Request) -> web.Response:
        # The database away: the gauges keep their last values and /healthz says why.
        with contextlib.suppress(Exception):
            metrics.show(await _within(DATABASE_TIMEOUT, ops.backlog()))
        # Prometheus text (generate_latest) or OpenMetrics, as the scraper's Accept asks.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(metrics.registry), headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", scrape)
    return app


async def start_ops(app: web.Application, config: OpsConfig) -> web.AppRunner:
    """Listen on [ops] host and port; the caller cleans the runner up."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    return runner
