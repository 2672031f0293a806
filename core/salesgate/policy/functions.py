"""The functions of the condition language, registered once: the checker, the evaluator, the
explanations and the durable backend all read this one table.

A :class:`Function` says what a function takes (:attr:`Function.params`, one :class:`Kind` per
argument), what it gives (:attr:`Function.result`) and how to compute it exactly
(:attr:`Function.run`, over Python values: ``Decimal``/``int``, ``str``, ``bool``, ``date``).
The evaluator calls ``run`` only when no argument is missing: a missing argument gives a missing
result (the language's rule, :mod:`salesgate.policy.ir`), so an implementation never sees ``None``.
``run`` must be total: for any values of the declared kinds it returns a value or ``None``
(missing), never raises.

Adding a function (as the business-day functions do) is one :func:`register` call with a
:class:`Function`, from this module or from a module this module imports at its end; the name
must be new. A function that reads policy data (a holiday calendar, a lookup table) names it in
:attr:`Function.needs`: the checker then takes that object from ``Context.data[needs]`` (the
compiler fills ``Context.data`` from the policy directory, ``load_policy``'s ``policy_data``), and
``run`` receives it as its first argument on every call. With :attr:`Function.prepare`, the
checker first calls ``prepare(data, constants, kinds)`` with the arguments written as constants
(:attr:`Function.constants`) and the kinds of all arguments; it returns the result kind and the
*state* (e.g. one column of a table) ``run`` then receives first instead of the data. ``prepare``
raises :class:`FunctionError` with a message a policy owner reads, naming the argument at fault.
A state must compare equal by value (it is part of the condition, see :class:`~.ir.Call`).

Example, a function on the holiday calendar (``Context.data["calendar"]``)::

    register(Function("is_workday", (Kind.date,), Kind.bool, lambda calendar, d: calendar.is_workday(d),
                      "is_workday(order.order_date)", needs="calendar"))
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ..documents import FieldType
from ..errors import did_you_mean
from .calendars import Calendar
from .ir import Kind

__all__ = ["FUNCTIONS", "Column", "Function", "FunctionError", "Prepared", "names", "register"]


class FunctionError(ValueError):
    """A function's arguments refused at load time; ``argument`` is the 0-based argument at fault."""

    def __init__(self, message: str, argument: int | None = None, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument
        self.suggestion = suggestion


Prepared = tuple[Kind, Any]
"""What :attr:`Function.prepare` returns: the call's result kind and the state ``run`` receives first."""


@dataclass(frozen=True)
class Function:
    """One function of the language.

    ``params``: the kind of each argument; ``Kind.text`` also accepts a fact with fixed choices
    (enum); ``None`` accepts any kind but a list (a lookup key). ``result``: the kind it gives
    (``prepare`` may decide it instead). ``usage``: how it is written, for error messages
    (``year(order.order_date)``). ``constants``: the positions of arguments that must be written
    as constants (a pattern, a table's name); their values reach ``prepare``.
    """

    name: str
    params: tuple[Kind | None, ...]
    result: Kind
    run: Callable[..., Any]
    usage: str
    needs: str | None = None
    constants: tuple[int, ...] = ()
    prepare: Callable[[Any, Mapping[int, Any], tuple[Kind, ...]], Prepared] | None = None
    why: Callable[..., str | None] | None = None
    """Why the function gives what it gives, for explanations: called like ``run`` (the state first, for a
    stateful function) when no argument is missing (``2026-02-16 周一 放假 (春节)``); None says nothing."""
    rate: Callable[[Any], bool] | None = None
    """Whether a call gives a rate (shown as 5%, not 0.05), from its state: a lookup of a percent column."""

    @property
    def stateful(self) -> bool:
        """Whether ``run`` receives a state first: the prepared one, or the data the function needs."""
        return self.prepare is not None or self.needs is not None


FUNCTIONS: dict[str, Function] = {}
"""Every function by name, in the order registered (how error messages list them)."""

BUILT_IN = ("date", "days", "any", "all", "sum", "count", "min", "max", "avg")
"""Names the checker handles itself (constants, loops, aggregates): never registered."""


def names() -> list[str]:
    """Every function name a policy may write, as error messages list them."""
    return [*BUILT_IN, *FUNCTIONS]


def register(function: Function) -> Function:
    """Add ``function`` to the language; a name already taken is a programming error."""
    if function.name in FUNCTIONS or function.name in BUILT_IN:
        raise ValueError(f"function {function.name!r} is already defined")
    if any(not 0 <= i < len(function.params) for i in function.constants):
        raise ValueError(f"function {function.name!r}: a constant position is not an argument")
    FUNCTIONS[function.name] = function
    return function


# -- calendar functions on dates ---------------------------------------------------------------------

def _month_end(d: date) -> date:
    return d.replace(day=_calendar.monthrange(d.year, d.month)[1])


register(Function("year", (Kind.date,), Kind.number, lambda d: d.year, "year(order.order_date)"))
register(Function("quarter", (Kind.date,), Kind.number, lambda d: (d.month - 1) // 3 + 1,
                  "quarter(order.order_date)"))
register(Function("month", (Kind.date,), Kind.number, lambda d: d.month, "month(order.order_date)"))
register(Function("weekday", (Kind.date,), Kind.number, lambda d: d.isoweekday(), "weekday(order.order_date)"))
register(Function("month_end", (Kind.date,), Kind.date, _month_end, "month_end(order.order_date)"))
register(Function("days_between", (Kind.date, Kind.date), Kind.number, lambda a, b: (b - a).days,
                  "days_between(order.order_date, date(\"2026-12-31\"))"))


# -- text ---------------------------------------------------------------------------------------------

register(Function("starts_with", (Kind.text, Kind.text), Kind.bool, lambda s, prefix: s.startswith(prefix),
                  'starts_with(customer.name, "华东")'))
register(Function("ends_with", (Kind.text, Kind.text), Kind.bool, lambda s, suffix: s.endswith(suffix),
                  'ends_with(customer.name, "有限公司")'))
register(Function("contains", (Kind.text, Kind.text), Kind.bool, lambda s, part: part in s,
                  'contains(order.special_requirements, "加急")'))


def _pattern(data: Any, constants: Mapping[int, Any], kinds: tuple[Kind, ...]) -> Prepared:
    """``matches``' pattern, compiled once at load by RE2: linear time in the text, whatever the pattern
    (no backtracking engine ever runs a pattern a policy wrote)."""
    from .patterns import compile_pattern  # the RE2 binding, loaded by policies that match patterns

    try:
        return Kind.bool, compile_pattern(str(constants[1]))
    except ValueError as exc:
        raise FunctionError(str(exc), 1) from None


register(Function("matches", (Kind.text, Kind.text), Kind.bool,
                  lambda pattern, s, _written: pattern.search(s),
                  'matches(customer.name, "^华东.*有限公司$")', constants=(1,), prepare=_pattern))


# -- lookup tables (data/*.csv, policy/datafiles.py) -----------------------------------------------------

def _lookup(tables: Any, constants: Mapping[int, Any], kinds: tuple[Kind, ...]) -> Prepared:
    """The table and column a lookup names, checked at load; its state is the column's value by key."""
    name, column = str(constants[0]), str(constants[2])
    if name in tables and tables[name] is None:
        raise FunctionError(f"the table {name!r} has problems (reported at its file): fix them first", 0)
    table = tables.get(name)
    if table is None:
        known = ", ".join(tables) or "none: add one as data/<name>.csv"
        raise FunctionError(f"no table {name!r} in the policy's data/ folder (its tables: {known})", 0,
                            did_you_mean(name, list(tables)))
    names = [c for c, _ in table.columns]
    if column not in names[1:]:
        hint = (f"{column!r} is the key column; name a column to read" if column == names[0] else
                f"no column {column!r} in table {name}")
        raise FunctionError(f"{hint} (its columns: {', '.join(names[1:])})", 2, did_you_mean(column, names[1:]))
    key_kind, given = table.kind(names[0]), kinds[1]
    if not (given is key_kind or (key_kind is Kind.text and given is Kind.enum)):
        raise FunctionError(f"the key of table {name} ({names[0]}) is {_KIND_WORDS[key_kind]}, and the second argument "
                            f"is {_KIND_WORDS[given]}", 1)
    return table.kind(column), Column(table.values(column), table.type(column) is FieldType.percent)


@dataclass(frozen=True)
class Column:
    """A lookup's state: one column's value by key, and whether the column holds rates (typed ``percent``)."""

    values: Mapping[Any, Any]
    rate: bool = False


_KIND_WORDS = {Kind.number: "a number", Kind.text: "text", Kind.enum: "text", Kind.bool: "true/false",
               Kind.date: "a date", Kind.duration: "a number of days", Kind.list: "a list"}

register(Function("lookup", (Kind.text, None, Kind.text), Kind.text,
                  lambda column, _table, key, _column: column.values.get(key),
                  'lookup("region_limits", customer.region, "limit")', needs="tables", constants=(0, 2),
                  prepare=_lookup, rate=lambda column: column.rate))


# -- business days over the policy's holiday calendar ------------------------------------------------

CALENDAR = "calendar"
"""The key of ``Context.data`` that holds the policy's calendar (the one ``policy.yaml`` names with
``calendar:``), or, as text, why it has none: what the policy owner reads when a rule counts business days."""


def _with_calendar(result: Kind) -> Callable[[Any, Mapping[int, Any], tuple[Kind, ...]], Prepared]:
    """Bind the policy's calendar to a business-day call at load, so a decision reads only the policy's file."""
    def prepare(data: Any, constants: Mapping[int, Any], kinds: tuple[Kind, ...]) -> Prepared:
        if not isinstance(data, Calendar):
            raise FunctionError(str(data) if data else "this policy has no holiday calendar: add calendars/cn.yaml "
                                "and name it in policy.yaml (calendar: cn)")
        return result, data

    return prepare


def _whole(n: int | Decimal) -> int | None:
    """A number of business days: a whole number, else missing (there is no half business day)."""
    if isinstance(n, int):
        return n
    exact = Decimal(n)
    return int(exact) if exact.is_finite() and exact == exact.to_integral_value() else None


def _add_business_days(calendar: Calendar, day: date, n: int | Decimal) -> date | None:
    whole = _whole(n)
    return None if whole is None else calendar.add_business_days(day, whole)


register(Function("is_business_day", (Kind.date,), Kind.bool,
                  lambda calendar, day: calendar.is_business_day(day),
                  "is_business_day(order.order_date)", needs=CALENDAR, prepare=_with_calendar(Kind.bool),
                  why=lambda calendar, day: calendar.describe(day)))
register(Function("add_business_days", (Kind.date, Kind.number), Kind.date, _add_business_days,
                  "add_business_days(order.order_date, 5)", needs=CALENDAR, prepare=_with_calendar(Kind.date)))
register(Function("business_days_between", (Kind.date, Kind.date), Kind.number,
                  lambda calendar, start, end: calendar.business_days_between(start, end),
                  "business_days_between(order.order_date, date(\"2026-12-31\"))", needs=CALENDAR,
                  prepare=_with_calendar(Kind.number)))
