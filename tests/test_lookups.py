"""Lookup tables (docs/policy-language.md, "Lookup tables"): typed CSV files in data/, read by
lookup(table, key, column) on both backends; every problem at its file, line and column."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from fixtures.language_docs import fired, section, section_examples, write_rules
from salesgate import Gate, PolicyError, load_policy
from salesgate.policy.datafiles import Table, load_tables

BACKENDS = ["python", "durable", "compiled"]
SECTION = "Lookup tables: `lookup`"


def documented_table() -> str:
    """The CSV the section shows, as the policy owner would save it."""
    block = re.search(r"```\ndata/region_limits.csv\n(.*?)```", section(SECTION), re.DOTALL)
    assert block is not None
    return block.group(1)


def policy(tmp_path: Path, conditions: list[str], csv: str | None = None) -> Path:
    return write_rules(tmp_path / "policy", conditions,
                       files={"data/region_limits.csv": documented_table() if csv is None else csv})


def problems(root: Path) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    return [str(p).replace(str(root) + "/", "") for p in info.value.problems]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_documented_lookup_holds_as_the_docs_say_on_every_backend(tmp_path: Path, backend: str) -> None:
    facts, rows = section_examples(SECTION, facts_from="Functions")
    root = policy(tmp_path, [cond for cond, _ in rows])
    assert fired(root, facts, backend) == {f"r{i}" for i, (_, holds) in enumerate(rows) if holds}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_lookup_explains_its_value_and_a_key_not_in_the_table_is_missing(tmp_path: Path, backend: str) -> None:
    facts, _ = section_examples("Functions")
    root = policy(tmp_path, ['order.total * 20 > lookup("region_limits", customer.region, "limit")'])
    with Gate.from_path(root, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        east = gate.decide("order_approval", facts, explain=True)
        facts["customer"]["region"] = "东北"
        north_east = gate.decide("order_approval", facts, explain=True)
    assert [t.explanation for t in east.trace] == [
        '(order.total * 20) is 217,800, > lookup("region_limits", customer.region, "limit") (200,000)']
    assert [(t.fired, t.explanation) for t in north_east.trace] == [
        (False, 'lookup("region_limits", customer.region, "limit") is missing, so \'(order.total * 20) > '
                'lookup("region_limits", customer.region, "limit")\' is false')]


def test_the_tables_column_types_give_exact_values(tmp_path: Path) -> None:
    csv = ("code:integer,rate:percent,price:money,since:date,active:bool,name:text,weight:number\n"
           "1,10%,12.50,2026-01-31,yes,  华东 ,-1.5\n2,0.125,0,2026-12-31,0,,\n")
    root = write_rules(tmp_path / "policy", ["order.total > 1"], files={"data/codes.csv": csv})
    load_policy(root)
    tables = load_tables(root, lambda *a: pytest.fail(str(a)), lambda b: None)
    table = tables["codes"]
    assert isinstance(table, Table)
    assert dict(table.rows) == {
        1: (1, Decimal("0.1"), Decimal("12.50"), date(2026, 1, 31), True, "华东", Decimal("-1.5")),
        2: (2, Decimal("0.125"), Decimal("0"), date(2026, 12, 31), False, None, None)}


@pytest.mark.parametrize(("csv", "expected"), [
    ("region:text,limit:money\n华东,200000\n华东,3\n",
     ["data/region_limits.csv:3, field 'region': the key '华东' is also on line 2: each key once"]),
    ("region:text,limit:money\n华东,1O0\n", ["data/region_limits.csv:2, field 'limit': '1O0' is not a number: write "
                                            "digits 0-9 with a . for decimals"]),
    ("region:text,limit:money\n华东,\"30,000\"\n", ["data/region_limits.csv:2, field 'limit': '30,000': write numbers "
                                                  "without thousands separators, e.g. 30000"]),
    ("region:text,limit:money\n华东,-5\n", ["data/region_limits.csv:2, field 'limit': '-5' is negative: an amount "
                                           "of money is 0 or more"]),
    ("region:text,limit:money\n,5\n", ["data/region_limits.csv:2, field 'region': the key (region) is empty: every "
                                       "row needs one"]),
    ("region:text,limit:money\n华东,5,6\n", ["data/region_limits.csv:2: 3 cells where the header names 2 columns (a "
                                           "comma inside a value must be in quotes)"]),
    ("region,limit:money\n", ["data/region_limits.csv:1, field 'region': the header cell 'region' has no type: write "
                              "name:type, e.g. region:text (types: text, integer, number, money, percent, date, "
                              "bool)"]),
    ("region:text,limit:amount\n", ["data/region_limits.csv:1, field 'limit': 'amount' is not a column type: use one "
                                    "of text, integer, number, money, percent, date, bool"]),
    ("region:text\n", ["data/region_limits.csv:1: a table needs a key column and at least one more: "
                       "region:text,limit:money"]),
    ("region:text,since:date\n华东,2026/01/31\n", ["data/region_limits.csv:2, field 'since': '2026/01/31' is not a "
                                                  "date: write YYYY-MM-DD, e.g. 2026-12-31"]),
])
def test_a_bad_table_is_refused_at_file_line_and_column_in_plain_words(tmp_path: Path, csv: str,
                                                                       expected: list[str]) -> None:
    root = policy(tmp_path, ["order.total > 1"], csv)
    assert problems(root) == expected


def test_a_file_that_is_not_utf8_is_refused_with_how_to_save_it(tmp_path: Path) -> None:
    root = policy(tmp_path, ["order.total > 1"], "region:text,limit:money\n")
    (root / "data" / "region_limits.csv").write_bytes("region:text,limit:money\n华东,5\n".encode("gbk"))
    assert problems(root) == ['data/region_limits.csv:2: the file is not UTF-8 text: save it as "CSV UTF-8"']



def test_a_nul_character_in_a_table_is_refused_at_its_line_as_in_a_yaml_file(tmp_path: Path) -> None:
    root = policy(tmp_path, ["order.total > 1"], "region:text,limit:money\n华东,5\n华\0南,6\n")
    assert problems(root) == ["data/region_limits.csv:3: the file holds a NUL character, which no database can "
                              "store: remove it"]



def test_a_key_holding_an_invisible_character_is_refused_naming_it(tmp_path: Path) -> None:
    root = policy(tmp_path, ["order.total > 1"], "region:text,limit:money\n华东\u200b,5\n\u3000华南\u3000,6\n")
    assert problems(root) == ["data/region_limits.csv:2, field 'region': the key '华东' holds an invisible character "
                              "(a zero-width space, U+200B) at character 3, so a fact '华东' would not match it: "
                              "delete the character"]

@pytest.mark.parametrize("day", ["2026-W01-1", "20261231"])
def test_a_date_cell_is_read_only_as_yyyy_mm_dd_never_as_an_iso_week(tmp_path: Path, day: str) -> None:
    root = policy(tmp_path, ["order.total > 1"], "region:text,limit:money\n华东,5\n")
    (root / "data" / "since.csv").write_text(f"region:text,since:date\n华东,{day}\n", encoding="utf-8")
    assert problems(root) == [f"data/since.csv:2, field 'since': '{day}' is not a date: write YYYY-MM-DD, "
                              "e.g. 2026-12-31"]

@pytest.mark.parametrize(("when", "message", "suggestion"), [
    ('lookup("region_limit", customer.region, "limit") > 1',
     "lookup(): no table 'region_limit' in the policy's data/ folder (its tables: region_limits)", "region_limits"),
    ('lookup("region_limits", customer.region, "limt") > 1',
     "lookup(): no column 'limt' in table region_limits (its columns: limit, markup, distributor)", "limit"),
    ('lookup("region_limits", customer.region, "region") > 1',
     "lookup(): 'region' is the key column; name a column to read", None),
    ('lookup("region_limits", order.total, "limit") > 1',
     "lookup(): the key of table region_limits (region) is text, and the second argument is a number", None),
    ('lookup(customer.region, customer.region, "limit") > 1',
     "the first argument of lookup() must be written as a constant, not read from the facts", None),
    ('lookup("region_limits", customer.region, "limit") == "x"', "cannot compare a number with text", None),
])
def test_a_lookup_naming_what_is_not_there_is_refused_with_a_did_you_mean(tmp_path: Path, when: str, message: str,
                                                                          suggestion: str | None) -> None:
    root = policy(tmp_path, [when])
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    (problem,) = info.value.problems
    assert message in problem.message
    assert (problem.rule, problem.field, problem.suggestion) == ("r0", "when", suggestion)


def test_a_rule_on_a_broken_table_is_not_told_the_table_does_not_exist(tmp_path: Path) -> None:
    root = policy(tmp_path, ['lookup("region_limits", customer.region, "limit") > 1'],
                  "region:text,limit:money\n华东,x\n")
    assert problems(root) == [
        "data/region_limits.csv:2, field 'limit': 'x' is not a number: write digits 0-9 with a . for decimals",
        "examples.yaml:6, rule 'r0', field 'when': lookup(): the table 'region_limits' has problems (reported at its "
        "file): fix them first (column 8 of: lookup(\"region_limits\", customer.region, \"limit\") > 1)"]


def test_a_policy_without_tables_says_so(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "policy", ['lookup("region_limits", customer.region, "limit") > 1'])
    assert "(its tables: none: add one as data/<name>.csv)" in problems(root)[0]


def test_a_changed_figure_is_a_new_policy_version_and_counts_toward_the_size_limit(tmp_path: Path) -> None:
    root = policy(tmp_path, ['order.total > lookup("region_limits", customer.region, "limit")'])
    before = load_policy(root)
    table = root / "data" / "region_limits.csv"
    table.write_text(table.read_text(encoding="utf-8").replace("200000", "250000"), encoding="utf-8")
    after = load_policy(root)
    assert before.hash != after.hash
    assert str(table) in after.files
    table.write_text("region:text,limit:money\n" + "x" * (4 * 1_048_576) + ",1\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="more than 4,194,304 \\(4 MiB\\), the most a policy may hold"):
        load_policy(root)


def test_a_table_of_more_than_100000_rows_is_refused(tmp_path: Path) -> None:
    rows = "".join(f"k{i},{i}\n" for i in range(100_001))
    root = policy(tmp_path, ["order.total > 1"], "region:text,limit:money\n" + rows)
    assert problems(root) == ["data/region_limits.csv: the table has 100,001 rows, more than 100,000, the most a "
                              "table may hold"]


def test_a_stray_quote_and_a_spreadsheet_not_saved_as_csv_are_refused_in_plain_words(tmp_path: Path) -> None:
    root = policy(tmp_path, ["order.total > 1"], 'region:text,limit:money\n"华东,5\n')
    (root / "data" / "limits.xlsx").write_bytes(b"PK\x03\x04")
    assert problems(root) == [
        'data/limits.xlsx: only CSV files are lookup tables: save limits.xlsx as "CSV UTF-8" (limits.csv)',
        "data/region_limits.csv:2: a value's quotes are not closed, or a quote stands inside a value: put quotes "
        'only around a whole value, and write a quote inside one twice ("")']
