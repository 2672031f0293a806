"""Read YAML safely and remember on which line every mapping and key started.

The loader is PyYAML's ``SafeLoader`` (what ``yaml.safe_load`` uses) with these additions: mappings
become :class:`LineDict`, which knows the line of each key, so a validation error can say
``rules/credit.yaml:14`` instead of "somewhere in the file"; a file is refused, at the line, when it
is larger, deeper or expands through aliases further than :mod:`salesgate.policy.limits` allows
(checked while composing, before anything is built, so memory stays linear in the file); and a
``when:`` that YAML 1.1 would read as a yes/no, a number or nothing keeps its text
(:class:`YamlScalar`), so the schema can say what YAML made of it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from ..errors import PolicyError, PolicyProblem
from .limits import MAX_ALIAS_VALUES, MAX_FILE_BYTES, MAX_YAML_DEPTH


class LineDict(dict[str, Any]):
    """A dict from YAML with ``line`` (of the mapping) and ``key_lines`` (of each key), 1-based."""

    line: int = 0
    key_lines: dict[str, int]


class YamlScalar(str):
    """A plain ``when:`` value that YAML 1.1 reads as something other than text: ``yes`` (true),
    ``off`` (false), ``0x10`` (16), ``~`` (nothing). The text as written, and ``read_as``."""

    read_as: Any


_CONDITION_KEYS = frozenset({"when"})
RULE_KEYS = frozenset({"id", "description", "when", "scope", "priority", "effective", "then"})
"""The fields of a rule (:class:`~salesgate.policy.schema.Rule`), for the hints of a misindented rule file."""
ACTION_KEYS = frozenset({"block", "require", "warn", "notify", "message", "markup", "discount", "add", "set_price",
                         "floor", "stop", "refund", "restocking_fee", "set"})
"""The fields of ``then:`` (:class:`~salesgate.policy.schema.Action`)."""
_WORDS_OF_TRUE_AND_FALSE = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_SURPRISING_TAGS = frozenset({"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                              "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"})


class _TooLarge(yaml.composer.ComposerError):
    """The file is deeper, or repeats more through aliases, than a policy file may."""


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records lines; it constructs no Python objects beyond plain data.

    Composing is bounded: at most ``MAX_YAML_DEPTH`` levels (counting what aliases bring in), and
    at most ``MAX_ALIAS_VALUES`` values repeated through aliases, so a 600-byte "billion laughs"
    file is refused at its alias instead of expanding into gigabytes.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._repeated = 0
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) → (values, height), once composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML's stubs leave it untyped
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            node = self.anchors.get(event.anchor)
            if node is not None:
                if event.anchor in self._open_anchors:
                    raise _TooLarge(None, None, f"the alias *{event.anchor} is inside its own anchor "
                                    f"&{event.anchor}: it would repeat itself forever", mark)
                values, height = self._size(node)
                self._repeated += values
                if self._repeated > MAX_ALIAS_VALUES:
                    raise _TooLarge(None, None, f"aliases repeat more than {MAX_ALIAS_VALUES:,} values in this file "
                                    f"(*{event.anchor} alone repeats {values:,}): write the values out",
                                    mark)
                self._deeper(self._depth + height, mark)
            return super().compose_node(parent, index)
        anchor = getattr(event, "anchor", None)
        level = 1 if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent) else 0  # a text nests nothing
        self._depth += level
        self._deeper(self._depth, mark)
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= level
            if anchor is not None:
                self._open_anchors.discard(anchor)

    @staticmethod
    def _deeper(depth: int, mark: Any) -> None:
        if depth > MAX_YAML_DEPTH:
            raise _TooLarge(None, None, f"lists and mappings nested more than {MAX_YAML_DEPTH} levels deep",
                            mark)

    def _size(self, node: yaml.Node) -> tuple[int, int]:
        """How many values ``node`` stands for when written out, and how many lists and mappings
        deep it is (memoized: an anchor used many times is counted once per use, never walked again)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        values, height = 1, 0
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        if isinstance(node, yaml.SequenceNode | yaml.MappingNode):
            height = 1
        for child in children:
            child_values, child_height = self._size(child)
            values += child_values
            height = max(height, child_height + 1)
        self._sizes[id(node)] = (values, height)
        return values, height


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
            hint = (" (each rule starts with '- ': is the dash missing before the next rule's first line?)"
                    if key == "id" else "")
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in this mapping{hint}", key_node.start_mark
            )
        if (key in _CONDITION_KEYS and isinstance(value_node, yaml.ScalarNode) and value_node.style is None
                and value_node.tag in _SURPRISING_TAGS and value_node.value not in _WORDS_OF_TRUE_AND_FALSE):
            word = YamlScalar(value_node.value)
            word.read_as = loader.construct_object(value_node, deep=True)
            result[key] = word
        else:
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


