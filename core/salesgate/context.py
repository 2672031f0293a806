"""What a decision plugin receives besides the facts: :class:`DecisionContext`.

Part of the contract plugins see. It names the policy in force (its reference, its approval
ladder), the matching backend by name and whether to explain, and lets a plugin ask for the
policy's :class:`PolicyVerdict` on the facts, which the built-in ``rules`` plugin contributes
as it is and a company plugin may use or ignore. The compiled policy and the backend stay the
core's: a plugin that read them would break with every change to the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, NamedTuple

from pydantic import BaseModel

from .decisions import (
    Approval,
    Contribution,
    Notification,
    Outcome,
    PolicyRef,
    PricingResult,
    Reason,
    ReturnResult,
    Trace,
)

__all__ = ["BackendRef", "DecisionContext", "PolicyVerdict"]


@dataclass(frozen=True, slots=True)
class BackendRef:
    """Which matching backend decides: ``compiled`` (the default), ``python`` or ``durable``."""

    name: str


class PolicyVerdict(NamedTuple):
    """What the policy's rules say about one order or return at one decision point.

    ``reasons`` carry no plugin name of their own choosing: the facade stamps the name of the
    plugin that contributes them. Each verdict owns its lists (a plugin may keep them); the reasons,
    approvals and notifications in them are the policy's, shared by every verdict they are part of
    (frozen; their ``translations`` and ``rules`` refuse changes). A named tuple: built once per
    decision, on the hot path.
    """

    outcome: Outcome
    approvals: list[Approval]
    """Roles to approve, in the policy's ladder order, each with the rules that asked for it."""
    reasons: list[Reason]
    notifications: list[Notification]
    trace: Trace
    """Every rule evaluated, built when first read."""
    pricing: PricingResult | None = None
    """``pricing``: every line with its policy price and the adjustments that made it."""
    returns: ReturnResult | None = None
    """``return_handling``: the amount, refund rate, restocking fee and refund."""
    outputs: dict[str, Any] | None = None
    """The declared outputs the fired rules set (``then: set:``), combined per output, in declaration order."""

    def given(self) -> frozenset[str]:
        """The fields a ``Contribution(...)`` made of this verdict has set (its ``model_fields_set``)."""
        given = _GIVEN_PRICING if self.pricing is not None else _GIVEN_RETURNS if self.returns is not None else _GIVEN
        return given | _OUTPUTS if self.outputs else given

    def contribution(self) -> Contribution:
        """This verdict as a :class:`~salesgate.decisions.Contribution`, as the ``rules`` plugin contributes it,
        without validating again what the core built (the fields set are those ``Contribution(...)`` sets)."""
        outcome, approvals, reasons, notifications, trace, pricing, returns, outputs = self
        return Contribution.assemble(
            {"outcome": outcome, "approvals": approvals, "reasons": reasons, "notifications": notifications,
             "trace": trace, "pricing": pricing, "credit": None, "returns": returns, "outputs": outputs or {}},
            set(self.given()),
        )


_GIVEN = frozenset({"outcome", "approvals", "reasons", "notifications", "trace"})
_GIVEN_PRICING = _GIVEN | {"pricing"}
_GIVEN_RETURNS = _GIVEN | {"returns"}
_OUTPUTS = frozenset({"outputs"})


Verdict = Callable[[str, BaseModel], PolicyVerdict]
"""The signature of :meth:`DecisionContext.verdict`."""

Judge = Callable[[str, BaseModel, date | None], PolicyVerdict]
"""The policy's verdict on facts at a point as of a date: what :meth:`DecisionContext.verdict` asks."""


@dataclass(frozen=True)
class DecisionContext:
    """The policy in force and how to decide, as a decision hook sees it. Immutable: one per policy
    and ``explain`` setting, shared by every decision on that policy (the gate builds it)."""

    policy_ref: PolicyRef
    """Which policy decides: name, version, content hash."""
    roles: tuple[str, ...]
    """The policy's approval ladder, lowest role first."""
    backend: BackendRef
    """The matching backend, by name."""
    explain: bool
    """Whether the caller asked for explanations (each trace entry says why a rule fired or not)."""
    failure_mode: str
    """``closed`` or ``open``: what the gate answers when it cannot decide."""
    judge: Judge = field(repr=False, compare=False)
    """The policy's verdict as of a date (the core's; plugins call :meth:`verdict`)."""
    as_of: date | None = None
    """The decision's as-of date: what ``today`` reads in the rules, and what the decision records. The gate
    sets it on every decision (:meth:`on`); None only on a context no decision has been given yet."""

    def verdict(self, point: str, facts: BaseModel) -> PolicyVerdict:
        """``context.verdict(point, facts)``: the policy's :class:`PolicyVerdict` on ``facts`` at decision
        point ``point`` as of :attr:`as_of` (explained when :attr:`explain` is set). Raises
        :class:`~salesgate.errors.PolicyError` when a rule cannot be applied to these facts (a price
        out of range), which the gate answers by its failure mode."""
        return self.judge(point, facts, self.as_of)

    def on(self, as_of: date) -> DecisionContext:
        """This context for a decision as of ``as_of`` (a copy: contexts are shared and immutable)."""
        return self if as_of == self.as_of else replace(self, as_of=as_of)
