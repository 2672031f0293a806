"""Holiday calendars: business days by the State Council's notices, read from ``calendars/<name>.yaml``.

The functions are exact and answer a missing value outside the calendar's years; a calendar file's
mistakes are refused at file:line in plain words; the shipped ``rules/calendars/cn.yaml`` agrees,
day by day, with the maintained ``holidays`` package, so it cannot silently be wrong.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.mini_policy import write_mini_policy
from salesgate import load_policy, seed_policy_path
from salesgate.cli import cli
from salesgate.errors import PolicyError
from salesgate.policy.calendarfiles import load_calendars
from salesgate.policy.calendars import Calendar, add_business_days, business_days_between, is_business_day
from salesgate.reload import content_hash

SEED = Path(seed_policy_path())


def _problems_of(text: str, name: str = "cn", tmp: Path | None = None) -> tuple[dict[str, Calendar], list[str]]:
    assert tmp is not None
    (tmp / "calendars").mkdir(exist_ok=True)
    (tmp / "calendars" / f"{name}.yaml").write_text(text, encoding="utf-8")
    problems: list[str] = []

    def add(message: str, path: str, line: int | None = None, **extra: Any) -> None:
        hint = f" (did you mean {extra['suggestion']}?)" if extra.get("suggestion") else ""
        problems.append(f"{Path(path).name}:{line}: {message}{hint}")

    return load_calendars(tmp, add, lambda _: None), problems


@pytest.fixture(scope="module")
def cn() -> Calendar:
    return load_policy(SEED).calendars["cn"]


# -- the functions ------------------------------------------------------------------------------------


def test_spring_festival_2026_is_off_and_its_saturdays_are_worked(cn: Calendar) -> None:
    assert cn.is_business_day(date(2026, 2, 13)) is True  # Friday before
    assert cn.is_business_day(date(2026, 2, 14)) is True  # Saturday, 调休上班
    assert cn.is_business_day(date(2026, 2, 15)) is False  # Sunday, first day off
    assert cn.is_business_day(date(2026, 2, 16)) is False  # Monday, 春节
    assert cn.is_business_day(date(2026, 2, 23)) is False  # Monday, last day off
    assert cn.is_business_day(date(2026, 2, 24)) is True
    assert cn.is_business_day(date(2026, 2, 28)) is True  # Saturday, 调休上班
    assert cn.is_business_day(date(2026, 3, 7)) is False  # an ordinary Saturday
    assert cn.describe(date(2026, 2, 14)) == "2026-02-14 周六 调休上班 (春节)"
    assert cn.describe(date(2026, 2, 16)) == "2026-02-16 周一 放假 (春节)"


def test_adding_business_days_steps_over_the_holiday_onto_the_worked_saturday(cn: Calendar) -> None:
    friday = date(2026, 2, 13)
    assert cn.add_business_days(friday, 1) == date(2026, 2, 14)
    assert cn.add_business_days(friday, 2) == date(2026, 2, 24)
    assert cn.add_business_days(date(2026, 2, 24), -1) == date(2026, 2, 14)
    assert cn.add_business_days(date(2026, 2, 24), -2) == friday
    assert cn.add_business_days(date(2026, 2, 16), 1) == date(2026, 2, 24)  # from a day off: the first after it
    assert cn.add_business_days(date(2026, 2, 16), -1) == date(2026, 2, 14)


def test_zero_business_days_is_the_day_itself_or_the_next_business_day(cn: Calendar) -> None:
    assert cn.add_business_days(date(2026, 2, 13), 0) == date(2026, 2, 13)
    assert cn.add_business_days(date(2026, 2, 16), 0) == date(2026, 2, 24)
    assert cn.add_business_days(date(2026, 3, 7), 0) == date(2026, 3, 9)


def test_business_days_between_counts_the_days_after_the_start_up_to_the_end(cn: Calendar) -> None:
    assert cn.business_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2  # 14th (Sat) and 24th
    assert cn.business_days_between(date(2026, 2, 24), date(2026, 2, 13)) == -2
    assert cn.business_days_between(date(2026, 2, 16), date(2026, 2, 16)) == 0
    assert cn.business_days_between(date(2026, 2, 15), date(2026, 2, 23)) == 0  # the whole holiday
    # over the year's end: 1-3 January off (元旦), Sunday the 4th worked (调休), Monday the 5th
    assert cn.business_days_between(date(2025, 12, 31), date(2026, 1, 4)) == 1
    assert cn.business_days_between(date(2025, 12, 31), date(2026, 1, 5)) == 2


def test_a_date_outside_the_calendars_years_is_missing_never_a_guess(cn: Calendar) -> None:
    assert 2027 not in cn.years
    assert cn.is_business_day(date(2027, 3, 1)) is None
    assert cn.add_business_days(date(2027, 3, 1), 1) is None
    assert cn.add_business_days(date(2026, 12, 31), 1) is None  # the result would be in 2027
    assert cn.add_business_days(date(2024, 1, 2), -1) is None  # … or in 2023
    assert cn.business_days_between(date(2026, 12, 1), date(2027, 1, 5)) is None
    assert cn.business_days_between(date(2023, 12, 1), date(2024, 1, 5)) is None
    assert is_business_day(cn, None) is None
    assert add_business_days(cn, date(2026, 2, 13), None) is None
    assert business_days_between(cn, None, date(2026, 2, 13)) is None


def test_counting_stops_at_a_gap_in_the_covered_years() -> None:
    gappy = Calendar("x", frozenset({2024, 2026}))
    assert gappy.is_business_day(date(2026, 1, 2)) is True
    assert gappy.add_business_days(date(2024, 12, 31), 1) is None  # would need 2025
    assert gappy.business_days_between(date(2024, 12, 2), date(2026, 1, 5)) is None


def _walk(calendar: Calendar, day: date, n: int) -> date | None:
    """add_business_days the slow way: one day at a time."""
    step = 1 if n >= 0 else -1
    if n == 0:
        while calendar.is_business_day(day) is False:
            day += timedelta(1)
        return day if calendar.is_business_day(day) else None
    left = abs(n)
    while left:
        day += timedelta(step)
        worked = calendar.is_business_day(day)
        if worked is None:
            return None
        left -= worked
    return day


_DAYS = st.dates(min_value=date(2023, 12, 1), max_value=date(2027, 1, 31))


@settings(max_examples=300, deadline=None)
@given(day=_DAYS, n=st.integers(-400, 400))
def test_adding_business_days_agrees_with_walking_day_by_day(cn: Calendar, day: date, n: int) -> None:
    expected = _walk(cn, day, n) if cn.covers(day) else None
    assert cn.add_business_days(day, n) == expected


@settings(max_examples=300, deadline=None)
@given(start=_DAYS, end=_DAYS)
def test_business_days_between_undoes_adding_and_is_antisymmetric(cn: Calendar, start: date, end: date) -> None:
    count = cn.business_days_between(start, end)
    if not (cn.covers(start) and cn.covers(end)):
        assert count is None
        return
    assert count is not None
    assert cn.business_days_between(end, start) == -count
    slow = sum(1 for k in range(1, (end - start).days + 1) if cn.is_business_day(start + timedelta(k)))
    assert count == (slow if end >= start else -sum(
        1 for k in range(1, (start - end).days + 1) if cn.is_business_day(end + timedelta(k))))
    if end > start and cn.is_business_day(end):
        assert cn.add_business_days(start, count) == end


def test_a_calendar_may_have_another_weekend(tmp_path: Path) -> None:
    calendars, problems = _problems_of("""\
