"""Fact completion: from what a caller sends to the validated facts a decision reads.

An ERP may send complete facts, or only what it knows: an order by id, an order without its
customer, exposure or products, a return by order, product and request date. What is missing is
loaded through the data hooks (the adapters, behind the plugin facade) and the rest derived (the
days since delivery), then the whole is validated once, here, into :class:`OrderFacts` or
:class:`ReturnFacts`. Whatever the caller sent wrong is a :class:`FactsError` that names the field
and says what to pass; an adapter's failure is left to propagate, for the gate's failure mode.

The raw order or return id is checked before anything is loaded (:func:`checked_subject`), so
that an answer given when an adapter fails can be logged under it.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, NamedTuple, Protocol

from pydantic import BaseModel, TypeAdapter, ValidationError

from .documents import known_fields
from .errors import FactsError, did_you_mean
from .history import HistoryFact, history_keys
from .models import (
    STORABLE_TEXT,
    CreditExposure,
    Customer,
    Delivery,
    Order,
    OrderFacts,
    OrderLine,
    Product,
    ReturnFacts,
    ReturnRequest,
)
from .money import normalise_scale
from .pointspecs import BUILT_IN_POINTS, PointSpec

__all__ = [
    "FactSource",
    "OrderInput",
    "ReturnInput",
    "checked_subject",
    "complete",
    "subject_of",
    "with_reserved",
]

OrderInput = OrderFacts | Mapping[str, Any]
ReturnInput = ReturnFacts | Mapping[str, Any]


class FactSource(Protocol):
    """The data hooks completion loads through: the plugin facade, :class:`salesgate.plugins.Hooks`.

    Each answers None when no adapter knows; an adapter's failure raises (``AdapterError``). A source may
    also have ``load_history`` (history facts) and ``computes_history`` (false: no adapter computes any, so
    none is asked for); without ``computes_history`` it is asked.
    """

    def load_customer(self, customer_id: str) -> Customer | None: ...

    def load_exposure(self, customer_id: str) -> CreditExposure | None: ...

    def load_order(self, order_id: str) -> Order | None: ...

    def load_delivery(self, order_id: str, sku: str) -> Delivery | None: ...

    def load_products(self, skus: Sequence[str]) -> list[Product] | None: ...


def complete(point: str, facts: OrderInput | ReturnInput | Mapping[str, Any] | BaseModel, source: FactSource,
             spec: PointSpec | None = None) -> Any:
    """Validate facts once (models pass through), filling missing parts from ``source``.

    ``spec`` is the point's declaration in the policy in force: a declared point's document model,
    or a built-in point's document extended by the policy's declared facts. The history facts it
    declares that the caller did not send are computed by the adapters (``load_history``) as of the
    day ``source`` loads everything else as of (:meth:`salesgate.plugins.Hooks.on`): one as-of date."""
    if spec is not None and not spec.built_in:
        return _complete_document(spec, facts, source, _History(spec, source))
    order_model: type[OrderFacts] = OrderFacts
    return_model: type[ReturnFacts] = ReturnFacts
    if spec is not None and spec.document is not OrderFacts and spec.document is not ReturnFacts:
        if point == "return_handling":
            return_model = spec.document  # type: ignore[assignment]
        else:
            order_model = spec.document  # type: ignore[assignment]
    if point == "return_handling":
        if isinstance(facts, return_model):
            return facts
        if isinstance(facts, ReturnFacts):
            return _extended(return_model, facts, "return facts")
        if isinstance(facts, OrderFacts):
            raise FactsError("return_handling decides returns; pass return facts, not an order")
        if not isinstance(facts, Mapping):
            raise FactsError("return_handling takes return facts: a ReturnFacts or a dict with 'return', got "
                             f"{type(facts).__name__}")
        data = dict(facts)
        request = data.get("return")
        if isinstance(request, Mapping):
            data["return"] = request = _complete_return(dict(request), source)
        if "customer" not in data and request is not None:
            customer_id = request.get("customer_id", "") if isinstance(request, Mapping) else getattr(
                request, "customer_id", ""
            )
            data["customer"] = _load_customer(source, str(customer_id), "return")
        returns: ReturnFacts = _validate(return_model, _History(spec, source).filled(data), "return facts")
        return returns
    if isinstance(facts, order_model):
        return facts
    if isinstance(facts, OrderFacts):
        return _extended(order_model, facts, "order facts")
    if isinstance(facts, ReturnFacts):
        raise FactsError(f"{point} decides orders; pass order facts, not a return")
    if not isinstance(facts, Mapping):
        raise FactsError(f"{point} takes order facts: an OrderFacts or a dict with 'order', got "
                         f"{type(facts).__name__}")
    completed = _History(spec, source).filled(_complete_order(dict(facts), source))
    order: OrderFacts = _validate(order_model, completed, "order facts")
    return order


class DocumentSource(FactSource, Protocol):
    """A :class:`FactSource` that also loads a declared point's document by id."""

    def load_document(self, point: str, document_id: str) -> BaseModel | Mapping[str, Any] | None: ...


