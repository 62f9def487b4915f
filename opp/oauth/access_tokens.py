"""OAuth access tokens → :class:`TokenInfo`: RFC 9068 JWTs and RFC 7662 introspection (SPEC §5.2).

A token shaped like a compact JWS is a JWT; anything else is introspected when an issuer offers
introspection, and refused otherwise.

JWT checks, all failing with 401 ``agent.token_invalid`` unless noted: header ``typ`` is ``at+jwt``
or ``application/at+jwt`` (a missing ``typ`` is refused, unlike authlib: INTEROP §0.5); no ``crit``
or ``b64``; the issuer is chosen by the *unverified* ``iss`` and the signature is then checked with
that issuer's keys only, selected by ``kid``; ``alg`` is in the issuer's list and asymmetric (never
``none`` or HS*, whatever the configuration says); ``aud`` contains the gateway's resource
identifier; ``exp`` and ``iat`` are required and numeric, ``exp`` passed by more than the leeway is
``agent.token_expired``; ``nbf`` and ``iat`` may not lie in the future beyond the leeway;
``client_id`` and ``sub`` are required strings; ``cnf``, when present, holds exactly one of
``jkt`` and ``x5t#S256``. Keys a token names or carries itself (``jwk``, ``jku``, ``x5u``, ``x5c``)
are ignored: only the configured issuer's key source is trusted.

Verified tokens are cached by SHA-256 of the token (bounded, least recently used evicted first) and
never served past their ``exp``. A JWT cannot be revoked before it expires anyway: its lifetime is
its revocation delay. Active introspection answers are cached for at most ``cache_max_s`` and
never past ``exp``; inactive answers are not cached.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import msgspec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry
from joserfc.util import urlsafe_b64decode

from opp.clock import Clock
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.introspection import Introspector
from opp.oauth.jwks import FETCH_TIMEOUT_S, SIGNATURE_ALGORITHMS, IssuerMetadataCache, JwksCache, LocalJwks
from opp.oauth.plan import IssuerPlan, OAuthPlan

__all__ = ["CACHE_MAX_ENTRIES", "AccessTokenValidator", "TokenCounters", "TokenInfo"]

CACHE_MAX_ENTRIES = 10_000
MAX_TOKEN_CHARS = 16 * 1024
_JWS_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")
"""An unpadded base64url SHA-256 digest (RFC 7638 ``jkt``, RFC 8705 ``x5t#S256``)."""

_PARSE_REGISTRY = JWSRegistry(strict_check_header=False)
_PARSE_REGISTRY.max_header_length = 8192
"""Size limits for splitting a token; an IdP may put a certificate chain (``x5c``) in the header."""


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A validated access token."""

    kind: Literal["jwt", "introspection"]
    issuer: str
    subject: str | None
    client_id: str | None
    claims: dict[str, Any]
    """Every claim (JWT payload or introspection answer), for mapping and CEL ``principal.claims``."""
    expires_at: float | None
    """``exp``, epoch seconds."""
    jkt: str | None
    """``cnf.jkt``: the token is DPoP-bound to this key thumbprint."""
    x5t: str | None
    """``cnf["x5t#S256"]``: the token is bound to this client certificate."""
    auth_time: float | None
    acr: str | None


@dataclass(slots=True)
class TokenCounters:
    """How tokens were validated (for tests and metrics)."""

    cache_hits: int = 0
    verified: int = 0
    """JWT signatures checked."""
    introspected: int = 0
    """Introspection requests sent."""


class _TokenCache:
    """SHA-256(token) → (TokenInfo, serve-until), bounded, least recently used evicted first."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[TokenInfo, float]] = OrderedDict()

    def get(self, digest: bytes, now: float) -> TokenInfo | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if now >= entry[1]:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return entry[0]

    def put(self, digest: bytes, info: TokenInfo, until: float, now: float) -> None:
        if until <= now:
            return
        self._entries[digest] = (info, until)
        self._entries.move_to_end(digest)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, slots=True)
class _Issuer:
    plan: IssuerPlan
    keys: JwksCache
    algorithms: frozenset[str]
    """The configured algorithms that are asymmetric signature algorithms."""


def _invalid(message: str) -> OppError:
    return OppError(ReasonCode.TOKEN_INVALID, message)


