"""What the store hands back (decisions, approval requests, reservations, audit entries) and the digests."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError

from salesgate.decisions import Decision, Outcome
from salesgate.errors import FactsError
from salesgate.hooknames import Hook
from salesgate.models import Order, OrderFacts, ReturnFacts, ReturnRequest


def normal_id(value: str) -> str:
    """A user id or role name as the approval workflow compares them: full-width and half-width forms
    folded to the ordinary ones (``"ｌｉ"`` is ``"li"``, an ideographic space is a space: the width
    mapping of RFC 8265, as a Chinese input method in full-width mode types them), surrounding
    whitespace stripped, Unicode NFC. Case is kept. Which ids are refused is ``approvals.user_id``'s."""
    if not value.isascii():
        value = "".join(unicodedata.normalize("NFKC", char)
                        if unicodedata.decomposition(char).startswith(("<wide>", "<narrow>")) else char
                        for char in value)
    return unicodedata.normalize("NFC", value.strip())


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


def approval_digest(facts: Any) -> str | None:
    """sha256 of what an approval is given for: the whole order (or return) document, id included.

    Every field counts — customer, lines, quantities, prices, discounts, currency, payment method and
    terms, draft term, guarantee, channel, dates, special requirements — so any edit of the order,
    and any copy under a new id, has another digest and no approval given for the old one applies.
    Takes order or return facts (models or plain dicts as a gate takes them), an ``Order`` or a
    ``ReturnRequest``, or the order document alone; ``None`` gives ``None`` (a fallback decision).
    Values are validated first, so ``"2660"`` and ``2660.00`` digest alike.
    """
    if facts is None:
        return None
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
                raise FactsError("an approval digest needs the order document ('order': {...}) or a return")
        except ValidationError as exc:
            raise FactsError(f"cannot digest the order: {exc.errors()[0]['msg']}") from None
    else:
        raise TypeError(f"cannot take an approval digest of a {type(facts).__name__}")
    kind = "order" if isinstance(document, Order) else "return"
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
    status: str  # pending, approved, rejected, void, expired
    created_at: datetime
    updated_at: datetime
    approval_digest: str | None = None
    requested_by: str | None = None
    acted_by: str | None = None
    acted_at: datetime | None = None
    comment: str | None = None
    status_reason: str | None = None
    expires_at: datetime | None = None
    escalate_at: datetime | None = None
    escalate_to: str | None = None
    escalated_at: datetime | None = None

    @property
    def escalated(self) -> bool:
        return self.escalated_at is not None

    def overdue(self, now: datetime) -> bool:
        """Pending past its expiry: it can no longer be approved (a sweep marks it ``expired``)."""
        return self.status == "pending" and self.expires_at is not None and self.expires_at <= now


def request_from_row(row: Any) -> ApprovalRequest:
    """An approval request from a ``salesgate_approval_requests`` row."""
    return ApprovalRequest(
        id=row.id, decision_id=row.decision_id, hook=row.hook, subject=row.subject, role=row.role,
        position=row.position, status=row.status, created_at=row.created_at, updated_at=row.updated_at,
        approval_digest=row.approval_digest, requested_by=row.requested_by, acted_by=row.acted_by,
        acted_at=row.acted_at, comment=row.comment, status_reason=row.status_reason, expires_at=row.expires_at,
        escalate_at=row.escalate_at, escalate_to=row.escalate_to, escalated_at=row.escalated_at)


@dataclass(frozen=True)
class ApprovalStatus:
    """Whether an order (or return) may go ahead, as far as approvals go: what the ERP asks before confirming.

    ``state`` is one of ``approved`` (every required role approved the order as it is now),
    ``not_required`` (the decisions ask for no approval), ``pending``, ``rejected``, ``expired``,
    ``blocked`` (a decision blocks the order: no approval lifts a block), ``changed`` (the order
    differs from the one decided — decide it again), ``stale`` (a hook was last decided on an
    earlier version of the order — decide it again), ``tampered`` (a decision or request row the
    answer rests on is not what the audit log recorded: run ``salesgate audit verify``) or
    ``undecided`` (no decision recorded).
    """

    subject: str
    state: str
    approval_digest: str | None
    requests: tuple[ApprovalRequest, ...]
    detail: str

    @property
    def approved(self) -> bool:
        return self.state in ("approved", "not_required")

    @property
    def waiting_for(self) -> list[ApprovalRequest]:
        return [r for r in self.requests if r.status == "pending"]


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
    reservation for the same amount and was checked again on the very facts of the recorded decision:
    nothing was logged or changed, ``decision`` is the one recorded then.
    ``reserved`` is the amount of the customer's other reservations the decision counted.
    """

    decision: Decision
    reservation: Reservation | None
    replayed: bool
    reserved: Decimal
    decision_id: str | None
    facts: Any = None


@dataclass(frozen=True)
class RoleMember:
    """A user who may approve for a role."""

    role: str
    user_id: str
    granted_by: str | None
    granted_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One link of the audit chain. ``hash`` is the sha256 of the canonical JSON of every other field."""

    seq: int
    recorded_at: datetime
    kind: str
    subject: str | None
    hook: str | None
    actor: str | None
    policy_hash: str | None
    content: str
    prev_hash: str
    hash: str

    @property
    def data(self) -> dict[str, Any]:
        loaded = json.loads(self.content)
        return loaded if isinstance(loaded, dict) else {"value": loaded}


@dataclass(frozen=True)
class AuditReport:
    """What ``verify`` found: ``ok``, how many entries were checked, the head, and the first problem."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    problem: str | None = None
