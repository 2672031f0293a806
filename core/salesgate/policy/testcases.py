"""Test cases for a policy, written in YAML by the people who own the policy.

A policy owner proves a rule does what the handbook says the same way they wrote it: in YAML,
next to the rules. Test files live in ``<policy dir>/tests/*.yaml``; the policy loader reads only
the top level of the directory, so a test file is never mistaken for a rule set.

Format of one test file::

    hook: order_approval            # default decision point of the cases (a case may name its own)
    base:                           # facts shared by every case
      customer: {id: C001, name: 华东机电有限公司, credit_limit: 500000}
      products: [{sku: P1, name: 电机, list_price: 1000, cost: 600, stock: 1000}]
      order: {id: SO-1, customer_id: C001, order_date: 2026-11-02,
              lines: [{line_no: 1, sku: P1, qty: 10, unit_price: 1000}]}
    cases:
      - name: large order needs the general manager
        facts:                      # deep-merged over base: mappings merge, lists and values replace
          order: {lines: [{line_no: 1, sku: P1, qty: 100, unit_price: 1000}]}
        expect:
          outcome: require_approval                      # exact
          approvals: [sales_manager, general_manager]    # exact, in ladder order
          fired: [large-order]                           # each of these fired (others may too)
          not_fired: [medium-order]                      # none of these fired
          notify: [sales_manager]                        # exact set of roles notified
          prices: {1: 1013.65}                           # pricing: line_no → policy price
          refund: 4500.00                                # return_handling: refund amount
          restocking_fee: 500                            # return_handling: fee kept
          available: -50000                              # credit_check: limit − exposure
          exposure: 150000                               # credit_check: exposure with this order
          outputs: {deposit: 30%, freight_terms: ~}      # a declared point: these outputs (~: none set)

``as_of: 2026-12-31`` (in a case, or at the top of the file for all its cases) is the day the case
decides as of: what its rules read as ``today`` and which rules are in force (``effective:``). A case
at a point where a rule reads ``today`` or has ``effective:`` dates must give one (refused at load,
naming the rule): a case decides the same whatever the day it runs.

``point:`` is the new spelling of ``hook:`` (in the file and in a case), as in rule files. A case
at a point the policy declares (``points/<name>.yaml``, or a plugin) gives that point's document:
``facts: {shipment: {...}, customer: {...}}``.

Every expectation is optional, but a case must expect something, and figures must fit the
decision point (``prices`` only for ``pricing``, and so on). Money is compared as ``Decimal`` parsed
from the number's text, so ``1013.65`` means exactly 1013.65 and ``4500`` equals ``4500.00``.

The facts of each case (base merged with the case's own) must be complete: a test case never
asks an adapter for a customer or an order, so it decides the same everywhere. Everything is
checked when the file loads (unknown keys, decision points, outcomes, money, and the facts themselves
against the point's fact model in the policy given: a declared point's document, the shipped
documents with the facts ``policy.yaml`` declares; an unknown fact gets a did-you-mean) and every
problem is reported at once as a :class:`PolicyError` at ``file:line``. Without a policy only the
built-in points and the shipped documents are known. Rule ids in ``fired``/``not_fired`` are
checked against the gate's policy when the case runs.

Use :func:`load_cases` and :func:`run_all` from a test suite, and :func:`uncovered_rules` to
require that every rule is exercised by at least one passing case. :func:`run_suite` runs a
policy's cases on a fresh gate (:func:`salesgate.gate.case_gate`): it is what ``salesgate test``, the pytest plugin
(:mod:`salesgate.testing`) and the policy reloader (:mod:`salesgate.reload`) judge a policy by.
A failing case's :meth:`CaseResult.report` names the case's ``file:line``, every field that
differs (expected vs got) and the rules that fired (with their ``file:line``) and did not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from ..decisions import Decision, Outcome
from ..documents import FieldType, OutputSpec, known_fields, python_type
from ..errors import PolicyError, PolicyProblem, SalesgateError, did_you_mean
from ..facts import TODAY
from ..pointspecs import POINT_SPECS, PointSpec
from .compiler import CompiledRule, Policy
from .days import parse_day
from .ir import walk_refs
from .plainwords import plain_message
from .yamlfile import LineDict, line_of, load_yaml

__all__ = [
    "CaseResult",
    "Expectation",
    "Mismatch",
    "SuiteResult",
    "TestCase",
    "case_files",
    "load_case_file",
    "load_cases",
    "run_all",
    "run_case",
    "run_suite",
    "select_cases",
    "uncovered",
    "uncovered_rules",
]

TESTS_DIR = "tests"


_GROUPED = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")


def _money(value: Any) -> Decimal:
    """An amount from YAML: a number or a numeric string, read from its text (never via binary float)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"expected an amount such as 1013.65, got {value!r}")
    text = str(value).strip()
    if "," in text:
        if not _GROUPED.fullmatch(text):  # 1.000,50 is not 1.0005: only 1,013.65-style grouping
            raise ValueError(f"expected an amount such as 1013.65 or 1,013.65, got {value!r}")
        text = text.replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"expected an amount such as 1013.65, got {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"expected a finite amount, got {value!r}")
    return amount