weekend: [friday, saturday]
years:
  2026:
    notice: test
    holidays: {Eid: 2026-03-20}
    working_days: {Eid: 2026-03-21}
""", tmp=tmp_path)
    assert problems == []
    gulf = calendars["cn"]
    assert gulf.is_business_day(date(2026, 3, 22)) is True  # Sunday
    assert gulf.is_business_day(date(2026, 3, 27)) is False  # Friday
    assert gulf.is_business_day(date(2026, 3, 21)) is True  # the Saturday made a working day


# -- the calendar file's mistakes, in plain words ------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("years:\n  2026:\n    notice: n\n    holidays:\n      春节: 2026-02-15 to 2026-02-23\n      元宵: 2026-02-16\n",
     "cn.yaml:6: 2026-02-16 is listed twice: under holidays.春节 (line 5) and under holidays.元宵: keep one"),
    ("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-16}\n    working_days:\n      春节: 2026-02-13\n",
     "cn.yaml:6: 2026-02-13 is a Friday (周五), a working day anyway: working_days lists the weekend days made "
     "working days (调休); a holiday goes under holidays:"),
    ("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-16}\n    working_days: {春节: 2026-02-16}\n",
     "cn.yaml:5: 2026-02-16 is listed twice: under holidays.春节 (line 4) and under working_days.春节: keep one"),
    ("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-16}\n  2027:\n",
     "cn.yaml:5: 2027 lists no holidays: copy them from the State Council's notice for 2027"),
    ("years:\n  2026:\n    notice: n\n    holidays: {元旦: 2025-12-31}\n",
     "cn.yaml:4: 2025-12-31 is in 2025, not 2026: list it under 2025 (a calendar covers whole years)"),
    ("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-23 to 2026-02-15}\n",
     "cn.yaml:4: '2026-02-23 to 2026-02-15' ends before it starts: write the earlier date first"),
    ("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-15 to 2026-12-23}\n",
     "cn.yaml:4: '2026-02-15 to 2026-12-23' spans 312 days, more than a holiday's 31: check the dates"),
    ("years:\n  2026:\n    notice: n\n    holidays: {春节: 2月15日}\n",
     "cn.yaml:4: '2月15日' is not a date or a range: write a date (2026-10-01), a range (2026-10-01 to 2026-10-07)"),
    ("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-15 to 2026-2-30}\n",
     "cn.yaml:4: '2026-02-15 to 2026-2-30': both ends of a range are dates written YYYY-MM-DD"),
    ("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-30}\n",
     "cn.yaml:4: 2026-02-30 is not a date: write a real date as YYYY-MM-DD"),
    ("years:\n  2026:\n    holidays: {春节: 2026-02-16}\n",
     "cn.yaml:2: 2026 needs notice: the notice its dates come from"),
    ("years:\n  2026:\n    notice: n\n    holiday: {春节: 2026-02-16}\n",
     "cn.yaml:2: 2026 lists no holidays"),
    ("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-16}\n    workdays: {春节: 2026-02-14}\n",
     "cn.yaml:5: unknown field 'workdays' in 2026; expected one of: notice, holidays, working_days "
     "(did you mean working_days?)"),
    ("weekends: [saturday]\nyears:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-16}\n",
     "cn.yaml:1: unknown field 'weekends'; expected one of: description, weekend, years (did you mean weekend?)"),
    ("weekend: [saturday, sundy]\nyears:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-16}\n",
     "cn.yaml:1: 'sundy' is not a weekday: write monday … sunday (or 周一 … 周日) (did you mean sunday?)"),
    ("years:\n  '26':\n    notice: n\n    holidays: {春节: 2026-02-16}\n",
     "cn.yaml:2: '26' is not a year: write the year's four digits, e.g. 2026:"),
    ("holidays: {春节: 2026-02-16}\n",
     "cn.yaml:1: a calendar file is a mapping with years:"),
])
def test_a_calendar_files_mistake_is_named_at_its_line(tmp_path: Path, text: str, expected: str) -> None:
    calendars, problems = _problems_of(text, tmp=tmp_path)
    assert calendars == {}
    assert any(p.startswith(expected) for p in problems), problems


def test_a_calendar_file_name_must_be_a_name_rules_can_use(tmp_path: Path) -> None:
    _, problems = _problems_of("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-16}\n", name="China-2026",
                               tmp=tmp_path)
    assert problems == ["China-2026.yaml:1: 'China-2026' cannot name a calendar: name the file in lower case "
                        "letters, digits and _ (cn.yaml); rules call the calendar by its file's name"]


def test_a_holiday_range_may_hold_weekend_days_as_the_notices_do(cn: Calendar) -> None:
    assert cn.holidays[date(2026, 2, 15)] == "春节"  # a Sunday inside 春节 2026-02-15 to 2026-02-23
    assert cn.holidays[date(2026, 2, 21)] == "春节"  # a Saturday


# -- a policy's calendars -----------------------------------------------------------------------------


def test_the_seed_policy_uses_the_chinese_mainland_calendar_by_default() -> None:
    policy = load_policy(SEED)
    assert policy.calendar == "cn"
    assert set(policy.calendars) == {"cn"}
    assert str(SEED / "calendars" / "cn.yaml") in policy.files


def test_a_default_calendar_the_policy_does_not_have_is_refused_with_a_did_you_mean(tmp_path: Path) -> None:
    policy_dir = write_mini_policy(tmp_path / "p")
    shutil.copytree(SEED / "calendars", policy_dir / "calendars")
    (policy_dir / "policy.yaml").write_text((policy_dir / "policy.yaml").read_text() + "calendar: CN\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(policy_dir)
    [problem] = caught.value.problems
    assert (problem.line, problem.field, problem.suggestion) == (4, "calendar", "cn")
    assert problem.message == ("calendar 'CN' is not a calendar of this policy: this policy has cn (a calendar is "
                               "a file calendars/<name>.yaml)")


def test_a_broken_calendar_file_stops_the_policy_loading_at_its_line(tmp_path: Path) -> None:
    policy_dir = write_mini_policy(tmp_path / "p")
    _problems_of("years:\n  2026:\n    notice: n\n    holidays: {春节: 2026-02-16}\n"
                 "    working_days: {春节: 2026-02-13}\n", tmp=policy_dir)
    with pytest.raises(PolicyError) as caught:
        load_policy(policy_dir)
    [problem] = caught.value.problems
    where = (Path(problem.path or "").name, problem.line, problem.field)
    assert where == ("cn.yaml", 5, "years.2026.working_days.春节")


def test_a_calendar_file_is_part_of_the_policy_hash_and_the_reload_content_hash(tmp_path: Path) -> None:
    policy_dir = write_mini_policy(tmp_path / "p")
    shutil.copytree(SEED / "calendars", policy_dir / "calendars")
    before, before_content = load_policy(policy_dir).hash, content_hash(policy_dir)
    cn = policy_dir / "calendars" / "cn.yaml"
    cn.write_text(cn.read_text(encoding="utf-8").replace("中秋节: 2026-09-25 to 2026-09-27",
                                                         "中秋节: 2026-09-25 to 2026-09-26"), encoding="utf-8")
    after = load_policy(policy_dir)
    assert after.calendars["cn"].is_business_day(date(2026, 9, 27)) is False  # still a Sunday
    assert date(2026, 9, 27) not in after.calendars["cn"].holidays
    assert after.hash != before
    assert content_hash(policy_dir) != before_content


def test_calendar_files_count_toward_the_policys_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from salesgate.policy import compiler

    policy_dir = write_mini_policy(tmp_path / "p")
    size = sum(p.stat().st_size for p in policy_dir.glob("*.yaml"))
    monkeypatch.setattr(compiler, "MAX_POLICY_BYTES", size + 10)
    load_policy(policy_dir)
    shutil.copytree(SEED / "calendars", policy_dir / "calendars")
    with pytest.raises(PolicyError, match="the most a policy may hold"):
        load_policy(policy_dir)


# -- the shipped calendar against a maintained package --------------------------------------------------


def test_the_shipped_chinese_calendar_agrees_day_by_day_with_the_holidays_package(cn: Calendar) -> None:
    """Every day of every year ``cn.yaml`` covers is a business day there exactly when the ``holidays``
    package (State Council notices, maintained upstream) says it is a working day; every 调休 working
    day is one of the package's weekend working days and the other way round; every weekday the file
    calls a holiday is one of the package's holidays."""
    assert cn.years >= {2025, 2026}
    for year in sorted(cn.years):
        official = holidays.China(years=year, language="zh_CN")
        days = [date(year, 1, 1) + timedelta(k) for k in range(366) if (date(year, 1, 1) + timedelta(k)).year == year]
        wrong = [cn.describe(d) for d in days if cn.is_business_day(d) is not official.is_working_day(d)]
        assert wrong == [], f"{year}: cn.yaml and the holidays package disagree on {wrong}"
        assert {d for d in cn.working_days if d.year == year} == {d for d in official.weekend_workdays
                                                                   if d.year == year}
        weekday_holidays = {d for d in cn.holidays if d.year == year and d.weekday() < 5}
        assert weekday_holidays == {d for d in official if d.year == year and d.weekday() < 5}


