"""durable-rules' measured limits, and how a stage's rules are fitted under them.

Each limit below was found by probing durable-rules 2.0.28 (hazards 10, 11, 24, 25, 26, 28 and 30
in the package docstring). None is ever reached while deciding: every rule is planned at
construction (:func:`plan_rule`: its alternatives after ``or`` expansion, its ``$and``/``$or``
groups, its comparisons inside one ``any()``/``all()``), a rule over a per-rule limit is
*lifted* (its condition computed by the Python evaluator, durable matching the 0/1 result), the
rules are packed into rulesets that keep durable's alpha stack within bounds
(:func:`shard_plans`), and every ruleset's messages are checked for their field count and for
field names durable cannot tell apart (:func:`check_message`). A policy that validates always
loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ...errors import EngineError
from ...policy.ir import Always, And, Compare, Cond, IsNone, Or, Quantified, Ref
from ...policy.stages import EngineRule, Scope, Stage
from .encoding import KIND_FIELD, Schema
from .translate import Translator, all_of

__all__ = [
    "ALTERNATIVE_BUDGET",
    "MAX_GROUPS_PER_RULE",
    "MAX_LEAVES_PER_QUANTIFIER",
    "MAX_MESSAGE_PROPERTIES",
    "MAX_RULES_PER_RULESET",
    "Plan",
    "TooManyFields",
    "alternatives",
    "check_message",
    "fnv1_32",
    "plan_rule",
    "shard_plans",
]

ALTERNATIVE_BUDGET: Final = 48
"""Per ruleset: alternatives (after ``or`` expansion) plus the longest alternative's length.

durable's alpha stack holds 64 nodes; a depth-first walk never holds more than the alternatives
plus the conditions along one path, plus the root's two children. 48 leaves room to spare.
"""

MAX_RULES_PER_RULESET: Final = 200
"""A second guard under the alternative budget: never more rules than this in one ruleset."""

MAX_GROUPS_PER_RULE: Final = 15
"""durable refuses a rule with more than 15 $and/$or groups, nested ones included (error 113)."""

MAX_LEAVES_PER_QUANTIFIER: Final = 500
"""durable refuses more than 512 comparisons inside one $iany/$iall (error 106)."""

MAX_MESSAGE_PROPERTIES: Final = 250
"""durable refuses a message (or array element) with 255 properties or more (error 302)."""


def fnv1_32(name: str) -> int:
    """The hash durable identifies a property by (FNV-1, 32 bit, over signed chars)."""
    value = 0x811C9DC5
    for byte in name.encode():
        value ^= byte if byte < 0x80 else byte | 0xFFFFFF00
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def alternatives(cond: Cond) -> tuple[int, int]:
    """(alternatives, longest alternative) after durable expands ``or`` into alternatives.

    A condition inside any()/all() is one expression to durable and counts as one.
    """
    if isinstance(cond, Compare):
        both_refs = all(isinstance(e, Ref) and not e.item for e in (cond.left, cond.right))
        return 1, 3 if both_refs else 1  # fact-to-fact comparisons carry two $ex guards
    if isinstance(cond, IsNone | Always):
        return 1, 1
    if isinstance(cond, Quantified):
        if cond.quantifier == "any" and isinstance(cond.cond, Or):  # split, as the translator does
            return alternatives(Or(tuple(Quantified("any", cond.collection, c) for c in cond.cond.items)))
        return (1, 1) if cond.quantifier == "any" else (2, 1)
    if isinstance(cond, And):
        count, length = 1, 0
        for item in cond.items:
            c, n = alternatives(item)
            count, length = count * c, length + n
        return count, length
    if isinstance(cond, Or):
        parts = [alternatives(item) for item in cond.items]
        return sum(c for c, _ in parts), max((n for _, n in parts), default=0)
    raise EngineError(f"not a condition: {cond!r}")


@dataclass(frozen=True)
class Plan:
    """A rule, what it costs in durable's alpha network, and whether it must be lifted."""

    rule: EngineRule
    alternatives: int
    length: int
    lifted: bool


