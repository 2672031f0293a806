"""The audit log: a hash chain of every decision and approval action; tampering is found and named.

Tamper and concurrency tests need a chain of their own: they use a fresh namespace per test
(``empty_database``) on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

from conftest import Database, namespace
from salesgate import Decision, Gate, Outcome, PolicyRef
from salesgate.cli import cli
from salesgate_adapters.store import ApprovalError, Store, acting_as, audit
from salesgate_adapters.store.audit import entry_hash
from salesgate_adapters.store.tables import approval_requests, audit_log, decisions, role_members
from test_store import order


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(empty_database: Database) -> Iterator[Store]:
    store = Store(empty_database.url, **empty_database.store_options())
    store.upgrade()
    yield store
    store.close()


def history(store: Store) -> None:
    """Six entries: a grant, a decision, an approval, a re-decision on an amended order (voids), a reject."""
    with Gate.default(backend="python", entry_points=False, store=store) as gate:
        store.grant_role("li", "sales_manager", by="admin")                       # 1
        with acting_as("wang"):
            gate.approve_order(order("SO-1", "C-1"))                               # 2
        store.approve("SO-1", "li", comment="可以")                                # 3
        with acting_as("wang"):
            gate.approve_order(order("SO-1", "C-1", amount="130000.00"))          # 4
        store.approve("SO-1", "li")                                                # 5
        store.grant_role("zhao", "general_manager")                                # 6
        store.reject("SO-1", "zhao", comment="价格太低")                            # 7


def test_every_decision_and_action_is_chained(store: Store) -> None:
    history(store)
    entries = store.audit_entries()
    assert [e.kind for e in entries] == ["role_granted", "decision", "approved", "decision", "approved",
                                         "role_granted", "rejected"]
    assert [e.seq for e in entries] == list(range(1, 8))
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    decision = entries[1]
    assert (decision.actor, decision.subject, decision.hook) == ("wang", "SO-1", "order_approval")
    assert decision.policy_hash == Gate.default(backend="python", entry_points=False).policy.hash
    assert decision.data["reasons"][0]["message"] == "订单金额 10 万元以上需销售经理和总经理审批"
    assert [v["role"] for v in entries[3].data["voided"]] == ["sales_manager", "general_manager"]
    report = store.verify_audit()
    assert (report.ok, report.entries, report.head_seq, report.head_hash) == (True, 7, 7, entries[-1].hash)


def sql(store: Store, *statements: str) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def swap(conn: Connection) -> None:
    for statement in ("UPDATE salesgate_audit_log SET seq = 1000 WHERE seq = 3",
                      "UPDATE salesgate_audit_log SET seq = 3 WHERE seq = 4",
                      "UPDATE salesgate_audit_log SET seq = 4 WHERE seq = 1000"):
        conn.execute(text(statement))


def insert_copy(conn: Connection, *, valid_hash: bool) -> None:
    """A forged entry appended at the end, linked to the last one; its hash made up, or computed as salesgate
    would (by someone who read the code): then only the head row gives it away."""
    last = conn.execute(text("SELECT * FROM salesgate_audit_log WHERE seq = 7")).mappings().one()
    forged = {**last, "seq": 8, "prev_hash": last["hash"], "hash": "f" * 64, "actor": "mallory"}
    if valid_hash:
        stored = next(e for e in Store(conn.engine).audit_entries() if e.seq == 7)
        forged["hash"] = entry_hash(8, stored.recorded_at, stored.kind, stored.subject, stored.hook, "mallory",
                                    stored.policy_hash, stored.content, stored.hash)
    conn.execute(text("INSERT INTO salesgate_audit_log (seq, recorded_at, kind, subject, hook, actor, policy_hash, "
                      "content, prev_hash, hash) VALUES (:seq, :recorded_at, :kind, :subject, :hook, :actor, "
                      ":policy_hash, :content, :prev_hash, :hash)"), forged)


def edit_decision(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":  # json has no REPLACE: go through text
        edited = "CAST(REPLACE(CAST(decision AS TEXT), 'require_approval', 'allow') AS JSON)"
    else:
        edited = "REPLACE(decision, 'require_approval', 'allow')"
    conn.execute(text("UPDATE salesgate_decisions SET decision = " + edited  # noqa: S608 - constant SQL
                      + " WHERE outcome = 'require_approval'"))


def forge_request(conn: Connection) -> None:
    """A finance approval nobody gave, added to the requests of the second decision (entry 4)."""
    conn.execute(text(
        "INSERT INTO salesgate_approval_requests (id, decision_id, hook, subject, role, position, status, created_at, "
        "updated_at, approval_digest, requested_by, acted_by, acted_at) SELECT 'forged-request', decision_id, hook, "
        "subject, 'finance', 3, 'approved', created_at, updated_at, approval_digest, requested_by, 'mallory', "
        "acted_at FROM salesgate_approval_requests WHERE status = 'rejected'"))


def forge_decision(conn: Connection) -> None:
    """An 'allow' decision of the amended order, dated like the real one (entry 4), never logged."""
    real = conn.execute(text("SELECT * FROM salesgate_decisions ORDER BY decided_at DESC")).mappings().first()
    assert real is not None
    conn.execute(text(
        "INSERT INTO salesgate_decisions (id, decided_at, hook, subject, outcome, policy_name, policy_version, "
        "policy_hash, inputs_digest, decision, backend, failure, approval_digest, actor) SELECT 'forged-decision', "
        "decided_at, hook, subject, 'allow', policy_name, policy_version, policy_hash, inputs_digest, decision, "
        "backend, failure, approval_digest, actor FROM salesgate_decisions WHERE id = :id"), {"id": real["id"]})


TAMPERING: dict[str, tuple[Callable[[Connection], Any], int, str]] = {
    "edited actor": (lambda c: c.execute(text("UPDATE salesgate_audit_log SET actor = 'li' WHERE seq = 7")), 7,
                     "entry 7 (rejected order_approval SO-1) does not match its hash"),
    "edited comment": (lambda c: c.execute(text(
        "UPDATE salesgate_audit_log SET content = REPLACE(content, '可以', '不行') WHERE seq = 3")), 3,
        "entry 3 (approved order_approval SO-1) does not match its hash"),
    "deleted in the middle": (lambda c: c.execute(text("DELETE FROM salesgate_audit_log WHERE seq = 4")), 4,
                              "entry 4 is missing"),
    "deleted at the end": (lambda c: c.execute(text("DELETE FROM salesgate_audit_log WHERE seq >= 6")), 6,
                           "the log ends at entry 5 but its head says 7: entries 6–7 were deleted"),
    "reordered": (swap, 3, "entry 3 (decision order_approval SO-1) does not match its hash"),
    "inserted with a made-up hash": (lambda c: insert_copy(c, valid_hash=False), 8,
                                     "entry 8 (rejected order_approval SO-1) does not match its hash"),
    "inserted with a valid hash": (lambda c: insert_copy(c, valid_hash=True), 8,
                                   "entry 8 was added after the head (entry 7): not written by salesgate"),
    "decision row edited": (edit_decision, 2, "(audit entry 2) was changed in salesgate_decisions"),
    # Only SQLite lets a JSON column hold invalid JSON (PostgreSQL's type and MariaDB's check refuse it).
    "decision row edited into invalid JSON": (lambda c: c.execute(text(
        "UPDATE salesgate_decisions SET decision = '{\"bad' WHERE outcome = 'require_approval'"))
        if c.dialect.name == "sqlite" else edit_decision(c), 2,
        "(audit entry 2) was changed in salesgate_decisions"),
    "decision outcome edited": (lambda c: c.execute(text(
        "UPDATE salesgate_decisions SET outcome = 'allow' WHERE outcome = 'require_approval'")), 2,
        "(audit entry 2) was changed in salesgate_decisions after it was logged (its outcome"),
    "decision row added": (forge_decision, 5, "has no audit entry (it would belong before entry 5): it was written "
                                              "outside salesgate"),
    "rejection turned into an approval": (lambda c: c.execute(text(
        "UPDATE salesgate_approval_requests SET status = 'approved' WHERE status = 'rejected'")), 7,
        "general_manager) is approved by zhao in salesgate_approval_requests, but rejected by zhao in the audit "
        "log (entry 7)"),
    "request row added": (forge_request, 4, "(order_approval SO-1, finance) is not among the requests decision"),
    "request row deleted": (lambda c: c.execute(text("DELETE FROM salesgate_approval_requests WHERE status = "
                                                     "'rejected'")), 4,
                            "the request of general_manager that decision"),
}


@pytest.mark.parametrize("how", TAMPERING)
def test_verify_names_the_first_tampered_entry(store: Store, how: str) -> None:
    history(store)
    assert store.verify_audit().ok
    tamper, bad, message = TAMPERING[how]
    with store.engine.begin() as conn:
        tamper(conn)
    report = store.verify_audit()
    assert not report.ok
    assert report.bad_seq == bad
    assert report.problem is not None
    assert message in report.problem


def test_an_approval_written_with_sql_is_found_and_never_counts(store: Store) -> None:
    """The review's repro: the sales manager approved, then the other steps were set to approved with SQL."""
    for user, role in (("li", "sales_manager"), ("qian", "finance"), ("zhao", "general_manager")):
        store.grant_role(user, role)                                                # 1-3
    facts = order("SO-9", "C-9", credit_rating="poor")                              # three steps
    with Gate.default(backend="python", entry_points=False, store=store) as gate, acting_as("wang"):
        gate.approve_order(facts)                                                   # 4
    store.approve("SO-9", "li")                                                     # 5
    assert store.verify_audit().ok
    assert store.approval_status("SO-9", order=facts).state == "pending"
    sql(store, "UPDATE salesgate_approval_requests SET status = 'approved', acted_by = 'gm' WHERE status = 'pending'")
    status = store.approval_status("SO-9", order=facts)
    assert (status.state, status.approved) == ("tampered", False)
    assert "is approved by gm in salesgate_approval_requests, but pending in the audit log (entry 4)" in status.detail
    assert not store.is_approved("SO-9", order=facts)
    report = store.verify_audit()
    assert (report.ok, report.bad_seq) == (False, 4)
    assert report.problem is not None
    assert "is approved by gm in salesgate_approval_requests, but pending in the audit log (entry 4)" in report.problem


