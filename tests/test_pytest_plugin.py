"""A policy owner's repository runs its YAML cases with plain ``pytest``, through ``salesgate.testing``.

The plugin is opt-in (``-p salesgate.testing``), and collects only the policy directories named by
the ``salesgate_rules`` ini option: each case is an item named after it, located at its file:line,
and a failure is the same readable report ``salesgate test`` prints.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from fixtures.mini_policy import write_mini_policy
from salesgate import load_policy
from salesgate.policy.testcases import load_cases
from salesgate.seed import seed_policy_path

pytest_plugins = ["pytester"]

INI = """\
[pytest]
salesgate_rules = rules
filterwarnings = error
"""


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    """A policy owner's repository: rules/, rules/tests/, a pytest.ini naming the rules."""
    write_mini_policy(pytester.path / "rules")
    (pytester.path / "pytest.ini").write_text(INI, encoding="utf-8")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "salesgate.testing", "-p", "no:cacheprovider", *args)


def edit(pytester: pytest.Pytester, relative: str, old: str, new: str) -> Path:
    path = pytester.path / relative
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_each_case_is_an_item_named_after_it(repo: pytest.Pytester) -> None:
    result = run(repo, "--collect-only", "-q", "--salesgate-backend", "python")
    result.stdout.fnmatch_lines([
        "rules/tests/approval.yaml::大额订单需总经理审批",
        "rules/tests/approval.yaml::a normal order is allowed",
        "2 tests collected*",
    ])


def test_passing_cases_pass_on_the_default_backend(repo: pytest.Pytester) -> None:
    result = run(repo, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["rules/tests/approval.yaml::a normal order is allowed PASSED*"])


def test_a_failing_case_shows_the_case_report_at_its_file_and_line(repo: pytest.Pytester) -> None:
    edit(repo, "rules/tests/approval.yaml", "expect: { outcome: allow,", "expect: { outcome: warn,")

    result = run(repo, "--salesgate-backend", "python")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "rules/tests/approval.yaml:11: 'a normal order is allowed' (order_approval) failed:",
        "  - outcome: expected warn, got allow (no rule fired)",
        "  rules fired: none",
        "  rules not fired: large-order, tiny-order",
        "  (backend: python)",
        "FAILED rules/tests/approval.yaml::a normal order is allowed - *",
    ])
    assert "Traceback" not in result.stdout.str()
    assert "runtest" not in result.stdout.str()


def test_both_backends_run_each_case_as_its_own_item(repo: pytest.Pytester) -> None:
    result = run(repo, "-v", "--salesgate-backend", "python", "--salesgate-backend", "durable",
                 "--salesgate-backend", "compiled")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines_random([
        "*::大额订单需总经理审批?python? PASSED*",
        "*::大额订单需总经理审批?durable? PASSED*",
        "*::大额订单需总经理审批?compiled? PASSED*",
    ])


def test_k_selects_cases_by_name(repo: pytest.Pytester) -> None:
    run(repo, "-k", "normal", "--salesgate-backend", "python").assert_outcomes(passed=1, deselected=1)


def test_coverage_of_the_run_is_summarised_after_it(repo: pytest.Pytester) -> None:
    result = run(repo, "--salesgate-backend", "python")
    result.stdout.fnmatch_lines([
        "*salesgate rule coverage*",
        "rules (python): 1 of 2 rules fire in a passing case; no passing case fires:",
        "  rules/approval.yaml:10: tiny-order (order_approval)",
    ])


def test_required_coverage_is_an_item_that_fails_on_a_rule_no_case_fires(repo: pytest.Pytester) -> None:
    with (repo.path / "pytest.ini").open("a", encoding="utf-8") as ini:
        ini.write("salesgate_require_coverage = true\n")

    result = run(repo, "--salesgate-backend", "python")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED rules/tests/approval.yaml::rule coverage*"])


def test_an_invalid_policy_is_one_collection_error_with_file_and_line(repo: pytest.Pytester) -> None:
    edit(repo, "rules/approval.yaml", "order.total >= 100000", "order.totl >= 100000")

    result = run(repo)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([
        "rules/approval.yaml:6, rule 'large-order', field 'when': unknown fact 'order.totl'*",
        "policy rules is invalid: 1 problem",
    ])
    assert "Traceback" not in result.stdout.str()


def test_an_invalid_test_file_is_a_collection_error_with_file_and_line(repo: pytest.Pytester) -> None:
    edit(repo, "rules/tests/approval.yaml", "outcome: allow", "outcome: allowed")

    result = run(repo)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["rules/tests/approval.yaml:12, field 'cases.1.expect.outcome': "
                                 "case 'a normal order is allowed'*"])


def test_an_unknown_backend_is_a_usage_error(repo: pytest.Pytester) -> None:
    with (repo.path / "pytest.ini").open("a", encoding="utf-8") as ini:
        ini.write("salesgate_backends = drools\n")
    result = run(repo)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*salesgate_backends: unknown backend 'drools'*"])


def test_without_salesgate_rules_the_plugin_collects_no_yaml(repo: pytest.Pytester) -> None:
    (repo.path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n", encoding="utf-8")
    result = run(repo)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_python_tests_of_the_repository_still_run_beside_the_cases(repo: pytest.Pytester) -> None:
    repo.makepyfile(test_other="def test_other():\n    assert True\n")
    run(repo, "--salesgate-backend", "python").assert_outcomes(passed=3)


def test_the_seed_policy_passes_through_the_plugin_on_both_backends(pytester: pytest.Pytester) -> None:
    shutil.copytree(seed_policy_path(), pytester.path / "rules")
    (pytester.path / "pytest.ini").write_text(textwrap.dedent("""\
        [pytest]
        salesgate_rules = rules
        salesgate_backends = python durable
        salesgate_require_coverage = true
        filterwarnings = error
    """), encoding="utf-8")

    result = run(pytester)

    result.assert_outcomes(passed=2 * len(load_cases(seed_policy_path(), load_policy(seed_policy_path()))) + 2)
    result.stdout.fnmatch_lines_random([
        "rules (python): every rule (*) fires in a passing case",
        "rules (durable): every rule (*) fires in a passing case",
    ])


def test_cases_at_a_point_the_policy_declares_run_and_count_for_coverage(pytester: pytest.Pytester) -> None:
    shutil.copytree(Path(__file__).parent / "fixtures" / "declared-policy", pytester.path / "rules")
    (pytester.path / "pytest.ini").write_text(INI + "salesgate_require_coverage = true\n", encoding="utf-8")

    result = run(pytester, "--salesgate-backend", "python")

    result.assert_outcomes(passed=10 + 1)  # 4 sample_request cases, 3 order and 3 credit cases, the coverage item
    result.stdout.fnmatch_lines(["rules (python): every rule (7) fires in a passing case"])
    edit(pytester, "rules/tests/samples.yaml", "outputs: {deposit: 20%, freight: prepaid}",
         "outputs: {deposit: 30%, freight: prepaid}")
    failed = run(pytester, "--salesgate-backend", "python")
    failed.assert_outcomes(passed=10, failed=1)  # big-sample still fires in a passing case: coverage holds
    failed.stdout.fnmatch_lines(["*outputs.deposit: expected 30%, got 20%*"])
