"""The plugin the ``salesgate`` entry point names: it declares the quotation point, checks what the
rules cannot, and registers the sample book as an adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from salesgate import (
    Bilingual,
    Combine,
    Contribution,
    DecisionContext,
    FieldType,
    Outcome,
    OutputSpec,
    Reason,
    hookimpl,
)

from ._book import QuotationBook
from ._document import QuotationFacts

POINT = "quotation"
"""The decision point's name: rule files say ``point: quotation``, the ERP calls ``gate.decide("quotation", ...)``."""

OUTPUTS = (
    OutputSpec("validity_days", FieldType.integer, Bilingual("报价有效天数", "Days the prices may hold"), Combine.min),
    OutputSpec("deposit", FieldType.percent, Bilingual("预付款比例", "Advance payment to ask for"), Combine.max),
)
"""What rules at the point may set (``then: set: {validity_days: 15}``), and how several rules' values combine."""


class QuotationPlugin:
    """Declares ``quotation`` with :class:`~salesgate_quotation.QuotationFacts` as its document."""

    @hookimpl
    def salesgate_register_points(self, register: Callable[..., None]) -> None:
        register(name=POINT, document=QuotationFacts, subject="quotation.id",
                 title={"zh": "报价审批", "en": "Quotation approval"},
                 description={"zh": "报价单发给客户之前：是否可以报、须由谁审批、有效期多长、预付款多少",
                              "en": "Before a quotation goes to the customer: whether it may, who approves it, "
                                    "how long its prices hold and what advance payment to ask for"},
                 outputs=OUTPUTS)

    @hookimpl
    def salesgate_decide(self, point: str, facts: Any, context: DecisionContext) -> Contribution | None:
        """A product quoted twice at two prices: a check over pairs of lines, which rules cannot say."""
        if point != POINT or not isinstance(facts, QuotationFacts):
            return None
        prices: dict[str, set[str]] = {}
        for line in facts.quotation.lines:
            prices.setdefault(line.sku, set()).add(f"{line.unit_price:,.2f}")
        twice = {sku: sorted(found) for sku, found in prices.items() if len(found) > 1}
        if not twice:
            return None
        sku, found = next(iter(sorted(twice.items())))
        rule = "one-price-per-product"
        return Contribution(
            outcome=Outcome.block,
            reasons=[Reason(rule=rule, outcome=Outcome.block,
                            message=f"同一产品 {sku} 报了两个价格（{' / '.join(found)}），请合并为一行",
                            translations={"en": f"Product {sku} is quoted at two prices ({' / '.join(found)}): "
                                                "quote it on one line"})])

    @hookimpl
    def salesgate_register_adapters(self, register: Callable[[str, type], None]) -> None:
        register("quotation_book", QuotationBook)
