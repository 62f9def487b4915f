"""retry_while_locked: a write waits for another connection's lock in short steps, then gives up."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from opp.store.sqlite.busy import retry_while_locked


def _connections(path: Path) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    waiter = sqlite3.connect(path, isolation_level=None, timeout=0)
    return holder, waiter


def test_a_write_waits_until_the_other_connection_commits(tmp_path: Path) -> None:
    holder, waiter = _connections(tmp_path / "db.sqlite3")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        waiter.execute("INSERT INTO t VALUES (2)")  # no busy handler: fails at once
    release = threading.Timer(0.05, lambda: holder.execute("COMMIT"))
    release.start()
    retry_while_locked(lambda: waiter.execute("INSERT INTO t VALUES (2)"))
    release.join()
    assert [row[0] for row in waiter.execute("SELECT k FROM t ORDER BY k")] == [1, 2]


def test_a_lock_held_past_the_budget_propagates_the_error(tmp_path: Path) -> None:
    holder, waiter = _connections(tmp_path / "db.sqlite3")
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry_while_locked(lambda: waiter.execute("INSERT INTO t VALUES (2)"), budget_s=0.01)
    holder.execute("ROLLBACK")


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    _, waiter = _connections(tmp_path / "db.sqlite3")
    calls = []

    def broken() -> None:
        calls.append(1)
        waiter.execute("INSERT INTO missing VALUES (1)")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_while_locked(broken)
    assert calls == [1]
