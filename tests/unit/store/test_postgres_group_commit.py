"""Group commit on the real PostgreSQL server: the inserts of one turn of the event loop share one
transaction and one chain seal; a unit's failure is its own; an unavailable store fails the batch
closed without running it again; a cancelled caller writes nothing; idempotency locks are taken in
one order, so replicas batching the same keys in opposite orders do not deadlock."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from opp.audit.sources import postgres_events
from opp.audit.verify import verify_chain
from opp.errors import OppError
from opp.store import DraftQuery, DraftRecord
from opp.store.errors import StoreUnavailable
from opp.store.postgres import PoolSettings, PostgresStore
from opp.store.postgres.writes import PostgresWrites

from .postgres_replicas import close, opened, replicas
from .samples import Samples


def _writes(store: PostgresStore) -> PostgresWrites:
    assert isinstance(store.writes, PostgresWrites)
    return store.writes


async def _chain_of(store: PostgresStore) -> list[str | None]:
    """The draft ids of the stored events in chain order, after checking the chain is unbroken."""
    report = verify_chain([event async for event in postgres_events(store.audit_log)])
    assert report.ok, report.broken
    chain = await store.audit.read_chain(0, 1000)
    assert [event.seq for event in chain] == list(range(1, len(chain) + 1))
    return [event.draft_id for event in chain]


async def _create(store: PostgresStore, samples: Samples, draft: DraftRecord) -> None:
    await store.writes.create_draft(draft, None, None, [samples.event(draft_id=draft.id)])


async def test_drafts_of_one_turn_share_one_transaction_and_one_unbroken_chain(
    postgres_url: str, samples: Samples
) -> None:
    async with opened(postgres_url) as store:
        group = _writes(store).group_commit
        drafts = [samples.draft() for _ in range(10)]
        before = group.batches
        await asyncio.gather(*(_create(store, samples, draft) for draft in drafts))
        assert group.batches == before + 1
        for draft in drafts:
            assert await store.writes.get_draft(draft.id) == draft
        assert await _chain_of(store) == [draft.id for draft in drafts]


async def test_a_failing_unit_fails_alone_and_the_others_commit(postgres_url: str, samples: Samples) -> None:
    async with opened(postgres_url) as store:
        group = _writes(store).group_commit
        taken = samples.draft()
        await _create(store, samples, taken)
        fresh = [samples.draft(), samples.draft()]
        before = group.batches
        outcomes = await asyncio.gather(
            _create(store, samples, fresh[0]),
            _create(store, samples, taken),  # a duplicate id: this caller's failure only
            _create(store, samples, fresh[1]),
            return_exceptions=True,
        )
        assert outcomes[0] is None and outcomes[2] is None
        assert isinstance(outcomes[1], KeyError)
        assert group.batches == before + 1 + 3  # the batch rolled back, then each unit alone
        listed = await store.writes.list_drafts(DraftQuery())
        assert sorted(draft.id for draft in listed) == sorted([taken.id, fresh[0].id, fresh[1].id])
        assert await _chain_of(store) == [taken.id, fresh[0].id, fresh[1].id]


async def test_finished_executions_share_a_batch_and_an_unknown_one_fails_alone(
    postgres_url: str, samples: Samples
) -> None:
    """The check that a finished execution exists is read after the batch's statements, not per unit."""
    async with opened(postgres_url) as store:
        group = _writes(store).group_commit
        drafts = [samples.draft(status="confirmed") for _ in range(3)]
        started = [samples.execution(draft.id) for draft in drafts]
        for draft, execution in zip(drafts, started, strict=True):
            await store.writes.create_draft(draft, None, execution, [])
        done = [msgspec.structs.replace(execution, status="success", result="ok") for execution in started]
        unknown = samples.execution(drafts[1].id, status="success")
        before = group.batches
        await asyncio.gather(
            *(
                store.writes.finish_execution(e, {"note": "done"}, [samples.event(draft_id=e.draft_id)])
                for e in done
            )
        )
        assert group.batches == before + 1
        outcomes = await asyncio.gather(
            store.writes.finish_execution(unknown, {"note": "lost"}, [samples.event(draft_id=drafts[1].id)]),
            store.writes.finish_execution(done[0], {"note": "again"}, [samples.event(draft_id=drafts[0].id)]),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], KeyError) and outcomes[1] is None
        assert group.batches == before + 1 + 1 + 2  # the batch rolled back, then each unit alone
        for draft, execution in zip(drafts, done, strict=True):
            assert await store.writes.latest_execution(draft.id) == execution
        notes = [
            stored.note for stored in [await store.writes.get_draft(draft.id) for draft in drafts] if stored
        ]
        assert notes == ["again", "done", "done"]
        assert await _chain_of(store) == [drafts[0].id, drafts[1].id, drafts[2].id, drafts[0].id]


