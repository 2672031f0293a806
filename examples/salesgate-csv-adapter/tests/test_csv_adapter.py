"""CsvAdapter reads the sample books exactly, and every bad row is reported with file:line."""

from __future__ import annotations

import csv
import re
import shutil
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from salesgate_csv_adapter import SAMPLE_DIRECTORY, CsvAdapter, CsvAdapters

from salesgate import AdapterError, CreditExposure, Delivery, Outcome
from salesgate.testing import GateFactory

TODAY = "2026-11-23"
SHANGHAI = timezone(timedelta(hours=8))  # a fixed offset: these tests need no time zone database


def sample(directory: Path = SAMPLE_DIRECTORY, **options: Any) -> CsvAdapter:
    options.setdefault("today", TODAY)
    return CsvAdapter(directory, **options)


@pytest.fixture
def books(tmp_path: Path) -> Path:
    """A copy of the sample books that a test may break."""
    return Path(shutil.copytree(SAMPLE_DIRECTORY, tmp_path / "books"))


def replace_line(path: Path, line: int, text: str, encoding: str = "utf-8") -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line - 1] = text
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


def refused(directory: Path) -> str:
    with pytest.raises(AdapterError) as caught:
        sample(directory)
    return str(caught.value)


# -- reading ---------------------------------------------------------------------------------------


def test_customer_keeps_its_chinese_name_and_decimal_credit_limit() -> None:
    customer = sample().salesgate_load_customer(customer_id="K002")
    assert customer is not None
    assert customer.name == "深圳市宏达贸易有限公司"
    assert customer.region == "华南"
    assert customer.credit_limit == Decimal("150000.00")
    assert customer.has_repayment_plan


def test_quoted_cells_keep_their_commas() -> None:
    customer = sample().salesgate_load_customer(customer_id="K004")
    assert customer is not None
    assert customer.name == "Northwind Traders, Ltd."


def test_money_is_exact_decimal_never_float() -> None:
    exposure = sample().salesgate_load_exposure(customer_id="K003")
    assert exposure is not None
    assert type(exposure.open_receivables) is Decimal
    assert exposure.open_receivables == Decimal("30000.50")  # 21000.00 + 9000.50, exactly
    products = sample().salesgate_load_products(skus=["PUMP-20"])
    assert products is not None
    assert products[0].list_price == Decimal("4500.00")
    assert products[0].name == "离心水泵 20m³/h"


def test_exposure_counts_open_invoices_overdue_ones_and_confirmed_orders() -> None:
    assert sample().salesgate_load_exposure(customer_id="K002") == CreditExposure(
        open_receivables=Decimal("110000.00"),  # two open invoices
        open_orders=Decimal("20000.00"),  # SO-1990 is confirmed and not yet invoiced
        overdue_amount=Decimal("12000.00"),  # INV-2026-0688, due 2026-10-29
        max_overdue_days=25,
    )


def test_customer_without_invoices_owes_nothing_and_stranger_has_no_exposure() -> None:
    assert sample().salesgate_load_exposure(customer_id="K004") == CreditExposure()
    assert sample().salesgate_load_exposure(customer_id="NOBODY") is None


def test_invoice_is_overdue_from_the_day_after_its_due_date() -> None:
    on_due_date = sample(today="2026-10-29").salesgate_load_exposure(customer_id="K002")
    day_after = sample(today="2026-10-30").salesgate_load_exposure(customer_id="K002")
    assert on_due_date is not None
    assert day_after is not None
    assert (on_due_date.overdue_amount, on_due_date.max_overdue_days) == (Decimal(0), 0)
    assert (day_after.overdue_amount, day_after.max_overdue_days) == (Decimal("12000.00"), 1)


def test_overdue_days_count_on_the_company_calendar() -> None:
    early_morning_in_shanghai = datetime(2026, 11, 23, 1, 30, tzinfo=SHANGHAI)  # still 2026-11-22 in UTC
    assert sample(today=early_morning_in_shanghai).today() == date(2026, 11, 23)
    assert sample(today=early_morning_in_shanghai, timezone=SHANGHAI).today() == date(2026, 11, 23)
    assert sample(today=early_morning_in_shanghai, timezone="UTC").today() == date(2026, 11, 22)
    assert sample(today="2026-11-23T01:30:00+08:00", timezone="UTC").today() == date(2026, 11, 22)


def test_without_today_the_clock_decides_in_the_time_zone() -> None:
    adapter = CsvAdapter(SAMPLE_DIRECTORY, timezone="UTC")
    assert adapter.today() == datetime.now(UTC).date()


@pytest.mark.parametrize("today", [datetime(2026, 11, 23, 9, 0), "2026-11-23T09:00:00"])
def test_today_without_a_time_zone_is_refused(today: object) -> None:
    with pytest.raises(AdapterError, match="has no time zone"):
        sample(today=today)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(AdapterError, match="unknown time zone 'Mars/Olympus'"):
        sample(timezone="Mars/Olympus")


