"""The decision points, described as data: what each one decides, on which document, through which
hook, and what it answers besides an outcome. Each point is declared here once, and the names the
rest of salesgate goes by (:data:`DECISION_POINTS`, ``hookspecs.DECISION_HOOKS``) are read from
these declarations.

Why data rather than code spread over modules: a company's sales policy governs more documents
than the four salesgate ships (shipping notices, contracts, complaints…), and ``salesgate points``,
the vocabulary and, later, points declared by a plugin or in a policy directory all need the same
description of a point. Today every point is built in; :class:`Origin` already says where a point
comes from so that a listing can tell them apart when others are added.

``DecisionPoint`` (:mod:`salesgate.points`) stays the static type of a point's name, for the type
checker; this module refuses to load if the two ever disagree.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import Final

from pydantic import BaseModel

from .decisions import CreditResult, PricingResult, ReturnResult
from .documents import Bilingual, OutputSpec
from .history import HistoryFact
from .models import OrderFacts, ReturnFacts
from .points import DecisionPoint


class Origin(StrEnum):
    """Where a decision point comes from, as ``salesgate points`` shows it."""

    built_in = "built-in"
    """Shipped with salesgate."""
    plugin = "plugin"
    """Declared by an installed plugin (``salesgate_register_points``)."""
    policy = "policy"
    """Declared in a policy directory (``points/<name>.yaml``)."""


@dataclass(frozen=True)
class PointOutput:
    """What a decision at a point carries besides its outcome, reasons and approvals (its payload)."""

    field: str
    """The field of :class:`~salesgate.decisions.Decision` (and of a ``Contribution``) that carries it."""
    model: type[BaseModel]
    """Its type, e.g. :class:`~salesgate.decisions.PricingResult`."""
    description: Bilingual


@dataclass(frozen=True)
class PointSpec:
    """One decision point: the place in the sales cycle where the ERP asks salesgate for a decision."""

    name: str
    """The name rule files (``hook:``), ``Gate.decide`` and ``salesgate decide`` use."""
    hook: str
    """The pluggy hook a decision here calls (:mod:`salesgate.hookspecs`): each built-in point has its
    own; every declared point calls ``salesgate_decide``, which is given the point's name."""
    document: type[BaseModel]
    """The fact model of the document decided: what a caller passes and rules read
    (:class:`~salesgate.models.OrderFacts` for an order; a generated model for a point declared in YAML)."""
    subject: str
    """The fact path that identifies one document: a decision's ``subject`` is its value."""
    description: Bilingual
    title: Bilingual
    """The point's name for people, as a report's heading gives it (``Credit check``)."""
    short: str
    """The short name listings give it and ``salesgate decide`` also takes (``credit``)."""
    data: Bilingual
    """What a decision here most depends on, as a failure names it when the data could not be read
    (``credit data unavailable``)."""
    outputs: tuple[PointOutput, ...] = ()
    aliases: tuple[str, ...] = ()
    """Every other name ``salesgate decide`` takes for the point: its short name (unless that is its
    name) and any more."""
    origin: Origin = Origin.built_in
    declared_outputs: tuple[OutputSpec, ...] = ()
    """The values rules may set here (``then: set: {deposit: 30%}``), as the decision's ``outputs``."""
    source: str = ""
    """Where it was declared: a file of the policy directory, or the plugin's name."""
    history: tuple[HistoryFact, ...] = ()
    """The history facts its documents carry (``customer.sales_last_4_quarters``): what completion asks the
    adapters for when the caller did not send them."""

    @property
    def root(self) -> str:
        """The document's name in rules: ``order`` of ``order.id``, ``shipment`` of ``shipment.id``."""
        return self.subject.partition(".")[0]

    @cached_property
    def built_in(self) -> bool:
        """Whether salesgate defines the point (else a policy or plugin declared it). Read on every decision:
        worked out once."""
        return self.origin is Origin.built_in

    def output(self, name: str) -> OutputSpec | None:
        return next((o for o in self.declared_outputs if o.name == name), None)


DECIDE_HOOK: Final = "salesgate_decide"
"""The pluggy hook every declared (not built-in) decision point calls, with the point's name."""


def declared_point(name: str, document: type[BaseModel], subject: str, *, title: Bilingual,
                   description: Bilingual, outputs: tuple[OutputSpec, ...] = (),
                   origin: Origin = Origin.policy, source: str = "",
                   history: tuple[HistoryFact, ...] = ()) -> PointSpec:
    """A :class:`PointSpec` for a point declared in a policy directory or by a plugin."""
    return PointSpec(name, DECIDE_HOOK, document, subject, description, title=title, short=name,
                     data=Bilingual(zh=f"{title.zh}数据", en=f"{title.en.lower()} data"),
                     origin=origin, declared_outputs=outputs, source=source, history=history)


