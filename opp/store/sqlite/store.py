"""The embedded SQLite store.

Decisions:

- **Synchronous calls on the event loop.** Every query is small, local and indexed (the hot path,
  ``keys.find_by_hash``, is one SELECT joining ``app_keys`` and ``apps`` on the unique
  ``token_hash`` index), so the async methods call :mod:`sqlite3` directly: a hop to a worker
  thread would cost more than the query. One connection per store instance, opened with
  ``check_same_thread=False`` and ``isolation_level=None`` (autocommit). Because no method awaits
  while it holds the connection, coroutines never interleave inside a transaction.
- **Many processes, one file.** Server workers share the database: WAL journal mode (readers
  never block the writer and see every commit on their next statement, so a revocation is visible
  on the next request), ``synchronous=NORMAL`` (durable across process crashes; the last commits
  may roll back on power loss), ``busy_timeout`` of 5 s, foreign keys on. Every write runs in
  ``BEGIN IMMEDIATE``, so concurrent writers queue for the lock instead of failing on an upgrade.
- **Key lookups from shared memory.** A worker reuses a key's lookup (the key and its app) while
  a word of shared memory that every process moves on a change to an app or a key is unchanged
  (:mod:`opp.store.sqlite.credential_signal`), for at most ``store.key_cache_max_age``: a revocation
  is seen by every worker on its next request with no query per request.
- **Fail closed.** A lock still held after the timeout, disk I/O errors and unopenable or corrupt
  files raise ``OppError(agent.unavailable, "Store unavailable.")``; so does any use of a closed
  store.
- **Storage format.** Timestamps are fixed-width ISO-8601 UTC text (lexical order = time order);
  tuples and dicts are JSON text written with ``msgspec.json`` (see :mod:`opp.store.codec`).
- **Schema.** Versioned migrations (:mod:`opp.store.migrations`) are applied by :meth:`open`
  under the write lock, so two processes opening a new file at once migrate it exactly once. A
  database migrated by a newer ``opp`` is refused with
  :class:`~opp.store.migrations.SchemaVersionError`.
"""

from __future__ import annotations

from opp.clock import Clock, SystemClock
from opp.store.console_protocols import ConsoleStore
from opp.store.pool_settings import KEY_CACHE_MAX_AGE_S
from opp.store.protocols import AdminTokenStore, AppStore, AuditLog, KeyStore, OAuthKeyStore
from opp.store.sqlite.audit import SqliteAuditLog
from opp.store.sqlite.console import SqliteConsole
from opp.store.sqlite.database import BUSY_TIMEOUT_MS, SqliteDatabase
from opp.store.sqlite.oauth import SqliteOAuthKeys
from opp.store.sqlite.records import SqliteAdminTokens, SqliteApps, SqliteKeys
from opp.store.sqlite.writes import SqliteWrites
from opp.store.write_protocols import WriteStore

__all__ = ["SqliteStore"]


class SqliteStore:
    """A :class:`~opp.store.protocols.Store` on one SQLite file.

    Args:
        path: The database file (its directory must exist; see
            :func:`opp.store.factory.open_store`), or ``":memory:"`` for a private database.
        clock: Stamps ``schema_migrations.applied_at``.
        busy_timeout_ms: How long a statement waits for another writer before the store is
            unavailable.
        key_cache_max_age_s: The longest a key or app lookup is reused (``store.key_cache_max_age``;
            a change through any process is seen at once, see :mod:`opp.store.sqlite.cache`).
    """

    def __init__(
        self,
        path: str,
        clock: Clock | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        key_cache_max_age_s: float = KEY_CACHE_MAX_AGE_S,
    ) -> None:
        self._db = SqliteDatabase(path, clock or SystemClock(), busy_timeout_ms)
        self.apps: AppStore = SqliteApps(self._db, key_cache_max_age_s)
        self.keys: KeyStore = SqliteKeys(self._db, key_cache_max_age_s)
        self.admin_tokens: AdminTokenStore = SqliteAdminTokens(self._db)
        self.oauth_keys: OAuthKeyStore = SqliteOAuthKeys(self._db)
        self.audit: AuditLog = SqliteAuditLog(self._db)
        self.writes: WriteStore = SqliteWrites(self._db)
        self.console: ConsoleStore = SqliteConsole(self._db)

    @property
    def path(self) -> str:
        return self._db.path

    async def open(self) -> None:
        """Connect and apply pending migrations (a no-op when already open)."""
        self._db.open()

    async def close(self) -> None:
        self._db.close()

    async def ping(self) -> None:
        """Raise ``OppError(agent.unavailable)`` unless the database answers a query."""
        self._db.schema_version()

    async def schema_version(self) -> int:
        """The highest migration version recorded in the database."""
        return self._db.schema_version()
