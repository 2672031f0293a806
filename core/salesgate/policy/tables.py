"""Decision tables: a rule set written as rows, each row compiled into an ordinary rule.

A table (``table:`` in a rule file, its rows in the YAML or in a CSV/Excel file in ``tables/``) has
input columns (a fact or an expression), whose cells are conditions (:mod:`salesgate.policy.cells`),
and output columns: what a rule's ``then:`` does (block, require, warn, notify, message, the
point's declared outputs, price and refund terms). Each row becomes a rule whose id is the row's
``id`` and whose ``when`` is its cells joined with ``and``, so a row is matched by every backend,
explained, traced, tested and covered exactly as a rule is. The hit policy then says which of the
matching rows apply (:func:`applying`): ``unique`` (rows never overlap: refused at load otherwise,
naming both rows), ``first`` (the first in table order), ``priority`` (the lowest ``priority``),
``collect`` (all). Applying it to the matches, after any backend, keeps decisions backend-free.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from pydantic import ValidationError

from ..errors import did_you_mean
from ..pointspecs import PointSpec
from ..vocabulary import FactInfo
from . import expressions
from .cells import Cell, CellError, Column, Interval, closed_set, complement, condition, parse_cell
from .checker import CheckError, Context, check_any_value
from .ir import Kind, Ref
from .limits import excerpt
from .schema import Rule, Table
from .tablefiles import Sheet
from .yamlfile import LineDict

ACTION_COLUMNS: Final = ("block", "require", "warn", "notify", "message", "markup", "discount", "add", "set_price",
                         "floor", "stop", "refund", "restocking_fee")
"""Output columns that are a rule's actions; any other output column names a declared output of the point."""
ROW_KEYS: Final = ("id", "description", "priority", "effective.from", "effective.until")
"""A row's own fields: its id, what it is for, its priority (``hit: priority``) and the days it is in force."""
MAX_GAP_COMBINATIONS: Final = 100_000
"""Input combinations ``--gaps`` enumerates in one table, at most."""
_ROW_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")

Problem = Callable[..., None]
"""Reports a problem: (message, file, line, rule, field, suggestion)."""


@dataclass(frozen=True)
class TableRow:
    """One row as written: its id, where it is, its input cells and its output cells' text."""

    id: str
    file: str
    line: int
    cells: tuple[Cell, ...]
    outputs: tuple[str, ...]
    priority: int | None = None
    description: str | None = None
    effective: tuple[str, str] = ("", "")
    """The row's own ``effective:`` (from, until) as written, "" where not given."""


@dataclass(frozen=True)
class DecisionTable:
    """A loaded table: its columns and rows, kept for the hit policy, gaps and ``salesgate table``."""

    name: str
    point: str
    hit: str
    scope: str
    file: str
    rows_file: str | None
    inputs: tuple[Column, ...]
    outputs: tuple[str, ...]
    rows: tuple[TableRow, ...]
    rank: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """By row id: the order a ``first``/``priority`` table prefers its rows in (lowest applies)."""

    @property
    def header(self) -> tuple[str, ...]:
        """The columns as a spreadsheet shows them: id, inputs, outputs, then priority and description."""
        extra = (("priority",) if self.hit == "priority" else ()) + (
            ("effective.from", "effective.until") if any(any(r.effective) for r in self.rows) else ()) + (
            ("description",) if any(r.description for r in self.rows) else ())
        return ("id", *(c.name for c in self.inputs), *self.outputs, *extra)

    def sheet_rows(self) -> list[list[str]]:
        """Every row as the text of its cells, in :attr:`header` order (``salesgate table export``)."""
        out = []
        for row in self.rows:
            cells = [row.id, *(c.text for c in row.cells), *row.outputs]
            if self.hit == "priority":
                cells.append("" if row.priority is None else str(row.priority))
            if any(any(r.effective) for r in self.rows):
                cells.extend(row.effective)
            if any(r.description for r in self.rows):
                cells.append(row.description or "")
            out.append(cells)
        return out


@dataclass(frozen=True)
class ExpandedRow:
    """A row turned into a rule, with where the rule is written."""

    rule: Rule
    file: str
    line: int
    key_lines: Mapping[str, int]


