"""The lookup tables of a policy: typed CSV files in ``data/``, read by ``lookup(table, key, column)``.

A policy owner keeps figures that vary by a key (a limit per region, a markup per product line) in
a spreadsheet; saved as CSV in ``data/<table>.csv``, it becomes a table rules read by name. The
first row names each column with its type (``region:text,limit:money``), as a declared point's
fields are typed; the first column is the key. Every cell is checked when the policy loads, and
a problem names the file, line and column in plain words: a table that loads holds only values
of its columns' types, keys are unique, and rules name only tables and columns that exist.
The files count toward the policy's hash and size, like every file a policy reads.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..documents import FieldType, valid_name
from .days import parse_day
from .ir import Kind
from .limits import MAX_TABLE_ROWS

DATA_DIRECTORY = "data"
"""The folder of a policy directory that holds its lookup tables, one CSV file per table."""

COLUMN_TYPES: Mapping[FieldType, Kind] = MappingProxyType({
    FieldType.text: Kind.text, FieldType.integer: Kind.number, FieldType.number: Kind.number,
    FieldType.money: Kind.number, FieldType.percent: Kind.number, FieldType.date: Kind.date,
    FieldType.bool: Kind.bool,
})
"""The types a column may have (those of declared fields, but enum and list), with their kind in rules."""

_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_INVISIBLE_NAMES = {"\u200b": "a zero-width space", "\u200c": "a zero-width non-joiner",
                    "\u200d": "a zero-width joiner", "\u2060": "a word joiner", "\ufeff": "a byte order mark",
                    "\u00ad": "a soft hyphen"}
_INVISIBLE = re.compile(f"[{''.join(_INVISIBLE_NAMES)}]")
"""Characters a key copied from a web page or a document may carry unseen: '华东\u200b' looks like
'华东' in every editor, yet no fact equals it, so every lookup of it would silently be missing."""
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}

Report = Callable[[str, str, "int | None", str | None], None]
"""``report(message, file, line, column)``: how a problem reaches the loader."""


@dataclass(frozen=True)
class Table:
    """One lookup table: its columns (name, type) in file order, the first the key, and its rows by key."""

    name: str
    file: str
    columns: tuple[tuple[str, FieldType], ...]
    rows: Mapping[Any, tuple[Any, ...]]

    def kind(self, column: str) -> Kind:
        return COLUMN_TYPES[self.type(column)]

    def type(self, column: str) -> FieldType:
        """The column's type as its header cell writes it (``markup:percent``)."""
        return dict(self.columns)[column]

    def values(self, column: str) -> Mapping[Any, Any]:
        """The column's value by key (a missing cell is None)."""
        index = [name for name, _ in self.columns].index(column)
        return MappingProxyType({key: row[index] for key, row in self.rows.items()})


def data_files(directory: Path) -> list[Path]:
    """The lookup tables of a policy directory: ``data/*.csv``."""
    folder = directory / DATA_DIRECTORY
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")


def load_tables(directory: Path, report: Report, digest: Callable[[bytes], None]) -> dict[str, Table | None]:
    """Every table in ``data/`` by name, each problem reported at its file, line and column (a table with
    problems is None: rules naming it are not told it does not exist); the bytes of each file go into
    the policy's hash."""
    tables: dict[str, Table | None] = {}
    folder = directory / DATA_DIRECTORY
    for sheet in sorted(folder.glob("*.xls*")) if folder.is_dir() else ():
        report(f"only CSV files are lookup tables: save {sheet.name} as \"CSV UTF-8\" ({sheet.stem}.csv)",
               str(sheet), None, None)
    for path in data_files(directory):
        try:
            raw = path.read_bytes()
        except OSError as exc:
            report(f"cannot read the file: {exc.strerror}", str(path), None, None)
            continue
        digest(f"{DATA_DIRECTORY}/{path.name}".encode() + b"\0" + raw)
        tables[path.stem] = _table(path, raw, report)
    return tables


