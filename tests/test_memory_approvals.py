"""tests/test_approvals.py on the in-memory store: the same tests, a MemoryStore as ``store``.

The ladder, four eyes, digest binding, expiry, escalation and id normalisation behave alike on both
stores (tests/fixtures/stores.py). SQL only: the tests listed below, and those that need a database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import test_approvals
from fixtures.stores import memory_twins
from salesgate_adapters.store import ApprovalRules, MemoryStore
from test_approvals import declared_gate, gate, staff  # noqa: F401 - the fixtures, on this module's store

AUDIT = "asserts what the audit log (SQL's hash chain) recorded; a memory store keeps no audit log"
SQL_WRITES = "writes rows with SQL to stand for tampering or for rows an older salesgate wrote"
SQL_ONLY: dict[str, str] = {
    "test_members_lists_who_may_approve_alike_on_every_database": SQL_WRITES + " (a role row added with SQL)",
    "test_ids_stored_before_normalising_still_match": SQL_WRITES + " (ids stored un-normalised)",
    "test_reopening_an_expired_rung_voids_approvals_given_above_it": SQL_WRITES + " (rows an earlier version let "
                                                                     "through; the rule: tests/test_workflow.py)",
    "test_requests_voided_or_deleted_with_sql_never_approve": SQL_WRITES,
    "test_a_decision_asking_for_approval_never_answers_without_requests": SQL_WRITES + " (the second line of "
                                                                          "defence: tests/test_workflow.py)",
    "test_requests_escalate_then_expire": AUDIT,
    "test_blocking_an_order_voids_its_requests_and_unblocking_starts_afresh": AUDIT,
    "test_a_block_recorded_without_the_order_voids_approvals_too": AUDIT,
    "test_a_trailing_space_in_an_order_id_is_the_same_order_on_every_database": AUDIT,
    "test_full_width_letters_are_the_same_person": AUDIT,
    "test_opening_a_lower_rung_voids_the_approvals_above_it": AUDIT,
}

globals().update(memory_twins(test_approvals, SQL_ONLY))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(approvals=ApprovalRules(escalate_after=timedelta(hours=24), expire_after=timedelta(hours=72)))


@pytest.fixture
def short_store(store: MemoryStore) -> MemoryStore:
    """test_approvals' short store: the sales manager has one hour, the other rungs the default seven days.
    The same store as ``store`` (on which ``staff`` are granted their roles), as the SQL tests share a database."""
    store.approval_rules = ApprovalRules(expire_after_by_role={"sales_manager": timedelta(hours=1)})
    return store
