"""Probes of the compiled backend (salesgate/policy/codegen.py) against the python backend: conditions at the
language's limits, hostile texts, huge ``in`` lists, a reload while threads decide. Each decides alike on both
backends and never raises; a rule the generator cannot compile falls back alone, visibly."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from salesgate import Gate, Policy, load_policy
from salesgate.cli import cli
from salesgate.policy.codegen import compile_stages

POLICY_YAML = 'name: probes\nversion: "1"\nroles: [sales_rep, sales_manager, finance, general_manager]\n'


def _policy(root: Path, rules: list[dict[str, Any]], table: dict[str, Any] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "policy.yaml").write_text(POLICY_YAML, encoding="utf-8")
    document = {"ruleset": "probes", "hook": "order_approval", "version": "1", "rules": rules}
    (root / "rules.yaml").write_text(yaml.safe_dump(document, allow_unicode=True, width=10**9), encoding="utf-8")
    if table is not None:
        document = {"ruleset": "table", "hook": "order_approval", "version": "1", "table": table}
        (root / "table.yaml").write_text(yaml.safe_dump(document, allow_unicode=True, width=10**9), encoding="utf-8")
    return root


def _order(total: str = "100", *, region: str | None = "华东", grade: str = "B",
           lines: list[dict[str, Any]] | None = None, draft_term_days: int | None = None) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-12-01",
                  "lines": lines or [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": total}]},
        "customer": {"id": "C1", "name": "华东机电", "grade": grade, "credit_limit": "10000000"}}
    if region is not None:
        order["customer"]["region"] = region
    if draft_term_days is not None:
        order["order"].update(payment_method="bank_acceptance_draft", draft_term_days=draft_term_days)
    return order


def _dump(decision: Any) -> Any:
    return decision.model_dump(mode="json", exclude={"backend"})


def _decide_alike(policy: Policy, orders: list[dict[str, Any]]) -> list[Any]:
    with Gate(policy, backend="python", entry_points=False) as python_gate, \
            Gate(policy, backend="compiled", entry_points=False) as compiled_gate:
        decided = [_dump(python_gate.decide("order_approval", order)) for order in orders]
        assert [_dump(compiled_gate.decide("order_approval", order)) for order in orders] == decided
    return decided


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- nesting at the language's limits ---------------------------------------------------------------

DEEP = {
    "sum-chain": " + ".join(["order.total"] * 100) + " > 500",
    "difference-chain": " - ".join(["order.total"] * 100) + " < 0",
    "optional-chain": " + ".join(["order.draft_term_days"] * 80) + " > 5",
    "chain-in-any": "any(" + " + ".join(["line.qty"] * 99) + " > 5 for line in order.lines)",
}


def test_a_rule_nested_too_deep_for_the_parser_falls_back_alone_and_decides_alike(tmp_path: Path) -> None:
    """99 ``+`` (within the 100 operators an expression may hold) nest the generated code past Python's 200
    parentheses: that rule runs on the evaluator, named by validate; the rest of its stage stays compiled."""
    rules = [{"id": name, "when": expr, "then": {"warn": name}} for name, expr in DEEP.items()]
    rules.append({"id": "plain", "when": "order.total > 50", "then": {"warn": "plain"}})
    root = _policy(tmp_path / "p", rules)
    policy = load_policy(root)
    compiled = compile_stages(policy.stages())
    assert {fallback.rule for fallback in compiled.fallbacks} == set(DEEP)
    assert "order_approval" in compiled.sources  # the stage's own module compiled
    assert all("nests too deep for Python's parser" in fallback.reason for fallback in compiled.fallbacks)
    decided = _decide_alike(policy, [_order("1"), _order("100"), _order("100", draft_term_days=0),
                                     _order("3", draft_term_days=3)])
    assert {reason["rule"] for reason in decided[1]["reasons"]} == {*DEEP.keys() - {"optional-chain"}, "plain"}
    result = CliRunner().invoke(cli, ["validate", str(root)])
    assert result.exit_code == 0, result.output
    assert f"compiled backend: {len(DEEP)} rules run on the evaluator instead of generated code" in result.output
    assert "rule plain" not in result.output


def test_nested_calls_and_parentheses_at_the_limit_compile_and_decide_alike(tmp_path: Path) -> None:
    rules = [
        {"id": "calls", "when": "month_end(" * 31 + "order.order_date" + ")" * 31 + ' > date("2026-01-01")',
         "then": {"warn": "calls"}},
        {"id": "parens", "when": "(" * 31 + "order.total > 5" + ")" * 31, "then": {"warn": "parens"}},
        {"id": "and-or", "when": "".join(f"(order.total > {i} or (order.total < {i} and " for i in range(15))
         + "order.total > 1" + "))" * 15, "then": {"warn": "and-or"}},
        {"id": "divisions", "when": " / ".join(["order.total"] * 60) + " > 0", "then": {"warn": "divisions"}},
    ]
    policy = load_policy(_policy(tmp_path / "p", rules))
    assert compile_stages(policy.stages()).fallbacks == ()
    _decide_alike(policy, [_order("1"), _order("100"), _order("0.5")])


# -- hostile texts and huge lists ------------------------------------------------------------------------

HOSTILE = ['"""', "'''", "\\", '"', '__import__("os").system("id")', "华东", "😀👍🏽", "a\u200bb", "\u202e",
           "x" * 1000, "\t", "\\n", "\n", "#", "{0}", "%s", "k0", "root", ")); import os; (("]


