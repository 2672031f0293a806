"""Turn the matches of a backend into a Decision: reasons, approvals, prices, refunds, trace.

What a fired rule does is data in the compiled policy, applied here, the same way whichever
backend matched. This module is what the built-in ``rules`` plugin calls, and what bulk tools
call directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .decisions import (
    Approval,
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
    Trace,
    TraceEntry,
    ladder_order,
    sort_approvals,
)
from .engine.base import Backend, Match
from .engine.python import Getter, compile_expr, explain
from .errors import PolicyError, PolicyProblem
from .facts import FactSet, FactValues, order_factset, return_factset, with_policy_prices
from .hooknames import Hook
from .models import OrderFacts, ReturnFacts
from .money import ONE, ZERO, round_money
from .policy.compiler import CompiledRule, Policy
from .policy.limits import PRICE_CEILING


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


_REASON_GIVEN = frozenset({"rule", "outcome", "message", "translations", "line_no"})
"""The fields a rule's Reason is made with (as ``Reason(...)`` without ``plugin``)."""


@dataclass(frozen=True)
class RuleEffect:
    """What a fired rule adds to a decision (see :func:`rule_effect`)."""

    rule: str
    outcome: Outcome
    rank: int
    reason: bool  # whether firing gives a Reason
    translations: Mapping[str, str]
    message: str
    approvals: tuple[str, ...]
    notify: tuple[str, ...]


def rule_effect(rule: CompiledRule) -> RuleEffect:
    """What firing ``rule`` adds to a decision; kept on the rule (``CompiledRule.effect``), so it is
    worked out once per rule, not once per decision."""
    action = rule.action
    # A price, refund or notify-only rule that does not change the outcome gives no reason.
    gives_reason = action.outcome is not Outcome.allow or not (action.changes_price or action.refund is not None
                                                                 or action.notify)
    return RuleEffect(
        rule=rule.id, outcome=action.outcome, rank=action.outcome.rank, reason=gives_reason,
        translations=action.translations, message=action.message, approvals=action.approvals, notify=action.notify,
    )


@dataclass(frozen=True, slots=True)
class StageVerdict:
    """What one stage's match set adds to a decision, worked out once per distinct match set.

    Everything here follows from which rules matched which lines, never from the fact values, so
    the same few match sets that come back decision after decision are put in order and summed up
    once per policy (see :func:`stage_verdict`); a decision only turns them into its own objects.
    """

    fired: tuple[tuple[CompiledRule, int | None], ...]
    """(rule, item index) in stage order: the order actions apply in."""
    outcome: Outcome
    reasons: tuple[tuple[RuleEffect, int | None], ...]
    """The fired rules that give a reason, with the item index they fired on."""
    notifications: tuple[tuple[str, str, str], ...]
    """(role, rule id, message) for every notify."""
    approvals: tuple[tuple[str, tuple[str, ...]], ...]
    """(role, rule ids in firing order) for every role asked for."""
    ladder: tuple[tuple[str, tuple[str, ...]], ...]
    """The approvals as a decision lists them: roles in ladder order, each with its rules sorted."""
    refund_rate: Decimal
    """Returns: the lowest refund rate of the fired rules (1 when none sets one)."""
    fee_rate: Decimal
    """Returns: the highest restocking fee rate of the fired rules (0 when none sets one)."""


def _summed_up(policy: Policy, fired: tuple[tuple[CompiledRule, int | None], ...]) -> StageVerdict:
    outcome = Outcome.allow
    reasons: list[tuple[RuleEffect, int | None]] = []
    notifications: list[tuple[str, str, str]] = []
    approvals: dict[str, list[str]] = {}
    for rule, index in fired:
        effect: RuleEffect = rule.effect
        if effect.rank > outcome.rank:
            outcome = effect.outcome
        if effect.reason:
            reasons.append((effect, index))
        for role in effect.approvals:
            approvals.setdefault(role, []).append(rule.id)
        notifications.extend((role, rule.id, effect.message) for role in effect.notify)
    rules = [rule for rule, _ in fired]
    rate, fee_rate = refund_rates(rules)
    return StageVerdict(
        fired=fired, outcome=outcome, reasons=tuple(reasons), notifications=tuple(notifications),
        approvals=tuple((role, tuple(ids)) for role, ids in approvals.items()),
        ladder=ladder_order(approvals, policy.roles), refund_rate=rate, fee_rate=fee_rate,
    )


_NO_MATCHES = StageVerdict(fired=(), outcome=Outcome.allow, reasons=(), notifications=(), approvals=(), ladder=(),
                           refund_rate=ONE, fee_rate=ZERO)
