"""Compile a CEL rule once (parse, check, prepare cel-python's interpreter); evaluate it per request.

Evaluation sits behind :meth:`CelProgram.evaluate` so a faster evaluator can replace cel-python's
interpreter without touching callers. cel-python's ``CompiledRunner`` is not used: in 0.5.0 it
fails on a second evaluation and with custom functions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import CELEvalError, CELFunction, bool_eq, bool_ne

from opp.policy.api import CheckIssue, PolicyEvalError, Program
from opp.policy.checker import check_expression
from opp.policy.environment import PolicyEnvironment
from opp.policy.types import CelType
from opp.policy.values import to_cel

__all__ = ["CelProgram", "compile_rule"]

# cel-python logs function arguments (request data) on some failures; evaluation must stay quiet.
logging.getLogger("celpy").setLevel(logging.CRITICAL)

_MESSAGE_LIMIT = 200


def _equals(left: Any, right: Any) -> Any:
    """``==`` where null compares with any value (cel-python 0.5 fails on ``null == 1``)."""
    return celtypes.BoolType(left is right) if left is None or right is None else bool_eq(left, right)


def _differs(left: Any, right: Any) -> Any:
    """``!=`` where null compares with any value (cel-python 0.5 fails on ``[…] != null``)."""
    return celtypes.BoolType(left is not right) if left is None or right is None else bool_ne(left, right)


# CEL defines equality with null for every type; cel-python 0.5 raises "no matching overload"
# for e.g. a list compared to null, which would make `app.policy.allowed_ledger_ids != null` fail.
_OVERRIDES: dict[str, CELFunction] = {"_==_": _equals, "_!=_": _differs}


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


def compile_rule(source: str, env: PolicyEnvironment) -> tuple[Program | None, list[CheckIssue]]:
    """Check ``source`` against ``env`` and prepare it for evaluation.

    Args:
        source: a CEL expression that must evaluate to bool.
        env: the variables the rule may read (see :func:`opp.policy.build_environment`).

    Returns:
        ``(program, [])`` when the rule is clean, else ``(None, issues)`` with every issue found.
    """
    checked = check_expression(source, env)
    if checked.issues or checked.tree is None:
        return None, list(checked.issues)
    runner = celpy.Environment().program(checked.tree, functions=_OVERRIDES)
    inputs = tuple((name, env.variables[name]) for name in sorted(checked.uses))
    return CelProgram(source, checked.uses, runner, inputs), []


def _message(error: CELEvalError) -> str:
    text = str(error.args[0]) if error.args else "evaluation error"
    text = text.split(" (in activation", 1)[0]
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"
