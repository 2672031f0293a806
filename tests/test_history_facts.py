"""History facts: declared once with a window, computed by the adapter's parameterised SQL (or sent by the
caller), read by rules like any fact — on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures.databases import KINDS, ScratchDatabase, isolated_database
from salesgate import Gate, Outcome, PolicyError, load_policy
from salesgate.documents import FieldType
from salesgate.history import HistoryFact, history_keys
from salesgate.hookspecs import hookimpl
from salesgate.models import Customer
from salesgate.windows import Window, WindowError, parse_window
from salesgate_adapters.sql import SqlAdapter
from salesgate_adapters.sql.mapping import MappingError, load_mapping

AS_OF = date(2026, 1, 10)  # a Saturday in the first quarter: "4 quarters" is 2025, "90 days" crosses the year


# -- windows ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "as_of", "start", "end"), [
    ("90 days", date(2026, 1, 10), date(2025, 10, 12), date(2026, 1, 10)),
    ("1 day", date(2026, 1, 1), date(2025, 12, 31), date(2026, 1, 1)),
    ("4 quarters", date(2026, 1, 10), date(2025, 1, 1), date(2026, 1, 1)),
    ("4 quarters", date(2026, 3, 31), date(2025, 1, 1), date(2026, 1, 1)),
    ("4 quarters", date(2026, 4, 1), date(2025, 4, 1), date(2026, 4, 1)),
    ("1 quarter", date(2026, 12, 31), date(2026, 7, 1), date(2026, 10, 1)),
    ("12 months", date(2026, 1, 10), date(2025, 1, 1), date(2026, 1, 1)),
    ("1 month", date(2024, 3, 31), date(2024, 2, 1), date(2024, 3, 1)),
    ("2 years", date(2026, 6, 30), date(2024, 1, 1), date(2026, 1, 1)),
    ("1 week", date(2026, 1, 1), date(2025, 12, 22), date(2025, 12, 29)),  # Thursday: the week before began Monday
    ("this week", date(2026, 1, 1), date(2025, 12, 29), date(2026, 1, 2)),
    ("this month", date(2026, 2, 28), date(2026, 2, 1), date(2026, 3, 1)),
    ("this quarter", date(2026, 8, 15), date(2026, 7, 1), date(2026, 8, 16)),
    ("this year", date(2026, 12, 31), date(2026, 1, 1), date(2027, 1, 1)),
    ("all", date(2026, 1, 10), date(1900, 1, 1), date(2026, 1, 11)),
])
def test_a_window_is_exact_whole_periods_before_the_as_of_date(written: str, as_of: date, start: date,
                                                               end: date) -> None:
    assert parse_window(written).bounds(as_of) == (start, end)


@pytest.mark.parametrize("written", ["all", "this month", "this year", "90 days", "1000 years", "1000 weeks",
                                     "4 quarters", "最近 4 个季度"])
@pytest.mark.parametrize("as_of", [date.min, date(1, 3, 1), date(9999, 12, 31), date(9999, 12, 30)])
def test_a_window_at_either_end_of_the_calendar_stops_there_instead_of_failing(written: str, as_of: date) -> None:
    # A decision as of 9999-12-31 (or 0001-01-01) with an 'all' or a '1000 years' window overflowed
    # datetime.date and failed the decision (simulate printed a traceback): the window now stops at the
    # calendar's first or last day.
    start, end = parse_window(written).bounds(as_of)
    assert date.min <= start <= end <= date.max
    assert end <= (as_of + timedelta(days=1) if as_of < date.max else date.max)  # never past the as-of date


@pytest.mark.parametrize(("written", "same"), [
    ("90 天", "90 days"), ("最近 4 个季度", "4 quarters"), ("12个月", "12 months"), ("本月", "this month"),
    ("本季度", "this quarter"), ("全部", "all"), ("  4   Quarters ", "4 quarters"), ("1 months", "1 month"),
])
def test_a_window_reads_in_chinese_and_english_alike(written: str, same: str) -> None:
    assert parse_window(written) == parse_window(same)
    assert str(parse_window(written)) == str(parse_window(same))


@pytest.mark.parametrize(("written", "says"), [
    ("ninety days", "cannot read the window 'ninety days': write it like 90 days, 4 quarters"),
    ("3 fortnights", "'fortnight' is not a unit of a window: use days, weeks, months, quarters or years"),
    ("0 months", "a window of 0 months holds nothing: write at least 1 month"),
    ("this day", "'this day' is today, which has not ended"),
    ("5000 days", "goes back too far: write at most 1000, or all"),
    ("", "a window is written like 90 days"),
])
def test_a_window_that_cannot_be_read_says_what_to_write(written: str, says: str) -> None:
    with pytest.raises(WindowError) as info:
        parse_window(written)
    assert says in str(info.value)


def test_history_keys_are_the_documents_values_and_its_id_by_the_documents_name() -> None:
    keys = history_keys("customer", {"id": "C1", "name": "华东", "credit_limit": Decimal(5), "lines": [1]})
    assert keys == {"id": "C1", "name": "华东", "credit_limit": Decimal(5), "customer_id": "C1"}


# -- declaring -------------------------------------------------------------------------------------------------


POLICY_YAML = """\
name: history-test
version: "1"
roles: [sales_manager, general_manager]
facts:
  customer.sales_last_4_quarters:
    type: money
    window: 4 quarters
    description: {zh: 近四个季度销售额, en: Sales over the last four whole quarters}
  customer.orders_this_month:
    type: integer
    window: this month
    description: {zh: 本月订单数, en: Orders this month so far}
  customer.sales_last_90_days:
    type: money
    window: 90 天
    description: {zh: 近 90 天销售额, en: Sales over the 90 days before today}
  customer.days_since_last_follow_up:
    type: integer
    window: all
    description: {zh: 距上次跟进的天数, en: Days since the customer was last followed up}
