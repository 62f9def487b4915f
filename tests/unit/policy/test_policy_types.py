"""The CEL type model, JSON Schema mapping and the declared environment."""

from __future__ import annotations

from typing import Any

from opp.policy import PolicyEnvironment, build_environment, describe_environment
from opp.policy.types import (
    BOOL,
    DOUBLE,
    DYN,
    INT,
    NULL,
    STRING,
    TIMESTAMP,
    ListType,
    MapType,
    ObjectType,
    type_from_json_schema,
)


def test_scalars_map_to_cel_primitives() -> None:
    assert type_from_json_schema({"type": "string", "format": "date"}) == STRING
    assert type_from_json_schema({"type": "integer"}) == INT
    assert type_from_json_schema({"type": "number"}) == DOUBLE
    assert type_from_json_schema({"type": "boolean"}) == BOOL
    assert type_from_json_schema({"type": "null"}) == NULL


def test_arrays_nullable_types_and_unknown_schemas() -> None:
    assert type_from_json_schema({"type": "array", "items": {"type": "string"}}) == ListType(STRING)
    assert type_from_json_schema({"type": "array"}) == ListType(DYN)
    assert type_from_json_schema({"type": ["array", "null"], "items": {"type": "string"}}) == DYN
    assert type_from_json_schema({"oneOf": [{"type": "string"}]}) == DYN
    assert type_from_json_schema({}) == DYN


def test_object_closed_open_and_required_fields() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["a"],
        "properties": {"a": {"type": "string"}, "b": {"type": "integer", "default": 1}, "c": {}},
    }
    closed = type_from_json_schema(schema)
    assert isinstance(closed, ObjectType)
    assert closed.closed
    assert closed.required == frozenset({"a", "b"})
    assert closed.field_type("a") == STRING
    assert closed.field_type("c") == DYN
    assert closed.field_type("zzz") is None

    opened = type_from_json_schema(schema | {"additionalProperties": {"type": "integer"}})
    assert isinstance(opened, ObjectType)
    assert not opened.closed
    assert opened.field_type("zzz") == INT
    assert type_from_json_schema({"type": "object", "properties": {}}) == ObjectType({}, closed=False)


def test_environment_declares_the_documented_roots(transaction_env: PolicyEnvironment) -> None:
    assert set(transaction_env.variables) == {"principal", "app", "tool", "request", "args", "resource"}
    principal = transaction_env.variables["principal"]
    assert isinstance(principal, ObjectType)
    assert principal.field_type("scopes") == ListType(STRING)
    assert principal.field_type("claims") == MapType(STRING, DYN)
    request = transaction_env.variables["request"]
    assert isinstance(request, ObjectType)
    assert request.field_type("time") == TIMESTAMP


def test_optional_roots_are_declared_only_on_request() -> None:
    bare = build_environment(app_policy_schema={"type": "object", "properties": {}})
    assert set(bare.variables) == {"principal", "app", "tool", "request"}
    with_item = build_environment(app_policy_schema={}, item=True, resource_fields={"at": "timestamp"})
    assert with_item.type_of("item") == MapType(STRING, DYN)
    resource = with_item.type_of("resource")
    assert isinstance(resource, ObjectType)
    assert resource.field_type("at") == TIMESTAMP


def test_describe_environment_lists_fields_and_optional_ones(transaction_env: PolicyEnvironment) -> None:
    text = describe_environment(transaction_env)
    lines = text.splitlines()
    assert "args.ledgerId: string" in lines
    assert "args.startDate: string  (optional: guard with has())" in lines
    assert "app.policy.allowed_ledger_ids: dyn" in lines
    assert "principal.scopes: list(string)" in lines
    assert "request.time: timestamp" in lines
    assert "resource.currency: string" in lines
    assert "item" not in text
