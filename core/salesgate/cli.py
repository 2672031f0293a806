"""The ``salesgate`` command: check a policy, decide one order or return, browse facts, test a policy.

Plugins add commands through ``salesgate_register_commands``: the store's ``db``, ``approvals`` and
``audit``, and ``demo``, come from ``salesgate_adapters`` that way (:mod:`salesgate.defaults`), and
an installed package adds its own through the ``salesgate`` entry-point group. They are looked
for only when a command the core does not have is asked for, or ``--help``.

Exit codes: 0 when the command did its job (whatever a decision's outcome: an outcome is data),
1 only when ``decide --fail-on`` asks for it, 2 on bad input or an invalid policy. Errors are one
line each on stderr, never a traceback.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pluggy
from pydantic import BaseModel
from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from . import __version__, defaults, hookspecs
from .commands import (
    DATABASE_URL_ENV,
    Day,
    backend_option,
    build_gate,
    dumps,
    fail,
    fail_policy,
    lang_option,
    plugin_points,
    policy_or_seed,
    show,
)
from .commands.calendar import calendar_group
from .commands.export import export_command
from .commands.simulate import simulate_command
from .commands.table import table_command
from .commands.test import run_tests_command
from .commands.view import adjustment, outcome_text, percent, reasons_text
from .decisions import Decision, Outcome, PricingResult
from .documents import FieldType, OutputSpec
from .engine import BackendName
from .errors import FactsError, PluginError, PolicyError, SalesgateError, did_you_mean
from .gate import Gate
from .money import format_money
from .plugins import (
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    disabled_from_env,
    entry_point_shown,
    load_entry_point,
    plugin_name,
)
from .pointspecs import ORDER_POINTS, POINT_SPECS, PointSpec
from .policy.codegen import compile_stages
from .policy.compiler import Policy, load_policy
from .policy.declarations import PointFile
from .policy.lint import lint_policy
from .policy.schema import PolicyFile, RuleSetFile
from .policy.tables import gaps as table_gaps
from .vocabulary import FactInfo

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class UsageProblem(SalesgateError):
    """Bad command-line input: an unknown hook, an unreadable or malformed facts file."""


# -- plumbing --------------------------------------------------------------------------------------


def _utf8_streams() -> None:
    """Chinese names and messages must print whatever the locale: pipes and files get UTF-8."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if isinstance(stream, io.TextIOWrapper) and encoding != "utf8":
            stream.reconfigure(encoding="utf-8")


PLUGIN_COMMANDS = "salesgate.plugin_commands"
"""Where a run of ``salesgate`` keeps what plugins added (``ctx.meta``): found once per run."""
_WARNED = "salesgate.plugin_commands.warned"
COMMANDS_HOOK = "salesgate_register_commands"
_ORDER_DOCS = "docs/plugins.md#hook-order-and-wrappers"


class _Group(click.Group):
    """The core commands, and those plugins add; turns every SalesgateError raised by a command into
    one-line messages and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PolicyError as exc:
            fail_policy(exc, "invalid policy")
        except SalesgateError as exc:
            fail(str(exc))

    def list_commands(self, ctx: click.Context) -> list[str]:
        found = _plugin_commands(ctx, self.commands)
        _warn(ctx, found)
        return sorted({*self.commands, *found.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # A core command never loads plugins: `salesgate validate` works beside a broken plugin.
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        found = _plugin_commands(ctx, self.commands)
        command = found.commands.get(cmd_name)
        if command is None and found.failures:
            fail(found.missing(cmd_name))
        _warn(ctx, found)
        return command


def _plugin_commands(ctx: click.Context, core: Iterable[str]) -> PluginCommands:
    """What plugins add, found once per run."""
    meta = ctx.find_root().meta
    if PLUGIN_COMMANDS not in meta:
        meta[PLUGIN_COMMANDS] = find_plugin_commands(core)
    found: PluginCommands = meta[PLUGIN_COMMANDS]
    return found


def _warn(ctx: click.Context, found: PluginCommands) -> None:
    """Say once per run, on stderr, which plugins' commands were left out, and why."""
    meta = ctx.find_root().meta
    if found.failures and not meta.get(_WARNED):
        meta[_WARNED] = True
        for failure in found.failures:
            click.echo(f"warning: leaving out the commands of plugin {failure.plugin!r}: {failure.explained()}",
                       err=True)