def _complete_document(spec: PointSpec, facts: Any, source: FactSource, history: _History) -> BaseModel:
    """A declared point's facts: the document (given, or loaded by id through an adapter), with the
    customer (and exposure) it includes loaded by the document's ``customer_id`` when not given."""
    model = spec.document
    if isinstance(facts, model):
        return facts
    root = spec.root
    if not isinstance(facts, Mapping):
        raise FactsError(f"{spec.name} takes {root} facts: a dict with {root!r} (or a {model.__name__}), got "
                         f"{type(facts).__name__}")
    data = dict(facts)
    if root not in data:
        parts = ", ".join(repr(name) for name in model.model_fields)
        raise FactsError(f"{spec.name} facts need {parts}: the {root} document (or its id, to load it), got "
                         f"{', '.join(repr(k) for k in data) or 'nothing'}")
    document = data[root]
    if isinstance(document, str):
        loader = getattr(source, "load_document", None)
        loaded = loader(spec.name, document) if loader is not None else None
        if loaded is None:
            raise FactsError(f"no {root} {document!r}: pass the {root} document, or install an adapter whose mapping "
                             f"says how to load a {root} (docs/decision-points.md)")
        data[root] = document = loaded.model_dump() if isinstance(loaded, BaseModel) else dict(loaded)
    fields = model.model_fields
    customer_id = document.get("customer_id") if isinstance(document, Mapping) else None
    if "customer" in fields and "customer" not in data and isinstance(customer_id, str):
        data["customer"] = _load_customer(source, customer_id, root)
    if "exposure" in fields and "exposure" not in data and isinstance(customer_id, str):
        exposure = source.load_exposure(customer_id)
        if exposure is not None:
            data["exposure"] = exposure
    unknown = [key for key in data if key not in fields]
    if unknown:
        suggestion = did_you_mean(unknown[0], list(fields))
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        raise FactsError(f"invalid {spec.name} facts: {unknown[0]!r} is not part of a {spec.name} document{hint}; "
                         f"it takes {', '.join(fields)}")
    validated: BaseModel = _validate(model, history.filled(data), f"{spec.name} facts")
    return validated


