"""Charts (/chart): a cadre's month as a calendar heat map, a supervisor's team as bars.

The use case reads in one unit of work with the set-based reads /team uses, renders the PNG
outside any transaction in a worker thread (matplotlib, Agg), then writes the audit lines of
the reports shown and queues the photo as the update's reply in one short commit: a chart
nobody received is not audited, and a crash before that commit leaves the update pending, to
be replayed. The rendering functions take plain data and need no database.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Protocol

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from scoring.completeness import Completeness
from scoring.dates import Period, PeriodKind, parse_period
from services import zh
from services.clock import Clock
from services.entries import LogPolicy, activity_in
from services.errors import NotAllowed, UsageError
from services.outbox import Confirm
from services.review import LOW_COMPLETENESS
from storage.models import Person
from storage.repositories import PeopleScope
from storage.uow import UnitOfWork, UowFactory

log = logging.getLogger(__name__)

# CJK fonts tried by family name, the first found wins (./dev installs fonts-wqy-microhei).
CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
)
# Drawn with for what the CJK font lacks (matplotlib falls back along the family list).
FALLBACK_FAMILY = "DejaVu Sans"
DPI = 100
SIZE = (8.0, 6.0)  # inches: 800 × 600 px
# A team chart shows at most this many reports, laggards first, and grows taller with them
# (800 × 1,100 px and about 150 KB at most; /team lists everyone).
MAX_BARS = 30
BAR_INCHES = 0.3
# Words that ask a supervisor's own heat map instead of the team chart.
OWN = frozenset({"我", "me", "自己", "本人"})
TEAM_KINDS: frozenset[PeriodKind] = frozenset({"month", "quarter", "half", "year"})

# Entry counts 1, 2, 3, 4, 5+ from light to dark green; counts from DARK_FROM get white text.
COUNT_COLOURS = ("#d6efc2", "#a5d98b", "#6cbf5c", "#3d9a41", "#1e6b2a")
DARK_FROM = 4
MISSING_COLOUR = "#f7c6c5"
MISSING_TEXT = "#b3261e"
EXCUSED_COLOUR = "#c9def5"
REST_COLOUR = "#e6e6e6"
OPEN_COLOUR = "#ffffff"
GRID_EDGE = "#bdbdbd"
TODAY_EDGE = "#212121"
TEXT = "#212121"
MUTED = "#757575"
LOW_COLOUR = "#e57373"
OK_COLOUR = "#66bb6a"
NONE_COLOUR = "#bdbdbd"

# matplotlib's state (rcParams, font cache) is not thread-safe: one figure at a time.
_drawing_lock = threading.Lock()


class DayStatus(StrEnum):
    """How a calendar day shows on the heat map."""

    LOGGED = "logged"  # live entries that day (a working day or not)
    MISSING = "missing"  # a working day due, nothing logged, not excused (无故不记录)
    EXCUSED = "excused"  # a working day covered by an absence (请假, 出差, …)
    REST = "rest"  # a weekend or holiday without entries
    PENDING = "pending"  # today, a working day without entries yet: due when the day ends
    FUTURE = "future"  # a working day after today


@dataclass(frozen=True, slots=True)
class HeatDay:
    day: date
    entries: int  # live entries that day
    status: DayStatus
    absence_kind: str | None = None  # leave / trip / … of an excused day


@dataclass(frozen=True)
class HeatMap:
    """One person's month, day by day, as the heat map draws it."""

    name: str
    roster_id: str
    period: Period
    today: date
    days: tuple[HeatDay, ...]
    completeness: Completeness

    @property
    def entries(self) -> int:
        return sum(d.entries for d in self.days)


@dataclass(frozen=True, slots=True)
class TeamBar:
    person_id: int
    name: str
    roster_id: str
    completeness: Completeness


@dataclass(frozen=True)
class TeamChart:
    """Direct reports' completeness over a period, laggards first (at most MAX_BARS)."""

    period: Period
    today: date
    bars: tuple[TeamBar, ...]
    total: int  # reports in all, shown or not
    to_date: bool  # the period is still running: figures are up to today
    logged: int  # days, summed over every report
    expected: int

    @property
    def rate(self) -> float | None:
        return None if self.expected == 0 else self.logged / self.expected


