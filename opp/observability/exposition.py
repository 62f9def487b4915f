"""The prometheus-client side: metric families, :func:`flush` and the ``/metrics`` text.

Metric families (all prefixed ``opp_``)::

    opp_requests_total{route,tool,code,status}          counter
    opp_request_duration_seconds{route,tool}            histogram
    opp_policy_evaluation_seconds{tool}                 histogram
    opp_backend_duration_seconds{operation,outcome}     histogram
    opp_rate_limited_total{limit,tool}                  counter
    opp_reloads_total{outcome}                          counter

Scrape-time families (such as ``opp_drafts_pending``) are passed to :func:`render` by the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from opp.observability.metrics import (
    BACKEND_BUCKETS,
    LATENCY_BUCKETS,
    POLICY_BUCKETS,
    RECORDER,
    MetricsRecorder,
    Observations,
    multiprocess_dir,
)

__all__ = ["CONTENT_TYPE", "FLUSH_INTERVAL_S", "flush", "periodic_flush", "render"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
FLUSH_INTERVAL_S = 1.0
_log = logging.getLogger("opp.observability")


class _Families:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "opp_requests",
            "HTTP requests by route template, tool, reason code and HTTP status.",
            ["route", "tool", "code", "status"],
            registry=registry,
        )
        self.durations = Histogram(
            "opp_request_duration_seconds",
            "Time from the request reaching the gateway to the last byte of its response.",
            ["route", "tool"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.policy = Histogram(
            "opp_policy_evaluation_seconds",
            "Time to build the CEL activation and evaluate a tool's rules.",
            ["tool"],
            buckets=POLICY_BUCKETS,
            registry=registry,
        )
        self.backend = Histogram(
            "opp_backend_duration_seconds",
            "Backend calls (tools and resource lookups) by operation and outcome (ok, error, timeout).",
            ["operation", "outcome"],
            buckets=BACKEND_BUCKETS,
            registry=registry,
        )
        self.rate_limited = Counter(
            "opp_rate_limited",
            "Requests rejected by a rate limit, by limit and tool.",
            ["limit", "tool"],
            registry=registry,
        )
        self.reloads = Counter(
            "opp_reloads",
            "Plan reloads by outcome (success, refused, failed, unchanged).",
            ["outcome"],
            registry=registry,
        )


class _State:
    registry: CollectorRegistry | None = None
    families: _Families | None = None


def _families() -> tuple[CollectorRegistry, _Families]:
    """Create the metric objects once per process, in the mode the environment asks for now."""
    if _State.registry is None or _State.families is None:
        # Honour a PROMETHEUS_MULTIPROC_DIR set after prometheus-client was imported.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        _State.registry = CollectorRegistry()
        _State.families = _Families(_State.registry)
    return _State.registry, _State.families


def _add(child: Histogram, seen: Observations) -> None:
    # prometheus-client has no public "observe n times" call; buckets are stored non-cumulative.
    child._sum.inc(seen.total)
    for index, count in enumerate(seen.counts):
        if count:
            child._buckets[index].inc(count)


def flush(recorder: MetricsRecorder = RECORDER) -> None:
    """Move what ``recorder`` accumulated into the prometheus-client metrics."""
    recorded = recorder.drain()
    _, families = _families()
    for (route, tool, code, status), count in recorded.requests.items():
        families.requests.labels(route, tool, code, str(status)).inc(count)
    for key, seen in recorded.durations.items():
        _add(families.durations.labels(*key), seen)
    for tool, seen in recorded.policy.items():
        _add(families.policy.labels(tool), seen)
    for key, seen in recorded.backend.items():
        _add(families.backend.labels(*key), seen)
    for key, count in recorded.rate_limited.items():
        families.rate_limited.labels(*key).inc(count)
    for outcome, count in recorded.reloads.items():
        families.reloads.labels(outcome).inc(count)


async def periodic_flush(interval_s: float = FLUSH_INTERVAL_S) -> None:
    """Flush every ``interval_s`` until cancelled (so other workers' scrapes see this one)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            flush()
        except Exception:
            _log.exception("metrics flush failed")


class _Combined(Collector):
    def __init__(self, sources: Iterable[Collector], extra: Iterable[Metric]) -> None:
        self._sources = list(sources)
        self._extra = list(extra)

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            yield from source.collect()
        yield from self._extra


def render(extra: Iterable[Metric] = ()) -> bytes:
    """The Prometheus text exposition: every worker's metrics (multiprocess mode) plus ``extra``."""
    flush()
    registry, _ = _families()
    directory = multiprocess_dir()
    source: Collector = (
        MultiProcessCollector(None, directory) if directory else registry  # type: ignore[no-untyped-call]
    )
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Combined([source], extra))
    return generate_latest(scrape)
