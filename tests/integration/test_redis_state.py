"""Counters and the DPoP replay cache on a real ``redis-server``: shared, atomic, failing closed.

Two :class:`Admission` / :class:`ReplayCache` objects stand for two replicas: each opens its own
connection pool to the one server, as two ``opp serve`` processes do.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import limits
import pytest
import redis
import yaml

from opp.admission import Admission, AdmissionPlan, LimitRule
from opp.codes import ReasonCode
from opp.compile import compile_file
from opp.errors import OppError
from opp.explain.limits import rate_limit_step
from opp.oauth.replay import ReplayCache
from opp.store.redis import RedisTarget
from opp.store.redis.pipelined import PipelinedCounters
from tests.support.redis import RedisServer, running_redis
from tests.unit.admission.conftest import BASE, principal

QUOTA = 10


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test alone (some tests stop it)."""
    with running_redis(tmp_path / "redis") as server:
        yield server


def _target(server: RedisServer) -> RedisTarget:
    return RedisTarget(url=server.url, source="test", timeout_s=0.5)


def _plan(server: RedisServer, strategy: str = "fixed-window") -> AdmissionPlan:
    rule = LimitRule(id="per-key", per=("key",), item=limits.parse(f"{QUOTA}/minute"))
    return AdmissionPlan(
        storage_uri=_target(server).shown,
        redis=_target(server),
        strategy=strategy,  # type: ignore[arg-type]
        request_rules=(rule,),
    )


async def _admitted(admission: Admission) -> bool:
    try:
        await admission.check_request(principal(), "127.0.0.1")
    except OppError as refused:
        assert refused.code is ReasonCode.RATE_LIMITED
        return False
    return True


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window-counter"])
async def test_replicas_share_one_quota(redis_server: RedisServer, strategy: str) -> None:
    """All at once: the fixed window's hits go out in pipelines, batched per replica."""
    replicas = [Admission(_plan(redis_server, strategy)) for _ in range(3)]

    admitted = await asyncio.gather(*(_admitted(replicas[n % 3]) for n in range(3 * QUOTA)))

    assert admitted.count(True) == QUOTA
    for replica in replicas:
        await replica.close()


