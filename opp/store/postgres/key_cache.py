"""Key lookups reused across requests, with revocation still seen on every replica's next request.

Every agent request looks up its key and the key's app (:meth:`PostgresKeys.find_by_hash`). On
SQLite a reused row is checked against ``PRAGMA data_version``; across replicas the equivalent here
is a notification plus one shared round trip:

* Migration 6 adds triggers that ``pg_notify('opp_credentials', …)`` on every committed change to
  ``apps`` or ``app_keys`` — by any replica, the CLI or manual SQL — except the batched
  ``last_used_at`` touch. Each worker keeps one dedicated connection that ``LISTEN``-s on it; a
  notification drops every cached lookup (a generation counter moves on).
* Before a request may use a cached lookup, a ``SELECT 1`` round trip on that connection must have
  *begun after the request arrived* and completed. PostgreSQL signals every listener when the
  changing transaction commits and sends pending notifications before it answers the listener's
  next command, so a change committed before the request arrived (any revocation whose answer a
  client could have seen) has dropped the cache by then. Requests that arrive while one round trip
  is in flight share the next one: under load one round trip validates a whole batch of requests,
  which is where the saving is (one cheap ``SELECT 1`` per batch instead of one lookup per request).
* A lookup is stored only if no notification came since its validating round trip (the generation
  it returned is still current), and any later notification empties the cache: a change committed
  while the row was being read is never served from the cache.
* Nothing is cached while the listener is not connected (at start, after PostgreSQL restarts, while
  it reconnects in the background) or a round trip fails or outlasts ``timeout_s``: every lookup then
  reads PostgreSQL, which fails closed on its own. A reconnected listener starts from an empty cache.
* ``max_age_s`` bounds how long any lookup is reused at all (defence in depth);
  ``store.key_cache_max_age: 0s`` turns the cache off (one lookup query per request).
* With no traffic, a round trip still runs every ``max_age_s``: notifications do not pile up
  unread, and a listener that died silently is found and replaced before it is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import psycopg

from opp.store.postgres.database import redacted

__all__ = ["CHANNEL", "RECONNECT_DELAYS_S", "KeyCache"]

CHANNEL = "opp_credentials"
"""The notification channel of migration 6's triggers."""

RECONNECT_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
"""Waits between attempts to reconnect a lost listener (the last one repeats)."""

_SIZE = 4096
_log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class KeyCache(Generic[K, V]):
    """Values reused until the next ``opp_credentials`` notification (at most ``max_age_s``)."""

    def __init__(
        self,
        url: str,
        max_age_s: float,
        timeout_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._monotonic = monotonic
        self._found: dict[K, tuple[float, V]] = {}  # stored at: a change empties it all
        self._generation = 0
        self._listener: psycopg.AsyncConnection[Any] | None = None
        self._next: asyncio.Future[int | None] | None = None
        self._rounds: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._closed = True

    @property
    def enabled(self) -> bool:
        return self._max_age_s > 0

    @property
    def listening(self) -> bool:
        return self._listener is not None

    async def start(self) -> None:
        """Connect the listener; if that fails, keep trying in the background (nothing is cached)."""
        if not self.enabled:
            return
        self._closed = False
        if not await self._listen():
            self._reconnect_later()
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())

    async def close(self) -> None:
        self._closed = True
        for task in (self._keepalive, self._reconnecting, self._rounds):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._keepalive = self._reconnecting = self._rounds = None
        if self._next is not None and not self._next.done():
            self._next.set_result(None)
        self._next = None
        await self._drop_listener()

    async def validated(self) -> int | None:
        """The generation after a listener round trip begun after this call; None: do not cache."""
        if self._listener is None:
            return None
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            if self._rounds is None or self._rounds.done():
                self._rounds = asyncio.get_running_loop().create_task(self._run_rounds())
        return await asyncio.shield(self._next)

    def get(self, key: K, generation: int) -> V | None:
        """The value cached for ``key`` if nothing changed before ``generation`` was validated."""
        cached = self._found.get(key)
        if cached is None:
            return None
        at, value = cached
        if generation != self._generation or self._monotonic() - at >= self._max_age_s:
            del self._found[key]
            return None
        return value

    def put(self, key: K, value: V, generation: int) -> None:
        """Cache ``value``, read after :meth:`validated` returned ``generation``, unless changed since."""
        if self._listener is None or generation != self._generation:
            return
        if len(self._found) >= _SIZE:
            self._found.clear()
        self._found[key] = (self._monotonic(), value)

    # --- the listener --------------------------------------------------------------------------

    def _changed(self, *_: object) -> None:
        self._generation += 1
        self._found.clear()

    async def _run_rounds(self) -> None:
        """One ``SELECT 1`` at a time, each answering the requests that arrived before it was sent."""
        while self._next is not None:
            waiting, self._next = self._next, None
            listener = self._listener
            if listener is None:
                waiting.set_result(None)
                continue
            try:
                await asyncio.wait_for(listener.execute("SELECT 1"), self._timeout_s)
            except (psycopg.Error, TimeoutError) as exc:
                await self._lost(exc)
                waiting.set_result(None)
            except BaseException:  # cancelled by close(): its waiters read the store instead
                waiting.set_result(None)
                raise
            else:
                waiting.set_result(self._generation)  # notifications received during it applied

    async def _keep_alive(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._max_age_s)
            await self.validated()

    async def _lost(self, exc: BaseException) -> None:
        _log.warning(
            "key cache: the %s listener failed (%s); caching nothing until it is back",
            CHANNEL,
            redacted(str(exc) or type(exc).__name__, self._url),
        )
        await self._drop_listener()
        self._reconnect_later()

    async def _listen(self) -> bool:
        try:
            listener = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=max(1, round(self._timeout_s))
            )
            listener.add_notify_handler(self._changed)
            await listener.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            _log.warning("key cache: cannot listen on %s: %s", CHANNEL, redacted(str(exc), self._url))
            return False
        if self._closed:
            await listener.close()
            return False
        self._changed()  # anything cached before this listener existed is dropped
        self._listener = listener
        return True

    def _reconnect_later(self) -> None:
        if self._closed or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        for attempt in itertools.count():
            await asyncio.sleep(RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)])
            if self._closed or await self._listen():
                return

    async def _drop_listener(self) -> None:
        listener, self._listener = self._listener, None
        self._changed()
        if listener is not None:
            with contextlib.suppress(psycopg.Error):
                await listener.close()
