"""Digests: one text, and one sha256, for equal facts — what a decision and an approval are bound to.

Pure functions of the facts: both stores (SQL and in memory) and the ERP (which passes the order as
it is now to ``approval_status``) compute them alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import FactsError
from ..models import Order, OrderFacts, ReturnFacts, ReturnRequest


def canonical_json(value: Any) -> str:
    """One text for equal facts: keys sorted, no spaces, UTF-8 as is, numbers as exact decimals.

    ``Decimal("1000.00")`` and ``Decimal("1E+3")`` are the same amount and write the same way
    (``"1000"``); aware datetimes are written in UTC; enums by value.
    """
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def inputs_digest(facts: Any) -> str | None:
    """sha256 of the canonical JSON of the facts a decision was made on (``None`` without facts)."""
    if facts is None:
        return None
    return hashlib.sha256(canonical_json(facts).encode("utf-8")).hexdigest()


INCLUDED = ("customer", "exposure", "products")
"""Shipped documents that come along with a declared point's document: they change on their own (a
payment received, a price list updated), so no approval is bound to them."""


def approval_digest(facts: Any) -> str | None:
    """sha256 of what an approval is given for: the whole order, return or declared document, id included.

    Every field counts — customer, lines, quantities, prices, discounts, currency, payment method and
    terms, draft term, guarantee, channel, dates, special requirements — so any edit of the order,
    and any copy under a new id, has another digest and no approval given for the old one applies.
    Takes order or return facts (models or plain dicts as a gate takes them), an ``Order`` or a
    ``ReturnRequest``, or the order document alone; ``None`` gives ``None`` (a fallback decision).
    Values are validated first, so ``"2660"`` and ``2660.00`` digest alike.

    At a declared decision point the facts are the point's validated fact model (what
    ``gate.facts_for(point, facts)`` returns): the digest is of its document (``facts.shipment``, every
    declared field and list line), named by the document, without the customer or exposure it includes.
    """
    if facts is None:
        return None
    if isinstance(facts, BaseModel) and not isinstance(facts, OrderFacts | ReturnFacts | Order | ReturnRequest):
        return _declared_digest(facts)
    document: Order | ReturnRequest
    if isinstance(facts, OrderFacts):
        document = facts.order
    elif isinstance(facts, ReturnFacts):
        document = facts.return_request
    elif isinstance(facts, Order | ReturnRequest):
        document = facts
    elif isinstance(facts, Mapping):
        try:
            if isinstance(facts.get("order"), Mapping | Order):
                document = Order.model_validate(facts["order"])
            elif isinstance(facts.get("return"), Mapping | ReturnRequest):
                document = ReturnRequest.model_validate(facts["return"])
            elif "lines" in facts:
                document = Order.model_validate(facts)
            else:
                raise FactsError("an approval digest needs the order document ('order': {...}), a return, or a "
                                 "declared point's validated facts (gate.facts_for(point, facts))")
        except ValidationError as exc:
            raise FactsError(f"cannot digest the order: {exc.errors()[0]['msg']}") from None
    else:
        raise TypeError(f"cannot take an approval digest of a {type(facts).__name__}")
    kind = "order" if isinstance(document, Order) else "return"
    return _digest(kind, document)


def _declared_digest(facts: BaseModel) -> str:
    """The digest of a declared point's facts: its document parts (every field but the included shipped
    documents), each under its name; one part (the usual case) is digested as ``{kind: <its name>}``."""
    parts = {name: getattr(facts, name) for name in type(facts).model_fields if name not in INCLUDED}
    if not parts:
        raise FactsError(f"cannot take an approval digest of a {type(facts).__name__}: it holds no document, only "
                         f"{', '.join(type(facts).model_fields)}")
    if len(parts) == 1:
        ((kind, document),) = parts.items()
        return _digest(kind, document)
    return _digest("+".join(parts), parts)


def _digest(kind: str, document: Any) -> str:
    return hashlib.sha256(canonical_json({"kind": kind, "document": document}).encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="python", by_alias=True))
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, Decimal):
        return "0" if value.is_zero() else format(value.normalize(), "f")
    if isinstance(value, float):
        return _plain(Decimal(repr(value)))
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=canonical_json) if isinstance(value, set | frozenset) else items
    raise TypeError(f"cannot digest a {type(value).__name__}")
