"""Approvals salesgate requires before a sale may be confirmed: one record per role and decision.

A user approves a role when they belong to the Tryton group ``Salesgate <role>`` (the module creates
one for each role of the seed policy's ladder), and only after the roles below it on the ladder.
"""

from __future__ import annotations

import datetime as dt

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .exceptions import ApprovalOrderError

GROUP_PREFIX = "Salesgate "


class Approval(ModelSQL, ModelView):
    __name__ = "salesgate.approval"

    sale = fields.Many2One("sale.sale", "Sale", required=True, ondelete="CASCADE", readonly=True)
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
        return f"{self.sale.rec_name}: {self.role}"

    @classmethod
    @ModelView.button
    def approve(cls, approvals: list[Approval]) -> None:
        """Approve in ladder order, each role by a member of its group."""
        pool = Pool()
        User = pool.get("res.user")
        user = User(Transaction().user)
        groups = {group.name for group in user.groups}
        for approval in sorted(approvals, key=lambda a: (a.sale.id, a.position or 0)):
            if approval.state == "approved":
                continue
            group = GROUP_PREFIX + approval.role
            if group not in groups:
                raise AccessError(gettext(
                        "salesgate.msg_approval_not_in_group",
                        user=user.rec_name, role=approval.role, group=group, sale=approval.sale.rec_name))
            waiting = [a.role for a in cls.search([
                        ("sale", "=", approval.sale.id),
                        ("decision_key", "=", approval.decision_key),
                        ("position", "<", approval.position),
                        ("state", "!=", "approved"),
                        ], order=[("position", "ASC")])]
            if waiting:
                raise ApprovalOrderError(gettext(
                        "salesgate.msg_approval_ladder",
                        role=approval.role, sale=approval.sale.rec_name, waiting=", ".join(waiting)))
            cls.write([approval], {
                    "state": "approved",
                    "approved_by": user.id,
                    "approved_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),  # Tryton stores naive UTC
                    })
