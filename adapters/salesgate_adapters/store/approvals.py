"""The approval workflow: opening requests with a decision, approving, rejecting, expiry and escalation.

Every function here runs inside a transaction the :class:`~.store.Store` opened, and appends to the
audit log in that same transaction, so an action and its audit entry are written together or not at
all. Lock order is always the subject's lock row (taken by the store), then request rows, then the
audit head row: no two transactions wait on each other in opposite orders. See docs/approvals.md.
"""

from __future__ import annotations

import contextvars
import unicodedata
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from salesgate.decisions import Decision, Outcome
from salesgate.errors import SalesgateError

from . import audit, locks
from .records import ApprovalRequest, ApprovalStatus, RoleMember, normal_id, request_from_row
from .tables import (
    NAME,
    approval_requests,
    audit_head,
    audit_log,
    credit_reservations,
    decisions,
    role_members,
    subject_locks,
)

LIVE = ("pending", "approved")
STANDING = ("pending", "approved", "rejected", "expired")
"""Every status but ``void``: a request in one of these still speaks for its role (see :func:`_ladder`)."""
ORDER_HOOKS = ("order_approval", "credit_check", "pricing")

_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("salesgate_actor", default=None)


class ApprovalError(SalesgateError):
    """An approval action that is not allowed (wrong role, wrong turn, own order, expired, nothing pending)."""


@contextmanager
def acting_as(user: str) -> Iterator[None]:
    """Decisions made inside the block are recorded as requested by ``user`` (who then cannot approve them).

    >>> with acting_as("zhang.wei"):           # doctest: +SKIP
    ...     gate.approve_order(order)
    """
    token = _actor.set(user_id(user))
    try:
        yield
    finally:
        _actor.reset(token)


def user_id(value: str, what: str = "user id") -> str:
    """``value`` as salesgate stores and compares user ids (and role names): stripped, Unicode NFC.

    Every id that enters the approval workflow passes here once (the requester, the approver, role
    grants, the CLI's ``--as``/``--by``), so ``"boss "``, ``"boss"`` and a decomposed ``"Zoé"`` are the
    same person in Python, SQLite, PostgreSQL and MariaDB (whose ``utf8mb4_bin`` ignores trailing
    spaces while the others do not). Ids are case-sensitive: ``"Li.Na"`` is not ``"li.na"``, as an
    ERP login usually is. Refused with :class:`ApprovalError`: an empty id, and control or invisible
    format characters (a tab, a newline, a zero-width space) that would make two ids look alike.
    """
    if not isinstance(value, str):
        raise ApprovalError(f"{what} must be text, got {type(value).__name__}")
    text = normal_id(value)
    if not text:
        raise ApprovalError(f"{what} is empty" + (f" (only spaces: {value!r})" if value else "")
                            + ": give the user's login as the ERP knows it")
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in _UNSEEN or _invisible(char):
            name = unicodedata.name(char, "a control character")
            raise ApprovalError(f"{what} {value!r}: character {position} is U+{ord(char):04X} ({name}); "
                                "user ids and roles are visible text without control characters or invisible "
                                "ones: type the id again")
    return _fits(text, what)


def stored_id(value: str | None) -> str | None:
    """A user id read back from a row or an audit entry, as :func:`user_id` would have written it:
    ids stored before ids were normalised (``"boss "``) compare equal to the same person's today."""
    return normal_id(value) if isinstance(value, str) else value


_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, invisible formatting, surrogates, line breaks
_IGNORABLE = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2800, 0x2800),
              (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF))
"""Blank or invisible characters outside the categories above: the Unicode default-ignorable ones (combining
grapheme joiner, Hangul fillers, Khmer vowel inherents, Mongolian and other variation selectors) and the
blank Braille pattern. ``"li\u3164"`` would show as ``"li"``."""


def _invisible(char: str) -> bool:
    code = ord(char)
    if unicodedata.category(char) == "Zs" and char != " ":
        return True  # a no-break or other odd space inside an id looks like a space but is not one
    return any(low <= code <= high for low, high in _IGNORABLE)


