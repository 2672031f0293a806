"""Documents declared as data: the typed fields of what a declared decision point decides, and the
extra fields a policy adds to the shipped documents, turned into pydantic fact models.

Why generated models rather than dicts: everything salesgate does with facts (validation with
errors that name the field, refusing undeclared fields, money as Decimal, ``salesgate schema``,
flattening for the rules) already works on fact models. A point declared in a policy directory
(``points/shipment_release.yaml``) or a field declared in ``policy.yaml`` (``customer.tenure_years``)
becomes a model of the same kind, held to the same rules, so no tool needs to know where a point
came from.

The field types a policy owner can declare are :class:`FieldType`; how several rules' values for
one output combine is :class:`Combine`.
"""

from __future__ import annotations

import keyword
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from .models import MAX_ID, MAX_LINES, MAX_QTY, Money, Text, Whole
from .money import normalise_scale, round_money
from .windows import Window

__all__ = ["Bilingual", "Combine", "FieldSpec", "FieldType", "OutputSpec", "document_model", "extended_model",
           "known_fields"]

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
"""A declared name (a point, a document, a field, an output): lower case ASCII, digits and ``_``."""


@dataclass(frozen=True)
class Bilingual:
    """A text for people, in Chinese and in English: the two languages salesgate's policies are written in."""

    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        """``{"zh": ..., "en": ...}``, as JSON output writes it."""
        return {"zh": self.zh, "en": self.en}


class FieldType(StrEnum):
    """The types a declared field (or output) may have."""

    text = "text"
    integer = "integer"
    number = "number"
    money = "money"
    """A Decimal amount, never negative, at most 4 decimals (as every amount salesgate reads)."""
    percent = "percent"
    """A rate: 0.05 is 5 %; a caller may send ``"5%"``. Rules compare it with ``5%``."""
    bool = "bool"
    date = "date"
    enum = "enum"
    """One of the declared ``choices``."""
    list = "list"
    """A list of line objects, each with its own declared fields (one level: scalars only)."""


class Combine(StrEnum):
    """How the values several fired rules set for one output become the decision's value."""

    first = "first"
    """The first rule to fire, in the order rules run (``priority:``, then file order), sets it."""
    max = "max"
    min = "min"
    sum = "sum"
    priority = "priority"
    """For enum outputs: the value listed first in ``choices`` wins (DMN's priority hit policy)."""


@dataclass(frozen=True)
class FieldSpec:
    """One declared field of a document (or of one element of a list field)."""

    name: str
    type: FieldType
    description: Bilingual
    required: bool = False
    choices: tuple[str, ...] = ()
    element: str = ""
    """For a list: what one element is called in rules (``line`` in ``any(line.qty > 10 for line in ...)``)."""
    fields: tuple[FieldSpec, ...] = ()
    """For a list: the fields of one element."""
    window: Window | None = None
    """For a history fact: the stretch of history it sums over (``4 quarters``), relative to the as-of date."""
    replay: Any = None
    """For a history fact: how ``salesgate simulate`` computes it (a :class:`~salesgate.history.Replay`)."""


@dataclass(frozen=True)
class OutputSpec:
    """A value rules at a point may set (a deposit percent, freight terms), and how several combine."""

    name: str
    type: FieldType
    description: Bilingual
    combine: Combine = Combine.first
    choices: tuple[str, ...] = ()


def combined(output: OutputSpec, values: Sequence[Any]) -> Any:
    """One output's value from the values several rules (or plugins) set for it, in the order they
    were set, as the output's ``combine`` says, at its type's scale."""
    how = output.combine
    if how is Combine.first:
        value = values[0]
    elif how is Combine.max:
        value = max(values)
    elif how is Combine.min:
        value = min(values)
    elif how is Combine.sum:
        value = sum(values, Decimal(0) if output.type is not FieldType.integer else 0)
    else:  # priority: the choice listed first wins
        value = min(values, key=lambda v: output.choices.index(v) if v in output.choices else len(output.choices))
    if output.type is FieldType.integer and isinstance(value, Decimal):
        value = int(value.to_integral_value(rounding=ROUND_HALF_UP))
    elif output.type is FieldType.money and isinstance(value, Decimal | int) and not isinstance(value, bool):
        value = round_money(Decimal(value))
    elif output.type in (FieldType.number, FieldType.percent) and type(value) is int:
        value = Decimal(value)
    elif output.type in (FieldType.number, FieldType.percent) and isinstance(value, Decimal):
        value = _at_most_six_decimals(value)
    return value


