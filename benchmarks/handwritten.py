"""The seed policy's four built-in points (rules/*.yaml) written by hand as straight ``if`` code: the floor.

No rules, no traces, no plugins: only what a developer would write to answer the same four
questions for the same validated models. Each function returns a :class:`Verdict` — outcome,
the roles to approve in ladder order, and for pricing the policy price of every line, for
returns the refund — which is exactly what the benchmark compares across implementations.
Rules that only notify (``short-of-stock-made``, ``made-lines-to-production``...) change none of
that and are left out, as a developer answering these four questions would leave them out.

Written against the seed policy at these files (keep them in step when a rule changes; the
benchmark's agreement check, and tests/test_benchmarks.py on every test run, fail on the first
orders where they part):
``order-approval.yaml`` + ``order-approval-ladder.yaml`` (order_approval), ``credit.yaml``
(credit_check), ``pricing.yaml`` + ``data/distributor_regions.csv`` (pricing), ``returns.yaml``
(return_handling). The facts ``policy.yaml`` declares (``customer.tenure_years``,
``order.contract_signed``, ``product.make_or_buy``...) are read with ``getattr``-free attribute
access on the policy's own models (``Policy.point(...).document``).

Semantics follow the policy language: a comparison with a missing value (a declared fact nobody
sent, a line whose product facts are absent) is false, also under ``not``; money is exact
``Decimal``, rounded half up to the cent only where a figure leaves (policy price, refund). Rules
reading ``today`` read the decision's as-of date, passed in.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

CENT = Decimal("0.01")
UNIT = Decimal("0.0001")  # derived unit prices are kept to 4 decimals, rounded half up
ZERO = Decimal(0)
ONE = Decimal(1)
LADDER = ("sales_rep", "sales_manager", "finance", "legal", "general_manager")

ALLOW, WARN, REQUIRE, BLOCK = "allow", "warn", "require_approval", "block"

_HALF = Decimal("0.5")
_MARKUP_DISTRIBUTOR = ONE + Decimal("0.10")
_DISCOUNT_A = ONE - Decimal("0.05")
_DISCOUNT_B = ONE - Decimal("0.02")
_DISCOUNT_VOLUME = ONE - Decimal("0.03")
_MARKUP_SPECIAL = ONE + Decimal("0.05")
_COST_FLOOR = Decimal("1.05")
_RESTOCKING_FEE = Decimal("0.10")
_COVERED_REGIONS = frozenset({"华南", "西南", "东北"})  # data/distributor_regions.csv rows with covered true
_CASH = frozenset({"cash", "transfer"})
_EARLY_STAGES = frozenset({"prospect", "intent"})


class Verdict(NamedTuple):
    outcome: str
    approvals: tuple[str, ...] = ()
    prices: tuple[Decimal, ...] = ()  # pricing: policy price per line, in line order
    refund: Decimal | None = None  # returns: refund after fees


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _ladder(roles: set[str]) -> tuple[str, ...]:
    return tuple(r for r in LADDER if r in roles)


def _verdict(block: bool, roles: set[str], warn: bool) -> Verdict:
    """The policy's precedence: block over approvals over a warning over allow; approvals kept on a block."""
    if block:
        return Verdict(BLOCK, _ladder(roles))
    if roles:
        return Verdict(REQUIRE, _ladder(roles))
    return Verdict(WARN if warn else ALLOW)


def order_approval(facts: Any, today: date) -> Verdict:
    customer, order = facts.customer, facts.order
    block = warn = False
    roles: set[str] = set()
    if customer.status == "blocked":  # blocked-customer
        block = True
    total = order.total
    if total >= 100000:  # large-order (the ladder table)
        roles.update(("sales_manager", "general_manager"))
    elif total >= 20000:  # medium-order
        roles.add("sales_manager")
    sales = customer.sales_last_4_quarters
    if sales is not None and sales > 0 and total > sales * _HALF:  # channel-stuffing
        roles.add("sales_manager")
    if customer.credit_rating == "poor" and not order.guarantee:  # poor-credit-without-guarantee
        roles.add("finance")
    if order.payment_terms_days > customer.payment_terms_days:  # longer-payment-terms
        roles.add("finance")
    if (order.payment_method == "bank_acceptance_draft" and order.draft_term_days is not None
            and order.draft_term_days > 365):  # long-acceptance-draft
        block = True
    requested = order.requested_delivery_date
    if requested is not None and requested < order.order_date:  # delivery-date-before-order-date
        block = True
    if order.contract_signed is False:  # no-supply-contract
        block = True
    if order.channel == "oral" and not order.written_confirmation:  # oral-order-unconfirmed
        warn = True
    if customer.stage in _EARLY_STAGES:  # customer-stage-outdated
        warn = True
    products = {p.sku: p for p in facts.products}
    for line in order.lines:
        product = products.get(line.sku)
        if product is None:  # unknown-product-line
            block = True
            continue
        if line.qty > product.stock:  # short-of-stock
            warn = True
            restock = product.restock_date
            if restock is not None and requested is not None and restock > requested:  # restock-after-delivery-date
                warn = True
    return _verdict(block, roles, warn)


