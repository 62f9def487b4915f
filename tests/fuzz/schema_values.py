"""Values for a JSON Schema, as a Hypothesis strategy: the subset the gateway's document uses.

``hypothesis-jsonschema`` 0.23.1 (the latest) fails on objects with current Hypothesis (it uses a
removed private API), and schemathesis depends on it; this covers what ``/openapi.json`` holds:
``$ref`` (local), ``allOf`` (first branch with properties), ``anyOf``/``oneOf``, ``enum``,
``const``, ``type`` (one or a list), string length and ``format: date``/``date-time``, numeric
bounds, ``items``, ``properties``/``required``/``additionalProperties``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

__all__ = ["Known", "values_for"]

Strategy = st.SearchStrategy[Any]
Known = Mapping[str, Sequence[Any]]
"""Real values by property name (ids that exist), mixed into what a schema generates."""

_DATES = st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31))
_FORMATS = {
    "date": _DATES.map(dt.date.isoformat),
    "date-time": st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2040, 1, 1)).map(
        lambda d: d.isoformat() + "Z"
    ),
}


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _string(schema: Mapping[str, Any]) -> Strategy:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    low = int(schema.get("minLength", 0))
    return st.text(min_size=low, max_size=max(low, min(int(schema.get("maxLength", 24)), 24)))


def _number(schema: Mapping[str, Any], integer: bool) -> Strategy:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if integer:
        return st.integers(None if low is None else int(low) + ("exclusiveMinimum" in schema), high)
    return st.floats(
        low, high, allow_nan=False, allow_infinity=False, exclude_min="exclusiveMinimum" in schema
    )


def _property(name: str, schema: Mapping[str, Any], root: Mapping[str, Any], known: Known) -> Strategy:
    generated = values_for(schema, root, known)
    return st.sampled_from(list(known[name])) | generated if known.get(name) else generated


@st.composite
def _objects(draw: st.DrawFn, fixed: Mapping[str, Strategy], optional: Mapping[str, Strategy]) -> Any:
    """Required properties, and each optional one three times in four (deeper than half the time)."""
    value = {name: draw(strategy) for name, strategy in fixed.items()}
    for name, strategy in optional.items():
        if draw(st.integers(0, 3)) > 0:
            value[name] = draw(strategy)
    return value


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], known: Known) -> Strategy:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = {name: _property(name, sub, root, known) for name, sub in properties.items() if name in required}
    optional = {
        name: _property(name, sub, root, known) for name, sub in properties.items() if name not in required
    }
    base = _objects(fixed, optional)
    if schema.get("additionalProperties", True) is False or properties:
        return base
    return st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10), max_size=4)


def _typed(kind: str, schema: Mapping[str, Any], root: Mapping[str, Any], known: Known) -> Strategy:
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(values_for(schema.get("items", {}), root, known), max_size=4)
    return _object(schema, root, known)


def values_for(
    schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, known: Known | None = None
) -> Strategy:
    """Values meant to satisfy ``schema``; ``root`` resolves ``#/...`` references (default: the
    schema itself); a property named in ``known`` also takes one of its real values."""
    root = schema if root is None else root
    known = known or {}
    schema = _resolve(schema, root)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return st.one_of([values_for(branch, root, known) for branch in schema[combinator]])
    if "allOf" in schema:
        return values_for(
            next((b for b in schema["allOf"] if "properties" in _resolve(b, root)), {}), root, known
        )
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_typed(k, schema, root, known) for k in kind])
    if kind is None:
        fallback = st.none() | st.integers() | st.text(max_size=8)
        return _object(schema, root, known) if "properties" in schema else fallback
    return _typed(kind, schema, root, known)
