"""The ``salesgate`` command: check a policy, decide one order or return, browse facts, run the demo.

Exit codes: 0 when the command did its job (whatever a decision's outcome: an outcome is data),
1 only when ``decide --fail-on`` asks for it, 2 on bad input or an invalid policy. Errors are one
line each on stderr, never a traceback.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from . import __version__
from .commands import CommandInputError, fail, fail_policy, open_store, schema_option, show, url_option
from .commands.approvals import approvals as approvals_commands
from .commands.audit import audit as audit_commands
from .commands.export import export_command
from .commands.simulate import simulate_command
from .commands.test import run_tests_command
from .decisions import Decision, Outcome, PricingResult, Reason
from .errors import EngineError, FactsError, PolicyError, SalesgateError
from .gate import BackendName, Gate
from .hooknames import HOOKS, Hook
from .money import format_money
from .policy.compiler import Policy, load_policy
from .policy.schema import PolicyFile, RuleSetFile
from .seed import seed_policy_path
from .vocabulary import VOCABULARY, FactInfo

if TYPE_CHECKING:
    from salesgate_adapters.store import Store

    from .demo import DemoResult

ALIASES: dict[str, Hook] = {
    "approval": "order_approval",
    "credit": "credit_check",
    "return": "return_handling",
    "returns": "return_handling",
}
SHORT: dict[Hook, str] = {
    "order_approval": "approval",
    "credit_check": "credit",
    "pricing": "pricing",
    "return_handling": "returns",
}
OUTCOME_STYLE = {
    Outcome.allow: "green",
    Outcome.warn: "yellow",
    Outcome.require_approval: "magenta",
    Outcome.block: "bold red",
}
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

F = TypeVar("F", bound=Callable[..., Any])


class UsageProblem(SalesgateError):
    """Bad command-line input: an unknown hook, an unreadable or malformed facts file."""


# -- plumbing --------------------------------------------------------------------------------------


def _utf8_streams() -> None:
    """Chinese names and messages must print whatever the locale: pipes and files get UTF-8."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if isinstance(stream, io.TextIOWrapper) and encoding != "utf8":
            stream.reconfigure(encoding="utf-8")


