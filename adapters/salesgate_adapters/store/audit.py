"""The audit log: every decision and approval action, appended to a hash chain that shows tampering.

Entry ``n`` stores the hash of entry ``n - 1`` (``prev_hash``) and its own ``hash``: the sha256 of the
canonical JSON of its sequence number, time, kind, subject, hook, actor, policy hash, content and
``prev_hash``. Changing, deleting, moving or inserting an entry breaks the hash of that entry or the
link of the next one; the head row (``salesgate_audit_head``) holds the last entry's number and hash,
so entries cut from the end are found too. Appends lock the head row, so concurrent writers queue
and the chain never forks.

The chain also vouches for the rows it describes: :class:`Replay` rebuilds from the entries what
each approval request must be (opened by a decision, then approved, rejected, voided, expired), and
``verify`` compares that, and each decision entry, with the rows of ``salesgate_approval_requests``
and ``salesgate_decisions`` — so a row changed or added with SQL is found even though no entry
was touched. See docs/audit.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Text, func, insert, select, type_coerce, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from salesgate.errors import StoreError

from .records import ApprovalRequest, AuditEntry, AuditReport, canonical_json, normal_id, request_from_row
from .tables import approval_requests, audit_head, audit_log, decisions, role_members

FAILURE_IN_LOG = "salesgate could not decide: what failed is in the decision log (bound by decision_sha256)"
"""What an audit entry says of a fallback decision instead of its failure text and reason. That text quotes
what failed — hosts, ports, user names, driver messages — and an audit entry can never be scrubbed without
breaking the chain, so it holds no connection details at all; the decision row keeps the (redacted) text."""

GENESIS = "0" * 64
HEAD_ID = 1
KINDS = ("decision", "approved", "rejected", "void", "expired", "escalated", "role_granted", "role_revoked")


def entry_hash(seq: int, recorded_at: datetime, kind: str, subject: str | None, hook: str | None, actor: str | None,
               policy_hash: str | None, content: str, prev_hash: str) -> str:
    """The hash an entry must carry: sha256 over the canonical JSON of all its other fields."""
    body = canonical_json({"seq": seq, "recorded_at": recorded_at, "kind": kind, "subject": subject, "hook": hook,
                           "actor": actor, "policy_hash": policy_hash, "content": content, "prev_hash": prev_hash})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def decision_digest(decision_json: Any) -> str:
    """sha256 of a logged decision's JSON, kept in its audit entry so an edited decision row is found."""
    return hashlib.sha256(canonical_json(decision_json).encode("utf-8")).hexdigest()


