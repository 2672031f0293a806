"""The SQL adapter: connecting (URL, environment, drivers, timeouts, read-only sessions, secrets),
converting what drivers return into exact fact values, and every way an ERP's data can be wrong —
each an AdapterError naming the mapping file and line, the fact and the column, which the gate turns
into a safe, explained decision.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from fixtures.databases import KINDS, ScratchDatabase, isolated_database
from fixtures.erp_schemas import FIXTURES, TODAY
from fixtures.servers import trickling_server
from salesgate import AdapterError, FactsError, Gate, Outcome, load_policy
from salesgate.policy.compiler import Policy
from salesgate.seed import seed_policy_path
from salesgate.testing import AdapterContract
from salesgate_adapters.demo import AS_OF, load_demo_company
from salesgate_adapters.demo.erp import create_demo_erp
from salesgate_adapters.sql import DEFAULT_URL_ENV, SqlAdapter
from salesgate_adapters.sql.convert import ConversionError, to_bool, to_date, to_datetime, to_decimal, to_int
from salesgate_adapters.sql.engine import DRIVER_REQUIREMENTS

pytest_plugins = ["salesgate.testing"]

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-Pa55"  # noqa: S105 - a fake password: the tests prove it is never shown


@pytest.fixture(scope="module")
def seed() -> Policy:
    return load_policy(seed_policy_path())


@pytest.fixture
def demo_db(tmp_path: Path) -> str:
    """A SQLite file holding the demo ERP: the URL of a real, filled database."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    engine = sa.create_engine(url)
    create_demo_erp(load_demo_company(), engine)
    engine.dispose()
    return url


@pytest.fixture(params=KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScratchDatabase]:
    with isolated_database(request.param, tmp_path) as db:
        yield db


def gate_on(seed: Policy, adapter: SqlAdapter) -> Gate:
    return Gate(seed, backend="python", entry_points=False, plugins=[adapter])


class TestSqlAdapterContract(AdapterContract):
    """The contract every adapter keeps, on the demo ERP through the shipped demo mapping."""

    adapter_name = "sql"
    known_customer_id = "C001"
    known_customer_name = "华东机电有限公司"
    known_skus = ("MOTOR-5.5", "VALVE-DN50")
    known_order_id = "SO-1001"
    known_delivery = ("SO-0958", "CABLE-100")

    @pytest.fixture
    def adapter(self, demo_db: str) -> SqlAdapter:
        return SqlAdapter(demo_db, today=AS_OF)

    @pytest.fixture
    def adapter_options(self, demo_db: str) -> dict[str, Any]:
        return {"url": demo_db, "today": AS_OF}


# -- connecting ---------------------------------------------------------------------------------------------


def test_url_comes_from_the_environment_when_not_given(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFAULT_URL_ENV, demo_db)
    adapter = SqlAdapter(today=AS_OF)
    assert adapter.salesgate_load_customer(customer_id="C001") is not None
    adapter.close()


def test_url_environment_variable_name_can_be_chosen(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_URL_ENV, raising=False)
    monkeypatch.setenv("ERP_DB", demo_db)
    adapter = SqlAdapter(url_env="ERP_DB")
    assert adapter.url == demo_db
    adapter.close()


def test_without_url_or_environment_the_error_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_URL_ENV, raising=False)
    with pytest.raises(AdapterError, match=f"no database URL: pass url=... or set {DEFAULT_URL_ENV}"):
        SqlAdapter()


def test_invalid_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(AdapterError) as info:
        SqlAdapter(f"not a url with {SECRET}")
    assert "not a valid URL" in str(info.value)
    assert SECRET not in str(info.value)


def test_unknown_database_type_is_named_with_the_password_hidden() -> None:
    with pytest.raises(AdapterError) as info:
        SqlAdapter(f"oracle9://erp:{SECRET}@db/erp")
    assert "unknown database type 'oracle9' in oracle9://erp:***@db/erp" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("scheme", ["oracle", "oracle+oracledb", "mssql+pyodbc", "db2"])
def test_a_database_type_salesgate_does_not_support_is_named_as_unknown(scheme: str) -> None:
    from salesgate_adapters.store import Store, StoreError

    url = f"{scheme}://erp:{SECRET}@db/erp"
    with pytest.raises(AdapterError) as info:
        SqlAdapter(url)
    with pytest.raises(StoreError) as store_info:
        Store(url)
    for message in (str(info.value), str(store_info.value)):
        assert message.startswith(f"unknown database type '{scheme}' in {scheme}://erp:***@db/erp: use postgresql, "
                                  "mysql, mariadb or sqlite"), message
        assert SECRET not in message


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("postgresql://erp@db/erp", "psycopg", "postgresql"),
        ("mysql://erp@db/erp", "pymysql", "mysql"),
        ("mariadb://erp@db/erp", "pymysql", "mysql"),
    ],
)
def test_missing_driver_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch, url: str, module: str,
                                                   extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import psycopg / pymysql now fails
    with pytest.raises(AdapterError) as info:
        SqlAdapter(url)
    requirement = DRIVER_REQUIREMENTS[extra]
    assert "is not installed (" in str(info.value)
    assert str(info.value).endswith(f": pip install '{requirement}' (or, in the salesgate checkout, "
                                    f"pip install '.[{extra}]')")
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["optional-dependencies"][extra] == [requirement]  # the message installs the extra


