"""An adapter over facts held in memory: the demo company, tests, and the pattern for real adapters."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, create_model

from salesgate.decisions import Decision
from salesgate.errors import AdapterError
from salesgate.history import HistoryFact
from salesgate.hookspecs import hookimpl
from salesgate.models import CreditExposure, Customer, Delivery, Order, Product

_SECTIONS = ("customers", "exposures", "products", "orders", "deliveries", "documents", "history")
_MEASURES = ("sum", "count", "days_since")
_DECLARING = ("customers", "products", "orders")
"""Sections whose items may carry a policy's declared facts (``tenure_years`` on a customer): fields the
shipped model does not have are kept, and the gate checks them against the policy's ``facts:``."""

M = TypeVar("M", bound=BaseModel)


def _carrier(model: type[M], item: Any) -> type[M]:
    """``model``, or a subclass also holding ``item``'s other fields (declared facts, checked by the gate)."""
    if not isinstance(item, Mapping):
        return model
    extra = [name for name in item if name not in model.model_fields and isinstance(name, str)]
    if not extra:
        return model
    fields: dict[str, Any] = {name: (Any, None) for name in extra}
    carrier: type[M] = create_model(model.__name__, __base__=model, __module__=model.__module__, **fields)
    return carrier


def _models(model: type[M], items: Iterable[Any], section: str) -> list[M]:
    out: list[M] = []
    for index, item in enumerate(items):
        try:
            out.append((_carrier(model, item) if section in _DECLARING else model).model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise AdapterError(
                f"memory adapter: {section}[{index}] is not a valid {model.__name__}: "
                f"{where + ': ' if where else ''}{first['msg']}"
            ) from None
    return out


class MemoryAdapter:
    """Answers the data hooks from one document of plain dicts (or models), checked once, up front.

    ``data`` may hold ``customers`` and ``products`` (lists), ``exposures`` (customer id →
    exposure), ``orders`` and ``deliveries`` (lists; a delivery per order and sku, for returns),
    and ``documents`` (declared decision point → its documents, each a dict with its ``id``, which
    ``salesgate_load_document`` answers; the gate validates them against the point's declaration);
    any other key is refused so that a misspelt section cannot silently leave a gate without
    facts. A customer, product or order may carry the policy's declared facts (``tenure_years``):
    the gate checks them against ``policy.yaml``'s ``facts:``. A customer the adapter knows but holds
    no exposure for owes nothing. The orders it holds are orders the ERP has entered:
    ``salesgate_load_counted_orders`` answers that the ERP counts them (their credit reservations stop
    counting; the exposure you give should include them).
    ``history`` computes the policy's history facts (``salesgate_load_history``) from dated events, by
    fact: ``{"customer.sales_last_4_quarters": {"measure": "sum", "key": "customer_id", "events": [{"key":
    "C001", "on": "2025-11-12", "value": "820000"}, ...]}}`` — ``sum`` adds the values of the events in the
    window (0 when none), ``count`` counts them, ``days_since`` counts the days from the latest to the as-of
    date (missing when none); ``key`` names the document's field the events belong to (``customer_id``, a
    visit plan's ``rep``). ``today`` is the as-of date when the gate gives none (default: the clock's).
    Decisions recorded through ``salesgate_record_decision`` are kept in :attr:`decisions`, in the
    order they were made.
    """

    def __init__(self, data: Mapping[str, Any], *, today: date | None = None) -> None:
        unknown = sorted(set(data) - set(_SECTIONS))
        if unknown:
            raise AdapterError(f"memory adapter: unknown section(s) {', '.join(unknown)}; "
                               f"expected {', '.join(_SECTIONS)}")
        customers = _models(Customer, data.get("customers", ()), "customers")
        products = _models(Product, data.get("products", ()), "products")
        orders = _models(Order, data.get("orders", ()), "orders")
        raw_exposures: Mapping[str, Any] = data.get("exposures", {})
        exposures = _models(CreditExposure, raw_exposures.values(), "exposures")
        self.customers: Mapping[str, Customer] = _index(customers, lambda c: c.id, "customer")
        self.products: Mapping[str, Product] = _index(products, lambda p: p.sku, "product")
        self.orders: Mapping[str, Order] = _index(orders, lambda o: o.id, "order")
        deliveries = _models(Delivery, data.get("deliveries", ()), "deliveries")
        by_key = _index(deliveries, lambda d: f"{d.sku} on order {d.order_id}", "delivery of")
        self.deliveries: Mapping[tuple[str, str], Delivery] = {(d.order_id, d.sku): d for d in by_key.values()}
        unknown_buyers = sorted({d.customer_id for d in deliveries
                                 if d.customer_id is not None and d.customer_id not in self.customers})
        if unknown_buyers:
            raise AdapterError(f"memory adapter: deliveries for unknown customer(s) {', '.join(unknown_buyers)}")
        self.exposures: Mapping[str, CreditExposure] = dict(zip(raw_exposures, exposures, strict=True))
        strangers = sorted(set(self.exposures) - set(self.customers))
        if strangers:
            raise AdapterError(f"memory adapter: exposures for unknown customer(s) {', '.join(strangers)}")
        self.documents: Mapping[str, Mapping[str, Mapping[str, Any]]] = _documents(data.get("documents", {}))
        self.history: Mapping[str, _History] = _histories(data.get("history", {}))
        self.today = today
        self.decisions: list[Decision] = []
        self._lock = threading.Lock()

    @hookimpl
    def salesgate_load_customer(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    @hookimpl
    def salesgate_load_exposure(self, customer_id: str) -> CreditExposure | None:
        if customer_id not in self.customers:
            return None
        return self.exposures.get(customer_id, CreditExposure())

    @hookimpl
    def salesgate_load_products(self, skus: list[str]) -> list[Product] | None:
        found = [self.products[sku] for sku in skus if sku in self.products]
        return found or None

    @hookimpl
    def salesgate_load_order(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    @hookimpl
    def salesgate_load_delivery(self, order_id: str, sku: str) -> Delivery | None:
        return self.deliveries.get((order_id, sku))

    @hookimpl
    def salesgate_load_counted_orders(self, customer_id: str, order_ids: list[str]) -> list[str] | None:
        return [order_id for order_id in dict.fromkeys(order_ids)
                if order_id in self.orders and self.orders[order_id].customer_id == customer_id]

    @hookimpl
    def salesgate_load_document(self, point: str, document_id: str) -> dict[str, Any] | None:
        found = self.documents.get(point, {}).get(document_id)
        return dict(found) if found is not None else None

    @hookimpl
    def salesgate_load_history(self, document: str, keys: Mapping[str, Any], facts: Sequence[HistoryFact],
                               as_of: date | None) -> dict[str, Any] | None:
        day = as_of or self.today or date.today()
        found: dict[str, Any] = {}
        known = False
        for fact in facts:
            history = self.history.get(fact.path)
            if history is None:
                continue
            known = True
            start, end = fact.bounds(day)
            key = keys.get(history.key)
            events = [(on, value) for owner, on, value in history.events if owner == key and start <= on < end]
            if history.measure == "sum":
                found[fact.name] = sum((value for _, value in events), Decimal(0))
            elif history.measure == "count":
                found[fact.name] = len(events)
            elif events:
                found[fact.name] = (day - max(on for on, _ in events)).days
        return found if known else None

    @hookimpl
    def salesgate_record_decision(self, decision: Decision) -> None:
        with self._lock:
            self.decisions.append(decision)


def _documents(raw: Any) -> dict[str, dict[str, Mapping[str, Any]]]:
    if not isinstance(raw, Mapping):
        raise AdapterError("memory adapter: documents is {point: [document, ...]}, each document a dict with its id")
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for point, items in raw.items():
        by_id: dict[str, Mapping[str, Any]] = {}
        for index, item in enumerate(items if isinstance(items, list | tuple) else [items]):
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                raise AdapterError(f"memory adapter: documents.{point}[{index}] is not a document with a text id")
            if item["id"] in by_id:
                raise AdapterError(f"memory adapter: {point} document {item['id']!r} appears twice")
            by_id[item["id"]] = item
        out[str(point)] = by_id
    return out


class _History:
    """One history fact's events: (the key they belong to, their day, their value)."""

    def __init__(self, measure: str, key: str, events: list[tuple[Any, date, Decimal]]) -> None:
        self.measure, self.key, self.events = measure, key, events


def _histories(raw: Any) -> dict[str, _History]:
    if not isinstance(raw, Mapping):
        raise AdapterError("memory adapter: history is {fact: {measure, key, events}}")
    out: dict[str, _History] = {}
    for fact, spec in raw.items():
        where = f"memory adapter: history.{fact}"
        if not (isinstance(spec, Mapping) and spec.get("measure") in _MEASURES and isinstance(spec.get("key"), str)):
            raise AdapterError(f"{where} needs measure ({', '.join(_MEASURES)}), key (the document's field the "
                               "events belong to) and events")
        events = []
        for index, event in enumerate(spec.get("events", ())):
            try:
                on = event["on"] if isinstance(event["on"], date) else date.fromisoformat(str(event["on"]))
                value = Decimal(str(event.get("value", 1)))
            except (KeyError, TypeError, ValueError, ArithmeticError):
                raise AdapterError(f"{where}.events[{index}] needs key, on (YYYY-MM-DD) and, to sum, a value") from None
            events.append((event.get("key"), on, value))
        out[str(fact)] = _History(str(spec["measure"]), str(spec["key"]), events)
    return out


def _index(items: list[M], key: Callable[[M], str], what: str) -> dict[str, M]:
    out: dict[str, M] = {}
    for item in items:
        name = key(item)
        if name in out:
            raise AdapterError(f"memory adapter: {what} {name!r} appears twice")
        out[name] = item
    return out
