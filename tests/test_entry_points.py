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


COMMAND_PLUGIN = '''
import click
from salesgate import hookimpl


class Hello:
    @hookimpl
    def salesgate_register_commands(self, cli: click.Group) -> None:
        @cli.command()
        @click.argument("name")
        def hello(name: str) -> None:
            """Greet NAME from an installed package."""
            click.echo(f"hello {name}")
'''


def _command_package(site: Path, module_text: str, entry_point: str = "acme_hello") -> Path:
    """An installed package (a module and its dist-info) whose entry point adds a command."""
    (site / "acme_hello.py").write_text(module_text, encoding="utf-8")
    dist = site / "acme_hello-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-hello\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[salesgate]\n{entry_point} = acme_hello:Hello\n", encoding="utf-8")
    return site


def _salesgate(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(site), str(ROOT / "core"), str(ROOT / "plugins"), str(ROOT / "adapters")])
    return subprocess.run([sys.executable, "-m", "salesgate", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path, "PYTHONIOENCODING": "utf-8", **env}, check=False)


def test_an_installed_package_adds_a_command_to_salesgate(tmp_path: Path) -> None:
    site = _command_package(tmp_path, COMMAND_PLUGIN)
    listed = _salesgate(site, "--help")
    assert listed.returncode == 0, listed.stderr
    assert "Greet NAME from an installed package." in listed.stdout
    assert "approvals" in listed.stdout  # the built-in providers' commands are still there
    ran = _salesgate(site, "hello", "华东")
    assert (ran.returncode, ran.stdout) == (0, "hello 华东\n"), ran.stderr


def _commands_listed(help_text: str) -> set[str]:
    return {line.split()[0] for line in help_text.split("Commands:\n", 1)[1].splitlines() if line.strip()}


BUILT_IN_COMMANDS = {"approvals", "audit", "calendar", "db", "decide", "demo", "export", "points", "schema", "simulate",
                     "test", "validate", "vocab"}


def test_a_broken_command_package_is_a_warning_and_every_other_command_still_runs(tmp_path: Path) -> None:
    site = _command_package(tmp_path, COMMAND_PLUGIN + "\nraise RuntimeError('broken on purpose')\n")
    listed = _salesgate(site, "--help")
    assert listed.returncode == 0, listed.stderr
    assert _commands_listed(listed.stdout) == BUILT_IN_COMMANDS
    assert listed.stderr.startswith("warning: leaving out the commands of plugin 'acme_hello': plugin 'acme_hello' "
                                    "(package acme-hello) failed to load")
    assert "SALESGATE_DISABLE_PLUGINS=acme_hello" in listed.stderr
    assert listed.stderr.count("\n") == 1, listed.stderr  # one line, no traceback
    db = _salesgate(site, "db", "--help")
    assert db.returncode == 0, db.stderr
    assert "upgrade" in db.stdout
    missing = _salesgate(site, "hello", "华东")  # the command it would have added: one line, exit code 2
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no command 'hello', and some plugins failed to add their commands")
    assert "SALESGATE_DISABLE_PLUGINS=acme_hello" in missing.stderr
    assert missing.stderr.count("\n") == 1, missing.stderr
    validated = _salesgate(site, "validate", str(ROOT / "rules"))
    assert validated.returncode == 0, validated.stderr


def test_a_command_package_raising_in_the_hook_leaves_out_only_its_commands(tmp_path: Path) -> None:
    site = _command_package(tmp_path, COMMAND_PLUGIN.replace('        @cli.command()',
                                                             '        raise LookupError("no greeting")\n'
                                                             '        @cli.command()'))
    listed = _salesgate(site, "--help")
    assert listed.returncode == 0, listed.stderr
    assert _commands_listed(listed.stdout) == BUILT_IN_COMMANDS
    assert listed.stderr == ("warning: leaving out the commands of plugin 'acme_hello': plugin 'acme_hello' failed in "
                             "salesgate_register_commands: LookupError: no greeting. Fix or uninstall it, or disable "
                             "it with SALESGATE_DISABLE_PLUGINS=acme_hello\n")
    quiet = _salesgate(site, "--help", SALESGATE_DISABLE_PLUGINS="acme_hello")
    assert (quiet.returncode, quiet.stderr, quiet.stdout) == (0, "", listed.stdout)


DECISION_PLUGIN_WITH_A_REFUSED_OPTION = '''
from salesgate import hookimpl


class Hello:
    @hookimpl(tryfirst=True)
    def salesgate_order_approval(self, facts, context):
        return None
'''


def test_a_decision_plugin_the_gate_refuses_does_not_touch_the_commands(tmp_path: Path) -> None:
    site = _command_package(tmp_path, DECISION_PLUGIN_WITH_A_REFUSED_OPTION)
    gate = _run(site)
    assert gate.returncode != 0  # the gate reports it...
    assert "implements salesgate_order_approval with @hookimpl(tryfirst=True)" in gate.stderr
    db = _salesgate(site, "db", "--help")  # ...the commands have nothing to say about it
    assert (db.returncode, db.stderr) == (0, "")
    assert "upgrade" in db.stdout
    listed = _salesgate(site, "--help")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert _commands_listed(listed.stdout) == BUILT_IN_COMMANDS


def test_an_entry_point_named_like_a_built_in_command_provider_does_not_replace_it(tmp_path: Path) -> None:
    site = _command_package(tmp_path, COMMAND_PLUGIN.replace("def hello(", "def db("), entry_point="store_commands")
    db = _salesgate(site, "db", "--help")
    assert db.returncode == 0, db.stderr
    assert "upgrade" in db.stdout  # the store's db, not the package's
    assert db.stderr == ("warning: leaving out the commands of plugin 'store_commands': plugin 'store_commands' "
                         "(package acme-hello) from 'acme_hello:Hello' takes the name of salesgate's built-in plugin "
                         "'store_commands', which is reserved. Name the entry point otherwise (to replace the "
                         "built-in, disable it with SALESGATE_DISABLE_PLUGINS=store_commands)\n")
