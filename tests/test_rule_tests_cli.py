"""``salesgate test PATH``: a policy owner runs the cases beside the rules and reads what failed and why.

Exit 0 when every case passes, 1 when one fails (or, with --require-coverage, a rule fires in no
passing case), 2 when the policy or a test file is invalid: one line per problem, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fixtures.mini_policy import write_mini_policy
from salesgate import PolicyError, load_policy
from salesgate.cli import cli
from salesgate.policy.testcases import _money, load_cases
from salesgate.seed import seed_policy_path

ROOT = Path(__file__).resolve().parents[1]



def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["test", *args])


def line_of(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in text)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write_mini_policy(tmp_path / "rules")


def break_case(policy: Path) -> Path:
    """The large-order case now expects a block: a policy owner's wrong expectation."""
    cases = policy / "tests" / "approval.yaml"
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text.replace("expect: { outcome: require_approval, approvals: [general_manager]",
                                  "expect: { outcome: block, approvals: [sales_manager]"), encoding="utf-8")
    return cases


def assert_clean_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.stderr, result.stderr


# -- passing and failing --------------------------------------------------------------------------------


def test_passing_cases_exit_0_and_name_the_rule_no_case_fires(policy: Path) -> None:
    result = run(str(policy), "--backend", "python")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"salesgate test {policy}: policy mini-policy 1 ({result.stdout.split('(')[1].split(')')[0]}), "
        "python backend, 2 cases")
    assert f"{policy / 'tests' / 'approval.yaml'}: 2 passed" in result.stdout
    tiny = line_of(policy / "approval.yaml", "id: tiny-order")
    assert ("coverage: 1 of 2 rules fired in a passing case; no passing case fires this one:\n"
            f"  {policy / 'approval.yaml'}:{tiny}: tiny-order (order_approval)\n") in result.stdout
    assert result.stdout.endswith("ok: 2 passed\n")


def test_case_files_named_in_capitals_are_run_too(policy: Path) -> None:
    """Returns.YAML was silently left out: 'ok' with fewer cases than written."""
    (policy / "tests" / "approval.yaml").rename(policy / "tests" / "Approval.YAML")
    result = run(str(policy), "--backend", "python")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("ok: 2 passed\n")


@pytest.mark.parametrize(("text", "amount"), [("1,013.65", "1013.65"), ("1,000,000", "1000000"), ("12.5", "12.5")])
def test_amounts_in_cases_take_thousands_separators_only_where_they_belong(text: str, amount: str) -> None:
    assert _money(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["1.000,50", "12,5", "1,00"])
def test_amounts_written_the_continental_way_are_refused_not_misread(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected an amount such as 1013\.65 or 1,013\.65"):
        _money(text)


def test_require_coverage_fails_when_a_rule_fires_in_no_case(policy: Path) -> None:
    result = run(str(policy), "--backend", "python", "--require-coverage")
    assert result.exit_code == 1
    assert result.stdout.endswith("FAILED: 2 passed; 1 not covered (--require-coverage)\n")


def test_require_coverage_passes_when_every_rule_fires(policy: Path) -> None:
    cases = policy / "tests" / "approval.yaml"
    cases.write_text(cases.read_text(encoding="utf-8") + """\
  - name: a tiny order warns
    facts: { order: { lines: [ { line_no: 1, sku: P1, qty: 1, unit_price: 50 } ] } }
    expect: { outcome: warn, fired: [tiny-order] }
""", encoding="utf-8")

    result = run(str(policy), "--backend", "python", "--require-coverage")

    assert result.exit_code == 0, result.output
    assert "coverage: every rule (2) fired in a passing case" in result.stdout


@pytest.mark.parametrize("backend", ["python", "durable", "compiled"])
def test_a_failing_case_exits_1_with_expected_and_got_per_field_and_where_to_look(policy: Path, backend: str) -> None:
    cases = break_case(policy)
    case_line = line_of(cases, "name: 大额订单需总经理审批")
    rule_line = line_of(policy / "approval.yaml", "id: large-order")

    result = run(str(policy), "--backend", backend)

    assert result.exit_code == 1, result.output
    assert (f"{cases}:{case_line}: '大额订单需总经理审批' (order_approval) failed:\n"
            "  - outcome: expected block, got require_approval (from large-order: require_approval)\n"
            "  - approvals: expected [sales_manager], got [general_manager]\n"
            f"  rules fired: large-order ({policy / 'approval.yaml'}:{rule_line})\n"
            "  rules not fired: tiny-order\n") in result.stdout
    assert f"{cases}: 1 passed, 1 failed" in result.stdout
    assert result.stdout.endswith("FAILED: 1 passed, 1 failed\n")


def test_an_expected_role_that_is_not_in_the_ladder_gets_a_did_you_mean(policy: Path) -> None:
    cases = policy / "tests" / "approval.yaml"
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text.replace("approvals: [general_manager]", "approvals: [general_manger]"), encoding="utf-8")
    result = run(str(policy), "--backend", "python")
    assert result.exit_code == 1, result.output
    assert ("  - approvals: expected [general_manger], got [general_manager] ('general_manger' is not a role of "
            "the ladder (did you mean 'general_manager'?))\n") in result.stdout