def test_plain_dialect_urls_get_the_supported_drivers() -> None:
    assert SqlAdapter("postgresql://erp@db/erp").engine.url.drivername == "postgresql+psycopg"
    assert SqlAdapter("mysql://erp@db/erp").engine.url.drivername == "mysql+pymysql"
    assert SqlAdapter("mariadb://erp@db/erp").engine.url.drivername == "mariadb+pymysql"


@pytest.mark.parametrize("url", [f"postgresql://erp:{SECRET}@127.0.0.1:1/erp", f"mysql://erp:{SECRET}@127.0.0.1:1/erp"])
def test_password_never_appears_in_messages_logs_or_decisions(
    url: str, seed: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = SqlAdapter(url, timeout=2)
    assert SECRET not in repr(adapter)
    assert SECRET not in adapter.url
    with pytest.raises(AdapterError) as info:
        adapter.salesgate_load_customer(customer_id="C001")
    assert "database " + adapter.url + " failed" in str(info.value)
    assert ":***@127.0.0.1:1" in str(info.value)
    assert SECRET not in str(info.value)
    with caplog.at_level(logging.DEBUG), gate_on(seed, adapter) as gate:
        decision = gate.approve_order({"order": "SO-1001"})
    assert decision.outcome is Outcome.block  # database down: held, explained, never an exception
    assert "failed" in (decision.failure or "")
    assert SECRET not in decision.model_dump_json()
    assert SECRET not in caplog.text


def test_unreachable_database_answers_within_the_timeout() -> None:
    adapter = SqlAdapter("postgresql://erp@127.0.0.1:1/erp", timeout=1)
    started = time.monotonic()
    with pytest.raises(AdapterError, match="failed"):
        adapter.salesgate_load_customer(customer_id="C001")
    assert time.monotonic() - started < 5


SLOW = {
    "postgresql": "SELECT :customer_id AS id, 'slow' AS name FROM (SELECT pg_sleep(5)) s",
    "mariadb": "SELECT :customer_id AS id, 'slow' AS name FROM (SELECT SLEEP(5) AS s) s",
}


@pytest.mark.parametrize("kind", sorted(SLOW))
def test_slow_query_is_cut_off_at_the_timeout(kind: str, tmp_path: Path) -> None:
    with isolated_database(kind, tmp_path) as db:
        mapping = write_mapping(tmp_path, f"  customer:\n    query: \"{SLOW[kind]}\"\n")
        adapter = SqlAdapter(db.url, mapping=mapping, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(AdapterError, match=r"failed|no answer within 0.5 s"):  # the server's timeout, or ours
            adapter.salesgate_load_customer(customer_id="C001")
        assert time.monotonic() - started < 3
        adapter.close()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_a_trickling_server_is_cut_off_at_the_adapters_timeout_as_a_whole(kind: str,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """PyMySQL's read timeout restarts on every byte; libpq has none once connected: a byte a second held
    a data hook for as long as the server kept sending."""
    scheme = "postgresql" if kind == "postgresql" else "mysql"
    with trickling_server(kind) as port:
        adapter = SqlAdapter(f"{scheme}://erp@127.0.0.1:{port}/erp", timeout=1.5)
        started = time.monotonic()
        with pytest.raises(AdapterError, match=r"no answer within 1.5 s \(the sql adapter's timeout, for the whole "
                                               r"call\)"):
            adapter.salesgate_load_customer(customer_id="C001")
        elapsed = time.monotonic() - started
        with capsys.disabled():
            print(f"\n[{kind} trickling a byte a second] the sql adapter (timeout 1.5 s) gave up after {elapsed:.2f} s")
        assert elapsed < 1.5 + 1.5
        adapter.close()


def test_sessions_of_the_adapters_own_engine_are_read_only(database: ScratchDatabase) -> None:
    with database.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE scratch (id INTEGER)"))
    adapter = SqlAdapter(database.url)
    with pytest.raises(sa.exc.DBAPIError), adapter.engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO scratch (id) VALUES (1)"))
    adapter.close()


@pytest.mark.db  # a MariaDB server, without a fixture conftest.py could see
def test_someone_elses_mysql_engine_gets_its_sql_mode_back(tmp_path: Path) -> None:
    with isolated_database("mariadb", tmp_path) as db:
        fixture = FIXTURES["erpnext"]()
        fixture.create(db.engine)
        engine = sa.create_engine(db.url, pool_size=1, max_overflow=0)
        adapter = SqlAdapter(engine=engine, mapping="erpnext", today=TODAY)
        assert adapter.salesgate_load_customer(customer_id="CUST-0001") is not None  # "tabCustomer" needs ANSI quotes
        with engine.connect() as connection:
            mode = str(connection.execute(sa.text("SELECT @@SESSION.sql_mode")).scalar())
        assert "ANSI_QUOTES" not in mode
        adapter.close()
        engine.dispose()
        fixture.drop(db.engine)


def test_url_and_engine_together_are_refused(demo_db: str) -> None:
    with pytest.raises(AdapterError, match="pass url or engine, not both"):
        SqlAdapter(demo_db, engine=sa.create_engine(demo_db))


def test_timeout_must_be_positive(demo_db: str) -> None:
    with pytest.raises(AdapterError, match="timeout must be a positive number"):
        SqlAdapter(demo_db, timeout=0)


def test_close_disposes_only_an_engine_the_adapter_created(demo_db: str) -> None:
    engine = sa.create_engine(demo_db)
    with engine.connect():
        pass
    SqlAdapter(engine=engine).close()
    assert engine.pool.checkedin() == 1  # still pooled: the caller's engine is the caller's to close
    engine.dispose()


def test_today_defaults_to_the_day_in_the_mappings_time_zone(demo_db: str) -> None:
    adapter = SqlAdapter(demo_db)
    assert adapter.today() == datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert SqlAdapter(demo_db, today=lambda: date(2030, 1, 1)).today() == date(2030, 1, 1)


# -- through the gate ---------------------------------------------------------------------------------------


def test_sql_is_a_registered_adapter_name(demo_db: str) -> None:
    with Gate.default(backend="python", adapter="sql", url=demo_db, today=AS_OF) as gate:
        assert isinstance(gate.adapter, SqlAdapter)
    with pytest.raises(AdapterError, match=r"adapter 'sql' cannot be built from these options \("):
        Gate.default(backend="python", adapter="sql", url=demo_db, mapings="demo")


def test_gate_from_path_decides_an_order_given_by_id(demo_db: str) -> None:
    with Gate.from_path(ROOT / "rules", backend="python", adapter="sql", url=demo_db, today=AS_OF) as gate:
        decision = gate.approve_order({"order": "SO-1004"})
    assert decision.failure is None
    assert decision.outcome is Outcome.block
    assert decision.fired == ["blocked-customer", "poor-credit-without-guarantee"]


def test_gate_fills_customer_products_and_exposure_of_an_order_document(demo_db: str) -> None:
    document = {"id": "NEW-1", "customer_id": "C002", "order_date": "2026-11-06",
                "lines": [{"line_no": 1, "sku": "PUMP-20", "qty": 5, "unit_price": "4500"}]}
    with Gate.from_path(ROOT / "rules", backend="python", adapter="sql", url=demo_db, today=AS_OF) as gate:
        facts = gate.facts_for("credit_check", {"order": document})
        decision = gate.check_credit({"order": document})
    assert facts.customer.name == "深圳市宏达贸易有限公司"  # type: ignore[union-attr]
    assert [p.sku for p in facts.products] == ["PUMP-20"]  # type: ignore[union-attr]
    assert facts.exposure.total == Decimal("130000")  # type: ignore[union-attr]
    assert decision.failure is None
    assert decision.credit is not None
    assert decision.credit.exposure == Decimal("152500")


PARTIAL = {"id": "RT-9", "customer_id": "C003", "type": "return", "reason": "not_needed",
           "original_order_id": "SO-0958", "sku": "CABLE-100", "qty": 2, "requested_on": "2026-11-06"}


def test_partial_return_is_completed_and_caller_values_win(demo_db: str, seed: Policy) -> None:
    with gate_on(seed, SqlAdapter(demo_db, today=AS_OF)) as gate:
        filled = gate.facts_for("return_handling", {"return": PARTIAL})
        overridden = gate.facts_for("return_handling", {"return": {**PARTIAL, "unit_price": "900"}})
    assert filled.return_request.model_dump(  # type: ignore[union-attr]
        include={"unit_price", "delivered_qty", "already_returned_qty", "days_since_delivery"}
    ) == {"unit_price": Decimal(950), "delivered_qty": 10, "already_returned_qty": 4, "days_since_delivery": 20}
    assert overridden.return_request.unit_price == Decimal(900)  # type: ignore[union-attr]


def test_full_return_documents_work_as_before_and_ignore_requested_on(demo_db: str, seed: Policy) -> None:
    full = {**PARTIAL, "unit_price": "950", "delivered_qty": 10, "days_since_delivery": 3}
    with gate_on(seed, SqlAdapter(demo_db, today=AS_OF)) as gate:
        facts = gate.facts_for("return_handling", {"return": full})
    assert facts.return_request.days_since_delivery == 3  # type: ignore[union-attr]
    assert facts.return_request.already_returned_qty == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"requested_on": None}, "needs requested_on (YYYY-MM-DD)"),
        ({"requested_on": "06/11/2026"}, "return.requested_on: '06/11/2026' is not a date"),
        ({"requested_on": "2026-10-01"}, "return.requested_on 2026-10-01 is before the delivery of order 'SO-0958'"),
        ({"original_order_id": "SO-7777"}, "no delivery of 'CABLE-100' on order 'SO-7777'"),
        ({"customer_id": "C001"}, "return for customer 'C001' names order 'SO-0958', which was sold to 'C003'"),
    ],
)
def test_partial_return_that_cannot_be_completed_is_the_callers_error(
    demo_db: str, seed: Policy, change: dict[str, Any], message: str
) -> None:
    request = {k: v for k, v in {**PARTIAL, **change}.items() if v is not None}
    with gate_on(seed, SqlAdapter(demo_db, today=AS_OF)) as gate, pytest.raises(FactsError) as info:
        gate.handle_return({"return": request})
    assert message in str(info.value)


