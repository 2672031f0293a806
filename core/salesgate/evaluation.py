"""Turn the matches of a backend into a Decision: reasons, approvals, prices, refunds, trace.

What a fired rule does is data in the compiled policy, applied here, the same way whichever
backend matched. This module is what the built-in ``rules`` plugin calls, and what bulk tools
call directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .decisions import (
    CreditResult,
    Decision,
    Notification,
    Outcome,
    PolicyRef,
    PriceAdjustment,
    PricedLine,
    PricingResult,
    Reason,
    ReturnResult,
    TraceEntry,
    sort_approvals,
)
from .engine.base import Backend, Match
from .engine.python import Getter, compile_expr, explain
from .facts import FactSet, FactValues, order_factset, return_factset, with_policy_prices
from .hooknames import Hook
from .models import OrderFacts, ReturnFacts
from .money import ONE, ZERO, round_money
from .policy.compiler import CompiledRule, Policy
from .policy.ir import Expr


@dataclass(frozen=True)
class DecisionContext:
    """What a decision hook gets besides the facts: the policy in force and how to match it."""

    policy: Policy
    backend: Backend
    explain: bool = False

    @property
    def policy_ref(self) -> PolicyRef:
        return self.policy.ref


def _values(rule: CompiledRule, values: FactValues) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lines = values.get("order.lines")
    for path in rule.reads:
        if path == "order.lines":
            continue
        if path in values:
            out[path] = values[path]
        elif lines is not None and path.startswith("line."):
            out[path] = [line.get(path) for line in lines]
    return out


class _Collector:
    """Accumulates what fired rules ask for."""

    def __init__(self) -> None:
        self.reasons: list[Reason] = []
        self.approvals: dict[str, list[str]] = {}
        self.notifications: list[Notification] = []
        self.trace: list[TraceEntry] = []
        self.outcome = Outcome.allow

    def fire(self, rule: CompiledRule, line_no: int | None) -> None:
        action = rule.action
        if action.outcome.rank > self.outcome.rank:
            self.outcome = action.outcome
        if action.outcome is not Outcome.allow or not (action.changes_price or action.refund is not None
                                                        or action.notify):
            self.reasons.append(Reason.assemble(
                {"rule": rule.id, "outcome": action.outcome, "message": action.message,
                 "translations": dict(action.translations), "line_no": line_no, "plugin": "rules"},
                {"rule", "outcome", "message", "translations", "line_no"},  # as Reason(...) without plugin
            ))
        for role in action.approvals:
            self.approvals.setdefault(role, []).append(rule.id)
        for role in action.notify:
            self.notifications.append(Notification.trusted(role=role, rule=rule.id, message=action.message))

    def record(self, rule: CompiledRule, fired: bool, values: FactValues, line_no: int | None,
               explain_on: bool, item: FactValues | None = None) -> None:
        self.trace.append(TraceEntry.assemble({
            "rule": rule.id, "ruleset": rule.ruleset, "file": rule.file, "line": rule.line, "fired": fired,
            "line_no": line_no, "values": _values(rule, item if item is not None else values),
            "explanation": explain(rule.cond, item if item is not None else values) if explain_on else None,
        }))


def _run_stage(rules: Sequence[CompiledRule], matches: frozenset[Match], facts: FactSet,
               collector: _Collector, explain_on: bool) -> list[tuple[CompiledRule, int | None]]:
    """Record every rule of a stage in the trace; return the fired (rule, item index) pairs in order."""
    fired: list[tuple[CompiledRule, int | None]] = []
    for rule in rules:
        if rule.scope == "line":
            hits = [i for i in range(len(facts.items)) if (rule.id, i) in matches]
            for i in hits:
                collector.record(rule, True, facts.root, facts.item_keys[i], explain_on, facts.items[i])
                fired.append((rule, i))
            if not hits:
                collector.record(rule, False, facts.root, None, explain_on and not facts.items, None)
                if explain_on and facts.items:
                    entry = collector.trace[-1]
                    text = "; ".join(f"line {facts.item_keys[i]}: {explain(rule.cond, item)}"
                                     for i, item in enumerate(facts.items))
                    collector.trace[-1] = entry.model_copy(update={"explanation": text})
        else:
            hit = (rule.id, None) in matches
            collector.record(rule, hit, facts.root, None, explain_on)
            if hit:
                fired.append((rule, None))
    return fired


def _stage_rules(policy: Policy, stage: str) -> tuple[CompiledRule, ...]:
    return policy.rules_by_stage.get(stage, ())


@lru_cache(maxsize=512)
def _formula(expr: Expr) -> Getter:
    """A pricing formula (set_price, floor) compiled once, not once per line and decision."""
    return compile_expr(expr)


_PAYLOADS = frozenset({"pricing", "credit", "returns"})


def _decision(hook: Hook, subject: str, ctx: DecisionContext, c: _Collector, **payload: Any) -> Decision:
    if not payload.keys() <= _PAYLOADS:
        raise TypeError(f"unknown decision payload {sorted(payload.keys() - _PAYLOADS)}")
    return Decision.assemble(
        {"hook": hook, "subject": subject, "outcome": c.outcome,
         "approvals": sort_approvals(c.approvals, ctx.policy.roles), "notifications": c.notifications,
         "reasons": c.reasons, "policy": ctx.policy.ref, "backend": ctx.backend.name, "trace": c.trace,
         "pricing": payload.get("pricing"), "credit": payload.get("credit"), "returns": payload.get("returns"),
         "failure": None},
        # As Decision(...) with these arguments: the payload given, failure left at its default.
        {"hook", "subject", "outcome", "approvals", "notifications", "reasons", "policy", "backend", "trace",
         *payload},
    )


def decide_order(hook: Hook, facts: OrderFacts, ctx: DecisionContext, factset: FactSet | None = None) -> Decision:
    """Decide ``order_approval`` or ``credit_check`` (or ``pricing``) for one order."""
    if hook == "pricing":
        return decide_pricing(facts, ctx, factset)
    factset = factset or order_factset(facts, paths=ctx.policy.fact_reads.get(hook, frozenset()))
    collector = _Collector()
    rules = _stage_rules(ctx.policy, hook)
    if rules:
        matches = ctx.backend.match(hook, factset)
        for rule, index in _run_stage(rules, matches, factset, collector, ctx.explain):
            collector.fire(rule, factset.item_keys[index] if index is not None else None)
    return _decision(hook, facts.order.id, ctx, collector)


def credit_result(facts: OrderFacts) -> CreditResult:
    """Exposure including this order, against the customer's limit."""
    exposure = facts.exposure.total + facts.order.total
    limit = facts.customer.credit_limit
    return CreditResult.trusted(exposure=exposure, limit=limit, available=limit - exposure,
                                overdue_amount=facts.exposure.overdue_amount,
                                max_overdue_days=facts.exposure.max_overdue_days)


