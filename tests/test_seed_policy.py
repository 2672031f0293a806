"""The seed policy does what its YAML test cases say, on every backend; and the case runner works.

Every case in ``rules/tests/*.yaml`` is one pytest item per backend, named ``file::case name``.
The durable-rules backend joins automatically as soon as ``salesgate.engine.durable`` exists;
under CI (``CI=true``) its absence is a failure, never a skip.
"""

from __future__ import annotations

import importlib.util
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from salesgate import DECISION_POINTS, Gate, PolicyError, Product, load_policy
from salesgate.policy.compiler import Policy
from salesgate.policy.ir import Always
from salesgate.policy.testcases import CaseResult, TestCase, load_cases, run_all, run_case, uncovered_rules
from salesgate.seed import seed_policy_path

SEED = seed_policy_path()
CASES = load_cases(SEED, load_policy(SEED))
UNDER_CI = os.environ.get("CI") == "true"
HAVE_DURABLE = importlib.util.find_spec("salesgate.engine.durable") is not None
# find_spec, not import: a durable module that exists but fails to import must fail these tests.
BACKENDS = ["python", "durable", "compiled"] if HAVE_DURABLE or UNDER_CI else ["python", "compiled"]


@pytest.fixture(scope="module")
def seed_policy() -> Policy:
    return load_policy(SEED)


@pytest.fixture(scope="module", params=BACKENDS)
def gate(request: pytest.FixtureRequest, seed_policy: Policy) -> Iterator[Gate]:
    with Gate(seed_policy, backend=request.param, entry_points=False) as built:
        yield built


@pytest.fixture(scope="module")
def python_gate(seed_policy: Policy) -> Iterator[Gate]:
    with Gate(seed_policy, backend="python", entry_points=False) as built:
        yield built


# -- the seed policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_seed_case(gate: Gate, case: TestCase) -> None:
    result = run_case(gate, case)
    assert result.passed, result.report()


def test_every_seed_rule_fires_in_a_passing_case(gate: Gate) -> None:
    assert uncovered_rules(gate.policy, run_all(gate, CASES)) == []


def test_every_seed_rule_has_a_case_where_it_does_not_fire(seed_policy: Policy) -> None:
    """A rule with a condition has a case on the other side of it; one with ``when: true`` (finance's
    final review of every expense claim) has no other side."""
    negatives = {rule for case in CASES for rule in case.expect.not_fired or ()}
    conditional = [rule for rule in seed_policy.rules if not isinstance(rule.cond, Always)]
    assert [rule.id for rule in conditional if rule.id not in negatives] == []


def test_every_decision_point_of_the_seed_policy_has_seed_cases(seed_policy: Policy) -> None:
    assert sorted({case.hook for case in CASES}) == sorted(seed_policy.points)
    assert set(DECISION_POINTS) < set(seed_policy.points)


def test_seed_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_durable_backend_runs_the_seed_cases() -> None:
    """Reports, visibly, when the seed cases ran on the Python evaluator only."""
    if HAVE_DURABLE:
        assert "durable" in BACKENDS
    elif UNDER_CI:
        pytest.fail("salesgate.engine.durable is missing: CI must run the seed cases on both backends")
    else:
        pytest.skip("salesgate.engine.durable does not exist yet: seed cases ran on the python backend only")


# -- the case runner ---------------------------------------------------------------------------------

ORDER_BASE = """\
hook: order_approval
base:
  customer: { id: C1, name: 华东机电有限公司, credit_limit: 500000 }
  products: [ { sku: P1, name: 电机, list_price: 1000, cost: 600, stock: 1000 } ]
  order:
    id: SO-1
    customer_id: C1
    order_date: 2026-11-02
    lines: [ { line_no: 1, sku: P1, qty: 10, unit_price: 1000 } ]
"""


def write_cases(policy_dir: Path, text: str, name: str = "cases.yaml") -> Path:
    tests = policy_dir / "tests"
    tests.mkdir(exist_ok=True)
    path = tests / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run_one(gate: Gate, policy_dir: Path) -> CaseResult:
    [case] = load_cases(policy_dir)
    return run_case(gate, case)


