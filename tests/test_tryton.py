"""salesgate inside a real ERP: Tryton 8.2 with the example module examples/tryton (trytond_salesgate).

The example module is installed offline into a temporary directory (from a copy of its sources, so no
build/ or egg-info is left in the tree); tests/tryton/driver.py runs in a subprocess of its own (Tryton
keeps process-wide Pool state and its imports warn), creates a database, activates sale,
sale_credit_limit, sale_price_list, account_invoice and salesgate, builds a small company with proteus
and plays the scenarios; it prints one JSON document that the tests below assert on. One driver run per
database: SQLite always, PostgreSQL when the server answers (required under CI, like
tests/fixtures/databases.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from fixtures.databases import SERVERS, unavailable
from salesgate_adapters.sql import load_mapping

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "examples" / "tryton"
DRIVER = ROOT / "tests" / "tryton" / "driver.py"
MAPPING = ROOT / "adapters" / "salesgate_adapters" / "sql" / "mappings" / "tryton.yaml"
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")


def _tryton_installed() -> None:
    if importlib.util.find_spec("trytond") is None or importlib.util.find_spec("proteus") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Tryton is required under CI: pip install '.[test]' (extra 'tryton')")
        pytest.skip("Tryton is not installed: pip install '.[tryton]'")


@pytest.fixture(scope="module")
def module_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example module installed (offline, no dependencies) into a directory of its own."""
    _tryton_installed()
    work = tmp_path_factory.mktemp("tryton-module")
    source = Path(shutil.copytree(MODULE, work / "src", ignore=NOT_SOURCES))
    target = work / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, f"installing examples/tryton failed:\n{done.stdout}\n{done.stderr}"
    return target


