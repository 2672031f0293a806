"""tests/test_reservations.py on the in-memory store: the same tests, a MemoryStore as ``store``.

What holds credit, retries, confirm/cancel/expiry and the gate's reservations behave alike on both
stores (tests/fixtures/stores.py). SQL only: the tests listed below, and those that need a database.
"""

from __future__ import annotations

import pytest

import test_reservations
from fixtures.stores import memory_twins
from salesgate_adapters.store import MemoryStore

SQL_ONLY: dict[str, str] = {}

globals().update(memory_twins(test_reservations, SQL_ONLY))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