def credit_check(facts: Any, today: date) -> Verdict:
    customer, exposure, order = facts.customer, facts.exposure, facts.order
    block = False
    roles: set[str] = set()
    if exposure.total + order.total > customer.credit_limit:
        if customer.has_repayment_plan:  # over-limit-with-plan
            roles.add("finance")
        else:  # over-limit-no-plan
            block = True
    if exposure.max_overdue_days > 90:
        if customer.has_repayment_agreement:  # long-overdue-with-agreement
            roles.add("sales_manager")
            tenure = customer.tenure_years
            if (tenure is not None and tenure < 3) or customer.credit_rating != "good":
                block = True  # agreement-not-for-this-customer
            days_left = customer.repayment_agreement_days_left
            if days_left is not None and days_left < 0:  # agreement-date-passed
                block = True
        else:  # long-overdue
            block = True
    on_credit = order.payment_method not in _CASH
    if on_credit:
        if customer.status == "cash_only":  # cash-only-customer
            roles.add("finance")
        if customer.credit_assessed is False:  # credit-without-assessment
            block = True
        assessed = customer.grade_assessed_on
        if assessed is not None and (today - assessed).days > 31:  # credit-grade-outdated
            roles.add("finance")
    return _verdict(block, roles, exposure.overdue_amount > 0)  # any-overdue warns


def pricing(facts: Any, today: date) -> Verdict:
    customer, order = facts.customer, facts.order
    markup = ((customer.region_has_distributor or customer.region in _COVERED_REGIONS)
              and not customer.is_distributor)
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
        if net < policy_price:  # below-policy-price
            below_policy = True
        if net < product.cost * _COST_FLOOR:  # below-cost-floor
            below_cost = True
    block = below_cost or (order.quotation is True and order.project_no is None)  # quotation-without-project-no
    roles = {"sales_manager", "general_manager"} if below_policy or unknown else set()
    return Verdict(*_verdict(block, roles, False)[:2], prices=tuple(prices))


def return_handling(facts: Any, today: date) -> Verdict:
    request = facts.return_request
    amount = request.amount
    roles: set[str] = set()
    refund_rate = ONE
    fee_rate = ZERO
    returnable = request.delivered_qty - request.already_returned_qty
    if request.type == "compensation":  # compensation-claim
        roles.add("sales_manager")
    if amount > 5000:  # return-over-5000
        roles.add("sales_manager")
        if amount > 50000:  # return-over-50000
            roles.add("general_manager")
    if (request.reason == "defect" and request.type == "return" and request.days_since_delivery <= 30
            and amount <= 5000 and request.qty <= returnable):
        refund_rate = ONE  # quick-defect-return: accepted in full; the sales manager is told afterwards
    block = request.days_since_delivery > 90 or request.qty > returnable  # too-late, beyond-returnable-qty
    warn = request.reason == "not_needed"  # change-of-mind-fee
    if warn:
        fee_rate = _RESTOCKING_FEE
    outcome, approvals = _verdict(block, roles, warn)[:2]
    if outcome == BLOCK:
        refund = ZERO
    else:
        fee = _money(amount * fee_rate)
        refund = max(_money(amount * refund_rate) - fee, ZERO)
    return Verdict(outcome, approvals, refund=refund)


HANDWRITTEN = {
    "order_approval": order_approval,
    "credit_check": credit_check,
    "pricing": pricing,
    "return_handling": return_handling,
}