def test_a_failing_case_reports_each_difference_readably(python_gate: Gate, tmp_path: Path) -> None:
    path = write_cases(tmp_path, ORDER_BASE + """\
cases:
  - name: wrong on purpose
    facts: { order: { lines: [ { line_no: 1, sku: P1, qty: 100, unit_price: 1000 } ] } }
    expect:
      outcome: block
      approvals: [sales_manager]
      fired: [medium-order]
      not_fired: [large-order]
""")
    result = run_one(python_gate, tmp_path)

    assert not result.passed
    assert result.failures == [
        "outcome: expected block, got require_approval (from large-order: require_approval)",
        "approvals: expected [sales_manager], got [sales_manager, general_manager]",
        "fired: expected medium-order to fire; it did not: order.total is 100,000, not < 100,000"
        " (fired: large-order)",
        "not_fired: expected large-order not to fire; it fired: order.total is 100,000, ≥ 100,000",
    ]
    report = result.report()
    assert report.startswith(f"{path}:11: 'wrong on purpose' (order_approval) failed:\n  - outcome: expected block")


def test_a_failing_case_names_the_rules_that_fired_with_their_file_and_line(python_gate: Gate,
                                                                          tmp_path: Path) -> None:
    write_cases(tmp_path, ORDER_BASE + """\
cases:
  - name: wrong on purpose
    facts: { order: { lines: [ { line_no: 1, sku: P1, qty: 100, unit_price: 1000 } ] } }
    expect: { outcome: allow }
""")
    result = run_one(python_gate, tmp_path)
    rules = SEED / "order-approval-ladder.yaml"  # large-order is a row of the approval ladder table
    line = next(i for i, text in enumerate(rules.read_text(encoding="utf-8").splitlines(), 1)
                if "id: large-order" in text)

    fired, not_fired = result.rules()

    assert fired == [f"large-order ({rules}:{line})"]
    assert "medium-order" in not_fired
    assert "large-order" not in not_fired
    assert result.report().endswith(f"  rules fired: {fired[0]}\n  rules not fired: {', '.join(not_fired)}")
    [mismatch] = result.mismatches
    assert (mismatch.field, mismatch.expected, mismatch.got) == ("outcome", "allow", "require_approval")


def test_money_differences_show_every_cent(python_gate: Gate, tmp_path: Path) -> None:
    write_cases(tmp_path, ORDER_BASE.replace("hook: order_approval", "hook: pricing") + """\
cases:
  - name: grade A price off by a cent
    facts: { customer: { grade: A } }
    expect: { prices: { 1: 950.01, 2: 1 } }
""")
    assert run_one(python_gate, tmp_path).failures == [
        "prices: line 1: expected 950.01, got 950.00",
        "prices: line 2: no such line (lines: 1)",
    ]


def test_money_expectations_compare_as_decimals(python_gate: Gate, tmp_path: Path) -> None:
    write_cases(tmp_path, ORDER_BASE.replace("hook: order_approval", "hook: pricing") + """\
cases:
  - name: an integer, a float and a string all mean the same amount
    facts: { customer: { grade: A } }
    expect: { prices: { 1: 950 } }
  - name: float text is read exactly
    facts:
      customer: { grade: A, region_has_distributor: true }
      order: { lines: [ { line_no: 1, sku: P1, qty: 100, unit_price: 2000 } ] }
    expect: { prices: { 1: 1013.65 } }
  - name: string amounts
    facts: { customer: { grade: A } }
    expect: { prices: { 1: "950.00" } }
""")
    results = run_all(python_gate, load_cases(tmp_path))
    assert [r.failures for r in results] == [[], [], []]


def test_credit_and_return_figures_are_compared(python_gate: Gate, tmp_path: Path) -> None:
    write_cases(tmp_path, ORDER_BASE.replace("hook: order_approval", "hook: credit_check\nas_of: 2026-11-06") + """\
cases:
  - name: available credit off by one
    expect: { available: 490001, exposure: 10000 }
""")
    write_cases(tmp_path, """\
hook: return_handling
base:
  customer: { id: C1, name: 西南电子 }
  return: { id: R1, customer_id: C1, reason: not_needed, original_order_id: SO-1, sku: P1, qty: 2,
            unit_price: 1000, delivered_qty: 2, days_since_delivery: 3 }
cases:
  - name: refund before the fee
    expect: { refund: 2000, restocking_fee: 200 }
""", name="returns.yaml")
    by_name = {r.case.name: r.failures for r in run_all(python_gate, load_cases(tmp_path))}
    assert by_name == {
        "available credit off by one": ["available: expected 490,001.00, got 490,000.00"],
        "refund before the fee": ["refund: expected 2,000.00, got 1,800.00"],
    }


