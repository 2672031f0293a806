"""Secrets never leave through Python logs: every logger salesgate logs on masks what its records hold.

salesgate masks secrets in the messages it writes, but a record logged with ``exc_info`` carries the
exception itself, and a handler renders its traceback later: the exception's text and the source
lines it quotes (``ConnectionError: mysql+pymysql://erp:pw@db/erp unreachable``) reach the log
unmasked. :class:`RedactSecrets` renders the traceback at once through :func:`~salesgate.redaction.redact`
into ``record.exc_text`` and drops ``exc_info``, so no handler can render it again, and masks the
message with its arguments. A filter on a logger sees only the records logged on that logger, not
those its children propagate: :func:`get_logger` gives every salesgate logger its own.
"""

from __future__ import annotations

import logging

from .redaction import redact

_TRACEBACKS = logging.Formatter()  # renders a traceback exactly as logging's default formatter would


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message, traceback and stack before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: keep both, masked, rather than lose them
            message = f"{record.msg} (arguments: {record.args!r})"
        record.msg, record.args = redact(message), ()
        return True


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` (``salesgate`` or below it), with :class:`RedactSecrets` on it once."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
    return logger
