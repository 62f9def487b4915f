"""Admin-plane authentication (SPEC §10 [fix]): no anonymous admin, ever.

Credentials are opaque ``opa_…`` tokens, either declared in ``gateway.yaml`` (only their SHA-256)
or created with ``opp token --admin --role ROLE`` (stored hashed), or — with ``oauth.enabled`` —
OAuth access tokens whose role claim maps to admin roles (``oauth.admin.roles``), with the same
proof-of-possession checks as the agent plane. Roles: ``admin`` (everything), ``approver``
(drafts), ``auditor`` (read-only: apps, tools, audit). Missing or bad credential → 401
``admin.unauthorized``; a valid credential without the role → 403 ``admin.forbidden``.
"""

from __future__ import annotations

from dataclasses import dataclass

from opp.auth.tokens import ADMIN_TOKEN_PREFIX, hash_token, is_opaque_token
from opp.codes import ReasonCode
from opp.compile.plan import Plan
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.oauth.authenticator import with_challenge
from opp.oauth.binding import check_binding
from opp.oauth.credentials import Credential, MalformedCredential, parse_credential
from opp.oauth.services import OAuthServices
from opp.store.protocols import Store

__all__ = ["AdminAuthenticator", "AdminIdentity"]

_UNAUTHORIZED = {ReasonCode.TOKEN_INVALID, ReasonCode.TOKEN_EXPIRED}
_INVALID_TOKEN = 'Bearer realm="opp-admin", error="invalid_token"'  # noqa: S105 (a challenge)


@dataclass(frozen=True, slots=True)
class AdminIdentity:
    name: str
    roles: frozenset[str]
    kind: str = "admin"
    """``admin`` (an opaque admin token) or ``oauth``."""
    auth_time: object = None
    """The token's ``auth_time`` claim as sent (step-up tells a missing one from a malformed one)."""
    acr: str | None = None

    def require(self, *roles: str) -> None:
        """Pass when the identity holds ``admin`` or any of ``roles``."""
        if "admin" in self.roles or self.roles & set(roles):
            return
        needed = ", ".join(("admin", *roles))
        raise OppError(ReasonCode.ADMIN_FORBIDDEN, f"This route needs one of the roles: {needed}.")


class AdminAuthenticator:
    def __init__(self, plan: Plan, store: Store, oauth: OAuthServices | None = None) -> None:
        self._declared = plan.admin_credentials
        self._store = store
        self._oauth = oauth
        self._plan = plan.oauth

    async def authenticate(self, request: IncomingRequest) -> AdminIdentity:
        scheme = ""
        try:
            credential = parse_credential(request)
            scheme = credential.scheme
            if is_opaque_token(credential.token, ADMIN_TOKEN_PREFIX) and credential.scheme == "bearer":
                return await self._opaque(credential.token)
            if self._oauth is None:
                raise OppError(ReasonCode.ADMIN_UNAUTHORIZED, "Malformed admin credential.")
            return await self._oauth_identity(credential, request, self._oauth)
        except OppError as error:
            if error.status != 401:
                raise
            if self._oauth is not None:  # the challenge's error comes from the original code
                error = with_challenge(error, self._plan, "allowed", scheme)
            elif error.code in _UNAUTHORIZED and not isinstance(error, MalformedCredential):
                # RFC 6750 §3.1: a token was presented and is not valid
                error.headers = {**(error.headers or {}), "WWW-Authenticate": _INVALID_TOKEN}
            if isinstance(error, MalformedCredential) or error.code in _UNAUTHORIZED:
                error = _as_admin(error)
            raise error from None

    async def _opaque(self, token: str) -> AdminIdentity:
        digest = hash_token(token)
        declared = self._declared.get(digest)
        if declared is not None:
            return AdminIdentity(name=declared.name, roles=declared.roles)
        stored = await self._store.admin_tokens.find_by_hash(digest)
        if stored is None or stored.revoked_at is not None:  # answered as admin.unauthorized
            raise OppError(ReasonCode.TOKEN_INVALID, "Unknown admin credential.")
        return AdminIdentity(name=stored.name, roles=frozenset(stored.roles))

    async def _oauth_identity(
        self, credential: Credential, request: IncomingRequest, oauth: OAuthServices
    ) -> AdminIdentity:
        info = await oauth.tokens.validate(credential.token)
        check_binding(info, credential, request, "allowed", self._plan, oauth.dpop)
        roles = oauth.mapper.admin_roles(info.claims)
        name = info.claims.get(self._plan.admin_name_claim)
        if not roles or not isinstance(name, str) or not name:
            raise OppError(ReasonCode.ADMIN_FORBIDDEN, "The access token grants no admin role.")
        return AdminIdentity(
            name=name,
            roles=roles,
            kind="oauth",
            auth_time=info.claims.get("auth_time"),
            acr=info.acr,
        )


def _as_admin(error: OppError) -> OppError:
    converted = OppError(ReasonCode.ADMIN_UNAUTHORIZED, error.message, headers=error.headers)
    return converted
