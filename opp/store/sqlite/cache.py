"""Key and app lookups reused while no app or key has changed: revocation stays visible on the next
request in every process.

A found row is reused only while the credential signal (:mod:`opp.store.sqlite.credential_signal`)
holds the value it was read at, i.e. no app and no key has changed since, through any process,
and for at most ``max_age_s``. The signal is read before the row, so a change racing with the read
is always seen by the following lookup. A lookup costs one read of shared memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from opp.store.sqlite.credential_signal import CredentialSignal

__all__ = ["SignalCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SignalCache(Generic[K, V]):
    def __init__(
        self,
        signal: CredentialSignal,
        max_age_s: float,
        size: int = 4096,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._signal = signal
        self._max_age_s = max_age_s
        self._size = size
        self._monotonic = monotonic
        self._found: dict[K, tuple[int, float, V]] = {}  # signal value, read at, value

    def get(self, key: K, load: Callable[[], V | None]) -> V | None:
        """The value of ``key``: cached if nothing changed since and young enough, else ``load()``-ed."""
        signal, now = self._signal.current(), self._monotonic()
        cached = self._found.get(key)
        if cached is not None and cached[0] == signal and now - cached[1] < self._max_age_s:
            return cached[2]
        found = load()
        if found is None or self._max_age_s <= 0 or not self._signal.usable:
            return found
        if len(self._found) >= self._size:
            self._found.clear()
        self._found[key] = (signal, now, found)
        return found
