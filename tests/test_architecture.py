"""The dependency rule, and the public surface the docs and examples stand on (docs/architecture.md#layers).

* The import contracts in pyproject.toml (``[tool.importlinter]``) hold: core never imports the
  plugins or adapters packages, those two never import each other, and inside core each layer
  imports only the layers below it.
* No import cycle among the modules of the three packages, function-level and type-checking
  imports included: a cycle hidden in a function is still a cycle.
* README, docs and examples import salesgate only through ``salesgate`` itself, and only names it
  exports, so the surface a user learns is the one ``salesgate/__init__.py`` keeps stable.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = [ROOT / "core", ROOT / "plugins", ROOT / "adapters"]
PACKAGES = ("salesgate", "salesgate_plugins", "salesgate_adapters")

PUBLIC_MODULES = {
    "salesgate": "the public API",
    # The pytest plugin (pytest -p salesgate.testing) and the kit plugin and adapter authors test with
    # (AdapterContract, GateFactory): importing it from salesgate would make every import need pytest.
    "salesgate.testing": "the pytest plugin",
}
"""The salesgate modules docs and examples may import from. The adapters' and plugins' packages
(``salesgate_adapters.store``, ``salesgate_adapters.sql``...) are packages of their own, each with
its ``__all__``; they are not salesgate's surface and are not limited here."""


