"""The spreadsheets keep what cadres typed as text: nothing becomes a formula or a link."""

from __future__ import annotations

import io

import openpyxl

from services import zh
from services.sheets import CompletenessRow, completeness_workbook

TYPED = ['=HYPERLINK("http://evil.example","点这里")', "+1+1", "http://example.com", "0012"]


def test_typed_text_stays_text_in_the_half_year_sheet() -> None:
    rows = [
        CompletenessRow("县发改委", "0012", name, "=SUM(A1:A9)", 10, 9, 1, 0.9) for name in TYPED
    ]
    book = openpyxl.load_workbook(io.BytesIO(completeness_workbook("2026H2 日志公示", rows)))
    summary = book[zh.HALF_YEAR_SUMMARY_SHEET]
    assert summary["A1"].value == "2026H2 日志公示"
    assert [c.value for c in summary[2]] == list(zh.HALF_YEAR_SUMMARY_HEADER)
    assert summary.freeze_panes == "A3"
    detail = book[zh.HALF_YEAR_DETAIL_SHEET]
    cells = [row for row in detail.iter_rows(min_row=2)]
    assert sorted(row[2].value for row in cells) == sorted(TYPED)
    for row in cells:
        assert row[1].value == "0012" and row[1].data_type == "s"
        assert row[2].data_type == "s" and row[3].data_type == "s"
        assert row[3].value == "=SUM(A1:A9)"
        assert row[2].hyperlink is None
