"""Turn what a database driver returns into the types the fact models expect.

Drivers disagree: PostgreSQL and MariaDB return ``Decimal`` for NUMERIC, SQLite returns ``int``,
``float`` or ``str``; SQLite returns dates as text; MariaDB returns booleans as 0/1. Money never
goes through float arithmetic here: a float is read through its shortest ``repr`` (what the
database stored, not its binary expansion) and every amount is rounded half-up to 4 decimal places,
salesgate's precision, with trailing zeros dropped.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any

from pydantic import AwareDatetime, BaseModel

STEP = Decimal("0.0001")
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class ConversionError(ValueError):
    """A value that cannot become the field's type; the adapter adds file, fact and column."""


def plain_decimal(value: Decimal) -> Decimal:
    """``2660.0000`` → ``2660``, ``350.1700`` → ``350.17``: no trailing zeros, no exponent."""
    if value == 0:
        return Decimal(0)
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ConversionError(f"{value!r} is not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str | bytes):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            raise ConversionError(f"{text!r} is not a number") from None
    else:
        raise ConversionError(f"{value!r} ({type(value).__name__}) is not a number")
    if not number.is_finite():
        raise ConversionError(f"{value!r} is not a finite number")
    try:
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -4:
            number = number.quantize(STEP, rounding=ROUND_HALF_UP)
        return plain_decimal(number)
    except InvalidOperation:  # more digits than Decimal's 28 once kept to 4 decimals
        raise ConversionError(f"{value!r} is too large: amounts are kept to 28 digits") from None


def to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ConversionError(f"{value!r} is not a whole number")
    return int(number)


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str | bytes):
        text = (value.decode() if isinstance(value, bytes) else value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ConversionError(f"{value!r} is not true/false (expected a boolean, 0/1 or 'true'/'false')")


def to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ConversionError("bytes that are not UTF-8 text") from None
    if isinstance(value, bool):
        raise ConversionError(f"{value!r} is not text")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return str(plain_decimal(value))
    raise ConversionError(f"{value!r} ({type(value).__name__}) is not text")


def _parse_datetime(value: Any) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str | bytes):
        text = (value.decode() if isinstance(value, bytes) else value).strip()
        try:
            return datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
        except ValueError:
            raise ConversionError(f"{text!r} is not a date or date and time") from None
    raise ConversionError(f"{value!r} ({type(value).__name__}) is not a date")


def to_date(value: Any, business: tzinfo, stored: tzinfo) -> date:
    """A date; a date and time becomes the day it was in the company's time zone."""
    parsed = _parse_datetime(value)
    if isinstance(parsed, datetime):
        aware = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=stored)
        return aware.astimezone(business).date()
    return parsed


def to_datetime(value: Any, stored: tzinfo) -> datetime:
    """A timezone-aware date and time; a naive one is read in the zone the ERP stores times in."""
    parsed = _parse_datetime(value)
    if not isinstance(parsed, datetime):
        raise ConversionError(f"{value!r} is a date without a time")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=stored)


def as_read(value: Any, business: tzinfo, stored: tzinfo) -> Any:
    """A value whose type the mapping does not know (a declared fact, a declared document's field): text as
    text, numbers as exact decimals (a float through its ``repr``; no rounding: the declaration says how many
    places), a date and time aware, in the company's time zone; the gate validates it against the policy's
    declaration. Booleans stored as 0/1 are taken as such by that validation."""
    if isinstance(value, bytes | memoryview):
        return to_str(bytes(value))
    if isinstance(value, bool) or (isinstance(value, int | str | date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite():
            raise ConversionError(f"{value!r} is not a finite number")
        return plain_decimal(number)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=stored)
        return aware.astimezone(business)
    raise ConversionError(f"{value!r} ({type(value).__name__}) is not text, a number, a date or true/false")


def base_type(annotation: Any) -> Any:
    """``Annotated[Decimal, ...] | None`` → ``Decimal``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


Converter = Callable[[Any], Any]


def converter_for(model: type[BaseModel], field: str, business: tzinfo, stored: tzinfo) -> Converter:
    """The conversion of one model field; unknown kinds (enums) pass the value on as text."""
    info = model.model_fields.get(field)
    base = base_type(info.annotation) if info is not None else date  # only overdue_since is not a field
    if base is Decimal:
        return to_decimal
    if base is bool:
        return to_bool
    if base is int:
        return to_int
    if base is str:
        return to_str
    if base is datetime or base is AwareDatetime:
        return lambda value: to_datetime(value, stored)
    if base is date:
        return lambda value: to_date(value, business, stored)
    if isinstance(base, type) and issubclass(base, Enum):
        return to_str
    return lambda value: value  # pragma: no cover - every fact field has one of the kinds above


def is_required(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    return info is not None and info.is_required()
