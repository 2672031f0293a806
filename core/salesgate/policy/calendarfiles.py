"""Read a policy's holiday calendars: ``calendars/<name>.yaml``, each checked at load.

A calendar file is written the way the State Council's notice reads (国务院办公厅关于部分节假日安排
的通知), one section per year::

    weekend: [saturday, sunday]            # optional; this is the default
    years:
      2026:
        notice: 国办发明电〔2025〕7号
        holidays:                          # the days off, by holiday: a date, a range, or a list
          元旦: 2026-01-01 to 2026-01-03
          春节: 2026-02-15 to 2026-02-23
        working_days:                      # weekend days made working days (调休), by holiday
          春节: [2026-02-14, 2026-02-28]

Why a file in the policy and not a holiday package asked at decision time: determinism. A decision
depends on the policy version and the facts alone; a package upgrade (a corrected holiday, a new
year) must not change a decision without a new policy hash. The file counts toward the policy hash
and its size limit like every other file of the policy; a test of the shipped ``cn.yaml`` checks it
day by day against a maintained package, so it cannot silently be wrong.

Every problem names the file and line in plain words: a date that is not one, a range that ends
before it starts, a date listed twice, a working day that is not a weekend day, a date filed under
another year, a year without holidays. A holiday range may include weekend days (the notices'
ranges do: 春节 2026-02-15 to 2026-02-23 holds two weekends).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..documents import valid_name
from ..errors import PolicyError, did_you_mean
from .calendars import WEEKDAYS, WEEKDAYS_ZH, Calendar
from .days import parse_day
from .yamlfile import LineDict, load_yaml

CALENDARS_DIRECTORY = "calendars"
"""The folder of a policy directory that holds its holiday calendars, one file per calendar."""

MAX_HOLIDAY_DAYS = 31
"""The longest range one holiday may span: a longer one is almost surely a mistyped date."""

_TOP = ("description", "weekend", "years")
_YEAR = ("notice", "holidays", "working_days")
_RANGE = re.compile(r"^\s*(\S+)\s*(?:to|至|\.\.)\s*(\S+)\s*$")
_EXAMPLE = "write a date (2026-10-01), a range (2026-10-01 to 2026-10-07) or a list of them ([2026-02-14, 2026-02-28])"

Report = Callable[..., None]
"""``problems(message, file, line, field=..., suggestion=...)``, as the policy loader collects them."""


def calendar_files(directory: Path) -> list[Path]:
    """The holiday calendars of a policy directory: ``calendars/*.yaml``."""
    folder = directory / CALENDARS_DIRECTORY
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".yaml", ".yml"))


def load_calendars(directory: Path, problems: Report, digest: Callable[[bytes], None]) -> dict[str, Calendar]:
    """Read every ``calendars/*.yaml`` of ``directory`` into a :class:`Calendar` by name (the file's name
    without ``.yaml``), reporting every problem; a calendar with problems is left out."""
    out: dict[str, Calendar] = {}
    for file in calendar_files(directory):
        shown = str(file)
        digest(f"{CALENDARS_DIRECTORY}/{file.name}".encode() + b"\0" + file.read_bytes())
        try:
            data = load_yaml(file, shown, kind="calendar file")
        except PolicyError as exc:  # not YAML, too large, a date that is not one: at its line
            for problem in exc.problems:
                problems(problem.message, problem.path, problem.line)
            continue
        calendar = read_calendar(file.stem, data, shown, problems)
        if calendar is not None:
            out[calendar.name] = calendar
    return out


def read_calendar(name: str, data: Any, shown: str, problems: Report) -> Calendar | None:
    """One calendar from its file's YAML (``data``), or None after reporting what is wrong with it."""
    before = _Counter(problems)
    report = before.report
    if not valid_name(name):
        report(f"{name!r} cannot name a calendar: name the file in lower case letters, digits and _ "
               "(cn.yaml); rules call the calendar by its file's name", shown, 1)
        return None
    if not isinstance(data, LineDict) or "years" not in data:
        report("a calendar file is a mapping with years: (and optionally weekend:), one section per year with "
               "notice:, holidays: and working_days:", shown, getattr(data, "line", None) or 1)
        return None
    for key in data:
        if key not in _TOP:
            report(f"unknown field {key!r}; expected one of: {', '.join(_TOP)}", shown, data.key_lines[key],
                   field=key, suggestion=did_you_mean(key, _TOP))
    weekend = _weekend(data, shown, report)
    years = data["years"]
    if not isinstance(years, LineDict) or not years:
        report("years: holds one section per year: 2026: {notice: ..., holidays: {...}, working_days: {...}}",
               shown, data.key_lines["years"], field="years")
        return None
    holidays: dict[date, str] = {}
    working: dict[date, str] = {}
    seen: dict[date, tuple[str, int]] = {}  # each date listed: under which name, at which line
    covered: set[int] = set()
    for key, section in years.items():
        line = years.key_lines[key]
        year = int(key) if re.fullmatch(r"(19|20|21)\d\d", key) else None
        if year is None:
            what = ("is not a year a calendar holds: its years are 1900 to 2199"
                    if len(key) == 4 and key.isdigit() else
                    "is not a year: write the year's four digits, e.g. 2026:")
            report(f"{key!r} {what}", shown, line, field=f"years.{key}")
            continue
        covered.add(year)
        _year(year, section, shown, line, weekend, holidays, working, seen, report)
    if before.count:
        return None
    return Calendar(name=name, years=frozenset(covered), holidays=MappingProxyType(dict(sorted(holidays.items()))),
                    working_days=MappingProxyType(dict(sorted(working.items()))), weekend=weekend, source=shown)


class _Counter:
    """Counts the problems one calendar reports, so a calendar with any is left out."""

    def __init__(self, problems: Report) -> None:
        self.problems = problems
        self.count = 0

    def report(self, message: str, shown: str, line: int | None, field: str | None = None,
               suggestion: str | None = None) -> None:
        self.count += 1
        self.problems(message, shown, line, field=field, suggestion=suggestion)


def _weekend(data: LineDict, shown: str, report: Report) -> frozenset[int]:
    if "weekend" not in data:
        return frozenset({5, 6})
    given = data["weekend"]
    line = data.key_lines["weekend"]
    names = given if isinstance(given, list) else [given]
    days: set[int] = set()
    for item in names:
        text = str(item).strip().lower()
        if text in WEEKDAYS:
            days.add(WEEKDAYS.index(text))
        elif text in WEEKDAYS_ZH:
            days.add(WEEKDAYS_ZH.index(text))
        else:
            report(f"{item!r} is not a weekday: write monday … sunday (or 周一 … 周日)", shown, line,
                   field="weekend", suggestion=did_you_mean(text, WEEKDAYS))
    return frozenset(days)


def _year(year: int, section: Any, shown: str, line: int, weekend: frozenset[int], holidays: dict[date, str],
          working: dict[date, str], seen: dict[date, tuple[str, int]], report: Report) -> None:
    where = f"years.{year}"
    if not isinstance(section, LineDict) or not section.get("holidays"):
        report(f"{year} lists no holidays: copy them from the State Council's notice for {year} (holidays: "
               f"{{春节: {year}-02-15 to {year}-02-21}}), or remove the year — a date in a year the calendar does not "
               "list is a missing value, and rules reading it do not fire", shown, line, field=where)
        return
    for key in section:
        if key not in _YEAR:
            report(f"unknown field {key!r} in {year}; expected one of: {', '.join(_YEAR)}", shown,
                   section.key_lines[key], field=f"{where}.{key}", suggestion=did_you_mean(key, _YEAR))
    notice = section.get("notice")
    if not isinstance(notice, str) or not notice.strip():
        report(f"{year} needs notice: the notice its dates come from (e.g. 国办发明电〔2025〕7号), so the next "
               "reader can check them", shown, section.key_lines.get("notice", line), field=f"{where}.notice")
    for part in ("holidays", "working_days"):
        entries = section.get(part)
        if entries is None:
            continue
        part_line = section.key_lines[part]
        if not isinstance(entries, LineDict):
            report(f"{part}: maps each holiday's name to its dates, e.g. 春节: {year}-02-15 to {year}-02-23",
                   shown, part_line, field=f"{where}.{part}")
            continue
        for name, value in entries.items():
            entry_line = entries.key_lines[name]
            field = f"{where}.{part}.{name}"
            for day in _dates(value, shown, entry_line, field, report):
                if day.year != year:
                    report(f"{day.isoformat()} is in {day.year}, not {year}: list it under {day.year} (a calendar "
                           "covers whole years)", shown, entry_line, field=field)
                    continue
                if day in seen:
                    other, other_line = seen[day]
                    report(f"{day.isoformat()} is listed twice: under {other} (line {other_line}) and under "
                           f"{part}.{name}: keep one", shown, entry_line, field=field)
                    continue
                seen[day] = (f"{part}.{name}", entry_line)
                if part == "holidays":
                    holidays[day] = str(name)
                elif day.weekday() not in weekend:
                    report(f"{day.isoformat()} is a {WEEKDAYS[day.weekday()].capitalize()} "
                           f"({WEEKDAYS_ZH[day.weekday()]}), a working day anyway: working_days lists the weekend "
                           "days made working days (调休); a holiday goes under holidays:", shown, entry_line,
                           field=field)
                else:
                    working[day] = str(name)


def _dates(value: Any, shown: str, line: int, field: str, report: Report) -> list[date]:
    """The days one entry stands for: a date, a range written ``A to B`` (both days included), or a list."""
    items = value if isinstance(value, list) else [value]
    if not items:
        report(f"no dates: {_EXAMPLE}", shown, line, field=field)
    days: list[date] = []
    for item in items:
        if isinstance(item, date) and not hasattr(item, "hour"):
            days.append(item)
            continue
        if isinstance(item, datetime):  # YAML reads 2026-01-01 08:00 as a date and time
            report(f"{item.isoformat(' ')} is a date and time: a holiday is a whole day: write the day alone, "
                   f"{item.date().isoformat()}", shown, line, field=field)
            continue
        match = _RANGE.match(item) if isinstance(item, str) else None
        if match is None:
            report(f"{item!r} is not a date or a range: {_EXAMPLE}", shown, line, field=field)
            continue
        first, last = parse_day(match.group(1)), parse_day(match.group(2))
        if first is None or last is None:
            report(f"{item!r}: both ends of a range are dates written YYYY-MM-DD (2026-10-01 to 2026-10-07)",
                   shown, line, field=field)
            continue
        if last < first:
            report(f"{item!r} ends before it starts: write the earlier date first", shown, line, field=field)
            continue
        if (last - first).days >= MAX_HOLIDAY_DAYS:
            report(f"{item!r} spans {(last - first).days + 1} days, more than a holiday's {MAX_HOLIDAY_DAYS}: check "
                   "the dates", shown, line, field=field)
            continue
        days.extend(first + timedelta(k) for k in range((last - first).days + 1))
    return days
