"""The granian server as ``opp serve`` runs it: a supervisor that respawns dead workers, and
``SIGHUP`` reloads Plans instead of respawning workers.

granian's own ``SIGHUP`` handling respawns every worker one after the other, which drops
in-process state and, with a broken ``gateway.yaml``, replaces working workers with ones that cannot
start. :class:`GatewayServer` forwards the signal to each worker instead; each worker's
:class:`~opp.http.reload.SwappableApp` recompiles the file and swaps its Plan (or refuses it and
keeps serving). With several workers, :func:`metrics_directory` gives prometheus-client a
multiprocess directory so ``/metrics`` on any worker reports all of them.

A worker that exits on its own (a crash, ``SIGKILL``, the OOM killer) is respawned in its slot
while the others keep serving; one that keeps dying soon after its start is respawned after a
growing delay (up to 30 s) instead of granian's default of stopping the whole server. The main
process leaves only on ``SIGTERM``/``SIGINT``: workers stop accepting, finish their in-flight
requests within ``server.shutdown_timeout``, and are killed past it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from granian.constants import HTTPModes
from granian.http import HTTP1Settings
from granian.server.mp import MPServer

from opp.compile.server import ServerLimits
from opp.observability.metrics import MULTIPROC_ENV

__all__ = ["RESPAWN_DELAYS_S", "GatewayServer", "granian_options", "metrics_directory"]

RESPAWN_DELAYS_S = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
"""Delay before respawning a worker, by how many times in a row it died soon after starting."""
STABLE_AFTER_S = 60.0
"""A worker that lived this long before dying is respawned at once (its streak starts over)."""

_log = logging.getLogger("opp.serve")


def granian_options(limits: ServerLimits) -> dict[str, Any]:
    """The granian server arguments that ``server:`` sets."""
    http1 = HTTP1Settings(
        header_read_timeout=limits.header_read_timeout_ms,
        keep_alive=limits.keep_alive,
        max_buffer_size=limits.max_header_bytes,
    )
    return {
        "respawn_failed_workers": True,
        "workers_kill_timeout": limits.shutdown_timeout_s,
        # HTTP/1.1 only: granian's auto mode sniffs for an HTTP/2 preface with no timeout, so a
        # connection that never sends a byte would stay open forever.
        "http": HTTPModes.http1,
        "http1_settings": http1,
        "backpressure": limits.max_concurrent_requests,
        "backlog": limits.backlog,
    }


class GatewayServer(MPServer):
    """granian's multiprocess server (the GIL build): respawns dead workers, forwards ``SIGHUP``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._streaks: dict[int, int] = {}
        """Worker slot → how many times in a row its worker died within STABLE_AFTER_S."""

    def _serve_loop(self, spawn_target: Callable[..., None], target_loader: Callable[..., Any]) -> None:
        """Wait for signals and dead workers; return (to shut down) only on SIGTERM/SIGINT."""
        due: dict[int, float] = {}  # slot -> when to respawn its worker
        while True:
            timeout = max(0.0, min(due.values()) - time.monotonic()) if due else None
            self.main_loop_interrupt.wait(timeout)
            if self.interrupt_signal:
                return
            self.main_loop_interrupt.clear()
            while self.interrupt_children:
                slot = self.interrupt_children.pop(0)
                due.setdefault(slot, time.monotonic() + self._respawn_delay(slot))
            now = time.monotonic()
            for slot in [slot for slot, at in due.items() if at <= now]:
                del due[slot]
                self._respawn_workers([slot], spawn_target, target_loader)
                self._metrics.incr_respawn_err(1)

    def _respawn_delay(self, slot: int) -> float:
        lived = time.monotonic() - self.wrks[slot].birth
        streak = 0 if lived >= STABLE_AFTER_S else self._streaks.get(slot, 0)
        self._streaks[slot] = streak + 1
        delay = RESPAWN_DELAYS_S[min(streak, len(RESPAWN_DELAYS_S) - 1)]
        _log.warning("worker-%d exited after %.1fs; respawning it in %gs", slot + 1, lived, delay)
        return delay

    def signal_handler_reload(self, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "pid", None) != os.getpid():
            return  # a forked worker that has not installed its own handler yet
        for worker in list(self.wrks):
            pid = getattr(worker.inner, "pid", None)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)


@contextlib.contextmanager
def metrics_directory(workers: int, enabled: bool) -> Iterator[str | None]:
    """Turn on prometheus-client's multiprocess mode for ``workers`` > 1 (a fresh temporary directory).

    A ``PROMETHEUS_MULTIPROC_DIR`` already set by the operator is used as it is (it must be emptied
    between runs, as prometheus-client requires).
    """
    existing = os.environ.get(MULTIPROC_ENV)
    if existing or workers <= 1 or not enabled:
        yield existing
        return
    directory = tempfile.mkdtemp(prefix="opp-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