def test_products_are_those_asked_for_each_once() -> None:
    products = sample().salesgate_load_products(skus=["VALVE-DN50", "NOPE", "VALVE-DN50", "MOTOR-5.5"])
    assert products is not None
    assert [p.sku for p in products] == ["VALVE-DN50", "MOTOR-5.5"]
    assert sample().salesgate_load_products(skus=["NOPE"]) is None


def test_order_is_loaded_with_its_lines_in_order() -> None:
    order = sample().salesgate_load_order(order_id="SO-2001")
    assert order is not None
    assert [(ln.line_no, ln.sku, ln.unit_price) for ln in order.lines] == [
        (1, "MOTOR-5.5", Decimal("2660.00")), (2, "VALVE-DN50", Decimal("350.17"))]
    assert order.total == Decimal("148420.40")
    assert order.created_at == datetime(2026, 11, 20, 9, 30, tzinfo=SHANGHAI)


def test_delivery_sums_partial_deliveries_and_returns() -> None:
    assert sample().salesgate_load_delivery(order_id="SO-1801", sku="MOTOR-5.5") == Delivery(
        order_id="SO-1801", sku="MOTOR-5.5", customer_id="K001", invoice_id="INV-2026-0812",
        delivered_qty=30, already_returned_qty=2, unit_price=Decimal("2660.00"), delivered_on=date(2026, 10, 28))


def test_delivery_unit_price_is_after_the_line_discount() -> None:
    delivery = sample().salesgate_load_delivery(order_id="SO-1801", sku="PUMP-20")
    assert delivery is not None
    assert delivery.unit_price == Decimal("4275.00")  # 4500.00 less 5%


def test_without_a_deliveries_file_no_delivery_is_known(books: Path) -> None:
    (books / "deliveries.csv").unlink()
    assert sample(books).salesgate_load_delivery(order_id="SO-1801", sku="MOTOR-5.5") is None


def test_excel_utf8_byte_order_mark_is_accepted(books: Path) -> None:
    customers = books / "customers.csv"
    customers.write_bytes(customers.read_text(encoding="utf-8").encode("utf-8-sig"))
    assert sample(books).salesgate_load_customer(customer_id="K001") is not None


# -- bad books: every error names file:line (and column) ------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "line", "text", "message"),
    [
        ("receivables.csv", 3, "INV-1,K001,\"1,200.00\",2026-12-15",
         "receivables.csv:3: column 'amount': '1,200.00' is not an amount: write it like 1234.50 "
         "(no thousands separators)"),
        ("products.csv", 2, "MOTOR-5.5,电机,1e3,1900.00,500",
         "products.csv:2: column 'list_price': '1e3' is not an amount"),
        ("customers.csv", 2, "K001,华东机电有限公司,AA,active,华东,false,false,800000.00,good,60,false,false",
         "customers.csv:2: column 'grade': Input should be 'A', 'B' or 'C' (got 'AA')"),
        ("receivables.csv", 4, "INV-9,K999,100.00,2026-12-15",
         "receivables.csv:4: column 'customer_id': 'K999' is not in customers.csv"),
        ("receivables.csv", 2, "INV-9,K001,100.00,2026-13-01",
         "receivables.csv:2: column 'due_date': '2026-13-01' is not a date like 2026-11-23"),
        ("orders.csv", 3, "SO-2001,K001,2026-11-20,2026-11-20T09:30:00,written,credit,60,false,,pending",
         "orders.csv:3: column 'created_at': Input should have timezone info"),
        ("orders.csv", 3, "SO-2001,K001,2026-11-20,,written,credit,60,false,,shipped",
         "orders.csv:3: column 'status': 'shipped' is not a status: use pending, confirmed, closed"),
        ("order_lines.csv", 3, "SO-2001,1,MOTOR-5.5,-40,2660.00,",
         "order_lines.csv:3: column 'qty': Input should be greater than 0 (got '-40')"),
        ("order_lines.csv", 4, "SO-2001,1,VALVE-DN50,120,350.17,",
         "order_lines.csv:4: column 'line_no': order 'SO-2001' already has a line 1"),
        ("order_lines.csv", 5, "SO-2002,1,PUMP-99,8,4500.00,",
         "order_lines.csv:5: column 'sku': 'PUMP-99' is not in products.csv"),
        ("order_lines.csv", 6, "SO-7777,1,VALVE-DN50,20,380.00,",
         "order_lines.csv:6: column 'order_id': 'SO-7777' is not in orders.csv"),
        ("customers.csv", 3, "K001,重复客户,B", "customers.csv:3: 3 cells, but the header has 12"),
        ("customers.csv", 3, "K001,重复客户,B,active,华南,true,false,1.00,fair,30,true,false",
         "customers.csv:3: customer 'K001' appears twice"),
        ("customers.csv", 1, "id,name,grade,status,region,region_has_distributor,is_distributor,credit_limt",
         "customers.csv:1: unknown column 'credit_limt' (did you mean 'credit_limit'?)"),
        ("products.csv", 1, "sku,name,cost,stock", "products.csv:1: missing column(s) list_price"),
        ("deliveries.csv", 3, "SO-1801,CABLE-100,2,2026-10-15,,",
         "deliveries.csv:3: column 'sku': order 'SO-1801' has no line for 'CABLE-100'"),
        ("deliveries.csv", 4, "SO-1801,MOTOR-5.5,10,2026-10-28,40,",
         "deliveries.csv:4: column 'returned_qty': 40 of 'MOTOR-5.5' returned on order 'SO-1801', but only 30"),
        ("deliveries.csv", 2, "SO-1801,MOTOR-5.5,twenty,2026-10-15,,",
         "deliveries.csv:2: column 'qty': 'twenty' is not a quantity"),
    ],
)
def test_bad_row_is_reported_with_file_line_and_column(
    books: Path, filename: str, line: int, text: str, message: str
) -> None:
    replace_line(books / filename, line, text)
    error = refused(books)
    assert error.startswith(str(books / message.split(":")[0]) + ":")
    assert message in error


