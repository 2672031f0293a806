"""Bulk replays: many orders and returns through one policy, without building Decisions.

``salesgate simulate`` replays a year of orders through two policies; a Decision with its
trace, reasons and priced lines is far more than it needs. A :class:`Replayer` gives the figures
a comparison needs (outcome, approval roles, fired rules, policy prices, revenue, margin, refund)
from the same parts the ``rules`` plugin uses: the default backend's generated stage functions
(:mod:`salesgate.engine.compiled`), the fired rules in the order
:func:`~salesgate.policy.verdict.fired_in_order` gives them (without the reasons a gate builds),
:func:`~salesgate.policy.verdict.price_line` and :func:`~salesgate.policy.verdict.refund_terms`
(prices by the one algebra of :mod:`salesgate.prices`). ``tests/test_simulate.py`` holds every figure
to the Gate's own decisions on generated orders.

Only the policy's rules are replayed: company plugins that decide are not part of a replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from .decisions import Outcome
from .engine.compiled import CompiledBackend
from .errors import PolicyError
from .facts import FactSet, document_factset, order_factset, return_factset, with_policy_prices
from .models import OrderFacts, ReturnFacts
from .money import ZERO
from .pointspecs import ORDER_POINTS
from .policy.compiler import CompiledRule, Policy
from .policy.stages import Match, Stage
from .policy.verdict import (
    PriceSteps,
    in_stage_order,
    output_values,
    price_line,
    price_steps_by_line,
    refund_rates,
    refund_terms,
)
from .prices import line_amount, line_price


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one decision point decided on one order or return, as a replay compares it."""

    outcome: Outcome
    roles: tuple[str, ...]
    """Approval roles, in the policy's ladder order (as ``Decision.required_roles``)."""
    rules: tuple[str, ...]
    """Ids of the rules that fired, in stage order, each once."""
    prices: tuple[Decimal, ...] = ()
    """Pricing: the policy price of each line (as ``PricedLine.policy_price``)."""
    revenue: Decimal | None = None
    """Pricing: Σ policy price × qty, each line rounded to the cent (``PricingResult.policy_total``)."""
    refund: Decimal | None = None
    """Returns: the refund after fees (``ReturnResult.refund_amount``)."""
    outputs: tuple[tuple[str, Any], ...] = ()
    """A declared point: the outputs its rules set, in the order the point declares them (``Decision.outputs``)."""


class Memo:
    """What a baseline replay of one document found, for the candidate's replay of the same document
    (see :class:`Replayer`): matches by stage with the facts they were matched on, and the priced lines."""

    __slots__ = ("matches", "pricing")

    def __init__(self) -> None:
        self.matches: dict[str, tuple[FactSet, frozenset[Match]]] = {}
        self.pricing: _Priced | None = None


_Priced = tuple[tuple[tuple[str, int | None], ...], tuple[Decimal, ...], dict[int, Decimal], Decimal, FactSet | None,
                Verdict, Verdict]
"""(fired adjust rules as (id, line index), prices, price by line_no, revenue, checked facts, the verdict of the
fired rules, the pricing verdict with prices and revenue)."""


