"""The language's functions, aggregates, text functions and lookups in everything a policy owner runs:
YAML test cases and their coverage (``salesgate test``) on both backends, explanations in the trace,
and ``salesgate simulate`` (a changed figure in a lookup table is a changed policy)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from salesgate.cli import cli
from salesgate.simulation import simulate

POLICY_YAML = "name: language\nversion: '1'\nroles: [sales_rep, sales_manager, finance, general_manager]\n"
RULES = """\
ruleset: language
hook: order_approval
version: '1'
rules:
  - id: weekend-order
    when: weekday(order.order_date) >= 6
    then: { warn: weekend }
  - id: region-limit
    when: order.total > lookup("region_limits", customer.region, "limit")
    then: { require: [sales_manager], message: over the region's limit }
  - id: many-discounted-lines
    when: count(line for line in order.lines if line.discount > 0) >= 2
    then: { warn: many discounted lines }
  - id: rush
    when: contains(order.special_requirements, "加急") or matches(order.special_requirements, "(?i)\\\\brush\\\\b")
    then: { warn: rush }
"""
CASES = """\
point: order_approval
base:
  customer: { id: C1, name: 华东机电有限公司, region: 华东, credit_limit: 10000000 }
  products: [ { sku: P1, list_price: 100, cost: 50, stock: 1000 } ]
  order:
    id: SO-1
    customer_id: C1
    order_date: 2026-11-23
    lines: [ { line_no: 1, sku: P1, qty: 10, unit_price: 100 } ]
cases:
  - name: a Monday order under its region's limit passes
    expect: { outcome: allow, not_fired: [weekend-order, region-limit, many-discounted-lines, rush] }
  - name: a Saturday order warns
    facts: { order: { order_date: 2026-11-28 } }
    expect: { outcome: warn, fired: [weekend-order] }
  - name: above the region's limit needs the manager
    facts: { order: { lines: [ { line_no: 1, sku: P1, qty: 100, unit_price: 100 } ] } }
    expect: { outcome: require_approval, approvals: [sales_manager], fired: [region-limit] }
  - name: a region not in the table has no limit to pass
    facts:
      customer: { region: 东北 }
      order: { lines: [ { line_no: 1, sku: P1, qty: 1000, unit_price: 100 } ] }
    expect: { outcome: allow, not_fired: [region-limit] }
  - name: two discounted lines warn
    facts:
      order:
        lines:
          - { line_no: 1, sku: P1, qty: 1, unit_price: 100, discount: 0.05 }
          - { line_no: 2, sku: P1, qty: 1, unit_price: 100, discount: 0.1 }
    expect: { outcome: warn, fired: [many-discounted-lines] }
  - name: a rush request warns, in Chinese or in English
    facts: { order: { special_requirements: "Please RUSH this" } }
    expect: { outcome: warn, fired: [rush] }
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    root = tmp_path / "policy"
    (root / "tests").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "policy.yaml").write_text(POLICY_YAML, encoding="utf-8")
    (root / "language.yaml").write_text(RULES, encoding="utf-8")
    (root / "tests" / "language.yaml").write_text(CASES, encoding="utf-8")
    (root / "data" / "region_limits.csv").write_text("region:text,limit:money\n华东,5000\n华南,3000\n",
                                                     encoding="utf-8")
    return root


@pytest.mark.parametrize("backend", ["python", "durable", "compiled"])
def test_the_test_cases_pass_and_cover_every_rule_on_every_backend(policy: Path, backend: str) -> None:
    result = CliRunner().invoke(cli, ["test", str(policy), "--backend", backend, "--require-coverage"])
    assert result.exit_code == 0, result.output
    assert "coverage: every rule (4) fired in a passing case" in result.stdout


def test_a_failing_case_explains_the_function_aggregate_and_lookup_that_decided(policy: Path) -> None:
    cases = policy / "tests" / "language.yaml"
    cases.write_text(cases.read_text(encoding="utf-8").replace(
        "expect: { outcome: allow, not_fired: [weekend-order, region-limit, many-discounted-lines, rush] }",
        "expect: { outcome: allow, fired: [region-limit, many-discounted-lines] }"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["test", str(policy), "--backend", "python", "--json"])
    assert result.exit_code == 1
    data: Any = json.loads(result.output)
    text = json.dumps(data, ensure_ascii=False)
    assert 'order.total is 1,000, not > lookup(\\"region_limits\\", customer.region, \\"limit\\") (5,000)' in text
    assert "count(line for line in order.lines if line.discount > 0) is 0, not ≥ 2" in text


def test_simulate_replays_a_changed_lookup_figure_as_a_changed_policy(policy: Path, tmp_path: Path) -> None:
    candidate = tmp_path / "candidate"
    shutil.copytree(policy, candidate)
    (candidate / "data" / "region_limits.csv").write_text("region:text,limit:money\n华东,1500\n华南,3000\n",
                                                          encoding="utf-8")
    history = tmp_path / "history.jsonl"
    orders = []
    for i, total in enumerate(["1000", "2000", "6000"], start=1):
        orders.append({"order": {"id": f"SO-{i}", "customer_id": "C1", "order_date": "2026-11-23",
                                 "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": total}]},
                       "customer": {"id": "C1", "name": "华东机电", "region": "华东", "credit_limit": "10000000"},
                       "products": [{"sku": "P1", "list_price": total, "cost": "1", "stock": 10}]})
    history.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in orders), encoding="utf-8")
    report = simulate(policy, candidate, history, workers=1)
    approval = report.tally.hooks["order_approval"]
    assert report.baseline.hash != report.candidate.hash
    assert (approval.decided, approval.changed) == (3, 1)  # 2,000: under 5,000, over 1,500
    assert [c.subject for c in approval.examples] == ["SO-2"]
