"""Rows by key, read together: the lookups that concurrent requests make in one turn of the loop.

A keyed write first looks up its ``Idempotency-Key`` (a replay is answered before any backend
call), a preflight-bound one its preflight. On PostgreSQL each such lookup was a round trip of
its own — a pooled connection, a query, its wait — for a few dozen bytes (measured: a fifth of a
replica's CPU on keyed drafts). :class:`BatchedLookup` sends the lookups queued while the loop
was busy as ONE query over all their keys (``= ANY(…)`` on one array per key column) and hands
each caller its row, as :mod:`opp.store.redis.pipelined` does for counter hits.

**Still a read of the caller's present.** The query of a batch is sent after every caller in it
asked (the batch is taken when the sender runs, after the turn that queued them), so each caller
sees every transaction committed before it asked, its own included; while a batch is out, new
lookups wait for the next one rather than join a query already sent. A failure (the store is
unavailable: ``OppError``, a 503) fails every caller of the batch, as it would have failed each
alone; a caller that went away is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from opp.store.postgres.database import PostgresDatabase

__all__ = ["BatchedLookup"]

K = TypeVar("K", bound=Hashable)
Row = tuple[Any, ...]


class BatchedLookup(Generic[K]):
    """One row (or none) per key, the keys asked for in one turn of the loop read in one query.

    ``sql`` selects the rows of a list of keys from its parameters — ``arrays(keys)``, one list
    per key column — and ``key_of`` gives a returned row's key.
    """

    def __init__(
        self,
        db: PostgresDatabase,
        sql: str,
        arrays: Callable[[list[K]], list[list[Any]]],
        key_of: Callable[[Row], K],
    ) -> None:
        self._db = db
        self._sql = sql
        self._arrays = arrays
        self._key_of = key_of
        self._waiting: dict[K, list[asyncio.Future[Row | None]]] = {}
        self._sender: asyncio.Task[None] | None = None  # held: the loop keeps only weak references
        self.queries = 0
        """Queries sent (each answering one batch of lookups)."""

    async def get(self, key: K) -> Row | None:
        """The row of ``key``, read by a query sent after this call; None if there is none."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Row | None] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._sender is None:
            self._sender = loop.create_task(self._send_all(), name="opp-postgres-lookups")
        return await future

    async def _send_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                await self._send(batch)
        finally:
            self._sender = None

    async def _send(self, batch: dict[K, list[asyncio.Future[Row | None]]]) -> None:
        keys = [key for key, futures in batch.items() if not all(future.done() for future in futures)]
        if not keys:
            return
        self.queries += 1
        try:
            rows = await self._db.read(self._sql, self._arrays(keys))
        except Exception as exc:
            for future in _undone(batch):
                future.set_exception(exc)
            return
        except BaseException:  # cancelled with the loop: nobody is left waiting unanswered
            for future in _undone(batch):
                future.cancel()
            raise
        found = {self._key_of(row): row for row in rows}
        for key, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(key))


def _undone(batch: dict[K, list[asyncio.Future[Row | None]]]) -> list[asyncio.Future[Row | None]]:
    return [future for futures in batch.values() for future in futures if not future.done()]
