"""Decisions through salesgate, against a hand-written floor, raw durable-rules and a peer engine (GoRules ZEN).

    python benchmarks/bench.py [--orders 100000] [--seed 42] [--hooks pricing,credit_check] [--quick]
                               [--backends durable,python] [--no-durable] [--no-zen] [--no-kept-alive]
    python benchmarks/bench.py --large-orders [1000,5000,10000]

For every decision point, side by side in one run and on the same validated facts, every decision
as of the same day (:data:`AS_OF`):

  floor           the seed policy written by hand as plain ``if`` code (benchmarks/handwritten.py)
  raw durable     durable-rules alone on the policy's compiled rulesets: encode, assert, collect
                  the fired rules, delete the session; no Decision is built
  ZEN             GoRules ZEN (zen-engine, optional: ``pip install '.[bench]'``) on the seed policy as
                  decision tables generated from the compiled rules (benchmarks/zen_graph.py)
  Gate/<backend>  ``gate.decide(point, facts, as_of=...)`` on each backend of salesgate.engine
                  (``--backends``), default plugins

Each call is timed on its own with ``time.perf_counter_ns`` (decisions/s, p50, p99); each chunk of
calls with ``time.process_time_ns`` (CPU µs per decision, what the targets compare). The implementations
run interleaved chunk by chunk, their order rotated per chunk; every Gate is built on the one policy the
facts were validated for, so none converts them per call. Facts are generated from a seeded
``random.Random`` and validated into the policy's pydantic models once, before any timing. Every
implementation must reach the same decision on every order: outcome, the approvals, the policy price
of every line (pricing) and the refund (returns), checked in a second, untimed pass.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import logging
import os
import platform
import random
import resource
import statistics
import sys
import time
import timeit
import tracemalloc
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
for source_root in ("core", "plugins", "adapters", "benchmarks"):
    if str(ROOT / source_root) not in sys.path:
        sys.path.insert(0, str(ROOT / source_root))

from handwritten import HANDWRITTEN, Verdict  # noqa: E402
from salesgate import DECISION_POINTS, Gate, OrderFacts, ReturnFacts, load_policy  # noqa: E402
from salesgate.decisions import Decision  # noqa: E402
from salesgate.engine import BACKEND_NAMES  # noqa: E402
from salesgate.facts import order_factset, return_factset, with_policy_prices  # noqa: E402
from salesgate.models import MAX_LINES, Customer, Order, Product  # noqa: E402
from salesgate.money import ONE, ZERO, round_money  # noqa: E402
from salesgate.plugins import installed_points  # noqa: E402
from salesgate.policy.compiler import CompiledRule, Policy  # noqa: E402

ORDER_POINTS = ("order_approval", "credit_check", "pricing")
AS_OF = date(2026, 12, 1)
"""Every decision's as-of date (``decide(..., as_of=AS_OF)``): rules reading ``today`` decide the same in every run."""
CENT = Decimal("0.01")
TARGET_DURABLE_RATIO = 0.4
TARGET_DURABLE_P99_US = 1000.0
TARGET_PYTHON_RATIO = 0.3
TARGET_ZEN_SPEEDUP = 2.0  # Gate at least 2× faster than ZEN (CPU per decision), per point and for all four
KEEP = 500  # decisions a caller keeps alive
TARGET_KEPT_ALIVE = 1.10  # at most 10 % slower with KEEP decisions alive

Normalised = tuple[str, tuple[str, ...], tuple[Decimal, ...], Decimal | None]


# -- synthetic facts ---------------------------------------------------------------------------------

def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(rng.randint(int(low * 100), int(high * 100))) / 100


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def make_customers(rng: random.Random, count: int, model: type[Customer] = Customer) -> list[Customer]:
    """Customers of ``model`` (the policy's own class, with the facts policy.yaml declares)."""
    names = ["华东机电有限公司", "南方五金商行", "Northwind Traders", "Acme Industrial", "北方重工集团",
             "Globex Supply", "西部建材", "Initech Parts", "海天贸易", "Umbrella Tools"]
    declared = set(model.model_fields) - set(Customer.model_fields)
    customers = []
    for i in range(count):
        facts: dict[str, Any] = dict(
            id=f"C{i:05d}", name=f"{rng.choice(names)} {i}",
            grade=rng.choice("AABBBCCC"),
            status=rng.choices(["active", "cash_only", "blocked"], [80, 12, 8])[0],
            region=rng.choice(["华东", "华南", "西南", "东北", "西北", "north", "west", ""]),
            region_has_distributor=rng.random() < 0.3,
            is_distributor=rng.random() < 0.15,
            credit_limit=rng.choice([Decimal(0), _money(rng, 5_000, 50_000), _money(rng, 50_000, 500_000)]),
            credit_rating=rng.choices(["good", "fair", "poor"], [60, 25, 15])[0],
            payment_terms_days=rng.choice([0, 15, 30, 30, 45, 60, 90]),
            has_repayment_plan=rng.random() < 0.3,
            has_repayment_agreement=rng.random() < 0.3,
        )
        history = {  # declared and history facts (policy.yaml facts:); None: the ERP did not send it
            "tenure_years": rng.choice([None, 1, 2, 3, 5, 10]),
            "credit_assessed": rng.choices([None, True, False], [40, 57, 3])[0],
            "repayment_agreement_days_left": rng.choice([None, -30, -1, 0, 15, 120]),
            "grade_assessed_on": None if rng.random() < 0.3 else AS_OF - timedelta(days=rng.randint(0, 45)),
            "stage": rng.choices([None, "signed", "prospect", "intent"], [50, 44, 3, 3])[0],
            "sales_last_4_quarters": rng.choices(
                [None, Decimal(0), _money(rng, 5_000, 100_000), _money(rng, 100_000, 3_000_000)], [30, 10, 20, 40])[0],
        }
        facts.update({name: value for name, value in history.items() if name in declared})
        customers.append(model(**facts))
    return customers


def make_products(rng: random.Random, count: int, model: type[Product] = Product) -> list[Product]:
    declared = set(model.model_fields) - set(Product.model_fields)
    products = []
    for i in range(count):
        price = rng.choice([_money(rng, 1, 50), _money(rng, 50, 800), _money(rng, 800, 5_000)])
        facts: dict[str, Any] = dict(
            sku=f"P{i:05d}", name=f"Part {i}", list_price=price,
            cost=_cents(price * Decimal(rng.randint(50, 95)) / 100), stock=rng.choice([0, 5, 20, 100, 500, 5_000]),
        )
        extra = {"make_or_buy": rng.choice([None, "make", "buy"]),
                 "restock_date": None if rng.random() < 0.6 else AS_OF + timedelta(days=rng.randint(-10, 60))}
        facts.update({name: value for name, value in extra.items() if name in declared})
        products.append(model(**facts))
    return products


