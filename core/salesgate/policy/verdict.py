"""The policy's verdict on facts: which rules fired, what they ask for, prices and refunds.

A backend answers which rules matched which facts; what a fired rule does is data in the compiled
policy, applied here the same way whichever backend matched. The verdict is what
:meth:`salesgate.context.DecisionContext.verdict` answers (the ``rules`` plugin contributes it),
and bulk replays (:mod:`salesgate.bulk`) use the same parts without building a verdict. Prices
follow the one price algebra in :mod:`salesgate.prices`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import partial
from operator import attrgetter
from typing import Any

from pydantic import BaseModel

from ..context import BackendRef, DecisionContext, PolicyVerdict
from ..decisions import (
    Adjustments,
    Approval,
    Notification,
    Outcome,
    PriceAdjustment,
    PricedLine,
    PriceStop,
    PricingResult,
    Reason,
    ReturnResult,
    SharedDict,
    SharedList,
    SharedSet,
    Trace,
    TraceEntry,
    ladder_order,
    sort_approvals,
)
from ..documents import combined
from ..errors import PolicyError, PolicyProblem
from ..facts import TODAY, FactSet, FactValues, document_factset, order_factset, return_factset, with_policy_prices
from ..models import OrderFacts, ReturnFacts
from ..money import ONE, ZERO, round_money
from ..pointspecs import PointSpec
from ..prices import PriceChange, PriceStep, line_price, run_price_steps
from .compiler import CompiledRule, Policy
from .effective import window_conditions
from .effects import LineChanges, RuleEffect
from .evaluator import explain
from .ir import Always, And, Cond
from .limits import PRICE_CEILING
from .stages import Backend, Match
from .tables import applying


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


_REASON_GIVEN = SharedSet({"rule", "outcome", "message", "translations", "line_no"})
"""The fields a rule's Reason is made with (as ``Reason(...)`` without ``plugin``): its ``model_fields_set``, one
read-only set for all of them, as the policy shares each reason with every decision it is in (a plain set changed
through one decision changed what ``model_dump(exclude_unset=True)`` gives for every other)."""


class FactsWhenRead:
    """A :class:`~salesgate.facts.FactSet` flattened the first time its ``root`` or ``items`` is read.

    A backend that matches straight on the fact models (the compiled backend's ``match_models``) needs no
    flattened facts, but a decision's trace, explanations, price formulas and declared outputs read them:
    this stands in for them, so the decisions that never read them (most: the trace is built when read)
    never flatten. ``build`` flattens the facts as they were when decided (the models are frozen; the lists
    in them are copied by the decision: see :func:`_order_flat`), so flattening later gives what flattening
    now would.
    ``item_keys`` (the lines' numbers, for reasons fired on lines) is known without flattening.
    """

    __slots__ = ("_build", "_built", "item_keys")

    def __init__(self, build: Callable[[], FactSet], item_keys: tuple[int, ...]) -> None:
        self._build: Callable[[], FactSet] | None = build
        self._built: FactSet | None = None
        self.item_keys = item_keys

    def built(self) -> FactSet:
        """The flattened facts (flattened once; two threads at once flatten equal ones)."""
        built = self._built
        if built is None:
            build = self._build
            if build is None:  # another thread finished meanwhile
                return self._built  # type: ignore[return-value]
            built = self._built = build()
            self._build = None
        return built

    @property
    def root(self) -> FactValues:
        return self.built().root

    @property
    def items(self) -> tuple[FactValues, ...]:
        return self.built().items


Facts = FactSet | FactsWhenRead
"""The facts a stage was matched on: flattened, or flattened when read."""


def _matched(backend: Backend, stage: str, facts: BaseModel, flat: Callable[[], FactSet], item_keys: tuple[int, ...],
             today: date | None, policy_prices: dict[int, Decimal] | None = None) -> tuple[frozenset[Match], Facts]:
    """``stage`` matched on the fact models when the backend can (no flattening), else on ``flat()``."""
    on_models = getattr(backend, "match_models", None)
    if on_models is not None:
        matches = on_models(stage, facts, today, policy_prices)
        if matches is not None:
            return matches, FactsWhenRead(flat, item_keys)
    factset = flat()
    return backend.match(stage, factset), factset


@dataclass(frozen=True, slots=True)
class StageVerdict:
    """What one stage's match set adds to a decision, worked out once per distinct match set.

    Everything here follows from which rules matched which lines, never from the fact values, so
    the same few match sets that come back decision after decision are put in order and summed up
    once per policy (see :func:`stage_verdict`), with the reasons, notifications and approvals they
    give built once too: every decision with this match set holds the same ones (frozen, their dicts and
    lists read-only: :class:`~salesgate.decisions.SharedDict`), in lists of its own.
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
    shared_reasons: tuple[Reason, ...] = ()
    """The reason of each of :attr:`reasons`; one fired on a line is the pattern of its reason, which each
    decision completes with the line's number."""
    on_lines: bool = False
    """Whether a reason fired on a line (else :attr:`shared_reasons` are the decision's reasons as they are)."""
    shared_notifications: tuple[Notification, ...] = ()
    shared_approvals: tuple[Approval, ...] = ()
    """The approvals of :attr:`ladder`."""
    line_reasons: dict[tuple[Any, ...], Any] = field(default_factory=dict, compare=False)
    """Where the reasons fired on a line are kept once made (the policy's :func:`shared_part` s), by ("reason",
    rule id, line number)."""
    pricing: dict[int, Any] = field(default_factory=dict, compare=False)
    """A ``pricing.adjust`` verdict's plans of an order's lines, by number of lines, made so far: how each line
    is priced (see :func:`_line_plans`)."""


_SHARED_PARTS = 16_384
"""The most parts (:func:`shared_part`) a policy keeps (then it starts again): a reason per rule and per line number
it fired on, a notification per rule and role, an approval per role and rule set. Orders number their lines alike
(1, 2, 3...), so a few per rule serve nearly every decision; at about 1 KB a part, at most 16 MB."""


def shared_part(policy: Policy, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """The part of a decision ``key`` names, built once per policy and shared by every decision that gives it.

    A stage verdict is worked out once per distinct match set, but most match sets are new when rules fire on
    lines (which lines differ from order to order): building its reasons, notifications and approvals anew each
    time, and keeping them, made the garbage collector walk them for as long as the verdict was kept. The
    parts themselves repeat: the same rule gives the same reason, the same role the same approval."""
    parts = policy.shared_parts
    found = parts.get(key)
    if found is None:
        if len(parts) >= _SHARED_PARTS:
            parts.clear()
        found = parts[key] = build()
    return found


def _pair(first: Any, index: int | None) -> tuple[Any, int | None]:
    return first, index


def _shared_reason(effect: RuleEffect, line_no: int | None = None) -> Reason:
    """``Reason(rule=..., outcome=..., message=..., translations=..., line_no=...)``, built directly."""
    return Reason.assemble({"rule": effect.rule, "outcome": effect.outcome, "message": effect.message,
                            "translations": SharedDict(effect.translations), "line_no": line_no, "plugin": "rules"},
                           _REASON_GIVEN)


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
            reasons.append(shared_part(policy, ("reason at", rule.id, index), partial(_pair, effect, index)))
        for role in effect.approvals:
            approvals.setdefault(role, []).append(rule.id)
        notifications.extend((role, rule.id, effect.message) for role in effect.notify)
    rules = [rule for rule, _ in fired]
    rate, fee_rate = refund_rates(rules)
    ladder = ladder_order(approvals, policy.roles)
    return StageVerdict(
        fired=fired, outcome=outcome, reasons=tuple(reasons), notifications=tuple(notifications),
        approvals=tuple((role, tuple(ids)) for role, ids in approvals.items()),
        ladder=ladder, refund_rate=rate, fee_rate=fee_rate,
        shared_reasons=tuple(shared_part(policy, ("reason", effect.rule, None), partial(_shared_reason, effect))
                             for effect, _ in reasons),
        on_lines=any(index is not None for _, index in reasons),
        shared_notifications=tuple(
            shared_part(policy, ("notify", role, rule, message),
                        partial(Notification.assemble, {"role": role, "rule": rule, "message": message}))
            for role, rule, message in notifications),
        shared_approvals=tuple(
            shared_part(policy, ("approval", role, ids),
                        partial(Approval.assemble, {"role": role, "rules": SharedList(ids)}))
            for role, ids in ladder),
        line_reasons=policy.shared_parts,
    )


def stage_verdict(policy: Policy, stage: str, matches: frozenset[Match]) -> StageVerdict:
    """The :class:`StageVerdict` of a backend's matches for ``stage``, from the policy's bounded cache."""
    cache = policy.verdict_cache
    key = (stage, matches)
    found: StageVerdict | None = cache.get(key)
    if found is None:
        found = _summed_up(policy, in_stage_order(policy, stage, matches))
        if len(cache) >= 8192:
            cache.clear()
        cache[key] = found
    return found


def in_stage_order(policy: Policy, stage: str,
                   matches: frozenset[Match]) -> tuple[tuple[CompiledRule, int | None], ...]:
    """A backend's matches as (rule, item index) pairs in stage order, less the table rows their table's hit policy
    sets aside: worked out anew (:func:`fired_in_order` takes them from the policy's cache of stage verdicts)."""
    if not matches:
        return ()
    rules = policy.rules_by_stage[stage]
    position = policy.stage_positions[stage]
    ordered = sorted(matches, key=lambda m: (position[m[0]], -1 if m[1] is None else m[1]))
    # each (rule, line) pair shared by every verdict it is in: a verdict is kept, and so what it holds
    fired = tuple(shared_part(policy, ("fired", rule_id, index), partial(_pair, rules[position[rule_id]], index))
                  for rule_id, index in ordered)
    return applying(policy.tables, fired) if policy.tables else fired


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
        self.stages: list[tuple[tuple[CompiledRule, ...], frozenset[Match], Facts, frozenset[Match]]] = []
        self.verdicts: list[StageVerdict] = []  # those that ask for approvals
        self.explain = explain_on
        self.outcome = Outcome.allow

    def add(self, verdict: StageVerdict, item_keys: tuple[int, ...]) -> None:
        """Apply one stage's verdict; ``item_keys`` name the lines its line-scope rules fired on."""
        if verdict.outcome.rank > self.outcome.rank:
            self.outcome = verdict.outcome
        if not verdict.on_lines:
            self.reasons.extend(verdict.shared_reasons)
        else:
            self.reasons.extend(_reasons_on_lines(verdict, item_keys))
        if verdict.shared_notifications:
            self.notifications.extend(verdict.shared_notifications)
        if verdict.approvals:
            self.verdicts.append(verdict)

    def approval_list(self, ladder: Sequence[str]) -> list[Approval]:
        """The approvals asked for, in ladder order (see :func:`sort_approvals`)."""
        verdicts = self.verdicts
        if not verdicts:
            return []
        if len(verdicts) == 1:  # one stage asked: its list is already in ladder order
            return list(verdicts[0].shared_approvals)
        merged: dict[str, list[str]] = {}
        for verdict in verdicts:
            for role, rules in verdict.approvals:
                merged.setdefault(role, []).extend(rules)
        return sort_approvals(merged, ladder)

    def trace(self) -> Trace:
        """Every rule of every stage run, built when first read (see :class:`Trace`)."""
        stages = self.stages
        for stage in stages:
            if not stage[0]:  # a stage without rules has no entries (rare: drop it)
                stages = [s for s in stages if s[0]]
                break
        if not stages:
            return Trace()
        return Trace.when_read(partial(_traced, stages, self.explain))


def _traced(stages: Sequence[tuple[tuple[CompiledRule, ...], frozenset[Match], Facts, frozenset[Match]]],
            explain_on: bool) -> list[TraceEntry]:
    """The trace entries of the stages a decision ran, in order."""
    return [entry for rules, matches, facts, matched in stages
            for entry in _trace_entries(rules, matches, facts, explain_on, matched)]


def _reasons_on_lines(verdict: StageVerdict, item_keys: tuple[int, ...]) -> list[Reason]:
    """The verdict's reasons, those fired on a line with its number (made once per rule and line number, then
    shared: see :func:`shared_part`)."""
    made = verdict.line_reasons
    reasons: list[Reason] = []
    for (effect, index), reason in zip(verdict.reasons, verdict.shared_reasons, strict=True):
        if index is not None:
            key = ("reason", effect.rule, item_keys[index])
            found = made.get(key)
            if found is None:
                if len(made) >= _SHARED_PARTS:
                    made.clear()
                found = made[key] = _shared_reason(effect, key[2])
            reason = found
        reasons.append(reason)
    return reasons


def _one_stage(policy: Policy, stage: str, matches: frozenset[Match], facts: Facts, explain_on: bool,
               returns: ReturnResult | None = None, outputs: dict[str, Any] | None = None,
               verdict: StageVerdict | None = None) -> PolicyVerdict:
    """The verdict of a point that runs one stage: what a collector given that stage alone answers
    (:func:`_run_stage` then :func:`_verdict`), without the collector. ``verdict``: the stage's, when known."""
    if verdict is None:
        verdict = stage_verdict(policy, stage, matches)
    rules = policy.rules_by_stage.get(stage, ())
    applied = _applied(policy, verdict, matches)
    return PolicyVerdict(
        verdict.outcome,
        list(verdict.shared_approvals),  # one stage: its approvals are in ladder order already
        _reasons_on_lines(verdict, facts.item_keys) if verdict.on_lines else list(verdict.shared_reasons),
        list(verdict.shared_notifications),
        Trace.when_read(_StageTrace((rules, applied, facts, explain_on, matches))) if rules else Trace(),
        None, returns, outputs)


class _StageTrace(tuple[Any, ...]):
    """What the trace of a point of one stage is built from when first read: the stage's rules, the matches that
    apply, the facts, whether to explain and every match (the arguments of :func:`_trace_entries`). One object a
    kept decision holds rather than a ``partial``; a tuple, made without a Python ``__init__``."""

    __slots__ = ()

    def __call__(self) -> list[TraceEntry]:
        return _trace_entries(*self)


def _entry(rule: CompiledRule, fired: bool, values: FactValues, line_no: int | None,
           explanation: str | None) -> TraceEntry:
    return TraceEntry.assemble({
        "rule": rule.id, "ruleset": rule.ruleset, "file": rule.file, "line": rule.line, "fired": fired,
        "line_no": line_no, "values": _values(rule, values), "explanation": explanation,
    })


def _as_written(rule: CompiledRule) -> Cond:
    """The rule's condition as its owner wrote it. The compiler puts a dated rule's window in front of
    its condition as comparisons on ``today`` (so every backend honours it); once the rule is in force
    they hold, and explaining them (*today is 2027-02-28, ≥ 2027-01-01; ...*) would read as if the
    owner had written them."""
    if rule.effective is None or not isinstance(rule.cond, And):
        return rule.cond
    dated = window_conditions(rule.effective)
    if rule.cond.items[:len(dated)] != dated:
        return rule.cond
    rest = rule.cond.items[len(dated):]
    return Always() if not rest else rest[0] if len(rest) == 1 else And(rest)


def _set_aside(rule: CompiledRule, rules: Sequence[CompiledRule], applied: frozenset[Match], facts: Facts,
               index: int | None) -> str:
    """Why a table row that matched does not apply: its table's hit policy preferred another row."""
    table = {r.id for r in rules if r.table == rule.table}
    winner = next((rule_id for rule_id, at in sorted(applied, key=str) if at == index and rule_id in table), "?")
    text = explain(_as_written(rule), facts.root if index is None else facts.items[index], None, facts.item_keys)
    return f"{text}; the row matched, but its table's hit policy applies row {winner} instead"


def _trace_entries(rules: Sequence[CompiledRule], matches: frozenset[Match], facts: Facts,
                   explain_on: bool, matched: frozenset[Match] = frozenset()) -> list[TraceEntry]:
    """One entry per rule of a stage (per line it fired on, for line-scope rules), in stage order.
    ``matches`` are the rules that apply, ``matched`` every match (a table's hit policy sets some aside)."""
    entries: list[TraceEntry] = []
    aside = matched - matches
    today = facts.root.get(TODAY)
    for rule in rules:
        if rule.effective is not None and today is not None and not rule.effective.in_force(today):
            entries.append(_entry(rule, False, facts.root, None, rule.effective.not_in_force()))
            continue
        cond = _as_written(rule)
        set_aside = sorted((m[1] for m in aside if m[0] == rule.id), key=lambda i: -1 if i is None else i) \
            if aside and rule.table is not None else []
        if set_aside:
            for index in set_aside:
                item = facts.root if index is None else facts.items[index]
                entries.append(_entry(rule, False, item, None if index is None else facts.item_keys[index],
                                      _set_aside(rule, rules, matches, facts, index) if explain_on else None))
            for i in (i for i in range(len(facts.items)) if (rule.id, i) in matches) if rule.scope == "line" else ():
                entries.append(_entry(rule, True, facts.items[i], facts.item_keys[i],
                                      explain(cond, facts.items[i], None, facts.item_keys) if explain_on
                                      else None))
            continue
        if rule.scope == "line":
            hits = [i for i in range(len(facts.items)) if (rule.id, i) in matches]
            for i in hits:
                item = facts.items[i]
                entries.append(_entry(rule, True, item, facts.item_keys[i],
                                      explain(cond, item, None, facts.item_keys) if explain_on else None))
            if not hits:
                text = None
                if explain_on:
                    text = ("; ".join(f"line {facts.item_keys[i]}: {explain(cond, item, None, facts.item_keys)}"
                                      for i, item in enumerate(facts.items))
                            if facts.items else explain(cond, facts.root, None, facts.item_keys))
                entries.append(_entry(rule, False, facts.root, None, text))
        else:
            hit = (rule.id, None) in matches
            entries.append(_entry(rule, hit, facts.root, None,
                                  explain(cond, facts.root, None, facts.item_keys) if explain_on else None))
    return entries


def _applied(policy: Policy, verdict: StageVerdict, matches: frozenset[Match]) -> frozenset[Match]:
    """The matches that apply: all of them, but for the table rows their table's hit policy set aside."""
    if policy.tables and len(verdict.fired) != len(matches):
        return frozenset((rule.id, index) for rule, index in verdict.fired)
    return matches


def _run_stage(policy: Policy, stage: str, matches: frozenset[Match], facts: Facts,
               collector: _Collector) -> StageVerdict:
    """Apply the stage's verdict to the collector; the stage is kept for the trace."""
    verdict = stage_verdict(policy, stage, matches)
    collector.stages.append((policy.rules_by_stage.get(stage, ()), _applied(policy, verdict, matches), facts, matches))
    collector.add(verdict, facts.item_keys)
    return verdict


def _stage_rules(policy: Policy, stage: str) -> tuple[CompiledRule, ...]:
    return policy.rules_by_stage.get(stage, ())


def _out_of_range(rule: CompiledRule, kind: str, price: Decimal, line_no: int | None) -> PolicyError:
    """A price no figure of a decision can hold: said with the rule that made it, never a crash."""
    where = f" of line {line_no}" if line_no is not None else ""
    return PolicyError(PolicyProblem(
        f"{kind} made the price{where} {price:.6E}, beyond what a price may be (below 9 × 10^14, "
        "what both backends compare exactly): the rule cannot price this order", rule.file, rule.line, rule.id, "then"))


def _verdict(ctx_roles: Sequence[str], c: _Collector, pricing: PricingResult | None = None,
             returns: ReturnResult | None = None, outputs: dict[str, Any] | None = None) -> PolicyVerdict:
    # Positional: this runs once per decision.
    return PolicyVerdict(c.outcome, c.approval_list(ctx_roles), c.reasons, c.notifications, c.trace(), pricing,
                         returns, outputs)


def output_values(spec: PointSpec, fired: Sequence[tuple[CompiledRule, int | None]], facts: Facts,
                  *more: tuple[Sequence[tuple[CompiledRule, int | None]], Facts]) -> dict[str, Any]:
    """The declared outputs the fired rules set, combined as each output's ``combine`` says, in the
    order the point declares them (``more``: the fired rules of later stages, with their facts). A rule
    whose value cannot be worked out on these facts (it reads a missing fact) sets nothing."""
    given: dict[str, list[Any]] = {}
    for stage_fired, stage_facts in ((fired, facts), *more):
        for rule, index in stage_fired:
            if not rule.action.outputs:
                continue
            item = None if index is None else stage_facts.items[index]
            for name, getter in rule.output_getters:
                value = getter(stage_facts.root, item)
                if value is not None:
                    given.setdefault(name, []).append(value)
    out: dict[str, Any] = {}
    for output in spec.declared_outputs:
        found = given.get(output.name)
        if found:
            out[output.name] = combined(output, found)
    return out


def document_verdict(policy: Policy, backend: Backend, point: str, facts: BaseModel,
                     explain_on: bool = False, today: date | None = None) -> PolicyVerdict:
    """The verdict at a declared decision point: outcome, approvals, reasons and the outputs rules set."""
    spec = policy.points[point]
    factset = document_factset(facts, today=today)
    collector = _Collector(explain_on)
    outputs: dict[str, Any] = {}
    if _stage_rules(policy, point):
        verdict = _run_stage(policy, point, backend.match(point, factset), factset, collector)
        if spec.declared_outputs:
            outputs = output_values(spec, verdict.fired, factset)
    return _verdict(policy.roles, collector, outputs=outputs)


def order_verdict(policy: Policy, backend: Backend, point: str, facts: OrderFacts, explain_on: bool = False,
                  factset: FactSet | None = None, today: date | None = None) -> PolicyVerdict:
    """The verdict of ``order_approval`` or ``credit_check`` (or ``pricing``) on one order. Matched on the
    fact models when the backend can (see :class:`FactsWhenRead`), else on ``factset`` (flattened here
    when not given)."""
    if point == "pricing":
        return pricing_verdict(policy, backend, facts, explain_on, factset, today)
    if not policy.rules_by_stage.get(point):
        return _verdict(policy.roles, _Collector(explain_on))
    facts_read: Facts
    if factset is not None:
        matches, facts_read = backend.match(point, factset), factset
    else:
        matches, facts_read = _matched(backend, point, facts, _order_flat(policy, point, facts, today),
                                       _line_numbers(facts), today)
    verdict = stage_verdict(policy, point, matches)
    spec = policy.points[point]
    outputs = output_values(spec, verdict.fired, facts_read) if spec.declared_outputs else None
    return _one_stage(policy, point, matches, facts_read, explain_on, outputs=outputs, verdict=verdict)


def _order_flat(policy: Policy, point: str, facts: OrderFacts, today: date | None) -> Callable[[], FactSet]:
    """How to flatten ``facts`` for ``point``: only the facts its rules read, as they were when decided.

    The models are frozen but the order's lines and the products are lists the caller may change after the
    decision (an ERP reusing its order): the decision keeps its own copy of both (references: the line and
    product models are frozen), and a flattening done later, for a trace read then, reads that copy."""
    return partial(_flattened_as_decided, facts, tuple(facts.order.lines), tuple(facts.products),
                   policy.fact_reads.get(point, frozenset()), today)


def _flattened_as_decided(facts: OrderFacts, lines: tuple[Any, ...], products: tuple[Any, ...],
                          paths: frozenset[str], today: date | None) -> FactSet:
    if not (_same(facts.order.lines, lines) and _same(facts.products, products)):
        facts = facts.model_copy(update={"order": facts.order.model_copy(update={"lines": list(lines)}),
                                         "products": list(products)})
    return order_factset(facts, None, paths, today)


def _same(now: Sequence[Any], then: tuple[Any, ...]) -> bool:
    """Whether a list holds the very objects it held when decided."""
    return len(now) == len(then) and all(a is b for a, b in zip(now, then, strict=True))


def _line_numbers(facts: OrderFacts) -> tuple[int, ...]:
    return tuple([line.line_no for line in facts.order.lines])


PriceSteps = list[tuple[CompiledRule, int | None, LineChanges, "PriceStep[CompiledRule] | None"]]
"""(rule, the line it fired on or None for every line, what it does to a price, the same as a step of
the price algebra when it has no formula: kept on the rule, ``CompiledRule.fixed_price_step``)."""


def price_steps(fired: Sequence[tuple[CompiledRule, int | None]]) -> PriceSteps:
    """The fired rules of a pricing adjust stage, with what each does to a price."""
    return [(rule, hit, rule.line_changes, rule.fixed_price_step) for rule, hit in fired]


def price_steps_by_line(fired: Sequence[tuple[CompiledRule, int | None]], lines: int) -> list[PriceSteps]:
    """:func:`price_steps` for each line: the order-scope rules and the line's own hits, in stage
    order. Each line walking every rule's hit on every line was quadratic: a 10,000-line order on
    which two line rules fired everywhere took 3.5 s to price."""
    steps = price_steps(fired)
    if all(step[1] is None for step in steps):
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


def _line_steps(index: int, item: FactValues, steps: PriceSteps) -> list[PriceStep[CompiledRule]]:
    """The rules' changes to line ``index`` with their formulas worked out on the line's facts: the
    price algebra's steps. A formula reading a missing value changes nothing."""
    out: list[PriceStep[CompiledRule]] = []
    for rule, hit, (floor, changes, stop), fixed in steps:
        if hit is not None and hit != index:
            continue
        if fixed is not None:
            out.append(fixed)
            continue
        floors: tuple[tuple[Decimal, CompiledRule], ...] = ()
        if floor is not None:
            floor_value = floor(item, None)
            if floor_value is not None:
                floors = ((floor_value, rule),)
        evaluated: list[PriceChange[CompiledRule]] = []
        for kind, constant, formula in changes:
            value = formula(item, None) if formula is not None else constant
            if value is not None:
                evaluated.append((kind, value, rule))
        out.append((evaluated, floors, stop))
    return out


def stopped_by(index: int, steps: PriceSteps) -> CompiledRule | None:
    """The rule that stops line ``index``'s adjustments, if one fired on it."""
    for rule, hit, (_, _, stop), _ in steps:
        if stop and (hit is None or hit == index):
            return rule
    return None


ChangeMade = tuple[CompiledRule, str, Decimal, Decimal, Decimal]
"""One change to a line's price as pricing made it: (rule, kind, value, price before, price after)."""


def adjustments_made(changes: Sequence[ChangeMade]) -> list[PriceAdjustment]:
    """The :class:`PriceAdjustment` of each change: what a priced line's adjustments are built from when read."""
    return [PriceAdjustment.assemble({"rule": rule.id, "kind": kind, "value": value, "priority": rule.priority,
                                      "price_before": before, "price_after": after})
            for rule, kind, value, before, after in changes]


class Changes(list[Any]):
    """The changes pricing made to one line's price, the five values of each (:data:`ChangeMade`) one after
    the other (as :func:`salesgate.prices.run_price_steps` appends them to ``made``); called, the line's
    adjustments (:func:`adjustments_made`), which is how a priced line's :class:`Adjustments` build them when
    first read. Flat, and its own builder: a kept decision holds one object per changed line here, not a
    tuple per change and a ``partial``."""

    __slots__ = ()

    def made(self) -> list[ChangeMade]:
        """The changes, one tuple each."""
        values = iter(self)
        return list(zip(values, values, values, values, values, strict=True))

    def __call__(self) -> list[PriceAdjustment]:
        return adjustments_made(self.made())


def price_line(base: Decimal, index: int, item: FactValues, steps: PriceSteps,
               changes: Changes | None, line_no: int | None = None) -> Decimal:
    """The policy price of line ``index`` (unrounded): the fired rules' changes in stage order,
    up to a ``stop``, then the floors (:func:`salesgate.prices.run_price_steps`). Each change is
    appended to ``changes`` unless None (bulk replays need the price only; it is the same
    computation either way): calling them gives the adjustments.

    A price that leaves the range prices may have (``limits.MAX_PRICE``: fifty 100% markups, a
    formula multiplying large facts) raises a :class:`PolicyError` naming the rule, which the gate
    answers with its failure mode and that reason."""
    if not steps:  # no rule fired on this line: the algebra would return ``base`` unchanged
        return base
    return _run_steps(base, _line_steps(index, item, steps), Changes() if changes is None else changes, line_no)


def _run_steps(base: Decimal, steps: Sequence[PriceStep[CompiledRule]], changes: Changes,
               line_no: int | None, safe: Decimal = ZERO) -> Decimal:
    """:func:`run_price_steps` appending every change to ``changes``, each price it made checked to be in
    range in the order they were made (the first one out of range is the rule the error names), unless the
    base is below ``safe`` (:func:`_safe_below` of these steps: then none can be). Checked after the algebra
    rather than in a callback: exact arithmetic on prices below the ceiling cannot fail meanwhile, and this
    runs for every priced line."""
    done = len(changes)
    price = run_price_steps(base, steps, None, changes)
    if ZERO <= base < safe:
        return price
    prices = changes[done + 4::5]  # the price after each change
    if prices and not (min(prices) > _LOWEST and max(prices) < PRICE_CEILING):
        for at in range(done + 4, len(changes), 5):
            after = changes[at]
            if not _LOWEST < after < PRICE_CEILING:
                raise _out_of_range(changes[at - 4], changes[at - 3], after, line_no)
    return price


_LOWEST = -PRICE_CEILING
_ROUNDING_MARGIN = Fraction(999_999, 1_000_000)


def _safe_below(steps: Sequence[PriceStep[CompiledRule]]) -> Decimal:
    """A bound on bases that these steps cannot take out of the range prices may have: from a base ``b`` with
    ``0 <= b < bound``, every price they make is below :data:`~.limits.PRICE_CEILING` in magnitude (zero when
    no base is safe). Worked out once per plan, so that a line's prices need no check each.

    Each price after a change is at most ``|b| × M + A`` in magnitude, exactly: a markup or discount multiplies
    both by ``|1 ± v|``, an add adds ``|v|`` to ``A``, a set makes them ``0`` and ``|v|``, a floor is at most
    its own ``|v|`` (taken over every step, as if none stopped: only more cautious). The bound is the least
    ``(CEILING − A) / M`` less a millionth, room for Decimal's rounding of products at 28 digits."""
    ceiling = Fraction(PRICE_CEILING)
    scale, offset = Fraction(1), Fraction(0)
    safe: Fraction | None = None  # any base, so far
    for changes, floors, _ in steps:
        for value, _ in floors:
            if abs(Fraction(value)) >= ceiling:
                return ZERO
        for kind, value, _ in changes:
            amount = Fraction(value)
            if kind == "markup" or kind == "discount":
                factor = abs(1 + amount if kind == "markup" else 1 - amount)
                scale, offset = scale * factor, offset * factor
            elif kind == "add":
                offset += abs(amount)
            elif kind == "set":
                scale, offset = Fraction(0), abs(amount)
            else:
                return ZERO  # the algebra refuses it
            if offset >= ceiling:
                return ZERO
            if scale:
                bound = (ceiling - offset) / scale
                safe = bound if safe is None or bound < safe else safe
    if safe is None:
        return _ANY_BASE
    return Decimal(math.floor(safe * _ROUNDING_MARGIN))


_ANY_BASE = Decimal("Infinity")


@dataclass(frozen=True, slots=True, eq=False)
class _LinePlan:
    """How a line is priced when these rules fired on it (the order's and its own, in stage order): worked out
    once per policy and shared by every line, verdict and decision they fire on alike (:func:`_line_plans`)."""

    steps: PriceSteps
    """The line's steps (:func:`price_steps_by_line`), each as if it fired on every line (``None``): the line's
    own hits are already picked, and its index is the decision's, not the plan's."""
    fixed: tuple[PriceStep[CompiledRule], ...] | None
    """The same as the price algebra's steps when no step has a formula or floor to work out on the line's
    facts (``CompiledRule.fixed_price_step``), else None."""
    changes: bool
    """Whether :attr:`fixed` changes the price at all, so the line has adjustments (a rule that only stops does
    not, nor the rules after it)."""
    stop: PriceStop | None
    """The rule that stops the line's adjustments (:func:`stopped_by`), as a decision shows it (frozen, so
    every decision it stops a line of holds the same one)."""
    safe: Decimal = ZERO
    """Bases from zero up to this one :attr:`fixed` cannot take out of range (:func:`_safe_below`)."""


def _line_plan(steps: PriceSteps) -> _LinePlan:
    """The :class:`_LinePlan` of a line with these steps (its own, picked by :func:`price_steps_by_line`)."""
    steps = [(rule, None, changes, fixed) for rule, _, changes, fixed in steps]
    fixed_steps: list[PriceStep[CompiledRule]] = [step[3] for step in steps if step[3] is not None]
    fixed = tuple(fixed_steps) if len(fixed_steps) == len(steps) else None
    changes = False  # whether a change applies before a stop (the steps' changes apply, then the stop ends them)
    for step_changes, _, step_stop in fixed or ():
        if step_changes:
            changes = True
            break
        if step_stop:
            break
    stop = stopped_by(0, steps)
    return _LinePlan(steps, fixed, changes,
                     None if stop is None else PriceStop.assemble({"rule": stop.id, "priority": stop.priority}),
                     ZERO if fixed is None else _safe_below(fixed))


_LINE_COUNTS = 64
"""The most line counts one ``pricing.adjust`` verdict keeps the plans of (then it starts again)."""

_KEPT_LINES = 100
"""The plans of orders of more lines are worked out for the decision and not kept: they are as long as the order."""


def _line_plans(policy: Policy, verdict: StageVerdict, lines: int) -> tuple[_LinePlan, ...]:
    """Each line's :class:`_LinePlan` under ``verdict``, kept on the verdict by number of lines: a tuple of
    plans the policy shares (:func:`shared_part`, by the ids of the rules that change the line's price)."""
    kept = verdict.pricing
    found: tuple[_LinePlan, ...] | None = kept.get(lines)
    if found is None:
        made: dict[int, _LinePlan] = {}
        plans: list[_LinePlan] = []
        for steps in price_steps_by_line(verdict.fired, lines):
            plan = made.get(id(steps))
            if plan is None:
                plan = made[id(steps)] = shared_part(policy, ("price plan", *(step[0].id for step in steps)),
                                                     partial(_line_plan, steps))
            plans.append(plan)
        found = tuple(plans)
        if lines <= _KEPT_LINES:
            if len(kept) >= _LINE_COUNTS:
                kept.clear()
            kept[lines] = found
    return found


def _merged_approvals(policy: Policy, *verdicts: StageVerdict) -> tuple[Approval, ...]:
    """The approvals of several stages' verdicts together, as a :class:`_Collector` merges them, made to be
    shared (their ``rules`` read-only, as one stage's are)."""
    collector = _Collector()
    collector.verdicts.extend(verdict for verdict in verdicts if verdict.approvals)
    return tuple(Approval.assemble({"role": approval.role, "rules": SharedList(approval.rules)})
                 for approval in collector.approval_list(policy.roles))


def _reasons(verdict: StageVerdict, item_keys: tuple[int, ...]) -> Sequence[Reason]:
    return _reasons_on_lines(verdict, item_keys) if verdict.on_lines else verdict.shared_reasons


_LINE_NO = attrgetter("line_no")
_NO_ADJUSTMENTS = Adjustments()
"""A line's adjustments when nothing changed its price: empty and read-only, so every such line holds this one."""


def pricing_verdict(policy: Policy, backend: Backend, facts: OrderFacts, explain_on: bool = False,
                    factset: FactSet | None = None, today: date | None = None) -> PolicyVerdict:
    """Price every line (adjust stage), then check requested prices against them (check stage).

    How each line is priced follows from which rules fired on it alone (its steps, whether they have formulas,
    the rule that stops it): worked out once (:func:`_line_plans`); per decision, only the prices are computed."""
    flat: Facts
    by_stage = policy.rules_by_stage
    adjust_rules = by_stage.get("pricing.adjust", ())
    lines = facts.order.lines
    item_keys = tuple(map(_LINE_NO, lines))
    if factset is not None:
        flat = factset
        matches = backend.match("pricing.adjust", factset) if adjust_rules else frozenset()
    elif adjust_rules:
        matches, flat = _matched(backend, "pricing.adjust", facts, _order_flat(policy, "pricing", facts, today),
                                 item_keys, today)
    else:
        matches, flat = frozenset(), FactsWhenRead(_order_flat(policy, "pricing", facts, today), item_keys)
    adjust = stage_verdict(policy, "pricing.adjust", matches)
    plans = adjust.pricing.get(len(lines)) or _line_plans(policy, adjust, len(lines))
    products = {p.sku: p for p in facts.products}
    priced: list[PricedLine] = []
    policy_prices: dict[int, Decimal] = {}
    policy_total = requested_total = ZERO
    for index, line in enumerate(lines):
        line_no = line.line_no
        product = products.get(line.sku)
        list_price = None if product is None else product.list_price
        base = line.unit_price if list_price is None else list_price
        plan = plans[index]
        if plan.changes:  # rules without formulas change the price (the usual case when rules fired)
            changes = Changes()
            price = _run_steps(base, plan.fixed, changes, line_no, plan.safe)  # type: ignore[arg-type]  # changes: fixed
            adjustments = Adjustments(build=changes)
        elif plan.fixed is not None:  # no rule changes it (none fired on it, or one that only stops it)
            price, adjustments = base, _NO_ADJUSTMENTS
        else:  # a formula or floor, worked out on the line's facts
            changes = Changes()
            price = price_line(base, index, flat.items[index], plan.steps, changes, line_no)
            adjustments = Adjustments(build=changes) if changes else _NO_ADJUSTMENTS
        policy_price = policy_prices[line_no] = line_price(price)
        discount = line.discount
        # as OrderLine.amount: without a discount the product is the same number (rounded to the cent alike)
        requested = round_money(line.unit_price * (ONE - discount) if discount else line.unit_price)
        qty = line.qty
        # The lines' amounts added up as PricingResult.from_lines adds them (line_amount), without rounding
        # them again: both prices are whole cents (below 10^15) and qty a whole number (up to 10^9), so each
        # product is exact, with two decimals, and rounding it to the cent changes nothing.
        policy_total += policy_price * qty
        requested_total += requested * qty
        priced.append(PricedLine.assemble({
            "line_no": line_no, "sku": line.sku, "qty": qty, "list_price": list_price,
            "requested_unit_price": requested, "policy_price": policy_price, "adjustments": adjustments,
            "stopped_by": plan.stop,
        }))
    check_rules = by_stage.get("pricing.check", ())
    check: StageVerdict | None = None
    checked: Facts = flat
    check_matches: frozenset[Match] = frozenset()
    if check_rules:
        if isinstance(flat, FactSet):
            checked = with_policy_prices(flat, policy_prices)
            check_matches = backend.match("pricing.check", checked)
        else:
            check_matches, checked = _matched(backend, "pricing.check", facts, _WithPrices((flat, policy_prices)),
                                              item_keys, today, policy_prices)
        check = stage_verdict(policy, "pricing.check", check_matches)
    # What a _Collector given both stages answers (adjust first), without one.
    reasons = list(_reasons(adjust, item_keys))
    if check is None:
        outcome, notifications = adjust.outcome, list(adjust.shared_notifications)
        approvals = list(adjust.shared_approvals)
    else:
        outcome = check.outcome if check.outcome.rank > adjust.outcome.rank else adjust.outcome
        reasons.extend(_reasons(check, item_keys))
        notifications = [*adjust.shared_notifications, *check.shared_notifications]
        if adjust.approvals and check.approvals:  # both stages ask: merged as the collector merges them, once
            approvals = list(shared_part(policy, ("approvals of", adjust.approvals, check.approvals),
                                         partial(_merged_approvals, policy, adjust, check)))
        else:
            approvals = list(adjust.shared_approvals or check.shared_approvals)
    spec = policy.points["pricing"]
    outputs = output_values(spec, adjust.fired, flat, (check.fired if check is not None else (), checked)) \
        if spec.declared_outputs else None
    trace = Trace.when_read(_PricingTrace((
        adjust_rules, _applied(policy, adjust, matches), flat, matches, check_rules,
        check_matches if check is None else _applied(policy, check, check_matches), checked, check_matches,
        explain_on))) if adjust_rules or check_rules else Trace()
    pricing = PricingResult.assemble({"lines": priced, "policy_total": policy_total,
                                      "requested_total": requested_total})
    return PolicyVerdict(outcome, approvals, reasons, notifications, trace, pricing, None, outputs)


class _WithPrices(tuple[Any, ...]):
    """How to flatten the facts the ``pricing.check`` stage matched: the adjust stage's (``flat``), with the
    policy prices (``prices``): ``_WithPrices((flat, prices))``. One object a decision keeps until its trace
    is read, rather than a ``partial`` and its arguments; a tuple, made without a Python ``__init__``."""

    __slots__ = ()

    def __call__(self) -> FactSet:
        flat: FactsWhenRead = self[0]
        return with_policy_prices(flat.built(), self[1])


_Stage = tuple[tuple[CompiledRule, ...], frozenset[Match], Facts, frozenset[Match]]


class _PricingTrace(tuple[Any, ...]):
    """What a pricing decision's trace is built from when first read (see :class:`Trace`): for each stage, its
    rules, the matches that apply, the facts it matched and every match, then whether to explain
    (:func:`_traced`; a stage without rules has no entries). One object a kept decision holds rather than a
    list of stages, a tuple each and a ``partial``; a tuple, made without a Python ``__init__``."""

    __slots__ = ()

    def __call__(self) -> list[TraceEntry]:
        stages: list[_Stage] = [self[0:4], self[4:8]]  # as made in pricing_verdict
        return _traced([stage for stage in stages if stage[0]], self[8])


def refund_terms(amount: Decimal, rate: Decimal, fee_rate: Decimal,
                 outcome: Outcome) -> tuple[Decimal, Decimal, Decimal]:
    """(refund rate, restocking fee, refund) of ``amount`` at the rates of :func:`refund_rates`;
    nothing is refunded when the return is blocked."""
    if outcome is Outcome.block:
        rate = fee = ZERO
    else:
        fee = round_money(amount * fee_rate)
    return rate, fee, max(round_money(amount * rate) - fee, ZERO)


def return_verdict(policy: Policy, backend: Backend, facts: ReturnFacts, explain_on: bool = False,
                   today: date | None = None) -> PolicyVerdict:
    """A return's verdict: outcome, approvals, and the refund after fees."""
    spec = policy.points["return_handling"]
    amount = facts.return_request.amount  # what fact return.amount reads
    if not policy.rules_by_stage.get("return_handling"):
        refund_rate, fee, refund = refund_terms(amount, ONE, ZERO, Outcome.allow)
        returns = ReturnResult.assemble({"amount": amount, "refund_rate": refund_rate, "restocking_fee": fee,
                                         "refund_amount": refund})
        return _verdict(policy.roles, _Collector(explain_on), returns=returns,
                        outputs={} if spec.declared_outputs else None)
    flat = partial(return_factset, facts, policy.fact_reads.get("return_handling", frozenset()), today)
    matches, facts_read = _matched(backend, "return_handling", facts, flat, (), today)
    verdict = stage_verdict(policy, "return_handling", matches)
    refund_rate, fee, refund = refund_terms(amount, verdict.refund_rate, verdict.fee_rate, verdict.outcome)
    returns = ReturnResult.assemble({"amount": amount, "refund_rate": refund_rate, "restocking_fee": fee,
                                     "refund_amount": refund})
    outputs = output_values(spec, verdict.fired, facts_read) if spec.declared_outputs else None
    return _one_stage(policy, "return_handling", matches, facts_read, explain_on, returns, outputs, verdict)


def decision_context(policy: Policy, backend: Backend, explain_on: bool = False) -> DecisionContext:
    """The context decision hooks receive for ``policy`` matched by ``backend``: its
    :meth:`~DecisionContext.verdict` answers with :func:`order_verdict`, :func:`pricing_verdict`
    or :func:`return_verdict`."""

    def judge(point: str, facts: BaseModel, as_of: date | None) -> PolicyVerdict:
        today = as_of if as_of is not None else policy.today()
        spec = policy.points.get(point)
        if spec is None:
            raise TypeError(f"{point!r} is not a decision point of policy {policy.name}")
        if not spec.built_in:
            if not isinstance(facts, spec.document):
                raise TypeError(f"{point} decides {spec.document.__name__}, got {type(facts).__name__}")
            return document_verdict(policy, backend, point, facts, explain_on, today)
        if isinstance(facts, ReturnFacts):
            if point != "return_handling":
                raise TypeError(f"{point} decides OrderFacts, got ReturnFacts")
            return return_verdict(policy, backend, facts, explain_on, today)
        if point == "return_handling" or not isinstance(facts, OrderFacts):
            raise TypeError(f"{point} decides {'ReturnFacts' if point == 'return_handling' else 'OrderFacts'}, "
                            f"got {type(facts).__name__}")
        if point == "pricing":
            return pricing_verdict(policy, backend, facts, explain_on, today=today)
        return order_verdict(policy, backend, point, facts, explain_on, today=today)

    return DecisionContext(policy_ref=policy.ref, roles=policy.roles, backend=BackendRef(backend.name),
                           explain=explain_on, failure_mode=policy.failure_mode, judge=judge)
