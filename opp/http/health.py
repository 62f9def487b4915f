"""``/healthz`` (process is up) and ``/readyz`` (the store answers; fail closed with 503)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.http.envelope import success_response
from opp.http.runtime import Runtime

__all__ = ["health_handlers"]

_log = logging.getLogger("opp.http")


def health_handlers(runtime: Runtime) -> list[HTTPRouteHandler]:
    @get("/healthz", include_in_schema=False)
    async def healthz() -> Response[bytes]:
        return success_response({"status": "ok"})

    @get("/readyz", include_in_schema=False)
    async def readyz(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            await runtime.store.ping()
        except Exception as exc:
            _log.warning("readiness check failed: %s", type(exc).__name__)
            raise OppError(ReasonCode.UNAVAILABLE, "Store unavailable.") from None
        return success_response({"status": "ready", "tools": len(runtime.plan.tools)})

    return [healthz, readyz]
