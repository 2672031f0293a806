"""Decisions per second through salesgate, against a hand-written floor and raw durable-rules.

    python benchmarks/bench.py [--orders 100000] [--seed 42] [--hooks pricing,credit_check] [--quick]
    python benchmarks/bench.py --large-orders [1000,5000,10000]

For every hook, side by side in one run and on the same validated facts:

  floor           the seed policy written by hand as plain ``if`` code (benchmarks/handwritten.py)
  raw durable     durable-rules alone on the policy's compiled rulesets: encode, assert, collect
                  the fired rules, delete the session; no Decision is built
  Gate/durable    ``gate.decide(hook, facts)`` with the durable-rules backend, default plugins
  Gate/python     ``gate.decide(hook, facts)`` with the pure-Python evaluator, default plugins

Each call is timed on its own with ``time.perf_counter_ns``; decisions/s is calls ÷ the sum of
those times. Facts are generated from a seeded ``random.Random`` and validated into pydantic
models once, before any timing (the validation cost per order is reported separately). Every
implementation must reach the same decision on every order: outcome, the approvals, the policy
price of every line (pricing) and the refund (returns).
"""

from __future__ import annotations

import argparse
import gc
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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
for source_root in ("core", "plugins", "adapters", "benchmarks"):
    if str(ROOT / source_root) not in sys.path:
        sys.path.insert(0, str(ROOT / source_root))

from handwritten import HANDWRITTEN, Verdict  # noqa: E402
from salesgate import DECISION_POINTS, Gate, OrderFacts, ReturnFacts  # noqa: E402
from salesgate.decisions import Decision  # noqa: E402
from salesgate.facts import order_factset, return_factset, with_policy_prices  # noqa: E402
from salesgate.models import MAX_LINES, Customer, Product  # noqa: E402
from salesgate.money import ONE, ZERO, round_money  # noqa: E402
from salesgate.policy.compiler import CompiledRule, Policy  # noqa: E402

ORDER_POINTS = ("order_approval", "credit_check", "pricing")
TARGET_DURABLE_RATIO = 0.4
TARGET_DURABLE_P99_US = 1000.0
TARGET_PYTHON_RATIO = 0.3

Normalised = tuple[str, tuple[str, ...], tuple[Decimal, ...], Decimal | None]


# -- synthetic facts ---------------------------------------------------------------------------------

def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(rng.randint(int(low * 100), int(high * 100))) / 100


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def make_customers(rng: random.Random, count: int) -> list[Customer]:
    names = ["华东机电有限公司", "南方五金商行", "Northwind Traders", "Acme Industrial", "北方重工集团",
             "Globex Supply", "西部建材", "Initech Parts", "海天贸易", "Umbrella Tools"]
    customers = []
    for i in range(count):
        customers.append(Customer(
            id=f"C{i:05d}", name=f"{rng.choice(names)} {i}",
            grade=rng.choice("AABBBCCC"),
            status=rng.choices(["active", "cash_only", "blocked"], [80, 12, 8])[0],
            region=rng.choice(["华东", "华南", "north", "west", ""]),
            region_has_distributor=rng.random() < 0.4,
            is_distributor=rng.random() < 0.15,
            credit_limit=rng.choice([Decimal(0), _money(rng, 5_000, 50_000), _money(rng, 50_000, 500_000)]),
            credit_rating=rng.choices(["good", "fair", "poor"], [60, 25, 15])[0],
            payment_terms_days=rng.choice([0, 15, 30, 30, 45, 60, 90]),
            has_repayment_plan=rng.random() < 0.3,
            has_repayment_agreement=rng.random() < 0.3,
        ))
    return customers


def make_products(rng: random.Random, count: int) -> list[Product]:
    products = []
    for i in range(count):
        price = rng.choice([_money(rng, 1, 50), _money(rng, 50, 800), _money(rng, 800, 5_000)])
        products.append(Product(
            sku=f"P{i:05d}", name=f"Part {i}", list_price=price,
            cost=_cents(price * Decimal(rng.randint(50, 95)) / 100), stock=rng.choice([0, 5, 20, 100, 500, 5_000]),
        ))
    return products


