"""Helpers for the write-lifecycle tests: agent calls, admin calls, windows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.conftest import Gateway, _admin_token

ACTIONS = "/api/agent/v1/actions"
PREFLIGHT = "/api/agent/v1/preflight"
ADMIN = "/api/agent-admin/v1"


def create_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "ledgerId": "ledger_main",
        "kind": "expense",
        "amount": 12.5,
        "title": "Team lunch",
        "occurredOn": dt.datetime.now(dt.UTC).date().isoformat(),
        **overrides,
    }


async def act(gw: Gateway, body: dict[str, Any], token: str | None = None, **headers: str) -> Any:
    return await gw.client.post(ACTIONS, json=body, headers={**gw.auth(token), **headers})


async def preflight(gw: Gateway, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await gw.client.post(PREFLIGHT, json={"action": action, "payload": payload}, headers=gw.auth())
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def open_window(
    gw: Gateway, risk_class: str = "writes", *, minutes: int = 60, allowed: list[str] | None = None
) -> None:
    expires = (gw.clock.now() + dt.timedelta(minutes=minutes)).isoformat()
    body = {risk_class: {"enabled": True, "expires_at": expires, "allowed_actions": allowed}}
    response = await gw.client.patch(
        f"{ADMIN}/apps/app_demo/auto-execute", json=body, headers=gw.admin_auth()
    )
    assert response.status_code == 200, response.text


async def approver(gw: Gateway, name: str = "alice") -> str:
    """A fresh approver token for a human called ``name``."""
    return await _admin_token(gw.runtime, "approver", name)


async def transactions(gw: Gateway) -> dict[str, Any]:
    response = await gw.client.get(
        "/api/agent/v1/transactions", params={"ledgerId": "ledger_main"}, headers=gw.auth()
    )
    items: dict[str, Any] = {item["id"]: item for item in response.json()["data"]["items"]}
    return items
