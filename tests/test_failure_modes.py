"""When the database is down, slow or talks garbage, the gate still answers — in time, safely, explained.

``failure_mode: closed`` blocks with "credit data unavailable", ``open`` lets the order through with a
warning; the caller's thread never waits much past the gate's ``timeout``; a failed reservation never
leaves a row behind; and the fallback decision is logged whenever the store itself is reachable.
Measured times are printed (``pytest -s``) for docs/store.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from conftest import Database, namespace, row_locked
from fixtures.servers import trickling_server
from salesgate import AdapterError, CreditExposure, Decision, Gate, Outcome, hookimpl
from salesgate.gate import MAX_ABANDONED_CALLS
from salesgate_adapters.store import Store, StoreError
from salesgate_adapters.store.connection import Timeouts, transaction

MARGIN = 1.5  # seconds a loaded CI machine may add to a deadline
SERVER_URLS = {
    "postgresql": "postgresql+psycopg://salesgate:pw@127.0.0.1:{port}/erp",
    "mariadb": "mysql+pymysql://salesgate:pw@127.0.0.1:{port}/erp",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def facts(order_id: str, customer_id: str, *, exposure: bool = True) -> dict[str, Any]:
    document: dict[str, Any] = {
        "order": {"id": order_id, "customer_id": customer_id, "order_date": "2026-11-23",
                  "lines": [{"line_no": 1, "sku": "MOTOR-7", "qty": 2, "unit_price": "5000.00"}]},
        "customer": {"id": customer_id, "name": "华东机电有限公司", "credit_limit": "100000"},
    }
    if exposure:
        document["exposure"] = {"open_receivables": "20000.00"}
    return document


def timed(call: Callable[[], Decision]) -> tuple[Decision, float]:
    started = time.monotonic()
    decision = call()
    return decision, time.monotonic() - started


def report(capsys: pytest.CaptureFixture[str], what: str, elapsed: float, decision: Decision) -> None:
    with capsys.disabled():
        why = decision.reasons[0].message if decision.reasons else "no reasons"
        print(f"\n[{what}] answered {decision.outcome.value} in {elapsed:.2f} s: {why}")


def assert_safe(decision: Decision, mode: str) -> None:
    assert decision.outcome is (Outcome.block if mode == "closed" else Outcome.warn)
    assert decision.failure is not None
    [reason] = decision.reasons
    assert reason.rule == "salesgate-failure"
    assert "credit data unavailable" in reason.message
    assert f"(failure mode: {mode})" in reason.message


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> bool:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def gate(store: Store | str, timeout: float, mode: str = "closed", plugins: tuple[object, ...] = ()) -> Gate:
    return Gate.default(backend="python", entry_points=False, store=store, timeout=timeout,
                        failure_mode=mode, plugins=plugins)  # type: ignore[arg-type]


def finish_abandoned_calls() -> None:
    """Calls the gate stopped waiting for finish in the background: let them, before closing their engines."""
    for thread in threading.enumerate():
        if thread.name.startswith("salesgate: "):
            thread.join(20)


@pytest.fixture(autouse=True)
def _abandoned_calls_finish() -> Iterator[None]:
    yield
    finish_abandoned_calls()


@pytest.fixture
def store(database: Database) -> Iterator[Store]:
    store = Store(database.url, **database.store_options())
    yield store
    store.close()


# -- the database is down -----------------------------------------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


@pytest.mark.parametrize("mode", ["closed", "open"])
@pytest.mark.parametrize("backend", ["postgresql", "mariadb", "sqlite"])
def test_store_down_answers_safely_at_once(backend: str, mode: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    url = (f"sqlite:///{tmp_path / 'no-such-dir' / 'salesgate.db'}" if backend == "sqlite"
           else SERVER_URLS[backend].format(port=closed_port()))
    with gate(url, timeout=2, mode=mode) as down:
        decision, elapsed = timed(lambda: down.check_credit(facts(unique("SO"), unique("C")), reserve=True))
    report(capsys, f"{backend} down, {mode}", elapsed, decision)
    assert_safe(decision, mode)
    assert "pw" not in decision.reasons[0].message
    assert elapsed < 2 + MARGIN


# -- the database speaks garbage, or nothing at all ---------------------------------------------------------------

@contextmanager
def fake_server(behaviour: str) -> Iterator[int]:
    """A TCP server that answers every connection with junk bytes, or accepts it and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            if behaviour == "garbage":
                conn.sendall(b"\xde\xad\xbe\xef not a database \x00\xff" * 64)
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()


