"""How decisions slow down as a policy grows: extra rules, and a large decision table.

    python benchmarks/scale_bench.py                          # rules 0..3,000, rows 0..10,000, every backend
    python benchmarks/scale_bench.py --rules 0,1000 --rows 0,10000 --backends python --orders 500

Policies are generated (seeded) into a temporary directory, each a copy of the seed policy in
``rules/`` plus:

* ``N`` extra rules in rule sets of 100, alternately at ``order_approval`` and ``pricing`` (+100 is all
  at ``order_approval``, +1,000 half at each), of the shapes real
  policies have: equality on ``customer.region``, ``customer.grade``, ``order.channel`` and
  ``line.sku``; ranges on ``order.total`` and ``line.qty``; ``and``/``or``; ``scope: line``; a few
  ``any(... for line in order.lines)``. Most are keyed on regions and products the orders never
  have; about 60 of them (1 in 5 of a smaller policy) on values they have, with narrow bands, so a
  typical order fires a few more rules than on the seed policy, about as many at 3,000 rules as at
  300 (a policy grows by covering more regions and products);
* a decision table of ``R`` rows at ``pricing`` (``tables/scale-prices.csv``, ``hit: unique``,
  ``scope: line``): a line discount by ``customer.region`` × ``line.sku`` × an ``order.total`` band.

Besides each backend's time, every size is timed with the matches replayed (recorded on a first
pass): what a decision costs besides matching (``- match``), to tell where the time grows.

For each size it prints the load time (compiling the policy, building each backend's matcher,
``salesgate validate``'s lint), the rule count, and the CPU time per decision (``time.process_time``,
best of ``--repeat`` passes over ``--orders`` orders of ``benchmarks/bench.py``'s workload, one
fixed as-of date) at each point the extra rules decide at, per backend, with its ratio to the seed
policy's time on the same backend and point, measured in the same run, and what building the JSON a
gate with a store logs of each decision costs (its trace lists every rule). Every size's decisions are
compared across the backends (outcome, approvals, policy prices, fired rules, reasons): the run
exits 1 if any two disagree. The target (issue 14): 1,000 rules, and 10,000 rows, decide in under
3× the seed policy's time.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import logging
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
for source_root in ("core", "plugins", "adapters", "benchmarks"):
    if str(ROOT / source_root) not in sys.path:
        sys.path.insert(0, str(ROOT / source_root))

from bench import build_workload  # noqa: E402
from salesgate import Gate, OrderFacts  # noqa: E402
from salesgate.decisions import Decision  # noqa: E402
from salesgate.engine import BACKEND_NAMES, make_backend  # noqa: E402
from salesgate.facts import FactSet  # noqa: E402
from salesgate.policy.compiler import Policy, load_policy  # noqa: E402
from salesgate.policy.lint import lint_policy  # noqa: E402
from salesgate.policy.stages import Backend, Match  # noqa: E402
from salesgate.workflow.entries import decision_json  # noqa: E402

POINTS = ("order_approval", "pricing")
"""The points the extra rules and the table decide at, and the points timed."""
AS_OF = date(2026, 12, 1)
TARGET_RATIO = 3.0
TARGET_RULES = 1_000
TARGET_ROWS = 10_000
RULES_PER_FILE = 100
REAL_RULES = 60
LOGGED_SAMPLE = 200

REAL_REGIONS = ("华东", "华南", "north", "west")
"""The regions benchmarks/bench.py's customers are in (and "", none)."""
OTHER_REGIONS = tuple(f"region-{i:02d}" for i in range(46))
"""Regions no order of the workload is in: most extra rules are keyed on one of these."""
REAL_SKUS = tuple(f"P{i:05d}" for i in range(400))
OTHER_SKUS = tuple(f"Q{i:05d}" for i in range(2000))
BANDS = ("[0..5000)", "[5000..20000)", "[20000..100000)", ">= 100000")


# -- generated policies -------------------------------------------------------------------------------

def _region(rng: random.Random, real: bool) -> str:
    return rng.choice(REAL_REGIONS if real else OTHER_REGIONS)


def _sku(rng: random.Random, real: bool) -> str:
    return rng.choice(REAL_SKUS if real else OTHER_SKUS)


def _band(rng: random.Random) -> tuple[int, int]:
    low = rng.choice([1_000, 5_000, 10_000, 20_000, 50_000, 80_000, 150_000])
    return low, low + rng.choice([5_000, 10_000, 30_000])