def input_columns(table: Table, data: Any, shown: str, point: str, vocabulary: Mapping[str, FactInfo],
                  problem: Problem, policy_data: Mapping[str, Any] | None = None) -> tuple[Column, ...] | None:
    """The table's input columns, each type-checked against the point's facts (None: a column is wrong);
    ``policy_data``: what functions read (a column may be ``lookup(...)``)."""
    ctx = Context(point, vocabulary, "line" if table.scope == "line" else None, policy_data or {})
    line = data.key_lines.get("inputs") if isinstance(data, LineDict) else None
    columns: list[Column] = []
    ok = True
    for item in table.inputs:
        if isinstance(item, dict):
            if len(item) != 1:
                problem("an input column is one {name: expression}, e.g. {change: plan.new_amount / plan.old_amount}",
                        shown, line, None, "table.inputs")
                ok = False
                continue
            name, text = next(iter(item.items()))
        else:
            name = text = item
        if name in (*ROW_KEYS, *ACTION_COLUMNS) or name in [c.name for c in columns]:
            why = "it is named twice" if name in [c.name for c in columns] else "it names a row field or an action"
            problem(f"input column {name!r} is taken: {why}; give it another name ({{name: {text}}})",
                    shown, line, None, "table.inputs")
            ok = False
            continue
        try:
            expr = check_any_value(expressions.parse(text), ctx)
        except (expressions.ExpressionError, CheckError) as exc:
            problem(f"input column {name!r}: {exc} (column {exc.column} of: {excerpt(text, exc.column)})", shown, line,
                    None, "table.inputs", getattr(exc, "suggestion", None))
            ok = False
            continue
        if expr.kind is Kind.list:
            problem(f"input column {name!r} is a list: a cell tests one value (use any(...) in a rule instead)",
                    shown, line, None, "table.inputs")
            ok = False
            continue
        info = vocabulary.get(expr.path) if isinstance(expr, Ref) else None
        kind = Kind.number if expr.kind is Kind.duration else expr.kind
        columns.append(Column(name, text, kind, info.choices if info else (), bool(info and info.unit == "rate")))
    return tuple(columns) if ok else None


