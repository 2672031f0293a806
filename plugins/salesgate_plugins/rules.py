"""The ``rules`` plugin: decisions from the policy's YAML rules."""

from __future__ import annotations

from salesgate.decisions import Decision
from salesgate.evaluation import DecisionContext, decide_order, decide_pricing, decide_return
from salesgate.hookspecs import hookimpl
from salesgate.models import OrderFacts, ReturnFacts


class RulesPlugin:
    """Applies the compiled policy the gate holds; keeps no state of its own."""

    @hookimpl
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Decision:
        return decide_order("order_approval", facts, context)

    @hookimpl
    def salesgate_credit_check(self, facts: OrderFacts, context: DecisionContext) -> Decision:
        return decide_order("credit_check", facts, context)

    @hookimpl
    def salesgate_pricing(self, facts: OrderFacts, context: DecisionContext) -> Decision:
        return decide_pricing(facts, context)

    @hookimpl
    def salesgate_return_handling(self, facts: ReturnFacts, context: DecisionContext) -> Decision:
        return decide_return(facts, context)
