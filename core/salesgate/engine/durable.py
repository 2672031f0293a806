"""The durable-rules backend: compiled IR conditions matched by durable-rules 2.0.28.

Everything durable-specific lives here. Each :class:`~salesgate.engine.base.Stage` is translated
into durable's JSON dialect once, at construction; :meth:`DurableBackend.match` then encodes the
facts a stage reads into one small JSON message per fact, asserts it, and collects which rules
fired. durable decides every match; Python only computes what durable cannot compute correctly
(arithmetic; ``or`` inside ``any()``/``all()``; rules over durable's size limits) and hands it
over as a derived field.

durable-rules has sharp edges, found by probing 2.0.28 and recorded here, where the code that
contains them is (this list is the whole record). Each one, and how this module contains it:

Hazards from the notes
  1. ``durable.lang`` keeps a module-level host and ruleset registry. → Only ``durable.engine.Host``
     is used, one per backend (one per compiled policy version); nothing is module-level.
  2. An *event* is consumed by the first rule that fires. → Facts only (``assert_fact``).
  3. A ruleset holds at most 1,024 live sessions of 90–200 KB each. → Every fact set gets a fresh
     session id (a counter) and the session is deleted in ``finally``; at most one session per
     ruleset is ever alive.
  4. ``MessageNotHandledException`` means "no rule matched". → The C API's result code 1 is read
     as "no match"; the actions of the fact are drained whatever the code.
  5. Every Host starts two self-rescheduling timer threads (segfaults when sessions churn).
     → ``Host._run`` is overridden to do nothing; no thread is ever started.
  6. The C binding is not thread-safe (process-global tables, no locks; it never releases the
     GIL). → One ``threading.Lock`` per backend serialises every call into its Host, so a
     session's assert/drain/delete sequence is never interleaved with another call's.
  7. A string compared with a number is compared lexicographically; ``Decimal``/``date`` are not
     JSON. → Every value is encoded by a typed encoder chosen from the IR kind, which rejects a
     value of the wrong type with :class:`EngineError`: numbers (and day counts) become integers
     scaled by 10^4, dates epoch days (``toordinal``), bools JSON booleans, text UTF-8 strings.
     A number that is not a whole number of 10^-4 raises EngineError naming the fact. Strings
     are only ever compared with strings.
  8. Unknown field names silently never match; unknown operators give "error code: 202". →
     Every path a rule reads must be in the stage's vocabulary with the same kind; every IR
     operator is mapped explicitly (:data:`_DURABLE_OP`), anything else is refused at
     construction.
  9. An exception raised in an action is swallowed by durable. → Actions are wrapped: the
     exception is captured, the session is drained and deleted, then the caller gets EngineError.
 10. 512 rules break every assert (303), 513 hang ``register_rulesets``. → See 25 below: the real
     limit is the alpha stack; stages are sharded into rulesets well below it (and never more
     than :data:`MAX_RULES_PER_RULESET` rules).
 11. More than 255 properties in one message: error 302. → A message holds only the fields the
     ruleset's rules read; the count is known at construction, and a ruleset that would exceed
     :data:`MAX_MESSAGE_PROPERTIES` is split in halves until each fits, a single rule that still
     does not is lifted (one 0/1 field): it can never happen while deciding, and a policy that
     validates always loads.
 12. Ruleset names containing ``$state``/``$flow`` become statecharts. → ``$`` is refused in stage
     names and rule ids; durable's own rule and action names are generated (``r17``).
 13. No API replaces a ruleset; deleting one with live sessions leaks. → A new policy means a new
     backend; :meth:`DurableBackend.close` deletes the rulesets when no session is alive.
 14. Statecharts keep state in memory only. → Not used.
 15. durable fails to import on Python 3.13. → ``requires-python`` in pyproject.toml.
 16. Money is compared and added in binary doubles (a sum equal to a limit lands above it). →
     durable only ever sees integers; arithmetic (``Arith``) is computed exactly in Python with
     ``Decimal`` (the evaluator's own :func:`salesgate.engine.python.arith`), and durable
     compares ``sign(left - right)`` with 0.
 17. In an ``assert_facts`` batch, one unmatched fact hides the actions of the others. → One fact
     per ``assert_fact``; the actions are drained after every assert, whatever its result code.
 18. An action with two parameters is treated as asynchronous. → Actions take one parameter.
 19. Two threads on one session id give wrong decisions; actions may run on the timer thread. →
     Unique session ids, the per-backend lock, no timer threads; the actions are run by this
     module's own drain loop on the caller's thread.
 20. The documented Host API costs ~180 µs per order. → Matching calls the C functions the Host
     uses (``assert_fact``, ``start_action_for_state``, ``complete_and_start_action``,
     ``delete_state``) directly; the fired rule is read from the action name, so the echoed
     facts are never parsed.

Hazards found while writing this module (durable-rules 2.0.28, reproduced here)
 21. ``delete_state`` on a session in which no action has ever run frees uninitialised pointers:
     ``free(): invalid pointer`` or a segfault, depending on the heap. It happens whenever the
     first fact of a session matches nothing. → Every ruleset has a sentinel rule on the
     session's state fact (``{"$s": 1}``), so every session runs at least one action before it
     is deleted; after a failed assert an empty "opener" fact is asserted first so that the
     sentinel runs even then.
 22. A top-level comparison with a ``{"$m": field}`` reference whose field is missing is *true*
     for every operator (``x < $m.y`` and ``x > $m.y`` both fire). → Both sides of a
     fact-to-fact comparison are guarded with ``$ex``. (Inside ``$iany``/``$iall`` a missing
     field, on either side, gives false, and a comparison with a constant on a missing field is
     false for every operator, as the IR wants.)
 23. ``$iall`` over an empty or missing array is false. → ``all`` is encoded as
     ``count == 0 or $iall``, with the element count sent as a field.
 24. Message properties are identified by the 32-bit FNV-1 hash of their name only: two names
     with the same hash are the same field (``f6059`` and ``f264602`` are). → The names of every
     message are checked for hash collisions at construction.
 25. The alpha-network stack holds 64 nodes: when more than 64 alternatives match one fact at
     once, assert fails with error 303, so a table of 65 thresholds on one field fails exactly
     on the orders that pass them all (the notes' "512 rules" is this limit reached another
     way). → Rules are packed into rulesets whose alternatives plus longest alternative stay
     within :data:`ALTERNATIVE_BUDGET`, which bounds the stack statically.
 26. ``$or`` is expanded into alternatives (disjunctive normal form): ``and`` of eight two-way
     ``or`` is 256 alternatives, the rule fires once per matching alternative, and more than 512
     alternatives hang the process. → Alternatives are counted per rule; a rule over the budget
     is *lifted* (below). Matches are a set, so repeated firing is harmless.
 27. Sessions are looked up by a 32-bit hash of the session id, message ids likewise. → Only one
     session per ruleset is alive at a time; a message id seen twice ("observed", code 2) is an
     EngineError; if a session cannot be deleted the backend refuses all further work.
 28. More than 512 comparisons inside one ``$iany``/``$iall`` (error 106) → lifted; any other
     error durable raises while creating a ruleset becomes an EngineError naming the rule.
 29. ``true`` equals the integer 1. → Bools are only ever encoded from ``bool`` values.
 30. A rule with more than 15 ``$and``/``$or`` groups, nested ones included, cannot be created
     (error 113). → Nested groups of the same kind are merged; a rule still over the limit is
     lifted.
 31. ``$or`` inside ``$iany``/``$iall`` gives wrong answers when its branches read different
     element fields (``any(d < 5 or s < 0)`` is false for ``[{"d": 1, "s": 10}]``; about one
     random case in nine). ``$and`` inside them is right. → ``any(a or b)`` is sent as
     ``any(a) or any(b)``; any other ``or`` inside ``any()``/``all()`` is computed per element
     by the Python evaluator and sent as a 0/1 element field.

*Lifting*: a rule over one of durable's per-rule limits (25/26, 28, 30) is not refused. Its whole
condition is computed by the Python evaluator's own compiled closure
(:func:`salesgate.engine.python.compile_cond`, so the semantics are identical by construction)
and durable matches the 0/1 result. :meth:`DurableBackend.lifted` lists such rules.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final, TypeAlias

from durable.engine import Host
from durable.engine import durable_rules_engine as _durable_c

from ..errors import EngineError
from ..facts import FactSet, FactValues
from ..policy.ir import (
    SWAPPED,
    Always,
    And,
    Arith,
    Compare,
    CompareOp,
    Cond,
    Const,
    Expr,
    IsNone,
    Kind,
    Or,
    Quantified,
    Ref,
    walk_refs,
)
from ..vocabulary import FactInfo
from .base import EngineRule, Match, Scope, Stage, stages_by_name
from .python import compile_cond, compile_expr

__all__ = [
    "ALTERNATIVE_BUDGET",
    "MAX_GROUPS_PER_RULE",
    "MAX_LEAVES_PER_QUANTIFIER",
    "MAX_MESSAGE_PROPERTIES",
    "MAX_RULES_PER_RULESET",
    "DurableBackend",
    "alternatives",
    "fnv1_32",
    "scaled",
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

SCALE: Final = 10_000
"""Numbers and day counts are sent as integers in units of 10^-4: the fact models' precision."""

