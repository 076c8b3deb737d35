"""Composition root: build the Application and its services; run the bot. Nothing at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand
from telegram.error import RetryAfter
from telegram.ext import Application, ApplicationBuilder, BaseRateLimiter, ContextTypes

import handlers
from bot import zh
from bot.clock import Clock, SystemClock
from bot.config import Config, ConfigError
from bot.context import WorklogContext
from bot.intake import Intake
from bot.services.entries import LogPolicy
from bot.services.identity import ActorCache
from scheduler.calendar import WorkCalendar
from scoring.text import CollaboratorExtractor
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What handlers need besides the update: config, clock, database and the rules."""

    config: Config
    clock: Clock
    uow: Callable[[], UnitOfWork]
    policy: LogPolicy
    extractor: CollaboratorExtractor
    actors: ActorCache = field(default_factory=ActorCache)

    async def load_names(self) -> None:
        """Teach the collaborator extractor the roster's unit and people names."""
        async with self.uow() as uow:
            units, people = await uow.people.names()
        self.extractor.add_names(units, people)


class RetryAfterLimiter(BaseRateLimiter[None]):
    """Waits out Telegram's 429 answers (retry_after) and sends again, a few times at most."""

    def __init__(self, max_retries: int = 3) -> None:
        self.max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Any:
        for attempt in range(self.max_retries + 1):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.max_retries or endpoint == "getUpdates":
                    raise
                delay = exc.retry_after
                seconds = delay.total_seconds() if hasattr(delay, "total_seconds") else delay
                log.info("429 on %s, retrying after %ss", endpoint, seconds)
                await asyncio.sleep(float(seconds))
        raise AssertionError("unreachable")


def build_services(config: Config, engine: AsyncEngine, clock: Clock | None = None) -> Services:
    sessions = session_factory(engine)
    lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
    calendar = WorkCalendar(config.calendar.extra_holidays, config.calendar.extra_workdays)
    extractor = CollaboratorExtractor((), ())
    return Services(
        config=config,
        clock=clock or SystemClock(),
        uow=lambda: UnitOfWork(sessions, lock),
        policy=LogPolicy(config.logging, calendar, extractor),
        extractor=extractor,
    )


def build_app(config: Config, services: Services) -> Application:
    """The PTB Application without an Updater: the durable intake feeds it instead."""
    if not config.telegram.token:
        raise ConfigError(
            "telegram.token is not set: put it in config.toml or WORKLOG_TELEGRAM_TOKEN"
        )
    tg = config.telegram
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


NAMES_REFRESH_SECONDS = 600


async def _refresh_names(services: Services) -> None:
    """Pick up units and people added by a roster import while the bot runs."""
    while True:
        await asyncio.sleep(NAMES_REFRESH_SECONDS)
        try:
            await services.load_names()
        except Exception:  # the next round tries again
            log.exception("could not refresh the roster names")


async def set_menu(app: Application) -> None:
    await app.bot.set_my_commands([BotCommand(name, text) for name, text in zh.COMMANDS])


async def serve(
    config: Config,
    *,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    migrate: bool = True,
) -> None:
    """Run the bot until `stop` is set (or SIGINT/SIGTERM): migrate, replay, poll, process."""
    engine = create_engine(config.database.url, config.database.echo)
    try:
        if migrate:
            await upgrade(engine)
        services = build_services(config, engine, clock)
        app = build_app(config, services)
        await services.load_names()
        await asyncio.to_thread(services.extractor.warm_up)
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, stop.set)
        async with app:
            await app.start()
            await set_menu(app)
            intake = Intake(app, services.uow, poll_timeout=config.telegram.poll_timeout)
            intake.start()
            log.info("worklog bot @%s is running", app.bot.username)
            stopper = asyncio.create_task(stop.wait())
            refresher = asyncio.create_task(_refresh_names(services))
            await asyncio.wait([stopper, *intake.tasks], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            refresher.cancel()
            await intake.stop()
            await app.stop()
            if intake.fatal is not None:
                raise ConfigError("Telegram refused telegram.token (InvalidToken)")
    finally:
        await engine.dispose()