@dataclass(frozen=True)
class CommandProviderFailure:
    """A plugin whose commands are left out: it failed to load, does not fit the hook, raised in
    it, or adds a command name that is taken."""

    plugin: str
    problem: str
    """What went wrong, naming the plugin (the PluginError :func:`plugin_commands` raises)."""
    advice: str
    """What the user can do about it ("" when ``problem`` says it already)."""
    commands: frozenset[str] = frozenset()
    """The commands it would have added, as far as they are known (a plugin that failed to load adds none)."""

    def explained(self) -> str:
        """The problem and what to do, as one line."""
        return f"{self.problem.rstrip('.')}. {self.advice}" if self.advice else self.problem


@dataclass(frozen=True)
class PluginCommands:
    """The commands plugins add, by name, and the plugins whose commands were left out."""

    commands: Mapping[str, click.Command]
    failures: tuple[CommandProviderFailure, ...]

    def missing(self, name: str) -> str:
        """Why there is no command ``name`` when some plugins failed: the ones that would have added
        it, else every one that failed (a plugin that failed to load might have)."""
        owners = [failure for failure in self.failures if name in failure.commands]
        if owners:
            return f"command {name!r} is not available: " + "; ".join(f.explained() for f in owners)
        return (f"no command {name!r}, and some plugins failed to add their commands (one may have added it): "
                + "; ".join(failure.explained() for failure in self.failures))


class _CommandsHookspec:
    """The one hook a plugin manager for ``salesgate``'s commands knows: a plugin's other hooks are
    not looked at (their problems are the gate's to report), so they cannot take the commands down."""

    salesgate_register_commands = staticmethod(hookspecs.salesgate_register_commands)


def plugin_commands(taken: Iterable[str] = (), plugins: Iterable[object] = ()) -> dict[str, click.Command]:
    """The commands plugins add through ``salesgate_register_commands``, by name; a plugin that
    fails (see :func:`find_plugin_commands`) is a PluginError naming it."""
    found = find_plugin_commands(taken, plugins)
    if found.failures:
        raise PluginError(found.failures[0].problem)
    return dict(found.commands)


def find_plugin_commands(taken: Iterable[str] = (), plugins: Iterable[object] = ()) -> PluginCommands:
    """The commands plugins add through ``salesgate_register_commands``, and the plugins that failed.

    The plugins are the built-in command providers (:data:`salesgate.defaults.DEFAULT_COMMANDS`),
    the installed ones (``salesgate`` entry points) and ``plugins``; those disabled by
    ``SALESGATE_DISABLE_PLUGINS`` are left out. Only this hook is checked. Each plugin adds to a
    group of its own, in plugin-name order; one that fails to load, marks the hook with a
    call-order option (none applies: every plugin's commands are added), raises, or adds a name
    that is ``taken`` (by the core) or was added already, is left out whole and returned as a
    failure naming it, so one broken plugin never takes the other commands with it.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(_CommandsHookspec)
    failures: list[CommandProviderFailure] = []
    disabled = disabled_from_env()
    for name, path in defaults.DEFAULT_COMMANDS.items():
        if name not in disabled:
            try:
                _register_provider(pm, defaults.resolve(path)(), name, repr(name), failures)
            except PluginError as exc:
                failures.append(CommandProviderFailure(name, str(exc), ""))
    reserved = {*defaults.DEFAULT_PLUGINS, *defaults.DEFAULT_COMMANDS}
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in disabled:
            continue
        if ep.name in reserved:
            failures.append(CommandProviderFailure(
                ep.name, f"plugin {entry_point_shown(ep)} from {ep.value!r} takes the name of salesgate's built-in "
                         f"plugin {ep.name!r}, which is reserved",
                f"Name the entry point otherwise (to replace the built-in, disable it with {DISABLE_ENV}={ep.name})"))
            continue
        try:
            plugin = load_entry_point(ep)
        except PluginError as exc:
            failures.append(CommandProviderFailure(ep.name, str(exc), ""))
            continue
        _register_provider(pm, plugin, ep.name, entry_point_shown(ep), failures)
    for plugin in plugins:
        _register_provider(pm, plugin, plugin_name(plugin), repr(plugin_name(plugin)), failures)
    return _collect(pm, dict.fromkeys(taken, "salesgate"), failures)


def _register_provider(pm: pluggy.PluginManager, plugin: object, name: str, shown: str,
                       failures: list[CommandProviderFailure]) -> None:
    """Register a plugin for its commands, or add why not to ``failures``."""
    advice = f"Fix or uninstall it, or disable it with {DISABLE_ENV}={name}"
    opts: Mapping[str, Any] = pm.parse_hookimpl_opts(plugin, COMMANDS_HOOK) or {}
    option = next((f"{key}=True" for key in ("wrapper", "hookwrapper", "tryfirst", "trylast") if opts.get(key)), None)
    if option is not None:
        failures.append(CommandProviderFailure(name, (
            f"plugin {shown} implements {COMMANDS_HOOK} with @hookimpl({option}), which salesgate does not support "
            f"there: every plugin's commands are added, each plugin in a group of its own, so there is no call to "
            f"wrap or to order. Remove {option}; see {_ORDER_DOCS}"), f"Or disable it with {DISABLE_ENV}={name}"))
        return
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        why = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # pluggy's, on one line
        failures.append(CommandProviderFailure(name, f"plugin {shown} does not fit {COMMANDS_HOOK}: {why}", advice))
    except ValueError:  # pluggy: this plugin, or one by this name, is registered already
        failures.append(CommandProviderFailure(name, f"plugin {shown} is already registered; pass each plugin once",
                                               ""))


def _collect(pm: pluggy.PluginManager, owners: dict[str, str],
             failures: list[CommandProviderFailure]) -> PluginCommands:
    """Call each registered plugin's hook with a group of its own, in plugin-name order."""
    found: dict[str, click.Command] = {}
    for impl in sorted(pm.hook.salesgate_register_commands.get_hookimpls(), key=lambda i: i.plugin_name):
        name = impl.plugin_name
        advice = f"Fix or uninstall it, or disable it with {DISABLE_ENV}={name}"
        group = click.Group()
        try:
            impl.function(**dict.fromkeys(impl.argnames, group))
        except Exception as exc:
            failures.append(CommandProviderFailure(
                name, f"plugin {name!r} failed in {COMMANDS_HOOK}: {type(exc).__name__}: {exc}", advice,
                frozenset(group.commands)))
            continue
        twice = next((command for command in group.commands if command in owners), None)
        if twice is not None:
            failures.append(CommandProviderFailure(
                name, f"command {twice!r} is added twice: by {owners[twice]!r} and by plugin {name!r}; disable one "
                      f"with {DISABLE_ENV}", f"Rename the command, or disable it with {DISABLE_ENV}={name}",
                frozenset(group.commands)))
            continue
        owners.update(dict.fromkeys(group.commands, name))
        found.update(group.commands)
    return PluginCommands(found, tuple(failures))


