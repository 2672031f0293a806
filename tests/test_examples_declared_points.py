"""The two examples of declared decision points, decided as their READMEs say.

``examples/sample-request-policy`` declares ``sample_request`` in YAML only; ``examples/salesgate-quotation``
is a plugin package declaring ``quotation`` with a pydantic model: it is really built and installed
(into a temporary target directory, offline, no dependencies), then fresh interpreters find the
point through its entry point alone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from salesgate import BackendName, FactsError, Gate, Origin, Outcome, PolicyError, load_policy

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "examples" / "sample-request-policy"
QUOTATION = ROOT / "examples" / "salesgate-quotation"
BACKENDS: list[BackendName] = ["python", "durable", "compiled"]


def request(**changes: Any) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((SAMPLES / "request.json").read_text(encoding="utf-8"))
    for path, value in changes.items():
        document, field = path.split("__")
        facts[document][field] = value
    return facts


# -- a point declared in YAML only -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_readme_request_needs_the_sales_manager_with_a_deposit_a_charge_and_express(backend: BackendName) -> None:
    decision = Gate.from_path(SAMPLES, backend=backend).decide("sample_request", request())
    assert (decision.hook, decision.subject, decision.outcome) == ("sample_request", "SR-2026-0042",
                                                                   Outcome.require_approval)
    assert decision.required_roles == ["sales_manager"]
    assert decision.outputs == {"deposit": Decimal("0.3"), "charge": Decimal("2800.00"), "shipping": "express"}
    # rush and standard-shipping only set shipping: they fire (in the trace) but give no reason
    assert [(r.rule, r.outcome.value, r.line_no) for r in decision.reasons] == [
        ("samples-over-5000", "require_approval", None), ("new-customer-deposit", "warn", None),
        ("new-customer-allowance", "warn", None), ("many-units", "warn", 2)]
    assert [t.rule for t in Gate.from_path(SAMPLES, backend=backend).decide(
        "sample_request", request(), explain=True).trace if t.fired][-3:] == ["rush", "standard-shipping", "many-units"]
    assert decision.model_dump(mode="json")["outputs"] == {"deposit": "0.3", "charge": "2800.00",
                                                           "shipping": "express"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_returning_customers_small_request_is_allowed_and_ships_standard(backend: BackendName) -> None:
    facts = request(sample__value="3000", sample__needed_by="2026-12-20", sample__lines=[{"sku": "A", "qty": 2}],
                    customer__tenure_years=4)
    decision = Gate.from_path(SAMPLES, backend=backend).decide("sample_request", facts)
    assert (decision.outcome, decision.required_roles, decision.outputs) == (Outcome.allow, [],
                                                                            {"shipping": "standard"})


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_blocked_customer_gets_no_samples_and_every_rule_that_fired_sets_its_outputs(backend: BackendName) -> None:
    facts = request(sample__value="25000", customer__status="blocked")
    decision = Gate.from_path(SAMPLES, backend=backend).decide("sample_request", facts)
    assert decision.outcome is Outcome.block
    assert decision.required_roles == ["sales_manager", "general_manager"]
    assert decision.outputs == {"deposit": Decimal("1"), "charge": Decimal("15000.00"), "shipping": "express"}


def test_what_a_caller_leaves_out_is_missing_and_what_it_misspells_is_refused() -> None:
    gate = Gate.from_path(SAMPLES, backend="python")
    facts = request()
    del facts["customer"]["tenure_years"], facts["sample"]["needed_by"]
    unknown = gate.decide("sample_request", facts)  # new-customer rules and rush read what is missing: false
    assert unknown.outputs == {"shipping": "standard"}
    facts["sample"]["valeu"] = facts["sample"].pop("value")
    with pytest.raises(FactsError, match=r"sample.valeu: not a fact salesgate knows \(did you mean 'value'\?\)"):
        gate.decide("sample_request", facts)


def test_the_policy_declares_the_point_and_the_fact() -> None:
    policy = load_policy(SAMPLES)
    spec = policy.points["sample_request"]
    assert (spec.origin, spec.source, spec.subject) == (Origin.policy, "points/sample_request.yaml", "sample.id")
    assert [(o.name, o.combine.value) for o in spec.declared_outputs] == [
        ("deposit", "max"), ("charge", "max"), ("shipping", "priority")]
    facts = policy.vocabulary["sample_request"]
    assert facts["customer.tenure_years"].declared == "policy.yaml"
    assert (facts["sample.purpose"].choices, facts["sample.value"].zh) == (
        ("trial", "exhibition", "tender"), "样品总价值（出厂价）")


def test_salesgate_validate_accepts_the_example() -> None:
    done = _salesgate(None, "validate", str(SAMPLES))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: sample-requests 2026.12 (")


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_examples_cases_pass_and_fire_every_rule(backend: BackendName) -> None:
    done = _salesgate(None, "test", str(SAMPLES), "--backend", backend, "--require-coverage")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.endswith("coverage: every rule (8) fired in a passing case\nok: 9 passed\n")


# -- a point declared by an installed plugin ---------------------------------------------------------------

PROBE = """
import json, sys
from salesgate import Gate
from salesgate_quotation import SAMPLE

