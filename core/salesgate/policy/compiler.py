"""Load a policy directory and compile it: YAML → validated models → type-checked rules → stages.

A policy that loads is fully checked: every problem in every file is collected and raised
together as one :class:`~salesgate.errors.PolicyError`, each naming file:line, rule and field.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from ..decisions import Outcome, PolicyRef
from ..documents import FieldSpec, FieldType, OutputSpec
from ..errors import PolicyError, PolicyProblem, did_you_mean
from ..pointspecs import POINT_SPECS, PointSpec
from ..prices import PriceStep
from ..vocabulary import VOCABULARY, FactInfo, point_vocabulary
from . import expressions
from .calendarfiles import CALENDARS_DIRECTORY, calendar_files, load_calendars
from .calendars import Calendar
from .checker import CheckError, Context, check_condition, check_value
from .datafiles import data_files, load_tables
from .declarations import (
    POINTS_DIRECTORY,
    built_in_outputs,
    extended_documents,
    history_facts,
    load_extras,
    load_points,
    point_files,
)
from .effective import Effective, EffectiveError, parse_effective, window_conditions
from .effects import CompiledAction, LineChanges, RuleEffect, rule_effect, rule_line_changes
from .evaluator import Getter, compile_expr
from .functions import CALENDAR
from .ir import Always, And, Cond, Const, Expr, Kind, walk_refs
from .limits import MAX_NUMBER, MAX_POLICY_BYTES, PRICE_CEILING, excerpt
from .plainwords import merged, plain_message
from .schema import Action, Message, PolicyFile, Rule, RuleSetFile, Table
from .stages import EngineRule, Stage
from .tablefiles import TABLES_DIRECTORY, Sheet, read_sheet, table_files
from .tables import DecisionTable, ExpandedRow, expand, input_columns
from .yamlfile import LineDict, line_of, load_yaml

POLICY_FILE = "policy.yaml"
@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run: where it came from, what it reads, when it fires, what it does."""

    id: str
    ruleset: str
    ruleset_version: str
    hook: str
    file: str
    line: int
    priority: int
    scope: str
    when: str
    cond: Cond
    reads: tuple[str, ...]
    action: CompiledAction
    stage: str
    description: str | None = None
    effective: Effective | None = None
    """The days the rule is in force (its own ``effective:`` within its rule set's); None: always. ``cond``
    already holds the window as conditions on ``today``, so no backend needs to know of it."""

    def in_force(self, day: date) -> bool:
        """Whether the rule is in force on ``day`` (every rule without ``effective:`` always is)."""
        return self.effective is None or self.effective.in_force(day)
    table: str | None = None
    """The decision table this rule is a row of (its rule set's name), else None."""

    @cached_property
    def effect(self) -> RuleEffect:
        """What firing this rule adds to a decision: worked out on first use, kept with the rule."""
        return rule_effect(self.id, self.action)

    @cached_property
    def output_getters(self) -> tuple[tuple[str, Getter], ...]:
        """Each output this rule sets, with its value's getter over the facts, compiled on first use."""
        return tuple((name, compile_expr(expr)) for name, expr in self.action.outputs)

    @cached_property
    def line_changes(self) -> LineChanges:
        """What this rule does to a line's price, its formulas compiled on first use."""
        return rule_line_changes(self.action)

    @cached_property
    def fixed_price_step(self) -> PriceStep[CompiledRule] | None:
        """This rule's step of the price algebra when it has no formula and no floor (the same for
        every decision, so worked out once per rule), else None: its formulas need the line."""
        floor, kinds, stop = self.line_changes
        if floor is not None or any(formula is not None for _, _, formula in kinds):
            return None
        return (tuple((kind, value, self) for kind, value, _ in kinds if value is not None), (), stop)


