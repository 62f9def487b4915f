"""Token claims → OPP scopes, app, tenant and admin roles, as declared under ``oauth.claims`` (SPEC §5.2).

A claim is looked up by its exact name first (claim names may be URLs full of dots), then, for a
dotted name, as a path through nested objects (``realm_access.roles``). A multi-valued claim is a
space-separated string or a list of strings; any other value, and non-string list members, are
ignored. Scopes the token carries are filtered to the gateway's known scopes; the caller intersects
them with the app's grants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opp.oauth.plan import OAuthPlan

__all__ = ["ClaimMapper", "claim_value", "claim_values"]

_MISSING = object()


def claim_value(claims: Mapping[str, Any], name: str) -> Any:
    """The claim ``name`` (exact key, else a dotted path into nested objects); None when absent."""
    value = claims.get(name, _MISSING)
    if value is not _MISSING:
        return value
    if "." not in name:
        return None
    node: Any = claims
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def claim_values(claims: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """The values of a multi-valued claim: a space-separated string or a list of strings."""
    value = claim_value(claims, name)
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


def _single_string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claim_value(claims, name)
    return value if isinstance(value, str) and value else None


class ClaimMapper:
    """Reads the principal's attributes out of validated token claims."""

    def __init__(self, plan: OAuthPlan) -> None:
        self._scope_claim = plan.scope_claim
        self._known_scopes = plan.known_scopes
        self._claim_scopes = plan.claim_scopes
        self._app_claim = plan.app_claim
        self._tenant_claim = plan.tenant_claim
        self._admin_role_claim = plan.admin_role_claim
        self._admin_roles = plan.admin_roles

    def scopes(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """OPP scopes the token carries (before the intersection with the app's grants)."""
        granted: set[str] = set()
        if self._scope_claim is not None:
            granted.update(
                scope for scope in claim_values(claims, self._scope_claim) if scope in self._known_scopes
            )
        for claim, mapping in self._claim_scopes.items():
            for value in claim_values(claims, claim):
                granted.update(mapping.get(value, ()))
        return frozenset(granted)

    def app_id(self, claims: Mapping[str, Any]) -> str | None:
        """The integration app the token names (``app_claim``), or None."""
        return _single_string(claims, self._app_claim)

    def tenant(self, claims: Mapping[str, Any]) -> str | None:
        """The tenant the token names (``tenant_claim``), or None (also when no tenant claim is set)."""
        return None if self._tenant_claim is None else _single_string(claims, self._tenant_claim)

    def admin_roles(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """Admin roles granted by the values of ``admin_role_claim`` (unmapped values grant nothing)."""
        return frozenset(
            self._admin_roles[value]
            for value in claim_values(claims, self._admin_role_claim)
            if value in self._admin_roles
        )
