"""Approvals salesgate requires before a sale may be confirmed, or a customer shipment may leave: one
record per role and decision. A shipment's approvals name the shipment and its sale; a sale's name the
sale only.

A user approves a role when they belong to the Tryton group ``Salesgate <role>`` (the module creates
one for each role of the seed policy's ladder), only after the roles below it on the ladder, never for
a sale they quoted or a shipment they packed themselves (the requester), and at most one step of the
same decision (four eyes,
as salesgate's own store enforces: docs/approvals.md).

The records are the module's own: users may read them, nobody may create, write or delete them (the
``ir.model.access`` rows of salesgate.xml; Tryton administrators, whom model access does not restrict,
are refused by :meth:`Approval.check_modification`). Quote and Approve write them without access checks.
Confirmation does not trust their presence either: it requires an approved record for each role the
sale stores as required (``sale.salesgate_roles``), so a record removed behind the module's back only
leaves that role unapproved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .exceptions import ApprovalFourEyesError, ApprovalOrderError

GROUP_PREFIX = "Salesgate "


class Approval(ModelSQL, ModelView):
    __name__ = "salesgate.approval"

    sale = fields.Many2One("sale.sale", "Sale", required=True, ondelete="CASCADE", readonly=True)
    shipment = fields.Many2One("stock.shipment.out", "Shipment", ondelete="CASCADE", readonly=True,
        help="For the release of a customer shipment (salesgate's shipment_release); empty for the sale itself.")
    decision_key = fields.Char(
        "Decision", readonly=True, help="The version of the sale salesgate decided on (a digest of its content).")
    role = fields.Char("Role", required=True, readonly=True)
    position = fields.Integer("Position", readonly=True, help="1 is the lowest role on the approval ladder.")
    rules = fields.Char("Rules", readonly=True)
    state = fields.Selection([
            ("pending", "Pending"),
            ("approved", "Approved"),
            ], "State", readonly=True, required=True)
    approved_by = fields.Many2One("res.user", "Approved by", readonly=True)
    approved_at = fields.Timestamp("Approved at", readonly=True)

    @classmethod
    def __setup__(cls) -> None:
        super().__setup__()
        cls._order = [("sale", "ASC"), ("decision_key", "ASC"), ("position", "ASC")]
        cls._buttons.update({
                "approve": {
                    "invisible": Eval("state") != "pending",
                    "depends": ["state"],
                    },
                })

    @classmethod
    def default_state(cls) -> str:
        return "pending"

    def get_rec_name(self, name: str) -> str:
        owner = self.owner
        return f"{owner.rec_name if owner else ''}: {self.role}"

    @property
    def owner(self) -> Any:
        """What is approved: the shipment for a shipment's release, else the sale."""
        return self.shipment or self.sale

    @property
    def document(self) -> str:
        """The approved document as messages name it: ``sale "SO1"`` or ``shipment "OUT1"``."""
        kind = "shipment" if self.shipment else "sale"
        return f'{kind} "{self.owner.rec_name}"'

    @classmethod
    def check_modification(cls, mode: str, records: list[Approval], values: Any = None,
                           external: bool = False) -> None:
        """Refuse every create, write and delete that does not come from the module itself.

        ``external`` is true for a call with access checks (a client, proteus, RPC) by a user other than
        root; the module's own writes run without access checks. Model access already refuses them for
        ordinary users (salesgate.xml); this also holds for administrators, whom model access lets through.
        """
        super().check_modification(mode, records, values=values, external=external)
        if external:
            raise AccessError(gettext("salesgate.msg_approval_readonly", action=mode))

    @classmethod
    @ModelView.button
    def approve(cls, approvals: list[Approval]) -> None:
        """Approve in ladder order, each role by a member of its group who neither quoted the sale (packed
        the shipment) nor approved another step of the same decision."""
        pool = Pool()
        User = pool.get("res.user")
        user = User(Transaction().user)
        groups = {group.name for group in user.groups}
        for approval in sorted(approvals, key=lambda a: (a.sale.id, a.shipment.id if a.shipment else 0,
                                                         a.position or 0)):
            if approval.state == "approved":
                continue
            with without_check_access():  # approvers of a shipment's release need not be warehouse users
                owner, document = approval.owner, approval.document
                requester = owner.salesgate_requester
                required = [role for role in (owner.salesgate_roles or "").split(",") if role]
                owner_key = owner.salesgate_key
            siblings = [("sale", "=", approval.sale.id),
                        ("shipment", "=", approval.shipment.id if approval.shipment else None),
                        ("decision_key", "=", approval.decision_key)]
            group = GROUP_PREFIX + approval.role
            if group not in groups:
                raise AccessError(gettext(
                        "salesgate.msg_approval_not_in_group",
                        user=user.rec_name, role=approval.role, group=group, document=document))
            if requester is not None and requester.id == user.id:
                raise ApprovalFourEyesError(gettext(
                        "salesgate.msg_approval_requester" if not approval.shipment
                        else "salesgate.msg_approval_requester_shipment",
                        user=user.rec_name, role=approval.role, document=document))
            with without_check_access():
                other_steps = [a.role for a in cls.search([
                            *siblings,
                            ("state", "=", "approved"),
                            ("approved_by", "=", user.id),
                            ("id", "!=", approval.id),
                            ], order=[("position", "ASC")])]
            if other_steps:
                raise ApprovalFourEyesError(gettext(
                        "salesgate.msg_approval_one_step",
                        user=user.rec_name, role=approval.role, document=document,
                        approved=", ".join(other_steps)))
            with without_check_access():
                waiting = [a.role for a in cls.search([
                            *siblings,
                            ("position", "<", approval.position),
                            ("state", "!=", "approved"),
                            ], order=[("position", "ASC")])]
                if approval.decision_key == owner_key and approval.role in required:
                    approved = {a.role for a in cls.search([*siblings, ("state", "=", "approved")])}
                    below = required[:required.index(approval.role)]
                    waiting += [r for r in below if r not in approved and r not in waiting]
            if waiting:
                raise ApprovalOrderError(gettext(
                        "salesgate.msg_approval_ladder",
                        role=approval.role, document=document, waiting=", ".join(waiting)))
            with without_check_access():
                cls.write([approval], {
                        "state": "approved",
                        "approved_by": user.id,
                        "approved_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),  # Tryton stores naive UTC
                        })
