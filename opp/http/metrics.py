"""HTTP side of observability: per-request measurement and the ``GET /metrics`` route.

:func:`instrument` wraps a generation's ASGI app once, at build time: each HTTP request is timed,
its status read from ``http.response.start`` and, for errors only, its reason code read from the
envelope; the route template and tool come from what Litestar's router left in the scope. With
metrics off and tracing off the app is returned unwrapped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from time import perf_counter
from typing import Any

import msgspec
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client.core import GaugeMetricFamily

from opp.codes import ReasonCode
from opp.compile.plan import Plan
from opp.http.runtime import Runtime
from opp.observability.exposition import CONTENT_TYPE, render
from opp.observability.metrics import RECORDER
from opp.observability.tracing import build_tracer
from opp.store.protocols import Store
from opp.store.write_records import DraftQuery

__all__ = ["METRICS_PATH", "ASGIApp", "instrument", "metrics_handlers", "pending_drafts"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
"""Any ASGI application, lifespan included (Litestar's own alias covers HTTP and websockets only)."""

METRICS_PATH = "/metrics"
_CODES = frozenset(code.value for code in ReasonCode)
_SUCCESS = ReasonCode.SUCCESS.value
_PAGE = 200
_MAX_PAGES = 50
"""Pending drafts are counted up to 10,000 (a store-side count would lift the cap)."""


class _Envelope(msgspec.Struct):
    code: str = "-"


_envelope = msgspec.json.Decoder(_Envelope)


def _error_code(body: bytes) -> str:
    try:
        code = _envelope.decode(body).code
    except msgspec.DecodeError:
        return "-"
    return code if code in _CODES else "-"


def _tool_of(scope: Scope, tools: frozenset[str]) -> str:
    """The read tool of the matched route, or the action named in a write body (if the plan has it)."""
    handler = scope.get("route_handler")
    tool = handler.opt.get("tool") if handler is not None else None
    if tool is None and "state" in scope:
        tool = scope["state"].get("tool")
    return tool if tool in tools else ""


def instrument(app: ASGIApp, plan: Plan) -> ASGIApp:
    """``app`` recording ``opp_requests_total`` / ``opp_request_duration_seconds`` and spans."""
    settings = plan.config.observability
    tracer = build_tracer(settings.tracing)
    if not settings.metrics and tracer is None:
        return app
    record = RECORDER.request if settings.metrics else None
    tools = frozenset(plan.tools_by_name)

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        span = tracer.start(scope) if tracer is not None else None
        started = perf_counter()
        seen: list[Any] = [500, None]  # status, error code

        async def capture(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                seen[0] = message["status"]
            elif kind == "http.response.body" and seen[0] >= 400 and seen[1] is None:
                seen[1] = _error_code(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            status: int = seen[0]
            code: str = seen[1] or (_SUCCESS if status < 400 else "-")
            route = scope.get("path_template") or "unmatched"
            tool = _tool_of(scope, tools)
            if record is not None:
                record(route, tool, code, status, perf_counter() - started)
            if span is not None:
                request_id = scope.get("state", {}).get("request_id")
                span.finish(route=route, tool=tool, code=code, status=status, request_id=request_id)

    return observed


async def pending_drafts(store: Store) -> GaugeMetricFamily:
    """``opp_drafts_pending{tool}``: drafts in status ``draft``, counted in the store at scrape time."""
    counts: dict[str, int] = {}
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = await store.writes.list_drafts(DraftQuery(status="draft", cursor=cursor, limit=_PAGE))
        for draft in page:
            counts[draft.action] = counts.get(draft.action, 0) + 1
        if len(page) < _PAGE:
            break
        cursor = page[-1].id
    family = GaugeMetricFamily("opp_drafts_pending", "Drafts waiting for approval, by tool.", labels=["tool"])
    for tool, count in sorted(counts.items()):
        family.add_metric([tool], count)
    return family


def _scrape(extra: Iterable[GaugeMetricFamily]) -> Response[bytes]:
    return Response(render(extra), status_code=200, media_type=CONTENT_TYPE)


def metrics_handlers(runtime: Runtime) -> list[HTTPRouteHandler]:
    """``GET /metrics`` when ``observability.metrics`` is on (Prometheus text format)."""
    if not runtime.plan.config.observability.metrics:
        return []

    @get(METRICS_PATH, include_in_schema=False)
    async def metrics() -> Response[bytes]:
        return _scrape([await pending_drafts(runtime.store)])

    return [metrics]