class Replayer:
    """One policy, compiled once for replays. After construction it keeps only caches, bounded, of what
    sets of matched rules come to and of formula-free line prices (a replay sees the same few over and
    over); no figure depends on them (``tests/test_simulate.py``): share it freely.

    Given the ``baseline`` it is compared with, a candidate replayer matches only the rules that
    differ: a rule with the same id, stage, scope and condition in both policies matches the same
    facts alike, so its matches are taken from the baseline's ``memo`` for the same document.
    Changing one threshold in a 28-rule policy then costs one condition per document, not 28.
    """

    def __init__(self, policy: Policy, baseline: Replayer | None = None) -> None:
        self.policy = policy
        self._backend = CompiledBackend(policy.stages())
        self._ladder = {role: i for i, role in enumerate(policy.roles)}
        self._shared: dict[str, frozenset[str]] = {}
        self._delta: CompiledBackend | None = None
        self._changed_stages: frozenset[str] = frozenset()
        self._unchanged: set[str] = set()
        self._same_prices: frozenset[str] = frozenset()
        self._staged = frozenset(policy.rules_by_stage)
        """The stages with rules."""
        self._baseline = baseline
        # A replay sees the same few fired-rule combinations over and over: what they mean is
        # worked out once (bounded, so an odd file cannot grow it without end).
        self._verdicts: dict[tuple[str, ...], Verdict] = {}
        self._stages: dict[tuple[object, ...], _Fired] = {}
        """By stage and matches (a candidate's: see :meth:`_matched`)."""
        # Likewise the policy price of a base price under the same rules without formulas (see _price_lines).
        self._prices: dict[tuple[Decimal, tuple[str, ...]], Decimal] = {}
        if baseline is not None:
            self._share_with(baseline.policy)

    def _share_with(self, baseline: Policy) -> None:
        theirs = {(r.id, r.stage): (r.scope, r.cond) for r in baseline.rules}
        actions = {r.id: _price_action(r) for r in baseline.rules if r.stage == "pricing.adjust"}
        # Adjust rules that change a price exactly as in the baseline: when the same ones fire on
        # a document, its prices are the baseline's.
        self._same_prices = frozenset(r.id for r in self.policy.rules
                                      if r.stage == "pricing.adjust" and actions.get(r.id) == _price_action(r))
        changed: list[Stage] = []
        baseline_ids: dict[str, set[str]] = {}
        for rule in baseline.rules:
            baseline_ids.setdefault(rule.stage, set()).add(rule.id)
        for stage in self.policy.stages():
            same = frozenset(r.id for r in stage.rules if theirs.get((r.id, stage.name)) == (r.scope, r.cond))
            self._shared[stage.name] = same
            rest = tuple(r for r in stage.rules if r.id not in same)
            if rest:
                changed.append(Stage(stage.name, rest, stage.vocabulary))
            elif same == baseline_ids.get(stage.name, set()):
                self._unchanged.add(stage.name)  # every rule the same both sides: the baseline's matches are ours
        self._changed_stages = frozenset(s.name for s in changed)
        self._delta = CompiledBackend(changed) if changed else None

    def _matched(self, stage: str, factset: FactSet, memo: Memo | None
                 ) -> tuple[tuple[object, ...], frozenset[Match] | tuple[frozenset[Match], frozenset[Match]]]:
        """The key the matches of ``stage`` on ``factset`` are known by in :attr:`_stages`, and the matches; or,
        for a candidate, the baseline's matches and its own, from which :meth:`_shared_matches` works its
        matches out only if the key is new.

        A candidate's matches are the baseline's of the rules both have (in the ``memo``) and its own of the
        rules that differ: known by the pair of them, the baseline's set already hashed by the baseline."""
        if memo is not None and self._shared:
            known = memo.matches.get(stage)
            if known is not None and known[0] is factset:
                if stage in self._unchanged:
                    return (stage, known[1]), known[1]
                delta = self._delta.match(stage, factset) if self._delta is not None and \
                    stage in self._changed_stages else _NO_MATCHES
                return (stage, known[1], delta), (known[1], delta)
        matches = self._backend.match(stage, factset)
        if memo is not None and not self._shared:
            memo.matches[stage] = (factset, matches)
        return (stage, matches), matches

    def _shared_matches(self, stage: str, baseline: frozenset[Match], own: frozenset[Match]) -> frozenset[Match]:
        """A candidate's matches of ``stage``: the ``baseline``'s of the rules both policies have, and its ``own``."""
        shared = self._shared.get(stage, frozenset())
        return frozenset(m for m in baseline if m[0] in shared) | own

    def order_paths(self, points: Iterable[str] = ORDER_POINTS) -> frozenset[str]:
        """Every fact the policy's order decision points read: what :meth:`order` needs flattened."""
        reads = self.policy.fact_reads
        return frozenset().union(*(reads.get(point, frozenset()) for point in points))

    def order_factset(self, facts: OrderFacts, paths: frozenset[str] | None = None,
                      today: date | None = None) -> FactSet:
        """The order flattened once for every point and policy, as of ``today`` (default: its order date)."""
        return order_factset(facts, paths=self.order_paths() if paths is None else paths,
                             today=facts.order.order_date if today is None else today)

    def order(self, point: str, facts: OrderFacts, factset: FactSet, memo: Memo | None = None) -> Verdict:
        """``order_approval``, ``credit_check`` or ``pricing`` on one order, flattened once for all
        decision points (and policies) with at least :meth:`order_paths`. ``memo``: a baseline replayer
        fills it, the candidate replayer of the same document reads it."""
        if point == "pricing":
            return self._pricing(facts, factset, memo)
        return self._stage(point, factset, memo).verdict

    def return_factset(self, facts: ReturnFacts, paths: frozenset[str] | None = None,
                       today: date | None = None) -> FactSet:
        """The return flattened, as of ``today`` (a return carries no date of its own)."""
        reads = self.policy.fact_reads.get("return_handling", frozenset())
        return return_factset(facts, paths=reads if paths is None else paths, today=today)

    def return_(self, facts: ReturnFacts, factset: FactSet, memo: Memo | None = None) -> Verdict:
        fired = self._stage("return_handling", factset, memo)
        verdict = fired.verdict
        _, _, refund = refund_terms(facts.return_request.amount, *fired.rates, verdict.outcome)
        return Verdict(verdict.outcome, verdict.roles, verdict.rules, refund=refund)

    def document(self, point: str, facts: BaseModel, today: date | None = None) -> Verdict:
        """A point declared in a policy directory or by a plugin, on one document validated with the
        point's fact model in this policy (:attr:`Policy.points`): outcome, roles and the outputs
        its rules set, as ``Decision.outputs`` combines them; as of ``today``."""
        spec = self.policy.points[point]
        if point not in self.policy.rules_by_stage:
            return _ALLOW
        factset = document_factset(facts, today=today)
        fired = _in_stage_order(self.policy, point, self._backend.match(point, factset))
        verdict = self._verdict([rule for rule, _ in fired])
        if not spec.declared_outputs:
            return verdict
        outputs = output_values(spec, fired, factset)
        if not outputs:
            return verdict
        return Verdict(verdict.outcome, verdict.roles, verdict.rules, outputs=tuple(outputs.items()))

    def _stage(self, stage: str, factset: FactSet, memo: Memo | None) -> _Fired:
        """What the rules of ``stage`` that match ``factset`` come to, worked out once per set of matches."""
        if stage not in self._staged:
            return _NOTHING
        key, matched = self._matched(stage, factset, memo)
        found = self._stages.get(key)
        if found is None:
            matches = matched if isinstance(matched, frozenset) else self._shared_matches(stage, *matched)
            pairs = _in_stage_order(self.policy, stage, matches)
            rules = tuple(rule for rule, _ in pairs)
            found = _Fired(pairs, rules, tuple((rule.id, hit) for rule, hit in pairs), self._verdict(rules),
                           refund_rates(rules), all(rule.id in self._same_prices for rule in rules))
            if len(self._stages) >= _CACHE:
                self._stages.clear()
            self._stages[key] = found
        return found

    def _pricing(self, facts: OrderFacts, factset: FactSet, memo: Memo | None) -> Verdict:
        policy = self.policy
        adjusted = self._stage("pricing.adjust", factset, memo)
        key = adjusted.key
        known = memo.pricing if memo is not None and self._shared else None
        reused: _Priced | None = None
        if known is not None and known[0] == key and adjusted.same_prices:
            reused = known
            _, prices, by_line, revenue, checked, _, _ = known  # the same changes to the same lines
        else:
            try:
                prices, by_line, revenue = self._price_lines(facts, factset, adjusted)
            except PolicyError:  # a price beyond what prices may be: the gate answers by the failure mode
                return _FAILED[policy.failure_mode]
            checked = None
        verdict = adjusted.verdict
        if "pricing.check" in policy.rules_by_stage:
            if checked is None:
                checked = with_policy_prices(factset, by_line)
            check = self._stage("pricing.check", checked, memo)
            if check.rules:
                verdict = _with_check(adjusted, check, self._verdict)
        if reused is not None and reused[5] is verdict:
            return reused[6]  # the baseline's, to the last figure
        priced = Verdict(verdict.outcome, verdict.roles, verdict.rules, prices, revenue)
        if memo is not None and not self._shared:
            memo.pricing = (key, prices, by_line, revenue, checked, verdict, priced)
        return priced

    def _line_steps(self, adjusted: _Fired, lines: int) -> tuple[list[PriceSteps], tuple[tuple[str, ...] | None, ...]]:
        """The price steps of each line (:func:`~salesgate.policy.verdict.price_steps_by_line`) and, for a line
        whose steps have no formula, the ids of their rules (what its price depends on besides its base
        price); worked out once per fired rules and number of lines, and kept with the fired rules."""
        known = adjusted.steps
        found = known.get(lines)
        if found is None:
            steps = price_steps_by_line(adjusted.pairs, lines)
            fixed = tuple(tuple(step[0].id for step in own) if all(step[3] is not None for step in own) else None
                          for own in steps)
            found = (steps, fixed)
            if len(known) >= _LINE_COUNTS:
                known.clear()
            known[lines] = found
        return found

    def _price_lines(self, facts: OrderFacts, factset: FactSet, adjusted: _Fired
                     ) -> tuple[tuple[Decimal, ...], dict[int, Decimal], Decimal]:
        steps, fixed = self._line_steps(adjusted, len(facts.order.lines))
        products = {p.sku: p for p in facts.products}
        prices: list[Decimal] = []
        by_line: dict[int, Decimal] = {}
        revenue = ZERO
        known = self._prices
        for index, line in enumerate(facts.order.lines):
            product = products.get(line.sku)
            base = product.list_price if product is not None else line.unit_price
            line_steps = steps[index]
            rules = fixed[index]
            if not line_steps:
                price = line_price(base)
            elif rules is not None:
                # Changes without formulas: the price depends on the base and the rules alone. Equal bases
                # give equal prices, whatever their scale (the policy price is rounded to the cent).
                key = (base, rules)
                found = known.get(key)
                if found is None:
                    found = line_price(price_line(base, index, factset.items[index], line_steps, None))
                    if len(known) >= _CACHE:
                        known.clear()
                    known[key] = found
                price = found
            else:
                price = line_price(price_line(base, index, factset.items[index], line_steps, None))
            prices.append(price)
            by_line[line.line_no] = price
            revenue += line_amount(price, line.qty)
        return tuple(prices), by_line, revenue

    def _verdict(self, fired: Sequence[CompiledRule]) -> Verdict:
        if not fired:
            return _ALLOW
        key = tuple(rule.id for rule in fired)
        found = self._verdicts.get(key)
        if found is not None:
            return found
        outcome = Outcome.allow
        roles: set[str] = set()
        for rule in fired:
            action = rule.action
            if action.outcome.rank > outcome.rank:
                outcome = action.outcome
            roles.update(action.approvals)
        ladder = self._ladder
        ordered = tuple(sorted(roles, key=lambda r: (ladder.get(r, len(ladder)), r)))
        found = Verdict(outcome, ordered, tuple(dict.fromkeys(key)))
        if self._baseline is not None:  # the baseline's own when equal: a tally then sees the same one, and is done
            theirs = self._baseline._verdicts.get(key)
            if theirs is not None and theirs == found:
                found = theirs
        if len(self._verdicts) >= _CACHE:
            self._verdicts.clear()
        self._verdicts[key] = found
        return found


