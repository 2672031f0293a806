"""The plugin a Gate registers when it has a store: every decision goes to the decision log."""

from __future__ import annotations

from salesgate.decisions import Decision
from salesgate.hookspecs import hookimpl
from salesgate.models import OrderFacts, ReturnFacts

from .store import Store


class StoreRecorder:
    """Appends every decision (fallback decisions included) to the store's decision log.

    A failure to write is the gate's business: it logs it and the decision stands.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    @hookimpl
    def salesgate_record_decision(self, decision: Decision, facts: OrderFacts | ReturnFacts | None) -> None:
        self.store.record(decision, facts)
