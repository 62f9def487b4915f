"""One word of shared memory that moves whenever an app or a key changes, in any process.

Every agent request looks up its key and the key's app. A worker reuses a lookup only while this
word is the value it read *before* reading the row, so a change is seen on the next request in
every worker, without a SQLite round trip per request (which, besides its own cost, hands the GIL
to the audit writer thread on every request):

* The word lives in the file ``<database>-credentials.signal`` (8 bytes), mapped by every process
  that opens the database: the workers of ``opp serve``, the CLI, the tests.
* Whoever changes an app or a key through the store (:meth:`SqliteDatabase.changing_credentials`:
  the admin API, the console, the CLI, the declared apps and keys at start) writes a new random
  value into it before its transaction begins and again after it ends. Random values need no lock
  between processes and never come back, so a lookup read at an old value is never reused; a read
  racing with the change was taken after the first write and is dropped by the second.
* A lookup is reused for at most ``store.key_cache_max_age`` (5 s) in any case: that bounds what a
  change made outside opp (SQL typed into ``sqlite3``) or a process killed between its commit and
  its second write could leave unseen. ``0s`` turns the cache off.
* When the file cannot be opened or mapped, nothing is cached (every request reads SQLite).
* A ``:memory:`` database has no other process: its signal is a plain attribute.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os

__all__ = ["CredentialSignal", "signal_path"]

_SIZE = 8
_log = logging.getLogger(__name__)


def signal_path(database: str) -> str:
    """The signal file of the SQLite file ``database``."""
    return f"{database}-credentials.signal"


class CredentialSignal:
    """The current value (:meth:`current`) and the change that replaces it (:meth:`moved`)."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._shared: memoryview | None = None  # one unsigned 64-bit word of the mapped file
        self._local = 0  # in-process (``:memory:``, or not yet opened)
        self.usable = True
        """False when the file could not be mapped: caches must not reuse anything."""

    def open(self) -> None:
        """Map the file (created if missing); if it cannot be, caching is off (:attr:`usable`)."""
        if self._database == ":memory:" or self._shared is not None:
            return
        path = signal_path(self._database)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < _SIZE:
                    os.ftruncate(fd, _SIZE)  # zero-filled; a concurrent creator writes the same zeros
                mapped = mmap.mmap(fd, _SIZE)
            finally:
                os.close(fd)
        except (OSError, ValueError) as exc:
            _log.warning("credential signal %s unavailable (%s): key lookups are not cached", path, exc)
            self.usable = False
            return
        self.usable = True
        self._shared = memoryview(mapped).cast("Q")

    def current(self) -> int:
        shared = self._shared
        return int(shared[0]) if shared is not None else self._local

    def moved(self) -> None:
        """Replace the value with a new random one (seen by every process at its next read)."""
        value = int.from_bytes(os.urandom(_SIZE), "little")
        if self._shared is not None:
            self._shared[0] = value
        else:
            self._local = value

    def close(self) -> None:
        shared, self._shared = self._shared, None
        if shared is not None:
            with contextlib.suppress(BufferError, ValueError):
                shared.release()
