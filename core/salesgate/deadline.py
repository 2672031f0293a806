"""Deadlines: a gate answers within its ``timeout`` whatever its adapters and store are doing.

A call that may block on a database (loading facts, reserving credit, recording a decision) runs on
a daemon thread (kept for the gate's next calls: :class:`Workers`) while the caller waits at most the
time left. A call that overruns is abandoned,
not killed — Python cannot kill a thread — so it receives a :class:`Cancellation` (an Event) that is
set when the caller stops waiting: work that writes claims its commit through it (or checks it) before
committing, and a caller whose deadline passes once the commit began waits for the commit. The thread is a
daemon, so a hung connection never keeps the ERP's process from exiting; how many such threads a
gate can have is bounded by :class:`Stragglers`.
"""

from __future__ import annotations

import contextvars
import logging
import os
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import AdapterError
from .redaction import redact

T = TypeVar("T")

logger = logging.getLogger("salesgate")

_FORK_RESET: weakref.WeakSet[Stragglers | Backlog | Workers] = weakref.WeakSet()
"""Every gate's threads and abandoned-call counts, reset in a forked child (:func:`_after_fork`)."""


class DeadlineExceeded(AdapterError):
    """Something the gate waited for (an adapter, the store) did not answer within the gate's timeout."""


class Stragglers:
    """Counts the calls one gate abandoned that are still running, and refuses new ones past ``limit``.

    An abandoned call keeps its thread until the adapter or store under it gives up — the store and
    the SQL adapter cut a call's connection at their own timeout (salesgate_adapters.deadlines), so
    a thread outlives its caller by at most that. The limit bounds the threads a gate can have
    waiting on a database that answers no one: a new call finding ``limit`` stragglers is answered
    at once (:class:`DeadlineExceeded`, so the gate's failure mode) without starting a thread. Calls
    admitted before the limit was reached can still be abandoned after it: at most ``limit`` plus the
    number of calls running at that moment, less one (a strict cap would limit live concurrency too).
    """

    def __init__(self, limit: int, on_idle: Callable[[], None] | None = None) -> None:
        """``on_idle`` is called (on the thread of the call) when the last abandoned call still running ends."""
        if limit < 1:
            raise ValueError(f"the limit of abandoned calls must be at least 1, got {limit}")
        self.limit = limit
        self.on_idle = on_idle
        self._reset()
        _FORK_RESET.add(self)

    def _reset(self) -> None:
        """No abandoned call: also what a forked child starts from (no abandoned call of the parent runs in it)."""
        self._count = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return self._count

    def admit(self, what: str) -> None:
        if self._count >= self.limit:
            raise DeadlineExceeded(f"not {what}: {self._count} earlier calls abandoned at their deadline are "
                                   f"still waiting for the database (at most {self.limit})")

    def _change(self, by: int) -> None:
        with self._lock:
            self._count += by
            ended = by < 0 and self._count == 0
        if ended and self.on_idle is not None:
            self.on_idle()


class Backlog:
    """Recordings a gate could not start at once, because it had ``max_abandoned_calls`` calls abandoned
    and still running: run later, one after the other, on a single thread per gate.

    The thread starts with the first recording waiting and ends when none is left, so it holds at most
    one connection of a store that answers slowly, and what it holds is bounded by the store's timeout
    per recording. At most ``limit`` recordings wait; one more is dropped, counted in ``dropped`` and
    logged as an error. ``on_idle`` is called (on the backlog's thread) when the last one has run.
    """

    def __init__(self, limit: int = 1000, on_idle: Callable[[], None] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"the limit of waiting recordings must be at least 1, got {limit}")
        self.limit = limit
        self.on_idle = on_idle
        self.dropped = 0
        self._reset()
        _FORK_RESET.add(self)

    def _reset(self) -> None:
        """Empty: also what a forked child starts from (the parent's backlog thread is not in it)."""
        self._pending: deque[tuple[str, Callable[[], None]]] = deque()
        self._running = False
        self._lock = threading.Lock()

    @property
    def idle(self) -> bool:
        """Nothing waits and nothing runs."""
        return not self._running

    def add(self, what: str, work: Callable[[], None]) -> None:
        """Run ``work`` after the recordings already waiting (in the caller's context: who asked, e.g.)."""
        context = contextvars.copy_context()
        with self._lock:
            full = len(self._pending) >= self.limit
            if full:
                self.dropped += 1
                dropped = self.dropped
            else:
                self._pending.append((what, lambda: context.run(work)))
                start, self._running = not self._running, True
        if full:
            logger.error("salesgate: not %s: %d recordings wait already (at most %d); %d dropped so far", what,
                         self.limit, self.limit, dropped)
            return
        if start:
            try:
                threading.Thread(target=self._drain, name="salesgate: recording backlog", daemon=True).start()
            except RuntimeError as error:  # no thread left: what waits is lost, and said so
                with self._lock:
                    lost = len(self._pending)
                    self._pending.clear()
                    self._running = False
                    self.dropped += lost
                logger.error("salesgate: %d recordings dropped: no thread could be started (%s)", lost, error)
                self._ended()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._running = False
                    break
                what, work = self._pending.popleft()
            try:
                work()
            except Exception as error:  # a recorder's failure changes nothing for the next one
                logger.error("salesgate: %s failed in the background: %s: %s", what, type(error).__name__,
                             redact(str(error)))
        self._ended()

    def _ended(self) -> None:
        if self.on_idle is not None:
            self.on_idle()


