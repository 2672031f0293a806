"""The condition language, operator by operator: a conformance suite of expression → result.

Every case goes the whole way a rule goes: parsed, type-checked against the fact vocabulary,
lowered to the IR and matched by a backend against hand-made facts. Cases run on every backend
that can be imported (the durable-rules backend joins as soon as it exists), all cases of a fact
set as rules of one stage, so a backend is built once per fact set.

Errors are checked with their exact message, 1-based column and did-you-mean.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesgate import DecisionPoint, Gate
from salesgate.engine.compiled import CompiledBackend
from salesgate.engine.python import PythonBackend
from salesgate.facts import FactSet, FactValues
from salesgate.policy import expressions as ast
from salesgate.policy.checker import CheckError, Context, check_condition
from salesgate.policy.evaluator import compile_cond
from salesgate.policy.expressions import ExpressionError, parse
from salesgate.policy.functions import names
from salesgate.policy.ir import And, Arith, Compare, Cond, Const, IsNone, Kind, Or, Quantified, Ref
from salesgate.policy.stages import Backend, EngineRule, Stage
from salesgate.vocabulary import VOCABULARY

HOOK: DecisionPoint = "order_approval"
FUNCTION_NAMES = ", ".join(f"{name}()" for name in names())
VOCAB = VOCABULARY[HOOK]


def _backend_factories() -> dict[str, Callable[[list[Stage]], Backend]]:
    factories: dict[str, Callable[[list[Stage]], Backend]] = {"python": PythonBackend, "compiled": CompiledBackend}
    if importlib.util.find_spec("salesgate.engine.durable") is not None:
        from salesgate.engine.durable import DurableBackend

        factories["durable"] = DurableBackend
    return factories


BACKENDS = _backend_factories()


def compile_when(text: str, *, scope: str | None = None, hook: DecisionPoint = HOOK) -> Cond:
    """What the policy loader does with a ``when:``: parse, then type-check and lower to the IR."""
    return check_condition(parse(text), Context(hook, VOCABULARY[hook], scope))


# -- hand-made facts -------------------------------------------------------------------------------

LINE_1: FactValues = {
    "line.line_no": 1, "line.sku": "P-100", "line.qty": 150, "line.unit_price": Decimal("100"),
    "line.discount": Decimal("0.15"), "line.amount": Decimal("12750.00"), "line.net_unit_price": Decimal("85"),
    "line.product.name": "电机", "line.product.list_price": Decimal("100"), "line.product.cost": Decimal("60"),
    "line.product.stock": 200,
}
LINE_2: FactValues = {  # no product facts were sent for this line: its product.* values are missing
    "line.line_no": 2, "line.sku": "P-200", "line.qty": 10, "line.unit_price": Decimal("1013.65"),
    "line.discount": Decimal("0"), "line.amount": Decimal("10136.50"), "line.net_unit_price": Decimal("1013.65"),
    "line.product.name": None, "line.product.list_price": None, "line.product.cost": None,
    "line.product.stock": None,
}
ROOT: FactValues = {
    "customer.id": "C-1", "customer.name": "华东机电有限公司", "customer.grade": "A", "customer.status": "active",
    "customer.region": "华东", "customer.region_has_distributor": True, "customer.is_distributor": False,
    "customer.credit_limit": Decimal("100000"), "customer.credit_rating": "good",
    "customer.payment_terms_days": 30, "customer.has_repayment_plan": False,
    "customer.has_repayment_agreement": False,
    "order.id": "SO-1", "order.customer_id": "C-1", "order.order_date": date(2026, 11, 23), "order.currency": "CNY",
    "order.channel": "oral", "order.written_confirmation": True, "order.payment_method": "credit",
    "order.draft_term_days": None, "order.payment_terms_days": 60, "order.guarantee": False,
    "order.special_requirements": None, "order.total": Decimal("95000.00"), "order.line_count": 2,
    "order.lines": [LINE_1, LINE_2],
    "exposure.open_receivables": Decimal("0"), "exposure.open_orders": Decimal("0"),
    "exposure.overdue_amount": Decimal("0"), "exposure.max_overdue_days": 0, "exposure.total": Decimal("0"),
}


def _factset(root: FactValues) -> FactSet:
    lines = root["order.lines"]
    return FactSet(root, tuple({**root, **line} for line in lines), tuple(line["line.line_no"] for line in lines))


FACTS: dict[str, FactSet] = {
    "std": _factset(ROOT),
    "empty": _factset({**ROOT, "order.lines": [], "order.line_count": 0}),
}

# -- the conformance table: (facts, expression, expected) -------------------------------------------

CASES: list[tuple[str, str, bool]] = [
    # comparisons; order.total is 95,000.00
    ("std", "order.total < 100000", True),
    ("std", "order.total < 95000", False),
    ("std", "order.total <= 95000", True),
    ("std", "order.total <= 94999.99", False),
    ("std", "order.total > 94999.99", True),
    ("std", "order.total > 95000", False),
    ("std", "order.total >= 95000", True),
    ("std", "order.total >= 95000.01", False),
    ("std", "order.total == 95000", True),
    ("std", "order.total == 95000.01", False),
    ("std", "order.total != 95000", False),
    ("std", "order.total != 1", True),
    ("std", "100000 > order.total", True),
    ("std", "95000 <= order.total", True),
    ("std", "order.payment_terms_days > customer.payment_terms_days", True),
    ("std", "order.payment_terms_days < customer.payment_terms_days", False),
    ("std", 'customer.grade == "A"', True),
    ("std", 'customer.grade != "A"', False),
    ("std", '"A" == customer.grade', True),
    ("std", 'customer.status == "blocked"', False),
    # and / or / not, precedence, De Morgan
    ("std", 'order.total > 1 and customer.grade == "A"', True),
    ("std", 'order.total > 1 and customer.grade == "B"', False),
    ("std", 'order.total < 1 or customer.grade == "A"', True),
    ("std", 'order.total < 1 or customer.grade == "B"', False),
    ("std", 'order.total < 1 and customer.grade == "B" or order.guarantee == false', True),
    ("std", 'order.total < 1 and (customer.grade == "B" or order.guarantee == false)', False),
    ("std", "not order.total > 1", False),
    ("std", "not order.guarantee", True),
    ("std", "order.written_confirmation", True),
    ("std", "not order.written_confirmation", False),
    ("std", "not not order.written_confirmation", True),
    ("std", 'not (order.total > 1 and customer.grade == "B")', True),
    ("std", 'order.total <= 1 or customer.grade != "B"', True),
    ("std", 'not (order.total < 1 or customer.grade == "B")', True),
    ("std", 'not (order.total > 1 or customer.grade == "B")', False),
    ("std", 'order.total <= 1 and customer.grade != "B"', False),
    # arithmetic: exact decimals, usual precedence, left associative
    ("std", "order.total + 5000 == 100000", True),
    ("std", "order.total - 95000 == 0", True),
    ("std", "order.total * 2 == 190000", True),
    ("std", "order.total / 4 == 23750", True),
    ("std", "order.total / 3 > 31666.66", True),
    ("std", "order.total / 3 < 31666.67", True),
    ("std", "order.total * 1.05 == 99750", True),
    ("std", "0.1 + 0.2 == order.total - 94999.7", True),
    ("std", "order.total + exposure.total + customer.credit_limit == 195000", True),
    ("std", "2 + 3 * 4 == order.line_count * 7", True),
    ("std", "(2 + 3) * 4 == order.line_count * 10", True),
    ("std", "order.total - 1000 - 4000 == 90000", True),
    ("std", "order.total / 10 / 2 == 4750", True),
    # division by zero gives a missing value, and a comparison on a missing value is false
    ("std", "order.total / exposure.total > 1", False),
    ("std", "order.total / exposure.total <= 1", False),
    ("std", "not (order.total / exposure.total > 1)", False),
    # unary minus
    ("std", "-order.total < 0", True),
    ("std", "-order.total == -95000", True),
    ("std", "order.total > -1", True),
    ("std", "--order.total == 95000", True),
    ("std", "-(order.total - 95001) == 1", True),
    ("std", "order.total - -5 == 95005", True),
    # in / not in
    ("std", 'customer.grade in ["A", "B"]', True),
    ("std", 'customer.grade in ["B", "C"]', False),
    ("std", 'customer.grade in ["A"]', True),
    ("std", 'customer.grade not in ["B", "C"]', True),
    ("std", 'customer.grade not in ["A"]', False),
    ("std", 'not customer.grade in ["A", "B"]', False),
    ("std", "order.line_count in [1, 2, 3]", True),
    ("std", "order.line_count not in [1, 3]", True),
    ("std", 'customer.region in ["华东", "华南"]', True),
    ("std", "order.draft_term_days in [30, 60]", False),
    ("std", "order.draft_term_days not in [30, 60]", False),
    # None: only == None / != None test for absence; every comparison on a missing value is false
    ("std", "order.draft_term_days == None", True),
    ("std", "order.draft_term_days != None", False),
    ("std", "order.special_requirements == null", True),
    ("std", "None == order.special_requirements", True),
    ("std", "not (order.draft_term_days == None)", False),
    ("std", "not (order.draft_term_days != None)", True),
    ("std", "order.draft_term_days > 365", False),
    ("std", "order.draft_term_days <= 365", False),
    ("std", "not (order.draft_term_days > 365)", False),
    ("std", "order.draft_term_days == 0", False),
    ("std", "order.draft_term_days != 0", False),
    ("std", "not (order.draft_term_days == 0)", False),
    ("std", 'order.special_requirements != "加急"', False),
    ("std", "order.draft_term_days + 1 > 0", False),
    ("std", "order.draft_term_days == None or order.draft_term_days > 365", True),
    # true / false
    ("std", "true", True),
    ("std", "order.guarantee == false", True),
    ("std", "order.guarantee == False", True),
    ("std", "order.written_confirmation == True", True),
    ("std", "order.guarantee != true", True),
    ("std", 'true and customer.grade == "A"', True),
    # dates and days
    ("std", 'order.order_date == date("2026-11-23")', True),
    ("std", 'order.order_date > date("2026-11-22")', True),
    ("std", 'order.order_date < date("2026-11-23")', False),
    ("std", 'order.order_date - date("2026-11-01") == 22', True),
    ("std", 'order.order_date - date("2026-11-01") == days(22)', True),
    ("std", 'order.order_date + days(8) == date("2026-12-01")', True),
    ("std", 'days(8) + order.order_date == date("2026-12-01")', True),
    ("std", 'order.order_date - days(23) == date("2026-10-31")', True),
    ("std", 'date("2026-12-31") - order.order_date > days(30)', True),
    ("std", 'date("2026-12-31") - order.order_date > days(38)', False),
    ("std", 'order.order_date + order.payment_terms_days == date("2027-01-22")', True),
    # percent literals and underscores in numbers
    ("std", "order.total * 15% == 14250", True),
    ("std", "any(line.discount >= 15% for line in order.lines)", True),
    ("std", "any(line.discount > 15% for line in order.lines)", False),
    ("std", "any(line.discount == 0.15 for line in order.lines)", True),
    ("std", "order.total == 95_000", True),
    ("std", "order.total < 1_000_000.50", True),
    # Chinese text
    ("std", 'customer.name == "华东机电有限公司"', True),
    ("std", "customer.name == '华东机电有限公司'", True),
    ("std", 'customer.name != "华南贸易"', True),
    ("std", 'any(line.product.name == "电机" for line in order.lines)', True),
    # any / all over order.lines (line 1: qty 150, stock 200; line 2: qty 10, no product facts)
    ("std", "any(line.qty >= 100 for line in order.lines)", True),
    ("std", "all(line.qty >= 100 for line in order.lines)", False),
    ("std", "all(line.qty >= 10 for line in order.lines)", True),
    ("std", "not any(line.qty > 1000 for line in order.lines)", True),
    ("std", "not all(line.qty >= 100 for line in order.lines)", True),
    ("std", "any(x.qty >= 100 for x in order.lines)", True),
    ("std", "any(line.qty > line.product.stock for line in order.lines)", False),
    ("std", "any(line.product.stock == None for line in order.lines)", True),
    ("std", "all(line.product.stock >= 0 for line in order.lines)", False),
    # `not` is pushed onto the comparison, which is false on line 2's missing stock:
    ("std", "not any(line.product.stock < 0 for line in order.lines)", False),
    ("std", "any(line.qty * line.unit_price > order.total / 10 for line in order.lines)", True),
    ("std", "any(line.net_unit_price == 85 and line.qty == 150 for line in order.lines)", True),
    ("std", "any(line.net_unit_price == 85 and line.qty == 10 for line in order.lines)", False),
    ("std", 'customer.grade == "A" and any(line.qty >= 100 for line in order.lines)', True),
    # over no lines: any is false, all is true (and their negations follow)
    ("empty", "any(line.qty > 0 for line in order.lines)", False),
    ("empty", "all(line.qty > 0 for line in order.lines)", True),
    ("empty", "not any(line.qty > 0 for line in order.lines)", True),
    ("empty", "not all(line.qty > 0 for line in order.lines)", False),
    ("empty", "order.line_count == 0", True),
]

# Line-scope rules: checked once per line, reading line.* directly; expected = indices of matching lines.
LINE_CASES: list[tuple[str, frozenset[int]]] = [
    ("line.qty >= 100", frozenset({0})),
    ("line.qty < 100", frozenset({1})),
    ("line.qty > 0", frozenset({0, 1})),
    ("line.qty > 1000", frozenset()),
    ("line.product.stock == None", frozenset({1})),
    ("line.qty > line.product.stock", frozenset()),
    ("not (line.product.stock < 100)", frozenset({0})),
    ('line.qty >= 10 and customer.grade == "A"', frozenset({0, 1})),
    ("line.net_unit_price < line.product.cost * 1.5", frozenset({0})),
    ("line.amount > order.total / 10", frozenset({0, 1})),
    ("line.discount > 10% or line.sku == \"P-200\"", frozenset({0, 1})),
    ("line.qty == 150 and any(line.qty == 10 for line in order.lines)", frozenset({0})),
]


def _case_id(case: tuple[str, str, bool]) -> str:
    return f"{case[0]}:{case[1]}"


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def matched(request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, frozenset[Any]], frozenset[Any]]]:
    """(facts name → matches, line-scope matches) for every case, on one backend."""
    stages = [
        Stage(f"cases.{name}",
              tuple(EngineRule(f"c{i}", i, "order", compile_when(text)) for i, (n, text, _) in enumerate(CASES)
                    if n == name),
              VOCAB)
        for name in FACTS
    ]
    stages.append(Stage("lines", tuple(EngineRule(f"l{i}", i, "line", compile_when(text, scope="line"))
                                        for i, (text, _) in enumerate(LINE_CASES)), VOCAB))
    backend = BACKENDS[request.param](stages)
    try:
        yield ({name: backend.match(f"cases.{name}", facts) for name, facts in FACTS.items()},
               backend.match("lines", FACTS["std"]))
    finally:
        backend.close()


@pytest.mark.parametrize(("index", "case"), list(enumerate(CASES)), ids=[_case_id(c) for c in CASES])
def test_condition_evaluates_as_written(matched: Any, index: int, case: tuple[str, str, bool]) -> None:
    facts, text, expected = case
    assert ((f"c{index}", None) in matched[0][facts]) is expected, text


@pytest.mark.parametrize(("index", "case"), list(enumerate(LINE_CASES)), ids=[c[0] for c in LINE_CASES])
def test_line_scope_rule_matches_each_line_on_its_own(matched: Any, index: int,
                                                      case: tuple[str, frozenset[int]]) -> None:
    text, lines = case
    assert {i for rule, i in matched[1] if rule == f"l{index}"} == lines, text


@pytest.mark.parametrize("backend", ["python", "durable", "compiled"])
def test_a_line_scope_rule_reading_only_order_facts_still_fires_on_every_line(tmp_path: Path, backend: str) -> None:
    (tmp_path / "credit.yaml").write_text(
        "ruleset: credit\nhook: credit_check\nversion: '1'\nrules:\n"
        "  - id: per-line-grade\n    scope: line\n    when: customer.grade == \"A\"\n    then: { warn: 大客户 }\n",
        encoding="utf-8",
    )
    order = {
        "order": {"id": "SO-8", "customer_id": "C-1", "order_date": "2026-11-23", "lines": [
            {"line_no": 1, "sku": "A", "qty": 1, "unit_price": "10"},
            {"line_no": 2, "sku": "B", "qty": 1, "unit_price": "10"},
        ]},
        "customer": {"id": "C-1", "name": "华东机电", "grade": "A"},
    }
    with Gate.from_path(tmp_path, backend=backend, entry_points=False) as gate:
        decision = gate.check_credit(order)
    assert [(r.rule, r.line_no) for r in decision.reasons] == [("per-line-grade", 1), ("per-line-grade", 2)]


PRICING_ONLY_ORDER_FACTS = (
    "ruleset: pricing\nhook: pricing\nversion: '1'\nrules:\n"
    "  - id: grade-a-discount\n    when: customer.grade == \"A\"\n    then: { discount: 5% }\n"
)
APPROVAL_ONLY = (
    "ruleset: approval\nhook: order_approval\nversion: '1'\nrules:\n"
    "  - id: big\n    when: order.total >= 100000\n    then: { warn: 大额 }\n"
)


@pytest.mark.parametrize("backend", ["python", "durable", "compiled"])
@pytest.mark.parametrize("rules", [PRICING_ONLY_ORDER_FACTS, APPROVAL_ONLY], ids=["order-facts", "no-pricing"])
def test_every_line_is_priced_whatever_the_pricing_rules_read(tmp_path: Path, backend: str, rules: str) -> None:
    from salesgate.bulk import Replayer

    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    order = {
        "order": {"id": "SO-7", "customer_id": "C-1", "order_date": "2026-11-23", "lines": [
            {"line_no": 1, "sku": "A", "qty": 2, "unit_price": "100"},
            {"line_no": 2, "sku": "B", "qty": 1, "unit_price": "10"},
        ]},
        "customer": {"id": "C-1", "name": "华东机电", "grade": "A"},
        "products": [{"sku": "A", "list_price": "100"}, {"sku": "B", "list_price": "10"}],
    }
    with Gate.from_path(tmp_path, backend=backend, entry_points=False) as gate:
        decision = gate.price_order(order)
        facts = gate.facts_for("pricing", order)
        replayer = Replayer(gate.policy)
        verdict = replayer.order("pricing", facts, replayer.order_factset(facts))
    assert decision.failure is None
    assert decision.pricing is not None
    expected = ["95.00", "9.50"] if rules is PRICING_ONLY_ORDER_FACTS else ["100.00", "10.00"]
    assert [str(line.policy_price) for line in decision.pricing.lines] == expected
    assert [str(price) for price in verdict.prices] == expected


def test_line_scope_rule_fires_once_per_line_through_a_policy(tmp_path: Path) -> None:
    (tmp_path / "approval.yaml").write_text(
        "ruleset: approval\nhook: order_approval\nversion: '1'\nroles: [sales_manager]\nrules:\n"
        "  - id: deep-discount\n    scope: line\n    when: line.discount > 10%\n"
        "    then: { require: [sales_manager], message: 折扣超过 10% }\n"
        "  - id: any-big-line\n    when: any(line.qty >= 100 for line in order.lines)\n"
        "    then: { warn: 大批量 }\n",
        encoding="utf-8",
    )
    order = {
        "order": {"id": "SO-9", "customer_id": "C-1", "order_date": "2026-11-23", "lines": [
            {"line_no": 1, "sku": "A", "qty": 150, "unit_price": "10", "discount": "0.15"},
            {"line_no": 2, "sku": "B", "qty": 1, "unit_price": "10"},
            {"line_no": 3, "sku": "C", "qty": 1, "unit_price": "10", "discount": "0.2"},
        ]},
        "customer": {"id": "C-1", "name": "华东机电"},
    }
    with Gate.from_path(tmp_path, backend="python", entry_points=False) as gate:
        decision = gate.approve_order(order)
    assert [(r.rule, r.line_no) for r in decision.reasons if r.rule == "deep-discount"] == [
        ("deep-discount", 1), ("deep-discount", 3)]
    assert decision.outcome == "require_approval"
    assert [(r.rule, r.message) for r in decision.reasons if r.rule == "any-big-line"] == [("any-big-line", "大批量")]


# -- what the checker builds ---------------------------------------------------------------------------

def test_constant_arithmetic_is_folded_at_load_time() -> None:
    total = Ref("order.total", Kind.number)
    assert compile_when("order.total > 2 * 3 + 1") == Compare(">", total, Const(7, Kind.number))
    assert compile_when("order.total > 0.1 + 0.2") == Compare(
        ">", Ref("order.total", Kind.number), Const(Decimal("0.3"), Kind.number))
    assert compile_when("order.total > -(-5)") == Compare(">", Ref("order.total", Kind.number), Const(5, Kind.number))
    assert compile_when("order.total > 100000 * 15%") == Compare(
        ">", Ref("order.total", Kind.number), Const(Decimal("15000.00"), Kind.number))


def test_expression_reading_a_fact_is_not_folded() -> None:
    cond = compile_when("order.total * 2 > 10")
    assert isinstance(cond, Compare)
    assert cond.left == Arith("*", Ref("order.total", Kind.number), Const(2, Kind.number), Kind.number)


def test_constant_on_the_left_is_swapped_to_the_right() -> None:
    assert compile_when("100 < order.total") == Compare(">", Ref("order.total", Kind.number), Const(100, Kind.number))


def test_not_is_pushed_down_onto_comparisons_by_de_morgan() -> None:
    total = Ref("order.total", Kind.number)
    guarantee = Ref("order.guarantee", Kind.bool)
    assert compile_when("not (order.total > 5 and order.guarantee)") == Or((
        Compare("<=", total, Const(5, Kind.number)), Compare("!=", guarantee, Const(True, Kind.bool))))
    assert compile_when("not (order.total > 5 or order.draft_term_days == None)") == And((
        Compare("<=", total, Const(5, Kind.number)), IsNone(Ref("order.draft_term_days", Kind.number), present=True)))
    assert compile_when("not any(line.qty > 5 for line in order.lines)") == Quantified(
        "all", "order.lines", Compare("<=", Ref("line.qty", Kind.number, item=True), Const(5, Kind.number)))


def test_in_becomes_a_disjunction_and_not_in_a_conjunction() -> None:
    grade = Ref("customer.grade", Kind.enum)
    assert compile_when('customer.grade in ["A", "B"]') == Or((
        Compare("==", grade, Const("A", Kind.text)), Compare("==", grade, Const("B", Kind.text))))
    assert compile_when('customer.grade not in ["A", "B"]') == And((
        Compare("!=", grade, Const("A", Kind.text)), Compare("!=", grade, Const("B", Kind.text))))


def test_numbers_parse_exactly_with_underscores_and_percent() -> None:
    assert parse("1_000_000") == ast.Number(1_000_000, 1)
    assert parse("1_000.50") == ast.Number(Decimal("1000.50"), 1)
    assert parse("15%") == ast.Number(Decimal("0.15"), 1, percent=True)
    assert parse("12.5%") == ast.Number(Decimal("0.125"), 1, percent=True)
    assert isinstance(parse("0.1").value, Decimal)  # type: ignore[union-attr]


def test_text_literals_keep_chinese_and_escaped_quotes() -> None:
    assert parse('"客户已冻结"') == ast.String("客户已冻结", 1)
    assert parse(r'"say \"hi\""') == ast.String('say "hi"', 1)
    assert parse("'华东'") == ast.String("华东", 1)


def test_dates_and_days_lower_to_exact_constants() -> None:
    cond = compile_when('order.order_date + days(30) > date("2026-12-31")')
    assert cond == Compare(
        ">", Arith("+", Ref("order.order_date", Kind.date), Const(30, Kind.number), Kind.date),
        Const(date(2026, 12, 31), Kind.date))


@given(
    total=st.one_of(st.none(), st.decimals(min_value=-10, max_value=10, places=1)),
    limit=st.one_of(st.none(), st.decimals(min_value=-10, max_value=10, places=1)),
    guarantee=st.booleans(),
)
def test_de_morgan_holds_on_every_value_including_missing_ones(total: Decimal | None, limit: Decimal | None,
                                                               guarantee: bool) -> None:
    root = {"order.total": total, "customer.credit_limit": limit, "order.guarantee": guarantee}

    def holds(text: str) -> bool:
        return compile_cond(compile_when(text))(root, None)

    a, b = "order.total > customer.credit_limit", "order.guarantee"
    assert holds(f"not ({a} and {b})") == holds(f"not {a} or not {b}")
    assert holds(f"not ({a} or {b})") == holds(f"not {a} and not {b}")
    if total is None or limit is None:  # a comparison reading None is false, also under not
        assert not holds(a)
        assert not holds(f"not ({a})")
    else:
        assert holds(f"not ({a})") is not holds(a)


# -- errors: exact message, column and suggestion ---------------------------------------------------

ERRORS: list[tuple[str, type[Exception], str, int, str | None]] = [
    # unknown facts, with did-you-mean
    ("order.totl > 5", CheckError, "unknown fact 'order.totl' at decision point order_approval", 1, "order.total"),
    ('customer.statsu == "blocked"', CheckError, "unknown fact 'customer.statsu' at decision point order_approval", 1,
     "customer.status"),
    ("any(line.qtty > 1 for line in order.lines)", CheckError,
     "unknown fact 'line.qtty' at decision point order_approval",
     5, "line.qty"),
    ("line.policy_price > 5", CheckError, "unknown fact 'line.policy_price' at decision point order_approval", 1,
     "line.unit_price"),
    # enum values outside the choices
    ('customer.status == "blokced"', CheckError,
     "'blokced' is not a value of customer.status: expected one of active, cash_only, blocked", 17, "blocked"),
    ('customer.grade == "a"', CheckError, "'a' is not a value of customer.grade: expected one of A, B, C", 16, "A"),
    ('customer.grade in ["A", "D"]', CheckError, "'D' is not a value of customer.grade: expected one of A, B, C",
     25, None),
    # types
    ('customer.name > "华东"', CheckError, "text can only be compared with == or != (or 'in')", 15, None),
    ('customer.grade <= "B"', CheckError, "text can only be compared with == or != (or 'in')", 16, None),
    ('order.total == "95000"', CheckError, "cannot compare a number with text", 13, None),
    ('"x" != order.total', CheckError, "cannot compare text with a number", 5, None),
    ("order.total == true", CheckError, "cannot compare a number with true/false", 13, None),
    ("order.order_date > 5", CheckError, "cannot compare a date with a number", 18, None),
    ('order.order_date >= "2026-12-01"', CheckError,
     'cannot compare a date with text: write a date as date("2026-12-01")', 18, None),
    ("order.guarantee < true", CheckError, "true/false can only be compared with == or !=", 17, None),
    ("order.total - order.order_date > 1", CheckError, "cannot compute a number - a date", 13, None),
    ('-customer.name == "x"', CheckError, "cannot negate text", 1, None),
    ("order.total", CheckError,
     "'order.total' is a number, not a condition: compare it, as in 'order.total == ...'", 1, None),
    ("order.total + 1", CheckError, "expected a condition but found a number", 13, None),
    # None
    ("order.draft_term_days >= None", CheckError, "None can only be compared with == or !=", 23, None),
    ("None < order.total", CheckError, "None can only be compared with == or !=", 6, None),
    ("order.total == None", CheckError, "'order.total' is never None; every decision has it", 13, None),
    ("customer.grade != None", CheckError, "'customer.grade' is never None; every decision has it", 16, None),
    # what people bring from other languages
    ("order.total = 95000", ExpressionError, "unexpected character '=' (use == to compare)", 13, None),
    ("order.total > 1 && order.guarantee", ExpressionError, "unexpected character '&' (use and, or, not)", 17, None),
    ("order.total > 1 || order.guarantee", ExpressionError, "unexpected character '|' (use and, or, not)", 17, None),
    ("!order.guarantee", ExpressionError, "unexpected character '!' (use and, or, not)", 1, None),
    ("0 < order.total <= 100", ExpressionError,
     "chained comparisons are not supported: join two comparisons with 'and'", 17, None),
    # functions
    ("max(order.total, 1) > 5", CheckError, "max() takes a loop over a list: max(line.unit_price for line in "
     "order.lines), with an optional filter: ... if line.qty > 10)", 1, None),
    ('dats(3) + order.order_date > date("2026-01-01")', CheckError,
     f"unknown function 'dats': the functions are {FUNCTION_NAMES}", 1, "days"),
    ("total(line.qty for line in order.lines) > 5", CheckError,
     "only any(), all(), sum(), count(), min(), max(), avg() can loop over a list, not total()", 1, None),
    ('date("23/11/2026") < order.order_date', CheckError, "'23/11/2026' is not a date: write YYYY-MM-DD", 1, None),
    ("date(2026) < order.order_date", CheckError, 'date() takes one text argument: date("2026-12-31")', 1, None),
    ('order.order_date + days(1.5) > date("2026-01-01")', CheckError,
     "days() takes a whole number of days: days(30)", 20, None),
    ('order.order_date + days(order.payment_terms_days) > date("2027-03-31")', CheckError,
     "days() takes a number written in digits: days(30); to add a fact's number of days, add the fact itself: "
     "order.order_date + order.payment_terms_days", 20, None),
    # line facts and loops
    ("line.qty > 5", CheckError,
     "'line.qty' is a fact of each line: read it inside any(... for line in order.lines) or all(...), "
     "or give the rule 'scope: line'", 1, None),
    ("order.total > 1 and line.discount > 0.1", CheckError,
     "'line.discount' is a fact of each line: read it inside any(... for line in order.lines) or all(...), "
     "or give the rule 'scope: line'", 21, None),
    ("any(any(line.qty > 1 for line in order.lines) for line in order.lines)", CheckError,
     "any()/all() cannot be nested", 5, None),
    ("all(any(line.qty > 1 for line in order.lines) for line in order.lines)", CheckError,
     "any()/all() cannot be nested", 5, None),
    ("any(line.qty > 1 for line in order.line)", CheckError,
     "'order.line' is not a list fact; loop over order.lines", 30, "order.lines"),
    ("any(customer.qty > 1 for customer in order.lines)", CheckError,
     "loop variable 'customer' hides the facts of the same name: call it 'line'", 1, None),
    ("any(line.qty > 1 for line.x in order.lines)", ExpressionError,
     "expected a loop variable name after 'for', like 'line'", 22, None),
    # in
    ("customer.grade in []", CheckError, "the list after 'in' is empty", 19, None),
    ('customer.grade in "A"', CheckError, "'in' needs a list, as in 'customer.grade in [\"A\", \"B\"]'", 19, None),
    ('"A" in ["A"]', CheckError, "the value before 'in' must be a fact", 5, None),
    ("customer.grade in [customer.region]", CheckError, "the list after 'in' may only hold constants", 20, None),
    # conditions that can never depend on the facts
    ("false", CheckError, "the condition is always false, so the rule could never fire", 1, None),
    ("order.total > 5 and not true", CheckError, "'not true' is always false, so the rule could never fire", 21,
     None),
    ("5 > 3", CheckError, "comparing two constants: the rule would never depend on the facts", 3, None),
    ("order.total / 0 > 1", CheckError, "division by zero", 13, None),
    # syntax
    ("", ExpressionError, "the expression is empty", 1, None),
    ("order.total >", ExpressionError, "expected a value, a fact name or '(' but found 'end of expression'", 14, None),
    ("(order.total > 5", ExpressionError, "expected ')' but found 'end of expression'", 17, None),
    ("order.total > 5)", ExpressionError, "unexpected ')'", 16, None),
    ("order.total > 5 customer", ExpressionError, "unexpected 'customer'", 17, None),
    ("order.total > 5 @ 3", ExpressionError, "unexpected character '@'", 17, None),
]


@pytest.mark.parametrize(("text", "error", "message", "column", "suggestion"), ERRORS,
                         ids=[e[0] or "<empty>" for e in ERRORS])
def test_invalid_condition_is_refused_with_message_column_and_suggestion(
    text: str, error: type[Exception], message: str, column: int, suggestion: str | None,
) -> None:
    with pytest.raises(error) as info:
        compile_when(text)
    exc: Any = info.value
    assert (exc.message, exc.column, getattr(exc, "suggestion", None)) == (message, column, suggestion)
    assert str(exc) == message



@pytest.mark.parametrize("text", ['date("20261231") < order.order_date', 'date("2026-W01-1") < order.order_date'])
def test_a_date_written_other_than_yyyy_mm_dd_is_refused_not_read_as_an_iso_week(text: str) -> None:
    with pytest.raises(CheckError) as info:
        compile_when(text)
    assert info.value.message.endswith("is not a date: write YYYY-MM-DD")

def test_line_facts_need_scope_line_which_makes_them_readable() -> None:
    with pytest.raises(CheckError):
        compile_when("line.qty > 5")
    assert compile_when("line.qty > 5", scope="line") == Compare(
        ">", Ref("line.qty", Kind.number), Const(5, Kind.number))


def test_each_hook_reads_only_its_own_facts() -> None:
    assert compile_when("return.amount > 5000", hook="return_handling") == Compare(
        ">", Ref("return.amount", Kind.number), Const(5000, Kind.number))
    assert compile_when("line.net_unit_price < line.policy_price", scope="line", hook="pricing") == Compare(
        "<", Ref("line.net_unit_price", Kind.number), Ref("line.policy_price", Kind.number))
    with pytest.raises(CheckError, match=re.escape("unknown fact 'order.total' at decision point return_handling")):
        compile_when("order.total > 1", hook="return_handling")


def test_the_parser_never_evaluates_python() -> None:
    with pytest.raises(CheckError, match=re.escape("unknown function '__import__'")):
        compile_when('__import__("os") == 1')
    with pytest.raises(CheckError, match=re.escape("unknown fact 'order.__class__'")):
        compile_when("order.__class__ == 1")


# -- limits (docs/policy-language.md, "Limits") -------------------------------------------------------

def _refusal(text: str) -> tuple[str, int]:
    with pytest.raises((ExpressionError, CheckError)) as info:
        compile_when(text)
    exc: Any = info.value
    return exc.message, exc.column


@pytest.mark.parametrize("depth", [130, 5_000])
def test_parentheses_nested_past_the_limit_are_refused_at_the_first_one_too_deep(depth: int) -> None:
    """130 levels used to exhaust Python's stack: a RecursionError traceback from validate and decide."""
    message, column = _refusal("(" * depth + "order.total > 1" + ")" * depth)
    assert (message, column) == (
        "nested more than 32 levels deep: write the condition flatter, or split it into several rules", 33)


