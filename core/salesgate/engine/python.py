"""The pure-Python backend: bulk work, the fallback, and the reference the durable backend is tested against.

It matches with the conditions compiled once into closures by :mod:`salesgate.policy.evaluator`
(no tree walking per decision, no ``eval``), which makes it an order of magnitude faster than
durable-rules for bulk replays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..facts import FactSet
from ..policy.evaluator import Test, compile_cond
from ..policy.stages import EngineRule, Match, Stage, stages_by_name


class PythonBackend:
    """Matches stages with compiled closures. Stateless after construction, so thread-safe."""

    name = "python"

    def __init__(self, stages: Sequence[Stage]) -> None:
        self._stages: Mapping[str, tuple[tuple[str, Test], ...]] = {}
        self._line_rules: dict[str, tuple[tuple[str, Test], ...]] = {}
        compiled: dict[str, tuple[tuple[str, Test], ...]] = {}
        lines: dict[str, tuple[tuple[str, Test], ...]] = {}
        for name, stage in stages_by_name(stages).items():
            ordered = sorted(stage.rules, key=_order)
            compiled[name] = tuple((r.id, compile_cond(r.cond)) for r in ordered if r.scope == "order")
            lines[name] = tuple((r.id, compile_cond(r.cond)) for r in ordered if r.scope == "line")
        self._stages = compiled
        self._line_rules = lines

    def match(self, stage: str, facts: FactSet) -> frozenset[Match]:
        root = facts.root
        found: list[Match] = [(rule, None) for rule, test in self._stages[stage] if test(root, None)]
        for rule, test in self._line_rules[stage]:
            found.extend((rule, index) for index, values in enumerate(facts.items) if test(values, None))
        return frozenset(found)

    def close(self) -> None:
        """Nothing to release."""


def _order(rule: EngineRule) -> tuple[int, str]:
    return (rule.priority, rule.id)
