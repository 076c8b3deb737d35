"""Supervisors' views as short phone-friendly Chinese text with inline buttons."""

from __future__ import annotations

from datetime import date

from handlers.render import MESSAGE_LIMIT, Reply, completeness_lines, entry_line, md
from services import zh
from services.review import (
    CheckItemView,
    CheckView,
    CommentsView,
    CommentView,
    EvaluationView,
    ReviewView,
    TeamView,
)

# How much of an entry a spot check shows; /review shows the full stored text up to this.
CHECK_CHARS = 120
REVIEW_CHARS = 200


def _rate(value: float | None) -> str:
    return zh.RATE_NONE if value is None else f"{value:.0%}"


def _pager(prefix: str, page: int, pages: int) -> list[tuple[str, str]]:
    row = []
    if page > 0:
        row.append((zh.BUTTON_PREVIOUS, f"{prefix}:{page - 1}"))
    if page < pages - 1:
        row.append((zh.BUTTON_NEXT, f"{prefix}:{page + 1}"))
    return row


def team(view: TeamView) -> Reply:
    """/team: one line per report, laggards first; ◀ ▶ when the team spans pages."""
    lines = [zh.TEAM_HEAD.format(label=zh.period_label(view.period), total=view.total)]
    if view.to_date:
        lines.append(zh.TEAM_TO_DATE.format(today=view.logged_today))
    for n, row in enumerate(view.rows, start=view.offset + 1):
        c = row.completeness
        line = zh.TEAM_LINE.format(
            n=n, name=row.person.name, logged=c.logged, expected=c.expected, rate=_rate(c.rate)
        )
        if c.excused:
            line += zh.TEAM_EXCUSED.format(days=c.excused)
        if view.to_date:
            line += zh.TEAM_TODAY_YES if row.logged_today else zh.TEAM_TODAY_NO
        lines.append(line)
    if view.pages > 1:
        lines.append(zh.TEAM_PAGE.format(page=view.page + 1, pages=view.pages))
    lines.append(zh.TEAM_FOOT)
    pager = _pager(f"tm:{view.period.label}", view.page, view.pages)
    return "\n".join(lines), [pager] if pager else None


def review(view: ReviewView) -> Reply:
    """/review: one page of a report's log, every evidence mark shown."""
    p = view.person
    label = zh.period_label(view.period)
    if view.as_file:
        return zh.REVIEW_FILE.format(name=p.name, label=label, count=view.total), None
    head = [
        zh.REVIEW_HEAD.format(
            name=p.name, roster_id=p.roster_id, unit=p.unit_name, label=label, count=view.total
        ),
        *completeness_lines(view.completeness, view.absences),
    ]
    lines = ["\n".join(head)]
    if not view.entries:
        lines.append(zh.REVIEW_EMPTY)
    day: date | None = None
    for row in view.entries:
        entry = row.entry
        if entry.work_date != day:
            day = entry.work_date
            lines.append(f"— {day:%m-%d} 周{zh.WEEKDAYS[day.weekday()]}")
        line = entry_line(entry)
        if row.changed:
            line = line.replace(
                f"{entry.item_no}. ", f"{entry.item_no}. {zh.REVIEW_CHANGED_MARK}", 1
            )
        line = line if len(line) <= REVIEW_CHARS else line[:REVIEW_CHARS] + "…"
        # 质量提示 after the text, never cut off with it.
        lines.append(line + "".join(mark for f, mark in zh.QUALITY_MARKS.items() if f in row.flags))
    if view.pages > 1:
        lines.append(zh.TEAM_PAGE.format(page=view.page + 1, pages=view.pages))
    text = "\n".join(lines)
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 1] + "…"
    pager = _pager(f"rv:{p.id}:{view.period.label}", view.page, view.pages)
    return text, [pager] if pager else None


def review_caption(view: ReviewView) -> str:
    return zh.REVIEW_FILE_CAPTION.format(
        name=view.person.name, label=zh.period_label(view.period), count=view.total
    )


def _check_line(item: CheckItemView) -> str:
    entry = item.entry
    text = entry.text if len(entry.text) <= CHECK_CHARS else entry.text[:CHECK_CHARS] + "…"
    line = zh.CHECK_LINE.format(
        n=item.position,
        name=item.person_name,
        date=md(entry.work_date),
        item=entry.item_no,
        text=text,
    )
    if item.reasons:
        reasons = "、".join(zh.CHECK_REASONS.get(r, r) for r in item.reasons)
        line += zh.CHECK_REASON_NOTE.format(reasons=reasons)
    if item.verdict is not None:
        line += " " + zh.CHECK_VERDICT[item.verdict]
    if item.remark:
        line += "\n" + zh.CHECK_REMARK_LINE.format(remark=item.remark)
    return line


def check(view: CheckView) -> Reply:
    """/check: the sampled entries, each with 👍 / 👎."""
    whom = zh.CHECK_WHOM.format(name=view.subject) if view.subject else ""
    head = zh.CHECK_HEAD.format(
        label=zh.period_label(view.period), whom=whom, count=len(view.items)
    )
    if view.candidates:  # a redraw after a button does not repeat the pool size
        head += zh.CHECK_POOL.format(candidates=view.candidates)
    lines = [head, *(_check_line(item) for item in view.items), zh.CHECK_FOOT]
    buttons = [
        [
            (f"{item.position} 👍", f"ck:{item.item_id}:g"),
            (f"{item.position} 👎", f"ck:{item.item_id}:p"),
        ]
        for item in view.items
    ]
    return "\n".join(lines), buttons


def remark_prompt(item: CheckItemView) -> str:
    text = item.entry.text if len(item.entry.text) <= 40 else item.entry.text[:40] + "…"
    return zh.REMARK_PROMPT.format(
        n=item.position, name=item.person_name, text=text, item=item.item_id
    )


def remark_saved(item: CheckItemView) -> Reply:
    return zh.REMARK_SAVED.format(name=item.person_name, n=item.position), None


def comment_saved(view: CommentView) -> Reply:
    template = zh.COMMENT_SAVED_POSITIVE if view.positive else zh.COMMENT_SAVED_NEGATIVE
    return template.format(name=view.subject, text=view.text), None


def _comment_lines(comments: tuple[CommentView, ...]) -> list[str]:
    if not comments:
        return [zh.COMMENTS_NONE]
    return [
        zh.COMMENTS_LINE.format(date=f"{c.at:%Y-%m-%d}", author=c.author, text=c.text)
        for c in comments
    ]


def comments(view: CommentsView) -> Reply:
    label = zh.period_label(view.period)
    head = (
        zh.COMMENTS_OWN_HEAD.format(label=label)
        if view.own
        else zh.COMMENTS_HEAD.format(name=view.person.name, label=label)
    )
    lines = [
        head,
        zh.COMMENTS_POSITIVE.format(count=len(view.positive)),
        *_comment_lines(view.positive),
        zh.COMMENTS_NEGATIVE.format(count=len(view.negative)),
        *_comment_lines(view.negative),
    ]
    text = "\n".join(lines)
    return (text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"), None


def evaluation_saved(view: EvaluationView) -> Reply:
    template = zh.EVALUATION_REPLACED if view.replaced else zh.EVALUATION_SAVED
    return template.format(name=view.person.name, quarter=view.quarter), None
