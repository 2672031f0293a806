"""``salesgate audit``: check the tamper-evident audit log, and explain the history of one order.

``verify`` exits 0 when the chain is intact and 1 when it is not, naming the first bad entry; 2 is
bad input or an unreachable database, as everywhere. See docs/audit.md.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from . import open_store, url_option, when

if TYPE_CHECKING:
    from salesgate_adapters.store import AuditEntry


@click.group()
def audit() -> None:
    """The audit log: every decision and approval action in a hash chain (salesgate_audit_log).

    The database is --url URL or SALESGATE_DATABASE_URL.
    """


def _kept(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[int, str]:
    kept: dict[int, str] = {}
    for value in values:
        seq, _, digest = value.partition(":")
        digest = digest.strip().lower()
        if not seq.strip().isdigit() or int(seq) < 1 or len(digest) < 12 or any(
                c not in "0123456789abcdef" for c in digest):
            raise click.BadParameter(f"{value!r}: expected ENTRY:SHA256, an entry number and at least 12 hex "
                                     "characters of its hash, as 'audit verify' printed them (e.g. 1042:9f86d081884c)")
        kept[int(seq)] = digest
    return kept


@audit.command()
@click.option("--skip-decisions", is_flag=True, help="Check the chain only, not the decision rows it names.")
@click.option("--kept", "kept", multiple=True, callback=_kept, metavar="ENTRY:SHA256",
              help="An entry's hash recorded outside the database earlier (repeatable): it must still match, "
                   "which finds a log rewritten with fresh hashes.")
@url_option
def verify(skip_decisions: bool, kept: dict[int, str], url: str | None) -> None:
    """Check every entry's hash and link; exit 1 naming the first entry that was changed, removed or added."""
    store = open_store(url)
    try:
        report = store.verify_audit(check_decisions=not skip_decisions, kept=kept)
    finally:
        store.close()
    if report.ok:
        click.echo(f"audit log intact: {report.entries} entries, last entry {report.head_seq} "
                   f"(sha256 {report.head_hash})")
        if kept:
            click.echo(f"kept hashes still match: entries {', '.join(str(seq) for seq in sorted(kept))}")
        if report.head_seq:
            click.echo(f"keep this elsewhere and check it later: --kept {report.head_seq}:{report.head_hash}")
        return
    click.echo(f"audit log NOT intact: first bad entry {report.bad_seq}: {report.problem}")
    click.echo(f"({report.entries} entries checked before it)")
    sys.exit(1)


@audit.command()
@click.argument("order")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@url_option
def show(order: str, as_json: bool, url: str | None) -> None:
    """The history of ORDER: decisions, approvals, voids, expiries and escalations, oldest first."""
    from salesgate_adapters.store.audit import intact

    store = open_store(url)
    try:
        entries = store.audit_entries(order)
        report = store.verify_audit() if entries else None
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([{"seq": e.seq, "recorded_at": e.recorded_at.isoformat(), "kind": e.kind,
                                "subject": e.subject, "hook": e.hook, "actor": e.actor,
                                "policy_hash": e.policy_hash, "content": e.data, "prev_hash": e.prev_hash,
                                "hash": e.hash, "intact": intact(e)} for e in entries],
                              ensure_ascii=False, indent=2, sort_keys=True))
        return
    if not entries:
        click.echo(f"no audit entries for {order}")
        return
    click.echo(f"History of {order} ({len(entries)} audit entries)")
    for entry in entries:
        click.echo("")
        for line in _explain(entry):
            click.echo(line)
        if not intact(entry):
            click.echo("    !! this entry does not match its hash: it was changed after it was written")
    click.echo("")
    if report is not None and report.ok:
        click.echo(f"audit chain intact ({report.entries} entries in the whole log)")
    elif report is not None:
        click.echo(f"audit chain NOT intact: first bad entry {report.bad_seq}: {report.problem}")


def _explain(entry: AuditEntry) -> list[str]:
    data = entry.data
    head = f"#{entry.seq}  {when(entry.recorded_at)}  {entry.kind}"
    if entry.hook:
        head += f"  {entry.hook}"
    kind = entry.kind
    if kind == "decision":
        return _decision(head, entry, data)
    if kind in ("approved", "rejected"):
        acted = data.get("role")
        if data.get("as_role") and data.get("as_role") != acted:
            acted = f"{acted} (as {data['as_role']}, escalated)"
        lines = [f"{head}  {acted}, step {data.get('position')}, by {entry.actor}"]
        if data.get("comment"):
            lines.append(f"    comment: {data['comment']}")
        for voided in data.get("voided") or []:
            lines.append(f"    voided {voided.get('role')} ({voided.get('was')})")
        if data.get("reservation_cancelled"):
            lines.append("    credit reservation cancelled")
        lines.append(f"    order digest {_short(data.get('approval_digest'))}")
        return lines
    if kind == "expired":
        return [f"{head}  {data.get('role')}: not approved by {data.get('expires_at')}"]
    if kind == "escalated":
        target = data.get("escalate_to") or "nobody above (flagged)"
        return [f"{head}  {data.get('role')} pending since {data.get('created_at')}: escalated to {target}"]
    if kind in ("role_granted", "role_revoked"):
        return [f"{head}  {data.get('user')} {data.get('role')} by {entry.actor or '-'}"]
    return [f"{head}  {json.dumps(data, ensure_ascii=False, sort_keys=True)}"]


def _decision(head: str, entry: AuditEntry, data: dict[str, Any]) -> list[str]:
    policy = data.get("policy") or {}
    lines = [f"{head}  {data.get('outcome')}" + (f"  requested by {entry.actor}" if entry.actor else ""),
             f"    policy {policy.get('name')} {policy.get('version')} ({policy.get('hash')}), "
             f"{data.get('backend')} backend, decision {data.get('decision_id')}",
             f"    order digest {_short(data.get('approval_digest'))}"]
    if data.get("approvals"):
        lines.append("    approvals: " + " → ".join(data["approvals"]))
    if data.get("opened"):
        lines.append("    opened requests: " + ", ".join(data["opened"]))
    for kept in data.get("kept") or []:
        by = f" by {kept['acted_by']}" if kept.get("acted_by") else ""
        lines.append(f"    kept {kept.get('role')} ({kept.get('status')}{by}): same order")
    for reason in data.get("reasons") or []:
        line = f", line {reason['line_no']}" if reason.get("line_no") is not None else ""
        lines.append(f"    reason: {reason.get('message')} ({reason.get('rule')}{line})")
    for voided in data.get("voided") or []:
        by = f" by {voided['acted_by']}" if voided.get("acted_by") else ""
        lines.append(f"    voided {voided.get('hook')}/{voided.get('role')} ({voided.get('was')}{by}): "
                     f"{voided.get('reason')} (was for digest {_short(voided.get('approval_digest'))})")
    if data.get("failure"):
        lines.append(f"    failure: {data['failure']}")
    return lines


def _short(digest: Any) -> str:
    return f"{digest[:12]}…" if isinstance(digest, str) else "none (no order facts)"