@dataclass(frozen=True)
class Policy:
    """A loaded, checked policy: immutable, so a running gate can swap it atomically."""

    name: str
    version: str
    hash: str
    roles: tuple[str, ...]
    language: str
    failure_mode: str
    source: str
    rules: tuple[CompiledRule, ...]
    files: tuple[str, ...] = ()
    rulesets: Mapping[str, str] = field(default_factory=dict)  # ruleset name → version
    points: Mapping[str, PointSpec] = field(default_factory=lambda: POINT_SPECS)
    """Every decision point this policy decides at, by name: the built-in ones (their documents extended
    by the policy's declared facts), those installed plugins declare, and those its ``points/`` declares."""
    vocabulary: Mapping[str, Mapping[str, FactInfo]] = field(default_factory=lambda: VOCABULARY)
    """By point: every fact its rules may read (``salesgate vocab``)."""
    timezone: str = "UTC"
    """The company's time zone (``policy.yaml`` ``timezone:``): what day it is for a decision given no as-of date."""
    windows: Mapping[str, Effective] = field(default_factory=dict)
    """The rule sets with an ``effective:`` window, by name (those without one are always in force)."""

    def today(self) -> date:
        """Today in the policy's time zone: the as-of date of a decision the caller gives none."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    def not_in_force(self, day: date) -> tuple[list[str], list[CompiledRule]]:
        """(rule sets, rules) not in force on ``day``: what ``salesgate validate --as-of`` lists."""
        return ([name for name, window in self.windows.items() if not window.in_force(day)],
                [rule for rule in self.rules if not rule.in_force(day)])
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    """The policy's holiday calendars (``calendars/<name>.yaml``), by name."""
    calendar: str | None = None
    """The calendar business-day functions use when a rule names none (``calendar:`` of policy.yaml)."""
    tables: Mapping[str, DecisionTable] = field(default_factory=dict)
    """The decision tables, by rule set name: their columns and rows (hit policy, gaps, export)."""

    def point(self, name: str) -> PointSpec:
        """The declaration of decision point ``name``; KeyError with a did-you-mean when there is none."""
        spec = self.points.get(name)
        if spec is None:
            suggestion = did_you_mean(name, list(self.points))
            hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
            raise KeyError(f"unknown decision point {name!r}{hint}: this policy decides at {', '.join(self.points)}")
        return spec

    def rules_for(self, point: str) -> tuple[CompiledRule, ...]:
        return tuple(r for r in self.rules if r.hook == point)

    def rulesets_for(self, point: str) -> dict[str, int]:
        """The rule sets that decide at ``point``, in the order they were loaded, each with its number
        of rules (a rule set holds at least one, so every rule set appears at its point)."""
        counts: dict[str, int] = {}
        for rule in self.rules:
            if rule.hook == point:
                counts[rule.ruleset] = counts.get(rule.ruleset, 0) + 1
        return {name: counts[name] for name in self.rulesets if name in counts}

    @cached_property
    def rules_by_stage(self) -> Mapping[str, tuple[CompiledRule, ...]]:
        """The rules of each engine stage, in policy order: worked out once, read by every decision."""
        grouped: dict[str, list[CompiledRule]] = {}
        for rule in self.rules:
            grouped.setdefault(rule.stage, []).append(rule)
        return MappingProxyType({stage: tuple(rules) for stage, rules in grouped.items()})

    @cached_property
    def stage_positions(self) -> Mapping[str, Mapping[str, int]]:
        """By stage: each rule id's position in :attr:`rules_by_stage`, to put matches in stage order."""
        return MappingProxyType({stage: MappingProxyType({rule.id: i for i, rule in enumerate(rules)})
                                 for stage, rules in self.rules_by_stage.items()})

    @cached_property
    def verdict_cache(self) -> dict[tuple[str, frozenset[tuple[str, int | None]]], Any]:
        """What each match set already seen adds to a decision (see :func:`salesgate.policy.verdict.stage_verdict`)."""
        return {}

    @cached_property
    def shared_parts(self) -> dict[tuple[Any, ...], Any]:
        """The reasons, notifications and approvals the rules give, each built once for every stage verdict
        it appears in (see :func:`salesgate.policy.verdict.shared_part`)."""
        return {}

    @cached_property
    def fact_reads(self) -> Mapping[str, frozenset[str]]:
        """By stage and by decision point: every fact path the rules' conditions and price formulas read,
        which is all a decision needs flattened (``paths`` of :func:`salesgate.facts.order_factset`)."""
        reads: dict[str, set[str]] = {}
        for rule in self.rules:
            paths = set(rule.reads)
            if rule.scope == "line":
                paths.add("order.lines")  # runs once per line, whatever it reads: the lines must be there
            for formula in (rule.action.set_price, rule.action.floor, *(v for _, v in rule.action.outputs)):
                if formula is not None:
                    paths.update(ref.path for ref in walk_refs(formula))
            reads.setdefault(rule.stage, set()).update(paths)
            reads.setdefault(rule.hook, set()).update(paths)
        # Pricing prices every line, whatever its rules read (and with no pricing rules at all).
        reads.setdefault("pricing", set()).add("order.lines")
        return MappingProxyType({name: frozenset(paths) for name, paths in reads.items()})

    @cached_property
    def ref(self) -> PolicyRef:
        """Name, version and content hash, as every decision carries them (one shared value)."""
        return PolicyRef(name=self.name, version=self.version, hash=self.hash)

    def stages(self) -> tuple[Stage, ...]:
        """The engine stages: one per decision point, pricing split into adjust and check."""
        grouped: dict[str, list[CompiledRule]] = {}
        for rule in self.rules:
            grouped.setdefault(rule.stage, []).append(rule)
        return tuple(
            Stage(
                name,
                tuple(EngineRule(r.id, r.priority, "line" if r.scope == "line" else "order", r.cond) for r in rules),
                self.vocabulary[rules[0].hook],
            )
            for name, rules in sorted(grouped.items())
        )


