"""What the host-shared counter storages (``sqlite://``, ``mmap://``) have in common.

Both keep fixed-window counters only (a count and an expiry per key) in one file every worker of a
host opens, and both run ``limits``' sliding window counter as two such fixed windows, read and
incremented while no other process can count (exact, where ``limits``' own storages accept a small
race between the read and the increment). Neither can keep the moving window, which needs a log of
hits rather than counters.
"""

from __future__ import annotations

import time
import urllib.parse
from abc import abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from math import floor
from typing import Any

from limits.storage import SlidingWindowCounterSupport, Storage
from limits.storage.base import TimestampedSlidingWindow

__all__ = ["FileCounters", "counters_path"]


class FileCounters(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """A ``limits`` storage of fixed-window counters in one file, with the sliding window counter."""

    STORAGE_SCHEME: list[str]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        timer: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        """Args:
        uri: ``SCHEME:///`` followed by the absolute path of the counters file.
        wrap_exceptions: Wrap the storage's errors in ``limits.errors.StorageError``.
        timer: Seconds since the epoch (``limits`` measures windows in wall-clock time).
        """
        self.path = counters_path(uri or "", self.STORAGE_SCHEME[0])
        self._timer = timer
        self._pid = 0
        """The process that opened the file (a forked worker opens its own)."""
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @abstractmethod
    def _exclusive(self) -> AbstractContextManager[object]:
        """A section in which no other process or thread counts."""

    @abstractmethod
    def _live(self, key: str, now: float) -> tuple[int, float]:
        """``(count, expires_at)`` of ``key``'s live counter; ``(0, now)`` when there is none."""

    @abstractmethod
    def _add(self, key: str, amount: int, expiry: float, now: float) -> int:
        """Add ``amount`` to ``key``'s counter, started (or restarted) for ``expiry`` s when not live."""

    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Count ``amount`` hits if the weighted previous window plus the current stays within ``limit``."""
        if amount > limit:
            return False
        with self._exclusive():
            now = self._timer()
            previous, previous_ttl, current, _ = self._window(key, expiry, now)
            allowed = floor(previous * previous_ttl / expiry + current) + amount <= limit
            if allowed:
                self._add(self.sliding_window_keys(key, expiry, now)[1], amount, 2 * expiry, now)
        return allowed

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        with self._exclusive():
            return self._window(key, expiry, self._timer())

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, self._timer()):
            self.clear(window_key)

    def _window(self, key: str, expiry: int, now: float) -> tuple[int, float, int, float]:
        """(previous count, previous window's remaining weight in s, current count, current TTL)."""
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous = self._live(previous_key, now)[0]
        current = self._live(current_key, now)[0]
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl


def counters_path(uri: str, scheme: str) -> str:
    """The absolute file path of ``SCHEME:///ABSOLUTE/PATH``.

    Raises:
        ValueError: ``uri`` is not of that form.
    """
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != scheme or parsed.netloc or not parsed.path.startswith("/"):
        raise ValueError(f"expected {scheme}:///ABSOLUTE/PATH, not {uri!r}")
    return urllib.parse.unquote(parsed.path)
