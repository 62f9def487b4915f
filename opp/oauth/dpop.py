"""DPoP proof verification for the resource server and the token endpoint (RFC 9449 §4.3; SPEC §5.3).

:class:`DpopVerifier` runs every check of INTEROP §1.1-§1.5 in a fixed order: request-level checks
before any cryptography, then the JOSE header, the signature (with the embedded ``jwk`` only), the
claims, ``htm``/``htu``/``iat``, ``ath``, the server nonce, and last the ``jti`` replay cache, so a
proof is recorded only once everything else has passed (a nonce-challenged proof is not recorded).

Every refusal is ``agent.dpop_invalid`` with a fixed description (nothing of the client's input is
echoed), except a missing or stale nonce: ``agent.dpop_nonce_required`` with a ``DPoP-Nonce``
header. Binding the proof to a token (``cnf.jkt``) is the caller's job with :attr:`VerifiedProof.jkt`.

The proof is parsed by hand (msgspec JSON, strict base64url) and verified with ``cryptography``
directly: no JOSE library header-size cap (RSA proof headers exceed 512 bytes), no fallback
algorithm list.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import re
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import msgspec

from opp.clock import Clock
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.jwk_keys import (
    SUPPORTED_ALGORITHMS,
    PublicJwk,
    b64url_decode,
    b64url_encode,
    import_public_jwk,
    verify_signature,
)
from opp.oauth.nonces import NonceSource
from opp.oauth.plan import DpopPlan
from opp.oauth.replay import ReplayCache

__all__ = [
    "DPOP_TYP",
    "MAX_JTI_CHARS",
    "MAX_PROOF_BYTES",
    "NONCE_REQUIRED_MESSAGE",
    "DpopVerifier",
    "VerifiedProof",
    "access_token_hash",
    "normalize_htu",
]

DPOP_TYP = "dpop+jwt"
MAX_PROOF_BYTES = 8192
"""Size cap on the ``DPoP`` header value (§11.1 memory exhaustion)."""
MAX_JTI_CHARS = 256
NONCE_REQUIRED_MESSAGE = "Resource server requires nonce in DPoP proof"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
"""``urlsplit`` silently drops some of these; a URI holding any is refused instead."""
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HTU_CACHE_SIZE = 1024
_HEADER_CACHE_SIZE = 4096
_decode_json = msgspec.json.Decoder().decode


class VerifiedProof(NamedTuple):
    """What a valid proof establishes."""

    jkt: str
    """RFC 7638 SHA-256 thumbprint of the proof key (compare with ``cnf.jkt`` in constant time)."""
    jti: str
    iat: float
    nonce: str | None


class DpopVerifier:
    """Verifies ``DPoP`` request headers against one compiled :class:`DpopPlan`."""

    def __init__(self, plan: DpopPlan, clock: Clock, replay: ReplayCache, nonces: NonceSource | None) -> None:
        """Args:
        plan: The compiled ``oauth.dpop`` settings.
        clock: Injected time (``iat`` window).
        replay: The shared ``jti`` cache.
        nonces: The server nonces when ``plan.nonce`` is set. Without one (its secret still being
            read from the store), proofs are refused with 503 ``agent.unavailable``: fail closed.

        Raises:
            ValueError: An algorithm in the plan is not a supported asymmetric one.
        """
        unsupported = set(plan.algorithms) - SUPPORTED_ALGORITHMS
        if unsupported:
            raise ValueError(f"unsupported DPoP algorithms: {sorted(unsupported)}")
        self.plan = plan
        self._algorithms = frozenset(plan.algorithms)
        self._clock = clock
        self._replay = replay
        self._nonces = nonces if plan.nonce else None
        self._replay_ttl_s = plan.max_age_s + plan.max_future_s
        self._header = functools.lru_cache(maxsize=_HEADER_CACHE_SIZE)(self._check_header)
        """A client sends the same header (typ, alg, jwk) with every proof: checked once."""

    def next_nonce(self) -> str | None:
        """The nonce to send in ``DPoP-Nonce`` when the plan requires nonces, else None."""
        return self._nonces.current() if self._nonces is not None else None

    def verify(self, values: list[str], *, method: str, htu: str, access_token: str | None) -> VerifiedProof:
        """Check the ``DPoP`` header values of one request.

        Args:
            values: Every ``DPoP`` header value received (exactly one is allowed).
            method: The request method, compared with ``htm`` exactly.
            htu: The expected target URI: the configured public URL plus the raw request path.
            access_token: The token after ``DPoP`` in ``Authorization`` (``ath`` required), or
                None at the token endpoint.

        Raises:
            OppError: ``agent.dpop_invalid`` for any failed check; ``agent.dpop_nonce_required``
                (with a ``DPoP-Nonce`` header) when a nonce is required and missing or stale;
                ``agent.unavailable`` when the replay cache cannot be reached.
        """
        proof = _single_value(values)
        encoded_header, encoded_payload, encoded_signature = _split(proof)
        alg, public = self._header(encoded_header)
        try:
            signature = b64url_decode(encoded_signature)
        except ValueError:
            raise _invalid("DPoP proof signature is invalid") from None
        signing_input = proof[: len(encoded_header) + 1 + len(encoded_payload)].encode("ascii")
        if not verify_signature(public, alg, signing_input, signature):
            raise _invalid("DPoP proof signature is invalid")

        claims = _decode_object(encoded_payload, "DPoP proof payload is malformed")
        jti, iat = _required_claims(claims)
        if claims["htm"] != method:
            raise _invalid("DPoP proof htm mismatch")
        if not _same_htu(claims["htu"], htu):
            raise _invalid("DPoP proof htu mismatch")
        now = self._clock.now().timestamp()
        if not now - self.plan.max_age_s <= iat <= now + self.plan.max_future_s:
            raise _invalid("DPoP proof iat is outside the acceptable window")
        if access_token is not None:
            _check_ath(claims.get("ath"), access_token)
        nonce = claims.get("nonce")
        nonce = nonce if isinstance(nonce, str) else None
        if self.plan.nonce:
            self._check_nonce(nonce)
        if not self._replay.first_use(f"{public.thumbprint}:{jti}", self._replay_ttl_s):
            raise _invalid("DPoP proof replayed")
        return VerifiedProof(public.thumbprint, jti, float(iat), nonce)

    def _check_nonce(self, nonce: str | None) -> None:
        """A current server nonce (§9); once nonces are on, a proof without one is refused (§11.3)."""
        if self._nonces is None:
            raise OppError(ReasonCode.UNAVAILABLE, "DPoP nonces are not available yet.")
        if nonce is None or not self._nonces.valid(nonce):
            raise OppError(
                ReasonCode.DPOP_NONCE_REQUIRED,
                NONCE_REQUIRED_MESSAGE,
                headers={"DPoP-Nonce": self._nonces.current()},
            )

    def _check_header(self, encoded_header: str) -> tuple[str, PublicJwk]:
        """The JOSE header checks (P1-P3): ``alg`` and the key to verify the signature with."""
        header = _decode_object(encoded_header, "DPoP proof header is malformed")
        if header.get("typ") != DPOP_TYP:
            raise _invalid("DPoP proof typ must be dpop+jwt")
        if "crit" in header:
            raise _invalid("DPoP proof uses unsupported critical header parameters")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise _invalid("DPoP proof alg is not allowed")
        return alg, _proof_key(header.get("jwk"), alg)


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url(SHA-256(ASCII(token))) (RFC 9449 §4.2).

    Raises:
        UnicodeEncodeError: The token is not ASCII (no valid token is).
    """
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