class _Group(click.Group):
    """Turns every SalesgateError raised by a command into one-line messages and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PolicyError as exc:
            fail_policy(exc, "invalid policy")
        except SalesgateError as exc:
            fail(str(exc))


def _load(path: str | None) -> Policy:
    return load_policy(path if path is not None else seed_policy_path())


def _gate(build: Callable[[], Gate], backend: BackendName) -> Gate:
    """Build a gate; a backend whose engine cannot be imported is an input error, not a crash."""
    try:
        return build()
    except ImportError as exc:
        raise EngineError(f"the {backend} backend is not available ({exc}); try --backend python") from exc


def _hook(value: str) -> Hook:
    name = value.strip().lower().replace("-", "_")
    if name in HOOKS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    raise UsageProblem(f"unknown hook {value!r}: use one of {', '.join(HOOKS)} "
                       f"(or {', '.join(ALIASES)})")


_JSON_INT_DIGITS = 4_300  # Python's own bound on reading an integer from text (sys.get_int_max_str_digits)


class _LongNumber(ValueError):
    def __init__(self, digits: str) -> None:
        super().__init__(digits[:20])
        self.digits = digits


def _json_int(text: str) -> int:
    """A JSON integer; one too long to read is an input error at its line, not a traceback."""
    if len(text) > _JSON_INT_DIGITS:
        raise _LongNumber(text)
    return int(text)


def _read_facts(source: str) -> dict[str, Any]:
    """The facts document: a JSON object, read from a file, from stdin (``-``) or written inline."""
    if source.lstrip().startswith("{"):
        return _parse_facts(source.encode("utf-8"), "INPUT")
    shown = "stdin" if source == "-" else source
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise UsageProblem(f"cannot read {shown}: {exc.strerror or exc}") from None
    return _parse_facts(raw, shown)


def _parse_facts(raw: bytes, shown: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageProblem(f"{shown} is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise UsageProblem(f"{shown}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except _LongNumber as exc:
        at = text.find(exc.digits)
        line = text.count("\n", 0, at) + 1
        column = at - text.rfind("\n", 0, at)
        raise UsageProblem(f"{shown}:{line}:{column}: invalid JSON: a number of {len(exc.digits):,} digits, more than "
                           f"the {_JSON_INT_DIGITS:,} salesgate reads") from None
    except RecursionError:
        raise UsageProblem(f"{shown}: invalid JSON: nested too deeply to be an order or a return") from None
    if not isinstance(data, dict):
        raise UsageProblem(f"{shown}: expected a JSON object such as "
                           '{"order": {...}, "customer": {...}}, got ' + type(data).__name__)
    return data


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=2)


def _message(reason: Reason, lang: str | None) -> str:
    return reason.translations.get(lang, reason.message) if lang else reason.message


def _outcome(outcome: Outcome) -> Text:
    return Text(outcome.value, style=OUTCOME_STYLE[outcome])


def _roles(decision: Decision) -> str:
    return " → ".join(decision.required_roles)


def _percent(rate: Decimal) -> str:
    text = f"{rate * 100:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def _adjustment(kind: str, value: Decimal) -> str:
    if kind == "markup":
        return f"+{_percent(value)}"
    if kind == "discount":
        return f"−{_percent(value)}"
    if kind == "add":
        return f"{'+' if value >= 0 else '−'}{format_money(abs(value))}"
    return f"{kind} {format_money(value)}"


def _backend_option(func: F) -> F:
    option = click.option(
        "--backend", type=click.Choice(["durable", "python"]), default="durable", show_default=True,
        envvar="SALESGATE_BACKEND",
        help="Matching backend: durable-rules, or the pure-Python evaluator (same decisions).",
    )
    return option(func)


def _lang_option(func: F) -> F:
    option = click.option("--lang", metavar="LANG",
                          help="Print messages in this language when the policy has it (e.g. en).")
    return option(func)


# -- commands ---------------------------------------------------------------------------------------


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="salesgate")
def cli() -> None:
    """salesgate: company sales policy as YAML rules, enforced inside your ERP.

    Start with `salesgate demo`; see docs/cli.md for every command.
    """


@cli.command()
@click.argument("path", type=click.Path(path_type=str))
def validate(path: str) -> None:
    """Load and check the policy in PATH (a directory of rule files, or one rule file)."""
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        fail_policy(exc, f"policy {path} is invalid")
    rulesets = len(policy.rulesets)
    click.echo(f"ok: {policy.name} {policy.version} ({policy.hash}): {len(policy.rules)} rules in "
               f"{rulesets} rule set{'s' if rulesets != 1 else ''}")


@cli.command()
@click.argument("hook", metavar="HOOK")
@click.argument("facts", metavar="INPUT")
@click.option("--rules", "rules", type=click.Path(path_type=str), metavar="PATH",
              help="Policy directory (default: the seed policy shipped with salesgate).")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON (see docs/cli.md).")
@click.option("--explain", is_flag=True, help="Show every rule evaluated and why it fired or not.")
@click.option("--fail-on", type=click.Choice([o.value for o in Outcome if o is not Outcome.allow]),
              help="Exit 1 when the outcome is this severe or worse (for scripts and CI).")
@click.option("--adapter", metavar="NAME",
              help="Read what INPUT leaves out from the ERP through this adapter (with --mapping or --url: sql).")
@click.option("--mapping", metavar="NAME|FILE",
              help="The sql adapter's mapping: demo, erpnext, odoo, tryton, or your own .yaml.")
@click.option("--url", metavar="URL", help="The ERP database (default: $SALESGATE_DATABASE_URL).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
              help="The day the sql adapter counts exposure at (default: today in the mapping's time zone).")
@_backend_option
@_lang_option
def decide(hook: str, facts: str, rules: str | None, as_json: bool, explain: bool, fail_on: str | None,
           adapter: str | None, mapping: str | None, url: str | None, today: datetime | None,
           backend: BackendName, lang: str | None) -> None:
    """Decide one order or return.

    HOOK is order_approval, credit_check, pricing or return_handling (or approval, credit,
    returns). INPUT is the facts document: a JSON file, `-` for stdin, or the JSON itself:
    {"order": ..., "customer": ..., "products": [...], "exposure": ...} for the order hooks,
    {"return": ..., "customer": ...} for returns.

    With an ERP (--mapping, --url or --adapter) what INPUT leaves out is read from it, and INPUT may
    be just an order id:

    \b
    salesgate decide approval SO-1001 --mapping demo --url sqlite:///erp.db
    salesgate decide credit '{"order": "SO-1001"}' --mapping erpnext
    """
    name = _hook(hook)
    erp = _erp_options(adapter, mapping, url, today)
    document, order_id = _decide_input(facts, name, erp)
    policy = _load(rules)
    options: dict[str, Any] = {} if erp is None else {"adapter": erp[0], "adapter_options": erp[1]}
    with _gate(lambda: Gate(policy, backend=backend, **options), backend) as gate:
        try:
            decision = gate.decide(name, document, explain=explain)
        except FactsError as exc:
            if order_id is None or not str(exc).startswith(f"no order {order_id!r}:"):
                raise
            if erp is None:
                raise UsageProblem(f"no order {order_id!r}: give the order document, or read the order from the ERP "
                                   "by id: --mapping NAME --url URL") from None
            raise UsageProblem(f"no order {order_id!r} in the ERP ({_erp_label(erp)})") from None
    if as_json:
        click.echo(_dumps(decision.model_dump(mode="json")))
    else:
        show(*_decision_view(decision, explain=explain, lang=lang))
    if fail_on is not None and decision.outcome.rank >= Outcome(fail_on).rank:
        sys.exit(1)


def _erp_options(adapter: str | None, mapping: str | None, url: str | None,
                 today: datetime | None) -> tuple[str, dict[str, Any]] | None:
    """The adapter ``decide`` reads the ERP through, and its options; None without an ERP."""
    if adapter is None and mapping is None and url is None:
        if today is not None:
            raise UsageProblem("--today is for an ERP adapter: add --mapping (and --url)")
        return None
    name = adapter or "sql"
    options: dict[str, Any] = {}
    if mapping is not None:
        options["mapping"] = mapping
    if url is not None:
        options["url"] = url
    if today is not None:
        options["today"] = today.date()
    if name == "sql" and mapping is None:  # the adapter's default, demo, would read another ERP as a failure
        raise UsageProblem("the sql adapter reads the ERP through a mapping: add --mapping NAME|FILE "
                           "(demo, erpnext, odoo, tryton, or your own .yaml)")
    if name == "sql" and url is None:
        from salesgate_adapters.sql import DEFAULT_URL_ENV

        if not os.environ.get(DEFAULT_URL_ENV, "").strip():
            raise UsageProblem(f"no ERP database: pass --url URL or set {DEFAULT_URL_ENV}")
    return name, options


def _erp_label(erp: tuple[str, dict[str, Any]]) -> str:
    """The adapter and mapping, for messages; never the URL (it may hold a password)."""
    mapping = erp[1].get("mapping")
    return f"adapter {erp[0]}" + (f", mapping {mapping}" if mapping is not None else "")


def _decide_input(source: str, hook: Hook, erp: tuple[str, dict[str, Any]] | None) -> tuple[dict[str, Any], str | None]:
    """The facts document ``decide`` was given, and the order id when INPUT was just an id.

    A file, ``-`` or inline JSON is the document; anything else is an order id when an ERP is given
    (a file of that name wins), else a file that cannot be read."""
    is_file = _is_file(source)
    if erp is None and source != "-" and not source.lstrip().startswith("{") and not is_file:
        raise UsageProblem(f"cannot read {source}: no such file (to decide an order by id, read it from the ERP: "
                           "--mapping NAME --url URL)")
    if erp is None or source == "-" or source.lstrip().startswith("{") or is_file:
        document = _read_facts(source)
        order = document.get("order")
        return document, order if isinstance(order, str) else None
    order_id = source.strip()
    if hook == "return_handling":
        raise UsageProblem(f"{source!r} is neither a file nor a return document: a return is decided from its "
                           'document, e.g. \'{"return": {"id": ..., "original_order_id": ..., "sku": ..., ...}}\'')
    if not order_id:
        raise UsageProblem("INPUT is empty: give an order id, a JSON file, - for stdin, or the JSON itself")
    return {"order": order_id}, order_id


def _is_file(source: str) -> bool:
    """Whether INPUT names an existing file; text no file system takes as a name (too long, a NUL) does not."""
    try:
        return Path(source).exists()
    except (OSError, ValueError):
        return False


@cli.command()
@click.option("--hook", "hook", metavar="HOOK", help="Only the facts this hook can read.")
@click.option("--json", "as_json", is_flag=True, help="Print the vocabulary as JSON.")
def vocab(hook: str | None, as_json: bool) -> None:
    """The facts rule conditions may read, with their types."""
    hooks = [_hook(hook)] if hook else list(HOOKS)
    facts: dict[str, tuple[FactInfo, list[Hook]]] = {}
    for name in hooks:
        for path, info in VOCABULARY[name].items():
            facts.setdefault(path, (info, []))[1].append(name)
    if as_json:
        click.echo(_dumps([
            {"path": info.path, "kind": info.kind.value, "unit": info.unit or None, "choices": list(info.choices),
             "optional": info.optional, "description": info.description, "hooks": used}
            for info, used in facts.values()
        ]))
        return
    title = (f"Facts for {_hook(hook)}" if hook else
             "Facts rules may read (order hooks: order_approval, credit_check, pricing; returns: return_handling)")
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False)
    table.add_column("Fact", no_wrap=True, style="bold")
    table.add_column("Type", max_width=24)
    if not hook:
        table.add_column("Hooks", no_wrap=True)
    table.add_column("Description", overflow="fold")
    group = ""
    for info, used in facts.values():
        if group and info.path.split(".")[0] != group:
            table.add_section()
        group = info.path.split(".")[0]
        row = [Text(info.path), Text(_fact_type(info))]
        if not hook:
            row.append(Text(_hooks_label(used)))
        row.append(Text(info.description))
        table.add_row(*row)
    show(table)


def _hooks_label(hooks: Sequence[Hook]) -> str:
    if len(hooks) == len(HOOKS):
        return "all"
    if set(hooks) == set(HOOKS) - {"return_handling"}:
        return "order hooks"
    return ", ".join(SHORT[h] for h in hooks)


def _fact_type(info: FactInfo) -> str:
    if info.choices:
        text = " | ".join(info.choices)
    elif info.kind.value == "list":
        text = f"list of {info.element}"
    elif info.unit:
        text = f"{info.kind.value} ({info.unit})"
    else:
        text = info.kind.value
    return text + (", optional" if info.optional else "")


@cli.command()
@click.option("--policy-file", is_flag=True, help="The schema of policy.yaml instead of a rule file.")
def schema(policy_file: bool) -> None:
    """JSON Schema of rule files, for editors (yaml-language-server) and CI checks."""
    model = PolicyFile if policy_file else RuleSetFile
    document = {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema()}
    document["title"] = "salesgate policy.yaml" if policy_file else "salesgate rule file"
    click.echo(_dumps(document))


@cli.command()
@click.option("--rules", "rules", type=click.Path(path_type=str), metavar="PATH",
              help="Decide the demo company by this policy instead of the seed policy.")
@click.option("--json", "as_json", is_flag=True, help="Print every decision as JSON (without traces).")
@_backend_option
@_lang_option
def demo(rules: str | None, as_json: bool, backend: BackendName, lang: str | None) -> None:
    """Decide the demo company's pending orders and returns by the seed policy."""
    from .demo import demo_gate, load_demo_company, results_by_hook, run_demo

    company = load_demo_company()
    policy = _load(rules)
    with _gate(lambda: demo_gate(company, backend=backend, policy=policy), backend) as gate:
        results = run_demo(gate, company)
    if as_json:
        click.echo(_dumps({
            "company": company.name,
            "policy": {"name": policy.name, "version": policy.version, "hash": policy.hash},
            "backend": backend,
            "decisions": [
                {"hook": r.hook, "subject": r.subject, "customer": r.customer, "amount": str(r.amount),
                 "decision": r.decision.model_dump(mode="json", exclude={"trace"})}
                for r in results
            ],
        }))
        return
    header = Text.assemble(
        ("salesgate demo", "bold"), f": {company.name}\n",
        f"policy {policy.name} {policy.version} ({policy.hash}), {backend} backend, "
        f"{len(company.orders)} pending orders and {len(company.returns)} returns\n",
    )
    tables = [_demo_table(hook, rows, lang) for hook, rows in results_by_hook(results).items()]
    counts = {o: sum(1 for r in results if r.decision.outcome is o) for o in Outcome}
    summary = Text(f"{len(results)} decisions: ")
    for i, (outcome, count) in enumerate(counts.items()):
        summary.append(", " if i else "")
        summary.append(f"{count} {outcome.value}", style=OUTCOME_STYLE[outcome])
    hint = Text("Try: salesgate decide approval order.json --explain   (facts format: docs/cli.md)", style="dim")
    show(header, *tables, summary, hint)