IDLE_WORKER = "salesgate idle worker"
"""The name of a worker thread waiting for a call; one running a call is named ``salesgate: <what it does>``."""


class Workers:
    """The threads a gate runs its bounded calls on, kept for its next calls.

    Starting a thread costs about 0.1 ms, and a decision on a gate with a store makes two such calls
    (recording in the store, then the other recorders). A thread that finished its call waits for
    the next one ``idle`` seconds, then ends; one still running a call it was abandoned in is not
    reused until that call returns, so abandoned calls never delay new ones.
    """

    def __init__(self, idle: float = 0.25) -> None:
        self.idle = idle
        self._reset()
        _FORK_RESET.add(self)

    def _reset(self) -> None:
        """No thread waiting: also what a forked child starts from (the parent's threads are not in it, so a
        call handed to one of them would never run)."""
        self._calls: queue.SimpleQueue[tuple[str, Callable[[], None]]] = queue.SimpleQueue()
        self._waiting = 0  # threads waiting for a call, less the calls handed to them and not yet taken
        self._lock = threading.Lock()

    def run(self, what: str, call: Callable[[], None]) -> None:
        """Run ``call`` on a waiting thread, else on a new one."""
        with self._lock:
            reuse = self._waiting > 0
            if reuse:
                self._waiting -= 1
        if reuse:
            self._calls.put((what, call))
        else:
            threading.Thread(target=self._serve, args=(what, call), name=f"salesgate: {what}", daemon=True).start()

    def _serve(self, what: str, call: Callable[[], None]) -> None:
        me = threading.current_thread()
        while True:
            me.name = f"salesgate: {what}"
            call()
            me.name = IDLE_WORKER
            with self._lock:
                self._waiting += 1
            try:
                what, call = self._calls.get(timeout=self.idle)
            except queue.Empty:
                with self._lock:
                    if self._waiting > 0:  # more threads wait than calls were handed over: this one may end
                        self._waiting -= 1
                        return
                what, call = self._calls.get()  # a call is on its way to this thread


def _after_fork() -> None:
    """In a forked child (e.g. a pre-forking web server that built its gate before forking): only the
    forking thread exists, so every gate's threads and abandoned calls are forgotten."""
    for threads in list(_FORK_RESET):
        threads._reset()


os.register_at_fork(after_in_child=_after_fork)


class Cancellation(threading.Event):
    """Set when the caller of a bounded call stops waiting for it.

    Work that writes calls :meth:`begin_commit` right before its commit, instead of only reading the
    flag: from then on the caller does not stop waiting at its deadline but waits for the commit
    (at most the deadline's ``grace``), so a write that commits is never answered as if it had not.
    """

    def __init__(self, lock: threading.Lock) -> None:
        super().__init__()
        self._lock = lock
        self.committing = False

    def begin_commit(self) -> bool:
        """``False`` if the caller stopped waiting (roll back); else the commit may start: the caller waits for it."""
        with self._lock:
            if self.is_set():
                return False
            self.committing = True
            return True


