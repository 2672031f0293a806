"""Warnings about policies that load but probably do not say what their owner meant (``salesgate validate``).

Each warning has a policy that raises it and, beside it, the corrected policy that raises none: a
warning that fired on everything would pass the first half of each test and fail the second.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from salesgate import load_policy
from salesgate.cli import cli
from salesgate.policy.lint import CODES, LintWarning, lint_policy, message_amounts
from salesgate.seed import seed_policy_path

POLICY_YAML = "name: test-policy\nversion: '1'\nroles: [sales_rep, sales_manager, finance, general_manager]\n"
HEAD = "ruleset: approval\nhook: {hook}\nversion: '1'\nrules:\n"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "policy-language.md"


def lint(tmp_path: Path, body: str, *, hook: str = "order_approval", policy_yaml: str = POLICY_YAML,
         files: dict[str, str] | None = None) -> list[LintWarning]:
    """The warnings of a policy of one rule file (rules from line 5) beside ``policy_yaml``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "policy.yaml").write_text(policy_yaml, encoding="utf-8")
    (tmp_path / "a.yaml").write_text(HEAD.format(hook=hook) + body, encoding="utf-8")
    for name, text in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return lint_policy(load_policy(tmp_path))


def codes(warnings: list[LintWarning]) -> list[tuple[str | None, str]]:
    return [(w.rule, w.code) for w in warnings]


# -- the shipped policy -----------------------------------------------------------------------------------


def test_the_seed_policy_lints_clean_under_strict() -> None:
    assert lint_policy(load_policy(seed_policy_path())) == []
    result = CliRunner().invoke(cli, ["validate", "--strict", str(seed_policy_path())])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


# -- overlapping ranges -------------------------------------------------------------------------------------

LADDER = """\
  - id: large-order
    when: order.total >= {large}
    then: {{ require: [sales_manager, general_manager] }}
  - id: medium-order
    when: order.total >= 20000 and order.total < 100000
    then: {{ require: [sales_manager] }}
"""


def test_raising_a_threshold_into_the_band_below_is_an_overlap_naming_both_rules(tmp_path: Path) -> None:
    (warning,) = lint(tmp_path, LADDER.format(large=50000))
    assert (warning.rule, warning.code, warning.line) == ("medium-order", "overlapping-ranges", 8)
    assert warning.path == str(tmp_path / "a.yaml")
    assert "'large-order'" in warning.message
    assert "on order.total >= 50,000 and order.total < 100,000" in warning.message


def test_bands_that_meet_without_overlapping_are_not_reported(tmp_path: Path) -> None:
    assert lint(tmp_path, LADDER.format(large=100000)) == []


def test_open_ended_thresholds_of_a_ladder_are_not_an_overlap(tmp_path: Path) -> None:
    assert lint(tmp_path, "  - id: a\n    when: order.total >= 50000\n    then: { require: [finance] }\n"
                          "  - id: b\n    when: order.total >= 100000\n"
                          "    then: { require: [general_manager] }\n") == []


def test_rules_another_fact_tells_apart_do_not_overlap(tmp_path: Path) -> None:
    body = ('  - id: a\n    when: order.total >= 20000 and order.total < 100000 and customer.grade == "A"\n'
            "    then: { require: [finance] }\n"
            '  - id: b\n    when: order.total >= 50000 and customer.grade == "B"\n    then: { require: [finance] }\n')
    assert lint(tmp_path, body) == []


def test_rules_held_to_values_are_compared_within_their_value_only(tmp_path: Path) -> None:
    """Rules are grouped by the values they are held to before ranges are compared: a rule with no
    region (or a contradictory one) still meets every region's, a region's bands only their own."""
    body = "".join(
        f'  - id: {region}-{low}\n    when: customer.region == "{region}" and order.total >= {low} '
        f"and order.total < {low + 10000}\n    then: {{ require: [finance] }}\n"
        for region in ("north", "west", "south") for low in (0, 10000, 20000))
    body += ('  - id: any-region\n    when: order.total >= 15000 and order.total < 16000\n'
             "    then: { require: [finance] }\n"
             '  - id: west-again\n    when: customer.region == "west" and customer.grade == "A" '
             "and order.total >= 5000 and order.total < 6000\n    then: { require: [finance] }\n"
             '  - id: nowhere\n    when: customer.region == "north" and customer.region == "west" '
             "and order.total >= 0 and order.total < 1\n    then: { require: [finance] }\n")
    found = sorted((w.rule, w.message.split("overlaps rule ")[1].split(" ")[0]) for w in lint(tmp_path, body)
                   if w.code == "overlapping-ranges")
    assert found == [("any-region", "'north-10000'"), ("any-region", "'south-10000'"), ("any-region", "'west-10000'"),
                     ("west-again", "'west-0'")]


