"""docs/seed-coverage.md tells the truth about the shipped policy.

The page maps each of the handbooks' 78 statements (R01–R78) to the decision point and rules that
express it, or says why not yet. Issue 12 is done when enough rows say "expressed"; this test is what
keeps that count from being claimed: a row may say "expressed" only when every rule it names is a rule
of the shipped policy on that decision point and fires in a passing YAML test case of ``rules/tests``,
and the page's stated count and its summary by kind are recounted from the table. The checks are one
function, :func:`coverage_problems`, also run on edited copies of the page, so each of them is seen
to fail.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from salesgate import Gate, load_policy, seed_policy_path
from salesgate.gate import case_gate
from salesgate.policy.compiler import Policy
from salesgate.policy.testcases import load_cases, run_all

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "seed-coverage.md"
STATEMENT_IDS = [f"R{n:02d}" for n in range(1, 79)]
NONE = "—"
ROW = re.compile(r"^\| (R\d+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$")
COUNT = re.compile(r"\*\*(\d+) of (\d+) expressed\.\*\*")
# The kinds of reason a "not yet" row starts with, and the words of the summary row counting them.
KINDS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("new point", re.compile(r"needs the ([a-z_]+) decision point"), "a decision point issue 12 ships"),
    ("unplanned point", re.compile(r"needs a decision point no issue plans yet"), "a decision point no issue plans"),
    ("declared fact", re.compile(r"needs the declared facts? "), "a declared fact"),
    ("history", re.compile(r"needs a history aggregate"), "a history aggregate"),
    ("calendar", re.compile(r"needs a calendar"), "a calendar"),
    ("table", re.compile(r"needs a table"), "a table"),
    ("unwritten rule", re.compile(r"no shipped rule"), "a rule the shipped vocabulary could already say"),
    ("not enforceable", re.compile(r"not enforceable by a rule"), "not enforceable by a rule"),
)


@dataclass(frozen=True)
class Row:
    """One statement's row: ``| R01 | point | rule ids | expressed |`` or ``... | not yet: why |``."""

    statement: str
    point: str
    rules: tuple[str, ...]
    status: str

    @property
    def expressed(self) -> bool:
        return self.status == "expressed"

    @property
    def why(self) -> str:
        return self.status.removeprefix("not yet: ")


def parse_rows(text: str) -> list[Row]:
    """Every row of the page's statement table, in order."""
    rows = []
    for line in text.splitlines():
        if match := ROW.match(line.strip()):
            statement, point, rules, status = (part.strip() for part in match.groups())
            named = () if rules == NONE else tuple(rule.strip() for rule in rules.split(","))
            rows.append(Row(statement, point, named, status))
    return rows


def kind_of(row: Row) -> str | None:
    """The kind of the first missing piece a "not yet" row names (the earliest match in its reason)."""
    found = [(match.start(), kind) for kind, pattern, _ in KINDS if (match := pattern.search(row.why))]
    return min(found)[1] if found else None


