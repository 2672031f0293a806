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

from .documents import FieldSpec, FieldType
from .facts import TODAY
from .models import CreditExposure, Customer, Order, OrderLine, Product, ReturnRequest
from .points import DecisionPoint
from .pointspecs import DECISION_POINTS, PointSpec
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
    zh: str = ""  # the description in Chinese, when the fact was declared with one
    declared: str = ""  # where a declared fact comes from (policy.yaml, points/x.yaml, a plugin); "" when shipped


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
    if typing.get_origin(annotation) is typing.Literal:
        return Kind.enum, "", tuple(str(a) for a in typing.get_args(annotation)), optional
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


AS_OF = FactInfo(TODAY, Kind.date, "The decision's as-of date: today in the policy's time zone, or the date the "
                 "caller decides as of (Gate(today=...), decide(..., as_of=...), --as-of, a test case's as_of:).",
                 zh="决策日期：按政策时区的今天，或调用方指定的日期")
"""``today``: every decision point reads it, and every decision has it (never missing)."""


def _money(path: str, description: str, optional: bool = False) -> FactInfo:
    return FactInfo(path, Kind.number, description, "money", optional=optional)


def _build() -> dict[str, dict[str, FactInfo]]:
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
    return {point: {f.path: f for f in [*facts, AS_OF]} for point, facts in vocab.items()}


VOCABULARY: typing.Final[typing.Mapping[str, typing.Mapping[str, FactInfo]]] = types.MappingProxyType(
    {point: types.MappingProxyType(facts) for point, facts in _build().items()}
)
"""Read-only: decision point → fact path → :class:`FactInfo`."""


EXTENSIBLE: typing.Final[typing.Mapping[str, str]] = types.MappingProxyType({
    "customer": "customer", "order": "order", "line": "line", "product": "line.product",
    "exposure": "exposure", "return": "return"})
"""The shipped documents a policy may declare extra fields on (``policy.yaml`` ``facts:``), each with
the prefix rules read its fields under (a product's are read per line: ``line.product.make_or_buy``)."""

_UNITS = {FieldType.integer: "count", FieldType.money: "money", FieldType.percent: "rate"}
_KINDS = {FieldType.text: Kind.text, FieldType.integer: Kind.number, FieldType.number: Kind.number,
          FieldType.money: Kind.number, FieldType.percent: Kind.number, FieldType.bool: Kind.bool,
          FieldType.date: Kind.date, FieldType.enum: Kind.enum, FieldType.list: Kind.list}


def declared_facts(prefix: str, specs: typing.Sequence[FieldSpec], declared: str,
                   required: frozenset[str] = frozenset()) -> list[FactInfo]:
    """The facts of declared fields under ``prefix`` (a list's element fields under its element's name)."""
    out: list[FactInfo] = []
    for spec in specs:
        path = f"{prefix}.{spec.name}"
        unit = _UNITS.get(spec.type, "")
        # a history fact's name may end with its window (visits_last_90_days): a count, not days
        if spec.type is FieldType.integer and (spec.name.startswith("days_") or (
                spec.name.endswith("_days") and spec.window is None)):
            unit = "days"
        optional = not (spec.required or spec.name in required)
        source = declared if spec.window is None else f"{declared}, history over {spec.window}"
        if spec.type is FieldType.list:
            out.append(FactInfo(path, Kind.list, spec.description.en, element=spec.element, zh=spec.description.zh,
                                declared=declared))
            out.extend(declared_facts(spec.element, spec.fields, declared))
            continue
        out.append(FactInfo(path, _KINDS[spec.type], spec.description.en, unit, spec.choices, optional,
                            zh=spec.description.zh, declared=source))
    return out


def model_facts(facts_model: type[BaseModel], declared: str) -> list[FactInfo]:
    """The facts of a plugin's document model: each top-level field is a document (a pydantic model)
    whose fields rules read as ``<field>.<name>``; a list of models is a list fact whose element is
    named by the field's ``json_schema_extra={"element": ...}`` (else ``item``)."""
    out: list[FactInfo] = []
    for root, info in facts_model.model_fields.items():
        part = info.annotation
        if not (isinstance(part, type) and issubclass(part, BaseModel)):
            raise TypeError(f"{facts_model.__name__}.{root}: each field of a document model is a pydantic model "
                            "(the document, or one that comes with it such as the customer)")
        for name, field in part.model_fields.items():
            annotation = field.annotation
            if typing.get_origin(annotation) is list:
                (element_model,) = typing.get_args(annotation)
                extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
                element = str(extra.get("element", "item"))
                out.append(FactInfo(f"{root}.{name}", Kind.list, field.description or "", element=element,
                                    declared=declared))
                for sub, sub_field in element_model.model_fields.items():
                    kind, unit, choices, optional = _kind_of(sub_field.annotation)
                    out.append(FactInfo(f"{element}.{sub}", kind, sub_field.description or "", unit, choices,
                                        optional, declared=declared))
                continue
            kind, unit, choices, optional = _kind_of(annotation)
            out.append(FactInfo(f"{root}.{name}", kind, field.description or "", unit, choices, optional,
                                declared=declared))
    return out


def point_vocabulary(spec: PointSpec, extras: typing.Mapping[str, typing.Sequence[FieldSpec]] | None = None,
                     fields: typing.Sequence[FieldSpec] | None = None, declared_in: str = "policy.yaml",
                     ) -> typing.Mapping[str, FactInfo]:
    """Every fact rules at ``spec``'s point may read: a built-in point's shipped vocabulary, or a
    declared point's document (``fields``, when declared in YAML; else read from its model), plus the
    ``extras`` a policy declares on the shipped documents it reads."""
    if spec.built_in:
        facts = dict(VOCABULARY[spec.name])
        documents: tuple[str, ...] = ("customer", "return") if spec.name == "return_handling" else (
            "customer", "order", "line", "product", "exposure")
    else:
        if fields is not None:
            subject = spec.subject.partition(".")[2]
            facts = {f.path: f for f in declared_facts(spec.root, fields, spec.source, frozenset({subject}))}
        else:
            facts = {f.path: f for f in model_facts(spec.document, spec.source)}
        included = tuple(name for name in spec.document.model_fields if name in ("customer", "exposure"))
        if fields is not None:  # a YAML declaration's includes: the shipped customer and exposure facts, as shipped
            shipped = VOCABULARY["credit_check"]
            for part in included:
                facts.update({path: info for path, info in shipped.items() if path.startswith(f"{part}.")})
        documents = included
    for document in documents:
        for info in declared_facts(EXTENSIBLE[document], (extras or {}).get(document, ()), declared_in):
            facts[info.path] = info
    facts[TODAY] = AS_OF
    return types.MappingProxyType(facts)
