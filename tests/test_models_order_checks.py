"""An order's checks across its parts (``OrderFacts``, ``Order``): what each refuses, in the words it says it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from salesgate.models import OrderFacts


def _order(products: list[dict[str, Any]], customer: str = "C1", line_nos: tuple[int, ...] = (1,)) -> dict[str, Any]:
    return {"order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-03-01",
                      "lines": [{"line_no": n, "sku": "P1", "qty": 1, "unit_price": "10"} for n in line_nos]},
            "customer": {"id": customer, "name": "Northwind"}, "products": products}


def _refused(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        OrderFacts.model_validate(doc)
    return [error["msg"] for error in refused.value.errors(include_url=False)]


@pytest.mark.parametrize("skus", [["P1", "P1"], ["P1", "P2", "P1"], ["P2", "P1", "P3", "P3"]])
def test_products_that_list_a_sku_twice_are_refused(skus: list[str]) -> None:
    assert _refused(_order([{"sku": sku, "list_price": "10"} for sku in skus])) == [
        "Value error, products lists the same sku twice"]


@pytest.mark.parametrize("skus", [[], ["P1"], ["P1", "P2"], ["P3", "P1", "P2"]])
def test_products_with_distinct_skus_are_facts(skus: list[str]) -> None:
    facts = OrderFacts.model_validate(_order([{"sku": sku, "list_price": "10"} for sku in skus]))
    assert [p.sku for p in facts.products] == skus


def test_an_order_of_another_customer_is_refused_naming_both_ids() -> None:
    assert _refused(_order([], customer="C2")) == [
        "Value error, order.customer_id 'C1' does not match customer.id 'C2'"]


def test_line_numbers_given_twice_are_refused_listing_them() -> None:
    assert _refused(_order([], line_nos=(1, 2, 1))) == [
        "Value error, line_no values must be unique within an order, got [1, 2, 1]"]
