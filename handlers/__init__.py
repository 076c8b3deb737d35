"""Thin Telegram handlers, all registered in `register`."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers import cadre, charts, common, forms, projects, rating, review, settings, start, web

AUTH_GROUP = -1


def register(app: Application) -> None:
    """Every handler of the bot, in one place."""
    app.add_handler(TypeHandler(Update, common.identify), group=AUTH_GROUP)
    private = filters.ChatType.PRIVATE
    new = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("start", start.cmd_start, filters=private & new))
    for name, callback in [
        ("today", cadre.cmd_today),
        ("week", cadre.cmd_week),
        ("month", cadre.cmd_month),
        ("edit", cadre.cmd_edit),
        ("del", cadre.cmd_del),
        ("with", cadre.cmd_with),
        ("backfill", cadre.cmd_backfill),
        ("reflect", cadre.cmd_reflect),
        ("leave", cadre.cmd_leave),
        ("help", cadre.cmd_help),
        ("team", review.cmd_team),
        ("check", review.cmd_check),
        ("review", review.cmd_review),
        ("comment", review.cmd_comment),
        ("comments", review.cmd_comments),
        ("evaluate", review.cmd_evaluate),
        ("chart", charts.cmd_chart),
        ("rate", rating.cmd_rate),
        ("quota", rating.cmd_quota),
        ("grades", rating.cmd_grades),
        ("projects", projects.cmd_projects),
        ("progress", projects.cmd_progress),
        ("summary", forms.cmd_summary),
        ("fivetwo", forms.cmd_fivetwo),
        ("cancel", forms.cmd_cancel),
        ("settings", settings.cmd_settings),
        ("weblogin", web.cmd_weblogin),
        ("app", web.cmd_app),
    ]:
        app.add_handler(CommandHandler(name, callback, filters=private & new))
    app.add_handler(MessageHandler(private & new & filters.COMMAND, cadre.cmd_unknown))
    app.add_handler(MessageHandler(private & new & filters.TEXT & filters.REPLY, review.on_reply))
    app.add_handler(MessageHandler(private & new & filters.TEXT, cadre.on_text))
    app.add_handler(
        MessageHandler(private & new & (filters.PHOTO | filters.Document.ALL), cadre.on_photo)
    )
    app.add_handler(
        MessageHandler(
            private & filters.UpdateType.EDITED_MESSAGE & (filters.TEXT | filters.CAPTION),
            cadre.on_edited,
        )
    )
    app.add_handler(MessageHandler(private & new, cadre.on_unsupported))
    app.add_handler(CallbackQueryHandler(review.on_button, pattern=r"^(?:tm|rv|ck):"))
    app.add_handler(CallbackQueryHandler(forms.on_button, pattern=r"^(?:sm|ft):"))
    app.add_handler(CallbackQueryHandler(settings.on_reminder_button, pattern=r"^rm:"))
    app.add_handler(CallbackQueryHandler(settings.on_settings_button, pattern=r"^st:"))
    app.add_handler(CallbackQueryHandler(projects.on_button, pattern=r"^pj:"))
    app.add_handler(CallbackQueryHandler(cadre.on_button))
    app.add_error_handler(common.on_error)
