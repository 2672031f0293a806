"""A running gate takes a changed policy directory atomically, and only once it loads and passes its tests.

The policy here has one rule whose threshold moves between versions: an order of 60,000 is
allowed by version 1 (threshold 100,000) and needs the general manager under version 2
(threshold 50,000), so every decision shows by its outcome which policy made it, and must name
that same policy's hash.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from salesgate import Gate, Outcome
from salesgate import reload as reload_module
from salesgate.reload import PolicyReloader, content_hash

POLICY = """\
name: reload-test
version: "{version}"
roles: [sales_manager, general_manager]
"""
RULES = """\
ruleset: approval
hook: order_approval
version: "{version}"
rules:
  - id: large-order
    when: order.total >= {threshold}
    then:
      require: [general_manager]
      message: {{ zh: "订单金额 {label} 元以上需总经理审批", en: "Large order" }}
"""
CASES = """\
hook: order_approval
base:
  customer: {{ id: C1, name: 华东机电有限公司, credit_limit: 9000000 }}
  products: [ {{ sku: P1, name: 电机, list_price: 1000, cost: 600, stock: 100000 }} ]
  order: {{ id: SO-1, customer_id: C1, order_date: 2026-11-02,
           lines: [ {{ line_no: 1, sku: P1, qty: 10, unit_price: 1000 }} ] }}
cases:
  - name: 大额订单需总经理审批
    facts: {{ order: {{ lines: [ {{ line_no: 1, sku: P1, qty: {big_qty}, unit_price: 1000 }} ] }} }}
    expect: {{ outcome: require_approval, approvals: [general_manager], fired: [large-order] }}
  - name: a small order is allowed
    expect: {{ outcome: allow, not_fired: [large-order] }}
