"""Mapping files: how each fact comes out of an ERP's schema, declared in YAML and checked on load.

A mapping that loads is fully checked, like a policy: unknown keys, unknown fact fields (with a
did-you-mean), query parameters that do not exist or are never used, values and defaults that do
not fit their field. Every problem names the file, line and field; they are raised together as one
:class:`MappingError`. The format is documented in ``docs/adapters.md``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from salesgate.documents import valid_name
from salesgate.errors import AdapterError, PolicyError, PolicyProblem, did_you_mean
from salesgate.models import Customer, Order
from salesgate.policy.yamlfile import LineDict, line_of, load_yaml

from .convert import ConversionError, base_type, converter_for, to_decimal
from .facts import EXPANDING_PARAMS, FACT_KINDS, TODAY, FactKind

SHIPPED = ("demo", "erpnext", "odoo", "tryton")
"""Mappings shipped in ``salesgate_adapters/sql/mappings/``: pass the name instead of a path."""

# The bind-parameter syntax of SQLAlchemy's text(): ":name", but not "::cast" or "\:escaped".
_PARAM = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_PARENTHESISED_EXPANDING = re.compile(r"\(\s*:(" + "|".join(sorted(EXPANDING_PARAMS)) + r")\s*\)")
# pydantic adds union branch names ("str", "list[...]", "DeclaredQuery") to locations; people want the path.
_UNION_BRANCH = re.compile(r"^(str$|dict\[|list\[|function-|DeclaredQuery$)")
_READ_ONLY_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)

Scalar = str | int | bool | Decimal | None


class MappingError(AdapterError):
    """A mapping file is invalid. Holds every problem found, each naming file, line and field."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _column_name(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("YAML reads this column name as true/false: quote names like 'no', 'yes', 'on', 'off'")
    return value


ColumnName = Annotated[str, BeforeValidator(_column_name)]


def _decimal_scalars(value: Any) -> Any:
    # YAML reads 1.5 as a float; a filter or default must mean exactly what was written.
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_decimal_scalars(v) for v in value]
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Source(_Strict):
    """Where rows come from: a parameterised ``query``, or a ``table`` with ``key`` and ``columns``."""

    query: str | None = Field(None, description="SQL returning columns named after the fact's fields.")
    table: str | None = Field(None, description="Table name, as the ERP spells it (spaces allowed).")
    table_schema: str | None = Field(None, alias="schema", description="Schema (PostgreSQL) or database.")
    key: ColumnName | dict[str, ColumnName] | None = Field(
        None, description="Column matched against the fact's parameter, or {parameter: column}."
    )
    columns: dict[str, ColumnName] = Field(default_factory=dict, description="{fact field: column}.")
    where: dict[str, Annotated[Scalar | list[Scalar], BeforeValidator(_decimal_scalars)]] = Field(
        default_factory=dict, description="Fixed filters {column: value}; a list means any of these values."
    )

    @model_validator(mode="after")
    def _one_form(self) -> Source:
        if (self.query is None) == (self.table is None):
            raise ValueError("give either query: (SQL) or table: with key: and columns:")
        if self.query is not None:
            given = [k for k in ("table_schema", "key", "where") if getattr(self, k)] + (
                ["columns"] if self.columns else [])
            if given:
                names = ", ".join("schema" if k == "table_schema" else k for k in given)
                raise ValueError(f"{names} only go with table:; a query names its own tables and columns")
        else:
            if not self.key:
                raise ValueError("table: needs key: (the column matched against the fact's parameter)")
            if not self.columns:
                raise ValueError("table: needs columns: {fact field: column}")
        return self


def value_key(raw: Any) -> str:
    """How an ERP value and a ``values:`` key are compared: as text, numbers by their value
    (``1``, ``1.0`` and ``'1'`` are one key, ``0.0`` and ``0`` too)."""
    if isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, int | float | Decimal | str):
        try:
            return str(to_decimal(raw))
        except ConversionError:  # not a number: compared as the text it is
            pass
    return str(raw)


def _value_keys(tables: Any) -> Any:
    if not isinstance(tables, dict):
        return tables
    return {field: {value_key(k): v for k, v in table.items()} if isinstance(table, dict) else table
            for field, table in tables.items()}


