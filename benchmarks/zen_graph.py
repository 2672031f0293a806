"""The seed policy as a GoRules ZEN decision graph (JDM), generated from the compiled policy's IR.

The peer the benchmark measures salesgate against: ZEN (PyPI ``zen-engine``, an in-process Rust
engine) runs the same rules as decision tables. Nothing is written by hand per rule: every rule's
checked condition (:class:`~salesgate.policy.compiler.CompiledRule` ``.cond``, in negation normal
form) is translated into ZEN's expression language, one table row per rule, hit policy
``collect``, the row's output the rule id. Outcome, approvals and refunds are then derived from the
fired ids exactly as for raw durable (``bench.outcome_of``); the policy prices are computed in ZEN.

A graph per decision point: ``inputNode`` → ``decisionTableNode`` → ``outputNode``. Pricing has a
price step before its table, because the check rules read ``line.policy_price``: an
``expressionNode`` computes every line's policy price (list price, or the rep's price without one,
times the markups and discounts of the adjust rules that hold, in priority order up to a ``stop``,
never below zero, rounded half up to the cent), the table then holds every pricing rule, adjust and
check, and a second expression node hands the prices to the output. :func:`all_points_graph`
puts the four points in one graph, to decide an order's three points and a return in one call.

What does not translate is never dropped silently: :func:`translate_policy` returns the rules it
could not translate with the reason, and the benchmark prints them and leaves the point out of
the ZEN column. Semantics kept: a comparison reading a missing value is false (ZEN raises on
``null > 1``, which would fail the whole row, ``or`` included, so each optional operand is guarded
with ``!= null``); ``any`` over no line is false, ``all`` true; dates travel as day numbers so
``date - date`` is a number of days, as in the IR.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from salesgate.facts import FactSet
from salesgate.policy.compiler import CompiledRule, Policy
from salesgate.policy.ir import (
    Aggregate,
    Always,
    And,
    Arith,
    Call,
    Compare,
    Cond,
    Const,
    Expr,
    IsNone,
    Or,
    Quantified,
    Ref,
)
from salesgate.vocabulary import FactInfo

POINTS = ("order_approval", "credit_check", "pricing", "return_handling")
ORDER_ROOT = "o"  # in the all-points graph, an order's facts are under o. and a return's under r.
RETURN_ROOT = "r"
PRICES = "policy_prices"  # the price node's output: one policy price per line, in line order
LINE_INDEX = "i"  # each line carries its index, so a check rule finds its line's policy price


class Untranslatable(Exception):
    """A construct of a rule's condition or action that this translation does not carry to ZEN."""


@dataclass
class Translation:
    """The graphs of a policy's four built-in points, and what could not be translated."""

    graphs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """By point: its JDM graph. A point with an untranslated rule has none."""
    untranslated: list[tuple[str, str, str]] = field(default_factory=list)
    """(point, rule id, why) for every rule left out."""
    all_points: dict[str, Any] | None = None
    """The four points in one graph (None when any point has an untranslated rule)."""


def _literal(const: Const) -> str:
    value = const.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return str(value.toordinal())
    if isinstance(value, Decimal | int):
        return str(value) if isinstance(value, int) else format(value, "f")
    return json.dumps(value, ensure_ascii=False)