def test_rules_of_different_outcomes_may_overlap(tmp_path: Path) -> None:
    body = ("  - id: a\n    when: order.total >= 20000 and order.total < 100000\n    then: { warn: check it }\n"
            "  - id: b\n    when: order.total >= 50000\n    then: { require: [finance] }\n")
    assert lint(tmp_path, body) == []


# -- unreachable conditions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", [
    "order.total > 30000 and order.total < 20000",
    "order.total >= 100 and order.total < 100",
    'customer.grade == "A" and customer.grade == "B"',
    'customer.grade == "A" and customer.grade != "A"',
    'order.order_date > date("2026-12-31") and order.order_date < date("2026-01-01")',
    "order.total == 5 and order.total > 10",
])
def test_a_conjunction_leaving_a_fact_no_value_is_unreachable(tmp_path: Path, when: str) -> None:
    (warning,) = lint(tmp_path, f"  - id: a\n    when: {when}\n    then: {{ warn: x }}\n")
    assert (warning.rule, warning.code) == ("a", "unreachable-condition")
    assert "the rule never fires" in warning.message


def test_an_unreachable_branch_inside_or_and_any_is_found(tmp_path: Path) -> None:
    body = ("  - id: a\n    when: customer.grade == \"A\" or "
            "any(line.qty > 10 and line.qty < 5 for line in order.lines)\n"
            "    then: { warn: x }\n")
    (warning,) = lint(tmp_path, body)
    assert warning.code == "unreachable-condition"
    assert "no line.qty can satisfy line.qty > 10 and line.qty < 5, so this part" in warning.message


@pytest.mark.parametrize("when", [
    "order.total > 20000 and order.total < 30000",
    "order.total >= 100 and order.total <= 100",
    'customer.grade == "A" or customer.grade == "B"',
    "order.total > 30000 or order.total < 20000",
])
def test_a_satisfiable_condition_is_not_reported(tmp_path: Path, when: str) -> None:
    assert lint(tmp_path, f"  - id: a\n    when: {when}\n    then: {{ warn: x }}\n") == []


# -- rates ----------------------------------------------------------------------------------------------------


def test_a_rate_compared_with_a_number_above_one_asks_for_the_percent(tmp_path: Path) -> None:
    (warning,) = lint(tmp_path, "  - id: a\n    scope: line\n    when: line.discount > 15\n    then: { warn: x }\n")
    assert (warning.code, warning.line) == ("rate-above-one", 5)
    assert warning.message.endswith("did you mean 15%?")


@pytest.mark.parametrize("value", ["15%", "0.15", "1"])
def test_a_rate_compared_with_a_rate_is_not_reported(tmp_path: Path, value: str) -> None:
    body = f"  - id: a\n    scope: line\n    when: line.discount > {value}\n    then: {{ warn: x }}\n"
    assert lint(tmp_path, body) == []


def test_a_declared_percent_fact_is_a_rate_too(tmp_path: Path) -> None:
    policy_yaml = POLICY_YAML + ("facts:\n  order.deposit_rate:\n    type: percent\n"
                                 "    description: {zh: 定金比例, en: Deposit}\n")
    (warning,) = lint(tmp_path, "  - id: a\n    when: order.deposit_rate < 30\n    then: { warn: x }\n",
                      policy_yaml=policy_yaml)
    assert warning.code == "rate-above-one"