class Fact(Source):
    """A source whose rows become one model each, with ERP values translated and defaults filled."""

    values: Annotated[dict[str, dict[str, Any]], BeforeValidator(_value_keys)] = Field(
        default_factory=dict, description="{field: {ERP value: fact value}}; '*' matches any other value."
    )
    defaults: dict[str, Annotated[Any, BeforeValidator(_decimal_scalars)]] = Field(
        default_factory=dict, description="{field: value} when the column is NULL or not mapped."
    )


class DeclaredQuery(_Strict):
    """A declared fact read by its own query, keyed by the document's id (``:customer_id``, ``:sku``, …)."""

    query: str = Field(description="SQL returning at most one row, with one column named after the fact.")


class Declaring(Fact):
    """A fact that may also read the policy's declared facts (``policy.yaml`` ``facts:``) of its document."""

    declared: dict[str, ColumnName | DeclaredQuery] = Field(
        default_factory=dict,
        description="{declared fact: column of the rows this fact reads, or {query: ...} keyed by the id}.")


class OrderFact(Declaring):
    lines: Declaring = Field(description="The order's lines, by :order_id.")


class DocumentSource(Fact):
    """How to load the document of a declared decision point by its id (``:id``)."""

    lists: dict[str, Fact] = Field(default_factory=dict,
                                   description="{list field: its elements, by :id}, e.g. the shipment's lines.")


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class Facts(_Strict):
    customer: Declaring | None = None
    exposure: Annotated[list[Source], BeforeValidator(_one_or_many), Field(min_length=1)] | None = None
    products: Declaring | None = None
    order: OrderFact | None = None
    delivery: Fact | None = None
    counted_orders: Source | None = None
    order_history: Source | None = None


class MappingFile(_Strict):
    """The top level of a mapping file."""

    mapping: str = Field(min_length=1, description="Name of the mapping, for messages.")
    description: str = ""
    timezone: str = Field("UTC", description="The company's time zone: what day it is, the day of a datetime.")
    stored_timezone: str | None = Field(
        None, description="Zone of datetimes the ERP stores without one (default: timezone)."
    )
    facts: Facts = Field(default_factory=Facts)
    documents: dict[str, DocumentSource] = Field(
        default_factory=dict, description="{declared decision point: how to load its document by :id}.")
    history: dict[str, DeclaredQuery] = Field(
        default_factory=dict, description="{history fact (customer.sales_last_4_quarters): {query: ...}}, keyed "
                                          "by the document's fields (:customer_id) and the window (:from, :until).")


DOCUMENT_ID = "id"
"""The parameter a document's query (and its lists') is given: the id the caller passed."""

DECLARABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "customer": ("customer", ("customer_id",)),
    "products": ("product", ("sku",)),
    "order": ("order", ("order_id",)),
    "order.lines": ("line", ("order_id", "line_no")),
}
"""Facts that may read declared facts: {mapping fact: (the document policy.yaml names, the parameters of a
declared fact's own query)}. ``customer.tenure_years`` is read under ``facts.customer.declared``."""


@dataclass(frozen=True)
class DeclaredPlan:
    """One declared fact of one mapping fact: a column of its rows, or a query of its own."""

    fact: str
    field: str
    column: str | None
    query: str | None
    path: tuple[str | int, ...]
    params: tuple[str, ...]


@dataclass(frozen=True)
class DocumentPlan:
    """How one declared point's document (``part`` is ``None``) or one of its lists is read, by ``:id``."""

    point: str
    part: str | None
    source: Fact
    path: tuple[str | int, ...]
    params: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"document {self.point!r}" + (f", list {self.part!r}" if self.part else "")


HISTORY_PARAMS = ("from", "until", "from_time", "until_time", TODAY)
"""The parameters every history query is given besides the document's keys: the window's first day
(inclusive) and the day after its last (exclusive) as dates, the same bounds as times (midnight in the
company's time zone, as the ERP stores times: in ``stored_timezone``, without a zone) for columns that
hold a date and time, and the as-of date."""

