"""The approval workflow in SQL: opening requests with a decision, approving, rejecting, expiry and escalation.

What changes is the workflow's (:mod:`salesgate.workflow.approvals`: pure functions over the rows);
this module reads and locks the rows, writes the changes and checks them against the audit log.

Every function here runs inside a transaction the :class:`~.store.Store` opened, and appends to the
audit log in that same transaction, so an action and its audit entry are written together or not at
all. Lock order is always the subject's lock row (taken by the store), then request rows, then the
audit head row: no two transactions wait on each other in opposite orders. See docs/approvals.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from salesgate.decisions import Decision
from salesgate.errors import ApprovalError
from salesgate.pointspecs import ORDER_POINTS
from salesgate.records import ApprovalRequest, ApprovalStatus, RoleMember
from salesgate.workflow import approvals as ladder
from salesgate.workflow import reservations as accounting
from salesgate.workflow.approvals import LIVE, STANDING, Action, ApprovalRules
from salesgate.workflow.identities import acting_as, current_actor, stored_id, user_id

from . import audit, holds, locks
from .records import request_from_row
from .tables import (
    approval_requests,
    audit_head,
    audit_log,
    credit_reservations,
    decisions,
    role_members,
    subject_locks,
)

__all__ = [
    "LIVE",
    "ORDER_POINTS",
    "STANDING",
    "ApprovalError",
    "ApprovalRules",
    "acting_as",
    "current_actor",
    "stored_id",
    "user_id",
]


# -- opening requests with a decision ---------------------------------------------------------------------------


def open_requests(conn: Connection, decision: Decision, decision_id: str, digest: str | None, actor: str | None,
                  rules: ApprovalRules, now: datetime) -> dict[str, Any]:
    """Void what the decision supersedes and open a request per required role not already live.

    The caller holds the subject's lock row, so two decisions of one subject never interleave here.
    With a digest: requests of *any* hook bound to another digest are voided, approved ones
    included (the order changed); on the decision's own hook, requests for the same digest and a
    role still required carry over (an approval stays valid for the order it was given for, and a
    rejection stays in force: deciding the unchanged order again opens nothing), and pending or
    expired ones no longer required are voided. An expired request is reopened as a new one. The
    ladder order always holds: an approval carried over above a step that is (re)opened now is
    voided and reopened too — the higher role signs again, after the lower one. A fallback decision
    (``failure`` set: salesgate could not decide) changes no request: it is not the policy's answer, and
    the requests of the last decision the policy made stay as they are. A ``block`` opens nothing,
    whatever roles its rules named (no approval lifts a block), and voids the requests of its hook
    standing for the order (recorded with the order or without), approved ones included: once the block
    is lifted, the order is approved afresh. Returns the audit facts.
    """
    if decision.failure is not None:
        return {"opened": [], "kept": [], "voided": []}
    c = approval_requests.c
    standing = [request_from_row(r) for r in conn.execute(
        select(approval_requests).where(c.subject == decision.subject, c.status.in_(STANDING))
        .order_by(c.created_at, c.position).with_for_update())]
    plan = ladder.plan_requests(decision, decision_id, digest, actor, standing, rules, now)
    for request, reason in plan.voided:
        conn.execute(update(approval_requests).where(c.id == request.id)
                     .values(status="void", status_reason=reason, updated_at=now))
    for request, position in plan.moved:
        conn.execute(update(approval_requests).where(c.id == request.id).values(position=position))
    opened = [_row(r) for r in plan.opened]
    if opened:
        conn.execute(insert(approval_requests), opened)
    return {
        "opened": [r["role"] for r in opened],
        "opened_requests": [audit.request_timing(r) for r in opened],  # the chain vouches for these too
        "kept": [{"role": r.role, "status": r.status, "acted_by": r.acted_by} for r in plan.kept.values()],
        "voided": [ladder.brief(r, reason) for r, reason in plan.voided],
    }


def _row(request: ApprovalRequest) -> dict[str, Any]:
    """The columns a newly opened request is inserted with."""
    return {"id": request.id, "decision_id": request.decision_id, "hook": request.hook, "subject": request.subject,
            "role": request.role, "position": request.position, "status": request.status,
            "created_at": request.created_at, "updated_at": request.updated_at,
            "approval_digest": request.approval_digest, "requested_by": request.requested_by,
            "expires_at": request.expires_at, "escalate_at": request.escalate_at, "escalate_to": request.escalate_to}


# -- acting ----------------------------------------------------------------------------------------------------


def act(conn: Connection, action: Action, subject: str, user: str, *, role: str | None, hook: str | None,
        comment: str | None, rules: ApprovalRules, now: datetime) -> ApprovalRequest:
    """Approve or reject the request of ``subject`` that ``user`` may act on now (see docs/approvals.md).

    The caller holds the subject's lock row and swept the subject's requests first (:func:`sweep`), in a
    transaction of its own. Which request, and whether the user may act on it, is the workflow's
    (:func:`salesgate.workflow.approvals.choose`); here: the rows, locked, and what the audit log backs
    (roles granted through salesgate, requesters, requests not edited with SQL)."""
    user = user_id(user)
    role = user_id(role, "role") if role is not None else None
    c = approval_requests.c
    live = [request_from_row(r) for r in conn.execute(
        select(approval_requests).where(c.subject == subject, c.status.in_(STANDING))
        .order_by(c.hook, c.position, c.created_at).with_for_update())]
    pending = ladder.pending_of(live, hook)
    if not pending:
        raise ApprovalError(_nothing_pending(conn, subject, hook))
    if problem := _tampered(conn, subject) or _roles_unknown(conn):
        raise ApprovalError(f"order {subject!r} cannot be approved or rejected: {problem}: run salesgate audit verify")
    rows = _role_rows(conn, user)
    held = rows & _audited_roles(conn, user)
    request, acting_for = ladder.choose(
        action, subject, user, role=role, pending=pending, live=live, held=held, forged=rows - held,
        requesters=lambda r: _requesters(conn, subject, r.hook, r.approval_digest), rules=rules)
    done = ladder.acted(request, action, user, acting_for, comment, now)
    changed = conn.execute(update(approval_requests).where(c.id == request.id, c.status == "pending").values(
        status=done.status, acted_by=user, acted_at=now, comment=comment, updated_at=now,
        status_reason=done.status_reason))
    if changed.rowcount != 1:  # pragma: no cover - the rows are locked above
        raise ApprovalError(f"the request of {request.role} on order {subject!r} changed meanwhile: try again")
    content: dict[str, Any] = {"request_id": request.id, "decision_id": request.decision_id, "role": request.role,
                               "as_role": acting_for, "position": request.position,
                               "approval_digest": request.approval_digest, "comment": comment}
    if action == "reject":
        others = ladder.voided_by_rejection(request, live)
        reason = ladder.rejection_reason(request, user)
        for other in others:
            conn.execute(update(approval_requests).where(c.id == other.id)
                         .values(status="void", status_reason=reason, updated_at=now))
        content["voided"] = [ladder.brief(r, reason) for r in others]
        if ladder.releases_credit(request):
            found = conn.execute(select(credit_reservations).where(credit_reservations.c.order_id == subject)).first()
            hold = holds.reservation_from_row(found) if found is not None else None
            content["reservation_cancelled"] = (
                hold is not None and accounting.released_by_rejection(hold)
                and holds.write_back(conn, hold, accounting.cancelled_by_rejection(hold, now)))
    audit.append(conn, done.status, content, now=now, subject=subject, hook=request.hook, actor=user,
                 policy_hash=_policy_hash(conn, request.decision_id))
    row = conn.execute(select(approval_requests).where(c.id == request.id)).one()
    return request_from_row(row)


def sweep(conn: Connection, now: datetime, *, subject: str | None = None) -> int:
    """Mark overdue pending requests ``expired`` and escalate those past their escalation time; audited.

    Returns how many requests changed. Runs before every approval action, listing and status check
    through the CLI; an ERP may also call it on a schedule (``salesgate approvals sweep``).

    Takes its locks in the order every other writer of requests does: first the lock row of each
    subject with pending requests (sorted by subject, all of them before anything else), then those
    subjects' pending request rows, then the audit head row. A decision or approval of the same order
    therefore waits at the subject's lock row instead of holding request rows the sweep wants
    (:class:`~.locks.MissingLockRow` when a subject has none yet: the store creates it and runs again).
    """
    c = approval_requests.c
    due = select(c.subject).where(c.status == "pending")
    if subject is not None:
        due = due.where(c.subject == subject)
    subjects = list(conn.execute(due.distinct().order_by(c.subject)).scalars())
    for each in subjects:
        locks.lock(conn, subject_locks, each)
    if not subjects:
        return 0
    query = (select(approval_requests).where(c.status == "pending", c.subject.in_(subjects))
             .order_by(c.subject, c.hook, c.position))
    changed = 0
    for request in [request_from_row(r) for r in conn.execute(query.with_for_update())]:
        change = ladder.sweep_change(request, now)
        if change is None:
            continue
        after = ladder.swept(request, change, now)
        if change == "expired":
            conn.execute(update(approval_requests).where(c.id == request.id, c.status == "pending").values(
                status=after.status, status_reason=after.status_reason, updated_at=now))
            content = {"request_id": request.id, "role": request.role, "expires_at": request.expires_at,
                       "created_at": request.created_at}
        else:
            conn.execute(update(approval_requests).where(c.id == request.id).values(escalated_at=now, updated_at=now))
            content = {"request_id": request.id, "role": request.role, "escalate_to": request.escalate_to,
                       "created_at": request.created_at}
        audit.append(conn, change, content, now=now, subject=request.subject, hook=request.hook, actor=None,
                     policy_hash=_policy_hash(conn, request.decision_id))
        changed += 1
    return changed


# -- status -----------------------------------------------------------------------------------------------------


def status(conn: Connection, subject: str, digest: str | None, now: datetime,
           point: str | None = None) -> ApprovalStatus:
    """What the ERP asks before confirming: may this order, as it is now (``digest``), go ahead?

    The answer is the workflow's (:func:`salesgate.workflow.approvals.approval_status`), and rests only
    on rows the audit log backs: the subject's entries (each checked against its own hash) are replayed,
    and a latest decision or a counted request that differs from them — a row changed or added with
    SQL — makes the answer ``tampered``, never ``approved``. (Whether the chain itself is whole is
    ``salesgate audit verify``'s business.)"""
    every = conn.execute(select(decisions.c.id, decisions.c.hook, decisions.c.subject, decisions.c.outcome,
                                decisions.c.approval_digest, decisions.c.failure, decisions.c.decided_at)
                         .where(decisions.c.subject == subject).order_by(decisions.c.decided_at, decisions.c.id)).all()
    c = approval_requests.c
    # Every row of the subject, whatever its status: a row voided, re-bound or deleted with SQL must be
    # found too (it would otherwise simply drop out of what is counted).
    rows = [request_from_row(row) for row in conn.execute(
        select(approval_requests).where(c.subject == subject).order_by(c.created_at, c.id))]
    return ladder.approval_status(
        subject, digest, every, rows, now, point=point,
        unbacked=lambda current, latest, logged, requests: _unbacked(conn, subject, current, latest, logged,
                                                                      requests, point))


# -- roles ------------------------------------------------------------------------------------------------------


def roles_of(conn: Connection, user: str) -> list[str]:
    """The roles ``user`` holds: a row of ``salesgate_role_members`` that an audit entry granted (a row
    added with SQL gives no role). Compared in Python over the normalised ids (:func:`stored_id`), not
    by the database: MariaDB's collation would match ``"boss "`` to ``"boss"``, PostgreSQL's would not."""
    user = user_id(user)
    return sorted(_role_rows(conn, user) & _audited_roles(conn, user))


def _role_rows(conn: Connection, user: str) -> set[str]:
    return {r.role for r in conn.execute(select(role_members.c.role, role_members.c.user_id))
            if stored_id(r.user_id) == user}


def _audited_roles(conn: Connection, user: str) -> set[str]:
    """The roles the audit log's grants and revokes leave ``user`` holding (entries whose own hash holds).

    Role entries are the log's only entries without a subject: the subject index finds them."""
    replay = audit.Replay()
    query = (select(audit_log).where(audit_log.c.subject.is_(None),
                                     audit_log.c.kind.in_(("role_granted", "role_revoked")),
                                     audit_log.c.seq <= _head_seq())  # past the head: not written by salesgate
             .order_by(audit_log.c.seq))
    for entry in audit.entries_of(conn, query):
        try:
            about = stored_id(entry.data.get("user"))
        except ValueError:
            continue  # not JSON: an edited entry, which vouches for nothing
        if about == user and audit.intact(entry):  # only this user's entries are worth hashing
            replay.add(entry)
    return {role for role, member in replay.members if member == user}


def _head_seq() -> Any:
    """The head row's entry number, as a subquery: entries beyond it were appended outside salesgate."""
    return select(audit_head.c.seq).where(audit_head.c.id == audit.HEAD_ID).scalar_subquery()


def _requesters(conn: Connection, subject: str, hook: str, digest: str | None) -> set[str]:
    """Everyone who asked for a decision of this very order (``digest``) on ``hook``, as the audit log says.

    A request carried over keeps the requester of the decision that opened it, who may be nobody (a
    batch job deciding without :func:`acting_as`): the clerk who then decided the unchanged order again
    is a requester too, and may not approve it."""
    if digest is None:
        return set()
    query = select(audit_log).where(audit_log.c.subject == subject, audit_log.c.kind == "decision",
                                    audit_log.c.hook == hook).order_by(audit_log.c.seq)
    found: set[str] = set()
    for entry in audit.entries_of(conn, query):
        try:
            same = entry.data.get("approval_digest") == digest
        except ValueError:
            continue
        if same and entry.actor is not None and audit.intact(entry):
            found.add(stored_id(entry.actor) or "")
    return found


def _roles_unknown(conn: Connection) -> str | None:
    """Why the log's grants and revokes cannot be trusted to say who holds a role now (``None``: they can).

    :func:`_audited_roles` hashes only the approver's own role entries; a revoke someone edited to name
    another user, or deleted, would silently give the role back (with a row added to
    ``salesgate_role_members`` by SQL). So every revoke must match its own hash, and the log must have
    no gap: as many entries as its head row counts."""
    head = conn.execute(select(audit_head.c.seq).where(audit_head.c.id == audit.HEAD_ID)).scalar()
    # Up to the head read now: an append committed meanwhile (head and entry in one commit) changes nothing.
    count = conn.execute(select(func.count()).select_from(audit_log).where(audit_log.c.seq <= head)).scalar()
    if head is not None and count != head:
        return (f"the audit log holds {count} entries up to its head, entry {head}: entries were deleted with SQL, "
                "so who holds which role is unknown")
    query = (select(audit_log).where(audit_log.c.subject.is_(None), audit_log.c.kind == "role_revoked",
                                     audit_log.c.seq <= _head_seq())
             .order_by(audit_log.c.seq))
    for entry in audit.entries_of(conn, query):
        if not audit.intact(entry):
            return (f"audit entry {entry.seq} (role_revoked) does not match its hash: whose role it revoked is "
                    "unknown")
    return None


def _tampered(conn: Connection, subject: str) -> str | None:
    """The first request row of ``subject`` its audit entries do not account for (role, step, requester,
    expiry and escalation included): acting on it would act on what someone wrote with SQL."""
    replay = audit.Replay()
    for entry in audit.entries(conn, subject):
        if audit.intact(entry):
            replay.add(entry)
    c = approval_requests.c
    for row in conn.execute(select(approval_requests).where(c.subject == subject).order_by(c.created_at, c.id)):
        request = request_from_row(row)
        found = replay.request_problem(request)
        if found is not None and (found[0] is not None or request.approval_digest is not None):
            return found[1]
    return None


def _stored_rows(conn: Connection, user: str, role: str, *, lock: bool = False) -> list[str]:
    """The ``user_id`` values, exactly as stored, of ``role``'s rows that are ``user`` (old rows may differ)."""
    query = select(role_members.c.user_id).where(role_members.c.role == role)
    return [r.user_id for r in conn.execute(query.with_for_update() if lock else query)
            if stored_id(r.user_id) == user]


def grant(conn: Connection, user: str, role: str, by: str | None, now: datetime) -> bool:
    """Let ``user`` approve for ``role``; ``False`` when they already could (nothing written).

    A row someone added with SQL does not count as "already": the grant is audited now."""
    user, role = user_id(user), user_id(role, "role")
    by = user_id(by, "granted by") if by is not None else None
    rows = _stored_rows(conn, user, role, lock=True)
    if rows and role in _audited_roles(conn, user):
        return False
    if not rows:
        conn.execute(insert(role_members).values(role=role, user_id=user, granted_by=by, granted_at=now))
    audit.append(conn, "role_granted", {"role": role, "user": user}, now=now, actor=by)
    return True


def revoke(conn: Connection, user: str, role: str, by: str | None, now: datetime) -> bool:
    """Stop ``user`` approving for ``role``; ``False`` when they could not (nothing written)."""
    user, role = user_id(user), user_id(role, "role")
    by = user_id(by, "revoked by") if by is not None else None
    stored = _stored_rows(conn, user, role, lock=True)
    if not stored and role not in _audited_roles(conn, user):
        return False
    conn.execute(role_members.delete().where(role_members.c.role == role, role_members.c.user_id.in_(stored)))
    audit.append(conn, "role_revoked", {"role": role, "user": user}, now=now, actor=by)
    return True


def members(conn: Connection, role: str | None) -> list[RoleMember]:
    """Who may approve for each role (or ``role``): the rows of ``salesgate_role_members`` the log's grants
    and revokes leave standing, as :func:`roles_of` counts them — a row added with SQL is not listed, since
    it lets nobody approve. The role is compared in Python, normalised (MariaDB would match ``"finance "``)."""
    wanted = user_id(role, "role") if role is not None else None
    replay = audit.Replay()
    query = (select(audit_log).where(audit_log.c.subject.is_(None),
                                     audit_log.c.kind.in_(("role_granted", "role_revoked")),
                                     audit_log.c.seq <= _head_seq())
             .order_by(audit_log.c.seq))
    for entry in audit.entries_of(conn, query):
        if audit.intact(entry):
            replay.add(entry)
    rows = conn.execute(select(role_members).order_by(role_members.c.role, role_members.c.user_id))
    return [RoleMember(role=r.role, user_id=r.user_id, granted_by=r.granted_by, granted_at=r.granted_at)
            for r in rows if (wanted is None or r.role == wanted)
            and (r.role, stored_id(r.user_id)) in replay.members]


# -- helpers ----------------------------------------------------------------------------------------------------


def _unbacked(conn: Connection, subject: str, current: str, latest: list[Any], every: Sequence[Any],
              rows: Sequence[ApprovalRequest], point: str | None = None) -> str | None:
    """The first decision or request row of ``subject`` its audit entries do not account for.

    Checked: every decision of the subject (its failure and time too), and every decision its entries
    logged must still have its row; every request row of the subject whatever its status (its status,
    approver, escalation, hook and digest must be what the entries say); and every request the entries
    opened for the order as it is now (``current``) on a hook that is decided — its row must still be
    there. Rows from before the audit log (no digest, no entry) are left alone. With ``point``, ``every`` and
    ``rows`` hold only that point's document's: so do the entries checked against them."""
    replay = audit.Replay()
    for entry in audit.entries(conn, subject):
        if audit.intact(entry):  # an edited entry vouches for nothing
            replay.add(entry)
    for row in every:  # all of them: a failure or time edited into one changes which is the latest
        found = replay.decision_problem(row)
        if found is not None and (found[0] is not None or row in latest or row.approval_digest is not None):
            return found[1]
    present_decisions = {row.id for row in every}
    for decision_id, logged in sorted(replay.decisions.items(), key=lambda item: item[1].seq):
        if point is not None and not ladder.same_document(logged.hook or "", point):
            continue
        if logged.subject == subject and decision_id not in present_decisions:  # a deleted block: the allow counts
            return f"decision {decision_id} (audit entry {logged.seq}) was deleted from salesgate_decisions"
    for request in rows:
        found = replay.request_problem(request)
        if found is not None and (found[0] is not None or request.approval_digest is not None):
            return found[1]
    present = {(r.decision_id, r.role) for r in rows}
    hooks = {row.hook for row in latest}
    for (decision_id, role), opened in sorted(replay.opened.items(), key=lambda item: item[1].seq):
        if (opened.subject == subject and opened.approval_digest == current and opened.hook in hooks
                and (decision_id, role) not in present):
            return (f"the request of {role} that decision {decision_id} opened (audit entry {opened.seq}) is "
                    "missing from salesgate_approval_requests")
    return None


def rejected_in_force(conn: Connection, subject: str, digest: str | None) -> bool:
    """Whether this very version of the order (``digest``) was rejected: the workflow's call
    (:func:`salesgate.workflow.approvals.rejected_in_force`) on the order's requests bound to ``digest``
    (the WHERE clause only narrows the rows read to those it looks at)."""
    if digest is None:
        return False
    c = approval_requests.c
    rows = [request_from_row(row) for row in conn.execute(
        select(approval_requests).where(c.subject == subject, c.approval_digest == digest))]
    return ladder.rejected_in_force(rows, digest)


def has_requests(conn: Connection, subject: str) -> bool:
    c = approval_requests.c
    return conn.execute(select(c.id).where(c.subject == subject).limit(1)).first() is not None


def _nothing_pending(conn: Connection, subject: str, hook: str | None) -> str:
    c = approval_requests.c
    query = select(approval_requests).where(c.subject == subject).order_by(c.updated_at.desc(), c.position.desc())
    if hook is not None:
        query = query.where(c.hook == hook)
    last = conn.execute(query.limit(1)).first()
    return ladder.nothing_pending(subject, hook, request_from_row(last) if last is not None else None)


def _policy_hash(conn: Connection, decision_id: str) -> str | None:
    found = conn.execute(select(decisions.c.policy_hash).where(decisions.c.id == decision_id)).scalar()
    return str(found) if found is not None else None
