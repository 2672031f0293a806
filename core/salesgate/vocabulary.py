"""The fact vocabulary: every name a rule condition may read, with its type, per decision point.

Built from the documented fact models, plus the derived figures policy owners ask for (order
total, line amount, exposure total). The type checker uses it to reject unknown facts (with a
did-you-mean) and type mismatches when a rule file is loaded; ``salesgate vocab`` prints it.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from pydantic import BaseModel

from .models import CreditExposure, Customer, Order, OrderLine, Product, ReturnRequest
from .points import DecisionPoint
from .pointspecs import DECISION_POINTS
from .policy.ir import Kind


@dataclass(frozen=True)
class FactInfo:
    """One readable fact: ``order.total`` is a number (money) documented as the order total."""

    path: str
    kind: Kind
    description: str
    unit: str = ""  # money, rate, count, days: for people and for the durable encoding
    choices: tuple[str, ...] = ()
    optional: bool = False
    element: str = ""  # for lists: the name of one element ("line")


_SKIP: dict[type[BaseModel], set[str]] = {
    Order: {"lines", "created_at"},
    OrderLine: set(),
    ReturnRequest: set(),
}


def _kind_of(annotation: object) -> tuple[Kind, str, tuple[str, ...], bool]:
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = True
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if annotation is bool:
        return Kind.bool, "", (), optional
    if annotation is int:
        return Kind.number, "count", (), optional
    if annotation is Decimal:
        return Kind.number, "money", (), optional
    if annotation is str:
        return Kind.text, "", (), optional
    if annotation in (date, datetime):
        return Kind.date, "", (), optional
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return Kind.enum, "", tuple(str(m.value) for m in annotation), optional
    raise TypeError(f"no fact kind for {annotation!r}")  # pragma: no cover - models are fixed


def _from_model(prefix: str, model: type[BaseModel]) -> list[FactInfo]:
    facts = []
    for name, field in model.model_fields.items():
        if name in _SKIP.get(model, set()):
            continue
        kind, unit, choices, optional = _kind_of(field.annotation)
        if name == "discount":
            unit = "rate"
        if name.endswith("_days") or name.startswith("days_"):
            unit = "days"
        facts.append(
            FactInfo(f"{prefix}.{name}", kind, field.description or "", unit, choices, optional)
        )
    return facts


def _money(path: str, description: str, optional: bool = False) -> FactInfo:
    return FactInfo(path, Kind.number, description, "money", optional=optional)


def _build() -> dict[DecisionPoint, dict[str, FactInfo]]:
    customer = _from_model("customer", Customer)
    order = [
        *_from_model("order", Order),
        _money("order.total", "Order total: sum of line amounts (qty × unit price × (1 − discount))."),
        FactInfo("order.line_count", Kind.number, "Number of order lines.", "count"),
        FactInfo("order.lines", Kind.list, "The order lines; read them with any(...) or all(...).",
                 element="line"),
    ]
    line = [
        *_from_model("line", OrderLine),
        _money("line.amount", "Line amount: qty × unit price × (1 − discount), rounded to the cent."),
        _money("line.net_unit_price", "Unit price after the line discount, rounded half up to 4 decimals."),
        *[
            FactInfo(f.path.replace("product.", "line.product.", 1), f.kind, f.description, f.unit,
                     f.choices, optional=True)
            for f in _from_model("product", Product)
            if f.path != "product.sku"
        ],
    ]
    exposure = [
        *_from_model("exposure", CreditExposure),
        _money("exposure.total", "Open receivables plus open orders plus reserved credit, before this order."),
    ]
    ret = [
        *[FactInfo(f.path.replace("return_request.", "return.", 1), f.kind, f.description, f.unit,
                   f.choices, f.optional) for f in _from_model("return_request", ReturnRequest)],
        _money("return.amount", "What the request is worth: claimed amount, else qty × unit price."),
        FactInfo("return.returnable_qty", Kind.number, "Delivered minus already returned quantity.", "count"),
    ]
    order_facts = customer + order + line + exposure
    pricing_only = [
        _money("line.policy_price",
               "Pricing only: the unit price after every pricing adjustment (list price, markups, discounts, "
               "floors). Rules that read it run after the price rules."),
    ]
    vocab: dict[DecisionPoint, list[FactInfo]] = {
        "order_approval": order_facts,
        "credit_check": order_facts,
        "pricing": order_facts + pricing_only,
        "return_handling": customer + ret,
    }
    if set(vocab) != set(DECISION_POINTS):  # pragma: no cover - guards adding a decision point without its vocabulary
        raise RuntimeError("every decision point needs a vocabulary")
    return {point: {f.path: f for f in facts} for point, facts in vocab.items()}


VOCABULARY: typing.Final[typing.Mapping[DecisionPoint, typing.Mapping[str, FactInfo]]] = types.MappingProxyType(
    {point: types.MappingProxyType(facts) for point, facts in _build().items()}
)
"""Read-only: decision point → fact path → :class:`FactInfo`."""
