"""Money and rate arithmetic: Decimal only, with rounding written down once.

Amounts are rounded half-up to the cent (the Chinese 四舍五入 convention of the handbooks) only
where a figure leaves salesgate: a line amount, a policy price, a refund. Intermediate results
stay exact.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")
ONE = Decimal("1")


def round_money(amount: Decimal) -> Decimal:
    """Round an amount to the cent, half up."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal) -> str:
    """Group thousands for people: ``Decimal('95000')`` → ``'95,000'``, ``1234.5`` → ``'1,234.50'``."""
    if amount == amount.to_integral_value():
        return f"{amount:,.0f}"
    return f"{round_money(amount):,.2f}"
