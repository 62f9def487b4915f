"""Approvals over 3 replicas: one execution per draft, and a quorum of distinct approvers.

``transaction.create`` needs 2 approvals here. Votes are rows with a unique (draft, approver) key
in PostgreSQL and the count is read under the draft's row lock, so replicas cannot count one
approver twice nor execute a draft twice.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from opp.auth.tokens import hash_token
from tests.scaleout.cluster import Cluster, fire, new_transaction, running_cluster, spread
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer

APPROVERS = {f"approver-{n:02d}": f"opa_{secrets.token_urlsafe(32)}" for n in range(20)}
"""Declared admin credentials (``admin.credentials``), one identity each."""
CREATE = new_transaction("Approved by two", 7.25)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[Cluster]:
    credentials = [
        {"name": name, "roles": ["approver"], "token_sha256": hash_token(token)}
        for name, token in APPROVERS.items()
    ]
    with running_cluster(
        tmp_path_factory.mktemp("approvals"),
        postgres_server,
        redis_server,
        overrides={"admin": {"credentials": credentials}},
        tool_overrides={"transaction.create": {"approvals": 2}},
    ) as running:
        yield running


def _draft(cluster: Cluster, key: str) -> str:
    response = httpx.post(
        f"{cluster.replicas[0].base_url}/api/agent/v1/actions",
        json={"action": "transaction.create", "payload": CREATE, "idempotencyKey": key},
        headers={"Authorization": f"Bearer {cluster.token()}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "draft"
    draft_id: str = response.json()["data"]["draft"]["id"]
    return draft_id


def _approvals(cluster: Cluster, draft_id: str, tokens: list[str]) -> list[httpx.Response]:
    path = f"/api/agent-admin/v1/drafts/{draft_id}/approve"
    requests = [
        ("POST", url, path, {"note": "ok"}, {"Authorization": f"Bearer {token}"})
        for url, token in zip(spread(cluster, len(tokens)), tokens, strict=True)
    ]
    return asyncio.run(fire(requests))


def _draft_detail(cluster: Cluster, draft_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{cluster.replicas[2].base_url}/api/agent-admin/v1/drafts/{draft_id}",
        headers={"Authorization": f"Bearer {next(iter(APPROVERS.values()))}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()["data"]
    return detail


def test_twenty_concurrent_approvals_on_three_replicas_execute_once(cluster: Cluster) -> None:
    draft_id = _draft(cluster, "quorum-20")

    responses = _approvals(cluster, draft_id, list(APPROVERS.values()))

    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    executed = [r for r in responses if r.status_code == 200 and r.json()["data"]["execution"]]
    assert len(executed) == 1, [r.text for r in responses]
    assert executed[0].json()["data"]["execution"]["status"] == "success"
    assert cluster.effects().count("quorum-20") == 1
    assert _draft_detail(cluster, draft_id)["execution"]["status"] == "success"


def test_one_approver_voting_on_every_replica_counts_once(cluster: Cluster) -> None:
    draft_id = _draft(cluster, "quorum-distinct")
    alice, bob = list(APPROVERS.values())[:2]

    same_person = _approvals(cluster, draft_id, [alice] * 9)

    statuses = sorted(r.status_code for r in same_person)
    assert statuses == [200] + [403] * 8, [r.text for r in same_person]
    counted = next(r for r in same_person if r.status_code == 200).json()["data"]
    assert (counted["approvals"], counted["required"], counted["execution"]) == (1, 2, None)
    assert {r.json()["code"] for r in same_person if r.status_code == 403} == {"agent.approval_forbidden"}
    assert "quorum-distinct" not in cluster.effects()

    second = _approvals(cluster, draft_id, [bob])[0]

    assert second.status_code == 200, second.text
    assert second.json()["data"]["execution"]["status"] == "success"
    assert cluster.effects().count("quorum-distinct") == 1
