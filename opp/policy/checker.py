"""Static check of one CEL expression against a :class:`PolicyEnvironment`.

Walks cel-python's lark parse tree once: resolves identifiers (root variables and macro-bound
variables), infers types with :mod:`opp.policy.types`, and reports what is certainly wrong —
undeclared variables, unknown fields of closed objects, unknown functions, operator misuse — each
with a 1-based line/col inside the expression. ``dyn`` flows silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opp.config.diagnostics import did_you_mean
from opp.policy.api import CheckIssue
from opp.policy.calls import CallChecker
from opp.policy.environment import PolicyEnvironment
from opp.policy.functions import TYPE_NAMES, arithmetic_result, comparable, family, join, orderable
from opp.policy.nodes import PASS_THROUGH, Tree, as_token, as_tree, unwrap
from opp.policy.parsing import parse_expression
from opp.policy.types import (
    BOOL,
    BYTES,
    DOUBLE,
    DYN,
    INT,
    NULL,
    STRING,
    TYPE,
    UINT,
    CelType,
    ListType,
    MapType,
    ObjectType,
)

__all__ = ["CheckResult", "check_expression"]

NOT_BOOLEAN = "policy.not_boolean"
UNDECLARED_VARIABLE = "policy.undeclared_variable"

_LITERALS: dict[str, CelType] = {
    "INT_LIT": INT,
    "UINT_LIT": UINT,
    "FLOAT_LIT": DOUBLE,
    "STRING_LIT": STRING,
    "MLSTRING_LIT": STRING,
    "BYTES_LIT": BYTES,
    "BOOL_LIT": BOOL,
    "NULL_LIT": NULL,
}
_OPERATORS: dict[str, str] = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_in": "in",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one expression.

    Attributes:
        tree: the parse tree (None on a syntax error).
        result: the inferred type of the whole expression.
        uses: root variables the expression references.
        issues: every problem found, in source order.
    """

    tree: Tree | None
    result: CelType
    uses: frozenset[str]
    issues: tuple[CheckIssue, ...] = field(default=())


def check_expression(source: str, env: PolicyEnvironment) -> CheckResult:
    """Parse and check ``source``; a boolean result is required (``dyn`` is accepted).

    Args:
        source: the CEL expression.
        env: the declared root variables.

    Returns:
        The parse tree, inferred type, used root variables and issues.
    """
    parsed = parse_expression(source)
    if isinstance(parsed, CheckIssue):
        return CheckResult(None, DYN, frozenset(), (parsed,))
    checker = _Checker(env)
    result = checker.visit(parsed)
    if family(result) not in (None, "bool"):
        checker.report(NOT_BOOLEAN, f"expression must evaluate to bool, not {result.describe()}", parsed)
    issues = sorted(checker.issues, key=lambda issue: (issue.line, issue.col))
    return CheckResult(parsed, result, frozenset(checker.uses), tuple(issues))


