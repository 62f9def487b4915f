"""The DPoP jti replay cache (opp.oauth.replay): first use only, hashed keys, shared, fails closed."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from opp.codes import ReasonCode
from opp.compile import compile_file
from opp.errors import OppError
from opp.http.asgi import REPLAY_SLOTS, plan_for_workers
from opp.oauth.replay import ReplayCache
from tests.support.servers import ROOT


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/replay.sqlite3"


@pytest.fixture
def mmap_uri(tmp_path: Path) -> str:
    return f"mmap:///{tmp_path}/replay.seen?slots=1024"


@pytest.mark.parametrize("kind", ["memory", "sqlite", "mmap"])
def test_a_key_is_new_only_once(kind: str, sqlite_uri: str, mmap_uri: str) -> None:
    cache = ReplayCache({"memory": "memory://", "sqlite": sqlite_uri, "mmap": mmap_uri}[kind])
    try:
        assert cache.first_use("jkt:jti-1", 65.0) is True
        assert cache.first_use("jkt:jti-1", 65.0) is False
        assert cache.first_use("jkt:jti-2", 65.0) is True
        assert cache.first_use("other-jkt:jti-1", 65.0) is True
    finally:
        cache.close()


@pytest.mark.parametrize("kind", ["sqlite", "mmap"])
def test_two_caches_on_one_file_agree(kind: str, sqlite_uri: str, mmap_uri: str) -> None:
    # two worker processes each open their own connection to (or mapping of) the same file
    uri = sqlite_uri if kind == "sqlite" else mmap_uri
    first, second = ReplayCache(uri), ReplayCache(uri)
    try:
        assert first.first_use("jkt:shared", 65.0)
        assert not second.first_use("jkt:shared", 65.0)
        assert second.first_use("jkt:only-second", 65.0)
        assert not first.first_use("jkt:only-second", 65.0)
    finally:
        first.close()
        second.close()


def test_keys_are_stored_hashed(sqlite_uri: str, tmp_path: Path) -> None:
    cache = ReplayCache(sqlite_uri)
    raw = "jkt:a-client-chosen-jti-" + "x" * 200
    cache.first_use(raw, 65.0)
    cache.close()
    with sqlite3.connect(tmp_path / "replay.sqlite3") as db:
        keys = [row[0] for row in db.execute("SELECT key FROM dpop_seen")]
    assert keys == [hashlib.sha256(raw.encode()).digest()]


def test_an_expired_key_is_new_again(sqlite_uri: str, tmp_path: Path) -> None:
    cache = ReplayCache(sqlite_uri)
    assert cache.first_use("jkt:jti", 65.0)
    with sqlite3.connect(tmp_path / "replay.sqlite3") as db:  # the expiry passes
        db.execute("UPDATE dpop_seen SET expires_at = 0")
    assert cache.first_use("jkt:jti", 65.0)
    assert not cache.first_use("jkt:jti", 65.0)
    cache.close()


def test_an_unreachable_sqlite_storage_fails_closed(tmp_path: Path) -> None:
    cache = ReplayCache(f"sqlite:///{tmp_path}/missing-directory/replay.sqlite3")
    with pytest.raises(OppError) as caught:
        cache.first_use("jkt:jti", 65.0)
    assert caught.value.code is ReasonCode.UNAVAILABLE
    assert caught.value.status == 503


def test_a_full_mapped_table_refuses_the_proof(tmp_path: Path) -> None:
    cache = ReplayCache(f"mmap:///{tmp_path}/replay.seen?slots=1024")
    outcomes = []
    with pytest.raises(OppError) as caught:
        for n in range(2000):  # more live keys than slots: some key finds all its probes taken
            outcomes.append(cache.first_use(f"jkt:jti-{n}", 65.0))
    assert caught.value.code is ReasonCode.UNAVAILABLE and caught.value.status == 503
    assert all(outcomes) and len(outcomes) <= 1024  # never an unchecked "first use"
    cache.close()


def test_an_unreachable_redis_fails_closed() -> None:
    pytest.importorskip("redis")
    cache = ReplayCache("redis://127.0.0.1:1")  # nothing listens on port 1
    with pytest.raises(OppError) as caught:
        cache.first_use("jkt:jti", 65.0)
    assert caught.value.code is ReasonCode.UNAVAILABLE


def test_async_storages_are_refused() -> None:
    with pytest.raises(ValueError, match="synchronous"):
        ReplayCache("async+memory://")


def test_close_is_safe_for_any_storage(sqlite_uri: str) -> None:
    for uri in ("memory://", sqlite_uri):
        cache = ReplayCache(uri)
        assert cache.first_use("jkt:jti", 60.0) is True
        assert cache.first_use("jkt:jti", 60.0) is False
        cache.close()
        cache.close()
    reopened = ReplayCache(sqlite_uri)  # what was recorded survives the close on shared storage
    assert reopened.first_use("jkt:jti", 60.0) is False
    reopened.close()


class ManualTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_keys_expire_after_their_ttl() -> None:
    timer = ManualTimer()
    cache = ReplayCache("memory://", timer=timer)
    assert cache.first_use("jkt:a", 65.0)
    timer.now += 30
    assert cache.first_use("jkt:b", 65.0)
    timer.now += 34.9
    assert not cache.first_use("jkt:a", 65.0)
    timer.now += 0.1  # a's expiry reached, b's not
    assert cache.first_use("jkt:a", 65.0)
    assert not cache.first_use("jkt:b", 65.0)
    timer.now += 65
    assert cache.first_use("jkt:b", 65.0)


def test_two_processes_writing_at_once_each_key_is_first_exactly_once(sqlite_uri: str) -> None:
    """Two worker processes on one file: no key is accepted twice, no write is lost to the lock."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_use_keys, [(sqlite_uri, 400), (sqlite_uri, 400)])
    assert sum(results) == 400


def _use_keys(uri: str, count: int) -> int:
    cache = ReplayCache(uri)
    try:
        return sum(cache.first_use(f"jkt:jti-{n}", 65.0) for n in range(count))
    finally:
        cache.close()


def test_several_workers_share_a_mapped_replay_table_next_to_the_store(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    plan = compile_file(str(config))
    assert plan_for_workers(plan, 1).oauth.dpop.replay_storage_uri == "memory://"
    shared = plan_for_workers(plan, 2).oauth.dpop.replay_storage_uri
    assert shared == f"mmap:///{plan.store_path}-dpop-replay.seen?slots={REPLAY_SLOTS}"
    Path(plan.store_path).parent.mkdir(parents=True)  # made by the store when a worker opens it
    cache = ReplayCache(shared)
    assert cache.first_use("jkt:jti", 65.0) and not ReplayCache(shared).first_use("jkt:jti", 65.0)
    cache.close()
