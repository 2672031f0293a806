"""The five CSV files of a directory, read and checked once into salesgate's fact models.

Columns are named after the model fields (``salesgate vocab`` lists them), so a header line is
also the documentation of a file. Every row is validated when the files are read: a bad row is
an :class:`~salesgate.AdapterError` naming ``file:line`` and the column, before any decision is
made, never a surprise in the middle of one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from salesgate import CreditExposure, Customer, Delivery, Order, OrderLine, Product

from ._csv import Row, read_rows

CUSTOMERS = "customers.csv"
PRODUCTS = "products.csv"
RECEIVABLES = "receivables.csv"
ORDERS = "orders.csv"
ORDER_LINES = "order_lines.csv"
DELIVERIES = "deliveries.csv"
"""Optional: without it the adapter knows no deliveries, and a return must carry its own facts."""

ORDER_STATUSES = ("pending", "confirmed", "closed")
"""``pending``: waiting for the gate; ``confirmed``: accepted, not yet invoiced (counts as an
open order in the credit exposure); ``closed``: invoiced or cancelled."""

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Invoice:
    """An open (unpaid) invoice from receivables.csv."""

    invoice_id: str
    amount: Decimal
    due_date: date


@dataclass(frozen=True)
class Books:
    """Everything read from one directory; immutable, so any number of threads may read it."""

    customers: Mapping[str, Customer]
    products: Mapping[str, Product]
    orders: Mapping[str, Order]
    invoices: Mapping[str, tuple[Invoice, ...]]
    open_orders: Mapping[str, Decimal]
    deliveries: Mapping[tuple[str, str], Delivery]

    def exposure(self, customer_id: str, today: date) -> CreditExposure | None:
        """The customer's exposure on ``today``: an invoice is overdue from the day after its due date."""
        if customer_id not in self.customers:
            return None
        invoices = self.invoices.get(customer_id, ())
        overdue = [inv for inv in invoices if inv.due_date < today]
        return CreditExposure(
            open_receivables=sum((inv.amount for inv in invoices), Decimal(0)),
            open_orders=self.open_orders.get(customer_id, Decimal(0)),
            overdue_amount=sum((inv.amount for inv in overdue), Decimal(0)),
            max_overdue_days=max(((today - inv.due_date).days for inv in overdue), default=0),
        )


def read_books(directory: Path) -> Books:
    customers = _customers(directory / CUSTOMERS)
    products = _products(directory / PRODUCTS)
    invoices = _invoices(directory / RECEIVABLES, customers)
    orders, statuses = _orders(directory / ORDERS, directory / ORDER_LINES, customers, products)
    open_orders: dict[str, Decimal] = defaultdict(Decimal)
    for order in orders.values():
        if statuses[order.id] == "confirmed":
            open_orders[order.customer_id] += order.total
    deliveries = _deliveries(directory / DELIVERIES, orders) if (directory / DELIVERIES).exists() else {}
    return Books(
        customers=MappingProxyType(customers),
        products=MappingProxyType(products),
        orders=MappingProxyType(orders),
        invoices=MappingProxyType({cid: tuple(found) for cid, found in invoices.items()}),
        open_orders=MappingProxyType(dict(open_orders)),
        deliveries=MappingProxyType(deliveries),
    )


def _customers(path: Path) -> dict[str, Customer]:
    columns = list(Customer.model_fields)
    out: dict[str, Customer] = {}
    for row in read_rows(path, required=("id", "name"), optional=[c for c in columns if c not in ("id", "name")]):
        data = _with_money(row, row.take(columns), ("credit_limit",))
        _add(out, row, _model(row, Customer, data), "customer", key=row.text("id"))
    return out


def _products(path: Path) -> dict[str, Product]:
    out: dict[str, Product] = {}
    for row in read_rows(path, required=("sku", "list_price"), optional=("name", "cost", "stock")):
        data = _with_money(row, row.take(Product.model_fields), ("list_price", "cost"))
        _add(out, row, _model(row, Product, data), "product", key=row.text("sku"))
    return out


def _invoices(path: Path, customers: Mapping[str, Customer]) -> dict[str, list[Invoice]]:
    out: dict[str, list[Invoice]] = defaultdict(list)
    for row in read_rows(path, required=("customer_id", "amount", "due_date"), optional=("invoice_id",)):
        customer_id = _known(row, "customer_id", customers, CUSTOMERS)
        out[customer_id].append(Invoice(row.cells.get("invoice_id", ""), row.money("amount"), _day(row, "due_date")))
    return out