@pytest.mark.parametrize("behaviour", ["garbage", "silent"])
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_server_talking_garbage_or_nothing_is_answered_within_the_timeout(
        backend: str, behaviour: str, capsys: pytest.CaptureFixture[str]) -> None:
    with fake_server(behaviour) as port, gate(SERVER_URLS[backend].format(port=port), timeout=1) as confused:
        decision, elapsed = timed(lambda: confused.check_credit(facts(unique("SO"), unique("C")), reserve=True))
    report(capsys, f"{backend} server {behaviour}", elapsed, decision)
    assert_safe(decision, "closed")
    assert elapsed < 1 + MARGIN


def test_garbage_in_salesgate_tables_is_unavailable_data_not_a_crash(store: Store, database: Database) -> None:
    customer, order_id = unique("C"), unique("SO")
    with gate(store, timeout=5) as fine:
        first = fine.check_credit(facts(order_id, customer), reserve=True)
    assert first.outcome is Outcome.allow
    held = store.reservation(order_id)
    assert held is not None
    with store.engine.begin() as conn:  # somebody "fixes" the log by hand
        kept = conn.execute(text("SELECT decision FROM salesgate_decisions WHERE id = :id"),
                            {"id": held.decision_id}).scalar_one()
        conn.execute(text("UPDATE salesgate_decisions SET decision = :junk WHERE id = :id"),
                     {"junk": '{"hook": 42}', "id": held.decision_id})
    try:
        with gate(store, timeout=5) as confused:
            retried = confused.check_credit(facts(order_id, customer), reserve=True)
    finally:  # the database is shared by the session's tests: leave every row readable
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE salesgate_decisions SET decision = :kept WHERE id = :id"),
                         {"kept": kept if isinstance(kept, str) else json.dumps(kept), "id": held.decision_id})
    assert_safe(retried, "closed")
    assert "salesgate_decisions holds a row salesgate cannot read" in (retried.failure or "")
    assert store.reservation(order_id) == held  # nothing changed


# -- the database is slow -----------------------------------------------------------------------------------------

@contextmanager
def customer_locked(database: Database, store: Store, customer: str) -> Iterator[None]:
    """Another transaction holds the customer's lock (SQLite: the database's write lock) and sits on it."""
    warm_up = unique("warm-up")
    store.reserve(customer, warm_up, Decimal(0), lambda reserved: allow(warm_up))  # creates the lock row
    with row_locked(database, "salesgate_credit_locks", "customer_id", customer):
        yield


def allow(order_id: str) -> Decision:
    with Gate.default(backend="python", entry_points=False) as plain:
        return plain.check_credit(facts(order_id, "C"))


def test_a_store_call_whose_time_ran_out_between_statements_commits_nothing(database: Database) -> None:
    """On SQLite, whose cut (``interrupt()``) stops only a statement running at that moment, a reservation
    whose decision outlived the store's timeout was committed, and the caller told it was not."""
    customer, order_id = unique("C"), unique("SO")
    brisk = Store(database.url, timeout=0.5, **database.store_options())

    def slow(_reserved: Decimal) -> Decision:
        time.sleep(1)  # no statement runs meanwhile: nothing for the cut to stop
        return allow(order_id)

    try:
        with pytest.raises(StoreError, match=r"no answer within 0.5 s \(the store's timeout, for the whole call\)"):
            brisk.reserve(customer, order_id, Decimal(5), slow)
        assert brisk.reservation(order_id) is None
        assert brisk.decisions(order_id) == []
        assert brisk.audit_entries(order_id) == []  # (the session's shared log holds other tests' garbage)
        allowed = allow(order_id)  # built first: loading the seed policy is not the store's time
        assert brisk.reserve(customer, unique("SO"), Decimal(5), lambda _r: allowed).reserved == 0
    finally:
        brisk.close()


