"""The plugin manager a Gate owns, and the typed facade every hook call goes through.

pluggy cannot type ``pm.hook.<name>(...)``; :class:`Hooks` gives one typed method per hook,
checks what each plugin returns and names the plugin when it breaks the contract. Built-in
plugins are registered like any other; third-party plugins come from the ``salesgate``
entry-point group. A plugin that fails to load stops the gate (fail closed).

Plugins contribute; the facade stamps: a decision plugin returns a :class:`Contribution`, and
:meth:`Hooks.decide` turns it into a Decision with the decision point, subject, policy, backend
and the plugin's own name on every reason, then combines all of them by the documented precedence.

The facade calls the decision hooks, ``salesgate_credit_figures`` and ``salesgate_record_decision``
itself (every implementation, in plugin-name order), so pluggy's call-order options mean nothing
there: ``wrapper``/``hookwrapper`` and ``tryfirst`` on them are refused when the plugin is
registered, and ``trylast`` is accepted only on ``salesgate_credit_figures``, where it marks the
default figures (see :data:`FACADE_HOOKS`). The data hooks go through pluggy itself: every option
works there.
"""

from __future__ import annotations

import importlib.metadata
import os
import types
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import pluggy
from pydantic import BaseModel

from . import hookspecs
from .context import DecisionContext
from .decisions import Contribution, CreditResult, Decision, Reason, SharedSet, combine, sort_approvals
from .defaults import BUILTIN_NAMES, default_plugins
from .documents import Bilingual, OutputSpec, combined, valid_name
from .errors import AdapterError, PluginError, SalesgateError
from .history import HistoryFact
from .hookspecs import DATA_HOOKS, DECISION_HOOKS
from .logs import get_logger
from .models import CreditExposure, Customer, Delivery, Order, OrderFacts, Product, ReturnFacts
from .pointspecs import BUILT_IN_POINTS, DECIDE_HOOK, POINT_SPECS, Origin, PointSpec, declared_point

logger = get_logger("salesgate.plugins")

ENTRY_POINT_GROUP = "salesgate"
DISABLE_ENV = "SALESGATE_DISABLE_PLUGINS"
CREDIT_FIGURES = "salesgate_credit_figures"
RECORD_DECISION = "salesgate_record_decision"
FACADE_HOOKS = (*DECISION_HOOKS.values(), DECIDE_HOOK, CREDIT_FIGURES, RECORD_DECISION)
"""The hooks :class:`Hooks` calls implementation by implementation (not through pluggy's call loop)."""
_DOCS = "docs/plugins.md#hook-order-and-wrappers"
_REFUSED_RECORDERS = f"{RECORD_DECISION}, refused left out"
"""The key, among the hooks :meth:`Hooks._implementations` keeps sorted, of the recorders kept."""


def _builtin_plugins() -> dict[str, type]:
    # Named by import path in salesgate.defaults: core never imports the packages built on it.
    return default_plugins()


def disabled_from_env() -> set[str]:
    """Plugin names listed in ``SALESGATE_DISABLE_PLUGINS`` (comma separated)."""
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


class PluginManager(pluggy.PluginManager):
    """pluggy's plugin manager, counting changes to what is registered.

    The facade keeps each hook's implementations sorted by plugin name between changes instead of
    sorting them on every decision; ``generation`` tells it when to look again.
    """

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.generation = 0
        self.disabled: dict[str, str] = {}
        """Names disabled when the manager was built, each with where it was disabled (for messages)."""
        self.entry_points: set[str] = set()
        """Names of the plugins registered from entry points (their messages say how to disable them)."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        try:
            return super().register(plugin, name)
        finally:
            self.generation += 1

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any | None:
        try:
            return super().unregister(plugin, name)
        finally:
            self.generation += 1

    def set_blocked(self, name: str) -> None:
        try:
            super().set_blocked(name)
        finally:
            self.generation += 1


def installed_points(plugins: Iterable[object] = (), *, disable: Iterable[str] = (),
                     entry_points: bool = True) -> list[PointSpec]:
    """The decision points the plugins a gate with these options would have declare
    (``salesgate_register_points``): what ``load_policy(path, points=...)`` needs so that rules may
    decide at them. Raises :class:`PluginError` as building the gate's plugin manager would."""
    return list(Hooks(build_plugin_manager(plugins, disable=disable, entry_points=entry_points))
                .register_points().values())


