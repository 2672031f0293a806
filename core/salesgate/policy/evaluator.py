"""The evaluator of compiled conditions and expressions, and the explanation of a condition in words.

Conditions are compiled once into nested closures (no tree walking per decision, no ``eval``).
The pure-Python backend (:mod:`salesgate.engine.python`) matches with them, the durable backend
computes with them what durable-rules cannot, price formulas (:mod:`.effects`) run on them, and the
verdict's trace explains why a rule did or did not fire with :func:`explain`. It is the IR's
semantics run, so it sits in the policy package next to :mod:`.ir`, below every backend.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from ..facts import FactValues
from ..money import format_money
from .functions import FUNCTIONS
from .ir import (
    Aggregate,
    Always,
    And,
    Arith,
    Call,
    Compare,
    CompareOp,
    Cond,
    Const,
    Expr,
    IsNone,
    Kind,
    Or,
    Quantified,
    Ref,
    aggregate,
    arith,
    walk_refs,
)

Getter = Callable[[FactValues, FactValues | None], Any]
Test = Callable[[FactValues, FactValues | None], bool]

_COMPARE: dict[CompareOp, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def compile_expr(expr: Expr) -> Getter:
    """A function (facts, current list element) → the expression's exact value or None."""
    if isinstance(expr, Const):
        value = expr.value
        return lambda root, item: value
    if isinstance(expr, Ref):
        path = expr.path
        if expr.item:
            return lambda root, item: item.get(path) if item is not None else None
        return lambda root, item: root.get(path)
    if isinstance(expr, Call):
        return _compile_call(expr)
    if isinstance(expr, Aggregate):
        return _compile_aggregate(expr)
    left, right, op = compile_expr(expr.left), compile_expr(expr.right), expr.op
    return lambda root, item: arith(op, left(root, item), right(root, item))


def _compile_aggregate(agg: Aggregate) -> Getter:
    """An aggregate over the list's elements that pass the filter, their missing values skipped."""
    path, func = agg.collection, agg.func
    value = compile_expr(agg.value) if agg.value is not None else None
    where = compile_cond(agg.where) if agg.where is not None else None

    def compute(root: FactValues, item: FactValues | None) -> Any:
        elements = root.get(path) or ()
        if where is not None:
            elements = [el for el in elements if where(root, el)]
        if value is None:
            return len(elements)
        values = [v for el in elements if (v := value(root, el)) is not None]
        return aggregate(func, values)

    inner = [*(walk_refs(agg.value) if agg.value is not None else ()),
             *(walk_refs(agg.where) if agg.where is not None else ())]
    if any(not ref.item for ref in inner):
        # Reads the decision's (or the current line's) facts too: computed each time it is asked.
        keyed = _keyed_filter(agg.where)
        return _compile_keyed(agg, *keyed) if keyed is not None else compute
    # Reads only the elements: a line rule asks for it once per line, on the same list (each line's facts
    # share the order's list), so the last list's result is kept. 10,000 lines summed for each of 10,000
    # lines would be 10^8 steps. One tuple, swapped whole: safe across threads; it holds one list alive.
    last: list[tuple[Any, Any]] = [((), None)]

    def remembered(root: FactValues, item: FactValues | None) -> Any:
        elements = root.get(path)
        seen, result = last[0]
        if elements is not None and seen is elements:
            return result
        result = compute(root, item)
        if elements is not None:
            last[0] = (elements, result)
        return result

    return remembered


def _keyed_filter(where: Cond | None) -> tuple[Ref, Expr, Cond | None] | None:
    """``element.x == <what the element does not read>`` (first in an ``and``): the element's key, the
    value to look up and the rest of the filter, or None when the filter has no such part."""
    parts = where.items if isinstance(where, And) else (where,) if where is not None else ()
    for index, part in enumerate(parts):
        if not (isinstance(part, Compare) and part.op == "=="):
            continue
        for key, probe in ((part.left, part.right), (part.right, part.left)):
            if isinstance(key, Ref) and key.item and not any(ref.item for ref in walk_refs(probe)):
                rest = parts[:index] + parts[index + 1:]
                return key, probe, (rest[0] if len(rest) == 1 else And(rest) if rest else None)
    return None