def order_document(rng: random.Random, i: int, customers: Sequence[Customer],
                   products: Sequence[Product]) -> dict[str, Any]:
    """One order with its customer, products and exposure (customer/products are shared models)."""
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
    return {
        "order": {
            "id": f"SO{i:07d}", "customer_id": customer.id,
            "order_date": date(2026, 1, 1) + timedelta(days=rng.randint(0, 330)),
            "channel": rng.choices(["written", "electronic", "oral"], [50, 30, 20])[0],
            "written_confirmation": rng.random() < 0.5,
            "payment_method": method,
            "draft_term_days": rng.choice([90, 180, 365, 366, 540]) if method == "bank_acceptance_draft" else None,
            "payment_terms_days": rng.choice([0, 30, 30, 45, 60, 90, 120]),
            "guarantee": rng.random() < 0.3,
            "special_requirements": rng.choice(["加急发货", "custom packaging", "喷涂定制"])
            if rng.random() < 0.15 else None,
            "lines": lines,
        },
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


def build_workload(n_orders: int, seed: int, need_orders: bool, need_returns: bool) -> Workload:
    rng = random.Random(seed)
    t0 = time.perf_counter()
    customers = make_customers(rng, 500)
    products = make_products(rng, 400)
    order_docs = [order_document(rng, i, customers, products) for i in range(n_orders)] if need_orders else []
    return_docs = [return_document(rng, i, customers, products) for i in range(n_orders)] if need_returns else []
    t1 = time.perf_counter()
    orders = [OrderFacts.model_validate(d) for d in order_docs]
    returns = [ReturnFacts.model_validate(d) for d in return_docs]
    t2 = time.perf_counter()
    # Validation cost of a complete document sent as plain dicts (customer and products included).
    full: dict[str, float] = {}
    for what, model, docs in (("order", OrderFacts, order_docs), ("return", ReturnFacts, return_docs)):
        sample = [_plain(d) for d in docs[:2000]]
        if not sample:
            continue
        times = []
        for doc in sample:
            s = time.perf_counter_ns()
            model.model_validate(doc)
            times.append(time.perf_counter_ns() - s)
        full[what] = statistics.fmean(times) / 1000
    return Workload(orders, returns, t1 - t0, t2 - t1, full)


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
    latencies_ns: list[int]
    results: list[Normalised]

    @property
    def per_second(self) -> float:
        return len(self.latencies_ns) / (sum(self.latencies_ns) / 1e9)

    def percentile_us(self, q: float) -> float:
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


@dataclass
class Variant:
    name: str
    call: Callable[[Any], Any]
    normalise: Callable[[Any], Normalised]


CHUNK = 500


def timed(variants: Sequence[Variant], facts: Sequence[Any], warmup: int) -> list[Run]:
    """Time every call of every variant, interleaved in chunks of :data:`CHUNK` facts.

    Interleaving spreads whatever else the machine is doing over all variants alike, so the
    ratios stay fair on a shared machine; each variant still runs a chunk back to back.
    """
    for variant in variants:
        for f in facts[:warmup]:
            variant.call(f)
    clock = time.perf_counter_ns
    runs = [Run(v.name, [], []) for v in variants]
    for begin in range(0, len(facts), CHUNK):
        chunk = facts[begin:begin + CHUNK]
        for variant, run in zip(variants, runs, strict=True):
            call, normalise = variant.call, variant.normalise
            add_latency, add_result = run.latencies_ns.append, run.results.append
            for f in chunk:
                start = clock()
                out = call(f)
                add_latency(clock() - start)
                add_result(normalise(out))
    return runs


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
                return facts, match(hook, return_factset(facts, paths=reads))
            return decide_return
        if hook != "pricing":
            def decide_order(facts: OrderFacts) -> Any:
                return match(hook, order_factset(facts, paths=reads))
            return decide_order
        adjust = [r for r in self.policy.rules_by_stage.get("pricing.adjust", ())]

        def decide_pricing(facts: OrderFacts) -> Any:
            factset = order_factset(facts, paths=reads)
            fired = match("pricing.adjust", factset)
            products = {p.sku: p for p in facts.products}
            prices = {}
            for index, line in enumerate(facts.order.lines):
                product = products.get(line.sku)
                price = product.list_price if product is not None else line.unit_price
                for rule in adjust:  # policy order: priority, then id
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

    def normalise(self, hook: str) -> Callable[[Any], Normalised]:
        rules = self.rules
        policy = self.policy

        def fired_rules(matches: frozenset[tuple[str, int | None]]) -> list[CompiledRule]:
            return [rules[rule_id] for rule_id in sorted({rule_id for rule_id, _ in matches})]

        if hook == "return_handling":
            def returns(result: Any) -> Normalised:
                facts, matches = result
                fired = fired_rules(matches)
                outcome, approvals = outcome_of(policy, fired)
                amount = facts.return_request.amount
                rates = [r.action.refund for r in fired if r.action.refund is not None]
                fees = [r.action.restocking_fee for r in fired if r.action.restocking_fee is not None]
                if outcome == "block":
                    refund = ZERO
                else:
                    fee = round_money(amount * max(fees, default=ZERO))
                    refund = max(round_money(amount * (min(rates) if rates else ONE)) - fee, ZERO)
                return (outcome, approvals, (), refund)
            return returns
        if hook == "pricing":
            def pricing(result: Any) -> Normalised:
                matches, prices = result
                return (*outcome_of(policy, fired_rules(matches)), prices, None)
            return pricing

        def order(matches: Any) -> Normalised:
            return (*outcome_of(policy, fired_rules(matches)), (), None)
        return order


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
    return "PASS" if ok else "MISS"


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders (and returns) to decide per hook")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--hooks", default=",".join(DECISION_POINTS), help="comma-separated hooks (default: all four)")
    parser.add_argument("--quick", action="store_true", help="5,000 orders: a smoke run")
    parser.add_argument("--no-durable", action="store_true", help="skip the durable-rules variants")
    parser.add_argument("--large-orders", nargs="?", const=f"1000,5000,{MAX_LINES}", metavar="SIZES",
                        help=f"only time single orders of these line counts (default 1000,5000,{MAX_LINES})")
    args = parser.parse_args(argv)
    if args.large_orders:
        large_orders([int(size) for size in args.large_orders.split(",")], args.seed, not args.no_durable)
        return 0
    hooks = [h.strip() for h in args.hooks.split(",") if h.strip()]
    unknown = [h for h in hooks if h not in DECISION_POINTS]
    if unknown:
        parser.error(f"unknown hook(s) {', '.join(unknown)}: use {', '.join(DECISION_POINTS)}")
    n = 5_000 if args.quick else args.orders
    logging.basicConfig(level=logging.WARNING)  # the audit plugin logs at INFO: a no-op here

    print(f"salesgate benchmark: {n:,} orders/returns per hook, seed {args.seed}")
    print("timing: time.perf_counter_ns around every call; decisions/s = calls ÷ the sum of their times; "
          f"implementations interleaved in chunks of {CHUNK}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    need_orders = any(h in ORDER_POINTS for h in hooks)
    workload = build_workload(n, args.seed, need_orders, "return_handling" in hooks)
    documents = len(workload.orders) + len(workload.returns)
    print(f"facts: generated in {workload.generate_s:.1f} s; validated ONCE up front, outside every timing: "
          f"{documents:,} documents in {workload.validate_s:.1f} s "
          f"({workload.validate_s / max(documents, 1) * 1e6:.1f} µs each, customers/products shared as models)")
    for what, us in workload.full_validation_us.items():
        print(f"pydantic validation of a complete {what} sent as plain dicts: {us:.1f} µs/{what} "
              f"(mean of 2,000; not part of any figure below)")

    policy_dir = ROOT / "rules"
    gates: dict[str, Gate] = {"python": Gate.from_path(policy_dir, backend="python")}
    raw: RawDurable | None = None
    raw_backend = None
    if not args.no_durable:
        from salesgate.engine.durable import DurableBackend

        gates["durable"] = Gate.from_path(policy_dir, backend="durable")
        raw_backend = DurableBackend(gates["durable"].policy.stages())  # its own Host, like the gate's
        raw = RawDurable(gates["durable"].policy, raw_backend)
    policy = gates["python"].policy
    print(f"policy: {policy.name} {policy.version} ({policy.hash}), {len(policy.rules)} rules; "
          f"plugins: {', '.join(gates['python'].hooks.plugin_names())}")
    gc.collect()
    gc.freeze()  # the workload is long-lived: keep the collector from re-walking it on every pass
    warmup = min(1_000, n)

    rows = []
    total_disagreements = 0
    fired_counts: Counter[str] = Counter()
    censuses: dict[str, Census] = {}
    for hook in hooks:
        facts: Sequence[Any] = workload.returns if hook == "return_handling" else workload.orders
        variants = [Variant("floor", HANDWRITTEN[hook], normalise_verdict)]
        if raw is not None:
            variants.append(Variant("raw durable", raw.call(hook), raw.normalise(hook)))
        if "durable" in gates:
            variants.append(Variant("Gate/durable", _decider(gates["durable"], hook), normalise_decision))

        census = censuses[hook] = Census()

        def count_fired(decision: Decision, census: Census = census) -> Normalised:
            fired_counts.update(decision.fired)
            census.add(decision)
            return normalise_decision(decision)

        variants.append(Variant("Gate/python", _decider(gates["python"], hook), count_fired))
        runs = timed(variants, facts, warmup)
        bad = compare(hook, facts, runs)
        total_disagreements += bad
        by_name = {run.name: run for run in runs}
        rows.append((hook, by_name, bad))
        print(f"  {hook}: done ({bad} disagreements)", flush=True)

    print()
    print(f"{'hook':<16} {'implementation':<13} {'decisions/s':>12} {'p50 µs':>8} {'p99 µs':>8}")
    for hook, by_name, _ in rows:
        for name, run in by_name.items():
            print(f"{hook:<16} {name:<13} {run.per_second:>12,.0f} {run.percentile_us(0.5):>8.1f} "
                  f"{run.percentile_us(0.99):>8.1f}")
    print()
    print("targets: Gate/durable ≥ 0.4× raw durable with p99 ≤ 1 ms; Gate/python ≥ 0.3× the floor")
    for hook, by_name, bad in rows:
        parts = []
        if "Gate/durable" in by_name and "raw durable" in by_name:
            ratio = by_name["Gate/durable"].per_second / by_name["raw durable"].per_second
            p99 = by_name["Gate/durable"].percentile_us(0.99)
            parts.append(f"Gate/durable ÷ raw = {ratio:.3f} {verdict(ratio >= TARGET_DURABLE_RATIO)}, "
                         f"p99 {p99:,.0f} µs {verdict(p99 <= TARGET_DURABLE_P99_US)}")
        ratio = by_name["Gate/python"].per_second / by_name["floor"].per_second
        parts.append(f"Gate/python ÷ floor = {ratio:.3f} {verdict(ratio >= TARGET_PYTHON_RATIO)}")
        parts.append(f"disagreements {bad}")
        print(f"  {hook:<16} " + "; ".join(parts))
    print()
    print("what the typed Decision costs by itself: the floor's work plus building the same pydantic objects")
    print("(fastest constructor, no validation, no rules, no plugins): the best Gate/python ÷ floor any")
    print("implementation returning this Decision could reach, and what 0.3× leaves for everything else")
    for hook, by_name, _ in rows:
        census = censuses[hook]
        floor_us = 1e6 / by_name["floor"].per_second
        objects_us = census.build_us()
        ceiling = floor_us / (floor_us + objects_us)
        left = floor_us / TARGET_PYTHON_RATIO - floor_us - objects_us
        print(f"  {hook:<16} {census.per_decision():5.1f} objects, {objects_us:5.1f} µs; floor {floor_us:4.1f} µs; "
              f"at best {ceiling:.2f}× the floor; 0.3× leaves {left:4.1f} µs for matching, plugins and the gate")
    never = sorted({r.id for r in policy.rules} - set(fired_counts))
    print(f"seed rules fired at least once: {len(policy.rules) - len(never)}/{len(policy.rules)}"
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


def _decider(gate: Gate, hook: str) -> Callable[[Any], Decision]:
    decide = gate.decide

    def call(facts: Any) -> Decision:
        return decide(hook, facts)  # type: ignore[arg-type]

    return call


if __name__ == "__main__":
    sys.exit(main())
