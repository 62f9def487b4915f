"""A preflight binds its payload at every risk tier (issue 11 item 4, SPEC §11 "payload swapped after
preflight → agent.preflight_mismatch"): the swapped payload is never executed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import ROOT, Gateway
from tests.integration.writes_support import act, open_window, preflight, transactions

_UPDATE_RISK = (
    "    risk: medium\n    required_scopes: [transaction.write]\n    input_schema:\n"
    "      type: object\n      additionalProperties: false\n      required: [transactionId]\n"
)
LOW_RISK_UPDATE = (
    (ROOT / "examples" / "ledger" / "gateway.yaml")
    .read_text()
    .replace(_UPDATE_RISK, _UPDATE_RISK.replace("medium", "low"))
)


async def _swap(gateway: Gateway, extra: dict[str, Any]) -> dict[str, Any]:
    """Preflight an update of txn_1 to 10.5, then submit it for execution with 99999."""
    await open_window(gateway)
    pre = await preflight(gateway, "transaction.update", {"transactionId": "txn_1", "amount": 10.5})
    body = {"action": "transaction.update", "execute": True, "idempotencyKey": "swap", **extra(pre)}
    response = await act(gateway, body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


SWAPS = {
    "preflightId": lambda pre: {
        "preflightId": pre["preflightId"],
        "payload": {"transactionId": "txn_1", "amount": 99999},
    },
    "preflightHash": lambda pre: {
        "preflightHash": pre["impactHash"],
        "payload": {"transactionId": "txn_1", "amount": 99999},
    },
}


@pytest.mark.parametrize("binding", sorted(SWAPS))
async def test_medium_risk_swap_after_preflight_is_a_mismatch(gateway: Gateway, binding: str) -> None:
    before = (await transactions(gateway))["txn_1"]["amount"]
    data = await _swap(gateway, SWAPS[binding])
    assert data["status"] == "draft" and data["autoExecuteDeniedCode"] == "agent.preflight_mismatch", data
    assert (await transactions(gateway))["txn_1"]["amount"] == before
    assert await gateway.events(action="agent.action.execute") == []


@pytest.mark.parametrize("config_text", [LOW_RISK_UPDATE], indirect=True)
@pytest.mark.parametrize("binding", sorted(SWAPS))
async def test_low_risk_swap_after_preflight_is_a_mismatch(gateway: Gateway, binding: str) -> None:
    assert gateway.runtime.plan.action("transaction.update").risk == "low"
    before = (await transactions(gateway))["txn_1"]["amount"]
    data = await _swap(gateway, SWAPS[binding])
    assert data["autoExecuteDeniedCode"] == "agent.preflight_mismatch", data
    assert (await transactions(gateway))["txn_1"]["amount"] == before


async def test_medium_risk_with_its_own_preflight_executes(gateway: Gateway) -> None:
    data = await _swap(
        gateway, lambda pre: {"preflightId": pre["preflightId"], "preflightHash": pre["impactHash"]}
    )
    assert data["status"] == "executed", data
    assert (await transactions(gateway))["txn_1"]["amount"] == 10.5


async def test_high_risk_preflight_id_binds_even_beside_a_matching_hash(gateway: Gateway) -> None:
    """The hash of another preflight does not unbind a preflightId: both must match."""
    await open_window(gateway, "high_risk")
    first = await preflight(gateway, "transaction.delete", {"transactionId": "txn_1"})
    second = await preflight(gateway, "transaction.delete", {"transactionId": "txn_2"})
    body = {
        "action": "transaction.delete",
        "preflightId": first["preflightId"],
        "payload": {"transactionId": "txn_2"},
        "preflightHash": second["impactHash"],
        "stateWitnessHash": second["stateWitnessHash"],
        "execute": True,
        "justification": "cleanup",
        "idempotencyKey": "swap-high",
    }
    response = await act(gateway, body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "draft" and data["autoExecuteDeniedCode"] == "agent.preflight_mismatch", data
    assert {"txn_1", "txn_2"} <= set(await transactions(gateway))
