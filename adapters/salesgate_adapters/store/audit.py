"""The audit log: every decision and approval action, appended to a hash chain that shows tampering.

Entry ``n`` stores the hash of entry ``n - 1`` (``prev_hash``) and its own ``hash``: the sha256 of the
canonical JSON of its sequence number, time, kind, subject, hook, actor, policy hash, content and
``prev_hash``. Changing, deleting, moving or inserting an entry breaks the hash of that entry or the
link of the next one; the head row (``salesgate_audit_head``) holds the last entry's number and hash,
so entries cut from the end are found too. Appends lock the head row, so concurrent writers queue
and the chain never forks. See docs/audit.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from .connection import StoreError
from .records import AuditEntry, AuditReport, canonical_json
from .tables import audit_head, audit_log, decisions

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
    return [_entry(row) for row in conn.execute(query)]


def intact(entry: AuditEntry) -> bool:
    """Whether an entry's own hash matches its fields (the chain around it is ``verify``'s business)."""
    return entry.hash == entry_hash(entry.seq, entry.recorded_at, entry.kind, entry.subject, entry.hook, entry.actor,
                                    entry.policy_hash, entry.content, entry.prev_hash)


def verify(conn: Connection, *, check_decisions: bool = True) -> AuditReport:
    """Walk the chain from the first entry; report the first entry that is not what was appended.

    With ``check_decisions`` the decision rows the chain names are compared with the digest their
    entry recorded, so an edited or deleted ``salesgate_decisions`` row is found as well.
    """
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)).first()
    if head is None:
        return AuditReport(False, 0, 0, GENESIS, None, "the head row (salesgate_audit_head) is missing")
    head_seq, head_hash = int(head.seq), str(head.hash)

    def bad(seq: int | None, count: int, problem: str) -> AuditReport:
        return AuditReport(False, count, head_seq, head_hash, seq, problem)

    expected, prev, count = 1, GENESIS, 0
    decision_digests: dict[str, tuple[int, str]] = {}
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
        if check_decisions and entry.kind == "decision":
            data = entry.data
            if isinstance(data.get("decision_id"), str) and isinstance(data.get("decision_sha256"), str):
                decision_digests[data["decision_id"]] = (entry.seq, data["decision_sha256"])
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
    if decision_digests:
        found = _check_decisions(conn, decision_digests)
        if found is not None:
            return bad(found[0], count, found[1])
    return AuditReport(True, count, head_seq, head_hash)


def _check_decisions(conn: Connection, expected: dict[str, tuple[int, str]]) -> tuple[int, str] | None:
    seen: set[str] = set()
    problems: list[tuple[int, str]] = []
    for row in conn.execute(select(decisions.c.id, decisions.c.decision)):
        if row.id not in expected:
            continue
        seen.add(row.id)
        seq, digest = expected[row.id]
        try:
            actual = decision_digest(row.decision if not isinstance(row.decision, str) else json.loads(row.decision))
        except (TypeError, ValueError):
            actual = ""
        if actual != digest:
            problems.append((seq, f"decision {row.id} (audit entry {seq}) was changed in salesgate_decisions "
                                  "after it was logged"))
    for decision_id, (seq, _) in expected.items():
        if decision_id not in seen:
            problems.append((seq, f"decision {decision_id} (audit entry {seq}) was deleted from salesgate_decisions"))
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
