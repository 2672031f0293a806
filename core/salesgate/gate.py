"""The Gate: what an ERP embeds. One policy, one backend, one plugin manager per Gate."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from . import defaults
from .completion import OrderInput, ReturnInput, checked_subject, complete, subject_of, with_reserved
from .context import DecisionContext
from .deadline import Backlog, Deadline, Stragglers, Workers
from .decisions import Decision, Outcome, Reason
from .engine import DEFAULT_BACKEND, BackendName, make_backend
from .errors import AdapterError, FactsError, PluginError, SalesgateError, StoreError, did_you_mean
from .logs import get_logger
from .models import OrderFacts, ReturnFacts
from .plugins import DatedSource, Hooks, build_plugin_manager, installed_points
from .pointspecs import BUILT_IN_POINTS, PointSpec
from .policy.compiler import Policy, load_policy
from .policy.stages import Backend
from .policy.verdict import decision_context
from .redaction import redact
from .reload import PolicyReloader, ReloadResult
from .seed import seed_policy_path

if TYPE_CHECKING:
    from .ports import Store
    from .records import Reservation

logger = get_logger("salesgate")

MAX_ABANDONED_CALLS = 16
"""Calls a gate stopped waiting for that may still hold a thread (each on a database answering no one, until
the store's or adapter's own timeout cuts its connection) before new decisions are answered at once."""


def case_gate(policy: Policy, backend: BackendName = DEFAULT_BACKEND) -> Gate:
    """A gate for running test cases: ``policy`` on ``backend`` with the built-in plugins except ``audit``.

    Installed plugins (entry points) are left out on purpose: a case tests the policy's rules,
    and must decide the same on a policy owner's laptop, in CI and in the running service. The
    ``audit`` plugin is left out too: a test case is not a decision, and must never reach the
    audit log of a service that checks a new policy before reloading it. Close it after use.
    Raises ImportError when the backend cannot start, EngineError when it refuses the policy.
    """
    return Gate(policy, backend=backend, entry_points=False, disable_plugins=["audit"])


_MODELS = (OrderFacts, ReturnFacts)


class GateClosedError(SalesgateError):
    """A decision was asked of a gate after :meth:`Gate.close`."""


@dataclass
class _Loaded:
    """A policy with its backend. ``users`` counts decisions in flight, so a replaced backend is
    closed by whichever finishes with it last, never under a decision still matching on it."""

    policy: Policy
    backend: Backend
    users: int = 0
    retired: bool = False
    closed: bool = False  # the gate was closed: no new decision may start
    contexts: tuple[DecisionContext, DecisionContext] = field(init=False)
    dated: dict[tuple[bool, date], DecisionContext] = field(init=False, default_factory=dict)
    """The contexts of the days decided lately, by (explain, as-of date): every decision of a day shares one."""

    def __post_init__(self) -> None:
        # Immutable, so every decision on this policy shares them: (explain off, explain on).
        self.contexts = (decision_context(self.policy, self.backend, False),
                         decision_context(self.policy, self.backend, True))

    def context(self, explain: bool, day: date) -> DecisionContext:
        """The context of a decision as of ``day``: made once per day (and ``explain``), not per decision.
        Two threads making the same one at once make equal ones; a few days are kept (replays go back in time)."""
        found = self.dated.get((explain, day))
        if found is None:
            if len(self.dated) >= _DATED_CONTEXTS:
                self.dated.clear()
            found = self.dated[(explain, day)] = self.contexts[1 if explain else 0].on(day)
        return found


_DATED_CONTEXTS = 64


class Gate:
    """Decides orders and returns by a policy, through plugins.

    >>> gate = Gate.from_path("rules/")                # doctest: +SKIP
    >>> gate.approve_order(order_dict).outcome          # doctest: +SKIP

    Safe to call from many threads: the policy and backend are swapped as one immutable pair,
    and the durable-rules backend serialises its own calls.

    ``failure_mode`` (default: the policy's, else ``closed``) says what happens when deciding
    fails inside salesgate (a plugin raises, the engine errors): ``closed`` answers ``block``
    with the reason, ``open`` answers ``warn``. Invalid facts are the caller's error and raise
    :class:`FactsError` instead.

    ``store`` (a :class:`~salesgate_adapters.store.Store`, any other :class:`~salesgate.ports.Store` such as
    a ``MemoryStore``, or a database URL) keeps the decision log,
    approval requests and credit reservations (``check_credit(..., reserve=True)``); see
    docs/store.md. ``timeout`` (seconds; default: the store's timeout when there is a store) bounds
    loading facts, reserving and recording together: past it the gate answers by its failure mode
    ("credit data unavailable"), it never hangs the caller (a store call that began its commit
    before the deadline is waited for, the store's timeout at most, so a decision logged is the one
    answered). Once ``max_abandoned_calls`` (default 16)
    calls it stopped waiting for still hold a thread, decisions are answered at once without one (calls
    already running then may still add theirs: the cap is that plus the concurrent calls, less one).
    A decision the store could not log is never returned as if logged: the failure mode answers
    ("decision log unavailable").

    ``today`` fixes the as-of date of every decision the caller gives none (a ``date``, or a function
    returning one, e.g. a test's clock); by default it is today in the policy's time zone (``policy.yaml``
    ``timezone:``). ``decide(..., as_of=...)`` sets one decision's. The as-of date is what the rules read
    as ``today``, which rules are in force (``effective:``), what the data hooks count to, and what the
    decision records (``Decision.as_of``): same policy + facts + as-of date = same decision.
    """

    def __init__(
        self,
        policy: Policy,
        /,
        *,
        backend: BackendName = DEFAULT_BACKEND,
        plugins: Iterable[object] = (),
        disable_plugins: Iterable[str] = (),
        entry_points: bool = True,
        failure_mode: Literal["closed", "open"] | None = None,
        store: Store | str | None = None,
        timeout: float | None = None,
        max_abandoned_calls: int = MAX_ABANDONED_CALLS,
        adapter: str | object | None = None,
        adapter_options: Mapping[str, Any] | None = None,
        today: date | Callable[[], date] | None = None,
        **options: Any,
    ) -> None:
        self._backend_name: BackendName = backend
        self._timeout = Deadline(_seconds(timeout)).seconds  # checked here: a bad timeout fails at construction
        self._stragglers = Stragglers(max_abandoned_calls, on_idle=self._background_ended)
        self._backlog = Backlog(on_idle=self._background_ended)
        self._workers = Workers()
        # Without a timeout or a store a decision's budget is unlimited and holds no clock: one serves every call.
        self._unlimited = Deadline(None, self._stragglers, self._workers, backlog=self._backlog)
        self._resources_closed = False
        self._background = threading.Condition()  # notified when the last call in the background ends
        self._hooks = Hooks(build_plugin_manager(plugins, disable=disable_plugins, entry_points=entry_points))
        given = {"backend": backend != DEFAULT_BACKEND, "plugins": bool(plugins),
                 "disable_plugins": bool(disable_plugins),
                 "entry_points": not entry_points, "failure_mode": failure_mode is not None,
                 "store": store is not None, "timeout": timeout is not None}
        adapter_settings = _adapter_options(adapter_options, options)
        self._today = _today_option(today, adapter_settings)
        self._adapter = self._attach_adapter(adapter, adapter_settings, legacy=bool(options),
                                             gate_keywords={keyword for keyword, set_ in given.items() if set_})
        self._store, self._owns_store = self._attach_store(store, timeout)
        self._loaded = _Loaded(policy, make_backend(backend, policy.stages()))
        self._failure_mode = failure_mode
        self._lock = threading.Lock()

    def _attach_adapter(self, adapter: str | object | None, options: Mapping[str, Any], *, legacy: bool,
                        gate_keywords: set[str]) -> object | None:
        """Instantiate an adapter registered by name (or take an instance) and register it as a plugin.

        ``gate_keywords`` are the Gate's own keywords the caller set: with options passed the old way
        (as keywords of the Gate), one the adapter also takes went to the gate, and errors say so."""
        if adapter is None:
            if options:
                raise TypeError(f"unexpected options {', '.join(sorted(options))}: adapter options need adapter=..., "
                                "e.g. Gate(policy, adapter='sql', adapter_options={'url': ..., 'mapping': ...})")
            return None
        if isinstance(adapter, str):
            available = self._hooks.register_adapters()
            if adapter not in available:
                raise AdapterError(self._unknown_adapter(adapter, available))
            cls = available[adapter]
            accepted = _parameters(cls)
            if "today" in accepted and "today" not in options and self._today is not None:
                # an adapter counting to a day of its own (the sql adapter's today) counts to the gate's as-of date
                # outside decisions too (within one, every data hook is given it: as_of)
                options = {**options, "today": self._today}
            shadowed = sorted(k for k in gate_keywords if k in accepted and k not in options) if legacy else []
            try:
                instance: object = cls(**options)
            except TypeError as exc:
                given = ", ".join(sorted(options)) or "none"
                hint = "".join(f"; {k}= went to the Gate, not the adapter, as it is a Gate keyword: pass the "
                               f"adapter's as adapter_options={{{k!r}: ...}}" for k in shadowed)
                raise AdapterError(f"adapter {adapter!r} cannot be built from these options ({given}): {exc}{hint}"
                                   ) from None
            for keyword in shadowed:  # ambiguous, and it used to be allowed: say what happened, do not fail
                logger.warning("Gate(%s=...) is the gate's own %s; adapter %r keeps its default %s: pass it as "
                               "adapter_options={%r: ...}", keyword, keyword, adapter, keyword, keyword)
        else:
            if options:
                raise TypeError(f"adapter options ({', '.join(sorted(options))}) are only for an adapter given by "
                                f"name: configure the {type(adapter).__name__} instance itself")
            instance = adapter
        self._hooks.pm.register(instance, name="adapter")
        return instance

    def _unknown_adapter(self, name: str, available: Mapping[str, type]) -> str:
        """Why ``name`` is not an adapter: it or its plugin is disabled, or it is not installed."""
        disabled = self._hooks.why_adapter_unavailable(name)
        if disabled is not None:
            return disabled
        suggestion = did_you_mean(name, available)
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        off = sorted(self._hooks.disabled())
        also = f"; disabled plugins, which may register it: {', '.join(off)}" if off else ""
        return f"unknown adapter {name!r}{hint}: installed adapters are {', '.join(sorted(available)) or 'none'}{also}"

    @property
    def adapter(self) -> object | None:
        """The adapter plugin this gate reads facts through, if it was given one."""
        return self._adapter

    def _attach_store(self, store: Store | str | None, timeout: float | None) -> tuple[Store | None, bool]:
        """Open the store (a URL is opened lazily: no connection is made here) and register its recorder."""
        if store is None:
            return None, False
        if not isinstance(store, str):
            self._hooks.pm.register(defaults.store_recorder(store), name="store")
            return store, False
        # a URL: the default store, named in salesgate.defaults
        opened: Store = defaults.open_store(store) if timeout is None else defaults.open_store(store, timeout=timeout)
        self._hooks.pm.register(defaults.store_recorder(opened), name="store")
        return opened, True

    @property
    def store(self) -> Store | None:
        """The store this gate records decisions and reserves credit in, if it was given one."""
        return self._store

    @classmethod
    def from_path(cls, path: str | Path, /, **options: Any) -> Gate:
        """Load, check and compile the policy in ``path`` (a directory of rule files); ``options`` are
        the Gate's. ``path`` is positional only, so an adapter option may be called ``path`` too."""
        points = installed_points(options.get("plugins", ()), disable=options.get("disable_plugins", ()),
                                  entry_points=options.get("entry_points", True))
        return cls(load_policy(path, points=points), **options)

    @classmethod
    def default(cls, **options: Any) -> Gate:
        """A gate on the seed policy shipped with salesgate."""
        return cls.from_path(seed_policy_path(), **options)

    # -- state -----------------------------------------------------------------------------------
    @property
    def policy(self) -> Policy:
        return self._loaded.policy

    @property
    def backend(self) -> BackendName:
        return self._backend_name

    @property
    def hooks(self) -> Hooks:
        return self._hooks

    def replace_policy(self, policy: Policy, *, if_current: str | None = None) -> bool:
        """Swap in a new policy atomically; decisions in flight finish on the old one.

        ``if_current``: swap only while the running policy's hash is this one (compare and swap),
        so a reloader never overwrites a policy someone else put in after it looked. Returns
        whether the policy was swapped in.
        """
        new = _Loaded(policy, make_backend(self._backend_name, policy.stages()))
        with self._lock:
            if self._loaded.closed:
                new.backend.close()
                raise GateClosedError("this gate is closed: a closed gate takes no new policy")
            if if_current is not None and self._loaded.policy.hash != if_current:
                swapped = False
                old = new  # never used: close the backend built for nothing
                idle = True
            else:
                swapped = True
                old, self._loaded = self._loaded, new
                old.retired = True
                idle = old.users == 0
        if idle:
            old.backend.close()
        return swapped

    def reload(self, path: str | Path, **options: Any) -> ReloadResult:
        """Load ``path``, validate it and run its tests, and swap it in only if all pass.

        One check by :class:`salesgate.reload.PolicyReloader` (``options`` are its own: ``run_tests``,
        ``require_tests``, ``require_coverage``...; ``settle`` defaults to 0 here, as the caller says
        the directory is ready). For polling, use the reloader itself.
        """
        options.setdefault("settle", 0.0)
        return PolicyReloader(self, path, **options).check_now(force=True)

    def for_cases(self, policy: Policy) -> Gate:
        """A fresh gate that runs ``policy``'s test cases on this gate's backend (:func:`case_gate`):
        what a reloader judges a candidate policy by before swapping it in."""
        return case_gate(policy, self._backend_name)

    def _acquire(self) -> _Loaded:
        with self._lock:
            loaded = self._loaded
            if loaded.closed:
                raise GateClosedError("this gate is closed: build a new Gate to decide again")
            loaded.users += 1
        return loaded

    def _release(self, loaded: _Loaded) -> None:
        with self._lock:
            loaded.users -= 1
            idle = loaded.retired and loaded.users == 0
        if idle:
            loaded.backend.close()
            if loaded.closed:
                self._close_resources()

    def close(self) -> None:
        """Stop deciding. Decisions in flight finish (recording included) on the backend, store and
        adapter, which the last of them closes; a decision asked for after this raises
        :class:`GateClosedError`. Closing twice is a no-op.

        Calls abandoned at their deadline and recordings finishing in the background use the store and
        adapter too: close() waits for them, at most the store's timeout (else the gate's), which bounds
        each store call; any still running then closes the store and adapter when the last of them
        ends. So none opens connections on a store already closed, which nothing would close again,
        and a caller closing its own store after the gate closes it under no call of the gate's."""
        with self._lock:
            loaded = self._loaded
            if loaded.closed:
                return
            loaded.closed = loaded.retired = True
            idle = loaded.users == 0
        with self._background:
            self._background.wait_for(self._background_idle, self._deadline().grace)
        if idle:
            loaded.backend.close()
            self._close_resources()

    def _background_idle(self) -> bool:
        return self._stragglers.count == 0 and self._backlog.idle

    def _background_ended(self) -> None:
        """The last abandoned call, or the backlog's last recording, ended: close what a closed gate waited for."""
        with self._background:
            self._background.notify_all()
        self._close_resources()

    def _close_resources(self) -> None:
        """The store this gate opened and its adapter, once no decision uses them any more, nor any call
        in the background; once only."""
        with self._lock:
            loaded = self._loaded
            if self._resources_closed or not loaded.closed or loaded.users > 0 or not self._background_idle():
                return
            self._resources_closed = True
        if self._store is not None and self._owns_store:
            self._store.close()
        close = getattr(self._adapter, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- decisions -------------------------------------------------------------------------------
    def approve_order(self, facts: OrderInput, *, explain: bool = False, as_of: date | None = None) -> Decision:
        """Order approval: block, warn, or which roles must approve before the order is entered."""
        return self.decide("order_approval", facts, explain=explain, as_of=as_of)

    def check_credit(self, facts: OrderInput, *, explain: bool = False, reserve: bool = False,
                     as_of: date | None = None) -> Decision:
        """Credit check: exposure with this order against the customer's credit limit.

        ``reserve=True`` (needs a store) checks and holds the order's amount in one transaction under
        the customer's lock: the exposure the rules see includes ``exposure.reserved``, the credit
        held for the customer's other unconfirmed orders, and the order is held unless the outcome
        is ``block``. Confirm or cancel the hold with :meth:`confirm_reservation` /
        :meth:`cancel_reservation`. Asking again for the same order and amount on the same facts returns
        the decision made the first time; if the order or any fact changed, it is decided again (and the
        hold adjusted). Unless the caller passes ``exposure``, it is loaded inside the lock.
        """
        return self.decide("credit_check", facts, explain=explain, reserve=reserve, as_of=as_of)

    def confirm_reservation(self, order_id: str) -> Reservation | None:
        """The ERP committed the order: its reservation stops counting (the ERP's open orders count it).

        Call it after the ERP's commit. Idempotent; ``None`` if the order holds no reservation.
        Raises :class:`StoreError` when the store fails (:class:`AdapterError` when it misses the
        deadline): retry it; until it succeeds the amount is held, never lost (see docs/store.md). Refused
        (``ReservationError``, a StoreError a retry does not cure) when the reservation is cancelled or
        the order's latest credit check blocks: re-check the order, or cancel it.
        """
        store = self._require_store()
        return self._deadline().run("confirming a reservation", lambda _abandoned: store.confirm(order_id))

    def cancel_reservation(self, order_id: str) -> Reservation | None:
        """The order will not be entered: release its reservation. Idempotent, errors as for confirming."""
        store = self._require_store()
        return self._deadline().run("cancelling a reservation", lambda _abandoned: store.cancel(order_id))

    def _deadline(self) -> Deadline:
        """The budget of one call: the gate's ``timeout``, else its store's (so that with default options a
        gate on a store answers within the store's timeout, recording included), else none."""
        seconds = self._timeout
        if seconds is None and self._store is None:
            return self._unlimited
        if seconds is None and self._store is not None:
            seconds = self._store.timeout
        # A store call that began its commit as time ran out is waited for until it ends (the store's
        # timeout bounds its whole call): its commit, not the deadline, says whether the decision was logged.
        grace = self._store.timeout if self._store is not None and self._store.timeout is not None else seconds
        return Deadline(seconds, self._stragglers, self._workers, grace=grace or 0.0, backlog=self._backlog)

    def _require_store(self) -> Store:
        if self._store is None:
            raise AdapterError("this gate has no store: Gate(..., store=Store(url) or a database URL)")
        return self._store

    def price_order(self, facts: OrderInput, *, explain: bool = False, as_of: date | None = None) -> Decision:
        """Pricing: the policy price of every line, and approvals for prices below it."""
        return self.decide("pricing", facts, explain=explain, as_of=as_of)

    def handle_return(self, facts: ReturnInput, *, explain: bool = False, as_of: date | None = None) -> Decision:
        """Returns and compensation claims: accept, escalate or refuse; refund and fees."""
        return self.decide("return_handling", facts, explain=explain, as_of=as_of)

    def as_of(self, as_of: date | None = None) -> date:
        """The as-of date of a decision: ``as_of`` when given, else the gate's ``today``, else today in the
        policy's time zone."""
        return self._day(as_of, self._loaded.policy)

    def _day(self, as_of: date | None, policy: Policy) -> date:
        if as_of is not None:
            return _checked_day(as_of, "as_of")
        if self._today is not None:
            return _checked_day(self._today() if callable(self._today) else self._today, "today")
        return policy.today()

    def decide(self, point: str, /, facts: OrderInput | ReturnInput | Mapping[str, Any] | BaseModel, *,
               explain: bool = False, reserve: bool = False, as_of: date | None = None) -> Decision:
        """Decide at decision point ``point`` on ``facts`` (a model or a plain dict). Raises FactsError
        on bad facts only.

        ``point`` is a built-in point or one the policy in force (or an installed plugin) declares,
        e.g. ``gate.decide("shipment_release", {"shipment": {...}, "customer": {...}})``; a declared
        point's document may be given by id (``{"shipment": "DN-0001"}``) for an adapter to load.
        ``reserve`` is for ``credit_check`` on a gate with a store (see :meth:`check_credit`).
        ``as_of`` is the decision's as-of date (default: see the class); it raises TypeError when not a date.
        """
        if reserve and (point != "credit_check" or self._store is None):
            raise TypeError("reserve=True is for credit_check on a gate with a store: Gate(..., store=...)")
        if as_of is not None:
            _checked_day(as_of, "as_of")  # the caller's mistake: raised, never answered by the failure mode
        deadline = self._deadline()
        loaded = self._acquire()
        try:  # released once recorded too: close() frees the store only after the last recording
            spec = loaded.policy.points.get(point) if isinstance(point, str) else None
            if spec is None:
                raise FactsError(_unknown_point(point, loaded.policy))
            context = loaded.context(explain, self._day(as_of, loaded.policy))
            # A day the caller chose (decide(as_of=), Gate(today=)) is the adapters' too; the clock's default
            # leaves an adapter its own today (an adapter built with today= keeps counting to it)
            given = as_of is not None or self._today is not None
            return self._decide(point, facts, context, reserve, deadline, spec,
                                self._hooks.on(context.as_of if given else None))
        finally:
            self._release(loaded)

    def _decide(self, point: str, facts: Any, context: DecisionContext, reserve: bool,
                deadline: Deadline, spec: PointSpec, source: DatedSource) -> Decision:
        model: Any = None
        recorded_by: tuple[str, ...] = ()
        subject = checked_subject(point, facts, spec)  # before any adapter: a fallback must be loggable too
        try:
            model = self._load_facts(point, facts, deadline, reserve, spec, source)
        except FactsError:
            raise  # the caller's facts are wrong: that is theirs to fix, not a policy decision
        except Exception as exc:  # an adapter failed while loading facts
            decision = self._failed(point, subject, context, exc)
        else:
            try:
                if reserve:
                    decision, model = self._reserve(model, facts, context, deadline, source)
                    recorded_by = ("store",)  # logged in the reservation's own transaction
                elif spec.built_in:
                    # the subject read above is the model's own when the caller passed the model
                    decision = self._hooks.decide(point, model, context, subject if model is facts else None, spec)
                else:
                    decision = self._hooks.decide(point, model, context, subject, spec)
            except Exception as exc:  # An ERP must never be broken by salesgate: answer safely instead.
                decision = self._failed(point, subject_of(model, spec), context, exc)
        if self._store is None:
            # nothing to wait for that salesgate knows of: no thread hand-off (about 1 ms)
            self._hooks.record_decision(decision, model, skip=recorded_by)
            return decision
        return self._record(self._store, decision, model, recorded_by, context, deadline)

    def _record(self, store: Store, decision: Decision, model: OrderFacts | ReturnFacts | None,
                recorded_by: tuple[str, ...], context: DecisionContext, deadline: Deadline) -> Decision:
        """Log ``decision`` in the store, then hand it to the other recorders.

        A decision the store did not log (it failed, or did not answer within the deadline) is never
        returned as if logged: the failure mode answers instead, and that answer is logged whenever
        the store can take it (in the background once the deadline has passed; in the gate's bounded
        backlog when ``max_abandoned_calls`` refuses it a thread, dropped and logged as an error only
        past the backlog's limit). A decision whose commit began before the deadline is waited for
        (the store's timeout at most) and answered as its commit says. Other recorders are observers:
        their failures are logged and change nothing.
        """
        if "store" not in recorded_by and decision.failure is None:
            try:
                deadline.run("recording the decision",
                             lambda abandoned: store.record(decision, model, cancelled=abandoned))
            except Exception as exc:
                decision = self._failed(decision.hook, decision.subject, context, exc, cause="decision log")
            else:
                recorded_by = (*recorded_by, "store")
        # A fallback is answered as it is, whether or not the store can take it now: logged (by the
        # store plugin too) within the time left, else in the background whenever the store answers.
        final, facts = decision, model

        def record() -> None:
            self._hooks.record_decision(final, facts, skip=recorded_by)

        deadline.run_detached("recording the decision", record)
        return decision

    def _load_facts(self, point: str, facts: Any, deadline: Deadline, reserve: bool, spec: PointSpec,
                    source: DatedSource) -> Any:
        """``facts_for`` under the deadline when adapters may be asked (the exposure of a reserving
        check is left out: it is loaded inside the reservation lock)."""
        if reserve and isinstance(facts, Mapping) and "exposure" not in facts:
            facts = {**facts, "exposure": {}}
        if isinstance(facts, (_MODELS, spec.document)) or not self._hooks.loads_facts():
            return complete(point, facts, source, spec)  # a model asks no adapter: nothing to wait for
        return deadline.run("loading facts", lambda _abandoned: complete(point, facts, source, spec))

    def _reserve(self, model: OrderFacts | ReturnFacts, facts: OrderInput | ReturnInput, context: DecisionContext,
                 deadline: Deadline, source: DatedSource) -> tuple[Decision, OrderFacts]:
        """Check credit and hold the order's amount in the store, under the customer's lock."""
        if not isinstance(model, OrderFacts):  # pragma: no cover - decide() allows credit_check only
            raise FactsError("a credit reservation needs order facts")
        store = self._require_store()
        customer_id = model.customer.id
        load_exposure = isinstance(facts, Mapping) and "exposure" not in facts

        def decide(reserved: Decimal) -> tuple[Decision, OrderFacts]:
            final = with_reserved(model, reserved, source if load_exposure else None)
            return self._hooks.decide("credit_check", final, context), final

        def counted(order_ids: list[str]) -> list[str] | None:
            return self._hooks.load_counted_orders(customer_id, order_ids)

        result = deadline.run("reserving credit", lambda cancelled: store.reserve(
            customer_id, model.order.id, model.order.total, decide, exclude_order_ids=counted, cancelled=cancelled))
        return result.decision, result.facts if isinstance(result.facts, OrderFacts) else model

    def facts_for(self, point: str, /, facts: OrderInput | ReturnInput | Mapping[str, Any] | BaseModel, *,
                  as_of: date | None = None) -> Any:
        """Validate facts once (models pass through), filling missing parts from adapters
        (:func:`salesgate.completion.complete`) as of ``as_of`` (default: the gate's ``today``, else each
        adapter's own): the point's fact model in the policy in force. The policy's history facts are
        computed for the same day, e.g. an old order's date when it is exported for a replay."""
        policy = self._loaded.policy
        spec = policy.points.get(point)
        if spec is None:
            raise FactsError(_unknown_point(point, policy))
        given = as_of is not None or self._today is not None
        return complete(point, facts, self._hooks.on(self.as_of(as_of) if given else None), spec)

    def _failed(self, point: str, subject: str, context: DecisionContext, exc: Exception, *,
                cause: str | None = None) -> Decision:
        """The failure mode's answer; ``cause`` names what was unavailable when it is not the decision
        point's data."""
        mode = self._failure_mode or context.failure_mode
        # Whatever raised may quote a URL (a driver echoing its DSN, a plugin's own message): masked before it
        # reaches the log, the decision, the decision log and the audit log. A traceback could quote one too,
        # so only errors salesgate did not anticipate (a bug to find) are logged with theirs.
        what = _storable(redact(str(exc) if isinstance(exc, SalesgateError) else f"{type(exc).__name__}: {exc}"))
        logger.error("salesgate could not decide %s (%s); answering %s", point, what, mode,
                     exc_info=not isinstance(exc, PluginError | SalesgateError))
        outcome = Outcome.block if mode == "closed" else Outcome.warn
        # An adapter or the store failed or missed the deadline: say which data was missing.
        if cause is not None:
            cause = f"{cause} unavailable"
        else:
            # The ERP's adapter or salesgate's own store: either way the decision point's data could not be had.
            cause = (f"{_data(point, self._loaded.policy)} unavailable" if isinstance(exc, AdapterError | StoreError)
                     else "salesgate could not decide")
        message = (f"{cause} ({what}); held for review (failure mode: closed)"
                   if mode == "closed" else
                   f"{cause} ({what}); let through unchecked (failure mode: open)")
        return Decision(hook=point, subject=subject, outcome=outcome,
                        reasons=[Reason(rule="salesgate-failure", outcome=outcome, message=message,
                                        plugin="salesgate")],
                        policy=context.policy_ref, backend=context.backend.name, as_of=context.as_of, failure=what)


def _storable(text: str) -> str:
    """``text`` with what no database stores written as escapes: a NUL as ``\\x00``, a lone surrogate (a
    driver's undecodable byte) as ``\\udcff``. A fallback quotes whatever raised, and must be logged."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _adapter_options(namespaced: Mapping[str, Any] | None, keywords: Mapping[str, Any]) -> dict[str, Any]:
    """The adapter's options: ``adapter_options={...}`` (the documented form, where any name goes,
    ``timeout`` and ``path`` included) plus those given as keywords of the Gate (the older form)."""
    if namespaced is not None and not isinstance(namespaced, Mapping):
        raise TypeError(f"adapter_options takes a dict of the adapter's options, got {type(namespaced).__name__}")
    both = sorted(set(namespaced or {}) & set(keywords))
    if both:
        raise TypeError(f"adapter option {', '.join(both)} given twice, in adapter_options and as a Gate keyword: "
                        "pass it once, in adapter_options")
    return {**(namespaced or {}), **keywords}


def _parameters(cls: type) -> set[str]:
    """The keyword names an adapter class's constructor takes (none known if it cannot be inspected)."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return set()
    return {name for name, p in signature.parameters.items()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}


def _checked_day(value: object, name: str) -> date:
    """An as-of date: a ``date`` (a datetime is refused: which day it is depends on a time zone)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date (the day the decision is made as of), got {value!r}")
    return value


def _today_option(today: date | Callable[[], date] | None, adapter_options: Mapping[str, Any]
                  ) -> date | Callable[[], date] | None:
    """The gate's ``today``. ``adapter_options={"today": ...}`` (the sql adapter's counting day, the older
    spelling from before decisions had an as-of date) sets it too when it is a date, so the rules and the adapter
    keep one day; any other value (an adapter's own "2026-11-23" or zoned datetime) stays the adapter's to read.
    New code passes ``Gate(..., today=...)``."""
    legacy = adapter_options.get("today")
    if isinstance(legacy, datetime) or not isinstance(legacy, date):
        legacy = None
    if legacy is not None and today is None:
        today = legacy
    elif legacy is not None and legacy is not today:
        raise TypeError("today given twice, as Gate(today=...) and in adapter_options: pass it once, as "
                        "Gate(today=...)")
    if today is not None and not callable(today):
        _checked_day(today, "today")
    return today


def _seconds(timeout: object) -> float | None:
    """The gate's timeout, checked: a number of seconds or None (an adapter's own goes in adapter_options)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float | Decimal):
        raise TypeError(f"Gate timeout must be a number of seconds or None, got {timeout!r}; an adapter's own "
                        "timeout goes in adapter_options={'timeout': ...}")
    return float(timeout)


_DATA: dict[str, str] = {spec.name: spec.data.en for spec in BUILT_IN_POINTS}
"""What a decision at each point most depends on, as a failure's cause names it."""


def _data(point: str, policy: Policy) -> str:
    """What a decision at ``point`` most depends on: the built-in's, else the declared point's (its document)."""
    spec = policy.points.get(point)
    return _DATA.get(point) or (spec.data.en if spec is not None else "data")


def _unknown_point(point: object, policy: Policy) -> str:
    """Why ``point`` cannot be decided: not a decision point of the policy in force (with a did-you-mean)."""
    names = list(policy.points)
    suggestion = did_you_mean(str(point), names)
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    return (f"unknown decision point {point!r}{hint}: this policy decides at {', '.join(names)}; a new one is "
            "declared in the policy's points/ directory or by a plugin (docs/decision-points.md)")
