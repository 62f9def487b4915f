"""The agent side of the write lifecycle (SPEC §2, §7.2-7.6, §11 write cases)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.integration.conftest import ROOT, Gateway
from tests.integration.writes_support import ADMIN, act, create_payload, open_window, preflight, transactions

HEX64 = 64


async def test_preflight_of_a_delete_returns_hashes_and_a_handle(gateway: Gateway) -> None:
    data = await preflight(gateway, "transaction.delete", {"transactionId": "txn_1"})
    assert data["action"] == "transaction.delete" and data["risk"] == "high"
    assert data["requiresConfirmation"] is True  # every action; delete may still auto-execute in a window
    assert isinstance(data["impactHash"], str) and len(data["impactHash"]) == HEX64
    assert data["impact"]["transactionId"] == "txn_1" and data["impact"]["amount"] == 1200
    assert len(data["stateWitnessHash"]) == HEX64 and data["preflightId"].startswith("pfl_")
    events = await gateway.events(action="agent.action.preflight")
    assert events[0].status == "success" and events[0].details["preflight_id"] == data["preflightId"]


async def test_create_without_execute_is_a_draft_readable_by_its_agent(gateway: Gateway) -> None:
    response = await act(gateway, {"action": "transaction.create", "payload": create_payload()})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "draft" and data["autoExecuteDeniedCode"] is None
    draft_id = data["draft"]["id"]
    assert data["review_path"] == f"{ADMIN}/drafts/{draft_id}"
    for private in ("preflight", "policy_snapshot", "idempotency_key", "actor_user_id", "request_id"):
        assert private not in data["draft"]
    read = await gateway.client.get(f"/api/agent/v1/drafts/{draft_id}", headers=gateway.auth())
    assert read.status_code == 200
    assert read.json()["data"]["draft"]["id"] == draft_id and read.json()["data"]["execution"] is None
    created = await gateway.events(action="agent.action.draft.created")
    assert created[0].draft_id == draft_id and created[0].app_id == "app_demo"


async def test_request_validation_codes(gateway: Gateway) -> None:
    unknown = await act(gateway, {"action": "transaction.explode", "payload": {}})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "agent.action_unknown")
    missing = await act(gateway, {"action": "transaction.create"})
    assert (missing.status_code, missing.json()["code"]) == (400, "agent.action_invalid")
    bad = await act(gateway, {"action": "transaction.create", "payload": create_payload(amount=-1)})
    assert (bad.status_code, bad.json()["code"]) == (400, "agent.action_invalid")
    assert bad.json()["details"]["issues"][0]["path"] == "amount"
    extra = await act(gateway, {"action": "transaction.create", "payload": create_payload(), "bogus": 1})
    assert extra.status_code == 400
    foreign = await act(
        gateway, {"action": "transaction.create", "payload": create_payload(ledgerId="ledger_foreign")}
    )
    assert (foreign.status_code, foreign.json()["code"]) == (403, "agent.policy_denied")


async def test_execute_without_a_window_is_a_soft_denial(gateway: Gateway) -> None:
    before = await transactions(gateway)
    response = await act(
        gateway, {"action": "transaction.create", "payload": create_payload(), "execute": True}
    )
    assert response.status_code == 200
    assert response.json()["data"]["autoExecuteDeniedCode"] == "agent.auto_execute_disabled"
    assert await transactions(gateway) == before


async def test_open_window_executes_medium_risk(gateway: Gateway) -> None:
    await open_window(gateway)
    response = await act(
        gateway, {"action": "transaction.create", "payload": create_payload(), "execute": True}
    )
    data = response.json()["data"]
    assert data["status"] == "executed" and data["execution"]["status"] == "success", data
    assert data["execution"]["result"]["transaction"]["title"] == "[redacted]"
    created = data["execution"]["result"]["transaction"]["id"]
    assert created in await transactions(gateway)
    execute = await gateway.events(action="agent.action.execute")
    assert execute[0].status == "success" and execute[0].execution_id == data["execution"]["id"]
    requested = await gateway.events(action="agent.action.auto_execute.requested")
    assert requested[0].details == {"allowed": True, "auto_execute_denied": None}


async def test_expired_window_gives_a_draft(gateway: Gateway) -> None:
    await open_window(gateway, minutes=5)
    gateway.clock.advance(dt.timedelta(minutes=10))
    response = await act(
        gateway, {"action": "transaction.create", "payload": create_payload(), "execute": True}
    )
    data = response.json()["data"]
    assert data["status"] == "draft" and data["autoExecuteDeniedCode"] == "agent.auto_execute_expired"


async def test_window_not_allowing_the_action(gateway: Gateway) -> None:
    await open_window(gateway, allowed=["transaction.update"])
    response = await act(
        gateway, {"action": "transaction.create", "payload": create_payload(), "execute": True}
    )
    assert response.json()["data"]["autoExecuteDeniedCode"] == "agent.auto_execute_denied"


async def test_force_draft_never_executes(gateway: Gateway) -> None:
    await open_window(gateway)
    body = {"action": "transaction.create", "payload": create_payload(), "execute": True, "forceDraft": True}
    data = (await act(gateway, body)).json()["data"]
    assert data["status"] == "draft" and data["autoExecuteDeniedCode"] is None


async def test_high_risk_gates_in_order(gateway: Gateway) -> None:
    await open_window(gateway, "high_risk")
    delete = {"action": "transaction.delete", "payload": {"transactionId": "txn_1"}, "execute": True}
    codes = []
    for extra in (
        {},
        {"justification": "duplicate entry"},
        {"justification": "duplicate entry", "idempotencyKey": "del-1"},
    ):
        codes.append((await act(gateway, {**delete, **extra})).json()["data"]["autoExecuteDeniedCode"])
    assert codes == ["agent.action_invalid", "agent.idempotency_required", "agent.preflight_required"]
    assert "txn_1" in await transactions(gateway), "a refused execute request never has a side effect"


async def test_high_risk_delete_without_preflight_is_a_draft_without_effect(gateway: Gateway) -> None:
    response = await act(
        gateway, {"action": "transaction.delete", "payload": {"transactionId": "txn_1"}, "execute": True}
    )
    assert response.status_code == 200 and response.json()["data"]["status"] == "draft"
    assert "txn_1" in await transactions(gateway)


async def test_payload_swapped_after_preflight_is_a_mismatch(gateway: Gateway) -> None:
    await open_window(gateway, "high_risk")
    pre = await preflight(gateway, "transaction.delete", {"transactionId": "txn_1"})
    body = {
        "action": "transaction.delete",
        "payload": {"transactionId": "txn_2"},
        "execute": True,
        "justification": "cleanup",
        "idempotencyKey": "swap-1",
        "preflightHash": pre["impactHash"],
    }
    data = (await act(gateway, body)).json()["data"]
    assert data["status"] == "draft" and data["autoExecuteDeniedCode"] == "agent.preflight_mismatch"
    assert {"txn_1", "txn_2"} <= set(await transactions(gateway))


async def test_high_risk_with_preflight_id_executes(gateway: Gateway) -> None:
    await open_window(gateway, "high_risk")
    pre = await preflight(gateway, "transaction.delete", {"transactionId": "txn_1"})
    body = {
        "action": "transaction.delete",
        "preflightId": pre["preflightId"],
        "execute": True,
        "justification": "duplicate",
        "idempotencyKey": "del-ok",
    }
    data = (await act(gateway, body)).json()["data"]
    assert data["status"] == "executed" and data["execution"]["status"] == "success", data
    assert "txn_1" not in await transactions(gateway)


async def test_preflight_handle_errors(gateway: Gateway) -> None:
    pre = await preflight(gateway, "transaction.delete", {"transactionId": "txn_1"})
    other = await act(gateway, {"action": "transaction.hard_delete", "preflightId": pre["preflightId"]})
    assert (other.status_code, other.json()["code"]) == (400, "agent.preflight_mismatch")
    unknown = await act(gateway, {"action": "transaction.delete", "preflightId": "pfl_nope"})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "agent.preflight_not_found")
    gateway.clock.advance(dt.timedelta(minutes=11))
    expired = await act(gateway, {"action": "transaction.delete", "preflightId": pre["preflightId"]})
    assert expired.json()["code"] == "agent.preflight_not_found"


async def test_preflight_id_is_bound_to_its_key(gateway: Gateway) -> None:
    pre = await preflight(gateway, "transaction.delete", {"transactionId": "txn_1"})
    _, other_token = await gateway.runtime.integrations.add_key("app_demo", "second key")
    response = await act(
        gateway, {"action": "transaction.delete", "preflightId": pre["preflightId"]}, other_token
    )
    assert response.json()["code"] == "agent.preflight_not_found"


async def test_state_witness_claim_that_differs_is_409_without_a_draft(gateway: Gateway) -> None:
    body = {
        "action": "transaction.update",
        "payload": {"transactionId": "txn_2", "amount": 99},
        "stateWitnessHash": "0" * 64,
    }
    response = await act(gateway, body)
    assert response.status_code == 409
    assert response.json()["code"] == "agent.precondition_failed"
    assert response.json()["details"]["reason"] == "state_witness_mismatch"
    assert await gateway.events(action="agent.action.draft.created") == []


async def test_idempotency_replay_and_conflict(gateway: Gateway) -> None:
    await open_window(gateway)
    body = {"action": "transaction.create", "payload": create_payload(), "execute": True}
    first = (await act(gateway, body, **{"Idempotency-Key": "k-1"})).json()["data"]
    again = await act(gateway, body, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200
    replay = again.json()["data"]
    assert replay["replayed"] is True and replay["code"] == "agent.idempotency_replay"
    assert replay["execution"]["id"] == first["execution"]["id"]
    changed = await act(gateway, {**body, "payload": create_payload(amount=13)}, **{"Idempotency-Key": "k-1"})
    assert (changed.status_code, changed.json()["code"]) == (422, "agent.idempotency_conflict")
    replays = await gateway.events(action="agent.action.idempotency_replay")
    assert len(replays) == 1 and replays[0].execution_id == first["execution"]["id"]


async def test_withdraw_own_pending_draft(gateway: Gateway) -> None:
    draft_id = (await act(gateway, {"action": "transaction.create", "payload": create_payload()})).json()[
        "data"
    ]["draft"]["id"]
    withdrawn = await gateway.client.post(f"/api/agent/v1/drafts/{draft_id}/withdraw", headers=gateway.auth())
    assert withdrawn.status_code == 200 and withdrawn.json()["data"]["draft"]["status"] == "canceled"
    again = await gateway.client.post(f"/api/agent/v1/drafts/{draft_id}/withdraw", headers=gateway.auth())
    assert (again.status_code, again.json()["code"]) == (400, "agent.draft_already_final")
    events = await gateway.events(action="agent.draft.withdraw")
    assert [(e.status, e.draft_id) for e in events] == [("denied", draft_id), ("success", draft_id)]


async def test_another_apps_draft_is_not_found(gateway: Gateway) -> None:
    from opp.integrations.service import NewApp

    draft_id = (await act(gateway, {"action": "transaction.create", "payload": create_payload()})).json()[
        "data"
    ]["draft"]["id"]
    _, _, other = await gateway.runtime.integrations.create_app(
        NewApp(name="other", scope="workspace", org_id="org_demo", scopes=["transaction.write"])
    )
    for response in (
        await gateway.client.get(f"/api/agent/v1/drafts/{draft_id}", headers=gateway.auth(other)),
        await gateway.client.get("/api/agent/v1/drafts/drf_nope", headers=gateway.auth()),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "agent.draft_not_found")


async def test_auto_execute_windows_are_validated_capped_and_audited(gateway: Gateway) -> None:
    url = f"{ADMIN}/apps/app_demo/auto-execute"
    now = gateway.clock.now()
    for window in (
        {"enabled": True},
        {"enabled": True, "expires_at": (now - dt.timedelta(minutes=1)).isoformat()},
        {"enabled": True, "expires_at": (now + dt.timedelta(hours=25)).isoformat()},
        {"enabled": "yes", "expires_at": (now + dt.timedelta(hours=1)).isoformat()},
        {"enabled": True, "expires_at": "tomorrow"},
    ):
        refused = await gateway.client.patch(url, json={"writes": window}, headers=gateway.admin_auth())
        assert (refused.status_code, refused.json()["code"]) == (400, "common.validation"), window
    auditor = await gateway.client.patch(
        url, json={"writes": {"enabled": False}}, headers=gateway.admin_auth(gateway.auditor)
    )
    assert auditor.status_code == 403
    await open_window(gateway)
    app = (await gateway.client.get(f"{ADMIN}/apps/app_demo", headers=gateway.admin_auth())).json()["data"][
        "app"
    ]
    assert app["auto_execute"]["writes"]["enabled"] is True
    events = await gateway.events(action="agent_app.auto_execute.update")
    assert [e.status for e in events][:1] == ["success"]
    assert events[0].details["auto_execute"]["writes"]["enabled"] is True


FAILING_CREATE = (
    (ROOT / "examples" / "ledger" / "gateway.yaml")
    .read_text()
    .replace(
        "    backend: {backend: demo, call: create_transaction}",
        '    backend: {function: "tests.integration.slow_backend:explode"}',
    )
)


@pytest.mark.parametrize("config_text", [FAILING_CREATE], indirect=True)
async def test_a_failing_action_backend_is_recorded_and_sanitised(gateway: Gateway) -> None:
    await open_window(gateway)
    response = await act(
        gateway, {"action": "transaction.create", "payload": create_payload(), "execute": True}
    )
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "agent.execution_failed" and "hunter2" not in response.text
    draft_id, execution_id = body["details"]["draftId"], body["details"]["executionId"]
    draft = (await gateway.client.get(f"/api/agent/v1/drafts/{draft_id}", headers=gateway.auth())).json()[
        "data"
    ]
    assert draft["draft"]["status"] == "failed" and draft["execution"]["id"] == execution_id
    assert draft["execution"]["status"] == "failed"
    assert draft["execution"]["error"] == {
        "code": "agent.execution_failed",
        "message": "Tool backend failed.",
    }
    event = (await gateway.events(action="agent.action.execute"))[0]
    assert (event.status, event.code, event.execution_id) == (
        "failed",
        "agent.execution_failed",
        execution_id,
    )
