"""Python source generated from the checked IR: one function per stage, the compiled backend's matcher.

Why generate code: the evaluator's closures (:mod:`.evaluator`) call one Python function per node
of a condition on every decision; a stage compiled into one function reads each fact once into a
local and tests every rule as a plain Python expression, with no call between the nodes.

Why it is safe: **this is not eval/exec of rule text.** Nothing a policy owner writes reaches the
generated source. Every identifier in it comes from a fixed table of generated names (``k3``,
``v12``, ``stage_0``, ...) and a fixed set of helpers (:data:`HELPERS`); every constant of a
policy (rule ids, fact paths, texts, numbers, dates, function states, the sets of ``in`` lists) is
an object bound to a generated name in the module's namespace, so the source holds no literal but
``None``, ``True`` and ``False``. Before anything is compiled, the source is parsed and every node
of its tree checked against a whitelist of node types, names and attributes (:func:`check`); the
checked tree itself is what is compiled, once per policy load, and run in a namespace without
builtins. A tree that fails the check is an internal error: the stage falls back to the evaluator's
closures, and says so (:attr:`CompiledStages.fallbacks`, ``salesgate validate``).

The semantics are the evaluator's, node for node: a comparison that reads a missing value is
false, arithmetic is :func:`.ir.arith`'s (inlined for ``+ - *`` on numbers), functions run from
:data:`.functions.FUNCTIONS` with their prepared state, ``in`` lists of :data:`.evaluator._SET_FROM`
values or more are set lookups, and aggregates run as the evaluator's own closures (per-list memo
and keyed grouping included), called from the generated code.

Rule indexing: when many rules of a stage test one fact with ``==`` (or ``in``) against constants,
or against a range of constants (``<``, ``<=``, ``>``, ``>=``: a decision table's ``[20000..100000)``
cells, an effective window on ``today``), a dict from constant to candidate rules and a sorted
threshold table looked up by bisection pick the rules that can match, and only those are tested.
Every candidate is still tested on its whole condition, so the index only ever skips rules that
cannot match: a rule fires on a value only if the value is among its keys or inside its range.

Model matchers (:func:`generate_model_stage`): the same generator and whitelist over the fact models
instead of a flattened :class:`~salesgate.facts.FactSet`. A read is a call of a reader
(:mod:`salesgate.readers`) bound to a generated name, on the facts model (``root``, once per call) or a line
model (``item``, an element of ``any``/``all``), with the decision's date, the policy prices and the sku →
product map as parameters. Flattening cost more than matching; a stage the models cannot answer alone (an
aggregate, a rule on the evaluator's closure) has no model matcher.
"""

from __future__ import annotations

import ast
import logging
import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from ..facts import TODAY, FactValues
from ..readers import Reader, Readers
from .evaluator import _SET_FROM, compile_cond, compile_expr
from .functions import FUNCTIONS
from .ir import (
    SWAPPED,
    Aggregate,
    Always,
    And,
    Arith,
    Call,
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
    arith,
)
from .stages import EngineRule, Match, Stage

__all__ = ["INDEX_FROM", "CompiledStages", "Fallback", "GeneratedCodeRefused", "ModelFunction", "StageFunction",
           "check", "compile_stages", "generate_model_stage", "generate_stage"]

logger = logging.getLogger("salesgate")

StageFunction = Callable[[FactValues, Sequence[FactValues]], list[Match]]
"""``stage_<n>(root, items)``: every (rule id, item index or None) whose condition holds."""

INDEX_FROM: Final = 16
"""Rules a group of rules must hold, all testing the same facts against constants, to be indexed:
fewer are tested one after the other, which is faster than looking them up."""
_MAX_DIMENSIONS: Final = 3
"""Facts a rule is indexed on, at most: those that the most rules of its stage test."""
_RANGE_BUDGET: Final = 64
"""Candidate sets of a range index hold at most this many rule entries per rule (nested ranges
such as ``x >= c`` for many ``c`` would be quadratic): beyond it the fact is not indexed."""

_OPS: Final[dict[CompareOp, str]] = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}
_NUMERIC: Final = (Kind.number, Kind.duration)

# -- the whitelist ----------------------------------------------------------------------------------

HELPERS: Final[Mapping[str, Any]] = {
    "arith": arith,
    "any": any,
    "all": all,
    "enumerate": enumerate,
}
"""The only names a generated module reads besides its generated ones, its parameters and :func:`ranged`."""
_PARAMETERS: Final = frozenset({"root", "items", "item", "fired"})
_MODEL_PARAMETERS: Final = _PARAMETERS | {"today", "prices", "products"}
"""The parameters of a model matcher's functions (see :func:`generate_model_stage`): the decision's date, the
policy prices by line_no and the sku → product map, which the readers of ``today``, ``line.policy_price`` and
``line.product.*`` take. Only modules generated for the models may use them."""
_GENERATED_NAME: Final = re.compile(r"^(?:[kvwtencifg]\d+|stage_\d+)$")
_ATTRIBUTES: Final = frozenset({"get", "append"})
_NODES: Final = frozenset({
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Assign, ast.Expr, ast.If, ast.For,
    ast.Name, ast.Load, ast.Store, ast.Attribute, ast.Call, ast.Subscript, ast.Tuple, ast.List, ast.Constant,
    ast.Compare, ast.Is, ast.IsNot, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.BitOr, ast.BitAnd,
    ast.IfExp, ast.NamedExpr, ast.GeneratorExp, ast.comprehension, ast.Break, ast.UnaryOp, ast.Not,
})


class GeneratedCodeRefused(Exception):
    """The generated source failed the whitelist check: an internal error of the generator."""


class _Unsupported(Exception):
    """A construct the generator does not handle: the rule runs on the evaluator's closure."""


