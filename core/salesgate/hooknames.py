"""The four decision points of the sales cycle, by the names rule files and the CLI use."""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

Hook: TypeAlias = Literal["order_approval", "credit_check", "pricing", "return_handling"]

HOOKS: Final[tuple[Hook, ...]] = ("order_approval", "credit_check", "pricing", "return_handling")
