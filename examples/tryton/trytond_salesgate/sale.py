"""Tryton's sale workflow asks salesgate.

* **Quote** (``draft → quotation``): order approval, credit check and pricing for an ordinary sale, the
  return rules for each returned line of a return sale. A ``block`` refuses the quote with salesgate's
  reasons; the required roles are stored on the sale (``salesgate_roles``) with the quoting user
  (``salesgate_requester``) and become ``salesgate.approval`` records for this version of the sale;
  pending approvals of roles no longer required are voided.
* **Confirm** (``quotation → confirmed``): only a sale salesgate decided on in this version, with an
  approved record for each role stored at quote, each approved by a different user who is not the
  requester; the credit is checked again (read only) because other sales may have been confirmed
  since the quote. Nothing is written here: with ``sale_credit_limit`` Tryton may run the confirmation
  several times (table locks restart the transaction), so the check must be free of side effects.
* **Sale lines** get salesgate's policy price: Tryton's own price (list price, price list) is the base,
  the policy's markups and discounts are applied to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
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

logger = logging.getLogger(__name__)

RETURN_REASONS = [
    (None, ""),
    ("defect", "Defect"),
    ("damaged", "Damaged"),
    ("wrong_item", "Wrong item"),
    ("late", "Late"),
    ("not_needed", "Not needed"),
    ("other", "Other"),
    ]


OUTCOMES = [
    (None, ""),
    ("allow", "Allow"),
    ("warn", "Warn"),
    ("require_approval", "Approval required"),
    ("block", "Block"),
    ]
CREDIT_RATINGS = [(None, ""), ("good", "Good"), ("fair", "Fair"), ("poor", "Poor")]
CREDIT_RATING = "Credit Rating"
"""Parent of the party categories ``good``, ``fair`` and ``poor``: the customer's credit rating."""


def in_category(party: Any, name: str) -> bool:
    """Whether the party is in the category named ``name``."""
    return any(category.name == name for category in party.categories)


def credit_rating(party: Any) -> str:
    """The party's credit rating: a category under ``Credit Rating`` (the worst if several), else good."""
    ratings = {category.name.strip().lower() for category in party.categories
               if category.parent is not None and category.parent.name == CREDIT_RATING}
    return next((rating for rating in ("poor", "fair") if rating in ratings), "good")


def whole(quantity: float, where: str) -> int:
    if quantity != int(quantity):
        raise FactsError(f"{where}: quantity {quantity} is not a whole number; salesgate decides whole units")
    return int(quantity)


def reasons_text(decisions: list[Decision], only: Outcome | None = None) -> str:
    """The decisions' reasons, one a line: ``message (rule, line n)``; ``only`` those of one outcome."""
    lines = []
    for decision in decisions:
        for reason in decision.reasons:
            if only is not None and reason.outcome is not only:
                continue
            where = f", line {reason.line_no}" if reason.line_no is not None else ""
            lines.append(f"{reason.message} ({reason.rule}{where})")
    return "\n".join(dict.fromkeys(lines))


def _products(gate: Gate, prices: dict[str, Decimal]) -> list[dict[str, Any]] | None:
    """The products as the mapping reads them (cost, stock, name), priced at Tryton's own sale price.

    Tryton's price (list price, or the customer's price list) is the base the policy adjusts. ``None``
    when the database cannot be read: the gate then loads the products itself and, failing too,
    answers by its failure mode with the reason.
    """
    adapter: Any = gate.adapter
    try:
        loaded = adapter.salesgate_load_products(skus=sorted(prices)) or []
    except AdapterError:
        return None
    products = {p.sku: p.model_dump() for p in loaded}
    return [{**products.get(sku, {"sku": sku}), "list_price": price} for sku, price in sorted(prices.items())]


