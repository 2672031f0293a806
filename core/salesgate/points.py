"""The four decision points of the sales cycle, by the names rule files and the CLI use.

In salesgate's code "hook" means only a pluggy hook (see hookspecs); the four places a
decision is asked for are "decision points" (rule files still spell the key `hook:`)."""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

DecisionPoint: TypeAlias = Literal["order_approval", "credit_check", "pricing", "return_handling"]

DECISION_POINTS: Final[tuple[DecisionPoint, ...]] = ("order_approval", "credit_check", "pricing", "return_handling")
