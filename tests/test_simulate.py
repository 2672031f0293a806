"""``salesgate simulate``: bulk replays agree with the Gate, and the report counts what changed."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.strategies import order_facts, return_facts
from salesgate import Gate, OrderFacts, Outcome, ReturnFacts, bulk, simulation
from salesgate.bulk import Replayer
from salesgate.cli import cli
from salesgate.documents import FieldType
from salesgate.facts import order_factset
from salesgate.history import HistoryFact, Replay
from salesgate.points import DecisionPoint
from salesgate.pointspecs import ORDER_POINTS
from salesgate.policy.compiler import load_policy
from salesgate.policy.verdict import fired_in_order
from salesgate.seed import seed_policy_path
from salesgate.simulation import history_of, simulate
from salesgate.simulation_report import as_html, as_json
from salesgate.windows import parse_window

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gate() -> Any:
    with Gate.default(backend="python", entry_points=False) as g:
        yield g


@pytest.fixture(scope="module")
def replayer(gate: Gate) -> Replayer:
    return Replayer(gate.policy)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=order_facts(), hook=st.sampled_from(ORDER_POINTS))
def test_a_replayed_order_gets_the_gates_outcome_approvals_rules_and_prices(
        gate: Gate, replayer: Replayer, facts: OrderFacts, hook: DecisionPoint) -> None:
    decision = gate.decide(hook, facts)
    verdict = replayer.order(hook, facts, replayer.order_factset(facts))
    assert verdict.outcome == decision.outcome
    assert list(verdict.roles) == decision.required_roles
    assert list(verdict.rules) == list(dict.fromkeys(decision.fired))
    if hook == "pricing":
        assert decision.pricing is not None
        assert verdict.prices == tuple(line.policy_price for line in decision.pricing.lines)
        assert verdict.revenue == decision.pricing.policy_total


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=return_facts())
def test_a_replayed_return_gets_the_gates_outcome_and_refund(gate: Gate, replayer: Replayer,
                                                            facts: ReturnFacts) -> None:
    decision = gate.handle_return(facts)
    verdict = replayer.return_(facts, replayer.return_factset(facts))
    assert (verdict.outcome, list(verdict.roles)) == (decision.outcome, decision.required_roles)
    assert decision.returns is not None
    assert verdict.refund == decision.returns.refund_amount


def test_a_replayer_that_replayed_many_orders_decides_each_as_a_fresh_replayer_and_the_gate(gate: Gate) -> None:
    """A replayer keeps what a set of matched rules comes to, and a line's policy price by its base price
    and the formula-free rules that changed it: neither may change a figure. Equal list prices written
    at another scale (100, 100.0, 100.00) price alike; grades and regions fire other rules."""
    warm = Replayer(gate.policy)
    seen = 0
    for price in ("100", "100.0", "100.00", "100", "2508.07", "2508.07"):
        for grade, region_has_distributor, qty in (("A", True, 150), ("B", False, 3), ("C", True, 3), ("A", False, 2)):
            doc = _order(seen, price, grade=grade)
            doc["customer"]["region_has_distributor"] = region_has_distributor
            doc["order"]["lines"] = [{"line_no": 1, "sku": "P1", "qty": qty, "unit_price": price},
                                     {"line_no": 2, "sku": "P2", "qty": 1, "unit_price": "80"},
                                     {"line_no": 3, "sku": "P1", "qty": 1, "unit_price": "1"}]
            doc["products"][0]["list_price"] = price
            facts = OrderFacts.model_validate(doc)
            seen += 1
            for hook in ORDER_POINTS:
                fresh = Replayer(gate.policy)
                decided = warm.order(hook, facts, warm.order_factset(facts))
                assert decided == fresh.order(hook, facts, fresh.order_factset(facts))
                decision = gate.decide(hook, facts)
                assert (decided.outcome, list(decided.roles)) == (decision.outcome, decision.required_roles)
                if hook == "pricing":
                    assert decision.pricing is not None
                    assert decided.prices == tuple(line.policy_price for line in decision.pricing.lines)
                    assert decided.revenue == decision.pricing.policy_total
    assert warm._prices  # the prices above were taken from the cache, not only worked out


# -- whole simulations ----------------------------------------------------------------------------

def _order(i: int, total: str, *, customer: str = "华东机电有限公司", grade: str = "B") -> dict[str, Any]:
    return {
        "order": {"id": f"SO-{i}", "customer_id": "C1", "order_date": "2026-03-01", "channel": "written",
                  "written_confirmation": True, "payment_method": "transfer", "payment_terms_days": 30,
                  "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": total}]},
        "customer": {"id": "C1", "name": customer, "grade": grade, "credit_limit": "10000000",
                     "payment_terms_days": 30},
        "products": [{"sku": "P1", "list_price": total, "cost": str(Decimal(total) / 2), "stock": 10}],
    }


def _return(i: int, days: int) -> dict[str, Any]:
    return {"return": {"id": f"RT-{i}", "customer_id": "C1", "type": "return", "reason": "not_needed",
                       "original_order_id": "SO-0", "sku": "P1", "qty": 1, "unit_price": "100",
                       "delivered_qty": 5, "days_since_delivery": days},
            "customer": {"id": "C1", "name": "Northwind"}}


def _write(path: Path, documents: list[dict[str, Any] | str]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for doc in documents:
            out.write((doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False)) + "\n")
    return path


@pytest.fixture
def lower_threshold(tmp_path: Path) -> Path:
    """The seed policy with the general manager's threshold lowered from 100,000 to 80,000."""
    target = tmp_path / "candidate"
    shutil.copytree(seed_policy_path(), target, ignore=shutil.ignore_patterns("tests"))
    rules = target / "order-approval-ladder.yaml"  # the ladder is a unique table: both bands move together
    text = rules.read_text(encoding="utf-8")
    assert text.count('order.total: ">= 100000"') == text.count('"[20000..100000)"') == 1
    rules.write_text(text.replace('">= 100000"', '">= 80000"').replace('"[20000..100000)"', '"[20000..80000)"'),
                     encoding="utf-8")
    return target