policy = sys.argv[1]
facts = json.loads(open(sys.argv[2], encoding="utf-8").read())
gate = Gate.from_path(policy, backend="python")
by_id = Gate.from_path(policy, backend="python", adapter="quotation_book", adapter_options={"file": SAMPLE})
decisions = {"given": gate.decide("quotation", facts),
             "QT-2026-0101": by_id.decide("quotation", {"quotation": "QT-2026-0101"})}
spec = gate.policy.points["quotation"]
print(json.dumps({"point": [spec.origin.value, spec.source], "plugins": gate.hooks.plugin_names(),
                  "decisions": {key: {"subject": d.subject, "outcome": d.outcome.value, "roles": d.required_roles,
                                      "outputs": d.model_dump(mode="json")["outputs"],
                                      "rules": [r.rule for r in d.reasons], "failure": d.failure}
                                for key, d in decisions.items()}}, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built from a copy (no build/ or egg-info in the tree) and installed into a target."""
    source = tmp_path_factory.mktemp("source") / QUOTATION.name
    shutil.copytree(QUOTATION, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True, text=True)
    return target


def _env(site: Path | None, **extra: str) -> dict[str, str]:
    roots = [str(ROOT / "core"), str(ROOT / "plugins"), str(ROOT / "adapters")]
    path = os.pathsep.join([str(site), *roots] if site is not None else roots)
    env = {k: v for k, v in os.environ.items() if k != "SALESGATE_DISABLE_PLUGINS"}
    return {**env, "PYTHONPATH": path, "PYTHONIOENCODING": "utf-8", **extra}


def _salesgate(site: Path | None, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "salesgate", *args], capture_output=True, text=True,
                          encoding="utf-8", env=_env(site, **env), check=False)


def test_the_installed_plugin_declares_the_point_its_entry_point_names(installed: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, str(QUOTATION / "policy"), str(QUOTATION / "quotation.json")],
                          capture_output=True, text=True, encoding="utf-8", env=_env(installed), check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["point"] == ["plugin", "quotation"]
    assert "quotation" in out["plugins"]
    assert out["decisions"] == {
        "given": {"subject": "QT-2026-0117", "outcome": "require_approval",
                  "roles": ["sales_manager", "general_manager"], "outputs": {"validity_days": 15, "deposit": "0.3"},
                  "rules": ["thin-margin", "below-cost", "grade-c-advance"], "failure": None},
        "QT-2026-0101": {"subject": "QT-2026-0101", "outcome": "require_approval", "roles": ["finance"],
                         "outputs": {}, "rules": ["large-quotation"], "failure": None},
    }


def test_disabling_the_plugin_takes_its_point_with_it(installed: Path) -> None:
    decided = _salesgate(installed, "decide", "quotation", str(QUOTATION / "quotation.json"),
                         "--rules", str(QUOTATION / "policy"), "--backend", "python")
    assert decided.returncode == 0, decided.stderr
    disabled = _salesgate(installed, "decide", "quotation", str(QUOTATION / "quotation.json"),
                          "--rules", str(QUOTATION / "policy"), SALESGATE_DISABLE_PLUGINS="quotation")
    assert disabled.returncode == 2
    assert "quotations.yaml:2, field 'hook': unknown decision point 'quotation'" in disabled.stderr
    assert "Traceback" not in disabled.stderr


def test_salesgate_validate_knows_the_points_installed_plugins_declare(installed: Path) -> None:
    done = _salesgate(installed, "validate", str(QUOTATION / "policy"))
    assert done.returncode == 0, done.stderr


def test_the_quotation_packages_own_tests_pass(installed: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(QUOTATION / "tests")],
                          capture_output=True, text=True, encoding="utf-8", env=_env(installed), cwd=QUOTATION,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout


# -- docs/decision-points.md and the examples' READMEs are true ----------------------------------------------

GUIDE = ROOT / "docs" / "decision-points.md"
READMES = [SAMPLES / "README.md", QUOTATION / "README.md"]


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_every_file_the_guide_shows_is_the_examples_file() -> None:
    """A block headed ``# examples/<file>`` quotes that file: each part between lines ``...`` (indented or not)
    verbatim, in order."""
    quoted = [block for language in ("yaml", "python", "toml") for block in blocks(GUIDE, language)
              if block.startswith(("# examples/", "# tests/fixtures/"))]
    assert len(quoted) >= 9
    for block in quoted:
        header, _, body = block.partition("\n")
        text = (ROOT / header.removeprefix("# ")).read_text(encoding="utf-8")
        position = 0
        for part in re.split(r"^ *\.\.\.\n", body, flags=re.M):
            found = text.find(part, position)
            assert found >= 0, f"{header}: not in the file:\n{part}"
            position = found + len(part)


RUNNER = """
import json, re, sys
from decimal import Decimal
from salesgate import Outcome

wrong = []
for where, code in json.loads(sys.stdin.read()):
    namespace = {"Decimal": Decimal, "Outcome": Outcome}
    exec(compile(code, where, "exec"), namespace)
    for expression, shown in re.findall(r"^(decision\\S*)\\s+# (.+)$", code, re.M):
        got, expected = eval(expression, namespace), eval(shown, namespace)
        if got != expected:
            wrong.append(f"{where}: {expression} is {got!r}, the docs say {shown}")
print(json.dumps(wrong))
"""


def test_every_python_example_runs_and_gives_what_its_comments_say(installed: Path) -> None:
    code = [(f"{path.relative_to(ROOT)}", block) for path in (GUIDE, *READMES) for block in blocks(path, "python")
            if not block.startswith("# examples/")]
    assert len(code) == 4
    assert sum(len(re.findall(r"^decision\S*\s+# ", block, re.M)) for _, block in code) >= 10
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(code), capture_output=True, text=True,
                          encoding="utf-8", env=_env(installed), cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def _normalized(text: str) -> str:
    return re.sub(r"\([0-9a-f]{16}\)", "(<hash>)", text).rstrip("\n")


def test_every_command_the_guide_shows_prints_what_it_shows(installed: Path) -> None:
    """Each ``$ salesgate ...`` and its output; an output ending in a line ``…`` is the start of what it prints."""
    ran = 0
    for block in blocks(GUIDE, "console"):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, shown = chunk.partition("\n")
            env = {k: v for k, v in _env(installed).items() if k != "COLUMNS"}
            done = subprocess.run([sys.executable, "-m", "salesgate", *shlex.split(command)[1:]], capture_output=True,
                                  text=True, encoding="utf-8", env=env, cwd=ROOT, check=False)
            assert done.returncode == 0, f"$ {command}\n{done.stderr}"
            got, expected = _normalized(done.stdout), _normalized(shown)
            if expected.endswith("\n…"):
                got, expected = got[:len(expected) - 2], expected[:-2]
            assert got == expected, f"$ {command}"
            ran += 1
    assert ran == 6


# The edits behind the guide's table of policy errors, row by row.
POLICY_EDITS = [
    ("points/sample_request.yaml", "value: {type: money,", "value: {type: mony,"),
    ("points/sample_request.yaml", "purpose: {type: enum, record: true, choices: [trial, exhibition, tender], ",
     "purpose: {type: enum, "),
    ("points/sample_request.yaml", "  returnable: {type: bool,", "  returnable: {type: bool, requird: true,"),
    ("points/sample_request.yaml", "description: {zh: 申请单号, en: Request number}", "description: Request number"),
    ("points/sample_request.yaml", "point: sample_request", "point: pricing"),
    ("points/sample_request.yaml", "document: sample ", "document: customer "),
    ("points/sample_request.yaml", "subject: sample.id", "subject: sample.value"),
    ("points/sample_request.yaml", "shipping: {type: enum, choices: [express, standard], combine: priority",
     "shipping: {type: text, combine: priority"),
    ("samples.yaml", "point: sample_request", "point: sample_requests"),
    ("samples.yaml", "when: sample.value > 5000", "when: sample.valeu > 5000"),
    ("samples.yaml", "set: {deposit: 30%}", "set: {deposit: 30%, freight: collect}"),
    ("samples.yaml", "set: {shipping: express}", "set: {shipping: air}"),
    ("samples.yaml", "set: {charge: sample.value - 10000}", "set: {charge: sample.purpose}"),
    ("policy.yaml", "customer.tenure_years:", "custmer.tenure_years:"),
    ("policy.yaml", "customer.tenure_years:", "customer.grade:"),
]


def _error_tables() -> list[list[str]]:
    section = GUIDE.read_text(encoding="utf-8").split("## Errors and what they mean", 1)[1]
    tables = [[line for line in table.splitlines() if line.startswith("| ") and "`" in line.rsplit(" | ", 1)[1]]
              for table in re.split(r"\n\n", section) if table.startswith("| ")]
    return [[line.rsplit(" | ", 1)[1].strip(" |`") for line in table] for table in tables if table]


@pytest.mark.parametrize(("index", "edit"), list(enumerate(POLICY_EDITS)))
def test_each_policy_error_the_guide_shows_is_what_salesgate_says(tmp_path: Path, index: int,
                                                                  edit: tuple[str, str, str]) -> None:
    shown = _error_tables()[0]
    assert len(shown) == len(POLICY_EDITS)
    policy = tmp_path / "policy"
    shutil.copytree(SAMPLES, policy)
    file, old, new = edit
    text = (policy / file).read_text(encoding="utf-8")
    assert old in text
    (policy / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(policy)
    assert f"{policy}/{shown[index]}" in [str(problem) for problem in caught.value.problems]


CALLER_MISTAKES: list[tuple[str, Any]] = [
    ("sample_requst", request()),
    ("sample_request", {"sample": {"id": "S-1", "customer_id": "C007", "valeu": "100", "requested_on": "2026-12-01"},
                        "customer": {"id": "C007", "name": "苏州精工机械有限公司"}}),
    ("sample_request", request(sample__needed_by="3.12.2026")),
    ("sample_request", {"sample": "SR-1"}),
]


def test_each_callers_mistake_the_guide_shows_is_what_gate_decide_raises() -> None:
    shown = _error_tables()[1]
    assert len(shown) == len(CALLER_MISTAKES)
    gate = Gate.from_path(SAMPLES, backend="python")
    for (point, facts), message in zip(CALLER_MISTAKES, shown, strict=True):
        with pytest.raises(FactsError) as caught:
            gate.decide(point, facts)
        assert str(caught.value) == message
