"""The in-memory backend: dicts and lists in one process, gone on restart (``store.kind: memory``)."""

from __future__ import annotations

from opp.store.memory.store import MemoryStore

__all__ = ["MemoryStore"]
