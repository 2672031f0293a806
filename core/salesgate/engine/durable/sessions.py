"""durable-rules itself: one Host per backend, its rulesets, and the sessions facts are matched in.

This is the only module that imports durable. Registering a ruleset goes through the Host (with its
timer threads never started: hazard 5 in the package docstring); matching calls the C functions
the Host would call, directly (hazard 20): every fact set gets a fresh session (3, 27), each fact
is asserted on its own (2, 17) and the actions it makes ready are run on the caller's thread
before the next (4, 19), then the session is deleted, safely even after a failure (21). Actions
are generated, take one parameter and report to the current call's collector, never raising
into durable (9, 12, 18). :class:`Sessions` is not thread-safe: the backend calls it under its
lock (6).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from durable.engine import Host
from durable.engine import durable_rules_engine as _durable_c

from ...errors import EngineError
from ...facts import FactValues
from ...policy.stages import Match

__all__ = ["Action", "Ruleset", "Sessions", "delete_handles", "error_text"]

_SENTINEL: Final = "s"  # the rule (and action) that fires on every new session's state fact
_OPENER: Final = "open"  # message id of the empty fact asserted after a failed assert
_ERROR_CODE = re.compile(r"error code: (\d+)")
_ERROR_MEANING: Final[Mapping[int, str]] = {
    106: "too many comparisons in one any()/all()",
    107: "too many alternatives under one condition",
    113: "too many and/or groups in one rule",
    302: "too many properties in one message",
    303: "too many alternatives matched at once",
    309: "session not found",
}

Action: TypeAlias = Callable[[int | None], None]
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


class _Host(Host):  # type: ignore[misc]  # durable ships no type information
    """A durable Host without timer threads, whose actions are looked up by name."""

    def __init__(self, actions: Mapping[str, Action]) -> None:
        self._salesgate_actions = actions
        super().__init__()

    def _run(self) -> None:
        """Start no timer threads: salesgate never uses timers, and they crash the process."""

    def get_action(self, action_name: str) -> Action:
        try:
            return self._salesgate_actions[action_name]
        except KeyError:
            raise EngineError(f"durable asked for an unknown action {action_name!r}") from None


class _Collector:
    """What the actions of one :meth:`DurableBackend.match` call report."""

    __slots__ = ("errors", "matches")

    def __init__(self) -> None:
        self.matches: set[Match] = set()
        self.errors: list[BaseException] = []

    def add(self, rule_id: str, item: int | None) -> None:
        self.matches.add((rule_id, item))


@dataclass(frozen=True)
class Ruleset:
    """One durable ruleset: part of one stage's rules of one scope, and how to encode its facts."""

    name: str
    handle: int
    rule_ids: tuple[str, ...]
    encode: Callable[[FactValues, str, str], str]  # (facts, session id, message id) → JSON


def error_text(error: BaseException) -> str:
    """durable's error message, with what its error code means when the code is one of its limits."""
    text = str(error)
    found = _ERROR_CODE.search(text)
    meaning = _ERROR_MEANING.get(int(found.group(1))) if found else None
    return f"{text} ({meaning})" if meaning else text


def _no_action(item: int | None) -> None:
    """The sentinel's action: its only job is to have run (hazard 21)."""


def delete_handles(handles: list[int]) -> None:
    """Delete durable's rulesets, emptying ``handles`` in place (the finalizer holds the same list)."""
    while handles:
        _durable_c.delete_ruleset(handles.pop())