"""The verdict of a stage with no rules."""


def stage_verdict(policy: Policy, stage: str, matches: frozenset[Match]) -> StageVerdict:
    """The :class:`StageVerdict` of a backend's matches for ``stage``, from the policy's bounded cache."""
    cache = policy.verdict_cache
    key = (stage, matches)
    found: StageVerdict | None = cache.get(key)
    if found is None:
        if matches:
            rules = policy.rules_by_stage[stage]
            position = policy.stage_positions[stage]
            ordered = sorted(matches, key=lambda m: (position[m[0]], -1 if m[1] is None else m[1]))
            fired = tuple((rules[position[rule_id]], index) for rule_id, index in ordered)
        else:
            fired = ()
        found = _summed_up(policy, fired)
        if len(cache) >= 8192:
            cache.clear()
        cache[key] = found
    return found


def fired_in_order(policy: Policy, stage: str,
                   matches: frozenset[Match]) -> tuple[tuple[CompiledRule, int | None], ...]:
    """A backend's matches as (rule, item index) pairs in stage order: the order actions apply in."""
    return stage_verdict(policy, stage, matches).fired


def refund_rates(fired: Sequence[CompiledRule]) -> tuple[Decimal, Decimal]:
    """(refund rate, restocking fee rate): the lowest rate and the highest fee of the fired rules."""
    rates = [r.action.refund for r in fired if r.action.refund is not None]
    fees = [r.action.restocking_fee for r in fired if r.action.restocking_fee is not None]
    return (min(rates) if rates else ONE), max(fees, default=ZERO)


class _Collector:
    """Accumulates what the stages' verdicts ask for, and what the trace will be built from."""

    __slots__ = ("explain", "notifications", "outcome", "reasons", "stages", "verdicts")

    def __init__(self, explain_on: bool = False) -> None:
        self.reasons: list[Reason] = []
        self.notifications: list[Notification] = []
        self.stages: list[tuple[tuple[CompiledRule, ...], frozenset[Match], FactSet]] = []
        self.verdicts: list[StageVerdict] = []  # those that ask for approvals
        self.explain = explain_on
        self.outcome = Outcome.allow

    def add(self, verdict: StageVerdict, item_keys: tuple[int, ...]) -> None:
        """Apply one stage's verdict; ``item_keys`` name the lines its line-scope rules fired on."""
        if verdict.outcome.rank > self.outcome.rank:
            self.outcome = verdict.outcome
        for effect, index in verdict.reasons:
            # Reason(rule=..., outcome=..., message=..., translations=..., line_no=...), built directly
            self.reasons.append(Reason.assemble(
                {"rule": effect.rule, "outcome": effect.outcome, "message": effect.message,
                 "translations": dict(effect.translations),  # each decision owns its dicts
                 "line_no": None if index is None else item_keys[index], "plugin": "rules"},
                set(_REASON_GIVEN)))
        for role, rule, message in verdict.notifications:
            self.notifications.append(Notification.assemble({"role": role, "rule": rule, "message": message}))
        if verdict.approvals:
            self.verdicts.append(verdict)

    def approval_list(self, ladder: Sequence[str]) -> list[Approval]:
        """The approvals asked for, in ladder order (see :func:`sort_approvals`)."""
        verdicts = self.verdicts
        if not verdicts:
            return []
        if len(verdicts) == 1:  # one stage asked: its list is already in ladder order
            return [Approval.assemble({"role": role, "rules": list(rules)}) for role, rules in verdicts[0].ladder]
        merged: dict[str, list[str]] = {}
        for verdict in verdicts:
            for role, rules in verdict.approvals:
                merged.setdefault(role, []).extend(rules)
        return sort_approvals(merged, ladder)

    def trace(self) -> Trace:
        """Every rule of every stage run, built when first read (see :class:`Trace`)."""
        stages, explain_on = tuple(s for s in self.stages if s[0]), self.explain
        if not stages:
            return Trace()
        return Trace(build=lambda: [entry for rules, matches, facts in stages
                                    for entry in _trace_entries(rules, matches, facts, explain_on)])


def _entry(rule: CompiledRule, fired: bool, values: FactValues, line_no: int | None,
           explanation: str | None) -> TraceEntry:
    return TraceEntry.assemble({
        "rule": rule.id, "ruleset": rule.ruleset, "file": rule.file, "line": rule.line, "fired": fired,
        "line_no": line_no, "values": _values(rule, values), "explanation": explanation,
    })