Money = Annotated[Decimal, BeforeValidator(_money)]


def _some_rules(value: list[str]) -> list[str]:
    if not value:  # pydantic's "needs at least 1 item" would not say why, nor what to write instead
        raise ValueError("[] checks nothing: fired: lists rules that must fire (others may fire too), not_fired: "
                         "rules that must not; to check that no rule fired, list the rules under not_fired:")
    return value


RuleIds = Annotated[list[str], AfterValidator(_some_rules)]

_FIGURES: dict[str, str] = {
    "prices": "pricing",
    "refund": "return_handling",
    "restocking_fee": "return_handling",
    "available": "credit_check",
    "exposure": "credit_check",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expectation(_Strict):
    """What a case expects of the decision. Only what is given is checked."""

    outcome: Outcome | None = Field(None, description="Exact outcome: allow, warn, require_approval or block.")
    approvals: list[str] | None = Field(None, description="Exact roles to approve, in ladder order ([] = none).")
    fired: RuleIds | None = Field(None, description="Rules that must fire; others may fire too.")
    not_fired: RuleIds | None = Field(None, description="Rules that must not fire.")
    notify: list[str] | None = Field(None, description="Exact set of roles notified ([] = none).")
    prices: dict[int, Money] | None = Field(None, description="pricing: line_no → policy unit price.")
    refund: Money | None = Field(None, description="return_handling: refund amount after fees.")
    restocking_fee: Money | None = Field(None, description="return_handling: restocking fee kept.")
    available: Money | None = Field(None, description="credit_check: credit limit minus exposure.")
    exposure: Money | None = Field(None, description="credit_check: exposure including this order.")
    outputs: dict[str, Any] | None = Field(
        None, min_length=1, description="A declared point: output name → value its rules set (~: none set).")

    @model_validator(mode="after")
    def _says_something(self) -> Expectation:
        if not self.model_fields_set:
            raise ValueError("'expect' checks nothing: give outcome, approvals, fired, not_fired, ...")
        both = sorted(set(self.fired or ()) & set(self.not_fired or ()))
        if both:
            raise ValueError(f"rule(s) {', '.join(both)} listed in both fired and not_fired")
        return self


PointName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


def _as_of(value: Any) -> Any:
    """``as_of: 2026-12-31`` (YAML reads it as a date) or ``"2026-12-31"``; anything else in plain words."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str) and (day := parse_day(value)) is not None:
        return day
    raise ValueError(f"as_of is {value!r}, not a date: write the day the case decides as of as YYYY-MM-DD, "
                     "e.g. as_of: 2026-12-31")


AsOf = Annotated[date | None, BeforeValidator(_as_of), Field(
    None, description="The day the case decides as of (what its rules read as today); default: the file's.")]


def _one_point(cls: type[BaseModel], data: Any) -> Any:
    if isinstance(data, dict) and data.get("point") is not None and data.get("hook") is not None:
        raise ValueError("give the decision point once: point: (or the older hook:), not both")
    return data


class _CaseModel(_Strict):
    name: str = Field(min_length=1, description="What the case shows; unique in its file.")
    description: str | None = None
    hook: PointName | None = Field(None, description="Decision point to decide; default: the file's. Also point:.")
    point: PointName | None = Field(None, description="Decision point to decide (the new spelling of hook:).")
    facts: dict[str, Any] = Field(default_factory=dict, description="Facts, merged over the file's base.")
    as_of: AsOf = None
    expect: Expectation

    _one_point = model_validator(mode="before")(_one_point)


class _CaseFileModel(_Strict):
    hook: PointName | None = Field(None, description="Default decision point of the cases in this file.")
    point: PointName | None = Field(None, description="Default decision point (the new spelling of hook:).")
    description: str | None = None
    base: dict[str, Any] = Field(default_factory=dict, description="Facts shared by every case.")
    as_of: AsOf = None
    cases: list[_CaseModel] = Field(min_length=1)

    _one_point = model_validator(mode="before")(_one_point)


@dataclass(frozen=True)
class TestCase:
    """One loaded, checked case: where it is written, which decision point, the merged facts, what to expect."""

    __test__: ClassVar[bool] = False  # a data class, not a pytest test class

    file: str
    line: int
    name: str
    hook: str
    """The decision point (a built-in one, or one the policy declares)."""
    facts: Mapping[str, Any]
    expect: Expectation
    as_of: date | None = None
    """The day the case decides as of (``as_of:`` in the case, else at the top of its file). A case without
    one decides as of the day it runs, which only a point whose rules never read ``today`` allows
    (:func:`reading_today`): tests are deterministic."""

    @property
    def id(self) -> str:
        """``file.yaml::case name``: stable and unique, for test ids and reports."""
        return f"{Path(self.file).name}::{self.name}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Mismatch:
    """One way a decision differs from what its case expects: the field, both sides, a readable line."""

    field: str
    message: str
    expected: str | None = None
    got: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CaseResult:
    """The outcome of running one case: the decision, and every way it differs from the expectation."""

    case: TestCase
    mismatches: tuple[Mismatch, ...]
    decision: Decision | None = None
    fired: tuple[str, ...] = field(default=())

    @property
    def failures(self) -> list[str]:
        """Each mismatch as one line, ``field: expected X, got Y (why)``."""
        return [m.message for m in self.mismatches]

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def rules(self) -> tuple[list[str], list[str]]:
        """The rules of the case's decision point that fired (as ``id (file:line)``) and that did not (ids)."""
        if self.decision is None:
            return [], []
        fired: dict[str, str] = {}
        evaluated: dict[str, None] = {}
        for entry in self.decision.trace:
            evaluated[entry.rule] = None
            if entry.fired:
                fired.setdefault(entry.rule, f"{entry.rule} ({entry.file}:{entry.line})")
        return list(fired.values()), [rule for rule in evaluated if rule not in fired]

    def report(self) -> str:
        """One readable paragraph: where the case is, each difference on its own line, and the rules
        that fired and did not, so the policy owner sees what to change without re-running anything."""
        if self.passed:
            return f"{self.case.where}: {self.case.name!r} passed"
        lines = [f"{self.case.where}: {self.case.name!r} ({self.case.hook}) failed:"]
        lines += [f"  - {mismatch}" for mismatch in self.mismatches]
        fired, not_fired = self.rules()
        if self.decision is not None:
            lines.append(f"  rules fired: {', '.join(fired) or 'none'}")
            lines.append(f"  rules not fired: {', '.join(not_fired) or 'none'}")
        return "\n".join(lines)


# -- loading -----------------------------------------------------------------------------------------


def case_files(policy_dir: str | Path) -> list[Path]:
    """The test files of a policy directory: ``tests/*.yaml`` (and ``*.yml``), sorted."""
    directory = Path(policy_dir) / TESTS_DIR
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in (".yaml", ".yml"))


