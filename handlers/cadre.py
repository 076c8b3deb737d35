"""A cadre's own log: messages become entries; commands view, edit and complete the log."""

from __future__ import annotations

import re

from telegram import Message, Update
from telegram.error import BadRequest

from handlers import forms, render
from handlers.common import answer_button, command_rest, confirmed
from handlers.context import WorklogContext
from services import zh
from services.entries import EntrySource
from services.errors import UsageError
from services.outbox import Confirm

NUMBER_AND_TEXT = re.compile(r"^(\d{1,3})(?:\s+(.*))?$", re.S)
CALLBACK = re.compile(r"^(?:w:(\d{1,12})|k:(\d{1,12}):([roa]))$")
# Entry ids are 32-bit in the database; PostgreSQL refuses a larger number outright.
MAX_ENTRY_ID = 2**31 - 1


def _source(message: Message) -> EntrySource:
    return EntrySource.telegram(message.chat_id, message.message_id, message.date)


async def on_text(update: Update, context: WorklogContext) -> None:
    """A plain message: one entry per item, dated by when it was sent, unless a form being
    filled in (/summary, /fivetwo) takes it."""
    message = update.message
    assert message is not None and message.text is not None
    if await forms.take_text(message, context):
        return
    await _record(message, context, message.text)


async def on_photo(update: Update, context: WorklogContext) -> None:
    """A photo or file with a caption is an entry with the attachment kept."""
    message = update.message
    assert message is not None
    if not (message.caption or "").strip():
        await message.reply_text(zh.PHOTO_NO_CAPTION if message.photo else zh.DOCUMENT_NO_CAPTION)
        return
    await _record(message, context, message.caption or "", attachment=_attachment(message))


def _attachment(message: Message) -> str | None:
    """The file kept with the entry: the largest size of a photo, or the document."""
    if message.photo:
        return message.photo[-1].file_id
    return message.document.file_id if message.document is not None else None


async def _record(
    message: Message, context: WorklogContext, text: str, attachment: str | None = None
) -> None:
    confirm = Confirm(message.chat_id, render.recorded)
    result = await context.services.entries.record(
        context.require_actor().person_id, text, _source(message), attachment, confirm
    )
    await confirmed(message, confirm, result)


async def on_unsupported(update: Update, context: WorklogContext) -> None:
    """Voice, stickers and the like cannot be a log entry: say what to send instead."""
    message = update.message
    assert message is not None
    if message.voice or message.audio or message.video_note:
        key = "voice"
    elif message.sticker:
        key = "sticker"
    else:
        key = "other"
    await message.reply_text(zh.UNSUPPORTED_MEDIA[key])


async def on_edited(update: Update, context: WorklogContext) -> None:
    """An edited message updates the entries it produced (history kept)."""
    message = update.edited_message
    assert message is not None
    text = message.text if message.text is not None else message.caption
    if text is None or text.startswith("/"):
        return  # edited commands are not replayed
    if message.text is not None and await forms.took_edit(message, context):
        return  # the message went to a form, not to the log
    confirm = Confirm(message.chat_id, render.edited)
    result = await context.services.entries.apply_edit(
        context.require_actor().person_id, text, _source(message), _attachment(message), confirm
    )
    if result is not None:
        await confirmed(message, confirm, result)


async def on_button(update: Update, context: WorklogContext) -> None:
    """Withdraw or re-classify an entry from the buttons under a reply; ids are re-checked."""
    query = update.callback_query
    assert query is not None
    match = CALLBACK.match(query.data or "")
    if match is None or int(match.group(1) or match.group(2)) > MAX_ENTRY_ID:
        await answer_button(query, zh.STALE_BUTTON)
        return
    actor, entries = context.require_actor(), context.services.entries
    if match.group(1):
        change = await entries.withdraw(actor.person_id, int(match.group(1)))
        note = (zh.WITHDRAWN if change.changed else zh.ALREADY_WITHDRAWN).format(
            n=change.entry.item_no
        )
    else:
        kind = render.CODE_KINDS[match.group(3)]
        change = await entries.change_kind(actor.person_id, int(match.group(2)), kind)
        note = zh.KIND_CHANGED.format(n=change.entry.item_no, label=zh.KIND_LABELS[kind])
    await answer_button(query, note)
    if query.message is not None and getattr(query.message, "text", None):
        siblings, entry = change.siblings, change.entry
        text = render.recorded_text(siblings, entry.work_date, entry.is_late, hint=False)
        try:
            buttons = render.recorded_buttons(siblings)
            await query.edit_message_text(text, reply_markup=render.keyboard(buttons))
        except BadRequest as exc:  # a repeated tap leaves the message as it was
            if "not modified" not in str(exc):
                raise


def _number_and_text(message: Message, usage: str) -> tuple[int, str]:
    match = NUMBER_AND_TEXT.match(command_rest(message))
    if match is None:
        raise UsageError(usage)
    return int(match.group(1)), (match.group(2) or "").strip()


