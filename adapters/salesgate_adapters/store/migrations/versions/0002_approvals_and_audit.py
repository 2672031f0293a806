"""Approval workflow and audit log: approver, digest, expiry and escalation on approval requests;
role members; the hash-chained audit log and its head row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from salesgate_adapters.store.types import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
GENESIS = "0" * 64
STATUS_CHECK = "ck_salesgate_approval_requests_status"
OLD_STATUSES = "status IN ('pending', 'approved', 'rejected', 'void')"
NEW_STATUSES = "status IN ('pending', 'approved', 'rejected', 'void', 'expired')"
REQUEST_COLUMNS: list[tuple[str, Any]] = [
    ("approval_digest", sa.String(64)),
    ("requested_by", sa.String(255)),
    ("acted_by", sa.String(255)),
    ("acted_at", UtcDateTime()),
    ("comment", sa.Text()),
    ("status_reason", sa.Text()),
    ("expires_at", UtcDateTime()),
    ("escalate_at", UtcDateTime()),
    ("escalate_to", sa.String(255)),
    ("escalated_at", UtcDateTime()),
]


def upgrade() -> None:
    with op.batch_alter_table("salesgate_decisions") as batch:
        batch.add_column(sa.Column("approval_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("actor", sa.String(255), nullable=True))

    # SQLite cannot alter a CHECK constraint: batch mode copies the table with the new one.
    with op.batch_alter_table("salesgate_approval_requests", recreate="auto") as batch:
        for name, type_ in REQUEST_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.drop_constraint(STATUS_CHECK, type_="check")
        batch.create_check_constraint(STATUS_CHECK, NEW_STATUSES)

    op.create_table(
        "salesgate_role_members",
        sa.Column("role", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("granted_by", sa.String(255), nullable=True),
        sa.Column("granted_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("role", "user_id", name="pk_salesgate_role_members"),
        **MYSQL,
    )
    op.create_index("ix_salesgate_role_members_user", "salesgate_role_members", ["user_id"])

    op.create_table(
        "salesgate_audit_log",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("hook", sa.String(32), nullable=True),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("policy_hash", sa.String(128), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        **MYSQL,
    )
    op.create_index("ix_salesgate_audit_log_subject", "salesgate_audit_log", ["subject", "seq"])

    head = op.create_table(
        "salesgate_audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        **MYSQL,
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    op.drop_table("salesgate_audit_head")
    op.drop_table("salesgate_audit_log")
    op.drop_table("salesgate_role_members")
    op.execute("UPDATE salesgate_approval_requests SET status = 'void' WHERE status = 'expired'")
    with op.batch_alter_table("salesgate_approval_requests", recreate="auto") as batch:
        batch.drop_constraint(STATUS_CHECK, type_="check")
        batch.create_check_constraint(STATUS_CHECK, OLD_STATUSES)
        for name, _ in reversed(REQUEST_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("salesgate_decisions") as batch:
        batch.drop_column("actor")
        batch.drop_column("approval_digest")
