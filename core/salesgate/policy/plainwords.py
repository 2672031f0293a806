"""pydantic's validation errors in the words of the policy owner who wrote the file.

pydantic checks the shape of rule files, ``policy.yaml``, ``points/*.yaml`` and test cases, and
says what it found as a programmer would read it ("Input should be a valid list", "String should
match pattern '^[a-z][a-z0-9_]*$'"). The loaders pass each error through :func:`plain_message`
first, so a policy owner reads what to write instead; no pattern, type name or pydantic phrase
reaches them (tests/test_policy_errors.py feeds bad input to every loader and checks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

PATTERNS: dict[str, str] = {
    r"^[^\W_][\w-]*$": "a rule id is letters (of any language), digits, - and _, starting with a letter or digit: "
                       "large-order, 大订单",
    r"^[a-z0-9][a-z0-9_-]*$": "a rule set name is lower-case letters a-z, digits, - and _: order-approval",
    r"^[a-z][a-z0-9_]*$": "a role is lower-case letters a-z, digits and _, starting with a letter: sales_manager",
    r"^[a-z][a-z0-9_]{0,62}$": "a decision point's name is lower-case letters a-z, digits and _, starting with a "
                              "letter: order_approval",
}
"""What each pattern of the schemas asks for, as an example a policy owner can copy."""


def _shown(value: Any) -> str:
    """A value as the YAML writer would recognise it: text quoted, a list or mapping named."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | int | float):
        return str(value)
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _amount_hint(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,3}(,\d{3})+(\.\d+)?\s*", value):
        return f": write {value.replace(',', '').strip()} without the thousands separators"
    if isinstance(value, str) and re.search(r"[万千亿元]", value):
        return ": write the number in digits only (30000, not 3万 or 30000元)"
    if isinstance(value, str) and not value.isascii():
        return ": write it with the digits 0-9"
    return ""


def merged(messages: list[str]) -> list[str]:
    """One message per field where pydantic gave one per member of a union (text, or a mapping of
    languages): ``expected text, not 7`` and ``expected a mapping ..., not 7`` become ``expected text or
    a mapping ..., not 7``."""
    hint = next((": YAML reads" + m.split(": YAML reads", 1)[1] for m in messages if ": YAML reads" in m), "")
    bare = [m.split(": YAML reads", 1)[0] for m in messages]
    if len(bare) < 2 or not all(m.startswith("expected ") and ", not " in m for m in bare):
        return messages
    tails = {m.rsplit(", not ", 1)[1] for m in bare}
    if len(tails) != 1:
        return messages
    wanted = dict.fromkeys(m.removeprefix("expected ").rsplit(", not ", 1)[0] for m in bare)
    return [f"expected {' or '.join(wanted)}, not {tails.pop()}{hint}"]


def plain_message(err: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) in plain words."""
    kind = str(err.get("type", ""))
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    message = str(err.get("msg", ""))
    got = f", not {_shown(value)}"
    if kind in ("value_error", "assertion_error"):
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "missing":
        return "missing: this field is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace(" or ", ", ")
        return f"expected one of {expected}{got}"
    if kind == "string_pattern_mismatch":
        rule = PATTERNS.get(str(ctx.get("pattern", "")), "it is not written the way this field is")
        return f"{_shown(value)} cannot be used here: {rule}"
    if kind in ("string_type", "string_unicode"):
        if isinstance(value, bool):  # block: no
            return (f"expected text, not {_shown(value)}: YAML reads yes, no, on, off, true and false as true or "
                    "false; put the text in quotes")
        return f"expected text{got}"
    if kind == "string_too_short":
        return "is empty: write a value"
    if kind == "string_too_long":
        return f"longer than {ctx.get('max_length')} characters: shorten it"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"expected a list ([a, b], or one '- ' line per item){got}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type", "dataclass_type"):
        return f"expected a mapping (key: value lines, or {{key: value}}){got}"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        return f"needs at least {count} item{'s' if count != 1 else ''}"
    if kind == "too_long":
        return f"has more than {ctx.get('max_length')} items"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false{got}"
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return f"expected a whole number{got}{_amount_hint(value)}"
    if kind in ("decimal_type", "decimal_parsing", "float_type", "float_parsing", "decimal_whole_digits",
                "decimal_max_digits", "decimal_max_places", "number_type"):
        return f"expected a number{got}{_amount_hint(value)}"
    if kind == "finite_number":
        return f"expected a finite number{got}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {"greater_than": ("more than", "gt"), "greater_than_equal": ("at least", "ge"),
                 "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le")}[kind]
        return f"must be {words[0]} {ctx.get(words[1])}{got}"
    if kind.startswith(("date_", "datetime_")):
        return f"expected a date written YYYY-MM-DD{got}"
    if kind == "multiple_of":
        return f"must be a multiple of {ctx.get('multiple_of')}{got}"
    # Anything else: pydantic's sentence with its programmer's words replaced.
    return re.sub(r"^(Input|String|List|Value|Dictionary|Tuple) should", "it should", message)
