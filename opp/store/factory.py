"""Build the configured store (``store.kind`` / ``store.path`` in ``gateway.yaml``)."""

from __future__ import annotations

import os

from opp.clock import Clock
from opp.store.memory import MemoryStore
from opp.store.protocols import Store
from opp.store.sqlite import SqliteStore

__all__ = ["STORE_KINDS", "open_store"]

STORE_KINDS = ("memory", "sqlite")

_IN_MEMORY_PATH = ":memory:"


def open_store(kind: str, path: str, clock: Clock | None = None) -> Store:
    """A new, not yet opened store; ``await store.open()`` connects and migrates it.

    Args:
        kind: ``"memory"`` or ``"sqlite"``.
        path: The SQLite file (its parent directories are created); ignored for ``memory``.
        clock: Stamps migration records (SQLite only).

    Raises:
        ValueError: ``kind`` is not a known store kind.
    """
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        if path != _IN_MEMORY_PATH:
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        return SqliteStore(path, clock)
    raise ValueError(f"unknown store kind {kind!r}; expected one of {', '.join(STORE_KINDS)}")
