"""Public JWKs as they arrive in DPoP proofs: strict import, RFC 7638 thumbprints, JWS signature checks.

The hot path of every DPoP-bound request. A client re-uses its key, so imports are cached in a
bounded LRU keyed by the key's required members (a hit costs about a microsecond), and signatures
are checked with ``cryptography`` directly (no JOSE library round trip).

Pitfalls guarded here (INTEROP §0.1, §0.4): the thumbprint is computed from the *imported* key's
required members, so extra members such as ``alg`` or ``kid`` never change it; private members and
symmetric keys are refused; the key type must match the JWS ``alg``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = [
    "MAX_RSA_BITS",
    "MIN_RSA_BITS",
    "PRIVATE_MEMBERS",
    "SUPPORTED_ALGORITHMS",
    "PublicJwk",
    "PublicKey",
    "b64url_decode",
    "b64url_encode",
    "import_public_jwk",
    "jwk_thumbprint",
    "verify_signature",
]

PublicKey = ec.EllipticCurvePublicKey | Ed25519PublicKey | rsa.RSAPublicKey

PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})
"""JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4)."""
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
"""Larger moduli (or huge public exponents) would only make verification an attacker's lever."""
_IMPORT_CACHE_SIZE = 4096

_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_+/=", b"+/!!!")
"""base64url to base64; characters foreign to base64url become ``!``, which strict decoding refuses."""
_CANONICAL_LAST = {2: frozenset(b"AQgw"), 3: frozenset(b"AEIMQUYcgkosw048")}
"""Allowed last characters (in the standard alphabet) when the unused low bits must be zero."""


class _KeyKind(NamedTuple):
    kty: str
    crv: str | None


_EC_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
}
"""Curve name → (curve, coordinate length in bytes)."""

_ALG_KEYS: dict[str, _KeyKind] = {
    "ES256": _KeyKind("EC", "P-256"),
    "ES384": _KeyKind("EC", "P-384"),
    "EdDSA": _KeyKind("OKP", "Ed25519"),
    "Ed25519": _KeyKind("OKP", "Ed25519"),
    "PS256": _KeyKind("RSA", None),
    "RS256": _KeyKind("RSA", None),
}
"""JWS alg → the only key type (and curve) it may be used with."""

SUPPORTED_ALGORITHMS = frozenset(_ALG_KEYS)
"""Asymmetric JWS algorithms this module verifies (never ``none``, never HS*)."""


class PublicJwk(NamedTuple):
    """An imported public key and its RFC 7638 SHA-256 thumbprint (base64url)."""

    key: PublicKey
    kty: str
    crv: str | None
    """Curve for EC and OKP keys; None for RSA."""
    thumbprint: str


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url: only ``[A-Za-z0-9_-]``, no padding, no stray trailing bits.

    Raises:
        ValueError: The text is not canonical unpadded base64url.
    """
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64url")
    data = text.encode("ascii").translate(_TO_STANDARD_ALPHABET)
    remainder = len(data) % 4
    if remainder:
        if remainder == 1 or data[-1] not in _CANONICAL_LAST[remainder]:
            raise ValueError("not canonical base64url")
        data += b"=" * (4 - remainder)
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        raise ValueError("not base64url") from None


def import_public_jwk(jwk: Mapping[str, Any], alg: str) -> PublicJwk:
    """Import the public key of a DPoP proof header for use with ``alg``.

    Raises:
        ValueError: With a short reason: not an object, private members, unsupported ``kty``,
            key type or curve not matching ``alg``, malformed members, RSA below 2048 bits.
    """
    expected = _ALG_KEYS.get(alg)
    if expected is None:
        raise ValueError("unsupported alg")
    kind, first, second = _required_members(jwk)
    if kind != expected:
        raise ValueError("jwk does not match alg")
    public = _import(kind.kty, kind.crv, first, second)
    if isinstance(public.key, rsa.RSAPublicKey) and public.key.key_size < MIN_RSA_BITS:
        raise ValueError("RSA key too small")
    return public


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK (extra members such as ``alg`` ignored).

    Raises:
        ValueError: The JWK is not a supported public key.
    """
    kind, first, second = _required_members(jwk)
    return _import(kind.kty, kind.crv, first, second).thumbprint