# -- what drivers return, converted exactly -------------------------------------------------------------------


def test_floats_are_read_through_their_repr_never_their_binary_expansion() -> None:
    assert to_decimal(350.17) == Decimal("350.17")
    assert str(to_decimal(0.1 + 0.2)) == "0.3"  # 0.30000000000000004: below salesgate's 4 decimals
    assert str(to_decimal(Decimal("2660.000000000"))) == "2660"
    assert str(to_decimal("210.123456789")) == "210.1235"
    assert str(to_decimal(b"12.50")) == "12.5"


@pytest.mark.parametrize("value", ["abc", "", True, float("nan"), object()])
def test_non_numbers_are_refused(value: Any) -> None:
    with pytest.raises(ConversionError):
        to_decimal(value)


@pytest.mark.parametrize("value", [1e30, "1e30", 10**40, "123456789012345678901234567.12345"])
def test_numbers_beyond_28_digits_are_refused_as_a_conversion_error(value: Any) -> None:
    """Not a decimal.InvalidOperation escaping without the file, fact and column the adapter adds."""
    with pytest.raises(ConversionError, match="too large: amounts are kept to 28 digits"):
        to_decimal(value)


def test_whole_numbers_from_numeric_columns_become_int_and_fractions_are_refused() -> None:
    assert to_int(Decimal("40.000000000")) == 40
    assert to_int(40.0) == 40
    with pytest.raises(ConversionError, match="not a whole number"):
        to_int(Decimal("2.5"))


