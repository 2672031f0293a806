"""Decisions on a stream of new orders, as an ERP makes them: each order decided once, on facts no decision has
read, with the garbage collector as a long-lived process has it (nothing frozen).

    python benchmarks/stream.py [--orders 20000] [--seed 42] [--points order_approval,pricing]

``bench.py`` times the best of several passes over the same orders, after a warm-up, with the workload frozen
out of the garbage collector: the steady state of a policy that has seen these match sets before. Here every
order is new to the policy: the first time a match set is seen its stage verdict is worked out (and kept), and
the collector walks whatever the process keeps, the workload included. Per point, in a fresh Gate on the seed
policy: CPU µs per decision over the stream (``process_time``), the share of it the collector took (its
callbacks), the collections by generation, and the stage verdicts worked out (new match sets).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for source_root in ("core", "plugins", "adapters", "benchmarks"):
    if str(ROOT / source_root) not in sys.path:
        sys.path.insert(0, str(ROOT / source_root))

import bench  # noqa: E402
from salesgate import DECISION_POINTS, Gate, load_policy, seed_policy_path  # noqa: E402
from salesgate.plugins import installed_points  # noqa: E402


class CollectorTime:
    """CPU time the garbage collector spends, from its start and stop callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started
            self.collections[info["generation"]] += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--points", default=",".join(DECISION_POINTS[:4]))
    args = parser.parse_args(argv)
    print(f"stream: {args.orders:,} new orders (and returns) per point, seed {args.seed}, decided once each as of "
          f"{bench.AS_OF}; a fresh Gate per point; the collector on, nothing frozen")
    print(f"{'point':16} {'CPU µs':>7} {'of it GC':>9} {'collections (gen 0/1/2)':>24} {'new verdicts':>13}")
    for point in args.points.split(","):
        policy = load_policy(seed_policy_path(), points=installed_points())
        gate = Gate(policy)
        workload = bench.build_workload(args.orders, args.seed, point != "return_handling",
                                        point == "return_handling", policy)
        facts = bench.fresh(workload.returns if point == "return_handling" else workload.orders)
        decide = bench._decider(gate, point)
        collector = CollectorTime()
        gc.collect()
        gc.callbacks.append(collector)
        try:
            started = time.process_time()
            for f in facts:
                decide(f)
            spent = time.process_time() - started
        finally:
            gc.callbacks.remove(collector)
        n = len(facts)
        print(f"{point:16} {spent / n * 1e6:7.1f} {collector.seconds / n * 1e6:7.1f} µs "
              f"{'/'.join(str(c) for c in collector.collections):>24} {len(policy.verdict_cache):>13,}")
        gate.close()


if __name__ == "__main__":
    main()
