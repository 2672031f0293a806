"""Real databases for the tests that need them: SQLite always, PostgreSQL and MariaDB when reachable.

Servers come from ``SALESGATE_TEST_POSTGRES_URL`` and ``SALESGATE_TEST_MYSQL_URL`` (defaults below;
DEVELOPERS.md). Each use gets a namespace of its own — a PostgreSQL schema, a MariaDB database —
dropped afterwards, so concurrent test runs and an ERP's tables never meet. An unreachable server
skips its tests with the reason, except under ``CI=true``, where it fails them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL, Engine

POSTGRES_ENV = "SALESGATE_TEST_POSTGRES_URL"
MYSQL_ENV = "SALESGATE_TEST_MYSQL_URL"
DEFAULT_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4",
}
BACKENDS = ["sqlite", "postgresql", "mariadb"]


@dataclass(frozen=True)
class Database:
    """Where a test may create tables: a URL plus the connect arguments that select its namespace."""

    backend: str
    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)

    def engine(self, **options: Any) -> Engine:
        return create_engine(self.url, connect_args=self.connect_args, **options)

    def store_options(self) -> dict[str, Any]:
        """What ``Store(db.url, **db.store_options())`` needs to land in this namespace."""
        return {"connect_args": dict(self.connect_args)}


def server_url(backend: str) -> URL:
    env = POSTGRES_ENV if backend == "postgresql" else MYSQL_ENV
    return make_url(os.environ.get(env) or DEFAULT_URLS[backend])


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true runs every database test (see DEVELOPERS.md)")
    pytest.skip(reason)


@contextmanager
def namespace(backend: str, tmp: Path) -> Iterator[Database]:
    """A fresh, empty place for tables on ``backend``, removed on exit."""
    if backend == "sqlite":
        yield Database("sqlite", make_url(f"sqlite:///{tmp / f'sg_{uuid.uuid4().hex[:8]}.db'}"))
        return
    url = server_url(backend)
    name = f"sg_test_{uuid.uuid4().hex[:12]}"
    timeout = {"connect_timeout": 3}
    try:
        admin = create_engine(url, connect_args=timeout, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f"CREATE SCHEMA {name}"))
            else:
                conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    except Exception as exc:  # driver missing, server down, no rights: all mean "cannot test here"
        shown = url.render_as_string(hide_password=True)
        unavailable(f"{backend} at {shown} is not available ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    try:
        if backend == "postgresql":
            yield Database(backend, url, {"options": f"-c search_path={name}"})
        else:
            yield Database(backend, url.set(database=name))
    finally:
        drop = f"DROP SCHEMA {name} CASCADE" if backend == "postgresql" else f"DROP DATABASE {name}"
        for attempt in range(3):  # a straggling transaction of the last test may still hold a lock
            try:
                with admin.connect() as conn:
                    conn.execute(text(drop))
                break
            except Exception:
                if attempt == 2:
                    raise
                time.sleep(1)
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty namespace on each backend, for one test."""
    with namespace(request.param, tmp_path) as database:
        yield database


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A namespace per backend holding salesgate's tables, shared by the session: use unique ids."""
    from salesgate_adapters.store import Store

    with namespace(request.param, tmp_path_factory.mktemp(request.param)) as database:
        store = Store(database.url, **database.store_options())
        store.upgrade()
        store.close()
        yield database