def decide_pricing(facts: OrderFacts, ctx: DecisionContext, factset: FactSet | None = None) -> Decision:
    """Price every line (adjust stage), then check requested prices against them (check stage)."""
    factset = factset or order_factset(facts, paths=ctx.policy.fact_reads.get("pricing", frozenset()))
    collector = _Collector()
    adjust_rules = _stage_rules(ctx.policy, "pricing.adjust")
    matches = ctx.backend.match("pricing.adjust", factset) if adjust_rules else frozenset()
    fired = _run_stage(adjust_rules, matches, factset, collector, ctx.explain)
    for rule, index in fired:
        collector.fire(rule, factset.item_keys[index] if index is not None else None)
    products = {p.sku: p for p in facts.products}
    priced: list[PricedLine] = []
    policy_prices: dict[int, Decimal] = {}
    for index, line in enumerate(facts.order.lines):
        product = products.get(line.sku)
        base = product.list_price if product else line.unit_price
        item = factset.items[index]
        adjustments: list[PriceAdjustment] = []
        floors: list[tuple[CompiledRule, Decimal]] = []
        price = base
        for rule, hit in fired:
            if hit is not None and hit != index:
                continue
            action = rule.action
            if action.floor is not None:
                value = _formula(action.floor)(item, None)
                if value is not None:
                    floors.append((rule, value))
            kinds: list[tuple[str, Decimal | None]] = [
                ("set", _formula(action.set_price)(item, None) if action.set_price else None),
                ("markup", action.markup), ("discount", action.discount), ("add", action.add),
            ]
            for kind, value in kinds:
                if value is None:
                    continue
                before = price
                if kind == "set":
                    price = value
                elif kind == "markup":
                    price = price * (ONE + value)
                elif kind == "discount":
                    price = price * (ONE - value)
                else:
                    price = price + value
                adjustments.append(PriceAdjustment.trusted(rule=rule.id, kind=kind, value=value,
                                                           priority=rule.priority, price_before=before,
                                                           price_after=price))
            if action.stop:
                break
        for rule, value in floors:
            before = price
            price = max(price, value)
            adjustments.append(PriceAdjustment.trusted(rule=rule.id, kind="floor", value=value,
                                                       priority=rule.priority, price_before=before,
                                                       price_after=price))
        policy_price = round_money(max(price, ZERO))
        policy_prices[line.line_no] = policy_price
        priced.append(PricedLine.trusted(
            line_no=line.line_no, sku=line.sku, qty=line.qty,
            list_price=product.list_price if product else None,
            requested_unit_price=round_money(line.unit_price * (ONE - line.discount)),
            policy_price=policy_price, adjustments=adjustments,
        ))
    check_rules = _stage_rules(ctx.policy, "pricing.check")
    if check_rules:
        checked = with_policy_prices(factset, policy_prices)
        matches = ctx.backend.match("pricing.check", checked)
        for rule, index in _run_stage(check_rules, matches, checked, collector, ctx.explain):
            collector.fire(rule, checked.item_keys[index] if index is not None else None)
    pricing = PricingResult.trusted(
        lines=priced,
        policy_total=sum((round_money(p.policy_price * p.qty) for p in priced), ZERO),
        requested_total=sum((round_money(p.requested_unit_price * p.qty) for p in priced), ZERO),
    )
    return _decision("pricing", facts.order.id, ctx, collector, pricing=pricing)