def stage_name(point: str, action: CompiledAction, cond: Cond) -> str:
    if point != "pricing":
        return point
    reads_policy_price = any(ref.path == "line.policy_price" for ref in walk_refs(cond))
    # ``stop`` acts on the adjust stage's sequence of price rules: a stop rule that also blocks or
    # requires must run there, or its stop is silently ignored.
    adjusts = action.changes_price or action.stop
    return "pricing.check" if reads_policy_price or not adjusts else "pricing.adjust"


class _Problems:
    def __init__(self) -> None:
        self.items: list[PolicyProblem] = []

    def add(self, message: str, path: str, line: int | None = None, rule: str | None = None,
            field: str | None = None, suggestion: str | None = None) -> None:
        self.items.append(PolicyProblem(message, path, line, rule, field, suggestion))


def _messages(value: Message | None, language: str) -> tuple[str, dict[str, str]]:
    if value is None:
        return "", {}
    if isinstance(value, str):
        return value, {}
    primary = value.get(language) or next(iter(value.values()))
    return primary, {k: v for k, v in value.items() if v != primary}


def _validation_problems(exc: ValidationError, data: Any, shown: str, problems: _Problems,
                         root: type[PolicyFile] | type[RuleSetFile] = RuleSetFile) -> None:
    found = _Problems()
    _each_validation_problem(exc, data, shown, found, root)
    by_place: dict[tuple[Any, ...], list[PolicyProblem]] = {}
    for problem in found.items:
        by_place.setdefault((problem.path, problem.line, problem.rule, problem.field), []).append(problem)
    for (path, line, rule, where), same in by_place.items():
        messages = merged([p.message for p in same])
        if len(messages) == 1 and len(same) > 1:
            problems.add(messages[0], path or shown, line, rule, where, same[0].suggestion)
        else:
            problems.items.extend(same)


def _each_validation_problem(exc: ValidationError, data: Any, shown: str, problems: _Problems,
                             root: type[PolicyFile] | type[RuleSetFile]) -> None:
    for err in exc.errors():
        loc = err["loc"]
        rule_id = None
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rules = data.get("rules") if isinstance(data, dict) else None
            if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
                rule_id = rules[loc[1]].get("id")
        # pydantic adds union branch names to the location; people want the field path.
        fields = [str(p) for p in loc if isinstance(p, str) and not p.startswith(("str", "dict", "literal"))]
        field = ".".join(fields[-2:] if fields[:1] == ["rules"] else fields) or None
        if fields[:1] == ["rules"]:
            field = ".".join(fields[1:]) or "rules"
        message = plain_message(err)
        suggestion = None
        if err["type"] == "extra_forbidden":
            model_fields = _fields_at(loc, root)
            suggestion = did_you_mean(str(loc[-1]), model_fields) if model_fields else None
            if model_fields:
                message += f"; expected one of: {', '.join(model_fields)}"
            message += _misplaced(loc, data, root)
        problems.add(message, shown, line_of(data, loc), str(rule_id) if rule_id else None, field, suggestion)


def _misplaced(loc: tuple[Any, ...], data: Any, root: type[PolicyFile] | type[RuleSetFile]) -> str:
    """Why an unknown field is there, when the cause is plain: an action's field (``message:``) written
    at the rule's level, or the text after an unquoted comma in ``{block: 太大, 请审批}``, which YAML
    reads as one more field (with no value)."""
    names = [p for p in loc if isinstance(p, str)]
    if root is not RuleSetFile or names[:1] != ["rules"]:
        return ""
    key = str(loc[-1])
    if "then" not in names and key in Action.model_fields:
        return f": '{key}' belongs to the action: indent it under 'then:', as deep as the action's other fields"
    node: Any = data
    for part in loc[:-1]:
        node = node[part] if isinstance(node, dict | list) else None
    if "then" in names and isinstance(node, dict) and node.get(key, "") is None:
        return (": YAML read the text after a comma as a field of its own; put text holding a comma in quotes: "
                f'message: "..., {key}"')
    return ""


def _fields_at(loc: tuple[Any, ...], root: type[PolicyFile] | type[RuleSetFile]) -> list[str]:
    names = [p for p in loc if isinstance(p, str)]
    model: Any = root
    if names[:1] == ["rules"] and len(names) > 1:
        model = Action if "then" in names else Rule
    elif names[:1] == ["table"] and len(names) > 1:
        model = Table
    return list(model.model_fields)


