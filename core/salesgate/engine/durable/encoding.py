"""A fact as durable-rules sees it: typed values, the fields of a message, the message itself.

durable compares in binary doubles and compares a string with a number lexicographically
(hazards 7, 16 and 29 in the package docstring), so every value is encoded by an encoder chosen
from its IR kind: numbers and day counts as integers in units of 10^-4, dates as day numbers,
booleans only from ``bool``, text as valid UTF-8. A value of the wrong type, or a number that is
not a whole number of 10^-4, is an :class:`~salesgate.errors.EngineError` naming the fact, never
a wrong match.

A :class:`Schema` collects, while a ruleset's rules are translated, the fields its messages
carry (and checks every path against the stage's vocabulary: hazard 8); :func:`message_encoder`
then writes one fact's message as JSON text holding exactly those fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from ...errors import EngineError
from ...facts import FactValues
from ...policy.ir import Const, Kind, Ref
from ...vocabulary import FactInfo

__all__ = [
    "KIND_FIELD",
    "SCALE",
    "ListSchema",
    "Schema",
    "constant",
    "family",
    "message_encoder",
    "scaled",
]

SCALE: Final = 10_000
"""Numbers and day counts are sent as integers in units of 10^-4: the fact models' precision."""

_INT64_MAX: Final = 2**63 - 1

KIND_FIELD: Final = "_k"  # discriminator: which scope a fact belongs to (absent from the state fact)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")
_json_string: Callable[[str], str] = json.encoder.encode_basestring  # the C encoder json.dumps uses


def scaled(value: Decimal | int) -> int | None:
    """``value`` × 10^4 as an exact integer, or None when that is not a whole int64."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    try:
        numerator, denominator = value.as_integer_ratio()
    except (ValueError, OverflowError):  # NaN, infinity
        return None
    if SCALE % denominator:
        return None
    result = numerator * (SCALE // denominator)
    return result if -_INT64_MAX <= result <= _INT64_MAX else None


@dataclass(frozen=True)
class _Fields:
    """The fields of one message (or array element), grouped by how their values are encoded.

    Each field is (``,"key":`` JSON prefix, fact path): messages are written as JSON text
    directly, which is several times faster than building a dict for ``json.dumps``.
    """

    numbers: tuple[tuple[str, str], ...] = ()
    dates: tuple[tuple[str, str], ...] = ()
    bools: tuple[tuple[str, str], ...] = ()
    texts: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def of(fields: Mapping[str, tuple[str, Kind]]) -> _Fields:
        groups: dict[str, list[tuple[str, str]]] = {"numbers": [], "dates": [], "bools": [], "texts": []}
        for path, (key, kind) in fields.items():
            group = _GROUP.get(kind)
            if group is None:
                raise EngineError(f"fact {path!r} of kind {kind.value} cannot be sent to durable-rules")
            groups[group].append((_prefix(key), path))
        return _Fields(**{name: tuple(pairs) for name, pairs in groups.items()})


def _prefix(key: str) -> str:
    return "," + _json_string(key) + ":"


_GROUP: Final[Mapping[Kind, str]] = {
    Kind.number: "numbers",
    Kind.duration: "numbers",
    Kind.date: "dates",
    Kind.bool: "bools",
    Kind.text: "texts",
    Kind.enum: "texts",
}


def _refuse(path: str, value: Any, expected: str) -> EngineError:
    return EngineError(f"fact {path} = {value!r} cannot be matched exactly: expected {expected}")


_NUMBER = "an int or a Decimal with at most 4 decimal places"


def _fill(out: list[str], values: FactValues, fields: _Fields) -> None:
    """Append ``,"key":value`` for every present value of ``fields`` (None: the field is left out).

    The hot path of every decision, so the common types are tested inline.
    """
    get = values.get
    add = out.append
    for prefix, path in fields.numbers:
        value = get(path)
        if value is None:
            continue
        if type(value) is Decimal:
            try:
                numerator, denominator = value.as_integer_ratio()
            except (ValueError, OverflowError):
                raise _refuse(path, value, _NUMBER) from None
            if SCALE % denominator:
                raise _refuse(path, value, _NUMBER)
            result = numerator * (SCALE // denominator)
        elif type(value) is int:
            result = value * SCALE
        else:
            converted = scaled(value)
            if converted is None:
                raise _refuse(path, value, _NUMBER)
            result = converted
        if not -_INT64_MAX <= result <= _INT64_MAX:
            raise _refuse(path, value, "a number below 9.2e14")
        add(prefix)
        add(str(result))
    for prefix, path in fields.texts:
        value = get(path)
        if value is not None:
            if not isinstance(value, str):
                raise _refuse(path, value, "text")
            if not value.isascii():
                try:
                    value.encode("utf-8")  # durable takes UTF-8: a lone surrogate ('\ud800') is not text
                except UnicodeEncodeError:
                    raise _refuse(path, value, "valid Unicode text (it holds a lone surrogate)") from None
            add(prefix)
            add(_json_string(value))
    for prefix, path in fields.bools:
        value = get(path)
        if value is not None:
            if value is True:
                add(prefix + "true")
            elif value is False:
                add(prefix + "false")
            else:
                raise _refuse(path, value, "true or false")
    for prefix, path in fields.dates:
        value = get(path)
        if value is not None:
            if not isinstance(value, date):
                raise _refuse(path, value, "a date")
            add(prefix)
            add(str(value.toordinal()))


def constant(const: Const) -> Any:
    """A constant in durable's terms, or None when durable cannot hold it exactly."""
    value = const.value
    if const.kind in (Kind.number, Kind.duration):
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise EngineError(f"constant {value!r} is not a number")
        return scaled(value)
    if const.kind is Kind.date:
        if not isinstance(value, date):
            raise EngineError(f"constant {value!r} is not a date")
        return value.toordinal()
    if const.kind is Kind.bool:
        if not isinstance(value, bool):
            raise EngineError(f"constant {value!r} is not true/false")
        return value
    if const.kind in (Kind.text, Kind.enum):
        if not isinstance(value, str):
            raise EngineError(f"constant {value!r} is not text")
        return value
    raise EngineError(f"constant {value!r} of kind {const.kind.value} cannot be compared")


