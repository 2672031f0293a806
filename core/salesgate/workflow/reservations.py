"""Credit reservation accounting as pure functions: what counts as held, when a re-check is a retry,
what a re-check holds, and which status changes are allowed.

The stores run these under the customer's lock (a lock row in SQL, a mutex in memory), so that the
sum of held orders never passes what the policy allows. See docs/store.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..decisions import Decision, Outcome
from ..errors import ReservationError
from ..ports import CountedOrders
from ..records import RecordedDecision, Reservation

DEFAULT_TTL = timedelta(hours=24)
"""How long a reservation holds credit unless confirmed or cancelled, when the store is not told otherwise."""

STATUSES = ("reserved", "confirmed", "cancelled", "expired")
MAY_HOLD = frozenset({"reserved"})
"""The statuses in which a reservation may count (:meth:`~salesgate.records.Reservation.counts` decides, its
expiry too): a store may narrow the rows it reads to these, and lets :func:`holding` make the call."""
ALLOWED_FROM: Mapping[str, frozenset[str]] = {
    "confirmed": frozenset({"reserved", "expired"}),
    "cancelled": frozenset({"reserved", "expired", "confirmed"}),
}
"""Which statuses a reservation may leave for ``confirmed`` and ``cancelled`` (each is also idempotent)."""


def checked_ttl(ttl: timedelta) -> timedelta:
    """``ttl`` if a hold may last that long (more than nothing); ``ValueError`` otherwise: a store is
    refused when it is built, not on its first reservation."""
    if ttl <= timedelta(0):
        raise ValueError(f"reservation_ttl must be positive, got {ttl}")
    return ttl


def checked_amount(amount: Decimal) -> Decimal:
    """``amount`` if it is an exact amount of at least 0; ``ValueError`` otherwise (a float never is)."""
    if not isinstance(amount, Decimal) or amount < 0:
        raise ValueError(f"amount must be a Decimal of at least 0, got {amount!r}")
    return amount


def holding(reservations: Iterable[Reservation], now: datetime) -> list[Reservation]:
    """The reservations whose amount counts at ``now``: reserved and not past their expiry."""
    return [r for r in reservations if r.counts(now)]


def reserved_amount(reservations: Iterable[Reservation], now: datetime) -> Decimal:
    """What ``reservations`` hold at ``now``."""
    return sum((r.amount for r in holding(reservations, now)), Decimal(0))


def counted_orders(counted: CountedOrders, reserved_ids: list[str]) -> set[str]:
    """The order ids among the customer's holds that the ERP counts already (asked only if there are holds)."""
    if callable(counted):
        if not reserved_ids:
            return set()
        return set(counted(reserved_ids) or ())
    return set(counted)


def uncounted_total(active: Mapping[str, Decimal], counted: set[str]) -> Decimal:
    """What the customer's other holds add to its exposure: those the ERP does not count yet."""
    return sum((amount for order_id, amount in active.items() if order_id not in counted), Decimal(0))


def may_replay(existing: Reservation | None, amount: Decimal, now: datetime) -> bool:
    """Whether a re-check of an order may be a retry: the order holds (or confirmed) the same amount.

    An amended amount is always decided again: a confirmed order raised from 100 to 900,000 must
    not pass unchecked."""
    return existing is not None and existing.amount == amount and (
        existing.status == "confirmed" or existing.counts(now))


def same_answer(recorded: Decision, new: Decision) -> bool:
    """Whether a decision made again says what the recorded one said (same policy, outcome, reasons,
    approvals and figures): with equal facts it always does, as rules are deterministic."""
    return bool(recorded.model_dump(mode="json", exclude={"trace"}) == new.model_dump(mode="json", exclude={"trace"}))


def is_replay(existing: Reservation, latest_check: str | None, recorded: RecordedDecision, facts_digest: str | None,
              decision: Decision) -> bool:
    """Whether a re-check (of the same amount: :func:`may_replay`) is a retry to answer with ``recorded``.

    Only while the hold's decision is still the order's latest credit check (``latest_check``, its id):
    once a later check (a block) spoke, answering the older pass again would leave the block the latest
    word on the order. And only on the very facts (``facts_digest``) and with the same answer."""
    return (latest_check is not None and latest_check == existing.decision_id
            and recorded.inputs_digest == facts_digest and same_answer(recorded.decision, decision))


