"""Errors a Tryton user sees; their text comes from message.xml (translatable)."""

from __future__ import annotations

from trytond.exceptions import UserError


class SalesgateBlock(UserError):
    """salesgate's policy refuses the sale or return (its reasons are in the message)."""


class SalesgateApprovalPending(UserError):
    """The sale needs approvals that have not all been given."""


class SalesgateUndecided(UserError):
    """The sale was changed, or never quoted, since salesgate decided on it."""


class SalesgateFactsError(UserError):
    """The sale cannot be expressed as salesgate facts (no product code, a fractional quantity, ...)."""


class ApprovalOrderError(UserError):
    """An approval was given before the roles below it on the ladder."""


class ApprovalFourEyesError(UserError):
    """The requester approving their own sale, or one person approving two steps of one decision."""