def build_plugin_manager(
    plugins: Iterable[object] = (), *, disable: Iterable[str] = (), entry_points: bool = True
) -> pluggy.PluginManager:
    """A new plugin manager: built-ins, then entry-point plugins, then ``plugins`` passed in.

    ``disable`` (plus ``SALESGATE_DISABLE_PLUGINS``) names plugins not to register, built-in or
    third-party. Raises :class:`PluginError` if a plugin fails to import or implements a hook
    that does not exist.
    """
    pm = PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if isinstance(disable, str):  # disable_plugins="audit" would disable "a", "u", "d"...
        raise TypeError(f"disable_plugins takes a list of names, got the string {disable!r}: "
                        f"disable_plugins=[{disable!r}]")
    requested = list(disable)
    from_env = disabled_from_env()
    pm.disabled = {name: f"{DISABLE_ENV}={os.environ.get(DISABLE_ENV, '')}" for name in sorted(from_env)}
    pm.disabled.update({name: f"disable_plugins={requested!r}" for name in requested})
    skip = set(pm.disabled)
    for name, cls in _builtin_plugins().items():
        if name not in skip:
            pm.register(cls(), name=name)
    if entry_points:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in skip:
                continue
            if pm.has_plugin(ep.name):
                raise PluginError(f"plugin name {ep.name!r} from entry point {ep.value!r} is already registered")
            pm.entry_points.add(ep.name)
            _register(pm, load_entry_point(ep), ep.name, entry_point_shown(ep),
                      f"Fix or uninstall it, or disable it with {DISABLE_ENV}={ep.name}")
    for plugin in plugins:
        name = plugin_name(plugin)
        if pm.has_plugin(name):
            raise PluginError(f"plugin {name!r} is already registered; pass each plugin once")
        twin = next((other for other, registered in pm.list_name_plugin() if registered is plugin or (
            not isinstance(plugin, types.ModuleType) and type(registered) is type(plugin))), None)
        if twin is not None:  # it would answer twice: every reason and approval doubled
            raise PluginError(f"plugin {name!r} is already registered as {twin!r} (built in or by an entry point): "
                              f"pass it only once, or disable {twin!r} with {DISABLE_ENV}={twin}")
        _register(pm, plugin, name, repr(name), "Fix its hook implementations")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {pm.get_name(exc.plugin)!r} implements an unknown hook: {exc}") from exc
    for hook_name in FACADE_HOOKS:
        refuse_call_order_options(hook_name, getattr(pm.hook, hook_name).get_hookimpls(), pm.entry_points)
    return pm


def entry_point_shown(ep: importlib.metadata.EntryPoint) -> str:
    """An entry-point plugin as messages name it: its name, and its package when known."""
    dist = getattr(ep, "dist", None)
    return f"{ep.name!r}" + (f" (package {dist.name})" if dist is not None else "")


def load_entry_point(ep: importlib.metadata.EntryPoint) -> object:
    """The plugin an entry point names (a class is instantiated with no arguments).

    Whatever goes wrong importing it is a PluginError naming the plugin, its package and how to
    disable it: the gate and ``salesgate``'s commands say the same thing about the same plugin."""
    try:
        plugin = ep.load()
        return plugin() if isinstance(plugin, type) else plugin
    except Exception as exc:
        raise PluginError(
            f"plugin {entry_point_shown(ep)} failed to load from {ep.value!r}: {type(exc).__name__}: {exc}. "
            f"Fix or uninstall it, or disable it with {DISABLE_ENV}={ep.name}"
        ) from exc


_WRAP_WHY = {
    "decision": ("every plugin's answer to {hook} is taken and combined by a fixed precedence, so there is no call "
                 "to wrap. Return what the plugin adds (a Contribution: a more severe outcome, approvals, reasons) "
                 "from a plain @hookimpl instead"),
    CREDIT_FIGURES: ("one plugin's figures are chosen (any plugin's own over the defaults marked trylast), not passed "
                     "along a chain of calls, so there is no call to wrap. Return a CreditResult from a plain "
                     "@hookimpl (add trylast=True to make the figures a default)"),
    RECORD_DECISION: ("every recorder is called on its own once the decision is made, and can neither change it "
                      "nor stop another recorder, so there is no call to wrap. Record the decision from a plain "
                      "@hookimpl instead"),
}
_ORDER_WHY = {
    "decision": ("results never depend on plugin order (plugins are called in name order and combined by a fixed "
                 "precedence)"),
    CREDIT_FIGURES: ("figures are chosen by trylast, not by call order: a plain @hookimpl's figures already replace "
                     "the default ones"),
    RECORD_DECISION: ("every recorder is called (in plugin-name order) and one failing never stops another, so "
                      "no recorder needs to run first or last"),
}


def refusal(hook_name: str, impl: Any, entry_points: Collection[str] = ()) -> str | None:
    """Why salesgate refuses ``impl``, an implementation of facade-called hook ``hook_name``, or None
    if it does not: a call-order option the facade cannot honour (see the module's docstring). The
    reason is the hook's own; a plugin from an entry point is told how to disable it."""
    kind = hook_name if hook_name in _WRAP_WHY else "decision"
    if impl.hookwrapper or impl.wrapper:
        style = "hookwrapper=True" if impl.hookwrapper else "wrapper=True"
        message = (f"plugin {impl.plugin_name!r} implements {hook_name} with @hookimpl({style}), which salesgate does "
                   f"not support there: {_WRAP_WHY[kind].format(hook=hook_name)}; see {_DOCS}")
    elif impl.tryfirst or (impl.trylast and hook_name != CREDIT_FIGURES):
        option = "tryfirst=True" if impl.tryfirst else "trylast=True"
        message = (f"plugin {impl.plugin_name!r} implements {hook_name} with @hookimpl({option}), which would change "
                   f"nothing there: {_ORDER_WHY[kind]}. Remove {option}; see {_DOCS}"
                   + (" (trylast is accepted only on salesgate_credit_figures, where it marks default figures)"
                      if impl.trylast else ""))
    else:
        return None
    if impl.plugin_name in entry_points:
        message += f". Until it is fixed, disable it with {DISABLE_ENV}={impl.plugin_name}"
    return message


def refuse_call_order_options(hook_name: str, implementations: Iterable[Any],
                              entry_points: Collection[str] = ()) -> None:
    """A PluginError for an implementation of a facade-called hook marked with an option the
    facade cannot honour (see :func:`refusal`): refused when the plugin is registered, never
    silently ignored, and never left to block every order at the first decision."""
    for impl in implementations:
        message = refusal(hook_name, impl, entry_points)
        if message is not None:
            raise PluginError(message)