def _table(path: Path, raw: bytes, report: Report) -> Table | None:
    shown = str(path)
    name = path.stem
    if not valid_name(name):
        report(f"{name!r} cannot name a table: name the file with lower case letters, digits and single _ "
               "(region_limits.csv)", shown, None, None)
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        report("the file is not UTF-8 text: save it as \"CSV UTF-8\"", shown, line, None)
        return None
    nul = text.find("\0")
    if nul >= 0:  # refused as in a YAML file: a decision that set or logged it could not be stored
        report("the file holds a NUL character, which no database can store: remove it", shown,
               text.count("\n", 0, nul) + 1, None)
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = [(reader.line_num, row) for row in reader]
    except csv.Error:
        report("a value's quotes are not closed, or a quote stands inside a value: put quotes only around a whole "
               'value, and write a quote inside one twice ("")', shown, reader.line_num, None)
        return None
    records = [(line, row) for line, row in records if any(cell.strip() for cell in row)]
    if not records:
        report("the table is empty: its first row names the columns with their types, "
               "e.g. region:text,limit:money", shown, 1, None)
        return None
    columns = _header(records[0][1], shown, records[0][0], report)
    if columns is None:
        return None
    if len(records) - 1 > MAX_TABLE_ROWS:
        report(f"the table has {len(records) - 1:,} rows, more than {MAX_TABLE_ROWS:,}, the most a table may hold",
               shown, None, None)
        return None
    rows: dict[Any, tuple[Any, ...]] = {}
    first_line: dict[Any, int] = {}
    ok = True
    for line, cells in records[1:]:
        if len(cells) != len(columns):
            report(f"{len(cells)} cells where the header names {len(columns)} columns "
                   "(a comma inside a value must be in quotes)", shown, line, None)
            ok = False
            continue
        values: list[Any] = []
        for (column, kind), cell in zip(columns, cells, strict=True):
            try:
                values.append(_cell(cell.strip(), kind))
            except ValueError as exc:
                report(str(exc), shown, line, column)
                ok = False
                values.append(None)
        key = values[0]
        hidden = _INVISIBLE.search(key) if isinstance(key, str) else None
        if hidden is not None:
            seen = _INVISIBLE.sub("", key)
            report(f"the key {seen!r} holds an invisible character ({_INVISIBLE_NAMES[hidden.group()]}, U+"
                   f"{ord(hidden.group()):04X}) at character {hidden.start() + 1}, so a fact {seen!r} would not "
                   "match it: delete the character", shown, line, columns[0][0])
            ok = False
            continue
        if key is None:
            if cells[0].strip() == "":
                report(f"the key ({columns[0][0]}) is empty: every row needs one", shown, line, columns[0][0])
                ok = False
            continue
        if key in first_line:
            report(f"the key {cells[0].strip()!r} is also on line {first_line[key]}: each key once", shown, line,
                   columns[0][0])
            ok = False
            continue
        first_line[key] = line
        rows[key] = tuple(values)
    if not ok:
        return None
    return Table(name, shown, columns, MappingProxyType(rows))


def _header(cells: list[str], shown: str, line: int, report: Report) -> tuple[tuple[str, FieldType], ...] | None:
    types = ", ".join(t.value for t in COLUMN_TYPES)
    columns: list[tuple[str, FieldType]] = []
    ok = True
    for cell in cells:
        name, sep, type_name = (part.strip() for part in cell.partition(":"))
        if not sep:
            report(f"the header cell {cell.strip()!r} has no type: write name:type, e.g. {name or 'limit'}:text "
                   f"(types: {types})", shown, line, name or None)
            ok = False
            continue
        if not valid_name(name):
            report(f"{name!r} cannot name a column: use lower case letters, digits and single _", shown, line,
                   name or None)
            ok = False
            continue
        try:
            kind = FieldType(type_name)
        except ValueError:
            kind = None
        if kind not in COLUMN_TYPES:
            report(f"{type_name!r} is not a column type: use one of {types}", shown, line, name)
            ok = False
            continue
        if any(name == existing for existing, _ in columns):
            report(f"the column {name!r} is named twice", shown, line, name)
            ok = False
            continue
        columns.append((name, kind))  # type: ignore[arg-type]
    if ok and len(columns) < 2:
        report("a table needs a key column and at least one more: region:text,limit:money", shown, line, None)
        ok = False
    return tuple(columns) if ok else None


def _cell(cell: str, kind: FieldType) -> Any:
    """One cell's value (None for an empty cell: a missing value), or ValueError in plain words."""
    if cell == "":
        return None
    if kind is FieldType.text:
        return cell
    if kind is FieldType.bool:
        lowered = cell.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(f"{cell!r} is not yes/no: write true or false")
    if kind is FieldType.date:
        day = parse_day(cell)
        return day if day is not None else _bad_date(cell)
    text, percent = (cell[:-1].strip(), True) if kind is FieldType.percent and cell.endswith("%") else (cell, False)
    if "," in text or " " in text:
        raise ValueError(f"{cell!r}: write numbers without thousands separators, e.g. 30000")
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{cell!r} is not a {'whole number' if kind is FieldType.integer else 'number'}: write "
                         f"digits 0-9{'' if kind is FieldType.integer else ' with a . for decimals'}")
    if len(text.lstrip("-").split(".")[0].lstrip("0")) > 15:
        raise ValueError(f"{cell!r} is too large: at most 15 digits before the decimal point")
    if kind is FieldType.integer:
        if "." in text:
            raise ValueError(f"{cell!r} is not a whole number")
        return int(text)
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise ValueError(f"{cell!r} is not a number") from None
    if kind is FieldType.money:
        if value < 0:
            raise ValueError(f"{cell!r} is negative: an amount of money is 0 or more")
        if -value.as_tuple().exponent > 4:  # type: ignore[operator]
            raise ValueError(f"{cell!r} has more than 4 decimals")
    return value / 100 if percent else value


def _bad_date(cell: str) -> date:
    raise ValueError(f"{cell!r} is not a date: write YYYY-MM-DD, e.g. 2026-12-31")