_SIX_DECIMALS = Decimal("0.000001")


def _at_most_six_decimals(value: Decimal) -> Decimal:
    """A number or percent output rounded half up to 6 decimals, the most such a value may carry
    when a caller sends it or a test case expects it: ``sum(...) / 3`` set as an output would
    otherwise carry 28 digits (71.66666666666666666666666667) that no test case can write and an
    ERP column would cut as it pleases."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -6:
        return value
    rounded = value.quantize(_SIX_DECIMALS, rounding=ROUND_HALF_UP)
    return rounded.quantize(Decimal(1)) if rounded == rounded.to_integral_value() else rounded.normalize()


def _plain_number(number: Decimal) -> str:
    """``500`` for Decimal("500.0"), ``150`` for Decimal("1.5E+2"): a number as a person writes it."""
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _percent(value: Any) -> Any:
    """``"5%"`` is 0.05; a number is a rate (``0.05``). A bare number above 1 is refused: ``5`` could mean
    5 % or 500 %, and a policy owner's rules compare with ``5%`` (as ``markup: 10`` is refused in rules)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        number = value.strip()[:-1].strip()
        if not number.isascii():
            return value  # refused by the Decimal check, naming the field
        try:
            return Decimal(number) / 100
        except ArithmeticError:
            return value
    if isinstance(value, int | float | Decimal | str) and not isinstance(value, bool):
        try:
            rate = Decimal(str(value).strip())
        except ArithmeticError:
            return value  # refused by the Decimal check, naming the field
        if rate.is_finite() and abs(rate) > 1:
            raise PydanticCustomError(
                "percent_ambiguous", "{value} as a percent is ambiguous: send '{value}%' for {value} percent, or "
                "'{hundred}%' for {value} times", {"value": str(value), "hundred": _plain_number(rate * 100)})
    return value


_Percent = Annotated[Decimal, Field(ge=-1000, le=1000, decimal_places=6)]
_Number = Annotated[Decimal, Field(ge=-(10**14), le=10**14, decimal_places=6, allow_inf_nan=False)]
_Integer = Annotated[Whole, Field(ge=-MAX_QTY * 1000, le=MAX_QTY * 1000)]


def python_type(spec: FieldSpec | OutputSpec) -> Any:
    """The annotation a declared field's values are validated with."""
    kind = spec.type
    if kind is FieldType.text:
        return Text
    if kind is FieldType.integer:
        return _Integer
    if kind is FieldType.number:
        return _Number
    if kind is FieldType.money:
        return Money
    if kind is FieldType.percent:
        return Annotated[_Percent, BeforeValidator(_percent)]
    if kind is FieldType.bool:
        return bool
    if kind is FieldType.date:
        return date
    if kind is FieldType.enum:
        return Literal[tuple(spec.choices)]
    raise ValueError(f"no scalar type for {kind}")  # pragma: no cover - lists are built by document_model