class Sessions:
    """One backend's durable Host: the rulesets registered on it, their actions, and its sessions.

    ``collector`` is where the actions of the match in progress report (:meth:`begin`); ``broken``
    says why a session could not be closed safely, after which the backend refuses all work.
    """

    def __init__(self) -> None:
        self.actions: dict[str, Action] = {_SENTINEL: _no_action}
        self.handles: list[int] = []
        self.host = _Host(self.actions)
        self.collector = _Collector()
        self.broken: str | None = None
        self._rule_ids: dict[str, str] = {}  # action name → the rule it reports
        self._session_ids = itertools.count(1)

    # -- rulesets ---------------------------------------------------------------------------
    def add_action(self, rule_id: str) -> str:
        """A new action reporting ``rule_id``; its name (``r17``) is generated, never a rule id (hazard 12)."""
        name = f"r{len(self.actions)}"
        self.actions[name] = self._action(rule_id)
        self._rule_ids[name] = rule_id
        return name

    def _action(self, rule_id: str) -> Action:
        def action(item: int | None) -> None:
            collector = self.collector
            try:
                collector.add(rule_id, item)
            except Exception as error:  # durable would swallow it: report it after the drain
                collector.errors.append(error)

        return action

    def register(self, name: str, rules: Mapping[str, dict[str, Any]], stage: str) -> int:
        """Register the ruleset ``name`` holding ``rules`` (by action name) and the session sentinel.

        Returns its handle. When durable refuses it, the EngineError names the rules that durable
        refuses on their own, each tried alone, and what durable's error code means.
        """
        definition: dict[str, Any] = {_SENTINEL: {"all": [{"m": {"$s": 1}}], "run": _SENTINEL}, **rules}
        try:
            self.host.register_rulesets({name: json.loads(json.dumps(definition))})
        except Exception as error:
            raise EngineError(self._explain_failure(stage, definition, error)) from error
        handle: int = self.host.get_ruleset(name)._handle
        self.handles.append(handle)
        return handle

    def _explain_failure(self, stage: str, definition: dict[str, Any], error: Exception) -> str:
        culprits = []
        for action_name in definition:
            if action_name == _SENTINEL:
                continue
            alone = {k: v for k, v in definition.items() if k in (_SENTINEL, action_name)}
            alone = {k: {kk: vv for kk, vv in v.items() if kk != "run"} for k, v in alone.items()}
            try:
                handle = _durable_c.create_ruleset(f"salesgate-probe-{action_name}", json.dumps(alone))
            except Exception:
                culprits.append(self._rule_ids[action_name])
            else:
                _durable_c.delete_ruleset(handle)
        which = f"rule(s) {', '.join(map(repr, culprits))}" if culprits else "its rules together"
        return f"durable-rules cannot compile stage {stage!r}: {which}: {error_text(error)}"

    def delete_rulesets(self) -> None:
        """Delete every ruleset registered here (no session may be alive)."""
        delete_handles(self.handles)

    # -- sessions ---------------------------------------------------------------------------
    def begin(self) -> _Collector:
        """A fresh collector for the actions of one match."""
        collector = self.collector = _Collector()
        return collector

    def run(self, ruleset: Ruleset, values: Sequence[FactValues], indexed: bool) -> None:
        """Assert each fact into a fresh session, run its actions, delete the session.

        The actions a fact makes ready are all run before the next fact is asserted, so every
        action that fires belongs to the fact just asserted (and the sentinel to the session).
        """
        handle, encode, actions = ruleset.handle, ruleset.encode, self.actions
        assert_fact = _durable_c.assert_fact
        start_action = _durable_c.start_action_for_state
        complete_action = _durable_c.complete_and_start_action
        sid = str(next(self._session_ids))
        opened = clean = False
        try:
            for index, fact in enumerate(values):
                mid, item = (str(index), index) if indexed else ("o", None)
                payload = encode(fact, sid, mid)
                opened = True
                try:
                    code, state = assert_fact(handle, payload)
                    if code == 2:
                        raise EngineError(f"durable-rules saw message {mid!r} twice in a session of {ruleset.name!r}")
                    started = start_action(handle, state)
                    message: str | None = started[1] if started else None
                    while message:
                        name = message[2 : message.index('"', 2)]  # '{"r17":{"m":{...}}}': names are ours
                        action = actions.get(name)
                        if action is None:
                            raise EngineError(f"durable-rules fired an unknown action {name!r}")
                        action(item)
                        message = complete_action(handle, state)
                except EngineError:
                    raise
                except Exception as error:
                    raise EngineError(f"durable-rules failed in {ruleset.name!r}: {error_text(error)}") from error
            clean = True
        finally:
            if opened:
                self._end(ruleset, sid, clean)

    def _drain(self, handle: int, state: int) -> None:
        """Run every action that is ready in a session (used when closing a failed session)."""
        started = _durable_c.start_action_for_state(handle, state)
        message: str | None = started[1] if started else None
        while message:
            action = self.actions.get(message[2 : message.index('"', 2)])
            if action is not None:
                action(None)
            message = _durable_c.complete_and_start_action(handle, state)

    def _end(self, ruleset: Ruleset, sid: str, clean: bool) -> None:
        handle = ruleset.handle
        try:
            if not clean:
                # After a failure the session may exist without its sentinel having run, and
                # deleting it would free garbage (hazard 21): an empty fact creates the state
                # fact if it is missing, and the drain runs whatever is still ready.
                _code, state = _durable_c.assert_fact(handle, _dumps({"sid": sid, "id": _OPENER}))
                self._drain(handle, state)
        except Exception as error:
            self.broken = f"session {sid} of {ruleset.name!r} could not be closed safely: {error_text(error)}"
            raise EngineError(self.broken) from error  # leak one session rather than crash
        try:
            _durable_c.delete_state(handle, sid)
        except Exception as error:
            self.broken = f"session {sid} of {ruleset.name!r} could not be deleted: {error_text(error)}"
            raise EngineError(self.broken) from error