def test_a_decision_changed_with_sql_is_found_and_never_counts(store: Store) -> None:
    facts = order("SO-8", "C-8")
    with Gate.default(backend="python", entry_points=False, store=store) as gate:
        gate.approve_order(facts)                                                   # 1: require_approval
    sql(store, "UPDATE salesgate_decisions SET outcome = 'allow'",
        "UPDATE salesgate_approval_requests SET status = 'void'")
    status = store.approval_status("SO-8", order=facts)
    assert (status.state, status.approved) == ("tampered", False)
    assert "was changed in salesgate_decisions after it was logged" in status.detail
    report = store.verify_audit()
    assert (report.ok, report.bad_seq) == (False, 1)


def test_rows_from_before_the_audit_log_are_left_alone(empty_database: Database) -> None:
    """A deployment upgraded from revision 0001 has decisions and requests no entry describes: no digest,
    older than the log, they can approve nothing, and verify does not report them."""
    store = Store(empty_database.url, **empty_database.store_options())
    store.upgrade("0001")
    old = datetime(2025, 6, 1, tzinfo=UTC)
    with store.engine.begin() as conn:
        conn.execute(insert(decisions).values(
            id="legacy-decision", decided_at=old, hook="order_approval", subject="SO-0", outcome="require_approval",
            policy_name="seed", policy_version="1", policy_hash="h" * 16, decision={}, backend="python"))
        conn.execute(insert(approval_requests).values(
            id="legacy-request", decision_id="legacy-decision", hook="order_approval", subject="SO-0",
            role="sales_manager", position=1, status="approved", created_at=old, updated_at=old))
    store.upgrade()
    history(store)
    assert store.verify_audit().ok
    assert not store.is_approved("SO-0")
    store.close()


