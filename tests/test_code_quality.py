"""Lint and type checks are part of the test suite, so `.ci/run` (pytest) enforces them too.

The configuration lives in pyproject.toml ([tool.ruff], [tool.mypy]); these tests only run the
tools from the repository root. A missing tool skips locally but fails under CI.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_tool(module: str, *args: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} is not installed; CI must run it: pip install '.[test]'")
        pytest.skip(f"{module} is not installed (pip install '.[test]')")
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, f"{module} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def test_ruff_finds_nothing() -> None:
    run_tool("ruff", "check", ".")


def test_mypy_strict_finds_nothing() -> None:
    run_tool("mypy")
