"""Aggregates over a document's lists (docs/policy-language.md, "Aggregates"): sum, count, min, max,
avg with a filter, on both backends, in explanations, price formulas, outputs and declared points."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fixtures.language_docs import fired, section_examples, write_rules
from salesgate import Gate
from salesgate.policy import expressions
from salesgate.policy.checker import CheckError, Context, check_condition, check_value
from salesgate.policy.evaluator import compile_cond, compile_expr, explain
from salesgate.policy.ir import Aggregate, Kind, aggregate, walk_refs
from salesgate.vocabulary import VOCABULARY, FactInfo

BACKENDS = ["python", "durable", "compiled"]
CTX = Context("order_approval", VOCABULARY["order_approval"])
FIXTURE = Path(__file__).parent / "fixtures" / "declared-policy"


def lines(*qtys: int | None) -> dict[str, Any]:
    return {"order.lines": [{"line.qty": q, "line.unit_price": Decimal("10.00")} for q in qtys]}


def value(text: str, facts: dict[str, Any]) -> Any:
    expr = check_value(expressions.parse(text), CTX, Kind.number)
    return compile_expr(expr)(facts, None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_documented_aggregate_holds_as_the_docs_say_on_every_backend(tmp_path: Path, backend: str) -> None:
    facts, rows = section_examples("Aggregates: `sum`, `count`, `min`, `max`, `avg`", facts_from="Functions")
    root = write_rules(tmp_path / "policy", [cond for cond, _ in rows])
    assert fired(root, facts, backend) == {f"r{i}" for i, (_, holds) in enumerate(rows) if holds}


@pytest.mark.parametrize(("func", "expected"), [("sum", 0), ("count", 0), ("min", None), ("max", None),
                                                 ("avg", None)])
def test_over_no_element_sum_and_count_are_0_and_the_others_missing(func: str, expected: Any) -> None:
    assert value(f"{func}(line.qty for line in order.lines)", lines()) == expected
    assert value(f"{func}(line.qty for line in order.lines if line.qty > 5)", lines(1, 2)) == expected
    assert aggregate(func, []) == expected  # type: ignore[arg-type]


def test_missing_values_are_skipped_and_avg_is_exact() -> None:
    facts = lines(1, None, 2, None, 1)
    assert value("count(line.qty for line in order.lines)", facts) == 3
    assert value("count(order.lines)", facts) == 5
    assert value("avg(line.qty for line in order.lines)", facts) == Decimal(4) / Decimal(3)
    assert value("avg(line.unit_price for line in order.lines)", lines(1, 1, 1)) == Decimal("10")
    assert value("sum(line.qty * line.unit_price for line in order.lines)", facts) == Decimal("40.00")


def test_a_filter_reading_a_missing_value_leaves_the_element_out() -> None:
    facts = lines(1, None, 30)
    assert value("count(line for line in order.lines if line.qty < 10)", facts) == 1
    assert value("count(line for line in order.lines if not (line.qty >= 10))", facts) == 1


def test_an_aggregate_explains_its_value_and_walks_its_reads() -> None:
    cond = check_condition(expressions.parse("sum(l.qty for l in order.lines if l.qty > 1) >= 100"), CTX)
    assert explain(cond, lines(1, 50)) == "sum(line.qty for line in order.lines if line.qty > 1) is 50, not ≥ 100"
    empty = check_condition(expressions.parse("max(line.qty for line in order.lines) > 1"), CTX)
    assert explain(empty, lines()) == ("max(line.qty for line in order.lines) (no line with a value) is missing, "
                                       "so 'max(line.qty for line in order.lines) > 1' is false")
    assert [r.path for r in walk_refs(cond)] == ["order.lines", "line.qty", "line.qty"]
    assert isinstance(cond.left, Aggregate)  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "message"), [
    ("any(sum(line.qty for line in order.lines) > 1 for line in order.lines)",
     "sum() over order.lines inside any()/all() over the same list: compute it outside the loop"),
    ("sum(sum(line.qty for line in order.lines) for line in order.lines) > 1", "aggregates do not nest"),
    ("count(line for line in order.lines if any(line.qty > 1 for line in order.lines)) > 1",
     "any()/all() inside sum/count/min/max/avg: write the condition into the filter"),
    ("sum(line.sku for line in order.lines) > 1", "sum() takes numbers, not text"),
    ("avg(order.order_date for line in order.lines) > 1", "avg() takes numbers, not a date"),
    ("max(order.total, 1) > 5", "max() takes a loop over a list: max(line.unit_price for line in order.lines)"),
    ("sum(line for line in order.lines) > 5", "sum() needs a value of each line"),
    ("sum(line.qty for line in order.line) > 5", "'order.line' is not a list fact; loop over order.lines"),
    ("total(line.qty for line in order.lines) > 5", "only any(), all(), sum(), count(), min(), max(), avg() can "
                                                    "loop over a list, not total()"),
    ("any(line.qty > 1 for line in order.lines if line.qty > 2)", "any() takes no 'if' filter"),
    ("sum(line.qty for line in order.lines)", "expected a condition but found a number"),
])
def test_a_misused_aggregate_is_refused_in_plain_words(text: str, message: str) -> None:
    with pytest.raises(CheckError) as info:
        check_condition(expressions.parse(text), CTX)
    assert message in info.value.message


def test_an_aggregate_over_another_list_cannot_read_the_outer_loops_element() -> None:
    vocab = {**VOCABULARY["order_approval"],
             "order.charges": FactInfo("order.charges", Kind.list, "charges", element="charge"),
             "charge.amount": FactInfo("charge.amount", Kind.number, "a charge")}
    ctx = Context("order_approval", vocab)
    with pytest.raises(CheckError, match=r"sum\(\) over order.charges cannot read 'x', the element of the any"):
        check_condition(expressions.parse(
            "all(sum(c.amount for c in order.charges if c.amount > x.amount) >= 0 for x in order.lines)"), ctx)
    cond = check_condition(expressions.parse(
        "any(line.amount > sum(c.amount for c in order.charges) for line in order.lines)"), ctx)
    facts = {"order.charges": [{"charge.amount": 5}, {"charge.amount": 7}],
             "order.lines": [{"line.amount": 10}, {"line.amount": 13}]}
    assert explain(cond, facts) == "line 2: line.amount is 13, > sum(charge.amount for charge in order.charges) (12)"


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_aggregate_in_a_line_rule_compares_each_line_with_the_order(tmp_path: Path, backend: str) -> None:
    facts, _ = section_examples("Functions")
    root = write_rules(tmp_path / "policy", [])
    (root / "examples.yaml").write_text(
        "ruleset: examples\nhook: order_approval\nversion: '1'\nrules:\n"
        "  - id: big-share\n    scope: line\n"
        "    when: line.amount > sum(l.amount for l in order.lines) / 2\n    then: { warn: share }\n",
        encoding="utf-8")
    with Gate.from_path(root, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        decision = gate.decide("order_approval", facts, explain=True)
    assert [(t.rule, t.line_no) for t in decision.trace if t.fired] == [("big-share", 2)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_aggregate_sets_an_output_and_decides_at_a_declared_point(tmp_path: Path, backend: str) -> None:
    root = tmp_path / "policy"
    shutil.copytree(FIXTURE, root)
    (root / "bulk.yaml").write_text(
        "ruleset: bulk\npoint: sample_request\nversion: '1'\nrules:\n"
        "  - id: many-units\n    when: sum(line.qty for line in sample.lines if line.sku != \"free\") > 150\n"
        "    then: {warn: many, set: {deposit: \"count(sample.lines) * 10%\"}}\n", encoding="utf-8")
    sample = {"sample": {"id": "S-1", "customer_id": "C1", "value": "100",
                         "lines": [{"sku": "A", "qty": 100}, {"sku": "B", "qty": 60}, {"sku": "free", "qty": 90}]},
              "customer": {"id": "C1", "name": "华东机电", "tenure_years": 5}}
    with Gate.from_path(root, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        decision = gate.decide("sample_request", sample, explain=True)
        sample["sample"]["lines"] = [{"sku": "A", "qty": 100}, {"sku": "B", "qty": 40}, {"sku": "free", "qty": 100}]
        quiet = gate.decide("sample_request", sample)
    assert decision.outputs == {"deposit": Decimal("0.3")}
    assert [t.explanation for t in decision.trace if t.rule == "many-units"] == [
        'sum(line.qty for line in sample.lines if line.sku != "free") is 160, > 150']
    assert quiet.outputs == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_aggregate_in_a_price_floor_prices_every_line(tmp_path: Path, backend: str) -> None:
    facts, _ = section_examples("Functions")
    root = write_rules(tmp_path / "policy", [], point="pricing")
    (root / "examples.yaml").write_text(
        "ruleset: examples\nhook: pricing\nversion: '1'\nrules:\n"
        "  - id: avg-floor\n    scope: line\n    when: true\n"
        "    then: { floor: \"avg(l.unit_price for l in order.lines)\" }\n", encoding="utf-8")
    with Gate.from_path(root, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        decision = gate.decide("pricing", facts)
    prices = {line.line_no: line.policy_price for line in decision.pricing.lines}  # type: ignore[union-attr]
    assert prices == {1: Decimal("155.17"), 2: Decimal("155.17"), 3: Decimal("300.00")}


TWO_LISTS = """\
point: delivery_plan
title: {zh: 发货计划, en: Delivery plan}
description: {zh: 分批发货计划, en: A plan of deliveries against a contract}
document: plan
fields:
  id: {type: text, description: {zh: 编号, en: Number}}
  lines:
    type: list
    element: line
    description: {zh: 合同行, en: Contract lines}
    fields:
      sku: {type: text, description: {zh: 产品, en: Product}}
      qty: {type: integer, description: {zh: 数量, en: Quantity}}
  shipments:
    type: list
    element: shipment
    description: {zh: 发货批次, en: Shipments}
    fields:
      sku: {type: text, description: {zh: 产品, en: Product}}
      qty: {type: integer, description: {zh: 数量, en: Quantity}}
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_aggregate_over_one_list_inside_any_over_another_on_every_backend(tmp_path: Path, backend: str) -> None:
    """Per element of plan.lines, a sum over plan.shipments: durable hands it over per element, computed
    by the evaluator (an aggregate inside $iany)."""
    root = write_rules(tmp_path / "policy", [], point="delivery_plan",
                       files={"points/delivery_plan.yaml": TWO_LISTS})
    (root / "examples.yaml").write_text(
        "ruleset: examples\npoint: delivery_plan\nversion: '1'\nrules:\n"
        "  - id: over-shipped\n"
        "    when: any(line.qty < sum(s.qty for s in plan.shipments if s.sku == \"A\") for line in plan.lines)\n"
        "    then: { warn: over }\n", encoding="utf-8")
    plan = {"plan": {"id": "P1", "lines": [{"sku": "A", "qty": 10}, {"sku": "B", "qty": 50}],
                     "shipments": [{"sku": "A", "qty": 6}, {"sku": "B", "qty": 40}, {"sku": "A", "qty": 5}]}}
    with Gate.from_path(root, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        over = gate.decide("delivery_plan", plan, explain=True)
        plan["plan"]["shipments"] = plan["plan"]["shipments"][:2]  # type: ignore[index]
        under = gate.decide("delivery_plan", plan)
    assert [t.explanation for t in over.trace if t.fired] == [
        'line 1: line.qty is 10, < sum(shipment.qty for shipment in plan.shipments if shipment.sku == "A") (11)']
    assert [t.rule for t in under.trace if t.fired] == []


def _brute(func: str, elements: list[dict[str, Any]], keep: Any, value: Any) -> Any:
    chosen = [el for el in elements if keep(el)]
    if value is None:
        return len(chosen)
    return aggregate(func, [v for el in chosen if (v := value(el)) is not None])  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [
    "count(l for l in order.lines if l.sku == line.sku)",
    "sum(l.qty for l in order.lines if line.sku == l.sku and l.qty > 1)",
    "max(l.unit_price for l in order.lines if l.qty > 0 and l.product.stock == line.qty)",
    "avg(l.qty for l in order.lines if l.sku == line.sku)",
])
def test_an_aggregate_keyed_on_the_lines_own_fact_gives_what_reading_every_line_gives(text: str) -> None:
    """A line rule's ``l.sku == line.sku`` is looked up in the elements grouped by sku (once per list): the
    same answers as filtering every element, a missing key or probe matching nothing."""
    ctx = Context("order_approval", VOCABULARY["order_approval"], "line")
    getter = compile_expr(check_value(expressions.parse(text), ctx, Kind.number))
    elements = [{"line.sku": sku, "line.qty": qty, "line.unit_price": Decimal(price), "line.product.stock": stock}
                for sku, qty, price, stock in [("A", 1, "5", 1), ("B", 2, "7", 2), ("A", 3, "9", None),
                                               (None, 4, "1", 3), ("A", 2, "2", Decimal("2.0"))]]
    func = text.split("(", 1)[0]
    for line in [*elements, {"line.sku": None, "line.qty": None}, {"line.sku": "Z", "line.qty": 9}]:
        root = {**line, "order.lines": elements}

        def keep(el: dict[str, Any], line: dict[str, Any] = line) -> bool:
            if "product.stock" in text:
                return el["line.qty"] > 0 and el["line.product.stock"] is not None and line["line.qty"] is not None \
                    and el["line.product.stock"] == line["line.qty"]
            same = el["line.sku"] is not None and line["line.sku"] is not None and el["line.sku"] == line["line.sku"]
            return same and (el["line.qty"] > 1 if "l.qty > 1" in text else True)

        field = None if func == "count" else ("line.unit_price" if "unit_price" in text else "line.qty")
        expected = _brute(func, elements, keep, None if field is None else (lambda el, f=field: el[f]))
        assert getter(root, None) == expected, (text, line)


