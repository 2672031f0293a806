"""The total deadline of a database call (salesgate_adapters.deadlines): kept without a thread per call.

What a trickling server does to a call is tested in tests/test_failure_modes.py; here, what the
deadline itself costs and that it still ends a call on time.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine

from conftest import Database
from salesgate_adapters.deadlines import CallDeadlines, Overrun
from salesgate_adapters.store import Store


@pytest.fixture
def thread_starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads started while the test runs."""
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    return started


def test_store_calls_keep_their_deadlines_without_a_thread_each(database: Database,
                                                                thread_starts: list[str]) -> None:
    """A timer thread per call cost 0.2 ms of a 0.25 ms SQLite read; one watchdog now keeps them all."""
    with Store(database.url, timeout=5, **database.store_options()) as store:
        store.upgrade()
        thread_starts.clear()
        for _ in range(30):
            assert store.decisions("SO-none", limit=1) == []
    assert thread_starts.count("salesgate: call deadline") <= 1, thread_starts


def test_a_call_past_its_deadline_is_overrun_on_time_while_the_watchdog_naps() -> None:
    """The watchdog, idle, naps a quarter of a second: a shorter budget started meanwhile wakes it."""
    engine = create_engine("sqlite://")
    deadlines = CallDeadlines(engine, 0.05, own_pool=True)
    assert deadlines.run(lambda: "quick") == "quick"  # the watchdog runs, with nothing left to watch
    time.sleep(0.02)
    noticed: list[float] = []

    def slow() -> None:
        started = time.monotonic()
        budget = deadlines.current()
        assert budget is not None
        while not budget.expired and time.monotonic() - started < 2:
            time.sleep(0.005)
        noticed.append(time.monotonic() - started)

    with pytest.raises(Overrun):
        deadlines.run(slow)
    assert noticed[0] < 0.2
    engine.dispose()


def test_a_finished_call_is_never_expired_and_the_watchdog_ends_when_idle() -> None:
    engine = create_engine("sqlite://")
    deadlines = CallDeadlines(engine, 0.05, own_pool=True)
    budgets = []

    def remember() -> None:
        budgets.append(deadlines.current())

    for _ in range(5):
        deadlines.run(remember)
    time.sleep(0.1)
    assert [budget.expired for budget in budgets if budget is not None] == [False] * 5
    ended = time.monotonic() + 3
    while time.monotonic() < ended and any(t.name == "salesgate: call deadline" for t in threading.enumerate()):
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "salesgate: call deadline"]
    engine.dispose()
