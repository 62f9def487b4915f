"""Group commit on a real SQLite file: writes queued in one turn of the event loop share one
transaction, each unit in its own savepoint; nothing is acknowledged before ``COMMIT``, a unit's
failure is its own, a failed transaction fails the whole batch, a cancelled caller writes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opp.clock import FrozenClock
from opp.store import SqliteStore
from opp.store.errors import StoreUnavailable
from opp.store.sqlite.database import SqliteDatabase

from .samples import Samples, unsealed


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SqliteDatabase]:
    db = SqliteDatabase(str(tmp_path / "opp.db"), FrozenClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), 50)
    db.open()
    with db.write() as connection:
        connection.execute("CREATE TABLE probe (value TEXT PRIMARY KEY)")
    yield db
    db.close()


def _insert(value: str, size: int = 1) -> Callable[[sqlite3.Connection], str]:
    def unit(connection: sqlite3.Connection) -> str:
        connection.executemany("INSERT INTO probe VALUES (?)", [(f"{value}{i}",) for i in range(size)])
        return value

    return unit


def _committed(path: str) -> list[str]:
    """The probe rows as another connection sees them: only what was committed."""
    other = sqlite3.connect(path)
    try:
        return sorted(row[0] for row in other.execute("SELECT value FROM probe"))
    finally:
        other.close()


async def test_writes_of_one_turn_share_one_transaction(database: SqliteDatabase) -> None:
    before = database.group_commit.batches
    results = await asyncio.gather(*(database.transact(_insert(f"v{n}-")) for n in range(10)))
    assert results == [f"v{n}-" for n in range(10)]
    assert database.group_commit.batches == before + 1
    assert _committed(database.path) == sorted(f"v{n}-0" for n in range(10))


async def test_a_failing_unit_is_rolled_back_alone(database: SqliteDatabase) -> None:
    await database.transact(_insert("taken"))
    outcomes = await asyncio.gather(
        database.transact(_insert("a")),
        database.transact(_insert("b", 3)),
        database.transact(_insert("taken")),  # duplicate: fails alone
        database.transact(_insert("c")),
        return_exceptions=True,
    )
    assert list(outcomes[:2]) == ["a", "b"] and outcomes[3] == "c"
    assert isinstance(outcomes[2], sqlite3.IntegrityError)
    assert _committed(database.path) == ["a0", "b0", "b1", "b2", "c0", "taken0"]


async def test_nothing_is_acknowledged_before_the_commit(database: SqliteDatabase) -> None:
    seen: list[list[str]] = []

    def peek(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO probe VALUES ('mine')")
        seen.append(_committed(database.path))  # another connection: not yet committed

    task = asyncio.ensure_future(database.transact(peek))
    assert not task.done()
    await task
    assert seen == [[]]
    assert _committed(database.path) == ["mine"]


async def test_a_failed_transaction_fails_every_caller_and_writes_nothing(database: SqliteDatabase) -> None:
    pages = database.read("PRAGMA page_count")[0][0]
    database.connection.execute(f"PRAGMA max_page_count = {pages}")  # the next growth: SQLITE_FULL
    outcomes = await asyncio.gather(
        database.transact(_insert("small")),
        database.transact(_insert("big", 400)),
        database.transact(_insert("after")),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes), outcomes
    assert _committed(database.path) == []
    database.connection.execute("PRAGMA max_page_count = 1073741823")
    assert await database.transact(_insert("again")) == "again"
    assert _committed(database.path) == ["again0"]


async def test_the_write_lock_held_elsewhere_fails_the_batch_closed_then_recovers(
    database: SqliteDatabase,
) -> None:
    holder = sqlite3.connect(database.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        outcomes = await asyncio.gather(
            database.transact(_insert("x")),
            database.transact(_insert("y")),
            return_exceptions=True,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [type(outcome) for outcome in outcomes] == [StoreUnavailable, StoreUnavailable]
    assert _committed(database.path) == []
    assert await database.transact(_insert("z")) == "z"


async def test_waiting_for_another_writer_leaves_the_loop_serving_and_gathers_a_larger_batch(
    tmp_path: Path,
) -> None:
    db = SqliteDatabase(str(tmp_path / "opp.db"), FrozenClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), 5000)
    db.open()
    try:
        with db.write() as connection:
            connection.execute("CREATE TABLE probe (value TEXT PRIMARY KEY)")
        holder = sqlite3.connect(db.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another worker's batch holds the write lock
        first = asyncio.ensure_future(db.transact(_insert("first")))
        ticks = 0
        for _ in range(20):  # the loop goes on while the batch waits for the lock
            await asyncio.sleep(0.005)
            ticks += 1
        late = asyncio.ensure_future(db.transact(_insert("late")))  # arrives while it waits: joins
        await asyncio.sleep(0.005)
        assert not first.done() and _committed(db.path) == []
        batches = db.group_commit.batches
        holder.execute("COMMIT")
        holder.close()
        assert await first == "first" and await late == "late"
        assert ticks == 20
        assert db.group_commit.batches == batches + 1  # both in the one batch
        assert _committed(db.path) == ["first0", "late0"]
    finally:
        db.close()


async def test_a_caller_cancelled_before_the_flush_writes_nothing(database: SqliteDatabase) -> None:
    gone = asyncio.ensure_future(database.transact(_insert("gone")))
    kept = asyncio.ensure_future(database.transact(_insert("kept")))
    await asyncio.sleep(0)  # both queued, the flush not yet run
    gone.cancel()
    assert await kept == "kept"
    assert gone.cancelled()
    assert _committed(database.path) == ["kept0"]


async def test_concurrent_drafts_commit_together_with_their_audit_chain(tmp_path: Path) -> None:
    samples = Samples()
    store = SqliteStore(str(tmp_path / "opp.db"))
    await store.open()
    try:
        drafts = [samples.draft() for _ in range(8)]
        duplicate = drafts[3]
        outcomes = await asyncio.gather(
            *(store.writes.create_draft(d, None, None, [samples.event(draft_id=d.id)]) for d in drafts),
            store.writes.create_draft(duplicate, None, None, [samples.event(draft_id=duplicate.id)]),
            return_exceptions=True,
        )
        assert outcomes[:8] == [None] * 8 and isinstance(outcomes[8], KeyError)
        for draft in drafts:
            assert await store.writes.get_draft(draft.id) == draft
        chain = await store.audit.read_chain(0, 100)
        assert [event.seq for event in chain] == list(range(1, 9))  # one unbroken chain, no gap
        assert [event.draft_id for event in unsealed(chain)] == [d.id for d in drafts]
    finally:
        await store.close()
