"""The example adapter package is real: installed into a fresh venv, the gate finds it by name and uses it.

Everything happens offline, as on a build machine without an index:

1. salesgate (this checkout) and examples/salesgate-csv-adapter are copied to a temporary directory,
   so that building writes no ``build/`` or ``*.egg-info`` into the tree;
2. both are built into wheels by the running interpreter's own setuptools
   (``pip wheel --no-index --no-build-isolation --no-deps``);
3. a fresh venv is made (``python -m venv --without-pip``) whose site-packages gets a ``.pth`` file
   listing the running interpreter's site-packages: the dependencies (pluggy, pydantic, pytest, …)
   come from there, while the two wheels are installed into the venv itself, which comes first
   on ``sys.path`` and so shadows any salesgate installed next to the test run (``.ci/run``);
4. a fresh interpreter of that venv, with no PYTHONPATH, decides orders and a return named by ids only
   through ``adapter="csv"``, and runs the package's own tests with ``-p salesgate.testing``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "salesgate-csv-adapter"
SALESGATE_SOURCES = ("pyproject.toml", "setup.py", "README.md", "core", "plugins", "adapters", "rules")
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".pytest_cache", ".mypy_cache")

PROBE = """
import json, sys
import salesgate, salesgate_csv_adapter
from salesgate import Gate, load_policy
from salesgate.seed import seed_policy_path
from salesgate_csv_adapter import SAMPLE_DIRECTORY

gate = Gate(load_policy(seed_policy_path()), backend="python",
            adapter="csv", adapter_options={"directory": SAMPLE_DIRECTORY, "today": "2026-11-23", "timezone": "UTC"})
decisions = {"approval SO-2001": gate.approve_order({"order": "SO-2001"}),
             "credit SO-2003": gate.check_credit({"order": "SO-2003"}),
             "return RMA-301": gate.handle_return({"return": {
                 "id": "RMA-301", "customer_id": "K001", "reason": "defect", "original_order_id": "SO-1801",
                 "sku": "MOTOR-5.5", "qty": 3, "requested_on": "2026-11-23"}})}
print(json.dumps({
    "prefix": sys.prefix,
    "modules": [salesgate.__file__, salesgate_csv_adapter.__file__, str(seed_policy_path())],
    "plugins": gate.hooks.plugin_names(),
    "adapter": type(gate.adapter).__name__,
    "decisions": {name: {"outcome": d.outcome.value, "roles": d.required_roles, "rules": [r.rule for r in d.reasons],
                         "failure": d.failure} for name, d in decisions.items()},
}, ensure_ascii=False))
"""


@dataclass(frozen=True)
class Venv:
    root: Path
    python: Path
    package: Path  # the copy of the example package that was installed (its tests are run from here)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SALESGATE_DISABLE_PLUGINS")}
    return {**env, "PYTHONIOENCODING": "utf-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def _run(*args: str | Path, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, encoding="utf-8", cwd=cwd,
                          env=_env(**env), check=False, timeout=600)


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{' '.join(result.args)}\n{result.stdout}\n{result.stderr}"
    return result


def _parent_site_packages() -> list[str]:
    """Where the running interpreter's installed packages are (not the checkout's source roots)."""
    return [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    work = tmp_path_factory.mktemp("csv-adapter-package")
    salesgate = work / "salesgate"
    for name in SALESGATE_SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, salesgate / name, ignore=NOT_SOURCES)
        else:
            salesgate.mkdir(exist_ok=True)
            shutil.copy2(source, salesgate / name)
    package = Path(shutil.copytree(EXAMPLE, work / "salesgate-csv-adapter", ignore=NOT_SOURCES))

    wheels = work / "wheels"
    _ok(_run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-index", "--no-build-isolation", "--no-deps",
             "--wheel-dir", wheels, salesgate, package))

    root = work / "venv"
    _ok(_run(sys.executable, "-m", "venv", "--without-pip", root))
    python = root / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")
    site_packages = Path(_ok(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
                         .stdout.strip())
    (site_packages / "_salesgate_test_dependencies.pth").write_text(
        "\n".join(_parent_site_packages()) + "\n", encoding="utf-8")
    # --ignore-installed: a salesgate installed next to the test run is seen through the .pth file; never touch it.
    _ok(_run(python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--ignore-installed",
             *sorted(wheels.glob("*.whl"))))
    return Venv(root, python, package)


def test_fresh_interpreter_finds_the_csv_adapter_by_entry_point_and_decides_from_ids(venv: Venv) -> None:
    out = json.loads(_ok(_run(venv.python, "-c", PROBE, cwd=venv.root)).stdout)
    assert Path(out["prefix"]) == venv.root
    for module in out["modules"]:  # salesgate, the adapter and the seed policy all come from the venv
        assert Path(module).is_relative_to(venv.root), module
    assert "csv_adapter" in out["plugins"]
    assert out["adapter"] == "CsvAdapter"
    assert out["decisions"] == {
        "approval SO-2001": {"outcome": "require_approval", "roles": ["sales_manager", "general_manager"],
                             "rules": ["large-order"], "failure": None},
        "credit SO-2003": {"outcome": "block", "roles": [], "rules": ["long-overdue", "any-overdue"],
                           "failure": None},
        "return RMA-301": {"outcome": "require_approval", "roles": ["sales_manager"], "rules": ["return-over-5000"],
                           "failure": None},
    }


def test_disabled_adapter_package_leaves_the_name_unknown(venv: Venv) -> None:
    result = _run(venv.python, "-c", PROBE, cwd=venv.root, SALESGATE_DISABLE_PLUGINS="csv_adapter")
    assert result.returncode != 0
    assert "unknown adapter 'csv'" in result.stderr


def test_package_own_tests_pass_with_the_contract_suite(venv: Venv) -> None:
    result = _ok(_run(venv.python, "-m", "pytest", "-p", "salesgate.testing", "-p", "no:cacheprovider", "-v",
                      "tests", cwd=venv.package))
    assert "test_contract.py::TestCsvAdapterContract::test_is_found_by_name_through_a_gate PASSED" in result.stdout
    assert "test_contract.py::TestCsvAdapterContract::test_ten_threads_loading_the_same_customer_agree PASSED" \
        in result.stdout
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=+ \d+ passed in [\d.]+s( \([\d:]+\))? =+", summary), summary


def test_writing_adapters_guide_quotes_the_example_as_it_is() -> None:
    """A code block whose first line is ``# examples/...`` must appear verbatim in that file."""
    guide = (ROOT / "docs" / "writing-adapters.md").read_text(encoding="utf-8")
    quoted = re.findall(r"```\w+\n# (examples/\S+)\n(.*?)```", guide, flags=re.DOTALL)
    assert len(quoted) >= 5
    stale = [path for path, code in quoted if code not in (ROOT / path).read_text(encoding="utf-8")]
    assert not stale, f"docs/writing-adapters.md quotes these files as they no longer are: {stale}"