def _register(pm: pluggy.PluginManager, plugin: object, name: str, shown: str, advice: str) -> None:
    """Register, turning pluggy's complaint about a hook implementation (an argument the hook does
    not have, a misspelt name) into a PluginError naming the plugin: the gate does not start."""
    unmarked = sorted(attr for attr in dir(plugin) if attr.startswith("salesgate_")
                      and callable(getattr(plugin, attr, None)) and pm.parse_hookimpl_opts(plugin, attr) is None)
    if unmarked:  # pluggy ignores them without a word; say so, once, when the gate is built
        logger.warning("plugin %s: %s %s no @hookimpl and will never be called", shown, ", ".join(unmarked),
                       "has" if len(unmarked) == 1 else "have")
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        why = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # pluggy's, on one line
        raise PluginError(f"plugin {shown} does not fit salesgate's hooks: {why}. {advice}") from exc


def plugin_name(plugin: object) -> str:
    """A readable, stable name for a plugin passed in: a module's name, else its class's dotted path.

    pluggy would name an instance by ``id()``, which says nothing in an error and changes from run
    to run, while results are combined in plugin-name order.
    """
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str):
        return name
    cls = type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}"


class Hooks:
    """Typed facade over one plugin manager: the only way salesgate calls hooks."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._sorted: dict[str, tuple[int, list[tuple[str, Callable[..., Any], tuple[str, ...], bool]]]] = {}
        self._sources: dict[date | None, DatedSource] = {}
        self._alone: dict[str, tuple[int, bool]] = {}

    def _implementations(self, hook_name: str) -> list[tuple[str, Callable[..., Any], tuple[str, ...], bool]]:
        """(plugin name, function, argument names, trylast) of a hook, by plugin name: results never
        depend on registration order. Kept between registration changes when the manager counts
        them. An option the facade cannot honour (a plugin registered after the gate was built) is
        a PluginError here."""
        generation = getattr(self.pm, "generation", None)
        cached = self._sorted.get(hook_name)
        if cached is not None and generation is not None and cached[0] == generation:
            return cached[1]
        caller = getattr(self.pm.hook, hook_name)
        implementations = caller.get_hookimpls()
        refuse_call_order_options(hook_name, implementations, getattr(self.pm, "entry_points", ()))
        found = [(impl.plugin_name, impl.function, tuple(impl.argnames), bool(impl.trylast))
                 for impl in sorted(implementations, key=lambda i: i.plugin_name)]
        if generation is not None:
            self._sorted[hook_name] = (generation, found)
        return found

    def _recorders(self) -> list[tuple[str, Callable[..., Any], tuple[str, ...], bool]]:
        """The implementations of ``salesgate_record_decision``, as :meth:`_implementations`, but one
        with a refused option (a recorder registered on ``pm`` after the gate was built) is logged,
        naming the plugin and the option, and left out: recording never raises to the caller."""
        try:
            return self._implementations(RECORD_DECISION)
        except PluginError:
            pass
        generation = getattr(self.pm, "generation", None)
        cached = self._sorted.get(_REFUSED_RECORDERS)
        if cached is not None and generation is not None and cached[0] == generation:
            return cached[1]
        entry_points = getattr(self.pm, "entry_points", ())
        found = []
        for impl in sorted(getattr(self.pm.hook, RECORD_DECISION).get_hookimpls(), key=lambda i: i.plugin_name):
            message = refusal(RECORD_DECISION, impl, entry_points)
            if message is not None:  # once per registration change, not once per decision
                logger.error("%s; it does not record decisions until it is fixed", message)
                continue
            found.append((impl.plugin_name, impl.function, tuple(impl.argnames), bool(impl.trylast)))
        if generation is not None:
            self._sorted[_REFUSED_RECORDERS] = (generation, found)
        return found

    def _names(self) -> frozenset[str]:
        """Every registered plugin's name (for :func:`stamp`)."""
        return frozenset(name for name, _ in self.pm.list_name_plugin() if name)

    def plugin_names(self) -> list[str]:
        return sorted(name for name, _ in self.pm.list_name_plugin() if name)

    def decide(self, point: str, facts: BaseModel, context: DecisionContext, subject: str | None = None,
               spec: PointSpec | None = None) -> Decision:
        """Call every plugin of a decision hook, stamp each answer into a Decision, combine by precedence.

        ``subject`` is the id of the document decided (read from the facts of a built-in point);
        ``spec`` the point's declaration, whose outputs are the only ones a plugin may set."""
        hook_name = DECISION_HOOKS.get(point, DECIDE_HOOK)
        if subject is None:
            subject = facts.return_request.id if isinstance(facts, ReturnFacts) else facts.order.id  # type: ignore[attr-defined]
        if self._rules_alone(hook_name):
            return self._verdict_decision(hook_name, point, facts, context, subject)
        # In plugin-name order, so the combined trace reads the same whatever the registration order.
        answers = self._answers_marked(hook_name, _DECIDED, point, facts, context)
        for plugin, answer, _ in answers:
            if answer.outputs:
                _check_outputs(plugin, point, answer.outputs, spec)
        if len(answers) == 1 and type(answers[0][1]) is Contribution:  # the usual case: the rules plugin alone
            decision = stamp(answers[0][1], answers[0][0], point, subject, context)
        else:
            names: Collection[str] = ()
            for _, answer, _ in answers:
                if type(answer) is not Contribution:
                    names = self._names()
                    break
            results = [stamp(answer, plugin, point, subject, context, names) for plugin, answer, _ in answers]
            if not results:
                raise PluginError(f"no plugin answered {hook_name}: is the 'rules' plugin disabled?")
            decision = results[0] if len(results) == 1 else combine(results, context.roles)
            if len(results) > 1 and spec is not None and spec.declared_outputs:
                decision = _outputs_combined(decision, results, spec)
        if point == "credit_check" and decision.credit is None and isinstance(facts, OrderFacts):
            figures = self.credit_figures(facts, context)
            if figures is not None:
                decision = decision.with_credit(figures)
        return decision

    def _rules_alone(self, hook_name: str) -> bool:
        """Whether the built-in ``rules`` plugin is the only one answering ``hook_name``: then the decision is
        the policy's verdict as it contributes it, and :meth:`_verdict_decision` builds it in one step (the
        thin path). Kept between registration changes, as :meth:`_implementations` is."""
        generation = getattr(self.pm, "generation", None)
        cached = self._alone.get(hook_name)
        if cached is not None and generation is not None and cached[0] == generation:
            return cached[1]
        implementations = self._implementations(hook_name)
        alone = (len(implementations) == 1 and implementations[0][0] == "rules"
                 and type(getattr(implementations[0][1], "__self__", None)) is _builtin_plugins()["rules"])
        if generation is not None:
            self._alone[hook_name] = (generation, alone)
        return alone

    def _verdict_decision(self, hook_name: str, point: str, facts: BaseModel, context: DecisionContext,
                          subject: str) -> Decision:
        """The Decision :func:`stamp` makes of the ``rules`` plugin's contribution, the policy's verdict
        (``context.verdict(point, facts).contribution()``), without the Contribution in between; at
        ``credit_check`` with the credit figures (:meth:`credit_figures`). Equal field for field, fields set
        included, and failing as the plugin fails (a PluginError naming it)."""
        try:
            verdict = context.verdict(point, facts)
        except Exception as exc:
            raise PluginError(f"plugin 'rules' failed in {hook_name}: {type(exc).__name__}: {exc}") from exc
        outcome, approvals, reasons, notifications, trace, pricing, returns, outputs = verdict
        credit = None
        if point == "credit_check" and isinstance(facts, OrderFacts):
            credit = self.credit_figures(facts, context)
        key = (verdict.given(), credit is not None)
        fields_set = _STAMPED_FIELDS.get(key)
        if fields_set is None:  # one read-only set per combination, shared by the decisions that have it
            fields_set = _STAMPED_FIELDS[key] = SharedSet(key[0] | _STAMPED | ({"credit"} if key[1] else set()))
        # The verdict's approvals are in ladder order already (one per role): nothing to sort.
        return Decision.assemble(
            {"hook": point, "subject": subject, "outcome": outcome, "approvals": approvals,
             "notifications": notifications, "reasons": reasons, "policy": context.policy_ref,
             "backend": context.backend.name, "as_of": context.as_of, "trace": trace, "pricing": pricing,
             "credit": credit, "returns": returns, "outputs": outputs or {}, "failure": None},
            fields_set,
        )

    def _answers(self, hook_name: str, expected: tuple[type[Any], ...], point: str | None,
                 facts: BaseModel, context: DecisionContext) -> list[tuple[str, Any]]:
        """Every plugin's answer to a hook that is not None, as (plugin, answer) in plugin-name order.
        A plugin that raises, or answers something other than ``expected`` (for ``point``, a
        Contribution or a Decision for that decision point), is a PluginError naming it."""
        found = self._answers_marked(hook_name, expected, point, facts, context)
        if len(found) == 1:
            return [found[0][:2]]
        return [(plugin, answer) for plugin, answer, _ in found]

    def _answers_marked(self, hook_name: str, expected: tuple[type[Any], ...], point: str | None,
                        facts: BaseModel, context: DecisionContext) -> list[tuple[str, Any, bool]]:
        """:meth:`_answers`, each with whether its implementation is ``trylast`` (a default)."""
        found: list[tuple[str, Any, bool]] = []
        for plugin, function, argnames, trylast in self._implementations(hook_name):
            result = _answer(plugin, function, argnames, hook_name, expected, point, facts, context)
            if result is not None:
                found.append((plugin, result, trylast))
        return found

    def credit_figures(self, facts: OrderFacts, context: DecisionContext) -> CreditResult | None:
        """The figures of ``salesgate_credit_figures``: an implementation marked ``trylast`` is a
        default (the built-in ``credit`` plugin's), which any other plugin's figures replace; two
        other plugins answering is an error naming both."""
        implementations = self._implementations(CREDIT_FIGURES)
        if len(implementations) == 1:  # one plugin computes them (by default the credit plugin): its answer
            plugin, function, argnames, _ = implementations[0]
            answer: CreditResult | None = _answer(plugin, function, argnames, CREDIT_FIGURES, (CreditResult,), None,
                                                  facts, context)
            return answer
        found = self._answers_marked(CREDIT_FIGURES, (CreditResult,), None, facts, context)
        chosen = [(plugin, result) for plugin, result, trylast in found if not trylast]
        if len(chosen) > 1:
            names = " and ".join(repr(plugin) for plugin, _ in chosen)
            raise PluginError(f"plugins {names} both compute credit figures ({CREDIT_FIGURES}): "
                              f"disable one with {DISABLE_ENV}")
        if not chosen:
            chosen = [(plugin, result) for plugin, result, _ in found]
        result: CreditResult | None = chosen[0][1] if chosen else None
        return result

    def loads_facts(self) -> bool:
        """Whether any plugin implements a data hook, i.e. whether loading facts may wait on an ERP."""
        return any(getattr(self.pm.hook, name).get_hookimpls() for name in DATA_HOOKS)

    def load_customer(self, customer_id: str, *, as_of: date | None = None) -> Customer | None:
        result: Customer | None = self._load("salesgate_load_customer", Customer, customer_id=customer_id, as_of=as_of)
        return result

    def load_exposure(self, customer_id: str, *, as_of: date | None = None) -> CreditExposure | None:
        result: CreditExposure | None = self._load("salesgate_load_exposure", CreditExposure, customer_id=customer_id,
                                                   as_of=as_of)
        return result

    def load_order(self, order_id: str, *, as_of: date | None = None) -> Order | None:
        result: Order | None = self._load("salesgate_load_order", Order, order_id=order_id, as_of=as_of)
        return result

    def load_delivery(self, order_id: str, sku: str) -> Delivery | None:
        result: Delivery | None = self._load("salesgate_load_delivery", Delivery, order_id=order_id, sku=sku)
        return result

    def load_products(self, skus: Sequence[str], *, as_of: date | None = None) -> list[Product] | None:
        result = self._call("salesgate_load_products", skus=list(skus), as_of=as_of)
        if result is not None and not all(isinstance(p, Product) for p in result):
            raise PluginError("salesgate_load_products returned something other than a list of Product")
        return result  # type: ignore[no-any-return]

    def _load(self, name: str, expected: type[Any], **kwargs: Any) -> Any:
        result = self._call(name, **kwargs)
        if result is not None and not isinstance(result, expected):
            raise PluginError(f"{name} returned {type(result).__name__}; expected {expected.__name__} or None")
        return result

    def _call(self, name: str, **kwargs: Any) -> Any:
        """Call a data hook; an adapter's failure becomes an AdapterError the gate answers safely."""
        try:
            return getattr(self.pm.hook, name)(**kwargs)
        except Exception as exc:
            args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "as_of")
            raise AdapterError(f"{name}({args}) failed: {type(exc).__name__}: {exc}") from exc

    def load_document(self, point: str, document_id: str, *, as_of: date | None = None
                      ) -> BaseModel | Mapping[str, Any] | None:
        """A declared point's document by id, from the adapter that knows it (None when none does)."""
        result = self._call("salesgate_load_document", point=point, document_id=document_id, as_of=as_of)
        if result is not None and not isinstance(result, BaseModel | Mapping):
            raise PluginError(f"salesgate_load_document returned {type(result).__name__}; expected a dict of the "
                              f"{point} document's fields, a model, or None")
        return result

    def load_history(self, document: str, keys: Mapping[str, Any], facts: Sequence[HistoryFact], *,
                     as_of: date | None = None) -> dict[str, Any]:
        """History facts of one document from the adapter that computes them (``{}`` when none does).

        An adapter's failure is an AdapterError naming the facts and the document's id, for the failure mode."""
        try:
            result = self.pm.hook.salesgate_load_history(document=document, keys=dict(keys), facts=tuple(facts),
                                                         as_of=as_of)
        except Exception as exc:
            names = ", ".join(fact.path for fact in facts)
            key = keys.get("id", "")
            raise AdapterError(f"history facts {names} of {document} {key!r} could not be computed: "
                               f"{type(exc).__name__}: {exc}") from exc
        if result is None:
            return {}
        if not isinstance(result, Mapping):
            raise PluginError(f"salesgate_load_history returned {type(result).__name__}; expected a dict "
                              "{fact name: value} or None")
        wanted = {fact.name for fact in facts}
        return {name: value for name, value in result.items() if name in wanted and value is not None}

    def on(self, as_of: date | None) -> DatedSource:
        """The data hooks for one decision as of ``as_of`` (None: each adapter's own today): what completing
        its facts loads through. One per day, shared by the decisions of that day (it holds nothing else)."""
        found = self._sources.get(as_of)
        if found is None:
            if len(self._sources) >= 64:  # replays go back in time: keep the last few days, not every one
                self._sources.clear()
            found = self._sources[as_of] = DatedSource(self, as_of)
        return found

    def register_points(self) -> dict[str, PointSpec]:
        """The decision points installed plugins declare (``salesgate_register_points``), by name. A point
        declared twice, or under a built-in point's name, or not described as the hook says, is a
        PluginError naming the plugin."""
        found: dict[str, PointSpec] = {}
        for impl in self.pm.hook.salesgate_register_points.get_hookimpls():
            plugin = impl.plugin_name

            def register(*, name: str, document: type[BaseModel], subject: str, title: Mapping[str, str] | Bilingual,
                         description: Mapping[str, str] | Bilingual, outputs: Sequence[OutputSpec] = (),
                         plugin: str = plugin) -> None:
                found_spec = _plugin_point(plugin, name, document, subject, title, description, tuple(outputs))
                if name in found:
                    raise PluginError(f"decision point {name!r} is declared by two plugins: {found[name].source!r} and "
                                      f"{plugin!r}")
                found[name] = found_spec

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin {plugin!r} failed in salesgate_register_points: {type(exc).__name__}: "
                                  f"{exc}") from exc
        return found

    def load_counted_orders(self, customer_id: str, order_ids: Sequence[str]) -> list[str] | None:
        result = self._call("salesgate_load_counted_orders", customer_id=customer_id, order_ids=list(order_ids))
        if result is not None and not (isinstance(result, list) and all(isinstance(o, str) for o in result)):
            raise PluginError("salesgate_load_counted_orders returned something other than a list of order ids")
        return result

    def record_decision(self, decision: Decision, facts: BaseModel | None = None, *,
                        skip: Iterable[str] = ()) -> None:
        """Every recorder runs (but the plugins named in ``skip``, which recorded it already); one
        failing, or refused for a call-order option, is logged and never affects the decision or
        the others: this never raises."""
        skipped = set(skip) if skip else ()
        for plugin, function, argnames, _ in self._recorders():
            if plugin in skipped:
                continue
            try:
                if argnames == _DECISION_ONLY:  # the audit plugin's: no arguments to pick, on every decision
                    function(decision=decision)
                else:
                    arguments = {"decision": decision, "facts": facts}
                    function(**{name: arguments[name] for name in argnames})
            except SalesgateError as exc:  # explained (e.g. "run salesgate db upgrade"): the message, no traceback
                logger.error("plugin %r failed to record decision %s: %s", plugin, decision.subject, exc)
            except Exception:
                logger.exception("plugin %r failed to record decision %s", plugin, decision.subject)

    def register_adapters(self) -> dict[str, type]:
        """Collect adapter classes by name; a duplicate name names both classes. An adapter whose
        name is disabled (``disable_plugins``, ``SALESGATE_DISABLE_PLUGINS``) is left out."""
        found: dict[str, type] = {}

        def register(name: str, cls: type) -> None:
            if name in found and found[name] is not cls:
                raise PluginError(f"adapter name {name!r} is registered twice: by {found[name].__module__}."
                                  f"{found[name].__qualname__} and {cls.__module__}.{cls.__qualname__}")
            found[name] = cls

        self.pm.hook.salesgate_register_adapters(register=register)
        disabled = self.disabled()
        return {name: cls for name, cls in found.items() if name not in disabled}

    def disabled(self) -> dict[str, str]:
        """Plugin (and adapter) names disabled for this manager, each with where it was disabled."""
        return dict(getattr(self.pm, "disabled", {}))

    def why_adapter_unavailable(self, name: str) -> str | None:
        """Why adapter ``name`` cannot be had because something was disabled, or None if nothing was.

        Disabled entry-point plugins are never imported, so the adapters they would register are
        unknown: they are only listed, as plugins that may register it."""
        disabled = self.disabled()
        if name in disabled:
            return f"adapter {name!r} is disabled ({disabled[name]}): remove {name!r} from it to use the adapter"
        for plugin, where in sorted(disabled.items()):
            cls = _builtin_plugins().get(plugin)
            if cls is not None and name in _adapter_names(cls()):
                return (f"adapter {name!r} is registered by the built-in plugin {plugin!r}, which is disabled "
                        f"({where}): remove {plugin!r} from it to use the adapter")
        return None


