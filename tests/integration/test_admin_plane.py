"""Admin plane (SPEC §10): authenticated, role-checked, audited."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import ROOT, Gateway
from tests.integration.refusals import refused

ADMIN = "/api/agent-admin/v1"


async def _create(gw: Gateway, **body: Any) -> dict[str, Any]:
    payload = {
        "name": "ci agent",
        "scope": "workspace",
        "org_id": "org_demo",
        "scopes": ["ledger.read"],
        **body,
    }
    response = await gw.client.post(f"{ADMIN}/apps", json=payload, headers=gw.admin_auth())
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_admin_requires_a_credential(gateway: Gateway) -> None:
    response = await gateway.client.get(f"{ADMIN}/apps")
    refused(response, 401, "admin.unauthorized", message="Missing credential.", challenge=None)
    agent_key = await gateway.client.get(f"{ADMIN}/apps", headers=gateway.auth())
    refused(agent_key, 401, "admin.unauthorized", challenge="invalid_token")
    unknown = await gateway.client.get(f"{ADMIN}/apps", headers=gateway.admin_auth("opa_" + "B" * 43))
    refused(
        unknown, 401, "admin.unauthorized", message="Unknown admin credential.", challenge="invalid_token"
    )
    events = await gateway.events(action="agent_app.list")
    assert [(event.status, event.code) for event in events] == [("denied", "admin.unauthorized")] * 3


async def test_auditor_reads_but_cannot_write(gateway: Gateway) -> None:
    listed = await gateway.client.get(f"{ADMIN}/apps", headers=gateway.admin_auth(gateway.auditor))
    assert listed.status_code == 200
    created = await gateway.client.post(
        f"{ADMIN}/apps", json={"name": "x"}, headers=gateway.admin_auth(gateway.auditor)
    )
    refused(created, 403, "admin.forbidden", message="This route needs one of the roles: admin.")


async def test_create_app_shows_the_token_once_and_it_works(gateway: Gateway) -> None:
    data = await _create(gateway)
    token = data["token"]
    assert token.startswith("op_") and data["key"]["token_prefix"] == token[:12]
    assert "token_hash" not in data["key"]
    response = await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth(token))
    assert response.status_code == 200
    keys = (
        await gateway.client.get(f"{ADMIN}/apps/{data['app']['id']}/keys", headers=gateway.admin_auth())
    ).json()
    assert token not in str(keys) and all("token_hash" not in k for k in keys["data"]["items"])
    events = await gateway.events(action="agent_app.create")
    assert events[0].app_id == data["app"]["id"] and events[0].performed_by_user_id == "test-admin"


async def test_create_app_validation(gateway: Gateway) -> None:
    bad_scope = await gateway.client.post(
        f"{ADMIN}/apps", json={"name": "x", "org_id": "o", "scopes": ["nope"]}, headers=gateway.admin_auth()
    )
    assert bad_scope.status_code == 400 and bad_scope.json()["code"] == "common.validation"
    unknown_field = await gateway.client.post(
        f"{ADMIN}/apps", json={"name": "x", "bogus": 1}, headers=gateway.admin_auth()
    )
    refused(
        unknown_field,
        400,
        "common.validation",
        message="Invalid input: Object contains unknown field `bogus`",
    )
    no_org = await gateway.client.post(
        f"{ADMIN}/apps", json={"name": "x", "scope": "workspace"}, headers=gateway.admin_auth()
    )
    body = refused(no_org, 400, "common.validation", message="Invalid input: A workspace app needs org_id.")
    assert [issue["path"] for issue in body["details"]["issues"]] == ["org_id"]
    bad_cidr = await gateway.client.post(
        f"{ADMIN}/apps",
        json={"name": "x", "org_id": "o", "policy": {"network": {"allowed_ips": ["10.0.0.300/8"]}}},
        headers=gateway.admin_auth(),
    )
    body = refused(bad_cidr, 400, "common.validation")
    assert [issue["path"] for issue in body["details"]["issues"]] == ["policy.network.allowed_ips"]


async def test_kill_switch_revoke_restore_delete(gateway: Gateway) -> None:
    data = await _create(gateway)
    app_id, token = data["app"]["id"], data["token"]
    extra = (
        await gateway.client.post(
            f"{ADMIN}/apps/{app_id}/keys", json={"name": "second"}, headers=gateway.admin_auth()
        )
    ).json()["data"]
    not_revoked = await gateway.client.delete(f"{ADMIN}/apps/{app_id}", headers=gateway.admin_auth())
    refused(
        not_revoked,
        400,
        "common.validation",
        message="Invalid input: Only revoked apps can be deleted; revoke it first.",
    )
    revoked = (
        await gateway.client.post(f"{ADMIN}/apps/{app_id}/revoke", headers=gateway.admin_auth())
    ).json()
    assert revoked["data"]["app"]["status"] == "revoked" and revoked["data"]["revokedKeys"] == 2
    for t in (token, extra["token"]):
        response = await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth(t))
        refused(
            response, 401, "agent.token_invalid", message="Credential revoked.", challenge="invalid_token"
        )
    restored = (
        await gateway.client.post(f"{ADMIN}/apps/{app_id}/restore", headers=gateway.admin_auth())
    ).json()
    assert restored["data"]["app"]["status"] == "active"
    still_revoked = await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth(token))
    refused(
        still_revoked, 401, "agent.token_invalid", message="Credential revoked.", challenge="invalid_token"
    )
    await gateway.client.post(f"{ADMIN}/apps/{app_id}/revoke", headers=gateway.admin_auth())
    deleted = await gateway.client.delete(f"{ADMIN}/apps/{app_id}", headers=gateway.admin_auth())
    assert deleted.status_code == 200
    gone = await gateway.client.get(f"{ADMIN}/apps/{app_id}", headers=gateway.admin_auth())
    assert gone.status_code == 404 and gone.json()["code"] == "agent.not_found"


async def test_revoke_single_key(gateway: Gateway) -> None:
    data = await _create(gateway)
    key_id = data["key"]["id"]
    response = await gateway.client.post(f"{ADMIN}/keys/{key_id}/revoke", headers=gateway.admin_auth())
    assert response.status_code == 200 and response.json()["data"]["key"]["revoked_at"]
    revoked = await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth(data["token"]))
    refused(revoked, 401, "agent.token_invalid", message="Credential revoked.", challenge="invalid_token")
    missing = await gateway.client.post(f"{ADMIN}/keys/key_nope/revoke", headers=gateway.admin_auth())
    refused(missing, 404, "agent.not_found", message="Key not found.")


async def test_replace_policy_and_tools_per_app(gateway: Gateway) -> None:
    data = await _create(gateway, scopes=["ledger.read", "transaction.read"])
    app_id = data["app"]["id"]
    response = await gateway.client.patch(
        f"{ADMIN}/apps/{app_id}/policy",
        json={
            "network": {"allowed_ips": ["127.0.0.0/8", "::1/128"]},
            "data": {"allowed_ledger_ids": ["ledger_ops"]},
        },
        headers=gateway.admin_auth(),
    )
    assert response.status_code == 200, response.text
    policy = response.json()["data"]["app"]["policy"]
    assert policy["data"] == {
        "allowed_ledger_ids": ["ledger_ops"],
        "max_days": 30,
        "allow_sensitive_fields": False,
        "max_export_rows": 1000,
    }
    bad = await gateway.client.patch(
        f"{ADMIN}/apps/{app_id}/policy", json={"data": {"max_days": 0}}, headers=gateway.admin_auth()
    )
    refused(bad, 400, "common.validation")
    tools = (await gateway.client.get(f"{ADMIN}/apps/{app_id}/tools", headers=gateway.admin_auth())).json()
    assert [t["name"] for t in tools["data"]["tools"]] == ["ledger.list", "transaction.list"]


@pytest.mark.parametrize("limit", ["0", "201", "x"])
async def test_audit_limit_validation(gateway: Gateway, limit: str) -> None:
    response = await gateway.client.get(
        f"{ADMIN}/audit", params={"limit": limit}, headers=gateway.admin_auth()
    )
    refused(response, 400, "common.validation")


async def test_audit_listing_filters_and_pages(gateway: Gateway) -> None:
    for _ in range(3):
        await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth())
    await gateway.client.get("/api/agent/v1/ledgers")
    page1 = (
        await gateway.client.get(
            f"{ADMIN}/audit",
            params={"tool": "ledger.list", "limit": "2"},
            headers=gateway.admin_auth(gateway.auditor),
        )
    ).json()["data"]
    assert len(page1["items"]) == 2 and page1["nextCursor"]
    page2 = (
        await gateway.client.get(
            f"{ADMIN}/audit",
            params={"tool": "ledger.list", "limit": "2", "cursor": page1["nextCursor"]},
            headers=gateway.admin_auth(),
        )
    ).json()["data"]
    ids = [e["id"] for e in page1["items"] + page2["items"]]
    assert len(ids) == len(set(ids)) == 4
    denied = (
        await gateway.client.get(f"{ADMIN}/audit", params={"status": "denied"}, headers=gateway.admin_auth())
    ).json()["data"]["items"]
    assert [e["code"] for e in denied] == ["agent.token_invalid"]


WITHOUT_OAUTH = (
    (ROOT / "examples" / "ledger" / "gateway.yaml")
    .read_text()
    .replace("oauth:\n  enabled: true\n", "oauth:\n  enabled: false\n")
)


@pytest.mark.parametrize("config_text", [WITHOUT_OAUTH], indirect=True)
async def test_admin_challenges_without_oauth(gateway: Gateway) -> None:
    """With OAuth off the admin plane still says whether a credential was missing or not valid."""
    assert gateway.runtime.plan.oauth.enabled is False
    missing = await gateway.client.get(f"{ADMIN}/apps")
    refused(missing, 401, "admin.unauthorized", message="Missing credential.", challenge=None)
    unknown = await gateway.client.get(f"{ADMIN}/apps", headers=gateway.admin_auth("opa_" + "B" * 43))
    refused(
        unknown, 401, "admin.unauthorized", message="Unknown admin credential.", challenge="invalid_token"
    )
    assert unknown.headers["www-authenticate"] == 'Bearer realm="opp-admin", error="invalid_token"'
    forbidden = await gateway.client.post(
        f"{ADMIN}/apps", json={}, headers=gateway.admin_auth(gateway.auditor)
    )
    refused(forbidden, 403, "admin.forbidden", message="This route needs one of the roles: admin.")