_INT64_MAX: Final = 2**63 - 1

_DURABLE_OP: Final[Mapping[CompareOp, str]] = {
    "<": "$lt",
    "<=": "$lte",
    ">": "$gt",
    ">=": "$gte",
    "==": "",  # durable writes equality as {"field": value}
    "!=": "$neq",
}

_SCOPE_CODE: Final[Mapping[Scope, int]] = {"order": 1, "line": 2}
_KIND_FIELD: Final = "_k"  # discriminator: which scope a fact belongs to (absent from the state fact)
_SENTINEL: Final = "s"  # the rule (and action) that fires on every new session's state fact
_OPENER: Final = "open"  # message id of the empty fact asserted after a failed assert
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")
_STAGE_NAME = re.compile(r"[a-z0-9_.-]+")
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
_json_string: Callable[[str], str] = json.encoder.encode_basestring  # the C encoder json.dumps uses



# -- value encoding -----------------------------------------------------------------------------


def scaled(value: Decimal | int) -> int | None:
    """``value`` × 10^4 as an exact integer, or None when that is not a whole int64."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    try:
        numerator, denominator = value.as_integer_ratio()
    except (ValueError, OverflowError):  # NaN, infinity
        return None
    if SCALE % denominator:
        return None
    result = numerator * (SCALE // denominator)
    return result if -_INT64_MAX <= result <= _INT64_MAX else None


@dataclass(frozen=True)
class _Fields:
    """The fields of one message (or array element), grouped by how their values are encoded.

    Each field is (``,"key":`` JSON prefix, fact path): messages are written as JSON text
    directly, which is several times faster than building a dict for ``json.dumps``.
    """

    numbers: tuple[tuple[str, str], ...] = ()
    dates: tuple[tuple[str, str], ...] = ()
    bools: tuple[tuple[str, str], ...] = ()
    texts: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def of(fields: Mapping[str, tuple[str, Kind]]) -> _Fields:
        groups: dict[str, list[tuple[str, str]]] = {"numbers": [], "dates": [], "bools": [], "texts": []}
        for path, (key, kind) in fields.items():
            group = _GROUP.get(kind)
            if group is None:
                raise EngineError(f"fact {path!r} of kind {kind.value} cannot be sent to durable-rules")
            groups[group].append((_prefix(key), path))
        return _Fields(**{name: tuple(pairs) for name, pairs in groups.items()})


def _prefix(key: str) -> str:
    return "," + _json_string(key) + ":"


_GROUP: Final[Mapping[Kind, str]] = {
    Kind.number: "numbers",
    Kind.duration: "numbers",
    Kind.date: "dates",
    Kind.bool: "bools",
    Kind.text: "texts",
    Kind.enum: "texts",
}


def _refuse(path: str, value: Any, expected: str) -> EngineError:
    return EngineError(f"fact {path} = {value!r} cannot be matched exactly: expected {expected}")


_NUMBER = "an int or a Decimal with at most 4 decimal places"


def _fill(out: list[str], values: FactValues, fields: _Fields) -> None:
    """Append ``,"key":value`` for every present value of ``fields`` (None: the field is left out).

    The hot path of every decision, so the common types are tested inline.
    """
    get = values.get
    add = out.append
    for prefix, path in fields.numbers:
        value = get(path)
        if value is None:
            continue
        if type(value) is Decimal:
            try:
                numerator, denominator = value.as_integer_ratio()
            except (ValueError, OverflowError):
                raise _refuse(path, value, _NUMBER) from None
            if SCALE % denominator:
                raise _refuse(path, value, _NUMBER)
            result = numerator * (SCALE // denominator)
        elif type(value) is int:
            result = value * SCALE
        else:
            converted = scaled(value)
            if converted is None:
                raise _refuse(path, value, _NUMBER)
            result = converted
        if not -_INT64_MAX <= result <= _INT64_MAX:
            raise _refuse(path, value, "a number below 9.2e14")
        add(prefix)
        add(str(result))
    for prefix, path in fields.texts:
        value = get(path)
        if value is not None:
            if not isinstance(value, str):
                raise _refuse(path, value, "text")
            if not value.isascii():
                try:
                    value.encode("utf-8")  # durable takes UTF-8: a lone surrogate ('\ud800') is not text
                except UnicodeEncodeError:
                    raise _refuse(path, value, "valid Unicode text (it holds a lone surrogate)") from None
            add(prefix)
            add(_json_string(value))
    for prefix, path in fields.bools:
        value = get(path)
        if value is not None:
            if value is True:
                add(prefix + "true")
            elif value is False:
                add(prefix + "false")
            else:
                raise _refuse(path, value, "true or false")
    for prefix, path in fields.dates:
        value = get(path)
        if value is not None:
            if not isinstance(value, date):
                raise _refuse(path, value, "a date")
            add(prefix)
            add(str(value.toordinal()))


def _const(const: Const) -> Any:
    """A constant in durable's terms, or None when durable cannot hold it exactly."""
    value = const.value
    if const.kind in (Kind.number, Kind.duration):
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise EngineError(f"constant {value!r} is not a number")
        return scaled(value)
    if const.kind is Kind.date:
        if not isinstance(value, date):
            raise EngineError(f"constant {value!r} is not a date")
        return value.toordinal()
    if const.kind is Kind.bool:
        if not isinstance(value, bool):
            raise EngineError(f"constant {value!r} is not true/false")
        return value
    if const.kind in (Kind.text, Kind.enum):
        if not isinstance(value, str):
            raise EngineError(f"constant {value!r} is not text")
        return value
    raise EngineError(f"constant {value!r} of kind {const.kind.value} cannot be compared")


