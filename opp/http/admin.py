"""Admin plane (prefix ``/api/agent-admin/v1``, SPEC §10): apps, keys, policy, tools, audit.

Every route authenticates first (401/403 envelopes) and every call, allowed or not, is audited
through :class:`~opp.http.admin_call.AdminCall`.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from opp.clock import iso
from opp.errors import ValidationFailed
from opp.http.admin_bodies import CreateAppBody, CreateKeyBody, PolicyBody
from opp.http.admin_call import AdminCall
from opp.http.admin_views import action_tool_listing, app_view, audit_query, event_view, key_view
from opp.http.bodies import decode_body
from opp.http.incoming import incoming
from opp.http.runtime import Runtime
from opp.integrations.service import NewApp
from opp.parsing import utc_time

__all__ = ["ADMIN_PREFIX", "admin_handlers"]

ADMIN_PREFIX = "/api/agent-admin/v1"
Req = Request[Any, Any, Any]
READER = "auditor"


def admin_handlers(runtime: Runtime) -> list[HTTPRouteHandler]:
    service = runtime.integrations

    def call(request: Req, action: str, *roles: str) -> AdminCall:
        return AdminCall(runtime, request, action, *roles)

    @get(f"{ADMIN_PREFIX}/apps")
    async def list_apps(request: Req) -> Response[bytes]:
        async with call(request, "agent_app.list", READER) as c:
            items = []
            for app in await runtime.store.apps.list():
                keys = await runtime.store.keys.list_for_app(app.id)
                items.append({**app_view(app), "keys": [key_view(k) for k in keys]})
            return c.ok({"items": items})

    @post(f"{ADMIN_PREFIX}/apps", status_code=200)
    async def create_app(request: Req) -> Response[bytes]:
        async with call(request, "agent_app.create") as c:
            body = await decode_body(request, CreateAppBody, runtime.plan.config.gateway.max_json_depth)
            app, key, token = await service.create_app(
                NewApp(
                    name=body.name,
                    scope=body.scope,
                    scopes=body.scopes,
                    description=body.description,
                    org_id=body.org_id,
                    user_id=body.user_id,
                    service_user_id=body.service_user_id,
                    policy=body.policy,
                    created_by=c.name,
                )
            )
            c.app_id, c.key_id = app.id, key.id
            return c.ok({"app": app_view(app), "key": key_view(key), "token": token})

    @get(f"{ADMIN_PREFIX}/apps/{{app_id:str}}")
    async def get_app(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_app.read", READER) as c:
            c.app_id = app_id
            return c.ok({"app": app_view(await service.get_app(app_id))})

    @get(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/keys")
    async def list_keys(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_key.list", READER) as c:
            c.app_id = app_id
            await service.get_app(app_id)
            keys = await runtime.store.keys.list_for_app(app_id)
            return c.ok({"items": [key_view(k) for k in keys]})

    @post(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/keys", status_code=200)
    async def add_key(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_key.create") as c:
            c.app_id = app_id
            body = await decode_body(request, CreateKeyBody, runtime.plan.config.gateway.max_json_depth)
            if body.expires_at and body.expires_at_camel:
                raise ValidationFailed(
                    [
                        {
                            "code": "invalid",
                            "path": "expiresAt",
                            "message": "Send expires_at or expiresAt, not both.",
                        }
                    ]
                )
            expires = utc_time(body.expiry, "expires_at") if body.expiry else None
            key, token = await service.add_key(app_id, body.name, expires)
            c.key_id = key.id
            return c.ok({"key": key_view(key), "token": token})

    @post(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/revoke", status_code=200)
    async def revoke_app(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_app.revoke") as c:
            c.app_id = app_id
            app, count = await service.revoke_app(app_id)
            c.details = {"revoked_keys": count}
            return c.ok({"ok": True, "app": app_view(app), "revokedKeys": count})

    @post(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/restore", status_code=200)
    async def restore_app(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_app.restore") as c:
            c.app_id = app_id
            return c.ok({"ok": True, "app": app_view(await service.restore_app(app_id))})

    @delete(f"{ADMIN_PREFIX}/apps/{{app_id:str}}", status_code=200)
    async def delete_app(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_app.delete") as c:
            c.app_id = app_id
            await service.delete_app(app_id)
            return c.ok({"ok": True, "deleted": True, "id": app_id, "app": {"id": app_id, "deleted": True}})

    @post(f"{ADMIN_PREFIX}/keys/{{key_id:str}}/revoke", status_code=200)
    async def revoke_key(request: Req, key_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_key.revoke") as c:
            c.key_id = key_id
            key = await service.revoke_key(key_id)
            c.app_id = key.app_id
            return c.ok({"ok": True, "key": key_view(key)})

    @patch(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/policy", status_code=200)
    async def set_policy(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_app.policy.update") as c:
            c.app_id = app_id
            body = await decode_body(request, PolicyBody, runtime.plan.config.gateway.max_json_depth)
            policy = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
            app = await service.set_policy(app_id, policy)
            return c.ok({"ok": True, "policy": app.policy, "app": app_view(app)})

    @get(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/tools")
    async def app_tools(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_app.tools.read", READER) as c:
            c.app_id = app_id
            app = await service.get_app(app_id)
            info = incoming(request.scope, runtime.clock, runtime.ids)
            tools = runtime.engine.tools_for_app(app, info)
            return c.ok({"app": app_view(app), "tools": tools, "items": action_tool_listing(tools)})

    @get(f"{ADMIN_PREFIX}/audit")
    async def list_audit(request: Req) -> Response[bytes]:
        async with call(request, "agent_admin.audit.read", READER) as c:
            query = audit_query(request.query_params)
            await runtime.audit.flush()
            events = await runtime.store.audit.list(query)
            next_cursor = events[-1].id if len(events) == query.limit else None
            return c.ok(
                {
                    "items": [event_view(e) for e in events],
                    "nextCursor": next_cursor,
                    "generatedAt": iso(runtime.clock.now()),
                }
            )

    return [
        list_apps,
        create_app,
        get_app,
        list_keys,
        add_key,
        revoke_app,
        restore_app,
        delete_app,
        revoke_key,
        set_policy,
        app_tools,
        list_audit,
    ]
