"""SQLite-only behaviour of the write store: table layout, races between workers, failing closed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.store import AuditQuery, DraftQuery, IdempotencyRecord, SqliteStore
from opp.store.write_rules import APPROVALS, DRAFTS, EXECUTIONS, IDEMPOTENCY, PREFLIGHTS

from .samples import T0, Samples

T = TypeVar("T")

RACES = 20
"""Rounds per race: one lost race proves little, twenty make a missing lock show."""

Work = Callable[[SqliteStore, int, int], Awaitable[T]]


async def opened(path: Path, busy_timeout_ms: int = 5000) -> SqliteStore:
    store = SqliteStore(str(path), busy_timeout_ms=busy_timeout_ms)
    await store.open()
    return store


def race(path: Path, work: Work[T]) -> list[tuple[T, T]]:
    """Two workers, each with its own store, thread and event loop on ``path``, run
    ``work(store, worker, n)`` for every round ``n``, meeting at a barrier before each round.

    Returns the two workers' results of each round.
    """
    barrier = threading.Barrier(2)
    results: list[list[T]] = [[], []]
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        async def main() -> None:
            store = await opened(path)
            try:
                for n in range(RACES):
                    barrier.wait()
                    results[index].append(await work(store, index, n))
            finally:
                await store.close()

        try:
            asyncio.run(main())
        except BaseException as exc:
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return list(zip(*results, strict=True))


async def test_tables_have_one_column_per_record_field(tmp_path: Path) -> None:
    await (await opened(tmp_path / "opp.db")).close()
    connection = sqlite3.connect(tmp_path / "opp.db")
    try:

        def columns(table: str) -> tuple[str, ...]:
            return tuple(row[1] for row in connection.execute(f"PRAGMA table_info({table})"))

        assert columns("preflights") == PREFLIGHTS.columns
        assert columns("drafts") == ("create_order", *DRAFTS.columns)
        assert columns("draft_approvals") == APPROVALS.columns
        assert columns("executions") == ("create_order", *EXECUTIONS.columns)
        assert columns("idempotency_keys") == IDEMPOTENCY.columns
    finally:
        connection.close()


async def test_two_workers_racing_to_start_one_execution_start_it_once(
    tmp_path: Path, samples: Samples
) -> None:
    path = tmp_path / "opp.db"
    setup = await opened(path)
    drafts = [samples.draft() for _ in range(RACES)]
    for draft in drafts:
        await setup.writes.create_draft(draft, None, None, [])
    executions = [[samples.execution(draft.id) for draft in drafts] for _ in range(2)]
    events = [[samples.event(execution_id=e.id) for e in mine] for mine in executions]
    changes = {"status": "confirmed", "confirmed_by_user_id": "approver_1", "updated_at": T0}

    async def start(store: SqliteStore, worker: int, n: int) -> bool:
        execution, event = executions[worker][n], events[worker][n]
        return await store.writes.start_execution(drafts[n].id, ("draft",), changes, execution, [event])

    outcomes = race(path, start)
    assert all(sorted(pair) == [False, True] for pair in outcomes)
    winners = [executions[pair.index(True)][n] for n, pair in enumerate(outcomes)]
    assert [await setup.writes.latest_execution(draft.id) for draft in drafts] == winners
    assert len(await setup.writes.list_executions()) == RACES
    audited = {event.execution_id for event in await setup.audit.list(AuditQuery(limit=200))}
    assert audited == {execution.id for execution in winners}
    await setup.close()


async def test_two_workers_racing_with_one_idempotency_key_create_one_draft(
    tmp_path: Path, samples: Samples
) -> None:
    path = tmp_path / "opp.db"
    await (await opened(path)).close()
    drafts = [[samples.draft() for _ in range(RACES)] for _ in range(2)]
    keys = [[samples.idempotency(d.id, key=f"idem-{n}") for n, d in enumerate(mine)] for mine in drafts]
    executions = [[samples.execution(d.id) for d in mine] for mine in drafts]
    events = [[samples.event(draft_id=d.id) for d in mine] for mine in drafts]

    async def create(store: SqliteStore, worker: int, n: int) -> IdempotencyRecord | None:
        draft, key, execution = drafts[worker][n], keys[worker][n], executions[worker][n]
        return await store.writes.create_draft(draft, key, execution, [events[worker][n]])

    outcomes = race(path, create)

    check = await opened(path)
    stored = await check.writes.list_drafts(DraftQuery(limit=200))
    assert len(stored) == RACES
    for n, pair in enumerate(outcomes):
        assert pair.count(None) == 1
        winner = pair.index(None)
        assert pair[1 - winner] == keys[winner][n]
        assert await check.writes.get_idempotency("app_1", f"idem-{n}") == keys[winner][n]
        assert await check.writes.get_draft(drafts[1 - winner][n].id) is None
        assert await check.writes.latest_execution(drafts[winner][n].id) == executions[winner][n]
    assert len(await check.audit.list(AuditQuery(limit=200))) == RACES
    await check.close()


async def test_a_write_lock_held_past_the_timeout_makes_state_changes_unavailable(
    tmp_path: Path, samples: Samples
) -> None:
    path = tmp_path / "opp.db"
    store = await opened(path, busy_timeout_ms=20)
    draft = samples.draft()
    await store.writes.create_draft(draft, None, None, [])
    other_process = sqlite3.connect(path, isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")
        with pytest.raises(OppError) as caught:
            await store.writes.transition_draft(draft.id, ("draft",), {"note": "x"}, [samples.event()])
        assert caught.value.code is ReasonCode.UNAVAILABLE
        assert await store.writes.get_draft(draft.id) == draft  # WAL: readers are not blocked
        other_process.execute("ROLLBACK")
    finally:
        other_process.close()
    assert await store.writes.transition_draft(draft.id, ("draft",), {"note": "x"}, []) is not None
    await store.close()


async def test_a_closed_store_is_unavailable(tmp_path: Path, samples: Samples) -> None:
    store = await opened(tmp_path / "opp.db")
    await store.close()
    with pytest.raises(OppError) as caught:
        await store.writes.get_draft("drf_1")
    assert caught.value.code is ReasonCode.UNAVAILABLE
    with pytest.raises(OppError):
        await store.writes.create_draft(samples.draft(), None, None, [])
