"""PostgreSQL-only guarantees, on the real throwaway server: migrations, concurrency, faults, secrecy.

"Replicas" here are separate :class:`PostgresStore` instances (separate pools) on one database,
writing concurrently: the same situation as several ``opp serve`` processes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time

import psycopg
import pytest

from opp.audit.sources import postgres_events
from opp.audit.verify import verify_chain
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.store import AuditQuery, DraftQuery
from opp.store.migrations import LATEST_VERSION, MIGRATIONS, SchemaBehindError
from opp.store.postgres import PoolSettings, PostgresStore
from opp.store.postgres.database import redacted
from opp.store.postgres.migrate import postgres_script
from tests.support.postgres import PostgresServer
from tests.support.servers import free_port

from .postgres_replicas import close as _close
from .postgres_replicas import replicas as _replicas
from .samples import T0, Samples

RECOVERY_DEADLINE = 30.0
LATER = T0 + dt.timedelta(days=1)


# --- migrations -------------------------------------------------------------------------------


def test_the_postgres_scripts_use_identity_columns_and_64_bit_integers() -> None:
    script = postgres_script(MIGRATIONS[1])
    assert "AUTOINCREMENT" not in script
    assert "create_order BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" in script
    assert " INTEGER" not in script


async def test_open_refuses_an_unmigrated_database_and_names_the_command(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, config_file="deploy/gateway.yaml")
    with pytest.raises(SchemaBehindError) as refused:
        await store.open()
    assert refused.value.current == 0
    assert refused.value.latest == LATEST_VERSION
    assert "opp migrate deploy/gateway.yaml" in str(refused.value)


async def test_replicas_migrating_at_once_apply_each_migration_once(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url) for _ in range(4)]
    results = await asyncio.gather(*(store.migrate() for store in stores))
    assert sorted(results, key=len) == [[], [], [], list(range(1, LATEST_VERSION + 1))]
    with psycopg.connect(postgres_url) as connection:
        rows = connection.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [row[0] for row in rows] == list(range(1, LATEST_VERSION + 1))
    await stores[0].open()
    assert await stores[0].schema_version() == LATEST_VERSION
    await stores[0].close()


async def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    await store.migrate()
    with psycopg.connect(postgres_url) as connection:
        connection.execute(
            "INSERT INTO schema_migrations VALUES (%s, 'from the future', '2030-01-01T00:00:00.000000Z')",
            (LATEST_VERSION + 1,),
        )
    with pytest.raises(Exception, match="newer than this opp supports"):
        await store.open()


# --- the same semantics under concurrency, across replicas -----------------------------------


async def test_one_idempotency_key_from_many_replicas_creates_one_draft(
    postgres_url: str, samples: Samples
) -> None:
    stores = await _replicas(postgres_url, 3)
    drafts = [samples.draft() for _ in range(30)]
    try:
        outcomes = await asyncio.gather(
            *(
                stores[index % 3].writes.create_draft(
                    draft, samples.idempotency(draft.id), samples.execution(draft.id), [samples.event()]
                )
                for index, draft in enumerate(drafts)
            )
        )
        winners = [draft for draft, outcome in zip(drafts, outcomes, strict=True) if outcome is None]
        assert len(winners) == 1
        assert {outcome.draft_id for outcome in outcomes if outcome is not None} == {winners[0].id}
        listed = await stores[1].writes.list_drafts(DraftQuery())
        assert [draft.id for draft in listed] == [winners[0].id]
        assert len(await stores[2].audit.list(AuditQuery())) == 1
    finally:
        await _close(stores)


async def test_concurrent_votes_on_other_replicas_count_every_distinct_approver(
    postgres_url: str, samples: Samples
) -> None:
    stores = await _replicas(postgres_url, 3)
    draft = samples.draft()
    try:
        await stores[0].writes.create_draft(draft, None, None, [])
        approvals = [samples.approval(draft.id, f"approver_{n}") for n in range(12)]
        counts = await asyncio.gather(
            *(
                stores[n % 3].writes.add_approval(approval, [samples.event()])
                for n, approval in enumerate(approvals)
            )
        )
        assert sorted(counts) == list(range(1, 13))
    finally:
        await _close(stores)


async def test_concurrent_appends_from_replicas_extend_one_unbroken_chain(
    postgres_url: str, samples: Samples
) -> None:
    stores = await _replicas(postgres_url, 3)
    try:
        batches = [[samples.event() for _ in range(3)] for _ in range(40)]
        await asyncio.gather(*(stores[n % 3].audit.append(batch) for n, batch in enumerate(batches)))
        stored = [event async for event in postgres_events(stores[0].audit_log)]
        report = verify_chain(stored)
        assert report.ok, report.broken
        assert report.verified == 120
        assert report.head.seq == 120
    finally:
        await _close(stores)


async def test_a_large_batch_is_stored_whole_and_in_order(postgres_url: str, samples: Samples) -> None:
    [store] = await _replicas(postgres_url, 1)
    try:
        batch = [samples.event() for _ in range(3)]  # no tool, no app: NULLs
        batch += [samples.event(tool="ledger.list", app_id="app_1") for _ in range(1_207)]
        await store.audit.append(batch)
        stored = [event async for event in postgres_events(store.audit_log)]
        assert [json.loads(event.body)["id"] for event in stored] == [event.id for event in batch]
        report = verify_chain(stored)
        assert report.ok and report.verified == len(batch), report.broken
        with psycopg.connect(postgres_url) as connection:
            orders = connection.execute("SELECT seq FROM audit_events ORDER BY insert_order").fetchall()
        assert [row[0] for row in orders] == list(range(1, len(batch) + 1))  # insert_order follows seq
    finally:
        await store.close()


async def test_every_character_of_an_event_survives_the_batched_insert(
    postgres_url: str, samples: Samples
) -> None:
    """The rows travel as one JSON parameter: quotes, backslashes, an escaped NUL, non-ASCII text
    and emoji come back byte for byte, and the chain over them verifies. (A NUL can be held only
    inside the JSON body, escaped; no text column of PostgreSQL holds one, however it is sent.)"""
    [store] = await _replicas(postgres_url, 1)
    try:
        tricky = ['"quoted"', "back\\slash \\u0000 \\n", "line\nbreak\ttab", "é ü ß 漢字 🚀", "\u0000"]
        batch = [
            samples.event(tool=text.replace("\u0000", ""), details={"note": text, "list": [text]})
            for text in tricky
        ]
        await store.audit.append(batch)
        stored = await store.audit.read_chain(0, 100)
        assert [(event.tool, event.details) for event in stored] == [(e.tool, e.details) for e in batch]
        report = verify_chain([event async for event in postgres_events(store.audit_log)])
        assert report.ok and report.verified == len(batch), report.broken
    finally:
        await store.close()


async def test_the_chain_verifier_finds_a_tampered_event(postgres_url: str, samples: Samples) -> None:
    [store] = await _replicas(postgres_url, 1)
    try:
        await store.audit.append([samples.event() for _ in range(5)])
        with psycopg.connect(postgres_url) as connection:
            connection.execute(
                "UPDATE audit_events SET body = replace(body, 'success', 'failure') WHERE seq = 3"
            )
        report = verify_chain([event async for event in postgres_events(store.audit_log)])
        assert not report.ok
        assert report.broken is not None and report.broken.seq == 3
    finally:
        await store.close()


async def test_concurrent_starts_of_one_draft_on_replicas_start_one_execution(
    postgres_url: str, samples: Samples
) -> None:
    stores = await _replicas(postgres_url, 3)
    draft = samples.draft()
    confirm = {"status": "confirmed", "confirmed_by_user_id": "approver_1", "updated_at": LATER}
    try:
        await stores[0].writes.create_draft(draft, None, None, [])
        executions = [samples.execution(draft.id) for _ in range(15)]
        started = await asyncio.gather(
            *(
                stores[n % 3].writes.start_execution(
                    draft.id, ("draft",), confirm, execution, [samples.event(execution_id=execution.id)]
                )
                for n, execution in enumerate(executions)
            )
        )
        assert started.count(True) == 1
        assert len(await stores[1].writes.list_executions()) == 1
        assert len(await stores[2].audit.list(AuditQuery())) == 1
    finally:
        await _close(stores)


async def test_overlapping_last_used_flushes_from_replicas_keep_the_latest(
    postgres_url: str, samples: Samples
) -> None:
    stores = await _replicas(postgres_url, 3)
    app = samples.app()
    keys = [samples.key(app.id) for _ in range(6)]
    try:
        await stores[0].apps.create(app)
        for key in keys:
            await stores[0].keys.create(key)
        flushes = [
            {key.id: LATER + dt.timedelta(seconds=(n * 7 + index) % 20) for index, key in enumerate(keys)}
            for n in range(12)
        ]
        await asyncio.gather(*(stores[n % 3].keys.touch(flush) for n, flush in enumerate(flushes)))
        for key in keys:
            stored = await stores[1].keys.get(key.id)
            assert stored is not None
            assert stored.last_used_at == max(flush[key.id] for flush in flushes)
    finally:
        await _close(stores)


async def test_an_archived_prefix_leaves_an_anchor_the_chain_goes_on_from(
    postgres_url: str, samples: Samples
) -> None:
    [store] = await _replicas(postgres_url, 1)
    try:
        await store.audit.append([samples.event() for _ in range(4)])
        anchor = await store.audit_log.archive_through(2, LATER, note="archived")
        await store.audit.append([samples.event()])
        assert await store.audit_log.anchor() == anchor
        stored = [event async for event in postgres_events(store.audit_log)]
        report = verify_chain(stored, anchor)
        assert report.ok, report.broken
        assert (report.verified, report.head.seq) == (3, 5)
        with pytest.raises(KeyError):
            await store.audit_log.archive_through(99, LATER)
    finally:
        await store.close()


# --- faults -----------------------------------------------------------------------------------


async def test_a_failing_pipelined_transaction_commits_nothing_and_leaves_its_connection_idle(
    postgres_url: str, samples: Samples, caplog: pytest.LogCaptureFixture
) -> None:
    """A statement failing mid-pipeline: the ones after it (``COMMIT`` included) are skipped, the
    error is raised, the transaction rolled back, and the one pooled connection serves again."""
    [store] = await _replicas(postgres_url, 1, PoolSettings(min_size=1, max_size=1, timeout_s=1.0))
    try:
        draft = samples.draft()
        with pytest.raises(psycopg.errors.UndefinedTable):
            async with store.database.transaction(pipelined=True) as cursor:
                await cursor.execute(
                    "INSERT INTO audit_anchors (seq, hash, event_id, created_at, note)"
                    " VALUES (1, 'h', 'e', 't', 'n')"
                )
                await cursor.execute("SELECT 1 FROM no_such_table")
                await cursor.execute(
                    "INSERT INTO audit_anchors (seq, hash, event_id, created_at, note)"
                    " VALUES (2, 'h', 'e', 't', 'n')"
                )
        async with store.database.pool.connection() as connection:
            assert connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        # Rolled back by the store, not found in a failed transaction by the pool (which warns).
        assert not [record for record in caplog.records if record.name.startswith("psycopg")]
        assert await store.database.read("SELECT seq FROM audit_anchors") == []
        await store.writes.create_draft(draft, None, None, [samples.event(draft_id=draft.id)])
        assert await store.writes.get_draft(draft.id) == draft
    finally:
        await store.close()


async def test_an_exhausted_pool_waits_its_timeout_then_fails_closed(postgres_url: str) -> None:
    [store] = await _replicas(postgres_url, 1, PoolSettings(min_size=1, max_size=1, timeout_s=0.2))
    try:
        async with store.database.pool.connection():
            with pytest.raises(OppError) as refused:
                await store.apps.get("app_1")
        assert refused.value.code == ReasonCode.UNAVAILABLE
        assert await store.apps.get("app_1") is None  # the connection is back: served again
    finally:
        await store.close()


async def test_a_restarted_server_fails_closed_then_the_store_recovers_by_itself(
    postgres_server: PostgresServer, postgres_url: str, samples: Samples
) -> None:
    [store] = await _replicas(postgres_url, 1, PoolSettings(min_size=2, max_size=4, timeout_s=1.0))
    try:
        await store.apps.create(samples.app(id="app_before"))
        postgres_server.restart("immediate")
        outcomes: list[str] = []
        deadline = time.monotonic() + RECOVERY_DEADLINE
        while True:
            try:
                await store.apps.create(samples.app())
                outcomes.append("ok")
                break
            except OppError as refused:
                assert refused.code == ReasonCode.UNAVAILABLE
                outcomes.append("unavailable")
            assert time.monotonic() < deadline, outcomes
        assert await store.apps.get("app_before") is not None
        await store.ping()
    finally:
        await store.close()


async def test_a_store_whose_server_is_down_fails_closed_on_open() -> None:
    store = PostgresStore(f"postgresql://opp@127.0.0.1:{free_port()}/opp", PoolSettings(1, 1, 0.5))
    with pytest.raises(OppError) as refused:
        await store.open()
    assert refused.value.code == ReasonCode.UNAVAILABLE


async def test_the_url_and_its_password_never_reach_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    password = "pw-never-shown-4242"
    url = f"postgresql://opp:{password}@127.0.0.1:{free_port()}/opp_secret_db"
    store = PostgresStore(url, PoolSettings(1, 1, 0.5))
    with caplog.at_level(logging.DEBUG), pytest.raises(OppError) as refused:
        await store.open()
    shown = [str(refused.value), refused.value.message, repr(store), repr(store.database), caplog.text]
    assert not [text for text in shown if password in text or url in text]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://opp:pw-never-shown-4242@db:5432/opp",
        "host=db user=opp password=pw-never-shown-4242 dbname=opp",
        "host=db user=opp password='pw-never-shown-4242' dbname=opp",
    ],
)
def test_redacted_removes_the_url_and_its_password(url: str) -> None:
    text = f"connecting with {url} failed; password pw-never-shown-4242 rejected"
    assert "pw-never-shown-4242" not in redacted(text, url)
    assert url not in redacted(text, url)


async def test_reads_after_a_restart_retry_on_fresh_connections_instead_of_failing(
    postgres_server: PostgresServer, postgres_url: str, samples: Samples
) -> None:
    pool = PoolSettings(min_size=4, max_size=4, timeout_s=5.0, key_cache_max_age_s=0.0)
    [store] = await _replicas(postgres_url, 1, pool)
    try:
        await store.apps.create(samples.app(id="app_before"))
        await asyncio.gather(*(store.apps.get("app_before") for _ in range(8)))  # every connection used
        postgres_server.restart("immediate")  # returns once the server accepts connections again
        found = await asyncio.gather(*(store.apps.get("app_before") for _ in range(4)))
        assert all(app is not None for app in found)  # no 503: each stale connection was replaced
    finally:
        await store.close()
