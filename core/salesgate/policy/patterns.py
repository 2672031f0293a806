"""The text patterns of ``matches(text, pattern)``, compiled by RE2 (google-re2).

RE2 matches in time linear in the text whatever the pattern: a pattern a policy owner wrote can
never make a decision hang, as a backtracking engine (Python's ``re``) can on ``(a+)+$``. The price
is that RE2 has no look-around and no back-references; a pattern using them is refused at load, as
is any pattern RE2 cannot read, with what is wrong in plain words (never RE2's own message).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import re2

from .limits import MAX_PATTERN_MEMORY

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print its own message on the terminal of `salesgate validate`
_OPTIONS.max_mem = MAX_PATTERN_MEMORY

# What RE2 reports (the start of its message) → what the policy owner reads.
_PLAIN = (
    ("missing )", "a '(' is not closed with ')'"),
    ("unexpected )", "a ')' has no '(' before it"),
    ("missing ]", "a '[' is not closed with ']'"),
    ("trailing \\", "it ends with a lone backslash: write \\\\ for a backslash"),
    ("no argument for repetition operator", "*, + or ? must follow something to repeat: write \\* for a star itself"),
    ("bad repetition operator", "two repetitions in a row (like ** or +*)"),
    ("invalid repetition size", "a {m,n} repeat with m above n, or above 1000"),
    ("invalid perl operator", "look-ahead and look-behind ((?=, (?!, (?<=, (?<!) are not supported"),
    ("invalid escape sequence: \\1", "back-references (\\1) are not supported"),
    ("invalid escape sequence", "a backslash before a letter that has no meaning here: write \\\\ for a backslash"),
    ("invalid character class range", "a range [z-a] whose first character comes after its last"),
    ("invalid named capture group", "a (?P<name>...) group with a bad name"),
    ("pattern too large", "the pattern is too large: write it shorter"),
)


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern, equal to another of the same text (a rule's condition compares by value)."""

    text: str
    compiled: Any = field(compare=False, repr=False)

    def search(self, text: str) -> bool:
        """Whether the pattern occurs in ``text``."""
        return self.compiled.search(text) is not None


def compile_pattern(pattern: str) -> Pattern:
    """The compiled pattern, or ValueError saying in plain words what is wrong with it."""
    try:
        return Pattern(pattern, re2.compile(pattern, _OPTIONS))
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        said = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        reason = next((plain for start, plain in _PLAIN if said.startswith(start)), "RE2 cannot read it")
        raise ValueError(f'the pattern "{pattern}" is not valid: {reason} '
                         "(docs/policy-language.md, Text functions)") from None