def check(tree: ast.Module, names: frozenset[str], parameters: frozenset[str] = _PARAMETERS) -> None:
    """Refuse a generated module unless every node is of a whitelisted type and every name, attribute,
    constant, call and function definition has the one shape the generator emits.

    ``names`` are the generated names bound in the namespace (constants) and defined by the module;
    ``parameters`` the parameter names its functions may have (:data:`_MODEL_PARAMETERS` for a model matcher,
    whose parameters are models: no attribute of them is read but by a reader, ``fired.append`` apart).
    """
    if parameters not in (_PARAMETERS, _MODEL_PARAMETERS):
        raise GeneratedCodeRefused("a parameter name is not one the generator uses")
    opaque = parameters - {"fired"} if parameters == _MODEL_PARAMETERS else frozenset()
    if any(not _GENERATED_NAME.match(name) for name in names):
        raise GeneratedCodeRefused("a name in the table is not a generated name")
    allowed = names | parameters | HELPERS.keys() | {"ranged"}
    for node in ast.walk(tree):
        if type(node) not in _NODES:
            raise GeneratedCodeRefused(f"node {type(node).__name__} is not allowed")
        if isinstance(node, ast.Name):
            if node.id not in allowed:
                raise GeneratedCodeRefused(f"name {node.id!r} is not allowed")
        elif isinstance(node, ast.Attribute):
            if node.attr not in _ATTRIBUTES or not isinstance(node.value, ast.Name) \
                    or not isinstance(node.ctx, ast.Load) or node.value.id in opaque:
                raise GeneratedCodeRefused(f"attribute {node.attr!r} is not allowed here")
        elif isinstance(node, ast.Constant):
            if node.value is not None and not isinstance(node.value, bool):
                raise GeneratedCodeRefused(f"literal {node.value!r} is not allowed")
        elif isinstance(node, ast.Call):
            indexed = (isinstance(node.func, ast.Subscript) and isinstance(node.func.value, ast.Name)
                       and isinstance(node.func.slice, ast.Name))  # a group's per-rule test: g0[n0](root)
            if node.keywords or not (isinstance(node.func, ast.Name | ast.Attribute) or indexed) \
                    or (isinstance(node.func, ast.Name) and node.func.id in parameters):
                raise GeneratedCodeRefused("only plain calls of a generated name or a helper are allowed")
            if any(isinstance(arg, ast.Starred) for arg in node.args):  # pragma: no cover - Starred is refused
                raise GeneratedCodeRefused("starred arguments are not allowed")
        elif isinstance(node, ast.FunctionDef):
            if node.decorator_list or node.returns is not None or not _GENERATED_NAME.match(node.name) \
                    or node.name not in names:
                raise GeneratedCodeRefused(f"function {node.name!r} is not allowed")
        elif isinstance(node, ast.arguments):
            if node.posonlyargs or node.vararg or node.kwonlyargs or node.kwarg or node.defaults \
                    or node.kw_defaults:
                raise GeneratedCodeRefused("only plain positional parameters are allowed")
        elif isinstance(node, ast.arg):
            if node.arg not in parameters or node.annotation is not None:
                raise GeneratedCodeRefused(f"parameter {node.arg!r} is not allowed")
        elif isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
            raise GeneratedCodeRefused("only reading by subscript is allowed")
        elif isinstance(node, ast.Assign) and not all(isinstance(target, ast.Name) for target in node.targets):
            raise GeneratedCodeRefused("only assignments to a name are allowed")
        elif isinstance(node, ast.For | ast.comprehension) and not (
                isinstance(node.target, ast.Name) or (isinstance(node.target, ast.Tuple) and all(
                    isinstance(element, ast.Name) for element in node.target.elts))):
            raise GeneratedCodeRefused("only loops over names are allowed")
        elif isinstance(node, ast.List) and node.elts:
            raise GeneratedCodeRefused("only an empty list is allowed")
        elif isinstance(node, ast.comprehension) and node.is_async:
            raise GeneratedCodeRefused("async comprehensions are not allowed")
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef):
            continue
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id in names
                and isinstance(statement.value, ast.Tuple)
                and all(isinstance(element, ast.Name) or (isinstance(element, ast.Constant) and element.value is None)
                        for element in statement.value.elts)):
            continue  # a tuple of the module's functions: a group's per-rule tests
        raise GeneratedCodeRefused(f"a module holds only functions and tuples of them, not "
                                   f"{type(statement).__name__}")


# -- the result --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fallback:
    """A rule the generator did not compile: it runs on the evaluator's closure (same answers, slower)."""

    stage: str
    rule: str
    reason: str


@dataclass(frozen=True)
class CompiledStages:
    """Each stage's generated function, the rules that fell back, and each stage's source (to read)."""

    functions: Mapping[str, StageFunction]
    fallbacks: tuple[Fallback, ...]
    sources: Mapping[str, str] = field(default_factory=dict)


def compile_stages(stages: Sequence[Stage], *, index: bool = True, index_from: int = INDEX_FROM) -> CompiledStages:
    """Generate, check and compile one function per stage. Never raises for a valid policy: a stage whose
    module is refused (an internal error) matches with the evaluator's closures, reported as fallbacks."""
    functions: dict[str, StageFunction] = {}
    fallbacks: list[Fallback] = []
    sources: dict[str, str] = {}
    for number, stage in enumerate(stages):
        try:
            generated = generate_stage(stage, number, index=index, index_from=index_from)
            functions[stage.name] = generated.build()
        except (GeneratedCodeRefused, SyntaxError, RecursionError, MemoryError, ValueError) as exc:
            logger.warning("the compiled backend runs stage %s on the evaluator: its generated code was refused "
                           "(%s: %s)", stage.name, type(exc).__name__, exc)
            functions[stage.name] = _closures(stage)
            fallbacks.extend(Fallback(stage.name, rule.id, f"the stage's generated code was refused: {exc}")
                             for rule in stage.rules)
            continue
        sources[stage.name] = generated.source
        fallbacks.extend(generated.fallbacks)
    return CompiledStages(functions, tuple(fallbacks), sources)


