"""Alembic environment for salesgate's tables, run by :mod:`salesgate_adapters.store.migrate`.

The caller hands over an open connection (``config.attributes["connection"]``), so users need no
``alembic.ini``. With the ``alembic`` command line (for developers writing a migration), the URL
comes from ``sqlalchemy.url`` or ``SALESGATE_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

from salesgate_adapters.store.tables import VERSION_TABLE, is_salesgate_name, metadata


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # autogenerate compares salesgate's tables only: an ERP's tables are never proposed for dropping
    return type_ != "table" or is_salesgate_name(name)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=_include_name,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("SALESGATE_DATABASE_URL")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or SALESGATE_DATABASE_URL")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as connection:
        _run(connection)


_main()
