"""Broken policies are refused at load time with errors a policy owner can act on.

Every problem names the file and line, the rule and the field, and a did-you-mean where one helps;
``str(PolicyError)`` is what the CLI prints: one line per problem, all problems at once.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from salesgate import Gate, PolicyError, PolicyProblem, load_policy
from salesgate.cli import cli
from salesgate.policy.ir import Const, Kind
from salesgate.policy.limits import MAX_FILE_BYTES
from salesgate.policy.yamlfile import load_yaml
from salesgate.reload import PolicyReloader
from salesgate.seed import seed_policy_path

POLICY_YAML = "name: test-policy\nversion: '1'\nroles: [sales_rep, sales_manager, finance, general_manager]\n"
HEAD = "ruleset: {name}\nhook: {hook}\nversion: '1'\nrules:\n"


def rules_file(body: str, *, name: str = "approval", hook: str = "order_approval") -> str:
    """A rule file: four header lines, then ``body`` (rules start on line 5)."""
    return HEAD.format(name=name, hook=hook) + body


def write_policy(root: Path, files: dict[str, str], *, policy_yaml: str | None = POLICY_YAML) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if policy_yaml is not None:
        (root / "policy.yaml").write_text(policy_yaml, encoding="utf-8")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def load_problems(root: Path) -> tuple[list[PolicyProblem], str]:
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    return info.value.problems, str(info.value)


def only_problem(root: Path) -> tuple[PolicyProblem, str]:
    problems, text = load_problems(root)
    assert len(problems) == 1, text
    return problems[0], text


def test_seed_policy_loads_without_problems() -> None:
    policy = load_policy(seed_policy_path())
    assert policy.rules


def test_unknown_rule_field_suggests_the_right_one(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: big-order\n"
        "    wen: order.total > 5\n"
        "    then: { block: too big }\n")})
    problems, text = load_problems(root)
    path = str(root / "a.yaml")
    assert problems == [
        PolicyProblem("missing: this field is required", path, 5, "big-order", "when"),
        PolicyProblem("unknown field; expected one of: id, description, when, scope, priority, effective, then",
                      path, 6, "big-order", "wen", "when"),
    ]
    assert text.splitlines()[1] == (
        f"{path}:6, rule 'big-order', field 'wen': unknown field; expected one of: id, description, when, "
        "scope, priority, effective, then (did you mean 'when'?)")


def test_unknown_action_field_suggests_require(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: big-order\n"
        "    when: order.total > 5\n"
        "    then:\n"
        "      requires: [finance]\n")})
    problem, text = only_problem(root)
    assert (problem.line, problem.rule, problem.field, problem.suggestion) == (8, "big-order", "then.requires",
                                                                               "require")
    assert problem.message.startswith("unknown field; expected one of: block, require, warn, notify, message,")
    assert text.endswith("(did you mean 'require'?)")


def test_unknown_top_level_field_suggests_the_right_one(tmp_path: Path) -> None:
    root = write_policy(
        tmp_path,
        {"a.yaml": "ruleset: a\nhook: order_approval\nversoin: '1'\nrules:\n"
                   "  - { id: r1, when: order.total > 5, then: { block: x } }\n"},
        policy_yaml="name: p\nversion: '1'\nrole: [finance]\nroles: [finance]\n",
    )
    problems, _ = load_problems(root)
    assert [(Path(p.path or "").name, p.line, p.field, p.suggestion) for p in problems] == [
        ("policy.yaml", 3, "role", "roles"),
        ("a.yaml", 1, "version", None),
        ("a.yaml", 3, "versoin", "version"),
    ]
    assert problems[0].message == ("unknown field; expected one of: name, version, description, language, roles, "
                                   "failure_mode, timezone, facts, calendar, outputs")


def test_unknown_fact_names_column_and_suggests_the_fact(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: big-order\n"
        "    when: order.totl >= 100000\n"
        "    then: { block: too big }\n")})
    problem, text = only_problem(root)
    path = root / "a.yaml"
    assert problem == PolicyProblem(
        "unknown fact 'order.totl' at decision point order_approval (column 1 of: order.totl >= 100000)",
        str(path), 6, "big-order", "when", "order.total")
    assert text == (f"{path}:6, rule 'big-order', field 'when': unknown fact 'order.totl' at decision point "
                    "order_approval (column 1 of: order.totl >= 100000) (did you mean 'order.total'?)")


def test_type_mismatch_names_both_types_and_the_column(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: big-order\n"
        "    when: order.total >= \"100000\"\n"
        "    then: { block: too big }\n")})
    problem, _ = only_problem(root)
    assert (problem.message, problem.line, problem.field) == (
        'cannot compare a number with text (column 13 of: order.total >= "100000")', 6, "when")


def test_enum_value_outside_the_choices_suggests_one(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: frozen\n"
        "    when: customer.status == \"Blocked\"\n"
        "    then: { block: 客户已冻结 }\n")})
    problem, _ = only_problem(root)
    assert problem.suggestion == "blocked"
    assert "expected one of active, cash_only, blocked" in problem.message


def test_duplicate_rule_id_across_files_names_the_other_file_and_line(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {
        "a.yaml": rules_file("  - id: other\n    when: order.total > 1\n    then: { warn: x }\n"
                             "  - id: big-order\n    when: order.total > 5\n    then: { block: x }\n"),
        "b.yaml": rules_file("  - id: big-order\n    when: order.total > 9\n    then: { warn: y }\n",
                             name="credit", hook="credit_check"),
    })
    problem, text = only_problem(root)
    assert problem == PolicyProblem(f"duplicate rule id: also defined in {root / 'a.yaml'}:8", str(root / "b.yaml"),
                                    5, "big-order", "id")
    assert text == f"{root / 'b.yaml'}:5, rule 'big-order', field 'id': duplicate rule id: also defined in " \
                   f"{root / 'a.yaml'}:8"


def test_unknown_role_in_a_rule_suggests_the_ladder_role(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: big-order\n"
        "    when: order.total > 5\n"
        "    then: { require: [sales_manger] }\n")})
    problem, _ = only_problem(root)
    assert problem == PolicyProblem(
        "unknown role 'sales_manger': the ladder is sales_rep, sales_manager, finance, general_manager",
        str(root / "a.yaml"), 7, "big-order", "then", "sales_manager")


def test_unknown_role_in_a_ruleset_role_list_is_checked_against_the_ladder(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": "ruleset: a\nhook: order_approval\nversion: '1'\nroles: [finanse]\n"
                                             "rules:\n  - { id: r1, when: order.total > 5, then: { block: x } }\n"})
    problem, _ = only_problem(root)
    assert (problem.line, problem.rule, problem.field, problem.suggestion) == (4, None, "roles", "finance")
    assert problem.message.startswith("unknown role 'finanse': the ladder in policy.yaml is ")


def test_percentage_without_percent_sign_suggests_writing_it(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"p.yaml": rules_file(
        "  - id: region-markup\n"
        "    when: customer.region_has_distributor\n"
        "    then: { markup: 10 }\n", name="pricing", hook="pricing")})
    problem, text = only_problem(root)
    assert problem == PolicyProblem("bad percentage 10: write 10% or 0.1", str(root / "p.yaml"), 7,
                                    "region-markup", "then.markup")
    assert "10%" in text


@pytest.mark.parametrize(("value", "message"), [
    ("150%", "bad percentage 150%: it must be between 0% and 100%"),
    ("-5%", "bad percentage -5%: it must be between 0% and 100%"),
    ('"ten"', "bad percentage 'ten': write it like 10% or 0.10"),
    ("true", "expected a percentage such as 10% or 0.10, not true/false"),
])
def test_percentage_outside_zero_to_hundred_or_not_a_number_is_refused(tmp_path: Path, value: str,
                                                                       message: str) -> None:
    root = write_policy(tmp_path, {"p.yaml": rules_file(
        f"  - id: region-markup\n    when: customer.region_has_distributor\n    then: {{ discount: {value} }}\n",
        name="pricing", hook="pricing")})
    problem, _ = only_problem(root)
    assert (problem.message, problem.field) == (message, "then.discount")


@pytest.mark.parametrize(("action", "field"), [("{ block: {} }", "then.block"),
                                               ("{ require: [finance], message: {} }", "then.message")])
def test_a_message_in_no_language_is_refused_with_its_place(tmp_path: Path, action: str, field: str) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        f"  - id: big-order\n    when: order.total > 5\n    then: {action}\n")})
    problem, _ = only_problem(root)
    assert (problem.path, problem.line, problem.rule, problem.field) == (str(root / "a.yaml"), 7, "big-order", field)
    assert problem.message.startswith("a message in no language: write the text, or one text per language")


_NOT_A_CONDITION = ("not as a condition: write a condition such as order.total >= 100000, or 'true' for a rule that "
                    "fires on every decision")


@pytest.mark.parametrize(("when", "message"), [
    ("false", "the condition is always false, so the rule could never fire"),
    ("yes", f"YAML reads 'yes' as true, {_NOT_A_CONDITION}"),
    ("On", f"YAML reads 'On' as true, {_NOT_A_CONDITION}"),
    ("no", f"YAML reads 'no' as false, {_NOT_A_CONDITION}"),
    ("5", f"YAML reads '5' as the number 5, {_NOT_A_CONDITION}"),
    ("0x10", f"YAML reads '0x10' as the number 16, {_NOT_A_CONDITION}"),
    ("~", f"YAML reads '~' as nothing, {_NOT_A_CONDITION}"),
    ("2026-12-01", f"YAML reads '2026-12-01' as a date, {_NOT_A_CONDITION}"),
    ("[1, 2]", "expected a condition such as order.total >= 100000 (or true), got a list"),
])
def test_a_condition_that_is_not_text_says_what_a_condition_is(tmp_path: Path, when: str, message: str) -> None:
    """Not pydantic's 'when.constrained-str: Input should be a valid string' / 'Input should be True'."""
    root = write_policy(tmp_path, {"a.yaml": rules_file(f"  - id: r1\n    when: {when}\n    then: {{ warn: x }}\n")})
    problem, _ = only_problem(root)
    assert (problem.line, problem.rule, problem.field, problem.message) == (6, "r1", "when", message)


