"""Spreadsheets the product hands out (a long review as an XLSX file), built in memory."""

from __future__ import annotations

import io

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
