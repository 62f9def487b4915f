"""The OpenTelemetry implementation of :mod:`opp.observability.tracing` (the ``otel`` extra).

Spans go to the process's tracer provider: one the operator configured (for instance with
``opentelemetry-instrument``), or else an SDK provider installed here with the configured exporter:
``otlp`` (needs ``opentelemetry-exporter-otlp-proto-http``; reads the standard
``OTEL_EXPORTER_OTLP_*`` variables) or ``console`` (prints spans, for debugging).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from opp.config.schema import TracingConfig

__all__ = ["OtelRequestTracer", "request_tracer"]


class OtelRequestSpan:
    def __init__(self, span: trace.Span, token: object, method: str) -> None:
        self._span = span
        self._token = token
        self._method = method

    def finish(self, *, route: str, tool: str, code: str, status: int, request_id: str | None) -> None:
        span = self._span
        span.update_name(f"{self._method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("opp.code", code)
        if tool:
            span.set_attribute("opp.tool", tool)
        if request_id:
            span.set_attribute("opp.request_id", request_id)
        if status >= 500:
            span.set_status(StatusCode.ERROR)
        span.end()
        context.detach(self._token)  # type: ignore[arg-type]


class OtelRequestTracer:
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start(self, scope: Mapping[str, Any]) -> OtelRequestSpan:
        carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        parent = propagate.extract(carrier)
        method = str(scope.get("method", "GET"))
        span = self._tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": str(scope.get("path", ""))},
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        return OtelRequestSpan(span, token, method)


def _exporter(config: TracingConfig) -> SpanExporter:
    if config.exporter == "console":
        return ConsoleSpanExporter()
    otlp = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    exporter: SpanExporter = otlp.OTLPSpanExporter()
    return exporter


def _process_provider(config: TracingConfig) -> trace.TracerProvider:
    """The process's provider; an SDK one with the configured exporter if nobody installed one."""
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}))
    provider.add_span_processor(BatchSpanProcessor(_exporter(config)))
    trace.set_tracer_provider(provider)
    return provider


def request_tracer(config: TracingConfig, provider: trace.TracerProvider | None = None) -> OtelRequestTracer:
    """A tracer for request spans from ``provider`` (default: the process's)."""
    source = provider if provider is not None else _process_provider(config)
    return OtelRequestTracer(source.get_tracer("opp"))