"""
ORDER_60K: dict[str, Any] = {
    "order": {"id": "SO-60K", "customer_id": "C1", "order_date": "2026-11-02",
              "lines": [{"line_no": 1, "sku": "P1", "qty": 60, "unit_price": "1000"}]},
    "customer": {"id": "C1", "name": "华东机电有限公司", "credit_limit": "9000000"},
}


def write_policy(directory: Path, version: str = "1", threshold: int = 100000, big_qty: int | None = None) -> Path:
    """A valid, tested policy whose one rule fires from ``threshold`` on."""
    (directory / "tests").mkdir(parents=True, exist_ok=True)
    label = f"{threshold // 10000} 万"
    (directory / "policy.yaml").write_text(POLICY.format(version=version), encoding="utf-8")
    (directory / "approval.yaml").write_text(
        RULES.format(version=version, threshold=threshold, label=label), encoding="utf-8")
    qty = big_qty if big_qty is not None else threshold // 1000
    (directory / "tests" / "approval.yaml").write_text(CASES.format(big_qty=qty), encoding="utf-8")
    return directory


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    return write_policy(tmp_path / "rules")


@pytest.fixture(params=["python", "durable"])
def gate(request: pytest.FixtureRequest, policy_dir: Path) -> Iterator[Gate]:
    with Gate.from_path(policy_dir, backend=request.param, entry_points=False) as built:
        yield built


@pytest.fixture
def python_gate(policy_dir: Path) -> Iterator[Gate]:
    with Gate.from_path(policy_dir, backend="python", entry_points=False) as built:
        yield built


def reloader_for(gate: Gate, path: Path, **options: Any) -> PolicyReloader:
    return PolicyReloader(gate, path, settle=0, **options)


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# -- what is taken ------------------------------------------------------------------------------------


def test_a_changed_valid_policy_replaces_the_running_one_and_decisions_name_it(gate: Gate, policy_dir: Path) -> None:
    old = gate.policy
    assert gate.approve_order(ORDER_60K).outcome is Outcome.allow
    write_policy(policy_dir, version="2", threshold=50000)

    result = reloader_for(gate, policy_dir).check_now()

    assert result.status == "reloaded", result.problems
    assert result.cases == 2
    assert gate.policy.hash != old.hash
    assert result.running == gate.policy.ref == result.candidate
    decision = gate.approve_order(ORDER_60K)
    assert decision.outcome is Outcome.require_approval
    assert (decision.policy.version, decision.policy.hash) == ("2", gate.policy.hash)
    assert decision.reasons[0].message == "订单金额 5 万 元以上需总经理审批"


def test_an_unchanged_directory_is_not_loaded_again(python_gate: Gate, policy_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    reloader = reloader_for(python_gate, policy_dir)
    first = reloader.check_now()
    loads: list[object] = []
    monkeypatch.setattr(reload_module, "load_policy", lambda path: loads.append(path))

    second = reloader.check_now()

    assert (first.status, first.message) == ("unchanged", f"same policy as running ({python_gate.policy.hash})")
    assert (second.status, second.message) == ("unchanged", "no change")
    assert loads == []


def test_a_change_to_the_tests_only_keeps_the_running_policy(python_gate: Gate, policy_dir: Path) -> None:
    reloader = reloader_for(python_gate, policy_dir)
    reloader.check_now()
    before = python_gate.policy
    cases = policy_dir / "tests" / "approval.yaml"
    cases.write_text(cases.read_text(encoding="utf-8") + "  # a comment\n", encoding="utf-8")

    result = reloader.check_now()

    assert result.status == "unchanged"
    assert python_gate.policy is before


def test_a_symlink_swapped_to_a_new_directory_is_read_from_the_new_side(python_gate: Gate, tmp_path: Path) -> None:
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "rules")
    reloader = reloader_for(python_gate, current)
    new = write_policy(tmp_path / "release-2", version="2", threshold=50000)
    swap = tmp_path / "current.new"
    swap.symlink_to(new)
    os.replace(swap, current)  # the atomic swap of docs/reloading.md

    result = reloader.check_now()

    assert result.status == "reloaded", result.problems
    assert result.source == str(new.resolve())
    assert python_gate.approve_order(ORDER_60K).policy.version == "2"


# -- what is never taken ---------------------------------------------------------------------------------


def assert_still_runs_version_1(gate: Gate) -> None:
    decision = gate.approve_order(ORDER_60K)
    assert (decision.outcome, decision.policy.version) == (Outcome.allow, "1")


def test_a_syntax_error_never_replaces_the_policy_and_is_reported_with_file_and_line(
    gate: Gate, policy_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_policy(policy_dir, version="2", threshold=50000)
    rules = policy_dir / "approval.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("order.total >= 50000", "order.total >== 50000"),
                     encoding="utf-8")
    reloader = reloader_for(gate, policy_dir)

    with caplog.at_level(logging.ERROR, logger="salesgate.reload"):
        result = reloader.check_now()

    assert result.status == "rejected"
    assert not result.ok
    assert result.running.version == "1"
    assert result.candidate is None
    assert any(f"{rules.resolve()}:6, rule 'large-order', field 'when'" in p for p in result.problems), result.problems
    assert reloader.last_rejected is result
    assert reloader.status is result
    [record] = caplog.records
    assert "rejected, still deciding by reload-test 1" in record.getMessage()
    assert "field 'when'" in record.getMessage()
    assert_still_runs_version_1(gate)


def test_a_policy_failing_its_own_test_never_replaces_the_running_one(gate: Gate, policy_dir: Path) -> None:
    write_policy(policy_dir, version="2", threshold=50000, big_qty=40)  # the case now expects 40,000 to need the GM

    result = reloader_for(gate, policy_dir).check_now()

    assert result.status == "rejected"
    assert (result.cases, result.failed) == (2, 1)
    assert result.candidate is not None
    assert result.candidate.version == "2"
    assert result.message == "1 test case of 2 failed"
    assert "'大额订单需总经理审批' (order_approval) failed:" in result.problems[0]
    assert "outcome: expected require_approval, got allow" in result.problems[0]
    assert_still_runs_version_1(gate)


def test_a_half_written_rule_file_never_replaces_the_running_policy(gate: Gate, policy_dir: Path) -> None:
    write_policy(policy_dir, version="2", threshold=50000)
    rules = policy_dir / "approval.yaml"
    data = rules.read_bytes()
    rules.write_bytes(data[: data.index(b"then:") + 3])  # the copy stopped in the middle of a line

    result = reloader_for(gate, policy_dir).check_now()

    assert result.status == "rejected"
    assert_still_runs_version_1(gate)


def test_a_directory_with_a_rule_file_missing_fails_its_tests(gate: Gate, policy_dir: Path) -> None:
    write_policy(policy_dir, version="2", threshold=50000)
    (policy_dir / "approval.yaml").unlink()  # a copy that has not reached this file yet

    result = reloader_for(gate, policy_dir).check_now()

    assert result.status == "rejected"
    assert_still_runs_version_1(gate)


def test_a_directory_still_changing_after_the_settle_time_is_not_read(
    python_gate: Gate, policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy(policy_dir, version="2", threshold=50000)
    copying = iter(range(1, 100))

    def sleep_while_a_copy_goes_on(seconds: float) -> None:
        (policy_dir / "zz-late.yaml").write_text(f"# still copying {next(copying)}\n", encoding="utf-8")

    monkeypatch.setattr(reload_module.time, "sleep", sleep_while_a_copy_goes_on)
    reloader = PolicyReloader(python_gate, policy_dir, settle=1.0)

    result = reloader.check_now()

    assert result.status == "unsettled"
    assert_still_runs_version_1(python_gate)
    monkeypatch.setattr(reload_module.time, "sleep", lambda seconds: None)
    (policy_dir / "zz-late.yaml").unlink()
    assert reloader.check_now().status == "reloaded"


def test_a_directory_changed_while_its_tests_run_is_not_taken(
    python_gate: Gate, policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy(policy_dir, version="2", threshold=50000)
    real_run_suite = reload_module.run_suite

    def run_suite_while_someone_edits(*args: Any, **kwargs: Any) -> Any:
        write_policy(policy_dir, version="3", threshold=70000)
        return real_run_suite(*args, **kwargs)

    monkeypatch.setattr(reload_module, "run_suite", run_suite_while_someone_edits)
    reloader = reloader_for(python_gate, policy_dir)

    result = reloader.check_now()

    assert result.status == "unsettled"
    assert_still_runs_version_1(python_gate)
    monkeypatch.setattr(reload_module, "run_suite", real_run_suite)
    assert reloader.check_now().status == "reloaded"
    assert python_gate.policy.version == "3"


def test_a_missing_directory_is_rejected_and_the_old_policy_keeps_deciding(python_gate: Gate, tmp_path: Path) -> None:
    result = reloader_for(python_gate, tmp_path / "nowhere").check_now()

    assert result.status == "rejected"
    assert result.message.startswith(f"cannot read {tmp_path / 'nowhere'}")
    assert_still_runs_version_1(python_gate)


def test_a_rejected_directory_is_not_tested_again_until_it_changes(
    python_gate: Gate, policy_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_policy(policy_dir, version="2", threshold=50000, big_qty=40)
    reloader = reloader_for(python_gate, policy_dir)
    with caplog.at_level(logging.ERROR, logger="salesgate.reload"):
        assert reloader.check_now().status == "rejected"
        assert reloader.check_now().status == "unchanged"
    assert len(caplog.records) == 1
    assert reloader.last_rejected is not None
    assert reloader.check_now(force=True).status == "rejected"

    write_policy(policy_dir, version="2", threshold=50000)
    assert reloader.check_now().status == "reloaded"
    assert reloader.last_rejected is None


def test_a_check_that_fails_unexpectedly_is_logged_once_not_on_every_poll(
    python_gate: Gate, policy_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_policy(policy_dir, version="2", threshold=50000)
    reloader = reloader_for(python_gate, policy_dir)

    def broken(path: Path, **options: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(reload_module, "load_policy", broken)
    with caplog.at_level(logging.ERROR, logger="salesgate"):
        first = reloader.check_now()
        assert (first.status, first.message) == ("rejected", "checking failed: RuntimeError: a bug")
        logged = len(caplog.records)  # the traceback and the rejection
        assert reloader.check_now().status == "unchanged"
        assert reloader.check_now().status == "unchanged"
    assert len(caplog.records) == logged
    assert_still_runs_version_1(python_gate)


def test_require_tests_rejects_a_policy_without_cases(python_gate: Gate, policy_dir: Path) -> None:
    write_policy(policy_dir, version="2", threshold=50000)
    (policy_dir / "tests" / "approval.yaml").unlink()

    result = reloader_for(python_gate, policy_dir, require_tests=True).check_now()

    assert result.status == "rejected"
    assert "no test cases" in result.message
    assert_still_runs_version_1(python_gate)


def test_checking_a_candidate_writes_nothing_to_the_audit_log(
    python_gate: Gate, policy_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_policy(policy_dir, version="2", threshold=50000)
    with caplog.at_level(logging.INFO, logger="salesgate.audit"):
        assert reloader_for(python_gate, policy_dir).check_now().status == "reloaded"
    assert [r for r in caplog.records if r.name == "salesgate.audit"] == []


def test_the_status_is_plain_json_for_a_health_endpoint(python_gate: Gate, policy_dir: Path) -> None:
    write_policy(policy_dir, version="2", threshold=50000, big_qty=40)
    reloader = reloader_for(python_gate, policy_dir)
    reloader.check_now()
    assert reloader.status is not None

    shown = json.loads(json.dumps(reloader.status.as_dict(), ensure_ascii=False))

    assert shown["status"] == "rejected"
    assert shown["ok"] is False
    assert shown["running"]["version"] == "1"
    assert shown["candidate"]["version"] == "2"
    assert shown["content_hash"] == content_hash(policy_dir)
    assert "大额订单需总经理审批" in shown["problems"][0]


def test_the_content_hash_changes_with_any_file_a_reload_reads(policy_dir: Path) -> None:
    before = content_hash(policy_dir)
    (policy_dir / "tests" / "more.yaml").write_text("hook: order_approval\n", encoding="utf-8")
    added = content_hash(policy_dir)
    (policy_dir / "notes.txt").write_text("not read by a reload\n", encoding="utf-8")

    assert len({before, added}) == 2
    assert content_hash(policy_dir) == added
    (policy_dir / "tables").mkdir()
    (policy_dir / "tables" / "prices.csv").write_text("id,x\n", encoding="utf-8")  # a decision table's rows
    with_table = content_hash(policy_dir)
    (policy_dir / "points").mkdir()
    (policy_dir / "points" / "review.yaml").write_text("point: review\n", encoding="utf-8")
    assert len({added, with_table, content_hash(policy_dir)}) == 3


@pytest.mark.parametrize(("option", "value"), [("interval", 0), ("settle", -1)])
def test_nonsense_timings_are_refused(python_gate: Gate, policy_dir: Path, option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        PolicyReloader(python_gate, policy_dir, **{option: value})


# -- atomicity under load ---------------------------------------------------------------------------


def test_decisions_during_reloads_are_each_wholly_old_or_wholly_new(gate: Gate, tmp_path: Path) -> None:
    """Eight threads decide while the policy flips between two releases by symlink swaps."""
    releases = {version: write_policy(tmp_path / f"release-{version}", version=version, threshold=threshold)
                for version, threshold in (("1", 100000), ("2", 50000))}
    current = tmp_path / "current"
    current.symlink_to(releases["1"])
    reloader = reloader_for(gate, current)
    stop = threading.Event()
    seen: list[tuple[str, str, Outcome, list[str], list[str]]] = []
    errors: list[BaseException] = []

    def decide() -> None:
        try:
            while not stop.is_set():
                d = gate.approve_order(ORDER_60K)
                seen.append((d.policy.version, d.policy.hash, d.outcome, d.required_roles, [r.rule for r in d.reasons]))
        except BaseException as exc:  # reported below: a thread's exception must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=decide) for _ in range(8)]
    for thread in threads:
        thread.start()
    hashes: dict[str, str] = {"1": gate.policy.hash}
    for flip in range(6):
        version = "2" if flip % 2 == 0 else "1"
        swap = tmp_path / "current.new"
        swap.symlink_to(releases[version])
        os.replace(swap, current)
        result = reloader.check_now()
        assert result.status == "reloaded", result.problems
        hashes[version] = gate.policy.hash
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    by_policy: dict[str, set[tuple[Outcome, tuple[str, ...], tuple[str, ...]]]] = {}
    for _, decided_by, outcome, roles, rules in seen:
        by_policy.setdefault(decided_by, set()).add((outcome, tuple(roles), tuple(rules)))
    assert by_policy == {
        hashes["1"]: {(Outcome.allow, (), ())},
        hashes["2"]: {(Outcome.require_approval, ("general_manager",), ("large-order",))},
    }
    assert {(version, decided_by) for version, decided_by, *_ in seen} == {("1", hashes["1"]), ("2", hashes["2"])}


# -- the polling thread -----------------------------------------------------------------------------


def reload_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("salesgate-reload")]


def test_the_polling_thread_picks_up_a_change_and_stops_without_leaking(python_gate: Gate, policy_dir: Path) -> None:
    reloader = PolicyReloader(python_gate, policy_dir, interval=0.05, settle=0)
    with reloader:
        assert reloader.running
        assert reload_threads()[0].daemon
        assert wait_for(lambda: reloader.status is not None)
        write_policy(policy_dir, version="2", threshold=50000)
        assert wait_for(lambda: python_gate.policy.version == "2")
    assert not reloader.running
    assert reload_threads() == []


def test_request_check_wakes_a_slow_poller_at_once(python_gate: Gate, policy_dir: Path) -> None:
    reloader = PolicyReloader(python_gate, policy_dir, interval=600, settle=0).start()
    try:
        assert wait_for(lambda: reloader.status is not None)
        write_policy(policy_dir, version="2", threshold=50000)
        reloader.request_check()
        assert wait_for(lambda: python_gate.policy.version == "2", seconds=10)
    finally:
        reloader.stop()
    assert reload_threads() == []


def test_start_twice_runs_one_thread_and_stop_twice_is_harmless(python_gate: Gate, policy_dir: Path) -> None:
    reloader = PolicyReloader(python_gate, policy_dir, interval=600, settle=0)
    reloader.start()
    reloader.start()
    assert len(reload_threads()) == 1
    reloader.stop()
    reloader.stop()
    assert reload_threads() == []


def test_gate_reload_takes_a_tested_directory_and_refuses_a_failing_one(python_gate: Gate, tmp_path: Path) -> None:
    good = write_policy(tmp_path / "good", version="2", threshold=50000)
    failing = write_policy(tmp_path / "failing", version="3", threshold=50000, big_qty=10)  # its case expects allow

    refused = python_gate.reload(failing)
    assert refused.status == "rejected"
    assert_still_runs_version_1(python_gate)

    taken = python_gate.reload(good)
    assert taken.status == "reloaded"
    assert python_gate.approve_order(ORDER_60K).policy.version == "2"


def test_a_swap_loses_to_a_policy_someone_else_put_in_after_the_reloader_looked(python_gate: Gate,
                                                                                tmp_path: Path) -> None:
    from salesgate.policy.compiler import load_policy

    first = python_gate.policy
    mine = load_policy(write_policy(tmp_path / "mine", version="2", threshold=50000))
    theirs = load_policy(write_policy(tmp_path / "theirs", version="3", threshold=70000))
    assert python_gate.replace_policy(theirs, if_current=first.hash) is True
    assert python_gate.replace_policy(mine, if_current=first.hash) is False  # stale: theirs stays
    assert python_gate.policy.version == "3"
