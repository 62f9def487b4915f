"""Prometheus metrics with a hot path of a few dictionary operations.

Request handlers record into :data:`RECORDER`, a process-local :class:`MetricsRecorder` of plain
counters and bucket arrays (no lock, no ``labels()`` lookup, no mmap write per request).
:func:`opp.observability.exposition.flush` moves what accumulated into prometheus-client metrics:
the gateway flushes every second and right before answering ``/metrics``. With several worker
processes ``opp serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` and prometheus-client's multiprocess mode
aggregates the workers (each worker's last second may be missing from a scrape).

The prometheus-client objects are created on the first flush, in the worker, so the multiprocess
choice made by ``opp serve`` after this module was imported still applies.

Other components record through the functions of this module, e.g. the rate limiter calls
``rate_limited(limit="per_key", tool="ledger.list")`` for each rejection.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = [
    "BACKEND_BUCKETS",
    "LATENCY_BUCKETS",
    "POLICY_BUCKETS",
    "RECORDER",
    "MetricsRecorder",
    "Observations",
    "Recorded",
    "multiprocess_dir",
    "rate_limited",
]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BACKEND_BUCKETS = (0.0001, 0.00025, *LATENCY_BUCKETS)
POLICY_BUCKETS = (0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_K = TypeVar("_K", bound=Hashable)


@dataclass(slots=True)
class Observations:
    """A histogram child's observations since the last flush (bucket ``i`` counts ``<= bound[i]``)."""

    counts: list[int]
    total: float = 0.0


@dataclass(slots=True)
class Recorded:
    """What was recorded between two drains, keyed by label values."""

    requests: dict[tuple[str, str, str, int], int] = field(default_factory=dict)
    durations: dict[tuple[str, str], Observations] = field(default_factory=dict)
    policy: dict[str, Observations] = field(default_factory=dict)
    backend: dict[tuple[str, str], Observations] = field(default_factory=dict)
    rate_limited: dict[tuple[str, str], int] = field(default_factory=dict)
    reloads: dict[str, int] = field(default_factory=dict)


def _observe(table: dict[_K, Observations], key: _K, bounds: tuple[float, ...], seconds: float) -> None:
    found = table.get(key)
    if found is None:
        found = table[key] = Observations([0] * (len(bounds) + 1))
    found.counts[bisect_left(bounds, seconds)] += 1
    found.total += seconds


class MetricsRecorder:
    """Process-local accumulators; one event loop records, the exposition drains."""

    def __init__(self) -> None:
        self._pending = Recorded()

    def request(self, route: str, tool: str, code: str, status: int, seconds: float) -> None:
        """One HTTP request: its route template, tool (or ``""``), reason code, status and duration."""
        pending = self._pending
        key = (route, tool, code, status)
        requests = pending.requests
        requests[key] = requests.get(key, 0) + 1
        found = pending.durations.get((route, tool))
        if found is None:
            found = pending.durations[(route, tool)] = Observations([0] * (len(LATENCY_BUCKETS) + 1))
        found.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        found.total += seconds

    def policy(self, tool: str, seconds: float) -> None:
        """Time spent building the CEL activation and evaluating a tool's rules."""
        _observe(self._pending.policy, tool, POLICY_BUCKETS, seconds)

    def backend(self, operation: str, outcome: str, seconds: float) -> None:
        """One backend call (tool or resource lookup): ``ok``, ``error`` or ``timeout``."""
        _observe(self._pending.backend, (operation, outcome), BACKEND_BUCKETS, seconds)

    def rate_limited(self, limit: str, tool: str) -> None:
        pending = self._pending
        pending.rate_limited[(limit, tool)] = pending.rate_limited.get((limit, tool), 0) + 1

    def reload(self, outcome: str) -> None:
        self._pending.reloads[outcome] = self._pending.reloads.get(outcome, 0) + 1

    def drain(self) -> Recorded:
        """Everything recorded since the last drain (the recorder starts afresh)."""
        pending, self._pending = self._pending, Recorded()
        return pending


RECORDER = MetricsRecorder()
"""The process's recorder: everything in the gateway records here."""


def rate_limited(limit: str, tool: str) -> None:
    """Count one request rejected by the rate limiter ``limit`` (e.g. ``per_key``) for ``tool``."""
    RECORDER.rate_limited(limit, tool or "")


def multiprocess_dir() -> str | None:
    """The prometheus-client multiprocess directory, when multiprocess mode is on."""
    return os.environ.get(MULTIPROC_ENV) or None
