"""Decision points described as data (``salesgate.pointspecs``) and ``salesgate points``.

The declarations are the one place a point is described: these tests hold them to what the code
does with a point (its hook's signature, the decision's subject, the payload a plugin may
contribute) and the command to what a policy owner reads (every point, its fields, its rule sets).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel, ConfigDict, Field

from fixtures.mini_policy import write_mini_policy
from salesgate import DECISION_POINTS, OrderFacts, ReturnFacts, hookimpl, load_policy, seed_policy_path
from salesgate import hookspecs as hookspecs_module
from salesgate.cli import _point, cli
from salesgate.commands.view import SHORT
from salesgate.completion import _SUBJECT_KEYS, subject_of
from salesgate.decisions import Contribution, Decision
from salesgate.gate import _DATA
from salesgate.hookspecs import DECISION_HOOKS
from salesgate.plugins import _PAYLOAD_POINTS, installed_points
from salesgate.points import DecisionPoint
from salesgate.pointspecs import ALIASES, BUILT_IN_POINTS, ORDER_POINTS, POINT_SPECS, Origin, PointSpec
from salesgate.vocabulary import VOCABULARY

ROOT = Path(__file__).resolve().parents[1]
SEED_RULESETS = {"order_approval": "order-approval", "credit_check": "credit", "pricing": "pricing",
                 "return_handling": "returns"}
"""The seed policy's rule set at each point (rules/*.yaml)."""
ORDER = OrderFacts.model_validate({
    "order": {"id": "SO-7", "customer_id": "C1", "order_date": "2026-11-02",
              "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": "100"}]},
    "customer": {"id": "C1", "name": "华东机电有限公司", "credit_limit": "1000"},
})
RETURN = ReturnFacts.model_validate({
    "return": {"id": "RT-7", "customer_id": "C1", "type": "return", "reason": "defect", "original_order_id": "SO-7",
               "sku": "P1", "qty": 1, "unit_price": "100", "delivered_qty": 1, "days_since_delivery": 3},
    "customer": {"id": "C1", "name": "华东机电有限公司", "credit_limit": "1000"},
})


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


# -- the declarations -------------------------------------------------------------------------------


def test_decision_points_and_their_hooks_are_read_from_the_declarations() -> None:
    assert DECISION_POINTS == ("order_approval", "credit_check", "pricing", "return_handling")
    assert tuple(spec.name for spec in BUILT_IN_POINTS) == DECISION_POINTS
    assert dict(DECISION_HOOKS) == {spec.name: spec.hook for spec in BUILT_IN_POINTS}
    assert set(typing.get_args(DecisionPoint)) == set(DECISION_POINTS)
    assert all(spec.origin is Origin.built_in for spec in BUILT_IN_POINTS)


@pytest.mark.parametrize("spec", BUILT_IN_POINTS, ids=lambda spec: spec.name)
def test_a_points_hook_is_specified_and_takes_the_points_document(spec: PointSpec) -> None:
    hook = getattr(hookspecs_module, spec.hook)
    assert getattr(hook, "salesgate_spec", None) is not None  # marked @hookspec, not merely a function
    assert hook.__annotations__["facts"] == spec.document.__name__  # hookspecs annotates as text (TYPE_CHECKING)


@pytest.mark.parametrize("spec", BUILT_IN_POINTS, ids=lambda spec: spec.name)
def test_a_points_subject_is_the_id_a_decision_is_about(spec: PointSpec) -> None:
    document: OrderFacts | ReturnFacts = ORDER if spec.document is OrderFacts else RETURN
    value: Any = document.model_dump(by_alias=True)
    for part in spec.subject.split("."):
        value = value[part]
    assert value == subject_of(document)
    assert spec.subject in VOCABULARY[spec.name]


def test_each_output_is_the_decision_field_only_its_point_may_carry() -> None:
    outputs = {(output.field, spec.name) for spec in BUILT_IN_POINTS for output in spec.outputs}
    assert outputs == set(_PAYLOAD_POINTS)  # what the facade refuses elsewhere
    for spec in BUILT_IN_POINTS:
        for output in spec.outputs:
            for model in (Decision, Contribution):
                assert output.model in typing.get_args(model.model_fields[output.field].annotation)