@pytest.fixture
def history(tmp_path: Path) -> Path:
    docs: list[dict[str, Any] | str] = [_order(1, "50000"), _order(2, "85000"), _order(3, "90000.50"),
                                        _order(4, "120000"), _return(1, 10), _return(2, 95)]
    return _write(tmp_path / "history.jsonl", docs)


def test_lowering_a_threshold_reports_the_orders_that_now_need_the_general_manager(
        lower_threshold: Path, history: Path) -> None:
    report = simulate(seed_policy_path(), lower_threshold, history, workers=1)
    approval = report.tally.hooks["order_approval"]
    assert (report.tally.orders, report.tally.returns, approval.decided) == (4, 2, 4)
    assert approval.changed == 2  # 85,000 and 90,000.50; 50,000 and 120,000 decide as before
    assert approval.roles_before["general_manager"] == 1
    assert approval.roles_after["general_manager"] == 3
    assert approval.roles_gained == {"general_manager": 2}
    assert [c.subject for c in approval.examples] == ["SO-2", "SO-3"]
    assert [c.line for c in approval.examples] == [2, 3]
    assert report.tally.hooks["credit_check"].changed == 0
    assert report.tally.hooks["return_handling"].changed == 0
    assert report.tally.hooks["return_handling"].outcomes_after["block"] == 1  # 95 days after delivery


