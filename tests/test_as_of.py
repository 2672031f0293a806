"""The as-of date (``today``) and effective dates, on both backends, through every way a decision is asked.

Same policy + facts + as-of date = same decision: the date is injectable (``Gate(today=)``,
``decide(as_of=)``, ``--as-of``, a test case's ``as_of:``), recorded (``Decision.as_of``), read by
rules as ``today``, and decides which rules are in force (``effective: {from, until}``).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from fixtures.language_docs import fired, section, section_examples, write_rules
from salesgate import Gate
from salesgate.cli import cli
from salesgate.errors import PolicyError
from salesgate.policy.compiler import load_policy
from salesgate.policy.effective import Effective, EffectiveError, parse_effective
from salesgate.policy.testcases import load_cases, run_all
from salesgate.simulation import simulate

BACKENDS = ("python", "durable", "compiled")

POLICY = """\
name: dated
version: "2026.12"
roles: [sales_manager, general_manager]
timezone: Asia/Shanghai
"""

RULES = """\
ruleset: orders
hook: order_approval
version: "1"
rules:
  - id: new-limit
    effective: {from: 2027-01-01}
    when: order.total >= 50000
    then:
      require: [sales_manager]
  - id: old-limit
    effective: {until: 2027-01-01}
    when: order.total >= 100000
    then:
      require: [sales_manager]
  - id: stale-order
    when: order.order_date < today - 30
    then:
      warn: 订单日期早于 30 天前
  - id: december-lines
    scope: line
    effective: {from: 2026-12-01, until: 2027-01-01}
    when: line.qty > 5
    then:
      require: [general_manager]
