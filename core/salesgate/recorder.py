"""The plugin a Gate registers when it has a store: every decision goes to the decision log.

In core because it needs nothing but the :class:`~salesgate.ports.DecisionLog` port: a store written
outside salesgate (another database, a service) gets its decisions logged without importing
``salesgate_adapters``. :mod:`salesgate.defaults` names it (``DEFAULT_STORE_RECORDER``).
"""

from __future__ import annotations

from pydantic import BaseModel

from .decisions import Decision
from .hookspecs import hookimpl
from .ports import DecisionLog


class StoreRecorder:
    """Appends every decision (fallback decisions included) to the store's decision log: any store, SQL,
    memory or your own.

    The gate logs each decision in the store itself before returning it (a failure there is answered
    by the failure mode) and skips this recorder; it logs the fallback decisions through it.
    """

    def __init__(self, store: DecisionLog) -> None:
        self.store = store

    @hookimpl
    def salesgate_record_decision(self, decision: Decision, facts: BaseModel | None) -> None:
        self.store.record(decision, facts)