class Sale(metaclass=PoolMeta):
    __name__ = "sale.sale"

    salesgate_key = fields.Char("Salesgate Decision", readonly=True,
        help="Digest of the sale salesgate decided on; approvals belong to it.")
    salesgate_outcome = fields.Selection(OUTCOMES, "Salesgate Outcome", readonly=True)
    salesgate_reasons = fields.Text("Salesgate Reasons", readonly=True)
    salesgate_roles = fields.Char("Salesgate Required Roles", readonly=True,
        help="The roles that must approve the version salesgate decided on (ladder order), set at quote.")
    salesgate_requester = fields.Many2One("res.user", "Salesgate Requester", readonly=True, ondelete="RESTRICT",
        help="The user who quoted the sale: they may not approve it.")
    salesgate_approvals = fields.One2Many("salesgate.approval", "sale", "Salesgate Approvals", readonly=True,
        filter=[("shipment", "=", None)])
    salesgate_amount = fields.Numeric("Salesgate Decided Amount", digits=(13, 4), readonly=True,
        help="The untaxed amount of the version salesgate decided on: what its approvals approved.")
    salesgate_credit_rating = fields.Selection(CREDIT_RATINGS, "Salesgate Credit Rating", readonly=True,
        help="The customer's credit rating when salesgate decided on the sale (Credit Rating categories).")
    salesgate_return_reason = fields.Selection(RETURN_REASONS, "Return Reason",
        states={"readonly": Eval("state") != "draft"},
        help="Why the goods come back (return sales: lines with a negative quantity).")

    @classmethod
    def copy(cls, sales: list[Any], default: dict[str, Any] | None = None) -> list[Any]:
        default = dict(default or {})
        for name in ("salesgate_key", "salesgate_outcome", "salesgate_reasons", "salesgate_roles",
                     "salesgate_requester", "salesgate_approvals", "salesgate_amount", "salesgate_credit_rating"):
            default.setdefault(name, None)
        return super().copy(sales, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition("quotation")
    def quote(cls, sales: list[Any]) -> None:
        super().quote(sales)
        for sale in sales:
            sale.salesgate_decide()

    @classmethod
    @ModelView.button
    @Workflow.transition("confirmed")
    def confirm(cls, sales: list[Any]) -> None:
        for sale in sales:
            sale.salesgate_check_confirmation()
        super().confirm(sales)

    # -- facts ----------------------------------------------------------------------------------------------

    @property
    def salesgate_order_lines(self) -> list[Any]:
        return [line for line in self.lines if line.type == "line" and (line.quantity or 0) > 0]

    @property
    def salesgate_return_lines(self) -> list[Any]:
        return [line for line in self.lines if line.type == "line" and (line.quantity or 0) < 0]

    @property
    def salesgate_required_roles(self) -> list[str]:
        """The roles stored at quote for the decided version, in ladder order."""
        return [role for role in (self.salesgate_roles or "").split(",") if role]

    @property
    def salesgate_approved_roles(self) -> list[str]:
        """The roles approved for the version salesgate decided on."""
        return [a.role for a in self.salesgate_approvals
                if a.decision_key == self.salesgate_key and a.state == "approved"]

    @property
    def salesgate_approved_on(self) -> Any:
        """When the sale was approved: the day of its last approval of the decided version, else (nothing
        to approve) the day it was confirmed; ``None`` before that."""
        days = [a.approved_at.date() for a in self.salesgate_approvals
                if a.decision_key == self.salesgate_key and a.state == "approved" and a.approved_at]
        if days:
            return max(days)
        return self.sale_date if self.state in ("confirmed", "processing", "done") else None

    @property
    def salesgate_order_id(self) -> str:
        return self.number or f"draft-{self.id}"

    @property
    def salesgate_day(self) -> str:
        pool = Pool()
        Date = pool.get("ir.date")
        with Transaction().set_context(company=self.company.id):
            day = self.sale_date or self.quotation_date or Date.today()
        return day.isoformat()

    @property
    def salesgate_customer_id(self) -> str:
        if not self.party.code:
            raise FactsError(f"party {self.party.rec_name!r} has no code: salesgate knows customers by code")
        return str(self.party.code)

    def salesgate_order_facts(self, gate: Gate) -> dict[str, Any]:
        """The order as salesgate sees it; customer, exposure and products come through the mapping."""
        lines, prices = [], {}
        for number, line in enumerate(self.salesgate_order_lines, start=1):
            sku = line.salesgate_sku
            lines.append({"line_no": number, "sku": sku, "unit_price": line.unit_price,
                          "qty": whole(line.quantity, f"{self.salesgate_order_id}, line {number}")})
            prices.setdefault(sku, line.salesgate_tryton_price())
        facts: dict[str, Any] = {"order": {
                "id": self.salesgate_order_id, "customer_id": self.salesgate_customer_id,
                "order_date": self.salesgate_day, "currency": self.currency.code, "lines": lines}}
        products = _products(gate, prices)
        if products is not None:
            facts["products"] = products
        return facts

    def salesgate_return_facts(self, line: Any, number: int) -> dict[str, Any]:
        """A returned line (negative quantity) of a return sale made from the original sale."""
        pool = Pool()
        Sale = pool.get("sale.sale")
        where = f"{self.salesgate_order_id}, line {number}"
        if not isinstance(self.origin, Sale) or not self.origin.number:
            raise FactsError(f"{where}: a return must be made from the original sale (Return Sale), "
                             "so that salesgate can find its delivery")
        return {"return": {
                "id": f"{self.salesgate_order_id}/{number}", "customer_id": self.salesgate_customer_id,
                "type": "return", "reason": self.salesgate_return_reason or "other",
                "original_order_id": self.origin.number, "sku": line.salesgate_sku,
                "qty": whole(-line.quantity, where), "requested_on": self.salesgate_day}}

    def salesgate_digest(self, gate: Gate) -> str:
        """What a decision depends on: the same digest at confirmation means the same sale was decided."""
        content = {
            "policy": gate.policy.hash, "company": self.company.id, "party": self.party.id,
            "currency": self.currency.id, "origin": str(self.origin) if self.origin else None,
            "return_reason": self.salesgate_return_reason,
            "lines": [[line.type, line.product.id if line.product else None, str(line.quantity),
                       str(line.unit_price)] for line in self.lines],
            }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]

    # -- decisions ------------------------------------------------------------------------------------------

    def salesgate_decisions(self, gate: Gate) -> list[Decision]:
        try:
            decisions = []
            if self.salesgate_order_lines:
                facts = self.salesgate_order_facts(gate)
                decisions += [gate.approve_order(facts), gate.check_credit(facts), gate.price_order(facts)]
            for number, line in enumerate(self.salesgate_return_lines, start=1):
                decisions.append(gate.handle_return(self.salesgate_return_facts(line, number)))
        except FactsError as exc:
            raise SalesgateFactsError(gettext(
                    "salesgate.msg_sale_facts", sale=self.rec_name, error=str(exc))) from exc
        return decisions

    def salesgate_decide(self) -> None:
        """At quote: decide, refuse a block, record the roles that must approve this version."""
        pool = Pool()
        Approval = pool.get("salesgate.approval")
        gate = get_gate()
        decisions = self.salesgate_decisions(gate)
        outcome = max((d.outcome for d in decisions), key=lambda o: o.rank, default=Outcome.allow)
        reasons = reasons_text(decisions)
        if outcome is Outcome.block:
            raise SalesgateBlock(gettext("salesgate.msg_sale_blocked", sale=self.rec_name, reasons=reasons))
        key = self.salesgate_digest(gate)
        ladder = list(gate.policy.roles)
        roles: dict[str, set[str]] = {}
        for decision in decisions:
            for approval in decision.approvals:
                roles.setdefault(approval.role, set()).update(approval.rules)
        required = sorted(roles, key=ladder.index)
        # Pending approvals of another version, or of a role this decision no longer requires, are void;
        # approved ones stay as history (they count only for their own version and role).
        void = [a for a in self.salesgate_approvals
                if a.state == "pending" and (a.decision_key != key or a.role not in roles)]
        current = {a.role for a in self.salesgate_approvals if a.decision_key == key and a not in void}
        with without_check_access():  # nobody else may write approvals (salesgate.xml)
            Approval.delete(void)
            Approval.create([{
                    "sale": self.id, "decision_key": key, "role": role, "position": ladder.index(role) + 1,
                    "rules": ", ".join(sorted(roles[role])),
                    } for role in required if role not in current])
            self.write([self], {
                    "salesgate_key": key, "salesgate_outcome": outcome.value, "salesgate_reasons": reasons or None,
                    "salesgate_roles": ",".join(required) or None, "salesgate_requester": Transaction().user,
                    "salesgate_amount": self.untaxed_amount, "salesgate_credit_rating": credit_rating(self.party)})

    def salesgate_check_confirmation(self) -> None:
        """At confirm: read only and idempotent (Tryton may run a confirmation more than once)."""
        gate = get_gate()
        key = self.salesgate_digest(gate)
        if self.salesgate_key != key:
            raise SalesgateUndecided(gettext("salesgate.msg_sale_undecided", sale=self.rec_name))
        required = self.salesgate_required_roles
        self.salesgate_check_approved(key, required)
        if not self.salesgate_order_lines:
            return
        try:
            credit = gate.check_credit(self.salesgate_order_facts(gate))
        except FactsError as exc:
            raise SalesgateFactsError(gettext(
                    "salesgate.msg_sale_facts", sale=self.rec_name, error=str(exc))) from exc
        if credit.outcome is Outcome.block:
            raise SalesgateBlock(gettext("salesgate.msg_sale_blocked", sale=self.rec_name,
                                         reasons=reasons_text([credit])))
        self.salesgate_check_approved(key, [*required, *(r for r in credit.required_roles if r not in required)])

    def salesgate_check_approved(self, key: str, roles: list[str]) -> None:
        """Each role approved for this decision, by distinct users, none of them the requester.

        Only approved records count, looked up role by role: a missing record (however it went missing)
        is a role not approved, never one fewer role to approve.
        """
        approved: dict[str, list[Any]] = {}
        for approval in self.salesgate_approvals:
            if approval.decision_key == key and approval.state == "approved" and approval.approved_by:
                approved.setdefault(approval.role, []).append(approval.approved_by)
        missing = [role for role in roles if role not in approved]
        if missing:
            raise SalesgateApprovalPending(gettext(
                    "salesgate.msg_sale_approvals_pending", sale=self.rec_name, roles=", ".join(missing)))
        requester = self.salesgate_requester
        by_requester = [role for role in roles
                        if requester is not None and any(u.id == requester.id for u in approved[role])]
        if by_requester:
            raise ApprovalFourEyesError(gettext(
                    "salesgate.msg_sale_approved_by_requester", sale=self.rec_name,
                    user=requester.rec_name if requester else "", roles=", ".join(by_requester)))
        steps: dict[int, list[str]] = {}  # approver → the roles they approved for this decision
        for role in roles:
            for user_id in {u.id for u in approved[role]}:
                steps.setdefault(user_id, []).append(role)
        shared = [role for role in roles if any(role in rs for rs in steps.values() if len(rs) > 1)]
        if shared:
            raise ApprovalFourEyesError(gettext(
                    "salesgate.msg_sale_approvers_not_distinct", sale=self.rec_name, roles=", ".join(shared)))


