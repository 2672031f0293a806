"""What a policy directory declares besides rules: its own decision points (``points/<name>.yaml``)
and extra fields on the shipped documents (``facts:`` in ``policy.yaml``).

An ERP team declares here what its company decides on, in YAML, without Python; the declarations
become :class:`~salesgate.pointspecs.PointSpec` and pydantic fact models (:mod:`salesgate.documents`),
so validation, the vocabulary, decisions, tests and every tool treat them as they treat the four
shipped points. Every problem names the file, line and field, as a rule's problems do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..documents import (
    Bilingual,
    Combine,
    FieldSpec,
    FieldType,
    OutputSpec,
    document_model,
    extended_model,
    reserved,
    valid_name,
)
from ..errors import did_you_mean
from ..history import HISTORY_TYPES, HistoryFact, ReplayError, parse_replay
from ..models import CreditExposure, Customer, Order, OrderFacts, OrderLine, Product, ReturnFacts, ReturnRequest
from ..pointspecs import POINT_SPECS, Origin, PointSpec, declared_point
from ..vocabulary import EXTENSIBLE
from ..windows import Window, WindowError, parse_window
from .plainwords import plain_message
from .yamlfile import LineDict, line_of, load_yaml

POINTS_DIRECTORY = "points"
"""The folder of a policy directory that holds its point declarations, one file per point."""

Problem = Callable[[str, str, "int | None", "str | None", "str | None"], None]
"""``problem(message, file, line, field, suggestion)``: how a problem is reported to the loader."""

_TEXT = "{zh: 中文说明, en: English description}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Text2(_Strict):
    """A description in both languages a policy is written in."""

    zh: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)]


def _bilingual(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(f"describe it in Chinese and in English: {_TEXT}")
    return value


class FieldDecl(_Strict):
    """One field of a declared document, or an extra field of a shipped one."""

    type: FieldType = Field(description="text, integer, number, money, percent, bool, date, enum or list.")
    description: Text2 = Field(description=f"What it holds, for people: {_TEXT}.")
    required: bool = Field(False, description="A document without it is refused (default: optional).")
    choices: list[Annotated[str, Field(min_length=1)]] | None = Field(None, description="enum: its values.")
    element: str | None = Field(None, description="list: what one element is called in rules (line).")
    fields: dict[str, FieldDecl] | None = Field(None, description="list: the fields of one element.")
    window: str | None = Field(None, description="A history fact: the history it sums over (90 days, 4 quarters, "
                                                 "this month, all); the adapter computes it, or the caller sends it.")
    simulate: str | None = Field(None, description="A history fact: how salesgate simulate computes it from the "
                                                   "history file's earlier orders of the customer (sum of "
                                                   "order.total, count of orders, days since last order).")
    record: bool = Field(False, description="Kept with each decision for people to read; no rule needs to read it "
                                            "(salesgate validate does not warn that no rule reads it).")

    _bilingual = field_validator("description", mode="before")(_bilingual)


class OutputDecl(_Strict):
    """A value rules at the point may set with ``then: set:``."""

    type: FieldType = Field(description="text, integer, number, money, percent, bool, date or enum.")
    description: Text2
    combine: Combine = Field(Combine.first, description="first, max, min, sum or priority (enum: first choice wins).")
    choices: list[Annotated[str, Field(min_length=1)]] | None = None

    _bilingual = field_validator("description", mode="before")(_bilingual)


class PointFile(_Strict):
    """``points/<name>.yaml``: one decision point a policy declares."""

    point: str = Field(description="The point's name, as rule files (hook:) and Gate.decide use it.")
    title: Text2 = Field(description=f"Its name for people: {_TEXT}.")
    description: Text2 = Field(description="What is decided here, and when the ERP asks.")
    document: str = Field(description="What rules call the document: shipment (shipment.amount).")
    subject: str | None = Field(None, description="The field that identifies one document; default <document>.id.")
    includes: list[Literal["customer", "exposure"]] = Field(
        default_factory=list, description="Shipped documents that come with it: customer, exposure.")
    fields: dict[str, FieldDecl] = Field(min_length=1)
    outputs: dict[str, OutputDecl] = Field(default_factory=dict)

    _bilingual = field_validator("title", "description", mode="before")(_bilingual)


@dataclass(frozen=True)
class Declared:
    """What a policy directory declares: its points (with their document fields) and its extra facts."""

    points: Mapping[str, PointSpec] = field(default_factory=dict)
    fields: Mapping[str, tuple[FieldSpec, ...]] = field(default_factory=dict)
    """By declared point: its document's fields (the vocabulary reads them, with both languages)."""
    extras: Mapping[str, tuple[FieldSpec, ...]] = field(default_factory=dict)
    """By shipped document (customer, order, line, product, exposure, return): its declared extra fields."""
    files: tuple[Path, ...] = ()


