"""Telegram plumbing shared by the channels: the bot's sending budget, 429 handling and
delivery of outbox messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from telegram import InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter, ExtBot

from handlers.render import keyboard
from scheduler.outbox import RecipientBlocked, RetryLater, Undeliverable
from scheduler.throttle import Throttle

log = logging.getLogger(__name__)
# Telegram refuses captions longer than this.
CAPTION_LIMIT = 1024
# An outbox file with this ending goes as a photo (shown in the chat) rather than a file.
PHOTO_SUFFIX = ".png"

# Wait before sending an outbox message again after a network error, in seconds.
NETWORK_RETRY_SECONDS = 1.0
# rate_limit_args of the outbox sender's sends: their slot is taken, a 429 is the sender's.
OUTBOX_SEND = {"outbox": True}
# Methods that post a message to a chat (Telegram's message limits), besides "send*".
POSTING = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})


def retry_after_seconds(error: RetryAfter) -> float:
    """Telegram's flood wait in seconds (a timedelta, or an int without PTB_TIMEDELTA)."""
    delay = error.retry_after
    total = getattr(delay, "total_seconds", None)
    return float(total()) if callable(total) else float(delay)  # type: ignore[arg-type]


def posts_a_message(endpoint: str) -> bool:
    """Whether a Bot API method sends or edits a message (and counts against the budget)."""
    if endpoint == "sendChatAction":
        return False
    return endpoint.startswith(("send", "edit")) or endpoint in POSTING


class RetryAfterLimiter(BaseRateLimiter[dict[str, Any]]):
    """Keeps the bot's direct sends within its budget and waits out Telegram's 429 answers.

    With a `throttle` (the outbox sender's, see `bot.app.build_sender`) every message the
    handlers send or edit takes a slot of the bot's one budget, and a 429 pauses the whole
    bot. The outbox sender's own sends (rate_limit_args `OUTBOX_SEND`) have their slot
    already: they go once, and a 429 is raised for the sender to handle. Other requests go as
    they come; a 429 is waited out and the request sent again, a few times at most.
    """

    def __init__(self, max_retries: int = 3, throttle: Throttle | None = None) -> None:
        self.max_retries = max_retries
        self.throttle = throttle
        # Counts each 429 of a request that is not the outbox's (the metrics).
        self.on_flood: Callable[[], None] | None = None

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
        rate_limit_args: dict[str, Any] | None,
    ) -> Any:
        if rate_limit_args and rate_limit_args.get("outbox"):
            return await callback(*args, **kwargs)
        # The throttle of a request that posts a message (None: it goes as it comes).
        throttle = self.throttle if posts_a_message(endpoint) else None
        chat_id = data.get("chat_id")
        chat = chat_id if isinstance(chat_id, int) else None
        for attempt in range(self.max_retries + 1):
            slot = await throttle.direct(chat) if throttle is not None else 0.0
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if self.on_flood is not None:
                    self.on_flood()
                if attempt == self.max_retries or endpoint == "getUpdates":
                    raise
                seconds = retry_after_seconds(exc)
                log.warning("429 on %s: no sends for %ss", endpoint, seconds)
                if self.throttle is not None:
                    self.throttle.flood(seconds)
                if throttle is None:  # a throttled request waits in the throttle
                    await asyncio.sleep(seconds)
            finally:
                if throttle is not None:
                    throttle.answered(chat, slot)
        raise AssertionError("unreachable")


class TelegramTransport:
    """Sends outbox messages with the bot, translating Telegram's answers for the sender."""

    def __init__(self, bot: ExtBot[Any]) -> None:
        self.bot = bot
        # rate_limit_args is refused by a bot without a rate limiter.
        self._limit_args = OUTBOX_SEND if bot.rate_limiter is not None else None

    async def send(
        self,
        chat_id: int,
        text: str,
        buttons: Sequence[Sequence[tuple[str, str]]] | None,
        *,
        document: tuple[str, bytes] | None = None,
    ) -> None:
        try:
            if document is not None and document[0].lower().endswith(PHOTO_SUFFIX):
                name, data = document  # a chart (/chart): sendPhoto
                await self.bot.send_photo(
                    chat_id,
                    InputFile(data, filename=name),
                    caption=text[:CAPTION_LIMIT],
                    reply_markup=keyboard(buttons),
                    rate_limit_args=self._limit_args,
                )
            elif document is not None:
                name, data = document
                await self.bot.send_document(
                    chat_id,
                    InputFile(data, filename=name),
                    caption=text[:CAPTION_LIMIT],
                    reply_markup=keyboard(buttons),
                    rate_limit_args=self._limit_args,
                )
            else:
                await self.bot.send_message(
                    chat_id, text, reply_markup=keyboard(buttons), rate_limit_args=self._limit_args
                )
        except RetryAfter as exc:
            raise RetryLater(retry_after_seconds(exc), str(exc), flood=True) from exc
        except Forbidden as exc:
            raise RecipientBlocked(str(exc)) from exc
        except BadRequest as exc:
            raise Undeliverable(str(exc)) from exc
        except TimedOut as exc:  # the message may have gone through
            raise RetryLater(NETWORK_RETRY_SECONDS, repr(exc), unsure=True) from exc
        except NetworkError as exc:
            raise RetryLater(NETWORK_RETRY_SECONDS, repr(exc)) from exc
