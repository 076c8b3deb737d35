"""Composition root: build the services and the Application; run the bot. Nothing at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, MenuButtonWebApp, WebAppInfo
from telegram.error import InvalidToken
from telegram.ext import Application, ApplicationBuilder, ContextTypes

import handlers
from bot.config import Config, ConfigError, OutboxConfig
from bot.intake import Intake
from bot.ops import Metrics, build_ops_app, start_ops
from bot.sending import LeasedSender
from bot.telegram import RetryAfterLimiter, TelegramTransport
from bot.webhook import webhook_handler
from handlers.context import WorklogContext
from scheduler.calendar import WorkCalendar
from scheduler.jobs import DailyBackup, JobRunner, build_jobs
from scheduler.outbox import OutboxSender
from scheduler.throttle import Throttle
from scoring.summary import ThemeExtractor
from scoring.text import CollaboratorExtractor
from services import Services, zh
from services.audit import AuditService
from services.charts import ChartService
from services.clock import Clock, SystemClock
from services.entries import EntryService, LogPolicy
from services.forms import FormService
from services.grading import GradingService
from services.identity import IdentityService
from services.inbox import InboxService
from services.ops import OpsService
from services.outbox import OutboxService
from services.project_import import ProjectImportService
from services.project_reports import ProjectReportService
from services.projects import ProjectService
from services.quality import QualityService
from services.rating import RatingService
from services.reminders import ReminderService
from services.review import ReviewService
from services.roster import RosterService
from services.web_access import WebAccessService
from storage.backup import backup_to_dir
from storage.db import create_engine, session_factory
from storage.locks import SENDER_LOCK_KEY, SchedulerLease
from storage.migrate import upgrade
from storage.projects import split_aliases
from storage.single import AlreadyRunning, SingleProcessLock, sqlite_path
from storage.uow import UnitOfWork, UowFactory
from web.app import build_web_app, start_web

log = logging.getLogger(__name__)

NAMES_REFRESH_SECONDS = 600


@dataclass
class Wiring:
    """The services and what the composition root keeps beside them."""

    services: Services
    uow: UowFactory
    extractor: CollaboratorExtractor
    outbox_wake: asyncio.Event
    outbox: OutboxConfig = field(default_factory=OutboxConfig)

    async def load_names(self) -> None:
        """Teach the extractor the roster's unit and people names and the projects' names
        and aliases (a log entry naming a project is linked to it)."""
        async with self.uow() as uow:
            units, people = await uow.people.names()
            projects = await uow.projects.terms()
        self.extractor.add_names(units, people)
        self.extractor.add_project_terms(
            term for name, aliases in projects for term in (name, *split_aliases(aliases))
        )


def build_services(config: Config, engine: AsyncEngine, clock: Clock | None = None) -> Wiring:
    """Every use case, wired to one database, one clock and the configured rules."""
    clock = clock or SystemClock()
    sessions = session_factory(engine)
    lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
    outbox_wake = asyncio.Event()

    def uow() -> UnitOfWork:
        return UnitOfWork(sessions, lock, on_outbox=outbox_wake.set, now=clock.now)

    calendar = WorkCalendar(config.calendar.extra_holidays, config.calendar.extra_workdays)
    extractor = CollaboratorExtractor((), ())
    policy = LogPolicy(config.logging, calendar, extractor)
    review = ReviewService(uow, clock, policy, config.review)
    entries = EntryService(uow, clock, policy)
    services = Services(
        clock=clock,
        rules=config.logging,
        entries=entries,
        identity=IdentityService(uow, clock, config.logging.tz),
        roster=RosterService(uow, clock, config.logging.tz),
        inbox=InboxService(uow, clock),
        outbox=OutboxService(uow, clock),
        review=review,
        rating=RatingService(uow, clock, policy, config.scoring, review),
        grading=GradingService(uow, clock, policy, config.scoring),
        audit=AuditService(uow, clock, config.logging.tz),
        reminders=ReminderService(uow, clock, policy, config.scheduler),
        forms=FormService(uow, clock, policy, ThemeExtractor()),
        charts=ChartService(uow, clock, policy),
        quality=QualityService(uow, clock, policy, config.quality),
        projects=ProjectService(uow, clock, policy, entries, config.projects.rules),
        project_reports=ProjectReportService(uow, clock, policy, config.projects.rules),
        project_import=ProjectImportService(uow, clock, config.logging.tz),
        web_access=WebAccessService(uow, clock, config.web),
    )
    return Wiring(services, uow, extractor, outbox_wake, outbox=config.outbox)


def build_app(config: Config, services: Services) -> Application:
    """The PTB Application without an Updater: the durable intake feeds it instead."""
    tg = config.telegram
    if not tg.token:
        raise ConfigError(
            "telegram.token is not set: put it in config.toml [telegram] token "
            "or the WORKLOG_TELEGRAM_TOKEN environment variable"
        )
    app = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .updater(None)
        .rate_limiter(RetryAfterLimiter())
        .connect_timeout(tg.connect_timeout)
        .read_timeout(tg.read_timeout)
        .write_timeout(tg.read_timeout)
        .context_types(ContextTypes(context=WorklogContext))
        .build()
    )
    app.bot_data["services"] = services
    handlers.register(app)
    return app


def build_sender(
    wiring: Wiring,
    app: Application,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    metrics: Metrics | None = None,
) -> OutboxSender:
    """The outbox sender, sharing the bot's sending budget with the handlers' direct sends."""
    limits = wiring.outbox
    throttle = Throttle(limits.budget, limits.rate, limits.per_chat_interval, sleep=sleep)
    limiter = app.bot.rate_limiter
    if isinstance(limiter, RetryAfterLimiter):
        limiter.throttle = throttle
    return OutboxSender(
        wiring.services.outbox,
        TelegramTransport(app.bot),
        throttle=throttle,
        batch_size=limits.batch_size,
        concurrency=limits.concurrency,
        wake=wiring.outbox_wake,
        sleep=sleep,
        on_sent=None if metrics is None else metrics.sent,
        on_flood=None if metrics is None else metrics.flood_wait,
    )


def build_jobs_runner(
    wiring: Wiring,
    config: Config,
    engine: AsyncEngine,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> JobRunner:
    """The scheduled jobs, run by whichever process holds the scheduler lease."""
    rules = config.backup
    copy = partial(backup_to_dir, config.database.url)
    backup = DailyBackup(rules.at, Path(rules.dir), rules.keep, copy) if rules.enabled else None
    jobs = build_jobs(
        wiring.services.reminders,
        config.scheduler,
        config.logging.tz,
        quality=wiring.services.quality,
        projects=wiring.services.projects,
        projects_at=config.projects.remind_at,
        backup=backup,
    )
    grace = timedelta(minutes=config.scheduler.grace_minutes)
    lease = SchedulerLease(engine)
    return JobRunner(jobs, wiring.services.clock, grace, lease=lease, sleep=sleep)


async def _refresh_names(wiring: Wiring) -> None:
    """Pick up units and people added by a roster import while the bot runs."""
    while True:
        await asyncio.sleep(NAMES_REFRESH_SECONDS)
        try:
            await wiring.load_names()
        except Exception:  # the next round tries again
            log.exception("could not refresh the roster names")


async def serve(
    config: Config,
    *,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    migrate: bool = True,
) -> None:
    """Run until `stop` is set (or SIGINT/SIGTERM): migrate, then the bot (replay, poll or
    webhook, process, send), the web page, health and metrics, and the scheduled jobs.
    Without a Telegram token, local mode: the web page and the jobs alone."""
    local = not config.telegram.token
    if local and not config.web.enabled:
        raise ConfigError(
            "telegram.token is not set and [web] enabled = false: nothing to run. Put the "
            "token in config.toml [telegram] token or WORKLOG_TELEGRAM_TOKEN, or enable [web]"
        )
    single = _only_process(config)
    engine = create_engine(config.database.url, config.database.echo)
    try:
        wiring = build_services(config, engine, clock)
        app = None if local else build_app(config, wiring.services)
        if migrate:
            await upgrade(engine)
        await wiring.load_names()
        await asyncio.to_thread(wiring.extractor.warm_up)
        await asyncio.to_thread(wiring.services.forms.warm_up)
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, stop.set)
        if app is None:
            log.warning("%s", zh.WEB_LOCAL_MODE)
            await _serve_parts(config, wiring, engine, None, stop)
            return
        try:
            await app.initialize()
        except InvalidToken as exc:
            raise ConfigError("Telegram refused telegram.token (Unauthorized)") from exc
        async with app:
            await app.start()
            try:
                await _announce(app, wiring.services, config)
                await _serve_parts(config, wiring, engine, app, stop)
            finally:
                await app.stop()
    finally:
        await engine.dispose()
        if single is not None:
            single.release()


def _only_process(config: Config) -> SingleProcessLock | None:
    """On SQLite, hold the database's run lock: a second process must not share it."""
    path = sqlite_path(config.database.url)
    if path is None:
        return None
    single = SingleProcessLock(path)
    try:
        single.acquire()
    except AlreadyRunning as exc:
        raise ConfigError(
            f"another worklog process is running on {path}: SQLite serves one process. "
            "Stop the other one, or move to PostgreSQL (database.url) to run several"
        ) from exc
    return single