def _compile_rules(
    ruleset: RuleSetFile, data: LineDict, shown: str, ladder: tuple[str, ...], language: str,
    order_base: int, seen: dict[str, str], problems: _Problems, points: Mapping[str, PointSpec],
    vocabularies: Mapping[str, Mapping[str, FactInfo]], policy_data: Mapping[str, Any],
    sheets: Mapping[str, Sheet] | None = None, decision_tables: dict[str, DecisionTable] | None = None,
) -> list[CompiledRule]:
    out: list[CompiledRule] = []
    if ruleset.hook not in points:
        suggestion = did_you_mean(ruleset.hook, list(points))
        problems.add(f"unknown decision point {ruleset.hook!r}: this policy decides at {', '.join(points)}; declare "
                     f"a new one in {POINTS_DIRECTORY}/{ruleset.hook}.yaml (docs/decision-points.md)", shown,
                     data.key_lines.get("hook") or data.key_lines.get("point"), None, "hook", suggestion)
        return out
    spec = points[ruleset.hook]
    set_window = _window(ruleset.effective, shown, data.key_lines.get("effective"), None, problems)
    vocabulary = vocabularies[ruleset.hook]
    has_lines = any(info.kind is Kind.list and info.element == "line" for info in vocabulary.values())
    lang = ruleset.language or language
    entries: list[ExpandedRow] = [
        ExpandedRow(rule, shown, getattr(raw, "line", 0) or 0, getattr(raw, "key_lines", {}))
        for rule, raw in zip(ruleset.rules, data.get("rules") or [], strict=True)]
    table_name = None
    if ruleset.table is not None:
        table_data = data.get("table")
        columns = input_columns(ruleset.table, table_data, shown, ruleset.hook, vocabulary, problems.add, policy_data)
        if columns is None:
            return out
        sheet = (sheets or {}).get(ruleset.table.rows) if isinstance(ruleset.table.rows, str) else None
        if isinstance(ruleset.table.rows, str) and sheet is None:
            return out  # the file could not be read: said where it was read
        loaded, entries = expand(ruleset.table, table_data, shown, ruleset.ruleset, spec, columns, sheet,
                                 problems.add)
        table_name = ruleset.ruleset
        if decision_tables is not None:
            decision_tables[table_name] = loaded
    for rule_index, entry in enumerate(entries):
        rule, line, key_lines, file = entry.rule, entry.line, dict(entry.key_lines), entry.file

        def problem(message: str, field: str | None = None, suggestion: str | None = None,
                    rule_id: str = rule.id, key_lines: dict[str, int] = key_lines, line: int = line,
                    file: str = file) -> None:
            problems.add(message, file, key_lines.get(field or "", line), rule_id, field, suggestion)

        if rule.id in seen:
            problem(f"duplicate rule id: also defined in {seen[rule.id]}", "id")
            continue
        seen[rule.id] = f"{file}:{line}"
        act = rule.then
        for role in [*(act.require or []), *(act.notify or [])]:
            if role not in ladder:
                known = (f"the ladder is {', '.join(ladder)}" if ladder else
                         f"the policy has no approval ladder: add {POLICY_FILE} with roles: [...], or a roles: "
                         "list to the rule set")
                problem(f"unknown role {role!r}: {known}", "then", did_you_mean(role, ladder))
        element = "line" if rule.scope == "line" else None
        if rule.scope == "line" and ruleset.hook == "return_handling":
            problem("scope: line is only for order hooks; a return has no lines", "scope")
            continue
        if rule.scope == "line" and not has_lines:
            problem(f"scope: line runs a rule once per line, and a {spec.root} at {ruleset.hook} has no list of "
                    "lines (a list field with element: line)", "scope")
            continue
        ctx = Context(ruleset.hook, vocabulary, element, policy_data)
        when_text = "true" if rule.when is True else str(rule.when)
        try:
            cond: Cond = Always() if rule.when is True else check_condition(expressions.parse(when_text), ctx)
        except (expressions.ExpressionError, CheckError) as exc:
            suggestion = getattr(exc, "suggestion", None)
            problem(f"{exc} (column {exc.column} of: {excerpt(when_text, exc.column)})", "when", suggestion)
            continue
        except RecursionError:  # the limits keep expressions shallow; a caller's deep stack still must not crash
            problem("the condition is nested too deeply to check here: write it flatter", "when")
            continue
        window = set_window
        if rule.effective is not None:
            own = _window(rule.effective, file, key_lines.get("effective", line), rule.id, problems)
            if own is not None:
                window = own.within(set_window)
                if window is None and set_window is not None:
                    problem(f"effective: {own.describe()} shares no day with its rule set's effective: "
                            f"{set_window.describe()}, so the rule would never be in force", "effective")
                    continue
        if window is not None:
            dated = window_conditions(window)
            cond = And(dated) if isinstance(cond, Always) else And((*dated, *(
                cond.items if isinstance(cond, And) else (cond,))))
        point_kinds = {
            "pricing": ("markup", "discount", "add", "set_price", "floor", "stop"),
            "return_handling": ("refund", "restocking_fee"),
        }
        for kind in ("markup", "discount", "add", "set_price", "floor", "refund", "restocking_fee"):
            if getattr(act, kind) is not None and kind not in point_kinds.get(ruleset.hook, ()):
                problem(f"'{kind}' is not an action of hook {ruleset.hook}", "then")
        if act.stop and ruleset.hook != "pricing":
            problem(f"'stop' is not an action of hook {ruleset.hook}", "then")
        formulas: dict[str, Expr] = {}
        for kind in ("set_price", "floor"):
            text = getattr(act, kind)
            if text is None:
                continue
            try:
                formulas[kind] = formula = check_value(expressions.parse(text), ctx, Kind.number)
                constant = formula.value if isinstance(formula, Const) else None
                if isinstance(constant, Decimal | int) and abs(Decimal(constant)) >= PRICE_CEILING:
                    written = f"{constant:.6E}" if abs(Decimal(constant)) >= MAX_NUMBER else str(constant)
                    raise CheckError(f"the price {written} is too large: a price is below 9 × 10^14 once rounded "
                                     "to the cent", 1)
            except (expressions.ExpressionError, CheckError) as exc:
                problem(f"{kind}: {exc} (column {exc.column} of: {excerpt(text, exc.column)})", "then",
                        getattr(exc, "suggestion", None))
            except RecursionError:
                problem(f"{kind}: the formula is nested too deeply to check here: write it flatter", "then")
        outputs = _outputs(act.set_ or {}, spec, ctx, problem)
        if act.block is not None:
            outcome, (message, translations) = Outcome.block, _messages(act.block, lang)
        elif act.require:
            outcome, (message, translations) = Outcome.require_approval, _messages(act.message, lang)
        elif act.warn is not None:
            outcome, (message, translations) = Outcome.warn, _messages(act.warn, lang)
        else:
            outcome, (message, translations) = Outcome.allow, _messages(act.message, lang)
        if not message:
            message = rule.description or rule.id
        action = CompiledAction(
            outcome=outcome, message=message, translations=translations,
            approvals=tuple(act.require or ()), notify=tuple(act.notify or ()),
            markup=act.markup, discount=act.discount, add=act.add,
            set_price=formulas.get("set_price"), floor=formulas.get("floor"), stop=act.stop,
            refund=act.refund, restocking_fee=act.restocking_fee, outputs=outputs,
        )
        stage = stage_name(ruleset.hook, action, cond)
        if stage == "pricing.check" and action.changes_price:
            problem("a rule that reads line.policy_price cannot change the price", "then")
        elif stage == "pricing.check" and action.stop:
            problem("a rule that reads line.policy_price cannot stop the price rules: they have all run", "then")
        if action.changes_price and rule.scope != "line" and ruleset.hook == "pricing":
            # Order-scope price rules apply to every line: that is allowed and documented.
            pass
        out.append(
            CompiledRule(
                id=rule.id, ruleset=ruleset.ruleset, ruleset_version=ruleset.version, hook=ruleset.hook,
                file=file, line=line, priority=rule.priority if rule.priority is not None
                else order_base + rule_index, scope=rule.scope, when=when_text, cond=cond,
                reads=tuple(dict.fromkeys(r.path for r in walk_refs(cond))), action=action, stage=stage,
                description=rule.description, effective=window, table=table_name,
            )
        )
    if ruleset.table is not None and ruleset.table.hit in ("first", "priority") and len({r.stage for r in out}) > 1:
        problems.add(f"a {ruleset.table.hit} table picks one row among those that match, and its rows here run at "
                     "different steps of pricing (some change prices, some read line.policy_price): split the table "
                     "in two", shown, data.key_lines.get("table"), None, "table.hit")
    return out


