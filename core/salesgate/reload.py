"""Safe policy reloads: a running Gate takes a changed policy directory only once it is proven good.

A :class:`PolicyReloader` watches one policy directory for a :class:`~salesgate.Gate`. When the
directory's content changes it loads the new policy (every check of the policy language), runs
the directory's own test cases (``tests/*.yaml``) against it on a fresh gate with the same
backend, and only then swaps it in with :meth:`Gate.replace_policy`, which is atomic: every
decision is made entirely by the old policy or entirely by the new one, and names it
(``decision.policy``: name, version, hash). A policy that fails to load, fails a test case, or
changes while it is being read never replaces the running one; the failure is logged on the
``salesgate.reload`` logger and kept as :attr:`PolicyReloader.last_rejected`, and the old policy
keeps deciding.

    reloader = PolicyReloader(gate, "/srv/salesgate/rules", interval=5)
    reloader.start()                       # daemon thread: a check every 5 s
    ...
    reloader.status.as_dict()              # for a health endpoint
    reloader.stop()

or, without a thread, ``reloader.check_now()`` whenever the application decides (a SIGHUP, an
admin endpoint). Change detection is by content, not by timestamps: a hash over every file a
reload reads (``policy.yaml``, the rule files, ``tests/*.yaml``), read from the directory the
path resolves to at that moment, so a symlink swapped to a new directory is read entirely from
one side. The deployment recipe is in docs/reloading.md.

Only the standard library is used: polling a handful of small files every few seconds costs
less than any file-watching dependency, and behaves the same on every platform and filesystem.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from .decisions import PolicyRef
from .errors import PolicyError, SalesgateError
from .logs import get_logger
from .policy.calendarfiles import calendar_files
from .policy.compiler import POLICY_FILE, Policy, load_policy, rule_files
from .policy.declarations import point_files
from .policy.testcases import TESTS_DIR, case_files, load_cases, run_suite

__all__ = ["PolicyReloader", "ReloadResult", "ReloadStatus", "ReloadTarget", "content_hash"]

logger = get_logger("salesgate.reload")

ReloadStatus = Literal["reloaded", "unchanged", "rejected", "unsettled"]


@dataclass(frozen=True)
class ReloadResult:
    """What one check of the policy directory found and did.

    ``status``:

    * ``reloaded``: the directory held a new policy, it passed its checks and tests, and the gate
      now decides by it;
    * ``unchanged``: nothing new to take (same content as last time, or the same policy hash as
      the running one);
    * ``rejected``: the directory could not be read, the policy is invalid, or a test case
      failed: the gate keeps its policy; ``problems`` says why, one line each;
    * ``unsettled``: the directory changed while it was being read (a copy in progress), or the
      running policy was replaced by someone else meanwhile: nothing
      was taken; the next check looks again.
    """

    status: ReloadStatus
    path: str
    message: str
    running: PolicyRef
    candidate: PolicyRef | None = None
    content_hash: str | None = None
    source: str | None = None
    problems: tuple[str, ...] = ()
    cases: int = 0
    failed: int = 0
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        """True when the gate runs what the directory holds (reloaded, or nothing to take)."""
        return self.status in ("reloaded", "unchanged")

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, for a health or admin endpoint."""
        return {
            "status": self.status, "ok": self.ok, "path": self.path, "source": self.source,
            "message": self.message, "problems": list(self.problems),
            "running": self.running.model_dump(mode="json"),
            "candidate": self.candidate.model_dump(mode="json") if self.candidate else None,
            "content_hash": self.content_hash, "cases": self.cases, "failed": self.failed,
            "checked_at": self.checked_at.isoformat(),
        }


def content_hash(path: str | Path) -> str:
    """A hash of every file a reload of ``path`` reads: ``policy.yaml``, the rule files, ``points/*.yaml``,
    ``calendars/*.yaml``, ``tests/*.yaml``.

    File names are hashed with their content, so renaming, adding or removing a file changes it.
    Raises OSError when the directory or a file cannot be read.
    """
    root = Path(path)
    files = [root / POLICY_FILE] if (root / POLICY_FILE).is_file() else []
    files += rule_files(root) + point_files(root) + calendar_files(root) + case_files(root)
    digest = hashlib.sha256()
    for file in files:
        data = file.read_bytes()
        name = file.relative_to(root).as_posix().encode()
        digest.update(b"%d:%s\0%d\0" % (len(name), name, len(data)) + data)
    return digest.hexdigest()[:16]


class ReloadTarget(Protocol):
    """What a reloader needs of the gate it swaps policies into: a :class:`~salesgate.Gate`.

    Written as a protocol so this module does not import the gate, which offers ``Gate.reload``."""

    @property
    def policy(self) -> Policy: ...

    @property
    def backend(self) -> str: ...

    def replace_policy(self, policy: Policy, *, if_current: str | None = None) -> bool: ...

    def for_cases(self, policy: Policy) -> Any:
        """A fresh gate (a context manager) for running ``policy``'s test cases on this backend."""


