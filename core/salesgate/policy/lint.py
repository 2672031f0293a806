"""Warnings about a policy that loads but probably does not say what its owner meant.

A policy that loads is well formed: every fact exists, every type fits. These checks look at what
the checked rules *mean* (:mod:`salesgate.policy.ir`) and point at what validation alone let
through and only a test, or a customer, would have noticed:

* ``overlapping-ranges``: two rules of one rule set with the same kind of effect whose ranges on a
  fact overlap, one of them a band (``>= 20000 and < 100000``): raising ``large-order`` to 50,000
  left ``medium-order`` covering 20,000–100,000, and an order of 60,000 matched both;
* ``unreachable-condition``: a conjunction whose constraints on one fact leave no value
  (``order.total > 30000 and order.total < 20000``; ``customer.grade == "A" and customer.grade == "B"``),
  or on one function call or aggregate, whose values a function may also bound (``month(d) == 13``,
  ``weekday(today) > 7``, ``count(...) < 0``);
* ``rate-above-one``: a rate (``line.discount``: 0.15 is 15%; also the ``min``, ``max`` or ``avg`` of
  one) compared with a number above 1, which no rate reaches (``line.discount > 15``: did you mean 15%?);
* ``message-amount``: a message whose amount is none of its rule's thresholds (a "10 万元" message
  on a 50,000 rule);
* ``unused-fact``, ``unused-output``: a fact the policy declares (``policy.yaml`` ``facts:``,
  ``points/*.yaml`` ``fields:``) or an output no rule reads or sets;
* ``version-gap``: versions of a rule, or of a rule set, (names alike but for a year or a version
  number: ``limit-2026``, ``limit-2027``) whose ``effective:`` days leave days covered by none of them.

A function call or an aggregate is analysed like a fact: the same expression (``sum(line.amount for
line in order.lines)`` twice) is one subject of the ranges. A dated rule's window is part of its
condition (comparisons on ``today``, :func:`~salesgate.policy.effective.window_conditions`): it tells
two rules apart like any fact, but is never itself the overlap reported, and a condition it makes
unreachable names the ``effective:`` rather than comparisons the owner never wrote.

``salesgate validate`` prints them and still exits 0; ``--strict`` makes them errors. Each warning
names file:line, the rule and a code, like the errors of :class:`~salesgate.errors.PolicyProblem`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import combinations
from pathlib import Path
from typing import Any

from ..errors import PolicyError
from ..vocabulary import EXTENSIBLE
from .compiler import POLICY_FILE, CompiledRule, Policy
from .effective import Effective, window_conditions
from .evaluator import describe_expr
from .ir import SWAPPED, Aggregate, And, Call, Compare, CompareOp, Cond, Const, Expr, Or, Quantified, Ref, walk_refs
from .yamlfile import LineDict, load_yaml

Value = Decimal | int | date | str | bool

CODES = ("overlapping-ranges", "unreachable-condition", "rate-above-one", "message-amount", "unused-fact",
         "unused-output", "version-gap")
"""Every warning's code, as ``salesgate validate`` prints it in brackets."""


@dataclass(frozen=True)
class LintWarning:
    """One thing a loaded policy probably gets wrong, located like a :class:`~salesgate.errors.PolicyProblem`."""

    path: str
    line: int | None
    rule: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        rule = f", rule {self.rule!r}" if self.rule else ""
        return f"{where}{rule}: warning [{self.code}]: {self.message}"


# -- ranges -----------------------------------------------------------------------------------------

