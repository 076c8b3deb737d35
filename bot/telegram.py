"""Telegram plumbing shared by the channels: 429 handling and delivery of outbox messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

from handlers.render import keyboard
from scheduler.outbox import RecipientBlocked, RetryLater, Undeliverable

log = logging.getLogger(__name__)

# Wait before sending an outbox message again after a network error, in seconds.
NETWORK_RETRY_SECONDS = 1.0


def retry_after_seconds(error: RetryAfter) -> float:
    """Telegram's flood wait in seconds (a timedelta, or an int without PTB_TIMEDELTA)."""
    delay = error.retry_after
    total = getattr(delay, "total_seconds", None)
    return float(total()) if callable(total) else float(delay)  # type: ignore[arg-type]


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
                seconds = retry_after_seconds(exc)
                log.info("429 on %s, retrying after %ss", endpoint, seconds)
                await asyncio.sleep(seconds)
        raise AssertionError("unreachable")


class TelegramTransport:
    """Sends outbox messages with the bot, translating Telegram's answers for the sender."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(
        self, chat_id: int, text: str, buttons: Sequence[Sequence[tuple[str, str]]] | None
    ) -> None:
        try:
            await self.bot.send_message(chat_id, text, reply_markup=keyboard(buttons))
        except RetryAfter as exc:
            raise RetryLater(retry_after_seconds(exc), str(exc)) from exc
        except Forbidden as exc:
            raise RecipientBlocked(str(exc)) from exc
        except BadRequest as exc:
            raise Undeliverable(str(exc)) from exc
        except TimedOut as exc:  # the message may have gone through
            raise RetryLater(NETWORK_RETRY_SECONDS, repr(exc), unsure=True) from exc
        except NetworkError as exc:
            raise RetryLater(NETWORK_RETRY_SECONDS, repr(exc)) from exc