def _window(value: Any, shown: str, line: int | None, rule_id: str | None, problems: _Problems) -> Effective | None:
    """An ``effective:`` window, or None (with its problem reported) when it is malformed or not given."""
    if value is None:
        return None
    try:
        return parse_effective(value)
    except EffectiveError as exc:
        problems.add(exc.message, shown, line, rule_id, "effective", exc.suggestion)
        return None


def _timezone(meta: PolicyFile | None, meta_path: Path, raw: Any, problems: _Problems) -> str:
    """``policy.yaml`` ``timezone:``, checked against the IANA database (UTC when not given)."""
    if meta is None:
        return "UTC"
    try:
        ZoneInfo(meta.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(f"unknown time zone {meta.timezone!r}: use an IANA name such as Asia/Shanghai or UTC",
                     str(meta_path), line_of(raw, ("timezone",)), None, "timezone",
                     did_you_mean(meta.timezone, ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "UTC"]))
        return "UTC"
    return meta.timezone


def _outputs(given: Mapping[str, Any], spec: PointSpec, ctx: Context,
             problem: Any) -> tuple[tuple[str, Expr], ...]:
    """``then: set:``, checked against the point's declared outputs: each value as an expression of
    the output's type (a number or formula, a percent, a date) or, for text and enum, the literal."""
    out: list[tuple[str, Expr]] = []
    for name, value in given.items():
        output = spec.output(name)
        if output is None:
            declared = [o.name for o in spec.declared_outputs]
            known = (f"{spec.name} declares {', '.join(declared)}" if declared else
                     f"{spec.name} declares no outputs" + (f" (declare them under outputs: in {spec.source})"
                                                            if spec.source else ""))
            problem(f"set: {name!r} is not an output of this point: {known}", "then", did_you_mean(name, declared))
            continue
        try:
            out.append((name, _output_value(output, value, ctx)))
        except CheckError as exc:
            problem(f"set: {name}: {exc}", "then", getattr(exc, "suggestion", None))
        except expressions.ExpressionError as exc:
            problem(f"set: {name}: {exc} (column {exc.column} of: {excerpt(str(value), exc.column)})", "then")
    return tuple(out)