def load_cases(policy_dir: str | Path, policy: Policy | None = None) -> list[TestCase]:
    """Load and check every case in ``<policy_dir>/tests/*.yaml``. Raises PolicyError with every problem.

    ``policy`` (the one in ``policy_dir``, as a gate runs it) says which decision points there are and
    what their facts are: the points it declares and its declared facts. Without it, the built-in
    points and the shipped fact models."""
    problems: list[PolicyProblem] = []
    cases: list[TestCase] = []
    for path in case_files(policy_dir):
        cases.extend(_load_file(path, problems, None, policy))
    if problems:
        raise PolicyError(problems)
    return cases


def load_case_file(path: str | Path, shown: str | None = None, policy: Policy | None = None) -> list[TestCase]:
    """Load and check the cases of one test file, named ``shown`` in reports (``policy`` as for
    :func:`load_cases`). Raises PolicyError."""
    problems: list[PolicyProblem] = []
    cases = _load_file(Path(path), problems, shown, policy)
    if problems:
        raise PolicyError(problems)
    return cases


def select_cases(cases: Iterable[TestCase], keywords: Sequence[str]) -> list[TestCase]:
    """The cases whose name (or ``file::name`` id) contains one of ``keywords``, ignoring case; all without."""
    wanted = [k.casefold() for k in keywords if k]
    if not wanted:
        return list(cases)
    return [c for c in cases if any(k in c.name.casefold() or k in c.id.casefold() for k in wanted)]