def order_document(rng: random.Random, i: int, customers: Sequence[Customer],
                   products: Sequence[Product], declared: frozenset[str] = frozenset()) -> dict[str, Any]:
    """One order with its customer, products and exposure (customer/products are shared models);
    ``declared``: the order fields the policy declares (policy.yaml facts:), sent on some orders."""
    customer = rng.choice(customers)
    method = rng.choices(["cash", "transfer", "credit", "bank_acceptance_draft"], [10, 25, 50, 15])[0]
    lines = []
    used: dict[str, Product] = {}
    for line_no in range(1, rng.randint(1, 5) + 1):
        if rng.random() < 0.05:  # no product facts for this sku: rules reading line.product.* see None
            sku, base = f"X{rng.randint(0, 999):03d}", _money(rng, 1, 2_000)
        else:
            product = rng.choice(products)
            used[product.sku] = product
            sku, base = product.sku, product.list_price
        qty = rng.randint(100, 300) if rng.random() < 0.15 else rng.randint(1, 60)
        factor = Decimal(rng.choice([70, 85, 95, 100, 100, 100, 105, 120])) / 100
        lines.append({
            "line_no": line_no, "sku": sku, "qty": qty, "unit_price": _cents(base * factor),
            "discount": rng.choice([Decimal(0), Decimal(0), Decimal("0.05"), Decimal("0.1"), Decimal("0.15"),
                                    Decimal("0.1525")]),
        })
    total = sum((_cents(Decimal(ln["qty"]) * ln["unit_price"] * (1 - ln["discount"])) for ln in lines),
                Decimal(0))
    limit = customer.credit_limit
    receivables = _cents(limit * Decimal(rng.randint(0, 110)) / 100)
    open_orders = _cents(limit * Decimal(rng.randint(0, 40)) / 100)
    if rng.random() < 0.03 and limit - receivables - total >= 0:
        open_orders = limit - receivables - total  # exposure lands exactly on the limit, to the cent
    overdue = Decimal(0) if rng.random() < 0.6 else _cents(receivables * Decimal(rng.randint(0, 100)) / 100)
    order_date = date(2026, 1, 1) + timedelta(days=rng.randint(0, 330))
    order: dict[str, Any] = {
        "id": f"SO{i:07d}", "customer_id": customer.id,
        "order_date": order_date,
        "channel": rng.choices(["written", "electronic", "oral"], [50, 30, 20])[0],
        "written_confirmation": rng.random() < 0.5,
        "payment_method": method,
        "draft_term_days": rng.choice([90, 180, 365, 366, 540]) if method == "bank_acceptance_draft" else None,
        "payment_terms_days": rng.choice([0, 30, 30, 45, 60, 90, 120]),
        "guarantee": rng.random() < 0.3,
        "special_requirements": rng.choice(["加急发货", "custom packaging", "喷涂定制"])
        if rng.random() < 0.15 else None,
        "lines": lines,
    }
    quotation = rng.choices([None, False, True], [50, 40, 10])[0]
    extra = {
        "requested_delivery_date": None if rng.random() < 0.3
        else order_date + timedelta(days=-rng.randint(1, 5) if rng.random() < 0.03 else rng.randint(0, 60)),
        "contract_signed": rng.choices([None, True, False], [40, 57, 3])[0],
        "quotation": quotation,
        "project_no": f"PRJ-{i:06d}" if quotation and rng.random() < 0.7 else None,
    }
    order.update({name: value for name, value in extra.items() if name in declared})
    return {
        "order": order,
        "customer": customer,
        "products": list(used.values()),
        "exposure": {
            "open_receivables": receivables, "open_orders": open_orders, "overdue_amount": overdue,
            "max_overdue_days": 0 if overdue == 0 else rng.choice([5, 30, 60, 90, 91, 120, 200]),
        },
    }


def return_document(rng: random.Random, i: int, customers: Sequence[Customer],
                    products: Sequence[Product]) -> dict[str, Any]:
    customer = rng.choice(customers)
    product = rng.choice(products)
    kind = "compensation" if rng.random() < 0.15 else "return"
    delivered = rng.randint(1, 200)
    already = rng.choice([0, 0, 0, rng.randint(0, delivered)])
    qty = 0 if kind == "compensation" and rng.random() < 0.5 else rng.randint(1, delivered + 5)
    unit_price = product.list_price
    if rng.random() < 0.02:  # exactly on the 5,000 threshold
        qty, unit_price, delivered, already = 10, Decimal("500.00"), max(delivered, 10), 0
    claimed = rng.choice([_money(rng, 100, 5_000), _money(rng, 5_000, 80_000)]) if kind == "compensation" else None
    return {
        "return": {
            "id": f"RT{i:07d}", "customer_id": customer.id, "type": kind,
            "reason": rng.choice(["defect", "defect", "damaged", "wrong_item", "late", "not_needed", "other"]),
            "original_order_id": f"SO{rng.randint(0, 10**6):07d}",
            "invoice_id": f"INV{i:07d}" if rng.random() < 0.7 else None,
            "sku": product.sku, "qty": qty, "unit_price": unit_price,
            "delivered_qty": delivered, "already_returned_qty": already,
            "days_since_delivery": rng.choice([rng.randint(0, 30), rng.randint(0, 150), 30, 90, 91]),
            "claimed_amount": claimed,
        },
        "customer": customer,
    }


@dataclass
class Workload:
    orders: list[OrderFacts]
    returns: list[ReturnFacts]
    generate_s: float
    validate_s: float
    full_validation_us: dict[str, float]


def _plain(document: dict[str, Any]) -> dict[str, Any]:
    """The same document with every nested model dumped to dicts, as an ERP would send it."""
    return {k: (v.model_dump() if hasattr(v, "model_dump") else
                [p.model_dump() for p in v] if isinstance(v, list) else v) for k, v in document.items()}


