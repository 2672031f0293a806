"""The ``credit`` plugin: the exposure figures a credit decision shows (信用占用)."""

from __future__ import annotations

from salesgate.decisions import Decision
from salesgate.evaluation import DecisionContext, credit_result, empty_decision
from salesgate.hookspecs import hookimpl
from salesgate.models import OrderFacts


class CreditExposurePlugin:
    """Adds exposure = open receivables + open orders + reserved credit + this order, the limit and what is left.

    It decides nothing itself (outcome ``allow``); the policy's credit rules decide. Kept apart
    from the rules so a company can replace how exposure is computed without touching rules.
    """

    @hookimpl
    def salesgate_credit_check(self, facts: OrderFacts, context: DecisionContext) -> Decision:
        return empty_decision("credit_check", facts.order.id, context, credit=credit_result(facts))