@dataclass(frozen=True)
class ChartView:
    """What /chart sends: the data drawn and the picture."""

    data: HeatMap | TeamChart
    png: bytes
    file_name: str  # ends in .png: the outbox transport sends it as a photo
    supervisor: bool  # the asker has direct reports (`/chart 我` gives their own heat map)


# -- the use case ---------------------------------------------------------------------------


class ChartService:
    """/chart: completeness as a picture, which a phone shows better than a wide table."""

    def __init__(self, uow: UowFactory, clock: Clock, policy: LogPolicy) -> None:
        self.uow = uow
        self.clock = clock
        self.policy = policy

    def today(self) -> date:
        return self.policy.work_date(self.clock.now())

    async def chart(
        self,
        viewer_id: int,
        text: str | None = None,
        confirm: Confirm[ChartView] | None = None,
    ) -> ChartView:
        """A supervisor's team chart; one's own month (a cadre, or a supervisor with `我`)."""
        words = (text or "").split()
        own = any(w.lower() in OWN for w in words)
        period_text = " ".join(w for w in words if w.lower() not in OWN)
        today = self.today()
        period = self._period(period_text, today)
        async with self.uow() as uow:
            viewer = await uow.people.get(viewer_id)
            if viewer is None or not viewer.active:
                raise NotAllowed(zh.NOT_REGISTERED)
            supervisor = await uow.people.has_reports(viewer_id) > 0
            data: HeatMap | TeamChart
            if supervisor and not own:
                if period.kind not in TEAM_KINDS:
                    raise UsageError(zh.CHART_TEAM_PERIOD.format(text=period_text[:30]))
                data = await self._team(uow, viewer_id, period, today)
            else:
                if period.kind != "month":
                    raise UsageError(zh.CHART_MONTH_ONLY.format(text=period_text[:30]))
                data = await self._heat_map(uow, viewer, period, today)
            roster_id = viewer.roster_id
            # Left without a commit: reading wrote nothing.
        png = await asyncio.to_thread(render, data)
        kind = "team" if isinstance(data, TeamChart) else "month"
        view = ChartView(data, png, f"{kind}_{roster_id}_{period.label}.png", supervisor)
        now = self.clock.now()
        async with self.uow() as uow:
            if isinstance(data, TeamChart):
                # Reading reports' completeness is reading their logs (下管一级), as /team.
                shown = [bar.person_id for bar in data.bars]
                await uow.audit.record_reads(
                    now, viewer_id, shown, "chart", {"period": period.label}
                )
            await _commit_photo(uow, confirm, view, now)
        return view

    def _period(self, text: str, today: date) -> Period:
        if not text:
            return Period.containing("month", today)
        period = parse_period(text, today)
        if period is None:
            raise UsageError(zh.CHART_BAD_PERIOD.format(text=text[:30]))
        if period.start > today:
            raise UsageError(zh.CHART_FUTURE_PERIOD.format(label=period_words(period)))
        return period

    async def _heat_map(
        self, uow: UnitOfWork, person: Person, period: Period, today: date
    ) -> HeatMap:
        entries = await uow.entries.for_range(person.id, period.start, period.end)
        absences = await uow.entries.absences(person.id, period.start, period.end)
        counts = Counter(e.work_date for e in entries if not e.withdrawn)
        completeness = self.policy.completeness(period, set(counts), absences, today)
        days = heat_days(period, today, counts, absences, self.policy.calendar.is_working_day)
        return HeatMap(person.name, person.roster_id, period, today, days, completeness)

    async def _team(
        self, uow: UnitOfWork, viewer_id: int, period: Period, today: date
    ) -> TeamChart:
        scope = PeopleScope(reports_of=viewer_id, active_only=True)
        cards = {card.id: card for card in await uow.people.cards_in(scope)}
        activity = await activity_in(uow, self.policy, scope, period, today, list(cards))
        bars = sorted(
            (
                TeamBar(pid, card.name, card.roster_id, activity[pid].completeness)
                for pid, card in cards.items()
            ),
            key=laggards_first,
        )
        return TeamChart(
            period,
            today,
            tuple(bars[:MAX_BARS]),
            len(bars),
            period.end >= today,
            sum(b.completeness.logged for b in bars),
            sum(b.completeness.expected for b in bars),
        )


