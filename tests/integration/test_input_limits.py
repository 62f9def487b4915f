"""Client input that Python cannot represent is a 400 envelope, never a 5xx (issue 11 item 2).

Depth bombs, Unicode digits, timestamps whose UTC instant overflows and date ranges at the edge of
the calendar, on the agent and admin planes, over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Gateway
from tests.integration.writes_support import ACTIONS, ADMIN, PREFLIGHT, create_payload

BOMB = "[" * 5000 + "]" * 5000
JSON = {"Content-Type": "application/json"}


def _refused(response: Any, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert response.json()["ok"] is False


@pytest.mark.parametrize("path", [ACTIONS, PREFLIGHT])
async def test_depth_bomb_on_the_agent_plane_is_400(gateway: Gateway, path: str) -> None:
    body = '{"action": "transaction.create", "payload": {"x": ' + BOMB + "}}"
    response = await gateway.client.post(path, content=body, headers={**JSON, **gateway.auth()})
    _refused(response, 400, "common.json_too_deep")
    assert response.json()["details"] == {"maxDepth": 32}


async def test_depth_bomb_on_the_admin_plane_is_400(gateway: Gateway) -> None:
    body = '{"name": "x", "policy": ' + "{" * 2000 + "}" * 2000 + "}"
    response = await gateway.client.post(
        f"{ADMIN}/apps", content=body, headers={**JSON, **gateway.admin_auth()}
    )
    _refused(response, 400, "common.json_too_deep")


async def test_nesting_at_the_limit_is_decoded(gateway: Gateway) -> None:
    """32 levels pass the depth check (the payload is then refused by the tool's schema)."""
    payload = '{"a": ' * 30 + "1" + "}" * 30
    body = '{"action": "transaction.create", "payload": ' + payload + "}"
    response = await gateway.client.post(ACTIONS, content=body, headers={**JSON, **gateway.auth()})
    _refused(response, 400, "agent.action_invalid")


async def test_brackets_inside_strings_do_not_count(gateway: Gateway) -> None:
    body = {"action": "transaction.create", "payload": create_payload(title="[{" * 100)}
    response = await gateway.client.post(ACTIONS, json=body, headers=gateway.auth())
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "draft"


async def test_invalid_utf8_body_is_400(gateway: Gateway) -> None:
    body = b'{"action": "transaction.create", "payload": {"title": "\xff\xfe"}}'
    response = await gateway.client.post(ACTIONS, content=body, headers={**JSON, **gateway.auth()})
    _refused(response, 400, "common.validation")


@pytest.mark.parametrize("route", ["audit", "drafts"])
@pytest.mark.parametrize("limit", ["²", "٣", "1e3", " 5", "0", "201", "-1", "99999999999999999999999"])
async def test_admin_limit_accepts_ascii_digits_only(gateway: Gateway, route: str, limit: str) -> None:
    response = await gateway.client.get(
        f"{ADMIN}/{route}", params={"limit": limit}, headers=gateway.admin_auth()
    )
    _refused(response, 400, "common.validation")
    assert response.json()["details"]["issues"][0]["path"] == "limit"


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "٢٠٢٤-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "2024-13-01",
    ],
)
async def test_audit_times_that_cannot_be_represented_are_400(
    gateway: Gateway, name: str, value: str
) -> None:
    response = await gateway.client.get(f"{ADMIN}/audit", params={name: value}, headers=gateway.admin_auth())
    _refused(response, 400, "common.validation")
    assert response.json()["details"]["issues"][0]["path"] == name


async def test_audit_times_in_range_still_filter(gateway: Gateway) -> None:
    response = await gateway.client.get(
        f"{ADMIN}/audit",
        params={"since": "2000-01-01T00:00:00+05:00", "until": "9999-12-31T23:59:59Z", "limit": "5"},
        headers=gateway.admin_auth(),
    )
    assert response.status_code == 200, response.text


async def test_key_expiry_that_overflows_utc_is_400(gateway: Gateway) -> None:
    response = await gateway.client.post(
        f"{ADMIN}/apps/app_demo/keys",
        json={"name": "k", "expires_at": "9999-12-31T23:59:59-23:59"},
        headers=gateway.admin_auth(),
    )
    _refused(response, 400, "common.validation")
    keys = await gateway.runtime.store.keys.list_for_app("app_demo")
    assert [k.name for k in keys] == ["test key"], "nothing was created"


async def test_window_expiry_that_overflows_utc_is_400(gateway: Gateway) -> None:
    body = {"writes": {"enabled": True, "expires_at": "9999-12-31T23:59:59-23:59"}}
    response = await gateway.client.patch(
        f"{ADMIN}/apps/app_demo/auto-execute", json=body, headers=gateway.admin_auth()
    )
    _refused(response, 400, "common.validation")


@pytest.mark.parametrize(
    "params",
    [
        {"endDate": "0001-01-01"},
        {"startDate": "9999-12-31"},
        {"startDate": "0001-01-01", "endDate": "0001-01-02"},
    ],
)
async def test_transaction_ranges_at_the_edge_of_the_calendar(
    gateway: Gateway, params: dict[str, str]
) -> None:
    response = await gateway.client.get(
        "/api/agent/v1/transactions", params={"ledgerId": "ledger_main", **params}, headers=gateway.auth()
    )
    assert response.status_code < 500, response.text
    assert response.json()["ok"] is (response.status_code == 200)


@pytest.mark.parametrize("page", ["²", "٣", "nan", "1e999"])
async def test_tool_query_integers_accept_ascii_digits_only(gateway: Gateway, page: str) -> None:
    response = await gateway.client.get(
        "/api/agent/v1/transactions", params={"ledgerId": "ledger_main", "page": page}, headers=gateway.auth()
    )
    _refused(response, 400, "common.validation")
