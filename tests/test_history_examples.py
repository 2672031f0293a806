"""The history facts a policy owner asks for (issue 13): sales over 4 and 8 quarters and their growth,
average days paid late, overdue invoices, days since the last order, the region's and the rep's orders
this month — declared as docs/policy-language.md's worked example shows, computed by the demo mapping
over the demo ERP on SQLite, PostgreSQL and MariaDB, and decided on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from fixtures.databases import KINDS, ScratchDatabase, isolated_database
from fixtures.erp_schemas import FIXTURES, TODAY
from salesgate import Gate, Outcome, load_policy
from salesgate.cli import cli
from salesgate.documents import FieldType
from salesgate.history import HistoryFact
from salesgate.windows import parse_window
from salesgate_adapters.demo.company import AS_OF, load_demo_company
from salesgate_adapters.demo.erp import create_demo_erp, drop_demo_erp
from salesgate_adapters.sql import SqlAdapter
from salesgate_adapters.sql.mapping import MappingError, load_mapping

DOCS = Path(__file__).resolve().parents[1] / "docs" / "policy-language.md"


def example_policy(folder: Path) -> Path:
    """The worked example's files, as docs/policy-language.md shows them."""
    section = DOCS.read_text(encoding="utf-8").split("### Worked example: growth", 1)[1].split("\n## ", 1)[0]
    (folder / "tests").mkdir(parents=True)
    for block in section.split("```yaml\n")[1:]:
        text = block.split("```", 1)[0]
        (folder / text.splitlines()[0].removeprefix("# ").strip()).write_text(text, encoding="utf-8")
    return folder


def test_the_worked_example_passes_its_cases_on_every_backend(tmp_path: Path) -> None:
    folder = example_policy(tmp_path / "customer-history")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.yaml")) == [
        "history.yaml", "policy.yaml", "tests/history.yaml"]
    for backend in ("python", "durable"):
        tested = CliRunner().invoke(cli, ["test", str(folder), "--backend", backend])
        assert tested.exit_code == 0, tested.output
        assert "9 passed" in tested.output
        assert "every rule (4) fired" in tested.output


@pytest.fixture(params=KINDS)
def demo_erp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlAdapter]:
    with isolated_database(request.param, tmp_path) as database:
        # the books with the declared facts the example declares (none of the seed policy's)
        company = load_demo_company()
        create_demo_erp(company.for_policy(load_policy(example_policy(tmp_path / "books"))), database.engine)
        adapter = SqlAdapter(database.url, mapping="demo", today=AS_OF)
        try:
            yield adapter
        finally:
            adapter.close()
            drop_demo_erp(database.engine)


def customer_history(adapter: Any, policy_folder: Path, customer_id: str, as_of: date | None = None) -> dict[str, Any]:
    policy = load_policy(policy_folder)
    facts = [f for f in policy.points["order_approval"].history if f.document == "customer"]
    customer = load_demo_company().customers[customer_id]
    keys = {"id": customer_id, "customer_id": customer_id, "region": customer.region}
    return adapter.salesgate_load_history(document="customer", keys=keys, facts=facts, as_of=as_of) or {}


def test_the_demo_erp_computes_every_history_fact_of_the_example(demo_erp: SqlAdapter, tmp_path: Path) -> None:
    folder = example_policy(tmp_path / "customer-history")
    # as of 2026-11-06: the 4 quarters are 2025-Q4..2026-Q3; the demo's history begins in 2025-Q4, so the
    # 8 quarters hold the same sales and growth divides by 0 (missing). Each old invoice was paid 12 days
    # late; C002's invoice due 2026-10-12 is overdue, partly paid.
    assert customer_history(demo_erp, folder, "C002") == {
        "sales_last_4_quarters": Decimal(240000), "sales_last_8_quarters": Decimal(240000),
        "average_days_paid_late": Decimal("12.00"), "overdue_invoices": 1, "days_since_last_order": 10,
        "region_orders_this_month": 0}
    # C003 has no invoice: no average (missing), not 0
    assert customer_history(demo_erp, folder, "C003") == {
        "sales_last_4_quarters": Decimal(48000), "sales_last_8_quarters": Decimal(48000), "overdue_invoices": 0,
        "days_since_last_order": 23, "region_orders_this_month": 0}
    # C007 never ordered: sums and counts are 0, the days since the last order missing
    assert customer_history(demo_erp, folder, "C007") == {
        "sales_last_4_quarters": Decimal(0), "sales_last_8_quarters": Decimal(0), "overdue_invoices": 0,
        "region_orders_this_month": 0}


