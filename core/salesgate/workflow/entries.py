"""What a store writes of a decision before it writes anything: the decision keyed as every store keys
its subject, the ids checked against what a store keeps, and the two digests.

Both stores (SQL and in memory) log through :func:`log_entry`, so an id one of them refuses the other
refuses too, with the same message, and a fallback binds no approval in either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..decisions import Decision
from .digests import approval_digest, inputs_digest
from .identities import key, storable


@dataclass(frozen=True)
class LogEntry:
    """A decision as a store logs it: ``decision`` (its subject keyed), the ``inputs_digest`` of the facts
    it was decided on, and the ``approval_digest`` its requests are bound to (``None`` for a fallback)."""

    decision: Decision
    inputs_digest: str | None
    approval_digest: str | None


def log_entry(decision: Decision, facts: Any, actor: str | None) -> LogEntry:
    """The entry for ``decision`` made on ``facts`` at ``actor``'s request; :class:`~salesgate.errors.StoreError`
    for a subject or actor no store keeps, :class:`~salesgate.errors.FactsError` for facts with no digest.

    A fallback (salesgate could not decide) is no answer of the policy's about the order: it binds no
    approval, whatever facts were loaded before the failure (docs/approvals.md)."""
    if decision.subject != key(decision.subject):
        decision = decision.model_copy(update={"subject": key(decision.subject)})
    storable(decision.subject, "subject")
    if actor is not None:
        storable(actor, "actor")
    digest = approval_digest(facts) if decision.failure is None else None
    return LogEntry(decision=decision, inputs_digest=inputs_digest(facts), approval_digest=digest)