def _load_file(path: Path, problems: list[PolicyProblem], shown: str | None = None,
               policy: Policy | None = None) -> list[TestCase]:
    shown = shown or str(path)
    points: Mapping[str, PointSpec] = policy.points if policy is not None else POINT_SPECS
    try:
        data = load_yaml(path, shown)
    except PolicyError as exc:
        problems.extend(exc.problems)
        return []
    if not isinstance(data, LineDict):
        problems.append(PolicyProblem("a test file must be a mapping with hook, base and cases", shown, 1))
        return []
    try:
        model = _CaseFileModel.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc, data, shown, _case_names(data)))
        return []
    raw_cases: list[Any] = data["cases"]
    out: list[TestCase] = []
    seen: dict[str, int] = {}
    for case, raw in zip(model.cases, raw_cases, strict=True):
        line = getattr(raw, "line", 0) or data.key_lines.get("cases", 1)
        key_lines: dict[str, int] = getattr(raw, "key_lines", {})
        before = len(problems)

        def problem(message: str, key: str | None = None, line: int = line, name: str = case.name,
                    key_lines: dict[str, int] = key_lines) -> None:
            problems.append(PolicyProblem(f"case {name!r}: {message}", shown, key_lines.get(key or "", line),
                                          field=key))

        if case.name in seen:
            problem(f"duplicate case name: also at line {seen[case.name]}", "name")
        seen.setdefault(case.name, line)
        point = case.point or case.hook or model.point or model.hook
        if point is None:
            problem("no hook or point: give 'point' (or 'hook') in the case or at the top of the file", "hook")
            continue
        spec = points.get(point)
        if spec is None:
            key = next((k for k in ("point", "hook") if k in key_lines), None) or next(
                (k for k in ("point", "hook") if k in data.key_lines), None)
            hint = did_you_mean(point, list(points))
            declared = ("" if policy is not None else
                        "; a point a policy declares needs the policy: load_cases(directory, policy)")
            problems.append(PolicyProblem(
                f"case {case.name!r}: unknown decision point {point!r}: the policy decides at {', '.join(points)}"
                + declared, shown, key_lines.get(key or "", 0) or _top_line(data, line), field=key or "hook",
                suggestion=hint))
            continue
        for figure, figure_point in _FIGURES.items():
            if figure in case.expect.model_fields_set and figure_point != point:
                problem(f"expect.{figure} is a figure of hook {figure_point}; this case decides {point}", "expect")
        if case.expect.outputs is not None:
            expect_raw = raw.get("expect")
            at = getattr(expect_raw, "key_lines", {}).get("outputs") or key_lines.get("expect", line)
            for message in _output_problems(spec, case.expect.outputs):
                problem(f"expect.outputs: {message}", "expect.outputs", at)
        facts = _merge(data.get("base") or LineDict(), raw.get("facts") or LineDict())
        try:
            spec.document.model_validate(facts)
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                message = plain_message(err)
                suggestion = None
                if err["type"] == "extra_forbidden":
                    known = known_fields(spec.document, err["loc"][:-1])
                    suggestion = did_you_mean(str(err["loc"][-1]), known)
                    message = ("not a fact salesgate knows" + ("" if suggestion else
                               f"; {_fields_text(known)} (salesgate vocab {point} lists them)"))
                problems.append(PolicyProblem(
                    f"case {case.name!r}: invalid {point} facts: {message}", shown,
                    line_of(facts, err["loc"]) or line, field=f"facts.{where}" if where else "facts",
                    suggestion=suggestion,
                ))
        as_of = case.as_of or model.as_of
        if as_of is None and policy is not None:
            reader = reading_today(policy, point)
            if reader is not None:
                problem(f"{_today_needed(reader, point)}: give the case as_of: YYYY-MM-DD (or as_of: at the top of "
                        "the file), so that it decides the same whatever the day it runs", "as_of")
        if len(problems) == before:
            out.append(TestCase(shown, line, case.name, point, _plain(facts), case.expect, as_of))
    return out


