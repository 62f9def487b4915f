"""RFC 9728 protected resource metadata and RFC 8414 development server metadata (pure functions)."""

from __future__ import annotations

import dataclasses

from opp.oauth.metadata import authorization_server_metadata, protected_resource_metadata
from opp.oauth.plan import DpopPlan, IssuerPlan, MtlsPlan

from .dev_fixtures import PUBLIC_URL, RESOURCE, dev_plan

EXTERNAL = IssuerPlan(
    issuer="https://idp.example",
    jwks_uri=None,
    jwks_path=None,
    algorithms=frozenset({"RS256"}),
    introspection=None,
)
ALL_ALGS = ["ES256", "ES384", "EdDSA", "Ed25519", "PS256", "RS256"]


def test_protected_resource_metadata_describes_the_gateway() -> None:
    document = protected_resource_metadata(dev_plan(issuers=(EXTERNAL,)))
    assert document == {
        "resource": RESOURCE,
        "authorization_servers": ["https://idp.example", PUBLIC_URL],
        "scopes_supported": ["admin.read", "ledger.read", "transaction.write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "opp",
        "tls_client_certificate_bound_access_tokens": False,
        "dpop_bound_access_tokens_required": False,
        "dpop_signing_alg_values_supported": ALL_ALGS,
    }


def test_dev_issuer_is_listed_once_and_only_when_enabled() -> None:
    assert protected_resource_metadata(dev_plan())["authorization_servers"] == [PUBLIC_URL]
    without_dev = dev_plan(dev_enabled=False, issuers=(EXTERNAL,))
    assert protected_resource_metadata(without_dev)["authorization_servers"] == ["https://idp.example"]


def test_required_dpop_and_mtls_are_advertised() -> None:
    plan = dev_plan(mode="required", mtls=MtlsPlan(enabled=True))
    document = protected_resource_metadata(plan)
    assert document["dpop_bound_access_tokens_required"] is True
    assert document["tls_client_certificate_bound_access_tokens"] is True


def test_disabled_dpop_advertises_no_proof_algorithms() -> None:
    document = protected_resource_metadata(dev_plan(mode="disabled"))
    assert "dpop_signing_alg_values_supported" not in document
    assert document["dpop_bound_access_tokens_required"] is False
    assert "dpop_signing_alg_values_supported" not in authorization_server_metadata(dev_plan(mode="disabled"))


def test_proof_algorithms_follow_the_plan() -> None:
    narrowed = dataclasses.replace(dev_plan(), dpop=DpopPlan(algorithms=("ES256",)))
    assert protected_resource_metadata(narrowed)["dpop_signing_alg_values_supported"] == ["ES256"]
    assert authorization_server_metadata(narrowed)["dpop_signing_alg_values_supported"] == ["ES256"]


def test_authorization_server_metadata_is_minimal_and_consistent() -> None:
    document = authorization_server_metadata(dev_plan())
    assert document == {
        "issuer": PUBLIC_URL,
        "token_endpoint": PUBLIC_URL + "/oauth/token",
        "jwks_uri": PUBLIC_URL + "/oauth/jwks",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["admin.read", "ledger.read", "transaction.write"],
        "dpop_signing_alg_values_supported": ALL_ALGS,
    }
    assert document["issuer"] == dev_plan().dev_issuer
