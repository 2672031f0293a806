"""What a compiled rule does when it fires: its action, and what that adds to a decision.

The compiler keeps the effects on each :class:`~salesgate.policy.compiler.CompiledRule` (``effect``,
``line_changes``). This module imports nothing above the compiler (the IR's evaluator and the
contract types only), so the compiler imports it directly: no function-level import, no cycle
with the modules that apply a policy (:mod:`salesgate.policy.verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from ..decisions import Outcome
from ..facts import FactValues
from .evaluator import Getter, compile_expr
from .ir import Expr

PRICE_KINDS = ("markup", "discount", "add", "set_price", "floor")


@dataclass(frozen=True)
class CompiledAction:
    """A rule's ``then:``, checked: the outcome, messages, roles, price changes and refund terms."""

    outcome: Outcome
    message: str
    translations: Mapping[str, str]
    approvals: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    markup: Decimal | None = None
    discount: Decimal | None = None
    add: Decimal | None = None
    set_price: Expr | None = None
    floor: Expr | None = None
    stop: bool = False
    refund: Decimal | None = None
    restocking_fee: Decimal | None = None
    outputs: tuple[tuple[str, Expr], ...] = ()
    """``then: set:``: each declared output the rule sets, with the value (an expression over the facts)."""

    @cached_property
    def changes_price(self) -> bool:
        return any(getattr(self, k) is not None for k in PRICE_KINDS)


@dataclass(frozen=True)
class RuleEffect:
    """What a fired rule adds to a decision (see :func:`rule_effect`)."""

    rule: str
    outcome: Outcome
    rank: int
    reason: bool  # whether firing gives a Reason
    translations: Mapping[str, str]
    message: str
    approvals: tuple[str, ...]
    notify: tuple[str, ...]


def rule_effect(rule_id: str, action: CompiledAction) -> RuleEffect:
    """What firing rule ``rule_id`` with ``action`` adds to a decision; kept on the rule
    (``CompiledRule.effect``), so it is worked out once per rule, not once per decision."""
    # A price, refund, output or notify-only rule that does not change the outcome gives no reason.
    gives_reason = action.outcome is not Outcome.allow or not (action.changes_price or action.refund is not None
                                                                 or action.notify or action.outputs)
    return RuleEffect(
        rule=rule_id, outcome=action.outcome, rank=action.outcome.rank, reason=gives_reason,
        translations=action.translations, message=action.message, approvals=action.approvals, notify=action.notify,
    )


LineChanges = tuple[Getter | None, tuple[tuple[str, Decimal | None, Getter | None], ...], bool]
"""What a fired price rule does to a line: (floor formula, the changes in the order they apply as
(kind, constant, formula), stop)."""


def rule_line_changes(action: CompiledAction) -> LineChanges:
    """:data:`LineChanges` of a rule's ``action``; kept on the rule (``CompiledRule.line_changes``),
    so the formulas are compiled once per rule, not once per line and decision."""
    changes: list[tuple[str, Decimal | None, Getter | None]] = []
    if action.set_price is not None:
        changes.append(("set", None, _price_formula(compile_expr(action.set_price))))
    changes.extend((kind, value, None) for kind, value in
                   (("markup", action.markup), ("discount", action.discount), ("add", action.add))
                   if value is not None)
    return (_price_formula(compile_expr(action.floor)) if action.floor is not None else None, tuple(changes),
            action.stop)


def _price_formula(formula: Getter) -> Getter:
    """A price formula whose value is a Decimal: ``set_price: "2600"`` or ``line.qty * 2`` computes a
    whole number (int), and a price is rounded with Decimal methods."""
    def price(root: FactValues, item: FactValues | None) -> Decimal | None:
        value = formula(root, item)
        return None if value is None else Decimal(value)

    return price