class AccessTokenValidator:
    """Validates access tokens for one :class:`OAuthPlan` (see the module docstring)."""

    def __init__(
        self,
        plan: OAuthPlan,
        clock: Clock,
        *,
        http: httpx.AsyncClient | None = None,
        local_jwks: LocalJwks | None = None,
        cache_max_entries: int = CACHE_MAX_ENTRIES,
    ) -> None:
        """``http`` is used for JWKS, metadata and introspection (a private client when None);
        ``local_jwks`` serves the keys of the issuer whose ``jwks_source`` is the dev server's."""
        self._plan = plan
        self._clock = clock
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=FETCH_TIMEOUT_S, follow_redirects=False, trust_env=False
        )
        self._cache = _TokenCache(cache_max_entries)
        self.counters = TokenCounters()
        self._issuers: dict[str, _Issuer] = {}
        introspectors = []
        for issuer in plan.issuers:
            metadata = IssuerMetadataCache(issuer.issuer, clock, self._http, issuer.jwks_cache_s)
            keys = JwksCache(issuer, clock, http=self._http, metadata=metadata, local_jwks=local_jwks)
            allowed = frozenset(issuer.algorithms & SIGNATURE_ALGORITHMS)
            self._issuers[issuer.issuer] = _Issuer(issuer, keys, allowed)
            if issuer.introspection is not None:
                introspectors.append(Introspector(issuer.issuer, issuer.introspection, self._http, metadata))
        self._introspectors = tuple(introspectors)

    async def validate(self, token: str) -> TokenInfo:
        """The validated token.

        Raises:
            OppError: 401 ``agent.token_invalid`` / ``agent.token_expired``; 503 ``agent.unavailable``
                when keys or introspection cannot be obtained (fail closed).
        """
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self._clock.now().timestamp()
        cached = self._cache.get(digest, now)
        if cached is not None:
            self.counters.cache_hits += 1
            return cached
        if len(token) > MAX_TOKEN_CHARS:
            raise _invalid("Malformed access token.")
        if _JWS_COMPACT.fullmatch(token):
            info, until = await self._verify_jwt(token, now)
        elif self._introspectors:
            info, until = await self._introspect(token, now)
        else:
            raise _invalid("Unknown access token.")
        self._cache.put(digest, info, until, now)
        return info

    async def close(self) -> None:
        """Close the HTTP client if this validator created it."""
        if self._owns_http:
            await self._http.aclose()

    async def _verify_jwt(self, token: str, now: float) -> tuple[TokenInfo, float]:
        try:
            compact = jws.extract_compact(token.encode("ascii"), registry=_PARSE_REGISTRY)
            header = compact.headers()
            claims = msgspec.json.decode(compact.payload)
            signature = urlsafe_b64decode(compact.segments["signature"])
        except (JoseError, ValueError, msgspec.DecodeError):
            raise _invalid("Malformed access token.") from None
        if not isinstance(claims, dict):
            raise _invalid("Malformed access token.")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in _ACCESS_TOKEN_TYPES:
            raise _invalid("Not an access token (typ must be at+jwt).")
        if "crit" in header or "b64" in header:
            raise _invalid("Unsupported access token header.")
        iss = claims.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise _invalid("Access token issuer is not trusted.")
        alg, kid = header.get("alg"), header.get("kid")
        if (
            not isinstance(alg, str)
            or alg not in issuer.algorithms
            or not (kid is None or isinstance(kid, str))
        ):
            raise _invalid("Access token algorithm not allowed.")
        key = await issuer.keys.signing_key(kid, alg)
        algorithm = JWSRegistry.algorithms[alg]
        signing_input = compact.segments["header"] + b"." + compact.segments["payload"]
        try:
            algorithm.check_key(key)
            valid = algorithm.verify(signing_input, signature, key)
        except (JoseError, ValueError, TypeError):
            valid = False
        self.counters.verified += 1
        if not valid:
            raise _invalid("Access token signature is invalid.")
        _check_audience(claims, self._plan.resource, required=True)
        expires_at = _check_times(claims, now, self._plan.leeway_s, iat_required=True)
        for name in ("client_id", "sub"):
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise _invalid(f"Access token lacks {name}.")
        return _token_info("jwt", issuer.plan.issuer, claims), expires_at

    async def _introspect(self, token: str, now: float) -> tuple[TokenInfo, float]:
        """The first issuer that calls the token active decides; an unreachable one makes a miss a 503."""
        unavailable: OppError | None = None
        for introspector in self._introspectors:
            self.counters.introspected += 1
            try:
                answer = await introspector.introspect(token)
            except OppError as exc:
                unavailable = exc
                continue
            if answer is not None:
                settings = self._issuers[introspector.issuer].plan.introspection
                assert settings is not None  # only issuers with introspection have an introspector
                return self._introspected(answer, introspector.issuer, now, settings.cache_max_s)
        if unavailable is not None:
            raise unavailable
        raise _invalid("Access token is not active.")

    def _introspected(
        self, claims: dict[str, Any], issuer: str, now: float, cache_max_s: float
    ) -> tuple[TokenInfo, float]:
        if claims.get("iss", issuer) != issuer:
            raise _invalid("Access token issuer mismatch.")
        _check_audience(claims, self._plan.resource, required=False)
        expires_at = _check_times(claims, now, self._plan.leeway_s, iat_required=False)
        for name in ("client_id", "sub"):
            if name in claims and not isinstance(claims[name], str):
                raise _invalid(f"Access token has a malformed {name}.")
        info = _token_info("introspection", issuer, claims)
        token_type = claims.get("token_type")
        dpop_typed = isinstance(token_type, str) and token_type.lower() == "dpop"
        if token_type is not None and dpop_typed != (info.jkt is not None):
            raise _invalid("Access token type does not match its binding.")  # RFC 9449 §6.2
        return info, min(now + cache_max_s, expires_at)


