"""JSON Schemas from config → checked once, compiled once into validators.

A compiled validator has two halves. The fast half (fastjsonschema, generated Python) accepts valid
input and fills ``default`` values; only when it rejects does the thorough half (jsonschema, draft
2020-12) run, to list *every* issue. Both check the ``date`` format with the same function.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from opp.codes import ReasonCode
from opp.compile.plan import InputValidator
from opp.compile.report import Reporter
from opp.config.diagnostics import did_you_mean
from opp.config.source_map import JsonPath
from opp.errors import Issue, ValidationFailed

__all__ = [
    "build_validator",
    "is_iso_date",
    "property_defaults",
    "query_types",
    "report_schema_problems",
    "schema_problems",
]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_iso_date(value: object) -> bool:
    """The ``date`` format: a real calendar date written ``YYYY-MM-DD`` (non-strings pass)."""
    if not isinstance(value, str):
        return True
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


_FORMATS = FormatChecker()
_FORMATS.checks("date")(is_iso_date)


def schema_problems(schema: Mapping[str, Any]) -> list[tuple[JsonPath, str]]:
    """Every way ``schema`` is not a valid draft 2020-12 JSON Schema, with the path inside it."""
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    problems = [(tuple(error.absolute_path), error.message) for error in meta.iter_errors(schema)]
    if problems:
        return sorted(problems, key=lambda problem: [str(part) for part in problem[0]])
    try:
        fastjsonschema.compile(dict(schema), use_default=True, formats={"date": is_iso_date})
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        return [((), str(exc))]
    return []


def build_validator(schema: Mapping[str, Any], code: ReasonCode = ReasonCode.VALIDATION) -> InputValidator:
    """Compile ``schema`` (already checked by :func:`schema_problems`) into a validator.

    The validator returns the input with defaults filled in (the same dict, completed in place)
    and raises :class:`~opp.errors.ValidationFailed` listing every issue as
    ``{code: <keyword>, path: <dotted>, message}``.
    """
    fast = fastjsonschema.compile(dict(schema), use_default=True, formats={"date": is_iso_date})
    thorough = Draft202012Validator(schema, format_checker=_FORMATS)

    def validate(data: dict[str, Any]) -> dict[str, Any]:
        try:
            completed: dict[str, Any] = fast(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            issues = sorted(_issues(thorough, data), key=lambda issue: (issue["path"], issue["code"]))
            raise ValidationFailed(issues or [_fast_issue(exc)], code) from None
        return completed

    return validate


def query_types(schema: Mapping[str, Any]) -> dict[str, str]:
    """The JSON type of each top-level property (first non-null type; ``string`` when untyped)."""
    found: dict[str, str] = {}
    for name, prop in _properties(schema).items():
        declared = prop.get("type", "string") if isinstance(prop, Mapping) else "string"
        candidates = [declared] if isinstance(declared, str) else [t for t in declared if t != "null"]
        found[name] = candidates[0] if candidates else "string"
    return found


def property_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The ``default`` of each top-level property that declares one."""
    return {
        name: prop["default"]
        for name, prop in _properties(schema).items()
        if isinstance(prop, Mapping) and "default" in prop
    }


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = schema.get("properties", {})
    return properties if isinstance(properties, Mapping) else {}


def _issues(validator: Draft202012Validator, data: Any) -> Iterator[Issue]:
    for error in validator.iter_errors(data):
        base = [str(part) for part in error.absolute_path]
        for name in _named_properties(error):
            yield {
                "code": str(error.validator),
                "path": ".".join([*base, name]),
                "message": _message(error, name),
            }
        if error.validator not in ("required", "additionalProperties"):
            yield {"code": str(error.validator), "path": ".".join(base), "message": _plain(error)}


def _named_properties(error: ValidationError) -> list[str]:
    """The properties a ``required`` / ``additionalProperties`` error is about."""
    if not isinstance(error.instance, dict):
        return []
    if error.validator == "required":
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        missing = [name for name in required if name not in error.instance]
        return [name for name in missing if error.message.startswith(repr(name))][:1]
    if error.validator == "additionalProperties" and error.validator_value is False:
        declared = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, dict) else {}
        return [
            name
            for name in error.instance
            if name not in declared and not any(re.search(pattern, name) for pattern in patterns)
        ]
    return []


_COMPOSITE = frozenset({"anyOf", "oneOf", "allOf", "not"})


def _plain(error: ValidationError) -> str:
    """The validator's message, except for composite keywords, whose message repeats the whole
    input: those say what the schema wanted instead (``one of 'ledgerId', 'ledger_id' is required``)."""
    if error.validator not in _COMPOSITE:
        return error.message
    options = error.validator_value if isinstance(error.validator_value, list) else []
    required = [option.get("required") for option in options if isinstance(option, dict)]
    if (
        error.validator == "anyOf"
        and required
        and all(isinstance(names, list) and len(names) == 1 for names in required)
    ):
        return (
            "one of "
            + ", ".join(repr(names[0]) for names in required if isinstance(names, list))
            + " is required"
        )
    return {
        "anyOf": "does not match any of the allowed forms",
        "oneOf": "does not match exactly one of the allowed forms",
        "allOf": "does not match every required form",
        "not": "matches a form that is not allowed",
    }[str(error.validator)]


def _message(error: ValidationError, name: str) -> str:
    if error.validator == "required":
        return f"'{name}' is required"
    return f"'{name}' is not an allowed property"


def _fast_issue(exc: fastjsonschema.JsonSchemaValueException) -> Issue:
    path = [str(part) for part in (exc.path or [])[1:]]
    return {"code": str(exc.rule or "invalid"), "path": ".".join(path), "message": str(exc.message)}


def report_schema_problems(
    schema: Mapping[str, Any], path: JsonPath, report: Reporter, *, require_object: bool = False
) -> bool:
    """Report ``schema.invalid`` for every problem of the schema written at ``path``; True when valid."""
    before = report.count
    for inner, message in schema_problems(schema):
        report.error((*path, *inner), "schema.invalid", message, _hint(schema, inner))
    if require_object and schema.get("type") != "object":
        report.error(
            (*path, "type") if "type" in schema else path,
            "schema.invalid",
            "an input schema must describe an object",
            "add type: object with the arguments under properties:",
        )
    return report.count == before


_JSON_TYPE_NAMES = ("array", "boolean", "integer", "null", "number", "object", "string")


def _hint(schema: Mapping[str, Any], inner: JsonPath) -> str | None:
    """A did-you-mean for a misspelt ``type`` name, the commonest schema mistake."""
    value: Any = schema
    for part in inner:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(value, str) and "type" in inner:
        return did_you_mean(value, _JSON_TYPE_NAMES) or f"JSON types are {', '.join(_JSON_TYPE_NAMES)}"
    return None
