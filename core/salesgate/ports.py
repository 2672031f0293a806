"""Ports: what salesgate needs of a store, as Protocols, split by concern.

A store keeps salesgate's own records: the decision log, the approval requests, the credit
reservations. Who needs which:

* the gate needs :class:`DecisionLog` (it records every decision) and :class:`CreditReservations`
  (``check_credit(..., reserve=True)``, ``confirm_reservation``, ``cancel_reservation``), and a
  whole :class:`Store` to take one (``Gate(store=...)``: its ``timeout`` and ``close()`` too);
* :class:`ApprovalRequests` is for the ERP's own code and the CLI (``salesgate approvals``):
  who approves what, and whether an order may go ahead. The gate never calls it.

``salesgate_adapters.store.Store`` keeps them in a SQL database; ``salesgate_adapters.store.MemoryStore``
keeps them in memory, for tests and embedders. Both follow the same workflow rules
(:mod:`salesgate.workflow`) and return the same record types (:mod:`salesgate.records`). What only
SQL has (the hash-chained audit log and its checks, migrations, locks and server-side timeouts) is
that store's own business, not part of these ports: a store without it is still a store. Any object
with these methods works.

Every method that changes something takes ``now`` (default: the current time, timezone-aware UTC),
so a test can step the clock. Failures of the store itself are :class:`~salesgate.errors.StoreError`;
refused workflow actions are :class:`~salesgate.errors.ApprovalError` and
:class:`~salesgate.errors.ReservationError`. Every name here is exported from ``salesgate``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from .decisions import Decision
from .records import ApprovalRequest, ApprovalStatus, RecordedDecision, Reservation, ReserveResult, RoleMember

CountedOrders = Iterable[str] | Callable[[list[str]], Iterable[str] | None]
"""Orders the ERP already counts in its exposure (its open orders): their ids, or a function asked,
inside the customer's lock, which of the reserved order ids it counts (``reserve``'s ``exclude_order_ids``)."""

Decide = Callable[[Decimal], Decision | tuple[Decision, Any]]
"""Called by ``reserve`` with the customer's reserved amount, inside the customer's lock; returns the
decision, or the decision and the facts it was made on (for the decision log's inputs digest)."""


@runtime_checkable
class DecisionLog(Protocol):
    """Every decision, appended; each one opens the approval requests it asks for."""

    def record(self, decision: Decision, facts: Any = None, *, actor: str | None = None,
               now: datetime | None = None, cancelled: threading.Event | None = None) -> str:
        """Append ``decision`` (decided on ``facts``, asked for by ``actor``); returns its id in the log.
        ``cancelled`` set before the write commits leaves no entry (the caller stopped waiting)."""
        ...

    def decisions(self, subject: str | None = None, *, limit: int | None = None) -> list[RecordedDecision]:
        """Logged decisions, oldest first: all of them, or those on one order or return."""
        ...


@runtime_checkable
class ApprovalRequests(Protocol):
    """The approval ladder: who approves what, in which order, until when; and who holds which role."""

    def approve(self, subject: str, user: str, *, role: str | None = None, hook: str | None = None,
                comment: str | None = None, now: datetime | None = None) -> ApprovalRequest:
        """``user`` approves the step of order ``subject`` that is theirs to approve now."""
        ...

    def reject(self, subject: str, user: str, *, role: str | None = None, hook: str | None = None,
               comment: str | None = None, now: datetime | None = None) -> ApprovalRequest:
        """``user`` rejects order ``subject``: the other requests of the hook are voided, its credit released."""
        ...

    def approval_requests(self, subject: str | None = None, status: str | None = None) -> list[ApprovalRequest]:
        """Approval requests, oldest first and in ladder order."""
        ...

    def approval_status(self, subject: str, digest: str | None = None, *, order: Any = None,
                        now: datetime | None = None, point: str | None = None) -> ApprovalStatus:
        """May order ``subject``, as it is now (``order`` or its ``digest``), go ahead? ``point``: only decisions
        and requests about that decision point's document count."""
        ...

    def is_approved(self, subject: str, digest: str | None = None, *, order: Any = None,
                    now: datetime | None = None, point: str | None = None) -> bool:
        """``approval_status(...).approved``."""
        ...

    def sweep_approvals(self, now: datetime | None = None) -> int:
        """Expire and escalate overdue requests; returns how many changed."""
        ...

    def grant_role(self, user: str, role: str, *, by: str | None = None, now: datetime | None = None) -> bool:
        """Let ``user`` approve for ``role``; ``False`` if they already could."""
        ...

    def revoke_role(self, user: str, role: str, *, by: str | None = None, now: datetime | None = None) -> bool:
        """Take ``role`` from ``user``; ``False`` if they did not hold it."""
        ...

    def role_members(self, role: str | None = None) -> list[RoleMember]:
        """Who may approve for each role (or one role)."""
        ...

    def roles_of(self, user: str) -> list[str]:
        """The roles ``user`` may approve for."""
        ...


@runtime_checkable
class CreditReservations(Protocol):
    """Credit held for orders until the ERP confirms or cancels them, or they expire."""

    def reserve(self, customer_id: str, order_id: str, amount: Decimal, decide: Decide, *,
                exclude_order_ids: CountedOrders = (), expires_in: timedelta | None = None,
                now: datetime | None = None, cancelled: threading.Event | None = None) -> ReserveResult:
        """Check (``decide``) and hold credit for an order, atomically with the customer's other orders."""
        ...

    def confirm(self, order_id: str, *, now: datetime | None = None) -> Reservation | None:
        """The ERP confirmed the order: its reservation stops counting. Idempotent."""
        ...

    def cancel(self, order_id: str, *, now: datetime | None = None) -> Reservation | None:
        """The order will not be entered: release its credit. Idempotent."""
        ...

    def expire(self, now: datetime | None = None) -> int:
        """Mark reservations past their expiry expired; returns how many."""
        ...

    def reservation(self, order_id: str) -> Reservation | None:
        """The reservation of an order, whatever its status."""
        ...

    def reservations(self, customer_id: str | None = None, status: str | None = None) -> list[Reservation]:
        """Reservations, oldest first, optionally of one customer and status."""
        ...

    def reserved_amount(self, customer_id: str, *, now: datetime | None = None) -> Decimal:
        """What the customer's active reservations hold at ``now``."""
        ...


@runtime_checkable
class Store(DecisionLog, ApprovalRequests, CreditReservations, Protocol):
    """A whole store, as a gate takes it: the three concerns, its ``timeout`` (seconds a call may take,
    ``None``: no bound; a gate without its own timeout uses it) and ``close()``."""

    @property
    def timeout(self) -> float | None:
        ...

    def close(self) -> None:
        """Release what the store holds (connections); a store given to a gate is closed by its owner."""
        ...
