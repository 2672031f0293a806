"""Mapping files: the shipped ones read their ERP's real schema on every database; a broken one is
refused on load with every problem at file:line, field and did-you-mean.

The ERP schemas are fixtures (tests/fixtures/erp_schemas.py) with the real table and column names
and rows that must and must not count. Each runs on SQLite, and on PostgreSQL and MariaDB when their
servers answer (tests/fixtures/databases.py: skipped with the reason, failed under CI).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fixtures.databases import KINDS, ScratchDatabase, isolated_database
from fixtures.erp_schemas import FIXTURES, TODAY, ErpFixture
from salesgate import AdapterError, FactsError, Gate, Outcome, load_policy
from salesgate.models import ReturnFacts
from salesgate.policy.compiler import Policy
from salesgate.seed import seed_policy_path
from salesgate_adapters import MemoryAdapter
from salesgate_adapters.demo import AS_OF, load_demo_company, return_request
from salesgate_adapters.demo import erp as demo_erp
from salesgate_adapters.demo.erp import create_demo_erp, drop_demo_erp
from salesgate_adapters.sql import SHIPPED, MappingError, SqlAdapter, load_mapping
from salesgate_adapters.store import Store


@pytest.fixture(scope="module")
def seed() -> Policy:
    return load_policy(seed_policy_path())


@pytest.fixture(params=KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScratchDatabase]:
    with isolated_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture(params=sorted(FIXTURES))
def erp(request: pytest.FixtureRequest, database: ScratchDatabase) -> Iterator[tuple[ErpFixture, SqlAdapter]]:
    fixture = FIXTURES[request.param]()
    fixture.create(database.engine)
    adapter = SqlAdapter(database.url, mapping=fixture.mapping, today=TODAY)
    try:
        yield fixture, adapter
    finally:
        adapter.close()
        fixture.drop(database.engine)


# -- the shipped mappings on their ERP's schema -----------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_mapping_loads_and_declares_every_fact(name: str) -> None:
    mapping = load_mapping(name)
    assert mapping.name == name
    for fact in ("customer", "exposure", "products", "order", "order.lines", "delivery", "counted_orders"):
        assert mapping.plans(fact), f"{name}.yaml does not map {fact}"


def test_mapping_reads_the_customer_with_translated_values(erp: tuple[ErpFixture, SqlAdapter]) -> None:
    fixture, adapter = erp
    customer = adapter.salesgate_load_customer(customer_id=fixture.customer_id)
    assert customer is not None
    dumped = customer.model_dump(mode="json")  # enums as their values, Decimal as text
    expected = {k: str(v) if isinstance(v, Decimal) else v for k, v in fixture.customer.items()}
    assert {k: dumped[k] for k in expected} == expected
    blocked = adapter.salesgate_load_customer(customer_id=fixture.extra["blocked_customer"])
    assert blocked is not None
    assert blocked.status.value == "blocked"
    assert adapter.salesgate_load_customer(customer_id="999999") is None


def test_mapping_computes_exposure_counting_only_open_posted_documents(erp: tuple[ErpFixture, SqlAdapter]) -> None:
    fixture, adapter = erp
    exposure = adapter.salesgate_load_exposure(customer_id=fixture.customer_id)
    assert exposure is not None
    assert exposure.model_dump(include=set(fixture.exposure)) == fixture.exposure


def test_mapping_reads_products_with_price_cost_and_stock_in_own_warehouses(
    erp: tuple[ErpFixture, SqlAdapter],
) -> None:
    fixture, adapter = erp
    products = adapter.salesgate_load_products(skus=[*fixture.skus, "UNKNOWN"])
    assert products is not None
    assert [p.sku for p in products] == list(fixture.skus)
    for product in products:
        expected = fixture.products[product.sku]
        assert product.model_dump(include=set(expected)) == expected
    assert adapter.salesgate_load_products(skus=["UNKNOWN"]) is None


def test_mapping_reads_an_order_with_its_lines_in_order(erp: tuple[ErpFixture, SqlAdapter]) -> None:
    fixture, adapter = erp
    order = adapter.salesgate_load_order(order_id=fixture.order_id)
    assert order is not None
    assert order.customer_id == fixture.customer_id
    assert [line.line_no for line in order.lines] == [1, 2]
    assert [line.sku for line in order.lines] == list(fixture.skus)
    assert order.total == fixture.order_total
    assert order.order_date.isoformat() == "2026-11-02"
    assert order.created_at is not None
    assert order.created_at.tzinfo is not None
    assert adapter.salesgate_load_order(order_id="NO-SUCH-ORDER") is None


def test_mapping_reads_the_delivery_a_return_refers_to(erp: tuple[ErpFixture, SqlAdapter]) -> None:
    fixture, adapter = erp
    delivery = adapter.salesgate_load_delivery(order_id=fixture.delivery["order_id"], sku=fixture.delivery["sku"])
    assert delivery is not None
    assert delivery.model_dump() == fixture.delivery
    assert adapter.salesgate_load_delivery(order_id=fixture.order_id, sku=fixture.skus[0]) is None  # not delivered


# Which reserved orders each ERP has taken over: (customer, orders asked about, orders it counts).
COUNTED = {
    "erpnext": ("CUST-0001", ["SAL-ORD-0000", "SAL-ORD-0001", "SAL-ORD-0004", "SAL-ORD-0009", "SAL-ORD-0005",
                              "NO-SUCH-ORDER"], ["SAL-ORD-0000", "SAL-ORD-0009"]),  # submitted; not draft,
    "odoo": ("7", ["S00002", "S00001", "S00009", "S00005", "NO-SUCH-ORDER"], ["S00002", "S00009"]),  # cancelled,
}  # another customer's or unknown


def test_mapping_says_which_reserved_orders_the_erp_counts(erp: tuple[ErpFixture, SqlAdapter]) -> None:
    fixture, adapter = erp
    customer_id, asked, counted = COUNTED[fixture.mapping]
    assert adapter.salesgate_load_counted_orders(customer_id=customer_id, order_ids=asked) == counted
    assert adapter.salesgate_load_counted_orders(customer_id=customer_id, order_ids=[]) == []


def test_gate_decides_orders_by_id_through_the_mapping(erp: tuple[ErpFixture, SqlAdapter], seed: Policy) -> None:
    fixture, adapter = erp
    with Gate(seed, backend="python", entry_points=False, plugins=[adapter]) as gate:
        approval = gate.approve_order({"order": fixture.order_id})
        credit = gate.check_credit({"order": fixture.order_id})
        blocked = gate.approve_order({"order": fixture.blocked_order_id})
    assert approval.failure is None
    assert approval.required_roles == ["sales_manager", "general_manager"]
    assert credit.failure is None
    assert credit.credit is not None
    assert credit.credit.exposure == fixture.exposure["open_receivables"] + fixture.exposure["open_orders"] \
        + fixture.order_total
    assert credit.credit.max_overdue_days == fixture.exposure["max_overdue_days"]
    assert blocked.outcome is Outcome.block
    assert "blocked-customer" in blocked.fired


def test_gate_completes_a_return_from_the_erp_delivery(erp: tuple[ErpFixture, SqlAdapter], seed: Policy) -> None:
    fixture, adapter = erp
    delivery = fixture.delivery
    request = {"id": "RT-1", "customer_id": fixture.customer_id, "type": "return", "reason": "defect",
               "original_order_id": delivery["order_id"], "sku": delivery["sku"], "qty": 10,
               "requested_on": TODAY.isoformat()}
    with Gate(seed, backend="python", entry_points=False, plugins=[adapter]) as gate:
        facts = gate.facts_for("return_handling", {"return": request})
        decision = gate.handle_return({"return": request})
    assert isinstance(facts, ReturnFacts)
    assert facts.return_request.days_since_delivery == 12
    assert facts.return_request.unit_price == delivery["unit_price"]
    assert facts.return_request.returnable_qty == delivery["delivered_qty"] - delivery["already_returned_qty"]
    assert facts.return_request.invoice_id == delivery["invoice_id"]
    assert decision.failure is None
    assert decision.returns is not None
    assert decision.returns.amount == Decimal(10) * delivery["unit_price"]


def test_return_naming_another_customers_order_is_refused(erp: tuple[ErpFixture, SqlAdapter], seed: Policy) -> None:
    fixture, adapter = erp
    delivery = fixture.delivery
    request = {"id": "RT-1", "customer_id": fixture.extra["blocked_customer"], "type": "return", "reason": "defect",
               "original_order_id": delivery["order_id"], "sku": delivery["sku"], "qty": 1,
               "requested_on": TODAY.isoformat()}
    with Gate(seed, backend="python", entry_points=False, plugins=[adapter]) as gate, \
            pytest.raises(FactsError, match="which was sold to"):
        gate.handle_return({"return": request})


def test_erpnext_unknown_customer_group_falls_back_to_the_catch_all_grade(database: ScratchDatabase) -> None:
    fixture = FIXTURES["erpnext"]()
    fixture.create(database.engine)
    adapter = SqlAdapter(database.url, mapping="erpnext", today=TODAY)
    try:
        customer_id, grade = fixture.extra["other_grade"]
        customer = adapter.salesgate_load_customer(customer_id=customer_id)
        assert customer is not None
        assert customer.grade.value == grade
        assert customer.credit_limit == 0
        assert customer.payment_terms_days == 30  # no payment terms template: the model's default
    finally:
        adapter.close()
        fixture.drop(database.engine)


# -- the demo mapping on every database ------------------------------------------------------------------------


def test_demo_mapping_decides_like_the_demo_books_on_every_database(database: ScratchDatabase, seed: Policy) -> None:
    """The SQL path (orders, invoices, receipts, deliveries in a database) and the books in memory agree
    on every decision of the demo."""
    company = load_demo_company()
    create_demo_erp(company, database.engine)
    adapter = SqlAdapter(database.url, mapping="demo", today=AS_OF)
    try:
        with Gate(seed, backend="python", entry_points=False, plugins=[adapter]) as sql_gate, \
                Gate(seed, backend="python", entry_points=False, plugins=[company.adapter()]) as memory_gate:
            for order in company.orders:
                for hook in ("order_approval", "credit_check", "pricing"):
                    by_sql = sql_gate.decide(hook, {"order": order.id})  # type: ignore[arg-type]
                    in_memory = memory_gate.decide(hook, {"order": order.id})  # type: ignore[arg-type]
                    assert by_sql.failure is None
                    assert by_sql == in_memory, (hook, order.id)
            for request in company.returns:
                by_sql = sql_gate.handle_return({"return": return_request(request, AS_OF)})
                in_memory = memory_gate.handle_return({"return": request.model_dump(by_alias=True)})
                assert by_sql == in_memory, request.id
    finally:
        adapter.close()
        drop_demo_erp(database.engine)


def _as_text(value: Any) -> Any:
    """A value as the demo books write it: dates as ISO text (SQLite hands text back, the servers dates)."""
    if isinstance(value, list):
        return [{k: _as_text(v) for k, v in item.items()} for item in value]
    return value.isoformat() if isinstance(value, date) else value


def test_demo_documents_of_declared_points_are_read_by_id_on_every_database(database: ScratchDatabase) -> None:
    """Every document of the demo books, and the lines of those with lines (in their order), comes back
    through the demo mapping's documents: section as the books hold it; an unknown id is no document."""
    company = load_demo_company()
    assert {"shipment_release", "contract_review", "visit_plan"} <= set(company.documents)
    create_demo_erp(company, database.engine)
    adapter = SqlAdapter(database.url, mapping="demo", today=AS_OF)
    try:
        for point, documents in company.documents.items():
            for document in documents:
                loaded = adapter.salesgate_load_document(point=point, document_id=document["id"])
                assert loaded is not None, (point, document["id"])
                assert {k: _as_text(v) for k, v in loaded.items()} == dict(document), (point, document["id"])
            assert adapter.salesgate_load_document(point=point, document_id="NO-SUCH-1") is None
        shipment = adapter.salesgate_load_document(point="shipment_release", document_id="FH-2026-0518")
        assert shipment is not None
        assert [line["sku"] for line in shipment["lines"]] == ["MOTOR-5.5", "VALVE-DN50"]
        assert shipment["amount"] == Decimal("86000")
    finally:
        adapter.close()
        drop_demo_erp(database.engine)