class _Document(BaseModel):
    """Base of generated documents: unknown fields are refused, values never change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _model_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) or "Document"


def _field(spec: FieldSpec, subject: bool = False) -> tuple[Any, Any]:
    extra: dict[str, Any] = {"zh": spec.description.zh}
    if spec.type is FieldType.list:
        element = create_model(  # type: ignore[call-overload]
            _model_name(spec.element), __base__=_Document,
            __doc__=f"One {spec.element}: {spec.description.en}",
            **{f.name: _field(f) for f in spec.fields})
        annotation: Any = list[element]
        info: Any = Field(default_factory=list, max_length=MAX_LINES, description=spec.description.en,
                     json_schema_extra={**extra, "element": spec.element})
        return annotation, info
    annotation = python_type(spec)
    if subject:
        return annotation, Field(min_length=1, max_length=MAX_ID, description=spec.description.en,
                                 json_schema_extra=extra)
    if spec.required:
        return annotation, Field(description=spec.description.en, json_schema_extra=extra)
    return annotation | None, Field(None, description=spec.description.en, json_schema_extra=extra)


def document_model(point: str, root: str, fields: Sequence[FieldSpec], subject_field: str,
                   includes: Mapping[str, type[BaseModel]], description: str = "") -> type[BaseModel]:
    """The fact model of a declared point: ``{root: <the document>, <included>: ...}``.

    ``includes`` are shipped documents that come with it (``customer``), by the name rules read
    them under; each is required (a caller, or an adapter, supplies it).
    """
    document = create_model(  # type: ignore[call-overload]
        _model_name(root), __base__=_Document, __doc__=description or f"The {root} a {point} decision is about.",
        **{spec.name: _field(spec, subject=spec.name == subject_field) for spec in fields})
    facts: type[BaseModel] = create_model(  # type: ignore[call-overload]
        _model_name(point) + "Facts", __base__=_Document,
        __doc__=f"What a {point} decision reads: the {root}" + (f" with {', '.join(includes)}" if includes else ""),
        **{root: (document, Field(description=description or f"The {root}."))},
        **{name: (model, Field(description=f"The {name}.")) for name, model in includes.items()})
    return facts


def extended_model(base: type[BaseModel], fields: Sequence[FieldSpec],
                   replaced: Mapping[str, Any] | None = None) -> type[BaseModel]:
    """``base`` with a policy's declared extra ``fields`` (always optional), and the annotations of
    ``replaced`` fields swapped (an order's lines as the extended line model). The result is a
    subclass of ``base``: everything that takes a ``Customer`` takes an extended one."""
    definitions: dict[str, Any] = {spec.name: _field(spec) for spec in fields}
    for name, annotation in (replaced or {}).items():
        info = base.model_fields[name]
        definitions[name] = (annotation, info)
    if not definitions:
        return base
    model: type[BaseModel] = create_model(base.__name__, __base__=base, __doc__=base.__doc__,
                                          __module__=base.__module__, **definitions)
    return model


def valid_name(name: str) -> bool:
    """Whether ``name`` may name a declared point, document, field or output: lower case ASCII, digits
    and single ``_`` (a fact's path is also a flat field name in the durable backend, ``a.b`` → ``a__b``),
    not a Python keyword nor a word of the rule language."""
    return (bool(NAME.match(name)) and "__" not in name and not name.endswith("_")
            and not keyword.iskeyword(name) and name not in ("true", "false", "none", "any", "all"))


def reserved(name: str, base: type[BaseModel] = BaseModel) -> bool:
    """Whether a field called ``name`` would shadow what the document's model already has: pydantic's
    own methods (``json``, ``copy``, ``model_dump``…) or a shipped document's derived facts (``total``)."""
    return name.startswith("model_") or hasattr(base, name)


def output_value(spec: OutputSpec, value: Any) -> Any:
    """An output value at its type's scale (money to the cent scale, as facts are)."""
    if spec.type is FieldType.money and isinstance(value, Decimal):
        return normalise_scale(value)
    return value


def known_fields(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The field names (as written in facts) of the (sub)model at ``loc``, a pydantic error's location
    without its last key."""
    current: Any = model
    for key in loc:
        if isinstance(key, int):
            continue
        fields = getattr(current, "model_fields", None)
        info = None
        if fields is not None:
            info = fields.get(key) or next((f for f in fields.values() if f.alias == key), None)
        if info is None:
            return []
        annotation = info.annotation
        while typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        current = annotation
    fields = getattr(current, "model_fields", None)
    return [info.alias or name for name, info in fields.items()] if fields else []