def test_a_rule_that_should_fire_and_did_not_is_explained(policy: Path) -> None:
    cases = policy / "tests" / "approval.yaml"
    cases.write_text(cases.read_text(encoding="utf-8").replace(
        "expect: { outcome: allow, not_fired: [large-order, tiny-order] }",
        "expect: { fired: [large-order] }"), encoding="utf-8")

    result = run(str(policy), "--backend", "python")

    assert result.exit_code == 1
    assert ("  - fired: expected large-order to fire; it did not: order.total is 10,000, not ≥ 100,000 "
            "(fired: none)\n  rules fired: none\n  rules not fired: large-order, tiny-order\n") in result.stdout


def test_k_runs_only_the_matching_cases_and_leaves_coverage_alone(policy: Path) -> None:
    result = run(str(policy), "--backend", "python", "-k", "NORMAL")

    assert result.exit_code == 0, result.output
    assert ", 1 of 2 cases (-k)" in result.stdout.splitlines()[0]
    assert "coverage: not computed, since -k ran only some of the cases" in result.stdout
    assert result.stdout.endswith("ok: 1 passed\n")


def test_k_leaves_out_a_failing_case_it_does_not_match(policy: Path) -> None:
    break_case(policy)
    assert run(str(policy), "--backend", "python", "-k", "normal").exit_code == 0
    assert run(str(policy), "--backend", "python", "-k", "大额").exit_code == 1


def test_verbose_lists_every_case(policy: Path) -> None:
    result = run(str(policy), "--backend", "python", "-v")
    assert "  PASS 大额订单需总经理审批 (line 8)\n  PASS a normal order is allowed (line 11)\n" in result.stdout


def test_json_lists_each_case_with_its_mismatches_and_the_coverage(policy: Path) -> None:
    cases = break_case(policy)

    result = run(str(policy), "--backend", "python", "--json")

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["total"], report["selected"], report["passed"], report["failed"]) == (2, 2, 1, 1)
    assert report["policy"]["name"] == "mini-policy"
    failed = report["cases"][0]
    assert (failed["name"], failed["file"], failed["passed"], failed["fired"]) == (
        "大额订单需总经理审批", str(cases), False, ["large-order"])
    assert failed["mismatches"][0] == {
        "field": "outcome", "expected": "block", "got": "require_approval",
        "message": "outcome: expected block, got require_approval (from large-order: require_approval)",
    }
    # the large-order case failed, and a failing case proves nothing about the rules it fired
    assert [r["rule"] for r in report["coverage"]["uncovered"]] == ["large-order", "tiny-order"]
    assert '"大额订单需总经理审批"' in result.stdout  # UTF-8 as is, not \\u escapes


# -- on the seed policy, both backends ----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["python", "durable", "compiled"])
def test_the_seed_policy_passes_its_own_cases_and_every_rule_is_covered(backend: str) -> None:
    result = run(str(seed_policy_path()), "--backend", backend, "--require-coverage")

    assert result.exit_code == 0, result.output
    cases = load_cases(seed_policy_path(), load_policy(seed_policy_path()))
    assert result.stdout.endswith(f"ok: {len(cases)} passed\n")
    assert "coverage: every rule" in result.stdout


# -- invalid input: exit 2, one clear message ---------------------------------------------------------


def test_an_invalid_policy_exits_2_with_file_line_and_rule(policy: Path) -> None:
    rules = policy / "approval.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("order.total >= 100000", "order.totl >= 100000"),
                     encoding="utf-8")
    result = run(str(policy))
    assert_clean_error(result, f"{rules}:6, rule 'large-order', field 'when': unknown fact 'order.totl'",
                       "(did you mean 'order.total'?)", f"error: policy {policy} is invalid: 1 problem")


