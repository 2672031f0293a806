"""Amounts and rates read by their text: a text read before gives what reading it gave, errors stay errors.

``salesgate.models`` keeps the plain amounts and rates it read by their text (a file of orders names the
same prices over and over). Nothing a fact holds may depend on whether its text was read before: these
read each text twice, with the reading in between forgotten or not, and against what pydantic says of it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from salesgate import models
from salesgate.models import OrderFacts, OrderLine, Product
from salesgate.money import normalise_scale
from salesgate.policy.plainwords import plain_message


def _line(unit_price: Any, discount: Any = "0") -> str:
    return json.dumps({"line_no": 1, "sku": "P1", "qty": 2, "unit_price": unit_price, "discount": discount})


@pytest.mark.parametrize(("text", "read"), [
    ("1250.5000", "1250.50"), ("40000.0000", "40000.00"), ("9300.0093", "9300.0093"), ("12.5", "12.5"),
    ("0012.50", "12.50"), ("0", "0"), ("99999999999999.9999", "99999999999999.9999"), ("100.10", "100.10"),
])
def test_an_amount_read_again_is_the_amount_at_the_scale_read_the_first_time(text: str, read: str) -> None:
    models._MONEY_READ.clear()
    first = OrderLine.model_validate_json(_line(text)).unit_price
    again = OrderLine.model_validate_json(_line(text)).unit_price
    assert text in models._MONEY_READ  # the second reading was a lookup
    assert (str(first), str(again)) == (read, read)
    assert Product.model_validate({"sku": "P1", "list_price": text}).list_price.as_tuple() == first.as_tuple()


@pytest.mark.parametrize(("text", "read"), [("0.1500", "0.1500"), ("0.05", "0.05"), ("1.0", "1.0"), ("0", "0")])
def test_a_rate_read_again_keeps_the_scale_it_was_written_with(text: str, read: str) -> None:
    models._RATE_READ.clear()
    first = OrderLine.model_validate_json(_line("10", text)).discount
    again = OrderLine.model_validate_json(_line("10", text)).discount
    assert text in models._RATE_READ
    assert (str(first), str(again)) == (read, read)


@pytest.mark.parametrize(("unit_price", "discount", "message"), [
    ("-5", "0", "must be at least 0, not '-5'"),
    ("12.12345", "0", "'12.12345' has more than 4 decimals: round it"),
    ("100000000000000", "0", "'100000000000000' has more than 14 digits before the decimal point"),
    ("1_000", "0", "a number is written without '_', got '1_000'"),
    ("１２", "0", "a number is written with ASCII digits 0-9, got '１２'"),
    ("10", "1.5", "must be at most 1, not '1.5'"),
    ("10", "-0.1", "must be at least 0, not '-0.1'"),
    ("10", "0.12345", "'0.12345' has more than 4 decimals: round it"),
])
def test_a_text_that_is_no_amount_or_rate_is_refused_alike_every_time_it_is_read(
        unit_price: str, discount: str, message: str) -> None:
    for _ in range(2):
        with pytest.raises(ValidationError) as refused:
            OrderLine.model_validate_json(_line(unit_price, discount))
        assert [plain_message(error) for error in refused.value.errors(include_url=False)] == [message]
    assert unit_price == "10" or unit_price not in models._MONEY_READ
    assert discount == "0" or discount not in models._RATE_READ


def test_a_full_table_of_texts_read_forgets_the_oldest_and_still_reads_each_right(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "_PLAIN_TEXTS", 8)
    models._MONEY_READ.clear()
    texts = [f"{n}.{n % 10}000" for n in range(1, 40)]
    for text in texts + texts:
        amount = OrderLine.model_validate_json(_line(text)).unit_price
        assert amount == Decimal(text)
        assert amount.as_tuple() == normalise_scale(Decimal(text)).as_tuple()
        assert len(models._MONEY_READ) <= 8
    assert texts[-1] in models._MONEY_READ
    assert texts[0] not in models._MONEY_READ


def test_an_order_read_twice_holds_equal_facts() -> None:
    """The whole document, as ``salesgate simulate`` reads each line of a file: a second reading is a lookup."""
    document = json.dumps({
        "order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-03-01",
                  "lines": [{"line_no": 1, "sku": "P1", "qty": 3, "unit_price": "80.5000", "discount": "0.1500"}]},
        "customer": {"id": "C1", "name": "Northwind", "credit_limit": "50000.0000"},
        "products": [{"sku": "P1", "list_price": "100.00", "cost": "61.2500"}],
        "exposure": {"open_receivables": "1200.10", "open_orders": "0"},
    })
    models._MONEY_READ.clear()
    models._RATE_READ.clear()
    first, again = OrderFacts.model_validate_json(document), OrderFacts.model_validate_json(document)
    assert first == again
    assert first.model_dump_json() == again.model_dump_json()
    assert (str(again.order.lines[0].unit_price), str(again.products[0].cost)) == ("80.50", "61.25")
