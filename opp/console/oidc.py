"""Console sign-in with OpenID Connect: authorization code flow with PKCE (S256), via authlib.

``start`` stores a one-time grant keyed by the SHA-256 of ``state`` (with the PKCE verifier and the
nonce) and sends the browser to the provider; ``finish`` redeems that grant exactly once, exchanges
the code, and validates the ID token (signature from the provider's JWKS, ``iss``, ``aud``, ``exp``,
``nonce``). Roles come from the ID token through the same claim mapping as admin access tokens
(``oauth.admin``). For step-up the console asks the provider for a fresh login (``prompt=login``,
``max_age=0``, and ``acr_values`` when ``oauth.step_up.acr`` is set).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from opp.auth.tokens import hash_token
from opp.clock import Clock
from opp.codes import ReasonCode
from opp.compile.plan import Plan
from opp.config.schema import ConsoleOidcConfig
from opp.console.sessions import safe_next
from opp.errors import OppError
from opp.oauth.claims import ClaimMapper
from opp.store.console_records import ConsoleGrantRecord
from opp.store.protocols import Store

__all__ = ["OidcLogin", "OidcSignIn"]

_GRANT_TTL_S = 600.0
_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]


def _failed(message: str) -> OppError:
    return OppError(ReasonCode.CONSOLE_SIGN_IN_FAILED, message)


class OidcLogin:
    """Who signed in: name, admin roles, and when and how strongly they authenticated."""

    def __init__(
        self, name: str, roles: tuple[str, ...], auth_time: dt.datetime, acr: str | None, next_path: str
    ):
        self.name, self.roles, self.auth_time, self.acr, self.next_path = (
            name,
            roles,
            auth_time,
            acr,
            next_path,
        )


class OidcSignIn:
    def __init__(self, config: ConsoleOidcConfig, plan: Plan, store: Store, clock: Clock, redirect_uri: str):
        self._config = config
        self._store = store
        self._clock = clock
        self._redirect_uri = redirect_uri
        self._mapper = ClaimMapper(plan.oauth)
        self._name_claim = plan.oauth.admin_name_claim
        self._step_up = plan.oauth.step_up
        self._metadata: dict[str, Any] | None = None

    def _client(self) -> AsyncOAuth2Client:
        secret = os.environ.get(self._config.client_secret_env) if self._config.client_secret_env else None
        return AsyncOAuth2Client(
            client_id=self._config.client_id,
            client_secret=secret,
            scope=" ".join(self._config.scopes),
            redirect_uri=self._redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            timeout=10.0,
        )

    async def _discover(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self._config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                async with httpx.AsyncClient(timeout=10.0) as http:
                    response = await http.get(url)
                    response.raise_for_status()
                    metadata = response.json()
            except (httpx.HTTPError, ValueError):
                raise _failed("The sign-in provider could not be reached; try again later.") from None
            if not isinstance(metadata, dict) or metadata.get("issuer") != self._config.issuer:
                raise _failed("The sign-in provider's metadata does not name the configured issuer.")
            self._metadata = metadata
        return self._metadata

    async def start(self, next_path: str | None, fresh: bool) -> str:
        """The provider's authorization URL for a new login (``fresh``: a step-up re-authentication)."""
        metadata = await self._discover()
        state, verifier, nonce = (secrets.token_urlsafe(32) for _ in range(3))
        now = self._clock.now()
        await self._store.console.create_grant(
            ConsoleGrantRecord(
                id=hash_token(state),
                kind="oidc",
                next_path=safe_next(next_path),
                code_verifier=verifier,
                nonce=nonce,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=_GRANT_TTL_S),
            )
        )
        extra: dict[str, str] = {}
        if fresh:
            extra = {"prompt": "login", "max_age": "0"}
            if self._step_up.acr:
                extra["acr_values"] = " ".join(sorted(self._step_up.acr))
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce, **extra
            )
        return str(url)

    async def finish(self, code: str | None, state: str | None, error: str | None) -> OidcLogin:
        if error:
            raise _failed(f"The sign-in provider refused the login ({error[:100]}).")
        if not code or not state:
            raise _failed("The sign-in answer lacks its code or state.")
        grant = await self._store.console.redeem_grant(hash_token(state), self._clock.now())
        if grant is None or grant.kind != "oidc" or grant.code_verifier is None:
            raise _failed("This sign-in attempt is unknown, expired or already used; start again.")
        metadata = await self._discover()
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=grant.code_verifier
                )
            async with httpx.AsyncClient(timeout=10.0) as http:
                jwks = (await http.get(metadata["jwks_uri"])).json()
        except (httpx.HTTPError, ValueError, KeyError, AuthlibBaseError) as exc:
            raise _failed(f"The sign-in provider did not issue tokens ({type(exc).__name__}).") from None
        claims = self._validate(token.get("id_token"), jwks, grant.nonce)
        roles = tuple(sorted(self._mapper.admin_roles(claims)))
        name = claims.get(self._name_claim)
        if not roles or not isinstance(name, str) or not name:
            raise OppError(
                ReasonCode.ADMIN_FORBIDDEN, "Your account has no console role (approver, auditor, admin)."
            )
        auth_time = claims.get("auth_time")
        at = (
            dt.datetime.fromtimestamp(auth_time, dt.UTC)
            if isinstance(auth_time, int | float) and not isinstance(auth_time, bool)
            else self._clock.now()
        )
        acr = claims.get("acr") if isinstance(claims.get("acr"), str) else None
        return OidcLogin(name, roles, at, acr, grant.next_path)

    def _validate(self, id_token: Any, jwks: Any, nonce: str | None) -> dict[str, Any]:
        if not isinstance(id_token, str):
            raise _failed("The sign-in provider sent no ID token.")
        try:
            decoded = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self._config.issuer},
                aud={"essential": True, "value": self._config.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce or ""},
            ).validate(decoded.claims)
        except (JoseError, ValueError, TypeError):
            raise _failed("The ID token is invalid (signature, issuer, audience, expiry or nonce).") from None
        return dict(decoded.claims)
