"""The shape of rule files, as pydantic models: what ``salesgate schema`` publishes for editors.

Only structure is checked here (unknown fields, types, percentages, id syntax). Meaning (do the
facts exist, do the types fit, are the roles in the ladder) is checked by the compiler, which
knows the vocabulary.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .declarations import FieldDecl, OutputDecl
from .limits import MAX_PRICE
from .yamlfile import YamlScalar


def _message(value: str | dict[str, str]) -> str | dict[str, str]:
    if isinstance(value, dict) and not value:
        raise ValueError('a message in no language: write the text, or one text per language such as '
                         '{zh: "客户已冻结", en: "Customer is blocked"}')
    return value


Message = Annotated[
    str | dict[str, str],
    AfterValidator(_message),
    Field(description='Text, or one text per language: {zh: "客户已冻结", en: "Customer is blocked"}.'),
]

_PERCENT = re.compile(r"^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*%\s*$")  # ASCII digits: "１０%" is refused, as in facts


def _percentage(value: Any) -> Decimal:
    """Accept ``10%`` or a fraction between 0 and 1 (``0.1``); refuse ``10``, which is ambiguous."""
    if isinstance(value, bool):
        raise ValueError("expected a percentage such as 10% or 0.10, not true/false")
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if not match:
            raise ValueError(f"bad percentage {value!r}: write it like 10% or 0.10")
        rate = Decimal(match.group(1)) / 100
    elif isinstance(value, int | float | Decimal):
        try:
            rate = Decimal(str(value))
        except InvalidOperation:  # pragma: no cover
            raise ValueError(f"bad percentage {value!r}") from None
        if rate > 1:
            raise ValueError(f"bad percentage {value}: write {value}% or {rate / 100}")
    else:
        raise ValueError(f"bad percentage {value!r}: write it like 10% or 0.10")
    if not Decimal(0) <= rate <= 1:
        raise ValueError(f"bad percentage {value}: it must be between 0% and 100%")
    return rate


Percent = Annotated[
    Decimal,
    BeforeValidator(_percentage),
    Field(json_schema_extra={"anyOf": [{"type": "string", "pattern": r"^-?\d+(\.\d+)?%$"},
                                       {"type": "number", "minimum": 0, "maximum": 1}]}),
]
Expression = Annotated[str, Field(min_length=1, description="An expression over the decision point's facts.")]


def _formula(value: Any) -> Any:
    """``set_price: 2600`` is read by YAML as a number: it is the formula ``2600``, not a type error."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


