"""Public JWK import, RFC 7638 thumbprints and JWS signature checks (opp.oauth.jwk_keys)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwk as joserfc_jwk

from opp.oauth.jwk_keys import (
    PRIVATE_MEMBERS,
    b64url_decode,
    b64url_encode,
    import_public_jwk,
    jwk_thumbprint,
    verify_signature,
)

VECTORS = json.loads((Path(__file__).parents[2] / "fixtures/oauth/rfc9449_vectors.json").read_text())
MESSAGE = b"header.payload"


def joserfc_key(private: Any) -> Any:
    """A ``cryptography`` private key as a joserfc key (the independent reference implementation)."""
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return joserfc_jwk.ECKey.import_key(private)
    if isinstance(private, rsa.RSAPrivateKey):
        return joserfc_jwk.RSAKey.import_key(private)
    return joserfc_jwk.OKPKey.import_key(private)


def public_jwk(private: Any) -> dict[str, Any]:
    """The public JWK of a ``cryptography`` private key, as joserfc exports it."""
    return dict(joserfc_key(private).as_dict(private=False))


def raw_ecdsa(
    private: ec.EllipticCurvePrivateKey, digest: hashes.HashAlgorithm, size: int, message: bytes = MESSAGE
) -> bytes:
    """A JWS ECDSA signature: fixed-length ``r || s`` (RFC 7518 §3.4)."""
    r, s = decode_dss_signature(private.sign(message, ec.ECDSA(digest)))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


@pytest.fixture(scope="module")
def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def refusal(function: Callable[..., object], *args: Any) -> str:
    """The message of the ``ValueError`` ``function(*args)`` raises (it must raise exactly that)."""
    with pytest.raises(ValueError) as caught:
        function(*args)
    assert type(caught.value) is ValueError
    return str(caught.value)


# -- base64url ----------------------------------------------------------------------------------


def test_b64url_round_trip_without_padding() -> None:
    for data in (b"", b"\x00", b"\xff\xfe", b"any carnal pleas", bytes(range(256))):
        text = b64url_encode(data)
        assert "=" not in text
        assert b64url_decode(text) == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("QQ==", "not base64url"),  # padding
        ("a+b/", "not base64url"),  # the standard alphabet
        ("ab c", "not base64url"),  # whitespace
        ("é", "not base64url"),  # non-ASCII
        ("A", "not canonical base64url"),  # impossible length
        ("QQ\n", "not canonical base64url"),  # a trailing newline
        ("ab=", "not canonical base64url"),  # a stray pad
        ("QR", "not canonical base64url"),  # non-zero trailing bits
    ],
)
def test_b64url_decode_is_strict(text: str, message: str) -> None:
    assert refusal(b64url_decode, text) == message


# -- thumbprints (RFC 7638, RFC 9449 §6.1) -----------------------------------------------------


def test_rfc9449_ec_thumbprint_vector() -> None:
    assert jwk_thumbprint(VECTORS["ec_jwk"]) == VECTORS["ec_jkt"]
    assert import_public_jwk(VECTORS["ec_jwk"], "ES256").thumbprint == VECTORS["ec_jkt"]


def test_rfc7638_rsa_thumbprint_vector_ignores_alg_and_kid() -> None:
    jwk = VECTORS["rsa_jwk"]
    assert {"alg", "kid"} <= jwk.keys()
    assert jwk_thumbprint(jwk) == VECTORS["rsa_jkt"]
    assert jwk_thumbprint({"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}) == VECTORS["rsa_jkt"]


def test_extra_members_never_change_the_thumbprint(p256: ec.EllipticCurvePrivateKey) -> None:
    # requests-oauth2client sends "alg" in the DPoP jwk header (INTEROP §0.1)
    bare = public_jwk(p256)
    decorated = {**bare, "alg": "ES256", "kid": "k1", "use": "sig", "key_ops": ["verify"]}
    assert jwk_thumbprint(decorated) == jwk_thumbprint(bare) == joserfc_jwk.import_key(bare).thumbprint()


def test_rsa_thumbprint_uses_the_minimal_integer_encoding() -> None:
    jwk = VECTORS["rsa_jwk"]
    padded_n = b64url_encode(b"\x00" + b64url_decode(jwk["n"]))
    assert jwk_thumbprint({"kty": "RSA", "n": padded_n, "e": "AQAB"}) == VECTORS["rsa_jkt"]


# -- import: what is accepted --------------------------------------------------------------------


def test_imports_are_cached(p256: ec.EllipticCurvePrivateKey) -> None:
    jwk = public_jwk(p256)
    first = import_public_jwk(jwk, "ES256")
    again = import_public_jwk({**jwk, "kid": "other"}, "ES256")
    assert again is first
    assert first.kty == "EC" and first.crv == "P-256"


@pytest.mark.parametrize(
    ("private", "alg", "kty", "crv"),
    [
        (lambda: ec.generate_private_key(ec.SECP384R1()), "ES384", "EC", "P-384"),
        (Ed25519PrivateKey.generate, "EdDSA", "OKP", "Ed25519"),
        (Ed25519PrivateKey.generate, "Ed25519", "OKP", "Ed25519"),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "PS256", "RSA", None),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", "RSA", None),
    ],
)
def test_accepted_key_types(private: Any, alg: str, kty: str, crv: str | None) -> None:
    jwk = public_jwk(private())
    imported = import_public_jwk(jwk, alg)
    assert (imported.kty, imported.crv) == (kty, crv)
    assert imported.thumbprint == joserfc_jwk.import_key(jwk).thumbprint()


# -- import: what is refused ---------------------------------------------------------------------


@pytest.mark.parametrize("member", sorted(PRIVATE_MEMBERS))
def test_private_members_are_refused(p256: ec.EllipticCurvePrivateKey, member: str) -> None:
    with pytest.raises(ValueError, match="private"):
        import_public_jwk({**public_jwk(p256), member: "AAAA"}, "ES256")


def test_a_full_private_jwk_is_refused(p256: ec.EllipticCurvePrivateKey) -> None:
    private = dict(joserfc_key(p256).as_dict(private=True))
    assert "d" in private
    assert refusal(import_public_jwk, private, "ES256") == "jwk holds private key material"


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "oct", "k": "c2VjcmV0"}, "jwk holds private key material"),  # a symmetric secret
        ({"kty": "oct"}, "unsupported kty"),
        ({"kty": "EC2", "crv": "P-256", "x": "AA", "y": "AA"}, "unsupported kty"),
        ({}, "unsupported kty"),
        ({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}, "unsupported EC curve"),
        ({"kty": "OKP", "crv": "X25519", "x": "AAAA"}, "unsupported OKP curve"),
    ],
)
def test_unsupported_key_types_are_refused(jwk: dict[str, Any], message: str) -> None:
    assert refusal(import_public_jwk, jwk, "ES256") == message
    assert refusal(jwk_thumbprint, jwk) == message


@pytest.mark.parametrize("value", [None, [], "jwk", 3])
def test_a_jwk_that_is_not_an_object_is_refused(value: Any) -> None:
    assert refusal(import_public_jwk, value, "ES256") == "jwk is not an object"


@pytest.mark.parametrize(
    ("private", "alg"),
    [
        (lambda: ec.generate_private_key(ec.SECP384R1()), "ES256"),  # curve of another alg
        (lambda: ec.generate_private_key(ec.SECP256R1()), "ES384"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "RS256"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "EdDSA"),
        (Ed25519PrivateKey.generate, "ES256"),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "ES256"),
    ],
)
def test_key_type_must_match_alg(private: Any, alg: str) -> None:
    with pytest.raises(ValueError, match="match"):
        import_public_jwk(public_jwk(private()), alg)


@pytest.mark.parametrize("alg", ["none", "HS256", "ES512", "RS512", ""])
def test_unsupported_algs_are_refused(p256: ec.EllipticCurvePrivateKey, alg: str) -> None:
    with pytest.raises(ValueError, match="alg"):
        import_public_jwk(public_jwk(p256), alg)


def test_rsa_below_2048_bits_is_refused() -> None:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()
    jwk = {"kty": "RSA", "n": b64url_encode(numbers.n.to_bytes(128, "big")), "e": "AQAB"}
    for alg in ("PS256", "RS256"):
        with pytest.raises(ValueError, match="small"):
            import_public_jwk(jwk, alg)


def test_malformed_members_are_refused(p256: ec.EllipticCurvePrivateKey) -> None:
    jwk = public_jwk(p256)
    x = b64url_decode(jwk["x"])
    bad = [
        ({k: v for k, v in jwk.items() if k != "y"}, "jwk members missing"),
        ({**jwk, "x": 42}, "jwk members missing"),  # not a string
        ({**jwk, "x": b64url_encode(x[1:])}, "EC coordinates of the wrong length"),
        ({**jwk, "x": jwk["x"] + "="}, "not base64url"),  # padded
        ({**jwk, "y": jwk["x"]}, "Invalid EC key."),  # not on the curve (cryptography's check)
    ]
    assert [refusal(import_public_jwk, candidate, "ES256") for candidate, _ in bad] == [m for _, m in bad]


# -- signatures -------------------------------------------------------------------------------------


def test_es256_raw_signature_verifies_and_der_does_not(p256: ec.EllipticCurvePrivateKey) -> None:
    public = import_public_jwk(public_jwk(p256), "ES256")
    raw = raw_ecdsa(p256, hashes.SHA256(), 32)
    assert verify_signature(public, "ES256", MESSAGE, raw)
    assert not verify_signature(public, "ES256", MESSAGE + b"x", raw)
    assert not verify_signature(public, "ES256", MESSAGE, p256.sign(MESSAGE, ec.ECDSA(hashes.SHA256())))
    assert not verify_signature(public, "ES256", MESSAGE, raw[:-1])
    assert not verify_signature(public, "ES384", MESSAGE, raw)


def test_es384_signature() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    public = import_public_jwk(public_jwk(private), "ES384")
    raw = raw_ecdsa(private, hashes.SHA384(), 48)
    assert verify_signature(public, "ES384", MESSAGE, raw)
    assert not verify_signature(public, "ES384", MESSAGE, bytes(96))


def test_ed25519_signature_under_both_names() -> None:
    private = Ed25519PrivateKey.generate()
    signature = private.sign(MESSAGE)
    for alg in ("EdDSA", "Ed25519"):
        public = import_public_jwk(public_jwk(private), alg)
        assert verify_signature(public, alg, MESSAGE, signature)
        assert not verify_signature(public, alg, b"other", signature)
        assert not verify_signature(public, "ES256", MESSAGE, signature)


def test_ps256_uses_a_digest_length_salt(rsa2048: rsa.RSAPrivateKey) -> None:
    public = import_public_jwk(public_jwk(rsa2048), "PS256")
    mgf = padding.MGF1(hashes.SHA256())
    good = rsa2048.sign(MESSAGE, padding.PSS(mgf=mgf, salt_length=32), hashes.SHA256())
    other_salt = rsa2048.sign(MESSAGE, padding.PSS(mgf=mgf, salt_length=64), hashes.SHA256())
    assert verify_signature(public, "PS256", MESSAGE, good)
    assert not verify_signature(public, "PS256", MESSAGE, other_salt)
    assert not verify_signature(public, "RS256", MESSAGE, good)


def test_rs256_signature(rsa2048: rsa.RSAPrivateKey) -> None:
    public = import_public_jwk(public_jwk(rsa2048), "RS256")
    signature = rsa2048.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert verify_signature(public, "RS256", MESSAGE, signature)
    assert not verify_signature(public, "PS256", MESSAGE, signature)
    assert not verify_signature(public, "RS256", MESSAGE, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not verify_signature(public, "HS256", MESSAGE, signature)
