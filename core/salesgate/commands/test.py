"""``salesgate test PATH``: run a policy's YAML test cases, show each failure, list the rules no case exercises.

Exit codes: 0 every selected case passed (and with ``--require-coverage`` every rule fired in a
passing case), 1 a case failed (or a rule is not covered), 2 the policy or a test file is invalid,
there is nothing to run, or the backend cannot start. Errors are one line each on stderr, never a
traceback. The same cases, run the same way, decide whether a running gate accepts a changed
policy (:mod:`salesgate.reload`), so a directory this command passes is one the reloader takes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..engine import BACKEND_NAMES, BackendName
from ..errors import PolicyError, SalesgateError
from ..gate import case_gate
from ..policy.compiler import CompiledRule, Policy, load_policy
from ..policy.testcases import TESTS_DIR, CaseResult, SuiteResult, load_cases, run_suite, select_cases
from . import fail, fail_policy, plugin_points

__all__ = ["run_tests_command"]


@click.command("test")
@click.argument("path", type=click.Path(path_type=str))
@click.option("--backend", type=click.Choice(BACKEND_NAMES), default="durable", show_default=True,
              envvar="SALESGATE_BACKEND",
              help="Matching backend: durable-rules, the pure-Python evaluator, or code generated from the "
                   "rules (same decisions).")
@click.option("-k", "keywords", multiple=True, metavar="TEXT",
              help="Run only the cases whose name contains TEXT (ignoring case); repeat for more.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (see docs/testing-rules.md).")
@click.option("--require-coverage", is_flag=True,
              help="Also exit 1 when a rule fires in no passing case (for CI).")
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only the failures.")
def run_tests_command(path: str, backend: BackendName, keywords: Sequence[str], as_json: bool,
                      require_coverage: bool, verbose: bool) -> None:
    """Run the test cases in PATH/tests/*.yaml against the policy in PATH.

    Each case gives facts and the decision it expects (outcome, approvals, rules fired, prices,
    refund, credit figures); a failure shows every difference, expected against got, with the
    case's file:line and the rules that fired. After the run, the rules that no passing case saw
    fire are listed.
    """
    if Path(path).is_file():
        fail(f"{path} is a file: give the policy directory; its cases are in <directory>/{TESTS_DIR}/*.yaml")
    try:
        policy = load_policy(path, points=plugin_points())
    except PolicyError as exc:
        fail_policy(exc, f"policy {path} is invalid")
    try:
        cases = load_cases(path, policy)
    except PolicyError as exc:
        fail_policy(exc, f"test cases in {Path(path) / TESTS_DIR} are invalid")
    if not cases:
        fail(f"no test cases in {Path(path) / TESTS_DIR}/*.yaml: write some (docs/testing-rules.md)")
    selected = select_cases(cases, keywords)
    if not selected:
        fail(f"no case name contains {' or '.join(repr(k) for k in keywords)} ({len(cases)} cases in "
              f"{Path(path) / TESTS_DIR})")
    if require_coverage and len(selected) < len(cases):
        fail("--require-coverage needs every case to run: drop -k")
    try:
        with case_gate(policy, backend) as gate:
            suite = run_suite(gate, selected)
    except ImportError as exc:
        fail(f"the {backend} backend is not available ({exc}); try --backend python")
    except SalesgateError as exc:
        fail(str(exc))
    complete = len(selected) == len(cases)
    uncovered = suite.uncovered() if complete else None
    if as_json:
        click.echo(json.dumps(_as_json(path, suite, len(cases), uncovered), ensure_ascii=False, indent=2))
    else:
        _print(path, suite, len(cases), uncovered, verbose, require_coverage)
    if not suite.passed or (require_coverage and uncovered):
        sys.exit(1)


def _print(path: str, suite: SuiteResult, total: int, uncovered: list[CompiledRule] | None, verbose: bool,
           require_coverage: bool) -> None:
    policy = suite.policy
    shown = len(suite.results)
    count = f"{total} cases" if shown == total else f"{shown} of {total} cases (-k)"
    click.echo(f"salesgate test {path}: policy {policy.name} {policy.version} ({policy.hash}), "
               f"{suite.backend} backend, {count}")
    by_file: dict[str, list[CaseResult]] = {}
    for result in suite.results:
        by_file.setdefault(result.case.file, []).append(result)
    for file, results in by_file.items():
        failed = sum(1 for r in results if not r.passed)
        tally = f"{len(results) - failed} passed" + (f", {failed} failed" if failed else "")
        click.echo(f"{file}: " + click.style(tally, fg="red" if failed else "green"))
        if verbose:
            for r in results:
                mark = click.style("PASS", fg="green") if r.passed else click.style("FAIL", fg="red", bold=True)
                click.echo(f"  {mark} {r.case.name} (line {r.case.line})")
    for result in suite.failed:
        click.echo("")
        click.echo(result.report())
    click.echo("")
    click.echo(_coverage_text(policy, uncovered))
    short = f"; {len(uncovered)} not covered (--require-coverage)" if require_coverage and uncovered else ""
    if suite.passed and not short:
        click.echo(click.style(f"ok: {suite.summary()}", fg="green"))
    else:
        click.echo(click.style(f"FAILED: {suite.summary()}{short}", fg="red", bold=True))


def _coverage_text(policy: Policy, uncovered: list[CompiledRule] | None) -> str:
    if uncovered is None:
        return "coverage: not computed, since -k ran only some of the cases"
    rules = len(policy.rules)
    if not uncovered:
        return f"coverage: every rule ({rules}) fired in a passing case"
    lines = [f"coverage: {rules - len(uncovered)} of {rules} rules fired in a passing case; "
             f"no passing case fires {'these' if len(uncovered) > 1 else 'this one'}:"]
    lines += [f"  {rule.file}:{rule.line}: {rule.id} ({rule.hook})" for rule in uncovered]
    return "\n".join(lines)


def _as_json(path: str, suite: SuiteResult, total: int, uncovered: list[CompiledRule] | None) -> dict[str, Any]:
    policy = suite.policy
    return {
        "path": path,
        "policy": {"name": policy.name, "version": policy.version, "hash": policy.hash},
        "backend": suite.backend,
        "total": total,
        "selected": len(suite.results),
        "passed": len(suite.results) - len(suite.failed),
        "failed": len(suite.failed),
        "cases": [
            {
                "id": r.case.id, "name": r.case.name, "file": r.case.file, "line": r.case.line,
                "hook": r.case.hook, "passed": r.passed, "fired": list(r.fired),
                "mismatches": [{"field": m.field, "expected": m.expected, "got": m.got, "message": m.message}
                               for m in r.mismatches],
            }
            for r in suite.results
        ],
        "coverage": None if uncovered is None else {
            "rules": len(policy.rules),
            "covered": len(policy.rules) - len(uncovered),
            "uncovered": [{"rule": r.id, "hook": r.hook, "file": r.file, "line": r.line} for r in uncovered],
        },
    }
