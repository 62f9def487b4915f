"""The ``sqlite://`` limits storage: fixed-window counters with expiry, the sliding window counter,
and counters shared by two connections (as by two worker processes)."""

from __future__ import annotations

from pathlib import Path

import limits
import pytest
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, SlidingWindowCounterRateLimiter

from opp.admission import SqliteStorage


class FakeTime:
    def __init__(self, at: float = 1_800_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def now() -> FakeTime:
    return FakeTime()


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/counters.sqlite3"


def test_the_scheme_is_registered_with_limits(uri: str) -> None:
    storage = storage_from_string(uri)

    assert isinstance(storage, SqliteStorage)
    assert storage.check()


@pytest.mark.parametrize("bad", ["sqlite://relative.db", "sqlite:relative", "memory://"])
def test_only_absolute_paths(bad: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///ABSOLUTE/PATH"):
        SqliteStorage(bad)


def test_incr_counts_until_the_window_expires_then_restarts(uri: str, now: FakeTime) -> None:
    storage = SqliteStorage(uri, timer=now)

    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3
    assert storage.get_expiry("k") == now.at + 60
    now.at += 59.9
    assert storage.incr("k", 60, amount=2) == 5
    now.at += 0.2  # past the expiry fixed by the first hit
    assert storage.get("k") == 0
    assert storage.get_expiry("k") == now.at
    assert storage.incr("k", 60) == 1
    assert storage.get_expiry("k") == now.at + 60


def test_clear_and_reset(uri: str, now: FakeTime) -> None:
    storage = SqliteStorage(uri, timer=now)
    storage.incr("a", 60)
    storage.incr("b", 60)

    storage.clear("a")
    assert (storage.get("a"), storage.get("b")) == (0, 1)
    assert storage.reset() == 1
    assert storage.get("b") == 0


def test_expired_rows_are_purged(uri: str, now: FakeTime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("opp.admission.sqlite_storage._PURGE_EVERY", 3)
    storage = SqliteStorage(uri, timer=now)
    storage.incr("old", 10)
    now.at += 11
    storage.incr("new", 10)
    storage.incr("new", 10)  # the third increment purges

    rows = storage._db().execute("SELECT key FROM rate_limit_counters").fetchall()
    assert rows == [("new",)]


def test_two_connections_share_one_quota(uri: str, now: FakeTime) -> None:
    """Two storages on one file stand for two worker processes: the quota is not doubled."""
    item = limits.parse("4/minute")
    first = FixedWindowRateLimiter(SqliteStorage(uri, timer=now))
    second = FixedWindowRateLimiter(SqliteStorage(uri, timer=now))

    outcomes = [(first if i % 2 else second).hit(item, "client") for i in range(6)]

    assert outcomes == [True, True, True, True, False, False]
    assert second.get_window_stats(item, "client").remaining == 0


def test_sliding_window_counter_weights_the_previous_window(uri: str) -> None:
    now = FakeTime(600.0)  # the start of a 60 s window
    limiter = SlidingWindowCounterRateLimiter(SqliteStorage(uri, timer=now))
    item = limits.parse("10/minute")

    assert all(limiter.hit(item, "c") for _ in range(10))
    assert not limiter.hit(item, "c")
    now.at += 90  # half-way through the next window: 10 * 0.5 of the previous still count
    previous, previous_ttl, current, _ = limiter.storage.get_sliding_window(item.key_for("c"), 60)  # type: ignore[attr-defined]
    assert (previous, previous_ttl, current) == (10, 30.0, 0)
    assert [limiter.hit(item, "c") for _ in range(6)] == [True] * 5 + [False]
    assert not limiter.hit(item, "c", cost=11)


def test_sliding_window_clear(uri: str, now: FakeTime) -> None:
    storage = SqliteStorage(uri, timer=now)
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = limits.parse("1/minute")
    assert limiter.hit(item, "c")

    limiter.clear(item, "c")

    assert limiter.hit(item, "c")


def test_errors_are_wrapped_when_asked(tmp_path: Path) -> None:
    storage = storage_from_string(f"sqlite:///{tmp_path}/missing-dir/x.db", wrap_exceptions=True)

    with pytest.raises(limits.errors.StorageError):
        storage.incr("k", 60)
    assert not storage.check()
