"""Bulk replays: many orders and returns through one policy, without building Decisions.

``salesgate simulate`` replays a year of orders through two policies; a Decision with its
trace, reasons and priced lines is far more than it needs. A :class:`Replayer` gives the figures
a comparison needs (outcome, approval roles, fired rules, policy prices, revenue, margin, refund)
from the same parts the ``rules`` plugin uses: the pure-Python backend's compiled conditions,
:func:`~salesgate.evaluation.fired_in_order`, :func:`~salesgate.evaluation.price_line` and
:func:`~salesgate.evaluation.refund_terms`. ``tests/test_simulate.py`` holds every figure to the
Gate's own decisions on generated orders.

Only the policy's rules are replayed: company plugins that decide are not part of a replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .decisions import Outcome
from .engine.python import PythonBackend
from .evaluation import fired_in_order, price_line, price_steps, refund_terms
from .facts import FactSet, order_factset, return_factset, with_policy_prices
from .hooknames import Hook
from .models import OrderFacts, ReturnFacts
from .money import ONE, ZERO, round_money
from .policy.compiler import CompiledRule, Policy

ORDER_HOOKS: tuple[Hook, ...] = ("order_approval", "credit_check", "pricing")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one hook decided on one order or return, as a replay compares it."""

    outcome: Outcome
    roles: tuple[str, ...]
    """Approval roles, in the policy's ladder order (as ``Decision.required_roles``)."""
    rules: tuple[str, ...]
    """Ids of the rules that fired, in stage order, each once."""
    prices: tuple[Decimal, ...] = ()
    """Pricing: the policy price of each line (as ``PricedLine.policy_price``)."""
    revenue: Decimal | None = None
    """Pricing: Σ policy price × qty, each line rounded to the cent (``PricingResult.policy_total``)."""
    cost: Decimal | None = None
    """Pricing: Σ product cost × qty over the lines with product facts."""
    refund: Decimal | None = None
    """Returns: the refund after fees (``ReturnResult.refund_amount``)."""


class Replayer:
    """One policy, compiled once for replays. Stateless after construction: share it freely."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._backend = PythonBackend(policy.stages())
        self._ladder = {role: i for i, role in enumerate(policy.roles)}

    def order_paths(self, hooks: Iterable[Hook] = ORDER_HOOKS) -> frozenset[str]:
        """Every fact the policy's order hooks read: what :meth:`order` needs flattened."""
        reads = self.policy.fact_reads
        return frozenset().union(*(reads.get(hook, frozenset()) for hook in hooks))

    def order_factset(self, facts: OrderFacts, paths: frozenset[str] | None = None) -> FactSet:
        return order_factset(facts, paths=self.order_paths() if paths is None else paths)

    def order(self, hook: Hook, facts: OrderFacts, factset: FactSet) -> Verdict:
        """``order_approval``, ``credit_check`` or ``pricing`` on one order, flattened once for all
        hooks (and policies) with at least :meth:`order_paths`."""
        if hook == "pricing":
            return self._pricing(facts, factset)
        return self._verdict(self._fired(hook, factset))

    def return_factset(self, facts: ReturnFacts, paths: frozenset[str] | None = None) -> FactSet:
        reads = self.policy.fact_reads.get("return_handling", frozenset())
        return return_factset(facts, paths=reads if paths is None else paths)

    def return_(self, facts: ReturnFacts, factset: FactSet) -> Verdict:
        fired = self._fired("return_handling", factset)
        verdict = self._verdict(fired)
        _, _, refund = refund_terms(facts.return_request.amount, fired, verdict.outcome)
        return Verdict(verdict.outcome, verdict.roles, verdict.rules, refund=refund)

    def _fired(self, stage: str, factset: FactSet) -> list[CompiledRule]:
        if stage not in self.policy.rules_by_stage:
            return []
        return [rule for rule, _ in fired_in_order(self.policy, stage, self._backend.match(stage, factset))]

    def _pricing(self, facts: OrderFacts, factset: FactSet) -> Verdict:
        policy = self.policy
        adjust: list[tuple[CompiledRule, int | None]] = []
        if "pricing.adjust" in policy.rules_by_stage:
            adjust = fired_in_order(policy, "pricing.adjust", self._backend.match("pricing.adjust", factset))
        steps = price_steps(adjust)
        products = {p.sku: p for p in facts.products}
        prices: list[Decimal] = []
        by_line: dict[int, Decimal] = {}
        revenue = cost = ZERO
        for index, line in enumerate(facts.order.lines):
            product = products.get(line.sku)
            base = product.list_price if product is not None else line.unit_price
            price = round_money(max(price_line(base, index, factset.items[index], steps, None), ZERO))
            prices.append(price)
            by_line[line.line_no] = price
            revenue += round_money(price * line.qty)
            if product is not None:
                cost += round_money(product.cost * line.qty)
        fired = [rule for rule, _ in adjust]
        if "pricing.check" in policy.rules_by_stage:
            fired += self._fired("pricing.check", with_policy_prices(factset, by_line))
        verdict = self._verdict(fired)
        return Verdict(verdict.outcome, verdict.roles, verdict.rules, tuple(prices), revenue, cost)

    def _verdict(self, fired: Sequence[CompiledRule]) -> Verdict:
        if not fired:
            return _ALLOW
        outcome = Outcome.allow
        roles: set[str] = set()
        ids: dict[str, None] = {}
        for rule in fired:
            action = rule.action
            if action.outcome.rank > outcome.rank:
                outcome = action.outcome
            if action.approvals:
                roles.update(action.approvals)
            ids[rule.id] = None
        if len(roles) > 1:
            ladder = self._ladder
            ordered = tuple(sorted(roles, key=lambda r: (ladder.get(r, len(ladder)), r)))
        else:
            ordered = tuple(roles)
        return Verdict(outcome, ordered, tuple(ids))


_ALLOW = Verdict(Outcome.allow, (), ())


def requested_total(facts: OrderFacts) -> Decimal:
    """What the customer was asked to pay: Σ unit price × (1 − discount) × qty, rounded per line."""
    return sum((round_money(round_money(line.unit_price * (ONE - line.discount)) * line.qty)
                for line in facts.order.lines), ZERO)
