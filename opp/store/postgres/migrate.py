"""The PostgreSQL migration history: the shared :data:`~opp.store.migrations.MIGRATIONS`, in PostgreSQL.

The versions, descriptions and table layouts are those of :mod:`opp.store.migrations` (one
numbering for every SQL backend); :func:`postgres_script` rewrites the two SQLite-only spellings:

* ``INTEGER PRIMARY KEY AUTOINCREMENT`` (the insertion counters) → ``BIGINT GENERATED ALWAYS AS
  IDENTITY PRIMARY KEY``;
* ``INTEGER`` → ``BIGINT`` (SQLite integers are 64-bit; so are PostgreSQL's ``BIGINT``).

PostgreSQL is migrated explicitly (``opp migrate FILE``), never by ``opp serve``: :func:`migrate`
takes ``pg_advisory_xact_lock`` first and applies every pending migration in ONE transaction, so
replicas running it at once apply each migration exactly once (the others wait, then find nothing
to do) and a failed migration leaves the schema as it was.
"""

from __future__ import annotations

import re

from opp.clock import Clock
from opp.store.codec import encode_timestamp
from opp.store.migrations import LEDGER_DDL, Migration, pending_migrations, split_statements
from opp.store.postgres.database import PostgresDatabase

__all__ = ["MIGRATION_LOCK", "migrate", "postgres_script", "schema_version"]

MIGRATION_LOCK = 0x6F7070_6D696772
"""The ``pg_advisory_xact_lock`` key ``opp migrate`` holds while it applies migrations."""

_AUTOINCREMENT = re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b")
_INTEGER = re.compile(r"\bINTEGER\b")


def postgres_script(migration: Migration) -> str:
    """``migration``'s script in PostgreSQL's dialect."""
    script = _AUTOINCREMENT.sub("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", migration.script)
    return _INTEGER.sub("BIGINT", script)


async def schema_version(db: PostgresDatabase) -> int:
    """The highest migration version recorded in the database (0 when it was never migrated)."""
    rows = await db.read("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not rows[0][0]:
        return 0
    rows = await db.read("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    return int(rows[0][0])


async def migrate(db: PostgresDatabase, clock: Clock) -> list[int]:
    """Apply the pending migrations under the migration lock; return the versions applied."""
    async with db.transaction() as cursor:
        await cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await cursor.execute(LEDGER_DDL)
        await cursor.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        row = await cursor.fetchone()
        applied: list[int] = []
        for migration in pending_migrations(int(row[0]) if row else 0):
            for statement in split_statements(postgres_script(migration)):
                await cursor.execute(statement)
            if migration.postgres:
                await cursor.execute(migration.postgres)  # one batch: bodies hold semicolons
            await cursor.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (%s, %s, %s)",
                (migration.version, migration.description, encode_timestamp(clock.now())),
            )
            applied.append(migration.version)
    return applied