def reading_today(policy: Policy, point: str) -> CompiledRule | None:
    """The first rule at ``point`` that reads ``today`` (its condition, or its ``effective:`` dates), if any:
    a case deciding there must say its as-of date."""
    return next((rule for rule in policy.rules_for(point) if TODAY in rule.reads
                 or any(ref.path == TODAY for _, expr in rule.action.outputs for ref in walk_refs(expr))), None)


def _today_needed(rule: CompiledRule, point: str) -> str:
    why = "is in force only " + rule.effective.describe() if rule.effective is not None else "reads today"
    return f"rule {rule.id} at {point} {why}"


def _top_line(data: LineDict, line: int) -> int:
    return data.key_lines.get("point") or data.key_lines.get("hook") or line


def _fields_text(known: Sequence[str]) -> str:
    return "known here: " + ", ".join(known) if known else "nothing is known here"




def _output_problems(spec: PointSpec, expected: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``expect.outputs`` at ``spec``'s point: outputs it does not declare (with a
    did-you-mean), values that are not of the output's type."""
    names = [output.name for output in spec.declared_outputs]
    if not names:
        return [f"{spec.name} declares no outputs (a built-in point's figures are expected by their own keys)"]
    found = []
    for name, value in expected.items():
        output = spec.output(name)
        if output is None:
            hint = did_you_mean(name, names)
            found.append(f"{name!r} is not an output of {spec.name}, which declares {', '.join(names)}"
                         + (f" (did you mean {hint!r}?)" if hint else ""))
            continue
        try:
            _expected_output(output, value)
        except ValueError as exc:
            found.append(f"{name}: {exc}")
    return found


def _expected_output(output: OutputSpec, value: Any) -> Any:
    """An expected output value read as the output's type (``30%`` is 0.3; a number from its text);
    None for "no rule sets it"."""
    if value is None:
        return None
    if output.type in (FieldType.integer, FieldType.number, FieldType.money, FieldType.percent) and isinstance(
            value, int | float) and not isinstance(value, bool):
        value = Decimal(str(value))
    try:
        return TypeAdapter(python_type(output)).validate_python(value)
    except ValidationError as exc:
        if output.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(output.choices)}") from None
        raise ValueError(f"{value!r} is not a {output.type.value}: {plain_message(exc.errors()[0])}") from None