def held_after(existing: Reservation | None, *, customer_id: str, order_id: str, amount: Decimal,
               decision: Decision, decision_id: str, refused: bool, replayable: bool, ttl: timedelta,
               now: datetime, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> tuple[Reservation | None, bool]:
    """The order's hold after a re-check that is not a retry, and whether it is to be written.

    A ``block`` holds nothing new, and the old hold stays (over-held, never under-held); an order
    rejected as it is (``refused``) holds nothing; anything else moves the hold onto the new
    decision, for ``ttl`` from ``now``. A confirmed order decided again for the same amount
    (``replayable``) stays confirmed: the ERP counts it already."""
    kept = existing if existing is not None and existing.counts(now) and not refused else None
    if decision.outcome is Outcome.block or refused:
        return kept, False
    status = "confirmed" if replayable and existing is not None and existing.status == "confirmed" else "reserved"
    return Reservation(
        id=existing.id if existing is not None else new_id(), customer_id=customer_id, order_id=order_id,
        amount=amount, status=status, outcome=decision.outcome,
        created_at=existing.created_at if existing is not None else now, updated_at=now,
        expires_at=now + ttl, policy_hash=decision.policy.hash, decision_id=decision_id,
    ), True


def transition(current: Reservation, status: str, now: datetime, *,
               latest_check: tuple[str, str] | None = None) -> Reservation:
    """``current`` marked ``status`` (``confirmed`` or ``cancelled``); ``current`` itself when it already is.

    :class:`~salesgate.errors.ReservationError` when the change is not allowed: a cancelled reservation
    is never confirmed, and an order whose latest credit check of the policy's (``latest_check``: its
    decision id and outcome) blocks is no pass to confirm — re-check it (a pass moves the hold onto it)
    or cancel it."""
    allowed = ALLOWED_FROM[status]
    if current.status not in allowed and current.status != status:
        raise ReservationError(f"the reservation of order {current.order_id!r} is {current.status}; "
                               f"it cannot become {status}")
    if status == "confirmed" and latest_check is not None and latest_check[1] == Outcome.block.value:
        raise ReservationError(f"order {current.order_id!r} cannot be confirmed: its latest credit check "
                               f"blocks (decision {latest_check[0]}); re-check it, or cancel it")
    if current.status == status:
        return current
    return replace(current, status=status, updated_at=now)


def expires(reservation: Reservation, now: datetime) -> bool:
    """Whether a sweep at ``now`` marks ``reservation`` expired (it stopped counting at its expiry already)."""
    return reservation.status == "reserved" and reservation.expires_at <= now


def expired(reservation: Reservation, now: datetime) -> Reservation:
    """``reservation`` as a sweep at ``now`` marks it (only those :func:`expires` names)."""
    return replace(reservation, status="expired", updated_at=now)


def confirmed_by_erp(reservation: Reservation, now: datetime) -> Reservation:
    """A hold the ERP already counts (its confirmation was lost): confirmed on the way, never counted twice."""
    return replace(reservation, status="confirmed", updated_at=now)


def released_by_rejection(reservation: Reservation | None) -> bool:
    """Whether rejecting the order (on a hook that decides it) cancels ``reservation``, the order's hold:
    a reserved one, expired by time or not; a confirmed order is the ERP's, a released one stays as it is."""
    return reservation is not None and reservation.status == "reserved"


def cancelled_by_rejection(reservation: Reservation, now: datetime) -> Reservation:
    """A rejected order's hold (one :func:`released_by_rejection` names): released."""
    return replace(reservation, status="cancelled", updated_at=now)


def latest_credit_check(decisions: Iterable[Any]) -> tuple[str, str] | None:
    """The id and outcome of the latest credit check of the policy's among an order's logged decisions
    (oldest first); a fallback — salesgate could not decide — is passed over.

    Each needs ``id``, ``hook``, ``outcome`` (an :class:`Outcome` or its value) and ``failure``: a
    :class:`~salesgate.records.RecordedDecision`, or a log row read without the decision itself."""
    found = None
    for recorded in decisions:
        if recorded.hook == "credit_check" and recorded.failure is None:
            found = (str(recorded.id), Outcome(recorded.outcome).value)
    return found
