"""Business days by a holiday calendar: which days are worked, and counting in worked days.

A :class:`Calendar` is what a policy's ``calendars/<name>.yaml`` says (read by
:mod:`salesgate.policy.calendarfiles`): the days off by name (春节, 国庆节), the weekend days made
working days (调休), the weekdays of the weekend, and the years it covers. It is data of the
policy, not of an installed package, so a decision depends on the policy version alone: a package
upgrade that corrects a holiday never changes a decision without a new policy hash.

A day is a **business day** when it is in a covered year, is not a holiday, and is either not a
weekend day or a working day (调休). Every function is exact and answers ``None`` (a missing value)
for a date outside the covered years, or when the counting would have to cross one: it never guesses
that an uncovered year has no holidays. In a rule, a missing value makes a comparison false, also
under ``not`` (:mod:`salesgate.policy.ir`), so a rule reading a date past the calendar does not fire.

Counting (``n`` business days, between two dates) counts the business days *after* the start:
``add_business_days(d, 1)`` is the first business day after ``d`` (whatever ``d`` is),
``business_days_between(a, b)`` is how many business days lie in ``(a, b]`` — and minus that
count of ``(b, a]`` when ``b`` is before ``a`` — so ``add_business_days(a, business_days_between(a, b))
== b`` for every business day ``b`` after ``a``. ``add_business_days(d, 0)`` is ``d`` itself on a
business day, else the next business day (the day a thing due "today" is due when today is off).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from types import MappingProxyType

WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""The weekday names a calendar file uses, Monday first (``date.weekday()`` is the index)."""

WEEKDAYS_ZH: tuple[str, ...] = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def _empty() -> Mapping[date, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Calendar:
    """A holiday calendar: immutable, shared by every decision of a policy.

    ``holidays`` maps each day off to its holiday's name (a weekend day inside a holiday period may
    be listed: it is off either way); ``working_days`` maps each weekend day made a working day (调休)
    to the holiday it was moved for; ``weekend`` holds the weekday numbers (0 = Monday) of the
    weekend; ``years`` the years whose days the calendar knows.
    """

    name: str
    years: frozenset[int]
    holidays: Mapping[date, str] = field(default_factory=_empty)
    working_days: Mapping[date, str] = field(default_factory=_empty)
    weekend: frozenset[int] = frozenset({5, 6})
    source: str = field(default="", compare=False)
    """Where the calendar was read from (``calendars/cn.yaml``), for messages: two copies of one file are
    the same calendar."""

    def covers(self, day: date) -> bool:
        return day.year in self.years

    def is_business_day(self, day: date) -> bool | None:
        """Whether ``day`` is worked; None when its year is not covered."""
        if day.year not in self.years:
            return None
        if day in self.holidays:
            return False
        return day.weekday() not in self.weekend or day in self.working_days

    @cached_property
    def _spans(self) -> tuple[tuple[date, date, tuple[date, ...]], ...]:
        """Each run of consecutive covered years: its first and last day, and its business days in order."""
        spans: list[tuple[date, date, tuple[date, ...]]] = []
        years = sorted(self.years)
        start = 0
        for i in range(1, len(years) + 1):
            if i == len(years) or years[i] != years[i - 1] + 1:
                first, last = date(years[start], 1, 1), date(years[i - 1], 12, 31)
                days = tuple(first + timedelta(k) for k in range((last - first).days + 1)
                             if self.is_business_day(first + timedelta(k)))
                spans.append((first, last, days))
                start = i
        return tuple(spans)

    def _span(self, day: date) -> tuple[date, date, tuple[date, ...]] | None:
        for span in self._spans:
            if span[0] <= day <= span[1]:
                return span
        return None

    def add_business_days(self, day: date, n: int) -> date | None:
        """The ``n``-th business day after ``day`` (before it for negative ``n``; see the module's
        docstring for ``n == 0``); None when ``day`` or the result lies outside the covered years."""
        span = self._span(day)
        if span is None:
            return None
        days = span[2]
        if n > 0:
            index = bisect.bisect_right(days, day) + n - 1
        elif n < 0:
            index = bisect.bisect_left(days, day) + n
        else:
            index = bisect.bisect_left(days, day)
        if not 0 <= index < len(days):
            return None
        return days[index]

    def business_days_between(self, start: date, end: date) -> int | None:
        """How many business days lie after ``start`` up to and including ``end`` (negative when ``end``
        is before ``start``); None unless both lie in one run of covered years."""
        span = self._span(start)
        if span is None or not span[0] <= end <= span[1]:
            return None
        days = span[2]
        return bisect.bisect_right(days, end) - bisect.bisect_right(days, start)

    def describe(self, day: date) -> str:
        """Why ``day`` is or is not a business day, in words an explanation can show:
        ``2026-02-14 周六 调休上班 (春节)``."""
        weekday = WEEKDAYS_ZH[day.weekday()]
        if day.year not in self.years:
            return f"{day.isoformat()} {weekday}: {day.year} is not in calendar {self.name}"
        if day in self.holidays:
            return f"{day.isoformat()} {weekday} 放假 ({self.holidays[day]})"
        if day in self.working_days:
            return f"{day.isoformat()} {weekday} 调休上班 ({self.working_days[day]})"
        if day.weekday() in self.weekend:
            return f"{day.isoformat()} {weekday} 周末"
        return f"{day.isoformat()} {weekday} 工作日"


def is_business_day(calendar: Calendar, day: date | None) -> bool | None:
    """Whether ``day`` is a business day of ``calendar``; a missing day or an uncovered year is missing."""
    if day is None:
        return None
    return calendar.is_business_day(day)


def add_business_days(calendar: Calendar, day: date | None, n: int | None) -> date | None:
    """``day`` moved by ``n`` business days; missing in, or outside the calendar, is missing out."""
    if day is None or n is None:
        return None
    return calendar.add_business_days(day, n)


def business_days_between(calendar: Calendar, start: date | None, end: date | None) -> int | None:
    """Business days after ``start`` up to and including ``end``; missing in, or outside the calendar, is
    missing out."""
    if start is None or end is None:
        return None
    return calendar.business_days_between(start, end)