def test_the_memory_adapter_holds_the_same_demo_documents_and_declared_facts() -> None:
    """The reference adapter answers salesgate_load_document from the books, and carries declared facts
    on a customer for the gate to check, as the sql adapter does."""
    company = load_demo_company()
    memory = company.adapter()
    for point, documents in company.documents.items():
        for document in documents:
            assert memory.salesgate_load_document(point=point, document_id=document["id"]) == dict(document)
    assert memory.salesgate_load_document(point="bid", document_id="NO-SUCH-1") is None
    policy = load_policy(Path(__file__).parent / "fixtures" / "declared-policy")
    adapter = MemoryAdapter({
        "customers": [{"id": "C1", "name": "华东", "credit_limit": "9000", "tenure_years": 1}],
        "documents": {"sample_request": [{"id": "SR-1", "customer_id": "C1", "value": "25000"}]}})
    with Gate(policy, backend="python", entry_points=False, plugins=[adapter]) as gate:
        decision = gate.decide("sample_request", {"sample": "SR-1"})
        assert decision.outcome is Outcome.block  # huge-sample: a new customer (tenure 1)
        assert gate.facts_for("sample_request", {"sample": "SR-1"}).customer.tenure_years == 1
    typo = MemoryAdapter({"customers": [{"id": "C1", "name": "华东", "credit_limit": "9000", "tenure_yeras": 1}]})
    with Gate(policy, backend="python", entry_points=False, plugins=[typo]) as gate, \
            pytest.raises(FactsError, match="tenure_yeras"):
        gate.decide("sample_request", {"sample": {"id": "SR-2", "customer_id": "C1", "value": "1"}})
    with pytest.raises(AdapterError, match=r"documents.bid\[0\] is not a document with a text id"):
        MemoryAdapter({"documents": {"bid": [{"tender": "x"}]}})


