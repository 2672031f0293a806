"""The ``audit`` plugin: every decision as one JSON line on the ``salesgate.audit`` logger."""

from __future__ import annotations

import logging

from salesgate.decisions import Decision
from salesgate.hookspecs import hookimpl
from salesgate.logs import get_logger

logger = get_logger("salesgate.audit")


class AuditPlugin:
    """Logs outcome, approvals, reasons, policy hash and as-of date (no trace: the trace can hold customer data).

    Route the logger wherever your ERP keeps logs; salesgate configures no handlers itself.
    """

    @hookimpl
    def salesgate_record_decision(self, decision: Decision) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s",
                decision.model_dump_json(include={"hook", "subject", "outcome", "approvals", "reasons",
                                                  "policy", "backend", "as_of", "failure"}),
            )
