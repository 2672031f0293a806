"""The benchmark's reference implementations stay the seed policy: the hand-written floor and the ZEN graph.

benchmarks/bench.py compares the Gate with a floor written by hand (benchmarks/handwritten.py) and a
GoRules ZEN graph generated from the compiled policy (benchmarks/zen_graph.py); its figures mean
something only while all three decide alike. The benchmark checks that on every run, but nobody runs
it on every change: the floor once went stale when the seed policy grew. Here the same agreement
check (bench's own normalise and compare helpers) runs on a few hundred generated orders and returns,
so a seed rule changed at one of the four built-in points without the floor fails a test that names
the point and the first orders where they part.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from salesgate import Gate, load_policy

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "rules"  # what handwritten.py is written against (bench.py decides on it too)
POINTS = ("order_approval", "credit_check", "pricing", "return_handling")
N = 200  # orders and returns: every point's usual outcomes, in well under a second
SEED_NUMBER = 7


def _benchmark(name: str) -> ModuleType:
    """A module of benchmarks/ (not a package), imported the way bench.py imports its neighbours."""
    folder = str(ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _benchmark("bench")


@pytest.fixture(scope="module")
def seed_gate() -> Iterator[Gate]:
    with Gate.from_path(SEED, backend="python", entry_points=False) as gate:
        yield gate


@pytest.fixture(scope="module")
def workload(bench: ModuleType, seed_gate: Gate) -> Any:
    return bench.build_workload(N, SEED_NUMBER, True, True, seed_gate.policy)


def _facts(workload: Any, point: str) -> list[Any]:
    return list(workload.returns if point == "return_handling" else workload.orders)


def _disagreements(bench: ModuleType, point: str, facts: list[Any],
                   variants: list[tuple[str, Callable[[Any], Any]]],
                   capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """(decisions on which the variants part, bench's report of them: ``DISAGREE <point> <order id>``
    with every variant's normalised decision). The first variant is the reference."""
    wrapped = [bench.Variant(name, result, result) for name, result in variants]
    runs = [bench.Run(name) for name, _ in variants]
    bench.agreement(wrapped, facts, runs)
    capsys.readouterr()
    bad = bench.compare(point, facts, runs, show=3)
    return bad, capsys.readouterr().out


def _floor_and_gate(bench: ModuleType, gate: Gate, point: str) -> list[tuple[str, Callable[[Any], Any]]]:
    floor, decide = bench.HANDWRITTEN[point], bench._decider(gate, point)
    return [("floor", lambda facts: bench.normalise_verdict(floor(facts, bench.AS_OF))),
            ("Gate/python", lambda facts: bench.normalise_decision(decide(facts)))]


@pytest.mark.parametrize("point", POINTS)
def test_the_hand_written_floor_decides_as_the_seed_policy(
        bench: ModuleType, seed_gate: Gate, workload: Any, point: str, capsys: pytest.CaptureFixture[str]) -> None:
    facts = _facts(workload, point)
    bad, report = _disagreements(bench, point, facts, _floor_and_gate(bench, seed_gate, point), capsys)
    assert bad == 0, (f"benchmarks/handwritten.py no longer decides {point} as the seed policy does on "
                      f"{bad} of {len(facts)} generated documents: update the floor with the rule\n{report}")


def test_the_generated_facts_reach_every_outcome_at_every_point(
        bench: ModuleType, workload: Any) -> None:
    """An agreement that only ever sees "allow" proves nothing: the sample must exercise the rules."""
    for point in POINTS:
        floor = bench.HANDWRITTEN[point]
        outcomes = {floor(facts, bench.AS_OF).outcome for facts in _facts(workload, point)}
        wanted = {"allow", "require_approval", "block"} if point == "pricing" else \
            {"allow", "warn", "require_approval", "block"}
        assert wanted <= outcomes, f"{point}: the {N} generated documents only reach {sorted(outcomes)}"


def _four_points_copy(target: Path) -> Path:
    """The seed policy without the rule files of the points the floor does not cover (a quarter of the
    load time): policy.yaml, its data, tables and calendar, and the four points' rule files."""
    shutil.copytree(SEED, target, ignore=shutil.ignore_patterns("points", "tests"))
    for path in target.glob("*.yaml"):
        header = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.name != "policy.yaml" and (header.get("hook") or header.get("point")) not in POINTS:
            path.unlink()
    return target


def test_a_seed_threshold_changed_without_the_floor_is_reported_with_the_point_and_the_order(
        bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One threshold moved at each point, in a copy of the seed policy: each point disagrees, by name."""
    rules = _four_points_copy(tmp_path / "rules")
    changes = {  # file, old text, new text: each makes the policy stricter than the floor
        "order_approval": ("order-approval.yaml", "order.draft_term_days > 365", "order.draft_term_days > 180"),
        "credit_check": ("credit.yaml", "today - customer.grade_assessed_on > 31",
                         "today - customer.grade_assessed_on > 20"),
        "pricing": ("pricing.yaml", "line.qty >= 100", "line.qty >= 50"),
        "return_handling": ("returns.yaml", "return.amount > 5000\n", "return.amount > 4000\n"),
    }
    for file, old, new in changes.values():
        path = rules / file
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{file} no longer holds {old!r} once: pick another threshold"
        path.write_text(text.replace(old, new), encoding="utf-8")
    with Gate.from_path(rules, backend="python", entry_points=False) as gate:
        workload = bench.build_workload(N, SEED_NUMBER, True, True, gate.policy)
        for point in POINTS:
            facts = _facts(workload, point)
            bad, report = _disagreements(bench, point, facts, _floor_and_gate(bench, gate, point), capsys)
            assert bad > 0, f"{point}: {changes[point][1:]} changed nothing on {N} documents"
            first = report.splitlines()[0]
            assert first.startswith(f"    DISAGREE {point} "), report
            subject = first.split()[2].rstrip(":")
            assert subject.startswith("RT" if point == "return_handling" else "SO"), report
            assert "floor=" in first, report
            assert "Gate/python=" in report, report


# -- the peer: the ZEN graph ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zen_peer(bench: ModuleType, seed_gate: Gate) -> Any:
    zen = bench.load_zen()
    if zen is None:
        if os.environ.get("CI") == "true":
            pytest.fail("zen-engine is not installed: CI installs '.[test]', which includes the 'bench' extra")
        pytest.skip("zen-engine is not installed (the optional 'bench' extra: pip install '.[bench]'), "
                    "so the ZEN graph cannot be run")
    return bench.ZenPeer(zen, seed_gate.policy)


def test_the_whole_seed_policy_translates_to_zen(bench: ModuleType, seed_gate: Gate) -> None:
    translation = _benchmark("zen_graph").translate_policy(seed_gate.policy)
    assert translation.untranslated == []
    assert set(translation.graphs) == set(POINTS)
    assert translation.all_points is not None


@pytest.mark.parametrize("point", POINTS)
def test_the_zen_graph_decides_as_the_gate_and_the_floor(
        bench: ModuleType, seed_gate: Gate, workload: Any, zen_peer: Any, point: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    facts = _facts(workload, point)
    variants = [*_floor_and_gate(bench, seed_gate, point), ("ZEN", zen_peer.variant(point).result)]
    bad, report = _disagreements(bench, point, facts, variants, capsys)
    assert bad == 0, f"the ZEN graph, the floor and the Gate part at {point} on {bad} documents\n{report}"


def test_zens_one_graph_decides_all_four_points_as_the_floor(bench: ModuleType, workload: Any, zen_peer: Any) -> None:
    """As bench.py checks it: against the floor, which the tests above hold to the Gate."""
    variant, pairs = zen_peer.all_points(workload.orders, workload.returns)
    for order, request in pairs:
        got = dict(zip(POINTS, variant.result((order, request)), strict=True))
        for point in POINTS:
            facts = request if point == "return_handling" else order
            floor = bench.normalise_verdict(bench.HANDWRITTEN[point](facts, bench.AS_OF))
            subject = request.return_request.id if point == "return_handling" else order.order.id
            assert got[point] == floor, f"ZEN's one graph parts from the floor at {point} on {subject}: " \
                                        f"ZEN={got[point]}, floor={floor}"


UNTRANSLATABLE = """\
ruleset: odd-{point}
hook: {point}
version: '1'
rules:
{rules}
"""


def test_zen_graph_names_every_rule_it_cannot_translate_and_leaves_its_point_out(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("name: p\nversion: '1'\nroles: [sales_manager, finance]\n",
                                          encoding="utf-8")
    (tmp_path / "returns.yaml").write_text(UNTRANSLATABLE.format(point="return_handling", rules=(
        "  - { id: unit-refund, when: return.amount / return.qty > 100, then: { require: [sales_manager] } }\n"
        "  - { id: big-return, when: return.amount > 5000, then: { require: [sales_manager] } }\n")),
        encoding="utf-8")
    (tmp_path / "orders.yaml").write_text(UNTRANSLATABLE.format(point="order_approval", rules=(
        "  - { id: many-units, when: sum(line.qty for line in order.lines) > 100, then: { require: [finance] } }\n"
        "  - { id: big-order, when: order.total > 5000, then: { require: [finance] } }\n")),
        encoding="utf-8")
    (tmp_path / "prices.yaml").write_text(UNTRANSLATABLE.format(point="pricing", rules=(
        "  - { id: fixed-price, scope: line, when: true, then: { set_price: '100' } }\n")),
        encoding="utf-8")

    translation = _benchmark("zen_graph").translate_policy(load_policy(tmp_path))

    refused = {(point, rule): why for point, rule, why in translation.untranslated}
    assert set(refused) == {("return_handling", "unit-refund"), ("order_approval", "many-units"),
                            ("pricing", "(policy prices)")}
    assert "division" in refused["return_handling", "unit-refund"]
    assert "Aggregate" in refused["order_approval", "many-units"]
    assert "a price set" in refused["pricing", "(policy prices)"]
    assert set(translation.graphs) == {"credit_check"}  # no point is carried with a rule missing
    assert translation.all_points is None


def test_the_stream_benchmark_decides_every_order_once_and_counts_the_new_verdicts(
        capsys: pytest.CaptureFixture[str]) -> None:
    stream = _benchmark("stream")
    stream.main(["--orders", "60", "--points", "order_approval,return_handling"])
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == {"order_approval", "return_handling"}
    for row in rows.values():
        assert float(row[1]) > 0  # CPU µs a decision
        assert 0 < int(row[-1].replace(",", "")) <= 60  # stage verdicts worked out: at least one, one an order at most
