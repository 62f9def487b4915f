"""SQLite key lookups reused through the credential signal: no query per request, and no lookup
reused after a change to an app or a key made by any process."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from opp.store import AuditEvent, SqliteStore
from opp.store.codec import encode_timestamp
from opp.store.sqlite.cache import SignalCache
from opp.store.sqlite.credential_signal import CredentialSignal, signal_path

from .samples import T0, Samples, stored_key

LATER = T0 + dt.timedelta(hours=1)


async def opened(path: Path, max_age_s: float = 60.0) -> SqliteStore:
    store = SqliteStore(str(path), key_cache_max_age_s=max_age_s)
    await store.open()
    return store


@contextlib.contextmanager
def counting_selects(store: SqliteStore) -> Iterator[list[str]]:
    """The SELECTs ``store`` runs on its own connection while the block runs."""
    seen: list[str] = []
    connection = store._db.connection
    connection.set_trace_callback(lambda sql: seen.append(sql) if sql.lstrip().startswith("SELECT") else None)
    try:
        yield seen
    finally:
        connection.set_trace_callback(None)


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        id=f"aud_{n:04d}",
        action="agent.ledger.list.read",
        status="success",
        code="common.success",
        request_id=f"req_{n}",
        created_at=T0,
    )


async def test_a_lookup_is_reused_without_a_query_until_another_process_changes_the_key(
    tmp_path: Path, samples: Samples
) -> None:
    path = tmp_path / "opp.db"
    worker_a, worker_b = await opened(path), await opened(path)
    app, key = await stored_key(worker_a, samples)
    assert await worker_a.keys.find_by_hash(key.token_hash) == (key, app)
    with counting_selects(worker_a) as selects:
        assert await worker_a.keys.find_by_hash(key.token_hash) == (key, app)
    assert selects == []

    assert await worker_b.keys.revoke(key.id, LATER) is True  # another process
    with counting_selects(worker_a) as selects:
        found = await worker_a.keys.find_by_hash(key.token_hash)
    assert found is not None and found[0].revoked_at == LATER
    assert len(selects) == 1
    await worker_a.close()
    await worker_b.close()


async def test_audit_batches_and_key_touches_keep_the_lookup_cached(tmp_path: Path, samples: Samples) -> None:
    """What made the per-request check pay nothing before: every commit dropped the cache."""
    path = tmp_path / "opp.db"
    worker_a, worker_b = await opened(path), await opened(path)
    app, key = await stored_key(worker_a, samples)
    assert await worker_a.keys.find_by_hash(key.token_hash) is not None
    await worker_b.audit.append([_event(1), _event(2)])
    await worker_b.keys.touch({key.id: LATER})
    with counting_selects(worker_a) as selects:
        assert await worker_a.keys.find_by_hash(key.token_hash) == (key, app)
    assert selects == []
    await worker_a.close()
    await worker_b.close()


CHANGES: dict[str, Callable[[SqliteStore, Samples, str, str], Awaitable[object]]] = {
    "app created": lambda s, samples, app_id, key_id: s.apps.create(samples.app()),
    "app declared": lambda s, samples, app_id, key_id: s.apps.upsert_declared(samples.app(id=app_id)),
    "app status": lambda s, samples, app_id, key_id: s.apps.set_status(app_id, "revoked", LATER),
    "app policy": lambda s, samples, app_id, key_id: s.apps.set_policy(app_id, {"data": {}}, LATER),
    "app auto-execute": lambda s, samples, app_id, key_id: s.apps.set_auto_execute(
        app_id, {"enabled": True}, LATER
    ),
    "app deleted": lambda s, samples, app_id, key_id: s.apps.delete(app_id),
    "key created": lambda s, samples, app_id, key_id: s.keys.create(samples.key(app_id)),
    "key declared": lambda s, samples, app_id, key_id: s.keys.upsert_declared(
        samples.key(app_id, id=key_id, name="renamed")
    ),
    "key revoked": lambda s, samples, app_id, key_id: s.keys.revoke(key_id, LATER),
    "app's keys revoked": lambda s, samples, app_id, key_id: s.keys.revoke_all_for_app(app_id, LATER),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_every_change_to_an_app_or_a_key_moves_the_signal_every_process_reads(
    tmp_path: Path, samples: Samples, change: str
) -> None:
    path = tmp_path / "opp.db"
    store = await opened(path)
    app, key = await stored_key(store, samples)
    other_process = CredentialSignal(str(path))
    other_process.open()
    before = other_process.current()
    await CHANGES[change](store, samples, app.id, key.id)
    assert other_process.current() != before
    other_process.close()
    await store.close()


async def test_a_failed_change_still_moves_the_signal(tmp_path: Path, samples: Samples) -> None:
    store = await opened(tmp_path / "opp.db")
    app = samples.app()
    await store.apps.create(app)
    before = store._db.credentials.current()
    with pytest.raises(KeyError):
        await store.apps.create(app)  # already exists: nothing committed, the signal moved anyway
    assert store._db.credentials.current() != before
    await store.close()


async def test_a_change_made_with_sql_outside_opp_is_seen_once_the_lookup_is_older_than_its_bound(
    tmp_path: Path, samples: Samples
) -> None:
    path = tmp_path / "opp.db"
    store = await opened(path)
    app, key = await stored_key(store, samples)
    now = [100.0]
    cache: SignalCache[str, object] = SignalCache(store._db.credentials, 5.0, monotonic=lambda: now[0])
    store.keys._found = cache  # type: ignore[attr-defined]
    assert await store.keys.find_by_hash(key.token_hash) == (key, app)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as manual:
        manual.execute("UPDATE app_keys SET revoked_at = ? WHERE id = ?", (encode_timestamp(LATER), key.id))
    now[0] += 4.9
    assert await store.keys.find_by_hash(key.token_hash) == (key, app)  # within the bound (documented)
    now[0] += 0.1
    found = await store.keys.find_by_hash(key.token_hash)
    assert found is not None and found[0].revoked_at == LATER
    await store.close()


async def test_a_zero_bound_turns_the_cache_off(tmp_path: Path, samples: Samples) -> None:
    store = await opened(tmp_path / "opp.db", max_age_s=0.0)
    app, key = await stored_key(store, samples)
    await store.keys.find_by_hash(key.token_hash)
    with counting_selects(store) as selects:
        await store.keys.find_by_hash(key.token_hash)
        await store.apps.get(app.id)
    assert len(selects) == 2
    await store.close()


async def test_a_signal_file_that_cannot_be_mapped_turns_the_cache_off(
    tmp_path: Path, samples: Samples, caplog: pytest.LogCaptureFixture
) -> None:
    """Fail closed: without the shared word no process could tell this one about a revocation."""
    path = tmp_path / "opp.db"
    os.mkdir(signal_path(str(path)))  # a directory where the file should be
    with caplog.at_level(logging.WARNING):
        store = await opened(path)
    assert "key lookups are not cached" in caplog.text
    assert store._db.credentials.usable is False
    app, key = await stored_key(store, samples)
    await store.keys.find_by_hash(key.token_hash)
    with counting_selects(store) as selects:
        assert await store.keys.find_by_hash(key.token_hash) == (key, app)
    assert len(selects) == 1
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as manual:
        manual.execute("UPDATE app_keys SET revoked_at = ? WHERE id = ?", (encode_timestamp(LATER), key.id))
    found = await store.keys.find_by_hash(key.token_hash)
    assert found is not None and found[0].revoked_at == LATER
    await store.close()


async def test_an_in_memory_store_sees_its_own_changes_at_once(samples: Samples) -> None:
    store = SqliteStore(":memory:")
    await store.open()
    app, key = await stored_key(store, samples)
    assert await store.keys.find_by_hash(key.token_hash) == (key, app)
    await store.keys.revoke(key.id, LATER)
    found = await store.keys.find_by_hash(key.token_hash)
    assert found is not None and found[0].revoked_at == LATER
    await store.close()