def _aliases(policy: Policy | None) -> dict[str, str]:
    """Every other name ``decide`` takes for a point (a built-in point's short name and aliases)."""
    specs = policy.points.values() if policy is not None else POINT_SPECS.values()
    return {alias: spec.name for spec in specs for alias in spec.aliases}


def _point(value: str, policy: Policy | None = None) -> str:
    """The decision point a user named: a point of ``policy`` (every built-in one and those it, or an
    installed plugin, declares), or a built-in point's short name; else an error with a did-you-mean."""
    points = list(policy.points) if policy is not None else list(POINT_SPECS)
    aliases = _aliases(policy)
    name = value.strip().lower().replace("-", "_")
    if name in points:
        return name
    if name in aliases:
        return aliases[name]
    suggestion = did_you_mean(name, [*points, *aliases])
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    raise UsageProblem(f"unknown decision point {value!r}{hint}: use one of {', '.join(points)} "
                       f"(or {', '.join(aliases)})")


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


# -- commands ---------------------------------------------------------------------------------------


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="salesgate")
def cli() -> None:
    """salesgate: company sales policy as YAML rules, enforced inside your ERP.

    Start with `salesgate demo`; see docs/cli.md for every command.
    """


@cli.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option("--strict", is_flag=True,
              help="Treat warnings (overlapping ranges, unreachable conditions, ...) as errors.")
@click.option("--as-of", "as_of", type=Day(), metavar="DATE",
              help="Also show what is in force on DATE: the rule sets and rules whose effective: dates leave them out.")
@click.option("--gaps", is_flag=True, help="Also list, per decision table, the inputs no row covers.")
def validate(path: str, strict: bool, as_of: datetime | None, gaps: bool) -> None:
    """Load and check the policy in PATH (a directory of rule files, or one rule file).

    Then print warnings: what loads but probably is not what was meant (docs/policy-language.md,
    "Warnings (lint)"). They leave the exit code 0; with --strict they are errors (exit code 2).
    With --as-of, list what is in force on that day (docs/policy-language.md, "Effective dates").
    With --gaps, list for each decision table the inputs no row covers (docs/policy-language.md, "Gaps").
    """
    try:
        policy = load_policy(path, points=plugin_points())
    except PolicyError as exc:
        fail_policy(exc, f"policy {path} is invalid")
    warnings = lint_policy(policy)
    for warning in warnings:
        click.echo(str(warning), err=True)
    if warnings and strict:
        count = len(warnings)
        fail(f"policy {path} has {count} warning{'s' if count != 1 else ''} (--strict makes them errors)")
    rulesets = len(policy.rulesets)
    click.echo(f"ok: {policy.name} {policy.version} ({policy.hash}): {len(policy.rules)} rules in "
               f"{rulesets} rule set{'s' if rulesets != 1 else ''}"
               + (f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""))
    _fallbacks(policy)
    if gaps:
        for name, table in policy.tables.items():
            uncovered = table_gaps(table)
            click.echo(f"table {name} ({table.file}): " + (f"{len(uncovered)} gap{'s' if len(uncovered) != 1 else ''}"
                                                           if uncovered else "no gaps"))
            for gap in uncovered:
                click.echo(f"  no row covers: {gap}")
    if as_of is not None:
        _in_force(policy, as_of.date())


