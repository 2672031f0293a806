"""IR conditions translated into durable-rules' JSON dialect, one ruleset at a time.

A :class:`Translator` turns a rule's condition into durable's JSON and records, in the ruleset's
:class:`~.encoding.Schema`, which fields its messages must carry. What durable cannot be trusted
to compute is computed exactly in Python and handed over as a derived field: arithmetic, as
``sign(left - right)`` compared with 0 (hazard 16 in the package docstring); ``or`` inside
``any()``/``all()``, per element (hazard 31); a lifted rule's whole condition (:func:`evaluated`).
The Python parts are the evaluator's own compiled closures, so both backends share one semantics.
Also contained here: hazards 8 (every operator mapped explicitly), 22 (``$ex`` guards on
fact-to-fact comparisons), 23 (``all`` over an empty list) and 30 (nested groups merged).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from ...errors import EngineError
from ...facts import FactValues
from ...policy.evaluator import compile_cond, compile_expr
from ...policy.ir import (
    SWAPPED,
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
    walk_refs,
)
from .encoding import KIND_FIELD, ListSchema, Schema, constant, family

__all__ = ["Translator", "all_of", "any_of", "evaluated"]

_DURABLE_OP: Final[Mapping[CompareOp, str]] = {
    "<": "$lt",
    "<=": "$lte",
    ">": "$gt",
    ">=": "$gte",
    "==": "",  # durable writes equality as {"field": value}
    "!=": "$neq",
}


def _comparison(op: CompareOp, left: str, right: Any) -> dict[str, Any]:
    durable_op = _DURABLE_OP[op]
    return {left: right} if not durable_op else {durable_op: {left: right}}


def _sign(left: Any, right: Any) -> int | None:
    if left is None or right is None:
        return None
    try:
        return int(left > right) - int(left < right)
    except TypeError:
        raise EngineError(f"cannot compare {left!r} with {right!r}") from None


def _derived_compare(left: Expr, right: Expr) -> Callable[[FactValues, FactValues | None], int | None]:
    """sign(left - right), computed exactly; durable compares it with 0 using the rule's operator."""
    get_left, get_right = compile_expr(left), compile_expr(right)

    def compute(root: FactValues, item: FactValues | None) -> int | None:
        return _sign(get_left(root, item), get_right(root, item))

    return compute


