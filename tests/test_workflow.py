"""The workflow rules as pure functions: no database, no store, no clock.

The approval ladder (which requests a decision opens, voids and keeps; whose turn it is; four eyes),
expiry and escalation, the approval status, user ids, and reservation accounting (what counts, when a
re-check is a retry, which transitions are allowed). Both stores run these functions; the store
tests (tests/test_approvals.py, tests/test_reservations.py and their twins on the in-memory store)
check that they do.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from salesgate import (
    Approval,
    ApprovalError,
    ApprovalRequest,
    Decision,
    FactsError,
    Outcome,
    PolicyRef,
    RecordedDecision,
    Reservation,
    ReservationError,
    StoreError,
)
from salesgate.workflow import approvals as ladder
from salesgate.workflow import reservations as accounting
from salesgate.workflow.approvals import ApprovalRules
from salesgate.workflow.entries import log_entry
from salesgate.workflow.identities import acting_as, current_actor, stored_id, user_id

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
POLICY = PolicyRef(name="test", version="1", hash="h" * 16)
LADDER = ["sales_manager", "finance", "general_manager"]
RULES = ApprovalRules(escalate_after=timedelta(hours=24), expire_after=timedelta(hours=72))


def ids() -> Any:
    numbers = count(1)
    return lambda: f"r{next(numbers)}"


def decision(outcome: Outcome = Outcome.require_approval, roles: list[str] | None = None, *,
             hook: str = "order_approval", failure: str | None = None) -> Decision:
    wanted = LADDER if roles is None and outcome is Outcome.require_approval else roles or []
    return Decision(hook=hook, subject="SO-1", outcome=outcome, policy=POLICY, backend="test", failure=failure,
                    approvals=[Approval(role=role, rules=["r"]) for role in wanted])


def opened(digest: str = "d1", roles: list[str] | None = None, now: datetime = T0,
           requested_by: str | None = "clerk") -> list[ApprovalRequest]:
    plan = ladder.plan_requests(decision(roles=roles), "D1", digest, requested_by, [], RULES, now, new_id=ids())
    return plan.opened


def approve(requests: list[ApprovalRequest], role: str, user: str, now: datetime = T0) -> list[ApprovalRequest]:
    return [ladder.acted(r, "approve", user, role, None, now) if r.role == role else r for r in requests]


def choose(requests: list[ApprovalRequest], user: str, held: set[str], *, role: str | None = None,
           requesters: set[str] | None = None, rules: ApprovalRules = RULES) -> tuple[ApprovalRequest, str]:
    live = [r for r in requests if r.status in ladder.STANDING]
    return ladder.choose("approve", "SO-1", user, role=role, pending=ladder.pending_of(live, None), live=live,
                         held=held, forged=set(), requesters=lambda _r: requesters or set(), rules=rules)


# -- opening requests -----------------------------------------------------------------------------------------------

def test_a_decision_opens_one_pending_request_per_role_in_ladder_order() -> None:
    requests = opened()
    assert [(r.role, r.position, r.status) for r in requests] == [
        ("sales_manager", 1, "pending"), ("finance", 2, "pending"), ("general_manager", 3, "pending")]
    assert {r.requested_by for r in requests} == {"clerk"}
    assert requests[0].expires_at == T0 + timedelta(hours=72)
    assert [(r.escalate_at, r.escalate_to) for r in requests] == [
        (T0 + timedelta(hours=24), "finance"), (T0 + timedelta(hours=24), "general_manager"),
        (T0 + timedelta(hours=24), None)]


def test_a_block_opens_nothing_and_voids_the_hooks_requests_approved_ones_included() -> None:
    standing = approve(opened(), "sales_manager", "li")
    plan = ladder.plan_requests(decision(Outcome.block, ["sales_manager"]), "D2", "d1", None, standing, RULES, T0)
    assert plan.opened == []
    assert [(r.role, reason) for r, reason in plan.voided] == [
        (role, "the order is blocked: no approval lifts a block") for role in LADDER]


def test_a_fallback_changes_no_request() -> None:
    plan = ladder.plan_requests(decision(failure="down"), "D2", None, None, opened(), RULES, T0)
    assert (plan.opened, plan.voided, plan.kept) == ([], [], {})


def test_the_same_order_decided_again_keeps_its_requests_and_a_changed_one_voids_them() -> None:
    standing = approve(opened(), "sales_manager", "li")
    again = ladder.plan_requests(decision(), "D2", "d1", "clerk", standing, RULES, T0, new_id=ids())
    assert (again.opened, again.voided) == ([], [])
    assert set(again.kept) == set(LADDER)
    changed = ladder.plan_requests(decision(), "D2", "d2", "clerk", standing, RULES, T0, new_id=ids())
    assert [(r.role, reason) for r, reason in changed.voided] == [(role, "the order changed") for role in LADDER]
    assert [r.approval_digest for r in changed.opened] == ["d2"] * 3


def test_a_role_no_longer_required_is_voided() -> None:
    plan = ladder.plan_requests(decision(roles=["sales_manager"]), "D2", "d1", None, opened(), RULES, T0)
    assert [(r.role, reason) for r, reason in plan.voided] == [("finance", "no longer required"),
                                                               ("general_manager", "no longer required")]


def test_reopening_an_expired_lower_step_voids_the_approvals_given_above_it() -> None:
    standing = opened()
    standing = [replace(r, status="expired") if r.role == "sales_manager" else
                ladder.acted(r, "approve", "wang", r.role, None, T0) for r in standing]
    plan = ladder.plan_requests(decision(), "D2", "d1", "clerk", standing, RULES, T0 + timedelta(hours=1),
                                new_id=ids())
    assert [r.role for r in plan.opened] == LADDER
    assert [r.role for r, _ in plan.voided] == ["finance", "general_manager"]
    assert "the ladder approves in order" in plan.voided[0][1]


def test_a_rejection_of_this_very_order_stays_in_force() -> None:
    standing = [ladder.acted(r, "reject", "li", r.role, None, T0) if r.role == "sales_manager" else r
                for r in opened()]
    plan = ladder.plan_requests(decision(), "D2", "d1", "clerk", standing, RULES, T0)
    assert plan.rejected
    assert plan.opened == []
    assert ladder.rejected_in_force(standing, "d1")
    assert not ladder.rejected_in_force(standing, "d2")


# -- who may act, and when ------------------------------------------------------------------------------------------

def test_roles_act_only_in_ladder_order() -> None:
    requests = opened()
    with pytest.raises(ApprovalError, match=r"finance cannot act .* the ladder waits for sales_manager \(pending\)"):
        choose(requests, "zhao", {"finance"})
    request, acting_for = choose(requests, "li", {"sales_manager"})
    assert (request.role, acting_for) == ("sales_manager", "sales_manager")
    request, _ = choose(approve(requests, "sales_manager", "li"), "zhao", {"finance"})
    assert request.role == "finance"


def test_the_approver_must_hold_the_role_whose_turn_it_is() -> None:
    with pytest.raises(ApprovalError, match=r"'wu' does not hold the role sales_manager whose turn it is .*"
                                            r"salesgate approvals grant wu sales_manager"):
        choose(opened(), "wu", set())


def test_four_eyes_the_requester_never_approves() -> None:
    with pytest.raises(ApprovalError, match="'clerk' requested order 'SO-1' and cannot approve it"):
        choose(opened(), "clerk", {"sales_manager"})
    with pytest.raises(ApprovalError, match="cannot approve it"):  # asked for a decision of it, not the opener
        choose(opened(requested_by=None), "wang", {"sales_manager"}, requesters={"wang"})


def test_four_eyes_one_person_approves_at_most_one_step() -> None:
    requests = approve(opened(), "sales_manager", "li")
    with pytest.raises(ApprovalError, match="'li' already approved order 'SO-1' as sales_manager"):
        choose(requests, "li", {"sales_manager", "finance"})
    request, _ = choose(requests, "li", {"finance"}, rules=replace(RULES, distinct_approvers=False))
    assert request.role == "finance"


def test_an_expired_lower_step_holds_up_every_step_above_it() -> None:
    requests = [replace(r, status="expired") if r.role == "sales_manager" else r for r in opened()]
    with pytest.raises(ApprovalError, match=r"waits for sales_manager \(expired\) first: decide the order again"):
        choose(requests, "zhao", {"finance"})


def test_an_escalated_request_may_be_acted_on_by_the_role_it_escalated_to() -> None:
    requests = opened()
    with pytest.raises(ApprovalError, match="does not hold the role sales_manager"):
        choose(requests, "zhao", {"finance"}, role="sales_manager")
    escalated = [ladder.swept(r, "escalated", T0 + timedelta(hours=25)) for r in requests]
    request, acting_for = choose(escalated, "zhao", {"finance"}, role="sales_manager")
    assert (request.role, acting_for) == ("sales_manager", "finance")
    done = ladder.acted(request, "approve", "zhao", acting_for, None, T0 + timedelta(hours=26))
    assert done.status_reason == "acted for sales_manager as finance (escalated)"


def test_rejecting_voids_the_other_live_requests_of_the_hook_and_releases_the_credit() -> None:
    requests = opened()
    others = ladder.voided_by_rejection(requests[0], requests)
    assert [r.role for r in others] == ["finance", "general_manager"]
    assert ladder.releases_credit(requests[0])
    assert not ladder.releases_credit(replace(requests[0], hook="return_handling"))


def test_nothing_pending_says_what_happened_last() -> None:
    assert ladder.nothing_pending("SO-1", None, None) == "order 'SO-1' has no approval requests"
    expired = replace(opened()[0], status="expired", status_reason="not approved by 2026-11-26 09:00 UTC")
    assert ladder.nothing_pending("SO-1", None, expired).endswith(": decide the order again to reopen it")


# -- expiry and escalation -------------------------------------------------------------------------------------------

def test_a_pending_request_escalates_then_expires() -> None:
    request = opened()[0]
    assert ladder.sweep_change(request, T0 + timedelta(hours=23)) is None
    assert ladder.sweep_change(request, T0 + timedelta(hours=24)) == "escalated"
    escalated = ladder.swept(request, "escalated", T0 + timedelta(hours=24))
    assert escalated.escalated
    assert ladder.sweep_change(escalated, T0 + timedelta(hours=30)) is None
    assert ladder.sweep_change(escalated, T0 + timedelta(hours=72)) == "expired"
    expired = ladder.swept(escalated, "expired", T0 + timedelta(hours=72))
    assert (expired.status, expired.status_reason) == ("expired", "not approved by 2026-11-26 09:00 UTC")
    assert ladder.sweep_change(expired, T0 + timedelta(days=30)) is None


def test_expiry_wins_over_escalation_and_approved_requests_never_change() -> None:
    request = opened()[0]
    assert ladder.sweep_change(request, T0 + timedelta(days=8)) == "expired"
    assert ladder.sweep_change(approve([request], "sales_manager", "li")[0], T0 + timedelta(days=8)) is None


def test_escalation_goes_to_the_named_role_else_the_escalation_role_else_the_next_rung() -> None:
    rules = ApprovalRules(escalate_to={"finance": "cfo"}, escalation_role=None)
    assert rules.escalation("finance", LADDER, T0)[1] == "cfo"
    assert rules.escalation("sales_manager", LADDER, T0)[1] == "finance"
    assert ApprovalRules(escalation_role="boss").escalation("sales_manager", LADDER, T0)[1] == "boss"
    assert ApprovalRules(escalate_after=None).escalation("sales_manager", LADDER, T0) == (None, None)
    assert ApprovalRules(expire_after_by_role={"finance": None}).expires("finance", T0) is None
    with pytest.raises(ValueError, match="must be positive"):
        ApprovalRules(expire_after=timedelta(0))


# -- the approval status ---------------------------------------------------------------------------------------------

class Logged:
    """A logged decision as the status reads it."""

    def __init__(self, outcome: str, digest: str | None = "d1", hook: str = "order_approval",
                 failure: str | None = None) -> None:
        self.hook, self.outcome, self.approval_digest, self.failure = hook, outcome, digest, failure


def status(decisions: list[Logged], requests: list[ApprovalRequest], digest: str | None = "d1",
           now: datetime = T0) -> tuple[str, str]:
    found = ladder.approval_status("SO-1", digest, decisions, requests, now)
    return found.state, found.detail


def test_the_status_follows_the_ladder_to_approved() -> None:
    requests = opened()
    assert status([], [])[0] == "undecided"
    assert status([Logged("require_approval")], requests)[0] == "pending"
    for role, user in zip(LADDER, ["li", "zhao", "wu"], strict=True):
        requests = approve(requests, role, user)
    assert status([Logged("require_approval")], requests) == (
        "approved", "approved by sales_manager li, finance zhao, general_manager wu")
    assert status([Logged("allow")], [])[0] == "not_required"


def test_the_status_of_a_changed_stale_blocked_rejected_or_expired_order() -> None:
    requests = opened()
    assert status([Logged("require_approval")], requests, digest="d2")[0] == "changed"
    two_hooks = [Logged("require_approval"), Logged("allow", digest="d0", hook="credit_check")]
    assert status(two_hooks, requests)[0] == "stale"
    assert status([Logged("block")], [])[0] == "blocked"
    rejected = [ladder.acted(requests[0], "reject", "li", "sales_manager", None, T0), *requests[1:]]
    assert status([Logged("require_approval")], rejected)[0] == "rejected"
    assert status([Logged("require_approval")], requests, now=T0 + timedelta(hours=72))[0] == "expired"


def test_a_fallback_after_the_policys_decision_is_passed_over() -> None:
    logged = [Logged("require_approval"), Logged("block", digest=None, failure="down")]
    assert status(logged, opened())[0] == "pending"


def test_a_decision_asking_for_approval_never_answers_without_requests() -> None:
    state, detail = status([Logged("require_approval")], [])
    assert state == "pending"
    assert "order_approval requires approval" in detail


def test_a_store_that_finds_a_row_unbacked_answers_tampered() -> None:
    found = ladder.approval_status("SO-1", "d1", [Logged("require_approval")], opened(), T0,
                                   unbacked=lambda *_: "request r1 was changed with SQL")
    assert (found.state, found.approved) == ("tampered", False)


# -- user ids --------------------------------------------------------------------------------------------------------

def test_user_ids_are_stripped_nfc_and_full_width_folded_but_keep_their_case() -> None:
    assert user_id(" boss ") == "boss"
    assert user_id("Zoe\u0301") == "Zoé"
    assert user_id("ｌｉ\u3000ｎａ") == "li na"
    assert user_id("Li.Na") != user_id("li.na")
    assert stored_id("boss ") == "boss"
    assert stored_id(None) is None


@pytest.mark.parametrize(("value", "problem"), [("", "is empty"), ("   ", "only spaces"),
                                                 ("li\tna", "U+0009"), ("li\u200bna", "U+200B"),
                                                 ("li\u3164", "U+3164"), ("x" * 256, "1 to 255 characters")])
def test_empty_ids_invisible_characters_and_overlong_ids_are_refused(value: str, problem: str) -> None:
    with pytest.raises(ApprovalError, match=re.escape(problem)):
        user_id(value)


def test_acting_as_names_the_requester_inside_the_block_only() -> None:
    assert current_actor() is None
    with acting_as(" zhang.wei "):
        assert current_actor() == "zhang.wei"
    assert current_actor() is None


# -- reservation accounting ------------------------------------------------------------------------------------------

def held(order_id: str, amount: str, status: str = "reserved", *, expires: datetime = T0 + timedelta(hours=24),
         decision_id: str | None = "D1") -> Reservation:
    return Reservation(id=f"R-{order_id}", customer_id="C-1", order_id=order_id, amount=Decimal(amount),
                       status=status, outcome=Outcome.allow, created_at=T0, updated_at=T0, expires_at=expires,
                       policy_hash=POLICY.hash, decision_id=decision_id)


def test_only_reserved_holds_before_their_expiry_count() -> None:
    holds = [held("A", "600"), held("B", "100", "confirmed"), held("C", "50", "cancelled"),
             held("D", "25", expires=T0)]
    assert accounting.reserved_amount(holds, T0) == Decimal("600")
    assert accounting.reserved_amount(holds, T0 + timedelta(hours=24)) == Decimal(0)


def test_orders_the_erp_counts_already_are_left_out_of_the_sum() -> None:
    active = {"A": Decimal("600"), "B": Decimal("100")}
    assert accounting.counted_orders(["B", "X"], ["A", "B"]) == {"B", "X"}
    assert accounting.counted_orders(lambda ids: [i for i in ids if i == "A"], ["A", "B"]) == {"A"}
    assert accounting.counted_orders(lambda ids: pytest.fail("not asked without holds"), []) == set()
    assert accounting.uncounted_total(active, {"B"}) == Decimal("600")


def test_amounts_must_be_exact() -> None:
    assert accounting.checked_amount(Decimal("0")) == 0
    for wrong in (12.5, Decimal("-1")):
        with pytest.raises(ValueError, match="Decimal of at least 0"):
            accounting.checked_amount(wrong)  # type: ignore[arg-type]


def test_a_re_check_is_a_retry_only_for_the_same_amount_facts_answer_and_latest_check() -> None:
    existing = held("A", "600")
    answer = decision(Outcome.allow, hook="credit_check")
    recorded = RecordedDecision(id="D1", decided_at=T0, inputs_digest="f1", decision=answer)
    assert accounting.may_replay(existing, Decimal("600"), T0)
    assert not accounting.may_replay(existing, Decimal("601"), T0)  # an amended amount is decided again
    assert not accounting.may_replay(existing, Decimal("600"), T0 + timedelta(hours=24))  # expired
    assert accounting.may_replay(held("A", "600", "confirmed", expires=T0), Decimal("600"), T0)
    assert accounting.is_replay(existing, "D1", recorded, "f1", answer)
    assert not accounting.is_replay(existing, "D1", recorded, "f2", answer)  # other facts
    assert not accounting.is_replay(existing, "D9", recorded, "f1", answer)  # a later check spoke
    assert not accounting.is_replay(existing, "D1", recorded, "f1", decision(Outcome.block, hook="credit_check"))


def test_a_re_check_moves_the_hold_a_block_keeps_the_old_one_a_rejection_holds_nothing() -> None:
    existing = held("A", "600")
    common: dict[str, Any] = {"customer_id": "C-1", "order_id": "A", "amount": Decimal("700"), "decision_id": "D2",
                              "replayable": False, "ttl": timedelta(hours=24), "now": T0 + timedelta(hours=1)}
    moved, write = accounting.held_after(existing, decision=decision(Outcome.allow), refused=False, **common)
    assert write
    assert moved is not None
    assert (moved.id, moved.amount, moved.decision_id, moved.status) == ("R-A", Decimal("700"), "D2", "reserved")
    assert moved.expires_at == T0 + timedelta(hours=25)
    kept, write = accounting.held_after(existing, decision=decision(Outcome.block), refused=False, **common)
    assert (kept, write) == (existing, False)
    assert accounting.held_after(existing, decision=decision(Outcome.allow), refused=True, **common) == (None, False)
    confirmed = held("A", "700", "confirmed")
    stays, _ = accounting.held_after(confirmed, decision=decision(Outcome.allow), refused=False,
                                     **{**common, "replayable": True})
    assert stays is not None
    assert stays.status == "confirmed"


@pytest.mark.parametrize(("status", "to", "allowed"), [
    ("reserved", "confirmed", True), ("expired", "confirmed", True), ("cancelled", "confirmed", False),
    ("confirmed", "confirmed", True), ("reserved", "cancelled", True), ("confirmed", "cancelled", True),
    ("expired", "cancelled", True), ("cancelled", "cancelled", True)])
def test_which_transitions_are_allowed(status: str, to: str, allowed: bool) -> None:
    current = held("A", "600", status)
    if not allowed:
        with pytest.raises(ReservationError, match=f"is {status}; it cannot become {to}"):
            accounting.transition(current, to, T0)
        return
    after = accounting.transition(current, to, T0 + timedelta(minutes=1))
    assert after.status == to
    assert (after is current) == (status == to)  # idempotent: nothing changes the second time


def test_an_order_whose_latest_credit_check_blocks_is_not_confirmed() -> None:
    with pytest.raises(ReservationError, match=r"its latest credit check blocks \(decision D2\); re-check it"):
        accounting.transition(held("A", "600"), "confirmed", T0, latest_check=("D2", "block"))
    assert accounting.transition(held("A", "600"), "cancelled", T0, latest_check=("D2", "block")).status == "cancelled"
    checks = [RecordedDecision(id=f"D{i}", decided_at=T0, inputs_digest=None,
                               decision=decision(outcome, hook="credit_check", failure=failure))
              for i, (outcome, failure) in enumerate([(Outcome.allow, None), (Outcome.block, None),
                                                      (Outcome.block, "down")])]
    assert accounting.latest_credit_check(checks) == ("D1", "block")  # the fallback is passed over


def test_a_sweep_expires_only_reserved_holds_past_their_expiry() -> None:
    assert accounting.expires(held("A", "1", expires=T0), T0)
    assert not accounting.expires(held("A", "1"), T0)
    assert not accounting.expires(held("A", "1", "confirmed", expires=T0), T0)
    assert accounting.expired(held("A", "1", expires=T0), T0).status == "expired"


def test_a_store_may_narrow_its_rows_to_the_statuses_that_may_hold_and_miss_no_hold() -> None:
    for status in accounting.STATUSES:
        counts = held("SO-1", "100", status).counts(T0)
        assert counts == (status in accounting.MAY_HOLD), status
    assert not held("SO-1", "100", expires=T0).counts(T0)  # at its expiry a hold counts no more
    assert accounting.expires(held("SO-1", "100", expires=T0), T0)


def test_a_rejection_releases_only_a_reserved_hold_expired_by_time_or_not() -> None:
    assert accounting.released_by_rejection(held("SO-1", "100", expires=T0 - timedelta(hours=1)))
    assert not accounting.released_by_rejection(held("SO-1", "100", "confirmed"))
    assert not accounting.released_by_rejection(None)


def test_a_reservation_must_hold_for_some_time() -> None:
    assert accounting.checked_ttl(accounting.DEFAULT_TTL) == timedelta(hours=24)
    with pytest.raises(ValueError, match="reservation_ttl must be positive"):
        accounting.checked_ttl(timedelta(0))


def test_both_stores_log_a_decision_keyed_checked_and_digested_alike() -> None:
    facts = {"order": {"id": "SO-1", "customer_id": "C-1", "order_date": "2026-11-23",
                       "lines": [{"line_no": 1, "sku": "MOTOR-7", "qty": 1, "unit_price": "100"}]}}
    decision = Decision(hook="credit_check", subject="SO-1  ", outcome=Outcome.allow, policy=POLICY, backend="t")
    entry = log_entry(decision, facts, "clerk")
    assert entry.decision.subject == "SO-1"
    assert entry.approval_digest is not None
    assert entry.inputs_digest is not None
    fallback = log_entry(decision.model_copy(update={"failure": "timed out"}), facts, None)
    assert (fallback.approval_digest, fallback.inputs_digest) == (None, entry.inputs_digest)
    with pytest.raises(StoreError, match="actor must be 1 to 255 characters, got 256"):
        log_entry(decision, facts, "x" * 256)
    with pytest.raises(FactsError):
        log_entry(decision, {"customer": {}}, None)


# -- declared decision points ------------------------------------------------------------------------------------

def _declared_facts(**sample: Any) -> Any:
    from pathlib import Path

    from salesgate import load_policy

    spec = load_policy(Path(__file__).parent / "fixtures" / "declared-policy").point("sample_request")
    document = {"id": "SR-1", "customer_id": "C1", "value": "6000", "lines": [{"sku": "阀门", "qty": 2}], **sample}
    customer = {"id": "C1", "name": "华东", "credit_limit": "1000", "tenure_years": sample.pop("tenure", 3)}
    return spec.document.model_validate({"sample": document, "customer": customer})


def test_a_declared_documents_digest_is_of_its_values_not_their_spelling() -> None:
    from salesgate.workflow import approval_digest

    assert approval_digest(_declared_facts(value="6000")) == approval_digest(_declared_facts(value=Decimal("6000.00")))
    assert approval_digest(_declared_facts()) != approval_digest(_declared_facts(value="6000.01"))
    assert approval_digest(_declared_facts()) != approval_digest(_declared_facts(lines=[{"sku": "阀门", "qty": 3}]))
    assert approval_digest(_declared_facts()) != approval_digest(_declared_facts(id="SR-2"))


def test_a_declared_documents_digest_leaves_out_the_customer_it_includes() -> None:
    from salesgate.workflow import approval_digest

    older = _declared_facts()
    newer = older.model_copy(update={"customer": older.customer.model_copy(update={"tenure_years": 9})})
    assert approval_digest(older) == approval_digest(newer)


def test_declared_outputs_come_back_from_the_log_as_the_types_they_were_set_as() -> None:
    from datetime import date

    from salesgate.workflow.entries import OUTPUT_TYPES, decision_from_json, decision_json

    decision = Decision(hook="sample_request", subject="SR-1", outcome=Outcome.allow, policy=PolicyRef(
        name="p", version="1", hash="h"), backend="python", outputs={"deposit": Decimal("0.3"),
                                                   "ship_by": date(2026, 12, 1),
                                                   "freight": "collect", "rush": True, "boxes": 3})
    logged = decision_json(decision)
    assert logged[OUTPUT_TYPES] == {"deposit": "decimal", "ship_by": "date"}
    assert decision_from_json(logged) == decision
    plain = decision.model_copy(update={"outputs": {"freight": "collect"}})
    assert decision_json(plain) == plain.model_dump(mode="json")  # nothing added where nothing needs it


def test_only_the_order_points_share_a_document() -> None:
    assert ladder.same_document("order_approval", "credit_check")
    assert ladder.same_document("shipment_release", "shipment_release")
    assert not ladder.same_document("order_approval", "shipment_release")
    assert not ladder.same_document("return_handling", "order_approval")
