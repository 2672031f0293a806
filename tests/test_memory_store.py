"""tests/test_store.py on the in-memory store: the same tests, a MemoryStore as ``store``.

The decision log, the requests a decision opens, exact money and UTC times behave alike on both
stores (tests/fixtures/stores.py). SQL only: the tests listed below, those that need a database, and
those on the SQL ``Store`` class itself (URLs, environment, migrations, the ``db`` commands).
"""

from __future__ import annotations

import pytest

import test_store
from fixtures.stores import memory_twins
from salesgate_adapters.store import MemoryStore
from test_store import gate  # noqa: F401 - the fixture, on this module's store

SQL_ONLY: dict[str, str] = {
    "test_every_decision_is_logged_with_policy_digest_and_trace": "reads the columns of salesgate_decisions with SQL",
}

globals().update(memory_twins(test_store, SQL_ONLY))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
