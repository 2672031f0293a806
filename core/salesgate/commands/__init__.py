"""Commands of the ``salesgate`` command beyond the core ones, and what every command shares.

The store plumbing (``--url``, opening the store) and the way errors end a command: one line per
problem on stderr and exit code 2. Errors raised as :class:`~salesgate.errors.SalesgateError` are
turned into that by the top-level group.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console, Group, RenderableType

from ..errors import PolicyError, SalesgateError

if TYPE_CHECKING:
    from salesgate_adapters.store import Store

F = TypeVar("F", bound=Callable[..., Any])
NON_TTY_WIDTH = 140


def fail(message: str) -> NoReturn:
    """End the command: ``error: message`` on stderr, exit code 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def fail_policy(exc: PolicyError, summary: str) -> NoReturn:
    """End the command on an invalid policy or test file: each problem on its own line, then ``summary``."""
    for problem in exc.problems:
        click.echo(str(problem), err=True)
    count = len(exc.problems)
    fail(f"{summary}: {count} problem{'s' if count != 1 else ''}")


class CommandInputError(SalesgateError):
    """Bad command-line input for a store command (no database, no user)."""


def check_writable(path: Path, option: str) -> None:
    """Fail now, before any work, when ``path`` cannot be written: its folder is missing or a file,
    or the path is a folder."""
    parent = path.parent  # Path("x.html").parent is Path(".")
    if path.is_dir():
        fail(f"{option} {path}: is a folder; give a file name")
    if parent.exists() and not parent.is_dir():
        fail(f"{option} {path}: {parent} is a file, not a folder")
    if not parent.exists():
        fail(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        fail(f"{option} {path}: cannot write in {parent}")


def url_option(func: F) -> F:
    option = click.option("--url", metavar="URL", help="Database URL (default: $SALESGATE_DATABASE_URL).")
    return option(func)


def schema_option(func: F) -> F:
    option = click.option("--schema", metavar="NAME",
                          help="Where salesgate's tables live: a PostgreSQL schema, a MariaDB database, a SQLite "
                               "file next to the main one (default: $SALESGATE_DATABASE_SCHEMA, else none).")
    return option(func)


def open_store(url: str | None, schema: str | None = None) -> Store:
    """The store the command works on: ``--url``/``--schema``, else the environment."""
    from salesgate_adapters.store import SCHEMA_ENV, URL_ENV, Store

    url = url or os.environ.get(URL_ENV, "").strip()
    if not url:
        raise CommandInputError(f"no database: pass --url URL or set {URL_ENV}")
    return Store(url, schema=schema or os.environ.get(SCHEMA_ENV, "").strip() or None)


def show(*renderables: RenderableType, width: int = NON_TTY_WIDTH) -> None:
    """Rich output on stdout; off a terminal a fixed ``width`` and no trailing spaces (files, pipes,
    tests, cron mails): a table wider than 140 columns says so, rather than being squeezed."""
    console = Console(highlight=False, soft_wrap=False)
    if console.is_terminal:
        console.print(Group(*renderables))
        return
    if "COLUMNS" not in os.environ:
        console.width = width
    with console.capture() as captured:
        console.print(Group(*renderables))
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def when(value: datetime | None) -> str:
    """A stored time as people read it: UTC, to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "-"
