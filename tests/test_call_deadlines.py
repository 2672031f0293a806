"""The total deadline of a database call (salesgate_adapters.deadlines): kept without a thread per call.

What a trickling server does to a call is tested in tests/test_failure_modes.py; here, what the
deadline itself costs and that it still ends a call on time.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine

from conftest import Database
from salesgate.deadline import Workers
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


def test_a_gate_on_a_store_reuses_its_threads_from_decision_to_decision(database: Database,
                                                                        thread_starts: list[str]) -> None:
    """Recording in the store, then in the other recorders, within the gate's deadline: two calls on
    threads per decision. Starting two threads per decision cost ~0.4 ms; the gate keeps them now."""
    from salesgate import Gate
    from salesgate.policy.compiler import load_policy
    from salesgate.seed import seed_policy_path
    from test_gate import with_order

    with Store(database.url, **database.store_options()) as store, Gate(
            load_policy(seed_policy_path()), backend="python", entry_points=False, store=store) as gate:
        store.upgrade()
        thread_starts.clear()
        orders = [f"SO-THREADS-{uuid.uuid4().hex[:10]}" for _ in range(20)]
        for order_id in orders:
            assert gate.approve_order(with_order(order__id=order_id)).failure is None
        assert [len(store.decisions(order_id)) for order_id in orders] == [1] * 20
    started = [name for name in thread_starts if name.startswith("salesgate: ")]
    assert len(started) <= 4, started  # a deadline watchdog, the first decision's two calls, some slack


class _HandedAsTheWaitEnds:
    """A call queue whose waits with a timeout always end just as a call arrives: the race, every time."""

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[tuple[str, Callable[[], None]]] = queue.SimpleQueue()

    def put(self, call: tuple[str, Callable[[], None]]) -> None:
        self.calls.put(call)

    def get(self, timeout: float | None = None) -> tuple[str, Callable[[], None]]:
        if timeout is None:
            return self.calls.get()
        self.calls.put(self.calls.get(timeout=10))  # the call arrived...
        raise queue.Empty  # ...as the wait ended


def test_a_call_handed_to_a_worker_as_it_stops_waiting_is_still_run() -> None:
    workers = Workers(idle=0.05)
    workers._calls = _HandedAsTheWaitEnds()  # type: ignore[assignment]
    first, second = threading.Event(), threading.Event()
    workers.run("testing", first.set)
    assert first.wait(5)
    ended = time.monotonic() + 5
    while workers._waiting == 0 and time.monotonic() < ended:  # the worker waits for its next call
        time.sleep(0.001)
    workers.run("testing", second.set)  # handed to that worker
    assert second.wait(5)
    workers._calls.put(("ending", lambda: None))  # its next wait ends too, with more threads waiting than calls
