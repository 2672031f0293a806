"""YAML test cases at a declared decision point: the seed policy's shipment_release (points/shipment_release.yaml).

A case names the point like a built-in one; its facts are checked against the point's declared document
when the file loads, and ``expect.outputs`` checks the outputs the point declares (then: set:).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from salesgate import Gate, PolicyError, load_policy
from salesgate.policy.testcases import load_cases, run_case
from salesgate.seed import seed_policy_path

HEAD = """\
hook: shipment_release
base:
  customer: { id: C1, name: 华南五金贸易有限公司, credit_limit: 100000 }
  exposure: { open_receivables: 0, open_orders: 10000, overdue_amount: 0, max_overdue_days: 0 }
  shipment:
    id: SN-1
    customer_id: C1
    order_id: SO-1
    order_approved: true
    order_closed: false
    order_approved_by_gm: true
    price_confirmed: true
    credit_confirmed: true
    payment_confirmed: true
    notice_signed_by_gm: false
    warehouse_checked: true
    over_delivery_allowed: false
    amount: 10000
    approved_amount: 10000
    approval_age_days: 1
    credit_rating_at_approval: good
    customer_pickup: false
    freight_price_told: true
    lines: [ { line_no: 1, sku: P1, qty: 10, ordered_qty: 10, already_shipped_qty: 0 } ]
cases:
"""


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A copy of the seed policy whose only test file is the one each test writes."""
    directory = Path(shutil.copytree(seed_policy_path(), tmp_path / "rules"))
    shutil.rmtree(directory / "tests")
    (directory / "tests").mkdir()
    return directory


def write(directory: Path, cases: str) -> Path:
    path = directory / "tests" / "cases.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(cases), "  "), encoding="utf-8")
    return path


def problems(directory: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_cases(directory)
    return [str(p) for p in caught.value.problems]


def test_a_case_at_a_declared_point_runs_and_checks_its_outputs(policy_dir: Path) -> None:
    write(policy_dir, """\
        - name: ships
          expect: { outcome: allow, outputs: { freight_terms: collect }, fired: [freight-collect] }
        - name: pickup expected but collect set
          expect: { outputs: { freight_terms: pickup } }
        - name: no freight terms expected but collect set
          expect: { outputs: { freight_terms: null } }
        """)
    cases = load_cases(policy_dir)
    assert [case.hook for case in cases] == ["shipment_release"] * 3
    gate = Gate(load_policy(policy_dir), backend="python")
    results = [run_case(gate, case) for case in cases]
    assert results[0].passed, results[0].failures
    assert results[1].failures == ["outputs.freight_terms: expected pickup, got collect"]
    assert results[2].failures == ["outputs.freight_terms: expected none, got collect"]


def test_an_output_the_point_does_not_declare_is_refused_with_a_suggestion(policy_dir: Path) -> None:
    write(policy_dir, """\
        - name: typo
          expect: { outputs: { freight_term: collect } }
        """)
    [problem] = problems(policy_dir)
    assert "cases.yaml:27, field 'expect'" in problem
    assert "shipment_release has no output 'freight_term': it declares freight_terms" in problem
    assert "did you mean 'freight_terms'?" in problem


def test_an_output_value_of_the_wrong_type_is_refused(policy_dir: Path) -> None:
    write(policy_dir, """\
        - name: not a choice
          expect: { outputs: { freight_terms: cod } }
        """)
    [problem] = problems(policy_dir)
    assert "expect.outputs.freight_terms:" in problem
    assert "'pickup', 'prepaid' or 'collect'" in problem
    assert "(output of type enum)" in problem


def test_an_unknown_point_names_the_policys_points(policy_dir: Path) -> None:
    write(policy_dir, """\
        - name: misspelt point
          hook: shipment_releese
          expect: { outcome: allow }
        """)
    [problem] = problems(policy_dir)
    assert "unknown decision point 'shipment_releese'" in problem
    assert "shipment_release" in problem.split("decides at", 1)[1]
    assert "did you mean 'shipment_release'?" in problem


def test_facts_are_checked_against_the_declared_document(policy_dir: Path) -> None:
    write(policy_dir, """\
        - name: undeclared field
          facts: { shipment: { carrier: SF Express } }
          expect: { outcome: allow }
        - name: wrong type
          facts: { shipment: { approval_age_days: soon } }
          expect: { outcome: allow }
        """)
    found = problems(policy_dir)
    assert len(found) == 2
    assert "case 'undeclared field': invalid shipment_release facts" in found[0]
    assert "shipment.carrier" in found[0]
    assert "case 'wrong type': invalid shipment_release facts" in found[1]
    assert "shipment.approval_age_days" in found[1]
