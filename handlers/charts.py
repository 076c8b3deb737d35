"""/chart: a picture of completeness, sent as a photo through the outbox."""

from __future__ import annotations

from telegram import InputFile, Update

from handlers.common import command_rest
from handlers.context import WorklogContext
from handlers.render import Reply
from services import zh
from services.charts import ChartView, HeatMap, period_words, rate_text
from services.outbox import Confirm


def caption(view: ChartView) -> Reply:
    """The photo's caption: what the picture shows, in words, and where to go next."""
    data = view.data
    label = period_words(data.period)
    if isinstance(data, HeatMap):
        c = data.completeness
        text = zh.CHART_MONTH_CAPTION.format(
            name=data.name,
            label=label,
            expected=c.expected,
            logged=c.logged,
            excused=c.excused,
            rate=rate_text(c.rate),
        )
        return text + (zh.CHART_OWN_HINT if view.supervisor else ""), None
    text = zh.CHART_TEAM_CAPTION.format(label=label, total=data.total)
    if len(data.bars) < data.total:
        text += zh.CHART_TEAM_CAPTION_SHOWN.format(shown=len(data.bars))
    return text + zh.CHART_TEAM_FOOT, None


async def cmd_chart(update: Update, context: WorklogContext) -> None:
    """/chart [period] | /chart 我 [month]: the team's completeness, or one's own month."""
    message = update.message
    assert message is not None
    confirm = Confirm(message.chat_id, caption)
    view = await context.services.charts.chart(
        context.require_actor().person_id, command_rest(message) or None, confirm
    )
    if not confirm.queued:  # outside an update of the intake: answer directly
        await message.reply_photo(
            InputFile(view.png, filename=view.file_name), caption=caption(view)[0]
        )
