"""Group commit on PostgreSQL: the inserts of concurrent requests share one transaction.

A draft's own statements cost little; its transaction around them costs most of it — a pooled
connection, pipeline mode, ``BEGIN``, the chain lock, the chain head read, the events' insert and
``COMMIT``, each with psycopg's per-statement machinery (measured: 78 % of a replica's CPU per
draft was ``create_draft``, most of it there). Requests that reach the store in the same turn of
the event loop are therefore committed together:

* :meth:`PostgresGroupCommit.submit` queues a unit and starts a flush for the next turn of the
  loop; while a batch is in flight, the units arriving meanwhile queue for the next one;
* the flush opens ONE pipelined transaction, runs each unit's row changes in turn, then seals
  the audit events of all of them onto the chain in one go — one ``pg_advisory_xact_lock``, one
  head read, one insert of every event from one JSON parameter
  (:func:`~opp.store.postgres.audit.insert_events`) — and commits. Each event still commits in
  the same transaction as the state change it describes, and the chain lock is still taken
  last, after every row change;
* **locks in one order, so no deadlock.** Units run sorted by their ``order``: inserts of new rows
  (``""``: no lock), then those taking an idempotency key's advisory lock (``k:`` + the key, so two
  batches on two replicas take those locks in the same order), then the executions this replica
  finishes (``x:`` + the draft id: rows no other batch locks, since a draft's one execution is
  finished by the replica that started it). The chain lock comes after all of them. Writes that
  lock an existing row on behalf of anyone (transitions, votes, execution starts) stay one
  transaction each, holding one row and then the chain: none waits for a row while holding one
  another transaction waits for, and whoever holds the chain waits for nothing else;
* **a unit's failure is its own.** When any statement of the batch fails (a duplicate id, a
  missing parent row), the transaction is rolled back — nothing of it was acknowledged — and each
  unit is run again alone in its own transaction, so its caller gets exactly the outcome an
  unbatched write would have had. A batch rolled back because the store is unavailable fails
  every caller closed (503) and is not run again: its ``COMMIT`` may have been lost in flight;
* **no round trip per unit.** A unit sends its statements without reading their results where it
  can. What it must read before going on (a keyed draft's idempotency claim, read under the key's
  lock) it returns as :class:`Then`: every unit's first statements are sent before the first
  ``Then`` reads, so the claims of a whole batch come back in one round trip. A result it must
  only check (the execution it finished exists) it returns as :class:`Deferred`, read once the
  chain head was — the batch's one other wait — and still before ``COMMIT``, so a failed check
  rolls the batch back like a failing statement. A batch costs two or three round trips however
  many units it has. Two units taking one idempotency key never share a batch (the second waits
  for the next one and sees the first one's claim);
* only after ``COMMIT`` succeeds does any caller get its result. A caller cancelled before the
  flush (its client went away) is skipped: nothing it asked for is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from psycopg import AsyncCursor

from opp.store.batching import Pending, fail_all, settle, take_live
from opp.store.errors import StoreUnavailable
from opp.store.postgres.audit import insert_events
from opp.store.postgres.database import PostgresDatabase
from opp.store.records import AuditEvent

__all__ = ["Deferred", "PostgresGroupCommit", "Step", "Then", "Unit"]

T = TypeVar("T")
Unit = Callable[[AsyncCursor[Any]], Awaitable[tuple[Any, list[AuditEvent]]]]
"""Sends its row changes on the cursor; returns its result and the audit events to commit with them."""


class Then(Generic[T]):
    """A unit's first step sent statements whose answers decide the rest: ``proceed`` reads them.

    Every unit's first step is sent before any ``proceed`` runs, so the reads of a whole batch
    (each keyed draft's idempotency claim, read under its lock) share one round trip instead of
    one each. ``proceed`` sends the unit's row changes and returns its result and events.
    """

    __slots__ = ("proceed",)

    def __init__(self, proceed: Callable[[], Awaitable[tuple[T, list[AuditEvent]]]]) -> None:
        self.proceed = proceed


class Deferred(Generic[T]):
    """A unit's result known only once its statements were answered: ``resolve`` reads and checks it.

    Raising there (``KeyError``: the row a unit updated does not exist) fails the unit like a
    failing statement: the batch is rolled back and each unit run again alone.
    """

    __slots__ = ("resolve",)

    def __init__(self, resolve: Callable[[], Awaitable[T]]) -> None:
        self.resolve = resolve


Step = tuple["T | Then[T] | Deferred[T]", list[AuditEvent]]
"""What a unit returns: its result (or how to get it) and the audit events to commit with it."""


class PostgresGroupCommit:
    """Batches the inserts of one event loop into shared PostgreSQL transactions."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._queue: list[Pending[Unit]] = []
        self._flusher: asyncio.Task[None] | None = None  # held: the loop keeps only weak references
        self.batches = 0
        """Transactions committed or attempted, the reruns of a failed batch's units included."""

    async def submit(self, unit: Callable[[AsyncCursor[Any]], Awaitable[Step[T]]], order: str = "") -> T:
        """Run ``unit`` in the next shared transaction; return its result once that committed.

        ``order``: the advisory lock the unit takes, if any (units run sorted by it; of several
        units taking the same lock, one per batch: the others wait for the next batch, where they
        see what it committed).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append(Pending(unit, future, order))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # the requests of this turn of the loop join the first batch
            while self._queue:
                batch, later = _one_per_lock(take_live(self._queue))
                self._queue[:0] = later
                if batch:
                    await self._commit(batch)
        finally:
            if self._queue:  # cancelled (the loop is closing): nobody will run these
                fail_all(take_live(self._queue), asyncio.CancelledError())

    async def _commit(self, batch: list[Pending[Unit]]) -> None:
        if len(batch) > 1:
            try:
                results = await self._transact(batch)
            except StoreUnavailable as exc:  # its COMMIT may have been lost: not run again
                fail_all(batch, exc)
                return
            except Exception:  # noqa: S110 - a unit failed, nothing was acknowledged: each alone below
                pass
            except BaseException as exc:  # cancelled (the loop is closing)
                fail_all(batch, exc)
                raise
            else:
                for pending, result in zip(batch, results, strict=True):
                    pending.outcome = (True, result)
                settle(batch)
                return
        for index, pending in enumerate(batch):
            try:
                await self._commit_alone(pending)
            except BaseException as exc:  # cancelled (the loop is closing): the rest fail with it
                fail_all(batch[index + 1 :], exc)
                raise

    async def _commit_alone(self, pending: Pending[Unit]) -> None:
        try:
            (result,) = await self._transact([pending])
        except Exception as exc:  # its own failure, as an unbatched write's
            fail_all([pending], exc)
        except BaseException as exc:
            fail_all([pending], exc)
            raise
        else:
            pending.outcome = (True, result)
            settle([pending])

    async def _transact(self, batch: list[Pending[Unit]]) -> list[Any]:
        self.batches += 1
        results: list[Any] = []
        events: list[AuditEvent] = []
        async with self._db.transaction(pipelined=True) as cursor:
            steps = [await pending.unit(cursor) for pending in batch]
            for index, (result, _) in enumerate(steps):
                if isinstance(result, Then):  # the first one's read waits for every first step
                    steps[index] = await result.proceed()
            for result, unit_events in steps:
                results.append(result)
                events += unit_events
            await insert_events(cursor, events)
            for index, result in enumerate(results):
                if isinstance(result, Deferred):
                    results[index] = await result.resolve()
        return results


def _one_per_lock(queued: list[Pending[Unit]]) -> tuple[list[Pending[Unit]], list[Pending[Unit]]]:
    """The next batch, sorted by lock, with one unit per lock; and the units left for later.

    Two units with one idempotency key in one batch would both read the key unclaimed (every
    unit's read is sent before any unit inserts); the second runs in the next batch instead and
    finds the first one's claim.
    """
    batch: list[Pending[Unit]] = []
    later: list[Pending[Unit]] = []
    for pending in sorted(queued, key=lambda pending: pending.order):
        if pending.order and batch and batch[-1].order == pending.order:
            later.append(pending)
        else:
            batch.append(pending)
    return batch, later
