"""The approval ladder as pure functions: which requests a decision opens, voids and keeps; who may act
on which step and when; expiry and escalation; what the ERP is told before it confirms an order.

Nothing here reads a database or a clock: each function takes the requests (and decisions) it judges
as plain values and returns what changes. The SQL store runs them inside its transactions, under its
locks, next to its audit log; the in-memory store runs them under its lock. See docs/approvals.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from ..decisions import Decision, Outcome
from ..errors import ApprovalError
from ..pointspecs import ORDER_POINTS  # rejecting a request at one of these releases the order's credit
from ..records import ApprovalRequest, ApprovalStatus
from .identities import fits, stored_id

LIVE = ("pending", "approved")
STANDING = ("pending", "approved", "rejected", "expired")
"""Every status but ``void``: a request in one of these still speaks for its role (see :func:`ladder`)."""

Action = Literal["approve", "reject"]


@dataclass(frozen=True)
class ApprovalRules:
    """How long requests wait, and whom they escalate to. Give it to ``Store(..., approvals=...)``.

    ``escalate_after`` (default 24 hours) after a request opened and is still pending, it is
    escalated: ``escalate_to[role]``, else ``escalation_role``, else the next role the same decision
    asks for (the next rung of the ladder) may act on it too; the top rung escalates to nobody but is
    still marked escalated. ``expire_after`` (default 7 days) after it opened a pending request
    expires and can no longer be approved: the order must be decided again. The ``*_by_role`` maps
    override both per role; ``None`` switches either off. ``distinct_approvers`` (default on): one
    person approves at most one step of an order at a decision point (four eyes), also when escalation lets
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


def same_document(point: str, other: str) -> bool:
    """Whether decisions at ``point`` and ``other`` are about one kind of document, so that one subject names
    one document at both: the order points (order_approval, credit_check, pricing) share the order; every
    other point (return_handling, each declared point) has its own. A shipment ``1001`` and an order
    ``1001`` are two documents: deciding one never voids, nor counts in, the approvals of the other."""
    return point == other or (point in ORDER_POINTS and other in ORDER_POINTS)


@dataclass(frozen=True)
class RequestPlan:
    """What recording a decision does to its subject's requests (:func:`plan_requests`).

    ``voided``: requests to mark ``void``, each with its reason; ``kept``: requests that carry over,
    by role; ``moved``: kept requests whose step number changes (the new position); ``opened``: new
    pending requests, in ladder order; ``rejected``: this very order was rejected, so nothing opens."""

    voided: list[tuple[ApprovalRequest, str]] = field(default_factory=list)
    kept: dict[str, ApprovalRequest] = field(default_factory=dict)
    moved: list[tuple[ApprovalRequest, int]] = field(default_factory=list)
    opened: list[ApprovalRequest] = field(default_factory=list)
    rejected: bool = False