@pytest.mark.parametrize("text", [
    "not " * 40 + "order.guarantee",
    "order.total > " + "-" * 40 + "1",
    "order.total > 1 and " + "[" * 40 + "1" + "]" * 40,
])
def test_not_minus_and_brackets_count_as_nesting_too(text: str) -> None:
    message, _ = _refusal(text)
    assert message.startswith("nested more than 32 levels deep")


@pytest.mark.parametrize("joiner", [" and order.total > ", " or order.total > "])
def test_hundreds_of_chained_conditions_are_refused_not_a_recursion_error(joiner: str) -> None:
    message, column = _refusal("order.total > 1" + "".join(f"{joiner}{i}" for i in range(600)))
    assert message == ("more than 100 operators in one expression: split the rule into several rules, or list values "
                       "with 'in [...]'")
    assert column > 1


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_a_thousand_term_arithmetic_chain_is_refused(op: str) -> None:
    message, _ = _refusal("order.total > " + f" {op} ".join(["order.total"] * 1_000))
    assert message.startswith("more than 100 operators in one expression")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_expressions_at_the_limits_compile_and_match_on_every_backend(backend: str) -> None:
    """The limits sit where both backends still build: a 600-term chain crashed durable's build."""
    nested = "(" * 31 + "order.total > 1" + ")" * 31  # parentheses 31 deep, and the rule's own level
    chain = "order.total * 2 > " + " + ".join(["order.total"] * 99)  # 100 operators: 98 +, 1 *, 1 >
    listed = "customer.id in [" + ", ".join(f'"C-{i}"' for i in range(2_000)) + "]"  # one operator
    dates = 'order.order_date + days(100000) > date("2026-01-01")'
    conds = {name: compile_when(text) for name, text in
             (("nested", nested), ("chain", chain), ("listed", listed), ("dates", dates))}
    stage = Stage("limits", tuple(EngineRule(name, i, "order", cond) for i, (name, cond) in enumerate(conds.items())),
                  VOCAB)
    engine = BACKENDS[backend]([stage])
    try:
        assert {rule for rule, _ in engine.match("limits", FACTS["std"])} == {"nested", "listed", "dates"}
    finally:
        engine.close()