def _fallbacks(policy: Policy) -> None:
    """What ``validate`` says of the compiled backend: the rules it runs on the evaluator instead of
    generated code (same decisions, slower), when there are any. Not a problem of the policy, so never
    an error, with ``--strict`` neither."""
    fallen = compile_stages(policy.stages()).fallbacks
    if not fallen:
        return
    count = len(fallen)
    click.echo(f"compiled backend: {count} rule{'s' if count != 1 else ''} run on the evaluator instead of "
               "generated code (same decisions, slower):")
    for fallback in fallen:
        click.echo(f"  rule {fallback.rule} ({fallback.stage}): {fallback.reason}")


def _in_force(policy: Policy, day: date) -> None:
    """What ``validate --as-of`` adds: which rule sets and rules are in force on ``day``, and which are not."""
    sets_out, rules_out = policy.not_in_force(day)
    in_force = len(policy.rules) - len(rules_out)
    click.echo(f"as of {day.isoformat()}: {in_force} of {len(policy.rules)} rules in force (policy {policy.name} "
               f"{policy.version})")
    for name in sets_out:
        click.echo(f"  rule set {name} {policy.rulesets[name]}: not in force ({policy.windows[name].describe()})")
    for rule in rules_out:
        if rule.ruleset in sets_out:
            continue
        window = rule.effective.describe() if rule.effective is not None else ""
        click.echo(f"  rule {rule.id} ({rule.file}:{rule.line}): not in force ({window})")
    dated = sorted({name for name in policy.windows if name not in sets_out})
    for name in dated:
        click.echo(f"  rule set {name} {policy.rulesets[name]}: in force ({policy.windows[name].describe()})")
    calendar = policy.calendars.get(policy.calendar) if policy.calendar else None
    if calendar is not None and not calendar.covers(day):
        years = ", ".join(str(year) for year in sorted(calendar.years))
        click.echo(f"  calendar {policy.calendar} ({calendar.source}) covers {years}, not {day.year}: business-day "
                   f"functions on {day.year} dates give missing values, so the rules counting them do not fire: add "
                   f"its {day.year}: section")


@cli.command()
@click.argument("hook", metavar="POINT")
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
@click.option("--as-of", "--today", "as_of", type=Day(), metavar="DATE",
              help="The day to decide as of: what the rules read as today, which rules are in force, what the ERP's "
                   "figures are counted to (default: today in the policy's time zone). --today is the older name.")
@backend_option
@lang_option
def decide(hook: str, facts: str, rules: str | None, as_json: bool, explain: bool, fail_on: str | None,
           adapter: str | None, mapping: str | None, url: str | None, as_of: datetime | None,
           backend: BackendName, lang: str | None) -> None:
    """Decide one order, return or document at a decision point.

    POINT is the decision point: order_approval, credit_check, pricing or return_handling (or
    approval, credit, returns), or a point the policy declares (salesgate points lists them).
    INPUT is the facts document: a JSON file, `-` for stdin, or the JSON itself:
    {"order": ..., "customer": ..., "products": [...], "exposure": ...} for the order decision points,
    {"return": ..., "customer": ...} for returns, {"<document>": ..., "customer": ...} for a declared point.

    With an ERP (--mapping, --url or --adapter) what INPUT leaves out is read from it, and INPUT may
    be just an order id (or a declared point's document id):

    \b
    salesgate decide approval SO-1001 --mapping demo --url sqlite:///erp.db
    salesgate decide credit '{"order": "SO-1001"}' --mapping erpnext
    """
    erp = _erp_options(adapter, mapping, url)
    policy = policy_or_seed(rules)
    name = _point(hook, policy)
    document, order_id = _decide_input(facts, policy.point(name), erp)
    options: dict[str, Any] = {} if erp is None else {"adapter": erp[0], "adapter_options": erp[1]}
    if as_of is not None:
        options["today"] = as_of.date()
    with build_gate(lambda: Gate(policy, backend=backend, **options), backend) as gate:
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
        click.echo(dumps(decision.model_dump(mode="json")))
    else:
        show(*_decision_view(decision, explain=explain, lang=lang, spec=policy.points.get(decision.hook)))
    if fail_on is not None and decision.outcome.rank >= Outcome(fail_on).rank:
        sys.exit(1)