def _adapter_names(plugin: object) -> set[str]:
    """The adapter names a plugin registers (asked directly, so it works for a plugin not registered)."""
    names: set[str] = set()
    hook = getattr(plugin, "salesgate_register_adapters", None)
    if callable(hook):
        hook(register=lambda name, cls: names.add(name))
    return names


AdapterRegister = Callable[[str, type], None]


_STAMPED = frozenset({"hook", "subject", "policy", "backend", "as_of"})
_DECISION_ONLY = ("decision",)
_STAMPED_FIELDS: dict[tuple[frozenset[str], bool], SharedSet] = {}
"""A decision's fields set: the verdict's with the stamped ones (and ``credit`` when there are credit figures),
by the verdict's and whether there are (a handful of combinations)."""
_DECIDED = (Contribution, Decision)
_PAYLOAD_POINTS: tuple[tuple[str, str], ...] = tuple(sorted(
    ((output.field, spec.name) for spec in BUILT_IN_POINTS for output in spec.outputs),
    key=lambda pair: list(Contribution.model_fields).index(pair[0])))
"""Which decision point each payload of a Contribution belongs to (its outputs), in the order the
Contribution declares them: the first misplaced one is the one an error names."""

_FOREIGN_PAYLOADS: dict[str, tuple[str, ...]] = {
    spec.name: tuple(payload for payload, home in _PAYLOAD_POINTS if home != spec.name) for spec in BUILT_IN_POINTS}
