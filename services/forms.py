"""The forms a cadre fills from their own log: the monthly summary (月小结) and the quarterly
5+2 实绩登记表 (five best and two weaker pieces of work, and the 自评).

Each form is a short dialogue kept in the `conversations` table (one row per person, kind
"summary" or "fivetwo", JSON state), so it survives a restart: the next message after a
restart continues it. While a dialogue is active, a plain message the cadre sends goes to
it, not to the log, and the reply says so: text that was meant for the form would otherwise
become log entries, which are evidence and never deleted. Every prompt names /cancel, and a
dialogue left alone for CONVERSATION_IDLE expires (so one left overnight does not take the
next morning's log); starting the same form again later resumes it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal

from scoring.dates import Period, parse_period
from scoring.summary import (
    BEST_SUGGESTED,
    Item,
    MonthDigest,
    Themes,
    fivetwo_candidates,
    monthly_draft,
    open_periods,
)
from scoring.text import clean_text, has_content, split_items
from services import zh
from services.clock import Clock
from services.entries import LogPolicy
from services.errors import NotFound, UsageError
from services.outbox import Confirm, commit
from storage.models import Conversation, FiveTwoForm, LogEntry
from storage.uow import UnitOfWork, UowFactory

log = logging.getLogger(__name__)


SUMMARY = "summary"
FIVETWO = "fivetwo"
# A dialogue nobody touched for this long is over: messages are logged again.
CONVERSATION_IDLE = timedelta(hours=12)
# The previous month (quarter) may still be filled in this many days after it ended.
SUMMARY_GRACE_DAYS = 5
FIVETWO_GRACE_DAYS = 10
# The longest monthly summary, 5+2 item and 自评 (a reply must stay below Telegram's 4096).
SUMMARY_LIMIT = 3000
ITEM_LIMIT = 200
SELF_LIMIT = 1000
# 5+2: how many of each, and how many items (suggested and typed) a form may list.
BEST_COUNT = 5
WEAKER_COUNT = 2
MAX_ITEMS = 20
# A draft quotes this much of each highlighted entry.
HIGHLIGHT_CHARS = 100
# The dialogue remembers its last messages, so an edit of one is not logged as new entries.
MESSAGES_KEPT = 50
# A message of only item numbers picks those items ("1 3 5", "2，4").
NUMBERS = re.compile(r"^\s*\d{1,2}(?:\s*[,，、\s]\s*\d{1,2})*\s*$")
# Words a cadre types instead of tapping: never a summary, an item or a 自评 of their own.


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CONFIRM_WORDS = _words("确认 确定 提交 确认提交 好 好的 可以 行 没问题 同意 是 是的 ok okay 下一步")
BACK_WORDS = _words("上一步 返回")
CANCEL_WORDS = _words("取消 退出 不填了")


class Step(StrEnum):
    """The steps of the 5+2 dialogue."""

    BEST = "best"
    WEAKER = "weaker"
    SELF = "self"
    DONE = "done"


Origin = Literal["log", "concern", "own"]


@dataclass(frozen=True, slots=True)
class DraftView:
    """A month's summary as stored: the draft from the log and the text the cadre confirmed."""

    person_id: int
    month: Period
    draft: str
    text: str | None
    confirmed_at: datetime | None


@dataclass(frozen=True)
class SummaryStep:
    """Where the /summary dialogue stands, for the reply."""

    month: Period
    shown: str  # what the dialogue opened with: the draft, or the text confirmed before
    text: str | None  # the cadre's edited text, waiting for 确认
    confirmed_at: datetime | None  # when a text of this month was confirmed (before or now)
    done: bool = False  # confirmed now
    replaced: bool = False  # the confirmation replaced an earlier text (kept in the audit log)
    resumed: bool = False  # an earlier, unfinished dialogue of this month goes on
    ended: str | None = None  # the kind of another dialogue this one replaced

    @property
    def current(self) -> str:
        return self.text if self.text is not None else self.shown


@dataclass(frozen=True, slots=True)
class FormItem:
    number: int  # from 1, stable for the dialogue
    text: str
    origin: Origin


