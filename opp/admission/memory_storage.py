"""``limits``' in-memory counters without their expiry thread.

``limits.storage.MemoryStorage`` (5.x) starts a ``threading.Timer`` 10 ms after every increment whose
previous timer has ended, to drop expired counters: under steady traffic that is a new thread about
a hundred times a second, each taking the GIL from the event loop (docs/PERFORMANCE.md). Expiry is
already exact without it — every read (and so every increment) discards an expired counter first —
so the thread only reclaims memory. This subclass does that reclaiming inline, at most once a
second, on the request that finds it due: the same counts, no thread.

It overrides ``MemoryStorage``'s private (name-mangled) scheduling hook; tests/unit/admission
checks that no thread starts and that counts and expiry are unchanged, so a ``limits`` upgrade that
renames the hook fails the suite instead of bringing the threads back silently.
"""

from __future__ import annotations

import time
from typing import Any

from limits.storage import MemoryStorage

__all__ = ["ThreadlessMemoryStorage"]

SWEEP_INTERVAL_S = 1.0
"""How often expired counters and moving-window entries are dropped (memory only, never counts)."""


class ThreadlessMemoryStorage(MemoryStorage):
    """Process-local counters for every ``limits`` strategy, expired lazily and swept inline."""

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()  # the one timer the parent started in __init__: cancelled, it ends at once
        self.timer.join()
        self._next_sweep = time.time() + SWEEP_INTERVAL_S

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the parent's timer thread
        now = time.time()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_INTERVAL_S
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
