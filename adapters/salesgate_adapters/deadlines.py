"""A total deadline per database call, kept by cutting the connection of a call that overruns it.

Drivers time out per read, not per call: PyMySQL's ``read_timeout`` restarts on every byte, so a
server (or a proxy, or a bad network) that trickles one byte a second holds a call for ever, and
libpq has no client-side limit once connected. Server-side ``statement_timeout`` cannot help when
the server is the problem. So each call that salesgate makes (a store method, an adapter's data
hook) runs under a :class:`CallDeadlines` budget: a watchdog that, when the budget is spent, shuts
down the socket of every connection the call holds (``interrupt()`` on SQLite). The driver's
blocked read returns at once with an error, the connection is discarded, and the calling thread is
free again — no thread is left waiting on a trickling server after its call's deadline.

Connections are attached to the budget of the call that opens them (pool ``connect``, before
SQLAlchemy's first-connect queries) or checks them out (``checkout``); a PyMySQL connection is
attached before its handshake (``defer_connect``), as a server may trickle that too. On engines
salesgate creates, the pool's pre-ping is our ``checkout`` listener's, after the attachment, so a
ping is bounded like any statement. libpq bounds its own connect phase (``connect_timeout``).
"""

from __future__ import annotations

import contextvars
import math
import os
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

T = TypeVar("T")

_RETRY_CUT = 0.05  # a connection still without a socket when the budget ran out is cut again this often
_IDLE = 0.25  # seconds the watchdog of an engine's calls stays without calls to watch before its thread ends

_budgets: contextvars.ContextVar[dict[int, _Budget] | None] = contextvars.ContextVar(
    "salesgate_budgets", default=None)
"""The budgets of the calls running in this context, by CallDeadlines (one per engine): a store call
that asks the ERP inside its transaction runs under both the store's and the adapter's budget."""


class Overrun(Exception):
    """The call ran past its total deadline; its connections were cut."""


