"""The migration list and its helpers (the SQLite runner is tested in test_sqlite_store.py)."""

from __future__ import annotations

import pytest

from opp.store.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    SchemaVersionError,
    pending_migrations,
    split_statements,
)


def test_versions_are_consecutive_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))
    assert all(m.description for m in MIGRATIONS)


def test_pending_migrations_are_those_above_the_current_version() -> None:
    assert pending_migrations(0) == MIGRATIONS
    assert pending_migrations(LATEST_VERSION) == ()


def test_a_newer_database_version_is_an_error() -> None:
    with pytest.raises(SchemaVersionError, match="upgrade opp"):
        pending_migrations(LATEST_VERSION + 1)


def test_split_statements_keeps_semicolons_inside_strings() -> None:
    script = "CREATE TABLE t (x TEXT DEFAULT 'a;b');\n\nINSERT INTO t VALUES ('c;\nd');\n"
    assert list(split_statements(script)) == [
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');",
        "INSERT INTO t VALUES ('c;\nd');",
    ]


def test_split_statements_rejects_a_truncated_script() -> None:
    with pytest.raises(ValueError, match="incomplete"):
        list(split_statements("CREATE TABLE t (x TEXT);\nCREATE TABLE u (y TEXT"))


def test_migration_scripts_avoid_sqlite_only_column_types() -> None:
    for migration in MIGRATIONS:
        body = migration.script.upper()
        for sqlite_only in ("BLOB", "DATETIME", "STRICT", "WITHOUT ROWID"):
            assert sqlite_only not in body
