"""The cells of a decision table's input columns: their syntax, their meaning, and how they overlap.

A cell is a condition on its column's value, written the way a policy owner writes it in a
spreadsheet: ``-`` (any value), ``[20000..100000)`` (a range, ``[``/``]`` inclusive, ``(``/``)``
exclusive), ``>= 5%``, ``A, B`` (any of these), ``not A, B``, or a plain value meaning ``==``.
Each cell is parsed once into a :class:`Cell` (a union of intervals, or a set of values) that
both lowers to an expression of the ordinary language (so a table row is an ordinary rule, matched
alike by every backend) and answers the static questions a table asks at load: do two rows
overlap (a ``unique`` table refuses it), and which inputs does no row cover (``--gaps``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from ..errors import did_you_mean
from .days import ISO_DAY, parse_day
from .ir import Kind
from .limits import MAX_NUMBER

Scalar: TypeAlias = Decimal | date | str | bool


class CellError(ValueError):
    """A cell that says nothing the column can mean; the message is for the policy owner."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion


@dataclass(frozen=True)
class Column:
    """What an input column holds: its kind, its enum choices, and whether it is a rate (a percent)."""

    name: str
    expression: str
    kind: Kind
    choices: tuple[str, ...] = ()
    rate: bool = False


@dataclass(frozen=True)
class Interval:
    """Values from ``low`` to ``high`` (None: unbounded), each end included or not."""

    low: Decimal | date | None
    low_closed: bool
    high: Decimal | date | None
    high_closed: bool

    def empty(self) -> bool:
        if self.low is None or self.high is None:
            return False
        if self.low > self.high:  # type: ignore[operator]  # one column holds one kind
            return True
        return self.low == self.high and not (self.low_closed and self.high_closed)

    def meets(self, other: Interval) -> bool:
        """Whether the two intervals share a value."""
        low, low_closed = _max_low(self, other)
        high, high_closed = _min_high(self, other)
        return not Interval(low, low_closed, high, high_closed).empty()


def _max_low(a: Interval, b: Interval) -> tuple[Decimal | date | None, bool]:
    if a.low is None:
        return b.low, b.low_closed
    if b.low is None or a.low > b.low:  # type: ignore[operator]
        return a.low, a.low_closed
    if a.low == b.low:
        return a.low, a.low_closed and b.low_closed
    return b.low, b.low_closed


def _min_high(a: Interval, b: Interval) -> tuple[Decimal | date | None, bool]:
    if a.high is None:
        return b.high, b.high_closed
    if b.high is None or a.high < b.high:  # type: ignore[operator]
        return a.high, a.high_closed
    if a.high == b.high:
        return a.high, a.high_closed and b.high_closed
    return b.high, b.high_closed


@dataclass(frozen=True)
class Cell:
    """One parsed cell. ``any`` matches every value (a missing one too); otherwise an ordered column
    (numbers, dates) holds ``intervals`` and a text, choice or true/false column holds ``values``,
    all of them (``negated`` false) or any but them (``negated`` true)."""

    text: str
    any: bool = False
    intervals: tuple[Interval, ...] = ()
    values: frozenset[Scalar] = frozenset()
    negated: bool = False

    def meets(self, other: Cell, column: Column) -> bool:
        """Whether one value of the column satisfies both cells (their rows overlap on this column)."""
        if self.any or other.any:
            return True
        if column.kind in (Kind.number, Kind.date):
            mine, theirs = _intervals(self), _intervals(other)
            return any(a.meets(b) for a in mine for b in theirs)
        mine_set, mine_neg = closed_set(self, column)
        theirs_set, theirs_neg = closed_set(other, column)
        if not mine_neg and not theirs_neg:
            return bool(mine_set & theirs_set)
        if mine_neg and theirs_neg:
            return True  # a text column has values beyond any two finite lists
        positive, excluded = (theirs_set, mine_set) if mine_neg else (mine_set, theirs_set)
        return bool(positive - excluded)

    def holds(self, sample: Scalar, column: Column) -> bool:
        """Whether ``sample`` (a value of the column) satisfies the cell."""
        if self.any:
            return True
        if column.kind in (Kind.number, Kind.date):
            return any(_inside(sample, i) for i in _intervals(self))
        values, negated = closed_set(self, column)
        return (sample in values) != negated


