"""The sizes a policy may have: every one documented in docs/policy-language.md ("Limits").

A policy owner's file is input like any other. Without bounds, a few hundred nested parentheses
exhaust Python's stack, a 600-byte file of YAML aliases expands to gigabytes, and a number past
what a price can hold passes validation and then fails every decision that reaches it. Each
bound is far above what a company's sales policy needs, and crossing one is a
:class:`~salesgate.errors.PolicyError` at the file, line and rule, never a crash.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

MAX_FILE_BYTES: Final = 1_048_576
"""One YAML file (a rule file, ``policy.yaml``, a test case file): 1 MiB, about 4,000 rules."""

MAX_POLICY_BYTES: Final = 4 * MAX_FILE_BYTES
"""All the files of one policy directory together: 4 MiB."""

MAX_YAML_DEPTH: Final = 64
"""Lists and mappings inside each other in one YAML file."""

MAX_ALIAS_VALUES: Final = 100_000
"""Values that YAML aliases (``*name``) repeat in one file, counted as if written out."""

MAX_EXPRESSION_CHARS: Final = 20_000
"""Characters of one expression (``when``, ``set_price``, ``floor``)."""

MAX_STRING_CHARS: Final = 1_000
"""Characters of one quoted text in an expression."""

MAX_NESTING: Final = 32
"""Parentheses, brackets, calls, ``not`` and unary ``-`` inside each other in one expression."""

MAX_OPERATORS: Final = 100
"""Operators (``and``, ``or``, ``not``, comparisons, ``in``, ``+ - * /``) in one expression."""

MAX_NUMBER: Final[Decimal] = Decimal("1E+15")
"""A number written in an expression is below this in magnitude: 15 digits
before the decimal point."""

MAX_PRICE: Final[Decimal] = Decimal("9E+14")
"""A unit price pricing computes (a ``set_price``/``floor`` made of constants, an ``add``) is below
this in magnitude once rounded to the cent. A policy price is a fact of the check stage
(``line.policy_price``), and the durable backend's numbers end at 9.2 × 10^14: a larger price
would be decided by the python backend and refused by the durable one. The largest list price a
fact may hold (``salesgate.models.MAX_AMOUNT``, below 10^14) can still be marked up nine times."""

PRICE_CEILING: Final[Decimal] = MAX_PRICE - Decimal("0.005")
"""A price below this in magnitude rounds (half up, to the cent) to below ``MAX_PRICE``."""

MAX_TABLE_ROWS: Final = 100_000
"""Rows of one lookup table (``data/<table>.csv``), its header row not counted."""

MAX_PATTERN_MEMORY: Final = 8 << 20
"""Memory RE2 may use for one ``matches`` pattern (8 MiB): a pattern needing more is refused at load."""

MAX_DAYS: Final = 100_000
"""``days(n)``: at most this many days (about 270 years) either way."""


def excerpt(text: str, column: int, width: int = 60) -> str:
    """``text`` for an error message: whole when short, else ``width`` characters around ``column``,
    so a problem in a 20,000-character expression does not repeat it."""
    if len(text) <= 2 * width:
        return text
    start = max(0, min(column - 1 - width // 2, len(text) - width))
    head = "…" if start > 0 else ""
    tail = "…" if start + width < len(text) else ""
    return head + text[start:start + width] + tail