def test_concurrent_writers_never_fork_the_chain(store: Store, empty_database: Database) -> None:
    """Eight threads, each with its own store (own connections), decide and approve at the same moment."""
    threads, per_thread = 8, 6
    start = threading.Barrier(threads)
    errors: list[BaseException] = []
    store.grant_role("approver", "sales_manager")

    def work(n: int) -> None:
        own = Store(empty_database.url, timeout=30, **empty_database.store_options())
        try:
            with Gate.default(backend="python", entry_points=False, store=own) as gate:
                start.wait()
                for i in range(per_thread):
                    order_id = f"SO-{n}-{i}"
                    with acting_as(f"clerk-{n}"):
                        gate.approve_order(order(order_id, f"C-{n}", amount="30000.00"))
                    own.approve(order_id, "approver")
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)
        finally:
            own.close()

    began = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    assert errors == []
    report = store.verify_audit()
    expected = 1 + threads * per_thread * 2
    print(f"\n{empty_database.backend}: {threads} threads appended {expected - 1} entries in {elapsed:.2f} s; "
          f"chain ok={report.ok}")
    assert (report.ok, report.entries) == (True, expected), report.problem
    entries = store.audit_entries()
    assert [e.seq for e in entries] == list(range(1, expected + 1))
    assert len({e.prev_hash for e in entries}) == expected  # no two entries claim the same predecessor


