"""The OAuth HTTP routes on a real Litestar app: metadata documents, JWKS and the token endpoint.

``create_app`` wires these handlers in; here they run on a small app of their own with real
components (memory store, audit writer, :class:`OAuthServices` with its DPoP verifier and keys).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from opp.audit.writer import AuditWriter
from opp.clock import FrozenClock, IdFactory
from opp.http.errors import EXCEPTION_HANDLERS
from opp.http.oauth_routes import oauth_handlers
from opp.oauth.metadata import authorization_server_metadata, protected_resource_metadata
from opp.oauth.plan import OAuthPlan
from opp.oauth.services import OAuthServices
from opp.store.memory import MemoryStore
from opp.store.records import AuditEvent, AuditQuery

from .dev_fixtures import NOW, RESOURCE, Client, DpopClient, basic, decode_token, dev_plan, seed_client

FORM = {"content-type": "application/x-www-form-urlencoded"}
GRANT = {"grant_type": "client_credentials"}
MAX_BODY = 2048


@dataclass
class Host:
    """The slice of a Runtime the OAuth routes use, built from real components."""

    oauth: OAuthServices | None
    audit: AuditWriter
    clock: FrozenClock
    ids: IdFactory
    store: MemoryStore


def make_host(plan: OAuthPlan | None) -> Host:
    store = MemoryStore()
    clock, ids = FrozenClock(NOW), IdFactory()
    services = OAuthServices(plan, store, clock, ids) if plan is not None else None
    return Host(services, AuditWriter(store), clock, ids, store)


def make_app(host: Host, *, start: bool = True) -> Litestar:
    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if host.oauth is not None and start:
            await host.oauth.start()
        try:
            yield
        finally:
            if host.oauth is not None:
                await host.oauth.close()

    return Litestar(
        route_handlers=oauth_handlers(host),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY,
    )


@asynccontextmanager
async def serving(
    plan: OAuthPlan | None, *, start: bool = True
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], Host]]:
    host = make_host(plan)
    async with AsyncTestClient(make_app(host, start=start)) as http:
        yield http, host


async def token_events(host: Host) -> list[AuditEvent]:
    return await host.store.audit.list(AuditQuery(action="oauth.token"))


# --- metadata documents -------------------------------------------------------------------------


async def test_protected_resource_metadata_is_a_plain_cached_json_document() -> None:
    plan = dev_plan()
    async with serving(plan) as (http, _):
        response = await http.get("/.well-known/oauth-protected-resource")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "max-age=300"
    assert "www-authenticate" not in response.headers
    assert response.json() == protected_resource_metadata(plan)
    assert "ok" not in response.json()


async def test_authorization_server_metadata_and_jwks_are_served() -> None:
    plan = dev_plan()
    async with serving(plan) as (http, host):
        metadata = await http.get("/.well-known/oauth-authorization-server")
        jwks = await http.get("/oauth/jwks")
        assert host.oauth is not None and host.oauth.keys is not None
        expected_jwks = await host.oauth.keys.public_jwks()
    assert metadata.status_code == 200
    assert metadata.json() == authorization_server_metadata(plan)
    assert jwks.status_code == 200
    assert jwks.headers["cache-control"] == "max-age=300"
    assert jwks.json() == expected_jwks
    assert all("d" not in key for key in jwks.json()["keys"])


@pytest.mark.parametrize("plan", [None, dev_plan(enabled=False)], ids=["no services", "oauth off"])
async def test_no_oauth_routes_without_oauth(plan: OAuthPlan | None) -> None:
    async with serving(plan) as (http, _):
        for path in ("/.well-known/oauth-protected-resource", "/oauth/jwks"):
            response = await http.get(path)
            assert response.status_code == 404
            assert response.json()["code"] == "common.not_found"


async def test_without_the_dev_server_only_resource_metadata_is_served() -> None:
    async with serving(dev_plan(dev_enabled=False)) as (http, _):
        assert (await http.get("/.well-known/oauth-protected-resource")).status_code == 200
        assert (await http.get("/.well-known/oauth-authorization-server")).status_code == 404
        assert (await http.get("/oauth/jwks")).status_code == 404
        response = await http.post("/oauth/token", content=b"grant_type=client_credentials", headers=FORM)
        assert response.status_code == 404


# --- token endpoint -----------------------------------------------------------------------------


async def post_token(
    http: AsyncTestClient[Litestar], form: dict[str, str], client: Client | None, proof: str | None
) -> Any:
    headers = dict(FORM)
    if client is not None:
        headers["authorization"] = basic(client.client_id, client.secret)
    if proof is not None:
        headers["dpop"] = proof
    return await http.post("/oauth/token", data=form, headers=headers)


async def test_token_response_is_envelope_and_rfc6749_at_once() -> None:
    async with serving(dev_plan()) as (http, host):
        client = await seed_client(host.store)
        holder = DpopClient()
        response = await post_token(http, {**GRANT, "resource": RESOURCE}, client, holder.proof())
        assert host.oauth is not None and host.oauth.keys is not None
        jwks = await host.oauth.keys.public_jwks()
        events = await token_events(host)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "www-authenticate" not in response.headers
    assert response.headers["x-request-id"]
    body = response.json()
    fields = {key: body[key] for key in ("access_token", "token_type", "expires_in", "scope")}
    assert body == {"ok": True, "code": "common.success", "data": fields, **fields}
    assert fields["token_type"] == "DPoP"
    _, claims = decode_token(fields["access_token"], jwks)
    assert claims["cnf"] == {"jkt": holder.jkt}

    [event] = events
    assert (event.status, event.code, event.app_id, event.key_id) == (
        "success",
        "common.success",
        client.client_id,
        client.key.id,
    )
    assert event.principal == {"kind": "oauth_client", "client_id": client.client_id, "jkt": holder.jkt}
    assert event.details["jti"] == claims["jti"]
    recorded = json.dumps([event.principal, event.details, event.user_agent])
    assert fields["access_token"] not in recorded
    assert client.secret not in recorded


async def test_client_secret_post_over_http() -> None:
    async with serving(dev_plan()) as (http, host):
        client = await seed_client(host.store)
        form = {**GRANT, "client_id": client.client_id, "client_secret": client.secret}
        response = await post_token(http, form, None, DpopClient().proof())
    assert response.status_code == 200


async def test_invalid_client_is_401_with_a_basic_challenge_and_audited() -> None:
    async with serving(dev_plan()) as (http, host):
        client = await seed_client(host.store)
        client.secret = client.secret[:-2] + "zz"
        response = await post_token(http, GRANT, client, DpopClient().proof())
        [event] = await token_events(host)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="opp"'
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "ok": False,
        "code": "agent.token_invalid",
        "message": "Client authentication failed.",
        "error": "invalid_client",
        "error_description": "Client authentication failed.",
    }
    assert (event.status, event.code, event.app_id) == ("denied", "agent.token_invalid", None)
    assert event.details == {"error": "invalid_client"}


async def test_refusal_after_authentication_names_the_client_in_the_audit() -> None:
    async with serving(dev_plan()) as (http, host):
        client = await seed_client(host.store)
        response = await post_token(http, {**GRANT, "scope": "admin.read"}, client, DpopClient().proof())
        [event] = await token_events(host)
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["code"]) == ("invalid_scope", "agent.scope_denied")
    assert (event.status, event.code, event.app_id, event.key_id) == (
        "denied",
        "agent.scope_denied",
        client.client_id,
        client.key.id,
    )


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"grant_type=client_credentials", "text/plain"),
        (b"grant_type=client_credentials&scope=a&scope=b", "application/x-www-form-urlencoded"),
        (b"grant_type", "application/x-www-form-urlencoded"),
        (b"grant_type=\xff", "application/x-www-form-urlencoded"),
    ],
    ids=["json", "text", "repeated parameter", "malformed", "not utf-8"],
)
async def test_malformed_token_requests_are_invalid_request(content: bytes, content_type: str) -> None:
    async with serving(dev_plan()) as (http, host):
        client = await seed_client(host.store)
        headers = {"content-type": content_type, "authorization": basic(client.client_id, client.secret)}
        response = await http.post("/oauth/token", content=content, headers=headers)
        [event] = await token_events(host)
    assert response.status_code == 400
    body = response.json()
    assert (body["ok"], body["code"], body["error"]) == (False, "common.validation", "invalid_request")
    assert event.status == "denied"


async def test_nonce_challenge_and_retry_over_http() -> None:
    async with serving(dev_plan(nonce=True)) as (http, host):
        client = await seed_client(host.store)
        holder = DpopClient()
        challenge = await post_token(http, GRANT, client, holder.proof())
        nonce = challenge.headers["dpop-nonce"]
        retried = await post_token(http, GRANT, client, holder.proof(nonce=nonce))
    assert challenge.status_code == 400
    assert (challenge.json()["error"], challenge.json()["code"]) == (
        "use_dpop_nonce",
        "agent.dpop_nonce_required",
    )
    assert "www-authenticate" not in challenge.headers
    assert retried.status_code == 200
    assert retried.headers["dpop-nonce"] == nonce


async def test_invalid_proof_over_http() -> None:
    async with serving(dev_plan()) as (http, host):
        client = await seed_client(host.store)
        response = await post_token(
            http, GRANT, client, DpopClient().proof(htu="https://evil.example/oauth/token")
        )
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["code"]) == ("invalid_dpop_proof", "agent.dpop_invalid")


async def test_oversized_body_is_413_and_audited() -> None:
    async with serving(dev_plan()) as (http, host):
        content = b"grant_type=client_credentials&pad=" + b"x" * MAX_BODY
        response = await http.post("/oauth/token", content=content, headers=FORM)
        [event] = await token_events(host)
    assert response.status_code == 413
    assert response.json()["code"] == "common.payload_too_large"
    assert (event.status, event.code) == ("denied", "common.payload_too_large")


async def test_dev_server_not_started_fails_closed() -> None:
    async with serving(dev_plan(), start=False) as (http, host):
        response = await http.post("/oauth/token", content=b"grant_type=client_credentials", headers=FORM)
        [event] = await token_events(host)
    assert response.status_code == 503
    assert response.json()["code"] == "agent.unavailable"
    assert (event.status, event.code) == ("failed", "agent.unavailable")


async def test_get_on_the_token_endpoint_is_405() -> None:
    async with serving(dev_plan()) as (http, _):
        response = await http.get("/oauth/token")
    assert response.status_code == 405
    assert response.json()["code"] == "common.method_not_allowed"
