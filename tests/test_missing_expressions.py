"""``== None`` / ``!= None`` on any value expression (docs/policy-language.md, "Missing values"): the max
of no line, a key not in a lookup table, arithmetic on a missing fact; on both backends, under ``not``,
per line, in explanations, in walk_refs and in lint; refused, in plain words, where a value is never missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.language_docs import section_examples, write_rules
from salesgate import Gate, load_policy
from salesgate.policy import expressions
from salesgate.policy.checker import CheckError, Context, check_condition
from salesgate.policy.evaluator import compile_cond, describe_cond
from salesgate.policy.ir import Aggregate, IsNone, Ref, walk_refs
from salesgate.policy.lint import lint_policy
from salesgate.vocabulary import VOCABULARY

BACKENDS = ["python", "durable", "compiled"]
CTX = Context("order_approval", VOCABULARY["order_approval"])
TABLE = "region:text,limit:money,markup:percent\n华东,200000,10%\n西北,50000,\n"
NOT_LISTED = 'lookup("region_limits", customer.region, "limit") == None'


def decide(root: Path, facts: dict, backend: str) -> dict[str, tuple[bool, str | None]]:
    with Gate.from_path(root, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        decision = gate.decide("order_approval", facts, explain=True)
    return {t.rule: (t.fired, t.explanation) for t in decision.trace}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_key_not_in_a_lookup_table_is_caught_with_eq_none_and_explained(tmp_path: Path, backend: str) -> None:
    facts, _ = section_examples("Functions")
    root = write_rules(tmp_path / "policy", [NOT_LISTED, f"not ({NOT_LISTED})"],
                       files={"data/region_limits.csv": TABLE})
    listed = decide(root, facts, backend)
    facts["customer"]["region"] = "东北"
    unlisted = decide(root, facts, backend)
    assert listed == {"r0": (False, 'lookup("region_limits", customer.region, "limit") is 200,000'),
                      "r1": (True, 'lookup("region_limits", customer.region, "limit") is 200,000')}
    assert unlisted == {"r0": (True, 'lookup("region_limits", customer.region, "limit") is missing'),
                        "r1": (False, 'lookup("region_limits", customer.region, "limit") is missing')}


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_max_of_no_line_is_none_and_a_missing_fact_inside_arithmetic_is_named(tmp_path: Path,
                                                                                backend: str) -> None:
    facts, _ = section_examples("Functions")
    root = write_rules(tmp_path / "policy", [
        "max(line.qty for line in order.lines if line.qty > 1000) == None",
        "min(line.qty for line in order.lines) == None",
        "order.draft_term_days * 2 == None",
    ])
    facts["order"].pop("draft_term_days", None)
    assert decide(root, facts, backend) == {
        "r0": (True, "max(line.qty for line in order.lines if line.qty > 1,000) (no line with a value) is missing"),
        "r1": (False, "min(line.qty for line in order.lines) is 5"),
        "r2": (True, "order.draft_term_days is missing"),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_expression_of_each_line_tested_for_none_inside_any_all_and_in_a_line_rule(tmp_path: Path,
                                                                                    backend: str) -> None:
    facts, _ = section_examples("Functions")  # line 3's product is unknown: its line.product.stock is missing
    root = write_rules(tmp_path / "policy", [
        "any(line.qty * line.product.stock == None for line in order.lines)",
        "all(line.qty * line.product.stock != None for line in order.lines)",
        "not all(line.qty * line.product.stock != None for line in order.lines)",
    ])
    (root / "lines.yaml").write_text(
        "ruleset: lines\nhook: order_approval\nversion: '1'\nrules:\n"
        "  - id: no-stock-value\n    scope: line\n"
        "    when: line.qty * line.product.stock == None\n    then: { warn: no stock }\n", encoding="utf-8")
    with Gate.from_path(root, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        decision = gate.decide("order_approval", facts, explain=True)
    assert {(t.rule, t.line_no) for t in decision.trace if t.fired} == {
        ("r0", None), ("r2", None), ("no-stock-value", 3)}


def test_not_flips_the_none_test_of_an_expression_and_walk_refs_reads_inside_it() -> None:
    cond = check_condition(expressions.parse("not (max(line.qty for line in order.lines) != None)"), CTX)
    assert isinstance(cond, IsNone)
    assert isinstance(cond.operand, Aggregate)
    assert not cond.present
    assert describe_cond(cond) == "max(line.qty for line in order.lines) == None"
    assert [r.path for r in walk_refs(cond)] == ["order.lines", "line.qty"]
    test = compile_cond(cond)
    assert test({"order.lines": []}, None) is True
    assert test({"order.lines": [{"line.qty": 3}]}, None) is False
    fact = check_condition(expressions.parse("order.draft_term_days == None"), CTX)
    assert fact == IsNone(Ref("order.draft_term_days", CTX.vocabulary["order.draft_term_days"].kind), present=False)


@pytest.mark.parametrize(("text", "message"), [
    ("order.total == None", "'order.total' is never None; every decision has it"),
    ("sum(line.qty for line in order.lines) == None",
     "sum(...) is never None: over no line it is 0; compare it with 0 instead"),
    ("count(order.lines) != None", "count(...) is never None: over no line it is 0; compare it with 0 instead"),
    ("5 == None", "a constant is never None: compare a fact or an expression with None"),
    ("None == None", "comparing None with None: the rule would never depend on the facts"),
    ("max(line.qty for line in order.lines) > None", "None can only be compared with == or !="),
])
def test_a_none_test_on_a_value_that_is_never_missing_is_refused_in_plain_words(text: str, message: str) -> None:
    with pytest.raises(CheckError) as info:
        check_condition(expressions.parse(text), CTX)
    assert info.value.message == message


def test_lint_reads_a_policy_testing_expressions_for_none_without_a_warning_about_them(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "policy", [NOT_LISTED, "max(line.qty for line in order.lines) == None",
                                             "order.draft_term_days + 1 != None"],
                       files={"data/region_limits.csv": TABLE})
    assert [w for w in lint_policy(load_policy(root)) if w.rule in ("r0", "r1", "r2")] == []
