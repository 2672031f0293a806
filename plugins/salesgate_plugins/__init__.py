"""salesgate's built-in plugins. They are ordinary plugins: each can be disabled by name.

=========  ======================================================================
``rules``  applies the compiled YAML policy at the four decision points
``credit`` adds exposure, limit and available credit to credit decisions
``audit``  writes every decision as one JSON line to the ``salesgate.audit`` logger
``adapters`` registers the adapters shipped with salesgate (``Gate(adapter="memory", ...)``)
=========  ======================================================================
"""

from __future__ import annotations

from salesgate_adapters.registry import BuiltinAdapters

from .audit import AuditPlugin
from .credit import CreditExposurePlugin
from .rules import RulesPlugin

BUILTIN_PLUGINS: dict[str, type] = {
    "rules": RulesPlugin,
    "credit": CreditExposurePlugin,
    "audit": AuditPlugin,
    "adapters": BuiltinAdapters,
}

__all__ = ["BUILTIN_PLUGINS", "AuditPlugin", "CreditExposurePlugin", "RulesPlugin"]
