"""Project commands: /projects (the cadre's projects) and /progress (a progress update)."""

from __future__ import annotations

import re

from telegram import Update

from handlers.common import answer_button, command_rest, confirmed, redraw
from handlers.context import WorklogContext
from handlers.render import MESSAGE_LIMIT, Reply, md, short
from scoring.projects import format_amount
from services import zh
from services.entries import EntrySource
from services.errors import UsageError
from services.outbox import Confirm
from services.projects import ProgressOutcome, ProgressView, ProjectChoice, ProjectList

CALLBACK = re.compile(r"^pj:(\d{1,10}):(\d{1,10})$")
# The project's name and the update are separated by a space, or by a colon or comma when
# the cadre typed none ("/progress 华新技改：完成安装").
_SPLIT = re.compile(r"\s+|[:：，,]")
# Ids are 32-bit in the database; PostgreSQL refuses a larger number outright.
MAX_ID = 2**31 - 1


def project_list(view: ProjectList) -> str:
    if not view.projects:
        return zh.PROJECTS_NONE
    lines = [zh.PROJECTS_HEAD.format(count=len(view.projects))]
    for n, card in enumerate(view.projects, start=1):
        block = [
            zh.PROJECTS_ITEM.format(
                n=n, name=card.name, stage=card.stage.word, role=zh.PROJECT_ROLES[card.role]
            )
        ]
        planned = format_amount(card.planned_yuan) if card.planned_yuan else "—"
        if card.completed_yuan is None:
            if card.planned_yuan:
                block.append(zh.PROJECTS_NO_INVESTMENT.format(planned=planned))
        else:
            percent = card.progress_percent
            block.append(
                zh.PROJECTS_INVESTMENT.format(
                    completed=format_amount(card.completed_yuan),
                    planned=planned,
                    percent=zh.PROJECTS_INVESTMENT_PERCENT.format(percent=percent)
                    if percent is not None
                    else "",
                )
            )
        if card.last_update_on is None:
            block.append(zh.PROJECTS_NEVER)
        else:
            text = short(card.last_text or "")[:60]
            block.append(zh.PROJECTS_LAST.format(date=md(card.last_update_on), text=text))
        if card.stale:
            block.append(zh.PROJECTS_STALE.format(days=card.silent_days))
        if sum(len(line) + 1 for line in lines + block) > MESSAGE_LIMIT - 200:
            lines.append(zh.MORE_ITEMS.format(n=len(view.projects) - n + 1))
            break
        lines.extend(block)
    lines.append(zh.PROJECTS_TAIL.format(example=view.projects[0].name))
    return "\n".join(lines)


def progress_reply(outcome: ProgressOutcome) -> Reply:
    if isinstance(outcome, ProjectChoice):
        buttons = [
            [(name, f"pj:{outcome.choice_id}:{project_id}")]
            for project_id, name in outcome.candidates
        ]
        return zh.PROGRESS_AMBIGUOUS.format(name=outcome.typed), buttons
    return progress_text(outcome), None


def progress_text(view: ProgressView) -> str:
    if view.replayed:
        return zh.PROGRESS_REPLAYED.format(date=md(view.work_date), n=view.item_no)
    lines = [zh.PROGRESS_SAVED.format(name=view.project, date=md(view.work_date), n=view.item_no)]
    if view.stage_after is not None:
        lines.append(
            zh.PROGRESS_STAGE_CHANGED.format(
                before=view.stage_before.word, after=view.stage_after.word
            )
        )
    if view.completed_yuan is not None:
        percent = ""
        if view.planned_yuan:
            percent = zh.PROJECTS_INVESTMENT_PERCENT.format(
                percent=round(view.completed_yuan * 100 / view.planned_yuan)
            )
        if view.previous_yuan is not None and view.previous_yuan != view.completed_yuan:
            percent += zh.PROGRESS_INVESTMENT_UP.format(previous=format_amount(view.previous_yuan))
        lines.append(
            zh.PROGRESS_INVESTMENT.format(
                amount=format_amount(view.completed_yuan), percent=percent
            )
        )
    return "\n".join(lines)


async def cmd_projects(update: Update, context: WorklogContext) -> None:
    """/projects: the cadre's projects with stage, investment and the last update."""
    assert update.message is not None
    view = await context.services.projects.mine(context.require_actor().person_id)
    await update.message.reply_text(project_list(view))


async def cmd_progress(update: Update, context: WorklogContext) -> None:
    """/progress project text: a progress update, also the day's log entry."""
    message = update.message
    assert message is not None
    parts = _SPLIT.split(command_rest(message), maxsplit=1)
    if len(parts) < 2 or not parts[0] or not parts[1].strip():
        raise UsageError(zh.PROGRESS_USAGE)
    confirm: Confirm[ProgressOutcome] = Confirm(message.chat_id, progress_reply)
    source = EntrySource.telegram(message.chat_id, message.message_id, message.date)
    outcome = await context.services.projects.progress(
        context.require_actor().person_id, parts[0], parts[1], source, confirm
    )
    await confirmed(message, confirm, outcome)


async def on_button(update: Update, context: WorklogContext) -> None:
    """A tap on one of the candidate projects of an ambiguous /progress."""
    query = update.callback_query
    assert query is not None
    match = CALLBACK.match(query.data or "")
    if match is None or max(int(match.group(1)), int(match.group(2))) > MAX_ID:
        await answer_button(query, zh.STALE_BUTTON)
        return
    outcome = await context.services.projects.choose(
        context.require_actor().person_id, int(match.group(1)), int(match.group(2))
    )
    await answer_button(query, "")
    text, buttons = progress_reply(outcome)
    await redraw(query, text, buttons)
