"""The SQL adapter: answers the data hooks from an ERP database, as its mapping file declares.

One adapter for SQLite, PostgreSQL and MariaDB/MySQL, on SQLAlchemy Core. It only reads: the
statements come from the mapping (checked when it is loaded), every value is converted to the fact
model's type, and anything that does not fit is an :class:`~salesgate.errors.AdapterError` naming
the mapping file and line, the fact and the column, which the gate turns into a safe decision.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, Field, ValidationError, create_model
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Executable

from salesgate.documents import FieldType
from salesgate.errors import AdapterError, did_you_mean
from salesgate.history import HistoryFact
from salesgate.hookspecs import hookimpl
from salesgate.models import CreditExposure, Customer, Delivery, Order, Product

from ..deadlines import CallDeadlines, Overrun
from .convert import (
    ConversionError,
    Converter,
    as_read,
    base_type,
    converter_for,
    is_required,
    plain_decimal,
    to_date,
    to_decimal,
    to_int,
)
from .engine import ANSI_MODES, MYSQL, create_engine, redact, shown
from .facts import EXPANDING_PARAMS, FACT_KINDS, OVERDUE_SINCE, TODAY, CountedOrder, HistoryOrder
from .mapping import (
    DECLARABLE,
    DOCUMENT_ID,
    DeclaredPlan,
    Declaring,
    DocumentPlan,
    ErpMapping,
    Fact,
    HistoryPlan,
    Plan,
    Source,
    load_mapping,
    table_keys,
    value_key,
)

DEFAULT_URL_ENV = "SALESGATE_DATABASE_URL"
# Exposure sources combine: amounts add up, day counts take the largest.
_EXPOSURE_SUMS = tuple(n for n, f in CreditExposure.model_fields.items() if base_type(f.annotation) is Decimal)
_EXPOSURE_MAXES = tuple(n for n, f in CreditExposure.model_fields.items() if base_type(f.annotation) is int)
P = ParamSpec("P")
R = TypeVar("R")


def _within_timeout(method: Callable[Concatenate[SqlAdapter, P], R]) -> Callable[Concatenate[SqlAdapter, P], R]:
    """The adapter's ``timeout`` as a total for one call of a data hook, whatever its queries and the network do."""

    def bounded(self: SqlAdapter, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return self._deadlines.run(lambda: method(self, *args, **kwargs))
        except Overrun:
            raise AdapterError(f"database {self.url}: no answer within {self.timeout:g} s (the sql adapter's "
                               "timeout, for the whole call): the connection was cut") from None

    functools.update_wrapper(bounded, method)  # pluggy reads the hook's argument names through __wrapped__
    signature = inspect.signature(method)
    as_of = signature.parameters.get("as_of")
    if as_of is not None:
        # pluggy passes an implementation only the arguments without a default, and the decision's as-of
        # date must reach the queries; a direct call (a test, a script) may still leave it out.
        bounded.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p.replace(default=inspect.Parameter.empty) if p.name == "as_of" else p
                        for p in signature.parameters.values()])
    return bounded


