"""Supervisors' commands (下管一级): /team, /check, /review, /comment, /comments, /evaluate."""

from __future__ import annotations

import re

from telegram import ForceReply, InputFile, Message, Update

from handlers import cadre, render_review
from handlers.common import answer_button, command_rest, confirmed, redraw
from handlers.context import WorklogContext
from services import zh
from services.errors import UsageError
from services.outbox import Confirm
from services.review import ReviewView, Verdict
from services.sheets import review_workbook

# Callback data: a /team page, a /review page, a spot-check verdict. Ids fit 32 bits.
TEAM_PAGE = re.compile(r"^tm:([0-9A-Za-z-]{1,12}):(\d{1,4})$")
REVIEW_PAGE = re.compile(r"^rv:(\d{1,10}):([0-9A-Za-z-]{1,12}):(\d{1,4})$")
CHECK_VERDICT = re.compile(r"^ck:(\d{1,10}):([gp])$")
MAX_ID = 2**31 - 1
# The marker a remark prompt carries, so the supervisor's reply finds its sampled entry.
REMARK_MARKER = re.compile(r"#抽查(\d{1,10})\s*$")
# How every remark prompt begins: a confirmation echoing a logged "… #抽查5" is no prompt.
REMARK_PROMPT_START = zh.REMARK_PROMPT.split("{", 1)[0]
COMMENT_ARGS = re.compile(r"^(\S+)\s*([+＋\-－])\s*(.*)$", re.S)


def _message(update: Update) -> Message:
    assert update.message is not None
    return update.message


async def cmd_team(update: Update, context: WorklogContext) -> None:
    """/team [period]: completeness of each direct report, laggards first."""
    message = _message(update)
    confirm = Confirm(message.chat_id, render_review.team)
    view = await context.services.review.team(
        context.require_actor().person_id, command_rest(message) or None, confirm=confirm
    )
    await confirmed(message, confirm, view)


async def cmd_review(update: Update, context: WorklogContext) -> None:
    """/review name [period]: a report's log, paged, or as a file when long."""
    message = _message(update)
    parts = command_rest(message).split(maxsplit=1)
    if not parts:
        raise UsageError(zh.REVIEW_USAGE)
    confirm = Confirm(message.chat_id, render_review.review)
    view = await context.services.review.review(
        context.require_actor().person_id, parts[0], parts[1] if len(parts) > 1 else None, confirm
    )
    await confirmed(message, confirm, view)
    if view.as_file:
        await _send_file(message, view)


async def _send_file(message: Message, view: ReviewView) -> None:
    name = f"{view.person.roster_id}_{view.period.label}.xlsx"
    await message.reply_document(
        InputFile(review_workbook(view), filename=name),
        caption=render_review.review_caption(view),
    )


async def cmd_check(update: Update, context: WorklogContext) -> None:
    """/check [name]: a recorded spot check (抽查) of direct reports' entries."""
    message = _message(update)
    confirm = Confirm(message.chat_id, render_review.check)
    view = await context.services.review.check(
        context.require_actor().person_id, command_rest(message) or None, confirm
    )
    await confirmed(message, confirm, view)


async def cmd_comment(update: Update, context: WorklogContext) -> None:
    """/comment name +|- text: a positive or negative comment, sent to the cadre."""
    message = _message(update)
    match = COMMENT_ARGS.match(command_rest(message))
    if match is None:
        raise UsageError(zh.COMMENT_USAGE)
    who, sign, text = match.groups()
    confirm = Confirm(message.chat_id, render_review.comment_saved)
    view = await context.services.review.comment(
        context.require_actor().person_id, who, sign in "+＋", text, confirm
    )
    await confirmed(message, confirm, view)


