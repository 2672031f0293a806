"""``salesgate export``: an ERP's orders of a period as a JSON Lines history for ``salesgate simulate``.

The adapter lists the orders (the ``sql`` adapter's ``order_history`` mapping query) and the gate
loads each one's facts exactly as it does for a decision: order, customer, products, exposure, and
the policy's history facts as they were on the order's date.
The file is written whole or not at all (a temporary file renamed at the end).

Exit codes: 0 every order was exported; 1 some could not be loaded (the others are written and
the first problems are listed); 2 bad options, an adapter that cannot list orders, or a database
that cannot be read.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from ..errors import FactsError, SalesgateError
from ..gate import Gate
from ..seed import seed_policy_path
from . import check_writable

__all__ = ["erp_gate", "export_command", "export_orders", "report_problems"]


def export_orders(gate: Gate, first: date, last: date, out: Path) -> tuple[int, list[str]]:
    """Write the facts of every order entered from ``first`` to ``last`` (both included) to ``out``,
    one JSON document per line; returns how many were written and the problems of those that were not."""
    lister = getattr(gate.adapter, "order_ids", None)
    if not callable(lister):
        name = type(gate.adapter).__name__ if gate.adapter is not None else "no adapter"
        raise SalesgateError(f"{name} cannot list the orders of a period: use the sql adapter with a mapping that "
                             "has an order_history query (docs/adapters.md)")
    ids = lister(first, last + timedelta(days=1))
    problems: list[str] = []
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            for order_id in ids:
                try:
                    order = gate.hooks.load_order(order_id)
                    if order is None:
                        raise FactsError(f"no order {order_id!r}")
                    # its history facts as they were on the order's day, not today's
                    facts = gate.facts_for("order_approval", {"order": order}, as_of=order.order_date)
                except (FactsError, SalesgateError) as exc:
                    problems.append(f"{order_id}: {exc}")
                    continue
                file.write(facts.model_dump_json() + "\n")
                written += 1
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as open() would create it, not mkstemp's owner-only 0600
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return written, problems


def erp_gate(mapping: str, url: str | None, today: datetime | None) -> Gate:
    """A gate reading the ERP through the sql adapter and ``mapping`` (its policy plays no part in an export)."""
    options: dict[str, object] = {"mapping": mapping}
    if url is not None:
        options["url"] = url
    if today is not None:
        options["today"] = today.date()
    return Gate.from_path(seed_policy_path(), backend="python", adapter="sql", adapter_options=options)


def report_problems(problems: list[str]) -> None:
    """Name the orders that could not be exported (the first ten) on stderr."""
    for problem in problems[:10]:
        click.echo(f"error: {problem}", err=True)
    more = " (first 10 shown)" if len(problems) > 10 else ""
    click.echo(f"error: {len(problems):,} order(s) could not be loaded and are not in the history{more}", err=True)


@click.command("export")
@click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
              help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "last", required=True, type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
              help="Last day of the period, included.")
@click.option("--output", "-o", "output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              metavar="FILE.jsonl", help="Where to write the history.")
@click.option("--url", metavar="URL", help="The ERP database (default: $SALESGATE_DATABASE_URL).")
@click.option("--mapping", required=True, metavar="NAME|FILE",
              help="The sql adapter's mapping: demo, erpnext, odoo, tryton, or your own .yaml.")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
              help="The day exposure is counted at (default: today in the mapping's time zone).")
def export_command(first: datetime, last: datetime, output: Path, url: str | None, mapping: str,
                   today: datetime | None) -> None:
    """Write the orders entered from --from to --to as JSON Lines for `salesgate simulate`.

    \b
    salesgate export --from 2026-01-01 --to 2026-12-31 --mapping erpnext -o orders-2026.jsonl

    Each line holds an order with its customer, products and credit exposure as the ERP has them
    now (the exposure at the time each order was taken is not kept by most ERPs).
    """
    start, end = first.date(), last.date()
    if end < start:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    check_writable(output, "--output")
    with erp_gate(mapping, url, today) as gate:
        written, problems = export_orders(gate, start, end, output)
    click.echo(f"{written:,} order(s) of {start} to {end} written to {output}", err=True)
    if problems:
        report_problems(problems)
        sys.exit(1)