@dataclass
class _Range:
    """What a conjunction allows one fact to be: between two bounds, one of some values, none of others."""

    low: Value | None = None
    low_open: bool = False
    high: Value | None = None
    high_open: bool = False
    equal: Value | None = None
    equal_conflict: bool = False
    not_equal: frozenset[Value] = frozenset()
    integral: bool = False
    """Only whole numbers (a month, a count): ``month(d) > 11 and month(d) < 12`` leaves none."""

    def add(self, op: CompareOp, value: Value) -> None:
        if op == "==":
            if self.equal is not None and self.equal != value:
                self.equal_conflict = True
            self.equal = value
        elif op == "!=":
            self.not_equal = self.not_equal | {value}
        elif op in (">", ">="):
            if self.low is None or value > self.low or (value == self.low and op == ">"):  # type: ignore[operator]
                self.low, self.low_open = value, op == ">"
        elif self.high is None or value < self.high or (value == self.high and op == "<"):  # type: ignore[operator]
            self.high, self.high_open = value, op == "<"

    @property
    def bounded(self) -> bool:
        """A band: both a lower and an upper bound (``>= 20000 and < 100000``)."""
        return self.low is not None and self.high is not None

    def empty(self) -> bool:
        if self.equal_conflict:
            return True
        if self.equal is not None:
            if self.equal in self.not_equal:
                return True
            if isinstance(self.equal, bool | str):
                return False
            return not self._within(self.equal) or (self.integral and self._no_whole_number())
        if self.low is not None and self.high is not None:
            if self.low > self.high:  # type: ignore[operator]
                return True
            if self.low == self.high and (self.low_open or self.high_open):
                return True
            if self.low == self.high and self.low in self.not_equal:
                return True
        return self.integral and self._no_whole_number()

    def _no_whole_number(self) -> bool:
        if self.equal is not None:
            return isinstance(self.equal, Decimal) and self.equal != self.equal.to_integral_value()
        if not all(isinstance(v, Decimal | int) and not isinstance(v, bool) for v in (self.low, self.high)):
            return False
        low, high = Decimal(self.low), Decimal(self.high)  # type: ignore[arg-type]
        first = low.to_integral_value(ROUND_FLOOR) + 1 if self.low_open else low.to_integral_value(ROUND_CEILING)
        last = high.to_integral_value(ROUND_CEILING) - 1 if self.high_open else high.to_integral_value(ROUND_FLOOR)
        return first > last

    def _within(self, value: Value) -> bool:
        try:
            if self.low is not None and (value < self.low or (value == self.low and self.low_open)):  # type: ignore[operator]
                return False
            if self.high is not None and (value > self.high or (value == self.high and self.high_open)):  # type: ignore[operator]
                return False
        except TypeError:  # pragma: no cover - the checker compares like with like
            return True
        return True

    def meet(self, other: _Range) -> _Range:
        both = _Range(not_equal=self.not_equal | other.not_equal, integral=self.integral or other.integral)
        for source in (self, other):
            if source.low is not None:
                both.add(">" if source.low_open else ">=", source.low)
            if source.high is not None:
                both.add("<" if source.high_open else "<=", source.high)
            if source.equal is not None:
                both.add("==", source.equal)
            both.equal_conflict = both.equal_conflict or source.equal_conflict
        return both

    def text(self, fact: str) -> str:
        if self.equal is not None:
            return f"{fact} == {_shown(self.equal)}"
        parts = []
        if self.low is not None:
            parts.append(f"{fact} {'>' if self.low_open else '>='} {_shown(self.low)}")
        if self.high is not None:
            parts.append(f"{fact} {'<' if self.high_open else '<='} {_shown(self.high)}")
        return " and ".join(parts) or fact