def test_the_report_does_not_depend_on_how_many_workers_replayed_it(lower_threshold: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    docs: list[dict[str, Any] | str] = []
    for i in range(300):
        docs.append(_order(i, str(20000 + 997 * i), grade="ABC"[i % 3]))
        if i % 7 == 0:
            docs.append(_return(i, i % 120))
    source = _write(tmp_path / "many.jsonl", docs)
    monkeypatch.setattr("salesgate.simulation.RANGE_BYTES", 4096)  # many ranges, so both workers get some
    alone = as_json(simulate(seed_policy_path(), lower_threshold, source, workers=1))
    shared = as_json(simulate(seed_policy_path(), lower_threshold, source, workers=2))
    for report in (alone, shared):
        report.pop("seconds")
        report.pop("workers")
    assert alone == shared
    assert alone["hooks"]["order_approval"]["changed"] > 0


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="workers inherit the pair when forked")
def test_forked_workers_replay_with_the_policies_the_simulation_loaded_not_loading_them_again(
        lower_threshold: Path, history: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulating, load = os.getpid(), simulation._load

    def load_here_only(path: str | Path) -> Any:
        if os.getpid() != simulating:
            raise AssertionError("a worker loaded a policy again")
        return load(path)
    monkeypatch.setattr(simulation, "_load", load_here_only)
    report = as_json(simulate(seed_policy_path(), lower_threshold, history, workers=2))
    assert report["hooks"]["order_approval"]["decided"] == 4
    assert not simulation._PREPARED  # nothing kept once the simulation is over


def test_pricing_changes_show_revenue_and_margin_at_policy_prices(tmp_path: Path, history: Path) -> None:
    target = tmp_path / "cheaper"
    shutil.copytree(seed_policy_path(), target, ignore=shutil.ignore_patterns("tests"))
    pricing = target / "pricing.yaml"
    text = pricing.read_text(encoding="utf-8")
    assert text.count("discount: 2%") == 1  # grade B
    pricing.write_text(text.replace("discount: 2%", "discount: 4%"), encoding="utf-8")
    report = simulate(seed_policy_path(), target, history, workers=1, hooks=["pricing"])
    tally = report.tally.hooks["pricing"]
    list_total = Decimal("50000") + Decimal("85000") + Decimal("90000.50") + Decimal("120000")
    assert tally.revenue_before == (list_total * Decimal("0.98")).quantize(Decimal("0.01"))
    assert tally.revenue_after == (list_total * Decimal("0.96")).quantize(Decimal("0.01"))
    assert tally.cost == (list_total / 2).quantize(Decimal("0.01"))  # each product costs half its list price
    assert tally.margin_after == tally.revenue_after - tally.cost
    assert set(report.tally.hooks) == {"pricing"}


def test_an_order_a_price_rule_cannot_price_is_replayed_as_the_gate_answers_it(tmp_path: Path, history: Path) -> None:
    """A candidate whose set_price takes one order's price past what a price may be: the whole
    simulation stopped with 'error: invalid policy: 1 problem' (the policy validates); the gate
    answers that order by the failure mode, and so does the replay. Margin counts the orders whose
    revenue it counts."""
    target = tmp_path / "steep"
    shutil.copytree(seed_policy_path(), target, ignore=shutil.ignore_patterns("tests"))
    with (target / "pricing.yaml").open("a", encoding="utf-8") as rules:
        rules.write("\n  - id: steep\n    scope: line\n    when: line.unit_price > 100000\n    priority: 99\n"
                    '    then: { set_price: "line.unit_price * 10000000000" }\n')
    report = simulate(seed_policy_path(), target, history, workers=1, hooks=["pricing"])
    tally = report.tally.hooks["pricing"]
    assert [(c.subject, c.after.outcome) for c in tally.examples] == [("SO-4", Outcome.block)]  # 120,000
    assert tally.blocked_after == Decimal("120000")
    kept = Decimal("50000") + Decimal("85000") + Decimal("90000.50")
    assert tally.revenue_after == (kept * Decimal("0.98")).quantize(Decimal("0.01"))
    assert tally.cost == (kept / 2).quantize(Decimal("0.01"))
    with Gate.from_path(target, backend="python", entry_points=False) as gate:
        facts = OrderFacts.model_validate(_order(4, "120000"))
        decision = gate.price_order(facts)
        verdict = Replayer(gate.policy).order("pricing", facts, Replayer(gate.policy).order_factset(facts))
    assert decision.failure is not None
    assert (verdict.outcome, list(verdict.roles), list(verdict.rules)) == (
        decision.outcome, decision.required_roles, decision.fired)


def test_identical_policies_change_nothing(history: Path) -> None:
    report = simulate(seed_policy_path(), seed_policy_path(), history, workers=1)
    assert all(t.changed == 0 and not t.examples for t in report.tally.hooks.values())


def test_lines_that_are_not_facts_are_reported_with_their_line_number(tmp_path: Path,
                                                                      lower_threshold: Path) -> None:
    source = _write(tmp_path / "broken.jsonl", [_order(1, "100"), "{not json", "",
                                                 json.dumps({"order": {"id": "SO-9"}}), _return(1, 5)])
    report = simulate(seed_policy_path(), lower_threshold, source, workers=1)
    assert report.tally.invalid == 2
    assert [bad.line for bad in report.tally.invalid_examples] == [2, 4]
    assert "not JSON" in report.tally.invalid_examples[0].message
    assert "order." in report.tally.invalid_examples[1].message
    assert (report.tally.orders, report.tally.returns) == (1, 1)


def test_a_history_saved_with_a_bom_and_crlf_keeps_its_first_line(tmp_path: Path, lower_threshold: Path) -> None:
    source = tmp_path / "windows.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(json.dumps(d, ensure_ascii=False)
                                                        for d in (_order(1, "85000"), _return(1, 5))).encode())
    report = simulate(seed_policy_path(), lower_threshold, source, workers=1)
    assert (report.tally.invalid, report.tally.orders, report.tally.returns) == (0, 1, 1)


def test_amounts_written_as_json_numbers_are_read_exactly_as_decide_reads_them(tmp_path: Path,
                                                                               lower_threshold: Path) -> None:
    """99999999999999.99 through a binary float is 99999999999999.98: over the limit by a cent."""
    order = _order(1, "1000")
    order["customer"]["credit_limit"] = "LIMIT"
    order["exposure"] = {"open_receivables": "99999999998999.99"}
    line = json.dumps(order).replace('"LIMIT"', "99999999999999.99")
    report = simulate(seed_policy_path(), lower_threshold, _write(tmp_path / "exact.jsonl", [line]), workers=1)
    credit = report.tally.hooks["credit_check"]
    assert credit.outcomes_before == {"allow": 1}  # exposure + order = the limit exactly: not over it


def test_a_quantity_beyond_a_billion_is_an_invalid_line_not_a_crash(tmp_path: Path, lower_threshold: Path) -> None:
    huge = _order(2, "100")
    huge["order"]["lines"][0]["qty"] = 10**30
    source = _write(tmp_path / "huge.jsonl", [_order(1, "100"), huge])
    report = simulate(seed_policy_path(), lower_threshold, source, workers=1)
    assert (report.tally.orders, report.tally.invalid) == (1, 1)
    assert f"order.lines.0.qty: must be at most 1000000000, not {10**30}" in \
        report.tally.invalid_examples[0].message