def build_workload(n_orders: int, seed: int, need_orders: bool, need_returns: bool,
                   policy: Policy | None = None) -> Workload:
    """Orders and returns validated into ``policy``'s own fact models (with the facts it declares)."""
    order_model: type[BaseModel] = OrderFacts
    return_model: type[BaseModel] = ReturnFacts
    customer_model, product_model = Customer, Product
    order_fields: frozenset[str] = frozenset()
    if policy is not None:
        order_model = policy.point("order_approval").document
        return_model = policy.point("return_handling").document
        customer_model = order_model.model_fields["customer"].annotation
        product_model = get_args(order_model.model_fields["products"].annotation)[0]
        order_type = order_model.model_fields["order"].annotation
        order_fields = frozenset(order_type.model_fields) - frozenset(Order.model_fields)
    rng = random.Random(seed)
    t0 = time.perf_counter()
    customers = make_customers(rng, 500, customer_model)
    products = make_products(rng, 400, product_model)
    order_docs = [order_document(rng, i, customers, products, order_fields)
                  for i in range(n_orders)] if need_orders else []
    return_docs = [return_document(rng, i, customers, products) for i in range(n_orders)] if need_returns else []
    t1 = time.perf_counter()
    orders = [order_model.model_validate(d) for d in order_docs]
    returns = [return_model.model_validate(d) for d in return_docs]
    t2 = time.perf_counter()
    # Validation cost of a complete document sent as plain dicts (customer and products included).
    full: dict[str, float] = {}
    for what, model, docs in (("order", order_model, order_docs), ("return", return_model, return_docs)):
        sample = [_plain(d) for d in docs[:2000]]
        if not sample:
            continue
        times = []
        for doc in sample:
            s = time.perf_counter_ns()
            model.model_validate(doc)
            times.append(time.perf_counter_ns() - s)
        full[what] = statistics.fmean(times) / 1000
    return Workload(orders, returns, t1 - t0, t2 - t1, full)  # type: ignore[arg-type]


# -- the implementations under test ------------------------------------------------------------------

def normalise_decision(decision: Decision) -> Normalised:
    prices = tuple(line.policy_price for line in decision.pricing.lines) if decision.pricing else ()
    refund = decision.returns.refund_amount if decision.returns else None
    return (decision.outcome.value, tuple(a.role for a in decision.approvals), prices, refund)


def normalise_verdict(verdict: Verdict) -> Normalised:
    return (verdict.outcome, verdict.approvals, verdict.prices, verdict.refund)


@dataclass
class Run:
    name: str
    latencies_ns: list[int] = field(default_factory=list)
    cpu_ns: int = 0
    results: list[Normalised] = field(default_factory=list)
    prepare_ns: int = 0
    """CPU time spent building the inputs (``Variant.prepare``), outside the timing: for the record."""

    @property
    def per_second(self) -> float:
        return len(self.latencies_ns) / (sum(self.latencies_ns) / 1e9)

    @property
    def cpu_us(self) -> float:
        """CPU time per decision (process time of the timed chunks ÷ decisions), µs."""
        return self.cpu_ns / max(len(self.latencies_ns), 1) / 1000

    def percentile_us(self, q: float) -> float:
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


@dataclass
class Variant:
    """One implementation at one point. ``call`` is what is timed, on ``prepare(chunk)`` of the facts
    (ZEN's input documents are built per chunk, outside the timing; the others take the models, validated anew per
    chunk by :func:`fresh`);
    ``result`` decides one fact again, outside the timing, and normalises it for the agreement check."""

    name: str
    call: Callable[[Any], Any]
    result: Callable[[Any], Normalised]
    prepare: Callable[[Sequence[Any]], Sequence[Any]] | None = None


CHUNK = 500


def fresh(chunk: Sequence[BaseModel]) -> list[BaseModel]:
    """The chunk's facts validated anew (outside the timing), for every implementation that takes the models:
    what a model keeps of a figure once worked out (an order's total) stays with that object, so facts decided
    before, by another implementation or an earlier pass, would time a later decision on work already done.
    Each timed call gets facts no decision has read, as an ERP's new order is."""
    return [type(f).model_validate(f.model_dump()) for f in chunk]


