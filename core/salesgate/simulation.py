"""What-if simulation: replay historical orders, returns and documents through two policies and compare.

A policy owner changes a threshold; before it goes live they want to know what it does to last
year's orders: which outcomes change, how many more orders each approver must sign, how much
revenue and margin the new prices make, how much more is blocked. :func:`simulate` replays a
JSON Lines file (one ``salesgate decide`` input per line: an order document or a return
document; a document of a point a policy declares says its point:
``{"point": "shipment_release", "facts": {"shipment": {...}, "customer": {...}}}``) through a
baseline and a candidate policy with :class:`~salesgate.bulk.Replayer`, on every core, and sums
what changed into a :class:`Report`.

Work is split into byte ranges of the file, each read by a worker process of its own (nothing
but the range and the tallies crosses a process boundary). Tallies are sums, so the report does
not depend on how the file was split; the examples kept are the first ones in file order.
Lines that are not valid facts are counted and reported with their line number, never skipped
silently.
"""

from __future__ import annotations

import bisect
import functools
import gc
import io
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .bulk import Memo, Replayer, Verdict
from .decisions import Outcome
from .documents import known_fields
from .errors import SalesgateError, did_you_mean
from .facts import FactSet, _plan
from .history import HistoryFact
from .models import OrderFacts, ReturnFacts, kept_by_text
from .money import ZERO, round_money
from .plugins import installed_points
from .pointspecs import ORDER_POINTS, POINT_SPECS, PointSpec
from .policy.compiler import CompiledRule, Policy, load_policy
from .policy.plainwords import plain_message

EXAMPLES = 20
"""Changed decisions kept per decision point for the report (the first in file order)."""
RANGE_BYTES = 4 << 20
"""Work unit: about this many bytes of the file per task (a few thousand orders)."""


class SimulationError(SalesgateError):
    """The simulation cannot run: a missing file, an unreadable policy. Says what and where."""


@dataclass(frozen=True)
class Change:
    """One decision that differs between the baseline and the candidate."""

    line: int
    hook: str
    subject: str
    amount: Decimal
    before: Verdict
    after: Verdict


_Combination = tuple[Outcome, Outcome, tuple[str, ...], tuple[str, ...]]


