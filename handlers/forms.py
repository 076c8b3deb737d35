"""The forms a cadre fills in a short dialogue: /summary (月小结), /fivetwo (5+2), /cancel.

The dialogue lives in the database (services.forms), so these handlers keep nothing: after a
restart the next message or button continues where the cadre was.
"""

from __future__ import annotations

import re
from typing import TypeVar

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest

from handlers.common import answer_button, command_rest, confirmed, redraw
from handlers.context import WorklogContext
from handlers.render import MESSAGE_LIMIT, Reply, md
from services import zh
from services.forms import (
    BEST_COUNT,
    SELF_LIMIT,
    WEAKER_COUNT,
    Cancelled,
    FiveTwoStep,
    FormItem,
    FormReply,
    Step,
    SummaryStep,
)
from services.outbox import Confirm

# Callback data: "sm:2026-11:ok" confirms a summary, "sm:2026-11:go" opens one (the monthly
# job's notice); "ft:2026Q4:b3" / "ft:2026Q4:w3" pick item 3 for the best / weaker list,
# "ft:2026Q4:n" / "p" / "s" go to the next step, the previous one, or submit.
SUMMARY_BUTTON = re.compile(r"^sm:(\d{4}-\d{2}):(ok|go)$")
FIVETWO_BUTTON = re.compile(r"^ft:(\d{4}Q[1-4]):(?:([bw])(\d{1,2})|([nps]))$")
# How much of an item a step's list shows (the whole text is kept).
ITEM_CHARS = 80
NUMBERS_PER_ROW = 5

Result = TypeVar("Result")


def _message(update: Update) -> Message:
    assert update.message is not None
    return update.message


# -- rendering ----------------------------------------------------------------------------------


def _month(step: SummaryStep) -> str:
    start = step.month.start
    return f"{start.year}年{start.month}月"


def _quarter(step: FiveTwoStep) -> str:
    start = step.quarter.start
    return f"{start.year}年第{zh.QUARTER_NAMES[(start.month - 1) // 3]}季度"


def _fit(head: list[str], body: str, tail: list[str]) -> str:
    """Head, body and tail lines; the body is cut so the message stays under the limit."""
    room = MESSAGE_LIMIT - sum(len(line) + 1 for line in head + tail) - 1
    if len(body) > room:
        body = body[: room - 1] + "…"
    return "\n".join([*head, *([body] if body else []), *tail])


def _preamble(step: SummaryStep | FiveTwoStep) -> list[str]:
    lines = []
    if step.ended:
        lines.append(zh.FORM_ENDED.format(form=zh.FORM_NAMES[step.ended]))
    if step.resumed:
        lines.append(zh.FORM_RESUMED)
    return lines


def summary(step: SummaryStep) -> Reply:
    """The /summary dialogue: the draft (or the confirmed text), the edited text, or done."""
    label = _month(step)
    if step.done:
        template = zh.SUMMARY_DONE_REPLACED if step.replaced else zh.SUMMARY_DONE
        return template.format(label=label, count=len(step.current)), None
    head = _preamble(step)
    if step.text is not None:
        head.append(zh.SUMMARY_EDITED.format(label=label))
        tail = [zh.SUMMARY_EDITED_HINT]
    elif step.confirmed_at is not None:
        head.append(zh.SUMMARY_CONFIRMED_SHOWN.format(date=md(step.confirmed_at), label=label))
        tail = [zh.SUMMARY_CONFIRMED_HINT]
    else:
        head.append(zh.SUMMARY_DRAFT_SHOWN.format(label=label))
        tail = [zh.SUMMARY_OPEN_HINT]
    tail.append(zh.FORM_CANCEL_HINT)
    buttons = [[(zh.BUTTON_CONFIRM_SUMMARY, f"sm:{step.month.label}:ok")]]
    return _fit(head, step.current, tail), buttons


