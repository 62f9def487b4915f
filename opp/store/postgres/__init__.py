"""The PostgreSQL backend (``store.kind: postgres``): one database shared by every replica."""

from __future__ import annotations

from opp.store.postgres.database import PoolSettings
from opp.store.postgres.store import PostgresStore

__all__ = ["PoolSettings", "PostgresStore"]
