"""salesgate's own tables: decision log, approval workflow, audit log and credit reservations.

``Store`` keeps them in a SQL database; ``MemoryStore`` in memory (tests, embedders). Both implement
the ports of :mod:`salesgate.ports` and follow the rules of :mod:`salesgate.workflow`.

>>> store = Store("postgresql+psycopg://salesgate@db/erp")   # doctest: +SKIP
>>> store.upgrade()                                           # doctest: +SKIP
>>> gate = Gate.from_path("rules/", store=store, timeout=2)   # doctest: +SKIP
>>> gate.check_credit(order, reserve=True)                    # doctest: +SKIP

Tables are created and migrated by Alembic (``salesgate db upgrade``); see docs/store.md.
"""

from __future__ import annotations

from salesgate.errors import ApprovalError, ReservationError, StoreError
from salesgate.recorder import StoreRecorder
from salesgate.workflow import ApprovalRules, acting_as

from .memory import MemoryStore
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
from .store import SCHEMA_ENV, URL_ENV, Store, StoreNotUpgraded

__all__ = [
    "SCHEMA_ENV",
    "URL_ENV",
    "ApprovalError",
    "ApprovalRequest",
    "ApprovalRules",
    "ApprovalStatus",
    "AuditEntry",
    "AuditReport",
    "MemoryStore",
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
