"""Reading one CSV file into rows that remember where they came from (``file:line``).

Every error an adapter reports about its input should say which file, which line and which
column is wrong, so that the person who exported the file can fix it without reading code.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from salesgate import AdapterError

_AMOUNT = re.compile(r"\d+(\.\d{1,4})?")


@dataclass(frozen=True)
class Row:
    """One data row of a CSV file: its non-empty cells, stripped, by column name."""

    path: Path
    line: int
    cells: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def error(self, message: str, column: str | None = None) -> AdapterError:
        """An AdapterError located at this row (and column)."""
        at = f" column {column!r}:" if column else ""
        return AdapterError(f"{self.where}:{at} {message}")

    def text(self, column: str) -> str:
        """A cell that must be filled in."""
        value = self.cells.get(column)
        if value is None:
            raise self.error("is empty", column)
        return value

    def money(self, column: str) -> Decimal:
        """An amount, as an exact Decimal: plain digits with at most four decimals, never a float."""
        value = self.text(column)
        if not _AMOUNT.fullmatch(value):
            hint = " (no thousands separators)" if "," in value else ""
            raise self.error(f"{value!r} is not an amount: write it like 1234.50{hint}", column)
        return Decimal(value)

    def take(self, columns: Collection[str]) -> dict[str, str]:
        """The cells of ``columns`` that are filled in, for a model to validate (empty means default)."""
        return {name: value for name, value in self.cells.items() if name in columns}


def read_rows(path: Path, required: Collection[str], optional: Collection[str] = ()) -> list[Row]:
    """Read a UTF-8 CSV file whose header must hold the ``required`` columns and may hold ``optional`` ones.

    A UTF-8 byte-order mark (Excel's "CSV UTF-8") is accepted. An unknown column is an error,
    so that a misspelt header never silently leaves a field at its default.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AdapterError(f"{path}: file not found; it needs the columns "
                           f"{', '.join([*required, *optional])} (a header line alone means no rows)") from None
    except OSError as exc:
        raise AdapterError(f"{path}: cannot read it: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise AdapterError(f"{path}:{line}: not UTF-8 ({exc.reason}); save the file as UTF-8 "
                           "(a file exported as GBK or GB18030 must be converted)") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise AdapterError(f"{path}:1: the file is empty; it needs a header line") from None
    _check_header(path, header, required, optional)
    rows: list[Row] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                if len(record) != len(header):
                    raise AdapterError(f"{path}:{start}: {len(record)} cells, but the header has {len(header)}")
                cells = {name: cell.strip() for name, cell in zip(header, record, strict=True) if cell.strip()}
                rows.append(Row(path, start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise AdapterError(f"{path}:{start}: {exc}") from None
    return rows


def _check_header(path: Path, header: list[str], required: Collection[str], optional: Collection[str]) -> None:
    known = [*required, *optional]
    for name in header:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; the columns are {', '.join(known)}"
            raise AdapterError(f"{path}:1: unknown column {name!r}{hint}")
    if len(set(header)) != len(header):
        raise AdapterError(f"{path}:1: a column appears twice in the header")
    missing = [name for name in required if name not in header]
    if missing:
        raise AdapterError(f"{path}:1: missing column(s) {', '.join(missing)}")
