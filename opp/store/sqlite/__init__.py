"""The SQLite backend: one file, WAL mode, one background writer thread (``store.kind: sqlite``)."""

from __future__ import annotations

from opp.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