def test_an_invalid_test_file_exits_2_with_file_line_and_case(policy: Path) -> None:
    cases = policy / "tests" / "approval.yaml"
    cases.write_text(cases.read_text(encoding="utf-8").replace("outcome: allow", "outcome: allowed"),
                     encoding="utf-8")
    result = run(str(policy))
    assert_clean_error(result, f"{cases}:{line_of(cases, 'outcome: allowed')}", "case 'a normal order is allowed'",
                       f"error: test cases in {policy / 'tests'} are invalid: 1 problem")


def test_a_policy_without_cases_exits_2_and_says_where_they_go(policy: Path) -> None:
    (policy / "tests" / "approval.yaml").unlink()
    assert_clean_error(run(str(policy)), f"error: no test cases in {policy / 'tests'}/*.yaml")


def test_k_matching_nothing_exits_2(policy: Path) -> None:
    assert_clean_error(run(str(policy), "-k", "nothing like this"), "error: no case name contains 'nothing like this'")


def test_require_coverage_with_k_exits_2(policy: Path) -> None:
    assert_clean_error(run(str(policy), "-k", "normal", "--require-coverage"), "--require-coverage needs every case")


def test_a_rule_file_instead_of_the_directory_exits_2_with_a_hint(policy: Path) -> None:
    assert_clean_error(run(str(policy / "approval.yaml")), "is a file: give the policy directory")


def test_a_missing_directory_exits_2(tmp_path: Path) -> None:
    assert_clean_error(run(str(tmp_path / "nowhere")), "no such policy directory or file")


def test_the_installed_command_prints_chinese_intact_through_a_pipe_in_the_c_locale(policy: Path) -> None:
    break_case(policy)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": ""}
    done = subprocess.run([sys.executable, "-m", "salesgate", "test", str(policy), "--backend", "python"],
                          capture_output=True, env=env, check=False, timeout=120)
    output = done.stdout.decode("utf-8")
    assert done.returncode == 1, done.stderr.decode("utf-8", "replace")
    assert "'大额订单需总经理审批' (order_approval) failed:" in output
    assert not re.search(r"\x1b\[", output)  # no colour codes off a terminal


def test_a_backend_that_cannot_start_exits_2_with_a_way_out(policy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from salesgate.commands import test as command

    def no_durable(*args: object, **kwargs: object) -> None:
        raise ImportError("No module named 'durable'")

    monkeypatch.setattr(command, "run_suite", no_durable)
    assert_clean_error(run(str(policy)), "error: the durable backend is not available (No module named 'durable'); "
                                         "try --backend python")


# -- cases at a point the policy declares (tests/fixtures/declared-policy) --------------------------

DECLARED = ROOT / "tests" / "fixtures" / "declared-policy"


@pytest.fixture
def declared(tmp_path: Path) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(DECLARED, target)
    return target


def test_cases_at_a_declared_point_pass_and_its_rules_count_for_coverage() -> None:
    result = run(str(DECLARED), "--backend", "python", "--require-coverage", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    hooks = {case["name"]: case["hook"] for case in report["cases"]}
    assert list(hooks.values()).count("sample_request") == 4
    assert report["coverage"] == {"rules": 7, "covered": 7, "uncovered": []}


def test_an_output_the_decision_does_not_set_as_expected_is_a_diff(declared: Path) -> None:
    cases = declared / "tests" / "samples.yaml"
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text.replace("outputs: {deposit: 20%, freight: prepaid}", "outputs: {deposit: 30%, freight: ~}"),
                     encoding="utf-8")
    result = run(str(declared), "--backend", "python")
    assert result.exit_code == 1, result.output
    assert "  - outputs.deposit: expected 30%, got 20%\n  - outputs.freight: expected none set, got prepaid\n" \
        in result.stdout
    assert "coverage: every rule (7) fired in a passing case" in result.stdout  # big-sample fires in the huge case


def test_a_declared_points_rule_no_passing_case_fires_is_uncovered(declared: Path) -> None:
    cases = declared / "tests" / "samples.yaml"
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text.replace("outputs: {deposit: 0.5, freight: collect}", "outputs: {deposit: 0.4}"),
                     encoding="utf-8")
    result = run(str(declared), "--backend", "python", "--require-coverage")
    assert result.exit_code == 1, result.output
    assert "  - outputs.deposit: expected 40%, got 50%\n" in result.stdout
    assert "coverage: 6 of 7 rules fired in a passing case; no passing case fires this one:\n" \
           f"  {declared / 'samples.yaml'}:8: huge-sample (sample_request)\n" in result.stdout


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ("outputs: {deposit: 20%, freight: prepaid}", "outputs: {deposit: 20%, freigt: prepaid}", 17,
     "expect.outputs: 'freigt' is not an output of sample_request, which declares deposit, freight "
     "(did you mean 'freight'?)"),
    ("outputs: {deposit: 20%, freight: prepaid}", "outputs: {deposit: 20%, freight: air}", 17,
     "expect.outputs: freight: 'air' is not one of collect, prepaid"),
    ("customer: {tenure_years: 1}", "customer: {tenure_yeras: 1}", 20,
     "field 'facts.customer.tenure_yeras': case 'a huge sample for a new customer is blocked; the larger deposit "
     "and collect win': invalid sample_request facts: not a fact salesgate knows (did you mean 'tenure_years'?)"),
    ("sample: {value: 8000}", "sample: {valeu: 8000}", 12,
     "invalid sample_request facts: not a fact salesgate knows (did you mean 'value'?)"),
    ("point: sample_request", "point: sample_requests", 1,
     "unknown decision point 'sample_requests': the policy decides at order_approval, credit_check, pricing, "
     "return_handling, sample_request (did you mean 'sample_request'?)"),
])
def test_a_declared_points_case_file_is_checked_against_the_policy(declared: Path, old: str, new: str, line: int,
                                                                   message: str) -> None:
    cases = declared / "tests" / "samples.yaml"
    text = cases.read_text(encoding="utf-8")
    assert old in text
    cases.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = run(str(declared), "--backend", "python")
    assert_clean_error(result, message, f"{cases}:{line}")


