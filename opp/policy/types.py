"""A small CEL type model: enough to check policy rules against the declared activation.

Types are immutable values. ``dyn`` stands for "unknown until run time": the checker lets it flow
silently, so only what is certainly wrong is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BOOL",
    "BYTES",
    "DOUBLE",
    "DURATION",
    "DYN",
    "INT",
    "NULL",
    "STRING",
    "TIMESTAMP",
    "TYPE",
    "UINT",
    "CelType",
    "DynType",
    "ListType",
    "MapType",
    "ObjectType",
    "PrimitiveType",
    "type_from_json_schema",
]


@dataclass(frozen=True)
class PrimitiveType:
    """A scalar CEL type: ``bool``, ``int``, ``uint``, ``double``, ``string``, ``bytes``, ``null``,
    ``timestamp`` (google.protobuf.Timestamp), ``duration`` (google.protobuf.Duration) or ``type``."""

    name: str

    def describe(self) -> str:
        """The type as written in the variable reference."""
        return self.name


@dataclass(frozen=True)
class DynType:
    """Any value; checked only at evaluation time."""

    def describe(self) -> str:
        """The type as written in the variable reference."""
        return "dyn"


@dataclass(frozen=True)
class ListType:
    """A list whose elements all have type ``elem``."""

    elem: CelType

    def describe(self) -> str:
        """The type as written in the variable reference."""
        return f"list({self.elem.describe()})"


@dataclass(frozen=True)
class MapType:
    """A map from ``key`` to ``value``."""

    key: CelType
    value: CelType

    def describe(self) -> str:
        """The type as written in the variable reference."""
        return f"map({self.key.describe()}, {self.value.describe()})"


@dataclass(frozen=True)
class ObjectType:
    """A JSON object with named fields (a map with string keys at run time).

    Attributes:
        fields: declared field names and their types.
        closed: when true, selecting an undeclared field is a check error; otherwise undeclared
            fields have type ``extra``.
        required: fields always present at run time (required, or filled from a default); the
            others may be absent and should be guarded with ``has(x.field)``.
        extra: the type of undeclared fields of an open object.
    """

    fields: Mapping[str, CelType] = field(hash=False)
    closed: bool = True
    required: frozenset[str] = frozenset()
    extra: CelType = field(default_factory=DynType)

    def field_type(self, name: str) -> CelType | None:
        """The type of field ``name``, or None when a closed object does not declare it."""
        declared = self.fields.get(name)
        if declared is not None:
            return declared
        return None if self.closed else self.extra

    def describe(self) -> str:
        """The type as written in the variable reference."""
        return "object" if self.closed else "object (open)"


CelType = PrimitiveType | DynType | ListType | MapType | ObjectType

BOOL = PrimitiveType("bool")
INT = PrimitiveType("int")
UINT = PrimitiveType("uint")
DOUBLE = PrimitiveType("double")
STRING = PrimitiveType("string")
BYTES = PrimitiveType("bytes")
NULL = PrimitiveType("null")
TIMESTAMP = PrimitiveType("timestamp")
DURATION = PrimitiveType("duration")
TYPE = PrimitiveType("type")
DYN = DynType()

_JSON_SCALARS: Mapping[str, CelType] = {
    "string": STRING,
    "integer": INT,
    "number": DOUBLE,
    "boolean": BOOL,
    "null": NULL,
}


def type_from_json_schema(schema: Mapping[str, Any]) -> CelType:
    """The CEL type of values validated by a JSON Schema.

    An object with ``properties`` becomes an object type (closed when ``additionalProperties`` is
    false); string (any format) → string, integer → int, number → double, boolean → bool, array →
    list of its ``items``. A type list such as ``[array, "null"]``, or anything else, is ``dyn``.

    Args:
        schema: a JSON Schema (draft 2020-12 subset).

    Returns:
        The corresponding :data:`CelType`.
    """
    kind = schema.get("type")
    if kind == "object" and isinstance(schema.get("properties"), Mapping):
        return _object_type(schema)
    if kind == "array":
        items = schema.get("items")
        return ListType(type_from_json_schema(items) if isinstance(items, Mapping) else DYN)
    if isinstance(kind, str) and kind in _JSON_SCALARS:
        return _JSON_SCALARS[kind]
    return DYN


def _object_type(schema: Mapping[str, Any]) -> ObjectType:
    properties: Mapping[str, Any] = schema["properties"]
    fields = {
        name: type_from_json_schema(sub) if isinstance(sub, Mapping) else DYN
        for name, sub in properties.items()
    }
    required = {name for name in schema.get("required", ()) if name in fields}
    required |= {name for name, sub in properties.items() if isinstance(sub, Mapping) and "default" in sub}
    additional = schema.get("additionalProperties", True)
    extra = type_from_json_schema(additional) if isinstance(additional, Mapping) else DYN
    return ObjectType(fields, closed=additional is False, required=frozenset(required), extra=extra)