class _Conditions:
    """IR conditions to ZEN expressions, for one vocabulary and one root (``o.`` in the all-points graph).

    ``line`` true: the condition runs per order line (a line-scope rule, inside ``some``/``map``),
    so ``line.*`` facts read the closure's element ``#``."""

    def __init__(self, vocabulary: Mapping[str, FactInfo], root: str = "") -> None:
        self.vocabulary = vocabulary
        self.root = root

    def cond(self, node: Cond, line: bool) -> str:
        if isinstance(node, Always):
            return "true"
        if isinstance(node, And | Or):
            joiner = " and " if isinstance(node, And) else " or "
            return "(" + joiner.join(self.cond(item, line) for item in node.items) + ")"
        if isinstance(node, IsNone):
            return f"({self.expr(node.operand, line)} {'!=' if node.present else '=='} null)"
        if isinstance(node, Quantified):
            if line:
                raise Untranslatable(f"{node.quantifier}(...) inside a line-scope rule (nested closures)")
            if node.collection != "order.lines":
                raise Untranslatable(f"{node.quantifier}(...) over {node.collection}")
            function = "some" if node.quantifier == "any" else "all"
            return f"{function}({self.root}order.lines, {self.cond(node.cond, True)})"
        if isinstance(node, Compare):
            return self.compare(node, line)
        raise Untranslatable(f"condition {type(node).__name__}")

    def compare(self, node: Compare, line: bool) -> str:
        for call, other, swapped in ((node.left, node.right, False), (node.right, node.left, True)):
            if isinstance(call, Call) and call.func == "lookup":
                return self.lookup(call, node.op, other, swapped, line)
        leaves = self.optional(node.left) + self.optional(node.right)
        if node.op == "==" and (isinstance(node.left, Const) or isinstance(node.right, Const)):
            leaves = []  # null == "x" is false in ZEN: no guard needed
        guards = [f"{self.expr(leaf, line)} != null" for leaf in leaves]
        test = f"{self.expr(node.left, line)} {node.op} {self.expr(node.right, line)}"
        return "(" + " and ".join([*dict.fromkeys(guards), test]) + ")"

    def lookup(self, call: Call, op: str, other: Expr, swapped: bool, line: bool) -> str:
        """``lookup(table, key, column) op constant`` as ``key in [the keys whose value passes]``: a
        key not in the table, or a missing value, gives false, as a comparison with a missing value does."""
        if not isinstance(other, Const) or call.state is None or len(call.args) != 3:
            raise Untranslatable("lookup(...) compared with anything but a constant")
        values = getattr(call.state, "values", None)
        if not isinstance(values, Mapping):
            raise Untranslatable("lookup(...) without a table state")
        test = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
                ">": operator.gt, ">=": operator.ge}[op]
        keys = [key for key, value in values.items() if value is not None
                and (test(other.value, value) if swapped else test(value, other.value))]
        key = self.expr(call.args[1], line)
        listed = ", ".join(json.dumps(k, ensure_ascii=False) for k in keys)
        return f"({key} != null and {key} in [{listed}])"

    def optional(self, node: Expr) -> list[Expr]:
        """The leaves of ``node`` that may be missing, each to be guarded with ``!= null``."""
        if isinstance(node, Ref):
            if node.path == "line.policy_price":
                return []
            info = self.vocabulary.get(node.path)
            return [node] if info is None or info.optional else []
        if isinstance(node, Arith):
            if node.op == "/":
                raise Untranslatable("division (x / 0 is missing in the IR, an error in ZEN)")
            return self.optional(node.left) + self.optional(node.right)
        if isinstance(node, Const):
            return []
        raise Untranslatable(f"expression {type(node).__name__}"
                             + (f" {node.func}(...)" if isinstance(node, Call | Aggregate) else ""))

    def expr(self, node: Expr, line: bool) -> str:
        if isinstance(node, Const):
            return _literal(node)
        if isinstance(node, Ref):
            return self.ref(node, line)
        if isinstance(node, Arith):
            return f"({self.expr(node.left, line)} {node.op} {self.expr(node.right, line)})"
        raise Untranslatable(f"expression {type(node).__name__}"
                             + (f" {node.func}(...)" if isinstance(node, Call | Aggregate) else ""))

    def ref(self, node: Ref, line: bool) -> str:
        path = node.path
        if path.startswith("line."):
            if not line:
                raise Untranslatable(f"{path} outside a line")
            if path == "line.policy_price":
                return f"{PRICES}[#.{LINE_INDEX}]"
            return "#." + path.removeprefix("line.")
        return self.root + path


def _row_condition(rule: CompiledRule, conditions: _Conditions) -> str:
    if rule.scope == "line":
        return f"some({conditions.root}order.lines, {conditions.cond(rule.cond, True)})"
    return conditions.cond(rule.cond, False)


def _table(name: str, rows: Sequence[tuple[str, str]], output_path: str) -> dict[str, Any]:
    """A collect table with one input column without a field (each cell a whole boolean expression)
    and one output column, the rule id."""
    return {
        "id": f"table-{name}", "type": "decisionTableNode", "name": name,
        "content": {
            "hitPolicy": "collect",
            "inputs": [{"id": "when", "name": "when"}],
            "outputs": [{"id": "rule", "field": "rule", "name": "rule"}],
            "rules": [{"_id": rule_id, "when": when, "rule": json.dumps(rule_id)} for rule_id, when in rows],
            "outputPath": output_path, "passThrough": False,
        },
    }


def _expression(node_id: str, key: str, value: str, pass_through: bool) -> dict[str, Any]:
    return {"id": node_id, "type": "expressionNode", "name": node_id,
            "content": {"expressions": [{"id": key, "key": key, "value": value}], "passThrough": pass_through}}


def _price_expression(rules: Sequence[CompiledRule], conditions: _Conditions) -> str:
    """Every line's policy price: the base price times each adjust rule's factor when its condition
    holds and no ``stop`` rule before it held, never below zero, rounded half up to the cent (ZEN's
    ``round`` rounds half away from zero: the same on a price that is never negative)."""
    factors: list[str] = []
    stops: list[str] = []
    for rule in sorted(rules, key=lambda r: (r.priority, r.id)):
        action = rule.action
        if action.set_price is not None or action.floor is not None or action.add is not None:
            raise Untranslatable("a price set, floor or add (only markups and discounts are multiplied out)")
        holds = conditions.cond(rule.cond, True)
        if stops:
            holds = f"({holds} and not ({' or '.join(stops)}))"
        rate = Decimal(1)
        if action.markup is not None:
            rate *= 1 + action.markup
        if action.discount is not None:
            rate *= 1 - action.discount
        if rate != 1:
            factors.append(f"({holds} ? {format(rate, 'f')} : 1)")
        if action.stop:
            stops.append(holds)
    base = "(#.product.list_price != null ? #.product.list_price : #.unit_price)"
    price = " * ".join([base, *factors])
    return f"map({conditions.root}order.lines, round(max([{price}, 0]), 2))"


