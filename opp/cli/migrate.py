"""``opp migrate [FILE] [--check]``: apply (or only check) the store's schema migrations.

One migration history, numbered 1..N, serves every SQL backend (:mod:`opp.store.migrations`).

* ``postgres``: the only way the schema changes. ``opp serve`` refuses to start on a schema that
  is behind and names this command. Safe to run from several replicas at once: the migrations are
  applied in one transaction under ``pg_advisory_xact_lock``, so the others wait and find nothing
  left to do (a Kubernetes Job or init container can run it on every rollout).
* ``sqlite``: ``opp serve`` also migrates the file when it opens it (the embedded first run needs
  no extra step); ``opp migrate`` does the same ahead of time, and ``--check`` reads the version
  without writing (a missing file is version 0).
* ``memory``: nothing to migrate.

Output, one line: ``schema at version 4 (up to date)``, ``applied migrations 1, 2, 3, 4: schema at
version 4``, or with ``--check`` on a schema that is behind ``schema at version 2, this opp needs 4:
pending 3, 4; run: opp migrate gateway.yaml`` (exit status 1). Errors never show the database URL.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from pathlib import Path

from opp.cli.common import load_plan_or_report
from opp.errors import OppError
from opp.store.factory import StoreSettings
from opp.store.migrations import LATEST_VERSION, SchemaVersionError, pending_migrations
from opp.store.sqlite import SqliteStore

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Apply the store's schema migrations (or, with --check, only report whether any are pending)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", default="gateway.yaml", help="the config (default: ./gateway.yaml)"
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when migrations are pending"
    )


def sqlite_schema_version(path: str) -> int:
    """The version recorded in a SQLite file, read-only (0 for a missing or never migrated file)."""
    if path == ":memory:" or not Path(path).exists():
        return 0
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        exists = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if exists is None:
            return 0
        row = connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(row[0])
    finally:
        connection.close()


async def _current(settings: StoreSettings) -> int:
    if settings.kind == "sqlite":
        return sqlite_schema_version(settings.path)
    from opp.store.postgres import PostgresStore  # noqa: PLC0415  (psycopg only when configured)

    store = PostgresStore(settings.url or "", settings.pool, config_file=settings.config_file)
    await store.database.open()
    try:
        return await store.schema_version()
    finally:
        await store.close()


async def _apply(settings: StoreSettings) -> list[int]:
    if settings.kind == "sqlite":
        Path(settings.path).parent.mkdir(parents=True, exist_ok=True)
        sqlite = SqliteStore(settings.path)
        before = sqlite_schema_version(settings.path)
        await sqlite.open()
        try:
            after = await sqlite.schema_version()
        finally:
            await sqlite.close()
        return list(range(before + 1, after + 1))
    from opp.store.postgres import PostgresStore  # noqa: PLC0415

    return await PostgresStore(settings.url or "", settings.pool).migrate()


def _report(settings: StoreSettings, check: bool) -> int:
    if check:
        current = asyncio.run(_current(settings))
        pending = pending_migrations(current)
        if not pending:
            print(f"schema at version {current} (up to date)")
            return 0
        versions = ", ".join(str(migration.version) for migration in pending)
        print(
            f"schema at version {current}, this opp needs {LATEST_VERSION}: pending {versions}; "
            f"run: opp migrate {settings.config_file}"
        )
        return 1
    applied = asyncio.run(_apply(settings))
    if not applied:
        print(f"schema at version {LATEST_VERSION} (up to date)")
    else:
        print(f"applied migrations {', '.join(map(str, applied))}: schema at version {applied[-1]}")
    return 0


def run(args: argparse.Namespace) -> int:
    plan = load_plan_or_report(args.file)
    if plan is None:
        return 1
    settings = plan.store
    if settings.kind == "memory":
        print("store.kind is memory: nothing to migrate")
        return 0
    try:
        return _report(settings, args.check)
    except SchemaVersionError as newer:
        print(f"opp: {newer}", file=sys.stderr)
        return 1
    except OppError as unavailable:
        print(f"opp: cannot reach the {settings.kind} store: {unavailable.message}", file=sys.stderr)
        return 1