_CACHE = 65536
_LINE_COUNTS = 64
"""The most numbers of lines one set of fired rules keeps the price steps of (orders have a few, mostly)."""
_CHECKED = 64
"""The most check stage verdicts one set of fired adjust rules keeps its verdict with (see :func:`_with_check`)."""


@dataclass(frozen=True, slots=True)
class _Fired:
    """The rules of one stage that fired on a document, and what they come to (see ``Replayer._stage``)."""

    pairs: tuple[tuple[CompiledRule, int | None], ...]
    """(rule, line index or None), in stage order (:func:`~salesgate.policy.verdict.fired_in_order`)."""
    rules: tuple[CompiledRule, ...]
    key: tuple[tuple[str, int | None], ...]
    """(rule id, line index) of each of :attr:`pairs`."""
    verdict: Verdict
    rates: tuple[Decimal, Decimal]
    """:func:`~salesgate.policy.verdict.refund_rates` of :attr:`rules`."""
    same_prices: bool
    """Whether every rule changes a price exactly as the baseline's rule of the same id (see ``Replayer``)."""
    steps: dict[int, tuple[list[PriceSteps], tuple[tuple[str, ...] | None, ...]]] = field(
        default_factory=dict, compare=False)
    """Pricing: :meth:`Replayer._line_steps` by number of lines, as worked out so far."""
    checked: dict[int, tuple[_Fired, Verdict]] = field(default_factory=dict, compare=False)
    """Pricing: by ``id()`` of the check stage's fired rules (kept with them, so the id stays theirs), the
    verdict of these adjust rules and those (see :func:`_with_check`)."""