def test_notifications_are_compared_as_a_set_of_roles(python_gate: Gate, tmp_path: Path) -> None:
    write_cases(tmp_path, """\
hook: return_handling
base:
  customer: { id: C1, name: 西南电子 }
  return: { id: R1, customer_id: C1, reason: defect, original_order_id: SO-1, sku: P1, qty: 1,
            unit_price: 100, delivered_qty: 1, days_since_delivery: 3 }
cases:
  - name: quick defect return tells the sales manager, not finance
    expect: { notify: [finance] }
""")
    assert run_one(python_gate, tmp_path).failures == ["notify: expected [finance], got [sales_manager]"]


CLAIM_BASE = """\
hook: expense_claim
base:
  claim: { id: BX-1, occurred_on: 2026-11-18, place: 成都, reason: 拜访客户, amount: "5000.01",
           receipts_attached: true, budget_remaining: 5000 }
cases:
"""


def test_the_outputs_of_a_declared_point_are_compared(python_gate: Gate, seed_policy: Policy,
                                                      tmp_path: Path) -> None:
    write_cases(tmp_path, CLAIM_BASE + """\
  - name: over by one cent, as expected
    expect: { outputs: { over_budget_by: "0.01" } }
  - name: over by one cent, expected two
    expect: { outputs: { over_budget_by: 0.02 } }
  - name: within budget, expected over
    facts: { claim: { amount: 5000 } }
    expect: { outputs: { over_budget_by: 0 } }
""")
    results = run_all(python_gate, load_cases(tmp_path, seed_policy))
    assert [r.failures for r in results] == [
        [], ["outputs.over_budget_by: expected 0.02, got 0.01"],
        ["outputs.over_budget_by: expected 0.00, got none set"]]


def test_cases_read_the_declared_facts_of_their_policy(seed_policy: Policy, tmp_path: Path) -> None:
    """A declared fact is a fact of the policy that declares it: without the policy it is refused."""
    text = CASE_HEAD + "    facts: { customer: { tenure_years: 4 } }\n    expect: { outcome: allow }\n"
    write_cases(tmp_path, text)
    [case] = load_cases(tmp_path, seed_policy)
    assert case.facts["customer"]["tenure_years"] == 4
    with pytest.raises(PolicyError, match=r"facts\.customer\.tenure_years"):
        load_cases(tmp_path)


def test_an_unknown_rule_id_is_a_failure_with_a_suggestion(python_gate: Gate, tmp_path: Path) -> None:
    write_cases(tmp_path, ORDER_BASE + """\
cases:
  - name: typo in a rule id
    expect: { fired: [large-ordr] }
""")
    assert run_one(python_gate, tmp_path).failures == [
        "fired: no rule 'large-ordr' at decision point order_approval in policy salesgate-seed-policy"
        " (did you mean 'large-order'?)",
    ]


def test_uncovered_rules_counts_only_passing_cases(python_gate: Gate, tmp_path: Path) -> None:
    write_cases(tmp_path, ORDER_BASE + """\
cases:
  - name: large order, expected wrongly
    facts: { order: { lines: [ { line_no: 1, sku: P1, qty: 100, unit_price: 1000 } ] } }
    expect: { outcome: allow }
  - name: medium order
    facts: { order: { lines: [ { line_no: 1, sku: P1, qty: 20, unit_price: 1000 } ] } }
    expect: { outcome: require_approval }
""")
    results = run_all(python_gate, load_cases(tmp_path))
    uncovered = uncovered_rules(python_gate.policy, results)
    assert "large-order" in uncovered
    assert "medium-order" not in uncovered


def test_base_facts_merge_under_case_facts_and_lists_are_replaced(tmp_path: Path) -> None:
    write_cases(tmp_path, ORDER_BASE + """\
cases:
  - name: override
    hook: pricing
    facts:
      customer: { grade: A }
      order: { lines: [ { line_no: 2, sku: P1, qty: 1, unit_price: 5 } ] }
    expect: { outcome: allow }
""")
    [case] = load_cases(tmp_path)
    assert case.hook == "pricing"
    assert case.facts["customer"] == {"id": "C1", "name": "华东机电有限公司", "credit_limit": 500000, "grade": "A"}
    assert case.facts["order"]["lines"] == [{"line_no": 2, "sku": "P1", "qty": 1, "unit_price": 5}]
    assert case.facts["order"]["id"] == "SO-1"
    assert case.line == 11
    assert case.id == "cases.yaml::override"