def test_an_expression_longer_than_the_limit_is_refused_before_it_is_read() -> None:
    message, column = _refusal("order.total > 1 or " * 1_100 + "order.total > 1")
    assert message == "an expression of 20,915 characters: at most 20,000; split the rule into several rules"
    assert column == 20_001


def test_a_text_longer_than_the_limit_is_refused_at_its_column() -> None:
    assert _refusal('customer.name == "' + "长" * 1_001 + '"') == (
        "a text of 1,001 characters: at most 1,000 in one expression", 18)
    assert compile_when('customer.name == "' + "长" * 1_000 + '"') == Compare(
        "==", Ref("customer.name", Kind.text), Const("长" * 1_000, Kind.text))


def test_a_text_with_escaped_quotes_still_reads_as_one_text() -> None:
    assert compile_when(r'customer.name == "a\"b\\" and customer.region == ' + "'c\\'d'") == And((
        Compare("==", Ref("customer.name", Kind.text), Const('a"b\\', Kind.text)),
        Compare("==", Ref("customer.region", Kind.text), Const("c'd", Kind.text)),
    ))


@pytest.mark.parametrize("number", ["1000000000000000", "99999999999999999999", "1_000_000_000_000_000.5",
                                    "1" * 40])
def test_a_number_with_more_than_15_digits_before_the_point_is_refused(number: str) -> None:
    assert _refusal(f"order.total > {number}") == (
        f"the number {number} is too large: numbers in a policy have at most 15 digits before the decimal point", 15)


