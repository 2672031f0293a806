"""The backend registry (salesgate/engine/__init__.py): the one place a backend is named and built.

A new backend is one entry there; these tests hold the registry to the names the gate, the CLI and the
pytest plugin accept, and keep durable-rules (a C extension) out of a process that never asks for it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from salesgate import BackendName, load_policy, seed_policy_path
from salesgate.engine import BACKEND_NAMES, BACKENDS, make_backend

ROOT = Path(__file__).resolve().parents[1]
BUILDABLE = [name for name in BACKEND_NAMES
             if name != "durable" or importlib.util.find_spec("salesgate.engine.durable") is not None]


def test_every_backend_name_has_one_entry_in_the_registry() -> None:
    assert tuple(BACKENDS) == get_args(BackendName) == BACKEND_NAMES


@pytest.mark.parametrize("name", BUILDABLE)
def test_a_backend_built_by_name_is_the_class_the_registry_names(name: BackendName) -> None:
    backend = make_backend(name, load_policy(seed_policy_path()).stages())
    try:
        module, _, class_name = BACKENDS[name].partition(":")
        assert (type(backend).__module__.startswith(module), type(backend).__name__) == (True, class_name)
        assert backend.name == name
    finally:
        backend.close()


def test_an_unknown_backend_name_is_refused_naming_the_backends_there_are() -> None:
    with pytest.raises(ValueError, match=r"^unknown backend 'drools': use 'durable', 'python' or 'compiled'$"):
        make_backend("drools", ())  # type: ignore[arg-type]


def test_a_gate_on_the_python_backend_never_imports_durable_rules() -> None:
    code = textwrap.dedent("""
        import sys
        from salesgate import Gate, load_policy, seed_policy_path
        with Gate(load_policy(seed_policy_path()), backend="python", entry_points=False) as gate:
            assert gate.backend == "python"
        print(sorted(m for m in sys.modules if m.split(".")[0] == "durable" or m.startswith("salesgate.engine.dur")))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("core", "plugins", "adapters"))}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