def _closures(stage: Stage) -> StageFunction:
    """The stage matched as the python backend matches it: the fallback of a refused stage."""
    order = tuple(((rule.id, None), compile_cond(rule.cond)) for rule in stage.rules if rule.scope == "order")
    lines = tuple((rule.id, compile_cond(rule.cond)) for rule in stage.rules if rule.scope == "line")

    def match(root: FactValues, items: Sequence[FactValues]) -> list[Match]:
        fired: list[Match] = [found for found, test in order if test(root, None)]
        for rule, test in lines:
            fired.extend((rule, index) for index, values in enumerate(items) if test(values, None))
        return fired

    return match


# -- generation --------------------------------------------------------------------------------------

@dataclass
class GeneratedStage:
    """One stage's module: its source, the objects its generated names stand for, its fallbacks."""

    name: str
    function: str
    source: str
    constants: dict[str, Any]
    defined: frozenset[str]
    fallbacks: list[Fallback]
    parameters: frozenset[str] = _PARAMETERS
    """The parameter names its functions may have (the whitelist's)."""

    def build(self) -> Any:
        """Parse, check against the whitelist, compile and run the module; its stage function (a
        :data:`StageFunction`, or a :data:`ModelFunction` for a module of :func:`generate_model_stage`)."""
        tree = ast.parse(self.source, filename=f"<salesgate stage {self.function}>", mode="exec")
        check(tree, frozenset(self.constants) | self.defined, self.parameters)
        code = compile(tree, f"<salesgate stage {self.function}>", "exec")
        namespace: dict[str, Any] = {"__builtins__": {}, **HELPERS, "ranged": ranged, **self.constants}
        # The one exec of salesgate: a module generated from the checked IR and checked node by node
        # above; no rule text is in it (see the module docstring).
        exec(code, namespace)  # noqa: S102
        return namespace[self.function]


class _Names:
    """The table of generated names: constants (``k``), reads (``v``/``w``), temporaries (``t``), loop
    variables (``e``, ``n``, ``i``), candidate sets (``c``), functions (``f``, ``stage_``) and tuples of
    them (``g``). Nothing else names anything in a generated module."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}
        self._by_value: dict[tuple[Any, ...], str] = {}
        self.defined: set[str] = set()
        self._kept: list[Any] = []
        self._counts: dict[str, int] = {}

    def fresh(self, prefix: str) -> str:
        count = self._counts.get(prefix, 0)
        self._counts[prefix] = count + 1
        name = f"{prefix}{count}"
        self.defined.add(name)
        return name

    def constant(self, value: Any) -> str:
        """The name standing for ``value``. Equal scalars of one type and spelling share a name (1.0 and
        1.00 do not: arithmetic on them keeps their exponents); other objects by identity."""
        if isinstance(value, str | int | Decimal | date | bool) or value is None:
            key: tuple[Any, ...] = (type(value), repr(value))
        elif isinstance(value, tuple) and all(isinstance(v, str | int | type(None)) for v in value):
            key = (tuple, tuple((type(v), repr(v)) for v in value))
        else:
            key = (id(value),)
            self._kept.append(value)  # alive while the table lives: its id stays its own
        name = self._by_value.get(key)
        if name is None:
            name = self._by_value[key] = self.fresh("k")
            self.constants[name] = value
        return name


@dataclass(frozen=True)
class _Code:
    """A generated expression: its text; whether it is a name or constant (read twice at no cost and no
    effect); whether it is never None (a constant)."""

    text: str
    simple: bool = False
    present: bool = False


class _Scope:
    """Where an expression is generated: the dict rules read (``root`` or ``item``), the locals its facts
    were read into, and the current ``any``/``all`` element."""

    def __init__(self, names: _Names, source: str, prefix: str) -> None:
        self.names = names
        self.source = source
        self.prefix = prefix
        self.reads: dict[str, str] = {}
        self.settled: dict[tuple[Cond, str], str] = {}
        """``any``/``all`` already computed into a local by a loop statement (see :meth:`_Generator.settle`)."""

    def read(self, path: str) -> str:
        local = self.reads.get(path)
        if local is None:
            local = self.reads[path] = self.names.fresh(self.prefix)
        return local

    def read_lines(self, indent: str) -> list[str]:
        return [f"{indent}{local} = {self.source}.get({self.names.constant(path)})"
                for path, local in self.reads.items()]

    def collection(self, path: str) -> str:
        """The name of the list ``any``/``all`` iterate (its elements are read by :meth:`_Generator.expr`)."""
        return self.read(path)

    def generator(self) -> _Generator:
        return _Generator(self.names, self)

    def closure_test(self, cond: Cond) -> str:
        """A rule the generator does not compile, tested by the evaluator's closure."""
        return f"{self.names.constant(compile_cond(cond))}({self.source}, None)"

    def helper_scope(self) -> _Scope:
        """The scope of a function of its own testing one indexed rule (see :func:`_group_code`)."""
        return _Scope(self.names, "root", "v")

    parameters = "root"
    """The parameters of such a function, as its helper scope reads them."""

    def helper_arguments(self) -> str:
        """The arguments calling such a function from this scope."""
        return self.source

    def helper_read_lines(self, indent: str) -> list[str]:
        """The reads at the start of such a function (this being its helper scope)."""
        return self.read_lines(indent)