def plan_requests(decision: Decision, decision_id: str, digest: str | None, actor: str | None,
                  standing: Sequence[ApprovalRequest], rules: ApprovalRules, now: datetime, *,
                  new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> RequestPlan:
    """Void what the decision supersedes and open a request per required role not already live.

    ``standing`` are the subject's requests that are not void, oldest first; those of points about another
    kind of document (:func:`same_document`) are left alone. With a digest: requests of *any* decision
    point on the document bound to another digest are voided, approved ones included (the order changed); at
    the decision's own decision point, requests for the same digest and a role still required carry over (an
    approval stays valid for the order it was given for, and a rejection stays in force: deciding the
    unchanged order again opens nothing), and pending or expired ones no longer required are voided.
    An expired request is reopened as a new one. The ladder order always holds: an approval carried
    over above a step that is (re)opened now is voided and reopened too — the higher role signs again,
    after the lower one. A fallback decision (``failure`` set: salesgate could not decide) changes no
    request: it is not the policy's answer. A ``block`` opens nothing, whatever roles its rules named
    (no approval lifts a block), and voids the requests of its decision point standing for the order (recorded
    with the order or without), approved ones included: once the block is lifted, the order is
    approved afresh.
    """
    plan = RequestPlan()
    if decision.failure is not None:
        return plan
    blocks = decision.outcome is Outcome.block
    required = [] if blocks else [a.role for a in decision.approvals]  # nobody can approve a block away
    voids, kept = plan.voided, plan.kept
    for request in standing:
        if not same_document(request.hook, decision.hook):
            continue  # another document under the same id
        if digest is None:  # recorded without the order: nothing to bind, the decision point's requests answer to it
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
    for position, role in enumerate(required, start=1):
        if role in kept and kept[role].position != position:
            plan.moved.append((kept[role], position))
    for position, role in enumerate(required, start=1):
        if role in kept or rejected:
            continue
        escalate_at, escalate_to = rules.escalation(role, required, now)
        plan.opened.append(ApprovalRequest(
            id=new_id(), decision_id=decision_id, hook=decision.hook, subject=decision.subject,
            role=fits(role, "role"), position=position, status="pending", created_at=now, updated_at=now,
            approval_digest=digest, requested_by=actor, expires_at=rules.expires(role, now),
            escalate_at=escalate_at, escalate_to=escalate_to))
    return replace(plan, rejected=rejected)


def void(request: ApprovalRequest, reason: str, now: datetime) -> ApprovalRequest:
    """``request`` voided for ``reason``."""
    return replace(request, status="void", status_reason=reason, updated_at=now)


# -- acting ----------------------------------------------------------------------------------------------------


def ladder(request: ApprovalRequest, rows: Sequence[ApprovalRequest]) -> list[ApprovalRequest]:
    """The steps of ``request``'s ladder (same decision point, same digest): for each role its newest request that is
    not void — a reopened request stands for its role, an expired one until it is reopened."""
    same = [r for r in rows if r.hook == request.hook and r.approval_digest == request.approval_digest
            and r.status != "void"]
    newest = {r.role: r for r in sorted(same, key=lambda r: r.created_at)}  # stable: the last opened wins
    return sorted(newest.values(), key=lambda r: r.position)


def waiting_on(request: ApprovalRequest, rows: Sequence[ApprovalRequest]) -> list[ApprovalRequest]:
    """The lower steps not approved yet (pending, rejected or expired): each holds ``request`` back."""
    return [r for r in ladder(request, rows) if r.position < request.position and r.status != "approved"]


def escalated_role(request: ApprovalRequest) -> str | None:
    """The role a request was escalated to, once it is escalated (``None`` before, or for nobody)."""
    return request.escalate_to if request.escalated else None


def may_act(request: ApprovalRequest, held: set[str]) -> bool:
    """Whether someone holding ``held`` may act on ``request``: its role, or the role it escalated to."""
    return request.role in held or (escalated_role(request) or "") in held


def pending_of(live: Sequence[ApprovalRequest], point: str | None) -> list[ApprovalRequest]:
    """The pending requests among ``live`` (of ``point``, when given)."""
    return [r for r in live if r.status == "pending" and (point is None or r.hook == point)]


def nothing_pending(subject: str, point: str | None, last: ApprovalRequest | None) -> str:
    """Why there is nothing to act on: ``last`` is the subject's (decision point's) most recently changed request."""
    on = f" on {point}" if point else ""
    if last is None:
        return f"order {subject!r} has no approval requests{on}"
    if last.status in ("approved", "rejected"):
        return (f"order {subject!r} has nothing pending{on}: {last.role} {last.status} it "
                f"({last.acted_by}, {utc(last.acted_at)})")
    what_now = {"expired": ": decide the order again to reopen it",
                "void": f": see salesgate approvals status {subject}"}.get(last.status, "")
    return f"order {subject!r} has nothing pending{on}: its last request ({last.role}) is {last.status}" + (
        f" ({last.status_reason})" if last.status_reason else "") + what_now


def last_changed(requests: Sequence[ApprovalRequest], point: str | None) -> ApprovalRequest | None:
    """The request changed last (the highest step first among equal times), as :func:`nothing_pending` takes it."""
    mine = [r for r in requests if point is None or r.hook == point]
    return max(mine, key=lambda r: (r.updated_at, r.position), default=None)


def choose(action: Action, subject: str, user: str, *, role: str | None, pending: Sequence[ApprovalRequest],
           live: Sequence[ApprovalRequest], held: set[str], forged: set[str],
           requesters: Callable[[ApprovalRequest], set[str]], rules: ApprovalRules) -> tuple[ApprovalRequest, str]:
    """The request ``user`` acts on now, and the role they act as; :class:`ApprovalError` saying why not.

    ``user`` and ``role`` are normalised ids (:func:`~.identities.user_id`); ``pending`` the requests
    that may be acted on (not empty), ``live`` every request that is not void; ``held`` the roles the
    user holds, ``forged`` roles a store lists for them that no grant backs (named in the refusal);
    ``requesters(request)`` who asked for a decision of that very order at its decision point (they may not
    approve it). A step may be acted on only when every lower step of its ladder is approved: a lower
    step that is pending, rejected or *expired* holds up every step above it. Four eyes: the
    requester never approves, and with ``distinct_approvers`` nobody approves two steps of one decision point."""
    mine = [r for r in pending if (role is None or role in (r.role, escalated_role(r))) and may_act(r, held)]
    if not mine:
        asked = [r for r in pending if role is None or role in (r.role, escalated_role(r))]
        if not asked:
            raise ApprovalError(f"order {subject!r} has no pending request for role {role!r}: pending are "
                                f"{roles_text(pending)}")
        due = [r for r in asked if not waiting_on(r, live)]
        expired = {w.role: w for r in asked for w in waiting_on(r, live) if w.status == "expired"}
        if not due and expired and any(role in held for role in expired):
            # e.g. the sales manager, whose own step expired: that, not the roles above, is what stops them
            raise ApprovalError(f"the {', '.join(expired)} step of order {subject!r} expired: decide the order "
                                "again to reopen what expired")
        due = due or asked
        roles = sorted({r.role for r in due} | {x for r in due if (x := escalated_role(r))})
        wanted, grant = " or ".join(roles), roles[0] if len(roles) == 1 else "ROLE"
        if forged:
            raise ApprovalError(f"salesgate_role_members says {user} holds {', '.join(sorted(forged))}, but no "
                                "audit entry granted it (written outside salesgate): run salesgate audit verify")
        raise ApprovalError(f"{user!r} does not hold the role {wanted} whose turn it is on order {subject!r} "
                            f"(grant it with: salesgate approvals grant {user} {grant})")
    turn = [r for r in mine if not waiting_on(r, live)]
    if not turn:
        first = mine[0]
        waiting = waiting_on(first, live)
        reopen = ": decide the order again to reopen what expired" if any(r.status == "expired"
                                                                           for r in waiting) else ""
        raise ApprovalError(f"{first.role} cannot act on order {subject!r} ({first.hook}) yet: the ladder waits for "
                            f"{', '.join(f'{r.role} ({r.status})' for r in waiting)} first{reopen}")
    if len(turn) > 1:
        raise ApprovalError(f"{user!r} may act on several requests of order {subject!r}: "
                            f"{', '.join(f'{r.hook}/{r.role}' for r in turn)}; choose one with --hook / --role")
    request = turn[0]
    if action == "approve":
        if (request.requested_by is not None and stored_id(request.requested_by) == user) or user in requesters(
                request):
            raise ApprovalError(f"{user!r} requested order {subject!r} and cannot approve it")
        if rules.distinct_approvers:
            twice = [r for r in live if r.hook == request.hook and r.status == "approved"
                     and stored_id(r.acted_by) == user]
            if twice:
                raise ApprovalError(f"{user!r} already approved order {subject!r} as {twice[0].role}: each step "
                                    "needs another approver")
    acting_for = request.role if request.role in held else escalated_role(request)
    return request, acting_for or request.role


def acted(request: ApprovalRequest, action: Action, user: str, acting_for: str, comment: str | None,
          now: datetime) -> ApprovalRequest:
    """``request`` once ``user`` approved or rejected it, acting as ``acting_for``."""
    return replace(request, status="approved" if action == "approve" else "rejected", acted_by=user, acted_at=now,
                   comment=comment, updated_at=now,
                   status_reason=None if acting_for == request.role else f"acted for {request.role} as {acting_for} "
                                                                         "(escalated)")


def voided_by_rejection(request: ApprovalRequest, live: Sequence[ApprovalRequest]) -> list[ApprovalRequest]:
    """The other approved or pending requests of the rejected request's decision point: a rejection voids them."""
    return [r for r in live if r.hook == request.hook and r.status in LIVE and r.id != request.id]


def rejection_reason(request: ApprovalRequest, user: str) -> str:
    return f"rejected by {user} ({request.role})"


def releases_credit(request: ApprovalRequest) -> bool:
    """Whether rejecting ``request`` cancels the order's credit reservation (a decision point that decides an order)."""
    return request.hook in ORDER_POINTS


# -- expiry and escalation --------------------------------------------------------------------------------------


SweepChange = Literal["expired", "escalated"]


def sweep_change(request: ApprovalRequest, now: datetime) -> SweepChange | None:
    """What a sweep at ``now`` does to a pending request: expire it (past its expiry), escalate it (past
    its escalation time, not escalated yet), or nothing. Expiry wins: an expired request escalates to nobody."""
    if request.status != "pending":
        return None
    if request.overdue(now):
        return "expired"
    if request.escalate_at is not None and request.escalated_at is None and request.escalate_at <= now:
        return "escalated"
    return None


def swept(request: ApprovalRequest, change: SweepChange, now: datetime) -> ApprovalRequest:
    """``request`` after the sweep's ``change``."""
    if change == "expired":
        return replace(request, status="expired", status_reason=f"not approved by {utc(request.expires_at)}",
                       updated_at=now)
    return replace(request, escalated_at=now, updated_at=now)


# -- status -----------------------------------------------------------------------------------------------------


Unbacked = Callable[[str, list[Any], Sequence[Any], Sequence[ApprovalRequest]], str | None]
"""``(current digest, latest decision per decision point, every decision, every request) -> problem or None``: a store
that can tell a row its audit log does not back (the SQL store) names the first; the answer is then
``tampered``."""


def approval_status(subject: str, digest: str | None, decisions: Sequence[Any], rows: Sequence[ApprovalRequest],
                    now: datetime, *, unbacked: Unbacked | None = None, point: str | None = None) -> ApprovalStatus:
    """May order ``subject``, as it is now (``digest``), go ahead? (:class:`~salesgate.records.ApprovalStatus`)

    ``decisions`` are the subject's logged decisions oldest first, each with ``hook``, ``outcome`` (its
    value), ``approval_digest`` and ``failure``; ``rows`` every request of the subject, oldest first,
    whatever its status. A fallback after a decision of the policy's is passed over: the approvals
    follow the policy's decision. A decision that asks for approval is never answered by the absence
    of requests. With ``point``, only the decisions and requests about that point's document count
    (:func:`same_document`): what a declared point's caller passes, as its ids may also name an order."""
    if point is not None:
        decisions = [row for row in decisions if same_document(row.hook, point)]
        rows = [request for request in rows if same_document(request.hook, point)]
    latest: dict[str, Any] = {}
    newest: Any = None
    for row in decisions:
        if row.failure is not None and row.hook in latest:
            continue  # a fallback after a decision of the policy's: the approvals follow the policy's decision
        latest[row.hook] = newest = row  # rows come oldest first: the last one is the newest decision
    if newest is None:
        return ApprovalStatus(subject, "undecided", digest, (), f"no decision recorded for {subject!r}")
    current = digest if digest is not None else newest.approval_digest
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
    stale = sorted(point for point, row in latest.items() if row.approval_digest != current)
    if digest is not None and stale == sorted(latest):
        return answer("changed", f"order {subject!r} differs from the order that was decided: decide it again")
    if stale:
        return answer("stale", f"{', '.join(stale)} was decided on an earlier version of order {subject!r}: "
                               "decide it again")
    if unbacked is not None and (problem := unbacked(current, list(latest.values()), decisions, rows)):
        return answer("tampered", f"{problem}: run salesgate audit verify")
    blocked = sorted(point for point, row in latest.items() if row.outcome == "block")
    if blocked:
        return answer("blocked", f"{', '.join(blocked)} blocks order {subject!r}: no approval lifts a block")
    if rejected := [r for r in requests if r.status == "rejected"]:
        return answer("rejected", "; ".join(f"{r.hook}: rejected by {r.acted_by} ({r.role})" for r in rejected))
    if expired := [r for r in requests if r.status == "expired" or r.overdue(now)]:
        return answer("expired", f"{roles_text(expired)} not approved in time: decide the order again to reopen")
    if pending := [r for r in requests if r.status == "pending"]:
        return answer("pending", f"waiting for {roles_text(pending)}")
    unasked = sorted(point for point, row in latest.items()
                     if row.outcome == "require_approval" and not any(r.hook == point for r in requests))
    if unasked:
        return answer("pending", f"{', '.join(unasked)} requires approval of order {subject!r} but no request "
                                 "is open for it: decide the order again")
    if requests:
        return answer("approved", "approved by " + ", ".join(f"{r.role} {r.acted_by}" for r in requests))
    return answer("not_required", "no approval required")


def rejected_in_force(requests: Sequence[ApprovalRequest], digest: str | None) -> bool:
    """Whether this very version of the order (``digest``) was rejected: a rejection stays in force
    until the order changes, so nothing is held or reopened for it."""
    return digest is not None and any(r.approval_digest == digest and r.status == "rejected" for r in requests)


# -- wording ----------------------------------------------------------------------------------------------------


def roles_text(requests: Sequence[ApprovalRequest]) -> str:
    return ", ".join(f"{r.role} ({r.hook})" for r in requests)


def utc(when: datetime | None) -> str:
    """A time as refusals and reasons write it: UTC, to the minute."""
    return when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else "-"


def brief(request: ApprovalRequest, reason: str) -> dict[str, Any]:
    """What the audit log records of a request voided for ``reason``."""
    return {"request_id": request.id, "hook": request.hook, "role": request.role, "was": request.status,
            "acted_by": request.acted_by, "approval_digest": request.approval_digest, "reason": reason}

