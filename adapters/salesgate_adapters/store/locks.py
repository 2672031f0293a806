"""Lock rows: one row per customer (reservations) or per subject (approval requests), created on first use.

A transaction serialises on a key by ``SELECT … FOR UPDATE`` on its row. Under READ COMMITTED a
locking read of a row that does not exist locks nothing, so the row is created first — in a short
transaction of its own (:func:`insert_if_missing`), where concurrent creators meet on the primary key
and none of them holds anything else — and the work then runs again. SQLite needs no rows: the
store's write transactions begin with ``BEGIN IMMEDIATE`` and hold the database's only write lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, select
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Connection

from salesgate.errors import StoreError


class MissingLockRow(Exception):
    """The key has no lock row yet: create it with :func:`insert_if_missing`, then run the work again."""

    def __init__(self, table: Table, key: str) -> None:
        super().__init__(f"{table.name} has no row {key!r}")
        self.table = table
        self.key = key


def lock(conn: Connection, table: Table, key: str, *, create: bool = False) -> None:
    """Lock ``key``'s row of ``table`` until the transaction ends; :class:`MissingLockRow` when there is none.

    ``create`` inserts a missing row inside this transaction instead, for a caller that cannot simply
    run again (it already asked the ERP): safe on PostgreSQL; on MariaDB concurrent creators of the same
    new row may deadlock, which the store's retry then resolves by running the work again.
    """
    if conn.dialect.name == "sqlite":
        return  # BEGIN IMMEDIATE already holds the database's only write lock
    if exists(conn, table, key, for_update=True):
        return
    if not create:
        raise MissingLockRow(table, key)
    insert_if_missing(conn, table, key)
    if not exists(conn, table, key, for_update=True):  # pragma: no cover - the row was inserted just now
        raise MissingLockRow(table, key)


def exists(conn: Connection, table: Table, key: str, *, for_update: bool = False) -> bool:
    column = _key(table)
    query = select(column).where(column == key)
    return conn.execute(query.with_for_update() if for_update else query).first() is not None


def insert_if_missing(conn: Connection, table: Table, key: str) -> None:
    """Insert-if-missing, in its own short transaction (PostgreSQL ``ON CONFLICT DO NOTHING``, MariaDB
    ``ON DUPLICATE KEY UPDATE``: inside a larger transaction, concurrent creators would each keep a
    shared lock on the new key and deadlock on the way to ``FOR UPDATE``)."""
    name, column = conn.dialect.name, _key(table)
    if name == "postgresql":
        conn.execute(postgresql.insert(table).values({column.name: key}).on_conflict_do_nothing())
    elif name in ("mysql", "mariadb"):
        statement = mysql.insert(table).values({column.name: key})
        conn.execute(statement.on_duplicate_key_update({column.name: statement.inserted[column.name]}))
    else:
        raise StoreError(f"row locks are not implemented for {name}")


def _key(table: Table) -> Column[Any]:
    [column] = table.primary_key.columns
    return column