def rewrite_from(store: Store, first: int, old: str, new: str) -> None:
    """What someone who can write to the database and has read our code can do: change a column no
    row is compared with (here, text in entry ``first``'s content: the comment of an approval), then
    compute every hash from there on again, the head row's too."""
    stored = {e.seq: e for e in store.audit_entries()}
    prev = stored[first - 1].hash if first > 1 else audit.GENESIS
    with store.engine.begin() as conn:
        for seq in range(first, max(stored) + 1):
            e = stored[seq]
            content = e.content.replace(old, new) if seq == first else e.content
            digest = entry_hash(seq, e.recorded_at, e.kind, e.subject, e.hook, e.actor, e.policy_hash, content, prev)
            conn.execute(text("UPDATE salesgate_audit_log SET content = :content, prev_hash = :prev, hash = :hash "
                              "WHERE seq = :seq"), {"content": content, "prev": prev, "hash": digest, "seq": seq})
            prev = digest
        conn.execute(text("UPDATE salesgate_audit_head SET hash = :hash"), {"hash": prev})


def test_a_rewritten_log_is_found_by_a_hash_kept_elsewhere(store: Store) -> None:
    history(store)
    before = store.verify_audit()
    kept = {2: store.audit_entries()[1].hash, before.head_seq: before.head_hash[:12]}
    assert store.verify_audit(kept=kept).ok
    rewrite_from(store, 3, "可以", "不行")
    assert store.verify_audit().ok  # the chain alone cannot tell: every hash was computed again
    report = store.verify_audit(kept=kept)
    assert not report.ok
    assert report.bad_seq == 7  # entry 2 still matches: the rewrite began after it
    assert report.problem is not None
    assert "entry 7 (rejected order_approval SO-1) has hash" in report.problem
    assert "the log was rewritten from entry 7 or before" in report.problem


def test_a_log_cut_short_and_rewritten_is_found_by_a_hash_kept_elsewhere(store: Store) -> None:
    history(store)
    kept = {7: store.verify_audit().head_hash}
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM salesgate_audit_log WHERE seq >= 6"))
        conn.execute(text("UPDATE salesgate_audit_head SET seq = 5, hash = "
                          "(SELECT hash FROM salesgate_audit_log WHERE seq = 5)"))
    assert store.verify_audit(check_decisions=False).ok
    report = store.verify_audit(check_decisions=False, kept=kept)
    assert (report.ok, report.bad_seq) == (False, 7)
    assert report.problem == "entry 7 was kept, but the log ends at entry 5: entries were deleted and the log rewritten"


@pytest.mark.parametrize("kept", [{0: "a" * 64}, {3: "abc"}, {3: "not-a-hash-at-all"}, {3: "a" * 65},
                                  {"3": "a" * 64}, {True: "a" * 64}, {3: None}])
def test_a_malformed_kept_hash_is_refused(store: Store, kept: dict[Any, Any]) -> None:
    with pytest.raises(ValueError, match="12 to 64 hex characters"):
        store.verify_audit(kept=kept)


# -- command line -------------------------------------------------------------------------------------------------

def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    store = Store(url)
    store.upgrade()
    yield store, url
    store.close()


