"""Versioned schema migrations shared by the SQL backends.

Each :class:`Migration` is applied once, in version order, and recorded in ``schema_migrations``
(version, description, applied_at). Scripts use a portable subset of SQL — TEXT and INTEGER
columns, CHECK, UNIQUE, foreign keys, ``INSERT … ON CONFLICT`` — so the PostgreSQL backend reuses
the same table layout. The one SQLite-specific construct is the audit log's
``INTEGER PRIMARY KEY AUTOINCREMENT`` insertion counter (PostgreSQL: ``BIGINT GENERATED ALWAYS AS
IDENTITY PRIMARY KEY``).

Never edit a released migration: append a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

__all__ = [
    "LATEST_VERSION",
    "LEDGER_DDL",
    "MIGRATIONS",
    "Migration",
    "SchemaVersionError",
    "pending_migrations",
    "split_statements",
]


class Migration(NamedTuple):
    version: int
    description: str
    script: str


class SchemaVersionError(Exception):
    """The database was migrated by a newer ``opp``; refusing to read or write it."""


LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""

_INITIAL = """
CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL CHECK (scope IN ('personal', 'workspace')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    org_id TEXT,
    user_id TEXT,
    service_user_id TEXT,
    scopes TEXT NOT NULL DEFAULT '[]',
    policy TEXT NOT NULL DEFAULT '{}',
    auto_execute TEXT NOT NULL DEFAULT '{}',
    created_by TEXT,
    source TEXT NOT NULL DEFAULT 'runtime' CHECK (source IN ('config', 'runtime')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE app_keys (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT,
    created_at TEXT NOT NULL
);

CREATE INDEX app_keys_app_id ON app_keys (app_id);

CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    roles TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE audit_events (
    insert_order INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    action TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('success', 'denied', 'failed')),
    code TEXT NOT NULL,
    tool TEXT,
    app_id TEXT,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE INDEX audit_events_app_id ON audit_events (app_id, insert_order);
CREATE INDEX audit_events_action ON audit_events (action, insert_order);
CREATE INDEX audit_events_created_at ON audit_events (created_at);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "apps, app keys, admin tokens and the audit log", _INITIAL),
)

LATEST_VERSION = MIGRATIONS[-1].version

assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_VERSION + 1)), "versions are 1..n"


def pending_migrations(current_version: int) -> tuple[Migration, ...]:
    """The migrations a database at ``current_version`` still needs, in order.

    Raises:
        SchemaVersionError: the database is newer than every migration this build knows.
    """
    if current_version > LATEST_VERSION:
        raise SchemaVersionError(
            f"database schema version {current_version} is newer than this opp supports "
            f"({LATEST_VERSION}); upgrade opp or point it at another store"
        )
    return tuple(m for m in MIGRATIONS if m.version > current_version)


def split_statements(script: str) -> Iterator[str]:
    """The complete SQL statements of ``script``, one at a time.

    Migrations run statement by statement inside the caller's transaction: ``executescript``
    would commit first and break the all-or-nothing guarantee.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:60]!r}")