def test_a_role_with_no_ladder_at_all_says_where_the_ladder_goes(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - { id: r1, when: order.total > 5, then: { require: [finance] } }\n")}, policy_yaml=None)
    problem, _ = only_problem(root)
    assert problem.message == ("unknown role 'finance': the policy has no approval ladder: add policy.yaml with "
                               "roles: [...], or a roles: list to the rule set")


def test_percentages_written_either_way_load_as_the_same_rate(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"p.yaml": rules_file(
        "  - { id: a, when: customer.grade == \"A\", then: { discount: 5% } }\n"
        "  - { id: b, when: customer.grade == \"B\", then: { discount: 0.05 } }\n"
        "  - { id: c, when: customer.grade == \"C\", then: { discount: 12.5% } }\n", name="pricing", hook="pricing")})
    rates = {rule.id: rule.action.discount for rule in load_policy(root).rules}
    assert rates == {"a": Decimal("0.05"), "b": Decimal("0.05"), "c": Decimal("0.125")}


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: big-order\n"
        "    when: order.total > 5\n"
        "    then: { block: x\n"
        "  - id: next\n")})
    problem, text = only_problem(root)
    assert problem.path == str(root / "a.yaml")
    assert problem.line == 8
    assert problem.message.startswith("YAML syntax error: ")
    assert text.startswith(f"{root / 'a.yaml'}:8: YAML syntax error: ")


