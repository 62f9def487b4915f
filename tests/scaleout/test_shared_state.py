"""What replicas must agree on at once: revocations, rate-limit quotas, DPoP replays and nonces.

* Revocation: keys and apps are read from PostgreSQL on every request (no replica keeps a copy it
  could serve after a revocation), so a key or app revoked through replica A is refused by B and
  C on their very next request.
* Rate limits: the counters live in Redis, so N requests spread over 3 replicas admit exactly
  the quota, not 3 quotas.
* DPoP: the ``jti`` replay cache is Redis (``SET NX PX``) and the nonce secret is in the store:
  a nonce issued by A is good on B, and a proof accepted by A is a replay on B and C.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from joserfc.jwk import ECKey

from tests.scaleout.cluster import PUBLIC_URL, Cluster, fire, running_cluster, spread
from tests.support.jose_tools import ec_key, jwks_document, make_proof, mint_access_token, thumbprint
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer

LEDGERS = "/api/agent/v1/ledgers"
TRANSACTIONS = "/api/agent/v1/transactions?ledgerId=ledger_main"
QUOTA = 30
RATE = f"{QUOTA}/minute"
ISSUER = "https://idp.test"
IDP_KEY = ec_key("idp-1")


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("shared-state")
    (directory / "idp-jwks.json").write_text(json.dumps(jwks_document(IDP_KEY)), encoding="utf-8")
    overrides = {
        "rate_limits": {
            "storage": "redis",
            "rules": [{"id": "ledger-lists", "per": ["key"], "tools": ["ledger.list"], "limit": RATE}],
        },
        "oauth": {
            "enabled": True,
            "issuers": [{"issuer": ISSUER, "jwks_file": "idp-jwks.json", "algorithms": ["ES256"]}],
            "dev_server": {"enabled": False},
            "dpop": {"nonce": True},
        },
    }
    with running_cluster(directory, postgres_server, redis_server, overrides=overrides) as running:
        yield running


def _get(base_url: str, path: str, token: str) -> httpx.Response:
    return httpx.get(base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _new_app(cluster: Cluster, admin: str) -> tuple[str, str, str]:
    """(app id, its first key's id, that key) created through replica A."""
    app = {"name": "revocable", "scope": "workspace", "org_id": "org_demo", "scopes": ["transaction.read"]}
    response = httpx.post(
        f"{cluster.replicas[0].base_url}/api/agent-admin/v1/apps",
        json=app,
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return data["app"]["id"], data["key"]["id"], data["token"]


def _admin_post(cluster: Cluster, admin: str, path: str) -> None:
    response = httpx.post(
        f"{cluster.replicas[0].base_url}/api/agent-admin/v1{path}",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_a_key_revoked_through_one_replica_is_refused_by_the_others(cluster: Cluster) -> None:
    admin = cluster.admin
    _, key_id, token = _new_app(cluster, admin)
    others = [replica.base_url for replica in cluster.replicas[1:]]
    assert [_get(url, TRANSACTIONS, token).status_code for url in others] == [200, 200]  # warm

    _admin_post(cluster, admin, f"/keys/{key_id}/revoke")

    refused = [_get(url, TRANSACTIONS, token) for url in others]
    assert [(r.status_code, r.json()["code"], r.json()["message"]) for r in refused] == [
        (401, "agent.token_invalid", "Credential revoked.")
    ] * 2


def test_an_app_revoked_through_one_replica_is_refused_by_the_others(cluster: Cluster) -> None:
    admin = cluster.admin
    app_id, _, token = _new_app(cluster, admin)
    others = [replica.base_url for replica in cluster.replicas[1:]]
    assert [_get(url, TRANSACTIONS, token).status_code for url in others] == [200, 200]

    _admin_post(cluster, admin, f"/apps/{app_id}/revoke")

    refused = [_get(url, TRANSACTIONS, token) for url in others]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(401, "agent.token_invalid")] * 2


def test_a_quota_is_global_across_replicas(cluster: Cluster) -> None:
    token = cluster.token()
    agent = {"Authorization": f"Bearer {token}"}

    responses = asyncio.run(fire([("GET", url, LEDGERS, None, agent) for url in spread(cluster, 3 * QUOTA)]))

    statuses = [r.status_code for r in responses]
    assert (statuses.count(200), statuses.count(429)) == (QUOTA, 2 * QUOTA), statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["code"] == "agent.rate_limited"
    assert refused.headers["RateLimit-Policy"] == f'"ledger-lists";q={QUOTA};w=60'
    for replica in cluster.replicas:  # every replica now refuses this key
        assert _get(replica.base_url, LEDGERS, token).status_code == 429


def _bound_token(holder: ECKey) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "agent-1",
        "aud": f"{PUBLIC_URL}/",
        "client_id": "app_demo",
        "scope": "transaction.read",
        "iat": now,
        "exp": now + 600,
        "jti": f"at-{now}",
        "cnf": {"jkt": thumbprint(holder)},
    }
    return mint_access_token(IDP_KEY, claims)


def _dpop_get(base_url: str, token: str, proof: str) -> httpx.Response:
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    return httpx.get(base_url + TRANSACTIONS, headers=headers, timeout=30)


def test_a_nonce_from_one_replica_works_on_another_and_a_proof_is_used_once(cluster: Cluster) -> None:
    holder = ec_key()
    token = _bound_token(holder)
    a, b, c = (replica.base_url for replica in cluster.replicas)
    htu = PUBLIC_URL + "/api/agent/v1/transactions"

    first = make_proof(holder, htm="GET", htu=htu, iat=time.time(), access_token=token)
    challenge = _dpop_get(a, token, first)
    assert (challenge.status_code, challenge.json()["code"]) == (401, "agent.dpop_nonce_required")
    nonce = challenge.headers["DPoP-Nonce"]
    claims = {"nonce": nonce}
    proof = make_proof(holder, htm="GET", htu=htu, iat=time.time(), access_token=token, claims=claims)

    accepted = _dpop_get(b, token, proof)  # the nonce A issued is good on B
    replays = [_dpop_get(url, token, proof) for url in (a, c, b)]

    assert accepted.status_code == 200, accepted.text
    for replay in replays:
        assert (replay.status_code, replay.json()["code"]) == (401, "agent.dpop_invalid"), replay.text
        assert replay.json()["message"] == "DPoP proof replayed"
    fresh = make_proof(holder, htm="GET", htu=htu, iat=time.time(), access_token=token, claims=claims)
    assert _dpop_get(c, token, fresh).status_code == 200