def test_a_policy_without_a_tests_directory_has_no_cases(tmp_path: Path) -> None:
    assert load_cases(tmp_path) == []


CASE_HEAD = ORDER_BASE + "cases:\n  - name: a case\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(CASE_HEAD + "    expect: { outcom: allow }\n", 12,
                     "unknown field; expected one of: outcome, approvals", id="unknown-expect-key"),
        pytest.param(CASE_HEAD + "    expext: { outcome: allow }\n", 12,
                     "(did you mean 'expect'?)", id="unknown-case-key"),
        pytest.param(CASE_HEAD + "    expect:\n      outcome: deny\n", 13,
                     "expected one of 'allow', 'warn', 'require_approval', 'block', not 'deny'", id="bad-outcome"),
        pytest.param(CASE_HEAD + "    expect:\n      refund: lots\n", 13,
                     "expected an amount such as 1013.65, got 'lots'", id="bad-money"),
        pytest.param(CASE_HEAD + "    expect:\n      prices: { 1: 950 }\n", 12,
                     "expect.prices is a figure of hook pricing; this case decides order_approval",
                     id="figure-of-another-hook"),
        pytest.param(CASE_HEAD + "    expect: {}\n", 12, "'expect' checks nothing", id="empty-expect"),
        pytest.param(CASE_HEAD + "    expect: { fired: [large-order], not_fired: [large-order] }\n", 12,
                     "large-order listed in both fired and not_fired", id="fired-and-not-fired"),
        pytest.param(CASE_HEAD + "    hook: approvals\n    expect: { outcome: allow }\n", 12,
                     "unknown decision point 'approvals'", id="bad-hook"),
        pytest.param(CASE_HEAD.replace("hook: order_approval\n", "") + "    expect: { outcome: allow }\n", 10,
                     "case 'a case': no hook", id="no-hook"),
        pytest.param(CASE_HEAD + "    facts:\n      order:\n        lines:\n          - { line_no: 1, sku: P1, qty: -5,"
                     " unit_price: 1 }\n    expect: { outcome: allow }\n", 15,
                     "invalid order_approval facts: must be more than 0, not -5", id="invalid-facts"),
        pytest.param(CASE_HEAD + "    facts: { customer: { grade: Z } }\n    expect: { outcome: allow }\n", 12,
                     "field 'facts.customer.grade'", id="invalid-facts-field"),
        pytest.param(CASE_HEAD + "    expect: { outcome: allow }\n  - name: a case\n    expect: { outcome: allow }\n",
                     13, "duplicate case name: also at line 11", id="duplicate-name"),
        pytest.param(CASE_HEAD + "    expect: { outcome: allow\n", 13, "YAML syntax error", id="yaml-syntax"),
        pytest.param("- just a list\n", 1, "a test file must be a mapping", id="not-a-mapping"),
    ],
)
def test_a_malformed_test_file_is_a_policy_error_at_file_line(tmp_path: Path, text: str, line: int,
                                                              message: str) -> None:
    path = write_cases(tmp_path, text)
    with pytest.raises(PolicyError) as raised:
        load_cases(tmp_path)
    problems = raised.value.problems
    assert {p.path for p in problems} == {str(path)}
    located = [str(p) for p in problems if message in str(p)]
    assert located, str(raised.value)
    assert located[0].startswith(f"{path}:{line}"), str(raised.value)


def test_every_problem_in_every_test_file_is_reported_at_once(tmp_path: Path) -> None:
    first = write_cases(tmp_path, CASE_HEAD + "    expect: { outcom: allow }\n", name="a.yaml")
    second = write_cases(tmp_path, CASE_HEAD + "    expect: { outcome: deny }\n", name="b.yaml")
    with pytest.raises(PolicyError) as raised:
        load_cases(tmp_path)
    assert [(p.path, p.line) for p in raised.value.problems] == [(str(first), 12), (str(second), 12)]


def test_a_known_product_always_has_a_list_price() -> None:
    """The seed policy reads ``line.product.list_price == None`` as "this line's product is unknown"
    (docs/policy-language.md): that holds only while the ERP cannot send a product without one."""
    with pytest.raises(ValidationError, match="list_price"):
        Product.model_validate({"sku": "P1", "name": "电机"})
    with pytest.raises(ValidationError, match="list_price"):
        Product.model_validate({"sku": "P1", "list_price": None})
