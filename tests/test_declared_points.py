"""Decision points and facts a policy declares in YAML: ``points/<name>.yaml`` and ``facts:`` in policy.yaml.

The fixture policy (tests/fixtures/declared-policy) declares ``sample_request`` (a document with a
list of lines, the customer included, two outputs) and two extra facts on shipped documents.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from pydantic import BaseModel, ValidationError, create_model

from fixtures.strategies import order_facts, return_facts
from salesgate import (
    Bilingual,
    FactsError,
    FieldType,
    Gate,
    OrderFacts,
    Origin,
    Outcome,
    PolicyError,
    ReturnFacts,
    load_policy,
    seed_policy_path,
)
from salesgate.completion import complete
from salesgate.documents import FieldSpec, document_model
from salesgate.models import Customer

FIXTURE = Path(__file__).parent / "fixtures" / "declared-policy"
BACKENDS = ["python", "durable", "compiled"]


def sample(value: str = "25000", tenure: int | None = 1, qty: int = 150) -> dict[str, Any]:
    customer: dict[str, Any] = {"id": "C1", "name": "华东机电"}
    if tenure is not None:
        customer["tenure_years"] = tenure
    return {"sample": {"id": "S-1", "customer_id": "C1", "value": value, "lines": [{"sku": "A", "qty": qty}]},
            "customer": customer}


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_point_declared_in_yaml_decides_with_outputs_combined_on_every_backend(backend: str) -> None:
    gate = Gate.from_path(FIXTURE, backend=backend)  # type: ignore[arg-type]
    decision = gate.decide("sample_request", sample(), explain=True)
    assert (decision.hook, decision.subject, decision.outcome) == ("sample_request", "S-1", Outcome.block)
    assert decision.required_roles == ["sales_manager"]
    # deposit combines by max (20% and 50%), freight by priority (collect is listed first)
    assert decision.outputs == {"deposit": Decimal("0.5"), "freight": "collect"}
    assert [(t.rule, t.fired, t.line_no) for t in decision.trace] == [
        ("big-sample", True, None), ("huge-sample", True, None), ("many", True, 1)]
    assert decision.trace[1].explanation == "sample.value is 25,000, > 20,000; customer.tenure_years is 1, < 2"
    assert decision.model_dump(mode="json")["outputs"] == {"deposit": "0.5", "freight": "collect"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_output_no_rule_sets_is_absent_and_a_missing_declared_fact_is_a_missing_value(backend: str) -> None:
    gate = Gate.from_path(FIXTURE, backend=backend)  # type: ignore[arg-type]
    quiet = gate.decide("sample_request", sample(value="100", tenure=None, qty=1))
    assert (quiet.outcome, quiet.outputs) == (Outcome.allow, {})
    # huge-sample reads customer.tenure_years, which this caller does not know: the rule does not fire
    unknown_tenure = gate.decide("sample_request", sample(tenure=None))
    assert unknown_tenure.outputs == {"deposit": Decimal("0.2"), "freight": "prepaid"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_declared_facts_extend_the_shipped_documents(backend: str) -> None:
    gate = Gate.from_path(FIXTURE, backend=backend)  # type: ignore[arg-type]
    order = {"order": {"id": "SO1", "customer_id": "C1", "order_date": "2026-12-01",
                       "lines": [{"line_no": 1, "sku": "A", "qty": 1, "unit_price": "10"}]},
             "customer": {"id": "C1", "name": "华东", "tenure_years": 0},
             "products": [{"sku": "A", "list_price": "10", "make_or_buy": "buy"}]}
    decision = gate.decide("order_approval", order)
    assert [r.rule for r in decision.reasons] == ["new-customer", "bought-in"]
    assert decision.required_roles == ["finance"]


@pytest.fixture(scope="module")
def seed_gate() -> Iterator[Gate]:
    """One gate on the seed policy for the module's tests (loading the policy is what takes time)."""
    with Gate(load_policy(seed_policy_path()), backend="python", entry_points=False) as gate:
        yield gate


def _same(given: Any, validated: Any, where: str = "facts") -> None:
    """Equal values of the same classes all the way down (``==`` on models does not look at nested classes)."""
    assert type(given) is type(validated), where
    if isinstance(given, BaseModel):
        assert list(given.__dict__) == list(validated.__dict__), where
        for name, value in given.__dict__.items():
            _same(value, validated.__dict__[name], f"{where}.{name}")
    elif isinstance(given, list):
        assert len(given) == len(validated), where
        for index, (item, other) in enumerate(zip(given, validated, strict=True)):
            _same(item, other, f"{where}[{index}]")
    else:
        assert given == validated, where


