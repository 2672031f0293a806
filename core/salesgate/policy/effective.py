"""Effective dates: when a rule, a rule set (or a table) is in force.

``effective: {from: 2027-01-01, until: 2027-07-01}`` — ``from`` is the first day in force,
``until`` the first day no longer in force (exclusive, so consecutive versions share one date
and never overlap nor leave a gap); either may be left out. Parsed once, here, with the
policy owner's words for what is wrong; :meth:`Effective.in_force` is the one test of a date
against a window, and :func:`window_conditions` the same test as IR conditions on ``today`` (so
every backend matches a dated rule only on the days it is in force, with no backend knowing
about effective dates at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ..errors import did_you_mean
from ..facts import TODAY
from .days import parse_day
from .ir import Compare, Cond, Const, Kind, Ref

KEYS = ("from", "until")


class EffectiveError(ValueError):
    """A malformed ``effective:`` (said in plain words); ``key`` names the part that is wrong, if one is."""

    def __init__(self, message: str, key: str | None = None, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.suggestion = suggestion


@dataclass(frozen=True, slots=True)
class Effective:
    """A window of days: from ``start`` (inclusive) until ``end`` (exclusive); None is open."""

    start: date | None = None
    end: date | None = None

    def in_force(self, day: date) -> bool:
        """Whether the window holds ``day``."""
        return (self.start is None or day >= self.start) and (self.end is None or day < self.end)

    def describe(self) -> str:
        """The window as written: ``from 2027-01-01 until 2027-07-01`` (either part when only it is given)."""
        parts = ([f"from {self.start.isoformat()}"] if self.start else []) + (
            [f"until {self.end.isoformat()}"] if self.end else [])
        return " ".join(parts) or "always"

    def not_in_force(self) -> str:
        """What the trace says of a rule outside its window on a decision's as-of date."""
        return f"not in force ({self.describe()})"

    def within(self, outer: Effective | None) -> Effective | None:
        """This window narrowed to ``outer`` (a rule's within its rule set's); None when they share no day."""
        if outer is None:
            return self
        start = max((d for d in (self.start, outer.start) if d is not None), default=None)
        end = min((d for d in (self.end, outer.end) if d is not None), default=None)
        if start is not None and end is not None and start >= end:
            return None
        return Effective(start, end)


def _day(value: Any, key: str) -> date:
    """A date as YAML reads it (``2027-01-01`` unquoted) or as text (``"2027-01-01"``). A date and
    time (YAML reads ``2027-01-01 08:00`` as one) is refused: a rule is in force for whole days, and
    a datetime compared with the as-of date would raise."""
    if isinstance(value, datetime):
        raise EffectiveError(f"effective: {key} is {value.isoformat(' ')}, a date and time: a rule is in force "
                             f"for whole days: write the day alone, e.g. {key}: {value.date().isoformat()}", key)
    if isinstance(value, date):
        return value
    if isinstance(value, str) and (day := parse_day(value)) is not None:
        return day
    shown = "nothing" if value is None else repr(value) if isinstance(value, str) else str(value)
    raise EffectiveError(f"effective: {key} is {shown}, not a date: write it as YYYY-MM-DD, e.g. {key}: 2027-01-01",
                         key)


def parse_effective(value: Any) -> Effective:
    """``effective:`` as written (a mapping with ``from`` and/or ``until``), checked: a bad date, an
    unknown key, or ``from`` not before ``until`` raise :class:`EffectiveError` in plain words."""
    if not isinstance(value, Mapping):
        raise EffectiveError("effective: takes the dates a rule is in force, e.g. "
                             "effective: {from: 2027-01-01, until: 2027-07-01} (either may be left out)")
    for key in value:
        if key not in KEYS:
            raise EffectiveError(f"effective: {key!r} is not a key of effective: write from: (the first day in "
                                 "force) and/or until: (the first day no longer in force)", str(key),
                                 did_you_mean(str(key), KEYS))
    if not value:
        raise EffectiveError("effective: names no date: give from:, until: or both, or leave effective: out")
    start = _day(value["from"], "from") if "from" in value else None
    end = _day(value["until"], "until") if "until" in value else None
    if start is not None and end is not None and start >= end:
        raise EffectiveError(f"effective: from {start.isoformat()} is not before until {end.isoformat()} (until is "
                             "the first day no longer in force), so it would never be in force", "until")
    return Effective(start, end)


def window_conditions(window: Effective) -> tuple[Cond, ...]:
    """``today >= from`` and ``today < until``: the window as conditions both backends match."""
    today = Ref(TODAY, Kind.date)
    out: list[Cond] = []
    if window.start is not None:
        out.append(Compare(">=", today, Const(window.start, Kind.date)))
    if window.end is not None:
        out.append(Compare("<", today, Const(window.end, Kind.date)))
    return tuple(out)
