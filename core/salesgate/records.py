"""What a store hands back: logged decisions, approval requests and status, reservations, roles, audit entries.

Plain frozen values, the same from every store (:mod:`salesgate.ports`): the SQL store in
``salesgate_adapters.store`` and the in-memory one build exactly these, so an ERP's code reads them
without knowing where they were kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .decisions import Decision, Outcome


@dataclass(frozen=True)
class RecordedDecision:
    """One row of the decision log."""

    id: str
    decided_at: datetime
    inputs_digest: str | None
    decision: Decision

    @property
    def hook(self) -> str:
        """The decision point (named ``hook`` like :attr:`Decision.hook`, for compatibility)."""
        return self.decision.hook

    @property
    def subject(self) -> str:
        return self.decision.subject

    @property
    def outcome(self) -> Outcome:
        return self.decision.outcome

    @property
    def failure(self) -> str | None:
        """Why salesgate could not decide, for a fallback decision; ``None`` for the policy's answer."""
        return self.decision.failure


@dataclass(frozen=True)
class ApprovalRequest:
    """A role asked to approve a decision's subject; ``position`` is its step on the ladder (1 first).
    ``hook`` is the decision point (the store's column name, kept for compatibility)."""

    id: str
    decision_id: str
    hook: str
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


@dataclass(frozen=True)
class ApprovalStatus:
    """Whether an order (or return) may go ahead, as far as approvals go: what the ERP asks before confirming.

    ``state`` is one of ``approved`` (every required role approved the order as it is now),
    ``not_required`` (the decisions ask for no approval), ``pending``, ``rejected``, ``expired``,
    ``blocked`` (a decision blocks the order: no approval lifts a block), ``changed`` (the order
    differs from the one decided — decide it again), ``stale`` (a decision point was last decided on an
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
    """What a store's ``reserve`` did.

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