async def test_an_unavailable_store_fails_the_whole_batch_closed_and_runs_none_of_it_again(
    postgres_url: str, samples: Samples
) -> None:
    async with opened(postgres_url, PoolSettings(min_size=1, max_size=1, timeout_s=0.2)) as store:
        group = _writes(store).group_commit
        drafts = [samples.draft() for _ in range(3)]
        before = group.batches
        async with store.database.pool.connection():  # the only connection: the batch cannot get one
            outcomes = await asyncio.gather(
                *(_create(store, samples, draft) for draft in drafts), return_exceptions=True
            )
        assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes)
        assert all(isinstance(outcome, OppError) and outcome.status == 503 for outcome in outcomes)
        assert group.batches == before + 1
        assert await store.writes.list_drafts(DraftQuery()) == []
        await _create(store, samples, drafts[0])  # the connection is back: served again
        assert await store.writes.get_draft(drafts[0].id) == drafts[0]


async def test_a_caller_cancelled_before_the_flush_writes_nothing(
    postgres_url: str, samples: Samples
) -> None:
    async with opened(postgres_url) as store:
        gone, kept = samples.draft(), samples.draft()
        leaving = asyncio.ensure_future(_create(store, samples, gone))
        staying = asyncio.ensure_future(_create(store, samples, kept))
        await asyncio.sleep(0)  # both queued, the flush not yet run
        leaving.cancel()
        await staying
        assert leaving.cancelled()
        assert await store.writes.get_draft(gone.id) is None
        assert await _chain_of(store) == [kept.id]


async def test_keyed_drafts_of_one_turn_share_one_transaction_and_a_claimed_key_replays(
    postgres_url: str, samples: Samples
) -> None:
    async with opened(postgres_url) as store:
        group = _writes(store).group_commit
        first = samples.draft()
        await store.writes.create_draft(first, samples.idempotency(first.id, key="taken"), None, [])
        drafts = [samples.draft() for _ in range(4)]
        claims = [samples.idempotency(draft.id, key=f"key-{n}") for n, draft in enumerate(drafts)]
        claims[2] = samples.idempotency(drafts[2].id, key="taken")
        before = group.batches
        outcomes = await asyncio.gather(
            *(
                store.writes.create_draft(draft, claim, None, [samples.event(draft_id=draft.id)])
                for draft, claim in zip(drafts, claims, strict=True)
            )
        )
        assert group.batches == before + 1
        assert outcomes[2] is not None and outcomes[2].draft_id == first.id
        assert [outcome for n, outcome in enumerate(outcomes) if n != 2] == [None, None, None]
        listed = {draft.id for draft in await store.writes.list_drafts(DraftQuery())}
        assert listed == {first.id, drafts[0].id, drafts[1].id, drafts[3].id}
        assert sorted(filter(None, await _chain_of(store))) == sorted(
            [drafts[0].id, drafts[1].id, drafts[3].id]
        )


async def test_one_key_twice_in_one_batch_creates_one_draft(postgres_url: str, samples: Samples) -> None:
    async with opened(postgres_url) as store:
        group = _writes(store).group_commit
        drafts = [samples.draft() for _ in range(5)]
        before = group.batches
        outcomes = await asyncio.gather(
            *(
                store.writes.create_draft(draft, samples.idempotency(draft.id), None, [samples.event()])
                for draft in drafts
            )
        )
        assert outcomes[0] is None
        assert {outcome.draft_id for outcome in outcomes[1:] if outcome is not None} == {drafts[0].id}
        assert None not in outcomes[1:]
        assert [draft.id for draft in await store.writes.list_drafts(DraftQuery())] == [drafts[0].id]
        assert group.batches == before + 5  # one unit of a key per batch: none rolled back and rerun


@pytest.mark.parametrize("round_", range(3))
async def test_replicas_batching_keys_in_opposite_orders_do_not_deadlock(
    postgres_url: str, samples: Samples, round_: int
) -> None:
    stores = await replicas(postgres_url, 2)
    keys = [f"key-{round_}-{n}" for n in range(20)]
    try:
        calls = []
        for store, order in ((stores[0], keys), (stores[1], keys[::-1])):
            for key in order:
                draft = samples.draft()
                calls.append(
                    store.writes.create_draft(draft, samples.idempotency(draft.id, key=key), None, [])
                )
        outcomes = await asyncio.gather(*calls)  # a deadlock would surface as a 503 here
        assert sum(outcome is None for outcome in outcomes) == len(keys)
        listed = await stores[0].writes.list_drafts(DraftQuery())
        assert len(listed) == len(keys)
    finally:
        await close(stores)