PRICE_CHANGE_POINT = """\
point: price_change
title: {zh: 调价审批, en: Price change}
description: {zh: 价目表调价, en: A change to a price list}
document: change
fields:
  id: {type: text, description: {zh: 调价单号, en: Number}}
  sku: {type: text, required: true, description: {zh: 产品, en: Product}}
  price_list: {type: text, description: {zh: 价目表, en: Price list}}
  old_price: {type: money, description: {zh: 原价, en: Old price}}
  new_price: {type: money, required: true, description: {zh: 新价, en: New price}}
  cost: {type: money, description: {zh: 成本, en: Cost}}
  effective_on: {type: date, description: {zh: 生效日, en: Effective on}}
  reason: {type: text, description: {zh: 原因, en: Reason}}
"""

PRICE_CHANGE_RULES = """\
ruleset: price-changes
point: price_change
version: "1"
rules:
  - id: below-cost
    when: change.new_price < change.cost * 1.05
    then: {block: {zh: 新价低于成本加5%, en: New price below cost plus 5%}}
"""


def test_demo_decides_the_documents_of_the_points_its_policy_declares(tmp_path: Path) -> None:
    """A policy declaring price_change gets the demo's price changes decided, each read by id from the demo
    ERP; the seed policy's own points are decided the same way (tests/golden/demo.json)."""
    from salesgate_adapters.demo import demo_gate, run_demo

    policy_dir = tmp_path / "rules"
    shutil.copytree(seed_policy_path(), policy_dir)
    (policy_dir / "points").mkdir(exist_ok=True)
    if not (policy_dir / "points" / "price_change.yaml").exists():
        (policy_dir / "points" / "price_change.yaml").write_text(PRICE_CHANGE_POINT, encoding="utf-8")
        (policy_dir / "price-changes.yaml").write_text(PRICE_CHANGE_RULES, encoding="utf-8")
    company = load_demo_company()
    policy = load_policy(policy_dir)
    with demo_gate(company, backend="python", policy=policy) as gate:
        results = {r.subject: r for r in run_demo(gate, company) if r.hook == "price_change"}
    assert set(results) == {"TJ-2026-019", "TJ-2026-020"}
    assert results["TJ-2026-020"].decision.outcome is Outcome.block  # 720 is below 700 plus 5 %
    assert all(r.decision.failure is None for r in results.values())
    with demo_gate(company, backend="python", policy=load_policy(Path(__file__).parent / "fixtures" /
                                                                  "declared-policy")) as gate:
        assert not [r for r in run_demo(gate, company) if r.hook not in ("order_approval", "credit_check",
                                                                            "pricing", "return_handling")]


