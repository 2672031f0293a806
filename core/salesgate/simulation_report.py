"""A simulation :class:`~salesgate.simulation.Report` as a terminal table, a JSON document or an HTML page.

The HTML page is one self-contained file (inline CSS and SVG charts, no script, nothing fetched),
so a policy owner can open it from a mail attachment or a shared drive on any machine.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .bulk import Verdict
from .decisions import Outcome
from .documents import FieldType, OutputSpec
from .money import format_money
from .pointspecs import PointSpec
from .simulation import PointTally, Report

OUTCOMES = [o.value for o in Outcome]


def _declared(report: Report, point: str) -> bool:
    """A point a policy or plugin declares: its documents carry no amount salesgate knows of."""
    return not report.spec(point).built_in


def _amount(report: Report, point: str, value: Decimal) -> str:
    return "-" if _declared(report, point) else format_money(value)


def _replayed(tally: Any) -> str:
    documents = f", {tally.documents:,} documents of declared points" if tally.documents else ""
    return f"{tally.orders:,} orders, {tally.returns:,} returns{documents}"


def _signed(value: Decimal | int) -> str:
    if isinstance(value, int):
        return f"{value:+,}"
    return ("+" if value > 0 else "") + format_money(value)


def _roles(report: Report) -> list[str]:
    seen: set[str] = set()
    for tally in report.tally.hooks.values():
        seen.update(tally.roles_before, tally.roles_after)
    ladder = {role: i for i, role in enumerate(report.candidate.roles)}
    return sorted(seen, key=lambda r: (ladder.get(r, len(ladder)), r))


def _approvals_per_role(report: Report) -> list[tuple[str, int, int]]:
    """(role, decisions needing it under the baseline, under the candidate), over all decision points."""
    rows = []
    for role in _roles(report):
        before = sum(t.roles_before[role] for t in report.tally.hooks.values())
        after = sum(t.roles_after[role] for t in report.tally.hooks.values())
        rows.append((role, before, after))
    return rows


def _verdict_text(verdict: Verdict, spec: PointSpec | None = None) -> str:
    roles = f" [{', '.join(verdict.roles)}]" if verdict.roles else ""
    outputs = "".join(f" {name}={_value(value, spec.output(name) if spec else None)}"
                      for name, value in verdict.outputs)
    return f"{verdict.outcome.value}{roles}{outputs}"


def _value(value: Any, output: OutputSpec | None = None) -> str:
    """An output's value: a percent as 25%, a number as written, true/false."""
    if isinstance(value, Decimal) and output is not None and output.type is FieldType.percent:
        text = f"{value * 100:f}"
        return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _rules_changed(before: Verdict, after: Verdict) -> str:
    added = [r for r in after.rules if r not in before.rules]
    removed = [r for r in before.rules if r not in after.rules]
    text = " ".join([f"+{r}" for r in added] + [f"−{r}" for r in removed])
    return text or ("prices" if before.prices != after.prices else "outputs" if before.outputs != after.outputs
                    else "")


# -- terminal -----------------------------------------------------------------------------------