def test_a_line_rule_over_10000_lines_reads_each_line_once_not_once_per_line() -> None:
    """sum(...) of every line, and count(... if l.sku == line.sku), for each of 10,000 lines were 10^8 steps
    (28 s an order); the first is computed once a list, the second looked up in groups."""
    import time

    ctx = Context("order_approval", VOCABULARY["order_approval"], "line")
    elements = [{"line.sku": f"P{i % 5000}", "line.amount": Decimal(i)} for i in range(10_000)]
    started = time.perf_counter()
    for text in ("line.amount > sum(l.amount for l in order.lines) / 10000",
                 "count(l for l in order.lines if l.sku == line.sku) > 1"):
        test = compile_cond(check_condition(expressions.parse(text), ctx))
        fired = sum(test({**el, "order.lines": elements}, None) for el in elements)
        assert fired == (5_000 if "sum" in text else 10_000)  # above the mean 4,999.5; every sku twice
    assert time.perf_counter() - started < 5


RATIO_POLICY = """\
name: ratios
version: '1'
roles: [sales_rep, sales_manager]
outputs:
  order_approval:
    ratio: {type: number, combine: max, description: {zh: 比例, en: Ratio}}
    rate: {type: percent, combine: max, description: {zh: 费率, en: Rate}}
    whole: {type: number, combine: max, description: {zh: 整数, en: Whole}}
"""
RATIO_RULES = """\
ruleset: ratios
hook: order_approval
version: '1'
rules:
  - id: ratios
    when: true
    then:
      set:
        ratio: sum(line.qty for line in order.lines) / 3
        rate: count(order.lines) / 30
        whole: sum(line.qty for line in order.lines) * 1.0000001 / 11
"""
RATIO_CASES = """\
hook: order_approval
base:
  customer: { id: C1, name: 华东机电, credit_limit: 500000 }
  order: { id: SO-1, customer_id: C1, order_date: 2026-11-28,
           lines: [{ line_no: 1, sku: P1, qty: 10, unit_price: 100 }, { line_no: 2, sku: P2, qty: 1, unit_price: 5 }] }
cases:
  - name: the outputs at 6 decimals
    expect: { outcome: allow, outputs: { ratio: 3.666667, rate: 6.6667%, whole: 1 } }
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_number_or_percent_output_computed_by_division_is_rounded_to_6_decimals_a_test_case_can_expect(
        tmp_path: Path, backend: str) -> None:
    from salesgate.policy.testcases import load_cases, run_case

    root = tmp_path / "policy"
    (root / "tests").mkdir(parents=True)
    (root / "policy.yaml").write_text(RATIO_POLICY, encoding="utf-8")
    (root / "ratios.yaml").write_text(RATIO_RULES, encoding="utf-8")
    (root / "tests" / "ratios.yaml").write_text(RATIO_CASES, encoding="utf-8")
    with Gate.from_path(root, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        [case] = load_cases(root, gate.policy)
        result = run_case(gate, case)
    assert result.decision is not None
    assert result.decision.outputs == {"ratio": Decimal("3.666667"), "rate": Decimal("0.066667"),
                                       "whole": Decimal("1")}
    assert str(result.decision.outputs["whole"]) == "1"
    assert result.passed, result.mismatches