def _compile_keyed(agg: Aggregate, key: Ref, probe: Expr, rest: Cond | None) -> Getter:
    """An aggregate whose filter compares an element's fact with the line's (``l.sku == line.sku``), asked
    once per line: the elements are grouped by that fact once per list, so each line reads only its
    group (10,000 lines: 10,000 steps, not 10^8). The same answers: ``==`` on a missing value is false,
    and equal numbers, texts and dates hash equal."""
    path, func = agg.collection, agg.func
    get_key, get_probe = compile_expr(key), compile_expr(probe)
    value = compile_expr(agg.value) if agg.value is not None else None
    where = compile_cond(rest) if rest is not None else None
    last: list[tuple[Any, dict[Any, list[FactValues]]]] = [((), {})]

    def groups(root: FactValues, elements: Sequence[FactValues]) -> dict[Any, list[FactValues]]:
        seen, grouped = last[0]
        if seen is elements:
            return grouped
        grouped = {}
        for el in elements:
            k = get_key(root, el)
            if k is not None:
                grouped.setdefault(k, []).append(el)
        last[0] = (elements, grouped)
        return grouped

    def compute(root: FactValues, item: FactValues | None) -> Any:
        wanted = get_probe(root, item)
        elements = root.get(path) or []
        chosen = groups(root, elements).get(wanted, []) if wanted is not None else []
        if where is not None:
            chosen = [el for el in chosen if where(root, el)]
        if value is None:
            return len(chosen)
        return aggregate(func, [v for el in chosen if (v := value(root, el)) is not None])

    return compute


def _compile_call(call: Call) -> Getter:
    """A registered function over its arguments' values: a missing argument gives a missing result."""
    function = FUNCTIONS[call.func]
    run = function.run
    getters = tuple(compile_expr(arg) for arg in call.args)
    if function.stateful:
        state = call.state

        def prepared(root: FactValues, item: FactValues | None) -> Any:
            values = [get(root, item) for get in getters]
            return None if any(v is None for v in values) else run(state, *values)

        return prepared
    if len(getters) == 1:
        (only,) = getters

        def unary(root: FactValues, item: FactValues | None) -> Any:
            value = only(root, item)
            return None if value is None else run(value)

        return unary

    def call_(root: FactValues, item: FactValues | None) -> Any:
        values = [get(root, item) for get in getters]
        return None if any(v is None for v in values) else run(*values)

    return call_


def compile_cond(cond: Cond) -> Test:
    """A function (facts, current list element) → whether the condition holds."""
    if isinstance(cond, Compare):
        left, right, test = compile_expr(cond.left), compile_expr(cond.right), _COMPARE[cond.op]
        if isinstance(cond.right, Const) and isinstance(cond.left, Ref) and not cond.left.item:
            # The commonest rule shape (fact op constant), read without the getter's extra call.
            path, const = cond.left.path, cond.right.value

            def fact_const(root: FactValues, item: FactValues | None) -> bool:
                value = root.get(path)
                return value is not None and test(value, const)

            return fact_const
        if isinstance(cond.right, Const):
            const = cond.right.value

            def compare_const(root: FactValues, item: FactValues | None) -> bool:
                value = left(root, item)
                return value is not None and test(value, const)

            return compare_const

        def compare(root: FactValues, item: FactValues | None) -> bool:
            a = left(root, item)
            if a is None:
                return False
            b = right(root, item)
            return b is not None and test(a, b)

        return compare
    if isinstance(cond, IsNone):
        get, present = compile_expr(cond.operand), cond.present
        return lambda root, item: (get(root, item) is not None) is present
    members = _membership(cond) if isinstance(cond, And | Or) else None
    if members is not None:
        return members
    if isinstance(cond, And):
        parts = tuple(compile_cond(c) for c in cond.items)
        if len(parts) == 2:  # the commonest: no generator per call (every part returns a bool)
            first, second = parts
            return lambda root, item: first(root, item) and second(root, item)
        return lambda root, item: all(p(root, item) for p in parts)
    if isinstance(cond, Or):
        parts = tuple(compile_cond(c) for c in cond.items)
        if len(parts) == 2:
            first, second = parts
            return lambda root, item: first(root, item) or second(root, item)
        return lambda root, item: any(p(root, item) for p in parts)
    if isinstance(cond, Quantified):
        inner, path = compile_cond(cond.cond), cond.collection
        if cond.quantifier == "any":
            return lambda root, item: any(inner(root, el) for el in root.get(path) or ())
        return lambda root, item: all(inner(root, el) for el in root.get(path) or ())
    if isinstance(cond, Always):
        return lambda root, item: True
    raise TypeError(f"not a condition: {cond!r}")  # pragma: no cover


