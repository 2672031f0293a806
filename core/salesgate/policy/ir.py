"""The compiled rule structure both backends run.

A condition written by a policy owner is parsed, type-checked against the fact vocabulary and
lowered into these frozen nodes, in negation normal form: ``not`` has been pushed down onto the
comparisons, so every backend implements exactly one semantics:

* a comparison that reads a missing value (``None``) is false, also under ``not``;
  only ``x == None`` / ``x != None`` (:class:`IsNone`) test for absence;
* ``any`` over an empty list is false, ``all`` over an empty list is true;
* numbers are exact ``Decimal``/``int``; dates are ``datetime.date``; durations are whole days;
  arithmetic is :func:`arith`, the one definition the checker's constant folding and both backends use.

The evaluator (:mod:`salesgate.policy.evaluator`, the python backend's) interprets these nodes directly; the
durable-rules backend (:mod:`salesgate.engine.durable`) translates them into durable's JSON dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, TypeAlias


class Kind(StrEnum):
    """The type of a fact or expression, as the type checker sees it."""

    number = "number"  # Decimal or int: money, rates, quantities, day counts
    text = "text"
    enum = "enum"  # text restricted to declared choices
    bool = "bool"
    date = "date"
    duration = "duration"  # whole days, from days(n) or date - date
    list = "list"


@dataclass(frozen=True)
class Ref:
    """Read a fact. ``path`` is the dotted vocabulary path (``order.total``, ``line.qty``).

    ``item`` is true inside ``any``/``all``: the value is read from the current list element
    instead of the decision's facts.
    """

    path: str
    kind: Kind
    item: bool = False


@dataclass(frozen=True)
class Const:
    """A literal: Decimal/int for numbers and durations (days), str, bool, date."""

    value: Decimal | int | str | bool | date
    kind: Kind


ArithOp: TypeAlias = Literal["+", "-", "*", "/"]


@dataclass(frozen=True)
class Arith:
    """Exact arithmetic on numbers, or date ± duration / date − date."""

    op: ArithOp
    left: Expr
    right: Expr
    kind: Kind


@dataclass(frozen=True)
class Call:
    """A function of :mod:`salesgate.policy.functions` applied to ``args``; ``kind`` is its result.

    A missing argument gives a missing result. ``state`` is what the function's ``prepare`` made of
    the policy data it reads (a lookup table, a calendar) at load time. It takes part in equality
    (the same call on a changed table is another condition: bulk replays and reloads must see it)
    but not in the hash, so it need not be hashable; equal states must compare equal by value."""

    func: str
    args: tuple[Expr, ...]
    kind: Kind
    state: Any = field(default=None, hash=False, repr=False)


AggregateFunc: TypeAlias = Literal["sum", "count", "min", "max", "avg"]


@dataclass(frozen=True)
class Aggregate:
    """``sum(value for element in collection if where)``, and ``count``, ``min``, ``max``, ``avg``.

    ``value`` and ``where`` read the element with item refs (``value`` None: ``count`` counts the
    elements). Elements whose ``where`` is false, or whose ``value`` is missing, are skipped. Over
    no element, ``sum`` and ``count`` are 0 and ``min``, ``max``, ``avg`` are missing; ``avg`` is the
    sum divided as ``/`` divides. ``element`` is the element's name (``line``), for explanations."""

    func: AggregateFunc
    collection: str
    element: str
    value: Expr | None
    where: Cond | None
    kind: Kind


Expr: TypeAlias = Ref | Const | Arith | Call | Aggregate

CompareOp: TypeAlias = Literal["<", "<=", ">", ">=", "==", "!="]

NEGATED: dict[CompareOp, CompareOp] = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
SWAPPED: dict[CompareOp, CompareOp] = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class Compare:
    """``left op right``; false when either side is missing (None)."""

    op: CompareOp
    left: Expr
    right: Expr


@dataclass(frozen=True)
class IsNone:
    """``operand == None`` (``present`` false) or ``operand != None`` (``present`` true).

    The one test that sees absence: ``operand`` is a fact, or any expression that may be missing
    (``max(...)`` over no value, ``lookup(...)`` of a key not in the table); ``not`` flips ``present``."""

    operand: Expr
    present: bool


@dataclass(frozen=True)
class And:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Quantified:
    """``any(cond for line in order.lines)`` / ``all(...)``: ``cond`` reads the element with item refs."""

    quantifier: Literal["any", "all"]
    collection: str
    cond: Cond


@dataclass(frozen=True)
class Always:
    """A rule with no condition (``when: true``) fires on every decision."""


Cond: TypeAlias = Compare | IsNone | And | Or | Quantified | Always


def walk_refs(node: Cond | Expr) -> list[Ref]:
    """Every fact a condition or expression reads, in reading order (duplicates kept)."""
    out: list[Ref] = []

    def visit(n: Any) -> None:
        if isinstance(n, Ref):
            out.append(n)
        elif isinstance(n, Arith | Compare):
            visit(n.left)
            visit(n.right)
        elif isinstance(n, Call):
            for arg in n.args:
                visit(arg)
        elif isinstance(n, IsNone):
            visit(n.operand)
        elif isinstance(n, And | Or):
            for item in n.items:
                visit(item)
        elif isinstance(n, Quantified):
            out.append(Ref(n.collection, Kind.list))
            visit(n.cond)
        elif isinstance(n, Aggregate):
            out.append(Ref(n.collection, Kind.list))
            visit(n.value)
            visit(n.where)

    visit(node)
    return out


def aggregate(func: AggregateFunc, values: list[Any]) -> Any:
    """An aggregate of the (present) values: the one definition both backends use."""
    if func == "count":
        return len(values)
    if func == "sum":
        return sum(values, 0)
    if not values:
        return None
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    return arith("/", sum(values, 0), len(values))


def arith(op: str, left: Any, right: Any) -> Any:
    """Exact arithmetic with the IR's rules: None in, None out; x / 0 is None (missing), and so is
    a date before 0001-01-01 or after 9999-12-31 (``order.order_date + 3000000``)."""
    if left is None or right is None:
        return None
    if isinstance(left, date):
        if isinstance(right, date):
            return (left - right).days
        days = Decimal(right)
        if days != days.to_integral_value():
            return None
        try:
            delta = timedelta(days=int(days))
            return left + delta if op == "+" else left - delta
        except OverflowError:
            return None
    if isinstance(right, date):  # number + date
        return arith("+", right, left)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        return None
    return Decimal(left) / Decimal(right)