def current_actor() -> str | None:
    """The user set by :func:`acting_as` around the current call, if any."""
    return _actor.get()


@dataclass(frozen=True)
class ApprovalRules:
    """How long requests wait, and whom they escalate to. Give it to ``Store(..., approvals=...)``.

    ``escalate_after`` (default 24 hours) after a request opened and is still pending, it is
    escalated: ``escalate_to[role]``, else ``escalation_role``, else the next role the same decision
    asks for (the next rung of the ladder) may act on it too; the top rung escalates to nobody but is
    still marked escalated. ``expire_after`` (default 7 days) after it opened a pending request
    expires and can no longer be approved: the order must be decided again. The ``*_by_role`` maps
    override both per role; ``None`` switches either off. ``distinct_approvers`` (default on): one
    person approves at most one step of an order on a hook (four eyes), also when escalation lets
    them act for another role.
    """

    escalate_after: timedelta | None = timedelta(hours=24)
    expire_after: timedelta | None = timedelta(days=7)
    escalate_after_by_role: Mapping[str, timedelta | None] = field(default_factory=dict)
    expire_after_by_role: Mapping[str, timedelta | None] = field(default_factory=dict)
    escalate_to: Mapping[str, str] = field(default_factory=dict)
    escalation_role: str | None = None
    distinct_approvers: bool = True

    def __post_init__(self) -> None:
        for name, value in [("escalate_after", self.escalate_after), ("expire_after", self.expire_after),
                            *self.escalate_after_by_role.items(), *self.expire_after_by_role.items()]:
            if value is not None and value <= timedelta(0):
                raise ValueError(f"approval time {name}: {value} must be positive (or None for never)")

    def expires(self, role: str, now: datetime) -> datetime | None:
        after = self.expire_after_by_role.get(role, self.expire_after)
        return now + after if after is not None else None

    def escalation(self, role: str, roles: Sequence[str], now: datetime) -> tuple[datetime | None, str | None]:
        after = self.escalate_after_by_role.get(role, self.escalate_after)
        if after is None:
            return None, None
        above = roles[roles.index(role) + 1:] if role in roles else []
        return now + after, self.escalate_to.get(role) or self.escalation_role or (above[0] if above else None)


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
    rows = [request_from_row(r) for r in conn.execute(
        select(approval_requests).where(c.subject == decision.subject, c.status.in_(STANDING))
        .order_by(c.created_at, c.position).with_for_update())]
    blocks = decision.outcome is Outcome.block
    required = [] if blocks else [a.role for a in decision.approvals]  # nobody can approve a block away
    voids: list[tuple[ApprovalRequest, str]] = []
    kept: dict[str, ApprovalRequest] = {}
    for request in rows:
        if digest is None:  # recorded without the order: nothing to bind, the hook's requests answer to it
            if request.hook == decision.hook and blocks and request.status != "rejected":
                voids.append((request, "the order is blocked: no approval lifts a block"))
            elif request.hook == decision.hook and request.status == "pending":
                voids.append((request, "superseded by a newer decision"))
        elif request.approval_digest != digest:
            if request.status in LIVE:  # a rejection (or expiry) of an earlier version stays as history
                voids.append((request, "the order changed"))
        elif request.hook == decision.hook:
            if blocks:
                if request.status != "rejected":  # a rejection of this very order stays in force
                    voids.append((request, "the order is blocked: no approval lifts a block"))
            elif request.role not in required:
                if request.status in ("pending", "expired"):
                    voids.append((request, "no longer required"))
            elif request.status != "expired":  # an expired request is reopened below
                kept[request.role] = request
    rejected = any(r.status == "rejected" for r in kept.values())  # this very order was refused: it stays so
    if digest is not None and not rejected:
        below: str | None = None  # the lowest step that is not approved: nobody above it has signed
        for role in required:
            step = kept.get(role)
            if below is not None and step is not None and step.status == "approved":
                voids.append((step, f"approved before {below} (a lower step, open again): the ladder "
                                       f"approves in order, so {role} approves again after {below}"))
                del kept[role]
            elif below is None and (step is None or step.status != "approved"):
                below = role
    for request, reason in voids:
        conn.execute(update(approval_requests).where(c.id == request.id)
                     .values(status="void", status_reason=reason, updated_at=now))
    for position, role in enumerate(required, start=1):
        if role in kept and kept[role].position != position:
            conn.execute(update(approval_requests).where(c.id == kept[role].id).values(position=position))
    opened = []
    for position, role in enumerate(required, start=1):
        if role in kept or rejected:
            continue
        escalate_at, escalate_to = rules.escalation(role, required, now)
        opened.append({"id": str(uuid.uuid4()), "decision_id": decision_id, "hook": decision.hook,
                       "subject": decision.subject, "role": _fits(role, "role"), "position": position,
                       "status": "pending", "created_at": now, "updated_at": now, "approval_digest": digest,
                       "requested_by": actor, "expires_at": rules.expires(role, now), "escalate_at": escalate_at,
                       "escalate_to": escalate_to})
    if opened:
        conn.execute(insert(approval_requests), opened)
    return {
        "opened": [r["role"] for r in opened],
        "opened_requests": [audit.request_timing(r) for r in opened],  # the chain vouches for these too
        "kept": [{"role": r.role, "status": r.status, "acted_by": r.acted_by} for r in kept.values()],
        "voided": [_brief(r, reason) for r, reason in voids],
    }


