"""Cross-cutting handlers: who is writing (auth group), and turning errors into replies."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationHandlerStop

from bot import zh
from bot.context import WorklogContext
from bot.errors import DomainError
from bot.intake import forget_update, is_transient, report_transient
from bot.services.identity import find_actor, refuse_stranger

log = logging.getLogger(__name__)


def command_rest(message: Message) -> str:
    """The text after the command word, with its line breaks kept (unlike context.args)."""
    text = message.text or ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def identify(update: Update, context: WorklogContext) -> None:
    """Resolve the roster person behind the update; strangers are refused here, once."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or user.is_bot:
        forget_update()
        raise ApplicationHandlerStop
    if chat is not None and chat.type != ChatType.PRIVATE:
        # The log is personal: never record group chatter, say so only when addressed.
        forget_update()
        if update.message and (update.message.text or "").startswith("/"):
            await update.message.reply_text(zh.GROUP_CHAT)
        raise ApplicationHandlerStop
    message = update.message
    if message is not None and (message.text or "").startswith("/start"):
        return  # binding happens in the /start handler
    services = context.services
    now = services.clock.now()
    actor = services.actors.get(user.id, now)
    if actor is None:
        try:
            async with services.uow() as uow:
                actor = await find_actor(uow, user.id)
                if actor is None:
                    kind = "callback" if update.callback_query else "message"
                    await refuse_stranger(uow, user.id, kind, now)
        except Exception as exc:
            # PTB would go on to the next handler group: handle it here and stop instead.
            await handle_exception(update, exc)
            raise ApplicationHandlerStop from exc
        if actor is not None:
            services.actors.put(user.id, actor, now)
    if actor is None:
        forget_update()
        if update.callback_query:
            await update.callback_query.answer(zh.NOT_REGISTERED, show_alert=True)
        elif update.effective_message is not None and update.message is not None:
            await update.message.reply_text(zh.NOT_REGISTERED)
        raise ApplicationHandlerStop
    context.actor = actor


async def on_error(update: object, context: WorklogContext) -> None:
    """The application's error handler."""
    if context.error is not None:
        await handle_exception(update, context.error)


async def handle_exception(update: object, error: BaseException) -> None:
    """One place that turns exceptions into replies; infrastructure failures are retried."""
    if isinstance(error, DomainError):
        await _tell(update, error.reply)
        return
    if isinstance(error, Forbidden):
        log.info("user blocked the bot: %s", error)
        return
    if is_transient(error) and not isinstance(error, BadRequest):
        # The intake keeps the update and processes it again; the user hears once it is done.
        report_transient(error)
        log.warning("transient failure, update will be retried: %r", error)
        return
    log.error("unhandled error for update %s", _update_id(update), exc_info=error)
    await _tell(update, zh.INTERNAL_ERROR)


async def _tell(update: object, text: str) -> None:
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:190], show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text)
    except Exception as exc:  # the reply is best effort; the error is already logged
        log.warning("could not send error reply: %r", exc)


def _update_id(update: object) -> int | None:
    return update.update_id if isinstance(update, Update) else None