@settings(max_examples=40, deadline=None)
@given(order=order_facts(), returned=return_facts())
def test_shipped_fact_models_become_the_policys_extension_as_validating_them_again_would(
        seed_gate: Gate, order: OrderFacts, returned: ReturnFacts) -> None:
    """The seed policy declares facts on the customer, the order and products: an OrderFacts passed in is
    built into the policy's model from its validated parts, equal to dumping it and validating it again,
    the declared facts missing and the fields the caller set still the ones set."""
    for point, facts in (("order_approval", order), ("return_handling", returned)):
        spec = seed_gate.policy.points[point]
        assert spec.document is not type(facts)
        completed = complete(point, facts, seed_gate.hooks.on(None), spec)
        _same(completed, spec.document.model_validate(facts.model_dump(by_alias=True)))
        assert completed.model_dump_json() == spec.document.model_validate(facts.model_dump(by_alias=True)
                                                                           ).model_dump_json()
        assert completed.customer.tenure_years is None
        assert completed.model_fields_set == facts.model_fields_set
        assert completed.customer.model_fields_set == facts.customer.model_fields_set


def test_an_extension_declaring_a_required_fact_validates_the_shipped_facts_again(seed_gate: Gate) -> None:
    """A declared fact that is required (a plugin's own extension may ask for one) is missing from shipped
    facts: validation says so, rather than the model being built without it."""
    graded = create_model("Customer", __base__=Customer, tier=(int, ...))
    document = create_model("OrderFacts", __base__=OrderFacts, customer=(graded, ...))
    spec = dataclasses.replace(seed_gate.policy.points["order_approval"], document=document)
    facts = OrderFacts.model_validate({
        "order": {"id": "SO1", "customer_id": "C1", "order_date": "2026-12-01",
                  "lines": [{"line_no": 1, "sku": "A", "qty": 1, "unit_price": "10"}]},
        "customer": {"id": "C1", "name": "华东"}})
    with pytest.raises(FactsError, match=r"customer.tier: Field required"):
        complete("order_approval", facts, seed_gate.hooks.on(None), spec)


def test_undeclared_fields_are_refused_with_a_did_you_mean() -> None:
    gate = Gate.from_path(FIXTURE, backend="python")
    facts = sample()
    facts["customer"]["tenure_yeras"] = facts["customer"].pop("tenure_years")
    with pytest.raises(FactsError, match=r"customer.tenure_yeras: not a fact salesgate knows \(did you mean "
                                         r"'tenure_years'\?\)"):
        gate.decide("sample_request", facts)
    facts = sample()
    facts["sample"]["valeu"] = facts["sample"].pop("value")
    with pytest.raises(FactsError, match=r"sample.valeu: not a fact salesgate knows \(did you mean 'value'\?\)"):
        gate.decide("sample_request", facts)
    with pytest.raises(FactsError, match=r"unknown decision point 'sample_requst' \(did you mean 'sample_request'\?\)"):
        gate.decide("sample_requst", facts)


def test_the_policy_knows_where_each_point_comes_from() -> None:
    policy = load_policy(FIXTURE)
    assert list(policy.points) == ["order_approval", "credit_check", "pricing", "return_handling", "sample_request"]
    spec = policy.points["sample_request"]
    assert (spec.origin, spec.source, spec.root, spec.subject) == (
        Origin.policy, "points/sample_request.yaml", "sample", "sample.id")
    facts = policy.vocabulary["sample_request"]
    assert (facts["sample.value"].unit, facts["sample.value"].zh) == ("money", "样品价值")
    assert facts["sample.lines"].element == "line"
    assert {"line.qty", "customer.grade"} <= set(facts)
    assert facts["customer.tenure_years"].declared == "policy.yaml"
    assert "line.product.make_or_buy" in policy.vocabulary["pricing"]


def test_the_declaration_is_part_of_the_policy_hash(policy_dir: Path) -> None:
    before = load_policy(policy_dir).hash
    declaration = policy_dir / "points" / "sample_request.yaml"
    declaration.write_text(declaration.read_text(encoding="utf-8").replace("Sample lines", "The lines"),
                           encoding="utf-8")
    assert load_policy(policy_dir).hash != before


