"""salesgate's own tables: migrations, the decision log, approval requests, exact money and UTF-8.

Every test runs on SQLite, PostgreSQL and MariaDB (see conftest.py for how servers are found).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from conftest import Database
from salesgate import Decision, Gate, OrderFacts, Outcome, PolicyRef, hookimpl
from salesgate_adapters.store import Store, StoreError, StoreNotUpgraded, canonical_json, inputs_digest
from salesgate_adapters.store.tables import VERSION_TABLE, is_salesgate_name, metadata

ROOT = Path(__file__).resolve().parents[1]
SALESGATE_TABLES = {"salesgate_decisions", "salesgate_approval_requests", "salesgate_credit_reservations",
                     "salesgate_credit_locks", "salesgate_role_members", "salesgate_audit_log", "salesgate_audit_head",
                     "salesgate_subject_locks", VERSION_TABLE}
HAN = "华东机电有限公司 𠮷野家"  # 𠮷 is four bytes in UTF-8: MariaDB's three-byte "utf8" would refuse it


def order(order_id: str, customer_id: str, amount: str = "120000.00", **customer: Any) -> dict[str, Any]:
    return {
        "order": {"id": order_id, "customer_id": customer_id, "order_date": "2026-11-23",
                  "special_requirements": "加急，木箱包装",
                  "lines": [{"line_no": 1, "sku": "电机-7", "qty": 1, "unit_price": amount}]},
        "customer": {"id": customer_id, "name": HAN, "credit_limit": "500000", **customer},
        "products": [{"sku": "电机-7", "name": "三相异步电机", "list_price": amount, "cost": "1.00", "stock": 5}],
        "exposure": {"open_receivables": "1000.00"},
    }


@pytest.fixture
def store(database: Database) -> Iterator[Store]:
    store = Store(database.url, **database.store_options())
    yield store
    store.close()


@pytest.fixture
def gate(store: Store) -> Iterator[Gate]:
    with Gate.default(backend="python", entry_points=False, store=store) as gate:
        yield gate


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- migrations ---------------------------------------------------------------------------------------------------

def tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def test_upgrade_creates_the_tables_and_a_second_upgrade_changes_nothing(empty_database: Database) -> None:
    store = Store(empty_database.url, **empty_database.store_options())
    assert store.current() is None
    store.upgrade()
    assert store.current() == store.head() == "0004"
    assert tables(store) == SALESGATE_TABLES
    store.upgrade()
    assert store.current() == "0004"
    assert tables(store) == SALESGATE_TABLES
    store.close()


def test_downgrade_to_base_drops_only_salesgate_tables(empty_database: Database) -> None:
    store = Store(empty_database.url, **empty_database.store_options())
    with store.engine.begin() as conn:  # an ERP with its own Alembic history in the same database
        conn.execute(text("CREATE TABLE erp_orders (id VARCHAR(20) PRIMARY KEY, total NUMERIC(18, 2))"))
        conn.execute(text("INSERT INTO erp_orders VALUES ('SO-1', 99.50)"))
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('erp_2024_07')"))
    store.upgrade()
    assert tables(store) == SALESGATE_TABLES | {"erp_orders", "alembic_version"}
    store.downgrade("base")
    assert store.current() is None
    assert tables(store) - {VERSION_TABLE} == {"erp_orders", "alembic_version"}
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "erp_2024_07"
        assert conn.execute(text("SELECT total FROM erp_orders")).scalar_one() == Decimal("99.50")
    store.close()


def test_the_migration_builds_exactly_the_tables_the_code_describes(database: Database) -> None:
    engine = database.engine()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "version_table": VERSION_TABLE,
            "include_name": lambda name, kind, _: kind != "table" or is_salesgate_name(name)})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_store_needs_no_connection_until_used() -> None:
    store = Store("postgresql+psycopg://salesgate:s3cret@127.0.0.1:1/erp", timeout=1)
    assert "s3cret" not in repr(store)
    with pytest.raises(StoreError) as info:
        store.decisions()
    assert "s3cret" not in str(info.value)
    assert "reading the decision log failed" in str(info.value)


def test_store_from_env_needs_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SALESGATE_DATABASE_URL", raising=False)
    with pytest.raises(StoreError, match="set SALESGATE_DATABASE_URL"):
        Store.from_env()
    monkeypatch.setenv("SALESGATE_DATABASE_URL", f"sqlite:///{tmp_path / 'sg.db'}")
    assert Store.from_env().url.endswith("sg.db")


def test_an_invalid_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="invalid database URL"):
        Store("not a url at all")


def test_tables_a_newer_salesgate_migrated_are_never_migrated_by_this_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sg.db'}"
    store = Store(url)
    try:
        store.upgrade()
        with store.engine.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099'"))  # noqa: S608 - our own name
        assert not store.knows("0099")
        for migrate in (store.upgrade, lambda: store.downgrade("base")):
            refused = rf"revision '0099', which this salesgate \({Store.head()} and older\) does not know: a newer"
            with pytest.raises(StoreError, match=refused + " salesgate migrated them"):
                migrate()
        assert store.current() == "0099"  # nothing was touched
    finally:
        store.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("core", "plugins", "adapters"))}
    current = salesgate("db", "current", "--url", url, env=env)  # this checkout's salesgate, not an installed one
    assert current.returncode == 0
    assert "0099 in " in current.stdout
    assert "newer than this salesgate knows" in current.stdout
    upgrade = salesgate("db", "upgrade", "--url", url, env=env)
    assert upgrade.returncode == 2
    assert upgrade.stderr.startswith("error: upgrading salesgate tables to head in ")
    assert "Traceback" not in upgrade.stderr
    downgrade = salesgate("db", "downgrade", "base", "--yes", "--url", url, env=env)
    assert downgrade.returncode == 2
    assert downgrade.stderr.startswith("error: downgrading salesgate tables to base in ")
    assert "a newer salesgate migrated them" in downgrade.stderr


def test_a_store_used_as_a_context_manager_closes_its_connections(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'sg.db'}") as store:
        store.upgrade()
        assert store.engine.pool.checkedin() == 1
    assert store.engine.pool.checkedin() == 0  # disposed: a fresh, empty pool


@pytest.mark.parametrize(("url", "driver"), [("mariadb://erp@db.example.com/erp", "mariadb+pymysql"),
                                             ("mysql://erp@db.example.com/erp", "mysql+pymysql"),
                                             ("postgresql://erp@db.example.com/erp", "postgresql+psycopg")])
def test_the_url_the_sql_adapter_takes_opens_the_store_with_the_same_driver(url: str, driver: str) -> None:
    store = Store(url)  # no connection is made yet
    try:
        assert store.engine.url.drivername == driver
    finally:
        store.close()


def salesgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "salesgate", *args], capture_output=True, text=True, check=False,
                          cwd=ROOT, env=env, timeout=120)


def test_cli_db_upgrade_and_current(tmp_path: Path) -> None:
    import os

    url = f"sqlite:///{tmp_path / 'erp.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("core", "plugins", "adapters")),
           "SALESGATE_DATABASE_URL": url}
    before = salesgate("db", "current", env=env)
    assert before.returncode == 0
    assert "no salesgate tables" in before.stdout
    first = salesgate("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert "upgraded from nothing to revision 0004 (head)" in first.stdout
    again = salesgate("db", "upgrade", "--url", url, env=env)
    assert "already at revision 0004 (head)" in again.stdout
    assert salesgate("db", "current", env=env).stdout.startswith("0004 (head)")
    missing = salesgate("db", "upgrade", env={k: v for k, v in env.items() if k != "SALESGATE_DATABASE_URL"})
    assert missing.returncode == 2
    assert missing.stderr.strip() == "error: no database: pass --url URL or set SALESGATE_DATABASE_URL"
    down = salesgate("db", "upgrade", "--url", "postgresql+psycopg://u:pw@127.0.0.1:1/x", env=env)
    assert down.returncode == 2
    assert down.stderr.startswith("error: reading the salesgate schema revision failed")
    assert "Traceback" not in down.stderr
    assert ":pw@" not in down.stderr


def test_cli_db_downgrade_needs_yes_and_goes_back_a_revision_or_to_base(tmp_path: Path) -> None:
    import os

    url = f"sqlite:///{tmp_path / 'erp.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("core", "plugins", "adapters")),
           "SALESGATE_DATABASE_URL": url}
    assert salesgate("db", "upgrade", env=env).returncode == 0
    unconfirmed = salesgate("db", "downgrade", "0002", env=env)
    assert unconfirmed.returncode == 2
    assert unconfirmed.stderr.startswith("error: downgrading to 0002 drops what later revisions added")
    assert unconfirmed.stderr.strip().endswith("rerun with --yes")
    assert salesgate("db", "current", env=env).stdout.startswith("0004 (head)")  # nothing was touched
    back = salesgate("db", "downgrade", "0002", "--yes", env=env)
    assert back.returncode == 0, back.stderr
    assert back.stdout.startswith("salesgate tables downgraded from 0004 to 0002 in sqlite:///")
    assert salesgate("db", "current", env=env).stdout.startswith("0002 in ")
    with Store(url) as store:
        assert "salesgate_subject_locks" not in tables(store)
        assert "salesgate_audit_log" in tables(store)
    unknown = salesgate("db", "downgrade", "0042", "--yes", env=env)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: downgrading salesgate tables to 0042 in sqlite:///")
    assert len(unknown.stderr.strip().splitlines()) == 1
    gone = salesgate("db", "downgrade", "base", "--yes", env=env)
    assert gone.returncode == 0, gone.stderr
    assert "downgraded from 0002 to base (no tables)" in gone.stdout
    assert "no salesgate tables" in salesgate("db", "current", env=env).stdout


# -- the decision log ---------------------------------------------------------------------------------------------

def test_every_decision_is_logged_with_policy_digest_and_trace(gate: Gate, store: Store) -> None:
    order_id, customer_id = unique("订单"), unique("客户")
    facts = order(order_id, customer_id)
    made = [gate.approve_order(facts), gate.check_credit(facts), gate.price_order(facts)]
    logged = store.decisions(order_id)
    # the whole decision, trace included, reads back as it was written (trace values in their JSON form)
    assert [r.decision.model_dump(mode="json") for r in logged] == [d.model_dump(mode="json") for d in made]
    model = gate.facts_for("order_approval", facts)
    expected_digest = hashlib.sha256(canonical_json(model).encode()).hexdigest()
    for record in logged:
        assert record.inputs_digest == expected_digest
        assert record.decided_at.tzinfo is UTC
        assert abs(datetime.now(UTC) - record.decided_at) < timedelta(minutes=5)
        assert record.decision.policy.hash == gate.policy.hash
        assert record.decision.trace
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT hook, subject, outcome, policy_name, policy_version, policy_hash, backend, "
                                "failure FROM salesgate_decisions WHERE subject = :s AND hook = 'order_approval'"),
                           {"s": order_id}).one()
    assert tuple(row) == ("order_approval", order_id, "require_approval", gate.policy.name, gate.policy.version,
                          gate.policy.hash, "python", None)


def test_chinese_text_round_trips(store: Store, gate: Gate) -> None:
    order_id = unique(f"订单-{HAN}")
    decision = gate.approve_order(order(order_id, unique("客户")))
    assert any("订单金额" in r.message for r in decision.reasons)
    [record] = store.decisions(order_id)
    assert record.subject == order_id
    assert record.decision.reasons == decision.reasons
    reserved = store.reserve(unique(f"客户-{HAN}"), unique("订单-𠮷"), Decimal("1.00"), lambda _: decision)
    assert reserved.reservation is not None
    again = store.reservation(reserved.reservation.order_id)
    assert again == reserved.reservation


def test_fallback_decisions_are_logged_without_a_digest(store: Store) -> None:
    class ErpDown:
        @hookimpl
        def salesgate_load_customer(self, customer_id: str) -> None:
            raise ConnectionError("ERP database down")

    order_id = unique("SO")
    facts = order(order_id, unique("C"))
    del facts["customer"]
    with Gate.default(backend="python", entry_points=False, store=store, plugins=[ErpDown()]) as gate:
        decision = gate.approve_order(facts)
    assert decision.outcome is Outcome.block
    [record] = store.decisions(order_id)
    assert record.decision == decision
    assert record.inputs_digest is None
    assert record.decision.failure is not None
    assert "ERP database down" in record.decision.failure


# -- approval requests --------------------------------------------------------------------------------------------

def test_one_approval_request_per_required_role_in_ladder_order(gate: Gate, store: Store) -> None:
    order_id = unique("SO")
    decision = gate.approve_order(order(order_id, unique("C"), credit_rating="poor"))
    assert decision.required_roles == ["sales_manager", "finance", "general_manager"]
    requests = store.approval_requests(order_id)
    assert [(r.role, r.position, r.status, r.hook) for r in requests] == [
        ("sales_manager", 1, "pending", "order_approval"),
        ("finance", 2, "pending", "order_approval"),
        ("general_manager", 3, "pending", "order_approval"),
    ]
    [record] = store.decisions(order_id)
    assert {r.decision_id for r in requests} == {record.id}
    assert store.approval_requests(order_id, status="approved") == []


def test_deciding_a_subject_again_voids_its_pending_requests(gate: Gate, store: Store) -> None:
    order_id, customer_id = unique("SO"), unique("C")
    gate.approve_order(order(order_id, customer_id))                    # 120,000: two approvers
    gate.approve_order(order(order_id, customer_id, amount="30000.00"))  # amended to 30,000: one
    assert [r.role for r in store.approval_requests(order_id, status="void")] == ["sales_manager",
                                                                                  "general_manager"]
    assert [r.role for r in store.approval_requests(order_id, status="pending")] == ["sales_manager"]


def test_approval_requests_of_other_hooks_are_left_alone(gate: Gate, store: Store) -> None:
    order_id, customer_id = unique("SO"), unique("C")
    gate.approve_order(order(order_id, customer_id))
    # the same order (same approval digest), a customer now over the limit with a repayment plan
    gate.check_credit(order(order_id, customer_id, credit_limit="100000", has_repayment_plan=True))
    pending = store.approval_requests(order_id, status="pending")
    assert sorted((r.hook, r.role) for r in pending) == [
        ("credit_check", "finance"), ("order_approval", "general_manager"), ("order_approval", "sales_manager")]


# -- exact values -------------------------------------------------------------------------------------------------

def test_money_is_exact_to_four_places(store: Store, gate: Gate) -> None:
    decision = gate.check_credit(order(unique("SO"), unique("C")))
    for amount in ["99999999999999.9999", "0.0001", "0", "1234.5"]:
        result = store.reserve(unique("C"), unique("SO"), Decimal(amount), lambda _: decision)
        assert result.reservation is not None
        held = store.reservation(result.reservation.order_id)
        assert held is not None
        assert held.amount == Decimal(amount)
        assert isinstance(held.amount, Decimal)
    with pytest.raises(ValueError, match="Decimal"):
        store.reserve("C", "SO", 12.5, lambda _: decision)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="more than 4 decimal places"):
        store.reserve(unique("C"), unique("SO"), Decimal("0.00001"), lambda _: decision)


def test_times_are_stored_in_utc_whatever_zone_they_come_in(store: Store, gate: Gate) -> None:
    shanghai = timezone(timedelta(hours=8))
    when = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=shanghai)
    decision = gate.check_credit(order(unique("SO"), unique("C")))
    order_id = unique("SO")
    store.reserve(unique("C"), order_id, Decimal(1), lambda _: decision, now=when)
    held = store.reservation(order_id)
    assert held is not None
    assert held.created_at == when
    assert held.created_at.tzinfo is UTC
    assert held.created_at.hour == 1
    with pytest.raises(StoreError, match="naive datetime"):
        store.reserve(unique("C"), unique("SO"), Decimal(1), lambda _: decision, now=datetime(2026, 1, 1))


def test_the_inputs_digest_ignores_how_equal_values_are_written() -> None:
    a = {"amount": Decimal("1000.00"), "rate": Decimal("0.10"), "names": ["甲", "乙"]}
    b = {"names": ["甲", "乙"], "rate": Decimal("0.1"), "amount": Decimal("1E+3")}
    assert canonical_json(a) == canonical_json(b) == '{"amount":"1000","names":["甲","乙"],"rate":"0.1"}'
    assert inputs_digest(a) == inputs_digest(b)
    assert inputs_digest({**a, "amount": Decimal("1000.01")}) != inputs_digest(a)
    assert inputs_digest(None) is None
    assert json.loads(canonical_json(OrderFacts.model_validate(order("SO-1", "C-1"))))["customer"]["name"] == HAN


class Recorder:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    @hookimpl
    def salesgate_record_decision(self, decision: Decision) -> None:
        self.decisions.append(decision)


def test_other_recorders_still_see_every_decision(store: Store) -> None:
    recorder = Recorder()
    with Gate.default(backend="python", entry_points=False, store=store, plugins=[recorder]) as gate:
        made = gate.check_credit(order(unique("SO"), unique("C")), reserve=True)
    assert recorder.decisions == [made]


# -- a store whose tables were never created ----------------------------------------------------------------------

def cli_url(database: Database) -> str:
    """The URL the ``salesgate`` command needs to land in the test's namespace (a schema on PostgreSQL)."""
    url = database.url
    if "options" in database.connect_args:
        url = url.update_query_dict({"options": database.connect_args["options"]})
    return url.render_as_string(hide_password=False)


