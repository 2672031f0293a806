"""A company plugin: contracts of 500,000 or more are reviewed by legal and finance before signing.

Handbook rule (销售部工作流程): "large contracts are reviewed by legal (法务) and finance (财务)
before signing". It could be a YAML rule; it is a plugin here to show the shape of one, and
because companies often compute "contract value" from systems salesgate does not see.
"""

from __future__ import annotations

from decimal import Decimal

from salesgate import Approval, Contribution, DecisionContext, OrderFacts, Outcome, Reason, hookimpl

THRESHOLD = Decimal("500000")


class LegalReview:
    """Adds legal and finance approvals to large orders; abstains (returns None) otherwise."""

    @hookimpl
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Contribution | None:
        """Only what this plugin adds: salesgate stamps the decision point, the order, the policy
        and the backend, and puts this plugin's name (``legal_review``) on its reason."""
        if facts.order.total < THRESHOLD:
            return None
        rule = "legal-review-large-contract"
        return Contribution(
            outcome=Outcome.require_approval,
            approvals=[Approval(role="legal", rules=[rule]), Approval(role="finance", rules=[rule])],
            reasons=[Reason(rule=rule, outcome=Outcome.require_approval,
                            message="合同金额 50 万元以上需法务和财务审核",
                            translations={"en": "Contracts of 500,000 or more are reviewed by legal and finance"})],
        )
