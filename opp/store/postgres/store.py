"""The PostgreSQL store (``store.kind: postgres``): shared by every replica of the gateway.

Decisions (see docs/ARCHITECTURE.md for the driver choice):

- **psycopg 3, async, with psycopg_pool.** Every method awaits the network, so the event loop keeps
  serving while a query is in flight; each worker process owns one pool (``store.pool_min_size`` …
  ``pool_max_size`` connections, ``pool_timeout`` as the bound on waiting for one). Statements are
  prepared by the server after a few executions (psycopg's ``prepare_threshold``).
- **Same semantics as SQLite, across replicas.** Atomicity, compare-and-set, idempotency, quorum
  and the one audit hash chain are kept by row and advisory locks (:mod:`.writes`, :mod:`.audit`);
  the contract suite (``tests/unit/store/``) runs the same tests on memory, SQLite and PostgreSQL.
- **Migrated explicitly.** :meth:`open` connects and checks the schema: one that is behind raises
  :class:`~opp.store.migrations.SchemaBehindError` naming ``opp migrate FILE``, one that is newer
  :class:`~opp.store.migrations.SchemaVersionError`. :meth:`migrate` applies the migrations under
  an advisory lock (:mod:`.migrate`), so replicas never race a schema change at start-up.
- **Fail closed.** An unreachable or restarting server and an exhausted pool raise
  ``OppError(agent.unavailable)`` (503); the URL never appears in logs or errors (:mod:`.database`).
"""

from __future__ import annotations

from opp.clock import Clock, SystemClock
from opp.store.console_protocols import ConsoleStore
from opp.store.migrations import check_schema_current
from opp.store.postgres.audit import PostgresAuditLog
from opp.store.postgres.console import PostgresConsole
from opp.store.postgres.database import PoolSettings, PostgresDatabase
from opp.store.postgres.key_cache import KeyCache
from opp.store.postgres.migrate import migrate, schema_version
from opp.store.postgres.records import PostgresAdminTokens, PostgresApps, PostgresKeys, PostgresOAuthKeys
from opp.store.postgres.writes import PostgresWrites
from opp.store.protocols import AdminTokenStore, AppStore, AuditLog, KeyStore, OAuthKeyStore
from opp.store.records import AppRecord, KeyRecord
from opp.store.write_protocols import WriteStore

__all__ = ["PostgresStore"]


class PostgresStore:
    """A :class:`~opp.store.protocols.Store` on one PostgreSQL database.

    Args:
        url: A libpq connection URL or conninfo string (a secret: never logged).
        pool: Pool sizes and the wait bound.
        clock: Stamps ``schema_migrations.applied_at``.
        config_file: Named in the "run ``opp migrate FILE``" message of a schema that is behind.
    """

    def __init__(
        self,
        url: str,
        pool: PoolSettings | None = None,
        clock: Clock | None = None,
        config_file: str = "gateway.yaml",
    ) -> None:
        self._db = PostgresDatabase(url, pool)
        self._clock = clock or SystemClock()
        self._config_file = config_file
        self.apps: AppStore = PostgresApps(self._db)
        settings = self._db.settings
        self._key_cache: KeyCache[str, tuple[KeyRecord, AppRecord]] = KeyCache(
            url, settings.key_cache_max_age_s, settings.timeout_s
        )
        self.keys: KeyStore = PostgresKeys(self._db, self._key_cache)
        self.admin_tokens: AdminTokenStore = PostgresAdminTokens(self._db)
        self.oauth_keys: OAuthKeyStore = PostgresOAuthKeys(self._db)
        self.audit_log = PostgresAuditLog(self._db)
        """The audit log with its verification reads (``stored_rows``, ``anchor``, ``archive_through``)."""
        self.audit: AuditLog = self.audit_log
        self.writes: WriteStore = PostgresWrites(self._db)
        self.console: ConsoleStore = PostgresConsole(self._db)

    def __repr__(self) -> str:
        return "PostgresStore()"

    @property
    def database(self) -> PostgresDatabase:
        return self._db

    @property
    def key_cache(self) -> KeyCache[str, tuple[KeyRecord, AppRecord]]:
        """The key-lookup cache (:mod:`.key_cache`)."""
        return self._key_cache

    async def open(self) -> None:
        """Connect and check the schema is current (it is NOT migrated here: see :meth:`migrate`)."""
        await self._db.open()
        try:
            check_schema_current(await schema_version(self._db), self._config_file)
            await self._key_cache.start()
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        await self._key_cache.close()
        await self._db.close()

    async def ping(self) -> None:
        """Raise ``OppError(agent.unavailable)`` unless the database answers a query."""
        await self._db.read("SELECT 1")

    async def schema_version(self) -> int:
        """The highest migration version recorded in the database (0: never migrated)."""
        return await schema_version(self._db)

    async def migrate(self) -> list[int]:
        """Apply pending migrations (safe to run from several replicas at once); the versions applied.

        Works on a store that is connected or not: it opens the pool for the duration if needed.
        """
        if self._db.is_open:
            return await migrate(self._db, self._clock)
        await self._db.open()
        try:
            return await migrate(self._db, self._clock)
        finally:
            await self._db.close()