def test_the_html_report_is_one_self_contained_page_with_charts(lower_threshold: Path, history: Path) -> None:
    page = as_html(simulate(seed_policy_path(), lower_threshold, history, workers=1))
    assert page.startswith("<!doctype html>")
    assert page.rstrip().endswith("</html>")
    assert page.count("<svg") >= 5  # outcomes per hook, approvals per role, money
    assert "general_manager" in page
    assert "SO-2" in page
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_cli_simulate_prints_tables_writes_html_and_json(lower_threshold: Path, history: Path,
                                                         tmp_path: Path) -> None:
    runner = CliRunner()
    page = tmp_path / "what-if.html"
    result = runner.invoke(cli, ["simulate", "--rules", str(lower_threshold), "--orders", str(history),
                                 "--html", str(page), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "approvals needed, per role" in result.output
    assert "[sales_manager]" in result.output  # roles are data, not rich markup (the column may wrap before them)
    assert all(line == line.rstrip() for line in result.output.splitlines())
    assert "general_manager" in result.output
    assert "+2" in result.output
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    result = runner.invoke(cli, ["simulate", "--rules", str(lower_threshold), "--orders", str(history), "--json",
                                 "--workers", "1", "--hooks", "order_approval"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["hooks"]["order_approval"]["approvals"]["gained"] == {"general_manager": 2}
    assert list(data["hooks"]) == ["order_approval"]


def test_cli_simulate_refuses_bad_input_with_one_line(lower_threshold: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["simulate", "--rules", str(lower_threshold), "--orders", str(tmp_path / "no.jsonl")])
    assert missing.exit_code == 2
    assert "no such file" in missing.output
    assert "Traceback" not in missing.output
    broken = _write(tmp_path / "broken.jsonl", [_order(1, "100"), "{oops"])
    result = runner.invoke(cli, ["simulate", "--rules", str(lower_threshold), "--orders", str(broken),
                                 "--workers", "1"])
    assert result.exit_code == 2
    assert f"{broken}:2: not JSON" in result.output
    skipped = runner.invoke(cli, ["simulate", "--rules", str(lower_threshold), "--orders", str(broken),
                                  "--workers", "1", "--skip-invalid"])
    assert skipped.exit_code == 0
    bad_policy = tmp_path / "bad"
    shutil.copytree(lower_threshold, bad_policy)
    broken_rules = "ruleset: credit\nhook: credit_check\nrules:\n  - id: x\n    when: nope >\n"
    (bad_policy / "credit.yaml").write_text(broken_rules, encoding="utf-8")
    invalid = runner.invoke(cli, ["simulate", "--rules", str(bad_policy), "--orders", str(broken)])
    assert invalid.exit_code == 2
    assert "credit.yaml" in invalid.output
    assert "Traceback" not in invalid.output


def test_a_candidate_that_changes_nothing_in_a_hook_is_replayed_once_for_both(lower_threshold: Path) -> None:
    from salesgate.simulation import _same_rules

    baseline, candidate = load_policy(seed_policy_path()), load_policy(lower_threshold)
    assert not _same_rules(baseline, candidate, "order_approval")
    assert all(_same_rules(baseline, candidate, h) for h in ("credit_check", "pricing", "return_handling"))


def test_the_history_lines_in_the_docs_replay_as_one_order_and_one_return(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "simulate.md").read_text(encoding="utf-8")
    block = text.split("```json\n", 1)[1].split("```", 1)[0]
    source = tmp_path / "docs.jsonl"
    source.write_text(block, encoding="utf-8")
    report = simulate(seed_policy_path(), seed_policy_path(), source, workers=1)
    assert (report.tally.orders, report.tally.returns, report.tally.invalid) == (1, 1, 0)


def test_facts_dumped_from_the_gate_are_a_valid_history_line(gate: Gate, tmp_path: Path) -> None:
    order = gate.facts_for("order_approval", _order(7, "1234.50"))
    returned = gate.facts_for("return_handling", _return(7, 3))
    source = tmp_path / "dumped.jsonl"
    source.write_text(order.model_dump_json() + "\n" + returned.model_dump_json() + "\n", encoding="utf-8")
    report = simulate(seed_policy_path(), seed_policy_path(), source, workers=1)
    assert (report.tally.orders, report.tally.returns, report.tally.invalid) == (1, 1, 0)


# -- documents of a point a policy declares (tests/fixtures/declared-policy: sample_request) --------

DECLARED = ROOT / "tests" / "fixtures" / "declared-policy"


def _sample(number: int, value: str, tenure: int | None = None, qty: int = 1) -> dict[str, Any]:
    customer: dict[str, Any] = {"id": "C1", "name": "华东机电"}
    if tenure is not None:
        customer["tenure_years"] = tenure
    return {"point": "sample_request",
            "facts": {"sample": {"id": f"S-{number}", "customer_id": "C1", "value": value,
                                 "lines": [{"sku": "A", "qty": qty}]}, "customer": customer}}


@pytest.fixture
def cheaper_samples(tmp_path: Path) -> Path:
    """The declared policy with the sales manager asked from 3,000 and a 25% deposit."""
    target = tmp_path / "candidate"
    shutil.copytree(DECLARED, target)
    rules = target / "samples.yaml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(text.replace("when: sample.value > 5000", "when: sample.value > 3000")
                     .replace("set: {deposit: 20%, freight: prepaid}", "set: {deposit: 25%, freight: prepaid}"),
                     encoding="utf-8")
    return target


@pytest.mark.parametrize("backend", ["python", "durable"])
def test_a_replayed_document_gets_the_gates_outcome_approvals_and_outputs(backend: str) -> None:
    policy = load_policy(DECLARED)
    replayer = Replayer(policy)
    spec = policy.points["sample_request"]
    with Gate(policy, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        for value, tenure, qty in [("100", 5, 1), ("8000", 5, 1), ("25000", 1, 150), ("25000", None, 1),
                                   ("4999.99", 0, 101)]:
            facts = _sample(1, value, tenure, qty)["facts"]
            decision = gate.decide("sample_request", facts)
            verdict = replayer.document("sample_request", spec.document.model_validate(facts))
            assert (verdict.outcome, list(verdict.roles), dict(verdict.outputs)) == (
                decision.outcome, decision.required_roles, decision.outputs)
            assert list(verdict.rules) == list(dict.fromkeys(decision.fired))


def test_documents_of_a_declared_point_are_replayed_and_reported_under_its_title(
        cheaper_samples: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "samples.jsonl", [_sample(1, "4000", 3), _sample(2, "8000"), _sample(3, "100"),
                                                 _sample(4, "30000", 1)])
    report = simulate(DECLARED, cheaper_samples, source, workers=1)
    assert "sample_request" in report.hooks
    assert (report.tally.orders, report.tally.returns, report.tally.documents) == (0, 0, 4)
    samples = report.tally.hooks["sample_request"]
    assert (samples.decided, samples.changed, samples.outputs_changed) == (4, 2, 2)
    assert samples.roles_gained == {"sales_manager": 1}
    assert [(c.line, c.subject) for c in samples.examples] == [(1, "S-1"), (2, "S-2")]
    assert dict(samples.examples[1].after.outputs) == {"deposit": Decimal("0.25"), "freight": "prepaid"}
    data = as_json(report)
    entry = data["hooks"]["sample_request"]
    assert (entry["title"], entry["outputs_changed"], entry["blocked_amount"]) == ("Sample request", 2, None)
    assert entry["examples"][1]["baseline"]["outputs"] == {"deposit": "0.2", "freight": "prepaid"}
    assert data["documents"] == 4
    page = as_html(report)
    assert "<h3>Sample request: outcomes</h3>" in page
    result = CliRunner().invoke(cli, ["simulate", "--baseline", str(DECLARED), "--rules", str(cheaper_samples),
                                      "--orders", str(source), "--workers", "1", "--hooks", "sample_request"])
    assert result.exit_code == 0, result.output
    assert "0 orders, 0 returns, 4 documents of declared points" in result.stdout
    assert re.search(r"sample_request \(Sample request\)\s+4\s+2", result.stdout)
    assert "deposit=20% freight=prepaid" in result.stdout
    assert "deposit=25% freight=prepaid" in result.stdout


def test_a_document_line_that_is_not_a_declared_points_facts_names_the_line_and_the_fix(
        cheaper_samples: Path, tmp_path: Path) -> None:
    misspelt = _sample(3, "100")
    misspelt["facts"]["sample"]["valeu"] = misspelt["facts"]["sample"].pop("value")
    source = _write(tmp_path / "bad.jsonl", [
        _sample(1, "100"), {"point": "sample_requst", "facts": {}}, misspelt,
        {"point": "order_approval", "facts": {}}, {"point": "sample_request", "facts": {}, "when": "today"}])
    report = simulate(DECLARED, cheaper_samples, source, workers=1)
    assert (report.tally.documents, report.tally.invalid) == (1, 4)
    assert [(bad.line, bad.message) for bad in report.tally.invalid_examples] == [
        (2, "point 'sample_requst' is not a decision point either policy declares (did you mean 'sample_request'?)"),
        (3, "sample_request facts sample.valeu: not a fact salesgate knows (did you mean 'value'?) (and 1 more)"),
        (4, "point 'order_approval' is built in: write its order or return as the line itself (an order is decided "
            "at every order point)"),
        (5, 'a document of a declared point is {"point": "<point>", "facts": {...}}; unknown key \'when\''),
    ]
    seed_only = simulate(seed_policy_path(), cheaper_samples, _write(tmp_path / "one.jsonl", [_sample(1, "100")]),
                         workers=1)
    assert seed_only.tally.invalid_examples[0].message == (
        "point 'sample_request' is not declared by the baseline policy: a document is compared on points both "
        "policies declare")


def test_documents_replay_the_same_on_any_number_of_workers(cheaper_samples: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    docs: list[dict[str, Any] | str] = [_sample(i, str(500 * i), i % 3) for i in range(120)]
    source = _write(tmp_path / "many.jsonl", docs)
    monkeypatch.setattr("salesgate.simulation.RANGE_BYTES", 2048)
    alone = as_json(simulate(DECLARED, cheaper_samples, source, workers=1))
    shared = as_json(simulate(DECLARED, cheaper_samples, source, workers=2))
    for report in (alone, shared):
        report.pop("seconds")
        report.pop("workers")
    assert alone == shared
    assert alone["hooks"]["sample_request"]["changed"] > 0


def test_an_unknown_point_to_replay_gets_a_did_you_mean(cheaper_samples: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "one.jsonl", [_sample(1, "100")])
    result = CliRunner().invoke(cli, ["simulate", "--baseline", str(DECLARED), "--rules", str(cheaper_samples),
                                      "--orders", str(source), "--hooks", "sample_requst"])
    assert result.exit_code == 2
    assert "unknown decision point 'sample_requst' (did you mean 'sample_request'?)" in result.output
    assert simulate(DECLARED, cheaper_samples, source, workers=1, hooks=["pricing"]).hooks == ("pricing",)


def test_the_document_line_in_the_docs_replays_on_a_policy_declaring_its_point(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "simulate.md").read_text(encoding="utf-8")
    line = text.split("```json\n")[2].split("```", 1)[0]
    assert json.loads(line)["point"] == "shipment_release"
    policy = tmp_path / "policy"
    shutil.copytree(DECLARED, policy)
    (policy / "points" / "shipment_release.yaml").write_text(
        "point: shipment_release\n"
        "title: {zh: 发货放行, en: Shipment release}\n"
        "description: {zh: 发货前检查, en: Checked before goods leave}\n"
        "document: shipment\n"
        "includes: [customer]\n"
        "fields:\n"
        "  id: {type: text, description: {zh: 发货通知单号, en: Shipping notice number}}\n"
        "  order_id: {type: text, description: {zh: 订单号, en: Order number}}\n"
        "  amount: {type: money, description: {zh: 金额, en: Amount}}\n"
        "  price_confirmed: {type: bool, description: {zh: 价格已确认, en: Price confirmed}}\n", encoding="utf-8")
    source = tmp_path / "docs.jsonl"
    source.write_text(line, encoding="utf-8")
    report = simulate(policy, policy, source, workers=1)
    assert (report.tally.documents, report.tally.invalid) == (1, 0)
    assert report.tally.hooks["shipment_release"].outcomes_after == {"allow": 1}
    assert report.title("shipment_release") == "Shipment release"


# -- history facts: computed over the earlier orders of the history file ------------------------------------


def _dated(i: int, day: str, total: str, customer: str = "C1", **sent: Any) -> dict[str, Any]:
    line = _order(i, total)
    line["order"].update({"order_date": day, "customer_id": customer})
    line["customer"].update({"id": customer, **sent})
    return line


@pytest.fixture
def without_channel_stuffing(tmp_path: Path) -> Path:
    """The seed policy before R29: order-approval without the channel-stuffing rule."""
    target = tmp_path / "baseline"
    shutil.copytree(seed_policy_path(), target, ignore=shutil.ignore_patterns("tests"))
    rules = target / "order-approval.yaml"
    text = rules.read_text(encoding="utf-8")
    start = text.index("  - id: channel-stuffing")
    rules.write_text(text[:start] + text[text.index("  - id:", start + 5):], encoding="utf-8")
    return target


def test_simulate_computes_history_facts_from_the_earlier_orders_of_the_same_customer(
        without_channel_stuffing: Path, tmp_path: Path) -> None:
    docs: list[dict[str, Any] | str] = [
        _dated(1, "2024-12-31", "500000"),  # before the four quarters of every line below
        _dated(2, "2025-02-10", "7500"), _dated(3, "2025-05-10", "7500"),
        _dated(4, "2025-08-10", "7500"), _dated(5, "2025-12-31", "7500"),  # 2025: 30,000
        _dated(6, "2026-02-01", "14999"),  # not above 15,000: no channel stuffing
        _dated(7, "2026-02-15", "15001"),  # above half of 30,000 (the same quarter's orders do not count)
        _dated(8, "2026-02-20", "19000", sales_last_4_quarters="1000000"),  # the line's own value wins
        _dated(9, "2026-02-20", "19000", customer="C2"),  # another customer: no history, no average
        _dated(10, "2027-01-05", "19000"),  # 2026: 14,999 + 15,001 + 19,000 = 49,000, half is 24,500
    ]
    source = _write(tmp_path / "dated.jsonl", docs)
    report = simulate(without_channel_stuffing, seed_policy_path(), source, workers=1, hooks=["order_approval"])
    approval = report.tally.hooks["order_approval"]
    assert [c.subject for c in approval.examples] == ["SO-7"]
    assert approval.roles_gained == {"sales_manager": 1}


def test_history_facts_are_the_same_however_the_file_is_split_between_workers(
        without_channel_stuffing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs: list[dict[str, Any] | str] = []
    for i in range(240):
        month = 1 + i % 12
        docs.append(_dated(i, f"{2024 + i // 80}-{month:02d}-{1 + i % 27:02d}", str(1000 + 731 * (i % 17)),
                           customer=f"C{i % 5}"))
    source = _write(tmp_path / "years.jsonl", docs)
    monkeypatch.setattr("salesgate.simulation.RANGE_BYTES", 4096)  # each customer's history spans ranges
    alone = as_json(simulate(without_channel_stuffing, seed_policy_path(), source, workers=1))
    shared = as_json(simulate(without_channel_stuffing, seed_policy_path(), source, workers=2))
    for report in (alone, shared):
        report.pop("seconds")
        report.pop("workers")
    assert alone == shared
    assert alone["hooks"]["order_approval"]["changed"] > 0


def _history_by_scanning(events: list[tuple[int, str, date, Decimal]], facts: dict[str, HistoryFact]
                         ) -> dict[int, dict[str, Any]]:
    """The definition of a replayed history fact, computed the slow way: every earlier order scanned."""
    out: dict[int, dict[str, Any]] = {}
    for index, (line_start, customer, day, _) in enumerate(events):
        values: dict[str, Any] = {}
        for name, fact in facts.items():
            start, end = fact.bounds(day)
            picked = [(d, t) for _, c, d, t in events[:index] if c == customer and start <= d < end]
            assert fact.replay is not None
            if fact.replay.measure == "sum":
                values[name] = sum((t for _, t in picked), Decimal(0))
            elif fact.replay.measure == "count":
                values[name] = len(picked)
            elif picked:
                values[name] = (day - max(d for d, _ in picked)).days
        out[line_start] = values
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["C1", "C2", "C3"]), st.dates(date(2024, 1, 1), date(2026, 12, 31)),
                          st.decimals(0, 100000, places=2)), max_size=60),
       st.booleans())
def test_history_facts_of_a_file_in_any_date_order_are_those_of_scanning_every_earlier_order(
        orders: list[tuple[str, date, Decimal]], by_date: bool) -> None:
    if by_date:
        orders = sorted(orders, key=lambda order: order[1])
    facts = {"sales": HistoryFact("customer", "sales", FieldType.money, parse_window("4 quarters"),
                                  Replay("sum", "total")),
             "orders": HistoryFact("customer", "orders", FieldType.integer, parse_window("90 days"), Replay("count")),
             "quiet": HistoryFact("customer", "quiet", FieldType.integer, parse_window("all"), Replay("days_since"))}
    events = [(10 * i, customer, day, total) for i, (customer, day, total) in enumerate(orders)]
    assert history_of(events, facts) == _history_by_scanning(events, facts)


def _with_discounts(docs: list[dict[str, Any] | str]) -> list[dict[str, Any] | str]:
    """The orders as an ERP exports them, every line with its discount: the shape the quick history pass reads."""
    for doc in docs:
        if isinstance(doc, dict):
            for line in doc["order"]["lines"]:
                line.setdefault("discount", "0.05")
    return docs


def test_history_read_quickly_is_checked_line_by_line_and_read_again_when_a_line_was_misread(
        without_channel_stuffing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    orders = _with_discounts([_dated(i, f"{2025 + i // 30}-{1 + i % 12:02d}-{1 + i % 27:02d}",
                                     str(1000 + 731 * (i % 17)), customer=f"C{i % 3}") for i in range(60)])
    orders += _with_discounts([_dated(61, "2026-01-15", "50000", customer="C1")])  # above half of C1's 2025 sales
    wrong_customer = _dated(60, "2025-06-01", "900000", customer="C1")
    wrong_customer["customer"]["id"] = "C2"  # the order's customer_id is C1: not a valid order, so no history
    valid = _write(tmp_path / "exported.jsonl", orders)
    with_invalid = _write(tmp_path / "invalid.jsonl", orders[:30] + _with_discounts([wrong_customer]) + orders[30:])

    def replay(source: Path, workers: int = 1) -> dict[str, Any]:
        report = as_json(simulate(without_channel_stuffing, seed_policy_path(), source, workers=workers))
        report.pop("seconds")
        report.pop("workers")
        return report

    quick = simulation._quick_event
    assert all(quick(raw) is not None for raw in with_invalid.read_bytes().splitlines())  # every line read quickly
    read_quickly = (replay(valid), replay(with_invalid))
    monkeypatch.setattr(simulation, "_quick_event", lambda raw: None)
    validated = (replay(valid), replay(with_invalid))
    assert read_quickly == validated
    assert validated[1]["invalid_lines"]["count"] == 1
    for report in validated:
        assert "SO-61" in [change["subject"] for change in report["hooks"]["order_approval"]["examples"]]

    def misread(raw: bytes) -> tuple[str, date, Decimal] | None:
        found = quick(raw)
        return None if found is None else (found[0], found[1], found[2] * 100)
    monkeypatch.setattr(simulation, "_quick_event", misread)
    assert replay(valid) == validated[0]
    assert replay(valid, workers=2) == validated[0]


def test_a_line_that_is_not_utf8_is_counted_invalid_and_the_rest_replayed(
        without_channel_stuffing: Path, tmp_path: Path) -> None:
    orders = [_dated(i, f"2026-0{1 + i % 9}-1{i % 9}", str(1000 + 731 * i), customer="C1") for i in range(9)]
    path = _write(tmp_path / "orders.jsonl", orders)
    raw = path.read_bytes().splitlines()
    broken = raw[4].replace(b'"customer_id": "C1"', b'"customer_id": "C\xff1"', 1)
    assert broken != raw[4]
    path.write_bytes(b"\n".join([*raw[:4], broken, *raw[5:]]) + b"\n")
    assert simulation._quick_event(broken) is None  # read the slow way, where the line is refused
    for workers in (1, 2):
        report = as_json(simulate(without_channel_stuffing, seed_policy_path(), path, workers=workers))
        assert report["invalid_lines"]["count"] == 1
        assert report["hooks"]["order_approval"]["decided"] == 8


# -- the replay's own shortcuts, held to what they stand for ------------------------------------------------------

@pytest.mark.parametrize("own", [None, "1000000"])
@pytest.mark.parametrize("reads", ["every", "none"])
def test_history_facts_added_to_a_flattened_order_are_those_flattening_the_customer_with_them_gives(
        own: str | None, reads: str) -> None:
    """The replay puts the history facts computed for an order into its flattened facts, where the line's
    customer has none of its own: as flattening a copy of the facts with the customer's fields set would."""
    policy = load_policy(seed_policy_path())
    model = policy.points["order_approval"].document
    doc = _order(1, "18000")
    doc["order"]["lines"].append({"line_no": 2, "sku": "P9", "qty": 3, "unit_price": "10"})
    if own is not None:
        doc["customer"]["sales_last_4_quarters"] = own
    facts = model.model_validate(doc)
    history = {"sales_last_4_quarters": Decimal("52000.50")}
    paths = Replayer(policy).order_paths() if reads == "every" else frozenset({"order.lines", "line.qty"})
    assert ("customer.sales_last_4_quarters" in paths) is (reads == "every")
    customer = facts.customer
    missing = {name: value for name, value in history.items() if getattr(customer, name) is None}
    copied = facts.model_copy(update={"customer": customer.model_copy(update=missing)}) if missing else facts
    expected = order_factset(copied, paths=paths, today=date(2026, 3, 1))
    added = order_factset(facts, paths=paths, today=date(2026, 3, 1))
    simulation._add_history(added, facts, history)
    assert (added.root, added.items, added.item_keys) == (expected.root, expected.items, expected.item_keys)
    assert [list(item) for item in added.items] == [list(item) for item in expected.items]  # in the same order
    if reads == "every":
        assert added.root["customer.sales_last_4_quarters"] == (Decimal(own) if own else Decimal("52000.50"))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_replay_puts_matched_rules_in_the_order_the_gate_applies_them(data: st.DataObject) -> None:
    """Table rows a ``first`` or ``priority`` hit policy sets aside, line hits, every stage: the replay orders
    a match set as the gate's stage verdict does, without building the gate's reasons."""
    policy, reference = data.draw(st.sampled_from(_hit_policies()))  # loaded twice: the gate's verdicts are cached
    stage = data.draw(st.sampled_from(sorted(policy.rules_by_stage)))
    rules = policy.rules_by_stage[stage]
    possible = [(rule.id, index) for rule in rules for index in ((0, 1, 2) if rule.scope == "line" else (None,))]
    matches = frozenset(data.draw(st.lists(st.sampled_from(possible), max_size=8)))
    policy.verdict_cache.clear()  # worked out by the replay itself, not read from a gate's cache
    ordered = bulk._in_stage_order(policy, stage, matches)
    expected = fired_in_order(reference, stage, matches)
    assert [(rule.id, index) for rule, index in ordered] == [(rule.id, index) for rule, index in expected]
    assert all(rule is policy.rules_by_stage[stage][policy.stage_positions[stage][rule.id]] for rule, _ in ordered)


_HIT_POLICIES: list[tuple[Any, Any]] = []


def _hit_policies() -> list[tuple[Any, Any]]:
    """The seed policy and one with ``first`` and ``priority`` tables, order- and line-scope, each loaded twice
    (once, for every example)."""
    if not _HIT_POLICIES:
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="salesgate-hits-"))
        (root / "policy.yaml").write_text('name: hits\nversion: "1"\nroles: [sales_manager, general_manager]\n',
                                          encoding="utf-8")
        (root / "ladder.yaml").write_text(
            "ruleset: ladder\npoint: order_approval\nversion: '1'\ntable:\n  hit: priority\n"
            "  inputs: [order.total, customer.grade]\n  rows:\n"
            '    - {id: key-large, order.total: ">= 100000", customer.grade: A, require: [sales_manager],'
            ' priority: 2}\n'
            '    - {id: large, order.total: ">= 100000", require: [general_manager], priority: 1}\n'
            '    - {id: medium, order.total: "[20000..100000)", require: sales_manager, priority: 3}\n',
            encoding="utf-8")
        (root / "volume.yaml").write_text(
            "ruleset: volume\npoint: pricing\nversion: '1'\ntable:\n  hit: first\n  scope: line\n"
            '  inputs: [line.qty]\n  rows:\n    - {id: volume-50, line.qty: ">= 50", discount: 5%}\n'
            '    - {id: volume-10, line.qty: ">= 10", discount: 2%}\n', encoding="utf-8")
        _HIT_POLICIES.extend((load_policy(path), load_policy(path)) for path in (seed_policy_path(), root))
    return _HIT_POLICIES


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("ending", [b"\n", b""])
def test_a_range_is_read_as_the_lines_that_start_in_it_whatever_the_blocks_it_is_read_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, ending: bytes) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\xef\xbb\xbf{\"a\": 1}\r\n\n  \n{\"b\": \"x\ry\"}\n" + b"z" * 150 + b"\n{\"c\": 3}" + ending)

    def by_readline(start: int, end: int) -> list[bytes]:
        found = []
        with path.open("rb") as handle:
            handle.seek(start)
            while handle.tell() < end and (raw := handle.readline()):
                found.append(raw)
        return found

    monkeypatch.setattr(simulation, "_BLOCK_BYTES", block)
    size = path.stat().st_size
    starts = [0] + [i + 1 for i, byte in enumerate(path.read_bytes()) if byte == ord("\n") and i + 1 < size]
    for start in starts:
        for end in range(start + 1, size + 1):  # an end inside a line reads that line whole, as its start is before
            assert list(simulation._lines(str(path), start, end)) == by_readline(start, end)
    assert b"".join(simulation._lines(str(path), 0, size)) == path.read_bytes()
