"""salesgate tables: decision log, approval requests, credit reservations and their lock rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from salesgate_adapters.store.types import Money, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "salesgate_decisions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.Column("hook", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("policy_name", sa.String(255), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("policy_hash", sa.String(128), nullable=False),
        sa.Column("inputs_digest", sa.String(64), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.CheckConstraint("outcome IN ('allow', 'warn', 'require_approval', 'block')",
                           name="ck_salesgate_decisions_outcome"),
        **MYSQL,
    )
    op.create_index("ix_salesgate_decisions_subject", "salesgate_decisions", ["subject", "decided_at"])
    op.create_index("ix_salesgate_decisions_decided_at", "salesgate_decisions", ["decided_at"])

    op.create_table(
        "salesgate_approval_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("decision_id", sa.String(36),
                  sa.ForeignKey("salesgate_decisions.id", name="fk_salesgate_approval_decision"), nullable=False),
        sa.Column("hook", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("role", sa.String(255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'void')",
                           name="ck_salesgate_approval_requests_status"),
        **MYSQL,
    )
    op.create_index("uq_salesgate_approval_requests_role", "salesgate_approval_requests",
                    ["decision_id", "role"], unique=True)
    op.create_index("ix_salesgate_approval_requests_subject", "salesgate_approval_requests", ["subject", "status"])

    op.create_table(
        "salesgate_credit_reservations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("order_id", sa.String(255), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("policy_hash", sa.String(128), nullable=False),
        sa.Column("decision_id", sa.String(36),
                  sa.ForeignKey("salesgate_decisions.id", name="fk_salesgate_reservation_decision"), nullable=True),
        sa.CheckConstraint("status IN ('reserved', 'confirmed', 'cancelled', 'expired')",
                           name="ck_salesgate_credit_reservations_status"),
        **MYSQL,
    )
    op.create_index("uq_salesgate_credit_reservations_order", "salesgate_credit_reservations", ["order_id"],
                    unique=True)
    op.create_index("ix_salesgate_credit_reservations_customer", "salesgate_credit_reservations",
                    ["customer_id", "status"])

    op.create_table(
        "salesgate_credit_locks",
        sa.Column("customer_id", sa.String(255), primary_key=True),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("salesgate_credit_locks")
    op.drop_table("salesgate_credit_reservations")
    op.drop_table("salesgate_approval_requests")
    op.drop_table("salesgate_decisions")