class _Budget:
    """One call's time budget and the connections it holds."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self.connections: list[Any] = []
        self.lock = threading.Lock()
        self.retry: threading.Timer | None = None

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def hold(self, connection: Any) -> None:
        with self.lock:
            self.connections.append(connection)
            if self.expired:
                _cut(connection)

    def release(self, connection: Any) -> None:
        with self.lock:
            self.connections = [c for c in self.connections if c is not connection]

    def expire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.expired = True
            pending = [c for c in self.connections if not _cut(c)]
            if pending:  # PyMySQL before its socket exists: try again shortly, until the call ends
                retry = threading.Timer(_RETRY_CUT, self.expire)
                retry.daemon = True
                retry.name = "salesgate: call deadline"
                self.retry = retry
                retry.start()

    def finish(self) -> None:
        with self.lock:
            self.done = True
            self.connections = []
            retry = self.retry
        if retry is not None:
            retry.cancel()


class _Watchdog:
    """Expires the budgets of one :class:`CallDeadlines` when their time is spent, from one thread.

    A timer thread per call cost more than the rest of a quick store call (starting a thread: ~0.1 ms,
    ~0.2 ms in all on a busy machine). Every budget of one CallDeadlines has the same length, so they
    end in the order they started: a queue, whose head is the next to end, is all the watchdog needs.
    Budgets whose call finished are dropped from the head as they come. The thread ends once it has
    had nothing to watch for :data:`_IDLE` seconds, and a new call starts it again.
    """

    def __init__(self) -> None:
        self._reset()
        _WATCHDOGS.add(self)

    def _reset(self) -> None:
        """As new: also what a forked child starts from (the parent's thread is not in it, and its lock
        may have been held at the fork)."""
        self._budgets: deque[_Budget] = deque()
        self._changed = threading.Condition(threading.Lock())
        self._running = False
        self._wakes_at = 0.0  # when the watchdog's current wait ends at the latest

    def watch(self, budget: _Budget) -> None:
        with self._changed:
            budgets = self._budgets
            while budgets and budgets[0].done:
                budgets.popleft()
            budgets.append(budget)
            if not self._running:
                # marked running once it is: a thread that cannot start (none left) must not leave it marked
                threading.Thread(target=self._run, name="salesgate: call deadline", daemon=True).start()
                self._running = True
            elif budget.ends < self._wakes_at:  # a budget shorter than the watchdog's nap (under _IDLE seconds)
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                due = self._next_due()
                if due is None:
                    self._running = False
                    return
            due.expire()

    def _next_due(self) -> _Budget | None:
        """The next budget whose time is spent (waiting for it), or None once idle for :data:`_IDLE` s."""
        budgets = self._budgets
        idle_since = time.monotonic()
        while True:
            while budgets and budgets[0].done:
                budgets.popleft()
            now = time.monotonic()
            if not budgets:
                if now - idle_since >= _IDLE:
                    return None
                self._nap(now, _IDLE)
                continue
            idle_since = now
            head = budgets[0]
            if head.ends <= now:
                return budgets.popleft()
            self._nap(now, min(head.ends - now, _IDLE))  # woken early only to drop finished calls

    def _nap(self, now: float, seconds: float) -> None:
        self._wakes_at = now + seconds
        self._changed.wait(seconds)


_WATCHDOGS: weakref.WeakSet[_Watchdog] = weakref.WeakSet()


def _after_fork() -> None:
    """In a forked child: a watchdog whose thread ran in the parent would wait for ever for a thread that is
    not there (no call's deadline kept again), so every watchdog starts afresh."""
    for watchdog in list(_WATCHDOGS):
        watchdog._reset()


os.register_at_fork(after_in_child=_after_fork)


class CallDeadlines:
    """Total deadlines for the calls made on one engine: ``seconds`` per call (``None``: no limit).

    ``own_pool``: the engine is ours, so its pre-ping is replaced by one that runs under the budget
    (an engine given by the caller keeps its own settings; its connections are still cut).
    """

    def __init__(self, engine: Engine, seconds: float | None, *, own_pool: bool) -> None:
        self.seconds = seconds
        self.engine = engine
        if seconds is None:
            return
        # First among the connect listeners: SQLAlchemy's own first-connect setup (the server version query)
        # runs in one of them, and a server may trickle its answer.
        event.listen(engine.pool, "connect", self._connected, insert=True)
        event.listen(engine.pool, "checkout", self._checkout)
        event.listen(engine.pool, "checkin", self._checkin)
        self._ping = own_pool
        self._watchdog = _Watchdog()
        if engine.dialect.driver == "pymysql":
            event.listen(engine, "do_connect", self._connect_pymysql)

    def current(self) -> _Budget | None:
        budgets = _budgets.get()
        return None if budgets is None else budgets.get(id(self))

    @contextmanager
    def call(self) -> Iterator[_Budget | None]:
        """The budget of one call, or the one already running in this context (nested calls share it)."""
        if self.seconds is None or self.current() is not None:
            yield self.current()
            return
        budget = _Budget(self.seconds)
        token = _budgets.set({**(_budgets.get() or {}), id(self): budget})
        self._watchdog.watch(budget)
        try:
            yield budget
        finally:
            budget.finish()
            _budgets.reset(token)

    def run(self, work: Callable[[], T]) -> T:
        """``work()`` under a budget: its result whenever it returned, even past the deadline (a write that
        returned has committed: a slow reset of the connection after the commit, or the thread descheduled
        there, must not report it unwritten); :class:`Overrun` if it raised after the budget ran out
        (whatever it raised: the cut is why)."""
        with self.call() as budget:
            try:
                return work()
            except Exception as error:
                if budget is not None and budget.expired:
                    raise Overrun() from error
                raise

    def check(self) -> None:
        """Raise :class:`Overrun` if the budget of the call running in this context has run out: called
        before a commit, so a call past its deadline writes nothing even where no blocked read was cut."""
        budget = self.current()
        if budget is not None and budget.expired:
            raise Overrun()

    def remaining(self) -> float | None:
        budget = self.current()
        return None if budget is None else budget.remaining()

    # -- pool and dialect events ----------------------------------------------------------------------
    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        record.info["salesgate_fresh"] = True  # no pre-ping at its first checkout
        budget = self.current()
        if budget is not None:
            budget.hold(dbapi_connection)

    def _checkout(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        budget = self.current()
        if budget is not None:
            budget.hold(dbapi_connection)
        if self._ping and not record.info.pop("salesgate_fresh", False):
            try:
                alive = self.engine.dialect.do_ping(dbapi_connection)
            except Exception as error:
                raise exc.DisconnectionError(f"pre-ping failed: {type(error).__name__}") from None
            if not alive:
                raise exc.DisconnectionError("pre-ping failed")

    def _checkin(self, dbapi_connection: Any, _record: Any) -> None:
        budget = self.current()
        if budget is not None and dbapi_connection is not None:
            budget.release(dbapi_connection)

    def _connect_pymysql(self, dialect: Any, _record: Any, cargs: tuple[Any, ...],
                         cparams: dict[str, Any]) -> Any:
        budget = self.current()
        if budget is None:
            return None  # SQLAlchemy connects as usual
        remaining = max(1, math.ceil(budget.remaining()))
        cparams = {**cparams, "defer_connect": True,
                   "connect_timeout": min(cparams.get("connect_timeout") or remaining, remaining)}
        connection = dialect.loaded_dbapi.connect(*cargs, **cparams)  # pymysql.connect
        budget.hold(connection)
        try:
            connection.connect()
        finally:
            budget.release(connection)
        return connection


def _cut(connection: Any) -> bool:
    """Make a blocked driver call on ``connection`` return now; ``False`` if there is nothing to cut yet."""
    raw = getattr(connection, "driver_connection", connection)
    try:
        if hasattr(raw, "_sock"):  # PyMySQL: no socket yet while it connects
            if raw._sock is None:
                return False
            raw._sock.shutdown(socket.SHUT_RDWR)
        elif hasattr(raw, "pgconn"):  # psycopg 3
            duplicate = socket.socket(fileno=os.dup(raw.pgconn.socket))
            try:
                duplicate.shutdown(socket.SHUT_RDWR)  # shuts the socket itself, under libpq's descriptor too
            finally:
                duplicate.close()
        elif callable(getattr(raw, "interrupt", None)):  # sqlite3
            raw.interrupt()
    except Exception:  # noqa: S110 - closed already (every driver says so its own way): nothing left to cut
        pass
    return True
