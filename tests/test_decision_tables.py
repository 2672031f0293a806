"""Decision tables (docs/policy-language.md, "Decision tables"): rows as rules, cells, hit policies,
overlaps and gaps, CSV and Excel files (hostile ones too), export and import, on both backends."""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesgate import Gate, PolicyError, load_policy
from salesgate.cli import cli
from salesgate.policy.cells import CellError, Column, condition, parse_cell
from salesgate.policy.ir import Kind
from salesgate.policy.tables import gaps
from salesgate.policy.testcases import load_case_file, run_all, uncovered_rules
from salesgate.seed import seed_policy_path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["python", "durable", "compiled"]
POLICY_YAML = ('name: my-policy\nversion: "1"\nroles: [sales_rep, sales_manager, finance, general_manager]\n')
TOTAL = Column("order.total", "order.total", Kind.number)
DISCOUNT = Column("line.discount", "line.discount", Kind.number, rate=True)
GRADE = Column("customer.grade", "customer.grade", Kind.enum, ("A", "B", "C"))
DAY = Column("order.order_date", "order.order_date", Kind.date)


def write(root: Path, files: dict[str, str | bytes], policy_yaml: str = POLICY_YAML) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "policy.yaml").write_text(policy_yaml, encoding="utf-8")
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def problems_of(root: Path) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy(root)
    return [str(p) for p in info.value.problems]


def order(total: str, grade: str = "B", qty: int = 1, discount: str = "0") -> dict[str, Any]:
    return {"order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-12-01",
                      "lines": [{"line_no": 1, "sku": "P1", "qty": qty, "unit_price": total, "discount": discount}]},
            "customer": {"id": "C1", "name": "华东机电", "grade": grade, "credit_limit": "10000000"},
            "products": [{"sku": "P1", "list_price": "1000", "cost": "1", "stock": 100000}]}


# -- cells ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "column", "expected"), [
    ("-", TOTAL, None),
    ("", TOTAL, None),
    ("5000", TOTAL, "order.total == 5000"),
    (">= 20000", TOTAL, "order.total >= 20000"),
    ("[20000..100000)", TOTAL, "order.total >= 20000 and order.total < 100000"),
    ("(0..1.5]", TOTAL, "order.total > 0 and order.total <= 1.5"),
    ("< -10%, > 10%", TOTAL, "(order.total < -0.1 or order.total > 0.1)"),
    ("> 5%", DISCOUNT, "line.discount > 0.05"),
    ("A", GRADE, 'customer.grade == "A"'),
    ("B, A", GRADE, 'customer.grade in ["A", "B"]'),
    ("not A, B", GRADE, 'not (customer.grade in ["A", "B"])'),
    ("[2026-01-01..2027-01-01)", DAY,
     'order.order_date >= date("2026-01-01") and order.order_date < date("2027-01-01")'),
])
def test_a_cell_becomes_a_condition_of_the_language(cell: str, column: Column, expected: str | None) -> None:
    assert condition(parse_cell(cell, column), column) == expected


@pytest.mark.parametrize(("cell", "column", "message"), [
    ("[20000..100000", TOTAL, "'[20000..100000' is missing its closing bracket: write ] (high included) or ) "
                              "(excluded)"),
    ("20000..100000)", TOTAL, "'20000..100000)' is missing its opening bracket: write [ (low included) or ( "
                              "(excluded)"),
    (">= 5", DISCOUNT, "5 on line.discount, a percentage: did you mean 5%?"),
    (">= 20,000", TOTAL, "20,000 reads as two values (the comma separates values): write numbers without a "
                         "thousands separator, e.g. 20000"),
    ("3万", TOTAL, "'3万': write the plain number (3万 is 30000), without units"),
    ("[100..10]", TOTAL, "'[100..10]' runs from 100 down to 10: write the lower bound first"),
    ("[5..5)", TOTAL, "'[5..5)' holds no value: an end excluded with ( or ) leaves nothing between them"),
    (">= ５%", DISCOUNT, "'５%' has full-width digits: write numbers with the digits 0-9"),
    ("５％", DISCOUNT, "'５％' has full-width punctuation: write '５%'"),
    ("D", GRADE, "'D' is not a value of customer.grade: expected one of A, B, C"),
    (">= A", GRADE, "'>= A': customer.grade holds text, which is matched by value (A, B), not by ranges or "
                    "comparisons"),
    ("= 5", TOTAL, "write == 5 (or just 5), not = 5"),
    ("2026-02-30", DAY, "'2026-02-30' is not a date of the calendar"),
])
def test_a_bad_cell_is_refused_in_plain_words(cell: str, column: Column, message: str) -> None:
    with pytest.raises(CellError) as info:
        parse_cell(cell, column)
    assert info.value.message == message


def test_a_range_yaml_read_as_a_list_says_to_quote_it() -> None:
    with pytest.raises(CellError) as info:
        parse_cell(["20000..100000"], TOTAL)
    assert info.value.message == ('YAML reads [20000..100000] as a list: put the cell in quotes, as in '
                                  '"[20000..100000]" (a range), or write several values as A, B')


def test_a_value_outside_the_choices_suggests_the_nearest() -> None:
    with pytest.raises(CellError) as info:
        parse_cell("a", GRADE)
    assert info.value.suggestion == "A"