def test_memory_adapter_is_still_the_reference_for_the_demo_books() -> None:
    assert isinstance(load_demo_company().adapter(), MemoryAdapter)


# -- invalid mapping files: every problem, located ---------------------------------------------------------------

VALID_CUSTOMER = """\
mapping: test
facts:
  customer:
    table: customers
    key: id
    columns: { id: id, name: name }
"""


def write(tmp_path: Path, text: str, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path | str) -> list[str]:
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    return [str(p) for p in info.value.problems]


def test_a_mapping_file_over_one_mebibyte_is_named_a_mapping_file(tmp_path: Path) -> None:
    """The size limit of every YAML file (docs/policy-language.md, Limits): a mapping is not a policy file,
    and cannot be split into several."""
    path = write(tmp_path, VALID_CUSTOMER + "# " + "x" * 1_048_576 + "\n")
    assert problems_of(path) == [f"{path}: larger than 1,048,576 bytes (1 MiB), the most a mapping file may hold"]


def test_valid_minimal_mapping_loads(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, VALID_CUSTOMER))
    assert mapping.plans("exposure") == []
    assert len(mapping.plans("customer")) == 1


def test_exposure_may_be_one_source_or_a_list(tmp_path: Path) -> None:
    one = VALID_CUSTOMER + "  exposure:\n    query: SELECT 1 AS open_orders WHERE :customer_id = ''\n"
    assert len(load_mapping(write(tmp_path, one)).plans("exposure")) == 1


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("mapping: t\nfact:\n  customer: {}\n",
         ["mapping.yaml:2", "field 'fact'", "unknown field", "did you mean 'facts'?"]),
        ("mapping: t\nfacts:\n  custmer:\n    table: c\n",
         ["mapping.yaml:3", "field 'facts.custmer'", "did you mean 'customer'?"]),
        (VALID_CUSTOMER.replace("name: name }", "name: name, credit_limt: lim }"),
         ["mapping.yaml:6", "field 'facts.customer.columns.credit_limt'", "unknown customer field",
          "did you mean 'credit_limit'?"]),
        ("mapping: t\nfacts:\n  customer:\n    table: c\n    query: SELECT 1\n",
         ["mapping.yaml:3", "give either query: (SQL) or table: with key: and columns:"]),
        ("mapping: t\nfacts:\n  customer:\n    table: c\n    columns: {id: id}\n",
         ["mapping.yaml:3", "table: needs key:"]),
        ("mapping: t\nfacts:\n  customer:\n    table: c\n    key: id\n",
         ["mapping.yaml:3", "table: needs columns:"]),
        ("mapping: t\nfacts:\n  customer:\n    query: SELECT id FROM c WHERE id = :customer_id\n    key: id\n",
         ["mapping.yaml:3", "key only go with table:"]),
        ("mapping: t\nfacts:\n  customer:\n    query: SELECT id FROM c WHERE id = :customer\n",
         ["mapping.yaml:4", "unknown parameter :customer", "did you mean 'customer_id'?",
          "the query never uses :customer_id"]),
        ("mapping: t\nfacts:\n  products:\n    query: SELECT sku FROM p WHERE sku IN (:skus)\n",
         ["mapping.yaml:4", "write IN :skus without parentheses"]),
        ("mapping: t\nfacts:\n  customer:\n    query: DELETE FROM c WHERE id = :customer_id\n",
         ["a query must be a SELECT"]),
        ("mapping: t\nfacts:\n  delivery:\n    table: d\n    key: order_id\n    columns: {sku: sku}\n",
         ["mapping.yaml:5", "key must give the column for sku"]),
        ("mapping: t\nfacts:\n  delivery:\n    table: d\n    key: {order_id: o, sku: s, skus: x}\n"
         "    columns: {sku: sku}\n",
         ["mapping.yaml:5", "unknown parameter 'skus' in key", "did you mean 'sku'?"]),
        (VALID_CUSTOMER + "    values:\n      grade: { Key Account: AA }\n",
         ["mapping.yaml:8", "field 'facts.customer.values.grade.Key Account'", "'AA': Input should be 'A', 'B' or 'C'",
          "did you mean 'A'?"]),
        (VALID_CUSTOMER + "    values:\n      grde: { x: A }\n",
         ["mapping.yaml:8", "field 'facts.customer.values.grde'", "did you mean 'grade'?"]),
        (VALID_CUSTOMER + "    defaults:\n      credit_limit: lots\n",
         ["mapping.yaml:8", "field 'facts.customer.defaults.credit_limit'", "'lots' is not a number"]),
        (VALID_CUSTOMER + "    defaults:\n      credit_limit: -5\n",
         ["mapping.yaml:8", "greater than or equal to 0"]),
        (VALID_CUSTOMER.replace("name: name }", "name: name, is_distributor: no }"),
         ["mapping.yaml:6", "field 'facts.customer.columns.is_distributor'", "quote names like 'no'"]),
        ("timezone: Mars/Olympus\n" + VALID_CUSTOMER,
         ["mapping.yaml:1", "field 'timezone'", "unknown time zone 'Mars/Olympus'"]),
        ("mapping: t\nfacts:\n  order:\n    table: o\n    key: id\n    columns: {id: id}\n",
         ["mapping.yaml:3", "field 'facts.order.lines'", "Field required"]),
        ("mapping: t\nfacts:\n  exposure:\n    - query: SELECT 1 AS open_orders WHERE :customer_id = ''\n"
         "      values: {x: {}}\n",
         ["mapping.yaml:5", "field 'facts.exposure.0.values'", "unknown field"]),
        ("mapping: t\nfacts:\n  counted_orders:\n    query: SELECT id AS order_id FROM o WHERE c = :customer_id\n",
         ["mapping.yaml:4", "field 'facts.counted_orders.query'", "the query never uses :order_ids"]),
        ("mapping: t\nfacts:\n  counted_orders:\n    query: |\n      SELECT id AS order_id FROM o\n"
         "      WHERE c = :customer_id AND id IN (:order_ids)\n",
         ["mapping.yaml:4", "write IN :order_ids without parentheses"]),
        ("mapping: t\nfacts:\n  counted_orders:\n    query: SELECT id AS order_id FROM o WHERE id IN :order_id"
         " AND c = :customer_id\n",
         ["mapping.yaml:4", "unknown parameter :order_id", "did you mean 'order_ids'?"]),
        ("mapping: t\nfacts:\n  counted_orders:\n    table: o\n    key: cust\n    columns: {order_id: id}\n",
         ["mapping.yaml:5", "key must give the column for order_ids"]),
        ("mapping: t\nfacts:\n  counted_orders:\n    table: o\n    key: {customer_id: c, order_ids: id}\n"
         "    columns: {order: id}\n",
         ["mapping.yaml:6", "field 'facts.counted_orders.columns.order'", "unknown counted_orders field",
          "did you mean 'order_id'?"]),
        ("mapping: t\nfacts:\n  counted_orders:\n    query: SELECT id AS order_id FROM o WHERE id IN :order_ids"
         " AND c = :customer_id\n    defaults: {order_id: x}\n",
         ["mapping.yaml:5", "field 'facts.counted_orders.defaults'", "unknown field", "expected one of"]),
        # declared facts (policy.yaml facts:) and declared points' documents
        (VALID_CUSTOMER + "    declared:\n      credit_limit: lim\n",
         ["mapping.yaml:8", "customer.credit_limit is a fact salesgate ships: map it under columns:"]),
        (VALID_CUSTOMER + "    declared:\n      tenure_years: {query: SELECT y FROM t WHERE c = :customer}\n",  # noqa: S608 - a mapping file written by the test
         ["mapping.yaml:8", "field 'facts.customer.declared.tenure_years.query'", "unknown parameter :customer",
          "did you mean 'customer_id'?", "the query never uses :customer_id"]),
        (VALID_CUSTOMER + "    declared:\n      tenure_years: {querry: SELECT 1}\n",
         ["mapping.yaml:8", "unknown field", "did you mean 'query'?"]),
        ("mapping: t\nfacts:\n  delivery:\n    table: d\n    key: {order_id: o, sku: s}\n    columns: {sku: sku}\n"
         "    declared: {x: y}\n",
         ["mapping.yaml:7", "field 'facts.delivery.declared'", "unknown field"]),
        ("mapping: t\ndocuments:\n  shipment_release:\n    query: SELECT * FROM dn WHERE name = :name\n",
         ["mapping.yaml:4", "field 'documents.shipment_release.query'", "unknown parameter :name",
          "the query never uses :id"]),
        ("mapping: t\ndocuments:\n  shipment_release:\n    query: UPDATE dn SET x = 1 WHERE name = :id\n",
         ["mapping.yaml:4", "a query must be a SELECT"]),
        ("mapping: t\ndocuments:\n  shipment_release:\n    table: dn\n    key: {id: name}\n    columns: {id: name}\n",
         ["mapping.yaml:5", "key: names the one column matched against the document's id (:id)"]),
        ("mapping: t\ndocuments:\n  Shipment:\n    query: SELECT name AS id FROM dn WHERE name = :id\n",
         ["mapping.yaml:3", "'Shipment' cannot name a decision point"]),
        ("mapping: t\ndocuments:\n  shipment_release:\n    query: SELECT name AS id FROM dn WHERE name = :id\n"
         "    list:\n      lines: {query: SELECT 1}\n",
         ["mapping.yaml:5", "field 'documents.shipment_release.list'", "did you mean 'lists'?"]),
        ("mapping: t\ndocuments:\n  shipment_release:\n    query: SELECT name AS id FROM dn WHERE name = :id\n"
         "    lists:\n      lines: {query: SELECT sku FROM dl WHERE parent = :parent}\n",
         ["mapping.yaml:6", "field 'documents.shipment_release.lists.lines.query'", "unknown parameter :parent",
          "the query never uses :id"]),
    ],
)
def test_invalid_mapping_names_file_line_field_and_suggestion(tmp_path: Path, text: str, needles: list[str]) -> None:
    shown = "\n".join(problems_of(write(tmp_path, text)))
    for needle in needles:
        assert needle in shown, shown