def render(report: Report, *, examples: int = 5) -> RenderableType:
    """The report for a terminal: a summary per decision point, approvals per role, money, examples."""
    tally = report.tally
    head = Text.assemble(
        ("simulation ", "bold"), f"{report.source}: {_replayed(tally)}",
        f" in {report.seconds:.1f} s on {report.workers} worker{'s' if report.workers != 1 else ''}\n",
        f"baseline  {report.baseline.name} {report.baseline.version} ({report.baseline.hash})\n",
        f"candidate {report.candidate.name} {report.candidate.version} ({report.candidate.hash})",
    )
    parts: list[RenderableType] = [head]
    summary = Table(box=box.SIMPLE_HEAD, title="decisions", title_justify="left", pad_edge=False)
    for name in ("point", "decided", "changed", *OUTCOMES, "blocked amount"):
        summary.add_column(name, justify="left" if name == "point" else "right")
    for point in report.hooks:
        t = tally.hooks.get(point) or PointTally()
        cells = [f"{t.outcomes_before[o]:,} → {t.outcomes_after[o]:,}" for o in OUTCOMES]
        blocked = "-" if _declared(report, point) else \
            f"{format_money(t.blocked_before)} → {format_money(t.blocked_after)}"
        label = point if report.spec(point).built_in else f"{point} ({report.title(point)})"
        summary.add_row(Text(label), f"{t.decided:,}", f"{t.changed:,}", *cells, blocked)
    parts.append(summary)
    roles = Table(box=box.SIMPLE_HEAD, title="approvals needed, per role", title_justify="left", pad_edge=False)
    for name in ("role", "baseline", "candidate", "change"):
        roles.add_column(name, justify="left" if name == "role" else "right")
    for role, before, after in _approvals_per_role(report):
        roles.add_row(Text(role), f"{before:,}", f"{after:,}", _signed(after - before))
    parts.append(roles)
    money = _money_rows(report)
    if money:
        table = Table(box=box.SIMPLE_HEAD, title="money", title_justify="left", pad_edge=False)
        for name in ("figure", "baseline", "candidate", "change"):
            table.add_column(name, justify="left" if name == "figure" else "right")
        for label, spent, made in money:
            table.add_row(label, format_money(spent), format_money(made), _signed(made - spent))
        parts.append(table)
    shown = [c for point in report.hooks for c in (tally.hooks.get(point) or PointTally()).examples[:examples]]
    if shown:
        table = Table(box=box.SIMPLE_HEAD, title="examples of changed decisions", title_justify="left",
                      pad_edge=False)
        for name in ("line", "point", "subject", "amount", "baseline", "candidate", "rules"):
            table.add_column(name, justify="right" if name in ("line", "amount") else "left",
                             overflow="fold", no_wrap=name in ("line", "amount"))
        for c in shown:  # Text: ids and roles are data, never rich markup ("[general_manager]")
            table.add_row(*(Text(cell) for cell in (str(c.line), c.hook, c.subject, _amount(report, c.hook, c.amount),
                                                     _verdict_text(c.before, report.spec(c.hook)),
                                                     _verdict_text(c.after, report.spec(c.hook)),
                                                     _rules_changed(c.before, c.after))))
        parts.append(table)
    if tally.invalid:
        lines = Text(f"{tally.invalid:,} line(s) are not order, return or document facts and were not replayed:\n",
                     style="bold red")
        for bad in tally.invalid_examples[:10]:
            lines.append(f"  {report.source}:{bad.line}: {bad.message}\n")
        parts.append(lines)
    return Group(*parts)


def _money_rows(report: Report) -> list[tuple[str, Decimal, Decimal]]:
    rows = []
    pricing = report.tally.hooks.get("pricing")
    if pricing is not None and pricing.decided:
        rows.append(("revenue at policy prices", pricing.revenue_before, pricing.revenue_after))
        rows.append(("margin at policy prices", pricing.margin_before, pricing.margin_after))
    for point in report.hooks:
        t = report.tally.hooks.get(point)
        if t is not None and t.decided and point != "return_handling" and not _declared(report, point):
            rows.append((f"blocked ({point})", t.blocked_before, t.blocked_after))
    returns = report.tally.hooks.get("return_handling")
    if returns is not None and returns.decided:
        rows.append(("refunds", returns.refund_before, returns.refund_after))
    return rows


# -- JSON ---------------------------------------------------------------------------------------

def _verdict_json(verdict: Verdict) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": verdict.outcome.value, "roles": list(verdict.roles), "rules": list(verdict.rules)}
    if verdict.prices:
        out["prices"] = [str(p) for p in verdict.prices]
    if verdict.refund is not None:
        out["refund"] = str(verdict.refund)
    if verdict.outputs:
        out["outputs"] = {name: _value(value) for name, value in verdict.outputs}
    return out


