"""Hook specifications: the points where plugins extend salesgate.

Naming grammar: ``salesgate_<decision point>`` for the four decisions a gate makes, and
``salesgate_load_<fact>`` / ``salesgate_record_<thing>`` for the data hooks adapters implement.
Hook arguments never have defaults (pluggy passes them by name, and a plugin may accept any
subset of them). Plugins receive frozen models, so no plugin can change what another one sees.

Results of the four decision hooks are combined by :func:`salesgate.decisions.combine`: most
severe outcome wins, approvals are the union in ladder order, pricing adjustments apply in
priority order. The order in which plugins were registered never matters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .decisions import Decision
    from .evaluation import DecisionContext
    from .models import CreditExposure, Customer, Order, OrderFacts, Product, ReturnFacts

PROJECT = "salesgate"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- decision points ------------------------------------------------------------------------------


@hookspec
def salesgate_order_approval(facts: OrderFacts, context: DecisionContext) -> Decision | None:
    """Decide whether an order may be entered, and who must approve it first.

    Called by ``Gate.approve_order`` before the ERP enters or confirms a sales order.

    :param facts: the order with its customer, products and credit exposure (validated, frozen).
    :param context: the policy in force, the matching backend and whether to explain.

    Return a :class:`~salesgate.decisions.Decision` for ``hook="order_approval"``, or ``None`` to
    abstain. Several results combine: the most severe outcome wins and approvals are united.

    Added in 0.1.
    """


@hookspec
def salesgate_credit_check(facts: OrderFacts, context: DecisionContext) -> Decision | None:
    """Decide whether the customer's credit allows this order (信誉额 check).

    Called by ``Gate.check_credit``. The built-in ``credit`` plugin contributes the exposure,
    limit and available credit (``Decision.credit``); the ``rules`` plugin applies the policy.

    :param facts: the order, its customer and the customer's exposure before this order.
    :param context: the policy in force, the matching backend and whether to explain.

    Return a Decision for ``hook="credit_check"`` or ``None``. Results combine as for
    :func:`salesgate_order_approval`; the first non-empty ``credit`` payload is kept.

    Added in 0.1.
    """


@hookspec
def salesgate_pricing(facts: OrderFacts, context: DecisionContext) -> Decision | None:
    """Price an order's lines and check the requested prices against the policy price.

    Called by ``Gate.price_order``. ``Decision.pricing`` lists every line with its policy
    price and each adjustment (markup, discount, added amount, set price, floor) and the rule
    that made it.

    :param facts: the order, its customer and the products on its lines.
    :param context: the policy in force, the matching backend and whether to explain.

    Return a Decision for ``hook="pricing"`` or ``None``. When several plugins price, all their
    adjustments are re-applied to the list price in priority order (floors last).

    Added in 0.1.
    """


@hookspec
def salesgate_return_handling(facts: ReturnFacts, context: DecisionContext) -> Decision | None:
    """Decide a return (退货) or compensation claim (赔款): accept, escalate or refuse, and refund how much.

    Called by ``Gate.handle_return``. ``Decision.returns`` carries the amount, refund rate,
    restocking fee and refund amount.

    :param facts: the return request and the customer.
    :param context: the policy in force, the matching backend and whether to explain.

    Return a Decision for ``hook="return_handling"`` or ``None``. Combined as above.

    Added in 0.1.
    """


# -- facts from the ERP (adapters) ---------------------------------------------------------------


@hookspec(firstresult=True)
def salesgate_load_customer(customer_id: str) -> Customer | None:
    """Load a customer's facts when the caller passed only the customer id.

    :param customer_id: the ERP's customer number.

    Return a :class:`~salesgate.models.Customer`, or ``None`` if this adapter does not know the
    customer. The first non-None answer wins (adapters are usually one per gate).

    Added in 0.1.
    """


@hookspec(firstresult=True)
def salesgate_load_exposure(customer_id: str) -> CreditExposure | None:
    """Load a customer's credit exposure: open receivables, open orders, overdue amount and days.

    :param customer_id: the ERP's customer number.

    Return a :class:`~salesgate.models.CreditExposure` or ``None``. First non-None answer wins.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def salesgate_load_products(skus: list[str]) -> list[Product] | None:
    """Load the products on an order's lines (list price, cost, stock).

    :param skus: product codes, each once.

    Return the products found (missing ones are simply left out) or ``None``. First non-None
    answer wins.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def salesgate_load_order(order_id: str) -> Order | None:
    """Load an order by id: to decide on an order the caller names only by id.

    :param order_id: the ERP's order number.

    Return the :class:`~salesgate.models.Order` or ``None``. First non-None answer wins.

    Added in 0.1.
    """


# -- what salesgate owns ------------------------------------------------------------------------


@hookspec
def salesgate_record_decision(decision: Decision) -> None:
    """Store or log a decision after it was made (audit log, decision table, metrics).

    Called once per decision, after combining, also for safe fallback decisions. Every
    implementation is called; their return values are ignored. An exception here is logged and
    never changes or loses the decision already made.

    :param decision: the final decision.

    Added in 0.1.
    """


@hookspec
def salesgate_register_adapters(register: Callable[[str, type], None]) -> None:
    """Register adapter classes by name, e.g. ``register("sql", SqlAdapter)``.

    A duplicate name is an error naming both classes.

    :param register: call it once per adapter class.

    Added in 0.1.
    """