@pytest.mark.parametrize(("value", "expected"), [(1, True), (0, False), ("t", True), ("No", False), (True, True)])
def test_booleans_from_every_driver(value: Any, expected: bool) -> None:
    assert to_bool(value) is expected


def test_dates_and_datetimes_follow_the_mappings_time_zones() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert to_date("2026-11-02", shanghai, UTC) == date(2026, 11, 2)
    assert to_date(datetime(2026, 11, 1, 17, 30), shanghai, UTC) == date(2026, 11, 2)  # stored UTC, day in Shanghai
    assert to_datetime("2026-11-01 17:30:00", UTC) == datetime(2026, 11, 1, 17, 30, tzinfo=UTC)
    with pytest.raises(ConversionError, match="without a time"):
        to_datetime(date(2026, 11, 1), UTC)


# -- garbage in the ERP: located errors, safe decisions ----------------------------------------------------------


def sqlite_db(tmp_path: Path, *statements: str) -> str:
    path = tmp_path / "erp.db"
    connection = sqlite3.connect(path)
    with connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()
    return f"sqlite:///{path}"


def write_mapping(tmp_path: Path, facts: str) -> Path:
    path = tmp_path / "erp.yaml"
    path.write_text(f"mapping: test\ntimezone: Asia/Shanghai\nstored_timezone: UTC\nfacts:\n{facts}", encoding="utf-8")
    return path


CUSTOMERS = "CREATE TABLE customers (id TEXT, name TEXT, grade TEXT, lim, terms, blocked)"
CUSTOMER_TABLE = """\
  customer:
    table: customers
    key: id
    columns: { id: id, name: name, grade: grade, credit_limit: lim, payment_terms_days: terms }
"""


