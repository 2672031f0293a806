"""Readers: each fact path of the order and return models as a function of the models themselves.

The compiled backend's model matchers (:meth:`salesgate.engine.compiled.CompiledBackend.match_models`)
read facts straight from the validated models instead of flattening them into a :class:`~salesgate.facts.FactSet`
first: flattening an order cost more than matching it. Each reader gives exactly the value the flattening
(:func:`salesgate.facts.order_factset` with ``paths``, :func:`salesgate.facts.return_factset`) puts under its
path: the same converters (:func:`salesgate.facts._converter`, from the field's annotation), the same
computed facts (``order.total`` as the sum of the line amounts, ``line.net_unit_price`` rounded), the same
product lookup by sku and the same missing values. A path without a reader (``order.created_at``, a path of
another model) is one the model matchers do not read: the stage is then matched on a FactSet.

Readers are built from the model classes alone (a policy's extended classes carry its declared facts), once
per class, and never from facts' values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel

from .facts import _ORDER_SKIP, _enum_value, _plan, _product_facts, net_unit_price

__all__ = ["ORDER_LINES", "Reader", "Readers", "order_readers", "return_readers"]

ORDER_LINES = "order.lines"
"""The list fact whose elements are the order's line models (``any``/``all`` over it, line-scope rules)."""


@dataclass(frozen=True)
class Reader:
    """How to read one fact path: ``read(facts)`` for a decision-wide fact, ``read(line)`` for a ``line.*``
    fact, or ``read(line, extra)`` when it needs the sku → product map (``"products"``) or the policy prices
    by line_no (``"prices"``)."""

    read: Callable[..., Any]
    line: bool = False
    extra: Literal["products", "prices"] | None = None


@dataclass(frozen=True)
class Readers:
    """The readers of one facts class, by path; ``lines``: the path of its list of line models, if any;
    ``unreadable``: paths the flattening holds a value for that no reader reads (a stage reading one is matched
    on a FactSet). Any other path without a reader is missing from the flattening as well."""

    paths: Mapping[str, Reader]
    lines: str | None
    unreadable: frozenset[str] = frozenset()


def _field(attribute: str, convert: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """Read ``attribute`` (dotted for a part: ``customer.grade``) and convert it as the flattening does."""
    get = attrgetter(attribute)
    if convert is None:
        return get
    if convert is _enum_value:
        def read_enum(model: Any) -> Any:  # _enum_value inlined: one call less per read
            value = get(model)
            return getattr(value, "_value_", value)

        return read_enum

    def read(model: Any) -> Any:
        return convert(get(model))

    return read


def _line_count(facts: Any) -> int:
    return len(facts.order.lines)


def _product_fact(attribute: str) -> Callable[[Any, Mapping[str, Any]], Any]:
    """``line.product.<attribute>`` of a line's product, looked up by sku (None when the ERP sent none).
    Not converted: the projected flattening does not convert product facts either."""
    def read(line: Any, products: Mapping[str, Any]) -> Any:
        product = products.get(line.sku)
        return None if product is None else product.__dict__[attribute]

    return read


def _policy_price(line: Any, prices: Mapping[int, Decimal] | None) -> Decimal | None:
    """``line.policy_price``: the price pricing set for the line (pricing.check), None before pricing."""
    return None if prices is None else prices.get(line.line_no)


@lru_cache(maxsize=64)  # a policy's few model classes; bounded, as reloads make new ones
def order_readers(customer: type[BaseModel], order: type[BaseModel], exposure: type[BaseModel],
                  line: type[BaseModel], product: type[BaseModel]) -> Readers:
    """The readers of an order's facts whose parts are of these classes (the shipped ones or a policy's
    extensions); the paths and converters are those of :func:`salesgate.facts._projection`."""
    paths: dict[str, Reader] = {}
    for name, path, convert in _plan(customer, "customer", frozenset()):
        paths[path] = Reader(_field(f"customer.{name}", convert))
    for name, path, convert in _plan(order, "order", _ORDER_SKIP):
        paths[path] = Reader(_field(f"order.{name}", convert))
    # Order.total: the sum of the line amounts, as the flattening adds them up; written after the fields, as it is
    paths["order.total"] = Reader(attrgetter("order.total"))
    paths["order.line_count"] = Reader(_line_count)
    for name, path, convert in _plan(exposure, "exposure", frozenset()):
        paths[path] = Reader(_field(f"exposure.{name}", convert))
    paths["exposure.total"] = Reader(attrgetter("exposure.total"))
    policy_price_field = "policy_price" in line.model_fields
    for name, path, convert in _plan(line, "line", frozenset()):
        paths[path] = Reader(_field(name, convert), line=True)
    paths["line.amount"] = Reader(attrgetter("amount"), line=True)
    paths["line.net_unit_price"] = Reader(net_unit_price, line=True)
    for attribute, path in _product_facts(product):
        paths[path] = Reader(_product_fact(attribute), line=True, extra="products")
    unreadable: frozenset[str] = frozenset()
    if policy_price_field:  # a declared line fact of that name: without prices the flattening keeps it
        del paths["line.policy_price"]
        unreadable |= {"line.policy_price"}
    else:
        paths["line.policy_price"] = Reader(_policy_price, line=True, extra="prices")
    return Readers(MappingProxyType(paths), ORDER_LINES, unreadable)


@lru_cache(maxsize=64)
def return_readers(customer: type[BaseModel], request: type[BaseModel]) -> Readers:
    """The readers of a return's facts whose parts are of these classes (see :func:`salesgate.facts.return_factset`)."""
    paths: dict[str, Reader] = {}
    for name, path, convert in _plan(customer, "customer", frozenset()):
        paths[path] = Reader(_field(f"customer.{name}", convert))
    for name, path, convert in _plan(request, "return", frozenset()):
        paths[path] = Reader(_field(f"return_request.{name}", convert))
    paths["return.amount"] = Reader(attrgetter("return_request.amount"))
    paths["return.returnable_qty"] = Reader(attrgetter("return_request.returnable_qty"))
    return Readers(MappingProxyType(paths), None)