def point_files(directory: Path) -> list[Path]:
    """The point declarations of a policy directory: ``points/*.yaml``."""
    folder = directory / POINTS_DIRECTORY
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".yaml", ".yml"))


def _field_spec(name: str, decl: FieldDecl, where: str, report: Callable[[str, str], None],
                nested: bool = False, base: type[BaseModel] = BaseModel) -> FieldSpec | None:
    if not valid_name(name):
        report(f"{name!r} cannot name a field: use lower case letters, digits and single _, starting with a letter",
               where)
        return None
    if reserved(name, base):
        report(f"{name!r} is a name the document's model already uses: pick another (e.g. {name}_text or "
               f"{name}_value)", where)
        return None
    choices = tuple(decl.choices or ())
    if decl.type is FieldType.enum:
        if not choices:
            report("an enum field needs its choices: choices: [a, b]", where)
            return None
        if len(set(choices)) != len(choices):
            report("an enum field lists a choice twice", where)
            return None
    elif decl.choices is not None:
        report(f"choices are for enum fields; this one is {decl.type}", where)
    if decl.type is FieldType.list:
        if nested:
            report("a list's elements hold plain fields, not another list", where)
            return None
        if not decl.element or not decl.fields:
            report("a list field needs element (what one is called in rules, e.g. line) and fields", where)
            return None
        if not valid_name(decl.element):
            report(f"{decl.element!r} cannot name an element: lower case letters, digits and _", where)
            return None
        subs = [_field_spec(sub, sub_decl, f"{where}.fields.{sub}", report, nested=True)
                for sub, sub_decl in decl.fields.items()]
        if any(s is None for s in subs):
            return None
        return FieldSpec(name, decl.type, Bilingual(decl.description.zh, decl.description.en), decl.required,
                         element=decl.element, fields=tuple(s for s in subs if s is not None))
    if decl.element is not None or decl.fields is not None:
        report(f"element and fields are for list fields; this one is {decl.type}", where)
    window = replay = None
    if decl.window is not None:
        window = _window(decl, where, report, nested)
        if window is None:
            return None
    if decl.simulate is not None:
        if window is None:
            report("simulate: says how a history fact is computed: declare its window: too", f"{where}.simulate")
            return None
        try:
            replay = parse_replay(decl.simulate, _SUMMABLE)
        except ReplayError as exc:
            report(str(exc), f"{where}.simulate")
            return None
        if replay.measure == "sum" and decl.type not in (FieldType.money, FieldType.number):
            report(f"a sum is money or a number; this fact is {decl.type}: use count of orders, or type: money",
                   f"{where}.simulate")
            return None
        if replay.measure != "sum" and decl.type is not FieldType.integer:
            report(f"{replay} is a whole number; this fact is {decl.type}: declare type: integer", f"{where}.simulate")
            return None
    return FieldSpec(name, decl.type, Bilingual(decl.description.zh, decl.description.en), decl.required,
                     choices=choices, window=window, replay=replay)


_SUMMABLE = ("total",)
"""The order's numbers ``simulate: sum of order.<field>`` may add."""


def _window(decl: FieldDecl, where: str, report: Callable[[str, str], None], nested: bool) -> Window | None:
    """A history fact's window, parsed; ``None`` (reported) when the fact cannot be a history fact."""
    if nested:
        report("a history fact (window:) is a fact of the whole document, not of each element of a list: "
               "declare it beside the list", f"{where}.window")
        return None
    if decl.type not in HISTORY_TYPES:
        report(f"a history fact (window:) is money, integer, number, percent or date; this one is {decl.type}",
               f"{where}.window")
        return None
    if decl.required:
        report("a history fact is always optional (computed when the ERP can, else missing): remove required",
               f"{where}.required")
        return None
    try:
        return parse_window(decl.window)
    except WindowError as exc:
        report(str(exc), f"{where}.window")
        return None


