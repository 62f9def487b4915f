"""SQLite-only behaviour: migrations, several connections on one file, fail-closed errors."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from opp.clock import FrozenClock
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.store import AuditEvent, AuditQuery, SchemaVersionError, SqliteStore
from opp.store.codec import encode_timestamp
from opp.store.migrations import LATEST_VERSION, MIGRATIONS
from opp.store.sqlite.audit import COLUMNS as EVENT_COLUMNS
from opp.store.sqlite.database import BUSY_TIMEOUT_MS
from opp.store.sqlite.records import _FIND_KEY_AND_APP, ADMIN_TOKENS, APPS, KEYS

from .samples import T0, Samples, stored_key


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to inspect or tamper with the file behind the store's back."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def migration_rows(path: Path) -> list[tuple[int, str, str]]:
    with raw(path) as connection:
        return connection.execute("SELECT * FROM schema_migrations ORDER BY version").fetchall()


async def opened(
    path: Path, clock: FrozenClock | None = None, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> SqliteStore:
    store = SqliteStore(str(path), clock, busy_timeout_ms)
    await store.open()
    return store


# --- migrations -------------------------------------------------------------------------------


async def test_open_applies_every_migration_once_and_records_it(tmp_path: Path) -> None:
    path = tmp_path / "opp.db"
    store = await opened(path, clock=FrozenClock(T0))
    assert await store.schema_version() == LATEST_VERSION
    assert migration_rows(path) == [(m.version, m.description, encode_timestamp(T0)) for m in MIGRATIONS]
    await store.close()


async def test_reopening_applies_nothing_and_keeps_data(tmp_path: Path, samples: Samples) -> None:
    path = tmp_path / "opp.db"
    first = await opened(path, clock=FrozenClock(T0))
    app = samples.app()
    await first.apps.create(app)
    await first.open()  # already open: no-op
    await first.close()

    second = await opened(path, clock=FrozenClock(T0 + dt.timedelta(days=30)))
    assert migration_rows(path) == [(m.version, m.description, encode_timestamp(T0)) for m in MIGRATIONS]
    assert await second.apps.get(app.id) == app
    await second.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "opp.db"
    await (await opened(path)).close()
    with raw(path) as connection:
        connection.execute(
            "INSERT INTO schema_migrations VALUES (?, 'from the future', '2099-01-01T00:00:00.000000Z')",
            (LATEST_VERSION + 1,),
        )
    store = SqliteStore(str(path))
    with pytest.raises(SchemaVersionError, match=f"version {LATEST_VERSION + 1} is newer"):
        await store.open()
    with pytest.raises(OppError):
        await store.ping()
    assert [row[0] for row in migration_rows(path)] == [*range(1, LATEST_VERSION + 1), LATEST_VERSION + 1]


async def test_tables_have_one_column_per_record_field(tmp_path: Path) -> None:
    path = tmp_path / "opp.db"
    await (await opened(path)).close()
    with raw(path) as connection:

        def columns(table: str) -> tuple[str, ...]:
            return tuple(row[1] for row in connection.execute(f"PRAGMA table_info({table})"))

        assert columns("apps") == APPS.columns
        assert columns("app_keys") == KEYS.columns
        assert columns("admin_tokens") == ADMIN_TOKENS.columns
        assert columns("audit_events") == ("insert_order", *EVENT_COLUMNS)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        plan = " ".join(
            row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {_FIND_KEY_AND_APP}", ("x",))
        )
    assert "USING INDEX sqlite_autoindex_app_keys" in plan
    assert "SCAN" not in plan


def test_concurrent_opens_of_a_new_file_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "opp.db"
    workers = 4
    barrier = threading.Barrier(workers)
    failures: list[BaseException] = []

    def open_and_close() -> None:
        async def main() -> None:
            store = SqliteStore(str(path))
            barrier.wait()
            await store.open()
            await store.ping()
            await store.close()

        try:
            asyncio.run(main())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [row[0] for row in migration_rows(path)] == list(range(1, LATEST_VERSION + 1))


# --- several connections on one file (server workers) -----------------------------------------


async def test_two_stores_on_one_file_see_each_others_writes_at_once(
    tmp_path: Path, samples: Samples
) -> None:
    path = tmp_path / "opp.db"
    worker_a, worker_b = await opened(path), await opened(path)
    app = samples.app()
    key = samples.key(app.id)
    await worker_a.apps.create(app)
    await worker_a.keys.create(key)

    found = await worker_b.keys.find_by_hash(key.token_hash)
    assert found == (key, app)

    revoked_at = T0 + dt.timedelta(hours=1)
    assert await worker_a.keys.revoke(key.id, revoked_at) is True
    found = await worker_b.keys.find_by_hash(key.token_hash)
    assert found is not None
    assert found[0].revoked_at == revoked_at
    assert await worker_b.keys.revoke(key.id, revoked_at) is False

    await worker_b.apps.delete(app.id)
    assert await worker_a.keys.find_by_hash(key.token_hash) is None
    await worker_a.close()
    await worker_b.close()


async def test_a_cached_key_never_outlives_a_change_in_any_process(tmp_path: Path, samples: Samples) -> None:
    """find_by_hash reuses a decoded key only while no app or key changed, in any process."""
    path = tmp_path / "opp.db"
    worker_a, worker_b = await opened(path), await opened(path)
    app, key = await stored_key(worker_a, samples)
    assert await worker_a.keys.find_by_hash(key.token_hash) == (key, app)
    assert await worker_a.keys.find_by_hash(key.token_hash) == (key, app)  # served from the cache

    later = T0 + dt.timedelta(hours=1)
    await worker_b.apps.set_status(app.id, "revoked", later)  # another process
    found = await worker_a.keys.find_by_hash(key.token_hash)
    assert found is not None and found[1].status == "revoked"

    await worker_a.apps.set_status(app.id, "active", later)  # this connection's own commit
    await worker_a.keys.revoke(key.id, later)
    found = await worker_a.keys.find_by_hash(key.token_hash)
    assert found is not None and found[1].status == "active" and found[0].revoked_at == later
    await worker_a.close()
    await worker_b.close()


def _event(worker: str, n: int) -> AuditEvent:
    return AuditEvent(
        id=f"aud_{worker}_{n:04d}",
        action="agent.ledger.list.read",
        status="success",
        code="common.success",
        app_id=worker,
        created_at=T0,
    )


async def _all_event_ids(store: SqliteStore, worker: str) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while page := await store.audit.list(AuditQuery(app_id=worker, cursor=cursor, limit=200)):
        ids.extend(event.id for event in page)
        cursor = page[-1].id
    return ids


def test_concurrent_appends_from_two_threads_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "opp.db"
    batches, batch_size = 30, 10
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def append_all(worker: str) -> None:
        async def main() -> None:
            store = await opened(path)
            barrier.wait()
            for batch in range(batches):
                events = [_event(worker, batch * batch_size + i) for i in range(batch_size)]
                await store.audit.append(events)
            await store.close()

        try:
            asyncio.run(main())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=append_all, args=(worker,)) for worker in ("app_a", "app_b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    async def check() -> None:
        store = await opened(path)
        for worker in ("app_a", "app_b"):
            expected = [_event(worker, n).id for n in range(batches * batch_size)]
            assert await _all_event_ids(store, worker) == expected[::-1]
        await store.close()

    asyncio.run(check())


_WORKER_SCRIPT = """
import asyncio, datetime as dt, sys
from opp.store import AuditEvent, SqliteStore

