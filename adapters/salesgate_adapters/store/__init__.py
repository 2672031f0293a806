"""salesgate's own tables: decision log, approval requests and credit reservations.

>>> store = Store("postgresql+psycopg://salesgate@db/erp")   # doctest: +SKIP
>>> store.upgrade()                                           # doctest: +SKIP
>>> gate = Gate.from_path("rules/", store=store, timeout=2)   # doctest: +SKIP
>>> gate.check_credit(order, reserve=True)                    # doctest: +SKIP

Tables are created and migrated by Alembic (``salesgate db upgrade``); see docs/store.md.
"""

from __future__ import annotations

from .connection import StoreError
from .plugin import StoreRecorder
from .records import ApprovalRequest, RecordedDecision, Reservation, ReserveResult, canonical_json, inputs_digest
from .store import URL_ENV, Store

__all__ = [
    "URL_ENV",
    "ApprovalRequest",
    "RecordedDecision",
    "Reservation",
    "ReserveResult",
    "Store",
    "StoreError",
    "StoreRecorder",
    "canonical_json",
    "inputs_digest",
]
