"""A rule compiled to closures, behind the :class:`opp.policy.Program` interface."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opp.policy.api import PolicyEvalError
from opp.policy.compiled.calls import UnsupportedExpression
from opp.policy.compiled.compiler import Compiler
from opp.policy.compiled.logic import Evaluator
from opp.policy.compiled.values import type_name
from opp.policy.nodes import Tree
from opp.policy.types import CelType

__all__ = ["CompiledExpression", "CompiledProgram", "UnsupportedExpression", "compile_tree"]


@dataclass(frozen=True)
class CompiledExpression:
    """An expression of any result type, compiled once (used by the program and by tests).

    Attributes:
        evaluator: the root closure.
        slots: how many macro variables the frame holds after the activation.
    """

    evaluator: Evaluator = field(repr=False)
    slots: int

    def value(self, activation: Mapping[str, Any]) -> Any:
        """The CEL value of the expression; raises :class:`PolicyEvalError` on any failure."""
        frame: list[Any] = [activation, *([None] * self.slots)] if self.slots else [activation]
        try:
            return self.evaluator(frame)
        except PolicyEvalError:
            raise
        except RecursionError as exc:
            raise PolicyEvalError("expression nests too deeply") from exc
        except Exception as exc:  # a bug or an exotic value must deny, never escape
            raise PolicyEvalError(f"evaluation failed: {type(exc).__name__}") from exc


def compile_tree(tree: Tree, roots: Mapping[str, CelType]) -> CompiledExpression:
    """Compile a parse tree whose root variables are declared in ``roots``.

    Raises:
        UnsupportedExpression: the expression uses something this evaluator cannot build.
    """
    compiler = Compiler(roots)
    evaluator = compiler.compile(tree)
    return CompiledExpression(evaluator, compiler.slots)


@dataclass(frozen=True)
class CompiledProgram:
    """A checked boolean rule compiled to closures; reads only the activation fields it uses.

    Attributes:
        source: the CEL expression.
        uses: root variables the expression references.
    """

    source: str
    uses: frozenset[str]
    _expression: CompiledExpression = field(repr=False, compare=False)

    def evaluate(self, activation: Mapping[str, Any]) -> bool:
        """Evaluate against ``activation`` (root variable → plain Python value).

        Raises:
            PolicyEvalError: evaluation fails or the result is not a bool. Callers must deny.
        """
        result = self._expression.value(activation)
        if result is True or result is False:
            return result
        raise PolicyEvalError(f"rule evaluated to {type_name(result)}, not bool")
