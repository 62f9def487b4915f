"""The DPoP ``jti`` replay cache (RFC 9449 §11.1; INTEROP §1.4), shared across workers and replicas.

``mmap:///PATH?slots=N`` (the workers of one host; what ``opp serve --workers N`` uses unless told
otherwise) is the memory-mapped counter table of :mod:`opp.admission.mmap_storage`, through the
``limits`` path below: a proof's key is "used" by its counter's first increment, a few
microseconds under the file's ``flock``; a table with no free slot for a key refuses the proof
(503), never accepts it unchecked. Measured in one process: ~11 µs a proof against ~24 µs for the
SQLite file below, and no write lock that the other workers' proofs wait for.

``sqlite:///PATH`` (also the workers of one host) is a table of seen keys written with one
``INSERT OR IGNORE`` per proof. Its connection does not use SQLite's busy handler, which sleeps
whole milliseconds while another worker holds the write lock and so stalls this worker's event
loop: :func:`~opp.store.sqlite.busy.retry_while_locked` retries in microseconds instead (and
gives up after 2 s: 503, fail closed). Keys are 32-byte digests in a ``WITHOUT ROWID`` table with no expiry
index (expired keys are purged every 1,000 writes), and the file is written with
``synchronous=OFF``: it is a cache of entries that live about a minute, and an operating-system
crash that loses the last of them is followed by a reboot longer than a proof's ``iat`` window.
Measured: ~20 µs per proof instead of ~80 µs through ``limits``' counter upsert, and no
millisecond stalls under contention.

With a ``redis:`` section (``replay_storage: redis``, the default then) every replica shares one
set of seen keys in Redis, each written with one atomic ``SET key 1 NX PX ttl``
(:class:`~opp.store.redis.RedisSeen`); Redis unreachable is 503 ``agent.shared_state_unavailable``.
Other URIs (``redis://…`` written out) use a ``limits`` storage, as admission control does: a key
is "used" by an atomic counter increment with an expiry; the first increment returns 1.

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
import importlib
import math
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from limits.errors import StorageError
from limits.storage import Storage, storage_from_string

import opp.admission.mmap_storage  # noqa: F401 - registers the mmap:// scheme with limits
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.store.sqlite.busy import retry_while_locked

if TYPE_CHECKING:
    from opp.store.redis import RedisTarget

__all__ = ["KEY_PREFIX", "ReplayCache"]

KEY_PREFIX = "dpop:jti:"


class _Seen(Protocol):
    def first_use(self, key: str, ttl_s: float) -> bool: ...

    def close(self) -> None: ...


class ReplayCache:
    """Remembers keys for a while; tells whether one is seen for the first time."""

    def __init__(
        self,
        storage_uri: str,
        *,
        redis: RedisTarget | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        """Args:
        storage_uri: ``memory://`` (this process), or a synchronous ``limits`` storage URI
            shared by processes (``mmap:///PATH``, ``sqlite:///PATH``, ``redis://HOST:PORT``).
        redis: The ``redis:`` section's server: when given, ``storage_uri`` is ignored and keys
            are kept there with ``SET NX PX``.
        timer: Seconds for ``memory://`` expiries (tests); shared storages keep their own time.

        Raises:
            ValueError: The URI names an asynchronous storage.
            limits.errors.ConfigurationError: The URI names no known storage.
        """
        self._backend: _Seen
        scheme = storage_uri.split("://", 1)[0]
        if redis is not None:
            seen = importlib.import_module("opp.store.redis.seen")  # needs the optional redis extra
            self._backend = seen.RedisSeen(redis)
        elif scheme == "memory":
            self._backend = _ProcessMemory(timer)
        elif scheme == "sqlite":
            self._backend = _SqliteSeen(storage_uri)
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


_SEEN_DDL = """
CREATE TABLE IF NOT EXISTS dpop_seen (key BLOB PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID;
"""
_PURGE_EVERY = 1000


class _SqliteSeen:
    """Seen keys in a SQLite file shared by the workers of one host (see the module docstring)."""

    def __init__(self, storage_uri: str) -> None:
        parsed = urllib.parse.urlparse(storage_uri)
        if parsed.netloc or not parsed.path.startswith("/"):
            raise ValueError(f"expected sqlite:///ABSOLUTE/PATH, not {storage_uri!r}")
        self._path = urllib.parse.unquote(parsed.path)
        self._connection: sqlite3.Connection | None = None
        self._writes = 0
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=0)
            retry_while_locked(lambda: connection.execute("PRAGMA journal_mode=WAL"))
            connection.execute("PRAGMA synchronous=OFF")  # a cache of ≤ 65 s: no fsync (see docs)
            retry_while_locked(lambda: connection.executescript(_SEEN_DDL))
            self._connection = connection
        return self._connection

    def first_use(self, key: str, ttl_s: float) -> bool:
        now = time.time()
        digest = bytes.fromhex(key.removeprefix(KEY_PREFIX))
        try:
            with self._lock:
                db = self._db()
                inserted = retry_while_locked(
                    lambda: db.execute(_INSERT_SEEN, (digest, now + ttl_s)).rowcount
                )
                if not inserted:  # seen, unless that entry has expired: then take it over
                    inserted = retry_while_locked(
                        lambda: db.execute(_TAKE_EXPIRED, (now + ttl_s, digest, now)).rowcount
                    )
                self._writes += 1
                if self._writes % _PURGE_EVERY == 0:
                    retry_while_locked(
                        lambda: db.execute("DELETE FROM dpop_seen WHERE expires_at <= ?", (now,))
                    )
        except sqlite3.Error:
            raise OppError(ReasonCode.UNAVAILABLE, "DPoP replay cache is unavailable.") from None
        return bool(inserted)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


_INSERT_SEEN = "INSERT OR IGNORE INTO dpop_seen (key, expires_at) VALUES (?, ?)"
_TAKE_EXPIRED = "UPDATE dpop_seen SET expires_at = ? WHERE key = ? AND expires_at <= ?"


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
