"""What a decision is, and how several plugins' decisions combine into one.

Every decision hook answers with the same :class:`Decision` shape. When several plugins answer, the
result never depends on the order plugins were registered in; :func:`combine` writes the
precedence down:

1. the most severe outcome wins: ``allow < warn < require_approval < block``;
2. approvals are the union of every required role, sorted in the policy's ladder order;
3. reasons and notifications are sorted (severity, then rule id); trace entries are
   concatenated in plugin-name order, so the same inputs always print the same way;
4. pricing: every plugin's adjustments for a line are re-applied to the list price in
   priority order (then rule id) by the one price algebra (:mod:`salesgate.prices`): a rule
   that stopped a line (``stop: true``) in any plugin's pricing ends that line's changes, and
   floors of the rules that ran apply last.

What a plugin returns is a :class:`Contribution`; the plugin facade stamps it into a
:class:`Decision` (decision point, subject, policy, backend, the plugin's name on its reasons).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, ClassVar, Literal, NoReturn, Self, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, computed_field, model_validator
from pydantic_core import core_schema

from .money import ZERO
from .prices import PriceStep, line_amount, line_price, run_price_steps

__all__ = [
    "Adjustments",
    "Approval",
    "Contribution",
    "CreditResult",
    "Decision",
    "Notification",
    "Outcome",
    "PolicyRef",
    "PriceAdjustment",
    "PriceStop",
    "PricedLine",
    "PricingResult",
    "Reason",
    "ReturnResult",
    "Trace",
    "TraceEntry",
    "combine",
]


class Outcome(StrEnum):
    """What the ERP should do, from least to most severe."""

    allow = "allow"
    warn = "warn"
    require_approval = "require_approval"
    block = "block"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Outcome.allow: 0, Outcome.warn: 1, Outcome.require_approval: 2, Outcome.block: 3}
_new = object.__new__  # no model here defines __new__: what cls.__new__(cls) calls, without looking it up
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class SharedSet(set[str]):
    """A set that refuses changes: the ``model_fields_set`` every model :meth:`_Value.assemble` makes with all
    its fields given holds (one per class, not one per model: a decision keeps fewer objects alive), and that of
    the reasons a policy shares. pydantic copies it before changing it (``model_copy(update=...)``); a copy
    (``set(...)``, ``copy.copy``, pickling) is a plain set."""

    __slots__ = ()

    def _refused(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("this set is shared by every model of its class given the same fields and cannot be "
                        "changed: change a copy (set(model.model_fields_set))")

    add = discard = remove = pop = clear = update = difference_update = intersection_update = \
        symmetric_difference_update = __ior__ = __iand__ = __isub__ = __ixor__ = _refused

    def __copy__(self) -> set[str]:
        return set(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> set[str]:
        return set(self)

    def __reduce__(self) -> tuple[type[set[str]], tuple[list[str]]]:
        return set, (list(self),)


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    __trusted__: ClassVar[tuple[tuple[str, ...], dict[str, Any], tuple[str, ...], tuple[tuple[str, Any], ...]]]
    __all_set__: ClassVar[SharedSet]
    """Every field's name: the ``model_fields_set`` of each model :meth:`assemble` makes with every field given,
    one set for all of them (read-only) rather than a set each."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        template: dict[str, Any] = {}  # every field in order: its default, else a placeholder
        required: list[str] = []
        factories: list[tuple[str, Any]] = []
        for name, info in cls.model_fields.items():
            template[name] = None
            if info.default_factory is not None:
                factories.append((name, info.default_factory))
            elif info.is_required():
                required.append(name)
            else:
                template[name] = info.default
        cls.__trusted__ = (tuple(cls.model_fields), template, tuple(required), tuple(factories))
        cls.__all_set__ = SharedSet(cls.model_fields)

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """Build from values salesgate computed itself, skipping validation (the decision hot path).

        The result is what ``cls(**values)`` returns for well-typed values: the same field values
        in the same order, the same ``model_fields_set``. Anything from outside (plugins, callers,
        JSON) goes through the validating constructor instead. Fastest with every field given,
        in declaration order.
        """
        fields, template, required, factories = cls.__trusted__
        if len(values) == len(fields) and tuple(values) == fields:
            return cls.assemble(values)
        data = {**template, **values}  # keys keep the template's (declaration) order
        if len(data) != len(fields):
            raise TypeError(f"{cls.__name__}.trusted() got unknown fields {sorted(data.keys() - set(fields))}")
        for name in required:
            if name not in values:
                raise TypeError(f"{cls.__name__}.trusted() needs {name!r}")
        for name, factory in factories:
            if name not in values:
                data[name] = factory()
        model = _new(cls)
        _set_dict(model, data)
        _set_fields_set(model, set(values))
        _set_extra(model, None)
        _set_private(model, None)
        return model

    @classmethod
    def assemble(cls, data: dict[str, Any], fields_set: set[str] | None = None) -> Self:
        """:meth:`trusted` for a dict holding every field, in declaration order: the dict becomes
        the model's own (no copy), as in ``cls(**data)`` with every field given, or with only
        ``fields_set`` given and the others at their defaults (which ``data`` then holds). The
        hot path."""
        fields = cls.__trusted__[0]
        if len(data) != len(fields):
            raise TypeError(f"{cls.__name__}.assemble() needs exactly the fields {', '.join(fields)}")
        # BaseModel's own slots, set through their descriptors: object.__setattr__ would look each
        # name up on the class first, and this runs for every object of every decision.
        model = _new(cls)
        _set_dict(model, data)
        _set_fields_set(model, cls.__all_set__ if fields_set is None else fields_set)
        _set_extra(model, None)
        _set_private(model, None)
        return model