def test_every_problem_of_a_mapping_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID_CUSTOMER.replace("name: name }", "nme: name, grde: g }")
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 2
    assert "did you mean 'name'?" in problems[0]
    assert "did you mean 'grade'?" in problems[1]


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "mapping: t\nfacts:\n  customer: [unclosed\n"))
    assert len(problems) == 1
    assert "mapping.yaml:" in problems[0]
    assert "YAML syntax error" in problems[0]


def test_mapping_that_is_not_a_yaml_mapping_is_refused(tmp_path: Path) -> None:
    assert "a mapping file is a YAML mapping" in problems_of(write(tmp_path, "- a\n- b\n"))[0]


def test_unknown_shipped_mapping_name_suggests_the_closest(tmp_path: Path) -> None:
    problems = problems_of("erpnxt")
    assert "no mapping 'erpnxt' (did you mean 'erpnext'?)" in problems[0]
    assert "shipped mappings are demo, erpnext, odoo, tryton" in problems[0]


def test_missing_mapping_file_is_named(tmp_path: Path) -> None:
    assert f"no such mapping file: {tmp_path / 'nope.yaml'}" in problems_of(tmp_path / "nope.yaml")[0]


def test_mapping_error_is_an_adapter_error_for_the_gate_and_cli() -> None:
    from salesgate import AdapterError

    assert issubclass(MappingError, AdapterError)