def _point_nodes(policy: Policy, point: str, conditions: _Conditions, output_path: str,
                 untranslated: list[tuple[str, str, str]]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]] | None:
    """(nodes, edges as (source, target) with "input"/"output" for the graph's ends) of one point."""
    rules = policy.rules_for(point)
    rows: list[tuple[str, str]] = []
    failed = False
    for rule in rules:
        try:  # a rule's effective dates are already in its condition, as comparisons with today
            rows.append((rule.id, _row_condition(rule, conditions)))
        except Untranslatable as problem:
            untranslated.append((point, rule.id, str(problem)))
            failed = True
    if point != "pricing":
        return None if failed else ([_table(point, rows, output_path)], [("input", f"table-{point}"),
                                                                          (f"table-{point}", "output")])
    try:
        prices = _price_expression([r for r in rules if r.stage == "pricing.adjust"], conditions)
    except Untranslatable as problem:
        untranslated.append((point, "(policy prices)", str(problem)))
        return None
    if failed:
        return None
    nodes = [_expression("prices", PRICES, prices, True), _table(point, rows, output_path),
             _expression("prices-out", "prices", PRICES, False)]
    edges = [("input", "prices"), ("prices", f"table-{point}"), (f"table-{point}", "output"),
             ("prices", "prices-out"), ("prices-out", "output")]
    return nodes, edges


def _graph(nodes: list[dict[str, Any]], edges: list[tuple[str, str]]) -> dict[str, Any]:
    ends = [{"id": "input", "type": "inputNode", "name": "request"},
            {"id": "output", "type": "outputNode", "name": "response"}]
    return {"contentType": "application/vnd.gorules.decision", "nodes": ends + nodes,
            "edges": [{"id": f"edge-{n}", "sourceId": source, "targetId": target, "type": "edge"}
                      for n, (source, target) in enumerate(edges)]}


def translate_policy(policy: Policy) -> Translation:
    """The ZEN graphs of the four built-in points of ``policy``, and every rule left out, with why."""
    result = Translation()
    everything: tuple[list[dict[str, Any]], list[tuple[str, str]]] = ([], [])
    for point in POINTS:
        vocabulary = policy.vocabulary[point]
        alone = _point_nodes(policy, point, _Conditions(vocabulary), "fired", result.untranslated)
        root = RETURN_ROOT if point == "return_handling" else ORDER_ROOT
        together = _point_nodes(policy, point, _Conditions(vocabulary, root + "."), point, [])
        if alone is None or together is None:
            continue
        result.graphs[point] = _graph(*alone)
        for node in together[0]:
            node["id"] = f"{point}-{node['id']}"
        everything[0].extend(together[0])
        everything[1].extend((s if s in ("input", "output") else f"{point}-{s}",
                              t if t in ("input", "output") else f"{point}-{t}") for s, t in together[1])
    if len(result.graphs) == len(POINTS):
        result.all_points = _graph(*everything)
    return result


# -- the facts as ZEN reads them ---------------------------------------------------------------------

def zen_reads(policy: Policy, point: str) -> frozenset[str]:
    """The fact paths a point's ZEN input carries: what its rules read, and for pricing what the price
    node reads (the list price, else the rep's price)."""
    reads = policy.fact_reads.get(point, frozenset())
    if point == "pricing":
        reads = reads | {"order.lines", "line.unit_price", "line.product.list_price"}
    return reads


def _plain(value: Any) -> Any:
    """A fact value as ZEN's Python binding takes it: numbers as floats (the binding reads a float by
    its shortest representation, so 2-decimal money and 4-decimal unit prices arrive exact), dates as
    day numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.toordinal()
    return value


def _nest(values: Mapping[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    for path, value in values.items():
        if path == "order.lines":
            continue
        parts = path.split(".")
        target = into
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = _plain(value)
    return into


def zen_context(factset: FactSet) -> dict[str, Any]:
    """The facts of one decision (flattened as salesgate flattens them) as a ZEN input document."""
    context = _nest(factset.root, {})
    lines = factset.root.get("order.lines")
    if lines is not None:
        context.setdefault("order", {})["lines"] = [
            _nest({path.removeprefix("line."): value for path, value in line.items()}, {LINE_INDEX: index})
            for index, line in enumerate(lines)]
    return context
