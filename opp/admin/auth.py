"""Admin-plane authentication (SPEC §10 [fix]): no anonymous admin, ever.

Credentials are opaque ``opa_…`` tokens, either declared in ``gateway.yaml`` (only their SHA-256)
or created with ``opp token --admin --role ROLE`` (stored hashed). Roles: ``admin`` (everything),
``approver`` (drafts), ``auditor`` (read-only: apps, tools, audit). Missing or bad credential →
401 ``admin.unauthorized``; a valid credential without the role → 403 ``admin.forbidden``.
"""

from __future__ import annotations

from dataclasses import dataclass

from opp.auth.tokens import ADMIN_TOKEN_PREFIX, bearer_token, hash_token
from opp.codes import ReasonCode
from opp.compile.plan import Plan
from opp.errors import OppError
from opp.store.protocols import Store

__all__ = ["AdminAuthenticator", "AdminIdentity"]


@dataclass(frozen=True, slots=True)
class AdminIdentity:
    name: str
    roles: frozenset[str]

    def require(self, *roles: str) -> None:
        """Pass when the identity holds ``admin`` or any of ``roles``."""
        if "admin" in self.roles or self.roles & set(roles):
            return
        raise OppError(ReasonCode.ADMIN_FORBIDDEN, f"This route needs one of the roles: {', '.join(roles)}.")


class AdminAuthenticator:
    def __init__(self, plan: Plan, store: Store) -> None:
        self._declared = plan.admin_credentials
        self._store = store

    async def authenticate(self, authorization: list[str]) -> AdminIdentity:
        token = bearer_token(
            authorization, expected_prefix=ADMIN_TOKEN_PREFIX, code=ReasonCode.ADMIN_UNAUTHORIZED
        )
        digest = hash_token(token)
        declared = self._declared.get(digest)
        if declared is not None:
            return AdminIdentity(name=declared.name, roles=declared.roles)
        stored = await self._store.admin_tokens.find_by_hash(digest)
        if stored is None or stored.revoked_at is not None:
            raise OppError(ReasonCode.ADMIN_UNAUTHORIZED, "Unknown admin credential.")
        return AdminIdentity(name=stored.name, roles=frozenset(stored.roles))
