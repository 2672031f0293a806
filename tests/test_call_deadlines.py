"""The total deadline of a database call (salesgate_adapters.deadlines): kept without a thread per call.

What a trickling server does to a call is tested in tests/test_failure_modes.py; here, what the
deadline itself costs and that it still ends a call on time.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event

from conftest import Database
from salesgate import Gate
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
        raise ConnectionError("cut")  # what a blocked read does when its connection is cut

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


# -- a write that committed is answered as logged ------------------------------------------------------

def _gate_on(store: Store, timeout: float) -> Gate:
    from salesgate.policy.compiler import load_policy
    from salesgate.seed import seed_policy_path

    return Gate(load_policy(seed_policy_path()), backend="python", entry_points=False, store=store, timeout=timeout)


def test_a_decision_logged_before_a_slow_connection_reset_is_answered_and_logged_once(database: Database) -> None:
    """The pool's reset-on-return (a ROLLBACK) took longer than the store's timeout after the commit: the
    store used to call the committed write an overrun, so the gate answered and logged a fallback too."""
    from test_gate import with_order

    slow = threading.Event()
    with Store(database.url, timeout=1, **database.store_options()) as store:
        logged = threading.Event()  # the decision is in the transaction: the reset after its commit is slow

        @event.listens_for(store.engine, "before_cursor_execute")
        def _logging(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if slow.is_set() and statement.startswith("INSERT INTO salesgate_decisions"):
                logged.set()

        @event.listens_for(store.engine.pool, "reset")
        def _slow_reset(*_args: object) -> None:
            if logged.is_set():
                logged.clear()
                time.sleep(1.3)

        with _gate_on(store, timeout=3) as gate:
            order_id = f"SO-RESET-{uuid.uuid4().hex[:10]}"
            slow.set()
            decision = gate.approve_order(with_order(order__id=order_id))
            slow.clear()
            assert decision.failure is None, decision.failure
            time.sleep(0.5)  # a fallback would be recorded in the background meanwhile
            logged = store.decisions(order_id)
            assert [entry.decision.failure for entry in logged] == [None]


def test_a_decision_whose_commit_outlasts_the_gate_timeout_is_answered_as_committed(database: Database) -> None:
    """The gate's deadline ran out while the store committed: the gate waited for the commit (the store's
    timeout bounds it) instead of answering a fallback for a decision that was logged."""
    from test_gate import with_order

    slow = threading.Event()
    with Store(database.url, timeout=4, **database.store_options()) as store:
        logged = threading.Event()  # the decision is in the transaction: its commit is the slow one

        def _slow_commit(*_args: object) -> None:
            if slow.is_set() and logged.is_set():
                logged.clear()
                time.sleep(1)

        def _slow_sqlite_commit(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.startswith("INSERT INTO salesgate_decisions"):
                logged.set()
            elif statement == "COMMIT":
                _slow_commit()

        event.listen(store.engine, "commit", _slow_commit)
        event.listen(store.engine, "before_cursor_execute", _slow_sqlite_commit)
        with _gate_on(store, timeout=0.5) as gate:
            order_id = f"SO-COMMIT-{uuid.uuid4().hex[:10]}"
            slow.set()
            started = time.monotonic()
            decision = gate.approve_order(with_order(order__id=order_id))
            waited = time.monotonic() - started
            slow.clear()
            assert decision.failure is None, decision.failure
            assert waited < 3.5
            time.sleep(0.5)
            assert [entry.decision.failure for entry in store.decisions(order_id)] == [None]


def test_a_call_abandoned_before_its_commit_is_refused_the_commit() -> None:
    from salesgate.deadline import Deadline, DeadlineExceeded, Stragglers

    began: list[bool] = []
    finished = threading.Event()

    def late(abandoned: threading.Event) -> str:
        time.sleep(0.3)
        began.append(abandoned.begin_commit())  # type: ignore[attr-defined]
        finished.set()
        return "written"

    with pytest.raises(DeadlineExceeded):
        Deadline(0.1, Stragglers(5), grace=5).run("writing", late)
    assert finished.wait(5)
    assert began == [False]


# -- after fork() ------------------------------------------------------------------------------------

def _in_forked_child(child: Callable[[], dict[str, object]]) -> dict[str, object]:
    """``child()``'s report, run in a forked copy of this process (which exits without running pytest's exit)."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Python 3.12 warns about fork() in a process with threads: the point here
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            report = child()
        except BaseException as error:  # reported to the parent, which fails the test
            report = {"error": repr(error)}
        os.write(write, json.dumps(report).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return dict(json.loads(data or b'{"error": "no report"}'))


def test_a_process_forked_while_the_threads_idle_keeps_its_deadlines_and_workers(tmp_path: Path) -> None:
    """A pre-forking server may fork right after a decision, in the quarter second the watchdog and the
    gate's worker thread wait for more: the child had their counters but not their threads, so no store
    call's deadline was kept again and the first call was handed to a thread that did not exist."""
    from test_gate import with_order

    with Store(f"sqlite:///{tmp_path / 'fork.db'}", timeout=1) as store:
        store.upgrade()
        with _gate_on(store, timeout=2) as gate:
            for _ in range(5):  # until the fork falls in the window (a busy machine may leave it before the check)
                assert gate.approve_order(with_order(order__id="SO-FORK-1")).failure is None
                if store._deadlines._watchdog._running and gate._workers._waiting > 0:
                    break

            def child() -> dict[str, object]:
                started = time.monotonic()
                decision = gate.approve_order(with_order(order__id="SO-FORK-2"))
                decided = time.monotonic() - started

                def until_expired() -> None:
                    budget = store._deadlines.current()
                    ends = time.monotonic() + 5
                    while budget is not None and not budget.expired and time.monotonic() < ends:
                        time.sleep(0.01)
                    raise ConnectionError("cut")

                started = time.monotonic()
                try:
                    store._deadlines.run(until_expired)
                    overrun = False
                except Overrun:
                    overrun = True
                return {"failure": decision.failure, "decided": decided, "overrun": overrun,
                        "cut after": time.monotonic() - started}

            assert store._deadlines._watchdog._running  # the window: the watchdog and a worker wait for more
            assert gate._workers._waiting > 0
            report = _in_forked_child(child)
    assert "error" not in report, report
    assert report["failure"] is None, report
    assert float(str(report["decided"])) < 1, report
    assert report["overrun"] is True, report
    assert float(str(report["cut after"])) < 2, report


# -- out of threads ----------------------------------------------------------------------------------

def test_a_process_out_of_threads_gets_the_failure_mode_not_an_exception(database: Database,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """``threading.Thread.start`` raises RuntimeError("can't start new thread") when the process has none
    left: recording the fallback in the background raised it out of decide(), into the ERP."""
    from test_gate import with_order

    with Store(database.url, timeout=2, **database.store_options()) as store, _gate_on(store, timeout=2) as gate:
        def no_thread(_thread: threading.Thread) -> None:
            raise RuntimeError("can't start new thread")

        monkeypatch.setattr(threading.Thread, "start", no_thread)
        decision = gate.approve_order(with_order(order__id=f"SO-NOTHREAD-{uuid.uuid4().hex[:10]}"))
        monkeypatch.undo()
    assert decision.outcome.value == "block"
    assert decision.failure == "not recording the decision: no thread could be started (can't start new thread)"
    assert "not recording the decision: no thread could be started" in caplog.text


# -- what runs in the background after the deadline ---------------------------------------------------

def _slow_first_decision_insert(store: Store, seconds: float) -> threading.Event:
    """The next decision the store logs takes ``seconds`` before its commit (the gate abandons it and
    answers its failure mode; the fallback is logged in the background). Set the event to arm it."""
    armed = threading.Event()

    @event.listens_for(store.engine, "before_cursor_execute")
    def _slow(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if armed.is_set() and statement.startswith("INSERT INTO salesgate_decisions"):
            armed.clear()
            time.sleep(seconds)

    return armed


def _until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    ends = time.monotonic() + seconds
    while not condition() and time.monotonic() < ends:
        time.sleep(0.02)
    return condition()


def test_a_fallback_is_logged_when_the_cap_of_abandoned_calls_refuses_it_a_thread(database: Database) -> None:
    """With ``max_abandoned_calls`` calls abandoned and running, recording the fallback got no thread and
    was dropped with a warning: the caller's answer was never logged. It waits in the gate's backlog now."""
    from salesgate.policy.compiler import load_policy
    from salesgate.seed import seed_policy_path
    from test_gate import with_order

    order_id = f"SO-CAP-{uuid.uuid4().hex[:10]}"
    with Store(database.url, timeout=4, **database.store_options()) as store, Gate(
            load_policy(seed_policy_path()), backend="python", entry_points=False, store=store, timeout=0.5,
            max_abandoned_calls=1) as gate:
        _slow_first_decision_insert(store, 1).set()
        decision = gate.approve_order(with_order(order__id=order_id))
        assert decision.failure is not None
        assert "no answer within 0.5 s" in decision.failure
        assert _until(lambda: [entry.decision.failure for entry in store.decisions(order_id)] == [decision.failure])


def test_closing_a_gate_waits_for_its_background_recording_and_leaves_no_connection_open(
        database: Database) -> None:
    """close() used to let the store be closed under a recording still running in the background, which
    then opened a connection in a fresh pool that nothing closed."""
    from test_gate import with_order

    order_id = f"SO-CLOSE-{uuid.uuid4().hex[:10]}"
    with Store(database.url, timeout=4, **database.store_options()) as store:
        open_connections: set[int] = set()  # the database connections the store's pools opened and did not close
        event.listen(store.engine.pool, "connect", lambda dbapi, _record: open_connections.add(id(dbapi)))
        event.listen(store.engine.pool, "close", lambda dbapi, _record: open_connections.discard(id(dbapi)))
        event.listen(store.engine.pool, "close_detached", lambda dbapi: open_connections.discard(id(dbapi)))
        with _gate_on(store, timeout=0.5) as gate:
            _slow_first_decision_insert(store, 1).set()
            decision = gate.approve_order(with_order(order__id=order_id))
            assert decision.failure is not None
    assert _until(lambda: gate._stragglers.count == 0 and gate._backlog.idle)  # what ran in the background ended
    time.sleep(0.2)
    assert not open_connections
    with Store(database.url, **database.store_options()) as reader:
        assert [entry.decision.failure for entry in reader.decisions(order_id)] == [decision.failure]


def test_a_reservation_committed_before_a_slow_connection_reset_is_answered_as_held(database: Database) -> None:
    """As for a logged decision: the ERP was told block (credit unavailable) while the credit was held 24 h."""
    from decimal import Decimal

    customer = f"C-RESET-{uuid.uuid4().hex[:10]}"
    order_id = f"SO-{customer}"
    with Store(database.url, timeout=1, **database.store_options()) as store:
        reserved = threading.Event()

        @event.listens_for(store.engine, "before_cursor_execute")
        def _reserving(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.startswith("INSERT INTO salesgate_credit_reservations"):
                reserved.set()

        @event.listens_for(store.engine.pool, "reset")
        def _slow_reset(*_args: object) -> None:
            if reserved.is_set():
                reserved.clear()
                time.sleep(1.3)

        with _gate_on(store, timeout=3) as gate:
            decision = gate.check_credit({
                "order": {"id": order_id, "customer_id": customer, "order_date": "2026-11-23",
                          "lines": [{"line_no": 1, "sku": "MOTOR-7", "qty": 1, "unit_price": "500"}]},
                "customer": {"id": customer, "name": "华东机电有限公司", "credit_limit": "1000"}}, reserve=True)
            assert decision.failure is None, decision.failure
            assert decision.outcome.value == "allow"
            time.sleep(0.5)
            assert [entry.decision.failure for entry in store.decisions(order_id)] == [None]
            assert store.reserved_amount(customer) == Decimal(500)


def test_the_backlog_runs_recordings_in_order_and_drops_only_past_its_limit(
        caplog: pytest.LogCaptureFixture) -> None:
    from salesgate.deadline import Backlog

    release, ended = threading.Event(), threading.Event()
    ran: list[str] = []
    backlog = Backlog(limit=2, on_idle=ended.set)

    def first() -> None:
        release.wait(5)
        ran.append("a")

    backlog.add("recording a", first)
    assert _until(lambda: not backlog._pending, 5)  # "a" runs, holding the backlog's one thread
    backlog.add("recording b", lambda: ran.append("b"))
    backlog.add("recording c", lambda: ran.append("c"))
    backlog.add("recording d", lambda: ran.append("d"))  # a third waiting: past the limit
    assert not backlog.idle
    release.set()
    assert ended.wait(5)
    assert ran == ["a", "b", "c"]
    assert backlog.dropped == 1
    assert backlog.idle
    assert "not recording d: 2 recordings wait already (at most 2); 1 dropped so far" in caplog.text