def _condition(rng: random.Random, real_share: float) -> tuple[str, str]:
    """(scope, when) of one extra rule: ``real_share`` of them keyed on values the orders have (and a
    narrow band or a rare combination), the rest on regions and products no order has."""
    real = rng.random() < real_share
    shape = rng.randrange(8)
    low, high = _band(rng)
    if shape == 0:
        return "order", f'customer.region == "{_region(rng, real)}" and order.total >= {low}'
    if shape == 1:
        return "order", (f'customer.grade == "{rng.choice("ABC")}" and customer.region == "{_region(rng, real)}" '
                         f"and order.total >= {low} and order.total < {high}")
    if shape == 2:
        regions = ", ".join(f'"{_region(rng, real)}"' for _ in range(3))
        return "order", f'order.channel == "{rng.choice(["oral", "electronic"])}" and customer.region in [{regions}]'
    if shape == 3:
        return "order", (f'(customer.region == "{_region(rng, real)}" or customer.region == "{_region(rng, False)}") '
                         f"and order.total >= {low} and order.total < {high}")
    if shape == 4:
        return "line", f'line.sku == "{_sku(rng, real)}" and line.qty >= {rng.choice([20, 50, 100, 200])}'
    if shape == 5:
        return "line", (f'line.sku == "{_sku(rng, real)}" and customer.grade == "{rng.choice("ABC")}" '
                        f'or line.sku == "{_sku(rng, False)}"')
    if shape == 6 and rng.random() < 0.3:  # a few quantifiers
        return "order", (f'any(line.sku == "{_sku(rng, real)}" and line.qty >= {rng.choice([10, 50, 200])} '
                         "for line in order.lines)")
    return "order", (f'customer.region == "{_region(rng, real)}" and customer.grade in ["A", "B"] '
                     f'and order.channel != "oral" and order.total >= {low}')


def _then(rng: random.Random, point: str, index: int) -> list[str]:
    """The YAML lines of one rule's ``priority``/``then`` (pricing: mostly price changes)."""
    if point == "pricing":
        if rng.random() < 0.8:
            kind = rng.choice(["discount", "markup"])
            return [f"    priority: {rng.choice([50, 60, 70])}", f"    then: {{{kind}: {rng.choice([1, 2, 3])}%}}"]
        return ["    then:", "      require: [sales_manager]",
                f'      message: {{zh: "扩展规则 {index}", en: "Scale rule {index}"}}']
    kind = rng.choices(["require", "warn", "notify", "block"], [50, 30, 15, 5])[0]
    if kind == "require":
        return ["    then:", f"      require: [{rng.choice(['sales_manager', 'finance', 'general_manager'])}]",
                f'      message: {{zh: "扩展规则 {index}", en: "Scale rule {index}"}}']
    if kind == "notify":
        return ["    then:", f"      notify: [{rng.choice(['production', 'purchasing', 'quality'])}]",
                f'      message: {{zh: "扩展规则 {index}", en: "Scale rule {index}"}}']
    return ["    then:", f'      {kind}: {{zh: "扩展规则 {index}", en: "Scale rule {index}"}}']