def _postgres_uri() -> tuple[str, sa.Engine]:
    """Tryton's database URI for the test server (no database name) and an admin engine to drop with."""
    server = sa.make_url(SERVERS["postgresql"])
    shown = server.render_as_string(hide_password=True)
    admin = sa.create_engine(server, connect_args={"connect_timeout": 3}, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        admin.dispose()
        unavailable("postgresql", f"{shown}: {getattr(exc, 'orig', None) or exc}")
    uri = sa.engine.URL.create("postgresql", username=server.username, password=server.password, host=server.host,
                               port=server.port).render_as_string(hide_password=False)
    return uri + "/", admin


def _run_driver(module_path: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TRYTOND_", "PYTHONPATH", "DB_"))}
    paths = [str(module_path), *(str(ROOT / root) for root in ("core", "plugins", "adapters"))]
    done = subprocess.run(
        [sys.executable, str(DRIVER)], cwd=work, capture_output=True, text=True, encoding="utf-8", check=False,
        timeout=900, env={**base, "PYTHONPATH": os.pathsep.join(paths), "PYTHONIOENCODING": "utf-8", **env})
    assert done.returncode == 0, f"the Tryton driver failed:\n{done.stdout[-5000:]}\n{done.stderr[-10000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tryton(request: pytest.FixtureRequest, module_path: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One driver run per database kind: the scenarios' results as JSON."""
    work = tmp_path_factory.mktemp(f"tryton-{request.param}")
    name = f"sg_tryton_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        env = {"TRYTOND_DATABASE__URI": "sqlite://", "TRYTOND_DATABASE__PATH": str(work), "DB_NAME": name,
               "SALESGATE_TEST_URL": f"sqlite:///{work / (name + '.sqlite')}"}
        yield _run_driver(module_path, work, env)
        return
    uri, admin = _postgres_uri()
    env = {"TRYTOND_DATABASE__URI": uri, "DB_NAME": name, "SALESGATE_TEST_URL": uri + name}
    try:
        yield _run_driver(module_path, work, env)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_tryton_mapping_loads_and_declares_every_fact() -> None:
    mapping = load_mapping(MAPPING)
    assert mapping.name == "tryton"
    for fact in ("customer", "exposure", "products", "order", "order.lines", "delivery", "counted_orders"):
        assert mapping.plans(fact), f"tryton.yaml does not map {fact}"


def test_over_limit_sale_is_refused_at_quote_with_salesgates_reason(tryton: dict[str, Any]) -> None:
    over = tryton["over_limit"]
    assert over["open_sale_state"] == "processing"  # the 5,000 sale before it went through
    assert over["message"].startswith('salesgate refuses sale "')
    assert "超过信誉额且未签还款计划书，拒绝发货 (over-limit-no-plan)" in over["message"]
    assert over["state"] == "draft"


def test_large_sale_needs_both_managers_in_ladder_order_then_confirms(tryton: dict[str, Any]) -> None:
    large = tryton["large_order"]
    assert large["outcome"] == "require_approval"
    assert "订单金额 10 万元以上需销售经理和总经理审批 (large-order)" in large["reasons"]
    assert [(a["role"], a["state"]) for a in large["approvals"]] == [
        ("sales_manager", "pending"), ("general_manager", "pending")]
    assert "cannot be confirmed before these roles approve it" in large["confirm_before_approvals"]
    assert "sales_manager, general_manager" in large["confirm_before_approvals"]
    assert "waiting for sales_manager" in large["gm_before_sm"]
    assert 'only members of the group "Salesgate general_manager" can' in large["sm_approves_gm_role"]
    assert (large["sm_approves"], large["gm_approves"]) == (None, None)
    assert [(a["role"], a["state"], a["approved_by"]) for a in large["approvals_after"]] == [
        ("sales_manager", "approved", "sm"), ("general_manager", "approved", "gm")]
    assert large["confirm_after_approvals"] is None
    assert large["state"] in ("confirmed", "processing")


def test_approvals_cannot_be_deleted_and_confirm_needs_each_role_decided_at_quote(tryton: dict[str, Any]) -> None:
    tampered = tryton["tampering"]
    assert (tampered["roles"], tampered["requester"]) == ("sales_manager,general_manager", "admin")
    # ir.model.access: read only for users; the module itself refuses administrators too.
    assert tampered["sm_deletes"] == 'You are not allowed to access "Salesgate Approval".'
    assert tampered["sm_creates"] == 'You are not allowed to access "Salesgate Approval".'
    assert tampered["admin_deletes"] == ("Salesgate approvals are written only by the sale's Quote and the "
                                         "approval's Approve button: delete is not allowed.")
    assert tampered["clerk_approves"] == 'Calling button "approve on "Salesgate Approval" is not allowed.'
    assert [(a["role"], a["state"]) for a in tampered["approvals_kept"]] == [
        ("sales_manager", "pending"), ("general_manager", "pending")]
    # Records removed behind the module's back (root) leave the roles unapproved, not fewer roles to approve.
    assert tampered["approvals_after_delete"] == []
    assert tampered["confirm_after_delete"] is not None
    assert "cannot be confirmed before these roles approve it" in tampered["confirm_after_delete"]
    assert "sales_manager, general_manager" in tampered["confirm_after_delete"]
    # Confirm checks the four-eyes rules itself, whatever records are there.
    assert "sales_manager, general_manager were approved by the same person" in tampered["confirm_one_approver"]
    assert 'general_manager was approved by "Administrator", who quoted it' in tampered["confirm_approved_by_requester"]
    assert tampered["state"] == "quotation"


def test_requester_may_not_approve_and_one_person_approves_one_step(tryton: dict[str, Any]) -> None:
    four = tryton["four_eyes"]
    assert (four["quoted"], four["requester"]) == (None, "sm")
    sale = four["number"]  # sale numbers differ between databases (PostgreSQL sequences are not rolled back)
    assert four["requester_approves"] == (f'User "Sales Manager" cannot approve "sales_manager" for sale "{sale}": '
                                          "they quoted it (the requester may not approve their own sale).")
    assert four["boss_approves_sm"] is None
    assert four["boss_approves_gm"] == (f'User "Deputy Director" cannot approve "general_manager" for sale "{sale}": '
                                        "they already approved sales_manager of this decision "
                                        "(four eyes: one person approves at most one step).")
    assert four["gm_approves"] is None
    assert [(a["role"], a["state"], a["approved_by"]) for a in four["approvals"]] == [
        ("sales_manager", "approved", "boss"), ("general_manager", "approved", "gm")]
    assert four["confirm"] is None
    assert four["state"] in ("confirmed", "processing")


def test_quoting_again_voids_pending_approvals_no_longer_required(tryton: dict[str, Any]) -> None:
    first, second = tryton["requote"]["first"], tryton["requote"]["second"]
    assert (first["outcome"], first["roles"]) == ("require_approval", "finance")
    assert [(a["role"], a["state"], a["rules"]) for a in first["approvals"]] == [
        ("finance", "pending", "over-limit-with-plan")]
    # The credit limit was raised; the sale is the same version (same decision key), finance is not needed.
    assert second["key"] == first["key"]
    assert (second["outcome"], second["roles"], second["approvals"]) == ("allow", None, [])
    assert tryton["requote"]["confirm"] is None
    assert tryton["requote"]["state"] in ("confirmed", "processing")


def test_distributor_region_customer_pays_ten_percent_over_trytons_price(tryton: dict[str, Any]) -> None:
    prices = tryton["prices"]
    assert Decimal(prices["C003"]) == Decimal("99.00")  # price list 90 % of 100, then +10 %
    assert Decimal(prices["C002"]) == Decimal("100")  # no distributor in its region
    assert Decimal(prices["D001"]) == Decimal("100")  # the distributor itself
    assert (prices["C002 quoted"], prices["C003 quoted"], prices["D001 quoted"]) == (None, None, None)


def test_return_more_than_90_days_after_delivery_is_refused(tryton: dict[str, Any]) -> None:
    old, recent = tryton["returns"]["old"], tryton["returns"]["recent"]
    assert "交货已超过 90 天，不予退货 (too-late)" in old["message"]
    assert old["state"] == "draft"
    assert recent["message"] is None  # the same return two days after delivery is accepted
    assert (recent["state"], recent["outcome"]) == ("quotation", "allow")


def test_exposure_salesgate_reads_equals_trytons_credit_amount(tryton: dict[str, Any]) -> None:
    exposure = tryton["exposure"]
    assert set(exposure) == {"C001", "C002", "C003", "C004", "C005", "D001"}
    for code, figures in exposure.items():
        assert Decimal(figures["salesgate_total"]) == Decimal(figures["tryton_credit_amount"]), code
    huadong = exposure["C001"]["salesgate"]
    assert (Decimal(huadong["open_receivables"]), Decimal(huadong["open_orders"])) == (Decimal(30000), Decimal(5000))
    assert (Decimal(huadong["overdue_amount"]), int(huadong["max_overdue_days"])) == (Decimal(30000), 10)


def test_a_sale_twice_the_customers_average_quarter_waits_for_the_sales_manager(tryton: dict[str, Any]) -> None:
    """R29 inside Tryton: the seed policy reads customer.sales_last_4_quarters through the tryton mapping's
    history query; the second 3,800 sale of a customer whose four quarters hold 3,800 is channel stuffing."""
    old, recent = tryton["returns"]["old"], tryton["returns"]["recent"]
    assert (old["original_approvals"], old["original_rules"]) == ([], [])
    assert (recent["original_approvals"], recent["original_rules"]) == (["sales_manager"], ["channel-stuffing"])


def test_sales_history_salesgate_computes_equals_trytons_own_sales(tryton: dict[str, Any]) -> None:
    """customer.sales_last_4_quarters through the tryton mapping's history query, for the four whole quarters
    before today and for this quarter, against Tryton's untaxed amounts of the confirmed sales dated then."""
    history = tryton["history"]
    assert {"C004 4 quarters", "C004 this quarter"} <= set(history)
    for key, figures in history.items():
        assert Decimal(figures["salesgate"]) == Decimal(figures["tryton"]), key
    assert sum(Decimal(figures["tryton"]) for figures in history.values()) > 0


def test_unchanged_approved_sale_ships_without_a_new_approval(tryton: dict[str, Any]) -> None:
    unchanged = tryton["shipments"]["unchanged"]
    assert unchanged["message"] is None  # packed: salesgate released it
    assert (unchanged["outcome"], unchanged["roles"], unchanged["approvals"]) == ("allow", None, [])
    assert unchanged["freight_terms"] == "collect"
    assert unchanged["done"] is None
    assert unchanged["state"] == "done"


def test_general_manager_signs_the_shipping_notice_of_a_sale_they_did_not_approve(tryton: dict[str, Any]) -> None:
    signature = tryton["shipments"]["gm_signature"]
    assert signature["message"] is None
    assert (signature["outcome"], signature["roles"]) == ("require_approval", "general_manager")
    assert "发货通知单需总经理签字 (shipping-notice-gm-signature)" in signature["reasons"]
    assert [(a["role"], a["state"], a["rules"]) for a in signature["approvals"]] == [
        ("general_manager", "pending", "shipping-notice-gm-signature")]
    assert "cannot leave before these roles approve it (Salesgate Approvals): general_manager." in (
        signature["done_before"])
    assert (signature["gm_approves"], signature["done_after"], signature["state"]) == (None, None, "done")


def test_approval_older_than_30_days_is_given_again_before_shipping(tryton: dict[str, Any]) -> None:
    too_old = tryton["shipments"]["too_old"]
    assert too_old["message"] is None
    assert (too_old["outcome"], too_old["roles"]) == ("require_approval", "sales_manager,general_manager")
    assert "订单审批已超过 30 天，需重新审批 (approval-too-old)" in too_old["reasons"]
    assert [(a["role"], a["state"]) for a in too_old["approvals"]] == [
        ("sales_manager", "pending"), ("general_manager", "pending")]


def test_shipping_more_than_ordered_is_refused_with_salesgates_reason(tryton: dict[str, Any]) -> None:
    over = tryton["shipments"]["over_delivery"]
    assert over["message"] is not None
    assert over["message"].startswith('salesgate refuses to release shipment "')
    assert "发货数量超过销售订单数量 (over-delivery, line 1)" in over["message"]
    # Only what refuses it: the approvals it would also need (12 valves are 20 % over the approved
    # amount) cannot let it through.
    assert "approval-amount-grew" not in over["message"]
    assert over["state"] == "picked"  # not packed: the goods stay in the warehouse


def test_customer_whose_credit_turned_poor_since_approval_gets_no_shipment(tryton: dict[str, Any]) -> None:
    poor = tryton["shipments"]["credit_turned_poor"]
    assert poor["rating_at_approval"] == "good"
    assert poor["message"] is not None
    assert poor["message"] == (f'salesgate refuses to release shipment "{poor["number"]}":\n'
                               "客户信用自订单审批后转差，停止发货 (credit-turned-poor)")
    assert poor["state"] == "picked"


def test_direct_shipment_without_a_sale_is_refused(tryton: dict[str, Any]) -> None:
    direct = tryton["shipments"]["direct"]
    assert direct["message"] is not None
    assert "无销售订单，不得直接出货 (no-sales-order)" in direct["message"]
    assert "发货数量超过销售订单数量 (over-delivery, line 1)" in direct["message"]  # 5 of nothing ordered
    assert direct["state"] == "picked"


def test_customer_blocked_after_packing_is_refused_when_the_goods_would_leave(tryton: dict[str, Any]) -> None:
    blocked = tryton["shipments"]["blocked_after_packing"]
    assert (blocked["message"], blocked["outcome"], blocked["roles"]) == (None, "require_approval", "general_manager")
    assert blocked["gm_approves"] is None
    assert blocked["done"] is not None
    assert "客户已冻结，停止发货 (customer-blocked-at-shipment)" in blocked["done"]
    assert blocked["state"] == "packed"