def _family(kind: Kind) -> str:
    """Kinds that may be compared with each other share a family."""
    return {Kind.number: "number", Kind.duration: "number", Kind.text: "text", Kind.enum: "text"}.get(
        kind, kind.value
    )


def fnv1_32(name: str) -> int:
    """The hash durable identifies a property by (FNV-1, 32 bit, over signed chars)."""
    value = 0x811C9DC5
    for byte in name.encode():
        value ^= byte if byte < 0x80 else byte | 0xFFFFFF00
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def _key(path: str) -> str:
    """A vocabulary path as one flat durable field name: ``order.total`` → ``order__total``."""
    return path.replace(".", "__")


# -- translation of IR conditions into durable's JSON -------------------------------------------


def _compare(op: CompareOp, left: str, right: Any) -> dict[str, Any]:
    durable_op = _DURABLE_OP[op]
    return {left: right} if not durable_op else {durable_op: {left: right}}


def _sign(left: Any, right: Any) -> int | None:
    if left is None or right is None:
        return None
    try:
        return int(left > right) - int(left < right)
    except TypeError:
        raise EngineError(f"cannot compare {left!r} with {right!r}") from None


@dataclass
class _ListSchema:
    """One list fact (``order.lines``) as a JSON array of flattened element dicts."""

    key: str
    path: str
    fields: dict[str, tuple[str, Kind]] = field(default_factory=dict)  # path → (item key, kind)
    derived: dict[Any, tuple[str, Callable[[FactValues, FactValues], int | None]]] = field(
        default_factory=dict
    )
    count_key: str | None = None
    marker: bool = False  # every element carries {"_e": 1}: ``true`` inside any()/all()


