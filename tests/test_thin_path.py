"""The thin decision path: with the built-in ``rules`` plugin alone answering, the facade builds the Decision
straight from the policy's verdict. It must be the Decision the generic path gives (the plugin's contribution,
stamped), field for field, fields set and JSON included, explained or not, failing alike.

The generic path is forced by a second plugin that implements every decision hook and answers None: it adds
nothing to any decision, but the rules plugin no longer answers alone.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from salesgate import Decision, Gate, hookimpl, load_policy

ROOT = Path(__file__).resolve().parents[1]
POINTS = ("order_approval", "credit_check", "pricing", "return_handling")


class Silent:
    """Implements every built-in decision hook and answers nothing: only takes the thin path away."""

    @hookimpl
    def salesgate_order_approval(self, facts: Any) -> None:
        return None

    @hookimpl
    def salesgate_credit_check(self, facts: Any) -> None:
        return None

    @hookimpl
    def salesgate_pricing(self, facts: Any) -> None:
        return None

    @hookimpl
    def salesgate_return_handling(self, facts: Any) -> None:
        return None


def _bench() -> ModuleType:
    folder = str(ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("bench")


@pytest.fixture(scope="module", params=["compiled", "python"])
def gates(request: pytest.FixtureRequest) -> Iterator[tuple[Gate, Gate]]:
    policy = load_policy(ROOT / "rules")
    thin = Gate(policy, backend=request.param, entry_points=False)
    generic = Gate(policy, backend=request.param, entry_points=False, plugins=[Silent()])
    yield thin, generic
    thin.close()
    generic.close()


def _alike(thin: Decision, generic: Decision) -> None:
    assert thin == generic
    assert thin.model_fields_set == generic.model_fields_set
    assert thin.model_dump_json() == generic.model_dump_json()


def test_the_thin_path_is_taken_only_when_the_rules_plugin_answers_alone(gates: tuple[Gate, Gate]) -> None:
    thin, generic = gates
    assert all(thin.hooks._rules_alone(f"salesgate_{point}") for point in POINTS)
    assert not any(generic.hooks._rules_alone(f"salesgate_{point}") for point in POINTS)


@pytest.mark.parametrize("explain", [False, True])
def test_the_thin_path_decides_as_the_stamped_contribution_at_every_point(gates: tuple[Gate, Gate],
                                                                          explain: bool) -> None:
    bench = _bench()
    thin, generic = gates
    workload = bench.build_workload(150, 11, True, True, policy=thin.policy)
    outcomes: set[str] = set()
    for point in POINTS:
        facts = workload.returns if point == "return_handling" else workload.orders
        for one in facts:
            decided = thin.decide(point, one, as_of=bench.AS_OF, explain=explain)
            _alike(decided, generic.decide(point, one, as_of=bench.AS_OF, explain=explain))
            outcomes.add(f"{point}:{decided.outcome.value}")
    # the orders reach every kind of answer the seed gives, so the comparison covers approvals and blocks
    assert {"order_approval:require_approval", "order_approval:block", "credit_check:block",
            "pricing:require_approval", "return_handling:allow"} <= outcomes


def test_a_rule_that_cannot_price_fails_alike_on_the_thin_path(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("name: p\nversion: '1'\nroles: [sales_rep, sales_manager]\n",
                                          encoding="utf-8")
    (tmp_path / "p.yaml").write_text(
        "ruleset: p\nhook: pricing\nversion: '1'\nrules:\n"
        "  - id: big\n    scope: line\n    when: true\n    then: { set_price: \"line.unit_price * 920000000000\" }\n",
        encoding="utf-8")
    order = {"order": {"id": "SO-P", "customer_id": "C1", "order_date": "2026-11-23",
                       "lines": [{"line_no": 7, "sku": "P1", "qty": 3, "unit_price": "1000"}]},
             "customer": {"id": "C1", "name": "华东机电有限公司", "credit_limit": "100000"},
             "products": [{"sku": "P1", "list_price": "1000", "cost": "700", "stock": 10}]}
    policy = load_policy(tmp_path)
    with Gate(policy, entry_points=False) as thin, \
            Gate(policy, entry_points=False, plugins=[Silent()]) as generic:
        decided = thin.price_order(order)
        assert decided.failure is not None
        assert "plugin 'rules' failed in salesgate_pricing: PolicyError" in decided.failure
        _alike(decided, generic.price_order(order))


def test_a_decisions_fields_set_is_shared_read_only_and_a_copy_is_the_callers_own(gates: tuple[Gate, Gate]) -> None:
    """The thin path gives decisions with the same fields one read-only set: changing it would change theirs."""
    bench = _bench()
    thin, _ = gates
    orders = bench.build_workload(2, 5, True, False, policy=thin.policy).orders
    first, second = (thin.decide("credit_check", order, as_of=bench.AS_OF) for order in orders)
    assert "credit" in first.model_fields_set
    assert first.model_fields_set == second.model_fields_set
    with pytest.raises(TypeError, match="cannot be changed"):
        first.model_fields_set.discard("credit")
    assert "credit" in second.model_dump(exclude_unset=True)
    copied = first.model_copy(update={"subject": "SO-copy"})
    copied.model_fields_set.discard("credit")  # a plain set of its own
    assert "credit" in first.model_fields_set
