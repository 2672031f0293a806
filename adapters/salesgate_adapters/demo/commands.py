"""``salesgate demo``: the demo company's pending orders and returns, decided by the seed policy."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import click
from rich import box
from rich.table import Table
from rich.text import Text

from salesgate import BackendName, Outcome, hookimpl
from salesgate.commands import backend_option, build_gate, dumps, lang_option, policy_or_seed, show
from salesgate.commands.view import (
    OUTCOME_STYLE,
    SHORT,
    adjustment,
    outcome_text,
    percent,
    reasons_text,
    roles_text,
)
from salesgate.documents import FieldType
from salesgate.money import format_money
from salesgate.pointspecs import PointSpec

from . import demo_gate
from .company import DemoResult, load_demo_company, results_by_hook, run_demo


class DemoCommands:
    """Adds ``demo``."""

    @hookimpl
    def salesgate_register_commands(self, cli: click.Group) -> None:
        cli.add_command(demo)


@click.command()
@click.option("--rules", "rules", type=click.Path(path_type=str), metavar="PATH",
              help="Decide the demo company by this policy instead of the seed policy.")
@click.option("--json", "as_json", is_flag=True, help="Print every decision as JSON (without traces).")
@backend_option
@lang_option
def demo(rules: str | None, as_json: bool, backend: BackendName, lang: str | None) -> None:
    """Decide the demo company's pending orders and returns by the seed policy, and the documents of each
    decision point the policy declares (contract reviews, bids, shipments...) that the demo books hold."""
    company = load_demo_company()
    policy = policy_or_seed(rules)
    with build_gate(lambda: demo_gate(company, backend=backend, policy=policy), backend) as gate:
        results = run_demo(gate, company)
    if as_json:
        click.echo(dumps({
            "company": company.name,
            "policy": {"name": policy.name, "version": policy.version, "hash": policy.hash},
            "backend": backend,
            "decisions": [
                {"hook": r.hook, "subject": r.subject, "customer": r.customer,
                 "amount": None if r.amount is None else str(r.amount),
                 "decision": r.decision.model_dump(mode="json", exclude={"trace"})}
                for r in results
            ],
        }))
        return
    documents = sum(1 for r in results if r.hook not in SHORT)
    header = Text.assemble(
        ("salesgate demo", "bold"), f": {company.name}\n",
        f"policy {policy.name} {policy.version} ({policy.hash}), {backend} backend, "
        f"{len(company.orders)} pending orders and {len(company.returns)} returns"
        + (f", {documents} documents at the policy's own decision points" if documents else "") + "\n",
    )
    tables = [_demo_table(point, rows, lang) if point in SHORT else _document_table(policy.point(point), rows, lang)
              for point, rows in results_by_hook(results).items()]
    counts = {o: sum(1 for r in results if r.decision.outcome is o) for o in Outcome}
    summary = Text(f"{len(results)} decisions: ")
    for i, (outcome, count) in enumerate(counts.items()):
        summary.append(", " if i else "")
        summary.append(f"{count} {outcome.value}", style=OUTCOME_STYLE[outcome])
    hint = Text("Try: salesgate decide approval order.json --explain   (facts format: docs/cli.md)", style="dim")
    show(header, *tables, summary, hint)




def _document_table(spec: PointSpec, rows: Sequence[DemoResult], lang: str | None) -> Table:
    """The documents decided at a declared point: its id, customer, amount, outcome, approvals, the outputs
    the rules set and the reasons."""
    title = spec.title.zh if lang == "zh" else spec.title.en
    table = Table(title=f"{spec.name} ({title})", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column(spec.root.capitalize(), no_wrap=True)
    table.add_column("Customer", no_wrap=True)
    table.add_column("Amount", justify="right", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Approvals", max_width=18)
    if spec.declared_outputs:
        table.add_column("Outputs", max_width=24)
    table.add_column("Reasons", overflow="fold")
    for row in rows:
        decision = row.decision
        cells: list[Text | str] = [Text(row.subject), Text(row.customer),
                                   "" if row.amount is None else format_money(row.amount),
                                   outcome_text(decision.outcome), Text(roles_text(decision))]
        if spec.declared_outputs:
            cells.append(Text(", ".join(f"{name} {_shown(spec, name, value)}"
                                        for name, value in decision.outputs.items())))
        cells.append(reasons_text(decision, lang))
        table.add_row(*cells)
    return table


def _shown(spec: PointSpec, name: str, value: object) -> str:
    output = spec.output(name)
    if isinstance(value, Decimal):
        return percent(value) if output is not None and output.type is FieldType.percent else format(value, "f")
    return str(value)


def _demo_table(point: str, rows: Sequence[DemoResult], lang: str | None) -> Table:
    table = Table(title=f"{point} ({SHORT[point]})", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column("Return" if point == "return_handling" else "Order", no_wrap=True)
    table.add_column("Customer", no_wrap=True)
    table.add_column("Amount", justify="right", no_wrap=True)
    extra = {"credit_check": "Available", "pricing": "Policy total", "return_handling": "Refund"}.get(point)
    if extra:
        table.add_column(extra, justify="right", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Approvals", max_width=18)
    table.add_column("Reasons", overflow="fold")
    for row in rows:
        decision = row.decision
        cells: list[Text | str] = [Text(row.subject), Text(row.customer),
                                   "" if row.amount is None else format_money(row.amount)]
        if point == "credit_check" and decision.credit:
            available = decision.credit.available
            cells.append(Text(format_money(available), style="red" if available < 0 else ""))
        elif point == "pricing" and decision.pricing:
            cells.append(format_money(decision.pricing.policy_total))
        elif point == "return_handling" and decision.returns:
            cells.append(format_money(decision.returns.refund_amount))
        elif extra:
            cells.append("")
        reasons = reasons_text(decision, lang)
        if point == "pricing" and decision.pricing and not decision.reasons:
            adjustments = [f"{a.rule} {adjustment(a.kind, a.value)}"
                           for line in decision.pricing.lines for a in line.adjustments]
            reasons = Text(", ".join(dict.fromkeys(adjustments)) or "list price", style="dim")
        cells += [outcome_text(decision.outcome), Text(roles_text(decision)), reasons]
        table.add_row(*cells)
    return table