@dataclass
class _Schema:
    """What one ruleset's messages hold, collected while its rules are translated."""

    vocabulary: Mapping[str, FactInfo]
    fields: dict[str, tuple[str, Kind]] = field(default_factory=dict)  # path → (key, kind)
    derived: dict[Any, tuple[str, Callable[[FactValues], int | None]]] = field(default_factory=dict)
    lists: dict[str, _ListSchema] = field(default_factory=dict)
    rule: str = ""

    def check(self, ref: Ref) -> None:
        info = self.vocabulary.get(ref.path)
        if info is None:
            raise EngineError(f"rule {self.rule!r} reads {ref.path!r}, which is not in the stage's vocabulary")
        if _family(info.kind) != _family(ref.kind):
            raise EngineError(
                f"rule {self.rule!r} reads {ref.path!r} as {ref.kind.value}, but it is {info.kind.value}"
            )
        if not _NAME.fullmatch(ref.path):
            raise EngineError(f"fact path {ref.path!r} cannot be a durable field name")

    def top_key(self, ref: Ref) -> str:
        self.check(ref)
        if ref.kind is Kind.list:
            raise EngineError(f"rule {self.rule!r} compares the list {ref.path!r}")
        entry = self.fields.setdefault(ref.path, (_key(ref.path), ref.kind))
        return entry[0]

    def item_key(self, lst: _ListSchema, ref: Ref) -> str:
        self.check(ref)
        entry = lst.fields.setdefault(ref.path, (_key(ref.path), ref.kind))
        return entry[0]

    def derive(self, signature: Any, compute: Callable[[FactValues], int | None]) -> str:
        entry = self.derived.setdefault(signature, (f"_d{len(self.derived)}", compute))
        return entry[0]

    def derive_item(
        self, lst: _ListSchema, signature: Any, compute: Callable[[FactValues, FactValues], int | None]
    ) -> str:
        entry = lst.derived.setdefault(signature, (f"_d{len(lst.derived)}", compute))
        return entry[0]

    def list_schema(self, path: str) -> _ListSchema:
        info = self.vocabulary.get(path)
        if info is None or info.kind is not Kind.list:
            raise EngineError(f"rule {self.rule!r} loops over {path!r}, which is not a list fact")
        if not _NAME.fullmatch(path):
            raise EngineError(f"fact path {path!r} cannot be a durable field name")
        return self.lists.setdefault(path, _ListSchema(_key(path), path))


def _derived_compare(left: Expr, right: Expr) -> Callable[[FactValues, FactValues | None], int | None]:
    """sign(left - right), computed exactly; durable compares it with 0 using the rule's operator."""
    get_left, get_right = compile_expr(left), compile_expr(right)

    def compute(root: FactValues, item: FactValues | None) -> int | None:
        return _sign(get_left(root, item), get_right(root, item))

    return compute


