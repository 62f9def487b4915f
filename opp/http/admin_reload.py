"""``POST /api/agent-admin/v1/reload`` (admin role): recompile ``gateway.yaml`` and swap the Plan.

Answers 200 with the new generation, or ``400 common.validation`` with ``details.diagnostics``
(``[{file, line, col, code, message, hint}]``) while the running Plan keeps serving. Audited as
``agent_admin.reload`` either way. The request reloads the worker that received it, which then
asks ``opp serve`` to forward ``SIGHUP`` to every worker so they all serve the new Plan.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.http.admin import ADMIN_PREFIX
from opp.http.admin_call import AdminCall
from opp.http.reload import RELOAD_ACTION
from opp.http.runtime import Runtime

__all__ = ["admin_reload_handlers"]


def admin_reload_handlers(runtime: Runtime) -> list[HTTPRouteHandler]:
    @post(f"{ADMIN_PREFIX}/reload", status_code=200)
    async def reload_plan(request: Request[Any, Any, Any]) -> Response[bytes]:
        async with AdminCall(runtime, request, RELOAD_ACTION) as call:
            reloader = runtime.reloader
            if reloader is None:
                raise OppError(ReasonCode.UNAVAILABLE, "Live reload is not available in this process.")
            outcome = await reloader.reload("admin")
            call.details = outcome.details()
            if outcome.status == "refused":
                raise OppError(
                    ReasonCode.VALIDATION,
                    "The configuration does not compile; the running plan is unchanged.",
                    {"diagnostics": msgspec.to_builtins(outcome.diagnostics)},
                )
            if outcome.status == "failed":
                raise OppError(ReasonCode.INTERNAL_ERROR, "Reload failed; the running plan is unchanged.")
            signalled = reloader.signal_siblings()
            call.details["workers_signalled"] = signalled
            return call.ok(
                {
                    "status": "reloaded",
                    "generation": outcome.generation,
                    "tools": outcome.tools,
                    "source": outcome.source,
                    "sha256": outcome.sha256,
                    "allWorkers": signalled,
                }
            )

    return [reload_plan]
