"""The demo company's books: customers, products, receivables, pending orders and returns.

They live in ``demo_company.json`` (shipped inside this package), validated by the fact models.
:func:`salesgate_adapters.demo.demo_gate` loads them into the demo ERP (:mod:`.erp`) and decides
them through the ``sql`` adapter; :func:`run_demo` decides each order from its id alone, and each
return from its order, product, quantity and date, exactly as an ERP integration calls the gate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

from salesgate import Decision, Gate
from salesgate.models import CreditExposure, Customer, Order, Product, ReturnRequest
from salesgate.pointspecs import DECISION_POINTS, ORDER_POINTS

from ..memory import MemoryAdapter

DEMO_DATA = "demo_company.json"
AS_OF = date(2026, 11, 6)
"""The demo's today: overdue days and days since delivery are counted to it, so the demo never ages."""


@dataclass(frozen=True)
class DemoCompany:
    """The demo company's books, validated."""

    name: str
    customers: Mapping[str, Customer]
    exposures: Mapping[str, CreditExposure]
    products: Mapping[str, Product]
    orders: tuple[Order, ...]
    returns: tuple[ReturnRequest, ...]
    as_of: date = AS_OF

    def adapter(self) -> MemoryAdapter:
        """A fresh adapter over these books (it records the decisions made through it)."""
        return MemoryAdapter({
            "customers": list(self.customers.values()),
            "exposures": dict(self.exposures),
            "products": list(self.products.values()),
            "orders": list(self.orders),
        })


@dataclass(frozen=True)
class DemoResult:
    """One decision of the demo, with what a person needs to read it next to the others."""

    hook: str
    subject: str
    customer: str
    amount: Decimal
    decision: Decision


def load_demo_company() -> DemoCompany:
    """Read the demo company from the package data."""
    raw: Mapping[str, Any] = json.loads(
        resources.files("salesgate_adapters.demo").joinpath(DEMO_DATA).read_text(encoding="utf-8"), parse_float=Decimal
    )
    customers = [Customer.model_validate(c) for c in raw["customers"]]
    return DemoCompany(
        name=raw["name"],
        customers={c.id: c for c in customers},
        exposures={cid: CreditExposure.model_validate(e) for cid, e in raw["exposures"].items()},
        products={p.sku: p for p in (Product.model_validate(p) for p in raw["products"])},
        orders=tuple(Order.model_validate(o) for o in raw["orders"]),
        returns=tuple(ReturnRequest.model_validate(r) for r in raw["returns"]),
    )


def return_request(request: ReturnRequest, requested_on: date) -> dict[str, Any]:
    """A return as an ERP sends it: what the customer asks for; the gate completes it from the delivery."""
    fields = {"id", "customer_id", "type", "reason", "original_order_id", "sku", "qty", "claimed_amount"}
    document = request.model_dump(mode="json", include=fields, exclude_none=True)
    return {**document, "requested_on": requested_on.isoformat()}


def run_demo(gate: Gate, company: DemoCompany) -> list[DemoResult]:
    """Decide every pending order at each order decision point, then every return: orders by id, returns by request."""
    results: list[DemoResult] = []
    for point in ORDER_POINTS:
        for order in company.orders:
            decision = gate.decide(point, {"order": order.id})
            results.append(DemoResult(point, order.id, company.customers[order.customer_id].name, order.total,
                                      decision))
    for request in company.returns:
        decision = gate.handle_return({"return": return_request(request, company.as_of)})
        results.append(DemoResult("return_handling", request.id, company.customers[request.customer_id].name,
                                  request.amount, decision))
    return results


def results_by_hook(results: Sequence[DemoResult]) -> dict[str, list[DemoResult]]:
    """Group results per decision point, in the points' canonical order (the name keeps "hook", as
    :attr:`DemoResult.hook` and :attr:`Decision.hook` do, for compatibility)."""
    grouped: dict[str, list[DemoResult]] = {point: [] for point in DECISION_POINTS}
    for result in results:
        grouped[result.hook].append(result)
    return grouped