class _Translator:
    """IR → durable JSON for one ruleset, recording the message fields in a :class:`_Schema`."""

    def __init__(self, schema: _Schema, scope_code: int) -> None:
        self.schema = schema
        self.always = {_KIND_FIELD: scope_code}  # true for every fact of the scope, never for the state

    def cond(self, cond: Cond, lst: _ListSchema | None = None) -> dict[str, Any]:
        if isinstance(cond, Compare):
            return self.compare(cond) if lst is None else self.item_compare(cond, lst)
        if isinstance(cond, IsNone):
            return self.is_none(cond, lst)
        if isinstance(cond, And | Or):
            if not cond.items:
                raise EngineError(f"rule {self.schema.rule!r} has an empty and/or")
            if isinstance(cond, Or) and lst is not None:
                # hazard 31: $or inside $iany/$iall gives wrong answers; Python computes it per element
                self.check_refs(*_cond_refs(cond), inside=True)
                return {"$i." + self.schema.derive_item(lst, ("or", cond), _evaluated_item(cond)): 1}
            parts = [self.cond(c, lst) for c in cond.items]
            return _all_of(parts) if isinstance(cond, And) else _any_of(parts)
        if isinstance(cond, Quantified):
            if lst is not None:
                raise EngineError(f"rule {self.schema.rule!r} nests any()/all()")
            return self.quantified(cond)
        if isinstance(cond, Always):
            if lst is None:
                return dict(self.always)
            lst.marker = True
            return {"$i._e": 1}
        raise EngineError(f"rule {self.schema.rule!r}: not a condition: {cond!r}")

    def compare(self, cond: Compare) -> dict[str, Any]:
        op, left, right = cond.op, cond.left, cond.right
        if isinstance(left, Const) and not isinstance(right, Const):
            op, left, right = SWAPPED[op], right, left
        self.check_kinds(left, right)
        self.check_refs(left, right, inside=False)
        if isinstance(left, Ref):
            if isinstance(right, Const):
                value = _const(right)
                if value is not None:
                    return _compare(op, self.schema.top_key(left), value)
            elif isinstance(right, Ref):
                lkey, rkey = self.schema.top_key(left), self.schema.top_key(right)
                # hazard 22: a $m reference to a missing field compares true
                return _all_of([{"$ex": {lkey: 1}}, {"$ex": {rkey: 1}}, _compare(op, lkey, {"$m": rkey})])
        compute = _derived_compare(left, right)
        key = self.schema.derive(("cmp", left, right), lambda values: compute(values, None))
        return _compare(op, key, 0)

    def item_compare(self, cond: Compare, lst: _ListSchema) -> dict[str, Any]:
        op, left, right = cond.op, cond.left, cond.right
        if not _is_item(left) and _is_item(right):
            op, left, right = SWAPPED[op], right, left
        self.check_kinds(left, right)
        self.check_refs(left, right, inside=True)
        if isinstance(left, Ref) and left.item:
            if isinstance(right, Const):
                value = _const(right)
                if value is not None:
                    return _compare(op, "$i." + self.schema.item_key(lst, left), value)
            elif isinstance(right, Ref) and not right.item:
                # inside $iany/$iall a missing field on either side compares false, as wanted
                return _compare(op, "$i." + self.schema.item_key(lst, left), {"$m": self.schema.top_key(right)})
        key = self.schema.derive_item(lst, ("cmp", left, right), _derived_compare(left, right))
        return _compare(op, "$i." + key, 0)

    def is_none(self, cond: IsNone, lst: _ListSchema | None) -> dict[str, Any]:
        test = "$ex" if cond.present else "$nex"
        ref = cond.operand
        self.check_refs(ref, inside=lst is not None)
        if lst is None:
            return {test: {self.schema.top_key(ref): 1}}
        if ref.item:
            return {test: {"$i." + self.schema.item_key(lst, ref): 1}}
        path, present = ref.path, cond.present

        def holds(root: FactValues, item: FactValues) -> int:
            return int((root.get(path) is not None) is present)

        return {"$i." + self.schema.derive_item(lst, ("none", ref, present), holds): 1}

    def quantified(self, cond: Quantified) -> dict[str, Any]:
        if cond.quantifier == "any" and isinstance(cond.cond, Or):
            # any(a or b) is any(a) or any(b): keeps the or out of $iany (hazard 31)
            return self.cond(Or(tuple(Quantified("any", cond.collection, part) for part in cond.cond.items)))
        lst = self.schema.list_schema(cond.collection)
        inner = self.cond(cond.cond, lst)
        if cond.quantifier == "any":
            return {"$iany": {lst.key: inner}}
        if cond.quantifier == "all":
            # hazard 23: $iall over an empty or missing array is false
            lst.count_key = "_n_" + lst.key
            return _any_of([{lst.count_key: 0}, {"$iall": {lst.key: inner}}])
        raise EngineError(f"rule {self.schema.rule!r}: unknown quantifier {cond.quantifier!r}")

    def check_kinds(self, left: Expr, right: Expr) -> None:
        if _family(left.kind) != _family(right.kind):
            raise EngineError(f"rule {self.schema.rule!r} compares {left.kind.value} with {right.kind.value}")

    def check_refs(self, *exprs: Expr, inside: bool) -> None:
        for expr in exprs:
            for ref in _expr_refs(expr):
                if ref.item and not inside:
                    raise EngineError(f"rule {self.schema.rule!r} reads {ref.path!r} outside any()/all()")
                self.schema.check(ref)