class _Generator:
    """Conditions and expressions to Python expressions over a scope's locals."""

    def __init__(self, names: _Names, scope: _Scope) -> None:
        self.names = names
        self.scope = scope
        self.element: str | None = None

    # expressions

    def expr(self, expr: Expr) -> _Code:
        if isinstance(expr, Const):
            return _Code(self.names.constant(expr.value), simple=True, present=True)
        if isinstance(expr, Ref):
            if expr.item:
                if self.element is None:
                    return _Code("None", simple=True)
                return _Code(f"{self.element}.get({self.names.constant(expr.path)})")
            return _Code(self.scope.read(expr.path), simple=True)
        if isinstance(expr, Arith):
            return self._arith(expr)
        if isinstance(expr, Call):
            return self._call(expr)
        if isinstance(expr, Aggregate):
            closure = self.names.constant(compile_expr(expr))
            return _Code(f"{closure}({self.scope.source}, {self.element or 'None'})")
        raise _Unsupported(f"expression {type(expr).__name__}")

    def _all_present(self, parts: Sequence[_Code]) -> tuple[str | None, list[str]]:
        """A test that every part is present, evaluating each part once and all of them (as the evaluator
        does before it looks), and the names to use for the parts afterwards. None: nothing to test."""
        tests: list[str] = []
        used: list[str] = []
        effects = any(not part.simple for part in parts)
        for part in parts:
            if part.present:
                used.append(part.text)
            elif part.simple:
                used.append(part.text)
                tests.append(f"({part.text} is None)" if effects else f"{part.text} is None")
            else:
                temporary = self.names.fresh("t")
                used.append(temporary)
                tests.append(f"(({temporary} := {part.text}) is None)")
        if not tests:
            return None, used
        return (" | " if effects else " or ").join(tests), used

    def _arith(self, expr: Arith) -> _Code:
        left, right = self.expr(expr.left), self.expr(expr.right)
        if expr.op in "+-*" and _kind(expr.left) in _NUMERIC and _kind(expr.right) in _NUMERIC:
            test, (a, b) = self._all_present([left, right])
            computed = f"{a} {expr.op} {b}"
            return _Code(f"({computed})" if test is None else f"(None if {test} else {computed})",
                         present=test is None)
        return _Code(f"arith({self.names.constant(expr.op)}, {left.text}, {right.text})")

    def _call(self, call: Call) -> _Code:
        function = FUNCTIONS.get(call.func)
        if function is None:
            raise _Unsupported(f"function {call.func}")
        args = [self.expr(arg) for arg in call.args]
        test, used = self._all_present(args)
        if function.stateful:
            used = [self.names.constant(call.state), *used]
        computed = f"{self.names.constant(function.run)}({', '.join(used)})"
        return _Code(computed if test is None else f"(None if {test} else {computed})")

    # conditions

    def cond(self, cond: Cond) -> str:
        if isinstance(cond, Compare):
            return self._compare(cond)
        if isinstance(cond, IsNone):
            operand = self.expr(cond.operand)
            if operand.present:
                return "True" if cond.present else "False"
            return f"({operand.text} is {'not ' if cond.present else ''}None)"
        if isinstance(cond, And | Or):
            members = self._membership(cond)
            if members is not None:
                return members
            joiner = " and " if isinstance(cond, And) else " or "
            return "(" + joiner.join(self.cond(item) for item in cond.items) + ")"
        if isinstance(cond, Quantified):
            settled = self.scope.settled.get((cond, repr(cond)))
            if settled is not None:
                return settled
            collection = self.scope.collection(cond.collection)
            outer, self.element = self.element, self.names.fresh("e")
            try:
                inner = self.cond(cond.cond)
                element = self.element
            finally:
                self.element = outer
            return f"{cond.quantifier}({inner} for {element} in ({collection} or ()))"
        if isinstance(cond, Always):
            return "True"
        raise _Unsupported(f"condition {type(cond).__name__}")

    def settle(self, cond: Cond, indent: str) -> list[str]:
        """Loop statements computing the ``any``/``all`` a rule's condition evaluates first into a local, which
        the condition then reads (a plain loop costs a third of a generator expression). Evaluated first
        either way, so nothing is evaluated that would not be; rules of a scope starting with the same one
        share it."""
        lead = cond
        while isinstance(lead, And | Or) and _listed(lead) is None:
            lead = lead.items[0]
        if not isinstance(lead, Quantified) or (lead, repr(lead)) in self.scope.settled:
            return []
        collection = self.scope.collection(lead.collection)
        element, result = self.names.fresh("e"), self.names.fresh("t")
        outer, self.element = self.element, element
        try:
            inner = self.cond(lead.cond)
        finally:
            self.element = outer
        found, otherwise = ("True", "False") if lead.quantifier == "any" else ("False", "True")
        test = inner if lead.quantifier == "any" else f"not {inner}"
        self.scope.settled[(lead, repr(lead))] = result
        return [f"{indent}{result} = {otherwise}", f"{indent}for {element} in ({collection} or ()):",
                f"{indent}    if {test}:", f"{indent}        {result} = {found}", f"{indent}        break"]

    def _compare(self, cond: Compare) -> str:
        left, right = self.expr(cond.left), self.expr(cond.right)
        op = _OPS[cond.op]
        parts: list[str] = []
        names: list[str] = []
        for side in (left, right):
            if side.present:
                names.append(side.text)
            elif side.simple:
                parts.append(f"{side.text} is not None")
                names.append(side.text)
            else:
                temporary = self.names.fresh("t")
                parts.append(f"({temporary} := {side.text}) is not None")
                names.append(temporary)
        parts.append(f"{names[0]} {op} {names[1]}")
        return "(" + " and ".join(parts) + ")"

    def _membership(self, cond: And | Or) -> str | None:
        """``x in [...]`` of :data:`_SET_FROM` values or more as one set lookup, as the evaluator does."""
        values = _listed(cond)
        if values is None:
            return None
        ref, members, negated = values
        subject = self.expr(ref)
        members_name = self.names.constant(members)
        test = "not in" if negated else "in"
        if subject.simple:
            return f"({subject.text} is not None and {subject.text} {test} {members_name})"
        temporary = self.names.fresh("t")
        return f"(({temporary} := {subject.text}) is not None and {temporary} {test} {members_name})"


