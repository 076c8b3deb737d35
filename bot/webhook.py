"""The webhook: Telegram posts each update here; it is stored in the inbox before the 200.

An update is acknowledged only after its commit, so a process that dies in between leaves
Telegram to deliver it again, and the inbox's dedup key keeps a second delivery from being
stored twice: exactly once, with several processes behind one address.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Bot

from bot.intake import ALLOWED_UPDATES, Intake, dedup_key, lane_key

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def webhook_handler(intake: Intake, secret: str) -> Handler:
    """The aiohttp handler of the webhook path."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.StreamResponse:
        sent = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(sent, expected):
            log.warning("webhook call from %s refused: wrong or missing secret", request.remote)
            return web.Response(status=401)
        if intake.stopping:
            # Telegram delivers it again, to a process that is not stopping.
            return web.Response(status=503, headers={"Retry-After": "1"})
        try:
            update: Any = await request.json()
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                raise ValueError("not an update")
            dedup_key(update), lane_key(update)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return web.Response(status=400)
        try:
            await intake.feed([update])
        except Exception as exc:  # the database is away: Telegram retries later
            log.warning("webhook update %s not stored yet: %r", update["update_id"], exc)
            return web.Response(status=503, headers={"Retry-After": "5"})
        return web.Response(status=200)

    return receive


async def set_webhook(bot: Bot, url: str, secret: str, max_connections: int) -> bool:
    """Register the webhook; updates waiting at Telegram are kept, not dropped."""
    return await bot.set_webhook(
        url=url,
        secret_token=secret,
        allowed_updates=ALLOWED_UPDATES,
        max_connections=max_connections,
        drop_pending_updates=False,
    )
