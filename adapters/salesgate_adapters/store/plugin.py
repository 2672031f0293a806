"""The plugin a Gate registers when it has a store: every decision goes to the decision log."""

from __future__ import annotations

from salesgate.decisions import Decision
from salesgate.hookspecs import hookimpl
from salesgate.models import OrderFacts, ReturnFacts
from salesgate.ports import DecisionLog


class StoreRecorder:
    """Appends every decision (fallback decisions included) to the store's decision log (any store: SQL or memory).

    The gate logs each decision in the store itself before returning it (a failure there is answered
    by the failure mode) and skips this recorder; it logs the fallback decisions through it.
    """

    def __init__(self, store: DecisionLog) -> None:
        self.store = store

    @hookimpl
    def salesgate_record_decision(self, decision: Decision, facts: OrderFacts | ReturnFacts | None) -> None:
        self.store.record(decision, facts)