# -- a YAML table, its hit policy, on both backends ----------------------------------------------------

def ladder(hit: str, rows: str) -> str:
    return ("ruleset: ladder\npoint: order_approval\nversion: '1'\ntable:\n  hit: " + hit +
            "\n  inputs: [order.total, customer.grade]\n  rows:\n" + rows)


ROWS = """\
    - {id: key-large, order.total: ">= 100000", customer.grade: A, require: [sales_manager], priority: 2}
    - {id: large, order.total: ">= 100000", require: [sales_manager, general_manager], priority: 1}
    - {id: medium, order.total: "[20000..100000)", customer.grade: "B, C", require: sales_manager, priority: 3}
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_hit_first_applies_the_first_matching_row_and_traces_the_one_set_aside(tmp_path: Path, backend: str) -> None:
    root = write(tmp_path / "p", {"ladder.yaml": ladder("first", ROWS.replace(", priority: 2", "")
                                                          .replace(", priority: 1", "").replace(", priority: 3", ""))})
    gate = Gate.from_path(root, backend=backend)  # type: ignore[arg-type]
    decision = gate.decide("order_approval", order("150000", grade="A"), explain=True)
    assert decision.required_roles == ["sales_manager"]
    assert [(t.rule, t.fired) for t in decision.trace] == [("key-large", True), ("large", False), ("medium", False)]
    assert decision.trace[1].explanation == ("order.total is 150,000, ≥ 100,000; the row matched, but its table's "
                                             "hit policy applies row key-large instead")
    assert decision.fired == ["key-large"]
    assert gate.decide("order_approval", order("150000", grade="B")).required_roles == ["sales_manager",
                                                                                       "general_manager"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_hit_priority_applies_the_lowest_priority_and_collect_applies_every_row(tmp_path: Path, backend: str) -> None:
    root = write(tmp_path / "p", {"ladder.yaml": ladder("priority", ROWS)})
    gate = Gate.from_path(root, backend=backend)  # type: ignore[arg-type]
    decision = gate.decide("order_approval", order("150000", grade="A"))
    assert (decision.fired, decision.required_roles) == (["large"], ["sales_manager", "general_manager"])
    root = write(tmp_path / "c", {"ladder.yaml": ladder("collect", ROWS.replace(", priority: 2", "")
                                                          .replace(", priority: 1", "").replace(", priority: 3", ""))})
    gate = Gate.from_path(root, backend=backend)  # type: ignore[arg-type]
    assert gate.decide("order_approval", order("150000", grade="A")).fired == ["key-large", "large"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_line_scope_first_table_applies_one_row_per_line(tmp_path: Path, backend: str) -> None:
    table = ("ruleset: volume\npoint: pricing\nversion: '1'\ntable:\n  hit: first\n  scope: line\n"
             "  inputs: [line.qty]\n  rows:\n    - {id: volume-50, line.qty: \">= 50\", discount: 5%}\n"
             "    - {id: volume-10, line.qty: \">= 10\", discount: 2%}\n")
    gate = Gate.from_path(write(tmp_path / "p", {"volume.yaml": table}), backend=backend)  # type: ignore[arg-type]
    facts = order("1000", qty=60)
    facts["order"]["lines"].append({"line_no": 2, "sku": "P1", "qty": 20, "unit_price": "1000"})
    decision = gate.decide("pricing", facts, explain=True)
    assert decision.pricing is not None
    assert [line.policy_price for line in decision.pricing.lines] == [Decimal("950.00"), Decimal("980.00")]
    assert [(t.rule, t.fired, t.line_no) for t in decision.trace] == [
        ("volume-50", True, 1), ("volume-10", False, 1), ("volume-10", True, 2)]
    assert decision.trace[1].explanation == ("line.qty is 60, ≥ 10; the row matched, but its table's hit policy "
                                             "applies row volume-50 instead")


def test_the_overlaps_a_first_table_means_are_not_lint_warnings(tmp_path: Path) -> None:
    from salesgate.policy.lint import lint_policy

    rows = ('    - {id: big, order.total: "[50000..200000)", require: [general_manager]}\n'
            '    - {id: mid, order.total: "[20000..100000)", require: [general_manager]}\n')
    assert lint_policy(load_policy(write(tmp_path / "p", {"ladder.yaml": ladder("first", rows)}))) == []


def test_a_priority_table_needs_a_priority_in_every_row(tmp_path: Path) -> None:
    root = write(tmp_path / "p", {"ladder.yaml": ladder("priority", ROWS.replace(", priority: 3", ""))})
    assert problems_of(root) == [f"{root}/ladder.yaml:10, rule 'medium', field 'priority': a priority table gives "
                                 "every row a priority (a whole number; the lowest applies)"]


def test_a_unique_table_with_overlapping_rows_is_refused_naming_both(tmp_path: Path) -> None:
    root = write(tmp_path / "p", {"ladder.yaml": ladder("unique", ROWS.replace(", priority: 2", "")
                                                          .replace(", priority: 1", "").replace(", priority: 3", ""))})
    file = f"{root}/ladder.yaml"
    assert problems_of(root) == [
        f"{file}:9, rule 'large', field 'table.hit': rows 'key-large' ({file}:8) and 'large' ({file}:9) overlap: "
        "both match when order.total is >= 100000 and customer.grade is A; a unique table's rows must not overlap: "
        "narrow one of them, or say which applies with hit: first or hit: priority"]


def test_rows_that_only_touch_at_an_excluded_bound_do_not_overlap(tmp_path: Path) -> None:
    rows = ('    - {id: low, order.total: "[0..100)", warn: low}\n'
            '    - {id: high, order.total: "[100..200]", warn: high}\n'
            '    - {id: other, order.total: "not [0..200]", warn: other}\n')
    policy = load_policy(write(tmp_path / "p", {"ladder.yaml": ladder("unique", rows)}))
    assert [r.id for r in policy.rules] == ["low", "high", "other"]
    assert gaps(policy.tables["ladder"]) == []


def test_row_problems_name_the_file_line_row_and_column(tmp_path: Path) -> None:
    rows = ('    - {id: Big Order, order.total: ">= 1", warn: x}\n'
            '    - {id: a, order.total: ">= 1", customer.grade: D, warn: x}\n'
            '    - {id: b, order.total: ">= 1", wran: x}\n'
            '    - {id: c, order.total: ">= 1"}\n'
            '    - {id: d, order.total: ">= 1", require: [nobody]}\n'
            '    - {order.total: ">= 1", warn: x}\n'
            '    - {id: a, order.total: "< 1", warn: x}\n')
    root = write(tmp_path / "p", {"ladder.yaml": ladder("collect", rows)})
    file = f"{root}/ladder.yaml"
    assert problems_of(root) == [
        f"{file}:8, field 'id': row id 'Big Order': write ids with lower-case letters, digits, - and _, starting with "
        "a letter or digit (did you mean 'big-order'?)",
        f"{file}:9, rule 'a', field 'customer.grade': 'D' is not a value of customer.grade: expected one of A, B, C",
        f"{file}:10, rule 'b', field 'wran': column 'wran' is not an input, an action (block, require, warn, notify, "
        "message, markup, discount, add, set_price, floor, stop, refund, restocking_fee) or an output; "
        "order_approval declares no outputs: list an input column under inputs: (did you mean 'warn'?)",
        f"{file}:11, rule 'c', field 'id': the row does nothing: fill in at least one of its action or output columns "
        "(warn, wran, require)",
        f"{file}:13, field 'id': row 6 has no id: give every row an id (a stable name such as large-order, kept "
        "through export and import)",
        f"{file}:14, rule 'a', field 'id': row id 'a' is used twice in this table (also at {file}:9): each row has "
        "its own id",
        f"{file}:12, rule 'd', field 'then': unknown role 'nobody': the ladder is sales_rep, sales_manager, finance, "
        "general_manager",
    ]


def test_a_bad_input_column_is_named(tmp_path: Path) -> None:
    text = ladder("first", '    - {id: a, order.total: ">= 1", warn: x}\n').replace(
        "[order.total, customer.grade]", "[order.totl, order.lines]")
    root = write(tmp_path / "p", {"ladder.yaml": text})
    assert problems_of(root) == [
        f"{root}/ladder.yaml:6, field 'table.inputs': input column 'order.totl': unknown fact 'order.totl' at "
        "decision point order_approval (column 1 of: order.totl) (did you mean 'order.total'?)",
        f"{root}/ladder.yaml:6, field 'table.inputs': input column 'order.lines' is a list: a cell tests one value "
        "(use any(...) in a rule instead)"]


def test_a_rule_set_has_rules_or_a_table_not_both(tmp_path: Path) -> None:
    text = ladder("first", '    - {id: a, order.total: ">= 1", warn: x}\n') + \
        "rules:\n  - {id: r, when: order.total > 1, then: {warn: x}}\n"
    root = write(tmp_path / "p", {"ladder.yaml": text})
    assert problems_of(root) == [f"{root}/ladder.yaml:1: give rules: or table:, not both: a table is a rule set of "
                                 "its own (another file)"]


# -- CSV and Excel --------------------------------------------------------------------------------------

CSV_TABLE = ("ruleset: volume\npoint: pricing\nversion: '1'\ntable:\n  hit: unique\n  scope: line\n"
             "  inputs: [line.qty, line.discount]\n  rows: tables/volume.csv\n")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_csv_table_with_a_bom_prices_lines_and_counts_in_the_policy_hash(tmp_path: Path, backend: str) -> None:
    csv = "id,line.qty,line.discount,discount\nvolume-10,[10..50),-,2%\nvolume-50,>= 50,< 10%,5%\n"
    root = write(tmp_path / "p", {"volume.yaml": CSV_TABLE, "tables/volume.csv": b"\xef\xbb\xbf" + csv.encode()})
    gate = Gate.from_path(root, backend=backend)  # type: ignore[arg-type]
    decision = gate.decide("pricing", order("1000", qty=60))
    assert decision.pricing is not None
    assert decision.pricing.lines[0].policy_price == Decimal("950.00")
    assert [(t.rule, t.file, t.line) for t in decision.trace if t.fired] == [("volume-50", f"{root}/tables/volume.csv",
                                                                             3)]
    before = gate.policy.hash
    (root / "tables" / "volume.csv").write_text(csv.replace("5%", "6%"), encoding="utf-8")
    assert load_policy(root).hash != before
    assert str(root / "tables" / "volume.csv") in load_policy(root).files


def test_csv_cell_problems_name_the_cell(tmp_path: Path) -> None:
    csv = "id,line.qty,line.discount,discount\nvolume-10,[10..50,-,2%\nvolume-50,>= 50,15,5%\n"
    root = write(tmp_path / "p", {"volume.yaml": CSV_TABLE, "tables/volume.csv": csv})
    file = f"{root}/tables/volume.csv"
    assert problems_of(root) == [
        f"{file}:2, rule 'volume-10', field 'line.qty': cell B2: '[10..50' is missing its closing bracket: write ] "
        "(high included) or ) (excluded)",
        f"{file}:3, rule 'volume-50', field 'line.discount': cell C3: 15 on line.discount, a percentage: did you "
        "mean 15%? (did you mean '15%'?)"]


@pytest.mark.parametrize(("content", "message"), [
    ("id,line.qty,discount\nv,>= 1,2%\n".encode("gb18030") + "中文".encode("gb18030"),
     ":3: the file is not UTF-8 (line 3): save it as \"CSV UTF-8\" (Excel: Save As, CSV UTF-8); a CSV saved as GBK "
     "or GB18030 cannot be read without guessing"),
    (b"id,line.qty,discount\nv,>= 1,=A1*2\n",
     ":2: cell C2 holds a formula (=A1*2): formulas are never computed; type the value"),
    (b"id,line.qty,discount\nv,>= 1,2%,extra\n",
     ":2: cell D2 is outside the table: its column has no name in the first row"),
    (b"", ": the table file is empty: its first row names the columns (id, the inputs, the outputs)"),
    (b"PK\x03\x04 not a zip", None),
])
def test_a_csv_that_cannot_be_read_faithfully_is_refused(tmp_path: Path, content: bytes, message: str | None) -> None:
    table = CSV_TABLE.replace("[line.qty, line.discount]", "[line.qty]")
    root = write(tmp_path / "p", {"volume.yaml": table, "tables/volume.csv": content})
    found = problems_of(root)
    if message is None:  # a CSV with binary bytes in it is still refused in words
        assert len(found) == 1
        assert "not UTF-8" in found[0] or "NUL" in found[0] or "cannot be read" in found[0] or "no id" in found[0]
    else:
        assert found == [f"{root}/tables/volume.csv{message}"]


def test_a_table_file_without_an_id_column_is_one_problem(tmp_path: Path) -> None:
    csv = "line.qty,discount\n>= 1,2%\n>= 5,3%\n"
    root = write(tmp_path / "p", {"volume.yaml": CSV_TABLE, "tables/volume.csv": csv})
    assert problems_of(root) == [f"{root}/tables/volume.csv:1, field 'id': the table file has no id column: its first "
                                 "row names the columns (line.qty, discount); add id, a stable name for each row"]


def workbook(rows: list[list[Any]], *, percent: tuple[int, int] | None = None, merge: str | None = None,
             formula: tuple[int, int, str] | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if percent is not None:
        sheet.cell(row=percent[0], column=percent[1]).number_format = "0%"
    if merge is not None:
        sheet.merge_cells(merge)
    if formula is not None:
        sheet.cell(row=formula[0], column=formula[1]).value = formula[2]
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


XLSX_TABLE = CSV_TABLE.replace("tables/volume.csv", "tables/volume.xlsx").replace("[line.qty, line.discount]",
                                                                                   "[line.qty]")


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_excel_table_reads_numbers_exactly_and_percent_cells_as_percentages(tmp_path: Path, backend: str) -> None:
    data = workbook([["id", "line.qty", "discount"], ["volume-10", "[10..50)", 0.02], ["volume-50", ">= 50", "5%"]],
                    percent=(2, 3))
    root = write(tmp_path / "p", {"volume.yaml": XLSX_TABLE, "tables/volume.xlsx": data})
    gate = Gate.from_path(root, backend=backend)  # type: ignore[arg-type]
    assert gate.policy.tables["volume"].rows[0].outputs == ("2%",)
    decision = gate.decide("pricing", order("1000", qty=10))
    assert decision.pricing is not None
    assert decision.pricing.lines[0].policy_price == Decimal("980.00")


@pytest.mark.parametrize(("options", "message"), [
    ({"formula": (2, 3, "=1+1")}, ":2: cell C2 holds a formula (=1+1): formulas are never computed (a saved result "
                                  "may be stale); type the value"),
    ({"merge": "B2:B3"}, ":2: cells B2:B3 are merged: unmerge them and write the value in every row (a table row "
                         "holds all its cells)"),
])
def test_an_excel_table_with_formulas_or_merged_cells_is_refused(tmp_path: Path, options: dict[str, Any],
                                                                 message: str) -> None:
    data = workbook([["id", "line.qty", "discount"], ["v1", "[10..50)", "2%"], ["v2", ">= 50", "5%"]], **options)
    root = write(tmp_path / "p", {"volume.yaml": XLSX_TABLE, "tables/volume.xlsx": data})
    assert problems_of(root) == [f"{root}/tables/volume.xlsx{message}"]


def test_a_workbook_that_unpacks_to_too_much_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<a>" + b" " * (17 * 1024 * 1024) + b"</a>")
    root = write(tmp_path / "p", {"volume.yaml": XLSX_TABLE, "tables/volume.xlsx": buffer.getvalue()})
    [problem] = problems_of(root)
    assert re.fullmatch(rf"{re.escape(str(root))}/tables/volume\.xlsx: the workbook unpacks to 17,825,799 bytes in 1 "
                        r"parts, more than 16,777,216: a decision table is far smaller \(save the table alone\)",
                        problem)


def test_a_file_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    root = write(tmp_path / "p", {"volume.yaml": XLSX_TABLE, "tables/volume.xlsx": b"id,line.qty\n"})
    assert problems_of(root) == [f"{root}/tables/volume.xlsx: the file is not an Excel workbook (.xlsx): save it "
                                 "from Excel as .xlsx, or as CSV UTF-8 with a .csv name"]


def test_rows_name_a_file_in_tables_only(tmp_path: Path) -> None:
    root = write(tmp_path / "p", {"volume.yaml": CSV_TABLE.replace("tables/volume.csv", "../secret.csv")})
    assert problems_of(root) == [f"{root}/volume.yaml:8, field 'table.rows': rows: '../secret.csv': name a file in "
                                 "the policy's tables/ folder, e.g. tables/ladder.csv"]
    root = write(tmp_path / "q", {"volume.yaml": CSV_TABLE})
    assert problems_of(root) == [f"{root}/volume.yaml:8, field 'table.rows': rows: no table file tables/volume.csv "
                                 f"in the policy directory {root}"]


def test_spreadsheets_in_tables_count_toward_the_policy_size(tmp_path: Path) -> None:
    big = b"id,x\n" + b"a,b\n" * 1_100_000  # not read by any table, but in tables/: it counts
    root = write(tmp_path / "p", {"volume.yaml": CSV_TABLE, "tables/volume.csv": b"id\n", "tables/big.csv": big})
    total = sum(p.stat().st_size for p in [root / "volume.yaml", root / "policy.yaml", root / "tables" / "volume.csv",
                                           root / "tables" / "big.csv"])
    assert problems_of(root) == [f"{root}: the policy's files hold {total:,} bytes, more than 4,194,304 (4 MiB), the "
                                 "most a policy may hold"]


# -- gaps ------------------------------------------------------------------------------------------------

def test_gaps_list_the_inputs_no_row_covers(tmp_path: Path) -> None:
    rows = ('    - {id: a, order.total: "[0..100)", customer.grade: A, warn: x}\n'
            '    - {id: b, order.total: ">= 100", customer.grade: "A, B", warn: x}\n')
    policy = load_policy(write(tmp_path / "p", {"ladder.yaml": ladder("unique", rows).replace(
        "[order.total, customer.grade]", "[customer.grade, order.total]")}))
    assert gaps(policy.tables["ladder"]) == [
        "customer.grade is A and order.total is < 0",
        "customer.grade is B and order.total is < 100",
        "customer.grade is C and order.total is any value",
    ]


def test_gaps_that_differ_in_one_column_are_listed_together(tmp_path: Path) -> None:
    rows = ('    - {id: a, order.total: ">= 100", customer.grade: A, warn: x}\n'
            '    - {id: b, order.total: ">= 200", customer.grade: "B, C", warn: x}\n')
    policy = load_policy(write(tmp_path / "p", {"ladder.yaml": ladder("unique", rows).replace(
        "[order.total, customer.grade]", "[customer.grade, order.total]")}))
    assert gaps(policy.tables["ladder"]) == ["customer.grade is A and order.total is < 100",
                                             "customer.grade is one of B, C and order.total is < 200"]


def test_validate_gaps_prints_every_table() -> None:
    result = CliRunner().invoke(cli, ["validate", str(seed_policy_path()), "--gaps"])
    assert result.exit_code == 0, result.output
    assert "table order-approval-ladder (" in result.output
    assert "  no row covers: order.total is < 20000\n" in result.output


# -- export and import -------------------------------------------------------------------------------------

def test_a_seed_table_round_trips_through_excel_keeping_row_ids(tmp_path: Path) -> None:
    import shutil

    policy_dir = tmp_path / "rules"
    shutil.copytree(seed_policy_path(), policy_dir)
    runner = CliRunner()
    book = tmp_path / "ladder.xlsx"
    result = runner.invoke(cli, ["table", "export", str(policy_dir), "order-approval-ladder", str(book)])
    assert (result.exit_code, result.output) == (0, f"wrote table order-approval-ladder (2 rows) to {book}\n")
    before = load_policy(policy_dir)
    result = runner.invoke(cli, ["table", "import", str(policy_dir), "order-approval-ladder", str(book)])
    assert result.exit_code == 0, result.output
    after = load_policy(policy_dir)
    assert [(r.id, r.when, r.action) for r in after.rules] == [(r.id, r.when, r.action) for r in before.rules]
    gate = Gate.from_path(policy_dir, backend="python")
    cases = load_case_file(policy_dir / "tests" / "order-approval.yaml", policy=gate.policy)
    results = run_all(gate, cases)
    assert all(r.passed for r in results)
    assert "large-order" not in uncovered_rules(gate.policy, results)

    # A CSV table keeps its file and bytes when nothing changed.
    csv = policy_dir / "tables" / "installation-prices.csv"
    original = csv.read_bytes()
    result = runner.invoke(cli, ["table", "export", str(policy_dir), "installation-prices", str(tmp_path / "i.xlsx")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["table", "import", str(policy_dir), "installation-prices", str(tmp_path / "i.xlsx")])
    assert result.exit_code == 0, result.output
    assert csv.read_bytes() == original


def test_an_import_with_a_bad_cell_names_the_workbook_cell_and_writes_nothing(tmp_path: Path) -> None:
    import shutil

    policy_dir = tmp_path / "rules"
    shutil.copytree(seed_policy_path(), policy_dir)
    book = tmp_path / "ladder.xlsx"
    book.write_bytes(workbook([["id", "order.total", "require"], ["large-order", ">= 100000", "general_manager"],
                               ["medium-order", "[20000..100000", "sales_manager"]]))
    before = (policy_dir / "order-approval-ladder.yaml").read_bytes()
    result = CliRunner().invoke(cli, ["table", "import", str(policy_dir), "order-approval-ladder", str(book)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{book}:3, rule 'medium-order', field 'order.total': cell B3: '[20000..100000' is missing its closing "
        "bracket: write ] (high included) or ) (excluded)",
        f"error: {book} was not imported: 1 problem"]
    book.write_bytes(workbook([["id", "order.total", "require"], ["large-order", ">= 10000", "general_manager"],
                               ["medium-order", "[20000..100000)", "sales_manager"]]))
    result = CliRunner().invoke(cli, ["table", "import", str(policy_dir), "order-approval-ladder", str(book)])
    assert result.exit_code == 2
    assert "rows 'large-order' (" in result.output
    assert "overlap" in result.output
    book.write_bytes(workbook([["id", "order.total", "require"], ["large-order", ">= 100000", "nobody"]]))
    result = CliRunner().invoke(cli, ["table", "import", str(policy_dir), "order-approval-ladder", str(book)])
    assert result.exit_code == 2
    assert f"{policy_dir}/order-approval-ladder.yaml:" in result.output
    assert "unknown role 'nobody'" in result.output
    assert (policy_dir / "order-approval-ladder.yaml").read_bytes() == before


def test_an_unknown_table_is_named_with_the_tables_there_are() -> None:
    result = CliRunner().invoke(cli, ["table", "export", str(seed_policy_path()), "ladder", "x.xlsx"])
    assert result.exit_code == 2
    assert result.output == ("error: no decision table 'ladder' in policy salesgate-seed-policy: its tables are "
                             "installation-prices, order-approval-ladder, performance-bonus, plan-adjustment-steps\n")


# -- both backends agree, whatever the table ----------------------------------------------------------------

@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bounds=st.lists(st.integers(min_value=0, max_value=200), min_size=2, max_size=5, unique=True),
       hit=st.sampled_from(["first", "priority", "collect"]),
       totals=st.lists(st.integers(min_value=0, max_value=210), min_size=1, max_size=6),
       grades=st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=6))
def test_random_tables_decide_alike_on_both_backends(tmp_path_factory: pytest.TempPathFactory, bounds: list[int],
                                                      hit: str, totals: list[int], grades: list[str]) -> None:
    ordered = sorted(bounds)
    rows = []
    for index, (low, high) in enumerate(itertools_pairs(ordered)):
        grade = ["A", "B, C", "-", "not A"][index % 4]
        roles = ["sales_manager", "finance", "general_manager"][index % 3]
        rows.append(f'    - {{id: r{index}, order.total: "[{low}..{high + 20})", customer.grade: "{grade}", '
                    f'require: [{roles}], priority: {(index * 7) % 5}}}\n')
    rows.append(f'    - {{id: rest, order.total: ">= {ordered[0]}", block: no, priority: 9}}\n')  # no: the text
    text = ladder(hit, "".join(rows) if hit == "priority" else re.sub(r", priority: \d+", "", "".join(rows)))
    root = write(tmp_path_factory.mktemp("t"), {"ladder.yaml": text})
    python, *others = (Gate.from_path(root, backend=b) for b in BACKENDS)  # type: ignore[arg-type]
    for total, grade in zip(totals, grades * len(totals), strict=False):
        facts = order(str(total), grade=grade)
        one = python.decide("order_approval", facts)
        for gate in others:
            other = gate.decide("order_approval", facts)
            assert (one.outcome, one.required_roles, one.fired) == (other.outcome, other.required_roles, other.fired)
        if hit != "collect":  # one table: at most one row applies
            assert len(one.fired) <= 1


def itertools_pairs(values: list[int]) -> list[tuple[int, int]]:
    return list(itertools.pairwise(values))


# -- docs/policy-language.md, "Decision tables" ---------------------------------------------------------------

def _section() -> str:
    docs = (ROOT / "docs" / "policy-language.md").read_text(encoding="utf-8")
    return docs.split("## Decision tables", 1)[1].split("\n## ", 1)[0]


def _blocks(kind: str) -> list[str]:
    return [block.split("```", 1)[0] for block in _section().split(f"```{kind}\n")[1:]]


def _docs_policy(tmp_path: Path, csv: str | None = None, inputs: str = "[line.qty]") -> Path:
    grade_ladder, volume = _blocks("yaml")[:2]
    root = write(tmp_path / "my-policy", {"grade-ladder.yaml": grade_ladder,
                                         "volume-discounts.yaml": volume.replace("[line.qty]", inputs),
                                         "tables/volume-discounts.csv": csv or _blocks("csv")[0]})
    return root


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_examples_in_the_language_reference_decide_as_it_says(tmp_path: Path, backend: str) -> None:
    gate = Gate.from_path(_docs_policy(tmp_path), backend=backend)  # type: ignore[arg-type]
    decision = gate.decide("order_approval", order("150000", grade="A"), explain=True)
    assert decision.required_roles == ["sales_manager"]
    [aside] = [t for t in decision.trace if t.rule == "large"]
    assert not aside.fired
    assert aside.explanation is not None
    assert aside.explanation in _section().replace("*", "").replace("\n", " ")
    priced = gate.decide("pricing", order("1000", qty=60))
    assert priced.pricing is not None
    assert priced.pricing.lines[0].policy_price == Decimal("950.00")
    from datetime import date

    versioned = Gate.from_path(write(tmp_path / "versioned", {"ladder.yaml": _blocks("yaml")[2]}),
                               backend=backend)  # type: ignore[arg-type]
    assert versioned.decide("order_approval", order("80000"), as_of=date(2026, 12, 31)).fired == []
    assert versioned.decide("order_approval", order("80000"), as_of=date(2027, 1, 1)).fired == ["limit-2027"]


def _console(block: str) -> list[str]:
    return [line for line in block.splitlines() if not line.startswith("$")]


def test_the_console_examples_in_the_language_reference_are_what_salesgate_prints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_cells, overlap, gap_list = _blocks("console")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    _docs_policy(tmp_path, _blocks("csv")[1], "[line.qty, line.discount]")
    result = runner.invoke(cli, ["validate", "my-policy/"])
    assert result.output.splitlines() == _console(bad_cells)
    (tmp_path / "my-policy" / "tables" / "volume-discounts.csv").write_text(
        _blocks("csv")[0].replace("[10..50)", "[10..60)"), encoding="utf-8")
    (tmp_path / "my-policy" / "volume-discounts.yaml").write_text(_blocks("yaml")[1], encoding="utf-8")
    result = runner.invoke(cli, ["validate", "my-policy/"])
    assert result.output.splitlines() == _console(overlap)
    (tmp_path / "my-policy" / "grade-ladder.yaml").unlink()
    (tmp_path / "my-policy" / "tables" / "volume-discounts.csv").write_text(_blocks("csv")[0], encoding="utf-8")
    result = runner.invoke(cli, ["validate", "my-policy/", "--gaps"])
    expected = _console(gap_list)
    got = result.output.splitlines()
    assert re.sub(r"\([0-9a-f]{16}\)", "(…)", got[0]) == expected[0]
    assert got[1:] == expected[1:]


# -- the overlap sweep finds what comparing every pair finds -------------------------------------------------

cell_texts = st.one_of(
    st.just("-"),
    st.tuples(st.integers(0, 30), st.integers(1, 10), st.sampled_from("[("), st.sampled_from("])")).map(
        lambda t: f"{t[2]}{t[0]}..{t[0] + t[1]}{t[3]}"),
    st.tuples(st.sampled_from([">=", ">", "<", "<="]), st.integers(0, 40)).map(lambda t: f"{t[0]} {t[1]}"),
    st.integers(0, 40).map(str),
    st.tuples(st.integers(0, 20), st.integers(21, 40)).map(lambda t: f"< {t[0]}, > {t[1]}"),
    st.tuples(st.integers(0, 20), st.integers(1, 10)).map(lambda t: f"not [{t[0]}..{t[0] + t[1]}]"),
)


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.tuples(cell_texts, st.sampled_from(["A", "B", "A, B", "-", "not A"])), min_size=2,
                      max_size=12))
def test_the_overlap_sweep_finds_every_overlapping_pair(cells: list[tuple[str, str]]) -> None:
    from salesgate.policy.tables import DecisionTable, TableRow, overlaps

    columns = (TOTAL, GRADE)
    rows = tuple(TableRow(f"r{i}", "t.csv", i + 2, (parse_cell(total, TOTAL), parse_cell(grade, GRADE)), ())
                 for i, (total, grade) in enumerate(cells))
    table = DecisionTable("t", "order_approval", "unique", "order", "t.yaml", None, columns, (), rows)
    every_pair = [(a.id, b.id) for n, a in enumerate(rows) for b in rows[n + 1:]
                  if all(x.meets(y, c) for x, y, c in zip(a.cells, b.cells, columns, strict=True))]
    assert [(a.id, b.id) for a, b, _ in overlaps(table)] == every_pair


@settings(max_examples=300, deadline=None)
@given(first=cell_texts, second=cell_texts)
def test_two_cells_meet_exactly_when_a_value_satisfies_both(first: str, second: str) -> None:
    """Bounds are whole numbers here, so any shared value shows at a whole or half number between -1 and 52."""
    x, y = parse_cell(first, TOTAL), parse_cell(second, TOTAL)
    grid = [Decimal(n) / 2 for n in range(-2, 105)]
    assert x.meets(y, TOTAL) == any(x.holds(v, TOTAL) and y.holds(v, TOTAL) for v in grid)


@settings(max_examples=200, deadline=None)
@given(text=cell_texts)
def test_a_cell_s_condition_holds_exactly_where_the_cell_does(text: str) -> None:
    """What the engines run (the cell lowered to a condition) is what overlaps and gaps reason about."""
    from salesgate.policy import expressions
    from salesgate.policy.checker import Context, check_condition
    from salesgate.policy.evaluator import compile_cond
    from salesgate.vocabulary import VOCABULARY

    cell = parse_cell(text, TOTAL)
    written = condition(cell, TOTAL)
    test = (compile_cond(check_condition(expressions.parse(written), Context("order_approval",
                                                                              VOCABULARY["order_approval"])))
            if written else None)
    for value in (Decimal(n) / 2 for n in range(-2, 105)):
        assert (test({"order.total": value}, None) if test else True) == cell.holds(value, TOTAL), (written, value)


def test_a_first_table_whose_rows_run_at_different_pricing_steps_is_refused(tmp_path: Path) -> None:
    table = ("ruleset: mixed\npoint: pricing\nversion: '1'\ntable:\n  hit: first\n  scope: line\n"
             "  inputs: [line.qty, {below: line.unit_price - line.policy_price}]\n  rows:\n"
             "    - {id: volume, line.qty: \">= 10\", discount: 2%}\n"
             "    - {id: too-low, below: \"> 0\", require: [sales_manager]}\n")
    root = write(tmp_path / "p", {"mixed.yaml": table})
    assert problems_of(root) == [
        f"{root}/mixed.yaml:4, field 'table.hit': a first table picks one row among those that match, and its rows "
        "here run at different steps of pricing (some change prices, some read line.policy_price): split the table "
        "in two"]


def test_simulate_replays_a_hit_policy_change(tmp_path: Path) -> None:
    """collect → first: the order that matched two rows now gets only the first's approvals."""
    import json

    plain = ROWS.replace(", priority: 2", "").replace(", priority: 1", "").replace(", priority: 3", "")
    baseline = write(tmp_path / "collect", {"ladder.yaml": ladder("collect", plain)})
    candidate = write(tmp_path / "first", {"ladder.yaml": ladder("first", plain)})
    history = tmp_path / "orders.jsonl"
    history.write_text("\n".join(json.dumps(order(total, grade=grade), ensure_ascii=False)
                                 for total, grade in (("150000", "A"), ("150000", "B"), ("50000", "C"))) + "\n",
                       encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "--rules", str(candidate), "--baseline", str(baseline),
                                      "--orders", str(history), "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    approval = json.loads(result.stdout)["hooks"]["order_approval"]
    assert approval["changed"] == 1
    assert approval["approvals"]["dropped"] == {"general_manager": 1}


# -- effective dates (docs/policy-language.md, "Effective dates") ---------------------------------------------

VERSIONED = """\
ruleset: ladder
point: order_approval
version: '2027.1'
effective: {from: 2026-07-01}
table:
  hit: unique
  inputs: [order.total]
  rows:
    - {id: limit-2026, order.total: ">= 100000", require: [sales_manager], effective: {until: 2027-01-01}}
    - {id: limit-2027, order.total: ">= 50000", require: [sales_manager], effective.from: 2027-01-01}
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_and_tables_are_in_force_on_their_days_only(tmp_path: Path, backend: str) -> None:
    from datetime import date

    gate = Gate.from_path(write(tmp_path / "p", {"ladder.yaml": VERSIONED}), backend=backend)  # type: ignore[arg-type]
    facts = order("80000")
    assert gate.decide("order_approval", facts, as_of=date(2026, 12, 31)).required_roles == []
    decided = gate.decide("order_approval", facts, as_of=date(2027, 1, 1))
    assert (decided.required_roles, decided.fired) == (["sales_manager"], ["limit-2027"])
    first = decided.trace[0]
    assert (first.rule, first.explanation) == ("limit-2026", "not in force (from 2026-07-01 until 2027-01-01)")
    before = gate.decide("order_approval", order("150000"), as_of=date(2026, 6, 30))  # the whole table is not yet
    assert (before.required_roles, before.fired) == ([], [])


def test_versions_of_a_row_that_share_no_day_do_not_overlap_and_export_with_their_dates(tmp_path: Path) -> None:
    root = write(tmp_path / "p", {"ladder.yaml": VERSIONED})
    table = load_policy(root).tables["ladder"]  # unique, though >= 100000 and >= 50000 overlap: never on one day
    assert table.header == ("id", "order.total", "require", "effective.from", "effective.until")
    assert table.sheet_rows() == [["limit-2026", ">= 100000", "sales_manager", "", "2027-01-01"],
                                  ["limit-2027", ">= 50000", "sales_manager", "2027-01-01", ""]]
    overlapping = VERSIONED.replace("effective.from: 2027-01-01", "effective.from: 2026-12-01")
    (root / "ladder.yaml").write_text(overlapping, encoding="utf-8")
    [problem] = problems_of(root)
    assert "rows 'limit-2026'" in problem
    assert "overlap" in problem
