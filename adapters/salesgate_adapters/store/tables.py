"""salesgate's own tables: every name starts with ``salesgate_``, no ERP table is ever touched.

This module describes the tables as the newest migration leaves them (the tests compare the two);
the schema itself is created and changed only by the migrations in ``migrations/versions``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.mysql import LONGTEXT

from salesgate.workflow.identities import ID_LENGTH

from .types import Money, UtcDateTime

PREFIX = "salesgate_"
VERSION_TABLE = "salesgate_alembic_version"
"""Alembic's version table, named apart so it never collides with an ERP's own Alembic history."""

# InnoDB for row locks and foreign keys; utf8mb4 because MariaDB's "utf8" is three bytes (no 𠮷);
# binary collation so ids compare exactly, as on PostgreSQL and SQLite ("so-1" is not "SO-1").
MYSQL_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}

ID = 36  # uuid4 text
NAME = ID_LENGTH  # ERP ids and names: 255, the longest id any store keeps
OUTCOMES = ("allow", "warn", "require_approval", "block")
APPROVAL_STATUSES = ("pending", "approved", "rejected", "void", "expired")
DIGEST = 64  # sha256 hex
RESERVATION_STATUSES = ("reserved", "confirmed", "cancelled", "expired")

LONG_TEXT = Text().with_variant(LONGTEXT(), "mysql", "mariadb")
"""Free text of any length: MariaDB/MySQL's ``TEXT`` holds 64 KB, and the audit entry of a 10,000-line
order's pricing decision (a reason per line) is more (migration 0004)."""

metadata = MetaData()


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


decisions = Table(
    "salesgate_decisions", metadata,
    Column("id", String(ID), primary_key=True),
    Column("decided_at", UtcDateTime(), nullable=False),
    Column("hook", String(32), nullable=False),
    Column("subject", String(NAME), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("policy_name", String(NAME), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("policy_hash", String(128), nullable=False),
    Column("inputs_digest", String(64), nullable=True),
    Column("decision", JSON(), nullable=False),
    Column("backend", String(32), nullable=False),
    Column("failure", LONG_TEXT, nullable=True),
    Column("approval_digest", String(DIGEST), nullable=True),
    Column("actor", String(NAME), nullable=True),
    _one_of("outcome", OUTCOMES, "ck_salesgate_decisions_outcome"),
    Index("ix_salesgate_decisions_subject", "subject", "decided_at"),
    Index("ix_salesgate_decisions_decided_at", "decided_at"),
    **MYSQL_OPTIONS,
)

approval_requests = Table(
    "salesgate_approval_requests", metadata,
    Column("id", String(ID), primary_key=True),
    Column("decision_id", String(ID), ForeignKey("salesgate_decisions.id", name="fk_salesgate_approval_decision"),
           nullable=False),
    Column("hook", String(32), nullable=False),
    Column("subject", String(NAME), nullable=False),
    Column("role", String(NAME), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("approval_digest", String(DIGEST), nullable=True),
    Column("requested_by", String(NAME), nullable=True),
    Column("acted_by", String(NAME), nullable=True),
    Column("acted_at", UtcDateTime(), nullable=True),
    Column("comment", LONG_TEXT, nullable=True),
    Column("status_reason", LONG_TEXT, nullable=True),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("escalate_at", UtcDateTime(), nullable=True),
    Column("escalate_to", String(NAME), nullable=True),
    Column("escalated_at", UtcDateTime(), nullable=True),
    _one_of("status", APPROVAL_STATUSES, "ck_salesgate_approval_requests_status"),
    Index("uq_salesgate_approval_requests_role", "decision_id", "role", unique=True),
    Index("ix_salesgate_approval_requests_subject", "subject", "status"),
    **MYSQL_OPTIONS,
)

credit_reservations = Table(
    "salesgate_credit_reservations", metadata,
    Column("id", String(ID), primary_key=True),
    Column("customer_id", String(NAME), nullable=False),
    Column("order_id", String(NAME), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("policy_hash", String(128), nullable=False),
    Column("decision_id", String(ID), ForeignKey("salesgate_decisions.id", name="fk_salesgate_reservation_decision"),
           nullable=True),
    _one_of("status", RESERVATION_STATUSES, "ck_salesgate_credit_reservations_status"),
    Index("uq_salesgate_credit_reservations_order", "order_id", unique=True),
    Index("ix_salesgate_credit_reservations_customer", "customer_id", "status"),
    **MYSQL_OPTIONS,
)

credit_locks = Table(
    "salesgate_credit_locks", metadata,
    Column("customer_id", String(NAME), primary_key=True),
    **MYSQL_OPTIONS,
)
"""One row per customer, created on first use: the row a reservation locks (``SELECT … FOR UPDATE``)."""

subject_locks = Table(
    "salesgate_subject_locks", metadata,
    Column("subject", String(NAME), primary_key=True),
    **MYSQL_OPTIONS,
)
"""One row per order or return, created on first use: the row a decision, an approval or a rejection of
that subject locks before it reads and changes the subject's approval requests, so two of them never
interleave — not even the first two, when there are no request rows yet to lock."""

role_members = Table(
    "salesgate_role_members", metadata,
    Column("role", String(NAME), nullable=False),
    Column("user_id", String(NAME), nullable=False),
    Column("granted_by", String(NAME), nullable=True),
    Column("granted_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("role", "user_id", name="pk_salesgate_role_members"),
    Index("ix_salesgate_role_members_user", "user_id"),
    **MYSQL_OPTIONS,
)
"""Who may approve for a role: managed with ``salesgate approvals grant/revoke`` or ``Store.grant_role``."""

audit_log = Table(
    "salesgate_audit_log", metadata,
    Column("seq", BigInteger(), primary_key=True, autoincrement=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", String(NAME), nullable=True),
    Column("hook", String(32), nullable=True),
    Column("actor", String(NAME), nullable=True),
    Column("policy_hash", String(128), nullable=True),
    Column("content", LONG_TEXT, nullable=False),
    Column("prev_hash", String(DIGEST), nullable=False),
    Column("hash", String(DIGEST), nullable=False),
    Index("ix_salesgate_audit_log_subject", "subject", "seq"),
    **MYSQL_OPTIONS,
)
"""The hash chain: entry ``seq`` stores the hash of entry ``seq - 1`` and its own hash over its content."""

audit_head = Table(
    "salesgate_audit_head", metadata,
    Column("id", Integer(), primary_key=True, autoincrement=False),
    Column("seq", BigInteger(), nullable=False),
    Column("hash", String(DIGEST), nullable=False),
    **MYSQL_OPTIONS,
)
"""One row (``id = 1``, written by the migration): the chain's last entry. Appenders lock it
(``SELECT … FOR UPDATE``) so the chain never forks, and ``verify`` compares it with the log's end,
so entries deleted from the end are found too."""


def is_salesgate_name(name: str | None) -> bool:
    """Whether a table belongs to salesgate: what Alembic autogenerate may look at, nothing else."""
    return bool(name) and str(name).startswith(PREFIX)
