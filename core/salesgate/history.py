"""History facts: named aggregates over the ERP's history that a policy declares once.

``customer.sales_last_4_quarters`` (``type: money``, ``window: 4 quarters``) is a fact rules read like
any other, declared in ``policy.yaml`` ``facts:`` (or on a declared point's document) with a
``window:``. The caller may send it; when it does not, completion asks the adapters for it
(``salesgate_load_history``), handing them the :class:`HistoryFact` and the document's own values to
key their query by. A history fact nobody supplies is missing, as any optional fact is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from .documents import FieldType
from .windows import Window

__all__ = ["HistoryFact", "history_keys"]

HISTORY_TYPES = (FieldType.money, FieldType.integer, FieldType.number, FieldType.percent, FieldType.date)
"""What a history fact may be: an amount, a count, a number, a rate or a date."""


@dataclass(frozen=True)
class HistoryFact:
    """One declared history fact: where rules read it (``document``.``name``), its type and its window."""

    document: str
    """The document it is a fact of, as rules read it: ``customer``, ``order``, a declared point's (``visits``)."""
    name: str
    type: FieldType
    window: Window

    @property
    def path(self) -> str:
        """``customer.sales_last_4_quarters``: how rules, mappings and messages name it."""
        return f"{self.document}.{self.name}"

    def bounds(self, as_of: date) -> tuple[date, date]:
        """The window's ``[start, end)`` for a decision on ``as_of``."""
        return self.window.bounds(as_of)


_KEY_TYPES = (str, int, Decimal, date, datetime, bool)


def history_keys(document: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """What a history query is keyed by: the document's own single values by field name (``:customer_id``,
    ``:rep``), and its ``id`` also as ``:<document>_id`` (``:customer_id`` of a customer, ``:order_id``)."""
    keys: dict[str, Any] = {}
    for name, value in values.items():
        plain = value.value if isinstance(value, Enum) else value
        if isinstance(plain, _KEY_TYPES):
            keys[name] = plain
    if "id" in keys:
        keys.setdefault(f"{document}_id", keys["id"])
    return keys
