"""One credential → one :class:`~opp.auth.principal.Principal` (SPEC §4 steps 1-4, §5).

Opaque agent keys (``op_…``) keep their path (:class:`~opp.auth.keys.KeyAuthenticator`); any other
token is an OAuth access token: validated (JWT or introspection), its proof of possession
checked, its app read from the store on every request (revocation is immediate), its scopes
mapped from claims and intersected with the app's grants. Every 401 leaves with its
``WWW-Authenticate`` challenge; nothing is sent on success.
"""

from __future__ import annotations

from opp.auth.actor import resolve_actor
from opp.auth.keys import KeyAuthenticator
from opp.auth.principal import Principal
from opp.auth.tokens import AGENT_TOKEN_PREFIX, is_opaque_token
from opp.codes import ReasonCode
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.oauth.access_tokens import TokenInfo
from opp.oauth.binding import check_binding, refuse_unbound
from opp.oauth.challenge import challenge_header, oauth_error_of
from opp.oauth.credentials import Credential, MalformedCredential, parse_credential
from opp.oauth.plan import DpopMode, OAuthPlan
from opp.oauth.services import OAuthServices
from opp.store.protocols import Store

__all__ = ["AgentAuthenticator", "with_challenge"]


def with_challenge(
    error: OppError, plan: OAuthPlan, mode: DpopMode, scheme: str, scope: str | None = None
) -> OppError:
    """``error`` with its ``WWW-Authenticate`` (and ``Cache-Control: no-store`` beside a nonce)."""
    if isinstance(error, MalformedCredential):
        oauth_error = None if error.missing else "invalid_request"
        scheme = ""
    else:
        oauth_error = oauth_error_of(error.code)
    headers = dict(error.headers or {})
    headers["WWW-Authenticate"] = challenge_header(
        plan, mode, scheme=scheme, error=oauth_error, description=error.message, scope=scope
    )
    if "DPoP-Nonce" in headers:
        headers["Cache-Control"] = "no-store"
    error.headers = headers
    return error


class AgentAuthenticator:
    def __init__(
        self, keys: KeyAuthenticator, oauth: OAuthServices | None, store: Store, plan: OAuthPlan
    ) -> None:
        self._keys = keys
        self._oauth = oauth
        self._store = store
        self._plan = plan

    async def authenticate(self, request: IncomingRequest, mode: DpopMode) -> Principal:
        """The caller of ``request`` on a route whose DPoP mode is ``mode``.

        Raises:
            OppError: 401 with a challenge (credential, token, proof or binding), 403
                ``agent.forbidden`` (app without actor, tenant mismatch).
        """
        scheme = ""
        try:
            credential = parse_credential(request)
            scheme = credential.scheme
            if is_opaque_token(credential.token, AGENT_TOKEN_PREFIX):
                if self._oauth is not None:
                    refuse_unbound(credential, request, mode)
                elif credential.scheme != "bearer":
                    raise MalformedCredential("Opaque keys use the Bearer scheme.")
                return await self._keys.authenticate_token(credential.token)
            if self._oauth is None:
                raise OppError(ReasonCode.TOKEN_INVALID, "Malformed credential.")
            return await self._oauth_principal(credential, request, mode, self._oauth)
        except OppError as error:
            if error.status == 401:
                raise with_challenge(error, self._plan, mode, scheme) from None
            raise

    def enforce_mode(self, principal: Principal, mode: DpopMode) -> None:
        """The DPoP mode of a route known only after authentication (a write names its tool in the
        body, which is read after the credential): ``principal`` was authenticated under a mode at
        least as permissive, with its proof verified; refuse it if ``mode`` would have.

        Raises:
            OppError: 401 with a challenge: an unbound credential on a ``required`` route, a
                DPoP-bound token on a ``disabled`` one.
        """
        if self._oauth is None:
            return  # opaque keys only: no DPoP mode applies (see authenticate)
        bound = "jkt" in principal.binding
        if mode == "required" and not bound:
            error = OppError(ReasonCode.TOKEN_INVALID, "This route requires a DPoP-bound access token.")
        elif mode == "disabled" and bound:
            error = OppError(ReasonCode.DPOP_INVALID, "DPoP is disabled on this route.")
        else:
            return
        raise with_challenge(error, self._plan, mode, "dpop" if bound else "bearer")

    async def _oauth_principal(
        self, credential: Credential, request: IncomingRequest, mode: DpopMode, oauth: OAuthServices
    ) -> Principal:
        info = await oauth.tokens.validate(credential.token)
        binding = check_binding(info, credential, request, mode, self._plan, oauth.dpop)
        return await self._principal(info, binding, oauth)

    async def _principal(self, info: TokenInfo, binding: dict[str, str], oauth: OAuthServices) -> Principal:
        app_id = oauth.mapper.app_id(info.claims)
        app = await self._store.apps.get(app_id) if app_id else None
        ids = {"app_id": app_id} if app_id else {}
        if app is None or app.status != "active":
            raise OppError(ReasonCode.TOKEN_INVALID, "Unknown or revoked integration app.", audit=ids)
        try:
            actor, tenant = resolve_actor(app)
        except OppError as exc:
            exc.audit.update(ids)
            raise
        if self._plan.tenant_claim is not None:
            claimed = oauth.mapper.tenant(info.claims)
            if claimed is None or (tenant is not None and claimed != tenant):
                raise OppError(ReasonCode.FORBIDDEN, "The token's tenant does not match the app.", audit=ids)
            tenant = claimed
        client_id = info.client_id or app.id
        return Principal(
            app=app,
            key=None,
            actor_user_id=actor,
            tenant=tenant,
            scopes=oauth.mapper.scopes(info.claims) & frozenset(app.scopes),
            sub=info.subject or client_id,
            client_id=client_id,
            claims=info.claims,
            kind="oauth",
            issuer=info.issuer,
            binding=binding,
        )
