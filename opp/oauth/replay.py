"""The DPoP ``jti`` replay cache (RFC 9449 §11.1; INTEROP §1.4), shared across workers and replicas.

Shared caches use a ``limits`` storage, as admission control does: ``sqlite:///PATH`` (the workers
of one host, :mod:`opp.admission.sqlite_storage`) or ``redis://…`` (replicas). A key is "used" by
an atomic counter increment with an expiry; the first increment within the expiry returns 1.

``memory://`` (one process) is a heap of expiries instead of ``limits``' ``MemoryStorage``: that
storage sweeps *every* key from a timer thread every 10 ms, and a replay cache holds one key per
request (60 000 keys at 1 000 requests/s), so the sweep would run back to back holding the GIL.
Here a lookup prunes only the entries that have expired.

Keys are stored as ``dpop:jti:`` + SHA-256 hex, never the raw value, so a client cannot choose how
much memory one entry takes. Storage failures fail closed.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import threading
import time
from collections.abc import Callable

from limits.errors import StorageError
from limits.storage import Storage, storage_from_string

import opp.admission.sqlite_storage  # noqa: F401 - registers the sqlite:// scheme
from opp.codes import ReasonCode
from opp.errors import OppError

__all__ = ["KEY_PREFIX", "ReplayCache"]

KEY_PREFIX = "dpop:jti:"


class ReplayCache:
    """Remembers keys for a while; tells whether one is seen for the first time."""

    def __init__(self, storage_uri: str, *, timer: Callable[[], float] = time.monotonic) -> None:
        """Args:
        storage_uri: ``memory://`` (this process), or a synchronous ``limits`` storage URI
            shared by processes (``sqlite:///PATH``, ``redis://HOST:PORT``).
        timer: Seconds for ``memory://`` expiries (tests); shared storages keep their own time.

        Raises:
            ValueError: The URI names an asynchronous storage.
            limits.errors.ConfigurationError: The URI names no known storage.
        """
        self._backend: _ProcessMemory | _SharedStorage
        if storage_uri.split("://", 1)[0] == "memory":
            self._backend = _ProcessMemory(timer)
        else:
            self._backend = _SharedStorage(storage_uri)

    def first_use(self, key: str, ttl_s: float) -> bool:
        """Record ``key`` for ``ttl_s`` seconds; True if it was not already recorded.

        Raises:
            OppError: 503 ``agent.unavailable`` when the storage cannot be reached (fail closed).
        """
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self._backend.first_use(KEY_PREFIX + digest, ttl_s)

    def close(self) -> None:
        """Release the storage's connection, where it holds one."""
        self._backend.close()


class _ProcessMemory:
    """Keys of one process: a set for lookups, a heap of expiries to drop expired keys in order."""

    def __init__(self, timer: Callable[[], float]) -> None:
        self._timer = timer
        self._seen: set[str] = set()
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def first_use(self, key: str, ttl_s: float) -> bool:
        now = self._timer()
        with self._lock:
            expiries = self._expiries
            while expiries and expiries[0][0] <= now:
                self._seen.discard(heapq.heappop(expiries)[1])
            if key in self._seen:
                return False
            self._seen.add(key)
            heapq.heappush(expiries, (now + ttl_s, key))
            return True

    def close(self) -> None:
        with self._lock:
            self._seen.clear()
            self._expiries.clear()


class _SharedStorage:
    """A ``limits`` storage: the first atomic increment of a key within its expiry returns 1."""

    def __init__(self, storage_uri: str) -> None:
        storage = storage_from_string(storage_uri, wrap_exceptions=True)
        if not isinstance(storage, Storage):
            raise ValueError("the DPoP replay cache needs a synchronous storage (no async+ scheme)")
        self._storage = storage

    def first_use(self, key: str, ttl_s: float) -> bool:
        expiry = max(1, math.ceil(ttl_s))  # Redis expiries are whole seconds
        try:
            return self._storage.incr(key, expiry) == 1
        except StorageError:
            raise OppError(ReasonCode.UNAVAILABLE, "DPoP replay cache is unavailable.") from None

    def close(self) -> None:
        close = getattr(self._storage, "close", None)
        if callable(close):
            close()
