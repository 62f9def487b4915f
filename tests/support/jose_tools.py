"""JOSE and X.509 helpers for OAuth tests: keys, RFC 9068 access tokens, DPoP proofs, certificates.

Everything is built with joserfc and ``cryptography`` directly, independently of the gateway's own
verification code, so a test never checks the gateway against itself. Malformed artefacts (``alg:
none``, HS256, a private ``jwk``, a bad signature, missing claims) are built on purpose here.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import urllib.parse
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from joserfc import jws, jwt
from joserfc.jwk import ECKey, Key, OctKey, RSAKey, import_key

__all__ = [
    "DROP",
    "Certificate",
    "access_token_hash",
    "b64url",
    "client_cert_header",
    "ec_key",
    "jwks_document",
    "make_proof",
    "mint_access_token",
    "nginx_escaped_pem",
    "public_jwk",
    "rsa_key",
    "self_signed_certificate",
    "sign_compact",
    "thumbprint",
    "unsigned_compact",
    "write_jwks",
]

DROP: Any = object()
"""A claim or header value meaning "leave this member out"."""

_ALL_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "HS256"]


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ec_key(kid: str | None = None, curve: str = "P-256") -> ECKey:
    """A fresh private EC key (``kid`` set when given)."""
    return ECKey.generate_key(curve, parameters={"kid": kid} if kid else None)


def rsa_key(kid: str | None = None, bits: int = 2048) -> RSAKey:
    """A fresh private RSA key (``kid`` set when given)."""
    return RSAKey.generate_key(bits, parameters={"kid": kid} if kid else None)


def public_jwk(key: Key) -> dict[str, Any]:
    """The public JWK of ``key`` (with its ``kid``, if any)."""
    return dict(key.as_dict(private=False))


def thumbprint(key: Key) -> str:
    """RFC 7638 SHA-256 thumbprint of the public key (``cnf.jkt``), from the imported key."""
    return str(import_key(public_jwk(key)).thumbprint())


def jwks_document(*keys: Key) -> dict[str, Any]:
    """``{"keys": [...]}`` with the public halves of ``keys``."""
    return {"keys": [public_jwk(key) for key in keys]}


def write_jwks(path: Path, *keys: Key) -> Path:
    """Write the public JWKS of ``keys`` to ``path``."""
    path.write_text(json.dumps(jwks_document(*keys)))
    return path


def access_token_hash(token: str) -> str:
    """RFC 9449 ``ath``: base64url(SHA-256(ASCII(token)))."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def _without_dropped(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not DROP}


def sign_compact(header: Mapping[str, Any], payload: Mapping[str, Any], key: Key) -> str:
    """A compact JWS of ``payload`` signed with ``key`` under ``header`` (its ``alg`` is used as is)."""
    protected = _without_dropped(header)
    body = json.dumps(_without_dropped(payload)).encode()
    return jws.serialize_compact(protected, body, key, algorithms=_ALL_ALGORITHMS)


def unsigned_compact(header: Mapping[str, Any], payload: Mapping[str, Any], signature: bytes = b"x") -> str:
    """A compact JWS with an arbitrary header and a made-up signature (``alg: none`` and friends)."""
    encoded = [b64url(json.dumps(_without_dropped(part)).encode()) for part in (header, payload)]
    return f"{encoded[0]}.{encoded[1]}.{b64url(signature)}"


def mint_access_token(
    key: Key,
    claims: Mapping[str, Any],
    *,
    alg: str = "ES256",
    typ: Any = "at+jwt",
    kid: Any = None,
) -> str:
    """An RFC 9068 access token: header ``{typ, alg, kid}`` (``kid`` defaults to the key's own)."""
    header = {"alg": alg, "typ": typ, "kid": key.kid if kid is None else kid}
    if header["kid"] is None:
        header["kid"] = DROP
    return jwt.encode(_without_dropped(header), _without_dropped(claims), key, algorithms=[alg])


def make_proof(
    key: Key,
    *,
    htm: str,
    htu: str,
    iat: float,
    access_token: str | None = None,
    alg: str | None = None,
    jwk: Any = None,
    signing_key: Key | OctKey | None = None,
    header: Mapping[str, Any] | None = None,
    claims: Mapping[str, Any] | None = None,
) -> str:
    """A DPoP proof (RFC 9449 §4.2) by ``key``, with ``ath`` when ``access_token`` is given.

    Args:
        key: The holder's key; its public JWK goes into the header (unless ``jwk`` replaces it).
        alg: The header ``alg`` (default ES256 for EC keys, RS256 for RSA keys).
        jwk: Replaces the header ``jwk`` (e.g. a private JWK, or another key's).
        signing_key: Signs instead of ``key`` (a bad signature, or an HS256 proof).
        header: Extra or replacing header members (``DROP`` removes one).
        claims: Extra or replacing claims (``DROP`` removes one).
    """
    default_alg = "RS256" if isinstance(key, RSAKey) else "ES256"
    protected: dict[str, Any] = {
        "typ": "dpop+jwt",
        "alg": alg or default_alg,
        "jwk": public_jwk(key) if jwk is None else jwk,
        **(header or {}),
    }
    payload: dict[str, Any] = {"jti": uuid.uuid4().hex, "htm": htm, "htu": htu, "iat": int(iat)}
    if access_token is not None:
        payload["ath"] = access_token_hash(access_token)
    payload.update(claims or {})
    return sign_compact(protected, payload, signing_key or key)


class Certificate(NamedTuple):
    """A self-signed client certificate: DER, PEM and its RFC 8705 ``x5t#S256``."""

    der: bytes
    pem: str
    x5t: str


def self_signed_certificate(common_name: str, now: dt.datetime) -> Certificate:
    """A self-signed EC P-256 client certificate valid for a day around ``now``."""
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    der = certificate.public_bytes(Encoding.DER)
    pem = certificate.public_bytes(Encoding.PEM).decode("ascii")
    return Certificate(der, pem, b64url(hashlib.sha256(der).digest()))


def client_cert_header(certificate: Certificate) -> str:
    """RFC 9440 ``Client-Cert`` value: an sf-binary item ``:<base64 DER>:``."""
    return ":" + base64.b64encode(certificate.der).decode("ascii") + ":"


def nginx_escaped_pem(certificate: Certificate) -> str:
    """nginx ``$ssl_client_escaped_cert``: the PEM, URL-encoded."""
    return urllib.parse.quote(certificate.pem, safe="")
