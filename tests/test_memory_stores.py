"""The in-memory store as a store: it implements the ports, a gate runs on it, it is thread-safe, and the
store tests that are about behaviour run on it (the twins in tests/test_memory_*.py)."""

from __future__ import annotations

import inspect
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

import test_approvals
import test_audit
import test_memory_approvals
import test_memory_reservations
import test_memory_store
import test_reservations
import test_store
from fixtures.stores import memory_twins, needs_a_database, store_tests, uses_a_store
from salesgate import (
    AdapterError,
    Decision,
    Gate,
    Outcome,
    PolicyRef,
    ReservationError,
    ReserveResult,
    StoreError,
    ports,
)
from salesgate_adapters.store import MemoryStore, Store, acting_as
from test_store import order

TWINS: list[tuple[ModuleType, ModuleType]] = [
    (test_store, test_memory_store), (test_reservations, test_memory_reservations),
    (test_approvals, test_memory_approvals)]


@pytest.mark.parametrize(("sql", "memory"), TWINS, ids=lambda module: module.__name__)
def test_every_store_test_runs_on_memory_or_says_why_not(sql: ModuleType, memory: ModuleType) -> None:
    twins = memory_twins(sql, memory.SQL_ONLY)
    assert all(getattr(memory, name) is test for name, test in twins.items())
    for name, test in store_tests(sql).items():
        why = memory.SQL_ONLY.get(name)
        assert (name in twins) != (why is not None or needs_a_database(test) or not uses_a_store(test)), name


def test_the_audit_log_tests_are_sqls_alone() -> None:
    """tests/test_audit.py has no twin: the hash chain, its tamper checks and ``salesgate audit`` are the SQL
    store's (a memory store keeps no audit log). So each of its tests needs a database or reads the chain."""
    assert not hasattr(MemoryStore, "audit_entries")
    for name, test in store_tests(test_audit).items():
        source = inspect.getsource(test)
        assert needs_a_database(test) or any(word in source for word in ("audit", "verify", "sql(")), name


def test_both_stores_implement_the_ports(tmp_path: Path) -> None:
    sql = Store(f"sqlite:///{tmp_path / 'never-opened.db'}")  # no connection is made
    for store in (MemoryStore(), sql):
        for port in (ports.DecisionLog, ports.ApprovalRequests, ports.CreditReservations, ports.Store):
            assert isinstance(store, port), (store, port)
    sql.close()


def test_a_gate_runs_on_a_memory_store() -> None:
    store = MemoryStore()
    store.grant_role("li", "sales_manager", by="admin")
    store.grant_role("zhao", "general_manager", by="admin")
    facts = order("SO-1", "C-1")
    with Gate.default(backend="python", entry_points=False, store=store) as gate:
        with acting_as("wang"):
            decision = gate.approve_order(facts)
        credit = gate.check_credit(facts, reserve=True)
        assert gate.store is store
        held = gate.confirm_reservation("SO-1")
    assert decision.outcome is Outcome.require_approval
    assert [r.role for r in store.approval_requests("SO-1")] == ["sales_manager", "general_manager"]
    assert [d.hook for d in store.decisions("SO-1")] == ["order_approval", "credit_check"]
    assert credit.failure is None
    assert held is not None
    assert (held.status, held.amount) == ("confirmed", Decimal("120000.0000"))
    store.approve("SO-1", "li")
    assert store.approval_status("SO-1", order=facts).state == "pending"
    store.approve("SO-1", "zhao")
    assert store.is_approved("SO-1", order=facts)


def test_twenty_threads_at_once_never_hold_more_than_the_limit() -> None:
    store, limit, amount = MemoryStore(), Decimal("1000"), Decimal("150")
    policy = PolicyRef(name="test", version="1", hash="h" * 16)
    start = threading.Barrier(20)

    def decide(order_id: str) -> ports.Decide:
        def check(reserved: Decimal) -> Decision:
            outcome = Outcome.block if reserved + amount > limit else Outcome.allow
            return Decision(hook="credit_check", subject=order_id, outcome=outcome, policy=policy, backend="test")
        return check

    def worker(number: int) -> None:
        start.wait()
        store.reserve("C-1", f"SO-{number}", amount, decide(f"SO-{number}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.reserved_amount("C-1") == Decimal("900")  # six holds of 150; the seventh would pass 1000
    assert len(store.reservations("C-1", "reserved")) == 6
    assert len(store.decisions()) == 20


def test_a_memory_store_refuses_what_the_sql_store_refuses() -> None:
    store = MemoryStore(reservation_ttl=timedelta(minutes=5))
    with pytest.raises(ValueError, match="reservation_ttl must be positive"):
        MemoryStore(reservation_ttl=timedelta(0))
    with pytest.raises(ValueError, match="Decimal"):
        store.reserve("C", "SO", 1.5, lambda _: pytest.fail("not asked"))  # type: ignore[arg-type]
    assert store.reservation("SO") is None


def test_a_store_error_is_no_adapter_error_but_the_gate_answers_it_as_the_data_unavailable() -> None:
    """"Our database is down" is not "the ERP is down"; to the caller both leave the credit data unavailable."""
    assert not issubclass(StoreError, AdapterError)
    assert issubclass(ReservationError, StoreError)

    class DownStore(MemoryStore):
        def reserve(self, *args: object, **kwargs: object) -> ReserveResult:
            raise StoreError("reserving credit for order SO-1 failed: the database is down")

    with Gate.default(backend="python", entry_points=False, store=DownStore()) as gate:
        decision = gate.check_credit(order("SO-1", "C-1"), reserve=True)
    assert decision.outcome is Outcome.block
    assert decision.reasons[0].message.startswith("credit data unavailable (reserving credit for order SO-1 failed")
