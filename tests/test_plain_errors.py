"""The mistakes policy owners make, answered in words they act on (issue 13, "Errors in plain words").

Each of these gave a message only a programmer reads ("unexpected ','", "String should match
pattern '^[a-z][a-z0-9_]*$'", "expected <block end>, but found '?'"); each now says what to write.
The last tests feed bad input to every loader a policy owner meets and check that no pydantic,
regex or parser phrase reaches them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from salesgate import Gate, PolicyError, PolicyProblem, load_policy
from salesgate.cli import cli
from salesgate.policy.schema import Action, Rule
from salesgate.policy.testcases import load_cases
from salesgate.policy.yamlfile import ACTION_KEYS, RULE_KEYS

POLICY_YAML = "name: test-policy\nversion: '1'\nroles: [sales_rep, sales_manager, finance, general_manager]\n"
HEAD = "ruleset: approval\nhook: order_approval\nversion: '1'\nrules:\n"


def problems_of(tmp_path: Path, body: str, *, files: dict[str, str] | None = None) -> list[PolicyProblem]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "policy.yaml").write_text(POLICY_YAML, encoding="utf-8")
    (tmp_path / "a.yaml").write_text(HEAD + body, encoding="utf-8")
    for name, text in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path)
    return info.value.problems


def when_problem(tmp_path: Path, when: str) -> PolicyProblem:
    (problem,) = problems_of(tmp_path, f"  - id: r1\n    when: '{when}'\n    then: {{ block: stop }}\n")
    assert (problem.line, problem.rule, problem.field) == (6, "r1", "when")
    return problem


# -- numbers ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("when", "message"), [
    ("order.total > 30,000", "30,000 has a thousands separator: write 30000 (or 30_000), without commas"),
    ("order.total > 1,250,000.50", "1,250,000.50 has a thousands separator: write 1250000.50"),
    ("order.total > 3万",
     "3万 is not a number here: a number in a rule is written in digits only: write 30000 for 3万"),
    ("order.total > 2.5万", "write 25000 for 2.5万"),
    ("order.total > 30000元", "30000元 is not a number here: an amount in a rule has no currency: write 30000"),
    ("order.total > 100k", "write 100000 for 100k"),
])
def test_a_number_written_as_in_a_handbook_says_the_number_to_write(tmp_path: Path, when: str, message: str) -> None:
    assert message in when_problem(tmp_path, when).message


def test_a_list_of_three_digit_numbers_is_still_a_list(tmp_path: Path) -> None:
    body = "  - id: r1\n    when: order.total in [100,200]\n    then: { block: stop }\n"
    (tmp_path / "policy.yaml").write_text(POLICY_YAML, encoding="utf-8")
    (tmp_path / "a.yaml").write_text(HEAD + body, encoding="utf-8")
    assert [r.id for r in load_policy(tmp_path).rules] == ["r1"]


# -- words and signs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("when", "message"), [
    ("order.total > 3 并且 order.total < 5", "write 'and' for '并且': the words of a condition are English"),
    ("order.total > 3 或者 order.total < 5", "write 'or' for '或者'"),
    ("order.total > 3 AND order.total < 5", "write 'and', not 'AND': the words of a condition are in lower case"),
    ("order.total > 3 OR order.total < 5", "write 'or', not 'OR'"),
    ("NOT order.guarantee", "write 'not', not 'NOT'"),
    ("order.guarantee == TRUE", "write 'true', not 'TRUE'"),
    ("line.discount > 5％", "unexpected character '％' (a full-width '％': write '%'"),
    ("order.total ＞ 5", "a full-width '＞': write '>'"),
    ("order.total ＜ 5", "a full-width '＜': write '<'"),
    ("order.total ＝＝ 5", "a full-width '＝': write '='"),
    ("（order.total > 5）", "a full-width '（': write '('"),
    ("customer.grade == “A”", "a curly quote: write text in straight quotes"),
])
def test_a_word_or_sign_typed_with_a_chinese_input_method_says_what_to_write(tmp_path: Path, when: str,
                                                                             message: str) -> None:
    assert message in when_problem(tmp_path, when).message


def test_full_width_digits_keep_their_own_advice(tmp_path: Path) -> None:
    assert "(write numbers with the digits 0-9)" in when_problem(tmp_path, "order.total > ５").message


def test_a_fact_written_by_its_last_part_suggests_the_full_path(tmp_path: Path) -> None:
    problem = when_problem(tmp_path, 'region == "west"')
    assert problem.suggestion == "customer.region"
    assert "unknown fact 'region'" in problem.message


def test_a_last_part_several_facts_share_lists_them_instead_of_guessing(tmp_path: Path) -> None:
    problem = when_problem(tmp_path, "total > 5")
    assert "facts named 'total' are order.total" in problem.message
    assert problem.suggestion is None


def test_a_misspelt_full_path_still_gets_the_closest_spelling(tmp_path: Path) -> None:
    assert when_problem(tmp_path, "order.totl > 5").suggestion == "order.total"


# -- ids and roles --------------------------------------------------------------------------------------------------

FACTS = {"order": {"id": "SO-1", "customer_id": "C-1", "order_date": "2026-11-23",
                   "lines": [{"line_no": 1, "sku": "P-1", "qty": 2, "unit_price": "300.00"}]},
         "customer": {"id": "C-1", "name": "华东机电", "credit_limit": "1000"},
         "products": [{"sku": "P-1", "list_price": "300.00", "cost": "100.00", "stock": 10}]}


@pytest.mark.parametrize("backend", ["python", "durable", "compiled"])
def test_a_rule_id_in_chinese_decides_explains_and_prints_on_every_backend(tmp_path: Path, backend: str) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY_YAML, encoding="utf-8")
    (tmp_path / "a.yaml").write_text(HEAD + "  - id: 大订单\n    when: order.total > 500\n"
                                     "    then: { require: [sales_manager], message: 大订单需审批 }\n"
                                     "  - id: 小订单-2\n    when: order.total < 500\n    then: { warn: 小 }\n",
                                     encoding="utf-8")
    decision = Gate.from_path(tmp_path, backend=backend).decide("order_approval", FACTS)
    assert [reason.rule for reason in decision.reasons] == ["大订单"]
    assert "大订单" in decision.model_dump_json()
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["decide", "approval", str(facts), "--rules", str(tmp_path), "--explain",
                                      "--backend", backend])
    assert result.exit_code == 0, result.output
    assert "大订单" in result.output
    assert "小订单-2" in result.output


@pytest.mark.parametrize(("rule_id", "shown"), [("Big Order", "'Big Order'"), ("-big", "'-big'"), ("_x", "'_x'")])
def test_a_rule_id_that_cannot_be_one_says_what_an_id_is(tmp_path: Path, rule_id: str, shown: str) -> None:
    (problem,) = problems_of(tmp_path, f"  - id: '{rule_id}'\n    when: order.total > 5\n    then: {{ block: stop }}\n")
    assert problem.field == "id"
    assert problem.message == (f"{shown} cannot be used here: a rule id is letters (of any language), digits, - and _, "
                               "starting with a letter or digit: large-order, 大订单")


def test_a_role_in_chinese_lists_the_ladder(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "  - id: r1\n    when: order.total > 5\n    then: { require: [销售经理] }\n")
    assert (problem.line, problem.rule, problem.field) == (7, "r1", "then")
    assert problem.message == ("unknown role '销售经理': the ladder is sales_rep, sales_manager, finance, "
                               "general_manager")


# -- YAML shapes ------------------------------------------------------------------------------------------------------


def test_message_dedented_to_the_rules_level_says_indent_it_under_then(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "  - id: r1\n    when: order.total > 5\n    then:\n      require: [finance]\n"
                                       "    message: big order\n")
    assert (problem.line, problem.rule, problem.field) == (9, "r1", "message")
    assert problem.message.endswith("'message' belongs to the action: indent it under 'then:', as deep as the "
                                    "action's other fields")


def test_message_dedented_out_of_the_rule_says_indent_it_under_then(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "  - id: r1\n    when: order.total > 5\n    then:\n      require: [finance]\n"
                                       "  message: big order\n")
    assert problem.line == 9
    assert problem.message == ("YAML cannot read this line: 'message:' is indented less than the rule it belongs to: "
                               "it is part of the action, so indent it under 'then:', as deep as the action's other "
                               "fields")


def test_a_rule_missing_its_dash_says_each_rule_starts_with_one(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "  - id: r1\n    when: order.total > 5\n    then: { block: stop }\n"
                                       "  id: r2\n  when: order.total > 9\n  then: { block: stop }\n")
    assert problem.line == 8
    assert "'id:' is not inside a rule: each rule starts with '- ' (write '- id: ...')" in problem.message
    (problem,) = problems_of(tmp_path, "  - id: r1\n    when: order.total > 5\n    then: { block: stop }\n"
                                       "    id: r2\n    when: order.total > 9\n    then: { block: stop }\n")
    assert "key 'id' appears twice in this mapping (each rule starts with '- ': is the dash missing" in problem.message


@pytest.mark.parametrize("then", ["{ block: 订单太大, 请审批 }", "{ require: [finance], message: big, ask finance }"])
def test_an_unquoted_comma_in_a_message_says_to_quote_it(tmp_path: Path, then: str) -> None:
    (problem,) = problems_of(tmp_path, f"  - id: r1\n    when: order.total > 5\n    then: {then}\n")
    assert (problem.line, problem.rule) == (7, "r1")
    assert ("YAML read the text after a comma as a field of its own; put text holding a comma in quotes"
            in problem.message)


def test_the_yaml_hints_know_every_rule_and_action_field() -> None:
    assert set(Rule.model_fields) == RULE_KEYS
    assert {info.alias or name for name, info in Action.model_fields.items()} == ACTION_KEYS


# -- test cases -------------------------------------------------------------------------------------------------------

CASES_HEAD = "hook: credit_check\ncases:\n  - name: a case\n"
CUSTOMER = "{ id: C1, name: 华东, credit_limit: 5000 }"


def case_problems(tmp_path: Path, body: str) -> list[PolicyProblem]:
    root = tmp_path / "policy"
    (root / "tests").mkdir(parents=True)
    (root / "policy.yaml").write_text(POLICY_YAML, encoding="utf-8")
    (root / "a.yaml").write_text(HEAD + "  - id: r1\n    when: order.total > 5\n    then: { block: stop }\n",
                                 encoding="utf-8")
    (root / "tests" / "t.yaml").write_text(CASES_HEAD + body, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_cases(root, load_policy(root))
    return info.value.problems


ORDER = "{ id: O1, customer_id: C1, order_date: 2026-11-01, lines: [{ line_no: 1, sku: A, qty: 1, unit_price: 10 }] }"


def test_an_unknown_key_in_test_case_facts_gets_a_did_you_mean(tmp_path: Path) -> None:
    (problem,) = case_problems(tmp_path, "    facts: { customer: { id: C1, name: a, credit_limt: 5 }, "
                                         f"order: {ORDER} }}\n"
                                         "    expect: { outcome: allow }\n")
    assert (problem.field, problem.suggestion) == ("facts.customer.credit_limt", "credit_limit")
    assert "not a fact salesgate knows" in problem.message


def test_a_grouped_amount_in_test_case_facts_says_to_write_it_without_separators(tmp_path: Path) -> None:
    (problem,) = case_problems(tmp_path, f"    facts: {{ customer: {{ id: C1, name: a, credit_limit: '30,000.01' }}, "
                                         f"order: {ORDER} }}\n    expect: {{ outcome: allow }}\n")
    assert problem.field == "facts.customer.credit_limit"
    assert problem.message.endswith("expected a number, not '30,000.01': write 30000.01 without the thousands "
                                    "separators")



@pytest.mark.parametrize(("amount", "message"), [
    ("'1.23456'", "'1.23456' has more than 4 decimals: round it"),
    ("'123456789012345678'", "'123456789012345678' has more than 14 digits before the decimal point"),
])
def test_a_too_precise_amount_in_test_case_facts_says_what_is_wrong_with_the_number(
        tmp_path: Path, amount: str, message: str) -> None:
    (problem,) = case_problems(tmp_path, f"    facts: {{ customer: {{ id: C1, name: a, credit_limit: {amount} }}, "
                                         f"order: {ORDER} }}\n    expect: {{ outcome: allow }}\n")
    assert problem.field == "facts.customer.credit_limit"
    assert problem.message.endswith(message)
    assert "expected a number" not in problem.message


@pytest.mark.parametrize("key", ["fired", "not_fired"])
def test_an_empty_fired_list_in_a_case_says_it_checks_nothing_and_what_to_write(tmp_path: Path, key: str) -> None:
    (problem,) = case_problems(tmp_path, f"    facts: {{ customer: {{ id: C1, name: a, credit_limit: 5 }}, "
                                         f"order: {ORDER} }}\n    expect: {{ outcome: allow, {key}: [] }}\n")
    assert problem.field == f"cases.0.expect.{key}"
    assert problem.message.endswith("[] checks nothing: fired: lists rules that must fire (others may fire too), "
                                    "not_fired: rules that must not; to check that no rule fired, list the rules "
                                    "under not_fired:")

def test_a_grouped_expected_amount_is_read_exactly(tmp_path: Path) -> None:
    root = tmp_path / "policy"
    (root / "tests").mkdir(parents=True)
    (root / "policy.yaml").write_text(POLICY_YAML, encoding="utf-8")
    (root / "a.yaml").write_text(HEAD + "  - id: r1\n    when: order.total > 5\n    then: { block: stop }\n",
                                 encoding="utf-8")
    (root / "tests" / "t.yaml").write_text(CASES_HEAD + f"    facts: {{ customer: {CUSTOMER}, order: {ORDER} }}\n"
                                           "    expect: { available: '30,000.01' }\n", encoding="utf-8")
    (case,) = load_cases(root, load_policy(root))
    assert str(case.expect.available) == "30000.01"


# -- no programmer's words, anywhere a policy owner looks ------------------------------------------------------------

FORBIDDEN = ("validation error for", "Input should be", "type=", "pydantic", "re.error", "should match pattern",
             "String should", "List should", "Field required", "<block end>", "constrained-str", "For further "
             "information", "errors.pydantic.dev")

BAD_RULES = [
    "  - id: Big Order\n    when: order.total > 5\n    then: { block: stop }\n",
    "  - id: r1\n    when: order.total > 5\n    scope: both\n    then: { block: stop }\n",
    "  - id: r1\n    when: order.total > 5\n    priority: high\n    then: { block: stop }\n",
    "  - id: r1\n    when: [order.total > 5]\n    then: { block: stop }\n",
    "  - id: r1\n    when: order.total > 5\n    then: [block]\n",
    "  - id: r1\n    when: order.total > 5\n    then: { require: finance }\n",
    "  - id: r1\n    when: order.total > 5\n    then: { require: [7] }\n",
    "  - id: r1\n    when: order.total > 5\n    then: { block: {} }\n",
    "  - id: r1\n    when: order.total > 5\n    then: { warn: [a, b] }\n",
    "  - id: r1\n    when: order.total > 5\n    then: { markup: lots }\n",
    "  - id: r1\n    when: order.total > 5\n    then: { add: '1,000' }\n",
    "  - id: r1\n    when: order.total > 5\n    then: { stop: maybe }\n",
    "  - id: r1\n    when: order.total > 5\n    description: [a]\n    then: { block: stop }\n",
    "  - when: order.total > 5\n    then: { block: stop }\n",
    "  - just text\n",
    "  - id: r1\n    when: order.total > 5\n    then:\n      require: [finance]\n  message: x\n",
]
BAD_POLICY_YAML = [
    "name: p\nversion: '1'\nroles: [Sales Manager]\n",
    "name: p\nversion: '1'\nroles: sales_rep\n",
    "name: p\nversion: '1'\nroles: []\n",
    "name: p\nversion: 1.0\nroles: [a]\nfailure_mode: maybe\n",
    "name: p\nversion: '1'\nroles: [a]\nfacts: {customer.x: {type: mony, description: x}}\n",
    "name: p\nversion: '1'\nroles: [a]\nfacts: {customer.x: {type: enum, description: x, choices: a}}\n",
    "name: [p]\nversion: '1'\nroles: [a]\n",
]
BAD_POINTS = [
    "point: Sample Request\ntitle: x\ndescription: x\ndocument: sample\nfields: {v: {type: money, description: x}}\n",
    "point: sample_request\ntitle: x\ndescription: x\ndocument: sample\nfields: {v: {type: mony, description: x}}\n",
    "point: sample_request\ntitle: x\ndescription: x\ndocument: sample\nfields: []\n",
    "point: sample_request\ntitle: x\ndescription: x\ndocument: sample\nfields: {v: {type: money, required: sure, "
    "description: x}}\n",
    "point: sample_request\ntitle: x\ndescription: x\ndocument: sample\nincludes: [orders]\n"
    "fields: {v: {type: money, description: x}}\n",
]
BAD_CASES = [
    "    expect: { outcome: allowed }\n",
    "    expect: { fired: 3 }\n",
    "    expect: { approvals: finance }\n",
    "    expect: { available: lots }\n",
    f"    facts: {{ customer: [1], order: {ORDER} }}\n    expect: {{ outcome: allow }}\n",
    f"    facts: {{ customer: {{ id: C1, name: a, credit_limit: 3万 }}, order: {ORDER} }}\n"
    "    expect: { outcome: allow }\n",
    f"    facts: {{ customer: {{ id: C1, name: a, credit_limit: 5, grade: Z }}, order: {ORDER} }}\n"
    "    expect: { outcome: allow }\n",
    "    facts: { customer: { id: C1, name: a }, order: { id: O1, customer_id: C1, order_date: 2026-13-45, "
    "lines: [] } }\n    expect: { outcome: allow }\n",
    "    point: Credit Check\n    expect: { outcome: allow }\n",
    "    expect: { outputs: {deposit: 5} }\n",
    "    name: [x]\n",
]


def _no_programmers_words(text: str) -> None:
    for phrase in FORBIDDEN:
        assert phrase not in text, f"{phrase!r} reaches a policy owner in:\n{text}"


@pytest.mark.parametrize("body", BAD_RULES)
def test_no_programmers_words_in_a_rule_files_problems(tmp_path: Path, body: str) -> None:
    text = "\n".join(str(p) for p in problems_of(tmp_path, body))
    _no_programmers_words(text)
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    _no_programmers_words(result.output)


@pytest.mark.parametrize("policy_yaml", BAD_POLICY_YAML)
def test_no_programmers_words_in_policy_yamls_problems(tmp_path: Path, policy_yaml: str) -> None:
    (tmp_path / "policy.yaml").write_text(policy_yaml, encoding="utf-8")
    (tmp_path / "a.yaml").write_text(HEAD + "  - id: r1\n    when: order.total > 5\n    then: { block: stop }\n",
                                     encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path)
    _no_programmers_words(str(info.value))


@pytest.mark.parametrize("point", BAD_POINTS)
def test_no_programmers_words_in_a_point_declarations_problems(tmp_path: Path, point: str) -> None:
    problems = problems_of(tmp_path, "  - id: r1\n    when: order.total > 5\n    then: { block: stop }\n",
                           files={"points/sample_request.yaml": point})
    _no_programmers_words("\n".join(str(p) for p in problems))


@pytest.mark.parametrize("body", BAD_CASES)
def test_no_programmers_words_in_a_test_files_problems(tmp_path: Path, body: str) -> None:
    text = "\n".join(str(p) for p in case_problems(tmp_path, body))
    _no_programmers_words(text)
    result = CliRunner().invoke(cli, ["test", str(tmp_path / "policy")])
    assert result.exit_code == 2
    _no_programmers_words(result.output)


def test_a_rule_id_in_chinese_is_tested_and_covered_by_salesgate_test(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "policy.yaml").write_text(POLICY_YAML, encoding="utf-8")
    (tmp_path / "a.yaml").write_text(HEAD + "  - id: 大订单\n    when: order.total > 500\n"
                                     "    then: { require: [sales_manager], message: 大订单需审批 }\n",
                                     encoding="utf-8")
    (tmp_path / "tests" / "t.yaml").write_text(
        "hook: order_approval\ncases:\n  - name: a big order\n"
        f"    facts: {json.dumps(FACTS, ensure_ascii=False)}\n"
        "    expect: { outcome: require_approval, fired: [大订单] }\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["test", str(tmp_path), "--require-coverage"])
    assert result.exit_code == 0, result.output
