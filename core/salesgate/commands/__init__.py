"""Command groups of the ``salesgate`` command that work on salesgate's own tables (``approvals``, ``audit``).

They share the store plumbing below; errors are :class:`~salesgate.errors.SalesgateError`, which the
top-level group turns into one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console, Group, RenderableType

from ..errors import SalesgateError

if TYPE_CHECKING:
    from salesgate_adapters.store import Store

F = TypeVar("F", bound=Callable[..., Any])
NON_TTY_WIDTH = 140


class CommandInputError(SalesgateError):
    """Bad command-line input for a store command (no database, no user)."""


def url_option(func: F) -> F:
    option = click.option("--url", metavar="URL", help="Database URL (default: $SALESGATE_DATABASE_URL).")
    return option(func)


def open_store(url: str | None) -> Store:
    from salesgate_adapters.store import URL_ENV, Store

    url = url or os.environ.get(URL_ENV, "").strip()
    if not url:
        raise CommandInputError(f"no database: pass --url URL or set {URL_ENV}")
    return Store(url)


def show(*renderables: RenderableType) -> None:
    """Rich output on stdout; off a terminal a fixed width and no trailing spaces (files, pipes, tests)."""
    console = Console(highlight=False, soft_wrap=False)
    if console.is_terminal:
        console.print(Group(*renderables))
        return
    if "COLUMNS" not in os.environ:
        console.width = NON_TTY_WIDTH
    with console.capture() as captured:
        console.print(Group(*renderables))
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def when(value: datetime | None) -> str:
    """A stored time as people read it: UTC, to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "-"