def _output_text(output: OutputSpec, value: Any) -> str:
    if value is None:
        return "none set"
    if output.type is FieldType.percent and isinstance(value, Decimal):
        text = f"{value * 100:f}"
        return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"
    if isinstance(value, Decimal):
        return _amount(value) if output.type is FieldType.money else f"{value:f}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _case_names(data: LineDict) -> list[str | None]:
    cases = data.get("cases")
    if not isinstance(cases, list):
        return []
    return [c.get("name") if isinstance(c, dict) and isinstance(c.get("name"), str) else None for c in cases]


def _problems(exc: ValidationError, data: LineDict, shown: str, names: Sequence[str | None]) -> list[PolicyProblem]:
    out = []
    for err in exc.errors():
        loc = err["loc"]
        message = plain_message(err)
        suggestion = None
        if err["type"] == "extra_forbidden":
            choices = _fields_at(loc)
            suggestion = did_you_mean(str(loc[-1]), choices)
            message = f"unknown field; expected one of: {', '.join(choices)}"
        if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
            name = names[loc[1]] if loc[1] < len(names) else None
            if name:
                message = f"case {name!r}: {message}"
        shown_loc = ".".join(str(p) for p in loc) or None
        out.append(PolicyProblem(message, shown, line_of(data, loc), field=shown_loc, suggestion=suggestion))
    return out


def _fields_at(loc: Sequence[Any]) -> list[str]:
    names = [p for p in loc[:-1] if isinstance(p, str)]
    if "expect" in names:
        return list(Expectation.model_fields)
    if names[:1] == ["cases"]:
        return list(_CaseModel.model_fields)
    return list(_CaseFileModel.model_fields)


def _merge(base: Any, over: Any) -> Any:
    """Deep-merge ``over`` onto ``base``: mappings merge key by key; lists and values replace.

    The result keeps the line of every key (from whichever file part gave it), so a fact error
    points at the line that wrote the offending value.
    """
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    merged = LineDict()
    merged.line = getattr(over, "line", 0) or getattr(base, "line", 0)
    merged.key_lines = {**getattr(base, "key_lines", {}), **getattr(over, "key_lines", {})}
    for key, value in base.items():
        merged[key] = _merge(value, over[key]) if key in over else value
    for key, value in over.items():
        if key not in base:
            merged[key] = value
    return merged


