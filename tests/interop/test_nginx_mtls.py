"""Certificate-bound tokens (RFC 8705) through a real nginx terminating mutual TLS.

oidc-provider binds the token to the client certificate (``cnf.x5t#S256``); nginx requests a
client certificate on ``https://127.0.0.1:<port>``, forwards it URL-encoded in ``X-SSL-Client-Cert``
and connects to the gateway from 127.0.0.2, the gateway's only trusted proxy. The gateway's
``public_url`` is nginx's URL, so that is the token's audience.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from requests_oauth2client import BearerToken, OAuth2Client

from tests.interop.conftest import INTEROP_APP, MTLS_AGENT, MTLS_APP, Topology
from tests.support.interop import (
    PROXY_ADDRESS,
    AuthorizationServer,
    ClientCertificate,
    Pki,
    escaped_pem,
    jwt_claims,
    make_pki,
    oauth_gateway_config,
    require_peers,
    rfc9440_header,
    running_nginx,
    x5t_s256,
)
from tests.support.servers import running_server

pytestmark = pytest.mark.timeout(60)

LEDGERS = "/api/agent/v1/ledgers"
TIMEOUT = 15


@dataclass(frozen=True)
class MtlsDeployment:
    nginx_url: str
    gateway_url: str
    pki: Pki
    token: BearerToken

    @property
    def agent(self) -> ClientCertificate:
        return self.pki.clients["agent"]

    def via_nginx(
        self, cert: ClientCertificate | None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """GET the ledgers through nginx, presenting ``cert`` in the TLS handshake (or none)."""
        return requests.get(
            self.nginx_url + LEDGERS,
            auth=self.token,
            headers=headers,
            cert=(str(cert.cert), str(cert.key)) if cert else None,
            verify=str(self.pki.ca),
            timeout=TIMEOUT,
        )

    def direct(self, headers: dict[str, str]) -> requests.Response:
        """GET the ledgers straight from the gateway (peer 127.0.0.1, not a trusted proxy)."""
        return requests.get(self.gateway_url + LEDGERS, auth=self.token, headers=headers, timeout=TIMEOUT)


def _bound_token(
    authorization_server: AuthorizationServer, resource: str, cert: ClientCertificate
) -> BearerToken:
    """client_credentials with the client certificate shown to the AS (test header, as a proxy would)."""
    session = requests.Session()
    session.headers["x-test-client-cert"] = escaped_pem(cert.cert)
    client = OAuth2Client.from_discovery_endpoint(
        issuer=authorization_server.issuer,
        auth=(MTLS_AGENT.client_id, MTLS_AGENT.client_secret),
        session=session,
        testing=True,
    )
    token = client.client_credentials(scope="ledger.read", resource=resource)
    assert jwt_claims(token.access_token)["cnf"] == {"x5t#S256": x5t_s256(cert.cert)}
    return token


@pytest.fixture(scope="module")
def mtls(
    tmp_path_factory: pytest.TempPathFactory, topology: Topology, authorization_server: AuthorizationServer
) -> Iterator[MtlsDeployment]:
    require_peers("nginx", "openssl")
    directory = tmp_path_factory.mktemp("mtls")
    pki = make_pki(directory / "pki")
    config = oauth_gateway_config(
        directory,
        public_url=topology.nginx_url,
        issuer={"issuer": authorization_server.issuer},
        apps=[INTEROP_APP, MTLS_APP],
        oauth={"mtls": {"enabled": True}},
        gateway={"trusted_proxies": [f"{PROXY_ADDRESS}/32"]},
    )
    with (
        running_server(config) as gateway,
        running_nginx(
            directory, port=topology.nginx, upstream=gateway.base_url.removeprefix("http://"), pki=pki
        ) as nginx_url,
    ):
        token = _bound_token(authorization_server, nginx_url + "/", pki.clients["agent"])
        yield MtlsDeployment(nginx_url, gateway.base_url, pki, token)


def test_metadata_through_nginx_names_the_public_resource(mtls: MtlsDeployment) -> None:
    response = requests.get(
        mtls.nginx_url + "/.well-known/oauth-protected-resource", verify=str(mtls.pki.ca), timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    metadata = response.json()
    assert metadata["resource"] == mtls.nginx_url + "/"
    assert metadata["tls_client_certificate_bound_access_tokens"] is True


def test_bound_certificate_through_nginx_is_accepted(mtls: MtlsDeployment) -> None:
    response = mtls.via_nginx(mtls.agent)
    assert response.status_code == 200, response.text
    assert response.json()["code"] == "common.success"
    assert "ledger_main" in [ledger["id"] for ledger in response.json()["data"]["items"]]
    assert "WWW-Authenticate" not in response.headers


def _assert_binding_refused(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "agent.token_binding_mismatch"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge


def test_another_client_certificate_is_refused(mtls: MtlsDeployment) -> None:
    _assert_binding_refused(mtls.via_nginx(mtls.pki.clients["intruder"]))


def test_no_client_certificate_is_refused(mtls: MtlsDeployment) -> None:
    _assert_binding_refused(mtls.via_nginx(None))


def test_forged_certificate_headers_through_nginx_are_replaced(mtls: MtlsDeployment) -> None:
    """Without a TLS client certificate, nginx drops the caller's own certificate headers."""
    forged = {"X-SSL-Client-Cert": escaped_pem(mtls.agent.cert)}
    _assert_binding_refused(mtls.via_nginx(None, forged))
    _assert_binding_refused(mtls.via_nginx(mtls.pki.clients["intruder"], forged))


@pytest.mark.parametrize("header", ["X-SSL-Client-Cert", "Client-Cert"])
def test_forged_certificate_header_from_untrusted_peer_is_refused(mtls: MtlsDeployment, header: str) -> None:
    """Straight to the gateway from 127.0.0.1 with the right certificate in a header: not a proxy."""
    value = rfc9440_header(mtls.agent.cert) if header == "Client-Cert" else escaped_pem(mtls.agent.cert)
    _assert_binding_refused(mtls.direct({header: value}))


def test_direct_request_without_certificate_is_refused(mtls: MtlsDeployment) -> None:
    _assert_binding_refused(mtls.direct({}))
