"""Rows reused while the SQLite file is unchanged: revocation stays visible on the next request.

A found row is reused only while the database generation (:meth:`SqliteDatabase.generation`) is
the one it was read at, i.e. nothing at all has been committed to the file since, by any
connection of any process; any commit (a revocation, another worker's audit batch) makes the next
lookup read the row again. The generation is read before the row, so a commit racing with the
read is always seen by the following lookup. A lookup costs one ``PRAGMA data_version``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from opp.store.sqlite.database import SqliteDatabase

__all__ = ["GenerationCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class GenerationCache(Generic[K, V]):
    def __init__(self, db: SqliteDatabase, size: int = 4096) -> None:
        self._db = db
        self._size = size
        self._found: dict[K, tuple[tuple[int, int], V]] = {}

    def get(self, key: K, load: Callable[[], V | None]) -> V | None:
        """The value of ``key``: cached if the file has not changed since, else ``load()``-ed."""
        generation = self._db.generation()
        cached = self._found.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        found = load()
        if found is None:
            return None
        if len(self._found) >= self._size:
            self._found.clear()
        self._found[key] = (generation, found)
        return found
