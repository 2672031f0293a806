"""Real databases for the tests that need them: SQLite always, PostgreSQL and MariaDB when reachable.

Servers come from ``SALESGATE_TEST_POSTGRES_URL`` and ``SALESGATE_TEST_MYSQL_URL`` (defaults below;
DEVELOPERS.md). Each use gets a namespace of its own — a PostgreSQL schema, a MariaDB database —
dropped afterwards, so concurrent test runs and an ERP's tables never meet. An unreachable server
skips its tests with the reason, except under ``CI=true``, where it fails them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL, Engine

POSTGRES_ENV = "SALESGATE_TEST_POSTGRES_URL"
MYSQL_ENV = "SALESGATE_TEST_MYSQL_URL"
DEFAULT_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4",
}
BACKENDS = ["sqlite", "postgresql", "mariadb"]
DATABASE_FIXTURES = frozenset({"database", "empty_database"})
"""Fixtures that give a test a database on each backend: this conftest's, and the modules' own
``database`` over ``fixtures.databases``. A test using one is marked ``db``."""
SERVERS = frozenset({"postgresql", "mariadb"})
SLOW_TESTS = frozenset({
    # decision tables: a copy of the seed policy loaded several times over, exported and imported
    "tests/test_decision_tables.py::test_a_seed_table_round_trips_through_excel_keeping_row_ids",
    "tests/test_decision_tables.py::test_an_import_with_a_bad_cell_names_the_workbook_cell_and_writes_nothing",
    # a subprocess: a fresh interpreter, another pytest, mypy, a wheel build
    "tests/test_adapter_contract.py::test_contract_fails_an_adapter_that_reads_money_through_float",
    "tests/test_adapter_contract.py::test_contract_names_what_a_broken_adapter_gets_wrong",
    "tests/test_adapter_contract.py::test_contract_without_an_adapter_fixture_says_what_to_add",
    "tests/test_cli.py::test_python_m_salesgate_prints_utf8_chinese_into_a_pipe_whatever_the_locale",
    "tests/test_code_quality.py::test_mypy_strict_finds_nothing",
    "tests/test_csv_adapter_package.py",
    "tests/test_entry_points.py::test_an_installed_package_adds_a_command_to_salesgate",
    "tests/test_entry_points.py::test_example_plugin_own_tests_pass",
    "tests/test_entry_points.py::test_installed_plugin_is_discovered_and_takes_part_in_decisions",
    "tests/test_erp_end_to_end.py::test_readme_erp_section_runs_as_written",
    # the quotation package built and installed (module fixture), then fresh interpreters and pytest
    "tests/test_examples_declared_points.py::test_the_examples_cases_pass_and_fire_every_rule",
    "tests/test_examples_declared_points.py::test_the_installed_plugin_declares_the_point_its_entry_point_names",
    "tests/test_examples_declared_points.py::test_disabling_the_plugin_takes_its_point_with_it",
    "tests/test_examples_declared_points.py::test_salesgate_validate_knows_the_points_installed_plugins_declare",
    "tests/test_examples_declared_points.py::test_the_quotation_packages_own_tests_pass",
    "tests/test_examples_declared_points.py::test_every_python_example_runs_and_gives_what_its_comments_say",
    "tests/test_examples_declared_points.py::test_every_command_the_guide_shows_prints_what_it_shows",
    "tests/test_markers.py::test_the_quick_loop_leaves_out_database_tryton_and_slow_tests",
    "tests/test_pytest_plugin.py::test_the_seed_policy_passes_through_the_plugin_on_both_backends",
    "tests/test_store.py::test_cli_db_downgrade_needs_yes_and_goes_back_a_revision_or_to_base",
    "tests/test_store.py::test_cli_db_upgrade_and_current",
    "tests/test_store.py::test_tables_a_newer_salesgate_migrated_are_never_migrated_by_this_one",
    # many decisions, threads or sleeps
    "tests/test_differential.py::test_durable_matches_exactly_what_the_python_evaluator_matches",
    "tests/test_compiled_backend.py::test_compiled_matches_exactly_what_the_python_evaluator_matches",
    "tests/test_compiled_backend.py::test_the_rule_index_matches_what_testing_every_rule_matches",
    "tests/test_compiled_backend.py::test_seed_policy_decides_orders_identically_on_compiled_and_python",
    "tests/test_codegen_safety.py::test_hostile_rule_text_is_only_ever_data",
    "tests/test_compiled_probes.py::test_decisions_in_threads_during_reloads_match_the_python_backend_of_their_policy",
    "tests/test_failure_modes.py::test_a_slow_adapter_is_answered_at_the_deadline_without_a_store_too",
    "tests/test_reload.py::test_decisions_during_reloads_are_each_wholly_old_or_wholly_new",
    # measured 2026-12-06 at 1.5 s or more (the quick loop had grown to 4.5 minutes): property tests over
    # thousands of orders, simulate runs, CLI examples, entry-point packages
    "tests/test_cli.py::test_demo_json_is_stable_and_matches_the_golden_file",
    "tests/test_cli.py::test_docs_cli_examples_print_what_the_docs_show",
    "tests/test_compiled_models.py::test_random_conditions_match_on_the_models_as_on_the_flattened_facts",
    "tests/test_compiled_models.py::test_the_seed_policy_matches_shipped_orders_on_the_models_as_on_the_flattened_facts",
    "tests/test_compiled_probes.py::test_hostile_texts_and_huge_in_lists_decide_alike",
    "tests/test_entry_points.py::test_a_broken_command_package_is_a_warning_and_every_other_command_still_runs",
    "tests/test_entry_points.py::test_a_command_package_raising_in_the_hook_leaves_out_only_its_commands",
    "tests/test_entry_points.py::test_a_decision_plugin_the_gate_refuses_does_not_touch_the_commands",
    "tests/test_gate.py::test_amounts_and_rates_read_quickly_are_what_pydantic_reads",
    "tests/test_gate.py::test_an_order_with_more_lines_than_the_limit_is_refused",
    "tests/test_gate.py::test_both_backends_decide_every_order_the_boundary_accepts_alike",
    "tests/test_policy_errors.py::test_a_merge_key_in_thousands_of_rules_stays_within_the_alias_limit",
    "tests/test_policy_owner_workflow.py::test_a_policy_owner_changes_a_threshold_simulates_tests_and_deploys_it",
    "tests/test_policy_owner_workflow.py::test_simulate_and_export_refuse_what_they_cannot_do_before_doing_any_work",
    "tests/test_policy_owner_workflow.py::test_simulate_reads_the_history_straight_from_the_erp_as_export_would",
    "tests/test_simulate.py::test_a_line_that_is_not_utf8_is_counted_invalid_and_the_rest_replayed",
    "tests/test_simulate.py::test_a_replayer_that_replayed_many_orders_decides_each_as_a_fresh_replayer_and_the_gate",
    "tests/test_simulate.py::test_cli_simulate_prints_tables_writes_html_and_json",
    "tests/test_simulate.py::test_cli_simulate_refuses_bad_input_with_one_line",
    "tests/test_simulate.py::test_history_facts_are_the_same_however_the_file_is_split_between_workers",
    "tests/test_simulate.py::test_history_read_quickly_is_checked_line_by_line_and_read_again_when_a_line_was_misread",
    "tests/test_simulate.py::test_the_report_does_not_depend_on_how_many_workers_replayed_it",
})
"""Test files, or node ids without parameters, measured at 1.5 s or more on the shared 2-core VM
(``--durations``), outside ``db`` and ``tryton``: marked ``slow``, so that
``pytest -m "not db and not tryton and not slow"`` stays quick (DEVELOPERS.md says how quick).
tests/test_markers.py checks that every entry still names a test."""


@dataclass(frozen=True)
class Database:
    """Where a test may create tables: a URL plus the connect arguments that select its namespace."""

    backend: str
    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)

    def engine(self, **options: Any) -> Engine:
        return create_engine(self.url, connect_args=self.connect_args, **options)

    def store_options(self) -> dict[str, Any]:
        """What ``Store(db.url, **db.store_options())`` needs to land in this namespace."""
        return {"connect_args": dict(self.connect_args)}


def server_url(backend: str) -> URL:
    env = POSTGRES_ENV if backend == "postgresql" else MYSQL_ENV
    return make_url(os.environ.get(env) or DEFAULT_URLS[backend])


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true runs every database test (see DEVELOPERS.md)")
    pytest.skip(reason)


@contextmanager
def namespace(backend: str, tmp: Path) -> Iterator[Database]:
    """A fresh, empty place for tables on ``backend``, removed on exit."""
    if backend == "sqlite":
        yield Database("sqlite", make_url(f"sqlite:///{tmp / f'sg_{uuid.uuid4().hex[:8]}.db'}"))
        return
    url = server_url(backend)
    name = f"sg_test_{uuid.uuid4().hex[:12]}"
    timeout = {"connect_timeout": 3}
    try:
        admin = create_engine(url, connect_args=timeout, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f"CREATE SCHEMA {name}"))
            else:
                conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    except Exception as exc:  # driver missing, server down, no rights: all mean "cannot test here"
        shown = url.render_as_string(hide_password=True)
        unavailable(f"{backend} at {shown} is not available ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    try:
        if backend == "postgresql":
            yield Database(backend, url, {"options": f"-c search_path={name}"})
        else:
            yield Database(backend, url.set(database=name))
    finally:
        drop = f"DROP SCHEMA {name} CASCADE" if backend == "postgresql" else f"DROP DATABASE {name}"
        for attempt in range(3):  # a straggling transaction of the last test may still hold a lock
            try:
                with admin.connect() as conn:
                    conn.execute(text(drop))
                break
            except Exception:
                if attempt == 2:
                    raise
                time.sleep(1)
        admin.dispose()



@contextmanager
def row_locked(database: Database, table: str, key_column: str, key: str) -> Iterator[None]:
    """Another transaction holds the row ``table.key_column = key`` locked (SQLite: the database's write
    lock) and sits on it until the block ends: what a slow or stuck peer looks like to the store."""
    engine = database.engine()
    with engine.connect() as conn:
        if database.backend == "sqlite":
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            # table and column are the test's own constants, never input
            conn.execute(text(f"SELECT {key_column} FROM {table} WHERE {key_column} = :key FOR UPDATE"),  # noqa: S608
                         {"key": key})
        try:
            yield
        finally:
            conn.exec_driver_sql("ROLLBACK") if database.backend == "sqlite" else conn.rollback()
    engine.dispose()

@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty namespace on each backend, for one test."""
    with namespace(request.param, tmp_path) as database:
        yield database


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A namespace per backend holding salesgate's tables, shared by the session: use unique ids."""
    from salesgate_adapters.store import Store

    with namespace(request.param, tmp_path_factory.mktemp(request.param)) as database:
        store = Store(database.url, **database.store_options())
        store.upgrade()
        store.close()
        yield database


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests centrally, so a new test is marked by what it uses, not by remembering to.

    ``db``: uses a database fixture (every backend, SQLite included), or is parametrized over a
    database server; ``tryton``: tests/test_tryton.py (a Tryton server in a subprocess); ``slow``:
    listed in :data:`SLOW_TESTS`.
    """
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if fixtures & DATABASE_FIXTURES or SERVERS & {v for v in params.values() if isinstance(v, str)}:
            item.add_marker(pytest.mark.db)
        if item.path.name == "test_tryton.py":
            item.add_marker(pytest.mark.tryton)
        test = item.nodeid.split("[", 1)[0]
        if test in SLOW_TESTS or test.split("::", 1)[0] in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
