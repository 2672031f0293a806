"""The salesgate Gate a Tryton database asks: one per database, opened on the database Tryton uses.

Configured in trytond.conf (or ``TRYTOND_SALESGATE__*`` environment variables)::

    [salesgate]
    # policy = /etc/salesgate/rules       the policy directory (default: the seed policy)
    # mapping = tryton                    the sql adapter's mapping (default: the shipped tryton.yaml)
    # url = postgresql://reader@db/tryton a read-only login (default: Tryton's own database)
    # timeout = 5                         seconds before a decision falls back to the failure mode
    # backend = compiled                  or python, durable (same decisions)

The gate reads customers, exposure, products and deliveries through the ``sql`` adapter, on its own
read-only connection: it sees what Tryton has committed, never the current transaction.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from trytond import backend
from trytond.config import config
from trytond.transaction import Transaction

from salesgate import Gate, load_policy, seed_policy_path

_lock = threading.Lock()
_gates: dict[tuple[str, ...], Gate] = {}


def database_url() -> str:
    """The SQLAlchemy URL of the database of the current transaction (or ``[salesgate] url``)."""
    configured = config.get("salesgate", "url", default="")
    if configured:
        return str(configured)
    name = Transaction().database.name
    if backend.name == "sqlite":
        if name == ":memory:":
            raise ValueError("salesgate cannot read an in-memory Tryton database: use a file or PostgreSQL")
        return f"sqlite:///{Path(config.get('database', 'path')) / (name + '.sqlite')}"
    uri = urlsplit(config.get("database", "uri"))
    return urlunsplit(uri._replace(path="/" + name, query="", fragment=""))


def get_gate() -> Gate:
    """The gate of this database, built on first use and kept for the life of the process."""
    key = (
        database_url(),
        str(config.get("salesgate", "policy", default="") or seed_policy_path()),
        str(config.get("salesgate", "mapping", default="tryton")),
        str(config.get("salesgate", "timeout", default="5")),
        str(config.get("salesgate", "backend", default="") or ""),  # unset: the Gate's default
    )
    with _lock:
        gate = _gates.get(key)
        if gate is None:
            url, policy, mapping, timeout, engine = key
            options: dict[str, Any] = {"timeout": float(timeout)}
            if engine:
                options["backend"] = engine
            gate = Gate(load_policy(policy), adapter="sql", adapter_options={"url": url, "mapping": mapping},
                        **options)
            _gates[key] = gate
        return gate
