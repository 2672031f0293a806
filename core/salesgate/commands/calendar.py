"""``salesgate calendar import CN --years 2025-2026``: a holiday calendar file written from the
``holidays`` package, for a policy's ``calendars/`` folder.

Decisions never read the package: they read the file (:mod:`salesgate.policy.calendarfiles` says
why), so this command is how a policy owner brings a new year in, reviews the diff, and ships it
as a new policy version. The package is a test dependency of salesgate, not a runtime one: without
it the command says how to install it.

Each holiday period is a run of consecutive days off that holds one of the package's holidays,
named by its first holiday (春节, 国庆节); the package's in-lieu working days (调休) are filed under
the period nearest to them. A year whose State Council notice the installed package does not hold
is refused, never estimated: the package's estimate has no 调休 days.
"""

from __future__ import annotations

import importlib
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from ..errors import SalesgateError
from . import check_writable

__all__ = ["calendar_group", "chinese_calendar_yaml"]

_SUBSTITUTED = re.compile(r"^休息日")  # the package's name of a day off moved from a weekend (调休)


def _package() -> Any:
    try:
        return importlib.import_module("holidays")
    except ImportError:
        raise SalesgateError("the holidays package is not installed: pip install holidays (only this command needs "
                             "it; decisions read the calendar file)") from None


def _years(text: str) -> list[int]:
    match = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?", text)
    if match is None:
        raise click.BadParameter(f"{text!r}: write a year (2026) or a range of years (2025-2027)")
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if last < first or last - first > 20:
        raise click.BadParameter(f"{text!r}: the years run from the first to the last, at most 21 of them")
    return list(range(first, last + 1))


def chinese_calendar_yaml(years: list[int]) -> str:
    """The text of ``calendars/cn.yaml`` for ``years``, from the installed ``holidays`` package."""
    package = _package()
    china = package.China
    missing = [year for year in years if not _noticed(china(years=year), year)]
    if missing:
        raise SalesgateError(f"holidays {package.__version__} holds no State Council notice for "
                             f"{', '.join(map(str, missing))}: its dates there would be a guess without the 调休 "
                             "working days; import the years it has, or upgrade it once the notice is in")
    lines = [f"# 中国大陆法定节假日与调休, written by salesgate calendar import CN from holidays "
             f"{package.__version__}:",
             "# review it against the State Council's notices before you ship it (a new policy version).",
             "weekend: [saturday, sunday]", "years:"]
    for year in years:
        official = china(years=year, language="zh_CN")
        periods = _periods(official, year)
        lines += [f"  {year}:", f"    notice: 国务院办公厅关于{year}年部分节假日安排的通知", "    holidays:"]
        lines += [f"      {name}: {_span(first, last)}" for name, first, last in periods]
        working: dict[str, list[date]] = {}
        for day in sorted(d for d in official.weekend_workdays if d.year == year):
            working.setdefault(_period_of(day, official, periods), []).append(day)
        if working:
            lines.append("    working_days:")
            lines += [f"      {name}: {_list(days)}" for name, days in working.items()]
    return "\n".join(lines) + "\n"


def _noticed(official: Any, year: int) -> bool:
    """Whether the package holds the year's notice: the days it moves (its special holidays), and 调休
    working days, which no estimate has."""
    moved = getattr(official, "special_public_holidays", None)
    has_moves = year in moved if isinstance(moved, dict) else True
    return has_moves and any(day.year == year for day in official.weekend_workdays)


def _periods(official: Any, year: int) -> list[tuple[str, date, date]]:
    """Each run of consecutive days off in ``year`` holding one of the package's holidays: name, first, last."""
    def off(day: date) -> bool:
        return not official.is_working_day(day)

    out: list[tuple[str, date, date]] = []
    day, end = date(year, 1, 1), date(year, 12, 31)
    while day <= end:
        if day in official and day.year == year:
            first = day
            while first - timedelta(1) >= date(year, 1, 1) and off(first - timedelta(1)):
                first -= timedelta(1)
            last = day
            while last + timedelta(1) <= end and off(last + timedelta(1)):
                last += timedelta(1)
            names = [part for d in _days(first, last) if d in official for part in str(official.get(d)).split("; ")]
            named = [n for n in names if not _SUBSTITUTED.match(n)] or names
            name = max(dict.fromkeys(named), key=named.count)  # the period's holiday: 春节 over its 农历除夕
            taken = {n for n, _, _ in out}
            out.append((name if name not in taken else f"{name}（{first.month}月）", first, last))
            day = last + timedelta(1)
        else:
            day += timedelta(1)
    return out


def _period_of(day: date, official: Any, periods: list[tuple[str, date, date]]) -> str:
    """The holiday a 调休 working day serves: the period holding the day off the package moved from it
    (named "休息日（由 <day> 调休）"), else the nearest period."""
    for name, first, last in periods:
        if any(day.isoformat() in str(official.get(d, "")) for d in _days(first, last)):
            return name
    return min(periods, key=lambda p: min(abs((day - p[1]).days), abs((day - p[2]).days)))[0]


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(k) for k in range((last - first).days + 1)]


def _span(first: date, last: date) -> str:
    return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"


def _list(days: list[date]) -> str:
    return days[0].isoformat() if len(days) == 1 else "[" + ", ".join(d.isoformat() for d in days) + "]"


@click.group("calendar")
def calendar_group() -> None:
    """Holiday calendars for business days (calendars/<name>.yaml)."""


@calendar_group.command("import")
@click.argument("country", metavar="CN")
@click.option("--years", "years_text", required=True, metavar="YEAR[-YEAR]", help="The years to write: 2025-2026.")
@click.option("-o", "--output", type=click.Path(path_type=Path), metavar="FILE",
              help="Write the file here (e.g. rules/calendars/cn.yaml) instead of printing it.")
def import_command(country: str, years_text: str, output: Path | None) -> None:
    """Write a calendar file for COUNTRY (CN: the Chinese mainland) from the holidays package."""
    if country.upper() != "CN":
        raise click.BadParameter(f"{country!r}: salesgate imports CN (the Chinese mainland, with its 调休 working "
                                 "days); write another country's file by hand", param_hint="COUNTRY")
    years = _years(years_text)
    if output is not None:
        check_writable(output, "--output")
    text = chinese_calendar_yaml(years)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}: {len(years)} year{'s' if len(years) != 1 else ''}", err=True)