async def _commit_photo(
    uow: UnitOfWork, confirm: Confirm[ChartView] | None, view: ChartView, at: datetime
) -> None:
    """Commit with the photo queued as the update's reply (the caption rendered by `confirm`)."""
    if confirm is not None:
        caption, buttons = confirm.render(view)
        document = (view.file_name, view.png)
        confirm.queued = await uow.queue_reply(confirm.chat_id, caption, buttons, at, document)
    await uow.commit()


def laggards_first(bar: TeamBar) -> tuple[float, int, str]:
    """The order of /team: lowest rate first, then most days missing; nothing due last."""
    rate = bar.completeness.rate
    return (2.0 if rate is None else rate, -len(bar.completeness.missing), bar.roster_id)


class ExcusedSpan(Protocol):
    """An absence as the heat map needs it (a stored Absence or its AbsenceView)."""

    @property
    def start_date(self) -> date: ...

    @property
    def end_date(self) -> date: ...

    @property
    def kind(self) -> str: ...


def heat_days(
    period: Period,
    today: date,
    counts: Mapping[date, int],
    absences: Sequence[ExcusedSpan],
    is_working_day: Callable[[date], bool],
) -> tuple[HeatDay, ...]:
    """Each day of the period with its live entries and how it shows (see DayStatus)."""
    excused: dict[date, str] = {}
    for absence in absences:
        day = max(absence.start_date, period.start)
        while day <= min(absence.end_date, period.end):
            excused.setdefault(day, absence.kind)
            day += timedelta(days=1)
    days = []
    for day in period.days():
        entries = counts.get(day, 0)
        kind = None
        if entries:
            status = DayStatus.LOGGED
        elif not is_working_day(day):
            status = DayStatus.REST
        elif day in excused:
            status, kind = DayStatus.EXCUSED, excused[day]
        elif day > today:
            status = DayStatus.FUTURE
        elif day == today:
            status = DayStatus.PENDING
        else:
            status = DayStatus.MISSING
        days.append(HeatDay(day, entries, status, kind))
    return tuple(days)


# -- rendering (plain data in, PNG out) -----------------------------------------------------


@dataclass(frozen=True)
class CjkFont:
    family: str
    path: str


@cache
def cjk_font() -> CjkFont | None:
    """The first installed font of CJK_FAMILIES; None (and a warning) when there is none."""
    found = _find_cjk()
    if found is None:
        # A font installed after matplotlib built its cache is not in it yet: look again.
        known = {entry.fname for entry in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                with contextlib.suppress(Exception):  # a file matplotlib cannot read
                    font_manager.fontManager.addfont(path)
        found = _find_cjk()
    if found is None:
        log.warning(
            "no CJK font found (tried %s): Chinese text in /chart pictures will show as empty "
            "boxes; install one, e.g. apt-get install fonts-wqy-microhei (./dev does)",
            ", ".join(CJK_FAMILIES),
        )
    return found


def _find_cjk() -> CjkFont | None:
    for family in CJK_FAMILIES:
        try:
            path = font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        return CjkFont(family, str(path))
    return None


@contextlib.contextmanager
def drawing() -> Iterator[None]:
    """Draw with the CJK font, one figure at a time (matplotlib's state is global)."""
    with _drawing_lock:
        font = cjk_font()
        families = [font.family, FALLBACK_FAMILY] if font else [FALLBACK_FAMILY]
        with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False}):
            yield


def render(data: HeatMap | TeamChart) -> bytes:
    """The PNG of a heat map or a team chart (call it in a worker thread)."""
    with drawing():
        figure = heat_map_figure(data) if isinstance(data, HeatMap) else team_figure(data)
        return png_of(figure)