def _erp_options(adapter: str | None, mapping: str | None, url: str | None) -> tuple[str, dict[str, Any]] | None:
    """The adapter ``decide`` reads the ERP through, and its options; None without an ERP."""
    if adapter is None and mapping is None and url is None:
        return None
    name = adapter or "sql"
    options: dict[str, Any] = {}
    if mapping is not None:
        options["mapping"] = mapping
    if url is not None:
        options["url"] = url
    if name == "sql" and mapping is None:  # the adapter's default, demo, would read another ERP as a failure
        raise UsageProblem("the sql adapter reads the ERP through a mapping: add --mapping NAME|FILE "
                           "(demo, erpnext, odoo, tryton, or your own .yaml)")
    if name == "sql" and url is None and not os.environ.get(DATABASE_URL_ENV, "").strip():
        raise UsageProblem(f"no ERP database: pass --url URL or set {DATABASE_URL_ENV}")
    return name, options


def _erp_label(erp: tuple[str, dict[str, Any]]) -> str:
    """The adapter and mapping, for messages; never the URL (it may hold a password)."""
    mapping = erp[1].get("mapping")
    return f"adapter {erp[0]}" + (f", mapping {mapping}" if mapping is not None else "")


def _decide_input(source: str, spec: PointSpec,
                  erp: tuple[str, dict[str, Any]] | None) -> tuple[dict[str, Any], str | None]:
    """The facts document ``decide`` was given, and the order id when INPUT was just an id.

    A file, ``-`` or inline JSON is the document; anything else is an order id (a declared point's
    document id) when an ERP is given (a file of that name wins), else a file that cannot be read."""
    is_file = _exists(source)
    if erp is None and source != "-" and not source.lstrip().startswith("{") and not is_file:
        what = "an order" if spec.root == "order" else f"a {spec.root}"
        raise UsageProblem(f"cannot read {source}: no such file (to decide {what} by id, read it from the ERP: "
                           "--mapping NAME --url URL)")
    if erp is None or source == "-" or source.lstrip().startswith("{") or is_file:
        document = _read_facts(source)
        order = document.get("order")
        return document, order if isinstance(order, str) and spec.root == "order" else None
    document_id = source.strip()
    if spec.name == "return_handling":
        raise UsageProblem(f"{source!r} is neither a file nor a return document: a return is decided from its "
                           'document, e.g. \'{"return": {"id": ..., "original_order_id": ..., "sku": ..., ...}}\'')
    if not document_id:
        raise UsageProblem(f"INPUT is empty: give {'an order' if spec.root == 'order' else 'a ' + spec.root} id, "
                           "a JSON file, - for stdin, or the JSON itself")
    if spec.root != "order":
        return {spec.root: document_id}, None
    return {"order": document_id}, document_id


def _exists(path: str) -> bool:
    """Whether ``path`` names something that exists (``decide``'s INPUT file, the ``--rules`` policy of
    ``points``); text no file system takes as a name (too long, a NUL) does not."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


@cli.command()
@click.argument("point", metavar="[POINT]", required=False)
@click.option("--hook", "hook", metavar="POINT", help="Only the facts this decision point can read (as POINT).")
@click.option("--rules", "rules", type=click.Path(path_type=str), metavar="PATH",
              help="Policy directory whose points and declared facts to include (default: the seed policy).")
@click.option("--json", "as_json", is_flag=True, help="Print the vocabulary as JSON.")
def vocab(point: str | None, hook: str | None, rules: str | None, as_json: bool) -> None:
    """The facts rule conditions may read, with their types: every decision point's, or POINT's.

    The policy's own (--rules PATH) included: the documents of the points it declares, and the
    facts policy.yaml declares on the shipped documents, each with where it is declared.
    """
    if point is not None and hook is not None and point != hook:
        raise UsageProblem(f"give the decision point once: {point!r} or --hook {hook!r}")
    chosen = point or hook
    policy = _policy_at(rules)
    points = [_point(chosen, policy)] if chosen else list(policy.points)
    facts: dict[FactInfo, list[str]] = {}  # a path two points read as different facts is two rows (line.qty)
    for name in points:
        for info in policy.vocabulary[name].values():
            facts.setdefault(info, []).append(name)
    facts = dict(sorted(facts.items(), key=lambda item: _first_seen(item[0], facts)))
    if as_json:
        click.echo(dumps([{**_fact_json(info), "hooks": used} for info, used in facts.items()]))
        return
    title = f"Facts for {points[0]}" if chosen else f"Facts rules may read ({_points_legend(policy)})"
    show(_facts_table(title, [(info, None if chosen else used) for info, used in facts.items()], policy))


def _first_seen(info: FactInfo, facts: Mapping[FactInfo, list[str]]) -> int:
    """Where a fact's path first appears: the rows of one path stay together."""
    return next(index for index, other in enumerate(facts) if other.path == info.path)