def decide_return(facts: ReturnFacts, ctx: DecisionContext) -> Decision:
    """Decide a return: outcome, approvals, and the refund after fees."""
    factset = return_factset(facts, paths=ctx.policy.fact_reads.get("return_handling", frozenset()))
    collector = _Collector()
    rules = _stage_rules(ctx.policy, "return_handling")
    fired: list[tuple[CompiledRule, int | None]] = []
    if rules:
        matches = ctx.backend.match("return_handling", factset)
        fired = _run_stage(rules, matches, factset, collector, ctx.explain)
        for rule, _ in fired:
            collector.fire(rule, None)
    amount = facts.return_request.amount
    rates = [r.action.refund for r, _ in fired if r.action.refund is not None]
    fees = [r.action.restocking_fee for r, _ in fired if r.action.restocking_fee is not None]
    refund_rate = ZERO if collector.outcome is Outcome.block else (min(rates) if rates else ONE)
    fee = ZERO if collector.outcome is Outcome.block else round_money(amount * max(fees, default=ZERO))
    refund = max(round_money(amount * refund_rate) - fee, ZERO)
    returns = ReturnResult.trusted(amount=amount, refund_rate=refund_rate, restocking_fee=fee, refund_amount=refund)
    return _decision("return_handling", facts.return_request.id, ctx, collector, returns=returns)


def empty_decision(hook: Hook, subject: str, ctx: DecisionContext, **payload: Any) -> Decision:
    """An ``allow`` with no reasons: what a plugin contributes when it only adds a payload."""
    return _decision(hook, subject, ctx, _Collector(), **payload)


DECIDERS: Mapping[Hook, str] = {
    "order_approval": "salesgate_order_approval",
    "credit_check": "salesgate_credit_check",
    "pricing": "salesgate_pricing",
    "return_handling": "salesgate_return_handling",
}
