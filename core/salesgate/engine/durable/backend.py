"""The durable-rules backend: a policy's stages compiled into durable rulesets, matched under a lock.

At construction every stage's rules are planned and sharded (:mod:`.limits`), translated
(:mod:`.translate`) and registered (:mod:`.sessions`), each ruleset with the encoder of its
messages (:mod:`.encoding`); a ruleset whose messages would carry too many fields is split, down
to single rules, and a single rule that still does not fit is lifted (hazard 11 in the package
docstring). :meth:`DurableBackend.match` runs one session per ruleset under the backend's lock
(hazard 6), and a new policy means a new backend (13).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ...errors import EngineError
from ...facts import FactSet
from ...policy.stages import Match, Scope, Stage, stages_by_name
from .encoding import KIND_FIELD, Schema, message_encoder
from .limits import Plan, TooManyFields, check_message, plan_rule, shard_plans
from .sessions import Ruleset, Sessions, delete_handles
from .translate import Translator, all_of, evaluated

__all__ = ["DurableBackend"]

_SCOPE_CODE: Final[Mapping[Scope, int]] = {"order": 1, "line": 2}
_STAGE_NAME = re.compile(r"[a-z0-9_.-]+")


@dataclass(frozen=True)
class _CompiledStage:
    order: tuple[Ruleset, ...]
    line: tuple[Ruleset, ...]
    lifted: frozenset[str]  # rules evaluated by the Python evaluator (too big for durable)


class DurableBackend:
    """Matches stages with durable-rules. One Host, all stages registered at construction.

    Safe to call from many threads: calls are serialised (durable is not thread-safe and holds
    the GIL anyway; run processes for parallelism).
    """

    name = "durable"

    def __init__(self, stages: Sequence[Stage]) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._sessions = Sessions()
        self._host, self._handles = self._sessions.host, self._sessions.handles
        # A backend dropped without close() (a Gate never closed) still frees durable's C memory,
        # about 10 MB for a large policy, when it is collected; close() leaves it nothing to do.
        weakref.finalize(self, delete_handles, self._handles)
        self._stages: dict[str, _CompiledStage] = {}
        try:
            for name, stage in stages_by_name(stages).items():
                self._stages[name] = self._compile_stage(stage)
        except RecursionError:  # a 600-term chain did this before the checker bounded expressions
            self._delete_rulesets()
            raise EngineError("a rule's condition is nested too deeply for the durable backend: keep expressions "
                              "within the limits of docs/policy-language.md") from None
        except BaseException:
            self._delete_rulesets()
            raise

    # -- construction -----------------------------------------------------------------------
    def _compile_stage(self, stage: Stage) -> _CompiledStage:
        if "$" in stage.name or not _STAGE_NAME.fullmatch(stage.name):
            raise EngineError(f"stage name {stage.name!r} must match [a-z0-9_.-]+ (no '$')")
        for rule in stage.rules:
            if "$" in rule.id:
                raise EngineError(f"rule id {rule.id!r} in stage {stage.name!r} contains '$'")
            if rule.scope not in _SCOPE_CODE:
                raise EngineError(f"rule {rule.id!r} has an unknown scope {rule.scope!r}")
        ordered = sorted(stage.rules, key=lambda r: (r.priority, r.id))
        compiled: dict[Scope, tuple[Ruleset, ...]] = {}
        lifted: set[str] = set()
        for scope in ("order", "line"):
            plans = [plan_rule(stage, rule) for rule in ordered if rule.scope == scope]
            lifted.update(p.rule.id for p in plans if p.lifted)
            compiled[scope] = tuple(
                ruleset for number, shard in enumerate(shard_plans(plans))
                for ruleset in self._register_fitting(stage, scope, str(number), shard, lifted)
            )
        return _CompiledStage(compiled["order"], compiled["line"], frozenset(lifted))

    def _register_fitting(self, stage: Stage, scope: Scope, label: str, plans: list[Plan],
                          lifted: set[str]) -> list[Ruleset]:
        """Register ``plans`` as one ruleset, or, when its message would carry more fields than
        durable-rules takes (arithmetic comparisons each add one), as two halves, down to single
        rules; a single rule that still does not fit is lifted (matched by the Python evaluator,
        one 0/1 field). A policy that validates always loads."""
        try:
            return [self._register(stage, scope, label, plans)]
        except TooManyFields:
            if len(plans) > 1:
                half = len(plans) // 2
                return (self._register_fitting(stage, scope, f"{label}.0", plans[:half], lifted)
                        + self._register_fitting(stage, scope, f"{label}.1", plans[half:], lifted))
            plan = plans[0]
            if plan.lifted:  # pragma: no cover - a lifted rule reads one field
                raise
            lifted.add(plan.rule.id)
            return [self._register(stage, scope, label, [Plan(plan.rule, 1, 2, True)])]

    def _register(self, stage: Stage, scope: Scope, label: str, plans: list[Plan]) -> Ruleset:
        code = _SCOPE_CODE[scope]
        schema = Schema(stage.vocabulary)
        translator = Translator(schema, code)
        rules: dict[str, dict[str, Any]] = {}
        for plan in plans:
            rule = plan.rule
            schema.rule = rule.id
            if plan.lifted:
                key = schema.derive(("rule", rule.id, rule.cond), evaluated(rule.cond))
                condition: dict[str, Any] = all_of([{KIND_FIELD: code}, {key: 1}])
            else:
                condition = all_of([{KIND_FIELD: code}, translator.cond(rule.cond)])
            action_name = self._sessions.add_action(rule.id)
            rules[action_name] = {"all": [{"m": condition}], "pri": rule.priority, "run": action_name}
        check_message(stage, scope, schema)
        name = f"{stage.name}.{scope}{label}"
        handle = self._sessions.register(name, rules, stage.name)
        return Ruleset(name, handle, tuple(p.rule.id for p in plans), message_encoder(schema, code))

    # -- matching ---------------------------------------------------------------------------
    def match(self, stage: str, facts: FactSet) -> frozenset[Match]:
        compiled = self._stages.get(stage)
        if compiled is None:
            raise EngineError(f"unknown stage {stage!r}; known: {', '.join(sorted(self._stages))}")
        sessions = self._sessions
        with self._lock:
            if self._closed:
                raise EngineError("the durable backend is closed")
            if sessions.broken:
                raise EngineError(f"the durable backend is unusable: {sessions.broken}")
            collector = sessions.begin()
            for ruleset in compiled.order:
                sessions.run(ruleset, (facts.root,), indexed=False)
            if facts.items:
                for ruleset in compiled.line:
                    sessions.run(ruleset, facts.items, indexed=True)
            if collector.errors:
                error = collector.errors[0]
                raise EngineError(f"a durable action failed: {error!r}") from error
            return frozenset(collector.matches)

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Delete every ruleset (no session is alive outside :meth:`match`). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._delete_rulesets()

    def _delete_rulesets(self) -> None:
        self._sessions.delete_rulesets()

    def lifted(self, stage: str) -> frozenset[str]:
        """Ids of the stage's rules too big for durable-rules, evaluated by the Python evaluator.

        durable still decides whether they fired (it matches their 0/1 result), but the condition
        itself is computed in Python; see hazards 25, 26 and 30 in the package docstring.
        """
        return self._stages[stage].lifted

    def rulesets(self, stage: str) -> dict[str, Any]:
        """The durable JSON of a stage's rulesets, by ruleset name: for people and tests."""
        compiled = self._stages[stage]
        return {r.name: self._host.get_ruleset(r.name).get_definition() for r in compiled.order + compiled.line}
