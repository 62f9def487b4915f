"""One connection pool per process to the configured Redis, shared by the counters and the replay cache.

Commands run synchronously on the event loop, as the SQLite counters do: on a nearby Redis one
round trip costs tens of microseconds, less than handing the call to a thread. That is only safe
with short timeouts, so the pool is built with ``timeout_s`` for connecting and reading, and with
redis-py's retries cut to one immediate retry after a dropped connection (its default is ten, with
exponential backoff: seconds of a stalled event loop while Redis is down). A Redis that is down or
silent therefore costs a request at most about two timeouts before it is refused with 503;
once Redis is back, the next command reconnects by itself.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from opp.store.redis.target import RedisTarget

__all__ = ["RedisConnections"]


class RedisConnections:
    """The process's connection pool to ``target`` and a client over it, created on first use."""

    def __init__(self, target: RedisTarget) -> None:
        self.target = target
        self._pool: redis.ConnectionPool | None = None
        self._client: redis.Redis | None = None

    def pool(self) -> redis.ConnectionPool:
        """The pool (``limits``' storage takes it); redis-py renews its connections after a fork."""
        if self._pool is None:
            self._pool = redis.ConnectionPool.from_url(self.target.url, **self._settings())
        return self._pool

    def async_client(self) -> redis.asyncio.Redis:
        """A new ``redis.asyncio`` client with the same timeouts and retries (bound to the running
        loop on first use: the caller keeps one per loop)."""
        return redis.asyncio.Redis.from_url(self.target.url, **self._settings())

    def _settings(self) -> dict[str, Any]:
        timeout = self.target.timeout_s
        return {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        }

    def client(self) -> redis.Redis:
        """A client over :meth:`pool`; creating it does not connect (the first command does)."""
        if self._client is None:
            self._client = redis.Redis(connection_pool=self.pool())
        return self._client

    def close(self) -> None:
        """Drop every connection of the pool (a later command would open new ones)."""
        if self._pool is not None:
            self._pool.disconnect()
