"""DPoP proof verification (RFC 9449 §4.3; SPEC §5.3; INTEROP §1.1-§1.5): every check, each refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwk as joserfc_jwk
from joserfc import jws
from joserfc.jws import JWSRegistry

from opp.clock import FrozenClock
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.dpop import (
    MAX_PROOF_BYTES,
    DpopVerifier,
    VerifiedProof,
    access_token_hash,
    normalize_htu,
)
from opp.oauth.jwk_keys import b64url_encode, jwk_thumbprint
from opp.oauth.nonces import NonceSource
from opp.oauth.plan import DpopPlan
from opp.oauth.replay import ReplayCache

from .test_jwk_keys import joserfc_key, raw_ecdsa

VECTORS = json.loads((Path(__file__).parents[2] / "fixtures/oauth/rfc9449_vectors.json").read_text())
NOW = 1_800_000_000
HTU = "https://gw.example/api/agent/v1/tools/call"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl"
SECRET = b"0123456789abcdef0123456789abcdef"

JOSERFC_REGISTRY = JWSRegistry(algorithms=["ES256", "ES384", "EdDSA", "Ed25519", "PS256", "RS256"])
JOSERFC_REGISTRY.max_header_length = 4096


# -- proof construction -------------------------------------------------------------------------


def _sign(private: Any, alg: str, signing_input: bytes) -> bytes:
    if alg in ("ES256", "ES384"):
        if alg == "ES256":
            return raw_ecdsa(private, hashes.SHA256(), 32, signing_input)
        return raw_ecdsa(private, hashes.SHA384(), 48, signing_input)
    if alg in ("EdDSA", "Ed25519"):
        return bytes(private.sign(signing_input))
    if alg == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return bytes(private.sign(signing_input, pss, hashes.SHA256()))
    if alg == "RS256":
        return bytes(private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))
    if alg == "HS256":
        return hmac.new(private, signing_input, hashlib.sha256).digest()
    return b""


def compact(header: Any, claims: Any, private: Any, alg: str) -> str:
    """A compact JWS over JSON ``header`` and ``claims`` (any values, for malformed cases)."""
    signing_input = (
        b64url_encode(json.dumps(header).encode()) + "." + b64url_encode(json.dumps(claims).encode())
    )
    return signing_input + "." + b64url_encode(_sign(private, alg, signing_input.encode()))


class Client:
    """A DPoP client holding one key pair; makes proofs with sensible defaults."""

    def __init__(self, private: Any, alg: str) -> None:
        self.private = private
        self.alg = alg
        self.jwk: dict[str, Any] = dict(joserfc_key(private).as_dict(private=False))
        self.jkt = jwk_thumbprint(self.jwk)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(12),
            "htm": "POST",
            "htu": HTU,
            "iat": NOW,
            "ath": access_token_hash(TOKEN),
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def header(self, **overrides: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk}
        header.update(overrides)
        return {k: v for k, v in header.items() if v is not None}

    def proof(self, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """Signed by hand (``cryptography``), so any header or claim can be malformed."""
        return compact(self.header(**(header or {})), self.claims(**claims), self.private, self.alg)

    def joserfc_proof(self, **claims: Any) -> str:
        """Signed by joserfc: an independent implementation of the same format."""
        payload = json.dumps(self.claims(**claims))
        key = joserfc_key(self.private)
        return jws.serialize_compact(
            self.header(), payload, key, algorithms=[self.alg], registry=JOSERFC_REGISTRY
        )


def p256_client() -> Client:
    return Client(ec.generate_private_key(ec.SECP256R1()), "ES256")


@pytest.fixture(scope="module")
def client() -> Client:
    return p256_client()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime.fromtimestamp(NOW, dt.UTC))


@pytest.fixture
def nonces(clock: FrozenClock) -> NonceSource:
    return NonceSource(SECRET, 300.0, clock)


Factory = Callable[..., DpopVerifier]


@pytest.fixture
def make(clock: FrozenClock, nonces: NonceSource) -> Factory:
    def build(**plan: Any) -> DpopVerifier:
        dpop_plan = DpopPlan(**plan)
        return DpopVerifier(dpop_plan, clock, ReplayCache("memory://"), nonces if dpop_plan.nonce else None)

    return build


@pytest.fixture
def verifier(make: Factory) -> DpopVerifier:
    return make()


def check(verifier: DpopVerifier, proof: str | list[str], **kwargs: Any) -> VerifiedProof:
    values = proof if isinstance(proof, list) else [proof]
    options: dict[str, Any] = {"method": "POST", "htu": HTU, "access_token": TOKEN}
    options.update(kwargs)
    return verifier.verify(values, **options)


def refused(verifier: DpopVerifier, proof: str | list[str], message: str, **kwargs: Any) -> OppError:
    with pytest.raises(OppError) as caught:
        check(verifier, proof, **kwargs)
    assert caught.value.code is ReasonCode.DPOP_INVALID
    assert caught.value.status == 401
    assert message in caught.value.message
    return caught.value


# -- RFC 9449 examples --------------------------------------------------------------------------


def at(timestamp: int) -> FrozenClock:
    return FrozenClock(dt.datetime.fromtimestamp(timestamp, dt.UTC))


def test_rfc9449_token_request_proof_verifies() -> None:
    vector = VECTORS["token_request_proof"]
    verifier = DpopVerifier(DpopPlan(), at(vector["iat"]), ReplayCache("memory://"), None)
    result = verifier.verify([vector["proof"]], method="POST", htu=vector["htu"], access_token=None)
    assert result == VerifiedProof(VECTORS["ec_jkt"], vector["jti"], float(vector["iat"]), None)


def test_rfc9449_resource_request_proof_verifies_with_its_ath() -> None:
    vector = VECTORS["resource_request_proof"]
    assert access_token_hash(VECTORS["access_token"]) == VECTORS["ath"]
    verifier = DpopVerifier(DpopPlan(), at(vector["iat"]), ReplayCache("memory://"), None)
    result = verifier.verify(
        [vector["proof"]], method="GET", htu=vector["htu"], access_token=VECTORS["access_token"]
    )
    assert result.jkt == VECTORS["ec_jkt"]
    assert result.jti == vector["jti"]


def test_rfc9449_resource_proof_for_another_token_is_refused() -> None:
    vector = VECTORS["resource_request_proof"]
    verifier = DpopVerifier(DpopPlan(), at(vector["iat"]), ReplayCache("memory://"), None)
    refused(verifier, vector["proof"], "ath", method="GET", htu=vector["htu"], access_token="another")


def test_rfc9449_proof_with_a_flipped_signature_is_refused() -> None:
    vector = VECTORS["token_request_proof"]
    proof = vector["proof"][:-2] + ("A" if vector["proof"][-2] != "A" else "B") + "g"
    verifier = DpopVerifier(DpopPlan(), at(vector["iat"]), ReplayCache("memory://"), None)
    refused(verifier, proof, "signature", method="POST", htu=vector["htu"], access_token=None)


# -- accepted algorithms and clients ------------------------------------------------------------


def test_es256_proof_made_by_joserfc(verifier: DpopVerifier, client: Client) -> None:
    result = check(verifier, client.joserfc_proof())
    assert result.jkt == client.jkt
    assert result.iat == float(NOW)
    assert result.nonce is None


def test_es384_proof(verifier: DpopVerifier) -> None:
    es384 = Client(ec.generate_private_key(ec.SECP384R1()), "ES384")
    assert check(verifier, es384.joserfc_proof()).jkt == es384.jkt


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_ed25519_proof_under_both_alg_names(verifier: DpopVerifier, alg: str) -> None:
    ed = Client(Ed25519PrivateKey.generate(), alg)
    assert check(verifier, ed.joserfc_proof()).jkt == ed.jkt
    assert check(verifier, ed.proof()).jkt == ed.jkt


@pytest.mark.parametrize("alg", ["PS256", "RS256"])
def test_rsa_2048_proofs_with_headers_past_512_bytes(
    verifier: DpopVerifier, rsa_key: rsa.RSAPrivateKey, alg: str
) -> None:
    rsa_client = Client(rsa_key, alg)
    proof = rsa_client.joserfc_proof()
    assert len(proof.split(".")[0]) > 512
    assert check(verifier, proof).jkt == rsa_client.jkt
    assert check(verifier, rsa_client.proof()).jkt == rsa_client.jkt


def test_jwk_with_alg_member_keeps_its_thumbprint(verifier: DpopVerifier, client: Client) -> None:
    # requests-oauth2client puts "alg" in the jwk header (INTEROP §0.1)
    decorated = {**client.jwk, "alg": "ES256", "kid": "mine"}
    result = check(verifier, client.proof(header={"jwk": decorated}))
    assert result.jkt == client.jkt == joserfc_jwk.import_key(client.jwk).thumbprint()


def test_kid_jku_and_x5u_are_ignored(verifier: DpopVerifier, client: Client) -> None:
    pointers = {"kid": "elsewhere", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/c"}
    assert check(verifier, client.proof(header=pointers)).jkt == client.jkt


def test_a_kid_naming_the_signing_key_does_not_rescue_a_foreign_jwk(
    verifier: DpopVerifier, client: Client
) -> None:
    other = p256_client()
    proof = compact(client.header(jwk=other.jwk, kid=client.jkt), client.claims(), client.private, "ES256")
    refused(verifier, proof, "signature")


# -- request-level checks (INTEROP R3/R4) -------------------------------------------------------


def test_two_header_values_are_refused(verifier: DpopVerifier, client: Client) -> None:
    refused(verifier, [client.proof(), client.proof()], "Exactly one DPoP header")


def test_no_header_value_is_refused(verifier: DpopVerifier) -> None:
    refused(verifier, [], "Exactly one DPoP header")


def test_a_comma_joined_value_is_refused(verifier: DpopVerifier, client: Client) -> None:
    refused(verifier, client.proof() + ", " + client.proof(), "Exactly one DPoP proof")


def test_an_oversized_proof_is_refused(verifier: DpopVerifier, client: Client) -> None:
    proof = client.proof(padding="x" * MAX_PROOF_BYTES)
    assert len(proof) > MAX_PROOF_BYTES
    refused(verifier, proof, "too large")


@pytest.mark.parametrize("shape", ["two", "four", "empty_signature", "empty_header", "non_ascii"])
def test_not_a_compact_jws(verifier: DpopVerifier, client: Client, shape: str) -> None:
    header, payload, signature = client.proof().split(".")
    proof = {
        "two": f"{header}.{payload}",
        "four": f"{header}.{payload}.{signature}.{signature}",
        "empty_signature": f"{header}.{payload}.",
        "empty_header": f".{payload}.{signature}",
        "non_ascii": f"{header}.{payload}.{signature}é",
    }[shape]
    refused(verifier, proof, "not a compact JWS")


@pytest.mark.parametrize(
    "encoded_header",
    [
        "!!!",
        b64url_encode(b"not json"),
        b64url_encode(b"[1, 2]"),
        b64url_encode(b'{"typ": NaN}'),
        b64url_encode(json.dumps({"typ": "dpop+jwt"}).encode()) + "=",
    ],
)
def test_a_malformed_header_is_refused(verifier: DpopVerifier, client: Client, encoded_header: str) -> None:
    _, payload, signature = client.proof().split(".")
    refused(verifier, f"{encoded_header}.{payload}.{signature}", "header is malformed")


# -- JOSE header checks (P1-P4) -------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "DPOP+JWT", "application/dpop+jwt", "at+jwt", 1])
def test_wrong_typ_is_refused(verifier: DpopVerifier, client: Client, typ: Any) -> None:
    refused(verifier, client.proof(header={"typ": typ}), "typ")


def test_missing_typ_is_refused(verifier: DpopVerifier, client: Client) -> None:
    proof = compact({"alg": "ES256", "jwk": client.jwk}, client.claims(), client.private, "ES256")
    refused(verifier, proof, "typ")


def test_crit_is_refused(verifier: DpopVerifier, client: Client) -> None:
    refused(verifier, client.proof(header={"crit": ["exp"]}), "critical")


def test_alg_none_is_refused(verifier: DpopVerifier, client: Client) -> None:
    header, payload, _ = client.proof(header={"alg": "none"}).split(".")
    refused(verifier, f"{header}.{payload}.", "not a compact JWS")
    refused(verifier, f"{header}.{payload}.AAAA", "alg is not allowed")


def test_hs256_with_a_symmetric_jwk_is_refused(verifier: DpopVerifier) -> None:
    secret = b"shared secret of thirty-two bytes"
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": b64url_encode(secret)}}
    refused(verifier, compact(header, p256_client().claims(), secret, "HS256"), "alg is not allowed")


def test_alg_outside_the_configured_list_is_refused(make: Factory) -> None:
    only_es256 = make(algorithms=("ES256",))
    es384 = Client(ec.generate_private_key(ec.SECP384R1()), "ES384")
    refused(only_es256, es384.proof(), "alg is not allowed")


def test_a_plan_with_an_unsupported_alg_is_a_configuration_error(clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="HS256"):
        DpopVerifier(DpopPlan(algorithms=("ES256", "HS256")), clock, ReplayCache("memory://"), None)


def test_a_nonce_plan_without_its_nonce_source_fails_closed(clock: FrozenClock, client: Client) -> None:
    # the nonce secret is read from the store after start-up; until then nothing passes
    verifier = DpopVerifier(DpopPlan(nonce=True), clock, ReplayCache("memory://"), None)
    assert verifier.next_nonce() is None
    for nonce in (None, "anything"):
        with pytest.raises(OppError) as caught:
            check(verifier, client.proof(nonce=nonce))
        assert caught.value.code is ReasonCode.UNAVAILABLE


def test_missing_jwk_is_refused(verifier: DpopVerifier, client: Client) -> None:
    proof = compact({"typ": "dpop+jwt", "alg": "ES256"}, client.claims(), client.private, "ES256")
    refused(verifier, proof, "jwk")
    refused(verifier, client.proof(header={"jwk": "not an object"}), "jwk")


def test_alg_and_key_mismatch_is_refused(verifier: DpopVerifier, client: Client) -> None:
    p384 = Client(ec.generate_private_key(ec.SECP384R1()), "ES384")
    refused(verifier, p384.proof(header={"alg": "ES256"}), "jwk")
    refused(verifier, client.proof(header={"alg": "EdDSA"}), "jwk")
    refused(verifier, client.proof(header={"alg": "RS256"}), "jwk")


def test_private_d_in_the_jwk_is_refused(verifier: DpopVerifier, client: Client) -> None:
    private_jwk = dict(joserfc_key(client.private).as_dict(private=True))
    refused(verifier, client.proof(header={"jwk": private_jwk}), "jwk")


def test_kty_oct_is_refused(verifier: DpopVerifier, client: Client) -> None:
    refused(verifier, client.proof(header={"jwk": {"kty": "oct", "k": "c2VjcmV0"}}), "jwk")


def test_rsa_1024_is_refused(verifier: DpopVerifier) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    numbers = small.public_key().public_numbers()
    jwk = {"kty": "RSA", "n": b64url_encode(numbers.n.to_bytes(128, "big")), "e": "AQAB"}
    proof = compact({"typ": "dpop+jwt", "alg": "RS256", "jwk": jwk}, p256_client().claims(), small, "RS256")
    refused(verifier, proof, "jwk")


def test_a_signature_by_another_key_is_refused(verifier: DpopVerifier, client: Client) -> None:
    other = p256_client()
    refused(verifier, compact(client.header(), client.claims(), other.private, "ES256"), "signature")


def test_a_tampered_payload_is_refused(verifier: DpopVerifier, client: Client) -> None:
    header, _, signature = client.proof().split(".")
    forged = b64url_encode(json.dumps(client.claims(htm="GET")).encode())
    refused(verifier, f"{header}.{forged}.{signature}", "signature")


def test_a_der_or_badly_encoded_signature_is_refused(verifier: DpopVerifier, client: Client) -> None:
    header, payload, _ = client.proof().split(".")
    der = client.private.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    refused(verifier, f"{header}.{payload}.{b64url_encode(der)}", "signature")
    refused(verifier, f"{header}.{payload}.a+b/", "signature")


# -- claims (P5-P8) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ("jti", "jti is missing or invalid"),
        ("htm", "htm is missing"),
        ("htu", "htu is missing"),
        ("iat", "iat is missing or invalid"),
    ],
)
def test_a_missing_claim_is_refused(verifier: DpopVerifier, client: Client, claim: str, message: str) -> None:
    refused(verifier, client.proof(**{claim: None}), message)


@pytest.mark.parametrize(
    ("claim", "value", "message"),
    [
        ("iat", str(NOW), "iat is missing or invalid"),
        ("iat", True, "iat is missing or invalid"),
        ("jti", "", "jti is missing or invalid"),
        ("jti", "x" * 257, "jti is missing or invalid"),
        ("jti", 12345, "jti is missing or invalid"),
        ("htm", ["POST"], "htm is missing"),
        ("htu", {"uri": HTU}, "htu is missing"),
    ],
)
def test_a_malformed_claim_is_refused(
    verifier: DpopVerifier, client: Client, claim: str, value: Any, message: str
) -> None:
    refused(verifier, client.proof(**{claim: value}), message)


def test_a_payload_that_is_not_an_object_is_refused(verifier: DpopVerifier, client: Client) -> None:
    proof = compact(client.header(), ["jti", "htm"], client.private, "ES256")
    refused(verifier, proof, "payload is malformed")


def test_a_float_iat_and_a_256_char_jti_are_accepted(verifier: DpopVerifier, client: Client) -> None:
    result = check(verifier, client.proof(iat=NOW - 0.5, jti="j" * 256))
    assert result.iat == NOW - 0.5


@pytest.mark.parametrize("htm", ["GET", "post", "Post", "POST "])
def test_htm_must_equal_the_method_exactly(verifier: DpopVerifier, client: Client, htm: str) -> None:
    refused(verifier, client.proof(htm=htm), "htm mismatch")


@pytest.mark.parametrize(
    "htu",
    [
        "https://other.example/api/agent/v1/tools/call",
        "https://gw.example:8443/api/agent/v1/tools/call",
        "http://gw.example/api/agent/v1/tools/call",
        "https://gw.example/api/agent/v1/tools/cal",
        "https://gw.example/api/agent/v1/tools/call/",
        "https://user@gw.example/api/agent/v1/tools/call",
        "https://gw.example/api/agent/v1/tools%2Fcall",
        "ftp://gw.example/api/agent/v1/tools/call",
        "/api/agent/v1/tools/call",
        "https://gw.example:99999/api/agent/v1/tools/call",
        "https://gw.exa\tmple/api/agent/v1/tools/call",
    ],
)
def test_htu_for_another_target_is_refused(verifier: DpopVerifier, client: Client, htu: str) -> None:
    error = refused(verifier, client.proof(htu=htu), "htu mismatch")
    assert error.message == "DPoP proof htu mismatch"  # nothing of the client's input echoed


@pytest.mark.parametrize(
    "htu",
    [
        HTU + "?page=2",
        HTU + "#fragment",
        HTU + "?a=1#b",
        "https://gw.example:443/api/agent/v1/tools/call",
        "HTTPS://GW.EXAMPLE/api/agent/v1/tools/call",
        "https://gw.example/api/agent/v1/tools/%63all",
        "https://gw.example/api/agent/v1/x/../tools/./call",
    ],
)
def test_htu_equivalent_forms_are_accepted(verifier: DpopVerifier, client: Client, htu: str) -> None:
    assert check(verifier, client.proof(htu=htu)).jkt == client.jkt


def test_expected_htu_is_normalised_too(verifier: DpopVerifier, client: Client) -> None:
    expected = "https://GW.example:443/api/agent/v1/tools/call?ignored=1"
    assert check(verifier, client.proof(), htu=expected).jkt == client.jkt


def test_http_default_port_and_empty_path(verifier: DpopVerifier, client: Client) -> None:
    proof = client.proof(htu="http://gw.example:80", htm="GET")
    assert check(verifier, proof, method="GET", htu="http://gw.example/").jkt == client.jkt


def test_normalize_htu() -> None:
    assert normalize_htu("HTTPS://Example.COM:443") == "https://example.com/"
    assert normalize_htu("https://example.com:8443/a/%7e/%2f") == "https://example.com:8443/a/~/%2F"
    assert normalize_htu("http://[::1]:80/x") == "http://[::1]/x"
    assert normalize_htu("https://example.com/a/b/../../..") == "https://example.com/"
    assert normalize_htu("mailto:someone@example.com") is None


@pytest.mark.parametrize(("offset", "accepted"), [(-60, True), (-61, False), (5, True), (6, False)])
def test_iat_window(verifier: DpopVerifier, client: Client, offset: int, accepted: bool) -> None:
    proof = client.proof(iat=NOW + offset)
    if accepted:
        check(verifier, proof)
    else:
        refused(verifier, proof, "iat is outside")


def test_the_iat_window_follows_the_plan(make: Factory, client: Client) -> None:
    strict = make(max_age_s=10.0, max_future_s=0.0)
    refused(strict, client.proof(iat=NOW - 11), "iat")
    refused(strict, client.proof(iat=NOW + 1), "iat")
    check(strict, client.proof(iat=NOW - 10))


# -- ath (§4.3 check 12) ------------------------------------------------------------------------


def test_ath_missing_is_refused(verifier: DpopVerifier, client: Client) -> None:
    refused(verifier, client.proof(ath=None), "ath is missing")


def test_ath_of_another_token_is_refused(verifier: DpopVerifier, client: Client) -> None:
    refused(verifier, client.proof(ath=access_token_hash("another-token")), "ath does not match")
    refused(verifier, client.proof(ath="ünïcode"), "ath does not match")
    refused(verifier, client.proof(), "ath does not match", access_token="tøken")


def test_no_ath_needed_without_an_access_token(verifier: DpopVerifier, client: Client) -> None:
    verified = check(verifier, client.proof(ath=None, jti="no-ath"), access_token=None)
    assert verified == VerifiedProof(jkt=client.jkt, jti="no-ath", iat=float(NOW), nonce=None)
    refused(verifier, client.proof(ath=None), "ath is missing")  # the same proof with a token is not


# -- nonces (§8, §9) ------------------------------------------------------------------------------


def test_nonce_missing_gets_a_nonce_challenge(make: Factory, client: Client, nonces: NonceSource) -> None:
    with pytest.raises(OppError) as caught:
        check(make(nonce=True), client.proof())
    assert caught.value.code is ReasonCode.DPOP_NONCE_REQUIRED
    assert caught.value.status == 401
    assert caught.value.message == "Resource server requires nonce in DPoP proof"
    assert caught.value.headers == {"DPoP-Nonce": nonces.current()}


def test_stale_nonce_gets_a_nonce_challenge(
    make: Factory, client: Client, nonces: NonceSource, clock: FrozenClock
) -> None:
    verifier = make(nonce=True)
    stale = nonces.current()
    clock.advance(dt.timedelta(seconds=600))
    with pytest.raises(OppError) as caught:
        check(verifier, client.proof(nonce=stale, iat=NOW + 600))
    assert caught.value.code is ReasonCode.DPOP_NONCE_REQUIRED
    assert caught.value.headers == {"DPoP-Nonce": nonces.current()} != {"DPoP-Nonce": stale}


def test_forged_or_foreign_nonce_gets_a_nonce_challenge(
    make: Factory, client: Client, clock: FrozenClock
) -> None:
    foreign = NonceSource(b"another secret of 32 bytes here!", 300.0, clock).current()
    for nonce in (foreign, "x" * 32, 42):
        with pytest.raises(OppError) as caught:
            check(make(nonce=True), client.proof(nonce=nonce))
        assert caught.value.code is ReasonCode.DPOP_NONCE_REQUIRED


def test_a_valid_nonce_is_accepted_and_returned(make: Factory, client: Client, nonces: NonceSource) -> None:
    verifier = make(nonce=True)
    assert verifier.next_nonce() == nonces.current()
    result = check(verifier, client.proof(nonce=nonces.current()))
    assert result.nonce == nonces.current()


def test_next_nonce_is_none_without_nonces(verifier: DpopVerifier, client: Client) -> None:
    assert verifier.next_nonce() is None
    assert check(verifier, client.proof(nonce="client-sent")).nonce == "client-sent"


def test_a_nonce_challenged_proof_is_not_recorded(make: Factory, client: Client, nonces: NonceSource) -> None:
    verifier = make(nonce=True)
    jti = "retried-after-challenge"
    with pytest.raises(OppError) as caught:
        check(verifier, client.proof(jti=jti))
    assert (caught.value.code, caught.value.status) == (ReasonCode.DPOP_NONCE_REQUIRED, 401)
    assert check(verifier, client.proof(jti=jti, nonce=nonces.current())).jti == jti


# -- replay (§11.1) --------------------------------------------------------------------------------


def test_a_replayed_proof_is_refused(verifier: DpopVerifier, client: Client) -> None:
    proof = client.proof()
    check(verifier, proof)
    refused(verifier, proof, "replayed")


def test_the_same_jti_from_another_key_is_not_a_replay(verifier: DpopVerifier, client: Client) -> None:
    check(verifier, client.proof(jti="shared-jti"))
    other = p256_client()
    assert check(verifier, other.proof(jti="shared-jti")).jkt == other.jkt
    refused(verifier, client.proof(jti="shared-jti"), "replayed")


def test_a_refused_proof_does_not_burn_its_jti(verifier: DpopVerifier, client: Client) -> None:
    refused(verifier, client.proof(jti="once", htm="GET"), "htm mismatch")
    assert check(verifier, client.proof(jti="once")).jti == "once"


def test_replay_is_shared_between_verifiers_on_one_storage(
    tmp_path: Path, clock: FrozenClock, client: Client
) -> None:
    uri = f"sqlite:///{tmp_path}/replay.sqlite3"
    first = DpopVerifier(DpopPlan(), clock, ReplayCache(uri), None)
    second = DpopVerifier(DpopPlan(), clock, ReplayCache(uri), None)
    proof = client.proof()
    check(first, proof)
    refused(second, proof, "replayed")


def test_header_checks_are_per_verifier_even_when_cached(make: Factory, client: Client) -> None:
    lenient, strict = make(), make(algorithms=("ES384",))
    check(lenient, client.proof())
    check(lenient, client.proof())  # the same header again, from the cache
    refused(strict, client.proof(), "alg is not allowed")
    refused(strict, client.proof(), "alg is not allowed")  # a refusal is not cached as a pass
