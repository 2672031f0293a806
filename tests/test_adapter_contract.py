"""The adapter contract (``salesgate.testing``) holds for MemoryAdapter, and catches broken adapters.

The plugin is opt-in: this module enables it the way an adapter author's tests would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from salesgate import hookspecs
from salesgate.errors import AdapterError
from salesgate.models import Delivery, Order, OrderLine, Product, ReturnRequest
from salesgate.testing import AdapterContract, refusing_float_money
from salesgate_adapters import MemoryAdapter
from salesgate_adapters.demo import AS_OF, load_demo_company

pytest_plugins = ["salesgate.testing", "pytester"]

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = [str(ROOT / "core"), str(ROOT / "plugins"), str(ROOT / "adapters")]


def demo_books() -> dict[str, Any]:
    company = load_demo_company()
    deliveries = [Delivery(order_id=r.original_order_id, sku=r.sku, customer_id=r.customer_id,
                           invoice_id=r.invoice_id, delivered_qty=r.delivered_qty, unit_price=r.unit_price,
                           delivered_on=AS_OF - timedelta(days=r.days_since_delivery),
                           already_returned_qty=r.already_returned_qty)
                  for r in company.returns]
    return {"customers": list(company.customers.values()), "exposures": dict(company.exposures),
            "products": list(company.products.values()), "orders": list(company.orders),
            "deliveries": deliveries}


class TestMemoryAdapterContract(AdapterContract):
    adapter_name = "memory"
    known_customer_id = "C001"
    known_customer_name = "华东机电有限公司"
    known_skus = ("MOTOR-5.5", "VALVE-DN50")
    known_order_id = "SO-1001"
    known_delivery = (load_demo_company().returns[0].original_order_id, load_demo_company().returns[0].sku)

    @pytest.fixture
    def adapter(self) -> MemoryAdapter:
        return MemoryAdapter(demo_books())

    @pytest.fixture
    def adapter_options(self) -> Mapping[str, Any]:
        return {"data": demo_books()}


BROKEN_ADAPTER_TESTS = '''
import pytest
from salesgate import Customer, Order, Product, hookimpl
from salesgate.errors import AdapterError
from salesgate.testing import AdapterContract, refusing_float_money

CUSTOMERS = {"C1": Customer(id="C1", name="åŽä¸œæœºç”µ")}   # UTF-8 read as Latin-1: mojibake
PRODUCTS = [Product(sku="P1", list_price="10"), Product(sku="P2", list_price="20")]


class BrokenAdapter:
    @hookimpl
    def salesgate_load_customer(self, customer_id):
        return CUSTOMERS[customer_id]                            # raises for an unknown customer

    @hookimpl
    def salesgate_load_products(self, skus):
        return PRODUCTS                                          # ignores which skus were asked for

    @hookimpl
    def salesgate_load_order(self, order_id):
        return Order(id=order_id, customer_id="C-STRANGER", order_date="2026-11-23",
                     lines=[{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": "10"}])


class TestBrokenAdapter(AdapterContract):
    known_customer_id = "C1"
    known_customer_name = "华东机电"
    known_skus = ("P1",)
    known_order_id = "SO-1"

    @pytest.fixture
    def adapter(self):
        return BrokenAdapter()
'''


@pytest.fixture
def source_roots_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*SOURCE_ROOTS, os.environ.get("PYTHONPATH", "")]))


@pytest.mark.usefixtures("source_roots_on_path")
def test_contract_names_what_a_broken_adapter_gets_wrong(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken=BROKEN_ADAPTER_TESTS)
    result = pytester.runpytest_subprocess("-p", "salesgate.testing", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    result.stdout.fnmatch_lines([  # in the order the contract's tests run
        "E * the adapter does not implement salesgate_load_exposure",
        "E * returns None for a customer it does not know*salesgate_load_customer(customer_id=*) raised KeyError*",
        "E * asked for *NO-SUCH-SKU*, got *P2*: expected each known sku once and unknown skus left out",
        "E * order 'SO-1' is for customer 'C-STRANGER', but salesgate_load_customer(*) raised KeyError*",
        "E * customer 'C1' is named 'åŽä¸œæœºç”µ', expected '华东机电': read your source as UTF-8*",
    ])
    assert outcomes.get("failed", 0) >= 5
    assert "error" not in outcomes


FLOAT_ADAPTER_TESTS = '''
import pytest
from salesgate import CreditExposure, Customer, Order, Product, hookimpl
from salesgate.testing import AdapterContract, refusing_float_money

# What a DB-API driver returns for a FLOAT/DOUBLE column, or json.loads for a number.
ROWS = {"customer": {"id": "C1", "name": "华东机电", "credit_limit": 50000.0},
        "exposure": {"open_receivables": 1200.5, "open_orders": 0.0, "overdue_amount": 0.0},
        "products": [{"sku": "P1", "list_price": 19.99, "cost": 12.5}],
        "line": {"line_no": 1, "sku": "P1", "qty": 3, "unit_price": 19.99}}


class FloatAdapter:
    """Right in every way the contract could see before, except that money comes through float."""

    @hookimpl
    def salesgate_load_customer(self, customer_id):
        return Customer(**ROWS["customer"]) if customer_id == "C1" else None

    @hookimpl
    def salesgate_load_exposure(self, customer_id):
        return CreditExposure(**ROWS["exposure"]) if customer_id == "C1" else None

    @hookimpl
    def salesgate_load_products(self, skus):
        return [Product(**row) for row in ROWS["products"] if row["sku"] in skus] or None

    @hookimpl
    def salesgate_load_order(self, order_id):
        if order_id != "SO-1":
            return None
        return Order(id="SO-1", customer_id="C1", order_date="2026-11-23", lines=[ROWS["line"]])


class TestFloatAdapter(AdapterContract):
    known_customer_id = "C1"
    known_customer_name = "华东机电"
    known_skus = ("P1",)
    known_order_id = "SO-1"

    @pytest.fixture
    def adapter(self):
        return FloatAdapter()
'''


@pytest.mark.usefixtures("source_roots_on_path")
def test_contract_fails_an_adapter_that_reads_money_through_float(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_float=FLOAT_ADAPTER_TESTS)
    result = pytester.runpytest_subprocess("-p", "salesgate.testing", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([  # in the order the contract's tests run
        "E * salesgate_load_customer(customer_id='C1') raised TypeError: Customer: credit_limit given as the "
        "float 50000.0: read money as a Decimal*never through float",
        "E * open_receivables given as the float 1200.5*",
        "E * list_price given as the float 19.99*",
        "E * Order: lines?0?.unit_price given as the float 19.99*",  # ? for the brackets, which fnmatch reads
    ])
    result.stdout.fnmatch_lines(["FAILED *::test_products_are_exactly_the_requested_skus_with_decimal_prices*"])
    assert "error" not in result.parseoutcomes()


@pytest.mark.parametrize(("model", "data", "field"), [
    (ReturnRequest, {"id": "R1", "customer_id": "C1", "reason": "defect", "original_order_id": "SO-1", "sku": "P1",
                     "qty": 1, "unit_price": "10", "delivered_qty": 1, "days_since_delivery": 1,
                     "claimed_amount": 10.5}, "claimed_amount"),  # optional money
    (OrderLine, {"line_no": 1, "sku": "P1", "qty": 1, "unit_price": "10", "discount": 0.05}, "discount"),  # a rate
    (Product, {"sku": "P1", "list_price": "10", "cost": 6.0}, "cost"),
])
def test_inside_the_contract_every_decimal_field_refuses_a_float(model: type[BaseModel], data: dict[str, Any],
                                                                  field: str) -> None:
    with refusing_float_money():
        with pytest.raises(TypeError, match=rf"{field} given as the float "):
            model.model_validate(data)
        with pytest.raises(TypeError, match=rf"{field} given as the float "):
            model(**data)
        assert getattr(model.model_validate({**data, field: str(data[field])}), field) == Decimal(str(data[field]))
    assert getattr(model.model_validate(data), field) == Decimal(str(data[field]))  # outside it: accepted
    assert getattr(model(**data), field) == Decimal(str(data[field]))


def test_inside_the_contract_a_float_in_a_nested_line_is_named_by_its_path() -> None:
    order = {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-23",
             "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": "10"},
                       {"line_no": 2, "sku": "P2", "qty": 1, "unit_price": 2.5}]}
    nested = r"^Order: lines\[1\]\.unit_price given as the float 2\.5: read money as a Decimal"
    with refusing_float_money(), pytest.raises(TypeError, match=nested):
        Order(**order)


def test_money_given_as_a_float_is_still_accepted_from_an_erp() -> None:
    """Only adapters under the contract are refused floats: an ERP's float keeps the Decimal of its repr."""
    assert Product(sku="P1", list_price=19.99).list_price == Decimal("19.99")  # type: ignore[arg-type]