def summary_counts(text: str) -> dict[str, int]:
    """The summary table's count for each kind, found by the words its row starts with."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1].isdigit():
            for kind, _, words in KINDS:
                if cells[0].startswith(words):
                    counts[kind] = int(cells[1])
    return counts


def coverage_problems(text: str, policy: Policy, fired: frozenset[str],
                      seed_ids: Sequence[str] | None = None) -> list[str]:
    """Every way the page differs from the shipped policy and its test cases; empty when it is true.

    ``fired`` holds the ids of the rules that fired in a passing test case of the shipped policy;
    ``seed_ids`` the statement ids of ``seed-rules.md``, when that file is at hand.
    """
    problems: list[str] = []
    points = set(policy.points)  # built in, and declared in the seed policy's points/
    rows = parse_rows(text)
    ids = [row.statement for row in rows]
    if ids != STATEMENT_IDS:
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
        problems.append(f"rows must be R01..R78 once each, in order: missing {sorted(set(STATEMENT_IDS) - set(ids))}, "
                        f"repeated {repeated}, unknown {sorted(set(ids) - set(STATEMENT_IDS))}")
    if seed_ids is not None and sorted(seed_ids) != sorted(set(ids)):
        problems.append(f"the table's ids differ from seed-rules.md's: {sorted(set(seed_ids) ^ set(ids))}")
    for row in rows:
        where = f"{row.statement}"
        if not row.expressed and not row.status.startswith("not yet: "):
            problems.append(f"{where}: status must be 'expressed' or 'not yet: why', not {row.status!r}")
            continue
        if row.expressed and (row.point not in points or not row.rules):
            problems.append(f"{where}: an expressed statement names a shipped decision point and its rules")
            continue
        if row.point in points:
            known = {rule.id for rule in policy.rules if rule.hook == row.point}
            problems += [f"{where}: no rule {rule!r} on {row.point} in the shipped policy"
                         for rule in row.rules if rule not in known]
        elif row.rules:
            problems.append(f"{where}: {row.point} is no shipped decision point, so it has no rules to name")
        if row.expressed:
            problems += [f"{where}: rule {rule!r} fires in no passing case of rules/tests"
                         for rule in row.rules if rule not in fired]
        else:
            kind = kind_of(row)
            if kind is None:
                problems.append(f"{where}: the reason names no kind of missing piece: {row.why!r}")
            elif kind == "new point" and (point := KINDS[0][1].search(row.why)) and point.group(1) in points:
                problems.append(f"{where}: says it needs the {point.group(1)} decision point, which ships now")
    expressed = sum(row.expressed for row in rows)
    stated = COUNT.search(text)
    if stated is None or (int(stated.group(1)), int(stated.group(2))) != (expressed, len(STATEMENT_IDS)):
        problems.append(f"the page must state '**{expressed} of {len(STATEMENT_IDS)} expressed.**' "
                        f"(it says {stated.group(0) if stated else 'no count'})")
    kinds = Counter(kind_of(row) for row in rows if not row.expressed)
    summary = summary_counts(text)
    for kind, _, words in KINDS:
        if summary.get(kind) != kinds.get(kind, 0):
            problems.append(f"summary row {words!r}: says {summary.get(kind)}, the table has {kinds.get(kind, 0)}")
    return problems


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(seed_policy_path())


@pytest.fixture(scope="module")
def gate(policy: Policy) -> Iterator[Gate]:
    built = case_gate(policy, backend="python")
    try:
        yield built
    finally:
        built.close()


@pytest.fixture(scope="module")
def fired(gate: Gate) -> frozenset[str]:
    """The rules that fire in a passing test case of the shipped policy (what ``salesgate test`` covers)."""
    results = run_all(gate, load_cases(seed_policy_path(), gate.policy))
    return frozenset(rule for result in results if result.passed for rule in result.fired)


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


# -- the page -------------------------------------------------------------------------------------------


def test_the_seed_coverage_page_is_true_to_the_shipped_policy(text: str, policy: Policy,
                                                              fired: frozenset[str]) -> None:
    assert coverage_problems(text, policy, fired) == []


def test_the_page_is_linked_from_the_readme() -> None:
    assert "docs/seed-coverage.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# -- the checks fail when the page is wrong ---------------------------------------------------------------


def edited(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once in the page"
    return text.replace(old, new)


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("| R77 | — | — | not yet: not enforceable by a rule: a duty of staff (hand over the pipeline when someone "
     "leaves) |", "| R77 | — | — | expressed |", "names a shipped decision point and its rules"),
    ("| R17 | credit_check | any-overdue | expressed |", "| R17 | credit_check | overdue-reminder | expressed |",
     "no rule 'overdue-reminder' on credit_check"),
    ("| R17 | credit_check | any-overdue | expressed |", "| R17 | order_approval | any-overdue | expressed |",
     "no rule 'any-overdue' on order_approval"),
    ("| R17 | credit_check | any-overdue | expressed |", "| R18 | credit_check | any-overdue | expressed |",
     "rows must be R01..R78 once each"),
    ("| R20 | — | — | not yet: not enforceable by a rule: an outline of the OSB system (its chapters) |",
     "| R20 | — | — | not yet: an outline |", "names no kind of missing piece"),
    ("| R20 | — | — | not yet: not enforceable by a rule: an outline of the OSB system (its chapters) |",
     "| R20 | — | — | maybe |", "status must be 'expressed' or 'not yet: why'"),
    ("| R24 | — | — |", "| R24 | osb | osb-outline |", "osb is no shipped decision point"),
    ("**65 of 78 expressed.**", "**50 of 78 expressed.**", "the page must state '**65 of 78 expressed.**'"),
    ("| a history aggregate (issue 13) | 0 |", "| a history aggregate (issue 13) | 1 |",
     "summary row 'a history aggregate': says 1, the table has 0"),
])
def test_a_wrong_row_or_count_is_a_problem(text: str, policy: Policy, fired: frozenset[str],
                                          old: str, new: str, problem: str) -> None:
    problems = coverage_problems(edited(text, old, new), policy, fired)
    assert any(problem in found for found in problems), problems


def test_an_expressed_rule_no_passing_case_fires_is_a_problem(text: str, policy: Policy,
                                                               fired: frozenset[str]) -> None:
    problems = coverage_problems(text, policy, fired - {"any-overdue"})
    assert problems == ["R17: rule 'any-overdue' fires in no passing case of rules/tests"]


def test_a_reason_naming_a_shipped_point_as_missing_is_a_problem(text: str, policy: Policy,
                                                                  fired: frozenset[str]) -> None:
    wrong = edited(text, "| R77 | — | — | not yet: not enforceable by a rule",
                   "| R77 | — | — | not yet: needs the complaint decision point")
    problems = coverage_problems(wrong, policy, fired)
    assert "R77: says it needs the complaint decision point, which ships now" in problems


def test_ids_differing_from_seed_rules_md_are_a_problem(text: str, policy: Policy, fired: frozenset[str]) -> None:
    problems = coverage_problems(text, policy, fired, seed_ids=[*STATEMENT_IDS[:-1], "R79"])
    assert problems == ["the table's ids differ from seed-rules.md's: ['R78', 'R79']"]


def test_the_summary_counts_every_kind(text: str) -> None:
    assert sorted(summary_counts(text)) == sorted(kind for kind, _, _ in KINDS)

