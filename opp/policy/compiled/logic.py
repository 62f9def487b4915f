"""Closures for ``&&``, ``||``, ``!`` and ``?:`` with CEL's error semantics.

``&&`` and ``||`` are commutative and absorb errors: ``error && false`` is ``false`` and
``error || true`` is ``true``; otherwise an error (or a non-bool operand) is the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opp.policy.api import PolicyEvalError
from opp.policy.compiled.values import type_name

__all__ = ["Evaluator", "conditional", "conjunction", "disjunction", "negation"]

Evaluator = Callable[[list[Any]], Any]
"""A compiled expression: evaluates against a frame (activation first, then bound variables)."""


def _not_bool(operator: str, value: Any) -> PolicyEvalError:
    return PolicyEvalError(f"no such overload: {type_name(value)} {operator} …")


def _logical(operator: str, decisive: bool) -> Callable[[Evaluator, Evaluator], Evaluator]:
    """``&&`` (decided by false) and ``||`` (decided by true), commutative over errors: a failing
    or non-bool side is forgiven when the other side is decisive."""

    def build(left: Evaluator, right: Evaluator) -> Evaluator:
        def evaluate(frame: list[Any]) -> Any:
            try:
                first = left(frame)
            except PolicyEvalError as error:
                pending = error
            else:
                if first is decisive:
                    return decisive
                if first is (not decisive):
                    second = right(frame)
                    if type(second) is bool:
                        return second
                    raise _not_bool(operator, second)
                pending = _not_bool(operator, first)
            if right(frame) is decisive:
                return decisive
            raise pending

        return evaluate

    return build


conjunction = _logical("&&", False)
"""``left && right``."""
disjunction = _logical("||", True)
"""``left || right``."""


def negation(operand: Evaluator) -> Evaluator:
    """``!operand``."""

    def evaluate(frame: list[Any]) -> bool:
        value = operand(frame)
        if value is True:
            return False
        if value is False:
            return True
        raise PolicyEvalError(f"no such overload: !{type_name(value)}")

    return evaluate


def conditional(condition: Evaluator, when_true: Evaluator, when_false: Evaluator) -> Evaluator:
    """``condition ? when_true : when_false``."""

    def evaluate(frame: list[Any]) -> Any:
        chosen = condition(frame)
        if chosen is True:
            return when_true(frame)
        if chosen is False:
            return when_false(frame)
        raise PolicyEvalError(f"no such overload: {type_name(chosen)} ? … : …")

    return evaluate
