"""Matching alone, python backend against compiled backend: the seed policy's stages, and large stages.

    python benchmarks/compiled_match.py [--orders 2000] [--seed 42] [--repeat 7]

Times ``backend.match(stage, factset)`` only (facts flattened before any timing), best of ``--repeat``
runs of ``time.process_time`` over all the fact sets, in microseconds per match, in one process so the
ratios compare like with like. Every match of the compiled backend is checked equal to the python
backend's before anything is timed.

1. The seed policy's stages on the orders and returns of ``bench.build_workload``.
2. Synthetic stages shaped like decision tables (rows of ``region == R and grade == G and
   lo <= total < hi``, with none or 5% of rows with no condition an index can use): 100, 1,000 and
   10,000 rules, on the python backend, compiled without the rule index, and compiled with it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for source_root in ("core", "plugins", "adapters", "benchmarks"):
    if str(ROOT / source_root) not in sys.path:
        sys.path.insert(0, str(ROOT / source_root))

import bench  # noqa: E402
from salesgate import load_policy, seed_policy_path  # noqa: E402
from salesgate.engine.compiled import CompiledBackend  # noqa: E402
from salesgate.engine.python import PythonBackend  # noqa: E402
from salesgate.facts import FactSet, order_factset, return_factset, with_policy_prices  # noqa: E402
from salesgate.policy.codegen import compile_stages  # noqa: E402
from salesgate.policy.ir import And, Compare, Cond, Const, Kind, Or, Ref  # noqa: E402
from salesgate.policy.stages import EngineRule, Stage  # noqa: E402
from salesgate.vocabulary import VOCABULARY  # noqa: E402

AS_OF = date(2026, 11, 23)


def best(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def per_match(match: Callable[[str, FactSet], Any], stage: str, facts: Sequence[FactSet], repeat: int) -> float:
    def run() -> None:
        for factset in facts:
            match(stage, factset)

    return best(run, repeat) / len(facts) * 1e6


def seed(orders: int, seed_value: int, repeat: int) -> float:
    policy = load_policy(seed_policy_path())
    stages = policy.stages()
    python, compiled = PythonBackend(stages), CompiledBackend(stages)
    print(f"seed policy: {len(policy.rules)} rules, compiled with {len(compiled.fallbacks)} fallbacks")
    workload = bench.build_workload(orders, seed_value, True, True)
    flat = [order_factset(o, today=AS_OF) for o in workload.orders]
    priced = [with_policy_prices(f, {line.line_no: line.unit_price for line in o.order.lines})
              for f, o in zip(flat, workload.orders, strict=True)]
    returns = [return_factset(r, today=AS_OF) for r in workload.returns]
    cases = {"order_approval": flat, "credit_check": flat, "pricing.adjust": flat, "pricing.check": priced,
             "return_handling": returns}
    print(f"{'stage':18} {'python µs':>10} {'compiled µs':>12} {'ratio':>6}")
    total_python = total_compiled = 0.0
    for stage, facts in cases.items():
        for factset in facts:
            assert compiled.match(stage, factset) == python.match(stage, factset), stage
        p = per_match(python.match, stage, facts, repeat)
        c = per_match(compiled.match, stage, facts, repeat)
        total_python += p
        total_compiled += c
        print(f"{stage:18} {p:10.2f} {c:12.2f} {c / p:6.2f}")
    print(f"{'all five':18} {total_python:10.2f} {total_compiled:12.2f} {total_compiled / total_python:6.2f}")
    return total_compiled / len(cases)


REGION = Ref("customer.region", Kind.text)
GRADE = Ref("customer.grade", Kind.text)
TOTAL = Ref("order.total", Kind.number)


def table_stage(rows: int, rng: random.Random, unindexed: float) -> Stage:
    """``rows`` rules shaped like a decision table's rows over region, grade and total ranges; the share
    ``unindexed`` of them with a condition no index narrows (tested on every decision)."""
    regions = [f"R{i:02}" for i in range(20)]
    rules = []
    for index in range(rows):
        if rng.random() < unindexed:
            cond: Cond = Or((Compare("!=", GRADE, Const("A", Kind.text)),
                             Compare("<", TOTAL, Const(Decimal(-index), Kind.number))))
        else:
            low = Decimal(rng.randrange(0, 1_000_000, 100))
            high = low + Decimal(rng.randrange(100, 50_000, 100))
            parts: list[Cond] = [Compare("==", REGION, Const(rng.choice(regions), Kind.text)),
                                 Compare(">=", TOTAL, Const(low, Kind.number)),
                                 Compare("<", TOTAL, Const(high, Kind.number))]
            if rng.random() < 0.5:
                parts.insert(1, Compare("==", GRADE, Const(rng.choice("ABC"), Kind.text)))
            cond = And(tuple(parts))
        rules.append(EngineRule(f"row-{index}", index, "order", cond))
    return Stage("table", tuple(rules), VOCABULARY["order_approval"])


def synthetic(rows: int, facts_count: int, rng: random.Random, repeat: int, seed_time: float,
              unindexed: float) -> None:
    stage = table_stage(rows, rng, unindexed)
    facts = [FactSet({"customer.region": f"R{rng.randrange(22):02}", "customer.grade": rng.choice("ABCD"),
                      "order.total": Decimal(rng.randrange(0, 1_100_000)) / 100}) for _ in range(facts_count)]
    python = PythonBackend([stage])
    start = time.process_time()
    plain = compile_stages([stage], index=False).functions["table"]
    plain_load = time.process_time() - start
    start = time.process_time()
    indexed = compile_stages([stage]).functions["table"]
    indexed_load = time.process_time() - start
    for factset in facts:
        expected = python.match("table", factset)
        assert frozenset(plain(factset.root, ())) == expected
        assert frozenset(indexed(factset.root, ())) == expected

    def run_plain(name: str, factset: FactSet) -> Any:
        return frozenset(plain(factset.root, ()))

    def run_indexed(name: str, factset: FactSet) -> Any:
        return frozenset(indexed(factset.root, ()))

    p = per_match(python.match, "table", facts, repeat)
    c = per_match(run_plain, "table", facts, repeat)
    i = per_match(run_indexed, "table", facts, repeat)
    print(f"{rows:>6} rules  python {p:9.2f} µs   compiled, no index {c:9.2f} µs   compiled, indexed {i:7.2f} µs"
          f"   (index/no index {i / c:.3f}; indexed / seed stage mean {i / seed_time:.2f}×; "
          f"compile {plain_load:.2f} s / {indexed_load:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    seed_time = seed(args.orders, args.seed, args.repeat)
    print()
    for unindexed in (0.0, 0.05):
        print(f"table-shaped stages, {unindexed:.0%} of rules with no condition an index can use:")
        rng = random.Random(args.seed)
        for rows in (100, 1_000, 10_000):
            synthetic(rows, 500 if rows < 10_000 else 100, rng, args.repeat, seed_time, unindexed)


if __name__ == "__main__":
    main()
