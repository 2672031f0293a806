"""Hook specifications: the points where plugins extend salesgate.

Naming grammar: ``salesgate_<decision point>`` for the four decisions a gate makes, and
``salesgate_load_<fact>`` / ``salesgate_record_<thing>`` for the data hooks adapters implement.
Hook arguments never have defaults (pluggy passes them by name, and a plugin may accept any
subset of them). Plugins receive frozen models, so no plugin can change what another one sees.

A decision hook returns a :class:`~salesgate.decisions.Contribution` (what the plugin adds) or
``None``; the facade stamps it with the decision point, subject, policy, backend and the plugin's
name, and combines every plugin's by :func:`salesgate.decisions.combine`: most severe outcome
wins, approvals are the union in ladder order, pricing adjustments apply in priority order. The
order in which plugins were registered never matters. (A full ``Decision`` is still accepted.)

pluggy's call-order options: the facade calls the decision hooks, ``salesgate_credit_figures``
and ``salesgate_record_decision`` implementation by implementation, so ``wrapper=True``,
``hookwrapper=True`` and ``tryfirst=True`` on them are refused with a PluginError when the plugin
is registered, as is ``trylast=True`` except on ``salesgate_credit_figures`` (where it marks
default figures, as the built-in ``credit`` plugin's). ``salesgate`` calls
``salesgate_register_commands`` plugin by plugin too, and refuses all four options on it (that
plugin's commands are left out). The data hooks (``salesgate_load_*``) and
``salesgate_register_adapters`` are called by pluggy: every option works as pluggy documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pluggy

from .pointspecs import BUILT_IN_POINTS

if TYPE_CHECKING:
    import click
    from pydantic import BaseModel

    from .context import DecisionContext
    from .decisions import Contribution, CreditResult, Decision
    from .history import HistoryFact
    from .models import CreditExposure, Customer, Delivery, Order, OrderFacts, Product, ReturnFacts

PROJECT = "salesgate"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- decision points ------------------------------------------------------------------------------


@hookspec
def salesgate_order_approval(facts: OrderFacts, context: DecisionContext) -> Contribution | Decision | None:
    """Decide whether an order may be entered, and who must approve it first.

    Called by ``Gate.approve_order`` before the ERP enters or confirms a sales order.

    :param facts: the order with its customer, products and credit exposure (validated, frozen).
    :param context: the policy in force (reference, ladder), the backend's name, whether to
        explain, and the policy's verdict on the facts (``context.verdict(...)``).

    Return a :class:`~salesgate.decisions.Contribution` (or a full Decision for
    ``hook="order_approval"``), or ``None`` to abstain. Several results combine: the most severe
    outcome wins and approvals are united.

    Added in 0.1.
    """


@hookspec
def salesgate_credit_check(facts: OrderFacts, context: DecisionContext) -> Contribution | Decision | None:
    """Decide whether the customer's credit allows this order (信誉额 check).

    Called by ``Gate.check_credit``. The ``rules`` plugin applies the policy; the figures a credit
    decision shows (``Decision.credit``) come from :func:`salesgate_credit_figures`.

    :param facts: the order, its customer and the customer's exposure before this order.
    :param context: the policy in force (reference, ladder), the backend's name, whether to
        explain, and the policy's verdict on the facts (``context.verdict(...)``).

    Return a Contribution (or a Decision for ``hook="credit_check"``) or ``None``. Results combine as for
    :func:`salesgate_order_approval`; a ``credit`` payload a decision carries is kept (the first
    in plugin-name order) and then no figures are asked for.

    Added in 0.1.
    """


@hookspec
def salesgate_credit_figures(facts: OrderFacts, context: DecisionContext) -> CreditResult | None:
    """The exposure figures a credit decision shows (信用占用): exposure including this order,
    the limit, what is available, the overdue amount and days.

    Called by ``Gate.check_credit`` once the decision plugins have answered, unless one of them
    already put figures in its decision. The built-in ``credit`` plugin computes them as open
    receivables + open orders + reserved credit + this order's total, in an implementation marked
    ``@hookimpl(trylast=True)``: a default. A company that counts exposure differently implements
    this hook (without ``trylast``), and its figures replace the default ones. Two such plugins
    answering is an error (disable one).

    :param facts: the order, its customer and the customer's exposure before this order.
    :param context: the policy in force (reference, ladder), the backend's name, whether to
        explain, and the policy's verdict on the facts (``context.verdict(...)``).

    Return a :class:`~salesgate.decisions.CreditResult`, or ``None`` to leave the figures to
    another plugin. Figures never change the outcome: rules decide, figures explain.

    Added in 0.2.
    """


@hookspec
def salesgate_pricing(facts: OrderFacts, context: DecisionContext) -> Contribution | Decision | None:
    """Price an order's lines and check the requested prices against the policy price.

    Called by ``Gate.price_order``. ``Decision.pricing`` lists every line with its policy
    price and each adjustment (markup, discount, added amount, set price, floor) and the rule
    that made it.

    :param facts: the order, its customer and the products on its lines.
    :param context: the policy in force (reference, ladder), the backend's name, whether to
        explain, and the policy's verdict on the facts (``context.verdict(...)``).

    Return a Contribution (or a Decision for ``hook="pricing"``) or ``None``. When several plugins price, all their
    adjustments are re-applied to the list price in priority order (floors last).

    Added in 0.1.
    """


@hookspec
def salesgate_return_handling(facts: ReturnFacts, context: DecisionContext) -> Contribution | Decision | None:
    """Decide a return (退货) or compensation claim (赔款): accept, escalate or refuse, and refund how much.

    Called by ``Gate.handle_return``. ``Decision.returns`` carries the amount, refund rate,
    restocking fee and refund amount.

    :param facts: the return request and the customer.
    :param context: the policy in force (reference, ladder), the backend's name, whether to
        explain, and the policy's verdict on the facts (``context.verdict(...)``).

    Return a Contribution (or a Decision for ``hook="return_handling"``) or ``None``. Combined as above.

    Added in 0.1.
    """


# -- facts from the ERP (adapters) ---------------------------------------------------------------


@hookspec
def salesgate_decide(point: str, facts: BaseModel, context: DecisionContext) -> Contribution | Decision | None:
    """Decide at a declared decision point: one a policy declares in ``points/<name>.yaml`` or a plugin
    registers with :func:`salesgate_register_points` (the four built-in points have their own hooks).

    :param point: the decision point's name, e.g. ``"shipment_release"``: an implementation answers only
        for the points it knows and returns ``None`` for the others.
    :param facts: the document decided, validated into the point's fact model (``facts.shipment``, and
        ``facts.customer`` when the point includes it).
    :param context: the policy in force; ``context.verdict(point, facts)`` is what its rules say,
        outputs included.

    Every plugin's answer is combined as at the built-in points; the declared outputs from the first
    plugin (by name) that sets each. The built-in ``rules`` plugin answers for every declared point.

    Added in 0.3.
    """


@hookspec
def salesgate_register_points(register: Callable[..., None]) -> None:
    """Declare decision points whose document needs code: a pydantic model of your own.

    :param register: call it once per point, with keywords: ``name`` (lower case, ``_``), ``document``
        (a pydantic model: each of its fields is a part of the document, itself a pydantic model, such
        as ``sample: SampleRequest`` and, optionally, ``customer: Customer``), ``subject`` (the field
        that identifies one document, ``"sample.id"``), ``title`` and ``description`` (each
        ``{"zh": ..., "en": ...}``), and optionally ``outputs`` (``salesgate.OutputSpec`` values).

    A policy's rule files decide at the point with ``hook: <name>``; ``Gate.from_path`` and every
    ``salesgate`` command that loads a policy read the points installed plugins register. A policy
    cannot declare a point a plugin declares, nor a plugin a built-in one.

    Added in 0.3.
    """


@hookspec(firstresult=True)
def salesgate_load_document(point: str, document_id: str, as_of: date | None) -> BaseModel | Mapping[str, Any] | None:
    """Load the document of a declared decision point by its id (``gate.decide("shipment_release",
    {"shipment": "DN-0001"})``), as a dict of the point's document fields or the point's document model.

    :param point: the declared decision point, e.g. ``"shipment_release"``.
    :param document_id: the id the caller passed.
    :param as_of: the decision's as-of date (what its rules read as ``today``): count ages and
        periods to it, as the ``sql`` adapter binds it to ``:today`` in a mapping's queries. Declare
        the argument only if you need it (pluggy passes an implementation the arguments it names).
        None when the caller chose no day (the decision is then made as of the clock's today): count
        to your own today then. Added in 0.4.

    Return ``None`` when the adapter does not know the point or the document. Optional for adapters.

    Added in 0.3.
    """


@hookspec(firstresult=True)
def salesgate_load_history(document: str, keys: Mapping[str, Any], facts: Sequence[HistoryFact],
                           as_of: date | None) -> Mapping[str, Any] | None:
    """Compute history facts the policy declares (``customer.sales_last_4_quarters``, ``window: 4 quarters``)
    that the caller did not send: named aggregates over the ERP's history, relative to the as-of date.

    :param document: the document they are facts of, as rules read it: ``customer``, ``order``, or a
        declared point's (``visits``).
    :param keys: the document's own values to key a query by: its fields by name (``customer_id``,
        ``rep``) and its ``id`` also as ``<document>_id`` (``customer_id`` of a customer).
    :param facts: the history facts wanted, each with its name, type and window; ``fact.bounds(day)``
        gives the window's ``[start, end)`` dates for an as-of day.
    :param as_of: the decision's as-of date (what its rules read as ``today``), the one the other data
        hooks get: bound the windows by it. None when the caller chose no day (the decision is then made
        as of the clock's today): bound them by your own today then, as your other hooks count to it.

    Return ``{name: value}`` of the facts the adapter could compute (leave out or set ``None`` those it
    cannot: they are missing), or ``None`` when it knows none. First non-None answer wins. Optional for
    adapters.

    Added in 0.4.
    """


@hookspec(firstresult=True)
def salesgate_load_customer(customer_id: str, as_of: date | None) -> Customer | None:
    """Load a customer's facts when the caller passed only the customer id.

    :param customer_id: the ERP's customer number.
    :param as_of: the decision's as-of date (what its rules read as ``today``): count ages and
        periods to it, as the ``sql`` adapter binds it to ``:today`` in a mapping's queries. Declare
        the argument only if you need it (pluggy passes an implementation the arguments it names).
        None when the caller chose no day (the decision is then made as of the clock's today): count
        to your own today then. Added in 0.4.

    Return a :class:`~salesgate.models.Customer`, or ``None`` if this adapter does not know the
    customer. The first non-None answer wins (adapters are usually one per gate).

    Added in 0.1.
    """


@hookspec(firstresult=True)
def salesgate_load_exposure(customer_id: str, as_of: date | None) -> CreditExposure | None:
    """Load a customer's credit exposure: open receivables, open orders, overdue amount and days.

    :param customer_id: the ERP's customer number.
    :param as_of: the decision's as-of date (what its rules read as ``today``): count ages and
        periods to it, as the ``sql`` adapter binds it to ``:today`` in a mapping's queries. Declare
        the argument only if you need it (pluggy passes an implementation the arguments it names).
        None when the caller chose no day (the decision is then made as of the clock's today): count
        to your own today then. Added in 0.4.

    Return a :class:`~salesgate.models.CreditExposure` or ``None``. First non-None answer wins.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def salesgate_load_products(skus: list[str], as_of: date | None) -> list[Product] | None:
    """Load the products on an order's lines (list price, cost, stock).

    :param skus: product codes, each once.
    :param as_of: the decision's as-of date (what its rules read as ``today``): count ages and
        periods to it, as the ``sql`` adapter binds it to ``:today`` in a mapping's queries. Declare
        the argument only if you need it (pluggy passes an implementation the arguments it names).
        None when the caller chose no day (the decision is then made as of the clock's today): count
        to your own today then. Added in 0.4.

    Return the products found (missing ones are simply left out) or ``None``. First non-None
    answer wins.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def salesgate_load_order(order_id: str, as_of: date | None) -> Order | None:
    """Load an order by id: to decide on an order the caller names only by id.

    :param order_id: the ERP's order number.
    :param as_of: the decision's as-of date (what its rules read as ``today``): count ages and
        periods to it, as the ``sql`` adapter binds it to ``:today`` in a mapping's queries. Declare
        the argument only if you need it (pluggy passes an implementation the arguments it names).
        None when the caller chose no day (the decision is then made as of the clock's today): count
        to your own today then. Added in 0.4.

    Return the :class:`~salesgate.models.Order` or ``None``. First non-None answer wins.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def salesgate_load_counted_orders(customer_id: str, order_ids: list[str]) -> list[str] | None:
    """Say which orders holding a credit reservation the ERP already counts in the customer's exposure.

    Called by ``Gate.check_credit(..., reserve=True)`` inside the customer's reservation lock, before
    the exposure is loaded. An order the ERP has confirmed (it is among the open orders, or already
    invoiced) must not count a second time as a reservation; its reservation is confirmed on the way.
    This is what keeps a lost ``confirm_reservation`` call (a crash between the ERP's commit and the
    call) from counting an order twice.

    :param customer_id: the ERP's customer number.
    :param order_ids: the ids of the customer's orders that still hold a reservation, each once.

    Return the subset the ERP counts (open or invoiced), or ``None`` when this adapter cannot tell:
    the reservations then keep counting until confirmed, cancelled or expired (never too little).
    First non-None answer wins.

    Added in 0.2.
    """


@hookspec(firstresult=True)
def salesgate_load_delivery(order_id: str, sku: str) -> Delivery | None:
    """Load what was delivered of a product on an earlier order: to complete a return.

    Called by ``Gate.handle_return`` when the return names the original order, the product and
    the request date (``requested_on``) but not the unit price, delivered quantity or days since
    delivery. The gate fills those in (values the caller passed win) and counts
    ``days_since_delivery`` from ``delivered_on`` to ``requested_on``.

    :param order_id: the original order's number (``return.original_order_id``).
    :param sku: the product returned.

    Return a :class:`~salesgate.models.Delivery` (quantities summed over the order's lines and
    deliveries of that product) or ``None`` if this adapter knows no such delivery. First
    non-None answer wins.

    Added in 0.1.
    """


# -- what salesgate owns ------------------------------------------------------------------------


@hookspec
def salesgate_record_decision(decision: Decision, facts: OrderFacts | ReturnFacts | BaseModel | None) -> None:
    """Store or log a decision after it was made (audit log, decision table, metrics).

    Called once per decision, after combining, also for safe fallback decisions. Every
    implementation is called; their return values are ignored. An exception here is logged and
    never changes or loses the decision already made. (The store's decision log is the gate's
    own: a decision it fails to log is answered by the failure mode, see docs/store.md.) On a
    gate with a store and a ``timeout``, recording that outlasts the deadline finishes in the
    background: implementations must be thread-safe.

    :param decision: the final decision.
    :param facts: the validated facts it was decided on (what a decision log digests): an order, a
        return, or the document of a declared point (its fact model); ``None`` when they could not be
        loaded (a fallback decision). Added in 0.2.

    Added in 0.1.
    """


@hookspec
def salesgate_register_adapters(register: Callable[[str, type], None]) -> None:
    """Register adapter classes by name, e.g. ``register("sql", SqlAdapter)``.

    A duplicate name is an error naming both classes.

    :param register: call it once per adapter class.

    Added in 0.1.
    """


# -- the command line ---------------------------------------------------------------------------


@hookspec
def salesgate_register_commands(cli: click.Group) -> None:
    """Add commands to the ``salesgate`` command, as ``llm``'s ``register_commands`` does.

    Called once per run of ``salesgate`` that needs more than the core commands (``--help``, or a
    command the core does not have), before that command's arguments are parsed. The store's
    ``db``, ``approvals`` and ``audit`` groups and ``demo`` are added this way
    (``salesgate.defaults``); an installed package adds its own through the ``salesgate``
    entry-point group.

    :param cli: a click group of the plugin's own: add to it with ``@cli.command()``,
        ``@cli.group()`` or ``cli.add_command(...)``. A ``SalesgateError`` a command raises is
        printed as one line and exits with code 2, like the core commands'.

    Every implementation is called, in plugin-name order; return values are ignored. Only this
    hook is checked for the commands (a plugin's decision hooks are the gate's to check). A
    plugin that fails here (raises, is marked ``wrapper``/``hookwrapper``/``tryfirst``/
    ``trylast``, adds a name already taken by the core or a plugin earlier by name) has all its
    commands left out, with one warning line naming it and ``SALESGATE_DISABLE_PLUGINS=<name>``;
    the other commands still run. The built-in providers' names (``store_commands``,
    ``demo_commands``) are reserved: an entry point by that name is refused, not used instead.

    Added in 0.2.
    """


# -- derived once, read by the facade and the adapter contract ----------------------------------

DECISION_HOOKS: Mapping[str, str] = MappingProxyType({spec.name: spec.hook for spec in BUILT_IN_POINTS})
"""The hook each decision point calls, as its declaration (:mod:`salesgate.pointspecs`) names it."""

if any(not callable(globals().get(hook)) for hook in DECISION_HOOKS.values()):  # pragma: no cover
    raise RuntimeError("a decision point names a hook salesgate.hookspecs does not specify")

DATA_HOOKS: tuple[str, ...] = tuple(name for name in tuple(globals()) if name.startswith("salesgate_load_"))
"""Every hook an adapter may implement to load facts from an ERP."""

OPTIONAL_DATA_HOOKS = frozenset({"salesgate_load_delivery", "salesgate_load_counted_orders", "salesgate_load_document",
                                 "salesgate_load_history"})
"""Data hooks an adapter may leave out: returns are then decided on the facts the caller passes,
and credit reservations keep counting until confirmed (never too little)."""

REQUIRED_DATA_HOOKS: tuple[str, ...] = tuple(name for name in DATA_HOOKS if name not in OPTIONAL_DATA_HOOKS)
"""The data hooks every adapter implements (``salesgate.testing.AdapterContract`` checks them):
customer, exposure, products and order, what an order decided by id needs."""
