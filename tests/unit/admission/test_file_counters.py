"""The host-shared limits storages, ``mmap://`` and ``sqlite://``, against one contract: fixed-window
counters with expiry, the sliding window counter, and counters shared by two instances (as by two
worker processes). Each storage's own mechanics are tested in its own module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import limits
import pytest
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, SlidingWindowCounterRateLimiter

from opp.admission import MmapStorage, SqliteStorage
from opp.admission.file_counters import FileCounters


class FakeTime:
    def __init__(self, at: float = 1_800_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def now() -> FakeTime:
    return FakeTime()


KINDS: dict[str, type[FileCounters]] = {"mmap": MmapStorage, "sqlite": SqliteStorage}
Open = Callable[..., FileCounters]


@pytest.fixture(params=sorted(KINDS))
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def uri(tmp_path: Path, scheme: str) -> str:
    return f"{scheme}:///{tmp_path}/counters.{scheme}"


@pytest.fixture
def storage_of(uri: str, scheme: str) -> Open:
    """A new instance on the one file (``timer`` and other options passed on)."""
    return lambda **options: KINDS[scheme](uri, **options)


def test_the_scheme_is_registered_with_limits(uri: str, scheme: str) -> None:
    storage = storage_from_string(uri)

    assert isinstance(storage, KINDS[scheme])
    assert storage.check()


@pytest.mark.parametrize("bad", ["{}://relative.db", "{}:relative", "memory://"])
def test_only_absolute_paths(bad: str, scheme: str) -> None:
    with pytest.raises(ValueError, match=f"{scheme}:///ABSOLUTE/PATH"):
        KINDS[scheme](bad.format(scheme))


def test_incr_counts_until_the_window_expires_then_restarts(storage_of: Open, now: FakeTime) -> None:
    storage = storage_of(timer=now)

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


def test_clear_and_reset(storage_of: Open, now: FakeTime) -> None:
    storage = storage_of(timer=now)
    storage.incr("a", 60)
    storage.incr("b", 60)

    storage.clear("a")
    assert (storage.get("a"), storage.get("b")) == (0, 1)
    assert storage.reset() == 1
    assert storage.get("b") == 0


def test_expired_sqlite_rows_are_purged(
    tmp_path: Path, now: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("opp.admission.sqlite_storage._PURGE_EVERY", 3)
    storage = SqliteStorage(f"sqlite:///{tmp_path}/counters.sqlite3", timer=now)
    storage.incr("old", 10)
    now.at += 11
    storage.incr("new", 10)
    storage.incr("new", 10)  # the third increment purges

    rows = storage._db().execute("SELECT key FROM rate_limit_counters").fetchall()
    assert rows == [("new",)]


def test_two_instances_share_one_quota(storage_of: Open, now: FakeTime) -> None:
    """Two storages on one file stand for two worker processes: the quota is not doubled."""
    item = limits.parse("4/minute")
    first = FixedWindowRateLimiter(storage_of(timer=now))
    second = FixedWindowRateLimiter(storage_of(timer=now))

    outcomes = [(first if i % 2 else second).hit(item, "client") for i in range(6)]

    assert outcomes == [True, True, True, True, False, False]
    assert second.get_window_stats(item, "client").remaining == 0


def test_sliding_window_counter_weights_the_previous_window(storage_of: Open) -> None:
    now = FakeTime(600.0)  # the start of a 60 s window
    limiter = SlidingWindowCounterRateLimiter(storage_of(timer=now))
    item = limits.parse("10/minute")

    assert all(limiter.hit(item, "c") for _ in range(10))
    assert not limiter.hit(item, "c")
    now.at += 90  # half-way through the next window: 10 * 0.5 of the previous still count
    previous, previous_ttl, current, _ = limiter.storage.get_sliding_window(item.key_for("c"), 60)  # type: ignore[attr-defined]
    assert (previous, previous_ttl, current) == (10, 30.0, 0)
    assert [limiter.hit(item, "c") for _ in range(6)] == [True] * 5 + [False]
    assert not limiter.hit(item, "c", cost=11)


def test_sliding_window_clear(storage_of: Open, now: FakeTime) -> None:
    storage = storage_of(timer=now)
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = limits.parse("1/minute")
    assert limiter.hit(item, "c")

    limiter.clear(item, "c")

    assert limiter.hit(item, "c")


def test_errors_are_wrapped_when_asked(tmp_path: Path, scheme: str) -> None:
    storage = storage_from_string(f"{scheme}:///{tmp_path}/missing-dir/x.db", wrap_exceptions=True)

    with pytest.raises(limits.errors.StorageError):
        storage.incr("k", 60)
    assert not storage.check()
