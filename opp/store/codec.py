"""Record ⇄ row conversion for SQL backends.

Column names are the record's field names, in field order, so one :class:`RecordCodec` per
record type serves every table and every query. Values are stored as:

- timestamps: ISO-8601 UTC text of fixed width, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (27 characters).
  Fixed width makes lexical order equal time order, so ``created_at >= ?`` and ``ORDER BY`` work on
  TEXT in SQLite and PostgreSQL alike; microseconds keep round trips exact; the text stays
  readable in a SQL shell.
- tuples and dicts (``scopes``, ``policy``, ``auto_execute``, ``roles``, ``principal``,
  ``details``): compact JSON text encoded with ``msgspec.json``, decoded back to the field's type.
- booleans: the integers 0 and 1 (portable: an INTEGER column in SQLite and PostgreSQL).
- ``Any`` (an execution's ``result``): JSON text, or NULL for ``None``.
- strings and ``None``: as they are.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import msgspec

__all__ = ["RecordCodec", "decode_timestamp", "encode_timestamp"]

_Record = TypeVar("_Record", bound=msgspec.Struct)
_Convert = Callable[[Any], Any]


def encode_timestamp(at: dt.datetime) -> str:
    """Fixed-width UTC text; raises ``ValueError`` for a naive datetime (its instant is unknown)."""
    if at.tzinfo is dt.UTC:  # the clock's and the decoder's own: "+00:00" becomes "Z" (a third faster)
        return at.isoformat(timespec="microseconds")[:-6] + "Z"
    if at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: store records carry timezone-aware UTC times")
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def decode_timestamp(text: str) -> dt.datetime:
    """The tz-aware UTC datetime :func:`encode_timestamp` wrote."""
    return dt.datetime.fromisoformat(text)


def _optional(convert: _Convert) -> _Convert:
    return lambda value: None if value is None else convert(value)


def _json_codec(value_type: Any) -> tuple[_Convert, _Convert]:
    decoder = msgspec.json.Decoder(value_type)
    return (lambda value: msgspec.json.encode(value).decode()), decoder.decode


def _converters(field_type: Any) -> tuple[_Convert | None, _Convert | None]:
    """(encode, decode) for one field type; ``None`` means the value is stored as it is."""
    args = typing.get_args(field_type)
    nullable = field_type is Any or (isinstance(field_type, types.UnionType) and type(None) in args)
    base = next((arg for arg in args if arg is not type(None)), field_type) if nullable else field_type
    encode: _Convert
    decode: _Convert
    if base is dt.datetime:
        encode, decode = encode_timestamp, decode_timestamp
    elif base is Any or typing.get_origin(base) in (dict, tuple, list):
        encode, decode = _json_codec(base)
    elif base is bool:
        encode, decode = int, bool
    else:
        return None, None
    return (_optional(encode), _optional(decode)) if nullable else (encode, decode)


class RecordCodec(Generic[_Record]):
    """Converts one record type to a row tuple (in :attr:`columns` order) and back."""

    def __init__(self, record_type: type[_Record]) -> None:
        fields = msgspec.structs.fields(record_type)
        self.record_type = record_type
        self.columns: tuple[str, ...] = tuple(field.name for field in fields)
        self._positions = {name: index for index, name in enumerate(self.columns)}
        converters = [_converters(field.type) for field in fields]
        self._encoders = tuple(encode for encode, _ in converters)
        self._decoders = tuple(decode for _, decode in converters)
        self._converted = tuple((i, encode) for i, encode in enumerate(self._encoders) if encode is not None)

    @property
    def column_list(self) -> str:
        """``"id, name, …"``, for SELECT and INSERT statements."""
        return ", ".join(self.columns)

    def qualified_columns(self, alias: str) -> str:
        """``"a.id, a.name, …"``, for joins."""
        return ", ".join(f"{alias}.{column}" for column in self.columns)

    def encode(self, record: _Record) -> tuple[Any, ...]:
        """The row values of ``record``, in :attr:`columns` order."""
        row = list(msgspec.structs.astuple(record))
        for index, encode in self._converted:
            row[index] = encode(row[index])
        return tuple(row)

    def encode_fields(self, values: dict[str, Any]) -> dict[str, Any]:
        """The column values of some fields (an UPDATE's ``SET``); ``ValueError`` for an unknown name."""
        encoded: dict[str, Any] = {}
        for name, value in values.items():
            if name not in self._positions:
                raise ValueError(f"{self.record_type.__name__} has no field {name!r}")
            encode = self._encoders[self._positions[name]]
            encoded[name] = value if encode is None else encode(value)
        return encoded

    def round_trip(self, record: _Record) -> _Record:
        """``record`` as a SQL backend gives it back (the memory backend stores this)."""
        return self.decode(self.encode(record))

    def decode(self, row: Sequence[Any]) -> _Record:
        """The record a row (in :attr:`columns` order) holds."""
        values = {
            name: value if decode is None else decode(value)
            for name, value, decode in zip(self.columns, row, self._decoders, strict=True)
        }
        return self.record_type(**values)
