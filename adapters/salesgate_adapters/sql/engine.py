"""Engines the SQL adapter creates: URL checks, default drivers, timeouts, read-only sessions.

Every message shows the URL with its password hidden. Drivers are imported by SQLAlchemy when the
engine is created, so a missing one is reported with the extra that installs it.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from salesgate.errors import AdapterError
from salesgate.redaction import redact as redact_text
from salesgate.redaction import redact_url, secrets_in

DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
SUPPORTED = ("postgresql", "mysql", "mariadb", "sqlite")
"""The database types salesgate talks to; any other scheme (``oracle://``, ``mssql://``) is refused by name
before a driver is looked for, so the message is the same whether or not that driver is installed."""
EXTRAS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
DRIVER_REQUIREMENTS = {"postgresql": "psycopg[binary]>=3.1", "mysql": "PyMySQL>=1.1"}
"""What each extra of pyproject.toml installs. salesgate is on no package index: a user installs
it from a checkout, so a missing driver names the driver itself and the extra as ``'.[postgresql]'``."""
MYSQL = ("mysql", "mariadb")
ANSI_MODES = "ANSI_QUOTES,PIPES_AS_CONCAT"
"""Set on MySQL/MariaDB sessions so that mapping queries are standard SQL on every database:
``"double quoted"`` names are identifiers and ``||`` concatenates."""


def shown(url: URL) -> str:
    """The URL with its password and secret query parameters masked."""
    return redact_url(url)


def redact(text: str, url: URL) -> str:
    """A driver's message with every secret of ``url`` masked, should a driver ever echo one."""
    return redact_text(text, secrets_in(url))


def parse_url(text: str) -> URL:
    try:
        url = sa.make_url(text)
    except (ArgumentError, ValueError):
        # The text may hold a password: never repeat it.
        raise AdapterError("the database URL is not a valid URL: expected "
                           "dialect[+driver]://user:password@host:port/database, e.g. "
                           "postgresql://erp@db.example.com/erp or sqlite:///erp.db") from None
    backend = url.get_backend_name()
    if backend not in SUPPORTED:
        raise AdapterError(unknown_type(url))
    if url.drivername == backend and backend in DEFAULT_DRIVERS:
        url = url.set(drivername=f"{backend}+{DEFAULT_DRIVERS[backend]}")
    return url


def unknown_type(url: URL) -> str:
    return f"unknown database type {url.drivername!r} in {shown(url)}: use postgresql, mysql, mariadb or sqlite"


def create_engine(text: str, timeout: float) -> Engine:
    """An engine whose sessions time out after ``timeout`` seconds and cannot write."""
    url = parse_url(text)
    backend = url.get_backend_name()
    # No pool pre-ping of SQLAlchemy's: the adapter's CallDeadlines pings under the call's deadline.
    options: dict[str, Any] = {"pool_pre_ping": False, "connect_args": _connect_args(url, timeout)}
    if backend != "sqlite":
        options["pool_timeout"] = timeout
    try:
        engine = sa.create_engine(url, **options)
    except NoSuchModuleError:  # a driver name SQLAlchemy does not know, e.g. postgresql+nosuch
        raise AdapterError(unknown_type(url)) from None
    except ImportError as exc:
        extra = EXTRAS.get(backend)
        how = (f"pip install '{DRIVER_REQUIREMENTS[extra]}' (or, in the salesgate checkout, pip install '.[{extra}]')"
               if extra else f"install the {url.get_driver_name()} driver")
        raise AdapterError(f"the {url.get_driver_name()} driver for {shown(url)} is not installed "
                           f"({exc}): {how}") from None
    sa.event.listen(engine, "connect", _session_setup(backend))
    return engine


def _connect_args(url: URL, timeout: float) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend == "postgresql":
        given = url.query.get("options")
        given_text = " ".join(given) if isinstance(given, tuple) else (given or "")
        settings = f"-c statement_timeout={max(1, round(timeout * 1000))} -c default_transaction_read_only=on"
        # libpq counts whole seconds and treats anything below 2 as 2.
        return {"connect_timeout": max(2, math.ceil(timeout)), "options": f"{given_text} {settings}".strip()}
    if backend in MYSQL:
        return {"connect_timeout": timeout, "read_timeout": timeout, "write_timeout": timeout}
    if backend == "sqlite":
        return {"timeout": timeout}
    return {}


def _session_setup(backend: str) -> Any:
    def setup(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if backend in MYSQL:
                cursor.execute(f"SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',{ANSI_MODES}')")
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
            elif backend == "sqlite":
                cursor.execute("PRAGMA query_only = ON")
        finally:
            cursor.close()

    return setup
