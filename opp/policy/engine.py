"""Compile a CEL rule once (parse, check, build the chosen engine's evaluator); evaluate per request.

Two engines sit behind :class:`opp.policy.Program`: ``compiled`` (the default, closures built by
:mod:`opp.policy.compiled`) and ``cel-python`` (cel-python's interpreter, the reference).
"""

from __future__ import annotations

from typing import Literal

from opp.policy.api import CheckIssue, Program
from opp.policy.celpython import CelProgram, cel_python_runner
from opp.policy.checker import check_expression
from opp.policy.compiled import CompiledProgram, UnsupportedExpression, compile_tree
from opp.policy.environment import PolicyEnvironment

__all__ = ["ENGINES", "ENGINE_UNSUPPORTED", "Engine", "compile_rule"]

Engine = Literal["compiled", "cel-python"]
ENGINES: tuple[Engine, ...] = ("compiled", "cel-python")
ENGINE_UNSUPPORTED = "policy.engine_unsupported"


def compile_rule(
    source: str, env: PolicyEnvironment, engine: Engine = "compiled"
) -> tuple[Program | None, list[CheckIssue]]:
    """Check ``source`` against ``env`` and prepare it for evaluation with ``engine``.

    Args:
        source: a CEL expression that must evaluate to bool.
        env: the variables the rule may read (see :func:`opp.policy.build_environment`).
        engine: ``compiled`` or ``cel-python``.

    Returns:
        ``(program, [])`` when the rule is clean, else ``(None, issues)`` with every issue found.
        The compiled form is built whichever engine is chosen, so a rule it cannot evaluate is
        always a ``policy.engine_unsupported`` issue (switching engines never breaks a config).
    """
    checked = check_expression(source, env)
    if checked.issues or checked.tree is None:
        return None, list(checked.issues)
    try:
        expression = compile_tree(checked.tree, env.variables)
    except UnsupportedExpression as exc:
        message = f"the compiled policy engine cannot evaluate this expression: {exc}"
        return None, [CheckIssue(code=ENGINE_UNSUPPORTED, message=message, line=exc.line, col=exc.col)]
    if engine == "cel-python":
        inputs = tuple((name, env.variables[name]) for name in sorted(checked.uses))
        return CelProgram(source, checked.uses, cel_python_runner(checked.tree), inputs), []
    return CompiledProgram(source, checked.uses, expression), []