class _Checker(CallChecker):
    """Infers the type of each node; node handlers are named after the grammar rules."""

    def __init__(self, env: PolicyEnvironment) -> None:
        super().__init__()
        self.env = env
        self.uses: set[str] = set()

    def visit(self, tree: Tree) -> CelType:
        if len(tree.children) == 1 and tree.data in PASS_THROUGH:
            return self.visit(as_tree(tree.children[0]))
        handler = getattr(self, f"_{tree.data}")
        result: CelType = handler(tree)
        return result

    # Operators.

    def _expr(self, tree: Tree) -> CelType:
        condition, when_true, when_false = (as_tree(child) for child in tree.children)
        self.expect_bool(self.visit(condition), condition, "the condition of ?:")
        return join([self.visit(when_true), self.visit(when_false)])

    def _logical(self, tree: Tree, symbol: str) -> CelType:
        for operand in tree.children:
            self.expect_bool(self.visit(as_tree(operand)), as_tree(operand), f"operand of {symbol}")
        return BOOL

    def _conditionalor(self, tree: Tree) -> CelType:
        return self._logical(tree, "||")

    def _conditionaland(self, tree: Tree) -> CelType:
        return self._logical(tree, "&&")

    def _binary(self, tree: Tree) -> CelType:
        operator_tree, right_tree = (as_tree(child) for child in tree.children)
        symbol = _OPERATORS[operator_tree.data]
        left = self.visit(as_tree(operator_tree.children[0]))
        right = self.visit(right_tree)
        result = self._binary_result(symbol, left, right)
        if result is None:
            where = _operator_position(operator_tree, symbol)
            message = f"no operator {left.describe()} {symbol} {right.describe()}"
            self.report_at(self.TYPE_MISMATCH, message, where)
            return DYN if symbol in "+-*/%" else BOOL
        return result

    def _binary_result(self, symbol: str, left: CelType, right: CelType) -> CelType | None:
        if symbol in ("==", "!="):
            return BOOL if comparable(left, right) else None
        if symbol == "in":
            return BOOL if _contains(right, left) else None
        if symbol in ("<", "<=", ">", ">="):
            return BOOL if orderable(left, right) else None
        return arithmetic_result(symbol, left, right)

    _relation = _addition = _multiplication = _binary

    def _unary(self, tree: Tree) -> CelType:
        operator_tree, operand_tree = (as_tree(child) for child in tree.children)
        operand = self.visit(operand_tree)
        if operator_tree.data == "unary_not":
            self.expect_bool(operand, operand_tree, "operand of !")
            return BOOL
        if family(operand) not in (None, "int", "uint", "double", "duration"):
            self.report(self.TYPE_MISMATCH, f"cannot negate {operand.describe()}", operand_tree)
            return DYN
        return operand

    # Members and primaries.

    def _member_dot(self, tree: Tree) -> CelType:
        operand_tree, name = as_tree(tree.children[0]), as_token(tree.children[1])
        return self.select(self.visit(operand_tree), operand_tree, name)

    def _member_index(self, tree: Tree) -> CelType:
        container_tree, index_tree = (as_tree(child) for child in tree.children)
        container, index = self.visit(container_tree), self.visit(index_tree)
        if isinstance(container, ListType) and family(index) in (None, "int", "uint"):
            return container.elem
        if isinstance(container, MapType) and comparable(container.key, index):
            return container.value
        if isinstance(container, ObjectType) and family(index) in (None, "string"):
            literal = _string_literal(index_tree)
            if literal is None:
                return DYN
            return self.field_of(container, container_tree, literal, index_tree)
        if container == DYN:
            return DYN
        message = f"cannot index {container.describe()} with {index.describe()}"
        self.report(self.TYPE_MISMATCH, message, index_tree)
        return DYN

    def _member_object(self, tree: Tree) -> CelType:
        message = "object construction is not supported: no message types are declared"
        self.report(UNDECLARED_VARIABLE, message, tree)
        return DYN

    def _literal(self, tree: Tree) -> CelType:
        return _LITERALS.get(as_token(tree.children[0]).type, DYN)

    def _paren_expr(self, tree: Tree) -> CelType:
        return self.visit(as_tree(tree.children[0]))

    def _list_lit(self, tree: Tree) -> CelType:
        elements = [self.visit(as_tree(e)) for c in tree.children for e in as_tree(c).children]
        return ListType(join(elements) if elements else DYN)

    def _map_lit(self, tree: Tree) -> CelType:
        entries = [self.visit(as_tree(e)) for c in tree.children for e in as_tree(c).children]
        if not entries:
            return MapType(DYN, DYN)
        return MapType(join(entries[0::2]), join(entries[1::2]))

    def _ident(self, tree: Tree) -> CelType:
        name = as_token(tree.children[0])
        for scope in reversed(self.scopes):
            if name.value in scope:
                return scope[name.value]
        declared = self.env.type_of(name.value)
        if declared is not None:
            self.uses.add(name.value)
            return declared
        if name.value in TYPE_NAMES:
            return TYPE
        known = [*self.env.variables, *(n for scope in self.scopes for n in scope)]
        hint = did_you_mean(name.value, known) or f"declared variables: {', '.join(sorted(known))}"
        self.report(UNDECLARED_VARIABLE, f"undeclared variable '{name.value}'", name, hint)
        return DYN

    _dot_ident = _ident


def _contains(container: CelType, element: CelType) -> bool:
    if isinstance(container, ListType):
        return comparable(container.elem, element)
    if isinstance(container, MapType):
        return comparable(container.key, element)
    return family(container) in (None, "map", "string")


def _string_literal(tree: Tree) -> str | None:
    """The value of a plain string literal such as ``"ledgerId"``, else None."""
    literal = unwrap(tree)
    if literal.data != "literal":
        return None
    token = as_token(literal.children[0])
    if token.type != "STRING_LIT" or token.value[0] not in "\"'" or "\\" in token.value:
        return None
    return str(token.value[1:-1])


def _operator_position(operator_tree: Tree, symbol: str) -> tuple[int, int]:
    """The operator's own position: the operator subtree ends just after it."""
    meta = operator_tree.meta
    if meta.empty:
        return 1, 1
    return meta.end_line, max(1, meta.end_column - len(symbol))
