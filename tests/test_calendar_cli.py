"""`worklog calendar YEAR`: the admin checks a year's working days before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from scheduler.calendar import OFFICIAL_YEARS


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("WORKLOG_TELEGRAM_TOKEN", raising=False)
    monkeypatch.delenv("WORKLOG_DATABASE_URL", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/worklog.db"\n', encoding="utf-8"
    )
    return path


def calendar_of(config: Path, year: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["-c", str(config), "calendar", year]) == 0
    return capsys.readouterr().out.splitlines()


def month_block(lines: list[str], month: int) -> list[str]:
    """The lines of one month, from its head line up to the blank line after it."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{month}月："))
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


def test_a_published_year(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = calendar_of(config_file, "2026", capsys)
    assert lines[:3] == [
        "2026年工作日历",
        "依据：国务院办公厅公布的节假日安排（法定日历）。",
        "全年工作日248天。",
    ]
    assert month_block(lines, 2) == [
        "2月：工作日16天（法定日历）",
        "  放假：春节 2月15日至2月23日 共9天（法定日历）",
        "  调休上班：2月14日 周六（春节调休，法定日历）",
        "  调休上班：2月28日 周六（春节调休，法定日历）",
    ]
    assert month_block(lines, 10) == [
        "10月：工作日18天（法定日历）",
        "  放假：国庆节 10月1日至10月7日 共7天（法定日历）",
        "  调休上班：10月10日 周六（国庆节调休，法定日历）",
    ]
    assert month_block(lines, 11) == ["11月：工作日21天（法定日历）"]
    assert "  放假：清明节 4月4日至4月6日 共3天（法定日历）" in lines
    assert "  放假：中秋节 9月25日至9月27日 共3天（法定日历）" in lines
    assert sum(line.endswith("天（法定日历）") for line in lines if "工作日" in line) == 12


@pytest.mark.skipif(2030 in OFFICIAL_YEARS, reason="chinesecalendar now knows 2030")
def test_a_year_not_yet_published(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = calendar_of(config_file, "2030", capsys)
    assert lines[0] == "2030年工作日历"
    assert lines[1].startswith("注意：尚无2030年的法定节假日安排")
    assert "周一至周五推算" in lines[1]
    assert "calendar.extra_holidays" in lines[2]
    assert "全年工作日261天。" in lines
    assert month_block(lines, 10) == ["10月：工作日23天（周一至周五推算）"]
    assert not any("放假" in line or "调休上班" in line for line in lines[3:])


def test_overrides_from_the_config(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with config_file.open("a", encoding="utf-8") as out:
        out.write(
            "[calendar]\n"
            'extra_holidays = ["2030-10-01", "2030-10-02", "2030-10-03", "2026-11-23"]\n'
            'extra_workdays = ["2030-09-29", "2026-10-07"]\n'
        )
    lines = calendar_of(config_file, "2030", capsys)
    assert lines[2].startswith("请在配置")
    assert lines[3].startswith("本年有配置的节假日或调休")
    assert "全年工作日259天。" in lines  # three weekdays off, one Sunday worked
    assert month_block(lines, 9) == [
        "9月：工作日22天（周一至周五推算，含配置调整）",
        "  调休上班：9月29日 周日（配置）",
    ]
    assert month_block(lines, 10) == [
        "10月：工作日20天（周一至周五推算，含配置调整）",
        "  放假：10月1日至10月3日 共3天（配置）",
    ]

    lines = calendar_of(config_file, "2026", capsys)
    assert "全年工作日248天。" in lines  # one day more, one day less
    assert month_block(lines, 10) == [
        "10月：工作日19天（法定日历，含配置调整）",
        "  放假：国庆节 10月1日至10月6日 共6天（法定日历）",
        "  调休上班：10月7日 周三（国庆节调休，配置）",
        "  调休上班：10月10日 周六（国庆节调休，法定日历）",
    ]
    assert month_block(lines, 11) == [
        "11月：工作日20天（法定日历，含配置调整）",
        "  放假：11月23日（配置）",
    ]


def test_a_year_out_of_range(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(config_file), "calendar", "10000"]) == 2
    assert "年份 10000 不对" in capsys.readouterr().err
    for year in ("1", "1999", "2100", "9999"):
        assert calendar_of(config_file, year, capsys)[0] == f"{year}年工作日历"
