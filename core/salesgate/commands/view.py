"""How a command shows a decision: outcome colours, approval ladders, reasons, price adjustments.

Shared by ``salesgate decide`` and the commands plugins add (``salesgate demo``), so a decision
reads the same wherever it is printed.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from ..decisions import Decision, Outcome, Reason
from ..money import format_money
from ..pointspecs import BUILT_IN_POINTS

OUTCOME_STYLE = {
    Outcome.allow: "green",
    Outcome.warn: "yellow",
    Outcome.require_approval: "magenta",
    Outcome.block: "bold red",
}
SHORT: dict[str, str] = {spec.name: spec.short for spec in BUILT_IN_POINTS}
"""Each decision point's short name, as ``salesgate decide`` also takes it."""


def message(reason: Reason, lang: str | None) -> str:
    """The reason in ``lang`` when the policy has it, else as written."""
    return reason.translations.get(lang, reason.message) if lang else reason.message


def outcome_text(outcome: Outcome) -> Text:
    """The outcome in its colour."""
    return Text(outcome.value, style=OUTCOME_STYLE[outcome])


def roles_text(decision: Decision) -> str:
    """The approval ladder, first approver first."""
    return " → ".join(decision.required_roles)


def percent(rate: Decimal) -> str:
    """A rate as a percentage without trailing zeros (0.05 → 5%)."""
    text = f"{rate * 100:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def adjustment(kind: str, value: Decimal) -> str:
    """A price adjustment as a person reads it: +5%, −3%, +12.00, set 99.00."""
    if kind == "markup":
        return f"+{percent(value)}"
    if kind == "discount":
        return f"−{percent(value)}"
    if kind == "add":
        return f"{'+' if value >= 0 else '−'}{format_money(abs(value))}"
    return f"{kind} {format_money(value)}"


def reasons_text(decision: Decision, lang: str | None) -> Text:
    """Reasons, notifications and a failure, one per line, each with the rule (and line) behind it."""
    text = Text()
    for reason in decision.reasons:
        if text:
            text.append("\n")
        text.append(message(reason, lang))
        line = f", line {reason.line_no}" if reason.line_no is not None else ""
        text.append(f" ({reason.rule}{line})", style="dim")
    for note in decision.notifications:
        if text:
            text.append("\n")
        text.append(f"notify {note.role}: {note.message}")
        text.append(f" ({note.rule})", style="dim")
    if decision.failure:
        text.append(("\n" if text else "") + f"failure: {decision.failure}", style="red")
    return text