def test_an_output_expected_at_a_built_in_point_is_refused(declared: Path) -> None:
    cases = declared / "tests" / "orders.yaml"
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text.replace("expect: {outcome: allow}", "expect: {outcome: allow, outputs: {deposit: 1}}"),
                     encoding="utf-8")
    assert_clean_error(run(str(declared), "--backend", "python"),
                       "expect.outputs: order_approval declares no outputs")


def test_a_case_needs_the_policy_for_a_declared_point() -> None:
    with pytest.raises(PolicyError, match="a point a policy declares needs the policy"):
        load_cases(DECLARED)
    assert len(load_cases(DECLARED, load_policy(DECLARED))) == 10


def test_the_declared_point_cases_in_the_docs_are_the_fixtures_own() -> None:
    text = (ROOT / "docs" / "testing-rules.md").read_text(encoding="utf-8")
    block = next(b for b in text.split("```yaml\n")[1:] if b.startswith("point: sample_request")).split("```")[0]
    assert (DECLARED / "tests" / "samples.yaml").read_text(encoding="utf-8").startswith(block)


def test_a_running_gate_reloads_a_declared_points_rules_only_when_its_cases_pass(declared: Path) -> None:
    from salesgate import Gate
    from salesgate.reload import PolicyReloader

    with Gate.from_path(declared, backend="python", entry_points=False) as gate:
        reloader = PolicyReloader(gate, declared, settle=0, require_tests=True, require_coverage=True)
        rules = declared / "samples.yaml"
        rules.write_text(rules.read_text(encoding="utf-8").replace("set: {deposit: 20%, freight: prepaid}",
                                                                   "set: {deposit: 30%, freight: prepaid}"),
                         encoding="utf-8")
        refused = reloader.check_now()
        assert refused.status == "rejected", refused
        assert any("outputs.deposit: expected 20%, got 30%" in problem for problem in refused.problems)
        cases = declared / "tests" / "samples.yaml"
        cases.write_text(cases.read_text(encoding="utf-8").replace("outputs: {deposit: 20%, freight: prepaid}",
                                                                   "outputs: {deposit: 30%, freight: prepaid}"),
                         encoding="utf-8")
        taken = reloader.check_now()
        assert taken.status == "reloaded", taken
        assert gate.decide("sample_request", {"sample": {"id": "S-2", "customer_id": "C1", "value": "8000"},
                                              "customer": {"id": "C1", "name": "华东"}}).outputs["deposit"] \
            == Decimal("0.3")