def expand(table: Table, data: Any, shown: str, ruleset: str, spec: PointSpec, columns: tuple[Column, ...],
           sheet: Sheet | None, problem: Problem) -> tuple[DecisionTable, list[ExpandedRow]]:
    """The table's rows as rules (each problem reported with file, line, cell, row id and column)."""
    outputs_known = [o.name for o in spec.declared_outputs]
    by_name = {c.name: c for c in columns}
    raw_rows: list[tuple[str, int, dict[str, Any], dict[str, str], dict[str, int]]] = []
    # (file, line, values by column, where each cell is for messages, line of each key)
    if sheet is not None:
        if "id" not in sheet.header:
            problem(f"the table file has no id column: its first row names the columns ({', '.join(sheet.header)}); "
                    "add id, a stable name for each row", sheet.file, 1, None, "id")
            return DecisionTable(ruleset, spec.name, table.hit, table.scope, shown, None, columns, (), ()), []
        for row in sheet.rows:
            values = dict(zip(sheet.header, row.cells, strict=True))
            where = {name: f"{sheet.where(row, i)}: " for i, name in enumerate(sheet.header)}
            raw_rows.append((sheet.file, row.number, values, where, {}))
    else:
        written = data.get("rows") if isinstance(data, dict) else None  # as read: with the lines of its keys
        for raw in written if isinstance(written, list) else table.rows if isinstance(table.rows, list) else []:
            line = getattr(raw, "line", 0) or 0
            raw_rows.append((shown, line, dict(raw), {}, dict(getattr(raw, "key_lines", {}))))
    raw_rows = [(file, line, _flat(values, key_lines), where, key_lines)
                for file, line, values, where, key_lines in raw_rows]
    output_columns: list[str] = []
    for _, _, values, _, _ in raw_rows:
        for name in values:
            if name not in by_name and name not in ROW_KEYS and name not in output_columns:
                output_columns.append(name)
    seen: dict[str, str] = {}
    rows: list[TableRow] = []
    expanded: list[ExpandedRow] = []
    for index, (file, line, values, where, key_lines) in enumerate(raw_rows, start=1):
        row_id = _row_id(values.get("id"), index, file, line, where.get("id", ""), problem)
        if row_id is None:
            continue
        if row_id in seen:
            problem(f"row id {row_id!r} is used twice in this table (also at {seen[row_id]}): each row has its own id",
                    file, line, row_id, "id")
            continue
        seen[row_id] = f"{file}:{line}"

        wrong: list[str] = []

        def report(message: str, column: str, suggestion: str | None = None, row_id: str = row_id, file: str = file,
                   line: int = line, where: dict[str, str] = where, key_lines: dict[str, int] = key_lines,
                   wrong: list[str] = wrong) -> None:
            wrong.append(column)
            problem(where.get(column, "") + message, file, key_lines.get(column, line), row_id, column, suggestion)

        cells: list[Cell] = []
        for column in columns:
            try:
                cells.append(parse_cell(values.get(column.name), column))
            except CellError as exc:
                report(exc.message, column.name, exc.suggestion)
        then: dict[str, Any] = {}
        texts: list[str] = []
        for name in output_columns:
            value = values.get(name)
            texts.append(_text(value))
            if _blank(value):
                continue
            _action(name, value, then, outputs_known, spec, report)
        priority = _priority(values.get("priority"), table.hit, report)
        description = values.get("description")
        description = None if _blank(description) else str(description).strip()
        if wrong:
            continue
        if not then:
            report("the row does nothing: fill in at least one of its action or output columns "
                   f"({', '.join(output_columns) or 'e.g. require, message'})", "id")
            continue
        when = " and ".join(text for text in (condition(c, col) for c, col in zip(cells, columns, strict=True)) if text)
        dates = tuple(_text(values.get(f"effective.{end}")) for end in ("from", "until"))
        effective = {end: day for end, day in zip(("from", "until"), dates, strict=True) if day} or None
        try:
            rule = Rule.model_validate({"id": row_id, "description": description, "when": when or True,
                                        "scope": table.scope, "then": then, "effective": effective})
        except ValidationError as exc:
            for error in exc.errors():
                names = [str(p) for p in error["loc"] if isinstance(p, str) and p != "then"]
                where_in_row = names[0] if names else "id"
                report(str(error["msg"]).removeprefix("Value error, "), _column_of(where_in_row, output_columns))
            continue
        rows.append(TableRow(row_id, file, line, tuple(cells), tuple(texts), priority, description,
                             (dates[0], dates[1])))
        # A rule's problems found later (a role not in the ladder) are at its then:, here the roles' cell.
        then_line = next((key_lines[k] for k in ("require", "notify") if k in key_lines), line)
        expanded.append(ExpandedRow(rule, file, line, {**key_lines, "then": then_line}))
    rank = {row.id: ((row.priority if row.priority is not None else 0) if table.hit == "priority" else 0, index)
            for index, row in enumerate(rows)}
    loaded = DecisionTable(ruleset, spec.name, table.hit, table.scope, shown,
                           table.rows if isinstance(table.rows, str) else None, columns, tuple(output_columns),
                           tuple(rows), rank)
    if table.hit == "unique":
        for first, second, clash in overlaps(loaded):
            problem(f"rows {first.id!r} ({first.file}:{first.line}) and {second.id!r} ({second.file}:{second.line}) "
                    f"overlap: both match when {clash}; a unique table's rows must not overlap: narrow one of them, "
                    "or say which applies with hit: first or hit: priority", second.file, second.line, second.id,
                    "table.hit")
    return loaded, expanded