def _with_check(adjusted: _Fired, check: _Fired, verdict: Callable[[Sequence[CompiledRule]], Verdict]) -> Verdict:
    """The verdict of the adjust stage's and the check stage's fired rules together (``verdict`` of both),
    worked out once per pair: an order's pricing asked for it every time its check stage fired."""
    known = adjusted.checked.get(id(check))
    if known is not None and known[0] is check:
        return known[1]
    found = verdict(adjusted.rules + check.rules)
    if len(adjusted.checked) >= _CHECKED:
        adjusted.checked.clear()
    adjusted.checked[id(check)] = (check, found)
    return found


_ALLOW = Verdict(Outcome.allow, (), ())
_NO_MATCHES: frozenset[Match] = frozenset()
_NOTHING = _Fired((), (), (), _ALLOW, refund_rates(()), True)
_FAILED = {"closed": Verdict(Outcome.block, (), ()), "open": Verdict(Outcome.warn, (), ())}
"""The gate's failure-mode decision, as a replay compares it: no roles, no rule fired, no prices."""


def _in_stage_order(policy: Policy, stage: str, matches: frozenset[Match]
                    ) -> tuple[tuple[CompiledRule, int | None], ...]:
    """:func:`~salesgate.policy.verdict.fired_in_order`, without summing the stage up: a replay reads the
    rules alone, and a gate's reasons, approvals and notifications (what ``stage_verdict`` builds for a
    match set not seen before) were a tenth of the first pass over a file. Taken from the policy's cache
    when a gate or a replay put it there, else :func:`~salesgate.policy.verdict.in_stage_order`
    (tests/test_simulate.py holds every replayed figure to the gate's decisions)."""
    known = policy.verdict_cache.get((stage, matches))
    if known is not None:
        return known.fired  # type: ignore[no-any-return]
    return in_stage_order(policy, stage, matches)


def _price_action(rule: CompiledRule) -> tuple[object, ...]:
    action = rule.action
    return (rule.scope, action.markup, action.discount, action.add, action.set_price, action.floor, action.stop)
