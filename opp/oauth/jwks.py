"""An issuer's token-signing keys: fetched, cached, refreshed on an unknown ``kid`` (SPEC §5.2, INTEROP §3.6).

Sources, one per issuer: ``jwks_uri``; a JWKS file (re-read when it changes); the ``jwks_uri`` of the
issuer's RFC 8414 / OpenID metadata (whose ``issuer`` must equal the configured one); or, for the
built-in development server, a local provider. Keys are kept per issuer and never merged.

Fetching is bounded: a 2 s timeout, a 64 KiB body cap, no redirects, one fetch in flight per issuer
(single flight), a refetch at most once per ``jwks_refresh_cooldown_s`` for unknown ``kid`` s (a kid
flood cannot turn the gateway into a cannon against its IdP), and the last good key set kept when a
refresh fails (stale-if-error, up to :data:`STALE_LIMIT_S`). No key set at all fails closed: 503
``agent.unavailable``.

Only public signature keys are imported: keys with ``use`` other than ``sig``, ``key_ops`` without
``verify``, private members, ``kty: oct``, unsupported curves and RSA moduli under 2048 bits are
skipped, so an HS* "signature" made with a public key as the secret can never verify.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import os
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple

import httpx
import msgspec
from joserfc import jwk
from joserfc.errors import JoseError

from opp.clock import Clock
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.jwk_keys import MIN_RSA_BITS, PRIVATE_MEMBERS
from opp.oauth.plan import IssuerPlan
from opp.parsing import ascii_int

__all__ = [
    "FETCH_TIMEOUT_S",
    "MAX_DOCUMENT_BYTES",
    "SIGNATURE_ALGORITHMS",
    "STALE_LIMIT_S",
    "AuthorizationServerMetadata",
    "FetchError",
    "IssuerMetadataCache",
    "JwksCache",
    "LocalJwks",
    "basic_auth",
    "fetch_json",
    "import_jwks",
    "metadata_urls",
]

_log = logging.getLogger("opp.oauth")

FETCH_TIMEOUT_S = 2.0
MAX_DOCUMENT_BYTES = 64 * 1024
STALE_LIMIT_S = 24 * 3600.0
"""How long past its TTL the last good key set keeps serving while every refresh fails."""
LOCAL_COOLDOWN_S = 1.0
"""Unknown-``kid`` refresh interval for the local (development server) provider: it costs no network."""

LocalJwks = Callable[[], Awaitable[dict[str, Any]]]
"""Returns the JWKS (public keys only) of the built-in development authorization server."""

_CURVES = {"EC": frozenset({"P-256", "P-384", "P-521"}), "OKP": frozenset({"Ed25519", "Ed448"})}
"""Signature curves per key type; X25519/X448 (key agreement) and unknown curves are skipped."""
_ALG_KEYS: dict[str, tuple[str, frozenset[str] | None]] = {
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
    **{f"{family}{bits}": ("RSA", None) for family in ("RS", "PS") for bits in (256, 384, 512)},
}
"""Asymmetric JWS alg → the key type (and curves) it verifies with. HS* and ``none`` are absent."""
SIGNATURE_ALGORITHMS = frozenset(_ALG_KEYS)
"""The only ``alg`` values an access token may carry, whatever an issuer's configuration says."""


class FetchError(Exception):
    """A key or metadata document could not be obtained; the message is safe to log."""


def basic_auth(client_id: str, client_secret: str) -> str:
    """An RFC 6749 §2.3.1 ``Authorization: Basic`` value (both parts form-urlencoded first)."""
    pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


