"""The CEL functions, macros and operators a rule may use, with their static typing rules.

This is the one table of what the checker accepts. It follows the CEL standard definitions as
cel-python 0.5 evaluates them; cel-python's non-standard extensions (``reduce``, ``min``, global
``contains``…) are left out so a future evaluator need not reproduce them. opp adds its own
``glob``, ``ip_in_cidr`` and ``inCidr`` (semantics in :mod:`opp.policy.extensions`).

Typing works on *families* (``int``, ``string``, ``list``, ``map``…; ``None`` for ``dyn``): a rule is
reported only when both sides are known and the combination has no overload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opp.policy.types import (
    BOOL,
    BYTES,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    CelType,
    ListType,
    PrimitiveType,
)

__all__ = [
    "FUNCTIONS",
    "MACROS",
    "TYPE_NAMES",
    "FunctionSpec",
    "arithmetic_result",
    "comparable",
    "family",
    "join",
    "orderable",
]


@dataclass(frozen=True)
class FunctionSpec:
    """How one function or method is called and what it returns.

    Attributes:
        result: the return type.
        subject: families accepted for the receiver (method) or first argument (call); None = any.
        extra: (min, max) arguments after the subject.
        extra_family: the family every extra argument must have (None = any).
        method: callable as ``subject.name(extra…)``.
        call: callable as ``name(subject, extra…)``.
    """

    result: CelType
    subject: frozenset[str] | None = None
    extra: tuple[int, int] = (0, 0)
    extra_family: str | None = None
    method: bool = True
    call: bool = False


def _conversion(result: CelType, subject: frozenset[str] | None = None) -> FunctionSpec:
    return FunctionSpec(result, subject, method=False, call=True)


_STRING = frozenset({"string"})
_SIZED = frozenset({"string", "bytes", "list", "map"})
_TIME = frozenset({"timestamp"})
_TIME_OR_SPAN = frozenset({"timestamp", "duration"})


def _string_test() -> FunctionSpec:
    return FunctionSpec(BOOL, _STRING, extra=(1, 1), extra_family="string")


def _accessor(subject: frozenset[str]) -> FunctionSpec:
    # The optional argument is a time zone name ("America/New_York", "+01:00").
    return FunctionSpec(INT, subject, extra=(0, 1), extra_family="string")


FUNCTIONS: Mapping[str, FunctionSpec] = {
    "size": FunctionSpec(INT, _SIZED, call=True),
    "contains": _string_test(),
    "startsWith": _string_test(),
    "endsWith": _string_test(),
    "matches": FunctionSpec(BOOL, _STRING, extra=(1, 1), extra_family="string", call=True),
    "glob": FunctionSpec(BOOL, _STRING, extra=(1, 1), extra_family="string", call=True),
    "ip_in_cidr": FunctionSpec(BOOL, _STRING, extra=(1, 1), extra_family="string", method=False, call=True),
    "inCidr": _string_test(),
    "getFullYear": _accessor(_TIME),
    "getMonth": _accessor(_TIME),
    "getDate": _accessor(_TIME),
    "getDayOfMonth": _accessor(_TIME),
    "getDayOfWeek": _accessor(_TIME),
    "getDayOfYear": _accessor(_TIME),
    "getHours": _accessor(_TIME_OR_SPAN),
    "getMinutes": _accessor(_TIME_OR_SPAN),
    "getSeconds": _accessor(_TIME_OR_SPAN),
    "getMilliseconds": _accessor(_TIME_OR_SPAN),
    "int": _conversion(INT),
    "uint": _conversion(UINT),
    "double": _conversion(DOUBLE),
    "string": _conversion(STRING),
    "bytes": _conversion(BYTES),
    "bool": _conversion(BOOL),
    "timestamp": _conversion(TIMESTAMP, frozenset({"string", "timestamp"})),
    "duration": _conversion(DURATION, frozenset({"string", "duration"})),
    "dyn": _conversion(DYN),
    "type": _conversion(TYPE),
}
"""Functions and methods by name (``has`` and the comprehension macros are handled separately)."""

MACROS: Mapping[str, str] = {
    "all": "bool",
    "exists": "bool",
    "exists_one": "bool",
    "filter": "list of the elements",
    "map": "list of the transformed elements",
}
"""Comprehension macros ``receiver.name(var, expr)``; all but ``map`` take a boolean ``expr``."""

TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"}
)
"""Identifiers that denote types (``type(x) == string``)."""

_INTEGERS = frozenset({"int", "uint"})
_ORDERABLE = frozenset({"int", "uint", "double", "string", "bytes", "bool", "timestamp", "duration"})
_ARITHMETIC_FAMILIES: Mapping[str, frozenset[str]] = {
    "+": frozenset({"int", "uint", "double", "string", "bytes", "list", "timestamp", "duration"}),
    "-": frozenset({"int", "uint", "double", "timestamp", "duration"}),
    "*": frozenset({"int", "uint", "double"}),
    "/": frozenset({"int", "uint", "double"}),
    "%": frozenset({"int", "uint"}),
}
_MIXED_ARITHMETIC: Mapping[tuple[str, str, str], CelType] = {
    ("+", "timestamp", "duration"): TIMESTAMP,
    ("+", "duration", "timestamp"): TIMESTAMP,
    ("-", "timestamp", "timestamp"): DURATION,
    ("-", "timestamp", "duration"): TIMESTAMP,
}


def family(cel_type: CelType) -> str | None:
    """The overload family of a type (objects are maps at run time); None for ``dyn``."""
    if isinstance(cel_type, PrimitiveType):
        return cel_type.name
    if isinstance(cel_type, ListType):
        return "list"
    return None if cel_type == DYN else "map"


def join(types: list[CelType]) -> CelType:
    """The common type of several branches or elements: the type itself when all agree, else dyn."""
    return types[0] if types and all(t == types[0] for t in types) else DYN


def _compatible(left: str, right: str) -> bool:
    # cel-python mixes int and uint in most operators; never report that pair.
    return left == right or {left, right} <= _INTEGERS


def comparable(left: CelType, right: CelType) -> bool:
    """Whether ``==``/``!=``/``in`` may compare these types (null compares with anything)."""
    lf, rf = family(left), family(right)
    return lf is None or rf is None or "null" in (lf, rf) or _compatible(lf, rf)


def orderable(left: CelType, right: CelType) -> bool:
    """Whether ``<``, ``<=``, ``>``, ``>=`` have an overload for these types."""
    lf, rf = family(left), family(right)
    if (lf is not None and lf not in _ORDERABLE) or (rf is not None and rf not in _ORDERABLE):
        return False
    return lf is None or rf is None or _compatible(lf, rf)


def arithmetic_result(op: str, left: CelType, right: CelType) -> CelType | None:
    """The result type of ``left op right``, or None when no overload can apply."""
    allowed = _ARITHMETIC_FAMILIES[op]
    lf, rf = family(left), family(right)
    if (lf is not None and lf not in allowed) or (rf is not None and rf not in allowed):
        return None
    if lf is None or rf is None:
        return DYN
    if (op, lf, rf) in _MIXED_ARITHMETIC:
        return _MIXED_ARITHMETIC[(op, lf, rf)]
    if not _compatible(lf, rf) or (lf == "timestamp" and op == "+"):
        return None
    if lf == "list":
        return left if left == right else ListType(DYN)
    return left
