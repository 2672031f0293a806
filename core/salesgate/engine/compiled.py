"""The compiled backend: each stage matched by one Python function generated from the checked IR.

The functions come from :mod:`salesgate.policy.codegen` (generated, checked against a whitelist and
compiled once per policy load; never from rule text). They answer exactly what the python backend
answers, faster: facts read once into locals, conditions as plain Python expressions, and the rules
of large stages (decision tables) looked up by index instead of tested one by one. A rule the
generator does not handle runs on the evaluator's closure, and :attr:`CompiledBackend.fallbacks`
(``salesgate validate``) names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..facts import FactSet
from ..policy.codegen import Fallback, StageFunction, compile_stages
from ..policy.stages import Match, Stage, stages_by_name


class CompiledBackend:
    """Matches stages with generated functions. Stateless after construction (the aggregates' memo is
    swapped whole, as in the evaluator), so thread-safe."""

    name = "compiled"

    def __init__(self, stages: Sequence[Stage]) -> None:
        compiled = compile_stages(tuple(stages_by_name(stages).values()))
        self._functions: Mapping[str, StageFunction] = compiled.functions
        self.fallbacks: tuple[Fallback, ...] = compiled.fallbacks
        """The rules that run on the evaluator's closures instead of generated code (none, normally)."""

    def match(self, stage: str, facts: FactSet) -> frozenset[Match]:
        return frozenset(self._functions[stage](facts.root, facts.items))

    def close(self) -> None:
        """Nothing to release."""
