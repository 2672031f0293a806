"""Flatten validated fact models into the plain values rules read.

Both backends read the same :class:`FactSet`: dotted vocabulary paths mapped to exact Python
values (``Decimal``, ``int``, ``str``, ``bool``, ``date`` or ``None``). Enums become their string
values; nothing is a float. Flattening happens once per decision, however many rules run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .models import OrderFacts, ReturnFacts

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


def _prefixed(prefix: str, model: Any, skip: frozenset[str] = frozenset()) -> FactValues:
    return {
        f"{prefix}.{name}": _plain(getattr(model, name))
        for name in type(model).model_fields
        if name not in skip
    }


_ORDER_SKIP = frozenset({"lines", "created_at"})


def order_factset(facts: OrderFacts, policy_prices: dict[int, Decimal] | None = None) -> FactSet:
    """Flatten an order with its customer, products and exposure.

    ``policy_prices`` (line_no → price) adds ``line.policy_price`` for the pricing check stage.
    """
    order = facts.order
    root: FactValues = _prefixed("customer", facts.customer)
    root.update(_prefixed("order", order, _ORDER_SKIP))
    root["order.total"] = order.total
    root["order.line_count"] = len(order.lines)
    root.update(_prefixed("exposure", facts.exposure))
    root["exposure.total"] = facts.exposure.total
    products = {p.sku: p for p in facts.products}
    lines: list[FactValues] = []
    for line in order.lines:
        values = _prefixed("line", line)
        values["line.amount"] = line.amount
        values["line.net_unit_price"] = line.unit_price * (1 - line.discount)
        product = products.get(line.sku)
        values["line.product.name"] = product.name if product else None
        values["line.product.list_price"] = product.list_price if product else None
        values["line.product.cost"] = product.cost if product else None
        values["line.product.stock"] = product.stock if product else None
        if policy_prices is not None:
            values["line.policy_price"] = policy_prices.get(line.line_no)
        lines.append(values)
    root["order.lines"] = lines
    items = tuple({**root, **values} for values in lines)
    return FactSet(root, items, tuple(line.line_no for line in order.lines))


def return_factset(facts: ReturnFacts) -> FactSet:
    """Flatten a return request with its customer."""
    request = facts.return_request
    root: FactValues = _prefixed("customer", facts.customer)
    root.update(_prefixed("return", request))
    root["return.amount"] = request.amount
    root["return.returnable_qty"] = request.returnable_qty
    return FactSet(root)