@pytest.mark.parametrize(("as_of", "region_orders", "paid_late", "overdue"), [
    (date(2026, 10, 12), 0, Decimal("12.00"), 0),  # the invoice due today is not overdue yet
    (date(2026, 10, 13), 0, Decimal("12.00"), 1),  # now it is: partly paid
    (date(2026, 10, 24), 0, Decimal("12.00"), 1),
    (date(2026, 10, 25), 1, Decimal("12.00"), 1),  # this month includes the as-of day: SO-0944 of 华南
    (date(2026, 10, 27), 2, Decimal("12.00"), 1),  # and SO-0802
    (date(2026, 11, 1), 0, Decimal("12.00"), 1),  # a new month
    (date(2027, 8, 15), 0, Decimal("12.00"), 2),  # 12 months: 2026-08-01..2027-07-31 hold the 2026-08-08 payment
    (date(2027, 9, 1), 0, None, 2),  # 2026-09-01..2027-08-31 do not: no invoice paid, missing
])
def test_the_example_facts_follow_the_window_of_the_as_of_date(demo_erp: SqlAdapter, tmp_path: Path, as_of: date,
                                                               region_orders: int, paid_late: Decimal | None,
                                                               overdue: int) -> None:
    found = customer_history(demo_erp, example_policy(tmp_path / "p"), "C002", as_of)
    assert (found["region_orders_this_month"], found.get("average_days_paid_late"), found["overdue_invoices"]) == (
        region_orders, paid_late, overdue)


@pytest.mark.parametrize("as_of", [date(2026, 10, 27), AS_OF, date(2027, 1, 15), date(2028, 2, 29)])
def test_the_demo_books_in_memory_agree_with_the_erp(demo_erp: SqlAdapter, tmp_path: Path, as_of: date) -> None:
    folder = example_policy(tmp_path / "p")
    books = load_demo_company().adapter()
    shared = ("sales_last_4_quarters", "sales_last_8_quarters", "days_since_last_order", "region_orders_this_month")
    for customer_id in load_demo_company().customers:
        by_sql = customer_history(demo_erp, folder, customer_id, as_of)
        in_memory = customer_history(books, folder, customer_id, as_of)
        assert {k: v for k, v in by_sql.items() if k in shared} == in_memory, (customer_id, as_of)


def test_the_example_decides_through_the_demo_erp_on_every_backend(demo_erp: SqlAdapter, tmp_path: Path) -> None:
    policy = load_policy(example_policy(tmp_path / "p"))
    for backend in ("python", "durable"):
        gate = Gate(policy, backend=backend, entry_points=False, plugins=[demo_erp])
        late = gate.decide("order_approval", {"order": "SO-1002"}, explain=True)  # type: ignore[arg-type]
        assert late.failure is None
        assert (late.outcome, [a.role for a in late.approvals], late.fired) == (Outcome.require_approval, ["finance"],
                                                              ["slow-payer"]), backend
        (entry,) = [e for e in late.trace if e.rule == "slow-payer"]
        assert entry.values["customer.average_days_paid_late"] == Decimal("12.00"), backend
        # growth divides by the 0 of the four quarters before: missing, so shrinking-customer stays quiet
        (growth,) = [e for e in late.trace if e.rule == "shrinking-customer"]
        assert not growth.fired


@pytest.mark.parametrize("erp", sorted(FIXTURES))
@pytest.mark.parametrize("kind", KINDS)
def test_erpnext_and_odoo_mappings_compute_the_examples_history(erp: str, kind: str, tmp_path: Path) -> None:
    """The shipped ERPNext and Odoo mappings over their real table names (tests/fixtures/erp_schemas.py)."""
    folder = example_policy(tmp_path / "p")
    facts = [f for f in load_policy(folder).points["order_approval"].history if f.document == "customer"]
    fixture = FIXTURES[erp]()
    with isolated_database(kind, tmp_path) as database:
        fixture.create(database.engine)
        adapter = SqlAdapter(database.url, mapping=erp, today=TODAY)
        try:
            keys = {"id": fixture.customer_id, "customer_id": fixture.customer_id, "region": fixture.customer["region"]}
            found = adapter.salesgate_load_history(document="customer", keys=keys, facts=facts, as_of=None)
            assert found == fixture.extra["example_history"]
            assert all(type(found[k]) is type(v) for k, v in fixture.extra["example_history"].items())
        finally:
            adapter.close()
            fixture.drop(database.engine)