def test_the_tables_read_from_the_declarations_keep_their_values() -> None:
    assert ORDER_POINTS == ("order_approval", "credit_check", "pricing")
    assert dict(ALIASES) == {"approval": "order_approval", "credit": "credit_check", "return": "return_handling",
                             "returns": "return_handling"}
    assert list(ALIASES) == ["approval", "credit", "return", "returns"]  # the order an unknown hook's error lists
    assert SHORT == {"order_approval": "approval", "credit_check": "credit", "pricing": "pricing",
                     "return_handling": "returns"}
    assert _DATA == {"order_approval": "credit data", "credit_check": "credit data", "pricing": "pricing data",
                     "return_handling": "return data"}
    assert {spec.name: spec.title.en for spec in BUILT_IN_POINTS} == {  # report headings (Report.title)
        "order_approval": "Order approval", "credit_check": "Credit check", "pricing": "Pricing",
        "return_handling": "Returns"}
    assert _SUBJECT_KEYS == {"order_approval": "order", "credit_check": "order", "pricing": "order",
                             "return_handling": "return"}
    assert _PAYLOAD_POINTS == (("pricing", "pricing"), ("credit", "credit_check"), ("returns", "return_handling"))


@pytest.mark.parametrize("spec", BUILT_IN_POINTS, ids=lambda spec: spec.name)
def test_a_points_short_name_and_aliases_are_taken_by_decide(spec: PointSpec) -> None:
    for name in (spec.name, spec.short, *spec.aliases):
        assert _point(name) == spec.name


@pytest.mark.parametrize("spec", BUILT_IN_POINTS, ids=lambda spec: spec.name)
def test_every_point_and_output_is_described_in_chinese_and_english(spec: PointSpec) -> None:
    for label in (spec.title, spec.data):  # short labels: Chinese and ASCII, no sentence to capitalise
        assert any("\u4e00" <= char <= "\u9fff" for char in label.zh), label.zh
        assert label.en.isascii(), label.en
    for text in (spec.description, *(output.description for output in spec.outputs)):
        assert any("\u4e00" <= char <= "\u9fff" for char in text.zh), text.zh
        assert text.en.isascii(), text.en
        assert text.en[0].isupper(), text.en


def test_a_policys_rule_sets_are_found_at_their_points(tmp_path: Path) -> None:
    seed = load_policy(seed_policy_path())
    assert {point: list(seed.rulesets_for(point)) for point in DECISION_POINTS} == {
        point: [name] for point, name in SEED_RULESETS.items()}
    assert seed.rulesets_for("pricing")["pricing"] == len(seed.rules_for("pricing"))
    mini = load_policy(write_mini_policy(tmp_path / "mini"))
    assert mini.rulesets_for("order_approval") == {"approval": 2}
    assert mini.rulesets_for("pricing") == {}


# -- salesgate points -------------------------------------------------------------------------------


def test_points_lists_every_point_with_its_origin_fields_and_the_seeds_rule_sets() -> None:
    result = run("points")
    assert result.exit_code == 0, result.output
    out = result.stdout
    parts = re.split(r"^(\w+) \(built-in\)$", out, flags=re.M)  # each point's name line, then its block
    blocks = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert list(blocks) == list(DECISION_POINTS)
    for point, block in blocks.items():
        assert f"rule sets: {SEED_RULESETS[point]} 2026.11 (" in block
        assert POINT_SPECS[point].description.zh in block
        assert f"hook {DECISION_HOOKS[point]};" in block
        assert ("order.total" in block) is (point != "return_handling")
        assert ("return.amount" in block) is (point == "return_handling")
        assert ("line.policy_price" in block) is (point == "pricing")
    assert "output pricing (PricingResult)" in blocks["pricing"]
    assert "output returns (ReturnResult)" in blocks["return_handling"]


def test_points_for_one_point_takes_its_short_name() -> None:
    result = run("points", "returns")
    assert result.exit_code == 0, result.output
    assert "return_handling (built-in)" in result.stdout
    assert "order_approval" not in result.stdout


