"""Reading the admin's tables (the roster, the project ledger) from CSV or XLSX.

One reader for every file the operator imports: the first sheet of an XLSX, or a CSV in
whatever encoding Excel saved it in. The first non-blank row is the header; its cells are
normalized and matched against an alias table (Chinese or English); blank rows are skipped;
line numbers are the file's row numbers, the ones the admin sees in Excel. What differs per
kind of file (the aliases, the required columns, the wording naming the file) is a `TableKind`.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from services import zh

_HEADER_NOISE = re.compile(r"[（(][^)）]*[)）]|[\s_\-]+")
_INVISIBLE = "\ufeff\u200b"
# 2026-11-09, 2026/11/9, 2026.11.9 (one separator throughout) and 2026年11月9日.
_DATE = re.compile(
    r"(?P<y>\d{4})\s*(?P<sep>[-/.])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<d>\d{1,2})"
    r"|(?P<cy>\d{4})\s*年\s*(?P<cm>\d{1,2})\s*月\s*(?P<cd>\d{1,2})\s*日?"
)


class TableFileError(ValueError):
    """The file cannot be read as a whole (format, encoding, header); message in Chinese."""


@dataclass(frozen=True)
class TableKind:
    """One kind of imported file: its columns and the wording that names it.

    `aliases` maps a normalized header (see `normalize_header`) to a field; `labels` gives
    each field its Chinese name for messages. The wording templates take `{path}` (and
    `{error}`), or `{label}` and `{aliases}` for a missing column.
    """

    aliases: Mapping[str, str]
    required: Sequence[str]
    labels: Mapping[str, str]
    not_found: str
    unreadable: str
    empty: str
    missing_column: str


@dataclass(frozen=True, slots=True)
class TableRow:
    """A data row: its line in the file and the cleaned text of each column the header has."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class Table:
    """A file's header (field -> the header cell as written) and its data rows."""

    headers: dict[str, str]
    rows: list[TableRow]


def read_table(path: Path, kind: TableKind) -> Table:
    """The data rows of a CSV (UTF-8, UTF-8 BOM, GB18030/GBK, UTF-16) or XLSX (first sheet).

    Only fields whose column is in the header appear in `values`; a short row's missing
    cells are "". Raises `TableFileError` for anything that spoils the whole file.
    """
    return _table(read_cells(Path(path), kind), kind)


def read_cells(path: Path, kind: TableKind) -> Iterator[tuple[int, list[object]]]:
    """(row number, raw cells) of every row; the format is told by the magic bytes or suffix."""
    try:
        with path.open("rb") as file:
            magic = file.read(8)
    except FileNotFoundError:
        raise TableFileError(kind.not_found.format(path=path)) from None
    except OSError as exc:
        raise TableFileError(kind.unreadable.format(path=path, error=exc)) from exc
    suffix = path.suffix.lower()
    if suffix == ".xls" and not magic.startswith(b"PK"):
        raise TableFileError(zh.FILE_OLD_XLS)
    if suffix in (".xlsx", ".xlsm") or magic.startswith(b"PK\x03\x04"):
        return _xlsx_cells(path, kind)
    return _csv_cells(path.read_bytes())


def clean(value: object) -> str:
    """A cell as text: stripped, an Excel number id (1001.0) as "1001", a date as 2026-11-09."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip().strip(_INVISIBLE).strip()


def normalize_header(text: object) -> str:
    """A header cell as the alias tables spell it: no case, spaces, '_', '-' or "（说明）"."""
    return _HEADER_NOISE.sub("", clean(text)).lower()


def parse_date(text: str) -> date | None:
    """The date in a cell (2026-11-09, 2026/11/9, 2026.11.9, 2026年11月9日), or None.

    An XLSX date cell arrives as 2026-11-09 (see `clean`); a serial number typed as text
    (46335) is not a date.
    """
    match = _DATE.fullmatch(text.strip())
    if match is None:
        return None
    names = ("y", "m", "d") if match["y"] else ("cy", "cm", "cd")
    year, month, day = match.group(*names)
    try:
        return date(int(year), int(month), int(day))
    except ValueError:  # 2026-02-30
        return None


def column_map(header: Sequence[object], kind: TableKind) -> dict[str, int]:
    """Field -> column index; refuses two columns for one field and missing required ones."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = kind.aliases.get(normalize_header(cell))
        if name is None:
            continue  # unknown extra columns are allowed (remarks, phone, ...)
        if name in columns:
            raise TableFileError(
                zh.DUPLICATE_COLUMN.format(
                    first=clean(header[columns[name]]),
                    second=clean(cell),
                    label=kind.labels[name],
                )
            )
        columns[name] = index
    for name in kind.required:
        if name not in columns:
            aliases = " / ".join(a for a, f in kind.aliases.items() if f == name)
            raise TableFileError(
                kind.missing_column.format(label=kind.labels[name], aliases=aliases)
            )
    return columns


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # Chinese Excel saves "CSV (逗号分隔)" in GBK; GB18030 is its superset.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise TableFileError(zh.FILE_ENCODING) from None


def _csv_cells(data: bytes) -> Iterator[tuple[int, list[object]]]:
    text = _decode(data)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # Excel's "Unicode text" export is tab-separated; some locales use ';'.
    delimiter = max(",\t;", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for number, cells in enumerate(reader, start=1):
        yield number, list(cells)


def _xlsx_cells(path: Path, kind: TableKind) -> Iterator[tuple[int, list[object]]]:
    from openpyxl import load_workbook  # openpyxl is slow to import; only XLSX needs it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableFileError(kind.unreadable.format(path=path, error=exc)) from exc
    try:
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(cells)
    finally:
        workbook.close()


def _table(cells_by_row: Iterable[tuple[int, Sequence[object]]], kind: TableKind) -> Table:
    columns: dict[str, int] | None = None
    headers: dict[str, str] = {}
    rows: list[TableRow] = []
    for number, cells in cells_by_row:
        texts = [clean(c) for c in cells]
        if not any(texts):
            continue
        if columns is None:
            columns = column_map(cells, kind)
            headers = {name: texts[index] for name, index in columns.items()}
            continue
        values = {
            name: texts[index] if index < len(texts) else "" for name, index in columns.items()
        }
        rows.append(TableRow(number, values))
    if columns is None:
        raise TableFileError(kind.empty)
    return Table(headers, rows)
