"""/start <invite>: bind this Telegram account to a roster person."""

from __future__ import annotations

from telegram import Update

from handlers import render
from handlers.common import confirmed
from handlers.context import WorklogContext
from services import zh
from services.outbox import Confirm


async def cmd_start(update: Update, context: WorklogContext) -> None:
    """Redeem the invite token from the deep link, or greet an account already bound."""
    message, user = update.message, update.effective_user
    assert message is not None and user is not None
    token = context.args[0] if context.args else ""
    identity = context.services.identity
    if not token:
        actor = await identity.identify(user.id, "start")
        if actor is None:
            await message.reply_text(zh.NOT_REGISTERED)
        else:
            await message.reply_text(zh.ALREADY_BOUND.format(name=actor.name, unit=actor.unit_name))
        return
    confirm = Confirm(message.chat_id, render.bound)
    binding = await identity.bind(token[:64], user.id, confirm)
    await confirmed(message, confirm, binding)