@functools.lru_cache(maxsize=_HTU_CACHE_SIZE)
def normalize_htu(uri: str) -> str | None:
    """``uri`` without query and fragment, normalised per RFC 3986 §6.2.2-§6.2.3; None if unusable.

    Lowercase scheme and host, default port dropped, percent-encodings uppercased (and decoded for
    unreserved characters), dot segments removed, empty path as ``/``, a trailing slash kept. Only
    ``http``/``https`` URIs with a host and no userinfo are usable.
    """
    if _CONTROL_OR_SPACE.search(uri):
        return None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if ":" in host:
        host = f"[{host}]"
    authority = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{authority}{_normalize_path(parts.path)}"


def _invalid(message: str) -> OppError:
    return OppError(ReasonCode.DPOP_INVALID, message)


def _single_value(values: list[str]) -> str:
    """Exactly one header value holding exactly one proof (§4.3 check 1, INTEROP R3/R4)."""
    if len(values) != 1:
        raise _invalid("Exactly one DPoP header is required")
    value = values[0]
    if "," in value:
        raise _invalid("Exactly one DPoP proof is required")
    if len(value) > MAX_PROOF_BYTES:
        raise _invalid("DPoP proof is too large")
    if not value.isascii():
        raise _invalid("DPoP proof is not a compact JWS")
    return value


