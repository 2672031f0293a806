"""MemoryStore: the decision log, approval workflow and credit reservations in memory.

For tests and for embedders who want the gate's workflow without a database. It implements the
ports of :mod:`salesgate.ports` and follows the very rules the SQL store follows
(:mod:`salesgate.workflow`): the same ladder, four eyes, expiry, escalation, reservation accounting,
the same refusals with the same messages, ids normalised and compared alike, money exact to four
places, times timezone-aware in UTC. What it does not have is the SQL store's business: no audit log
(so no tamper detection), no migrations, no server timeouts; and nothing survives the process.

Safe to share between threads: one lock serialises every call, as the SQL store's lock rows
serialise the calls that touch one customer or order.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from salesgate.decisions import Decision
from salesgate.errors import ApprovalError, StoreError
from salesgate.ports import CountedOrders, Decide
from salesgate.records import (
    ApprovalRequest,
    ApprovalStatus,
    RecordedDecision,
    Reservation,
    ReserveResult,
    RoleMember,
)
from salesgate.workflow import approvals as ladder
from salesgate.workflow import reservations as accounting
from salesgate.workflow.approvals import STANDING, Action, ApprovalRules
from salesgate.workflow.digests import approval_digest, inputs_digest
from salesgate.workflow.entries import decision_from_json, decision_json, log_entry
from salesgate.workflow.identities import current_actor, key, storable, stored_id, user_id
from salesgate.workflow.reservations import DEFAULT_TTL

MONEY_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class _Logged:
    """A logged decision and what the workflow reads of it (as the SQL store's decision row holds it)."""

    recorded: RecordedDecision
    seq: int
    actor: str | None
    approval_digest: str | None

    @property
    def id(self) -> str:
        return self.recorded.id

    @property
    def hook(self) -> str:
        return self.recorded.hook

    @property
    def outcome(self) -> str:
        return self.recorded.outcome.value

    @property
    def failure(self) -> str | None:
        return self.recorded.decision.failure


class MemoryStore:
    """salesgate's own records in memory: a drop-in for :class:`~.store.Store` in tests and embedders.

    ``reservation_ttl`` is how long a reservation holds credit unless confirmed or cancelled;
    ``approvals`` (:class:`~salesgate.workflow.ApprovalRules`) sets when approval requests escalate
    and expire, and to whom — as for the SQL store. ``timeout`` is ``None``: a call never waits on
    anything but the store's lock.

    >>> store = MemoryStore()
    >>> store.grant_role("li.na", "sales_manager", by="admin")
    True
    >>> store.roles_of("li.na ")
    ['sales_manager']
    """

    timeout: float | None = None

    def __init__(self, *, reservation_ttl: timedelta = DEFAULT_TTL, approvals: ApprovalRules | None = None) -> None:
        self.reservation_ttl = accounting.checked_ttl(reservation_ttl)
        self.approval_rules = approvals if approvals is not None else ApprovalRules()
        self._lock = threading.RLock()
        self._decisions: list[_Logged] = []
        self._requests: dict[str, ApprovalRequest] = {}  # oldest first
        self._members: dict[tuple[str, str], RoleMember] = {}
        self._reservations: dict[str, Reservation] = {}  # by order id, oldest first

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._decisions)} decisions, {len(self._reservations)} reservations)"

    def close(self) -> None:
        """Nothing to release: the records stay readable until the store is dropped."""

    def upgrade(self) -> None:
        """Nothing to create (a memory store has no tables): there so that code written for the SQL
        store, which upgrades before its first use, runs on this one unchanged."""

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- decision log ------------------------------------------------------------------------------
    def record(self, decision: Decision, facts: Any = None, *, actor: str | None = None,
               now: datetime | None = None, cancelled: threading.Event | None = None) -> str:
        """Append a decision to the log and open one approval request per required role (as
        :meth:`Store.record <salesgate_adapters.store.Store.record>` does). Returns its id."""
        when = _when(now)
        who = user_id(actor, "actor") if actor is not None else current_actor()
        with self._lock:
            apply = self._logging(decision, facts, when, who)
            _begin_commit(cancelled)
            return apply()

    def decisions(self, subject: str | None = None, *, limit: int | None = None) -> list[RecordedDecision]:
        """Logged decisions, oldest first: all of them, or those on one order or return."""
        with self._lock:
            found = [d.recorded for d in self._logged(key(subject) if subject is not None else None)]
        return found[:limit] if limit is not None else found

    def _logged(self, subject: str | None) -> list[_Logged]:
        mine = [d for d in self._decisions if subject is None or d.recorded.subject == subject]
        return sorted(mine, key=lambda d: (d.recorded.decided_at, d.seq))

    def _logging(self, decision: Decision, facts: Any, now: datetime, actor: str | None) -> Callable[[], str]:
        """Everything recording ``decision`` changes, worked out now; the returned function applies it.

        Split so that a caller that may still be cancelled (or a reservation whose ``decide`` raised)
        changes nothing: all checks run before the first change."""
        entry = log_entry(decision, facts, actor)
        decision, digest = entry.decision, entry.approval_digest
        decision_id = str(uuid.uuid4())
        stored = decision_from_json(decision_json(decision))  # what a log hands back: no live objects
        recorded = RecordedDecision(id=decision_id, decided_at=now, inputs_digest=entry.inputs_digest,
                                    decision=stored)
        standing = [r for r in self._of(decision.subject) if r.status in STANDING]
        standing.sort(key=lambda r: (r.created_at, r.position))
        plan = ladder.plan_requests(decision, decision_id, digest, actor, standing, self.approval_rules, now)

        def apply() -> str:
            self._decisions.append(_Logged(recorded, len(self._decisions), actor, digest))
            for request, reason in plan.voided:
                self._requests[request.id] = ladder.void(self._requests[request.id], reason, now)
            for request, position in plan.moved:
                self._requests[request.id] = replace(self._requests[request.id], position=position)
            for request in plan.opened:
                self._requests[request.id] = request
            return decision_id

        return apply

    # -- approval workflow -------------------------------------------------------------------------
    def approve(self, subject: str, user: str, *, role: str | None = None, hook: str | None = None,
                comment: str | None = None, now: datetime | None = None) -> ApprovalRequest:
        """``user`` approves the step of order ``subject`` that is theirs to approve now (see ``Store.approve``)."""
        return self._act("approve", subject, user, role, hook, comment, now)

    def reject(self, subject: str, user: str, *, role: str | None = None, hook: str | None = None,
               comment: str | None = None, now: datetime | None = None) -> ApprovalRequest:
        """``user`` rejects order ``subject``: the other requests of that hook are voided, and the order's
        credit reservation (order hooks) is cancelled (see ``Store.reject``)."""
        return self._act("reject", subject, user, role, hook, comment, now)

    def _act(self, action: Action, subject: str, user: str, role: str | None, hook: str | None,
             comment: str | None, now: datetime | None) -> ApprovalRequest:
        when, subject = _when(now), key(subject)
        user = user_id(user)  # refused before anything changes, the sweep included
        with self._lock:
            self._sweep(when, subject)  # expiries and escalations stand even if the action is refused
            asked_role = user_id(role, "role") if role is not None else None
            every = self._of(subject)
            live = sorted((r for r in every if r.status in STANDING), key=lambda r: (r.hook, r.position, r.created_at))
            pending = ladder.pending_of(live, hook)
            if not pending:
                raise ApprovalError(ladder.nothing_pending(subject, hook, ladder.last_changed(every, hook)))
            request, acting_for = ladder.choose(
                action, subject, user, role=asked_role, pending=pending, live=live, held=self._held(user),
                forged=set(), requesters=lambda r: self._requesters(subject, r.hook, r.approval_digest),
                rules=self.approval_rules)
            done = ladder.acted(request, action, user, acting_for, comment, when)
            self._requests[request.id] = done
            if action == "reject":
                reason = ladder.rejection_reason(request, user)
                for other in ladder.voided_by_rejection(request, live):
                    self._requests[other.id] = ladder.void(other, reason, when)
                held = self._reservations.get(subject)
                if ladder.releases_credit(request) and held is not None and accounting.released_by_rejection(held):
                    self._reservations[subject] = accounting.cancelled_by_rejection(held, when)
            return done

    def _of(self, subject: str) -> list[ApprovalRequest]:
        return [r for r in self._requests.values() if r.subject == subject]

    def _requesters(self, subject: str, hook: str, digest: str | None) -> set[str]:
        """Everyone who asked for a decision of this very order (``digest``) on ``hook``."""
        if digest is None:
            return set()
        return {stored_id(d.actor) or "" for d in self._logged(subject)
                if d.hook == hook and d.approval_digest == digest and d.actor is not None}

    def approval_requests(self, subject: str | None = None, status: str | None = None) -> list[ApprovalRequest]:
        """Approval requests, oldest first and in ladder order, optionally for one subject and status."""
        with self._lock:
            found = [r for r in self._requests.values()
                     if (subject is None or r.subject == key(subject)) and (status is None or r.status == status)]
        return sorted(found, key=lambda r: (r.created_at, r.decision_id, r.position))

    def approval_status(self, subject: str, digest: str | None = None, *, order: Any = None,
                        now: datetime | None = None, point: str | None = None) -> ApprovalStatus:
        """May order ``subject`` go ahead? Pass the order as it is now (``order=`` or its ``digest``); at a declared
        point, ``point=`` and the point's validated facts (``gate.facts_for(point, facts)``) as ``order=``."""
        if order is not None:
            digest = approval_digest(order)
        when, subject = _when(now), key(subject)
        with self._lock:
            return ladder.approval_status(subject, digest, self._logged(subject), self._of(subject), when, point=point)

    def is_approved(self, subject: str, digest: str | None = None, *, order: Any = None,
                    now: datetime | None = None, point: str | None = None) -> bool:
        """``approval_status(...).approved``: every required approval given for this very order, or none needed."""
        return self.approval_status(subject, digest, order=order, now=now, point=point).approved

    def sweep_approvals(self, now: datetime | None = None) -> int:
        """Expire and escalate overdue requests; returns how many changed."""
        when = _when(now)
        with self._lock:
            return self._sweep(when, None)

    def _sweep(self, now: datetime, subject: str | None) -> int:
        changed = 0
        for request in list(self._requests.values()):
            if subject is not None and request.subject != subject:
                continue
            change = ladder.sweep_change(request, now)
            if change is not None:
                self._requests[request.id] = ladder.swept(request, change, now)
                changed += 1
        return changed

    def grant_role(self, user: str, role: str, *, by: str | None = None, now: datetime | None = None) -> bool:
        """Let ``user`` approve for ``role`` (``by`` = who granted it); ``False`` if they already could."""
        when = _when(now)
        user, role = user_id(user), user_id(role, "role")
        by = user_id(by, "granted by") if by is not None else None
        with self._lock:
            if (role, user) in self._members:
                return False
            self._members[(role, user)] = RoleMember(role=role, user_id=user, granted_by=by, granted_at=when)
            return True

    def revoke_role(self, user: str, role: str, *, by: str | None = None, now: datetime | None = None) -> bool:
        """Take ``role`` from ``user``; ``False`` if they did not hold it."""
        user, role = user_id(user), user_id(role, "role")
        if by is not None:
            user_id(by, "revoked by")
        with self._lock:
            return self._members.pop((role, user), None) is not None

    def role_members(self, role: str | None = None) -> list[RoleMember]:
        """Who may approve for each role (or one role)."""
        wanted = user_id(role, "role") if role is not None else None
        with self._lock:
            found = [m for (each, _), m in self._members.items() if wanted is None or each == wanted]
        return sorted(found, key=lambda m: (m.role, m.user_id))

    def roles_of(self, user: str) -> list[str]:
        """The roles ``user`` may approve for."""
        user = user_id(user)
        with self._lock:
            return sorted(self._held(user))

    def _held(self, user: str) -> set[str]:
        return {role for role, member in self._members if member == user}

    # -- credit reservations -----------------------------------------------------------------------
    def reserve(self, customer_id: str, order_id: str, amount: Decimal, decide: Decide, *,
                exclude_order_ids: CountedOrders = (), expires_in: timedelta | None = None,
                now: datetime | None = None, cancelled: threading.Event | None = None) -> ReserveResult:
        """Check and hold credit for an order, atomically with respect to the customer's other orders.

        The same contract as :meth:`Store.reserve <salesgate_adapters.store.Store.reserve>`: under the
        store's lock, the customer's other holds the ERP does not count are summed, ``decide(reserved)``
        decides, the decision is logged and the amount held unless it blocks; a re-check on the very
        facts with the same answer is a retry (nothing changes). Whatever ``decide`` raises propagates,
        and nothing is changed.

        Correct but serial: the store's one lock is held while ``decide`` runs (the whole gate check, and
        ``exclude_order_ids`` if it asks the ERP), so every other call on the store — other customers'
        reservations, approvals, reads — waits for it. The SQL store holds only the customer's lock row
        meanwhile; use it where many checks run at once."""
        customer_id, order_id = key(customer_id), key(order_id)
        storable(customer_id, "customer id")
        storable(order_id, "order id")
        amount = _money(accounting.checked_amount(amount))
        ttl = expires_in if expires_in is not None else self.reservation_ttl
        when = _when(now)
        with self._lock:
            return self._reserve_locked(customer_id, order_id, amount, decide, exclude_order_ids, ttl, when,
                                        cancelled)

    def _reserve_locked(self, customer_id: str, order_id: str, amount: Decimal, decide: Decide,
                        counted_orders: CountedOrders, ttl: timedelta, now: datetime,
                        cancelled: threading.Event | None) -> ReserveResult:
        existing = self._reservations.get(order_id)
        if existing is not None and existing.customer_id != customer_id:
            raise StoreError(f"order {order_id!r} holds a reservation of customer {existing.customer_id!r}, "
                             f"not {customer_id!r}")
        same_amount = accounting.may_replay(existing, amount, now)
        active = {r.order_id: r.amount for r in accounting.holding(self._reservations.values(), now)
                  if r.customer_id == customer_id and r.order_id != order_id}
        counted = accounting.counted_orders(counted_orders, sorted(active)) & active.keys()
        reserved = accounting.uncounted_total(active, counted)
        _check(cancelled)
        answer = decide(reserved)
        decision, facts = answer if isinstance(answer, tuple) else (answer, None)

        def confirm_counted() -> None:
            for counted_id in sorted(counted):
                self._reservations[counted_id] = accounting.confirmed_by_erp(self._reservations[counted_id], now)

        latest = accounting.latest_credit_check(d.recorded for d in self._logged(order_id)) if same_amount else None
        if same_amount and existing is not None and latest is not None and latest[0] == existing.decision_id:
            recorded = next(d.recorded for d in self._decisions if d.id == existing.decision_id)
            if accounting.is_replay(existing, latest[0], recorded, inputs_digest(facts), decision):
                _begin_commit(cancelled)
                confirm_counted()
                return ReserveResult(decision=recorded.decision, reservation=existing, replayed=True,
                                     reserved=reserved, decision_id=existing.decision_id, facts=facts)
        apply = self._logging(decision, facts, now, current_actor())
        refused = decision.failure is None and ladder.rejected_in_force(self._of(order_id), approval_digest(facts))
        _begin_commit(cancelled)
        confirm_counted()
        decision_id = apply()
        reservation, write = accounting.held_after(
            existing, customer_id=customer_id, order_id=order_id, amount=amount, decision=decision,
            decision_id=decision_id, refused=refused, replayable=same_amount, ttl=ttl, now=now)
        if write and reservation is not None:
            self._reservations[order_id] = reservation
        return ReserveResult(decision=decision, reservation=reservation, replayed=False, reserved=reserved,
                             decision_id=decision_id, facts=facts)

    def reservation(self, order_id: str) -> Reservation | None:
        """The reservation of an order, whatever its status."""
        with self._lock:
            return self._reservations.get(key(order_id))

    def reservations(self, customer_id: str | None = None, status: str | None = None) -> list[Reservation]:
        """Reservations, oldest first, optionally of one customer and status."""
        with self._lock:
            found = [r for r in self._reservations.values()
                     if (customer_id is None or r.customer_id == key(customer_id))
                     and (status is None or r.status == status)]
        return sorted(found, key=lambda r: (r.created_at, r.order_id))

    def reserved_amount(self, customer_id: str, *, now: datetime | None = None) -> Decimal:
        """What the customer's active reservations hold at ``now``."""
        return accounting.reserved_amount(self.reservations(customer_id, "reserved"), _when(now))

    def confirm(self, order_id: str, *, now: datetime | None = None) -> Reservation | None:
        """The ERP confirmed the order: the reservation stops counting. Idempotent; ``None`` without one.
        :class:`~salesgate.errors.ReservationError` when it is cancelled or the latest credit check blocks."""
        return self._transition(order_id, "confirmed", now)

    def cancel(self, order_id: str, *, now: datetime | None = None) -> Reservation | None:
        """The order will not be entered (or was cancelled): release its credit. Idempotent."""
        return self._transition(order_id, "cancelled", now)

    def expire(self, now: datetime | None = None) -> int:
        """Mark reservations past their expiry as expired; returns how many (they stopped counting already)."""
        when = _when(now)
        with self._lock:
            due = [r for r in self._reservations.values() if accounting.expires(r, when)]
            for reservation in due:
                self._reservations[reservation.order_id] = accounting.expired(reservation, when)
            return len(due)

    def _transition(self, order_id: str, status: str, now: datetime | None) -> Reservation | None:
        when, order_id = _when(now), key(order_id)
        with self._lock:
            current = self._reservations.get(order_id)
            if current is None:
                return None
            latest = (accounting.latest_credit_check(d.recorded for d in self._logged(order_id))
                      if status == "confirmed" else None)
            changed = accounting.transition(current, status, when, latest_check=latest)
            self._reservations[order_id] = changed
            return changed


def _when(now: datetime | None) -> datetime:
    """``now`` in UTC (the current time without it); a naive time is refused, as the SQL store refuses it."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise StoreError(f"naive datetime {now.isoformat()}: pass a timezone-aware time")
    return now.astimezone(UTC)


def _money(amount: Decimal) -> Decimal:
    """An amount at the scale the SQL store keeps (4 places); more places are refused, never rounded."""
    exact = amount.quantize(MONEY_PLACES)
    if exact != amount:
        raise StoreError(f"{amount} has more than 4 decimal places")
    return exact


def _check(cancelled: threading.Event | None) -> None:
    if cancelled is not None and cancelled.is_set():
        raise StoreError("the caller stopped waiting (timeout): nothing was written")


def _begin_commit(cancelled: threading.Event | None) -> None:
    """Right before the first change: refuse if the caller stopped waiting; else, when the caller can be
    told (a gate's :class:`salesgate.deadline.Cancellation`), tell it the write starts."""
    begin = getattr(cancelled, "begin_commit", None)
    if callable(begin) and begin():
        return
    if callable(begin) or (cancelled is not None and cancelled.is_set()):
        raise StoreError("the caller stopped waiting (timeout): nothing was written")