async def fetch_json(
    http: httpx.AsyncClient,
    url: str,
    *,
    form: Mapping[str, str] | None = None,
    authorization: str | None = None,
) -> Any:
    """GET ``url`` (or POST ``form``) and decode a JSON body: 200 only, no redirects, bounded time and size.

    Raises:
        FetchError: Transport error, timeout, non-200 status, body over :data:`MAX_DOCUMENT_BYTES`, bad JSON.
    """
    headers = {"Accept": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    method = "GET" if form is None else "POST"
    try:
        async with http.stream(
            method,
            url,
            data=form,
            headers=headers,
            timeout=FETCH_TIMEOUT_S,
            follow_redirects=False,
        ) as response:
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}")
            declared = ascii_int(response.headers.get("content-length", ""))
            if declared is not None and declared > MAX_DOCUMENT_BYTES:
                raise FetchError(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchError(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise FetchError(f"{url} unreachable ({type(exc).__name__})") from None
    try:
        return msgspec.json.decode(bytes(body))
    except msgspec.DecodeError:
        raise FetchError(f"{url} did not send JSON") from None


def import_jwks(document: Any) -> tuple[jwk.Key, ...]:
    """The usable public signature keys of a JWKS document (unusable members are skipped).

    Raises:
        FetchError: The document is not an object with a ``keys`` list.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise FetchError("not a JWKS (an object with a 'keys' list)")
    keys: list[jwk.Key] = []
    for member in document["keys"]:
        key = _import_public_key(member)
        if key is not None:
            keys.append(key)
    return tuple(keys)


def _import_public_key(member: Any) -> jwk.Key | None:
    if not isinstance(member, dict) or not PRIVATE_MEMBERS.isdisjoint(member):
        return None
    kty = member.get("kty")
    if kty not in ("EC", "OKP", "RSA") or member.get("use", "sig") != "sig":
        return None
    key_ops = member.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    if kty in _CURVES and member.get("crv") not in _CURVES[kty]:
        return None
    try:
        key = jwk.import_key(member)
    except (JoseError, ValueError, TypeError):
        return None
    if key.is_private:
        return None
    if isinstance(key, jwk.RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
        return None
    return key


def _matching_keys(keys: tuple[jwk.Key, ...], kid: str | None, alg: str) -> list[jwk.Key]:
    """Keys of the type (and curve) ``alg`` needs, made for ``alg`` if they say so, with ``kid`` if given."""
    kty, curves = _ALG_KEYS[alg]
    found = []
    for key in keys:
        if key.key_type != kty or (curves is not None and key.get("crv") not in curves):
            continue
        if key.get("alg") not in (None, alg):
            continue
        if kid is not None and key.kid != kid:
            continue
        found.append(key)
    return found


def metadata_urls(issuer: str) -> tuple[str, ...]:
    """Where an issuer's metadata may live: RFC 8414 (path inserted), OpenID (inserted, then appended)."""
    parts = urllib.parse.urlsplit(issuer)
    path = parts.path.rstrip("/")
    origin = f"{parts.scheme}://{parts.netloc}"
    candidates = (
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    )
    return tuple(dict.fromkeys(candidates))


class AuthorizationServerMetadata(NamedTuple):
    """The members of RFC 8414 metadata the gateway uses."""

    issuer: str
    jwks_uri: str | None
    introspection_endpoint: str | None


class IssuerMetadataCache:
    """One issuer's discovered metadata, cached for ``ttl_s`` (the last good copy kept on failure)."""

    def __init__(self, issuer: str, clock: Clock, http: httpx.AsyncClient, ttl_s: float) -> None:
        self._issuer = issuer
        self._clock = clock
        self._http = http
        self._ttl_s = ttl_s
        self._metadata: AuthorizationServerMetadata | None = None
        self._fetched_at = -math.inf
        self._lock = asyncio.Lock()

    async def get(self) -> AuthorizationServerMetadata:
        """The metadata, fetched when missing or older than the TTL.

        Raises:
            FetchError: No metadata could be obtained and none was obtained before.
        """
        if self._metadata is not None and self._clock.now().timestamp() - self._fetched_at < self._ttl_s:
            return self._metadata
        async with self._lock:
            now = self._clock.now().timestamp()
            if self._metadata is not None and now - self._fetched_at < self._ttl_s:
                return self._metadata  # another task refreshed it while this one waited
            try:
                self._metadata = await self._discover()
                self._fetched_at = now
            except FetchError as exc:
                if self._metadata is None:
                    raise
                _log.warning(
                    "oauth metadata refresh failed for %s: %s (keeping the last copy)", self._issuer, exc
                )
            return self._metadata

    async def _discover(self) -> AuthorizationServerMetadata:
        failures = []
        for url in metadata_urls(self._issuer):
            try:
                document = await fetch_json(self._http, url)
            except FetchError as exc:
                failures.append(str(exc))
                continue
            return self._parse(document, url)
        raise FetchError("; ".join(failures))

    def _parse(self, document: Any, url: str) -> AuthorizationServerMetadata:
        if not isinstance(document, dict):
            raise FetchError(f"{url} is not a metadata object")
        if document.get("issuer") != self._issuer:
            raise FetchError(f"{url} names another issuer (RFC 8414 §3.3: it must equal {self._issuer})")
        return AuthorizationServerMetadata(
            issuer=self._issuer,
            jwks_uri=_url_member(document, "jwks_uri"),
            introspection_endpoint=_url_member(document, "introspection_endpoint"),
        )


def _url_member(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if not isinstance(value, str):
        return None
    parts = urllib.parse.urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None


class JwksCache:
    """The signing keys of one issuer (see the module docstring for sources and limits)."""

    def __init__(
        self,
        issuer: IssuerPlan,
        clock: Clock,
        *,
        http: httpx.AsyncClient,
        metadata: IssuerMetadataCache | None = None,
        local_jwks: LocalJwks | None = None,
    ) -> None:
        """``metadata`` is required when the issuer has neither ``jwks_uri`` nor ``jwks_path``,
        ``local_jwks`` when its ``jwks_source`` is the development server's."""
        if issuer.jwks_source is not None and local_jwks is None:
            raise ValueError(f"issuer {issuer.issuer} needs a local JWKS provider")
        if (
            issuer.jwks_source is None
            and issuer.jwks_uri is None
            and issuer.jwks_path is None
            and metadata is None
        ):
            raise ValueError(f"issuer {issuer.issuer} needs metadata discovery")
        self._issuer = issuer
        self._clock = clock
        self._http = http
        self._metadata = metadata
        self._local = local_jwks if issuer.jwks_source is not None else None
        self._cooldown_s = (
            min(issuer.jwks_refresh_cooldown_s, LOCAL_COOLDOWN_S)
            if self._local
            else issuer.jwks_refresh_cooldown_s
        )
        self._keys: tuple[jwk.Key, ...] | None = None
        self._fetched_at = -math.inf
        """When the current key set was obtained (its age counts against the TTL)."""
        self._attempted_at = -math.inf
        self._last_ok = False
        self._file_signature: tuple[int, int, int] | None = None
        self._generation = 0
        self._lock = asyncio.Lock()

    async def signing_key(self, kid: str | None, alg: str) -> jwk.Key:
        """The one key that may have signed a token with header ``kid`` and ``alg``.

        Raises:
            OppError: 401 ``agent.token_invalid`` (unsupported alg, no matching key after the permitted
                refresh, or several keys and no ``kid``), 503 ``agent.unavailable`` (no key set).
        """
        if alg not in _ALG_KEYS:
            raise OppError(ReasonCode.TOKEN_INVALID, "Access token algorithm not allowed.")
        found = _matching_keys(await self._current(), kid, alg)
        if not found and await self._refresh_for_unknown_key():
            found = _matching_keys(self._usable_keys(), kid, alg)
        if not found:
            raise OppError(ReasonCode.TOKEN_INVALID, "No signing key matches the access token.")
        if len(found) > 1:
            raise OppError(
                ReasonCode.TOKEN_INVALID, "Several signing keys match; the access token needs a kid."
            )
        return found[0]

    async def _current(self) -> tuple[jwk.Key, ...]:
        """The key set, refreshed first when the TTL has run out (or the file changed)."""
        if self._refresh_due():
            await self._refresh()
        return self._usable_keys()

    def _refresh_due(self) -> bool:
        if self._keys is None:
            return True
        if self._issuer.jwks_path is not None:
            return self._file_changed()
        interval = self._issuer.jwks_cache_s if self._last_ok else self._cooldown_s
        return self._clock.now().timestamp() - self._attempted_at >= interval

    async def _refresh_for_unknown_key(self) -> bool:
        """Refresh for a ``kid`` not in the set, at most once per cooldown. True when it refreshed."""
        if self._issuer.jwks_path is not None:
            due = self._file_changed()
        else:
            due = self._clock.now().timestamp() - self._attempted_at >= self._cooldown_s
        if due:
            await self._refresh()
        return due

    def _usable_keys(self) -> tuple[jwk.Key, ...]:
        keys = self._keys
        if keys is None:
            raise OppError(ReasonCode.UNAVAILABLE, "The token issuer's signing keys are unavailable.")
        age = self._clock.now().timestamp() - self._fetched_at
        if self._issuer.jwks_path is None and age > self._issuer.jwks_cache_s + STALE_LIMIT_S:
            raise OppError(ReasonCode.UNAVAILABLE, "The token issuer's signing keys are out of date.")
        return keys

    async def _refresh(self) -> None:
        """Load the key set once, however many tasks ask at the same time (single flight)."""
        generation = self._generation
        async with self._lock:
            if self._generation != generation:
                return  # the task holding the lock before this one already refreshed
            now = self._clock.now().timestamp()
            self._attempted_at = now
            try:
                self._keys = import_jwks(await self._load())
                self._fetched_at = now
                self._last_ok = True
            except FetchError as exc:
                self._last_ok = False
                kept = "keeping the last key set" if self._keys is not None else "no key set"
                _log.warning("JWKS refresh failed for %s: %s (%s)", self._issuer.issuer, exc, kept)
            finally:
                self._generation += 1

    async def _load(self) -> Any:
        issuer = self._issuer
        if self._local is not None:
            try:
                return await self._local()
            except Exception as exc:  # any failure of the local store fails closed the same way
                raise FetchError(f"local key provider failed ({type(exc).__name__})") from None
        if issuer.jwks_path is not None:
            return self._read_file(issuer.jwks_path)
        url = issuer.jwks_uri
        if url is None and self._metadata is not None:
            url = (await self._metadata.get()).jwks_uri
        if url is None:
            raise FetchError("the issuer's metadata has no jwks_uri")
        return await fetch_json(self._http, url)

    def _stat_file(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self._issuer.jwks_path or "")
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _file_changed(self) -> bool:
        signature = self._stat_file()
        return signature is not None and signature != self._file_signature

    def _read_file(self, path: str) -> Any:
        signature = self._stat_file()
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise FetchError(f"JWKS file unreadable ({exc.strerror})") from None
        self._file_signature = signature
        if len(data) > MAX_DOCUMENT_BYTES:
            raise FetchError(f"JWKS file larger than {MAX_DOCUMENT_BYTES} bytes")
        try:
            return msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise FetchError("JWKS file is not JSON") from None