async def test_pipelined_hits_share_round_trips_and_count_with_limits_own_storage(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent hits of one replica go out together, on the key and script ``limits`` uses:
    the synchronous storage (``opp explain``, the refusal's headers) reads the same counter."""
    admission = Admission(_plan(redis_server))
    monitor = redis.Redis.from_url(redis_server.url)
    connections_before = int(monitor.info("stats")["total_connections_received"])
    round_trips: list[tuple[int, bool]] = []
    send = PipelinedCounters._counted

    async def counted(self: PipelinedCounters, batch: list[Any], *, by_sha: bool) -> list[int]:
        round_trips.append((len(batch), by_sha))
        return await send(self, batch, by_sha=by_sha)

    monkeypatch.setattr(PipelinedCounters, "_counted", counted)

    admitted = await asyncio.gather(*(_admitted(admission) for _ in range(3 * QUOTA)))

    assert admitted.count(True) == QUOTA
    (state,) = admission.peek(principal(), "127.0.0.1")
    assert state.remaining == 0 and 0 < state.reset_in <= 60
    (key,) = monitor.keys("opp:ratelimit:*")
    assert int(monitor.get(key) or 0) == 3 * QUOTA
    # all 30 hits in one script call; a fresh server knows no script yet, so it answers NOSCRIPT
    # (nothing counted) and the batch goes again as EVAL, in one more
    assert round_trips == [(3 * QUOTA, True), (3 * QUOTA, False)]
    connections = int(monitor.info("stats")["total_connections_received"]) - connections_before
    assert connections <= 4  # monitor, limits' pool for peek, the pipelined client: not one per hit
    await admission.close()


async def test_a_flushed_script_cache_is_answered_by_eval(redis_server: RedisServer) -> None:
    admission = Admission(_plan(redis_server))
    assert await _admitted(admission)
    redis.Redis.from_url(redis_server.url).script_flush()

    assert await _admitted(admission)  # NOSCRIPT, then the same hit as EVAL
    (state,) = admission.peek(principal(), "127.0.0.1")
    assert state.remaining == QUOTA - 2
    await admission.close()


def test_a_proof_seen_by_one_replica_is_a_replay_on_another(redis_server: RedisServer) -> None:
    first, second = (ReplayCache("memory://", redis=_target(redis_server)) for _ in range(2))

    assert first.first_use("jti-1", 60) is True
    assert second.first_use("jti-1", 60) is False
    assert first.first_use("jti-1", 60) is False
    assert second.first_use("jti-2", 60) is True


def test_concurrent_first_uses_of_one_key_succeed_once(redis_server: RedisServer) -> None:
    caches = [ReplayCache("memory://", redis=_target(redis_server)) for _ in range(4)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        firsts = list(pool.map(lambda n: caches[n % 4].first_use("same-jti", 60), range(40)))

    assert firsts.count(True) == 1


def test_a_seen_key_expires_after_its_lifetime(redis_server: RedisServer) -> None:
    cache = ReplayCache("memory://", redis=_target(redis_server))
    assert cache.first_use("short", 0.05) is True
    assert cache.first_use("short", 0.05) is False

    deadline = time.monotonic() + 5
    while not cache.first_use("short", 0.05):  # Redis drops the key once its PX has passed
        assert time.monotonic() < deadline, "the key never expired"
        time.sleep(0.01)


def test_keys_are_digests_with_an_expiry(redis_server: RedisServer) -> None:
    ReplayCache("memory://", redis=_target(redis_server)).first_use("raw-jti-value", 30)

    client = redis.Redis.from_url(redis_server.url)
    (key,) = client.keys("dpop:jti:*")
    assert b"raw-jti-value" not in key and len(key) == len("dpop:jti:") + 64
    assert 0 < client.pttl(key) <= 30_000


async def test_redis_down_refuses_with_503_and_recovers_by_itself(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    admission = Admission(_plan(redis_server))
    cache = ReplayCache("memory://", redis=_target(redis_server))
    assert await _admitted(admission) and cache.first_use("before", 60)

    redis_server.stop()
    with pytest.raises(OppError) as counted:
        await admission.check_request(principal(), None)
    checks = (lambda: admission.peek(principal(), None), lambda: cache.first_use("during", 60))
    refusals = [counted.value]
    for check in checks:
        with pytest.raises(OppError) as caught:
            check()
        refusals.append(caught.value)
    for refusal in refusals:
        assert (refusal.code, refusal.status) == (ReasonCode.SHARED_STATE_UNAVAILABLE, 503)
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    tool = compile_file(config, environ={}).tools_by_name["ledger.list"]
    step = rate_limit_step(admission, principal(), tool, "127.0.0.1")  # what `opp explain` shows
    assert (step.status, step.code) == ("failed", "agent.shared_state_unavailable")
    assert step.details["storage"] == redis_server.url

    redis_server.start()  # same port, empty: the pools reconnect on their next command
    assert await _admitted(admission)
    assert cache.first_use("after", 60) is True
    assert cache.first_use("after", 60) is False


async def test_a_silent_redis_times_out_with_503_then_answers_again(redis_server: RedisServer) -> None:
    """A Redis that accepts but does not answer (stopped with SIGSTOP) costs a timeout, not a hang."""
    assert redis_server.process is not None
    admission = Admission(_plan(redis_server))
    cache = ReplayCache("memory://", redis=RedisTarget(url=redis_server.url, source="test", timeout_s=0.2))
    assert await _admitted(admission) and cache.first_use("before", 60)

    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(OppError) as counted:
            await admission.check_request(principal(), None)
        assert counted.value.code is ReasonCode.SHARED_STATE_UNAVAILABLE
        with pytest.raises(OppError) as caught:
            cache.first_use("x", 60)
        assert caught.value.code is ReasonCode.SHARED_STATE_UNAVAILABLE
    finally:
        redis_server.process.send_signal(signal.SIGCONT)

    assert await _admitted(admission)  # the timed-out connections were dropped, not reused out of step
    assert cache.first_use("after", 60) is True
    # Redis ran the SET that timed out once it woke up: that proof, refused with 503, stays refused
    assert cache.first_use("x", 60) is False


def test_a_password_in_the_url_is_used_and_a_wrong_one_fails_closed(tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis", password="s3cr3t-pa55") as server:
        good = ReplayCache("memory://", redis=_target(server))
        wrong_url = server.url.replace("pa55", "nope")
        wrong = ReplayCache("memory://", redis=RedisTarget(url=wrong_url, source="t"))

        assert good.first_use("k", 60) is True
        with pytest.raises(OppError) as caught:
            wrong.first_use("k2", 60)

    assert caught.value.code is ReasonCode.SHARED_STATE_UNAVAILABLE
    assert "s3cr3t" not in str(caught.value)
