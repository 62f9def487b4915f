"""Tracing is a no-op unless enabled and installed; enabled, each request becomes one span."""

from __future__ import annotations

import sys

import pytest

from opp.config.schema import TracingConfig
from opp.observability.tracing import build_tracer

SCOPE = {
    "type": "http",
    "method": "GET",
    "path": "/api/agent/v1/ledgers",
    "headers": [(b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")],
}


def test_disabled_tracing_builds_nothing() -> None:
    assert build_tracer(TracingConfig()) is None


def test_enabled_tracing_without_opentelemetry_is_a_no_op_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "opp.observability.otel", raising=False)

    assert build_tracer(TracingConfig(enabled=True)) is None
    assert "pip install 'opp[otel]'" in caplog.text


def test_enabled_tracing_records_one_server_span_per_request() -> None:
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = build_tracer(TracingConfig(enabled=True), provider)
    assert tracer is not None

    tracer.start(SCOPE).finish(
        route="/api/agent/v1/ledgers", tool="ledger.list", code="common.success", status=200, request_id="r1"
    )
    tracer.start({**SCOPE, "headers": []}).finish(
        route="unmatched", tool="", code="common.internal_error", status=500, request_id=None
    )

    first, second = exporter.get_finished_spans()
    assert first.name == "GET /api/agent/v1/ledgers" and first.kind is SpanKind.SERVER
    assert dict(first.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/api/agent/v1/ledgers",
        "http.route": "/api/agent/v1/ledgers",
        "http.response.status_code": 200,
        "opp.code": "common.success",
        "opp.tool": "ledger.list",
        "opp.request_id": "r1",
    }
    assert first.context is not None and first.parent is not None
    assert format(first.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert first.parent.span_id == 0xB7AD6B7169203331
    assert second.parent is None and second.status.status_code is StatusCode.ERROR