# -- message amounts -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "amounts"), [
    ("订单金额 10 万元以上需审批", [Decimal(100000)]),
    ("订单金额 2 万至 10 万元", [Decimal(20000), Decimal(100000)]),
    ("超过 5,000 元", [Decimal(5000)]),
    ("3千元以下", [Decimal(3000)]),
    ("Orders of 20,000 to 100,000", [Decimal(20000), Decimal(100000)]),
    ("over 100k", [Decimal(100000)]),
    ("terms over 365 days, 3 lines", []),
])
def test_message_amounts_are_read_in_chinese_and_english(text: str, amounts: list[Decimal]) -> None:
    assert sorted(set(message_amounts(text))) == amounts


def test_a_message_amount_that_is_not_the_rules_threshold_is_reported(tmp_path: Path) -> None:
    body = ("  - id: large-order\n    when: order.total >= 50000\n    then:\n      require: [finance]\n"
            '      message: { zh: "订单金额 10 万元以上需审批", en: "Orders of 50,000 or more" }\n')
    (warning,) = lint(tmp_path, body)
    assert (warning.rule, warning.code) == ("large-order", "message-amount")
    assert "says 100,000 but the rule's threshold is 50,000" in warning.message


def test_a_message_stating_the_rules_thresholds_is_not_reported(tmp_path: Path) -> None:
    body = ("  - id: large-order\n    when: order.total >= 100000\n    then:\n      require: [finance]\n"
            '      message: { zh: "订单金额 10 万元以上需审批", en: "Orders of 100,000 or more" }\n')
    assert lint(tmp_path, body) == []


# -- unused declarations ---------------------------------------------------------------------------------------------

FACTS = POLICY_YAML + """\
facts:
  customer.tenure_years:
    type: integer
    description: {zh: 合作年限, en: Years}
  customer.segment:
    type: enum
    choices: [a, b]
    record: true
    description: {zh: 细分, en: Segment}
"""


def test_a_declared_fact_no_rule_reads_is_reported_at_its_line(tmp_path: Path) -> None:
    (warning,) = lint(tmp_path, "  - id: a\n    when: order.total > 5\n    then: { warn: x }\n", policy_yaml=FACTS)
    assert (warning.path, warning.line, warning.code) == (str(tmp_path / "policy.yaml"), 5, "unused-fact")
    assert "customer.tenure_years" in warning.message


def test_a_declared_fact_a_rule_reads_or_marked_record_is_not_reported(tmp_path: Path) -> None:
    assert lint(tmp_path, "  - id: a\n    when: customer.tenure_years > 5\n    then: { warn: x }\n",
                policy_yaml=FACTS) == []


POINT = """\
point: sample_request
title: {zh: 样品申请, en: Sample request}
description: {zh: 样品, en: Samples}
document: sample
fields:
  id: {type: text, required: true, description: {zh: 编号, en: Id}}
  customer_id: {type: text, description: {zh: 客户, en: Customer}}
  value: {type: money, description: {zh: 价值, en: Value}}
  urgent: {type: bool, description: {zh: 加急, en: Urgent}}
  noted: {type: bool, record: true, description: {zh: 备注, en: Noted}}
outputs:
  deposit: {type: percent, description: {zh: 定金, en: Deposit}}
  freight: {type: enum, choices: [collect, prepaid], description: {zh: 运费, en: Freight}}
"""


def test_unused_fields_and_outputs_of_a_declared_point_are_reported(tmp_path: Path) -> None:
    body = "  - id: big\n    when: sample.value > 5000\n    then: { require: [finance], set: { deposit: 20% } }\n"
    warnings = lint(tmp_path, body, hook="sample_request", files={"points/sample_request.yaml": POINT})
    source = str(tmp_path / "points" / "sample_request.yaml")
    assert [(w.path, w.line, w.code) for w in warnings] == [(source, 9, "unused-fact"), (source, 13, "unused-output")]
    assert "urgent" in warnings[0].message
    assert "freight" in warnings[1].message
    used = ("  - id: big\n    when: sample.value > 5000 and sample.urgent\n"
            "    then: { require: [finance], set: { deposit: 20%, freight: prepaid } }\n")
    assert lint(tmp_path, used, hook="sample_request", files={"points/sample_request.yaml": POINT}) == []


# -- functions and aggregates --------------------------------------------------------------------------------------

LINES = "line for line in order.lines"