@dataclass(frozen=True)
class FiveTwoStep:
    """Where the /fivetwo dialogue stands, for the reply."""

    quarter: Period
    step: str
    items: tuple[FormItem, ...]
    best: tuple[int, ...]  # item numbers in the order picked
    weaker: tuple[int, ...]
    self_assessment: str | None
    submitted_at: datetime | None  # when a form of this quarter was submitted (before or now)
    added: int = 0  # items the cadre's message added
    replaced: bool = False  # the submission replaced an earlier form (kept in the audit log)
    resumed: bool = False
    ended: str | None = None

    def item(self, number: int) -> FormItem:
        return self.items[number - 1]

    def shown(self) -> tuple[FormItem, ...]:
        """The items the current step offers: suggestions from the log and typed ones for
        the best; everything not among the best for the weaker."""
        if self.step == Step.BEST:
            return tuple(i for i in self.items if i.origin != "concern")
        if self.step == Step.WEAKER:
            return tuple(i for i in self.items if i.number not in self.best)
        return ()


@dataclass(frozen=True)
class Cancelled:
    kind: str | None  # the dialogue ended, or None when there was none


# What a plain message in a dialogue gets: the dialogue's next step, or its end (取消).
FormReply = SummaryStep | FiveTwoStep | Cancelled


# -- dialogue state (JSON in conversations.state) -----------------------------------------------


@dataclass
class _Summary:
    month: str
    shown: str
    text: str | None = None
    messages: list[int] | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "shown": self.shown,
            "text": self.text,
            "messages": self.messages or [],
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> _Summary:
        return cls(
            str(data["month"]),
            str(data["shown"]),
            None if data.get("text") is None else str(data["text"]),
            [int(m) for m in data.get("messages", [])],
        )


@dataclass
class _FiveTwo:
    quarter: str
    step: str
    items: list[tuple[str, Origin]]
    best: list[int]
    weaker: list[int]
    self_assessment: str | None = None
    messages: list[int] | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter,
            "step": self.step,
            "items": [list(item) for item in self.items],
            "best": self.best,
            "weaker": self.weaker,
            "self": self.self_assessment,
            "messages": self.messages or [],
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> _FiveTwo:
        items: list[tuple[str, Origin]] = []
        for text, origin in data["items"]:
            if origin not in ("log", "concern", "own"):
                raise ValueError(origin)
            items.append((str(text), origin))
        state = cls(
            str(data["quarter"]),
            str(data["step"]),
            items,
            [int(n) for n in data["best"]],
            [int(n) for n in data["weaker"]],
            None if data.get("self") is None else str(data["self"]),
            [int(m) for m in data.get("messages", [])],
        )
        numbers = set(range(1, len(items) + 1))
        if (
            state.step not in (Step.BEST, Step.WEAKER, Step.SELF)
            or not (set(state.best) | set(state.weaker)) <= numbers
        ):
            raise ValueError("inconsistent 5+2 state")
        return state


def _remember(messages: list[int] | None, message_id: int | None) -> list[int]:
    kept = list(messages or [])
    if message_id is not None and message_id not in kept:
        kept.append(message_id)
    return kept[-MESSAGES_KEPT:]


def _text(text: str) -> str:
    """A form text as stored: cleaned of invisible characters, lines kept, blank lines dropped."""
    lines = (" ".join(line.split()) for line in clean_text(text).splitlines())
    return "\n".join(line for line in lines if line)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _month_label(period: Period) -> str:
    return f"{period.start.year}年{period.start.month}月"


def _quarter_label(period: Period) -> str:
    return f"{period.start.year}年第{zh.QUARTER_NAMES[(period.start.month - 1) // 3]}季度"


def _item(entry: LogEntry) -> Item:
    return Item(
        entry.work_date,
        entry.text,
        entry.kind,
        entry.collaborator,
        entry.project_id,
        entry.is_late,
    )


