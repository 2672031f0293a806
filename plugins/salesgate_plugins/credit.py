"""The ``credit`` plugin: the exposure figures a credit decision shows (信用占用)."""

from __future__ import annotations

from salesgate.decisions import CreditResult
from salesgate.evaluation import DecisionContext, credit_result
from salesgate.hookspecs import hookimpl
from salesgate.models import OrderFacts


class CreditExposurePlugin:
    """Exposure = open receivables + open orders + reserved credit + this order, the limit and what is left.

    It decides nothing itself; the policy's credit rules decide. Kept apart from the rules so a
    company can replace how exposure is computed (implement ``salesgate_credit_figures`` in a
    plugin of its own) without touching rules.
    """

    @hookimpl
    def salesgate_credit_figures(self, facts: OrderFacts, context: DecisionContext) -> CreditResult:
        return credit_result(facts)