Formula = Annotated[
    Expression,
    BeforeValidator(_formula),
    Field(json_schema_extra={"anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}]}),
]
RuleId = Annotated[str, Field(pattern=r"^[^\W_][\w-]*$", max_length=80)]
Role = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
LadderRole = Annotated[str, Field(min_length=1)]
"""A role a rule names: any text here, so one not in the ladder (a typo, 销售经理) is reported by the
compiler with the ladder listed, not as a pattern."""


def _ascii_digits(value: Any) -> Any:
    """``add: "１０"`` (full-width digits) is refused as facts refuse it: Decimal would read it as 10."""
    if isinstance(value, str) and not value.isascii():
        raise ValueError(f"write the amount {value!r} with the digits 0-9")
    return value


def _amount(value: Decimal) -> Decimal:
    """An amount a price can carry: finite, and below what a price may be (``MAX_PRICE``): a larger
    ``add`` would take every line it reaches past that, so the rule could never price an order."""
    if not value.is_finite() or abs(value) >= MAX_PRICE:
        raise ValueError(f"the amount {value} is too large: an amount added to a price is below 9 × 10^14")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Action(_Strict):
    """What a rule does when it fires. Combine a decision with a message; pricing and return rules
    change figures instead (or as well)."""

    block: Message | None = Field(None, description="Refuse, with this message.")
    require: list[LadderRole] | None = Field(None, description="Roles that must approve, e.g. [sales_manager].")
    warn: Message | None = Field(None, description="Let it through with this warning.")
    notify: list[LadderRole] | None = Field(None, description="Roles to inform without holding anything.")
    message: Message | None = Field(None, description="Message for require/notify.")
    markup: Percent | None = Field(None, description="Pricing: raise the price by this percentage.")
    discount: Percent | None = Field(None, description="Pricing: lower the price by this percentage.")
    add: Annotated[Decimal, BeforeValidator(_ascii_digits), AfterValidator(_amount)] | None = Field(
        None, description="Pricing: add this amount per unit (negative lowers).")
    set_price: Formula | None = Field(None, description="Pricing: set the unit price to this expression.")
    floor: Formula | None = Field(None, description="Pricing: the unit price never goes below this.")
    stop: bool = Field(False, description="Pricing: no later price rule applies to the line.")
    refund: Percent | None = Field(None, description="Returns: refund this share of the amount.")
    restocking_fee: Percent | None = Field(None, description="Returns: keep this share of the amount as a fee.")
    set_: dict[str, Any] | None = Field(
        None, alias="set", description="Set the point's declared outputs: {deposit: 30%, freight_terms: collect}.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _does_something(self) -> Action:
        if not self.model_dump(exclude_none=True, exclude={"stop", "message"}):
            raise ValueError(
                "'then' does nothing: give block, require, warn, notify, set, or a pricing/returns action"
            )
        if self.set_ is not None and not self.set_:
            raise ValueError("'set' sets nothing: name an output and its value, e.g. set: {deposit: 30%}")
        if self.message is not None and not (self.require or self.notify):
            raise ValueError("'message' goes with require or notify; block and warn carry their own message")
        return self


def _condition(value: Any) -> Any:
    """``when: false`` is a rule that can never fire; ``when: yes`` would be one that always fires
    by accident (YAML 1.1 reads ``yes``/``on`` as true), so only ``true`` itself means "always"; a
    number or a list is not a condition. Say so, not which union member pydantic tried, and never
    repeat the value itself: through YAML aliases it could be enormous."""
    if isinstance(value, YamlScalar):
        read_as = value.read_as
        what = ("true" if read_as is True else "false" if read_as is False else "nothing" if read_as is None
                else "a date" if not isinstance(read_as, int | float | Decimal) else f"the number {read_as}")
        raise ValueError(f"YAML reads {str(value)!r} as {what}, not as a condition: write a condition such as "
                         "order.total >= 100000, or 'true' for a rule that fires on every decision")
    if value is False:
        raise ValueError("the condition is always false, so the rule could never fire")
    if value is not True and not isinstance(value, str):
        raise ValueError("expected a condition such as order.total >= 100000 (or true), got "
                         f"{_kind_of(value)}")
    return value


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    return type(value).__name__



def _effective_field() -> Any:
    """``effective:`` of a rule and of a rule set: one description and JSON schema for both (parsed, with
    plain-words errors, by :func:`salesgate.policy.effective.parse_effective`)."""
    return Field(
        None, description="When it is in force: {from: 2027-01-01, until: 2027-07-01} (until is the first day no "
                          "longer in force; either may be left out).",
        json_schema_extra={"type": "object", "properties": {"from": {"type": "string", "format": "date"},
                                                            "until": {"type": "string", "format": "date"}},
                           "additionalProperties": False})

class Rule(_Strict):
    """One rule: an id, a condition and an action."""

    id: RuleId = Field(description="Unique in the policy: letters (any language), digits, - and _: 大订单.")
    description: str | None = Field(None, description="What the rule is for, for people.")
    when: Annotated[Expression | Literal[True], BeforeValidator(_condition)] = Field(
        description="Condition over the decision point's facts; see salesgate vocab.")
    scope: Literal["order", "line"] = Field(
        "order", description="line: the rule is checked once per order line and reads line.* directly."
    )
    priority: int | None = Field(
        None, description="Lower runs first (pricing adjustments apply in this order). Default: file order."
    )
    effective: Any = _effective_field()
    then: Action


PointName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]

def _rows_file(value: str) -> str:
    """A table's rows file: a CSV or workbook in the policy's ``tables/`` folder, named from there."""
    name = value.removeprefix("tables/")
    if not value.startswith("tables/") or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"rows: {value!r}: name a file in the policy's tables/ folder, e.g. tables/ladder.csv")
    if not name.lower().endswith((".csv", ".xlsx")):
        raise ValueError(f"rows: {value!r}: a table file is a .csv (UTF-8) or an Excel .xlsx workbook")
    return value


def _rows(value: Any) -> Any:
    """``rows:`` is a list of mappings or a file name: said in one plain sentence, not per union member."""
    if isinstance(value, str):
        return _rows_file(value)
    if not isinstance(value, list) or not value:
        raise ValueError("rows: give the rows as a list (- id: ... under rows:), or the name of a CSV or Excel file "
                         "in tables/ (rows: tables/ladder.csv)")
    for index, row in enumerate(value, start=1):
        if not isinstance(row, dict):
            raise ValueError(f"rows: row {index} is not a mapping: write each row as - id: ..., then a cell per "
                             "column (order.total: \">= 100000\")")
    return value


HitPolicy = Literal["unique", "first", "priority", "collect"]


class Table(_Strict):
    """A rule set written as a decision table: each row is a rule (its id is the row's ``id``), its
    input cells the conditions, its other cells what it does (docs/policy-language.md, Decision tables)."""

    hit: HitPolicy = Field(
        "unique", description="Which matching rows apply: unique (rows never overlap: checked at load), first (the "
                              "first matching row), priority (the matching row with the lowest priority), collect "
                              "(every matching row).")
    inputs: list[Annotated[str, Field(min_length=1)] | dict[str, Annotated[str, Field(min_length=1)]]] = Field(
        min_length=1, description="The input columns: a fact or expression (order.total), or {name: expression}.")
    scope: Literal["order", "line"] = Field("order", description="line: every row is checked once per order line.")
    rows: Annotated[list[dict[str, Any]] | str, BeforeValidator(_rows)] = Field(
        description="The rows, each a mapping with id, a cell per input column and the actions; or the CSV or "
                    "Excel file in tables/ that holds them (tables/approval-ladder.csv).")


class RuleSetFile(_Strict):
    """One rule file: a named, versioned rule set for one decision point (its key ``point``, or ``hook``)."""

    ruleset: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")] = Field(description="Name of the rule set.")
    hook: PointName = Field(
        description="The decision point: order_approval, credit_check, pricing, return_handling or one the policy "
                    "declares (points/<name>.yaml). Also written point:.")
    version: str = Field(min_length=1, description='Version of this rule set, e.g. "2026.11".')
    description: str | None = None
    language: str | None = Field(None, description="Language of the messages (zh, en); default: the policy's.")
    roles: list[Role] | None = Field(None, description="Roles this rule set uses; must be in the policy ladder.")
    rules: list[Rule] = Field(default_factory=list, description="The rules; or give table: instead.")
    table: Table | None = Field(None, description="The rule set as a decision table, instead of rules:.")
    effective: Any = _effective_field()

    @model_validator(mode="after")
    def _rules_or_table(self) -> RuleSetFile:
        if self.table is not None and self.rules:
            raise ValueError("give rules: or table:, not both: a table is a rule set of its own (another file)")
        if self.table is None and not self.rules:
            raise ValueError("the rule set has no rules: give rules: [...] (or a decision table under table:)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _point_is_hook(cls, data: Any) -> Any:
        """``point:`` is the new spelling of ``hook:`` (the same key; give one of them)."""
        if isinstance(data, dict) and "point" in data:
            if "hook" in data:
                raise ValueError("give the decision point once: point: (or the older hook:), not both")
            data = type(data)(data) if type(data) is dict else _renamed(data)
            data["hook"] = data.pop("point")
        return data


def _renamed(data: Any) -> Any:
    """A copy of a line-numbered mapping (yamlfile.LineDict) keeping its lines, ``point`` read as ``hook``."""
    copy = type(data)(data)
    for attribute in ("line", "key_lines"):
        if hasattr(data, attribute):
            value = getattr(data, attribute)
            setattr(copy, attribute, dict(value) if isinstance(value, dict) else value)
    if hasattr(copy, "key_lines") and "point" in copy.key_lines:
        copy.key_lines["hook"] = copy.key_lines["point"]
    return copy


class PolicyFile(_Strict):
    """``policy.yaml``: what the whole policy directory is."""

    name: Annotated[str, Field(min_length=1)] = Field(description="Policy name, e.g. acme-sales-policy.")
    version: str = Field(min_length=1)
    description: str | None = None
    language: str = Field("zh", description="Language messages are written in first.")
    roles: list[Role] = Field(min_length=1, description="The approval ladder, lowest first.")
    failure_mode: Literal["closed", "open"] = Field(
        "closed", description="When deciding fails: closed blocks with the reason, open allows with a warning."
    )
    timezone: str = Field(
        "UTC", description="The company's time zone (an IANA name such as Asia/Shanghai): what day it is, the as-of "
                           "date of a decision the caller gives none.")
    facts: dict[str, FieldDecl] = Field(
        default_factory=dict, description="Extra facts on the shipped documents, e.g. customer.tenure_years: "
                                          "{type: integer, description: {zh: 合作年限, en: Years as a customer}}.")
    calendar: str | None = Field(
        None, description="The holiday calendar business-day functions use when a rule names none: the name of a "
                          "file in calendars/ (calendar: cn reads calendars/cn.yaml).")
    outputs: dict[str, dict[str, OutputDecl]] = Field(
        default_factory=dict, description="Values rules at a built-in point may set, by point: credit_check: "
                                          "{proposed_limit: {type: money, combine: min, description: {...}}}.")
