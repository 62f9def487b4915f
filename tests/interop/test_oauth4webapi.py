"""An oauth4webapi agent (panva) against real ``opp serve`` gateways trusting a real oidc-provider.

The agent (``tests/interop/node/agent.mjs``) discovers the gateway by RFC 9728, the AS by OIDC
discovery, gets a DPoP-bound token by client_credentials + ``resource``, then lists its tools,
reads, preflights and drafts with DPoP proofs, and finally tries its token as a plain Bearer token.
oauth4webapi throws on any response with a ``WWW-Authenticate`` header, so a success here also
proves that the gateway sends no challenge on success.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.interop.conftest import AGENT, AGENT_SCOPES
from tests.support.interop import AuthorizationServer, run_agent
from tests.support.servers import RunningServer

pytestmark = pytest.mark.timeout(60)

GRANTED_TOOLS = {"ledger.list", "transaction.list", "transaction.create"}
UNGRANTED_TOOLS = {"transaction.delete", "transaction.hard_delete", "transactions.export_csv"}
ALGORITHMS = ["ES256", "Ed25519"]


def _assert_flow(report: dict[str, Any], gateway: RunningServer, issuer: str, *, nonce: bool) -> None:
    """Every step of the agent's run got the status, OPP code and data the contract promises."""
    assert report["resource"] == gateway.base_url + "/"
    assert report["prm"]["authorization_servers"] == [issuer]
    assert set(ALGORITHMS) <= set(report["prm"]["dpop_signing_alg_values_supported"])
    assert report["issuer"] == issuer
    assert report["token"]["token_type"].lower() == "dpop"
    steps = {step["name"]: step for step in report["steps"]}
    for name in ("manifest", "ledgers", "preflight", "actions"):
        step = steps[name]
        assert (step["status"], step["code"]) == (200, "common.success"), step
        assert "challenge" not in step, f"WWW-Authenticate on a success: {step}"
    tools = set(steps["manifest"]["tools"])
    assert tools >= GRANTED_TOOLS
    assert not tools & UNGRANTED_TOOLS, "a tool outside the app's scopes was listed"
    assert "ledger_main" in steps["ledgers"]["ledgerIds"]
    assert str(steps["preflight"]["preflightId"]).startswith("pfl_")
    assert steps["actions"]["outcome"] == "draft"
    assert str(steps["actions"]["draftId"]).startswith("drf_")

    downgrade = steps["bearer_downgrade"]
    assert (downgrade["status"], downgrade["code"]) == (401, "agent.token_binding_mismatch"), downgrade
    assert downgrade["challenge"]["error"] == "invalid_token"
    assert "bearer" in downgrade["challenge"]["schemes"]
    assert downgrade["challenge"]["resource_metadata"] == (
        gateway.base_url + "/.well-known/oauth-protected-resource"
    )

    retries = [step["nonceRetries"] for step in report["steps"]]
    # With nonces, the first proof has none: 401 use_dpop_nonce, oauth4webapi caches it and the retry
    # passes; later proofs carry the cached nonce. Without nonces, nothing is ever retried.
    assert retries == ([1, 0, 0, 0, 0] if nonce else [0, 0, 0, 0, 0]), report["steps"]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_agent_flow_with_dpop_bound_jwt(
    dpop_gateway: RunningServer, authorization_server: AuthorizationServer, alg: str
) -> None:
    report = run_agent(dpop_gateway.base_url, AGENT, alg=alg, scope=AGENT_SCOPES)
    assert report["token"]["jwt"] is True
    _assert_flow(report, dpop_gateway, authorization_server.issuer, nonce=False)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_agent_flow_with_gateway_nonces(
    nonce_gateway: RunningServer, authorization_server: AuthorizationServer, alg: str
) -> None:
    report = run_agent(nonce_gateway.base_url, AGENT, alg=alg, scope=AGENT_SCOPES)
    _assert_flow(report, nonce_gateway, authorization_server.issuer, nonce=True)


def test_opaque_token_is_validated_by_introspection(
    opaque_gateway: RunningServer, authorization_server: AuthorizationServer
) -> None:
    """oidc-provider issues an opaque DPoP-bound token; the gateway learns cnf.jkt by RFC 7662."""
    report = run_agent(opaque_gateway.base_url, AGENT, scope=AGENT_SCOPES)
    assert report["token"]["jwt"] is False
    _assert_flow(report, opaque_gateway, authorization_server.issuer, nonce=False)