def append(conn: Connection, kind: str, content: Mapping[str, Any], *, now: datetime, subject: str | None = None,
           hook: str | None = None, actor: str | None = None, policy_hash: str | None = None) -> AuditEntry:
    """Append one entry inside the caller's transaction, holding the head row's lock until it commits.

    PostgreSQL and MariaDB: ``SELECT … FOR UPDATE`` on the head row; SQLite: the transaction began
    with ``BEGIN IMMEDIATE`` and already holds the database's write lock.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown audit entry kind {kind!r}")
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
                        .with_for_update()).first()
    if head is None:
        raise StoreError("the audit log has no head row (salesgate_audit_head): run salesgate db upgrade")
    seq = int(head.seq) + 1
    when = _micro(now)
    text = canonical_json(content)
    digest = entry_hash(seq, when, kind, subject, hook, actor, policy_hash, text, head.hash)
    conn.execute(insert(audit_log).values(seq=seq, recorded_at=when, kind=kind, subject=subject, hook=hook,
                                          actor=actor, policy_hash=policy_hash, content=text, prev_hash=head.hash,
                                          hash=digest))
    conn.execute(update(audit_head).where(audit_head.c.id == HEAD_ID).values(seq=seq, hash=digest))
    return AuditEntry(seq=seq, recorded_at=when, kind=kind, subject=subject, hook=hook, actor=actor,
                      policy_hash=policy_hash, content=text, prev_hash=head.hash, hash=digest)


def entries(conn: Connection, subject: str | None = None) -> list[AuditEntry]:
    query = select(audit_log).order_by(audit_log.c.seq)
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    return entries_of(conn, query)


def entries_of(conn: Connection, query: Select[Any]) -> list[AuditEntry]:
    """The entries a query of ``salesgate_audit_log`` selects."""
    return [_entry(row) for row in conn.execute(query)]


_KEPT_HASH = re.compile(r"[0-9a-f]{12,64}")


def checked_kept(kept: Mapping[int, str]) -> dict[int, str]:
    """Hashes kept outside the database, as :func:`verify` compares them (lower case); a ValueError
    names the first that is not an entry number ≥ 1 with 12 to 64 hex characters of its sha256."""
    checked: dict[int, str] = {}
    for seq, digest in kept.items():
        text = digest.strip().lower() if isinstance(digest, str) else ""
        if type(seq) is not int or seq < 1 or not _KEPT_HASH.fullmatch(text):
            raise ValueError(f"kept hash {seq!r}: {digest!r}: expected an entry number ≥ 1 and 12 to 64 hex "
                             "characters of its sha256, as 'salesgate audit verify' prints them")
        checked[seq] = text
    return checked


def parse_kept(values: Iterable[str]) -> dict[int, str]:
    """``ENTRY:SHA256`` strings (``audit verify --kept``) as :func:`checked_kept` returns them."""
    kept: dict[int, str] = {}
    for value in values:
        seq, colon, digest = value.partition(":")
        try:
            if not colon or not re.fullmatch(r"[0-9]+", seq.strip(), flags=re.ASCII):
                raise ValueError(value)
            kept.update(checked_kept({int(seq): digest}))
        except ValueError:
            raise ValueError(f"--kept {value!r}: expected ENTRY:SHA256, an entry number ≥ 1 and 12 to 64 hex "
                             "characters of its hash, as 'salesgate audit verify' prints them "
                             "(e.g. 1042:9f86d081884c)") from None
    return kept


def intact(entry: AuditEntry) -> bool:
    """Whether an entry's own hash matches its fields (the chain around it is ``verify``'s business)."""
    return entry.hash == entry_hash(entry.seq, entry.recorded_at, entry.kind, entry.subject, entry.hook, entry.actor,
                                    entry.policy_hash, entry.content, entry.prev_hash)


def verify(conn: Connection, *, check_decisions: bool = True, kept: Mapping[int, str] | None = None) -> AuditReport:
    """Walk the chain from the first entry; report the first entry that is not what was appended.

    ``kept`` maps entry numbers to hashes recorded outside the database earlier (the head that
    ``verify`` printed, a prefix of at least 12 characters will do): each entry must still carry its
    hash. That finds what the chain alone cannot, a log rewritten with freshly computed hashes by
    someone who can write to the database.

    With ``check_decisions`` the rows the chain describes are checked as well: every decision row
    against its entry (the digest of its JSON, its outcome, digest, hook and subject), every approval
    request against what the entries say happened to it (:class:`Replay`: status and approver), and
    rows no entry accounts for — so a decision or request edited, added or deleted with SQL is found.
    """
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)).first()
    if head is None:
        return AuditReport(False, 0, 0, GENESIS, None, "the head row (salesgate_audit_head) is missing")
    head_seq, head_hash = int(head.seq), str(head.hash)

    def bad(seq: int | None, count: int, problem: str) -> AuditReport:
        return AuditReport(False, count, head_seq, head_hash, seq, problem)

    expected, prev, count = 1, GENESIS, 0
    replay = Replay(check_roles=True)
    first_at: datetime | None = None
    for entry in _stream(conn):
        if entry.seq != expected:
            return bad(expected, count, f"entry {expected} is missing: the log goes from entry {expected - 1} to "
                                        f"entry {entry.seq} (deleted or renumbered)")
        if not intact(entry):
            return bad(entry.seq, count, f"entry {entry.seq} ({_label(entry)}) does not match its hash: it was "
                                         "edited, moved or inserted")
        if entry.prev_hash != prev:
            return bad(entry.seq, count, f"entry {entry.seq} ({_label(entry)}) does not follow entry {entry.seq - 1}: "
                                         "an entry before it was replaced, removed or inserted")
        if kept and entry.seq in kept and not entry.hash.startswith(kept[entry.seq].lower()):
            return bad(entry.seq, count, f"entry {entry.seq} ({_label(entry)}) has hash {entry.hash[:16]}…, not the "
                                         f"{kept[entry.seq][:16]}… kept for it: the log was rewritten from entry "
                                         f"{entry.seq} or before")
        if check_decisions:
            replay.add(entry)
        first_at = first_at or entry.recorded_at
        prev, expected, count = entry.hash, expected + 1, count + 1
    if count != head_seq:
        if count < head_seq:
            return bad(count + 1, count, f"the log ends at entry {count} but its head says {head_seq}: "
                                         f"entries {count + 1}–{head_seq} were deleted")
        added = f"entry {count} was" if count == head_seq + 1 else f"entries {head_seq + 1}–{count} were"
        return bad(head_seq + 1, count, f"{added} added after the head (entry {head_seq}): not written by salesgate")
    if prev != head_hash:
        return bad(count, count, f"entry {count} is not the entry the head row recorded: the end of the log "
                                 "was replaced")
    beyond = sorted(seq for seq in (kept or {}) if seq > count)
    if beyond:
        return bad(beyond[0], count, f"entry {beyond[0]} was kept, but the log ends at entry {count}: entries were "
                                     "deleted and the log rewritten")
    if check_decisions:
        found = _check_rows(conn, replay, first_at, head_seq)
        if found is not None:
            return bad(found[0], count, found[1])
    return AuditReport(True, count, head_seq, head_hash)


# -- what the chain says the rows are -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Logged:
    """A decision or an opened request as its decision entry recorded it."""

    seq: int
    hook: str | None
    subject: str | None
    approval_digest: Any
    outcome: Any = None
    sha256: Any = None
    actor: str | None = None
    failure: Any = None
    """The decision's ``failure`` as its entry lists it (:data:`UNLISTED` in entries that list none)."""
    at: datetime | None = None
    """When the entry was recorded: the decision's ``decided_at`` (they are written with one time)."""


