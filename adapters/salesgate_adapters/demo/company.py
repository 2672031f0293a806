"""The demo company's books: customers, products, receivables, pending orders and returns.

They live in ``demo_company.json`` (shipped inside this package), validated by the fact models.
:func:`salesgate_adapters.demo.demo_gate` loads them into the demo ERP (:mod:`.erp`) and decides
them through the ``sql`` adapter; :func:`run_demo` decides each order from its id alone, and each
return from its order, product, quantity and date, exactly as an ERP integration calls the gate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from salesgate import Decision, Gate, Policy
from salesgate.models import CreditExposure, Customer, Order, Product, ReturnRequest
from salesgate.pointspecs import DECISION_POINTS, ORDER_POINTS, PointSpec

from ..memory import MemoryAdapter

DEMO_DATA = "demo_company.json"
_PATHS = {"customers": "customer", "products": "line.product", "orders": "order"}
"""How rules name the declared facts of each section of the books."""
AS_OF = date(2026, 11, 6)
"""The demo's today: overdue days and days since delivery are counted to it, so the demo never ages."""
OPEN_ORDERS_AGE = 10
"""Days before the as-of date the ERP confirmed the order that holds a customer's open orders."""
ORDERED_BEFORE_DELIVERY = 3
"""Days before its delivery a returned order was placed."""
VISIT_TIME = time(10)
"""When a month's visits (``visit_months``) happened each day: 10:00 in the company's time zone."""


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
    declared: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    """The policy's declared facts the books hold (``policy.yaml`` ``facts:``), by section (``customers``,
    ``products``, ``orders``) and id: ``{"customers": {"C007": {"stage": "intent"}}}``. The demo ERP keeps
    them in columns of its own (:data:`~.erp.DECLARED_COLUMNS`), which the ``demo`` mapping reads under
    ``declared:``."""
    documents: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    history: Mapping[str, Any] = field(default_factory=dict)
    """What the ERP keeps of the past, for the history facts a policy declares: ``closed_orders`` (sales),
    ``contacts`` (visits, calls, mails), ``visit_months`` (a rep's visits of a month, as one count) and
    ``stage_since`` (the day each customer reached its stage). The demo ERP holds them in tables
    (:func:`~.erp.history_rows`), which the ``demo`` mapping's ``history:`` queries read."""
    document_customers: Mapping[str, str] = field(default_factory=dict)
    """Whose document it is, by document id, for documents that name no customer of their own (a customer
    grading review): ``for_customer`` in the books, which the ERP sends along with the document."""
    """Documents of declared decision points, by point: what the ERP holds for them, in its tables (one a
    point, :func:`~.erp.document_tables`) and read by id through the ``demo`` mapping. Checked against
    the point's declaration when decided: a policy that does not declare the point leaves them out."""

    def adapter(self) -> MemoryAdapter:
        """A fresh adapter over these books (it records the decisions made through it)."""
        return MemoryAdapter({
            "customers": [self._with_declared("customers", c.id, c) for c in self.customers.values()],
            "exposures": dict(self.exposures),
            "products": [self._with_declared("products", p.sku, p) for p in self.products.values()],
            "orders": [self._with_declared("orders", o.id, o) for o in self.orders],
            "documents": {point: list(documents) for point, documents in self.documents.items()},
            "history": self.history_events(),
        }, today=self.as_of)

    def history_events(self) -> dict[str, Any]:
        """The books' history as the memory adapter's dated events: what the demo ERP's tables hold and the
        ``demo`` mapping's history queries read (sales are its confirmed, completed and closed orders), so the
        books in memory and the ERP must agree on every window."""
        as_of, history = self.as_of, self.history
        sales = [(o["customer_id"], date.fromisoformat(o["order_date"]), Decimal(str(o["total"])))
                 for o in history.get("closed_orders", [])]
        sales += [(customer_id, as_of - timedelta(days=OPEN_ORDERS_AGE), e.open_orders)
                  for customer_id, e in self.exposures.items() if e.open_orders]
        sales += [(r.customer_id, as_of - timedelta(days=r.days_since_delivery + ORDERED_BEFORE_DELIVERY),
                   r.unit_price * r.delivered_qty) for r in self.returns]
        contacts = [(c["customer_id"], c["rep"], c["kind"], _company_day(c["at"])) for c in history.get("contacts", [])]
        contacts += [(m["customer_id"], m["rep"], "visit", day) for m in history.get("visit_months", [])
                     for day in visit_days(m["month"], int(m["visits"]))]
        visits = [c for c in contacts if c[2] == "visit"]
        return {
            "customer.sales_last_4_quarters": {"measure": "sum", "key": "customer_id", "events": [
                {"key": customer, "on": day, "value": total} for customer, day, total in sales]},
            "customer.visits_last_90_days": {"measure": "count", "key": "customer_id", "events": [
                {"key": customer, "on": day} for customer, _, _, day in visits]},
            "customer.days_since_last_follow_up": {"measure": "days_since", "key": "customer_id", "events": [
                {"key": customer, "on": day} for customer, _, _, day in contacts]},
            "customer.days_in_stage": {"measure": "days_since", "key": "customer_id", "events": [
                {"key": customer, "on": day} for customer, day in history.get("stage_since", {}).items()]},
            "visits.rep_visits_last_month": {"measure": "count", "key": "rep", "events": [
                {"key": rep, "on": day} for _, rep, _, day in visits]},
            # docs/policy-language.md's worked example (the seed policy does not declare them)
            "customer.sales_last_8_quarters": {"measure": "sum", "key": "customer_id", "events": [
                {"key": customer, "on": day, "value": total} for customer, day, total in sales]},
            "customer.days_since_last_order": {"measure": "days_since", "key": "customer_id", "events": [
                {"key": customer, "on": day} for customer, day, _ in sales]},
            "customer.region_orders_this_month": {"measure": "count", "key": "region", "events": [
                {"key": self.customers[customer].region, "on": day} for customer, day, _ in sales]},
        }


    def for_policy(self, policy: Policy) -> DemoCompany:
        """These books with only the declared facts ``policy`` declares (``policy.yaml`` ``facts:``): what the
        demo ERP holds for a policy, so that a policy declaring fewer facts than the seed's is never sent one
        it does not know (the others stay NULL, missing)."""
        known = {path for point in ORDER_POINTS for path, info in policy.vocabulary.get(point, {}).items()
                 if info.declared}
        declared = {section: {key: kept for key, values in items.items()
                              if (kept := {name: value for name, value in values.items()
                                           if f"{_PATHS[section]}.{name}" in known})}
                    for section, items in self.declared.items()}
        return replace(self, declared=declared)

    def _with_declared(self, section: str, key: str, item: BaseModel) -> dict[str, Any]:
        return {**item.model_dump(), **self.declared.get(section, {}).get(key, {})}