def as_json(report: Report) -> dict[str, Any]:
    """The report as plain JSON values (money as strings, so nothing is rounded through a float)."""
    tally = report.tally
    points: dict[str, Any] = {}
    for point in report.hooks:
        t = tally.hooks.get(point) or PointTally()
        declared = _declared(report, point)
        entry: dict[str, Any] = {
            "title": report.title(point), "decided": t.decided, "changed": t.changed,
            "outcomes": {"baseline": dict(t.outcomes_before), "candidate": dict(t.outcomes_after)},
            "transitions": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(t.transitions.items())],
            "approvals": {"baseline": dict(t.roles_before), "candidate": dict(t.roles_after),
                          "gained": dict(t.roles_gained), "dropped": dict(t.roles_dropped)},
            "blocked_amount": None if declared else {"baseline": str(t.blocked_before),
                                                     "candidate": str(t.blocked_after)},
            "examples": [{"line": c.line, "subject": c.subject, "amount": None if declared else str(c.amount),
                          "baseline": _verdict_json(c.before), "candidate": _verdict_json(c.after)}
                         for c in t.examples],
        }
        if point == "pricing":
            entry["revenue"] = {"baseline": str(t.revenue_before), "candidate": str(t.revenue_after)}
            entry["margin"] = {"baseline": str(t.margin_before), "candidate": str(t.margin_after)}
            entry["order_total"] = str(t.amount)  # what the orders asked for, the same under both policies
        if point == "return_handling":
            entry["refunds"] = {"baseline": str(t.refund_before), "candidate": str(t.refund_after)}
        if declared:
            entry["outputs_changed"] = t.outputs_changed
        points[point] = entry
    return {
        "source": report.source, "seconds": round(report.seconds, 3), "workers": report.workers,
        "orders": tally.orders, "returns": tally.returns, "documents": tally.documents,
        "baseline": {"name": report.baseline.name, "version": report.baseline.version, "hash": report.baseline.hash},
        "candidate": {"name": report.candidate.name, "version": report.candidate.version,
                      "hash": report.candidate.hash},
        "hooks": points,
        "approvals_per_role": [{"role": r, "baseline": b, "candidate": a} for r, b, a in _approvals_per_role(report)],
        "invalid_lines": {"count": tally.invalid,
                          "first": [{"line": bad.line, "message": bad.message} for bad in tally.invalid_examples]},
    }


