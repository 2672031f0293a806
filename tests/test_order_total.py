"""What a fact model keeps once worked out: ``Order.total``, kept with the lines it was summed from (the rules and
the credit figures of one decision both read it) and summed again whenever the order holds other lines (the models
are frozen, the list inside them is not), and a return's amount; a ``model_copy`` that changes fields drops both."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from salesgate import Gate, OrderFacts
from salesgate.models import Order, OrderLine, ReturnRequest


def _line(line_no: int, qty: int, price: str, discount: str = "0") -> OrderLine:
    return OrderLine(line_no=line_no, sku=f"P{line_no}", qty=qty, unit_price=Decimal(price), discount=Decimal(discount))


def _with_lines(*lines: OrderLine) -> Order:
    return Order(id="SO-1", customer_id="C1", order_date="2026-11-02", lines=list(lines))  # type: ignore[arg-type]


def test_the_total_follows_lines_appended_replaced_and_removed_after_it_was_read() -> None:
    order = _with_lines(_line(1, 2, "10.005"))
    assert str(order.total) == "20.01"
    order.lines.append(_line(2, 1, "5"))
    assert str(order.total) == "25.01"
    order.lines[0] = _line(1, 1, "1")
    assert str(order.total) == "6.00"
    del order.lines[1]
    assert str(order.total) == "1.00"


def test_a_copy_with_other_lines_sums_its_own_lines_not_the_total_its_original_kept() -> None:
    order = _with_lines(_line(1, 2, "10"))
    assert order.total == Decimal("20")
    copied = order.model_copy(update={"lines": [_line(1, 3, "10")]})
    assert (copied.total, order.total) == (Decimal("30"), Decimal("20"))
    assert order.model_copy().total == Decimal("20")
    assert copy.deepcopy(order).total == Decimal("20")
    assert pickle.loads(pickle.dumps(order)).total == Decimal("20")  # noqa: S301 (our own bytes)


def test_the_kept_total_is_not_a_field_dumps_equality_and_repr_ignore_it() -> None:
    read, unread = _with_lines(_line(1, 2, "10", "0.1")), _with_lines(_line(1, 2, "10", "0.1"))
    assert read.total == Decimal("18.00")
    assert read == unread
    assert unread == read
    assert read.model_dump() == unread.model_dump()
    assert read.model_dump_json() == unread.model_dump_json()
    assert repr(read) == repr(unread)
    assert read.model_fields_set == unread.model_fields_set


@given(st.lists(st.tuples(st.integers(1, 10_000), st.decimals("0", "99999.9999", places=4),
                          st.decimals("0", "1", places=4)), min_size=1, max_size=8))
def test_the_total_read_twice_is_the_sum_of_the_line_amounts(lines: list[tuple[int, Decimal, Decimal]]) -> None:
    order = _with_lines(*(_line(n, qty, str(price), str(discount))
                          for n, (qty, price, discount) in enumerate(lines, start=1)))
    summed = sum((line.amount for line in order.lines), Decimal(0))
    assert (str(order.total), str(order.total)) == (str(summed), str(summed))


def test_a_credit_check_after_the_caller_added_a_line_counts_the_new_line() -> None:
    facts = OrderFacts.model_validate({
        "customer": {"id": "C1", "name": "x", "credit_limit": "1000"},
        "order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-02",
                  "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": "100"}]},
        "products": [{"sku": "P1", "list_price": "100", "cost": "60", "stock": 100}]})
    with Gate.default(entry_points=False) as gate:
        before = gate.check_credit(facts)
        facts.order.lines.append(facts.order.lines[0].model_copy(update={"line_no": 2, "qty": 20}))
        after = gate.check_credit(facts)
    assert before.credit is not None
    assert after.credit is not None
    assert (before.credit.exposure_after_order, after.credit.exposure_after_order) == (Decimal("100"), Decimal("2100"))
    assert (before.outcome.value, after.outcome.value) == ("allow", "block")


def _return(**changes: object) -> ReturnRequest:
    return ReturnRequest.model_validate({
        "id": "R1", "customer_id": "C1", "reason": "defect", "original_order_id": "SO-1", "sku": "P1", "qty": 3,
        "unit_price": "10.005", "delivered_qty": 5, "days_since_delivery": 3, **changes})


def test_a_return_keeps_its_amount_and_a_copy_with_other_fields_works_its_own_out() -> None:
    request = _return()
    assert str(request.amount) == "30.02"
    assert str(request.model_copy(update={"qty": 1}).amount) == "10.01"
    assert str(request.model_copy(update={"claimed_amount": Decimal("7")}).amount) == "7"
    assert str(request.model_copy().amount) == "30.02"
    assert request == _return()
    assert request.model_dump() == _return().model_dump()


def test_a_copy_with_other_fields_drops_every_kept_figure_a_copy_with_none_keeps_them() -> None:
    order = _with_lines(_line(1, 2, "10"))
    assert order.total == Decimal("20")
    kept = [name for name in order.__dict__ if name not in Order.model_fields]
    assert kept  # the total is kept: else this test checks nothing
    assert not [name for name in order.model_copy(update={"id": "SO-2"}).__dict__ if name not in Order.model_fields]
    assert [name for name in order.model_copy().__dict__ if name not in Order.model_fields] == kept