def _policy_at(rules: str | None) -> Policy:
    """The policy in ``--rules PATH`` (a missing path is a one-line error), else the seed policy."""
    if rules is not None and not _exists(rules):
        raise UsageProblem(f"--rules {rules}: no such policy directory or file")
    return policy_or_seed(rules)


def _points_legend(policy: Policy) -> str:
    """How the Points column names groups of points: ``order hooks: ...; returns: ...; sample_request``."""
    order = [name for name, spec in policy.points.items() if spec.built_in and name in ORDER_POINTS]
    rest = [spec.short if spec.built_in else name for name, spec in policy.points.items() if name not in order]
    return f"order hooks: {', '.join(order)}; " + "; ".join(
        "returns: return_handling" if name == "returns" else name for name in rest)


def _facts_table(title: str, facts: Sequence[tuple[FactInfo, Sequence[str] | None]],
                 policy: Policy | None = None) -> Table:
    """Facts as ``vocab`` and ``points`` print them, a section per document part (customer, order…);
    with a Hooks column when the facts come with the decision points that read them, and a
    Declared column when some were declared by the policy or a plugin (their descriptions in
    English, then Chinese)."""
    hooks = any(used is not None for _, used in facts)
    declared = any(info.declared for info, _ in facts)
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False)
    table.add_column("Fact", no_wrap=True, style="bold")
    table.add_column("Type", max_width=24)
    if hooks:
        table.add_column("Hooks", max_width=24)
    if declared:
        table.add_column("Declared in", max_width=28, overflow="fold")
    table.add_column("Description", overflow="fold")
    group = ""
    for info, used in facts:
        if group and info.path.split(".")[0] != group:
            table.add_section()
        group = info.path.split(".")[0]
        row = [Text(info.path), Text(_fact_type(info))]
        if hooks:
            row.append(Text(_points_label(used or (), policy)))
        if declared:
            row.append(Text(info.declared or "-"))
        row.append(Text(info.description + (f"\n{info.zh}" if info.zh and info.zh != info.description else "")))
        table.add_row(*row)
    return table


def _points_label(points: Sequence[str], policy: Policy | None) -> str:
    every = list(policy.points) if policy is not None else list(POINT_SPECS)
    specs = policy.points if policy is not None else POINT_SPECS
    if len(points) == len(every):
        return "all"
    if set(points) == set(ORDER_POINTS):
        return "order hooks"
    return ", ".join(specs[h].short for h in points)


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


def _fact_json(info: FactInfo) -> dict[str, Any]:
    """One fact as ``vocab --json`` and ``points --json`` write it."""
    return {"path": info.path, "kind": info.kind.value, "unit": info.unit or None, "choices": list(info.choices),
            "optional": info.optional, "description": info.description, "zh": info.zh or None,
            "declared": info.declared or None}


@cli.command("points")
@click.argument("point", metavar="[POINT]", required=False)
@click.option("--rules", "rules", type=click.Path(path_type=str), metavar="PATH",
              help="Policy directory whose points and rule sets to show (default: the seed policy shipped with "
                   "salesgate).")
@click.option("--json", "as_json", is_flag=True, help="Print the decision points as JSON (see docs/cli.md).")
def points_command(point: str | None, rules: str | None, as_json: bool) -> None:
    """The decision points: where each comes from, the document it decides, and the policy's rule sets there.

    Every built-in point, those installed plugins declare and those the policy declares
    (points/*.yaml). POINT shows one of them (a name, or approval, credit, returns).
    """
    policy = _policy_at(rules)
    chosen = [_point(point, policy)] if point else list(policy.points)
    specs = [policy.points[name] for name in chosen]
    if as_json:
        click.echo(dumps({
            "policy": {"name": policy.name, "version": policy.version, "hash": policy.hash},
            "points": [_point_json(spec, policy) for spec in specs],
        }))
        return
    view: list[RenderableType] = [
        Text(f"policy {policy.name} {policy.version} ({policy.hash})", style="dim")]
    for spec in specs:
        view.extend(_point_view(spec, policy))
    show(*view)


