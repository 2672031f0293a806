"""A decision's trace says what the facts were when it was decided, even when the caller changes its own objects
afterwards (an ERP reusing its order: the models are frozen, the lists inside them are not). Found by probe9: the
compiled backend flattens the facts only when the trace is read (FactsWhenRead), so the trace read later shows the
mutated list; da8e583 (flattening during the decision) and the python backend show the decided values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from salesgate import Gate, OrderFacts


def _facts() -> OrderFacts:
    return OrderFacts.model_validate({
        "customer": {"id": "C1", "name": "x", "credit_limit": "100000"},
        "order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-02",
                  "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": "100"}]},
        "products": [{"sku": "P1", "list_price": "100", "cost": "60", "stock": 100}]})


@pytest.mark.parametrize("backend", ["compiled", "python", "durable"])
def test_the_trace_read_after_the_caller_changed_its_lines_shows_the_values_decided(backend: str) -> None:
    facts = _facts()
    with Gate.default(backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        decision = gate.approve_order(facts, explain=True)
        facts.order.lines[0] = facts.order.lines[0].model_copy(update={"qty": 100_000})
        entry = next(entry for entry in decision.trace if entry.rule == "large-order")
    assert (entry.fired, str(entry.values["order.total"])) == (False, "100.00")


@pytest.mark.parametrize("backend", ["compiled", "python"])
def test_the_trace_read_after_the_caller_changed_its_products_and_lines_shows_the_values_decided(
        backend: str) -> None:
    changed, kept = _facts(), _facts()
    with Gate.default(backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        decision = gate.price_order(changed, explain=True)  # its trace not read yet
        reference = gate.price_order(kept, explain=True)
        changed.products[0] = changed.products[0].model_copy(update={"list_price": Decimal("1")})
        changed.order.lines.append(changed.order.lines[0].model_copy(update={"line_no": 2}))
        assert decision.trace == reference.trace
        assert decision.model_dump_json() == reference.model_dump_json()
