"""The part of the checker that types field selection, function and method calls, and macros.

``has(x.f)`` must wrap a field selection; ``all``/``exists``/``exists_one``/``filter``/``map`` bind a
variable for their body (scoped, shadowing root variables); every other name must be in
:data:`opp.policy.functions.FUNCTIONS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import lark

from opp.config.diagnostics import did_you_mean
from opp.policy.api import CheckIssue
from opp.policy.functions import FUNCTIONS, MACROS, FunctionSpec, family
from opp.policy.nodes import Node, Tree, as_token, as_tree, path_text, position, unwrap
from opp.policy.parsing import SYNTAX_ERROR
from opp.policy.types import BOOL, DYN, STRING, CelType, ListType, MapType, ObjectType

__all__ = ["CallChecker"]

_UNKNOWN_FUNCTION = "policy.unknown_function"
_UNKNOWN_FIELD = "policy.unknown_field"


class CallChecker(ABC):
    """Issue collection, scopes, selections and calls; subclasses type everything else."""

    TYPE_MISMATCH = "policy.type_mismatch"

    def __init__(self) -> None:
        self.issues: list[CheckIssue] = []
        self.scopes: list[dict[str, CelType]] = []

    @abstractmethod
    def visit(self, tree: Tree) -> CelType:
        """The inferred type of ``tree``, reporting issues on the way."""

    # Reporting.

    def report(self, code: str, message: str, node: Node, hint: str | None = None) -> None:
        """Record an issue at the start of ``node``."""
        self.report_at(code, message, position(node), hint)

    def report_at(self, code: str, message: str, where: tuple[int, int], hint: str | None = None) -> None:
        """Record an issue at ``where`` (line, col)."""
        self.issues.append(CheckIssue(code=code, message=message, line=where[0], col=where[1], hint=hint))

    def expect_bool(self, found: CelType, node: Tree, what: str) -> None:
        """Report ``node`` unless its type may be bool."""
        if family(found) not in (None, "bool"):
            self.report(self.TYPE_MISMATCH, f"{what} must be bool, not {found.describe()}", node)

    # Field selection.

    def select(self, operand: CelType, operand_tree: Tree, name: lark.Token) -> CelType:
        """The type of ``operand.name``."""
        if isinstance(operand, ObjectType):
            return self.field_of(operand, operand_tree, str(name.value), name)
        if isinstance(operand, MapType) and family(operand.key) in (None, "string"):
            return operand.value
        if operand == DYN:
            return DYN
        self.report(self.TYPE_MISMATCH, f"cannot select field '{name.value}' of {operand.describe()}", name)
        return DYN

    def field_of(self, obj: ObjectType, obj_tree: Tree, name: str, where: Node) -> CelType:
        """The type of field ``name`` of ``obj``; an undeclared field of a closed object is reported."""
        found = obj.field_type(name)
        if found is not None:
            return found
        owner = path_text(obj_tree) or "the object"
        declared = sorted(obj.fields)
        hint = did_you_mean(name, declared) or (
            f"declared fields: {', '.join(declared)}" if declared else f"{owner} declares no fields"
        )
        self.report(_UNKNOWN_FIELD, f"unknown field '{name}' of {owner}", where, hint)
        return DYN

    # Calls.

    def _ident_arg(self, tree: Tree) -> CelType:
        name = as_token(tree.children[0])
        args = _arguments(tree, 1)
        if name.value == "has":
            return self._has(args, tree)
        spec = FUNCTIONS.get(name.value)
        types = [self.visit(arg) for arg in args]
        if spec is None or not spec.call:
            return self._unknown(name, spec, call=True)
        if not args:
            self.report(self.TYPE_MISMATCH, f"{name.value}() needs an argument", name)
            return spec.result
        return self._apply(spec, name, types[0], args[0], list(zip(types[1:], args[1:], strict=True)))

    _dot_ident_arg = _ident_arg

    def _member_dot_arg(self, tree: Tree) -> CelType:
        receiver_tree, name = as_tree(tree.children[0]), as_token(tree.children[1])
        args = _arguments(tree, 2)
        if name.value in MACROS:
            return self._macro(str(name.value), receiver_tree, args, name)
        spec = FUNCTIONS.get(name.value)
        receiver = self.visit(receiver_tree)
        types = [self.visit(arg) for arg in args]
        if spec is None or not spec.method:
            return self._unknown(name, spec, call=False)
        return self._apply(spec, name, receiver, receiver_tree, list(zip(types, args, strict=True)))

    def _apply(
        self,
        spec: FunctionSpec,
        name: lark.Token,
        subject: CelType,
        subject_node: Tree,
        extra: list[tuple[CelType, Tree]],
    ) -> CelType:
        low, high = spec.extra
        if not low <= len(extra) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            message = f"{name.value}() takes {expected} argument(s) besides its subject, got {len(extra)}"
            self.report(self.TYPE_MISMATCH, message, name)
        subject_family = family(subject)
        if spec.subject is not None and subject_family is not None and subject_family not in spec.subject:
            allowed = " or ".join(sorted(spec.subject))
            message = f"{name.value}() applies to {allowed}, not {subject.describe()}"
            self.report(self.TYPE_MISMATCH, message, subject_node)
        for arg_type, arg_node in extra:
            arg_family = family(arg_type)
            if spec.extra_family and arg_family is not None and arg_family != spec.extra_family:
                message = f"argument of {name.value}() must be {spec.extra_family}, not {arg_type.describe()}"
                self.report(self.TYPE_MISMATCH, message, arg_node)
        return spec.result

    def _unknown(self, name: lark.Token, spec: FunctionSpec | None, *, call: bool) -> CelType:
        if spec is not None:
            form = f"x.{name.value}(…)" if call else f"{name.value}(x)"
            message = f"{name.value}() must be called as {form}"
            self.report(_UNKNOWN_FUNCTION, message, name)
            return spec.result
        candidates = [n for n, s in FUNCTIONS.items() if (s.call if call else s.method)]
        candidates += [] if call else list(MACROS)
        hint = did_you_mean(str(name.value), candidates)
        self.report(_UNKNOWN_FUNCTION, f"unknown function '{name.value}'", name, hint)
        return DYN

    # Macros.

    def _has(self, args: list[Tree], tree: Tree) -> CelType:
        selection = unwrap(args[0]) if len(args) == 1 else None
        if selection is None or selection.data != "member_dot":
            for arg in args:
                self.visit(arg)
            message = "has() takes one field selection, such as has(args.startDate)"
            self.report(SYNTAX_ERROR, message, tree)
            return BOOL
        operand_tree = as_tree(selection.children[0])
        self.select(self.visit(operand_tree), operand_tree, as_token(selection.children[1]))
        return BOOL

    def _macro(self, name: str, receiver_tree: Tree, args: list[Tree], at: lark.Token) -> CelType:
        receiver = self.visit(receiver_tree)
        variable = unwrap(args[0]) if len(args) == 2 else None
        if variable is None or variable.data != "ident":
            # The body is not checked: without a bound variable every use of it would be reported.
            self.report(SYNTAX_ERROR, f"{name}() takes a variable name and an expression: {name}(x, …)", at)
            return DYN
        if isinstance(receiver, ListType):
            element = receiver.elem
        elif isinstance(receiver, MapType):
            element = receiver.key
        elif isinstance(receiver, ObjectType):
            element = STRING
        else:
            element = DYN
            if receiver != DYN:
                self.report(
                    self.TYPE_MISMATCH, f"{name}() needs a list or map, not {receiver.describe()}", at
                )
        self.scopes.append({str(as_token(variable.children[0]).value): element})
        body = self.visit(args[1])
        self.scopes.pop()
        if name == "map":
            return ListType(body)
        self.expect_bool(body, args[1], f"the predicate of {name}()")
        return ListType(element) if name == "filter" else BOOL


def _arguments(tree: Tree, index: int) -> list[Tree]:
    """The argument expressions of a call whose optional ``exprlist`` is child ``index``."""
    if len(tree.children) <= index:
        return []
    return [as_tree(arg) for arg in as_tree(tree.children[index]).children]
