"""Group commit: the state changes of concurrent requests share one SQLite transaction.

A draft's own statements cost a few tens of microseconds; its ``BEGIN IMMEDIATE`` … ``COMMIT``
costs several times that — taking the write lock, then writing every B-tree page the
transaction touched (the table, its indexes, the audit log and its indexes) to the WAL. Requests
that reach the store in the same turn of the event loop are therefore committed together:

* :meth:`GroupCommit.submit` queues a unit of work and schedules one flush for the next turn of
  the loop (``call_soon``), so every request that gets to its write before then joins the batch;
* the flush opens one transaction and runs each unit inside its own ``SAVEPOINT``: a unit that
  raises (a constraint, a vanished row) is rolled back to its savepoint alone and its caller gets
  the exception, while the others go on;
* only after ``COMMIT`` succeeds does any caller get its result, so an acknowledged write is a
  committed write, and each audit event still commits with the state change it describes. When
  the transaction itself fails (the lock not obtained in time, disk I/O, SQLite rolling the
  whole transaction back), every caller of the batch gets the failure — none was acknowledged.

A caller cancelled before the flush (its client went away) is skipped: nothing it asked for is
written. The work runs on the event loop, as an unbatched write did; only the number of
transactions changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["GroupCommit", "Unit"]

T = TypeVar("T")
Unit = Callable[[sqlite3.Connection], Any]
Transaction = Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]
FailClosed = Callable[[], contextlib.AbstractContextManager[None]]


class _Pending:
    __slots__ = ("future", "outcome", "unit")

    def __init__(self, unit: Unit, future: asyncio.Future[Any]) -> None:
        self.unit = unit
        self.future = future
        self.outcome: tuple[bool, Any] | None = None  # (succeeded, result or exception)


class GroupCommit:
    """Batches units of work from one event loop into shared write transactions."""

    def __init__(self, transaction: Transaction, fail_closed: FailClosed) -> None:
        """``transaction``: a ``BEGIN IMMEDIATE`` … ``COMMIT`` context (rolled back on error);
        ``fail_closed``: maps errors that mean "store unavailable" to the gateway's 503."""
        self._transaction = transaction
        self._fail_closed = fail_closed
        self._queue: list[_Pending] = []
        self.batches = 0
        """Transactions committed or attempted (for tests and profiles)."""

    async def submit(self, unit: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``unit`` in the next shared transaction; return its result once that committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)
        self._queue.append(_Pending(unit, future))
        return await future

    def _flush(self) -> None:
        batch = [pending for pending in self._queue if not pending.future.cancelled()]
        self._queue = []
        if not batch:
            return
        self.batches += 1
        try:
            with self._fail_closed(), self._transaction() as connection:
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
                self._settle(batch)
                raise
        self._settle(batch)

    def _run_alone(self, pending: _Pending, connection: sqlite3.Connection) -> None:
        # Alone in its transaction: its failure rolls the transaction back, as an unbatched write.
        with self._fail_closed():
            pending.outcome = (True, pending.unit(connection))

    def _run_in_savepoint(self, pending: _Pending, connection: sqlite3.Connection) -> None:
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

    @staticmethod
    def _settle(batch: list[_Pending]) -> None:
        for pending in batch:
            if pending.future.done() or pending.outcome is None:
                continue
            succeeded, value = pending.outcome
            if succeeded:
                pending.future.set_result(value)
            else:
                pending.future.set_exception(value)


@contextlib.contextmanager
def _whole_transaction_lost(connection: sqlite3.Connection) -> Iterator[None]:
    """Some errors (disk full, I/O) make SQLite roll back the whole transaction: then the batch
    cannot go on, and the exception ends it (every unit fails, nothing is acknowledged)."""
    if not connection.in_transaction:
        raise sqlite3.OperationalError("the transaction was rolled back by SQLite")
    yield
