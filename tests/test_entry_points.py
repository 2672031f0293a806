"""Third-party plugins are found through the ``salesgate`` entry-point group, like pytest plugins.

The example package in examples/salesgate-legal-review is really built and installed (into a
temporary target directory, offline, no dependencies), then a fresh interpreter must discover it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "salesgate-legal-review"

PROBE = """
import json, sys
from salesgate import Gate
from salesgate.errors import PluginError
gate = Gate.default(backend="python")
order = {"order": {"id": "SO-9", "customer_id": "C1", "order_date": "2026-11-23",
                   "lines": [{"line_no": 1, "sku": "P1", "qty": 1, "unit_price": "600000"}]},
         "customer": {"id": "C1", "name": "华东机电有限公司", "credit_limit": "1000000"}}
decision = gate.approve_order(order)
print(json.dumps({"plugins": gate.hooks.plugin_names(), "roles": decision.required_roles,
                  "rules": [r.rule for r in decision.reasons]}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, text=True,
    )
    return target


def _run(site: Path, **env: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(site), str(ROOT / "core"), str(ROOT / "plugins"), str(ROOT / "adapters")])
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path, "PYTHONIOENCODING": "utf-8", **env}, check=False)


def test_installed_plugin_is_discovered_and_takes_part_in_decisions(installed: Path) -> None:
    result = _run(installed)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert "legal_review" in out["plugins"]
    assert out["roles"] == ["sales_manager", "finance", "legal", "general_manager"]
    assert "legal-review-large-contract" in out["rules"]


def test_installed_plugin_can_be_disabled_by_environment(installed: Path) -> None:
    result = _run(installed, SALESGATE_DISABLE_PLUGINS="legal_review")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert "legal_review" not in out["plugins"]
    assert "legal" not in out["roles"]


def test_plugin_that_fails_to_import_stops_the_gate(installed: Path) -> None:
    module = installed / "salesgate_legal_review" / "__init__.py"
    original = module.read_text(encoding="utf-8")
    module.write_text(original + "\nraise RuntimeError('broken on purpose')\n", encoding="utf-8")
    try:
        result = _run(installed)
    finally:
        module.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    assert "plugin 'legal_review' (package salesgate-legal-review) failed to load" in result.stderr
    assert "SALESGATE_DISABLE_PLUGINS=legal_review" in result.stderr


def test_example_plugin_own_tests_pass(installed: Path) -> None:
    path = os.pathsep.join([str(installed), str(ROOT / "core"), str(ROOT / "plugins"), str(ROOT / "adapters")])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}, cwd=EXAMPLE, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
