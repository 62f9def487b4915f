"""SIGKILL of a replica between claim and completion: no second effect, and ``unknown`` for operators.

Replica A claims the idempotency key, calls the backend (which records its effect, then hangs)
and is killed. Its lease on the execution (``writes.execution_lease``, 1 s here) runs out, yet
replica B does not run the action again: nobody can tell whether the effect happened, so the
execution is ``unknown`` and the agent's retry gets 409 ``agent.idempotency_in_progress`` with
``state: unknown`` until an operator settles it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.scaleout.cluster import Cluster, new_transaction, running_cluster
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer

CREATE = new_transaction("Killed mid-flight", 13.0)
BODY = {"action": "transaction.create", "payload": CREATE, "execute": True, "idempotencyKey": "crash-1"}
LEASE_S = 1.0


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[Cluster]:
    with running_cluster(
        tmp_path_factory.mktemp("crash"),
        postgres_server,
        redis_server,
        replicas=2,
        overrides={"writes": {"execution_lease": f"{LEASE_S:.0f}s"}},
        backend_call="apply_then_hang",
    ) as running:
        yield running


def test_a_killed_replica_leaves_one_effect_and_an_unknown_execution(cluster: Cluster) -> None:
    token = cluster.token()
    cluster.open_window()
    agent = {"Authorization": f"Bearer {token}"}
    a, b = cluster.replicas
    with contextlib.suppress(httpx.TimeoutException):  # A never answers: its backend hangs
        httpx.post(f"{a.base_url}/api/agent/v1/actions", json=BODY, headers=agent, timeout=0.5)
    deadline = time.monotonic() + 20
    while cluster.effects() != ["crash-1"]:
        assert time.monotonic() < deadline, "the backend was never called"
        time.sleep(0.05)

    os.killpg(a.process.pid, signal.SIGKILL)
    a.process.wait(10)
    killed_at = time.monotonic()
    while time.monotonic() - killed_at < 2 * LEASE_S:  # let A's lease run out (a real interval)
        time.sleep(0.1)

    retry = httpx.post(f"{b.base_url}/api/agent/v1/actions", json=BODY, headers=agent, timeout=30)

    assert retry.status_code == 409, retry.text
    assert retry.json()["code"] == "agent.idempotency_in_progress"
    assert retry.json()["details"]["state"] == "unknown"
    admin = {"Authorization": f"Bearer {cluster.admin}"}
    drafts_url = f"{b.base_url}/api/agent-admin/v1/drafts"
    listed = httpx.get(drafts_url, params={"tool": "transaction.create"}, headers=admin, timeout=30)
    drafts = listed.json()["data"]["items"]
    assert len(drafts) == 1
    detail = httpx.get(f"{b.base_url}/api/agent-admin/v1/drafts/{drafts[0]['id']}", headers=admin, timeout=30)
    assert detail.json()["data"]["execution"]["status"] == "unknown"
    assert cluster.effects() == ["crash-1"]
