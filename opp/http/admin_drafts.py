"""Admin routes of the write lifecycle: drafts (list, get, approve, reject) and auto-execute windows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from opp.bounds import LongText
from opp.http.admin_call import AdminCall
from opp.http.admin_views import DEFAULT_LIMIT, MAX_LIMIT, app_view
from opp.http.bodies import decode_body
from opp.http.incoming import incoming
from opp.http.runtime import Runtime
from opp.parsing import parse_limit
from opp.store.records import AppRecord
from opp.store.write_records import DraftQuery
from opp.writes.windows import normalise_windows

__all__ = ["admin_draft_handlers", "draft_query", "update_auto_execute"]

PREFIX = "/api/agent-admin/v1"
Req = Request[Any, Any, Any]


class NoteBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    note: LongText | None = None


class WindowsBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    writes: dict[str, Any] | None = None
    high_risk: dict[str, Any] | None = None


def draft_query(params: Any) -> DraftQuery:
    """Filters of ``GET /drafts``: appId, status, tool, risk, cursor, limit."""
    return DraftQuery(
        app_id=params.get("appId"),
        status=params.get("status"),
        action=params.get("tool"),
        risk=params.get("risk"),
        cursor=params.get("cursor"),
        limit=parse_limit(params.get("limit"), "limit", DEFAULT_LIMIT, MAX_LIMIT),
    )


async def update_auto_execute(
    runtime: Runtime, call: AdminCall, app_id: str, patch_body: dict[str, Any]
) -> AppRecord:
    """Apply an auto-execute patch (``{writes?, high_risk?}``), committing ``call``'s event with it."""
    app = await runtime.integrations.get_app(app_id)
    now = runtime.clock.now()
    cap = dt.timedelta(seconds=runtime.plan.writes.auto_execute_max_s)
    windows = normalise_windows(app.auto_execute, patch_body, now, cap)
    call.details = {"auto_execute": windows}
    await runtime.store.apps.set_auto_execute(app_id, windows, now, [call.event()])
    call.recorded = True
    return await runtime.integrations.get_app(app_id)


def admin_draft_handlers(runtime: Runtime) -> list[HTTPRouteHandler]:
    approvals = runtime.approvals

    def call(request: Req, action: str, *roles: str) -> AdminCall:
        return AdminCall(runtime, request, action, *roles)

    @get(f"{PREFIX}/drafts")
    async def list_drafts(request: Req) -> Response[bytes]:
        async with call(request, "agent_admin.drafts.read", "approver", "auditor") as c:
            query = draft_query(request.query_params)
            items = await approvals.list(query, incoming(request.scope, runtime.clock, runtime.ids))
            next_cursor = items[-1]["id"] if len(items) == query.limit else None
            return c.ok({"items": items, "nextCursor": next_cursor})

    @get(f"{PREFIX}/drafts/{{draft_id:str}}")
    async def get_draft(request: Req, draft_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_admin.draft.read", "approver", "auditor") as c:
            return c.ok(await approvals.get(draft_id, incoming(request.scope, runtime.clock, runtime.ids)))

    @post(f"{PREFIX}/drafts/{{draft_id:str}}/approve", status_code=200)
    async def approve(request: Req, draft_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_admin.draft.approve", "approver") as c:
            body = await decode_body(request, NoteBody, runtime.plan.config.gateway.max_json_depth)
            info = incoming(request.scope, runtime.clock, runtime.ids)
            scope = runtime.authorizer.scope("agent.draft.approve", info, None)
            assert c.identity is not None
            return c.ok(await approvals.approve(draft_id, c.identity, body.note, info, scope))

    @post(f"{PREFIX}/drafts/{{draft_id:str}}/reject", status_code=200)
    async def reject(request: Req, draft_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_admin.draft.reject", "approver") as c:
            body = await decode_body(request, NoteBody, runtime.plan.config.gateway.max_json_depth)
            assert c.identity is not None
            info = incoming(request.scope, runtime.clock, runtime.ids)
            return c.ok(await approvals.reject(draft_id, c.identity, body.note, info))

    @patch(f"{PREFIX}/apps/{{app_id:str}}/auto-execute", status_code=200)
    async def auto_execute(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async with call(request, "agent_app.auto_execute.update") as c:
            c.app_id = app_id
            body = await decode_body(request, WindowsBody, runtime.plan.config.gateway.max_json_depth)
            patch_body = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
            app = await update_auto_execute(runtime, c, app_id, patch_body)
            return c.ok({"ok": True, "auto_execute": app.auto_execute, "app": app_view(app)})

    return [list_drafts, get_draft, approve, reject, auto_execute]