def png_of(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def period_words(period: Period) -> str:
    """2026年11月, 2026年第4季度, 2026年下半年, 2026年."""
    start = period.start
    template = zh.CHART_PERIOD_WORDS.get(period.kind)
    if template is None:
        return period.label
    n = (start.month - 1) // 3 + 1 if period.kind == "quarter" else start.month
    half = "上" if start.month <= 6 else "下"
    return template.format(year=start.year, n=n, half=half)


def rate_text(rate: float | None) -> str:
    return zh.RATE_NONE if rate is None else f"{rate:.0%}"


def _cell(day: HeatDay) -> tuple[str, str, str]:
    """Face colour, label and label colour of a day's square."""
    if day.status is DayStatus.LOGGED:
        shade = min(day.entries, len(COUNT_COLOURS)) - 1
        ink = "#ffffff" if day.entries >= DARK_FROM else TEXT
        return COUNT_COLOURS[shade], zh.CHART_ENTRIES.format(n=day.entries), ink
    if day.status is DayStatus.MISSING:
        return MISSING_COLOUR, zh.CHART_MISSING, MISSING_TEXT
    if day.status is DayStatus.EXCUSED:
        kind = zh.ABSENCE_KINDS.get(day.absence_kind or "", zh.CHART_EXCUSED)
        return EXCUSED_COLOUR, kind, TEXT
    if day.status is DayStatus.REST:
        return REST_COLOUR, zh.CHART_REST, MUTED
    if day.status is DayStatus.PENDING:
        return OPEN_COLOUR, zh.CHART_PENDING, MUTED
    return OPEN_COLOUR, "", MUTED


def heat_map_figure(data: HeatMap) -> Figure:
    """A month as weeks × weekdays; call inside `drawing()`."""
    figure = Figure(figsize=SIZE, dpi=DPI)
    c = data.completeness
    figure.text(
        0.5,
        0.95,
        zh.CHART_MONTH_TITLE.format(name=data.name, label=period_words(data.period)),
        ha="center",
        va="center",
        fontsize=17,
        color=TEXT,
    )
    figure.text(
        0.5,
        0.895,
        zh.CHART_MONTH_SUBTITLE.format(
            logged=c.logged,
            expected=c.expected,
            rate=rate_text(c.rate),
            excused=c.excused,
            entries=data.entries,
        ),
        ha="center",
        va="center",
        fontsize=12,
        color=TEXT,
    )
    first = data.period.start
    offset = first.weekday()
    weeks = (offset + len(data.days) + 6) // 7
    axes = figure.add_axes((0.03, 0.14, 0.94, 0.71))
    axes.set_xlim(0, 7)
    axes.set_ylim(weeks, -0.5)
    axes.axis("off")
    for column, weekday in enumerate(zh.WEEKDAYS):
        axes.text(
            column + 0.5,
            -0.25,
            zh.CHART_WEEKDAY.format(day=weekday),
            ha="center",
            va="center",
            fontsize=11,
            color=MUTED,
        )
    for day in data.days:
        row, column = divmod(offset + day.day.day - 1, 7)
        face, label, ink = _cell(day)
        today = day.day == data.today
        axes.add_patch(
            Rectangle(
                (column + 0.05, row + 0.05),
                0.9,
                0.9,
                facecolor=face,
                edgecolor=TODAY_EDGE if today else GRID_EDGE,
                linewidth=3.0 if today else 0.8,
                zorder=3 if today else 2,
            )
        )
        axes.text(column + 0.12, row + 0.24, str(day.day.day), fontsize=9, color=ink, zorder=4)
        if label:
            axes.text(
                column + 0.5,
                row + 0.62,
                label,
                ha="center",
                va="center",
                fontsize=12,
                color=ink,
                zorder=4,
            )
    counts = [
        Patch(facecolor=colour, edgecolor=GRID_EDGE, label=label)
        for colour, label in zip(COUNT_COLOURS, zh.CHART_LEGEND_COUNTS, strict=True)
    ]
    others = [
        Patch(facecolor=MISSING_COLOUR, edgecolor=GRID_EDGE, label=zh.CHART_LEGEND_MISSING),
        Patch(facecolor=EXCUSED_COLOUR, edgecolor=GRID_EDGE, label=zh.CHART_LEGEND_EXCUSED),
        Patch(facecolor=REST_COLOUR, edgecolor=GRID_EDGE, label=zh.CHART_LEGEND_REST),
        Patch(facecolor=OPEN_COLOUR, edgecolor=TODAY_EDGE, linewidth=2, label=zh.CHART_TODAY),
    ]
    # The legend fills column by column: counts make the first row, the others the second.
    handles = [h for pair in zip(counts, others, strict=False) for h in pair] + counts[4:]
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=5,
        frameon=False,
        fontsize=10,
        bbox_to_anchor=(0.5, 0.0),
        handlelength=1.2,
        columnspacing=1.2,
    )
    return figure


