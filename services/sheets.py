"""Spreadsheets the product hands out (a long review, the half-year publication), in memory."""

from __future__ import annotations

import io
from dataclasses import dataclass

from openpyxl import Workbook

from services import zh
from services.review import ReviewView


def review_workbook(view: ReviewView) -> bytes:
    """One row per entry; the evidence marks (补记, 已修改, 已撤回) have their own columns."""
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
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


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