@pytest.mark.parametrize(("when", "bound"), [
    ("weekday(today) > 7", "weekday(today) is a whole number from 1 to 7"),
    ("month(order.order_date) == 13", "month(order.order_date) is a whole number from 1 to 12"),
    ("quarter(order.order_date) == 5", "quarter(order.order_date) is a whole number from 1 to 4"),
    (f"count({LINES}) < 0", f"count({LINES}) is a whole number, 0 or more"),
    ("month(order.order_date) > 11 and month(order.order_date) < 12", "a whole number from 1 to 12"),
    ("weekday(order.order_date) == 2.5", "a whole number from 1 to 7"),
])
def test_a_function_compared_with_a_value_it_never_gives_is_unreachable(tmp_path: Path, when: str, bound: str) -> None:
    (warning,) = lint(tmp_path, f"  - id: a\n    when: {when}\n    then: {{ warn: x }}\n")
    assert (warning.rule, warning.code) == ("a", "unreachable-condition")
    assert f"{bound}), so the rule never fires" in warning.message


@pytest.mark.parametrize("when", [
    "weekday(today) >= 6", "month(order.order_date) == 12", "quarter(order.order_date) == 4",
    f"count({LINES}) == 0", "month(order.order_date) >= 11 and month(order.order_date) < 12",
    "is_business_day(order.order_date) == false",
])
def test_a_function_compared_with_a_value_it_gives_is_not_reported(tmp_path: Path, when: str) -> None:
    policy_yaml = POLICY_YAML + "calendar: cn\n"
    calendar = "years:\n  2026:\n    notice: 通知\n    holidays:\n      元旦: 2026-01-01\n"
    assert lint(tmp_path, f"  - id: a\n    when: {when}\n    then: {{ warn: x }}\n", policy_yaml=policy_yaml,
                files={"calendars/cn.yaml": calendar}) == []


def test_the_same_aggregate_held_to_no_value_is_unreachable_like_a_fact(tmp_path: Path) -> None:
    many = f"count({LINES} if line.qty > 1)"
    (warning,) = lint(tmp_path, f"  - id: a\n    when: {many} > 5 and {many} < 3\n    then: {{ warn: x }}\n")
    assert warning.code == "unreachable-condition"
    assert f"no {many} can satisfy {many} > 5 and {many} < 3, so the rule never fires" in warning.message
    assert lint(tmp_path, f"  - id: a\n    when: {many} > 5 and {many} < 10\n    then: {{ warn: x }}\n") == []
    other = f"count({LINES})"
    assert lint(tmp_path, f"  - id: a\n    when: {many} > 5 and {other} < 3\n    then: {{ warn: x }}\n") == []


def test_the_average_of_a_rate_is_a_rate_and_its_sum_is_not(tmp_path: Path) -> None:
    (warning,) = lint(tmp_path, f"  - id: a\n    when: avg(line.discount {LINES[5:]}) > 50\n    then: {{ warn: x }}\n")
    assert warning.code == "rate-above-one"
    assert warning.message.startswith(f"avg(line.discount {LINES[5:]}) is a rate")
    assert warning.message.endswith("did you mean 50%?")
    for when in (f"avg(line.discount {LINES[5:]}) > 50%", f"max(line.discount {LINES[5:]}) >= 0.3",
                 f"sum(line.discount {LINES[5:]}) > 2"):
        assert lint(tmp_path, f"  - id: a\n    when: {when}\n    then: {{ warn: x }}\n") == []


SUM_BANDS = f"""\
  - id: big-lines
    when: sum(line.amount {LINES[5:]}) >= {{big}}
    then: {{{{ require: [finance] }}}}
  - id: some-lines
    when: sum(line.amount {LINES[5:]}) >= 1000 and sum(line.amount {LINES[5:]}) < 5000
    then: {{{{ require: [finance] }}}}
"""


def test_overlapping_ranges_of_one_sum_are_reported_like_those_of_a_fact(tmp_path: Path) -> None:
    (warning,) = lint(tmp_path, SUM_BANDS.format(big=3000))
    assert (warning.rule, warning.code) == ("some-lines", "overlapping-ranges")
    assert f"on sum(line.amount {LINES[5:]}) >= 3,000 and sum(line.amount {LINES[5:]}) < 5,000" \
        in warning.message
    assert lint(tmp_path, SUM_BANDS.format(big=5000)) == []


