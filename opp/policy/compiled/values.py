"""CEL values as plain Python values, and the lazy conversion of activation data.

The compiled evaluator works on plain Python values: ``None`` (null), ``bool``, ``int`` (CEL int),
:class:`Uint` (CEL uint), ``float`` (double), ``str``, ``bytes``, ``list``, ``dict``, aware
``datetime`` (timestamp), ``timedelta`` (duration) and :class:`TypeValue`. Operators dispatch on the
*exact* type (``type(x) is int``), so a Python ``bool`` — a subclass of ``int`` — is never an int.

Activation data is read lazily: :func:`normalize` converts one value when a rule reads it (a tuple
becomes a list, a cel-python value its plain form); containers stay as they are and their elements
are normalized when read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NoReturn

from opp.policy.api import PolicyEvalError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "UINT64_MAX",
    "TypeValue",
    "Uint",
    "fail",
    "normalize",
    "type_name",
    "type_of",
    "wrap_int",
    "wrap_uint",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


class Uint(int):
    """A CEL ``uint`` (an ``int`` subclass so Python arithmetic and comparison apply)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}u"


class TypeValue:
    """A CEL type as a value (``type(1) == int``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypeValue) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("TypeValue", self.name))

    def __repr__(self) -> str:
        return self.name


def fail(message: str) -> NoReturn:
    """Raise the evaluation error every failure becomes (callers deny)."""
    raise PolicyEvalError(message)


def wrap_int(value: int) -> int:
    """``value`` as a CEL int, or an overflow error outside 64 bits."""
    if INT64_MIN <= value <= INT64_MAX:
        return value
    fail("return error for overflow")


def wrap_uint(value: int) -> Uint:
    """``value`` as a CEL uint, or an overflow error outside [0, 2^64)."""
    if 0 <= value <= UINT64_MAX:
        return Uint(value)
    fail("return error for overflow")


_NAMES: dict[type, str] = {
    type(None): "null_type",
    bool: "bool",
    int: "int",
    Uint: "uint",
    float: "double",
    str: "string",
    bytes: "bytes",
    list: "list",
    dict: "map",
    datetime: "google.protobuf.Timestamp",
    timedelta: "google.protobuf.Duration",
    TypeValue: "type",
}


def type_name(value: object) -> str:
    """The CEL type name of a (normalized) value."""
    return _NAMES.get(type(value), type(value).__name__)


_TYPE_VALUES = {name: TypeValue(name) for name in _NAMES.values()}


def type_of(value: object) -> TypeValue:
    """``type(value)`` as a CEL type value."""
    return _TYPE_VALUES.get(type_name(value)) or TypeValue(type_name(value))


_PLAIN = frozenset({type(None), bool, str, float, dict, list, bytes, Uint, timedelta, TypeValue})


def normalize(value: Any) -> Any:
    """``value`` (read from the activation) as a CEL value; containers are not copied.

    Raises:
        PolicyEvalError: an int outside 64 bits, a naive datetime or an unsupported type.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is int:
        return wrap_int(value)
    if kind is datetime:
        if value.tzinfo is None:
            fail("cannot pass value to CEL: naive datetime (a timestamp needs a time zone)")
        return value
    return _normalize_other(value)


def _normalize_other(value: Any) -> Any:
    """The slow path: subclasses (cel-python values), tuples, other mappings."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _normalize_int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, datetime):
        return normalize(datetime.combine(value.date(), value.timetz()))
    if isinstance(value, timedelta):
        return timedelta(value.days, value.seconds, value.microseconds)
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return value if isinstance(value, dict) else dict(value)
    fail(f"cannot pass value to CEL: unsupported type {type(value).__name__}")


def _normalize_int(value: int) -> int:
    # cel-python's UintType is an int subclass named UintType; keep it unsigned.
    if type(value).__name__ == "UintType":
        return wrap_uint(int(value))
    if type(value).__name__ == "BoolType":
        return bool(value)
    return wrap_int(int(value))
