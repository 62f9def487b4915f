"""The governed read path end to end: discovery, tenant boundary, ABAC, redaction, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.conftest import Gateway

TX = "/api/agent/v1/transactions"


def _days_ago(days: int) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)).isoformat()


async def _set_data(gw: Gateway, **data: Any) -> None:
    app = await gw.runtime.store.apps.get("app_demo")
    assert app is not None
    policy = {"network": app.policy["network"], "data": {**app.policy["data"], **data}}
    await gw.runtime.store.apps.set_policy("app_demo", policy, dt.datetime.now(dt.UTC))


async def test_manifest_requires_a_credential(gateway: Gateway) -> None:
    response = await gateway.client.get("/api/agent/v1/manifest")
    assert response.status_code == 401
    body = response.json()
    assert body["ok"] is False and body["code"] == "agent.token_invalid" and body["message"]


async def test_manifest_lists_visible_tools(gateway: Gateway) -> None:
    response = await gateway.client.get("/api/agent/v1/manifest", headers=gateway.auth())
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["code"] == "common.success"
    assert body["data"]["app"] == {
        "id": "app_demo",
        "name": "Demo workspace agent",
        "scope": "workspace",
        "orgId": "org_demo",
    }
    tools = {t["name"]: t for t in body["data"]["tools"]}
    assert set(tools) == {
        "ledger.list",
        "transaction.list",
        "transaction.create",
        "transaction.update",
        "transaction.delete",
        "transaction.hard_delete",
        "transactions.export_csv",
    }
    hard_delete = tools["transaction.hard_delete"]
    assert hard_delete["risk"] == "high" and hard_delete["requiresConfirmation"] is True
    # every action needs a confirmation (a reviewer's or an open window's); delete may auto-execute
    assert tools["transaction.delete"]["requiresConfirmation"] is True
    assert tools["transaction.delete"]["autoExecutable"] is True
    assert hard_delete["autoExecutable"] is False
    assert tools["ledger.list"]["requiredScopes"] == ["ledger.read"]
    assert tools["ledger.list"]["risk"] == "low" and tools["ledger.list"]["requiresConfirmation"] is False


async def test_manifest_hides_tools_without_scope(gateway: Gateway) -> None:
    _, _, token = await _workspace_app(gateway, ["ledger.read"])
    body = (await gateway.client.get("/api/agent/v1/manifest", headers=gateway.auth(token))).json()
    assert [t["name"] for t in body["data"]["tools"]] == ["ledger.list"]


async def _workspace_app(gw: Gateway, scopes: list[str], org: str = "org_demo") -> tuple[Any, Any, str]:
    from opp.integrations.service import NewApp

    return await gw.runtime.integrations.create_app(
        NewApp(name="second", scope="workspace", org_id=org, scopes=scopes, created_by="test")
    )


async def test_ledgers_are_scoped_to_the_tenant(gateway: Gateway) -> None:
    response = await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth())
    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["data"]["items"]]
    assert sorted(ids) == ["ledger_main", "ledger_ops"]


async def test_allowed_ledger_ids_filter_and_deny(gateway: Gateway) -> None:
    await _set_data(gateway, allowed_ledger_ids=["ledger_ops"])
    ledgers = (await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth())).json()
    assert [item["id"] for item in ledgers["data"]["items"]] == ["ledger_ops"]
    denied = await gateway.client.get(TX, params={"ledgerId": "ledger_main"}, headers=gateway.auth())
    assert denied.status_code == 403 and denied.json()["code"] == "agent.policy_denied"
    events = await gateway.events(tool="transaction.list")
    assert events[0].status == "denied" and events[0].policy == {"matched": ["ledger-allowlist"]}


async def test_transactions_are_redacted_and_the_audit_names_the_fields(gateway: Gateway) -> None:
    response = await gateway.client.get(TX, params={"ledgerId": "ledger_main"}, headers=gateway.auth())
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"items", "total", "page", "pageSize", "hasMore"}
    assert (data["total"], data["page"], data["pageSize"], data["hasMore"]) == (2, 1, 50, False)
    by_id = {item["id"]: item for item in data["items"]}
    assert by_id["txn_1"]["amount"] == 1200 and by_id["txn_2"]["amount"] == 80
    assert {item["title"] for item in data["items"]} == {"[redacted]"}
    assert all(item["notes"] is None for item in data["items"])
    event = (await gateway.events(tool="transaction.list"))[0]
    assert event.action == "agent.transaction.list.read" and event.status == "success"
    assert event.details == {"redacted_fields": ["items[].title", "items[].notes"]}
    assert "Consulting payment" not in str(event) and "annual plan" not in str(event)


async def test_sensitive_fields_when_the_policy_allows(gateway: Gateway) -> None:
    await _set_data(gateway, allow_sensitive_fields=True)
    response = await gateway.client.get(TX, params={"ledgerId": "ledger_main"}, headers=gateway.auth())
    titles = {item["id"]: (item["title"], item["notes"]) for item in response.json()["data"]["items"]}
    assert titles == {
        "txn_1": ("Consulting payment", None),
        "txn_2": ("Software subscription", "annual plan"),
    }
    event = (await gateway.events(tool="transaction.list"))[0]
    assert event.details == {}


async def test_cross_tenant_ledger_is_answered_like_an_unknown_one(gateway: Gateway) -> None:
    foreign = await gateway.client.get(TX, params={"ledgerId": "ledger_foreign"}, headers=gateway.auth())
    unknown = await gateway.client.get(TX, params={"ledgerId": "ledger_nope"}, headers=gateway.auth())
    assert foreign.status_code == unknown.status_code == 403
    assert foreign.json() == unknown.json()
    assert foreign.json()["code"] == "agent.policy_denied"


async def test_range_over_max_days_is_denied(gateway: Gateway) -> None:
    params = {"ledgerId": "ledger_main", "startDate": _days_ago(45), "endDate": _days_ago(0)}
    response = await gateway.client.get(TX, params=params, headers=gateway.auth())
    assert response.status_code == 403 and response.json()["code"] == "agent.policy_denied"
    params = {"ledgerId": "ledger_main", "startDate": _days_ago(45)}
    response = await gateway.client.get(TX, params=params, headers=gateway.auth())
    assert response.status_code == 403
    await _set_data(gateway, max_days=60)
    response = await gateway.client.get(TX, params=params, headers=gateway.auth())
    assert response.status_code == 200


async def test_inverted_range_is_invalid(gateway: Gateway) -> None:
    params = {"ledgerId": "ledger_main", "startDate": _days_ago(1), "endDate": _days_ago(5)}
    response = await gateway.client.get(TX, params=params, headers=gateway.auth())
    assert response.status_code == 400 and response.json()["code"] == "agent.action_invalid"


async def test_query_validation_issues(gateway: Gateway) -> None:
    response = await gateway.client.get(
        TX, params={"ledgerId": "ledger_main", "pageSize": "500"}, headers=gateway.auth()
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "common.validation"
    assert [issue["path"] for issue in body["details"]["issues"]] == ["pageSize"]
    missing = await gateway.client.get(TX, headers=gateway.auth())
    assert missing.status_code == 400 and missing.json()["details"]["issues"][0]["code"] == "required"
    bad_page = await gateway.client.get(TX, params={"ledgerId": "x", "page": "0"}, headers=gateway.auth())
    assert bad_page.status_code == 400


async def test_missing_scope_is_denied(gateway: Gateway) -> None:
    _, _, token = await _workspace_app(gateway, ["ledger.read"])
    response = await gateway.client.get(TX, params={"ledgerId": "ledger_main"}, headers=gateway.auth(token))
    assert response.status_code == 403
    assert response.json()["code"] == "agent.scope_denied"
    assert response.json()["details"] == {"missingScopes": ["transaction.read"]}


async def test_pagination(gateway: Gateway) -> None:
    params = {"ledgerId": "ledger_main", "pageSize": "1", "page": "2"}
    data = (await gateway.client.get(TX, params=params, headers=gateway.auth())).json()["data"]
    assert (data["total"], data["page"], data["pageSize"], data["hasMore"], len(data["items"])) == (
        2,
        2,
        1,
        False,
        1,
    )
