"""CEL type conversions: ``int()``, ``uint()``, ``double()``, ``string()``, ``bytes()``, ``bool()``,
``timestamp()``, ``duration()``, ``dyn()`` and ``type()``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from opp.policy.compiled.time import (
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
    timestamp_from_seconds,
)
from opp.policy.compiled.values import Uint, fail, type_name, type_of, wrap_int, wrap_uint

__all__ = ["CONVERSIONS", "format_double"]

_DECIMAL_INT = re.compile(r"[+-]?\d+\Z")
_DECIMAL_UINT = re.compile(r"\d+\Z")
_FLOAT_TEXT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)\Z", re.IGNORECASE)
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _unsupported(name: str, value: Any) -> Any:
    fail(f"no such overload: {name}({type_name(value)})")


def _to_int(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return value
    if kind is Uint:
        return _in_range(wrap_int, int(value))
    if kind is float:
        if math.isnan(value) or not -9.223372036854775e18 <= value < 9.223372036854775807e18:
            fail("range error: double out of int range")
        return int(value)
    if kind is str:
        if not _DECIMAL_INT.match(value):
            fail(f"type conversion error: {value!r} is not an int")
        return _in_range(wrap_int, int(value))
    if kind is datetime:
        return (value - _EPOCH) // timedelta(seconds=1)
    return _unsupported("int", value)


def _in_range(wrap: Callable[[int], Any], value: int) -> Any:
    try:
        return wrap(value)
    except Exception:
        fail("range error: integer out of range")


def _to_uint(value: Any) -> Any:
    kind = type(value)
    if kind is Uint:
        return value
    if kind is int:
        return _in_range(wrap_uint, value)
    if kind is float:
        if math.isnan(value) or not 0 <= value < 1.8446744073709552e19:
            fail("range error: double out of uint range")
        return Uint(int(value))
    if kind is str:
        if not _DECIMAL_UINT.match(value):
            fail(f"type conversion error: {value!r} is not a uint")
        return _in_range(wrap_uint, int(value))
    return _unsupported("uint", value)


def _to_double(value: Any) -> Any:
    kind = type(value)
    if kind is float:
        return value
    if kind is int or kind is Uint:
        return float(value)
    if kind is str:
        if not _FLOAT_TEXT.match(value):
            fail(f"type conversion error: {value!r} is not a double")
        return float(value)
    return _unsupported("double", value)


def format_double(value: float) -> str:
    """A double as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` writes it (``1e+21``, ``0.5``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + int(exponent)  # position of the decimal point in ``text``
    if value == 0:
        return "-0" if sign else "0"
    lead = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{lead}{mantissa}e{point - 1:+03d}"
    if point <= 0:
        return f"{lead}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{lead}{text}{'0' * (point - len(text))}"
    return f"{lead}{text[:point]}.{text[point:]}"


def _to_string(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return value
    if kind is int or kind is Uint:
        return str(int(value))
    if kind is float:
        return format_double(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is bytes:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            fail("invalid UTF-8 in bytes")
    if kind is datetime:
        return format_timestamp(value)
    if kind is timedelta:
        return format_duration(value)
    return _unsupported("string", value)


def _to_bytes(value: Any) -> Any:
    if type(value) is bytes:
        return value
    if type(value) is str:
        return value.encode("utf-8")
    return _unsupported("bytes", value)


def _to_bool(value: Any) -> Any:
    if type(value) is bool:
        return value
    if type(value) is str:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        fail(f"type conversion error: {value!r} is not a bool")
    return _unsupported("bool", value)


def _to_timestamp(value: Any) -> Any:
    kind = type(value)
    if kind is datetime:
        return value
    if kind is str:
        return parse_timestamp(value)
    if kind is int:
        return timestamp_from_seconds(value)
    return _unsupported("timestamp", value)


def _to_duration(value: Any) -> Any:
    if type(value) is timedelta:
        return value
    if type(value) is str:
        return parse_duration(value)
    return _unsupported("duration", value)


CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "int": _to_int,
    "uint": _to_uint,
    "double": _to_double,
    "string": _to_string,
    "bytes": _to_bytes,
    "bool": _to_bool,
    "timestamp": _to_timestamp,
    "duration": _to_duration,
    "dyn": lambda value: value,
    "type": type_of,
}
"""One-argument conversion functions by name."""
