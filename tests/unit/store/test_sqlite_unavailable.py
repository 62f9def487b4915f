"""A SQLite store that cannot write raises :class:`StoreUnavailable`, writes nothing, and works
again as soon as the file does — real SQLite conditions on a real file, no mocks.

``PRAGMA query_only`` makes SQLite refuse writes as for a read-only file (``SQLITE_READONLY``);
``PRAGMA max_page_count`` at the current size makes it report a full disk (``SQLITE_FULL``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from opp.clock import FrozenClock
from opp.store.errors import StoreUnavailable
from opp.store.sqlite.database import SqliteDatabase


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SqliteDatabase]:
    db = SqliteDatabase(str(tmp_path / "opp.db"), FrozenClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), 50)
    db.open()
    with db.write() as connection:
        connection.execute("CREATE TABLE probe (value TEXT)")
    yield db
    db.close()


def _fill(db: SqliteDatabase, rows: int) -> None:
    with db.write() as connection:
        connection.executemany("INSERT INTO probe VALUES (?)", [("x" * 2000,)] * rows)


def _count(db: SqliteDatabase) -> int:
    return int(db.read("SELECT COUNT(*) FROM probe")[0][0])


def test_a_read_only_file_fails_closed_and_recovers(database: SqliteDatabase) -> None:
    database.connection.execute("PRAGMA query_only = ON")
    with pytest.raises(StoreUnavailable) as refused:
        _fill(database, 1)
    assert (refused.value.code.value, refused.value.headers) == ("agent.unavailable", {"Retry-After": "1"})
    database.connection.execute("PRAGMA query_only = OFF")
    _fill(database, 1)
    assert _count(database) == 1


def test_a_full_disk_rolls_the_whole_transaction_back_and_recovers(database: SqliteDatabase) -> None:
    _fill(database, 3)
    pages = database.read("PRAGMA page_count")[0][0]
    database.connection.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreUnavailable):
        _fill(database, 50)  # needs more pages than the file may have: the 50 rows go in together or not
    assert _count(database) == 3
    database.connection.execute("PRAGMA max_page_count = 1073741823")
    _fill(database, 50)
    assert _count(database) == 53
