"""What the store's commands share: the store ``--url`` and ``--schema`` (or the environment) name."""

from __future__ import annotations

import os

from salesgate.commands import DATABASE_URL_ENV, CommandInputError

from .. import SCHEMA_ENV, Store


def open_store(url: str | None, schema: str | None = None) -> Store:
    """The store the command works on: ``--url``/``--schema``, else the environment."""
    url = url or os.environ.get(DATABASE_URL_ENV, "").strip()
    if not url:
        raise CommandInputError(f"no database: pass --url URL or set {DATABASE_URL_ENV}")
    return Store(url, schema=schema or os.environ.get(SCHEMA_ENV, "").strip() or None)
