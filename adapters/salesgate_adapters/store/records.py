"""What the store hands back (decisions, approval requests, reservations, audit entries) and the digests.

The record types live in :mod:`salesgate.records`, the digests and id rules in :mod:`salesgate.workflow`:
every store returns the same values. Re-exported here for code that imports them from the store;
:func:`request_from_row` is the SQL store's own.
"""

from __future__ import annotations

from typing import Any

from salesgate.records import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEntry,
    AuditReport,
    RecordedDecision,
    Reservation,
    ReserveResult,
    RoleMember,
)
from salesgate.workflow.digests import approval_digest, canonical_json, inputs_digest
from salesgate.workflow.identities import normal_id

__all__ = [
    "ApprovalRequest",
    "ApprovalStatus",
    "AuditEntry",
    "AuditReport",
    "RecordedDecision",
    "Reservation",
    "ReserveResult",
    "RoleMember",
    "approval_digest",
    "canonical_json",
    "inputs_digest",
    "normal_id",
    "request_from_row",
]


def request_from_row(row: Any) -> ApprovalRequest:
    """An approval request from a ``salesgate_approval_requests`` row."""
    return ApprovalRequest(
        id=row.id, decision_id=row.decision_id, hook=row.hook, subject=row.subject, role=row.role,
        position=row.position, status=row.status, created_at=row.created_at, updated_at=row.updated_at,
        approval_digest=row.approval_digest, requested_by=row.requested_by, acted_by=row.acted_by,
        acted_at=row.acted_at, comment=row.comment, status_reason=row.status_reason, expires_at=row.expires_at,
        escalate_at=row.escalate_at, escalate_to=row.escalate_to, escalated_at=row.escalated_at)
