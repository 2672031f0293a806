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
from ..models import OrderFacts
from ..seed import seed_policy_path
from . import Day, check_writable

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
                    facts = _as_on_its_date(gate, gate.facts_for("order_approval", {"order": order_id}))
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


def _as_on_its_date(gate: Gate, snapshot: OrderFacts) -> OrderFacts:
    """An order's facts as the ERP has them now (``snapshot``: its exposure counted to the export's day, as
    most ERPs keep only today's receivables) with the policy's history facts computed again as of the
    order's date — the day ``salesgate simulate`` decides the line as of, so an order of last July carries
    the sales of the four quarters before last July, not before today."""
    history = gate.policy.points["order_approval"].history
    if not history:
        return snapshot
    data = snapshot.model_dump(by_alias=True)
    for fact in history:
        part = data.get(fact.document)
        if isinstance(part, dict):
            part.pop(fact.name, None)
    dated: OrderFacts = gate.facts_for("order_approval", data, as_of=snapshot.order.order_date)
    return dated


def erp_gate(mapping: str, url: str | None, as_of: datetime | None) -> Gate:
    """A gate reading the ERP through the sql adapter and ``mapping`` (its policy plays no part in an export),
    its figures counted to ``as_of`` (default: today in the mapping's time zone)."""
    options: dict[str, object] = {"mapping": mapping}
    if url is not None:
        options["url"] = url
    return Gate.from_path(seed_policy_path(), backend="python", adapter="sql", adapter_options=options,
                          today=as_of.date() if as_of is not None else None)


def report_problems(problems: list[str]) -> None:
    """Name the orders that could not be exported (the first ten) on stderr."""
    for problem in problems[:10]:
        click.echo(f"error: {problem}", err=True)
    more = " (first 10 shown)" if len(problems) > 10 else ""
    click.echo(f"error: {len(problems):,} order(s) could not be loaded and are not in the history{more}", err=True)


@click.command("export")
@click.option("--from", "first", required=True, type=Day(), metavar="DATE",
              help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "last", required=True, type=Day(), metavar="DATE",
              help="Last day of the period, included.")
@click.option("--output", "-o", "output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              metavar="FILE.jsonl", help="Where to write the history.")
@click.option("--url", metavar="URL", help="The ERP database (default: $SALESGATE_DATABASE_URL).")
@click.option("--mapping", required=True, metavar="NAME|FILE",
              help="The sql adapter's mapping: demo, erpnext, odoo, tryton, or your own .yaml.")
@click.option("--as-of", "--today", "as_of", type=Day(), metavar="DATE",
              help="The day exposure is counted to (default: today in the mapping's time zone); --today is the older "
                   "name.")
def export_command(first: datetime, last: datetime, output: Path, url: str | None, mapping: str,
                   as_of: datetime | None) -> None:
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
    with erp_gate(mapping, url, as_of) as gate:
        written, problems = export_orders(gate, start, end, output)
    click.echo(f"{written:,} order(s) of {start} to {end} written to {output}", err=True)
    if problems:
        report_problems(problems)
        sys.exit(1)
