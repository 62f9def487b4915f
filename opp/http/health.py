"""``/healthz`` (process is up) and ``/readyz`` (the store answers; fail closed with 503)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from opp.http.envelope import success_response
from opp.http.runtime import Runtime
from opp.store.errors import StoreUnavailable

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
            raise StoreUnavailable() from None
        return success_response({"status": "ready", "tools": len(runtime.plan.tools)})

    return [healthz, readyz]
