"""The policy layer's interface: CEL rules checked at compile time, evaluated per request.

Everything the rest of ``opp`` knows about policy evaluation goes through these names, so the
evaluation engine (cel-python's interpreter today, a compiled evaluator later) can change behind
them.

Activation: a mapping from root variable name to plain Python values (dicts, lists, str, int,
float, bool, None, ``datetime`` for timestamps). Root variables: ``principal``, ``app``, ``tool``,
``args``, ``resource``, ``request`` and, inside ``filter_items``, ``item``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

__all__ = ["CheckIssue", "PolicyEvalError", "Program"]


class CheckIssue(msgspec.Struct, frozen=True, kw_only=True):
    """A compile-time problem in one CEL expression; line/col are 1-based *within the expression*."""

    code: str
    message: str
    line: int = 1
    col: int = 1
    hint: str | None = None


class PolicyEvalError(Exception):
    """Evaluation failed (missing field, type error, overflow…). Callers must deny."""


class Program(Protocol):
    """A checked, ready-to-evaluate boolean CEL expression."""

    @property
    def source(self) -> str: ...

    @property
    def uses(self) -> frozenset[str]:
        """Root variables the expression references (``{"args", "app"}``)."""
        ...

    def evaluate(self, activation: Mapping[str, Any]) -> bool:
        """Evaluate to a bool; raises :class:`PolicyEvalError` on any evaluation error."""
        ...
