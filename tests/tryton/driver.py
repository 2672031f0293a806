"""Build a small Tryton company with the salesgate module activated and play the issue's scenarios.

Run by tests/test_tryton.py in a subprocess of its own (Tryton keeps process-wide Pool state), with
``TRYTOND_DATABASE__URI``, ``TRYTOND_DATABASE__PATH`` and ``DB_NAME`` naming the database to create and
``PYTHONPATH`` reaching the installed ``trytond_salesgate`` package. Prints one JSON document: what each
scenario did (outcomes, prices, error messages, states) and how long the set-up took; the test asserts on it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from proteus import Model, Wizard  # type: ignore[import-untyped]
from proteus.config import get_config  # type: ignore[import-untyped]
from trytond.exceptions import UserError, UserWarning  # type: ignore[import-untyped]
from trytond.modules.account.tests.tools import (  # type: ignore[import-untyped]
    create_chart,
    create_fiscalyear,
    get_accounts,
)
from trytond.modules.account_invoice.tests.tools import (  # type: ignore[import-untyped]
    create_payment_term,
    set_fiscalyear_invoice_sequences,
)
from trytond.modules.company.tests.tools import create_company, get_company  # type: ignore[import-untyped]
from trytond.modules.currency.tests.tools import get_currency  # type: ignore[import-untyped]
from trytond.pool import Pool  # type: ignore[import-untyped]
from trytond.tests.tools import activate_modules, set_user  # type: ignore[import-untyped]
from trytond.transaction import Transaction  # type: ignore[import-untyped]

MODULES = ["salesgate", "sale", "sale_credit_limit", "sale_price_list", "account_invoice"]
TODAY = dt.date.today()


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def refused(action: Callable[[], object]) -> str | None:
    """The message of the UserError the action raised, None when it went through."""
    try:
        action()
    except UserError as exc:
        return str(exc.message)
    return None


class Company:
    """The throwaway company: chart, fiscal year, products, price list, customers."""

    def __init__(self) -> None:
        create_company(currency=get_currency("CNY"))
        as_user(1)
        create_chart()
        fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(today=(days_ago(200), TODAY)))
        fiscalyear.click("create_period")
        self.company = get_company()
        self.accounts = get_accounts()
        self.payment_term = create_payment_term()
        self.payment_term.save()
        self.products = self._products()
        self._stock()
        self.categories = self._categories()
        self.retail = self._price_list()
        self.parties: dict[str, Any] = {}

    def _products(self) -> dict[str, Any]:
        Category = Model.get("product.category")
        Template = Model.get("product.template")
        Uom = Model.get("product.uom")
        unit, = Uom.find([("name", "=", "Unit")])
        accounting = Category(name="Accounting", accounting=True, account_revenue=self.accounts["revenue"],
                              account_expense=self.accounts["expense"])
        accounting.save()
        products = {}
        for code, name, price, cost in [("MOTOR-5.5", "三相异步电机 5.5kW", "2800", "1900"),
                                        ("VALVE-DN50", "Gate valve DN50", "100", "60")]:
            template = Template(name=name, default_uom=unit, type="goods", salable=True, list_price=Decimal(price),
                                account_category=accounting)
            template.save()
            product, = template.products
            product.suffix_code = code
            product.cost_price = Decimal(cost)
            product.save()
            products[code] = product
        return products

    def _stock(self) -> None:
        Inventory = Model.get("stock.inventory")
        Location = Model.get("stock.location")
        storage, = Location.find([("code", "=", "STO")])
        inventory = Inventory(location=storage)
        for product in self.products.values():
            inventory.lines.new(product=product, quantity=1000.0, expected_quantity=0.0)
        inventory.click("confirm")

    def _categories(self) -> dict[str, Any]:
        PartyCategory = Model.get("party.category")
        region = PartyCategory(name="Region")
        region.save()
        rating = PartyCategory(name="Credit Rating")
        rating.save()
        categories = {name: PartyCategory(name=name)
                      for name in ("Distributor", "Repayment Plan", "Over-delivery Allowed")}
        for category in categories.values():
            category.save()
        for name in ("华东", "华南"):
            categories[name] = PartyCategory(name=name, parent=region)
            categories[name].save()
        for name in ("good", "poor"):
            categories[name] = PartyCategory(name=name, parent=rating)
            categories[name].save()
        return categories

    def _price_list(self) -> Any:
        PriceList = Model.get("product.price_list")
        price_list = PriceList(name="Retail 2026", price="list_price")
        price_list.lines.new(formula="unit_price * 0.9")
        price_list.save()
        return price_list

    def party(self, code: str, name: str, *, limit: str | None, categories: tuple[str, ...] = (),
              price_list: Any = None) -> Any:
        Party = Model.get("party.party")
        party = Party(code=code, name=name)
        for category in categories:
            party.categories.append(Model.get("party.category")(self.categories[category].id))
        if limit is not None:
            party.credit_limit_amount = Decimal(limit)
        if price_list is not None:
            party.sale_price_list = price_list
        party.save()
        self.parties[code] = party
        return party

    def posted_invoice(self, party: Any, amount: str, invoice_date: dt.date) -> Any:
        Invoice = Model.get("account.invoice")
        invoice = Invoice(type="out", party=party, payment_term=self.payment_term, invoice_date=invoice_date)
        line = invoice.lines.new()
        line.account = self.accounts["revenue"]
        line.description = "Goods delivered before the go-live"
        line.quantity = 1
        line.unit_price = Decimal(amount)
        try:
            invoice.click("post")
        except UserWarning as warning:  # "payment date in the past": yes, it is an old invoice
            Model.get("res.user.warning")(user=get_config().user, name=warning.name, always=False).save()
            invoice.click("post")
        return invoice

    def sale(self, party: Any, lines: list[tuple[str, int]], *, sale_date: dt.date | None = None,
             invoice_method: str = "order") -> Any:
        Sale = Model.get("sale.sale")
        sale = Sale(party=party, payment_term=self.payment_term, invoice_method=invoice_method,
                    shipment_method="order")
        if sale_date is not None:
            sale.sale_date = sale_date
        for code, quantity in lines:
            line = sale.lines.new()
            line.product = self.products[code]
            line.quantity = quantity
        sale.save()
        return sale

    def deliver(self, sale: Any, on: dt.date, approvers: dict[str, Any]) -> None:
        """Ship the sale as the warehouse does: the release salesgate requires at packing (the general
        manager signs the shipping notice; an approval more than 30 days old is given again) is approved
        by ``approvers`` (role → user) before the goods leave."""
        shipment, = sale.shipments
        shipment.effective_date = on
        shipment.salesgate_freight_price_told = True
        shipment.save()
        for button in ("assign_try", "pick", "pack"):
            shipment.click(button)
        for approval in approvals_of(shipment):
            assert approve(approvers[approval["role"]].id, approval["id"]) is None, approval
        shipment.click("do")


def user(name: str, login: str, groups: list[str]) -> Any:
    User = Model.get("res.user")
    Group = Model.get("res.group")
    company = get_company()
    record = User(name=name, login=login)
    record.companies.append(Model.get("company.company")(company.id))  # to see and quote the company's sales
    record.company = company
    for group_name in groups:
        group, = Group.find([("name", "=", group_name)])
        record.groups.append(group)
    record.save()
    return record


def as_user(user_id: int) -> None:
    set_user(user_id)


def approve(config_user: int, approval_id: int) -> str | None:
    Approval = Model.get("salesgate.approval")
    as_user(config_user)
    try:
        return refused(lambda: Approval(approval_id).click("approve"))
    finally:
        as_user(1)


def as_other(config_user: int, action: Callable[[], object]) -> str | None:
    """``refused(action)`` run as another user."""
    as_user(config_user)
    try:
        return refused(action)
    finally:
        as_user(1)


def as_root(action: Callable[[Any], object]) -> None:
    """Run ``action(Approval)`` in a transaction of root, without access checks, and commit it: what a
    database edit, a script or a record left by an older version of the module can do."""
    with Transaction().start(get_config().database_name, 0) as transaction:
        action(Pool().get("salesgate.approval"))
        transaction.commit()


def approvals_of(record: Any) -> list[dict[str, Any]]:
    """The salesgate approvals of a sale or a shipment."""
    record.reload()
    return [{"id": a.id, "role": a.role, "position": a.position, "state": a.state, "rules": a.rules,
             "approved_by": a.approved_by.login if a.approved_by else None} for a in record.salesgate_approvals]


def main() -> None:
    started = time.monotonic()
    activate_modules(MODULES)
    activated = time.monotonic() - started
    as_user(1)
    company = Company()
    out: dict[str, Any] = {"activation_seconds": round(activated, 1)}

    sm = user("Sales Manager", "sm", ["Sales Administrator", "Salesgate sales_manager"])
    gm = user("General Manager", "gm", ["Sales Administrator", "Salesgate general_manager"])
    boss = user("Deputy Director", "boss",
                ["Sales Administrator", "Salesgate sales_manager", "Salesgate general_manager"])
    clerk = user("Sales Clerk", "clerk", ["Sales"])

    huadong = company.party("C001", "华东机电有限公司", limit="50000", categories=("华东",))
    northwind = company.party("C002", "Northwind Traders", limit="1000000")
    contoso = company.party("C003", "Contoso Retail", limit="1000000", categories=("华南",), price_list=company.retail)
    distributor = company.party("D001", "华南分销有限公司", limit="1000000", categories=("华南", "Distributor"))
    fabrikam = company.party("C004", "Fabrikam", limit="1000000")

    # C001: 30,000 invoiced ten days ago (overdue), then a 5,000 sale confirmed and not invoiced yet.
    company.posted_invoice(huadong, "30000.00", days_ago(10))
    open_sale = company.sale(huadong, [("VALVE-DN50", 50)], invoice_method="fulfillment")
    open_sale.click("quote")
    open_sale.click("confirm")
    over = company.sale(huadong, [("VALVE-DN50", 160)])
    out["over_limit"] = {"open_sale_state": open_sale.state, "message": refused(lambda: over.click("quote"))}
    over.reload()
    out["over_limit"]["state"] = over.state

    # C002: a 168,000 order goes up the ladder.
    large = company.sale(northwind, [("MOTOR-5.5", 60)])
    large.click("quote")
    ladder: dict[str, Any] = {"outcome": large.salesgate_outcome, "reasons": large.salesgate_reasons,
                              "approvals": approvals_of(large)}
    ladder["confirm_before_approvals"] = refused(lambda: large.click("confirm"))
    by_role = {a.role: a.id for a in large.salesgate_approvals}
    ladder["gm_before_sm"] = approve(gm.id, by_role["general_manager"])
    ladder["sm_approves_gm_role"] = approve(sm.id, by_role["general_manager"])
    ladder["sm_approves"] = approve(sm.id, by_role["sales_manager"])
    ladder["gm_approves"] = approve(gm.id, by_role["general_manager"])
    ladder["approvals_after"] = approvals_of(large)
    ladder["confirm_after_approvals"] = refused(lambda: large.click("confirm"))
    large.reload()
    ladder["state"] = large.state
    out["large_order"] = ladder
    out["tampering"] = tampering(company, northwind, sm, boss, clerk)
    out["four_eyes"] = four_eyes(company, northwind, sm, gm, boss)
    out["requote"] = requote(company)

    # Prices: Tryton's own price (list price; Contoso's price list: 90 %) with the policy on top.
    prices = {}
    for party in (northwind, contoso, distributor):
        sale = company.sale(party, [("VALVE-DN50", 10)])
        prices[party.code] = str(sale.lines[0].unit_price)
        prices[party.code + " quoted"] = refused(lambda sale=sale: sale.click("quote"))
    out["prices"] = prices

    # C004: an old delivery (120 days ago) and a recent one; a return of each.
    returns = {}
    for key, age in (("old", 120), ("recent", 2)):
        original = company.sale(fabrikam, [("VALVE-DN50", 10)], sale_date=days_ago(age + 5))
        original.click("quote")
        # the second sale finds the first among the last four quarters' sales: twice their average is
        # channel stuffing (R29), for the sales manager to approve before it is confirmed
        asked = approvals_of(original)
        for approval in asked:
            assert approve({"sales_manager": sm, "general_manager": gm}[approval["role"]].id, approval["id"]) is None
        stuffing = [a["rules"] for a in asked]
        original.click("confirm")
        company.deliver(original, days_ago(age), {"sales_manager": sm, "general_manager": gm})
        wizard = Wizard("sale.return_sale", [original])
        wizard.execute("return_")
        returned, = Model.get("sale.sale").find([("origin", "=", f"sale.sale,{original.id}")])
        returned.salesgate_return_reason = "defect"
        returned.lines[0].quantity = -3
        returned.save()
        message = refused(lambda returned=returned: returned.click("quote"))
        returned.reload()
        returns[key] = {"message": message, "state": returned.state, "outcome": returned.salesgate_outcome,
                        "reasons": returned.salesgate_reasons, "original": original.number,
                        "original_approvals": [a["role"] for a in asked], "original_rules": stuffing}
    out["returns"] = returns
    out["exposure"] = compare_exposure(company)
    out["history"] = compare_history(company)
    out["shipments"] = shipments(company, large, northwind, sm, gm)
    out["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(out, ensure_ascii=False, default=str))


def tampering(company: Company, party: Any, sm: Any, boss: Any, clerk: Any) -> dict[str, Any]:
    """Approvals cannot be deleted or forged, and confirming never trusts that they are all there."""
    Approval = Model.get("salesgate.approval")
    sale = company.sale(party, [("MOTOR-5.5", 60)])
    sale.click("quote")  # by the administrator: the requester
    ids = [a.id for a in sale.salesgate_approvals]
    out: dict[str, Any] = {"roles": sale.salesgate_roles, "requester": sale.salesgate_requester.login}
    out["sm_deletes"] = as_other(sm.id, lambda: Approval.delete([Approval(i) for i in ids]))
    out["admin_deletes"] = refused(lambda: Approval.delete([Approval(i) for i in ids]))
    out["sm_creates"] = as_other(sm.id, lambda: Approval(
        sale=Model.get("sale.sale")(sale.id), decision_key=sale.salesgate_key, role="general_manager",
        state="approved").save())
    out["clerk_approves"] = approve(clerk.id, ids[0])  # in no Salesgate group: the button is not theirs
    out["approvals_kept"] = approvals_of(sale)
    as_root(lambda A: A.delete(A.browse(ids)))  # gone behind the module's back
    out["approvals_after_delete"] = approvals_of(sale)
    out["confirm_after_delete"] = refused(lambda: sale.click("confirm"))

    def forge(approvers: dict[str, int]) -> Callable[[Any], object]:
        sale_id, key = sale.id, sale.salesgate_key  # read through proteus before root's transaction

        def action(A: Any) -> None:
            A.delete(A.search([("sale", "=", sale_id)]))
            A.create([{"sale": sale_id, "decision_key": key, "role": role, "position": n, "state": "approved",
                       "approved_by": by} for n, (role, by) in enumerate(approvers.items(), start=1)])
        return action

    as_root(forge({"sales_manager": boss.id, "general_manager": boss.id}))
    out["confirm_one_approver"] = refused(lambda: sale.click("confirm"))
    as_root(forge({"sales_manager": boss.id, "general_manager": 1}))
    out["confirm_approved_by_requester"] = refused(lambda: sale.click("confirm"))
    sale.reload()
    out["state"] = sale.state
    return out


def four_eyes(company: Company, party: Any, sm: Any, gm: Any, boss: Any) -> dict[str, Any]:
    """The requester may not approve; one person approves at most one step of a decision."""
    sale = company.sale(party, [("MOTOR-5.5", 60)])
    out: dict[str, Any] = {"quoted": as_other(sm.id, lambda: sale.click("quote"))}
    sale.reload()
    out["requester"], out["number"] = sale.salesgate_requester.login, sale.number
    by_role = {a.role: a.id for a in sale.salesgate_approvals}
    out["requester_approves"] = approve(sm.id, by_role["sales_manager"])
    out["boss_approves_sm"] = approve(boss.id, by_role["sales_manager"])
    out["boss_approves_gm"] = approve(boss.id, by_role["general_manager"])
    out["gm_approves"] = approve(gm.id, by_role["general_manager"])
    out["approvals"] = approvals_of(sale)
    out["confirm"] = refused(lambda: sale.click("confirm"))
    sale.reload()
    out["state"] = sale.state
    return out


def requote(company: Company) -> dict[str, Any]:
    """Quoted again as it was, after the credit limit was raised: finance is no longer required."""
    party = company.party("C005", "Tailspin Toys", limit="500", categories=("Repayment Plan",))
    sale = company.sale(party, [("VALVE-DN50", 10)])
    sale.click("quote")  # 1,000 over a limit of 500, with a repayment plan: finance must approve
    out: dict[str, Any] = {"first": {"outcome": sale.salesgate_outcome, "roles": sale.salesgate_roles,
                                     "key": sale.salesgate_key, "approvals": approvals_of(sale)}}
    sale.click("draft")
    party.reload()
    party.credit_limit_amount = Decimal("5000")
    party.save()
    sale.reload()
    sale.click("quote")
    out["second"] = {"outcome": sale.salesgate_outcome, "roles": sale.salesgate_roles, "key": sale.salesgate_key,
                     "approvals": approvals_of(sale)}
    out["confirm"] = refused(lambda: sale.click("confirm"))
    sale.reload()
    out["state"] = sale.state
    return out


def pack(shipment: Any) -> str | None:
    """Take a waiting shipment to packed, as the warehouse does; salesgate decides at packing."""
    shipment.click("assign_try")
    shipment.click("pick")

    def packing() -> None:
        try:
            shipment.click("pack")
        except UserWarning as warning:  # Tryton asks to confirm moves of no origin (a shipment made by hand)
            Model.get("res.user.warning")(user=get_config().user, name=warning.name, always=False).save()
            shipment.click("pack")
    return refused(packing)


def released(shipment: Any, message: str | None) -> dict[str, Any]:
    shipment.reload()
    return {"message": message, "number": shipment.number, "state": shipment.state,
            "outcome": shipment.salesgate_outcome, "roles": shipment.salesgate_roles,
            "reasons": shipment.salesgate_reasons,
            "freight_terms": shipment.salesgate_freight_terms, "approvals": approvals_of(shipment)}


def shipments(company: Company, large: Any, northwind: Any, sm: Any, gm: Any) -> dict[str, Any]:
    """salesgate's shipment_release in Tryton's customer-shipment workflow."""
    out: dict[str, Any] = {}

    # The 168,000 sale the sales manager and the general manager approved, shipped as sold: the
    # approvals carry forward, nothing to approve again.
    shipment, = large.shipments
    shipment.salesgate_freight_price_told = True
    shipment.save()
    unchanged = released(shipment, pack(shipment))
    unchanged["done"] = refused(lambda: shipment.click("do"))
    shipment.reload()
    unchanged["state"] = shipment.state
    out["unchanged"] = unchanged

    # A 1,000 sale nobody had to approve: the general manager signs the shipping notice (R09).
    sale = company.sale(northwind, [("VALVE-DN50", 10)])
    sale.click("quote")
    sale.click("confirm")
    shipment, = sale.shipments
    signature = released(shipment, pack(shipment))
    signature["done_before"] = refused(lambda: shipment.click("do"))
    signature["gm_approves"] = approve(gm.id, signature["approvals"][0]["id"])
    signature["done_after"] = refused(lambda: shipment.click("do"))
    shipment.reload()
    signature["state"] = shipment.state
    out["gm_signature"] = signature

    # More than ordered: the warehouse puts 12 of the 10 valves sold on the shipment.
    sale = company.sale(northwind, [("VALVE-DN50", 10)])
    sale.click("quote")
    sale.click("confirm")
    shipment, = sale.shipments
    shipment.click("draft")
    shipment.outgoing_moves[0].quantity = 12
    shipment.save()
    shipment.click("wait")
    out["over_delivery"] = released(shipment, pack(shipment))

    # A sale approved 40 days ago: the approval no longer carries forward. (Northwind's last sale: dated
    # 40 days ago, it may fall in the last four quarters, and a later sale could then be channel stuffing.)
    sale = company.sale(northwind, [("VALVE-DN50", 10)], sale_date=days_ago(40))
    sale.click("quote")
    sale.click("confirm")
    shipment, = sale.shipments
    out["too_old"] = released(shipment, pack(shipment))

    # A customer whose credit turned poor after the sale was approved.
    litware = company.party("C006", "Litware", limit="1000000", categories=("good",))
    sale = company.sale(litware, [("VALVE-DN50", 10)])
    sale.click("quote")
    sale.click("confirm")
    sale.reload()
    rating_at_approval = sale.salesgate_credit_rating
    litware.reload()
    # pop unlinks the category; proteus's remove would delete it
    litware.categories.pop([c.id for c in litware.categories].index(company.categories["good"].id))
    litware.categories.append(Model.get("party.category")(company.categories["poor"].id))
    litware.save()
    shipment, = sale.shipments
    out["credit_turned_poor"] = released(shipment, pack(shipment))
    out["credit_turned_poor"]["rating_at_approval"] = rating_at_approval

    # Packed and signed, then the customer is blocked before the goods leave: asked again, refused.
    adventure = company.party("C007", "Adventure Works", limit="1000000", categories=("good",))
    sale = company.sale(adventure, [("VALVE-DN50", 10)])
    sale.click("quote")
    sale.click("confirm")
    shipment, = sale.shipments
    blocked = released(shipment, pack(shipment))
    blocked["gm_approves"] = approve(gm.id, blocked["approvals"][0]["id"])
    adventure.reload()
    adventure.active = False
    adventure.save()
    blocked["done"] = refused(lambda: shipment.click("do"))
    shipment.reload()
    blocked["state"] = shipment.state
    out["blocked_after_packing"] = blocked

    # A direct shipment: no sale at all.
    Shipment = Model.get("stock.shipment.out")
    direct = Shipment(customer=northwind)
    move = direct.outgoing_moves.new()
    move.product = company.products["VALVE-DN50"]
    move.unit = move.product.default_uom
    move.quantity = 5
    move.from_location = direct.warehouse_output
    move.to_location = northwind.customer_location
    move.unit_price = Decimal(100)
    move.currency = company.company.currency
    direct.save()
    direct.click("wait")
    out["direct"] = released(direct, pack(direct))
    return out


def compare_exposure(company: Company) -> dict[str, Any]:
    """Tryton's credit_amount next to the exposure salesgate reads through the tryton mapping."""

    from salesgate_adapters.sql import SqlAdapter

    Party = Model.get("party.party")
    adapter = SqlAdapter(os.environ["SALESGATE_TEST_URL"], mapping="tryton")
    compared = {}
    try:
        for code, party in sorted(company.parties.items()):
            exposure = adapter.salesgate_load_exposure(customer_id=code)
            assert exposure is not None
            compared[code] = {"tryton_credit_amount": str(Party(party.id).credit_amount),
                              "salesgate": {k: str(v) for k, v in exposure.model_dump().items()},
                              "salesgate_total": str(exposure.open_receivables + exposure.open_orders)}
    finally:
        adapter.close()
    return compared