# -- two dates a row: the average days between them -------------------------------------------------------------

MAPPING = """\
mapping: late
facts:
  order:
    table: orders
    key: id
    columns: {id: id, customer_id: customer_id, order_date: order_date}
    declared: {sales_rep: rep}
    lines:
      table: order_lines
      key: order_id
      columns: {line_no: line_no, sku: sku, qty: qty, unit_price: unit_price}
history:
  customer.days_late:
    query: >-
      SELECT i.due_date, i.paid_on FROM invoices i
      WHERE i.customer_id = :customer_id AND i.paid_on >= :from AND i.paid_on < :until
  order.rep_orders_this_month:
    query: >-
      SELECT COUNT(*) FROM orders o WHERE o.rep = :sales_rep AND o.order_date >= :from AND o.order_date < :until
"""

metadata = sa.MetaData()
invoices = sa.Table("invoices", metadata, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("customer_id", sa.String(16)), sa.Column("due_date", sa.Date),
                    sa.Column("paid_on", sa.Date))
orders = sa.Table("orders", metadata, sa.Column("id", sa.String(16), primary_key=True),
                  sa.Column("customer_id", sa.String(16)), sa.Column("order_date", sa.Date),
                  sa.Column("rep", sa.String(32)), mysql_charset="utf8mb4")


@pytest.fixture(params=KINDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScratchDatabase]:
    with isolated_database(request.param, tmp_path) as database:
        metadata.create_all(database.engine)
        with database.engine.begin() as connection:
            connection.execute(invoices.insert(), [
                {"id": 1, "customer_id": "C1", "due_date": date(2025, 12, 20), "paid_on": date(2026, 1, 2)},  # 13
                {"id": 2, "customer_id": "C1", "due_date": date(2026, 1, 1), "paid_on": date(2026, 1, 1)},  # 0
                {"id": 3, "customer_id": "C1", "due_date": date(2026, 1, 5), "paid_on": date(2026, 1, 7)},  # 2
                {"id": 4, "customer_id": "C1", "due_date": None, "paid_on": date(2026, 1, 8)},  # left out
                {"id": 5, "customer_id": "C1", "due_date": date(2025, 1, 1), "paid_on": date(2026, 2, 1)},  # after
            ])
            connection.execute(orders.insert(), [
                {"id": "S1", "customer_id": "C1", "order_date": date(2025, 12, 31), "rep": "王磊"},  # last month
                {"id": "S2", "customer_id": "C1", "order_date": date(2026, 1, 1), "rep": "王磊"},
                {"id": "S3", "customer_id": "C2", "order_date": date(2026, 1, 10), "rep": "王磊"},
                {"id": "S4", "customer_id": "C2", "order_date": date(2026, 1, 10), "rep": "李娜"},
                {"id": "S5", "customer_id": "C2", "order_date": date(2026, 1, 11), "rep": "王磊"},  # after today
            ])
        yield database
        metadata.drop_all(database.engine)


@pytest.mark.parametrize(("kind", "average"), [(FieldType.number, Decimal("5.00")), (FieldType.integer, 5)])
def test_two_dates_a_row_average_the_days_between_them(ledger: ScratchDatabase, tmp_path: Path, kind: FieldType,
                                                       average: Decimal | int) -> None:
    path = tmp_path / "late.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    adapter = SqlAdapter(ledger.url, mapping=path, today=date(2026, 1, 10))
    try:
        fact = HistoryFact("customer", "days_late", kind, parse_window("90 days"))
        # (13 + 0 + 2) / 3; the row without a due date is left out, the payment after the window too
        assert adapter.salesgate_load_history(document="customer", keys={"customer_id": "C1"}, facts=[fact],
                                              as_of=None) == {"days_late": average}
        assert adapter.salesgate_load_history(document="customer", keys={"customer_id": "C9"}, facts=[fact],
                                              as_of=None) == {}  # no invoice paid: missing, not 0
    finally:
        adapter.close()