def _rulesets_json(spec: PointSpec, policy: Policy) -> list[dict[str, Any]]:
    return [{"name": name, "version": policy.rulesets[name], "rules": count}
            for name, count in policy.rulesets_for(spec.name).items()]


def _outputs_json(spec: PointSpec) -> list[dict[str, Any]]:
    """What a decision at the point carries besides its outcome: a built-in point's payload
    (``Decision.credit``…), a declared point's outputs rules set (``Decision.outputs``)."""
    payload: list[dict[str, Any]] = [
        {"name": output.field, "field": output.field, "type": output.model.__name__, "combine": None,
         "choices": [], "description": output.description.as_dict()} for output in spec.outputs]
    declared = [{"name": output.name, "field": f"outputs.{output.name}", "type": output.type.value,
                 "combine": output.combine.value, "choices": list(output.choices),
                 "description": output.description.as_dict()} for output in spec.declared_outputs]
    return payload + declared


def _point_json(spec: PointSpec, policy: Policy) -> dict[str, Any]:
    """One decision point as ``points --json`` writes it."""
    return {
        "name": spec.name, "origin": spec.origin.value, "source": spec.source or None, "hook": spec.hook,
        "document": spec.document.__name__, "subject": spec.subject, "title": spec.title.as_dict(),
        "description": spec.description.as_dict(), "outputs": _outputs_json(spec),
        "fields": [_fact_json(info) for info in policy.vocabulary[spec.name].values()],
        "rulesets": _rulesets_json(spec, policy),
    }


def _point_view(spec: PointSpec, policy: Policy) -> list[RenderableType]:
    """One decision point as ``points`` prints it: what it is, its outputs and rule sets, then its document's fields."""
    origin = spec.origin.value + (f", {spec.source}" if spec.source else "")
    view: list[RenderableType] = [
        Text(""),
        Text.assemble((spec.name, "bold"), f" ({origin})"),
    ]
    if not spec.built_in:
        view.append(Text(f"  {spec.title.zh} / {spec.title.en}"))
    view += [
        Text(f"  {spec.description.zh}"),
        Text(f"  {spec.description.en}"),
        Text(f"  hook {spec.hook}; document {spec.document.__name__}, one per {spec.subject}"),
    ]
    for output in spec.outputs:
        view.append(Text(f"  output {output.field} ({output.model.__name__}): {output.description.zh}"))
        view.append(Text(f"    {output.description.en}"))
    for declared in spec.declared_outputs:
        kind = " | ".join(declared.choices) if declared.choices else declared.type.value
        view.append(Text(f"  output {declared.name} ({kind}, combine {declared.combine.value}): "
                         f"{declared.description.zh}"))
        view.append(Text(f"    {declared.description.en}"))
    if not spec.outputs and not spec.declared_outputs:
        view.append(Text("  outputs: none besides the outcome, reasons and approvals"))
    rulesets = _rulesets_json(spec, policy)
    view.append(Text("  rule sets: " + (", ".join(
        f"{r['name']} {r['version']} ({r['rules']} rule{'s' if r['rules'] != 1 else ''})" for r in rulesets)
        or "none in this policy (no rule decides here)")))
    view.append(_facts_table(f"  document fields ({spec.document.__name__})",
                             [(info, None) for info in policy.vocabulary[spec.name].values()], policy))
    return view


@cli.command()
@click.option("--policy-file", is_flag=True, help="The schema of policy.yaml instead of a rule file.")
@click.option("--point-file", is_flag=True, help="The schema of a point declaration (points/<name>.yaml).")
@click.option("--facts", "facts_point", metavar="POINT",
              help="The schema of the facts document POINT decides (decide's INPUT, a test case's facts).")
@click.option("--rules", "rules", type=click.Path(path_type=str), metavar="PATH",
              help="Policy directory: a rule file's point is one of its points and set: names their outputs; "
                   "--facts knows the points and facts it declares (default: the seed policy for --facts).")
