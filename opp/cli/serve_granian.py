"""The granian server as ``opp serve`` runs it: ``SIGHUP`` reloads Plans instead of respawning workers.

granian's own ``SIGHUP`` handling respawns every worker one after the other, which drops
in-process state and, with a broken ``gateway.yaml``, replaces working workers with ones that cannot
start. :class:`GatewayServer` forwards the signal to each worker instead; each worker's
:class:`~opp.http.reload.SwappableApp` recompiles the file and swaps its Plan (or refuses it and
keeps serving). With several workers, :func:`metrics_directory` gives prometheus-client a
multiprocess directory so ``/metrics`` on any worker reports all of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from typing import Any

from granian.server.mp import MPServer

from opp.observability.metrics import MULTIPROC_ENV

__all__ = ["GatewayServer", "metrics_directory"]


class GatewayServer(MPServer):
    """granian's multiprocess server (the GIL build), forwarding ``SIGHUP`` to every worker."""

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