UNLISTED = object()


@dataclass
class _Requested:
    """What the entries after its opening did to one request (``status`` ``None``: nothing, still pending)."""

    seq: int = 0
    status: str | None = None
    acted_by: str | None = None
    escalated: int | None = None


@dataclass
class Replay:
    """The approval workflow replayed from the audit log: what each decision and request row must say.

    Feed it entries in chain order (:meth:`add`). A request is opened by its decision's entry (it
    lists the roles it opened; a request is its decision id and role), approved or rejected by the
    entry naming its id (the entry's actor is the approver), voided by the decision or rejection
    entry listing it, expired and escalated by the sweep's entries. Nothing else changes a request.
    """

    decisions: dict[str, _Logged] = field(default_factory=dict)
    opened: dict[tuple[str, str], _Logged] = field(default_factory=dict)
    requests: dict[str, _Requested] = field(default_factory=dict)
    positions: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    """(decision id, role) → (its step on the ladder, the entry that put it there)."""
    timing: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(decision id, role) → the expiry and escalation its decision entry opened it with."""
    standing: dict[tuple[Any, ...], tuple[str, str]] = field(default_factory=dict)
    members: dict[tuple[str, str], int] = field(default_factory=dict)
    """(role, user id) → the entry that granted it, while granted (fed role entries: ``verify``)."""
    outsiders: list[tuple[int, str]] = field(default_factory=list)
    """Approvals and rejections by someone the replayed grants do not make a member of the role."""
    check_roles: bool = False
    """Whether role entries are fed too (the whole log, in ``verify``): only then is ``outsiders`` kept."""

    def add(self, entry: AuditEntry) -> None:
        if entry.kind not in KINDS or entry.kind == "void":
            return
        try:
            data = entry.data
        except ValueError:
            return
        if entry.kind in ("role_granted", "role_revoked"):
            role, user = data.get("role"), _person(data.get("user"))
            if isinstance(role, str) and user is not None:
                if entry.kind == "role_granted":
                    self.members.setdefault((role, user), entry.seq)
                else:
                    self.members.pop((role, user), None)
            return
        if entry.kind == "decision":
            self._decided(entry, data)
        elif entry.kind in ("approved", "rejected"):
            self._set(data.get("request_id"), entry.seq, entry.kind).acted_by = entry.actor
            role = data.get("as_role") or data.get("role")
            if self.check_roles and (role, _person(entry.actor)) not in self.members:
                self.outsiders.append((entry.seq, f"entry {entry.seq} ({_label(entry)}): {entry.actor} {entry.kind} "
                                                  f"as {role}, a role no audit entry had granted them"))
        elif entry.kind == "expired":
            self._set(data.get("request_id"), entry.seq, "expired")
        elif isinstance(data.get("request_id"), str):
            self.requests.setdefault(data["request_id"], _Requested()).escalated = entry.seq
        for voided in data.get("voided") or ():
            if isinstance(voided, dict):
                self._set(voided.get("request_id"), entry.seq, "void")

    def _decided(self, entry: AuditEntry, data: dict[str, Any]) -> None:
        decision_id = data.get("decision_id")
        if not isinstance(decision_id, str):
            return
        digest = data.get("approval_digest")
        self.decisions[decision_id] = _Logged(entry.seq, entry.hook, entry.subject, digest, data.get("outcome"),
                                              data.get("decision_sha256"), entry.actor,
                                              data.get("failure", UNLISTED), entry.recorded_at)
        ladder = [role for role in data.get("approvals") or () if isinstance(role, str)]
        for role in data.get("opened") or ():
            if isinstance(role, str):
                key = (decision_id, role)
                self.opened[key] = _Logged(entry.seq, entry.hook, entry.subject, digest)
                self.standing[(entry.subject, entry.hook, digest, role)] = key
                if role in ladder:
                    self.positions[key] = (ladder.index(role) + 1, entry.seq)
        for kept in data.get("kept") or ():  # carried over, perhaps to another step of the new ladder
            role = kept.get("role") if isinstance(kept, dict) else None
            standing = self.standing.get((entry.subject, entry.hook, digest, role))
            if standing is not None and role in ladder:
                self.positions[standing] = (ladder.index(role) + 1, entry.seq)
        for opened in data.get("opened_requests") or ():
            if isinstance(opened, dict) and isinstance(opened.get("role"), str):
                self.timing[(decision_id, opened["role"])] = {name: opened.get(name) for name in TIMING}

    def _set(self, request_id: Any, seq: int, status: str) -> _Requested:
        if not isinstance(request_id, str):
            return _Requested()  # an entry naming no request changes none
        state = self.requests.setdefault(request_id, _Requested())
        state.seq, state.status = seq, status
        return state

    def decision_problem(self, row: Any) -> tuple[int | None, str] | None:
        """Why a decision row is not the decision the log recorded (``None``: it is); seq ``None``: no entry.

        ``row`` has the columns ``id``, ``hook``, ``subject``, ``outcome``, ``approval_digest``, ``failure``
        and ``decided_at``: a failure set or erased, or a decision moved in time, would change which
        decision counts as the order's latest (``approval_status`` passes over fallbacks)."""
        logged = self.decisions.get(row.id)
        if logged is None:
            return None, f"decision {row.id} ({row.hook} {row.subject}) has no audit entry"
        if (row.hook, row.subject, row.outcome, row.approval_digest) != (logged.hook, logged.subject, logged.outcome,
                                                                         logged.approval_digest):
            return logged.seq, (f"decision {row.id} (audit entry {logged.seq}) was changed in salesgate_decisions "
                                "after it was logged (its outcome, order digest, hook or subject)")
        if logged.failure is not UNLISTED and not _same_failure(row.failure, logged.failure):
            return logged.seq, (f"decision {row.id} (audit entry {logged.seq}) has failure {row.failure!r} in "
                                f"salesgate_decisions, but {logged.failure!r} in the audit log")
        if logged.at is not None and row.decided_at != logged.at:
            return logged.seq, (f"decision {row.id} (audit entry {logged.seq}) was decided at {row.decided_at} in "
                                f"salesgate_decisions, but at {logged.at} in the audit log")
        return None

    def request_problem(self, request: ApprovalRequest) -> tuple[int | None, str] | None:
        """Why a request row is not what the log says it is (``None``: it is); seq ``None``: no entry opened it."""
        label = f"request {request.id} ({request.hook} {request.subject}, {request.role})"
        opened = self.opened.get((request.decision_id, request.role))
        if opened is None:
            logged = self.decisions.get(request.decision_id)
            if logged is not None:
                return logged.seq, (f"{label} is not among the requests decision {request.decision_id} opened "
                                    f"(audit entry {logged.seq}): it was added to salesgate_approval_requests")
            return None, f"{label} has no audit entry: its decision {request.decision_id} is not in the log"
        if (request.hook, request.subject, request.approval_digest) != (opened.hook, opened.subject,
                                                                        opened.approval_digest):
            return opened.seq, (f"{label} is not bound to the order audit entry {opened.seq} opened it for "
                                "(hook, order or order digest changed in salesgate_approval_requests)")
        state = self.requests.get(request.id, _Requested())
        logged_status = state.status or "pending"
        seq = state.seq or opened.seq
        if (request.status, request.acted_by) != (logged_status, state.acted_by):
            return seq, (f"{label} is {_state(request.status, request.acted_by)} in salesgate_approval_requests, "
                         f"but {_state(logged_status, state.acted_by)} in the audit log (entry {seq})")
        if request.escalated != (state.escalated is not None):
            return state.escalated or seq, (f"{label} is {'' if request.escalated else 'not '}escalated in "
                                            "salesgate_approval_requests, but the audit log says "
                                            f"{'not' if request.escalated else 'it was'}")
        decided = self.decisions.get(request.decision_id)
        if decided is not None and _person(request.requested_by) != _person(decided.actor):
            return decided.seq, (f"{label} is requested by {request.requested_by or 'nobody'} in "
                                 f"salesgate_approval_requests, but requested by {decided.actor or 'nobody'} in the "
                                 f"audit log (entry {decided.seq})")
        step = self.positions.get((request.decision_id, request.role))
        if step is not None and request.position != step[0]:
            return step[1], (f"{label} is step {request.position} in salesgate_approval_requests, but step {step[0]} "
                             f"in the audit log (entry {step[1]})")
        timing = self.timing.get((request.decision_id, request.role))
        if timing is not None and timing != _timing(request):
            return opened.seq, (f"{label} {_when(_timing(request))} in salesgate_approval_requests, but "
                                f"{_when(timing)} in the audit log (entry {opened.seq})")
        return None


