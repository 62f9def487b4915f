"""The built-in development authorization server: ``client_credentials`` only. NOT FOR PRODUCTION.

It lets the embedded default work without an external IdP (SPEC §5.2): an integration app is the
OAuth client (``client_id`` = app id) and any of its active opaque agent keys is a client secret.
It issues RFC 9068 JWT access tokens signed by the store-kept ES256 key
(:class:`~opp.oauth.signing_keys.OAuthKeyRing`), bound to the client's DPoP key (``cnf.jkt``,
RFC 9449) when a proof is sent. Production deployments point ``oauth.issuers`` at a real IdP.

Framework-free: the HTTP layer (``opp.http.oauth_routes``) parses the form, renders the answer
and audits it. Every refusal is an :class:`OAuthError` carrying the RFC 6749 §5.2 error, the OPP
reason code and the HTTP status; nothing of the client's secret, proof or token is echoed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import urllib.parse
from collections.abc import Mapping
from typing import Any, NamedTuple

from opp.auth.tokens import hash_token
from opp.clock import Clock, IdFactory
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.dpop import DpopVerifier
from opp.oauth.plan import TOKEN_PATH, OAuthPlan
from opp.oauth.signing_keys import OAuthKeyRing
from opp.store.protocols import Store
from opp.store.records import AppRecord, KeyRecord

__all__ = [
    "ACCESS_TOKEN_TYP",
    "CLIENT_CREDENTIALS",
    "AuthenticatedClient",
    "DevAuthorizationServer",
    "IssuedToken",
    "OAuthError",
]

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - a JOSE media type, not a secret
CLIENT_CREDENTIALS = "client_credentials"
_BASIC_CHALLENGE = 'Basic realm="opp"'
_CLIENT_AUTH_FAILED = "Client authentication failed."
_NONCE_REQUIRED = "Authorization server requires nonce in DPoP proof"


class OAuthError(Exception):
    """A token request refused with an RFC 6749 §5.2 error (or an RFC 9449 DPoP error).

    Attributes:
        error: ``invalid_request``, ``invalid_client``, ``unsupported_grant_type``,
            ``invalid_scope``, ``invalid_target``, ``invalid_dpop_proof``, ``use_dpop_nonce``, …
        description: Human-readable, safe to send (``error_description``).
        code: The OPP reason code of the refusal.
        status: HTTP status (400; 401 for ``invalid_client``).
        headers: Extra response headers (``WWW-Authenticate``, ``DPoP-Nonce``).
        client_id: The authenticated client, when authentication had succeeded (for the audit).
        key_id: The agent key used as the client secret, when authentication had succeeded.
    """

    def __init__(
        self,
        error: str,
        description: str,
        *,
        code: ReasonCode = ReasonCode.VALIDATION,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})
        self.client_id: str | None = None
        self.key_id: str | None = None


def _invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def _invalid_client() -> OAuthError:
    return OAuthError(
        "invalid_client",
        _CLIENT_AUTH_FAILED,
        code=ReasonCode.TOKEN_INVALID,
        status=401,
        headers={"WWW-Authenticate": _BASIC_CHALLENGE},
    )


class AuthenticatedClient(NamedTuple):
    app: AppRecord
    key: KeyRecord


class IssuedToken(NamedTuple):
    """One successful token response and what the audit event records about it."""

    response: dict[str, Any]
    """RFC 6749 §5.1 members: ``access_token``, ``token_type``, ``expires_in``, ``scope``."""
    client_id: str
    key_id: str
    jkt: str | None
    jti: str
    headers: dict[str, str]
    """``DPoP-Nonce`` when server nonces are on."""


def _basic_credentials(value: str) -> tuple[str, str]:
    """``(client_id, secret)`` of an RFC 6749 §2.3.1 ``Basic`` value (both parts form-urlencoded)."""
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client() from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _invalid_client()
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


def _client_credentials(form: Mapping[str, str], authorization: list[str]) -> tuple[str, str]:
    """The presented ``(client_id, secret)``: ``client_secret_basic`` or ``client_secret_post``, not both."""
    if len(authorization) > 1:
        raise _invalid_request("Send at most one Authorization header.")
    if authorization:
        if "client_secret" in form:
            raise _invalid_request("Use one client authentication method, not two.")
        client_id, secret = _basic_credentials(authorization[0])
        if form.get("client_id", client_id) != client_id:
            raise _invalid_request("client_id does not match the authenticated client.")
        return client_id, secret
    posted_id, posted_secret = form.get("client_id"), form.get("client_secret")
    if not posted_id or not posted_secret:
        raise _invalid_client()
    return posted_id, posted_secret


def _granted_scope(requested: str | None, app: AppRecord) -> str:
    """The space-separated scope to grant: the request's (a subset of the app's) or all the app's."""
    wanted = requested.split() if requested else list(app.scopes)
    if not set(wanted) <= set(app.scopes):
        raise OAuthError(
            "invalid_scope", "The requested scope exceeds the client's grants.", code=ReasonCode.SCOPE_DENIED
        )
    return " ".join(dict.fromkeys(wanted))


