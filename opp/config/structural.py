"""Structural validation: every schema error of the loaded data, as positioned diagnostics.

msgspec stops at the first error and knows no line numbers, so the data is first checked against
the published JSON Schema with ``jsonschema.iter_errors`` (which yields them all); each error is
classified into a stable code and placed on the offending key or value.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from opp.config.diagnostics import Diagnostic, did_you_mean
from opp.config.json_schema import gateway_json_schema
from opp.config.schema import Duration
from opp.config.source_map import JsonPath, SourceMap, format_path

__all__ = ["DURATION_HINT", "structural_diagnostics"]

DURATION_HINT = "use a number with ms, s, m, h or d, e.g. 30s"
_DURATION_PATTERN: str = typing.get_args(Duration)[1].pattern
_PATTERN_HINTS = {
    r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$": "tool names are lowercase dotted words, e.g. transaction.list",
    r"^[A-Za-z][A-Za-z0-9_.-]*$": "start with a letter; then letters, digits, '_', '.' or '-'",
    r"^app_[A-Za-z0-9_]+$": "app ids start with app_, e.g. app_billing",
    r"^key_[A-Za-z0-9_]+$": "key ids start with key_, e.g. key_ci",
    r"^[0-9a-f]{64}$": "the SHA-256 of the token as 64 lowercase hex digits (sha256sum)",
}
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(gateway_json_schema())


def structural_diagnostics(data: Any, source_map: SourceMap) -> list[Diagnostic]:
    """Every way ``data`` violates the ``gateway.yaml`` schema, deduplicated."""
    found: dict[Diagnostic, None] = {}
    for error in _validator().iter_errors(data):
        for diagnostic in _Classifier(source_map).classify(error):
            found[diagnostic] = None
    return list(found)


def json_type(value: Any) -> str:
    """The JSON Schema type name of a Python value (``null`` for None)."""
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _quote_all(values: list[Any]) -> str:
    return ", ".join(repr(value) for value in values)


class _Classifier:
    """Maps one jsonschema error (and, for ``anyOf``, the errors of the right branch) to diagnostics."""

    def __init__(self, source_map: SourceMap) -> None:
        self.source_map = source_map

    def classify(self, error: ValidationError) -> Iterator[Diagnostic]:
        path: JsonPath = tuple(error.absolute_path)
        where = format_path(path)
        keyword = error.validator
        value: Any = error.validator_value
        if keyword == "additionalProperties" and isinstance(error.instance, dict):
            allowed = list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
            for key in error.instance:
                if key not in allowed:
                    hint = did_you_mean(str(key), allowed) or f"allowed fields: {', '.join(sorted(allowed))}"
                    yield self._at_key((*path, key), "config.unknown_field", _unknown(key, path), hint)
        elif keyword == "required" and isinstance(error.instance, dict):
            for name in value:
                if name not in error.instance:
                    yield self._at(
                        path, "config.missing_field", f"missing required field '{name}' {_in(path)}"
                    )
        elif keyword == "type":
            expected = value
            expected_text = " or ".join(expected) if isinstance(expected, list) else expected
            message = f"{where}: expected {expected_text}, got {json_type(error.instance)}"
            yield self._at(path, "config.invalid_type", message)
        elif keyword in ("enum", "const"):
            allowed_values = value if keyword == "enum" else [value]
            message = f"{where}: {error.instance!r} is not one of {_quote_all(allowed_values)}"
            close = (
                did_you_mean(error.instance, [str(v) for v in allowed_values])
                if isinstance(error.instance, str)
                else None
            )
            yield self._at(path, "config.invalid_value", message, close)
        elif keyword == "pattern" and value == _DURATION_PATTERN:
            yield self._at(
                path, "config.bad_duration", f"{where}: {error.instance!r} is not a duration", DURATION_HINT
            )
        elif keyword == "pattern":
            message = f"{where}: {error.instance!r} does not match {value}"
            yield self._at(path, "config.invalid_value", message, _PATTERN_HINTS.get(value))
        elif keyword in ("anyOf", "oneOf"):
            yield from self._alternatives(error, path)
        else:
            yield self._at(path, "config.invalid_value", f"{where}: {error.message}")

    def _alternatives(self, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
        branches: list[dict[str, Any]] = list(error.validator_value)  # type: ignore[arg-type]
        by_branch: dict[int, list[ValidationError]] = {index: [] for index in range(len(branches))}
        for sub in error.context or []:
            by_branch[int(sub.relative_schema_path[0])].append(sub)
        discriminator = error.schema.get("discriminator") if isinstance(error.schema, dict) else None
        if discriminator and isinstance(error.instance, dict):
            yield from self._tagged(error.instance, path, discriminator, branches, by_branch)
            return
        fitting = [
            index
            for index, errors in by_branch.items()
            if not any(sub.validator == "type" and not sub.relative_path for sub in errors)
        ]
        if len(fitting) == 1:
            for sub in by_branch[fitting[0]]:
                yield from self.classify(sub)
            return
        expected = [
            str(sub.validator_value)
            for errors in by_branch.values()
            for sub in errors
            if sub.validator == "type" and not sub.relative_path
        ]
        if not fitting and expected:
            message = (
                f"{format_path(path)}: expected {' or '.join(expected)}, got {json_type(error.instance)}"
            )
            yield self._at(path, "config.invalid_type", message)
        else:
            yield self._at(path, "config.invalid_value", f"{format_path(path)}: {error.message}")

    def _tagged(
        self,
        instance: dict[str, Any],
        path: JsonPath,
        discriminator: dict[str, Any],
        branches: list[dict[str, Any]],
        by_branch: dict[int, list[ValidationError]],
    ) -> Iterator[Diagnostic]:
        tag_field: str = discriminator["propertyName"]
        mapping: dict[str, str] = discriminator["mapping"]
        tags = list(mapping)
        tag = instance.get(tag_field)
        if tag_field not in instance:
            message = f"missing required field '{tag_field}' {_in(path)}"
            yield self._at(path, "config.missing_field", message, f"one of {_quote_all(tags)}")
            return
        if tag not in mapping:
            message = f"{format_path((*path, tag_field))}: {tag!r} is not one of {_quote_all(tags)}"
            hint = did_you_mean(tag, tags) if isinstance(tag, str) else None
            yield self._at((*path, tag_field), "config.invalid_value", message, hint)
            return
        chosen = next(index for index, branch in enumerate(branches) if branch.get("$ref") == mapping[tag])
        for sub in by_branch[chosen]:
            yield from self.classify(sub)

    def _at(self, path: JsonPath, code: str, message: str, hint: str | None = None) -> Diagnostic:
        line, col = self.source_map.value(path)
        return Diagnostic(
            file=self.source_map.file, line=line, col=col, code=code, message=message, hint=hint
        )

    def _at_key(self, path: JsonPath, code: str, message: str, hint: str | None = None) -> Diagnostic:
        line, col = self.source_map.key(path)
        return Diagnostic(
            file=self.source_map.file, line=line, col=col, code=code, message=message, hint=hint
        )


def _unknown(key: Any, parent: JsonPath) -> str:
    return f"unknown field '{key}' {_in(parent)}"


def _in(path: JsonPath) -> str:
    return f"in {format_path(path)}" if path else "at the top level"
