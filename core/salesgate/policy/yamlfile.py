"""Read YAML safely and remember on which line every mapping and key started.

The loader is PyYAML's ``SafeLoader`` (what ``yaml.safe_load`` uses) with one addition: mappings
become :class:`LineDict`, which knows the line of each key, so a validation error can say
``rules/credit.yaml:14`` instead of "somewhere in the file".
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from ..errors import PolicyError, PolicyProblem


class LineDict(dict[str, Any]):
    """A dict from YAML with ``line`` (of the mapping) and ``key_lines`` (of each key), 1-based."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records lines; it constructs no Python objects beyond plain data."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | Decimal | bool):
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be plain text", key_node.start_mark
            )
        key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in this mapping", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _construct_decimal(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    """A YAML number with a fraction (``1013.65``) as the Decimal of its text, never a binary float:
    99999999999999.99 stays that, not 99999999999999.98. ``.inf`` and ``.nan`` stay floats, for the
    checks that refuse them."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return loader.construct_yaml_float(node)
    return value if value.is_finite() else loader.construct_yaml_float(node)


def _construct_date(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    """A YAML date or time; one that does not exist (2026-02-30) is an error at its line, not a crash."""
    try:
        return loader.construct_yaml_timestamp(node)
    except (ValueError, OverflowError):
        raise _NotADate(None, None, f"{node.value} is not a date: write a real date as YYYY-MM-DD (or quote it "
                                    "as text)", node.start_mark) from None


class _NotADate(yaml.constructor.ConstructorError):
    """A value YAML reads as a date that no calendar has: the file's mistake, not its syntax."""


_LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_date)


def load_yaml(path: Path, display: str | None = None) -> Any:
    """Parse one YAML file (UTF-8). Syntax errors become a :class:`PolicyError` at file:line."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(PolicyProblem(f"not UTF-8 text ({exc.reason})", shown)) from None
    except OSError as exc:
        raise PolicyError(PolicyProblem(f"cannot read: {exc.strerror}", shown)) from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, _NotADate):
            what = problem
        elif isinstance(exc, yaml.constructor.ConstructorError):
            what = f"YAML syntax error: {problem}"
            if "could not determine a constructor for the tag" in problem:  # when: !order.guarantee
                what += " (YAML reads a value starting with ! as a tag: write 'not ...', or quote the text)"
        else:  # the parser's own words; most often a line indented differently from its neighbours
            what = (f"YAML syntax error: {problem} (check this line's indentation against the line above, and "
                    "put text holding ': ' or ' #' in quotes)")
        raise PolicyError(PolicyProblem(what, shown, line)) from None
    except yaml.YAMLError as exc:
        raise PolicyError(PolicyProblem(f"YAML error: {exc}", shown)) from None


def line_of(data: Any, loc: Sequence[str | int]) -> int | None:
    """The line of the deepest node of ``loc`` (a pydantic error location) found in ``data``."""
    line: int | None = getattr(data, "line", None) or None
    node = data
    for part in loc:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = getattr(node, "line", None) or line
        else:
            break
    return line
