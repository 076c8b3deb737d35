"""Spreadsheets the product hands out (a long review, the half-year publication), in memory."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import xlsxwriter

from scoring.grades import Grade, Rating
from scoring.projects import Investor, KeyLevel, Stage
from services import zh
from services.grading import GradeReport
from services.project_reports import Ledger, ProjectScoreReport, line_explanation, rule_name
from services.review import ReviewView
from storage.projects import split_aliases


class _Book:
    """An XlsxWriter workbook built in memory.

    Every string is written as text: an entry that begins with "=" stays words and never
    becomes a formula (or a link) in the reader's Excel.
    """

    def __init__(self, stream: bool = False) -> None:
        """`stream`: rows go to a temporary file as they are written (a city's table), and
        strings are stored inline; otherwise the whole book is built in memory."""
        self.out = io.BytesIO()
        self.book = xlsxwriter.Workbook(
            self.out,
            {
                "constant_memory": stream,
                "in_memory": not stream,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.day = self.book.add_format({"num_format": "yyyy-mm-dd"})

    def sheet(
        self, title: str, header: Sequence[object], widths: Sequence[int] = (), frozen: int = 1
    ) -> Any:
        """A sheet with its header row (frozen) and column widths."""
        sheet = self.book.add_worksheet(title)
        if frozen:
            sheet.freeze_panes(frozen, 0)
        for index, width in enumerate(widths):
            sheet.set_column(index, index, width)
        sheet.write_row(frozen - 1 if frozen else 0, 0, header)
        return sheet

    def row(self, sheet: Any, number: int, values: Sequence[object]) -> None:
        for column, value in enumerate(values):
            if isinstance(value, date):
                sheet.write_datetime(number, column, value, self.day)
            else:
                sheet.write(number, column, value)

    def bytes(self) -> bytes:
        self.book.close()
        return self.out.getvalue()


def review_workbook(view: ReviewView) -> bytes:
    """One row per entry; the evidence marks (补记, 已修改, 已撤回) and 质量提示 have columns."""
    book = _Book()
    sheet = book.sheet(zh.REVIEW_SHEET_TITLE, zh.REVIEW_SHEET_HEADER, frozen=0)
    for number, row in enumerate(view.entries, start=1):
        entry = row.entry
        book.row(
            sheet,
            number,
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
            ],
        )
    return book.bytes()


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
    book = _Book()
    units: dict[str, list[CompletenessRow]] = {}
    for row in rows:
        units.setdefault(row.unit, []).append(row)
    summary = book.sheet(zh.HALF_YEAR_SUMMARY_SHEET, zh.HALF_YEAR_SUMMARY_HEADER, frozen=2)
    summary.write(0, 0, title)
    for number, (unit, members) in enumerate(sorted(units.items()), start=2):
        expected = sum(m.expected for m in members)
        logged = sum(m.logged for m in members)
        book.row(
            summary, number, [unit, len(members), expected, logged, _percent(logged, expected)]
        )
    detail = book.sheet(zh.HALF_YEAR_DETAIL_SHEET, zh.HALF_YEAR_DETAIL_HEADER)
    number = 0
    for unit, members in sorted(units.items()):
        for m in sorted(members, key=lambda m: (2.0 if m.rate is None else m.rate, m.roster_id)):
            number += 1
            rate = "" if m.rate is None else round(m.rate * 100, 1)
            book.row(
                detail,
                number,
                [unit, m.roster_id, m.name, m.position, m.expected, m.logged, m.excused, rate],
            )
    return book.bytes()


def _percent(part: int, whole: int) -> float | str:
    return "" if whole == 0 else round(part / whole * 100, 1)


# Widths (characters) of the grade table's columns, in GRADES_HEADER order.
_GRADE_WIDTHS = (18, 10, 8, 14, 8, 8, 8, 7, 8, 7, 10, 8, 8, 7, 30, 30, 12, 8, 12, 60)
_SUMMARY_WIDTHS = (18, 12, 6, 9, 9, 7, 5, 5, 5, 5, 5, 5, 8, 6, 12)


def grades_workbook(report: GradeReport) -> bytes:
    """The grade table: one row per cadre in DESIGN.md's columns, and a per-unit summary.

    XlsxWriter, streaming row by row, writes a city's 35,000 rows in a fraction of
    openpyxl's time and memory.
    """
    book = _Book(stream=True)
    sheet = book.sheet(zh.GRADES_SHEET, zh.GRADES_HEADER, _GRADE_WIDTHS)
    for number, row in enumerate(report.rows, start=1):
        sheet.write_row(number, 0, row.columns())
    summary = book.sheet(zh.GRADES_SUMMARY_SHEET, zh.GRADES_SUMMARY_HEADER, _SUMMARY_WIDTHS)
    for number, unit in enumerate(report.units, start=1):
        summary.write_row(
            number,
            0,
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
            ],
        )
    return book.bytes()


def _wan(yuan: int | None) -> float | str:
    """An amount in 万元 for a number cell (the ledger's unit)."""
    return "" if yuan is None else round(yuan / 10_000, 2)


def _person(pair: tuple[str, str] | None) -> str:
    return f"{pair[1]}（{pair[0]}）" if pair else ""


_LEDGER_WIDTHS = (28, 16, 8, 6, 12, 14, 9, 11, 11, 11, 11, 8, 10, 7, 7, 14, 16, 16, 14, 30)
_LEDGER_WIDTHS_TAIL = (12, 40, 9, 14)


def ledger_workbook(ledger: Ledger) -> bytes:
    """The project ledger (台账): one row per project, investment progress, last update."""
    book = _Book()
    sheet = book.sheet(zh.LEDGER_SHEET, zh.LEDGER_HEADER, _LEDGER_WIDTHS + _LEDGER_WIDTHS_TAIL)
    for number, line in enumerate(ledger.lines, start=1):
        row, project = line.row, line.row.project
        planned, completed = project.planned_yuan, project.completed_yuan
        book.row(
            sheet,
            number,
            [
                project.name,
                "；".join(split_aliases(project.aliases)),
                project.category,
                Stage(project.stage).word,
                _wan(planned),
                _wan(completed),
                _percent(completed, planned) if planned and completed is not None else "",
                project.signed_on or "",
                project.started_on or "",
                project.expected_on or "",
                project.above_scale_on or "",
                KeyLevel(project.key_level).word if project.key_level else "",
                Investor(project.investor).word if project.investor else "",
                zh.YES if project.headquarters else zh.NO,
                zh.YES if project.supervised else zh.NO,
                _person(row.leader),
                row.unit_name or "",
                project.task_force or "",
                _person(row.secretary),
                "、".join(_person(m) for m in row.members),
                line.last_update_on or "",
                row.last_update_text or "",
                line.silent_days,
                zh.LEDGER_STALE.format(days=ledger.stale_days) if line.stale else "",
            ],
        )
    return book.bytes()


def project_score_workbook(report: ProjectScoreReport) -> bytes:
    """The quarterly unit project score: the ranking, and one row per bonus or deduction."""
    book = _Book()
    units = book.sheet(zh.PROJECT_SCORE_SHEET, zh.PROJECT_SCORE_HEADER, (6, 24, 8, 8, 8, 8))
    lines = book.sheet(zh.PROJECT_LINES_SHEET, zh.PROJECT_LINES_HEADER, (24, 28, 34, 9, 9, 60))
    number = 0
    for place, unit in enumerate(report.units, start=1):
        score = unit.ranked.score
        book.row(
            units,
            place,
            [unit.rank, unit.unit_name, unit.projects, score.total, score.bonus, score.deduction],
        )
        for line in score.lines:
            number += 1
            book.row(
                lines,
                number,
                [
                    unit.unit_name,
                    line.project_name,
                    rule_name(line),
                    line.points,
                    line.counted,
                    line_explanation(line),
                ],
            )
    return book.bytes()