def history_facts(document: str, fields: tuple[FieldSpec, ...]) -> tuple[HistoryFact, ...]:
    """The history facts among a document's declared fields (those with a window)."""
    return tuple(HistoryFact(document, spec.name, spec.type, spec.window, spec.replay) for spec in fields
                 if spec.window is not None)


_NUMERIC = {FieldType.integer, FieldType.number, FieldType.money, FieldType.percent}


def _output_spec(name: str, decl: OutputDecl, where: str, report: Callable[[str, str], None]) -> OutputSpec | None:
    if not valid_name(name):
        report(f"{name!r} cannot name an output: use lower case letters, digits and _", where)
        return None
    if decl.type is FieldType.list:
        report("an output holds one value: text, integer, number, money, percent, bool, date or enum", where)
        return None
    choices = tuple(decl.choices or ())
    if decl.type is FieldType.enum and not choices:
        report("an enum output needs its choices: choices: [a, b]", where)
        return None
    if decl.combine in (Combine.sum,) and decl.type not in _NUMERIC:
        report(f"combine: sum adds numbers; this output is {decl.type}: use first", where)
        return None
    if decl.combine in (Combine.max, Combine.min) and decl.type not in _NUMERIC | {FieldType.date}:
        report(f"combine: {decl.combine} compares numbers or dates; this output is {decl.type}: use first or "
               "(for an enum) priority", where)
        return None
    if decl.combine is Combine.priority and decl.type is not FieldType.enum:
        report("combine: priority picks the enum choice listed first; this output is "
               f"{decl.type}: use max, min or first", where)
        return None
    return OutputSpec(name, decl.type, Bilingual(decl.description.zh, decl.description.en), decl.combine, choices)


def _problems_of(exc: ValidationError, data: Any, shown: str, add: Callable[..., None]) -> None:
    for err in exc.errors():
        loc = err["loc"]
        where = ".".join(str(p) for p in loc if not (isinstance(p, str) and p.startswith(("literal", "function"))))
        message = plain_message(err)
        suggestion = None
        if err["type"] == "extra_forbidden":
            parent: Any = PointFile if loc[:1] != ("facts",) else FieldDecl
            if len(loc) >= 3 and loc[0] in ("fields", "outputs", "facts"):
                parent = OutputDecl if loc[0] == "outputs" else FieldDecl
            elif len(loc) == 1:
                parent = PointFile
            known = list(parent.model_fields)
            suggestion = did_you_mean(str(loc[-1]), known)
            message += f"; expected one of: {', '.join(known)}"
        add(message, shown, line_of(data, loc), field=where or None, suggestion=suggestion)


def load_points(directory: Path, problems: Callable[..., None], digest: Callable[[bytes], None],
                taken: Mapping[str, PointSpec], extras: Mapping[str, tuple[FieldSpec, ...]]) -> tuple[
                    dict[str, PointSpec], dict[str, tuple[FieldSpec, ...]], list[Path], set[str]]:
    """Read ``points/*.yaml``: the declared points (and their document fields), reporting every problem.

    ``taken`` are the points already known (built in, or declared by plugins): a policy cannot declare
    one of them again. ``extras`` are the policy's declared extra facts, for an included customer.
    """
    points: dict[str, PointSpec] = {}
    fields_of: dict[str, tuple[FieldSpec, ...]] = {}
    failed: set[str] = set()  # points whose declaration has problems: their rules are not checked again
    files = point_files(directory)
    for file in files:
        shown = str(file)
        data = load_yaml(file, shown, kind="point declaration")
        digest(f"{POINTS_DIRECTORY}/{file.name}".encode() + b"\0" + file.read_bytes())
        if not isinstance(data, LineDict):
            problems("a point declaration is a mapping with point, title, description, document and fields", shown, 1)
            failed.add(file.stem)
            continue
        try:
            decl = PointFile.model_validate(data)
        except ValidationError as exc:
            _problems_of(exc, data, shown, problems)
            failed.add(str(data.get("point", file.stem)))
            continue

        def report(message: str, where: str, data: LineDict = data, shown: str = shown) -> None:
            problems(message, shown, line_of(data, tuple(where.split("."))), field=where)

        spec, fields = _declared(decl, file, report, taken, points, extras)
        if spec is not None:
            points[spec.name] = spec
            fields_of[spec.name] = fields
        else:
            failed.add(decl.point)
    return points, fields_of, files, failed