@pytest.mark.parametrize(
    ("row", "column", "problem"),
    [
        ("('C1', 'Acme', 'A', 'lots', 30, 0)", "lim", "'lots' is not a number"),
        ("('C1', NULL, 'A', 100, 30, 0)", "name", "NULL in a required field; give it a value under defaults:"),
        ("('C1', 'Acme', 'VIP', 100, 30, 0)", "grade", "'VIP': Input should be 'A', 'B' or 'C'"),
        ("('C1', 'Acme', 'A', -100, 30, 0)", "lim", "-100: Input should be greater than or equal to 0"),
        ("('C1', 'Acme', 'A', 100, 7.5, 0)", "terms", "7.5 is not a whole number"),
    ],
)
def test_garbage_in_a_column_names_mapping_line_fact_and_column(
    tmp_path: Path, seed: Policy, row: str, column: str, problem: str
) -> None:
    mapping = write_mapping(tmp_path, CUSTOMER_TABLE)
    insert = f"INSERT INTO customers VALUES {row}"  # noqa: S608 - fixed test rows, not input
    adapter = SqlAdapter(sqlite_db(tmp_path, CUSTOMERS, insert), mapping=mapping)
    with pytest.raises(AdapterError) as info:
        adapter.salesgate_load_customer(customer_id="C1")
    message = str(info.value)
    assert message.startswith(f"{mapping}:")
    assert f"fact 'customer', column '{column}' (customer_id='C1'): {problem}" in message
    with gate_on(seed, adapter) as gate:
        decision = gate.handle_return({"return": {**PARTIAL, "customer_id": "C1", "unit_price": "1",
                                                  "delivered_qty": 1, "days_since_delivery": 1}})
    assert decision.outcome is Outcome.block
    assert problem in (decision.failure or "")


def test_defaults_fill_nulls_and_values_translate_with_a_catch_all(tmp_path: Path) -> None:
    facts = CUSTOMER_TABLE + "    values:\n      grade: { Key: A, '*': C }\n    defaults:\n      credit_limit: 0\n"
    url = sqlite_db(tmp_path, CUSTOMERS, "INSERT INTO customers VALUES ('C1', 'Acme', 'Retail', NULL, 30, 0)",
                    "INSERT INTO customers VALUES ('C2', 'Beta', 'Key', 5, 30, 0)")
    adapter = SqlAdapter(url, mapping=write_mapping(tmp_path, facts))
    first, second = (adapter.salesgate_load_customer(customer_id=c) for c in ("C1", "C2"))
    assert first is not None
    assert second is not None
    assert (first.grade.value, first.credit_limit) == ("C", 0)
    assert second.grade.value == "A"


def test_boolean_values_are_looked_up_as_the_database_returns_them(tmp_path: Path) -> None:
    facts = ("  customer:\n    query: SELECT id, name, blocked AS status FROM customers WHERE id = :customer_id\n"
             "    values:\n      status: { 1: blocked, 0: active }\n")
    url = sqlite_db(tmp_path, CUSTOMERS, "INSERT INTO customers VALUES ('C1', 'Acme', 'A', 1, 30, 1)")
    customer = SqlAdapter(url, mapping=write_mapping(tmp_path, facts)).salesgate_load_customer(customer_id="C1")
    assert customer is not None
    assert customer.status.value == "blocked"


@pytest.mark.parametrize("keys", ["{ 1.0: blocked, 0.0: active }", "{ '1': blocked, '0.00': active }"])
def test_values_keys_written_as_decimals_or_text_match_the_numbers_the_erp_returns(tmp_path: Path,
                                                                                    keys: str) -> None:
    """As docs/adapters.md says: 1, 1.0 and '1' are one key (the YAML key 0.0 was kept as '0.0')."""
    query = "SELECT id, name, blocked AS status FROM customers WHERE id = :customer_id"
    facts = f"  customer:\n    query: {query}\n    values:\n      status: {keys}\n"
    url = sqlite_db(tmp_path, CUSTOMERS, "INSERT INTO customers VALUES ('C1', 'Acme', 'A', 1, 30, 0)",
                    "INSERT INTO customers VALUES ('C2', 'Acme', 'A', 1, 30, 1)")
    adapter = SqlAdapter(url, mapping=write_mapping(tmp_path, facts))
    statuses = [adapter.salesgate_load_customer(customer_id=c) for c in ("C1", "C2")]
    assert [c.status.value for c in statuses if c is not None] == ["active", "blocked"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("SELECT id, name, lim AS credit_limt FROM customers WHERE id = :customer_id",
         "the query returns column 'credit_limt', which is not a customer field (did you mean 'credit_limit'?)"),
        ("SELECT id FROM customers WHERE id = :customer_id",
         "column 'name' (customer_id='C1'): required, and the query returns no such column"),
        ("SELECT id, name FROM customers WHERE id = :customer_id OR 1 = 1",
         "2 rows where one was expected; the query must return one row per customer_id"),
        ("SELECT id, name FROM nowhere WHERE id = :customer_id",
         "failed: OperationalError: no such table: nowhere"),
    ],
)
def test_query_result_that_does_not_fit_the_fact_is_located(tmp_path: Path, query: str, problem: str) -> None:
    url = sqlite_db(tmp_path, CUSTOMERS, "INSERT INTO customers VALUES ('C1', 'Acme', 'A', 1, 30, 0)",
                    "INSERT INTO customers VALUES ('C2', 'Beta', 'A', 1, 30, 0)")
    mapping = write_mapping(tmp_path, f"  customer:\n    query: {query}\n")
    with pytest.raises(AdapterError) as info:
        SqlAdapter(url, mapping=mapping).salesgate_load_customer(customer_id="C1")
    assert str(info.value).startswith(f"{mapping}:6: fact 'customer'")
    assert problem in str(info.value)


