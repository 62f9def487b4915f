"""State Witness fail-closed over HTTP (SPEC §7.6): a draft made while its tool computed a witness,
approved after a reload removed the tool's ``witness:``, is refused — 409 ``agent.precondition_failed``
with reason ``state_witness_unsupported`` — and nothing is executed."""

from __future__ import annotations

from typing import Any

from opp.store.records import AuditQuery
from tests.integration.conftest import _admin_token
from tests.integration.live_gateway import ADMIN, Live, config_text, live, sighup

__all__ = ["config_text", "live", "sighup"]  # fixtures used here

ACTIONS = "/api/agent/v1/actions"
WITNESS = "      fields: [ledgerId, kind, amount, occurredOn, updatedAt, deletedAt]\n"


def _drop_the_update_witness(live: Live) -> None:
    """``transaction.update`` loses its witness; the tools that shared it through the anchor keep it."""
    live.edit("    witness: &transaction-witness\n" + WITNESS, "")
    live.edit("    witness: *transaction-witness\n", "    witness:\n" + WITNESS)


async def _amount(live: Live, transaction_id: str) -> Any:
    response = await live.client.get(
        "/api/agent/v1/transactions", params={"ledgerId": "ledger_main"}, headers=live.auth()
    )
    assert response.status_code == 200, response.text
    return {item["id"]: item["amount"] for item in response.json()["data"]["items"]}[transaction_id]


async def test_a_tool_that_lost_its_witness_refuses_to_execute_the_draft(live: Live) -> None:
    before = await _amount(live, "txn_2")
    drafted = await live.client.post(
        ACTIONS,
        json={"action": "transaction.update", "payload": {"transactionId": "txn_2", "amount": before + 7}},
        headers=live.auth(),
    )
    assert drafted.status_code == 200, drafted.text
    draft = drafted.json()["data"]["draft"]
    assert draft["status"] == "draft"
    stored = await live.root.store.writes.get_draft(draft["id"])
    assert stored is not None and stored.preflight_state_witness_hash  # the witness was taken

    _drop_the_update_witness(live)
    reloaded = await live.reload()
    assert reloaded.status_code == 200, reloaded.text
    assert live.app.plan.tools_by_name["transaction.update"].witness is None

    alice = await _admin_token(live.root, "approver", "alice")
    response = await live.client.post(
        f"{ADMIN}/drafts/{draft['id']}/approve", json={"note": "ok"}, headers=live.auth(alice)
    )

    assert response.status_code == 409, response.text
    body = response.json()
    assert (body["ok"], body["code"]) == (False, "agent.precondition_failed")
    assert body["details"] == {"reason": "state_witness_unsupported", "draftId": draft["id"]}
    assert await _amount(live, "txn_2") == before  # the backend was never called
    detail = await live.client.get(f"{ADMIN}/drafts/{draft['id']}", headers=live.auth(alice))
    assert detail.json()["data"]["draft"]["status"] == "failed"
    await live.root.audit.flush()
    [event] = await live.root.store.audit.list(AuditQuery(action="agent.action.execute", limit=10))
    assert (event.status, event.code, event.details) == (
        "denied",
        "agent.precondition_failed",
        {"reason": "state_witness_unsupported"},
    )
    again = await live.client.post(
        f"{ADMIN}/drafts/{draft['id']}/approve", json={"note": "retry"}, headers=live.auth(alice)
    )
    assert (again.status_code, again.json()["code"]) == (400, "agent.draft_already_final")
    assert await _amount(live, "txn_2") == before
