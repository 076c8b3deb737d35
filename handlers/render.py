"""Turn service results into short phone-friendly Chinese text and inline keyboards."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from scoring.completeness import Completeness
from services import zh
from services.entries import (
    AbsenceView,
    DayView,
    EntryChange,
    EntryKind,
    EntryView,
    PeriodView,
    Recorded,
)
from services.identity import Binding
from services.outbox import Buttons

# A reply as the use cases queue it: text and inline buttons.
Reply = tuple[str, Buttons | None]

# Telegram refuses messages over 4096 characters; stay clear of it.
MESSAGE_LIMIT = 3800
# How much of one entry a list shows; the full text is always stored.
SHOWN_CHARS = 300
# A reply lists buttons for at most this many entries; /del and /edit cover the rest.
MAX_BUTTON_ENTRIES = 8
# One tap moves an entry to the next kind: 日常工作 → 八小时外 → 其他工作 → 日常工作.
NEXT_KIND = {
    EntryKind.REGULAR: EntryKind.AFTER_HOURS,
    EntryKind.AFTER_HOURS: EntryKind.OTHER,
    EntryKind.OTHER: EntryKind.REGULAR,
}
KIND_CODES = {EntryKind.REGULAR: "r", EntryKind.OTHER: "o", EntryKind.AFTER_HOURS: "a"}
CODE_KINDS = {code: kind for kind, code in KIND_CODES.items()}


md = zh.md


def short(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def entry_line(entry: EntryView, with_late_mark: bool = True) -> str:
    parts = [f"{entry.item_no}. "]
    if entry.withdrawn:
        parts.append(zh.WITHDRAWN_MARK)
    if entry.is_late and with_late_mark:
        parts.append(zh.LATE_MARK)
    parts.append(short(entry.text))
    if entry.kind is not EntryKind.REGULAR:
        parts.append(f"【{zh.KIND_LABELS[entry.kind]}】")
    if entry.collaborator and not entry.withdrawn:
        parts.append(zh.COLLABORATOR.format(name=entry.collaborator))
    if entry.project and not entry.withdrawn:
        parts.append(zh.PROJECT_MARK.format(name=entry.project))
    return "".join(parts)


def recorded_text(
    entries: Sequence[EntryView], work_date: date, late: bool, hint: bool, edited: bool = False
) -> str:
    live = [e for e in entries if not e.withdrawn]
    head = zh.RECORDED_LATE_HEAD if late else zh.RECORDED_HEAD
    head = zh.EDITED_MESSAGE_HEAD if edited else head
    tail: list[str] = []
    overlong = [str(e.item_no) for e in entries if e.is_overlong and not e.withdrawn]
    if overlong:
        tail.append(zh.OVERLONG_NOTE.format(numbers="、".join(overlong)))
    if hint:
        tail.append(zh.AFTER_HOURS_HINT)
    lines = [head.format(date=md(work_date), count=len(live))]
    # One message with buttons, so it cannot be split: list what fits, count the rest.
    room = MESSAGE_LIMIT - len(lines[0]) - sum(len(t) + 1 for t in tail) - len(zh.MORE_ITEMS)
    for listed, entry in enumerate(entries):
        line = entry_line(entry, with_late_mark=False)
        room -= len(line) + 1
        if room < 0:
            lines.append(zh.MORE_ITEMS.format(n=len(entries) - listed))
            break
        lines.append(line)
    return "\n".join(lines + tail)


def keyboard(buttons: Buttons | None) -> InlineKeyboardMarkup | None:
    """Rows of (label, callback data) as Telegram's inline keyboard."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in buttons
        ]
    )


def recorded_buttons(entries: Sequence[EntryView], after_hours: bool = False) -> Buttons | None:
    """Withdraw and kind buttons; after hours the kind button says what the hint asks to tap."""
    live = [e for e in entries if not e.withdrawn][:MAX_BUTTON_ENTRIES]
    if not live:
        return None
    single = len(entries) == 1
    rows = []
    for e in live:
        next_code = KIND_CODES[NEXT_KIND[e.kind]]
        if after_hours and e.kind is EntryKind.REGULAR:
            kind_text = zh.BUTTON_AFTER_HOURS
            if not single:
                kind_text = zh.BUTTON_KIND_N.format(n=e.item_no, label=kind_text)
        elif single:
            kind_text = zh.BUTTON_KIND.format(label=zh.KIND_LABELS[e.kind])
        else:
            kind_text = zh.BUTTON_KIND_N.format(n=e.item_no, label=zh.KIND_LABELS[e.kind])
        withdraw = zh.BUTTON_WITHDRAW if single else zh.BUTTON_WITHDRAW_N.format(n=e.item_no)
        rows.append([(withdraw, f"w:{e.id}"), (kind_text, f"k:{e.id}:{next_code}")])
    return rows


def recorded(result: Recorded) -> Reply:
    """The confirmation of a message: its entries, with their buttons."""
    text = recorded_text(result.entries, result.work_date, result.late, result.after_hours)
    return text, recorded_buttons(result.entries, result.after_hours)


