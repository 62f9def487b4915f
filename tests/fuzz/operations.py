"""The gateway's OpenAPI document, read into the operations the fuzzer generates requests for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Operation", "Parameter", "operations", "response_schema"]


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]


@dataclass(frozen=True, repr=False)
class Operation:
    operation_id: str
    method: str
    path: str
    parameters: tuple[Parameter, ...]
    body_schema: Mapping[str, Any] | None
    """The JSON body's schema with the document's components attached (so its $refs resolve)."""
    body_required: bool
    responses: Mapping[str, Any]
    admin: bool

    def __repr__(self) -> str:
        return f"{self.method} {self.path} ({self.operation_id})"

    def in_(self, location: str) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == location)


def _rooted(schema: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with the document's components beside it: ``#/components/...`` resolves in it."""
    return {**schema, "components": document.get("components", {})}


def operations(document: Mapping[str, Any]) -> list[Operation]:
    """Every operation of the document, in document order."""
    found = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody")
            body_schema = None
            if body is not None:
                body_schema = _rooted(body["content"]["application/json"]["schema"], document)
            security = op.get("security", document.get("security", []))
            found.append(
                Operation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=path,
                    parameters=tuple(
                        Parameter(p["name"], p["in"], bool(p.get("required")), p["schema"])
                        for p in op.get("parameters", [])
                    ),
                    body_schema=body_schema,
                    body_required=bool(body and body.get("required")),
                    responses=op["responses"],
                    admin=any("adminToken" in entry for entry in security),
                )
            )
    return found


def response_schema(document: Mapping[str, Any], operation: Operation, status: int) -> dict[str, Any] | None:
    """The documented JSON schema of ``status`` for ``operation`` (None when undocumented)."""
    response = operation.responses.get(str(status))
    if response is None:
        return None
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response = document["components"]["responses"][name]
    return _rooted(response["content"]["application/json"]["schema"], document)