class _History:
    """Fills in the history facts a point declares and the caller left out, from the adapters.

    A value the caller sent wins (even ``null``: the caller says it is missing); what no adapter computes
    stays missing. Each document is asked once, with the facts it lacks. When no plugin computes history
    (``source.computes_history`` is false: no adapter implements ``salesgate_load_history``) nothing is
    asked, and the documents are not dumped to find what they lack."""

    def __init__(self, spec: PointSpec | None, source: FactSource) -> None:
        self.facts: dict[str, list[HistoryFact]] = {}
        self.load = getattr(source, "load_history", None) if getattr(source, "computes_history", True) else None
        if self.load is None:
            return
        for fact in spec.history if spec is not None else ():
            self.facts.setdefault(fact.document, []).append(fact)

    def filled(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with each document's missing history facts computed (the same dict when none are)."""
        if not self.facts or self.load is None:
            return data
        for document, facts in self.facts.items():
            part = data.get(document)
            values = part.model_dump() if isinstance(part, BaseModel) else dict(part) if isinstance(
                part, Mapping) else None
            if values is None:
                continue  # not given and not loaded: validation says so
            wanted = [fact for fact in facts if fact.name not in values]
            if not wanted:
                continue
            found = self.load(document, history_keys(document, values), wanted)
            if found:
                data[document] = {**values, **found}
        return data


def with_reserved(model: OrderFacts, reserved: Decimal, source: FactSource | None) -> OrderFacts:
    """The facts a reserving credit check decides on: ``model`` with ``reserved``, the credit held for
    the customer's other unconfirmed orders, in its exposure.

    With a ``source`` the exposure is loaded afresh (the caller sent none, and under the reservation's
    lock it is current); without one the caller's own exposure is kept.
    """
    exposure = model.exposure
    if source is not None:
        exposure = source.load_exposure(model.customer.id) or CreditExposure()
    # the store's sum is Numeric(18, 4): at the scale of money, as a validated fact would be
    held = exposure.model_copy(update={"reserved": normalise_scale(reserved)})
    return model.model_copy(update={"exposure": held})


def _load_customer(source: FactSource, customer_id: str, where: str = "order") -> Customer:
    if not customer_id:
        raise FactsError(f"invalid {where} facts: {where}.customer_id: Field required (or pass 'customer')")
    customer = source.load_customer(customer_id)
    if customer is None:
        raise FactsError(f"no facts for customer {customer_id!r}: pass 'customer' or install an adapter "
                         "that knows the customer")
    return customer


def _complete_return(request: dict[str, Any], source: FactSource) -> dict[str, Any]:
    """Fill a return given by order, product and date from the delivery it refers to.

    ``requested_on`` is input only: it dates the request so that days since delivery can be
    counted, and is never a fact. Values the caller passed win over the delivery's.
    """
    requested_on = request.pop("requested_on", None)
    if all(key in request for key in _DELIVERY_FIELDS):
        return request
    order_id, sku = str(request.get("original_order_id") or ""), str(request.get("sku") or "")
    delivery = source.load_delivery(order_id, sku) if order_id and sku else None
    if delivery is None:
        raise FactsError(f"no delivery of {sku!r} on order {order_id!r}: pass {', '.join(_DELIVERY_FIELDS)} "
                         "or install an adapter that knows the delivery")
    customer_id = request.get("customer_id")
    if delivery.customer_id is not None and customer_id is not None and customer_id != delivery.customer_id:
        raise FactsError(f"return for customer {customer_id!r} names order {order_id!r}, which was sold to "
                         f"{delivery.customer_id!r}")
    request.setdefault("unit_price", delivery.unit_price)
    request.setdefault("delivered_qty", delivery.delivered_qty)
    request.setdefault("already_returned_qty", delivery.already_returned_qty)
    if delivery.invoice_id is not None:
        request.setdefault("invoice_id", delivery.invoice_id)
    if "days_since_delivery" not in request:
        request["days_since_delivery"] = _days_between(delivery.delivered_on, requested_on, order_id)
    return request


def _complete_order(data: dict[str, Any], source: FactSource) -> dict[str, Any]:
    if "order" not in data:
        raise FactsError("order facts need an 'order' (and usually 'customer', 'products', 'exposure')")
    order = data["order"]
    if isinstance(order, str):
        loaded = source.load_order(order)
        if loaded is None:
            raise FactsError(f"no order {order!r}: pass the order document or install an adapter that knows it")
        data["order"] = order = loaded
    if not isinstance(order, Mapping | Order):
        raise FactsError(f"invalid order facts: order: expected an object (or an order id to load), got "
                         f"{type(order).__name__}")
    customer_id = order.customer_id if isinstance(order, Order) else str(order.get("customer_id", ""))
    if "customer" not in data:
        data["customer"] = _load_customer(source, customer_id)
    if "exposure" not in data:
        exposure = source.load_exposure(customer_id)
        if exposure is not None:
            data["exposure"] = exposure
    if "products" not in data:
        lines = order.lines if isinstance(order, Order) else order.get("lines") or []
        if not isinstance(lines, list | tuple) or not all(isinstance(ln, Mapping | OrderLine) for ln in lines):
            raise FactsError("invalid order facts: order.lines: expected a list of lines, each an object with "
                             "line_no, sku, qty and unit_price")
        skus = sorted({(ln.sku if isinstance(ln, OrderLine) else str(ln.get("sku"))) for ln in lines})
        products = source.load_products(skus) if skus else None
        if products is not None:
            data["products"] = products
    return data


_DELIVERY_FIELDS = ("unit_price", "delivered_qty", "days_since_delivery")


def _days_between(delivered_on: date, requested_on: object, order_id: str) -> int:
    """Whole days from delivery to the request; the request must be dated and not precede delivery."""
    if requested_on is None:
        raise FactsError("a return without days_since_delivery needs requested_on (YYYY-MM-DD), the date of the "
                         "request, to count the days since delivery")
    if isinstance(requested_on, datetime):
        day = requested_on.date()
    elif isinstance(requested_on, date):
        day = requested_on
    else:
        try:
            day = datetime.fromisoformat(str(requested_on)).date()
        except ValueError:
            raise FactsError(f"return.requested_on: {requested_on!r} is not a date (YYYY-MM-DD)") from None
    days = (day - delivered_on).days
    if days < 0:
        raise FactsError(f"return.requested_on {day.isoformat()} is before the delivery of order {order_id!r} "
                         f"on {delivered_on.isoformat()}")
    return days


def subject_of(facts: BaseModel, spec: PointSpec | None = None) -> str:
    """The id of the document of validated facts (order, return, or a declared point's subject)."""
    if isinstance(facts, OrderFacts):
        return facts.order.id
    if isinstance(facts, ReturnFacts):
        return facts.return_request.id
    if spec is None:  # pragma: no cover - callers pass the spec of a declared point
        raise TypeError(f"no subject known for {type(facts).__name__}")
    root, _, name = spec.subject.partition(".")
    return str(getattr(getattr(facts, root), name))


def _id_rules(model: type[Order] | type[ReturnRequest]) -> TypeAdapter[str]:
    """The rules of ``model.id``, taken from the fact model itself (text, 1 to MAX_ID characters, no NUL,
    no lone surrogate), so that raw input is held to exactly what validation will ask."""
    field = model.model_fields["id"]
    annotated: Any = Annotated[(field.annotation, *field.metadata)]
    return TypeAdapter(annotated)


_ID_RULES = {"order": _id_rules(Order), "return": _id_rules(ReturnRequest)}
_BUILT_IN_FACTS = (OrderFacts, ReturnFacts)
_SUBJECT_KEYS: dict[str, str] = {spec.name: spec.subject.partition(".")[0] for spec in BUILT_IN_POINTS}
"""The document part whose id is each point's subject (``order`` of ``order.id``): the key of raw input."""


def checked_subject(point: str, facts: object, spec: PointSpec | None = None) -> str:
    """The order or return id a fallback decision is about, from a model or from raw input; raw ids are
    checked first, by the fact models' rules.

    An adapter can fail before the facts are validated; the failure mode then answers about the id
    as given, and that answer must be logged like any other. An id the store cannot hold (too long,
    a NUL, a lone surrogate) would leave the answer unlogged, so it is refused as the caller's error,
    naming the field, before any adapter runs. A missing id is left to validation: "unknown" is logged.
    """
    if isinstance(facts, _BUILT_IN_FACTS):
        return subject_of(facts)
    if spec is not None and not spec.built_in:
        if isinstance(facts, spec.document):
            return subject_of(facts, spec)
        key, _, id_field = spec.subject.partition(".")
    else:
        key, id_field = _SUBJECT_KEYS[point], "id"
    value = facts.get(key) if isinstance(facts, Mapping) else None
    if isinstance(value, Order | ReturnRequest):
        return value.id
    if isinstance(value, BaseModel):
        return str(getattr(value, id_field, "unknown"))
    if isinstance(value, str):
        field_name, raw = f"{key} (the {key} id)", value  # an order given by id, to be loaded by an adapter
    elif isinstance(value, Mapping) and id_field in value:
        field_name, raw = f"{key}.{id_field}", value[id_field]
    else:
        return "unknown"
    try:
        checked: str = _ID_RULES.get(key, _ID_RULES["order"]).validate_python(raw)
    except ValidationError as exc:
        refused = exc.errors()[0]
        what = point if spec is not None and not spec.built_in else key
        raise FactsError(f"invalid {what} facts: {field_name}: {_text_refused(refused) or refused['msg']}") from None
    return checked


def _validate(model: type[BaseModel], data: Mapping[str, Any], what: str) -> Any:
    try:
        return model.model_validate(_retyped(model, data))
    except ValidationError as exc:
        raise FactsError(_format_validation(exc, what, model)) from None


def _extended(model: type[BaseModel], facts: BaseModel, what: str) -> Any:
    """Validated shipped facts (an ``OrderFacts``) as the policy's extension of them (``model``), which adds
    only the policy's declared facts, each optional: built from the validated parts without validating them
    again, the declared facts missing, as validating the caller's own input against ``model`` would give.

    Validating again cost a third of a decision (dumping every part, checking every value anew) to learn
    what validation had already said. Where the extension is not only that (a declared fact that is
    required, a validator of its own), or a part is of another class than the shipped one (another
    policy's extension), the parts are dumped and validated as before."""
    lifting = _lifting(model, type(facts))
    lifted = _lifted(facts, lifting) if lifting is not None else None
    if lifted is not None:
        return lifted
    return _validate(model, facts.model_dump(by_alias=True), what)


class _Part(NamedTuple):
    """A field whose shipped model (or list of them) the extension replaces by its extension of it."""

    name: str
    many: bool
    """A list of them (``products``)."""
    shipped: type[BaseModel]
    extension: type[BaseModel]
    lifting: _Lifting


class _Lifting(NamedTuple):
    """How to build ``model`` from a validated model of the shipped class it extends."""

    model: type[BaseModel]
    missing: dict[str, None]
    """The declared facts, each missing: they follow the shipped fields, in the extension's field order."""
    parts: tuple[_Part, ...]


_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _validators(model: type[BaseModel]) -> tuple[set[str], ...]:
    decorators = model.__pydantic_decorators__
    return (set(decorators.validators), set(decorators.field_validators), set(decorators.root_validators),
            set(decorators.field_serializers), set(decorators.model_serializers), set(decorators.model_validators))


@lru_cache(maxsize=256)  # a policy's few extensions; bounded, as reloads make new ones
def _lifting(model: type[BaseModel], shipped: type[BaseModel]) -> _Lifting | None:
    """How to build ``model`` from a validated ``shipped`` without validating again, or None when that would
    not give what validation gives: ``model`` must be ``shipped`` plus optional fields whose default is None
    (not validated), after the shipped ones, with the same validators and config, each shipped field of the
    same type and constraints, or of an extension of the shipped part's model (or a list of them) that lifts
    the same way."""
    if model is shipped or not issubclass(model, shipped) or model.__private_attributes__ \
            or model.model_config != shipped.model_config or _validators(model) != _validators(shipped):
        return None
    if model.model_config.get("validate_default") or model.model_config.get("extra") != "forbid":
        return None
    shipped_fields = shipped.model_fields
    if list(model.model_fields)[:len(shipped_fields)] != list(shipped_fields):
        return None
    missing: dict[str, None] = {}
    parts: list[_Part] = []
    for name, info in model.model_fields.items():
        own = shipped_fields.get(name)
        if own is None:
            if info.is_required() or info.default is not None or info.validate_default or info.default_factory:
                return None
            missing[name] = None
            continue
        if info.metadata != own.metadata or info.alias != own.alias:
            return None
        if info.annotation == own.annotation:
            continue
        many, part, extension = False, own.annotation, info.annotation
        if typing.get_origin(part) is list and typing.get_origin(extension) is list:
            many, part, extension = True, typing.get_args(part)[0], typing.get_args(extension)[0]
        if not (isinstance(part, type) and isinstance(extension, type) and issubclass(part, BaseModel)
                and issubclass(extension, BaseModel)):
            return None
        inner = _lifting(extension, part)
        if inner is None:
            return None
        parts.append(_Part(name, many, part, extension, inner))
    return _Lifting(model, missing, tuple(parts))


def _lifted(value: BaseModel, lifting: _Lifting) -> BaseModel | None:
    """``value`` (exactly of the shipped class) as ``lifting.model``: the same values, the same fields set, the
    declared facts missing; None when a part is neither the shipped class nor its extension."""
    data = value.__dict__ | lifting.missing if lifting.missing else dict(value.__dict__)
    for name, many, shipped, extension, inner in lifting.parts:
        if many:
            parts: list[Any] = []
            for part in data[name]:
                if type(part) is not extension:
                    if type(part) is not shipped:
                        return None
                    part = _lifted(part, inner)
                    if part is None:
                        return None
                parts.append(part)
            data[name] = parts
        else:
            part = data[name]
            if type(part) is not extension:
                if type(part) is not shipped:
                    return None
                part = _lifted(part, inner)
                if part is None:
                    return None
            data[name] = part
    model = _new(lifting.model)
    _set_dict(model, data)
    _set_fields_set(model, set(value.__pydantic_fields_set__))
    _set_extra(model, None)
    _set_private(model, None)
    lifted: BaseModel = model
    return lifted


def _retyped(model: type[BaseModel], data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` with the models an adapter loaded (a ``Customer``, ``Product`` s, an ``Order``) as dicts where
    the policy's fact model holds another class: the shipped model extended with the policy's declared facts
    (``customer.tenure_years``), which pydantic does not take an instance of the shipped class for. An adapter
    that reads declared facts returns a subclass carrying them; they are validated here, as a caller's are."""
    fields = model.model_fields
    if isinstance(data, BaseModel) or not any(isinstance(v, BaseModel | list) for v in data.values()):
        return data
    out = dict(data)
    for key, value in data.items():
        info = fields.get(key) or next((f for f in fields.values() if f.alias == key), None)
        target = info.annotation if info is not None else None
        if isinstance(value, BaseModel) and not (isinstance(target, type) and type(value) is target):
            out[key] = _as(target, value)
        elif isinstance(value, list) and any(isinstance(v, BaseModel) for v in value):
            element = typing.get_args(target)[0] if typing.get_origin(target) is list else None
            out[key] = [_as(element, v) if isinstance(v, BaseModel) and type(v) is not element else v
                        for v in value]
    return out


def _as(target: Any, value: BaseModel) -> Any:
    """``value`` for a field of type ``target``: lifted into it when ``target`` only adds declared facts to
    ``value``'s shipped class (see :func:`_extended`), else dumped, for validation to check it anew."""
    if isinstance(target, type) and issubclass(target, BaseModel):
        lifting = _lifting(target, type(value))
        lifted = _lifted(value, lifting) if lifting is not None else None
        if lifted is not None:
            return lifted
    return value.model_dump(by_alias=True)




def _format_validation(exc: ValidationError, what: str, model: type[BaseModel] | None = None) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"])
        message = _text_refused(err) or err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and model is not None:
            known = known_fields(model, err["loc"][:-1])
            suggestion = did_you_mean(str(err["loc"][-1]), known)
            message = "not a fact salesgate knows" + (f" (did you mean {suggestion!r}?)" if suggestion else "") + (
                "; a policy declares its own in policy.yaml under facts: (salesgate vocab lists them)"
                if not suggestion else "")
        parts.append(f"{where}: {message}" if where else message)
    more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return f"invalid {what}: " + "; ".join(parts) + more


def _text_refused(err: Any) -> str | None:
    """Say which character of a text fact no database can store, and where (see STORABLE_TEXT)."""
    value = err.get("input")
    if not isinstance(value, str):
        return None
    if err["type"] == "string_unicode":
        for at, char in enumerate(value, 1):
            if "\ud800" <= char <= "\udfff":
                return (f"holds a lone surrogate ({char!a}) at character {at}, which is not Unicode text and "
                        "cannot be stored: send the text as valid UTF-8")
    if err["type"] == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == STORABLE_TEXT:
        return f"holds a NUL character (\\x00) at character {value.index(chr(0)) + 1}, which a database cannot store"
    return None
