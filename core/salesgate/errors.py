"""One error hierarchy for everything salesgate reports to a user.

Every error carries enough structure (file, line, rule, field, suggestion) for the CLI to print one
line that says what is wrong and where, and for an ERP to log it without parsing text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class SalesgateError(Exception):
    """Base class: every error salesgate raises on purpose derives from it."""


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong in a rule file, located as precisely as the loader knows."""

    message: str
    path: str | None = None
    line: int | None = None
    rule: str | None = None
    field: str | None = None
    suggestion: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "")
        parts = [where] if where else []
        if self.rule:
            parts.append(f"rule {self.rule!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        head = ", ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        return text


class PolicyError(SalesgateError):
    """A policy (rule files, test cases) is invalid. Holds every problem found, not just the first."""

    def __init__(self, problems: Iterable[PolicyProblem] | PolicyProblem | str) -> None:
        if isinstance(problems, str):
            problems = [PolicyProblem(problems)]
        elif isinstance(problems, PolicyProblem):
            problems = [problems]
        self.problems: list[PolicyProblem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def path(self) -> str | None:
        return self.problems[0].path if self.problems else None

    @property
    def line(self) -> int | None:
        return self.problems[0].line if self.problems else None

    @property
    def rule(self) -> str | None:
        return self.problems[0].rule if self.problems else None

    @property
    def suggestion(self) -> str | None:
        return self.problems[0].suggestion if self.problems else None


class FactsError(SalesgateError):
    """The facts handed to a decision (an order, a customer, a return) are invalid."""


class PluginError(SalesgateError):
    """A plugin failed to load, or returned something that breaks its hook's contract."""


class AdapterError(SalesgateError):
    """An adapter could not read facts or store a decision."""


class EngineError(SalesgateError):
    """The rule engine failed while deciding; the gate turns it into a safe decision."""


class StoreError(SalesgateError):
    """salesgate's own records (decision log, approvals, reservations) could not be read or written:
    the database down, slow, or holding garbage.

    Not an :class:`AdapterError`: "our database is down" is not "the ERP is down", and an ERP may want
    to page different people for each. The gate answers both by its failure mode all the same.
    Messages name what failed and the driver's first line of explanation, never a password.
    """


class ReservationError(StoreError):
    """A reservation change that is not allowed (confirming a cancelled reservation, or an order whose latest
    credit check blocks). The store answered: retrying the same call does not help."""


class ApprovalError(SalesgateError):
    """An approval action that is not allowed (wrong role, wrong turn, own order, expired, nothing pending)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to a misspelt word, or None when nothing is close enough to help."""
    options = list(choices)
    same_but_case = [c for c in options if c.lower() == word.lower()]  # "a" for grade "A"
    if same_but_case:
        return same_but_case[0]
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return matches[0] if matches else None
