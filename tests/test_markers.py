"""The markers behind the quick loop: ``pytest -m "not db and not tryton and not slow"`` (DEVELOPERS.md).

tests/conftest.py marks tests by what they use, so a new test needs no decorator to be left out of
the quick loop when it needs a database or Tryton; slow ones are listed there by name.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import SLOW_TESTS

ROOT = Path(__file__).resolve().parents[1]
QUICK = "not db and not tryton and not slow"


def collected(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=300,
        env={**os.environ, "CI": ""},  # collection only: no server is contacted either way
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_the_quick_loop_leaves_out_database_tryton_and_slow_tests() -> None:
    files = ("tests/test_store.py", "tests/test_tryton.py", "tests/test_approvals.py", "tests/test_sql_adapter.py")
    everything = collected(*files)
    quick = collected("-m", QUICK, *files)
    assert quick
    assert quick < everything
    left_out = everything - quick
    # the database fixtures, on every backend (conftest's database/empty_database, a module's own database)
    assert "tests/test_store.py::test_downgrade_to_base_drops_only_salesgate_tables[sqlite]" in left_out
    assert "tests/test_store.py::test_fallback_decisions_are_logged_without_a_digest[sqlite]" in left_out  # via store
    assert "tests/test_sql_adapter.py::test_sessions_of_the_adapters_own_engine_are_read_only[sqlite]" in left_out
    # parametrized over servers without a fixture, or marked by hand
    status_read = "tests/test_approvals.py::test_an_approval_committed_during_a_status_read"
    assert any(t.startswith(status_read) for t in left_out)
    assert "tests/test_sql_adapter.py::test_someone_elses_mysql_engine_gets_its_sql_mode_back" in left_out
    assert not any(t.startswith("tests/test_tryton.py::") for t in quick)
    assert "tests/test_store.py::test_cli_db_upgrade_and_current" in left_out  # slow: subprocesses
    # what needs none of that stays in
    assert "tests/test_store.py::test_an_invalid_url_is_a_store_error" in quick
    assert "tests/test_sql_adapter.py::test_unknown_database_type_is_named_with_the_password_hidden" in quick


def test_every_slow_entry_still_names_a_test() -> None:
    for entry in sorted(SLOW_TESTS):
        path, _, name = entry.partition("::")
        source = (ROOT / path).read_text(encoding="utf-8")
        assert not name or re.search(rf"^def {re.escape(name)}\(", source, re.M), f"{entry}: no such test"
