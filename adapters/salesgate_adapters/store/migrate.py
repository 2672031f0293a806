"""Run salesgate's Alembic migrations from Python: no ``alembic.ini``, version table of our own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from .tables import VERSION_TABLE


def migrations_path() -> Path:
    """Where the migration scripts are installed (``salesgate_adapters/store/migrations``)."""
    return Path(str(resources.files("salesgate_adapters.store") / "migrations"))


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for salesgate's scripts, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(migrations_path()).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    _check_known(connection)
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    _check_known(connection)
    command.downgrade(alembic_config(connection), revision)


def known(revision: str) -> bool:
    """Whether this salesgate ships ``revision`` (a newer salesgate may have migrated the tables further)."""
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        return False
    return True


def _check_known(connection: Connection) -> None:
    at = current(connection)
    if at is not None and not known(at):
        raise UnknownRevision(f"salesgate's tables are at revision {at!r}, which this salesgate ({head()} and "
                              "older) does not know: a newer salesgate migrated them. Upgrade salesgate; never "
                              "migrate them with an older one")


class UnknownRevision(Exception):
    """The tables were migrated by a newer salesgate than this one."""


def current(connection: Connection) -> str | None:
    """The revision salesgate's tables are at, or ``None`` before the first upgrade."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def head() -> str:
    """The newest revision this salesgate ships."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if found is None:  # pragma: no cover - the package ships at least one migration
        raise RuntimeError("salesgate ships no migrations: reinstall salesgate")
    return found
