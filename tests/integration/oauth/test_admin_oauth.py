"""The admin plane with OAuth access tokens (SPEC §7.7, §10; RFC 9470 step-up)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.oauth.conftest import (
    ADMIN,
    AGENT,
    GatewayFactory,
    OAuthGateway,
    challenges,
    expect_ok,
    expect_refused,
)
from tests.support.jose_tools import DROP, ec_key

DRAFTS = f"{ADMIN}/drafts"
ACTIONS = f"{AGENT}/actions"


def _approver(gw: OAuthGateway, *, auth_age: float | None = 60, **claims: Any) -> str:
    """A DPoP-bound token of the human ``alice`` with the approver role, signed in ``auth_age`` s ago."""
    claims.setdefault("roles", ["opp-approver"])
    claims.setdefault("sub", "alice")
    claims.setdefault("auth_time", DROP if auth_age is None else int(gw.now - auth_age))
    return gw.token(**claims)


async def _draft(gw: OAuthGateway, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A pending draft submitted by the agent over DPoP."""
    token = gw.token()
    response = await gw.client.post(
        ACTIONS, json={"action": action, "payload": payload}, headers=gw.dpop("POST", ACTIONS, token)
    )
    draft: dict[str, Any] = expect_ok(response)["draft"]
    assert draft["status"] == "draft"
    return draft


async def _high_risk_draft(gw: OAuthGateway) -> str:
    draft = await _draft(gw, "transaction.delete", {"transactionId": "txn_1"})
    assert draft["risk"] == "high"
    draft_id: str = draft["id"]
    return draft_id


async def _approve(gw: OAuthGateway, draft_id: str, token: str) -> Any:
    path = f"{DRAFTS}/{draft_id}/approve"
    return await gw.client.post(path, json={"note": "ok"}, headers=gw.dpop("POST", path, token))


def _expect_step_up(response: Any, code: str) -> dict[str, str]:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code
    parsed = challenges(response.headers["www-authenticate"])
    assert [scheme for scheme, _ in parsed] == ["bearer"]
    params = parsed[0][1]
    assert params["error"] == "insufficient_user_authentication"
    return params


