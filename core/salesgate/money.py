"""Money and rate arithmetic: Decimal only, with rounding written down once.

Amounts are rounded half-up to the cent (the Chinese 四舍五入 convention of the handbooks) only
where a figure leaves salesgate: a line amount, a policy price, a refund. Intermediate results
stay exact.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
UNIT_PRICE_STEP = Decimal("0.0001")
ZERO = Decimal("0")
ONE = Decimal("1")


def round_money(amount: Decimal) -> Decimal:
    """Round an amount to the cent, half up."""
    return amount.quantize(CENT, ROUND_HALF_UP)  # positional: half the cost of rounding=, on every line of every order


def round_unit_price(price: Decimal) -> Decimal:
    """Round a derived unit price to 4 decimals, half up: the precision prices are entered with.

    ``unit_price × (1 − discount)`` can carry 8 decimals; facts keep at most 4 so that every
    backend compares them exactly (the durable backend encodes numbers as integers of 10^-4).
    """
    return price.quantize(UNIT_PRICE_STEP, ROUND_HALF_UP)


def normalise_scale(amount: Decimal) -> Decimal:
    """An amount at the scale of money: zeros past the cent dropped, nothing else changed.

    ``10000.0000`` (a ``Numeric(18, 4)`` column's way of writing ten thousand) becomes ``10000.00``;
    ``9300.0093`` keeps its four decimals and ``40000`` or ``12.5`` stay as written; ``1E+3`` is
    written out (``1000``) and ``-0`` is ``0``. So a figure
    salesgate works out from amounts (an exposure, a total) has the scale of the amounts it came
    from, never four decimals of zeros because one of them was read from a database.
    """
    text = str(amount)  # much cheaper than as_tuple(), and every amount the boundary reads passes here
    dot = text.find(".")
    if "E" not in text and text[0] != "-" and (dot < 0 or len(text) - dot <= 3):
        return amount  # at most two decimals, not negative zero: the common case
    sign, _, exponent = amount.as_tuple()
    if sign and not amount:
        amount = -amount  # -0 is 0
    if not isinstance(exponent, int) or -2 <= exponent <= 0:
        return amount
    if exponent > 0:
        return amount.quantize(ONE)  # 1E+3 is 1000
    reduced = amount.normalize()
    reduced_exponent = reduced.as_tuple().exponent
    if isinstance(reduced_exponent, int) and reduced_exponent >= -2:
        return amount.quantize(CENT)
    return reduced


def format_money(amount: Decimal) -> str:
    """Group thousands for people: ``Decimal('95000')`` → ``'95,000'``, ``1234.5`` → ``'1,234.50'``."""
    if amount == amount.to_integral_value():
        return f"{amount:,.0f}"
    return f"{round_money(amount):,.2f}"
