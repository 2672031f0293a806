"""The store's commands: ``salesgate db``, ``salesgate approvals`` and ``salesgate audit``.

They are added to ``salesgate`` by :class:`StoreCommands`, a built-in command provider named in
:mod:`salesgate.defaults`, through the ``salesgate_register_commands`` hook, as any installed
package adds its own.
"""

from __future__ import annotations

import click

from salesgate import hookimpl

from .approvals import approvals
from .audit import audit
from .db import db


class StoreCommands:
    """Adds ``db`` (tables and migrations), ``approvals`` (the approval workflow) and ``audit``
    (the hash-chained audit log)."""

    @hookimpl
    def salesgate_register_commands(self, cli: click.Group) -> None:
        cli.add_command(db)
        cli.add_command(approvals)
        cli.add_command(audit)


__all__ = ["StoreCommands"]