def render_draft(month: Period, digest: MonthDigest) -> str:
    """The monthly summary draft in Chinese, as it is stored and shown."""
    kinds = dict(digest.kinds)
    lines = [zh.DRAFT_HEAD.format(label=_month_label(month))]
    if not digest.entries:
        lines.append(zh.DRAFT_EMPTY)
    else:
        lines.append(
            zh.DRAFT_COUNTS.format(
                days=digest.days_logged,
                count=digest.entries,
                regular=kinds["regular"],
                other=kinds["other"],
                after_hours=kinds["after_hours"],
            )
        )
    c = digest.completeness
    if c is not None:
        excused = zh.DRAFT_EXCUSED.format(days=c.excused) if c.excused else ""
        lines.append(
            zh.DRAFT_COMPLETENESS.format(expected=c.expected, logged=c.logged, excused=excused)
        )
    if digest.late:
        lines.append(zh.DRAFT_LATE.format(count=digest.late))
    if digest.themes:
        lines.append(zh.DRAFT_THEMES.format(themes="、".join(digest.themes)))
    if digest.collaborators:
        partners = "、".join(
            zh.DRAFT_PARTNER.format(name=name, count=count) for name, count in digest.collaborators
        )
        lines.append(zh.DRAFT_PARTNERS.format(partners=partners))
    if digest.projects:
        lines.append(
            zh.DRAFT_PROJECTS.format(
                count=len(digest.projects), entries=sum(n for _, n in digest.projects)
            )
        )
    if digest.highlights:
        lines.append(zh.DRAFT_HIGHLIGHTS)
        lines += [
            f"{n}. {_short(text, HIGHLIGHT_CHARS)}"
            for n, text in enumerate(digest.highlights, start=1)
        ]
    lines += [zh.DRAFT_SHORTCOMINGS, zh.DRAFT_NEXT]
    return "\n".join(lines)


