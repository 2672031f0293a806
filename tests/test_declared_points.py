"""Decision points and facts a policy declares in YAML: ``points/<name>.yaml`` and ``facts:`` in policy.yaml.

The fixture policy (tests/fixtures/declared-policy) declares ``sample_request`` (a document with a
list of lines, the customer included, two outputs) and two extra facts on shipped documents.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from salesgate import FactsError, Gate, Origin, Outcome, PolicyError, load_policy

FIXTURE = Path(__file__).parent / "fixtures" / "declared-policy"
BACKENDS = ["python", "durable"]


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
     "sample_request.yaml:9, field 'fields.value.type': Input should be 'text', 'integer'"),
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