@cli.group()
def db() -> None:
    """salesgate's own tables (decision log, approval requests, credit reservations).

    The database is --url URL or SALESGATE_DATABASE_URL, a SQLAlchemy URL such as
    postgresql+psycopg://user@host/erp or mysql+pymysql://user@host/erp. Only tables named
    salesgate_* are created or changed.
    """


def _where(store: Store) -> str:
    """The URL (redacted) and the schema: the same URL without ``--schema`` is another set of tables."""
    return f"{store.url} (schema {store.schema})" if store.schema else str(store.url)


@db.command()
@url_option
@schema_option
def upgrade(url: str | None, schema: str | None) -> None:
    """Create salesgate's tables, or migrate them to this version (a no-op when up to date)."""
    with open_store(url, schema) as store:
        before = store.current()
        store.upgrade()
        after = store.current()
    state = "already at" if before == after else f"upgraded from {before or 'nothing'} to"
    click.echo(f"salesgate tables {state} revision {after} (head) in {_where(store)}")


@db.command()
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Confirm: what later revisions added is dropped, rows included.")
@url_option
@schema_option
def downgrade(revision: str, yes: bool, url: str | None, schema: str | None) -> None:
    """Migrate salesgate's tables back to REVISION (e.g. 0002; base drops them all).

    For going back to an older salesgate, which refuses tables a newer one migrated: run this
    with the newer salesgate first. What later revisions added is dropped with its rows (base:
    the decision log, approvals, reservations and the audit log), so it needs --yes.
    """
    if not yes:
        raise CommandInputError(f"downgrading to {revision} drops what later revisions added, with its rows "
                                "(base: every salesgate table, the audit log included): rerun with --yes")
    with open_store(url, schema) as store:
        before = store.current()
        store.downgrade(revision)
        after = store.current()
    click.echo(f"salesgate tables downgraded from {before or 'nothing'} to {after or 'base (no tables)'} "
               f"in {_where(store)}")