class DevAuthorizationServer:
    """The ``client_credentials`` token endpoint of the development server. NOT FOR PRODUCTION.

    Args:
        plan: The compiled ``oauth`` section (issuer, resource, token lifetime, DPoP policy).
        store: Where apps and agent keys (the client secrets) are looked up.
        keys: The store-kept signing keys.
        dpop: Verifies token-request proofs (``htm`` POST, ``htu`` public URL + ``/oauth/token``).
        clock: Injected time (``iat``, ``exp``, key expiry).
        ids: Token identifiers (``jti``).
    """

    def __init__(
        self,
        plan: OAuthPlan,
        store: Store,
        keys: OAuthKeyRing,
        dpop: DpopVerifier,
        clock: Clock,
        ids: IdFactory,
    ) -> None:
        self._plan = plan
        self._store = store
        self._keys = keys
        self._dpop = dpop
        self._clock = clock
        self._ids = ids
        self._token_url = plan.public_url + TOKEN_PATH
        self._dpop_supported = plan.dpop.mode != "disabled"
        self._dpop_required = self._dpop_supported and (
            plan.dev_server.require_dpop or plan.dpop.mode == "required"
        )

    @property
    def token_url(self) -> str:
        """The token endpoint's URL as clients see it (the ``htu`` of token-request proofs)."""
        return self._token_url

    async def token(
        self, form: Mapping[str, str], authorization: list[str], dpop: list[str]
    ) -> dict[str, Any]:
        """The RFC 6749 §5.1 response to one token request; raises :class:`OAuthError` on refusal."""
        return (await self.issue(form, authorization, dpop)).response

    async def issue(self, form: Mapping[str, str], authorization: list[str], dpop: list[str]) -> IssuedToken:
        """Authenticate the client, check the grant, scope, resource and proof, and sign a token.

        Args:
            form: The request's form parameters (each at most once).
            authorization: Every ``Authorization`` header value.
            dpop: Every ``DPoP`` header value.

        Raises:
            OAuthError: The request is refused (see the class for the errors).
            OppError: A dependency failed (``agent.unavailable``: store or replay cache).
        """
        client = await self._authenticate(form, authorization)
        try:
            return await self._grant(client, form, dpop)
        except OAuthError as refused:
            refused.client_id, refused.key_id = client.app.id, client.key.id
            raise

    async def _authenticate(self, form: Mapping[str, str], authorization: list[str]) -> AuthenticatedClient:
        client_id, secret = _client_credentials(form, authorization)
        expected_hash = hash_token(secret)
        found = await self._store.keys.find_by_hash(expected_hash)
        if found is None:
            raise _invalid_client()
        key, app = found
        same_client = hmac.compare_digest(key.app_id.encode(), client_id.encode())
        same_secret = hmac.compare_digest(key.token_hash, expected_hash)
        expired = key.expires_at is not None and key.expires_at <= self._clock.now()
        usable = key.revoked_at is None and not expired and app.status == "active"
        if not (same_client and same_secret and usable):
            raise _invalid_client()
        return AuthenticatedClient(app, key)

    async def _grant(
        self, client: AuthenticatedClient, form: Mapping[str, str], dpop: list[str]
    ) -> IssuedToken:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _invalid_request("grant_type is required.")
        if grant_type != CLIENT_CREDENTIALS:
            raise OAuthError("unsupported_grant_type", "Only client_credentials is supported.")
        scope = _granted_scope(form.get("scope"), client.app)
        resource = form.get("resource")
        if resource is not None and resource != self._plan.resource:
            raise OAuthError("invalid_target", "The requested resource is not served here.")
        jkt = self._proof_key(dpop)
        now = self._clock.now()
        jti = self._ids.new("at")
        access_token = await self._keys.sign(
            self._claims(client.app, scope, jkt, jti, now), typ=ACCESS_TOKEN_TYP
        )
        nonce = self._dpop.next_nonce()
        return IssuedToken(
            response={
                "access_token": access_token,
                "token_type": "DPoP" if jkt else "Bearer",
                "expires_in": int(self._plan.dev_server.token_ttl_s),
                "scope": scope,
            },
            client_id=client.app.id,
            key_id=client.key.id,
            jkt=jkt,
            jti=jti,
            headers={"DPoP-Nonce": nonce} if nonce else {},
        )

    def _proof_key(self, dpop: list[str]) -> str | None:
        """The thumbprint of a valid proof's key; None when no proof is sent and none is required.

        With ``oauth.dpop.mode: disabled`` the gateway refuses DPoP, so proofs are ignored and
        Bearer tokens issued (RFC 9449 §5: a server without DPoP support ignores the header).
        """
        if not self._dpop_supported:
            return None
        if not dpop:
            if self._dpop_required:
                raise OAuthError("invalid_request", "A DPoP proof is required.", code=ReasonCode.DPOP_INVALID)
            return None
        try:
            return self._dpop.verify(dpop, method="POST", htu=self._token_url, access_token=None).jkt
        except OppError as error:
            if error.code is ReasonCode.DPOP_NONCE_REQUIRED:
                raise OAuthError(
                    "use_dpop_nonce", _NONCE_REQUIRED, code=error.code, headers=error.headers
                ) from None
            if error.code is ReasonCode.DPOP_INVALID:
                raise OAuthError("invalid_dpop_proof", error.message, code=error.code) from None
            raise

    def _claims(
        self, app: AppRecord, scope: str, jkt: str | None, jti: str, now: dt.datetime
    ) -> dict[str, Any]:
        """RFC 9068 §2.2 claims of one access token."""
        issued_at = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self._plan.dev_issuer,
            "sub": app.id,
            "aud": self._plan.resource,
            "client_id": app.id,
            "scope": scope,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + int(self._plan.dev_server.token_ttl_s),
            "jti": jti,
        }
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        return claims
