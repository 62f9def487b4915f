"""The development authorization server's token endpoint logic (client_credentials, DPoP, RFC 9068)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import httpx
import pytest

from opp.codes import ReasonCode
from opp.oauth.access_tokens import AccessTokenValidator
from opp.oauth.dev_server import DevAuthorizationServer, OAuthError

from .dev_fixtures import (
    APP_SCOPES,
    NOW,
    PUBLIC_URL,
    RESOURCE,
    TOKEN_URL,
    Client,
    DevParts,
    DpopClient,
    basic,
    build_dev_server,
    decode_token,
    dev_plan,
    seed_client,
)

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
async def parts() -> DevParts:
    return await build_dev_server()


@pytest.fixture
async def client(parts: DevParts) -> Client:
    return await seed_client(parts.store)


async def refused(
    server: DevAuthorizationServer,
    form: dict[str, str],
    authorization: list[str],
    dpop: list[str] | None = None,
) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        await server.issue(form, authorization, dpop or [])
    return caught.value


# --- issuance -----------------------------------------------------------------------------------


async def test_dpop_bound_token_is_an_rfc9068_jwt(parts: DevParts, client: Client) -> None:
    holder = DpopClient()
    issued = await parts.server.issue(
        {**GRANT, "resource": RESOURCE}, [basic(client.client_id, client.secret)], [holder.proof()]
    )
    assert issued.response["token_type"] == "DPoP"
    assert issued.response["expires_in"] == 600
    assert issued.response["scope"] == " ".join(APP_SCOPES)
    assert (issued.client_id, issued.key_id, issued.jkt) == (client.client_id, client.key.id, holder.jkt)
    assert issued.headers == {}

    header, claims = decode_token(issued.response["access_token"], await parts.keys.public_jwks())
    assert header == {"typ": "at+jwt", "alg": "ES256", "kid": (await parts.keys.signing_key()).kid}
    issued_at = int(NOW.timestamp())
    assert claims == {
        "iss": PUBLIC_URL,
        "sub": client.client_id,
        "aud": RESOURCE,
        "client_id": client.client_id,
        "scope": "ledger.read transaction.write",
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + 600,
        "jti": issued.jti,
        "cnf": {"jkt": holder.jkt},
    }


async def test_issued_token_passes_the_gateways_own_validator(parts: DevParts, client: Client) -> None:
    holder = DpopClient()
    token = (await parts.server.token(GRANT, [basic(client.client_id, client.secret)], [holder.proof()]))[
        "access_token"
    ]
    async with httpx.AsyncClient() as http:
        validator = AccessTokenValidator(
            parts.plan, parts.clock, http=http, local_jwks=parts.keys.public_jwks
        )
        info = await validator.validate(token)
    assert (info.issuer, info.client_id, info.subject, info.jkt) == (
        PUBLIC_URL,
        client.client_id,
        client.client_id,
        holder.jkt,
    )


async def test_client_secret_post_is_accepted(parts: DevParts, client: Client) -> None:
    form = {**GRANT, "client_id": client.client_id, "client_secret": client.secret}
    issued = await parts.server.issue(form, [], [DpopClient().proof()])
    assert issued.client_id == client.client_id


async def test_basic_credentials_are_form_urlencoded(parts: DevParts) -> None:
    odd = await seed_client(parts.store, app_id="app:odd id+1")
    issued = await parts.server.issue(GRANT, [basic(odd.client_id, odd.secret)], [DpopClient().proof()])
    assert issued.client_id == "app:odd id+1"
    raw = "Basic " + base64.b64encode(f"{odd.client_id}:{odd.secret}".encode()).decode()
    assert (await refused(parts.server, GRANT, [raw], [DpopClient().proof()])).error == "invalid_client"


async def test_requested_scope_narrows_the_grant(parts: DevParts, client: Client) -> None:
    form = {**GRANT, "scope": "ledger.read"}
    issued = await parts.server.issue(form, [basic(client.client_id, client.secret)], [DpopClient().proof()])
    assert issued.response["scope"] == "ledger.read"
    _, claims = decode_token(issued.response["access_token"], await parts.keys.public_jwks())
    assert claims["scope"] == "ledger.read"


async def test_bearer_token_without_proof_when_dpop_is_optional() -> None:
    parts = await build_dev_server(dev_plan(require_dpop=False))
    client = await seed_client(parts.store)
    issued = await parts.server.issue(GRANT, [basic(client.client_id, client.secret)], [])
    assert issued.response["token_type"] == "Bearer"
    assert issued.jkt is None
    _, claims = decode_token(issued.response["access_token"], await parts.keys.public_jwks())
    assert "cnf" not in claims


async def test_proofs_are_ignored_when_dpop_is_disabled() -> None:
    parts = await build_dev_server(dev_plan(mode="disabled"))
    client = await seed_client(parts.store)
    issued = await parts.server.issue(GRANT, [basic(client.client_id, client.secret)], ["not even a jwt"])
    assert issued.response["token_type"] == "Bearer"


async def test_nonce_challenge_then_success_with_the_nonce() -> None:
    parts = await build_dev_server(dev_plan(nonce=True))
    client = await seed_client(parts.store)
    holder = DpopClient()
    challenge = await refused(parts.server, GRANT, [basic(client.client_id, client.secret)], [holder.proof()])
    assert (challenge.error, challenge.code, challenge.status) == (
        "use_dpop_nonce",
        ReasonCode.DPOP_NONCE_REQUIRED,
        400,
    )
    nonce = challenge.headers["DPoP-Nonce"]
    issued = await parts.server.issue(
        GRANT, [basic(client.client_id, client.secret)], [holder.proof(nonce=nonce)]
    )
    assert issued.jkt == holder.jkt
    assert issued.headers == {"DPoP-Nonce": nonce}


# --- client authentication ---------------------------------------------------------------------


async def assert_invalid_client(
    server: DevAuthorizationServer, form: dict[str, str], auth: list[str]
) -> None:
    error = await refused(server, form, auth, [DpopClient().proof()])
    assert (error.error, error.status, error.code) == ("invalid_client", 401, ReasonCode.TOKEN_INVALID)
    assert error.description == "Client authentication failed."
    assert error.headers == {"WWW-Authenticate": 'Basic realm="opp"'}
    assert (error.client_id, error.key_id) == (None, None)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no colon here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Bearer op_something",
        "Basic",
    ],
)
async def test_malformed_basic_credentials_are_invalid_client(parts: DevParts, authorization: str) -> None:
    await assert_invalid_client(parts.server, GRANT, [authorization])


async def test_unknown_secret_is_invalid_client(parts: DevParts, client: Client) -> None:
    await assert_invalid_client(parts.server, GRANT, [basic(client.client_id, client.secret[:-1] + "x")])


async def test_another_apps_key_is_invalid_client(parts: DevParts, client: Client) -> None:
    other = await seed_client(parts.store, app_id="app_other")
    await assert_invalid_client(parts.server, GRANT, [basic(client.client_id, other.secret)])


async def test_revoked_key_is_invalid_client(parts: DevParts) -> None:
    revoked = await seed_client(parts.store, revoked=True)
    await assert_invalid_client(parts.server, GRANT, [basic(revoked.client_id, revoked.secret)])


async def test_expired_key_is_invalid_client(parts: DevParts) -> None:
    expired = await seed_client(parts.store, expires_at=NOW)
    await assert_invalid_client(parts.server, GRANT, [basic(expired.client_id, expired.secret)])
    valid = await seed_client(parts.store, app_id="app_b", expires_at=NOW + dt.timedelta(seconds=1))
    assert await parts.server.issue(GRANT, [basic(valid.client_id, valid.secret)], [DpopClient().proof()])


async def test_revoked_app_is_invalid_client(parts: DevParts) -> None:
    revoked = await seed_client(parts.store, status="revoked")
    await assert_invalid_client(parts.server, GRANT, [basic(revoked.client_id, revoked.secret)])


async def test_missing_credentials_are_invalid_client(parts: DevParts, client: Client) -> None:
    await assert_invalid_client(parts.server, GRANT, [])
    await assert_invalid_client(parts.server, {**GRANT, "client_id": client.client_id}, [])
    await assert_invalid_client(parts.server, {**GRANT, "client_secret": client.secret}, [])


@pytest.mark.parametrize(
    ("extra_form", "headers"),
    [
        ({"client_secret": "op_x"}, 1),  # basic and post together
        ({"client_id": "app_someone_else"}, 1),
        ({}, 2),  # two Authorization headers
    ],
)
async def test_ambiguous_client_authentication_is_invalid_request(
    parts: DevParts, client: Client, extra_form: dict[str, str], headers: int
) -> None:
    auth = [basic(client.client_id, client.secret)] * headers
    error = await refused(parts.server, {**GRANT, **extra_form}, auth, [DpopClient().proof()])
    assert (error.error, error.status, error.code) == ("invalid_request", 400, ReasonCode.VALIDATION)


async def test_matching_client_id_alongside_basic_is_accepted(parts: DevParts, client: Client) -> None:
    form = {**GRANT, "client_id": client.client_id}
    assert await parts.server.issue(form, [basic(client.client_id, client.secret)], [DpopClient().proof()])


# --- grant, scope, resource --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "error", "code"),
    [
        ({}, "invalid_request", ReasonCode.VALIDATION),
        ({"grant_type": "password"}, "unsupported_grant_type", ReasonCode.VALIDATION),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type", ReasonCode.VALIDATION),
        ({**GRANT, "scope": "ledger.read admin.read"}, "invalid_scope", ReasonCode.SCOPE_DENIED),
        ({**GRANT, "scope": "unknown"}, "invalid_scope", ReasonCode.SCOPE_DENIED),
        ({**GRANT, "resource": "https://other.example/"}, "invalid_target", ReasonCode.VALIDATION),
        ({**GRANT, "resource": PUBLIC_URL}, "invalid_target", ReasonCode.VALIDATION),
    ],
)
async def test_bad_grants_are_refused_after_authentication(
    parts: DevParts, client: Client, form: dict[str, str], error: str, code: ReasonCode
) -> None:
    refusal = await refused(
        parts.server, form, [basic(client.client_id, client.secret)], [DpopClient().proof()]
    )
    assert (refusal.error, refusal.code, refusal.status) == (error, code, 400)
    assert (refusal.client_id, refusal.key_id) == (client.client_id, client.key.id)


# --- DPoP ---------------------------------------------------------------------------------------


async def test_missing_proof_is_refused_when_required(parts: DevParts, client: Client) -> None:
    error = await refused(parts.server, GRANT, [basic(client.client_id, client.secret)], [])
    assert (error.error, error.code, error.status) == ("invalid_request", ReasonCode.DPOP_INVALID, 400)


async def test_dpop_mode_required_requires_a_proof_even_without_require_dpop() -> None:
    parts = await build_dev_server(dev_plan(require_dpop=False, mode="required"))
    client = await seed_client(parts.store)
    error = await refused(parts.server, GRANT, [basic(client.client_id, client.secret)], [])
    assert error.code is ReasonCode.DPOP_INVALID


def _proofs() -> dict[str, Any]:
    holder = DpopClient()
    return {
        "wrong htu": holder.proof(htu=PUBLIC_URL + "/api/agent/v1/manifest"),
        "wrong htm": holder.proof(method="GET"),
        "stale iat": holder.proof(iat=NOW - dt.timedelta(minutes=5)),
        "wrong typ": holder.proof(typ="JWT"),
        "garbage": "not.a.proof",
    }


@pytest.mark.parametrize("case", sorted(_proofs()))
async def test_invalid_proofs_are_invalid_dpop_proof(parts: DevParts, client: Client, case: str) -> None:
    error = await refused(parts.server, GRANT, [basic(client.client_id, client.secret)], [_proofs()[case]])
    assert (error.error, error.code, error.status) == ("invalid_dpop_proof", ReasonCode.DPOP_INVALID, 400)
    assert error.client_id == client.client_id


async def test_two_proofs_are_refused(parts: DevParts, client: Client) -> None:
    holder = DpopClient()
    error = await refused(
        parts.server, GRANT, [basic(client.client_id, client.secret)], [holder.proof(), holder.proof()]
    )
    assert error.error == "invalid_dpop_proof"


async def test_a_replayed_proof_is_refused(parts: DevParts, client: Client) -> None:
    proof = DpopClient().proof()
    assert await parts.server.issue(GRANT, [basic(client.client_id, client.secret)], [proof])
    error = await refused(parts.server, GRANT, [basic(client.client_id, client.secret)], [proof])
    assert error.error == "invalid_dpop_proof"


async def test_token_url_is_the_public_url(parts: DevParts) -> None:
    assert parts.server.token_url == TOKEN_URL


async def test_refusals_never_echo_the_secret_or_proof(parts: DevParts, client: Client) -> None:
    proof = DpopClient().proof(method="GET")
    for form, auth, dpop in [
        (GRANT, [basic(client.client_id, client.secret + "x")], [proof]),
        (GRANT, [basic(client.client_id, client.secret)], [proof]),
    ]:
        error = await refused(parts.server, form, auth, dpop)
        text = f"{error.error} {error.description} {error.headers}"
        assert client.secret not in text
        assert proof not in text