@db.command()
@url_option
@schema_option
def current(url: str | None, schema: str | None) -> None:
    """Print the revision salesgate's tables are at."""
    with open_store(url, schema) as store:
        revision = store.current()
    head, where = store.head(), _where(store)
    if revision is None:
        click.echo(f"no salesgate tables in {where}: run salesgate db upgrade")
    elif revision == head:
        click.echo(f"{revision} (head) in {where}")
    elif not store.knows(revision):
        click.echo(f"{revision} in {where}: newer than this salesgate knows (its newest is {head}); "
                   "a newer salesgate migrated these tables: upgrade salesgate")
    else:
        click.echo(f"{revision} in {where}: salesgate db upgrade migrates it to {head}")


cli.add_command(approvals_commands)
cli.add_command(audit_commands)
cli.add_command(simulate_command)
cli.add_command(export_command)


# -- printing decisions ----------------------------------------------------------------------------


def _reasons_text(decision: Decision, lang: str | None) -> Text:
    text = Text()
    for reason in decision.reasons:
        if text:
            text.append("\n")
        text.append(_message(reason, lang))
        line = f", line {reason.line_no}" if reason.line_no is not None else ""
        text.append(f" ({reason.rule}{line})", style="dim")
    for note in decision.notifications:
        if text:
            text.append("\n")
        text.append(f"notify {note.role}: {note.message}")
        text.append(f" ({note.rule})", style="dim")
    if decision.failure:
        text.append(("\n" if text else "") + f"failure: {decision.failure}", style="red")
    return text