def _declared(decl: PointFile, file: Path, report: Callable[[str, str], None], taken: Mapping[str, PointSpec],
              declared: Mapping[str, PointSpec], extras: Mapping[str, tuple[FieldSpec, ...]],
              ) -> tuple[PointSpec | None, tuple[FieldSpec, ...]]:
    name = decl.point
    ok = True
    if not valid_name(name):
        report(f"{name!r} cannot name a decision point: use lower case letters, digits and _", "point")
        return None, ()
    if name in taken:
        where = "salesgate" if taken[name].built_in else f"plugin {taken[name].source}"
        report(f"decision point {name!r} is already declared by {where}: give yours another name", "point")
        return None, ()
    if name in declared:
        report(f"decision point {name!r} is declared twice (also in {declared[name].source})", "point")
        return None, ()
    if file.stem != name:
        report(f"the file of point {name!r} is called {file.name}: name it {name}.yaml, so the point is found "
               "where it is declared", "point")
        ok = False
    root = decl.document
    if not valid_name(root) or root in ("customer", "exposure", "order", "line", "product", "return"):
        report(f"{root!r} cannot name the document: pick a name of your own (lower case), not a shipped "
               "document's", "document")
        return None, ()
    specs = [_field_spec(n, d, f"fields.{n}", report) for n, d in decl.fields.items()]
    if any(s is None for s in specs):
        return None, ()
    fields = tuple(s for s in specs if s is not None)
    elements = [f.element for f in fields if f.type is FieldType.list]
    for element in elements:
        if elements.count(element) > 1 or element in (root, *decl.includes):
            report(f"element name {element!r} is used twice: give each list's elements their own name", "fields")
            return None, ()
    subject = decl.subject or f"{root}.id"
    prefix, _, subject_field = subject.partition(".")
    by_name = {f.name: f for f in fields}
    if prefix != root or subject_field not in by_name:
        report(f"the subject {subject!r} must be a text field of the document ({root}.<field>): declare "
               f"{root}.id, or say which field identifies one {root}", "subject")
        return None, ()
    if by_name[subject_field].type is not FieldType.text:
        report(f"the subject {subject!r} is {by_name[subject_field].type}: it must be a text field", "subject")
        return None, ()
    outputs = [_output_spec(n, d, f"outputs.{n}", report) for n, d in decl.outputs.items()]
    if any(o is None for o in outputs) or not ok:
        return None, ()
    customer = extended_model(Customer, extras.get("customer", ()))
    exposure = extended_model(CreditExposure, extras.get("exposure", ()))
    includes: dict[str, type[BaseModel]] = {str(part): {"customer": customer, "exposure": exposure}[part]
                                            for part in decl.includes}
    title = Bilingual(decl.title.zh, decl.title.en)
    description = Bilingual(decl.description.zh, decl.description.en)
    model = document_model(name, root, fields, subject_field, includes, description.en)
    history = history_facts(root, fields)
    if "customer" in decl.includes:
        history += history_facts("customer", extras.get("customer", ()))
    spec = declared_point(name, model, subject, title=title, description=description,
                          outputs=tuple(o for o in outputs if o is not None), origin=Origin.policy,
                          source=f"{POINTS_DIRECTORY}/{file.name}", history=history)
    return spec, fields


def built_in_outputs(outputs: Mapping[str, Mapping[str, OutputDecl]], points: Mapping[str, PointSpec],
                     report: Callable[[str, str], None]) -> dict[str, tuple[OutputSpec, ...]]:
    """``outputs:`` of policy.yaml: the values rules at each built-in point may set, by point."""
    out: dict[str, tuple[OutputSpec, ...]] = {}
    for point, declared in outputs.items():
        where = f"outputs.{point}"
        spec = points.get(point)
        if spec is None or not spec.built_in:
            built_in = [name for name, s in points.items() if s.built_in]
            suggestion = did_you_mean(point, built_in)
            hint = f" (did you mean {suggestion}?)" if suggestion else ""
            report(f"{point!r} is not a built-in decision point{hint}: policy.yaml declares outputs of "
                   f"{', '.join(built_in)}; a declared point declares its own under outputs: in its file", where)
            continue
        specs = [_output_spec(name, decl, f"{where}.{name}", report) for name, decl in declared.items()]
        out[point] = tuple(s for s in specs if s is not None)
    return out