def _run_import_linter() -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("importlinter") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("import-linter is not installed; CI must run it: pip install '.[test]'")
        pytest.skip("import-linter is not installed (pip install '.[test]')")
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(root) for root in SOURCE_ROOTS)}
    return subprocess.run([sys.executable, "-c", code, "--no-cache", str(ROOT / "pyproject.toml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)


def test_the_import_contracts_hold() -> None:
    done = _run_import_linter()
    report = done.stdout.split("Contracts\n---------", 1)[-1]
    assert done.returncode == 0, f"lint-imports found a broken contract:\n{report}\n{done.stderr}"
    assert "6 kept, 0 broken" in done.stdout, report


def _import_graph() -> dict[str, dict[str, list[int]]]:
    """importer -> imported -> line numbers, over the three packages (all imports, wherever they are)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges: dict[str, dict[str, list[int]]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            details = graph.get_import_details(importer=importer, imported=imported)
            edges.setdefault(importer, {})[imported] = sorted(d["line_number"] for d in details)
    return edges


def _cycles(edges: dict[str, dict[str, list[int]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(edges.get(root, {})))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, {}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycles_are_found_with_the_lines_that_make_them() -> None:
    edges = {"a": {"b": [3]}, "b": {"c": [5]}, "c": {"a": [7], "d": [1]}, "d": {}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": [1]}, "b": {}}) == []


def test_no_module_of_the_three_packages_takes_part_in_an_import_cycle() -> None:
    edges = _import_graph()
    assert "salesgate.gate" in edges  # the graph is the real one
    report = [
        " <-> ".join(cycle) + "\n" + "\n".join(
            f"    {importer} imports {imported} (line {', '.join(map(str, lines))})"
            for importer in cycle for imported, lines in edges.get(importer, {}).items() if imported in cycle)
        for cycle in _cycles(edges)
    ]
    assert report == [], "import cycles:\n" + "\n".join(report)


# -- the public surface ----------------------------------------------------------------------------------------


def _python_sources() -> Iterator[tuple[str, str]]:
    """(where, code) of every Python code block in README and docs, and every example module."""
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*/README.md"))]
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        for match in re.finditer(r"```python\n(.*?)```", text, re.S):
            yield f"{doc.relative_to(ROOT)}:{text[:match.start()].count(chr(10)) + 2}", match.group(1)
    for example in sorted((ROOT / "examples").rglob("*.py")):
        if not {"build", "dist", "__pycache__"} & set(example.relative_to(ROOT).parts):
            yield str(example.relative_to(ROOT)), example.read_text(encoding="utf-8")


def _salesgate_imports(code: str) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) of each import of salesgate or one of its modules (names empty for ``import``)."""
    lines = code.splitlines()
    if len(lines) > 1 and lines[0].startswith("# ") and lines[1][:1] == " ":
        lines = lines[1:]  # "# path/of/the/file.py" over a method quoted from inside its class
    for node in ast.walk(ast.parse(textwrap.dedent("\n".join(lines)))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "salesgate" or node.module.startswith("salesgate."):
                yield node.lineno, node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "salesgate" or alias.name.startswith("salesgate."):
                    yield node.lineno, alias.name, []


def test_the_scan_sees_every_kind_of_import() -> None:
    code = "import salesgate.gate\nfrom salesgate.seed import seed_policy_path\nfrom salesgate import Gate\nimport os\n"
    assert list(_salesgate_imports(code)) == [(1, "salesgate.gate", []), (2, "salesgate.seed", ["seed_policy_path"]),
                                              (3, "salesgate", ["Gate"])]


def test_docs_and_examples_import_only_what_salesgate_exports() -> None:
    sources = list(_python_sources())
    assert any(where.startswith("docs/") for where, _ in sources)
    assert any(where.startswith("examples/") for where, _ in sources)
    wrong = []
    for where, code in sources:
        for line, module, names in _salesgate_imports(code):
            if module not in PUBLIC_MODULES:
                wrong.append(f"{where} (line {line}): {module} is not public: import from salesgate")
                continue
            exported = set(getattr(importlib.import_module(module), "__all__", ()))
            wrong += [f"{where} (line {line}): {module} does not export {name}: add it to its __all__"
                      for name in names if name != "*" and name not in exported]
    assert wrong == []


def test_every_name_salesgate_exports_exists() -> None:
    import salesgate

    assert [name for name in salesgate.__all__ if not hasattr(salesgate, name)] == []


def _model_types(annotation: object) -> Iterator[type]:
    """The classes an annotation names (``list[PricedLine] | None`` names PricedLine)."""
    import typing

    if isinstance(annotation, type) and not typing.get_args(annotation):
        yield annotation
        element = getattr(annotation, "_element", None)  # a list built when read (Trace, Adjustments) holds these
        if isinstance(element, type):
            yield element
    for argument in typing.get_args(annotation):
        yield from _model_types(argument)


def test_salesgate_exports_what_a_plugin_or_a_store_needs() -> None:
    """A plugin replacing ``rules`` builds the payloads a Decision carries (and what they hold);
    a store implements the ports; ``gate.hooks`` has a type to annotate with. Before, they were
    importable only from modules that are not public."""
    import typing

    from pydantic import BaseModel

    import salesgate
    from salesgate import ports

    needed: set[str] = set()
    todo: list[type] = [salesgate.Decision, salesgate.Contribution]
    while todo:
        model = todo.pop()
        for field in model.model_fields.values():
            for cls in _model_types(field.annotation):
                if issubclass(cls, BaseModel) and cls.__module__.startswith("salesgate") and cls.__name__ not in needed:
                    needed.add(cls.__name__)
                    todo.append(cls)
    assert {"PricingResult", "PricedLine", "PriceAdjustment", "PriceStop", "CreditResult", "ReturnResult"} <= needed
    needed |= {name for name, value in vars(ports).items() if not name.startswith("_")
               and getattr(value, "__module__", None) == ports.__name__}
    needed |= {"CountedOrders", "Decide"}  # type aliases: their __module__ is typing's
    hooks_type = typing.get_type_hints(salesgate.Gate.hooks.fget)["return"]
    needed.add(hooks_type.__name__)
    assert [name for name in sorted(needed) if name not in salesgate.__all__] == []


_DOTTED = re.compile(r"`(salesgate(?:\.[a-z_]+)+)\.([A-Za-z_][A-Za-z0-9_]*)`")


def test_docs_name_what_salesgate_exports_by_its_public_name() -> None:
    """Prose that points at ``salesgate.models.Delivery`` teaches a module that is not public; the
    name salesgate exports (``salesgate.Delivery``) is the one to write."""
    import salesgate

    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*/README.md"))]
    wrong = []
    for doc in docs:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for match in _DOTTED.finditer(line):
                module, name = match.groups()
                if module not in PUBLIC_MODULES and name in salesgate.__all__:
                    wrong.append(f"{doc.relative_to(ROOT)}:{number}: {module}.{name}: write salesgate.{name}")
    assert wrong == []


def _unimported(code: str, exported: set[str]) -> list[str]:
    """Names salesgate exports that ``code`` uses but never imports (nor defines). A block quoting
    part of a file (its first line ``# path/of/the/file.py``) is an excerpt: its imports are in the file."""
    lines = code.splitlines()
    if lines and lines[0].startswith("# ") and lines[0].rstrip().endswith(".py"):
        return []
    bound: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(code))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else used).add(node.id)
    return sorted((used & exported) - bound)


def test_the_scan_sees_a_name_used_without_its_import() -> None:
    exported = {"CreditResult", "hookimpl", "Gate"}
    assert _unimported("class A:\n    @hookimpl\n    def f(self):\n        return CreditResult()\n", exported) == [
        "CreditResult", "hookimpl"]
    assert _unimported("from salesgate import Gate\nGate.default()\n", exported) == []
    assert _unimported("# examples/x/y.py\n    @hookimpl\n    def f(self): ...\n", exported) == []


def test_doc_code_imports_every_salesgate_name_it_uses() -> None:
    """A user copies a block and runs it: before, the NettedExposure example used CreditResult and
    hookimpl without importing them."""
    import salesgate

    exported = set(salesgate.__all__)
    wrong = [f"{where}: {', '.join(names)} used but not imported: from salesgate import {', '.join(names)}"
             for where, code in _python_sources() if not where.startswith("examples/")
             for names in [_unimported(code, exported)] if names]
    assert wrong == []
