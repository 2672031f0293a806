from decimal import Decimal

from salesgate_legal_review import LegalReview

from salesgate import Gate

ORDER = {
    "order": {"id": "SO-9", "customer_id": "C1", "order_date": "2026-11-23",
              "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": "600000"}]},
    "customer": {"id": "C1", "name": "华东机电有限公司", "credit_limit": "1000000"},
}


def test_large_contract_needs_legal_and_finance() -> None:
    gate = Gate.default(backend="python", entry_points=False, plugins=[LegalReview()])
    decision = gate.approve_order(ORDER)
    assert decision.required_roles == ["sales_manager", "finance", "legal", "general_manager"]


def test_small_order_is_left_to_the_rules() -> None:
    gate = Gate.default(backend="python", entry_points=False, plugins=[LegalReview()])
    small = {**ORDER, "order": {**ORDER["order"], "lines": [{"line_no": 1, "sku": "P1", "qty": 1,
                                                              "unit_price": str(Decimal("1000"))}]}}
    assert "legal" not in gate.approve_order(small).required_roles


def test_its_reason_carries_the_plugins_name_and_the_gate_stamps_the_rest() -> None:
    gate = Gate.default(backend="python", entry_points=False, plugins=[LegalReview()])
    decision = gate.approve_order(ORDER)
    ours = [reason for reason in decision.reasons if reason.rule == "legal-review-large-contract"]
    assert [reason.plugin for reason in ours] == ["salesgate_legal_review.LegalReview"]  # passed in: its class path
    assert (decision.hook, decision.subject, decision.failure) == ("order_approval", "SO-9", None)