def _shown(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return f"{value:,}"
    if isinstance(value, date):
        return f'date("{value.isoformat()}")'
    return f'"{value}"'


def _constraint(cond: Cond) -> tuple[Expr, CompareOp, Value] | None:
    """``subject op constant`` as (subject, op, constant), the subject a fact, a call, an aggregate or
    arithmetic (``constant op subject`` turned round); None for anything else (two facts compared)."""
    if not isinstance(cond, Compare):
        return None
    if isinstance(cond.right, Const) and not isinstance(cond.left, Const):
        return cond.left, cond.op, cond.right.value
    if isinstance(cond.left, Const) and not isinstance(cond.right, Const):
        return cond.right, SWAPPED[cond.op], cond.left.value
    return None


_BOUNDS: dict[str, tuple[int, int]] = {"month": (1, 12), "quarter": (1, 4), "weekday": (1, 7), "year": (1, 9999)}
"""The values a function of a date can give (weekday: 1 is Monday, 7 Sunday)."""
_WHOLE = {"month", "quarter", "weekday", "year", "days_between", "business_days_between"}


def _domain(subject: Expr) -> tuple[_Range, str] | None:
    """The values ``subject`` can take whatever the facts are, and that in words; None: any value of its kind."""
    if isinstance(subject, Call) and subject.func in _WHOLE:
        known = _Range(integral=True)
        bounds = _BOUNDS.get(subject.func)
        if bounds is None:
            return known, "a whole number"
        known.add(">=", bounds[0])
        known.add("<=", bounds[1])
        return known, f"a whole number from {bounds[0]} to {bounds[1]}"
    if isinstance(subject, Aggregate) and subject.func == "count":
        known = _Range(integral=True)
        known.add(">=", 0)
        return known, "a whole number, 0 or more"
    return None


def _possible(subject: Expr, allowed: _Range) -> _Range:
    """``allowed`` narrowed to what ``subject`` can be at all."""
    known = _domain(subject)
    return allowed if known is None else allowed.meet(known[0])


def _ranges(items: Iterable[Cond]) -> dict[Expr, _Range]:
    """The range each fact (or call, or aggregate) is held to by the ``subject op constant`` parts of
    one conjunction."""
    ranges: dict[Expr, _Range] = {}
    for item in items:
        found = _constraint(item)
        if found is not None:
            key, op, value = found
            ranges.setdefault(key, _Range()).add(op, value)
    return ranges


def _conjunctions(cond: Cond) -> Iterator[tuple[Cond, ...]]:
    """Every conjunction written in a condition, however deep (inside ``or`` and ``any``/``all`` too);
    a comparison on its own is a conjunction of one (``weekday(today) > 7``)."""
    if isinstance(cond, Compare):
        yield (cond,)
    elif isinstance(cond, And):
        yield cond.items
        for item in cond.items:
            if not isinstance(item, Compare):
                yield from _conjunctions(item)
    elif isinstance(cond, Or):
        for item in cond.items:
            yield from _conjunctions(item)
    elif isinstance(cond, Quantified):
        yield from _conjunctions(cond.cond)


def _comparisons(cond: Cond) -> Iterator[Compare]:
    """Every comparison of a condition, however deep."""
    if isinstance(cond, Compare):
        yield cond
    elif isinstance(cond, And | Or):
        for item in cond.items:
            yield from _comparisons(item)
    elif isinstance(cond, Quantified):
        yield from _comparisons(cond.cond)


def _window_items(rule: CompiledRule) -> tuple[Cond, ...]:
    """The comparisons on ``today`` the compiler put in front of a dated rule's condition (its window)."""
    if rule.effective is None or not isinstance(rule.cond, And):
        return ()
    dated = window_conditions(rule.effective)
    return dated if rule.cond.items[:len(dated)] == dated else ()


def _top_ranges(rule: CompiledRule) -> tuple[dict[Expr, _Range], dict[Expr, _Range]] | None:
    """The ranges of a condition that is one conjunction (or one comparison): those its owner wrote,
    and those with its window on ``today`` too; None when it has an ``or`` at the top, whose branches
    may each hold a different range."""
    cond = rule.cond
    if isinstance(cond, Compare):
        return _ranges((cond,)), _ranges((cond,))
    if isinstance(cond, And):
        window = _window_items(rule)
        return _ranges(cond.items[len(window):]), _ranges(cond.items)
    return None


def _unreachable(rule: CompiledRule) -> Iterator[LintWarning]:
    window = _window_items(rule)
    for items in _conjunctions(rule.cond):
        for subject, allowed in _ranges(items).items():
            if not _possible(subject, allowed).empty():
                continue
            on_subject = [item for item in items if (_constraint(item) or (None,))[0] == subject]
            written = " and ".join([_text_of(item) for item in on_subject if item not in window] + (
                [f"its effective: {rule.effective.describe()}"]
                if rule.effective is not None and any(item in window for item in on_subject) else []))
            whole = (isinstance(rule.cond, And) and items == rule.cond.items) or (items == (rule.cond,))
            never = "the rule never fires" if whole else "this part of the condition is never true"
            known = _domain(subject)
            bound = f" ({_named(subject)} is {known[1]})" if known is not None and not allowed.empty() else ""
            yield LintWarning(rule.file, rule.line, rule.id, "unreachable-condition",
                              f"no {_named(subject)} can satisfy {written}{bound}, so {never}: check the comparison "
                              "signs and the numbers")


def _named(subject: Expr) -> str:
    return subject.path if isinstance(subject, Ref) else describe_expr(subject)


def _text_of(cond: Cond) -> str:
    found = _constraint(cond)
    if found is None:  # pragma: no cover - only constraints are shown
        return ""
    subject, op, value = found
    return f"{_named(subject)} {op} {_shown(value)}"


def _effect_kind(rule: CompiledRule) -> tuple[str, str, str]:
    return rule.ruleset, rule.action.outcome.value, rule.scope


def _overlaps(rules: Iterable[CompiledRule]) -> Iterator[LintWarning]:
    Ranges = tuple[dict[Expr, _Range], dict[Expr, _Range]]
    by_kind: dict[tuple[str, str, str], list[tuple[CompiledRule, Ranges]]] = {}
    for rule in rules:
        if rule.table is not None:
            continue  # a decision table's rows overlap as its hit policy says (unique ones never: refused at load)
        ranges = _top_ranges(rule)
        if ranges and ranges[0]:
            by_kind.setdefault(_effect_kind(rule), []).append((rule, ranges))
    for group in by_kind.values():
        for i, j in _candidate_pairs([ranges[1] for _, ranges in group]):
            (first, (first_own, first_all)), (second, (second_own, second_all)) = group[i], group[j]
            shared = [key for key in first_own if key in second_own]
            numeric = [key for key in shared if _ordered(first_own[key]) and _ordered(second_own[key])]
            if not numeric:
                continue
            if any(_possible(key, first_all[key].meet(second_all[key])).empty()
                   for key in first_all if key in second_all):
                continue  # they never both match (another fact, this one, or their dates tell them apart)
            for key in numeric:
                one, other = first_own[key], second_own[key]
                if not (one.bounded or other.bounded):
                    continue  # two open-ended thresholds (> 50,000; > 100,000) are a ladder, meant to nest
                overlap = one.meet(other)
                fact = _named(key)
                yield LintWarning(
                    second.file, second.line, second.id, "overlapping-ranges",
                    f"its range {other.text(fact)} overlaps rule {first.id!r} ({first.file}:{first.line}: "
                    f"{one.text(fact)}) on {overlap.text(fact)}, and both {_effect_words(first)}: an order there "
                    "matches both; make the ranges meet without overlapping (one ends with <, the next starts "
                    "with >= at the same amount)")
                break


def _candidate_pairs(ranges: list[dict[Expr, _Range]]) -> list[tuple[int, int]]:
    """Index pairs of rules that may both match, in the order of ``combinations``: every pair but those
    held to different values of one fact (``customer.region == "north"``, ``== "west"``), which never
    do. Rules are grouped by such values first, so a rule set of 3,000 rules keyed by region or
    product compares each rule with its own group's, not with the 4.5 million pairs of all."""
    pairs: set[tuple[int, int]] = set()
    _split(ranges, tuple(range(len(ranges))), frozenset(), pairs)
    return sorted(pairs)


def _split(ranges: list[dict[Expr, _Range]], indices: tuple[int, ...], used: frozenset[Expr],
           pairs: set[tuple[int, int]]) -> None:
    """Add the pairs among ``indices``: split by the values of the fact that leaves the fewest pairs (a
    rule not held to one value of it in every group), then each group by the other facts."""
    if len(indices) < 2:
        return
    keys = {key for index in indices for key, allowed in ranges[index].items()
            if allowed.equal is not None and key not in used}
    best: tuple[int, Expr, list[tuple[int, ...]]] | None = None  # (pairs left, fact, groups)
    for key in keys:
        by_value: dict[Value, list[int]] = {}
        everywhere: list[int] = []
        for index in indices:
            allowed = ranges[index].get(key)
            if allowed is None or allowed.equal is None or allowed.equal_conflict:
                everywhere.append(index)
            else:
                by_value.setdefault(allowed.equal, []).append(index)
        if not by_value:
            continue
        groups = [tuple(sorted({*group, *everywhere})) for group in by_value.values()]
        left = sum(len(group) * (len(group) - 1) // 2 for group in groups)
        if best is None or left < best[0]:
            best = (left, key, groups)
    if best is None or best[0] >= len(indices) * (len(indices) - 1) // 2:
        pairs.update(combinations(indices, 2))  # no value tells these rules apart
        return
    for group in best[2]:
        _split(ranges, group, used | {best[1]}, pairs)


def _ordered(allowed: _Range) -> bool:
    values = [v for v in (allowed.low, allowed.high) if v is not None]
    return bool(values) and all(isinstance(v, Decimal | int | date) and not isinstance(v, bool) for v in values)


def _effect_words(rule: CompiledRule) -> str:
    return {"block": "block", "warn": "warn", "require_approval": "ask for approval",
            "allow": "allow"}.get(rule.action.outcome.value, rule.action.outcome.value)


# -- rates --------------------------------------------------------------------------------------------

def _unit(subject: Expr, units: Mapping[str, str]) -> str | None:
    """What a fact, or an aggregate of one, measures: the ``min``, ``max`` or ``avg`` of rates is a rate, of
    money money; a ``sum`` of money is money, but a sum of rates is no rate (three 50% discounts sum to 1.5)."""
    if isinstance(subject, Ref):
        return units.get(subject.path)
    if isinstance(subject, Aggregate) and subject.value is not None and subject.func != "count":
        unit = _unit(subject.value, units)
        return unit if subject.func != "sum" or unit == "money" else None
    return None


def _rates(rule: CompiledRule, units: Mapping[str, str]) -> Iterator[LintWarning]:
    for item in _comparisons(rule.cond):
        found = _constraint(item)
        if found is None:
            continue
        subject, op, value = found
        fact = _named(subject)
        if _unit(subject, units) != "rate" or isinstance(value, bool) or not isinstance(value, Decimal | int):
            continue
        if abs(Decimal(value)) > 1:
            yield LintWarning(rule.file, rule.line, rule.id, "rate-above-one",
                              f"{fact} is a rate (0.15 is 15%), so '{fact} {op} {value}' compares it with "
                              f"{value}00% and is never true: did you mean {value}%?")


# -- message amounts ---------------------------------------------------------------------------------------

_NUMBER = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_ZH_AMOUNT = re.compile(r"(?<![\d,.])" + _NUMBER + r"\s*(亿|万|千)?\s*(元)?")
_EN_AMOUNT = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?[kK](?!\w)"
                        r"|\d+(?:\.\d+)?\s*million)")
_SCALE = {"亿": Decimal(100_000_000), "万": Decimal(10_000), "千": Decimal(1_000)}


def message_amounts(text: str) -> list[Decimal]:
    """The amounts of money a message states: ``10 万元``, ``3千元``, ``5000元`` (Chinese) and
    ``100,000``, ``100k``, ``1.5 million`` (English). A bare number (``365``, ``3``) is not an amount."""
    found: list[Decimal] = []
    for match in _ZH_AMOUNT.finditer(text):
        number, scale, yuan = match.groups()
        if scale or yuan:
            found.append(Decimal(number.replace(",", "")) * _SCALE.get(scale or "", Decimal(1)))
    for match in _EN_AMOUNT.finditer(text):
        written = match.group(1).replace(",", "").strip()
        if written[-1] in "kK":
            found.append(Decimal(written[:-1]) * 1000)
        elif written.endswith("million"):
            found.append(Decimal(written.removesuffix("million").strip()) * 1_000_000)
        else:
            found.append(Decimal(written))
    return found


def _money_thresholds(rule: CompiledRule, units: Mapping[str, str]) -> set[Decimal]:
    out: set[Decimal] = set()
    for item in _comparisons(rule.cond):
        found = _constraint(item)
        if found is not None and _unit(found[0], units) == "money" and isinstance(found[2], Decimal | int) \
                and not isinstance(found[2], bool):
            out.add(Decimal(found[2]))
    return out


def _message_amounts(rule: CompiledRule, units: Mapping[str, str]) -> Iterator[LintWarning]:
    thresholds = _money_thresholds(rule, units)
    if not thresholds:
        return
    action = rule.action
    if action.message in (rule.description, rule.id):
        return  # no message was written: the description stands in for it
    for language, text in [("", action.message), *action.translations.items()]:
        for amount in message_amounts(text):
            if amount not in thresholds:
                listed = ", ".join(f"{t:,}" for t in sorted(thresholds))
                yield LintWarning(rule.file, rule.line, rule.id, "message-amount",
                                  f"the message{f' ({language})' if language else ''} says {amount:,} but the "
                                  f"rule's {'threshold is' if len(thresholds) == 1 else 'thresholds are'} {listed}: "
                                  f"change the message or the condition: {text!r}")
                break


# -- unused declarations -----------------------------------------------------------------------------------

def _used_paths(policy: Policy) -> set[str]:
    used: set[str] = set()
    for rule in policy.rules:
        used.update(rule.reads)
        action = rule.action
        for formula in (action.set_price, action.floor, *(value for _, value in action.outputs)):
            if formula is not None:
                used.update(ref.path for ref in walk_refs(formula))
    return used


def _declared_at(path: Path, *keys: str) -> dict[str, tuple[int, bool]]:
    """Each key under ``keys`` of a YAML file (``facts`` of policy.yaml, ``fields`` of a point) with
    its line and whether it is declared ``record: true`` (for people: no rule need read it)."""
    try:
        data: Any = load_yaml(path)
    except PolicyError:  # pragma: no cover - the policy loaded, so its files read
        return {}
    for key in keys:
        if not isinstance(data, LineDict) or key not in data:
            return {}
        data = data[key]
    if not isinstance(data, LineDict):
        return {}
    return {key: (line, isinstance(data.get(key), dict) and data[key].get("record") is True)
            for key, line in data.key_lines.items()}


def _unused(policy: Policy) -> Iterator[LintWarning]:
    used = _used_paths(policy)
    root = Path(policy.source)
    directory = root if root.is_dir() else root.parent
    meta = directory / POLICY_FILE
    extras = _declared_at(meta, "facts") if meta.exists() else {}
    reported: set[str] = set()
    for declared_as, (line, record) in extras.items():
        prefix, _, name = declared_as.partition(".")
        read_as = f"{EXTENSIBLE.get(prefix, prefix)}.{name}"
        info = next((v[read_as] for v in policy.vocabulary.values() if read_as in v), None)
        if record or read_as in used or declared_as in reported or (info is not None and info.kind.value == "text"):
            continue
        reported.add(declared_as)
        yield LintWarning(str(meta), line, None, "unused-fact",
                          f"the fact {declared_as} is declared but no rule reads it: write the rule that needs it, "
                          "remove it, or mark it 'record: true' if it is there for people reading the decisions")
    for point, spec in policy.points.items():
        if spec.built_in or not spec.source.endswith((".yaml", ".yml")):
            continue  # a plugin's document is its code's, not the policy owner's
        source = directory / spec.source if not Path(spec.source).is_absolute() else Path(spec.source)
        if not source.exists():
            continue
        for name, (line, record) in _declared_at(source, "fields").items():
            path = f"{spec.root}.{name}"
            info = policy.vocabulary[point].get(path)
            if record or info is None or path in used or path == spec.subject or name.endswith("_id") \
                    or info.kind.value == "text":
                continue  # its identity, a reference to another document, and text people know it by
            if info.kind.value == "list" and any(p.startswith(f"{info.element}.") for p in used):
                continue
            yield LintWarning(str(source), line, None, "unused-fact",
                              f"the field {name} of {point} ({path}) is declared but no rule reads it: write the rule "
                              "that needs it, remove it, or mark it 'record: true' if it is there for people reading "
                              "the decisions")
    set_somewhere = {(rule.hook, name) for rule in policy.rules for name, _ in rule.action.outputs}
    for point, spec in policy.points.items():
        if not spec.built_in and not spec.source.endswith((".yaml", ".yml")):
            continue  # a plugin's point: its outputs are the plugin's, whether this policy sets them or not
        for output in spec.declared_outputs:
            if (point, output.name) in set_somewhere:
                continue
            keys: tuple[str, ...] = ("outputs", point) if spec.built_in else ("outputs",)
            source = meta if spec.built_in else directory / spec.source
            at = _declared_at(source, *keys).get(output.name)
            yield LintWarning(str(source), at[0] if at else None, None, "unused-output",
                              f"the output {output.name} of {point} is declared but no rule sets it: write "
                              f"'then: set: {{{output.name}: ...}}' in a rule at {point}, or remove it")


# -- versions ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Dated:
    """A rule, or a rule set, in force only some days: one version of what its name, numbers aside, names."""

    what: str  # "rule" or "rule set"
    name: str
    window: Effective
    path: str
    line: int | None


_VERSION_MARK = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}(?:[-_.]?[0-9]{1,2}){0,2}(?![0-9])"
                           r"|(?<![A-Za-z0-9])[vV][0-9]+(?:\.[0-9]+)*(?![0-9])")