_CREDIT_FIGURES = PointOutput(
    "credit", CreditResult,
    Bilingual(zh="信用占用：含本单的占用、信誉额、可用额度、逾期金额和最长逾期天数。",
              en="The credit figures: exposure with this order, the credit limit, what is available, the overdue "
                 "amount and the longest overdue days."))
_PRICED_LINES = PointOutput(
    "pricing", PricingResult,
    Bilingual(zh="定价结果：每一行的政策价格及形成它的各项调整（规则），以及报价与政策价格的合计。",
              en="The priced lines: each line's policy price with every adjustment that made it (and its rule), "
                 "and the requested and policy totals."))
_REFUND = PointOutput(
    "returns", ReturnResult,
    Bilingual(zh="退款：申请金额、退款比例、重新入库费和退款金额。",
              en="The refund: what the request is worth, the refund rate, the restocking fee and the refund "
                 "amount."))

BUILT_IN_POINTS: Final[tuple[PointSpec, ...]] = (
    PointSpec(
        "order_approval", "salesgate_order_approval", OrderFacts, "order.id",
        Bilingual(zh="订单审批：销售订单录入或确认之前，能否接单，须由谁先审批。",
                  en="Order approval: whether a sales order may be entered or confirmed, and who must approve it "
                     "first."),
        title=Bilingual(zh="订单审批", en="Order approval"), short="approval",
        # customer and exposure: what an approval most depends on
        data=Bilingual(zh="信用数据", en="credit data"), aliases=("approval",)),
    PointSpec(
        "credit_check", "salesgate_credit_check", OrderFacts, "order.id",
        Bilingual(zh="信用检查：客户的信誉额是否允许这张订单。",
                  en="Credit check: whether the customer's credit allows this order."),
        title=Bilingual(zh="信用检查", en="Credit check"), short="credit",
        data=Bilingual(zh="信用数据", en="credit data"), outputs=(_CREDIT_FIGURES,), aliases=("credit",)),
    PointSpec(
        "pricing", "salesgate_pricing", OrderFacts, "order.id",
        Bilingual(zh="定价：按政策为订单各行定价，并核对报价是否低于政策价格。",
                  en="Pricing: the order's lines priced by the policy, and the requested prices checked against "
                     "the policy price."),
        title=Bilingual(zh="定价", en="Pricing"), short="pricing",
        data=Bilingual(zh="定价数据", en="pricing data"), outputs=(_PRICED_LINES,)),
    PointSpec(
        "return_handling", "salesgate_return_handling", ReturnFacts, "return.id",
        Bilingual(zh="退货与赔款：接受、上报或拒绝退货或赔款申请，以及退款多少。",
                  en="Returns and compensation: accept, escalate or refuse a return or compensation claim, and how "
                     "much to refund."),
        title=Bilingual(zh="退货", en="Returns"), short="returns",
        data=Bilingual(zh="退货数据", en="return data"), outputs=(_REFUND,), aliases=("return", "returns")),
)
"""The four points salesgate ships, in the order the sales cycle meets them (and listings show them)."""

POINT_SPECS: Final[Mapping[str, PointSpec]] = MappingProxyType({spec.name: spec for spec in BUILT_IN_POINTS})
"""Read-only: every decision point's declaration, by name."""

DECISION_POINTS: Final[tuple[DecisionPoint, ...]] = typing.get_args(DecisionPoint)
"""The decision points' names, in the order of :data:`BUILT_IN_POINTS`."""

ORDER_POINTS: Final[tuple[str, ...]] = tuple(spec.name for spec in BUILT_IN_POINTS if spec.document is OrderFacts)
"""The decision points that decide an order (their document is :class:`~salesgate.models.OrderFacts`)."""

ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {alias: spec.name for spec in BUILT_IN_POINTS for alias in spec.aliases})
"""Read-only: the point each other name ``salesgate decide`` takes stands for."""

if tuple(POINT_SPECS) != DECISION_POINTS or len(POINT_SPECS) != len(BUILT_IN_POINTS):  # pragma: no cover
    raise RuntimeError("salesgate.points.DecisionPoint and the declared decision points disagree, or a point is "
                       "declared twice: declare each point once in BUILT_IN_POINTS and name it in DecisionPoint")
if any(spec.short not in (spec.name, *spec.aliases) for spec in BUILT_IN_POINTS) \
        or len(ALIASES) != sum(len(spec.aliases) for spec in BUILT_IN_POINTS) \
        or set(ALIASES) & set(DECISION_POINTS):  # pragma: no cover
    raise RuntimeError("a decision point's short name is not among the names salesgate decide takes for it, or "
                       "an alias names two points or is a point's name: give each point its short name in aliases "
                       "and each alias once")