def test_points_json_says_everything_the_table_does() -> None:
    result = run("points", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    seed = load_policy(seed_policy_path())
    assert document["policy"] == {"name": seed.name, "version": seed.version, "hash": seed.hash}
    points = {point["name"]: point for point in document["points"]}
    declared = [name for name in seed.points if name not in DECISION_POINTS]  # the seed's points/
    assert list(points) == [*DECISION_POINTS, *declared]
    assert {points[name]["origin"] for name in declared} == {"policy"}
    for name in DECISION_POINTS:
        point, spec = points[name], POINT_SPECS[name]
        assert point["origin"] == "built-in"
        assert point["hook"] == spec.hook
        assert point["document"] == spec.document.__name__
        assert point["subject"] == spec.subject
        assert point["description"] == {"zh": spec.description.zh, "en": spec.description.en}
        paths = [field["path"] for field in point["fields"]]  # the shipped facts, and those policy.yaml declares
        assert [path for path in paths if path in VOCABULARY[name]] == list(VOCABULARY[name])
        assert point["rulesets"] == [{"name": SEED_RULESETS[name], "version": "2026.11",
                                      "rules": len(seed.rules_for(name))}]
    assert points["credit_check"]["outputs"][0]["field"] == "credit"
    assert points["credit_check"]["outputs"][0]["type"] == "CreditResult"
    assert points["order_approval"]["outputs"] == []
    grade = next(field for field in points["order_approval"]["fields"] if field["path"] == "customer.grade")
    assert grade["choices"] == ["A", "B", "C"]


def test_points_shows_the_rule_sets_of_the_policy_given(tmp_path: Path) -> None:
    policy = write_mini_policy(tmp_path / "mini")
    document = json.loads(run("points", "--json", "--rules", str(policy)).stdout)
    assert document["policy"]["name"] == "mini-policy"
    assert {p["name"]: [r["name"] for r in p["rulesets"]] for p in document["points"]} == {
        "order_approval": ["approval"], "credit_check": [], "pricing": [], "return_handling": []}
    shown = run("points", "credit", "--rules", str(policy)).stdout
    assert "rule sets: none in this policy (no rule decides here)" in shown


def test_points_with_a_missing_policy_directory_is_one_error_line(tmp_path: Path) -> None:
    result = run("points", "--rules", str(tmp_path / "nope"))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: --rules ")
    assert result.stderr.rstrip().endswith(": no such policy directory or file")


def test_points_unknown_point_is_a_clean_error() -> None:
    result = run("points", "shipping_release")
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "unknown decision point 'shipping_release'" in result.stderr


def test_points_prints_chinese_into_a_pipe_whatever_the_locale() -> None:
    roots = os.pathsep.join(str(ROOT / d) for d in ("core", "plugins", "adapters"))
    environ = {**os.environ, "PYTHONPATH": roots, "PYTHONIOENCODING": "latin-1", "LC_ALL": "C"}
    environ.pop("COLUMNS", None)
    done = subprocess.run([sys.executable, "-m", "salesgate", "points"], capture_output=True, env=environ,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    out = done.stdout.decode("utf-8")
    assert POINT_SPECS["return_handling"].description.zh in out
    assert max(len(line) for line in out.splitlines()) <= 140


def test_vocab_says_order_hooks_for_a_fact_every_order_point_reads() -> None:
    result = CliRunner().invoke(cli, ["vocab"], terminal_width=200)
    assert result.exit_code == 0, result.output
    order_id = next(line for line in result.output.splitlines() if line.split()[:1] == ["order.id"])
    customer_id = next(line for line in result.output.splitlines() if line.split()[:1] == ["customer.id"])
    assert "order hooks" in order_id
    # the seed policy declares points that do not include the customer: it is read by the built-in ones
    # and customer_grading, not by all
    assert customer_id.split()[2:4] == ["approval,", "credit,"]


# -- every tool on a point the policy declares (tests/fixtures/declared-policy) ---------------------

DECLARED = ROOT / "tests" / "fixtures" / "declared-policy"
SAMPLE = {"sample": {"id": "S-1", "customer_id": "C1", "value": "25000", "lines": [{"sku": "A", "qty": 150}]},
          "customer": {"id": "C1", "name": "华东机电", "tenure_years": 1}}


def test_points_lists_a_declared_point_with_where_it_comes_from_its_outputs_and_fields() -> None:
    result = run("points", "--rules", str(DECLARED))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.findall(r"^(\w+) \(", out, flags=re.M) == [*DECISION_POINTS, "sample_request"]
    block = out.split("sample_request (policy, points/sample_request.yaml)")[1]
    assert "样品申请 / Sample request" in block
    assert "hook salesgate_decide; document SampleRequestFacts, one per sample.id" in block
    assert "output deposit (percent, combine max): 押金比例" in block
    assert "output freight (collect | prepaid, combine priority): 运费" in block
    assert "rule sets: samples 1 (3 rules)" in block
    assert re.search(r"sample\.value\s+number \(money\)\s+points/sample_request\.yaml\s+Value of the samples", block)
    assert "customer.tenure_years" in block  # the policy's declared fact on the included customer


def test_points_json_gives_a_declared_points_origin_source_outputs_and_fields() -> None:
    document = json.loads(run("points", "sample_request", "--json", "--rules", str(DECLARED)).stdout)
    [point] = document["points"]
    policy = load_policy(DECLARED)
    assert (point["origin"], point["source"], point["hook"], point["subject"]) == (
        "policy", "points/sample_request.yaml", "salesgate_decide", "sample.id")
    assert point["title"] == {"zh": "样品申请", "en": "Sample request"}
    assert point["outputs"] == [
        {"name": "deposit", "field": "outputs.deposit", "type": "percent", "combine": "max", "choices": [],
         "description": {"zh": "押金比例", "en": "Deposit"}},
        {"name": "freight", "field": "outputs.freight", "type": "enum", "combine": "priority",
         "choices": ["collect", "prepaid"], "description": {"zh": "运费", "en": "Freight"}}]
    assert [f["path"] for f in point["fields"]] == list(policy.vocabulary["sample_request"])
    value = next(f for f in point["fields"] if f["path"] == "sample.value")
    assert (value["zh"], value["declared"], value["unit"]) == ("样品价值", "points/sample_request.yaml", "money")
    assert point["rulesets"] == [{"name": "samples", "version": "1", "rules": 3}]
    credit = json.loads(run("points", "credit", "--json").stdout)["points"][0]["outputs"]
    assert credit[0] | {"description": None} == {"name": "credit", "field": "credit", "type": "CreditResult",
                                                  "combine": None, "choices": [], "description": None}


def test_vocab_of_a_policy_includes_its_points_and_declared_facts_with_where_they_are_declared() -> None:
    result = CliRunner().invoke(cli, ["vocab", "--rules", str(DECLARED)], terminal_width=200)
    assert result.exit_code == 0, result.output
    tenure = next(line for line in result.output.splitlines() if line.split()[:1] == ["customer.tenure_years"])
    assert "all" in tenure
    assert "policy.yaml" in tenure
    assert "Years as a customer" in tenure
    facts = json.loads(run("vocab", "--json", "--rules", str(DECLARED)).stdout)
    qty = [f for f in facts if f["path"] == "line.qty"]  # the order line's and the sample line's: two facts
    assert [(f["hooks"], f["declared"]) for f in qty] == [
        (["order_approval", "credit_check", "pricing"], None), (["sample_request"], "points/sample_request.yaml")]
    make_or_buy = next(f for f in facts if f["path"] == "line.product.make_or_buy")
    assert (make_or_buy["zh"], make_or_buy["declared"], make_or_buy["choices"]) == ("自产或外购", "policy.yaml",
                                                                                   ["make", "buy"])
    one = run("vocab", "sample_request", "--rules", str(DECLARED))
    assert one.exit_code == 0, one.output
    assert one.stdout.startswith("Facts for sample_request")
    assert "样品价值" in one.stdout
    assert "order.total" not in one.stdout
    assert run("vocab", "--hook", "sample_request", "--rules", str(DECLARED)).stdout == one.stdout


def test_an_unknown_point_is_refused_with_a_did_you_mean_against_the_policys_points() -> None:
    for args in (["vocab", "sample_requst"], ["points", "sample_requst"], ["decide", "sample_requst", "{}"],
                 ["schema", "--facts", "sample_requst"]):
        result = run(*args, "--rules", str(DECLARED))
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: unknown decision point 'sample_requst' (did you mean "
                                        "'sample_request'?): use one of order_approval, credit_check, pricing, "
                                        "return_handling, sample_request"), result.stderr
    assert "unknown decision point 'sample_request'" in run("vocab", "sample_request").stderr  # not in the seed


def test_decide_a_declared_point_shows_its_outputs_and_explanations(tmp_path: Path) -> None:
    facts = tmp_path / "sample.json"
    facts.write_text(json.dumps(SAMPLE, ensure_ascii=False), encoding="utf-8")
    shown = run("decide", "sample_request", str(facts), "--rules", str(DECLARED), "--explain", "--backend", "python")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("sample_request S-1: block")
    assert "outputs: deposit 50%, freight collect" in shown.stdout
    assert "sample.value is 25,000, > 20,000; customer.tenure_years is 1, < 2" in shown.stdout
    decision = json.loads(run("decide", "sample-request", str(facts), "--rules", str(DECLARED), "--json",
                              "--backend", "python").stdout)
    assert (decision["hook"], decision["subject"], decision["outputs"]) == (
        "sample_request", "S-1", {"deposit": "0.5", "freight": "collect"})
    bad = run("decide", "sample_request", json.dumps({**SAMPLE, "customer": {"id": "C1", "name": "x",
                                                                             "tenure_yeras": 1}}),
              "--rules", str(DECLARED), "--backend", "python")
    assert bad.exit_code == 2
    assert "customer.tenure_yeras: not a fact salesgate knows (did you mean 'tenure_years'?)" in bad.stderr


def test_schema_of_a_policys_rule_files_names_its_points_and_what_set_may_set() -> None:
    schema = json.loads(run("schema", "--rules", str(DECLARED)).stdout)
    assert schema["properties"]["point"]["enum"] == [*DECISION_POINTS, "sample_request"]
    assert schema["properties"]["hook"]["enum"] == schema["properties"]["point"]["enum"]
    by_key = {rule["if"]["required"][0]: rule for rule in schema["allOf"]}
    assert set(by_key) == {"point", "hook"}
    condition = by_key["point"]
    assert condition["if"]["properties"]["point"] == {"const": "sample_request"}
    settable = condition["then"]["properties"]["rules"]["items"]["properties"]["then"]["properties"]["set"]
    assert settable["additionalProperties"] is False
    assert settable["properties"]["freight"]["enum"] == ["collect", "prepaid"]
    assert {"type": "number"} in settable["properties"]["deposit"]["anyOf"]  # 20%, or an expression, or a number


def test_schema_of_point_declarations_and_of_a_points_facts() -> None:
    point_file = json.loads(run("schema", "--point-file").stdout)
    assert {"point", "title", "description", "document", "fields"} <= set(point_file["required"])
    assert point_file["title"] == "salesgate point declaration (points/*.yaml)"
    assert "FieldDecl" in point_file["$defs"]
    assert "OutputDecl" in point_file["$defs"]
    facts = json.loads(run("schema", "--facts", "sample_request", "--rules", str(DECLARED)).stdout)
    assert facts["title"] == "salesgate facts for sample_request"
    assert set(facts["required"]) == {"sample", "customer"}
    document = facts["$defs"]["Sample"]
    assert document["additionalProperties"] is False
    assert {"id", "customer_id", "value"} <= set(document["required"])
    assert "tenure_years" in facts["$defs"]["Customer"]["properties"]  # policy.yaml's declared fact
    order = json.loads(run("schema", "--facts", "approval").stdout)
    assert set(order["required"]) >= {"order"}
    assert run("schema", "--point-file", "--policy-file").exit_code == 2


class _Sample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Sample request number.")
    value: Decimal = Field(description="Value of the samples.")


class _SampleFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sample: _Sample


class _SamplePlugin:
    @hookimpl
    def salesgate_register_points(self, register: Any) -> None:
        register(name="sample_request", document=_SampleFacts, subject="sample.id",
                 title={"zh": "样品申请", "en": "Sample request"},
                 description={"zh": "免费样品申请", "en": "A request for free samples"})


def test_points_and_vocab_show_a_point_an_installed_plugin_declares(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    declared = installed_points([_SamplePlugin()], entry_points=False)
    monkeypatch.setattr("salesgate.commands.installed_points", lambda: declared)
    policy = write_mini_policy(tmp_path / "mini")
    (policy / "samples.yaml").write_text(
        "ruleset: samples\npoint: sample_request\nversion: '1'\nrules:\n"
        "  - id: big\n    when: sample.value > 5000\n    then: {warn: 样品大}\n", encoding="utf-8")
    shown = run("points", "sample_request", "--rules", str(policy))
    assert shown.exit_code == 0, shown.output
    assert "sample_request (plugin, test_points._SamplePlugin)" in shown.stdout
    assert "rule sets: samples 1 (1 rule)" in shown.stdout
    facts = json.loads(run("vocab", "sample_request", "--json", "--rules", str(policy)).stdout)
    assert [(f["path"], f["declared"]) for f in facts] == [
        ("sample.id", "test_points._SamplePlugin"), ("sample.value", "test_points._SamplePlugin"),
        ("today", None)]  # every point reads the decision's as-of date
    decided = json.loads(run("decide", "sample_request", '{"sample": {"id": "S-1", "value": "6000"}}', "--rules",
                             str(policy), "--json", "--backend", "python").stdout)
    assert (decided["subject"], decided["outcome"]) == ("S-1", "warn")
