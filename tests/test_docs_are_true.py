"""Statements the docs (and messages and docstrings) made that were false: each has a check here.

salesgate is installed from a checkout, so ``pip install 'salesgate[postgresql]'`` cannot work;
and the repository's docs must be self-contained, never pointing at a file outside it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".md", ".py", ".toml", ".yaml", ".yml", ".txt", ".cfg"}
SKIPPED_DIRS = {".venv", ".git", "build", "dist", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}


def shipped_text_files() -> list[Path]:
    """README, docs, code, examples and rules: everything a user or a maintainer reads."""
    found = []
    for path in sorted(ROOT.rglob("*")):
        parts = set(path.relative_to(ROOT).parts)
        if path.is_file() and path.suffix in TEXT_SUFFIXES and not parts & SKIPPED_DIRS \
                and not any(p.endswith(".egg-info") for p in parts) and path.name != Path(__file__).name:
            found.append(path)
    return found


def occurrences(pattern: re.Pattern[str]) -> list[str]:
    hits = []
    for path in shipped_text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return hits


def test_no_doc_or_message_installs_salesgate_extras_from_an_index() -> None:
    """salesgate is on no index: extras are installed from the checkout, ``pip install '.[postgresql]'``."""
    assert occurrences(re.compile(r"""pip install\s+['"]?salesgate\[""")) == []


def test_no_doc_or_docstring_points_at_a_file_outside_the_repository() -> None:
    assert occurrences(re.compile(r"/work/(shared|main|wt)/")) == []


def test_the_files_checked_include_the_docs_the_code_and_the_examples() -> None:
    names = {str(path.relative_to(ROOT)) for path in shipped_text_files()}
    assert {"README.md", "DEVELOPERS.md", "docs/adapters.md", "core/salesgate/engine/durable/__init__.py",
            "adapters/salesgate_adapters/sql/engine.py"} <= names


def test_every_revision_the_docs_show_as_head_is_the_newest_migration() -> None:
    """``db upgrade``/``db current`` output in the docs names the head: a new migration must update it."""
    from salesgate_adapters.store import Store

    head = Store.head()
    shown = re.compile(r"\b(\d{4}) \(head\)|downgraded from (\d{4}) ")
    stale = [hit for hit in occurrences(shown) if hit.split(":", 1)[0].endswith(".md")
             and any(n and n != head for m in shown.finditer(hit) for n in m.groups())]
    assert stale == [], f"the newest migration is {head}"


def test_docs_and_examples_pass_adapter_options_in_adapter_options() -> None:
    """``Gate(adapter="csv", directory=...)`` is the older form: a user copying it meets ``timeout``/``path``
    going to the gate. Docs, docstrings and examples show ``adapter_options={...}`` (tests may use either)."""
    import inspect

    from salesgate import Gate

    gate_keywords = set(inspect.signature(Gate.__init__).parameters) - {"self", "options"}
    keyword_after_adapter = re.compile(r"""adapter=["'](\w+)["'],\s*(\w+)=""")
    older_form = [hit for hit in occurrences(keyword_after_adapter) if not hit.startswith("tests/")
                  and "keywords of the Gate" not in hit  # docs/adapters.md describing the older form
                  and any(m.group(2) not in gate_keywords for m in keyword_after_adapter.finditer(hit))]
    assert older_form == []


def test_architecture_names_every_module() -> None:
    """docs/architecture.md is where a newcomer learns where a change belongs: every module is in its
    tables, by its path or by its file name in the row of its folder (``salesgate_adapters/store/``)."""
    rows = [line for line in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| `")]
    modules = [path.relative_to(root).as_posix() if root.name != "tests" else path.relative_to(ROOT).as_posix()
               for root in (ROOT / "core", ROOT / "plugins", ROOT / "adapters", ROOT / "tests")
               for path in sorted((root / "fixtures" if root.name == "tests" else root).rglob("*.py"))
               if path.name != "__init__.py" and "versions" not in path.parts]
    assert "salesgate/redaction.py" in modules
    assert "tests/fixtures/servers.py" in modules

    def named(module: str) -> bool:
        parts = module.split("/")
        splits = [("/".join(parts[:i]), "/".join(parts[i:])) for i in range(1, len(parts))]
        return any(f"`{module}`" in row or any(f"`{folder}/" in row and f"`{rest}`" in row for folder, rest in splits)
                   for row in rows)

    assert [module for module in modules if not named(module)] == []


def test_the_seed_policy_the_docs_show_is_the_shipped_one() -> None:
    """Output in the docs names the seed policy's hash and rule count; the cli.md golden test ignores
    hashes, so a changed seed policy would leave them stale unnoticed."""
    from salesgate import load_policy, seed_policy_path

    seed = load_policy(seed_policy_path())
    hashes = re.compile(r"salesgate-seed-policy \S+ \(([0-9a-f]{16})\)|\"hash\": \"([0-9a-f]{16})\"")
    counts = re.compile(r"every rule \((\d+)\)")
    wrong = [hit for hit in occurrences(hashes) if hit.split(":", 1)[0].endswith(".md")
             and any(h and h != seed.hash[:16] for m in hashes.finditer(hit) for h in m.groups())]
    wrong += [hit for hit in occurrences(counts) if hit.split(":", 1)[0].endswith(".md")
              and any(int(m.group(1)) != len(seed.rules) for m in counts.finditer(hit))]
    assert wrong == [], f"the seed policy is {seed.hash[:16]} with {len(seed.rules)} rules"


def test_every_python_example_in_the_docs_is_valid_python() -> None:
    """The examples a user copies at least parse (the runnable ones are executed by their own tests)."""
    import textwrap

    docs = [ROOT / "README.md", ROOT / "DEVELOPERS.md", *sorted((ROOT / "docs").glob("*.md")),
            *sorted((ROOT / "examples").glob("*/README.md"))]
    broken = []
    for path in docs:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"```python\n(.*?)```", text, re.S):
            lines = match.group(1).splitlines(keepends=True)
            if lines and lines[0].startswith("# ") and len(lines) > 1 and lines[1][:1] == " ":
                lines = lines[1:]  # "# path/of/the/file.py" over a method quoted from inside its class
            try:
                compile(textwrap.dedent("".join(lines)), str(path), "exec")
            except SyntaxError as exc:
                broken.append(f"{path.relative_to(ROOT)}:{text[:match.start()].count(chr(10)) + 2}: {exc.msg}")
    assert broken == []


