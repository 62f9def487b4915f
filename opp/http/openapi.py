"""The gateway's own OpenAPI 3.1 document, generated from the Plan (served at ``/openapi.json``).

Written by hand rather than inferred from handler signatures, because routes are generated from
``gateway.yaml``: each read tool's query parameters come from its input schema.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from opp.codes import ReasonCode
from opp.compile.plan import Plan, ToolPlan
from opp.http.admin_bodies import CreateAppBody, CreateKeyBody, PolicyBody
from opp.http.admin_drafts import NoteBody, WindowsBody
from opp.oauth.plan import OAuthPlan
from opp.writes.requests import ActionBody, PreflightBody

__all__ = ["build_openapi", "openapi_handlers"]

_ERR = {"$ref": "#/components/responses/Error"}
_ERRORS = {"400": _ERR, "401": _ERR, "403": _ERR, "404": _ERR, "405": _ERR, "413": _ERR, "500": _ERR}


def _ok(data: dict[str, Any]) -> dict[str, Any]:
    schema = {
        "allOf": [
            {"$ref": "#/components/schemas/Success"},
            {"type": "object", "properties": {"data": data}, "required": ["data"]},
        ]
    }
    return {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}, **_ERRORS}


def _tool_operation(tool: ToolPlan) -> dict[str, Any]:
    properties: dict[str, Any] = dict(tool.input_schema.get("properties", {}))
    required = set(tool.input_schema.get("required", []))
    parameters = [
        {"in": "query", "name": name, "required": name in required, "schema": schema}
        for name, schema in properties.items()
    ]
    return {
        "summary": tool.description,
        "operationId": tool.name,
        "tags": ["tools"],
        "x-opp-required-scopes": sorted(tool.required_scopes),
        "parameters": parameters,
        "responses": {**_ok(dict(tool.output_schema or {"type": "object"})), "502": _ERR, "504": _ERR},
    }


def _admin_paths() -> dict[str, Any]:
    obj = {"type": "object"}

    def body(shape: type, required: bool = True) -> dict[str, Any]:
        return {"required": required, "content": {"application/json": {"schema": _body_schema(shape)}}}

    base = "/api/agent-admin/v1"
    app_id = [{"in": "path", "name": "app_id", "required": True, "schema": {"type": "string"}}]
    key_id = [{"in": "path", "name": "key_id", "required": True, "schema": {"type": "string"}}]
    audit_params = [
        {"in": "query", "name": n, "required": False, "schema": {"type": "string"}}
        for n in ("appId", "action", "status", "code", "tool", "since", "until", "cursor")
    ] + [
        {
            "in": "query",
            "name": "limit",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
        }
    ]
    admin = {"tags": ["admin"], "security": [{"adminToken": []}], "responses": _ok(obj)}
    return {
        f"{base}/apps": {
            "get": {**admin, "operationId": "listApps"},
            "post": {**admin, "operationId": "createApp", "requestBody": body(CreateAppBody)},
        },
        f"{base}/apps/{{app_id}}": {
            "get": {**admin, "operationId": "getApp", "parameters": app_id},
            "delete": {**admin, "operationId": "deleteApp", "parameters": app_id},
        },
        f"{base}/apps/{{app_id}}/keys": {
            "get": {**admin, "operationId": "listKeys", "parameters": app_id},
            "post": {
                **admin,
                "operationId": "addKey",
                "parameters": app_id,
                "requestBody": body(CreateKeyBody, required=False),
            },
        },
        f"{base}/apps/{{app_id}}/revoke": {
            "post": {**admin, "operationId": "revokeApp", "parameters": app_id}
        },
        f"{base}/apps/{{app_id}}/restore": {
            "post": {**admin, "operationId": "restoreApp", "parameters": app_id}
        },
        f"{base}/apps/{{app_id}}/policy": {
            "patch": {
                **admin,
                "operationId": "setPolicy",
                "parameters": app_id,
                "requestBody": body(PolicyBody),
            }
        },
        f"{base}/apps/{{app_id}}/tools": {"get": {**admin, "operationId": "appTools", "parameters": app_id}},
        f"{base}/keys/{{key_id}}/revoke": {
            "post": {**admin, "operationId": "revokeKey", "parameters": key_id}
        },
        f"{base}/audit": {"get": {**admin, "operationId": "listAudit", "parameters": audit_params}},
        f"{base}/reload": {
            "post": {**admin, "operationId": "reloadConfig", "responses": {**_ok(obj), "503": _ERR}}
        },
    }


def _body_schema(shape: type) -> dict[str, Any]:
    """The JSON Schema of a request Struct, with its definitions inlined for this document."""
    schema, components = msgspec.json.schema_components([shape], ref_template="#/components/schemas/{name}")
    _COMPONENTS.update(components)
    return dict(schema[0])


_COMPONENTS: dict[str, Any] = {}


def _write_paths() -> dict[str, Any]:
    obj = {"type": "object"}
    draft_id = [{"in": "path", "name": "id", "required": True, "schema": {"type": "string"}}]
    app_id = [{"in": "path", "name": "app_id", "required": True, "schema": {"type": "string"}}]

    def body(shape: type) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": _body_schema(shape)}}}

    agent = {"tags": ["writes"], "responses": {**_ok(obj), "409": _ERR, "422": _ERR, "502": _ERR}}
    admin = {"tags": ["admin"], "security": [{"adminToken": []}], "responses": {**_ok(obj), "409": _ERR}}
    draft_filters = [
        {"in": "query", "name": n, "required": False, "schema": {"type": "string"}}
        for n in ("appId", "status", "tool", "risk", "cursor")
    ] + [
        {
            "in": "query",
            "name": "limit",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
        }
    ]
    idem = [{"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string"}}]
    return {
        "/api/agent/v1/preflight": {
            "post": {**agent, "operationId": "preflight", "requestBody": body(PreflightBody)}
        },
        "/api/agent/v1/actions": {
            "post": {
                **agent,
                "operationId": "createAction",
                "parameters": idem,
                "requestBody": body(ActionBody),
            }
        },
        "/api/agent/v1/drafts/{id}": {"get": {**agent, "operationId": "getDraft", "parameters": draft_id}},
        "/api/agent/v1/drafts/{id}/withdraw": {
            "post": {**agent, "operationId": "withdrawDraft", "parameters": draft_id}
        },
        "/api/agent-admin/v1/drafts": {
            "get": {**admin, "operationId": "listDrafts", "parameters": draft_filters}
        },
        "/api/agent-admin/v1/drafts/{id}": {
            "get": {**admin, "operationId": "adminGetDraft", "parameters": draft_id}
        },
        "/api/agent-admin/v1/drafts/{id}/approve": {
            "post": {
                **admin,
                "operationId": "approveDraft",
                "parameters": draft_id,
                "requestBody": {**body(NoteBody), "required": False},
            }
        },
        "/api/agent-admin/v1/drafts/{id}/reject": {
            "post": {
                **admin,
                "operationId": "rejectDraft",
                "parameters": draft_id,
                "requestBody": {**body(NoteBody), "required": False},
            }
        },
        "/api/agent-admin/v1/apps/{app_id}/auto-execute": {
            "patch": {
                **admin,
                "operationId": "setAutoExecute",
                "parameters": app_id,
                "requestBody": body(WindowsBody),
            }
        },
    }


def _action_bodies(plan: Plan) -> dict[str, Any]:
    """``PreflightBody``/``ActionBody`` as one variant per action: its name and its payload schema."""
    actions = [tool for tool in plan.tools if tool.writes]
    if not actions:
        return {}
    bodies = {}
    for name in ("PreflightBody", "ActionBody"):
        schema = _COMPONENTS[name]
        variants = [
            {
                **schema,
                "title": f"{name} ({tool.name})",
                "properties": {
                    **schema["properties"],
                    "action": {"const": tool.name},
                    "payload": {"anyOf": [dict(tool.input_schema), {"type": "null"}], "default": None},
                },
            }
            for tool in actions
        ]
        bodies[name] = {"title": name, "oneOf": variants}
    return bodies


def build_openapi(plan: Plan) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/agent/v1/manifest": {
            "get": {
                "summary": "List the tools the caller may use",
                "operationId": "manifest",
                "tags": ["agent"],
                "responses": _ok(
                    {
                        "type": "object",
                        "required": ["app", "tools"],
                        "properties": {"app": {"type": "object"}, "tools": {"type": "array"}},
                    }
                ),
            }
        },
    }
    for tool in plan.tools:
        if tool.kind == "read" and tool.http_path:
            paths[f"/api/agent/v1{tool.http_path}"] = {"get": _tool_operation(tool)}
    paths.update(_admin_paths())
    paths.update(_write_paths())
    for operation in (op for item in paths.values() for op in item.values()):
        if "requestBody" in operation:  # a body that is not application/json
            operation["responses"] = {**operation["responses"], "415": _ERR}
        if "security" not in operation:  # the agent plane: admission control (SPEC §8)
            operation["responses"] = {**operation["responses"], "429": _ERR, "503": _ERR}
    open_ops = {"security": [], "tags": ["health"], "responses": _ok({"type": "object"})}
    paths["/healthz"] = {"get": {**open_ops, "operationId": "healthz"}}
    paths["/readyz"] = {
        "get": {**open_ops, "operationId": "readyz", "responses": {**_ok({"type": "object"}), "503": _ERR}}
    }
    error_schema = {
        "type": "object",
        "required": ["ok", "code", "message"],
        "properties": {
            "ok": {"const": False},
            "code": {"enum": [c.value for c in ReasonCode]},
            "message": {"type": "string"},
            "details": {"type": "object"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": plan.config.gateway.name,
            "version": "1",
            "description": "OpenPort Protocol gateway",
        },
        "servers": [{"url": plan.oauth.public_url}],
        "security": [{"agentKey": []}, *([{"oauthToken": []}] if plan.oauth.enabled else [])],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "agentKey": {"type": "http", "scheme": "bearer", "bearerFormat": "op_ opaque key"},
                "adminToken": {"type": "http", "scheme": "bearer", "bearerFormat": "opa_ admin token"},
                **_oauth_scheme(plan.oauth),
            },
            "schemas": {
                "Success": {
                    "type": "object",
                    "required": ["ok", "code", "data"],
                    "properties": {"ok": {"const": True}, "code": {"const": "common.success"}, "data": {}},
                },
                "Error": error_schema,
                **_COMPONENTS,
                **_action_bodies(plan),
            },
            "responses": {
                "Error": {
                    "description": "OPP error envelope",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
        },
    }


def _oauth_scheme(oauth: OAuthPlan) -> dict[str, Any]:
    """OAuth access tokens (``DPoP`` or ``Bearer`` scheme), when enabled; see docs/OAUTH.md."""
    if not oauth.enabled:
        return {}
    return {
        "oauthToken": {
            "type": "http",
            "scheme": "DPoP" if oauth.dpop.mode == "required" else "bearer",
            "bearerFormat": "RFC 9068 JWT or introspected token; DPoP (RFC 9449) or mTLS bound",
            "description": f"Protected resource metadata (RFC 9728): {oauth.metadata_url}",
        }
    }


def openapi_handlers(plan: Plan) -> list[HTTPRouteHandler]:
    document = msgspec.json.encode(build_openapi(plan))

    @get("/openapi.json", include_in_schema=False)
    async def openapi() -> Response[bytes]:
        return Response(document, media_type="application/json")

    return [openapi]
