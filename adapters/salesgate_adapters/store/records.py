"""What the store hands back (decisions, approval requests, reservations) and the inputs digest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from salesgate.decisions import Decision, Outcome
from salesgate.hooknames import Hook


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


@dataclass(frozen=True)
class RecordedDecision:
    """One row of the decision log."""

    id: str
    decided_at: datetime
    inputs_digest: str | None
    decision: Decision

    @property
    def hook(self) -> Hook:
        return self.decision.hook

    @property
    def subject(self) -> str:
        return self.decision.subject

    @property
    def outcome(self) -> Outcome:
        return self.decision.outcome


@dataclass(frozen=True)
class ApprovalRequest:
    """A role asked to approve a decision's subject; ``position`` is its step on the ladder (1 first)."""

    id: str
    decision_id: str
    hook: Hook
    subject: str
    role: str
    position: int
    status: str  # pending, approved, rejected, void
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Reservation:
    """Credit held for one order until the ERP confirms or cancels it, or it expires."""

    id: str
    customer_id: str
    order_id: str
    amount: Decimal
    status: str  # reserved, confirmed, cancelled, expired
    outcome: Outcome
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    policy_hash: str
    decision_id: str | None

    def counts(self, now: datetime) -> bool:
        """Whether the amount still counts in the customer's exposure at ``now``."""
        return self.status == "reserved" and self.expires_at > now


@dataclass(frozen=True)
class ReserveResult:
    """What :meth:`Store.reserve` did.

    ``reservation`` is the reservation holding credit for the order after the call (``None`` when the
    check blocked and nothing was held before). ``replayed`` is true when the order already held a
    reservation for the same amount: nothing was decided again, ``decision`` is the one recorded then.
    ``reserved`` is the amount of the customer's other reservations the decision counted.
    """

    decision: Decision
    reservation: Reservation | None
    replayed: bool
    reserved: Decimal
    decision_id: str | None
    facts: Any = None