async def cmd_comments(update: Update, context: WorklogContext) -> None:
    """/comments [name] [period]: 正面清单 / 负面清单 (one's own without a name)."""
    message = _message(update)
    parts = command_rest(message).split(maxsplit=1)
    review = context.services.review
    who: str | None = None
    period: str | None = None
    if len(parts) == 2:
        who, period = parts
    elif parts:
        # One word: a period (本月, 2026Q4) unless it could be a name or a 工号.
        word = parts[0]
        if review.is_period(word) and not word.isdigit():
            period = word
        else:
            who = word
    confirm = Confirm(message.chat_id, render_review.comments)
    view = await review.comments(context.require_actor().person_id, who, period, confirm)
    await confirmed(message, confirm, view)


async def cmd_evaluate(update: Update, context: WorklogContext) -> None:
    """/evaluate name text: 领导评鉴 on the report's quarterly 5+2 form."""
    message = _message(update)
    parts = command_rest(message).split(maxsplit=1)
    if len(parts) < 2:
        raise UsageError(zh.EVALUATE_USAGE)
    confirm = Confirm(message.chat_id, render_review.evaluation_saved)
    view = await context.services.review.evaluate(
        context.require_actor().person_id, parts[0], parts[1], confirm
    )
    await confirmed(message, confirm, view)


async def on_reply(update: Update, context: WorklogContext) -> None:
    """A reply to a remark prompt is the remark; any other reply is a log message."""
    message = _message(update)
    replied = message.reply_to_message
    prompt = (replied.text or "") if replied is not None else ""
    marker = REMARK_MARKER.search(prompt) if prompt.startswith(REMARK_PROMPT_START) else None
    author = replied.from_user if replied is not None else None
    if marker is None or author is None or author.id != context.bot.id:
        await cadre.on_text(update, context)
        return
    item_id = int(marker.group(1))
    if item_id > MAX_ID:
        raise UsageError(zh.STALE_BUTTON)
    confirm = Confirm(message.chat_id, render_review.remark_saved)
    item = await context.services.review.remark(
        context.require_actor().person_id, item_id, message.text or "", confirm
    )
    await confirmed(message, confirm, item)


async def on_button(update: Update, context: WorklogContext) -> None:
    """Page turns of /team and /review, and 👍 / 👎 of a spot check; access checked again."""
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    viewer = context.require_actor().person_id
    review = context.services.review
    if match := TEAM_PAGE.match(data):
        try:
            view = await review.team(viewer, match.group(1), int(match.group(2)))
        except UsageError:  # a period no button of the bot names: forged data
            await answer_button(query, zh.STALE_BUTTON)
            return
        await answer_button(query, "")
        await redraw(query, *render_review.team(view))
    elif (match := REVIEW_PAGE.match(data)) and int(match.group(1)) <= MAX_ID:
        try:
            page = await review.review_page(
                viewer, int(match.group(1)), match.group(2), int(match.group(3))
            )
        except UsageError:  # a period no button of the bot names: forged data
            await answer_button(query, zh.STALE_BUTTON)
            return
        await answer_button(query, "")
        await redraw(query, *render_review.review(page))
        if page.as_file and isinstance(query.message, Message):
            await _send_file(query.message, page)
    elif (match := CHECK_VERDICT.match(data)) and int(match.group(1)) <= MAX_ID:
        verdict = Verdict.GOOD if match.group(2) == "g" else Verdict.POOR
        check = await review.verdict(viewer, int(match.group(1)), verdict)
        item = next(i for i in check.items if i.item_id == int(match.group(1)))
        mark = zh.CHECK_VERDICT[verdict]
        await answer_button(query, zh.CHECK_VERDICT_SAVED.format(n=item.position, mark=mark))
        await redraw(query, *render_review.check(check))
        if check.asked is not None and query.message is not None:
            await context.bot.send_message(
                query.message.chat.id,
                render_review.remark_prompt(check.asked),
                reply_markup=ForceReply(input_field_placeholder=zh.REMARK_PLACEHOLDER),
            )
    else:
        await answer_button(query, zh.STALE_BUTTON)