def test_a_call_waiting_for_a_pooled_connection_gives_up_within_the_store_timeout(database: Database) -> None:
    """Every pooled connection held by a call stuck in the ERP: the next call waited for one as long as the
    pool's own 30 s ``pool_timeout`` allowed (here until the stuck call ended, 3.7 s with timeout 1)."""
    small = Store(database.url, timeout=1, pool_size=1, max_overflow=0, **database.store_options())
    stuck, release = threading.Event(), threading.Event()

    def slow(_reserved: Decimal) -> Decision:
        stuck.set()
        release.wait(10)
        return allow("SO-1")

    def hold() -> None:
        with contextlib.suppress(StoreError):  # its own time runs out too: what it raises is not the point
            small.reserve(unique("C"), unique("SO"), Decimal(1), slow)

    holder = threading.Thread(target=hold)
    try:
        holder.start()
        assert stuck.wait(10)
        started = time.monotonic()
        with pytest.raises(StoreError):
            small.reservations()
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(20)
        small.close()
    assert waited < 1 + 0.5


def test_the_gate_deadline_cuts_a_wait_for_the_lock_and_nothing_is_written(
        store: Store, database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    customer, order_id = unique("C"), unique("SO")
    patient = Store(database.url, timeout=30, **database.store_options())  # the database would wait 30 s
    with gate(patient, timeout=1) as hurried, customer_locked(database, store, customer):
        decision, elapsed = timed(lambda: hurried.check_credit(facts(order_id, customer), reserve=True))
        report(capsys, f"{database.backend} lock held, gate timeout 1 s", elapsed, decision)
        assert_safe(decision, "closed")
        assert "no answer within 1 s while reserving credit" in (decision.failure or "")
        assert elapsed < 1 + MARGIN
    # the lock is free now: the abandoned reservation gets it, sees the caller left, and rolls back
    assert wait_for(lambda: bool(store.decisions(order_id)))  # the fallback is logged all the same
    [logged] = store.decisions(order_id)
    assert logged.decision == decision
    finish_abandoned_calls()
    assert store.reservation(order_id) is None
    patient.close()


def test_the_database_timeout_ends_a_wait_for_the_lock(store: Store, database: Database,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    customer, order_id = unique("C"), unique("SO")
    brisk = Store(database.url, timeout=0.5, **database.store_options())
    with gate(brisk, timeout=10) as patient, customer_locked(database, store, customer):
        decision, elapsed = timed(lambda: patient.check_credit(facts(order_id, customer), reserve=True))
    report(capsys, f"{database.backend} lock held, store timeout 0.5 s", elapsed, decision)
    assert_safe(decision, "closed")
    assert "no answer within 10 s" not in (decision.failure or "")  # the store gave up, not the gate
    assert elapsed < 1 + MARGIN  # MariaDB's lock wait timeout counts whole seconds
    assert store.reservation(order_id) is None
    brisk.close()


def sleep_sql(backend: str, seconds: float) -> str:
    return f"SELECT pg_sleep({seconds})" if backend == "postgresql" else f"SELECT SLEEP({seconds})"


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_the_server_stops_a_slow_statement_at_the_store_timeout(backend: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with namespace(backend, tmp_path) as database:
        store = Store(database.url, timeout=0.5, **database.store_options())
        started = time.monotonic()
        with pytest.raises(DBAPIError) as info, transaction(store.engine, Timeouts(0.5)) as conn:
            conn.execute(text(sleep_sql(backend, 5))).all()
        elapsed = time.monotonic() - started
        store.close()
    with capsys.disabled():
        print(f"\n[{backend} statement sleeping 5 s, store timeout 0.5 s] stopped after {elapsed:.2f} s: "
              f"{str(info.value.orig).splitlines()[0]}")
    assert elapsed < 0.5 + MARGIN


class SlowErp:
    """An ERP whose exposure query takes ``seconds`` (``pg_sleep`` / ``SLEEP()`` on the real server)."""

    def __init__(self, engine: Engine, backend: str, seconds: float) -> None:
        self.engine, self.backend, self.seconds = engine, backend, seconds

    @hookimpl
    def salesgate_load_exposure(self, customer_id: str) -> CreditExposure:
        with self.engine.connect() as conn:
            conn.execute(text(sleep_sql(self.backend, self.seconds))).all()
        return CreditExposure(open_receivables=Decimal("20000.00"))


class GarbageErp:
    """An ERP whose exposure query returns text where an amount belongs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @hookimpl
    def salesgate_load_exposure(self, customer_id: str) -> CreditExposure:
        with self.engine.connect() as conn:
            value = conn.execute(text("SELECT 'lots of money'")).scalar_one()
        return CreditExposure(open_receivables=value)


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_a_slow_erp_is_answered_at_the_deadline_and_the_fallback_is_logged(
        store: Store, database: Database, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    customer, order_id = unique("C"), unique("SO")
    erp = database.engine()
    # SQLite cannot sleep in SQL; its reservation holds the database's write lock meanwhile, so keep
    # the sleep under SQLite's busy timeout (5 s) or the fallback could not be logged until later
    plugin = SleepingErp(3) if database.backend == "sqlite" else SlowErp(erp, database.backend, 3)
    with gate(store, timeout=1, mode=mode, plugins=(plugin,)) as waiting:
        decision, elapsed = timed(lambda: waiting.check_credit(facts(order_id, customer, exposure=False),
                                                               reserve=True))
    report(capsys, f"{database.backend} slow ERP exposure query, gate timeout 1 s, {mode}", elapsed, decision)
    assert_safe(decision, mode)
    assert elapsed < 1 + MARGIN
    assert wait_for(lambda: bool(store.decisions(order_id)))
    assert [r.decision for r in store.decisions(order_id)] == [decision]
    finish_abandoned_calls()
    assert store.reservation(order_id) is None
    erp.dispose()


class SleepingErp:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    @hookimpl
    def salesgate_load_exposure(self, customer_id: str) -> CreditExposure:
        time.sleep(self.seconds)
        return CreditExposure()


def test_an_erp_returning_garbage_is_unavailable_data(store: Store, database: Database) -> None:
    customer, order_id = unique("C"), unique("SO")
    erp = database.engine()
    with gate(store, timeout=5, plugins=(GarbageErp(erp),)) as confused:
        decision = confused.check_credit(facts(order_id, customer, exposure=False), reserve=True)
    assert_safe(decision, "closed")
    assert "salesgate_load_exposure" in (decision.failure or "")
    assert store.reservation(order_id) is None
    [logged] = store.decisions(order_id)
    assert logged.decision == decision
    erp.dispose()


def test_a_stalled_erp_inside_the_lock_does_not_hold_the_customer_for_long(
        store: Store, database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    if database.backend == "sqlite":
        return  # SQLite has no idle-in-transaction timeout: the gate deadline is all there is
    customer = unique("C")
    erp = database.engine()
    brisk = Store(database.url, timeout=1, **database.store_options())
    with gate(brisk, timeout=1, plugins=(SlowErp(erp, database.backend, 6),)) as stalled:
        first = stalled.check_credit(facts(unique("SO"), customer, exposure=False), reserve=True)
    assert_safe(first, "closed")
    patient = Store(database.url, timeout=5, **database.store_options())
    with gate(patient, timeout=10) as next_one:  # exposure given: no ERP call
        second, elapsed = timed(lambda: next_one.check_credit(facts(unique("SO"), customer), reserve=True))
    patient.close()
    report(capsys, f"{database.backend} next order after a stalled ERP held the lock", elapsed, second)
    assert second.outcome is Outcome.allow, second.failure
    assert elapsed < 2 * 1 + MARGIN  # the server ended the stalled session after 2 × the store timeout
    finish_abandoned_calls()
    brisk.close()
    erp.dispose()


def test_store_errors_name_what_failed(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'nothing.db'}")  # never upgraded
    with pytest.raises(StoreError, match=r"reading reservations failed: salesgate's tables are missing .*"
                                         r"\(OperationalError: no such table: .*\): run `salesgate db upgrade`"):
        store.reservations()


def test_a_slow_adapter_is_answered_at_the_deadline_without_a_store_too(capsys: pytest.CaptureFixture[str]) -> None:
    with Gate.default(backend="python", entry_points=False, timeout=0.5, plugins=[SleepingErp(3)]) as waiting:
        decision, elapsed = timed(lambda: waiting.check_credit(facts(unique("SO"), unique("C"), exposure=False)))
    report(capsys, "adapter sleeping 3 s while loading facts, gate timeout 0.5 s", elapsed, decision)
    assert_safe(decision, "closed")
    assert "no answer within 0.5 s while loading facts" in (decision.failure or "")
    assert elapsed < 0.5 + MARGIN


def test_a_timeout_must_be_positive_seconds() -> None:
    with pytest.raises(ValueError, match="timeout must be positive seconds"):
        Gate.default(backend="python", entry_points=False, timeout=0)
    with pytest.raises(ValueError, match="timeout must be positive seconds"):
        Store("sqlite://", timeout=-1)


# -- secrets never leave ------------------------------------------------------------------------------------------

ODD_PASSWORD = "p@ss:w%rd/密码+&x=1"  # noqa: S105 - fake; "@", ":", "%", "/", Chinese, "&", "=" all need encoding
ENCODED = quote(ODD_PASSWORD, safe="")
SECRET_FORMS = (ODD_PASSWORD, ENCODED, quote_plus(ODD_PASSWORD, safe=""), "密码", "w%rd")


def secret_urls(backend: str, port: int) -> list[str]:
    """The same secret in the user-info and in each query parameter a driver takes a secret from."""
    base = SERVER_URLS[backend].format(port=port).replace(":pw@", "@")
    user_info = base.replace("salesgate@", f"salesgate:{ENCODED}@")
    urls = [user_info, f"{base}?password={ENCODED}"]
    if backend == "postgresql":
        urls.append(f"{base}?sslmode=disable&sslpassword={ENCODED}")
    return urls


def assert_no_secret(text: str, where: str) -> None:
    for form in SECRET_FORMS:
        assert form not in text, f"{where} shows the password ({form!r}): {text}"


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_password_in_the_url_never_leaves_by_any_exit(backend: str, database: Database,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    from salesgate_adapters.sql import SqlAdapter

    port = closed_port()
    for url in secret_urls(backend, port):
        dead_store = Store(url, timeout=1)
        assert_no_secret(repr(dead_store) + dead_store.url, "Store repr")
        with pytest.raises(StoreError) as info:
            dead_store.reservations()
        assert_no_secret(str(info.value), "StoreError")
        dead_store.close()

        adapter = SqlAdapter(url, timeout=1)
        assert_no_secret(repr(adapter) + adapter.url, "SqlAdapter repr")
        with pytest.raises(AdapterError) as raised:
            adapter.salesgate_load_customer(customer_id="C1")
        assert_no_secret(str(raised.value), "AdapterError")
        assert "***" in str(raised.value)

        with caplog.at_level(logging.DEBUG), gate(url, timeout=2) as on_dead_store:
            decision = on_dead_store.check_credit(facts(unique("SO"), unique("C")), reserve=True)
        assert decision.failure is not None
        assert_no_secret(decision.model_dump_json(), "Decision (store down)")

        live = Store(database.url, **database.store_options())
        order_id = unique("SO")
        with caplog.at_level(logging.DEBUG), Gate.default(backend="python", entry_points=False, store=live,
                                                          timeout=3, plugins=[adapter]) as reading_dead_erp:
            decision = reading_dead_erp.check_credit({"order": {**facts(order_id, "C1")["order"]}})
        assert decision.failure is not None
        assert "***" in decision.failure
        assert_no_secret(decision.model_dump_json(), "Decision (ERP down)")
        assert_no_secret(caplog.text, "Python logs")
        [logged] = live.decisions(order_id)
        assert_no_secret(logged.decision.model_dump_json(), "decision log")
        entries = [e.content for e in live.audit_entries(order_id)]
        assert entries
        for content in entries:  # no connection details at all: a chained entry can never be scrubbed
            assert_no_secret(content, "audit entry")
            assert "127.0.0.1" not in content
            assert str(port) not in content
            assert "salesgate@" not in content
        live.close()
        adapter.close()


# -- a slow network: a server that trickles one byte at a time ----------------------------------------------------

def salesgate_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("salesgate: ")]


def call_threads() -> list[str]:
    """Threads running a call (reserving, recording), not the timers that keep their deadlines."""
    return [name for name in salesgate_threads() if name != "salesgate: call deadline"]


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_trickling_server_is_answered_within_the_default_store_timeout(
        backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    """PyMySQL's read timeout restarts on every byte and libpq has none once connected: a server sending a
    byte every 1.5 s held check_credit(reserve=True) for over 240 s with default options."""
    with trickling_server(backend) as port:
        store = Store(SERVER_URLS[backend].format(port=port))  # default timeout: 5 s
        with Gate.default(backend="python", entry_points=False, store=store) as default:
            decision, elapsed = timed(lambda: default.check_credit(facts(unique("SO"), unique("C")), reserve=True))
        report(capsys, f"{backend} trickling a byte a second, default options (store timeout 5 s)", elapsed,
               decision)
        assert_safe(decision, "closed")
        assert elapsed < 5 + MARGIN
        brisk = Store(SERVER_URLS[backend].format(port=port), timeout=2)
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"no answer within 2 s \(the store's timeout, for the whole call\)"):
            brisk.reservations()
        direct = time.monotonic() - started
        brisk.close()
        with capsys.disabled():
            print(f"[{backend} trickling] Store(timeout=2).reservations() gave up after {direct:.2f} s")
        assert direct < 2 + MARGIN
        store.close()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_calls_abandoned_on_a_trickling_server_do_not_pile_up_threads(
        backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    """With timeout=1 the caller got its answer, but ~75 threads stayed blocked after 40 calls."""
    calls, store_timeout = 12, 2.0
    before = threading.active_count()
    with trickling_server(backend) as port:
        store = Store(SERVER_URLS[backend].format(port=port), timeout=store_timeout)
        with gate(store, timeout=0.5) as impatient:
            slowest = 0.0
            most = 0
            for _ in range(calls):
                decision, elapsed = timed(
                    lambda: impatient.check_credit(facts(unique("SO"), unique("C")), reserve=True))
                assert_safe(decision, "closed")
                slowest = max(slowest, elapsed)
                most = max(most, len(call_threads()))
            held_after_calls = len(salesgate_threads())
            assert wait_for(lambda: not salesgate_threads(), store_timeout + 2 * MARGIN), salesgate_threads()
        store.close()
        with capsys.disabled():
            print(f"\n[{backend} trickling] {calls} calls, gate timeout 0.5 s, store timeout {store_timeout:g} s: "
                  f"slowest answer {slowest:.2f} s, at most {most} abandoned calls' threads at once, "
                  f"{held_after_calls} salesgate threads (timers included) right after the last call, 0 within "
                  f"{store_timeout:g} s + margin; threads in the process before "
                  f"{before}, after {threading.active_count()}")
    assert slowest < 0.5 + MARGIN
    assert most <= MAX_ABANDONED_CALLS


def test_a_gate_refuses_new_calls_at_once_while_too_many_abandoned_calls_still_wait(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A database that answers no one never makes a gate hold more than max_abandoned_calls threads."""
    release = threading.Event()

    class Stuck:
        @hookimpl
        def salesgate_load_exposure(self, customer_id: str) -> CreditExposure:
            release.wait(30)
            return CreditExposure()

    with Gate.default(backend="python", entry_points=False, timeout=0.2, max_abandoned_calls=3,
                      plugins=[Stuck()]) as stuck:
        answers = [timed(lambda: stuck.check_credit(facts(unique("SO"), unique("C"), exposure=False)))
                   for _ in range(6)]
        waiting = len(salesgate_threads())
        release.set()
    assert waiting == 3
    for decision, _elapsed in answers:
        assert_safe(decision, "closed")
    assert "earlier calls abandoned at their deadline are still waiting" in (answers[-1][0].failure or "")
    assert answers[-1][1] < 0.1  # answered at once, no thread started


def test_a_burst_of_callers_on_a_hung_erp_leaves_at_most_the_cap_plus_the_burst(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The cap counts calls once abandoned, so callers already running when it is reached add theirs: the
    docs said 'never more than max_abandoned_calls' (30 callers at once with a cap of 3 left 30 threads)."""
    release, cap, callers = threading.Event(), 3, 12

    class Stuck:
        @hookimpl
        def salesgate_load_exposure(self, customer_id: str) -> CreditExposure:
            release.wait(30)
            return CreditExposure()

    start = threading.Barrier(callers)

    def call() -> None:
        start.wait(10)
        assert_safe(stuck.check_credit(facts(unique("SO"), unique("C"), exposure=False)), "closed")

    with Gate.default(backend="python", entry_points=False, timeout=0.3, max_abandoned_calls=cap,
                      plugins=[Stuck()]) as stuck:
        burst = [threading.Thread(target=call) for _ in range(callers)]
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join(10)
        waiting = len(call_threads())
        after, elapsed = timed(lambda: stuck.check_credit(facts(unique("SO"), unique("C"), exposure=False)))
        release.set()
    with capsys.disabled():
        print(f"\n[burst] {callers} callers at once on a hung ERP, cap {cap}: {waiting} threads left waiting")
    assert waiting <= cap - 1 + callers
    assert "earlier calls abandoned at their deadline are still waiting" in (after.failure or "")
    assert elapsed < 0.1  # refused at once while they wait


@pytest.mark.parametrize(("text", "shown"), [
    (f"mysql://erp:{ENCODED}@db/erp", "mysql://erp:***@db/erp"),
    ("mysql://erp:p@ss:w@rd@db/erp?charset=utf8mb4", "mysql://erp:***@db/erp?charset=utf8mb4"),  # raw "@" and ":"
    (f"postgresql://erp@db/erp?sslmode=require&sslpassword={ENCODED}&Token=t0k",
     "postgresql://erp@db/erp?sslmode=require&sslpassword=***&Token=***"),
    ("host=db password='a b' dbname=erp", "host=db password=*** dbname=erp"),  # a libpq keyword string
    ("12 cases passed=12, author=李雷", "12 cases passed=12, author=李雷"),  # no secret: left alone
    ("postgresql://erp@db/erp?options=-c%20password%3Dp%40w7&sslmode=require",  # a setting inside a value
     "postgresql://erp@db/erp?options=-c%20password%3D***&sslmode=require"),
    ("mysql://erp@db/erp?pass=pw77&passive=1", "mysql://erp@db/erp?pass=***&passive=1"),
])
def test_one_redaction_masks_every_secret_a_url_can_carry(text: str, shown: str) -> None:
    from salesgate.redaction import redact

    assert redact(text) == shown


@pytest.mark.parametrize("query", ["options=-c%20password%3Dpw7x%40", "options=-c+password%3Dpw7x%40",
                                   "options=-csearch_path%3Derp%20-cpassword%3Dpw7x%40"])
def test_a_password_set_inside_a_query_value_is_not_shown_by_a_store(query: str) -> None:
    """``?options=-c%20password%3D...`` (libpq's options) was shown as written by ``repr(store)``."""
    from salesgate_adapters.sql import SqlAdapter

    url = f"postgresql+psycopg://erp@127.0.0.1:{closed_port()}/erp?{query}"
    store, adapter = Store(url, timeout=1), SqlAdapter(url, timeout=1)
    try:
        for shown in (repr(store), store.url, repr(adapter), adapter.url):
            for form in ("pw7x", "pw7x@", "pw7x%40"):
                assert form not in shown, shown
            assert "***" in shown
    finally:
        store.close()
        adapter.close()


class _LeakyRecorder:
    """A recorder whose database is down, and whose driver's message (and source line) quotes its URL."""

    @hookimpl
    def salesgate_record_decision(self, decision: Decision) -> None:
        raise ConnectionError("mysql+pymysql://erp:s3cr3t-tb@db/erp unreachable")


def test_a_password_in_a_traceback_never_reaches_the_python_logs(caplog: pytest.LogCaptureFixture,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages were masked but tracebacks were not: a handler rendered the exception's text, and the source
    line quoting the URL, with the password. Both a recorder's failure (``salesgate.plugins``) and an error
    salesgate did not anticipate (``salesgate``) are logged with their traceback, masked."""
    import io

    rendered = io.StringIO()
    handler = logging.StreamHandler(rendered)  # a real handler, formatting the record as a service's would
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG), Gate.default(backend="python", entry_points=False,
                                                          plugins=[_LeakyRecorder()]) as leaky:
            assert leaky.check_credit(facts(unique("SO"), "C1")).failure is None
            assert leaky._hooks is not None

            def bug(*_: object, **__: object) -> None:
                raise RuntimeError("lost postgresql://erp:s3cr3t-tb@erp-db/erp?sslpassword=s3cr3t-tb")

            monkeypatch.setattr(leaky._hooks, "decide", bug)
            assert leaky.check_credit(facts(unique("SO"), "C1")).failure is not None
    finally:
        logging.getLogger().removeHandler(handler)
    for where, logged in (("a handler", rendered.getvalue()), ("caplog", caplog.text)):
        assert "s3cr3t" not in logged, f"{where} shows the password: {logged}"
        assert logged.count("Traceback (most recent call last)") == 3, logged  # the tracebacks stay, masked
        assert "ConnectionError: mysql+pymysql://erp:***@db/erp unreachable" in logged
        assert 'raise ConnectionError("mysql+pymysql://erp:***@db/erp unreachable")' in logged
        assert "RuntimeError: lost postgresql://erp:***@erp-db/erp?sslpassword=***" in logged
    assert {record.name for record in caplog.records if record.exc_text} == {"salesgate", "salesgate.plugins"}


def test_every_logger_salesgate_logs_on_masks_secrets() -> None:
    """A filter on ``salesgate`` does not see what ``salesgate.plugins`` logs: each logger needs its own."""
    import importlib
    import pkgutil

    import salesgate
    import salesgate_adapters
    import salesgate_plugins
    from salesgate.logs import RedactSecrets

    for package in (salesgate, salesgate_plugins, salesgate_adapters):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith("__main__") and ".migrations." not in module.name:
                importlib.import_module(module.name)
    loggers = {name: logger for name, logger in logging.Logger.manager.loggerDict.items()
               if name.split(".")[0] in ("salesgate", "salesgate_plugins", "salesgate_adapters")
               and isinstance(logger, logging.Logger)}
    assert {"salesgate", "salesgate.plugins", "salesgate.audit", "salesgate.reload"} <= set(loggers)
    unmasked = [name for name, logger in loggers.items()
                if not any(isinstance(f, RedactSecrets) for f in logger.filters)]
    assert unmasked == [], "log on salesgate.logs.get_logger(name), which masks secrets"


@pytest.mark.parametrize("word", ["a", "a-", "ab1."])
def test_redaction_takes_time_in_proportion_to_the_text(word: str) -> None:
    """Every letter of a long word was tried as the start of a URL scheme: 60,000 characters without a
    space took seconds (quadratic) in every message, log line and decision redacted."""
    from salesgate.redaction import redact

    text = f"failed: {word * (60_000 // len(word))} postgresql://erp:pw77@db/erp"
    started = time.perf_counter()
    shown = redact(text)
    assert time.perf_counter() - started < 0.5
    assert shown.endswith("postgresql://erp:***@db/erp")