async def _announce(app: Application, services: Services, config: Config) -> None:
    """The chat's command menu and, when the web page is served over HTTPS (Telegram asks
    for it), the menu button that opens it as a Mini App; a word in the log when the
    webhook registered at Telegram does not fit the mode."""
    await app.bot.set_my_commands([BotCommand(name, text) for name, text in zh.COMMANDS])
    url = services.web_access.mini_app_url()
    if url is not None:
        await app.bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp(zh.WEB_MENU_BUTTON, WebAppInfo(url))
        )
    tg = config.telegram
    registered = (await app.bot.get_webhook_info()).url
    if tg.mode == "polling" and registered:
        log.error(
            "a webhook is registered at Telegram (%s), so polling gets nothing: run "
            '`worklog webhook delete`, or set telegram.mode = "webhook"',
            registered,
        )
    expected = tg.webhook_address(config.web.base_url())
    if tg.mode == "webhook" and registered != expected:
        log.warning(
            "Telegram posts updates to %r, not to %s: run `worklog webhook set`",
            registered,
            expected,
        )


async def _serve_parts(
    config: Config,
    wiring: Wiring,
    engine: AsyncEngine,
    app: Application | None,
    stop: asyncio.Event,
) -> None:
    """The loops of one process until `stop`: the intake (polling or webhook) and the
    leased outbox sender (with a bot), the scheduled jobs, the web page, health and
    metrics, the names refresh. SIGTERM: stop taking updates, finish those in hand and the
    sends under way, within `service.stop_grace` seconds."""
    metrics = Metrics()
    intake = sending = runner = site = ops_site = None
    loops: list[asyncio.Task[None]] = []
    webhook = None
    if app is not None:
        limiter = app.bot.rate_limiter
        if isinstance(limiter, RetryAfterLimiter):
            limiter.on_flood = metrics.flood_wait
        intake = Intake(
            app,
            wiring.services.inbox,
            poll_timeout=config.telegram.poll_timeout,
            claim_timeout=config.service.claim_timeout,
            metrics=metrics,
        )
        polling = config.telegram.mode == "polling"
        intake.start(polling=polling)
        if not polling:
            webhook = (
                config.telegram.webhook_path,
                webhook_handler(intake, config.telegram.webhook_secret),
            )
        sending = LeasedSender(
            SchedulerLease(engine, SENDER_LOCK_KEY),
            partial(build_sender, wiring, app, metrics=metrics),
            wiring.outbox_wake.set,
        )
        loops.append(asyncio.create_task(sending.run(), name="outbox-sender"))
    # Unless another process runs them (scheduler.run_jobs = false), the scheduled jobs.
    if config.scheduler.run_jobs:
        runner = build_jobs_runner(wiring, config, engine)
        loops.append(asyncio.create_task(runner.run(), name="scheduler"))
    else:
        log.info("scheduler.run_jobs is false: this process runs no scheduled jobs")
    try:
        if config.web.enabled:
            token = config.telegram.token
            web_app = build_web_app(wiring.services, config.web, token, webhook)
            site = await start_web(web_app, config.web)
            where = (config.web.host, config.web.port, config.web.base_url())
            log.info("web page listening on %s:%s, opened as %s", *where)
            if webhook is not None:
                log.info("webhook mode: Telegram posts updates to %s", webhook[0])
        if config.ops.enabled:
            ops = OpsService(wiring.uow, wiring.services.clock)
            probe = None if app is None else app.bot.get_me
            ops_app = build_ops_app(
                ops, metrics, config.ops, probe_bot=probe, token=config.telegram.token
            )
            ops_site = await start_ops(ops_app, config.ops)
            log.info("/healthz and /metrics on %s", ops_site.addresses)
    except BaseException:
        await _stop_parts(config, intake, sending, runner, loops, [site, ops_site])
        raise
    refresh = asyncio.create_task(_refresh_names(wiring), name="names-refresh")
    loops.append(refresh)
    if app is not None:
        log.info("worklog bot @%s is running", app.bot.username)
    stopper = asyncio.create_task(stop.wait())
    watched = [*(intake.tasks if intake else ()), *loops]
    await asyncio.wait([stopper, *watched], return_when=asyncio.FIRST_COMPLETED)
    # The loops end only when told to, or on a refused token; anything else is a bug.
    ended = [t for t in watched if t.done() and not stopper.done()]
    stopper.cancel()
    await _stop_parts(config, intake, sending, runner, loops, [site, ops_site])
    if intake is not None and intake.fatal is not None:
        raise ConfigError("Telegram refused telegram.token (InvalidToken)")
    if ended:
        names = ", ".join(t.get_name() for t in ended)
        raise RuntimeError(f"background task(s) ended unexpectedly: {names}")


async def _stop_parts(
    config: Config,
    intake: Intake | None,
    sending: LeasedSender | None,
    runner: JobRunner | None,
    loops: list[asyncio.Task[None]],
    sites: list[web.AppRunner | None],
) -> None:
    """Stop taking updates (the webhook answers 503 and Telegram delivers elsewhere), finish
    the updates in hand, then the sends under way, within the grace; then the rest."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + config.service.stop_grace
    if sending is not None:
        sending.stop()  # starts nothing new; what is queued waits for the next sender
    if runner is not None:
        runner.stop()
    if intake is not None:
        await intake.stop(grace=config.service.stop_grace)
    sender_task = [t for t in loops if t.get_name() == "outbox-sender"]
    if sender_task:
        # Cancelled mid-send, a message Telegram accepted would be sent again after a restart.
        await asyncio.wait(sender_task, timeout=max(0.5, deadline - loop.time()))
    for task in loops:
        task.cancel()
    await asyncio.gather(*loops, return_exceptions=True)
    for site in sites:
        if site is not None:
            await site.cleanup()