"""The payloads a decision point does not carry (read from :data:`_PAYLOAD_POINTS`): the stamp's
check, once per answer, for a payload contributed to the wrong decision point."""


_ALL_PAYLOADS = tuple(payload for payload, _ in _PAYLOAD_POINTS)
"""What a declared point carries none of: its answers carry outputs instead."""


class DatedSource:
    """The data hooks of one decision, each asked as of the decision's date (their ``as_of``), so what an
    adapter counts to (overdue days, ``:today`` in a mapping's queries) is the day the rules read as ``today``.
    ``as_of`` is None when the caller chose no day (the decision's is then the clock's): an adapter then
    counts to its own today, as one built with ``today=`` always did."""

    __slots__ = ("as_of", "hooks")

    def __init__(self, hooks: Hooks, as_of: date | None) -> None:
        self.hooks = hooks
        self.as_of = as_of

    def load_customer(self, customer_id: str) -> Customer | None:
        return self.hooks.load_customer(customer_id, as_of=self.as_of)

    def load_exposure(self, customer_id: str) -> CreditExposure | None:
        return self.hooks.load_exposure(customer_id, as_of=self.as_of)

    def load_order(self, order_id: str) -> Order | None:
        return self.hooks.load_order(order_id, as_of=self.as_of)

    def load_delivery(self, order_id: str, sku: str) -> Delivery | None:
        return self.hooks.load_delivery(order_id, sku)

    def load_products(self, skus: Sequence[str]) -> list[Product] | None:
        return self.hooks.load_products(skus, as_of=self.as_of)

    def load_document(self, point: str, document_id: str) -> BaseModel | Mapping[str, Any] | None:
        return self.hooks.load_document(point, document_id, as_of=self.as_of)

    def load_history(self, document: str, keys: Mapping[str, Any], facts: Sequence[HistoryFact]) -> dict[str, Any]:
        return self.hooks.load_history(document, keys, facts, as_of=self.as_of)

    @property
    def computes_history(self) -> bool:
        """Whether any plugin implements ``salesgate_load_history``: else no history fact is asked for."""
        return bool(self.hooks.pm.hook.salesgate_load_history.get_hookimpls())


