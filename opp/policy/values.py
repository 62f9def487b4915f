"""Convert plain Python activation values to cel-python values, guided by the declared CEL types.

Plain values are dicts, lists, str, int, float, bool, None, ``datetime`` (aware) and ``timedelta``.
A string where the environment declares a timestamp or duration (``resource.created_at``) is parsed
as one, so JSON-shaped data from backends can be passed as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from celpy import celtypes

from opp.policy.api import PolicyEvalError
from opp.policy.types import DURATION, DYN, TIMESTAMP, UINT, CelType, ListType, MapType, ObjectType

__all__ = ["to_cel"]

_CEL_VALUES = (
    celtypes.BoolType,
    celtypes.IntType,
    celtypes.UintType,
    celtypes.DoubleType,
    celtypes.StringType,
    celtypes.BytesType,
    celtypes.TimestampType,
    celtypes.DurationType,
    celtypes.ListType,
    celtypes.MapType,
)


def to_cel(value: Any, hint: CelType = DYN) -> celtypes.Value:
    """``value`` as a cel-python value; ``hint`` is its declared type (``dyn`` when unknown).

    Raises:
        PolicyEvalError: the value has an unsupported Python type, is out of range (int64,
            uint64), is a naive datetime, or is a malformed timestamp/duration string.
    """
    try:
        return _convert(value, hint)
    except (ValueError, TypeError, OverflowError) as exc:
        raise PolicyEvalError(f"cannot pass value to CEL: {exc}") from exc


def _convert(value: Any, hint: CelType) -> celtypes.Value:
    if value is None or isinstance(value, _CEL_VALUES):
        return value
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.UintType(value) if hint == UINT else celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        if hint == TIMESTAMP:
            return celtypes.TimestampType(value)
        if hint == DURATION:
            return celtypes.DurationType(value)
        return celtypes.StringType(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime (a timestamp needs a time zone)")
        return celtypes.TimestampType(value)
    if isinstance(value, timedelta):
        return celtypes.DurationType(value)
    if isinstance(value, bytes):
        return celtypes.BytesType(value)
    if isinstance(value, Mapping):
        return _convert_mapping(value, hint)
    if isinstance(value, list | tuple):
        elem = hint.elem if isinstance(hint, ListType) else DYN
        return celtypes.ListType([_convert(item, elem) for item in value])
    raise TypeError(f"unsupported type {type(value).__name__}")


def _convert_mapping(value: Mapping[Any, Any], hint: CelType) -> celtypes.MapType:
    if isinstance(hint, ObjectType):
        return celtypes.MapType(
            {celtypes.StringType(k): _convert(v, hint.field_type(k) or DYN) for k, v in value.items()}
        )
    key, item = (hint.key, hint.value) if isinstance(hint, MapType) else (DYN, DYN)
    return celtypes.MapType({_convert(k, key): _convert(v, item) for k, v in value.items()})
