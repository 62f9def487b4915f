"""Batched lookups on the real PostgreSQL server: the idempotency claims and preflights asked for
in one turn of the loop are read by one query, each caller gets its own row (or none), a lookup
sees what was committed before it asked, an unavailable store fails every caller closed and the
next lookup is served again, and a caller that went away does not hold the others up."""

from __future__ import annotations

import asyncio

from opp.errors import OppError
from opp.store.errors import StoreUnavailable
from opp.store.postgres import PoolSettings, PostgresStore
from opp.store.postgres.writes import PostgresWrites

from .postgres_replicas import opened
from .samples import Samples


def _writes(store: PostgresStore) -> PostgresWrites:
    assert isinstance(store.writes, PostgresWrites)
    return store.writes


async def test_claims_asked_for_in_one_turn_are_read_by_one_query(
    postgres_url: str, samples: Samples
) -> None:
    async with opened(postgres_url) as store:
        drafts = [samples.draft() for _ in range(3)]
        claims = [
            samples.idempotency(drafts[0].id, key="a"),
            samples.idempotency(drafts[1].id, key="b"),
            samples.idempotency(drafts[2].id, key="a", app_id="app_2"),  # same key, another app
        ]
        for draft, claim in zip(drafts, claims, strict=True):
            await store.writes.create_draft(draft, claim, None, [])
        lookups = _writes(store).claims
        before = lookups.queries
        found = await asyncio.gather(
            store.writes.get_idempotency("app_1", "a"),
            store.writes.get_idempotency("app_2", "a"),
            store.writes.get_idempotency("app_1", "missing"),
            store.writes.get_idempotency("app_1", "b"),
            store.writes.get_idempotency("app_1", "a"),  # asked twice: both answered
        )
        assert found == [claims[0], claims[2], None, claims[1], claims[0]]
        assert lookups.queries == before + 1


async def test_preflights_asked_for_in_one_turn_are_read_by_one_query(
    postgres_url: str, samples: Samples
) -> None:
    async with opened(postgres_url) as store:
        preflights = [samples.preflight() for _ in range(3)]
        for preflight in preflights:
            await store.writes.create_preflight(preflight, [])
        lookups = _writes(store).preflights
        before = lookups.queries
        ids = [*(preflight.id for preflight in preflights), "pre_x"]
        found = await asyncio.gather(*(store.writes.get_preflight(preflight_id) for preflight_id in ids))
        assert found == [*preflights, None]
        assert lookups.queries == before + 1


async def test_a_lookup_sees_what_was_committed_before_it_asked(postgres_url: str, samples: Samples) -> None:
    async with opened(postgres_url) as store:
        draft = samples.draft()
        claim = samples.idempotency(draft.id, key="fresh")
        assert await store.writes.get_idempotency("app_1", "fresh") is None

        async def claim_then_look() -> object:
            await store.writes.create_draft(draft, claim, None, [])
            return await store.writes.get_idempotency("app_1", "fresh")

        # One caller asks before the claim commits, one after: each sees its own present.
        early, late = await asyncio.gather(store.writes.get_idempotency("app_1", "fresh"), claim_then_look())
        assert early is None
        assert late == claim


async def test_an_unavailable_store_fails_every_lookup_closed_then_serves_again(
    postgres_url: str, samples: Samples
) -> None:
    async with opened(postgres_url, PoolSettings(min_size=1, max_size=1, timeout_s=0.2)) as store:
        preflight = samples.preflight()
        await store.writes.create_preflight(preflight, [])
        async with store.database.pool.connection():  # the only connection: the query cannot get one
            outcomes = await asyncio.gather(
                store.writes.get_preflight(preflight.id),
                store.writes.get_idempotency("app_1", "k"),
                store.writes.get_preflight("pre_x"),
                return_exceptions=True,
            )
        assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes)
        assert all(isinstance(outcome, OppError) and outcome.status == 503 for outcome in outcomes)
        assert await store.writes.get_preflight(preflight.id) == preflight


async def test_a_caller_that_went_away_does_not_hold_up_the_others(
    postgres_url: str, samples: Samples
) -> None:
    async with opened(postgres_url) as store:
        preflight = samples.preflight()
        await store.writes.create_preflight(preflight, [])
        leaving = asyncio.ensure_future(store.writes.get_preflight(preflight.id))
        staying = asyncio.ensure_future(store.writes.get_preflight(preflight.id))
        await asyncio.sleep(0)  # both queued, the query not yet answered
        leaving.cancel()
        assert await asyncio.wait_for(staying, 5) == preflight
        assert leaving.cancelled()
        assert await store.writes.get_preflight(preflight.id) == preflight
