"""``salesgate simulate``: what a changed policy would have decided on historical orders and returns.

Exit codes: 0 the replay ran (whatever it found: a change in outcomes is data); 2 a policy is
invalid, the orders file is missing, or (without ``--skip-invalid``) some lines are not order or
return facts; the report still lists every figure and the first bad lines with their numbers.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import did_you_mean
from ..policy.compiler import Policy, load_policy
from ..seed import seed_policy_path
from ..simulation import points_of, simulate
from ..simulation_report import as_html, as_json, render
from . import Day, check_writable, fail, plugin_points, show
from .export import erp_gate, export_orders, report_problems

__all__ = ["simulate_command"]


def _hooks(value: str | None, baseline: Policy, candidate: Policy) -> list[str] | None:
    """The points ``--hooks`` names (a built-in point's short name too), checked against both policies'."""
    if not value:
        return None
    every = points_of(baseline, candidate)
    aliases = {alias: spec.name for policy in (baseline, candidate) for spec in policy.points.values()
               for alias in spec.aliases}
    chosen: list[str] = []
    for part in value.split(","):
        name = part.strip().lower().replace("-", "_")
        name = aliases.get(name, name)
        if name not in every:
            hint = did_you_mean(name, [*every, *aliases])
            raise click.BadParameter(f"unknown decision point {part.strip()!r}"
                                     + (f" (did you mean {hint!r}?)" if hint else "") + f": use {', '.join(every)}",
                                     param_hint="--hooks")
        chosen.append(name)
    return chosen


@click.command("simulate")
@click.option("--rules", "candidate", required=True, type=click.Path(path_type=str), metavar="NEW",
              help="The changed policy directory to try.")
@click.option("--baseline", type=click.Path(path_type=str), metavar="CURRENT",
              help="The policy in force (default: the shipped seed policy).")
@click.option("--orders", "source", type=click.Path(path_type=str), metavar="FILE.jsonl",
              help="Historical orders and returns: one decide input (JSON) per line.")
@click.option("--mapping", metavar="NAME|FILE",
              help="Instead of --orders: read the orders from the ERP with this sql mapping (with --from, --to).")
@click.option("--url", metavar="URL", help="With --mapping: the ERP database (default: $SALESGATE_DATABASE_URL).")
@click.option("--from", "first", type=Day(), metavar="DATE",
              help="With --mapping: first day of the orders to replay.")
@click.option("--to", "last", type=Day(), metavar="DATE",
              help="With --mapping: last day of the orders to replay, included.")
@click.option("--as-of", "--today", "as_of", type=Day(), metavar="DATE",
              help="The as-of date of returns and documents, which carry no date (an order is decided as of its "
                   "order date); with --mapping also the day exposure is counted to (default: today). --today is "
                   "the older name.")
@click.option("--hooks", "hooks", metavar="POINTS",
              help="Comma-separated decision points to replay (default: every point of either policy).")
@click.option("--html", "html_path", type=click.Path(path_type=str, dir_okay=False), metavar="REPORT.html",
              help="Also write the report as one self-contained HTML page with charts.")
@click.option("--json", "as_json_output", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes to use (default: one per core).")
@click.option("--examples", default=5, show_default=True, type=click.IntRange(min=0),
              help="Changed decisions to show per decision point.")
@click.option("--skip-invalid", is_flag=True, help="Exit 0 even when some lines are not order or return facts.")
def simulate_command(candidate: str, baseline: str | None, source: str | None, mapping: str | None, url: str | None,
                     first: datetime | None, last: datetime | None, as_of: datetime | None, hooks: str | None,
                     html_path: str | None, as_json_output: bool, workers: int | None, examples: int,
                     skip_invalid: bool) -> None:
    """Replay historical orders, returns and documents through CURRENT and NEW and report what changes.

    \b
    salesgate simulate --rules rules-2027/ --baseline rules/ --orders orders-2026.jsonl --html what-if.html
    salesgate simulate --rules rules-2027/ --mapping erpnext --from 2026-01-01 --to 2026-12-31

    Reports, per decision point: decisions whose outcome changes, approvals needed per role (how many more
    orders the general manager must sign), blocked amount, revenue and margin at policy prices,
    refunds; for a point a policy declares, outcomes, approvals and the outputs its rules set (a line
    {"point": "shipment_release", "facts": {...}}). Only the policies' rules are replayed, on the
    compiled backend and every core.
    """
    if (source is None) == (mapping is None):
        raise click.UsageError("give the history: --orders FILE.jsonl, or --mapping with --from and --to")
    if html_path is not None:
        check_writable(Path(html_path), "--html")
    # both checked before any order is read, as docs/simulate.md says
    loaded = load_policy(candidate, points=plugin_points())
    current = load_policy(baseline or seed_policy_path(), points=plugin_points())
    chosen = _hooks(hooks, current, loaded)
    if mapping is not None:
        if first is None or last is None:
            raise click.UsageError("--mapping needs --from and --to: the period of orders to replay")
        if last < first:
            raise click.BadParameter("--to is before --from", param_hint="--to")
        with tempfile.TemporaryDirectory(prefix="salesgate-simulate-") as scratch:
            history = Path(scratch) / "orders.jsonl"
            with erp_gate(mapping, url, as_of) as gate:
                written, problems = export_orders(gate, first.date(), last.date(), history)
            click.echo(f"{written:,} order(s) of {first.date()} to {last.date()} read from the ERP", err=True)
            label = f"{mapping} orders {first.date()} to {last.date()}"
            _replay(candidate, baseline, str(history), chosen, html_path, as_json_output, workers, examples,
                    skip_invalid, shown=label, as_of=as_of)
        if problems:
            report_problems(problems)  # after the report, so they are the last thing on the terminal
            if not skip_invalid:
                sys.exit(2)
        return
    assert source is not None  # noqa: S101 - checked above
    _replay(candidate, baseline, source, chosen, html_path, as_json_output, workers, examples, skip_invalid,
            shown=source, as_of=as_of)


def _replay(candidate: str, baseline: str | None, source: str, chosen: list[str] | None, html_path: str | None,
            as_json_output: bool, workers: int | None, examples: int, skip_invalid: bool, *, shown: str,
            as_of: datetime | None = None) -> None:
    err = Console(stderr=True)
    with Progress(TextColumn("replaying"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=err,
                  transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("replay", total=Path(source).stat().st_size if Path(source).is_file() else None)
        report = simulate(baseline or seed_policy_path(), candidate, source, hooks=chosen, workers=workers,
                          progress=lambda done, total: progress.update(task, completed=done, total=total),
                          label=shown, as_of=as_of.date() if as_of is not None else None)
    if not report.tally.orders and not report.tally.returns and not report.tally.documents \
            and not report.tally.invalid:
        fail(f"{shown} holds no orders or returns: nothing was replayed")
    if as_json_output:
        click.echo(json.dumps(as_json(report), ensure_ascii=False, indent=2))
    else:
        show(render(report, examples=examples))
    if html_path is not None:
        try:
            Path(html_path).write_text(as_html(report), encoding="utf-8")
        except OSError as exc:
            fail(f"--html {html_path}: cannot write the report: {exc.strerror or exc}")
        click.echo(f"report written to {html_path}", err=True)
    if report.tally.invalid and not skip_invalid:
        first = report.tally.invalid_examples[0]
        click.echo(f"error: {report.tally.invalid:,} line(s) of {shown} are not order, return or document facts "
                   f"(first: {shown}:{first.line}: {first.message}); fix them or pass --skip-invalid", err=True)
        sys.exit(2)