def _output_value(output: OutputSpec, value: Any, ctx: Context) -> Expr:
    kind = output.type
    if kind in (FieldType.text, FieldType.enum):
        if not isinstance(value, str) or not value:
            example = output.choices[0] if output.choices else "collect"
            raise CheckError(f"write the {kind} value as text, e.g. {example}", 1)
        if kind is FieldType.enum and value not in output.choices:
            suggestion = did_you_mean(value, list(output.choices))
            error = CheckError(f"{value!r} is not one of {', '.join(output.choices)}", 1)
            error.suggestion = suggestion
            raise error
        return Const(value, Kind.text)
    if kind is FieldType.bool:
        if not isinstance(value, bool):
            raise CheckError("write true or false", 1)
        return Const(value, Kind.bool)
    if kind is FieldType.date:
        if isinstance(value, date):
            return Const(value, Kind.date)
        if isinstance(value, str):
            return check_value(expressions.parse(value), ctx, Kind.date)
        raise CheckError("write a date (2027-01-31) or a date fact", 1)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise CheckError(f"write a {kind} value or a formula, e.g. {'30%' if kind is FieldType.percent else '1000'}",
                         1)
    return check_value(expressions.parse(str(value)), ctx, Kind.number)


def rule_files(directory: Path) -> list[Path]:
    """The rule set files of a policy directory: ``*.yaml``/``*.yml`` at its top, except policy.yaml."""
    return sorted(
        p for p in directory.iterdir()
        if p.is_file() and p.suffix.lower() in (".yaml", ".yml") and p.name != POLICY_FILE
    )