def _answer(plugin: str, function: Callable[..., Any], argnames: tuple[str, ...], hook_name: str,
            expected: tuple[type[Any], ...], point: str | None, facts: BaseModel, context: DecisionContext) -> Any:
    """One implementation's answer to a hook (None when it has none). A plugin that raises, or answers something
    other than ``expected`` (at a decision ``point``, a Contribution or a Decision for that point), is a
    PluginError naming it."""
    try:  # an implementation takes any subset of the hook's arguments, by name (as pluggy allows)
        if len(argnames) == 2 and hook_name != DECIDE_HOOK:
            result = function(facts=facts, context=context)
        else:
            arguments = {"facts": facts, "context": context, "point": point}
            result = function(**{name: arguments[name] for name in argnames})
    except Exception as exc:
        raise PluginError(f"plugin {plugin!r} failed in {hook_name}: {type(exc).__name__}: {exc}") from exc
    if result is None:
        return None
    if (type(result) is not Contribution or point is None) and (not isinstance(result, expected) or (
            isinstance(result, Decision) and result.hook != point)):
        # Worded as before Contributions (tests and users match it); a Contribution is accepted at a decision point.
        wanted = f"a Decision with hook={point!r}" if point is not None else f"a {expected[0].__name__}"
        raise PluginError(f"plugin {plugin!r} returned {type(result).__name__} from {hook_name}; "
                          f"expected {wanted} or None")
    return result


