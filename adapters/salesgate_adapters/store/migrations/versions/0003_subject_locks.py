"""Subject lock rows: one row per order or return, locked by every change of its approval requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "salesgate_subject_locks",
        sa.Column("subject", sa.String(255), primary_key=True),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("salesgate_subject_locks")