_PARSED_FROM: Final = 100
"""Opening parentheses in a rule's generated condition from which it is parsed on its own before it goes into
the stage's module: fewer cannot nest past Python's limit (200 levels). A long arithmetic chain (99 ``+``,
within the language's limits) nests about three levels per operator; refused in the module, it would put
every rule of its stage on the evaluator instead of the one rule."""


def unsupported(cond: Cond) -> str | None:
    """Why the generator cannot compile ``cond`` (the rule then runs on the evaluator's closure), or None."""
    try:
        text = _Generator(_Names(), _Scope(_Names(), "root", "v")).cond(cond)
    except _Unsupported as exc:
        return str(exc)
    if text.count("(") >= _PARSED_FROM:
        try:
            ast.parse(text, mode="eval")
        except (SyntaxError, RecursionError, MemoryError) as exc:
            detail = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
            return f"its generated code nests too deep for Python's parser ({detail})"
    return None


def _listed(cond: And | Or) -> tuple[Ref, frozenset[Any], bool] | None:
    """(fact, values, negated) of ``x in [...]`` (an Or of ``x == a``) or ``not x in [...]`` (an And of
    ``x != a``) with :data:`_SET_FROM` values or more: the evaluator's ``_membership`` shape."""
    op = "==" if isinstance(cond, Or) else "!="
    items = cond.items
    if len(items) < _SET_FROM:
        return None
    first = items[0]
    if not isinstance(first, Compare) or not isinstance(first.left, Ref):
        return None
    ref = first.left
    values = []
    for part in items:
        if not (isinstance(part, Compare) and part.op == op and part.left == ref and isinstance(part.right, Const)):
            return None
        values.append(part.right.value)
    return ref, frozenset(values), op == "!="


def _kind(expr: Expr) -> Kind | None:
    return getattr(expr, "kind", None)


# -- indexing ----------------------------------------------------------------------------------------

Dimension = tuple[str, str]
"""(fact path, "eq" or "range"): one way a rule can be looked up."""


@dataclass(frozen=True)
class _Interval:
    low: Any = None
    low_closed: bool = False
    high: Any = None
    high_closed: bool = False


@dataclass(frozen=True)
class RangeIndex:
    """A fact's sorted thresholds and, for each region between and at them, the candidate rules:
    region ``2i`` lies below ``bounds[i]`` (above the one before), region ``2i + 1`` is ``bounds[i]``."""

    bounds: tuple[Any, ...]
    regions: tuple[frozenset[int], ...]


_NOTHING: Final[frozenset[int]] = frozenset()


def ranged(index: RangeIndex, value: Any) -> frozenset[int]:
    """The candidates of ``value`` in a range index (none for a missing value: every range test is false)."""
    if value is None:
        return _NOTHING
    bounds = index.bounds
    position = bisect_left(bounds, value)
    if position < len(bounds) and bounds[position] == value:
        return index.regions[2 * position + 1]
    return index.regions[2 * position]


def _conjuncts(cond: Cond) -> Iterator[Cond]:
    if isinstance(cond, And) and _listed(cond) is None:
        for item in cond.items:
            yield from _conjuncts(item)
    else:
        yield cond


