"""Spreadsheets the product hands out (a long review, the half-year publication), in memory."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from scoring.grades import Grade, Rating
from services import zh
from services.grading import GradeReport
from services.review import ReviewView


def review_workbook(view: ReviewView) -> bytes:
    """One row per entry; the evidence marks (补记, 已修改, 已撤回) and 质量提示 have columns."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(zh.REVIEW_SHEET_TITLE)
    sheet.append(list(zh.REVIEW_SHEET_HEADER))
    for row in view.entries:
        entry = row.entry
        sheet.append(
            [
                entry.work_date,
                entry.item_no,
                entry.text,
                zh.KIND_LABELS[entry.kind],
                entry.collaborator or "",
                zh.YES if entry.is_late else "",
                zh.YES if row.changed else "",
                zh.YES if entry.withdrawn else "",
                "、".join(zh.QUALITY_SHEET_NAMES[flag] for flag in _in_order(row.flags)),
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _in_order(flags: tuple[str, ...]) -> list[str]:
    """Quality flags in the order the wording lists them (unknown ones are left out)."""
    return [flag for flag in zh.QUALITY_MARKS if flag in flags]


@dataclass(frozen=True, slots=True)
class CompletenessRow:
    unit: str
    roster_id: str
    name: str
    position: str
    expected: int
    logged: int
    excused: int
    rate: float | None


def completeness_workbook(title: str, rows: list[CompletenessRow]) -> bytes:
    """半年公示: one row per cadre, by unit then 完成率 from the lowest, and a sheet per unit."""
    book = Workbook(write_only=True)
    units: dict[str, list[CompletenessRow]] = {}
    for row in rows:
        units.setdefault(row.unit, []).append(row)
    summary = book.create_sheet(zh.HALF_YEAR_SUMMARY_SHEET)
    summary.append([title])
    summary.append(list(zh.HALF_YEAR_SUMMARY_HEADER))
    for unit, members in sorted(units.items()):
        expected = sum(m.expected for m in members)
        logged = sum(m.logged for m in members)
        summary.append([unit, len(members), expected, logged, _percent(logged, expected)])
    detail = book.create_sheet(zh.HALF_YEAR_DETAIL_SHEET)
    detail.append(list(zh.HALF_YEAR_DETAIL_HEADER))
    for unit, members in sorted(units.items()):
        for m in sorted(members, key=lambda m: (2.0 if m.rate is None else m.rate, m.roster_id)):
            rate = "" if m.rate is None else round(m.rate * 100, 1)
            detail.append(
                [unit, m.roster_id, m.name, m.position, m.expected, m.logged, m.excused, rate]
            )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _percent(part: int, whole: int) -> float | str:
    return "" if whole == 0 else round(part / whole * 100, 1)


# Widths (characters) of the grade table's columns, in GRADES_HEADER order.
_GRADE_WIDTHS = (18, 10, 8, 14, 8, 8, 8, 7, 8, 7, 10, 8, 8, 7, 30, 30, 12, 8, 12, 60)
_SUMMARY_WIDTHS = (18, 12, 6, 9, 9, 7, 5, 5, 5, 5, 5, 5, 8, 6, 12)


def grades_workbook(report: GradeReport) -> bytes:
    """The grade table: one row per cadre in DESIGN.md's columns, and a per-unit summary."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(zh.GRADES_SHEET)
    _layout(sheet, _GRADE_WIDTHS)
    sheet.append(list(zh.GRADES_HEADER))
    for row in report.rows:
        sheet.append(row.columns())
    summary = book.create_sheet(zh.GRADES_SUMMARY_SHEET)
    _layout(summary, _SUMMARY_WIDTHS)
    summary.append(list(zh.GRADES_SUMMARY_HEADER))
    for unit in report.units:
        summary.append(
            [
                unit.unit,
                unit.category or zh.NO_CATEGORY,
                unit.cadres,
                unit.expected,
                unit.logged,
                "" if unit.rate is None else round(unit.rate * 100, 1),
                *(unit.ratings.get(r, 0) for r in Rating),
                *(unit.grades.get(g, 0) for g in Grade),
                "" if unit.mean_score is None else unit.mean_score,
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _layout(sheet: Any, widths: tuple[int, ...]) -> None:
    """Frozen header row and column widths (set before the first row in write-only mode)."""
    sheet.freeze_panes = "A2"
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
