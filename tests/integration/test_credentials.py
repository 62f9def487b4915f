"""Every credential check fails closed, and every failure is audited (SPEC §4 steps 1-3)."""

from __future__ import annotations

import datetime as dt

import pytest

from opp.auth.tokens import hash_token
from opp.clock import new_token
from tests.integration.conftest import Gateway
from tests.integration.refusals import refused

LEDGERS = "/api/agent/v1/ledgers"


async def _get(gw: Gateway, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    response = await gw.client.get(LEDGERS, headers=headers)
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
        "Bearer op_short",
        "Bearer opa_" + "A" * 43,
        "Token op_" + "A" * 43,
        "Bearer op_" + "A" * 43 + " extra",
    ],
)
async def test_malformed_credentials_are_401(gateway: Gateway, header: str) -> None:
    status, body = await _get(gateway, {"Authorization": header})
    assert (status, body["code"]) == (401, "agent.token_invalid")


async def test_unknown_key_is_401_and_audited_without_the_token(gateway: Gateway) -> None:
    token = new_token("op")
    status, body = await _get(gateway, gateway.auth(token))
    assert (status, body["code"]) == (401, "agent.token_invalid")
    events = await gateway.events(code="agent.token_invalid")
    assert events and events[0].action == "agent.ledger.list.read" and events[0].status == "denied"
    assert token not in str(events[0]) and hash_token(token) not in str(events[0])


async def test_two_authorization_headers_are_refused(gateway: Gateway) -> None:
    response = await gateway.client.get(
        LEDGERS,
        headers=[("Authorization", f"Bearer {gateway.token}"), ("Authorization", f"Bearer {gateway.token}")],
    )
    refused(
        response, 401, "agent.token_invalid", message="Malformed credential.", challenge="invalid_request"
    )


async def test_token_in_query_is_refused(gateway: Gateway) -> None:
    response = await gateway.client.get(
        LEDGERS, params={"access_token": gateway.token}, headers=gateway.auth()
    )
    refused(
        response,
        401,
        "agent.token_invalid",
        message="Credentials are not accepted in the query string.",
        challenge="invalid_request",
    )


async def test_revoked_key_is_401_immediately(gateway: Gateway) -> None:
    assert (await _get(gateway, gateway.auth()))[0] == 200
    key = await gateway.runtime.store.keys.find_by_hash(hash_token(gateway.token))
    assert key is not None
    await gateway.runtime.integrations.revoke_key(key[0].id)
    status, body = await _get(gateway, gateway.auth())
    assert (status, body["code"]) == (401, "agent.token_invalid")
    event = (await gateway.events(code="agent.token_invalid"))[0]
    assert event.key_id == key[0].id and event.app_id == "app_demo"


async def test_expired_key_is_token_expired(gateway: Gateway) -> None:
    soon = gateway.clock.now() + dt.timedelta(seconds=30)
    _, token = await gateway.runtime.integrations.add_key("app_demo", "short", soon)
    assert (await _get(gateway, gateway.auth(token)))[0] == 200
    gateway.clock.advance(dt.timedelta(minutes=5))
    status, body = await _get(gateway, gateway.auth(token))
    assert (status, body["code"]) == (401, "agent.token_expired")


async def test_revoked_app_is_401_and_restore_keeps_keys_revoked(gateway: Gateway) -> None:
    await gateway.runtime.integrations.revoke_app("app_demo")
    assert (await _get(gateway, gateway.auth()))[1]["code"] == "agent.token_invalid"
    await gateway.runtime.integrations.restore_app("app_demo")
    assert (await _get(gateway, gateway.auth()))[0] == 401
    _, fresh = await gateway.runtime.integrations.add_key("app_demo", "after restore")
    assert (await _get(gateway, gateway.auth(fresh)))[0] == 200


async def test_workspace_app_without_org_is_forbidden(gateway: Gateway) -> None:
    from opp.store.records import AppRecord

    now = dt.datetime.now(dt.UTC)
    await gateway.runtime.store.apps.create(
        AppRecord(
            id="app_broken",
            name="broken",
            scope="workspace",
            org_id=None,
            scopes=("ledger.read",),
            policy={"network": {"allowed_ips": []}, "data": {}},
            created_at=now,
            updated_at=now,
        )
    )
    _, token = await gateway.runtime.integrations.add_key("app_broken", "k")
    status, body = await _get(gateway, gateway.auth(token))
    assert (status, body["code"]) == (403, "agent.forbidden")


async def test_personal_app_acts_as_its_user(gateway: Gateway) -> None:
    from opp.integrations.service import NewApp

    _, _, token = await gateway.runtime.integrations.create_app(
        NewApp(
            name="mine",
            scope="personal",
            user_id="usr_1",
            org_id="org_demo",
            scopes=["ledger.read"],
        )
    )
    assert (await _get(gateway, gateway.auth(token)))[0] == 200
    event = (await gateway.events(tool="ledger.list"))[0]
    assert event.actor_user_id == "usr_1" and event.tenant == "org_demo"


async def test_ip_allowlist_fails_closed_without_a_socket_address(gateway: Gateway) -> None:
    # The in-process test client has no IP peer ("testclient"): an allowlist must then deny.
    app = await gateway.runtime.store.apps.get("app_demo")
    assert app is not None
    policy = {"network": {"allowed_ips": ["10.0.0.0/8"]}, "data": app.policy["data"]}
    await gateway.runtime.store.apps.set_policy("app_demo", policy, dt.datetime.now(dt.UTC))
    status, body = await _get(gateway, gateway.auth())
    assert (status, body["code"]) == (403, "agent.policy_denied")


async def test_401_carries_a_bearer_challenge_and_success_does_not(gateway: Gateway) -> None:
    denied = await gateway.client.get(LEDGERS)
    assert denied.headers["www-authenticate"].startswith('Bearer realm="opp"')
    ok = await gateway.client.get(LEDGERS, headers=gateway.auth())
    assert ok.status_code == 200 and "www-authenticate" not in ok.headers
