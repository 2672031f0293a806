"""salesgate's built-in plugins. They are ordinary plugins: each can be disabled by name.

=========  ======================================================================
``rules``  applies the compiled YAML policy at the four decision points
``credit`` adds exposure, limit and available credit to credit decisions
``audit``  writes every decision as one JSON line to the ``salesgate.audit`` logger
=========  ======================================================================

salesgate registers them by the import paths in :mod:`salesgate.defaults`, with the ``adapters``
plugin of ``salesgate_adapters``; this package imports only ``salesgate``.
"""

from __future__ import annotations

from .audit import AuditPlugin
from .credit import CreditExposurePlugin
from .rules import RulesPlugin

__all__ = ["AuditPlugin", "CreditExposurePlugin", "RulesPlugin"]