def test_cli_verify_exits_0_then_1_naming_the_entry(sqlite_store: tuple[Store, str]) -> None:
    store, url = sqlite_store
    history(store)
    good = run("audit", "verify", "--url", url)
    assert good.exit_code == 0
    assert good.output.startswith("audit log intact: 7 entries, last entry 7 (sha256 ")
    head = store.verify_audit().head_hash
    assert good.output.splitlines()[1] == f"keep this elsewhere and check it later: --kept 7:{head}"
    checked = run("audit", "verify", "--url", url, "--kept", f"7:{head[:12].upper()}")
    assert checked.exit_code == 0
    assert "kept hashes still match: entries 7" in checked.output
    for value in ("7", "²:" + "a" * 16, "7:" + "a" * 80, "0:" + "a" * 16):
        malformed = run("audit", "verify", "--url", url, "--kept", value)
        assert malformed.exit_code == 2
        assert malformed.output.splitlines() == [f"error: --kept {value!r}: expected ENTRY:SHA256, an entry number "
                                                 "≥ 1 and 12 to 64 hex characters of its hash, as 'salesgate audit "
                                                 "verify' prints them (e.g. 1042:9f86d081884c)"]
    rewrite_from(store, 3, "可以", "不行")
    rewritten = run("audit", "verify", "--url", url, "--kept", f"7:{head}")
    assert rewritten.exit_code == 1
    assert rewritten.output.startswith("audit log NOT intact: first bad entry 7: entry 7 (rejected order_approval "
                                       "SO-1) has hash ")
    rewrite_from(store, 3, "不行", "可以")  # put it back as it was: the rest of this test tampers differently
    assert run("audit", "verify", "--url", url, "--kept", f"7:{head}").exit_code == 0
    sql(store, "UPDATE salesgate_audit_log SET recorded_at = '2020-01-01 00:00:00.000000' WHERE seq = 5")
    bad = run("audit", "verify", "--url", url)
    assert bad.exit_code == 1
    assert bad.output.splitlines()[0] == ("audit log NOT intact: first bad entry 5: entry 5 (approved order_approval "
                                          "SO-1) does not match its hash: it was edited, moved or inserted")