def test_the_largest_number_a_policy_may_write_is_read_exactly() -> None:
    assert compile_when("order.total > 999_999_999_999_999.9999") == Compare(
        ">", Ref("order.total", Kind.number), Const(Decimal("999999999999999.9999"), Kind.number))


@pytest.mark.parametrize("days", ["100001", "99999999999999"])
def test_days_past_the_limit_are_refused_at_load_time(days: str) -> None:
    """days(99999999999999999999) validated and then blocked every decision with an OverflowError."""
    message, column = _refusal(f'order.order_date + days({days}) > date("2026-01-01")')
    assert (message, column) == ("days() takes at most 100,000 days (about 270 years)", 20)


@pytest.mark.parametrize("text", ['order.order_date < date("9999-12-31") + days(1)',
                                  'order.order_date > date("0001-01-01") - days(1)'])
def test_a_constant_date_outside_the_calendar_is_refused(text: str) -> None:
    message, _ = _refusal(text)
    assert message == "the date falls outside the calendar (0001-01-01 to 9999-12-31)"


def test_a_constant_date_computation_is_done_once_at_load_time() -> None:
    assert compile_when('order.order_date < date("2026-12-31") - days(30)') == Compare(
        "<", Ref("order.order_date", Kind.date), Const(date(2026, 12, 1), Kind.date))


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_date_computed_past_9999_is_missing_on_every_backend_not_an_overflow(backend: str) -> None:
    """order_date + a number of days from the facts can leave the calendar: the value is missing, so the
    comparison is false (and its negation too), as for any missing value, on both backends."""
    late = _factset({**ROOT, "order.order_date": date(9999, 12, 1), "order.payment_terms_days": 60})
    conds = {
        "after": compile_when('order.order_date + order.payment_terms_days > date("2026-01-01")'),
        "not-after": compile_when('not (order.order_date + order.payment_terms_days > date("2026-01-01"))'),
        "before": compile_when('order.order_date - order.payment_terms_days < date("9999-12-31")'),
    }
    stage = Stage("dates", tuple(EngineRule(name, i, "order", cond) for i, (name, cond) in enumerate(conds.items())),
                  VOCAB)
    engine = BACKENDS[backend]([stage])
    try:
        assert {rule for rule, _ in engine.match("dates", late)} == {"before"}
    finally:
        engine.close()