def edited(result: Recorded) -> Reply:
    """The confirmation of an edited message: the entries it changed."""
    text = recorded_text(result.entries, result.work_date, result.late, hint=False, edited=True)
    return text, recorded_buttons(result.entries)


def edit_done(change: EntryChange) -> Reply:
    n = change.entry.item_no
    if not change.changed:
        return zh.NOT_CHANGED.format(n=n), None
    return zh.EDITED.format(n=n, text=entry_line(change.entry)), None


def withdrawn(change: EntryChange) -> Reply:
    template = zh.WITHDRAWN if change.changed else zh.ALREADY_WITHDRAWN
    return template.format(n=change.entry.item_no), None


def collaborator_set(change: EntryChange) -> Reply:
    entry = change.entry
    if entry.collaborator is None:
        return zh.WITH_CLEARED.format(n=entry.item_no), None
    return zh.WITH_SET.format(n=entry.item_no, name=entry.collaborator), None


def reflected(result: tuple[date, bool]) -> Reply:
    day, replaced = result
    return (zh.REFLECT_REPLACED if replaced else zh.REFLECT_SAVED).format(date=md(day)), None


def leave_saved(absence: AbsenceView) -> Reply:
    end = "" if absence.end_date == absence.start_date else f"至{md(absence.end_date)}"
    start = md(absence.start_date)
    kind = "" if absence.kind == "other" else _absence_kind(absence.kind)
    return zh.LEAVE_SAVED.format(kind=kind, start=start, end=end, reason=absence.reason), None


def _absence_kind(kind: str) -> str:
    """请假 / 出差 / 培训 / 会议 / 其他 for an absence kind."""
    return zh.ABSENCE_KINDS.get(kind, zh.ABSENCE_KINDS["other"])


def bound(binding: Binding) -> Reply:
    template = zh.ALREADY_BOUND if binding.already_bound else zh.BOUND
    return template.format(name=binding.actor.name, unit=binding.actor.unit_name), None


def day(view: DayView) -> list[str]:
    """One day's entries, split into messages that fit Telegram's limit."""
    weekday = zh.WEEKDAYS[view.work_date.weekday()]
    live = [e for e in view.entries if not e.withdrawn]
    if not view.entries and view.reflection is None:
        return [zh.DAY_EMPTY.format(date=md(view.work_date), weekday=weekday)]
    lines = [zh.DAY_HEAD.format(date=md(view.work_date), weekday=weekday, count=len(live))]
    lines += [entry_line(e) for e in view.entries]
    if view.reflection is not None:
        lines.append(zh.REFLECTION_LINE.format(text=short(view.reflection)))
    return pack(["\n".join(lines)])


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def completeness_lines(c: Completeness, absences: Sequence[AbsenceView]) -> list[str]:
    """应记/已记/请假 days, the rate, the days missing and the absences, one per line."""
    lines = [
        zh.COMPLETENESS.format(
            expected=c.expected, logged=c.logged, excused=c.excused, rate=_rate(c.rate)
        )
    ]
    if c.missing:
        lines.append(zh.MISSING_DAYS.format(days="、".join(f"{d:%m-%d}" for d in c.missing)))
    for a in absences:
        end = "" if a.end_date == a.start_date else f"至{a.end_date:%m-%d}"
        lines.append(
            zh.EXCUSED_LINE.format(
                kind=_absence_kind(a.kind), start=f"{a.start_date:%m-%d}", end=end, reason=a.reason
            )
        )
    return lines


def period(view: PeriodView, label: str) -> list[str]:
    """The period's entries day by day, split into messages that fit Telegram's limit."""
    head = [zh.PERIOD_HEAD.format(label=label)]
    head += completeness_lines(view.completeness, view.absences)
    blocks = ["\n".join(head)]
    if not view.entries:
        blocks.append(zh.PERIOD_EMPTY)
    by_day = view.by_day()
    for work_date in sorted(by_day):
        entries = by_day[work_date]
        live = sum(1 for e in entries if not e.withdrawn)
        weekday = zh.WEEKDAYS[work_date.weekday()]
        lines = [f"— {work_date:%m-%d} 周{weekday} {live}条"]
        lines += [entry_line(e) for e in entries]
        blocks.append("\n".join(lines))
    return pack(blocks)


def pack(blocks: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join blocks into as few messages as fit; a block too long alone is cut at line ends."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in _cut(block, limit):
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = zh.CONTINUED + "\n" + piece
    if current:
        messages.append(current)
    return messages


def _cut(block: str, limit: int) -> list[str]:
    if len(block) <= limit - 20:
        return [block]
    pieces, current = [], ""
    for line in block.split("\n"):
        while len(line) > limit - 20:
            pieces.append(line[: limit - 20])
            line = line[limit - 20 :]
        if current and len(current) + 1 + len(line) > limit - 20:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    return pieces
