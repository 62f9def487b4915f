"""A ``limits`` storage in a memory-mapped file, shared by the worker processes of one host: ``mmap:///PATH``.

This is what ``opp serve --workers N`` counts in by default (a file next to the SQLite store). Every
worker maps the same file; a hit takes the file's ``flock`` (released by the kernel if a worker
dies holding it, so a ``kill -9`` never wedges the others; taken by spinning briefly on a
non-blocking attempt before waiting, see :func:`_lock`), finds the counter in an open-addressing
table and updates it in place: a few microseconds, no SQL, no write lock held across a statement,
no page written to disk on the request path (the kernel writes the dirty pages back by itself;
counters need not survive a reboot).

The table has :data:`SLOTS` slots of 32 bytes (a 16-byte BLAKE2b digest of the ``limits`` key, the
expiry, the count) after a 64-byte header naming the format; ``mmap:///PATH?slots=N`` asks for
another power of two (the DPoP replay cache, a key per proof for a minute, takes 2**20). A key
lives in the first slot of its probe sequence (linear, at most :data:`PROBES` long) that holds its
digest, or else in the first slot there whose counter has expired; a slot once used is never
emptied again, only reused, so a lookup can stop at the first never-used slot. When all
:data:`PROBES` slots of a sequence hold live counters, the hit fails with :class:`CountersFull` —
the request is refused with 503, never admitted uncounted (a full table means over about 100,000
live counters on one host: use Redis). A file whose header is not this format's is reinitialised
(counters restart), under the lock, before it is mapped.

Fixed-window and sliding-window-counter strategies (:class:`FileCounters`); not the moving window.
Importing this module registers the ``mmap`` scheme with ``limits.storage.storage_from_string``.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import mmap
import os
import struct
import threading
import urllib.parse
from typing import Any

from opp.admission.file_counters import FileCounters

__all__ = ["MAX_SLOTS", "PROBES", "SLOTS", "CountersFull", "MmapStorage"]

SLOTS = 1 << 17
"""Slots in the table by default (a power of two): 4 MiB of file, touched only where counters land."""
MAX_SLOTS = 1 << 24
"""The largest table ``?slots=`` may ask for (512 MiB of file)."""
PROBES = 64
"""Slots looked at for a key before the table counts as full for it."""

_MAGIC = b"OPP-RLC1"
_HEADER = struct.Struct("<8sII")  # magic, slots, slot size
_HEADER_SIZE = 64
_SLOT = struct.Struct("<16sdq")  # key digest, expires at (epoch s; 0 = never counted), count
_NEVER_USED = bytes(16)


class CountersFull(Exception):
    """Every slot a key may live in holds a live counter: the hit cannot be counted."""


class MmapStorage(FileCounters):
    """Rate-limit counters in one memory-mapped file (``mmap:///ABSOLUTE/PATH``), mapped per process."""

    STORAGE_SCHEME = ["mmap"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        """``mmap:///ABSOLUTE/PATH[?slots=N]``; errors (``OSError``, :class:`CountersFull`) wrapped
        when asked.

        Raises:
            ValueError: ``slots`` is not a power of two from 1,024 to :data:`MAX_SLOTS`.
        """
        self.slots = _slots(uri or "")
        self._mask = self.slots - 1
        self._size = _HEADER_SIZE + self.slots * _SLOT.size
        self._table: mmap.mmap | None = None
        self._fd = -1
        self._thread_lock = threading.Lock()  # flock does not exclude threads sharing one descriptor
        self._locked = _Locked(self)
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (OSError, ValueError, CountersFull)  # ValueError: a mapping closed under a caller

    # -- the limits API -------------------------------------------------------------------------

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add ``amount`` to the counter of ``key`` (created, or restarted, for ``expiry`` seconds)."""
        with self._exclusive():
            return self._add(key, amount, expiry, self._timer())

    def get(self, key: str) -> int:
        with self._exclusive():
            return self._live(key, self._timer())[0]

    def get_expiry(self, key: str) -> float:
        with self._exclusive():
            return self._live(key, self._timer())[1]

    def clear(self, key: str) -> None:
        digest = _digest(key)
        with self._exclusive() as table:
            offset, _, expires = _probe(table, digest, self._timer(), self._mask)
            if expires:
                _SLOT.pack_into(table, offset, digest, 0.0, 0)  # used, expired: reusable

    def reset(self) -> int | None:
        """Forget every counter; returns how many were live."""
        with self._exclusive() as table:
            live = len(_live_counts(table, self._timer(), self.slots))
            table[_HEADER_SIZE : self._size] = bytes(self._size - _HEADER_SIZE)
        return live

    def counts(self) -> list[int]:
        """The count of every live counter (for operators and tests: reads the whole table)."""
        with self._exclusive() as table:
            return _live_counts(table, self._timer(), self.slots)

    def check(self) -> bool:
        try:
            with self._exclusive():
                return True
        except OSError:
            return False

    def close(self) -> None:
        with self._thread_lock:
            if self._table is not None and self._pid == os.getpid():
                self._table.close()
                os.close(self._fd)
            self._table, self._fd = None, -1

    # -- FileCounters ---------------------------------------------------------------------------

    def _exclusive(self) -> _Locked:
        """The mapped table, with this file's lock held (by this thread, against every process)."""
        return self._locked

    def _live(self, key: str, now: float) -> tuple[int, float]:
        assert self._table is not None  # only called in _exclusive
        _, count, expires = _probe(self._table, _digest(key), now, self._mask)
        return (count, expires) if expires else (0, now)

    def _add(self, key: str, amount: int, expiry: float, now: float) -> int:
        table = self._table
        assert table is not None  # only called in _exclusive
        digest = _digest(key)
        offset, count, expires = _probe(table, digest, now, self._mask)
        if offset < 0:
            raise CountersFull(f"no free counter slot in {self.path} ({self.slots} slots)")
        if expires:
            count += amount
        else:
            count, expires = amount, now + expiry
        _SLOT.pack_into(table, offset, digest, expires, count)
        return count

    def _map(self) -> mmap.mmap:
        """Open and map the file, (re)initialising it first when it is not this format."""
        if self._table is not None:  # inherited over fork: the parent keeps its own descriptor
            self._table.close()
            os.close(self._fd)
            self._table = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            header = _HEADER.pack(_MAGIC, self.slots, _SLOT.size)
            if os.fstat(fd).st_size != self._size or os.pread(fd, _HEADER.size, 0) != header:
                os.ftruncate(fd, 0)  # nobody reads it meanwhile: every access holds the lock
                os.ftruncate(fd, self._size)
                os.pwrite(fd, header, 0)
            table = mmap.mmap(fd, self._size)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BaseException:
            os.close(fd)
            raise
        self._table, self._fd, self._pid = table, fd, os.getpid()
        return table


_LIBC = ctypes.PyDLL(None, use_errno=True)
"""The C library, called *without* releasing the GIL (``PyDLL``) for the lock's fast path."""
_FLOCK = _LIBC.flock
"""``int flock(int, int)``: ctypes' default conversions (Python ints to C ints, an int back); declaring
``argtypes`` would double the cost of the call (0.45 → 0.86 µs for a lock and an unlock)."""
_TRY = fcntl.LOCK_EX | fcntl.LOCK_NB
_SPINS = 200
"""Non-blocking attempts at the lock before waiting for it in the kernel."""
_SPINS_BEFORE_YIELD = 20


def _lock(fd: int) -> None:
    """Take the file's ``flock``: a few non-blocking attempts, then a blocking wait.

    Why not ``fcntl.flock(fd, LOCK_EX)`` alone: it releases the GIL around the call, so a worker
    whose other threads want the GIL (granian's, the audit writer) can get the lock and then wait
    for its own GIL while holding it; and a waiter asleep in the kernel must be woken by the
    holder's unlock, a wake-up across CPUs. With two workers counting the same key that was 28 %
    of a governed read's throughput; spinning on ``LOCK_NB`` (held for a microsecond or two: the
    table update) with the GIL kept costs what process-local counters cost (docs/PERFORMANCE.md).
    The blocking wait stays as the fallback, so a lock held for long (a process stopped while
    holding it) costs no CPU, and a process killed holding it still releases it.
    """
    for attempt in range(_SPINS):
        if _FLOCK(fd, _TRY) == 0:
            return
        if ctypes.get_errno() not in (errno.EWOULDBLOCK, errno.EINTR):
            raise _flock_error()
        if attempt >= _SPINS_BEFORE_YIELD:
            os.sched_yield()
    fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while it waits


def _unlock(fd: int) -> None:
    if _FLOCK(fd, fcntl.LOCK_UN) != 0:
        raise _flock_error()


def _flock_error() -> OSError:
    """The ``OSError`` of the libc ``flock`` call that just failed (its ``errno``)."""
    failure = ctypes.get_errno()
    return OSError(failure, os.strerror(failure))


class _Locked:
    """``with``: the thread lock, the mapping (made on first use and after a fork), the ``flock``.

    A class rather than a ``@contextmanager`` generator: it is entered on every hit, and this
    costs a third as much.
    """

    __slots__ = ("_fd", "_storage")

    def __init__(self, storage: MmapStorage) -> None:
        self._storage = storage
        self._fd = -1

    def __enter__(self) -> mmap.mmap:
        storage = self._storage
        storage._thread_lock.acquire()
        try:
            table = storage._table
            if table is None or storage._pid != os.getpid():  # a forked worker maps it with its own flock
                table = storage._map()
            self._fd = storage._fd
            _lock(self._fd)
        except BaseException:
            storage._thread_lock.release()
            raise
        return table

    def __exit__(self, *_: object) -> None:
        try:
            _unlock(self._fd)
        finally:
            self._storage._thread_lock.release()


def _digest(key: str) -> bytes:
    """The key's slot tag (never all zeros: that marks a slot never used)."""
    digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
    return digest if digest != _NEVER_USED else b"\x01" + digest[1:]


def _slots(uri: str) -> int:
    """The ``slots`` query parameter of ``uri`` (:data:`SLOTS` when absent)."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)
    asked = query.pop("slots", [str(SLOTS)])
    if query or len(asked) != 1 or not asked[0].isdigit():
        raise ValueError(f"mmap:// takes one query parameter, slots=N (a power of two), not {uri!r}")
    slots = int(asked[0])
    if not 1024 <= slots <= MAX_SLOTS or slots & (slots - 1):
        raise ValueError(f"mmap:// slots must be a power of two from 1024 to {MAX_SLOTS}, not {slots}")
    return slots


def _live_counts(table: mmap.mmap, now: float, slots: int) -> list[int]:
    entries = (_SLOT.unpack_from(table, _HEADER_SIZE + index * _SLOT.size) for index in range(slots))
    return [count for _, expires, count in entries if expires > now]


def _probe(table: mmap.mmap, digest: bytes, now: float, mask: int) -> tuple[int, int, float]:
    """``(offset, count, expires_at)`` of the key's live counter; ``(offset, 0, 0.0)`` of the slot
    it would take when it has none; ``offset`` is -1 when every slot it may take is live."""
    home = int.from_bytes(digest[:8], "little")
    free = -1
    for probe in range(PROBES):
        offset = _HEADER_SIZE + ((home + probe) & mask) * _SLOT.size
        found, expires, count = _SLOT.unpack_from(table, offset)
        if found == digest:
            return (offset, count, expires) if expires > now else (offset, 0, 0.0)
        if expires <= now:
            if free < 0:
                free = offset
            if found == _NEVER_USED:
                break  # a key is never stored past a slot that was never used
    return free, 0, 0.0
