"""Fail-closed write decisions (issue 11 item 9, docs/WRITES.md "Fail closed"):

* a pending draft whose key was revoked (or expired) after it was made does not execute on
  approval, unless ``writes.approve_drafts_of_revoked_keys`` says so;
* a tool declared ``requires_confirmation: true`` never auto-executes, even in an open window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from tests.integration.conftest import ROOT, Gateway
from tests.integration.writes_support import (
    ADMIN,
    act,
    approver,
    create_payload,
    open_window,
    preflight,
    transactions,
)

ALLOW_REVOKED = yaml.safe_dump(
    {
        **yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text()),
        "writes": {"approve_drafts_of_revoked_keys": True},
    },
    sort_keys=False,
)


async def _draft_with_new_key(gateway: Gateway) -> tuple[str, str]:
    """A pending update of txn_2 made with a fresh key; returns (draft id, key id)."""
    key, token = await gateway.runtime.integrations.add_key("app_demo", "short-lived")
    response = await act(
        gateway, {"action": "transaction.update", "payload": {"transactionId": "txn_2", "amount": 95}}, token
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["draft"]["id"], key.id


async def _approve(gateway: Gateway, draft_id: str) -> Any:
    token = await approver(gateway, "alice")
    return await gateway.client.post(
        f"{ADMIN}/drafts/{draft_id}/approve", json={"note": "ok"}, headers=gateway.admin_auth(token)
    )


async def _status(gateway: Gateway, draft_id: str) -> tuple[str, str | None]:
    draft = await gateway.runtime.store.writes.get_draft(draft_id)
    assert draft is not None
    return draft.status, draft.failure_code


async def test_a_draft_of_a_revoked_key_does_not_execute_on_approval(gateway: Gateway) -> None:
    draft_id, key_id = await _draft_with_new_key(gateway)
    revoked = await gateway.client.post(f"{ADMIN}/keys/{key_id}/revoke", headers=gateway.admin_auth())
    assert revoked.status_code == 200, revoked.text
    before = (await transactions(gateway))["txn_2"]["amount"]
    response = await _approve(gateway, draft_id)
    assert (response.status_code, response.json()["code"]) == (403, "agent.forbidden"), response.text
    assert response.json()["details"] == {"reason": "key_revoked"}
    assert (await transactions(gateway))["txn_2"]["amount"] == before, "no side effect"
    assert await _status(gateway, draft_id) == ("failed", "agent.forbidden")
    denied = [e for e in await gateway.events(action="agent.action.execute") if e.draft_id == draft_id]
    assert [(e.status, e.code) for e in denied] == [("denied", "agent.forbidden")]


async def test_a_draft_of_a_key_that_expired_does_not_execute(gateway: Gateway) -> None:
    expires = gateway.clock.now() + dt.timedelta(minutes=5)
    key, token = await gateway.runtime.integrations.add_key("app_demo", "expiring", expires)
    response = await act(gateway, {"action": "transaction.create", "payload": create_payload()}, token)
    draft_id = response.json()["data"]["draft"]["id"]
    gateway.clock.advance(dt.timedelta(minutes=10))
    refused = await _approve(gateway, draft_id)
    assert (refused.status_code, refused.json()["details"]) == (403, {"reason": "key_revoked"})
    assert key.id


async def test_revoking_and_restoring_the_app_keeps_its_drafts_refused(gateway: Gateway) -> None:
    draft_id, _ = await _draft_with_new_key(gateway)
    for step in ("revoke", "restore"):
        answer = await gateway.client.post(f"{ADMIN}/apps/app_demo/{step}", headers=gateway.admin_auth())
        assert answer.status_code == 200, answer.text
    response = await _approve(gateway, draft_id)
    assert (response.status_code, response.json()["details"]) == (403, {"reason": "key_revoked"})


async def test_drafts_of_live_keys_still_execute(gateway: Gateway) -> None:
    draft_id, _ = await _draft_with_new_key(gateway)
    response = await _approve(gateway, draft_id)
    assert response.json()["data"]["execution"]["status"] == "success", response.text
    assert (await transactions(gateway))["txn_2"]["amount"] == 95


@pytest.mark.parametrize("config_text", [ALLOW_REVOKED], indirect=True)
async def test_the_operator_may_allow_drafts_of_revoked_keys(gateway: Gateway) -> None:
    assert gateway.runtime.plan.writes.approve_drafts_of_revoked_keys is True
    draft_id, key_id = await _draft_with_new_key(gateway)
    await gateway.client.post(f"{ADMIN}/keys/{key_id}/revoke", headers=gateway.admin_auth())
    response = await _approve(gateway, draft_id)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["execution"]["status"] == "success"


async def test_requires_confirmation_never_auto_executes_in_an_open_window(gateway: Gateway) -> None:
    tool = gateway.runtime.plan.action("transaction.hard_delete")
    assert tool is not None and tool.requires_confirmation and tool.risk == "high"
    await open_window(gateway, "high_risk")
    pre = await preflight(gateway, "transaction.hard_delete", {"transactionId": "txn_1"})
    body = {
        "action": "transaction.hard_delete",
        "preflightId": pre["preflightId"],
        "execute": True,
        "justification": "duplicate",
        "idempotencyKey": "hard-1",
    }
    response = await act(gateway, body)
    data = response.json()["data"]
    assert data["status"] == "draft" and data["autoExecuteDeniedCode"] == "agent.confirmation_required", data
    assert "txn_1" in await transactions(gateway), "no side effect"
    assert pre["requiresConfirmation"] is True
    approved = await _approve(gateway, data["draft"]["id"])
    assert approved.json()["data"]["execution"]["status"] == "success", approved.text
    assert "txn_1" not in await transactions(gateway), "a human confirmed it"


async def test_requires_confirmation_wins_over_a_closed_window(gateway: Gateway) -> None:
    response = await act(
        gateway, {"action": "transaction.hard_delete", "payload": {"transactionId": "txn_1"}, "execute": True}
    )
    assert response.json()["data"]["autoExecuteDeniedCode"] == "agent.confirmation_required"