# -- acting ----------------------------------------------------------------------------------------------------


def act(conn: Connection, action: str, subject: str, user: str, *, role: str | None, hook: str | None,
        comment: str | None, rules: ApprovalRules, now: datetime) -> ApprovalRequest:
    """Approve or reject the request of ``subject`` that ``user`` may act on now (see docs/approvals.md).

    The caller holds the subject's lock row and swept the subject's requests first (:func:`sweep`), in a
    transaction of its own. A step may be acted on only when every lower step of its ladder is
    approved: a lower step that is pending, rejected or *expired* holds up every step above it."""
    user = user_id(user)
    role = user_id(role, "role") if role is not None else None
    c = approval_requests.c
    live = [request_from_row(r) for r in conn.execute(
        select(approval_requests).where(c.subject == subject, c.status.in_(STANDING))
        .order_by(c.hook, c.position, c.created_at).with_for_update())]
    pending = [r for r in live if r.status == "pending" and (hook is None or r.hook == hook)]
    if not pending:
        raise ApprovalError(_nothing_pending(conn, subject, hook))
    if problem := _tampered(conn, subject) or _roles_unknown(conn):
        raise ApprovalError(f"order {subject!r} cannot be approved or rejected: {problem}: run salesgate audit verify")
    rows = _role_rows(conn, user)
    held = rows & _audited_roles(conn, user)
    mine = [r for r in pending if (role is None or role in (r.role, _escalated_role(r))) and _may_act(r, held)]
    if not mine:
        asked = [r for r in pending if role is None or role in (r.role, _escalated_role(r))]
        if not asked:
            raise ApprovalError(f"order {subject!r} has no pending request for role {role!r}: pending are "
                                f"{_roles(pending)}")
        due = [r for r in asked if not _waiting_on(r, live)]
        expired = {w.role: w for r in asked for w in _waiting_on(r, live) if w.status == "expired"}
        if not due and expired and any(role in held for role in expired):
            # e.g. the sales manager, whose own step expired: that, not the roles above, is what stops them
            raise ApprovalError(f"the {', '.join(expired)} step of order {subject!r} expired: decide the order "
                                "again to reopen what expired")
        due = due or asked
        roles = sorted({r.role for r in due} | {x for r in due if (x := _escalated_role(r))})
        wanted, grant = " or ".join(roles), roles[0] if len(roles) == 1 else "ROLE"
        if forged := sorted(rows - held):
            raise ApprovalError(f"salesgate_role_members says {user} holds {', '.join(forged)}, but no audit entry "
                                "granted it (written outside salesgate): run salesgate audit verify")
        raise ApprovalError(f"{user!r} does not hold the role {wanted} whose turn it is on order {subject!r} "
                            f"(grant it with: salesgate approvals grant {user} {grant})")
    turn = [r for r in mine if not _waiting_on(r, live)]
    if not turn:
        first = mine[0]
        waiting = _waiting_on(first, live)
        reopen = ": decide the order again to reopen what expired" if any(r.status == "expired"
                                                                           for r in waiting) else ""
        raise ApprovalError(f"{first.role} cannot act on order {subject!r} ({first.hook}) yet: the ladder waits for "
                            f"{', '.join(f'{r.role} ({r.status})' for r in waiting)} first{reopen}")
    if len(turn) > 1:
        raise ApprovalError(f"{user!r} may act on several requests of order {subject!r}: "
                            f"{', '.join(f'{r.hook}/{r.role}' for r in turn)}; choose one with --hook / --role")
    request = turn[0]
    if action == "approve":
        if (request.requested_by is not None and stored_id(request.requested_by) == user) or user in _requesters(
                conn, subject, request.hook, request.approval_digest):
            raise ApprovalError(f"{user!r} requested order {subject!r} and cannot approve it")
        if rules.distinct_approvers:
            twice = [r for r in live if r.hook == request.hook and r.status == "approved"
                     and stored_id(r.acted_by) == user]
            if twice:
                raise ApprovalError(f"{user!r} already approved order {subject!r} as {twice[0].role}: each step "
                                    "needs another approver")
    status = "approved" if action == "approve" else "rejected"
    acting_for = request.role if request.role in held else _escalated_role(request)
    changed = conn.execute(update(approval_requests).where(c.id == request.id, c.status == "pending").values(
        status=status, acted_by=user, acted_at=now, comment=comment, updated_at=now,
        status_reason=None if acting_for == request.role else f"acted for {request.role} as {acting_for} "
                                                               "(escalated)"))
    if changed.rowcount != 1:  # pragma: no cover - the rows are locked above
        raise ApprovalError(f"the request of {request.role} on order {subject!r} changed meanwhile: try again")
    content: dict[str, Any] = {"request_id": request.id, "decision_id": request.decision_id, "role": request.role,
                               "as_role": acting_for, "position": request.position,
                               "approval_digest": request.approval_digest, "comment": comment}
    if action == "reject":
        others = [r for r in live if r.hook == request.hook and r.status in LIVE and r.id != request.id]
        reason = f"rejected by {user} ({request.role})"
        for other in others:
            conn.execute(update(approval_requests).where(c.id == other.id)
                         .values(status="void", status_reason=reason, updated_at=now))
        content["voided"] = [_brief(r, reason) for r in others]
        if request.hook in ORDER_HOOKS:
            held_credit = conn.execute(update(credit_reservations)
                                       .where(credit_reservations.c.order_id == subject,
                                              credit_reservations.c.status == "reserved")
                                       .values(status="cancelled", updated_at=now))
            content["reservation_cancelled"] = held_credit.rowcount == 1
    audit.append(conn, status, content, now=now, subject=subject, hook=request.hook, actor=user,
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
        if request.overdue(now):
            conn.execute(update(approval_requests).where(c.id == request.id, c.status == "pending").values(
                status="expired", status_reason=f"not approved by {_utc(request.expires_at)}", updated_at=now))
            audit.append(conn, "expired", {"request_id": request.id, "role": request.role,
                                           "expires_at": request.expires_at, "created_at": request.created_at},
                         now=now, subject=request.subject, hook=request.hook, actor=None,
                         policy_hash=_policy_hash(conn, request.decision_id))
            changed += 1
        elif request.escalate_at is not None and request.escalated_at is None and request.escalate_at <= now:
            conn.execute(update(approval_requests).where(c.id == request.id).values(escalated_at=now, updated_at=now))
            audit.append(conn, "escalated", {"request_id": request.id, "role": request.role,
                                             "escalate_to": request.escalate_to, "created_at": request.created_at},
                         now=now, subject=request.subject, hook=request.hook, actor=None,
                         policy_hash=_policy_hash(conn, request.decision_id))
            changed += 1
    return changed


# -- status -----------------------------------------------------------------------------------------------------


def status(conn: Connection, subject: str, digest: str | None, now: datetime) -> ApprovalStatus:
    """What the ERP asks before confirming: may this order, as it is now (``digest``), go ahead?

    The answer rests only on rows the audit log backs: the subject's entries (each checked against its
    own hash) are replayed, and a latest decision or a counted request that differs from them — a row
    changed or added with SQL — makes the answer ``tampered``, never ``approved``. (Whether the chain
    itself is whole is ``salesgate audit verify``'s business.)"""
    latest: dict[str, Any] = {}
    newest: Any = None
    every = conn.execute(select(decisions.c.id, decisions.c.hook, decisions.c.subject, decisions.c.outcome,
                                decisions.c.approval_digest, decisions.c.failure, decisions.c.decided_at)
                         .where(decisions.c.subject == subject).order_by(decisions.c.decided_at, decisions.c.id)).all()
    for row in every:
        if row.failure is not None and row.hook in latest:
            continue  # a fallback after a decision of the policy's: the approvals follow the policy's decision
        latest[row.hook] = newest = row  # rows come oldest first: the last one is the newest decision
    if newest is None:
        return ApprovalStatus(subject, "undecided", digest, (), f"no decision recorded for {subject!r}")
    current = digest if digest is not None else newest.approval_digest
    c = approval_requests.c
    # Every row of the subject, whatever its status: a row voided, re-bound or deleted with SQL must be
    # found too (it would otherwise simply drop out of what is counted).
    rows = [request_from_row(row) for row in conn.execute(
        select(approval_requests).where(c.subject == subject).order_by(c.created_at, c.id))]
    newest_per_role: dict[tuple[str, str], ApprovalRequest] = {}
    for request in rows:
        if request.status != "void" and request.approval_digest == current and request.hook in latest:
            newest_per_role[(request.hook, request.role)] = request  # a reopened request replaces an expired one
    requests = tuple(sorted(newest_per_role.values(), key=lambda r: (r.hook, r.position)))

    def answer(state: str, detail: str) -> ApprovalStatus:
        return ApprovalStatus(subject, state, current, requests, detail)

    if current is None:
        return answer("changed", f"the last decision on {subject!r} was made without the order (a fallback): "
                                 "decide it again")
    stale = sorted(hook for hook, row in latest.items() if row.approval_digest != current)
    if digest is not None and stale == sorted(latest):
        return answer("changed", f"order {subject!r} differs from the order that was decided: decide it again")
    if stale:
        return answer("stale", f"{', '.join(stale)} was decided on an earlier version of order {subject!r}: "
                               "decide it again")
    if unbacked := _unbacked(conn, subject, current, list(latest.values()), every, rows):
        return answer("tampered", f"{unbacked}: run salesgate audit verify")
    blocked = sorted(hook for hook, row in latest.items() if row.outcome == "block")
    if blocked:
        return answer("blocked", f"{', '.join(blocked)} blocks order {subject!r}: no approval lifts a block")
    if rejected := [r for r in requests if r.status == "rejected"]:
        return answer("rejected", "; ".join(f"{r.hook}: rejected by {r.acted_by} ({r.role})" for r in rejected))
    if expired := [r for r in requests if r.status == "expired" or r.overdue(now)]:
        return answer("expired", f"{_roles(expired)} not approved in time: decide the order again to reopen")
    if pending := [r for r in requests if r.status == "pending"]:
        return answer("pending", f"waiting for {_roles(pending)}")
    # Second line of defence: a decision that asks for approval is never answered by the absence of
    # requests (whatever removed them, the order is not approved).
    unasked = sorted(hook for hook, row in latest.items()
                     if row.outcome == "require_approval" and not any(r.hook == hook for r in requests))
    if unasked:
        return answer("pending", f"{', '.join(unasked)} requires approval of order {subject!r} but no request "
                                 "is open for it: decide the order again")
    if requests:
        return answer("approved", "approved by " + ", ".join(f"{r.role} {r.acted_by}" for r in requests))
    return answer("not_required", "no approval required")


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


def _may_act(request: ApprovalRequest, held: set[str]) -> bool:
    return request.role in held or (_escalated_role(request) or "") in held


def _escalated_role(request: ApprovalRequest) -> str | None:
    return request.escalate_to if request.escalated else None


def _ladder(request: ApprovalRequest, rows: list[ApprovalRequest]) -> list[ApprovalRequest]:
    """The steps of ``request``'s ladder (same hook, same digest): for each role its newest request that is
    not void — a reopened request stands for its role, an expired one until it is reopened."""
    same = [r for r in rows if r.hook == request.hook and r.approval_digest == request.approval_digest
            and r.status != "void"]
    newest = {r.role: r for r in sorted(same, key=lambda r: r.created_at)}  # stable: the last opened wins
    return sorted(newest.values(), key=lambda r: r.position)


def _waiting_on(request: ApprovalRequest, rows: list[ApprovalRequest]) -> list[ApprovalRequest]:
    """The lower steps not approved yet (pending, rejected or expired): each holds ``request`` back."""
    return [r for r in _ladder(request, rows) if r.position < request.position and r.status != "approved"]


def _unbacked(conn: Connection, subject: str, current: str, latest: list[Any], every: Sequence[Any],
              rows: Sequence[ApprovalRequest]) -> str | None:
    """The first decision or request row of ``subject`` its audit entries do not account for.

    Checked: every decision of the subject (its failure and time too), and every decision its entries
    logged must still have its row; every request row of the subject whatever its status (its status,
    approver, escalation, hook and digest must be what the entries say); and every request the entries
    opened for the order as it is now (``current``) on a hook that is decided — its row must still be
    there. Rows from before the audit log (no digest, no entry) are left alone."""
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
    """Whether this very version of the order (``digest``) was rejected: a rejection stays in force
    until the order changes, so nothing is held or reopened for it."""
    if digest is None:
        return False
    c = approval_requests.c
    return conn.execute(select(c.id).where(c.subject == subject, c.approval_digest == digest,
                                           c.status == "rejected").limit(1)).first() is not None


def has_requests(conn: Connection, subject: str) -> bool:
    c = approval_requests.c
    return conn.execute(select(c.id).where(c.subject == subject).limit(1)).first() is not None


def _nothing_pending(conn: Connection, subject: str, hook: str | None) -> str:
    c = approval_requests.c
    query = select(approval_requests).where(c.subject == subject).order_by(c.updated_at.desc(), c.position.desc())
    if hook is not None:
        query = query.where(c.hook == hook)
    last = conn.execute(query.limit(1)).first()
    on = f" on {hook}" if hook else ""
    if last is None:
        return f"order {subject!r} has no approval requests{on}"
    request = request_from_row(last)
    if request.status in ("approved", "rejected"):
        return (f"order {subject!r} has nothing pending{on}: {request.role} {request.status} it "
                f"({request.acted_by}, {_utc(request.acted_at)})")
    what_now = {"expired": ": decide the order again to reopen it",
                "void": f": see salesgate approvals status {subject}"}.get(request.status, "")
    return f"order {subject!r} has nothing pending{on}: its last request ({request.role}) is {request.status}" + (
        f" ({request.status_reason})" if request.status_reason else "") + what_now


def _policy_hash(conn: Connection, decision_id: str) -> str | None:
    found = conn.execute(select(decisions.c.policy_hash).where(decisions.c.id == decision_id)).scalar()
    return str(found) if found is not None else None


def _brief(request: ApprovalRequest, reason: str) -> dict[str, Any]:
    return {"request_id": request.id, "hook": request.hook, "role": request.role, "was": request.status,
            "acted_by": request.acted_by, "approval_digest": request.approval_digest, "reason": reason}


def _roles(requests: Sequence[ApprovalRequest]) -> str:
    return ", ".join(f"{r.role} ({r.hook})" for r in requests)


def _utc(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else "-"


def _fits(value: str, what: str) -> str:
    if not value or len(value) > NAME:
        raise ApprovalError(f"{what} must be 1 to {NAME} characters, got {len(value or '')}")
    return value
