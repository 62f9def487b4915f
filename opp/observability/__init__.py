"""Operations telemetry: structured logs, Prometheus metrics and optional OpenTelemetry tracing.

* :mod:`opp.observability.context` — the request id of the task being served (a ``ContextVar``).
* :mod:`opp.observability.logging` — JSON (or text) log records that carry that request id.
* :mod:`opp.observability.metrics` — cheap in-process accumulators flushed to prometheus-client.
* :mod:`opp.observability.tracing` — one server span per request when the ``otel`` extra is
  installed and ``observability.tracing.enabled`` is set; a no-op otherwise.
"""
