"""DPoP end to end (RFC 9449; SPEC §5.3; INTEROP §1.1-§1.7): every proof check, the scheme matrix, nonces.

Each refusal asserts the status, the envelope ``code`` and the ``error`` of the challenge; each
success asserts that no ``WWW-Authenticate`` is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from joserfc.jwk import OctKey

from tests.integration.oauth.conftest import (
    LEDGERS,
    MANIFEST,
    PUBLIC_URL,
    GatewayFactory,
    OAuthGateway,
    challenges,
    expect_ok,
    expect_refused,
)
from tests.support.jose_tools import DROP, access_token_hash, ec_key, public_jwk, rsa_key, unsigned_compact

TRANSACTIONS = "/api/agent/v1/transactions"


async def test_valid_dpop_request_reads_manifest_and_a_tool(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token()
    manifest = expect_ok(await gw.get(MANIFEST, gw.dpop("GET", MANIFEST, token)))
    assert manifest["app"]["id"] == "app_demo"
    assert {tool["name"] for tool in manifest["tools"]} >= {"ledger.list", "transaction.list"}
    ledgers = expect_ok(await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token)))
    assert ledgers["items"]
    path = TRANSACTIONS + "?ledgerId=ledger_main"
    expect_ok(await gw.client.get(path, headers=gw.dpop("GET", TRANSACTIONS, token)))


async def test_no_credential_gets_a_bare_challenge(oauth_gateway: OAuthGateway) -> None:
    parsed = expect_refused(await oauth_gateway.get(MANIFEST), 401, "agent.token_invalid", None)
    schemes = [scheme for scheme, _ in parsed]
    assert sorted(schemes) == ["bearer", "dpop"]
    dpop = dict(parsed)["dpop"]
    assert "ES256" in dpop["algs"].split() and "HS256" not in dpop["algs"]


def _proof_variants(gw: OAuthGateway, token: str) -> dict[str, str]:
    """Proofs for ``GET LEDGERS`` that each break one RFC 9449 §4.3 check."""
    key = gw.agent_key
    good: dict[str, Any] = {"htm": "GET", "htu": PUBLIC_URL + LEDGERS, "iat": int(gw.now), "jti": "j-fixed"}
    header = {"typ": "dpop+jwt", "jwk": public_jwk(key)}
    return {
        "typ wrong": gw.proof("GET", LEDGERS, token, header={"typ": "JWT"}),
        "typ missing": gw.proof("GET", LEDGERS, token, header={"typ": DROP}),
        "alg none": unsigned_compact(
            {**header, "alg": "none"}, {**good, "ath": access_token_hash(token)}, signature=b"none"
        ),
        "HS256": gw.proof("GET", LEDGERS, token, alg="HS256", signing_key=OctKey.generate_key(256)),
        "alg not allowed": gw.proof("GET", LEDGERS, token, key=ec_key(curve="P-521"), alg="ES512"),
        "private key in jwk": gw.proof("GET", LEDGERS, token, jwk=dict(key.as_dict(private=True))),
        "symmetric jwk": gw.proof("GET", LEDGERS, token, jwk={"kty": "oct", "k": "c2VjcmV0"}),
        "no jwk": gw.proof("GET", LEDGERS, token, header={"jwk": DROP}),
        "bad signature": gw.proof("GET", LEDGERS, token, signing_key=ec_key()),
        "jwk of another key type": gw.proof("GET", LEDGERS, token, key=rsa_key(), jwk=public_jwk(key)),
        "missing jti": gw.proof("GET", LEDGERS, token, claims={"jti": DROP}),
        "missing htm": gw.proof("GET", LEDGERS, token, claims={"htm": DROP}),
        "missing htu": gw.proof("GET", LEDGERS, token, claims={"htu": DROP}),
        "missing iat": gw.proof("GET", LEDGERS, token, claims={"iat": DROP}),
        "htm mismatch": gw.proof("POST", LEDGERS, token),
        "htm lower case": gw.proof("get", LEDGERS, token),
        "htu other host": gw.proof("GET", LEDGERS, token, htu="http://127.0.0.2:8080" + LEDGERS),
        "htu other port": gw.proof("GET", LEDGERS, token, htu="http://127.0.0.1:8081" + LEDGERS),
        "htu other scheme": gw.proof("GET", LEDGERS, token, htu="https://127.0.0.1:8080" + LEDGERS),
        "htu other path": gw.proof("GET", LEDGERS, token, htu=PUBLIC_URL + MANIFEST),
        "htu of the test client's host": gw.proof(
            "GET", LEDGERS, token, htu="http://testserver.local" + LEDGERS
        ),
        "stale iat": gw.proof("GET", LEDGERS, token, iat=gw.now - 61),
        "future iat": gw.proof("GET", LEDGERS, token, iat=gw.now + 10),
        "ath of another token": gw.proof("GET", LEDGERS, gw.token()),
        "ath missing": gw.proof("GET", LEDGERS, None),
        "not a JWS": "not-a-proof",
        "two proofs in one header": gw.proof("GET", LEDGERS, token) + ", " + gw.proof("GET", LEDGERS, token),
    }


PROOF_CASES = [
    "typ wrong",
    "typ missing",
    "alg none",
    "HS256",
    "alg not allowed",
    "private key in jwk",
    "symmetric jwk",
    "no jwk",
    "bad signature",
    "jwk of another key type",
    "missing jti",
    "missing htm",
    "missing htu",
    "missing iat",
    "htm mismatch",
    "htm lower case",
    "htu other host",
    "htu other port",
    "htu other scheme",
    "htu other path",
    "htu of the test client's host",
    "stale iat",
    "future iat",
    "ath of another token",
    "ath missing",
    "not a JWS",
    "two proofs in one header",
]


@pytest.mark.parametrize("case", PROOF_CASES)
async def test_bad_proof_is_refused(oauth_gateway: OAuthGateway, case: str) -> None:
    gw = oauth_gateway
    token = gw.token()
    proof = _proof_variants(gw, token)[case]
    response = await gw.get(LEDGERS, {"Authorization": f"DPoP {token}", "DPoP": proof})
    parsed = expect_refused(response, 401, "agent.dpop_invalid", "invalid_dpop_proof", scheme="dpop")
    assert [scheme for scheme, _ in parsed] == ["dpop"]
    assert "algs" in dict(parsed)["dpop"]


@pytest.mark.parametrize(
    "htu",
    [PUBLIC_URL + LEDGERS + "?page=2", PUBLIC_URL + LEDGERS + "#top", "HTTP://127.0.0.1:8080" + LEDGERS],
    ids=["query", "fragment", "upper-case scheme"],
)
async def test_htu_query_fragment_and_normalisation_are_accepted(
    oauth_gateway: OAuthGateway, htu: str
) -> None:
    gw = oauth_gateway
    token = gw.token()
    expect_ok(
        await gw.get(
            LEDGERS, {"Authorization": f"DPoP {token}", "DPoP": gw.proof("GET", LEDGERS, token, htu=htu)}
        )
    )


async def test_replayed_proof_is_refused(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token()
    headers = gw.dpop("GET", LEDGERS, token)
    expect_ok(await gw.get(LEDGERS, headers))
    expect_refused(await gw.get(LEDGERS, headers), 401, "agent.dpop_invalid", "invalid_dpop_proof")
    expect_ok(await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token)))


async def test_proof_by_another_key_is_a_binding_mismatch(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token()
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token, key=ec_key()))
    expect_refused(response, 401, "agent.token_binding_mismatch", "invalid_token", scheme="dpop")


async def test_jkt_ignores_extra_jwk_members(oauth_gateway: OAuthGateway) -> None:
    """INTEROP §0.1: clients put ``alg`` into the proof's ``jwk``; the thumbprint must not change."""
    gw = oauth_gateway
    token = gw.token()
    jwk = {**public_jwk(gw.agent_key), "alg": "ES256", "use": "sig"}
    expect_ok(
        await gw.get(
            LEDGERS, {"Authorization": f"DPoP {token}", "DPoP": gw.proof("GET", LEDGERS, token, jwk=jwk)}
        )
    )