HISTORY_KEYS: dict[str, tuple[str, ...]] = {
    "customer": ("customer_id", *Customer.model_fields),
    "order": ("order_id", *(name for name in Order.model_fields if name != "lines")),
}
"""What a history query of a shipped document may be keyed by: its fields, and its id as ``:<document>_id``.
A declared point's document (``visits``) is keyed by its own fields, known only with the policy."""


@dataclass(frozen=True)
class HistoryPlan:
    """One history fact's query: ``fact`` is its path (``customer.sales_last_4_quarters``)."""

    fact: str
    query: str
    path: tuple[str | int, ...]
    params: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """The document's values it is keyed by (the parameters that are not the window's)."""
        return tuple(name for name in self.params if name not in HISTORY_PARAMS)


@dataclass(frozen=True)
class Plan:
    """One source of one fact, with where it is written in the mapping file."""

    kind: FactKind
    source: Source
    path: tuple[str | int, ...]
    params: tuple[str, ...]

    @property
    def label(self) -> str:
        index = self.path[-1] if isinstance(self.path[-1], int) else None
        return self.kind.name + (f"[{index}]" if index is not None and len(self.path) > 2 else "")


@dataclass(frozen=True)
class ErpMapping:
    """A loaded, checked mapping file."""

    name: str
    file: str
    spec: MappingFile
    raw: LineDict
    business_tz: tzinfo
    stored_tz: tzinfo

    def line(self, path: Sequence[str | int]) -> int | None:
        return line_of(self.raw, list(path))

    def where(self, path: Sequence[str | int]) -> str:
        line = self.line(path)
        return f"{self.file}:{line}" if line else self.file

    def plans(self, fact: str) -> list[Plan]:
        """The sources of a fact (several for exposure), or none when the mapping leaves it out."""
        facts = self.spec.facts
        if fact == "order.lines":
            return [] if facts.order is None else [self._plan("order.lines", facts.order.lines,
                                                              ("facts", "order", "lines"))]
        value = getattr(facts, fact)
        if value is None:
            return []
        if isinstance(value, list):
            return [self._plan(fact, s, ("facts", fact, i)) for i, s in enumerate(value)]
        return [self._plan(fact, value, ("facts", fact))]

    def declared(self, fact: str) -> list[DeclaredPlan]:
        """The declared facts a mapping fact reads (``facts.customer.declared``), in file order."""
        facts = self.spec.facts
        source: Any = facts.order.lines if fact == "order.lines" and facts.order else getattr(facts, fact, None)
        if not isinstance(source, Declaring):
            return []
        base = ("facts", "order", "lines") if fact == "order.lines" else ("facts", fact)
        found = []
        for name, how in source.declared.items():
            path = (*base, "declared", name)
            if isinstance(how, DeclaredQuery):
                params = tuple(dict.fromkeys(_PARAM.findall(how.query)))
                found.append(DeclaredPlan(fact, name, None, how.query, (*path, "query"), params))
            else:
                found.append(DeclaredPlan(fact, name, how, None, path, ()))
        return found

    def documents(self) -> dict[str, list[DocumentPlan]]:
        """{declared point: its document's plan, then one per list}."""
        found: dict[str, list[DocumentPlan]] = {}
        for point, source in self.spec.documents.items():
            path: tuple[str | int, ...] = ("documents", point)
            plans = [DocumentPlan(point, None, source, path, _source_params(source, DOCUMENT_ID))]
            for name, part in source.lists.items():
                plans.append(DocumentPlan(point, name, part, (*path, "lists", name), _source_params(part, DOCUMENT_ID)))
            found[point] = plans
        return found

    def history(self) -> dict[str, HistoryPlan]:
        """{history fact: its query}, as ``history:`` declares them."""
        return {fact: HistoryPlan(fact, how.query, ("history", fact, "query"),
                                  tuple(dict.fromkeys(_PARAM.findall(how.query))))
                for fact, how in self.spec.history.items()}

    def _plan(self, fact: str, source: Source, path: tuple[str | int, ...]) -> Plan:
        kind = FACT_KINDS[fact]
        if source.query is not None:
            params = tuple(dict.fromkeys(_PARAM.findall(source.query)))
        else:
            params = tuple(table_keys(source, kind))
        return Plan(kind, source, path, params)


def _source_params(source: Source, key_param: str) -> tuple[str, ...]:
    if source.query is not None:
        return tuple(dict.fromkeys(_PARAM.findall(source.query)))
    return (key_param,)


