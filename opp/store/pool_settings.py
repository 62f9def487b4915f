"""The PostgreSQL pool settings (``store.pool_*``), kept apart from the driver so that compiling a
config or running a CLI command does not import psycopg."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KEY_CACHE_MAX_AGE_S", "PoolSettings"]

KEY_CACHE_MAX_AGE_S = 5.0
"""``store.key_cache_max_age``'s default: the longest any key lookup is reused (both SQL stores)."""


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """Sizes and the wait bound of the connection pool (``store.pool_*`` in ``gateway.yaml``), and
    how long a key lookup may be reused between change notifications (``store.key_cache_max_age``;
    0 turns the cache off; the SQLite store takes this bound from here too)."""

    min_size: int = 1
    max_size: int = 10
    timeout_s: float = 5.0
    key_cache_max_age_s: float = KEY_CACHE_MAX_AGE_S