async def cmd_today(update: Update, context: WorklogContext) -> None:
    """/today: today's entries, numbered."""
    view = await context.services.entries.day(context.require_actor().person_id)
    assert update.message is not None
    for text in render.day(view):
        await update.message.reply_text(text)


async def _period(update: Update, context: WorklogContext, kind: str) -> None:
    view = await context.services.entries.period(context.require_actor().person_id, kind)
    start = view.period.start
    label = "本周" if kind == "week" else f"{start.year}年{start.month}月"
    assert update.message is not None
    for text in render.period(view, label):
        await update.message.reply_text(text)


async def cmd_week(update: Update, context: WorklogContext) -> None:
    """/week: this week's entries and completeness."""
    await _period(update, context, "week")


async def cmd_month(update: Update, context: WorklogContext) -> None:
    """/month: this month's entries and completeness."""
    await _period(update, context, "month")


async def cmd_edit(update: Update, context: WorklogContext) -> None:
    """/edit n text: change today's entry n."""
    message = update.message
    assert message is not None
    number, text = _number_and_text(message, zh.EDIT_USAGE)
    if not text:
        raise UsageError(zh.EDIT_USAGE)
    confirm = Confirm(message.chat_id, render.edit_done)
    change = await context.services.entries.edit_today(
        context.require_actor().person_id, number, text, confirm
    )
    await confirmed(message, confirm, change)


async def cmd_del(update: Update, context: WorklogContext) -> None:
    """/del n: withdraw today's entry n (it stays in the history)."""
    message = update.message
    assert message is not None
    number, rest = _number_and_text(message, zh.DEL_USAGE)
    if rest:
        raise UsageError(zh.DEL_USAGE)
    confirm = Confirm(message.chat_id, render.withdrawn)
    change = await context.services.entries.withdraw_today(
        context.require_actor().person_id, number, confirm
    )
    await confirmed(message, confirm, change)


async def cmd_with(update: Update, context: WorklogContext) -> None:
    """/with n name: correct the collaborator of today's entry n ("无" clears it)."""
    message = update.message
    assert message is not None
    number, name = _number_and_text(message, zh.WITH_USAGE)
    if not name:
        raise UsageError(zh.WITH_USAGE)
    cleared = name in {"无", "空", "-", "没有"}
    confirm = Confirm(message.chat_id, render.collaborator_set)
    change = await context.services.entries.set_collaborator(
        context.require_actor().person_id, number, None if cleared else name, confirm
    )
    await confirmed(message, confirm, change)


async def cmd_backfill(update: Update, context: WorklogContext) -> None:
    """/backfill date text: entries for a past day inside the window, marked 补记."""
    message = update.message
    assert message is not None
    parts = command_rest(message).split(maxsplit=1)
    if len(parts) < 2:
        raise UsageError(zh.BACKFILL_USAGE)
    confirm = Confirm(message.chat_id, render.recorded)
    result = await context.services.entries.backfill(
        context.require_actor().person_id, parts[0], parts[1], _source(message), confirm
    )
    await confirmed(message, confirm, result)


async def cmd_reflect(update: Update, context: WorklogContext) -> None:
    """/reflect text: today's 心得体会."""
    message = update.message
    assert message is not None
    confirm = Confirm(message.chat_id, render.reflected)
    result = await context.services.entries.reflect(
        context.require_actor().person_id, command_rest(message), confirm
    )
    await confirmed(message, confirm, result)


async def cmd_leave(update: Update, context: WorklogContext) -> None:
    """/leave from [to] reason: excused days."""
    message = update.message
    assert message is not None
    parts = command_rest(message).split(maxsplit=2)
    if not parts:
        raise UsageError(zh.LEAVE_USAGE)
    entries = context.services.entries
    end_text: str | None = None
    reason_parts = parts[1:]
    if len(parts) >= 2 and entries.is_date(parts[1]):
        end_text, reason_parts = parts[1], parts[2:]
    confirm = Confirm(message.chat_id, render.leave_saved)
    absence = await entries.add_absence(
        context.require_actor().person_id, parts[0], end_text, " ".join(reason_parts), confirm
    )
    await confirmed(message, confirm, absence)


async def cmd_help(update: Update, context: WorklogContext) -> None:
    """/help: what this person may do."""
    rules = context.services.rules
    powers = await context.services.review.powers(context.require_actor().person_id)
    text = zh.HELP_CADRE.format(rollover=rules.rollover_hour, window=rules.backfill_window)
    if powers.reports:
        text += zh.HELP_SUPERVISOR.format(count=powers.reports)
    if powers.rater:
        text += zh.HELP_RATER + zh.HELP_RATING
    if powers.admin:
        text += zh.HELP_ADMIN
    assert update.message is not None
    await update.message.reply_text(text)


async def cmd_unknown(update: Update, context: WorklogContext) -> None:
    """Any other command."""
    assert update.message is not None
    await update.message.reply_text(zh.UNKNOWN_COMMAND)