def stamp(answer: Contribution | Decision, plugin: str, point: str, subject: str, context: DecisionContext,
          others: Collection[str] = ()) -> Decision:
    """One plugin's answer as a Decision.

    A Contribution gets the decision point, subject, policy and backend, and ``plugin`` on every
    reason, whatever the plugin wrote there. A full Decision (what plugins returned before
    Contributions, still accepted) is stamped the same way (:func:`_stamped_decision`), but for a
    label of its reasons it chose for itself; ``others`` are the other registered plugins' names,
    which it may not use.
    """
    if isinstance(answer, Decision):
        return _stamped_decision(answer, plugin, point, subject, context, others)
    reasons = answer.reasons
    # The fields read straight from the model's dict: this runs once per decision per plugin.
    given = answer.__dict__
    for payload in _FOREIGN_PAYLOADS.get(point, _ALL_PAYLOADS):
        if given[payload] is not None:
            _misplaced(answer, plugin, point)
    for reason in reasons:
        if reason.plugin != plugin:
            reasons = [reason if reason.plugin == plugin else _restamped(reason, plugin) for reason in reasons]
            break
    return _assembled(given, reasons, point, subject, context, answer.__pydantic_fields_set__)


def _plugin_point(plugin: str, name: str, document: type[BaseModel], subject: str,
                  title: Mapping[str, str] | Bilingual, description: Mapping[str, str] | Bilingual,
                  outputs: tuple[OutputSpec, ...]) -> PointSpec:
    """A plugin's point declaration, checked: what is wrong is a PluginError naming the plugin."""
    def bilingual(value: Mapping[str, str] | Bilingual, what: str) -> Bilingual:
        if isinstance(value, Bilingual):
            return value
        if isinstance(value, Mapping) and value.get("zh") and value.get("en"):
            return Bilingual(str(value["zh"]), str(value["en"]))
        raise PluginError(f"plugin {plugin!r} declares point {name!r} with a {what} that is not "
                          '{"zh": ..., "en": ...}')

    if not isinstance(name, str) or not valid_name(name):
        raise PluginError(f"plugin {plugin!r} declares a point named {name!r}: use lower case letters, digits and _")
    if name in POINT_SPECS:
        raise PluginError(f"plugin {plugin!r} declares point {name!r}, which is built in: give it another name")
    if not (isinstance(document, type) and issubclass(document, BaseModel)):
        raise PluginError(f"plugin {plugin!r} declares point {name!r} with document={document!r}: pass a pydantic "
                          "model class")
    root, _, field = subject.partition(".")
    part = document.model_fields.get(root)
    part_type = part.annotation if part is not None else None
    if not (isinstance(part_type, type) and issubclass(part_type, BaseModel) and field in part_type.model_fields):
        raise PluginError(f"plugin {plugin!r} declares point {name!r} with subject {subject!r}, which is not a field "
                          f"of {document.__name__}: name it <part>.<field>, e.g. sample.id")
    for output in outputs:
        if not isinstance(output, OutputSpec):
            raise PluginError(f"plugin {plugin!r} declares point {name!r} with an output that is not an OutputSpec")
    return declared_point(name, document, subject, title=bilingual(title, "title"),
                          description=bilingual(description, "description"), outputs=outputs,
                          origin=Origin.plugin, source=plugin)


def _outputs_combined(decision: Decision, results: Sequence[Decision], spec: PointSpec) -> Decision:
    """``decision`` (several plugins' answers combined) with each declared output combined as the point
    declares it (``combine: max`` keeps the largest of every plugin's value, not the first plugin's)."""
    outputs: dict[str, Any] = {}
    for output in spec.declared_outputs:
        values = [result.outputs[output.name] for result in results if output.name in result.outputs]
        if values:
            outputs[output.name] = combined(output, values)
    if outputs == decision.outputs:
        return decision
    return decision.model_copy(update={"outputs": outputs})