ORDERS = ("CREATE TABLE orders (id TEXT, customer_id TEXT, day TEXT, created TEXT)",
          "CREATE TABLE lines (order_id TEXT, no INTEGER, sku TEXT, qty NUMERIC, price NUMERIC)",
          "INSERT INTO orders VALUES ('O1', 'C1', '2026-11-02', '2026-11-01 17:30:00')",
          "INSERT INTO orders VALUES ('O2', 'C1', '2026-11-02', NULL)",
          "INSERT INTO lines VALUES ('O1', 2, 'B', 1, 0.1)",
          "INSERT INTO lines VALUES ('O1', 1, 'A', 3, 350.17)")
ORDER_TABLE = """\
  order:
    table: orders
    key: id
    columns: { id: id, customer_id: customer_id, order_date: day, created_at: created }
    lines:
      table: lines
      key: order_id
      columns: { line_no: "no", sku: sku, qty: qty, unit_price: price }
"""


def test_order_lines_are_sorted_and_times_made_aware(tmp_path: Path) -> None:
    adapter = SqlAdapter(sqlite_db(tmp_path, *ORDERS), mapping=write_mapping(tmp_path, ORDER_TABLE))
    order = adapter.salesgate_load_order(order_id="O1")
    assert order is not None
    assert [(ln.line_no, ln.unit_price) for ln in order.lines] == [(1, Decimal("350.17")), (2, Decimal("0.1"))]
    assert order.created_at == datetime(2026, 11, 1, 17, 30, tzinfo=UTC)


def test_order_without_lines_is_an_error_naming_the_lines_source(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, ORDER_TABLE)
    with pytest.raises(AdapterError) as info:
        SqlAdapter(sqlite_db(tmp_path, *ORDERS), mapping=mapping).salesgate_load_order(order_id="O2")
    assert str(info.value) == f"{mapping}:9: fact 'order.lines' (order_id='O2'): the order has no lines"


def test_fractional_quantity_on_a_line_names_the_line_column(tmp_path: Path) -> None:
    statements = (*ORDERS, "UPDATE lines SET qty = 2.5 WHERE sku = 'B'")
    mapping = write_mapping(tmp_path, ORDER_TABLE)
    with pytest.raises(AdapterError) as info:
        SqlAdapter(sqlite_db(tmp_path, *statements), mapping=mapping).salesgate_load_order(order_id="O1")
    assert f"{mapping}:12: fact 'order.lines', column 'qty' (order_id='O1'): 2.5 is not a whole number" == str(
        info.value)


def test_duplicate_product_rows_are_an_error(tmp_path: Path) -> None:
    url = sqlite_db(tmp_path, "CREATE TABLE p (sku TEXT, price NUMERIC, list TEXT)",
                    "INSERT INTO p VALUES ('A', 1, 'retail')", "INSERT INTO p VALUES ('A', 2, 'wholesale')")
    facts = "  products:\n    table: p\n    key: sku\n    columns: { sku: sku, list_price: price }\n"
    with pytest.raises(AdapterError, match="more than one row for sku 'A'"):
        SqlAdapter(url, mapping=write_mapping(tmp_path, facts)).salesgate_load_products(skus=["A"])


def test_table_where_filters_select_only_matching_rows(tmp_path: Path) -> None:
    url = sqlite_db(tmp_path, "CREATE TABLE p (sku TEXT, price NUMERIC, list TEXT)",
                    "INSERT INTO p VALUES ('A', 1, 'retail')", "INSERT INTO p VALUES ('A', 2, 'wholesale')")
    facts = ("  products:\n    table: p\n    key: sku\n    where: { list: retail }\n"
             "    columns: { sku: sku, list_price: price }\n")
    products = SqlAdapter(url, mapping=write_mapping(tmp_path, facts)).salesgate_load_products(skus=["A", "Z"])
    assert products is not None
    assert [(p.sku, p.list_price) for p in products] == [("A", Decimal(1))]


def test_exposure_sums_amounts_and_counts_overdue_days_to_today(tmp_path: Path) -> None:
    url = sqlite_db(tmp_path, "CREATE TABLE inv (c TEXT, open REAL, due TEXT)",
                    "INSERT INTO inv VALUES ('C1', 0.1, '2026-10-01')",
                    "INSERT INTO inv VALUES ('C1', 0.2, '2026-12-01')")
    facts = """\
  exposure:
    - query: SELECT open AS open_receivables FROM inv WHERE c = :customer_id
    - query: >-
        SELECT SUM(open) AS overdue_amount, MIN(due) AS overdue_since
        FROM inv WHERE c = :customer_id AND due < :today
    - query: SELECT 7 AS max_overdue_days, 5 AS open_orders WHERE :customer_id IS NOT NULL
"""
    adapter = SqlAdapter(url, mapping=write_mapping(tmp_path, facts), today=date(2026, 11, 6))
    exposure = adapter.salesgate_load_exposure(customer_id="C1")
    assert exposure is not None
    assert exposure.model_dump(exclude={"reserved"}) == {
        "open_receivables": Decimal("0.3"), "open_orders": Decimal(5), "overdue_amount": Decimal("0.1"),
        "max_overdue_days": 36}


