"""Parse CEL source with cel-python's lark grammar, turning syntax errors into check issues."""

from __future__ import annotations

from celpy.celparser import CELParseError, CELParser
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from opp.policy.api import CheckIssue
from opp.policy.nodes import Tree

__all__ = ["SYNTAX_ERROR", "parse_expression"]

SYNTAX_ERROR = "policy.syntax_error"


def parse_expression(source: str) -> Tree | CheckIssue:
    """The parse tree of ``source`` (positions kept), or a ``policy.syntax_error`` issue."""
    try:
        tree: Tree = CELParser().parse(source)
    except CELParseError as exc:
        return _syntax_issue(source, exc)
    return tree


def _syntax_issue(source: str, exc: CELParseError) -> CheckIssue:
    cause = exc.__context__
    line, col = exc.line, exc.column
    at_end = isinstance(cause, UnexpectedEOF) or (
        isinstance(cause, UnexpectedToken) and cause.token.type == "$END"
    )
    if at_end:
        message = "unexpected end of expression"
        line, col = _end_position(source)
    elif isinstance(cause, UnexpectedToken):
        message = f"unexpected {cause.token.value!r}"
    elif isinstance(cause, UnexpectedCharacters):
        message = f"unexpected character {cause.char!r}"
    else:
        message = str(exc.args[0]).splitlines()[0] if exc.args else "invalid expression"
    return CheckIssue(code=SYNTAX_ERROR, message=f"syntax error: {message}", line=line or 1, col=col or 1)


def _end_position(source: str) -> tuple[int, int]:
    """Where an incomplete expression stops: just after its last non-blank character."""
    lines = source.rstrip().split("\n")
    return len(lines), len(lines[-1]) + 1