def problems(policy_dir: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(policy_dir)
    return [str(p) for p in caught.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("points/sample_request.yaml", "type: money", "type: mony",
     "sample_request.yaml:9, field 'fields.value.type': expected one of 'text', 'integer'"),
    ("points/sample_request.yaml", "{type: enum, choices: [collect, prepaid], combine: priority",
     "{type: enum, combine: priority", "field 'outputs.freight': an enum output needs its choices"),
    ("points/sample_request.yaml", "combine: max", "combine: priority",
     "field 'outputs.deposit': combine: priority picks the enum choice listed first; this output is percent"),
    ("points/sample_request.yaml", "description: {zh: 样品价值, en: Value of the samples}",
     "description: Value of the samples", "describe it in Chinese and in English"),
    ("points/sample_request.yaml", "point: sample_request", "point: pricing",
     "decision point 'pricing' is already declared by salesgate"),
    ("points/sample_request.yaml", "  id: {type: text,", "  code: {type: text,",
     "the subject 'sample.id' must be a text field of the document"),
    ("samples.yaml", "set: {deposit: 20%, freight: prepaid}", "set: {deposit: 20%, freigt: prepaid}",
     "set: 'freigt' is not an output of this point: sample_request declares deposit, freight "
     "(did you mean 'freight'?)"),
    ("samples.yaml", "freight: prepaid}", "freight: air}", "set: freight: 'air' is not one of collect, prepaid"),
    ("samples.yaml", "deposit: 20%,", "deposit: sample.urgent,", "set: deposit:"),
    ("samples.yaml", "point: sample_request", "point: sample_requests",
     "unknown decision point 'sample_requests'"),
    ("samples.yaml", "when: sample.value > 5000", "when: sample.valeu > 5000", "did you mean 'sample.value'?"),
    ("orders.yaml", "hook: order_approval", "hook: order_approval\npoint: order_approval",
     "give the decision point once"),
    ("policy.yaml", "customer.tenure_years:", "custmer.tenure_years:",
     "'custmer.tenure_years': declare a fact as <document>.<field>, on one of customer, order, line, product, "
     "exposure, return (did you mean customer.tenure_years?)"),
    ("policy.yaml", "customer.tenure_years:", "customer.grade:", "'customer.grade' is already a fact salesgate ships"),
])
def test_declaration_problems_name_the_file_line_and_field(policy_dir: Path, file: str, old: str, new: str,
                                                            expected: str) -> None:
    edit(policy_dir / file, old, new)
    found = problems(policy_dir)
    assert any(expected in problem for problem in found), found


def test_scope_line_needs_a_list_of_lines(policy_dir: Path) -> None:
    edit(policy_dir / "points" / "sample_request.yaml", "element: line", "element: item")
    edit(policy_dir / "samples.yaml", "when: line.qty > 100", "when: item.qty > 100")
    found = problems(policy_dir)
    assert any("scope: line runs a rule once per line, and a sample at sample_request has no list of lines" in p
               for p in found), found


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_built_in_point_sets_the_outputs_policy_yaml_declares_for_it(backend: str) -> None:
    gate = Gate.from_path(FIXTURE, backend=backend)  # type: ignore[arg-type]
    order = {"order": {"id": "SO1", "customer_id": "C1", "order_date": "2026-12-01",
                       "lines": [{"line_no": 1, "sku": "A", "qty": 1, "unit_price": "100"}]},
             "customer": {"id": "C1", "name": "华东", "tenure_years": 6, "credit_limit": "1000"}}
    assert gate.check_credit(order).outputs == {"proposed_limit": Decimal("1200.00")}
    order["order"]["lines"][0]["unit_price"] = "5000"  # over the limit too: combine min keeps the limit
    decision = gate.check_credit(order)
    assert (decision.outcome, decision.outputs) == (Outcome.warn, {"proposed_limit": Decimal("1000.00")})
    assert gate.approve_order(order).outputs == {}


def test_outputs_for_a_point_that_is_not_built_in_are_declared_in_its_own_file(policy_dir: Path) -> None:
    edit(policy_dir / "policy.yaml", "  credit_check:", "  sample_request:")
    found = problems(policy_dir)
    assert any("'sample_request' is not a built-in decision point: policy.yaml declares outputs of order_approval, "
               "credit_check, pricing, return_handling; a declared point declares its own" in p for p in found), found


