"""The quotation (报价单) a quotation decision is about: a pydantic model, so it can compute.

Rules read every field of these models (``quotation.margin``, ``line.margin``), the computed ones
included: a quotation's total, cost and margin are worked out here from its lines, once, exactly
(``Decimal``), rather than sent by each ERP and trusted. A caller may send a computed field (a
quotation read back from ``model_dump()`` has them), but only with the value it computes to.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from salesgate import Customer, Money

_RATE = Decimal("0.0001")
Count = Annotated[int, Field(strict=True, gt=0, le=1_000_000)]
"""A whole number of units: JSON integers only (``true`` or ``"12"`` is refused, not read as a number)."""


def _margin(price: Decimal, cost: Decimal) -> Decimal:
    """(price − cost) / price, to 4 decimals: 0.25 is 25 %."""
    return ((price - cost) / price).quantize(_RATE, rounding=ROUND_HALF_EVEN)


def _computed(model: BaseModel, name: str, value: Any) -> None:
    """Set a computed field; one the caller sent must hold what it computes to."""
    if name in model.model_fields_set and getattr(model, name) != value:
        raise ValueError(f"{name} is computed from the lines ({value}), you sent {getattr(model, name)}: "
                         f"leave {name} out")
    object.__setattr__(model, name, value)


class QuotationLine(BaseModel):
    """One product quoted: quantity, the price offered and the standard cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(min_length=1, max_length=64, description="Product code.")
    qty: Count = Field(description="Quantity quoted.")
    unit_price: Annotated[Money, Field(gt=0)] = Field(description="Price offered per unit.")
    unit_cost: Money = Field(description="Standard cost per unit, from the ERP.")
    margin: Decimal | None = Field(None, description="Computed: (unit_price − unit_cost) / unit_price, 0.25 is 25%.")

    @model_validator(mode="after")
    def _compute(self) -> QuotationLine:
        _computed(self, "margin", _margin(self.unit_price, self.unit_cost))
        return self


class Quotation(BaseModel):
    """A quotation to a customer: its lines, and the totals and margin worked out from them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, description="Quotation number.")
    customer_id: str = Field(min_length=1, max_length=64, description="Customer number.")
    quoted_on: date = Field(description="Day of the quotation.")
    valid_days: Count = Field(30, description="Days the prices hold.")
    lines: list[QuotationLine] = Field(min_length=1, max_length=1000, description="The products quoted.",
                                       json_schema_extra={"element": "line"})
    total: Decimal | None = Field(None, description="Computed: the sum of qty × unit_price.")
    cost: Decimal | None = Field(None, description="Computed: the sum of qty × unit_cost.")
    margin: Decimal | None = Field(None, description="Computed: (total − cost) / total, 0.25 is 25%.")
    valid_until: date | None = Field(None, description="Computed: quoted_on + valid_days.")

    @model_validator(mode="after")
    def _compute(self) -> Quotation:
        total = sum((line.qty * line.unit_price for line in self.lines), Decimal(0))
        cost = sum((line.qty * line.unit_cost for line in self.lines), Decimal(0))
        _computed(self, "total", total)
        _computed(self, "cost", cost)
        _computed(self, "margin", _margin(total, cost))
        _computed(self, "valid_until", self.quoted_on + timedelta(days=self.valid_days))
        return self


class QuotationFacts(BaseModel):
    """What a quotation decision reads: the quotation and its customer (rules: ``customer.grade``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quotation: Quotation
    customer: Customer
