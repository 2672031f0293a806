"""Engines, transactions, timeouts and retries: what differs between PostgreSQL, MariaDB and SQLite.

Everything dialect-specific about *how* salesgate talks to its database lives here; the store
itself says *what* it reads and writes.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from salesgate.errors import StoreError
from salesgate.redaction import redact, redact_url, secrets_in

from ..sql.engine import DEFAULT_DRIVERS, SUPPORTED, unknown_type

T = TypeVar("T")

# PostgreSQL: serialization_failure, deadlock_detected. MariaDB: 1213 deadlock. Both mean "the
# transaction was rolled back, try again". Lock-wait and statement timeouts are not retried: they are
# the database telling us it is too slow, and the caller's deadline is already running.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
RETRY_MYSQL_ERRORS = frozenset({1213})
DRIVERS = {"postgresql": "psycopg[binary]", "mysql": "PyMySQL", "mariadb": "PyMySQL"}


def make_engine(url: str | URL, timeout: float | None, **options: Any) -> Engine:
    """An engine for salesgate's tables, with connect timeouts and UTF-8 (utf8mb4 on MariaDB) set."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # ArgumentError, ValueError: the text is not a URL at all
        raise StoreError(f"invalid database URL: {type(exc).__name__}") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise StoreError(unknown_type(parsed))
    if parsed.drivername == backend and backend in DEFAULT_DRIVERS:  # the SQL adapter's default drivers, so
        parsed = parsed.set(drivername=f"{backend}+{DEFAULT_DRIVERS[backend]}")  # one URL serves both
    connect_args: dict[str, Any] = dict(options.pop("connect_args", {}))
    if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    if timeout is not None:
        whole = max(1, math.ceil(timeout))
        if backend == "postgresql":
            connect_args.setdefault("connect_timeout", max(2, whole))  # libpq's minimum is 2 s
        elif backend in ("mysql", "mariadb"):
            connect_args.setdefault("connect_timeout", whole)
            # Client-side backstop for a server that stops answering mid-query; the server's own
            # statement and lock timeouts (below) fire first.
            connect_args.setdefault("read_timeout", whole + 2)
            connect_args.setdefault("write_timeout", whole + 2)
        elif backend == "sqlite":
            connect_args.setdefault("timeout", timeout)
    # With a timeout, CallDeadlines pings pooled connections itself, under the call's deadline.
    options.setdefault("pool_pre_ping", timeout is None)
    if timeout is not None and _queue_pool(parsed, options):
        # A call waiting for a pooled connection holds none the deadline could cut: bound the wait itself
        # (SQLAlchemy's default is 30 s).
        options.setdefault("pool_timeout", timeout)
    try:
        return create_engine(parsed, connect_args=connect_args, **options)
    except ImportError:
        driver = DRIVERS.get(backend, "its driver")
        raise StoreError(f"the {backend} driver is not installed: pip install '{driver}'") from None
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot use database {safe_url(parsed)}: {type(exc).__name__}: {exc}") from None


def _queue_pool(url: URL, options: Mapping[str, Any]) -> bool:
    """Whether the engine's pool will be one that makes callers wait for a connection (and takes ``pool_timeout``)."""
    try:
        dialect: Any = url.get_dialect()  # a DefaultDialect subclass: get_pool_class is not on the Dialect protocol
        pool_class = options.get("poolclass") or dialect.get_pool_class(url)
    except Exception:  # a driver that is not installed: create_engine says so
        return False
    return isinstance(pool_class, type) and issubclass(pool_class, QueuePool)


SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def in_schema(url: str | URL, schema: str, connect_args: dict[str, Any]) -> tuple[URL, dict[str, Any]]:
    """The URL and connect arguments that put salesgate's tables (Alembic's version table too) in ``schema``.

    PostgreSQL: the schema, as the connections' ``search_path`` (so salesgate's connections see
    nothing else). MariaDB/MySQL: a database of that name on the same server (their "schema").
    SQLite: a database file of its own next to the main one (``erp.db`` → ``erp.<schema>.db``).
    """
    if not SCHEMA_NAME.fullmatch(schema):
        raise StoreError(f"invalid schema {schema!r}: letters, digits and _ only, not starting with a digit, "
                         "at most 63 characters")
    try:
        parsed = make_url(url)
    except Exception:  # reported with the same words by make_engine
        raise StoreError("invalid database URL") from None
    backend = parsed.get_backend_name()
    args = dict(connect_args)
    if backend == "postgresql":
        given = args.get("options", parsed.query.get("options", ""))
        given = " ".join(given) if isinstance(given, tuple) else given
        # Quoted, as create_schema names it: unquoted, PostgreSQL would look for the name folded to lower case.
        args["options"] = f'{given} -c search_path="{schema}"'.strip()  # the last setting wins
        return parsed, args
    if backend in ("mysql", "mariadb"):
        return parsed.set(database=schema), args
    if backend == "sqlite":
        main = parsed.database
        if main in (None, "", ":memory:"):
            raise StoreError("schema is for a SQLite database file, not an in-memory database")
        return parsed.set(database=str(Path(main).with_name(f"{Path(main).stem}.{schema}.db"))), args
    return parsed, args


