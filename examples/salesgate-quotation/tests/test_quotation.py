"""The quotation point, with this package installed: its entry point declares the point, no
``plugins=[...]`` needed. Run with ``pytest examples/salesgate-quotation/tests``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from salesgate_quotation import SAMPLE, QuotationFacts

from salesgate import BackendName, FactsError, Gate, Origin, Outcome

HERE = Path(__file__).resolve().parents[1]
POLICY = HERE / "policy"


def quotation_json() -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((HERE / "quotation.json").read_text(encoding="utf-8"))
    return facts


@pytest.mark.parametrize("backend", ["python", "durable"])
def test_a_thin_margin_with_a_line_below_cost_needs_the_sales_and_general_managers(backend: BackendName) -> None:
    gate = Gate.from_path(POLICY, backend=backend)
    decision = gate.decide("quotation", quotation_json())
    assert (decision.hook, decision.subject, decision.outcome) == ("quotation", "QT-2026-0117",
                                                                   Outcome.require_approval)
    assert decision.required_roles == ["sales_manager", "general_manager"]
    assert [(r.rule, r.line_no) for r in decision.reasons] == [
        ("thin-margin", None), ("below-cost", 2), ("grade-c-advance", None)]
    assert decision.outputs == {"validity_days": 15, "deposit": Decimal("0.3")}
    assert decision.failure is None


def test_the_point_comes_from_the_installed_plugin() -> None:
    gate = Gate.from_path(POLICY, backend="python")
    spec = gate.policy.points["quotation"]
    assert (spec.origin, spec.source, spec.document, spec.subject) == (
        Origin.plugin, "quotation", QuotationFacts, "quotation.id")
    assert [o.name for o in spec.declared_outputs] == ["validity_days", "deposit"]
    facts = gate.policy.vocabulary["quotation"]
    assert {"quotation.margin", "quotation.total", "line.margin", "customer.grade"} <= set(facts)


def test_rules_read_the_margins_the_model_computes() -> None:
    gate = Gate.from_path(POLICY, backend="python")
    decision = gate.decide("quotation", quotation_json(), explain=True)
    explained = {entry.rule: entry.explanation for entry in decision.trace if entry.fired}
    assert explained["thin-margin"] == "quotation.margin is 0.1294, < 0.15"  # 7,400 / 57,200
    assert explained["below-cost"] == "line.margin is -0.0833, < 0"  # (180 - 195) / 180


def test_a_quotation_is_decided_by_its_number_through_the_quotation_book() -> None:
    gate = Gate.from_path(POLICY, backend="python", adapter="quotation_book", adapter_options={"file": SAMPLE})
    large = gate.decide("quotation", {"quotation": "QT-2026-0101"})  # 562,000 at 19.4%: finance
    assert (large.subject, large.required_roles, large.outputs) == ("QT-2026-0101", ["finance"], {})
    long = gate.decide("quotation", {"quotation": "QT-2026-0102"})  # 90 days to a grade C customer, below cost
    assert long.required_roles == ["sales_manager", "general_manager"]
    assert long.outputs == {"validity_days": 15, "deposit": Decimal("0.3")}  # min(15, 60), max(30%)
    with pytest.raises(FactsError, match="no quotation 'QT-404'"):
        gate.decide("quotation", {"quotation": "QT-404"})


def test_a_product_quoted_at_two_prices_is_blocked_by_the_plugins_own_check() -> None:
    facts = quotation_json()
    facts["quotation"]["lines"].append({"sku": "MOTOR-5.5", "qty": 5, "unit_price": "2650.00", "unit_cost": "2100.00"})
    decision = Gate.from_path(POLICY, backend="python").decide("quotation", facts)
    assert decision.outcome is Outcome.block
    ours = [r for r in decision.reasons if r.rule == "one-price-per-product"]
    assert [(r.plugin, r.translations["en"]) for r in ours] == [
        ("quotation", "Product MOTOR-5.5 is quoted at two prices (2,500.00 / 2,650.00): quote it on one line")]


def test_computed_fields_may_be_sent_only_with_the_value_they_compute_to() -> None:
    gate = Gate.from_path(POLICY, backend="python")
    facts = quotation_json()
    facts["quotation"]["margin"] = "0.30"
    with pytest.raises(FactsError, match=r"quotation: .*margin is computed from the lines \(0.1294\), you sent 0.30"):
        gate.decide("quotation", facts)
    facts["quotation"]["margin"] = "0.1294"  # what a model_dump() of the quotation holds: accepted
    assert gate.decide("quotation", facts).outcome is Outcome.require_approval


@pytest.mark.parametrize(("field", "value", "message"), [
    ("qty", True, "qty"),
    ("unit_price", "0", "unit_price"),
    ("unit_cost", 0.1 + 0.2, "unit_cost"),
])
def test_a_bad_line_is_refused_naming_the_field(field: str, value: Any, message: str) -> None:
    facts = quotation_json()
    facts["quotation"]["lines"][0][field] = value
    with pytest.raises(FactsError, match=message):
        Gate.from_path(POLICY, backend="python").decide("quotation", facts)