def write_rules(directory: Path, count: int, rng: random.Random) -> None:
    """``count`` extra rules in rule sets of 100, alternately at order_approval and pricing.

    At most about :data:`REAL_RULES` of them (1 in 5 of a smaller policy) are keyed on values the orders
    have: a policy grows by covering more regions and products, not by applying more rules to each
    order, so the rules a typical order fires stay about as many at 3,000 rules as at 300."""
    real_share = min(0.2, REAL_RULES / count) if count else 0.0
    for file_no, start in enumerate(range(0, count, RULES_PER_FILE)):
        point = POINTS[file_no % 2]
        lines = [f"ruleset: scale-{point.replace('_', '-')}-{file_no:03d}", f"point: {point}", 'version: "1"',
                 "rules:"]
        for index in range(start, min(start + RULES_PER_FILE, count)):
            scope, when = _condition(rng, real_share)
            lines += [f"  - id: scale-{index:05d}", f"    scope: {scope}", f"    when: '{when}'",
                      *_then(rng, point, index)]
        (directory / f"scale-{file_no:03d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_table(directory: Path, rows: int, rng: random.Random) -> None:
    """A ``rows``-row unique price table: region × sku × order.total band, a discount per row."""
    if rows == 0:
        return
    pairs = [(region, sku) for region in (*REAL_REGIONS, *OTHER_REGIONS) for sku in REAL_SKUS]
    rng.shuffle(pairs)
    needed = -(-rows // len(BANDS))
    if needed > len(pairs):
        raise SystemExit(f"at most {len(pairs) * len(BANDS):,} table rows")
    (directory / "tables").mkdir(exist_ok=True)
    with (directory / "tables" / "scale-prices.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "customer.region", "line.sku", "order.total", "discount"])
        written = 0
        for region, sku in pairs[:needed]:
            for band in BANDS:
                if written == rows:
                    break
                writer.writerow([f"price-{written:05d}", region, sku, band, f"{rng.choice([1, 2, 3, 4])}%"])
                written += 1
    (directory / "scale-prices.yaml").write_text(
        "ruleset: scale-prices\npoint: pricing\nversion: \"1\"\ntable:\n  hit: unique\n  scope: line\n"
        "  inputs: [customer.region, line.sku, order.total]\n  rows: tables/scale-prices.csv\n", encoding="utf-8")


def make_policy(base: Path, rules: int, rows: int, seed: int) -> Path:
    """The seed policy plus ``rules`` extra rules and a ``rows``-row table, in a new directory under ``base``."""
    directory = base / f"policy-{rules}-{rows}"
    shutil.copytree(ROOT / "rules", directory)
    write_rules(directory, rules, random.Random(seed * 1_000_003 + rules))
    write_table(directory, rows, random.Random(seed * 7_919 + rows))
    return directory


# -- measuring ----------------------------------------------------------------------------------------

@dataclass
class Size:
    rules: int
    rows: int
    label: str


@dataclass
class Measured:
    size: Size
    policy_rules: int
    compile_s: float
    lint_s: float
    backend_s: dict[str, float]
    us: dict[tuple[str, str], float]  # (backend, point) → CPU µs per decision
    disagreements: int
    rest_us: dict[str, float]  # point → CPU µs per decision with the matches replayed (all but matching)
    passes: dict[tuple[str, str], int]
    logged: dict[str, tuple[float, float]]  # point → (CPU µs to build a decision's logged JSON, kB)


class Replayed:
    """A backend that answers a pass's matches as recorded from another: the decision path without matching.

    The first pass over the orders matches with the wrapped backend and records each stage's answers in
    order; after :meth:`rewind` the same pass is answered from the record, so timing it times everything
    a decision does but match (flattening, the verdict, plugins, the Decision, the gate)."""

    name = "replay"

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.recorded: dict[str, list[frozenset[Match]]] = {}
        self.cursor: dict[str, int] | None = None

    def match(self, stage: str, facts: FactSet) -> frozenset[Match]:
        if self.cursor is None:
            found = self.inner.match(stage, facts)
            self.recorded.setdefault(stage, []).append(found)
            return found
        at = self.cursor[stage]
        self.cursor[stage] = at + 1
        return self.recorded[stage][at]

    def rewind(self) -> None:
        self.cursor = dict.fromkeys(self.recorded, 0)

    def close(self) -> None:
        self.inner.close()


def replay_gate(policy: Policy, backend: str) -> tuple[Gate, Replayed]:
    """A gate on ``policy`` whose backend is ``backend`` behind a :class:`Replayed`."""
    replayed = Replayed(make_backend(backend, policy.stages()))  # type: ignore[arg-type]
    with mock.patch("salesgate.gate.make_backend", return_value=replayed):
        return Gate(policy, backend=backend, today=AS_OF), replayed  # type: ignore[arg-type]


def _cpu(call: Callable[[], None]) -> float:
    started = time.process_time()
    call()
    return time.process_time() - started


def normalised(decision: Decision) -> tuple[Any, ...]:
    """What two backends must agree on: outcome, approvals, policy prices, fired rules and reasons."""
    prices = tuple(line.policy_price for line in decision.pricing.lines) if decision.pricing else ()
    return (decision.outcome.value, tuple((a.role, tuple(a.rules)) for a in decision.approvals), prices,
            tuple(sorted(decision.fired)), tuple((r.rule, r.line_no) for r in decision.reasons))


def measure(size: Size, directory: Path, backends: Sequence[str], orders: Sequence[OrderFacts],
            repeat: int, max_pass_s: float) -> Measured:
    started = time.process_time()
    policy: Policy = load_policy(directory)
    compile_s = time.process_time() - started
    lint_s = _cpu(lambda: lint_policy(policy))
    model = policy.points["order_approval"].document  # the policy's own fact model (its declared facts)
    orders = [model.model_validate(o.model_dump()) for o in orders]  # as bench.py does: no gate validates again
    gates: dict[str, Gate] = {}
    backend_s: dict[str, float] = {}
    for name in backends:
        started = time.process_time()
        gates[name] = Gate(policy, backend=name, today=AS_OF)  # type: ignore[arg-type]
        backend_s[name] = time.process_time() - started

    disagreements = 0
    for point in POINTS:  # agreement, outside the timing (reading decision.fired builds the trace)
        answers = {name: [normalised(gate.decide(point, o)) for o in orders] for name, gate in gates.items()}
        first = answers[backends[0]]
        for name in backends[1:]:
            bad = [i for i, (a, b) in enumerate(zip(first, answers[name], strict=True)) if a != b]
            if bad:
                print(f"  DISAGREE {size.label} {point}: {backends[0]} and {name} differ on {len(bad)} orders, "
                      f"first {orders[bad[0]].order.id}: {first[bad[0]]} vs {answers[name][bad[0]]}", flush=True)
            disagreements += len(bad)

    logged: dict[str, tuple[float, float]] = {}
    sample = orders[:LOGGED_SAMPLE]
    for point in POINTS:  # what a gate with a store writes of each decision: its JSON, the whole trace in it
        decisions = [gates[backends[0]].decide(point, facts) for facts in sample]
        sizes: list[int] = []
        seconds = _cpu(lambda decisions=decisions, sizes=sizes: sizes.extend(
            len(json.dumps(decision_json(d))) for d in decisions))
        logged[point] = (seconds / len(sample) * 1e6, sum(sizes) / len(sizes) / 1000)
    replay, replayed = replay_gate(policy, "python")
    for point in POINTS:  # the recording pass
        for facts in orders:
            replay.decide(point, facts)
    gates["rest"] = replay
    best: dict[tuple[str, str], float] = {}
    passes: dict[tuple[str, str], int] = {}
    for _ in range(repeat):  # backends and points interleaved: load from elsewhere falls on all alike
        for point in POINTS:
            for name, gate in gates.items():
                key = (name, point)
                if key in best and best[key] > max_pass_s:
                    continue  # one pass is enough to tell
                decide = gate.decide

                def run(decide: Callable[..., Decision] = decide, point: str = point) -> None:
                    for facts in orders:
                        decide(point, facts)

                if name == "rest":
                    replayed.rewind()
                elapsed = _cpu(run)
                best[key] = min(best.get(key, elapsed), elapsed)
                passes[key] = passes.get(key, 0) + 1
    for gate in gates.values():
        gate.close()
    us = {key: seconds / len(orders) * 1e6 for key, seconds in best.items()}
    return Measured(size, len(policy.rules), compile_s, lint_s, backend_s,
                    {key: value for key, value in us.items() if key[0] != "rest"}, disagreements,
                    {point: us[("rest", point)] for point in POINTS}, passes, logged)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISS"


def _sizes(rules: Sequence[int], rows: Sequence[int]) -> list[Size]:
    """The seed policy, each rule count alone, each row count alone, then the targets together."""
    sizes = [Size(0, 0, "seed")]
    sizes += [Size(n, 0, f"+{n:,} rules") for n in rules if n]
    sizes += [Size(0, r, f"+{r:,} rows") for r in rows if r]
    if TARGET_RULES in rules and TARGET_ROWS in rows:
        sizes.append(Size(TARGET_RULES, TARGET_ROWS, f"+{TARGET_RULES:,} rules +{TARGET_ROWS:,} rows"))
    return sizes


def _ints(text: str) -> list[int]:
    return [int(part.replace("_", "").replace(",", "")) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", default="0,100,300,1000,3000", help="extra rule counts (default %(default)s)")
    parser.add_argument("--rows", default="0,1000,3000,10000", help="decision table row counts (default %(default)s)")
    parser.add_argument("--backends", default=",".join(BACKEND_NAMES),
                        help="comma-separated backends (default: all, %(default)s)")
    parser.add_argument("--orders", type=int, default=2_000, help="orders per timed pass (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes; the best counts (default %(default)s)")
    parser.add_argument("--max-pass", type=float, default=30.0,
                        help="a pass slower than this many CPU seconds is not repeated (default %(default)s)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the generated policies and print where")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKEND_NAMES]
    if unknown or not backends:
        parser.error(f"unknown backend(s) {', '.join(unknown)}: use {', '.join(BACKEND_NAMES)}")
    logging.basicConfig(level=logging.WARNING)  # the audit plugin logs at INFO: a no-op here

    print(f"salesgate policy scale: {args.orders:,} orders per pass, best of {args.repeat}, seed {args.seed}, "
          f"as of {AS_OF}; backends {', '.join(backends)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}; CPU time (time.process_time)")
    orders = build_workload(args.orders, args.seed, need_orders=True, need_returns=False).orders
    gc.collect()
    gc.freeze()
    base = Path(tempfile.mkdtemp(prefix="salesgate-scale-"))
    results: list[Measured] = []
    try:
        for size in _sizes(_ints(args.rules), _ints(args.rows)):
            directory = make_policy(base, size.rules, size.rows, args.seed)
            result = measure(size, directory, backends, orders, args.repeat, args.max_pass)
            results.append(result)
            times = "; ".join([*(f"{name}/{point} {result.us[(name, point)]:.1f}"
                                 for point in POINTS for name in backends),
                               *(f"- match/{point} {result.rest_us[point]:.1f}" for point in POINTS)])
            builds = ", ".join(f"{name} {result.backend_s[name]:.2f}" for name in backends)
            print(f"  {size.label}: {result.policy_rules:,} rules, load {result.compile_s:.2f} s, lint "
                  f"{result.lint_s:.2f} s, build {builds} s; {times} µs", flush=True)
    finally:
        if args.keep:
            print(f"policies kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    seed = results[0]
    print()
    head = f"{'policy':<26} {'rules':>6} {'compile s':>9} {'lint s':>7} "
    head += " ".join(f"{name + ' build s':>16}" for name in backends)
    print(head)
    for r in results:
        print(f"{r.size.label:<26} {r.policy_rules:>6,} {r.compile_s:>9.2f} {r.lint_s:>7.2f} "
              + " ".join(f"{r.backend_s[name]:>16.2f}" for name in backends))
    print()
    print(f"{'policy':<26} {'backend':<9} " + " ".join(f"{point + ' µs':>18} {'×seed':>6}" for point in POINTS))
    for r in results:
        for name in backends:
            cells = [f"{r.us[(name, point)]:>18.1f}{'*' if r.passes[(name, point)] < args.repeat else ' '}"
                     f"{r.us[(name, point)] / seed.us[(name, point)]:>7.2f}" for point in POINTS]
            print(f"{r.size.label:<26} {name:<9} " + " ".join(cells))
        cells = [f"{r.rest_us[point]:>18.1f} {r.rest_us[point] / seed.rest_us[point]:>6.2f}" for point in POINTS]
        print(f"{r.size.label:<26} {'- match':<9} " + " ".join(cells))
    print()
    print(f"{'policy':<26} " + " ".join(f"{point + ' logged':>22}" for point in POINTS))
    for r in results:
        print(f"{r.size.label:<26} " + " ".join(f"{r.logged[p][0]:>10,.0f} µs {r.logged[p][1]:>6,.0f} kB"
                                                for p in POINTS))
    print("logged: building the JSON a gate with a store logs of each decision (salesgate.workflow.entries."
          f"decision_json, json.dumps; mean of {LOGGED_SAMPLE}), not in the times above: its trace holds every rule")
    print("- match: the decisions with their matches replayed (recorded on a first pass on the python backend): "
          "what a decision costs besides matching")
    if any(n < args.repeat for r in results for n in r.passes.values()):
        print(f"*: fewer passes than {args.repeat} (one took more than {args.max_pass:g} s of CPU: --max-pass)")
    print()
    print(f"target: a policy of {TARGET_RULES:,} rules, and a {TARGET_ROWS:,}-row decision table, decide in under "
          f"{TARGET_RATIO:g}× the seed policy's time (per backend and point)")
    for r in results:
        if (r.size.rules, r.size.rows) not in ((TARGET_RULES, 0), (0, TARGET_ROWS), (TARGET_RULES, TARGET_ROWS)):
            continue
        parts = []
        for name in backends:
            for point in POINTS:
                ratio = r.us[(name, point)] / seed.us[(name, point)]
                parts.append(f"{name}/{point} {ratio:.2f}× {verdict(ratio < TARGET_RATIO)}")
        print(f"  {r.size.label:<26} " + "; ".join(parts))
    disagreements = sum(r.disagreements for r in results)
    agreement = "checked equal" if len(backends) > 1 else "not compared (one backend)"
    print(f"agreement across backends ({', '.join(backends)}), every size, {args.orders:,} orders × "
          f"{len(POINTS)} points: {agreement}; disagreements {disagreements}")
    print("load average at the end (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