def _demo_table(hook: Hook, rows: Sequence[DemoResult], lang: str | None) -> Table:
    table = Table(title=f"{hook} ({SHORT[hook]})", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column("Return" if hook == "return_handling" else "Order", no_wrap=True)
    table.add_column("Customer", no_wrap=True)
    table.add_column("Amount", justify="right", no_wrap=True)
    extra = {"credit_check": "Available", "pricing": "Policy total", "return_handling": "Refund"}.get(hook)
    if extra:
        table.add_column(extra, justify="right", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Approvals", max_width=18)
    table.add_column("Reasons", overflow="fold")
    for row in rows:
        decision = row.decision
        cells: list[Text | str] = [Text(row.subject), Text(row.customer), format_money(row.amount)]
        if hook == "credit_check" and decision.credit:
            available = decision.credit.available
            cells.append(Text(format_money(available), style="red" if available < 0 else ""))
        elif hook == "pricing" and decision.pricing:
            cells.append(format_money(decision.pricing.policy_total))
        elif hook == "return_handling" and decision.returns:
            cells.append(format_money(decision.returns.refund_amount))
        elif extra:
            cells.append("")
        reasons = _reasons_text(decision, lang)
        if hook == "pricing" and decision.pricing and not decision.reasons:
            adjustments = [f"{a.rule} {_adjustment(a.kind, a.value)}"
                           for line in decision.pricing.lines for a in line.adjustments]
            reasons = Text(", ".join(dict.fromkeys(adjustments)) or "list price", style="dim")
        cells += [_outcome(decision.outcome), Text(_roles(decision)), reasons]
        table.add_row(*cells)
    return table


def _decision_view(decision: Decision, *, explain: bool, lang: str | None) -> list[RenderableType]:
    policy = decision.policy
    view: list[RenderableType] = [
        Text.assemble((f"{decision.hook} {decision.subject}: ", "bold"), _outcome(decision.outcome)),
        Text(f"policy {policy.name} {policy.version} ({policy.hash}), {decision.backend} backend", style="dim"),
    ]
    if decision.approvals:
        view.append(Text("approvals: " + " → ".join(f"{a.role} ({', '.join(a.rules)})" for a in decision.approvals)))
    reasons = _reasons_text(decision, lang)
    if reasons:
        view.append(Text("reasons:"))
        view.extend(Text("  ") + line for line in reasons.split("\n"))
    if decision.pricing:
        view.append(_pricing_table(decision.pricing))
    if decision.credit:
        c = decision.credit
        view.append(Text(f"credit: exposure {format_money(c.exposure_after_order)} (with this order), limit "
                         f"{format_money(c.limit)}, available {format_money(c.available)}, overdue "
                         f"{format_money(c.overdue_amount)} (max {c.max_overdue_days} days)"))
    if decision.returns:
        r = decision.returns
        view.append(Text(f"refund: {format_money(r.refund_amount)} = {format_money(r.amount)} × "
                         f"{_percent(r.refund_rate)} − restocking fee {format_money(r.restocking_fee)}"))
    if explain:
        view.append(_trace_table(decision))
    return view


def _pricing_table(pricing: PricingResult) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title="pricing", title_justify="left", pad_edge=False)
    for name in ("Line", "SKU", "Qty", "List", "Requested", "Policy"):
        table.add_column(name, justify="left" if name == "SKU" else "right", no_wrap=True)
    table.add_column("Adjustments")
    for line in pricing.lines:
        table.add_row(
            str(line.line_no), Text(line.sku), str(line.qty),
            format_money(line.list_price) if line.list_price is not None else "-",
            format_money(line.requested_unit_price), format_money(line.policy_price),
            Text(", ".join(f"{a.rule} {_adjustment(a.kind, a.value)}" for a in line.adjustments) or "-"),
        )
    table.add_row("", "total", "", "", format_money(pricing.requested_total), format_money(pricing.policy_total), "",
                  style="bold")
    return table


def _trace_table(decision: Decision) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title="trace", title_justify="left", pad_edge=False)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Fired", no_wrap=True)
    table.add_column("Why")
    for entry in decision.trace:
        fired = Text("yes", style="bold") if entry.fired else Text("no", style="dim")
        rule = entry.rule + (f" (line {entry.line_no})" if entry.line_no is not None else "")
        table.add_row(Text(rule), fired, Text(entry.explanation or _values(entry.values)))
    return table


def _values(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in values.items())


cli.add_command(run_tests_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    _utf8_streams()
    cli.main(args=list(argv) if argv is not None else None, prog_name="salesgate")