def _inside(value: Scalar, interval: Interval) -> bool:
    if interval.low is not None and (value < interval.low or (value == interval.low and not interval.low_closed)):  # type: ignore[operator]
        return False
    return not (interval.high is not None
                and (value > interval.high or (value == interval.high and not interval.high_closed)))  # type: ignore[operator]


def _intervals(cell: Cell) -> tuple[Interval, ...]:
    return complement(cell.intervals) if cell.negated else cell.intervals


def closed_set(cell: Cell, column: Column) -> tuple[frozenset[Scalar], bool]:
    """The cell's values, a negated cell turned positive where the column's values are finite."""
    universe: frozenset[Scalar] | None = None
    if column.kind is Kind.bool:
        universe = frozenset({True, False})
    elif column.kind is Kind.enum and column.choices:
        universe = frozenset(column.choices)
    if cell.negated and universe is not None:
        return universe - cell.values, False
    return cell.values, cell.negated


def complement(intervals: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """The values none of ``intervals`` holds, as intervals in ascending order."""
    out: list[Interval] = []
    started = False  # until an interval is seen, nothing is held from -infinity on
    cursor: Decimal | date | None = None  # the lowest value not yet known to be held
    cursor_closed = False  # whether ``cursor`` itself is not held
    for interval in sorted((i for i in intervals if not i.empty()), key=_low_key):
        if interval.low is not None:
            gap = Interval(cursor if started else None, cursor_closed and started, interval.low,
                           not interval.low_closed)
            if not gap.empty():
                out.append(gap)
        if interval.high is None:
            return tuple(out)
        if (not started or interval.high > cursor  # type: ignore[operator]
                or (interval.high == cursor and cursor_closed and interval.high_closed)):
            cursor, cursor_closed, started = interval.high, not interval.high_closed, True
    out.append(Interval(cursor if started else None, cursor_closed and started, None, False))
    return tuple(out)


def _low_key(interval: Interval) -> tuple[int, object, int]:
    if interval.low is None:
        return (0, 0, 0)
    return (1, interval.low, 0 if interval.low_closed else 1)


_RANGE = re.compile(r"^([\[(\]])\s*(.*?)\s*\.\.\s*(.*?)\s*([\])\[])$", re.S)
_COMPARISON = re.compile(r"^(>=|<=|==|!=|>|<|=)\s*(.*)$", re.S)
_NUMBER = re.compile(r"^[+-]?[0-9][0-9_]*(?:\.[0-9]+)?%?$")
_FULL_WIDTH = str.maketrans("％，．－（）［］＞＜＝", "%,.-()[]><=")


def parse_cell(raw: object, column: Column) -> Cell:
    """Parse one cell of ``column``; raise :class:`CellError` saying what is wrong in plain words."""
    if raw is None:
        return Cell("-", any=True)
    if isinstance(raw, bool):
        if column.kind is not Kind.bool:
            raise CellError(f"{str(raw).lower()} is a true/false value, and {column.name} holds {_what(column)}")
        return Cell(str(raw).lower(), values=frozenset({raw}))
    if isinstance(raw, date):
        raw = raw.isoformat()
    if isinstance(raw, int | Decimal | float):
        raw = str(raw)
    if isinstance(raw, list):
        written = "[" + ", ".join(str(item) for item in raw) + "]"
        raise CellError(f"YAML reads {written} as a list: put the cell in quotes, as in \"{written}\" (a range), "
                        "or write several values as A, B")
    if not isinstance(raw, str):
        raise CellError("a cell holds one condition, not a mapping: write several values as A, B")
    text = raw.strip()
    if text in ("", "-", "—", "any"):
        return Cell(text or "-", any=True)
    if any(ch in text for ch in "％，．－（）［］＞＜＝"):
        fixed = text.translate(_FULL_WIDTH)
        raise CellError(f"{text!r} has full-width punctuation: write {fixed!r}")
    if any(ord(ch) < 32 for ch in text):
        raise CellError("a cell holds one line: remove the line break")
    negated = False
    body = text
    if re.match(r"^not\s", body):
        negated, body = True, body[3:].strip()
        if not body:
            raise CellError("'not' needs values after it, as in not A, B")
    parts = _split(body)
    if column.kind in (Kind.number, Kind.date):
        intervals = tuple(_interval(part, column) for part in parts)
        _thousands(parts, column)
        return Cell(text, intervals=intervals, negated=negated)
    values = frozenset(_value(part, column) for part in parts)
    return Cell(text, values=values, negated=negated)


def _split(body: str) -> list[str]:
    """The comma-separated parts of a cell; a comma inside quotes or a range belongs to the part."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    depth = 0
    for ch in body:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[(" and not "".join(current).strip():
            depth += 1
        elif ch in "])" and depth:
            depth -= 1
        if ch == "," and not depth:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    if quote:
        raise CellError(f"{body!r} opens a quote {quote} it never closes")
    parts.append("".join(current).strip())
    if any(not part for part in parts):
        raise CellError(f"{body!r} has an empty value between commas: write A, B")
    return parts


def _thousands(parts: list[str], column: Column) -> None:
    """``20,000`` in a number column reads as the two values 20 and 000: say so instead."""
    for before, after in itertools.pairwise(parts):
        number = re.search(r"[0-9]+$", before)
        if re.fullmatch(r"[0-9]{3}(\.[0-9]+)?%?[\])]?", after) and number:
            written = number.group() + "," + after.rstrip(")]")
            raise CellError(f"{written} reads as two values (the comma separates values): write numbers without a "
                            f"thousands separator, e.g. {written.replace(',', '')}")


def _interval(part: str, column: Column) -> Interval:
    if part[:1] in "[(]" or part[-1:] in "])[":
        match = _RANGE.match(part)
        if match is None:
            return _bad_range(part)
        opening, low_text, high_text, closing = match.groups()
        low = _ordered(low_text, column) if low_text else None
        high = _ordered(high_text, column) if high_text else None
        if low is not None and high is not None and low > high:  # type: ignore[operator]
            raise CellError(f"{part!r} runs from {low_text} down to {high_text}: write the lower bound first")
        interval = Interval(low, opening == "[" and low is not None, high, closing == "]" and high is not None)
        if interval.empty():
            raise CellError(f"{part!r} holds no value: an end excluded with ( or ) leaves nothing between them")
        return interval
    match = _COMPARISON.match(part)
    if match:
        op, value_text = match.groups()
        if not value_text.strip():
            raise CellError(f"{op} needs a value after it, as in {op} 20000")
        value = _ordered(value_text.strip(), column)
        if op == "=":
            raise CellError(f"write == {value_text.strip()} (or just {value_text.strip()}), not = {value_text.strip()}")
        if op == "!=":
            raise CellError(f"write not {value_text.strip()} for any value but {value_text.strip()}")
        return {
            ">=": Interval(value, True, None, False), ">": Interval(value, False, None, False),
            "<=": Interval(None, False, value, True), "<": Interval(None, False, value, False),
            "==": Interval(value, True, value, True),
        }[op]
    value = _ordered(part, column)
    return Interval(value, True, value, True)


def _bad_range(part: str) -> Interval:
    if ".." not in part:
        raise CellError(f"{part!r} is not a range: write [low..high), with two dots between the bounds")
    if part[:1] not in "[(":
        raise CellError(f"{part!r} is missing its opening bracket: write [ (low included) or ( (excluded)")
    if part[-1:] not in "])":
        raise CellError(f"{part!r} is missing its closing bracket: write ] (high included) or ) (excluded)")
    raise CellError(f"{part!r} is not a range: write it like [20000..100000)")


def _ordered(text: str, column: Column) -> Decimal | date:
    text = text.strip()
    if column.kind is Kind.date:
        if not ISO_DAY.fullmatch(text):
            raise CellError(f"{text!r} is not a date: write YYYY-MM-DD, e.g. 2027-01-31")
        day = parse_day(text)
        if day is None:
            raise CellError(f"{text!r} is not a date of the calendar")
        return day
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        raise CellError(f"{text!r} has full-width digits: write numbers with the digits 0-9")
    if not _NUMBER.match(text):
        if re.fullmatch(r"[0-9.,]+(万|元|w|W|k|K)", text):
            raise CellError(f"{text!r}: write the plain number (3万 is 30000), without units")
        raise CellError(f"{text!r} is not a number: {column.name} holds {_what(column)}")
    percent = text.endswith("%")
    if column.rate and not percent:
        raise CellError(f"{text} on {column.name}, a percentage: did you mean {text}%?", f"{text}%")
    digits = text.rstrip("%").replace("_", "")
    try:
        value = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise CellError(f"{text!r} is not a number") from None
    if abs(value) >= MAX_NUMBER:
        raise CellError(f"the number {text} is too large: at most 15 digits before the decimal point")
    return value / 100 if percent else value


def _value(part: str, column: Column) -> Scalar:
    if column.kind is Kind.bool:
        lowered = part.lower()
        if lowered in ("true", "yes", "是"):
            return True
        if lowered in ("false", "no", "否"):
            return False
        raise CellError(f"{part!r} is not true or false: {column.name} is a yes/no value")
    if part[:1] in "[(<>=!" or (part[-1:] in "])" and ".." in part):
        raise CellError(f"{part!r}: {column.name} holds text, which is matched by value (A, B), not by ranges "
                        "or comparisons")
    value = part[1:-1] if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'" else part
    if column.kind is Kind.enum and column.choices and value not in column.choices:
        raise CellError(f"{value!r} is not a value of {column.name}: expected one of {', '.join(column.choices)}",
                        did_you_mean(value, list(column.choices)))
    return value


def _what(column: Column) -> str:
    if column.kind is Kind.number:
        return "a percentage such as 5%" if column.rate else "a number"
    return {"date": "a date", "bool": "true or false", "enum": "one of " + ", ".join(column.choices)}.get(
        column.kind.value, "text")


def condition(cell: Cell, column: Column) -> str | None:
    """The cell as a condition of the ordinary language on the column's expression (None: any value)."""
    if cell.any:
        return None
    subject = column.expression if re.fullmatch(r"[\w.]+", column.expression) else f"({column.expression})"
    if column.kind in (Kind.number, Kind.date):
        parts = [_interval_text(subject, interval) for interval in cell.intervals]
        text = parts[0] if len(parts) == 1 else " or ".join(f"({p})" if " and " in p else p for p in parts)
        if len(parts) > 1 and not cell.negated:
            text = f"({text})"
    else:
        ordered = sorted(cell.values, key=str)
        if len(ordered) == 1:
            text = f"{subject} == {_literal(ordered[0])}"
        else:
            text = f"{subject} in [{', '.join(_literal(v) for v in ordered)}]"
    return f"not ({text})" if cell.negated else text


def _interval_text(subject: str, interval: Interval) -> str:
    if interval.low is not None and interval.low == interval.high:
        return f"{subject} == {_literal(interval.low)}"
    parts = []
    if interval.low is not None:
        parts.append(f"{subject} {'>=' if interval.low_closed else '>'} {_literal(interval.low)}")
    if interval.high is not None:
        parts.append(f"{subject} {'<=' if interval.high_closed else '<'} {_literal(interval.high)}")
    return " and ".join(parts)


def _literal(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return f'date("{value.isoformat()}")'
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def describe(cell: Cell) -> str:
    """The cell as its owner wrote it."""
    return cell.text