def plan_rule(stage: Stage, rule: EngineRule) -> Plan:
    """Translate a rule on trial and decide whether durable-rules can hold it.

    The trial also validates every path the rule reads against the vocabulary (hazard 8). A rule
    over one of durable's per-rule limits is *lifted*: its whole condition is evaluated by the
    Python evaluator's own compiled closure and durable matches the 0/1 result (hazards 26, 30).
    """
    translated = all_of([{KIND_FIELD: 0}, Translator(Schema(stage.vocabulary, rule=rule.id), 0).cond(rule.cond)])
    count, length = alternatives(rule.cond)
    length += 1  # the scope discriminator
    fits = (
        count + length <= ALTERNATIVE_BUDGET
        and _groups(translated) <= MAX_GROUPS_PER_RULE
        and _max_quantified_leaves(translated) <= MAX_LEAVES_PER_QUANTIFIER
    )
    return Plan(rule, count, length, False) if fits else Plan(rule, 1, 2, True)


def shard_plans(plans: list[Plan]) -> list[list[Plan]]:
    """Pack rules, in priority order, into rulesets that stay within :data:`ALTERNATIVE_BUDGET`."""
    shards: list[list[Plan]] = []
    current: list[Plan] = []
    count = longest = 0
    for plan in plans:
        if current and (
            count + plan.alternatives + max(longest, plan.length) > ALTERNATIVE_BUDGET
            or len(current) >= MAX_RULES_PER_RULESET
        ):
            shards.append(current)
            current, count, longest = [], 0, 0
        current.append(plan)
        count, longest = count + plan.alternatives, max(longest, plan.length)
    if current:
        shards.append(current)
    return shards


def _groups(condition: Any) -> int:
    """How many $and/$or groups a condition holds, nested ones included (durable takes 15)."""
    if isinstance(condition, dict):
        return sum((key in ("$and", "$or")) + _groups(value) for key, value in condition.items())
    if isinstance(condition, list):
        return sum(_groups(value) for value in condition)
    return 0


def _leaves(condition: Any) -> int:
    if isinstance(condition, dict):
        if len(condition) == 1:
            (key, value), = condition.items()
            if key in ("$and", "$or"):
                return sum(_leaves(v) for v in value)
        return 1
    return 0


def _max_quantified_leaves(condition: Any) -> int:
    """The most comparisons inside one $iany/$iall (durable takes 512)."""
    if isinstance(condition, dict):
        found = [_leaves(v) for key, body in condition.items() if key in ("$iany", "$iall") for v in body.values()]
        nested = [_max_quantified_leaves(v) for v in condition.values()]
        return max(found + nested, default=0)
    if isinstance(condition, list):
        return max((_max_quantified_leaves(v) for v in condition), default=0)
    return 0


class TooManyFields(EngineError):
    """A ruleset's message would carry more fields than durable-rules takes."""


def check_message(stage: Stage, scope: Scope, schema: Schema) -> None:
    """Refuse a ruleset whose messages durable-rules would misread: too many fields in one message
    or array element (:class:`TooManyFields`: the caller splits the ruleset), or two field names
    with the same 32-bit hash, which durable takes for one field."""
    top = ["sid", "id", KIND_FIELD]
    top += [key for key, _ in schema.fields.values()]
    top += [key for key, _ in schema.derived.values()]
    for lst in schema.lists.values():
        top.append(lst.key)
        if lst.count_key:
            top.append(lst.count_key)
    messages = [("message", top)]
    for lst in schema.lists.values():
        item = [key for key, _ in lst.fields.values()] + [key for key, _ in lst.derived.values()]
        messages.append((f"{lst.path} element", item + (["_e"] if lst.marker else [])))
    for what, keys in messages:
        if len(keys) > MAX_MESSAGE_PROPERTIES:
            raise TooManyFields(
                f"stage {stage.name!r} ({scope} rules) reads {len(keys)} fields per {what}; durable-rules "
                f"takes at most {MAX_MESSAGE_PROPERTIES}"
            )
        hashes: dict[int, str] = {}
        for key in keys:
            other = hashes.setdefault(fnv1_32(key), key)
            if other != key:
                raise EngineError(
                    f"stage {stage.name!r}: durable-rules cannot tell fields {other!r} and {key!r} apart "
                    f"(same 32-bit name hash)"
                )
