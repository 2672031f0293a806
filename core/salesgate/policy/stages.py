"""What the compiler hands a matching backend, and what a backend answers: stages of rules, matches.

A backend only answers *which rules match which facts*. What a matching rule does (block,
require approvals, change a price) is data in the compiled policy, applied by salesgate itself,
so both backends produce identical decisions by construction once they agree on matches. The
interface lives here, in the policy package, so the backends (:mod:`salesgate.engine`) are built
on the policy and the policy never imports a backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

from ..facts import FactSet
from ..vocabulary import FactInfo
from .ir import Cond

Scope: TypeAlias = Literal["order", "line"]

Match: TypeAlias = tuple[str, int | None]
"""(rule id, index into ``FactSet.items`` for a line-scope rule, else None)."""


@dataclass(frozen=True)
class EngineRule:
    """A rule as a backend sees it: an id, a priority (lower runs first), a scope and a condition."""

    id: str
    priority: int
    scope: Scope
    cond: Cond


@dataclass(frozen=True)
class Stage:
    """Rules a backend matches in one pass, against one :class:`FactSet`.

    Pricing has two stages (price adjustments, then checks that read ``line.policy_price``);
    the other hooks have one. ``name`` is unique within a policy and contains only
    ``[a-z0-9_.-]``.
    """

    name: str
    rules: tuple[EngineRule, ...]
    vocabulary: Mapping[str, FactInfo]


class Backend(Protocol):
    """Matches facts against the stages of one compiled policy. Must be safe to call from many threads."""

    name: str

    def match(self, stage: str, facts: FactSet) -> frozenset[Match]:
        """Every (rule, item) pair whose condition holds. Raises EngineError when it cannot tell."""
        ...

    def close(self) -> None:
        """Release what the backend holds; it is not used again."""
        ...



def stages_by_name(stages: Sequence[Stage]) -> Mapping[str, Stage]:
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"stage names must be unique: {names}")
    return {s.name: s for s in stages}
