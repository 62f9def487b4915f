"""Issuer keys (SPEC §5.2, INTEROP §3.6): JWKS URI, file, metadata discovery, refresh, cooldown, rotation."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwk
from joserfc.errors import SecurityWarning

from opp.clock import FrozenClock
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.access_tokens import AccessTokenValidator
from opp.oauth.jwks import (
    MAX_DOCUMENT_BYTES,
    STALE_LIMIT_S,
    FetchError,
    IssuerMetadataCache,
    JwksCache,
    basic_auth,
    fetch_json,
    import_jwks,
    metadata_urls,
)
from opp.oauth.plan import DEV_ISSUER_KEYS, OAuthPlan
from tests.support.oauth_idp import LoopbackIdp, Override, issuer_plan, make_key, oauth_plan, running_idp


@asynccontextmanager
async def validating(
    plan: OAuthPlan, clock: FrozenClock, **options: Any
) -> AsyncIterator[AccessTokenValidator]:
    validator = AccessTokenValidator(plan, clock, **options)
    try:
        yield validator
    finally:
        await validator.close()


def uri_plan(idp: LoopbackIdp, **issuer: Any) -> OAuthPlan:
    return oauth_plan(issuer_plan(idp.issuer, jwks_uri=idp.jwks_uri, **issuer))


def seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


async def code_of(validator: AccessTokenValidator, token: str) -> ReasonCode:
    with pytest.raises(OppError) as caught:
        await validator.validate(token)
    return caught.value.code


# -- refresh on unknown kid, cooldown, rotation ------------------------------------------------


async def test_keys_fetched_once_and_cached_for_the_ttl(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp, jwks_cache_s=300), clock) as validator:
        for index in range(5):
            await validator.validate(idp.mint(idp.claims(jti=str(index))))
        assert idp.count("/jwks") == 1
        clock.advance(seconds(300))
        await validator.validate(idp.mint(idp.claims(jti="after-ttl")))
        assert idp.count("/jwks") == 2


async def test_unknown_kid_refetches_once(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp, jwks_refresh_cooldown_s=60), clock) as validator:
        await validator.validate(idp.mint())
        new = idp.add_key("ES256", "k2")
        clock.advance(seconds(60))
        await validator.validate(idp.mint(idp.claims(jti="new"), key=new))
        assert idp.count("/jwks") == 2


async def test_unknown_kid_still_unknown_after_the_refetch(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        await validator.validate(idp.mint())
        clock.advance(seconds(60))
        assert await code_of(validator, idp.mint(key=make_key("ES256", "nobody"))) == ReasonCode.TOKEN_INVALID
        assert idp.count("/jwks") == 2


async def test_kid_flood_fetches_at_most_once_per_cooldown(idp: LoopbackIdp, clock: FrozenClock) -> None:
    strangers = [make_key("ES256", f"flood-{index}") for index in range(30)]
    async with validating(uri_plan(idp, jwks_refresh_cooldown_s=60), clock) as validator:
        await validator.validate(idp.mint())
        for key in strangers:
            assert await code_of(validator, idp.mint(key=key)) == ReasonCode.TOKEN_INVALID
        assert idp.count("/jwks") == 1  # the first fetch was just now: no refresh inside the cooldown
        clock.advance(seconds(60))
        results = await asyncio.gather(
            *(validator.validate(idp.mint(key=key)) for key in strangers), return_exceptions=True
        )
        assert all(isinstance(result, OppError) for result in results)
        assert idp.count("/jwks") == 2
        clock.advance(seconds(30))
        for key in strangers[:5]:
            await code_of(validator, idp.mint(key=key))
        assert idp.count("/jwks") == 2


async def test_rotation_without_restart(idp: LoopbackIdp, clock: FrozenClock) -> None:
    """The IdP publishes k2, signs with it, later retires k1: the gateway follows without a restart."""
    async with validating(uri_plan(idp), clock) as validator:
        old_token = idp.mint(idp.claims(jti="old"))
        await validator.validate(old_token)
        idp.add_key("ES256", "k2", first=True)
        clock.advance(seconds(61))
        await validator.validate(idp.mint(idp.claims(jti="new")))
        idp.remove_key("k1")
        clock.advance(seconds(300))
        old_key_token = idp.mint(idp.claims(jti="old-2"), key=make_key("ES256", "k1"))
        assert await code_of(validator, old_key_token) == ReasonCode.TOKEN_INVALID
        await validator.validate(idp.mint(idp.claims(jti="new-2")))
        assert idp.count("/jwks") == 3


async def test_concurrent_cold_fetch_is_single_flight(idp: LoopbackIdp, clock: FrozenClock) -> None:
    tokens = [idp.mint(idp.claims(jti=str(index))) for index in range(20)]
    async with validating(uri_plan(idp), clock) as validator:
        await asyncio.gather(*(validator.validate(token) for token in tokens))
    assert idp.count("/jwks") == 1


# -- failures: stale-if-error, fail closed -----------------------------------------------------


async def test_idp_down_with_cached_keys_still_validates(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp, jwks_cache_s=300, jwks_refresh_cooldown_s=60), clock) as validator:
        await validator.validate(idp.mint())
        idp.stop()
        clock.advance(seconds(301))
        await validator.validate(idp.mint(idp.claims(jti="while-down-1")))
        clock.advance(seconds(10))
        await validator.validate(idp.mint(idp.claims(jti="while-down-2")))  # no retry inside the cooldown
        clock.advance(seconds(STALE_LIMIT_S))
        assert await code_of(validator, idp.mint(idp.claims(jti="too-late"))) == ReasonCode.UNAVAILABLE


async def test_idp_down_without_cached_keys_is_unavailable(clock: FrozenClock) -> None:
    with running_idp() as idp:
        token = idp.mint()
        plan = uri_plan(idp)
    async with validating(plan, clock) as validator:
        with pytest.raises(OppError) as caught:
            await validator.validate(token)
    assert caught.value.code == ReasonCode.UNAVAILABLE
    assert caught.value.status == 503


@pytest.mark.parametrize(
    "override",
    [
        Override(500, b"{}"),
        Override(404, b"{}"),
        Override(302, b"", {"Location": "/elsewhere"}),
        Override(200, b"not json"),
        Override(200, b'{"keys": "none"}'),
        Override(200, b"[1, 2]"),
        Override(200, b'{"keys": []' + b" " * MAX_DOCUMENT_BYTES + b"}"),
    ],
)
async def test_bad_jwks_answers_fail_closed(override: Override, idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.overrides["/jwks"] = override
    async with validating(uri_plan(idp), clock) as validator:
        assert await code_of(validator, idp.mint()) == ReasonCode.UNAVAILABLE
        del idp.overrides["/jwks"]
        await validator.validate(idp.mint())  # without any key set, the next request tries again
    assert idp.count("/elsewhere") == 0


async def test_bad_answer_after_good_keeps_the_last_good_keys(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(uri_plan(idp), clock) as validator:
        await validator.validate(idp.mint())
        idp.overrides["/jwks"] = Override(200, b'{"no": "keys"}')
        clock.advance(seconds(301))
        await validator.validate(idp.mint(idp.claims(jti="2")))
        assert idp.count("/jwks") == 2


# -- JWKS file ---------------------------------------------------------------------------------


async def test_jwks_file_reread_when_it_changes(tmp_path: Path, clock: FrozenClock) -> None:
    idp = LoopbackIdp()  # never started: the file is the only key source
    idp.add_key("RS256", "file-1")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(idp.jwks()))
    plan = oauth_plan(issuer_plan("https://idp.example", jwks_path=str(path)))
    claims = idp.claims(iss="https://idp.example")
    async with validating(plan, clock) as validator:
        await validator.validate(idp.mint(claims))
        second = idp.add_key("EdDSA", "file-2")
        unknown = idp.mint({**claims, "jti": "2"}, key=second)
        assert await code_of(validator, unknown) == ReasonCode.TOKEN_INVALID
        path.write_text(json.dumps(idp.jwks()))
        await validator.validate(unknown)  # no clock needed: the file changed
        path.write_text("{broken")
        await validator.validate(idp.mint({**claims, "jti": "3"}, key=second))  # last good keys kept


async def test_missing_jwks_file_is_unavailable(tmp_path: Path, clock: FrozenClock) -> None:
    idp = LoopbackIdp()
    idp.add_key("ES256", "k1")
    plan = oauth_plan(issuer_plan("https://idp.example", jwks_path=str(tmp_path / "absent.json")))
    async with validating(plan, clock) as validator:
        token = idp.mint(idp.claims(iss="https://idp.example"))
        assert await code_of(validator, token) == ReasonCode.UNAVAILABLE


# -- metadata discovery ------------------------------------------------------------------------


async def test_keys_discovered_from_rfc8414_metadata(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(oauth_plan(issuer_plan(idp.issuer)), clock) as validator:
        await validator.validate(idp.mint())
        clock.advance(seconds(301))
        await validator.validate(idp.mint(idp.claims(jti="2")))
    assert idp.count("/.well-known/oauth-authorization-server") == 2
    assert idp.count("/.well-known/openid-configuration") == 0
    assert idp.count("/jwks") == 2


async def test_openid_configuration_is_the_fallback(idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.metadata_paths = {"/.well-known/openid-configuration"}
    async with validating(oauth_plan(issuer_plan(idp.issuer)), clock) as validator:
        await validator.validate(idp.mint())
    assert idp.count("/.well-known/oauth-authorization-server") == 1
    assert idp.count("/.well-known/openid-configuration") == 1


async def test_metadata_naming_another_issuer_is_refused(idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.metadata_issuer = "https://impostor.example"
    async with validating(oauth_plan(issuer_plan(idp.issuer)), clock) as validator:
        assert await code_of(validator, idp.mint()) == ReasonCode.UNAVAILABLE
    assert idp.count("/jwks") == 0
    assert idp.count("/.well-known/openid-configuration") == 0  # a mismatch is final, not a miss


async def test_metadata_without_jwks_uri_is_unavailable(idp: LoopbackIdp, clock: FrozenClock) -> None:
    body = json.dumps({"issuer": idp.issuer, "jwks_uri": "file:///etc/passwd"}).encode()
    idp.overrides["/.well-known/oauth-authorization-server"] = Override(200, body)
    async with validating(oauth_plan(issuer_plan(idp.issuer)), clock) as validator:
        assert await code_of(validator, idp.mint()) == ReasonCode.UNAVAILABLE


async def test_metadata_cache_keeps_the_last_copy(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with httpx.AsyncClient() as http:
        metadata = IssuerMetadataCache(idp.issuer, clock, http, ttl_s=60)
        first = await metadata.get()
        idp.stop()
        clock.advance(seconds(61))
        assert await metadata.get() == first
    assert first.jwks_uri == idp.jwks_uri
    assert first.introspection_endpoint == idp.introspection_endpoint


def test_metadata_urls() -> None:
    assert metadata_urls("https://idp.example") == (
        "https://idp.example/.well-known/oauth-authorization-server",
        "https://idp.example/.well-known/openid-configuration",
    )
    assert metadata_urls("https://idp.example/tenants/a/") == (
        "https://idp.example/.well-known/oauth-authorization-server/tenants/a",
        "https://idp.example/.well-known/openid-configuration/tenants/a",
        "https://idp.example/tenants/a/.well-known/openid-configuration",
    )


# -- local provider (development server) -------------------------------------------------------


async def test_local_provider_refreshes_after_a_short_cooldown(clock: FrozenClock) -> None:
    idp = LoopbackIdp()
    idp.add_key("ES256", "dev-1")
    calls: list[int] = []

    async def local_jwks() -> dict[str, Any]:
        calls.append(1)
        return idp.jwks()

    issuer = "http://127.0.0.1:8080"
    plan = oauth_plan(issuer_plan(issuer, jwks_source=DEV_ISSUER_KEYS))
    async with validating(plan, clock, local_jwks=local_jwks) as validator:
        await validator.validate(idp.mint(idp.claims(iss=issuer)))
        rotated = idp.add_key("ES256", "dev-2")
        clock.advance(seconds(1))
        await validator.validate(idp.mint(idp.claims(iss=issuer, jti="2"), key=rotated))
    assert len(calls) == 2


async def test_failing_local_provider_is_unavailable(clock: FrozenClock) -> None:
    async def local_jwks() -> dict[str, Any]:
        raise OSError("store down")

    async with httpx.AsyncClient() as http:
        cache = JwksCache(
            issuer_plan("http://127.0.0.1:8080", jwks_source=DEV_ISSUER_KEYS),
            clock,
            http=http,
            local_jwks=local_jwks,
        )
        with pytest.raises(OppError) as caught:
            await cache.signing_key("dev-1", "ES256")
    assert caught.value.code == ReasonCode.UNAVAILABLE


# -- key import --------------------------------------------------------------------------------


def test_import_keeps_only_public_signature_keys() -> None:
    good = make_key("ES256", "good").as_dict(private=False)
    private_ec = make_key("ES256", "private").as_dict(private=True)
    with pytest.warns(SecurityWarning):
        small_rsa = jwk.RSAKey.generate_key(1024, parameters={"kid": "small"}, private=False)
    members: list[Any] = [
        good,
        private_ec,
        {"kty": "oct", "k": "c2VjcmV0", "kid": "oct"},
        {**make_key("ES256", "enc").as_dict(private=False), "use": "enc"},
        {**make_key("ES256", "ops").as_dict(private=False), "key_ops": ["encrypt"]},
        {**make_key("ES256", "ops-ok").as_dict(private=False), "key_ops": ["verify"]},
        jwk.OKPKey.generate_key("X25519", parameters={"kid": "x"}).as_dict(private=False),
        small_rsa.as_dict(private=False),
        {"kty": "EC", "crv": "P-256", "x": "junk", "y": "junk", "kid": "junk"},
        {"kty": "EC", "crv": "secp256k1", "kid": "k1curve"},
        "not an object",
        {"kid": "no-kty"},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc warns while importing the small key
        keys = import_jwks({"keys": members})
    assert [key.kid for key in keys] == ["good", "ops-ok"]
    assert all(not key.is_private for key in keys)


@pytest.mark.parametrize("document", [None, [], {}, {"keys": {}}, "keys"])
def test_import_refuses_non_jwks(document: Any) -> None:
    with pytest.raises(FetchError, match=r"^not a JWKS \(an object with a 'keys' list\)$"):
        import_jwks(document)


async def test_oct_key_published_under_the_token_kid_does_not_verify(
    idp: LoopbackIdp, clock: FrozenClock
) -> None:
    """Even an IdP that publishes a symmetric key cannot make HS256 acceptable."""
    secret = b"0123456789abcdef0123456789abcdef"
    k = base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
    idp.extra_jwks.append({"kty": "oct", "k": k, "kid": "sym", "alg": "HS256"})
    claims = idp.claims()
    head = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "sym"}).encode())
    body = base64.urlsafe_b64encode(json.dumps(claims).encode())
    signing_input = head.rstrip(b"=") + b"." + body.rstrip(b"=")
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(
        b"="
    )
    token = (signing_input + b"." + signature).decode()
    plan = uri_plan(idp, algorithms=frozenset({"ES256", "HS256"}))
    async with validating(plan, clock) as validator:
        assert await code_of(validator, token) == ReasonCode.TOKEN_INVALID
        assert validator.counters.verified == 0


# -- fetch_json, basic_auth --------------------------------------------------------------------


async def test_fetch_json_refuses_redirects_big_bodies_and_errors(idp: LoopbackIdp) -> None:
    idp.overrides["/redirect"] = Override(307, b"", {"Location": idp.jwks_uri})
    idp.overrides["/big"] = Override(200, b"[" + b"1," * MAX_DOCUMENT_BYTES + b"1]")
    async with httpx.AsyncClient() as http:
        assert "keys" in await fetch_json(http, idp.jwks_uri)
        refusals = {
            "/redirect": "answered HTTP 307",  # redirects are not followed
            "/big": f"sent more than {MAX_DOCUMENT_BYTES} bytes",
            "/missing": "answered HTTP 404",
        }
        for path, message in refusals.items():
            with pytest.raises(FetchError) as caught:
                await fetch_json(http, idp.url + path)
            assert str(caught.value) == f"{idp.url}{path} {message}"
        with pytest.raises(FetchError, match="unreachable"):
            await fetch_json(http, "http://127.0.0.1:1/jwks")
    assert idp.count("/jwks") == 1


def test_basic_auth_form_encodes_both_parts() -> None:
    value = basic_auth("client:1", "p@ss word")
    assert value.startswith("Basic ")
    assert base64.b64decode(value[6:]) == b"client%3A1:p%40ss+word"