def _flat(values: dict[str, Any], key_lines: dict[str, int]) -> dict[str, Any]:
    """A YAML row with one cell per column, as a spreadsheet has it: ``message: {zh: .., en: ..}`` as
    ``message.zh`` and ``message.en``, ``set: {deposit: 30%}`` as ``deposit``, ``require: [a, b]`` as
    ``a, b`` (so a table exports to Excel and imports back unchanged)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("block", "warn", "message", "set", "effective") and isinstance(value, dict):
            for inner, text in value.items():
                name = str(inner) if key == "set" else f"{key}.{inner}"  # effective.from, message.zh
                out[name] = text
                key_lines.setdefault(name, key_lines.get(key, 0))
        elif key in ("require", "notify") and isinstance(value, list):
            out[key] = ", ".join(str(v) for v in value)
        else:
            out[key] = value
    return out


def _row_id(value: Any, index: int, file: str, line: int, where: str, problem: Problem) -> str | None:
    if _blank(value):
        problem(f"{where}row {index} has no id: give every row an id (a stable name such as large-order, kept "
                "through export and import)", file, line, None, "id")
        return None
    text = str(value).strip()
    if not _ROW_ID.match(text):
        suggestion = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_") or None
        problem(f"{where}row id {text!r}: write ids with lower-case letters, digits, - and _, starting with a "
                "letter or digit", file, line, None, "id", suggestion if suggestion and _ROW_ID.match(suggestion)
                else None)
        return None
    return text


def _column_of(name: str, outputs: Sequence[str]) -> str:
    return name if name in outputs or name in ROW_KEYS else next((o for o in outputs if o.startswith(name)), name)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "-"))


def _text(value: Any) -> str:
    """An output cell as text, the way a spreadsheet cell holds it."""
    if _blank(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _priority(value: Any, hit: str, report: Callable[..., None]) -> int | None:
    if _blank(value):
        if hit == "priority":
            report("a priority table gives every row a priority (a whole number; the lowest applies)", "priority")
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite() or number != number.to_integral_value() or abs(number) > 1_000_000_000:
        report(f"priority {value!r} is not a whole number", "priority")
        return None
    if hit != "priority":
        report(f"priority is for hit: priority tables; this table's hit policy is {hit}", "priority")
    return int(number)


def _action(name: str, value: Any, then: dict[str, Any], outputs_known: list[str], spec: PointSpec,
            report: Callable[..., None]) -> None:
    """Put one output cell into the row's ``then:`` (an action, or ``set:`` of a declared output)."""
    base, _, language = name.partition(".")
    if base in ("block", "warn", "message") and (language or base in then):
        current = then.get(base)
        if not language or isinstance(current, str):
            report(f"write {base} in one column, or one per language ({base}.zh, {base}.en), not both", name)
            return
        then[base] = {**(current or {}), language: _text(value)}
    elif base in ("block", "warn", "message"):
        then[base] = _text(value)  # YAML reads a bare no as false: a message is the text as written
    elif base in ("require", "notify") and not language:
        then[base] = ([str(v).strip() for v in value] if isinstance(value, list)
                      else [v.strip() for v in re.split(r"[,、]", str(value)) if v.strip()])
    elif base == "stop" and not language:
        then["stop"] = value if isinstance(value, bool) else str(value).strip().lower() in ("true", "yes", "是")
    elif base in ACTION_COLUMNS and not language:
        then[base] = value.strip() if isinstance(value, str) else value
    elif (base == "set" and language in outputs_known) or name in outputs_known:
        then.setdefault("set", {})[language if base == "set" else name] = value.strip() if isinstance(value, str) \
            else value
    else:
        known = [*ACTION_COLUMNS, *outputs_known]
        outputs = (f"; {spec.name} declares the outputs {', '.join(outputs_known)}" if outputs_known
                   else f"; {spec.name} declares no outputs")
        report(f"column {name!r} is not an input, an action ({', '.join(ACTION_COLUMNS)}) or an output{outputs}: "
               "list an input column under inputs:", name, did_you_mean(name, known))


# -- the hit policy -------------------------------------------------------------------------------


def applying(tables: Mapping[str, DecisionTable], fired: Sequence[tuple[Any, int | None]]) -> tuple[Any, ...]:
    """``fired`` (rule, item index) in stage order, less the rows a ``first``/``priority`` table's hit
    policy sets aside: per table (and line), only its preferred matching row applies."""
    best: dict[tuple[str, int | None], tuple[tuple[int, int], str]] = {}
    for rule, index in fired:
        table = tables.get(rule.table) if rule.table else None
        if table is None or table.hit not in ("first", "priority"):
            continue
        key = (table.name, index)
        rank = (table.rank[rule.id], rule.id)
        if key not in best or rank < best[key]:
            best[key] = rank
    if not best:
        return tuple(fired)
    return tuple((rule, index) for rule, index in fired
                 if not rule.table or (rule.table, index) not in best or best[(rule.table, index)][1] == rule.id)


# -- static analysis: overlaps and gaps ----------------------------------------------------------