@pytest.mark.parametrize("day", ["2026-02-30", "2026-13-02"])
def test_a_date_no_calendar_has_is_a_problem_at_its_line(tmp_path: Path, day: str) -> None:
    """YAML reads an unquoted 2026-02-30 as a date and failed with a bare ValueError traceback."""
    root = write_policy(tmp_path, {"a.yaml": f"ruleset: approval\nhook: order_approval\nversion: {day}\nrules: []\n"})
    problem, _ = only_problem(root)
    assert (problem.path, problem.line) == (str(root / "a.yaml"), 3)
    assert problem.message == f"{day} is not a date: write a real date as YYYY-MM-DD (or quote it as text)"


def test_a_condition_starting_with_an_exclamation_mark_says_it_is_read_as_a_yaml_tag(tmp_path: Path) -> None:
    rule = "  - id: r1\n    when: !order.guarantee\n    then: { warn: x }\n"
    root = write_policy(tmp_path, {"a.yaml": rules_file(rule)})
    problem, _ = only_problem(root)
    assert problem.line == 6
    assert problem.message.endswith("(YAML reads a value starting with ! as a tag: write 'not ...', or quote the text)")


def test_yaml_numbers_with_a_fraction_are_read_from_their_text_never_through_float(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("limit: 99999999999999.99\nrate: 0.1\nbig: 1_000.50\ninf: .inf\n", encoding="utf-8")
    data = load_yaml(path)
    assert data == {"limit": Decimal("99999999999999.99"), "rate": Decimal("0.1"), "big": Decimal("1000.50"),
                    "inf": float("inf")}
    assert isinstance(data["rate"], Decimal)


def test_duplicate_yaml_key_is_an_error_not_a_silent_overwrite(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: big-order\n"
        "    when: order.total > 5\n"
        "    when: order.total > 500000\n"
        "    then: { block: x }\n")})
    problem, _ = only_problem(root)
    assert (problem.message, problem.line) == ("YAML syntax error: key 'when' appears twice in this mapping", 7)


@pytest.mark.parametrize("text", ["- just\n- a list\n", "", "just text\n"])
def test_rule_file_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    root = write_policy(tmp_path, {"a.yaml": text})
    problem, _ = only_problem(root)
    assert problem == PolicyProblem("a rule file must be a mapping with ruleset, hook, version and rules",
                                    str(root / "a.yaml"), 1)


def test_empty_directory_has_no_rule_files(tmp_path: Path) -> None:
    problem, text = only_problem(write_policy(tmp_path / "empty", {}, policy_yaml=None))
    assert text == f"{tmp_path / 'empty'}: no rule files (*.yaml) found"
    assert problem.line is None


def test_missing_directory_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"no such policy directory or file: .*nowhere"):
        load_policy(tmp_path / "nowhere")


def test_rule_that_does_nothing_is_refused(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: idle\n    when: order.total > 5\n    then: { stop: true }\n")})
    problem, _ = only_problem(root)
    assert problem == PolicyProblem(
        "'then' does nothing: give block, require, warn, notify, set, or a pricing/returns action",
        str(root / "a.yaml"), 7, "idle", "then")


@pytest.mark.parametrize(("hook", "action", "message"), [
    ("order_approval", "markup: 10%", "'markup' is not an action of hook order_approval"),
    ("credit_check", "set_price: order.total", "'set_price' is not an action of hook credit_check"),
    ("return_handling", "discount: 5%", "'discount' is not an action of hook return_handling"),
    ("pricing", "refund: 50%", "'refund' is not an action of hook pricing"),
    ("order_approval", "{ block: x, stop: true }", "'stop' is not an action of hook order_approval"),
])
def test_action_of_another_hook_is_refused(tmp_path: Path, hook: str, action: str, message: str) -> None:
    then = action if action.startswith("{") else f"{{ {action} }}"
    when = "return.qty > 5" if hook == "return_handling" else "customer.grade == \"A\""
    root = write_policy(tmp_path, {"a.yaml": rules_file(f"  - id: r1\n    when: {when}\n    then: {then}\n",
                                                        hook=hook)})
    problem, _ = only_problem(root)
    assert (problem.message, problem.rule, problem.field, problem.line) == (message, "r1", "then", 7)


def test_rule_reading_the_policy_price_cannot_change_it(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"p.yaml": rules_file(
        "  - id: circular\n"
        "    scope: line\n"
        "    when: line.net_unit_price < line.policy_price\n"
        "    then: { discount: 5% }\n", name="pricing", hook="pricing")})
    problem, _ = only_problem(root)
    assert problem == PolicyProblem("a rule that reads line.policy_price cannot change the price",
                                    str(root / "p.yaml"), 8, "circular", "then")


def test_rule_reading_the_policy_price_cannot_stop_the_price_rules(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"p.yaml": rules_file(
        "  - id: late-stop\n"
        "    scope: line\n"
        "    when: line.net_unit_price < line.policy_price\n"
        "    then: { stop: true, warn: low }\n", name="pricing", hook="pricing")})
    problem, _ = only_problem(root)
    assert problem == PolicyProblem(
        "a rule that reads line.policy_price cannot stop the price rules: they have all run",
        str(root / "p.yaml"), 8, "late-stop", "then")


