"""The approval workflow: ladder order, roles, requester, digest binding, expiry, escalation, CLI.

Every store test runs on SQLite, PostgreSQL and MariaDB (conftest.py); ids and users are unique per
test because the namespace is shared by the session.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import Engine

from conftest import Database, namespace
from salesgate import Gate
from salesgate.cli import cli
from salesgate_adapters.store import ApprovalError, ApprovalRules, Store, acting_as, approval_digest, approvals, audit
from salesgate_adapters.store.connection import StoreError
from test_store import order

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(database: Database) -> Iterator[Store]:
    store = Store(database.url, approvals=ApprovalRules(escalate_after=timedelta(hours=24),
                                                        expire_after=timedelta(hours=72)),
                  **database.store_options())
    yield store
    store.close()


@pytest.fixture
def gate(store: Store) -> Iterator[Gate]:
    with Gate.default(backend="python", entry_points=False, store=store) as gate:
        yield gate


@pytest.fixture
def staff(store: Store) -> dict[str, str]:
    """One fresh user per role of the seed ladder (and a clerk who enters orders)."""
    people = {role: unique(role) for role in ("sales_manager", "finance", "general_manager")}
    for role, user in people.items():
        store.grant_role(user, role, by="admin")
    people["clerk"] = unique("clerk")
    return people


def big_order(order_id: str, customer_id: str, amount: str = "120000.00", **customer: Any) -> dict[str, Any]:
    """120,000 and a poor credit rating: sales_manager → finance → general_manager."""
    return order(order_id, customer_id, amount, credit_rating="poor", **customer)


def decide(gate: Gate, facts: dict[str, Any], clerk: str) -> None:
    with acting_as(clerk):
        gate.approve_order(facts)


def test_roles_act_only_in_ladder_order(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id = unique("SO")
    facts = big_order(order_id, unique("C"))
    decide(gate, facts, staff["clerk"])
    with pytest.raises(ApprovalError, match=r"finance cannot act .* yet: the ladder waits for sales_manager"):
        store.approve(order_id, staff["finance"])
    with pytest.raises(ApprovalError, match=r"waits for sales_manager .*finance"):
        store.approve(order_id, staff["general_manager"])
    assert store.approval_status(order_id, order=facts).state == "pending"
    for role in ("sales_manager", "finance", "general_manager"):
        done = store.approve(order_id, staff[role], comment=f"{role} 同意")
        assert (done.role, done.status, done.acted_by) == (role, "approved", staff[role])
    status = store.approval_status(order_id, order=facts)
    assert status.state == "approved"
    assert status.approved
    assert store.is_approved(order_id, approval_digest(facts))


def test_the_requester_cannot_approve_their_own_order(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id = unique("SO")
    decide(gate, big_order(order_id, unique("C")), staff["sales_manager"])  # a manager entering an order
    with pytest.raises(ApprovalError, match=r"requested order .* and cannot approve it"):
        store.approve(order_id, staff["sales_manager"])
    assert [r.requested_by for r in store.approval_requests(order_id)] == [staff["sales_manager"]] * 3
    assert store.approval_requests(order_id, status="approved") == []


def test_deciding_an_order_again_makes_you_its_requester(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    """A batch job decides first (no requester); the clerk decides the unchanged order again: the requests carry
    over with nobody as their requester, yet the clerk asked for this very order and cannot approve it."""
    order_id, clerk = unique("SO"), staff["clerk"]
    facts = big_order(order_id, unique("C"))
    gate.approve_order(facts)  # no acting_as: the ERP's nightly job
    decide(gate, facts, clerk)
    assert {r.requested_by for r in store.approval_requests(order_id, status="pending")} == {None}
    store.grant_role(clerk, "sales_manager", by="admin")
    with pytest.raises(ApprovalError, match=r"requested order .* and cannot approve it"):
        store.approve(order_id, clerk)
    assert store.approve(order_id, staff["sales_manager"]).status == "approved"


def test_members_lists_who_may_approve_alike_on_every_database(store: Store, staff: dict[str, str]) -> None:
    """A row added with SQL lets nobody approve, so it is not listed; "finance " is finance on MariaDB and elsewhere."""
    mallory = unique("mallory")
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO salesgate_role_members (role, user_id, granted_by, granted_at) "
                          "VALUES ('finance', :user, 'admin', :at)"), {"user": mallory, "at": T0})
    try:
        listed = [m.user_id for m in store.role_members("finance ")]
        everyone = {m.user_id for m in store.role_members()}
        plain = [m.user_id for m in store.role_members("finance")]
    finally:  # the namespace is shared by the session: leave no forged row for other tests' verify
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM salesgate_role_members WHERE user_id = :user"), {"user": mallory})
    assert staff["finance"] in listed
    assert mallory not in listed
    assert listed == plain
    assert mallory not in everyone


def test_the_approver_must_hold_the_role(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id, outsider = unique("SO"), unique("intern")
    decide(gate, big_order(order_id, unique("C")), staff["clerk"])
    with pytest.raises(ApprovalError, match="does not hold the role sales_manager") as refused:
        store.approve(order_id, outsider)
    assert str(refused.value).endswith(f"(grant it with: salesgate approvals grant {outsider} sales_manager)")
    assert store.grant_role(outsider, "sales_manager", by="admin")
    assert not store.grant_role(outsider, "sales_manager", by="admin")
    assert store.revoke_role(outsider, "sales_manager", by="admin")
    with pytest.raises(ApprovalError, match="does not hold the role"):
        store.approve(order_id, outsider)
    store.grant_role(outsider, "sales_manager")
    assert store.approve(order_id, outsider).status == "approved"
    assert outsider in {m.user_id for m in store.role_members("sales_manager")}


def test_one_person_approves_at_most_one_step(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id = unique("SO")
    decide(gate, big_order(order_id, unique("C")), staff["clerk"])
    store.grant_role(staff["sales_manager"], "finance")
    store.approve(order_id, staff["sales_manager"])
    with pytest.raises(ApprovalError, match=r"already approved .* as sales_manager"):
        store.approve(order_id, staff["sales_manager"], role="finance")


def test_changing_the_amount_voids_approvals_already_given(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id, customer_id = unique("SO"), unique("C")
    first = big_order(order_id, customer_id)
    decide(gate, first, staff["clerk"])
    store.approve(order_id, staff["sales_manager"])
    store.approve(order_id, staff["finance"])
    amended = big_order(order_id, customer_id, amount="119000.00")
    assert store.approval_status(order_id, order=amended).state == "changed"  # edited, not decided again
    decide(gate, amended, staff["clerk"])
    void = store.approval_requests(order_id, status="void")
    assert sorted((r.role, r.status_reason) for r in void) == [
        ("finance", "the order changed"), ("general_manager", "the order changed"),
        ("sales_manager", "the order changed")]
    assert [r.role for r in store.approval_requests(order_id, status="pending")] == [
        "sales_manager", "finance", "general_manager"]
    assert store.approval_status(order_id, order=amended).state == "pending"
    assert not store.is_approved(order_id, approval_digest(first))


def test_changing_a_line_or_the_payment_terms_voids_too(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id, customer_id = unique("SO"), unique("C")
    facts = big_order(order_id, customer_id)
    decide(gate, facts, staff["clerk"])
    store.approve(order_id, staff["sales_manager"])
    terms = json.loads(json.dumps(facts))
    terms["order"]["payment_terms_days"] = 90
    assert approval_digest(terms) != approval_digest(facts)
    lines = json.loads(json.dumps(facts))
    lines["order"]["lines"][0]["discount"] = "0.05"
    assert approval_digest(lines) != approval_digest(facts)
    decide(gate, lines, staff["clerk"])
    assert [r.status for r in store.approval_requests(order_id) if r.acted_by == staff["sales_manager"]] == ["void"]


def test_deciding_the_same_order_again_keeps_its_approvals(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id = unique("SO")
    facts = big_order(order_id, unique("C"))
    decide(gate, facts, staff["clerk"])
    store.approve(order_id, staff["sales_manager"])
    decide(gate, {**facts, "order": {**facts["order"], "lines": [
        {**facts["order"]["lines"][0], "unit_price": Decimal("120000")}]}}, staff["clerk"])  # same amount, other form
    assert [(r.role, r.status) for r in store.approval_requests(order_id)] == [
        ("sales_manager", "approved"), ("finance", "pending"), ("general_manager", "pending")]
    store.approve(order_id, staff["finance"])
    store.approve(order_id, staff["general_manager"])
    assert store.is_approved(order_id, order=facts)


def test_a_copy_under_a_new_order_id_gets_no_approvals(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id, copy_id, customer_id = unique("SO"), unique("SO"), unique("C")
    facts = big_order(order_id, customer_id)
    decide(gate, facts, staff["clerk"])
    for role in ("sales_manager", "finance", "general_manager"):
        store.approve(order_id, staff[role])
    copy = big_order(copy_id, customer_id)
    assert approval_digest(copy) != approval_digest(facts)
    assert store.approval_status(copy_id, order=copy).state == "undecided"
    assert not store.is_approved(order_id, order=copy)  # the original's approvals do not fit the copy
    decide(gate, copy, staff["clerk"])
    assert store.approval_status(copy_id, order=copy).state == "pending"
    assert store.is_approved(order_id, order=facts)


def test_rejecting_voids_the_rest_and_releases_the_credit(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id, customer_id = unique("SO"), unique("C")
    facts = big_order(order_id, customer_id, credit_limit="100000", has_repayment_plan=True)
    with acting_as(staff["clerk"]):
        credit = gate.check_credit(facts, reserve=True)
    assert credit.required_roles == ["finance"]
    decide(gate, facts, staff["clerk"])
    store.approve(order_id, staff["sales_manager"])
    rejected = store.reject(order_id, staff["finance"], hook="order_approval", comment="客户信用太差")
    assert (rejected.status, rejected.comment) == ("rejected", "客户信用太差")
    void = store.approval_requests(order_id, status="void")
    assert [(r.role, r.status_reason) for r in void] == [
        ("sales_manager", f"rejected by {staff['finance']} (finance)"),
        ("general_manager", f"rejected by {staff['finance']} (finance)")]
    reservation = store.reservation(order_id)
    assert reservation is not None
    assert reservation.status == "cancelled"
    assert store.approval_status(order_id, order=facts).state == "rejected"
    decide(gate, facts, staff["clerk"])  # asking again about the unchanged order does not reopen it
    assert store.approval_status(order_id, order=facts).state == "rejected"
    with pytest.raises(ApprovalError, match="nothing pending on order_approval"):
        store.approve(order_id, staff["general_manager"], hook="order_approval")


def test_requests_escalate_then_expire(store: Store, staff: dict[str, str]) -> None:
    order_id = unique("SO")
    facts = big_order(order_id, unique("C"))
    with Gate.default(backend="python", entry_points=False) as plain:
        decision = plain.approve_order(facts)
    store.record(decision, plain.facts_for("order_approval", facts), actor=staff["clerk"], now=T0)
    [first, *_] = store.approval_requests(order_id)
    assert (first.escalate_at, first.escalate_to, first.expires_at) == (
        T0 + timedelta(hours=24), "finance", T0 + timedelta(hours=72))
    store.sweep_approvals(now=T0 + timedelta(hours=23))
    assert not store.approval_requests(order_id)[0].escalated
    store.sweep_approvals(now=T0 + timedelta(hours=25))
    escalated = store.approval_requests(order_id)
    assert [r.escalated for r in escalated] == [True, True, True]
    assert [r.escalate_to for r in escalated] == ["finance", "general_manager", None]
    # finance may now act for the overdue sales manager, not twice though
    done = store.approve(order_id, staff["finance"], role="sales_manager", now=T0 + timedelta(hours=26))
    assert done.status_reason == "acted for sales_manager as finance (escalated)"
    with pytest.raises(ApprovalError, match="already approved"):
        store.approve(order_id, staff["finance"], role="finance", now=T0 + timedelta(hours=27))
    with pytest.raises(ApprovalError, match=r"nothing pending.*expired .*: decide the order again to reopen it$"):
        store.approve(order_id, staff["general_manager"], role="finance", now=T0 + timedelta(hours=73))
    assert [r.status for r in store.approval_requests(order_id)] == ["approved", "expired", "expired"]
    assert store.approval_status(order_id, order=facts, now=T0 + timedelta(hours=73)).state == "expired"
    kinds = [e.kind for e in store.audit_entries(order_id)]
    assert kinds == ["decision", "escalated", "escalated", "escalated", "approved", "expired", "expired"]
    store.record(decision, plain.facts_for("order_approval", facts), actor=staff["clerk"],
                 now=T0 + timedelta(hours=74))  # deciding again reopens what expired, keeps the approval
    assert store.approval_status(order_id, order=facts, now=T0 + timedelta(hours=74)).state == "pending"


def test_an_overdue_request_counts_as_expired_before_any_sweep(store: Store, staff: dict[str, str]) -> None:
    order_id = unique("SO")
    facts = big_order(order_id, unique("C"))
    with Gate.default(backend="python", entry_points=False) as plain:
        store.record(plain.approve_order(facts), plain.facts_for("order_approval", facts), now=T0)
    assert store.approval_status(order_id, order=facts, now=T0 + timedelta(hours=80)).state == "expired"


def test_blocked_and_unrequired_orders(gate: Gate, store: Store) -> None:
    small, blocked = unique("SO"), unique("SO")
    small_facts = order(small, unique("C"), "1000.00")
    gate.approve_order(small_facts)
    assert store.approval_status(small, order=small_facts).state == "not_required"
    assert store.is_approved(small, order=small_facts)
    blocked_facts = order(blocked, unique("C"), "1000.00", status="blocked")
    gate.approve_order(blocked_facts)
    assert store.approval_status(blocked, order=blocked_facts).state == "blocked"
    assert store.approval_status(unique("SO")).state == "undecided"


def test_a_blocked_order_opens_no_approval_requests(gate: Gate, store: Store, staff: dict[str, str]) -> None:
    order_id = unique("SO")
    facts = big_order(order_id, unique("C"), status="blocked")  # its rules also name three approvers
    with acting_as(staff["clerk"]):
        decision = gate.approve_order(facts)
    assert decision.outcome.value == "block"
    assert decision.required_roles  # what the rules named: nobody may work on it
    assert store.approval_requests(order_id) == []
    with pytest.raises(ApprovalError, match="has no approval requests"):
        store.approve(order_id, staff["sales_manager"])
    assert store.approval_status(order_id, order=facts).state == "blocked"


def test_blocking_an_order_voids_its_requests_and_unblocking_starts_afresh(gate: Gate, store: Store,
                                                                          staff: dict[str, str]) -> None:
    order_id, customer = unique("SO"), unique("C")
    facts = big_order(order_id, customer)
    decide(gate, facts, staff["clerk"])
    store.approve(order_id, staff["sales_manager"])
    blocked = big_order(order_id, customer, status="blocked")  # the customer, not the order, changed
    assert approval_digest(blocked) == approval_digest(facts)
    decide(gate, blocked, staff["clerk"])
    requests = store.approval_requests(order_id)
    assert [(r.role, r.status) for r in requests] == [("sales_manager", "void"), ("finance", "void"),
                                                      ("general_manager", "void")]
    assert {r.status_reason for r in requests} == {"the order is blocked: no approval lifts a block"}
    with pytest.raises(ApprovalError, match=r"nothing pending.*is void .*: see salesgate approvals status SO-"):
        store.approve(order_id, staff["finance"])
    assert store.approval_status(order_id, order=facts).state == "blocked"
    blocking = store.audit_entries(order_id)[-1].data
    assert (blocking["outcome"], blocking["opened"], len(blocking["voided"])) == ("block", [], 3)
    decide(gate, facts, staff["clerk"])  # the block is lifted: the ladder starts again from its first step
    assert [r.role for r in store.approval_requests(order_id, status="pending")] == [
        "sales_manager", "finance", "general_manager"]
    assert store.approval_status(order_id, order=facts).state == "pending"


def test_a_block_recorded_without_the_order_voids_approvals_too(gate: Gate, store: Store,
                                                                staff: dict[str, str]) -> None:
    """``store.record(block, None)``: no digest to compare, but a block is a block — lifting it starts afresh."""
    order_id, customer = unique("SO"), unique("C")
    facts = big_order(order_id, customer)
    decide(gate, facts, staff["clerk"])
    for role in ("sales_manager", "finance", "general_manager"):
        store.approve(order_id, staff[role])
    with Gate.default(backend="python", entry_points=False) as plain:
        block = plain.approve_order(big_order(order_id, customer, status="blocked"))
    store.record(block, None, actor=staff["clerk"])
    assert [r.status for r in store.approval_requests(order_id)] == ["void"] * 3
    decide(gate, facts, staff["clerk"])  # the block is lifted
    status = store.approval_status(order_id, order=facts)
    assert (status.state, status.detail) == ("pending", "waiting for sales_manager (order_approval), finance "
                                                        "(order_approval), general_manager (order_approval)")
    assert store.verify_audit().ok


# -- who is who: user ids ---------------------------------------------------------------------------------------

def test_a_trailing_space_is_the_same_person_on_every_database(gate: Gate, store: Store,
                                                               staff: dict[str, str]) -> None:
    order_id, clerk, boss = unique("SO"), staff["clerk"], staff["sales_manager"]
    decide(gate, big_order(order_id, unique("C")), clerk)
    store.grant_role(clerk, "sales_manager", by="admin")
    with pytest.raises(ApprovalError, match=r"requested order .* and cannot approve it"):
        store.approve(order_id, clerk + " ")  # MariaDB's utf8mb4_bin once let this through
    assert store.approve(order_id, " " + boss + " ").acted_by == boss
    store.grant_role(boss + "  ", "finance", by="admin")
    assert store.roles_of(boss) == ["finance", "sales_manager"]
    with pytest.raises(ApprovalError, match=r"already approved order .* as sales_manager"):
        store.approve(order_id, boss + " ")  # four eyes: one person, not two
    assert not store.grant_role(boss + " ", "finance")  # already holds it: nothing written
    assert store.revoke_role(boss + " ", "finance")
    assert store.roles_of(boss) == ["sales_manager"]


def test_the_requester_given_to_record_is_normalised_too(store: Store, staff: dict[str, str]) -> None:
    order_id, clerk = unique("SO"), staff["clerk"]
    facts = big_order(order_id, unique("C"))
    with Gate.default(backend="python", entry_points=False) as plain:
        decision, model = plain.approve_order(facts), plain.facts_for("order_approval", facts)
    with pytest.raises(ApprovalError, match=r"actor 'cl\\x00erk': character 3 is U\+0000"):
        store.record(decision, model, actor="cl\x00erk")
    store.record(decision, model, actor=f" {clerk}\u3000")  # an ideographic space, as an IME types it
    assert {r.requested_by for r in store.approval_requests(order_id)} == {clerk}
    assert store.decisions(order_id)[-1].decision.subject == order_id
    store.grant_role(clerk, "sales_manager", by="admin")
    with pytest.raises(ApprovalError, match="cannot approve it"):
        store.approve(order_id, clerk)


def test_user_ids_compare_in_nfc_and_case_matters(store: Store, gate: Gate, staff: dict[str, str]) -> None:
    order_id, suffix = unique("SO"), uuid.uuid4().hex[:6]
    decomposed, composed = f"Zoe\u0301-{suffix}", f"Zo\u00e9-{suffix}"
    decide(gate, big_order(order_id, unique("C")), staff["clerk"])
    store.grant_role(decomposed, "sales_manager", by="admin")
    assert store.roles_of(composed) == ["sales_manager"]
    with pytest.raises(ApprovalError, match="does not hold the role sales_manager"):
        store.approve(order_id, composed.upper())  # ids are case-sensitive: ZOÉ is someone else
    assert store.approve(order_id, composed).acted_by == composed


def test_a_trailing_space_in_an_order_id_is_the_same_order_on_every_database(gate: Gate, store: Store,
                                                                            staff: dict[str, str]) -> None:
    """MariaDB compared "SO-1 " equal to "SO-1" (deciding one voided the other's approvals), PostgreSQL did not."""
    order_id = unique("SO")
    padded = big_order(order_id + "  ", unique("C"))  # as an ERP's CHAR column pads its ids
    decide(gate, padded, staff["clerk"])
    assert {r.subject for r in store.approval_requests(order_id)} == {order_id}
    assert store.approval_requests(order_id + " ") == store.approval_requests(order_id)
    assert store.approve(order_id + " ", staff["sales_manager"]).subject == order_id
    assert store.approval_status(order_id, order=padded).state == "pending"
    assert store.approval_status(order_id + " ", order=padded).state == "pending"
    assert [d.decision.subject for d in store.decisions(order_id + " ")] == [order_id]
    assert [e.subject for e in store.audit_entries(order_id + " ")] == [order_id, order_id]
    assert store.verify_audit().ok


def test_full_width_letters_are_the_same_person(store: Store, gate: Gate, staff: dict[str, str]) -> None:
    """An input method left in full-width mode types ``ｌｉ`` for ``li``: one login, one person, on every database."""
    order_id, suffix = unique("SO"), uuid.uuid4().hex[:6]
    clerk, boss = f"clerk{suffix}", f"boss{suffix}"
    wide_clerk, wide_boss = (''.join(chr(ord(c) + 0xFEE0) for c in name) for name in (clerk, boss))
    decide(gate, big_order(order_id, unique("C")), wide_clerk)
    assert {r.requested_by for r in store.approval_requests(order_id)} == {clerk}
    store.grant_role(clerk, "sales_manager", by="admin")
    with pytest.raises(ApprovalError, match="cannot approve it"):
        store.approve(order_id, clerk)
    store.grant_role(wide_boss, "sales_manager", by="admin")
    store.grant_role(boss, "finance", by="admin")
    assert store.roles_of(wide_boss) == store.roles_of(boss) == ["finance", "sales_manager"]
    assert store.approve(order_id, wide_boss).acted_by == boss
    with pytest.raises(ApprovalError, match=r"already approved order .* as sales_manager"):
        store.approve(order_id, boss)  # four eyes: one person, not two
    assert approvals.user_id("li\u3000na") == "li na"  # an ideographic space inside is a space
    assert store.verify_audit().ok


@pytest.mark.parametrize(("user", "problem"), [("", "is empty"), ("   ", "is empty"),
                                               ("bo\nss", "U\\+000A"),
                                               ("bo\tss", "U\\+0009"),
                                               ("bo\u200bss", "U\\+200B \\(ZERO WIDTH SPACE\\)"),
                                               ("bo\u00a0ss", "U\\+00A0 \\(NO-BREAK SPACE\\)"),
                                               ("boss\u3164", "U\\+3164 \\(HANGUL FILLER\\)"),
                                               ("boss\ufe0f", "U\\+FE0F"), ("bo\u034fss", "U\\+034F"),
                                               ("boss\u2800", "U\\+2800")])
def test_empty_ids_and_control_characters_are_refused(store: Store, gate: Gate, staff: dict[str, str], user: str,
                                                      problem: str) -> None:
    order_id = unique("SO")
    decide(gate, big_order(order_id, unique("C")), staff["clerk"])
    for attempt in (lambda: store.approve(order_id, user), lambda: store.grant_role(user, "finance"),
                    lambda: store.revoke_role(user, "finance"), lambda: store.roles_of(user),
                    lambda: acting_as(user).__enter__(),
                    lambda: store.grant_role(staff["finance"], "finance", by=user)):
        with pytest.raises(ApprovalError, match=problem):
            attempt()
    assert store.approval_requests(order_id, status="approved") == []


def test_ids_stored_before_normalising_still_match(store: Store, gate: Gate, staff: dict[str, str]) -> None:
    """A grant written by an older salesgate ("boss " with its space, row and audit entry) is the same person."""
    order_id, boss = unique("SO"), unique("boss")
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO salesgate_role_members (role, user_id, granted_by, granted_at) "
                          "VALUES ('sales_manager', :user, 'admin', :at)"), {"user": boss + " ", "at": T0})
        audit.append(conn, "role_granted", {"role": "sales_manager", "user": boss + " "}, now=T0, actor="admin")
    decide(gate, big_order(order_id, unique("C")), staff["clerk"])
    assert store.roles_of(boss) == ["sales_manager"]
    assert store.approve(order_id, boss).acted_by == boss
    assert store.revoke_role(boss, "sales_manager")
    assert store.roles_of(boss + " ") == []


