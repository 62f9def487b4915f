"""Group commit: the state changes of concurrent requests share one SQLite transaction.

A draft's own statements cost a few tens of microseconds; its ``BEGIN IMMEDIATE`` … ``COMMIT``
costs several times that — taking the write lock, then writing every B-tree page the
transaction touched (the table, its indexes, the audit log and its indexes) to the WAL. Requests
that reach the store in the same turn of the event loop are therefore committed together:

* :meth:`GroupCommit.submit` queues a unit of work and starts a flush for the next turn of the
  loop, so every request that gets to its write before then joins the batch; the flush waits for
  the write lock (held by another worker's batch) with ``asyncio.sleep``, not on the loop, and
  takes the batch only once it holds the lock, so the writes arriving meanwhile join it too;
* the flush opens one transaction and runs each unit inside its own ``SAVEPOINT``: a unit that
  raises (a constraint, a vanished row) is rolled back to its savepoint alone and its caller gets
  the exception, while the others go on;
* only after ``COMMIT`` succeeds does any caller get its result, so an acknowledged write is a
  committed write, and each audit event still commits with the state change it describes. When
  the transaction itself fails (the lock not obtained in time, disk I/O, SQLite rolling the
  whole transaction back), every caller of the batch gets the failure — none was acknowledged.

A caller cancelled before the flush (its client went away) is skipped: nothing it asked for is
written. The units run on the event loop, as an unbatched write did, from ``BEGIN`` to ``COMMIT``
without awaiting; only the number of transactions, and the way the lock is waited for, change.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from opp.store.batching import Pending, fail_all, settle, take_live

__all__ = ["GroupCommit", "Unit", "committing"]

T = TypeVar("T")
Unit = Callable[[sqlite3.Connection], Any]
Begin = Callable[[], Awaitable[sqlite3.Connection]]
FailClosed = Callable[[], contextlib.AbstractContextManager[None]]


class GroupCommit:
    """Batches units of work from one event loop into shared write transactions."""

    def __init__(self, begin: Begin, fail_closed: FailClosed) -> None:
        """``begin``: ``BEGIN IMMEDIATE`` on the connection, waiting for the write lock without
        blocking the loop; ``fail_closed``: maps errors that mean "store unavailable" to the
        gateway's 503."""
        self._begin = begin
        self._fail_closed = fail_closed
        self._queue: list[Pending[Unit]] = []
        self._flushing = False
        self._flusher: asyncio.Task[None] | None = None  # held: the loop keeps only weak references
        self.batches = 0
        """Transactions committed or attempted (for tests and profiles)."""

    async def submit(self, unit: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``unit`` in the next shared transaction; return its result once that committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append(Pending(unit, future))
        if not self._flushing:
            self._flushing = True
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        """Until the queue is empty: take the write lock, then run everything queued meanwhile.

        The batch is taken only once ``BEGIN IMMEDIATE`` succeeded, so the writes that arrive while
        another worker holds the lock join it; from there to ``COMMIT`` nothing awaits.
        """
        try:
            await asyncio.sleep(0)  # the requests of this turn of the loop join the first batch
            while self._queue:
                try:
                    with self._fail_closed():
                        connection = await self._begin()
                except Exception as exc:  # the lock was not obtained: every waiting caller fails
                    fail_all(take_live(self._queue), exc)
                    continue
                self._commit(connection, take_live(self._queue))
        finally:
            self._flushing = False
            if self._queue:  # cancelled (the loop is closing): nobody will run these
                fail_all(take_live(self._queue), asyncio.CancelledError())

    def _commit(self, connection: sqlite3.Connection, batch: list[Pending[Unit]]) -> None:
        self.batches += 1
        try:
            with self._fail_closed(), committing(connection):
                if len(batch) == 1:
                    self._run_alone(batch[0], connection)
                else:
                    for pending in batch:
                        self._run_in_savepoint(pending, connection)
        except BaseException as exc:  # the transaction failed: nothing of this batch is committed
            for pending in batch:
                if pending.outcome is None or pending.outcome[0]:
                    pending.outcome = (False, exc)
            if not isinstance(exc, Exception):
                settle(batch)
                raise
        settle(batch)

    def _run_alone(self, pending: Pending[Unit], connection: sqlite3.Connection) -> None:
        # Alone in its transaction: its failure rolls the transaction back, as an unbatched write.
        with self._fail_closed():
            pending.outcome = (True, pending.unit(connection))

    def _run_in_savepoint(self, pending: Pending[Unit], connection: sqlite3.Connection) -> None:
        connection.execute("SAVEPOINT unit")
        try:
            with self._fail_closed():
                result = pending.unit(connection)
        except Exception as exc:
            pending.outcome = (False, exc)
            with _whole_transaction_lost(connection):
                connection.execute("ROLLBACK TO unit")
        else:
            pending.outcome = (True, result)
        connection.execute("RELEASE unit")


@contextlib.contextmanager
def committing(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """The open transaction committed when the block ends, rolled back if it raises."""
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def _whole_transaction_lost(connection: sqlite3.Connection) -> Iterator[None]:
    """Some errors (disk full, I/O) make SQLite roll back the whole transaction: then the batch
    cannot go on, and the exception ends it (every unit fails, nothing is acknowledged)."""
    if not connection.in_transaction:
        raise sqlite3.OperationalError("the transaction was rolled back by SQLite")
    yield
