"""GitOps-declared apps, keys and admin credentials; fail-closed behaviour when the store is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from opp.auth.tokens import hash_token
from opp.clock import new_token
from opp.compile import compile_file
from opp.http.app import create_app
from opp.http.runtime import Runtime
from opp.store.records import AuditQuery
from opp.store.sqlite import SqliteStore
from tests.integration.conftest import ROOT, Gateway

AGENT_TOKEN = new_token("op")
ADMIN_TOKEN = new_token("opa")
DECLARED = f"""
admin:
  credentials:
    - name: gitops-admin
      roles: [admin]
      token_sha256: {hash_token(ADMIN_TOKEN)}
apps:
  - id: app_gitops
    name: Declared in YAML
    scope: workspace
    org_id: org_demo
    scopes: [ledger.read]
    network: {{allowed_ips: []}}
    data: {{allow_sensitive_fields: true}}
    keys:
      - id: key_gitops
        name: ci
        token_sha256: {hash_token(AGENT_TOKEN)}
"""


def _declared_config(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        (ROOT / "examples" / "ledger" / "gateway.yaml")
        .read_text()
        .replace("bootstrap:", DECLARED + "\nbootstrap:")
    )
    return path


async def test_declared_app_key_and_admin_credential(tmp_path: Path) -> None:
    plan = compile_file(str(_declared_config(tmp_path)))
    store_path = str(tmp_path / "state.db")
    runtime = Runtime(plan, store=SqliteStore(store_path))
    async with AsyncTestClient(app=create_app(plan, runtime)) as client:
        agent = {"Authorization": f"Bearer {AGENT_TOKEN}"}
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert (await client.get("/api/agent/v1/ledgers", headers=agent)).status_code == 200
        app = (await client.get("/api/agent-admin/v1/apps/app_gitops", headers=admin)).json()["data"]["app"]
        assert app["source"] == "config" and app["policy"]["data"]["allow_sensitive_fields"] is True
        # The file is the source of truth: no edits or deletes through the API, but the kill switch works.
        edit = await client.patch(
            "/api/agent-admin/v1/apps/app_gitops/policy", json={"data": {}}, headers=admin
        )
        assert edit.status_code == 400
        revoke = await client.post("/api/agent-admin/v1/keys/key_gitops/revoke", headers=admin)
        assert revoke.status_code == 200
        assert (await client.get("/api/agent/v1/ledgers", headers=agent)).status_code == 401
    # A restart re-syncs the declared app and key but keeps the revocation.
    runtime = Runtime(plan, store=SqliteStore(store_path))
    async with AsyncTestClient(app=create_app(plan, runtime)) as client:
        response = await client.get(
            "/api/agent/v1/ledgers", headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
        )
        assert response.status_code == 401


async def test_admin_denials_are_audited(gateway: Gateway) -> None:
    await gateway.client.post(
        "/api/agent-admin/v1/apps", json={"name": "x"}, headers=gateway.admin_auth(gateway.auditor)
    )
    await gateway.client.get("/api/agent-admin/v1/apps")
    events = await gateway.events(action="agent_app.create")
    assert [(e.status, e.code, e.performed_by_user_id) for e in events] == [
        ("denied", "admin.forbidden", "test-auditor")
    ]
    listed = await gateway.events(action="agent_app.list")
    assert listed[0].code == "admin.unauthorized" and listed[0].performed_by_user_id is None


async def test_store_outage_fails_closed(tmp_path: Path) -> None:
    plan = compile_file(str(_declared_config(tmp_path)))
    runtime = Runtime(plan, store=SqliteStore(str(tmp_path / "state.db")))
    async with AsyncTestClient(app=create_app(plan, runtime)) as client:
        await runtime.store.close()
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["code"] == "agent.unavailable"
        response = await client.get(
            "/api/agent/v1/ledgers", headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
        )
        assert response.status_code == 503 and response.json()["code"] == "agent.unavailable"


async def test_audit_events_are_durable_in_sqlite(tmp_path: Path) -> None:
    plan = compile_file(str(_declared_config(tmp_path)))
    store_path = str(tmp_path / "state.db")
    runtime = Runtime(plan, store=SqliteStore(store_path))
    async with AsyncTestClient(app=create_app(plan, runtime)) as client:
        for _ in range(3):
            await client.get("/api/agent/v1/ledgers", headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
    reopened = SqliteStore(store_path)
    await reopened.open()
    events = await reopened.audit.list(AuditQuery(tool="ledger.list"))
    await reopened.close()
    assert [e.status for e in events] == ["success"] * 3
    assert all(e.key_id == "key_gitops" and e.tenant == "org_demo" for e in events)


@pytest.mark.parametrize("code", ["agent.action_unknown", "agent.draft_not_found", "agent.rate_limited"])
def test_reserved_codes_are_documented_for_later_issues(code: str) -> None:
    from opp.codes import ReasonCode

    assert ReasonCode(code).info.description
