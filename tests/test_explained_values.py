"""Explanations that say why a value is what it is (docs/policy-language.md, "Business days and holiday
calendars", "Lookup tables"): a business day decided by the calendar names the holiday or the 调休 working
day; a rate from a lookup column typed ``percent`` reads 10%, not 0.10; on both backends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fixtures.language_docs import POLICY_YAML, section, section_examples, write_rules
from salesgate import Gate, seed_policy_path

BACKENDS = ["python", "durable", "compiled"]
CN_YAML = (Path(seed_policy_path()) / "calendars" / "cn.yaml").read_text(encoding="utf-8")
WITH_CN = {"policy.yaml": POLICY_YAML + "calendar: cn\n", "calendars/cn.yaml": CN_YAML}
TABLE = "region:text,limit:money,markup:percent\n华东,200000,12.5%\n西北,50000,\n"


def explanations(root: Path, facts: dict, backend: str) -> dict[str, tuple[bool, str | None]]:
    with Gate.from_path(root, backend=backend, entry_points=False) as gate:  # type: ignore[arg-type]
        decision = gate.decide("order_approval", facts, explain=True)
    return {t.rule: (t.fired, t.explanation) for t in decision.trace}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("day", "fired", "why"), [
    ("2026-02-16", True, "is false: 2026-02-16 周一 放假 (春节)"),
    ("2026-02-14", False, "is true: 2026-02-14 周六 调休上班 (春节)"),
    ("2026-03-07", True, "is false: 2026-03-07 周六 周末"),
    ("2026-03-09", False, "is true: 2026-03-09 周一 工作日"),
])
def test_a_business_day_explanation_names_the_holiday_or_the_working_weekend(tmp_path: Path, backend: str, day: str,
                                                                            fired: bool, why: str) -> None:
    facts, _ = section_examples("Functions")
    facts["order"]["order_date"] = day
    root = write_rules(tmp_path / "policy", ["not is_business_day(order.order_date)"], files=WITH_CN)
    assert explanations(root, facts, backend) == {"r0": (fired, f"is_business_day(order.order_date) {why}")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_day_outside_the_calendar_is_missing_and_the_explanation_says_why(tmp_path: Path, backend: str) -> None:
    facts, _ = section_examples("Functions")
    facts["order"]["order_date"] = "2027-01-04"
    root = write_rules(tmp_path / "policy", ["is_business_day(order.order_date)"], files=WITH_CN)
    assert explanations(root, facts, backend) == {"r0": (False, (
        "is_business_day(order.order_date) (2027-01-04 周一: 2027 is not in calendar cn) is missing, so "
        "'is_business_day(order.order_date) == true' is false"))}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rate_from_a_percent_column_is_explained_as_a_percent_and_money_as_money(tmp_path: Path,
                                                                                 backend: str) -> None:
    facts, _ = section_examples("Functions")  # customer in 华东
    root = write_rules(tmp_path / "policy", [
        'lookup("region_limits", customer.region, "markup") > 10%',
        'lookup("region_limits", customer.region, "markup") > 15%',
        'lookup("region_limits", customer.region, "markup") != None',
        'lookup("region_limits", customer.region, "limit") > 100000',
    ], files={"data/region_limits.csv": TABLE})
    assert explanations(root, facts, backend) == {
        "r0": (True, 'lookup("region_limits", customer.region, "markup") is 12.5%, > 10%'),
        "r1": (False, 'lookup("region_limits", customer.region, "markup") is 12.5%, not > 15%'),
        "r2": (True, 'lookup("region_limits", customer.region, "markup") is 12.5%'),
        "r3": (True, 'lookup("region_limits", customer.region, "limit") is 200,000, > 100,000'),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_documented_percent_explanation_is_what_the_documented_table_gives(tmp_path: Path, backend: str) -> None:
    body = section("Lookup tables: `lookup`")
    table = re.search(r"```\ndata/region_limits.csv\n(.*?)```", body, re.DOTALL)
    quoted = re.search(r"\*(lookup\(\"region_limits\", customer.region, \"markup\"\) is 10%, > 5%)\*", body)
    assert table is not None
    assert quoted is not None
    facts, _ = section_examples("Functions")
    root = write_rules(tmp_path / "policy", ['lookup("region_limits", customer.region, "markup") > 5%'],
                       files={"data/region_limits.csv": table.group(1)})
    assert explanations(root, facts, backend) == {"r0": (True, quoted.group(1))}
