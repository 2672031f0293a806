"""Decision tables kept in a spreadsheet beside the rule sets: reading and writing CSV and Excel.

A policy owner edits a table where tables are edited: in Excel, or as a CSV. These files are input
like the YAML is, so every read is bounded and refuses what it cannot read faithfully, naming the
file and the cell (``C7``): a CSV that is not UTF-8 (a BOM is fine), a workbook that unpacks to
more than :data:`MAX_UNPACKED_BYTES` (a zip bomb), a formula (never evaluated, and a cached value
may be stale or absent: type the value), merged cells (which rows would the value belong to?).
Excel goes through openpyxl; a CSV through the standard library.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from ..errors import PolicyError, PolicyProblem
from .limits import MAX_FILE_BYTES

TABLES_DIRECTORY: Final = "tables"
SHEET_SUFFIXES: Final = (".csv", ".xlsx")
MAX_TABLE_ROWS: Final = 10_000
"""Rows of one decision table."""
MAX_TABLE_COLUMNS: Final = 100
"""Columns of one decision table."""
MAX_CELL_CHARS: Final = 1_000
"""Characters of one cell."""
MAX_UNPACKED_BYTES: Final = 16 * MAX_FILE_BYTES
"""What one workbook may unpack to: an .xlsx is a zip, and a few kilobytes can unpack to gigabytes."""


def cell_name(row: int, column: int) -> str:
    """The spreadsheet name of a cell: row 7, column 3 is ``C7`` (column 27 is ``AA``)."""
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}{row}"


@dataclass(frozen=True)
class SheetRow:
    """One row of a sheet: its number in the file (1-based: a CSV line, an Excel row) and its cells."""

    number: int
    cells: tuple[Any, ...]


@dataclass(frozen=True)
class Sheet:
    """A table as a spreadsheet holds it: the header (column names) and the rows under it."""

    file: str
    header: tuple[str, ...]
    rows: tuple[SheetRow, ...]

    def where(self, row: SheetRow, column: int) -> str:
        """Where a cell is, for a message: ``cell C7`` (column: 0-based)."""
        return f"cell {cell_name(row.number, column + 1)}"


def table_files(directory: Path) -> list[Path]:
    """The spreadsheets in a policy directory's ``tables/``: every one counts toward the policy's size."""
    folder = directory / TABLES_DIRECTORY
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SHEET_SUFFIXES)


def _refuse(message: str, shown: str, line: int | None = None) -> PolicyError:
    return PolicyError(PolicyProblem(message, shown, line))


def read_sheet(data: bytes, suffix: str, shown: str) -> Sheet:
    """The table in ``data`` (a file's bytes; ``suffix``: .csv or .xlsx), or a :class:`PolicyError`."""
    if len(data) > MAX_FILE_BYTES:
        raise _refuse(f"the table file holds {len(data):,} bytes, more than {MAX_FILE_BYTES:,} (1 MiB), the most "
                      "one table file may hold", shown)
    grid = _csv_grid(data, shown) if suffix.lower() == ".csv" else _xlsx_grid(data, shown)
    grid = [(number, cells) for number, cells in grid if any(_filled(c) for c in cells)]
    if not grid:
        raise _refuse("the table file is empty: its first row names the columns (id, the inputs, the outputs)", shown)
    (header_line, header), body = grid[0], grid[1:]
    if len(body) > MAX_TABLE_ROWS:
        raise _refuse(f"the table has {len(body):,} rows, more than {MAX_TABLE_ROWS:,}", shown)
    names: list[str] = []
    for index, name in enumerate(header):
        text = "" if name is None else str(name).strip()
        if not text and any(len(cells) > index and _filled(cells[index]) for _, cells in body):
            raise _refuse(f"cell {cell_name(header_line, index + 1)}: the column has values but no name in the "
                          "first row", shown, header_line)
        names.append(text)
    while names and not names[-1]:
        names.pop()
    if len(names) > MAX_TABLE_COLUMNS:
        raise _refuse(f"the table has {len(names)} columns, more than {MAX_TABLE_COLUMNS}", shown, header_line)
    rows = []
    for number, cells in body:
        for index in range(len(names), len(cells)):
            if _filled(cells[index]):
                raise _refuse(f"cell {cell_name(number, index + 1)} is outside the table: its column has no name "
                              "in the first row", shown, number)
        rows.append(SheetRow(number, tuple(list(cells[:len(names)]) + [None] * (len(names) - len(cells)))))
    return Sheet(shown, tuple(names), tuple(rows))


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _csv_grid(data: bytes, shown: str) -> list[tuple[int, list[Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _refuse(f"the file is not UTF-8 (line {line}): save it as \"CSV UTF-8\" (Excel: Save As, CSV UTF-8); "
                      "a CSV saved as GBK or GB18030 cannot be read without guessing", shown, line) from None
    if "\x00" in text:
        raise _refuse("the file holds NUL characters: it is not a CSV text file (an .xlsx renamed?)", shown)
    reader = csv.reader(io.StringIO(text, newline=""))
    grid: list[tuple[int, list[Any]]] = []
    start = 1
    try:
        for cells in reader:
            for index, cell in enumerate(cells):
                _check_text(cell, shown, start, index)
            grid.append((start, list(cells)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _refuse(f"line {reader.line_num}: the CSV cannot be read ({exc}): check its quotes", shown,
                      reader.line_num) from None
    return grid


def _check_text(cell: str, shown: str, row: int, column: int) -> None:
    where = f"cell {cell_name(row, column + 1)}"
    if len(cell) > MAX_CELL_CHARS:
        raise _refuse(f"{where} holds {len(cell):,} characters, more than {MAX_CELL_CHARS:,}", shown, row)
    if cell.startswith("=") and not cell.startswith("=="):
        raise _refuse(f"{where} holds a formula ({cell[:40]}): formulas are never computed; type the value",
                      shown, row)


def _xlsx_grid(data: bytes, shown: str) -> list[tuple[int, list[Any]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            unpacked = sum(m.file_size for m in members)
    except (zipfile.BadZipFile, ValueError):
        raise _refuse("the file is not an Excel workbook (.xlsx): save it from Excel as .xlsx, or as CSV UTF-8 "
                      "with a .csv name", shown) from None
    if unpacked > MAX_UNPACKED_BYTES or len(members) > 1_000:
        raise _refuse(f"the workbook unpacks to {unpacked:,} bytes in {len(members):,} parts, more than "
                      f"{MAX_UNPACKED_BYTES:,}: a decision table is far smaller (save the table alone)", shown)
    import openpyxl
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=False, data_only=False, keep_links=False)
    except Exception as exc:
        raise _refuse(f"the workbook cannot be read ({type(exc).__name__}): open it in Excel and save it again",
                      shown) from None
    sheet = book.worksheets[0]
    if sheet.max_row > MAX_TABLE_ROWS + 1 or sheet.max_column > MAX_TABLE_COLUMNS:
        raise _refuse(f"the first sheet spans {sheet.max_row:,} rows and {sheet.max_column:,} columns, more than a "
                      f"table may ({MAX_TABLE_ROWS:,} rows, {MAX_TABLE_COLUMNS} columns)", shown)
    for merged in sheet.merged_cells.ranges:
        raise _refuse(f"cells {merged.coord} are merged: unmerge them and write the value in every row (a table "
                      "row holds all its cells)", shown, merged.min_row)
    grid: list[tuple[int, list[Any]]] = []
    for row in sheet.iter_rows():
        cells: list[Any] = []
        for cell in row:
            value = cell.value
            if cell.data_type == "f" or (isinstance(value, str) and value.startswith("=") and
                                          not value.startswith("==")):
                raise _refuse(f"cell {cell.coordinate} holds a formula ({str(value)[:40]}): formulas are never "
                              "computed (a saved result may be stale); type the value", shown, cell.row)
            cells.append(_xlsx_value(value, cell.number_format or "", shown, cell.coordinate, cell.row or 0))
        if cells:
            grid.append((row[0].row or 0, cells))
    return grid


def _xlsx_value(value: Any, number_format: str, shown: str, where: str, row: int) -> Any:
    """An Excel cell's value as the table reads it: numbers exact (a float goes through its shortest
    text), a cell formatted as a percentage as ``5%``, a date as a date, text checked like a CSV's."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if "%" in number_format:
            return f"{format((number * 100).normalize(), 'f')}%"
        return number
    if isinstance(value, str):
        if len(value) > MAX_CELL_CHARS:
            raise _refuse(f"cell {where} holds {len(value):,} characters, more than {MAX_CELL_CHARS:,}", shown, row)
        return value
    raise _refuse(f"cell {where} holds a value of an unknown kind: type it as text", shown, row)


def write_sheet(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]], *, bom: bool = True) -> None:
    """Write a table to ``path``: CSV (UTF-8, with a BOM unless ``bom`` is false: Excel needs it to read
    Chinese right) or .xlsx, every cell as text so that ``[20000..100000)`` or ``== 5`` comes back as written."""
    if path.suffix.lower() == ".csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        path.write_bytes(buffer.getvalue().encode("utf-8-sig" if bom else "utf-8"))
        return
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has its sheet
    sheet.title = "table"
    for column, name in enumerate(header, start=1):
        cell = sheet.cell(row=1, column=column)
        cell.value = name
        cell.data_type = "s"
        cell.font = Font(bold=True)
        sheet.column_dimensions[cell_name(1, column)[:-1]].width = max(10, min(40, len(name) + 4))
    for number, values in enumerate(rows, start=2):
        for column, text in enumerate(values, start=1):
            if text == "":
                continue
            cell = sheet.cell(row=number, column=column)
            cell.value = text
            cell.data_type = "s"  # never a formula, never a number Excel reformats
    sheet.freeze_panes = "B2"
    book.save(path)
