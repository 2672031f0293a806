"""The business-day functions in rules (docs/policy-language.md, "Business days and holiday calendars"):
checked at load, computed by the policy's calendar on both backends, explained, tested by YAML cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixtures.language_docs import POLICY_YAML, fired, section_examples, write_rules
from salesgate import Gate, PolicyError, load_policy, seed_policy_path
from salesgate.cli import cli
from salesgate.policy import expressions
from salesgate.policy.checker import CheckError, Context, check_condition, check_value
from salesgate.policy.evaluator import compile_expr, explain
from salesgate.policy.ir import Call, Kind
from salesgate.vocabulary import VOCABULARY

BACKENDS = ["python", "durable", "compiled"]
SEED = Path(seed_policy_path())
CN_YAML = (SEED / "calendars" / "cn.yaml").read_text(encoding="utf-8")
WITH_CN = {"policy.yaml": POLICY_YAML + "calendar: cn\n", "calendars/cn.yaml": CN_YAML}
SECTION = "Business days and holiday calendars"


def ctx() -> Context:
    return Context("order_approval", VOCABULARY["order_approval"],
                   data={"calendar": load_policy(SEED).calendars["cn"]})


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_documented_business_day_condition_holds_as_the_docs_say_on_every_backend(tmp_path: Path,
                                                                                        backend: str) -> None:
    facts, rows = section_examples(SECTION)
    root = write_rules(tmp_path / "policy", [cond for cond, _ in rows], files=WITH_CN)
    assert fired(root, facts, backend) == {f"r{i}" for i, (_, holds) in enumerate(rows) if holds}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rule_with_a_business_day_deadline_fires_alike_on_both_backends(tmp_path: Path, backend: str) -> None:
    """An order dated before 春节 2026 whose date plus five business days crosses the holiday."""
    root = write_rules(tmp_path / "policy", ["add_business_days(order.order_date, 5) > order.order_date + days(7)",
                                             "not (add_business_days(order.order_date, 5) > order.order_date"
                                             " + days(7))"], files=WITH_CN)
    facts, _ = section_examples(SECTION)
    assert fired(root, facts, backend) == {"r0"}  # 2026-02-13 + 5 business days = 2026-02-27 (14 days on)
    facts["order"]["order_date"] = "2027-02-01"
    assert fired(root, facts, backend) == set()  # 2027 is not in the calendar: missing, false also under not
    facts["order"]["order_date"] = "2026-03-02"  # a Monday: 5 business days on is the next Monday, 7 days
    assert fired(root, facts, backend) == {"r1"}


def test_the_calendar_is_bound_at_load_and_the_call_computes_by_it() -> None:
    expr = check_value(expressions.parse("add_business_days(order.order_date, 1)"), ctx(), Kind.date)
    assert isinstance(expr, Call)
    assert expr.state.name == "cn"
    get = compile_expr(expr)
    assert get({"order.order_date": date(2026, 2, 13)}, None) == date(2026, 2, 14)
    assert get({"order.order_date": None}, None) is None
    assert get({"order.order_date": date(2027, 6, 1)}, None) is None


def test_a_fractional_number_of_business_days_is_missing() -> None:
    expr = check_value(expressions.parse("add_business_days(order.order_date, order.total)"), ctx(), Kind.date)
    get = compile_expr(expr)
    assert get({"order.order_date": date(2026, 2, 13), "order.total": Decimal("1.5")}, None) is None
    assert get({"order.order_date": date(2026, 2, 13), "order.total": 2}, None) == date(2026, 2, 24)


def test_an_explanation_names_what_is_missing_and_what_the_function_gave() -> None:
    cond = check_condition(expressions.parse("business_days_between(order.order_date, date(\"2026-02-24\")) > 1"),
                           ctx())
    assert explain(cond, {"order.order_date": date(2026, 2, 13)}) == (
        'business_days_between(order.order_date, 2026-02-24) is 2, > 1')
    assert explain(cond, {"order.order_date": None}) == (
        "order.order_date is missing, so 'business_days_between(order.order_date, 2026-02-24) > 1' is false")


@pytest.mark.parametrize(("text", "message"), [
    ("is_business_day(order.total)", "the first argument of is_business_day() must be a date, not a number"),
    ("add_business_days(order.order_date) > order.order_date", "add_business_days() takes 2 arguments, not 1"),
    ("add_business_days(order.order_date, order.order_date) > order.order_date",
     "the second argument of add_business_days() must be a number, not a date"),
    ("business_days_between(order.order_date, 3) > 1", "the second argument of business_days_between() must be a "
                                                      "date, not a number"),
    ("is_busness_day(order.order_date)", "unknown function 'is_busness_day'"),
])
def test_a_misused_business_day_function_is_refused_in_plain_words(text: str, message: str) -> None:
    with pytest.raises(CheckError) as info:
        check_condition(expressions.parse(text), ctx())
    assert message in info.value.message
    if text.startswith("is_busness_day"):
        assert info.value.suggestion == "is_business_day"


def test_a_policy_without_a_calendar_is_told_how_to_add_one(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "policy", ["is_business_day(order.order_date)"])
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    (problem,) = info.value.problems
    assert (problem.rule, problem.field) == ("r0", "when")
    assert problem.message.startswith(
        "is_business_day(): this policy has no holiday calendar: add calendars/cn.yaml (the seed policy's is one) "
        "and name it in policy.yaml (calendar: cn)")


def test_a_policy_with_calendars_but_no_default_is_told_to_name_one(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "policy", ["is_business_day(order.order_date)"],
                       files={"calendars/cn.yaml": CN_YAML})
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    (problem,) = info.value.problems
    assert "name the calendar business days are counted by in policy.yaml: calendar: cn (this policy has cn)" in (
        problem.message)


def test_a_rule_set_reading_business_days_needs_no_calendar_when_no_rule_calls_them(tmp_path: Path) -> None:
    load_policy(write_rules(tmp_path / "policy", ["order.total > 1"]))


CASES = """\
hook: order_approval
base:
  customer: { id: C1, name: 华东机电有限公司, credit_limit: 500000 }
  order: { id: SO-1, customer_id: C1, order_date: 2026-02-13,
           lines: [ { line_no: 1, sku: P1, qty: 1, unit_price: 100 } ] }
