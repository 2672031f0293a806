"""What salesgate uses when it is not told otherwise: its built-in plugins, store and commands.

This is the one core module that names code of ``salesgate_plugins`` and ``salesgate_adapters``,
and it names it by import path (``"package.module:attribute"``), resolved with importlib when it
is needed, as datasette's ``DEFAULT_PLUGINS`` does. So core never imports the packages built on it,
the import contracts in ``pyproject.toml`` hold, and a newcomer finds every default in one place.

* :data:`DEFAULT_PLUGINS`: registered on every gate's plugin manager, by these names (each can be
  disabled by name: ``disable_plugins=["audit"]``, ``SALESGATE_DISABLE_PLUGINS=audit``).
* :data:`DEFAULT_STORE` and :data:`DEFAULT_STORE_RECORDER`: what ``Gate(store="postgresql://...")``
  opens, and the plugin that appends its fallback decisions to the store's log.
* :data:`DEFAULT_COMMANDS`: plugins that add commands to ``salesgate`` through
  ``salesgate_register_commands`` (``db``, ``approvals``, ``audit``, ``demo``).
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import PluginError

DEFAULT_PLUGINS: dict[str, str] = {
    "rules": "salesgate_plugins.rules:RulesPlugin",
    "credit": "salesgate_plugins.credit:CreditExposurePlugin",
    "audit": "salesgate_plugins.audit:AuditPlugin",
    "adapters": "salesgate_adapters.registry:BuiltinAdapters",
}
"""The built-in plugins by name: ``rules`` applies the compiled policy at the four decision points,
``credit`` adds exposure, limit and available credit to credit decisions, ``audit`` writes every
decision as one JSON line to the ``salesgate.audit`` logger, ``adapters`` registers the adapters
shipped with salesgate (``memory``, ``sql``)."""

DEFAULT_STORE = "salesgate_adapters.store:Store"
"""The store a gate opens when given a database URL (``Gate(policy, store=url)``)."""

DEFAULT_STORE_RECORDER = "salesgate.recorder:StoreRecorder"
"""The plugin, built from the gate's store, that appends decisions to the store's decision log."""

DEFAULT_COMMANDS: dict[str, str] = {
    "store_commands": "salesgate_adapters.store.commands:StoreCommands",
    "demo_commands": "salesgate_adapters.demo.commands:DemoCommands",
}
"""The plugins that add commands to ``salesgate`` beyond the core ones, by plugin name: the store's
``db``, ``approvals`` and ``audit`` groups, and ``demo`` (which runs on the demo ERP). Like the
names in :data:`DEFAULT_PLUGINS`, these are reserved: an entry point by one of them is refused,
never used in the built-in's place (disable the built-in to replace it)."""


BUILTIN_NAMES: frozenset[str] = frozenset({*DEFAULT_PLUGINS, *DEFAULT_COMMANDS, "store", "adapter", "salesgate"})
"""Every name salesgate's own code goes by: the built-in plugins and command providers, ``store``
(the recorder of a gate's store), ``adapter`` (the adapter a gate opens) and ``salesgate`` (the
gate's own failures). No plugin may label a reason with one of them (docs/plugins.md)."""


def resolve(path: str) -> Any:
    """The object an import path ``"package.module:attribute"`` names.

    A default that cannot be imported is a broken installation, said as a PluginError naming it,
    not an ImportError from deep inside salesgate."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"salesgate's built-in {path!r} cannot be imported ({exc}): reinstall salesgate") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise PluginError(f"salesgate's built-in {path!r} does not exist: reinstall salesgate") from None


def default_plugins() -> dict[str, type]:
    """The built-in plugin classes by name, in :data:`DEFAULT_PLUGINS` order."""
    return {name: resolve(path) for name, path in DEFAULT_PLUGINS.items()}


def command_plugins() -> dict[str, type]:
    """The built-in command providers' classes by plugin name."""
    return {name: resolve(path) for name, path in DEFAULT_COMMANDS.items()}


def open_store(url: str, **options: Any) -> Any:
    """The default store on ``url`` (no connection is made until it is used); ``options`` are the store's."""
    return resolve(DEFAULT_STORE)(url, **options)


def store_recorder(store: object) -> object:
    """The plugin that appends decisions to ``store``'s decision log."""
    return resolve(DEFAULT_STORE_RECORDER)(store)
