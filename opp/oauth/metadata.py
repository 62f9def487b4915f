"""Discovery documents, as pure functions of the compiled :class:`~opp.oauth.plan.OAuthPlan`.

- :func:`protected_resource_metadata`: RFC 9728 metadata of this gateway (the protected
  resource), served at ``/.well-known/oauth-protected-resource`` and named by ``resource_metadata``
  in every challenge.
- :func:`authorization_server_metadata`: RFC 8414 metadata of the built-in development
  authorization server (NOT FOR PRODUCTION), served at ``/.well-known/oauth-authorization-server``.

Both are plain JSON documents, not OPP envelopes. Only members with a defined meaning are sent:
clients such as oauth4webapi compare ``issuer`` / ``resource`` exactly with the URL they built.
"""

from __future__ import annotations

from typing import Any

from opp.oauth.plan import JWKS_PATH, TOKEN_PATH, OAuthPlan

__all__ = [
    "RESOURCE_NAME",
    "TOKEN_ENDPOINT_AUTH_METHODS",
    "authorization_server_metadata",
    "protected_resource_metadata",
]

RESOURCE_NAME = "opp"
TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def _authorization_servers(plan: OAuthPlan) -> list[str]:
    """Every trusted issuer once, in configuration order, the development server's included."""
    issuers = [issuer.issuer for issuer in plan.issuers]
    if plan.dev_server.enabled:
        issuers.append(plan.dev_issuer)
    return list(dict.fromkeys(issuers))


def _dpop_algorithms(plan: OAuthPlan) -> list[str]:
    return list(plan.dpop.algorithms)


def protected_resource_metadata(plan: OAuthPlan) -> dict[str, Any]:
    """The RFC 9728 §2 document describing this gateway as an OAuth protected resource."""
    document: dict[str, Any] = {
        "resource": plan.resource,
        "authorization_servers": _authorization_servers(plan),
        "scopes_supported": sorted(plan.known_scopes),
        "bearer_methods_supported": ["header"],
        "resource_name": RESOURCE_NAME,
        "tls_client_certificate_bound_access_tokens": plan.mtls.enabled,
        "dpop_bound_access_tokens_required": plan.dpop.mode == "required",
    }
    if plan.dpop.mode != "disabled":
        document["dpop_signing_alg_values_supported"] = _dpop_algorithms(plan)
    return document


def authorization_server_metadata(plan: OAuthPlan) -> dict[str, Any]:
    """The RFC 8414 §2 document of the development authorization server (``client_credentials`` only).

    There is no authorization endpoint, so ``response_types_supported`` (required by RFC 8414) is
    empty: no response type is supported.
    """
    issuer = plan.dev_issuer
    document: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": plan.public_url + TOKEN_PATH,
        "jwks_uri": plan.public_url + JWKS_PATH,
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": list(TOKEN_ENDPOINT_AUTH_METHODS),
        "scopes_supported": sorted(plan.known_scopes),
    }
    if plan.dpop.mode != "disabled":
        document["dpop_signing_alg_values_supported"] = _dpop_algorithms(plan)
    return document