def schema(policy_file: bool, point_file: bool, facts_point: str | None, rules: str | None) -> None:
    """JSON Schema of rule files, policy.yaml, point declarations or facts, for editors and CI checks."""
    if sum((policy_file, point_file, facts_point is not None)) > 1:
        raise UsageProblem("give one of --policy-file, --point-file and --facts")
    if policy_file or point_file:
        if rules is not None:
            raise UsageProblem("--rules is for the schema of a rule file or of --facts")
        model: type[BaseModel] = PolicyFile if policy_file else PointFile
        document = {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema()}
        document["title"] = "salesgate policy.yaml" if policy_file else "salesgate point declaration (points/*.yaml)"
    elif facts_point is not None:
        policy = _policy_at(rules)
        spec = policy.point(_point(facts_point, policy))
        document = {"$schema": JSON_SCHEMA_DIALECT, **spec.document.model_json_schema(by_alias=True)}
        document["title"] = f"salesgate facts for {spec.name}"
    else:
        document = _rule_file_schema(_policy_at(rules) if rules is not None else None)
    click.echo(dumps(document))


def _rule_file_schema(policy: Policy | None) -> dict[str, Any]:
    """A rule file's schema: ``point:`` or ``hook:`` (one of them), and with a policy, its points by
    name and, per point that declares outputs, what ``then: set:`` may set there."""
    document: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT, **RuleSetFile.model_json_schema()}
    document["title"] = "salesgate rule file"
    properties: dict[str, Any] = document["properties"]
    if policy is not None:
        properties["hook"] = {**properties["hook"], "enum": list(policy.points)}
        properties["hook"].pop("pattern", None)
    properties["point"] = {**properties["hook"], "title": "Point",
                           "description": "The decision point (the new spelling of hook:); see salesgate points."}
    document["required"] = [key for key in document["required"] if key != "hook"]
    document["oneOf"] = [{"required": ["point"]}, {"required": ["hook"]}]
    document["anyOf"] = [{"required": ["rules"]}, {"required": ["table"]}]  # rules, or a decision table
    conditions = []
    for spec in (policy.points.values() if policy is not None else ()):
        if not spec.declared_outputs:
            continue
        settable = {"type": "object", "additionalProperties": False, "minProperties": 1,
                    "properties": {output.name: _output_schema(output) for output in spec.declared_outputs}}
        then = {"properties": {"rules": {"items": {"properties": {"then": {"properties": {"set": settable}}}}}}}
        for key in ("point", "hook"):
            conditions.append({"if": {"required": [key], "properties": {key: {"const": spec.name}}}, "then": then})
    if conditions:
        document["allOf"] = conditions
    return document


def _output_schema(output: OutputSpec) -> dict[str, Any]:
    """What ``set:`` may give one declared output: a number or an expression for numbers, a choice for
    an enum, true or false, a text, a date."""
    described = {"description": f"{output.description.en} / {output.description.zh} ({output.type.value}, "
                                f"combine {output.combine.value})"}
    if output.type is FieldType.enum:
        return {"enum": list(output.choices), **described}
    if output.type is FieldType.bool:
        return {"type": "boolean", **described}
    if output.type in (FieldType.text, FieldType.date):
        return {"type": "string", **described}
    return {"anyOf": [{"type": "number"}, {"type": "string", "minLength": 1}], **described}


cli.add_command(simulate_command)
cli.add_command(export_command)
cli.add_command(calendar_group)
cli.add_command(table_command)


# -- printing decisions ----------------------------------------------------------------------------


def _decision_view(decision: Decision, *, explain: bool, lang: str | None,
                   spec: PointSpec | None = None) -> list[RenderableType]:
    policy = decision.policy
    view: list[RenderableType] = [
        Text.assemble((f"{decision.hook} {decision.subject}: ", "bold"), outcome_text(decision.outcome)),
        Text(f"policy {policy.name} {policy.version} ({policy.hash}), {decision.backend} backend"
             + (f", as of {decision.as_of.isoformat()}" if decision.as_of is not None else ""), style="dim"),
    ]
    if decision.approvals:
        view.append(Text("approvals: " + " → ".join(f"{a.role} ({', '.join(a.rules)})" for a in decision.approvals)))
    reasons = reasons_text(decision, lang)
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
                         f"{percent(r.refund_rate)} − restocking fee {format_money(r.restocking_fee)}"))
    if decision.outputs:
        view.append(Text("outputs: " + ", ".join(
            f"{name} {_output_text(spec.output(name) if spec is not None else None, value)}"
            for name, value in decision.outputs.items())))
    if explain:
        view.append(_trace_table(decision))
    return view


def _output_text(output: OutputSpec | None, value: Any) -> str:
    """An output's value as people read it: a percent as 30%, money grouped, a bool as yes/no."""
    if output is not None and isinstance(value, Decimal | int) and not isinstance(value, bool):
        if output.type is FieldType.percent:
            return percent(Decimal(value))
        if output.type is FieldType.money:
            return format_money(Decimal(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


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
            Text(", ".join(f"{a.rule} {adjustment(a.kind, a.value)}" for a in line.adjustments) or "-"),
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
