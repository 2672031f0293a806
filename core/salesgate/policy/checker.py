"""Type-check a parsed expression against the fact vocabulary and lower it to the IR.

This is where a rule earns the right to exist: unknown facts (with a did-you-mean), type
mismatches, enum values that are not among the choices, text compared with ``<`` (which
durable-rules would compare lexicographically) are all refused here, at load time, so a loaded
policy can only contain conditions both backends evaluate identically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ..errors import did_you_mean
from ..vocabulary import FactInfo
from . import expressions as ast
from .days import parse_day
from .functions import FUNCTIONS, Function, FunctionError, names
from .ir import (
    NEGATED,
    SWAPPED,
    Aggregate,
    AggregateFunc,
    Always,
    And,
    Arith,
    ArithOp,
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
    arith,
)
from .limits import MAX_DAYS


class CheckError(ValueError):
    """A type or vocabulary error in an expression; ``column`` is 1-based."""

    def __init__(self, message: str, column: int, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.suggestion = suggestion


@dataclass(frozen=True)
class Context:
    """What an expression may read.

    ``element_scope`` names the list element bound for the whole rule (``line`` for a line-scope
    rule); element paths are otherwise only readable inside ``any``/``all``. ``data``: the policy
    data functions may read, by the name a :class:`~salesgate.policy.functions.Function` ``needs``
    (``tables``: the lookup tables of ``data/``; ``calendar``: the holiday calendar).
    """

    point: str
    vocabulary: Mapping[str, FactInfo]
    element_scope: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def _describe(kind: Kind) -> str:
    return {"number": "a number", "text": "text", "enum": "text", "bool": "true/false", "date": "a date",
            "duration": "a number of days", "list": "a list"}[kind.value]


class _Checker:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.loop: dict[str, str] = {}  # loop variable → element name ("x" → "line")
        self.in_loop = False
        self.looping: set[str] = set()  # the list any()/all() goes over
        self.in_aggregate = False
        self.hidden: dict[str, str] = {}  # an outer loop's variable, unreadable inside an aggregate
        self.elements = {f.element for f in ctx.vocabulary.values() if f.kind is Kind.list}

    # -- values -----------------------------------------------------------------
    def ref(self, node: ast.Name) -> Ref:
        path = node.path
        head, _, rest = path.partition(".")
        item = False
        if head in self.hidden:
            raise CheckError(f"{self.hidden[head]} cannot read {head!r}, the element of the any()/all() around it: "
                             "compare the two in separate conditions", node.col)
        if head in self.loop:
            path = f"{self.loop[head]}.{rest}" if rest else self.loop[head]
            item = True
        info = self.ctx.vocabulary.get(path)
        if info is None:
            suggestion, others = _fact_suggestion(path, self.ctx.vocabulary)
            raise CheckError(f"unknown fact {path!r} at decision point {self.ctx.point}{others}", node.col,
                             suggestion)
        element = path.split(".", 1)[0]
        if not item and element in self.elements and element != self.ctx.element_scope:
            raise CheckError(
                f"{path!r} is a fact of each {element}: read it inside any(... for {element} in order.lines) "
                f"or all(...), or give the rule 'scope: {element}'",
                node.col,
            )
        return Ref(path, info.kind, item)

    def value(self, node: ast.Node) -> Expr:
        if isinstance(node, ast.Name):
            return self.ref(node)
        if isinstance(node, ast.Number):
            return Const(node.value, Kind.number)
        if isinstance(node, ast.String):
            return Const(node.value, Kind.text)
        if isinstance(node, ast.Bool):
            return Const(node.value, Kind.bool)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Unary) and node.op == "-":
            operand = self.value(node.operand)
            if operand.kind is not Kind.number:
                raise CheckError(f"cannot negate {_describe(operand.kind)}", node.col)
            return self.arith("-", Const(0, Kind.number), operand, node.col)
        if isinstance(node, ast.Binary) and node.op in ("+", "-", "*", "/"):
            return self.arith(cast(ArithOp, node.op), self.value(node.left), self.value(node.right), node.col)
        if isinstance(node, ast.NoneLit):
            raise CheckError("None can only be compared with == or !=, as in 'order.guarantee == None'", node.col)
        if isinstance(node, ast.ListLit):
            raise CheckError("a list can only follow 'in', as in 'customer.grade in [\"A\", \"B\"]'", node.col)
        if isinstance(node, ast.Comprehension) and node.func in AGGREGATES:
            return self.aggregate(node)
        if isinstance(node, ast.Comprehension) and node.func not in ("any", "all"):
            raise CheckError(f"only any(), all(), {', '.join(f'{a}()' for a in AGGREGATES)} can loop over a list, "
                             f"not {node.func}()", node.col, did_you_mean(node.func, ["any", "all", *AGGREGATES]))
        raise CheckError("expected a value here, not a condition", _col(node))

    def list_fact(self, node: ast.Name) -> FactInfo:
        """The list fact a loop or an aggregate goes over, or a did-you-mean among the lists."""
        info = self.ctx.vocabulary.get(node.path)
        if info is None or info.kind is not Kind.list:
            lists = [p for p, f in self.ctx.vocabulary.items() if f.kind is Kind.list]
            raise CheckError(
                f"{node.path!r} is not a list fact; loop over {', '.join(lists) or 'nothing here'}",
                node.col,
                did_you_mean(node.path, lists),
            )
        return info

    def aggregate(self, node: ast.Comprehension) -> Aggregate:
        """``sum(line.qty for line in order.lines if ...)``: the value and filter read each element."""
        func = cast(AggregateFunc, node.func)
        info = self.list_fact(node.collection)
        if self.in_aggregate:
            raise CheckError(f"{func}() inside another sum/count/min/max/avg: aggregates do not nest", node.col)
        if self.in_loop and node.collection.path in self.looping:
            raise CheckError(f"{func}() over {node.collection.path} inside any()/all() over the same list: "
                             "compute it outside the loop (in another comparison joined with 'and'), or "
                             "write the condition into the filter: "
                             f"{func}(... for {info.element} in {node.collection.path} if ...)", node.col)
        if node.var in {p.split(".")[0] for p in self.ctx.vocabulary} and node.var != info.element:
            raise CheckError(f"loop variable {node.var!r} hides the facts of the same name: call it "
                             f"{info.element!r}", node.col)
        outer = dict(self.loop)
        self.loop = {node.var: info.element}
        self.hidden = {name: f"{func}() over {node.collection.path}" for name in outer if name != node.var}
        self.in_aggregate = True
        try:
            where = self.cond(node.where) if node.where is not None else None
            value: Expr | None = None
            if not (isinstance(node.cond, ast.Name) and node.cond.path == node.var):
                value = self.value(node.cond)
        finally:
            self.loop = outer
            self.hidden = {}
            self.in_aggregate = False
        if value is None and func != "count":
            raise CheckError(f"{func}() needs a value of each {info.element}: "
                             f"{func}({info.element}.qty for {info.element} in {node.collection.path})", node.col)
        kind = Kind.number
        if value is not None and func != "count":
            allowed = (Kind.number, Kind.date) if func in ("min", "max") else (Kind.number,)
            if value.kind not in allowed:
                wanted = "numbers or dates" if func in ("min", "max") else "numbers"
                raise CheckError(f"{func}() takes {wanted}, not {_describe(value.kind)}", _col(node.cond))
            kind = value.kind
        if value is not None and value.kind is Kind.list:
            raise CheckError(f"{func}() cannot count lists inside a list", _col(node.cond))
        return Aggregate(func, node.collection.path, info.element, value, where, kind)

    def call(self, node: ast.Call) -> Expr:
        if node.func == "date":
            if len(node.args) != 1 or not isinstance(node.args[0], ast.String):
                raise CheckError('date() takes one text argument: date("2026-12-31")', node.col)
            day = parse_day(node.args[0].value)
            if day is None:
                raise CheckError(f"{node.args[0].value!r} is not a date: write YYYY-MM-DD", node.col)
            return Const(day, Kind.date)
        if node.func == "days":
            if len(node.args) == 1 and not isinstance(node.args[0], ast.Number | ast.String):
                raise CheckError("days() takes a number written in digits: days(30); to add a fact's number of "
                                 "days, add the fact itself: order.order_date + order.payment_terms_days", node.col)
            if len(node.args) != 1 or not isinstance(node.args[0], ast.Number):
                raise CheckError("days() takes one number: days(30)", node.col)
            if not isinstance(node.args[0].value, int):  # date + 1.5 days has no answer
                raise CheckError("days() takes a whole number of days: days(30)", node.col)
            if abs(node.args[0].value) > MAX_DAYS:
                raise CheckError(f"days() takes at most {MAX_DAYS:,} days (about 270 years)", node.col)
            return Const(node.args[0].value, Kind.number)
        if node.func in ("any", "all"):
            raise CheckError(f"{node.func}() needs a loop: {node.func}(line.qty > 10 for line in order.lines)",
                             node.col)
        if node.func == "count" and len(node.args) == 1 and isinstance(node.args[0], ast.Name):
            # count(order.lines): how many elements the list has
            whole = ast.Name("_", node.col)
            return self.aggregate(ast.Comprehension("count", whole, "_", node.args[0], node.col))
        if node.func in AGGREGATES:
            raise CheckError(f"{node.func}() takes a loop over a list: {node.func}(line.unit_price for line in "
                             "order.lines), with an optional filter: ... if line.qty > 10)", node.col)
        function = FUNCTIONS.get(node.func)
        if function is None:
            known = names()
            raise CheckError(f"unknown function {node.func!r}: the functions are {', '.join(f'{n}()' for n in known)}",
                             node.col, did_you_mean(node.func, known))
        return self.function(function, node)

    def function(self, function: Function, node: ast.Call) -> Expr:
        """A registered function: its arguments' number and kinds checked, its policy data bound."""
        params = function.params
        if len(node.args) != len(params):
            wanted = f"{len(params)} argument{'s' if len(params) != 1 else ''}"
            raise CheckError(f"{function.name}() takes {wanted}, not {len(node.args)}: {function.usage}", node.col)
        args: list[Expr] = []
        constants: dict[int, Any] = {}
        for index, (arg_node, param) in enumerate(zip(node.args, params, strict=True)):
            arg = self.value(arg_node)
            ordinal = _ORDINALS[index] if index < len(_ORDINALS) else f"argument {index + 1} of"
            if index in function.constants:
                if not isinstance(arg, Const):
                    raise CheckError(f"the {ordinal} argument of {function.name}() must be written as a constant, "
                                     f"not read from the facts: {function.usage}", _col(arg_node))
                constants[index] = arg.value
            if param is None:
                if arg.kind is Kind.list:
                    raise CheckError(f"the {ordinal} argument of {function.name}() cannot be a list", _col(arg_node))
            elif not (arg.kind is param or (param is Kind.text and arg.kind is Kind.enum)):
                raise CheckError(f"the {ordinal} argument of {function.name}() must be {_describe(param)}, "
                                 f"not {_describe(arg.kind)}: {function.usage}", _col(arg_node))
            args.append(arg)
        kind, state = function.result, None
        data = None
        if function.needs is not None:
            data = self.ctx.data.get(function.needs)
            if data is None:
                raise CheckError(f"{function.name}() reads the policy's {function.needs}, and this policy has none",
                                 node.col)
            state = data  # without a prepare, run receives the data itself
        if function.prepare is not None:
            try:
                kind, state = function.prepare(data, constants, tuple(a.kind for a in args))
            except FunctionError as exc:
                col = _col(node.args[exc.argument]) if exc.argument is not None else node.col
                raise CheckError(f"{function.name}(): {exc.message}", col, exc.suggestion) from None
        call = Call(function.name, tuple(args), kind, state)
        if not function.stateful and all(isinstance(a, Const) for a in args):
            # Folded with the evaluator's own implementation, so folding can never change a result.
            folded = function.run(*(cast(Const, a).value for a in args))
            if folded is not None:
                return Const(folded, kind)
        return call

    def arith(self, op: ArithOp, left: Expr, right: Expr, col: int) -> Expr:
        lk, rk = left.kind, right.kind
        if lk is Kind.number and rk is Kind.number:
            kind = Kind.number
        elif lk is Kind.date and rk is Kind.date and op == "-":
            kind = Kind.number  # days between
        elif (lk is Kind.date and rk is Kind.number and op in ("+", "-")) or (
            lk is Kind.number and rk is Kind.date and op == "+"
        ):
            kind = Kind.date
        else:
            raise CheckError(f"cannot compute {_describe(lk)} {op} {_describe(rk)}", col)
        if isinstance(left, Const) and isinstance(right, Const) and kind is Kind.number and lk is Kind.number:
            # Folded with the evaluator's own arithmetic, so folding can never change a result.
            folded = arith(op, left.value, right.value)
            if folded is not None:
                return Const(folded, Kind.number)
        if isinstance(left, Const) and isinstance(right, Const) and kind is Kind.date:
            moved = arith(op, left.value, right.value)
            if moved is None:  # date("9999-12-31") + days(1): no calendar date, on any decision
                raise CheckError("the date falls outside the calendar (0001-01-01 to 9999-12-31)", col)
            return Const(moved, Kind.date)
        if op == "/" and isinstance(right, Const) and right.value == 0:
            raise CheckError("division by zero", col)
        return Arith(op, left, right, kind)

    # -- conditions ---------------------------------------------------------------
    def cond(self, node: ast.Node) -> Cond:
        if isinstance(node, ast.Binary) and node.op in ("and", "or"):
            left, right = self.cond(node.left), self.cond(node.right)
            cls = And if node.op == "and" else Or
            items: list[Cond] = []
            for part in (left, right):
                items.extend(part.items if isinstance(part, cls) else (part,))
            return cls(tuple(items))
        if isinstance(node, ast.Unary) and node.op == "not":
            operand = self.cond(node.operand)
            try:
                return negate(operand)
            except CheckError as exc:  # negate() cannot know where the 'not' was written
                raise CheckError(exc.message, node.col) from None
        if isinstance(node, ast.Binary) and node.op in ("in", "not in"):
            return self.membership(node)
        if isinstance(node, ast.Binary) and node.op in ("==", "!=", "<", "<=", ">", ">="):
            return self.compare(node)
        if isinstance(node, ast.Comprehension) and node.func not in AGGREGATES:
            return self.quantified(node)
        if isinstance(node, ast.Bool):
            if node.value:
                return Always()
            raise CheckError("the condition is always false, so the rule could never fire", node.col)
        if isinstance(node, ast.Name):
            ref = self.ref(node)
            if ref.kind is not Kind.bool:
                raise CheckError(f"{ref.path!r} is {_describe(ref.kind)}, not a condition: compare it, "
                                 f"as in '{ref.path} == ...'", node.col)
            return Compare("==", ref, Const(True, Kind.bool))
        value = self.value(node)
        if value.kind is Kind.bool:
            if isinstance(value, Const):
                raise CheckError(f"the condition is always {'true' if value.value else 'false'}: it reads no fact",
                                 _col(node))
            return Compare("==", value, Const(True, Kind.bool))  # starts_with(...) as a condition
        raise CheckError(f"expected a condition but found {_describe(value.kind)}", _col(node))

    def compare(self, node: ast.Binary) -> Cond:
        op = cast(CompareOp, node.op)
        if isinstance(node.left, ast.NoneLit) or isinstance(node.right, ast.NoneLit):
            other = node.right if isinstance(node.left, ast.NoneLit) else node.left
            if op not in ("==", "!="):
                raise CheckError("None can only be compared with == or !=", node.col)
            return IsNone(self.absent_able(other, node.col), present=(op == "!="))
        left, right = self.value(node.left), self.value(node.right)
        self.check_comparable(op, left, right, node.col)
        if isinstance(left, Const) and not isinstance(right, Const):
            left, right, op = right, left, SWAPPED[op]
        if isinstance(left, Const):
            raise CheckError("comparing two constants: the rule would never depend on the facts", node.col)
        return Compare(op, left, right)

    def absent_able(self, node: ast.Node, col: int) -> Expr:
        """The value tested by ``== None``/``!= None``: a fact that may be missing, or any expression
        (an aggregate of no value, a key not in a lookup table); refused when it can never be missing."""
        if isinstance(node, ast.NoneLit):
            raise CheckError("comparing None with None: the rule would never depend on the facts", col)
        value = self.value(node)
        if isinstance(value, Ref) and not self.ctx.vocabulary[value.path].optional:
            raise CheckError(f"{value.path!r} is never None; every decision has it", col)
        if isinstance(value, Const):
            raise CheckError("a constant is never None: compare a fact or an expression with None", col)
        if isinstance(value, Aggregate) and value.func in ("sum", "count"):
            raise CheckError(f"{value.func}(...) is never None: over no {value.element} it is 0; "
                             f"compare it with 0 instead", col)
        return value

    def check_comparable(self, op: CompareOp, left: Expr, right: Expr, col: int) -> None:
        lk, rk = left.kind, right.kind
        textual = {Kind.text, Kind.enum}
        if lk in textual and rk in textual:
            if op not in ("==", "!="):
                raise CheckError("text can only be compared with == or != (or 'in')", col)
            for ref, const in ((left, right), (right, left)):
                if isinstance(ref, Ref) and isinstance(const, Const) and ref.kind is Kind.enum:
                    choices = self.ctx.vocabulary[ref.path].choices
                    if const.value not in choices:
                        raise CheckError(
                            f"{const.value!r} is not a value of {ref.path}: expected one of {', '.join(choices)}",
                            col,
                            did_you_mean(str(const.value), choices),
                        )
            return
        if lk is rk and lk in (Kind.number, Kind.date):
            return
        if lk is rk is Kind.bool:
            if op not in ("==", "!="):
                raise CheckError("true/false can only be compared with == or !=", col)
            return
        hint = ""
        if {lk, rk} == {Kind.date, Kind.text}:  # date facts against "2026-12-01": the quotes make it text
            text = next((e.value for e in (left, right) if isinstance(e, Const) and isinstance(e.value, str)),
                        "YYYY-MM-DD")
            hint = f": write a date as date({json.dumps(text, ensure_ascii=False)})"
        raise CheckError(f"cannot compare {_describe(lk)} with {_describe(rk)}{hint}", col)

    def membership(self, node: ast.Binary) -> Cond:
        if not isinstance(node.right, ast.ListLit):
            raise CheckError("'in' needs a list, as in 'customer.grade in [\"A\", \"B\"]'", _col(node.right))
        if not node.right.items:
            raise CheckError("the list after 'in' is empty", node.right.col)
        left = self.value(node.left)
        if isinstance(left, Const):
            raise CheckError("the value before 'in' must be a fact", node.col)
        negated = node.op == "not in"
        parts: list[Cond] = []
        for item in node.right.items:
            value = self.value(item)
            if not isinstance(value, Const):
                raise CheckError("the list after 'in' may only hold constants", _col(item))
            op: CompareOp = "!=" if negated else "=="
            self.check_comparable(op, left, value, _col(item))
            parts.append(Compare(op, left, value))
        if len(parts) == 1:
            return parts[0]
        return And(tuple(parts)) if negated else Or(tuple(parts))

    def quantified(self, node: ast.Comprehension) -> Cond:
        if node.func not in ("any", "all"):
            raise CheckError(f"only any(...) and all(...) can loop over a list, not {node.func}()", node.col)
        if self.in_loop or self.in_aggregate:
            raise CheckError("any()/all() cannot be nested" if self.in_loop else
                             "any()/all() inside sum/count/min/max/avg: write the condition into the filter "
                             "(... if ...)", node.col)
        if node.where is not None:
            raise CheckError(f"{node.func}() takes no 'if' filter: join it to the condition with 'and', as in "
                             f"{node.func}(line.qty > 10 and line.discount > 5% for line in order.lines)",
                             _col(node.where))
        info = self.list_fact(node.collection)
        if node.var in {p.split(".")[0] for p in self.ctx.vocabulary} and node.var != info.element:
            raise CheckError(f"loop variable {node.var!r} hides the facts of the same name: call it "
                             f"{info.element!r}", node.col)
        self.loop[node.var] = info.element
        self.in_loop = True
        self.looping = {node.collection.path}
        try:
            cond = self.cond(node.cond)
        finally:
            del self.loop[node.var]
            self.in_loop = False
            self.looping = set()
        return Quantified("any" if node.func == "any" else "all", node.collection.path, cond)


