"""Matching straight from the fact models against flattening then matching, per stage of the seed policy.

    python benchmarks/model_match.py [--orders 3000] [--seed 7] [--repeat 9]

For each stage of the four built-in points: ``order_factset`` alone (the paths the point reads, as a decision
flattens them), ``match`` alone on those factsets, ``order_factset`` + ``match`` (``with_policy_prices`` too for
pricing.check, as the Gate checks prices), and ``CompiledBackend.match_models`` on the models, in microseconds
per order: best of ``--repeat`` runs of ``time.process_time``, the last two interleaved run by run, so their
ratio compares like with like on a noisy machine. The workload is the policy's own models (with its declared
facts), frozen out of the garbage collector after it is built. Every model match is checked equal to the
flattened one before anything is timed.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for source_root in ("core", "plugins", "adapters", "benchmarks"):
    if str(ROOT / source_root) not in sys.path:
        sys.path.insert(0, str(ROOT / source_root))

import bench  # noqa: E402
from salesgate import load_policy, seed_policy_path  # noqa: E402
from salesgate.engine.compiled import CompiledBackend  # noqa: E402
from salesgate.facts import order_factset, return_factset, with_policy_prices  # noqa: E402

POINTS = {"order_approval": "order_approval", "credit_check": "credit_check", "pricing.adjust": "pricing",
          "pricing.check": "pricing", "return_handling": "return_handling"}


def once(run: Callable[[Any], Any], items: Sequence[Any]) -> float:
    """Microseconds per item of one run over ``items``."""
    start = time.process_time()
    for item in items:
        run(item)
    return (time.process_time() - start) / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    policy = load_policy(seed_policy_path())
    backend = CompiledBackend(policy.stages())
    workload = bench.build_workload(args.orders, args.seed, True, True, policy=policy)
    orders = [(o, {line.line_no: line.unit_price for line in o.order.lines}) for o in workload.orders]
    gc.collect()
    gc.freeze()
    print(f"{'stage':16} {'flatten':>8} {'match':>7} {'flatten+match':>14} {'match_models':>13} {'ratio':>6}  µs")
    for stage, point in POINTS.items():
        paths = policy.fact_reads.get(point, frozenset())
        items: Sequence[Any]
        if stage == "return_handling":
            items = workload.returns

            def flatten(r: Any, paths: frozenset[str] = paths) -> Any:
                return return_factset(r, paths=paths, today=None)

            def models(r: Any, stage: str = stage) -> Any:
                return backend.match_models(stage, r, None)
        else:
            items = orders
            priced = stage == "pricing.check"

            def flatten(pair: Any, paths: frozenset[str] = paths, priced: bool = priced) -> Any:
                facts, prices = pair
                factset = order_factset(facts, paths=paths, today=facts.order.order_date)
                return with_policy_prices(factset, prices) if priced else factset

            def models(pair: Any, stage: str = stage, priced: bool = priced) -> Any:
                facts, prices = pair
                return backend.match_models(stage, facts, facts.order.order_date, prices if priced else None)

        def both(item: Any, stage: str = stage, flatten: Callable[[Any], Any] = flatten) -> Any:
            return backend.match(stage, flatten(item))

        factsets = [flatten(item) for item in items]
        for item, factset in zip(items, factsets, strict=True):
            found = models(item)
            assert found is not None, stage
            assert found == backend.match(stage, factset), stage
        flat = min(once(flatten, items) for _ in range(args.repeat))
        matched = min(once(lambda f, stage=stage: backend.match(stage, f), factsets) for _ in range(args.repeat))
        old = new = float("inf")
        for _ in range(args.repeat):
            old = min(old, once(both, items))
            new = min(new, once(models, items))
        print(f"{stage:16} {flat:8.2f} {matched:7.2f} {old:14.2f} {new:13.2f} {new / old:6.2f}")


if __name__ == "__main__":
    main()
