"""Validate response bodies against the reference OpenAPI document's schemas with ``jsonschema``.

The reference is OpenAPI 3.1 but still writes 3.0-style ``nullable: true`` in places; that is
translated to a JSON Schema type union before validating. ``#/components/schemas/...`` references
resolve inside the document through a ``referencing`` registry.
"""

from __future__ import annotations

from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.conformance.reference import OPENAPI_PATH, require

DOCUMENT_URI = "urn:openport:reference:v1"


def translate_nullable(node: Any) -> Any:
    """A copy of ``node`` with every ``nullable: true`` schema turned into a union with null."""
    if isinstance(node, list):
        return [translate_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: translate_nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is not True:
        if "nullable" in node:
            schema["nullable"] = translate_nullable(node["nullable"])
        return schema
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


class ReferenceContract:
    """The reference OpenAPI document, ready to validate bodies against its components."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = translate_nullable(document)
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)

    @classmethod
    def load(cls) -> ReferenceContract:
        """Read ``openport-v1.openapi.yaml`` (skips the test when it is absent)."""
        return cls(yaml.safe_load(require(OPENAPI_PATH).read_text(encoding="utf-8")))

    def operation(self, method: str, path: str) -> dict[str, Any]:
        operation: dict[str, Any] = self.document["paths"][path][method.lower()]
        return operation

    def success_schema(self, method: str, path: str) -> dict[str, Any]:
        """The documented ``200`` body schema of an operation."""
        response = self.operation(method, path)["responses"]["200"]
        schema: dict[str, Any] = response["content"]["application/json"]["schema"]
        return schema

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        """A validator for ``schema`` whose local ``#/...`` refs point into the reference document."""
        rooted = _rebase(schema)
        return Draft202012Validator(
            rooted, registry=self._registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )

    def errors(self, schema: dict[str, Any], body: Any) -> list[str]:
        """Every violation of ``schema`` by ``body`` (empty when it conforms)."""
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in self.validator(schema).iter_errors(body)
        ]

    def component(self, name: str) -> dict[str, Any]:
        """``{"$ref": "#/components/schemas/NAME"}``, checked to exist."""
        assert name in self.document["components"]["schemas"], name
        return {"$ref": f"#/components/schemas/{name}"}


def _rebase(node: Any) -> Any:
    if isinstance(node, list):
        return [_rebase(item) for item in node]
    if not isinstance(node, dict):
        return node
    rebased = {key: _rebase(value) for key, value in node.items()}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        rebased["$ref"] = DOCUMENT_URI + ref
    return rebased