def _item_line(item: FormItem, picked: bool) -> str:
    mark = f"{zh.FIVETWO_PICKED} " if picked else ""
    text = item.text if len(item.text) <= ITEM_CHARS else item.text[: ITEM_CHARS - 1] + "…"
    note = {"own": zh.FIVETWO_OWN_MARK, "concern": zh.FIVETWO_CONCERN_MARK}.get(item.origin, "")
    return f"{item.number}. {mark}{text}{note}"


def _chosen_lines(step: FiveTwoStep) -> list[str]:
    lines = [zh.FIVETWO_BEST_LIST]
    lines += [f"{n}. {step.item(number).text}" for n, number in enumerate(step.best, 1)]
    lines.append(zh.FIVETWO_WEAKER_LIST)
    lines += [f"{n}. {step.item(number).text}" for n, number in enumerate(step.weaker, 1)]
    return lines


def fivetwo(step: FiveTwoStep) -> Reply:
    """The /fivetwo dialogue at its current step, with its buttons."""
    label = _quarter(step)
    prefix = f"ft:{step.quarter.label}:"
    if step.step == Step.DONE:
        template = zh.FIVETWO_DONE_REPLACED if step.replaced else zh.FIVETWO_DONE
        lines = [template.format(label=label), *_chosen_lines(step)]
        lines.append(zh.FIVETWO_SELF_LINE.format(text=step.self_assessment or ""))
        return _fit(lines[:1], "\n".join(lines[1:]), []), None
    head = [*_preamble(step)]
    if step.added:
        head.append(zh.FIVETWO_ADDED.format(count=step.added))
    title = zh.FIVETWO_HEAD.format(label=label)
    if step.submitted_at is not None:
        title += zh.FIVETWO_SUBMITTED_BEFORE.format(date=md(step.submitted_at))
    head.append(title)
    if step.step == Step.SELF:
        head.append(zh.FIVETWO_STEP_SELF.format(limit=SELF_LIMIT))
        body = _chosen_lines(step)
        tail = [zh.FORM_CANCEL_HINT]
        controls = [(zh.BUTTON_PREVIOUS_STEP, prefix + "p")]
        if step.self_assessment is not None:
            body.append(zh.FIVETWO_SELF_LINE.format(text=step.self_assessment))
            tail.insert(0, zh.FIVETWO_SELF_HINT)
            controls.append((zh.BUTTON_SUBMIT, prefix + "s"))
        return _fit(head, "\n".join(body), tail), [controls]
    best = step.step == Step.BEST
    chosen = step.best if best else step.weaker
    count = BEST_COUNT if best else WEAKER_COUNT
    template = zh.FIVETWO_STEP_BEST if best else zh.FIVETWO_STEP_WEAKER
    head.append(template.format(count=count, chosen=len(chosen)))
    shown = step.shown()
    head.append(zh.FIVETWO_CHOOSE if shown else zh.FIVETWO_NOTHING_SUGGESTED)
    body = "\n".join(_item_line(item, item.number in chosen) for item in shown)
    code = "b" if best else "w"
    numbers = [
        (
            f"{zh.FIVETWO_PICKED}{i.number}" if i.number in chosen else str(i.number),
            f"{prefix}{code}{i.number}",
        )
        for i in shown
    ]
    rows = [numbers[k : k + NUMBERS_PER_ROW] for k in range(0, len(numbers), NUMBERS_PER_ROW)]
    controls = [] if best else [(zh.BUTTON_PREVIOUS_STEP, prefix + "p")]
    controls.append((zh.BUTTON_NEXT_STEP, prefix + "n"))
    rows.append(controls)
    return _fit(head, body, [zh.FIVETWO_TYPE_HINT, zh.FORM_CANCEL_HINT]), rows


def step_reply(step: FormReply) -> Reply:
    """A form's reply to a plain message it took."""
    if isinstance(step, Cancelled):
        return cancelled(step)
    return summary(step) if isinstance(step, SummaryStep) else fivetwo(step)


def cancelled(result: Cancelled) -> Reply:
    if result.kind is None:
        return zh.NOTHING_TO_CANCEL, None
    return zh.CANCELLED.format(form=zh.FORM_NAMES[result.kind]), None


# -- commands -----------------------------------------------------------------------------------


