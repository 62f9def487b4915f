"""RFC 7662 introspection of opaque access tokens (SPEC §5.2) against a loopback IdP."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from opp.clock import FrozenClock
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.access_tokens import AccessTokenValidator
from opp.oauth.introspection import Introspector
from opp.oauth.plan import IntrospectionPlan, OAuthPlan
from tests.support.oauth_idp import (
    CLIENT_ID,
    NOW,
    RESOURCE,
    LoopbackIdp,
    Override,
    issuer_plan,
    oauth_plan,
    running_idp,
)

T0 = int(NOW.timestamp())
TOKEN = "opaque-7Yx2Qm"
THUMBPRINT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def introspecting(idp: LoopbackIdp, *, discovered: bool = False, **options: Any) -> OAuthPlan:
    endpoint = None if discovered else idp.introspection_endpoint
    issuer = issuer_plan(
        idp.issuer, jwks_uri=idp.jwks_uri, introspect=True, introspection_endpoint=endpoint, **options
    )
    return oauth_plan(issuer, leeway_s=0.0)


@asynccontextmanager
async def validating(plan: OAuthPlan, clock: FrozenClock) -> AsyncIterator[AccessTokenValidator]:
    validator = AccessTokenValidator(plan, clock)
    try:
        yield validator
    finally:
        await validator.close()


def answer(idp: LoopbackIdp, **members: Any) -> dict[str, Any]:
    document = {
        "active": True,
        "iss": idp.issuer,
        "aud": [RESOURCE],
        "sub": "user-1",
        "client_id": "app_1",
        "scope": "ledger.read",
        "exp": T0 + 600,
        "iat": T0,
    }
    document.update(members)
    return {name: value for name, value in document.items() if value is not None}


async def refused(validator: AccessTokenValidator, code: ReasonCode = ReasonCode.TOKEN_INVALID) -> str:
    with pytest.raises(OppError) as caught:
        await validator.validate(TOKEN)
    assert caught.value.code == code
    assert TOKEN not in caught.value.message
    return caught.value.message


def later(clock: FrozenClock, seconds: float) -> None:
    clock.advance(dt.timedelta(seconds=seconds))


# -- answers -----------------------------------------------------------------------------------


async def test_active_token(idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.introspection[TOKEN] = answer(idp)
    async with validating(introspecting(idp), clock) as validator:
        info = await validator.validate(TOKEN)
    assert (info.kind, info.issuer, info.subject, info.client_id) == (
        "introspection",
        idp.issuer,
        "user-1",
        "app_1",
    )
    assert info.expires_at == T0 + 600
    assert info.claims["scope"] == "ledger.read"
    assert idp.introspection_forms == [{"token": [TOKEN], "token_type_hint": ["access_token"]}]


async def test_minimal_active_answer(idp: LoopbackIdp, clock: FrozenClock) -> None:
    """``iss``, ``aud``, ``sub`` and ``client_id`` are optional in RFC 7662; ``exp`` is required here."""
    idp.introspection[TOKEN] = {"active": True, "exp": T0 + 60}
    async with validating(introspecting(idp), clock) as validator:
        info = await validator.validate(TOKEN)
    assert (info.issuer, info.subject, info.client_id) == (idp.issuer, None, None)


@pytest.mark.parametrize("active", [False, "true", 1, None])
async def test_inactive_is_refused_and_not_cached(active: Any, idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.introspection[TOKEN] = answer(idp, active=active)
    async with validating(introspecting(idp), clock) as validator:
        assert "not active" in await refused(validator)
        await refused(validator)
    assert idp.count("/introspect") == 2


async def test_unknown_token_is_inactive(idp: LoopbackIdp, clock: FrozenClock) -> None:
    async with validating(introspecting(idp), clock) as validator:
        await refused(validator)


@pytest.mark.parametrize(
    ("members", "text"),
    [
        ({"aud": "https://other.example/"}, "aud"),
        ({"aud": ["https://other.example/"]}, "aud"),
        ({"iss": "https://other.example"}, "issuer"),
        ({"exp": None}, "exp"),
        ({"exp": "soon"}, "exp"),
        ({"nbf": T0 + 60}, "nbf"),
        ({"sub": 5}, "sub"),
        ({"cnf": {"jkt": THUMBPRINT, "x5t#S256": THUMBPRINT}}, "confirmation"),
    ],
)
async def test_active_answer_with_unacceptable_claims(
    members: dict[str, Any], text: str, idp: LoopbackIdp, clock: FrozenClock
) -> None:
    idp.introspection[TOKEN] = answer(idp, **members)
    async with validating(introspecting(idp), clock) as validator:
        assert text in await refused(validator)


async def test_active_but_expired(idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.introspection[TOKEN] = answer(idp, exp=T0 - 1)
    async with validating(introspecting(idp), clock) as validator:
        await refused(validator, ReasonCode.TOKEN_EXPIRED)


async def test_dpop_bound_answer(idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.introspection[TOKEN] = answer(idp, cnf={"jkt": THUMBPRINT}, token_type="DPoP")
    async with validating(introspecting(idp), clock) as validator:
        info = await validator.validate(TOKEN)
    assert (info.jkt, info.x5t, info.claims["token_type"]) == (THUMBPRINT, None, "DPoP")


async def test_certificate_bound_answer(idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.introspection[TOKEN] = answer(idp, cnf={"x5t#S256": THUMBPRINT}, token_type="Bearer")
    async with validating(introspecting(idp), clock) as validator:
        info = await validator.validate(TOKEN)
    assert (info.jkt, info.x5t) == (None, THUMBPRINT)


@pytest.mark.parametrize(
    "members",
    [
        {"cnf": {"jkt": THUMBPRINT}, "token_type": "Bearer"},
        {"cnf": {"jkt": THUMBPRINT}, "token_type": 5},
        {"token_type": "DPoP"},
        {"cnf": {"x5t#S256": THUMBPRINT}, "token_type": "dpop"},
    ],
)
async def test_token_type_must_match_the_binding(
    members: dict[str, Any], idp: LoopbackIdp, clock: FrozenClock
) -> None:
    """RFC 9449 §6.2: a DPoP-bound token introspects as ``token_type: DPoP``, and only it does."""
    idp.introspection[TOKEN] = answer(idp, **members)
    async with validating(introspecting(idp), clock) as validator:
        assert "binding" in await refused(validator)


# -- failures fail closed ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "override",
    [Override(500, b"{}"), Override(200, b"not json"), Override(200, b"[true]"), Override(302, b"")],
)
async def test_bad_answers_are_unavailable(override: Override, idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.overrides["/introspect"] = override
    async with validating(introspecting(idp), clock) as validator:
        await refused(validator, ReasonCode.UNAVAILABLE)


async def test_network_error_is_unavailable(clock: FrozenClock) -> None:
    with running_idp() as idp:
        plan = introspecting(idp)
    async with validating(plan, clock) as validator:
        with pytest.raises(OppError) as caught:
            await validator.validate(TOKEN)
    assert (caught.value.code, caught.value.status) == (ReasonCode.UNAVAILABLE, 503)


async def test_wrong_client_secret_is_unavailable(idp: LoopbackIdp, clock: FrozenClock) -> None:
    settings = IntrospectionPlan(idp.introspection_endpoint, CLIENT_ID, "wrong", 60.0)
    async with httpx.AsyncClient() as http:
        with pytest.raises(OppError) as caught:
            await Introspector(idp.issuer, settings, http).introspect(TOKEN)
    assert caught.value.code == ReasonCode.UNAVAILABLE


async def test_introspector_needs_an_endpoint_or_discovery() -> None:
    settings = IntrospectionPlan(None, CLIENT_ID, "secret", 60.0)
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="endpoint"):
            Introspector("https://idp.example", settings, http)


# -- endpoint discovery ------------------------------------------------------------------------


async def test_endpoint_discovered_from_metadata(idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.introspection[TOKEN] = answer(idp, exp=T0 + 30)
    async with validating(introspecting(idp, discovered=True), clock) as validator:
        await validator.validate(TOKEN)
        later(clock, 31)
        await refused(validator, ReasonCode.TOKEN_EXPIRED)
    assert idp.count("/.well-known/oauth-authorization-server") == 1
    assert idp.count("/introspect") == 2


async def test_metadata_without_introspection_endpoint_is_unavailable(
    idp: LoopbackIdp, clock: FrozenClock
) -> None:
    idp.overrides["/.well-known/oauth-authorization-server"] = Override(
        200, f'{{"issuer": "{idp.issuer}"}}'.encode()
    )
    async with validating(introspecting(idp, discovered=True), clock) as validator:
        await refused(validator, ReasonCode.UNAVAILABLE)


# -- cache -------------------------------------------------------------------------------------


async def test_cache_is_bounded_by_exp(idp: LoopbackIdp, clock: FrozenClock) -> None:
    idp.introspection[TOKEN] = answer(idp, exp=T0 + 30)
    async with validating(introspecting(idp, cache_max_s=60), clock) as validator:
        await validator.validate(TOKEN)
        later(clock, 29)
        await validator.validate(TOKEN)
        assert idp.count("/introspect") == 1
        later(clock, 2)
        await refused(validator, ReasonCode.TOKEN_EXPIRED)
        assert idp.count("/introspect") == 2


async def test_cache_is_bounded_by_cache_max(idp: LoopbackIdp, clock: FrozenClock) -> None:
    """A revocation at the IdP is seen after at most ``cache_max_s``."""
    idp.introspection[TOKEN] = answer(idp, exp=T0 + 600)
    async with validating(introspecting(idp, cache_max_s=60), clock) as validator:
        await validator.validate(TOKEN)
        later(clock, 59)
        await validator.validate(TOKEN)
        assert validator.counters.cache_hits == 1
        idp.introspection[TOKEN] = answer(idp, active=False)
        later(clock, 1)
        await refused(validator)
        assert idp.count("/introspect") == 2


async def test_jwt_shaped_tokens_are_never_introspected(idp: LoopbackIdp, clock: FrozenClock) -> None:
    token = idp.mint(idp.claims(iss="https://unknown.example"))
    async with validating(introspecting(idp), clock) as validator:
        with pytest.raises(OppError) as caught:
            await validator.validate(token)
    assert (caught.value.code, caught.value.status) == (ReasonCode.TOKEN_INVALID, 401)
    assert "issuer" in caught.value.message and token not in caught.value.message
    assert idp.count("/introspect") == 0


# -- several issuers ---------------------------------------------------------------------------


async def test_first_active_answer_wins(clock: FrozenClock) -> None:
    with running_idp() as first, running_idp() as second:
        second.introspection[TOKEN] = answer(second)
        plan = oauth_plan(
            issuer_plan(first.issuer, introspect=True, introspection_endpoint=first.introspection_endpoint),
            issuer_plan(second.issuer, introspect=True, introspection_endpoint=second.introspection_endpoint),
        )
        async with validating(plan, clock) as validator:
            info = await validator.validate(TOKEN)
    assert info.issuer == second.issuer
    assert (first.count("/introspect"), second.count("/introspect")) == (1, 1)


async def test_unreachable_issuer_makes_a_miss_unavailable(clock: FrozenClock) -> None:
    with running_idp() as down:
        down_endpoint = down.introspection_endpoint
    with running_idp() as up:
        plan = oauth_plan(
            issuer_plan(down.issuer, introspect=True, introspection_endpoint=down_endpoint),
            issuer_plan(up.issuer, introspect=True, introspection_endpoint=up.introspection_endpoint),
        )
        async with validating(plan, clock) as validator:
            with pytest.raises(OppError) as caught:
                await validator.validate(TOKEN)
            assert caught.value.code == ReasonCode.UNAVAILABLE
            up.introspection[TOKEN] = answer(up)
            assert (await validator.validate(TOKEN)).issuer == up.issuer