@pytest.mark.usefixtures("source_roots_on_path")
def test_contract_without_an_adapter_fixture_says_what_to_add(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing=textwrap.dedent("""
        from salesgate.testing import AdapterContract, refusing_float_money

        class TestForgotTheFixture(AdapterContract):
            known_customer_id = "C1"
    """))
    result = pytester.runpytest_subprocess("-p", "salesgate.testing", "-p", "no:cacheprovider",
                                           "-k", "known_customer_loads")
    result.stdout.fnmatch_lines(["*TestForgotTheFixture must define an `adapter` fixture*"])


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(SOURCE_ROOTS)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)


def test_importing_salesgate_never_needs_pytest() -> None:
    result = _python(
        "import sys; sys.modules['pytest'] = None\n"  # any import of pytest now fails
        "import salesgate, salesgate.gate, salesgate_adapters.demo\n"
        "assert 'salesgate.testing' not in sys.modules\n"
    )
    assert result.returncode == 0, result.stderr


def test_importing_the_plugin_builds_and_registers_nothing() -> None:
    result = _python(
        "import sys, salesgate.testing\n"
        "assert 'salesgate_plugins' not in sys.modules, 'built-in plugins were loaded'\n"
        "assert 'salesgate.engine.durable' not in sys.modules, 'a rule engine was started'\n"
    )
    assert result.returncode == 0, result.stderr