# -- command line -------------------------------------------------------------------------------------------------

def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_grant_list_approve_reject_and_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    store = Store(url)
    store.upgrade()
    facts = big_order("SO-华东-1", "C-1")
    with Gate.default(backend="python", entry_points=False, store=store) as gate, acting_as("小王"):
        gate.approve_order(facts)
    assert run("approvals", "grant", "李经理", "sales_manager", "--by", "admin", "--url", url).exit_code == 0
    run("approvals", "grant", "财务张", "finance", "--url", url)
    listed = run("approvals", "list", "--url", url)
    assert listed.exit_code == 0
    assert "SO-华东-1" in listed.output
    assert "sales_manager" in listed.output
    assert "小王" in listed.output
    # Off a terminal (a pipe, a cron mail) every request is one line, its escalation time unbroken.
    rows = [line for line in listed.output.splitlines() if "SO-华东-1" in line]
    assert len(rows) == 3
    escalation = re.compile(r"(finance|general_manager|flag) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    assert all(escalation.search(row) for row in rows), listed.output
    assert "李经理" not in run("approvals", "list", "--for", "财务张", "--url", url).output
    assert "SO-华东-1" in run("approvals", "list", "--for", "李经理", "--url", url).output
    early = run("approvals", "approve", "SO-华东-1", "--as", "财务张", "--url", url)
    assert early.exit_code == 2
    assert early.output.startswith("error: finance cannot act on order 'SO-华东-1'")
    assert "Traceback" not in early.output
    done = run("approvals", "approve", "SO-华东-1", "--as", "李经理", "--comment", "同意", "--url", url)
    assert done.exit_code == 0, done.output
    assert "sales_manager (order_approval, step 1) approved by 李经理" in done.output
    assert "is now pending: waiting for finance" in done.output
    assert run("approvals", "reject", "SO-华东-1", "--as", "财务张", "--url", url).exit_code == 0
    status = run("approvals", "status", "SO-华东-1", "--json", "--url", url)
    assert json.loads(status.output)["state"] == "rejected"
    assert "李经理" in run("approvals", "list", "SO-华东-1", "--status", "all", "--url", url).output
    assert "财务张" in run("approvals", "members", "finance", "--url", url).output
    store.close()


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALESGATE_USER", raising=False)
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    Store(url).upgrade()
    no_user = run("approvals", "approve", "SO-1", "--url", url)
    assert (no_user.exit_code, no_user.output) == (2, "error: say who acts: --as USER (or set SALESGATE_USER)\n")
    bad_hook = run("approvals", "approve", "SO-1", "--as", "u", "--hook", "Shipping!", "--url", url)
    assert bad_hook.exit_code == 2
    assert "unknown decision point 'Shipping!'" in bad_hook.output
    nothing = run("approvals", "approve", "SO-1", "--as", "u", "--url", url)
    assert (nothing.exit_code, nothing.output) == (2, "error: order 'SO-1' has no approval requests\n")
    for command in (["approve", "SO-1", "--as", "li\x07na"], ["grant", "li\x07na", "finance"],
                    ["revoke", "li\x07na", "finance"], ["grant", "li.na", "finance", "--by", "ad\x07min"],
                    ["list", "--for", "li\x07na"]):
        refused = run("approvals", *command, "--url", url)
        assert refused.exit_code == 2
        [line] = refused.output.splitlines()
        assert line.startswith("error: "), line
        assert "character 3 is U+0007 (a control character)" in line, line
    monkeypatch.delenv("SALESGATE_DATABASE_URL", raising=False)
    assert run("approvals", "list").output == "error: no database: pass --url URL or set SALESGATE_DATABASE_URL\n"


# -- the ladder holds even when a lower rung expires or is reopened -----------------------------------------------

def record(store: Store, facts: dict[str, Any], clerk: str, now: datetime, roles: list[str] | None = None) -> str:
    """Decide ``facts`` with the seed policy, recorded at ``now``; ``roles`` narrows the ladder (a policy change)."""
    with Gate.default(backend="python", entry_points=False) as plain:
        decision = plain.approve_order(facts)
        if roles is not None:
            decision = decision.model_copy(update={"approvals": [a for a in decision.approvals if a.role in roles]})
        return store.record(decision, plain.facts_for("order_approval", facts), actor=clerk, now=now)


@pytest.fixture
def short_store(database: Database) -> Iterator[Store]:
    """The review's repro: the sales manager has one hour, the other rungs the default seven days."""
    store = Store(database.url, approvals=ApprovalRules(expire_after_by_role={"sales_manager": timedelta(hours=1)}),
                  **database.store_options())
    yield store
    store.close()


def test_an_expired_lower_rung_blocks_every_rung_above_it(short_store: Store, staff: dict[str, str]) -> None:
    store, order_id = short_store, unique("SO")
    facts = big_order(order_id, unique("C"))
    record(store, facts, staff["clerk"], T0)
    later = T0 + timedelta(hours=2)
    with pytest.raises(ApprovalError, match=r"finance cannot act .* the ladder waits for sales_manager \(expired\)"):
        store.approve(order_id, staff["finance"], now=later)
    with pytest.raises(ApprovalError, match=r"general_manager cannot act .* waits for sales_manager \(expired\)"):
        store.approve(order_id, staff["general_manager"], role="general_manager", now=later)
    with pytest.raises(ApprovalError, match=r"the sales_manager step of order .* expired: decide the order again"):
        store.approve(order_id, staff["sales_manager"], now=later)  # not 'does not hold general_manager'
    assert store.approval_requests(order_id, status="approved") == []
    assert store.approval_status(order_id, order=facts, now=later).state == "expired"
    record(store, facts, staff["clerk"], later)  # deciding again reopens the sales manager's step
    with pytest.raises(ApprovalError, match=r"waits for sales_manager \(pending\)"):
        store.approve(order_id, staff["general_manager"], now=later)
    for step, role in enumerate(("sales_manager", "finance", "general_manager"), start=1):
        store.approve(order_id, staff[role], now=later + timedelta(minutes=step))
    status = store.approval_status(order_id, order=facts, now=later + timedelta(minutes=5))
    assert status.state == "approved"
    signed = sorted(status.requests, key=lambda r: r.position)
    assert [r.role for r in signed] == ["sales_manager", "finance", "general_manager"]
    assert [r.acted_at for r in signed] == sorted(r.acted_at for r in signed)


def test_opening_a_lower_rung_voids_the_approvals_above_it(store: Store, staff: dict[str, str]) -> None:
    order_id = unique("SO")
    facts = big_order(order_id, unique("C"))
    record(store, facts, staff["clerk"], T0, roles=["general_manager"])
    approved = store.approve(order_id, staff["general_manager"], now=T0 + timedelta(minutes=1))
    record(store, facts, staff["clerk"], T0 + timedelta(minutes=2))  # the same order, now with the full ladder
    voided = next(r for r in store.approval_requests(order_id) if r.id == approved.id)
    assert voided.status == "void"
    assert voided.status_reason is not None
    assert "sales_manager" in voided.status_reason
    assert [(r.position, r.role) for r in store.approval_requests(order_id, status="pending")] == [
        (1, "sales_manager"), (2, "finance"), (3, "general_manager")]
    decision = store.audit_entries(order_id)[-1]
    assert decision.kind == "decision"
    assert [(v["role"], v["was"]) for v in decision.data["voided"]] == [("general_manager", "approved")]
    for step, role in enumerate(("sales_manager", "finance", "general_manager"), start=3):
        store.approve(order_id, staff[role], now=T0 + timedelta(minutes=step))
    assert store.approval_status(order_id, order=facts, now=T0 + timedelta(minutes=9)).state == "approved"


def test_reopening_an_expired_rung_voids_approvals_given_above_it(store: Store, staff: dict[str, str]) -> None:
    """Data an earlier version let through (finance and the general manager signed while the sales
    manager's step had expired): deciding again puts the ladder back in order."""
    order_id = unique("SO")
    facts = big_order(order_id, unique("C"))
    record(store, facts, staff["clerk"], T0)
    with store.engine.begin() as conn:  # audited as that version did: the log backs these rows
        conn.execute(text("UPDATE salesgate_approval_requests SET status = 'expired' "
                          "WHERE subject = :s AND role = 'sales_manager'"), {"s": order_id})
        conn.execute(text("UPDATE salesgate_approval_requests SET status = 'approved', acted_by = :u "
                          "WHERE subject = :s AND role <> 'sales_manager'"), {"s": order_id, "u": staff["finance"]})
        for request in store.approval_requests(order_id):
            kind = "expired" if request.role == "sales_manager" else "approved"
            audit.append(conn, kind, {"request_id": request.id}, now=T0 + timedelta(minutes=30), subject=order_id,
                         hook=request.hook, actor=None if kind == "expired" else staff["finance"])
    record(store, facts, staff["clerk"], T0 + timedelta(hours=1))
    assert sorted((r.role, r.status) for r in store.approval_requests(order_id) if r.status != "expired") == [
        ("finance", "pending"), ("finance", "void"), ("general_manager", "pending"), ("general_manager", "void"),
        ("sales_manager", "pending")]
    assert store.approval_status(order_id, order=facts, now=T0 + timedelta(hours=1)).state == "pending"


# -- concurrent first decisions --------------------------------------------------------------------------------------

def test_concurrent_first_decisions_of_an_order_open_one_request_per_role(database: Database) -> None:
    """Eight threads, each with its own store, decide the same new order at the same moment, five times over."""
    threads, orders = 8, 5
    start = threading.Barrier(threads)
    order_ids = [unique("SO") for _ in range(orders)]
    customer = unique("C")
    errors: list[BaseException] = []

    def work() -> None:
        own = Store(database.url, timeout=30, **database.store_options())
        try:
            with Gate.default(backend="python", entry_points=False, store=own) as gate:
                for order_id in order_ids:
                    start.wait()
                    gate.approve_order(big_order(order_id, customer))
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)
        finally:
            own.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert errors == []
    store = Store(database.url, **database.store_options())
    try:
        for order_id in order_ids:
            assert len(store.decisions(order_id)) == threads
            assert sorted((r.role, r.status) for r in store.approval_requests(order_id)) == [
                ("finance", "pending"), ("general_manager", "pending"), ("sales_manager", "pending")]
    finally:
        store.close()


