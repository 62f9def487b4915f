"""Certificate-bound access tokens behind a TLS-terminating proxy (RFC 8705, RFC 9440; SPEC §5.4; INTEROP §2).

The proxy is played by :class:`ClientShim`: requests come from a socket peer inside (or outside)
``oauth.mtls.trusted_proxies`` and carry the forwarded certificate as haproxy (RFC 9440
``Client-Cert``) or nginx (``X-SSL-Client-Cert``, URL-encoded PEM) would send it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tests.integration.oauth.conftest import (
    LEDGERS,
    GatewayFactory,
    OAuthGateway,
    expect_ok,
    expect_refused,
)
from tests.support.jose_tools import (
    Certificate,
    client_cert_header,
    nginx_escaped_pem,
    self_signed_certificate,
)

PROXY_NETWORK = "10.0.0.0/8"
PROXY = "10.1.2.3"
OUTSIDER = "192.0.2.10"

CertHeaders = Callable[[Certificate], dict[str, str]]
RFC9440: CertHeaders = lambda certificate: {"Client-Cert": client_cert_header(certificate)}  # noqa: E731
NGINX: CertHeaders = lambda certificate: {"X-SSL-Client-Cert": nginx_escaped_pem(certificate)}  # noqa: E731
FORMS = pytest.mark.parametrize("forward", [RFC9440, NGINX], ids=["rfc9440", "nginx"])


@pytest.fixture
async def mtls_gateway(make_gateway: GatewayFactory) -> AsyncIterator[OAuthGateway]:
    async with make_gateway(oauth={"mtls": {"enabled": True, "trusted_proxies": [PROXY_NETWORK]}}) as gw:
        gw.shim.peer = PROXY
        yield gw


def _bound_token(gw: OAuthGateway, certificate: Certificate) -> str:
    return gw.token(cnf={"x5t#S256": certificate.x5t})


def _bearer(token: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **(extra or {})}


@FORMS
async def test_matching_forwarded_certificate_is_accepted(
    mtls_gateway: OAuthGateway, forward: CertHeaders
) -> None:
    gw = mtls_gateway
    certificate = self_signed_certificate("agent", gw.clock.now())
    expect_ok(await gw.get(LEDGERS, _bearer(_bound_token(gw, certificate), forward(certificate))))
    event = next(e for e in await gw.events() if e.status == "success" and e.tool == "ledger.list")
    assert (event.principal or {})["x5t#S256"] == certificate.x5t
    assert event.ip == PROXY


@FORMS
async def test_other_certificate_is_a_binding_mismatch(
    mtls_gateway: OAuthGateway, forward: CertHeaders
) -> None:
    gw = mtls_gateway
    now = gw.clock.now()
    token = _bound_token(gw, self_signed_certificate("agent", now))
    response = await gw.get(LEDGERS, _bearer(token, forward(self_signed_certificate("intruder", now))))
    expect_refused(response, 401, "agent.token_binding_mismatch", "invalid_token", scheme="bearer")


@FORMS
@pytest.mark.parametrize("peer", [OUTSIDER, None], ids=["outside the proxy network", "testclient"])
async def test_certificate_header_from_an_untrusted_peer_is_refused(
    mtls_gateway: OAuthGateway, forward: CertHeaders, peer: str | None
) -> None:
    gw = mtls_gateway
    gw.shim.peer = peer
    certificate = self_signed_certificate("agent", gw.clock.now())
    response = await gw.get(LEDGERS, _bearer(_bound_token(gw, certificate), forward(certificate)))
    expect_refused(response, 401, "agent.token_binding_mismatch", "invalid_token")


async def test_untrusted_certificate_header_is_refused_whatever_the_token(mtls_gateway: OAuthGateway) -> None:
    gw = mtls_gateway
    gw.shim.peer = OUTSIDER
    forwarded = RFC9440(self_signed_certificate("agent", gw.clock.now()))
    response = await gw.get(LEDGERS, {**gw.dpop("GET", LEDGERS, gw.token()), **forwarded})
    expect_refused(response, 401, "agent.token_binding_mismatch", "invalid_token")


async def test_no_certificate_is_refused(mtls_gateway: OAuthGateway) -> None:
    gw = mtls_gateway
    token = _bound_token(gw, self_signed_certificate("agent", gw.clock.now()))
    response = await gw.get(LEDGERS, _bearer(token))
    expect_refused(response, 401, "agent.token_binding_mismatch", "invalid_token", scheme="bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"Client-Cert": ":bm90IGEgY2VydGlmaWNhdGU=:"},
        {"Client-Cert": "MIIBHjCBxqADAgECAhQ"},
        {"X-SSL-Client-Cert": "-----BEGIN%20CERTIFICATE-----%0Agarbage%0A-----END%20CERTIFICATE-----"},
    ],
    ids=["not DER", "not an sf-binary", "bad PEM"],
)
async def test_malformed_certificate_header_is_refused(
    mtls_gateway: OAuthGateway, headers: dict[str, str]
) -> None:
    gw = mtls_gateway
    token = _bound_token(gw, self_signed_certificate("agent", gw.clock.now()))
    response = await gw.get(LEDGERS, _bearer(token, headers))
    expect_refused(response, 401, "agent.token_binding_mismatch", "invalid_token")


async def test_two_forwarded_certificates_are_refused(mtls_gateway: OAuthGateway) -> None:
    gw = mtls_gateway
    certificate = self_signed_certificate("agent", gw.clock.now())
    headers = _bearer(_bound_token(gw, certificate), {**RFC9440(certificate), **NGINX(certificate)})
    expect_refused(await gw.get(LEDGERS, headers), 401, "agent.token_binding_mismatch", "invalid_token")


async def test_certificate_bound_token_keeps_the_bearer_scheme(mtls_gateway: OAuthGateway) -> None:
    gw = mtls_gateway
    certificate = self_signed_certificate("agent", gw.clock.now())
    token = _bound_token(gw, certificate)
    response = await gw.get(LEDGERS, {**gw.dpop("GET", LEDGERS, token), **RFC9440(certificate)})
    expect_refused(response, 401, "agent.token_invalid", "invalid_token", scheme="dpop")


async def test_certificate_bound_token_without_mtls_configured_is_refused(
    oauth_gateway: OAuthGateway,
) -> None:
    gw = oauth_gateway
    certificate = self_signed_certificate("agent", gw.clock.now())
    response = await gw.get(LEDGERS, _bearer(_bound_token(gw, certificate), RFC9440(certificate)))
    expect_refused(response, 401, "agent.token_binding_mismatch", "invalid_token")


async def test_dpop_and_opaque_credentials_unaffected_through_the_proxy(mtls_gateway: OAuthGateway) -> None:
    gw = mtls_gateway
    expect_ok(await gw.get(LEDGERS, gw.dpop("GET", LEDGERS, gw.token())))
    expect_ok(await gw.get(LEDGERS, _bearer(gw.opaque)))