def compare_history(company: Company) -> dict[str, Any]:
    """Each party's sales over the last four quarters and this quarter, as the tryton mapping's history query
    computes them, next to the sum of Tryton's own untaxed amounts of its confirmed sales of the window."""

    from salesgate.history import HistoryFact
    from salesgate.policy.compiler import load_policy
    from salesgate.seed import seed_policy_path
    from salesgate.windows import parse_window
    from salesgate_adapters.sql import SqlAdapter

    sales_fact = next(f for spec in load_policy(seed_policy_path()).points.values() for f in spec.history
                      if f.path == "customer.sales_last_4_quarters")
    this_quarter = HistoryFact("customer", "sales_last_4_quarters", sales_fact.type, parse_window("this quarter"))
    today = TODAY
    Sale = Model.get("sale.sale")
    adapter = SqlAdapter(os.environ["SALESGATE_TEST_URL"], mapping="tryton")
    compared = {}
    try:
        for code in sorted(company.parties):
            sales = Sale.find([("party.code", "=", code), ("state", "in", ["confirmed", "processing", "done"])])
            for label, fact in (("4 quarters", sales_fact), ("this quarter", this_quarter)):
                start, end = fact.bounds(today)
                found = adapter.salesgate_load_history(document="customer", keys={"customer_id": code},
                                                       facts=[fact], as_of=today)
                tryton = sum((s.untaxed_amount for s in sales if s.sale_date and start <= s.sale_date < end),
                             Decimal(0))
                compared[f"{code} {label}"] = {"salesgate": str((found or {}).get(fact.name)),
                                               "tryton": str(tryton)}
    finally:
        adapter.close()
    return compared


if __name__ == "__main__":
    sys.exit(main())