def _evaluated_item(cond: Cond) -> Callable[[FactValues, FactValues], int]:
    """A condition on one list element as a 0/1 field, computed by the Python evaluator itself."""
    test = compile_cond(cond)

    def compute(root: FactValues, item: FactValues) -> int:
        return int(test(root, item))

    return compute


def _cond_refs(cond: Cond) -> Iterator[Ref]:
    for ref in walk_refs(cond):
        if ref.kind is not Kind.list:
            yield ref


def _is_item(expr: Expr) -> bool:
    return isinstance(expr, Ref) and expr.item


def _expr_refs(expr: Expr) -> Iterator[Ref]:
    if isinstance(expr, Ref):
        yield expr
    elif isinstance(expr, Arith):
        yield from _expr_refs(expr.left)
        yield from _expr_refs(expr.right)


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


# -- the durable side ---------------------------------------------------------------------------


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
class _Ruleset:
    """One durable ruleset: part of one stage's rules of one scope, and how to encode its facts."""

    name: str
    handle: int
    rule_ids: tuple[str, ...]
    encode: Callable[[FactValues, str, str], str]  # (facts, session id, message id) → JSON


@dataclass(frozen=True)
class _CompiledStage:
    order: tuple[_Ruleset, ...]
    line: tuple[_Ruleset, ...]
    lifted: frozenset[str]  # rules evaluated by the Python evaluator (too big for durable)


@dataclass(frozen=True)
class _Plan:
    """A rule, what it costs in durable's alpha network, and whether it must be lifted."""

    rule: EngineRule
    alternatives: int
    length: int
    lifted: bool


def _plan(stage: Stage, rule: EngineRule) -> _Plan:
    """Translate a rule on trial and decide whether durable-rules can hold it.

    The trial also validates every path the rule reads against the vocabulary (hazard 8). A rule
    over one of durable's per-rule limits is *lifted*: its whole condition is evaluated by the
    Python evaluator's own compiled closure and durable matches the 0/1 result (hazards 26, 30).
    """
    translated = _all_of([{_KIND_FIELD: 0}, _Translator(_Schema(stage.vocabulary, rule=rule.id), 0).cond(rule.cond)])
    count, length = alternatives(rule.cond)
    length += 1  # the scope discriminator
    fits = (
        count + length <= ALTERNATIVE_BUDGET
        and _groups(translated) <= MAX_GROUPS_PER_RULE
        and _max_quantified_leaves(translated) <= MAX_LEAVES_PER_QUANTIFIER
    )
    return _Plan(rule, count, length, False) if fits else _Plan(rule, 1, 2, True)


def _evaluated(cond: Cond) -> Callable[[FactValues], int]:
    """A lifted rule's condition as a 0/1 field, computed by the Python evaluator itself."""
    test = compile_cond(cond)

    def compute(values: FactValues) -> int:
        return int(test(values, None))

    return compute


def _shard(plans: list[_Plan]) -> list[list[_Plan]]:
    """Pack rules, in priority order, into rulesets that stay within :data:`ALTERNATIVE_BUDGET`."""
    shards: list[list[_Plan]] = []
    current: list[_Plan] = []
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