def test_example_mappings_in_the_docs_load(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "adapters.md").read_text(encoding="utf-8")
    examples = [block for block in re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL) if block.startswith("mapping:")]
    assert examples, "docs/adapters.md shows a complete mapping"
    for example in examples:
        mapping = load_mapping(write(tmp_path, example))
        assert all(mapping.plans(fact) for fact in ("customer", "exposure", "products", "order", "delivery",
                                                    "counted_orders"))


def test_the_docs_example_of_documents_and_declared_facts_loads(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "adapters.md").read_text(encoding="utf-8")
    (example,) = [block for block in re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL) if "documents:" in block]
    mapping = load_mapping(write(tmp_path, "mapping: docs-example\n" + example))
    assert [plan.part for plan in mapping.documents()["shipment_release"]] == [None, "lines"]
    assert [plan.field for plan in mapping.declared("customer")] == ["tenure_years"]
    assert [plan.field for plan in mapping.declared("products")] == ["make_or_buy"]


DELIVERY_RELEASE = """\
point: delivery_release
title: {zh: 发货放行, en: Delivery release}
description: {zh: 出库前检查, en: Checked before the goods leave}
document: delivery
includes: [customer]
fields:
  id: {type: text, description: {zh: 出库单号, en: Delivery note}}
  customer_id: {type: text, required: true, description: {zh: 客户, en: Customer}}
  posted_on: {type: date, description: {zh: 过账日期, en: Posted on}}
  is_return: {type: bool, description: {zh: 退货, en: A return}}
  lines:
    type: list
    element: line
    description: {zh: 明细, en: Lines}
    fields:
      sku: {type: text, description: {zh: 物料, en: Item}}
      qty: {type: number, description: {zh: 数量, en: Quantity}}
      sales_order: {type: text, description: {zh: 销售订单, en: Sales order}}
"""


