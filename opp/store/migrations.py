"""Versioned schema migrations shared by the SQL backends.

Each :class:`Migration` is applied once, in version order, and recorded in ``schema_migrations``
(version, description, applied_at). Scripts use a portable subset of SQL — TEXT and INTEGER
columns, CHECK, UNIQUE, foreign keys, ``INSERT … ON CONFLICT`` — so the PostgreSQL backend reuses
the same table layout. The one SQLite-specific construct is the ``INTEGER PRIMARY KEY
AUTOINCREMENT`` insertion counter of the audit log, drafts and executions (PostgreSQL: ``BIGINT
GENERATED ALWAYS AS IDENTITY PRIMARY KEY``). Booleans are INTEGER 0/1 (see :mod:`opp.store.codec`).

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
    "SchemaBehindError",
    "SchemaVersionError",
    "check_schema_current",
    "pending_migrations",
    "split_statements",
]


class Migration(NamedTuple):
    """One schema step. ``postgres``: a PostgreSQL-only script run as one multi-statement batch
    after ``script`` (functions and triggers, whose bodies hold semicolons)."""

    version: int
    description: str
    script: str
    postgres: str = ""


class SchemaVersionError(Exception):
    """The database was migrated by a newer ``opp``; refusing to read or write it."""


class SchemaBehindError(Exception):
    """The database lacks migrations this ``opp`` needs; ``opp migrate FILE`` applies them.

    Raised by stores that are migrated explicitly (PostgreSQL) instead of on open.
    """

    def __init__(self, current: int, latest: int, config_file: str = "gateway.yaml") -> None:
        self.current = current
        self.latest = latest
        super().__init__(
            f"the database schema is at version {current} but this opp needs version {latest}; "
            f"apply the migrations first: opp migrate {config_file}"
        )


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

_WRITE_LIFECYCLE = """
CREATE TABLE preflights (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    key_id TEXT,
    actor_user_id TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    impact TEXT NOT NULL,
    impact_hash TEXT NOT NULL,
    state_witness TEXT,
    state_witness_hash TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE INDEX preflights_expires_at ON preflights (expires_at);

CREATE TABLE drafts (
    create_order INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    app_id TEXT NOT NULL,
    key_id TEXT,
    actor_user_id TEXT NOT NULL,
    tenant TEXT,
    action TEXT NOT NULL,
    risk TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'confirmed', 'canceled', 'failed', 'expired')),
    requires_confirmation INTEGER NOT NULL DEFAULT 0 CHECK (requires_confirmation IN (0, 1)),
    auto_execute_requested INTEGER NOT NULL DEFAULT 0 CHECK (auto_execute_requested IN (0, 1)),
    request_id TEXT,
    idempotency_key TEXT,
    justification TEXT,
    preflight TEXT,
    preflight_hash TEXT,
    preflight_state_witness TEXT,
    preflight_state_witness_hash TEXT,
    policy_snapshot TEXT NOT NULL DEFAULT '{}',
    approvals_required INTEGER NOT NULL DEFAULT 1,
    confirmed_by_user_id TEXT,
    failure_code TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE INDEX drafts_app_id ON drafts (app_id, create_order);
CREATE INDEX drafts_status ON drafts (status, create_order);
CREATE INDEX drafts_status_expires_at ON drafts (status, expires_at);

CREATE TABLE draft_approvals (
    draft_id TEXT NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    approver TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    note TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (draft_id, approver)
);

CREATE TABLE executions (
    create_order INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    draft_id TEXT NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    app_id TEXT NOT NULL,
    idempotency_key TEXT,
    status TEXT NOT NULL CHECK (status IN ('started', 'success', 'failed')),
    result TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);

CREATE INDEX executions_draft_id ON executions (draft_id, create_order);
CREATE INDEX executions_status ON executions (status, create_order);

CREATE TABLE idempotency_keys (
    app_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    draft_id TEXT NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (app_id, key)
);

CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
"""

_AUDIT_CHAIN = """
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;

CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);

CREATE TABLE audit_anchors (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
"""
"""Events written before this migration keep ``seq`` NULL: an unchained prefix that verification
reports and skips. ``audit_anchors`` records where an archived prefix of the chain ended."""

_OAUTH_KEYS = """
CREATE TABLE oauth_keys (
    kid TEXT PRIMARY KEY,
    use TEXT NOT NULL CHECK (use IN ('sig', 'nonce')),
    alg TEXT NOT NULL,
    secret_jwk TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
);

CREATE INDEX oauth_keys_use_created_at ON oauth_keys (use, created_at);
"""
"""Secrets of the development authorization server: token signing keys (``sig``) and the DPoP
nonce secret (``nonce``), shared by every worker; retired rows stay for the record."""

_CONSOLE = """
CREATE TABLE console_sessions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    roles TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('link', 'oidc')),
    csrf TEXT NOT NULL,
    auth_time TEXT NOT NULL,
    acr TEXT,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
);

CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);

CREATE TABLE console_grants (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('link', 'oidc')),
    name TEXT,
    roles TEXT NOT NULL DEFAULT '[]',
    next_path TEXT NOT NULL,
    code_verifier TEXT,
    nonce TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE INDEX console_grants_expires_at ON console_grants (expires_at);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    hook TEXT NOT NULL,
    event TEXT NOT NULL,
    draft_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_draft_id ON webhook_deliveries (draft_id, created_at);
"""
"""The reviewer console: sessions (the SHA-256 of the cookie), one-time sign-in grants (links and
pending OIDC logins) and the webhook delivery log with its retry schedule."""

_CREDENTIAL_NOTIFY = """
CREATE FUNCTION opp_credentials_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('opp_credentials', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER apps_changed
    AFTER INSERT OR UPDATE OR DELETE ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION opp_credentials_changed();
CREATE TRIGGER apps_truncated AFTER TRUNCATE ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION opp_credentials_changed();
CREATE TRIGGER app_keys_changed
    AFTER INSERT OR DELETE OR UPDATE OF
        id, app_id, name, token_prefix, token_hash, expires_at, revoked_at, created_at
    ON app_keys
    FOR EACH STATEMENT EXECUTE FUNCTION opp_credentials_changed();
CREATE TRIGGER app_keys_truncated AFTER TRUNCATE ON app_keys
    FOR EACH STATEMENT EXECUTE FUNCTION opp_credentials_changed();
"""
"""PostgreSQL: every committed change to an app or a key (except the batched ``last_used_at``
touch) notifies channel ``opp_credentials``; replicas drop their cached key lookups on it
(:mod:`opp.store.postgres.key_cache`). SQLite needs nothing: a word of shared memory
serves (:mod:`opp.store.sqlite.credential_signal`)."""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "apps, app keys, admin tokens and the audit log", _INITIAL),
    Migration(
        2, "write lifecycle: preflights, drafts, approvals, executions, idempotency keys", _WRITE_LIFECYCLE
    ),
    Migration(3, "audit hash chain: seq, prev_hash, hash; anchors of archived prefixes", _AUDIT_CHAIN),
    Migration(
        4, "development authorization server keys: signing keys and the DPoP nonce secret", _OAUTH_KEYS
    ),
    Migration(5, "reviewer console: sessions, sign-in grants, webhook deliveries", _CONSOLE),
    Migration(6, "credential change notifications (PostgreSQL triggers)", "", _CREDENTIAL_NOTIFY),
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


def check_schema_current(current_version: int, config_file: str = "gateway.yaml") -> None:
    """Raise unless a database at ``current_version`` has exactly the migrations this build knows.

    Raises:
        SchemaVersionError: the database is newer than this build.
        SchemaBehindError: migrations are pending (the message names ``opp migrate FILE``).
    """
    if pending_migrations(current_version):
        raise SchemaBehindError(current_version, LATEST_VERSION, config_file)


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
