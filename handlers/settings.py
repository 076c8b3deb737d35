"""The reminder's buttons (今天请假 / 今天出差 / 稍后提醒) and /settings."""

from __future__ import annotations

import re
from datetime import date, time

from telegram import Update
from telegram.error import BadRequest

from handlers.common import answer_button, command_rest
from handlers.context import WorklogContext
from handlers.render import keyboard
from services import zh
from services.errors import DomainError
from services.outbox import Buttons
from services.reminders import ReminderSettings

REMINDER_BUTTON = re.compile(r"^rm:(?:x:(leave|trip)|l):(\d{4}-\d{2}-\d{2})$")
SETTINGS_BUTTON = re.compile(r"^st:(?:t:(\d{4})|(d)|n:([01]))$")


def _settings_reply(view: ReminderSettings, choices: list[time]) -> tuple[str, Buttons]:
    if not view.nudge_enabled:
        nudge = zh.SETTINGS_NUDGE_DISABLED
    else:
        nudge = zh.SETTINGS_NUDGE_ON if view.second_nudge else zh.SETTINGS_NUDGE_OFF
    text = zh.SETTINGS_TEXT.format(
        time=f"{view.remind_at:%H:%M}",
        own=zh.SETTINGS_OWN if view.own_time else zh.SETTINGS_DEFAULT,
        nudge_at=f"{view.nudge_at:%H:%M}",
        nudge=nudge,
    )
    times = [(f"{t:%H:%M}", f"st:t:{t:%H%M}") for t in choices]
    rows: list[list[tuple[str, str]]] = [times[i : i + 4] for i in range(0, len(times), 4)]
    last = [(zh.BUTTON_DEFAULT_TIME, "st:d")]
    if view.nudge_enabled:
        toggle = zh.BUTTON_NUDGE_OFF if view.second_nudge else zh.BUTTON_NUDGE_ON
        last.append((toggle, f"st:n:{0 if view.second_nudge else 1}"))
    rows.append(last)
    return text, rows


async def cmd_settings(update: Update, context: WorklogContext) -> None:
    """/settings [time]: the cadre's reminder time and the second nudge."""
    message = update.message
    assert message is not None
    reminders = context.services.reminders
    person = context.require_actor().person_id
    typed = command_rest(message)
    if typed:
        view = await reminders.set_time(person, reminders.parse_time(typed))
    else:
        view = await reminders.settings(person)
    text, buttons = _settings_reply(view, reminders.choices())
    await message.reply_text(text, reply_markup=keyboard(buttons))


async def on_settings_button(update: Update, context: WorklogContext) -> None:
    query = update.callback_query
    assert query is not None
    match = SETTINGS_BUTTON.match(query.data or "")
    if match is None:
        await answer_button(query, zh.STALE_BUTTON)
        return
    hhmm = match.group(1)
    if hhmm and (int(hhmm[:2]) > 23 or int(hhmm[2:]) > 59):  # no button has such a time
        await answer_button(query, zh.STALE_BUTTON)
        return
    reminders = context.services.reminders
    person = context.require_actor().person_id
    if hhmm:
        view = await reminders.set_time(person, time(int(hhmm[:2]), int(hhmm[2:])))
    elif match.group(2):
        view = await reminders.set_time(person, None)
    else:
        view = await reminders.set_second_nudge(person, match.group(3) == "1")
    await answer_button(query, zh.SETTINGS_SAVED)
    text, buttons = _settings_reply(view, reminders.choices())
    try:
        await query.edit_message_text(text, reply_markup=keyboard(buttons))
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def on_reminder_button(update: Update, context: WorklogContext) -> None:
    """今天请假 / 今天出差 excuse the day in one tap; 稍后提醒 asks again later."""
    query = update.callback_query
    assert query is not None
    match = REMINDER_BUTTON.match(query.data or "")
    try:
        day = date.fromisoformat(match.group(2)) if match else None
    except ValueError:
        day = None
    if match is None or day is None:
        await answer_button(query, zh.STALE_BUTTON)
        return
    person = context.require_actor().person_id
    kind = match.group(1)
    try:
        if kind:
            await context.services.entries.add_absence(
                person, day.isoformat(), None, zh.EXCUSE_REASON[kind]
            )
            note = zh.EXCUSED_BY_BUTTON.format(
                date=f"{day.month}月{day.day}日", what=zh.EXCUSE_WHAT[kind]
            )
        else:
            minutes = await context.services.reminders.snooze(person, day)
            note = zh.SNOOZED.format(minutes=minutes)
    except DomainError as exc:
        await answer_button(query, exc.reply)
        return
    await answer_button(query, note)
    if query.message is not None and getattr(query.message, "text", None):
        try:  # the buttons have done their job: show what was chosen instead
            await query.edit_message_text(f"{query.message.text}\n\n{note}")  # type: ignore[union-attr]
        except BadRequest as exc:
            if "not modified" not in str(exc):
                raise
