"""Composition root: build the services and the Application; run the bot. Nothing at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, MenuButtonWebApp, WebAppInfo
from telegram.error import InvalidToken
from telegram.ext import Application, ApplicationBuilder, ContextTypes

import handlers
from bot.config import Config, ConfigError, OutboxConfig
from bot.intake import Intake
from bot.telegram import RetryAfterLimiter, TelegramTransport
from handlers.context import WorklogContext
from scheduler.calendar import WorkCalendar
from scheduler.jobs import JobRunner, build_jobs
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
from storage.db import create_engine, session_factory
from storage.locks import SchedulerLease
from storage.migrate import upgrade
from storage.projects import split_aliases
from storage.uow import UnitOfWork, UowFactory
from web.app import build_web_app, start_web

log = logging.getLogger(__name__)

NAMES_REFRESH_SECONDS = 600
# How long a stopping process waits for the outbox sender to finish the sends under way.
SENDER_GRACE_SECONDS = 10


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
    wiring: Wiring, app: Application, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
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
    )


def build_jobs_runner(
    wiring: Wiring,
    config: Config,
    engine: AsyncEngine,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> JobRunner:
    """The scheduled jobs, run by whichever process holds the scheduler lease."""
    jobs = build_jobs(
        wiring.services.reminders,
        config.scheduler,
        config.logging.tz,
        quality=wiring.services.quality,
        projects=wiring.services.projects,
        projects_at=config.projects.remind_at,
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
    """Run until `stop` is set (or SIGINT/SIGTERM): migrate, then the bot (replay, poll,
    process, send), the web page and the scheduled jobs. Without a Telegram token, local mode:
    the web page and the jobs alone."""
    local = not config.telegram.token
    if local and not config.web.enabled:
        raise ConfigError(
            "telegram.token is not set and [web] enabled = false: nothing to run. Put the "
            "token in config.toml [telegram] token or WORKLOG_TELEGRAM_TOKEN, or enable [web]"
        )
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
                await _announce(app, wiring.services)
                await _serve_parts(config, wiring, engine, app, stop)
            finally:
                await app.stop()
    finally:
        await engine.dispose()


async def _announce(app: Application, services: Services) -> None:
    """The chat's command menu and, when the web page is served over HTTPS (Telegram asks
    for it), the menu button that opens it as a Mini App."""
    await app.bot.set_my_commands([BotCommand(name, text) for name, text in zh.COMMANDS])
    url = services.web_access.mini_app_url()
    if url is not None:
        await app.bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp(zh.WEB_MENU_BUTTON, WebAppInfo(url))
        )


async def _serve_parts(
    config: Config,
    wiring: Wiring,
    engine: AsyncEngine,
    app: Application | None,
    stop: asyncio.Event,
) -> None:
    """The loops of one process until `stop`: the intake and the sender (with a bot), the
    scheduled jobs, the web page, the names refresh."""
    intake = sender = runner = site = None
    loops: list[asyncio.Task[None]] = []
    if app is not None:
        intake = Intake(app, wiring.services.inbox, poll_timeout=config.telegram.poll_timeout)
        intake.start()
        sender = build_sender(wiring, app)
        sending = asyncio.create_task(sender.run(), name="outbox-sender")
        loops.append(sending)
    # Unless another process runs them (scheduler.run_jobs = false), the scheduled jobs.
    if config.scheduler.run_jobs:
        runner = build_jobs_runner(wiring, config, engine)
        loops.append(asyncio.create_task(runner.run(), name="scheduler"))
    else:
        log.info("scheduler.run_jobs is false: this process runs no scheduled jobs")
    if config.web.enabled:
        token = config.telegram.token
        site = await start_web(build_web_app(wiring.services, config.web, token), config.web)
        where = (config.web.host, config.web.port, config.web.base_url())
        log.info("web page listening on %s:%s, opened as %s", *where)
    refresh = asyncio.create_task(_refresh_names(wiring), name="names-refresh")
    background = [*loops, refresh]
    if app is not None:
        log.info("worklog bot @%s is running", app.bot.username)
    stopper = asyncio.create_task(stop.wait())
    watched = [*(intake.tasks if intake else ()), *loops]
    await asyncio.wait([stopper, *watched], return_when=asyncio.FIRST_COMPLETED)
    # The loops end only when told to, or on a refused token; anything else is a bug.
    ended = [t for t in watched if t.done() and not stopper.done()]
    stopper.cancel()
    if sender is not None:
        sender.stop()
    if runner is not None:
        runner.stop()
    if intake is not None:
        await intake.stop()
    if sender is not None:
        # Let the sender record the outcome of the sends under way (stop() starts none):
        # cancelled mid-send, a message Telegram accepted would be sent again after a restart.
        await asyncio.wait([sending], timeout=SENDER_GRACE_SECONDS)
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    if site is not None:
        await site.cleanup()
    if intake is not None and intake.fatal is not None:
        raise ConfigError("Telegram refused telegram.token (InvalidToken)")
    if ended:
        names = ", ".join(t.get_name() for t in ended)
        raise RuntimeError(f"background task(s) ended unexpectedly: {names}")
