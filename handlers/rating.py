"""Raters' commands: /rate within the 好 quota, /quota, and /grades (the unit's table)."""

from __future__ import annotations

from telegram import InputFile, Update

from handlers.common import command_rest, confirmed
from handlers.context import WorklogContext
from handlers.render import MESSAGE_LIMIT, Reply
from services import zh
from services.errors import UsageError
from services.grading import GradeReport
from services.outbox import Confirm
from services.rating import QuotaView, RatingView
from services.sheets import grades_workbook


def rated(view: RatingView) -> Reply:
    return zh.rated(view), None


def quotas(view: QuotaView) -> Reply:
    if not view.units:
        return zh.QUOTA_NONE, None
    lines = [zh.QUOTA_HEAD.format(quarter=view.quarter)]
    size = len(lines[0])
    for shown, unit in enumerate(view.units):
        line = zh.quota_line(unit)
        if size + len(line) > MESSAGE_LIMIT - 100:
            lines.append(zh.QUOTA_MORE.format(n=len(view.units) - shown))
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines), None


def grades_caption(report: GradeReport) -> Reply:
    if not report.rows:
        return zh.GRADES_EMPTY.format(label=report.period.label), None
    to_date = zh.GRADES_TO_DATE if report.to_date else ""
    return (
        zh.GRADES_CAPTION.format(
            label=report.period.label, cadres=len(report.rows), to_date=to_date
        ),
        None,
    )


def grades_file(report: GradeReport) -> tuple[str, bytes] | None:
    if not report.rows:
        return None
    return f"{zh.GRADES_SHEET}_{report.period.label}.xlsx", grades_workbook(report)


async def cmd_rate(update: Update, context: WorklogContext) -> None:
    """/rate name 好|较好|一般|差 [quarter]: a rating within the unit's 好 quota."""
    message = update.message
    assert message is not None
    parts = command_rest(message).split()
    if len(parts) not in (2, 3):
        raise UsageError(zh.RATE_USAGE)
    confirm = Confirm(message.chat_id, rated)
    view = await context.services.rating.rate(
        context.require_actor().person_id,
        parts[0],
        parts[1],
        parts[2] if len(parts) == 3 else None,
        confirm,
    )
    await confirmed(message, confirm, view)


async def cmd_quota(update: Update, context: WorklogContext) -> None:
    """/quota [quarter]: each rated unit's 好 quota, used and left."""
    message = update.message
    assert message is not None
    confirm = Confirm(message.chat_id, quotas)
    view = await context.services.rating.quota(
        context.require_actor().person_id, command_rest(message) or None, confirm
    )
    await confirmed(message, confirm, view)


async def cmd_grades(update: Update, context: WorklogContext) -> None:
    """/grades [period]: the grade table of the rater's units as an XLSX file."""
    message = update.message
    assert message is not None
    confirm = Confirm(message.chat_id, grades_caption, attach=grades_file)
    report = await context.services.grading.rater_report(
        context.require_actor().person_id, command_rest(message) or None, confirm
    )
    if confirm.queued:
        return
    text, _ = grades_caption(report)
    attached = grades_file(report)
    if attached is None:
        await message.reply_text(text)
    else:
        await message.reply_document(InputFile(attached[1], filename=attached[0]), caption=text)
