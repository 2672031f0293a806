"""The ``rules`` plugin: what the policy's YAML rules contribute at every decision point.

It asks the core for the policy's verdict on the facts (:meth:`DecisionContext.verdict`) and
contributes it as it is: the outcome, approvals, reasons, notifications, the trace and the
payload (priced lines, refund). It holds nothing of its own, so disabling it and registering a
company plugin that decides (``Gate(..., disable_plugins=["rules"], plugins=[...])``) replaces
the policy's rules entirely.
"""

from __future__ import annotations

from pydantic import BaseModel

from salesgate.context import DecisionContext, PolicyVerdict
from salesgate.decisions import Contribution
from salesgate.hookspecs import hookimpl
from salesgate.models import OrderFacts, ReturnFacts


def contribution(verdict: PolicyVerdict) -> Contribution:
    """A verdict as a Contribution, without validating again what the core built (the fields set
    are those a ``Contribution(...)`` with the same arguments has)."""
    return verdict.contribution()


class RulesPlugin:
    """Contributes the compiled policy's verdict; keeps no state of its own."""

    @hookimpl
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Contribution:
        return contribution(context.verdict("order_approval", facts))

    @hookimpl
    def salesgate_credit_check(self, facts: OrderFacts, context: DecisionContext) -> Contribution:
        return contribution(context.verdict("credit_check", facts))

    @hookimpl
    def salesgate_pricing(self, facts: OrderFacts, context: DecisionContext) -> Contribution:
        return contribution(context.verdict("pricing", facts))

    @hookimpl
    def salesgate_return_handling(self, facts: ReturnFacts, context: DecisionContext) -> Contribution:
        return contribution(context.verdict("return_handling", facts))

    @hookimpl
    def salesgate_decide(self, point: str, facts: BaseModel, context: DecisionContext) -> Contribution:
        """Every declared decision point: the policy's rules there (none is an ``allow``)."""
        return contribution(context.verdict(point, facts))
