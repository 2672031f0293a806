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

__all__ = ["HistoryFact", "Replay", "ReplayError", "history_keys", "parse_replay"]

HISTORY_TYPES = (FieldType.money, FieldType.integer, FieldType.number, FieldType.percent, FieldType.date)
"""What a history fact may be: an amount, a count, a number, a rate or a date."""


class ReplayError(ValueError):
    """A ``simulate:`` a policy owner wrote that cannot be read; the message says what to write instead."""


@dataclass(frozen=True)
class Replay:
    """How ``salesgate simulate`` computes a history fact from the history file's earlier orders of the same
    customer: the ``sum`` of an order fact, the ``count`` of orders, or the ``days_since`` the latest."""

    measure: str
    field: str = ""
    """For ``sum``: the order's field added up (``total``)."""

    def __str__(self) -> str:
        return {"sum": f"sum of order.{self.field}", "count": "count of orders",
                "days_since": "days since last order"}[self.measure]


_REPLAYS = "sum of order.total, count of orders or days since last order"


def parse_replay(text: object, numeric_fields: tuple[str, ...]) -> Replay:
    """Read ``simulate:`` as a policy owner writes it; ``numeric_fields`` are the order's fields a sum may add."""
    words = " ".join(str(text).split()).lower() if isinstance(text, str) else ""
    if words in ("count of orders", "count"):
        return Replay("count")
    if words in ("days since last order", "days since the last order"):
        return Replay("days_since")
    if words.startswith("sum of "):
        path = words.removeprefix("sum of ")
        document, _, field = path.partition(".")
        if document != "order" or field not in numeric_fields:
            raise ReplayError(f"{path!r} cannot be summed over the history's orders: sum an amount of the order, "
                              f"one of {', '.join('order.' + f for f in numeric_fields)}")
        return Replay("sum", field)
    raise ReplayError(f"cannot read simulate: {text!r}: write {_REPLAYS}")


@dataclass(frozen=True)
class HistoryFact:
    """One declared history fact: where rules read it (``document``.``name``), its type and its window."""

    document: str
    """The document it is a fact of, as rules read it: ``customer``, ``order``, a declared point's (``visits``)."""
    name: str
    type: FieldType
    window: Window
    replay: Replay | None = None
    """How ``salesgate simulate`` computes it from the history file; ``None``: as each line carries it."""

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