_SET_FROM = 8
"""Comparisons of one fact with constants from which ``in [...]`` is matched as a set lookup."""


def _membership(cond: And | Or) -> Test | None:
    """``x in [a, b, ...]`` (an Or of ``x == a``) and ``not x in [...]`` (an And of ``x != a``) as
    one set lookup. A list may hold 2,000 values; compared one by one on each of 10,000 lines,
    one such rule took 2.7 s an order. The same answers: a missing ``x`` is false either way, and
    numbers, texts and dates that compare equal hash equal."""
    op = "==" if isinstance(cond, Or) else "!="
    items = cond.items
    if len(items) < _SET_FROM:
        return None
    first = items[0]
    if not isinstance(first, Compare) or not isinstance(first.left, Ref):
        return None
    ref = first.left
    values = []
    for part in items:
        if not (isinstance(part, Compare) and part.op == op and part.left == ref and isinstance(part.right, Const)):
            return None
        values.append(part.right.value)
    members = frozenset(values)
    get = compile_expr(ref)
    if op == "==":
        return lambda root, item: (value := get(root, item)) is not None and value in members
    return lambda root, item: (value := get(root, item)) is not None and value not in members


# -- explanations -------------------------------------------------------------------------------

_WORDS: dict[CompareOp, str] = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}


