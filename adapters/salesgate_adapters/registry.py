"""The ``adapters`` built-in plugin: registers the adapters shipped with salesgate by name."""

from __future__ import annotations

from collections.abc import Callable

from salesgate.hookspecs import hookimpl


class BuiltinAdapters:
    """``memory``: facts from a document held in memory (tests). ``sql``: facts from an ERP database
    (SQLite, PostgreSQL, MariaDB/MySQL) through a mapping file; ``salesgate demo`` uses it too."""

    @hookimpl
    def salesgate_register_adapters(self, register: Callable[[str, type], None]) -> None:
        # Deferred: every gate registers this plugin, and only one given an adapter by name asks it;
        # the others never pay for importing SQLAlchemy and the sql adapter's drivers.
        from .memory import MemoryAdapter
        from .sql import SqlAdapter

        register("memory", MemoryAdapter)
        register("sql", SqlAdapter)