def _bar_labels(bars: Sequence[TeamBar]) -> list[str]:
    """Names, with the 工号 where a name occurs twice."""
    seen = Counter(bar.name for bar in bars)
    return [
        zh.CHART_NAME_ID.format(name=b.name, id=b.roster_id) if seen[b.name] > 1 else b.name
        for b in bars
    ]


def team_figure(data: TeamChart) -> Figure:
    """One horizontal bar per report, laggards on top, with rate labels; call in `drawing()`."""
    count = len(data.bars)
    height = max(SIZE[1], 1.9 + BAR_INCHES * count)
    figure = Figure(figsize=(SIZE[0], height), dpi=DPI)
    top, bottom, left = 1.05, 0.95, 1.55  # inches kept for titles, axis and legend, names
    axes = figure.add_axes(
        (left / SIZE[0], bottom / height, 1 - (left + 0.2) / SIZE[0], 1 - (top + bottom) / height)
    )
    figure.text(
        0.5,
        1 - 0.35 / height,
        zh.CHART_TEAM_TITLE.format(label=period_words(data.period), total=data.total),
        ha="center",
        va="center",
        fontsize=16,
        color=TEXT,
    )
    subtitle = zh.CHART_TEAM_SUBTITLE.format(
        logged=data.logged, expected=data.expected, rate=rate_text(data.rate)
    )
    if data.to_date:
        subtitle += zh.CHART_TO_DATE.format(date=zh.md(data.today))
    if count < data.total:
        subtitle += zh.CHART_TEAM_SHOWN.format(shown=count)
    figure.text(0.5, 1 - 0.72 / height, subtitle, ha="center", va="center", fontsize=11, color=TEXT)
    low = LOW_COMPLETENESS * 100
    widths, colours, labels = [], [], []
    for bar in data.bars:
        c = bar.completeness
        if c.rate is None:
            widths.append(0.0)
            colours.append(NONE_COLOUR)
            labels.append(zh.RATE_NONE)
            continue
        widths.append(c.rate * 100)
        colours.append(LOW_COLOUR if c.rate * 100 < low else OK_COLOUR)
        labels.append(
            zh.CHART_BAR_LABEL.format(rate=rate_text(c.rate), logged=c.logged, expected=c.expected)
        )
    positions = list(range(count))
    axes.barh(positions, widths, color=colours, height=0.62, zorder=2)
    axes.set_yticks(positions, labels=_bar_labels(data.bars), fontsize=11)
    axes.set_ylim(count - 0.5, -0.5)  # the first (the furthest behind) on top
    axes.set_xlim(0, 132)
    axes.set_xticks([0, 20, 40, 60, 80, 100])
    axes.set_xlabel(zh.CHART_RATE_AXIS, fontsize=10, color=MUTED)
    axes.tick_params(axis="x", labelsize=9, colors=MUTED)
    axes.axvline(low, color=MUTED, linestyle="--", linewidth=1, zorder=1)
    axes.grid(axis="x", color="#eeeeee", zorder=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for position, width, label in zip(positions, widths, labels, strict=True):
        axes.text(width + 1.5, position, label, va="center", fontsize=10, color=TEXT, zorder=3)
    handles = [
        Patch(facecolor=OK_COLOUR, label=zh.CHART_LEGEND_OK.format(low=round(low))),
        Patch(facecolor=LOW_COLOUR, label=zh.CHART_LEGEND_LOW.format(low=round(low))),
        Patch(facecolor=NONE_COLOUR, label=zh.CHART_LEGEND_NONE),
    ]
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=3,
        frameon=False,
        fontsize=10,
        bbox_to_anchor=(0.5, 0.0),
    )
    return figure
