"""Reading data: root variables, field selection chains, indexing and ``has()``.

A chain such as ``app.policy.max_days`` rooted at a variable compiles to one closure that walks the
activation's plain dicts and converts only the value it reaches (:func:`normalize`), guided by the
declared type: a string declared as a timestamp or duration is parsed, an int declared as uint
becomes one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opp.policy.compiled.logic import Evaluator
from opp.policy.compiled.operators import find_key, missing
from opp.policy.compiled.time import parse_duration, parse_timestamp
from opp.policy.compiled.values import Uint, fail, normalize, type_name, wrap_uint
from opp.policy.types import DURATION, TIMESTAMP, UINT, CelType

__all__ = ["has_field", "index", "path_reader", "select"]


def select(value: Any, name: str) -> Any:
    """``value.name`` for a map (a missing key is an error)."""
    if type(value) is dict or isinstance(value, Mapping):
        try:
            return normalize(value[name])
        except KeyError:
            fail(f"no such key: '{name}'")
    fail(f"no such overload: field selection '.{name}' on {type_name(value)}")


def has_field(value: Any, name: str) -> bool:
    """``has(value.name)``: whether the map ``value`` has key ``name``."""
    if type(value) is dict or isinstance(value, Mapping):
        return name in value
    fail(f"no such overload: has() on {type_name(value)}")


def index(container: Any, key: Any) -> Any:
    """``container[key]`` for a list (int or uint index) or a map (any key)."""
    kind = type(container)
    if kind is list:
        if type(key) is float and key.is_integer():
            key = int(key)
        if type(key) is int or type(key) is Uint:
            if 0 <= key < len(container):
                return normalize(container[key])
            fail(f"index out of bounds: {key}")
        fail(f"no such overload: list[{type_name(key)}]")
    if kind is dict:
        found = find_key(container, key)
        if found is missing:
            fail(f"no such key: {key!r}")
        return normalize(container[found])
    fail(f"no such overload: {type_name(container)}[{type_name(key)}]")


def _coercion(declared: CelType) -> Callable[[Any], Any] | None:
    """How a plain value read where ``declared`` is expected becomes a CEL value, if specially."""
    if declared == TIMESTAMP:
        return lambda value: parse_timestamp(value) if type(value) is str else value
    if declared == DURATION:
        return lambda value: parse_duration(value) if type(value) is str else value
    if declared == UINT:
        return lambda value: wrap_uint(value) if type(value) is int else value
    return None


def _root(frame: list[Any], name: str) -> Any:
    try:
        return frame[0][name]
    except KeyError:
        fail(f"variable '{name}' is missing from the activation")


def path_reader(root: str, names: tuple[str, ...], declared: CelType) -> Evaluator:
    """A closure reading ``root.names…`` from the activation, converting only the final value."""
    coerce = _coercion(declared)
    if len(names) == 0 and coerce is None:
        return lambda frame: normalize(_root(frame, root))
    if len(names) == 1 and coerce is None:
        (name,) = names

        def read_one(frame: list[Any]) -> Any:
            value = _root(frame, root)
            if type(value) is dict:
                try:
                    return normalize(value[name])
                except KeyError:
                    fail(f"no such key: '{name}'")
            return select(normalize(value), name)

        return read_one

    def read(frame: list[Any]) -> Any:
        value = _root(frame, root)
        for name in names:
            if type(value) is dict:
                try:
                    value = value[name]
                except KeyError:
                    fail(f"no such key: '{name}'")
            else:
                value = select(normalize(value), name)
        value = normalize(value)
        return coerce(value) if coerce is not None else value

    return read
