"""Cross-cutting handlers: who is writing (auth group), and turning errors into replies."""

from __future__ import annotations

import logging
from typing import TypeVar

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationHandlerStop

from handlers.context import WorklogContext
from handlers.outcome import is_transient, report_transient
from handlers.render import keyboard
from services import zh
from services.errors import ClaimLost, DomainError
from services.outbox import Buttons, Confirm

Result = TypeVar("Result")

log = logging.getLogger(__name__)


async def reply(message: Message, text: str, buttons: Buttons | None = None) -> None:
    await message.reply_text(text, reply_markup=keyboard(buttons))


async def confirmed(message: Message, confirm: Confirm[Result], result: Result) -> None:
    """Answer with the confirmation, unless the use case queued it in the outbox with its change."""
    if not confirm.queued:
        await reply(message, *confirm.render(result))


async def answer_button(query: CallbackQuery, text: str) -> None:
    """Answer a button press; a press answered before (a replay after a restart) is fine."""
    try:
        await query.answer(text or None)
    except BadRequest as exc:
        if "query is too old" not in str(exc).lower():
            raise


async def redraw(query: CallbackQuery, text: str, buttons: Buttons | None) -> None:
    """Show a button's result in its message; a repeated tap leaves the message as it was."""
    if query.message is None:
        return
    try:
        await query.edit_message_text(text, reply_markup=keyboard(buttons))
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


def command_rest(message: Message) -> str:
    """The text after the command word, with its line breaks kept (unlike context.args)."""
    text = message.text or ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def identify(update: Update, context: WorklogContext) -> None:
    """Resolve the roster person behind the update; strangers are refused here, once."""
    user = update.effective_user
    chat = update.effective_chat
    identity = context.services.identity
    try:
        if user is None or user.is_bot:
            await identity.ignore_update()
            raise ApplicationHandlerStop
        if chat is not None and chat.type != ChatType.PRIVATE:
            # The log is personal: never record group chatter; say so once per group.
            await identity.ignore_group(chat.id)
            raise ApplicationHandlerStop
        message = update.message
        if message is not None and (message.text or "").startswith("/start"):
            return  # binding happens in the /start handler
        kind = "callback" if update.callback_query else "message"
        actor = await identity.identify(user.id, kind)
    except ApplicationHandlerStop:
        raise
    except Exception as exc:
        # PTB would go on to the next handler group: handle it here and stop instead.
        await handle_exception(update, exc)
        raise ApplicationHandlerStop from exc
    if actor is None:
        if update.callback_query:
            await update.callback_query.answer(zh.NOT_REGISTERED, show_alert=True)
        elif update.message is not None:
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
    if isinstance(error, ClaimLost):
        # Another process has the update now and answers it; this one says nothing.
        report_transient(error)
        log.warning("update %s was taken over by another process", _update_id(update))
        return
    if is_transient(error):
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