"""What tells versions of one rule apart in their names: a year (``2026``, ``2026-12``, ``20261201``) or a
version number (``v2``, ``v2.1``); not any number (``tier1``, ``tier2`` are two rules, not two versions)."""


def _stem(name: str) -> str | None:
    """A version's name without its year or version number (``limit-2026`` → ``limit``); None for a name
    with neither."""
    if not _VERSION_MARK.search(name):
        return None
    return re.sub(r"[-_.\s]+", "-", _VERSION_MARK.sub("", name)).strip("-") or "#"


def _dated(policy: Policy) -> Iterator[tuple[str, _Dated]]:
    """Every dated rule set and every rule with dates of its own, with the decision point it decides at."""
    hooks = {rule.ruleset: (rule.hook, rule.file) for rule in policy.rules}
    for name, window in policy.windows.items():
        if name in hooks:
            hook, path = hooks[name]
            yield hook, _Dated("rule set", name, window, path, _key_line(path, "effective"))
    for rule in policy.rules:
        if rule.effective is not None and rule.table is None and rule.effective != policy.windows.get(rule.ruleset):
            yield rule.hook, _Dated("rule", rule.id, rule.effective, rule.file, rule.line)


def _key_line(path: str, key: str) -> int | None:
    try:
        data: Any = load_yaml(Path(path))
    except PolicyError:  # a decision table's rows read from a spreadsheet: no YAML line to point at
        return None
    return data.key_lines.get(key) if isinstance(data, LineDict) else None


