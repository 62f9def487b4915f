"""Access tokens end to end (RFC 9068; SPEC §4, §5.2): validation, apps, scopes, route DPoP modes, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from joserfc.jwk import OctKey

from tests.integration.oauth.conftest import (
    ADMIN,
    DEMO_SCOPES,
    ISSUER,
    LEDGERS,
    MANIFEST,
    RESOURCE,
    GatewayFactory,
    OAuthGateway,
    expect_ok,
    expect_refused,
)
from tests.support.jose_tools import DROP, ec_key, mint_access_token, unsigned_compact

TRANSACTIONS = "/api/agent/v1/transactions"


def _token_variants(gw: OAuthGateway) -> dict[str, str]:
    """Access tokens (DPoP-bound to the agent key) that each break one RFC 9068 check."""
    now = int(gw.now)
    return {
        "typ JWT": gw.token(typ="JWT"),
        "typ missing": gw.token(typ=DROP),
        "wrong iss": gw.token(iss="https://evil.test"),
        "wrong aud": gw.token(aud="https://other.example/"),
        "no aud": gw.token(aud=DROP),
        "nbf in the future": gw.token(nbf=now + 3600),
        "iat in the future": gw.token(iat=now + 3600),
        "no exp": gw.token(exp=DROP),
        "no iat": gw.token(iat=DROP),
        "no client_id": gw.token(client_id=DROP),
        "no sub": gw.token(sub=DROP),
        "unknown kid": gw.token(key=ec_key("not-in-jwks")),
        "known kid, other key": gw.token(key=ec_key("es-1")),
        "alg not allowed for the issuer": gw.token(alg="PS256"),
        "HS256": mint_access_token(
            OctKey.generate_key(256, parameters={"kid": "es-1"}), gw.claims(), alg="HS256"
        ),
        "alg none": unsigned_compact({"alg": "none", "typ": "at+jwt"}, gw.claims(), signature=b""),
        "cnf with two members": gw.token(cnf={"jkt": gw.claims()["cnf"]["jkt"], "x5t#S256": "A" * 43}),
        "cnf with an unknown member": gw.token(cnf={"jwk": {"kty": "EC"}}),
    }


TOKEN_CASES = [
    "typ JWT",
    "typ missing",
    "wrong iss",
    "wrong aud",
    "no aud",
    "nbf in the future",
    "iat in the future",
    "no exp",
    "no iat",
    "no client_id",
    "no sub",
    "unknown kid",
    "known kid, other key",
    "alg not allowed for the issuer",
    "HS256",
    "alg none",
    "cnf with two members",
    "cnf with an unknown member",
]


@pytest.mark.parametrize("case", TOKEN_CASES)
async def test_bad_access_token_is_refused(oauth_gateway: OAuthGateway, case: str) -> None:
    gw = oauth_gateway
    token = _token_variants(gw)[case]
    gw.minted.append(token)
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
    expect_refused(response, 401, "agent.token_invalid", "invalid_token", scheme="dpop")


async def test_expired_token(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token(iat=int(gw.now) - 7200, nbf=int(gw.now) - 7200, exp=int(gw.now) - 3600)
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
    expect_refused(response, 401, "agent.token_expired", "invalid_token", scheme="dpop")


async def test_token_expires_while_cached(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token(exp=int(gw.now) + 60)
    expect_ok(await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token)))
    gw.clock.advance(dt.timedelta(seconds=60 + 31))
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
    expect_refused(response, 401, "agent.token_expired", "invalid_token")


@pytest.mark.parametrize(
    "options",
    [
        {"alg": "RS256"},
        {"typ": "application/at+jwt"},
        {"aud": ["https://other.example/", RESOURCE]},
    ],
    ids=["RS256", "application/at+jwt", "aud list"],
)
async def test_accepted_token_variants(oauth_gateway: OAuthGateway, options: dict[str, Any]) -> None:
    gw = oauth_gateway
    token = gw.token(**options)
    expect_ok(await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token)))


async def test_unbound_bearer_token_is_accepted_on_allowed_routes(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    expect_ok(await gw.get(LEDGERS, {"Authorization": f"Bearer {gw.bearer_token()}"}))


async def _create_app(gw: OAuthGateway, name: str, scopes: list[str]) -> str:
    body = {"name": name, "scope": "workspace", "org_id": "org_demo", "scopes": scopes}
    response = await gw.client.post(
        f"{ADMIN}/apps", json=body, headers={"Authorization": f"Bearer {gw.admin}"}
    )
    app_id: str = expect_ok(response)["app"]["id"]
    return app_id


async def test_token_for_an_unknown_app_is_refused(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token(client_id="app_does_not_exist")
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
    expect_refused(response, 401, "agent.token_invalid", "invalid_token", scheme="dpop")


async def test_revoking_the_app_stops_its_tokens_at_once(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    app_id = await _create_app(gw, "revocable", ["ledger.read"])
    token = gw.token(client_id=app_id)
    expect_ok(await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token)))
    revoked = await gw.client.post(
        f"{ADMIN}/apps/{app_id}/revoke", headers={"Authorization": f"Bearer {gw.admin}"}
    )
    expect_ok(revoked)
    response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token))
    expect_refused(response, 401, "agent.token_invalid", "invalid_token", scheme="dpop")


async def test_granted_scopes_are_token_scopes_within_the_app_grants(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    app_id = await _create_app(gw, "narrow", ["ledger.read"])
    token = gw.token(client_id=app_id, scope=DEMO_SCOPES)
    manifest = expect_ok(await gw.get(MANIFEST, gw.dpop("GET", MANIFEST, token)))
    assert [tool["name"] for tool in manifest["tools"]] == ["ledger.list"]
    expect_ok(await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token)))
    response = await gw.get(TRANSACTIONS, gw.dpop("GET", TRANSACTIONS, token), ledgerId="ledger_main")
    parsed = expect_refused(response, 403, "agent.scope_denied", "insufficient_scope", scheme="dpop")
    assert dict(parsed)["dpop"]["scope"] == "transaction.read"


async def test_token_scopes_limit_the_app(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.bearer_token(scope="ledger.read not.a.scope")
    manifest = expect_ok(await gw.get(MANIFEST, {"Authorization": f"Bearer {token}"}))
    assert [tool["name"] for tool in manifest["tools"]] == ["ledger.list"]
    response = await gw.get(TRANSACTIONS, {"Authorization": f"Bearer {token}"}, ledgerId="ledger_main")
    parsed = expect_refused(response, 403, "agent.scope_denied", "insufficient_scope", scheme="bearer")
    assert dict(parsed)["bearer"]["scope"] == "transaction.read"


async def test_dpop_required_tool_refuses_bearer_credentials(make_gateway: GatewayFactory) -> None:
    async with make_gateway(tools={"ledger.list": {"dpop": "required"}}) as gw:
        anonymous = expect_refused(await gw.get(LEDGERS), 401, "agent.token_invalid", None)
        assert [scheme for scheme, _ in anonymous] == ["dpop"]
        bearer = await gw.get(LEDGERS, {"Authorization": f"Bearer {gw.bearer_token()}"})
        parsed = expect_refused(bearer, 401, "agent.token_invalid", "invalid_token")
        assert "dpop" in dict(parsed)
        opaque = await gw.get(LEDGERS, {"Authorization": f"Bearer {gw.opaque}"})
        expect_refused(opaque, 401, "agent.token_invalid", "invalid_token")
        expect_ok(await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, gw.token())))
        expect_ok(await gw.get(MANIFEST, {"Authorization": f"Bearer {gw.opaque}"}))


async def test_dpop_disabled_tool_refuses_dpop(make_gateway: GatewayFactory) -> None:
    async with make_gateway(tools={"ledger.list": {"dpop": "disabled"}}) as gw:
        anonymous = expect_refused(await gw.get(LEDGERS), 401, "agent.token_invalid", None)
        assert [scheme for scheme, _ in anonymous] == ["bearer"]
        response = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, gw.token()))
        expect_refused(response, 401, "agent.dpop_invalid", "invalid_dpop_proof")
        unbound_dpop = await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, gw.bearer_token()))
        expect_refused(unbound_dpop, 401, "agent.token_invalid", "invalid_token")
        expect_ok(await gw.get(LEDGERS, {"Authorization": f"Bearer {gw.bearer_token()}"}))
        expect_ok(await gw.get(LEDGERS, {"Authorization": f"Bearer {gw.opaque}"}))
        expect_ok(await gw.get(MANIFEST, gw.dpop("GET", MANIFEST, gw.token())))


async def test_opaque_keys_still_work_on_allowed_routes(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    expect_ok(await gw.get(MANIFEST, {"Authorization": f"Bearer {gw.opaque}"}))
    expect_ok(await gw.get(LEDGERS, {"Authorization": f"Bearer {gw.opaque}"}))
    as_dpop = await gw.get(
        LEDGERS, {"Authorization": f"DPoP {gw.opaque}", "DPoP": gw.proof("GET", LEDGERS, None)}
    )
    expect_refused(as_dpop, 401, "agent.token_invalid", "invalid_token")


async def test_audit_names_the_oauth_principal_and_never_the_secrets(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = gw.token()
    expect_ok(await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token)))
    expect_ok(await gw.get(LEDGERS, {"Authorization": f"Bearer {gw.bearer_token()}"}))
    await gw.get(LEDGERS, {"Authorization": f"Bearer {token}"})
    await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token, key=ec_key()))
    await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, gw.token(aud="https://other.example/")))
    await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, token), access_token=token)

    events = await gw.events()
    successes = [event for event in events if event.status == "success" and event.tool == "ledger.list"]
    assert len(successes) == 2
    principals = [event.principal or {} for event in successes]
    bound = next(p for p in principals if "jkt" in p)
    assert bound["sub"] == "agent-1" and bound["client_id"] == "app_demo" and bound["iss"] == ISSUER
    assert bound["jkt"] == gw.claims()["cnf"]["jkt"] and bound["kind"] == "oauth"
    unbound = next(p for p in principals if "jkt" not in p)
    assert unbound["iss"] == ISSUER and "x5t#S256" not in unbound
    denied = [event for event in events if event.status == "denied"]
    assert {event.code for event in denied} >= {"agent.token_binding_mismatch", "agent.token_invalid"}

    text = await gw.audit_text()
    assert gw.minted
    for secret in gw.minted:
        signature = secret.rsplit(".", 1)[1]
        assert secret not in text and signature not in text
