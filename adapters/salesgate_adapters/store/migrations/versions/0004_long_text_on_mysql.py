"""Free text as LONGTEXT on MariaDB/MySQL: their TEXT holds 64 KB, too little for a large order.

The audit entry of a decision lists its reasons; a pricing decision on a 10,000-line order (the most
lines an order may have) has one per line below the policy price, well over 64 KB, and MariaDB refused
it ("Incorrect string value"), so the decision could not be logged. PostgreSQL's and SQLite's TEXT
have no such limit: nothing changes there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import LONGTEXT

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = (("salesgate_audit_log", "content", False), ("salesgate_decisions", "failure", True),
           ("salesgate_approval_requests", "comment", True), ("salesgate_approval_requests", "status_reason", True))


def upgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        for table, column, nullable in COLUMNS:
            op.alter_column(table, column, type_=LONGTEXT(), existing_type=sa.Text(), existing_nullable=nullable)


def downgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        for table, column, nullable in COLUMNS:
            op.alter_column(table, column, type_=sa.Text(), existing_type=LONGTEXT(), existing_nullable=nullable)