def _size(path: Path) -> int:
    """The size of a file; one gone since it was listed counts nothing (reading it will say so)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def load_policy(path: str | Path, *, points: Iterable[PointSpec] = ()) -> Policy:
    """Load and compile the policy in a directory (or a single rule file). Raises PolicyError.

    ``points`` are decision points declared by plugins (``salesgate_register_points``): rules may
    decide at them as at the built-in ones and those the directory declares in ``points/``."""
    root = Path(path)
    if not root.exists():
        raise PolicyError(PolicyProblem(f"no such policy directory or file: {root}"))
    directory = root if root.is_dir() else root.parent
    files = rule_files(root) if root.is_dir() else [root]
    problems = _Problems()
    digest = hashlib.sha256()

    def shown(p: Path) -> str:
        return str(p)

    meta: PolicyFile | None = None
    meta_path = directory / POLICY_FILE
    if meta_path.exists() and meta_path != root:  # a single rule file takes the ladder of the policy it is in
        raw_meta = load_yaml(meta_path, shown(meta_path))
        digest.update(meta_path.read_bytes())
        try:
            meta = PolicyFile.model_validate(raw_meta)
        except ValidationError as exc:
            _validation_problems(exc, raw_meta, shown(meta_path), problems, PolicyFile)
    if not files:
        problems.add("no rule files (*.yaml) found", str(root))

    declarations = point_files(directory)
    calendar_paths = calendar_files(directory)
    tables_files = data_files(directory)
    spreadsheets = table_files(directory)
    total = sum(_size(p) for p in [*files, *declarations, *calendar_paths, *tables_files, *spreadsheets,
                                   *([meta_path] if meta_path.exists() and meta_path != root else [])])
    if total > MAX_POLICY_BYTES:
        raise PolicyError(PolicyProblem(f"the policy's files hold {total:,} bytes, more than {MAX_POLICY_BYTES:,} "
                                        "(4 MiB), the most a policy may hold", str(root)))
    loaded: list[tuple[RuleSetFile, LineDict, str]] = []
    for file in files:
        try:
            data = load_yaml(file, shown(file))
        except PolicyError as exc:
            problems.items.extend(exc.problems)
            continue
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
        if not isinstance(data, LineDict):
            problems.add("a rule file must be a mapping with ruleset, hook, version and rules", shown(file), 1)
            continue
        try:
            loaded.append((RuleSetFile.model_validate(data), data, shown(file)))
        except ValidationError as exc:
            _validation_problems(exc, data, shown(file), problems)

    sheets, sheet_paths = _sheets(directory, loaded, digest.update, problems)
    ladder = tuple(meta.roles) if meta else _ladder_from(loaded, problems)
    for ruleset, data, file_shown in loaded:
        for role in ruleset.roles or []:
            if role not in ladder:
                problems.add(f"unknown role {role!r}: the ladder in {POLICY_FILE} is {', '.join(ladder)}",
                             file_shown, data.key_lines.get("roles"), None, "roles", did_you_mean(role, ladder))
    names: dict[str, str] = {}
    for ruleset, data, file_shown in loaded:
        if ruleset.ruleset in names:
            problems.add(f"rule set name {ruleset.ruleset!r} is also used by {names[ruleset.ruleset]}",
                         file_shown, data.key_lines.get("ruleset"), None, "ruleset")
        names[ruleset.ruleset] = file_shown

    language = meta.language if meta else "zh"
    timezone = _timezone(meta, meta_path, raw_meta if meta is not None else None, problems)
    windows: dict[str, Effective] = {}
    for ruleset, _, _ in loaded:
        if ruleset.effective is not None:
            with contextlib.suppress(EffectiveError):  # reported with its rules (_compile_rules)
                windows[ruleset.ruleset] = parse_effective(ruleset.effective)
    extras = _extras(meta, meta_path, raw_meta if meta is not None else None, problems)
    known: dict[str, PointSpec] = dict(POINT_SPECS)
    for plugin_point in points:
        known.setdefault(plugin_point.name, plugin_point)
    declared, fields_of, point_paths, failed = load_points(directory, problems.add, digest.update, known, extras)
    calendars = load_calendars(directory, problems.add, digest.update)
    default_calendar = _default_calendar(meta, meta_path, raw_meta if meta is not None else None, calendars,
                                         calendar_paths, problems)
    all_points, vocabularies = _points(known, declared, fields_of, extras,
                                       _outputs_of(meta, meta_path, raw_meta if meta is not None else None, known,
                                                   problems))
    tables = load_tables(directory, lambda message, path, line, column: problems.add(message, path, line, None, column),
                         digest.update)
    policy_data: dict[str, Any] = {  # what functions read (Context.data)
        "tables": MappingProxyType(tables),
        CALENDAR: calendars[default_calendar] if default_calendar else _no_calendar(
            meta.calendar if meta else None, list(calendars)),
    }
    seen: dict[str, str] = {}
    compiled: list[CompiledRule] = []
    decision_tables: dict[str, DecisionTable] = {}
    for index, (ruleset, data, file_shown) in enumerate(loaded):
        if ruleset.hook in failed:
            continue  # its declaration's problems are reported: its rules cannot be checked against it
        compiled.extend(_compile_rules(ruleset, data, file_shown, ladder, language, index * 10_000, seen,
                                       problems, all_points, vocabularies, policy_data, sheets,
                                       decision_tables))
    if problems.items:
        raise PolicyError(problems.items)
    order = {point: index for index, point in enumerate(all_points)}
    name = meta.name if meta else directory.name
    version = meta.version if meta else "+".join(sorted({r.version for r, _, _ in loaded}))
    return Policy(
        name=name, version=version, hash=digest.hexdigest()[:16], roles=ladder, language=language,
        failure_mode=meta.failure_mode if meta else "closed", source=str(root),
        rules=tuple(sorted(compiled, key=lambda r: (order[r.hook], r.priority, r.id))),
        files=tuple(str(f) for f in [*files, *point_paths, *calendar_paths, *tables_files, *sheet_paths]),
        rulesets={r.ruleset: r.version for r, _, _ in loaded},
        points=MappingProxyType(all_points), vocabulary=MappingProxyType(vocabularies), timezone=timezone,
        windows=MappingProxyType(windows), calendars=MappingProxyType(calendars), calendar=default_calendar,
        tables=MappingProxyType(decision_tables),
    )


def _no_calendar(named: str | None, calendars: list[str]) -> str:
    """Why a rule counting business days has no calendar: what the policy owner does about it."""
    if named is not None:
        return f"the calendar {named!r} of policy.yaml could not be read: see its problems"
    if calendars:
        return (f"name the calendar business days are counted by in {POLICY_FILE}: calendar: {calendars[0]} "
                f"(this policy has {', '.join(calendars)})")
    return (f"this policy has no holiday calendar: add {CALENDARS_DIRECTORY}/cn.yaml (the seed policy's is one) "
            f"and name it in {POLICY_FILE} (calendar: cn)")


def _default_calendar(meta: PolicyFile | None, meta_path: Path, raw: Any, calendars: Mapping[str, Calendar],
                      paths: list[Path], problems: _Problems) -> str | None:
    """``calendar:`` of policy.yaml: the name of one of the policy's calendars, checked with a did-you-mean."""
    if meta is None or meta.calendar is None:
        return None
    name = meta.calendar
    known = [p.stem for p in paths]
    if name not in known:
        have = (f"this policy has {', '.join(known)}" if known else
                f"this policy has no calendars: add {CALENDARS_DIRECTORY}/{name}.yaml")
        problems.add(f"calendar {name!r} is not a calendar of this policy: {have} (a calendar is a file "
                     f"{CALENDARS_DIRECTORY}/<name>.yaml)", str(meta_path), line_of(raw, ("calendar",)), None,
                     "calendar", did_you_mean(name, known))
        return None
    return name if name in calendars else None  # one with problems of its own is reported there