def _all_of(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """``$and`` of the parts, nested ``$and`` groups merged: every group counts against durable's 15."""
    flat: list[dict[str, Any]] = []
    for part in parts:
        flat.extend(part["$and"] if list(part) == ["$and"] else [part])
    return flat[0] if len(flat) == 1 else {"$and": flat}


def _any_of(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """``$or`` of the parts, nested ``$or`` groups merged."""
    flat: list[dict[str, Any]] = []
    for part in parts:
        flat.extend(part["$or"] if list(part) == ["$or"] else [part])
    return flat[0] if len(flat) == 1 else {"$or": flat}


def _error_text(error: BaseException) -> str:
    text = str(error)
    found = _ERROR_CODE.search(text)
    meaning = _ERROR_MEANING.get(int(found.group(1))) if found else None
    return f"{text} ({meaning})" if meaning else text


def _no_action(item: int | None) -> None:
    """The sentinel's action: its only job is to have run (hazard 21)."""


class DurableBackend:
    """Matches stages with durable-rules. One Host, all stages registered at construction.

    Safe to call from many threads: calls are serialised (durable is not thread-safe and holds
    the GIL anyway; run processes for parallelism).
    """

    name = "durable"

    def __init__(self, stages: Sequence[Stage]) -> None:
        self._lock = threading.Lock()
        self._session_ids = itertools.count(1)
        self._collector = _Collector()
        self._closed = False
        self._broken: str | None = None
        self._actions: dict[str, Action] = {_SENTINEL: _no_action}
        self._handles: list[int] = []
        # A backend dropped without close() (a Gate never closed) still frees durable's C memory,
        # about 10 MB for a large policy, when it is collected; close() leaves it nothing to do.
        weakref.finalize(self, _delete_handles, self._handles)
        self._host = _Host(self._actions)
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
        compiled: dict[Scope, tuple[_Ruleset, ...]] = {}
        lifted: set[str] = set()
        for scope in ("order", "line"):
            plans = [_plan(stage, rule) for rule in ordered if rule.scope == scope]
            lifted.update(p.rule.id for p in plans if p.lifted)
            compiled[scope] = tuple(
                ruleset for number, shard in enumerate(_shard(plans))
                for ruleset in self._register_fitting(stage, scope, str(number), shard, lifted)
            )
        return _CompiledStage(compiled["order"], compiled["line"], frozenset(lifted))

    def _register_fitting(self, stage: Stage, scope: Scope, label: str, plans: list[_Plan],
                          lifted: set[str]) -> list[_Ruleset]:
        """Register ``plans`` as one ruleset, or, when its message would carry more fields than
        durable-rules takes (arithmetic comparisons each add one), as two halves, down to single
        rules; a single rule that still does not fit is lifted (matched by the Python evaluator,
        one 0/1 field). A policy that validates always loads."""
        try:
            return [self._register(stage, scope, label, plans)]
        except _TooManyFields:
            if len(plans) > 1:
                half = len(plans) // 2
                return (self._register_fitting(stage, scope, f"{label}.0", plans[:half], lifted)
                        + self._register_fitting(stage, scope, f"{label}.1", plans[half:], lifted))
            plan = plans[0]
            if plan.lifted:  # pragma: no cover - a lifted rule reads one field
                raise
            lifted.add(plan.rule.id)
            return [self._register(stage, scope, label, [_Plan(plan.rule, 1, 2, True)])]

    def _register(self, stage: Stage, scope: Scope, label: str, plans: list[_Plan]) -> _Ruleset:
        code = _SCOPE_CODE[scope]
        schema = _Schema(stage.vocabulary)
        translator = _Translator(schema, code)
        definition: dict[str, Any] = {_SENTINEL: {"all": [{"m": {"$s": 1}}], "run": _SENTINEL}}
        names: dict[str, str] = {}
        for plan in plans:
            rule = plan.rule
            schema.rule = rule.id
            if plan.lifted:
                key = schema.derive(("rule", rule.id, rule.cond), _evaluated(rule.cond))
                condition: dict[str, Any] = _all_of([{_KIND_FIELD: code}, {key: 1}])
            else:
                condition = _all_of([{_KIND_FIELD: code}, translator.cond(rule.cond)])
            action_name = f"r{len(self._actions)}"
            self._actions[action_name] = self._action(rule.id)
            names[action_name] = rule.id
            definition[action_name] = {"all": [{"m": condition}], "pri": rule.priority, "run": action_name}
        _check_message(stage, scope, schema)
        name = f"{stage.name}.{scope}{label}"
        try:
            self._host.register_rulesets({name: json.loads(json.dumps(definition))})
        except Exception as error:
            raise EngineError(self._explain_failure(stage, definition, names, error)) from error
        handle: int = self._host.get_ruleset(name)._handle
        self._handles.append(handle)
        return _Ruleset(name, handle, tuple(p.rule.id for p in plans), _message_encoder(schema, code))

    def _explain_failure(
        self, stage: Stage, definition: dict[str, Any], names: Mapping[str, str], error: Exception
    ) -> str:
        culprits = []
        for action_name, rule_id in names.items():
            alone = {k: v for k, v in definition.items() if k in (_SENTINEL, action_name)}
            alone = {k: {kk: vv for kk, vv in v.items() if kk != "run"} for k, v in alone.items()}
            try:
                handle = _durable_c.create_ruleset(f"salesgate-probe-{action_name}", json.dumps(alone))
            except Exception:
                culprits.append(rule_id)
            else:
                _durable_c.delete_ruleset(handle)
        which = f"rule(s) {', '.join(map(repr, culprits))}" if culprits else "its rules together"
        return f"durable-rules cannot compile stage {stage.name!r}: {which}: {_error_text(error)}"

    def _action(self, rule_id: str) -> Action:
        def action(item: int | None) -> None:
            collector = self._collector
            try:
                collector.add(rule_id, item)
            except Exception as error:  # durable would swallow it: report it after the drain
                collector.errors.append(error)

        return action

    # -- matching ---------------------------------------------------------------------------
    def match(self, stage: str, facts: FactSet) -> frozenset[Match]:
        compiled = self._stages.get(stage)
        if compiled is None:
            raise EngineError(f"unknown stage {stage!r}; known: {', '.join(sorted(self._stages))}")
        with self._lock:
            if self._closed:
                raise EngineError("the durable backend is closed")
            if self._broken:
                raise EngineError(f"the durable backend is unusable: {self._broken}")
            collector = self._collector = _Collector()
            for ruleset in compiled.order:
                self._session(ruleset, (facts.root,), indexed=False)
            if facts.items:
                for ruleset in compiled.line:
                    self._session(ruleset, facts.items, indexed=True)
            if collector.errors:
                error = collector.errors[0]
                raise EngineError(f"a durable action failed: {error!r}") from error
            return frozenset(collector.matches)

    def _session(self, ruleset: _Ruleset, values: Sequence[FactValues], indexed: bool) -> None:
        """Assert each fact into a fresh session, run its actions, delete the session.

        The actions a fact makes ready are all run before the next fact is asserted, so every
        action that fires belongs to the fact just asserted (and the sentinel to the session).
        """
        handle, encode, actions = ruleset.handle, ruleset.encode, self._actions
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
                    raise EngineError(f"durable-rules failed in {ruleset.name!r}: {_error_text(error)}") from error
            clean = True
        finally:
            if opened:
                self._end_session(ruleset, sid, clean)

    def _drain(self, handle: int, state: int) -> None:
        """Run every action that is ready in a session (used when closing a failed session)."""
        started = _durable_c.start_action_for_state(handle, state)
        message: str | None = started[1] if started else None
        while message:
            action = self._actions.get(message[2 : message.index('"', 2)])
            if action is not None:
                action(None)
            message = _durable_c.complete_and_start_action(handle, state)

    def _end_session(self, ruleset: _Ruleset, sid: str, clean: bool) -> None:
        handle = ruleset.handle
        try:
            if not clean:
                # After a failure the session may exist without its sentinel having run, and
                # deleting it would free garbage (hazard 21): an empty fact creates the state
                # fact if it is missing, and the drain runs whatever is still ready.
                _code, state = _durable_c.assert_fact(handle, _dumps({"sid": sid, "id": _OPENER}))
                self._drain(handle, state)
        except Exception as error:
            self._broken = f"session {sid} of {ruleset.name!r} could not be closed safely: {_error_text(error)}"
            raise EngineError(self._broken) from error  # leak one session rather than crash
        try:
            _durable_c.delete_state(handle, sid)
        except Exception as error:
            self._broken = f"session {sid} of {ruleset.name!r} could not be deleted: {_error_text(error)}"
            raise EngineError(self._broken) from error

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Delete every ruleset (no session is alive outside :meth:`match`). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._delete_rulesets()

    def _delete_rulesets(self) -> None:
        _delete_handles(self._handles)

    def lifted(self, stage: str) -> frozenset[str]:
        """Ids of the stage's rules too big for durable-rules, evaluated by the Python evaluator.

        durable still decides whether they fired (it matches their 0/1 result), but the condition
        itself is computed in Python; see hazards 25, 26 and 30 in the module docstring.
        """
        return self._stages[stage].lifted

    def rulesets(self, stage: str) -> dict[str, Any]:
        """The durable JSON of a stage's rulesets, by ruleset name: for people and tests."""
        compiled = self._stages[stage]
        return {r.name: self._host.get_ruleset(r.name).get_definition() for r in compiled.order + compiled.line}


def _delete_handles(handles: list[int]) -> None:
    """Delete durable's rulesets, emptying ``handles`` in place (the finalizer holds the same list)."""
    while handles:
        _durable_c.delete_ruleset(handles.pop())


class _TooManyFields(EngineError):
    """A ruleset's message would carry more fields than durable-rules takes."""


def _check_message(stage: Stage, scope: Scope, schema: _Schema) -> None:
    top = ["sid", "id", _KIND_FIELD]
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
            raise _TooManyFields(
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


def _message_encoder(schema: _Schema, code: int) -> Callable[[FactValues, str, str], str]:
    """A function writing the JSON message of one fact: only the fields this ruleset reads.

    ``sid`` and ``mid`` are decimal strings made by this module, so they need no escaping.
    """
    top = _Fields.of(schema.fields)
    derived = tuple((_prefix(key), compute) for key, compute in schema.derived.values())
    lists = tuple(
        (
            _prefix(lst.key),
            lst.path,
            _prefix(lst.count_key) if lst.count_key else None,
            _Fields.of(lst.fields),
            tuple((_prefix(key), compute) for key, compute in lst.derived.values()),
            ',"_e":1' if lst.marker else "",
        )
        for lst in schema.lists.values()
    )
    head = ',"' + _KIND_FIELD + '":' + str(code)
    fill = _fill

    def encode(values: FactValues, sid: str, mid: str) -> str:
        out = ['{"sid":"', sid, '","id":"', mid, '"', head]
        fill(out, values, top)
        for prefix, compute in derived:
            result = compute(values)
            if result is not None:
                out.append(prefix + str(result))
        for prefix, path, count_prefix, item_fields, item_derived, marker in lists:
            elements = values.get(path) or ()
            if elements:
                encoded = []
                for element in elements:
                    item = [marker]
                    fill(item, element, item_fields)
                    for item_prefix, item_compute in item_derived:
                        result = item_compute(values, element)
                        if result is not None:
                            item.append(item_prefix + str(result))
                    encoded.append("{" + "".join(item)[1:] + "}")
                out.append(prefix + "[" + ",".join(encoded) + "]")
            if count_prefix is not None:
                out.append(count_prefix + str(len(elements)))
        out.append("}")
        return "".join(out)

    return encode