@dataclass(frozen=True)
class DemoResult:
    """One decision of the demo, with what a person needs to read it next to the others."""

    hook: str
    subject: str
    customer: str
    amount: Decimal | None
    """The document's amount (an order's total, a return's refund basis, a declared document's ``amount``), if any."""
    decision: Decision


def load_demo_company() -> DemoCompany:
    """Read the demo company from the package data."""
    raw: Mapping[str, Any] = json.loads(
        resources.files("salesgate_adapters.demo").joinpath(DEMO_DATA).read_text(encoding="utf-8"), parse_float=Decimal
    )
    declared: dict[str, dict[str, Mapping[str, Any]]] = {}
    customers = _shipped(Customer, raw["customers"], "customers", "id", declared)
    products = _shipped(Product, raw["products"], "products", "sku", declared)
    orders = _shipped(Order, raw["orders"], "orders", "id", declared)
    return DemoCompany(
        name=raw["name"],
        customers={c.id: c for c in customers},
        exposures={cid: CreditExposure.model_validate(e) for cid, e in raw["exposures"].items()},
        products={p.sku: p for p in products},
        orders=tuple(orders),
        declared=declared,
        returns=tuple(ReturnRequest.model_validate(r) for r in raw["returns"]),
        documents=_documents(raw.get("documents", {})),
        history=raw.get("history", {}),
        document_customers={str(d["id"]): str(d["for_customer"]) for items in raw.get("documents", {}).values()
                            for d in items if isinstance(d, Mapping) and "for_customer" in d},
    )


COMPANY_TZ = ZoneInfo("Asia/Shanghai")
"""The demo company's time zone (``demo.yaml`` ``timezone``): where its days begin and end."""


