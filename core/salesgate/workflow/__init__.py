"""The workflow rules every store follows, as pure functions over plain values (no database, no clock).

- :mod:`.identities`: user ids and role names as the workflow compares them; who is acting.
- :mod:`.digests`: the digests a decision and an approval are bound to.
- :mod:`.entries`: what a store writes of a decision (subject keyed, ids checked, digests).
- :mod:`.approvals`: the approval ladder, four eyes, expiry and escalation, the approval status.
- :mod:`.reservations`: credit reservation accounting and its transitions.

A store (the SQL store, the in-memory store, your own) keeps the records and the locks; these
functions say what changes. tests/test_workflow.py tests them without a database.
"""

from __future__ import annotations

from .approvals import ApprovalRules
from .digests import approval_digest, canonical_json, inputs_digest
from .identities import acting_as, current_actor, normal_id, stored_id, user_id

__all__ = [
    "ApprovalRules",
    "acting_as",
    "approval_digest",
    "canonical_json",
    "current_actor",
    "inputs_digest",
    "normal_id",
    "stored_id",
    "user_id",
]