def family(kind: Kind) -> str:
    """Kinds that may be compared with each other share a family."""
    return {Kind.number: "number", Kind.duration: "number", Kind.text: "text", Kind.enum: "text"}.get(
        kind, kind.value
    )


def _key(path: str) -> str:
    """A vocabulary path as one flat durable field name: ``order.total`` → ``order__total``."""
    return path.replace(".", "__")


@dataclass
class ListSchema:
    """One list fact (``order.lines``) as a JSON array of flattened element dicts."""

    key: str
    path: str
    fields: dict[str, tuple[str, Kind]] = field(default_factory=dict)  # path → (item key, kind)
    derived: dict[Any, tuple[str, Callable[[FactValues, FactValues], int | None]]] = field(
        default_factory=dict
    )
    count_key: str | None = None
    marker: bool = False  # every element carries {"_e": 1}: ``true`` inside any()/all()


@dataclass
class Schema:
    """What one ruleset's messages hold, collected while its rules are translated."""

    vocabulary: Mapping[str, FactInfo]
    fields: dict[str, tuple[str, Kind]] = field(default_factory=dict)  # path → (key, kind)
    derived: dict[Any, tuple[str, Callable[[FactValues], int | None]]] = field(default_factory=dict)
    lists: dict[str, ListSchema] = field(default_factory=dict)
    rule: str = ""

    def check(self, ref: Ref) -> None:
        info = self.vocabulary.get(ref.path)
        if info is None:
            raise EngineError(f"rule {self.rule!r} reads {ref.path!r}, which is not in the stage's vocabulary")
        if family(info.kind) != family(ref.kind):
            raise EngineError(
                f"rule {self.rule!r} reads {ref.path!r} as {ref.kind.value}, but it is {info.kind.value}"
            )
        if not _NAME.fullmatch(ref.path):
            raise EngineError(f"fact path {ref.path!r} cannot be a durable field name")

    def top_key(self, ref: Ref) -> str:
        self.check(ref)
        if ref.kind is Kind.list:
            raise EngineError(f"rule {self.rule!r} compares the list {ref.path!r}")
        entry = self.fields.setdefault(ref.path, (_key(ref.path), ref.kind))
        return entry[0]

    def item_key(self, lst: ListSchema, ref: Ref) -> str:
        self.check(ref)
        entry = lst.fields.setdefault(ref.path, (_key(ref.path), ref.kind))
        return entry[0]

    def derive(self, signature: Any, compute: Callable[[FactValues], int | None]) -> str:
        entry = self.derived.setdefault(signature, (f"_d{len(self.derived)}", compute))
        return entry[0]

    def derive_item(
        self, lst: ListSchema, signature: Any, compute: Callable[[FactValues, FactValues], int | None]
    ) -> str:
        entry = lst.derived.setdefault(signature, (f"_d{len(lst.derived)}", compute))
        return entry[0]

    def list_schema(self, path: str) -> ListSchema:
        info = self.vocabulary.get(path)
        if info is None or info.kind is not Kind.list:
            raise EngineError(f"rule {self.rule!r} loops over {path!r}, which is not a list fact")
        if not _NAME.fullmatch(path):
            raise EngineError(f"fact path {path!r} cannot be a durable field name")
        return self.lists.setdefault(path, ListSchema(_key(path), path))


def message_encoder(schema: Schema, code: int) -> Callable[[FactValues, str, str], str]:
    """A function writing the JSON message of one fact: only the fields this ruleset reads.

    ``sid`` and ``mid`` are decimal strings made by :mod:`.sessions`, so they need no escaping.
    """
    top = _Fields.of(schema.fields)
    derived = tuple((_prefix(key), compute) for key, compute in schema.derived.values())
    lists = tuple(
        (
            _prefix(lst.key),
            lst.path,
            _prefix(lst.count_key) if lst.count_key else None,
            _Fields.of(lst.fields),
            tuple((_prefix(key), compute) for key, compute in lst.derived.values()),
            ',"_e":1' if lst.marker else "",
        )
        for lst in schema.lists.values()
    )
    head = ',"' + KIND_FIELD + '":' + str(code)
    fill = _fill

    def encode(values: FactValues, sid: str, mid: str) -> str:
        out = ['{"sid":"', sid, '","id":"', mid, '"', head]
        fill(out, values, top)
        for prefix, compute in derived:
            result = compute(values)
            if result is not None:
                out.append(prefix + str(result))
        for prefix, path, count_prefix, item_fields, item_derived, marker in lists:
            elements = values.get(path) or ()
            if elements:
                encoded = []
                for element in elements:
                    item = [marker]
                    fill(item, element, item_fields)
                    for item_prefix, item_compute in item_derived:
                        result = item_compute(values, element)
                        if result is not None:
                            item.append(item_prefix + str(result))
                    encoded.append("{" + "".join(item)[1:] + "}")
                out.append(prefix + "[" + ",".join(encoded) + "]")
            if count_prefix is not None:
                out.append(count_prefix + str(len(elements)))
        out.append("}")
        return "".join(out)

    return encode
