"""Admin plane (prefix ``/api/agent-admin/v1``, SPEC §10): apps, keys, policy, tools, audit.

Every route authenticates first (401/403 envelopes), every change is audited as
``agent_app.*`` / ``agent_key.*`` and committed before the response is sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.handlers import HTTPRouteHandler

from opp.admin.auth import AdminIdentity
from opp.clock import iso
from opp.http.admin_bodies import CreateAppBody, CreateKeyBody, PolicyBody
from opp.http.admin_views import app_view, audit_query, event_view, key_view
from opp.http.bodies import decode_body
from opp.http.envelope import success_response
from opp.http.incoming import incoming
from opp.http.runtime import Runtime
from opp.integrations.service import NewApp
from opp.store.records import AuditEvent

__all__ = ["ADMIN_PREFIX", "admin_handlers"]

ADMIN_PREFIX = "/api/agent-admin/v1"
Req = Request[Any, Any, Any]


def admin_handlers(runtime: Runtime) -> list[HTTPRouteHandler]:
    service = runtime.integrations

    async def who(request: Req, *roles: str) -> AdminIdentity:
        info = incoming(request.scope, runtime.clock, runtime.ids)
        identity = await runtime.admin_auth.authenticate(info.authorization)
        identity.require(*roles)
        return identity

    async def audited(
        request: Req,
        identity: AdminIdentity,
        action: str,
        app_id: str | None,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        runtime.audit.emit(
            AuditEvent(
                id=runtime.ids.new("aud"),
                action=action,
                status="success",
                code="common.success",
                created_at=runtime.clock.now(),
                app_id=app_id,
                key_id=key_id,
                performed_by_user_id=identity.name,
                request_id=request.scope["state"]["request_id"],
                ip=(request.scope.get("client") or ("",))[0],
                user_agent=request.headers.get("user-agent"),
                details=details or {},
            )
        )
        await runtime.audit.flush()

    def ok(request: Req, data: Any) -> Response[bytes]:
        return success_response(data, {"X-Request-Id": request.scope["state"]["request_id"]})

    @get(f"{ADMIN_PREFIX}/apps")
    async def list_apps(request: Req) -> Response[bytes]:
        await who(request, "auditor")
        return ok(request, {"items": [app_view(a) for a in await runtime.store.apps.list()]})

    @post(f"{ADMIN_PREFIX}/apps", status_code=200)
    async def create_app(request: Req) -> Response[bytes]:
        identity = await who(request)
        body = await decode_body(request, CreateAppBody)
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
                created_by=identity.name,
            )
        )
        await audited(request, identity, "agent_app.create", app.id, key.id)
        return ok(request, {"app": app_view(app), "key": key_view(key), "token": token})

    @get(f"{ADMIN_PREFIX}/apps/{{app_id:str}}")
    async def get_app(request: Req, app_id: str) -> Response[bytes]:
        await who(request, "auditor")
        return ok(request, {"app": app_view(await service.get_app(app_id))})

    @get(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/keys")
    async def list_keys(request: Req, app_id: str) -> Response[bytes]:
        await who(request, "auditor")
        await service.get_app(app_id)
        return ok(request, {"items": [key_view(k) for k in await runtime.store.keys.list_for_app(app_id)]})

    @post(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/keys", status_code=200)
    async def add_key(request: Req, app_id: str) -> Response[bytes]:
        identity = await who(request)
        body = await decode_body(request, CreateKeyBody)
        expires = body.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        key, token = await service.add_key(app_id, body.name, expires)
        await audited(request, identity, "agent_key.create", app_id, key.id)
        return ok(request, {"key": key_view(key), "token": token})

    @post(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/revoke", status_code=200)
    async def revoke_app(request: Req, app_id: str) -> Response[bytes]:
        identity = await who(request)
        app, count = await service.revoke_app(app_id)
        await audited(request, identity, "agent_app.revoke", app_id, details={"revoked_keys": count})
        return ok(request, {"app": app_view(app), "revokedKeys": count})

    @post(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/restore", status_code=200)
    async def restore_app(request: Req, app_id: str) -> Response[bytes]:
        identity = await who(request)
        app = await service.restore_app(app_id)
        await audited(request, identity, "agent_app.restore", app_id)
        return ok(request, {"app": app_view(app)})

    @delete(f"{ADMIN_PREFIX}/apps/{{app_id:str}}", status_code=200)
    async def delete_app(request: Req, app_id: str) -> Response[bytes]:
        identity = await who(request)
        await service.delete_app(app_id)
        await audited(request, identity, "agent_app.delete", app_id)
        return ok(request, {"deleted": True, "id": app_id})

    @post(f"{ADMIN_PREFIX}/keys/{{key_id:str}}/revoke", status_code=200)
    async def revoke_key(request: Req, key_id: str) -> Response[bytes]:
        identity = await who(request)
        key = await service.revoke_key(key_id)
        await audited(request, identity, "agent_key.revoke", key.app_id, key.id)
        return ok(request, {"key": key_view(key)})

    @patch(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/policy", status_code=200)
    async def set_policy(request: Req, app_id: str) -> Response[bytes]:
        identity = await who(request)
        body = await decode_body(request, PolicyBody)
        policy = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
        app = await service.set_policy(app_id, policy)
        await audited(request, identity, "agent_app.policy.update", app_id)
        return ok(request, {"app": app_view(app)})

    @get(f"{ADMIN_PREFIX}/apps/{{app_id:str}}/tools")
    async def app_tools(request: Req, app_id: str) -> Response[bytes]:
        await who(request, "auditor")
        app = await service.get_app(app_id)
        info = incoming(request.scope, runtime.clock, runtime.ids)
        return ok(request, {"app": app_view(app), "tools": runtime.engine.tools_for_app(app, info)})

    @get(f"{ADMIN_PREFIX}/audit")
    async def list_audit(request: Req) -> Response[bytes]:
        await who(request, "auditor")
        await runtime.audit.flush()
        query = audit_query(request.query_params)
        events = await runtime.store.audit.list(query)
        next_cursor = events[-1].id if len(events) == query.limit else None
        return ok(
            request,
            {
                "items": [event_view(e) for e in events],
                "nextCursor": next_cursor,
                "generatedAt": iso(runtime.clock.now()),
            },
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