def _check_audience(claims: Mapping[str, Any], resource: str, *, required: bool) -> None:
    if "aud" not in claims and not required:
        return
    audience = claims.get("aud")
    if isinstance(audience, str):
        audience = [audience]
    if not isinstance(audience, list) or resource not in audience:
        raise _invalid("Access token is not for this resource (aud).")


def _numeric(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim as a float; None when absent; 401 when not a finite number."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid(f"Access token has a malformed {name}.")
    return float(value)


def _check_times(claims: Mapping[str, Any], now: float, leeway: float, *, iat_required: bool) -> float:
    """``exp`` (required), ``nbf`` and ``iat`` against ``now`` with ``leeway``; returns ``exp``."""
    expires_at, not_before, issued_at = (_numeric(claims, name) for name in ("exp", "nbf", "iat"))
    if expires_at is None:
        raise _invalid("Access token lacks exp.")
    if issued_at is None and iat_required:
        raise _invalid("Access token lacks iat.")
    if now > expires_at + leeway:
        raise OppError(ReasonCode.TOKEN_EXPIRED, "Access token has expired.")
    if not_before is not None and not_before > now + leeway:
        raise _invalid("Access token is not valid yet (nbf).")
    if issued_at is not None and issued_at > now + leeway:
        raise _invalid("Access token is issued in the future (iat).")
    return expires_at


def _confirmation(claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(jkt, x5t#S256)`` from ``cnf`` (RFC 7800): absent, or exactly one supported member."""
    if "cnf" not in claims:
        return None, None
    cnf = claims["cnf"]
    if not isinstance(cnf, dict) or len(cnf) != 1:
        raise _invalid("Access token has an unsupported confirmation (cnf).")
    ((method, value),) = cnf.items()
    if method not in ("jkt", "x5t#S256") or not isinstance(value, str) or not _THUMBPRINT.fullmatch(value):
        raise _invalid("Access token has an unsupported confirmation (cnf).")
    return (value, None) if method == "jkt" else (None, value)


def _token_info(kind: Literal["jwt", "introspection"], issuer: str, claims: dict[str, Any]) -> TokenInfo:
    """The :class:`TokenInfo` of checked ``claims`` (``exp`` is known to be numeric)."""
    jkt, x5t = _confirmation(claims)
    auth_time = claims.get("auth_time")
    acr = claims.get("acr")
    return TokenInfo(
        kind=kind,
        issuer=issuer,
        subject=claims.get("sub"),
        client_id=claims.get("client_id"),
        claims=claims,
        expires_at=float(claims["exp"]),
        jkt=jkt,
        x5t=x5t,
        auth_time=(
            float(auth_time)
            if isinstance(auth_time, int | float)
            and not isinstance(auth_time, bool)
            and math.isfinite(auth_time)
            else None
        ),
        acr=acr if isinstance(acr, str) else None,
    )
