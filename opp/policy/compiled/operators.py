"""CEL operators over plain Python values: equality, ordering, arithmetic, negation, ``in``.

Overloads are chosen on the exact type of each operand; a combination CEL does not define raises
``no such overload``. Equality is the specification's heterogeneous equality: numbers compare by
value across int, uint and double, values of other different types are simply unequal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from opp.policy.compiled.time import check_duration, check_timestamp
from opp.policy.compiled.values import (
    INT64_MIN,
    Uint,
    fail,
    normalize,
    type_name,
    wrap_int,
    wrap_uint,
)

__all__ = ["OPERATORS", "contains", "equal", "find_key", "missing", "negate", "not_equal"]

_NUMBERS = frozenset({int, Uint, float})
_ORDERED = frozenset({int, Uint, float, str, bytes, bool, datetime, timedelta})


def _no_overload(symbol: str, left: Any, right: Any) -> Any:
    fail(f"no such overload: {type_name(left)} {symbol} {type_name(right)}")


def _as_double(left: Any, right: Any) -> tuple[Any, Any]:
    """Mixed int/uint and double operands compare as doubles (as the conformance data requires)."""
    if type(left) is float:
        return left, float(right)
    if type(right) is float:
        return float(left), right
    return left, right


def equal(left: Any, right: Any) -> bool:
    """CEL ``==`` on normalized values."""
    kind = type(left)
    if kind is type(right):
        if kind is list:
            return len(left) == len(right) and all(
                equal(normalize(a), normalize(b)) for a, b in zip(left, right, strict=True)
            )
        if kind is dict:
            return _maps_equal(left, right)
        return bool(left == right)
    if kind in _NUMBERS and type(right) in _NUMBERS:
        left, right = _as_double(left, right)
        return bool(left == right)
    return False


def not_equal(left: Any, right: Any) -> bool:
    """CEL ``!=``."""
    return not equal(left, right)


def _maps_equal(left: dict[Any, Any], right: dict[Any, Any]) -> bool:
    if len(left) != len(right):
        return False
    for key, value in left.items():
        found = find_key(right, normalize(key))
        if found is missing or not equal(normalize(value), normalize(right[found])):
            return False
    return True


missing = object()


def find_key(mapping: dict[Any, Any], key: Any) -> Any:
    """The key of ``mapping`` equal to ``key`` under CEL equality, or ``missing``."""
    if type(key) is str:
        return key if key in mapping else missing
    for candidate in mapping:
        if equal(normalize(candidate), key):
            return candidate
    return missing


def contains(element: Any, container: Any) -> bool:
    """CEL ``element in container`` (list membership or map key)."""
    kind = type(container)
    if kind is list:
        if type(element) is str:
            return any(type(item) is str and item == element for item in container) or any(
                type(item) is not str and equal(normalize(item), element) for item in container
            )
        return any(equal(normalize(item), element) for item in container)
    if kind is dict:
        return find_key(container, element) is not missing
    return bool(_no_overload("in", element, container))


def _ordering(symbol: str, compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def operator(left: Any, right: Any) -> bool:
        kind = type(left)
        if kind is type(right) and kind in _ORDERED:
            return compare(left, right)
        if kind in _NUMBERS and type(right) in _NUMBERS:
            return compare(*_as_double(left, right))
        return bool(_no_overload(symbol, left, right))

    return operator


def _add(left: Any, right: Any) -> Any:
    kind = type(left)
    if kind is type(right):
        if kind is int:
            return wrap_int(left + right)
        if kind in (float, str, bytes, list):
            return left + right
        if kind is Uint:
            return wrap_uint(left + right)
        if kind is timedelta:
            return check_duration(left + right)
    elif kind is datetime and type(right) is timedelta:
        return check_timestamp(left, right)
    elif kind is timedelta and type(right) is datetime:
        return check_timestamp(right, left)
    return _no_overload("+", left, right)


def _subtract(left: Any, right: Any) -> Any:
    kind = type(left)
    if kind is type(right):
        if kind is int:
            return wrap_int(left - right)
        if kind is float:
            return left - right
        if kind is Uint:
            return wrap_uint(left - right)
        if kind is timedelta:
            return check_duration(left - right)
        if kind is datetime:
            return _timestamp_difference(left, right)
    elif kind is datetime and type(right) is timedelta:
        return check_timestamp(left, -right)
    return _no_overload("-", left, right)


_MAX_DIFFERENCE = timedelta(microseconds=(2**63 - 1) // 1000)


def _timestamp_difference(left: datetime, right: datetime) -> timedelta:
    """``left - right``; like cel-go, a difference beyond ±292 years (int64 nanoseconds) fails."""
    difference = left - right
    if -_MAX_DIFFERENCE <= difference <= _MAX_DIFFERENCE:
        return difference
    fail("duration out of range")


def _multiply(left: Any, right: Any) -> Any:
    kind = type(left)
    if kind is type(right):
        if kind is int:
            return wrap_int(left * right)
        if kind is float:
            return left * right
        if kind is Uint:
            return wrap_uint(left * right)
    return _no_overload("*", left, right)


def _truncated_quotient(left: int, right: int) -> int:
    quotient = abs(left) // abs(right)
    return quotient if (left < 0) == (right < 0) else -quotient


def _divide(left: Any, right: Any) -> Any:
    kind = type(left)
    if kind is type(right):
        if kind is float:
            return _float_divide(left, right)
        if kind is int or kind is Uint:
            if right == 0:
                fail("divide by zero")
            quotient = _truncated_quotient(left, right)
            return wrap_int(quotient) if kind is int else wrap_uint(quotient)
    return _no_overload("/", left, right)


def _float_divide(left: float, right: float) -> float:
    if right != 0.0:
        return left / right
    if math.isnan(left) or left == 0.0:
        return float("nan")
    negative = math.copysign(1.0, left) != math.copysign(1.0, right)
    return float("-inf") if negative else float("inf")


def _modulo(left: Any, right: Any) -> Any:
    kind = type(left)
    if kind is type(right) and (kind is int or kind is Uint):
        if right == 0:
            fail("modulus by zero")
        if kind is int and left == INT64_MIN and right == -1:
            fail("return error for overflow")
        remainder = left - right * _truncated_quotient(left, right)
        return remainder if kind is int else Uint(remainder)
    return _no_overload("%", left, right)


def negate(operand: Any) -> Any:
    """CEL unary ``-``."""
    kind = type(operand)
    if kind is int:
        return wrap_int(-operand)
    if kind is float:
        return -operand
    if kind is timedelta:
        return check_duration(-operand)
    fail(f"no such overload: -{type_name(operand)}")


OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "relation_eq": equal,
    "relation_ne": not_equal,
    "relation_lt": _ordering("<", lambda a, b: a < b),
    "relation_le": _ordering("<=", lambda a, b: a <= b),
    "relation_gt": _ordering(">", lambda a, b: a > b),
    "relation_ge": _ordering(">=", lambda a, b: a >= b),
    "relation_in": contains,
    "addition_add": _add,
    "addition_sub": _subtract,
    "multiplication_mul": _multiply,
    "multiplication_div": _divide,
    "multiplication_mod": _modulo,
}
"""Binary operators by grammar rule name."""