# -- effective dates ---------------------------------------------------------------------------------------------------


def test_the_window_of_a_dated_rule_set_is_not_an_overlap_of_its_rules(tmp_path: Path) -> None:
    dated = HEAD.format(hook="order_approval").replace("rules:", "effective: {from: 2026-01-01, until: 2027-01-01}\n"
                                                                "rules:")
    rules = ("  - id: a\n    when: order.total >= 50000\n    then: { require: [finance] }\n"
             "  - id: b\n    when: order.total >= 100000\n    then: { require: [general_manager] }\n"
             "  - id: c\n    when: customer.grade == \"A\"\n    then: { require: [general_manager] }\n")
    assert lint(tmp_path, "", files={"a.yaml": dated + rules}) == []


def test_two_versions_of_one_band_in_force_on_different_days_do_not_overlap(tmp_path: Path) -> None:
    body = ("  - id: band-2026\n    effective: {{until: 2027-01-01}}\n"
            "    when: order.total >= 20000 and order.total < 100000\n    then: {{ require: [sales_manager] }}\n"
            "  - id: band-2027\n    effective: {{{when}}}\n"
            "    when: order.total >= 50000 and order.total < 200000\n    then: {{ require: [sales_manager] }}\n")
    assert lint(tmp_path, body.format(when="from: 2027-01-01")) == []
    (warning,) = lint(tmp_path, body.format(when="from: 2026-12-01"))
    assert (warning.rule, warning.code) == ("band-2027", "overlapping-ranges")
    assert "on order.total >= 50,000 and order.total < 100,000" in warning.message


def test_a_condition_its_own_dates_make_unreachable_names_its_effective(tmp_path: Path) -> None:
    body = ("  - id: a\n    effective: {{from: 2027-01-01}}\n    when: order.total > 5 and today < date(\"{day}\")\n"
            "    then: {{ warn: x }}\n")
    (warning,) = lint(tmp_path, body.format(day="2026-07-01"))
    assert warning.code == "unreachable-condition"
    assert 'no today can satisfy today < date("2026-07-01") and its effective: from 2027-01-01, so the rule ' \
        "never fires" in warning.message
    assert lint(tmp_path, body.format(day="2027-07-01")) == []


VERSIONS = """\
  - id: limit-2026
    effective: {{until: 2027-01-01}}
    when: order.total >= 100000
    then: {{ require: [sales_manager] }}
  - id: limit-2027
    effective: {{from: {start}}}
    when: order.total >= 50000
    then: {{ require: [sales_manager] }}
"""


def test_versions_of_a_rule_leaving_days_in_force_by_neither_are_a_gap(tmp_path: Path) -> None:
    (warning,) = lint(tmp_path, VERSIONS.format(start="2027-01-05"))
    assert (warning.rule, warning.code, warning.line) == ("limit-2027", "version-gap", 9)
    assert warning.message == (
        f"rule 'limit-2027' is in force from 2027-01-05, but 'limit-2026' ({tmp_path / 'a.yaml'}:5), the version "
        "before it, is in force until 2027-01-01 (the first day no longer in force): from 2027-01-01 until "
        "2027-01-05 neither is; start 'limit-2027' from 2027-01-01, or end 'limit-2026' until 2027-01-05")
    assert lint(tmp_path, VERSIONS.format(start="2027-01-01")) == []


def test_versions_of_a_rule_set_in_two_files_leaving_a_gap_are_reported_at_the_later_ones_dates(
    tmp_path: Path,
) -> None:
    def version(year: int, effective: str) -> str:
        return (f"ruleset: pricing-{year}\nhook: order_approval\nversion: '{year}'\neffective: {{{effective}}}\n"
                f"rules:\n  - id: floor-{year}\n    when: order.total > {year}\n    then: {{ warn: x }}\n")

    files = {"b.yaml": version(2026, "until: 2027-01-01"), "c.yaml": version(2027, "from: 2027-02-01")}
    (warning,) = lint(tmp_path, "  - id: a\n    when: order.total > 5\n    then: { warn: x }\n", files=files)
    assert (warning.path, warning.line, warning.rule, warning.code) == (str(tmp_path / "c.yaml"), 4, None,
                                                                        "version-gap")
    assert warning.message.startswith("rule set 'pricing-2027' is in force from 2027-02-01, but 'pricing-2026'")
    files["c.yaml"] = version(2027, "from: 2027-01-01")
    assert lint(tmp_path, "  - id: a\n    when: order.total > 5\n    then: { warn: x }\n", files=files) == []


