"""``server:`` checked and converted: the limits ``opp serve`` gives granian, in seconds and bytes.

granian accepts only some ranges (a header read timeout of 1 ms to 60 s, a kill timeout of 1 s
to 30 min); :func:`check_server` reports a value outside them as ``server.out_of_range`` at its
YAML position, so ``opp check`` refuses what the server could not start with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from opp.compile.report import Reporter
from opp.config.durations import parse_duration
from opp.config.schema import ServerSettings

__all__ = ["ServerLimits", "check_server", "server_limits"]

_RANGES_S: dict[str, tuple[float, float]] = {
    "shutdown_timeout": (1.0, 1800.0),
    "header_read_timeout": (0.001, 60.0),
    "body_read_timeout": (0.001, 3600.0),
}
"""Duration fields of ``server:`` → (lowest, highest) seconds granian accepts."""


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """``server:`` in the units the server and the ASGI layer use."""

    shutdown_timeout_s: int
    """granian's ``workers_kill_timeout`` (whole seconds, rounded up)."""
    max_header_bytes: int
    """granian's HTTP/1 ``max_buffer_size``: request line and headers must fit in it."""
    max_url_bytes: int
    header_read_timeout_ms: int
    keep_alive: bool
    max_concurrent_requests: int
    """granian's ``backpressure``, per worker."""
    backlog: int


def server_limits(settings: ServerSettings) -> ServerLimits:
    """The limits of ``settings`` (already checked by :func:`check_server`)."""
    return ServerLimits(
        shutdown_timeout_s=math.ceil(parse_duration(settings.shutdown_timeout)),
        max_header_bytes=settings.max_header_bytes,
        max_url_bytes=settings.max_url_bytes,
        header_read_timeout_ms=max(1, round(parse_duration(settings.header_read_timeout) * 1000)),
        keep_alive=settings.keep_alive,
        max_concurrent_requests=settings.max_concurrent_requests,
        backlog=settings.backlog,
    )


def check_server(settings: ServerSettings, report: Reporter) -> None:
    """Report every ``server:`` value outside the range granian accepts or the others allow."""
    for name, (low, high) in _RANGES_S.items():
        seconds = parse_duration(getattr(settings, name))
        if not low <= seconds <= high:
            report.error(
                ("server", name),
                "server.out_of_range",
                f"server.{name} must be between {_shown(low)} and {_shown(high)}",
            )
    if settings.max_url_bytes > settings.max_header_bytes:
        report.error(
            ("server", "max_url_bytes"),
            "server.out_of_range",
            f"server.max_url_bytes must be at most server.max_header_bytes ({settings.max_header_bytes})",
        )


def _shown(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{seconds:g}s"