def _split(proof: str) -> tuple[str, str, str]:
    parts = proof.split(".")
    if len(parts) != 3 or not all(parts):
        raise _invalid("DPoP proof is not a compact JWS")
    return parts[0], parts[1], parts[2]


def _decode_object(encoded: str, message: str) -> dict[str, Any]:
    try:
        value = _decode_json(b64url_decode(encoded))
    except (ValueError, msgspec.DecodeError):
        raise _invalid(message) from None
    if not isinstance(value, dict):
        raise _invalid(message)
    return value


def _proof_key(jwk: Any, alg: str) -> PublicJwk:
    """The ``jwk`` header as a public key usable with ``alg`` (the only key the proof may use)."""
    if isinstance(jwk, dict):
        try:
            return import_public_jwk(jwk, alg)
        except ValueError:
            pass
    raise _invalid("DPoP proof jwk is not an acceptable public key for its alg")


def _required_claims(claims: dict[str, Any]) -> tuple[str, int | float]:
    """``jti`` and ``iat``, after checking that ``jti``, ``htm``, ``htu`` and ``iat`` are well formed."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
        raise _invalid("DPoP proof jti is missing or invalid")
    if not isinstance(claims.get("htm"), str):
        raise _invalid("DPoP proof htm is missing")
    if not isinstance(claims.get("htu"), str):
        raise _invalid("DPoP proof htu is missing")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise _invalid("DPoP proof iat is missing or invalid")
    return jti, iat


def _same_htu(claimed: str, expected: str) -> bool:
    """Both sides without query and fragment, normalised; an unusable URI never matches."""
    mine = normalize_htu(_without_query(expected))
    return mine is not None and normalize_htu(_without_query(claimed)) == mine


def _without_query(uri: str) -> str:
    """Cut query and fragment before the cached normalisation (clients put them in ``htu``)."""
    for separator in ("#", "?"):
        cut = uri.find(separator)
        if cut >= 0:
            uri = uri[:cut]
    return uri


def _check_ath(ath: Any, access_token: str) -> None:
    if not isinstance(ath, str):
        raise _invalid("DPoP proof ath is missing")
    try:
        expected = access_token_hash(access_token)
    except UnicodeEncodeError:
        raise _invalid("DPoP proof ath does not match the access token") from None
    if not hmac.compare_digest(ath.encode("utf-8", "surrogatepass"), expected.encode("ascii")):
        raise _invalid("DPoP proof ath does not match the access token")


def _normalize_path(path: str) -> str:
    if "%" in path:
        path = _PERCENT.sub(_normalize_percent, path)
    if "." in path:
        path = _remove_dot_segments(path)
    return path or "/"


def _normalize_percent(match: re.Match[str]) -> str:
    character = chr(int(match.group()[1:], 16))
    return character if character in _UNRESERVED else match.group().upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)
