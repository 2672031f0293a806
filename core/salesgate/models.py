"""The sales facts salesgate decides on: customers, products, orders, credit exposure, returns.

These are the shapes an ERP hands to a :class:`~salesgate.Gate` (as models or plain dicts) and the
source of the fact vocabulary policy owners write rules against (``salesgate vocab``). Every field
is documented because its description is what ``salesgate vocab`` and ``salesgate schema`` print.

Money is ``Decimal`` (a float becomes the Decimal of its repr, what an ERP sending it meant; an
adapter never reads money through float, and the adapter contract in :mod:`salesgate.testing` refuses
it), quantities are integers, timestamps are timezone-aware.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from .money import ZERO, round_money

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
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]
MAX_QTY = 1_000_000_000
"""Quantities are whole units up to a billion: with money's 18 digits every amount salesgate works out
(qty × price, totals) stays exact within Decimal's 28 digits."""
MAX_DAYS = 100_000
"""Day counts (terms, overdue, since delivery) up to about 270 years."""
Rate = Annotated[Decimal, Field(ge=0, le=1, decimal_places=4)]


class _Facts(BaseModel):
    """Base for fact models: unknown fields are errors; money is exact Decimal (a float by its repr)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


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

    id: str = Field(min_length=1, description="Customer number in the ERP.")
    name: str = Field(description="Customer name, any language (e.g. 华东机电有限公司).")
    grade: Grade = Field(Grade.C, description="Value grade A/B/C (大客户/中小客户/潜在客户).")
    status: CustomerStatus = Field(CustomerStatus.active, description="active, cash_only or blocked.")
    region: str = Field("", description="Sales region (所处地域), e.g. 华东 or 'north'.")
    region_has_distributor: bool = Field(
        False, description="True when a distributor of ours already covers the customer's region."
    )
    is_distributor: bool = Field(False, description="True when the customer is itself one of our distributors.")
    credit_limit: Money = Field(ZERO, description="Credit limit (信誉额) in the order currency.")
    credit_rating: CreditRating = Field(CreditRating.good, description="Credit standing: good, fair or poor.")
    payment_terms_days: int = Field(30, ge=0, le=MAX_DAYS,
                                    description="Payment terms granted to this customer, in days.")
    has_repayment_plan: bool = Field(
        False, description="Signed repayment plan (还款计划书) for an amount over the credit limit."
    )
    has_repayment_agreement: bool = Field(
        False, description="Written repayment agreement (书面还款协议) with a fixed date for overdue debt."
    )


class Product(_Facts):
    """A product with the figures pricing and stock checks need."""

    sku: str = Field(min_length=1, description="Product code.")
    name: str = Field("", description="Product name.")
    list_price: Money = Field(description="List price per unit (目录价).")
    cost: Money = Field(ZERO, description="Unit cost; pricing never goes below the cost floor.")
    stock: int = Field(0, ge=-MAX_QTY, le=MAX_QTY, description="Units on hand (库存).")


class OrderLine(_Facts):
    """One line of a sales order."""

    line_no: int = Field(ge=1, description="Line number, unique within the order.")
    sku: str = Field(min_length=1, description="Product code; joins the line to its product facts.")
    qty: int = Field(gt=0, le=MAX_QTY, description="Quantity ordered.")
    unit_price: Money = Field(description="Requested unit price before the line discount.")
    discount: Rate = Field(Decimal(0), description="Line discount as a fraction: 0.15 is 15%.")

    @property
    def amount(self) -> Decimal:
        """Line amount: qty × unit price × (1 − discount), rounded to the cent."""
        return round_money(self.qty * self.unit_price * (1 - self.discount))


class Order(_Facts):
    """A sales order (or quote) as entered in the ERP."""

    id: str = Field(min_length=1, description="Order number.")
    customer_id: str = Field(min_length=1, description="Customer number.")
    order_date: date = Field(description="Date of the order (YYYY-MM-DD).")
    created_at: AwareDatetime | None = Field(None, description="When it was entered, with its time zone.")
    currency: str = Field("CNY", min_length=3, max_length=3, description="ISO currency code.")
    channel: Channel = Field(Channel.written, description="written, electronic or oral.")
    written_confirmation: bool = Field(
        False, description="For oral orders: the written record (书面记录) has been completed."
    )
    payment_method: PaymentMethod = Field(PaymentMethod.credit, description="How the customer pays.")
    draft_term_days: int | None = Field(
        None, ge=0, le=MAX_DAYS, description="Term of a bank acceptance draft in days (only with that payment method)."
    )
    payment_terms_days: int = Field(30, ge=0, le=MAX_DAYS,
                                    description="Payment terms requested on this order, in days.")
    guarantee: bool = Field(False, description="An extra guarantee (额外担保) backs this order.")
    special_requirements: str | None = Field(
        None, description="Customer's special requirements (特殊要求), free text; None when there are none."
    )
    lines: list[OrderLine] = Field(min_length=1, description="Order lines.")

    @field_validator("special_requirements", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # ERPs send "" for "no requirements"; rules test absence with == None.
        return value if value and value.strip() else None

    @model_validator(mode="after")
    def _unique_line_numbers(self) -> Order:
        seen = [line.line_no for line in self.lines]
        if len(seen) != len(set(seen)):
            raise ValueError(f"line_no values must be unique within an order, got {seen}")
        return self

    @property
    def total(self) -> Decimal:
        """Order total: the sum of the line amounts."""
        return sum((line.amount for line in self.lines), ZERO)


class CreditExposure(_Facts):
    """What the customer already owes or has on order (信用占用), before this order."""

    open_receivables: Money = Field(ZERO, description="Invoiced and not yet paid (应收账款).")
    open_orders: Money = Field(ZERO, description="Confirmed orders not yet invoiced.")
    overdue_amount: Money = Field(ZERO, description="Part of the receivables past its due date.")
    max_overdue_days: int = Field(0, ge=0, le=MAX_DAYS, description="Days the oldest overdue invoice is past due.")
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

    id: str = Field(min_length=1, description="Return or complaint number.")
    customer_id: str = Field(min_length=1, description="Customer number.")
    type: ReturnType = Field(ReturnType.return_, description="return or compensation.")
    reason: ReturnReason = Field(description="defect, damaged, wrong_item, late, not_needed or other.")
    original_order_id: str = Field(min_length=1, description="The order the goods were sold on.")
    invoice_id: str | None = Field(None, description="The invoice the goods were billed on.")
    sku: str = Field(min_length=1, description="Product returned.")
    qty: int = Field(ge=0, le=MAX_QTY,
                     description="Quantity the customer wants to return (0 for a pure compensation).")
    unit_price: Money = Field(description="Unit price invoiced on the original order.")
    delivered_qty: int = Field(ge=0, le=MAX_QTY, description="Quantity delivered on the original order.")
    already_returned_qty: int = Field(0, ge=0, le=MAX_QTY, description="Quantity returned earlier against that order.")
    days_since_delivery: int = Field(ge=0, le=MAX_DAYS, description="Days between delivery and this request.")
    claimed_amount: Money | None = Field(
        None, description="Amount claimed for a compensation; a return is worth qty × unit price."
    )

    @property
    def amount(self) -> Decimal:
        """What the request is worth: the claimed amount, else qty × unit price."""
        if self.claimed_amount is not None:
            return self.claimed_amount
        return round_money(self.qty * self.unit_price)

    @property
    def returnable_qty(self) -> int:
        """Delivered minus already returned: the most that may still come back."""
        return self.delivered_qty - self.already_returned_qty


class Delivery(_Facts):
    """What was delivered of one product on an earlier order: the source a return is checked against.

    An adapter answers it (``salesgate_load_delivery``) so that an ERP can send a return with only
    the order, product, quantity and request date; the gate fills in price, quantities and days.
    """

    order_id: str = Field(min_length=1, description="The order the goods were sold on.")
    sku: str = Field(min_length=1, description="Product delivered.")
    customer_id: str | None = Field(None, description="Customer the order was sold to, to check the return's.")
    invoice_id: str | None = Field(None, description="The invoice the goods were billed on.")
    delivered_qty: int = Field(ge=0, le=MAX_QTY, description="Quantity delivered on the order.")
    unit_price: Money = Field(description="Unit price invoiced (after the line discount).")
    delivered_on: date = Field(description="Date of the (last) delivery of this product on the order.")
    already_returned_qty: int = Field(0, ge=0, le=MAX_QTY, description="Quantity already returned against the order.")


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
        skus = [p.sku for p in self.products]
        if len(skus) != len(set(skus)):
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
