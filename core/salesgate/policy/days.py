"""A day as a policy writes one: ``YYYY-MM-DD``, and nothing else.

``date.fromisoformat`` also reads ``20261231`` and the ISO week ``2026-W01-1`` (which is 2025-12-29):
a policy owner who wrote either meant something else, so every place a policy, a data file, a
calendar, a test case or a decision table gives a day reads it here, and each says in its own words
what went wrong.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["ISO_DAY", "parse_day"]

ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
"""The shape of a day a policy writes: four digits, two, two."""


def parse_day(text: str) -> date | None:
    """The day ``text`` names (surrounding spaces allowed), or ``None`` when it is not written
    ``YYYY-MM-DD`` or names no day of the calendar (``2026-02-30``)."""
    text = text.strip()
    if not ISO_DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
