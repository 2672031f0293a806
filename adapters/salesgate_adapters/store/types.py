"""Column types that mean the same on PostgreSQL, MariaDB/MySQL and SQLite.

Migrations import these by name, so they must stay importable (and keep storing the same way)
for as long as a migration uses them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PLACES = Decimal("0.0001")


class Money(TypeDecorator[Decimal]):
    """An exact amount, ``Numeric(18, 4)`` → ``Decimal``.

    SQLite has no decimal type: it would store a binary float, so there the amount is stored as its
    decimal text instead (SQL arithmetic on it is never needed: salesgate sums in Python).
    """

    impl = Numeric(18, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(18, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be a Decimal, got {type(value).__name__}")
        exact = value.quantize(MONEY_PLACES)
        if exact != value:
            raise ValueError(f"{value} has more than 4 decimal places")
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):  # never stored by salesgate: a hand-edited row
            raise TypeError(f"money column holds a float ({value!r}), not an exact amount")
        return Decimal(str(value)).quantize(MONEY_PLACES)


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, always handed out timezone-aware in UTC.

    PostgreSQL stores ``timestamptz``; MariaDB (``DATETIME(6)``) and SQLite have no time zone, so
    the UTC wall time is stored and UTC is attached again on the way out. Naive datetimes are
    refused on the way in: a time without a zone is a bug waiting for a daylight-saving night.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware time")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
