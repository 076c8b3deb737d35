"""The web page from the chat: /weblogin (a personal login link) and /app (the Mini App)."""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
    WebAppInfo,
)

from handlers.context import WorklogContext
from services import zh


async def cmd_weblogin(update: Update, context: WorklogContext) -> None:
    """/weblogin: a single-use, short-lived link that signs this person in in any browser."""
    assert update.message is not None
    access = context.services.web_access
    if not access.settings.enabled:
        await update.message.reply_text(zh.WEB_DISABLED)
        return
    link = await access.issue_link(person_id=context.require_actor().person_id, by="bot")
    text = zh.WEB_LINK_ISSUED.format(minutes=access.settings.login_ttl_minutes, url=link.url)
    # No preview: the link is personal (opening it alone does not use it up, but still).
    await update.message.reply_text(text, link_preview_options=LinkPreviewOptions(is_disabled=True))


async def cmd_app(update: Update, context: WorklogContext) -> None:
    """/app: a button opening the web page inside Telegram (a Mini App needs HTTPS)."""
    assert update.message is not None
    access = context.services.web_access
    if not access.settings.enabled:
        await update.message.reply_text(zh.WEB_DISABLED)
        return
    url = access.mini_app_url()
    if url is None:
        await update.message.reply_text(zh.WEB_APP_NO_HTTPS)
        return
    button = InlineKeyboardButton(zh.WEB_APP_BUTTON, web_app=WebAppInfo(url))
    await update.message.reply_text(zh.WEB_APP_OPEN, reply_markup=InlineKeyboardMarkup([[button]]))
