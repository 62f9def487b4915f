"""The reference engine: cel-python's interpreter behind the :class:`opp.policy.Program` interface.

cel-python's ``CompiledRunner`` is not used: in 0.5.0 it fails on a second evaluation and with
custom functions. ``null`` equality is patched to follow the specification (cel-python 0.5 raises
"no matching overload" for e.g. a list compared to null). opp's own functions (``glob``,
``ip_in_cidr``, ``inCidr``) are registered as custom functions calling :mod:`opp.policy.extensions`,
the implementation the compiled evaluator uses too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import CELEvalError, CELFunction, bool_eq, bool_ne

from opp.policy.api import PolicyEvalError
from opp.policy.extensions import glob_match, ip_in_cidr
from opp.policy.nodes import Tree
from opp.policy.types import CelType
from opp.policy.values import to_cel

__all__ = ["CelProgram", "cel_python_runner"]

# cel-python logs function arguments (request data) on some failures; evaluation must stay quiet.
logging.getLogger("celpy").setLevel(logging.CRITICAL)

_MESSAGE_LIMIT = 200


def _equals(left: Any, right: Any) -> Any:
    """``==`` where null compares with any value (cel-python 0.5 fails on ``null == 1``)."""
    return celtypes.BoolType(left is right) if left is None or right is None else bool_eq(left, right)


def _differs(left: Any, right: Any) -> Any:
    """``!=`` where null compares with any value (cel-python 0.5 fails on ``[…] != null``)."""
    return celtypes.BoolType(left is not right) if left is None or right is None else bool_ne(left, right)


def _string_test(name: str, test: Callable[[str, str], bool]) -> CELFunction:
    """A custom function over two strings; failures become error *values*, which ``&&``/``||`` absorb."""

    def run(subject: Any, argument: Any) -> Any:
        if not isinstance(subject, celtypes.StringType) or not isinstance(argument, celtypes.StringType):
            kinds = f"{type(subject).__name__}, {type(argument).__name__}"
            return CELEvalError(f"no such overload: {name}({kinds})", TypeError, ())
        try:
            return celtypes.BoolType(test(str(subject), str(argument)))
        except PolicyEvalError as exc:
            return CELEvalError(str(exc), ValueError, ())

    return run


_OVERRIDES: dict[str, CELFunction] = {
    "_==_": _equals,
    "_!=_": _differs,
    "glob": _string_test("glob", glob_match),
    "ip_in_cidr": _string_test("ip_in_cidr", ip_in_cidr),
    "inCidr": _string_test("inCidr", ip_in_cidr),
}


def cel_python_runner(tree: Tree) -> celpy.Runner:
    """cel-python's interpreter for a parse tree, with opp's ``null`` equality fix and functions."""
    return celpy.Environment().program(tree, functions=_OVERRIDES)


@dataclass(frozen=True)
class CelProgram:
    """A checked rule with its cel-python runner, ready to evaluate many times.

    Attributes:
        source: the CEL expression.
        uses: root variables the expression references; only these are read from the activation.
    """

    source: str
    uses: frozenset[str]
    _runner: celpy.Runner = field(repr=False, compare=False)
    _inputs: tuple[tuple[str, CelType], ...] = field(repr=False, compare=False)

    def evaluate(self, activation: Mapping[str, Any]) -> bool:
        """Evaluate against ``activation`` (root variable → plain Python value).

        Raises:
            PolicyEvalError: a used variable is missing, a value cannot be converted, evaluation
                fails (missing field, no matching overload, overflow, division by zero…) or the
                result is not a bool. Callers must deny.
        """
        context: dict[str, celtypes.Value] = {}
        for name, declared in self._inputs:
            if name not in activation:
                raise PolicyEvalError(f"variable '{name}' is missing from the activation")
            context[name] = to_cel(activation[name], declared)
        try:
            result = self._runner.evaluate(context)
        except CELEvalError as exc:
            raise PolicyEvalError(_message(exc)) from exc
        except Exception as exc:  # cel-python raises plain Python errors on some malformed input
            raise PolicyEvalError(f"evaluation failed: {type(exc).__name__}") from exc
        if isinstance(result, CELEvalError):
            raise PolicyEvalError(_message(result))
        if not isinstance(result, celtypes.BoolType | bool):
            raise PolicyEvalError(f"rule evaluated to {type(result).__name__}, not bool")
        return bool(result)


def _message(error: CELEvalError) -> str:
    text = str(error.args[0]) if error.args else "evaluation error"
    text = text.split(" (in activation", 1)[0]
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"
