"""One SQLite connection: pragmas, migrations, transactions and fail-closed error mapping.

The connection runs in autocommit mode (``isolation_level=None``); every write goes through
:meth:`SqliteDatabase.write`, which takes the write lock up front with ``BEGIN IMMEDIATE`` so
concurrent writers (other server workers on the same file) queue on ``busy_timeout`` instead of
failing on a lock upgrade. Errors that mean the store cannot serve — the lock still held after the
timeout, disk I/O, a file that cannot be opened or is not a database — become
``OppError(agent.unavailable)`` so the gateway fails closed (503), never open.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from opp.clock import Clock
from opp.store.codec import encode_timestamp
from opp.store.migrations import LEDGER_DDL, pending_migrations, split_statements
from opp.store.rules import store_unavailable
from opp.store.sqlite.busy import retry_while_locked, retry_while_locked_async
from opp.store.sqlite.credential_signal import CredentialSignal
from opp.store.sqlite.group_commit import GroupCommit, committing
from opp.store.sqlite.writer import BackgroundWriter

T = TypeVar("T")

__all__ = ["BUSY_TIMEOUT_MS", "SqliteDatabase"]

BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for another connection's write lock before the store is unavailable."""

_WAL_RETRY_MS = 10

_log = logging.getLogger(__name__)


def _means_unavailable(exc: sqlite3.Error) -> bool:
    # OperationalError: locked past busy_timeout, disk I/O, cannot open, read-only file.
    # A bare DatabaseError: the file is not a database or is corrupt. Integrity and programming
    # errors are bugs or constraint violations the caller handles, not outages.
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


@contextlib.contextmanager
def _fail_closed() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        if not _means_unavailable(exc):
            raise
        _log.warning("sqlite store unavailable: %s", exc)
        raise store_unavailable() from exc


def _begin(connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE``, waiting for another connection's write lock in short pauses.

    SQLite's busy handler sleeps whole milliseconds (1, 2, 5, 10… ms) between attempts, on the
    thread that asked: with two workers writing, every collision stalled the waiting worker's
    event loop for a millisecond or more while the other's transaction took a fraction of that.
    The lock is taken here with the handler off, retried after 50 µs, doubling up to 1 ms
    (:func:`retry_while_locked`), for at most ``busy_timeout_ms`` — then ``database is locked``
    propagates and the store fails closed, as before. Every other statement keeps the handler.
    """
    retry_while_locked(lambda: _begin_once(connection, busy_timeout_ms), busy_timeout_ms / 1000)


def _begin_once(connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """One ``BEGIN IMMEDIATE`` attempt with the busy handler off for it alone (others keep it)."""
    connection.execute("PRAGMA busy_timeout = 0")
    try:
        connection.execute("BEGIN IMMEDIATE")
    finally:
        connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")


@contextlib.contextmanager
def _immediate(connection: sqlite3.Connection, busy_timeout_ms: int) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error."""
    _begin(connection, busy_timeout_ms)
    with committing(connection):
        yield connection


def _transaction(
    connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T], busy_timeout_ms: int
) -> T:
    """Run ``work`` in one write transaction, failing closed."""
    with _fail_closed(), _immediate(connection, busy_timeout_ms):
        return work(connection)


class SqliteDatabase:
    """A lazily opened connection to one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str, clock: Clock, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = path
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._connection: sqlite3.Connection | None = None
        self._background: BackgroundWriter | None = None
        self.group_commit = GroupCommit(self._begin_waiting, _fail_closed)
        self.credentials = CredentialSignal(path)
        """Moves whenever an app or a key changes (:mod:`opp.store.sqlite.credential_signal`)."""

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            connection.execute("PRAGMA foreign_keys = ON")
            self._enable_wal(connection)
            connection.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _connect_failing_closed(self) -> sqlite3.Connection:
        with _fail_closed():
            return self._connect()

    def open(self) -> list[int]:
        """Connect, set the pragmas and apply pending migrations; returns the versions applied."""
        if self._connection is not None:
            return []
        with _fail_closed():
            self._connection = self._connect()
            try:
                applied = self._migrate()
            except BaseException:
                self._connection.close()
                self._connection = None
                raise
        self.credentials.open()
        if self.path != ":memory:":
            self._background = BackgroundWriter(
                self._connect_failing_closed,
                lambda connection, work: _transaction(connection, work, self._busy_timeout_ms),
            )
        return applied

    def _enable_wal(self, connection: sqlite3.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock and SQLite does not run the busy
        # handler for it, so workers opening a new file together retry here, within the timeout.
        for _ in range(max(1, self._busy_timeout_ms // _WAL_RETRY_MS)):
            try:
                connection.execute("PRAGMA journal_mode = WAL").fetchall()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                time.sleep(_WAL_RETRY_MS / 1000)
        connection.execute("PRAGMA journal_mode = WAL").fetchall()

    def close(self) -> None:
        if self._background is not None:
            with contextlib.suppress(Exception):
                self._background.close()
            self._background = None
        self.credentials.close()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise store_unavailable()
        return self._connection

    def read(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        """All rows of one SELECT (fully fetched, so no read transaction stays open)."""
        with _fail_closed():
            return self.connection.execute(sql, params).fetchall()

    async def _begin_waiting(self) -> sqlite3.Connection:
        """``BEGIN IMMEDIATE`` on the connection, awaiting another connection's write lock in
        pauses during which the event loop serves other requests; the busy handler is off only
        for each attempt (other statements may run on the connection while this one waits)."""
        connection, timeout_ms = self.connection, self._busy_timeout_ms
        await retry_while_locked_async(lambda: _begin_once(connection, timeout_ms), timeout_ms / 1000)
        return connection

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with _immediate(self.connection, self._busy_timeout_ms) as connection:
            yield connection

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction, committed on success and rolled back on error.

        Never ``await`` inside: the connection is shared by every coroutine of this store.
        """
        with _fail_closed(), self._transaction() as connection:
            yield connection

    @contextlib.contextmanager
    def changing_credentials(self) -> Iterator[sqlite3.Connection]:
        """:meth:`write` for a change to an app or a key: the credential signal moves before the
        transaction and again once it ended, so no process reuses a lookup read before the change."""
        self.credentials.moved()
        try:
            with self.write() as connection:
                yield connection
        finally:
            self.credentials.moved()

    async def transact(self, unit: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``unit`` in a write transaction shared with the other writes queued in this turn of
        the event loop (see :mod:`opp.store.sqlite.group_commit`); returns once it is committed.

        Errors map as in :meth:`write`: a constraint violation raised by ``unit`` reaches the
        caller, a store that cannot serve becomes ``agent.unavailable``.
        """
        return await self.group_commit.submit(unit)

    async def write_in_background(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a write transaction off the event loop (see :mod:`sqlite_writer`).

        An in-memory database has no second connection, so it is written here directly.
        """
        if self._background is None:
            with self.write() as connection:
                return work(connection)
        return await self._background.write(work)

    def schema_version(self) -> int:
        rows = self.read("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        return int(rows[0][0])

    def _migrate(self) -> list[int]:
        # The write lock is taken before the version is read: when two processes open a new file
        # at once, the second waits, then sees the first one's migrations and applies nothing.
        with self.write() as connection:
            connection.execute(LEDGER_DDL)
            current = connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            applied: list[int] = []
            for migration in pending_migrations(int(current.fetchall()[0][0])):
                for statement in split_statements(migration.script):
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.description, encode_timestamp(self._clock.now())),
                )
                applied.append(migration.version)
        return applied
