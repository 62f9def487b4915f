"""One ``Idempotency-Key``, 100 concurrent identical executes over 3 replicas: one effect.

The claim on the key is a row in PostgreSQL that only one replica can insert; the 99 others wait
for its outcome and replay it, each with its own ``agent.action.idempotency_replay`` audit event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.scaleout.cluster import Cluster, fire, new_transaction, running_cluster, spread
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer

CREATE = new_transaction("Coffee beans", 42.5)
ACTIONS = "/api/agent/v1/actions"


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("idempotency"), postgres_server, redis_server) as running:
        yield running


def _events(cluster: Cluster, admin: str, action: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{cluster.replicas[0].base_url}/api/agent-admin/v1/audit",
        params={"action": action, "limit": "200"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["data"]["items"]
    return items


def test_one_hundred_identical_executes_over_three_replicas_give_one_effect(cluster: Cluster) -> None:
    token, admin = cluster.token(), cluster.admin
    cluster.open_window()
    body = {"action": "transaction.create", "payload": CREATE, "execute": True, "idempotencyKey": "once-1"}
    agent = {"Authorization": f"Bearer {token}"}

    responses = asyncio.run(fire([("POST", url, ACTIONS, body, agent) for url in spread(cluster, 100)]))

    assert [r.status_code for r in responses] == [200] * 100, {r.status_code: r.text for r in responses}
    data = [r.json()["data"] for r in responses]
    originals = [d for d in data if not d.get("replayed")]
    replays = [d for d in data if d.get("replayed")]
    assert (len(originals), len(replays)) == (1, 99)
    assert originals[0]["status"] == "executed"
    assert all(d["code"] == "agent.idempotency_replay" for d in replays)
    assert len({d["execution"]["id"] for d in data}) == 1
    assert len({d["draft"]["id"] for d in data}) == 1
    assert cluster.effects() == ["once-1"]
    drafts = httpx.get(
        f"{cluster.replicas[1].base_url}/api/agent-admin/v1/drafts",
        params={"tool": "transaction.create"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    ).json()["data"]["items"]
    assert len(drafts) == 1
    executes = [e for e in _events(cluster, admin, "agent.action.execute") if e["status"] == "success"]
    assert len(executes) == 1
    deadline = time.monotonic() + 10  # each replica flushes its batched replay events by itself
    while len(replays_seen := _events(cluster, admin, "agent.action.idempotency_replay")) < 99:
        assert time.monotonic() < deadline, len(replays_seen)
        time.sleep(0.1)
    assert len(replays_seen) == 99