def test_hostile_texts_and_huge_in_lists_decide_alike(tmp_path: Path) -> None:
    rules: list[dict[str, Any]] = [
        {"id": f"规则-{i}", "when": f"customer.region == {_lit(text)} or contains(customer.name, {_lit(text)})",
         "then": {"warn": text}} for i, text in enumerate(HOSTILE)]
    values = ", ".join(_lit(f"v{i}") for i in range(300))
    numbers = ", ".join(str(i) for i in range(600))
    rules += [
        {"id": "big-in", "when": f'customer.region in [{values}, "华东"]', "then": {"warn": "in"}},
        {"id": "big-not-in", "when": f"customer.region not in [{values}]", "then": {"warn": "not in"}},
        {"id": "numbers", "scope": "line", "when": f"line.qty in [{numbers}]", "then": {"warn": "numbers"}},
        {"id": "doubled", "scope": "line", "when": f"line.qty * 2 in [{numbers}]", "then": {"warn": "doubled"}},
    ]
    policy = load_policy(_policy(tmp_path / "p", rules))
    assert compile_stages(policy.stages()).fallbacks == ()
    orders = []
    for region in [*HOSTILE, "v77", "v299", "zzz", None]:
        order = _order(region=region, lines=[{"line_no": 1, "sku": "P1", "qty": 77, "unit_price": "1"}])
        order["customer"]["name"] = "n" + (region or "")
        orders.append(order)
    decided = _decide_alike(policy, orders)
    assert {reason["rule"] for reason in decided[0]["reasons"]} == {"规则-0", "规则-3", "big-not-in", "numbers",
                                                                    "doubled"}


# -- a reload while threads decide ----------------------------------------------------------------------

def _reloadable(root: Path, tag: str, share: int) -> Policy:
    rows = [{"id": f"{tag}-row-{i}", "customer.grade": "ABC"[i % 3], "order.total": f"[{i * 100}..{(i + 1) * 100})",
             "warn": f"{tag} {i}"} for i in range(60)]
    rules = [{"id": f"{tag}-share", "scope": "line",
              "when": f"line.amount > sum(l.amount for l in order.lines) / {share}", "then": {"warn": tag}},
             {"id": f"{tag}-twice", "scope": "line", "when": "count(l for l in order.lines if l.sku == line.sku) > 1",
              "then": {"warn": "twice"}}]
    table = {"hit": "first", "scope": "line", "inputs": ["customer.grade", "order.total"], "rows": rows}
    return load_policy(_policy(root, rules, table))


def test_decisions_in_threads_during_reloads_match_the_python_backend_of_their_policy(tmp_path: Path) -> None:
    first, second = _reloadable(tmp_path / "a", "a", 2), _reloadable(tmp_path / "b", "b", 3)
    draw = random.Random(14)  # noqa: S311 - reproducible orders, not secrets
    orders = [_order(grade=draw.choice("ABC"), lines=[
        {"line_no": j + 1, "sku": draw.choice(["P1", "P2", "P3"]), "qty": draw.randint(1, 20),
         "unit_price": str(draw.randint(1, 600))} for j in range(draw.choice([1, 2, 5, 30]))]) for _ in range(60)]
    expected = {}
    for policy in (first, second):
        with Gate(policy, backend="python", entry_points=False) as gate:
            expected[policy.hash] = [_dump(gate.decide("order_approval", order)) for order in orders]
    problems: list[str] = []
    stop = threading.Event()
    with Gate(first, backend="compiled", entry_points=False) as gate:
        def decide(seed: int) -> None:
            choose = random.Random(seed)  # noqa: S311 - not secrets
            while not stop.is_set():
                at = choose.randrange(len(orders))
                try:
                    decision = gate.decide("order_approval", orders[at])
                    if _dump(decision) != expected[decision.policy.hash][at]:
                        problems.append(f"order {at} decided otherwise")
                except Exception as exc:
                    problems.append(repr(exc))
        threads = [threading.Thread(target=decide, args=(seed,)) for seed in range(6)]
        for thread in threads:
            thread.start()
        for swap in range(10):
            gate.replace_policy(second if swap % 2 == 0 else first)
            stop.wait(0.02)
        stop.set()
        for thread in threads:
            thread.join()
    assert problems == []