def verify_signature(public: PublicJwk, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """Check a JWS signature (RFC 7518 §3) made with ``alg`` by ``public``; False on any mismatch."""
    key = public.key
    try:
        if alg in ("ES256", "ES384"):
            return isinstance(key, ec.EllipticCurvePublicKey) and _verify_ecdsa(
                key, alg, signing_input, signature
            )
        if alg in ("EdDSA", "Ed25519"):
            if not isinstance(key, Ed25519PublicKey):
                return False
            key.verify(signature, signing_input)
            return True
        if alg in ("PS256", "RS256") and isinstance(key, rsa.RSAPublicKey):
            scheme = _PSS if alg == "PS256" else _PKCS1
            key.verify(signature, signing_input, scheme, _SHA256)
            return True
    except InvalidSignature:
        return False
    return False


_SHA256 = hashes.SHA256()
_ECDSA = {"ES256": (ec.ECDSA(hashes.SHA256()), 32), "ES384": (ec.ECDSA(hashes.SHA384()), 48)}
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
"""RFC 7518 §3.5: MGF1 with the same hash, salt as long as the digest."""
_PKCS1 = padding.PKCS1v15()


def _verify_ecdsa(key: ec.EllipticCurvePublicKey, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """JWS ECDSA signatures are raw ``r || s`` of fixed length (RFC 7518 §3.4), not DER."""
    algorithm, size = _ECDSA[alg]
    if len(signature) != 2 * size or key.curve.key_size != size * 8:
        return False
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    key.verify(encode_dss_signature(r, s), signing_input, algorithm)
    return True


def _required_members(jwk: Mapping[str, Any]) -> tuple[_KeyKind, str, str]:
    """The key kind and its required members (RFC 7638 §3.2), refusing anything not a public key."""
    if not isinstance(jwk, Mapping):
        raise ValueError("jwk is not an object")
    if not PRIVATE_MEMBERS.isdisjoint(jwk.keys()):
        raise ValueError("jwk holds private key material")
    kty = jwk.get("kty")
    if kty == "EC":
        crv, first, second = jwk.get("crv"), jwk.get("x"), jwk.get("y")
        if crv not in _EC_CURVES:
            raise ValueError("unsupported EC curve")
    elif kty == "OKP":
        crv, first, second = jwk.get("crv"), jwk.get("x"), ""
        if crv != "Ed25519":
            raise ValueError("unsupported OKP curve")
    elif kty == "RSA":
        crv, first, second = None, jwk.get("n"), jwk.get("e")
    else:
        raise ValueError("unsupported kty")
    if not isinstance(first, str) or not isinstance(second, str):
        raise ValueError("jwk members missing")
    return _KeyKind(kty, crv), first, second


@functools.lru_cache(maxsize=_IMPORT_CACHE_SIZE)
def _import(kty: str, crv: str | None, first: str, second: str) -> PublicJwk:
    """Import one public key (EC: x, y; OKP: x; RSA: n, e) and thumbprint it; cached.

    Members are strict base64url of canonical length, so the thumbprint input below is exactly the
    imported key's required members (RSA integers re-encoded in their minimal form).
    """
    if kty == "EC" and crv is not None:
        curve, size = _EC_CURVES[crv]
        x, y = b64url_decode(first), b64url_decode(second)
        if len(x) != size or len(y) != size:
            raise ValueError("EC coordinates of the wrong length")
        key: PublicKey = ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y)
        members = {"crv": crv, "kty": kty, "x": first, "y": second}
    elif kty == "OKP":
        key = Ed25519PublicKey.from_public_bytes(b64url_decode(first))
        members = {"crv": "Ed25519", "kty": kty, "x": first}
    else:
        n, e = _rsa_integer(first), _rsa_integer(second)
        if n.bit_length() > MAX_RSA_BITS or e.bit_length() > 32:
            raise ValueError("RSA key too large")
        key = rsa.RSAPublicNumbers(e, n).public_key()
        members = {"e": _integer_b64(e), "kty": kty, "n": _integer_b64(n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
    return PublicJwk(key, kty, crv, b64url_encode(hashlib.sha256(canonical).digest()))


def _rsa_integer(text: str) -> int:
    data = b64url_decode(text)
    if not data:
        raise ValueError("RSA member empty")
    return int.from_bytes(data, "big")


def _integer_b64(value: int) -> str:
    """An RSA integer in the minimal big-endian octets RFC 7518 §6.3.1 requires."""
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))