def _sheets(directory: Path, loaded: list[tuple[RuleSetFile, LineDict, str]], digest: Any,
            problems: _Problems) -> tuple[dict[str, Sheet], list[Path]]:
    """The CSV and Excel files the tables name (``rows: tables/x.csv``), read once, each counted in the
    policy hash: a changed spreadsheet is a new policy version."""
    sheets: dict[str, Sheet] = {}
    paths: list[Path] = []
    for ruleset, data, file_shown in loaded:
        rows = ruleset.table.rows if ruleset.table is not None else None
        if not isinstance(rows, str) or rows in sheets:
            continue
        path = directory / rows
        table_data = data.get("table")
        line = table_data.key_lines.get("rows") if isinstance(table_data, LineDict) else None
        if path.is_symlink() or not path.is_file() or path.parent.resolve() != (directory / TABLES_DIRECTORY).resolve():
            problems.add(f"rows: no table file {rows} in the policy directory {directory}", file_shown, line, None,
                         "table.rows")
            continue
        try:
            content = path.read_bytes()
        except OSError as exc:
            problems.add(f"rows: {rows} cannot be read ({exc.strerror})", file_shown, line, None, "table.rows")
            continue
        digest(rows.encode() + b"\0" + content)
        try:
            sheets[rows] = read_sheet(content, path.suffix, str(path))
        except PolicyError as exc:
            problems.items.extend(exc.problems)
            continue
        paths.append(path)
    return sheets, paths


def _extras(meta: PolicyFile | None, meta_path: Path, raw: Any,
            problems: _Problems) -> dict[str, tuple[FieldSpec, ...]]:
    """The extra facts ``policy.yaml`` declares (``facts:``), each problem at its line (``raw``: the file as read)."""
    if meta is None or not meta.facts:
        return {}

    def report(message: str, where: str) -> None:
        parts = where.split(".")  # facts.customer.tenure_years[.window]: the fact's name holds a dot
        problems.add(message, str(meta_path), line_of(raw, (parts[0], ".".join(parts[1:3]), *parts[3:])), None, where)

    return load_extras(meta.facts, report)


def _outputs_of(meta: PolicyFile | None, meta_path: Path, raw: Any, known: Mapping[str, PointSpec],
                problems: _Problems) -> dict[str, tuple[OutputSpec, ...]]:
    """The outputs ``policy.yaml`` declares for built-in points (``outputs:``), each problem at its line."""
    if meta is None or not meta.outputs:
        return {}

    def report(message: str, where: str) -> None:
        problems.add(message, str(meta_path), line_of(raw, tuple(where.split("."))), None, where)

    return built_in_outputs(meta.outputs, known, report)


def _points(known: Mapping[str, PointSpec], declared: Mapping[str, PointSpec],
            fields_of: Mapping[str, tuple[FieldSpec, ...]], extras: Mapping[str, tuple[FieldSpec, ...]],
            outputs: Mapping[str, tuple[OutputSpec, ...]],
            ) -> tuple[dict[str, PointSpec], dict[str, Mapping[str, FactInfo]]]:
    """Every point with its vocabulary: built-in ones with documents extended by ``extras``, then plugins',
    then the directory's own."""
    order_facts, return_facts = extended_documents(extras)
    points: dict[str, PointSpec] = {}
    for name, spec in known.items():
        if spec.built_in and extras:
            history = history_facts("customer", extras.get("customer", ()))
            if name != "return_handling":
                history += history_facts("order", extras.get("order", ()))
            spec = replace(spec, document=return_facts if name == "return_handling" else order_facts,
                           history=history)
        if name in outputs:
            spec = replace(spec, declared_outputs=outputs[name])
        points[name] = spec
    points.update(declared)
    vocabularies = {name: point_vocabulary(spec, extras, fields_of.get(name)) for name, spec in points.items()}
    return points, vocabularies


def _ladder_from(loaded: list[tuple[RuleSetFile, LineDict, str]], problems: _Problems) -> tuple[str, ...]:
    """Without policy.yaml, the ladder is the rule sets' role lists, which must agree in order."""
    ladder: list[str] = []
    for ruleset, data, shown in loaded:
        roles = ruleset.roles or []
        common = [r for r in roles if r in ladder]
        if common != [r for r in ladder if r in roles]:
            problems.add(f"roles are listed in a different order than in another rule set ({', '.join(ladder)})",
                         shown, data.key_lines.get("roles"), None, "roles")
        for role in roles:
            if role not in ladder:
                ladder.append(role)
    return tuple(ladder)