TIMING = ("expires_at", "escalate_at", "escalate_to")
"""What a decision entry records of each request it opens, beyond its role: when it expires and escalates, to whom."""


def request_timing(request: Mapping[str, Any]) -> dict[str, Any]:
    """The expiry and escalation of a request being opened, as its decision entry records them."""
    return {"role": request["role"], **json.loads(canonical_json({name: request[name] for name in TIMING}))}


def _timing(request: ApprovalRequest) -> dict[str, Any]:
    return dict(json.loads(canonical_json({name: getattr(request, name) for name in TIMING})))


def _when(timing: Mapping[str, Any]) -> str:
    return (f"escalates to {timing.get('escalate_to') or 'nobody'} at {timing.get('escalate_at') or 'never'} and "
            f"expires at {timing.get('expires_at') or 'never'}")


def _person(user: Any) -> str | None:
    """A user id as the approval workflow compares them (:func:`~.records.normal_id`)."""
    return normal_id(user) if isinstance(user, str) else None


def _state(status: str, acted_by: str | None) -> str:
    return f"{status} by {acted_by}" if acted_by else status


def _check_rows(conn: Connection, replay: Replay, first_at: datetime | None,
                head_seq: int) -> tuple[int, str] | None:
    """The first row the replayed log does not account for, as (the entry it contradicts, problem)."""
    problems: list[tuple[int, str]] = []
    earliest: list[tuple[datetime, str]] = []  # the earliest row no entry accounts for

    def unaudited(at: datetime, digest: str | None, problem: str) -> None:
        # Rows from before the audit log existed (revision 0001) carry no order digest and can approve
        # nothing (approvals count only for a digest): they are left alone.
        if digest is None and (first_at is None or at < first_at):
            return
        if not earliest or at < earliest[0][0]:
            earliest[:] = [(at, problem)]

    seen: set[str] = set()
    d = decisions.c
    # The decision as stored, not through the JSON type: a row edited into invalid JSON is tampering to
    # report, not a failure to read the log.
    raw = type_coerce(d.decision, Text).label("decision")
    for row in conn.execute(select(d.id, d.decided_at, d.hook, d.subject, d.outcome, d.approval_digest, d.failure,
                                   raw)):
        seen.add(row.id)
        found = replay.decision_problem(row)
        if found is not None and found[0] is None:
            unaudited(row.decided_at, row.approval_digest, found[1])
            continue
        if found is not None:
            problems.append((int(found[0] or 0), found[1]))
            continue
        seq, digest = replay.decisions[row.id].seq, replay.decisions[row.id].sha256
        if isinstance(digest, str):
            try:
                actual = decision_digest(row.decision if not isinstance(row.decision, str)
                                         else json.loads(row.decision))
            except (TypeError, ValueError):
                actual = ""
            if actual != digest:
                problems.append((seq, f"decision {row.id} (audit entry {seq}) was changed in salesgate_decisions "
                                      "after it was logged"))
    for decision_id, logged in replay.decisions.items():
        if decision_id not in seen:
            problems.append((logged.seq, f"decision {decision_id} (audit entry {logged.seq}) was deleted from "
                                         "salesgate_decisions"))

    rows: set[tuple[str, str]] = set()
    ids: set[str] = set()
    for request in (request_from_row(r) for r in conn.execute(select(approval_requests))):
        rows.add((request.decision_id, request.role))
        ids.add(request.id)
        found = replay.request_problem(request)
        if found is not None and found[0] is None:
            unaudited(request.created_at, request.approval_digest, found[1])
        elif found is not None:
            problems.append((int(found[0] or 0), found[1]))
    for (decision_id, role), opened in replay.opened.items():
        if (decision_id, role) not in rows:
            problems.append((opened.seq, f"the request of {role} that decision {decision_id} opened (audit entry "
                                         f"{opened.seq}) was deleted from salesgate_approval_requests"))
    for request_id, state in replay.requests.items():
        if request_id not in ids and state.seq:
            problems.append((state.seq, f"request {request_id} (audit entry {state.seq}) was deleted from "
                                        "salesgate_approval_requests"))
    granted: set[tuple[str, str]] = set()
    for member in conn.execute(select(role_members)):
        key = (member.role, _person(member.user_id) or "")
        granted.add(key)
        if key not in replay.members:
            unaudited(member.granted_at, "role", f"salesgate_role_members says {member.user_id} holds {member.role}, "
                                                 "but no audit entry granted it")
    for (role, user), seq in replay.members.items():
        if (role, user) not in granted:
            problems.append((seq, f"the grant of {role} to {user} (audit entry {seq}) was deleted from "
                                  "salesgate_role_members"))
    problems.extend(replay.outsiders)
    if earliest:
        # Placed before the first entry recorded after it: the earliest such row gets the lowest number.
        at, problem = earliest[0]
        after = conn.execute(select(func.min(audit_log.c.seq)).where(audit_log.c.recorded_at > at)).scalar()
        where = f"before entry {after}" if after is not None else f"after entry {head_seq}"
        problems.append((int(after) if after is not None else head_seq + 1,
                         f"{problem} (it would belong {where}): it was written outside salesgate"))
    return min(problems) if problems else None


