"""RFC 9068 JWT access tokens (SPEC §5.2): every check, each with a refusal, against a loopback IdP."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from joserfc import jwk

from opp.clock import FrozenClock
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.access_tokens import AccessTokenValidator, TokenInfo
from opp.oauth.plan import DEV_ISSUER_KEYS, OAuthPlan
from tests.support.oauth_idp import (
    NOW,
    RESOURCE,
    LoopbackIdp,
    b64url,
    issuer_plan,
    make_key,
    oauth_plan,
    running_idp,
)

T0 = int(NOW.timestamp())
THUMBPRINT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def uri_plan(idp: LoopbackIdp, **issuer: Any) -> OAuthPlan:
    return oauth_plan(issuer_plan(idp.issuer, jwks_uri=idp.jwks_uri, **issuer))


@asynccontextmanager
async def validating(
    plan: OAuthPlan, clock: FrozenClock, **options: Any
) -> AsyncIterator[AccessTokenValidator]:
    validator = AccessTokenValidator(plan, clock, **options)
    try:
        yield validator
    finally:
        await validator.close()


async def refused(
    validator: AccessTokenValidator, token: str, code: ReasonCode = ReasonCode.TOKEN_INVALID
) -> str:
    with pytest.raises(OppError) as caught:
        await validator.validate(token)
    assert caught.value.code == code
    assert token not in caught.value.message
    return caught.value.message


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head, body = b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(signature)}"


def hs256(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    head, body = b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


# -- valid tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES384", "RS256", "PS256", "EdDSA", "Ed25519"])
async def test_valid_token_of_each_algorithm(alg: str, clock: FrozenClock) -> None:
    with running_idp(alg) as idp:
        async with validating(uri_plan(idp), clock) as validator:
            info = await validator.validate(idp.mint())
    assert info == TokenInfo(
        kind="jwt",
        issuer=idp.issuer,
        subject="user-1",
        client_id="app_1",
        claims=idp.claims(),
        expires_at=float(T0 + 600),
        jkt=None,
        x5t=None,
        auth_time=None,
        acr=None,
    )


async def test_auth_time_and_acr_are_read(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        info = await validator.validate(idp.mint(idp.claims(auth_time=T0 - 5, acr="mfa")))
        assert (info.auth_time, info.acr) == (float(T0 - 5), "mfa")
        info = await validator.validate(idp.mint(idp.claims(auth_time="yesterday", acr=3, jti="other")))
        assert (info.auth_time, info.acr) == (None, None)


# -- header ------------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["application/at+jwt", "AT+JWT", "Application/AT+JWT"])
async def test_typ_forms_accepted(typ: str, idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        info = await validator.validate(idp.mint(header={"typ": typ}))
    assert (info.kind, info.issuer, info.subject, info.claims) == ("jwt", idp.issuer, "user-1", idp.claims())


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "dpop+jwt", "at+jwt+x", 7])
async def test_typ_missing_or_wrong_refused(typ: Any, idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        message = await refused(validator, idp.mint(header={"typ": typ}))
    assert "typ" in message


async def test_alg_none_refused(idp: LoopbackIdp, clock: FrozenClock) -> None:
    token = unsigned({"alg": "none", "typ": "at+jwt", "kid": "k1"}, idp.claims())
    async with validating(uri_plan(idp, algorithms=frozenset({"ES256", "none"})), clock) as validator:
        await refused(validator, token)


@pytest.mark.parametrize("form", ["pem", "der", "jwk"])
async def test_hs256_signed_with_the_public_key_refused(
    form: str, idp: LoopbackIdp, clock: FrozenClock
) -> None:
    """The classic confusion: the public key used as an HMAC secret. Refused even if HS256 is configured."""
    key = idp.keys[0][0]
    assert isinstance(key, jwk.ECKey)
    secret = {
        "pem": key.as_pem(private=False),
        "der": key.as_der(private=False),
        "jwk": json.dumps(key.as_dict(private=False)).encode(),
    }[form]
    token = hs256(secret, {"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, idp.claims())
    async with validating(uri_plan(idp, algorithms=frozenset({"ES256", "HS256"})), clock) as validator:
        await refused(validator, token)
        assert validator.counters.verified == 0


async def test_alg_not_in_issuer_list_refused(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp, algorithms=frozenset({"RS256"})), clock) as validator:
        await refused(validator, idp.mint())
    assert idp.count("/jwks") == 0


@pytest.mark.parametrize(
    "header", [{"alg": ["ES256"]}, {"kid": 1}, {"kid": ["k1"]}, {"crit": ["exp"], "exp": 1}, {"b64": False}]
)
async def test_unusable_header_members_refused(
    header: dict[str, Any], idp: LoopbackIdp, clock: FrozenClock
) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        await refused(validator, idp.mint(header=header, alg="ES256"))
        assert validator.counters.verified == 0


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        "e30.e30.",
        "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.bm90IGpzb24.c2ln",
        "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.WzFd.c2ln",
        "x" * 20_000,
        "opaque-token-without-introspection",
    ],
)
async def test_malformed_tokens_refused(token: str, idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        await refused(validator, token)


# -- issuer and keys ---------------------------------------------------------------------------


async def test_unknown_issuer_refused_without_fetching(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        message = await refused(validator, idp.mint(idp.claims(iss="https://evil.example")))
        await refused(validator, idp.mint(idp.claims(iss=None)))
        await refused(validator, idp.mint(idp.claims(iss=[idp.issuer])))
    assert "issuer" in message
    assert idp.count("/jwks") == 0


async def test_issuer_keys_are_never_merged(clock: FrozenClock) -> None:
    """A token signed by issuer A but claiming issuer B is checked with B's keys only."""
    with running_idp() as first, running_idp() as second:
        plan = oauth_plan(
            issuer_plan(first.issuer, jwks_uri=first.jwks_uri),
            issuer_plan(second.issuer, jwks_uri=second.jwks_uri),
        )
        async with validating(plan, clock) as validator:
            await validator.validate(first.mint())
            await validator.validate(second.mint())
            forged = first.mint(first.claims(iss=second.issuer, jti="forged"))
            await refused(validator, forged)