def overlaps(table: DecisionTable) -> list[tuple[TableRow, TableRow, str]]:
    """Pairs of rows some input satisfies both of, each with the cells they share (in row order).

    Only rows that may overlap are compared cell by cell (grouped by their values, then swept along a
    number or date column: :func:`_candidates`), so a ladder of 10,000 bands, or a price list of
    10,000 rows by region × product × amount band, takes a moment, not the 50 million comparisons of
    every pair."""
    found = []
    for i, j in sorted(_candidates(table)):
        a, b = table.rows[i], table.rows[j]
        if not _same_days(a.effective, b.effective):
            continue  # never in force on the same day: one replaces the other
        if all(x.meets(y, column) for x, y, column in zip(a.cells, b.cells, table.inputs, strict=True)):
            shared = [f"{column.name} is {_both(x, y)}" for x, y, column in zip(a.cells, b.cells, table.inputs,
                                                                                 strict=True)
                      if not (x.any and y.any)]
            found.append((a, b, " and ".join(shared) or "always (every cell is -)"))
    return found


def _same_days(first: tuple[str, str], second: tuple[str, str]) -> bool:
    """Whether two rows' ``effective:`` windows (as written) share a day; a date that does not read
    as one is reported by the window's own check, and taken here as sharing."""
    if not any(first) and not any(second):
        return True  # both in force whenever their table is
    try:
        (a_from, a_until), (b_from, b_until) = ((date.fromisoformat(d) if d else None for d in w)
                                                for w in (first, second))
    except ValueError:
        return True
    starts = [d for d in (a_from, b_from) if d is not None]
    ends = [d for d in (a_until, b_until) if d is not None]
    return not (starts and ends and max(starts) >= min(ends))


def _candidates(table: DecisionTable) -> set[tuple[int, int]]:
    """Index pairs of rows that may overlap (a superset of those that do, never missing one).

    Two rows overlap only if they share a value on every column, so rows are first put in groups by
    the values of the columns that hold values (a text, choice or yes/no column: a price list's
    region and product), a row with ``-`` or ``not ...`` there joining every group; within a group
    they are swept along an ordered column (a number or date: the ``order.total`` bands). A
    10,000-row table keyed by region × product × amount band compares a few rows per row, where
    sweeping the bands alone compared every row with a fifth of the others (four minutes to load)."""
    axis = next((i for i, column in enumerate(table.inputs) if column.kind in (Kind.number, Kind.date)
                 and not all(row.cells[i].any for row in table.rows)), None)
    valued = tuple(i for i, column in enumerate(table.inputs) if column.kind not in (Kind.number, Kind.date))
    pairs: set[tuple[int, int]] = set()
    _grouped(table, tuple(range(len(table.rows))), valued, axis, pairs)
    return pairs