def table_keys(source: Source, kind: FactKind) -> dict[str, str]:
    """{parameter: column} of a table source (``key: col`` names the fact's only parameter)."""
    if isinstance(source.key, str):
        return {kind.params[0]: source.key}
    return dict(source.key or {})


# -- loading ------------------------------------------------------------------------------------------------


def mapping_path(mapping: str | Path) -> Path:
    """A shipped mapping by name (``"erpnext"``), else a file path."""
    if isinstance(mapping, str) and mapping in SHIPPED:
        return Path(str(resources.files("salesgate_adapters.sql").joinpath("mappings", f"{mapping}.yaml")))
    path = Path(mapping)
    if isinstance(mapping, str) and path.suffix not in (".yaml", ".yml") and not path.exists():
        suggestion = did_you_mean(mapping, SHIPPED)
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        raise MappingError([PolicyProblem(f"no mapping {mapping!r}{hint}: shipped mappings are "
                                          f"{', '.join(SHIPPED)}; or give the path of a .yaml file")])
    return path


def load_mapping(mapping: str | Path) -> ErpMapping:
    """Load and check a mapping file. Raises :class:`MappingError` listing every problem."""
    path = mapping_path(mapping)
    shown = str(path)
    if not path.is_file():
        raise MappingError([PolicyProblem(f"no such mapping file: {path}")])
    try:
        raw = load_yaml(path, shown, kind="mapping file")
    except PolicyError as exc:
        raise MappingError(exc.problems) from None
    if not isinstance(raw, LineDict):
        raise MappingError([PolicyProblem("a mapping file is a YAML mapping with mapping: and facts:", shown, 1)])
    try:
        spec = MappingFile.model_validate(raw)
    except ValidationError as exc:
        raise MappingError(_validation_problems(exc, raw, shown)) from None
    problems: list[PolicyProblem] = []

    def problem(message: str, loc: Sequence[str | int], suggestion: str | None = None) -> None:
        field = ".".join(str(p) for p in loc)
        problems.append(PolicyProblem(message, shown, line_of(raw, list(loc)), None, field, suggestion))

    zones: list[tzinfo] = []
    for key in ("timezone", "stored_timezone"):
        name = getattr(spec, key) or spec.timezone
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            problem(f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai or UTC", [key])
            zones.append(ZoneInfo("UTC"))
    loaded = ErpMapping(spec.mapping, shown, spec, raw, zones[0], zones[1])
    for fact in FACT_KINDS:
        for plan in loaded.plans(fact):
            _check_plan(loaded, plan, problem)
        for declared in loaded.declared(fact):
            _check_declared(declared, problem)
    for history in loaded.history().values():
        owner = history.fact.partition(".")[0]
        _check_history(history, problem, tuple(d.field for d in loaded.declared(owner)))
    for point, plans in loaded.documents().items():
        if not valid_name(point):
            problem(f"{point!r} cannot name a decision point: lower case letters, digits and _, as in "
                    "points/<name>.yaml", ["documents", point])
        for document in plans:
            _check_document(document, problem)
    if problems:
        raise MappingError(problems)
    return loaded


def _validation_problems(exc: ValidationError, raw: LineDict, shown: str) -> list[PolicyProblem]:
    problems = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if isinstance(p, int) or not _UNION_BRANCH.match(p)]
        message, suggestion = err["msg"].removeprefix("Value error, "), None
        if err["type"] == "extra_forbidden":
            choices = _fields_at(loc)
            message = "unknown field" + (f"; expected one of: {', '.join(choices)}" if choices else "")
            suggestion = did_you_mean(str(loc[-1]), choices) if choices else None
        field = ".".join(str(p) for p in loc) or None
        problems.append(PolicyProblem(message, shown, line_of(raw, loc), None, field, suggestion))
    return problems