@pytest.mark.parametrize(("old", "new"), [("limit-v1", "limit-v2"), ("limit_2026_12", "limit_2027_01"),
                                          ("限额2026", "限额2027")])
def test_versions_are_named_by_a_year_or_a_version_number(tmp_path: Path, old: str, new: str) -> None:
    body = VERSIONS.format(start="2027-01-05").replace("limit-2026", old).replace("limit-2027", new)
    (warning,) = lint(tmp_path, body)
    assert (warning.rule, warning.code) == (new, "version-gap")


def test_rules_numbered_otherwise_are_not_versions(tmp_path: Path) -> None:
    body = VERSIONS.format(start="2027-01-05").replace("limit-2026", "tier1").replace("limit-2027", "tier2")
    assert lint(tmp_path, body) == []


def test_seasons_of_a_rule_each_with_both_dates_are_not_a_gap(tmp_path: Path) -> None:
    body = "".join(f"  - id: promo-{year}\n    effective: {{from: {year}-12-01, until: {year + 1}-01-01}}\n"
                   "    when: order.total > 5\n    then: { notify: [finance], message: promo }\n"
                   for year in (2026, 2027))
    assert lint(tmp_path, body) == []


# -- the command and the docs -----------------------------------------------------------------------------------------


def test_validate_prints_warnings_and_exits_0_and_strict_exits_2_as_for_errors(tmp_path: Path) -> None:
    lint(tmp_path, LADDER.format(large=50000))
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 0
    assert "warning [overlapping-ranges]" in result.stderr
    assert result.stdout.rstrip().endswith("2 rules in 1 rule set, 1 warning")
    strict = CliRunner().invoke(cli, ["validate", "--strict", str(tmp_path)])
    assert strict.exit_code == 2
    assert strict.stderr.splitlines()[-1] == f"error: policy {tmp_path} has 1 warning (--strict makes them errors)"


def test_every_warning_code_is_documented() -> None:
    section = DOCS.read_text(encoding="utf-8").split("## Warnings (lint)", 1)[1].split("\n## ", 1)[0]
    for code in CODES:
        assert f"`{code}`" in section


def test_the_lint_example_in_the_language_reference_is_what_validate_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    section = DOCS.read_text(encoding="utf-8").split("## Warnings (lint)", 1)[1].split("\n## ", 1)[0]
    policy_yaml, rules = (block.split("```", 1)[0] for block in section.split("```yaml\n")[1:3])
    console = section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    root = tmp_path / "my-policy"
    root.mkdir()
    (root / "policy.yaml").write_text(policy_yaml, encoding="utf-8")
    (root / "approval.yaml").write_text(rules, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert console[0] == "$ salesgate validate --strict my-policy/"
    result = CliRunner().invoke(cli, ["validate", "--strict", "my-policy/"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == console[1:]
    assert {w.code for w in lint_policy(load_policy("my-policy/"))} == set(CODES)


def test_a_plugins_point_is_not_the_policys_to_use(tmp_path: Path) -> None:
    """A point an installed plugin declares, with outputs, and no rule of this policy there: not a warning."""
    from salesgate.documents import Bilingual, FieldSpec, FieldType, OutputSpec, document_model
    from salesgate.pointspecs import Origin, declared_point

    lint(tmp_path, "  - id: a\n    when: order.total > 5\n    then: { warn: x }\n")
    model = document_model("quote", "quote", (FieldSpec("id", FieldType.text, Bilingual(zh="编号", en="Id")),),
                           "id", {}, "A quote")
    point = declared_point("quote", model, "quote.id", title=Bilingual(zh="报价", en="Quote"),
                           description=Bilingual(zh="报价", en="Quote"), origin=Origin.plugin, source="a-plugin",
                           outputs=(OutputSpec("deposit", FieldType.percent, Bilingual(zh="定金", en="Deposit")),))
    assert lint_policy(load_policy(tmp_path, points=[point])) == []
