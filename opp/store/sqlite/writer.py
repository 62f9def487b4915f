"""Background writes: batched appends on their own connection and thread.

Audit batches and ``last_used_at`` touches are the only writes on a governed read's path. Run on
the event loop they would stall it twice over: the inserts themselves, and — with several worker
processes on one file — SQLite's busy handler *sleeping* while another worker holds the write
lock. On a dedicated connection in a single background thread, both happen off the loop (the
sqlite3 module releases the GIL while SQLite works or waits), and requests keep flowing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["BackgroundWriter"]

T = TypeVar("T")
Connect = Callable[[], sqlite3.Connection]
Transaction = Callable[[sqlite3.Connection, Callable[[sqlite3.Connection], T]], T]


class BackgroundWriter:
    def __init__(self, connect: Connect, transaction: Transaction[object]) -> None:
        self._connect = connect
        self._transaction = transaction
        self._connection: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opp-sqlite-writer")

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            self._connection = self._connect()
        return self._transaction(self._connection, work)  # type: ignore[return-value]

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, work)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        self._executor.submit(self._close).result()
        self._executor.shutdown(wait=True)