def _trace_entries(rules: Sequence[CompiledRule], matches: frozenset[Match], facts: FactSet,
                   explain_on: bool) -> list[TraceEntry]:
    """One entry per rule of a stage (per line it fired on, for line-scope rules), in stage order."""
    entries: list[TraceEntry] = []
    for rule in rules:
        if rule.scope == "line":
            hits = [i for i in range(len(facts.items)) if (rule.id, i) in matches]
            for i in hits:
                item = facts.items[i]
                entries.append(_entry(rule, True, item, facts.item_keys[i],
                                      explain(rule.cond, item, None, facts.item_keys) if explain_on else None))
            if not hits:
                text = None
                if explain_on:
                    text = ("; ".join(f"line {facts.item_keys[i]}: {explain(rule.cond, item, None, facts.item_keys)}"
                                      for i, item in enumerate(facts.items))
                            if facts.items else explain(rule.cond, facts.root, None, facts.item_keys))
                entries.append(_entry(rule, False, facts.root, None, text))
        else:
            hit = (rule.id, None) in matches
            entries.append(_entry(rule, hit, facts.root, None,
                                  explain(rule.cond, facts.root, None, facts.item_keys) if explain_on else None))
    return entries


def _run_stage(policy: Policy, stage: str, matches: frozenset[Match], facts: FactSet,
               collector: _Collector) -> StageVerdict:
    """Apply the stage's verdict to the collector; the stage is kept for the trace."""
    collector.stages.append((policy.rules_by_stage.get(stage, ()), matches, facts))
    verdict = stage_verdict(policy, stage, matches)
    collector.add(verdict, facts.item_keys)
    return verdict


def _stage_rules(policy: Policy, stage: str) -> tuple[CompiledRule, ...]:
    return policy.rules_by_stage.get(stage, ())


LineChanges = tuple[Getter | None, tuple[tuple[str, Decimal | None, Getter | None], ...], bool]
"""What a fired price rule does to a line: (floor formula, the changes in the order they apply as
(kind, constant, formula), stop)."""


def rule_line_changes(rule: CompiledRule) -> LineChanges:
    """:data:`LineChanges` of ``rule``; kept on the rule (``CompiledRule.line_changes``), so the
    formulas are compiled once per rule, not once per line and decision."""
    action = rule.action
    changes: list[tuple[str, Decimal | None, Getter | None]] = []
    if action.set_price is not None:
        changes.append(("set", None, _price_formula(compile_expr(action.set_price))))
    changes.extend((kind, value, None) for kind, value in
                   (("markup", action.markup), ("discount", action.discount), ("add", action.add))
                   if value is not None)
    return (_price_formula(compile_expr(action.floor)) if action.floor is not None else None, tuple(changes),
            action.stop)


def _price_formula(formula: Getter) -> Getter:
    """A price formula whose value is a Decimal: ``set_price: "2600"`` or ``line.qty * 2`` computes a
    whole number (int), and a price is rounded with Decimal methods."""
    def price(root: FactValues, item: FactValues | None) -> Decimal | None:
        value = formula(root, item)
        return None if value is None else Decimal(value)

    return price


def _out_of_range(rule: CompiledRule, kind: str, price: Decimal, line_no: int | None) -> PolicyError:
    """A price no figure of a decision can hold: said with the rule that made it, never a crash."""
    where = f" of line {line_no}" if line_no is not None else ""
    return PolicyError(PolicyProblem(
        f"{kind} made the price{where} {price:.6E}, beyond what a price may be (below 9 × 10^14, "
        "what both backends compare exactly): the rule cannot price this order", rule.file, rule.line, rule.id, "then"))


_PAYLOADS = frozenset({"pricing", "credit", "returns"})


_GIVEN = frozenset({"hook", "subject", "outcome", "approvals", "notifications", "reasons", "policy", "backend",
                    "trace"})
_GIVEN_WITH = {name: _GIVEN | {name} for name in _PAYLOADS}


def _decision(hook: Hook, subject: str, ctx: DecisionContext, c: _Collector, **payload: Any) -> Decision:
    if len(payload) > 1 or not payload.keys() <= _PAYLOADS:
        raise TypeError(f"one decision payload of {sorted(_PAYLOADS)}, got {sorted(payload)}")
    given = _GIVEN_WITH[next(iter(payload))] if payload else _GIVEN
    return Decision.assemble(
        {"hook": hook, "subject": subject, "outcome": c.outcome,
         "approvals": c.approval_list(ctx.policy.roles), "notifications": c.notifications,
         "reasons": c.reasons, "policy": ctx.policy.ref, "backend": ctx.backend.name, "trace": c.trace(),
         "pricing": payload.get("pricing"), "credit": payload.get("credit"), "returns": payload.get("returns"),
         "failure": None},
        set(given),  # as Decision(...) with these arguments: the payload given, failure left at its default
    )