def test_plugin_is_opt_in_without_a_pytest11_entry_point() -> None:
    assert "pytest11" not in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


# -- MemoryAdapter's optional hooks ---------------------------------------------------------------------------------


def test_memory_adapter_counts_the_orders_it_holds_for_their_customer() -> None:
    adapter = MemoryAdapter(demo_books())
    order = adapter.orders["SO-1001"]
    asked = ["SO-1001", "SO-NOT-IN-THE-ERP", "SO-1001"]
    assert adapter.salesgate_load_counted_orders(customer_id=order.customer_id, order_ids=asked) == ["SO-1001"]
    assert adapter.salesgate_load_counted_orders(customer_id="SOMEONE-ELSE", order_ids=["SO-1001"]) == []


def test_memory_adapter_refuses_duplicate_and_orphan_deliveries() -> None:
    books = demo_books()
    first = books["deliveries"][0]
    with pytest.raises(AdapterError, match="appears twice"):
        MemoryAdapter({**books, "deliveries": [first, first]})
    with pytest.raises(AdapterError, match="deliveries for unknown customer"):
        MemoryAdapter({**books, "deliveries": [first.model_copy(update={"customer_id": "NOBODY"})]})
    with pytest.raises(AdapterError, match=r"deliveries\[0\] is not a valid Delivery"):
        MemoryAdapter({**books, "deliveries": [{"order_id": "X"}]})


def test_every_adapter_hook_is_in_the_hook_table_of_the_adapter_guide() -> None:
    """docs/writing-adapters.md lists what an adapter implements: a new data hook must join its table."""
    guide = (ROOT / "docs" / "writing-adapters.md").read_text(encoding="utf-8")
    table = guide.split("## 2. Implement the data hooks", 1)[1].split("## 3.", 1)[0]
    rows = {line.split("`")[1].split("(")[0] for line in table.splitlines() if line.startswith("| `salesgate_")}
    adapter_hooks = {name for name in vars(hookspecs)
                     if name.startswith("salesgate_load_") or name == "salesgate_record_decision"}
    assert adapter_hooks - rows == set()