async def test_approver_token_lists_drafts(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    draft_id = await _high_risk_draft(gw)
    listed = expect_ok(await gw.get(DRAFTS, gw.dpop("GET", DRAFTS, _approver(gw))))
    assert [item["id"] for item in listed["items"]] == [draft_id]
    bearer = gw.bearer_token(roles=["opp-approver"], sub="bob")
    expect_ok(await gw.get(DRAFTS, {"Authorization": f"Bearer {bearer}"}))


@pytest.mark.parametrize(
    "roles", [["opp-viewer"], [], DROP, "opp-approverx"], ids=["unmapped", "empty", "absent", "near"]
)
async def test_token_without_a_mapped_role_is_forbidden(oauth_gateway: OAuthGateway, roles: Any) -> None:
    gw = oauth_gateway
    token = _approver(gw, roles=roles)
    response = await gw.get(DRAFTS, gw.dpop("GET", DRAFTS, token))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "admin.forbidden"
    assert "www-authenticate" not in response.headers


async def test_approver_role_cannot_manage_apps(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    path = f"{ADMIN}/apps"
    body = {"name": "x", "scope": "workspace", "org_id": "org_demo", "scopes": ["ledger.read"]}
    response = await gw.client.post(path, json=body, headers=gw.dpop("POST", path, _approver(gw)))
    assert (response.status_code, response.json()["code"]) == (403, "admin.forbidden")
    admin = gw.token(roles=["opp-admin"], sub="root")
    expect_ok(await gw.client.post(path, json=body, headers=gw.dpop("POST", path, admin)))


async def test_invalid_admin_token_is_unauthorized(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = _approver(gw, aud="https://other.example/")
    response = await gw.get(DRAFTS, gw.dpop("GET", DRAFTS, token))
    expect_refused(response, 401, "admin.unauthorized", "invalid_token", scheme="dpop")
    missing = await gw.get(DRAFTS)
    expect_refused(missing, 401, "admin.unauthorized", None)


async def test_admin_token_proof_checks_apply(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    token = _approver(gw)
    as_bearer = await gw.get(DRAFTS, {"Authorization": f"Bearer {token}"})
    expect_refused(as_bearer, 401, "agent.token_binding_mismatch", "invalid_token", scheme="bearer")
    other_key = await gw.get(DRAFTS, gw.dpop("GET", DRAFTS, token, key=ec_key()))
    expect_refused(other_key, 401, "agent.token_binding_mismatch", "invalid_token", scheme="dpop")
    wrong_htu = await gw.get(DRAFTS, gw.dpop("GET", DRAFTS, token, htu="http://127.0.0.1:8080/elsewhere"))
    expect_refused(wrong_htu, 401, "agent.dpop_invalid", "invalid_dpop_proof")


async def test_high_risk_approval_needs_a_recent_sign_in(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    draft_id = await _high_risk_draft(gw)
    stale = await _approve(gw, draft_id, _approver(gw, auth_age=600))
    params = _expect_step_up(stale, "agent.step_up_required")
    assert params["max_age"] == "300"

    never = await _approve(gw, draft_id, _approver(gw, auth_age=None))
    _expect_step_up(never, "agent.step_up_required")

    approved = await _approve(gw, draft_id, _approver(gw, auth_age=60))
    data = expect_ok(approved)
    assert data["draft"]["status"] == "confirmed" and data["draft"]["confirmed_by_user_id"] == "alice"
    events = [event for event in await gw.events() if event.action == "agent_admin.draft.approve"]
    assert {event.code for event in events} >= {"agent.step_up_required", "common.success"}


@pytest.mark.parametrize("auth_time", ["yesterday", True, {"at": 1}], ids=["string", "boolean", "object"])
async def test_malformed_auth_time_is_step_up_invalid(oauth_gateway: OAuthGateway, auth_time: Any) -> None:
    gw = oauth_gateway
    draft_id = await _high_risk_draft(gw)
    response = await _approve(gw, draft_id, _approver(gw, auth_time=auth_time))
    _expect_step_up(response, "agent.step_up_invalid")


async def test_opaque_admin_token_cannot_approve_high_risk_with_step_up(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    draft_id = await _high_risk_draft(gw)
    response = await gw.client.post(
        f"{DRAFTS}/{draft_id}/approve", json={}, headers={"Authorization": f"Bearer {gw.admin}"}
    )
    _expect_step_up(response, "agent.step_up_required")
    detail = await gw.client.get(f"{DRAFTS}/{draft_id}", headers={"Authorization": f"Bearer {gw.admin}"})
    assert expect_ok(detail)["draft"]["status"] == "draft"


async def test_lower_risk_draft_needs_no_step_up(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    draft = await _draft(gw, "transaction.update", {"transactionId": "txn_2", "amount": 95})
    assert draft["risk"] != "high"
    data = expect_ok(await _approve(gw, draft["id"], _approver(gw, auth_age=None)))
    assert data["draft"]["status"] == "confirmed"
    other = await _draft(gw, "transaction.update", {"transactionId": "txn_2", "amount": 96})
    response = await gw.client.post(
        f"{DRAFTS}/{other['id']}/approve", json={}, headers={"Authorization": f"Bearer {gw.admin}"}
    )
    assert expect_ok(response)["draft"]["status"] == "confirmed"


async def test_admin_audit_never_holds_the_tokens(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    draft_id = await _high_risk_draft(gw)
    await _approve(gw, draft_id, _approver(gw, auth_age=600))
    await gw.get(DRAFTS, gw.dpop("GET", DRAFTS, _approver(gw, roles=["nobody"])))
    expect_ok(await _approve(gw, draft_id, _approver(gw)))
    text = await gw.audit_text()
    for secret in gw.minted:
        assert secret not in text and secret.rsplit(".", 1)[1] not in text


async def _refused_and_still_pending(
    gw: OAuthGateway, draft_id: str, token: str, code: str
) -> dict[str, str]:
    """A step-up refusal (code, RFC 9470 challenge) that leaves the draft pending and is audited."""
    before = len([event for event in await gw.events() if event.code == code])
    params = _expect_step_up(await _approve(gw, draft_id, token), code)
    detail = await gw.client.get(f"{DRAFTS}/{draft_id}", headers={"Authorization": f"Bearer {gw.admin}"})
    assert expect_ok(detail)["draft"]["status"] == "draft"
    refusals = [event for event in await gw.events() if event.code == code]
    assert len(refusals) == before + 1 and refusals[-1].action == "agent_admin.draft.approve"
    return params


async def test_max_age_boundary(oauth_gateway: OAuthGateway) -> None:
    """``max_age: 5m``: a sign-in exactly 300 s old is recent enough, 301 s is not (frozen clock)."""
    gw = oauth_gateway
    draft_id = await _high_risk_draft(gw)
    params = await _refused_and_still_pending(
        gw, draft_id, _approver(gw, auth_age=301), "agent.step_up_required"
    )
    assert (params["max_age"], params["error_description"]) == (
        "300",
        "The approver's sign-in is too old; sign in again.",
    )
    assert "acr_values" not in params
    assert (
        expect_ok(await _approve(gw, draft_id, _approver(gw, auth_age=300)))["draft"]["status"] == "confirmed"
    )


@pytest.mark.parametrize("ahead", [61, 3600, 10**9], ids=["past-the-skew", "an-hour", "far-future"])
async def test_an_auth_time_in_the_future_is_refused(oauth_gateway: OAuthGateway, ahead: int) -> None:
    """More than the 60 s clock skew ahead of the gateway: not a sign-in that happened."""
    gw = oauth_gateway
    draft_id = await _high_risk_draft(gw)
    params = await _refused_and_still_pending(
        gw, draft_id, _approver(gw, auth_age=-ahead), "agent.step_up_required"
    )
    assert params["error_description"] == "The approver's sign-in is too old; sign in again."


async def test_an_auth_time_within_the_clock_skew_is_accepted(oauth_gateway: OAuthGateway) -> None:
    gw = oauth_gateway
    draft_id = await _high_risk_draft(gw)
    assert (
        expect_ok(await _approve(gw, draft_id, _approver(gw, auth_age=-60)))["draft"]["status"] == "confirmed"
    )


@pytest.mark.parametrize(
    "acr",
    [DROP, "pwd", "MFA", "mfa ", ["mfa"], 2],
    ids=["absent", "weaker", "case", "padded", "list", "number"],
)
async def test_an_acr_outside_the_accepted_values_is_refused(make_gateway: GatewayFactory, acr: Any) -> None:
    async with make_gateway(oauth={"step_up": {"max_age": "5m", "acr": ["phr", "mfa"]}}) as gw:
        draft_id = await _high_risk_draft(gw)
        token = _approver(gw, acr=acr)  # signed in a minute ago: only the acr is wrong
        params = await _refused_and_still_pending(gw, draft_id, token, "agent.step_up_required")
        assert params["acr_values"] == "mfa phr" and params["max_age"] == "300"
        assert params["error_description"] == "Approving a high-risk draft needs a stronger sign-in."
        approved = await _approve(gw, draft_id, _approver(gw, acr="phr"))
        assert expect_ok(approved)["draft"]["confirmed_by_user_id"] == "alice"


async def test_acr_alone_is_enforced_whatever_the_sign_in_age(make_gateway: GatewayFactory) -> None:
    async with make_gateway(oauth={"step_up": {"max_age": None, "acr": ["mfa"]}}) as gw:
        draft_id = await _high_risk_draft(gw)
        params = await _refused_and_still_pending(
            gw, draft_id, _approver(gw, auth_age=None), "agent.step_up_required"
        )
        assert params["acr_values"] == "mfa" and "max_age" not in params
        assert expect_ok(await _approve(gw, draft_id, _approver(gw, auth_age=86400, acr="mfa")))