def test_the_erpnext_docs_delivery_note_example_reads_a_delivery_note(database: ScratchDatabase,
                                                                     tmp_path: Path) -> None:
    """docs/erpnext.md's documents: section, added to a copy of erpnext.yaml, on the ERPNext schema."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "erpnext.md").read_text(encoding="utf-8")
    (section,) = [block for block in re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL) if "documents:" in block]
    shipped = Path(load_mapping("erpnext").file).read_text(encoding="utf-8")
    mapping = write(tmp_path, shipped + "\n" + section, "erpnext-own.yaml")
    fixture = FIXTURES["erpnext"]()
    fixture.create(database.engine)
    policy_dir = tmp_path / "policy"
    shutil.copytree(seed_policy_path(), policy_dir)
    (policy_dir / "points").mkdir(exist_ok=True)
    (policy_dir / "points" / "delivery_release.yaml").write_text(DELIVERY_RELEASE, encoding="utf-8")
    adapter = SqlAdapter(database.url, mapping=mapping, today=TODAY)
    try:
        gate = Gate(load_policy(policy_dir), backend="python", entry_points=False, plugins=[adapter])
        facts = gate.facts_for("delivery_release", {"delivery": "MAT-DN-0001"})
        assert facts.delivery.customer_id == "CUST-0001"
        assert facts.delivery.is_return is False
        assert [(line.sku, line.qty, line.sales_order) for line in facts.delivery.lines] == [
            ("VALVE-DN50", Decimal("120"), "SAL-ORD-0009")]
        assert facts.customer.name == "华东机电有限公司"
        assert gate.decide("delivery_release", {"delivery": "MAT-DN-0001"}).outcome is Outcome.allow
    finally:
        adapter.close()
        fixture.drop(database.engine)


def test_shipped_mapping_fact_values_are_strings_the_models_accept() -> None:
    """values: targets are checked on load; the shipped ones must all pass (they do if they load)."""
    for name in SHIPPED:
        mapping = load_mapping(name)
        customer = mapping.spec.facts.customer
        assert customer is not None
        translations: dict[str, Any] = customer.values
        assert all(isinstance(v, str) for table in translations.values() for v in table.values())


# -- the crash window: the ERP committed the order, confirm_reservation was never called -------------------------

CRASH_CUSTOMER = {"demo": "C001", "erpnext": "CUST-0001", "odoo": "7"}


def build_erp(mapping: str, engine: Engine) -> None:
    if mapping == "demo":
        create_demo_erp(load_demo_company(), engine)
    else:
        FIXTURES[mapping]().create(engine)


def erp_enters_order(mapping: str, engine: Engine, order_id: str, customer_id: str, amount: Decimal) -> None:
    """What the ERP's own commit writes for a confirmed order, in the tables the mapping reads."""
    day = TODAY
    with engine.begin() as connection:
        if mapping == "demo":
            connection.execute(demo_erp.sales_orders.insert(), [demo_erp._order(
                order_id, customer_id, "confirmed", day, amount, Decimal(0))])
            connection.execute(demo_erp.sales_order_lines.insert(), [
                {"order_id": order_id, "line_no": 1, "sku": "MOTOR-5.5", "qty": 1, "unit_price": amount,
                 "discount": Decimal(0)}])
        elif mapping == "erpnext":
            tables = sa.MetaData()
            so = sa.Table("tabSales Order", tables, autoload_with=connection)
            soi = sa.Table("tabSales Order Item", tables, autoload_with=connection)
            connection.execute(so.insert(), [{
                "name": order_id, "customer": customer_id, "docstatus": 1, "status": "To Deliver and Bill",
                "transaction_date": day, "creation": datetime(2026, 11, 6, 9, 0), "currency": "CNY",
                "grand_total": amount, "per_billed": Decimal(0), "payment_terms_template": None}])
            connection.execute(soi.insert(), [{
                "name": f"soi-{order_id}", "parent": order_id, "idx": 1, "item_code": "MOTOR-5.5", "qty": Decimal(1),
                "rate": amount, "delivered_qty": Decimal(0), "returned_qty": Decimal(0), "docstatus": 1}])
        else:
            tables = sa.MetaData()
            so = sa.Table("sale_order", tables, autoload_with=connection)
            sol = sa.Table("sale_order_line", tables, autoload_with=connection)
            connection.execute(so.insert(), [{
                "id": 100, "name": order_id, "partner_id": int(customer_id), "date_order": datetime(2026, 11, 6, 1),
                "create_date": datetime(2026, 11, 6, 1), "currency_id": 1, "state": "sale",
                "invoice_status": "to invoice", "amount_total": amount}])
            connection.execute(sol.insert(), [{
                "id": 100, "order_id": 100, "sequence": 10, "product_id": 1, "product_uom_qty": Decimal(1),
                "qty_invoiced": Decimal(0), "price_unit": amount, "discount": Decimal(0), "price_total": amount,
                "display_type": None}])


def new_order(order_id: str, customer_id: str, amount: Decimal) -> dict[str, Any]:
    return {"order": {"id": order_id, "customer_id": customer_id, "order_date": TODAY.isoformat(),
                      "lines": [{"line_no": 1, "sku": "MOTOR-5.5", "qty": 1, "unit_price": str(amount)}]}}


@pytest.mark.parametrize("mapping", ["demo", "erpnext", "odoo"])
def test_an_order_the_erp_committed_without_confirm_counts_once(
    mapping: str, database: ScratchDatabase, seed: Policy,
) -> None:
    """reserve → the ERP commits the order → the process dies before confirm_reservation: the next credit
    check finds the order in the ERP's open orders, stops counting its reservation and confirms it."""
    build_erp(mapping, database.engine)
    customer_id = CRASH_CUSTOMER[mapping]
    first_id, second_id = ("S00100", "S00101") if mapping == "odoo" else ("SO-CRASH-1", "SO-CRASH-2")
    first_amount, second_amount = Decimal("1000.50"), Decimal("500")
    store = Store(database.url)
    store.upgrade()
    reader = SqlAdapter(database.url, mapping=mapping, today=TODAY)
    try:
        before = reader.salesgate_load_exposure(customer_id=customer_id)
        customer = reader.salesgate_load_customer(customer_id=customer_id)
        assert before is not None
        assert customer is not None
        erp_exposure, limit = before.open_receivables + before.open_orders, customer.credit_limit
        with Gate(seed, backend="python", adapter="sql", url=database.url, mapping=mapping, today=TODAY,
                  store=store) as gate:
            first = gate.check_credit(new_order(first_id, customer_id, first_amount), reserve=True)
            assert first.failure is None
            assert first.outcome is not Outcome.block
            assert first.credit is not None
            assert (first.credit.exposure, first.credit.available) == (
                erp_exposure + first_amount, limit - erp_exposure - first_amount)
            held = store.reservation(first_id)
            assert held is not None
            assert (held.status, held.amount) == ("reserved", first_amount)

            erp_enters_order(mapping, database.engine, first_id, customer_id, first_amount)  # ...and the crash

            after = reader.salesgate_load_exposure(customer_id=customer_id)
            assert after is not None
            assert after.open_orders == before.open_orders + first_amount  # the ERP counts it now
            second = gate.check_credit(new_order(second_id, customer_id, second_amount), reserve=True)
        assert second.failure is None
        assert second.credit is not None
        once = erp_exposure + first_amount + second_amount  # not erp_exposure + 2 × first_amount + second_amount
        assert (second.credit.exposure, second.credit.available) == (once, limit - once)
        confirmed = store.reservation(first_id)
        assert confirmed is not None
        assert confirmed.status == "confirmed"
        assert store.reserved_amount(customer_id) == (second_amount if second.outcome is not Outcome.block else 0)
    finally:
        reader.close()
        store.close()


