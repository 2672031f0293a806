"""The business-day functions of the language: ``is_business_day``, ``add_business_days``,
``business_days_between``, over the policy's holiday calendar.

They are registered in :mod:`salesgate.policy.functions` like every function, with ``needs="calendar"``:
the compiler hands the checker the calendar ``policy.yaml`` names (``calendar: cn``), or the reason
there is none, and :func:`_prepare` binds the calendar to the call at load, so a decision reads
only the policy's own file (:mod:`salesgate.policy.calendars` says why, and what a date outside the
calendar's years gives: a missing value).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from .calendars import Calendar
from .functions import Function, FunctionError, Prepared, register
from .ir import Kind

__all__ = ["NEEDS"]

NEEDS = "calendar"
"""The key of ``Context.data`` that holds the policy's calendar (or, as text, why it has none)."""


def _prepare(result: Kind) -> Any:
    def prepare(data: Any, constants: Mapping[int, Any], kinds: tuple[Kind, ...]) -> Prepared:
        if not isinstance(data, Calendar):
            raise FunctionError(str(data) if data else "this policy has no holiday calendar: add calendars/cn.yaml "
                                "and name it in policy.yaml (calendar: cn)")
        return result, data

    return prepare


def _whole(n: int | Decimal) -> int | None:
    """A number of business days: a whole number, else missing (there is no half business day)."""
    if isinstance(n, int):
        return n
    exact = Decimal(n)
    return int(exact) if exact.is_finite() and exact == exact.to_integral_value() else None


def _add(calendar: Calendar, day: date, n: int | Decimal) -> date | None:
    whole = _whole(n)
    return None if whole is None else calendar.add_business_days(day, whole)


register(Function("is_business_day", (Kind.date,), Kind.bool,
                  lambda calendar, day: calendar.is_business_day(day),
                  "is_business_day(order.order_date)", needs=NEEDS, prepare=_prepare(Kind.bool)))
register(Function("add_business_days", (Kind.date, Kind.number), Kind.date, _add,
                  "add_business_days(order.order_date, 5)", needs=NEEDS, prepare=_prepare(Kind.date)))
register(Function("business_days_between", (Kind.date, Kind.date), Kind.number,
                  lambda calendar, start, end: calendar.business_days_between(start, end),
                  "business_days_between(order.order_date, date(\"2026-12-31\"))", needs=NEEDS,
                  prepare=_prepare(Kind.number)))