def test_facts_a_mapping_leaves_out_are_not_answered(tmp_path: Path) -> None:
    adapter = SqlAdapter(sqlite_db(tmp_path, CUSTOMERS), mapping=write_mapping(tmp_path, CUSTOMER_TABLE))
    assert adapter.salesgate_load_exposure(customer_id="C1") is None
    assert adapter.salesgate_load_products(skus=["A"]) is None
    assert adapter.salesgate_load_order(order_id="O1") is None
    assert adapter.salesgate_load_delivery(order_id="O1", sku="A") is None


# -- declared decision points and declared facts -----------------------------------------------------------------

DECLARED_POLICY = ROOT / "tests" / "fixtures" / "declared-policy"

SAMPLES_MAPPING = """\
mapping: samples
timezone: Asia/Shanghai
facts:
  customer:
    table: crm_customers
    key: code
    columns: { id: code, name: name, credit_limit: credit_limit }
    declared:
      tenure_years: years_with_us          # a column of the table the customer is read from
  products:
    query: |
      SELECT sku AS sku, name AS name, list_price AS list_price, cost AS cost, on_hand AS stock
      FROM crm_products WHERE sku IN :skus
    declared:
      make_or_buy:                         # a query of its own, keyed by the product
        query: SELECT sourcing AS make_or_buy FROM crm_sourcing WHERE sku = :sku
    values:
      make_or_buy: { 自产: make, 外购: buy }
documents:
  sample_request:
    query: |
      SELECT s.code AS id, s.customer AS customer_id, s.sample_value AS value, s.rush AS urgent
      FROM crm_samples s WHERE s.code = :id
    values:
      urgent: { Y: true, N: false }
    lists:
      lines:
        query: SELECT l.sku AS sku, l.qty AS qty FROM crm_sample_lines l WHERE l.sample = :id ORDER BY l.line_no
"""


def _samples_erp(engine: sa.engine.Engine) -> None:
    meta = sa.MetaData()
    customers = sa.Table("crm_customers", meta, sa.Column("code", sa.String(20), primary_key=True),
                         sa.Column("name", sa.String(80)), sa.Column("credit_limit", sa.Numeric(18, 2)),
                         sa.Column("years_with_us", sa.Integer))
    products = sa.Table("crm_products", meta, sa.Column("sku", sa.String(20), primary_key=True),
                        sa.Column("name", sa.String(80)), sa.Column("list_price", sa.Numeric(18, 4)),
                        sa.Column("cost", sa.Numeric(18, 4)), sa.Column("on_hand", sa.Integer))
    sourcing = sa.Table("crm_sourcing", meta, sa.Column("sku", sa.String(20), primary_key=True),
                        sa.Column("sourcing", sa.String(10)))
    samples = sa.Table("crm_samples", meta, sa.Column("code", sa.String(20), primary_key=True),
                       sa.Column("customer", sa.String(20)), sa.Column("sample_value", sa.Numeric(18, 2)),
                       sa.Column("rush", sa.String(1)))
    lines = sa.Table("crm_sample_lines", meta, sa.Column("sample", sa.String(20)), sa.Column("line_no", sa.Integer),
                     sa.Column("sku", sa.String(20)), sa.Column("qty", sa.Integer))
    meta.create_all(engine)
    with engine.begin() as connection:
        connection.execute(customers.insert(), [
            {"code": "C-新", "name": "新客户", "credit_limit": Decimal("50000.00"), "years_with_us": 1},
            {"code": "C-老", "name": "老客户", "credit_limit": Decimal("80000.00"), "years_with_us": None}])
        connection.execute(products.insert(), [
            {"sku": "阀门-1", "name": "闸阀", "list_price": Decimal("120.5000"), "cost": Decimal("80"), "on_hand": 40},
            {"sku": "电机-2", "name": "电机", "list_price": Decimal("900"), "cost": Decimal("700"), "on_hand": 3}])
        connection.execute(sourcing.insert(), [{"sku": "阀门-1", "sourcing": "自产"},
                                               {"sku": "电机-2", "sourcing": "外购"}])
        connection.execute(samples.insert(), [
            {"code": "SR-1", "customer": "C-新", "sample_value": Decimal("25000.00"), "rush": "Y"},
            {"code": "SR-2", "customer": "C-老", "sample_value": Decimal("300.00"), "rush": "N"}])
        connection.execute(lines.insert(), [
            {"sample": "SR-1", "line_no": 2, "sku": "电机-2", "qty": 150},
            {"sample": "SR-1", "line_no": 1, "sku": "阀门-1", "qty": 2}])


