"""One PostgreSQL connection pool: reads, transactions, the schema check and fail-closed errors.

Connections come from a :class:`psycopg_pool.AsyncConnectionPool` and run in autocommit mode, so a
read is one round trip and never leaves a transaction open; every write goes through
:meth:`PostgresDatabase.transaction` (``BEGIN`` … ``COMMIT``, rolled back on any error).

**Fail closed.** A server that cannot be reached, restarts (``57P01 admin_shutdown``), refuses
connections while starting up, or a pool with no free connection within ``pool_timeout``
(:class:`psycopg_pool.PoolTimeout`) becomes ``OppError(agent.unavailable, "Store unavailable.")``:
a 503 envelope, never a 500. A transaction that fails this way is rolled back by the server, so
nothing half-written is left behind; a broken connection is discarded by the pool when it is
returned and a fresh one is made in the background, so service resumes by itself; the first lost
connection also has the idle ones tested at once (``pool.check()``), and a read that met a broken
connection is retried on another (:meth:`PostgresDatabase.read`), so a restart costs few requests
(writes on stale connections) rather than one per pooled connection.

**The URL is a secret.** It is held here and given to libpq, and never appears in a log line, an
error or a ``repr``: errors are logged through :func:`redacted`, which removes the URL and its
password from the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import psycopg
import psycopg_pool
from psycopg import AsyncConnection, AsyncCursor

from opp.store.pool_settings import PoolSettings
from opp.store.rules import store_unavailable

__all__ = ["PoolSettings", "PostgresDatabase", "redacted"]

_log = logging.getLogger(__name__)

Params = Sequence[Any]


def _password_of(url: str) -> str | None:
    try:
        parsed = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parsed.password:
        return parsed.password
    for part in url.split():  # a keyword/value conninfo: "host=… password=…"
        if part.startswith("password="):
            return part.removeprefix("password=").strip("'")
    return None


def redacted(text: str, url: str) -> str:
    """``text`` without ``url`` or the password in it (for log lines and error messages)."""
    for secret in (url, _password_of(url)):
        if secret:
            text = text.replace(secret, "***")
    return text


def _means_unavailable(exc: psycopg.Error) -> bool:
    # OperationalError: connection lost or refused, server shutting down or starting, pool timeout
    # (PoolTimeout subclasses it), deadlock or serialisation failure. InterfaceError: a closed
    # connection or pool. Integrity and programming errors are constraint violations or bugs.
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | psycopg_pool.PoolClosed)


class PostgresDatabase:
    """A lazily opened pool of connections to one PostgreSQL database."""

    def __init__(self, url: str, pool: PoolSettings | None = None) -> None:
        self._url = url
        self._settings = pool or PoolSettings()
        self._pool: psycopg_pool.AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self._checking: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"PostgresDatabase(pool_max_size={self._settings.max_size})"

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    @property
    def settings(self) -> PoolSettings:
        return self._settings

    @contextlib.contextmanager
    def failing_closed(self) -> Iterator[None]:
        """Turn "the store cannot serve" errors into ``OppError(agent.unavailable)``."""
        try:
            yield
        except psycopg.Error as exc:
            if not _means_unavailable(exc):
                raise
            _log.warning("postgres store unavailable: %s", redacted(str(exc), self._url))
            if not isinstance(exc, psycopg_pool.PoolTimeout):
                self._check_idle_connections()
            raise store_unavailable() from None

    def _check_idle_connections(self) -> None:
        """After a lost connection, test the idle ones in the background (``pool.check()``).

        A server restart breaks every pooled connection at once; without this, each would fail one
        more request before the pool replaced it. One check runs at a time.
        """
        if self._pool is None or (self._checking is not None and not self._checking.done()):
            return
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to schedule on
            self._checking = asyncio.get_running_loop().create_task(self._pool.check())

    async def open(self) -> None:
        """Create the pool and wait (at most ``pool_timeout``) for its first connections."""
        if self._pool is not None:
            return
        pool: psycopg_pool.AsyncConnectionPool[AsyncConnection[Any]] = psycopg_pool.AsyncConnectionPool(
            self._url,
            min_size=self._settings.min_size,
            max_size=self._settings.max_size,
            timeout=self._settings.timeout_s,
            kwargs={"autocommit": True},
            open=False,
            name="opp-store",
        )
        try:
            with self.failing_closed():
                await pool.open(wait=self._settings.min_size > 0, timeout=self._settings.timeout_s)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._checking is not None:
            self._checking.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await self._checking
            self._checking = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> psycopg_pool.AsyncConnectionPool[AsyncConnection[Any]]:
        if self._pool is None:
            raise store_unavailable()
        return self._pool

    async def read(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """All rows of one SELECT, on a pooled autocommit connection.

        A SELECT is safe to repeat, so one that fails on a connection found broken (the server
        restarted since the connection was pooled) is retried on another, as many times as the pool
        can hold connections: after a restart, reads go on without a 503 per stale connection.
        Writes are never retried (their outcome may be unknown) and still fail closed.
        """
        retries = self._settings.max_size
        with self.failing_closed():
            while True:
                connection: AsyncConnection[Any] | None = None
                try:
                    async with self.pool.connection() as connection:
                        cursor = await connection.execute(sql, params)
                        return await cursor.fetchall()
                except psycopg.OperationalError:
                    if connection is None or not connection.broken or retries == 0:
                        raise
                    retries -= 1
                    self._check_idle_connections()

    @contextlib.asynccontextmanager
    async def transaction(self, *, pipelined: bool = False) -> AsyncIterator[AsyncCursor[Any]]:
        """A cursor inside ``BEGIN`` … ``COMMIT`` on one pooled connection, rolled back on error.

        ``pipelined``: in libpq's pipeline mode, statements are sent without waiting for their
        results; the connection waits only where a result is read (``fetchone``/``fetchall``) and
        at ``COMMIT``. A draft's transaction (``BEGIN``, inserts, the chain lock and head, the
        events, ``COMMIT``) then costs two round trips instead of six, and holds the chain lock for
        one. Errors surface at the next read or at the end, still rolled back. ``rowcount`` is not
        known until a read: pipelined callers use ``RETURNING`` and fetch instead.
        """
        with self.failing_closed():
            async with self.pool.connection() as connection:
                if not pipelined:
                    async with connection.transaction(), connection.cursor() as cursor:
                        yield cursor
                    return
                async with _pipelined_transaction(connection) as cursor:
                    yield cursor


@contextlib.asynccontextmanager
async def _pipelined_transaction(connection: AsyncConnection[Any]) -> AsyncIterator[AsyncCursor[Any]]:
    """``BEGIN`` … ``COMMIT`` sent in one pipeline, answered by the one ``Sync`` of its end.

    psycopg's ``connection.transaction()`` inside a pipeline nests two more pipelines around the
    block, each ending in a ``Sync`` and a wait: three round trips to close a transaction, and
    more of psycopg's Python per batch than its statements (measured: 26 pipeline exchanges
    for a one-draft batch). Here the statements go as sent: when one fails, PostgreSQL skips
    every later one up to the ``Sync`` — ``COMMIT`` included, so nothing is committed — and the
    error is raised when the pipeline ends; leaving the pooled connection's block with it rolls
    the failed transaction back (psycopg's ``AsyncConnection.__aexit__``).
    """
    async with connection.pipeline():
        cursor = connection.cursor()
        await cursor.execute("BEGIN")
        yield cursor
        await cursor.execute("COMMIT")
