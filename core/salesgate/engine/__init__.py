"""The matching backends, and the one registry that names them: where a new backend is added.

A backend implements :class:`~salesgate.policy.stages.Backend`: built from a compiled policy's
stages, it answers which rules match which facts. Three ship: ``durable`` (durable-rules, the
default for live decisions; everything durable-rules-specific lives in :mod:`salesgate.engine.durable`),
``python`` (:mod:`salesgate.engine.python`, matching with the policy's own evaluator: bulk work,
fallback, the reference) and ``compiled`` (:mod:`salesgate.engine.compiled`, one generated Python
function per stage, :mod:`salesgate.policy.codegen`: the same answers as ``python``, faster). The
engine package is built on the policy package and never the other way round.

Adding a backend: its module in this package, its name in :data:`BackendName` and one entry in
:data:`BACKENDS`. The gate, the CLI's ``--backend`` and the pytest plugin take their names from here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TypeAlias, cast, get_args

from ..policy.stages import Backend, Stage

BackendName: TypeAlias = Literal["durable", "python", "compiled"]

BACKENDS: Mapping[BackendName, str] = {
    "durable": "salesgate.engine.durable:DurableBackend",
    "python": "salesgate.engine.python:PythonBackend",
    "compiled": "salesgate.engine.compiled:CompiledBackend",
}
"""Each backend's class by import path, imported only when a gate asks for that backend: durable-rules
is a C extension that may not import (Python 3.13, a broken build), and a gate on the python backend
must not need it."""

BACKEND_NAMES: tuple[BackendName, ...] = get_args(BackendName)
"""The backend names in the order the CLI and the pytest plugin offer them."""


def make_backend(name: BackendName, stages: Sequence[Stage]) -> Backend:
    """Build the named matching backend for a policy's stages.

    Raises ValueError for a name no backend has, and the backend's ImportError when its module
    cannot import (the CLI turns that into "the durable backend is not available ...; try --backend
    python").
    """
    path = BACKENDS.get(name)
    if path is None:
        names = [repr(n) for n in BACKENDS]
        raise ValueError(f"unknown backend {name!r}: use {', '.join(names[:-1])} or {names[-1]}")
    module, _, attribute = path.partition(":")
    backend_class = cast(Callable[[Sequence[Stage]], Backend], getattr(importlib.import_module(module), attribute))
    return backend_class(stages)