def test_policy_price_is_only_a_fact_of_the_pricing_hook(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: r1\n    scope: line\n    when: line.net_unit_price < line.policy_price\n    then: { warn: x }\n")})
    problem, _ = only_problem(root)
    assert problem.message.startswith("unknown fact 'line.policy_price' at decision point order_approval")


def test_message_without_require_or_notify_is_refused(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: r1\n    when: order.total > 5\n    then: { warn: careful, message: also careful }\n")})
    problem, _ = only_problem(root)
    assert (problem.message, problem.field) == (
        "'message' goes with require or notify; block and warn carry their own message", "then")


def test_line_scope_in_the_return_hook_is_refused(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"r.yaml": rules_file(
        "  - id: r1\n    scope: line\n    when: return.qty > 5\n    then: { block: x }\n",
        name="returns", hook="return_handling")})
    problem, _ = only_problem(root)
    assert (problem.message, problem.field, problem.line) == (
        "scope: line is only for order hooks; a return has no lines", "scope", 6)


@pytest.mark.parametrize(("text", "field", "message"), [
    ("hook: order_approvl", "hook",
     "unknown decision point 'order_approvl': this policy decides at order_approval, credit_check, pricing, "
     "return_handling; declare a new one in points/order_approvl.yaml (docs/decision-points.md)"),
    ("ruleset: Order Approval", "ruleset",
     "'Order Approval' cannot be used here: a rule set name is lower-case letters a-z, digits, - and _: "
     "order-approval"),
])
def test_rule_file_header_is_validated(tmp_path: Path, text: str, field: str, message: str) -> None:
    key = text.split(":")[0]
    header = {"ruleset": "ruleset: a", "hook": "hook: order_approval"}
    body = (f"{text if key == 'ruleset' else header['ruleset']}\n{text if key == 'hook' else header['hook']}\n"
            "version: '1'\nrules:\n  - { id: r1, when: order.total > 5, then: { block: x } }\n")
    root = write_policy(tmp_path, {"a.yaml": body})
    problem, _ = only_problem(root)
    assert (problem.field, problem.message) == (field, message)


def test_many_problems_are_reported_together_one_line_each(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {
        "a.yaml": rules_file(
            "  - id: r1\n    when: order.totl > 5\n    then: { block: x }\n"
            "  - id: r2\n    when: order.total > 5\n    then: { require: [financ] }\n"
            "  - id: r3\n    when: order.total == \"x\"\n    then: { block: x }\n"),
        "b.yaml": rules_file("  - id: r1\n    when: order.total > 5\n    then: { warn: x }\n",
                             name="b", hook="credit_check"),
        "c.yaml": "ruleset: c\nhook: pricing\n  bad: indent\n",
    })
    problems, text = load_problems(root)
    lines = text.splitlines()
    assert len(lines) == len(problems) == 5
    assert [(Path(p.path or "").name, p.line, p.rule, p.field) for p in problems] == [
        ("c.yaml", 3, None, None),  # unreadable files first: they stop nothing else from being checked
        ("a.yaml", 6, "r1", "when"),
        ("a.yaml", 10, "r2", "then"),
        ("a.yaml", 12, "r3", "when"),
        ("b.yaml", 5, "r1", "id"),
    ]
    assert all(line.startswith(str(root)) for line in lines)
    assert lines == [str(p) for p in problems]


def test_policy_error_exposes_the_first_problem_as_attributes(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: big-order\n    when: order.totl > 5\n    then: { block: x }\n")})
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    err = info.value
    assert (err.path, err.line, err.rule, err.suggestion) == (str(root / "a.yaml"), 6, "big-order", "order.total")


def test_single_rule_file_loads_without_policy_yaml(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("ruleset: a\nhook: order_approval\nversion: '3'\nroles: [finance]\nrules:\n"
                    "  - { id: r1, when: order.total > 5, then: { require: [finance] } }\n", encoding="utf-8")
    policy = load_policy(path)
    assert (policy.roles, policy.version, [r.id for r in policy.rules]) == (("finance",), "3", ["r1"])


def _console_problems(block: str) -> list[str]:
    return [line for line in block.splitlines() if line and not line.startswith(("$", "error:"))]


def test_validation_example_in_the_language_reference_is_what_salesgate_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "policy-language.md").read_text(encoding="utf-8")
    section = docs.split("## Validation errors", 1)[1]
    rule_file = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    first, second = (block.split("```", 1)[0] for block in section.split("```console\n")[1:3])
    root = write_policy(tmp_path / "my-policy", {"approval.yaml": rule_file},
                        policy_yaml=(seed_policy_path() / "policy.yaml").read_text(encoding="utf-8"))
    shutil.copytree(seed_policy_path() / "calendars", root / "calendars")  # the seed's policy.yaml names cn
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyError) as info:
        load_policy("my-policy/")
    assert str(info.value).splitlines() == _console_problems(first)
    (root / "approval.yaml").write_text(rule_file.replace(", message: check it", ""), encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy("my-policy/")
    assert str(info.value).splitlines() == _console_problems(second)


def test_rule_examples_in_the_language_reference_load(tmp_path: Path) -> None:
    """Every YAML snippet of rules in the reference is valid in a rule file of its hook."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "policy-language.md").read_text(encoding="utf-8")
    snippets = [block.split("```", 1)[0] for block in docs.split("```yaml\n")[1:]]
    rules = [s for s in snippets if s.startswith("  - id:")]
    assert len(rules) >= 5
    hooks = {"short-of-stock": "order_approval", "over-limit-with-plan": "credit_check",
             "change-of-mind-fee": "return_handling"}
    # the data files the reference shows (a block starting with its path: data/region_limits.csv)
    tables = dict(re.findall(r"```\n(data/[a-z_]+\.csv)\n(.*?)```", docs, re.DOTALL))
    for index, snippet in enumerate(rules):
        rule_id = snippet.split("id:", 1)[1].split()[0]
        root = write_policy(tmp_path / str(index), {"r.yaml": rules_file(snippet, hook=hooks.get(rule_id, "pricing")),
                                                    **tables},
                            policy_yaml=(seed_policy_path() / "policy.yaml").read_text(encoding="utf-8"))
        shutil.copytree(seed_policy_path() / "calendars", root / "calendars")  # the seed's policy.yaml names cn
        assert [r.id for r in load_policy(root).rules] == [rule_id]


# -- limits (docs/policy-language.md, "Limits") -----------------------------------------------------------

def _bomb(levels: int = 9) -> str:
    """A "billion laughs" rule file: each anchor is a list of nine aliases of the one before."""
    anchors = ['x0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    anchors += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    rule = f"  - id: laughs\n    when: *a{levels - 1}\n    then: {{ block: x }}\n"
    return "\n".join(anchors) + "\n" + rules_file(rule)


def test_a_yaml_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit(tmp_path: Path) -> None:
    """Under 700 bytes that expanded to 9^9 values: 1.5 GB and a MemoryError (while formatting the error)."""
    text = _bomb()
    assert len(text.encode()) < 700
    root = write_policy(tmp_path, {"a.yaml": text})
    problem, _ = only_problem(root)
    assert (problem.path, problem.line) == (str(root / "a.yaml"), 6)
    assert problem.message == ("aliases repeat more than 100,000 values in this file (*a4 alone repeats 66,430): "
                               "write the values out")


def test_a_merge_key_in_thousands_of_rules_stays_within_the_alias_limit(tmp_path: Path) -> None:
    """<<: *common in every rule of a large generated file is ordinary YAML, not a bomb."""
    rules = "  - id: r0\n    when: order.total > 0\n    then: &common { notify: [finance], message: m }\n"
    rules += "".join(f"  - id: r{i}\n    when: order.total > {i}\n    then:\n      <<: *common\n      warn: w{i}\n"
                     for i in range(1, 4_000))
    root = write_policy(tmp_path, {"a.yaml": rules_file(rules)})
    policy = load_policy(root)
    assert len(policy.rules) == 4_000
    assert policy.rules[-1].action.notify == ("finance",)


def test_aliases_within_the_limit_still_share_a_message(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: r1\n    when: order.total > 5\n    then: { warn: &big { zh: 大单, en: big order } }\n"
        "  - id: r2\n    when: order.total > 9\n    then: { warn: *big }\n")})
    assert [r.action.translations for r in load_policy(root).rules] == [{"en": "big order"}] * 2


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    root = write_policy(tmp_path, {"a.yaml": "loop: &a [1, *a]\n" + rules_file(
        "  - id: r1\n    when: order.total > 5\n    then: { warn: x }\n")})
    problem, _ = only_problem(root)
    assert (problem.line, problem.message) == (
        1, "the alias *a is inside its own anchor &a: it would repeat itself forever")


def test_yaml_nested_deeper_than_the_limit_is_refused_at_its_line(tmp_path: Path) -> None:
    """5,000 nested brackets were a RecursionError traceback."""
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: r1\n    when: order.total > 5\n    description: " + "[" * 5_000 + "]" * 5_000
        + "\n    then: { warn: x }\n")})
    problem, _ = only_problem(root)
    assert (problem.line, problem.message) == (7, "lists and mappings nested more than 64 levels deep")


def test_a_rule_file_over_one_mebibyte_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    padding = "# " + "x" * 98 + "\n"
    text = rules_file("  - id: r1\n    when: order.total > 5\n    then: { warn: x }\n")
    text += padding * (MAX_FILE_BYTES // len(padding) + 1)
    root = write_policy(tmp_path, {"a.yaml": text})
    problem, _ = only_problem(root)
    assert problem == PolicyProblem(
        "larger than 1,048,576 bytes (1 MiB), the most a policy file may hold: split it into several files",
        str(root / "a.yaml"))
    (root / "a.yaml").write_text(text[:MAX_FILE_BYTES], encoding="utf-8")  # exactly at the limit: loads
    assert [r.id for r in load_policy(root).rules] == ["r1"]


def test_a_policy_over_four_mebibytes_is_refused(tmp_path: Path) -> None:
    rule = "  - id: r{n}-{i}\n    when: order.total > {i}\n    then: {{ warn: x }}\n"
    files = {}
    for n in range(5):
        body = "".join(rule.format(n=n, i=i) for i in range(22_000))[:MAX_FILE_BYTES - 200]
        files[f"f{n}.yaml"] = rules_file(body[:body.rindex("  - id:")], name=f"f{n}")
    root = write_policy(tmp_path, files)
    problem, _ = only_problem(root)
    assert problem.path == str(root)
    assert problem.message.endswith("more than 4,194,304 (4 MiB), the most a policy may hold")


@pytest.mark.parametrize(("then", "field", "message"), [
    ("{ add: 1e30 }", "then.add",
     "the amount 1E+30 is too large: an amount added to a price is below 9 × 10^14"),
    ("{ add: -1000000000000000 }", "then.add",
     "the amount -1000000000000000 is too large: an amount added to a price is below 9 × 10^14"),
    ("{ add: 900000000000000 }", "then.add",  # every price it reached would pass what a price may be
     "the amount 900000000000000 is too large: an amount added to a price is below 9 × 10^14"),
    ("{ add: .nan }", "then.add", "expected a finite number, not nan"),
    ("{ set_price: '1234567890123456789012345678901234567890' }", "then",
     "set_price: the number 1234567890123456789012345678901234567890 is too large: numbers in a policy have at most "
     "15 digits before the decimal point (column 1 of: 1234567890123456789012345678901234567890)"),
    ("{ set_price: '999999999999999 * 999999999999999' }", "then",
     "set_price: the price 1.000000E+30 is too large: a price is below 9 × 10^14 once rounded to the cent (column 1 "
     "of: 999999999999999 * 999999999999999)"),
    ("{ set_price: 920000000000000 }", "then",  # below the numbers' 10^15, beyond what durable compares
     "set_price: the price 920000000000000 is too large: a price is below 9 × 10^14 once rounded to the cent (column "
     "1 of: 920000000000000)"),
    ("{ floor: 899999999999999.995 }", "then",  # rounds to 9 × 10^14
     "floor: the price 899999999999999.995 is too large: a price is below 9 × 10^14 once rounded to the cent (column "
     "1 of: 899999999999999.995)"),
    ("{ floor: 1000000000000000 }", "then",
     "floor: the number 1000000000000000 is too large: numbers in a policy have at most 15 digits before the decimal "
     "point (column 1 of: 1000000000000000)"),
    # digits other than 0-9 (full-width, as a Chinese input method types them): facts refuse them too
    ('{ add: "１０" }', "then.add", "write the amount '１０' with the digits 0-9"),
    ('{ markup: "１０%" }', "then.markup", "bad percentage '１０%': write it like 10% or 0.10"),
])
def test_a_price_action_no_price_can_hold_is_refused_at_load_time(tmp_path: Path, then: str, field: str,
                                                                   message: str) -> None:
    """These validated, then blocked every matching decision with InvalidOperation (or, written with other
    digits than 0-9, were read as numbers although facts refuse them)."""
    root = write_policy(tmp_path, {"p.yaml": rules_file(f"  - id: r1\n    when: true\n    then: {then}\n",
                                                        name="p", hook="pricing")})
    problem, _ = only_problem(root)
    assert (problem.line, problem.rule, problem.field, problem.message) == (7, "r1", field, message)


def test_a_long_condition_is_quoted_in_the_error_only_around_the_problem(tmp_path: Path) -> None:
    when = " or ".join(f"order.total > {i}" for i in range(200))
    root = write_policy(tmp_path, {"a.yaml": rules_file(f"  - id: r1\n    when: {when}\n    then: {{ warn: x }}\n")})
    problem, _ = only_problem(root)
    assert problem.message.startswith("more than 100 operators in one expression")
    quoted = problem.message.split(" of: ", 1)[1]
    assert len(quoted) < 70
    assert quoted.startswith("…")
    assert quoted.endswith("…)")


_DEEP = "(" * 130 + "order.total > 1" + ")" * 130


def _validate(root: Path) -> list[str]:
    result = CliRunner().invoke(cli, ["validate", str(root)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr.splitlines()


def _decide(root: Path) -> list[str]:
    facts = root.parent / "facts.json"
    facts.write_text(json.dumps({"order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-23", "lines": []},
                                 "customer": {"id": "C1", "name": "n", "credit_limit": "1000"}}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["decide", "approval", str(facts), "--rules", str(root), "--backend", "python"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr.splitlines()


def _from_path(root: Path) -> list[str]:
    with pytest.raises(PolicyError) as info:
        Gate.from_path(root, backend="python", entry_points=False)
    return [*str(info.value).splitlines(), "error"]


def _reloader(root: Path) -> list[str]:
    with Gate.default(backend="python", entry_points=False) as gate:
        result = PolicyReloader(gate, root, settle=0).check_now()
    assert result.status == "rejected", result
    return [*result.problems, "error"]


@pytest.mark.parametrize("entry", [_validate, _decide, _from_path, _reloader])
@pytest.mark.parametrize(("body", "line", "rule", "message"), [
    (f"  - id: deep\n    when: {_DEEP}\n    then: {{ warn: x }}\n", 6, "'deep', field 'when'",
     "nested more than 32 levels deep"),
    (f"  - id: long\n    when: {' and '.join(['order.guarantee'] * 1_000)}\n    then: {{ warn: x }}\n", 6,
     "'long', field 'when'", "more than 100 operators in one expression"),
    ("  - id: yes-rule\n    when: yes\n    then: { warn: x }\n", 6, "'yes-rule', field 'when'",
     "YAML reads 'yes' as true, not as a condition"),
])
def test_every_way_in_reports_a_limit_at_file_line_and_rule(
    tmp_path: Path, entry: Callable[[Path], list[str]], body: str, line: int, rule: str, message: str,
) -> None:
    """validate, decide --rules, Gate.from_path and the reloader: one line per problem, never a traceback."""
    root = write_policy(tmp_path / "rules", {"a.yaml": rules_file(body)})
    lines = entry(root)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{root / 'a.yaml'}:{line}, rule {rule}: {message}")


@pytest.mark.parametrize("entry", [_validate, _from_path, _reloader])
def test_every_way_in_refuses_an_alias_bomb_at_its_line(tmp_path: Path, entry: Callable[[Path], list[str]]) -> None:
    root = write_policy(tmp_path / "rules", {"a.yaml": _bomb()})
    lines = entry(root)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{root / 'a.yaml'}:6: aliases repeat more than 100,000 values in this file")


def test_every_limit_is_in_the_language_reference_with_its_value() -> None:
    from salesgate.policy import limits

    docs = (Path(__file__).resolve().parents[1] / "docs" / "policy-language.md").read_text(encoding="utf-8")
    table = docs.split("## Limits", 1)[1].split("\n## ", 1)[0]
    values = {name: getattr(limits, name) for name in dir(limits) if name.startswith("MAX_")}
    assert len(values) == 13
    powers = {"MAX_NUMBER": "10^15", "MAX_PRICE": "9 × 10^14"}
    for name, value in values.items():
        shown = powers.get(name, f"{value:,}")
        assert shown in table, (name, shown)


@pytest.mark.parametrize(("then", "price"), [("{ set_price: 2600 }", 2600), ("{ floor: 12.50 }", Decimal("12.50"))])
def test_a_price_formula_yaml_reads_as_a_number_is_that_number(tmp_path: Path, then: str, price: Decimal) -> None:
    """set_price: 2600 unquoted was 'Input should be a valid string'."""
    root = write_policy(tmp_path, {"p.yaml": rules_file(f"  - id: r1\n    when: true\n    then: {then}\n",
                                                        name="p", hook="pricing")})
    action = load_policy(root).rules[0].action
    assert (action.set_price or action.floor) == Const(price, Kind.number)


@pytest.mark.parametrize(("text", "what"), [
    (r'"加急\ud800"', r"a lone surrogate ('\ud800') at character 3"),
    (r'"加急\0"', r"a NUL character (\0) at character 3"),
])
def test_policy_text_no_database_can_store_is_refused_at_its_line(tmp_path: Path, text: str, what: str) -> None:
    """A message holding a lone surrogate validated; with a store, every decision the rule fired on
    then failed to be logged and was answered by the failure mode."""
    root = write_policy(tmp_path, {"a.yaml": rules_file(
        "  - id: r1\n    when: order.total > 1\n"
        f"    then: {{ require: [sales_manager], message: {{ zh: {text}, en: ok }} }}\n")})
    problem, _ = only_problem(root)
    assert (problem.path, problem.line) == (str(root / "a.yaml"), 7)
    assert problem.message == f"the text holds {what}, which no database can store: remove the escape"


def test_a_condition_holding_a_lone_surrogate_is_one_clear_problem(tmp_path: Path) -> None:
    """It was two problems naming pydantic's union members: 'when.constrained-str' and 'Input should be True'."""
    root = write_policy(tmp_path, {"a.yaml": rules_file('  - id: r1\n    when: "customer.region == \'\\udc00\'"\n'
                                                        "    then: { require: [sales_manager] }\n")})
    problem, _ = only_problem(root)
    assert problem.line == 6
    assert "a lone surrogate ('\\udc00') at character 21" in problem.message


@pytest.mark.parametrize(("when", "column", "char"), [
    ("order.total > １００００", 15, "１"),  # full-width digits, as a Chinese input method types them
    ("order.total > 1٠", 16, "٠"),  # an Arabic-Indic zero after an ASCII one: read as 10
    ("order.order_date + days(３) > date('2026-12-01')", 25, "３"),
])
def test_a_number_written_with_other_digits_than_0_to_9_is_refused(tmp_path: Path, when: str, column: int,
                                                                   char: str) -> None:
    """Python's Decimal reads any script's digits, so these validated as numbers; the facts an ERP
    sends are refused for them (never a guess), and so is a policy now."""
    root = write_policy(tmp_path, {"a.yaml": rules_file(f'  - id: r1\n    when: "{when}"\n'
                                                        "    then: { require: [sales_manager] }\n")})
    problem, _ = only_problem(root)
    assert (problem.line, problem.rule, problem.field) == (6, "r1", "when")
    assert problem.message.startswith(f"unexpected character {char!r} (write numbers with the digits 0-9) "
                                      f"(column {column} of: ")


def test_an_integer_of_thousands_of_digits_is_a_problem_at_its_line_not_a_traceback(tmp_path: Path) -> None:
    """Python converts at most 4,300 digits of text to an int: `salesgate validate` printed the
    ValueError's traceback."""
    root = write_policy(tmp_path, {"a.yaml": rules_file(f"  - id: r1\n    priority: {'9' * 5000}\n"
                                                        "    when: true\n    then: { require: [sales_manager] }\n")})
    problem, _ = only_problem(root)
    assert (problem.path, problem.line) == (str(root / "a.yaml"), 6)
    assert problem.message == "a number of 5,000 digits, more than the 4,300 salesgate reads"
    result = CliRunner().invoke(cli, ["validate", str(root)])
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"{root / 'a.yaml'}:6: {problem.message}"


@pytest.mark.parametrize(("text", "refused"), [
    ("a: " + "[" * 63 + "1" + "]" * 63, False),  # 64 lists and mappings, a number in the innermost
    ("a: " + "[" * 64 + "1" + "]" * 64, True),
    ("x: &x [[1]]\nb: " + "[" * 61 + "*x" + "]" * 61, False),  # 1 + 61 + the alias's 2
    ("x: &x [[1]]\nb: " + "[" * 62 + "*x" + "]" * 62, True),
])
def test_the_yaml_depth_limit_counts_lists_and_mappings_only(tmp_path: Path, text: str, refused: bool) -> None:
    """The limit says 64 levels of lists and mappings; the number inside the 64th was counted as a
    65th level, so 64 levels holding a value were refused."""
    from salesgate.policy.limits import MAX_YAML_DEPTH

    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    assert MAX_YAML_DEPTH == 64
    if refused:
        with pytest.raises(PolicyError, match="lists and mappings nested more than 64 levels deep"):
            load_yaml(path)
    else:
        assert load_yaml(path) is not None


def test_a_number_of_thousands_of_digits_in_a_condition_is_quoted_short() -> None:
    """int() refused it ('bad number'), and the message repeated all 5,000 digits."""
    from salesgate.policy import expressions

    with pytest.raises(expressions.ExpressionError) as info:
        expressions.parse("order.total > " + "9" * 5000)
    assert str(info.value) == ("the number 99999999999999999999… (5,000 characters) is too large: numbers in a policy "
                               "have at most 15 digits before the decimal point")
    assert info.value.column == 15


def _over_each_limit() -> dict[str, list[dict[str, str]]]:
    """Per row of the Limits table (by its first words): policies (rule files) that cross that limit."""
    def when(condition: str) -> list[dict[str, str]]:
        return [{"a.yaml": rules_file(f"  - id: r1\n    when: '{condition}'\n    then: {{ warn: x }}\n")}]

    def pricing(*actions: str) -> list[dict[str, str]]:
        rule = "  - id: p1\n    when: order.total > 1\n    scope: line\n    then: {{ {then} }}\n"
        return [{"p.yaml": rules_file(rule.format(then=then), name="p", hook="pricing")} for then in actions]

    big_rule = "  - id: r{n}-{i}\n    when: order.total > {i}\n    then: {{ warn: x }}\n"
    chunk = "".join(big_rule.format(n="{n}", i=i) for i in range(16_000))
    alias = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 7))
    return {
        "One YAML file": [{"a.yaml": rules_file(chunk.replace("{n}", "0")[:MAX_FILE_BYTES + 100])}],
        "All files of a policy": [{f"f{n}.yaml": rules_file(chunk.replace("{n}", str(n))[:MAX_FILE_BYTES - 400],
                                                            name=f"f{n}") for n in range(5)}],
        "Lists and mappings": [{"a.yaml": rules_file("  - id: r1\n    when: order.total > 1\n    then: { warn: x }\n"
                                                     "    description: " + "[" * 70 + "]" * 70 + "\n")}],
        "Values YAML aliases": [{"a.yaml": alias + rules_file("  - id: r1\n    when: order.total > 1\n"
                                                              "    then: { warn: x }\n")}],
        "Characters of one expression": when(" or ".join(['customer.id == "' + "a" * 50 + '"'] * 400)),
        "Characters of one quoted text": when('customer.id == "' + "a" * 1001 + '"'),
        "Nesting in one expression": when("(" * 33 + "order.total > 1" + ")" * 33),
        "Operators in one expression": when(" and ".join(["order.total > 1"] * 101)),
        "Text anywhere in a YAML file": [{"a.yaml": rules_file('  - id: r1\n    when: order.total > 1\n'
                                                               '    then: { warn: "加急\\ud800" }\n')}],
        "A number in an expression": when("order.total > 1000000000000000"),
        "`add:`": pricing("add: 900000000000000"),
        "A `set_price`": pricing("set_price: 999999999999999 * 2", "floor: 999999999999999 + 1"),
        "Rows of one lookup table": [{
            "a.yaml": rules_file("  - id: r1\n    when: order.total > 1\n    then: { warn: x }\n"),
            "data/t.csv": "k:text,v:number\n" + "".join(f"k{i},1\n" for i in range(100_001))}],
        "Memory RE2": when('matches(customer.name, "' + "\\pL{1000}" * 5 + '")'),
        "`days(n)`": when('order.order_date > date("2026-01-01") - days(100001)'),
        "A constant date": when('order.order_date > date("9999-12-01") + days(100)'),
    }