HISTORY = {  # (first day, day after the last day) → the submitted orders entered then, oldest first
    "erpnext": [((date(2020, 1, 1), date(2030, 1, 1)), ["SAL-ORD-0100", "SAL-ORD-0101", "SAL-ORD-0009",
                                                        "SAL-ORD-0000", "SAL-ORD-0002", "SAL-ORD-0003"]),
                ((TODAY - timedelta(10), TODAY + timedelta(1)), ["SAL-ORD-0000", "SAL-ORD-0002", "SAL-ORD-0003"]),
                ((TODAY, TODAY + timedelta(1)), [])],
    "odoo": [((date(2026, 11, 2), date(2026, 11, 3)), ["S00002", "S00003", "S00009"]),
             ((date(2026, 11, 3), date(2026, 12, 1)), [])],
}


def test_mapping_lists_the_orders_of_a_period_for_replays(erp: tuple[ErpFixture, SqlAdapter]) -> None:
    fixture, adapter = erp
    for (since, until), expected in HISTORY[fixture.mapping]:
        assert adapter.order_ids(since, until) == expected, (since, until)


def test_a_mapping_without_order_history_says_how_to_add_it(tmp_path: Path) -> None:
    minimal = write(tmp_path, "mapping: bare\nfacts:\n  customer:\n    table: customers\n    key: id\n"
                              "    columns: {id: id, name: name}\n")
    adapter = SqlAdapter(f"sqlite:///{tmp_path / 'erp.db'}", mapping=minimal)
    try:
        with pytest.raises(AdapterError, match="no order_history query"):
            adapter.order_ids(date(2026, 1, 1), date(2027, 1, 1))
    finally:
        adapter.close()


def test_order_history_must_be_a_query(tmp_path: Path) -> None:
    text = ("mapping: bad\nfacts:\n  order_history:\n    table: orders\n    key: {since: d}\n"
            "    columns: {order_id: id}\n")
    with pytest.raises(MappingError, match="order_history needs a query"):
        load_mapping(write(tmp_path, text))


# -- history facts -------------------------------------------------------------------------------------------


def test_mapping_computes_the_seed_policys_history_facts_for_the_as_of_date(erp: tuple[ErpFixture, SqlAdapter],
                                                                            seed: Policy) -> None:
    fixture, adapter = erp
    expected = fixture.extra["history"]
    wanted = {f.path: f for spec in seed.points.values() for f in spec.history}
    by_document: dict[str, dict[str, Any]] = {}
    for document, keys in (("customer", {"id": fixture.customer_id, "customer_id": fixture.customer_id}),
                           ("visits", {"id": "BF-1", "rep": fixture.extra["rep"], "month": "2026-11"})):
        facts = [f for f in wanted.values() if f.document == document]
        found = adapter.salesgate_load_history(document=document, keys=keys, facts=facts, as_of=None) or {}
        by_document.update({f"{document}.{name}": value for name, value in found.items()})
    assert by_document == expected
    assert all(type(by_document[path]) is type(value) for path, value in expected.items())


def test_a_customer_without_history_has_zero_sales_and_no_follow_up(erp: tuple[ErpFixture, SqlAdapter],
                                                                    seed: Policy) -> None:
    _, adapter = erp
    facts = [f for spec in seed.points.values() for f in spec.history if f.document == "customer"]
    found = adapter.salesgate_load_history(document="customer", keys={"customer_id": "999"},
                                           facts=list({f.path: f for f in facts}.values()), as_of=None)
    assert found is not None
    assert found["sales_last_4_quarters"] == 0
    assert "days_since_last_follow_up" not in found  # missing, not 0
    assert "days_in_stage" not in found


def test_the_docs_example_of_history_queries_runs(database: ScratchDatabase, tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "adapters.md").read_text(encoding="utf-8")
    (example,) = [block for block in re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL) if block.startswith("history:")]
    with database.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE orders (customer_no VARCHAR(16), state VARCHAR(16), "
                                   "order_date DATE, total NUMERIC(18, 4))"))
        connection.execute(sa.text("CREATE TABLE visits (customer_no VARCHAR(16), rep VARCHAR(32), "
                                   "visited_at TIMESTAMP)"))
        connection.execute(sa.text("INSERT INTO orders VALUES ('K1', 'confirmed', :d, 800), "
                                   "('K1', 'confirmed', :e, 1)"),
                           {"d": date(2025, 10, 31), "e": date(2026, 1, 1)})
        connection.execute(sa.text("INSERT INTO visits VALUES ('K1', '王芳', :t), ('K1', '王芳', :u)"),
                           {"t": datetime(2025, 12, 20, 9), "u": datetime(2025, 12, 31, 23)})
    adapter = SqlAdapter(database.url, mapping=write(tmp_path, "mapping: docs\n" + example), today=date(2026, 1, 10))
    policy = load_policy(seed_policy_path())
    facts = {f.path: f for spec in policy.points.values() for f in spec.history}
    customer = adapter.salesgate_load_history(
        document="customer", keys={"customer_id": "K1"}, as_of=None,
        facts=[facts["customer.sales_last_4_quarters"], facts["customer.days_since_last_follow_up"]])
    visits = adapter.salesgate_load_history(document="visits", keys={"rep": "王芳"}, as_of=None,
                                            facts=[facts["visits.rep_visits_last_month"]])
    adapter.close()
    assert customer == {"sales_last_4_quarters": Decimal(800), "days_since_last_follow_up": 10}
    assert visits == {"rep_visits_last_month": 2}