# -- salesgate calendar import CN -------------------------------------------------------------------------


def test_importing_cn_from_the_package_writes_the_shipped_calendars_days(tmp_path: Path, cn: Calendar) -> None:
    out = tmp_path / "calendars" / "cn.yaml"
    out.parent.mkdir()
    result = CliRunner().invoke(cli, ["calendar", "import", "CN", "--years", "2024-2026", "-o", str(out)])
    assert result.exit_code == 0, result.output
    problems: list[str] = []
    written = load_calendars(tmp_path, lambda message, *a, **k: problems.append(message), lambda _: None)["cn"]
    assert problems == []
    assert written.years == cn.years
    assert written.holidays.keys() == cn.holidays.keys()
    assert written.working_days.keys() == cn.working_days.keys()
    assert written.holidays[date(2026, 2, 16)] == "春节"
    assert written.working_days[date(2026, 9, 20)] == "国庆节"  # the day off it was moved to is in 国庆节


def test_importing_a_year_whose_notice_the_package_lacks_is_refused_not_estimated() -> None:
    result = CliRunner().invoke(cli, ["calendar", "import", "CN", "--years", "2026-2027"])
    assert result.exit_code == 2
    assert f"error: holidays {holidays.__version__} holds no State Council notice for 2027" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["calendar", "import", "DE", "--years", "2026"], "salesgate imports CN (the Chinese mainland"),
    (["calendar", "import", "CN", "--years", "26"], "'26': write a year (2026) or a range of years (2025-2027)"),
    (["calendar", "import", "CN", "--years", "2026-2025"], "the years run from the first to the last"),
])
def test_calendar_import_refuses_what_it_cannot_write(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert message in result.output


def test_calendar_import_without_the_holidays_package_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def without_holidays(name: str, *args: Any) -> Any:
        if name == "holidays":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_holidays)
    result = CliRunner().invoke(cli, ["calendar", "import", "CN", "--years", "2026"])
    assert result.exit_code == 2
    assert "error: the holidays package is not installed: pip install holidays" in result.output