async def cmd_summary(update: Update, context: WorklogContext) -> None:
    """/summary [month]: the monthly summary, drafted from the month's log, edited, confirmed."""
    message = _message(update)
    confirm = Confirm(message.chat_id, summary)
    step = await context.services.forms.start_summary(
        context.require_actor().person_id, command_rest(message) or None, confirm
    )
    await confirmed(message, confirm, step)


async def cmd_fivetwo(update: Update, context: WorklogContext) -> None:
    """/fivetwo [quarter]: the quarterly 5+2 form, picked from suggestions, with the 自评."""
    message = _message(update)
    confirm = Confirm(message.chat_id, fivetwo)
    step = await context.services.forms.start_fivetwo(
        context.require_actor().person_id, command_rest(message) or None, confirm
    )
    await confirmed(message, confirm, step)


async def cmd_cancel(update: Update, context: WorklogContext) -> None:
    """/cancel: leave the form being filled in; messages are logged again."""
    message = _message(update)
    confirm = Confirm(message.chat_id, cancelled)
    result = await context.services.forms.cancel(context.require_actor().person_id, confirm)
    await confirmed(message, confirm, result)


# -- hooks for plain messages and their edits ------------------------------------------------


async def take_text(message: Message, context: WorklogContext) -> bool:
    """Give a plain message to the cadre's form in progress; False when there is none."""
    confirm: Confirm[FormReply] = Confirm(message.chat_id, step_reply)
    step = await context.services.forms.take_text(
        context.require_actor().person_id, message.text or "", message.message_id, confirm
    )
    if step is None:
        return False
    await confirmed(message, confirm, step)
    return True


async def took_edit(message: Message, context: WorklogContext) -> bool:
    """An edit of a message the form in progress took: not logged, the cadre is told."""
    kind = await context.services.forms.took_message(
        context.require_actor().person_id, message.message_id
    )
    if kind is None:
        return False
    await message.reply_text(zh.EDIT_IN_FORM.format(form=zh.FORM_NAMES[kind]))
    return True


# -- buttons ------------------------------------------------------------------------------------


async def on_button(update: Update, context: WorklogContext) -> None:
    """The forms' buttons; the dialogue is the presser's own and is checked against the data."""
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    person_id = context.require_actor().person_id
    forms = context.services.forms
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    if match := SUMMARY_BUTTON.match(data):
        month, action = match.groups()
        confirm = Confirm(chat_id, summary)
        if action == "go":
            step = await forms.open_summary(person_id, month, confirm)
            await answer_button(query, "")
        else:
            step = await forms.confirm_summary(person_id, month, confirm)
            await answer_button(query, summary(step)[0])
            await _drop_buttons(query)
        await _reply(query, confirm, step)
    elif match := FIVETWO_BUTTON.match(data):
        quarter, code, number, move = match.groups()
        if move == "s":
            confirm = Confirm(chat_id, fivetwo)
            view = await forms.submit_fivetwo(person_id, quarter, confirm)
            await answer_button(query, fivetwo(view)[0].split("\n", 1)[0])
            await _drop_buttons(query)
            await _reply(query, confirm, view)
            return
        if code:
            kind = Step.BEST if code == "b" else Step.WEAKER
            view = await forms.fivetwo_pick(person_id, quarter, kind, int(number))
        else:
            view = await forms.fivetwo_move(person_id, quarter, forward=move == "n")
        await answer_button(query, "")
        await redraw(query, *fivetwo(view))
    else:
        await answer_button(query, zh.STALE_BUTTON)


async def _reply(query: CallbackQuery, confirm: Confirm[Result], result: Result) -> None:
    """The confirmation of a button's change, as a new message (queued with the change)."""
    if isinstance(query.message, Message):
        await confirmed(query.message, confirm, result)


async def _drop_buttons(query: CallbackQuery) -> None:
    """The finished dialogue's message keeps its text but loses its buttons."""
    message = query.message
    if not isinstance(message, Message) or not message.text:
        return
    try:
        await query.edit_message_text(message.text, reply_markup=None)
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise
