"""The /chart pictures from plain data, no database: which day shows how, what the PNG holds,
and that every Chinese label is drawn with a font that has its glyphs (no empty boxes)."""

from __future__ import annotations

import io
import logging
import warnings
from collections import Counter
from datetime import date
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.image import imread
from matplotlib.text import Text

from scoring.completeness import completeness
from scoring.dates import Period, expected_days
from services import charts, zh
from services.charts import (
    DayStatus,
    HeatMap,
    TeamBar,
    TeamChart,
    cjk_font,
    drawing,
    heat_days,
    heat_map_figure,
    laggards_first,
    period_words,
    png_of,
    render,
    team_figure,
)

NOVEMBER = Period.month(2026, 11)
TODAY = date(2026, 11, 20)  # a Friday


def nov(day: int) -> date:
    return date(2026, 11, day)


def weekdays(day: date) -> bool:
    return day.weekday() < 5


def absence(start: int, end: int, kind: str = "trip") -> Any:
    return SimpleNamespace(start_date=nov(start), end_date=nov(end), kind=kind)


COUNTS = Counter({nov(d): n for d, n in [(2, 1), (3, 2), (4, 3), (5, 4), (6, 7), (14, 1), (20, 2)]})
ABSENCES = [absence(10, 11), absence(24, 24, "leave")]


def heat_map(
    counts: dict[date, int] | None = None,
    absences: list[Any] | None = None,
    today: date = TODAY,
    period: Period = NOVEMBER,
    name: str = "张三",
) -> HeatMap:
    counts = COUNTS if counts is None else counts
    absences = ABSENCES if absences is None else absences
    days = heat_days(period, today, counts, absences, weekdays)
    excused = {d.day for d in days if d.status is DayStatus.EXCUSED}
    working = expected_days(period, SimpleNamespace(is_working_day=weekdays), until=today)
    done = completeness(working, set(counts), excused, today)
    return HeatMap(name, "A001", period, today, days, done)


def team(names: list[str], logged: list[int], total: int | None = None) -> TeamChart:
    working = expected_days(NOVEMBER, SimpleNamespace(is_working_day=weekdays), until=TODAY)
    bars = sorted(
        (
            TeamBar(n, name, f"A{n:03d}", completeness(working, set(working[:days]), (), TODAY))
            for n, (name, days) in enumerate(zip(names, logged, strict=True))
        ),
        key=laggards_first,
    )
    return TeamChart(
        NOVEMBER,
        TODAY,
        tuple(bars),
        total or len(bars),
        True,
        sum(b.completeness.logged for b in bars),
        sum(b.completeness.expected for b in bars),
    )


def texts_of(figure: Figure) -> list[str]:
    """Every non-empty string the figure draws (titles, cells, ticks, legend)."""
    return [t.get_text() for t in figure.findobj(Text) if t.get_text().strip()]


def titles(figure: Figure) -> list[str]:
    """The title and the line under it."""
    return [t.get_text() for t in figure.texts]


def decoded(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(io.BytesIO(png), format="png")


# -- which day shows how ------------------------------------------------------------------------


def test_each_day_of_the_month_shows_its_entries_absence_or_gap() -> None:
    days = {d.day.day: d for d in heat_map().days}
    assert len(days) == 30
    status = {n: d.status for n, d in days.items()}
    assert [n for n, s in status.items() if s is DayStatus.LOGGED] == [2, 3, 4, 5, 6, 14, 20]
    assert (days[6].entries, days[14].entries) == (7, 1)  # 14th: a Saturday, worked anyway
    assert [n for n, s in status.items() if s is DayStatus.EXCUSED] == [10, 11, 24]
    assert days[24].absence_kind == "leave"  # leave ahead is shown ahead
    # Working days before today without entries or excuse: 无故不记录.
    assert [n for n, s in status.items() if s is DayStatus.MISSING] == [9, 12, 13, 16, 17, 18, 19]
    assert [n for n, s in status.items() if s is DayStatus.FUTURE] == [23, 25, 26, 27, 30]
    assert status[1] is status[7] is status[29] is DayStatus.REST


def test_missing_days_are_exactly_the_completeness_gaps() -> None:
    data = heat_map()
    missing = tuple(d.day for d in data.days if d.status is DayStatus.MISSING)
    assert missing == data.completeness.missing
    assert (data.completeness.logged, data.completeness.expected) == (6, 13)
    assert data.entries == 20


def test_today_without_entries_is_pending_not_missing() -> None:
    days = {d.day.day: d.status for d in heat_map(counts={}).days}
    assert days[20] is DayStatus.PENDING
    assert days[19] is DayStatus.MISSING


def test_a_past_month_has_no_pending_or_future_days() -> None:
    october = Period.month(2026, 10)
    statuses = {d.status for d in heat_map(counts={}, absences=[], period=october).days}
    assert statuses == {DayStatus.MISSING, DayStatus.REST}


def test_team_bars_put_laggards_first_and_nothing_due_last() -> None:
    chart = team(["满分", "一半", "零", "李四"], [14, 7, 0, 3])
    assert [b.name for b in chart.bars] == ["零", "李四", "一半", "满分"]
    nothing_due = TeamBar(9, "新人", "A009", completeness([], [], [], TODAY))
    assert sorted([*chart.bars, nothing_due], key=laggards_first)[-1] is nothing_due


@pytest.mark.parametrize(
    ("period", "words"),
    [
        (Period.month(2026, 11), "2026年11月"),
        (Period.quarter(2026, 4), "2026年第4季度"),
        (Period.half(2026, 1), "2026年上半年"),
        (Period.half(2026, 2), "2026年下半年"),
        (Period.year(2026), "2026年"),
    ],
)
def test_period_words(period: Period, words: str) -> None:
    assert period_words(period) == words


# -- the pictures -------------------------------------------------------------------------------


def test_heat_map_png_is_800_by_600_small_and_colourful() -> None:
    png = render(heat_map())
    assert len(png) < 200_000
    pixels = decoded(png)
    assert pixels.shape[:2] == (600, 800)
    colours = {tuple(p) for p in (pixels[:, :, :3] * 255).round().astype(int).reshape(-1, 3)}
    assert len(colours) > 50  # cells, shades and antialiased text, not a blank canvas


def test_heat_map_draws_title_cells_today_and_legend() -> None:
    with drawing():
        figure = heat_map_figure(heat_map())
        texts = texts_of(figure)
    assert titles(figure) == [
        "张三 2026年11月 工作日志",
        "已记6天 / 应记13天，完成率 46%，请假2天，共20条",
    ]
    for label in [f"周{d}" for d in "一二三四五六日"] + ["7条", "未记", "出差", "请假", "休"]:
        assert label in texts, label
    assert "待记" not in texts  # today has entries
    assert "5条以上" in texts and "今天" in texts and "请假、出差等" in texts
    [today] = [
        p
        for p in figure.axes[0].patches
        if p.get_linewidth() > 2  # the outlined square
    ]
    assert today.get_xy() == pytest.approx((4.05, 3.05))  # Friday, the fourth week


def test_today_is_not_outlined_in_another_month() -> None:
    with drawing():
        figure = heat_map_figure(heat_map(counts={}, absences=[], period=Period.month(2026, 10)))
    assert all(p.get_linewidth() < 2 for p in figure.axes[0].patches)


def test_someone_without_entries_still_gets_a_heat_map() -> None:
    data = heat_map(counts={}, absences=[])
    with drawing():
        figure = heat_map_figure(data)
        texts = texts_of(figure)
    assert titles(figure)[1] == "已记0天 / 应记14天，完成率 0%，请假0天，共0条"
    assert texts.count("未记") == 14 + 1  # the 14 days and the legend
    assert "待记" in texts  # today
    assert decoded(render(data)).shape[:2] == (600, 800)


def test_team_chart_labels_each_bar_with_its_rate() -> None:
    chart = team(["张三", "李四", "王五", "张三"], [14, 3, 0, 7])
    with drawing():
        figure = team_figure(chart)
        texts = texts_of(figure)
    assert titles(figure) == [
        "2026年11月 团队日志完成率（4人）",
        "合计已记24天 / 应记56天，完成率 43%，截至11月20日",
    ]
    ticks = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert ticks == ["王五", "李四", "张三（A003）", "张三（A000）"]  # 工号 where names repeat
    for label in ["0%（0/14天）", "21%（3/14天）", "50%（7/14天）", "100%（14/14天）"]:
        assert label in texts, label
    assert "低于80%" in texts and "达到80%" in texts
    pixels = decoded(render(chart))
    assert pixels.shape[:2] == (600, 800)


def test_a_large_team_grows_taller_and_lists_the_laggards_only() -> None:
    names = [f"干部{n}" for n in range(charts.MAX_BARS)]
    chart = team(names, [n % 15 for n in range(charts.MAX_BARS)], total=55)
    with drawing():
        figure = team_figure(chart)
    assert titles(figure)[0] == "2026年11月 团队日志完成率（55人）"
    assert titles(figure)[1].endswith(f"；只列完成率最低的{charts.MAX_BARS}人")
    png = render(chart)
    assert len(png) < 170_000  # the largest picture /chart sends
    height, width = decoded(png).shape[:2]
    assert width == 800 and height > 600


# -- Chinese is drawn with a font that has it ---------------------------------------------------


def test_a_cjk_font_is_installed_and_found() -> None:
    font = cjk_font()
    assert font is not None, "install fonts-wqy-microhei (./dev does)"
    assert font.family in charts.CJK_FAMILIES
    assert FT2Font(font.path).get_char_index(ord("记")) != 0


@pytest.mark.parametrize(
    "figure_of",
    [
        lambda: heat_map_figure(heat_map()),
        lambda: heat_map_figure(heat_map(counts={}, absences=[absence(2, 30, "training")])),
        lambda: team_figure(team(["张三", "李四", "欧阳娜娜", "张三"], [14, 3, 0, 7], total=9)),
    ],
)
def test_every_character_drawn_has_a_glyph_and_none_is_reported_missing(
    figure_of: Any, caplog: pytest.LogCaptureFixture
) -> None:
    font = cjk_font()
    assert font is not None
    face = FT2Font(font.path)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        with drawing():
            figure = figure_of()
            texts = texts_of(figure)
            png_of(figure)
    lacking = sorted({ch for text in texts for ch in text if face.get_char_index(ord(ch)) == 0})
    assert lacking == []
    assert any("记" in t or "率" in t for t in texts)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    missing += [r.getMessage() for r in caplog.records if "missing from" in r.getMessage()]
    assert missing == []


def test_the_glyph_check_would_see_an_empty_box() -> None:
    """A character no font has (private use) is reported: the check above can fail."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with drawing():
            png_of(heat_map_figure(heat_map(name="张\ue000")))
    assert any("missing from" in str(w.message) for w in caught)


def test_no_cjk_font_is_said_in_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font Family",))
    monkeypatch.setattr(charts.font_manager, "findSystemFonts", lambda: [])
    cjk_font.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="services.charts"):
            assert cjk_font() is None
        assert "no CJK font found" in caplog.text and "fonts-wqy-microhei" in caplog.text
    finally:
        cjk_font.cache_clear()


def test_labels_are_in_the_zh_module() -> None:
    """The legend of counts matches the colours: one label per shade."""
    assert len(zh.CHART_LEGEND_COUNTS) == len(charts.COUNT_COLOURS)
