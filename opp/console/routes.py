"""The console's pages: queue, draft, apps and keys, audit, webhook deliveries (server-rendered).

Each handler is a thin binding over the admin plane's services — :class:`ApprovalService`,
:class:`IntegrationService`, the audit store — through :class:`~opp.console.guard.Guard`, so the
roles, refusals and audit events are exactly the admin JSON API's (the same action names). GET
never changes state; every form is a POST with the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from litestar import Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from opp.audit.export import export_lines
from opp.clock import iso
from opp.console.audit_chain import stored_events, verify_stored
from opp.console.draft_view import explain_draft, witness_diff
from opp.console.guard import Ctx, Guard, Req
from opp.console.web import SECURITY_HEADERS, redirect
from opp.errors import ValidationFailed
from opp.explain import Explainer
from opp.http.admin_drafts import draft_query, update_auto_execute
from opp.http.admin_views import app_view, audit_query, event_view, key_view
from opp.http.runtime import Runtime
from opp.integrations.service import NewApp
from opp.parsing import ascii_int

__all__ = ["page_handlers"]

APPROVER, AUDITOR = "approver", "auditor"
_QUEUE_FILTERS = ("appId", "tool", "risk", "status")
_AUDIT_FILTERS = ("appId", "tool", "code", "status", "action", "since", "until")


def _invalid(path: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"code": "invalid", "path": path, "message": message}])


def _filters(request: Req, names: tuple[str, ...]) -> dict[str, str]:
    return {n: v for n in names if (v := request.query_params.get(n))}


def _json_field(form: dict[str, str], name: str) -> Any:
    text = form.get(name, "").strip() or "{}"
    try:
        return json.loads(text)
    except ValueError as error:
        raise _invalid(name, f"Not valid JSON: {error}.") from None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def page_handlers(runtime: Runtime, guard: Guard) -> list[HTTPRouteHandler]:
    approvals = runtime.approvals
    service = runtime.integrations
    explainer = Explainer(runtime.plan, runtime.store, runtime.clock, runtime.ids)
    tools = [t.name for t in runtime.plan.tools if t.kind == "action"]

    async def queue_context(ctx: Ctx, request: Req) -> dict[str, Any]:
        filters = _filters(request, _QUEUE_FILTERS)
        params = {"status": "draft", **filters}
        items = await approvals.list(draft_query(params), ctx.call.info)
        apps = {a.id: a.name for a in await runtime.store.apps.list()}
        return {
            "items": items,
            "filters": filters,
            "status_filter": params["status"],
            "apps": apps,
            "tools": tools,
            "now": runtime.clock.now(),
            "refresh_ms": int(guard.settings.queue_refresh_s * 1000),
        }

    @get("/console/queue")
    async def queue(request: Req) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            return ctx.page("queue.html", **await queue_context(ctx, request))

        return await guard.run(request, "agent_admin.drafts.read", (APPROVER, AUDITOR), work)

    @get("/console/queue/rows")
    async def queue_rows(request: Req) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            return ctx.page("queue_rows.html", **await queue_context(ctx, request))

        return await guard.run(request, "agent_admin.drafts.read", (APPROVER, AUDITOR), work)

    async def draft_page(ctx: Ctx, draft_id: str, outcome: dict[str, Any] | None = None) -> Response[bytes]:
        data = await approvals.get(draft_id, ctx.call.info)
        record = await runtime.store.writes.get_draft(draft_id)
        assert record is not None
        ctx.call.app_id = record.app_id
        applies, now_witness = data["witnessMatchesNow"] is not None, data["witnessNow"]
        app = await runtime.store.apps.get(record.app_id)
        deliveries = await runtime.store.console.list_deliveries(20, draft_id)
        return ctx.page(
            "draft.html",
            d=data["draft"],
            record=record,
            app=app,
            approvals=data["approvals"],
            execution=data["execution"],
            witness=witness_diff(record, applies, now_witness),
            witness_now=now_witness,
            explanation=await explain_draft(explainer, record),
            step_up=runtime.plan.oauth.step_up.enabled and record.risk == "high",
            outcome=outcome,
            deliveries=deliveries,
            now=runtime.clock.now(),
            pretty=lambda value: json.dumps(value, indent=2, sort_keys=True, default=str),
        )

    @get("/console/drafts/{draft_id:str}")
    async def draft(request: Req, draft_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            return await draft_page(ctx, draft_id)

        return await guard.run(request, "agent_admin.draft.read", (APPROVER, AUDITOR), work)

    @post("/console/drafts/{draft_id:str}/approve", status_code=200)
    async def approve(request: Req, draft_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            info = ctx.call.info
            scope = runtime.authorizer.scope("agent.draft.approve", info, None)
            assert ctx.call.identity is not None
            note = ctx.form.get("note") or None
            result = await approvals.approve(draft_id, ctx.call.identity, note, info, scope)
            return await draft_page(ctx, draft_id, {"kind": "approved", **result})

        return await guard.run(request, "agent_admin.draft.approve", (APPROVER,), work, post=True)

    @post("/console/drafts/{draft_id:str}/reject", status_code=200)
    async def reject(request: Req, draft_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            assert ctx.call.identity is not None
            note = ctx.form.get("note") or None
            result = await approvals.reject(draft_id, ctx.call.identity, note, ctx.call.info)
            return await draft_page(ctx, draft_id, {"kind": "rejected", **result})

        return await guard.run(request, "agent_admin.draft.reject", (APPROVER,), work, post=True)

    # -- apps and keys ------------------------------------------------------------------------

    @get("/console/apps")
    async def apps(request: Req) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            items = [app_view(a) for a in await runtime.store.apps.list()]
            return ctx.page("apps.html", apps=items, scopes=sorted(runtime.plan.scopes))

        return await guard.run(request, "agent_app.list", (AUDITOR,), work)

    async def app_page(ctx: Ctx, app_id: str, token: str | None = None, **extra: Any) -> Response[bytes]:
        ctx.call.app_id = app_id
        app = await service.get_app(app_id)
        keys = [key_view(k) for k in await runtime.store.keys.list_for_app(app_id)]
        return ctx.page(
            "app.html",
            app=app_view(app),
            keys=keys,
            token=token,
            tools=tools,
            now=runtime.clock.now(),
            max_window_s=runtime.plan.writes.auto_execute_max_s,
            pretty=lambda value: json.dumps(value, indent=2, sort_keys=True),
            **extra,
        )

    @get("/console/apps/{app_id:str}")
    async def app(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            return await app_page(ctx, app_id)

        return await guard.run(request, "agent_app.read", (AUDITOR,), work)

    @post("/console/apps", status_code=200)
    async def create_app(request: Req) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            form = ctx.form
            scope = form.get("scope", "workspace")
            if scope not in ("workspace", "personal"):
                raise _invalid("scope", "Choose workspace or personal.")
            if not form.get("name", "").strip():
                raise _invalid("name", "An app needs a name.")
            created, key, token = await service.create_app(
                NewApp(
                    name=form["name"].strip(),
                    scope=scope,
                    scopes=_lines(form.get("scopes", "")),
                    description=form.get("description", ""),
                    org_id=form.get("org_id") or None,
                    user_id=form.get("user_id") or None,
                    created_by=ctx.call.name,
                )
            )
            ctx.call.app_id, ctx.call.key_id = created.id, key.id
            return await app_page(ctx, created.id, token)

        return await guard.run(request, "agent_app.create", (), work, post=True)

    @post("/console/apps/{app_id:str}/keys", status_code=200)
    async def add_key(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            ctx.call.app_id = app_id
            key, token = await service.add_key(app_id, ctx.form.get("name", "").strip() or "Key")
            ctx.call.key_id = key.id
            return await app_page(ctx, app_id, token)

        return await guard.run(request, "agent_key.create", (), work, post=True)

    @post("/console/keys/{key_id:str}/revoke", status_code=200)
    async def revoke_key(request: Req, key_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            ctx.call.key_id = key_id
            key = await service.revoke_key(key_id)
            ctx.call.app_id = key.app_id
            return redirect(f"/console/apps/{key.app_id}")

        return await guard.run(request, "agent_key.revoke", (), work, post=True)

    @post("/console/apps/{app_id:str}/revoke", status_code=200)
    async def revoke_app(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            ctx.call.app_id = app_id
            _, count = await service.revoke_app(app_id)
            ctx.call.details = {"revoked_keys": count}
            return redirect(f"/console/apps/{app_id}")

        return await guard.run(request, "agent_app.revoke", (), work, post=True)

    @post("/console/apps/{app_id:str}/restore", status_code=200)
    async def restore_app(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            ctx.call.app_id = app_id
            await service.restore_app(app_id)
            return redirect(f"/console/apps/{app_id}")

        return await guard.run(request, "agent_app.restore", (), work, post=True)

    @post("/console/apps/{app_id:str}/policy", status_code=200)
    async def set_policy(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            ctx.call.app_id = app_id
            data = _json_field(ctx.form, "data")
            policy = {"network": {"allowed_ips": _lines(ctx.form.get("allowed_ips", ""))}, "data": data}
            await service.set_policy(app_id, policy)
            return redirect(f"/console/apps/{app_id}")

        return await guard.run(request, "agent_app.policy.update", (), work, post=True)

    @post("/console/apps/{app_id:str}/auto-execute", status_code=200)
    async def auto_execute(request: Req, app_id: FromPath[str]) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            ctx.call.app_id = app_id
            window = ctx.form.get("window", "")
            if window not in ("writes", "high_risk"):
                raise _invalid("window", "Choose writes or high_risk.")
            if ctx.form.get("open") == "1":
                minutes = ascii_int(ctx.form.get("minutes", ""))
                if minutes is None or minutes < 1:
                    raise _invalid(
                        "minutes", "How many minutes the window stays open (a whole number, 1 or more)."
                    )
                expires = runtime.clock.now() + dt.timedelta(minutes=minutes)
                allowed = _lines(ctx.form.get("allowed_actions", "")) or None
                patch = {window: {"enabled": True, "expires_at": iso(expires), "allowed_actions": allowed}}
            else:
                patch = {window: {"enabled": False}}
            await update_auto_execute(runtime, ctx.call, app_id, patch)
            return redirect(f"/console/apps/{app_id}")

        return await guard.run(request, "agent_app.auto_execute.update", (), work, post=True)

    # -- audit --------------------------------------------------------------------------------

    @get("/console/audit")
    async def audit(request: Req) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            filters = _filters(request, (*_AUDIT_FILTERS, "cursor"))
            query = audit_query(filters)
            await runtime.audit.flush()
            events = [event_view(e) for e in await runtime.store.audit.list(query)]
            next_cursor = events[-1]["id"] if len(events) == query.limit else None
            return ctx.page(
                "audit.html",
                events=events,
                filters={k: v for k, v in filters.items() if k != "cursor"},
                next_cursor=next_cursor,
                pretty=lambda value: json.dumps(value, indent=2, sort_keys=True),
            )

        return await guard.run(request, "agent_admin.audit.read", (AUDITOR,), work)

    @get("/console/audit/verify")
    async def verify(request: Req) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            await runtime.audit.flush()
            report = await verify_stored(runtime.store.audit)
            ctx.call.details = {"ok": report.ok if report else None}
            return ctx.page("verify.html", report=report)

        return await guard.run(request, "agent_admin.audit.verify", (AUDITOR,), work)

    @get("/console/audit/export")
    async def export(request: Req) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            output = request.query_params.get("format", "jsonl")
            if output not in ("jsonl", "ocsf"):
                raise _invalid("format", "Choose jsonl or ocsf.")
            query = audit_query(_filters(request, ("since", "until")))
            await runtime.audit.flush()
            stored = await stored_events(runtime.store.audit)
            lines = export_lines(stored, output, query.since, query.until)  # type: ignore[arg-type]
            body = "".join(f"{line}\n" for line in lines).encode()
            ctx.call.details = {"format": output}
            name = f"opp-audit-{iso(runtime.clock.now())[:19].replace(':', '')}.{output}.jsonl"
            return Response(
                content=body,
                media_type="application/x-ndjson",
                headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
            )

        return await guard.run(request, "agent_admin.audit.export", (AUDITOR,), work)

    @get("/console/webhooks")
    async def webhooks(request: Req) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            deliveries = await runtime.store.console.list_deliveries(100)
            hooks = [h.config for h in guard.settings.webhooks]
            return ctx.page("webhooks.html", deliveries=deliveries, hooks=hooks)

        return await guard.run(request, "agent_admin.webhooks.read", (AUDITOR,), work)

    return [
        queue,
        queue_rows,
        draft,
        approve,
        reject,
        apps,
        app,
        create_app,
        add_key,
        revoke_key,
        revoke_app,
        restore_app,
        set_policy,
        auto_execute,
        audit,
        verify,
        export,
        webhooks,
    ]