def timed(variants: Sequence[Variant], facts: Sequence[Any], warmup: int, repeat: int = 1) -> list[Run]:
    """Time every call of every variant, interleaved in chunks of :data:`CHUNK` facts, ``repeat`` times.

    Each call is timed with ``perf_counter_ns`` (latency, p50/p99, over the pass whose CPU time was
    best); each chunk with ``process_time_ns`` (the CPU figure: a process-time read costs ~1.5 µs, too
    much per call), each variant's CPU time the best of the ``repeat`` passes over all the facts.
    Results are dropped as they come: nothing is kept alive between calls (see :func:`kept_alive`).
    Interleaving spreads whatever else the machine is doing over all variants alike, so the
    ratios stay fair on a shared machine; each variant still runs a chunk back to back. The order of
    the variants rotates from chunk to chunk (and pass to pass), so none always runs first on a
    chunk's facts or always inherits the collector's count of the allocations before it.
    """
    for variant in variants:
        inputs = facts[:warmup] if variant.prepare is None else variant.prepare(facts[:warmup])
        for f in inputs:
            variant.call(f)
    clock, cpu = time.perf_counter_ns, time.process_time_ns
    best: list[Run] = []
    for pass_no in range(max(repeat, 1)):
        runs = [Run(v.name) for v in variants]
        for begin in range(0, len(facts), CHUNK):
            chunk = facts[begin:begin + CHUNK]
            first = (begin // CHUNK + pass_no) % len(variants)
            for variant, run in rotated(list(zip(variants, runs, strict=True)), first):
                call = variant.call
                prepared = cpu()
                inputs = chunk if variant.prepare is None else variant.prepare(chunk)
                run.prepare_ns += cpu() - prepared
                add_latency = run.latencies_ns.append
                started = cpu()
                for f in inputs:
                    start = clock()
                    call(f)
                    add_latency(clock() - start)
                run.cpu_ns += cpu() - started
        best = runs if not best else [new if new.cpu_ns < old.cpu_ns else old
                                      for new, old in zip(runs, best, strict=True)]
    return best


def rotated(items: Sequence[Any], first: int) -> list[Any]:
    """``items`` starting at index ``first``, the ones before it moved to the end."""
    return [*items[first:], *items[:first]]


def agreement(variants: Sequence[Variant], facts: Sequence[Any], runs: Sequence[Run]) -> None:
    """Decide every fact again with every variant, outside the timing, for :func:`compare`."""
    for variant, run in zip(variants, runs, strict=True):
        result = variant.result
        run.results = [result(f) for f in facts]


def derived(policy: Policy, point: str, fired: Sequence[CompiledRule], facts: Any,
            prices: tuple[Decimal, ...] = ()) -> Normalised:
    """What the fired rules decide: the outcome and approvals (:func:`outcome_of`), the refund of a
    return from its refund and restocking-fee terms; the prices are the caller's."""
    outcome, approvals = outcome_of(policy, fired)
    if point != "return_handling":
        return (outcome, approvals, prices, None)
    amount = facts.return_request.amount
    rates = [r.action.refund for r in fired if r.action.refund is not None]
    fees = [r.action.restocking_fee for r in fired if r.action.restocking_fee is not None]
    if outcome == "block":
        refund = ZERO
    else:
        fee = round_money(amount * max(fees, default=ZERO))
        refund = max(round_money(amount * (min(rates) if rates else ONE)) - fee, ZERO)
    return (outcome, approvals, (), refund)


class RawDurable:
    """durable-rules alone on the policy's compiled rulesets, through the backend's own encoding.

    Per decision: flatten the facts the stage's rules read (the input of the JSON message),
    then ``DurableBackend.match``: encode, assert into a fresh session, collect the fired rules,
    delete the session. No Decision, trace, reason or plugin. For pricing, the check stage needs
    the policy prices the adjust stage's rules set: they are computed in between with the same
    few lines the hand-written floor uses. Outcomes, approvals and refunds are worked out from
    the fired rules afterwards, outside the timing, only to compare.
    """

    def __init__(self, policy: Policy, backend: Any) -> None:
        self.policy = policy
        self.backend = backend
        self.rules = {r.id: r for r in policy.rules}
        for rule in policy.rules:
            action = rule.action
            if action.set_price is not None or action.floor is not None:
                raise NotImplementedError(f"raw durable pricing handles markup/discount/add/stop only ({rule.id})")

    def call(self, hook: str) -> Callable[[Any], Any]:
        match = self.backend.match
        reads = self.policy.fact_reads.get(hook, frozenset())
        if hook == "return_handling":
            def decide_return(facts: ReturnFacts) -> Any:
                return match(hook, return_factset(facts, paths=reads, today=AS_OF))
            return decide_return
        if hook != "pricing":
            def decide_order(facts: OrderFacts) -> Any:
                return match(hook, order_factset(facts, paths=reads, today=AS_OF))
            return decide_order
        adjust = sorted(self.policy.rules_by_stage.get("pricing.adjust", ()), key=lambda r: (r.priority, r.id))

        def decide_pricing(facts: OrderFacts) -> Any:
            factset = order_factset(facts, paths=reads, today=AS_OF)
            fired = match("pricing.adjust", factset)
            products = {p.sku: p for p in facts.products}
            prices = {}
            for index, line in enumerate(facts.order.lines):
                product = products.get(line.sku)
                price = product.list_price if product is not None else line.unit_price
                for rule in adjust:  # priority, then id
                    if (rule.id, None) in fired or (rule.id, index) in fired:
                        action = rule.action
                        if action.markup is not None:
                            price = price * (ONE + action.markup)
                        if action.discount is not None:
                            price = price * (ONE - action.discount)
                        if action.add is not None:
                            price = price + action.add
                        if action.stop:
                            break
                prices[line.line_no] = round_money(max(price, ZERO))
            checked = match("pricing.check", with_policy_prices(factset, prices))
            return fired | checked, tuple(prices.values())

        return decide_pricing

    def result(self, hook: str) -> Callable[[Any], Normalised]:
        rules, policy, call = self.rules, self.policy, self.call(hook)

        def decide(facts: Any) -> Normalised:
            out = call(facts)
            matches, prices = out if hook == "pricing" else (out, ())
            fired = [rules[rule_id] for rule_id in sorted({rule_id for rule_id, _ in matches})]
            return derived(policy, hook, fired, facts, prices)

        return decide


def outcome_of(policy: Policy, fired: Sequence[CompiledRule]) -> tuple[str, tuple[str, ...]]:
    rank = {"allow": 0, "warn": 1, "require_approval": 2, "block": 3}
    outcome = "allow"
    roles: set[str] = set()
    for rule in fired:
        value = rule.action.outcome.value
        if rank[value] > rank[outcome]:
            outcome = value
        roles.update(rule.action.approvals)
    return outcome, tuple(r for r in policy.roles if r in roles)


# -- the peer: GoRules ZEN ----------------------------------------------------------------------------

ZEN_MISSING = ("the ZEN column is skipped: zen-engine is not installed. Install it with "
               "`pip install '.[bench]'` from the checkout (or `pip install zen-engine==2.1.3`) and run again")


class ZenPeer:
    """The seed policy as ZEN decision graphs (benchmarks/zen_graph.py), in one ``ZenEngine`` with a
    static loader: ``engine.evaluate(key, context)`` is ZEN's fastest way to decide from Python
    (``ZenDecision.evaluate`` of ``create_decision`` costs far more per call; the run prints it).

    Timed: the ``evaluate`` call alone. Its input document, the facts each point reads as ZEN reads
    them (numbers as floats, dates as day numbers), is built per chunk outside the timing from
    salesgate's own flattening, as the Gate's models are built before the timing."""

    def __init__(self, zen: Any, policy: Policy) -> None:
        from zen_graph import translate_policy

        self.policy = policy
        self.translation = translate_policy(policy)
        content = dict(self.translation.graphs)
        if self.translation.all_points is not None:
            content["all_points"] = self.translation.all_points
        self.engine = zen.ZenEngine({"loader": {"type": "static", "content": content}})
        self.zen = zen
        self.rules = {r.id: r for r in policy.rules}

    def context(self, point: str) -> Callable[[Any], dict[str, Any]]:
        from zen_graph import zen_context, zen_reads

        reads = zen_reads(self.policy, point)
        if point == "return_handling":
            return lambda facts: zen_context(return_factset(facts, paths=reads, today=AS_OF))
        return lambda facts: zen_context(order_factset(facts, paths=reads, today=AS_OF))

    def variant(self, point: str) -> Variant:
        evaluate, context = self.engine.evaluate, self.context(point)

        def call(document: dict[str, Any]) -> Any:
            return evaluate(point, document)

        def result(facts: Any) -> Normalised:
            return self.normalised(point, evaluate(point, context(facts))["result"], "fired", facts)

        return Variant("ZEN", call, result, lambda chunk: [context(f) for f in chunk])

    def normalised(self, point: str, result: dict[str, Any], key: str, facts: Any) -> Normalised:
        fired = [self.rules[rule_id] for rule_id in sorted({row["rule"] for row in result.get(key) or ()})]
        prices = tuple(Decimal(repr(price)).quantize(CENT) for price in result.get("prices") or ()) \
            if point == "pricing" else ()
        return derived(self.policy, point, fired, facts, prices)

    def all_points(self, orders: Sequence[Any], returns: Sequence[Any]) -> tuple[Variant, list[tuple[Any, Any]]]:
        """One call for an order's three points and a return, on the all-points graph: (variant, pairs)."""
        from zen_graph import zen_context, zen_reads

        reads = frozenset().union(*(zen_reads(self.policy, p) for p in ORDER_POINTS))
        return_reads = zen_reads(self.policy, "return_handling")
        evaluate = self.engine.evaluate

        def context(pair: tuple[Any, Any]) -> dict[str, Any]:
            order, request = pair
            return {"o": zen_context(order_factset(order, paths=reads, today=AS_OF)),
                    "r": zen_context(return_factset(request, paths=return_reads, today=AS_OF))}

        def call(document: dict[str, Any]) -> Any:
            return evaluate("all_points", document)

        def result(pair: tuple[Any, Any]) -> Any:
            out = evaluate("all_points", context(pair))["result"]
            return tuple(self.normalised(point, out, point, pair[point == "return_handling"])
                         for point in (*ORDER_POINTS, "return_handling"))

        return Variant("ZEN one graph", call, result, lambda chunk: [context(p) for p in chunk]), \
            list(zip(orders, returns, strict=False))

    def decision_object_cpu_us(self, point: str, facts: Sequence[Any]) -> float:
        """CPU µs per call of ``ZenDecision.evaluate`` (the API ``create_decision`` returns), for the record."""
        decision = self.engine.create_decision(json.dumps(self.translation.graphs[point]))
        documents = [self.context(point)(f) for f in facts]
        for document in documents[:20]:
            decision.evaluate(document)
        started = time.process_time_ns()
        for document in documents:
            decision.evaluate(document)
        return (time.process_time_ns() - started) / max(len(documents), 1) / 1000


def load_zen() -> Any | None:
    """The zen-engine module, or None when it is not installed."""
    try:
        import zen
    except ImportError:
        return None
    return zen


# -- kept-alive decisions ----------------------------------------------------------------------------

def alive_per_decision(call: Callable[[Any], Any], facts: Sequence[Any], keep: int = KEEP) -> int:
    """Objects the garbage collector tracks (containers: models' dicts and field sets, lists, the lazy
    trace's closure and flattened facts...) that one kept decision keeps alive, on average."""
    for f in facts[:keep]:
        call(f)
    gc.collect()
    before = {id(o) for o in gc.get_objects()}
    ring = [call(f) for f in facts[:keep]]
    gc.collect()
    alive = sum(1 for o in gc.get_objects() if id(o) not in before) - 1  # not the ring itself
    del ring
    return round(alive / keep)


def kept_alive(call: Callable[[Any], Any], facts: Sequence[Any], keep: int,
               block: int = 1_000, repeat: int = 1) -> tuple[float, float, dict[str, int]]:
    """CPU µs per decision with the last ``keep`` results held in a ring, and with every result dropped,
    in one run: blocks of ``block`` facts alternate (dropped first, then kept; then the other way
    round), the ring is filled with ``keep`` results before each kept block (untimed) and cleared
    after it. The collector runs as in any process (enabled, default thresholds); only the benchmark's
    own input, built before, is frozen (``gc.freeze``). ``repeat`` passes over the facts; each side's
    figure is its best pass, as in :func:`timed` (with ``keep=0`` both sides drop: on the shared VM one
    pass of 5,000 facts put them up to 17 % apart). Returns (kept µs, dropped µs, collections by
    generation during the kept blocks minus those during the dropped blocks, in the pass whose kept
    figure is the best)."""
    cpu = time.process_time_ns
    ring: deque[Any] = deque(maxlen=keep)
    best: tuple[float, float, dict[str, int]] | None = None

    def counts() -> list[int]:
        return [generation["collections"] for generation in gc.get_stats()]

    for _ in range(max(repeat, 1)):
        kept_ns = dropped_ns = kept_n = dropped_n = 0
        collections = [0, 0, 0]
        for n, begin in enumerate(range(0, len(facts), block)):
            chunk = facts[begin:begin + block]
            for kept in ((False, True) if n % 2 == 0 else (True, False)):
                if kept:
                    for f in facts[begin - keep:begin] if begin >= keep else facts[-keep:]:
                        ring.append(call(f))
                    append = ring.append
                    before, started = counts(), cpu()
                    for f in chunk:
                        append(call(f))
                    kept_ns += cpu() - started
                    after = counts()
                    kept_n += len(chunk)
                    ring.clear()
                    sign = 1
                else:
                    before, started = counts(), cpu()
                    for f in chunk:
                        call(f)
                    dropped_ns += cpu() - started
                    after = counts()
                    dropped_n += len(chunk)
                    sign = -1
                for generation in range(3):
                    collections[generation] += sign * (after[generation] - before[generation])
        kept_us, dropped_us = kept_ns / max(kept_n, 1) / 1000, dropped_ns / max(dropped_n, 1) / 1000
        by_generation = {f"gen{g}": collections[g] for g in range(3)}
        if best is None:
            best = (kept_us, dropped_us, by_generation)
        else:
            best = (min(best[0], kept_us), min(best[1], dropped_us),
                    by_generation if kept_us < best[0] else best[2])
    assert best is not None
    return best


# -- what the typed result costs by itself ----------------------------------------------------------

class Census:
    """The pydantic objects in the decisions of one hook, by class, with one sample of each.

    Counted outside the timing from the Gate's own decisions. The trace is left out (it is built
    only when read) and so is the policy reference (one object shared by every decision)."""

    def __init__(self) -> None:
        self.decisions = 0
        self.objects: Counter[type[BaseModel]] = Counter()
        self.samples: dict[type[BaseModel], BaseModel] = {}

    def add(self, decision: Decision) -> None:
        self.decisions += 1
        stack: list[Any] = [decision]
        while stack:
            value = stack.pop()
            if isinstance(value, BaseModel):
                if value is decision.policy:
                    continue
                self.objects[type(value)] += 1
                self.samples.setdefault(type(value), value)
                stack.extend(v for k, v in value.__dict__.items() if k != "trace")
            elif isinstance(value, list):
                stack.extend(value)

    def per_decision(self) -> float:
        return sum(self.objects.values()) / max(self.decisions, 1)

    def build_us(self) -> float:
        """µs per decision to build its objects alone, each the fastest way salesgate knows
        (``assemble``: no validation, the field dict taken as is), best of 5 timings."""
        total = 0.0
        for cls, count in self.objects.items():
            total += count / max(self.decisions, 1) * construction_us(self.samples[cls])
        return total


def construction_us(sample: BaseModel) -> float:
    """µs to build (and drop) one object like ``sample`` from its field values: a copy of its field
    dict (what writing the dict out costs) and ``assemble``. Nested objects are counted apart."""
    cls, values, fields_set = type(sample), sample.__dict__, sample.model_fields_set
    assemble = cls.assemble  # type: ignore[attr-defined]  # every decision class has it (decisions._Value)

    def build() -> None:
        assemble(dict(values), set(fields_set))

    number = 20_000
    return min(timeit.repeat(build, number=number, repeat=5)) / number * 1e6


# -- report -------------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "MET" if ok else "MISS"


def compare(hook: str, facts: Sequence[Any], runs: Sequence[Run], show: int = 5) -> int:
    reference = runs[0]
    bad = 0
    shown = 0
    for i, expected in enumerate(reference.results):
        others = [(run.name, run.results[i]) for run in runs[1:] if run.results[i] != expected]
        if others:
            bad += 1
            if shown < show:
                shown += 1
                subject = facts[i].order.id if isinstance(facts[i], OrderFacts) else facts[i].return_request.id
                print(f"    DISAGREE {hook} {subject}: {reference.name}={expected}")
                for name, got in others:
                    print(f"             {name}={got}")
    return bad


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def large_order(rng: random.Random, lines: int, products: Sequence[Product]) -> dict[str, Any]:
    """One order of ``lines`` lines over ``products``, as an ERP sends it: plain dicts."""
    customer = make_customers(rng, 1)[0]
    chosen = [rng.choice(products) for _ in range(lines)]
    return {
        "order": {"id": f"SO-LARGE-{lines}", "customer_id": customer.id, "order_date": "2026-11-23",
                  "lines": [{"line_no": n, "sku": product.sku, "qty": rng.randint(1, 60),
                             "unit_price": str(product.list_price), "discount": rng.choice(["0", "0.05", "0.1"])}
                            for n, product in enumerate(chosen, 1)]},
        "customer": customer.model_dump(),
        "products": [p.model_dump() for p in {p.sku: p for p in chosen}.values()],
        "exposure": {"open_receivables": "1000.00"},
    }


def large_orders(sizes: Sequence[int], seed: int, durable: bool) -> None:
    """Time and memory of one order of each size, validation included (the order comes as dicts):
    per-line cost that stays flat as orders grow is what "linear" means here."""
    rng = random.Random(seed)
    products = make_products(rng, 400)
    names: list[str] = ["python", "durable"] if durable else ["python"]
    print(f"large orders (at most {MAX_LINES:,} lines): one order per size, sent as dicts, validation "
          "included; explain=False, the trace never read; peak = tracemalloc's peak during a second call")
    print(f"{'backend':<8} {'hook':<15} {'lines':>7} {'seconds':>8} {'µs/line':>8} {'peak MB':>8} {'KB/line':>8}")
    for name in names:
        with Gate.from_path(ROOT / "rules", backend=name) as gate:  # type: ignore[arg-type]
            gate.price_order(large_order(rng, 10, products))  # warm up
            for size in sizes:
                document = large_order(rng, size, products)
                for hook in ("pricing", "order_approval"):
                    gc.collect()
                    started = time.perf_counter()
                    gate.decide(hook, document)  # type: ignore[arg-type]
                    elapsed = time.perf_counter() - started
                    tracemalloc.start()  # a second call: tracing slows a call several times over
                    gate.decide(hook, document)  # type: ignore[arg-type]
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                    print(f"{name:<8} {hook:<15} {size:>7,} {elapsed:>8.3f} {elapsed / size * 1e6:>8.1f} "
                          f"{peak / 1e6:>8.1f} {peak / size / 1e3:>8.1f}", flush=True)


def default_backend() -> str:
    """The backend a Gate uses when given none."""
    return str(inspect.signature(Gate.__init__).parameters["backend"].default)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders (and returns) to decide per hook")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--hooks", default=",".join(DECISION_POINTS[:4]),
                        help="comma-separated hooks (default: all four)")
    parser.add_argument("--quick", action="store_true", help="5,000 orders: a smoke run")
    parser.add_argument("--backends", default=",".join(BACKEND_NAMES),
                        help=f"comma-separated Gate backends (default: every one, {','.join(BACKEND_NAMES)})")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="time every point N times over the same facts; each figure is the best pass")
    parser.add_argument("--no-durable", action="store_true", help="skip the durable-rules variants")
    parser.add_argument("--no-zen", action="store_true", help="skip the ZEN column")
    parser.add_argument("--no-kept-alive", action="store_true", help="skip the kept-alive comparison")
    parser.add_argument("--large-orders", nargs="?", const=f"1000,5000,{MAX_LINES}", metavar="SIZES",
                        help=f"only time single orders of these line counts (default 1000,5000,{MAX_LINES})")
    args = parser.parse_args(argv)
    if args.large_orders:
        large_orders([int(size) for size in args.large_orders.split(",")], args.seed, not args.no_durable)
        return 0
    hooks = [h.strip() for h in args.hooks.split(",") if h.strip()]
    unknown = [h for h in hooks if h not in DECISION_POINTS[:4]]
    if unknown:
        parser.error(f"unknown hook(s) {', '.join(unknown)}: use {', '.join(DECISION_POINTS[:4])}")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    wrong = [b for b in backends if b not in BACKEND_NAMES]
    if wrong:
        parser.error(f"unknown backend(s) {', '.join(wrong)}: use {', '.join(BACKEND_NAMES)}")
    if args.no_durable:
        backends = [b for b in backends if b != "durable"]
    n = 5_000 if args.quick else args.orders
    logging.basicConfig(level=logging.WARNING)  # the audit plugin logs at INFO: a no-op here

    print(f"salesgate benchmark: {n:,} orders/returns per hook, seed {args.seed}, every decision as of {AS_OF}, "
          f"best of {args.repeat} pass{'es' if args.repeat > 1 else ''}")
    print("timing: perf_counter_ns around every call (decisions/s, p50, p99); process_time_ns around every chunk "
          f"of {CHUNK} calls (CPU µs per decision); implementations interleaved chunk by chunk, their order rotated "
          "per chunk; results dropped; every Gate on one loaded policy")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    policy_dir = ROOT / "rules"
    default = default_backend()
    policy = load_policy(policy_dir, points=installed_points())
    gates: dict[str, Gate] = {name: Gate(policy, backend=name) for name in backends}
    need_orders = any(h in ORDER_POINTS for h in hooks)
    workload = build_workload(n, args.seed, need_orders, "return_handling" in hooks, policy)
    for name, gate in gates.items():
        foreign = [h for h in hooks if gate.policy.point(h).document is not policy.point(h).document]
        if foreign:  # its every decision would convert the facts first, a cost no other gate pays
            raise SystemExit(f"Gate/{name} has fact models of its own at {', '.join(foreign)}: "
                             "build every gate on the policy the facts were validated for")
    documents = len(workload.orders) + len(workload.returns)
    print(f"facts: generated in {workload.generate_s:.1f} s; validated up front, outside every timing (and anew "
          "per chunk for each implementation that takes models): "
          f"{documents:,} documents in {workload.validate_s:.1f} s "
          f"({workload.validate_s / max(documents, 1) * 1e6:.1f} µs each, customers/products shared as models)")
    for what, us in workload.full_validation_us.items():
        print(f"pydantic validation of a complete {what} sent as plain dicts: {us:.1f} µs/{what} "
              f"(mean of 2,000; not part of any figure below)")

    raw: RawDurable | None = None
    raw_backend = None
    if "durable" in gates:
        from salesgate.engine.durable import DurableBackend

        raw_backend = DurableBackend(gates["durable"].policy.stages())  # its own Host, like the gate's
        raw = RawDurable(gates["durable"].policy, raw_backend)
    zen_peer: ZenPeer | None = None
    zen = None if args.no_zen else load_zen()
    if args.no_zen:
        print("ZEN: skipped (--no-zen)")
    elif zen is None:
        print(f"ZEN: {ZEN_MISSING}")
    else:
        zen_peer = ZenPeer(zen, policy)
        untranslated = zen_peer.translation.untranslated
        print(f"ZEN: zen-engine {_version('zen-engine')}, the seed policy as decision tables generated from the IR "
              f"(benchmarks/zen_graph.py), {sum(len(policy.rules_for(p)) for p in zen_peer.translation.graphs)} rules "
              f"at {len(zen_peer.translation.graphs)} points; engine.evaluate(key, input) with a static loader")
        for point, rule_id, why in untranslated:
            print(f"ZEN: NOT TRANSLATED at {point}: {rule_id}: {why} (the point has no ZEN column)")
    print(f"policy: {policy.name} {policy.version} ({policy.hash}), {len(policy.rules)} rules, "
          f"{sum(len(policy.rules_for(h)) for h in hooks)} at the points measured; Gate backends: "
          f"{', '.join(gates)} (default: {default}); plugins: "
          f"{', '.join(next(iter(gates.values())).hooks.plugin_names()) if gates else '-'}")
    gc.collect()
    gc.freeze()  # the workload is long-lived: keep the collector from re-walking it on every pass
    warmup = min(1_000, n)

    rows = []
    total_disagreements = 0
    fired_counts: Counter[str] = Counter()
    censuses: dict[str, Census] = {}
    census_backend = "python" if "python" in gates else next(iter(gates), None)
    for hook in hooks:
        facts: Sequence[Any] = workload.returns if hook == "return_handling" else workload.orders
        floor = HANDWRITTEN[hook]

        def floor_call(f: Any, floor: Callable[[Any, date], Verdict] = floor) -> Verdict:
            return floor(f, AS_OF)

        variants = [Variant("floor", floor_call, lambda f, c=floor_call: normalise_verdict(c(f)), fresh)]
        if raw is not None:
            variants.append(Variant("raw durable", raw.call(hook), raw.result(hook), fresh))
        if zen_peer is not None and hook in zen_peer.translation.graphs:
            variants.append(zen_peer.variant(hook))
        census = censuses[hook] = Census()
        for name, gate in gates.items():
            decide = _decider(gate, hook)
            if name == census_backend:
                def counted(f: Any, decide: Callable[[Any], Decision] = decide, census: Census = census) -> Normalised:
                    decision = decide(f)
                    fired_counts.update(decision.fired)
                    census.add(decision)
                    return normalise_decision(decision)
                variants.append(Variant(f"Gate/{name}", decide, counted, fresh))
            else:
                variants.append(Variant(f"Gate/{name}", decide, lambda f, d=decide: normalise_decision(d(f)), fresh))
        runs = timed(variants, facts, warmup, args.repeat)
        agreement(variants, facts, runs)
        bad = compare(hook, facts, runs)
        total_disagreements += bad
        by_name = {run.name: run for run in runs}
        rows.append((hook, by_name, bad))
        print(f"  {hook}: done ({bad} disagreements)", flush=True)

    one_graph: Run | None = None
    if (zen_peer is not None and zen_peer.translation.all_points is not None and workload.orders
            and workload.returns and set(hooks) == set(DECISION_POINTS[:4])):
        variant, pairs = zen_peer.all_points(workload.orders, workload.returns)
        one_graph = timed([variant], pairs, warmup, args.repeat)[0]
        agreement([variant], pairs, [one_graph])
        expected = list(zip(*(by_name["floor"].results for _, by_name, _ in rows), strict=True))
        order = [hook for hook, _, _ in rows]
        wanted = [tuple(four[order.index(p)] for p in (*ORDER_POINTS, "return_handling")) for four in expected]
        bad = sum(1 for got, want in zip(one_graph.results, wanted, strict=True) if got != want)
        total_disagreements += bad
        print(f"  all four on ZEN's one graph: done ({bad} disagreements)", flush=True)

    print()
    print(f"{'hook':<16} {'implementation':<15} {'decisions/s':>12} {'p50 µs':>8} {'p99 µs':>8} {'CPU µs':>8}")
    for hook, by_name, _ in rows:
        for name, run in by_name.items():
            print(f"{hook:<16} {name:<15} {run.per_second:>12,.0f} {run.percentile_us(0.5):>8.1f} "
                  f"{run.percentile_us(0.99):>8.1f} {run.cpu_us:>8.1f}")
    if len(rows) == 4:
        names = [name for name in rows[0][1] if all(name in by_name for _, by_name, _ in rows)]
        print(f"{'all four':<16} (an order's three points + a return: the sum of the four CPU figures)")
        for name in names:
            total = sum(b[name].cpu_us for _, b, _ in rows)
            print(f"{'all four':<16} {name:<15} {'':>12} {'':>8} {'':>8} {total:>8.1f}")
        if one_graph is not None:
            run = one_graph
            print(f"{'all four':<16} {'ZEN one graph':<15} {run.per_second:>12,.0f} "
                  f"{run.percentile_us(0.5):>8.1f} {run.percentile_us(0.99):>8.1f} {run.cpu_us:>8.1f}")
    print()
    print("targets (CPU µs per decision): Gate ≥ 2× faster than ZEN per point and for all four; "
          "Gate ≥ 0.3× the floor per point; Gate/durable ≥ 0.4× raw durable with p99 ≤ 1 ms")
    if zen_peer is None:
        print("  Gate ≥ 2× faster than ZEN: NOT MEASURED (the ZEN column is skipped, see above)")
    for name in gates:
        gate_name = f"Gate/{name}"
        label = f"{gate_name}{' (default)' if name == default else ''}"
        for hook, by_name, bad in rows:
            gate_run = by_name[gate_name]
            parts = []
            ratio = by_name["floor"].cpu_us / gate_run.cpu_us
            parts.append(f"÷ floor = {ratio:.3f} {verdict(ratio >= TARGET_PYTHON_RATIO)}")
            if "ZEN" in by_name:
                speedup = by_name["ZEN"].cpu_us / gate_run.cpu_us
                parts.append(f"{speedup:.2f}× faster than ZEN {verdict(speedup >= TARGET_ZEN_SPEEDUP)}")
            if name == "durable" and "raw durable" in by_name:
                ratio = by_name["raw durable"].cpu_us / gate_run.cpu_us
                p99 = gate_run.percentile_us(0.99)
                parts.append(f"÷ raw durable = {ratio:.3f} {verdict(ratio >= TARGET_DURABLE_RATIO)}, "
                             f"p99 {p99:,.0f} µs {verdict(p99 <= TARGET_DURABLE_P99_US)}")
            parts.append(f"disagreements {bad}")
            print(f"  {label:<24} {hook:<16} " + "; ".join(parts))
        if len(rows) == 4 and all("ZEN" in by_name for _, by_name, _ in rows):
            gate_all = sum(by_name[gate_name].cpu_us for _, by_name, _ in rows)
            zen_all = sum(by_name["ZEN"].cpu_us for _, by_name, _ in rows)
            line = f"  {label:<24} {'all four':<16} {zen_all / gate_all:.2f}× faster than ZEN's four calls " \
                   f"{verdict(zen_all / gate_all >= TARGET_ZEN_SPEEDUP)}"
            if one_graph is not None:
                speedup = one_graph.cpu_us / gate_all
                line += f"; {speedup:.2f}× faster than ZEN's one graph {verdict(speedup >= TARGET_ZEN_SPEEDUP)}"
            print(line)
    if zen_peer is not None:
        built = [(hook, b["ZEN"].prepare_ns / max(len(b["ZEN"].latencies_ns), 1) / 1000)
                 for hook, b, _ in rows if "ZEN" in b]
        if one_graph is not None:
            built.append(("one graph", one_graph.prepare_ns / max(len(one_graph.latencies_ns), 1) / 1000))
        print("  (ZEN's input documents, built from salesgate's flattening outside the timing, cost a further "
              + ", ".join(f"{hook} {us:.1f}" for hook, us in built) + " µs CPU per decision: in no figure above)")
    if zen_peer is not None and "pricing" in zen_peer.translation.graphs and workload.orders:
        slow = zen_peer.decision_object_cpu_us("pricing", workload.orders[:500])
        zen_pricing = next((b["ZEN"].cpu_us for h, b, _ in rows if h == "pricing" and "ZEN" in b), None)
        print(f"  (ZEN's other API, ZenDecision.evaluate of create_decision: {slow:.0f} µs CPU per pricing decision"
              + (f", against {zen_pricing:.1f} µs for engine.evaluate: not the one compared)" if zen_pricing else ")"))

    if not args.no_kept_alive and gates:
        print()
        print(f"kept alive: CPU µs per decision with the last {KEEP} decisions held in a deque(maxlen={KEEP}) vs "
              f"dropped, same run, blocks of 1,000 alternating, best of {args.repeat} per side; collector enabled "
              f"(default thresholds {gc.get_threshold()}), only the benchmark's input frozen; "
              f"target ≤ {TARGET_KEPT_ALIVE:.2f}×")
        for name, gate in gates.items():
            for hook in hooks:
                facts = workload.returns if hook == "return_handling" else workload.orders
                kept_us, dropped_us, collections = kept_alive(_decider(gate, hook), facts, KEEP, repeat=args.repeat)
                ratio = kept_us / dropped_us
                extra = ", ".join(f"{g} {c:+d}" for g, c in collections.items())
                gc.disable()  # the same without the collector: what is left is not the collector's
                try:
                    quiet = kept_alive(_decider(gate, hook), facts, KEEP, repeat=args.repeat)
                finally:
                    gc.enable()
                print(f"  Gate/{name:<8} {hook:<16} kept {kept_us:6.1f} µs, dropped {dropped_us:6.1f} µs: "
                      f"{ratio:.3f}× {verdict(ratio <= TARGET_KEPT_ALIVE)} (collections kept − dropped: {extra}; "
                      f"collector off: {quiet[0] / quiet[1]:.3f}×; {alive_per_decision(_decider(gate, hook), facts)} "
                      "objects the collector tracks kept per decision)")

    print()
    print("what the typed Decision costs by itself: the floor's work plus building the same pydantic objects")
    print("(fastest constructor, no validation, no rules, no plugins): the best Gate ÷ floor any")
    print("implementation returning this Decision could reach, and what 0.3× leaves for everything else")
    for hook, by_name, _ in rows:
        census = censuses[hook]
        if not census.decisions:
            continue
        floor_us = by_name["floor"].cpu_us
        objects_us = census.build_us()
        ceiling = floor_us / (floor_us + objects_us)
        left = floor_us / TARGET_PYTHON_RATIO - floor_us - objects_us
        print(f"  {hook:<16} {census.per_decision():5.1f} objects, {objects_us:5.1f} µs; floor {floor_us:4.1f} µs; "
              f"at best {ceiling:.2f}× the floor; 0.3× leaves {left:4.1f} µs for matching, plugins and the gate")
    measured = [r for h in hooks for r in policy.rules_for(h)]
    never = [r.id for r in measured if r.id not in fired_counts]
    print(f"rules of the points measured that fired at least once: {len(measured) - len(never)}/{len(measured)}"
          + (f" (never: {', '.join(never)})" if never else ""))
    print(f"disagreements in total: {total_disagreements}")
    print(f"peak RSS: {rss_mb():,.0f} MB")
    print("load average at the end (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores (other processes inflate p99 most)")
    if raw_backend is not None:
        raw_backend.close()
    for gate in gates.values():
        gate.close()
    return 1 if total_disagreements else 0


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


def _decider(gate: Gate, hook: str) -> Callable[[Any], Decision]:
    decide = gate.decide

    def call(facts: Any) -> Decision:
        return decide(hook, facts, as_of=AS_OF)  # type: ignore[arg-type]

    return call


if __name__ == "__main__":
    sys.exit(main())