@dataclass
class PointTally:
    """What one decision point decided under both policies, summed over the replayed documents.

    The replay counts (outcome and roles before, outcome and roles after) combinations, one
    counter step per decision; the per-outcome and per-role figures are read from those counts.
    """

    decided: int = 0
    changed: int = 0
    outputs_changed: int = 0
    """A declared point: decisions whose outputs (``Decision.outputs``) differ."""
    pairs: Counter[_Combination] = field(default_factory=Counter)
    amount: Decimal = ZERO
    blocked_before: Decimal = ZERO
    blocked_after: Decimal = ZERO
    revenue_before: Decimal = ZERO
    revenue_after: Decimal = ZERO
    cost: Decimal = ZERO
    refund_before: Decimal = ZERO
    refund_after: Decimal = ZERO
    examples: list[Change] = field(default_factory=list)

    def add(self, line: int, point: str, subject: str, amount: Decimal, before: Verdict,
            after: Verdict) -> None:
        self.decided += 1
        self.amount += amount
        self.pairs[(before.outcome, after.outcome, before.roles, after.roles)] += 1
        if before.outcome is Outcome.block:
            self.blocked_before += amount
        if after.outcome is Outcome.block:
            self.blocked_after += amount
        if before.revenue is not None and after.revenue is not None:
            self.revenue_before += before.revenue
            self.revenue_after += after.revenue
        elif before.refund is not None and after.refund is not None:
            self.refund_before += before.refund
            self.refund_after += after.refund
        if before is after or before == after:
            return
        self.changed += 1
        if before.outputs != after.outputs:
            self.outputs_changed += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(Change(line, point, subject, amount, before, after))

    def merge(self, other: PointTally, line_offset: int) -> None:
        """Add a later range's tally (its example lines are relative to its range)."""
        self.decided += other.decided
        self.changed += other.changed
        self.outputs_changed += other.outputs_changed
        self.pairs.update(other.pairs)
        for name in ("amount", "blocked_before", "blocked_after", "revenue_before", "revenue_after", "cost",
                     "refund_before", "refund_after"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for change in other.examples[:max(0, EXAMPLES - len(self.examples))]:
            self.examples.append(Change(change.line + line_offset, change.hook, change.subject, change.amount,
                                        change.before, change.after))

    def _count(self, pick: Callable[[_Combination], Iterable[str]]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for pair, n in self.pairs.items():
            for key in pick(pair):
                counts[key] += n
        return counts

    @property
    def outcomes_before(self) -> Counter[str]:
        """Decisions per outcome under the baseline."""
        return self._count(lambda p: (p[0].value,))

    @property
    def outcomes_after(self) -> Counter[str]:
        return self._count(lambda p: (p[1].value,))

    @property
    def transitions(self) -> Counter[tuple[str, str]]:
        """(baseline outcome, candidate outcome) → decisions, for outcomes that differ."""
        counts: Counter[tuple[str, str]] = Counter()
        for (old, new, _, _), n in self.pairs.items():
            if old is not new:
                counts[(old.value, new.value)] += n
        return counts

    @property
    def roles_before(self) -> Counter[str]:
        """Decisions that need each role under the baseline."""
        return self._count(lambda p: p[2])

    @property
    def roles_after(self) -> Counter[str]:
        return self._count(lambda p: p[3])

    @property
    def roles_gained(self) -> Counter[str]:
        """Decisions that need a role under the candidate and did not under the baseline."""
        return self._count(lambda p: [r for r in p[3] if r not in p[2]])

    @property
    def roles_dropped(self) -> Counter[str]:
        return self._count(lambda p: [r for r in p[2] if r not in p[3]])

    @property
    def margin_before(self) -> Decimal:
        return self.revenue_before - self.cost

    @property
    def margin_after(self) -> Decimal:
        return self.revenue_after - self.cost


@dataclass(frozen=True)
class InvalidLine:
    line: int
    message: str


@dataclass
class Tally:
    """A range's (or the whole file's) tallies: per decision point, plus the lines that were not facts."""

    lines: int = 0
    orders: int = 0
    returns: int = 0
    documents: int = 0
    """Lines of a point a policy declares (``{"point": ..., "facts": ...}``)."""
    hooks: dict[str, PointTally] = field(default_factory=dict)
    invalid: int = 0
    invalid_examples: list[InvalidLine] = field(default_factory=list)

    def for_point(self, point: str) -> PointTally:
        found = self.hooks.get(point)
        if found is None:
            found = self.hooks[point] = PointTally()
        return found

    def merge(self, other: Tally) -> None:
        offset = self.lines
        for point, tally in other.hooks.items():
            self.for_point(point).merge(tally, offset)
        self.orders += other.orders
        self.returns += other.returns
        self.documents += other.documents
        self.invalid += other.invalid
        for bad in other.invalid_examples[:max(0, EXAMPLES - len(self.invalid_examples))]:
            self.invalid_examples.append(InvalidLine(bad.line + offset, bad.message))
        self.lines += other.lines


@dataclass(frozen=True)
class Report:
    """The outcome of a simulation: tallies per decision point and where they came from."""

    source: str
    baseline: Policy
    candidate: Policy
    hooks: tuple[str, ...]
    tally: Tally
    seconds: float
    workers: int

    def spec(self, point: str) -> PointSpec:
        """The point's declaration: the candidate's, else the baseline's."""
        return self.candidate.points.get(point) or self.baseline.points[point]

    def title(self, point: str) -> str:
        """The point's name for people (``Credit check``, ``Shipment release``)."""
        return self.spec(point).title.en


# -- replaying ----------------------------------------------------------------------------------

class _Pair:
    """Both policies, ready to replay; decision points whose rules are the same in both are decided once."""

    def __init__(self, baseline: Policy, candidate: Policy, points: Sequence[str], as_of: date | None = None) -> None:
        self.as_of = as_of if as_of is not None else candidate.today()
        """The as-of date of lines with no date of their own (returns, documents); an order's is its order date."""
        self.before = Replayer(baseline)
        self.after = Replayer(candidate, baseline=self.before)
        self.points = tuple(points)
        self.order_points = tuple(h for h in points if h in ORDER_POINTS)
        self.returns = "return_handling" in points
        self.same = {point: _same_rules(baseline, candidate, point) for point in points}
        self.order_paths = self.before.order_paths(self.order_points) | self.after.order_paths(self.order_points)
        reads = (baseline.fact_reads.get("return_handling", frozenset())
                 | candidate.fact_reads.get("return_handling", frozenset()))
        self.return_paths = reads
        # Lines are read with the candidate's documents: the shipped ones with the facts it declares.
        self.order_model: type[OrderFacts] = candidate.points["order_approval"].document  # type: ignore[assignment]
        self.return_model: type[ReturnFacts] = candidate.points["return_handling"].document  # type: ignore[assignment]
        self.declared: dict[str, tuple[PointSpec | None, PointSpec | None]] = {
            name: (baseline.points.get(name), spec) for name, spec in candidate.points.items() if not spec.built_in}
        self.declared.update({name: (spec, None) for name, spec in baseline.points.items()
                              if not spec.built_in and name not in candidate.points})

    def replay(self, lines: Iterator[bytes], start: int = 0,
               history: Mapping[int, Mapping[str, Any]] | None = None,
               reads: Mapping[int, tuple[str, date, Decimal]] | None = None) -> Tally:
        """Replay the lines of one range, the first starting at byte ``start`` of the file. ``history``:
        the history facts computed for each order line of the range (as of its order date, the date it
        is decided as of), by the byte offset the line starts at. ``reads``: the history was worked out
        from these readings of the range's order lines (customer id, order date, total by the byte offset
        of the line; :func:`_order_events`, quick ones among them): each is checked against the line's
        facts, and :class:`_Misread` raised on the first that differs."""
        history = history or {}
        tally = Tally()
        point_tallies = {point: tally.for_point(point) for point in self.points}
        before_replayer, after_replayer = self.before, self.after
        order_points = [(point, point_tallies[point], self.same[point], point == "pricing")
                        for point in self.order_points]
        offset = start
        for number, raw in enumerate(lines, start=1):
            tally.lines = number
            line_start, offset = offset, offset + len(raw)
            if raw.isspace():  # a blank line (no copy of the line, as strip() made)
                continue
            read = reads.get(line_start) if reads is not None else None
            try:
                facts = _parse(raw, self.order_model, self.return_model)
                if read is not None and not (isinstance(facts, OrderFacts) and read[0] == facts.customer.id
                                             and read[1] == facts.order.order_date):
                    raise _Misread(f"byte {line_start}")  # the total is checked once worked out, below
                if isinstance(facts, _Document):
                    decided = self._document(facts)
                    tally.documents += 1
                    if decided is not None:
                        point, subject, before, after = decided
                        point_tallies[point].add(number, point, subject, ZERO, before, after)
                    continue
            except _NotFacts as exc:
                if read is not None:
                    raise _Misread(f"byte {line_start}") from None
                tally.invalid += 1
                if len(tally.invalid_examples) < EXAMPLES:
                    tally.invalid_examples.append(InvalidLine(number, str(exc)))
                continue
            if isinstance(facts, OrderFacts):
                tally.orders += 1
                if not self.order_points:
                    if read is not None and read[2] != facts.order.total:
                        raise _Misread(f"byte {line_start}")
                    continue
                factset = self.before.order_factset(facts, self.order_paths, facts.order.order_date)
                if line_start in history:
                    _add_history(factset, facts, history[line_start])
                amount = factset.root.get("order.total")
                if amount is None:  # no rule reads it, so it was not flattened
                    amount = facts.order.total
                if read is not None and read[2] != amount:
                    raise _Misread(f"byte {line_start}")
                memo = Memo()
                subject = facts.order.id
                for point, point_tally, same, pricing in order_points:
                    before = before_replayer.order(point, facts, factset, memo)
                    after = before if same else after_replayer.order(point, facts, factset, memo)
                    point_tally.add(number, point, subject, amount, before, after)
                    if pricing and before.revenue is not None and after.revenue is not None:
                        point_tally.cost += _cost(facts)  # the same under both policies; of the orders revenue counts
            else:
                tally.returns += 1
                if not self.returns:
                    continue
                factset = self.before.return_factset(facts, self.return_paths, self.as_of)
                memo = Memo()
                before = self.before.return_(facts, factset, memo)
                after = before if self.same["return_handling"] else self.after.return_(facts, factset, memo)
                point_tallies["return_handling"].add(number, "return_handling", facts.return_request.id,
                                                     facts.return_request.amount, before, after)
        return tally

    def _document(self, line: _Document) -> tuple[str, str, Verdict, Verdict] | None:
        """A declared point's document decided under both policies (each validates it with its own
        declaration of the point); None when the point is not replayed (``hooks``)."""
        specs = self.declared.get(line.point)
        if specs is None:
            known = list(self.declared)
            hint = did_you_mean(line.point, known)
            raise _NotFacts(f"point {line.point!r} is not a decision point either policy declares"
                            + (f" (did you mean {hint!r}?)" if hint else "")
                            + (f": {', '.join(known)}" if known and not hint else ""))
        before_spec, after_spec = specs
        if before_spec is None or after_spec is None:
            missing = "baseline" if before_spec is None else "candidate"
            raise _NotFacts(f"point {line.point!r} is not declared by the {missing} policy: a document is compared "
                            "on points both policies declare")
        if line.point not in self.same:
            return None
        before_facts = _document_facts(before_spec, line.facts)
        after_facts = before_facts if after_spec.document is before_spec.document else _document_facts(
            after_spec, line.facts)
        before = self.before.document(line.point, before_facts, self.as_of)
        after = before if self.same[line.point] and after_facts is before_facts else self.after.document(
            line.point, after_facts, self.as_of)
        return line.point, _subject(after_spec, after_facts), before, after


def _add_history(factset: FactSet, facts: OrderFacts, values: Mapping[str, Any]) -> None:
    """``factset``, flattened from ``facts``, made what flattening ``facts`` with the history facts computed for
    its customer gives, where the line carries none: each put where the flattening put the customer's None (in
    the root and every item; a fact no rule reads was not flattened, and is not added). The replay reads the
    customer's facts from the flattening alone, and copying the customer and the order's facts with
    ``model_copy`` to add them cost more than this."""
    customer = facts.customer
    fields = customer.__dict__
    root = factset.root
    plan = _customer_plan(type(customer))
    for name, value in values.items():
        found = plan.get(name)
        if found is None or found[0] not in root or fields.get(name) is not None:
            continue
        path, convert = found
        if convert is not None:
            value = convert(value)
        root[path] = value
        for item in factset.items:
            item[path] = value


@functools.cache
def _customer_plan(kind: type[BaseModel]) -> dict[str, tuple[str, Callable[[Any], Any] | None]]:
    """Each field of a customer model: its path and how the flattening converts it (:func:`salesgate.facts._plan`)."""
    return {name: (path, convert) for name, path, convert in _plan(kind, "customer", frozenset())}


def replayed_facts(baseline: Policy, candidate: Policy) -> dict[str, HistoryFact]:
    """The customer's history facts either policy says how to compute from the history (``simulate:``),
    by name; the candidate's declaration wins."""
    found: dict[str, HistoryFact] = {}
    for policy in (baseline, candidate):
        for spec in policy.points.values():
            found.update({fact.name: fact for fact in spec.history if fact.replay is not None
                          and fact.document == "customer"})
    return found


def replayed_history(path: Path, facts: Mapping[str, HistoryFact],
                     order_model: type[OrderFacts] = OrderFacts) -> dict[int, dict[str, Any]]:
    """Each order line's history facts over the earlier orders of its customer in the file, for the line's
    order date as its as-of date, by the byte offset the line starts at. A line that is not an order is
    skipped (the replay says why)."""
    return history_of(_order_events(str(path), 0, path.stat().st_size, order_model), facts)


_Event = tuple[int, str, date, Decimal]
"""An order line as its customer's history sees it: (byte offset of the line, customer id, order date, total)."""


def _order_events(path: str, start: int, end: int, order_model: type[OrderFacts] = OrderFacts,
                  quick: bool = False) -> list[_Event]:
    """The orders of one byte range of the file, in file order: what :func:`history_of` needs of them.

    ``quick``: a line :func:`_quick_event` reads is taken as it reads it, unvalidated (the replay then
    checks every such reading against the line's facts: :class:`_Misread`)."""
    events: list[_Event] = []
    offset = start
    for raw in _lines(path, start, end):
        line_start, offset = offset, offset + len(raw)
        if raw.isspace() or b'"order"' not in raw:
            continue
        if quick:
            read = _quick_event(raw)
            if read is not None:
                events.append((line_start, *read))
                continue
        try:
            order = _parse(raw, order_model)
        except _NotFacts:
            continue
        if isinstance(order, OrderFacts):
            events.append((line_start, order.customer.id, order.order.order_date, order.order.total))
    return events


_QUICK_ORDER = re.compile(rb'\{"order": ?\{"id": ?"[^"\\]*", ?"customer_id": ?"([^"\\]*)", ?'
                          rb'"order_date": ?"([0-9]{4}-[0-9]{2}-[0-9]{2})"')
_QUICK_LINE = re.compile(rb'"qty": ?([0-9]{1,10}), ?"unit_price": ?"([0-9]{1,14}(?:\.[0-9]{1,4})?)", ?'
                         rb'"discount": ?"([0-9](?:\.[0-9]{1,4})?)"')


def _quick_event(raw: bytes) -> tuple[str, date, Decimal] | None:
    """(customer id, order date, total) of an order line as ``json.dumps`` or ``model_dump_json`` writes one,
    read from its text by two regular expressions, without validating it (some microseconds, where
    validating the line takes tens); None for a line in any other shape.

    A guess, never trusted alone: :meth:`_Pair.replay` is handed every reading and checks that the
    line is a valid order with this customer, date and total (:class:`_Misread` otherwise)."""
    head = _QUICK_ORDER.match(raw)
    if head is None:
        return None
    lines = _QUICK_LINE.findall(raw)
    if not lines or len(lines) != raw.count(b'"line_no":'):
        return None
    try:  # a day that is no date, a customer id that is not UTF-8 (UnicodeDecodeError is a ValueError)
        day = date.fromisoformat(head[2].decode())
        customer = head[1].decode()
    except ValueError:
        return None  # read the slow way: validated, and counted as invalid if it is
    total = ZERO
    for qty, price, discount in lines:
        unit = _QUICK_PRICES.get(price)
        if unit is None:
            unit = kept_by_text(_QUICK_PRICES, price, Decimal(price.decode()))
        rest = _QUICK_RESTS.get(discount)
        if rest is None:
            rest = kept_by_text(_QUICK_RESTS, discount, 1 - Decimal(discount.decode()))
        total += round_money(int(qty) * unit * rest)  # as OrderLine.amount: (qty × unit price) × (1 − discount)
    return customer, day, total


_QUICK_PRICES: dict[bytes, Decimal] = {}
"""A unit price's text → the price, as :func:`_quick_event` read it before (a file names the same few over and over)."""
_QUICK_RESTS: dict[bytes, Decimal] = {}
"""A discount's text → 1 − the discount, likewise."""


class _Misread(Exception):
    """A line the quick history pass read (:func:`_quick_event`) is not the order it read: the history is
    read again, validating every line, and the file replayed again."""


def history_of(events: Sequence[_Event], facts: Mapping[str, HistoryFact]) -> dict[int, dict[str, Any]]:
    """Each order's history facts (by the byte offset of its line) over the earlier ``events`` (in file
    order) of the same customer whose order date falls in the fact's window for the order's date."""
    return next(_histories([events], facts))


def _histories(ranges: Sequence[Sequence[_Event]], facts: Mapping[str, HistoryFact]
               ) -> Iterator[dict[int, dict[str, Any]]]:
    """:func:`history_of` the orders of each range in turn (the ranges in file order), so that a range is
    replayed while the history facts of the next are worked out.

    Worked out per customer: over its days in file order by running sums and bisection when they are
    in date order (a file sorted by date, as ``salesgate export`` writes it); otherwise with a Fenwick
    tree over the customer's distinct days, so a file in any order costs O(n log n), not O(n²).
    """
    by_customer: dict[str, list[_Event]] = {}
    for events in ranges:
        for event in events:
            by_customer.setdefault(event[1], []).append(event)
    measures: dict[str, _InOrder | _AnyOrder] = {}
    for customer, own in by_customer.items():
        in_order = all(a[2] <= b[2] for a, b in itertools.pairwise(own))
        measures[customer] = _InOrder(own) if in_order else _AnyOrder(own)
    passed = dict.fromkeys(by_customer, 0)
    windows: dict[tuple[str, date], tuple[date, date]] = {}
    named = list(facts.items())
    for events in ranges:
        out: dict[int, dict[str, Any]] = {}
        for line_start, customer, day, _ in events:
            measure, index = measures[customer], passed[customer]
            values: dict[str, Any] = {}
            for name, fact in named:
                bounds = windows.get((name, day))
                if bounds is None:
                    bounds = windows[(name, day)] = fact.bounds(day)
                count, total, latest = measure.window(index, *bounds)
                value = _measured(fact, day, count, total, latest)
                if value is not None:
                    values[name] = value
            out[line_start] = values
            measure.add(index)
            passed[customer] = index + 1
        yield out


class _InOrder:
    """One customer's orders whose days are in file order: a window over the earlier ones is two bisections."""

    def __init__(self, own: Sequence[_Event]) -> None:
        self.days = [event[2] for event in own]
        self.running = [ZERO]
        for event in own:
            self.running.append(self.running[-1] + event[3])

    def add(self, index: int) -> None:
        """Nothing to do: the earlier orders are the first ``index`` of the days."""

    def window(self, index: int, start: date, end: date) -> tuple[int, Decimal, date | None]:
        first = bisect.bisect_left(self.days, start, 0, index)
        last = bisect.bisect_left(self.days, end, 0, index)
        count = max(0, last - first)
        total = self.running[last] - self.running[first] if count else ZERO
        return count, total, self.days[last - 1] if count else None


class _AnyOrder:
    """One customer's orders in any date order: counts and totals of the earlier ones by day in a Fenwick
    tree over its distinct days (added as the orders are passed, queried by prefix)."""

    def __init__(self, own: Sequence[_Event]) -> None:
        self.own = own
        self.days = sorted({event[2] for event in own})
        self.rank = {day: i + 1 for i, day in enumerate(self.days)}
        size = len(self.days)
        self.counts = [0] * (size + 1)
        self.totals = [ZERO] * (size + 1)
        self.top = 1 << size.bit_length()

    def add(self, index: int) -> None:
        _, _, day, total = self.own[index]
        i, size = self.rank[day], len(self.days)
        while i <= size:
            self.counts[i] += 1
            self.totals[i] += total
            i += i & -i

    def _prefix(self, i: int) -> tuple[int, Decimal]:
        count, total = 0, ZERO
        while i > 0:
            count += self.counts[i]
            total += self.totals[i]
            i -= i & -i
        return count, total

    def window(self, index: int, start: date, end: date) -> tuple[int, Decimal, date | None]:
        if end <= start:
            return 0, ZERO, None
        below_end, total_end = self._prefix(bisect.bisect_left(self.days, end))
        below_start, total_start = self._prefix(bisect.bisect_left(self.days, start))
        count = below_end - below_start
        if count <= 0:
            return 0, ZERO, None
        return count, total_end - total_start, self._nth(below_end)

    def _nth(self, n: int) -> date:
        """The day of the ``n``-th earliest order added (1-based)."""
        position, step = 0, self.top
        while step:
            following = position + step
            if following < len(self.counts) and self.counts[following] < n:
                position = following
                n -= self.counts[following]
            step >>= 1
        return self.days[position]


def _measured(fact: HistoryFact, as_of: date, count: int, total: Decimal, latest: date | None) -> Any:
    assert fact.replay is not None  # noqa: S101 - only replayed facts are measured
    if fact.replay.measure == "sum":
        return total
    if fact.replay.measure == "count":
        return count
    return None if latest is None else (as_of - latest).days


def _document_facts(spec: PointSpec, facts: Any) -> BaseModel:
    """The line's facts validated with the point's fact model; a misspelt field first, with a did-you-mean."""
    try:
        return spec.document.model_validate(facts)
    except ValidationError as exc:
        errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
        error = errors[0]
        where = ".".join(str(part) for part in error["loc"]) or "facts"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = plain_message(error)
        if error["type"] == "extra_forbidden":
            hint = did_you_mean(str(error["loc"][-1]), known_fields(spec.document, error["loc"][:-1]))
            message = "not a fact salesgate knows" + (f" (did you mean {hint!r}?)" if hint else "")
        raise _NotFacts(f"{spec.name} facts {where}: {message}{more}") from None


def _subject(spec: PointSpec, facts: BaseModel) -> str:
    root, _, name = spec.subject.partition(".")
    return str(getattr(getattr(facts, root), name))


def _cost(facts: OrderFacts) -> Decimal:
    """Σ product cost × qty, each line rounded to the cent, over the lines with product facts."""
    costs = {p.sku: p.cost for p in facts.products}
    total = ZERO
    for line in facts.order.lines:  # a loop: a third cheaper than sum() of a generator, on every order priced
        cost = costs.get(line.sku)
        if cost is not None:
            total += round_money(cost * line.qty)
    return total


def _same_rules(baseline: Policy, candidate: Policy, point: str) -> bool:
    """Whether a decision point decides the same under both policies by construction: the same rules
    (everything but the file they were read from; a decision table's row with its table's hit policy
    and its place in it), the same approval ladder and, at a declared point, the same outputs (how
    they combine)."""
    def key(policy: Policy) -> list[tuple[Any, ...]]:
        return [(r.id, r.stage, r.priority, r.scope, r.cond, r.action.outcome, r.action.approvals, r.action.markup,
                 r.action.discount, r.action.add, r.action.set_price, r.action.floor, r.action.stop,
                 r.action.refund, r.action.restocking_fee, r.action.outputs, _hit(policy, r))
                for r in policy.rules if r.hook == point]

    def outputs(policy: Policy) -> Any:
        spec = policy.points.get(point)
        return None if spec is None else spec.declared_outputs
    return (baseline.roles == candidate.roles and key(baseline) == key(candidate)
            and outputs(baseline) == outputs(candidate))


def _hit(policy: Policy, rule: CompiledRule) -> tuple[str, str, tuple[int, int]] | None:
    """A table row's table, hit policy and rank: what decides whether it applies when it matches."""
    table = policy.tables.get(rule.table) if rule.table else None
    return None if table is None else (table.name, table.hit, table.rank[rule.id])


class _NotFacts(Exception):
    pass


@dataclass(frozen=True)
class _Document:
    """A line of a point a policy declares: ``{"point": ..., "facts": {...}}``, validated per policy."""

    point: str
    facts: Any


_BOM = b"\xef\xbb\xbf"
_DIGITS = bytes(0x23 if chr(i) in "0123456789." else 0x20 for i in range(256))  # digits and '.' → '#'
_LONG_NUMBER = b"#" * 16
"""A number a binary float may not carry exactly (16 or more digits and points in a row): pydantic
reads JSON numbers through float, so such a line is parsed with every number read from its text.
Found with ``bytes.translate``, about 1 µs a line, where a regular expression took 10."""


def _parse(raw: bytes, order_model: type[OrderFacts] = OrderFacts,
           return_model: type[ReturnFacts] = ReturnFacts) -> OrderFacts | ReturnFacts | _Document:
    """An order or a return document (which one is told by its top-level key), or a declared point's
    document: ``{"point": ..., "facts": {...}}``."""
    if raw.startswith(_BOM):  # a file saved by a Windows editor starts with one
        raw = raw[len(_BOM):]
    if b'"point"' in raw:
        document = _document_line(raw)
        if document is not None:
            return document
    kind: type[OrderFacts] | type[ReturnFacts] = return_model if b'"return' in raw and b'"order"' not in raw \
        else order_model
    source: bytes | Any = raw
    if _LONG_NUMBER in raw.translate(_DIGITS):
        try:
            source = json.loads(raw, parse_float=Decimal)
        except ValueError as exc:
            raise _NotFacts(f"not JSON: {exc}") from None
    try:
        return _validated(kind, source)
    except ValidationError as first:
        other: type[OrderFacts] | type[ReturnFacts] = order_model if kind is return_model else return_model
        try:
            return _validated(other, source)
        except ValidationError:
            pass
        error = first.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "document"
        if error["type"] == "json_invalid":
            raise _NotFacts(f"not JSON: {error['msg']}") from None
        more = f" (and {first.error_count() - 1} more)" if first.error_count() > 1 else ""
        what = "order facts" if kind is order_model else "return facts"
        raise _NotFacts(f"{what} {where}: {plain_message(error)}{more}") from None


def _document_line(raw: bytes) -> _Document | None:
    """The point and facts of a declared point's line; None when the line has no top-level ``point``."""
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None  # not JSON: said when it is read as an order
    if not isinstance(data, dict) or "point" not in data:
        return None
    point = data["point"]
    extra = sorted(set(data) - {"point", "facts"})
    if extra or not isinstance(point, str) or not isinstance(data.get("facts"), dict):
        raise _NotFacts('a document of a declared point is {"point": "<point>", "facts": {...}}'
                        + (f"; unknown key {extra[0]!r}" if extra else ""))
    if point in POINT_SPECS:
        raise _NotFacts(f"point {point!r} is built in: write its order or return as the line itself (an order "
                        "is decided at every order point)")
    return _Document(point, data["facts"])


def _validated(kind: type[OrderFacts] | type[ReturnFacts], source: Any) -> OrderFacts | ReturnFacts:
    return kind.model_validate_json(source) if isinstance(source, bytes) else kind.model_validate(source)


# -- workers ------------------------------------------------------------------------------------

_WORKER: _Pair | None = None
_PREPARED: dict[tuple[str, str, tuple[str, str], tuple[str, ...], date], _Pair] = {}
"""Pairs :func:`simulate` made ready for its workers, by their initializer's arguments: a worker forked
from the simulating process (the default start method on Linux) finds its pair here, policies loaded
and rules compiled, instead of loading both policies again (about a second each worker)."""


def _start_worker(baseline_dir: str, candidate_dir: str, hashes: tuple[str, str],
                  points: tuple[str, ...], as_of: date) -> None:
    global _WORKER  # one per worker process, set once by the pool's initializer
    prepared = _PREPARED.get((baseline_dir, candidate_dir, hashes, points, as_of))
    if prepared is None:
        baseline, candidate = _load(baseline_dir), _load(candidate_dir)
        if (baseline.hash, candidate.hash) != hashes:
            raise SimulationError("a policy directory changed while the simulation started; run it again")
        prepared = _Pair(baseline, candidate, points, as_of)
    _WORKER = prepared
    gc.freeze()  # all the worker starts with lives as long as it does: no collection need walk it again


_PackedEvents = tuple[list[int], list[str], list[int], list[str]]


def _worker_events(path: str, start: int, end: int, quick: bool) -> _PackedEvents:
    """A range's :func:`_order_events`, sent back as four lists of plain values (dates as ordinals, totals
    as text): a tenth of the pickling time of as many tuples of dates and Decimals."""
    assert _WORKER is not None, "worker not started"  # noqa: S101 - set by the pool initializer
    events = _order_events(path, start, end, _WORKER.order_model, quick)
    return ([e[0] for e in events], [e[1] for e in events], [e[2].toordinal() for e in events],
            [str(e[3]) for e in events])


def _unpacked(packed: _PackedEvents) -> list[_Event]:
    return [(line_start, customer, date.fromordinal(day), Decimal(total)) for line_start, customer, day, total
            in zip(*packed, strict=True)]


def _replay_range(path: str, start: int, end: int, history: Mapping[int, Mapping[str, Any]],
                  reads: _PackedEvents | None) -> Tally:
    """Replay one range in a worker; ``reads``: the range's packed :func:`_worker_events` to check (see
    :meth:`_Pair.replay`), None when the history was not read quickly."""
    assert _WORKER is not None, "worker not started"  # noqa: S101 - set by the pool initializer
    return _WORKER.replay(_lines(path, start, end), start, history, None if reads is None else _reads(_unpacked(reads)))


def _reads(events: Sequence[_Event]) -> dict[int, tuple[str, date, Decimal]]:
    """What :meth:`_Pair.replay` checks of each order line of a range: the history's reading of it."""
    return {line_start: (customer, day, total) for line_start, customer, day, total in events}


def _lines(path: str, start: int, end: int) -> Iterator[bytes]:
    """The lines that start in ``[start, end)`` of the file (``start`` is a line's start), each whole, with its
    ``\n``: read a block at a time and split there (a generator's step per line cost a fiftieth of a replay)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        position = start
        while position < end:
            block = handle.read(min(_BLOCK_BYTES, end - position))
            if not block:
                return
            if not block.endswith(b"\n"):
                block += handle.readline()  # the line the block ends in, whole (past ``end`` if it started before)
            position += len(block)
            yield from io.BytesIO(block)


_BLOCK_BYTES = 1 << 20
"""How much of the file :func:`_lines` reads at once."""


def _ranges(path: Path, size: int, parts: int) -> list[tuple[int, int]]:
    """Byte ranges of about ``size`` bytes (at least ``parts`` of them), each starting on a line."""
    total = path.stat().st_size
    step = max(1, min(size, total // max(1, parts) + 1))
    bounds = [0]
    with path.open("rb") as handle:
        while bounds[-1] + step < total:
            handle.seek(bounds[-1] + step)
            handle.readline()  # to the start of the next line
            position = handle.tell()
            if position >= total:
                break
            bounds.append(position)
    bounds.append(total)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _load(path: str | Path) -> Policy:
    """A policy as a gate loads it: with the points installed plugins declare."""
    return load_policy(path, points=installed_points())


def points_of(baseline: Policy, candidate: Policy) -> tuple[str, ...]:
    """Every point of either policy: the candidate's in its order, then those only the baseline has."""
    return tuple(dict.fromkeys([*candidate.points, *baseline.points]))


def simulate(baseline: str | Path, candidate: str | Path, source: str | Path, *,
             hooks: Sequence[str] | None = None, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None, label: str | None = None,
             as_of: date | None = None) -> Report:
    """Replay ``source`` (JSON Lines) through the policies in ``baseline`` and ``candidate``.

    Each order is decided as of its order date (what the rules read as ``today``, which rules are in
    force); returns and documents, which carry no date of their own, as of ``as_of`` (default: today in
    the candidate policy's time zone).

    ``hooks``: the decision points to replay (default: every point of either policy).
    ``workers``: processes to use (default: every core; 1 replays in this process).
    ``progress(done_bytes, total_bytes)`` is called as ranges finish. ``label`` names the history
    in the report (default: the file's path).
    """
    import time

    started = time.perf_counter()
    path = Path(source)
    if not path.is_file():
        raise SimulationError(f"{path}: no such file (give a JSON Lines file of orders and returns)")
    before, after = _load(baseline), _load(candidate)
    every = points_of(before, after)
    unknown = [h for h in (hooks or ()) if h not in every]
    if unknown:
        hint = did_you_mean(unknown[0], every)
        raise SimulationError(f"unknown decision point {unknown[0]!r}" + (f" (did you mean {hint!r}?)" if hint else "")
                              + f": use {', '.join(every)}")
    chosen = tuple(h for h in every if hooks is None or h in hooks)
    count = workers or os.cpu_count() or 1
    total = path.stat().st_size
    ranges = _ranges(path, RANGE_BYTES, count * 4 if count > 1 else 1)
    replayed = replayed_facts(before, after)
    needs_history = bool(replayed) and any(h in ORDER_POINTS for h in chosen)

    def histories(events: Sequence[Sequence[_Event]]) -> Iterator[Mapping[int, Mapping[str, Any]]]:
        """The history facts of each range's lines: a worker is sent those of the range it replays."""
        return _histories(events, replayed) if needs_history else itertools.repeat({})

    if count == 1 or len(ranges) == 1:
        pair = _Pair(before, after, chosen, as_of)

        def replay_here(quick: bool) -> Tally:
            events = [_order_events(str(path), a, b, pair.order_model, quick) if needs_history else []
                      for a, b in ranges]
            replayed_tally = Tally()
            for (start, end), part, own in zip(ranges, histories(events), events, strict=False):
                reads = _reads(own) if quick and needs_history else None
                replayed_tally.merge(pair.replay(_lines(str(path), start, end), start, part, reads))
                if progress is not None:
                    progress(end, total)
            return replayed_tally

        # As a worker does (_start_worker): the policies and the history live as long as the replay, so no
        # collection need walk them again (a full one walked them over and over as the replay's caches grew).
        freeze = gc.get_freeze_count() == 0
        if freeze:
            gc.freeze()
        try:
            tally = replay_here(quick=True)
        except _Misread:
            tally = replay_here(quick=False)
        finally:
            if freeze:
                gc.unfreeze()
    else:
        initargs = (str(baseline), str(candidate), (before.hash, after.hash), chosen, as_of or after.today())
        _PREPARED[initargs] = _Pair(before, after, chosen, initargs[4])
        try:
            with ProcessPoolExecutor(max_workers=count, initializer=_start_worker, initargs=initargs) as pool:
                def replay_pooled(quick: bool) -> Tally:
                    events: list[list[_Event]] = [[] for _ in ranges]
                    packed: list[_PackedEvents | None] = [None for _ in ranges]
                    if needs_history:  # read in parallel, worked out here in file order, range by range
                        found = [pool.submit(_worker_events, str(path), a, b, quick) for a, b in ranges]
                        packed = [future.result() for future in found]
                        events = [_unpacked(own) for own in packed if own is not None]
                    futures: list[Future[Tally]] = [
                        pool.submit(_replay_range, str(path), a, b, part, own if quick else None)
                        for (a, b), part, own in zip(ranges, histories(events), packed, strict=False)]
                    replayed_tally = Tally()
                    done = 0
                    try:
                        for (start, end), future in zip(ranges, futures, strict=True):
                            replayed_tally.merge(future.result())  # in file order, so examples and line numbers are too
                            done += end - start
                            if progress is not None:
                                progress(done, total)
                    except _Misread:
                        for future in futures:
                            future.cancel()
                        raise
                    return replayed_tally

                try:
                    tally = replay_pooled(quick=True)
                except _Misread:
                    tally = replay_pooled(quick=False)
        finally:
            _PREPARED.pop(initargs, None)
    return Report(label or str(path), before, after, chosen, tally, time.perf_counter() - started, count)