def test_order_without_lines_is_refused(books: Path) -> None:
    replace_line(books / "order_lines.csv", 5, "")
    assert "orders.csv:4: order 'SO-2002' has no lines in order_lines.csv" in refused(books)


def test_file_in_gbk_is_refused_with_its_line(books: Path) -> None:
    customers = books / "customers.csv"
    customers.write_bytes(customers.read_text(encoding="utf-8").encode("gbk"))
    assert re.search(r"customers\.csv:2: not UTF-8 .*GBK", refused(books))


def test_missing_file_is_named_with_the_columns_it_needs(books: Path) -> None:
    (books / "receivables.csv").unlink()
    error = refused(books)
    assert "receivables.csv: file not found; it needs the columns customer_id, amount, due_date" in error


def test_directory_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="is not a directory"):
        CsvAdapter(tmp_path / "nowhere")


def test_reload_reads_the_files_again(books: Path) -> None:
    adapter = sample(books)
    with (books / "receivables.csv").open("a", encoding="utf-8") as file:
        file.write("INV-2026-0999,K004,500.00,2026-11-01\n")
    assert adapter.salesgate_load_exposure(customer_id="K004") == CreditExposure()
    adapter.reload()
    assert adapter.salesgate_load_exposure(customer_id="K004") == CreditExposure(
        open_receivables=Decimal("500.00"), overdue_amount=Decimal("500.00"), max_overdue_days=22)


# -- through a gate --------------------------------------------------------------------------------


def test_decides_orders_from_their_ids_alone(salesgate_gate_factory: GateFactory) -> None:
    gate = salesgate_gate_factory(sample())
    large = gate.approve_order({"order": "SO-2001"})
    assert (large.outcome, large.required_roles) == (Outcome.require_approval, ["sales_manager", "general_manager"])
    long_overdue = gate.check_credit({"order": "SO-2003"})
    assert long_overdue.outcome == Outcome.block
    assert "long-overdue" in [r.rule for r in long_overdue.reasons]


def test_return_named_by_order_and_date_is_completed_from_the_delivery(salesgate_gate_factory: GateFactory) -> None:
    gate = salesgate_gate_factory(sample())
    decision = gate.handle_return({"return": {
        "id": "RMA-301", "customer_id": "K001", "reason": "defect", "original_order_id": "SO-1801",
        "sku": "MOTOR-5.5", "qty": 3, "requested_on": "2026-11-23"}})
    assert decision.failure is None
    assert decision.returns is not None
    assert decision.returns.amount == Decimal("7980.00")  # 3 × 2660.00 from the order line
    assert (decision.outcome, decision.required_roles) == (Outcome.require_approval, ["sales_manager"])


def test_registers_itself_as_csv(salesgate_gate_factory: GateFactory) -> None:
    gate = salesgate_gate_factory("csv", plugins=[CsvAdapters()], entry_points=False,
                                  adapter_options={"directory": SAMPLE_DIRECTORY, "today": TODAY})
    assert isinstance(gate.adapter, CsvAdapter)
    assert gate.approve_order({"order": "SO-2002"}).failure is None


def test_decision_log_gets_one_row_per_decision(tmp_path: Path, salesgate_gate_factory: GateFactory) -> None:
    log = tmp_path / "decisions.csv"
    gate = salesgate_gate_factory(sample(decision_log=log, timezone=SHANGHAI))
    gate.approve_order({"order": "SO-2001"})
    gate.check_credit({"order": "SO-2003"})
    with log.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["hook"], r["subject"], r["outcome"], r["approvals"]) for r in rows] == [
        ("order_approval", "SO-2001", "require_approval", "sales_manager general_manager"),
        ("credit_check", "SO-2003", "block", ""),
    ]
    assert rows[1]["rules"] == "any-overdue long-overdue"
    assert rows[0]["decided_at"].endswith("+08:00")