class Line(metaclass=PoolMeta):
    __name__ = "sale.line"

    @property
    def salesgate_sku(self) -> str:
        if not self.product or not self.product.code:
            raise FactsError(f"line {self.rec_name!r} has no product code: salesgate knows products by code")
        return str(self.product.code)

    def salesgate_tryton_price(self) -> Decimal:
        """Tryton's own unit price for the line (list price, or the customer's price list)."""
        return super().compute_unit_price()  # type: ignore[no-any-return]

    @fields.depends("sale", "_parent_sale.party", "_parent_sale.number", "_parent_sale.currency",
                    "_parent_sale.sale_date", "_parent_sale.quotation_date", "_parent_sale.company")
    def compute_unit_price(self) -> Decimal | None:
        """Tryton's price with the policy's markups and discounts: salesgate's policy price."""
        price = super().compute_unit_price()
        sale = self.sale
        quantity = self.quantity or 0
        if (price is None or not self.product or not self.product.code or not sale or not sale.party
                or not sale.party.code or quantity <= 0 or quantity != int(quantity)):
            return price  # type: ignore[no-any-return]
        gate = get_gate()
        sku = str(self.product.code)
        facts: dict[str, Any] = {"order": {
                "id": sale.number or "draft", "customer_id": str(sale.party.code),
                "order_date": (sale.sale_date or sale.quotation_date or _today()).isoformat(),
                "currency": sale.currency.code if sale.currency else "CNY",
                "lines": [{"line_no": 1, "sku": sku, "qty": int(quantity), "unit_price": price}]}}
        products = _products(gate, {sku: price})
        if products is not None:
            facts["products"] = products
        decision = gate.price_order(facts)
        if decision.failure is not None or decision.pricing is None:
            logger.warning("salesgate could not price %s for %s: %s", sku, sale.party.code, decision.failure)
            return price  # type: ignore[no-any-return]
        return decision.pricing.lines[0].policy_price


def _today() -> Any:
    return Pool().get("ir.date").today()
