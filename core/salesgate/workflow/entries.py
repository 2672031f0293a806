"""What a store writes of a decision before it writes anything: the decision keyed as every store keys
its subject, the ids checked against what a store keeps, and the two digests.

Both stores (SQL and in memory) log through :func:`log_entry`, so an id one of them refuses the other
refuses too, with the same message, and a fallback binds no approval in either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
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


OUTPUT_TYPES = "output_types"
"""The key beside a logged decision's fields that says which of its ``outputs`` are amounts or dates: JSON
writes both as text, and a deposit of 30 % must come back as ``Decimal("0.3")``, not ``"0.3"``."""

_DECODERS: dict[str, Callable[[str], Any]] = {"decimal": Decimal, "date": date.fromisoformat}


def decision_json(decision: Decision) -> dict[str, Any]:
    """``decision`` as a store logs it: its JSON, and (when it has amount or date outputs) their types under
    :data:`OUTPUT_TYPES`. A decision without such outputs is logged exactly as its JSON."""
    data = decision.model_dump(mode="json")
    types = {name: kind for name, value in decision.outputs.items() if (kind := _output_type(value)) is not None}
    if types:
        data[OUTPUT_TYPES] = types
    return data


def decision_from_json(data: Mapping[str, Any]) -> Decision:
    """A logged decision read back (:func:`decision_json`): its outputs of the types they were decided with."""
    fields = dict(data)
    types = fields.pop(OUTPUT_TYPES, None) or {}
    decision = Decision.model_validate(fields)
    if not types:
        return decision
    outputs = {name: _DECODERS[types[name]](value) if name in types and isinstance(value, str) else value
               for name, value in decision.outputs.items()}
    return decision.model_copy(update={"outputs": outputs})


def _output_type(value: Any) -> str | None:
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, date) and not isinstance(value, datetime):
        return "date"
    return None