def _grouped(table: DecisionTable, indices: tuple[int, ...], columns: tuple[int, ...], axis: int | None,
             pairs: set[tuple[int, int]]) -> None:
    """Add the candidate pairs among ``indices``: split by the value column that leaves the fewest
    pairs to compare, then each group by the remaining ones, then swept along ``axis``."""
    if len(indices) < 2:
        return
    best: tuple[int, int, list[tuple[int, ...]]] | None = None  # (pairs left, column, groups)
    for column in columns:
        groups = _by_value(table, indices, column)
        if groups is None:
            continue
        left = sum(len(group) * (len(group) - 1) // 2 for group in groups)
        if best is None or left < best[0]:
            best = (left, column, groups)
    if best is None or best[0] >= len(indices) * (len(indices) - 1) // 2:
        _swept(table, indices, axis, pairs)  # no value column tells these rows apart
        return
    rest = tuple(c for c in columns if c != best[1])
    for group in best[2]:
        _grouped(table, group, rest, axis, pairs)


def _by_value(table: DecisionTable, indices: tuple[int, ...], column: int) -> list[tuple[int, ...]] | None:
    """``indices`` in groups by their values in ``column``: a row in the group of each of its values, one
    with ``-`` or an open-ended ``not ...`` in every group (the pairs are checked cell by cell afterwards:
    a group may hold more than overlaps). None when every row is of the latter kind."""
    spec = table.inputs[column]
    by_value: dict[object, list[int]] = {}
    everywhere: list[int] = []
    for index in indices:
        cell = table.rows[index].cells[column]
        if cell.any:
            everywhere.append(index)
            continue
        values, negated = closed_set(cell, spec)
        if negated or not values:  # not ... (or no value at all: it still meets a -, as Cell.meets says)
            everywhere.append(index)
            continue
        for value in values:
            by_value.setdefault(value, []).append(index)
    if not by_value:
        return None
    return [tuple(sorted({*group, *everywhere})) for group in by_value.values()]


def _swept(table: DecisionTable, indices: tuple[int, ...], axis: int | None, pairs: set[tuple[int, int]]) -> None:
    """Add the pairs among ``indices`` whose spans meet on the ordered column ``axis`` (every pair without one)."""
    if axis is None:
        pairs.update(itertools.combinations(indices, 2))
        return
    spans: list[tuple[tuple[int, Any], tuple[int, Any], int]] = []
    for index in indices:
        span = _span(table.rows[index].cells[axis])
        if span is not None:
            spans.append((*span, index))
    spans.sort(key=lambda item: item[0])
    active: list[tuple[tuple[int, Any], int]] = []  # (high, index) of the rows whose span may still meet
    for low, high, index in spans:
        active = [(h, i) for h, i in active if not h < low]  # ended before this one starts
        pairs.update((min(i, index), max(i, index)) for _, i in active)
        active.append((high, index))


def _span(cell: Cell) -> tuple[tuple[int, Any], tuple[int, Any]] | None:
    """From the lowest to the highest value the cell holds on an ordered column, bounds included
    (comparable keys: an unbounded end is below or above every value); None when it holds none."""
    if cell.any:
        return (0, None), (2, None)
    intervals = [i for i in (complement(cell.intervals) if cell.negated else cell.intervals) if not i.empty()]
    if not intervals:
        return None
    lows = [i.low for i in intervals]
    highs = [i.high for i in intervals]
    low = (0, None) if any(v is None for v in lows) else (1, min(v for v in lows if v is not None))
    high = (2, None) if any(v is None for v in highs) else (1, max(v for v in highs if v is not None))
    return low, high


def _both(x: Cell, y: Cell) -> str:
    if x.any or y.any:
        return (y if x.any else x).text
    return x.text if x.text == y.text else f"{x.text} and {y.text}"


@dataclass(frozen=True)
class _Piece:
    """A part of one column's values that every cell of the column holds entirely or not at all."""

    text: str
    sample: Any
    interval: Interval | None = None


_OTHER = object()  # a text value no cell names


def gaps(table: DecisionTable) -> list[str]:
    """The input combinations no row covers, in words (``salesgate validate --gaps``). Numbers are
    taken as continuous, a text column as its named values and any other text; a missing value is
    matched only by ``-`` and is not reported."""
    pieces = [_pieces(table, i, column) for i, column in enumerate(table.inputs)]
    total = 1
    for column_pieces in pieces:
        total *= len(column_pieces)
    if total > MAX_GAP_COMBINATIONS:
        return [f"{total:,} combinations of inputs, more than {MAX_GAP_COMBINATIONS:,}: not enumerated"]
    uncovered: list[tuple[_Piece, ...]] = []
    for combination in itertools.product(*pieces):
        if not any(all(cell.holds(piece.sample, column) if piece.sample is not _OTHER else _other(cell)
                       for cell, piece, column in zip(row.cells, combination, table.inputs, strict=True))
                   for row in table.rows):
            uncovered.append(combination)
    lines = [[piece.text for piece in combination] for combination in _merged(uncovered, table.inputs)]
    for index in range(len(table.inputs) - 1):  # values of one column that leave the same gap, listed together
        lines = _joined(lines, index, len(pieces[index]))
    return [" and ".join(f"{column.name} is {text}" for text, column in zip(line, table.inputs, strict=True))
            for line in lines]


def _joined(lines: list[list[str]], index: int, choices: int) -> list[list[str]]:
    """Gaps that differ only in column ``index`` as one, its values joined (``any value`` when they are all
    of the column's pieces)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for line in lines:
        groups.setdefault((*line[:index], *line[index + 1:]), []).append(line[index])
    out = []
    for rest, values in groups.items():
        text = ("any value" if len(values) == choices > 1 else values[0] if len(values) == 1
                else "one of " + ", ".join(values))
        out.append([*rest[:index], text, *rest[index:]])
    return out


def _other(cell: Cell) -> bool:
    return cell.any or cell.negated


def _pieces(table: DecisionTable, index: int, column: Column) -> list[_Piece]:
    cells = [row.cells[index] for row in table.rows]
    if all(cell.any for cell in cells):
        return [_Piece("any value", None)]
    if column.kind is Kind.bool:
        return [_Piece("true", True), _Piece("false", False)]
    if column.kind is Kind.enum and column.choices:
        return [_Piece(choice, choice) for choice in column.choices]
    if column.kind not in (Kind.number, Kind.date):
        named = sorted({v for cell in cells for v in cell.values if isinstance(v, str)})
        return [*(_Piece(repr(v), v) for v in named), _Piece("any other text", _OTHER)]
    bounds = sorted({b for cell in cells for i in cell.intervals for b in (i.low, i.high) if b is not None})
    out: list[_Piece] = []
    low: Decimal | date | None = None
    for bound in [*bounds, None]:
        interval = Interval(low, False, bound, False)
        sample = _inside(interval, column)
        if sample is not None:
            out.append(_Piece(interval_text(interval, column), sample, interval))
        if bound is not None:
            point = Interval(bound, True, bound, True)
            out.append(_Piece(interval_text(point, column), bound, point))
        low = bound
    return out


def _inside(interval: Interval, column: Column) -> Any:
    """A value strictly inside an open interval, or None when it holds none (two dates a day apart)."""
    low, high = interval.low, interval.high
    if column.kind is Kind.date:
        step = timedelta(days=1)
        if low is None and high is None:
            return date(2000, 1, 1)
        if low is None:
            return high - step  # type: ignore[operator]
        if high is None:
            return low + step  # type: ignore[operator]
        if not (isinstance(low, date) and isinstance(high, date)):  # pragma: no cover - a date column's bounds
            return None
        return low + step if (high - low).days > 1 else None
    if low is None and high is None:
        return Decimal(0)
    if low is None:
        return high - 1  # type: ignore[operator]
    if high is None:
        return low + 1  # type: ignore[operator]
    return (low + high) / 2  # type: ignore[operator]


def _merged(combinations: list[tuple[_Piece, ...]], columns: Sequence[Column]) -> list[tuple[_Piece, ...]]:
    """Runs of uncovered combinations that differ only in adjacent pieces of the last column, as one."""
    if not combinations or columns[-1].kind not in (Kind.number, Kind.date):
        return combinations
    out: list[tuple[_Piece, ...]] = []
    for combination in combinations:
        last = combination[-1]
        if out and out[-1][:-1] == combination[:-1] and out[-1][-1].interval is not None and last.interval is not None \
                and _adjacent(out[-1][-1].interval, last.interval):
            before = out[-1][-1].interval
            assert before is not None  # noqa: S101 - tested just above
            joined = Interval(before.low, before.low_closed, last.interval.high, last.interval.high_closed)
            out[-1] = (*combination[:-1], _Piece(interval_text(joined, columns[-1]), None, joined))
        else:
            out.append(combination)
    return out


def _adjacent(a: Interval, b: Interval) -> bool:
    return a.high is not None and a.high == b.low and a.high_closed != b.low_closed


def interval_text(interval: Interval, column: Column) -> str:
    """An interval in cell syntax: ``< 20000``, ``[20000..100000)``, ``5%``."""
    def value(v: Decimal | date) -> str:
        if isinstance(v, date):
            return v.isoformat()
        if column.rate:
            return f"{format((v * 100).normalize(), 'f')}%"
        return format(v.normalize(), "f") if v == v.to_integral_value() else format(v, "f")

    low, high = interval.low, interval.high
    if low is None and high is None:
        return "any value"
    if low is not None and low == high:
        return value(low)
    if low is None:
        assert high is not None  # noqa: S101 - both None returned above
        return f"{'<=' if interval.high_closed else '<'} {value(high)}"
    if high is None:
        return f"{'>=' if interval.low_closed else '>'} {value(low)}"
    return f"{'[' if interval.low_closed else '('}{value(low)}..{value(high)}{']' if interval.high_closed else ')'}"