def create_schema(engine: Engine, schema: str) -> None:
    """Create ``schema`` if it is missing, on a connection outside it: a PostgreSQL schema, a MariaDB
    database (SQLite creates the file when it first connects)."""
    backend = engine.dialect.name
    if backend not in ("postgresql", "mysql", "mariadb"):
        return
    with engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        else:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{schema}` CHARACTER SET utf8mb4 "
                              "COLLATE utf8mb4_bin"))


def safe_url(url: str | URL) -> str:
    """A URL fit for messages and logs: its password and secret query parameters replaced by ``***``."""
    try:
        return redact_url(make_url(url))
    except Exception:  # not a URL: say nothing about it
        return "<invalid URL>"


def describe(exc: BaseException, url: URL | None = None) -> str:
    """The driver's own first line of explanation, e.g. ``OperationalError: connection refused``, with
    every secret of ``url`` (and any URL the driver quotes) masked."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    message = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
    return redact(message, secrets_in(url) if url is not None else ())


def is_retryable(exc: BaseException) -> bool:
    """Whether the database rolled the transaction back because of another one (deadlock, serialization)."""
    cause = getattr(exc, "orig", None)
    if getattr(cause, "sqlstate", None) in RETRY_SQLSTATES:
        return True
    args: tuple[Any, ...] = getattr(cause, "args", ())
    return bool(args) and isinstance(args[0], int) and args[0] in RETRY_MYSQL_ERRORS


class Timeouts:
    """Server-side limits for every connection salesgate uses, set once per connection.

    PostgreSQL: ``statement_timeout`` and ``lock_timeout`` (the timeout), and
    ``idle_in_transaction_session_timeout`` (twice the timeout: a process that stalls while holding a
    customer's lock loses its session, and with it the lock). MariaDB: ``max_statement_time``,
    ``innodb_lock_wait_timeout`` and ``idle_transaction_timeout`` likewise (MySQL:
    ``max_execution_time``). SQLite: ``busy_timeout``.
    """

    MARK = "salesgate_timeouts"

    def __init__(self, seconds: float | None) -> None:
        if seconds is not None and seconds <= 0:
            raise ValueError(f"timeout must be positive seconds, got {seconds}")
        self.seconds = seconds

    def apply(self, conn: Connection) -> None:
        if self.seconds is None or conn.info.get(self.MARK) == self.seconds:
            return
        for statement, params in self._statements(conn, self.seconds):
            conn.execute(text(statement), params)
        conn.commit()  # PostgreSQL reverts SET in a transaction that rolls back: make it stick
        conn.info[self.MARK] = self.seconds

    @staticmethod
    def _statements(conn: Connection, seconds: float) -> list[tuple[str, Mapping[str, Any]]]:
        millis = max(1, int(seconds * 1000))
        whole = max(1, math.ceil(seconds))
        name = conn.dialect.name
        if name == "postgresql":
            return [("SELECT set_config('statement_timeout', :ms, false), set_config('lock_timeout', :ms, false), "
                     "set_config('idle_in_transaction_session_timeout', :idle, false)",
                     {"ms": str(millis), "idle": str(2 * millis)})]
        if name in ("mysql", "mariadb"):
            if getattr(conn.dialect, "is_mariadb", False):
                return [("SET SESSION max_statement_time = :s, innodb_lock_wait_timeout = :lock, "
                         "idle_transaction_timeout = :idle", {"s": seconds, "lock": whole, "idle": 2 * whole})]
            return [("SET SESSION max_execution_time = :ms, innodb_lock_wait_timeout = :lock",
                     {"ms": millis, "lock": whole})]
        if name == "sqlite":
            return [(f"PRAGMA busy_timeout = {millis}", {})]
        return []


@contextmanager
def transaction(engine: Engine, timeouts: Timeouts, *, isolation: str | None = None,
                write: bool = True) -> Iterator[Connection]:
    """One transaction on one pooled connection: committed when the block ends, rolled back if it raises.

    SQLite: ``BEGIN IMMEDIATE`` for writes, which takes the database's write lock up front, so two
    writers queue (``busy_timeout``) instead of both reading and one failing at its first write.
    pysqlite's own transaction handling is switched off for the connection while we hold it.
    Elsewhere: the isolation level asked for (salesgate writes at READ COMMITTED with row locks; readers
    that compare rows with the audit log read one snapshot, REPEATABLE READ).
    """
    with engine.connect() as conn:
        timeouts.apply(conn)
        if conn.dialect.name == "sqlite":
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                raw = conn.connection.driver_connection
                if getattr(raw, "in_transaction", True):
                    conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
            return
        if isolation is not None:
            conn.execution_options(isolation_level=isolation)
        with conn.begin():
            yield conn


def backoff(attempt: int, base: float = 0.02) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): exponential with jitter, at most ~1 s."""
    jitter = random.uniform(0.5, 1.5)  # noqa: S311 - spreads retries out, nothing secret
    return float(min(1.0, base * 2**attempt) * jitter)


def retrying(run: Callable[[], T], *, what: str, attempts: int, url: URL | None = None,
             remaining: Callable[[], float | None] = lambda: None) -> T:
    """Run a transaction, again after a deadlock or serialization failure; errors become StoreError.

    ``remaining`` is the time left of the call's deadline: no retry starts once it is spent."""
    for attempt in range(attempts):
        try:
            return run()
        except DBAPIError as exc:
            left = remaining()
            if is_retryable(exc) and attempt + 1 < attempts and (left is None or left > 0):
                time.sleep(backoff(attempt) if left is None else min(left, backoff(attempt)))
                continue
            raise StoreError(f"{what} failed: {describe(exc, url)}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{what} failed: {describe(exc, url)}") from exc
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