def test_an_orders_history_is_keyed_by_a_declared_fact_of_the_order(ledger: ScratchDatabase, tmp_path: Path) -> None:
    path = tmp_path / "late.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    adapter = SqlAdapter(ledger.url, mapping=path, today=date(2026, 1, 10))
    folder = example_policy(tmp_path / "p")
    try:
        policy = load_policy(folder)
        facts = Gate(policy, backend="python", entry_points=False, plugins=[adapter]).facts_for("order_approval", {
            "customer": {"id": "C2", "name": "深圳市宏达贸易有限公司"},
            "products": [{"sku": "P1", "list_price": 100, "cost": 60, "stock": 100}],
            "order": {"id": "SO-NEW", "customer_id": "C2", "sales_rep": "王磊", "order_date": "2026-01-10",
                      "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": 100}]}})
        assert facts.order.rep_orders_this_month == 2  # S2 and S3: not last month's S1, not 李娜's, not tomorrow's
    finally:
        adapter.close()


def test_a_history_query_keyed_by_a_field_the_mapping_does_not_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING.replace("    declared: {sales_rep: rep}\n", ""), encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert "unknown parameter :sales_rep; a order history query is given :from, :until" in str(info.value)
    assert f"{path}:" in str(info.value)


# -- salesgate simulate: what a history file of orders can compute -------------------------------------------------


def _line(i: int, day: str, total: str, customer: str) -> dict[str, Any]:
    return {"order": {"id": f"SO-{i}", "customer_id": customer, "order_date": day,
                      "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": total}]},
            "customer": {"id": customer, "name": customer},
            "products": [{"sku": "P1", "list_price": total, "cost": "1", "stock": 10}]}


def test_simulate_computes_growth_and_the_days_since_the_last_order_from_earlier_lines(tmp_path: Path) -> None:
    import json

    from salesgate.simulation import simulate

    candidate = example_policy(tmp_path / "candidate")
    baseline = example_policy(tmp_path / "baseline")
    rules = (baseline / "history.yaml").read_text(encoding="utf-8")
    kept = rules[:rules.index("  - id: shrinking-customer")] + rules[rules.index("  - id: slow-payer"):]
    kept = kept[:kept.index("  - id: returning-customer")] + kept[kept.index("  - id: busy-month"):]
    (baseline / "history.yaml").write_text(kept, encoding="utf-8")
    (baseline / "tests" / "history.yaml").unlink()
    lines = [
        _line(1, "2024-03-10", "60000", "C1"),
        _line(2, "2024-11-10", "40000", "C1"),  # 4 quarters: 60,000; 8 quarters the same: no growth to read
        _line(3, "2024-12-01", "5000", "C2"),
        _line(4, "2025-06-10", "70000", "C1"),  # 40,000 after 60,000: down 33%
        _line(5, "2026-01-15", "1000", "C1"),  # 2025's 70,000 after 2024's 100,000: down 30%; 219 days
        _line(6, "2026-03-01", "1000", "C2"),  # 0 after 5,000, and 455 days since its last order
    ]
    source = tmp_path / "history.jsonl"
    source.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    report = simulate(baseline, candidate, source, workers=1, hooks=["order_approval"])
    approval = report.tally.hooks["order_approval"]
    changed = {c.subject: c for c in approval.examples}
    assert {subject: change.after.rules for subject, change in changed.items()} == {
        "SO-4": ("shrinking-customer",), "SO-5": ("shrinking-customer",),
        "SO-6": ("shrinking-customer", "returning-customer")}
    assert approval.outcomes_after == {"allow": 3, "warn": 3}


def test_two_columns_that_are_not_dates_are_refused_with_the_mapping_line(ledger: ScratchDatabase,
                                                                           tmp_path: Path) -> None:
    from salesgate.errors import AdapterError

    path = tmp_path / "late.yaml"
    path.write_text(MAPPING.replace("SELECT i.due_date, i.paid_on", "SELECT i.customer_id, i.paid_on"),
                    encoding="utf-8")
    adapter = SqlAdapter(ledger.url, mapping=path, today=date(2026, 1, 10))
    try:
        fact = HistoryFact("customer", "days_late", FieldType.number, parse_window("90 days"))
        with pytest.raises(AdapterError) as info:
            adapter.salesgate_load_history(document="customer", keys={"customer_id": "C1"}, facts=[fact], as_of=None)
        assert "customer.days_late averages the days between two dates per row" in str(info.value)
        assert f"{path}:" in str(info.value)
    finally:
        adapter.close()
