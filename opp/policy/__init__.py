"""CEL policy rules: checked at compile time against a declared activation, evaluated per request.

``build_environment`` declares the root variables a rule may read, ``compile_rule`` parses and
checks a rule once (returning every :class:`CheckIssue`), and the resulting :class:`Program`
evaluates it per request, raising :class:`PolicyEvalError` on any failure (callers deny).
"""

from opp.policy.api import CheckIssue, PolicyEvalError, Program
from opp.policy.engine import compile_rule
from opp.policy.environment import PolicyEnvironment, build_environment, describe_environment

__all__ = [
    "CheckIssue",
    "PolicyEnvironment",
    "PolicyEvalError",
    "Program",
    "build_environment",
    "compile_rule",
    "describe_environment",
]
