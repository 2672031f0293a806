"""Deadlines: a gate answers within its ``timeout`` whatever its adapters and store are doing.

A call that may block on a database (loading facts, reserving credit, recording a decision) runs on
a daemon thread while the caller waits at most the time left. A call that overruns is abandoned,
not killed — Python cannot kill a thread — so it receives an :class:`threading.Event` that is set
when the caller stops waiting: work that writes checks it before committing. The thread is a
daemon, so a hung connection never keeps the ERP's process from exiting.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import AdapterError
from .redaction import redact

T = TypeVar("T")

logger = logging.getLogger("salesgate")


class DeadlineExceeded(AdapterError):
    """Something the gate waited for (an adapter, the store) did not answer within the gate's timeout."""


class _Call(Generic[T]):
    def __init__(self, work: Callable[[threading.Event], T]) -> None:
        self.work = work
        self.abandoned = threading.Event()
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
            self.done.set()


class Deadline:
    """A time budget for one decision, shared by every call made for it; ``None`` means no limit."""

    def __init__(self, seconds: float | None) -> None:
        if seconds is not None and seconds <= 0:
            raise ValueError(f"timeout must be positive seconds, got {seconds}")
        self.seconds = seconds
        self._ends = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float | None:
        return None if self._ends is None else max(0.0, self._ends - time.monotonic())

    def run(self, what: str, work: Callable[[threading.Event], T]) -> T:
        """Return ``work(abandoned)``'s result, or raise :class:`DeadlineExceeded` when time runs out."""
        if self._ends is None:
            return work(threading.Event())
        call = self._start(what, work)
        if not call.done.wait(self.remaining()):
            call.abandoned.set()
            raise DeadlineExceeded(f"no answer within {self.seconds:g} s while {what}")
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[return-value]  # set whenever error is not

    def run_detached(self, what: str, work: Callable[[], None]) -> None:
        """Run ``work``, waiting at most the time left; if it needs longer it finishes in the background."""
        if self._ends is None:
            work()
            return
        call = self._start(what, lambda _abandoned: work())
        if not call.done.wait(self.remaining()):
            call.abandoned.set()
            logger.warning("salesgate: %s continues in the background after the %g s deadline", what, self.seconds)
        elif call.error is not None:
            raise call.error

    @staticmethod
    def _start(what: str, work: Callable[[threading.Event], T]) -> _Call[T]:
        call = _Call(work)
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(call,), name=f"salesgate: {what}", daemon=True).start()
        return call