_E = TypeVar("_E", bound=_Value)


class SharedDict(dict[str, str]):
    """A dict that refuses changes: what a part shared by many decisions holds (a policy's reason's
    ``translations``). The policy builds each of its reasons once and every decision it fires in holds
    that same (frozen) Reason; were its dict changed through one decision, every other would change too.
    Reads, ``==``, JSON and pickling are a dict's; a copy (``dict(...)``, ``copy.copy``) is a plain dict."""

    __slots__ = ()

    def _refused(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("this dict is shared by every decision that holds the same reason and cannot be changed: "
                        "change a copy (dict(reason.translations))")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refused

    def __reduce__(self) -> tuple[type[dict[str, str]], tuple[dict[str, str]]]:
        return dict, (dict(self),)


class SharedList(list[str]):
    """A list that refuses changes: what a part shared by many decisions holds (a policy's approval's
    ``rules``); see :class:`SharedDict`. A copy (``list(...)``, ``copy.copy``) is a plain list."""

    __slots__ = ()

    def _refused(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("this list is shared by every decision that holds the same approval and cannot be changed: "
                        "change a copy (list(approval.rules))")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = extend = insert = pop = remove = clear = sort = \
        reverse = _refused

    def __reduce__(self) -> tuple[type[list[str]], tuple[list[str]]]:
        return list, (list(self),)


class Reason(_Value):
    """Why the decision is what it is: one fired rule and its message."""

    rule: str = Field(description="Id of the rule that fired.")
    outcome: Outcome = Field(description="The outcome this rule asked for.")
    message: str = Field(description="The rule's message, in the language the policy was written in.")
    translations: dict[str, str] = Field(default_factory=dict, description="The message in other languages.")
    line_no: int | None = Field(None, description="For line-scope rules: the order line it fired on.")
    plugin: str = Field("rules", description="Plugin that produced the reason.")


class Approval(_Value):
    """A role that must approve, and the rules that asked for it."""

    role: str
    rules: list[str]


class Notification(_Value):
    """Somebody to tell, without holding the order."""

    role: str
    rule: str
    message: str


class TraceEntry(_Value):
    """One rule evaluated for this decision: whether it fired, on which values, from where."""

    rule: str
    ruleset: str
    file: str
    line: int
    fired: bool
    line_no: int | None = Field(None, description="Order line, for line-scope rules that fired.")
    values: dict[str, Any] = Field(default_factory=dict, description="Every fact the condition read.")
    explanation: str | None = Field(None, description="Why it fired or not (with explain=True).")


class BuiltWhenRead(Sequence[_E]):
    """A read-only list of a decision's entries, built the first time anything reads it: iterating,
    indexing, ``len``, comparing, copying, pickling or serialising the decision. The entries are exactly
    those an eager build gives, in the same order; built twice by two threads at once, they are built
    equal twice. Anywhere a list of entries is accepted (the model's constructor, JSON), a list still is.

    ``_element`` is the entries' model, for validation and serialisation.
    """

    __slots__ = ("_build", "_entries")
    _element: ClassVar[type[_Value]]

    def __init__(self, entries: Sequence[_E] = (), *, build: Callable[[], list[_E]] | None = None) -> None:
        """``entries``, or ``build``: a function returning them, called once when first read. Pass a
        builder only for entries there are (``bool(...)`` answers without calling it)."""
        self._entries: list[_E] | None = None if build is not None else list(entries)
        self._build = build

    @classmethod
    def when_read(cls, build: Callable[[], list[_E]]) -> Self:
        """``cls(build=build)``, without the keyword call and ``__init__``: made once per decision."""
        made = _new(cls)
        made._entries = None
        made._build = build
        return made

    def _built(self) -> list[_E]:
        entries = self._entries
        if entries is None:
            build = self._build  # read once: another thread may finish building meanwhile
            if build is None:
                return self._entries or []
            entries = self._entries = build()
            self._build = None  # let go of what it was built from
        return entries

    def __bool__(self) -> bool:
        # Without building: a builder is only given when there are entries, so this is free.
        entries = self._entries
        return True if entries is None else bool(entries)

    @overload
    def __getitem__(self, index: int) -> _E: ...

    @overload
    def __getitem__(self, index: slice) -> list[_E]: ...

    def __getitem__(self, index: int | slice) -> _E | list[_E]:
        return self._built()[index]

    def __len__(self) -> int:
        return len(self._built())

    def __iter__(self) -> Iterator[_E]:
        return iter(self._built())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BuiltWhenRead):
            return self._built() == other._built()
        if isinstance(other, list):
            return self._built() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like the list it stands for

    def __repr__(self) -> str:
        return repr(self._built())

    def __reduce__(self) -> tuple[type[Self], tuple[list[_E]]]:
        return (type(self), (self._built(),))

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return type(self)(copy.deepcopy(self._built(), memo))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        # the entries model of the subclass, known only at run time
        entries = handler.generate_schema(list[cls._element])  # type: ignore[name-defined]

        def validate(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> BuiltWhenRead[_E]:
            return value if isinstance(value, cls) else cls(inner(value))

        return core_schema.no_info_wrap_validator_function(
            validate, entries,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda built: built._built(), return_schema=entries),
        )


class Trace(BuiltWhenRead[TraceEntry]):
    """The trace of a decision: a read-only list of :class:`TraceEntry`, built when first read.

    Why lazy: one entry per rule evaluated, each with the values its condition read, costs more
    than everything else in a decision put together, and most decisions are acted on without
    anyone reading their trace. So the rules plugin hands over what the entries are made from
    (the facts as decided, flattened then or when first read, and the matches, which never change
    afterwards) and the entries are built the first time anything reads them (see :class:`BuiltWhenRead`).

    Anywhere a list of entries is accepted (``Decision(trace=[...])``, JSON), a list still is.
    """

    __slots__ = ()
    _element = TraceEntry

    @classmethod
    def concat(cls, traces: Sequence[Trace]) -> Trace:
        """One trace after another (still built only when read)."""
        kept = [trace for trace in traces if trace]
        if not kept:
            return cls()
        if len(kept) == 1:
            return kept[0]
        return cls(build=lambda: [entry for trace in kept for entry in trace._built()])


class PolicyRef(_Value):
    """Which policy decided: its name, version and the hash of its files' content."""

    name: str
    version: str
    hash: str


class PriceAdjustment(_Value):
    """One change to a line's price, by one rule."""

    rule: str
    kind: Literal["markup", "discount", "add", "set", "floor"]
    value: Decimal = Field(description="Rate for markup/discount, amount for add/set/floor.")
    priority: int
    price_before: Decimal
    price_after: Decimal


class Adjustments(BuiltWhenRead[PriceAdjustment]):
    """A priced line's adjustments: a read-only list of :class:`PriceAdjustment`, built when first read.

    Why lazy, as the :class:`Trace`: the policy's pricing works out every change to every line (it needs
    the prices), but an adjustment as a model, one per change per line, is read far less often than a
    decision is made. So pricing keeps each change as it made it and the models are built the first time
    anything reads them (see :class:`BuiltWhenRead`). A list is accepted wherever this is.
    """

    __slots__ = ()
    _element = PriceAdjustment


class PriceStop(_Value):
    """The rule that ended a line's adjustments (``stop: true``)."""

    rule: str
    priority: int


class PricedLine(_Value):
    """A line with its policy price and every adjustment that made it."""

    line_no: int
    sku: str
    qty: int
    list_price: Decimal | None
    requested_unit_price: Decimal = Field(description="Unit price on the order after its line discount.")
    policy_price: Decimal = Field(description="Unit price the policy sets, rounded to the cent.")
    adjustments: Adjustments = Field(
        default_factory=Adjustments,
        description="Every change to the line's price, in the order applied (a read-only list, built when read).")
    stopped_by: PriceStop | None = Field(
        None, exclude=True,
        description="The rule that stopped this line's adjustments, if one did: kept so that combining several "
                    "plugins' pricing honours the stop (the trace shows the rule; not written in JSON).")

    @property
    def policy_amount(self) -> Decimal:
        """The line at its policy price (:func:`~salesgate.prices.line_amount`)."""
        return line_amount(self.policy_price, self.qty)

    @property
    def requested_amount(self) -> Decimal:
        """The line at its requested unit price (:func:`~salesgate.prices.line_amount`)."""
        return line_amount(self.requested_unit_price, self.qty)


class PricingResult(_Value):
    """An order's priced lines and their totals."""

    lines: list[PricedLine]
    policy_total: Decimal = Field(description="The lines' policy amounts added up, each rounded to the cent.")
    requested_total: Decimal = Field(description="The lines' requested amounts added up, each rounded to the cent.")

    @classmethod
    def from_lines(cls, lines: list[PricedLine]) -> PricingResult:
        """The result for ``lines`` with their totals: the one way salesgate totals priced lines
        (:func:`combine`; the rules plugin's pricing adds the same amounts as it prices, see
        :func:`salesgate.policy.verdict.pricing_verdict`), so the totals always equal the amounts the
        lines show, added in line order."""
        policy_total = requested_total = ZERO
        for line in lines:  # line_amount rather than the properties: this runs for every priced order
            policy_total += line_amount(line.policy_price, line.qty)
            requested_total += line_amount(line.requested_unit_price, line.qty)
        return cls.assemble({"lines": lines, "policy_total": policy_total, "requested_total": requested_total})


class CreditResult(_Value):
    """The credit figures of a decision, *with* this order (fact ``exposure.total`` is before it).

    ``exposure`` is the name these figures had before 0.3: it is still accepted on input (a decision
    logged by an older version reads back) and still written in JSON, as a deprecated alias of
    ``exposure_after_order``.
    """

    exposure_after_order: Decimal = Field(
        description="Open receivables + open orders + reserved credit + this order's total "
                    "(fact exposure.total plus order.total).")
    limit: Decimal = Field(description="The customer's credit limit (fact customer.credit_limit).")
    available: Decimal = Field(description="Limit minus exposure_after_order; negative when over the limit.")
    overdue_amount: Decimal = Field(description="Fact exposure.overdue_amount.")
    max_overdue_days: int = Field(description="Fact exposure.max_overdue_days.")

    @model_validator(mode="before")
    @classmethod
    def _old_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "exposure" in data:
            data = dict(data)
            old = data.pop("exposure")
            data.setdefault("exposure_after_order", old)
        return data

    @computed_field(  # type: ignore[prop-decorator]  # pydantic documents computed_field over property
        description="Deprecated alias of exposure_after_order (kept in JSON for older readers).")
    @property
    def exposure(self) -> Decimal:
        """Deprecated: read :attr:`exposure_after_order`, which says what it holds."""
        return self.exposure_after_order


class ReturnResult(_Value):
    amount: Decimal = Field(description="What the request is worth.")
    refund_rate: Decimal
    restocking_fee: Decimal
    refund_amount: Decimal = Field(description="amount × refund rate − restocking fee, never below zero.")


class Decision(_Value):
    """The answer at one decision point for one order or return."""

    hook: str = Field(
        description="The decision point: a built-in one (order_approval, credit_check, pricing, return_handling) or "
                    "one a policy or plugin declares (this JSON key is kept as `hook` for compatibility).")
    subject: str = Field(description="The id of the document decided: order, return, or a declared point's subject.")
    outcome: Outcome
    approvals: list[Approval] = Field(default_factory=list, description="Roles to approve, in ladder order.")
    notifications: list[Notification] = Field(default_factory=list)
    reasons: list[Reason] = Field(default_factory=list)
    policy: PolicyRef
    backend: str = Field(description="Matching backend that decided: compiled, python or durable.")
    as_of: date | None = Field(
        None, description="The decision's as-of date: what `today` read in the rules and which rules were in force "
                          "(same policy + facts + as-of date = same decision). None only in decisions logged before "
                          "salesgate recorded it.")
    trace: Trace = Field(default_factory=Trace, description="Every rule evaluated (built when first read).")
    pricing: PricingResult | None = None
    credit: CreditResult | None = None
    returns: ReturnResult | None = None
    outputs: dict[str, Any] = Field(
        default_factory=dict, description="The point's declared outputs the rules set (then: set:), by name.")
    failure: str | None = Field(None, description="Set when the decision is a safe fallback after an error.")

    def with_credit(self, credit: CreditResult) -> Decision:
        """This decision with the credit figures set: what ``model_copy(update={"credit": ...})``
        gives, without copying anything else."""
        fields_set = set(self.model_fields_set)
        fields_set.add("credit")
        return type(self).assemble({**self.__dict__, "credit": credit}, fields_set)

    @property
    def required_roles(self) -> list[str]:
        return [a.role for a in self.approvals]

    @property
    def fired(self) -> list[str]:
        return [t.rule for t in self.trace if t.fired]


class Contribution(_Value):
    """What a decision plugin returns: only what it contributes.

    The plugin facade turns it into a :class:`Decision` for the decision point being decided:
    it fills in ``hook``, ``subject``, ``policy`` and ``backend``, and puts the plugin's own name
    on every reason, so a plugin never copies engine details and no reason is labelled with
    another plugin's name. Several plugins' contributions combine by :func:`combine`.
    """

    outcome: Outcome = Field(Outcome.allow, description="The outcome this plugin asks for.")
    approvals: list[Approval] = Field(
        default_factory=list, description="Roles that must approve; a plain role name is an Approval with no rules.")
    reasons: list[Reason] = Field(default_factory=list, description="Why (``plugin`` is set by the facade).")
    notifications: list[Notification] = Field(default_factory=list)
    trace: Trace = Field(default_factory=Trace, description="Rules this plugin evaluated, if it has any.")
    pricing: PricingResult | None = Field(None, description="Payload of the pricing decision point.")
    credit: CreditResult | None = Field(None, description="Payload of the credit check: the credit figures.")
    returns: ReturnResult | None = Field(None, description="Payload of return handling: the refund.")
    outputs: dict[str, Any] = Field(default_factory=dict, description="Declared outputs this plugin sets, by name.")

    @model_validator(mode="before")
    @classmethod
    def _role_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("approvals"), list | tuple):
            data = dict(data)
            data["approvals"] = [{"role": a, "rules": []} if isinstance(a, str) else a for a in data["approvals"]]
        return data


