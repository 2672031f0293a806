"""salesgate's own tables: decision log, approval workflow, audit log and credit reservations.

>>> store = Store("postgresql+psycopg://salesgate@db/erp")   # doctest: +SKIP
>>> store.upgrade()                                           # doctest: +SKIP
>>> gate = Gate.from_path("rules/", store=store, timeout=2)   # doctest: +SKIP
>>> gate.check_credit(order, reserve=True)                    # doctest: +SKIP

Tables are created and migrated by Alembic (``salesgate db upgrade``); see docs/store.md.
"""

from __future__ import annotations

from .approvals import ApprovalError, ApprovalRules, acting_as
from .connection import StoreError
from .plugin import StoreRecorder
from .records import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEntry,
    AuditReport,
    RecordedDecision,
    Reservation,
    ReserveResult,
    RoleMember,
    approval_digest,
    canonical_json,
    inputs_digest,
)
from .store import SCHEMA_ENV, URL_ENV, ReservationError, Store, StoreNotUpgraded

__all__ = [
    "SCHEMA_ENV",
    "URL_ENV",
    "ApprovalError",
    "ApprovalRequest",
    "ApprovalRules",
    "ApprovalStatus",
    "AuditEntry",
    "AuditReport",
    "RecordedDecision",
    "Reservation",
    "ReservationError",
    "ReserveResult",
    "RoleMember",
    "Store",
    "StoreError",
    "StoreNotUpgraded",
    "StoreRecorder",
    "acting_as",
    "approval_digest",
    "canonical_json",
    "inputs_digest",
]
