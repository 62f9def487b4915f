"""One oidc-provider AS and the gateways that trust it, shared by the interoperability tests.

The AS must know every resource identifier before it starts, and a gateway's identifier is its
``public_url`` + ``/``, so :class:`Topology` reserves the loopback ports first. Every gateway is a
real ``opp serve`` on a copy of the demo ``gateway.yaml`` with the interop apps declared.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.interop import (
    AuthorizationServer,
    OAuthClient,
    oauth_gateway_config,
    require_peers,
    running_authorization_server,
    running_gateway,
)
from tests.support.servers import RunningServer, free_port

INTEROP_APP = {
    "id": "app_interop",
    "name": "Interop agent",
    "description": "oauth4webapi and requests-oauth2client agents with DPoP-bound tokens.",
    "scope": "workspace",
    "org_id": "org_demo",
    "scopes": ["ledger.read", "transaction.read", "transaction.write"],
}
MTLS_APP = {
    "id": "app_mtls",
    "name": "Interop mTLS agent",
    "description": "Certificate-bound tokens (RFC 8705) through nginx.",
    "scope": "workspace",
    "org_id": "org_demo",
    "scopes": ["ledger.read"],
}
AGENT = OAuthClient("app_interop", "interop-agent-secret", {"dpop_bound_access_tokens": True})
"""The DPoP agent: its client_id is the gateway app id (``claims.app: client_id``)."""
MTLS_AGENT = OAuthClient(
    "app_mtls", "interop-mtls-secret", {"tls_client_certificate_bound_access_tokens": True}
)
INTROSPECTOR = OAuthClient("opp-introspection", "interop-introspection-secret", {"grant_types": []})
"""The gateway's own client at the AS, for RFC 7662 introspection."""
INTROSPECTION_SECRET_ENV = "OPP_INTEROP_INTROSPECTION_SECRET"
AGENT_SCOPES = "ledger.read transaction.read transaction.write"


@dataclass(frozen=True)
class Topology:
    """Loopback ports reserved for the gateways (and nginx) before the AS starts."""

    gateway: int
    nonce_gateway: int
    opaque_gateway: int
    nginx: int

    @staticmethod
    def url(port: int, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{port}"

    @property
    def nginx_url(self) -> str:
        return self.url(self.nginx, "https")

    def jwt_resources(self) -> list[str]:
        return [self.url(p) + "/" for p in (self.gateway, self.nonce_gateway)] + [self.nginx_url + "/"]


@pytest.fixture(scope="session")
def topology() -> Topology:
    return Topology(free_port(), free_port(), free_port(), free_port())


@pytest.fixture(scope="session")
def authorization_server(
    tmp_path_factory: pytest.TempPathFactory, topology: Topology
) -> Iterator[AuthorizationServer]:
    """oidc-provider issuing JWTs for the gateways and nginx, opaque tokens for the opaque gateway."""
    require_peers("node")
    with running_authorization_server(
        tmp_path_factory.mktemp("oidc-provider"),
        resources=topology.jwt_resources(),
        opaque_resources=[topology.url(topology.opaque_gateway) + "/"],
        clients=[AGENT, MTLS_AGENT, INTROSPECTOR],
    ) as server:
        yield server


def _gateway(
    tmp_path_factory: pytest.TempPathFactory,
    port: int,
    issuer: Mapping[str, Any],
    oauth: Mapping[str, Any] | None = None,
) -> Iterator[RunningServer]:
    config = oauth_gateway_config(
        tmp_path_factory.mktemp(f"gateway-{port}"),
        public_url=Topology.url(port),
        issuer=issuer,
        apps=[INTEROP_APP, MTLS_APP],
        oauth=oauth,
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv(INTROSPECTION_SECRET_ENV, INTROSPECTOR.client_secret)  # read by opp serve at startup
        with running_gateway(config, port) as server:
            yield server


@pytest.fixture(scope="session")
def dpop_gateway(
    tmp_path_factory: pytest.TempPathFactory, topology: Topology, authorization_server: AuthorizationServer
) -> Iterator[RunningServer]:
    """A gateway trusting the AS's JWT access tokens (DPoP ``allowed``, no nonces)."""
    yield from _gateway(tmp_path_factory, topology.gateway, {"issuer": authorization_server.issuer})


@pytest.fixture(scope="session")
def nonce_gateway(
    tmp_path_factory: pytest.TempPathFactory, topology: Topology, authorization_server: AuthorizationServer
) -> Iterator[RunningServer]:
    """The same with ``oauth.dpop.nonce: true``: every proof needs a gateway-issued nonce."""
    yield from _gateway(
        tmp_path_factory,
        topology.nonce_gateway,
        {"issuer": authorization_server.issuer},
        {"dpop": {"nonce": True}},
    )


@pytest.fixture(scope="session")
def opaque_gateway(
    tmp_path_factory: pytest.TempPathFactory, topology: Topology, authorization_server: AuthorizationServer
) -> Iterator[RunningServer]:
    """A gateway whose tokens are opaque: validated by RFC 7662 introspection at the AS."""
    introspection = {"client_id": INTROSPECTOR.client_id, "client_secret_env": INTROSPECTION_SECRET_ENV}
    yield from _gateway(
        tmp_path_factory,
        topology.opaque_gateway,
        {"issuer": authorization_server.issuer, "introspection": introspection},
    )