@pytest.fixture
def samples_adapter(database: ScratchDatabase, tmp_path: Path) -> Iterator[SqlAdapter]:
    _samples_erp(database.engine)
    mapping = tmp_path / "samples.yaml"
    mapping.write_text(SAMPLES_MAPPING, encoding="utf-8")
    adapter = SqlAdapter(database.url, mapping=mapping)
    yield adapter
    adapter.close()


def test_a_declared_points_document_is_loaded_by_id_with_its_lines(samples_adapter: SqlAdapter) -> None:
    loaded = samples_adapter.salesgate_load_document(point="sample_request", document_id="SR-1")
    assert loaded == {"id": "SR-1", "customer_id": "C-新", "value": Decimal("25000"), "urgent": True,
                      "lines": [{"sku": "阀门-1", "qty": 2}, {"sku": "电机-2", "qty": 150}]}
    assert samples_adapter.salesgate_load_document(point="sample_request", document_id="SR-404") is None
    assert samples_adapter.salesgate_load_document(point="bid", document_id="SR-1") is None


def test_gate_decides_a_declared_point_given_only_the_documents_id(samples_adapter: SqlAdapter) -> None:
    gate = Gate(load_policy(DECLARED_POLICY), backend="python", entry_points=False, plugins=[samples_adapter])
    decision = gate.decide("sample_request", {"sample": "SR-1"})
    assert (decision.outcome, decision.subject) == (Outcome.block, "SR-1")
    assert decision.outputs == {"deposit": Decimal("0.5"), "freight": "collect"}
    assert {r.rule for r in decision.reasons} >= {"huge-sample", "many"}
    facts = gate.facts_for("sample_request", {"sample": "SR-2"})
    assert facts.customer.id == "C-老"
    assert facts.customer.tenure_years is None  # NULL: the fact is missing
    assert gate.decide("sample_request", {"sample": "SR-2"}).outcome is Outcome.allow
    with pytest.raises(FactsError, match="no sample 'SR-404'"):
        gate.decide("sample_request", {"sample": "SR-404"})


def test_declared_facts_come_from_a_column_or_a_query_keyed_by_the_document(samples_adapter: SqlAdapter) -> None:
    customer = samples_adapter.salesgate_load_customer(customer_id="C-新")
    assert customer is not None
    assert customer.tenure_years == 1  # type: ignore[attr-defined]
    products = samples_adapter.salesgate_load_products(skus=["阀门-1", "电机-2"])
    assert products is not None
    assert [(p.sku, p.make_or_buy) for p in products] == [("阀门-1", "make"), ("电机-2", "buy")]  # type: ignore[attr-defined]
    gate = Gate(load_policy(DECLARED_POLICY), backend="python", entry_points=False, plugins=[samples_adapter])
    facts = gate.facts_for("order_approval", {"order": {
        "id": "SO-9", "customer_id": "C-新", "order_date": "2026-11-20",
        "lines": [{"line_no": 1, "sku": "阀门-1", "qty": 2, "unit_price": "120.50"}]}})
    assert facts.customer.tenure_years == 1
    assert facts.products[0].make_or_buy == "make"


def test_a_declared_fact_the_policy_does_not_declare_is_refused_naming_it(database: ScratchDatabase,
                                                                         tmp_path: Path) -> None:
    _samples_erp(database.engine)
    mapping = tmp_path / "samples.yaml"
    mapping.write_text(SAMPLES_MAPPING.replace("tenure_years: years_with_us", "tenure_yeras: years_with_us"),
                       encoding="utf-8")
    adapter = SqlAdapter(database.url, mapping=mapping)
    gate = Gate(load_policy(DECLARED_POLICY), backend="python", entry_points=False, plugins=[adapter])
    with pytest.raises(FactsError, match=r"customer.tenure_yeras") as info:
        gate.decide("sample_request", {"sample": "SR-1"})
    assert "tenure_years" in str(info.value)
    adapter.close()


def test_a_document_field_that_does_not_fit_its_declaration_is_the_callers_error(database: ScratchDatabase,
                                                                                 tmp_path: Path) -> None:
    _samples_erp(database.engine)
    mapping = tmp_path / "samples.yaml"
    mapping.write_text(SAMPLES_MAPPING.replace("s.rush AS urgent", "s.rush AS urgnet"), encoding="utf-8")
    adapter = SqlAdapter(database.url, mapping=mapping)
    gate = Gate(load_policy(DECLARED_POLICY), backend="python", entry_points=False, plugins=[adapter])
    with pytest.raises(FactsError, match=r"urgnet.*did you mean 'urgent'"):
        gate.decide("sample_request", {"sample": "SR-1"})
    adapter.close()
