"""The seed policy (rules/*.yaml) written by hand as straight ``if`` code: the benchmark's floor.

No rules, no traces, no plugins: only what a developer would write to answer the same four
questions for the same validated models. Each function returns a :class:`Verdict` — outcome,
the roles to approve in ladder order, and for pricing the policy price of every line, for
returns the refund — which is exactly what the benchmark compares across implementations.

Semantics follow the policy language: a comparison with a missing value (a line whose product
facts are absent) is false; money is exact ``Decimal``, rounded half up to the cent only where a
figure leaves (policy price, refund).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from salesgate.models import OrderFacts, ReturnFacts

CENT = Decimal("0.01")
UNIT = Decimal("0.0001")  # derived unit prices are kept to 4 decimals, rounded half up
ZERO = Decimal(0)
ONE = Decimal(1)
LADDER = ("sales_rep", "sales_manager", "finance", "legal", "general_manager")

ALLOW, WARN, REQUIRE, BLOCK = "allow", "warn", "require_approval", "block"
_RANK = {ALLOW: 0, WARN: 1, REQUIRE: 2, BLOCK: 3}

_MARKUP_DISTRIBUTOR = ONE + Decimal("0.10")
_DISCOUNT_A = ONE - Decimal("0.05")
_DISCOUNT_B = ONE - Decimal("0.02")
_DISCOUNT_VOLUME = ONE - Decimal("0.03")
_MARKUP_SPECIAL = ONE + Decimal("0.05")
_COST_FLOOR = Decimal("1.05")
_RESTOCKING_FEE = Decimal("0.10")


class Verdict(NamedTuple):
    outcome: str
    approvals: tuple[str, ...] = ()
    prices: tuple[Decimal, ...] = ()  # pricing: policy price per line, in line order
    refund: Decimal | None = None  # returns: refund after fees


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _ladder(roles: set[str]) -> tuple[str, ...]:
    return tuple(r for r in LADDER if r in roles)


def order_approval(facts: OrderFacts) -> Verdict:
    customer, order = facts.customer, facts.order
    outcome = ALLOW
    roles: set[str] = set()
    if customer.status == "blocked":
        outcome = BLOCK
    total = order.total
    if total >= 100000:
        roles.add("sales_manager")
        roles.add("general_manager")
    elif total >= 20000:
        roles.add("sales_manager")
    if customer.credit_rating == "poor" and not order.guarantee:
        roles.add("finance")
    if order.payment_terms_days > customer.payment_terms_days:
        roles.add("finance")
    if (order.payment_method == "bank_acceptance_draft" and order.draft_term_days is not None
            and order.draft_term_days > 365):
        outcome = BLOCK
    known = {p.sku for p in facts.products}
    if any(line.sku not in known for line in order.lines):  # unknown-product-line
        outcome = BLOCK
    if roles and outcome != BLOCK:
        outcome = REQUIRE
    if outcome == ALLOW:
        if order.channel == "oral" and not order.written_confirmation:
            outcome = WARN
        else:
            stock = {p.sku: p.stock for p in facts.products}
            for line in order.lines:
                on_hand = stock.get(line.sku)
                if on_hand is not None and line.qty > on_hand:
                    outcome = WARN
                    break
    return Verdict(outcome, _ladder(roles))


def credit_check(facts: OrderFacts) -> Verdict:
    customer, exposure, order = facts.customer, facts.exposure, facts.order
    outcome = ALLOW
    roles: set[str] = set()
    if exposure.open_receivables + exposure.open_orders + order.total > customer.credit_limit:
        if customer.has_repayment_plan:
            roles.add("finance")
        else:
            outcome = BLOCK
    if exposure.max_overdue_days > 90:
        if customer.has_repayment_agreement:
            roles.add("sales_manager")
        else:
            outcome = BLOCK
    if customer.status == "cash_only" and order.payment_method not in ("cash", "transfer"):
        roles.add("finance")
    if outcome != BLOCK:
        if roles:
            outcome = REQUIRE
        elif exposure.overdue_amount > 0:
            outcome = WARN
    return Verdict(outcome, _ladder(roles))


def pricing(facts: OrderFacts) -> Verdict:
    customer, order = facts.customer, facts.order
    markup = customer.region_has_distributor and not customer.is_distributor
    grade = customer.grade
    special = order.special_requirements is not None
    products = {p.sku: p for p in facts.products}
    prices = []
    below_policy = below_cost = unknown = False
    for line in order.lines:
        product = products.get(line.sku)
        net = (line.unit_price * (ONE - line.discount)).quantize(UNIT, rounding=ROUND_HALF_UP)
        if product is None:  # unknown-product: the rep's price, no adjustment (stop), approval
            unknown = True
            price = line.unit_price
            prices.append(_money(price if price > ZERO else ZERO))
            if net < prices[-1]:
                below_policy = True
            continue
        price = product.list_price
        # The adjustments in the policy's priority order: region markup, grade, volume, special.
        if markup:
            price = price * _MARKUP_DISTRIBUTOR
        if grade == "A":
            price = price * _DISCOUNT_A
        elif grade == "B":
            price = price * _DISCOUNT_B
        if line.qty >= 100:
            price = price * _DISCOUNT_VOLUME
        if special:
            price = price * _MARKUP_SPECIAL
        policy_price = _money(price if price > ZERO else ZERO)
        prices.append(policy_price)
        if net < policy_price:
            below_policy = True
        if net < product.cost * _COST_FLOOR:
            below_cost = True
    if below_cost:
        outcome = BLOCK
    elif below_policy or unknown:
        outcome = REQUIRE
    else:
        outcome = ALLOW
    roles = ("sales_manager", "general_manager") if below_policy or unknown else ()
    return Verdict(outcome, roles, tuple(prices))


def return_handling(facts: ReturnFacts) -> Verdict:
    request = facts.return_request
    amount = request.amount
    outcome = ALLOW
    roles: set[str] = set()
    refund_rate = ONE
    fee_rate = ZERO
    if request.type == "compensation":
        roles.add("sales_manager")
    if amount > 5000:
        roles.add("sales_manager")
        if amount > 50000:
            roles.add("general_manager")
    if (request.reason == "defect" and request.days_since_delivery <= 30 and amount <= 5000
            and request.type == "return"):
        refund_rate = ONE  # accepted in full; the sales manager is told afterwards
    if request.days_since_delivery > 90 or request.qty > request.delivered_qty - request.already_returned_qty:
        outcome = BLOCK
    if request.reason == "not_needed":
        fee_rate = _RESTOCKING_FEE
        if outcome == ALLOW:
            outcome = WARN
    if roles and outcome != BLOCK:
        outcome = REQUIRE
    if outcome == BLOCK:
        refund = ZERO
    else:
        fee = _money(amount * fee_rate)
        refund = max(_money(amount * refund_rate) - fee, ZERO)
    return Verdict(outcome, _ladder(roles), refund=refund)


HANDWRITTEN = {
    "order_approval": order_approval,
    "credit_check": credit_check,
    "pricing": pricing,
    "return_handling": return_handling,
}
