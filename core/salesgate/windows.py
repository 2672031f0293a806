"""History windows: the stretch of time a history fact sums over, relative to a decision's as-of date.

A policy declares a history fact once (``customer.sales_last_4_quarters``, ``window: 4 quarters``);
whoever computes it — the sql adapter's query, ``salesgate simulate`` over earlier history lines, a
caller — needs the same two dates for the same as-of date. :func:`parse_window` reads what a policy
owner writes, :meth:`Window.bounds` turns it into ``[start, end)`` for one as-of date. Both are pure:
the as-of date is an argument, never the clock, so a decision replayed later finds the same window.

The windows, for an as-of date ``D`` (``start`` inclusive, ``end`` exclusive):

* ``N days``: the N days before D (D itself not counted: its business is not over).
* ``N weeks``, ``N months``, ``N quarters``, ``N years``: the N whole weeks (Monday to Sunday),
  calendar months, calendar quarters or calendar years before the one D falls in.
* ``this week``, ``this month``, ``this quarter``, ``this year``: from the first day of the one D
  falls in, up to and including D.
* ``all``: everything up to and including D (from 1900-01-01), e.g. for the days since the last order.

Chinese reads the same: ``90 天``, ``最近 4 个季度``, ``12 个月``, ``本月``, ``本季度``, ``全部``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

__all__ = ["EARLIEST", "UNITS", "Window", "WindowError", "parse_window"]

Unit = Literal["day", "week", "month", "quarter", "year"]
UNITS: tuple[Unit, ...] = ("day", "week", "month", "quarter", "year")
_UNIT: dict[str, Unit] = {unit: unit for unit in UNITS}
EARLIEST = date(1900, 1, 1)
"""Where ``all`` starts: before any ERP's history, and a date every database stores."""
_MAX_COUNT = 1000
_WRITTEN = "90 days, 4 quarters, 12 months, this month, this quarter or all"
_FORM = re.compile(r"^\s*(?:(?P<count>\d+)|(?P<this>this))\s+(?P<unit>[a-z]+?)s?\s*$")
_CHINESE = re.compile(r"^(?:最近|近)?\s*(?:(?P<count>\d+)\s*个?|(?P<this>本|这个?))\s*"
                      r"(?P<unit>天|日|周|星期|月|季度|季|年)$")
_CHINESE_UNITS: dict[str, Unit] = {"天": "day", "日": "day", "周": "week", "星期": "week", "月": "month",
                                   "季度": "quarter", "季": "quarter", "年": "year"}


class WindowError(ValueError):
    """A window a policy owner wrote that cannot be read; the message says what to write instead."""


@dataclass(frozen=True)
class Window:
    """A parsed window: ``count`` whole units before the current one, the current one so far
    (``count`` is 0: ``this month``), or all history (``unit`` is None)."""

    count: int
    unit: Unit | None
    text: str

    def bounds(self, as_of: date) -> tuple[date, date]:
        """``(start, end)`` of the window for a decision on ``as_of``: start inclusive, end exclusive."""
        if self.unit is None:
            return (EARLIEST if as_of >= EARLIEST else date.min), _day_after(as_of)
        current = period_start(as_of, self.unit)
        if self.count == 0:
            return current, _day_after(as_of)
        if self.unit == "day":
            return shifted(as_of, "day", -self.count), as_of
        return shifted(current, self.unit, -self.count), current

    def __str__(self) -> str:
        return self.text


def period_start(day: date, unit: Unit) -> date:
    """The first day of the day, week (Monday), month, quarter or year ``day`` falls in."""
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def shifted(start: date, unit: Unit, count: int) -> date:
    """The first day of the period ``count`` periods after (before, when negative) the one starting at ``start``;
    a period beyond the calendar (before 0001-01-01, after 9999-12-31) stops at its first or last day, so
    every as-of date a decision may carry has a window."""
    try:
        if unit == "day":
            return start + timedelta(days=count)
        if unit == "week":
            return start + timedelta(weeks=count)
        months = {"month": 1, "quarter": 3, "year": 12}[unit] * count
        index = start.year * 12 + start.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)
    except (OverflowError, ValueError):
        return date.min if count < 0 else date.max


def _day_after(day: date) -> date:
    """The end (exclusive) of a window that counts ``day`` itself; at 9999-12-31, the calendar's last day,
    there is no day after, and that last day is left out."""
    return day if day == date.max else day + timedelta(days=1)


def parse_window(text: object) -> Window:
    """Read a window as a policy owner writes it (``90 days``, ``4 quarters``, ``this month``, ``all``).

    Raises :class:`WindowError` with a message in plain words when it cannot be read."""
    if not isinstance(text, str) or not text.strip():
        raise WindowError(f"a window is written like {_WRITTEN}")
    written = " ".join(text.split())
    plain = written.lower()
    if plain in ("all", "全部"):
        return Window(0, None, "all")
    chinese = _CHINESE.match(plain.replace(" ", ""))
    if chinese is not None:
        plain = f"{chinese['count'] or 'this'} {_CHINESE_UNITS[chinese['unit']]}"
    match = _FORM.match(plain)
    if match is None:
        raise WindowError(f"cannot read the window {written!r}: write it like {_WRITTEN}")
    unit = _UNIT.get(match["unit"])
    if unit is None:
        raise WindowError(f"{match['unit']!r} is not a unit of a window: use days, weeks, months, quarters or years "
                          f"(e.g. {_WRITTEN})")
    if match["this"]:
        if unit == "day":
            raise WindowError("'this day' is today, which has not ended: write 1 day for yesterday, or all")
        return Window(0, unit, f"this {unit}")
    count = int(match["count"])
    if count == 0:
        raise WindowError(f"a window of 0 {unit}s holds nothing: write at least 1 {unit}")
    if count > _MAX_COUNT:
        raise WindowError(f"a window of {count} {unit}s goes back too far: write at most {_MAX_COUNT}, or all")
    return Window(count, unit, f"{count} {unit}{'s' if count != 1 else ''}")
