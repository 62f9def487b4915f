"""A ``limits`` storage in a SQLite file, shared by the worker processes of one host: ``sqlite:///PATH``.

With N workers and process-local counters a client gets N times its quota. Redis is the usual cure;
on a laptop or a single host this file is: one table of fixed-window counters in WAL mode, each hit
one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement (atomic across processes, no
read-modify-write race), expired rows reset in place and purged every few thousand hits.

Supports the fixed-window and sliding-window-counter strategies (the latter as two fixed windows,
read and incremented in one ``BEGIN IMMEDIATE`` transaction, :class:`FileCounters`). Importing this
module registers the ``sqlite`` scheme with ``limits.storage.storage_from_string``. The faster
``mmap://`` storage (:mod:`opp.admission.mmap_storage`) is what several workers share by default.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opp.admission.file_counters import FileCounters
from opp.store.sqlite.busy import retry_while_locked

__all__ = ["SqliteStorage"]

_DDL = """
CREATE TABLE IF NOT EXISTS rate_limit_counters (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rate_limit_counters_expiry ON rate_limit_counters (expires_at);
"""

# A live row is incremented; an expired one restarts at this hit (so no purge is needed for correctness).
_INCR = """
INSERT INTO rate_limit_counters (key, count, expires_at) VALUES (:key, :amount, :expires)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN expires_at <= :now THEN excluded.count ELSE count + excluded.count END,
    expires_at = CASE WHEN expires_at <= :now THEN excluded.expires_at ELSE expires_at END
RETURNING count
"""
_GET = "SELECT count, expires_at FROM rate_limit_counters WHERE key = ? AND expires_at > ?"
_PURGE_EVERY = 4096
"""Expired rows are deleted every this many increments (they are harmless meanwhile)."""


class SqliteStorage(FileCounters):
    """Rate-limit counters in one SQLite file (``sqlite:///ABSOLUTE/PATH``), opened lazily per process."""

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        """``sqlite:///ABSOLUTE/PATH``; ``sqlite3`` errors wrapped when asked."""
        self._connection: sqlite3.Connection | None = None
        self._hits = 0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():  # a forked worker opens its own
            # No busy handler (it sleeps whole milliseconds on the event loop): see sqlite_busy.
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
            _prepare(connection)
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    # -- fixed window ---------------------------------------------------------------------------

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add ``amount`` to the counter of ``key`` (created, or restarted, for ``expiry`` seconds)."""
        return self._add(key, amount, expiry, self._timer())

    def _add(self, key: str, amount: int, expiry: float, now: float) -> int:
        db = self._db()
        params = {"key": key, "amount": amount, "expires": now + expiry, "now": now}
        count = int(retry_while_locked(lambda: db.execute(_INCR, params).fetchone())[0])
        self._hits += 1
        if self._hits % _PURGE_EVERY == 0:
            retry_while_locked(
                lambda: db.execute("DELETE FROM rate_limit_counters WHERE expires_at <= ?", (now,))
            )
        return count

    def _live(self, key: str, now: float) -> tuple[int, float]:
        row = self._db().execute(_GET, (key, now)).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, now)

    def get(self, key: str) -> int:
        return self._live(key, self._timer())[0]

    def get_expiry(self, key: str) -> float:
        return self._live(key, self._timer())[1]

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM rate_limit_counters WHERE key = ?", (key,))

    def reset(self) -> int | None:
        return int(self._db().execute("DELETE FROM rate_limit_counters").rowcount)

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction: the write lock of the file, so no other worker counts."""
        db = self._db()
        retry_while_locked(lambda: db.execute("BEGIN IMMEDIATE"))
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None


def _prepare(connection: sqlite3.Connection) -> None:
    """WAL mode and the table. Workers starting together race for the switch to WAL and the DDL."""
    retry_while_locked(lambda: connection.execute("PRAGMA journal_mode=WAL"))
    connection.execute("PRAGMA synchronous=NORMAL")
    retry_while_locked(lambda: connection.executescript(_DDL))