class Translator:
    """IR → durable JSON for one ruleset, recording the message fields in a :class:`Schema`."""

    def __init__(self, schema: Schema, scope_code: int) -> None:
        self.schema = schema
        self.always = {KIND_FIELD: scope_code}  # true for every fact of the scope, never for the state

    def cond(self, cond: Cond, lst: ListSchema | None = None) -> dict[str, Any]:
        if isinstance(cond, Compare):
            return self.compare(cond) if lst is None else self.item_compare(cond, lst)
        if isinstance(cond, IsNone):
            return self.is_none(cond, lst)
        if isinstance(cond, And | Or):
            if not cond.items:
                raise EngineError(f"rule {self.schema.rule!r} has an empty and/or")
            if isinstance(cond, Or) and lst is not None:
                # hazard 31: $or inside $iany/$iall gives wrong answers; Python computes it per element
                self.check_refs(*_cond_refs(cond), inside=True)
                return {"$i." + self.schema.derive_item(lst, ("or", cond), _evaluated_item(cond)): 1}
            parts = [self.cond(c, lst) for c in cond.items]
            return all_of(parts) if isinstance(cond, And) else any_of(parts)
        if isinstance(cond, Quantified):
            if lst is not None:
                raise EngineError(f"rule {self.schema.rule!r} nests any()/all()")
            return self.quantified(cond)
        if isinstance(cond, Always):
            if lst is None:
                return dict(self.always)
            lst.marker = True
            return {"$i._e": 1}
        raise EngineError(f"rule {self.schema.rule!r}: not a condition: {cond!r}")

    def compare(self, cond: Compare) -> dict[str, Any]:
        op, left, right = cond.op, cond.left, cond.right
        if isinstance(left, Const) and not isinstance(right, Const):
            op, left, right = SWAPPED[op], right, left
        self.check_kinds(left, right)
        self.check_refs(left, right, inside=False)
        if isinstance(left, Ref):
            if isinstance(right, Const):
                value = constant(right)
                if value is not None:
                    return _comparison(op, self.schema.top_key(left), value)
            elif isinstance(right, Ref):
                lkey, rkey = self.schema.top_key(left), self.schema.top_key(right)
                # hazard 22: a $m reference to a missing field compares true
                return all_of([{"$ex": {lkey: 1}}, {"$ex": {rkey: 1}}, _comparison(op, lkey, {"$m": rkey})])
        compute = _derived_compare(left, right)
        key = self.schema.derive(("cmp", left, right), lambda values: compute(values, None))
        return _comparison(op, key, 0)

    def item_compare(self, cond: Compare, lst: ListSchema) -> dict[str, Any]:
        op, left, right = cond.op, cond.left, cond.right
        if not _is_item(left) and _is_item(right):
            op, left, right = SWAPPED[op], right, left
        self.check_kinds(left, right)
        self.check_refs(left, right, inside=True)
        if isinstance(left, Ref) and left.item:
            if isinstance(right, Const):
                value = constant(right)
                if value is not None:
                    return _comparison(op, "$i." + self.schema.item_key(lst, left), value)
            elif isinstance(right, Ref) and not right.item:
                # inside $iany/$iall a missing field on either side compares false, as wanted
                return _comparison(op, "$i." + self.schema.item_key(lst, left), {"$m": self.schema.top_key(right)})
        key = self.schema.derive_item(lst, ("cmp", left, right), _derived_compare(left, right))
        return _comparison(op, "$i." + key, 0)

    def is_none(self, cond: IsNone, lst: ListSchema | None) -> dict[str, Any]:
        test = "$ex" if cond.present else "$nex"
        ref = cond.operand
        self.check_refs(ref, inside=lst is not None)
        if not isinstance(ref, Ref):
            # an expression (an aggregate, a lookup): Python computes whether it is missing, as 0/1
            get, present = compile_expr(ref), cond.present
            if lst is None:
                key = self.schema.derive(("none", ref, present),
                                         lambda values: int((get(values, None) is not None) is present))
                return {key: 1}

            def item_holds(root: FactValues, item: FactValues) -> int:
                return int((get(root, item) is not None) is present)

            return {"$i." + self.schema.derive_item(lst, ("none", ref, present), item_holds): 1}
        if lst is None:
            return {test: {self.schema.top_key(ref): 1}}
        if ref.item:
            return {test: {"$i." + self.schema.item_key(lst, ref): 1}}
        path, present = ref.path, cond.present

        def holds(root: FactValues, item: FactValues) -> int:
            return int((root.get(path) is not None) is present)

        return {"$i." + self.schema.derive_item(lst, ("none", ref, present), holds): 1}

    def quantified(self, cond: Quantified) -> dict[str, Any]:
        if cond.quantifier == "any" and isinstance(cond.cond, Or):
            # any(a or b) is any(a) or any(b): keeps the or out of $iany (hazard 31)
            return self.cond(Or(tuple(Quantified("any", cond.collection, part) for part in cond.cond.items)))
        lst = self.schema.list_schema(cond.collection)
        inner = self.cond(cond.cond, lst)
        if cond.quantifier == "any":
            return {"$iany": {lst.key: inner}}
        if cond.quantifier == "all":
            # hazard 23: $iall over an empty or missing array is false
            lst.count_key = "_n_" + lst.key
            return any_of([{lst.count_key: 0}, {"$iall": {lst.key: inner}}])
        raise EngineError(f"rule {self.schema.rule!r}: unknown quantifier {cond.quantifier!r}")

    def check_kinds(self, left: Expr, right: Expr) -> None:
        if family(left.kind) != family(right.kind):
            raise EngineError(f"rule {self.schema.rule!r} compares {left.kind.value} with {right.kind.value}")

    def check_refs(self, *exprs: Expr, inside: bool) -> None:
        for expr in exprs:
            for ref in _expr_refs(expr):
                if ref.item and not inside:
                    raise EngineError(f"rule {self.schema.rule!r} reads {ref.path!r} outside any()/all()")
                self.schema.check(ref)


def _evaluated_item(cond: Cond) -> Callable[[FactValues, FactValues], int]:
    """A condition on one list element as a 0/1 field, computed by the Python evaluator itself."""
    test = compile_cond(cond)

    def compute(root: FactValues, item: FactValues) -> int:
        return int(test(root, item))

    return compute


def _cond_refs(cond: Cond) -> Iterator[Ref]:
    for ref in walk_refs(cond):
        if ref.kind is not Kind.list:
            yield ref


def _is_item(expr: Expr) -> bool:
    return isinstance(expr, Ref) and expr.item


def _expr_refs(expr: Expr) -> Iterator[Ref]:
    """The facts an expression reads (through arithmetic and function calls): of an aggregate, its
    list and what it reads outside the list's elements (Python computes it, per message)."""
    if isinstance(expr, Aggregate):
        yield Ref(expr.collection, Kind.list)
        for part in (expr.value, expr.where):
            if part is not None:
                yield from (ref for ref in walk_refs(part) if not ref.item)
        return
    if isinstance(expr, Arith):
        yield from _expr_refs(expr.left)
        yield from _expr_refs(expr.right)
    elif isinstance(expr, Call):
        for arg in expr.args:
            yield from _expr_refs(arg)
    else:
        yield from walk_refs(expr)


def evaluated(cond: Cond) -> Callable[[FactValues], int]:
    """A lifted rule's condition as a 0/1 field, computed by the Python evaluator itself."""
    test = compile_cond(cond)

    def compute(values: FactValues) -> int:
        return int(test(values, None))

    return compute


def all_of(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """``$and`` of the parts, nested ``$and`` groups merged: every group counts against durable's 15."""
    flat: list[dict[str, Any]] = []
    for part in parts:
        flat.extend(part["$and"] if list(part) == ["$and"] else [part])
    return flat[0] if len(flat) == 1 else {"$and": flat}


def any_of(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """``$or`` of the parts, nested ``$or`` groups merged."""
    flat: list[dict[str, Any]] = []
    for part in parts:
        flat.extend(part["$or"] if list(part) == ["$or"] else [part])
    return flat[0] if len(flat) == 1 else {"$or": flat}