def _orders(
    orders_path: Path, lines_path: Path, customers: Mapping[str, Customer], products: Mapping[str, Product]
) -> tuple[dict[str, Order], dict[str, str]]:
    header = [c for c in Order.model_fields if c != "lines"]
    order_rows: dict[str, Row] = {}
    for row in read_rows(orders_path, required=("id", "customer_id", "order_date"),
                         optional=[*[c for c in header if c not in ("id", "customer_id", "order_date")], "status"]):
        _known(row, "customer_id", customers, CUSTOMERS)
        status = row.cells.get("status", "pending")
        if status not in ORDER_STATUSES:
            raise row.error(f"{status!r} is not a status: use {', '.join(ORDER_STATUSES)}", "status")
        _add(order_rows, row, row, "order", key=row.text("id"))

    lines: dict[str, dict[int, OrderLine]] = defaultdict(dict)
    for row in read_rows(lines_path, required=("order_id", "line_no", "sku", "qty", "unit_price"),
                         optional=("discount",)):
        order_id = _known(row, "order_id", order_rows, ORDERS)
        _known(row, "sku", products, PRODUCTS)
        line = _model(row, OrderLine, _with_money(row, row.take(OrderLine.model_fields), ("unit_price", "discount")))
        if line.line_no in lines[order_id]:
            raise row.error(f"order {order_id!r} already has a line {line.line_no}", "line_no")
        lines[order_id][line.line_no] = line

    orders: dict[str, Order] = {}
    statuses: dict[str, str] = {}
    for order_id, row in order_rows.items():
        if not lines.get(order_id):
            raise row.error(f"order {order_id!r} has no lines in {ORDER_LINES}")
        data: dict[str, Any] = {**row.take(header), "lines": [lines[order_id][n] for n in sorted(lines[order_id])]}
        orders[order_id] = _model(row, Order, data)
        statuses[order_id] = row.cells.get("status", "pending")
    return orders, statuses


def _deliveries(path: Path, orders: Mapping[str, Order]) -> dict[tuple[str, str], Delivery]:
    """One Delivery per order and product: quantities summed over its rows, dated by the last of them.

    The unit price is the order line's, after its discount; the customer is the order's.
    """
    rows_by_key: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in read_rows(path, required=("order_id", "sku", "qty", "delivered_on"),
                         optional=("returned_qty", "invoice_id")):
        order = orders[_known(row, "order_id", orders, ORDERS)]
        sku = row.text("sku")
        if not any(line.sku == sku for line in order.lines):
            raise row.error(f"order {order.id!r} has no line for {sku!r}", "sku")
        rows_by_key[order.id, sku].append(row)
    out: dict[tuple[str, str], Delivery] = {}
    for (order_id, sku), rows in rows_by_key.items():
        order = orders[order_id]
        prices = {_net_price(line) for line in order.lines if line.sku == sku}
        if len(prices) > 1:
            raise rows[0].error(f"order {order_id!r} sells {sku!r} at several prices; which one was delivered "
                                "is ambiguous", "sku")
        delivered = sum(_count(row, "qty") for row in rows)
        returned = sum(_count(row, "returned_qty") for row in rows)
        if returned > delivered:
            raise rows[-1].error(f"{returned} of {sku!r} returned on order {order_id!r}, but only {delivered} "
                                 "delivered", "returned_qty")
        last = max(rows, key=lambda row: _day(row, "delivered_on"))
        invoices = [row.cells["invoice_id"] for row in rows if "invoice_id" in row.cells]
        out[order_id, sku] = _model(last, Delivery, {
            "order_id": order_id, "sku": sku, "customer_id": order.customer_id,
            "invoice_id": invoices[-1] if invoices else None, "delivered_qty": delivered,
            "already_returned_qty": returned, "unit_price": prices.pop(), "delivered_on": _day(last, "delivered_on"),
        })
    return out


def _net_price(line: OrderLine) -> Decimal:
    return (line.unit_price * (1 - line.discount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _count(row: Row, column: str) -> int:
    value = row.cells.get(column, "0")
    if not value.isdigit():
        raise row.error(f"{value!r} is not a quantity (a whole number >= 0)", column)
    return int(value)


def _day(row: Row, column: str) -> date:
    try:
        return date.fromisoformat(row.text(column))
    except ValueError:
        raise row.error(f"{row.cells[column]!r} is not a date like 2026-11-23", column) from None


def _with_money(row: Row, data: dict[str, Any], columns: Collection[str]) -> dict[str, Any]:
    """``data`` with its amount columns parsed to Decimal by :meth:`Row.money` (a model would take 1e3)."""
    return {**data, **{c: row.money(c) for c in columns if c in data}}


def _model(row: Row, model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        column = str(error["loc"][0]) if error["loc"] else None
        value = row.cells.get(column) if column else None
        got = f" (got {value!r})" if value is not None else ""
        raise row.error(f"{error['msg']}{got}", column) from None


def _known(row: Row, column: str, table: Mapping[str, object], filename: str) -> str:
    key = row.text(column)
    if key not in table:
        raise row.error(f"{key!r} is not in {filename}", column)
    return key


def _add(table: dict[str, Any], row: Row, item: object, what: str, *, key: str) -> None:
    if key in table:
        raise row.error(f"{what} {key!r} appears twice", None)
    table[key] = item