class _TooManyDigits(yaml.constructor.ConstructorError):
    """An integer longer than Python converts from text (4,300 digits): the file's mistake."""


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    """A YAML integer; one of thousands of digits (``priority: 999…``) is an error at its line, not
    the ValueError (and traceback) of Python's limit on converting text to int."""
    try:
        return loader.construct_yaml_int(node)
    except ValueError:
        digits, most = sum(char.isdigit() for char in str(node.value)), sys.get_int_max_str_digits()
        raise _TooManyDigits(None, None, f"a number of {digits:,} digits, more than the {most:,} salesgate reads",
                             node.start_mark) from None


class _NotStorable(yaml.constructor.ConstructorError):
    """Text no database stores: a NUL character or a lone surrogate, which only a double-quoted
    YAML escape (``"\\0"``, ``"\\ud800"``) can write."""


_UNSTORABLE = re.compile("[\0\ud800-\udfff]")


def _construct_text(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    """Text as SafeLoader reads it, refused at its line when it holds a NUL character or a lone
    surrogate, as facts are (:data:`salesgate.models.STORABLE_TEXT`): a rule's message holding a
    lone surrogate validated, then every decision it fired on could not be logged (no database
    takes it as UTF-8) and was answered by the failure mode; PostgreSQL's text holds no NUL."""
    text = str(loader.construct_scalar(node))
    bad = _UNSTORABLE.search(text)
    if bad is not None:
        char = bad.group()
        what = "a NUL character (\\0)" if char == "\0" else f"a lone surrogate ({char!r})"
        raise _NotStorable(None, None, f"the text holds {what} at character {bad.start() + 1}, which no database "
                           "can store: remove the escape", node.start_mark)
    return text


_LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_date)
_LineLoader.add_constructor("tag:yaml.org,2002:str", _construct_text)
_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_yaml(path: Path, display: str | None = None, *, kind: str = "policy file") -> Any:
    """Parse one YAML file (UTF-8). Syntax errors become a :class:`PolicyError` at file:line.

    ``kind`` names the file in the size error: a policy's files can be split, a mapping file cannot.
    """
    shown = display or str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            advice = ": split it into several files" if kind == "policy file" else ""
            raise PolicyError(PolicyProblem(
                f"larger than {MAX_FILE_BYTES:,} bytes (1 MiB), the most a {kind} may hold{advice}", shown))
        text = raw.decode("utf-8")
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
        if isinstance(exc, _NotADate | _NotStorable | _TooLarge | _TooManyDigits):
            what = problem
        elif isinstance(exc, yaml.constructor.ConstructorError):
            what = f"YAML syntax error: {problem}"
            if "could not determine a constructor for the tag" in problem:  # when: !order.guarantee
                what += " (YAML reads a value starting with ! as a tag: write 'not ...', or quote the text)"
        else:  # the parser's own words; most often a line indented differently from its neighbours
            hint = _indentation_hint(text, mark.line if mark else None)
            what = (f"YAML cannot read this line: {hint}" if hint else
                    f"YAML syntax error: {problem} (check this line's indentation against the line above, and put "
                    "text holding ': ' or ' #' in quotes)")
        raise PolicyError(PolicyProblem(what, shown, line)) from None
    except yaml.YAMLError as exc:
        raise PolicyError(PolicyProblem(f"YAML error: {exc}", shown)) from None


def _indentation_hint(text: str, line: int | None) -> str:
    """What a policy owner most likely did on the line YAML stopped at (0-based ``line``): a rule
    without its leading ``- ``, or an action's field out of ``then:``; "" when it is neither."""
    lines = text.splitlines()
    if not any(line.startswith("rules:") for line in lines):
        return ""  # not a rule file
    written = lines[line] if line is not None and 0 <= line < len(lines) else ""
    key = written.strip().split(":", 1)[0].strip() if ":" in written else ""
    if key in ACTION_KEYS and key not in RULE_KEYS:
        return (f"'{key}:' is indented less than the rule it belongs to: it is part of the action, so indent it "
                "under 'then:', as deep as the action's other fields")
    if key in RULE_KEYS and key not in ("description", "effective"):  # a rule set has these too
        return (f"'{key}:' is not inside a rule: each rule starts with '- ' (write '- id: ...'), and its other "
                "fields line up with 'id'")
    return ""


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