def _fields_at(loc: Sequence[str | int]) -> list[str]:
    """The keys allowed where an unknown key was found, for the message and the did-you-mean."""
    names = [p for p in loc[:-1] if isinstance(p, str)]
    if not names:
        return list(MappingFile.model_fields)
    if names == ["facts"]:
        return list(Facts.model_fields)
    if names[0] == "documents":
        parent: type[BaseModel] = Fact if "lists" in names[2:] else DocumentSource
        return [f.alias or name for name, f in parent.model_fields.items()]
    if "declared" in names or names[0] == "history":
        return list(DeclaredQuery.model_fields)
    sources = (["facts", "exposure"], ["facts", "counted_orders"], ["facts", "order_history"])
    model: type[BaseModel] = Source if names[:2] in sources else Declaring
    if names[:2] == ["facts", "order"] and names[-1] != "lines":
        model = OrderFact
    elif names[:2] == ["facts", "delivery"]:
        model = Fact
    return [f.alias or name for name, f in model.model_fields.items()]


def _check_plan(mapping: ErpMapping, plan: Plan, problem: Any) -> None:
    kind, source, path = plan.kind, plan.source, plan.path
    fields = kind.fields
    allowed = (*kind.params, TODAY)
    if source.query is not None:
        if not _READ_ONLY_START.match(source.query):
            problem("a query must be a SELECT (or WITH … SELECT): salesgate only reads the ERP", [*path, "query"])
        for name in plan.params:
            if name not in allowed:
                problem(f"unknown parameter :{name}; this fact's parameters are "
                        f"{', '.join(':' + p for p in allowed)}", [*path, "query"], did_you_mean(name, allowed))
        for name in kind.params:
            if name not in plan.params:
                problem(f"the query never uses :{name}, so it would answer the same for every {name}",
                        [*path, "query"])
        match = _PARENTHESISED_EXPANDING.search(source.query)
        if match:
            problem(f"write IN :{match.group(1)} without parentheses: the list is expanded into them",
                    [*path, "query"])
    elif kind.name == "order_history":
        problem("order_history needs a query: the orders entered between :since and :until", list(path))
    else:
        if isinstance(source.key, dict):
            for name in source.key:
                if name not in kind.params:
                    problem(f"unknown parameter {name!r} in key; this fact's parameters are "
                            f"{', '.join(kind.params)}", [*path, "key", name], did_you_mean(name, kind.params))
        for name in kind.params:
            if name not in table_keys(source, kind):
                problem(f"key must give the column for {name}: key: {{{', '.join(kind.params)}}}", [*path, "key"])
        for field in source.columns:
            if field not in fields:
                problem(f"unknown {kind.name} field; expected one of: {', '.join(fields)}",
                        [*path, "columns", field], did_you_mean(field, fields))
    if isinstance(source, Fact):
        declared = tuple(source.declared) if isinstance(source, Declaring) else ()
        for section in ("values", "defaults"):
            for field in getattr(source, section):
                if field not in fields and field not in declared:
                    problem(f"unknown {kind.name} field; expected one of: {', '.join(fields)}",
                            [*path, section, field], did_you_mean(field, fields))
        _check_values(mapping, plan, source, problem)


def _check_query(query: str, params: Sequence[str], allowed: Sequence[str], required: Sequence[str],
                 loc: list[str | int], problem: Any) -> None:
    """A query salesgate runs: read-only, only the parameters it is given, each of ``required`` used."""
    if not _READ_ONLY_START.match(query):
        problem("a query must be a SELECT (or WITH … SELECT): salesgate only reads the ERP", loc)
    for name in params:
        if name not in allowed:
            problem(f"unknown parameter :{name}; this query's parameters are {', '.join(':' + p for p in allowed)}",
                    loc, did_you_mean(name, allowed))
    for name in required:
        if name not in params:
            problem(f"the query never uses :{name}, so it would answer the same for every {name}", loc)


def _check_declared(plan: DeclaredPlan, problem: Any) -> None:
    """A declared fact: on a fact that may carry them, not one of the shipped fields, read by a column or a
    query keyed by the document's id."""
    if plan.fact not in DECLARABLE:
        problem(f"declared facts are read with customer, products, order or order lines, not {plan.fact}",
                list(plan.path[:-1] if plan.query is not None else plan.path))
        return
    document, keys = DECLARABLE[plan.fact]
    loc = list(plan.path)
    if not valid_name(plan.field):
        problem(f"{plan.field!r} cannot name a declared fact: lower case letters, digits and _", loc)
    elif plan.field in FACT_KINDS[plan.fact].fields:
        problem(f"{document}.{plan.field} is a fact salesgate ships: map it under columns:, not declared:", loc)
    if plan.query is not None:
        _check_query(plan.query, plan.params, (*keys, TODAY), keys, loc, problem)