def test_the_readme_command_table_lists_every_command() -> None:
    """README's "Command line" table against ``salesgate --help``: every command, and every subcommand
    of a group unless the row ends its list with '…'."""
    import click

    from salesgate.cli import cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Command line", 1)[1].split("\n\n", 2)[1]
    rows = {m.group(1): line for line in table.splitlines()[2:] if (m := re.match(r"\| `salesgate (\w+)", line))}
    assert isinstance(cli, click.Group)
    context = click.Context(cli)  # the core's commands and those plugins add, as --help lists them
    commands = {name: cli.get_command(context, name) for name in cli.list_commands(context)}
    assert set(rows) == set(commands)
    missing = [f"{name} {sub}" for name, command in commands.items() if isinstance(command, click.Group)
               and "…" not in rows[name].split(" | ")[0] for sub in command.commands if sub not in rows[name]]
    assert missing == []


_ORDER = {
    "order": {"id": "SO-1", "customer_id": "C-1", "order_date": "2026-11-23",
              "lines": [{"line_no": 1, "sku": "P-1", "qty": 2, "unit_price": "300.00"}]},
    "customer": {"id": "C-1", "name": "华东机电有限公司", "status": "blocked", "credit_limit": "1000"},
    "products": [{"sku": "P-1", "list_price": "300.00", "cost": "100.00", "stock": 10}],
}
_RETURN = {
    "return": {"id": "RT-1", "customer_id": "C-1", "reason": "defect", "original_order_id": "SO-0",
               "sku": "P-1", "qty": 1, "unit_price": "300", "delivered_qty": 2, "days_since_delivery": 3},
    "customer": {"id": "C-1", "name": "华东机电有限公司"},
}


def test_the_house_rules_of_plugins_md_replace_the_rules_plugin_at_all_four_decision_points() -> None:
    """docs/plugins.md's "Replacing the rules plugin" used a HouseRules it never defined: its code now
    runs as shown, with ``rules`` disabled, and decides at every decision point without a failure."""
    from decimal import Decimal

    from salesgate import Gate, Outcome, load_policy, seed_policy_path

    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    blocks = [code for code in re.findall(r"```python\n(.*?)```", text, re.S) if "\nclass HouseRules" in code]
    assert len(blocks) == 1
    namespace: dict[str, object] = {"__name__": "acme_salesgate.house"}
    exec(compile(blocks[0], "docs/plugins.md", "exec"), namespace)  # noqa: S102 - the doc's own example
    house_rules = namespace["HouseRules"]
    assert callable(house_rules)
    policy = load_policy(seed_policy_path())
    gate = Gate(policy, backend="python", entry_points=False, disable_plugins=["rules"], plugins=[house_rules()])
    decisions = {point: gate.decide(point, _RETURN if point == "return_handling" else _ORDER)
                 for point in ("order_approval", "credit_check", "pricing", "return_handling")}
    for point, decision in decisions.items():
        assert decision.failure is None, point
        assert (decision.hook, decision.policy) == (point, policy.ref)
        assert all(reason.plugin == "acme_salesgate.house.HouseRules" for reason in decision.reasons)
    assert decisions["order_approval"].required_roles == ["general_manager"]
    assert decisions["credit_check"].outcome is Outcome.allow  # 600 of 1000
    assert decisions["credit_check"].credit is not None
    pricing = decisions["pricing"].pricing
    assert pricing is not None
    assert pricing.policy_total == Decimal("600.00")
    assert decisions["return_handling"].outcome is Outcome.warn
    returns = decisions["return_handling"].returns
    assert returns is not None
    assert returns.refund_amount == Decimal("300")