OTHER_ELEMENT = {
    "points/visit_plan.yaml": """
point: visit_plan
title: {zh: 拜访计划, en: Visit plan}
description: {zh: 月度客户拜访计划, en: A month's customer visits}
document: plan
fields:
  id: {type: text, description: {zh: 计划编号, en: Plan number}}
  month_start: {type: date, description: {zh: 月初, en: First day of the month}}
  share: {type: percent, description: {zh: 重点客户占比, en: Share of key accounts}}
  visits:
    type: list
    element: visit
    description: {zh: 拜访, en: Visits}
    fields:
      grade: {type: enum, choices: [A, B, C], description: {zh: 客户等级, en: Customer grade}}
      planned_on: {type: date, description: {zh: 计划日期, en: Planned on}}
outputs:
  follow_up: {type: date, combine: min, description: {zh: 跟进日期, en: Follow up on}}
  key_visits: {type: integer, combine: sum, description: {zh: 重点拜访数, en: Key visits}}
""",
    "plans.yaml": """
ruleset: plans
point: visit_plan
version: "1"
rules:
  - id: no-key-account
    when: not any(visit.grade == "A" for visit in plan.visits)
    then: {warn: {zh: 没有重点客户拜访, en: No visit to a key account}, set: {follow_up: plan.month_start}}
  - id: few-key
    when: plan.share < 20%
    then: {warn: 重点客户太少, set: {key_visits: 2, follow_up: 2027-01-15}}
  - id: early
    when: all(visit.planned_on >= plan.month_start for visit in plan.visits)
    then: {set: {key_visits: 1}}
""",
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_lists_with_their_own_element_names_dates_percents_and_sums_decide_alike(tmp_path: Path,
                                                                                  backend: str) -> None:
    (tmp_path / "points").mkdir()
    for name, text in OTHER_ELEMENT.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    gate = Gate.from_path(tmp_path, backend=backend)  # type: ignore[arg-type]
    plan = {"plan": {"id": "P-1", "month_start": "2027-01-01", "share": "10%",
                     "visits": [{"grade": "B", "planned_on": "2027-01-03"},
                                {"grade": "C", "planned_on": "2027-01-09"}]}}
    decision = gate.decide("visit_plan", plan)
    assert [r.rule for r in decision.reasons] == ["no-key-account", "few-key"]
    assert decision.outputs == {"follow_up": date(2027, 1, 1), "key_visits": 3}
    plan["plan"]["visits"][0]["grade"] = "A"
    plan["plan"]["share"] = "0.5"
    assert gate.decide("visit_plan", plan).outputs == {"key_visits": 1}


@pytest.mark.parametrize(("name", "expected"), [
    ("json", "'json' is a name the document's model already uses"),
    ("model_config", "'model_config' is a name the document's model already uses"),
    ("a__b", "'a__b' cannot name a field"),
])
def test_a_field_name_the_model_or_the_engine_needs_is_refused(policy_dir: Path, name: str, expected: str) -> None:
    edit(policy_dir / "points" / "sample_request.yaml", "  urgent:", f"  {name}:")
    found = problems(policy_dir)
    assert any(expected in p for p in found), found


def test_point_declarations_count_towards_the_policys_size_limit(policy_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from salesgate.policy import compiler

    size = sum(p.stat().st_size for p in policy_dir.glob("*.yaml"))  # what the loader counts but points/
    monkeypatch.setattr(compiler, "MAX_POLICY_BYTES", size + 10)
    with pytest.raises(PolicyError, match="the most a policy may hold"):
        load_policy(policy_dir)


def _share_model() -> Any:
    field = FieldSpec("share", FieldType.percent, Bilingual("比例", "Share"))
    return document_model("p", "doc", [FieldSpec("id", FieldType.text, Bilingual("编号", "Id")), field], "id", {})


@pytest.mark.parametrize(("value", "expected"), [
    ("20%", Decimal("0.2")), ("0.2", Decimal("0.2")), (1, Decimal(1)), ("150%", Decimal("1.5")),
])
def test_a_percent_fact_is_a_rate_written_with_percent_or_as_a_fraction(value: object, expected: Decimal) -> None:
    assert _share_model().model_validate({"doc": {"id": "1", "share": value}}).doc.share == expected


@pytest.mark.parametrize(("value", "advice"), [(5, "send '5%' for 5 percent, or '500%' for 5 times"),
                                               ("1.5", "send '1.5%' for 1.5 percent, or '150%' for 1.5 times")])
def test_a_bare_percent_above_one_is_refused_as_ambiguous(value: object, advice: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"{value} as a percent is ambiguous: {advice}")):
        _share_model().model_validate({"doc": {"id": "1", "share": value}})