def test_a_gate_whose_store_was_never_upgraded_says_run_db_upgrade(empty_database: Database,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    store = Store(empty_database.url, **empty_database.store_options())
    try:
        with Gate.default(backend="python", entry_points=False, store=store) as gate:
            decided = gate.approve_order(order(unique("SO"), unique("C")))
            reserved = gate.check_credit(order(unique("SO"), unique("C")), reserve=True)
        with pytest.raises(StoreNotUpgraded, match=r"run `salesgate db upgrade`$"):
            store.approval_requests()
    finally:
        store.close()
    for answer in (decided, reserved):  # the failure mode (closed): a decision the log did not take is not returned
        assert answer.outcome is Outcome.block
        assert answer.failure is not None
        assert answer.failure.endswith("run `salesgate db upgrade`")
    failures = [r for r in caplog.records if "run `salesgate db upgrade`" in r.getMessage()]
    assert failures
    for record in failures:
        assert not record.exc_info  # one explained line, no traceback...
        assert not record.exc_text  # ...not even one rendered already (salesgate's loggers render and mask it)


@pytest.mark.parametrize("command", [("approvals", "list"), ("approvals", "status", "SO-1"),
                                     ("approvals", "approve", "SO-1", "--as", "li.na"),
                                     ("approvals", "grant", "li.na", "finance"), ("approvals", "members"),
                                     ("approvals", "sweep"), ("audit", "verify"), ("audit", "show", "SO-1")])
def test_store_commands_on_a_database_never_upgraded_say_run_db_upgrade(empty_database: Database,
                                                                        command: tuple[str, ...]) -> None:
    from click.testing import CliRunner

    from salesgate.cli import cli

    result = CliRunner().invoke(cli, [*command, "--url", cli_url(empty_database)])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert line.endswith("run `salesgate db upgrade`")
    assert "Traceback" not in result.output


def test_the_schema_option_keeps_salesgate_tables_out_of_the_erps_namespace(empty_database: Database) -> None:
    """PostgreSQL tables landed in ``public``: ``Store(url, schema=...)`` (CLI ``--schema``,
    ``SALESGATE_DATABASE_SCHEMA``) puts them in a schema (a database on MariaDB, a file of its own on SQLite)."""
    import os

    schema = f"sg_schema_{uuid.uuid4().hex[:8]}"
    backend, url = empty_database.backend, empty_database.url
    plain = url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("core", "plugins", "adapters")),
           "SALESGATE_DATABASE_URL": plain}
    try:
        upgraded = salesgate("db", "upgrade", "--schema", schema, env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        assert f"upgraded from nothing to revision {Store.head()} (head)" in upgraded.stdout
        assert f"(schema {schema})" in upgraded.stdout
        current = salesgate("db", "current", env={**env, "SALESGATE_DATABASE_SCHEMA": schema})
        assert current.stdout.startswith(f"{Store.head()} (head)"), current.stdout + current.stderr
        assert current.stdout.rstrip().endswith(f"(schema {schema})")  # the same URL without it: other tables
        with Store(url, schema=schema, **empty_database.store_options()) as store:
            store.upgrade()  # a no-op: the schema and its tables are there
            store.record(Decision(hook="credit_check", subject="SO-S1", outcome=Outcome.allow, backend="test",
                                  policy=PolicyRef(name="t", version="1", hash="h" * 16)), order("SO-S1", "C-S1"))
            assert [d.decision.subject for d in store.decisions()] == ["SO-S1"]
            assert store.verify_audit().ok
        for command in (("audit", "verify"), ("approvals", "list", "--status", "all")):  # every store command
            found = salesgate(*command, "--schema", schema, env=env)
            assert found.returncode == 0, found.stderr
        assert "audit log intact: 1 entries" in salesgate("audit", "verify", "--schema", schema, env=env).stdout
        erp = empty_database.engine()
        with erp.connect() as conn:  # the ERP's namespace holds no salesgate table
            assert not [t for t in inspect(conn).get_table_names() if is_salesgate_name(t)]
        erp.dispose()
        in_schema = Store(url, schema=schema, **empty_database.store_options())
        with in_schema.engine.connect() as conn:
            assert "salesgate_decisions" in inspect(conn).get_table_names()
        in_schema.close()
        with pytest.raises(StoreError, match="invalid schema 'no;drop'"):
            Store(url, schema="no;drop")
        back = salesgate("db", "downgrade", "base", "--yes", env={**env, "SALESGATE_DATABASE_SCHEMA": schema})
        assert back.returncode == 0, back.stderr
        assert f"downgraded from {Store.head()} to base (no tables) in " in back.stdout
        assert back.stdout.rstrip().endswith(f"(schema {schema})")
    finally:
        if backend != "sqlite":
            admin = empty_database.engine(isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                drop = f"DROP SCHEMA IF EXISTS {schema} CASCADE" if backend == "postgresql" else \
                    f"DROP DATABASE IF EXISTS {schema}"
                conn.execute(text(drop))
            admin.dispose()


def test_schemas_named_in_mixed_case_hold_their_tables_apart_in_one_database(empty_database: Database) -> None:
    """A PostgreSQL schema named ``Sg_Upper`` was created as named but looked up case-folded (``search_path``
    unquoted), so ``upgrade()`` failed: 'no schema has been selected to create in'."""
    tag = uuid.uuid4().hex[:8]
    upper, lower = f"Sg_Upper_{tag}", f"sg_lower_{tag}"
    backend, url = empty_database.backend, empty_database.url
    try:
        with Store(url, schema=upper, **empty_database.store_options()) as first, \
                Store(url, schema=lower, **empty_database.store_options()) as second:
            first.upgrade()
            second.upgrade()
            assert (first.current(), second.current()) == (Store.head(), Store.head())
            first.record(Decision(hook="credit_check", subject="SO-U1", outcome=Outcome.allow, backend="test",
                                  policy=PolicyRef(name="t", version="1", hash="h" * 16)), order("SO-U1", "C-U1"))
            assert [d.decision.subject for d in first.decisions()] == ["SO-U1"]
            assert second.decisions() == []
            second.downgrade("base")
            assert second.current() is None
            assert first.current() == Store.head()  # the other schema's tables are untouched
            assert first.verify_audit().ok
    finally:
        if backend != "sqlite":
            admin = empty_database.engine(isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for schema in (upper, lower):
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE' if backend == "postgresql"
                                      else f"DROP DATABASE IF EXISTS `{schema}`"))
            admin.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_db_current_with_a_schema_on_a_database_that_is_down_says_so_in_one_line(backend: str) -> None:
    """``Store(url, schema=...).current()`` asked the server whether the schema exists after failing to
    reach it, without catching that failure: ``salesgate db current --schema`` died with a traceback."""
    from click.testing import CliRunner

    from salesgate.cli import cli

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = {"postgresql": f"postgresql+psycopg://salesgate:pw@127.0.0.1:{port}/erp",
           "mariadb": f"mysql+pymysql://salesgate:pw@127.0.0.1:{port}/erp"}[backend]
    with Store(url, schema="salesgate", timeout=2) as store, pytest.raises(StoreError, match="revision failed"):
        store.current()
    result = CliRunner().invoke(cli, ["db", "current", "--url", url, "--schema", "salesgate"])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: reading the salesgate schema revision failed")