async def main(path, worker, count):
    store = SqliteStore(path)
    await store.open()
    for n in range(count):
        await store.audit.append([AuditEvent(
            id=f"aud_{worker}_{n:04d}", action="agent.ledger.list.read", status="success",
            code="common.success", app_id=worker, created_at=dt.datetime.now(dt.UTC))])
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_concurrent_appends_from_two_processes_on_a_new_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "opp.db"
    count = 60
    processes = [
        subprocess.Popen([sys.executable, "-c", _WORKER_SCRIPT, str(path), worker, str(count)])
        for worker in ("app_a", "app_b")
    ]
    assert [process.wait(timeout=60) for process in processes] == [0, 0]

    store = await opened(path)
    for worker in ("app_a", "app_b"):
        assert await _all_event_ids(store, worker) == [
            f"aud_{worker}_{n:04d}" for n in reversed(range(count))
        ]
    assert [row[0] for row in migration_rows(path)] == list(range(1, LATEST_VERSION + 1))
    await store.close()


# --- failing closed ---------------------------------------------------------------------------


def assert_unavailable(caught: pytest.ExceptionInfo[OppError]) -> None:
    assert caught.value.code is ReasonCode.UNAVAILABLE
    assert caught.value.message == "Store unavailable."


async def test_a_write_lock_held_past_the_timeout_makes_writes_unavailable(
    tmp_path: Path, samples: Samples
) -> None:
    path = tmp_path / "opp.db"
    store = await opened(path, busy_timeout_ms=20)
    app = samples.app()
    await store.apps.create(app)
    with raw(path) as other_process:
        other_process.execute("BEGIN IMMEDIATE")
        with pytest.raises(OppError) as caught:
            await store.keys.revoke_all_for_app(app.id, T0)
        assert_unavailable(caught)
        assert await store.apps.get(app.id) == app  # WAL: readers are not blocked
        other_process.execute("ROLLBACK")
    assert await store.apps.set_status(app.id, "revoked", T0) is True
    await store.close()


async def test_a_writer_waits_out_another_processs_short_transaction(
    tmp_path: Path, samples: Samples
) -> None:
    """The write lock is waited for in short pauses (SQLite's busy handler is off for ``BEGIN``):
    a transaction of another process that ends within the budget delays the write, never fails it,
    and every other statement keeps the connection's busy timeout."""
    path = tmp_path / "opp.db"
    store = await opened(path, busy_timeout_ms=5000)
    app = samples.app()
    await store.apps.create(app)
    holding, released = threading.Event(), threading.Event()

    def hold() -> None:
        with raw(path) as other_process:
            other_process.execute("BEGIN IMMEDIATE")
            holding.set()
            released.wait(10)
            other_process.execute("COMMIT")

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(0.2, released.set).start()
    try:
        assert await store.apps.set_status(app.id, "revoked", T0) is True  # waited, then wrote
    finally:
        released.set()
        holder.join(10)
    timeout = store._db.connection.execute("PRAGMA busy_timeout").fetchone()[0]
    assert timeout == 5000
    await store.close()


async def test_an_unopenable_path_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "missing-dir" / "opp.db"))
    with pytest.raises(OppError) as caught:
        await store.open()
    assert_unavailable(caught)


async def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "opp.db"
    path.write_bytes(b"this is not a sqlite database, just bytes " * 100)
    with pytest.raises(OppError) as caught:
        await SqliteStore(str(path)).open()
    assert_unavailable(caught)


async def test_a_store_that_was_never_opened_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "opp.db"))
    with pytest.raises(OppError) as caught:
        await store.apps.get("app_1")
    assert_unavailable(caught)
    assert not (tmp_path / "opp.db").exists()


async def test_an_in_memory_database_works(samples: Samples) -> None:
    store = await opened(Path(":memory:"))
    app = samples.app()
    await store.apps.create(app)
    assert await store.apps.list() == [app]
    await store.close()
