"""Functions of the condition language (docs/policy-language.md, "Functions"): one registry
(salesgate/policy/functions.py) read by the checker, both backends and the explanations."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fixtures.language_docs import fired, section_examples, write_rules
from salesgate import PolicyError, load_policy
from salesgate.policy import expressions
from salesgate.policy.checker import CheckError, Context, check_condition, check_value
from salesgate.policy.evaluator import compile_expr, explain
from salesgate.policy.functions import FUNCTIONS, Function, register
from salesgate.policy.ir import Call, Const, Kind, Ref, walk_refs
from salesgate.vocabulary import VOCABULARY

BACKENDS = ["python", "durable", "compiled"]
CTX = Context("order_approval", VOCABULARY["order_approval"])


def value(text: str, kind: Kind) -> object:
    return compile_expr(check_value(expressions.parse(text), CTX, kind))({}, None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_documented_date_condition_holds_as_the_docs_say_on_every_backend(tmp_path: Path, backend: str) -> None:
    facts, rows = section_examples("Functions")
    root = write_rules(tmp_path / "policy", [cond for cond, _ in rows])
    assert fired(root, facts, backend) == {f"r{i}" for i, (_, holds) in enumerate(rows) if holds}


@pytest.mark.parametrize(("text", "expected"), [
    ('year(date("2026-01-01"))', 2026),
    ('quarter(date("2026-03-31"))', 1), ('quarter(date("2026-04-01"))', 2), ('quarter(date("2026-12-31"))', 4),
    ('month(date("2026-12-31"))', 12),
    ('weekday(date("2026-11-23"))', 1), ('weekday(date("2026-11-29"))', 7),
    ('days_between(date("2026-12-31"), date("2027-01-01"))', 1),
    ('days_between(date("2027-01-01"), date("2026-12-31"))', -1),
])
def test_date_functions_compute_calendar_facts_with_monday_as_1(text: str, expected: int) -> None:
    assert value(text, Kind.number) == expected


@pytest.mark.parametrize(("day", "end"), [("2028-02-10", "2028-02-29"), ("2026-02-01", "2026-02-28"),
                                          ("2026-12-31", "2026-12-31"), ("9999-12-01", "9999-12-31")])
def test_month_end_is_the_last_day_of_the_month_leap_years_included(day: str, end: str) -> None:
    assert value(f'month_end(date("{day}"))', Kind.date) == date.fromisoformat(end)


def test_a_function_of_constants_is_computed_once_at_load() -> None:
    assert check_value(expressions.parse('year(date("2026-05-01")) + 1'), CTX, Kind.number) == Const(2027, Kind.number)


def test_a_function_of_a_missing_value_is_missing_and_its_comparison_false_also_under_not() -> None:
    cond = check_condition(expressions.parse("not (year(order.order_date) > 2000)"), CTX)
    assert explain(cond, {"order.order_date": None}) == (
        "order.order_date is missing, so 'year(order.order_date) <= 2,000' is false")
    assert explain(cond, {"order.order_date": date(1999, 1, 1)}) == "year(order.order_date) is 1,999, ≤ 2,000"


def test_walk_refs_reads_through_function_arguments() -> None:
    expr = check_value(expressions.parse("days_between(order.order_date, month_end(order.order_date))"), CTX,
                       Kind.number)
    assert isinstance(expr, Call)
    assert [r.path for r in walk_refs(expr)] == ["order.order_date", "order.order_date"]


@pytest.mark.parametrize(("text", "message", "suggestion"), [
    ("yeer(order.order_date) > 2026", "unknown function 'yeer': the functions are date(), days()", "year"),
    ("year(order.total) > 2026", "the first argument of year() must be a date, not a number: "
                                 "year(order.order_date)", None),
    ("year() > 2026", "year() takes 1 argument, not 0: year(order.order_date)", None),
    ("days_between(order.order_date) > 2", "days_between() takes 2 arguments, not 1", None),
    ("month_end(order.order_date) > 3", "cannot compare a date with a number", None),
    ("weekday(order.order_date)", "expected a condition but found a number", None),
])
def test_a_misused_function_is_refused_in_plain_words(text: str, message: str, suggestion: str | None) -> None:
    with pytest.raises(CheckError) as info:
        check_condition(expressions.parse(text), CTX)
    assert message in info.value.message
    assert info.value.suggestion == suggestion


def test_a_misused_function_is_reported_at_file_line_rule_and_field(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "policy", ["order.total > 1", "yeer(order.order_date) == 2026"])
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    (problem,) = info.value.problems
    assert (Path(problem.path or "").name, problem.line, problem.rule, problem.field, problem.suggestion) == (
        "examples.yaml", 9, "r1", "when", "year")


def test_a_function_result_feeds_price_formulas_and_outputs(tmp_path: Path) -> None:
    formula = check_value(expressions.parse("line.unit_price * (1 + month(order.order_date) / 100)"),
                          Context("pricing", VOCABULARY["pricing"], "line"), Kind.number)
    assert compile_expr(formula)({"line.unit_price": 100, "order.order_date": date(2026, 11, 2)}, None) == 111


def test_the_registry_refuses_a_name_twice_and_lists_functions_for_the_did_you_mean() -> None:
    with pytest.raises(ValueError, match="already defined"):
        register(Function("year", (Kind.date,), Kind.number, lambda d: d.year, "year(d)"))
    with pytest.raises(ValueError, match="already defined"):
        register(Function("sum", (Kind.number,), Kind.number, lambda d: d, "sum(x)"))
    assert {"year", "quarter", "month", "weekday", "month_end", "days_between"} <= set(FUNCTIONS)


def test_a_function_reading_policy_data_gets_it_from_the_context_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract another function (business days, lookups) builds on: ``needs`` names the data,
    ``prepare`` sees it and the constant arguments once, ``run`` gets the prepared state first."""
    seen: list[object] = []

    def prepare(data: object, constants: dict[int, object], kinds: tuple[Kind, ...]) -> tuple[Kind, object]:
        seen.append((data, constants, kinds))
        return Kind.number, {"holidays": 3}

    demo = Function("demo_days", (Kind.text, Kind.date), Kind.number, lambda state, name, d: state[name] + d.day,
                    'demo_days("holidays", order.order_date)', needs="calendar", constants=(0,), prepare=prepare)
    monkeypatch.setitem(FUNCTIONS, "demo_days", demo)
    text = 'demo_days("holidays", order.order_date) > 4'
    with pytest.raises(CheckError, match=r"demo_days\(\) reads the policy's calendar, and this policy has none"):
        check_condition(expressions.parse(text), CTX)
    ctx = Context("order_approval", VOCABULARY["order_approval"], data={"calendar": "CAL"})
    cond = check_condition(expressions.parse(text), ctx)
    assert seen == [("CAL", {0: "holidays"}, (Kind.text, Kind.date))]
    assert explain(cond, {"order.order_date": date(2026, 1, 2)}) == (
        'demo_days("holidays", order.order_date) is 5, > 4')
    with pytest.raises(CheckError, match="the first argument of demo_days\\(\\) must be written as a constant"):
        check_condition(expressions.parse("demo_days(customer.region, order.order_date) > 4"), ctx)
    assert Ref("order.order_date", Kind.date) in walk_refs(cond)


def test_a_function_needing_data_without_prepare_receives_the_data_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """The business-day functions' shape: ``needs="calendar"``, ``run(calendar, d)``."""
    class Calendar:
        def is_workday(self, d: date) -> bool:
            return d.isoweekday() < 6 and d != date(2026, 10, 1)

    monkeypatch.setitem(FUNCTIONS, "is_workday", Function(
        "is_workday", (Kind.date,), Kind.bool, lambda calendar, d: calendar.is_workday(d),
        "is_workday(order.order_date)", needs="calendar"))
    ctx = Context("order_approval", VOCABULARY["order_approval"], data={"calendar": Calendar()})
    cond = check_condition(expressions.parse("not is_workday(order.order_date)"), ctx)
    test = compile_expr(cond.left)  # type: ignore[union-attr]
    assert [test({"order.order_date": d}, None) for d in (date(2026, 9, 30), date(2026, 10, 1), None)] == [
        True, False, None]
    # a function reading policy data is never folded: the call stays, explained as written, compared with its data
    assert isinstance(check_condition(expressions.parse('is_workday(date("2026-10-01"))'), ctx).left, Call)  # type: ignore[union-attr]
