"""RFC 9728 protected resource metadata and CORS for browser agents (SPEC §5.2; INTEROP §1.5, §3.4)."""

from __future__ import annotations

import pytest

from tests.integration.oauth.conftest import (
    DEMO_SCOPES,
    ISSUER,
    LEDGERS,
    PUBLIC_URL,
    RESOURCE,
    GatewayFactory,
    OAuthGateway,
    challenges,
)

PRM = "/.well-known/oauth-protected-resource"
ORIGIN = "https://app.example"


async def test_protected_resource_metadata(oauth_gateway: OAuthGateway) -> None:
    response = await oauth_gateway.get(PRM)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "www-authenticate" not in response.headers
    document = response.json()
    assert document["resource"] == RESOURCE == PUBLIC_URL + "/"
    assert document["authorization_servers"] == [ISSUER]
    assert sorted(document["scopes_supported"]) == sorted(DEMO_SCOPES.split())
    assert document["bearer_methods_supported"] == ["header"]
    assert "ES256" in document["dpop_signing_alg_values_supported"]
    assert not {"none", "HS256"} & set(document["dpop_signing_alg_values_supported"])
    assert document["dpop_bound_access_tokens_required"] is False
    assert document["tls_client_certificate_bound_access_tokens"] is False
    assert "ok" not in document


async def test_challenges_point_at_the_metadata_document(oauth_gateway: OAuthGateway) -> None:
    """RFC 9728 §3.3: the document's ``resource`` is the identifier its URL was built from."""
    response = await oauth_gateway.get(LEDGERS)
    urls = {params["resource_metadata"] for _, params in challenges(response.headers["www-authenticate"])}
    assert urls == {PUBLIC_URL + PRM}
    assert RESOURCE.rstrip("/") + PRM in urls


async def test_metadata_reflects_required_dpop_and_mtls(make_gateway: GatewayFactory) -> None:
    oauth = {"dpop": {"mode": "required"}, "mtls": {"enabled": True, "trusted_proxies": ["10.0.0.0/8"]}}
    async with make_gateway(oauth=oauth) as gw:
        document = (await gw.get(PRM)).json()
        assert document["dpop_bound_access_tokens_required"] is True
        assert document["tls_client_certificate_bound_access_tokens"] is True


async def test_no_metadata_when_oauth_is_disabled(make_gateway: GatewayFactory) -> None:
    async with make_gateway(oauth={"enabled": False}) as gw:
        response = await gw.get(PRM)
        assert response.status_code == 404
        body = response.json()
        assert body["ok"] is False and body["code"] == "common.not_found"
        refused = await gw.get(LEDGERS)
        assert refused.status_code == 401
        assert "resource_metadata" not in refused.headers["www-authenticate"]


def _listed(value: str | None) -> set[str]:
    return {item.strip().lower() for item in (value or "").split(",") if item.strip()}


async def test_cors_preflight_allows_dpop_and_exposes_challenges(make_gateway: GatewayFactory) -> None:
    async with make_gateway(gateway={"cors_origins": [ORIGIN]}) as gw:
        preflight = await gw.client.options(
            LEDGERS,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, dpop",
            },
        )
        assert preflight.status_code in (200, 204), preflight.text
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert {"authorization", "dpop"} <= _listed(preflight.headers.get("access-control-allow-headers"))
        assert "GET" in preflight.headers.get("access-control-allow-methods", "")
        exposed = preflight.headers.get("access-control-expose-headers")
        if exposed is not None:  # meaningless on a preflight (Fetch), but must agree when sent
            assert {"www-authenticate", "dpop-nonce"} <= _listed(exposed)


@pytest.mark.parametrize("nonce", [False, True], ids=["401", "nonce 401"])
async def test_cors_refusal_exposes_www_authenticate_and_dpop_nonce(
    make_gateway: GatewayFactory, nonce: bool
) -> None:
    async with make_gateway(gateway={"cors_origins": [ORIGIN]}, oauth={"dpop": {"nonce": nonce}}) as gw:
        token = gw.token()
        response = await gw.get(LEDGERS, {"Origin": ORIGIN, **gw.dpop("GET", LEDGERS, token)})
        assert response.status_code == 401 if nonce else 200, response.text
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert {"www-authenticate", "dpop-nonce"} <= _listed(
            response.headers["access-control-expose-headers"]
        )
        if nonce:
            assert response.headers["dpop-nonce"] and response.headers["www-authenticate"]
        refused = await gw.get(LEDGERS, {"Origin": ORIGIN})
        assert refused.status_code == 401 and refused.headers["www-authenticate"]
        assert refused.headers["access-control-allow-origin"] == ORIGIN
        assert {"www-authenticate", "dpop-nonce"} <= _listed(refused.headers["access-control-expose-headers"])


async def test_cors_ignores_other_origins(make_gateway: GatewayFactory) -> None:
    async with make_gateway(gateway={"cors_origins": [ORIGIN]}) as gw:
        response = await gw.get(LEDGERS, {"Origin": "https://evil.example"})
        assert response.status_code == 401
        assert "access-control-allow-origin" not in response.headers


async def test_no_cors_headers_without_configured_origins(oauth_gateway: OAuthGateway) -> None:
    response = await oauth_gateway.get(LEDGERS, {"Origin": ORIGIN})
    assert response.status_code == 401
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]