def decide_order(hook: Hook, facts: OrderFacts, ctx: DecisionContext, factset: FactSet | None = None) -> Decision:
    """Decide ``order_approval`` or ``credit_check`` (or ``pricing``) for one order."""
    if hook == "pricing":
        return decide_pricing(facts, ctx, factset)
    factset = factset or order_factset(facts, paths=ctx.policy.fact_reads.get(hook, frozenset()))
    collector = _Collector(ctx.explain)
    if _stage_rules(ctx.policy, hook):
        _run_stage(ctx.policy, hook, ctx.backend.match(hook, factset), factset, collector)
    return _decision(hook, facts.order.id, ctx, collector)


def credit_result(facts: OrderFacts) -> CreditResult:
    """Exposure including this order, against the customer's limit."""
    exposure = facts.exposure.total + facts.order.total
    limit = facts.customer.credit_limit
    return CreditResult.assemble({"exposure_after_order": exposure, "limit": limit, "available": limit - exposure,
                                  "overdue_amount": facts.exposure.overdue_amount,
                                  "max_overdue_days": facts.exposure.max_overdue_days})


PriceSteps = list[tuple[CompiledRule, int | None, LineChanges]]


def price_steps(fired: Sequence[tuple[CompiledRule, int | None]]) -> PriceSteps:
    """The fired rules of a pricing adjust stage, with what each does to a price."""
    return [(rule, hit, rule.line_changes) for rule, hit in fired]


def price_steps_by_line(fired: Sequence[tuple[CompiledRule, int | None]], lines: int) -> list[PriceSteps]:
    """:func:`price_steps` for each line: the order-scope rules and the line's own hits, in stage
    order. Each line walking every rule's hit on every line was quadratic: a 10,000-line order on
    which two line rules fired everywhere took 3.5 s to price."""
    steps = price_steps(fired)
    if all(hit is None for _, hit, _ in steps):
        return [steps] * lines
    by_line: list[PriceSteps] = [[] for _ in range(lines)]
    for step in steps:
        hit = step[1]
        if hit is None:
            for own in by_line:
                own.append(step)
        elif 0 <= hit < lines:
            by_line[hit].append(step)
    return by_line


def price_line(base: Decimal, index: int, item: FactValues, steps: PriceSteps,
               adjustments: list[PriceAdjustment] | None, line_no: int | None = None) -> Decimal:
    """The policy price of line ``index`` (unrounded): the fired rules' changes in stage order,
    up to a ``stop``, then the floors. Each change is appended to ``adjustments`` unless None
    (bulk replays need the price only; it is the same computation either way).

    A price that leaves the range prices may have (``limits.MAX_PRICE``: fifty 100% markups, a
    formula multiplying large facts) raises a :class:`PolicyError` naming the rule, which the gate
    answers with its failure mode and that reason."""
    price = base
    floors: list[tuple[CompiledRule, Decimal]] = []
    for rule, hit, (floor, changes, stop) in steps:
        if hit is not None and hit != index:
            continue
        if floor is not None:
            value = floor(item, None)
            if value is not None:
                floors.append((rule, value))
        for kind, constant, formula in changes:
            value = formula(item, None) if formula is not None else constant
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
            if not -PRICE_CEILING < price < PRICE_CEILING:
                raise _out_of_range(rule, kind, price, line_no)
            if adjustments is not None:
                adjustments.append(PriceAdjustment.assemble({
                    "rule": rule.id, "kind": kind, "value": value, "priority": rule.priority,
                    "price_before": before, "price_after": price}))
        if stop:
            break
    for rule, value in floors:
        before = price
        price = max(price, value)
        if price >= PRICE_CEILING:
            raise _out_of_range(rule, "floor", price, line_no)
        if adjustments is not None:
            adjustments.append(PriceAdjustment.assemble({
                "rule": rule.id, "kind": "floor", "value": value, "priority": rule.priority,
                "price_before": before, "price_after": price}))
    return price


