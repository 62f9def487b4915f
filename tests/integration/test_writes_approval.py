"""Human approval (SPEC §7.7): roles, no self-approval, quorum, CAS, expiry, revalidation."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import msgspec
import pytest

from tests.integration.conftest import ROOT, Gateway
from tests.integration.refusals import refused
from tests.integration.writes_support import ADMIN, act, approver, create_payload, transactions


async def _draft(gw: Gateway, action: str, payload: dict[str, Any]) -> str:
    response = await act(gw, {"action": action, "payload": payload})
    assert response.status_code == 200, response.text
    draft_id: str = response.json()["data"]["draft"]["id"]
    return draft_id


async def _approve(gw: Gateway, draft_id: str, token: str, note: str = "ok") -> Any:
    return await gw.client.post(
        f"{ADMIN}/drafts/{draft_id}/approve", json={"note": note}, headers=gw.admin_auth(token)
    )


async def test_approval_executes_the_draft(gateway: Gateway) -> None:
    draft_id = await _draft(gateway, "transaction.update", {"transactionId": "txn_2", "amount": 95})
    alice = await approver(gateway, "alice")
    detail = (
        await gateway.client.get(f"{ADMIN}/drafts/{draft_id}", headers=gateway.admin_auth(alice))
    ).json()["data"]
    assert detail["witnessMatchesNow"] is True and detail["draft"]["preflight"]["previousAmount"] == 80
    response = await _approve(gateway, draft_id, alice)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["draft"]["status"] == "confirmed" and data["draft"]["confirmed_by_user_id"] == "alice"
    assert data["execution"]["status"] == "success"
    assert (await transactions(gateway))["txn_2"]["amount"] == 95
    approve_events = await gateway.events(action="agent.draft.approve")
    assert approve_events[0].performed_by_user_id == "alice" and approve_events[0].draft_id == draft_id
    again = await _approve(gateway, draft_id, await approver(gateway, "bob"))
    assert (again.status_code, again.json()["code"]) == (400, "agent.draft_already_final")


async def test_roles_and_self_approval(gateway: Gateway) -> None:
    draft_id = await _draft(gateway, "transaction.create", create_payload())
    auditor = await _approve(gateway, draft_id, gateway.auditor)
    refused(auditor, 403, "admin.forbidden", message="This route needs one of the roles: admin, approver.")
    anonymous = await gateway.client.post(f"{ADMIN}/drafts/{draft_id}/approve", json={})
    refused(anonymous, 401, "admin.unauthorized", message="Missing credential.", challenge=None)
    agent = await gateway.client.post(f"{ADMIN}/drafts/{draft_id}/approve", json={}, headers=gateway.auth())
    refused(
        agent, 401, "admin.unauthorized", challenge="invalid_token"
    )  # an agent key is no admin credential
    self_approval = await _approve(gateway, draft_id, await approver(gateway, "svc_org_demo"))
    refused(self_approval, 403, "agent.approval_forbidden")
    unknown = await _approve(gateway, "drf_nope", await approver(gateway))
    refused(unknown, 404, "agent.draft_not_found")
    detail = await gateway.client.get(f"{ADMIN}/drafts/{draft_id}", headers=gateway.admin_auth())
    assert detail.json()["data"]["draft"]["status"] == "draft"  # none of the refusals moved it


async def test_reject_then_approve_is_final(gateway: Gateway) -> None:
    draft_id = await _draft(gateway, "transaction.create", create_payload())
    alice = await approver(gateway, "alice")
    rejected = await gateway.client.post(
        f"{ADMIN}/drafts/{draft_id}/reject", json={"note": "no"}, headers=gateway.admin_auth(alice)
    )
    assert rejected.json()["data"]["draft"]["status"] == "canceled"
    late = await _approve(gateway, draft_id, alice)
    assert late.json()["code"] == "agent.draft_already_final"
    assert (await gateway.events(action="agent.draft.reject"))[0].details == {"note": "no"}


async def test_state_changed_before_approval_fails_closed(gateway: Gateway) -> None:
    draft_id = await _draft(gateway, "transaction.delete", {"transactionId": "txn_1"})
    other = await _draft(gateway, "transaction.update", {"transactionId": "txn_1", "amount": 1300})
    assert (await _approve(gateway, other, await approver(gateway, "alice"))).status_code == 200
    response = await _approve(gateway, draft_id, await approver(gateway, "bob"))
    body = refused(response, 409, "agent.precondition_failed")
    assert (
        body["code"] == "agent.precondition_failed" and body["details"]["reason"] == "state_witness_mismatch"
    )
    assert "txn_1" in await transactions(gateway), "no side effect"
    draft = (await gateway.client.get(f"/api/agent/v1/drafts/{draft_id}", headers=gateway.auth())).json()[
        "data"
    ]
    assert draft["draft"]["status"] == "failed" and draft["draft"]["failure_code"] == "state_witness_mismatch"
    denied = [e for e in await gateway.events(action="agent.action.execute") if e.status == "denied"]
    assert denied and denied[0].draft_id == draft_id and denied[0].app_id == "app_demo" and denied[0].key_id


async def test_scope_removed_after_the_draft_refuses_execution(gateway: Gateway) -> None:
    draft_id = await _draft(gateway, "transaction.create", create_payload(amount=77))
    app = await gateway.runtime.store.apps.get("app_demo")
    assert app is not None
    reduced = msgspec.structs.replace(app, scopes=tuple(s for s in app.scopes if s != "transaction.write"))
    await gateway.runtime.store.apps.upsert_declared(reduced)
    response = await _approve(gateway, draft_id, await approver(gateway))
    assert (response.status_code, response.json()["code"]) == (403, "agent.scope_denied")
    assert all(item["amount"] != 77 for item in (await transactions(gateway)).values())
    draft = (await gateway.client.get(f"{ADMIN}/drafts/{draft_id}", headers=gateway.admin_auth())).json()[
        "data"
    ]
    assert draft["draft"]["status"] == "failed" and draft["execution"] is None


async def test_pending_drafts_expire(gateway: Gateway) -> None:
    draft_id = await _draft(gateway, "transaction.create", create_payload())
    gateway.clock.advance(dt.timedelta(hours=25))
    response = await _approve(gateway, draft_id, await approver(gateway))
    assert response.json()["code"] == "agent.draft_already_final"
    assert response.json()["details"] == {"status": "expired"}
    assert (await gateway.events(action="agent.draft.expire"))[0].draft_id == draft_id


async def test_two_concurrent_approvals_execute_once(gateway: Gateway) -> None:
    draft_id = await _draft(gateway, "transaction.create", create_payload(amount=55))
    alice, bob = await approver(gateway, "alice"), await approver(gateway, "bob")
    results = await asyncio.gather(_approve(gateway, draft_id, alice), _approve(gateway, draft_id, bob))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400]
    assert sum(1 for item in (await transactions(gateway)).values() if item["amount"] == 55) == 1


async def test_listing_filters_and_pages(gateway: Gateway) -> None:
    for amount in (1, 2, 3):
        await _draft(gateway, "transaction.create", create_payload(amount=amount))
    await _draft(gateway, "transaction.delete", {"transactionId": "txn_2"})
    alice = gateway.admin_auth(await approver(gateway))
    high = (await gateway.client.get(f"{ADMIN}/drafts", params={"risk": "high"}, headers=alice)).json()[
        "data"
    ]
    assert [d["action"] for d in high["items"]] == ["transaction.delete"]
    page1 = (
        await gateway.client.get(
            f"{ADMIN}/drafts", params={"tool": "transaction.create", "limit": "2"}, headers=alice
        )
    ).json()["data"]
    page2 = (
        await gateway.client.get(
            f"{ADMIN}/drafts",
            params={"tool": "transaction.create", "limit": "2", "cursor": page1["nextCursor"]},
            headers=alice,
        )
    ).json()["data"]
    assert len(page1["items"]) == 2 and len(page2["items"]) == 1
    pending = (
        await gateway.client.get(
            f"{ADMIN}/drafts", params={"status": "draft", "appId": "app_demo"}, headers=alice
        )
    ).json()["data"]
    assert len(pending["items"]) == 4


async def test_export_csv_runs_on_approval_with_redaction(gateway: Gateway) -> None:
    today = dt.datetime.now(dt.UTC).date()
    payload = {
        "ledgerId": "ledger_main",
        "startDate": (today - dt.timedelta(days=10)).isoformat(),
        "endDate": today.isoformat(),
    }
    draft_id = await _draft(gateway, "transactions.export_csv", payload)
    response = await _approve(gateway, draft_id, await approver(gateway))
    result = response.json()["data"]["execution"]["result"]
    assert result["rows"] == 2 and result["contentType"] == "text/csv"
    lines = result["csv"].splitlines()
    assert lines[0] == "id,occurredOn,kind,amount,currency,title,notes"
    assert all("[redacted]" in line for line in lines[1:]) and "Consulting" not in result["csv"]
    execute = [e for e in await gateway.events(action="agent.action.execute") if e.status == "success"]
    assert execute[0].details["redacted_fields"] == ["items[].title", "items[].notes"]


QUORUM = (
    (ROOT / "examples" / "ledger" / "gateway.yaml")
    .read_text()
    .replace(
        "    backend: {backend: demo, call: update_transaction}",
        "    approvals: 2\n    backend: {backend: demo, call: update_transaction}",
    )
)


@pytest.mark.parametrize("config_text", [QUORUM], indirect=True)
async def test_quorum_of_two_distinct_approvers(gateway: Gateway) -> None:
    draft_id = await _draft(gateway, "transaction.update", {"transactionId": "txn_2", "amount": 81})
    alice = await approver(gateway, "alice")
    first = (await _approve(gateway, draft_id, alice)).json()["data"]
    assert (first["approvals"], first["required"], first["execution"]) == (1, 2, None)
    twice = await _approve(gateway, draft_id, alice)
    assert (twice.status_code, twice.json()["code"]) == (403, "agent.approval_forbidden")
    second = (await _approve(gateway, draft_id, await approver(gateway, "bob"))).json()["data"]
    assert second["execution"]["status"] == "success"
    assert (await transactions(gateway))["txn_2"]["amount"] == 81


async def test_maintenance_expires_drafts_and_purges_old_keys(gateway: Gateway) -> None:
    draft_id = await _draft(gateway, "transaction.create", create_payload())
    body = {"action": "transaction.create", "payload": create_payload(amount=3), "idempotencyKey": "old-key"}
    assert (await act(gateway, body)).status_code == 200
    assert await gateway.runtime.store.writes.get_idempotency("app_demo", "old-key") is not None
    gateway.clock.advance(dt.timedelta(hours=25))
    await gateway.runtime.maintenance.run_once()
    draft = await gateway.runtime.store.writes.get_draft(draft_id)
    assert draft is not None and draft.status == "expired"
    assert await gateway.runtime.store.writes.get_idempotency("app_demo", "old-key") is None
    assert (await gateway.events(action="agent.draft.expire"))[0].performed_by_user_id == "opp-expiry"
