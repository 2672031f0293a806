"""The compiled backend (salesgate/engine/compiled.py, salesgate/policy/codegen.py) matches exactly what the
python backend matches: on random IR conditions in both scopes, on the whole seed policy, and with its
rule index on or off; and a rule it does not compile falls back visibly (``salesgate validate``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import salesgate.policy.codegen as codegen
from fixtures.strategies import order_facts, return_facts
from salesgate import Gate, load_policy, seed_policy_path
from salesgate.cli import cli
from salesgate.engine.compiled import CompiledBackend
from salesgate.engine.python import PythonBackend
from salesgate.facts import FactSet
from salesgate.policy.codegen import compile_stages
from salesgate.policy.ir import And, Compare, Cond, Const, Kind, Or, Quantified, Ref
from salesgate.policy.stages import EngineRule, Stage
from salesgate.vocabulary import VOCABULARY
from test_differential import DATES, conditions, days, factsets

VOCAB = VOCABULARY["order_approval"]


# -- random conditions, both scopes -----------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(conds=st.lists(st.tuples(conditions, st.sampled_from(["order", "line"])), min_size=1, max_size=5),
       facts=st.lists(factsets, min_size=1, max_size=3))
def test_compiled_matches_exactly_what_the_python_evaluator_matches(conds: list[tuple[Cond, Any]],
                                                                    facts: list[FactSet]) -> None:
    rules = tuple(EngineRule(f"r{i}", i, scope, cond) for i, (cond, scope) in enumerate(conds))
    stage = Stage("generated", rules, VOCAB)
    reference, compiled = PythonBackend([stage]), CompiledBackend([stage])
    indexed = compile_stages([stage], index_from=1).functions["generated"]  # every rule it can index, indexed
    assert compiled.fallbacks == ()
    for factset in facts:
        lined = FactSet(factset.root, tuple({**factset.root, **line} for line in factset.items), factset.item_keys)
        expected = reference.match("generated", lined)
        assert compiled.match("generated", lined) == expected, lined
        assert frozenset(indexed(lined.root, lined.items)) == expected, lined


def test_a_line_rule_reads_each_line_and_an_order_rule_the_order() -> None:
    qty = Ref("line.qty", Kind.number)
    stage = Stage("s", (EngineRule("big-line", 0, "line", Compare(">", qty, Const(10, Kind.number))),
                        EngineRule("any-big", 1, "order", Quantified("any", "order.lines",
                                                                     Compare(">", Ref("line.qty", Kind.number, True),
                                                                             Const(10, Kind.number))))), VOCAB)
    lines = [{"line.qty": 5}, {"line.qty": 50}, {"line.qty": None}]
    root = {"order.lines": lines}
    facts = FactSet(root, tuple({**root, **line} for line in lines), (1, 2, 3))
    assert CompiledBackend([stage]).match("s", facts) == {("big-line", 1), ("any-big", None)}


# -- the seed policy ---------------------------------------------------------------------------------

def test_the_seed_policy_compiles_without_a_fallback() -> None:
    assert compile_stages(load_policy(seed_policy_path()).stages()).fallbacks == ()


@pytest.fixture(scope="module")
def gates() -> Any:
    python_gate = Gate.default(backend="python", entry_points=False)
    compiled_gate = Gate.default(backend="compiled", entry_points=False)
    yield python_gate, compiled_gate
    python_gate.close()
    compiled_gate.close()


def _same(a: Any, b: Any) -> None:
    assert a.model_dump(mode="json", exclude={"backend"}) == b.model_dump(mode="json", exclude={"backend"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=order_facts(), hook=st.sampled_from(["order_approval", "credit_check", "pricing"]), as_of=days)
def test_seed_policy_decides_orders_identically_on_compiled_and_python(gates: Any, facts: Any, hook: Any,
                                                                       as_of: date) -> None:
    python_gate, compiled_gate = gates
    _same(python_gate.decide(hook, facts, as_of=as_of), compiled_gate.decide(hook, facts, as_of=as_of))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=return_facts())
def test_seed_policy_decides_returns_identically_on_compiled_and_python(gates: Any, facts: Any) -> None:
    python_gate, compiled_gate = gates
    _same(python_gate.handle_return(facts), compiled_gate.handle_return(facts))


# -- the rule index ----------------------------------------------------------------------------------

REGIONS = ["华东", "north", "south", "", "west'", "x\ny"]
GRADES = ["A", "B", "C"]
TOTAL = Ref("order.total", Kind.number)
REGION = Ref("customer.region", Kind.text)
GRADE = Ref("customer.grade", Kind.text)
TODAY = Ref("today", Kind.date)
bound = st.one_of(st.integers(-50, 250), st.decimals(min_value=-50, max_value=250, places=1))


def _row(draw: st.DrawFn) -> Cond:
    """A decision table row's condition: cells on a text fact (one value, a list, or any) and a range of a
    number and a date (either end open, closed or missing), joined with and; sometimes not indexable."""
    parts: list[Cond] = []
    region = draw(st.sampled_from(["one", "list", "long-list", "any"]))
    if region == "one":
        parts.append(Compare("==", REGION, Const(draw(st.sampled_from(REGIONS)), Kind.text)))
    elif region != "any":
        chosen = draw(st.lists(st.sampled_from(REGIONS), min_size=2, max_size=len(REGIONS), unique=True))
        values = chosen if region == "list" else chosen + [f"R{i}" for i in range(8)]
        parts.append(Or(tuple(Compare("==", REGION, Const(v, Kind.text)) for v in values)))
    if draw(st.booleans()):
        parts.append(Compare("==", GRADE, Const(draw(st.sampled_from(GRADES)), Kind.text)))
    for ref, values in ((TOTAL, bound), (TODAY, DATES)):
        for op in draw(st.lists(st.sampled_from(["<", "<=", ">", ">="]), max_size=2)):
            parts.append(Compare(op, ref, Const(draw(values), ref.kind)))
    if draw(st.integers(0, 9)) == 0:  # a rule no index can narrow: always a candidate
        parts = [Or((Compare("!=", GRADE, Const("A", Kind.text)), Compare("<", TOTAL, Const(0, Kind.number))))]
    if not parts:
        parts.append(Compare(">=", TOTAL, Const(draw(bound), Kind.number)))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


rows = st.composite(_row)()
table_facts = st.builds(
    lambda total, region, grade, today: FactSet({"order.total": total, "customer.region": region,
                                                 "customer.grade": grade, "today": today}),
    st.one_of(st.none(), bound, st.sampled_from([Decimal("100.00"), Decimal("1E+2"), 100])),
    st.one_of(st.none(), st.sampled_from([*REGIONS, "R3", "nowhere"])),
    st.one_of(st.none(), st.sampled_from(GRADES)), st.one_of(st.none(), DATES))


@settings(max_examples=150, deadline=None)
@given(conds=st.lists(rows, min_size=1, max_size=60), facts=st.lists(table_facts, min_size=1, max_size=8))
def test_the_rule_index_matches_what_testing_every_rule_matches(conds: list[Cond], facts: list[FactSet]) -> None:
    stage = Stage("table", tuple(EngineRule(f"row-{i}", i, "order", c) for i, c in enumerate(conds)), VOCAB)
    indexed = compile_stages([stage], index_from=1)
    plain = compile_stages([stage], index=False)
    reference = PythonBackend([stage])
    for factset in facts:
        expected = reference.match("table", factset)
        assert frozenset(indexed.functions["table"](factset.root, ())) == expected, factset
        assert frozenset(plain.functions["table"](factset.root, ())) == expected, factset


@settings(max_examples=60, deadline=None)
@given(conds=st.lists(rows, min_size=1, max_size=30), facts=st.lists(table_facts, min_size=1, max_size=4))
def test_line_rules_are_indexed_per_line_with_the_same_matches(conds: list[Cond], facts: list[FactSet]) -> None:
    stage = Stage("table", tuple(EngineRule(f"row-{i}", i, "line", c) for i, c in enumerate(conds)), VOCAB)
    indexed = compile_stages([stage], index_from=1).functions["table"]
    reference = PythonBackend([stage])
    items = tuple(f.root for f in facts)
    lined = FactSet({}, items, tuple(range(len(items))))
    assert frozenset(indexed({}, items)) == reference.match("table", lined)


TABLE = """\
ruleset: discounts
hook: order_approval
version: '1'
table:
  hit: collect
  inputs: [customer.grade, order.total]
  rows:
{rows}"""


def test_a_large_decision_table_is_indexed_and_decides_as_the_python_backend(tmp_path: Path) -> None:
    rows = "".join(f'    - {{id: r{i}, customer.grade: "{g}", order.total: "[{i * 1000}..{(i + 1) * 1000})", '
                   f'warn: row {i}}}\n' for i in range(40) for g in ("A", "B")[i % 2:i % 2 + 1])
    (tmp_path / "policy.yaml").write_text("name: t\nversion: '1'\nroles: [sales_rep, sales_manager]\n",
                                          encoding="utf-8")
    (tmp_path / "table.yaml").write_text(TABLE.format(rows=rows), encoding="utf-8")
    policy = load_policy(tmp_path)
    compiled = compile_stages(policy.stages())
    assert compiled.fallbacks == ()
    assert "ranged(" in compiled.sources["order_approval"]
    with Gate(policy, backend="python", entry_points=False) as python_gate, \
            Gate(policy, backend="compiled", entry_points=False) as compiled_gate:
        for total, grade in [("0", "A"), ("999.99", "A"), ("1000", "B"), ("25500", "B"), ("39999", "B"),
                             ("40000", "A"), ("5000", "C")]:
            order = {"order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-23",
                               "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": total}]},
                     "customer": {"id": "C1", "name": "c", "grade": grade}}
            one, other = python_gate.decide("order_approval", order), compiled_gate.decide("order_approval", order)
            assert one.fired == other.fired
            _same(one, other)


# -- fallbacks, visible --------------------------------------------------------------------------------

def test_a_rule_the_generator_does_not_handle_runs_on_the_evaluator_and_validate_names_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = codegen.unsupported

    def no_quantifiers(cond: Cond) -> str | None:
        found = isinstance(cond, Quantified) or (isinstance(cond, And | Or) and any(
            isinstance(c, Quantified) for c in cond.items))
        return "condition Quantified (refused by this test)" if found else real(cond)

    monkeypatch.setattr(codegen, "unsupported", no_quantifiers)
    stages = load_policy(seed_policy_path()).stages()
    backend = CompiledBackend(stages)
    fallen = {f.rule for f in backend.fallbacks}
    assert fallen == {"short-of-stock", "made-lines-to-production", "bought-lines-to-purchasing"}
    lines = [{"line.qty": 5, "line.product.stock": 1, "line.product.make_or_buy": "make"}]
    root = {"order.lines": lines}
    facts = FactSet(root, tuple({**root, **line} for line in lines), (1,))
    assert backend.match("order_approval", facts) == PythonBackend(stages).match("order_approval", facts)

    result = CliRunner().invoke(cli, ["validate", str(seed_policy_path())])
    assert result.exit_code == 0, result.output
    assert "compiled backend: 3 rules run on the evaluator instead of generated code" in result.output
    assert "  rule short-of-stock (order_approval): condition Quantified (refused by this test)" in result.output


def test_validate_says_nothing_of_the_compiled_backend_when_every_rule_compiles() -> None:
    result = CliRunner().invoke(cli, ["validate", str(seed_policy_path())])
    assert result.exit_code == 0, result.output
    assert "compiled backend" not in result.output


def test_nested_ranges_too_costly_to_index_keep_their_tests_and_match_alike() -> None:
    """``total >= i`` for 300 values of ``i`` would put 45,000 entries in a range index: those rules are all
    candidates of their dict entry, and each is tested on its range."""
    conds = [And((Compare("==", REGION, Const("north", Kind.text)), Compare(">=", TOTAL, Const(i, Kind.number))))
             for i in range(300)]
    stage = Stage("nested", tuple(EngineRule(f"r{i}", i, "order", c) for i, c in enumerate(conds)), VOCAB)
    compiled = compile_stages([stage])
    assert "ranged(" in compiled.sources["nested"]
    reference = PythonBackend([stage])
    for total in (None, -1, 0, 150, Decimal("150.5"), 299, 1000):
        for region in ("north", "south", None):
            factset = FactSet({"order.total": total, "customer.region": region})
            assert frozenset(compiled.functions["nested"](factset.root, ())) == reference.match("nested", factset)