"""

ORDER: dict[str, Any] = {
    "order": {"id": "SO-1", "customer_id": "K1", "order_date": "2026-11-01",
              "lines": [{"line_no": 1, "sku": "A", "qty": 10, "unit_price": "6000"}]},
    "customer": {"id": "K1", "name": "华东机电", "credit_limit": "1000000"},
}


def write_policy(root: Path, rules: str = RULES, policy: str = POLICY) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "policy.yaml").write_text(policy, encoding="utf-8")
    (root / "orders.yaml").write_text(rules, encoding="utf-8")
    return root


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    return write_policy(tmp_path / "policy")


# -- the as-of date ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("as_of", "fired"), [
    (date(2026, 11, 15), []),                                     # old limit not reached; not stale yet
    (date(2026, 12, 15), ["stale-order", "december-lines"]),       # December only; 44 days old
    (date(2027, 1, 2), ["new-limit", "stale-order"]),              # the new limit is in force
])
def test_rules_read_today_and_are_in_force_only_on_their_days(policy_dir: Path, backend: Any, as_of: date,
                                                              fired: list[str]) -> None:
    with Gate.from_path(policy_dir, backend=backend) as gate:
        decision = gate.decide("order_approval", ORDER, as_of=as_of)
    assert decision.as_of == as_of
    assert decision.fired == fired


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_trace_says_a_rule_is_not_in_force_with_its_dates(policy_dir: Path, backend: Any) -> None:
    with Gate.from_path(policy_dir, backend=backend) as gate:
        decision = gate.decide("order_approval", ORDER, as_of=date(2026, 11, 15))
    why = {entry.rule: entry.explanation for entry in decision.trace}
    assert why["new-limit"] == "not in force (from 2027-01-01)"
    assert why["december-lines"] == "not in force (from 2026-12-01 until 2027-01-01)"
    assert why["old-limit"] is None  # in force: explained only when asked



@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dated_rule_in_force_is_explained_by_its_condition_alone_not_its_dates(policy_dir: Path,
                                                                                  backend: Any) -> None:
    with Gate.from_path(policy_dir, backend=backend) as gate:
        january = gate.decide("order_approval", ORDER, as_of=date(2027, 1, 2), explain=True)
        december = gate.decide("order_approval", ORDER, as_of=date(2026, 12, 15), explain=True)
    assert {e.rule: e.explanation for e in january.trace}["new-limit"] == "order.total is 60,000, ≥ 50,000"
    assert {e.rule: e.explanation for e in december.trace}["december-lines"] == "line.qty is 10, > 5"
    assert {e.rule: e.explanation for e in december.trace}["old-limit"] == "order.total is 60,000, not ≥ 100,000"

def test_the_decision_records_its_as_of_date_in_json(policy_dir: Path) -> None:
    with Gate.from_path(policy_dir, backend="python") as gate:
        decision = gate.decide("order_approval", ORDER, as_of=date(2026, 12, 15), explain=True)
    data = json.loads(decision.model_dump_json())
    assert data["as_of"] == "2026-12-15"
    stale = next(entry for entry in data["trace"] if entry["rule"] == "stale-order")
    assert stale["values"]["today"] == "2026-12-15"


def test_without_an_as_of_date_a_decision_is_made_as_of_today_in_the_policys_time_zone(policy_dir: Path) -> None:
    with Gate.from_path(policy_dir, backend="python") as gate:
        before = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        decision = gate.decide("order_approval", ORDER)
        after = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert decision.as_of in (before, after)


def test_a_policy_without_a_time_zone_counts_days_in_utc(tmp_path: Path) -> None:
    root = write_policy(tmp_path / "p", policy=POLICY.replace("timezone: Asia/Shanghai\n", ""))
    assert load_policy(root).timezone == "UTC"


def test_the_gates_today_is_every_decisions_as_of_date_unless_a_call_gives_one(policy_dir: Path) -> None:
    with Gate.from_path(policy_dir, backend="python", today=date(2027, 1, 2)) as gate:
        assert gate.decide("order_approval", ORDER).as_of == date(2027, 1, 2)
        assert gate.approve_order(ORDER, as_of=date(2026, 12, 15)).as_of == date(2026, 12, 15)
    days = iter([date(2026, 12, 1), date(2026, 12, 2)])
    with Gate.from_path(policy_dir, backend="python", today=lambda: next(days)) as gate:
        assert [gate.decide("order_approval", ORDER).as_of for _ in range(2)] == [date(2026, 12, 1), date(2026, 12, 2)]


def test_an_as_of_that_is_not_a_date_is_the_callers_error(policy_dir: Path) -> None:
    with Gate.from_path(policy_dir, backend="python") as gate:
        with pytest.raises(TypeError, match=r"as_of must be a datetime\.date"):
            gate.decide("order_approval", ORDER, as_of="2026-12-01")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"as_of must be a datetime\.date"):
            gate.decide("order_approval", ORDER, as_of=datetime(2026, 12, 1, 9, 0))
    with pytest.raises(TypeError, match=r"today must be a datetime\.date"):
        Gate.from_path(policy_dir, backend="python", today="2026-12-01")


def test_the_older_adapter_option_today_sets_the_gates_as_of_date(policy_dir: Path, tmp_path: Path) -> None:
    complete = {**ORDER, "products": [], "exposure": {}}  # nothing for the adapter to read
    options = {"url": f"sqlite:///{tmp_path / 'erp.db'}", "mapping": "demo"}
    with Gate.from_path(policy_dir, backend="python", adapter="sql",
                        adapter_options={**options, "today": date(2027, 1, 2)}) as gate:
        assert gate.decide("order_approval", complete).as_of == date(2027, 1, 2)
    with Gate.from_path(policy_dir, backend="python", adapter="sql", adapter_options=options,
                        today=date(2026, 12, 24)) as gate:
        assert gate.adapter.today() == date(2026, 12, 24)  # type: ignore[union-attr]  # outside decisions too
    with pytest.raises(TypeError, match="today given twice"):
        Gate.from_path(policy_dir, backend="python", adapter="sql", today=date(2026, 12, 24),
                       adapter_options={**options, "today": date(2027, 1, 2)})


def test_every_decision_point_reads_today_as_a_date_that_is_never_missing(policy_dir: Path) -> None:
    policy = load_policy(policy_dir)
    for point, vocabulary in policy.vocabulary.items():
        info = vocabulary["today"]
        assert (point, info.kind.value, info.optional) == (point, "date", False)
    seed = Gate.default(backend="python").policy
    assert all("today" in vocabulary for vocabulary in seed.vocabulary.values())


def test_a_comparison_of_today_with_none_is_refused_as_today_is_never_missing(tmp_path: Path) -> None:
    root = write_policy(tmp_path / "p", RULES.replace("order.order_date < today - 30", "today == None"))
    with pytest.raises(PolicyError, match="'today' is never None; every decision has it"):
        load_policy(root)


# -- effective dates --------------------------------------------------------------------------------------

def test_effective_windows_are_parsed_once_with_until_exclusive() -> None:
    window = parse_effective({"from": date(2027, 1, 1), "until": "2027-07-01"})
    assert window == Effective(date(2027, 1, 1), date(2027, 7, 1))
    assert [window.in_force(d) for d in (date(2026, 12, 31), date(2027, 1, 1), date(2027, 6, 30), date(2027, 7, 1))] \
        == [False, True, True, False]
    assert Effective(None, date(2027, 1, 1)).describe() == "until 2027-01-01"
    assert window.within(Effective(date(2027, 3, 1))) == Effective(date(2027, 3, 1), date(2027, 7, 1))
    assert window.within(Effective(date(2027, 7, 1))) is None


@pytest.mark.parametrize(("written", "message"), [
    ({"from": date(2027, 2, 1), "until": date(2027, 1, 1)},
     "effective: from 2027-02-01 is not before until 2027-01-01 (until is the first day no longer in force), so it "
     "would never be in force"),
    ({"fro": date(2027, 1, 1)}, "effective: 'fro' is not a key of effective: write from: (the first day in force) "
                                "and/or until: (the first day no longer in force)"),
    ({"from": "2027-1-1"}, "effective: from is '2027-1-1', not a date: write it as YYYY-MM-DD, e.g. from: 2027-01-01"),
    ({"until": 20270101}, "effective: until is 20270101, not a date: write it as YYYY-MM-DD, e.g. until: 2027-01-01"),
    ({}, "effective: names no date: give from:, until: or both, or leave effective: out"),
    (date(2027, 1, 1), "effective: takes the dates a rule is in force, e.g. effective: {from: 2027-01-01, until: "
                       "2027-07-01} (either may be left out)"),
])
def test_a_malformed_effective_is_said_in_plain_words(written: Any, message: str) -> None:
    with pytest.raises(EffectiveError) as info:
        parse_effective(written)
    assert info.value.message == message



@pytest.mark.parametrize(("written", "message"), [
    ({"from": datetime(2026, 6, 1, 8, 0)},
     "effective: from is 2026-06-01 08:00:00, a date and time: a rule is in force for whole days: write the day "
     "alone, e.g. from: 2026-06-01"),
    ({"from": "20260701"}, "effective: from is '20260701', not a date: write it as YYYY-MM-DD, e.g. from: 2027-01-01"),
    ({"until": "2027-W01-1"},
     "effective: until is '2027-W01-1', not a date: write it as YYYY-MM-DD, e.g. until: 2027-01-01"),
])
def test_an_effective_date_with_a_time_or_not_written_yyyy_mm_dd_is_refused_in_plain_words(
        written: Any, message: str) -> None:
    with pytest.raises(EffectiveError) as info:
        parse_effective(written)
    assert info.value.message == message


def test_a_rule_effective_from_a_date_and_time_in_a_dated_rule_set_is_a_problem_at_its_line_not_a_crash(
        tmp_path: Path) -> None:
    rules = RULES.replace("effective: {from: 2027-01-01}", "effective: {from: 2027-01-01 08:00:00}").replace(
        'version: "1"\n', 'version: "1"\neffective: {from: 2026-06-01}\n')
    with pytest.raises(PolicyError) as info:
        load_policy(write_policy(tmp_path / "p", rules))
    assert [(p.rule, p.field) for p in info.value.problems] == [("new-limit", "effective")]
    assert "a date and time: a rule is in force for whole days" in str(info.value)

def test_effective_problems_name_the_file_line_and_rule(tmp_path: Path) -> None:
    rules = RULES.replace("effective: {from: 2027-01-01}", "effective: {fro: 2027-01-01}").replace(
        'version: "1"\n', 'version: "1"\neffective: {from: 2026-06-01, until: 2026-03-01}\n')
    root = write_policy(tmp_path / "p", rules)
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    found = [(p.line, p.rule, p.field, p.suggestion) for p in info.value.problems]
    assert (4, None, "effective", None) in found
    assert (7, "new-limit", "effective", "from") in found
    text = str(info.value)
    assert "orders.yaml:4, field 'effective': effective: from 2026-06-01 is not before until 2026-03-01" in text


def test_a_rule_outside_its_rule_sets_days_is_refused(tmp_path: Path) -> None:
    rules = RULES.replace('version: "1"\n', 'version: "1"\neffective: {until: 2026-12-01}\n')
    with pytest.raises(PolicyError) as info:
        load_policy(write_policy(tmp_path / "p", rules))
    assert str(info.value).count("shares no day with its rule set's effective: until 2026-12-01, so the rule would "
                                 "never be in force") == 2  # new-limit and december-lines


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rule_set_not_in_force_fires_none_of_its_rules(tmp_path: Path, backend: Any) -> None:
    rules = RULES.replace('version: "1"\n', 'version: "1"\neffective: {from: 2026-12-01}\n')
    with Gate.from_path(write_policy(tmp_path / "p", rules), backend=backend) as gate:
        early = gate.decide("order_approval", ORDER, as_of=date(2026, 11, 30))
        later = gate.decide("order_approval", ORDER, as_of=date(2027, 1, 2))
    assert early.fired == []
    assert {entry.explanation for entry in early.trace} == {
        "not in force (from 2026-12-01)", "not in force (from 2027-01-01)",
        "not in force (from 2026-12-01 until 2027-01-01)"}
    assert later.fired == ["new-limit", "stale-order"]


def test_a_staged_version_switches_on_its_date_under_one_policy_hash(tmp_path: Path) -> None:
    """Two versions of a rule set in one policy directory: the current one until the switch, the staged one from it."""
    current = ("ruleset: orders\nhook: order_approval\nversion: \"1\"\neffective: {until: 2027-01-01}\nrules:\n"
               "  - id: limit\n    when: order.total >= 50000\n    then:\n      require: [general_manager]\n"
               "  - id: stale-order\n    when: order.order_date < today - 30\n    then:\n      warn: stale\n")
    root = write_policy(tmp_path / "p", current)
    staged = ("ruleset: orders-2027\nhook: order_approval\nversion: \"2027.1\"\neffective: {from: 2027-01-01}\n"
              "rules:\n  - id: limit-2027\n    when: order.total >= 20000\n    then:\n"
              "      require: [general_manager]\n")
    (root / "orders-2027.yaml").write_text(staged, encoding="utf-8")
    policy = load_policy(root)
    with Gate(policy, backend="python") as gate:
        assert gate.decide("order_approval", ORDER, as_of=date(2026, 12, 31)).required_roles == ["general_manager"]
        assert gate.decide("order_approval", ORDER, as_of=date(2027, 1, 1)).fired == ["limit-2027"]
    sets_out, rules_out = policy.not_in_force(date(2026, 12, 31))
    assert sets_out == ["orders-2027"]
    assert [rule.id for rule in rules_out] == ["limit-2027"]


# -- test cases -------------------------------------------------------------------------------------------

CASES = """\
hook: order_approval
base:
  order: {id: SO-1, customer_id: K1, order_date: 2026-11-01,
          lines: [{line_no: 1, sku: A, qty: 10, unit_price: 6000}]}
  customer: {id: K1, name: 华东机电, credit_limit: 1000000}
