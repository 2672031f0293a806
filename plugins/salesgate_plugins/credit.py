"""The ``credit`` plugin: the default exposure figures a credit decision shows (信用占用)."""

from __future__ import annotations

from salesgate.context import DecisionContext
from salesgate.decisions import CreditResult
from salesgate.hookspecs import hookimpl
from salesgate.models import OrderFacts


def credit_result(facts: OrderFacts) -> CreditResult:
    """Exposure including this order, against the customer's limit."""
    exposure = facts.exposure.total + facts.order.total
    limit = facts.customer.credit_limit
    return CreditResult.assemble({"exposure_after_order": exposure, "limit": limit, "available": limit - exposure,
                                  "overdue_amount": facts.exposure.overdue_amount,
                                  "max_overdue_days": facts.exposure.max_overdue_days})


class CreditExposurePlugin:
    """Exposure = open receivables + open orders + reserved credit + this order, the limit and what is left.

    It decides nothing itself; the policy's credit rules decide. Kept apart from the rules so a
    company can replace how exposure is computed (implement ``salesgate_credit_figures`` in a
    plugin of its own) without touching rules: its implementation is ``trylast``, which marks
    the default that any other plugin's figures replace.
    """

    @hookimpl(trylast=True)
    def salesgate_credit_figures(self, facts: OrderFacts, context: DecisionContext) -> CreditResult:
        return credit_result(facts)
