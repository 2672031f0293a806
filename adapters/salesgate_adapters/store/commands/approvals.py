"""``salesgate approvals``: list, approve and reject approval requests; who holds which role.

Every action is checked by the store (role held, ladder order, not the requester, not expired) and
appended to the audit log; a refused action prints why and exits 2. See docs/approvals.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from salesgate.commands import CommandInputError, schema_option, show, url_option, when
from salesgate.documents import valid_name
from salesgate.pointspecs import DECISION_POINTS

from .. import ApprovalRequest
from ..approvals import stored_id, user_id
from .shared import open_store

STATUSES = ("pending", "approved", "rejected", "void", "expired", "all")
STATUS_STYLE = {"pending": "magenta", "approved": "green", "rejected": "bold red", "void": "dim", "expired": "yellow"}


def _point(value: str | None) -> str | None:
    """A decision point's name: a built-in one, or one a policy or plugin declares (the store keeps no policy,
    so a declared name is taken as written: lower case letters, digits and _)."""
    if value is not None and value not in DECISION_POINTS and not valid_name(value):
        raise CommandInputError(f"unknown decision point {value!r}: use one of {', '.join(DECISION_POINTS)}, or a "
                                "point your policy declares (lower case letters, digits and _)")
    return value


def _user(value: str | None) -> str:
    """The acting user as the store compares it (stripped, NFC; control characters refused: exit 2)."""
    if not value or not value.strip():
        raise CommandInputError("say who acts: --as USER (or set SALESGATE_USER)")
    return user_id(value, "--as")


@click.group()
def approvals() -> None:
    """Approval requests: list them, approve or reject an order, manage who holds a role.

    The database is --url URL or SALESGATE_DATABASE_URL, and --schema NAME or SALESGATE_DATABASE_SCHEMA
    when salesgate's tables were created in a schema of their own. Requests past their escalation or
    expiry time are escalated or expired (and audited) before anything is listed or acted on.
    """


@approvals.command("list")
@click.argument("order", required=False)
@click.option("--status", type=click.Choice(STATUSES), default="pending", show_default=True,
              help="Only requests in this status.")
@click.option("--role", metavar="ROLE", help="Only requests for this role (or escalated to it).")
@click.option("--for", "for_user", metavar="USER", help="Only requests USER may approve now.")
@click.option("--json", "as_json", is_flag=True, help="Print the requests as JSON.")
@url_option
@schema_option
def list_(order: str | None, status: str, role: str | None, for_user: str | None, as_json: bool,
          url: str | None, schema: str | None) -> None:
    """Approval requests, oldest first: pending ones by default, of one ORDER if given."""
    with open_store(url, schema) as store:
        store.sweep_approvals()
        requests = store.approval_requests(order, None if status == "all" or for_user else status)
        if role is not None:
            requests = [r for r in requests if role in (r.role, r.escalate_to if r.escalated else None)]
        if for_user is not None:
            for_user = user_id(for_user, "--for")
            held = set(store.roles_of(for_user))
            requests = _actionable(requests, for_user, held)
    if as_json:
        click.echo(json.dumps([_request_json(r) for r in requests], ensure_ascii=False, indent=2, sort_keys=True))
        return
    if not requests:
        shown = "" if status == "all" or for_user else f"{status} "
        click.echo(f"no {shown}approval requests" + (f" for {order}" if order else ""))
        return
    show(_requests_table(requests), width=REQUESTS_WIDTH)


def _actionable(requests: Sequence[ApprovalRequest], user: str, held: set[str]) -> list[ApprovalRequest]:
    live = [r for r in requests if r.status in ("pending", "approved")]
    found = []
    for r in live:
        if r.status != "pending" or stored_id(r.requested_by) == user:
            continue
        if r.role not in held and not (r.escalated and r.escalate_to in held):
            continue
        earlier = [x for x in live if x.subject == r.subject and x.hook == r.hook and x.position < r.position]
        if all(x.status == "approved" for x in earlier):
            found.append(r)
    return found


REQUESTS_WIDTH = 200
"""Off a terminal the requests table is printed this wide: its ten columns, two of them times with
their escalation, never fit 140 without breaking every cell."""


def _requests_table(requests: Sequence[ApprovalRequest]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("Order", "Hook", "Step", "Role", "Status", "Requested by", "Opened", "Escalation", "Expires",
                 "By / note"):
        table.add_column(name, no_wrap=name not in ("By / note", "Escalation"))
    steps: dict[tuple[str, str, str | None], int] = {}
    for r in requests:
        key = (r.subject, r.hook, r.approval_digest)
        steps[key] = max(steps.get(key, 0), r.position)
    for r in requests:
        escalation = "-"
        if r.escalated:
            escalation = f"escalated to {r.escalate_to or 'nobody above'} {when(r.escalated_at)}"
        elif r.escalate_at is not None and r.status == "pending":
            escalation = f"{r.escalate_to or 'flag'} at {when(r.escalate_at)}"
        note = " ".join(part for part in (
            f"{r.acted_by} {when(r.acted_at)}" if r.acted_by else "", f"“{r.comment}”" if r.comment else "",
            r.status_reason or "") if part)
        table.add_row(Text(r.subject), r.hook, f"{r.position}/{steps[(r.subject, r.hook, r.approval_digest)]}",
                      Text(r.role), Text(r.status, style=STATUS_STYLE.get(r.status, "")),
                      Text(r.requested_by or "-"), when(r.created_at), Text(escalation),
                      when(r.expires_at) if r.status == "pending" else "-", Text(note or "-"))
    return table


def _request_json(r: ApprovalRequest) -> dict[str, Any]:
    times = ("created_at", "updated_at", "acted_at", "expires_at", "escalate_at", "escalated_at")
    data: dict[str, Any] = {name: getattr(r, name) for name in (
        "id", "decision_id", "hook", "subject", "role", "position", "status", "approval_digest", "requested_by",
        "acted_by", "comment", "status_reason", "escalate_to")}
    data.update({name: getattr(r, name).isoformat() if getattr(r, name) else None for name in times})
    return data


def _act(action: str, order: str, user: str | None, role: str | None, hook: str | None, comment: str | None,
         url: str | None, schema: str | None) -> None:
    who = _user(user)
    with open_store(url, schema) as store:
        act = store.approve if action == "approve" else store.reject
        request = act(order, who, role=role, hook=_point(hook), comment=comment)
        status = store.approval_status(order, point=request.hook)
    click.echo(f"{order}: {request.role} ({request.hook}, step {request.position}) {request.status} by {who}")
    click.echo(f"{order} is now {status.state}: {status.detail}")


def _act_options(func: Any) -> Any:
    for option in reversed([
        click.argument("order"),
        click.option("--as", "user", metavar="USER", envvar="SALESGATE_USER",
                      help="Who acts (default: $SALESGATE_USER); must hold the role."),
        click.option("--role", metavar="ROLE", help="The role to act as, when USER could act on several steps."),
        click.option("--point", "--hook", "hook", metavar="POINT",
                     help="The decision point's request, when several points wait on USER (--hook: the old name)."),
        click.option("--comment", metavar="TEXT", help="Why; kept with the request and in the audit log."),
        url_option,
        schema_option,
    ]):
        func = option(func)
    return func


@approvals.command()
@_act_options
def approve(order: str, user: str | None, role: str | None, hook: str | None, comment: str | None,
            url: str | None, schema: str | None) -> None:
    """Approve ORDER's step that is USER's to approve now."""
    _act("approve", order, user, role, hook, comment, url, schema)


@approvals.command()
@_act_options
def reject(order: str, user: str | None, role: str | None, hook: str | None, comment: str | None,
           url: str | None, schema: str | None) -> None:
    """Reject ORDER: its other requests are voided and its credit reservation released."""
    _act("reject", order, user, role, hook, comment, url, schema)


@approvals.command()
@click.argument("order")
@click.option("--digest", metavar="SHA256", help="The approval digest of the order as it is now (recommended).")
@click.option("--point", metavar="POINT", help="Only the decisions and requests of this decision point's document "
                                               "(a declared point's ids may also name an order).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@url_option
@schema_option
def status(order: str, digest: str | None, point: str | None, as_json: bool, url: str | None,
           schema: str | None) -> None:
    """Whether ORDER (or a declared point's document) may go ahead: approved, not_required, pending, rejected,
    expired, blocked, changed…"""
    with open_store(url, schema) as store:
        store.sweep_approvals()
        found = store.approval_status(order, digest, point=_point(point))
    if as_json:
        click.echo(json.dumps({"subject": found.subject, "state": found.state, "approved": found.approved,
                               "approval_digest": found.approval_digest, "detail": found.detail,
                               "requests": [_request_json(r) for r in found.requests]},
                              ensure_ascii=False, indent=2, sort_keys=True))
        return
    click.echo(f"{order}: {found.state} ({found.detail})")


@approvals.command()
@url_option
@schema_option
def sweep(url: str | None, schema: str | None) -> None:
    """Escalate and expire overdue requests now (run it from cron, or let list/approve do it)."""
    with open_store(url, schema) as store:
        changed = store.sweep_approvals()
    click.echo(f"{changed} request{'s' if changed != 1 else ''} escalated or expired")


@approvals.command()
@click.argument("user")
@click.argument("role")
@click.option("--by", metavar="ADMIN", envvar="SALESGATE_USER", help="Who grants it (audited).")
@url_option
@schema_option
def grant(user: str, role: str, by: str | None, url: str | None, schema: str | None) -> None:
    """Let USER approve for ROLE."""
    with open_store(url, schema) as store:
        added = store.grant_role(user, role, by=by)
    click.echo(f"{user} {'may now approve' if added else 'already approves'} as {role}")


@approvals.command()
@click.argument("user")
@click.argument("role")
@click.option("--by", metavar="ADMIN", envvar="SALESGATE_USER", help="Who revokes it (audited).")
@url_option
@schema_option
def revoke(user: str, role: str, by: str | None, url: str | None, schema: str | None) -> None:
    """Stop USER approving for ROLE."""
    with open_store(url, schema) as store:
        removed = store.revoke_role(user, role, by=by)
    click.echo(f"{user} {'no longer approves' if removed else 'did not approve'} as {role}")


@approvals.command()
@click.argument("role", required=False)
@url_option
@schema_option
def members(role: str | None, url: str | None, schema: str | None) -> None:
    """Who may approve for each role (or for ROLE)."""
    with open_store(url, schema) as store:
        found = store.role_members(role)
    if not found:
        click.echo(f"nobody holds {role}" if role else "no role members: salesgate approvals grant USER ROLE")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("Role", "User", "Granted by", "Granted"):
        table.add_column(name, no_wrap=True)
    for m in found:
        table.add_row(Text(m.role), Text(m.user_id), Text(m.granted_by or "-"), when(m.granted_at))
    show(table)
