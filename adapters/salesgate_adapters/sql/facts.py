"""What each fact of a mapping file must produce: its model, fields and query parameters.

Kept apart from the mapping loader so that the loader (checking a file) and the adapter (reading
rows) agree on one table of facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from salesgate.models import CreditExposure, Customer, Delivery, Order, OrderLine, Product

TODAY = "today"
"""A parameter every query may use: the day exposure and overdue days are counted at."""

OVERDUE_SINCE = "overdue_since"
"""An exposure column that is not a model field: the due date of the oldest overdue invoice.

Date arithmetic differs in every SQL dialect, so a mapping may return the date and let the
adapter count ``max_overdue_days`` from it (to ``:today``).
"""


class CountedOrder(BaseModel):
    """One row of ``counted_orders``: an order the ERP has taken over (confirmed or invoiced)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(min_length=1, description="The order's id, as salesgate was given it.")


class HistoryOrder(BaseModel):
    """One row of ``order_history``: an order entered in the period asked for, to replay it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(min_length=1, description="The order's id, as salesgate is given it.")


@dataclass(frozen=True)
class FactKind:
    """One fact a mapping can declare."""

    name: str
    model: type[BaseModel]
    params: tuple[str, ...]
    extra_fields: tuple[str, ...] = ()
    skip_fields: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        names = [n for n in self.model.model_fields if n not in self.skip_fields]
        return (*names, *self.extra_fields)


FACT_KINDS: dict[str, FactKind] = {
    kind.name: kind
    for kind in (
        FactKind("customer", Customer, ("customer_id",)),
        FactKind("exposure", CreditExposure, ("customer_id",), extra_fields=(OVERDUE_SINCE,)),
        FactKind("products", Product, ("skus",)),
        FactKind("order", Order, ("order_id",), skip_fields=("lines",)),
        FactKind("order.lines", OrderLine, ("order_id",)),
        FactKind("delivery", Delivery, ("order_id", "sku")),
        FactKind("counted_orders", CountedOrder, ("customer_id", "order_ids")),
        FactKind("order_history", HistoryOrder, ("since", "until")),
    )
}

EXPANDING_PARAMS = frozenset({"skus", "order_ids"})
"""Parameters bound to a list: write ``sku IN :skus``, ``o.id IN :order_ids`` (without parentheses)."""