async def test_bad_signature_refused(idp: LoopbackIdp, clock: FrozenClock) -> None:
    impostor = make_key("ES256", "k1")
    genuine = idp.mint()
    other_payload = idp.mint(idp.claims(scope="admin everything")).split(".")[1]
    head, _, signature = genuine.split(".")
    async with validating(uri_plan(idp), clock) as validator:
        await refused(validator, idp.mint(key=impostor, alg="ES256"))
        await refused(validator, f"{head}.{other_payload}.{signature}")
        await refused(validator, f"{head}.{genuine.split('.')[1]}.{b64url(b'x' * 64)}")
        assert validator.counters.verified == 3
        await validator.validate(genuine)


async def test_key_of_another_type_with_the_token_kid_refused(idp: LoopbackIdp, clock: FrozenClock) -> None:
    """An RS256 header naming an EC key's kid finds no RSA key: refused, nothing verified."""
    rsa = make_key("RS256", "k1")
    async with validating(uri_plan(idp), clock) as validator:
        await refused(validator, idp.mint(key=rsa, alg="RS256"))
        assert validator.counters.verified == 0


async def test_token_without_kid_needs_a_single_candidate_key(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        await validator.validate(idp.mint(header={"kid": None}))
    idp.add_key("ES256", "k2")
    async with validating(uri_plan(idp), clock) as validator:
        message = await refused(validator, idp.mint(idp.claims(jti="2"), header={"kid": None}))
    assert "kid" in message


async def test_dev_issuer_keys_come_from_the_local_provider(clock: FrozenClock) -> None:
    idp = LoopbackIdp()  # never started: keys are only read through the provider
    idp.add_key("ES256", "dev-1")
    calls = []

    async def local_jwks() -> dict[str, Any]:
        calls.append(1)
        return idp.jwks()

    plan = oauth_plan(
        issuer_plan("http://127.0.0.1:1", algorithms=frozenset({"ES256"}), jwks_source=DEV_ISSUER_KEYS)
    )
    async with validating(plan, clock, local_jwks=local_jwks) as validator:
        await validator.validate(idp.mint(idp.claims(iss="http://127.0.0.1:1")))
    assert calls == [1]
    with pytest.raises(ValueError, match="local JWKS provider"):
        AccessTokenValidator(plan, clock)


# -- claims ------------------------------------------------------------------------------------


@pytest.mark.parametrize("aud", [RESOURCE, [RESOURCE], ["https://other.example/", RESOURCE]])
async def test_audience_forms_accepted(aud: Any, idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        info = await validator.validate(idp.mint(idp.claims(aud=aud)))
    assert (info.kind, info.issuer, info.subject) == ("jwt", idp.issuer, "user-1")
    assert info.claims["aud"] == aud


@pytest.mark.parametrize(
    "aud", [None, "https://other.example/", RESOURCE.rstrip("/"), ["https://other.example/"], [], {"a": 1}, 5]
)
async def test_wrong_or_missing_audience_refused(aud: Any, idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        message = await refused(validator, idp.mint(idp.claims(aud=aud)))
    assert "aud" in message


async def test_expired_token(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        await refused(validator, idp.mint(idp.claims(exp=T0 - 31)), ReasonCode.TOKEN_EXPIRED)
        await validator.validate(idp.mint(idp.claims(exp=T0 - 29)))  # within the 30 s leeway


async def test_not_before(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        message = await refused(validator, idp.mint(idp.claims(nbf=T0 + 31)))
        await validator.validate(idp.mint(idp.claims(nbf=T0 + 29)))
    assert "nbf" in message


async def test_issued_in_the_future(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        message = await refused(validator, idp.mint(idp.claims(iat=T0 + 31)))
        await validator.validate(idp.mint(idp.claims(iat=T0 + 29)))
    assert "iat" in message


@pytest.mark.parametrize("claim", ["exp", "iat", "client_id", "sub"])
async def test_required_claim_missing(claim: str, idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        message = await refused(validator, idp.mint(idp.claims(**{claim: None})))
    assert claim in message


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": str(T0 + 600)},
        {"exp": True},
        {"iat": "now"},
        {"nbf": [T0]},
        {"sub": 42},
        {"client_id": ""},
        {"client_id": ["app_1"]},
    ],
)
async def test_malformed_claims_refused(claims: dict[str, Any], idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        await refused(validator, idp.mint(idp.claims(**claims)))


async def test_overflowing_exp_refused(idp: LoopbackIdp, clock: FrozenClock) -> None:
    """``1e400`` is no finite NumericDate (json.dumps cannot write it, so the text is signed)."""
    payload = json.dumps(idp.claims()).replace(f'"exp": {T0 + 600}', '"exp": 1e400')
    async with validating(uri_plan(idp), clock) as validator:
        await refused(validator, idp.mint(payload=payload))


async def test_float_times_accepted(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        info = await validator.validate(idp.mint(idp.claims(exp=T0 + 60.5, iat=T0 - 0.5)))
    assert info.expires_at == T0 + 60.5


# -- confirmation (cnf) ------------------------------------------------------------------------


async def test_cnf_jkt_and_x5t(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        bound = await validator.validate(idp.mint(idp.claims(cnf={"jkt": THUMBPRINT})))
        certificate = await validator.validate(idp.mint(idp.claims(cnf={"x5t#S256": THUMBPRINT}, jti="2")))
    assert (bound.jkt, bound.x5t) == (THUMBPRINT, None)
    assert (certificate.jkt, certificate.x5t) == (None, THUMBPRINT)


@pytest.mark.parametrize(
    "cnf",
    [
        {"jkt": THUMBPRINT, "x5t#S256": THUMBPRINT},
        {"jwk": {"kty": "EC"}},
        {"x5t": THUMBPRINT},
        {},
        {"jkt": 5},
        {"jkt": THUMBPRINT + "="},
        {"jkt": "short"},
        "jkt",
        [THUMBPRINT],
    ],
)
async def test_unsupported_confirmation_refused(cnf: Any, idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        message = await refused(validator, idp.mint(idp.claims(cnf=cnf)))
    assert "confirmation" in message


# -- verified-token cache ----------------------------------------------------------------------


async def test_cache_hit_does_not_verify_again(idp: LoopbackIdp, clock: FrozenClock) -> None:
    token = idp.mint()
    async with validating(uri_plan(idp), clock) as validator:
        first = await validator.validate(token)
        clock.advance(dt.timedelta(seconds=100))
        second = await validator.validate(token)
        assert second is first
        assert (validator.counters.verified, validator.counters.cache_hits) == (1, 1)


async def test_cache_never_serves_past_exp(idp: LoopbackIdp, clock: FrozenClock) -> None:
    token = idp.mint(idp.claims(exp=T0 + 60))
    async with validating(uri_plan(idp), clock) as validator:
        await validator.validate(token)
        clock.advance(dt.timedelta(seconds=61))
        await validator.validate(token)  # past exp: verified again (still within the leeway)
        assert (validator.counters.verified, validator.counters.cache_hits) == (2, 0)
        clock.advance(dt.timedelta(seconds=30))
        await refused(validator, token, ReasonCode.TOKEN_EXPIRED)
        assert validator.counters.cache_hits == 0


async def test_cache_is_bounded(idp: LoopbackIdp, clock: FrozenClock) -> None:
    tokens = [idp.mint(idp.claims(jti=str(index))) for index in range(3)]
    async with validating(uri_plan(idp), clock, cache_max_entries=2) as validator:
        for token in tokens:
            await validator.validate(token)
        await validator.validate(tokens[2])
        await validator.validate(tokens[1])
        assert validator.counters.cache_hits == 2
        await validator.validate(tokens[0])  # evicted (least recently used)
        assert validator.counters.verified == 4


async def test_refused_tokens_are_not_cached(idp: LoopbackIdp, clock: FrozenClock) -> None:
    token = idp.mint(idp.claims(aud="https://other.example/"))
    async with validating(uri_plan(idp), clock) as validator:
        await refused(validator, token)
        await refused(validator, token)
        assert (validator.counters.verified, validator.counters.cache_hits) == (2, 0)


async def test_private_http_client_is_closed(idp: LoopbackIdp, clock: FrozenClock) -> None:
    validator = AccessTokenValidator(uri_plan(idp), clock)
    await validator.validate(idp.mint())
    await validator.close()
    assert validator._http.is_closed
