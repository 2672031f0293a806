"""The names of the decision points, as a type: rule files, the CLI and every signature use them.

In salesgate's code "hook" means only a pluggy hook (see hookspecs); the places a decision is
asked for are "decision points" (rule files still spell the key `hook:`). What each point is (its
hook, document, subject, outputs, and ``DECISION_POINTS``) is declared once, in
:mod:`salesgate.pointspecs`; this module holds only the static type the type checker needs, and
pointspecs refuses to load if the two disagree."""

from __future__ import annotations

from typing import Literal, TypeAlias

DecisionPoint: TypeAlias = Literal["order_approval", "credit_check", "pricing", "return_handling"]
