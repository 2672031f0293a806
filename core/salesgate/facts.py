"""Flatten validated fact models into the plain values rules read.

Both backends read the same :class:`FactSet`: dotted vocabulary paths mapped to exact Python
values (``Decimal``, ``int``, ``str``, ``bool``, ``date`` or ``None``). Enums become their string
values; nothing is a float. Flattening happens once per decision, however many rules run.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from .models import OrderFacts, ReturnFacts
from .money import ZERO, round_unit_price

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
_Plan = tuple[tuple[str, str, bool], ...]
_PLANS: dict[tuple[type, str, frozenset[str]], _Plan] = {}


def _is_plain(annotation: Any) -> bool:
    """Whether a field's values never need :func:`_plain` (none of them has a ``.value``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return all(_is_plain(arg) for arg in typing.get_args(annotation))
    return annotation in _PLAIN_TYPES


def _plan(model_type: type[BaseModel], prefix: str, skip: frozenset[str]) -> _Plan:
    """(field, fact path, needs _plain) for each field of a model class, in declaration order."""
    key = (model_type, prefix, skip)
    plan = _PLANS.get(key)
    if plan is None:
        plan = tuple((name, f"{prefix}.{name}", not _is_plain(info.annotation))
                     for name, info in model_type.model_fields.items() if name not in skip)
        _PLANS[key] = plan  # derived from the class alone: it never goes stale
    return plan


def _prefixed(prefix: str, model: BaseModel, skip: frozenset[str] = frozenset()) -> FactValues:
    values = model.__dict__  # where pydantic keeps field values: no getattr per field
    return {path: _plain(values[name]) if convert else values[name]
            for name, path, convert in _plan(type(model), prefix, skip)}


_ORDER_SKIP = frozenset({"lines", "created_at"})


def order_factset(facts: OrderFacts, policy_prices: dict[int, Decimal] | None = None) -> FactSet:
    """Flatten an order with its customer, products and exposure.

    ``policy_prices`` (line_no → price) adds ``line.policy_price`` for the pricing check stage
    (:func:`with_policy_prices` adds them to a factset already flattened, which is cheaper).
    """
    order = facts.order
    root: FactValues = _prefixed("customer", facts.customer)
    root.update(_prefixed("order", order, _ORDER_SKIP))
    products = {p.sku: p for p in facts.products}
    lines: list[FactValues] = []
    amounts = []
    for line in order.lines:
        values = _prefixed("line", line)
        amount = line.amount
        amounts.append(amount)
        values["line.amount"] = amount
        values["line.net_unit_price"] = round_unit_price(line.unit_price * (1 - line.discount))
        product = products.get(line.sku)
        if product is None:
            values["line.product.name"] = values["line.product.list_price"] = None
            values["line.product.cost"] = values["line.product.stock"] = None
        else:
            values["line.product.name"] = product.name
            values["line.product.list_price"] = product.list_price
            values["line.product.cost"] = product.cost
            values["line.product.stock"] = product.stock
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
    lines = [{**values, "line.policy_price": policy_prices.get(line_no)}
             for values, line_no in zip(factset.root["order.lines"], factset.item_keys, strict=True)]
    root = {**factset.root, "order.lines": lines}
    return FactSet(root, tuple({**root, **values} for values in lines), factset.item_keys)


def return_factset(facts: ReturnFacts) -> FactSet:
    """Flatten a return request with its customer."""
    request = facts.return_request
    root: FactValues = _prefixed("customer", facts.customer)
    root.update(_prefixed("return", request))
    root["return.amount"] = request.amount
    root["return.returnable_qty"] = request.returnable_qty
    return FactSet(root)