def _orderable(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return "number"
    if isinstance(value, date):
        return "date"
    return None


@dataclass(frozen=True)
class _Constraint:
    """What a rule's condition says of one fact, for an index: the constants it must equal (``keys``) or the
    interval it must lie in, and which of the condition's top-level ``and`` parts say it (``parts``)."""

    keys: frozenset[Any] | None
    interval: _Interval | None
    parts: frozenset[int]


def _constraints(cond: Cond) -> tuple[list[Cond], dict[Dimension, _Constraint]]:
    """A rule's top-level ``and`` parts, and the parts an index can use, by fact: each a test a rule matches
    only when it holds."""
    parts = list(_conjuncts(cond))
    found: dict[Dimension, _Constraint] = {}

    def add_keys(path: str, keys: frozenset[Any], at: int) -> None:
        previous = found.get((path, "eq"))
        if previous is None:
            found[(path, "eq")] = _Constraint(keys, None, frozenset({at}))
        else:
            found[(path, "eq")] = _Constraint((previous.keys or frozenset()) & keys, None, previous.parts | {at})

    for at, part in enumerate(parts):
        if isinstance(part, Or):
            equal = _equalities(part)
            if equal is not None:
                add_keys(equal[0].path, equal[1], at)
            continue
        if not isinstance(part, Compare):
            continue
        left, right, op = part.left, part.right, part.op
        if isinstance(left, Const) and isinstance(right, Ref):
            left, right, op = right, left, SWAPPED[op]
        if not (isinstance(left, Ref) and not left.item and isinstance(right, Const)):
            continue
        value = right.value
        if op == "==":
            add_keys(left.path, frozenset({value}), at)
        elif op != "!=" and _orderable(value) is not None:
            previous = found.get((left.path, "range"))
            interval = previous.interval if previous is not None and previous.interval is not None else _Interval()
            if op in (">", ">="):
                closed = op == ">="
                if interval.low is None or value > interval.low or (value == interval.low and not closed):
                    interval = _Interval(value, closed, interval.high, interval.high_closed)
            else:
                closed = op == "<="
                if interval.high is None or value < interval.high or (value == interval.high and not closed):
                    interval = _Interval(interval.low, interval.low_closed, value, closed)
            found[(left.path, "range")] = _Constraint(None, interval,
                                                      (previous.parts if previous is not None else frozenset()) | {at})
    return parts, found


def _equalities(cond: Or) -> tuple[Ref, frozenset[Any]] | None:
    """(fact, values) of ``x in [a, b, ...]`` (an Or of ``x == a``, of any length), else None."""
    first = cond.items[0]
    if not (isinstance(first, Compare) and isinstance(first.left, Ref) and not first.left.item):
        return None
    ref = first.left
    values = []
    for part in cond.items:
        if not (isinstance(part, Compare) and part.op == "==" and part.left == ref and isinstance(part.right, Const)):
            return None
        values.append(part.right.value)
    return ref, frozenset(values)


def _range_index(intervals: Sequence[tuple[int, _Interval]]) -> RangeIndex | None:
    """The range index of these (rule, interval) pairs, or None when its candidate sets would be too big
    or its constants are not of one orderable kind."""
    values = [v for _, interval in intervals for v in (interval.low, interval.high) if v is not None]
    if len({_orderable(v) for v in values}) > 1:
        return None
    bounds = sorted(set(values))
    position = {value: index for index, value in enumerate(bounds)}
    regions: list[set[int]] = [set() for _ in range(2 * len(bounds) + 1)]
    spans = []
    for rule, interval in intervals:
        start = 0 if interval.low is None else 2 * position[interval.low] + (1 if interval.low_closed else 2)
        if interval.high is None:
            end = 2 * len(bounds)
        else:
            end = 2 * position[interval.high] + (1 if interval.high_closed else 0)
        spans.append((rule, start, end))
    if sum(max(0, end - start + 1) for _, start, end in spans) > _RANGE_BUDGET * len(intervals) + 1024:
        return None
    for rule, start, end in spans:
        for region in range(start, end + 1):
            regions[region].add(rule)
    return RangeIndex(tuple(bounds), tuple(frozenset(region) for region in regions))


@dataclass
class _Group:
    """Rules indexed on the same facts: looked up by their ``==``/``in`` constants (one dict), then by the
    range of one fact within the rules that share those constants (one range index per dict entry)."""

    dimensions: tuple[Dimension, ...]
    rules: list[int] = field(default_factory=list)


_MAX_KEYS: Final = 256
"""Dict entries one rule may take in a group's index (``in`` lists on several facts multiply), at most."""


def _plan_index(conds: Sequence[Cond | None], index_from: int
                ) -> tuple[list[_Group], list[tuple[list[Cond], dict[Dimension, _Constraint]]]]:
    """Which rules to index on which facts: each rule on the (up to 3) facts most rules of the scope test
    (at most one of them by range), grouped by those facts; groups smaller than ``index_from`` are not."""
    analysed = [_constraints(cond) if cond is not None else ([], {}) for cond in conds]
    counts: dict[Dimension, int] = {}
    for _, found in analysed:
        for dimension in found:
            counts[dimension] = counts.get(dimension, 0) + 1
    groups: dict[tuple[Dimension, ...], _Group] = {}
    for number, (_, found) in enumerate(analysed):
        ranked = sorted(found, key=lambda d: (-counts[d], d))
        chosen: list[Dimension] = []
        for dimension in ranked:
            if dimension[1] == "range" and any(how == "range" for _, how in chosen):
                continue
            chosen.append(dimension)
        chosen = chosen[:_MAX_DIMENSIONS]
        keys = 1
        for dimension in chosen:
            keys *= len(found[dimension].keys or ()) if dimension[1] == "eq" else 1
        if not chosen or keys > _MAX_KEYS or keys == 0:
            continue
        signature = tuple(sorted(chosen))
        groups.setdefault(signature, _Group(signature)).rules.append(number)
    return [group for group in groups.values() if len(group.rules) >= index_from], analysed


# -- a stage's module --------------------------------------------------------------------------------

def generate_stage(stage: Stage, number: int, *, index: bool = True, index_from: int = INDEX_FROM) -> GeneratedStage:
    """The source of ``stage_<number>(root, items)`` for ``stage``, and what its names stand for."""
    names = _Names()
    function = f"stage_{number}"
    names.defined.add(function)
    fallbacks: list[Fallback] = []
    helpers: list[str] = []
    body: list[str] = []
    order_rules = [rule for rule in stage.rules if rule.scope == "order"]
    line_rules = [rule for rule in stage.rules if rule.scope == "line"]

    order_scope = _Scope(names, "root", "v")
    order_code = _rules_code(stage, order_rules, names, order_scope, "    ", None, helpers, fallbacks,
                             index, index_from)
    body.extend(order_scope.read_lines("    "))
    body.extend(order_code)
    if line_rules:
        line_scope = _Scope(names, "item", "w")
        position = names.fresh("i")
        line_code = _rules_code(stage, line_rules, names, line_scope, "        ", position, helpers, fallbacks,
                                index, index_from)
        body.append(f"    for {position}, item in enumerate(items):")
        body.extend(line_scope.read_lines("        "))
        body.extend(line_code or ["        pass"])
    lines = [*helpers, f"def {function}(root, items):", "    fired = []", *body, "    return fired", ""]
    return GeneratedStage(stage.name, function, "\n".join(lines), names.constants, frozenset(names.defined),
                          fallbacks)


def _rules_code(stage: Stage, rules: Sequence[EngineRule], names: _Names, scope: _Scope, indent: str,
                position: str | None, helpers: list[str], fallbacks: list[Fallback], index: bool,
                index_from: int) -> list[str]:
    """The statements testing ``rules`` (all of one scope): indexed groups first, then one ``if`` each."""
    def found(rule: EngineRule) -> str:
        if position is None:
            return names.constant((rule.id, None))
        return f"({names.constant(rule.id)}, {position})"

    supported: list[bool] = []
    for rule in rules:
        reason = unsupported(rule.cond)
        if reason is not None:
            fallbacks.append(Fallback(stage.name, rule.id, reason))
        supported.append(reason is None)
    indexable = [rule.cond if ok else None for rule, ok in zip(rules, supported, strict=True)]
    groups, analysed = _plan_index(indexable, index_from) if index else ([], [])
    indexed = {number for group in groups for number in group.rules}
    code: list[str] = []
    for group in groups:
        code.extend(_group_code(group, rules, analysed, names, scope, indent, position, helpers))
    for number, rule in enumerate(rules):
        if number in indexed:
            continue
        if not supported[number]:
            test = scope.closure_test(rule.cond)
        else:
            generator = scope.generator()
            code.extend(generator.settle(rule.cond, indent))
            test = generator.cond(rule.cond)
        code.append(f"{indent}if {test}:")
        code.append(f"{indent}    fired.append({found(rule)})")
    return code


def _group_code(group: _Group, rules: Sequence[EngineRule],
                analysed: Sequence[tuple[list[Cond], dict[Dimension, _Constraint]]], names: _Names, scope: _Scope,
                indent: str, position: str | None, helpers: list[str]) -> list[str]:
    """Look the group's candidates up, then test each on what the index does not already guarantee: the
    ``==``/``in`` parts hold for every rule the dict gives, and the range parts for every rule an exact range
    index gives; the rest of its condition is tested by a generated function of its own."""
    equal = [dimension for dimension in group.dimensions if dimension[1] == "eq"]
    ranged_on = next((dimension for dimension in group.dimensions if dimension[1] == "range"), None)
    buckets: dict[Any, list[int]] = {}
    for slot, number in enumerate(group.rules):
        found = analysed[number][1]
        combinations: list[tuple[Any, ...]] = [()]
        for dimension in equal:
            combinations = [(*combination, key) for combination in combinations
                            for key in found[dimension].keys or ()]
        for combination in combinations:
            key = combination[0] if len(equal) == 1 else combination
            buckets.setdefault(key, []).append(slot)
    exact: set[int] = set(range(len(group.rules)))  # slots whose range parts every bucket guarantees
    index: dict[Any, Any] = {}
    for key, slots in buckets.items():
        if ranged_on is None:
            index[key] = frozenset(slots)
            continue
        ranges = _range_index([(slot, _interval_of(analysed[group.rules[slot]][1][ranged_on])) for slot in slots])
        if ranges is None:
            exact -= set(slots)
            ranges = RangeIndex((), (frozenset(slots),))
        index[key] = ranges
    value = "" if ranged_on is None else scope.read(ranged_on[0])
    if equal:
        probe = ", ".join(scope.read(path) for path, _ in equal)
        probe = probe if len(equal) == 1 else f"({probe})"
        empty = _NOTHING if ranged_on is None else RangeIndex((), (_NOTHING,))
        lookup = f"{names.constant(index)}.get({probe}, {names.constant(empty)})"
        lookup = lookup if ranged_on is None else f"ranged({lookup}, {value})"
    else:
        lookup = f"ranged({names.constant(index[()])}, {value})"
    tests: list[str] = []
    matches: list[Any] = []
    for slot, number in enumerate(group.rules):
        parts, found = analysed[number]
        covered = {at for dimension in equal for at in found[dimension].parts}
        if ranged_on is not None and slot in exact:
            covered |= found[ranged_on].parts
        rest = [part for at, part in enumerate(parts) if at not in covered]
        matches.append(rules[number].id)
        if not rest:
            tests.append("None")
            continue
        test_name = names.fresh("f")
        rule_scope = scope.helper_scope()  # its own reads, locals of its own function
        condition = rule_scope.generator().cond(rest[0] if len(rest) == 1 else And(tuple(rest)))
        helpers.append(f"def {test_name}({rule_scope.parameters}):")
        helpers.extend(rule_scope.helper_read_lines("    "))
        helpers.append(f"    return {condition}")
        helpers.append("")
        tests.append(test_name)
    candidates, each = names.fresh("c"), names.fresh("n")
    found_text = (f"{names.constant(tuple((rule_id, None) for rule_id in matches))}[{each}]" if position is None
                  else f"({names.constant(tuple(matches))}[{each}], {position})")
    code = [f"{indent}{candidates} = {lookup}", f"{indent}for {each} in {candidates}:"]
    if all(test == "None" for test in tests):
        code.append(f"{indent}    fired.append({found_text})")
        return code
    tests_name, test = names.fresh("g"), names.fresh("t")
    helpers.append(f"{tests_name} = ({', '.join(tests)},)")
    helpers.append("")
    code.append(f"{indent}    {test} = {tests_name}[{each}]")
    code.append(f"{indent}    if {test} is None or {test}({scope.helper_arguments()}):")
    code.append(f"{indent}        fired.append({found_text})")
    return code


def _interval_of(constraint: _Constraint) -> _Interval:
    return constraint.interval if constraint.interval is not None else _Interval()


# -- reading the models ------------------------------------------------------------------------------

ModelFunction = Callable[[Any, Sequence[Any], date | None, Mapping[int, Decimal] | None, Mapping[str, Any] | None],
                         list[Match]]
"""``stage_0(root, items, today, prices, products)`` of :func:`generate_model_stage`: every (rule id, line index
or None) whose condition holds, read from the facts model ``root`` and its line models ``items``."""

_MODEL_HELPER_PARAMETERS: Final = "root, items, item, today, prices, products"


class _ModelContext:
    """What every scope of one model matcher shares: the readers, the facts of the stage's point, and which
    extras its reads need."""

    def __init__(self, readers: Readers, known: Collection[str]) -> None:
        self.readers = readers
        self.known = known
        self.extras: set[str] = set()

    def missing(self, path: str) -> bool:
        """Whether ``path`` is a fact of the point these models do not hold (a fact the policy declares, read
        from the shipped models): the flattening has no value for it either, so the rules read it missing."""
        return path not in self.readers.paths and path in self.known and path not in self.readers.unreadable

    def reader(self, path: str, line: bool) -> Reader:
        """The reader of ``path``; a path without one, or a line's path read outside a line, is unsupported."""
        reader = self.readers.paths.get(path)
        if reader is None:
            raise _Unsupported("a fact without a reader")
        if reader.line != line:
            raise _Unsupported("a line fact read outside a line" if reader.line else "a decision fact read as a line's")
        if reader.extra is not None:
            self.extras.add(reader.extra)
        return reader

    def call(self, names: _Names, reader: Reader, model: str) -> str:
        """The call of ``reader`` on the model named ``model`` (with the extra it takes)."""
        extra = "" if reader.extra is None else f", {reader.extra}"
        return f"{names.constant(reader.read)}({model}{extra})"


class _ModelScope(_Scope):
    """A scope reading the models: the decision's facts model (``root``) through readers, or, for a line
    scope, the line model (``item``) through line readers and everything else through its root scope. The
    date is the parameter ``today``; the list of line models, ``items``."""

    parameters = _MODEL_HELPER_PARAMETERS

    def __init__(self, names: _Names, context: _ModelContext, root: _ModelScope | None) -> None:
        super().__init__(names, "root" if root is None else "item", "v" if root is None else "w")
        self.context = context
        self.root = root
        self.calls: dict[str, str] = {}

    def read(self, path: str) -> str:
        if path == TODAY:
            return "today"
        if path == self.context.readers.lines:
            raise _Unsupported("a list fact read as a value")
        if self.context.missing(path):
            return "None"
        local = self.reads.get(path)
        if local is not None:
            return local
        if self.root is not None and not self.context.readers.paths.get(path, _NO_READER).line:
            return self.root.read(path)  # the decision's facts are read once, before the lines
        reader = self.context.reader(path, self.root is not None)
        local = self.reads[path] = self.names.fresh(self.prefix)
        self.calls[path] = self.context.call(self.names, reader, self.source)
        return local

    def read_lines(self, indent: str) -> list[str]:
        return [f"{indent}{self.reads[path]} = {call}" for path, call in self.calls.items()]

    def collection(self, path: str) -> str:
        if path != self.context.readers.lines:
            raise _Unsupported("a list other than the order's lines")
        return "items"

    def generator(self) -> _Generator:
        return _ModelGenerator(self.names, self)

    def closure_test(self, cond: Cond) -> str:
        raise _Unsupported("a rule on the evaluator's closure reads a FactSet")

    def helper_scope(self) -> _Scope:
        root = _ModelScope(self.names, self.context, None)
        return root if self.root is None else _ModelScope(self.names, self.context, root)

    def helper_arguments(self) -> str:
        return _MODEL_HELPER_PARAMETERS if self.root is not None else _MODEL_HELPER_PARAMETERS.replace("item,", "None,")

    def helper_read_lines(self, indent: str) -> list[str]:
        return [*(self.root.read_lines(indent) if self.root is not None else ()), *self.read_lines(indent)]


_NO_READER: Final = Reader(read=lambda model: None, line=False)


class _ModelGenerator(_Generator):
    """:class:`_Generator` over the models: an element of ``any``/``all`` is a line model, read by line readers;
    aggregates (run as the evaluator's closures over dicts) are unsupported."""

    scope: _ModelScope

    def expr(self, expr: Expr) -> _Code:
        if isinstance(expr, Ref) and expr.item and self.element is not None:
            if self.scope.context.missing(expr.path):
                return _Code("None", simple=True)
            reader = self.scope.context.reader(expr.path, True)
            return _Code(self.scope.context.call(self.names, reader, self.element))
        if isinstance(expr, Aggregate):
            raise _Unsupported("an aggregate reads a FactSet")
        return super().expr(expr)


def generate_model_stage(stage: Stage, readers: Readers, *, index: bool = True,
                         index_from: int = INDEX_FROM) -> tuple[GeneratedStage, frozenset[str]] | None:
    """The source of ``stage_0(root, items, today, prices, products)`` matching ``stage`` on the models its
    ``readers`` read, and the extras its reads need (``"products"``: the sku → product map, ``"prices"``), or
    None when a rule cannot be matched on the models (an aggregate, a fact without a reader, a rule that runs
    on the evaluator). The same generator, index and whitelist as :func:`generate_stage`: a read is a call of
    a reader bound to a generated name instead of ``root.get``, the decision's facts are read once per call,
    a line's once per line."""
    names = _Names()
    function = "stage_0"
    names.defined.add(function)
    fallbacks: list[Fallback] = []
    helpers: list[str] = []
    context = _ModelContext(readers, stage.vocabulary)
    order_rules = [rule for rule in stage.rules if rule.scope == "order"]
    line_rules = [rule for rule in stage.rules if rule.scope == "line"]
    try:
        order_scope = _ModelScope(names, context, None)
        order_code = _rules_code(stage, order_rules, names, order_scope, "    ", None, helpers, fallbacks,
                                 index, index_from)
        line_code: list[str] = []
        if line_rules:
            line_scope = _ModelScope(names, context, order_scope)
            position = names.fresh("i")
            code = _rules_code(stage, line_rules, names, line_scope, "        ", position, helpers, fallbacks,
                               index, index_from)
            line_code = [f"    for {position}, item in enumerate(items):", *line_scope.read_lines("        "),
                         *(code or ["        pass"])]
    except _Unsupported:
        return None
    if fallbacks:  # pragma: no cover - a fallback's closure test raises _Unsupported above
        return None
    body = [*order_scope.read_lines("    "), *order_code, *line_code]
    lines = [*helpers, f"def {function}(root, items, today, prices, products):", "    fired = []", *body,
             "    return fired", ""]
    generated = GeneratedStage(stage.name, function, "\n".join(lines), names.constants, frozenset(names.defined),
                               fallbacks, _MODEL_PARAMETERS)
    return generated, frozenset(context.extras)
