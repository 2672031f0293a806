"""``salesgate db``: create, migrate and inspect salesgate's own tables (Alembic; see docs/store.md)."""

from __future__ import annotations

import click

from salesgate.commands import CommandInputError, schema_option, url_option

from .. import Store
from .shared import open_store


@click.group()
def db() -> None:
    """salesgate's own tables (decision log, approval requests, credit reservations).

    The database is --url URL or SALESGATE_DATABASE_URL, a SQLAlchemy URL such as
    postgresql+psycopg://user@host/erp or mysql+pymysql://user@host/erp. Only tables named
    salesgate_* are created or changed.
    """


def _where(store: Store) -> str:
    """The URL (redacted) and the schema: the same URL without ``--schema`` is another set of tables."""
    return f"{store.url} (schema {store.schema})" if store.schema else str(store.url)


@db.command()
@url_option
@schema_option
def upgrade(url: str | None, schema: str | None) -> None:
    """Create salesgate's tables, or migrate them to this version (a no-op when up to date)."""
    with open_store(url, schema) as store:
        before = store.current()
        store.upgrade()
        after = store.current()
    state = "already at" if before == after else f"upgraded from {before or 'nothing'} to"
    click.echo(f"salesgate tables {state} revision {after} (head) in {_where(store)}")


@db.command()
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Confirm: what later revisions added is dropped, rows included.")
@url_option
@schema_option
def downgrade(revision: str, yes: bool, url: str | None, schema: str | None) -> None:
    """Migrate salesgate's tables back to REVISION (e.g. 0002; base drops them all).

    For going back to an older salesgate, which refuses tables a newer one migrated: run this
    with the newer salesgate first. What later revisions added is dropped with its rows (base:
    the decision log, approvals, reservations and the audit log), so it needs --yes.
    """
    if not yes:
        raise CommandInputError(f"downgrading to {revision} drops what later revisions added, with its rows "
                                "(base: every salesgate table, the audit log included): rerun with --yes")
    with open_store(url, schema) as store:
        before = store.current()
        store.downgrade(revision)
        after = store.current()
    click.echo(f"salesgate tables downgraded from {before or 'nothing'} to {after or 'base (no tables)'} "
               f"in {_where(store)}")


@db.command()
@url_option
@schema_option
def current(url: str | None, schema: str | None) -> None:
    """Print the revision salesgate's tables are at."""
    with open_store(url, schema) as store:
        revision = store.current()
    head, where = store.head(), _where(store)
    if revision is None:
        click.echo(f"no salesgate tables in {where}: run salesgate db upgrade")
    elif revision == head:
        click.echo(f"{revision} (head) in {where}")
    elif not store.knows(revision):
        click.echo(f"{revision} in {where}: newer than this salesgate knows (its newest is {head}); "
                   "a newer salesgate migrated these tables: upgrade salesgate")
    else:
        click.echo(f"{revision} in {where}: salesgate db upgrade migrates it to {head}")