as_of: 2026-12-15
cases:
  - name: december
    expect: {fired: [stale-order, december-lines], not_fired: [new-limit]}
  - name: january
    as_of: 2027-01-02
    expect: {fired: [new-limit], not_fired: [december-lines, old-limit]}
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_cases_decide_as_of_their_own_or_their_files_date(policy_dir: Path, backend: Any) -> None:
    (policy_dir / "tests").mkdir()
    (policy_dir / "tests" / "orders.yaml").write_text(CASES, encoding="utf-8")
    policy = load_policy(policy_dir)
    cases = load_cases(policy_dir, policy)
    assert [case.as_of for case in cases] == [date(2026, 12, 15), date(2027, 1, 2)]
    with Gate(policy, backend=backend) as gate:
        results = run_all(gate, cases)
    assert [result.failures for result in results] == [[], []]


def test_a_case_at_a_point_whose_rules_read_today_must_give_its_as_of_date(policy_dir: Path) -> None:
    (policy_dir / "tests").mkdir()
    (policy_dir / "tests" / "orders.yaml").write_text(CASES.replace("as_of: 2026-12-15\n", ""), encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_cases(policy_dir, load_policy(policy_dir))
    assert str(info.value).splitlines()[0].endswith(
        "orders.yaml:7, field 'as_of': case 'december': rule new-limit at order_approval is in force only from "
        "2027-01-01: give the case as_of: YYYY-MM-DD (or as_of: at the top of the file), so that it decides the "
        "same whatever the day it runs")


def test_a_case_whose_as_of_is_not_a_date_is_refused_in_plain_words(policy_dir: Path) -> None:
    (policy_dir / "tests").mkdir()
    (policy_dir / "tests" / "orders.yaml").write_text(CASES.replace("as_of: 2026-12-15", "as_of: next week"),
                                                      encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_cases(policy_dir, load_policy(policy_dir))
    assert ("as_of is 'next week', not a date: write the day the case decides as of as YYYY-MM-DD, e.g. as_of: "
            "2026-12-31") in str(info.value)



def test_a_case_whose_as_of_is_not_written_yyyy_mm_dd_is_refused_not_read_as_an_iso_week(policy_dir: Path) -> None:
    (policy_dir / "tests").mkdir()
    (policy_dir / "tests" / "orders.yaml").write_text(CASES.replace("as_of: 2026-12-15", 'as_of: "2026-W51-2"'),
                                                      encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_cases(policy_dir, load_policy(policy_dir))
    assert "as_of is '2026-W51-2', not a date: write the day the case decides as of as YYYY-MM-DD" in str(info.value)

# -- the command line -------------------------------------------------------------------------------------

def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("option", ["--as-of", "--today"])
def test_decide_as_of_a_date_prints_and_records_it(policy_dir: Path, tmp_path: Path, option: str) -> None:
    facts = tmp_path / "order.json"
    facts.write_text(json.dumps(ORDER), encoding="utf-8")
    result = run("decide", "approval", str(facts), "--rules", str(policy_dir), option, "2027-01-02", "--json",
                 "--backend", "python")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["as_of"] == "2027-01-02"
    shown = run("decide", "approval", str(facts), "--rules", str(policy_dir), option, "2027-01-02",
                "--backend", "python")
    assert "python backend, as of 2027-01-02" in shown.output


def test_validate_as_of_lists_what_is_not_in_force(policy_dir: Path) -> None:
    result = run("validate", str(policy_dir), "--as-of", "2026-11-15")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == [
        "as of 2026-11-15: 2 of 4 rules in force (policy dated 2026.12)",
        f"  rule new-limit ({policy_dir / 'orders.yaml'}:5): not in force (from 2027-01-01)",
        f"  rule december-lines ({policy_dir / 'orders.yaml'}:19): not in force (from 2026-12-01 until 2027-01-01)",
    ]



@pytest.mark.parametrize("command", [["validate", "{policy}"], ["decide", "approval", "{facts}", "--rules", "{policy}"],
                                     ["simulate", "--rules", "{policy}", "--orders", "{facts}"]])
def test_an_as_of_date_not_written_yyyy_mm_dd_is_refused_in_plain_words_on_every_command(
        policy_dir: Path, tmp_path: Path, command: list[str]) -> None:
    facts = tmp_path / "order.json"
    facts.write_text(json.dumps(ORDER), encoding="utf-8")
    args = [a.format(policy=policy_dir, facts=facts) for a in command]
    result = run(*args, "--as-of", "2026-13-01")
    assert result.exit_code == 2
    assert "'2026-13-01' is not a date: write YYYY-MM-DD, e.g. 2026-12-31" in result.output
    assert "%Y" not in result.output


def test_validate_as_of_a_year_the_calendar_does_not_cover_says_business_days_will_be_missing(
        tmp_path: Path) -> None:
    calendar = "years:\n  2026:\n    notice: n\n    holidays: {元旦: 2026-01-01}\n"
    root = write_rules(tmp_path / "p", ["is_business_day(order.order_date)"], files={"calendars/cn.yaml": calendar})
    (root / "policy.yaml").write_text((root / "policy.yaml").read_text(encoding="utf-8") + "calendar: cn\n",
                                      encoding="utf-8")
    later = run("validate", str(root), "--as-of", "2027-03-01")
    assert later.exit_code == 0, later.output
    assert (f"  calendar cn ({root / 'calendars' / 'cn.yaml'}) covers 2026, not 2027: business-day functions on "
            "2027 dates give missing values, so the rules counting them do not fire: add its 2027: section") \
        in later.output.splitlines()
    assert "calendar cn" not in run("validate", str(root), "--as-of", "2026-03-01").output


def test_simulate_decides_each_order_as_of_its_order_date(policy_dir: Path, tmp_path: Path) -> None:
    """The candidate drops the 2027 limit: only the order of 2027 decides differently."""
    history = tmp_path / "orders.jsonl"
    lines = []
    for number, ordered in enumerate(("2026-12-20", "2027-01-05"), start=1):
        order = json.loads(json.dumps(ORDER))
        order["order"].update(id=f"SO-{number}", order_date=ordered)
        lines.append(json.dumps(order, ensure_ascii=False))
    history.write_text("\n".join(lines) + "\n", encoding="utf-8")
    candidate = write_policy(tmp_path / "candidate", RULES.replace("order.total >= 50000", "order.total >= 500000"))
    report = simulate(policy_dir, candidate, history, workers=1, hooks=["order_approval"])
    tally = report.tally.for_point("order_approval")
    assert (tally.decided, tally.changed) == (2, 1)
    (change,) = tally.examples
    # decided as of its own order date, the order is not stale (as of the day it is replayed, it would be)
    assert (change.subject, change.before.rules, change.after.rules) == ("SO-2", ("new-limit",), ())


# -- adapters count to the decision's as-of date ------------------------------------------------------------

def test_the_sql_adapter_counts_overdue_days_to_each_decisions_as_of_date(policy_dir: Path, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "erp.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE inv (c TEXT, open REAL, due TEXT)")
        connection.execute("INSERT INTO inv VALUES ('K1', 100, '2026-10-01')")
        connection.execute("INSERT INTO inv VALUES ('K1', 200, '2026-12-01')")
    connection.close()
    mapping = tmp_path / "erp.yaml"
    mapping.write_text("""\
mapping: test
timezone: Asia/Shanghai
facts:
  exposure:
    - query: SELECT SUM(open) AS open_receivables FROM inv WHERE c = :customer_id
    - query: >-
        SELECT SUM(open) AS overdue_amount, MIN(due) AS overdue_since
        FROM inv WHERE c = :customer_id AND due < :today
""", encoding="utf-8")
    rules = RULES + """\
  - id: long-overdue
    when: exposure.max_overdue_days > 60
    then:
      require: [general_manager]
"""
    facts = {**ORDER, "products": []}  # the exposure is read from the ERP
    with Gate.from_path(write_policy(tmp_path / "p", rules), backend="python", adapter="sql",
                        adapter_options={"url": f"sqlite:///{path}", "mapping": str(mapping)}) as gate:
        november = gate.decide("order_approval", facts, as_of=date(2026, 11, 15))
        december = gate.decide("order_approval", facts, as_of=date(2026, 12, 15))
        loaded = gate.facts_for("order_approval", facts, as_of=date(2026, 12, 15))
    assert "long-overdue" not in november.fired  # 45 days overdue, the December invoice not yet due
    assert "long-overdue" in december.fired  # 75 days
    assert (loaded.exposure.max_overdue_days, loaded.exposure.overdue_amount) == (75, 300)
    # an adapter built with a day of its own keeps counting to it while the caller gives none
    from salesgate_adapters.sql import SqlAdapter

    own = SqlAdapter(f"sqlite:///{path}", mapping=str(mapping), today=date(2026, 11, 15))
    with Gate(load_policy(tmp_path / "p"), backend="python", plugins=[own]) as gate:
        assert gate.facts_for("order_approval", facts).exposure.max_overdue_days == 45
        assert gate.facts_for("order_approval", facts, as_of=date(2026, 12, 15)).exposure.max_overdue_days == 75
    own.close()


# -- the examples of docs/policy-language.md ----------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_every_documented_today_condition_holds_as_the_docs_say(tmp_path: Path, backend: str) -> None:
    text = section("Today and the as-of date")
    assert "decided as of\n2026-12-15" in text
    facts, rows = section_examples("Today and the as-of date")
    root = write_rules(tmp_path / "policy", [cond for cond, _ in rows])
    assert fired(root, facts, backend, as_of=date(2026, 12, 15)) == {f"r{i}" for i, (_, holds) in enumerate(rows)
                                                                    if holds}


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_documented_effective_dates_fire_as_the_docs_table_says(tmp_path: Path, backend: str) -> None:
    text = section("Effective dates")
    rules = re.search(r"```yaml\n(ruleset: .*?)```", text, re.DOTALL)
    assert rules is not None
    root = write_rules(tmp_path / "policy", ["order.total < 0"], files={"order-limits.yaml": rules.group(1)})
    facts = {"order": {"id": "SO-8", "customer_id": "C1", "order_date": "2026-11-28",
                       "lines": [{"line_no": 1, "sku": "P-A", "qty": 500, "unit_price": "120.00"}]},
             "customer": {"id": "C1", "name": "华东机电有限公司", "credit_limit": "500000"}, "products": []}
    table = re.findall(r"^\| (\d{4}-\d\d-\d\d) \| ([a-z0-9, -]+) \|$", text, re.MULTILINE)
    assert len(table) == 3
    for day, expected in table:
        got = fired(root, facts, backend, as_of=date.fromisoformat(day))
        assert sorted(got) == ([] if expected == "none" else expected.split(", ")), day


def test_the_documented_effective_errors_are_the_ones_salesgate_gives(tmp_path: Path) -> None:
    text = section("Effective dates")
    rules = re.search(r"```yaml\n(ruleset: .*?)```", text, re.DOTALL)
    assert rules is not None
    for wrong in ("effective: {from: 2027-02-01, until: 2027-01-01}", "effective: {fro: 2027-01-01}"):
        root = tmp_path / wrong[12:15]
        write_rules(root, ["order.total < 0"], files={"order-limits.yaml": rules.group(1).replace(
            "effective: {from: 2027-01-01}", wrong)})
        with pytest.raises(PolicyError) as info:
            load_policy(root)
        (problem,) = info.value.problems
        shown = str(problem).replace(str(root / "order-limits.yaml"), "rules/order-limits.yaml")
        assert shown in text


def test_the_documented_validate_as_of_lines_are_the_ones_salesgate_prints(tmp_path: Path) -> None:
    text = section("Effective dates")
    rules = re.search(r"```yaml\n(ruleset: .*?)```", text, re.DOTALL)
    assert rules is not None
    root = write_rules(tmp_path / "p", ["order.total < 0"], files={"order-limits.yaml": rules.group(1)})
    result = run("validate", str(root), "--as-of", "2026-11-30")
    assert result.exit_code == 0, result.output
    lines = [line.replace(str(root / "order-limits.yaml"), "rules/order-limits.yaml")
             for line in result.output.splitlines()[2:]]
    assert lines == ["  rule limit-2027 (rules/order-limits.yaml:12): not in force (from 2027-01-01)",
                     "  rule year-end-promotion (rules/order-limits.yaml:19): not in force (from 2026-12-01 until "
                     "2027-01-01)"]
    assert all(line in text for line in lines)


def test_the_audit_line_and_the_decision_log_keep_the_as_of_date(policy_dir: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from salesgate_adapters.store import MemoryStore

    store = MemoryStore()
    with caplog.at_level(logging.INFO, logger="salesgate.audit"), Gate.from_path(
            policy_dir, backend="python", store=store, timeout=None) as gate:
        gate.decide("order_approval", ORDER, as_of=date(2026, 12, 15))
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "salesgate.audit"]
    assert line["as_of"] == "2026-12-15"
    (logged,) = store.decisions("SO-1")
    assert logged.decision.as_of == date(2026, 12, 15)
