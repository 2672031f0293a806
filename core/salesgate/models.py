"""The sales facts salesgate decides on: customers, products, orders, credit exposure, returns.

These are the shapes an ERP hands to a :class:`~salesgate.Gate` (as models or plain dicts) and the
source of the fact vocabulary policy owners write rules against (``salesgate vocab``). Every field
is documented because its description is what ``salesgate vocab`` and ``salesgate schema`` print.

Money is ``Decimal`` (a float is read by its repr; one with binary noise is refused; an adapter never
reads money through float, and the adapter contract in :mod:`salesgate.testing` refuses it), quantities
are integers, timestamps are timezone-aware. What a fact may hold (and why the rest is refused as
FactsError naming the field) is in docs/policy-language.md, "What a fact may hold".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .money import CENT, ONE, ZERO, normalise_scale, round_money

__all__ = [
    "Channel",
    "CreditExposure",
    "CreditRating",
    "Customer",
    "CustomerStatus",
    "Delivery",
    "Grade",
    "Order",
    "OrderFacts",
    "OrderLine",
    "PaymentMethod",
    "Product",
    "ReturnFacts",
    "ReturnReason",
    "ReturnRequest",
    "ReturnType",
]



# pydantic turns a float into the Decimal of its repr (0.1 → Decimal("0.1"), not 0.1000000000000000055…),
# so money sent as a float stays what the sender meant; tests/test_gate.py holds pydantic to it.
MAX_AMOUNT = Decimal("99999999999999.9999")
"""The largest amount a fact may hold, given or worked out (a line amount, the order total, the
exposure total, a return's worth): 18 digits, 4 of them decimals. Both backends decide every amount
up to it alike (the durable backend's own limit is 9.2 × 10^14); an order whose line amounts or total
would pass it is refused as :class:`~salesgate.errors.FactsError` rather than decided by one backend
and refused by the other."""
MAX_QTY = 1_000_000_000
"""Quantities are whole units up to a billion: with money's 18 digits every amount salesgate works out
(qty × price, totals) stays exact within Decimal's 28 digits."""
MAX_DAYS = 100_000
"""Day counts (terms, overdue, since delivery) up to about 270 years."""
MAX_LINES = 10_000
"""The most lines an order may have; more is refused as :class:`~salesgate.errors.FactsError`. A
10,000-line order prices in 0.2-0.3 s with under 50 MB (``benchmarks/bench.py --large-orders``; the
cost per line is flat), so the limit keeps one order from holding a gate, and its memory, for long."""
MAX_ID = 255
"""Ids (customer, order, return, invoice) are at most 255 characters: what the store's columns hold."""

def _number(value: Any) -> Any:
    """Refuse what pydantic's lax mode would turn into a number by surprise: ``True`` is not 1, and
    ``"１２"`` (full-width) or ``"١٢"`` (Arabic-Indic) digits are not 12, and ``"1_000"`` is not 1000. A
    number is written with ASCII digits, so what the ERP meant is never a guess."""
    if value is True or value is False:
        raise PydanticCustomError("number_not_bool", "expected a number, got a boolean ({value})",
                                  {"value": str(value).lower()})
    if type(value) is str:
        if not value.isascii():
            raise PydanticCustomError("number_ascii", "a number is written with ASCII digits 0-9, got {value}",
                                      {"value": repr(value[:40])})
        if "_" in value:  # Python reads "1_000" as 1000, and "10_00" as well: a typo must not become an amount
            raise PydanticCustomError("number_underscore", "a number is written without '_', got {value}",
                                      {"value": repr(value[:40])})
    return value


STORABLE_TEXT = r"^[^\x00]*$"
"""The pattern every text fact matches: no NUL character (PostgreSQL's text cannot hold it). A lone
surrogate is refused too, by pydantic itself (``string_unicode``: not Unicode, so no database stores
it as UTF-8). Either would let a gate decide an order the store then fails to log; the gate's
FactsError says which character, where."""
Text = Annotated[str, Field(pattern=STORABLE_TEXT)]
Whole = Annotated[int, BeforeValidator(_number)]
# Constraints before validators: pydantic then checks digits in its core, not in Python (3× faster).
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,14}(?:\.[0-9]{1,4})?").fullmatch
_MAX_WHOLE_AMOUNT = 10**14 - 1
"""An amount written out plainly in ASCII digits, that every constraint of :data:`Money` accepts:
at most 14 digits before the point and 4 after (18 in all), not negative, no exponent."""


_PLAIN_TEXTS = 16384
"""The most plain amounts (and rates) kept read, by their text: a file of orders names the same prices,
limits and discounts over and over (a catalogue's), and a dict lookup is a fifth of reading one. Bounded
(the oldest quarter then forgotten) so amounts seen once each (exposures) cannot grow it without end:
about 3 MB when full."""
_MONEY_READ: dict[str, Decimal] = {}
"""Plain amounts' text → :func:`_at_money_scale` of it: what :func:`_money` returns for that text."""


def _forget_oldest(read: dict[Any, Decimal]) -> None:
    """Make room in a full :data:`_MONEY_READ` (or :data:`_RATE_READ`): the quarter read longest ago goes,
    so the prices a file names over and over stay (clearing it all kept 3 in 100 fewer on a benchmark file)."""
    try:
        oldest = list(itertools.islice(read, len(read) // 4))
    except RuntimeError:  # another thread added one meanwhile
        read.clear()
        return
    for text in oldest:
        read.pop(text, None)


def kept_by_text(read: dict[Any, Decimal], text: str | bytes, value: Decimal) -> Decimal:
    """``value``, read from ``text``, kept in ``read`` by its text (:data:`_MONEY_READ`, :data:`_RATE_READ`, the
    quick history pass's prices in :mod:`salesgate.simulation`): at most :data:`_PLAIN_TEXTS`, the oldest quarter
    forgotten when full."""
    if len(read) >= _PLAIN_TEXTS:
        _forget_oldest(read)
    read[text] = value
    return value


def _money(value: Any, handler: ValidatorFunctionWrapHandler) -> Decimal:
    """:func:`_number`, then pydantic's checks, then :func:`normalise_scale`: one call per amount.

    Most amounts (``"1250.50"`` from JSON, ``Decimal("1250.5000")`` from a ``Numeric(18, 4)`` column) are
    written plainly: those are read from their text at once, with the result pydantic would give, as
    pydantic's own Decimal validation called from here was most of what this validator added to an
    order's validation; a text read so before is looked up (:data:`_MONEY_READ`: the result is the
    text's alone). Anything else (a sign, an exponent, spaces, a float, too many digits) goes through
    pydantic.
    """
    kind = type(value)
    if kind is str:
        known = _MONEY_READ.get(value)
        if known is not None:
            return known
        if _PLAIN_AMOUNT(value) is not None:
            return kept_by_text(_MONEY_READ, value, _at_money_scale(value))
        _number(value)
    elif kind is Decimal:
        text = str(value)
        if _PLAIN_AMOUNT(text) is not None:
            return value if _cents_at_most(text) else _at_money_scale(text)  # at most two decimals: as it is
    elif kind is int and 0 <= value <= _MAX_WHOLE_AMOUNT:
        return Decimal(value)
    amount: Decimal = handler(value)
    return normalise_scale(amount)


def _cents_at_most(text: str) -> bool:
    """Whether a plain amount's text has at most two decimals (so :func:`normalise_scale` leaves it)."""
    dot = text.find(".")
    return dot < 0 or len(text) - dot <= 3


def _at_money_scale(text: str) -> Decimal:
    """:func:`normalise_scale` of a plain amount's text (see :data:`_PLAIN_AMOUNT`), read from the text."""
    if _cents_at_most(text):
        return Decimal(text)
    dot = text.find(".")
    decimals = len(text[dot + 1:].rstrip("0"))
    return Decimal(text[:dot + 1 + max(decimals, 2)])


Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4), WrapValidator(_money)]
_PLAIN_RATE = re.compile(r"0(?:\.[0-9]{1,4})?|1(?:\.0{1,4})?").fullmatch
"""A rate written out plainly in ASCII digits that every constraint of :data:`Rate` accepts (0 to 1, 4 decimals)."""


_RATE_READ: dict[str, Decimal] = {}
"""Plain rates' text → the rate (see :data:`_MONEY_READ`)."""


def _rate(value: Any, handler: ValidatorFunctionWrapHandler) -> Decimal:
    """:func:`_number`, then pydantic's checks; a rate written plainly (``"0.05"``, ``Decimal("0.1500")``, 0)
    is read at once, with the result pydantic would give, or looked up when read before (see :func:`_money`)."""
    kind = type(value)
    if kind is str:
        known = _RATE_READ.get(value)
        if known is not None:
            return known
        if _PLAIN_RATE(value) is not None:
            return kept_by_text(_RATE_READ, value, Decimal(value))
    if kind is Decimal and _PLAIN_RATE(str(value)) is not None:
        return value  # type: ignore[no-any-return]
    if kind is int and (value == 0 or value == 1):
        return Decimal(value)
    rate: Decimal = handler(_number(value))
    return rate


Rate = Annotated[Decimal, Field(ge=0, le=1, decimal_places=4), WrapValidator(_rate)]


def _too_large(what: str, amount: Decimal) -> PydanticCustomError:
    return PydanticCustomError(
        "amount_too_large", "{what} is {amount}, above the largest amount a fact may hold ({limit})",
        {"what": what, "amount": f"{amount:,}", "limit": f"{MAX_AMOUNT:,}"})


class _Facts(BaseModel):
    """Base for fact models: unknown fields are errors; money is exact Decimal (a float by its repr);
    numbers are not booleans and have ASCII digits (:func:`_number`); text is storable (:data:`STORABLE_TEXT`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """pydantic's copy, without the figures this object kept (:data:`_KEPT`) when ``update`` changes fields:
        they were worked out from the fields it had."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            kept = copied.__dict__
            for name in [name for name in kept if name.startswith(_KEPT)]:
                del kept[name]
        return copied


_KEPT = "_salesgate_"
"""The prefix of a figure a fact model keeps beside its fields, once worked out (:attr:`Order.total`,
:attr:`ReturnRequest.amount`): several readers of one decision ask for it. Not a field: dumps, equality and
repr ignore it, and :meth:`_Facts.model_copy` drops it when fields change."""
_KEPT_TOTAL = _KEPT + "total"
_KEPT_AMOUNT = _KEPT + "amount"


class Grade(StrEnum):
    """Customer value grade: A 大客户 (key account), B 中小客户 (small/medium), C 潜在客户 (prospect)."""

    A = "A"
    B = "B"
    C = "C"


class CustomerStatus(StrEnum):
    """Whether the customer may order on credit: active, cash_only (现款现货), blocked (冻结)."""

    active = "active"
    cash_only = "cash_only"
    blocked = "blocked"


class CreditRating(StrEnum):
    """Credit standing (资信状况) from the quarterly credit review: good, fair or poor."""

    good = "good"
    fair = "fair"
    poor = "poor"


class Channel(StrEnum):
    """How the order reached us: written (书面), electronic (电子) or oral (口头)."""

    written = "written"
    electronic = "electronic"
    oral = "oral"


class PaymentMethod(StrEnum):
    """How the customer pays: cash, bank transfer, credit (on account) or bank acceptance draft (承兑汇票)."""

    cash = "cash"
    transfer = "transfer"
    credit = "credit"
    bank_acceptance_draft = "bank_acceptance_draft"


class ReturnType(StrEnum):
    """return (退货): goods come back; compensation (赔款): the customer claims money."""

    return_ = "return"
    compensation = "compensation"


class ReturnReason(StrEnum):
    """Why the customer complains."""

    defect = "defect"
    damaged = "damaged"
    wrong_item = "wrong_item"
    late = "late"
    not_needed = "not_needed"
    other = "other"


class Customer(_Facts):
    """A customer as the credit and sales policy sees it (客户档案)."""

    id: Text = Field(min_length=1, max_length=MAX_ID, description="Customer number in the ERP.")
    name: Text = Field(description="Customer name, any language (e.g. 华东机电有限公司).")
    grade: Grade = Field(Grade.C, description="Value grade A/B/C (大客户/中小客户/潜在客户).")
    status: CustomerStatus = Field(CustomerStatus.active, description="active, cash_only or blocked.")
    region: Text = Field("", description="Sales region (所处地域), e.g. 华东 or 'north'.")
    region_has_distributor: bool = Field(
        False, description="True when a distributor of ours already covers the customer's region."
    )
    is_distributor: bool = Field(False, description="True when the customer is itself one of our distributors.")
    credit_limit: Money = Field(ZERO, description="Credit limit (信誉额) in the order currency.")
    credit_rating: CreditRating = Field(CreditRating.good, description="Credit standing: good, fair or poor.")
    payment_terms_days: Whole = Field(30, ge=0, le=MAX_DAYS,
                                    description="Payment terms granted to this customer, in days.")
    has_repayment_plan: bool = Field(
        False, description="Signed repayment plan (还款计划书) for an amount over the credit limit."
    )
    has_repayment_agreement: bool = Field(
        False, description="Written repayment agreement (书面还款协议) with a fixed date for overdue debt."
    )


class Product(_Facts):
    """A product with the figures pricing and stock checks need."""

    sku: Text = Field(min_length=1, description="Product code.")
    name: Text = Field("", description="Product name.")
    list_price: Money = Field(description="List price per unit (目录价).")
    cost: Money = Field(ZERO, description="Unit cost; pricing never goes below the cost floor.")
    stock: Whole = Field(0, ge=-MAX_QTY, le=MAX_QTY, description="Units on hand (库存).")


class OrderLine(_Facts):
    """One line of a sales order."""

    line_no: Whole = Field(ge=1, le=MAX_QTY, description="Line number, unique within the order.")
    sku: Text = Field(min_length=1, description="Product code; joins the line to its product facts.")
    qty: Whole = Field(gt=0, le=MAX_QTY, description="Quantity ordered.")
    unit_price: Money = Field(description="Requested unit price before the line discount.")
    discount: Rate = Field(Decimal(0), description="Line discount as a fraction: 0.15 is 15%.")

    @property
    def amount(self) -> Decimal:
        """Line amount: qty × unit price × (1 − discount), rounded to the cent."""
        discount = self.discount
        gross = self.qty * self.unit_price
        # without a discount the product is the same number: one multiplication fewer on every line read
        return round_money(gross * (ONE - discount) if discount else gross)


class Order(_Facts):
    """A sales order (or quote) as entered in the ERP."""

    id: Text = Field(min_length=1, max_length=MAX_ID, description="Order number.")
    customer_id: Text = Field(min_length=1, max_length=MAX_ID, description="Customer number.")
    order_date: date = Field(description="Date of the order (YYYY-MM-DD).")
    created_at: AwareDatetime | None = Field(None, description="When it was entered, with its time zone.")
    currency: Text = Field("CNY", min_length=3, max_length=3, description="ISO currency code.")
    channel: Channel = Field(Channel.written, description="written, electronic or oral.")
    written_confirmation: bool = Field(
        False, description="For oral orders: the written record (书面记录) has been completed."
    )
    payment_method: PaymentMethod = Field(PaymentMethod.credit, description="How the customer pays.")
    draft_term_days: Whole | None = Field(
        None, ge=0, le=MAX_DAYS, description="Term of a bank acceptance draft in days (only with that payment method)."
    )
    payment_terms_days: Whole = Field(30, ge=0, le=MAX_DAYS,
                                    description="Payment terms requested on this order, in days.")
    guarantee: bool = Field(False, description="An extra guarantee (额外担保) backs this order.")
    special_requirements: Text | None = Field(
        None, description="Customer's special requirements (特殊要求), free text; None when there are none."
    )
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES,
                                   description=f"Order lines: at least one, at most {MAX_LINES:,}.")

    @field_validator("special_requirements", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # ERPs send "" for "no requirements"; rules test absence with == None.
        return value if value and value.strip() else None

    @model_validator(mode="after")
    def _unique_line_numbers(self) -> Order:
        lines = self.lines
        numbers: set[int] = set()
        units = 0
        price = ZERO
        for line in lines:  # one pass: this runs on every order, of up to MAX_LINES lines
            numbers.add(line.line_no)
            units += line.qty
            if line.unit_price > price:
                price = line.unit_price
        if len(numbers) != len(lines):
            raise ValueError(f"line_no values must be unique within an order, got {[line.line_no for line in lines]}")
        # Every line amount is at most its qty × unit price plus half a cent, and none is negative: an order
        # whose largest price × all its units is within range (all but the absurd) needs no exact sums.
        if price * units + CENT * len(lines) <= MAX_AMOUNT:
            return self
        total = ZERO
        for index, line in enumerate(self.lines):
            amount = line.amount
            if amount > MAX_AMOUNT:
                raise _too_large(f"lines.{index}.amount (line_no {line.line_no}, qty × unit price × (1 − discount))",
                                 amount)
            total += amount
        if total > MAX_AMOUNT:
            raise _too_large("total (the sum of the line amounts)", total)
        return self

    @property
    def total(self) -> Decimal:
        """Order total: the sum of the line amounts.

        Kept with the lines it was summed from, as several readers of one decision ask for it (the rules, the
        credit figures): the order and its lines are frozen, but ``lines`` is a list a caller can change,
        so the total is summed again whenever the list holds other lines than those it was summed from."""
        lines = tuple(self.lines)
        kept = self.__dict__.get(_KEPT_TOTAL)
        if kept is not None and kept[0] == lines:  # the same line objects: compared by identity first, cheap
            return kept[1]  # type: ignore[no-any-return]
        total = sum([line.amount for line in lines], ZERO)  # a list: cheaper than a generator here
        self.__dict__[_KEPT_TOTAL] = (lines, total)  # beside the fields: not one (dumps, equality ignore it)
        return total


class CreditExposure(_Facts):
    """What the customer already owes or has on order (信用占用), before this order."""

    open_receivables: Money = Field(ZERO, description="Invoiced and not yet paid (应收账款).")
    open_orders: Money = Field(ZERO, description="Confirmed orders not yet invoiced.")
    overdue_amount: Money = Field(ZERO, description="Part of the receivables past its due date.")
    max_overdue_days: Whole = Field(0, ge=0, le=MAX_DAYS, description="Days the oldest overdue invoice is past due.")
    reserved: Money = Field(
        ZERO, description="Credit held by salesgate for orders that passed a credit check and that the ERP has "
                          "not confirmed yet (reservations); 0 without a store."
    )

    @property
    def total(self) -> Decimal:
        """Current exposure: open receivables plus open orders plus credit reserved for orders in flight."""
        return self.open_receivables + self.open_orders + self.reserved


class ReturnRequest(_Facts):
    """A return (退货) or compensation claim (赔款) against an earlier delivery."""

    id: Text = Field(min_length=1, max_length=MAX_ID, description="Return or complaint number.")
    customer_id: Text = Field(min_length=1, max_length=MAX_ID, description="Customer number.")
    type: ReturnType = Field(ReturnType.return_, description="return or compensation.")
    reason: ReturnReason = Field(description="defect, damaged, wrong_item, late, not_needed or other.")
    original_order_id: Text = Field(min_length=1, max_length=MAX_ID, description="The order the goods were sold on.")
    invoice_id: Text | None = Field(None, max_length=MAX_ID, description="The invoice the goods were billed on.")
    sku: Text = Field(min_length=1, description="Product returned.")
    qty: Whole = Field(ge=0, le=MAX_QTY,
                     description="Quantity the customer wants to return (0 for a pure compensation).")
    unit_price: Money = Field(description="Unit price invoiced on the original order.")
    delivered_qty: Whole = Field(ge=0, le=MAX_QTY, description="Quantity delivered on the original order.")
    already_returned_qty: Whole = Field(0, ge=0, le=MAX_QTY,
                                        description="Quantity returned earlier against that order.")
    days_since_delivery: Whole = Field(ge=0, le=MAX_DAYS, description="Days between delivery and this request.")
    claimed_amount: Money | None = Field(
        None, description="Amount claimed for a compensation; a return is worth qty × unit price."
    )

    @model_validator(mode="after")
    def _amount_in_range(self) -> ReturnRequest:
        if self.amount > MAX_AMOUNT:
            raise _too_large("amount (qty × unit price)", self.amount)
        return self

    @property
    def amount(self) -> Decimal:
        """What the request is worth: the claimed amount, else qty × unit price.

        Kept once worked out (validation works it out): a return's decision reads it in its rules and again
        for the refund."""
        amount: Decimal | None = self.__dict__.get(_KEPT_AMOUNT)
        if amount is None:
            claimed = self.claimed_amount
            amount = self.__dict__[_KEPT_AMOUNT] = claimed if claimed is not None else round_money(
                self.qty * self.unit_price)
        return amount

    @property
    def returnable_qty(self) -> int:
        """Delivered minus already returned: the most that may still come back."""
        return self.delivered_qty - self.already_returned_qty


class Delivery(_Facts):
    """What was delivered of one product on an earlier order: the source a return is checked against.

    An adapter answers it (``salesgate_load_delivery``) so that an ERP can send a return with only
    the order, product, quantity and request date; the gate fills in price, quantities and days.
    """

    order_id: Text = Field(min_length=1, max_length=MAX_ID, description="The order the goods were sold on.")
    sku: Text = Field(min_length=1, description="Product delivered.")
    customer_id: Text | None = Field(None, max_length=MAX_ID,
                                    description="Customer the order was sold to, to check the return's.")
    invoice_id: Text | None = Field(None, max_length=MAX_ID, description="The invoice the goods were billed on.")
    delivered_qty: Whole = Field(ge=0, le=MAX_QTY, description="Quantity delivered on the order.")
    unit_price: Money = Field(description="Unit price invoiced (after the line discount).")
    delivered_on: date = Field(description="Date of the (last) delivery of this product on the order.")
    already_returned_qty: Whole = Field(0, ge=0, le=MAX_QTY, description="Quantity already returned against the order.")


class OrderFacts(_Facts):
    """Everything the order hooks (approval, credit, pricing) decide on, in one document."""

    order: Order
    customer: Customer
    products: list[Product] = Field(default_factory=list, description="Products on the order's lines.")
    exposure: CreditExposure = Field(
        default_factory=CreditExposure, description="Credit exposure before this order."
    )

    @model_validator(mode="after")
    def _consistent(self) -> OrderFacts:
        if self.order.customer_id != self.customer.id:
            raise ValueError(
                f"order.customer_id {self.order.customer_id!r} does not match customer.id {self.customer.id!r}"
            )
        products = self.products
        if len(products) > 1 and len({p.sku for p in products}) != len(products):  # one set: this runs on every order
            raise ValueError("products lists the same sku twice")
        return self

    def product(self, sku: str) -> Product | None:
        """The product of a line, or None when the ERP sent no product facts for it."""
        for product in self.products:
            if product.sku == sku:
                return product
        return None


class ReturnFacts(_Facts):
    """Everything the return hook decides on."""

    return_request: ReturnRequest = Field(alias="return")
    customer: Customer

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
