"""The compiled CEL evaluator: a checked parse tree compiled once into Python closures.

See docs/POLICY_ENGINE.md for the design, the conformance results and the known divergences.
"""

from opp.policy.compiled.program import (
    CompiledExpression,
    CompiledProgram,
    UnsupportedExpression,
    compile_tree,
)

__all__ = ["CompiledExpression", "CompiledProgram", "UnsupportedExpression", "compile_tree"]