def _company_day(at: str) -> date:
    """The company's day of a time written with its zone (``2026-11-05T23:30:00+08:00``)."""
    return datetime.fromisoformat(at).astimezone(COMPANY_TZ).date()


def visit_days(month: str, visits: int) -> list[date]:
    """The days of a month's visits (``visit_months`` in the books): one a day from the 1st, round the 28th."""
    first = date.fromisoformat(f"{month}-01")
    return [first + timedelta(days=n % 28) for n in range(visits)]


M = TypeVar("M", bound=BaseModel)


def _shipped(model: type[M], items: Sequence[Mapping[str, Any]], section: str, key: str,
             declared: dict[str, dict[str, Mapping[str, Any]]]) -> list[M]:
    """The items as the shipped model, their other fields (the policy's declared facts) put in ``declared``."""
    out: list[M] = []
    for item in items:
        extras = {name: value for name, value in item.items() if name not in model.model_fields}
        shipped = model.model_validate({name: value for name, value in item.items() if name not in extras})
        if extras:
            declared.setdefault(section, {})[str(getattr(shipped, key))] = extras
        out.append(shipped)
    return out


def _documents(raw: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], ...]]:
    """The declared points' documents of the demo books: each a JSON object with a text ``id``."""
    found: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for point, items in raw.items():
        for n, item in enumerate(items):
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                raise ValueError(f"{DEMO_DATA}: documents.{point}[{n}] needs an id (text)")
        found[point] = tuple({k: v for k, v in item.items() if k != "for_customer"} for item in items)
    return found


def return_request(request: ReturnRequest, requested_on: date) -> dict[str, Any]:
    """A return as an ERP sends it: what the customer asks for; the gate completes it from the delivery."""
    fields = {"id", "customer_id", "type", "reason", "original_order_id", "sku", "qty", "claimed_amount"}
    document = request.model_dump(mode="json", include=fields, exclude_none=True)
    return {**document, "requested_on": requested_on.isoformat()}


def run_demo(gate: Gate, company: DemoCompany) -> list[DemoResult]:
    """Decide every pending order at each order decision point, then every return, then the documents of each
    point the policy declares that the demo books hold documents for: orders and documents by id (the
    adapter reads them from the demo ERP), returns by request."""
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
    for point in declared_points(gate, company):
        spec = gate.policy.point(point)
        for document in company.documents[point]:
            customer_id = document.get("customer_id") or company.document_customers.get(document["id"])
            decision = gate.decide(point, _document_facts(gate, spec, document, customer_id))
            customer = company.customers.get(str(customer_id))
            amount = document.get("amount")
            results.append(DemoResult(point, document["id"], customer.name if customer is not None else "",
                                      Decimal(amount) if isinstance(amount, int | Decimal | str) else None, decision))
    return results


def _document_facts(gate: Gate, spec: PointSpec, document: Mapping[str, Any], customer_id: object) -> dict[str, Any]:
    """A declared point's document by its id, as an ERP asks. When the point includes the customer but its
    document names none (``customer_grading``'s grading review), the ERP knows whose document it is and sends
    the customer along, read through the adapter like any customer."""
    facts: dict[str, Any] = {spec.root: document["id"]}
    root = spec.document.model_fields[spec.root].annotation
    if ("customer" in spec.document.model_fields and isinstance(customer_id, str) and isinstance(root, type)
            and issubclass(root, BaseModel) and "customer_id" not in root.model_fields):
        customer = gate.hooks.load_customer(customer_id)
        if customer is not None:
            facts["customer"] = customer
    return facts


def declared_points(gate: Gate, company: DemoCompany) -> list[str]:
    """The points of the gate's policy that are not built in and have documents in the demo books, in the
    policy's order."""
    return [name for name, spec in gate.policy.points.items() if not spec.built_in and company.documents.get(name)]


def results_by_hook(results: Sequence[DemoResult]) -> dict[str, list[DemoResult]]:
    """Group results per decision point, in the points' canonical order (the name keeps "hook", as
    :attr:`DemoResult.hook` and :attr:`Decision.hook` do, for compatibility)."""
    grouped: dict[str, list[DemoResult]] = {point: [] for point in DECISION_POINTS}
    for result in results:
        grouped.setdefault(result.hook, []).append(result)
    return grouped