# -- which decision is the newest -----------------------------------------------------------------------------------

def test_status_compares_with_the_digest_of_the_newest_decision(gate: Gate, store: Store,
                                                                 staff: dict[str, str]) -> None:
    """order_approval is decided first and last: its newest decision, not its first, sets the order's digest."""
    order_id, customer_id = unique("SO"), unique("C")
    first = big_order(order_id, customer_id)
    decide(gate, first, staff["clerk"])
    gate.check_credit(first)
    amended = big_order(order_id, customer_id, amount="119000.00")
    decide(gate, amended, staff["clerk"])
    status = store.approval_status(order_id)  # no order passed: the order as last decided
    assert status.approval_digest == approval_digest(amended)
    assert status.state == "stale"
    assert status.detail.startswith("credit_check was decided on an earlier version")


# -- only what the audit log backs counts: rows voided or deleted with SQL ------------------------------------------

@pytest.mark.parametrize("how", ["UPDATE salesgate_approval_requests SET status = 'void' WHERE subject = :s",
                                 "DELETE FROM salesgate_approval_requests WHERE subject = :s"],
                         ids=["voided", "deleted"])
def test_requests_voided_or_deleted_with_sql_never_approve(gate: Gate, store: Store, staff: dict[str, str],
                                                           how: str) -> None:
    """The review's repro: the pending requests disappear from what is counted; the log still says pending."""
    order_id = unique("SO")
    facts = big_order(order_id, unique("C"))
    decide(gate, facts, staff["clerk"])
    store.approve(order_id, staff["sales_manager"])
    assert store.approval_status(order_id, order=facts).state == "pending"
    with store.engine.begin() as conn:
        conn.execute(text(how), {"s": order_id})
    status = store.approval_status(order_id, order=facts)
    assert (status.state, status.approved) == ("tampered", False)
    assert ("in salesgate_approval_requests, but" in status.detail if "UPDATE" in how
            else "is missing from salesgate_approval_requests" in status.detail)
    assert not store.is_approved(order_id, order=facts)


