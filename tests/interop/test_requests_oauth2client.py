"""requests-oauth2client (PyPI) against real ``opp serve`` gateways trusting a real oidc-provider.

Its DPoP proofs put ``alg`` in the ``jwk`` header (the RFC 7638 thumbprint must ignore it), and
its PS256 keys are 2048-bit RSA (a proof header past joserfc's default 512-byte cap). It answers a
401 whose challenge starts with ``DPoP`` as a nonce request inside a response hook, and raises
``MissingDPoPNonce`` when that 401 carries no nonce (INTEROP §0.10): :func:`_send` turns that
exception back into the 401 it was raised for, so refusals are asserted on the response.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from requests_oauth2client import BearerToken, DPoPKey, DPoPToken, OAuth2Client
from requests_oauth2client.dpop import InvalidUseDPoPNonceResponse

from tests.interop.conftest import AGENT, AGENT_SCOPES
from tests.support.interop import AuthorizationServer
from tests.support.servers import RunningServer

pytestmark = pytest.mark.timeout(60)

API = "/api/agent/v1"
TIMEOUT = 15


def _send(method: str, url: str, auth: requests.auth.AuthBase, body: Any = None) -> requests.Response:
    """One request; a refusal that the client raised as ``MissingDPoPNonce`` gives its 401 back."""
    try:
        return requests.request(method, url, auth=auth, json=body, timeout=TIMEOUT)
    except InvalidUseDPoPNonceResponse as quirk:
        return quirk.response


def _discover(gateway: RunningServer) -> dict[str, Any]:
    """RFC 9728 metadata of the gateway's resource ``public_url/``."""
    response = requests.get(f"{gateway.base_url}/.well-known/oauth-protected-resource", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    metadata: dict[str, Any] = response.json()
    assert metadata["resource"] == gateway.base_url + "/"
    return metadata


def _token(gateway: RunningServer, issuer: str, alg: str = "ES256", resource: str | None = None) -> DPoPToken:
    """A DPoP-bound token for the gateway, from the AS its metadata names (OIDC discovery)."""
    metadata = _discover(gateway)
    assert metadata["authorization_servers"] == [issuer]
    client = OAuth2Client.from_discovery_endpoint(
        issuer=metadata["authorization_servers"][0],
        auth=(AGENT.client_id, AGENT.client_secret),
        dpop_bound_access_tokens=True,
        dpop_alg=alg,
        testing=True,  # plain-HTTP loopback AS
    )
    token = client.client_credentials(scope=AGENT_SCOPES, resource=resource or metadata["resource"])
    assert isinstance(token, DPoPToken)
    return token


def _assert_ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert "WWW-Authenticate" not in response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == "common.success"
    data: dict[str, Any] = body["data"]
    return data


def _assert_refused(response: requests.Response, code: str, error: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code
    assert f'error="{error}"' in response.headers["WWW-Authenticate"]


def _agent_flow(gateway: RunningServer, token: DPoPToken) -> None:
    base = gateway.base_url + API
    manifest = _assert_ok(_send("GET", f"{base}/manifest", token))
    tools = {tool["name"] for tool in manifest["tools"]}
    assert {"ledger.list", "transaction.list", "transaction.create"} <= tools
    assert "transaction.delete" not in tools
    ledgers = _assert_ok(_send("GET", f"{base}/ledgers", token))
    assert "ledger_main" in [ledger["id"] for ledger in ledgers["items"]]
    transactions = _assert_ok(_send("GET", f"{base}/transactions?ledgerId=ledger_main&pageSize=5", token))
    assert transactions["items"]
    payload = {
        "ledgerId": "ledger_main",
        "kind": "income",
        "amount": 7,
        "title": "Interop refund",
        "occurredOn": "2026-01-15",
    }
    body: dict[str, Any] = {"action": "transaction.create", "payload": payload}
    preflight = _assert_ok(_send("POST", f"{base}/preflight", token, body))
    assert preflight["preflightId"].startswith("pfl_")
    body = {"action": "transaction.create", "preflightId": preflight["preflightId"]}
    draft = _assert_ok(_send("POST", f"{base}/actions", token, body))
    assert draft["status"] == "draft"
    assert draft["draft"]["id"].startswith("drf_")


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
def test_agent_flow(dpop_gateway: RunningServer, authorization_server: AuthorizationServer, alg: str) -> None:
    token = _token(dpop_gateway, authorization_server.issuer, alg)
    # The proof's jwk header carries "alg": the gateway's thumbprint must ignore it (INTEROP §0.1).
    assert token.dpop_key.public_jwk.get("alg") == alg
    _agent_flow(dpop_gateway, token)


def test_agent_flow_with_gateway_nonces(
    nonce_gateway: RunningServer, authorization_server: AuthorizationServer
) -> None:
    token = _token(nonce_gateway, authorization_server.issuer)
    assert token.dpop_key.rs_nonce is None
    _agent_flow(nonce_gateway, token)
    assert token.dpop_key.rs_nonce, "the gateway never asked for a nonce"


def test_proof_signed_by_another_key_is_refused(
    dpop_gateway: RunningServer, authorization_server: AuthorizationServer
) -> None:
    """A stolen DPoP-bound token with the thief's own proof key: cnf.jkt does not match."""
    token = _token(dpop_gateway, authorization_server.issuer)
    stolen = DPoPToken(access_token=token.access_token, _dpop_key=DPoPKey.generate())
    response = _send("GET", f"{dpop_gateway.base_url}{API}/ledgers", stolen)
    _assert_refused(response, "agent.token_binding_mismatch", "invalid_token")


def test_bearer_downgrade_is_refused(
    dpop_gateway: RunningServer, authorization_server: AuthorizationServer
) -> None:
    """The DPoP-bound token sent as ``Bearer`` with no proof (RFC 9449 §7.2)."""
    token = _token(dpop_gateway, authorization_server.issuer)
    response = _send("GET", f"{dpop_gateway.base_url}{API}/ledgers", BearerToken(token.access_token))
    _assert_refused(response, "agent.token_binding_mismatch", "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_token_for_another_resource_is_refused(
    dpop_gateway: RunningServer, nonce_gateway: RunningServer, authorization_server: AuthorizationServer
) -> None:
    """A token whose ``aud`` is another gateway (RFC 8707) is not accepted here."""
    token = _token(dpop_gateway, authorization_server.issuer, resource=nonce_gateway.base_url + "/")
    response = _send("GET", f"{dpop_gateway.base_url}{API}/ledgers", token)
    _assert_refused(response, "agent.token_invalid", "invalid_token")
