"""Commands of the ``salesgate`` command beyond the core ones, and what every command shares.

What every command shares, the core's and those plugins add (``salesgate_register_commands``):
the options (``--url``, ``--schema``, ``--backend``, ``--lang``), loading the policy, building a
gate, printing, and the way errors end a command: one line per problem on stderr and exit code
2. Errors raised as :class:`~salesgate.errors.SalesgateError` are turned into that by the
top-level group.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console, Group, RenderableType

from ..engine import BACKEND_NAMES, BackendName
from ..errors import EngineError, PluginError, PolicyError, SalesgateError
from ..gate import Gate
from ..plugins import installed_points
from ..pointspecs import PointSpec
from ..policy.compiler import Policy, load_policy
from ..seed import seed_policy_path

F = TypeVar("F", bound=Callable[..., Any])
NON_TTY_WIDTH = 140
DATABASE_URL_ENV = "SALESGATE_DATABASE_URL"
"""Where a command finds the database when ``--url`` is not given: the ERP's (``decide``) and
salesgate's own tables (``db``, ``approvals``, ``audit``) alike."""


class Day(click.DateTime):
    """A date option (``--as-of``, ``--from``, ``--to``) written YYYY-MM-DD, refused in plain words:
    click's own message quotes a strftime format (``does not match the format '%Y-%m-%d'``)."""

    name = "date"

    def __init__(self) -> None:
        super().__init__(["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not a date: write YYYY-MM-DD, e.g. 2026-12-31", param, ctx)


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


def backend_option(func: F) -> F:
    """``--backend durable|python|compiled`` (``$SALESGATE_BACKEND``)."""
    option = click.option(
        "--backend", type=click.Choice(BACKEND_NAMES), default="durable", show_default=True,
        envvar="SALESGATE_BACKEND",
        help="Matching backend: durable-rules, the pure-Python evaluator, or code generated from the rules "
             "(same decisions).",
    )
    return option(func)


def lang_option(func: F) -> F:
    """``--lang LANG``: messages in this language when the policy has it."""
    option = click.option("--lang", metavar="LANG",
                          help="Print messages in this language when the policy has it (e.g. en).")
    return option(func)


def plugin_points() -> list[PointSpec]:
    """The decision points installed plugins declare, for loading a policy. A plugin that fails to load
    is a one-line warning, not a failed command: a policy owner can still validate, test and read the
    policy (rules at that plugin's points then say their point is unknown, naming it)."""
    try:
        return installed_points()
    except PluginError as exc:
        click.echo(f"warning: leaving out the decision points of installed plugins: {exc}", err=True)
        return []


def policy_or_seed(path: str | None) -> Policy:
    """The policy in ``path``, else the seed policy shipped with salesgate."""
    return load_policy(path if path is not None else seed_policy_path(), points=plugin_points())


def build_gate(build: Callable[[], Gate], backend: BackendName) -> Gate:
    """Build a gate; a backend whose engine cannot be imported is an input error, not a crash."""
    try:
        return build()
    except ImportError as exc:
        raise EngineError(f"the {backend} backend is not available ({exc}); try --backend python") from exc


def dumps(value: Any) -> str:
    """JSON as every command prints it: keys sorted, non-ASCII text as is, indented."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=2)


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