async def test_dpop_bound_token_as_bearer_is_a_downgrade(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token()
    response = await gw.get(LEDGERS, {"Authorization": f"Bearer {token}"})
    expect_refused(response, 401, "agent.token_binding_mismatch", "invalid_token", scheme="bearer")
    with_proof = {"Authorization": f"Bearer {token}", "DPoP": gw.proof("GET", LEDGERS, token)}
    expect_refused(await gw.get(LEDGERS, with_proof), 401, "agent.token_binding_mismatch", "invalid_token")


async def test_bound_token_without_proof_is_refused(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token()
    response = await gw.get(LEDGERS, {"Authorization": f"DPoP {token}"})
    expect_refused(response, 401, "agent.dpop_invalid", "invalid_dpop_proof", scheme="dpop")


async def test_unbound_token_with_dpop_scheme_is_refused(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.bearer_token()
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
    expect_refused(response, 401, "agent.token_invalid", "invalid_token", scheme="dpop")
    expect_ok(await gw.get(LEDGERS, {"Authorization": f"Bearer {token}"}))


async def test_unbound_bearer_token_with_a_proof_is_ambiguous(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.bearer_token()
    headers = {"Authorization": f"Bearer {token}", "DPoP": gw.proof("GET", LEDGERS, token)}
    expect_refused(await gw.get(LEDGERS, headers), 401, "agent.token_invalid", "invalid_token")


async def test_two_dpop_header_lines_are_refused(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token()
    gw.shim.extra_headers = [("DPoP", gw.proof("GET", LEDGERS, token))]
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
    expect_refused(response, 401, "agent.dpop_invalid", "invalid_dpop_proof")


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda gw, token: [("Authorization", f"DPoP {token}")],
        lambda gw, token: [("Authorization", f"Bearer {gw.opaque}")],
    ],
    ids=["same token twice", "DPoP and Bearer"],
)
async def test_two_authorization_header_lines_are_refused(
    oauth_gateway: OAuthGateway, make_headers: Callable[[OAuthGateway, str], list[tuple[str, str]]]
) -> None:
    gw = oauth_gateway
    token = gw.token()
    gw.shim.extra_headers = make_headers(gw, token)
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
    parsed = expect_refused(response, 401, "agent.token_invalid", "invalid_request")
    assert all(params.get("error") == "invalid_request" for _, params in parsed)


async def test_token_in_the_query_string_is_refused(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token()
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token), access_token=token)
    expect_refused(response, 401, "agent.token_invalid", "invalid_request")
    alone = await gw.get(LEDGERS, access_token=gw.bearer_token())
    expect_refused(alone, 401, "agent.token_invalid", "invalid_request")


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwdw==", "DPoP", "DPoP a b", "Bearer two tokens", "Bearer a,b"]
)
async def test_malformed_authorization_is_refused(oauth_gateway: OAuthGateway, authorization: str) -> None:
    response = await oauth_gateway.get(LEDGERS, {"Authorization": authorization})
    expect_refused(response, 401, "agent.token_invalid", "invalid_request")


async def test_nonce_is_required_once_configured(make_gateway: GatewayFactory) -> None:
    async with make_gateway(oauth={"dpop": {"nonce": True}}) as gw:
        token = gw.token()
        first = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
        parsed = expect_refused(first, 401, "agent.dpop_nonce_required", "use_dpop_nonce", scheme="dpop")
        assert [scheme for scheme, _ in parsed] == ["dpop"]
        nonce = first.headers["dpop-nonce"]
        assert nonce and "," not in nonce
        assert first.headers["cache-control"] == "no-store"

        retry = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token, claims={"nonce": nonce}))
        expect_ok(retry)

        later = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
        expect_refused(later, 401, "agent.dpop_nonce_required", "use_dpop_nonce")
        assert later.headers["dpop-nonce"]

        forged = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token, claims={"nonce": "A" * 32}))
        expect_refused(forged, 401, "agent.dpop_nonce_required", "use_dpop_nonce")


async def test_nonce_does_not_excuse_other_proof_errors(make_gateway: GatewayFactory) -> None:
    async with make_gateway(oauth={"dpop": {"nonce": True}}) as gw:
        token = gw.token()
        nonce = (await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))).headers["dpop-nonce"]
        wrong_htm = gw.dpop("POST", LEDGERS, token, claims={"nonce": nonce})
        expect_refused(await gw.get(LEDGERS, wrong_htm), 401, "agent.dpop_invalid", "invalid_dpop_proof")


async def test_challenge_values_are_parseable(oauth_gateway: OAuthGateway) -> None:
    """The description of a refusal is a fixed server string inside a quoted parameter."""
    gw = oauth_gateway
    token = gw.token()
    response = await gw.get(LEDGERS, {"Authorization": f"DPoP {token}", "DPoP": "x.y.z"})
    parsed = challenges(response.headers["www-authenticate"])
    description = dict(parsed)["dpop"]["error_description"]
    assert description and token not in description
