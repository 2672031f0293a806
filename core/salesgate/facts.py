"""Flatten validated fact models into the plain values rules read.

Both backends read the same :class:`FactSet`: dotted vocabulary paths mapped to exact Python
values (``Decimal``, ``int``, ``str``, ``bool``, ``date`` or ``None``). Enums become their string
values; nothing is a float. Flattening happens once per decision, however many rules run. The compiled
backend's model matchers skip it where they can, reading the same values through :mod:`salesgate.readers`
(which follows the plans and converters here: a change to one is a change to the other, and
tests/test_compiled_models.py compares every reader with the flattening).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from .models import CreditExposure, Customer, Order, OrderFacts, OrderLine, Product, ReturnFacts, ReturnRequest
from .money import ZERO, round_unit_price

TODAY = "today"
"""The as-of date's key in every decision's fact values (the language's ``today``)."""

FactValues = dict[str, Any]


@dataclass(frozen=True)
class FactSet:
    """The facts of one decision.

    ``root`` holds the order-scope (or return-scope) values; list facts (``order.lines``) hold a
    list of element dicts keyed by the element's paths (``line.qty``). ``items`` holds one dict per
    order line for line-scope rules: the root values plus that line's ``line.*`` values.
    """

    root: FactValues
    items: tuple[FactValues, ...] = ()
    item_keys: tuple[int, ...] = field(default=())  # line_no of each item, for reasons and traces


def _plain(value: Any) -> Any:
    enum_value = getattr(value, "value", None)
    return enum_value if enum_value is not None and not isinstance(value, bool) else value


_PLAIN_TYPES = (bool, int, str, Decimal, date, datetime, type(None))
_Plan = tuple[tuple[str, str, Callable[[Any], Any] | None], ...]
_PLANS: dict[tuple[type, str, frozenset[str]], _Plan] = {}


def _is_plain(annotation: Any) -> bool:
    """Whether a field's values never need :func:`_plain` (none of them has a ``.value``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return all(_is_plain(arg) for arg in typing.get_args(annotation))
    return annotation in _PLAIN_TYPES


def _enum_value(value: Any) -> Any:
    """An enum member's value (``_value_`` is what Enum's slower ``value`` property returns);
    anything else (a plain string in a model built without validation) as it is."""
    return getattr(value, "_value_", value)


def _converter(annotation: Any) -> Callable[[Any], Any] | None:
    """How a field's value becomes a fact value: as it is (None), an enum's value, else _plain."""
    if _is_plain(annotation):
        return None
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _enum_value
    return _plain


def _plan(model_type: type[BaseModel], prefix: str, skip: frozenset[str]) -> _Plan:
    """(field, fact path, converter) for each field of a model class, in declaration order."""
    key = (model_type, prefix, skip)
    plan = _PLANS.get(key)
    if plan is None:
        plan = tuple((name, f"{prefix}.{name}", _converter(info.annotation))
                     for name, info in model_type.model_fields.items() if name not in skip)
        _PLANS[key] = plan  # derived from the class alone: it never goes stale
    return plan


def _prefixed(prefix: str, model: BaseModel, skip: frozenset[str] = frozenset()) -> FactValues:
    values = model.__dict__  # where pydantic keeps field values: no getattr per field
    return {path: values[name] if convert is None else convert(values[name])
            for name, path, convert in _plan(type(model), prefix, skip)}


def net_unit_price(line: OrderLine) -> Decimal:
    """Fact ``line.net_unit_price``: the unit price after the line discount, rounded to 4 decimals (the one
    definition the flattening and the compiled backend's readers share)."""
    return round_unit_price(line.unit_price * (1 - line.discount))


_ORDER_SKIP = frozenset({"lines", "created_at"})


@dataclass(frozen=True)
class _Projection:
    """Which facts to flatten when only some paths are read (see ``paths`` of order_factset)."""

    customer: _Plan
    order: _Plan
    exposure: _Plan
    line: _Plan
    total: bool
    line_count: bool
    exposure_total: bool
    lines: bool  # order.lines and the line.* values are flattened at all
    amount: bool
    net_unit_price: bool
    product: tuple[tuple[str, str], ...]  # (Product attribute, path)


_PRODUCT_FACTS = (("name", "line.product.name"), ("list_price", "line.product.list_price"),
                  ("cost", "line.product.cost"), ("stock", "line.product.stock"))
_PROJECTIONS: dict[tuple[frozenset[str], tuple[type[BaseModel], ...]], _Projection] = {}


def _product_facts(product_type: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """(Product attribute, path) of every product fact: the shipped ones and a policy's declared extras."""
    if product_type is Product:
        return _PRODUCT_FACTS
    extras = tuple((name, f"line.product.{name}") for name in product_type.model_fields
                   if name not in Product.model_fields)
    return _PRODUCT_FACTS + extras


def _types(facts: OrderFacts) -> tuple[type[BaseModel], ...]:
    """The model classes of an order's parts: the shipped ones, or a policy's extended ones (declared facts)."""
    line_type, product_type = _element_types(type(facts))
    return type(facts.customer), type(facts.order), type(facts.exposure), line_type, product_type


@lru_cache(maxsize=256)  # a policy's order model: read from the class alone, once (not per decision)
def _element_types(facts_type: type[OrderFacts]) -> tuple[type[BaseModel], type[BaseModel]]:
    """The line and product model classes an order model declares (extended ones carry declared facts)."""
    order_type = facts_type.model_fields["order"].annotation
    line_type = order_type.model_fields["lines"].annotation if isinstance(order_type, type) else None
    product_type = facts_type.model_fields["products"].annotation
    return (typing.get_args(line_type)[0] if line_type is not None else OrderLine,
            typing.get_args(product_type)[0] if product_type is not None else Product)


_SHIPPED = (Customer, Order, CreditExposure, OrderLine, Product)


def _projection(paths: frozenset[str], kinds: tuple[type[BaseModel], ...] = _SHIPPED) -> _Projection:
    found = _PROJECTIONS.get((paths, kinds))
    if found is None:
        def keep(plan: _Plan) -> _Plan:
            return tuple(entry for entry in plan if entry[1] in paths)

        customer, order, exposure, line, product = kinds
        found = _Projection(
            customer=keep(_plan(customer, "customer", frozenset())),
            order=keep(_plan(order, "order", _ORDER_SKIP)),
            exposure=keep(_plan(exposure, "exposure", frozenset())),
            line=keep(_plan(line, "line", frozenset())),
            total="order.total" in paths, line_count="order.line_count" in paths,
            exposure_total="exposure.total" in paths,
            lines="order.lines" in paths or any(path.startswith("line.") for path in paths),
            amount="line.amount" in paths, net_unit_price="line.net_unit_price" in paths,
            product=tuple(pair for pair in _product_facts(product) if pair[1] in paths),
        )
        _PROJECTIONS[(paths, kinds)] = found  # derived from the paths and classes alone: it never goes stale
    return found


def _projected(facts: OrderFacts, policy_prices: dict[int, Decimal] | None, plan: _Projection,
               today: date | None) -> FactSet:
    order = facts.order
    order_lines = order.lines
    values = facts.customer.__dict__
    root: FactValues = {path: values[name] if convert is None else convert(values[name])
                        for name, path, convert in plan.customer}
    root[TODAY] = today
    values = order.__dict__
    for name, path, convert in plan.order:
        root[path] = values[name] if convert is None else convert(values[name])
    amounts = [line.amount for line in order_lines] if plan.amount else []
    if plan.total:  # the amounts' sum when they are read too, else the order's own (kept once worked out)
        root["order.total"] = sum(amounts, ZERO) if plan.amount else order.total
    if plan.line_count:
        root["order.line_count"] = len(order_lines)
    exposure = facts.exposure
    values = exposure.__dict__
    for name, path, convert in plan.exposure:
        root[path] = values[name] if convert is None else convert(values[name])
    if plan.exposure_total:
        root["exposure.total"] = exposure.total
    lines: list[FactValues] = []
    if plan.lines:
        products = {p.sku: p for p in facts.products} if plan.product else {}
        for index, line in enumerate(order_lines):
            values = line.__dict__
            flat = {path: values[name] if convert is None else convert(values[name])
                    for name, path, convert in plan.line}
            if plan.amount:
                flat["line.amount"] = amounts[index]
            if plan.net_unit_price:
                flat["line.net_unit_price"] = net_unit_price(line)
            if plan.product:
                product = products.get(line.sku)
                for attribute, path in plan.product:
                    flat[path] = None if product is None else product.__dict__[attribute]
            if policy_prices is not None:
                flat["line.policy_price"] = policy_prices.get(line.line_no)
            lines.append(flat)
        root["order.lines"] = lines
    else:  # no rule reads a line, and no rule runs per line (see Policy.fact_reads): no items to build
        return FactSet(root, (), tuple(line.line_no for line in order_lines))
    return FactSet(root, tuple({**root, **flat} for flat in lines), tuple(line.line_no for line in order_lines))


def order_factset(facts: OrderFacts, policy_prices: dict[int, Decimal] | None = None,
                  paths: frozenset[str] | None = None, today: date | None = None) -> FactSet:
    """Flatten an order with its customer, products and exposure.

    ``policy_prices`` (line_no → price) adds ``line.policy_price`` for the pricing check stage
    (:func:`with_policy_prices` adds them to a factset already flattened, which is cheaper).
    ``paths`` flattens only those facts (what the rules of a stage read, ``order.lines`` with
    the ``line.*`` ones): every value present is the same as in the full flattening, so rules
    over those paths match, trace and explain exactly as on the full facts, at a fraction of
    the cost. Without ``order.lines`` or a ``line.*`` path there are no ``items`` (no rule runs
    per line: :attr:`Policy.fact_reads` adds ``order.lines`` for line-scope rules). ``today`` is the
    decision's as-of date, read as ``today`` (a decision always has one; None only outside decisions).
    """
    extended = type(facts) is not OrderFacts  # a policy's declared facts: its own model classes
    kinds = _types(facts) if extended else _SHIPPED
    if paths is not None:
        return _projected(facts, policy_prices, _projection(paths, kinds), today)
    order = facts.order
    root: FactValues = _prefixed("customer", facts.customer)
    root[TODAY] = today
    root.update(_prefixed("order", order, _ORDER_SKIP))
    products = {p.sku: p for p in facts.products}
    lines: list[FactValues] = []
    amounts = []
    for line in order.lines:
        values = _prefixed("line", line)
        amount = line.amount
        amounts.append(amount)
        values["line.amount"] = amount
        values["line.net_unit_price"] = net_unit_price(line)
        product = products.get(line.sku)
        if product is None:
            values["line.product.name"] = values["line.product.list_price"] = None
            values["line.product.cost"] = values["line.product.stock"] = None
        else:
            values["line.product.name"] = product.name
            values["line.product.list_price"] = product.list_price
            values["line.product.cost"] = product.cost
            values["line.product.stock"] = product.stock
        if extended:
            for attribute, path in _product_facts(kinds[4])[len(_PRODUCT_FACTS):]:
                values[path] = None if product is None else _plain(product.__dict__[attribute])
        if policy_prices is not None:
            values["line.policy_price"] = policy_prices.get(line.line_no)
        lines.append(values)
    root["order.total"] = sum(amounts, ZERO)  # = order.total, without computing every line amount again
    root["order.line_count"] = len(order.lines)
    exposure = facts.exposure
    root.update(_prefixed("exposure", exposure))
    root["exposure.total"] = exposure.total
    root["order.lines"] = lines
    items = tuple({**root, **values} for values in lines)
    return FactSet(root, items, tuple(line.line_no for line in order.lines))


def with_policy_prices(factset: FactSet, policy_prices: dict[int, Decimal]) -> FactSet:
    """``factset`` of :func:`order_factset` plus ``line.policy_price``: equal to
    ``order_factset(facts, policy_prices)``, without flattening the models again."""
    flattened = factset.root.get("order.lines") or [{} for _ in factset.item_keys]
    lines = [{**values, "line.policy_price": policy_prices.get(line_no)}
             for values, line_no in zip(flattened, factset.item_keys, strict=True)]
    root = {**factset.root, "order.lines": lines}
    return FactSet(root, tuple({**root, **values} for values in lines), factset.item_keys)


_RETURN_PROJECTIONS: dict[tuple[frozenset[str], type[BaseModel], type[BaseModel]], tuple[_Plan, _Plan]] = {}


def _return_projection(paths: frozenset[str], customer: type[BaseModel] = Customer,
                       request: type[BaseModel] = ReturnRequest) -> tuple[_Plan, _Plan]:
    key = (paths, customer, request)
    found = _RETURN_PROJECTIONS.get(key)
    if found is None:
        found = (tuple(entry for entry in _plan(customer, "customer", frozenset()) if entry[1] in paths),
                 tuple(entry for entry in _plan(request, "return", frozenset()) if entry[1] in paths))
        _RETURN_PROJECTIONS[key] = found  # derived from the paths and classes alone: it never goes stale
    return found


def return_factset(facts: ReturnFacts, paths: frozenset[str] | None = None, today: date | None = None) -> FactSet:
    """Flatten a return request with its customer (only ``paths``, when given; ``today``: see order_factset)."""
    request = facts.return_request
    if paths is None:
        root: FactValues = _prefixed("customer", facts.customer)
        root[TODAY] = today
        root.update(_prefixed("return", request))
        root["return.amount"] = request.amount
        root["return.returnable_qty"] = request.returnable_qty
        return FactSet(root)
    customer_plan, return_plan = _return_projection(paths, type(facts.customer), type(request))
    values = facts.customer.__dict__
    root = {path: values[name] if convert is None else convert(values[name]) for name, path, convert in customer_plan}
    root[TODAY] = today
    values = request.__dict__
    for name, path, convert in return_plan:
        root[path] = values[name] if convert is None else convert(values[name])
    if "return.amount" in paths:
        root["return.amount"] = request.amount
    if "return.returnable_qty" in paths:
        root["return.returnable_qty"] = request.returnable_qty
    return FactSet(root)


_DocumentPlan = tuple[tuple[str, str, Callable[[Any], Any] | None, str | None], ...]
"""(field, fact path, converter, element name for a list field) of one part of a declared document."""
_DOCUMENT_PLANS: dict[type[BaseModel], tuple[tuple[str, _DocumentPlan], ...]] = {}
_ELEMENT_PLANS: dict[tuple[type[BaseModel], str], _Plan] = {}


def _element_of(info: Any) -> str | None:
    """The element name of a list field (``json_schema_extra={"element": "line"}``), else None."""
    if typing.get_origin(info.annotation) is not list:
        return None
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("element", "item"))


def _document_plan(model_type: type[BaseModel]) -> tuple[tuple[str, _DocumentPlan], ...]:
    plan = _DOCUMENT_PLANS.get(model_type)
    if plan is None:
        parts = []
        for root, root_info in model_type.model_fields.items():
            part_type = root_info.annotation
            if not (isinstance(part_type, type) and issubclass(part_type, BaseModel)):  # pragma: no cover
                raise TypeError(f"{model_type.__name__}.{root} is not a document model")  # checked when declared
            parts.append((root, tuple((name, f"{root}.{name}", _converter(info.annotation), _element_of(info))
                                      for name, info in part_type.model_fields.items())))
        plan = tuple(parts)
        _DOCUMENT_PLANS[model_type] = plan  # derived from the class alone: it never goes stale
    return plan


def _elements(items: list[BaseModel], element: str) -> list[FactValues]:
    out: list[FactValues] = []
    for item in items:
        key = (type(item), element)
        plan = _ELEMENT_PLANS.get(key)
        if plan is None:
            plan = _ELEMENT_PLANS[key] = _plan(type(item), element, frozenset())
        values = item.__dict__
        out.append({path: values[name] if convert is None else convert(values[name]) for name, path, convert in plan})
    return out


def document_factset(facts: BaseModel, scope_element: str = "line", today: date | None = None) -> FactSet:
    """Flatten the facts of a declared decision point: each part's fields under its name
    (``shipment.amount``, ``customer.grade``), each list as element dicts (``line.qty``), and, for
    rules with ``scope: line``, one item per element of the list whose element is ``scope_element``
    (item keys: the elements' ``line_no`` when they have one, else their position from 1); ``today``:
    see :func:`order_factset`."""
    root: FactValues = {TODAY: today}
    scoped: list[FactValues] | None = None
    scoped_keys: tuple[int, ...] = ()
    for part_name, plan in _document_plan(type(facts)):
        part = facts.__dict__[part_name]
        values = part.__dict__
        for name, path, convert, element in plan:
            value = values[name]
            if element is not None:
                elements = _elements(value, element)
                root[path] = elements
                if element == scope_element and scoped is None:
                    scoped = elements
                    scoped_keys = tuple(getattr(item, "line_no", index) for index, item in enumerate(value, 1))
            else:
                root[path] = value if convert is None else convert(value)
        if isinstance(part, CreditExposure):
            root[f"{part_name}.total"] = part.total
    if not scoped:
        return FactSet(root, (), scoped_keys)
    return FactSet(root, tuple({**root, **values} for values in scoped), scoped_keys)
