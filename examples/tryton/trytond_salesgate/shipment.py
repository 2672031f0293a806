"""Tryton's customer shipments ask salesgate before the goods leave (decision point ``shipment_release``).

* **Pack** (``picked``/``assigned → packed``): the warehouse has checked the goods (Tryton's own
  quantity check has passed) and the shipping notice is complete. salesgate decides on it: a ``block``
  refuses the packing with salesgate's reasons (a direct shipment without a sale, more than ordered,
  a customer whose credit turned poor or who was blocked since the sale was approved, ...); the roles it
  requires (the general manager's signature, approvals given again) are stored on the shipment with
  the packing user and become ``salesgate.approval`` records of this version of the shipment; the freight
  terms the policy sets are stored too.
* **Ship** / **Done** from packed: read only, like a sale's confirmation. Only the version salesgate
  decided on, with each required role approved by a different user who is not the one who packed it;
  salesgate is asked again (the customer's credit may have changed since packing) and a ``block``
  refuses it.

The sale's approvals carry forward: the facts say whether the general manager approved the sale, the
sale's amount and credit rating when salesgate decided on it, and how old its approval is, and the
policy (``rules/shipment-release.yaml``) decides whether they still hold.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from trytond.i18n import gettext
from trytond.model import ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from salesgate import AdapterError, Decision, FactsError, Gate, Outcome

from .exceptions import (
    ApprovalFourEyesError,
    SalesgateApprovalPending,
    SalesgateBlock,
    SalesgateFactsError,
    SalesgateUndecided,
)
from .gate import get_gate
from .sale import OUTCOMES, credit_rating, in_category, reasons_text, whole

POINT = "shipment_release"
FREIGHT_TERMS = [
    (None, ""),
    ("pickup", "Customer pickup"),
    ("prepaid", "Prepaid"),
    ("collect", "Collect"),
    ]
OVER_DELIVERY = "Over-delivery Allowed"
"""The party category that allows shipping more than ordered (no over-delivery control)."""


class ShipmentOut(metaclass=PoolMeta):
    __name__ = "stock.shipment.out"

    salesgate_key = fields.Char("Salesgate Decision", readonly=True,
        help="Digest of the shipment salesgate decided on at packing; approvals belong to it.")
    salesgate_outcome = fields.Selection(OUTCOMES, "Salesgate Outcome", readonly=True)
    salesgate_reasons = fields.Text("Salesgate Reasons", readonly=True)
    salesgate_roles = fields.Char("Salesgate Required Roles", readonly=True,
        help="The roles that must approve the version salesgate decided on (ladder order), set at packing.")
    salesgate_requester = fields.Many2One("res.user", "Salesgate Requester", readonly=True, ondelete="RESTRICT",
        help="The user who packed the shipment: they may not approve its release.")
    salesgate_freight_terms = fields.Selection(FREIGHT_TERMS, "Freight Terms", readonly=True,
        help="Set by the policy at packing: collect, except for customer pickup.")
    salesgate_freight_price_told = fields.Boolean("Freight Price Told",
        states={"readonly": Eval("state").in_(["packed", "shipped", "done", "cancelled"])},
        help="The sales office has told the customer the freight price (freight collect).")
    salesgate_approvals = fields.One2Many("salesgate.approval", "shipment", "Salesgate Approvals", readonly=True)

    @classmethod
    def copy(cls, shipments: list[Any], default: dict[str, Any] | None = None) -> list[Any]:
        default = dict(default or {})
        for name in ("salesgate_key", "salesgate_outcome", "salesgate_reasons", "salesgate_roles",
                     "salesgate_requester", "salesgate_freight_terms", "salesgate_approvals"):
            default.setdefault(name, None)
        return super().copy(shipments, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition("packed")
    def pack(cls, shipments: list[Any]) -> None:
        super().pack(shipments)
        for shipment in shipments:
            shipment.salesgate_decide()

    @classmethod
    @ModelView.button
    @Workflow.transition("shipped")
    def ship(cls, shipments: list[Any]) -> None:
        for shipment in shipments:
            shipment.salesgate_check_release()
        super().ship(shipments)

    @classmethod
    @ModelView.button
    @Workflow.transition("done")
    def do(cls, shipments: list[Any]) -> None:
        for shipment in shipments:
            if shipment.state == "packed":  # from shipped it was checked when it left
                shipment.salesgate_check_release()
        super().do(shipments)

    # -- facts ----------------------------------------------------------------------------------------------

    @property
    def salesgate_shipment_id(self) -> str:
        return self.number or f"draft-{self.id}"

    @property
    def salesgate_moves(self) -> list[Any]:
        """The goods that leave: outgoing moves not cancelled, with a quantity."""
        return [m for m in self.outgoing_moves if m.state != "cancelled" and (m.quantity or 0) > 0]

    def salesgate_parts(self) -> list[tuple[Any, list[Any]]]:
        """The outgoing moves by the sale they ship (``None``: moves of no sale), sales in number order.

        Tryton may ship several sales of one customer together; each sale's part is decided on its own,
        and the shipment leaves only when every part may.
        """
        pool = Pool()
        SaleLine = pool.get("sale.line")
        parts: dict[Any, list[Any]] = {}
        for move in self.salesgate_moves:
            sale = move.origin.sale if isinstance(move.origin, SaleLine) else None
            parts.setdefault(sale, []).append(move)
        return sorted(parts.items(), key=lambda item: (item[0] is not None, item[0].id if item[0] else 0))

    def salesgate_customer(self, gate: Gate) -> dict[str, Any]:
        """The customer and its exposure as the mapping reads them, with the credit rating of its
        party categories (``Credit Rating / poor``)."""
        code = self.customer.code
        if not code:
            raise FactsError(f"party {self.customer.rec_name!r} has no code: salesgate knows customers by code")
        adapter: Any = gate.adapter
        try:
            customer = adapter.salesgate_load_customer(customer_id=str(code))
            exposure = adapter.salesgate_load_exposure(customer_id=str(code))
        except AdapterError as exc:
            raise FactsError(f"customer {code} cannot be read: {exc}") from exc
        if customer is None:
            raise FactsError(f"customer {code} is not in the database salesgate reads (is the party saved?)")
        facts = {"customer": {**customer.model_dump(), "credit_rating": credit_rating(self.customer)}}
        if exposure is not None:
            facts["exposure"] = exposure.model_dump()
        return facts

    def salesgate_facts(self, gate: Gate, sale: Any, moves: list[Any], part_id: str, *,
                        warehouse_checked: bool) -> dict[str, Any]:
        """One sale's part of the shipment (or the moves of no sale) as a ``shipment`` document."""
        pool = Pool()
        Date = pool.get("ir.date")
        where = f"shipment {self.salesgate_shipment_id}"
        shipped_now: dict[Any, int] = {}
        lines = []
        for number, move in enumerate(moves, start=1):
            line = move.origin if sale is not None else None
            qty = whole(move.quantity, f"{where}, move {number}")
            product = move.product
            if not product.code:
                raise FactsError(f"{where}: product {product.rec_name!r} has no code: salesgate knows products by code")
            before = 0
            if line is not None:
                before = sum(whole(m.quantity, f"{where}, {line.rec_name}") for m in line.moves
                             if m.state == "done" and m.shipment != self and m.to_location.type == "customer")
                shipped_now[line] = shipped_now.get(line, 0) + qty
            lines.append({"line_no": number, "sku": str(product.code), "qty": qty,
                          "ordered_qty": whole(line.quantity, f"{where}, {line.rec_name}") if line else 0,
                          "already_shipped_qty": before})
        party = self.customer
        document: dict[str, Any] = {
            "id": part_id, "customer_id": str(party.code), "order_approved": False, "order_closed": False,
            "order_approved_by_gm": False, "price_confirmed": False, "credit_confirmed": False,
            "payment_confirmed": False, "notice_signed_by_gm": self.salesgate_signed_by_gm(),
            "warehouse_checked": warehouse_checked, "over_delivery_allowed": in_category(party, OVER_DELIVERY),
            "customer_pickup": self.delivery_address.party != party,
            "freight_price_told": bool(self.salesgate_freight_price_told), "lines": lines,
            "amount": Decimal(0)}
        if sale is not None:
            with Transaction().set_context(company=sale.company.id):
                today = Date.today()
            decided = bool(sale.salesgate_key)
            document.update({
                "order_id": sale.number or f"draft-{sale.id}",
                "order_approved": sale.state in ("confirmed", "processing", "done"),
                "order_closed": sale.state in ("done", "cancelled"),
                "order_approved_by_gm": "general_manager" in sale.salesgate_approved_roles,
                # Confirmation checked the sale salesgate priced and credit-checked (with the customer's
                # receivables and overdue payments) at quote: that is finance's check of 003 step 3.
                "price_confirmed": decided, "credit_confirmed": decided, "payment_confirmed": decided,
                "amount": self.salesgate_order_amount(sale, shipped_now),
                })
            approved_on = sale.salesgate_approved_on
            if decided and sale.salesgate_amount is not None:
                document["approved_amount"] = sale.salesgate_amount
            if decided and approved_on is not None:
                document["approval_age_days"] = max((today - approved_on).days, 0)
            if decided and sale.salesgate_credit_rating:
                document["credit_rating_at_approval"] = sale.salesgate_credit_rating
        return {"shipment": document}

    @staticmethod
    def salesgate_order_amount(sale: Any, shipped_now: dict[Any, int]) -> Decimal:
        """The sale's amount now: its untaxed total, or the value of everything shipped on it with this
        shipment at the sale's prices when that is more (over-delivery)."""
        delivered = Decimal(0)
        for line in sale.lines:
            if line.type != "line" or (line.quantity or 0) <= 0:
                continue
            done = sum(m.quantity for m in line.moves if m.state == "done" and m.to_location.type == "customer")
            quantity = max(Decimal(str(done + shipped_now.get(line, 0))), Decimal(str(line.quantity)))
            delivered += quantity * (line.unit_price or 0)
        return max(sale.untaxed_amount or Decimal(0), sale.currency.round(delivered))

    def salesgate_signed_by_gm(self) -> bool:
        """The general manager approved this version of the shipment (signed the shipping notice)."""
        return any(a.role == "general_manager" and a.state == "approved" and a.decision_key == self.salesgate_key
                   for a in self.salesgate_approvals) if self.salesgate_key else False

    def salesgate_digest(self, gate: Gate) -> str:
        """What a decision depends on in the shipment itself; the customer's credit is asked again."""
        content = {
            "policy": gate.policy.hash, "company": self.company.id, "customer": self.customer.id,
            "address": self.delivery_address.id, "freight_price_told": bool(self.salesgate_freight_price_told),
            "moves": sorted([str(m.origin) if m.origin else None, m.product.id, str(m.quantity), m.unit.id]
                            for m in self.salesgate_moves),
            }
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:32]

    # -- decisions ------------------------------------------------------------------------------------------

    def salesgate_decisions(self, gate: Gate, *, warehouse_checked: bool) -> list[Decision]:
        try:
            with without_check_access():  # the warehouse decides with what the sale says, whatever its rights
                customer = self.salesgate_customer(gate)
                parts = self.salesgate_parts()
                decisions = []
                for sale, moves in parts:
                    part_id = self.salesgate_shipment_id
                    if len(parts) > 1:
                        part_id += "/" + (sale.number or f"draft-{sale.id}" if sale is not None else "no-order")
                    facts = {**self.salesgate_facts(gate, sale, moves, part_id, warehouse_checked=warehouse_checked),
                             **customer}
                    decisions.append(gate.decide(POINT, facts))
        except FactsError as exc:
            raise SalesgateFactsError(gettext(
                    "salesgate.msg_shipment_facts", shipment=self.rec_name, error=str(exc))) from exc
        return decisions

    def salesgate_decide(self) -> None:
        """At packing: decide, refuse a block, record the roles that must approve this version."""
        pool = Pool()
        Approval = pool.get("salesgate.approval")
        gate = get_gate()
        decisions = self.salesgate_decisions(gate, warehouse_checked=True)
        outcome = max((d.outcome for d in decisions), key=lambda o: o.rank, default=Outcome.allow)
        reasons = reasons_text(decisions)
        if outcome is Outcome.block:  # what refuses it; approvals and reminders would not let it through
            raise SalesgateBlock(gettext("salesgate.msg_shipment_blocked", shipment=self.rec_name,
                                         reasons=reasons_text(decisions, only=Outcome.block)))
        key = self.salesgate_digest(gate)
        ladder = list(gate.policy.roles)
        roles: dict[str, set[str]] = {}
        for decision in decisions:
            for approval in decision.approvals:
                roles.setdefault(approval.role, set()).update(approval.rules)
        required = sorted(roles, key=ladder.index)
        freight = [d.outputs.get("freight_terms") for d in decisions if d.outputs.get("freight_terms")]
        sale = next((s for s, _ in self.salesgate_parts() if s is not None), None)
        void = [a for a in self.salesgate_approvals
                if a.state == "pending" and (a.decision_key != key or a.role not in roles)]
        current = {a.role for a in self.salesgate_approvals if a.decision_key == key and a not in void}
        with without_check_access():  # nobody else may write approvals (salesgate.xml)
            Approval.delete(void)
            if sale is not None:  # a shipment of no sale is always refused: R13
                Approval.create([{
                        "sale": sale.id, "shipment": self.id, "decision_key": key, "role": role,
                        "position": ladder.index(role) + 1, "rules": ", ".join(sorted(roles[role])),
                        } for role in required if role not in current])
            self.write([self], {
                    "salesgate_key": key, "salesgate_outcome": outcome.value, "salesgate_reasons": reasons or None,
                    "salesgate_roles": ",".join(required) or None, "salesgate_requester": Transaction().user,
                    "salesgate_freight_terms": freight[0] if len(set(freight)) == 1 else None})

    def salesgate_check_release(self) -> None:
        """Before the goods leave: read only, so running it again gives the same answer."""
        gate = get_gate()
        key = self.salesgate_digest(gate)
        if self.salesgate_key != key:
            raise SalesgateUndecided(gettext("salesgate.msg_shipment_undecided", shipment=self.rec_name))
        decisions = self.salesgate_decisions(gate, warehouse_checked=True)
        blocked = [d for d in decisions if d.outcome is Outcome.block]
        if blocked:
            raise SalesgateBlock(gettext("salesgate.msg_shipment_blocked", shipment=self.rec_name,
                                         reasons=reasons_text(blocked, only=Outcome.block)))
        required = [role for role in (self.salesgate_roles or "").split(",") if role]
        now = [role for d in decisions for role in d.required_roles if role not in required]
        self.salesgate_check_approved(key, [*required, *dict.fromkeys(now)])

    def salesgate_check_approved(self, key: str, roles: list[str]) -> None:
        """Each role approved for this version, by distinct users, none of them the one who packed it."""
        approved: dict[str, list[Any]] = {}
        for approval in self.salesgate_approvals:
            if approval.decision_key == key and approval.state == "approved" and approval.approved_by:
                approved.setdefault(approval.role, []).append(approval.approved_by)
        missing = [role for role in roles if role not in approved]
        if missing:
            raise SalesgateApprovalPending(gettext(
                    "salesgate.msg_shipment_approvals_pending", shipment=self.rec_name, roles=", ".join(missing)))
        requester = self.salesgate_requester
        by_requester = [role for role in roles
                        if requester is not None and any(u.id == requester.id for u in approved[role])]
        if by_requester:
            raise ApprovalFourEyesError(gettext(
                    "salesgate.msg_shipment_approved_by_requester", shipment=self.rec_name,
                    user=requester.rec_name if requester else "", roles=", ".join(by_requester)))
        steps: dict[int, list[str]] = {}
        for role in roles:
            for user_id in {u.id for u in approved[role]}:
                steps.setdefault(user_id, []).append(role)
        shared = [role for role in roles if any(role in rs for rs in steps.values() if len(rs) > 1)]
        if shared:
            raise ApprovalFourEyesError(gettext(
                    "salesgate.msg_shipment_approvers_not_distinct", shipment=self.rec_name, roles=", ".join(shared)))
