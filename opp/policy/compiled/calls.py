"""Compiling calls: functions, methods, ``has()`` and the comprehension macros.

Macros bind their variable to a *slot* of the evaluation frame (allocated at compile time), so a
body reads it by index with no per-iteration dictionaries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from opp.policy.api import PolicyEvalError
from opp.policy.compiled.access import has_field
from opp.policy.compiled.library import LIBRARY, Function
from opp.policy.compiled.logic import Evaluator
from opp.policy.compiled.values import fail, normalize, type_name
from opp.policy.nodes import Tree, as_token, as_tree, position, unwrap

__all__ = ["CallCompiler", "UnsupportedExpression", "failing"]


class UnsupportedExpression(Exception):
    """The expression uses something the compiled evaluator cannot build (``line``/``col`` 1-based)."""

    def __init__(self, message: str, node: Tree) -> None:
        super().__init__(message)
        self.line, self.col = position(node)


def _items(collection: Any, macro: str) -> list[Any]:
    if type(collection) is list:
        return collection
    if type(collection) is dict:
        return list(collection)
    fail(f"no such overload: {type_name(collection)}.{macro}()")


def failing(message: str) -> Evaluator:
    """A closure that fails when evaluated (an unknown function is an evaluation error in CEL)."""

    def evaluate(frame: list[Any]) -> Any:
        fail(message)

    return evaluate


class CallCompiler(ABC):
    """Calls and macros; the subclass compiles every other node."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, int]] = []
        self.slots = 0

    @abstractmethod
    def compile(self, tree: Tree) -> Evaluator:
        """The closure evaluating ``tree``."""

    def _arguments(self, tree: Tree, index: int) -> list[Tree]:
        if len(tree.children) <= index:
            return []
        return [as_tree(arg) for arg in as_tree(tree.children[index]).children]

    def _ident_arg(self, tree: Tree) -> Evaluator:
        name = str(as_token(tree.children[0]).value)
        args = self._arguments(tree, 1)
        if name == "has":
            return self._has(args, tree)
        function = LIBRARY.get(name)
        if function is None or not function.call or not args:
            return failing(f"unknown function '{name}'")
        return self._apply(function, name, args[0], args[1:], tree)

    _dot_ident_arg = _ident_arg

    def _member_dot_arg(self, tree: Tree) -> Evaluator:
        receiver, name = as_tree(tree.children[0]), str(as_token(tree.children[1]).value)
        args = self._arguments(tree, 2)
        if name in _MACROS:
            return self._macro(name, receiver, args, tree)
        function = LIBRARY.get(name)
        if function is None or not function.method:
            return failing(f"unknown function '{name}'")
        return self._apply(function, name, receiver, args, tree)

    def _apply(self, function: Function, name: str, subject: Tree, extra: list[Tree], at: Tree) -> Evaluator:
        low, high = function.extra
        if not low <= len(extra) <= high:
            return failing(f"no such overload: {name}() with {len(extra)} argument(s)")
        run = function.run
        first = self.compile(subject)
        if not extra:
            return lambda frame: run(first(frame))
        second = self.compile(extra[0])
        return lambda frame: run(first(frame), second(frame))

    def _has(self, args: list[Tree], tree: Tree) -> Evaluator:
        selection = unwrap(args[0]) if len(args) == 1 else None
        if selection is None or selection.data != "member_dot":
            raise UnsupportedExpression("has() takes one field selection", tree)
        operand = self.compile(as_tree(selection.children[0]))
        name = str(as_token(selection.children[1]).value)
        return lambda frame: has_field(operand(frame), name)

    def _macro(self, name: str, target_tree: Tree, args: list[Tree], tree: Tree) -> Evaluator:
        variable = unwrap(args[0]) if len(args) in (2, 3) else None
        if variable is None or variable.data != "ident" or (len(args) == 3 and name != "map"):
            raise UnsupportedExpression(f"{name}() takes a variable name and an expression", tree)
        target = self.compile(target_tree)
        slot = self.slots = self.slots + 1
        self.scopes.append({str(as_token(variable.children[0]).value): slot})
        bodies = [self.compile(arg) for arg in args[1:]]
        self.scopes.pop()
        return _MACROS[name](target, slot, *bodies)


def _quantifier(name: str, decisive: bool) -> Callable[[Evaluator, int, Evaluator], Evaluator]:
    """``all`` (stops on a false body) and ``exists`` (stops on a true one), absorbing errors as
    the spec's commutative ``&&`` / ``||`` do: an error counts only when nothing was decisive."""

    def build(target: Evaluator, slot: int, body: Evaluator) -> Evaluator:
        def evaluate(frame: list[Any]) -> bool:
            pending: PolicyEvalError | None = None
            for item in _items(target(frame), name):
                frame[slot] = normalize(item)
                try:
                    result = body(frame)
                except PolicyEvalError as error:
                    pending = pending or error
                    continue
                if result is decisive:
                    return bool(result)
                if result is not (not decisive):
                    pending = pending or PolicyEvalError(f"no such overload: {name}() on {type_name(result)}")
            if pending is not None:
                raise pending
            return not decisive

        return evaluate

    return build


_all = _quantifier("all", False)
_exists = _quantifier("exists", True)


def _predicate(frame: list[Any], slot: int, item: Any, body: Evaluator, macro: str) -> bool:
    frame[slot] = normalize(item)
    result = body(frame)
    if type(result) is not bool:
        fail(f"no such overload: {macro}() on {type_name(result)}")
    return bool(result)


def _exists_one(target: Evaluator, slot: int, body: Evaluator) -> Evaluator:
    def evaluate(frame: list[Any]) -> bool:
        items = _items(target(frame), "exists_one")
        return sum(_predicate(frame, slot, item, body, "exists_one") for item in items) == 1

    return evaluate


def _filter(target: Evaluator, slot: int, body: Evaluator) -> Evaluator:
    def evaluate(frame: list[Any]) -> list[Any]:
        items = _items(target(frame), "filter")
        return [normalize(item) for item in items if _predicate(frame, slot, item, body, "filter")]

    return evaluate


def _map(target: Evaluator, slot: int, body: Evaluator, transform: Evaluator | None = None) -> Evaluator:
    def evaluate(frame: list[Any]) -> list[Any]:
        results = []
        for item in _items(target(frame), "map"):
            if transform is None:
                frame[slot] = normalize(item)
                results.append(body(frame))
            elif _predicate(frame, slot, item, body, "map"):
                results.append(transform(frame))
        return results

    return evaluate


_MACROS: dict[str, Callable[..., Evaluator]] = {
    "all": _all,
    "exists": _exists,
    "exists_one": _exists_one,
    "filter": _filter,
    "map": _map,
}