def _documented_limits() -> list[tuple[str, list[str]]]:
    text = (Path(__file__).resolve().parents[1] / "docs" / "policy-language.md").read_text(encoding="utf-8")
    table = text.split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and "`" in line.split(" | ")[-1]]
    return [(row[0].removeprefix("| "), [m for m in re.findall(r"`([^`]+)`", row[-1]) if " " in m])  # not `add:`
            for row in rows if len(row) == 3]


@pytest.mark.parametrize(("limit", "messages"), _documented_limits(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_documented_limit_is_refused_with_the_message_the_docs_give(tmp_path: Path, limit: str,
                                                                          messages: list[str]) -> None:
    """docs/policy-language.md "Limits": crossing the row's limit gives one of the row's messages (N: the
    figure), and each message the row gives is one that crossing it gives."""
    cases = _over_each_limit()
    [key] = [key for key in cases if limit.startswith(key)] or [None]
    assert key is not None, f"no case crosses the documented limit {limit!r}: add one to _over_each_limit"
    number = r"[\d,.E+]+"
    patterns = [re.escape(message).replace(r"\*a4", r"\*\w+").replace("66,430", number).replace("…", ".*")
                for message in messages]
    patterns = [re.sub(r"\bN\b", lambda _: number, pattern) for pattern in patterns]
    texts = [load_problems(write_policy(tmp_path / str(i), files))[1] for i, files in enumerate(cases[key])]
    for text in texts:
        assert any(re.search(pattern, text) for pattern in patterns), text
    for message, pattern in zip(messages, patterns, strict=True):
        assert any(re.search(pattern, text) for text in texts), f"no case gives {message!r}"