cases:
  - name: 春节前最后一个工作日下单，两个工作日后是节后第一天
    expect: { fired: [r0] }
  - name: 节日当天下单不是工作日
    facts: { order: { order_date: 2026-02-16 } }
    expect: { not_fired: [r0] }
"""


def test_yaml_test_cases_and_coverage_run_business_day_rules(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "policy", ["is_business_day(order.order_date) and "
                                             "add_business_days(order.order_date, 2) == date(\"2026-02-24\")"],
                       files={**WITH_CN, "tests/cases.yaml": CASES})
    for backend in BACKENDS:
        result = CliRunner().invoke(cli, ["test", str(root), "--backend", backend])
        assert result.exit_code == 0, result.output
        assert "2 passed" in result.output


def test_a_gate_decides_with_the_calendar_and_records_the_policy_hash_that_holds_it(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "policy", ["not is_business_day(order.order_date)"], files=WITH_CN)
    facts, _ = section_examples(SECTION)
    facts["order"]["order_date"] = "2026-02-16"
    with Gate.from_path(root, entry_points=False) as gate:
        decision = gate.decide("order_approval", facts, explain=True)
        assert decision.policy.hash == load_policy(root).hash
    assert [t.rule for t in decision.trace if t.fired] == ["r0"]


def test_simulate_shows_the_decisions_a_changed_calendar_changes(tmp_path: Path) -> None:
    """A calendar edit alone is a new policy: simulate replays history through both and names the orders
    whose business day it changed (here 2026-02-14, a 调休 Saturday struck from working_days)."""
    import json
    import shutil

    from salesgate.simulation import simulate

    baseline = write_rules(tmp_path / "baseline", ["not is_business_day(order.order_date)"], files=WITH_CN)
    candidate = tmp_path / "candidate"
    shutil.copytree(baseline, candidate)
    cn = candidate / "calendars" / "cn.yaml"
    text = cn.read_text(encoding="utf-8")
    assert text.count("春节: [2026-02-14, 2026-02-28]") == 1
    cn.write_text(text.replace("春节: [2026-02-14, 2026-02-28]", "春节: 2026-02-28"), encoding="utf-8")
    facts, _ = section_examples(SECTION)
    history = tmp_path / "history.jsonl"
    with history.open("w", encoding="utf-8") as out:
        for i, day in enumerate(["2026-02-13", "2026-02-14", "2026-02-16", "2026-02-24"]):
            order = json.loads(json.dumps(facts))
            order["order"].update(id=f"SO-{i}", order_date=day)
            out.write(json.dumps(order, ensure_ascii=False) + "\n")
    report = simulate(baseline, candidate, history, hooks=["order_approval"], workers=1)
    approval = report.tally.hooks["order_approval"]
    assert (approval.decided, approval.changed) == (4, 1)
    assert [c.subject for c in approval.examples] == ["SO-1"]