def _plain(value: Any) -> Any:
    """A fresh copy in plain dicts and lists, so no case can change another's facts."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# -- running -----------------------------------------------------------------------------------------


def _names(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _amount(value: Decimal | None) -> str:
    """Cents always shown, never rounded away: a diff must show the digit that differs."""
    if value is None:
        return "none"
    exponent = value.as_tuple().exponent
    return f"{value:,.2f}" if isinstance(exponent, int) and exponent >= -2 else f"{value:,}"


def run_case(gate: Any, case: TestCase) -> CaseResult:
    """Decide ``case`` on ``gate`` and compare the decision with the expectation.

    ``gate`` is a :class:`~salesgate.Gate` (typed loosely to keep this module free of the gate's
    imports). Errors while deciding are failures of the case, never exceptions of the runner.
    """
    if case.as_of is None:
        reader = reading_today(gate.policy, case.hook)
        if reader is not None:
            text = (f"as_of: {_today_needed(reader, case.hook)}, and the case gives no as_of: date: give one, so "
                    "the case is deterministic")
            return CaseResult(case, (Mismatch("as_of", text),))
    try:
        decision: Decision = gate.decide(case.hook, case.facts, as_of=case.as_of)
    except SalesgateError as exc:
        return CaseResult(case, (Mismatch("decide", f"could not decide: {exc}"),))
    expect = case.expect
    found: list[Mismatch] = []
    fired = tuple(dict.fromkeys(decision.fired))
    if decision.failure:
        found.append(Mismatch("failure", f"the decision is a fallback after an error: {decision.failure}",
                              None, decision.failure))
    if expect.outcome is not None and decision.outcome is not expect.outcome:
        found.append(_differs("outcome", expect.outcome.value, decision.outcome.value, _why(decision)))
    if expect.approvals is not None and decision.required_roles != expect.approvals:
        ladder = list(gate.policy.roles)
        strangers = [role for role in expect.approvals if role not in ladder]
        hints = [f"{role!r} is not a role of the ladder" + (f" (did you mean {hint!r}?)"
                                                            if (hint := did_you_mean(role, ladder)) else "")
                 for role in strangers]
        found.append(_differs("approvals", _names(expect.approvals), _names(decision.required_roles),
                              f" ({'; '.join(hints)})" if hints else ""))
    if expect.notify is not None:
        notified = sorted({n.role for n in decision.notifications})
        if notified != sorted(set(expect.notify)):
            found.append(_differs("notify", _names(sorted(set(expect.notify))), _names(notified)))
    found += _check_rules(gate, case, decision, fired)
    found += _check_figures(case, decision)
    found += _check_outputs(gate.policy, case, decision)
    return CaseResult(case, tuple(found), decision, fired)


def _differs(key: str, expected: str, got: str, why: str = "") -> Mismatch:
    return Mismatch(key, f"{key}: expected {expected}, got {got}{why}", expected, got)


def _why(decision: Decision) -> str:
    if decision.reasons:
        return " (from " + ", ".join(f"{r.rule}: {r.outcome.value}" for r in decision.reasons) + ")"
    fired = ", ".join(dict.fromkeys(decision.fired))
    return f" (no rule asked for more; fired: {fired})" if fired else " (no rule fired)"


def _check_rules(gate: Any, case: TestCase, decision: Decision, fired: tuple[str, ...]) -> list[Mismatch]:
    policy: Policy = gate.policy
    known = [r.id for r in policy.rules_for(case.hook)]
    found: list[Mismatch] = []
    missing = [r for r in case.expect.fired or () if r in known and r not in fired]
    unwanted = [r for r in case.expect.not_fired or () if r in fired]
    for key, ids in (("fired", case.expect.fired or []), ("not_fired", case.expect.not_fired or [])):
        for rule in ids:
            if rule not in known:
                hint = did_you_mean(rule, known)
                text = f"{key}: no rule {rule!r} at decision point {case.hook} in policy {policy.name}"
                found.append(Mismatch(key, text + (f" (did you mean {hint!r}?)" if hint else ""), rule, None))
    if missing or unwanted:
        # Ask again with explanations: why a rule did (not) fire is what the policy owner needs.
        explained = gate.decide(case.hook, case.facts, explain=True, as_of=case.as_of)
        why = {t.rule: t.explanation for t in explained.trace if t.explanation}
        for rule in missing:
            found.append(Mismatch("fired", f"fired: expected {rule} to fire; it did not"
                                  + (f": {why[rule]}" if rule in why else "")
                                  + f" (fired: {', '.join(fired) or 'none'})", rule, "not fired"))
        for rule in unwanted:
            found.append(Mismatch("not_fired", f"not_fired: expected {rule} not to fire; it fired"
                                  + (f": {why[rule]}" if rule in why else ""), rule, "fired"))
    return found


def _check_figures(case: TestCase, decision: Decision) -> list[Mismatch]:
    expect = case.expect
    found: list[Mismatch] = []
    if expect.prices is not None:
        if decision.pricing is None:
            found.append(Mismatch("prices", "prices: the decision has no pricing"))
        else:
            got = {line.line_no: line.policy_price for line in decision.pricing.lines}
            for line_no, price in sorted(expect.prices.items()):
                if line_no not in got:
                    found.append(Mismatch(f"prices.{line_no}", f"prices: line {line_no}: no such line "
                                          f"(lines: {', '.join(map(str, got))})", _amount(price), None))
                elif got[line_no] != price:
                    found.append(Mismatch(f"prices.{line_no}", f"prices: line {line_no}: expected {_amount(price)}, "
                                          f"got {_amount(got[line_no])}", _amount(price), _amount(got[line_no])))
    returns = decision.returns
    for key, expected, actual in (
        ("refund", expect.refund, returns.refund_amount if returns else None),
        ("restocking_fee", expect.restocking_fee, returns.restocking_fee if returns else None),
    ):
        if expected is not None and actual != expected:
            found.append(_differs(key, _amount(expected), _amount(actual)))
    credit = decision.credit
    for key, expected, actual in (
        ("available", expect.available, credit.available if credit else None),
        ("exposure", expect.exposure, credit.exposure if credit else None),
    ):
        if expected is not None and credit is None:
            found.append(Mismatch(key, f"{key}: the decision has no credit figures (is the 'credit' plugin "
                                       "disabled?)", _amount(expected), None))
        elif expected is not None and actual != expected:
            found.append(_differs(key, _amount(expected), _amount(actual)))
    return found


def _check_outputs(policy: Policy, case: TestCase, decision: Decision) -> list[Mismatch]:
    expected = case.expect.outputs
    if expected is None:
        return []
    spec = policy.points.get(case.hook)
    problems = _output_problems(spec, expected) if spec is not None else [f"no point {case.hook!r} in this policy"]
    if spec is None or problems:  # the policy run is not the one the file was checked against
        return [Mismatch("outputs", f"outputs: {problem}") for problem in problems]
    found: list[Mismatch] = []
    for name, value in expected.items():
        output = spec.output(name)
        assert output is not None  # noqa: S101 - checked by _output_problems
        want = _expected_output(output, value)
        got = decision.outputs.get(name)
        if got != want:
            found.append(_differs(f"outputs.{name}", _output_text(output, want), _output_text(output, got)))
    return found


def run_all(gate: Any, cases: Iterable[TestCase]) -> list[CaseResult]:
    """Run every case on one gate, in order."""
    return [run_case(gate, case) for case in cases]


def uncovered_rules(policy: Policy, results: Iterable[CaseResult]) -> list[str]:
    """Ids of the policy's rules that no passing case saw fire, in policy order."""
    return [rule.id for rule in uncovered(policy, results)]