HISTORY_DOCUMENTS = ("customer", "order")
"""The shipped documents a history fact may be declared on: those a history query can be keyed by."""


def load_extras(facts: Mapping[str, FieldDecl], report: Callable[[str, str], None]) -> dict[str, tuple[FieldSpec, ...]]:
    """``facts:`` of policy.yaml: extra fields on the shipped documents, by document."""
    out: dict[str, list[FieldSpec]] = {}
    shipped: dict[str, type[BaseModel]] = {"customer": Customer, "order": Order, "line": OrderLine,
                                           "product": Product, "exposure": CreditExposure, "return": ReturnRequest}
    for path, decl in facts.items():
        where = f"facts.{path}"
        document, dot, name = path.partition(".")
        if not dot or document not in EXTENSIBLE:
            suggestion = did_you_mean(document, list(EXTENSIBLE))
            hint = f" (did you mean {suggestion}.{name}?)" if suggestion and dot else ""
            report(f"{path!r}: declare a fact as <document>.<field>, on one of {', '.join(EXTENSIBLE)}{hint}", where)
            continue
        if name in shipped[document].model_fields or (document == "order" and name in ("total", "line_count")) or (
                document == "line" and name in ("amount", "net_unit_price", "policy_price", "product")) or (
                document == "return" and name in ("amount", "returnable_qty")) or (
                document == "exposure" and name == "total"):
            report(f"{path!r} is already a fact salesgate ships: see salesgate vocab", where)
            continue
        if decl.type is FieldType.list:
            report("a declared fact holds one value: text, integer, number, money, percent, bool, date or enum", where)
            continue
        if decl.window is not None and document not in HISTORY_DOCUMENTS:
            report(f"a history fact (window:) is a fact of the customer or the order (what its history is kept "
                   f"by), not of {document}: declare it as customer.{name} or order.{name}", f"{where}.window")
            continue
        if decl.required:
            report("a declared fact is always optional (callers that do not know it still decide): remove "
                   "required", where)
            continue
        spec = _field_spec(name, decl, where, report, base=shipped[document])
        if spec is not None:
            out.setdefault(document, []).append(spec)
    return {document: tuple(specs) for document, specs in out.items()}


def extended_documents(extras: Mapping[str, tuple[FieldSpec, ...]]) -> tuple[type[OrderFacts], type[ReturnFacts]]:
    """The shipped fact models with a policy's declared extra fields (the shipped ones when it declares none)."""
    if not extras:
        return OrderFacts, ReturnFacts
    customer = extended_model(Customer, extras.get("customer", ()))
    product = extended_model(Product, extras.get("product", ()))
    line = extended_model(OrderLine, extras.get("line", ()))
    order = extended_model(Order, extras.get("order", ()),
                           {"lines": list[line]} if line is not OrderLine else None)  # type: ignore[valid-type]
    exposure = extended_model(CreditExposure, extras.get("exposure", ()))
    request = extended_model(ReturnRequest, extras.get("return", ()))
    replaced_order: dict[str, Any] = {}
    if customer is not Customer:
        replaced_order["customer"] = customer
    if order is not Order:
        replaced_order["order"] = order
    if product is not Product:
        replaced_order["products"] = list[product]  # type: ignore[valid-type]
    if exposure is not CreditExposure:
        replaced_order["exposure"] = exposure
    order_facts = extended_model(OrderFacts, (), replaced_order)
    replaced_return: dict[str, Any] = {}
    if customer is not Customer:
        replaced_return["customer"] = customer
    if request is not ReturnRequest:
        replaced_return["return_request"] = request
    return_facts = extended_model(ReturnFacts, (), replaced_return)
    return order_facts, return_facts  # type: ignore[return-value]


BUILT_IN: Mapping[str, PointSpec] = POINT_SPECS
