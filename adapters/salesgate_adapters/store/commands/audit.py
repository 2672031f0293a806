"""``salesgate audit``: check the tamper-evident audit log, and explain the history of one order.

``verify`` exits 0 when the chain is intact and 1 when it is not, naming the first bad entry; 2 is
bad input or an unreachable database, as everywhere. See docs/audit.md.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from salesgate.commands import CommandInputError, schema_option, url_option, when

from .. import AuditEntry
from ..audit import intact, parse_kept
from .shared import open_store


@click.group()
def audit() -> None:
    """The audit log: every decision and approval action in a hash chain (salesgate_audit_log).

    The database is --url URL or SALESGATE_DATABASE_URL, and --schema NAME or SALESGATE_DATABASE_SCHEMA
    when salesgate's tables were created in a schema of their own.
    """


@audit.command()
@click.option("--skip-decisions", is_flag=True, help="Check the chain only, not the decision rows it names.")
@click.option("--kept", "kept_values", multiple=True, metavar="ENTRY:SHA256",
              help="An entry's hash recorded outside the database earlier (repeatable): it must still match, "
                   "which finds a log rewritten with fresh hashes.")
@url_option
@schema_option
def verify(skip_decisions: bool, kept_values: tuple[str, ...], url: str | None, schema: str | None) -> None:
    """Check every entry's hash and link; exit 1 naming the first entry that was changed, removed or added."""
    try:
        kept = parse_kept(kept_values)
    except ValueError as exc:
        raise CommandInputError(str(exc)) from None
    with open_store(url, schema) as store:
        report = store.verify_audit(check_decisions=not skip_decisions, kept=kept)
    if report.ok:
        click.echo(f"audit log intact: {report.entries} entries, last entry {report.head_seq} "
                   f"(sha256 {report.head_hash})")
        if kept:
            click.echo(f"kept hashes still match: entries {', '.join(str(seq) for seq in sorted(kept))}")
        if report.head_seq:
            click.echo(f"keep this elsewhere and check it later: --kept {report.head_seq}:{report.head_hash}")
        return
    if report.bad_seq is None:
        click.echo(f"audit log NOT intact: {report.problem}")
    else:
        click.echo(f"audit log NOT intact: first bad entry {report.bad_seq}: {report.problem}")
        if report.entries >= report.bad_seq:  # the chain held; a row disagrees with what it says
            click.echo(f"(the chain's {report.entries} entries are intact; the rows disagree with entry "
                       f"{report.bad_seq})")
        else:
            click.echo(f"({report.entries} entries checked before it)")
    sys.exit(1)


@audit.command()
@click.argument("order")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@url_option
@schema_option
def show(order: str, as_json: bool, url: str | None, schema: str | None) -> None:
    """The history of ORDER: decisions, approvals, voids, expiries and escalations, oldest first."""
    with open_store(url, schema) as store:
        entries = store.audit_entries(order)
        report = store.verify_audit() if entries else None
    if as_json:
        click.echo(json.dumps([{"seq": e.seq, "recorded_at": e.recorded_at.isoformat(), "kind": e.kind,
                                "subject": e.subject, "hook": e.hook, "actor": e.actor,
                                "policy_hash": e.policy_hash, "content": _content(e), "prev_hash": e.prev_hash,
                                "hash": e.hash, "intact": intact(e)} for e in entries],
                              ensure_ascii=False, indent=2, sort_keys=True))
        return
    if not entries:
        click.echo(f"no audit entries for {order}")
        return
    click.echo(f"History of {order} ({len(entries)} audit entries)")
    for entry in entries:
        click.echo("")
        for line in _explained(entry):
            click.echo(line)
        if not intact(entry):
            click.echo("    !! this entry does not match its hash: it was changed after it was written")
    click.echo("")
    if report is not None and report.ok:
        click.echo(f"audit chain intact ({report.entries} entries in the whole log)")
    elif report is not None:
        click.echo(f"audit chain NOT intact: first bad entry {report.bad_seq}: {report.problem}")


def _content(entry: AuditEntry) -> Any:
    """The entry's content as JSON, or the stored text as it is when it is not JSON (it was tampered with)."""
    try:
        return entry.data
    except ValueError:
        return entry.content


def _explained(entry: AuditEntry) -> list[str]:
    """:func:`_explain`, or the stored content as it is when it is not what salesgate wrote (an entry
    edited with SQL must still be shown, flagged, never end the command)."""
    try:
        return _explain(entry)
    except (ValueError, TypeError, AttributeError, KeyError):
        return [f"#{entry.seq}  {when(entry.recorded_at)}  {entry.kind}  (content not as salesgate writes it)",
                f"    {entry.content[:300]}"]


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
