"""The Store: salesgate's decision log, approval workflow, audit log and credit reservations in a SQL database."""

from __future__ import annotations

import functools
import json
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from alembic.util import CommandError
from pydantic import ValidationError
from sqlalchemy import Row, insert, select, text, update
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql import Select

from salesgate.decisions import Decision
from salesgate.errors import StoreError
from salesgate.ports import CountedOrders, Decide
from salesgate.workflow import reservations as accounting
from salesgate.workflow.approvals import Action
from salesgate.workflow.entries import decision_from_json, decision_json, log_entry
from salesgate.workflow.identities import key, storable
from salesgate.workflow.reservations import DEFAULT_TTL

from ..deadlines import CallDeadlines, Overrun
from . import approvals, audit, holds, locks, migrate
from .approvals import ApprovalRules, current_actor
from .audit import FAILURE_IN_LOG
from .connection import (
    Timeouts,
    create_schema,
    describe,
    in_schema,
    make_engine,
    retrying,
    safe_url,
    transaction,
)
from .holds import reservation_from_row, unreadable
from .records import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEntry,
    AuditReport,
    RecordedDecision,
    Reservation,
    ReserveResult,
    RoleMember,
    approval_digest,
    inputs_digest,
    request_from_row,
)
from .tables import approval_requests, credit_locks, credit_reservations, decisions, subject_locks

T = TypeVar("T")

URL_ENV = "SALESGATE_DATABASE_URL"
SCHEMA_ENV = "SALESGATE_DATABASE_SCHEMA"
DEFAULT_TIMEOUT = 5.0
SNAPSHOT = "REPEATABLE READ"


