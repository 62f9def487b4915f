"""The PostgreSQL key-lookup cache: reused between changes, never after one, on every replica.

"Replicas" are separate :class:`PostgresStore` instances on one database, as in
``test_postgres_store.py``. Each check runs right after the change, without waiting: a change
committed before a lookup starts must already be seen by it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time

import psycopg

from opp.store.postgres import PoolSettings, PostgresStore
from tests.support.postgres import PostgresServer

from .postgres_replicas import close as _close
from .postgres_replicas import opened, replicas
from .samples import T0, Samples

RECOVERY_DEADLINE = 30.0
CACHED = PoolSettings(min_size=1, max_size=4, timeout_s=2.0, key_cache_max_age_s=60.0)


async def _replicas(url: str, count: int, pool: PoolSettings = CACHED) -> list[PostgresStore]:
    return await replicas(url, count, pool)


async def _app_with_keys(store: PostgresStore, samples: Samples, count: int) -> list[str]:
    app = samples.app()
    await store.apps.create(app)
    keys = [samples.key(app.id) for _ in range(count)]
    for key in keys:
        await store.keys.create(key)
    return [key.token_hash for key in keys]


async def test_a_key_revoked_on_one_replica_is_refused_by_the_others_next_lookup(
    postgres_url: str, samples: Samples
) -> None:
    first, second, third = stores = await _replicas(postgres_url, 3)
    try:
        hashes = await _app_with_keys(first, samples, 20)
        for token_hash in hashes:  # cached on the other replicas, then revoked one by one
            for replica in (second, third):
                for _ in range(2):
                    found = await replica.keys.find_by_hash(token_hash)
                    assert found is not None and found[0].revoked_at is None
        for token_hash in hashes:
            found = await first.keys.find_by_hash(token_hash)
            assert found is not None
            assert await first.keys.revoke(found[0].id, T0)
            for replica in (second, third):
                seen = await replica.keys.find_by_hash(token_hash)
                assert seen is not None and seen[0].revoked_at is not None
    finally:
        await _close(stores)


async def test_app_changes_and_manual_sql_drop_the_cached_lookup(postgres_url: str, samples: Samples) -> None:
    first, second = stores = await _replicas(postgres_url, 2)
    try:
        [token_hash] = await _app_with_keys(first, samples, 1)
        found = await second.keys.find_by_hash(token_hash)
        assert found is not None
        app_id = found[1].id
        assert await first.apps.set_policy(app_id, {"allowed_org_ids": ["org_x"]}, T0)
        seen = await second.keys.find_by_hash(token_hash)
        assert seen is not None and seen[1].policy == {"allowed_org_ids": ["org_x"]}
        assert await first.apps.set_status(app_id, "revoked", T0)
        seen = await second.keys.find_by_hash(token_hash)
        assert seen is not None and seen[1].status == "revoked"
        with psycopg.connect(postgres_url, autocommit=True) as connection:  # not through opp at all
            connection.execute("DELETE FROM app_keys WHERE token_hash = %s", (token_hash,))
        assert await second.keys.find_by_hash(token_hash) is None
    finally:
        await _close(stores)


async def test_lookups_are_reused_while_nothing_changes_and_touches_do_not_count(
    postgres_url: str, samples: Samples
) -> None:
    first, second = stores = await _replicas(postgres_url, 2)
    try:
        [token_hash] = await _app_with_keys(first, samples, 1)
        cache = second.key_cache
        before = await cache.validated()
        found = await second.keys.find_by_hash(token_hash)
        assert found is not None
        await first.keys.touch({found[0].id: T0})  # the batched last_used_at write
        after = await cache.validated()
        assert before is not None and after == before
        assert cache.get(token_hash, after) == found  # served from the cache
        assert await first.keys.revoke(found[0].id, T0)
        changed = await cache.validated()
        assert changed is not None and changed > after and cache.get(token_hash, changed) is None
    finally:
        await _close(stores)


async def test_the_cache_is_off_at_max_age_zero_and_entries_expire_at_max_age(
    postgres_url: str, samples: Samples
) -> None:
    off = dataclasses.replace(CACHED, key_cache_max_age_s=0.0)
    async with opened(postgres_url, off) as store:
        assert not store.key_cache.enabled and not store.key_cache.listening
        assert await store.key_cache.validated() is None
    short = dataclasses.replace(CACHED, key_cache_max_age_s=0.2)
    async with opened(postgres_url, short) as store:
        [token_hash] = await _app_with_keys(store, samples, 1)
        found = await store.keys.find_by_hash(token_hash)
        generation = await store.key_cache.validated()
        assert generation is not None and store.key_cache.get(token_hash, generation) == found
        await asyncio.sleep(0.25)
        assert store.key_cache.get(token_hash, generation) is None


async def test_a_restarted_server_stops_the_cache_until_the_listener_is_back(
    postgres_server: PostgresServer, postgres_url: str, samples: Samples
) -> None:
    async with opened(postgres_url, CACHED) as store:
        [token_hash] = await _app_with_keys(store, samples, 1)
        assert await store.keys.find_by_hash(token_hash) is not None
        postgres_server.restart("immediate")
        assert await store.key_cache.validated() is None  # the round trip failed: nothing cached
        deadline = time.monotonic() + RECOVERY_DEADLINE
        while await store.key_cache.validated() is None:
            assert time.monotonic() < deadline, "the listener did not come back"
            await asyncio.sleep(0.1)
        generation = await store.key_cache.validated()
        assert generation is not None and store.key_cache.get(token_hash, generation) is None  # emptied


async def test_a_change_during_a_lookup_is_not_cached(postgres_url: str, samples: Samples) -> None:
    first, second = stores = await _replicas(postgres_url, 2)
    try:
        [token_hash] = await _app_with_keys(first, samples, 1)
        generation = await second.key_cache.validated()
        assert generation is not None
        found = await second.keys.find_by_hash(token_hash)  # read, then a change commits …
        assert found is not None
        assert await first.keys.revoke(found[0].id, T0)
        second.key_cache.put(token_hash, found, generation)  # … a put of the stale read
        newer = await second.key_cache.validated()
        assert newer is not None and second.key_cache.get(token_hash, newer) is None
    finally:
        await _close(stores)


async def test_an_idle_worker_replaces_a_listener_lost_to_a_restart_by_itself(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    quick = dataclasses.replace(CACHED, key_cache_max_age_s=0.3)
    async with opened(postgres_url, quick) as store:
        postgres_server.restart("immediate")
        deadline = time.monotonic() + RECOVERY_DEADLINE
        sql = "SELECT COUNT(*) FROM pg_stat_activity WHERE query IN ('SELECT 1', 'LISTEN opp_credentials')"
        while True:  # no lookup at all meanwhile: the keep-alive round trip finds the loss
            await asyncio.sleep(0.1)
            with psycopg.connect(postgres_url, autocommit=True) as connection:
                row = connection.execute(sql).fetchone()
            if row is not None and row[0] >= 1 and store.key_cache.listening:
                break
            assert time.monotonic() < deadline, "the listener was not replaced"


async def test_closing_answers_a_lookup_waiting_on_the_listener(postgres_url: str) -> None:
    [store] = await _replicas(postgres_url, 1)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN opp_credentials'"
        ).fetchone()
    assert row is not None
    os.kill(row[0], signal.SIGSTOP)  # the listener's backend stops answering
    try:
        waiting = asyncio.create_task(store.key_cache.validated())
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await store.close()
        assert await asyncio.wait_for(waiting, 5) is None  # answered "no cache", not left hanging
    finally:
        os.kill(row[0], signal.SIGCONT)