class _Call(Generic[T]):
    def __init__(self, work: Callable[[threading.Event], T], stragglers: Stragglers | None) -> None:
        self.work = work
        self.stragglers = stragglers
        self.lock = threading.Lock()
        self.abandoned = Cancellation(self.lock)
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def __call__(self) -> None:
        try:
            self.result = self.work(self.abandoned)
        except BaseException as exc:  # handed to the waiting caller, or logged if it left
            self.error = exc
            if self.abandoned.is_set():
                logger.warning("salesgate: abandoned call failed after the deadline: %s: %s", type(exc).__name__,
                               redact(str(exc)))
        finally:
            with self.lock:
                self.done.set()
                if self.abandoned.is_set() and self.stragglers is not None:
                    self.stragglers._change(-1)

    def abandon(self, grace: float = 0.0) -> bool:
        """Stop waiting; ``False`` if the call finished just now after all (its result stands).

        A call that began its commit (:meth:`Cancellation.begin_commit`) is waited for up to ``grace``
        seconds more: its commit decides. Past that it is abandoned all the same, and a warning says
        the write may have been committed although its caller is answered otherwise."""
        with self.lock:
            if self.done.is_set():
                return False
            if not self.abandoned.committing:
                self._abandon()
                return True
        if self.done.wait(grace):
            return False
        with self.lock:
            if self.done.is_set():
                return False
            self._abandon()
        logger.warning("salesgate: a commit did not end within %g s more after the deadline: it may have been "
                       "committed although its caller is answered otherwise", grace)
        return True

    def _abandon(self) -> None:
        self.abandoned.set()
        if self.stragglers is not None:
            self.stragglers._change(+1)


class Deadline:
    """A time budget for one decision, shared by every call made for it; ``None`` means no limit."""

    def __init__(self, seconds: float | None, stragglers: Stragglers | None = None,
                 workers: Workers | None = None, grace: float = 0.0, backlog: Backlog | None = None) -> None:
        """``grace``: how much longer a call that began its commit when time ran out is waited for
        (a gate passes its store's timeout, which bounds the store's whole call). ``backlog``: where
        :meth:`run_detached` leaves work that ``stragglers`` refuses a thread of its own."""
        if seconds is not None and seconds <= 0:
            raise ValueError(f"timeout must be positive seconds, got {seconds}")
        self.seconds = seconds
        self.grace = grace
        self.backlog = backlog
        self.stragglers = stragglers
        self.workers = workers
        self._ends = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float | None:
        return None if self._ends is None else max(0.0, self._ends - time.monotonic())

    def run(self, what: str, work: Callable[[threading.Event], T]) -> T:
        """Return ``work(abandoned)``'s result, or raise :class:`DeadlineExceeded` when time runs out
        (:class:`AdapterError` when no thread can be started for it: the process is out of threads)."""
        if self._ends is None:
            return work(threading.Event())
        try:
            call = self._start(what, work)
        except RuntimeError as error:  # "can't start new thread": the process is out of threads
            logger.error("salesgate: not %s: no thread could be started (%s)", what, error)
            raise AdapterError(f"not {what}: no thread could be started ({error})") from None
        if not call.done.wait(self.remaining()) and call.abandon(self.grace):
            raise DeadlineExceeded(f"no answer within {self.seconds:g} s while {what}")
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[return-value]  # set whenever error is not

    def run_detached(self, what: str, work: Callable[[], None]) -> None:
        """Run ``work``, waiting at most the time left; if it needs longer it finishes in the background.

        Refused a thread of its own (``stragglers`` at their limit), it waits in the ``backlog``, if any,
        and runs when the recordings before it have: the caller's answer never waits for it."""
        if self._ends is None:
            work()
            return
        try:
            call = self._start(what, lambda _abandoned: work())
        except DeadlineExceeded as refused:  # the database answers no one: the caller's answer must not wait
            if self.backlog is None:
                logger.warning("salesgate: %s", refused)
            else:
                logger.warning("salesgate: %s; left to the gate's backlog", refused)
                self.backlog.add(what, work)
            return
        except RuntimeError as error:  # "can't start new thread": the caller's answer stands all the same
            logger.error("salesgate: not %s: no thread could be started (%s)", what, error)
            return
        if not call.done.wait(self.remaining()) and call.abandon():
            logger.warning("salesgate: %s continues in the background after the %g s deadline", what, self.seconds)
        elif call.error is not None:
            raise call.error

    def _start(self, what: str, work: Callable[[threading.Event], T]) -> _Call[T]:
        if self.stragglers is not None:
            self.stragglers.admit(what)
        call = _Call(work, self.stragglers)
        context = contextvars.copy_context()
        if self.workers is not None:
            self.workers.run(what, lambda: context.run(call))
        else:
            threading.Thread(target=context.run, args=(call,), name=f"salesgate: {what}", daemon=True).start()
        return call