def show(value: Any) -> str:
    """A fact value as a person reads it: 95,000 for money, 2026-11-23 for dates, quoted text."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_money(value) if value == value.quantize(Decimal("0.01")) else f"{value.normalize():f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _percent(value: Any) -> str:
    """A rate as a person writes it: 0.05 is 5%, 0.125 is 12.5%."""
    return f"{(Decimal(value) * 100).normalize():f}%"


def _rate(expr: Expr) -> bool:
    """Whether ``expr`` gives a rate: a lookup of a ``percent`` column."""
    if not isinstance(expr, Call):
        return False
    rate = FUNCTIONS[expr.func].rate
    return rate is not None and bool(rate(expr.state))


def _shown(value: Any, rate: bool) -> str:
    if rate and isinstance(value, Decimal | int) and not isinstance(value, bool):
        return _percent(value)
    return show(value)


def _why(expr: Expr, root: FactValues, item: FactValues | None) -> str | None:
    """Why a function call gives its value (the calendar's word on a day), or None."""
    if not isinstance(expr, Call):
        return None
    function = FUNCTIONS[expr.func]
    if function.why is None:
        return None
    values = [compile_expr(arg)(root, item) for arg in expr.args]
    if any(v is None for v in values):
        return None
    return function.why(expr.state, *values) if function.stateful else function.why(*values)


def _describe(expr: Expr) -> str:
    if isinstance(expr, Ref):
        return expr.path
    if isinstance(expr, Const):
        return show(expr.value)
    if isinstance(expr, Call):
        return f"{expr.func}({', '.join(_describe(arg) for arg in expr.args)})"
    if isinstance(expr, Arith):
        return f"({_describe(expr.left)} {expr.op} {_describe(expr.right)})"
    if isinstance(expr, Aggregate):
        element = expr.element
        value = _describe(expr.value) if expr.value is not None else element
        if isinstance(expr.value, Arith):
            value = value[1:-1]
        where = f" if {describe_cond(expr.where)}" if expr.where is not None else ""
        return f"{expr.func}({value} for {element} in {expr.collection}{where})"
    raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover


def describe_expr(expr: Expr) -> str:
    """An expression written back in the language (``sum(line.qty for line in order.lines)``), as a
    warning about it names it."""
    return _describe(expr)


def describe_cond(cond: Cond) -> str:
    """A compiled condition written back in the language (``line.qty > 10 and line.sku == "A"``)."""
    if isinstance(cond, Compare):
        return f"{_describe(cond.left)} {cond.op} {_describe(cond.right)}"
    if isinstance(cond, IsNone):
        return f"{_describe(cond.operand)} {'!=' if cond.present else '=='} None"
    if isinstance(cond, And | Or):
        joiner = " and " if isinstance(cond, And) else " or "
        return joiner.join(f"({describe_cond(c)})" if isinstance(c, And | Or) else describe_cond(c)
                           for c in cond.items)
    if isinstance(cond, Quantified):
        return f"{cond.quantifier}({describe_cond(cond.cond)} for ... in {cond.collection})"
    return "true"


def _missing(expr: Expr, root: FactValues, item: FactValues | None) -> str:
    """What is missing in a side that gave no value: the first fact it reads that is missing, else
    the side itself (a division by zero, a key not in a lookup table)."""
    if isinstance(expr, Call | Arith):
        for ref in walk_refs(expr):
            readable = ref.kind is not Kind.list and (item is not None or not ref.item)
            if readable and compile_expr(ref)(root, item) is None:
                return ref.path
    if isinstance(expr, Aggregate):  # min, max, avg of no value
        return f"{_describe(expr)} (no {expr.element} with a value)"
    why = _why(expr, root, item)  # a day outside the holiday calendar
    return _describe(expr) if why is None else f"{_describe(expr)} ({why})"


def explain(cond: Cond, root: FactValues, item: FactValues | None = None,
            line_nos: Sequence[int] = ()) -> str:
    """Why ``cond`` holds or not on these facts, in one sentence built from the failing parts.

    ``line_nos``: the line number of each element of ``order.lines`` (``FactSet.item_keys``), so an
    ``any``/``all`` explanation names lines as the order does; without them, by position from 1."""
    holds = compile_cond(cond)(root, item)
    return _explain(cond, root, item, holds, line_nos)


def _explain(cond: Cond, root: FactValues, item: FactValues | None, holds: bool,
             line_nos: Sequence[int] = ()) -> str:
    if isinstance(cond, Compare):
        left = compile_expr(cond.left)(root, item)
        right = compile_expr(cond.right)(root, item)
        lhs = _describe(cond.left)
        if left is None or right is None:
            missing = _missing(cond.left if left is None else cond.right, root, item)
            return f"{missing} is missing, so '{lhs} {cond.op} {_describe(cond.right)}' is false"
        rate = _rate(cond.left) or _rate(cond.right)  # a percent column: 5%, and the 5% it is compared with
        why = _why(cond.left, root, item)
        shown = _shown(left, rate) + (f": {why}" if why else "")
        if isinstance(cond.right, Const) and isinstance(right, bool) and cond.op in ("==", "!="):
            return f"{lhs} is {shown}"
        rhs = (_shown(right, rate) if isinstance(cond.right, Const)
               else f"{_describe(cond.right)} ({_shown(right, rate)})")
        verdict = "" if holds else "not "
        return f"{lhs} is {shown}, {verdict}{_WORDS[cond.op]} {rhs}"
    if isinstance(cond, IsNone):
        value = compile_expr(cond.operand)(root, item)
        if isinstance(cond.operand, Ref) or value is not None:
            return f"{_describe(cond.operand)} is {_shown(value, _rate(cond.operand))}"
        return f"{_missing(cond.operand, root, item)} is missing"
    if isinstance(cond, And | Or):
        results = [(c, compile_cond(c)(root, item)) for c in cond.items]
        # The parts that decided: a failing and's false parts, a passing or's true parts; else all.
        deciding_value = isinstance(cond, Or)
        deciding = [(c, r) for c, r in results if r is deciding_value] if holds is deciding_value else results
        return "; ".join(_explain(c, root, item, r, line_nos) for c, r in deciding)
    if isinstance(cond, Quantified):
        elements = root.get(cond.collection) or []
        test = compile_cond(cond.cond)
        verdicts = [(i, test(root, el)) for i, el in enumerate(elements)]
        if not elements:
            return f"{cond.collection} is empty"
        if cond.quantifier == "any":
            chosen = [i for i, ok in verdicts if ok] if holds else [i for i, _ in verdicts]
        else:
            chosen = [i for i, ok in verdicts if not ok] if not holds else [i for i, _ in verdicts]
        element = cond.collection.rsplit(".", 1)[-1].rstrip("s")
        names = line_nos if len(line_nos) == len(elements) else range(1, len(elements) + 1)
        texts = [
            f"{element} {names[i]}: {_explain(cond.cond, root, elements[i], test(root, elements[i]))}"
            for i in chosen[:5]
        ]
        prefix = {("any", True): "", ("any", False): "no element matches: ", ("all", True): "",
                  ("all", False): "not every element matches: "}[(cond.quantifier, holds)]
        return prefix + "; ".join(texts)
    return "always true"
