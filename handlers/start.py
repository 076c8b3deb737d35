"""/start <invite>: bind this Telegram account to a roster person."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot import zh
from bot.context import WorklogContext
from bot.errors import InviteInvalid
from bot.intake import forget_update
from bot.services.identity import bind_account, find_actor, refuse_stranger

log = logging.getLogger(__name__)


async def cmd_start(update: Update, context: WorklogContext) -> None:
    """Redeem the invite token from the deep link, or greet an account already bound."""
    message, user = update.message, update.effective_user
    assert message is not None and user is not None
    token = context.args[0] if context.args else ""
    services = context.services
    now = services.clock.now()
    if not token:
        async with services.uow() as uow:
            actor = await find_actor(uow, user.id)
            if actor is None:
                await refuse_stranger(uow, user.id, "start", now)
        if actor is None:
            forget_update()
            await message.reply_text(zh.NOT_REGISTERED)
        else:
            await message.reply_text(zh.ALREADY_BOUND.format(name=actor.name, unit=actor.unit_name))
        return
    async with services.uow() as uow:
        try:
            binding = await bind_account(uow, token[:64], user.id, now, services.config.logging.tz)
        except InviteInvalid:
            forget_update()  # a failed binding keeps only the audit line
            raise
    services.actors.forget(user.id, binding.revoked_telegram_id)
    actor = binding.actor
    template = zh.ALREADY_BOUND if binding.already_bound else zh.BOUND
    await message.reply_text(template.format(name=actor.name, unit=actor.unit_name))
    if binding.revoked_telegram_id is not None:
        try:
            await context.bot.send_message(binding.revoked_telegram_id, zh.REBOUND_OLD_ACCOUNT)
        except TelegramError as exc:  # the old account may have blocked the bot
            log.info("could not notify the revoked account: %r", exc)