class _Raised(Exception):
    """What the caller's code raised, carried out of the transaction (which rolls back) to be raised as is."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    """salesgate's own tables in a SQL database (PostgreSQL, MariaDB/MySQL or SQLite).

    ``database`` is a SQLAlchemy URL (the store then owns its engine and closes it) or an
    :class:`~sqlalchemy.engine.Engine`. ``timeout`` (seconds, default 5) bounds connecting, every
    statement and every lock wait on the server side (see :class:`.connection.Timeouts`);
    ``reservation_ttl`` is how long a reservation holds credit unless confirmed or cancelled;
    ``attempts`` is how often a transaction runs before a deadlock or serialization failure is
    reported; ``approvals`` (:class:`~.approvals.ApprovalRules`) sets when approval requests escalate
    and expire, and to whom. ``schema`` puts salesgate's tables apart from the ERP's: a PostgreSQL
    schema (the connections' ``search_path``), a MariaDB/MySQL database on the same server, a SQLite
    database file next to the main one (``erp.db`` → ``erp.<schema>.db``); ``upgrade()`` creates it
    when missing. Creating a
    store never touches the database: ``upgrade()`` creates the tables.

    Safe to share between threads: every call runs on its own pooled connection.
    """

    def __init__(
        self,
        database: Engine | str | URL,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        reservation_ttl: timedelta = DEFAULT_TTL,
        attempts: int = 5,
        approvals: ApprovalRules | None = None,
        schema: str | None = None,
        **engine_options: Any,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        accounting.checked_ttl(reservation_ttl)
        self._timeouts = Timeouts(timeout)
        self._owns_engine = not isinstance(database, Engine)
        self.schema = schema
        self._outside_schema: Callable[[], Engine] | None = None
        if isinstance(database, Engine):
            if engine_options:
                raise TypeError("engine options are only for a store given a URL")
            if schema is not None:
                raise TypeError("schema is for a store given a URL: point your own engine at the schema")
            self.engine = database
        elif schema is not None:
            options = dict(engine_options)
            url, options["connect_args"] = in_schema(database, schema, options.get("connect_args", {}))
            self.engine = make_engine(url, timeout, **options)
            self._outside_schema = functools.partial(make_engine, database, timeout, **engine_options)
        else:
            self.engine = make_engine(database, timeout, **engine_options)
        self.timeout = timeout
        self._deadlines = CallDeadlines(self.engine, timeout, own_pool=self._owns_engine)
        self.reservation_ttl = reservation_ttl
        self.attempts = attempts
        self.approval_rules = approvals if approvals is not None else ApprovalRules()

    @classmethod
    def from_env(cls, **options: Any) -> Store:
        """A store on the database named by ``SALESGATE_DATABASE_URL``, in the schema named by
        ``SALESGATE_DATABASE_SCHEMA`` if that is set."""
        url = os.environ.get(URL_ENV, "").strip()
        if not url:
            raise StoreError(f"no database: set {URL_ENV} to a SQLAlchemy URL")
        options.setdefault("schema", os.environ.get(SCHEMA_ENV, "").strip() or None)
        return cls(url, **options)

    @property
    def url(self) -> str:
        """The database URL without its password: fit for logs."""
        return safe_url(self.engine.url)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def close(self) -> None:
        """Close the pooled connections of an engine the store created itself."""
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- migrations --------------------------------------------------------------------------------
    def upgrade(self, revision: str = "head") -> None:
        """Create or migrate salesgate's tables to ``revision``; a no-op when they are there already.
        With a ``schema``, the schema (database) is created first if it is missing."""
        if self.schema is not None and self._outside_schema is not None:
            outside = self._outside_schema()
            try:
                retrying(lambda: create_schema(outside, self.schema or ""), what=f"creating schema {self.schema}",
                         attempts=1, url=outside.url)
            finally:
                outside.dispose()
        self._migrate(lambda conn: migrate.upgrade(conn, revision), f"upgrading salesgate tables to {revision}")

    def downgrade(self, revision: str) -> None:
        """Migrate back to ``revision``; ``"base"`` drops every salesgate table (and only those)."""
        self._migrate(lambda conn: migrate.downgrade(conn, revision), f"downgrading salesgate tables to {revision}")

    def current(self) -> str | None:
        """The revision the tables are at, ``None`` before the first upgrade (or before its schema exists)."""
        try:
            return self._read(migrate.current, "reading the salesgate schema revision")
        except StoreError:
            if self._outside_schema is not None and not self._schema_exists():
                return None
            raise

    def _schema_exists(self) -> bool:
        """Whether the schema is there; ``True`` when that cannot be told either (the caller's error stands)."""
        if self.engine.dialect.name == "sqlite" or self._outside_schema is None:
            return True  # SQLite: created when first connected to
        outside = self._outside_schema()
        try:
            with outside.connect() as conn:
                found = conn.execute(text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"),
                                     {"name": self.schema}).first()
        except SQLAlchemyError:  # the database is down: say what failed first, not this
            return True
        finally:
            outside.dispose()
        return found is not None

    @staticmethod
    def knows(revision: str) -> bool:
        """Whether this salesgate ships ``revision`` (tables a newer salesgate migrated are at one it does not)."""
        return migrate.known(revision)

    @staticmethod
    def head() -> str:
        """The newest revision this version of salesgate ships."""
        return migrate.head()

    def _migrate(self, run: Callable[[Connection], None], what: str) -> None:
        def once() -> None:
            with self.engine.begin() as conn:
                try:
                    run(conn)
                except migrate.UnknownRevision as exc:
                    raise StoreError(f"{what} in {self.url}: {exc}") from None
                except CommandError as exc:  # e.g. a revision that does not exist
                    raise StoreError(f"{what} in {self.url}: {exc}") from None

        retrying(once, what=what, attempts=1, url=self.engine.url)

    # -- decision log ------------------------------------------------------------------------------
    def record(self, decision: Decision, facts: Any = None, *, actor: str | None = None,
               now: datetime | None = None, cancelled: threading.Event | None = None) -> str:
        """Append a decision to the log and the audit log, and open one approval request per required role.

        ``facts`` (the facts it was decided on) give the inputs digest and the approval digest the
        requests are bound to; requests bound to another version of the order are voided, pending
        requests no longer required too (docs/approvals.md). ``actor`` is who asked for the decision
        (default: the user of :func:`~.approvals.acting_as` around the call): they cannot approve it.
        ``cancelled`` (set by a caller that stopped waiting) rolls the entry back if it is set before
        the commit: a gate that answered by its failure mode meanwhile leaves no entry of the decision
        it did not return. Returns the decision's id in the log.
        """
        when = now or utcnow()
        who = approvals.user_id(actor, "actor") if actor is not None else current_actor()

        what = f"recording decision {decision.hook} {decision.subject}"

        def insert_decision(conn: Connection) -> str:
            _fits_one_statement(conn, decision, what)
            decision_id = self._insert_decision(conn, decision, facts, when, who)
            _begin_commit(cancelled)
            return decision_id

        return self._locking(insert_decision, what)

    def decisions(self, subject: str | None = None, *, limit: int | None = None) -> list[RecordedDecision]:
        """Logged decisions, oldest first: all of them, or those on one order or return."""
        query = select(decisions).order_by(decisions.c.decided_at, decisions.c.id)
        if subject is not None:
            query = query.where(decisions.c.subject == key(subject))
        if limit is not None:
            query = query.limit(limit)
        return self._read(lambda conn: [_recorded(row) for row in conn.execute(query)], "reading the decision log")

    def approval_requests(self, subject: str | None = None, status: str | None = None) -> list[ApprovalRequest]:
        """Approval requests, oldest first and in ladder order, optionally for one subject and status."""
        query = select(approval_requests).order_by(approval_requests.c.created_at, approval_requests.c.decision_id,
                                                   approval_requests.c.position)
        if subject is not None:
            query = query.where(approval_requests.c.subject == key(subject))
        if status is not None:
            query = query.where(approval_requests.c.status == status)
        return self._read(lambda conn: [request_from_row(row) for row in conn.execute(query)],
                          "reading approval requests")

    def _insert_decision(self, conn: Connection, decision: Decision, facts: Any, now: datetime,
                         actor: str | None = None, *, create_lock: bool = False) -> str:
        entry = log_entry(decision, facts, actor)
        decision, digest = entry.decision, entry.approval_digest
        decision_id = str(uuid.uuid4())
        as_json = decision_json(decision)
        # Serialise every change of the subject's requests, the first included (no request rows to lock yet).
        locks.lock(conn, subject_locks, decision.subject, create=create_lock)
        conn.execute(insert(decisions).values(
            id=decision_id, decided_at=now, hook=decision.hook, subject=decision.subject,
            outcome=decision.outcome.value, policy_name=decision.policy.name,
            policy_version=decision.policy.version, policy_hash=decision.policy.hash,
            inputs_digest=entry.inputs_digest, decision=as_json,
            backend=decision.backend, failure=decision.failure, approval_digest=digest, actor=actor,
        ))
        requests = approvals.open_requests(conn, decision, decision_id, digest, actor, self.approval_rules, now)
        audit.append(conn, "decision", {
            "decision_id": decision_id, "outcome": decision.outcome.value,
            "approvals": decision.required_roles,
            "reasons": [{"rule": r.rule, "outcome": r.outcome.value, "line_no": r.line_no, "plugin": r.plugin,
                         "message": r.message if decision.failure is None else FAILURE_IN_LOG}
                        for r in decision.reasons],
            "policy": {"name": decision.policy.name, "version": decision.policy.version,
                       "hash": decision.policy.hash},
            "backend": decision.backend,
            "failure": None if decision.failure is None else FAILURE_IN_LOG, "inputs_digest": entry.inputs_digest,
            "approval_digest": digest, "decision_sha256": audit.decision_digest(as_json), **requests,
        }, now=now, subject=decision.subject, hook=decision.hook, actor=actor, policy_hash=decision.policy.hash)
        return decision_id

    # -- approval workflow -------------------------------------------------------------------------
    def approve(self, subject: str, user: str, *, role: str | None = None, hook: str | None = None,
                comment: str | None = None, now: datetime | None = None) -> ApprovalRequest:
        """``user`` approves the step of order ``subject`` that is theirs to approve now.

        Refused with :class:`~.approvals.ApprovalError` (nothing written) when the user does not hold
        the role (or the role it was escalated to), an earlier rung of the ladder has not approved,
        the user requested the order, already approved another step of it, or the request expired.
        ``role``/``hook`` pick the request when the user could act on several. Audited.
        """
        return self._act("approve", subject, user, role, hook, comment, now)

    def reject(self, subject: str, user: str, *, role: str | None = None, hook: str | None = None,
               comment: str | None = None, now: datetime | None = None) -> ApprovalRequest:
        """``user`` rejects order ``subject``: the other requests of that hook are voided, and the order's
        credit reservation (order hooks) is cancelled. Same checks as :meth:`approve` (a requester may
        reject their own order). Audited."""
        return self._act("reject", subject, user, role, hook, comment, now)

    def _act(self, action: Action, subject: str, user: str, role: str | None, hook: str | None, comment: str | None,
             now: datetime | None) -> ApprovalRequest:
        when, subject = now or utcnow(), key(subject)
        user = approvals.user_id(user)  # refused before anything is written, the sweep included
        # Expiries and escalations first, in their own transaction: they stand even if the action is refused.
        self._locking(lambda conn: approvals.sweep(conn, when, subject=subject),
                      f"expiring and escalating the requests of {subject}")

        def acting(conn: Connection) -> ApprovalRequest:
            try:
                locks.lock(conn, subject_locks, subject)
            except locks.MissingLockRow:
                if approvals.has_requests(conn, subject):  # requests written before the lock rows existed
                    raise
            return approvals.act(conn, action, subject, user, role=role, hook=hook, comment=comment,
                                 rules=self.approval_rules, now=when)

        return self._locking(acting, f"{action[:-1]}ing order {subject}")

    def approval_status(self, subject: str, digest: str | None = None, *, order: Any = None,
                        now: datetime | None = None, point: str | None = None) -> ApprovalStatus:
        """May order ``subject`` go ahead? Pass the order as it is now (``order=`` facts or document, or
        its ``digest``, see :func:`~.records.approval_digest`): approvals count only for that exact
        order. Without either, the order as last decided is assumed — which an edit that was never
        decided again would slip past, so an ERP should always pass it. At a declared decision point pass
        ``point=`` (only decisions and requests about that point's document count: its ids may also name
        an order) and its validated facts (``gate.facts_for(point, facts)``) as ``order=``."""
        if order is not None:
            digest = approval_digest(order)
        when, subject = now or utcnow(), key(subject)
        return self._read(lambda conn: approvals.status(conn, subject, digest, when, point),
                          f"reading the approval status of {subject}", snapshot=True)

    def is_approved(self, subject: str, digest: str | None = None, *, order: Any = None,
                    now: datetime | None = None, point: str | None = None) -> bool:
        """``approval_status(...).approved``: every required approval given for this very order, or none needed."""
        return self.approval_status(subject, digest, order=order, now=now, point=point).approved

    def sweep_approvals(self, now: datetime | None = None) -> int:
        """Expire and escalate overdue requests (audited); returns how many changed."""
        when = now or utcnow()
        return self._locking(lambda conn: approvals.sweep(conn, when), "expiring and escalating approval requests")

    def grant_role(self, user: str, role: str, *, by: str | None = None, now: datetime | None = None) -> bool:
        """Let ``user`` approve for ``role`` (audited, ``by`` = who granted it); ``False`` if they already could."""
        when = now or utcnow()
        return self._write(lambda conn: approvals.grant(conn, user, role, by, when), f"granting {role} to {user}",
                           isolation="READ COMMITTED")

    def revoke_role(self, user: str, role: str, *, by: str | None = None, now: datetime | None = None) -> bool:
        """Take ``role`` from ``user`` (audited); ``False`` if they did not hold it."""
        when = now or utcnow()
        return self._write(lambda conn: approvals.revoke(conn, user, role, by, when),
                           f"revoking {role} from {user}", isolation="READ COMMITTED")

    def role_members(self, role: str | None = None) -> list[RoleMember]:
        """Who may approve for each role (or one role)."""
        return self._read(lambda conn: approvals.members(conn, role), "reading role members")

    def roles_of(self, user: str) -> list[str]:
        """The roles ``user`` may approve for."""
        return self._read(lambda conn: approvals.roles_of(conn, user), f"reading the roles of {user}")

    # -- audit log ---------------------------------------------------------------------------------
    def audit_entries(self, subject: str | None = None) -> list[AuditEntry]:
        """Audit entries in chain order: all, or those of one order or return."""
        subject = key(subject) if subject is not None else None
        return self._read(lambda conn: audit.entries(conn, subject), "reading the audit log")

    def verify_audit(self, *, check_decisions: bool = True, kept: Mapping[int, str] | None = None) -> AuditReport:
        """Check the whole chain (and the decision rows it names); the report names the first bad entry.

        ``kept``: entry number → hash (or a prefix of 12 or more characters) recorded outside the
        database earlier; each must still match (see :func:`salesgate_adapters.store.audit.verify`)."""
        kept = audit.checked_kept(kept) if kept else None
        return self._read(lambda conn: audit.verify(conn, check_decisions=check_decisions, kept=kept),
                          "verifying the audit log", snapshot=True)

    # -- credit reservations -----------------------------------------------------------------------
    def reserve(
        self,
        customer_id: str,
        order_id: str,
        amount: Decimal,
        decide: Decide,
        *,
        exclude_order_ids: CountedOrders = (),
        expires_in: timedelta | None = None,
        now: datetime | None = None,
        cancelled: threading.Event | None = None,
    ) -> ReserveResult:
        """Check and hold credit for an order, atomically with respect to the customer's other orders.

        In one transaction holding the customer's lock row: read the customer's active reservations,
        drop those the ERP already counts, call ``decide(reserved)`` with the sum of the rest, log
        the decision, and hold ``amount`` unless the outcome is ``block`` (``require_approval``
        holds too: credit pending approval is credit spoken for). Another worker reserving for the
        same customer waits for the lock, so it sees this reservation: the sum of held orders never
        passes what ``decide`` allows.

        ``exclude_order_ids`` names orders the ERP already counts in its exposure (its open orders),
        or is a function asked, inside the lock, which of the reserved order ids the ERP counts;
        their reservations are confirmed on the way, so an ERP confirmation whose ``confirm()`` was
        lost is never counted twice. An order that already holds a reservation for the same amount
        (or a confirmed one) is decided again inside the lock; when ``decide`` gives the facts the
        recorded decision was made on (same inputs digest) and the same answer, it is a retry: the
        recorded decision is returned and nothing changes. Otherwise — changed facts, or a different
        amount — the new decision is logged and the hold moves onto it (without counting the order's
        old hold; a confirmed reservation of the same amount stays confirmed); if it blocks, the old
        hold stays. ``cancelled`` (set by a caller that stopped waiting) rolls everything back if it is set
        before the commit. Raises :class:`StoreError` when the database fails; whatever ``decide``
        raises propagates, after the rollback.
        """
        customer_id, order_id = key(customer_id), key(order_id)
        storable(customer_id, "customer id")
        storable(order_id, "order id")
        accounting.checked_amount(amount)
        ttl = expires_in if expires_in is not None else self.reservation_ttl
        try:
            return self._locking(
                lambda conn: self._reserve_locked(conn, customer_id, order_id, amount, decide, exclude_order_ids,
                                                  ttl, now or utcnow(), cancelled),
                f"reserving credit for order {order_id}")
        except _Raised as raised:
            raise raised.error from None

    def _reserve_locked(
        self, conn: Connection, customer_id: str, order_id: str, amount: Decimal, decide: Decide,
        counted_orders: CountedOrders, ttl: timedelta, now: datetime, cancelled: threading.Event | None,
    ) -> ReserveResult:
        if conn.dialect.name != "sqlite" and not locks.exists(conn, subject_locks, order_id):
            # Found now, not once the customer's lock was waited for: the decision locks the order's row later.
            raise locks.MissingLockRow(subject_locks, order_id)
        locks.lock(conn, credit_locks, customer_id)
        held = credit_reservations.c
        existing_row = conn.execute(select(credit_reservations).where(held.order_id == order_id)).first()
        existing = reservation_from_row(existing_row) if existing_row is not None else None
        if existing is not None and existing.customer_id != customer_id:
            raise StoreError(f"order {order_id!r} holds a reservation of customer {existing.customer_id!r}, "
                             f"not {customer_id!r}")
        # The same order for the same amount may be a retry: replayed below, but only if the facts are still
        # those the recorded decision was made on. An amended amount (confirmed or not) is decided again: a
        # confirmed order raised from 100 to 900,000 must not pass unchecked.
        same_amount = accounting.may_replay(existing, amount, now)
        # The customer's other holds: the rows that may hold (status only, so the index narrows them), and the
        # workflow says which do at ``now`` — their expiry is its call, not the WHERE clause's.
        holding = {r.order_id: r for r in accounting.holding(
            (reservation_from_row(row) for row in conn.execute(
                select(credit_reservations).where(held.customer_id == customer_id,
                                                  held.status.in_(sorted(accounting.MAY_HOLD)),
                                                  held.order_id != order_id))), now)}
        active = {other: r.amount for other, r in holding.items()}
        counted = _outside(lambda: accounting.counted_orders(counted_orders, sorted(active))) & active.keys()
        for counted_id in sorted(counted):  # a rejection that cancelled it meanwhile stands (write_back)
            holds.write_back(conn, holding[counted_id], accounting.confirmed_by_erp(holding[counted_id], now))
        reserved = accounting.uncounted_total(active, counted)
        _check(cancelled)
        answer = _outside(lambda: decide(reserved))
        decision, facts = answer if isinstance(answer, tuple) else (answer, None)
        # A retry only while the hold's decision is still the order's latest credit check (see is_replay).
        latest = _latest_credit_check(conn, order_id) if same_amount else None
        if same_amount and existing is not None and latest is not None and latest[0] == existing.decision_id:
            recorded = self._recorded(conn, existing.decision_id)
            if accounting.is_replay(existing, latest[0], recorded, inputs_digest(facts), decision):
                _begin_commit(cancelled)
                return ReserveResult(decision=recorded.decision, reservation=existing, replayed=True,
                                     reserved=reserved, decision_id=existing.decision_id, facts=facts)
        # The order's lock row exists (checked above); a decision about another subject creates its own here
        # rather than running the whole reservation, and asking the ERP, again.
        decision_id = self._insert_decision(conn, decision, facts, now, current_actor(), create_lock=True)
        # A rejected order (this very version) holds nothing: the rejection released its credit and stays in force.
        refused = decision.failure is None and approvals.rejected_in_force(conn, order_id, approval_digest(facts))
        reservation, write = accounting.held_after(
            existing, customer_id=customer_id, order_id=order_id, amount=amount, decision=decision,
            decision_id=decision_id, refused=refused, replayable=same_amount, ttl=ttl, now=now)
        if write and reservation is not None:
            values = {"amount": amount, "status": reservation.status, "outcome": decision.outcome.value,
                      "updated_at": now, "expires_at": reservation.expires_at, "policy_hash": reservation.policy_hash,
                      "decision_id": decision_id}
            if existing is not None:
                conn.execute(update(credit_reservations).where(held.id == existing.id).values(**values))
            else:
                conn.execute(insert(credit_reservations).values(
                    id=reservation.id, customer_id=customer_id, order_id=order_id, created_at=now, **values))
        _begin_commit(cancelled)
        return ReserveResult(decision=decision, reservation=reservation, replayed=False, reserved=reserved,
                             decision_id=decision_id, facts=facts)

    def _recorded(self, conn: Connection, decision_id: str | None) -> RecordedDecision:
        row = conn.execute(select(decisions).where(decisions.c.id == decision_id)).first() if decision_id else None
        if row is None:
            raise StoreError(f"the decision log has no decision {decision_id!r} for this reservation")
        return _recorded(row)

    def reservation(self, order_id: str) -> Reservation | None:
        """The reservation of an order, whatever its status."""
        query = select(credit_reservations).where(credit_reservations.c.order_id == key(order_id))
        return self._read(lambda conn: _first(conn, query), f"reading the reservation of order {order_id}")

    def reservations(self, customer_id: str | None = None, status: str | None = None) -> list[Reservation]:
        """Reservations, oldest first, optionally of one customer and status."""
        held = credit_reservations.c
        query = select(credit_reservations).order_by(held.created_at, held.order_id)
        if customer_id is not None:
            query = query.where(held.customer_id == key(customer_id))
        if status is not None:
            query = query.where(held.status == status)
        return self._read(lambda conn: [reservation_from_row(row) for row in conn.execute(query)],
                          "reading reservations")

    def reserved_amount(self, customer_id: str, *, now: datetime | None = None) -> Decimal:
        """What the customer's active reservations hold at ``now``."""
        when = now or utcnow()
        return accounting.reserved_amount(self.reservations(customer_id, "reserved"), when)

    def confirm(self, order_id: str, *, now: datetime | None = None) -> Reservation | None:
        """The ERP confirmed the order: it now counts in the ERP's open orders, so the reservation stops counting.

        Idempotent. ``None`` when the order holds no reservation. Raises
        :class:`~salesgate.errors.ReservationError` when the reservation is cancelled, or when the order's
        latest credit check (of the policy's, fallbacks passed over) blocks: a block leaves the earlier
        hold in place (over-held, never under-held), but it is no pass to confirm; re-check the order (a
        pass moves the hold onto it) or cancel it.
        """
        return self._transition(order_id, "confirmed", now)

    def cancel(self, order_id: str, *, now: datetime | None = None) -> Reservation | None:
        """The order will not be entered (or was cancelled): release its credit. Idempotent."""
        return self._transition(order_id, "cancelled", now)

    def expire(self, now: datetime | None = None) -> int:
        """Mark reservations past their expiry as expired; returns how many. (They stop counting at
        expiry whether or not this runs: it only keeps the table readable.)"""
        when = now or utcnow()
        held = credit_reservations.c

        def run(conn: Connection) -> int:
            # The WHERE clause only narrows the rows read (the index on status, and no need to read every hold
            # in force); which are due is the workflow's call, and each is written only if unchanged since.
            due = [r for r in (reservation_from_row(row) for row in conn.execute(
                select(credit_reservations).where(held.status.in_(sorted(accounting.MAY_HOLD)),
                                                  held.expires_at <= when)))
                   if accounting.expires(r, when)]
            return sum(holds.write_back(conn, r, accounting.expired(r, when)) for r in due)

        return self._write(run, "expiring reservations")

    def _transition(self, order_id: str, status: str, now: datetime | None) -> Reservation | None:
        when, order_id = now or utcnow(), key(order_id)
        held = credit_reservations.c

        def run(conn: Connection) -> Reservation | None:
            found = conn.execute(select(credit_reservations.c.customer_id).where(held.order_id == order_id)).first()
            if found is None:
                return None
            # The customer's lock first, as a reserving check takes it: a re-check of the order running now
            # either finishes before this (and is confirmed or cancelled here) or starts after it.
            locks.lock(conn, credit_locks, found.customer_id)
            row = conn.execute(select(credit_reservations).where(held.order_id == order_id).with_for_update()).first()
            if row is None:  # pragma: no cover - reservations are never deleted
                return None
            current = reservation_from_row(row)
            # under the customer's lock: no re-check of the order can slip in between
            latest = _latest_credit_check(conn, order_id) if status == "confirmed" else None
            changed = accounting.transition(current, status, when, latest_check=latest)
            if changed is not current:
                holds.write_back(conn, current, changed)  # the row is locked: it is still ``current``
            return changed

        return self._locking(run, f"marking the reservation of order {order_id} {status}")

    # -- plumbing ----------------------------------------------------------------------------------
    def _locking(self, work: Callable[[Connection], T], what: str) -> T:
        """Run ``work`` (READ COMMITTED) taking lock rows; a lock row it finds missing is created in a
        transaction of its own and the work runs again (a reservation may miss two: the order's, the customer's)."""
        def attempts() -> T:
            created: set[tuple[str, str]] = set()
            while True:
                try:
                    return self._write(work, what, isolation="READ COMMITTED")
                except locks.MissingLockRow as missing:
                    if (missing.table.name, missing.key) in created:
                        raise StoreError(f"{what} failed: {missing} (it disappeared as soon as it was created)"
                                         ) from None
                    created.add((missing.table.name, missing.key))
                    self._write(functools.partial(locks.insert_if_missing, table=missing.table, key=missing.key),
                                what)

        return self._bounded(attempts, what)

    def _bounded(self, work: Callable[[], T], what: str) -> T:
        """``work()`` within the store's timeout, a total for the whole call (see :mod:`..deadlines`)."""
        try:
            return self._deadlines.run(work)
        except Overrun:
            raise StoreError(f"{what}: no answer within {self.timeout:g} s (the store's timeout, for the whole "
                             "call): the connection was cut") from None

    def _write(self, work: Callable[[Connection], T], what: str, *, isolation: str | None = None) -> T:
        return self._run(work, what, isolation=isolation, write=True)

    def _read(self, work: Callable[[Connection], T], what: str, *, snapshot: bool = False) -> T:
        """Run ``work`` in a read transaction; ``snapshot``: every statement of it sees the same snapshot.

        A reader that compares rows with the audit entries describing them (``approval_status``,
        ``verify_audit``) must not see an approval committed between its two reads: REPEATABLE READ on
        PostgreSQL and MariaDB (one snapshot, taken at the first read; a read-only transaction there
        never fails to serialise). SQLite's read transaction is one snapshot already."""
        return self._run(work, what, isolation=SNAPSHOT if snapshot else None, write=False)

    def _run(self, work: Callable[[Connection], T], what: str, *, isolation: str | None, write: bool) -> T:
        def once() -> T:
            try:
                with transaction(self.engine, self._timeouts, isolation=isolation, write=write) as conn:
                    result = work(conn)
                    # Not committed past the call's deadline, though nothing was cut: on SQLite the cut
                    # (interrupt()) stops only a statement running at that moment.
                    self._deadlines.check()
                    return result
            except (ValueError, TypeError, ArithmeticError) as exc:  # a value the database handed back
                raise StoreError(f"{what} failed: unreadable data ({type(exc).__name__}: {exc})") from exc
            except DBAPIError as exc:
                if not_upgraded(exc):
                    raise StoreNotUpgraded(f"{what} failed: salesgate's tables are missing or out of date in "
                                           f"{self.url} ({describe(exc, self.engine.url)}): run `salesgate db "
                                           "upgrade`") from None
                raise

        return self._bounded(lambda: retrying(once, what=what, attempts=self.attempts, url=self.engine.url,
                                              remaining=self._deadlines.remaining), what)


def _latest_credit_check(conn: Connection, order_id: str) -> tuple[str, str] | None:
    """The id and outcome of the order's latest credit check of the policy's, or None if it has none: the
    workflow's call (:func:`~salesgate.workflow.reservations.latest_credit_check`) on the order's credit
    checks, oldest first (the WHERE clause only narrows the rows read to the hook it looks at)."""
    query = (select(decisions.c.id, decisions.c.hook, decisions.c.outcome, decisions.c.failure)
             .where(decisions.c.subject == order_id, decisions.c.hook == "credit_check")
             .order_by(decisions.c.decided_at, decisions.c.id))
    return accounting.latest_credit_check(conn.execute(query))


class StoreNotUpgraded(StoreError):
    """salesgate's tables are not there (or at an older revision): ``salesgate db upgrade`` creates them."""


UNDEFINED_SQLSTATES = frozenset({"42P01", "42703"})  # PostgreSQL: undefined table, undefined column
UNDEFINED_MYSQL_ERRORS = frozenset({1146, 1054})  # MariaDB/MySQL: no such table, unknown column


def not_upgraded(exc: DBAPIError) -> bool:
    """Whether the database says a salesgate table or column does not exist: the schema was never
    created (or is older than this salesgate), which ``salesgate db upgrade`` fixes — not an outage."""
    cause = exc.orig
    if getattr(cause, "sqlstate", None) in UNDEFINED_SQLSTATES:
        return True
    args: tuple[Any, ...] = getattr(cause, "args", ())
    if args and isinstance(args[0], int):
        return args[0] in UNDEFINED_MYSQL_ERRORS
    message = str(cause)
    return message.startswith(("no such table: salesgate_", "no such column: ")) or (
        "has no column named" in message and "salesgate_" in message)


def _outside(call: Callable[[], T]) -> T:
    """Call the caller's code (the decision, the ERP) inside the transaction; what it raises is theirs."""
    try:
        return call()
    except Exception as exc:
        raise _Raised(exc) from exc


def _check(cancelled: threading.Event | None) -> None:
    if cancelled is not None and cancelled.is_set():
        raise StoreError("the caller stopped waiting (timeout): rolled back, nothing was written")


def _begin_commit(cancelled: threading.Event | None) -> None:
    """Right before the commit: roll back if the caller stopped waiting; else, when the caller can be told
    (a gate's :class:`salesgate.deadline.Cancellation`), tell it the commit starts, so that it waits for
    the commit instead of answering as if nothing had been written."""
    begin = getattr(cancelled, "begin_commit", None)
    if callable(begin) and begin():
        return
    if callable(begin) or (cancelled is not None and cancelled.is_set()):
        raise StoreError("the caller stopped waiting (timeout): rolled back, nothing was written")


_LARGE_DECISION = 1_000_000
"""Characters of JSON past which a decision is measured against MariaDB/MySQL's statement size."""


def _fits_one_statement(conn: Connection, decision: Decision, what: str) -> None:
    """On MariaDB/MySQL, refuse a decision larger than the server takes in one statement
    (``max_allowed_packet``, 16 MiB by default) with a message naming the setting: the server
    otherwise drops the connection ("MySQL server has gone away") and the gate's failure reason
    says nothing an operator can act on. A 10,000-line order on which a rule fires for every line
    makes a decision of about 17 MB. Small decisions (nearly all) are never measured twice: their
    reasons, lines and trace are counted first."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return
    lines = len(decision.pricing.lines) if decision.pricing is not None else 0
    if len(decision.reasons) + lines < 1_000:
        return
    text = json.dumps(decision.model_dump(mode="json"))  # as SQLAlchemy sends it: ASCII, a byte a character
    size = len(text) + text.count("\\") + text.count('"')  # each escaped once more in the statement
    if size < _LARGE_DECISION:
        return
    limit = int(conn.exec_driver_sql("SELECT @@max_allowed_packet").scalar_one())
    if size + 64 * 1024 > limit:  # the statement's other columns and its SQL
        raise StoreError(f"{what} failed: the decision takes {size / 2**20:.1f} MiB in one statement, more than "
                         f"this MariaDB/MySQL server takes (max_allowed_packet = {limit / 2**20:.0f} MiB): raise "
                         "max_allowed_packet on the server (docs/store.md)")


def _first(conn: Connection, query: Select[Any]) -> Reservation | None:
    row = conn.execute(query).first()
    return reservation_from_row(row) if row is not None else None


def _recorded(row: Row[Any]) -> RecordedDecision:
    try:
        return RecordedDecision(id=row.id, decided_at=row.decided_at, inputs_digest=row.inputs_digest,
                                decision=decision_from_json(row.decision))
    except (ValidationError, ValueError, TypeError) as exc:
        raise unreadable("salesgate_decisions", exc) from exc


