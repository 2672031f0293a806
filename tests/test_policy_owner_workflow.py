"""The README's "Changing a policy safely", step by step, as a policy owner does it.

Last year's orders come from an ERP database (the demo ERP on SQLite) through ``salesgate export``;
the owner lowers the general manager's threshold from 100,000 to 50,000, runs the tests (which
catch the cases describing the old threshold), updates them, simulates the change on the history,
and deploys it to a running gate by swapping a symlink, without a restart; a broken edit never
replaces the running policy.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from salesgate import Gate
from salesgate.cli import cli
from salesgate.reload import PolicyReloader
from salesgate.seed import seed_policy_path
from salesgate_adapters.demo import load_demo_company
from salesgate_adapters.demo.erp import create_demo_erp, demo_engine

BIG_ORDER = {  # 60,000: between the new threshold (50,000) and the old one (100,000)
    "order": {"id": "SO-7001", "customer_id": "C001", "order_date": "2026-11-20", "channel": "written",
              "payment_method": "transfer", "payment_terms_days": 30,
              "lines": [{"line_no": 1, "sku": "P1", "qty": 60, "unit_price": "1000"}]},
    "customer": {"id": "C001", "name": "华东机电有限公司", "grade": "B", "credit_limit": "900000",
                 "payment_terms_days": 30},
    "products": [{"sku": "P1", "list_price": "1000", "cost": "600", "stock": 500}],
}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def erp_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = demo_engine(url)
    create_demo_erp(load_demo_company(), engine)
    engine.dispose()
    return url


def test_a_policy_owner_changes_a_threshold_simulates_tests_and_deploys_it(tmp_path: Path, erp_url: str) -> None:
    runner = CliRunner()

    # 0. last year's orders, from the ERP
    history = tmp_path / "orders-2026.jsonl"
    exported = runner.invoke(cli, ["export", "--from", "2026-01-01", "--to", "2026-11-06", "--mapping", "demo",
                                   "--url", erp_url, "--today", "2026-11-06", "-o", str(history)])
    assert exported.exit_code == 0, exported.output
    assert "9 order(s) of 2026-01-01 to 2026-11-06 written" in exported.output
    assert len(history.read_text(encoding="utf-8").splitlines()) == 9
    umask = os.umask(0)
    os.umask(umask)
    assert history.stat().st_mode & 0o777 == 0o666 & ~umask  # readable as any file the user writes

    # 1. copy the policy and change the threshold
    live = tmp_path / "rules-2026"
    shutil.copytree(seed_policy_path(), live)
    new = tmp_path / "rules-2027"
    shutil.copytree(live, new)
    rules = new / "order-approval-ladder.yaml"  # the approval ladder is a table: both bands move together
    _edit(rules, 'order.total: ">= 100000"', 'order.total: ">= 50000"')
    _edit(rules, 'order.total: "[20000..100000)"', 'order.total: "[20000..50000)"')

    # 2. validate and test: the cases written for the old threshold fail, by name
    assert runner.invoke(cli, ["validate", str(new)]).exit_code == 0
    tested = runner.invoke(cli, ["test", str(new), "--backend", "python"])
    assert tested.exit_code == 1
    assert "total 99,999.99 needs only the sales manager" in tested.output
    cases = new / "tests" / "order-approval.yaml"
    _edit(cases, 'unit_price: "99999.99"', 'unit_price: "49999.99"')
    _edit(cases, 'qty: 100, unit_price: 1000, discount: "0.0001"', 'qty: 50, unit_price: 1000, discount: "0.0001"')
    _edit(cases, "channel: oral\n        lines: [ { line_no: 1, sku: P1, qty: 50,",
          "channel: oral\n        lines: [ { line_no: 1, sku: P1, qty: 40,")
    tested = runner.invoke(cli, ["test", str(new), "--backend", "python"])
    assert tested.exit_code == 0, tested.output

    # 3. what would it have done to last year's orders?
    report = tmp_path / "what-if.html"
    simulated = runner.invoke(cli, ["simulate", "--rules", str(new), "--baseline", str(live), "--orders", str(history),
                                    "--json", "--html", str(report), "--workers", "1"])
    assert simulated.exit_code == 0, simulated.output
    figures = json.loads(simulated.stdout)
    approval = figures["hooks"]["order_approval"]
    assert approval["approvals"]["gained"] == {"general_manager": 3}  # 79,800, 50,000 and 60,800
    assert approval["changed"] == 3
    assert figures["hooks"]["credit_check"]["changed"] == 0
    assert "general_manager" in report.read_text(encoding="utf-8")

    # 4. deploy without downtime: the service reads a symlink; swap it
    current = tmp_path / "current"
    current.symlink_to(live, target_is_directory=True)
    with Gate.from_path(current, backend="python", entry_points=False) as gate:
        before = gate.approve_order(BIG_ORDER)
        assert before.required_roles == ["sales_manager"]
        reloader = PolicyReloader(gate, current, settle=0)

        broken = tmp_path / "rules-broken"
        shutil.copytree(new, broken)
        _edit(broken / "order-approval-ladder.yaml", "order.total: \">= 50000\"", "order.totl: \">= 50000\"")
        current.unlink()
        current.symlink_to(broken, target_is_directory=True)
        rejected = reloader.check_now()
        assert rejected.status == "rejected"
        assert any("order.totl" in problem for problem in rejected.problems)
        assert gate.approve_order(BIG_ORDER).policy.hash == before.policy.hash  # still the old policy

        current.unlink()
        current.symlink_to(new, target_is_directory=True)
        taken = reloader.check_now()
        assert taken.status == "reloaded", taken.message
        after = gate.approve_order(BIG_ORDER)
        assert after.required_roles == ["sales_manager", "general_manager"]
        assert after.policy.hash != before.policy.hash
        assert after.policy.hash == gate.policy.hash


def test_export_refuses_a_mapping_that_cannot_list_orders(tmp_path: Path, erp_url: str) -> None:
    mapping = tmp_path / "bare.yaml"
    mapping.write_text("mapping: bare\nfacts:\n  customer:\n    table: customers\n    key: id\n"
                       "    columns: {id: id, name: name}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["export", "--from", "2026-01-01", "--to", "2026-12-31", "--mapping",
                                      str(mapping), "--url", erp_url, "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2
    assert "no order_history query" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.jsonl").exists()


def test_simulate_reads_the_history_straight_from_the_erp_as_export_would(tmp_path: Path, erp_url: str) -> None:
    runner = CliRunner()
    new = tmp_path / "rules-new"
    shutil.copytree(seed_policy_path(), new)
    _edit(new / "order-approval-ladder.yaml", 'order.total: ">= 100000"', 'order.total: ">= 50000"')
    _edit(new / "order-approval-ladder.yaml", 'order.total: "[20000..100000)"', 'order.total: "[20000..50000)"')
    period = ["--from", "2026-01-01", "--to", "2026-11-06", "--today", "2026-11-06"]
    history = tmp_path / "history.jsonl"
    exported = runner.invoke(cli, ["export", *period, "--mapping", "demo", "--url", erp_url, "-o", str(history)])
    assert exported.exit_code == 0, exported.output
    via_file = runner.invoke(cli, ["simulate", "--rules", str(new), "--orders", str(history), "--json",
                                   "--workers", "1"])
    direct = runner.invoke(cli, ["simulate", "--rules", str(new), "--mapping", "demo", "--url", erp_url, *period,
                                 "--json", "--workers", "1"])
    assert direct.exit_code == 0, direct.output
    assert "9 order(s) of 2026-01-01 to 2026-11-06 read from the ERP" in direct.output
    from_file, from_erp = json.loads(via_file.stdout), json.loads(direct.stdout)
    assert from_erp["source"] == "demo orders 2026-01-01 to 2026-11-06"
    assert from_erp["hooks"] == from_file["hooks"]
    assert from_erp["hooks"]["order_approval"]["approvals"]["gained"] == {"general_manager": 3}


def test_simulate_and_export_refuse_what_they_cannot_do_before_doing_any_work(tmp_path: Path, erp_url: str) -> None:
    runner = CliRunner()
    a_file = tmp_path / "a-file"
    a_file.write_text("", encoding="utf-8")
    period = ["--from", "2026-01-01", "--to", "2026-11-06", "--today", "2026-11-06"]
    erp = ["--mapping", "demo", "--url", erp_url, *period]
    seed = str(seed_policy_path())
    broken = tmp_path / "broken"
    shutil.copytree(seed_policy_path(), broken)
    _edit(broken / "credit.yaml", "when: exposure.overdue_amount > 0", "when: exposure.overdue_amont > 0")
    cases = [
        (["simulate", "--rules", seed, *erp, "--html", str(a_file / "r.html")], f"{a_file} is a file, not a folder"),
        (["export", *period, "--mapping", "demo", "--url", erp_url, "-o", str(a_file / "x.jsonl")],
         f"{a_file} is a file, not a folder"),
        (["simulate", "--rules", seed, "--mapping", "demo", "--url", erp_url, "--from", "2026-12-31", "--to",
          "2026-01-01"], "--to is before --from"),
        (["simulate", "--rules", str(broken), *erp], "did you mean 'exposure.overdue_amount'"),
    ]
    for args, message in cases:
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "read from the ERP" not in result.output  # refused before reading the ERP
        assert "Traceback" not in result.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    nothing = runner.invoke(cli, ["simulate", "--rules", seed, "--orders", str(empty)])
    assert nothing.exit_code == 2
    assert nothing.output.strip() == f"error: {empty} holds no orders or returns: nothing was replayed"


def test_one_rule_file_validates_with_the_ladder_of_the_policy_it_is_in() -> None:
    result = CliRunner().invoke(cli, ["validate", str(seed_policy_path() / "pricing.yaml")])
    assert result.exit_code == 0, result.output
    assert "9 rules in 1 rule set" in result.output


def test_simulate_needs_one_history(tmp_path: Path) -> None:
    runner = CliRunner()
    neither = runner.invoke(cli, ["simulate", "--rules", str(seed_policy_path())])
    assert neither.exit_code == 2
    assert "--orders FILE.jsonl, or --mapping with --from and --to" in neither.output
    no_period = runner.invoke(cli, ["simulate", "--rules", str(seed_policy_path()), "--mapping", "demo"])
    assert no_period.exit_code == 2
    assert "--mapping needs --from and --to" in no_period.output


def test_export_writes_each_orders_history_facts_as_they_were_on_its_date(tmp_path: Path, erp_url: str) -> None:
    history = tmp_path / "orders.jsonl"
    exported = CliRunner().invoke(cli, ["export", "--from", "2026-01-01", "--to", "2026-11-06", "--mapping", "demo",
                                        "--url", erp_url, "--today", "2026-11-06", "-o", str(history)])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines()]
    by_id = {line["order"]["id"]: line for line in lines}
    # SO-0702 (C006, 2026-07-06): its four quarters are 2025-07-01..2026-06-30, which hold two of C006's
    # closed orders (2025-12-19, 2026-04-08); as of the export's today they would be four, and itself
    assert Decimal(by_id["SO-0702"]["customer"]["sales_last_4_quarters"]) == Decimal(360000)
    # C006 reached its stage on 2023-01-10: counted to the order's date
    assert by_id["SO-0702"]["customer"]["days_in_stage"] == (date(2026, 7, 6) - date(2023, 1, 10)).days