def _version_gaps(policy: Policy) -> Iterator[LintWarning]:
    """Days no version covers, between the first version's start and the last one's end.

    Versions are the dated rules (or rule sets) of one decision point whose names differ only in a year
    or a version number (:func:`_stem`), at least one of them open-ended (``until:`` alone: the version
    in force until the next; ``from:`` alone: the version in force from now on). Names alike whose every
    window is closed (``promo-2026``, ``promo-2027``: each December) are seasons, with gaps by design."""
    lines: dict[tuple[str, str, str], list[_Dated]] = {}
    for hook, dated in _dated(policy):
        stem = _stem(dated.name)
        if stem is not None:
            lines.setdefault((hook, dated.what, stem), []).append(dated)
    for versions in lines.values():
        if len(versions) < 2 or all(v.window.start and v.window.end for v in versions):
            continue
        versions.sort(key=lambda v: (v.window.start or date.min, v.window.end or date.max))
        covered, last = versions[0].window.end, versions[0]
        for version in versions[1:]:
            if covered is None:
                break
            start = version.window.start
            if start is not None and start > covered:
                yield LintWarning(
                    version.path, version.line, version.name if version.what == "rule" else None, "version-gap",
                    f"{version.what} {version.name!r} is in force from {start.isoformat()}, but {last.name!r} "
                    f"({last.path}:{last.line or 1}), the version before it, is in force until {covered.isoformat()} "
                    f"(the first day no longer in force): from {covered.isoformat()} until {start.isoformat()} "
                    f"neither is; start {version.name!r} from {covered.isoformat()}, or end {last.name!r} until "
                    f"{start.isoformat()}")
            if version.window.end is None or version.window.end > covered:
                covered, last = version.window.end, version


# -- the whole policy ------------------------------------------------------------------------------------------

def lint_policy(policy: Policy) -> list[LintWarning]:
    """Every warning about a loaded policy, in file and line order (none for a policy that says what it means)."""
    warnings: list[LintWarning] = []
    for point, vocabulary in policy.vocabulary.items():
        units = {path: info.unit for path, info in vocabulary.items()}
        rules = policy.rules_for(point)
        for rule in rules:
            warnings.extend(_unreachable(rule))
            warnings.extend(_rates(rule, units))
            warnings.extend(_message_amounts(rule, units))
        warnings.extend(_overlaps(rules))
    warnings.extend(_unused(policy))
    warnings.extend(_version_gaps(policy))
    unique = list(dict.fromkeys(warnings))
    return sorted(unique, key=lambda w: (w.path, w.line or 0, w.code))
