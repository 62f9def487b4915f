"""JSON Schema helpers: validators, query types, defaults, field paths."""

from __future__ import annotations

import pytest

from opp.codes import ReasonCode
from opp.compile.redaction import parse_field_path
from opp.compile.routes import route_key
from opp.compile.schemas import build_validator, is_iso_date, property_defaults, query_types, schema_problems
from opp.errors import ValidationFailed


@pytest.mark.parametrize(
    ("value", "ok"),
    [("2024-02-29", True), ("2023-02-29", False), ("2024-13-01", False), ("20240101", False), (5, True)],
)
def test_is_iso_date(value: object, ok: bool) -> None:
    assert is_iso_date(value) is ok


def test_validator_reports_nested_paths_and_chosen_code() -> None:
    validate = build_validator(
        {
            "type": "object",
            "properties": {"items": {"type": "array", "items": {"type": "object", "required": ["id"]}}},
        },
        ReasonCode.ACTION_INVALID,
    )
    with pytest.raises(ValidationFailed) as caught:
        validate({"items": [{"id": 1}, {}]})
    assert caught.value.code is ReasonCode.ACTION_INVALID
    assert caught.value.issues == [{"code": "required", "path": "items.1.id", "message": "'id' is required"}]


def test_validator_root_type_issue_has_empty_path() -> None:
    validate = build_validator({"type": "object"})
    with pytest.raises(ValidationFailed) as caught:
        validate([])  # type: ignore[arg-type]
    assert caught.value.issues[0]["path"] == ""
    assert caught.value.issues[0]["code"] == "type"


def test_query_types_and_defaults() -> None:
    schema = {
        "type": "object",
        "properties": {
            "limit": {"type": ["integer", "null"], "default": 10},
            "flag": {"type": "boolean"},
            "name": {"enum": ["a", "b"]},
        },
    }
    assert query_types(schema) == {"limit": "integer", "flag": "boolean", "name": "string"}
    assert property_defaults(schema) == {"limit": 10}


def test_schema_problems_have_paths_inside_the_schema() -> None:
    problems = schema_problems({"type": "object", "properties": {"a": {"minimum": "x"}}})
    assert [path for path, _ in problems] == [("properties", "a", "minimum")]
    assert schema_problems({"type": "object"}) == []


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("title", ("title",)),
        ("items[].title", ("items[]", "title")),
        ("a.b[].c_d", ("a", "b[]", "c_d")),
        ("items..title", None),
        ("items[0]", None),
        ("", None),
        ("1abc", None),
    ],
)
def test_parse_field_path(text: str, parsed: tuple[str, ...] | None) -> None:
    assert parse_field_path(text) == parsed


def test_route_key_erases_parameter_names() -> None:
    assert route_key("get", "/drafts/{draftId}") == route_key("GET", "/drafts/{id}")
    assert route_key("GET", "/ledgers/") == ("GET", "/ledgers")
