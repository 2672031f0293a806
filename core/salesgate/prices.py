"""The price algebra, written once: how a line's price changes, step by step.

Two places price a line: the rules plugin's evaluation of a policy (and bulk replays of it), and
:func:`salesgate.decisions.combine` when several plugins priced the same order. Both run
:func:`run_price_steps`, so ``stop`` and floors mean the same in both:

1. steps apply in order (priority, then rule id); within a step its changes apply in order
   (``set``, then ``markup``, ``discount``, ``add`` for a policy rule);
2. a step that stops ends the changes: no later step changes the price or adds a floor;
3. then the floors of the steps that ran apply, in step order (a floor only raises a price).

Arithmetic in the algebra is exact. What a line shows is written here once too, for everyone that
prices a line (the policy's pricing, bulk replays, ``combine``): :func:`line_price` makes the
algebra's result a policy price (never below zero, rounded to the cent), and :func:`line_amount`
is a line's amount (unit price × quantity, rounded to the cent), which order totals add up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeAlias, TypeVar

from .money import ONE, ZERO, round_money

__all__ = ["PriceChange", "PriceKind", "PriceStep", "changed_price", "line_amount", "line_price", "run_price_steps"]

PriceKind: TypeAlias = Literal["markup", "discount", "add", "set", "floor"]
"""What a change does: ``markup``/``discount`` multiply by (1 ± rate), ``add`` adds an amount,
``set`` replaces the price, ``floor`` raises it to at least an amount."""

Tag = TypeVar("Tag")
PriceChange: TypeAlias = tuple[str, Decimal, Tag]
"""(kind, value, tag): one change; ``tag`` is whatever the caller records it by (a rule, an adjustment)."""
PriceStep: TypeAlias = tuple[Sequence[PriceChange[Tag]], Sequence[tuple[Decimal, Tag]], bool]
"""(changes, floors as (amount, tag), stop): what one rule does to a line."""


def changed_price(price: Decimal, kind: str, value: Decimal) -> Decimal:
    """``price`` after one change of ``kind`` by ``value`` (exact: no rounding): a one-step
    :func:`run_price_steps`, so there is one definition of each change."""
    if kind == "floor":
        return run_price_steps(price, [((), ((value, None),), False)])
    return run_price_steps(price, [(((kind, value, None),), (), False)])


def run_price_steps(base: Decimal, steps: Iterable[PriceStep[Tag]],
                    observe: Callable[[Tag, str, Decimal, Decimal, Decimal], None] | None = None,
                    made: list[Any] | None = None) -> Decimal:
    """The price ``base`` becomes after ``steps`` (already in priority order), by the rules above.

    ``observe(tag, kind, value, price_before, price_after)`` is called after every change and
    floor, in the order they apply: to record adjustments, or to refuse a price out of range by
    raising. ``made``, when given, gets the same five values of each change appended one after
    the other, flat (what the policy's pricing keeps of every line: no call of a Python function
    and no tuple per change). The arithmetic of each kind is written here, inline: this runs for
    every line of every priced order.
    """
    price = base
    floors: list[tuple[Decimal, Tag]] = []
    for changes, step_floors, stop in steps:
        if step_floors:
            floors.extend(step_floors)
        for kind, value, tag in changes:
            before = price
            if kind == "markup":
                price = price * (ONE + value)
            elif kind == "discount":
                price = price * (ONE - value)
            elif kind == "add":
                price = price + value
            elif kind == "set":
                price = value
            else:
                raise ValueError(f"unknown price change {kind!r}: one of markup, discount, add, set, floor")
            if observe is not None:
                observe(tag, kind, value, before, price)
            if made is not None:
                made += (tag, kind, value, before, price)
        if stop:
            break
    for value, tag in floors:
        before = price
        price = max(price, value)
        if observe is not None:
            observe(tag, "floor", value, before, price)
        if made is not None:
            made += (tag, "floor", value, before, price)
    return price


def line_price(price: Decimal) -> Decimal:
    """The policy price of a line whose steps came to ``price``: never below zero, whatever the
    changes add up to (a discount of more than 100%, a negative ``add``), and rounded to the cent,
    because this is the price the order shows and is checked against."""
    return round_money(price if price >= ZERO else ZERO)  # max(price, ZERO) without the builtin's call


def line_amount(unit_price: Decimal, qty: int) -> Decimal:
    """What a line comes to: ``unit_price`` × ``qty`` rounded to the cent. An order's totals add
    these rounded amounts, so a total is the sum of the amounts its lines show."""
    return round_money(unit_price * qty)