def test_a_decision_asking_for_approval_never_answers_without_requests(gate: Gate, store: Store,
                                                                       staff: dict[str, str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Second line of defence: even were the audit check to miss it, require_approval with nothing counted
    on its hook is not ``not_required``."""
    order_id = unique("SO")
    facts = big_order(order_id, unique("C"))
    decide(gate, facts, staff["clerk"])
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE salesgate_approval_requests SET status = 'void' WHERE subject = :s"),
                     {"s": order_id})
    monkeypatch.setattr(approvals, "_unbacked", lambda *args: None)
    status = store.approval_status(order_id, order=facts)
    assert (status.state, status.approved) == ("pending", False)
    assert "order_approval requires approval" in status.detail


# -- one snapshot per status read; one lock order for sweeps (PostgreSQL, MariaDB) -------------------------------

SERVERS = ["postgresql", "mariadb"]


@pytest.mark.parametrize("backend", SERVERS)
def test_an_approval_committed_during_a_status_read_is_not_tampering(backend: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's repro: an approval commits between the read of the rows and the read of the entries."""
    with namespace(backend, tmp_path) as database:
        store = Store(database.url, **database.store_options())
        try:
            store.upgrade()
            store.grant_role("mgr", "sales_manager", by="admin")
            order_id = unique("SO")
            facts = big_order(order_id, unique("C"))
            with Gate.default(backend="python", entry_points=False, store=store) as gate, acting_as("clerk"):
                gate.approve_order(facts)
            original = approvals._unbacked

            def racing(*args: Any) -> str | None:
                approver = threading.Thread(target=lambda: store.approve(order_id, "mgr"))
                approver.start()
                approver.join(30)
                return original(*args)

            monkeypatch.setattr(approvals, "_unbacked", racing)
            status = store.approval_status(order_id, order=facts)
            assert (status.state, status.detail) == ("pending", "waiting for sales_manager (order_approval), "
                                                                "finance (order_approval), general_manager "
                                                                "(order_approval)")
            monkeypatch.undo()
            assert store.approval_status(order_id, order=facts).waiting_for[0].role == "finance"
        finally:
            store.close()


def waiting_for_locks(engine: Engine, count: int) -> None:
    """Until ``count`` transactions wait for a row lock (at most ten seconds)."""
    query = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
             if engine.dialect.name == "postgresql" else
             "SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with engine.connect() as conn:  # a fresh transaction per look: what it reads is not cached
            if conn.execute(text(query)).scalar_one() >= count:
                break
        time.sleep(0.15)  # MariaDB refreshes innodb_trx only when it was last read over 0.1 s ago
    time.sleep(0.2)  # let the waiter settle into its wait


@pytest.mark.parametrize("backend", SERVERS)
def test_a_sweep_and_a_decision_on_two_hooks_never_deadlock(backend: str, tmp_path: Path) -> None:
    """The review's repro: an order has requests on two hooks; the sweep and a re-decision must take their
    locks in one order (subject row first), or each ends up holding a request row the other waits for."""
    with namespace(backend, tmp_path) as database:
        store = Store(database.url, attempts=1, timeout=10, **database.store_options())
        engine = database.engine()
        try:
            store.upgrade()
            order_id = unique("SO")
            facts = big_order(order_id, unique("C"))
            with Gate.default(backend="python", entry_points=False) as plain:
                on_order = plain.approve_order(facts)
                on_credit = plain.check_credit(facts).model_copy(
                    update={"approvals": on_order.approvals[:1], "outcome": on_order.outcome})
                digest_facts = plain.facts_for("order_approval", facts)
            store.record(on_order, digest_facts, actor="clerk", now=T0)
            store.record(on_credit, digest_facts, actor="clerk", now=T0 + timedelta(seconds=1))
            pending = [r for r in store.approval_requests(order_id) if r.status == "pending"]
            assert {r.hook for r in pending} == {"order_approval", "credit_check"}
            first = min(pending, key=lambda r: (r.hook, r.position))  # the row the sweep locked first
            errors: list[str] = []

            def run(what: str, call: Any) -> None:
                try:
                    call()
                except StoreError as exc:
                    errors.append(f"{what}: {exc}")

            with engine.connect() as holder:  # a third transaction holds that row for a moment
                holder.execute(text("SELECT id FROM salesgate_approval_requests WHERE id = :i FOR UPDATE"),
                               {"i": first.id})
                sweep = threading.Thread(target=run, args=(
                    "sweep", lambda: store.sweep_approvals(now=T0 + timedelta(seconds=2))))
                sweep.start()
                waiting_for_locks(engine, 1)
                again = threading.Thread(target=run, args=(
                    "record", lambda: store.record(on_order, digest_facts, actor="clerk",
                                                   now=T0 + timedelta(seconds=3))))
                again.start()
                waiting_for_locks(engine, 2)
                holder.commit()
                sweep.join(30)
                again.join(30)
            assert errors == []
            assert len(store.decisions(order_id)) == 3
            assert store.verify_audit().ok
        finally:
            engine.dispose()
            store.close()


def test_the_example_at_the_top_of_docs_approvals_runs_as_written(database: Database,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/approvals.md's first example, given what it leaves to the reader: a database, an order
    (120,000: sales_manager → general_manager) and an ERP to confirm it in."""
    import functools

    import salesgate_adapters.store as store_package

    root = Path(__file__).resolve().parents[1]
    docs = (root / "docs" / "approvals.md").read_text(encoding="utf-8")
    example = re.findall(r"```python\n(.*?)```", docs, re.S)[0]
    confirmed: list[str] = []

    class Erp:
        def confirm(self, order_id: str) -> None:
            confirmed.append(order_id)

    order_id = unique("SO")
    monkeypatch.chdir(root)  # Gate.from_path("rules/")
    monkeypatch.setattr(store_package, "Store", functools.partial(Store, **database.store_options()))
    namespace: dict[str, Any] = {"url": database.url, "order": order(order_id, unique("C")), "order_id": order_id,
                                 "erp": Erp()}
    try:
        exec(example, namespace)  # noqa: S102 - the documentation's own example, run as documented
    finally:
        for opened in ("gate", "store"):
            if opened in namespace:
                namespace[opened].close()
    assert confirmed == [order_id]


# -- declared decision points ---------------------------------------------------------------------------------

DECLARED = Path(__file__).parent / "fixtures" / "declared-policy"


@pytest.fixture
def declared_gate(store: Store) -> Iterator[Gate]:
    """The declared-policy fixture (a sample_request point: above 5000 the sales manager approves)."""
    with Gate.from_path(DECLARED, backend="python", entry_points=False, store=store) as gate:
        yield gate


def sample(sample_id: str, value: str = "6000.00", tenure: int = 5, **fields: Any) -> dict[str, Any]:
    return {"sample": {"id": sample_id, "customer_id": "C-样品", "value": value, "urgent": True,
                       "lines": [{"sku": "阀门-1", "qty": 3}], **fields},
            "customer": {"id": "C-样品", "name": "华东客户", "credit_limit": "50000", "tenure_years": tenure}}


def test_a_declared_point_opens_requests_bound_to_its_document(declared_gate: Gate, store: Store,
                                                               staff: dict[str, str]) -> None:
    sample_id = unique("SR")
    facts = sample(sample_id)
    with acting_as(staff["clerk"]):
        decision = declared_gate.decide("sample_request", facts)
    assert [a.role for a in decision.approvals] == ["sales_manager"]
    validated = declared_gate.facts_for("sample_request", facts)
    (request,) = store.approval_requests(sample_id)
    assert (request.hook, request.role, request.status) == ("sample_request", "sales_manager", "pending")
    assert request.approval_digest == approval_digest(validated)
    assert store.approval_status(sample_id, order=validated, point="sample_request").state == "pending"
    store.approve(sample_id, staff["sales_manager"], hook="sample_request", comment="样品可以")
    assert store.is_approved(sample_id, order=validated, point="sample_request")
    # the customer is not part of the document: a year more as a customer leaves the approval standing
    older = declared_gate.facts_for("sample_request", sample(sample_id, tenure=6))
    assert store.is_approved(sample_id, order=older, point="sample_request")
    edited = declared_gate.facts_for("sample_request", sample(sample_id, value="6000.01"))
    assert store.approval_status(sample_id, order=edited, point="sample_request").state == "changed"


def test_a_declared_document_under_an_order_id_leaves_the_order_alone(gate: Gate, declared_gate: Gate,
                                                                      store: Store, staff: dict[str, str]) -> None:
    shared_id = unique("1001")
    facts = big_order(shared_id, unique("C"))
    decide(gate, facts, staff["clerk"])
    for role in ("sales_manager", "finance", "general_manager"):
        store.approve(shared_id, staff[role], hook="order_approval")
    assert store.is_approved(shared_id, order=facts, point="order_approval")
    with acting_as(staff["clerk"]):
        declared_gate.decide("sample_request", sample(shared_id))
    assert store.is_approved(shared_id, order=facts, point="order_approval")
    assert [r.status for r in store.approval_requests(shared_id) if r.hook == "order_approval"] == ["approved"] * 3
    (pending,) = [r for r in store.approval_requests(shared_id) if r.hook == "sample_request"]
    assert pending.status == "pending"
    assert store.approval_status(shared_id, point="sample_request").state == "pending"


def test_declared_outputs_round_trip_through_the_decision_log(declared_gate: Gate, store: Store) -> None:
    sample_id = unique("SR")
    decision = declared_gate.decide("sample_request", sample(sample_id, value="25000", tenure=1))
    assert decision.outputs == {"deposit": Decimal("0.5"), "freight": "collect"}
    (logged,) = store.decisions(sample_id)
    assert logged.decision.outputs == decision.outputs
    untraced = {"trace": []}  # trace values are shown as logged (text), as at the built-in points
    assert logged.decision.model_copy(update=untraced) == decision.model_copy(update=untraced)
    assert isinstance(logged.decision.outputs["deposit"], Decimal)


def test_the_cli_approves_at_a_declared_point(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    store = Store(url)
    store.upgrade()
    store.grant_role("李经理", "sales_manager", by="admin")
    with Gate.from_path(DECLARED, backend="python", entry_points=False, store=store) as declared, acting_as("录入员"):
        declared.decide("sample_request", sample("SR-华东-1"))
    listed = run("approvals", "list", "SR-华东-1", "--url", url)
    assert "sample_request" in listed.output
    assert "sales_manager" in listed.output
    approved = run("approvals", "approve", "SR-华东-1", "--as", "李经理", "--point", "sample_request", "--url", url)
    assert approved.exit_code == 0, approved.output
    assert "SR-华东-1 is now approved" in approved.output
    status = run("approvals", "status", "SR-华东-1", "--point", "sample_request", "--json", "--url", url)
    assert json.loads(status.output)["state"] == "approved"
    store.close()