def decide_pricing(facts: OrderFacts, ctx: DecisionContext, factset: FactSet | None = None) -> Decision:
    """Price every line (adjust stage), then check requested prices against them (check stage)."""
    factset = factset or order_factset(facts, paths=ctx.policy.fact_reads.get("pricing", frozenset()))
    collector = _Collector(ctx.explain)
    adjust_rules = _stage_rules(ctx.policy, "pricing.adjust")
    matches = ctx.backend.match("pricing.adjust", factset) if adjust_rules else frozenset()
    fired = _run_stage(ctx.policy, "pricing.adjust", matches, factset, collector).fired
    products = {p.sku: p for p in facts.products}
    priced: list[PricedLine] = []
    policy_prices: dict[int, Decimal] = {}
    steps = price_steps_by_line(fired, len(facts.order.lines))
    for index, line in enumerate(facts.order.lines):
        product = products.get(line.sku)
        list_price = product.list_price if product is not None else None
        adjustments: list[PriceAdjustment] = []
        price = price_line(list_price if list_price is not None else line.unit_price, index,
                           factset.items[index], steps[index], adjustments, line.line_no)
        policy_price = round_money(max(price, ZERO))
        policy_prices[line.line_no] = policy_price
        priced.append(PricedLine.assemble({
            "line_no": line.line_no, "sku": line.sku, "qty": line.qty, "list_price": list_price,
            "requested_unit_price": round_money(line.unit_price * (ONE - line.discount)),
            "policy_price": policy_price, "adjustments": adjustments,
        }))
    check_rules = _stage_rules(ctx.policy, "pricing.check")
    if check_rules:
        checked = with_policy_prices(factset, policy_prices)
        _run_stage(ctx.policy, "pricing.check", ctx.backend.match("pricing.check", checked), checked, collector)
    pricing = PricingResult.trusted(
        lines=priced,
        policy_total=sum((round_money(p.policy_price * p.qty) for p in priced), ZERO),
        requested_total=sum((round_money(p.requested_unit_price * p.qty) for p in priced), ZERO),
    )
    return _decision("pricing", facts.order.id, ctx, collector, pricing=pricing)


def refund_terms(amount: Decimal, rate: Decimal, fee_rate: Decimal,
                 outcome: Outcome) -> tuple[Decimal, Decimal, Decimal]:
    """(refund rate, restocking fee, refund) of ``amount`` at the rates of :func:`refund_rates`;
    nothing is refunded when the return is blocked."""
    if outcome is Outcome.block:
        rate = fee = ZERO
    else:
        fee = round_money(amount * fee_rate)
    return rate, fee, max(round_money(amount * rate) - fee, ZERO)


def decide_return(facts: ReturnFacts, ctx: DecisionContext) -> Decision:
    """Decide a return: outcome, approvals, and the refund after fees."""
    factset = return_factset(facts, paths=ctx.policy.fact_reads.get("return_handling", frozenset()))
    collector = _Collector(ctx.explain)
    verdict = _NO_MATCHES
    if _stage_rules(ctx.policy, "return_handling"):
        verdict = _run_stage(ctx.policy, "return_handling", ctx.backend.match("return_handling", factset), factset,
                             collector)
    amount = factset.root.get("return.amount")  # flattened when a rule reads it
    if amount is None:
        amount = facts.return_request.amount
    refund_rate, fee, refund = refund_terms(amount, verdict.refund_rate, verdict.fee_rate, collector.outcome)
    returns = ReturnResult.assemble({"amount": amount, "refund_rate": refund_rate, "restocking_fee": fee,
                                     "refund_amount": refund})
    return _decision("return_handling", facts.return_request.id, ctx, collector, returns=returns)


def empty_decision(hook: Hook, subject: str, ctx: DecisionContext, **payload: Any) -> Decision:
    """An ``allow`` with no reasons: what a plugin contributes when it only adds a payload."""
    if not payload.keys() <= _PAYLOADS:
        raise TypeError(f"unknown decision payload {sorted(payload.keys() - _PAYLOADS)}")
    return Decision.assemble(
        {"hook": hook, "subject": subject, "outcome": Outcome.allow, "approvals": [], "notifications": [],
         "reasons": [], "policy": ctx.policy.ref, "backend": ctx.backend.name, "trace": Trace(),
         "pricing": payload.get("pricing"), "credit": payload.get("credit"), "returns": payload.get("returns"),
         "failure": None},
        {"hook", "subject", "outcome", "approvals", "notifications", "reasons", "policy", "backend", "trace",
         *payload},  # as _decision() gives it: the same fields set
    )


DECIDERS: Mapping[Hook, str] = {
    "order_approval": "salesgate_order_approval",
    "credit_check": "salesgate_credit_check",
    "pricing": "salesgate_pricing",
    "return_handling": "salesgate_return_handling",
}