class FormService:
    """/summary and /fivetwo: drafts and suggestions from the cadre's own log, the dialogues
    that turn them into the stored monthly summary and 5+2 form, and /cancel."""

    def __init__(self, uow: UowFactory, clock: Clock, policy: LogPolicy, themes: Themes) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy
        self.themes = themes
        # Who may have a dialogue open: every plain message asks, and a query per message
        # would cost the log's hot path a second transaction. Loaded once from the table,
        # added to on every save, and an id is dropped when the table says its dialogue
        # ended. One process serves each person's updates (a second process would need this
        # shared, with the intake's claims of issue 12).
        self._open: set[int] | None = None

    def today(self) -> date:
        return self.policy.work_date(self.clock.now())

    def warm_up(self) -> None:
        """Load the themes' dictionary now rather than on the first draft (about a second)."""
        warm_up = getattr(self.themes, "warm_up", None)
        if warm_up is not None:
            warm_up()

    # -- the dialogue row ---------------------------------------------------------------------

    def _active(self, row: Conversation | None) -> bool:
        return row is not None and self.clock.now() - row.updated_at < CONVERSATION_IDLE

    @staticmethod
    def _state(row: Conversation | None) -> _Summary | _FiveTwo | None:
        """The stored state, or None when it cannot be read (it is then started afresh)."""
        if row is None:
            return None
        try:
            data = json.loads(row.state)
            if row.kind == SUMMARY:
                return _Summary.load(data)
            if row.kind == FIVETWO:
                return _FiveTwo.load(data)
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable %s dialogue of person %s dropped", row.kind, row.person_id)
        return None

    async def _dialogue(self, uow: UnitOfWork, person_id: int) -> _Summary | _FiveTwo | None:
        row = await uow.forms.conversation(person_id)
        return self._state(row) if self._active(row) else None

    async def _may_be_open(self, person_id: int) -> bool:
        """False when the person certainly has no dialogue (no database read needed)."""
        if self._open is None:
            async with self.uow() as uow:
                self._open = await uow.forms.conversation_people()
        return person_id in self._open

    async def _save(self, uow: UnitOfWork, person_id: int, state: _Summary | _FiveTwo) -> None:
        if self._open is not None:
            self._open.add(person_id)
        kind = SUMMARY if isinstance(state, _Summary) else FIVETWO
        await uow.forms.save_conversation(
            person_id, kind, json.dumps(state.dump(), ensure_ascii=False), self.clock.now()
        )

    async def _opened(
        self, uow: UnitOfWork, person_id: int, kind: str, period: str
    ) -> tuple[_Summary | _FiveTwo | None, str | None]:
        """The earlier dialogue of this form and period (even expired: it resumes), and the
        kind of another active dialogue that starting this one ends."""
        row = await uow.forms.conversation(person_id)
        state = self._state(row)
        if row is not None and row.kind == kind and state is not None:
            same = state.month if isinstance(state, _Summary) else state.quarter
            if same == period:
                return state, None
        ended = row.kind if row is not None and self._active(row) else None
        return None, ended

    def _pick(
        self, kind: Literal["month", "quarter"], text: str | None, grace: int, usage: str
    ) -> tuple[list[Period], Period | None]:
        """The open periods, and the one the cadre named (None: let the caller choose)."""
        today = self.today()
        periods = open_periods(kind, today, grace)
        if not text:
            return periods, None
        wanted = parse_period(text, today)
        if wanted is None or wanted not in periods:
            labels = "、".join(
                (_month_label if kind == "month" else _quarter_label)(p) for p in periods
            )
            raise UsageError(usage.format(text=_short(text, 20), open=labels))
        return periods, wanted

    async def _has_entries(self, uow: UnitOfWork, person_id: int, period: Period) -> bool:
        entries = await uow.entries.for_range(person_id, period.start, period.end)
        return any(not e.withdrawn for e in entries)

    # -- 月小结 --------------------------------------------------------------------------------

    async def draft_for(self, uow: UnitOfWork, person_id: int, month: Period) -> DraftView:
        """The month's summary row of a person, its draft built from their live entries.

        Runs inside the caller's unit of work and does not commit (the monthly job drafts
        many people in one). One row per person and month: calling again refreshes the draft
        from the log until the cadre has confirmed a text, after which it stays as it was.
        """
        now = self.clock.now()
        row = await uow.forms.summary(person_id, month.label)
        if row is None or row.confirmed_at is None:
            draft = await self._build_draft(uow, person_id, month)
            if row is None:
                row = await uow.forms.ensure_summary(person_id, month.label, draft, now)
            if row.confirmed_at is None and row.draft != draft:
                row.draft, row.updated_at = draft, now
        return DraftView(person_id, month, row.draft, row.text, row.confirmed_at)

    async def _build_draft(self, uow: UnitOfWork, person_id: int, month: Period) -> str:
        entries = [
            e
            for e in await uow.entries.for_range(person_id, month.start, month.end)
            if not e.withdrawn
        ]
        absences = await uow.entries.absences(person_id, month.start, month.end)
        logged = {e.work_date for e in entries}
        completeness = self.policy.completeness(month, logged, absences, self.today())
        digest = monthly_draft([_item(e) for e in entries], self.themes, completeness)
        return render_draft(month, digest)

    async def summary_draft(self, person_id: int, month: Period | None = None) -> DraftView:
        """Build (or refresh) and store the draft of a month, by default this one."""
        month = month or Period.containing("month", self.today())
        async with self.uow() as uow:
            view = await self.draft_for(uow, person_id, month)
            await uow.commit()
        return view

    async def start_summary(
        self,
        person_id: int,
        month_text: str | None = None,
        confirm: Confirm[SummaryStep] | None = None,
    ) -> SummaryStep:
        """/summary [month]: show the draft (or the text confirmed before) and wait for an
        edited text or 确认. Without a month: last month while it is still open and not
        confirmed (and had entries), else this month."""
        periods, month = self._pick("month", month_text, SUMMARY_GRACE_DAYS, zh.SUMMARY_WHICH)
        async with self.uow() as uow:
            if month is None:
                month = periods[0]
                if len(periods) > 1:
                    previous = await uow.forms.summary(person_id, periods[1].label)
                    if (
                        previous is None or previous.confirmed_at is None
                    ) and await self._has_entries(uow, person_id, periods[1]):
                        month = periods[1]
            return await self._open_summary(uow, person_id, month, confirm)

    async def _open_summary(
        self,
        uow: UnitOfWork,
        person_id: int,
        month: Period,
        confirm: Confirm[SummaryStep] | None,
    ) -> SummaryStep:
        view = await self.draft_for(uow, person_id, month)
        earlier, ended = await self._opened(uow, person_id, SUMMARY, month.label)
        if isinstance(earlier, _Summary):
            state, resumed = earlier, True
        else:
            state, resumed = _Summary(month.label, view.text or view.draft), False
        await self._save(uow, person_id, state)
        step = SummaryStep(
            month,
            state.shown,
            state.text,
            view.confirmed_at,
            resumed=resumed,
            ended=ended,
        )
        return await commit(uow, confirm, step, self.clock.now())

    async def open_summary(
        self, person_id: int, month_label: str, confirm: Confirm[SummaryStep] | None = None
    ) -> SummaryStep:
        """The 「填写小结」 button of the monthly job's notice: /summary for that month."""
        month = parse_period(month_label, self.today())
        periods = open_periods("month", self.today(), SUMMARY_GRACE_DAYS)
        if month is None or month.label != month_label or month not in periods:
            raise NotFound(zh.SUMMARY_CLOSED)
        async with self.uow() as uow:
            return await self._open_summary(uow, person_id, month, confirm)

    async def confirm_summary(
        self, person_id: int, month_label: str, confirm: Confirm[SummaryStep] | None = None
    ) -> SummaryStep:
        """确认: store the edited text, or what the dialogue showed; an earlier confirmed text
        that differs goes to the audit log."""
        async with self.uow() as uow:
            state = await self._dialogue(uow, person_id)
            if not isinstance(state, _Summary) or state.month != month_label:
                raise NotFound(zh.STALE_BUTTON)
            step = await self._confirm_summary(uow, person_id, state)
            return await commit(uow, confirm, step, self.clock.now())

    async def _confirm_summary(
        self, uow: UnitOfWork, person_id: int, state: _Summary
    ) -> SummaryStep:
        now = self.clock.now()
        month = parse_period(state.month, date.max)
        assert month is not None
        text = state.text if state.text is not None else state.shown
        row = await uow.forms.summary(person_id, month.label)
        if row is None:  # the row the dialogue opened with: made again if it went
            await self.draft_for(uow, person_id, month)
            row = await uow.forms.summary(person_id, month.label)
            assert row is not None
        replaced = row.text is not None and row.text != text
        if replaced:
            await uow.audit.record(
                now,
                "summary_replaced",
                actor_person_id=person_id,
                subject_person_id=person_id,
                command="summary",
                detail={"month": month.label, "before": row.text, "after": text},
            )
        if row.text != text or row.confirmed_at is None:
            row.text, row.confirmed_at, row.updated_at = text, now, now
        await uow.forms.end_conversation(person_id)
        return SummaryStep(month, state.shown, text, row.confirmed_at, done=True, replaced=replaced)

    def _summary_text(self, state: _Summary, text: str, message_id: int | None) -> _Summary:
        text = _text(text)
        if not has_content(text):
            raise UsageError(zh.SUMMARY_EMPTY)
        if len(text) > SUMMARY_LIMIT:
            raise UsageError(zh.SUMMARY_TOO_LONG.format(limit=SUMMARY_LIMIT))
        return replace(state, text=text, messages=_remember(state.messages, message_id))

    # -- 5+2 ------------------------------------------------------------------------------------

    async def start_fivetwo(
        self,
        person_id: int,
        quarter_text: str | None = None,
        confirm: Confirm[FiveTwoStep] | None = None,
    ) -> FiveTwoStep:
        """/fivetwo [quarter]: numbered suggestions from the quarter's log to pick the five
        best from, then the two weaker, then the 自评. Without a quarter: last quarter while
        it is still open and not submitted (and had entries), else this quarter. A form
        submitted before comes back with its choices, to be revised."""
        periods, quarter = self._pick("quarter", quarter_text, FIVETWO_GRACE_DAYS, zh.FIVETWO_WHICH)
        async with self.uow() as uow:
            if quarter is None:
                quarter = periods[0]
                if len(periods) > 1:
                    previous = await uow.forms.fivetwo(person_id, periods[1].label)
                    if (
                        previous is None or previous.submitted_at is None
                    ) and await self._has_entries(uow, person_id, periods[1]):
                        quarter = periods[1]
            form = await uow.forms.fivetwo(person_id, quarter.label)
            earlier, ended = await self._opened(uow, person_id, FIVETWO, quarter.label)
            if isinstance(earlier, _FiveTwo):
                state, resumed = earlier, True
            else:
                state, resumed = await self._new_fivetwo(uow, person_id, quarter, form), False
            await self._save(uow, person_id, state)
            step = self._fivetwo_step(state, form, resumed=resumed, ended=ended)
            return await commit(uow, confirm, step, self.clock.now())

    async def _new_fivetwo(
        self, uow: UnitOfWork, person_id: int, quarter: Period, form: FiveTwoForm | None
    ) -> _FiveTwo:
        """Suggestions from the person's own live entries and the problems their supervisors
        raised in the quarter; a submitted form's choices come first, still chosen."""
        end = min(quarter.end, self.today())
        entries = [
            _item(e)
            for e in await uow.entries.for_range(person_id, quarter.start, end)
            if not e.withdrawn
        ]
        tz = self.policy.rules.tz
        comments = await uow.review.comments(
            person_id,
            datetime.combine(quarter.start, time(), tz),
            datetime.combine(quarter.end + timedelta(days=1), time(), tz),
        )
        concerns = [c.text for c in reversed(comments) if not c.positive]
        candidates = fivetwo_candidates(entries, BEST_SUGGESTED, self.themes, concerns)
        items: list[tuple[str, Origin]] = []
        best: list[int] = []
        weaker: list[int] = []
        self_assessment = None
        if form is not None and form.submitted_at is not None:
            for text in json.loads(form.best):
                items.append((text, "own"))
                best.append(len(items))
            for text in json.loads(form.weaker):
                items.append((text, "own"))
                weaker.append(len(items))
            self_assessment = form.self_assessment
        known = {text for text, _ in items}
        for text in candidates.best:
            text = _short(_text(text), ITEM_LIMIT)
            if text not in known:
                items.append((text, "log"))
                known.add(text)
        for text in candidates.weaker:
            text = _short(_text(text), ITEM_LIMIT)
            if text not in known:
                items.append((text, "concern"))
                known.add(text)
        return _FiveTwo(quarter.label, Step.BEST, items[:MAX_ITEMS], best, weaker, self_assessment)

    @staticmethod
    def _fivetwo_step(state: _FiveTwo, form: FiveTwoForm | None, **flags: Any) -> FiveTwoStep:
        quarter = parse_period(state.quarter, date.max)
        assert quarter is not None
        return FiveTwoStep(
            quarter,
            state.step,
            tuple(FormItem(n, text, origin) for n, (text, origin) in enumerate(state.items, 1)),
            tuple(state.best),
            tuple(state.weaker),
            state.self_assessment,
            form.submitted_at if form is not None else None,
            **flags,
        )

    async def _fivetwo_state(self, uow: UnitOfWork, person_id: int, quarter_label: str) -> _FiveTwo:
        state = await self._dialogue(uow, person_id)
        if not isinstance(state, _FiveTwo) or state.quarter != quarter_label:
            raise NotFound(zh.STALE_BUTTON)
        return state

    async def fivetwo_pick(
        self, person_id: int, quarter_label: str, step: str, number: int
    ) -> FiveTwoStep:
        """A number button: choose the item for the step's list, or take it off again."""
        async with self.uow() as uow:
            state = await self._fivetwo_state(uow, person_id, quarter_label)
            view = self._fivetwo_step(state, None)
            if state.step != step or number not in {i.number for i in view.shown()}:
                raise NotFound(zh.STALE_BUTTON)
            chosen = state.best if step == Step.BEST else state.weaker
            if number in chosen:
                chosen.remove(number)
            else:
                self._check_room(state, 1)
                chosen.append(number)
            return await self._fivetwo_saved(uow, person_id, state)

    async def fivetwo_move(self, person_id: int, quarter_label: str, forward: bool) -> FiveTwoStep:
        """下一步 (the step's list must be full) or 上一步."""
        async with self.uow() as uow:
            state = await self._fivetwo_state(uow, person_id, quarter_label)
            self._move(state, forward)
            return await self._fivetwo_saved(uow, person_id, state)

    @staticmethod
    def _move(state: _FiveTwo, forward: bool) -> None:
        order = [Step.BEST, Step.WEAKER, Step.SELF]
        position = order.index(Step(state.step))
        if forward:
            if state.step == Step.SELF:
                raise NotFound(zh.STALE_BUTTON)
            if state.step == Step.BEST and len(state.best) != BEST_COUNT:
                raise UsageError(zh.FIVETWO_NEED_BEST.format(count=len(state.best)))
            if state.step == Step.WEAKER and len(state.weaker) != WEAKER_COUNT:
                raise UsageError(zh.FIVETWO_NEED_WEAKER.format(count=len(state.weaker)))
            state.step = order[position + 1]
        else:
            if state.step == Step.BEST:
                raise NotFound(zh.STALE_BUTTON)
            state.step = order[position - 1]
        if state.step == Step.WEAKER:
            # An item picked as one of the best in the meantime is no longer a weaker one.
            state.weaker = [n for n in state.weaker if n not in state.best]

    async def _fivetwo_saved(
        self, uow: UnitOfWork, person_id: int, state: _FiveTwo, **flags: Any
    ) -> FiveTwoStep:
        await self._save(uow, person_id, state)
        step = self._fivetwo_step(state, await uow.forms.fivetwo(person_id, state.quarter), **flags)
        await uow.commit()
        return step

    def _check_room(self, state: _FiveTwo, adding: int) -> None:
        if state.step == Step.BEST and len(state.best) + adding > BEST_COUNT:
            raise UsageError(zh.FIVETWO_BEST_FULL.format(count=BEST_COUNT))
        if state.step == Step.WEAKER and len(state.weaker) + adding > WEAKER_COUNT:
            raise UsageError(zh.FIVETWO_WEAKER_FULL.format(count=WEAKER_COUNT))

    def _fivetwo_text(self, state: _FiveTwo, text: str, message_id: int | None) -> int:
        """A message in the dialogue: items typed (or picked by number) for the step's list,
        or the 自评; returns how many items it added."""
        added = 0
        if state.step == Step.SELF:
            assessment = _text(text)
            if not has_content(assessment):
                raise UsageError(zh.FIVETWO_SELF_EMPTY)
            if len(assessment) > SELF_LIMIT:
                raise UsageError(zh.FIVETWO_SELF_TOO_LONG.format(limit=SELF_LIMIT))
            state.self_assessment = assessment
        elif NUMBERS.match(text):
            view = self._fivetwo_step(state, None)
            offered = {i.number for i in view.shown()}
            chosen = state.best if state.step == Step.BEST else state.weaker
            numbers = [int(n) for n in re.findall(r"\d+", text)]
            wanted = [n for n in dict.fromkeys(numbers) if n not in chosen]
            if any(n not in offered for n in numbers):
                raise UsageError(zh.FIVETWO_BAD_NUMBER.format(text=_short(text.strip(), 20)))
            self._check_room(state, len(wanted))
            chosen += wanted
        else:
            items = split_items(text)
            if not items:
                raise UsageError(zh.FIVETWO_ITEM_EMPTY)
            if any(len(item) > ITEM_LIMIT for item in items):
                raise UsageError(zh.FIVETWO_ITEM_TOO_LONG.format(limit=ITEM_LIMIT))
            if len(state.items) + len(items) > MAX_ITEMS:
                raise UsageError(zh.FIVETWO_TOO_MANY.format(limit=MAX_ITEMS))
            self._check_room(state, len(items))
            chosen = state.best if state.step == Step.BEST else state.weaker
            for item in items:
                state.items.append((item, "own"))
                chosen.append(len(state.items))
            added = len(items)
        state.messages = _remember(state.messages, message_id)
        return added

    async def submit_fivetwo(
        self, person_id: int, quarter_label: str, confirm: Confirm[FiveTwoStep] | None = None
    ) -> FiveTwoStep:
        """提交: store the form; an earlier submission of the quarter goes to the audit log."""
        async with self.uow() as uow:
            state = await self._fivetwo_state(uow, person_id, quarter_label)
            if state.step != Step.SELF or state.self_assessment is None:
                raise NotFound(zh.STALE_BUTTON)
            step = await self._submit(uow, person_id, state)
            return await commit(uow, confirm, step, self.clock.now())

    async def _submit(self, uow: UnitOfWork, person_id: int, state: _FiveTwo) -> FiveTwoStep:
        now = self.clock.now()
        best = [state.items[n - 1][0] for n in state.best]
        weaker = [state.items[n - 1][0] for n in state.weaker]
        form = await uow.forms.fivetwo(person_id, state.quarter)
        replaced = False
        if form is None:
            form = FiveTwoForm(person_id=person_id, quarter=state.quarter, created_at=now)
            await uow.forms.add_fivetwo(form)
        elif form.submitted_at is not None:
            before = {
                "best": json.loads(form.best),
                "weaker": json.loads(form.weaker),
                "self": form.self_assessment,
            }
            after = {"best": best, "weaker": weaker, "self": state.self_assessment}
            if before != after:
                replaced = True
                await uow.audit.record(
                    now,
                    "fivetwo_replaced",
                    actor_person_id=person_id,
                    subject_person_id=person_id,
                    command="fivetwo",
                    detail={"quarter": state.quarter, "before": before, "after": after},
                )
        form.best = json.dumps(best, ensure_ascii=False)
        form.weaker = json.dumps(weaker, ensure_ascii=False)
        form.self_assessment = state.self_assessment
        form.submitted_at = now
        form.updated_at = now
        await uow.forms.end_conversation(person_id)
        state.step = Step.DONE
        return self._fivetwo_step(state, form, replaced=replaced)

    # -- messages, edits, /cancel -------------------------------------------------------------

    async def take_text(
        self,
        person_id: int,
        text: str,
        message_id: int | None = None,
        confirm: Confirm[FormReply] | None = None,
    ) -> FormReply | None:
        """A plain message while a dialogue is active is the dialogue's; None (nothing done,
        nothing committed) when none is active and the message is a log message.

        确认 / 下一步 / 上一步 / 取消 typed as a message do what the button or /cancel does.
        """
        if not await self._may_be_open(person_id):
            return None
        async with self.uow() as uow:
            row = await uow.forms.conversation(person_id)
            state = self._state(row) if self._active(row) else None
            if state is None:
                if row is None and self._open is not None:
                    self._open.discard(person_id)
                return None
            word = " ".join(clean_text(text).split()).strip("。.!！").casefold()
            if word in CANCEL_WORDS:
                await uow.forms.end_conversation(person_id)
                kind = SUMMARY if isinstance(state, _Summary) else FIVETWO
                return await commit(uow, confirm, Cancelled(kind), self.clock.now())
            try:
                if isinstance(state, _Summary):
                    reply: FormReply = await self._summary_message(
                        uow, person_id, state, text, word, message_id
                    )
                else:
                    reply = await self._fivetwo_message(
                        uow, person_id, state, text, word, message_id
                    )
            except UsageError as exc:
                # The refusal reminds where the text went and how to leave.
                form = zh.FORM_NAMES[SUMMARY if isinstance(state, _Summary) else FIVETWO]
                raise UsageError(exc.reply + zh.FORM_IN_PROGRESS.format(form=form)) from exc
            return await commit(uow, confirm, reply, self.clock.now())

    async def _summary_message(
        self,
        uow: UnitOfWork,
        person_id: int,
        state: _Summary,
        text: str,
        word: str,
        message_id: int | None,
    ) -> SummaryStep:
        if word in CONFIRM_WORDS:
            return await self._confirm_summary(uow, person_id, state)
        state = self._summary_text(state, text, message_id)
        await self._save(uow, person_id, state)
        month = parse_period(state.month, date.max)
        assert month is not None
        summary = await uow.forms.summary(person_id, state.month)
        return SummaryStep(
            month,
            state.shown,
            state.text,
            summary.confirmed_at if summary is not None else None,
        )

    async def _fivetwo_message(
        self,
        uow: UnitOfWork,
        person_id: int,
        state: _FiveTwo,
        text: str,
        word: str,
        message_id: int | None,
    ) -> FiveTwoStep:
        added = 0
        if word in CONFIRM_WORDS and state.step == Step.SELF:
            if state.self_assessment is None:
                raise UsageError(zh.FIVETWO_SELF_EMPTY)
            return await self._submit(uow, person_id, state)
        if word in BACK_WORDS and state.step == Step.BEST:
            raise UsageError(zh.FIVETWO_FIRST_STEP)
        if word in CONFIRM_WORDS or word in BACK_WORDS:
            self._move(state, forward=word in CONFIRM_WORDS)
        else:
            added = self._fivetwo_text(state, text, message_id)
        await self._save(uow, person_id, state)
        form = await uow.forms.fivetwo(person_id, state.quarter)
        return self._fivetwo_step(state, form, added=added)

    async def took_message(self, person_id: int, message_id: int) -> str | None:
        """The kind of the active dialogue that took this message, if one did: an edit of it
        must not become log entries."""
        if not await self._may_be_open(person_id):
            return None
        async with self.uow() as uow:
            state = await self._dialogue(uow, person_id)
        if state is None or message_id not in (state.messages or []):
            return None
        return SUMMARY if isinstance(state, _Summary) else FIVETWO

    async def cancel(self, person_id: int, confirm: Confirm[Cancelled] | None = None) -> Cancelled:
        """/cancel: end the active dialogue; what was confirmed or submitted before stays."""
        async with self.uow() as uow:
            row = await uow.forms.conversation(person_id)
            kind = row.kind if row is not None and self._active(row) else None
            if row is not None:
                await uow.forms.end_conversation(person_id)
            return await commit(uow, confirm, Cancelled(kind), self.clock.now())

    async def active(self, person_id: int) -> str | None:
        """The kind of the person's active dialogue, if any."""
        async with self.uow() as uow:
            row = await uow.forms.conversation(person_id)
        return row.kind if row is not None and self._active(row) else None
