"""Credit reservation rows: read as :class:`~salesgate.records.Reservation` values, written back as the
workflow (:mod:`salesgate.workflow.reservations`) changed them.

The SQL store decides nothing about a hold in SQL: it reads the rows, asks the workflow, and writes the
answer with :func:`write_back`. A row another transaction changed between the read and the write is
left as that transaction left it (the write is a compare-and-set on the row's version), so a decision
taken on a row that no longer exists in that form is never written over a newer one.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection

from salesgate.decisions import Outcome
from salesgate.errors import StoreError
from salesgate.records import Reservation

from .tables import credit_reservations


def unreadable(table: str, exc: Exception) -> StoreError:
    """The error for a row of ``table`` that does not read back as a record (someone wrote it with SQL)."""
    return StoreError(f"{table} holds a row salesgate cannot read ({type(exc).__name__}: "
                      f"{str(exc).splitlines()[0] if str(exc) else ''})")


def money(value: Any) -> Decimal:
    """A reservation amount as read back: a ``Decimal``, or :class:`StoreError` (never a float)."""
    if not isinstance(value, Decimal):
        raise StoreError(f"a reservation amount reads back as {type(value).__name__}, not an exact amount")
    return value


def reservation_from_row(row: Any) -> Reservation:
    """A reservation from a ``salesgate_credit_reservations`` row."""
    try:
        return Reservation(
            id=row.id, customer_id=row.customer_id, order_id=row.order_id, amount=money(row.amount),
            status=row.status, outcome=Outcome(row.outcome), created_at=row.created_at, updated_at=row.updated_at,
            expires_at=row.expires_at, policy_hash=row.policy_hash, decision_id=row.decision_id,
        )
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise unreadable("salesgate_credit_reservations", exc) from exc


def write_back(conn: Connection, before: Reservation, after: Reservation) -> bool:
    """Write ``after`` (what the workflow made of ``before``) over the row, if the row is still ``before``.

    A row is one version per status and decision (every change the workflow makes changes one of the
    two: a transition the status, a re-check the decision); a row another transaction changed since it
    was read (a rejection cancelled it, a re-check moved the hold) is not written. Returns whether it was.
    Only the status changes here (with ``updated_at``): a re-check that moves the hold writes the whole row."""
    if replace(after, status=before.status, updated_at=before.updated_at) != before:
        raise ValueError(f"write_back writes a status change, not a new hold of order {before.order_id!r}")
    held = credit_reservations.c
    same_decision = (held.decision_id.is_(None) if before.decision_id is None
                     else held.decision_id == before.decision_id)
    result = conn.execute(update(credit_reservations).where(held.id == before.id, held.status == before.status,
                                                            same_decision)
                          .values(status=after.status, updated_at=after.updated_at))
    return int(result.rowcount) == 1
