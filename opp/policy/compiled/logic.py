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


def conjunction(left: Evaluator, right: Evaluator) -> Evaluator:
    """``left && right``."""

    def evaluate(frame: list[Any]) -> Any:
        try:
            first = left(frame)
        except PolicyEvalError as error:
            pending = error
        else:
            if first is False:
                return False
            if first is True:
                second = right(frame)
                if type(second) is bool:
                    return second
                raise _not_bool("&&", second)
            pending = _not_bool("&&", first)
        if right(frame) is False:
            return False
        raise pending

    return evaluate


def disjunction(left: Evaluator, right: Evaluator) -> Evaluator:
    """``left || right``."""

    def evaluate(frame: list[Any]) -> Any:
        try:
            first = left(frame)
        except PolicyEvalError as error:
            pending = error
        else:
            if first is True:
                return True
            if first is False:
                second = right(frame)
                if type(second) is bool:
                    return second
                raise _not_bool("||", second)
            pending = _not_bool("||", first)
        if right(frame) is True:
            return True
        raise pending

    return evaluate


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