def _reason_key(reason: Reason) -> tuple[int, str, int, str, str]:
    # A total order (down to plugin and message), so equal keys can never keep input order.
    return (-reason.outcome.rank, reason.rule, reason.line_no or 0, reason.plugin, reason.message)


def ladder_order(approvals: dict[str, list[str]], ladder: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(role, its rules sorted and each once) in ladder order; roles outside the ladder (from
    company plugins) sort after, by name."""
    if len(approvals) <= 1:
        roles = list(approvals)
    else:
        position = _positions(tuple(ladder))
        roles = sorted(approvals, key=lambda r: (position.get(r, len(position)), r))
    return tuple((role, tuple(_unique_sorted(approvals[role]))) for role in roles)


def sort_approvals(approvals: dict[str, list[str]], ladder: Sequence[str]) -> list[Approval]:
    """Approvals in ladder order (see :func:`ladder_order`)."""
    if not approvals:
        return []
    return [Approval.assemble({"role": role, "rules": list(rules)}) for role, rules in ladder_order(approvals, ladder)]


@lru_cache(maxsize=64)
def _positions(ladder: tuple[str, ...]) -> dict[str, int]:
    return {role: i for i, role in enumerate(ladder)}


def _unique_sorted(rules: list[str]) -> list[str]:
    return list(rules) if len(rules) == 1 else sorted(set(rules))


def _steps(adjustments: Sequence[PriceAdjustment],
           stop: PriceStop | None = None) -> list[PriceStep[PriceAdjustment]]:
    """Adjustments as the price algebra's steps: one per rule, in (priority, rule id) order, each
    rule's changes in the order given; the steps of rules after ``stop`` left out."""
    by_rule: dict[tuple[int, str], tuple[list[tuple[str, Decimal, PriceAdjustment]],
                                         list[tuple[Decimal, PriceAdjustment]]]] = {}
    for adj in adjustments:
        changes, floors = by_rule.setdefault((adj.priority, adj.rule), ([], []))
        if adj.kind == "floor":
            floors.append((adj.value, adj))
        else:
            changes.append((adj.kind, adj.value, adj))
    limit = None if stop is None else (stop.priority, stop.rule)
    return [(changes, floors, False) for key, (changes, floors) in sorted(by_rule.items(), key=lambda kv: kv[0])
            if limit is None or key <= limit]


def apply_adjustments(base: Decimal, adjustments: Sequence[PriceAdjustment],
                      stop: PriceStop | None = None) -> list[PriceAdjustment]:
    """Re-apply adjustments to ``base`` in priority order, floors last, none after ``stop``
    (:func:`salesgate.prices.run_price_steps`); returns them with new prices."""
    out: list[PriceAdjustment] = []

    def record(adj: PriceAdjustment, kind: str, value: Decimal, before: Decimal, after: Decimal) -> None:
        out.append(adj.model_copy(update={"price_before": before, "price_after": after}))

    run_price_steps(base, _steps(adjustments, stop), record)
    return out


def _first_stop(versions: Sequence[PricedLine]) -> PriceStop | None:
    """The earliest rule (by priority, then id) that stopped the line in any plugin's pricing."""
    stops = [v.stopped_by for v in versions if v.stopped_by is not None]
    return min(stops, key=lambda s: (s.priority, s.rule)) if stops else None


def _base_price(versions: Sequence[PricedLine]) -> tuple[Decimal | None, Decimal]:
    """(the line's list price, the price the plugins started from): the list price any of them
    knew (in plugin-name order), else where a plugin's first adjustment started (the rules plugin
    starts a line without product facts from its unit price before the line discount), else the
    policy price a plugin already set. Never decided by which plugin's name sorts first."""
    for version in versions:
        if version.list_price is not None:
            return version.list_price, version.list_price
    for version in versions:
        if version.adjustments:
            return None, version.adjustments[0].price_before
    return None, versions[0].policy_price


def _combine_pricing(results: Sequence[PricingResult]) -> PricingResult:
    by_line: dict[int, list[PricedLine]] = {}
    for result in results:
        for line in result.lines:
            by_line.setdefault(line.line_no, []).append(line)
    lines = []
    for line_no in sorted(by_line):
        versions = by_line[line_no]
        first = versions[0]
        list_price, base = _base_price(versions)
        stop = _first_stop(versions)
        adjustments = apply_adjustments(base, [adj for v in versions for adj in v.adjustments], stop)
        price = adjustments[-1].price_after if adjustments else base
        lines.append(first.model_copy(update={"list_price": list_price, "adjustments": Adjustments(adjustments),
                                              "policy_price": line_price(price), "stopped_by": stop}))
    return PricingResult.from_lines(lines)


def combine(decisions: Sequence[Decision], ladder: Sequence[str]) -> Decision:
    """Merge several plugins' decisions at one decision point into one, by the documented precedence."""
    if not decisions:
        raise ValueError("nothing to combine")
    if len(decisions) == 1:
        return decisions[0]
    quick = _with_payloads(decisions, ladder)
    return quick if quick is not None else merge(decisions, ladder)


def merge(decisions: Sequence[Decision], ladder: Sequence[str]) -> Decision:
    """The general case of :func:`combine`, for two or more decisions."""
    first = decisions[0]
    outcome = first.outcome
    for decision in decisions:
        if decision.outcome.rank > outcome.rank:
            outcome = decision.outcome
    merged: dict[str, list[str]] = {}
    for decision in decisions:
        for approval in decision.approvals:  # a plugin's own list need not be in ladder order
            merged.setdefault(approval.role, []).extend(approval.rules)
    approvals = sort_approvals(merged, ladder)
    reasons = [r for d in decisions for r in d.reasons]
    if len(reasons) > 1:
        reasons.sort(key=_reason_key)
    notifications = [n for d in decisions for n in d.notifications]
    if len(notifications) > 1:
        notifications.sort(key=lambda n: (n.role, n.rule, n.message))
    pricing = [d.pricing for d in decisions if d.pricing is not None]
    failures = sorted({d.failure for d in decisions if d.failure})
    update = {
        "outcome": outcome,
        "approvals": approvals,
        "notifications": notifications,
        "reasons": reasons,
        "trace": Trace.concat([d.trace for d in decisions]),
        "pricing": _combine_pricing(pricing) if pricing else None,
        "credit": next((d.credit for d in decisions if d.credit is not None), None),
        "returns": next((d.returns for d in decisions if d.returns is not None), None),
        "outputs": _combine_outputs(decisions),
        "failure": "; ".join(failures) or None,
    }
    if type(first) is Decision and first.model_fields_set | _UPDATED == _DECISION_FIELDS:
        # What model_copy(update=...) gives (same values, order and fields set), without copying.
        kept = first.__dict__
        return Decision.assemble({name: update[name] if name in update else kept[name]
                                  for name in Decision.__trusted__[0]})
    return first.model_copy(update=update)


def _combine_outputs(decisions: Sequence[Decision]) -> dict[str, Any]:
    """Several plugins' outputs: each output from the first plugin (in name order) that sets it."""
    out: dict[str, Any] = {}
    for decision in decisions:
        for name, value in decision.outputs.items():
            out.setdefault(name, value)
    return out


def _payload_only(decision: Decision) -> bool:
    """An ``allow`` that only carries figures (as the ``credit`` plugin's): nothing to merge but them."""
    return (decision.outcome is Outcome.allow and not decision.approvals and not decision.reasons
            and not decision.notifications and decision.failure is None and decision.pricing is None
            and decision.returns is None and not decision.trace and not decision.outputs)


def _with_payloads(decisions: Sequence[Decision], ladder: Sequence[str]) -> Decision | None:
    """:func:`combine` when one decision decides and the others only add figures (the ``credit``
    plugin's exposure, say): the same result, field for field, without re-merging what only one
    plugin said. None when that is not the case (then the general merge runs)."""
    main: Decision | None = None
    for decision in decisions:
        if type(decision) is not Decision:
            return None
        if not _payload_only(decision):
            if main is not None:
                return None
            main = decision
    if main is None or main.pricing is not None:
        return None
    first = decisions[0]
    data = dict(first.__dict__)
    merged: dict[str, list[str]] = {}
    for approval in main.approvals:
        merged.setdefault(approval.role, []).extend(approval.rules)
    reasons = list(main.reasons)
    if len(reasons) > 1:
        reasons.sort(key=_reason_key)
    notifications = list(main.notifications)
    if len(notifications) > 1:
        notifications.sort(key=lambda n: (n.role, n.rule, n.message))
    data.update(outcome=main.outcome, approvals=sort_approvals(merged, ladder), notifications=notifications,
                reasons=reasons, trace=main.trace, pricing=None,
                credit=next((d.credit for d in decisions if d.credit is not None), None),
                returns=main.returns, outputs=_combine_outputs(decisions), failure=main.failure or None)
    fields_set = first.model_fields_set | _UPDATED
    return Decision.assemble(data, None if fields_set == _DECISION_FIELDS else set(fields_set))


_DECISION_FIELDS = frozenset(Decision.model_fields)
_UPDATED = frozenset({"outcome", "approvals", "notifications", "reasons", "trace", "pricing", "credit", "returns",
                      "outputs", "failure"})
