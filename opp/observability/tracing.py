"""Optional OpenTelemetry tracing: one SERVER span per HTTP request.

Active only when ``observability.tracing.enabled`` is true *and* the ``otel`` extra
(``pip install 'opp[otel]'``: opentelemetry-api and -sdk) is importable; otherwise
:func:`build_tracer` returns None and the request path does nothing at all. The OpenTelemetry
side lives in :mod:`opp.observability.otel`, imported only here, only when enabled.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from opp.config.schema import TracingConfig

__all__ = ["RequestSpan", "RequestTracer", "build_tracer"]

_log = logging.getLogger("opp.observability")


class RequestSpan(Protocol):
    def finish(self, *, route: str, tool: str, code: str, status: int, request_id: str | None) -> None:
        """Name the span after its route, record the outcome and end it."""
        ...


class RequestTracer(Protocol):
    def start(self, scope: Mapping[str, Any]) -> RequestSpan:
        """Open the request's span (child of an incoming ``traceparent``) and make it current."""
        ...


def build_tracer(config: TracingConfig, provider: Any = None) -> RequestTracer | None:
    """A request tracer, or None when tracing is off or OpenTelemetry is not installed.

    Args:
        config: ``observability.tracing``.
        provider: A tracer provider to use instead of the process's (tests).
    """
    if not config.enabled:
        return None
    try:
        otel = importlib.import_module("opp.observability.otel")
        tracer: RequestTracer = otel.request_tracer(config, provider)
    except ImportError as missing:
        _log.warning("tracing is enabled but %s is not installed (pip install 'opp[otel]')", missing.name)
        return None
    return tracer
