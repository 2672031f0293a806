"""Lint and type checks are part of the test suite, so `.ci/run` (pytest) enforces them too.

The configuration lives in pyproject.toml ([tool.ruff], [tool.mypy]); these tests only run the
tools from the repository root. A missing tool skips locally but fails under CI.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import tokenize
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


EXEC_ALLOWED = [("core/salesgate/policy/codegen.py", "exec")]
"""The one place salesgate runs code: the compiled backend's generated module, checked against a whitelist
first and never holding rule text (its docstring says why), called once. Nothing else calls exec or eval."""


def test_exec_and_eval_run_only_the_checked_generated_code() -> None:
    found = []
    for package in ("core", "plugins", "adapters", "benchmarks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline))
            for before, token, after in zip(tokens, tokens[1:], tokens[2:], strict=False):
                if token.type == tokenize.NAME and token.string in ("exec", "eval") and after.string == "(" \
                        and before.string != ".":
                    found.append((path.relative_to(ROOT).as_posix(), token.string))
    assert found == EXEC_ALLOWED