# -- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .7em;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}td.l{text-align:left}.up{color:#b3261e}.down{color:#1b6e20}
.meta{color:#555}.legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:-1px}
"""
_BEFORE, _AFTER = "#9aa5b1", "#2f6fb0"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _bars(title: str, rows: Sequence[tuple[str, float, float]], unit: str = "") -> str:
    """A grouped horizontal bar chart, baseline vs candidate per row, as inline SVG."""
    if not rows:
        return ""
    top = max(max(b, a) for _, b, a in rows) or 1.0
    label_w, bar_w, row_h = 170, 520, 34
    height = row_h * len(rows) + 10
    out = [f'<svg role="img" aria-label="{_e(title)}" width="{label_w + bar_w + 140}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg" font-size="12">']
    for i, (label, before, after) in enumerate(rows):
        y = i * row_h + 4
        out.append(f'<text x="0" y="{y + 16}">{_e(label)}</text>')
        for j, (value, colour) in enumerate(((before, _BEFORE), (after, _AFTER))):
            width = max(1.0, bar_w * value / top) if value else 0.0
            out.append(f'<rect x="{label_w}" y="{y + j * 13}" width="{width:.1f}" height="12" fill="{colour}"/>')
            out.append(f'<text x="{label_w + width + 5:.1f}" y="{y + j * 13 + 10}">{_e(_num(value))}{unit}</text>')
    out.append("</svg>")
    return "".join(out)


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def _delta_cell(value: Decimal | int) -> str:
    css = "up" if value > 0 else "down" if value < 0 else ""
    text = _signed(value) if value else "0"
    return f'<td class="{css}">{_e(text)}</td>'


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def as_html(report: Report) -> str:
    """The report as one self-contained HTML page with charts."""
    tally = report.tally
    b, c = report.baseline, report.candidate
    parts = [
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>salesgate simulation: {_e(c.name)} {_e(c.version)}</title><style>{_CSS}</style></head><body>",
        f"<h1>What changes with {_e(c.name)} {_e(c.version)}</h1>",
        f'<p class="meta">Replayed {_e(_replayed(tally))} from {_e(report.source)} '
        f"in {report.seconds:.1f} s.<br>Baseline: {_e(b.name)} {_e(b.version)} <code>{_e(b.hash)}</code>"
        f" ({_e(b.source)})<br>Candidate: {_e(c.name)} {_e(c.version)} <code>{_e(c.hash)}</code> ({_e(c.source)})</p>",
        f'<p class="legend"><span style="background:{_BEFORE}"></span>baseline'
        f'<span style="background:{_AFTER}"></span>candidate</p>',
    ]
    if tally.invalid:
        items = "".join(f"<li>line {bad.line}: {_e(bad.message)}</li>" for bad in tally.invalid_examples[:10])
        parts.append(f'<p class="up">{tally.invalid:,} line(s) are not order, return or document facts and were not '
                     f"replayed:</p><ul>{items}</ul>")
    rows = []
    for point in report.hooks:
        t = tally.hooks.get(point) or PointTally()
        cells = [f'<td class="l">{_e(report.title(point))}</td>', f"<td>{t.decided:,}</td>", f"<td>{t.changed:,}</td>"]
        cells += [f"<td>{t.outcomes_before[o]:,} → {t.outcomes_after[o]:,}</td>" for o in OUTCOMES]
        rows.append(cells)
    parts += ["<h2>Decisions</h2>", _table(["point", "decided", "changed", *OUTCOMES], rows)]
    for point in report.hooks:
        t = tally.hooks.get(point) or PointTally()
        chart = [(o, float(t.outcomes_before[o]), float(t.outcomes_after[o])) for o in OUTCOMES]
        parts.append(f"<h3>{_e(report.title(point))}: outcomes</h3>{_bars(report.title(point), chart)}")
        if t.transitions:
            parts.append(_table(["from", "to", "decisions"],
                                ([f'<td class="l">{_e(a)}</td>', f'<td class="l">{_e(z)}</td>', f"<td>{n:,}</td>"]
                                 for (a, z), n in sorted(t.transitions.items()))))
    per_role = _approvals_per_role(report)
    parts.append("<h2>Approvals needed, per role</h2>")
    parts.append(_bars("approvals per role", [(r, float(x), float(y)) for r, x, y in per_role]))
    parts.append(_table(["role", "baseline", "candidate", "change"],
                        ([f'<td class="l">{_e(r)}</td>', f"<td>{x:,}</td>", f"<td>{y:,}</td>", _delta_cell(y - x)]
                         for r, x, y in per_role)))
    money = _money_rows(report)
    if money:
        parts.append("<h2>Money</h2>")
        parts.append(_bars("money", [(label, float(x), float(y)) for label, x, y in money]))
        parts.append(_table(["figure", "baseline", "candidate", "change"],
                            ([f'<td class="l">{_e(label)}</td>', f"<td>{_e(format_money(x))}</td>",
                              f"<td>{_e(format_money(y))}</td>", _delta_cell(y - x)] for label, x, y in money)))
    examples = [ch for point in report.hooks for ch in (tally.hooks.get(point) or PointTally()).examples]
    if examples:
        parts.append("<h2>Examples of changed decisions</h2>")
        parts.append(_table(["line", "point", "subject", "amount", "baseline", "candidate", "rules"],
                            ([f"<td>{ch.line}</td>", f'<td class="l">{_e(ch.hook)}</td>',
                              f'<td class="l">{_e(ch.subject)}</td>',
                              f"<td>{_e(_amount(report, ch.hook, ch.amount))}</td>",
                              f'<td class="l">{_e(_verdict_text(ch.before, report.spec(ch.hook)))}</td>',
                              f'<td class="l">{_e(_verdict_text(ch.after, report.spec(ch.hook)))}</td>',
                              f'<td class="l">{_e(_rules_changed(ch.before, ch.after))}</td>']
                             for ch in examples)))
    parts.append("</body></html>\n")
    return "".join(parts)