class SqlAdapter:
    """Reads customers, exposure, products, orders and deliveries from an ERP database, and which
    reserved orders the ERP has already taken over (``counted_orders``).

    ``url`` (else the environment variable ``url_env``) is a SQLAlchemy URL:
    ``postgresql://user:pw@host/erp`` (psycopg 3), ``mysql://…`` or ``mariadb://…`` (PyMySQL),
    ``sqlite:///erp.db``. ``mapping`` is a shipped mapping (``demo``, ``erpnext``, ``odoo``) or
    the path of your own. ``timeout`` (seconds, default 5) bounds each call of a data hook as a whole —
    connecting, every query, a server that trickles its answer — by cutting the connection when it
    is spent; engines the adapter creates also get it as their connect and statement timeouts, and
    open read-only sessions; pass ``engine`` to use one you configured yourself (it is not closed by
    :meth:`close`). ``today`` fixes the day exposure is counted at (a date, or a function
    returning one); by default it is today in the mapping's time zone.
    """

    def __init__(
        self,
        url: str | None = None,
        mapping: str | Path = "demo",
        *,
        url_env: str = DEFAULT_URL_ENV,
        engine: Engine | None = None,
        timeout: float = 5.0,
        today: date | Callable[[], date] | None = None,
    ) -> None:
        if timeout <= 0:
            raise AdapterError(f"sql adapter: timeout must be a positive number of seconds, got {timeout!r}")
        self.mapping: ErpMapping = load_mapping(mapping)
        if engine is not None:
            if url is not None:
                raise AdapterError("sql adapter: pass url or engine, not both")
            self.engine, self._owns_engine = engine, False
        else:
            text = url if url is not None else os.environ.get(url_env, "")
            if not text.strip():
                raise AdapterError(f"sql adapter: no database URL: pass url=... or set {url_env}")
            self.engine, self._owns_engine = create_engine(text, timeout), True
        self.timeout = timeout
        self._deadlines = CallDeadlines(self.engine, timeout, own_pool=self._owns_engine)
        self._today = today
        self._statements: dict[str, list[tuple[Plan, Executable]]] = {
            fact: [(plan, _statement(plan)) for plan in self.mapping.plans(fact)]
            for fact in FACT_KINDS
        }
        self._declared: dict[str, list[tuple[DeclaredPlan, Executable | None]]] = {
            fact: [(plan, _declared_statement(plan)) for plan in self.mapping.declared(fact)] for fact in DECLARABLE
        }
        self._documents: dict[str, list[tuple[DocumentPlan, Executable]]] = {
            point: [(plan, _document_statement(plan)) for plan in plans]
            for point, plans in self.mapping.documents().items()
        }
        self._history: dict[str, tuple[HistoryPlan, Executable]] = {
            fact: (plan, _history_statement(plan)) for fact, plan in self.mapping.history().items()}
        self._carriers: dict[str, type[BaseModel]] = {}
        self._converters: dict[tuple[str, str], Converter] = {}

    @property
    def url(self) -> str:
        """The database URL with the password hidden."""
        return shown(self.engine.url)

    def __repr__(self) -> str:
        return f"SqlAdapter({self.url!r}, mapping={self.mapping.name!r})"

    def close(self) -> None:
        """Close the connections of an engine this adapter created."""
        if self._owns_engine:
            self.engine.dispose()

    def today(self) -> date:
        """The day counted to (``:today`` in queries) when a hook is called without the decision's as-of
        date (the gate always passes it): the ``today`` option, else today in the mapping's time zone."""
        if self._today is None:
            return datetime.now(self.mapping.business_tz).date()
        return self._today() if callable(self._today) else self._today

    # -- the data hooks ---------------------------------------------------------------------------------

    @hookimpl
    @_within_timeout
    def salesgate_load_customer(self, customer_id: str, as_of: date | None = None) -> Customer | None:
        params = self._dated({"customer_id": customer_id}, as_of)
        found = self._one_row("customer", params)
        if found is None:
            return None
        plan, values = found
        customer: Customer = self._validate(plan, self._model("customer"), self._with_declared(
            "customer", values, params), params)
        return customer

    @hookimpl
    @_within_timeout
    def salesgate_load_exposure(self, customer_id: str, as_of: date | None = None) -> CreditExposure | None:
        sources = self._statements["exposure"]
        if not sources:
            return None
        params = self._dated({"customer_id": customer_id}, as_of)
        sums = dict.fromkeys(_EXPOSURE_SUMS, Decimal(0))
        maxes = dict.fromkeys(_EXPOSURE_MAXES, 0)
        since: date | None = None
        for plan, statement in sources:
            for row in self._rows(plan, statement, params):
                values = self._values(plan, row, params)
                for field in _EXPOSURE_SUMS:
                    sums[field] += values.get(field, 0)
                for field in _EXPOSURE_MAXES:
                    maxes[field] = max(maxes[field], values.get(field, 0))
                due = values.get(OVERDUE_SINCE)
                if due is not None and (since is None or due < since):
                    since = due
        if since is not None and "max_overdue_days" in maxes:
            day = as_of if as_of is not None else self.today()
            maxes["max_overdue_days"] = max(maxes["max_overdue_days"], (day - since).days)
        totals = {field: plain_decimal(value) for field, value in sums.items()} | maxes
        exposure: CreditExposure = self._validate(sources[0][0], CreditExposure, totals, params)
        return exposure

    @hookimpl
    @_within_timeout
    def salesgate_load_products(self, skus: list[str], as_of: date | None = None) -> list[Product] | None:
        sources = self._statements["products"]
        if not sources or not skus:
            return None
        (plan, statement), params = sources[0], self._dated({"skus": list(skus)}, as_of)
        products: dict[str, Product] = {}
        model = self._model("products")
        for row in self._rows(plan, statement, params):
            values = self._values(plan, row, params)
            if "sku" in values:
                values = self._with_declared("products", values, self._dated({"sku": values["sku"]}, as_of))
            product: Product = self._validate(plan, model, values, params)
            if product.sku in products:
                raise AdapterError(self._where(plan, "sku", params, f"more than one row for sku {product.sku!r}; "
                                                                    "the query must return one row per product"))
            products[product.sku] = product
        found = [products[sku] for sku in skus if sku in products]
        return found or None

    @hookimpl
    @_within_timeout
    def salesgate_load_order(self, order_id: str, as_of: date | None = None) -> Order | None:
        params = self._dated({"order_id": order_id}, as_of)
        header = self._one_row("order", params)
        if header is None:
            return None
        plan, values = header
        line_plan, statement = self._statements["order.lines"][0]
        lines = [self._values(line_plan, row, params) for row in self._rows(line_plan, statement, params)]
        if not lines:
            raise AdapterError(self._where(line_plan, None, params, "the order has no lines"))
        lines.sort(key=lambda line: line.get("line_no", 0))
        values = self._with_declared("order", values, params)
        if self._declared["order.lines"]:
            lines = [self._with_declared("order.lines", line, self._dated(
                {"order_id": order_id, "line_no": line.get("line_no")}, as_of)) for line in lines]
        try:
            order = Order.model_validate({**values, "lines": lines}) if self._model("order") is Order else (
                self._model("order").model_validate({**values, "lines": lines}))
            assert isinstance(order, Order)  # noqa: S101 - a subclass of Order, carrying declared facts
            return order
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = error["loc"]
            if loc[:1] == ("lines",) and len(loc) >= 3:
                raise AdapterError(self._where(line_plan, str(loc[2]), params, f"line {int(loc[1]) + 1}: "
                                                                                f"{error['msg']}")) from None
            field = str(loc[0]) if loc else None
            raise AdapterError(self._where(plan, field, params, error["msg"])) from None

    @hookimpl
    @_within_timeout
    def salesgate_load_delivery(self, order_id: str, sku: str) -> Delivery | None:
        found: Delivery | None = self._one("delivery", {"order_id": order_id, "sku": sku})
        return found

    @hookimpl
    @_within_timeout
    def salesgate_load_counted_orders(self, customer_id: str, order_ids: list[str]) -> list[str] | None:
        """Which of the customer's reserved orders the ERP already counts (mapping fact ``counted_orders``)."""
        sources = self._statements["counted_orders"]
        if not sources:
            return None  # the mapping cannot tell: the reservations keep counting
        asked = list(dict.fromkeys(order_ids))
        if not asked:
            return []
        (plan, statement), params = sources[0], {"customer_id": customer_id, "order_ids": asked}
        counted: set[str] = set()
        for row in self._rows(plan, statement, params):
            found: CountedOrder = self._validate(plan, CountedOrder, self._values(plan, row, params), params)
            counted.add(found.order_id)
        return [order_id for order_id in asked if order_id in counted]

    @_within_timeout
    def order_ids(self, since: date, until: date) -> list[str]:
        """Ids of the orders entered from ``since`` (included) up to ``until`` (excluded: the caller passes
        the day after the last day it wants), in the order the mapping's ``order_history`` query gives
        them: the history ``salesgate export`` replays."""
        sources = self._statements["order_history"]
        if not sources:
            raise AdapterError(f"mapping {self.mapping.name!r} ({self.mapping.file}) has no order_history query: "
                               "add one to list the orders of a period (see docs/adapters.md)")
        (plan, statement), params = sources[0], {"since": since, "until": until}
        found: dict[str, None] = {}
        for row in self._rows(plan, statement, params):
            order: HistoryOrder = self._validate(plan, HistoryOrder, self._values(plan, row, params), params)
            found[order.order_id] = None
        return list(found)

    @hookimpl
    @_within_timeout
    def salesgate_load_document(self, point: str, document_id: str, as_of: date | None = None
                                ) -> dict[str, Any] | None:
        """A declared point's document by id, as the mapping's ``documents:`` section reads it: the fields
        of its one row (with ``values:`` and ``defaults:``), and each of its lists. ``None`` when the mapping
        does not say how to load the point's documents, or the id is not found. The gate validates it
        against the point's declaration (points/<point>.yaml)."""
        plans = self._documents.get(point)
        if not plans:
            return None
        params = self._dated({DOCUMENT_ID: document_id}, as_of)
        (head, statement), parts = plans[0], plans[1:]
        rows = self._rows(head, statement, params)
        if not rows:
            return None
        if len(rows) > 1:
            raise AdapterError(self._where(head, None, params, f"{len(rows)} rows where one was expected; the "
                                                              f"query must return one row per :{DOCUMENT_ID}"))
        document = self._plain_values(head, rows[0], params)
        for part, part_statement in parts:
            assert part.part is not None  # noqa: S101 - the lists' plans name their list
            document[part.part] = [self._plain_values(part, row, params)
                                   for row in self._rows(part, part_statement, params)]
        return document

    @hookimpl
    @_within_timeout
    def salesgate_load_history(self, document: str, keys: Mapping[str, Any], facts: Sequence[HistoryFact],
                               as_of: date | None) -> dict[str, Any] | None:
        """The history facts the mapping's ``history:`` section has a query for, each run with the document's
        keys and its window's ``:from`` and ``:until`` for ``as_of`` (else :meth:`today`). ``None`` when the
        mapping computes none of them; a fact whose query finds no row, or NULL, is left out (missing)."""
        day = as_of or self.today()
        found: dict[str, Any] = {}
        known = False
        for fact in facts:
            entry = self._history.get(fact.path)
            if entry is None:
                continue
            known = True
            plan, statement = entry
            start, end = fact.bounds(day)
            params: dict[str, Any] = {"from": start, "until": end, TODAY: day}
            if "from_time" in plan.params:
                params["from_time"] = self._stored_time(start)
            if "until_time" in plan.params:
                params["until_time"] = self._stored_time(end)
            for name in plan.keys:
                if name not in keys:
                    given = ", ".join(sorted(keys)) or "no fields"
                    raise AdapterError(self._where(plan, None, params, f"the query uses :{name}, which the {document} "
                                                                       f"does not have; it has {given}"))
                params[name] = keys[name]
            rows = self._rows(plan, statement, params)
            if rows and len(rows[0]) == 2 and fact.type in (FieldType.number, FieldType.integer):
                average = self._average_days(plan, fact, rows, params)
                if average is not None:
                    found[fact.name] = average
                continue
            if len(rows) > 1:
                raise AdapterError(self._where(plan, None, params, f"{len(rows)} rows where one was expected: a "
                                                                   "history query returns one value"))
            if not rows or len(rows[0]) != 1:
                if rows:
                    raise AdapterError(self._where(plan, None, params, f"the query returns {', '.join(rows[0])}: "
                                                                       "select one value"))
                continue
            raw = next(iter(rows[0].values()))
            if raw is not None:
                found[fact.name] = self._history_value(plan, fact, raw, day, params)
        return found if known else None

    def _average_days(self, plan: HistoryPlan, fact: HistoryFact, rows: Sequence[Mapping[str, Any]],
                      params: Mapping[str, Any]) -> Decimal | int | None:
        """The average number of days from each row's first date to its second (an invoice's due date to the
        day it was paid): date arithmetic differs in every SQL dialect, so the query selects the two dates and
        salesgate counts. A row with a NULL date is left out; no row left: missing. A ``number`` is exact to
        0.01 day (half to even), an ``integer`` rounds half to even."""
        tz, stored = self.mapping.business_tz, self.mapping.stored_tz
        days: list[int] = []
        for row in rows:
            first, second = row.values()
            if first is None or second is None:
                continue
            try:
                days.append((to_date(second, tz, stored) - to_date(first, tz, stored)).days)
            except ConversionError as exc:
                raise AdapterError(self._where(plan, None, params, f"{fact.path} averages the days between two "
                                                                   f"dates per row: {exc}")) from None
        if not days:
            return None
        average = Decimal(sum(days)) / Decimal(len(days))
        if fact.type is FieldType.integer:
            return int(average.quantize(Decimal(1), ROUND_HALF_EVEN))
        return average.quantize(Decimal("0.01"), ROUND_HALF_EVEN)

    def _stored_time(self, day: date) -> datetime:
        """Midnight starting ``day`` in the company's time zone, as the ERP stores times (its zone, no zone)."""
        midnight = datetime.combine(day, datetime.min.time(), self.mapping.business_tz)
        return midnight.astimezone(self.mapping.stored_tz).replace(tzinfo=None)

    def _history_value(self, plan: HistoryPlan, fact: HistoryFact, raw: Any, day: date,
                       params: Mapping[str, Any]) -> Any:
        """A history query's value as the fact's type; an integer fact given a date counts the days from it to
        the as-of date (date arithmetic differs in every SQL dialect: select the date, salesgate counts)."""
        tz, stored = self.mapping.business_tz, self.mapping.stored_tz
        try:
            if fact.type is FieldType.date:
                return to_date(raw, tz, stored)
            if fact.type is FieldType.integer:
                if isinstance(raw, date) or (isinstance(raw, str) and "-" in raw.strip()[1:]):
                    return (day - to_date(raw, tz, stored)).days
                return to_int(raw)
            return to_decimal(raw)
        except ConversionError as exc:
            raise AdapterError(self._where(plan, None, params, f"{fact.path} is {fact.type}: {exc}")) from None

    @staticmethod
    def _dated(params: dict[str, Any], as_of: date | None) -> dict[str, Any]:
        """A hook's query parameters with the decision's as-of date as ``:today`` (when the gate gave one)."""
        if as_of is not None:
            params[TODAY] = as_of
        return params

    def _model(self, fact: str) -> type[BaseModel]:
        """The model a fact's rows become: the shipped one, or a subclass carrying the declared facts the
        mapping reads for it (their values as read; the gate checks them against the policy's ``facts:``)."""
        if fact in self._carriers:
            return self._carriers[fact]
        kind = FACT_KINDS[fact]
        model: type[BaseModel] = kind.model
        # a declared fact the row leaves NULL is missing: left out of the dump, so that a policy which does
        # not declare it (another policy on the same mapping) is never sent it
        declared = {plan.field: (Any, Field(None, exclude_if=_is_none)) for plan, _ in self._declared.get(fact, [])}
        definitions: dict[str, Any] = dict(declared)
        if fact == "order" and self._declared["order.lines"]:
            line: Any = self._model("order.lines")  # a model built at run time: mypy cannot check it
            definitions["lines"] = (list[line], Order.model_fields["lines"])
        if definitions:
            model = create_model(model.__name__, __base__=model, __module__=model.__module__, **definitions)
        self._carriers[fact] = model
        return model

    def _with_declared(self, fact: str, values: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with the declared facts read by their own queries (the columns came with the row)."""
        out = dict(values)
        for plan, statement in self._declared.get(fact, []):
            if statement is None:
                continue
            rows = self._rows(plan, statement, params)
            if len(rows) > 1:
                raise AdapterError(self._where(plan, plan.field, params, f"{len(rows)} rows where one was expected"))
            if not rows:
                continue
            row = rows[0]
            if plan.field not in row and len(row) != 1:
                raise AdapterError(self._where(plan, plan.field, params, f"the query returns {', '.join(row)}: name "
                                                                         f"its one column {plan.field}"))
            raw = row[plan.field] if plan.field in row else next(iter(row.values()))
            source = self._fact_source(fact)
            value = self._translated(source, plan.field, raw)
            if value is not None:
                out[plan.field] = self._as_read(plan, plan.field, value, params)
        source = self._fact_source(fact)
        if isinstance(source, Declaring):
            for field, default in source.defaults.items():
                if field in source.declared and out.get(field) is None and default is not None:
                    out[field] = default
        return out

    def _fact_source(self, fact: str) -> Fact | None:
        facts = self.mapping.spec.facts
        if fact == "order.lines":
            return facts.order.lines if facts.order is not None else None
        found = getattr(facts, fact, None)
        return found if isinstance(found, Fact) else None

    @staticmethod
    def _translated(source: Source | None, field: str, raw: Any) -> Any:
        table = source.values.get(field) if isinstance(source, Fact) else None
        if table is None or raw is None:
            return raw
        key = value_key(raw)
        return table[key] if key in table else table.get("*", raw)

    def _as_read(self, plan: Plan | DeclaredPlan | DocumentPlan, field: str, value: Any,
                 params: Mapping[str, Any]) -> Any:
        try:
            return as_read(value, self.mapping.business_tz, self.mapping.stored_tz)
        except ConversionError as exc:
            raise AdapterError(self._where(plan, field, params, str(exc))) from None

    def _plain_values(self, plan: DocumentPlan, row: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """One row of a declared document as its fields: values translated, defaults filled, each value as the
        database gave it but for text, amounts and times (:func:`~.convert.as_read`)."""
        source = plan.source
        out: dict[str, Any] = {}
        for label, raw in row.items():
            value = self._translated(source, label, raw)
            if value is not None:
                out[label] = self._as_read(plan, label, value, params)
        for field, default in source.defaults.items():
            if out.get(field) is None and default is not None:
                out[field] = default
        return out

    # -- reading and converting -------------------------------------------------------------------------

    def _one(self, fact: str, params: Mapping[str, Any]) -> Any:
        found = self._one_row(fact, params)
        if found is None:
            return None
        plan, values = found
        return self._validate(plan, plan.kind.model, values, params)

    def _one_row(self, fact: str, params: Mapping[str, Any]) -> tuple[Plan, dict[str, Any]] | None:
        sources = self._statements[fact]
        if not sources:
            return None
        plan, statement = sources[0]
        rows = self._rows(plan, statement, params)
        if not rows:
            return None
        if len(rows) > 1:
            raise AdapterError(self._where(plan, None, params, f"{len(rows)} rows where one was expected; "
                                                               "the query must return one row per "
                                                               f"{' and '.join(plan.kind.params)}"))
        return plan, self._values(plan, rows[0], params)

    def _rows(self, plan: Plan | DeclaredPlan | DocumentPlan | HistoryPlan, statement: Executable,
              params: Mapping[str, Any]) -> list[dict[str, Any]]:
        bound = {name: params[name] for name in plan.params if name in params}
        if TODAY in plan.params and bound.get(TODAY) is None:
            bound[TODAY] = self.today()
        try:
            with self._connection() as connection:
                return [dict(row) for row in connection.execute(statement, bound).mappings()]
        except SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
            message = f"database {self.url} failed: {type(reason).__name__}: {redact(text, self.engine.url)}"
            raise AdapterError(self._where(plan, None, params, message)) from exc
        except UnicodeError as exc:  # PyMySQL sends user and password as latin-1: a Chinese password cannot go
            message = (f"database {self.url} failed: the driver cannot send the connection's user name or password "
                       f"({type(exc).__name__}; PyMySQL takes latin-1 only)")
            raise AdapterError(self._where(plan, None, params, message)) from None

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            if self._owns_engine or self.engine.dialect.name not in MYSQL:
                yield connection
                return
            # Someone else's MySQL engine: standard quoting for our statements only, then as it was.
            previous = connection.execute(sa.text("SELECT @@SESSION.sql_mode")).scalar()
            connection.execute(sa.text(f"SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',{ANSI_MODES}')"))
            try:
                yield connection
            finally:
                connection.execute(sa.text("SET SESSION sql_mode = :mode"), {"mode": previous})

    def _values(self, plan: Plan, row: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """One row as fact values: ERP values translated, types converted, defaults filled."""
        kind, source = plan.kind, plan.source
        fields = kind.fields
        translations = source.values if isinstance(source, Fact) else {}
        declared = {column: field for field, column in source.declared.items() if isinstance(column, str)} if (
            isinstance(source, Declaring)) else {}
        if source.query is None:  # a table's declared columns are selected under the fact's name
            declared = {field: field for field in declared.values()}
        out: dict[str, Any] = {}
        for label, raw in row.items():
            if label in declared and label not in fields:
                field = declared[label]
                value = self._translated(source, field, raw)
                if value is not None:
                    out[field] = self._as_read(plan, field, value, params)
                continue
            if label not in fields:
                suggestion = did_you_mean(label, fields)
                hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
                raise AdapterError(self._where(plan, None, params, f"the query returns column {label!r}, which is "
                                                                   f"not a {kind.name} field{hint}"))
            value = raw
            table = translations.get(label)
            if table is not None and raw is not None:
                key = value_key(raw)
                value = table[key] if key in table else table.get("*", raw)
            if value is None:
                continue
            try:
                out[label] = self._converter(plan, label)(value)
            except ConversionError as exc:
                raise AdapterError(self._where(plan, label, params, str(exc))) from None
        if isinstance(source, Fact):
            declared_fields = set(source.declared) if isinstance(source, Declaring) else set()
            for field, default in source.defaults.items():
                if out.get(field) is None and default is not None and field not in declared_fields:
                    out[field] = self._converter(plan, field)(default)
        for field in fields:
            if field not in out and is_required(kind.model, field):
                problem = ("NULL in a required field; give it a value under defaults:" if field in row else
                           "required, and the query returns no such column")
                raise AdapterError(self._where(plan, field, params, problem))
        return out

    def _converter(self, plan: Plan, field: str) -> Converter:
        key = (plan.kind.name, field)
        if key not in self._converters:
            self._converters[key] = converter_for(plan.kind.model, field, self.mapping.business_tz,
                                                  self.mapping.stored_tz)
        return self._converters[key]

    def _validate(self, plan: Plan, model: type[BaseModel], values: Mapping[str, Any],
                  params: Mapping[str, Any]) -> Any:
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else None
            given = error["input"]
            shown_value = (f"{plain_decimal(given) if isinstance(given, Decimal) else repr(given)}: "
                           if field else "")
            raise AdapterError(self._where(plan, field, params, shown_value + error["msg"])) from None

    def _where(self, plan: Plan | DeclaredPlan | DocumentPlan | HistoryPlan, field: str | None,
               params: Mapping[str, Any], problem: str) -> str:
        """``file:line: fact 'customer', column 'credit_limit' (customer_id='C1'): problem``."""
        if isinstance(plan, HistoryPlan):  # a history query's window and as-of day are part of what went wrong
            shown = ", ".join(f"{k}={v.isoformat()}" if isinstance(v, date) else f"{k}={v!r}"
                              for k, v in params.items())
            return f"{self.mapping.where(plan.path)}: history fact {plan.fact} ({shown}): {problem}"
        context = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != TODAY)
        if isinstance(plan, DeclaredPlan):
            document = DECLARABLE[plan.fact][0]
            return f"{self.mapping.where(plan.path)}: declared fact {document}.{plan.field} ({context}): {problem}"
        if isinstance(plan, DocumentPlan):
            column = plan.source.columns.get(field, field) if field else None
            where = self.mapping.where((*plan.path, "query") if plan.source.query is not None else plan.path)
            what = plan.label + (f", column {column!r}" if column else "")
            return f"{where}: {what} ({context}): {problem}"
        source = plan.source
        if source.query is not None:
            path, column = (*plan.path, "query"), field
        elif field is not None and field in source.columns:
            path, column = (*plan.path, "columns", field), source.columns[field]
        else:
            path, column = plan.path, field
        what = f"fact {plan.label!r}" + (f", column {column!r}" if column else "")
        return f"{self.mapping.where(path)}: {what} ({context}): {problem}"


def _is_none(value: object) -> bool:
    return value is None


def _declared_statement(plan: DeclaredPlan) -> Executable | None:
    """A declared fact's own query; ``None`` for a column (read with its fact's rows)."""
    if plan.query is None:
        return None
    return sa.text(plan.query).bindparams(*(sa.bindparam(name, type_=sa.Date()) if name == TODAY
                                            else sa.bindparam(name) for name in plan.params))


def _history_statement(plan: HistoryPlan) -> Executable:
    """A history fact's query: the window's bounds and the as-of date bound as dates."""
    return sa.text(plan.query).bindparams(*(
        sa.bindparam(name, type_=sa.Date()) if name in ("from", "until", TODAY)
        else sa.bindparam(name, type_=sa.DateTime()) if name in ("from_time", "until_time")
        else sa.bindparam(name) for name in plan.params))


def _document_statement(plan: DocumentPlan) -> Executable:
    """A declared document's (or list's) statement, by ``:id``."""
    source = plan.source
    if source.query is not None:
        return sa.text(source.query).bindparams(*(sa.bindparam(name, type_=sa.Date()) if name == TODAY
                                                  else sa.bindparam(name) for name in plan.params))
    assert source.table is not None  # noqa: S101 - checked when the mapping loads
    assert isinstance(source.key, str)  # noqa: S101 - checked when the mapping loads
    return _table_select(source, {DOCUMENT_ID: source.key}, dict(source.columns))


def _statement(plan: Plan) -> Executable:
    """The SQLAlchemy Core statement of one source: a text() query, or a select() on a table (with the
    columns of the declared facts it reads, under their names)."""
    source = plan.source
    if source.query is not None:
        binds = [
            sa.bindparam(name, expanding=True) if name in EXPANDING_PARAMS
            else sa.bindparam(name, type_=sa.Date()) if name == TODAY
            else sa.bindparam(name)
            for name in plan.params
        ]
        return sa.text(source.query).bindparams(*binds)
    assert source.table is not None  # noqa: S101 - guaranteed by Source's validator
    columns = dict(source.columns)
    if isinstance(source, Declaring):
        columns.update({field: column for field, column in source.declared.items() if isinstance(column, str)})
    return _table_select(source, table_keys(source, plan.kind), columns)


def _table_select(source: Source, keys: Mapping[str, str], columns: Mapping[str, str]) -> Executable:
    """``SELECT column AS field, … FROM table WHERE key = :param AND <where:>``."""
    assert source.table is not None  # noqa: S101 - guaranteed by Source's validator
    names = dict.fromkeys([*columns.values(), *keys.values(), *source.where])
    table = sa.table(source.table, *(sa.column(name) for name in names), schema=source.table_schema)
    statement = sa.select(*(table.c[column].label(field) for field, column in columns.items()))
    for param, column in keys.items():
        if param in EXPANDING_PARAMS:
            statement = statement.where(table.c[column].in_(sa.bindparam(param, expanding=True)))
        else:
            statement = statement.where(table.c[column] == sa.bindparam(param))
    for column, value in source.where.items():
        if isinstance(value, list):
            statement = statement.where(table.c[column].in_(value))
        elif value is None:
            statement = statement.where(table.c[column].is_(None))
        else:
            statement = statement.where(table.c[column] == value)
    return statement
