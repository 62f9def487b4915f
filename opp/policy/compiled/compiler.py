"""Compile cel-python's lark parse tree into a tree of Python closures, once per rule.

Each node becomes a closure ``evaluate(frame) -> value`` where ``frame[0]`` is the activation and
the following slots hold macro-bound variables. Literals are folded into constants; selection
chains rooted at a variable become one path reader (:mod:`.access`); operators dispatch on exact
Python types (:mod:`.operators`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celpy.evaluation import celbytes, celstr

from opp.policy.compiled.access import index, path_reader, select
from opp.policy.compiled.calls import CallCompiler, UnsupportedExpression, failing
from opp.policy.compiled.logic import Evaluator, conditional, conjunction, disjunction, negation
from opp.policy.compiled.operators import OPERATORS, contains, negate
from opp.policy.compiled.values import INT64_MAX, INT64_MIN, UINT64_MAX, TypeValue, Uint, fail
from opp.policy.nodes import PASS_THROUGH, Tree, as_token, as_tree, path_text, unwrap
from opp.policy.types import DYN, CelType, MapType, ObjectType

__all__ = ["Compiler", "UnsupportedExpression"]

_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"}
    | {"google.protobuf.Timestamp", "google.protobuf.Duration"}
)
_NO_VALUE = object()


def constant(value: Any) -> Evaluator:
    """A closure returning ``value``, marked so enclosing nodes can fold it."""

    def evaluate(frame: list[Any]) -> Any:
        return value

    evaluate.cel_constant = value  # type: ignore[attr-defined]
    return evaluate


def constant_of(evaluator: Evaluator) -> Any:
    """The folded value of a constant closure, else ``_NO_VALUE``."""
    return getattr(evaluator, "cel_constant", _NO_VALUE)


class Compiler(CallCompiler):
    """Compiles one expression; ``roots`` are the declared root variables and their types."""

    def __init__(self, roots: Mapping[str, CelType]) -> None:
        super().__init__()
        self.roots = roots

    def compile(self, tree: Tree) -> Evaluator:
        while tree.data in PASS_THROUGH and len(tree.children) == 1:
            tree = as_tree(tree.children[0])
        handler = getattr(self, f"_{tree.data}", None)
        if handler is None:
            raise UnsupportedExpression(f"'{tree.data}' expressions are not supported", tree)
        result: Evaluator = handler(tree)
        return result

    # Operators.

    def _expr(self, tree: Tree) -> Evaluator:
        condition, when_true, when_false = (self.compile(as_tree(child)) for child in tree.children)
        return conditional(condition, when_true, when_false)

    def _conditionalor(self, tree: Tree) -> Evaluator:
        left, right = (self.compile(as_tree(child)) for child in tree.children)
        return disjunction(left, right)

    def _conditionaland(self, tree: Tree) -> Evaluator:
        left, right = (self.compile(as_tree(child)) for child in tree.children)
        return conjunction(left, right)

    def _binary(self, tree: Tree) -> Evaluator:
        operator_tree, right_tree = (as_tree(child) for child in tree.children)
        left = self.compile(as_tree(operator_tree.children[0]))
        right = self.compile(right_tree)
        operator = OPERATORS[str(operator_tree.data)]
        fixed = constant_of(right)
        if operator_tree.data in ("relation_eq", "relation_ne") and (fixed is None or type(fixed) is str):
            return _compare_to_constant(left, fixed, operator_tree.data == "relation_eq")
        if operator_tree.data == "relation_in" and type(fixed) is list and all(type(v) is str for v in fixed):
            members = frozenset(fixed)
            return lambda frame: type(value := left(frame)) is str and value in members
        if operator_tree.data == "relation_in":
            return lambda frame: contains(left(frame), right(frame))
        return lambda frame: operator(left(frame), right(frame))

    _relation = _addition = _multiplication = _binary

    def _unary(self, tree: Tree) -> Evaluator:
        operator_tree, operand_tree = (as_tree(child) for child in tree.children)
        operand = self.compile(operand_tree)
        if operator_tree.data == "unary_not":
            return negation(operand)
        return lambda frame: negate(operand(frame))

    # Members.

    def _member_dot(self, tree: Tree) -> Evaluator:
        path = path_text(tree)
        if path is not None and path in _TYPE_NAMES and path.split(".")[0] not in self.roots:
            return constant(TypeValue(path))
        chain = self._root_chain(tree)
        if chain is not None:
            root, names = chain
            return path_reader(root, names, self._declared(root, names))
        operand = self.compile(as_tree(tree.children[0]))
        name = str(as_token(tree.children[1]).value)
        return lambda frame: select(operand(frame), name)

    def _root_chain(self, tree: Tree) -> tuple[str, tuple[str, ...]] | None:
        """``("app", ("policy", "max_days"))`` for a selection chain rooted at a root variable."""
        names: list[str] = []
        node = unwrap(tree)
        while node.data == "member_dot":
            names.append(str(as_token(node.children[1]).value))
            node = unwrap(as_tree(node.children[0]))
        if node.data != "ident":
            return None
        root = str(as_token(node.children[0]).value)
        if self._bound(root) is not None or (root not in self.roots and root in _TYPE_NAMES):
            return None
        return root, tuple(reversed(names))

    def _declared(self, root: str, names: tuple[str, ...]) -> CelType:
        declared = self.roots.get(root, DYN)
        for name in names:
            if isinstance(declared, ObjectType):
                declared = declared.field_type(name) or DYN
            elif isinstance(declared, MapType):
                declared = declared.value
            else:
                return DYN
        return declared

    def _member_index(self, tree: Tree) -> Evaluator:
        container, key = (self.compile(as_tree(child)) for child in tree.children)
        return lambda frame: index(container(frame), key(frame))

    def _member_object(self, tree: Tree) -> Evaluator:
        raise UnsupportedExpression("message construction is not supported", tree)

    # Primaries.

    def _paren_expr(self, tree: Tree) -> Evaluator:
        return self.compile(as_tree(tree.children[0]))

    def _list_lit(self, tree: Tree) -> Evaluator:
        items = [self.compile(as_tree(e)) for c in tree.children for e in as_tree(c).children]
        values = [constant_of(item) for item in items]
        if all(value is not _NO_VALUE for value in values):
            return constant(values)
        return lambda frame: [item(frame) for item in items]

    def _map_lit(self, tree: Tree) -> Evaluator:
        entries = [self.compile(as_tree(e)) for c in tree.children for e in as_tree(c).children]
        pairs = list(zip(entries[0::2], entries[1::2], strict=True))
        return lambda frame: _build_map([(key(frame), value(frame)) for key, value in pairs])

    def _literal(self, tree: Tree) -> Evaluator:
        token = as_token(tree.children[0])
        value = _literal_value(token.type, str(token.value), token)
        return failing(value.args[0]) if isinstance(value, UnsupportedValue) else constant(value)

    def _ident(self, tree: Tree) -> Evaluator:
        name = str(as_token(tree.children[0]).value)
        slot = self._bound(name)
        if slot is not None:
            return lambda frame: frame[slot]
        if name not in self.roots and name in _TYPE_NAMES:
            return constant(TypeValue(name))
        return path_reader(name, (), self.roots.get(name, DYN))

    _dot_ident = _ident

    def _bound(self, name: str) -> int | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None


class UnsupportedValue(Exception):
    """A literal that is out of range (reported when evaluated, as cel-python does)."""


def _literal_value(kind: str, text: str, token: Any) -> Any:
    if kind in {"INT_LIT", "UINT_LIT"}:
        body = text.rstrip("uU")
        negative = body.startswith("-")
        digits = body.lstrip("-")
        number = int(digits[2:], 16) if digits[:2].lower() == "0x" else int(digits)
        number = -number if negative else number
        if kind == "UINT_LIT":
            return (
                Uint(number) if 0 <= number <= UINT64_MAX else UnsupportedValue("uint literal out of range")
            )
        return number if INT64_MIN <= number <= INT64_MAX else UnsupportedValue("int literal out of range")
    if kind == "FLOAT_LIT":
        return float(text)
    if kind in ("STRING_LIT", "MLSTRING_LIT"):
        return str(celstr(token))
    if kind == "BYTES_LIT":
        return bytes(celbytes(token))
    if kind == "BOOL_LIT":
        return text == "true"
    return None


def _compare_to_constant(left: Evaluator, fixed: Any, equal: bool) -> Evaluator:
    """``x == null``, ``x != 'text'``…: exact-type tests with no dispatch."""
    if fixed is None:
        return (lambda frame: left(frame) is None) if equal else (lambda frame: left(frame) is not None)
    if equal:
        return lambda frame: type(value := left(frame)) is str and value == fixed
    return lambda frame: not (type(value := left(frame)) is str and value == fixed)


_KEY_TYPES = frozenset({int, Uint, bool, str})


def _build_map(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    built: dict[Any, Any] = {}
    for key, value in pairs:
        if type(key) not in _KEY_TYPES:
            fail(f"unsupported map key type: {type(key).__name__}")
        built[key] = value
    if len(built) != len(pairs):
        fail("repeated key in map literal")
    return built