def uncovered(policy: Policy, results: Iterable[CaseResult]) -> list[CompiledRule]:
    """The policy's rules that no passing case saw fire (a failing case proves nothing), in policy order."""
    covered = {rule for result in results if result.passed for rule in result.fired}
    return [rule for rule in policy.rules if rule.id not in covered]


@dataclass(frozen=True)
class SuiteResult:
    """A policy's cases run on one backend: what ``salesgate test`` prints and a reload is judged by."""

    __test__: ClassVar[bool] = False

    policy: Policy
    backend: str
    results: tuple[CaseResult, ...]

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    def uncovered(self) -> list[CompiledRule]:
        return uncovered(self.policy, self.results)

    def summary(self) -> str:
        """``42 passed, 1 failed`` (``no cases`` for none)."""
        failed = len(self.failed)
        parts = [f"{len(self.results) - failed} passed"] + ([f"{failed} failed"] if failed else [])
        return ", ".join(parts) if self.results else "no cases"


def run_suite(gate: Any, cases: Sequence[TestCase]) -> SuiteResult:
    """Run ``cases`` on ``gate``: a fresh gate for cases (:func:`salesgate.gate.case_gate`), which the
    caller closes. Typed loosely, like :func:`run_case`: the test-case format needs no gate."""
    return SuiteResult(gate.policy, gate.backend, tuple(run_all(gate, cases)))