def _check_outputs(plugin: str, point: str, outputs: Mapping[str, Any], spec: PointSpec | None) -> None:
    """A PluginError for an output the point does not declare: outputs are part of the point's contract."""
    declared = [output.name for output in spec.declared_outputs] if spec is not None else []
    unknown = sorted(set(outputs) - set(declared))
    if unknown:
        offer = f"it declares {', '.join(declared)}" if declared else "it declares no outputs"
        raise PluginError(f"plugin {plugin!r} set output {', '.join(unknown)} at {point}, which is not declared there "
                          f"({offer}): declare it with the point, or leave it out")


def _misplaced(answer: Contribution | Decision, plugin: str, point: str) -> None:
    """The PluginError for a payload contributed to a decision point that does not carry it."""
    for payload, home in _PAYLOAD_POINTS:
        if getattr(answer, payload) is not None and point != home:
            raise PluginError(f"plugin {plugin!r} contributed {payload} to {DECISION_HOOKS.get(point, DECIDE_HOOK)}; "
                              "only "
                              f"{DECISION_HOOKS[home]} carries {payload}: leave it None there")


def _restamped(reason: Reason, plugin: str) -> Reason:
    return Reason.assemble({**reason.__dict__, "plugin": plugin}, set(reason.model_fields_set) | {"plugin"})


def _in_ladder_order(approvals: Sequence[Any], ladder: tuple[str, ...]) -> bool:
    """Whether ``approvals`` name each role once, in the order :func:`~salesgate.decisions.sort_approvals`
    gives (ladder roles first, in ladder order; then the others by name)."""
    last = -1  # the ladder position of the previous role, len(ladder) once past the ladder
    last_role = ""
    beyond = len(ladder)
    for approval in approvals:
        role = approval.role
        if role in ladder:
            position = ladder.index(role)
            if position <= last:
                return False
            last = position
        else:  # past the ladder: the others by name, each once
            if last == beyond and role <= last_role:
                return False
            last, last_role = beyond, role
    return True


def _stamped_decision(answer: Decision, plugin: str, point: str, subject: str, context: DecisionContext,
                      others: Collection[str]) -> Decision:
    """A full Decision a plugin returned (what plugins returned before Contributions), stamped as a
    Contribution is: the decision point, subject, policy and backend are the gate's, whatever the
    plugin wrote; one on another order or decision point, one setting ``failure``, or carrying
    another decision point's payload, is a PluginError naming the plugin. A reason keeps a label
    the plugin chose for itself (``plugin="acme"``) unless it is another's (see :func:`_own_label`)."""
    hook_name = DECISION_HOOKS.get(point, DECIDE_HOOK)
    if answer.hook != point:
        raise PluginError(f"plugin {plugin!r} returned a Decision for {answer.hook} from {hook_name}: "
                          f"return a Contribution, which salesgate stamps with the decision point")
    if answer.subject != subject:
        raise PluginError(f"plugin {plugin!r} returned a Decision on {answer.subject!r} from {hook_name}, which "
                          f"decides {subject!r}: return a Contribution, which salesgate stamps with the subject")
    if answer.failure is not None:
        raise PluginError(f"plugin {plugin!r} set failure on the Decision it returned from {hook_name} "
                          f"({answer.failure!r}): only salesgate sets failure. Raise an exception to fail the "
                          f"decision, or return a Contribution with a more severe outcome")
    given = answer.__dict__
    _misplaced(answer, plugin, point)
    reasons = [reason if _own_label(reason, plugin, others) else _restamped(reason, plugin)
               for reason in given["reasons"]]
    return _assembled(given, reasons, point, subject, context, answer.model_fields_set)


def _assembled(given: dict[str, Any], reasons: Sequence[Reason], point: str, subject: str,
               context: DecisionContext, fields_set: set[str]) -> Decision:
    """The stamped Decision of a checked answer's fields (``given``, a Contribution's or Decision's
    dict): the gate's point, subject, policy and backend; the approvals one per role in ladder order."""
    approvals = given["approvals"]
    if len(approvals) > 1 and not _in_ladder_order(approvals, context.roles):
        merged: dict[str, list[str]] = {}
        for approval in approvals:
            merged.setdefault(approval.role, []).extend(approval.rules)
        approvals = sort_approvals(merged, context.roles)
    return Decision.assemble(
        {"hook": point, "subject": subject, "outcome": given["outcome"], "approvals": approvals,
         "notifications": given["notifications"], "reasons": reasons, "policy": context.policy_ref,
         "backend": context.backend.name, "as_of": context.as_of, "trace": given["trace"], "pricing": given["pricing"],
         "credit": given["credit"], "returns": given["returns"], "outputs": given["outputs"], "failure": None},
        fields_set | _STAMPED,
    )


def _own_label(reason: Reason, plugin: str, others: Collection[str]) -> bool:
    """Whether a reason of a Decision keeps the ``plugin`` label it has: the plugin's own name, or a
    short name it chose for itself, never one that poses as another (a built-in's name in
    :data:`~salesgate.defaults.BUILTIN_NAMES`, ``salesgate``, another registered plugin's) nor the
    default left unset."""
    label = reason.plugin
    if label == plugin:
        return True
    return "plugin" in reason.model_fields_set and label not in BUILTIN_NAMES and label not in others
