"""``salesgate table``: a policy's decision tables out to Excel (or CSV) and back, keeping row ids.

``export`` writes a table's rows to a workbook a policy owner edits; ``import`` reads it back,
checks it cell by cell (file, cell ``C7``, row id, column) and as part of the whole policy (roles,
outputs, overlaps), and only then writes the rows where the table keeps them: its CSV or Excel
file in ``tables/``, or the ``rows:`` of its YAML (rewritten as one flow mapping per row; comments
between the rows are not kept). Nothing is written when a problem is found.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click
import yaml

from ..errors import PolicyError, PolicyProblem
from ..policy.compiler import Policy, load_policy
from ..policy.schema import Table
from ..policy.tablefiles import SHEET_SUFFIXES, read_sheet, write_sheet
from ..policy.tables import DecisionTable, expand
from ..policy.yamlfile import LineDict, load_yaml
from . import check_writable, fail, fail_policy, plugin_points

__all__ = ["import_rows", "table_command"]


def _table(policy: Policy, name: str) -> DecisionTable:
    table = policy.tables.get(name)
    if table is None:
        known = ", ".join(policy.tables) or "none"
        fail(f"no decision table {name!r} in policy {policy.name}: its tables are {known}")
    return table


def _load(path: str) -> Policy:
    try:
        return load_policy(path, points=plugin_points())
    except PolicyError as exc:
        fail_policy(exc, f"policy {path} is invalid")


@click.group("table")
def table_command() -> None:
    """Export a decision table to Excel or CSV and import it back (row ids are kept)."""


@table_command.command("export")
@click.argument("policy", type=click.Path(path_type=str))
@click.argument("name")
@click.argument("out", type=click.Path(path_type=Path))
def export(policy: str, name: str, out: Path) -> None:
    """Write table NAME of the policy in POLICY to OUT (.xlsx or .csv): a header row (id, the inputs,
    the outputs), then a row per table row, every cell as text."""
    if out.suffix.lower() not in SHEET_SUFFIXES:
        fail(f"{out}: write a table to an .xlsx workbook or a .csv file")
    check_writable(out, "OUT")
    table = _table(_load(policy), name)
    write_sheet(out, table.header, table.sheet_rows())
    click.echo(f"wrote table {name} ({len(table.rows)} rows) to {out}")


@table_command.command("import")
@click.argument("policy", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_(policy: Path, name: str, source: Path) -> None:
    """Read SOURCE (.xlsx or .csv) into table NAME of the policy in POLICY, checking every cell and the
    whole policy first; then write the rows where the table keeps them."""
    try:
        written, count = import_rows(policy, name, source)
    except PolicyError as exc:
        fail_policy(exc, f"{source} was not imported")
    click.echo(f"imported {count} rows into table {name} ({written})")


def import_rows(policy_dir: Path, name: str, source: Path) -> tuple[Path, int]:
    """Check ``source`` as the rows of table ``name`` and write them into the policy; returns the file
    written and the number of rows. Raises :class:`PolicyError` (nothing written) on any problem."""
    policy = load_policy(policy_dir, points=plugin_points())
    table = policy.tables.get(name)
    if table is None:
        raise PolicyError(PolicyProblem(f"no decision table {name!r} in policy {policy.name}: its tables are "
                                        f"{', '.join(policy.tables) or 'none'}", str(policy_dir)))
    if source.suffix.lower() not in SHEET_SUFFIXES:
        raise PolicyError(PolicyProblem("a table is imported from an .xlsx workbook or a .csv file", str(source)))
    sheet = read_sheet(source.read_bytes(), source.suffix, str(source))
    problems: list[PolicyProblem] = []

    def problem(message: str, path: str | None = None, line: int | None = None, rule: str | None = None,
                field: str | None = None, suggestion: str | None = None) -> None:
        problems.append(PolicyProblem(message, path, line, rule, field, suggestion))

    inputs = [{c.name: c.expression} if c.name != c.expression else c.name for c in table.inputs]
    declared = Table.model_validate({"hit": table.hit, "scope": table.scope, "rows": "tables/imported.csv",
                                     "inputs": inputs})
    _, rows = expand(declared, LineDict(), table.file, name, policy.points[table.point], table.inputs, sheet,
                     problem)
    if problems:
        raise PolicyError(problems)
    header = list(sheet.header)
    texts = [[_cell_text(value) for value in row.cells] for row in sheet.rows]
    with tempfile.TemporaryDirectory(prefix="salesgate-import-") as scratch:
        copy = Path(scratch) / "policy"
        shutil.copytree(policy_dir, copy, symlinks=False)
        shown = Path(table.file)
        if table.rows_file:
            written = policy_dir / table.rows_file
            # A CSV keeps the byte-order mark it had (or had not): the import changes rows, not encodings.
            write_sheet(copy / table.rows_file, header, texts, bom=written.read_bytes()[:3] == b"\xef\xbb\xbf")
        else:
            written = shown
            relative = shown.resolve().relative_to(policy_dir.resolve())
            (copy / relative).write_text(_with_rows(shown, header, texts), encoding="utf-8")
        try:
            load_policy(copy, points=plugin_points())
        except PolicyError as exc:
            raise PolicyError([PolicyProblem(p.message, _back(p.path, copy, policy_dir), p.line, p.rule, p.field,
                                             p.suggestion) for p in exc.problems]) from None
        replacement = copy / (table.rows_file if table.rows_file else shown.resolve().relative_to(
            policy_dir.resolve()))
        staged = written.with_name(f".{written.name}.import")
        shutil.copyfile(replacement, staged)
        os.replace(staged, written)  # the policy's file is whole at every moment: old rows or new
    return written, len(rows)


def _back(path: str | None, copy: Path, original: Path) -> str | None:
    """A path in the scratch copy, as the policy owner knows it."""
    if path is None or not path.startswith(str(copy)):
        return path
    return str(original) + path[len(str(copy)):]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def _with_rows(path: Path, header: list[str], rows: list[list[str]]) -> str:
    """The YAML of ``path`` with its table's ``rows:`` replaced by ``rows`` (one flow mapping each)."""
    text = path.read_text(encoding="utf-8")
    data = load_yaml(path, str(path))
    table = data.get("table") if isinstance(data, LineDict) else None
    if not isinstance(table, LineDict) or "rows" not in table.key_lines:
        raise PolicyError(PolicyProblem("the table has no rows: to replace", str(path)))
    lines = text.splitlines(keepends=True)
    start = table.key_lines["rows"] - 1
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines):
        stripped = lines[end].strip()
        if stripped and not stripped.startswith("#") and len(lines[end]) - len(lines[end].lstrip()) <= indent:
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    pad = " " * indent
    out = [f"{pad}rows:\n"]
    for row in rows:
        cells = {column: value for column, value in zip(header, row, strict=False) if column and value != ""}
        flow = yaml.safe_dump(cells, default_flow_style=True, allow_unicode=True, sort_keys=False,
                              width=1_000_000).strip()
        out.append(f"{pad}  - {flow}\n")
    return "".join(lines[:start] + out + lines[end:])