@pytest.mark.parametrize("content", ["not json {", '{"comment": 5, "voided": ["x"], "role": 1}'])
def test_cli_show_flags_an_entry_edited_into_nonsense_and_goes_on(sqlite_store: tuple[Store, str],
                                                                  content: str) -> None:
    store, url = sqlite_store
    history(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE salesgate_audit_log SET content = :content WHERE seq = 5"), {"content": content})
    shown = run("audit", "show", "SO-1", "--url", url)
    assert shown.exit_code == 0
    assert "(content not as salesgate writes it)" in shown.output
    assert "!! this entry does not match its hash" in shown.output
    assert "#7" in shown.output  # the entries after it are still shown
    as_json = run("audit", "show", "SO-1", "--url", url, "--json")
    assert as_json.exit_code == 0
    fifth = next(e for e in json.loads(as_json.output) if e["seq"] == 5)
    assert fifth["intact"] is False
    assert fifth["content"] == (content if content.startswith("not") else json.loads(content))


def test_cli_show_explains_the_history_of_an_order(sqlite_store: tuple[Store, str]) -> None:
    store, url = sqlite_store
    history(store)
    shown = run("audit", "show", "SO-1", "--url", url)
    assert shown.exit_code == 0
    out = shown.output
    print(out)
    assert out.startswith("History of SO-1 (5 audit entries)")
    assert "decision  order_approval  require_approval  requested by wang" in out
    assert "reason: 订单金额 10 万元以上需销售经理和总经理审批 (large-order)" in out
    assert "policy salesgate-seed-policy 2026.11" in out
    assert "approved  order_approval  sales_manager, step 1, by li" in out
    assert "comment: 可以" in out
    assert "voided order_approval/sales_manager (approved by li): the order changed" in out
    assert "rejected  order_approval  general_manager, step 2, by zhao" in out
    assert "comment: 价格太低" in out
    assert out.rstrip().endswith("audit chain intact (7 entries in the whole log)")
    sql(store, "UPDATE salesgate_audit_log SET actor = 'nobody' WHERE seq = 3")
    flagged = run("audit", "show", "SO-1", "--url", url).output
    assert "!! this entry does not match its hash" in flagged
    assert "audit chain NOT intact: first bad entry 3" in flagged
    assert run("audit", "show", "SO-404", "--url", url).output == "no audit entries for SO-404\n"


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_an_approval_committed_during_verify_is_not_tampering(backend: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """verify reads the entries, then the rows: an approval committing in between must not look like an
    edit of the request row (both reads see one snapshot)."""
    with namespace(backend, tmp_path) as database:
        store = Store(database.url, **database.store_options())
        try:
            store.upgrade()
            store.grant_role("li", "sales_manager")
            with Gate.default(backend="python", entry_points=False, store=store) as gate, acting_as("wang"):
                gate.approve_order(order("SO-7", "C-7", credit_rating="poor"))
            original = audit._check_rows

            def racing(*args: Any) -> tuple[int, str] | None:
                approver = threading.Thread(target=lambda: store.approve("SO-7", "li"))
                approver.start()
                approver.join(30)
                return original(*args)

            monkeypatch.setattr(audit, "_check_rows", racing)
            report = store.verify_audit()
            assert (report.ok, report.problem, report.entries) == (True, None, 2)
            monkeypatch.undo()
            assert store.verify_audit().entries == 3  # the approval did commit
        finally:
            store.close()


# -- SQL edits of what an approval rests on: roles, requester, escalation, ladder ----------------------------------

def three_step_order(store: Store) -> dict[str, Any]:
    """Grants (entries 1-5), then wang (who also manages sales) asks for a three-step order (entry 6)."""
    for user, role in (("li", "sales_manager"), ("wang", "sales_manager"), ("qian", "finance"),
                       ("sun", "finance"), ("zhao", "general_manager")):
        store.grant_role(user, role, by="admin")
    facts = order("SO-9", "C-9", credit_rating="poor")  # sales_manager → finance → general_manager
    with Gate.default(backend="python", entry_points=False, store=store) as gate, acting_as("wang"):
        gate.approve_order(facts)
    assert store.verify_audit().ok
    return facts


def never_approved(store: Store, facts: dict[str, Any], found: str,
                   users: tuple[str, ...] = ("li", "wang", "qian", "sun", "zhao", "mallory")) -> None:
    """Whatever ``users`` try now, the order is not approved, and ``audit verify`` names the edit."""
    for user in users:
        with contextlib.suppress(ApprovalError):
            store.approve("SO-9", user)
    status = store.approval_status("SO-9", order=facts)
    assert not status.approved, status
    report = store.verify_audit()
    assert not report.ok
    assert report.problem is not None
    assert re.search(found, report.problem), report.problem


def test_a_role_member_added_with_sql_cannot_approve(store: Store) -> None:
    facts = three_step_order(store)
    with store.engine.begin() as conn:
        conn.execute(insert(role_members).values(role="sales_manager", user_id="mallory", granted_by="admin",
                                                 granted_at=datetime.now(UTC)))
    with pytest.raises(ApprovalError, match=r"no audit entry granted it"):
        store.approve("SO-9", "mallory")
    assert "sales_manager" not in store.roles_of("mallory")
    never_approved(store, facts, "salesgate_role_members says mallory holds sales_manager, but no audit entry "
                                 "granted it", users=("mallory",))
    assert store.approval_status("SO-9", order=facts).state == "pending"


def test_a_requester_erased_with_sql_still_cannot_approve(store: Store) -> None:
    facts = three_step_order(store)
    sql(store, "UPDATE salesgate_approval_requests SET requested_by = NULL")
    with pytest.raises(ApprovalError, match=r"requested by wang in the audit log .*run salesgate audit verify"):
        store.approve("SO-9", "wang")
    assert store.approval_status("SO-9", order=facts).state == "tampered"
    never_approved(store, facts, r"requested by nobody in salesgate_approval_requests, but requested by wang in the "
                                 r"audit log \(entry 6\)")


def test_an_escalation_redirected_with_sql_cannot_approve(store: Store) -> None:
    facts = three_step_order(store)
    store.approve("SO-9", "li")
    store.approve("SO-9", "qian")
    sql(store, "UPDATE salesgate_approval_requests SET escalate_to = 'finance', escalate_at = created_at "
               "WHERE role = 'general_manager'")
    with pytest.raises(ApprovalError, match=r"escalate.* in the audit log .*run salesgate audit verify"):
        store.approve("SO-9", "sun")  # finance signing the general manager's step
    assert store.approval_status("SO-9", order=facts).state == "tampered"
    never_approved(store, facts, r"general_manager\) escalates to finance at .* in salesgate_approval_requests, "
                                 r"but escalates to nobody at .* in the audit log \(entry 6\)")


def test_a_ladder_reordered_with_sql_cannot_approve(store: Store) -> None:
    facts = three_step_order(store)
    sql(store, "UPDATE salesgate_approval_requests SET position = 4 - position "
               "WHERE role IN ('sales_manager', 'general_manager')")
    moved = r"is step [13] in salesgate_approval_requests, but step [13] in the audit log \(entry 6\)"
    with pytest.raises(ApprovalError, match=moved + ": run salesgate audit verify"):
        store.approve("SO-9", "zhao")  # the general manager, now first
    assert store.approval_status("SO-9", order=facts).state == "tampered"
    never_approved(store, facts, moved)


@pytest.mark.parametrize(("how", "found"), [
    ("UPDATE salesgate_audit_log SET content = REPLACE(content, 'mallory', 'nobody') WHERE kind = 'role_revoked'",
     r"entry 10 \(role_revoked\) does not match its hash"),
    ("DELETE FROM salesgate_audit_log WHERE kind = 'role_revoked'",
     r"entry 10 is missing|holds 10 entries up to its head, entry 11"),
], ids=["revoke-edited", "revoke-deleted"])
def test_a_revoke_hidden_with_sql_gives_the_role_back_to_nobody(store: Store, how: str, found: str) -> None:
    """The revoke of mallory's role edited to name someone else, or deleted, and her row added back with SQL:
    her own entries alone would say she still holds the role."""
    facts = three_step_order(store)
    store.approve("SO-9", "li")
    store.approve("SO-9", "qian")
    store.grant_role("mallory", "general_manager", by="admin")    # entry 9
    store.revoke_role("mallory", "general_manager", by="admin")   # entry 10
    store.grant_role("zhou", "finance", by="admin")               # entry 11
    sql(store, how)
    with store.engine.begin() as conn:
        conn.execute(insert(role_members).values(role="general_manager", user_id="mallory", granted_by="admin",
                                                 granted_at=datetime.now(UTC)))
    with pytest.raises(ApprovalError, match=found + r".*: run salesgate audit verify"):
        store.approve("SO-9", "mallory")
    never_approved(store, facts, found, users=("mallory",))


def test_a_grant_appended_past_the_head_gives_no_role(store: Store) -> None:
    """A role row and its grant entry written with SQL, the entry's hash computed as salesgate would, the head
    row left alone: the grant is not salesgate's, and ``audit verify`` says so."""
    facts = three_step_order(store)
    when = datetime.now(UTC)
    with store.engine.begin() as conn:
        head = conn.execute(text("SELECT seq, hash FROM salesgate_audit_head")).one()
        content = json.dumps({"role": "sales_manager", "user": "mallory"}, sort_keys=True, separators=(",", ":"))
        conn.execute(insert(audit_log).values(
            seq=head.seq + 1, recorded_at=when, kind="role_granted", subject=None, hook=None, actor="admin",
            policy_hash=None, content=content, prev_hash=head.hash,
            hash=entry_hash(head.seq + 1, when, "role_granted", None, None, "admin", None, content, head.hash)))
        conn.execute(insert(role_members).values(role="sales_manager", user_id="mallory", granted_by="admin",
                                                 granted_at=when))
    with pytest.raises(ApprovalError, match=r"no audit entry granted it"):
        store.approve("SO-9", "mallory")
    assert store.roles_of("mallory") == []
    never_approved(store, facts, r"entry 7 was added after the head \(entry 6\)", users=("mallory",))


@pytest.mark.parametrize(("how", "found"), [
    ("UPDATE salesgate_decisions SET failure = 'timeout' WHERE outcome = 'block'",
     r"decision .* \(audit entry 2\) has failure 'timeout' in salesgate_decisions, but None in the audit log"),
    ("UPDATE salesgate_decisions SET decided_at = '2020-01-01 00:00:00' WHERE outcome = 'block'",
     r"decision .* \(audit entry 2\) was decided at 2020-01-01 00:00:00\+00:00 in salesgate_decisions, but at "),
    ("DELETE FROM salesgate_decisions WHERE outcome = 'block'",
     r"decision .* \(audit entry 2\) was deleted from salesgate_decisions"),
], ids=["made-a-fallback", "moved-back-in-time", "deleted"])
def test_a_block_hidden_with_sql_is_found(store: Store, how: str, found: str) -> None:
    """The order's latest decision blocks; made a fallback (passed over), moved before the allow it followed or
    deleted, the allow would count: the order went ahead (and for the first two ``audit verify`` saw nothing)."""
    facts = order("SO-7", "C-7", "1000.00")
    with Gate.default(backend="python", entry_points=False, store=store) as gate:
        gate.approve_order(facts)                                              # 1: allow
        gate.approve_order(order("SO-7", "C-7", "1000.00", status="blocked"))   # 2: block
    assert store.approval_status("SO-7", order=facts).state == "blocked"
    sql(store, how)
    status = store.approval_status("SO-7", order=facts)
    assert (status.state, status.approved) == ("tampered", False)
    assert re.search(found, status.detail), status.detail
    report = store.verify_audit()
    assert (report.ok, report.bad_seq) == (False, 2)
    assert re.search(found, report.problem or ""), report.problem


def test_an_approval_by_someone_never_granted_the_role_is_named(store: Store) -> None:
    """Written as an older salesgate would have let it through (a role row added with SQL, the approval
    appended to the chain with correct hashes, the row deleted again): the replayed grants give it away."""
    facts = three_step_order(store)
    [first] = [r for r in store.approval_requests("SO-9") if r.role == "sales_manager"]
    when = datetime.now(UTC)
    with store.engine.begin() as conn:
        conn.execute(approval_requests.update().where(approval_requests.c.id == first.id)
                     .values(status="approved", acted_by="mallory", acted_at=when, updated_at=when))
        audit.append(conn, "approved", {"request_id": first.id, "decision_id": first.decision_id,
                                        "role": "sales_manager", "as_role": "sales_manager", "position": 1,
                                        "approval_digest": first.approval_digest, "comment": None},
                     now=when, subject="SO-9", hook="order_approval", actor="mallory")
    assert store.approval_status("SO-9", order=facts).state == "pending"  # two steps still to go
    report = store.verify_audit()
    assert (report.ok, report.bad_seq) == (False, 7)
    assert report.problem == ("entry 7 (approved order_approval SO-9): mallory approved as sales_manager, a role "
                              "no audit entry had granted them")


def test_a_fallback_decision_verifies_and_erasing_its_failure_is_found(store: Store) -> None:
    """Its audit entry says only that salesgate could not decide (what failed may quote a host): the
    log still verifies, and a failure erased from the row with SQL (so the fallback would count as the
    policy's answer) is named."""
    failed = Decision(hook="order_approval", subject="SO-F", outcome=Outcome.block, backend="test",
                      policy=PolicyRef(name="t", version="1", hash="h" * 16),
                      failure="OperationalError: connection to server at db.internal:5432 failed")
    store.record(failed, None)
    assert store.verify_audit().ok
    sql(store, "UPDATE salesgate_decisions SET failure = NULL WHERE subject = 'SO-F'")
    report = store.verify_audit()
    assert (report.ok, report.bad_seq) == (False, 1)
    assert "has failure None in salesgate_decisions" in (report.problem or "")


def test_decisions_and_approvals_at_a_declared_point_are_audited(store: Store, empty_database: Database) -> None:
    """A declared point's decision (its outputs with their types), its approval and the chain over them."""
    policy = Path(__file__).parent / "fixtures" / "declared-policy"
    store.grant_role("李经理", "sales_manager", by="admin")
    facts = {"sample": {"id": "SR-审计-1", "customer_id": "C1", "value": "25000.00"},
             "customer": {"id": "C1", "name": "新客户", "credit_limit": "1000", "tenure_years": 5}}
    with Gate.from_path(policy, backend="python", entry_points=False, store=store) as gate, acting_as("录入员"):
        decision = gate.decide("sample_request", facts)
    assert decision.outputs == {"deposit": Decimal("0.2"), "freight": "prepaid"}
    store.approve("SR-审计-1", "李经理", hook="sample_request", comment="同意")
    kinds = [(e.kind, e.hook) for e in store.audit_entries("SR-审计-1")]
    assert kinds == [("decision", "sample_request"), ("approved", "sample_request")]
    (logged,) = store.decisions("SR-审计-1")
    assert logged.decision.outputs == decision.outputs
    assert store.verify_audit().ok
    if empty_database.backend != "sqlite":
        return  # the CLI reaches the other namespaces only through connect arguments it does not take
    url = empty_database.url.render_as_string(hide_password=False)
    shown = run("audit", "show", "SR-审计-1", "--url", url)
    assert shown.exit_code == 0, shown.output
    assert "sample_request" in shown.output
    assert "audit chain intact" in shown.output
    assert run("audit", "verify", "--url", url).exit_code == 0
