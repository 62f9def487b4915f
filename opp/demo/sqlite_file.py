"""The SQLite file both demo backends keep their rows in, shared by every ``opp serve`` worker.

WAL mode and a busy timeout, so several processes read while one writes; every write is one
``BEGIN IMMEDIATE`` transaction (:func:`write_transaction`), so read-then-write blocks are atomic
across processes. ``synchronous = NORMAL``, as the gateway's own store: a commit survives the
process being killed (it is in the OS's page cache) and is synced to disk at the next WAL
checkpoint; with SQLite's default (``FULL``, an ``fsync`` per commit) the demo backend's write was
a sixth of an auto-executed action's time on the event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MEMORY", "open_demo_file", "write_transaction"]

MEMORY = ":memory:"


def open_demo_file(path: str | Path) -> sqlite3.Connection:
    """Open (creating it and its directory) ``path``, or an in-memory database for ``:memory:``."""
    if str(path) != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA busy_timeout = 5000")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


@contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back if it raises.

    Taking the write lock first makes read-then-write blocks atomic across processes; another
    writer waits up to the busy timeout.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