def _stream(conn: Connection) -> Iterator[AuditEntry]:
    """Every entry in chain order, a thousand at a time (the log grows without bound)."""
    last = 0
    while True:
        rows = conn.execute(select(audit_log).where(audit_log.c.seq > last).order_by(audit_log.c.seq)
                            .limit(1000)).all()
        if not rows:
            return
        for row in rows:
            yield _entry(row)
        last = int(rows[-1].seq)


def _label(entry: AuditEntry) -> str:
    return " ".join(part for part in (entry.kind, entry.hook, entry.subject) if part)


def _micro(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise StoreError(f"naive datetime {when.isoformat()}: pass a timezone-aware time")
    return when


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(seq=int(row.seq), recorded_at=row.recorded_at, kind=row.kind, subject=row.subject,
                      hook=row.hook, actor=row.actor, policy_hash=row.policy_hash, content=row.content,
                      prev_hash=row.prev_hash, hash=row.hash)


def _same_failure(row: str | None, logged: Any) -> bool:
    """Whether a decision row's ``failure`` is the one its audit entry lists. An entry written since
    secrets were kept out of the log says only *that* it failed (:data:`FAILURE_IN_LOG`; the text is
    bound by ``decision_sha256``); older entries list the text itself."""
    if logged == FAILURE_IN_LOG:
        return row is not None
    return bool(row == logged)