"""

RULES_YAML = """\
ruleset: history
hook: order_approval
version: "1"
rules:
  - id: channel-stuffing
    description: An order above half of the last four quarters' sales (twice a quarter's average).
    when: customer.sales_last_4_quarters > 0 and order.total > customer.sales_last_4_quarters * 50%
    then:
      require: [general_manager]
      message: {zh: 订单远超近期平均销量, en: Order far above the customer's recent average}
  - id: busy-month
    description: A third order this month.
    when: customer.orders_this_month >= 2
    then:
      warn: {zh: 本月第三单, en: Third order this month}
  - id: not-followed-up
    description: A customer not followed up for more than 30 days.
    when: customer.days_since_last_follow_up > 30
    then:
      warn: {zh: 超过 30 天未跟进, en: Not followed up for more than 30 days}
  - id: quiet-quarter
    description: No sales in the last 90 days.
    when: customer.sales_last_90_days == 0
    then:
      warn: {zh: 90 天无销售, en: No sales in 90 days}
"""


def write_policy(tmp_path: Path, policy_yaml: str = POLICY_YAML, rules: str = RULES_YAML) -> Path:
    folder = tmp_path / "policy"
    folder.mkdir(exist_ok=True)
    (folder / "policy.yaml").write_text(policy_yaml, encoding="utf-8")
    (folder / "history.yaml").write_text(rules, encoding="utf-8")
    return folder


def test_a_history_fact_is_declared_once_and_read_like_any_fact(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    spec = policy.points["order_approval"]
    assert [(f.path, f.type, str(f.window)) for f in spec.history] == [
        ("customer.sales_last_4_quarters", FieldType.money, "4 quarters"),
        ("customer.orders_this_month", FieldType.integer, "this month"),
        ("customer.sales_last_90_days", FieldType.money, "90 days"),
        ("customer.days_since_last_follow_up", FieldType.integer, "all"),
    ]
    assert "customer.sales_last_4_quarters" in policy.vocabulary["order_approval"]
    assert policy.points["return_handling"].history[0].path == "customer.sales_last_4_quarters"


@pytest.mark.parametrize(("declared", "says", "line"), [
    ("  customer.sales:\n    type: money\n    window: ninety days\n    description: {zh: 销售额, en: Sales}\n",
     "field 'facts.customer.sales.window': cannot read the window 'ninety days': write it like 90 days", 7),
    ("  customer.sales:\n    type: text\n    window: 90 days\n    description: {zh: 销售额, en: Sales}\n",
     "a history fact (window:) is money, integer, number, percent or date; this one is text", 7),
    ("  line.sold_before:\n    type: integer\n    window: 90 days\n    description: {zh: 已售, en: Sold}\n",
     "a history fact (window:) is a fact of the customer or the order", 7),
])
def test_a_history_fact_that_cannot_be_one_is_refused_at_its_line(tmp_path: Path, declared: str, says: str,
                                                                 line: int) -> None:
    head = POLICY_YAML.split("facts:\n")[0] + "facts:\n"
    with pytest.raises(PolicyError) as info:
        load_policy(write_policy(tmp_path, head + declared, RULES_YAML.split("  - id:")[0] + textwrap.dedent("""\
              - id: any
                description: any
                when: order.total > 1
                then: {warn: {zh: 大, en: big}}
            """)))
    message = str(info.value)
    assert says in message
    assert f"policy.yaml:{line}" in message


def test_a_history_fact_on_a_list_element_of_a_declared_point_is_refused(tmp_path: Path) -> None:
    folder = write_policy(tmp_path, POLICY_YAML.split("facts:\n")[0], "")
    (folder / "history.yaml").unlink()
    (folder / "points").mkdir()
    (folder / "points" / "visit_plan.yaml").write_text(textwrap.dedent("""\
        point: visit_plan
        title: {zh: 拜访计划, en: Visit plan}
        description: {zh: 拜访计划, en: A visit plan}
        document: visits
        fields:
          id: {type: text, description: {zh: 编号, en: Number}}
          rep: {type: text, description: {zh: 销售人员, en: Rep}}
          rep_visits_last_month: {type: integer, window: 1 month, description: {zh: 上月拜访, en: Visits last month}}
          lines:
            type: list
            element: line
            description: {zh: 行, en: Lines}
            fields:
              visits_before: {type: integer, window: 90 days, description: {zh: 已拜访, en: Visited}}
        """), encoding="utf-8")
    (folder / "visits.yaml").write_text("ruleset: v\nhook: visit_plan\nversion: '1'\nrules:\n  - id: few\n"
                                        "    description: few\n    when: visits.rep_visits_last_month < 40\n"
                                        "    then: {warn: {zh: 少, en: few}}\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(folder)
    assert "visit_plan.yaml:14" in str(info.value)
    assert "a history fact (window:) is a fact of the whole document, not of each element of a list: declare it " \
           "beside the list" in str(info.value)


# -- computing: the sql adapter ----------------------------------------------------------------------------------

MAPPING = """\
mapping: history-test
timezone: Asia/Shanghai
facts:
  customer:
    table: customers
    key: id
    columns: {id: id, name: name, credit_limit: credit_limit}
history:
  customer.sales_last_4_quarters:
    query: >-
      SELECT COALESCE(SUM(total), 0) FROM sales_orders
      WHERE customer_id = :customer_id AND order_date >= :from AND order_date < :until
  customer.orders_this_month:
    query: >-
      SELECT COUNT(*) FROM sales_orders
      WHERE customer_id = :customer_id AND order_date >= :from AND order_date < :until
  customer.sales_last_90_days:
    query: >-
      SELECT COALESCE(SUM(total), 0) FROM sales_orders
      WHERE customer_id = :customer_id AND order_date >= :from AND order_date < :until
  customer.days_since_last_follow_up:
    query: >-
      SELECT MAX(followed_at) FROM follow_ups WHERE customer_id = :customer_id AND followed_at < :until
"""

metadata = sa.MetaData()
customers = sa.Table("customers", metadata, sa.Column("id", sa.String(16), primary_key=True),
                     sa.Column("name", sa.String(100)), sa.Column("credit_limit", sa.Numeric(18, 4)),
                     mysql_charset="utf8mb4")
sales_orders = sa.Table("sales_orders", metadata, sa.Column("id", sa.String(16), primary_key=True),
                        sa.Column("customer_id", sa.String(16)), sa.Column("order_date", sa.Date),
                        sa.Column("total", sa.Numeric(18, 4)), mysql_charset="utf8mb4")
follow_ups = sa.Table("follow_ups", metadata, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("customer_id", sa.String(16)), sa.Column("followed_at", sa.DateTime),
                      mysql_charset="utf8mb4")


def fill(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(customers.insert(), [
            {"id": "C1", "name": "华东机电有限公司", "credit_limit": Decimal("500000")},
            {"id": "C2", "name": "新客户（无历史）", "credit_limit": Decimal("100000")},
        ])
        connection.execute(sales_orders.insert(), [
            # 2024's last day and 2026's first days are outside "4 quarters" (2025) for 2026-01-10
            {"id": "S0", "customer_id": "C1", "order_date": date(2024, 12, 31), "total": Decimal("99999")},
            {"id": "S1", "customer_id": "C1", "order_date": date(2025, 1, 1), "total": Decimal("10000.50")},
            {"id": "S2", "customer_id": "C1", "order_date": date(2025, 12, 31), "total": Decimal("9999.50")},
            {"id": "S3", "customer_id": "C1", "order_date": date(2026, 1, 2), "total": Decimal("500")},
            {"id": "S4", "customer_id": "C1", "order_date": date(2026, 1, 9), "total": Decimal("700")},
            {"id": "S5", "customer_id": "C1", "order_date": date(2026, 1, 10), "total": Decimal("800")},
        ])
        # stored without a zone, in the company's (Asia/Shanghai): 2025-12-01 09:00 is 40 days before AS_OF
        connection.execute(follow_ups.insert(), [
            {"id": 1, "customer_id": "C1", "followed_at": datetime(2025, 11, 20, 15, 0)},
            {"id": 2, "customer_id": "C1", "followed_at": datetime(2025, 12, 1, 9, 0)},
        ])


@pytest.fixture(params=KINDS)
def erp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScratchDatabase]:
    with isolated_database(request.param, tmp_path) as db:
        fill(db.engine)
        yield db


def adapter_on(db: ScratchDatabase, tmp_path: Path, mapping: str = MAPPING, **options: Any) -> SqlAdapter:
    path = tmp_path / "mapping.yaml"
    path.write_text(mapping, encoding="utf-8")
    return SqlAdapter(db.url, mapping=path, today=AS_OF, **options)


def order(customer_id: str, total: str) -> dict[str, Any]:
    return {"order": {"id": "SO-NEW", "customer_id": customer_id, "order_date": AS_OF.isoformat(),
                      "lines": [{"line_no": 1, "sku": "X", "qty": 1, "unit_price": total}]},
            "products": [{"sku": "X", "list_price": total, "cost": "1", "stock": 10}], "exposure": {}}


def test_the_adapter_computes_each_window_for_the_as_of_date(erp: ScratchDatabase, tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    adapter = adapter_on(erp, tmp_path)
    facts = Gate(policy, backend="python", entry_points=False, plugins=[adapter]).facts_for(
        "order_approval", order("C1", "12000"))
    assert facts.customer.name == "华东机电有限公司"
    assert facts.customer.sales_last_4_quarters == Decimal("20000")  # 2025 only: S1 + S2, across the year's ends
    assert facts.customer.orders_this_month == 3  # S3, S4 and today's S5
    assert facts.customer.sales_last_90_days == Decimal("11199.5")  # S2, S3, S4: not today's S5, not S1
    assert facts.customer.days_since_last_follow_up == 40
    adapter.close()


def test_rules_read_history_facts_on_every_backend(erp: ScratchDatabase, tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    adapter = adapter_on(erp, tmp_path)
    for backend in ("python", "durable"):
        gate = Gate(policy, backend=backend, entry_points=False, plugins=[adapter])
        decision = gate.approve_order(order("C1", "12000"), explain=True)
        assert {r.rule for r in decision.reasons} == {"channel-stuffing", "busy-month", "not-followed-up"}, backend
        assert decision.outcome is Outcome.require_approval
        calm = gate.approve_order(order("C1", "9000"))
        assert "channel-stuffing" not in {r.rule for r in calm.reasons}
    adapter.close()


def test_an_empty_history_is_zero_sums_and_missing_dates(erp: ScratchDatabase, tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    adapter = adapter_on(erp, tmp_path)
    gate = Gate(policy, backend="durable", entry_points=False, plugins=[adapter])
    facts = gate.facts_for("order_approval", order("C2", "50000"))
    assert (facts.customer.sales_last_4_quarters, facts.customer.orders_this_month) == (Decimal(0), 0)
    assert facts.customer.days_since_last_follow_up is None  # never followed up: missing, not 0
    decision = gate.approve_order(order("C2", "50000"))
    # no sales: no average to exceed; a missing day count compares false
    assert {r.rule for r in decision.reasons} == {"quiet-quarter"}
    adapter.close()


def test_a_value_the_caller_sends_wins_over_the_adapters(erp: ScratchDatabase, tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    adapter = adapter_on(erp, tmp_path)
    gate = Gate(policy, backend="python", entry_points=False, plugins=[adapter])
    facts = order("C1", "12000")
    facts["customer"] = {"id": "C1", "name": "华东机电有限公司", "sales_last_4_quarters": "1000000",
                         "days_since_last_follow_up": None}
    completed = gate.facts_for("order_approval", facts)
    assert completed.customer.sales_last_4_quarters == Decimal("1000000")
    assert completed.customer.days_since_last_follow_up is None  # sent as null: missing, not asked for
    assert completed.customer.orders_this_month == 3  # not sent: computed
    adapter.close()


def test_a_history_fact_nobody_computes_is_missing(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    gate = Gate(policy, backend="python", entry_points=False)
    facts = order("C1", "12000")
    facts["customer"] = {"id": "C1", "name": "华东"}
    decision = gate.approve_order(facts)
    assert decision.outcome is Outcome.allow
    assert not {r.rule for r in decision.reasons} & {"channel-stuffing", "busy-month", "not-followed-up",
                                                      "quiet-quarter"}
    assert gate.facts_for("order_approval", facts).customer.sales_last_4_quarters is None


def test_an_adapter_is_given_the_as_of_date_it_is_asked_for(erp: ScratchDatabase, tmp_path: Path) -> None:
    adapter = adapter_on(erp, tmp_path)
    fact = HistoryFact("customer", "sales_last_4_quarters", FieldType.money, parse_window("4 quarters"))
    keys = {"id": "C1", "customer_id": "C1"}
    assert adapter.salesgate_load_history(document="customer", keys=keys, facts=[fact],
                                          as_of=date(2025, 4, 1)) == {"sales_last_4_quarters": Decimal("109999.5")}
    other = HistoryFact("customer", "unmapped", FieldType.money, parse_window("all"))
    assert adapter.salesgate_load_history(document="customer", keys=keys, facts=[other], as_of=None) is None
    adapter.close()


def test_a_decisions_as_of_date_is_the_day_its_history_windows_are_computed_for(erp: ScratchDatabase,
                                                                               tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    adapter = adapter_on(erp, tmp_path)  # its own today: AS_OF (2026-01-10)
    gate = Gate(policy, backend="python", entry_points=False, plugins=[adapter])
    # as of 2025-04-01 the four quarters are 2024-Q2..2025-Q1: S0 and S1, not 2025's later sales
    earlier = gate.facts_for("order_approval", order("C1", "12000"), as_of=date(2025, 4, 1))
    assert earlier.customer.sales_last_4_quarters == Decimal("109999.5")
    for backend in ("python", "durable"):
        decided = Gate(policy, backend=backend, entry_points=False, plugins=[adapter])
        # 12000 is above half of the 20000 of 2025 (the four quarters before the adapter's today), not above
        # half of the 109999.5 of the four quarters before 2025-04-01
        assert "channel-stuffing" in {r.rule for r in decided.approve_order(order("C1", "12000")).reasons}, backend
        then = decided.approve_order(order("C1", "12000"), as_of=date(2025, 4, 1))
        assert then.as_of == date(2025, 4, 1)
        assert "channel-stuffing" not in {r.rule for r in then.reasons}, backend
        # a gate's today is a chosen day too: every decision's windows end there
        fixed = Gate(policy, backend=backend, entry_points=False, plugins=[adapter], today=date(2025, 4, 1))
        assert "channel-stuffing" not in {r.rule for r in fixed.approve_order(order("C1", "12000")).reasons}, backend
    adapter.close()


def test_the_history_hook_is_given_the_as_of_date_every_data_hook_is_given(tmp_path: Path) -> None:
    seen: dict[str, list[date | None]] = {"customer": [], "history": []}

    class Recording:
        @hookimpl
        def salesgate_load_customer(self, customer_id: str, as_of: date | None) -> Customer:
            seen["customer"].append(as_of)
            return Customer(id=customer_id, name="华东机电有限公司")

        @hookimpl
        def salesgate_load_history(self, document: str, keys: dict[str, Any], facts: list[HistoryFact],
                                   as_of: date | None) -> dict[str, Any]:
            seen["history"].append(as_of)
            return {}

    policy = load_policy(write_policy(tmp_path))
    clock = Gate(policy, backend="python", entry_points=False, plugins=[Recording()])
    facts = order("C1", "1")
    clock.approve_order(facts)  # the clock's day: None, each adapter counts to its own today
    clock.approve_order(facts, as_of=date(2025, 4, 1))
    clock.facts_for("order_approval", facts, as_of=date(2025, 5, 1))
    fixed = Gate(policy, backend="python", entry_points=False, plugins=[Recording()], today=date(2025, 6, 1))
    fixed.approve_order(facts)
    fixed.facts_for("order_approval", facts)
    days = [None, date(2025, 4, 1), date(2025, 5, 1), date(2025, 6, 1), date(2025, 6, 1)]
    assert seen == {"customer": days, "history": days}


def test_a_failing_history_query_gets_the_failure_mode_with_the_reason(erp: ScratchDatabase, tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    broken = MAPPING.replace("FROM follow_ups", "FROM follow_ups_gone")
    adapter = adapter_on(erp, tmp_path, broken)
    decision = Gate(policy, backend="python", entry_points=False, plugins=[adapter]).approve_order(order("C1", "1"))
    assert decision.outcome is Outcome.block  # failure_mode: closed
    reason = " ".join(str(r.message) for r in decision.reasons)
    assert "history facts" in reason
    assert "customer.days_since_last_follow_up" in reason
    assert "mapping.yaml:" in reason
    assert "follow_ups_gone" in reason
    adapter.close()


SLOW = {
    "sqlite": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000000) "
              "SELECT COUNT(*) FROM n WHERE :customer_id = :customer_id AND :from < :until",
    "postgresql": "SELECT COUNT(*) FROM (SELECT pg_sleep(5)) s WHERE :customer_id = :customer_id "
                  "AND :from < :until",
    "mariadb": "SELECT COUNT(*) FROM (SELECT SLEEP(5) AS s) s WHERE :customer_id = :customer_id AND :from < :until",
}


def test_a_slow_history_query_is_cut_off_and_answered_by_the_failure_mode(erp: ScratchDatabase,
                                                                          tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, POLICY_YAML.replace("failure_mode", "x") + "failure_mode: open\n"))
    slow = MAPPING.split("history:")[0] + "history:\n  customer.orders_this_month:\n    query: \"" + \
        SLOW[erp.kind] + "\"\n"
    adapter = adapter_on(erp, tmp_path, slow, timeout=0.5)
    started = time.monotonic()
    decision = Gate(policy, backend="python", entry_points=False, plugins=[adapter]).approve_order(order("C1", "1"))
    assert time.monotonic() - started < 3
    assert decision.outcome is Outcome.warn  # failure_mode: open lets it through with the reason as a warning
    reason = " ".join(str(r.message) for r in decision.reasons)
    assert "customer.orders_this_month" in reason
    adapter.close()


# -- the mapping's checks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("history", "says"), [
    ("  customer.sales:\n    query: SELECT 1 FROM t WHERE c = :custmer_id\n",
     "unknown parameter :custmer_id; a customer history query is given :from, :until, :from_time, :until_time, "
     ":today and the customer's fields (:customer_id, …) (did you mean 'customer_id'?)"),
    ("  customer.sales:\n    query: SELECT SUM(x) FROM t WHERE d >= :from\n",
     "the query uses no field of the customer (such as :customer_id)"),
    ("  customer.sales:\n    query: DELETE FROM t WHERE c = :customer_id\n", "a query must be a SELECT"),
    ("  sales:\n    query: SELECT 1 WHERE :customer_id = 1\n", "name a history fact as the policy does"),
    ("  customer.sales:\n    sql: SELECT 1\n", "unknown field; expected one of: query"),
])
def test_a_history_query_the_mapping_cannot_run_is_refused_at_its_line(tmp_path: Path, history: str,
                                                                       says: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(f"mapping: m\nhistory:\n{history}", encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert says in str(info.value)
    assert f"{path}:" in str(info.value)


def test_the_adapter_is_asked_only_for_the_history_facts_the_caller_did_not_send(tmp_path: Path) -> None:
    calls: list[str] = []

    class Recording:
        @hookimpl
        def salesgate_load_history(self, document: str, keys: dict[str, Any], facts: list[HistoryFact],
                                   as_of: date | None) -> dict[str, Any]:
            calls.extend(f.path for f in facts)
            return {f.name: 1 for f in facts}

    policy = load_policy(write_policy(tmp_path))
    gate = Gate(policy, backend="python", entry_points=False, plugins=[Recording()])
    facts = order("C1", "1")
    facts["customer"] = {"id": "C1", "name": "x", "sales_last_90_days": "0"}
    gate.approve_order(facts)
    assert sorted(calls) == ["customer.days_since_last_follow_up", "customer.orders_this_month",
                             "customer.sales_last_4_quarters"]


def test_a_window_is_a_value_saying_how_it_was_meant() -> None:
    assert parse_window("4 Quarters") == Window(4, "quarter", "4 quarters")
    assert parse_window("全部") == Window(0, None, "all")


# -- the docs' example -----------------------------------------------------------------------------------------


def test_the_history_facts_example_in_the_policy_language_docs_loads_tests_and_decides(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from salesgate.cli import cli
    from salesgate_adapters import MemoryAdapter

    docs = (Path(__file__).resolve().parents[1] / "docs" / "policy-language.md").read_text(encoding="utf-8")
    section = docs.split("## History facts", 1)[1].split("\n## ", 1)[0].split("\n### Worked example", 1)[0]
    folder = tmp_path / "history-example"
    (folder / "tests").mkdir(parents=True)
    for block in section.split("```yaml\n")[1:]:
        text = block.split("```", 1)[0]
        name = text.splitlines()[0].removeprefix("# ").strip()
        (folder / name).write_text(text, encoding="utf-8")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.yaml")) == [
        "policy.yaml", "stuffing.yaml", "tests/stuffing.yaml"]
    for backend in ("python", "durable"):
        tested = CliRunner().invoke(cli, ["test", str(folder), "--backend", backend])
        assert tested.exit_code == 0, tested.output
        assert "4 passed" in tested.output
    # the ERP's side: an adapter computes what the caller leaves out, for the window of the decision's date
    books = MemoryAdapter({"history": {
        "customer.sales_last_4_quarters": {"measure": "sum", "key": "customer_id", "events": [
            {"key": "C1", "on": "2025-09-30", "value": "50000"}, {"key": "C1", "on": "2025-10-01", "value": "9000"},
            {"key": "C1", "on": "2026-09-30", "value": "9000"}, {"key": "C1", "on": "2026-10-01", "value": "50000"}]},
        "customer.days_since_last_order": {"measure": "days_since", "key": "customer_id", "events": [
            {"key": "C1", "on": "2026-05-01"}]},
    }}, today=date(2026, 11, 2))
    gate = Gate.from_path(folder, backend="durable", plugins=[books], entry_points=False)
    decision = gate.approve_order({
        "customer": {"id": "C1", "name": "华东机电有限公司"},
        "products": [{"sku": "P1", "list_price": 100, "cost": 60, "stock": 100}],
        "order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-02",
                  "lines": [{"line_no": 1, "sku": "P1", "qty": 100, "unit_price": 100}]}})
    assert sorted(decision.fired) == ["channel-stuffing", "dormant-customer"]  # 10,000 > 18,000 / 2; 185 days


@pytest.mark.parametrize(("declared", "says"), [
    ("    type: money\n    window: 4 quarters\n    simulate: sum of order.qty\n",
     "field 'facts.customer.sales.simulate': 'order.qty' cannot be summed over the history's orders: sum an "
     "amount of the order, one of order.total"),
    ("    type: money\n    window: 4 quarters\n    simulate: average of order.total\n",
     "cannot read simulate: 'average of order.total': write sum of order.total, count of orders or days since "
     "last order"),
    ("    type: integer\n    window: 4 quarters\n    simulate: sum of order.total\n",
     "a sum is money or a number; this fact is integer: use count of orders, or type: money"),
    ("    type: money\n    window: 4 quarters\n    simulate: count of orders\n",
     "count of orders is a whole number; this fact is money: declare type: integer"),
    ("    type: money\n    simulate: sum of order.total\n",
     "simulate: says how a history fact is computed: declare its window: too"),
    ("    type: money\n    window: 4 quarters\n    required: true\n",
     "a declared fact is always optional"),
])
def test_a_history_fact_simulate_cannot_read_is_refused_in_plain_words(tmp_path: Path, declared: str,
                                                                        says: str) -> None:
    head = POLICY_YAML.split("facts:\n")[0] + "facts:\n  customer.sales:\n"
    with pytest.raises(PolicyError) as info:
        load_policy(write_policy(tmp_path, head + declared + "    description: {zh: 销售额, en: Sales}\n",
                                 RULES_YAML.split("  - id: busy-month")[0].replace(
                                     "customer.sales_last_4_quarters", "customer.other")))
    assert says in str(info.value)
    assert "policy.yaml:" in str(info.value)


def test_a_required_history_fact_of_a_declared_point_is_refused(tmp_path: Path) -> None:
    folder = write_policy(tmp_path, POLICY_YAML.split("facts:\n")[0], "")
    (folder / "history.yaml").unlink()
    (folder / "points").mkdir()
    (folder / "points" / "visit_plan.yaml").write_text(textwrap.dedent("""\
        point: visit_plan
        title: {zh: 拜访计划, en: Visit plan}
        description: {zh: 拜访计划, en: A visit plan}
        document: visits
        fields:
          id: {type: text, description: {zh: 编号, en: Number}}
          visits: {type: integer, window: 1 month, required: true, description: {zh: 上月拜访, en: Visits}}
        """), encoding="utf-8")
    (folder / "visits.yaml").write_text("ruleset: v\nhook: visit_plan\nversion: '1'\nrules:\n  - id: few\n"
                                        "    description: few\n    when: visits.visits < 40\n"
                                        "    then: {warn: {zh: 少, en: few}}\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(folder)
    assert "visit_plan.yaml:7" in str(info.value)
    assert "a history fact is always optional (computed when the ERP can, else missing): remove required" in str(
        info.value)


def test_explanations_show_the_history_fact_a_rule_read(erp: ScratchDatabase, tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    adapter = adapter_on(erp, tmp_path)
    for backend in ("python", "durable"):
        gate = Gate(policy, backend=backend, entry_points=False, plugins=[adapter])
        decision = gate.approve_order(order("C1", "12000"), explain=True)
        (entry,) = [e for e in decision.trace if e.rule == "channel-stuffing"]
        assert entry.fired
        assert entry.values["customer.sales_last_4_quarters"] == Decimal(20000), backend
        assert entry.explanation is not None
        assert "customer.sales_last_4_quarters" in entry.explanation, backend
    adapter.close()