def _check_history(plan: HistoryPlan, problem: Any, declared: tuple[str, ...] = ()) -> None:
    """A history fact's query: named as the policy names the fact, read-only, keyed by the document — by its
    shipped fields or the declared facts the mapping reads for it (``declared:``, e.g. the order's rep)."""
    loc: list[str | int] = ["history", plan.fact]
    document, dot, name = plan.fact.partition(".")
    if not dot or not valid_name(document) or not valid_name(name):
        problem(f"{plan.fact!r}: name a history fact as the policy does, <document>.<fact> "
                "(customer.sales_last_4_quarters)", loc)
        return
    loc.append("query")
    keys = HISTORY_KEYS.get(document)
    if keys is not None:
        keys = (*keys, *declared)
    if not _READ_ONLY_START.match(plan.query):
        problem("a query must be a SELECT (or WITH … SELECT): salesgate only reads the ERP", loc)
    if keys is not None:
        allowed = (*HISTORY_PARAMS, *keys)
        for param in plan.params:
            if param not in allowed:
                problem(f"unknown parameter :{param}; a {document} history query is given :from, :until, "
                        f":from_time, :until_time, :today and the {document}'s fields (:{keys[0]}, …)", loc,
                        did_you_mean(param, allowed))
    if not plan.keys:
        problem(f"the query uses no field of the {document} (such as :{document}_id), so it would answer the same "
                f"for every {document}", loc)


def _check_document(plan: DocumentPlan, problem: Any) -> None:
    source, loc = plan.source, list(plan.path)
    if source.query is not None:
        _check_query(source.query, plan.params, (DOCUMENT_ID, TODAY), (DOCUMENT_ID,), [*loc, "query"], problem)
        match = _PARENTHESISED_EXPANDING.search(source.query)
        if match:
            problem(f"write IN :{match.group(1)} without parentheses: the list is expanded into them", [*loc, "query"])
    elif not isinstance(source.key, str):
        problem(f"key: names the one column matched against the document's id (:{DOCUMENT_ID}), e.g. key: name",
                [*loc, "key"])
    for section in ("values", "defaults"):
        for field in getattr(source, section):
            if not valid_name(field):
                problem(f"{field!r} cannot name a field of a declared document", [*loc, section, field])
    for field in source.columns:
        if not valid_name(field):
            problem(f"{field!r} cannot name a field of a declared document: lower case letters, digits and _ "
                    "(the field names of points/<point>.yaml)", [*loc, "columns", field])


def _check_values(mapping: ErpMapping, plan: Plan, source: Fact, problem: Any) -> None:
    """Defaults and translated values must be valid for their field, like a value read from the ERP."""
    model = plan.kind.model
    checks = [(f, v, [*plan.path, "defaults", f]) for f, v in source.defaults.items()]
    checks += [(f, v, [*plan.path, "values", f, k]) for f, table in source.values.items() for k, v in table.items()]
    for field, value, loc in checks:
        if field not in model.model_fields or value is None:
            continue
        try:
            field_adapter(model, field).validate_python(
                converter_for(model, field, mapping.business_tz, mapping.stored_tz)(value))
        except ConversionError as exc:
            problem(str(exc), loc)
        except ValidationError as exc:
            error = exc.errors()[0]
            choices = _enum_choices(model, field)
            problem(f"{value!r}: {error['msg']}", loc, did_you_mean(str(value), choices) if choices else None)


def _enum_choices(model: type[BaseModel], field: str) -> list[str]:
    base = base_type(model.model_fields[field].annotation)
    return [str(m.value) for m in base] if isinstance(base, type) and issubclass(base, Enum) else []


@functools.cache
def field_adapter(model: type[BaseModel], field: str) -> TypeAdapter[Any]:
    """Validates one field of a fact model on its own, with the field's constraints."""
    info = model.model_fields[field]
    annotated: Any = Annotated[info.annotation, info]  # a type built at run time: mypy cannot check it
    return TypeAdapter(annotated)