class PolicyReloader:
    """Watches a policy directory and swaps a changed, valid, tested policy into ``gate``.

    ``run_tests`` (default on) runs the directory's ``tests/*.yaml`` against the candidate;
    ``require_tests`` also rejects a directory without any case, and ``require_coverage`` one in
    which some rule fires in no passing case. ``interval`` is the polling period of
    :meth:`start`'s thread. ``settle`` is how long a changed directory must stay unchanged before
    it is read: a copy still in progress shows up as ``unsettled`` and is looked at again on the
    next check, never loaded half-written (the content is compared again after loading and
    testing, too).

    Checks are serialised: :meth:`check_now` may be called from any thread, also while the
    polling thread runs. The reloader never raises from a check; it returns a
    :class:`ReloadResult` and logs what it did on ``salesgate.reload``.
    """

    def __init__(
        self,
        gate: ReloadTarget,
        path: str | Path,
        *,
        run_tests: bool = True,
        require_tests: bool = False,
        require_coverage: bool = False,
        interval: float = 5.0,
        settle: float = 1.0,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, not {interval!r}")
        if not settle >= 0:
            raise ValueError(f"settle must be zero or a positive number of seconds, not {settle!r}")
        self._gate = gate
        self._path = Path(path)
        self._run_tests = run_tests
        self._require_tests = require_tests
        self._require_coverage = require_coverage
        self.interval = interval
        self.settle = settle
        self._check_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._seen: str | None = None  # content hash of the directory last judged (taken or rejected)
        self._last: ReloadResult | None = None
        self._last_rejected: ReloadResult | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()

    # -- state ---------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._path

    @property
    def status(self) -> ReloadResult | None:
        """The result of the latest check (None before the first)."""
        with self._state_lock:
            return self._last

    @property
    def last_rejected(self) -> ReloadResult | None:
        """The latest rejected directory, kept until a later policy is taken: what to fix."""
        with self._state_lock:
            return self._last_rejected

    @property
    def running(self) -> bool:
        """Whether the polling thread is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- checking ------------------------------------------------------------------------------
    def check_now(self, *, force: bool = False) -> ReloadResult:
        """Look at the directory now and take its policy if it changed and passes; never raises.

        ``force`` judges the directory again even if its content was already judged (e.g. after
        a rejection caused by something outside the directory).
        """
        with self._check_lock:
            try:
                result = self._check(force)
            except Exception as exc:  # a bug or an unexpected failure must not stop the service
                logger.exception("salesgate: checking the policy in %s failed", self._path)
                result = self._result("rejected", f"checking failed: {type(exc).__name__}: {exc}")
            self._record(result)
            return result

    def _check(self, force: bool) -> ReloadResult:
        try:
            source = self._path.resolve(strict=True)
            before = content_hash(source)
        except OSError as exc:
            return self._result("rejected", f"cannot read {self._path}: {exc.strerror or exc}")
        if before == self._seen and not force:
            return self._result("unchanged", "no change", content_hash=before, source=source)
        if self.settle:
            time.sleep(self.settle)
            if _safe_hash(source) != before:
                return self._result("unsettled", f"{source} is changing (a copy in progress?): looking again later",
                                    content_hash=before, source=source)
        try:
            outcome = self._judge(source, before)
        except Exception:
            self._seen = before  # judged, if by a failure: logged once (check_now), not on every poll
            raise
        if outcome.status != "unsettled":
            self._seen = before  # judged: not loaded and tested again until the content changes
        return outcome

    def _judge(self, source: Path, digest: str) -> ReloadResult:
        """Load, test and (when unchanged since ``digest`` was taken) swap in the policy at ``source``."""
        running = self._gate.policy
        try:
            hooks = getattr(self._gate, "hooks", None)  # a Gate's: the points its plugins declare
            policy = load_policy(source, points=hooks.register_points().values() if hooks is not None else ())
        except PolicyError as exc:
            return self._changed_since(source, digest) or self._result(
                "rejected", f"invalid policy in {source}: {_count(len(exc.problems), 'problem')}",
                problems=tuple(str(p) for p in exc.problems), content_hash=digest, source=source)
        if policy.hash == running.hash:
            return self._result("unchanged", f"same policy as running ({policy.hash})", candidate=policy.ref,
                                content_hash=digest, source=source)
        cases = 0
        if self._run_tests:
            rejection, cases = self._test(policy, source, digest)
            if rejection is not None:
                return self._changed_since(source, digest) or rejection
        changed = self._changed_since(source, digest)
        if changed is not None:
            return changed
        try:
            swapped = self._gate.replace_policy(policy, if_current=running.hash)
        except (SalesgateError, ImportError) as exc:
            return self._result("rejected", f"the {self._gate.backend} backend refused the policy: {exc}",
                                candidate=policy.ref, content_hash=digest, source=source)
        if not swapped:  # someone else replaced the running policy while this one was being checked
            return self._result("unsettled", f"the running policy changed from {running.hash} while {source} was "
                                             "being checked: looking again later",
                                candidate=policy.ref, content_hash=digest, source=source)
        tested = f"; {_count(cases, 'case')} passed" if self._run_tests else "; tests not run"
        return self._result(
            "reloaded", f"policy {policy.name} {policy.version} ({policy.hash}) from {source} replaces "
                        f"{running.name} {running.version} ({running.hash}){tested}",
            candidate=policy.ref, content_hash=digest, source=source, cases=cases)

    def _test(self, policy: Policy, source: Path, digest: str) -> tuple[ReloadResult | None, int]:
        """Run the directory's cases on a fresh gate: a rejection (None when they pass), and how many ran."""

        def reject(message: str, problems: tuple[str, ...] = (), cases: int = 0, failed: int = 0) -> ReloadResult:
            return self._result("rejected", message, candidate=policy.ref, problems=problems,
                                content_hash=digest, source=source, cases=cases, failed=failed)

        try:
            cases = load_cases(source, policy)
        except PolicyError as exc:
            return reject(f"invalid test cases in {source / TESTS_DIR}: {_count(len(exc.problems), 'problem')}",
                          tuple(str(p) for p in exc.problems)), 0
        if not cases and self._require_tests:
            return reject(f"no test cases in {source / TESTS_DIR}: this reloader requires a policy's tests"), 0
        backend = self._gate.backend
        try:
            with self._gate.for_cases(policy) as gate:
                suite = run_suite(gate, cases)
        except (SalesgateError, ImportError) as exc:
            return reject(f"the {backend} backend refused the policy: {exc}"), len(cases)
        if not suite.passed:
            failed = len(suite.failed)
            return reject(f"{_count(failed, 'test case')} of {len(cases)} failed",
                          tuple(r.report() for r in suite.failed), len(cases), failed), len(cases)
        rules = suite.uncovered() if self._require_coverage else []
        if rules:
            return reject(f"{_count(len(rules), 'rule')} fire in no passing case",
                          tuple(f"{r.file}:{r.line}: {r.id} ({r.hook}) fires in no passing case" for r in rules),
                          len(cases)), len(cases)
        return None, len(cases)

    def _changed_since(self, source: Path, digest: str) -> ReloadResult | None:
        """An ``unsettled`` result if the directory changed since ``digest``: what was read may be a mix."""
        if _safe_hash(source) != digest:
            return self._result("unsettled", f"{source} changed while it was being checked: looking again later",
                                content_hash=digest, source=source)
        return None

    def _result(self, status: ReloadStatus, message: str, *, candidate: PolicyRef | None = None,
                problems: tuple[str, ...] = (), content_hash: str | None = None, source: Path | None = None,
                cases: int = 0, failed: int = 0) -> ReloadResult:
        return ReloadResult(status=status, path=str(self._path), message=message, running=self._gate.policy.ref,
                            candidate=candidate, content_hash=content_hash,
                            source=str(source) if source is not None else None, problems=problems,
                            cases=cases, failed=failed)

    def _record(self, result: ReloadResult) -> None:
        with self._state_lock:
            previous, self._last = self._last, result
            if result.status == "rejected":
                self._last_rejected = result
            elif result.status == "reloaded":
                self._last_rejected = None
        repeated = previous is not None and (previous.status, previous.message) == (result.status, result.message)
        if result.status == "reloaded":
            logger.info("salesgate: %s", result.message)
        elif result.status == "rejected" and not repeated:
            details = "".join(f"\n  {line}" for problem in result.problems for line in problem.splitlines())
            logger.error("salesgate: policy in %s rejected, still deciding by %s %s (%s): %s%s", result.path,
                         result.running.name, result.running.version, result.running.hash, result.message, details)
        elif result.status == "unsettled" and not repeated:
            logger.info("salesgate: %s", result.message)
        else:
            logger.debug("salesgate: policy in %s: %s", result.path, result.message)

    # -- the polling thread --------------------------------------------------------------------
    def start(self) -> PolicyReloader:
        """Check now and then every ``interval`` seconds on a daemon thread (idempotent)."""
        if self.running:
            return self
        self._stop = threading.Event()
        self._wake.clear()
        self._thread = threading.Thread(target=self._poll, args=(self._stop,), name=f"salesgate-reload:{self._path}",
                                        daemon=True)
        self._thread.start()
        return self

    def request_check(self) -> None:
        """Make the polling thread check at once (e.g. from a SIGHUP handler); safe from any thread."""
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the polling thread and wait for it (a check in progress finishes first)."""
        thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def _poll(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.check_now()
            self._wake.wait(self.interval)
            self._wake.clear()

    def __enter__(self) -> PolicyReloader:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _safe_hash(source: Path) -> str | None:
    try:
        return content_hash(source)
    except OSError:
        return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
