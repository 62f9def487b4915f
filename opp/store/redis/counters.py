"""Rate-limit counters in Redis: ``limits``' own Redis storage over the process's connection pool."""

from __future__ import annotations

from limits.storage import RedisStorage

from opp.store.redis.client import RedisConnections
from opp.store.redis.target import RedisTarget

__all__ = ["KEY_PREFIX", "counters_storage"]

KEY_PREFIX = "opp:ratelimit"
"""Prefix of every counter key (``limits`` adds ``/``-separated rule id and caller values)."""


def counters_storage(target: RedisTarget) -> RedisStorage:
    """A ``limits`` storage counting in Redis (atomic Lua increments; every strategy, moving window too).

    Failures surface as ``limits.errors.StorageError``, as from the other storages.
    """
    connections = RedisConnections(target)
    return RedisStorage(
        target.url,
        connection_pool=connections.pool(),
        key_prefix=KEY_PREFIX,
        wrap_exceptions=True,
    )
