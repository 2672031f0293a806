"""Text functions (docs/policy-language.md, "Text functions"): starts_with, ends_with, contains, and
matches with RE2 (linear time; patterns checked at load, refused in plain words)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixtures.language_docs import fired, section_examples, write_rules
from salesgate import PolicyError, load_policy
from salesgate.cli import cli
from salesgate.policy import expressions
from salesgate.policy.checker import CheckError, Context, check_condition
from salesgate.policy.evaluator import compile_cond, explain
from salesgate.vocabulary import VOCABULARY

BACKENDS = ["python", "durable", "compiled"]
CTX = Context("order_approval", VOCABULARY["order_approval"])
SECTION = "Text functions: `starts_with`, `ends_with`, `contains`, `matches`"


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_documented_text_condition_holds_as_the_docs_say_on_every_backend(tmp_path: Path,
                                                                               backend: str) -> None:
    facts, rows = section_examples(SECTION, facts_from="Functions")
    root = write_rules(tmp_path / "policy", [cond for cond, _ in rows])
    assert fired(root, facts, backend) == {f"r{i}" for i, (_, holds) in enumerate(rows) if holds}


def holds(text: str, **facts: object) -> bool:
    cond = check_condition(expressions.parse(text), CTX)
    return compile_cond(cond)({f"customer.{k}": v for k, v in facts.items()}, None)


def test_matches_finds_the_pattern_anywhere_unless_anchored_and_reads_chinese_text() -> None:
    assert holds('matches(customer.name, "机电")', name="华东机电有限公司")
    assert not holds('matches(customer.name, "^机电")', name="华东机电有限公司")
    assert holds('matches(customer.name, "^华东.{2}有限公司$")', name="华东机电有限公司")
    assert holds('matches(customer.name, "(?i)^acme")', name="ACME Ltd")
    assert not holds('matches(customer.name, "^acme")', name="ACME Ltd")


def test_a_pattern_that_backtracks_exponentially_elsewhere_runs_in_linear_time() -> None:
    """(a+)+$ on 'aaaa…b' takes Python's re minutes at 30 characters; RE2 answers at once at 100,000."""
    cond = compile_cond(check_condition(expressions.parse('matches(customer.name, "(a+)+$")'), CTX))
    started = time.perf_counter()
    assert cond({"customer.name": "a" * 100_000 + "!"}, None) is False
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(("pattern", "reason"), [
    ("(华东", "a '(' is not closed with ')'"),
    ("华东)", "a ')' has no '(' before it"),
    ("[a-", "a '[' is not closed with ']'"),
    ("*华东", "*, + or ? must follow something to repeat"),
    ("(?=a)b", "look-ahead and look-behind"),
    ("(a)\\\\1", "back-references (\\1) are not supported"),
    ("a{3,1}", "a {m,n} repeat with m above n"),
    ("[z-a]", "a range [z-a] whose first character comes after its last"),
])
def test_a_bad_pattern_is_refused_at_load_in_plain_words(pattern: str, reason: str) -> None:
    with pytest.raises(CheckError) as info:
        check_condition(expressions.parse(f'matches(customer.name, "{pattern}")'), CTX)
    assert info.value.message.startswith("matches(): the pattern \"")
    assert reason in info.value.message
    assert info.value.column == 24



@pytest.mark.parametrize(("pattern", "reason"), [
    ("(?i", "(?i is not a group RE2 reads: a group is (...), (?:...) without capture, or (?P<name>...); the flags are "
            "(?i), (?s), (?m), (?U), closed with ')'"),
    ("(?z)a", "(?z is not a group RE2 reads"),
    ("((a{100}){100}){100}", "repeats inside repeats multiply: (a{100}){100} repeats 10,000 times"),
    ("[[:foo:]]", "[:foo:] is not a class RE2 knows: [[:alpha:]], [[:digit:]], [[:space:]]"),
    ("\\\\p{Foo}", "\\p{Foo} is not a class RE2 knows: \\pL (letters)"),
])
def test_a_bad_group_flag_or_class_is_named_for_what_it_is_not_called_a_look_ahead_or_a_range(
        pattern: str, reason: str) -> None:
    with pytest.raises(CheckError) as info:
        check_condition(expressions.parse(f'matches(customer.name, "{pattern}")'), CTX)
    assert reason in info.value.message
    assert "look-ahead" not in info.value.message
    assert "[z-a]" not in info.value.message

def test_a_bad_pattern_names_file_line_and_rule_and_never_shows_re2s_own_message(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "policy", ["order.total > 1", 'matches(customer.name, "(华东")'])
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    (problem,) = info.value.problems
    assert (problem.line, problem.rule, problem.field) == (9, "r1", "when")
    result = CliRunner().invoke(cli, ["validate", str(root)])
    assert result.exit_code == 2
    assert "a '(' is not closed with ')'" in result.output
    assert "missing )" not in result.output
    assert "re2" not in result.output.lower()


@pytest.mark.parametrize(("text", "message"), [
    ("matches(customer.name, customer.region)", "the second argument of matches() must be written as a constant"),
    ('starts_with(order.total, "1")', "the first argument of starts_with() must be text, not a number"),
    ('contains(customer.name)', "contains() takes 2 arguments, not 1"),
    ('starts_with(customer.name, "华东") == 1', "cannot compare true/false with a number"),
])
def test_a_misused_text_function_is_refused_in_plain_words(text: str, message: str) -> None:
    with pytest.raises(CheckError) as info:
        check_condition(expressions.parse(text), CTX)
    assert message in info.value.message


def test_a_text_function_of_a_fact_with_choices_and_of_constants() -> None:
    assert holds('starts_with(customer.status, "cash")', status="cash_only")
    with pytest.raises(CheckError, match="the condition is always true: it reads no fact"):
        check_condition(expressions.parse('contains("华东机电", "机电")'), CTX)


def test_explanations_say_what_the_text_function_gave() -> None:
    cond = check_condition(expressions.parse('not ends_with(customer.name, "公司")'), CTX)
    assert explain(cond, {"customer.name": "华东机电有限公司"}) == 'ends_with(customer.name, "公司") is true'
    assert explain(cond, {"customer.name": None}) == (
        "customer.name is missing, so 'ends_with(customer.name, \"公司\") != true' is false")