AGGREGATES: tuple[AggregateFunc, ...] = ("sum", "count", "min", "max", "avg")

_ORDINALS = ("first", "second", "third", "fourth")


def _fact_suggestion(path: str, vocabulary: Mapping[str, FactInfo]) -> tuple[str | None, str]:
    """The fact meant by an unknown ``path``: one whose last part is the name written (``region`` is
    ``customer.region``; ``order.region`` too), else the closest spelling. With several facts of that
    name, none is guessed: the second value lists them."""
    last = path.rsplit(".", 1)[-1]
    named = [p for p in vocabulary if p.rsplit(".", 1)[-1] == last and p != path]
    if not named:
        named = [p for p in vocabulary if p.rsplit(".", 1)[-1].lower() == last.lower() and p != path]
    if len(named) == 1:
        return named[0], ""
    if len(named) > 1:
        return None, f": facts named {last!r} are {', '.join(named)}; write the one you mean in full"
    return did_you_mean(path, vocabulary), ""


def _col(node: ast.Node) -> int:
    return node.col


def negate(cond: Cond) -> Cond:
    """Push ``not`` down to the comparisons (negation normal form).

    A comparison on a missing value stays false after negation; that is the one semantics
    both backends implement (see :mod:`salesgate.policy.ir`).
    """
    if isinstance(cond, Compare):
        return Compare(NEGATED[cond.op], cond.left, cond.right)
    if isinstance(cond, IsNone):
        return IsNone(cond.operand, not cond.present)
    if isinstance(cond, And):
        return Or(tuple(negate(c) for c in cond.items))
    if isinstance(cond, Or):
        return And(tuple(negate(c) for c in cond.items))
    if isinstance(cond, Quantified):
        return Quantified("all" if cond.quantifier == "any" else "any", cond.collection, negate(cond.cond))
    raise CheckError("'not true' is always false, so the rule could never fire", 1)


def check_condition(node: ast.Node, ctx: Context) -> Cond:
    """Lower a parsed ``when:`` into the IR, or raise :class:`CheckError`."""
    return _Checker(ctx).cond(node)


def check_value(node: ast.Node, ctx: Context, kind: Kind) -> Expr:
    """Lower a parsed value expression (a price formula) that must have ``kind``."""
    value = _Checker(ctx).value(node)
    if value.kind is not kind:
        raise CheckError(
            f"expected {_describe(kind)} but the expression gives {_describe(value.kind)}", _col(node)
        )
    return value


def check_any_value(node: ast.Node, ctx: Context) -> Expr:
    """Lower a parsed value expression of whatever kind it has (a decision table's input column)."""
    return _Checker(ctx).value(node)
