"""The root ``gateway.yaml`` against ``../shared/reference/REFERENCE-DEMO.md``, over HTTP, on a real
``opp serve``: the same tools, read items, payloads with aliases, impacts, State Witness, results and
admin bodies as the reference runtime — and opp's deliberate differences (docs/COMPATIBILITY.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import RunningServer, mint_admin_token, mint_token, run_cli, running_server

ROOT = Path(__file__).resolve().parents[2]
AGENT = "/api/agent/v1"
ADMIN = "/api/agent-admin/v1"
ALL_SCOPES = [
    "ledger.read",
    "transaction.read",
    "transaction.write",
    "transaction.delete",
    "transaction.export",
]
REFERENCE_TOOLS = [
    (
        "ledger.list",
        "List ledgers that this integration can access.",
        ["ledger.read"],
        "low",
        False,
        "GET",
        "/ledgers",
    ),
    (
        "transaction.list",
        "List transactions for a ledger, with optional date filters and pagination.",
        ["transaction.read"],
        "low",
        False,
        "GET",
        "/transactions",
    ),
    ("transaction.create", "Create a new transaction.", ["transaction.write"], "medium", True, None, None),
    (
        "transaction.update",
        "Update an existing transaction.",
        ["transaction.write"],
        "medium",
        True,
        None,
        None,
    ),
    ("transaction.delete", "Soft delete a transaction.", ["transaction.delete"], "high", True, None, None),
    (
        "transaction.hard_delete",
        "Permanently delete a transaction.",
        ["transaction.delete"],
        "high",
        True,
        None,
        None,
    ),
    (
        "transactions.export_csv",
        "Export transactions as CSV.",
        ["transaction.read", "transaction.export"],
        "high",
        True,
        None,
        None,
    ),
]
LISTED_FIELDS = [
    "id",
    "ledger_id",
    "kind",
    "title",
    "amount_home",
    "currency_home",
    "date",
    "notes",
    "created_at",
    "updated_at",
]


def _token(result: Any) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout.strip().splitlines()[-1])


def reference_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON (the values here are ASCII strings, integers and booleans, for
    which sorted keys and no whitespace are exactly RFC 8785)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("reference-wire")
    shutil.copy(ROOT / "gateway.yaml", directory / "gateway.yaml")
    with running_server(directory / "gateway.yaml") as running:
        yield running


class Client:
    def __init__(self, server: RunningServer, token: str) -> None:
        self.http = httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=15
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(AGENT + path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(AGENT + path, json=body)


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is (status == 200)
    return body["data"] if status == 200 else body


class Admin:
    def __init__(self, server: RunningServer) -> None:
        self.server = server
        # apps are made by an admin who is not the approver (no self-approval)
        creator = _token(
            run_cli("token", str(server.config), "--admin", "--name", "creator", cwd=server.config.parent)
        )
        self.admin = httpx.Client(
            base_url=server.base_url + ADMIN, headers={"Authorization": f"Bearer {creator}"}, timeout=15
        )

    def new_app(self, name: str, scopes: list[str] = ALL_SCOPES) -> tuple[str, Client]:
        body = {"scope": "workspace", "name": name, "org_id": "org_demo", "scopes": scopes}
        created = data(self.admin.post("/apps", json=body))
        return created["app"]["id"], Client(self.server, created["token"])

    def patch(self, app_id: str, what: str, body: dict[str, Any]) -> Any:
        return data(self.admin.patch(f"/apps/{app_id}/{what}", json=body))

    def approve(self, draft_id: str) -> Any:
        approver = mint_admin_token(self.server.config, "approver")
        response = httpx.post(
            f"{self.server.base_url}{ADMIN}/drafts/{draft_id}/approve",
            json={"note": "ok"},
            headers={"Authorization": f"Bearer {approver}"},
            timeout=15,
        )
        return response


@pytest.fixture(scope="module")
def admin(server: RunningServer) -> Admin:
    return Admin(server)


@pytest.fixture(scope="module")
def agent(server: RunningServer) -> Client:
    return Client(server, mint_token(server.config))


def in_an_hour() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()


def test_the_manifest_lists_the_reference_tools(agent: Client) -> None:
    manifest = data(agent.get("/manifest"))
    assert manifest["app"] == {
        "id": "app_demo",
        "name": "Demo Integration",
        "scope": "workspace",
        "orgId": "org_demo",
    }
    tools = manifest["tools"]
    assert [tool["name"] for tool in tools] == [row[0] for row in REFERENCE_TOOLS]
    for tool, (name, description, scopes, risk, confirm, method, path) in zip(
        tools, REFERENCE_TOOLS, strict=True
    ):
        assert (tool["description"], tool["requiredScopes"], tool["risk"]) == (description, scopes, risk), (
            name
        )
        assert tool["requiresConfirmation"] is confirm, name
        if method is not None:
            assert tool["http"] == {"method": method, "path": AGENT + path}
        else:
            assert tool["kind"] == "action" and tool["autoExecutable"] is True


def test_reads_have_the_reference_items_and_pagination(agent: Client) -> None:
    ledgers = data(agent.get("/ledgers"))
    assert ledgers == {
        "items": [
            {
                "id": "ledger_main",
                "name": "Main Ledger",
                "currency_home": "USD",
                "tz": "America/Los_Angeles",
                "organization_id": "org_demo",
            },
            {
                "id": "ledger_ops",
                "name": "Ops Ledger",
                "currency_home": "USD",
                "tz": "America/New_York",
                "organization_id": "org_demo",
            },
        ]
    }
    listed = data(agent.get("/transactions", ledgerId="ledger_main", pageSize=500))
    assert (listed["page"], listed["pageSize"]) == (1, 200)  # clamped, as the reference does
    seeds = {item["id"]: item for item in listed["items"]}
    assert {"txn_1", "txn_2"} <= set(seeds)
    first = seeds["txn_1"]
    assert list(first) == LISTED_FIELDS
    assert (first["kind"], first["title"], first["amount_home"], first["currency_home"], first["notes"]) == (
        "income",
        "Consulting payment",
        1200,
        "USD",
        None,
    )
    assert first["date"] == first["created_at"] == first["updated_at"] and first["date"].endswith("Z")
    assert seeds["txn_2"]["notes"] == "annual plan"
    page = data(agent.get("/transactions", ledgerId="ledger_main", page=99, pageSize=1))
    assert page["items"] == [] and page["hasMore"] is False and page["total"] == listed["total"]
    assert (
        data(agent.get("/transactions", ledgerId="ledger_main", page=0), 400)["code"] == "common.validation"
    )


def test_preflights_match_the_reference_hash_vectors(agent: Client) -> None:
    create = data(
        agent.post(
            "/preflight",
            {
                "action": "transaction.create",
                "payload": {"ledgerId": "ledger_main", "kind": "expense", "title": "X", "amount_home": 10},
            },
        )
    )
    assert create["impact"] == {"summary": "Low impact action"}
    assert create["impactHash"] == "ceee42315fdba4bd2bcdc496ace75672b7aca4f805b81787b9762dfc37b84f9b"
    assert create["stateWitness"] is None and create["stateWitnessHash"] is None
    export = data(
        agent.post(
            "/preflight",
            {"action": "transactions.export_csv", "payload": {"ledgerId": "ledger_main", "limit": 20}},
        )
    )
    assert export["impactHash"] == "af3c2939c4d579063606e74acdfb68c2938f492e20482e7e1c30c943a6375222"


def test_a_delete_preflight_has_the_reference_impact_and_witness(agent: Client) -> None:
    seed = next(
        item
        for item in data(agent.get("/transactions", ledgerId="ledger_main"))["items"]
        if item["id"] == "txn_1"
    )
    payload = {"transactionId": "txn_1"}
    preflight = data(agent.post("/preflight", {"action": "transaction.delete", "payload": payload}))
    impact = {
        "summary": "Delete 1 transaction",
        "transaction": {
            "id": "txn_1",
            "ledger_id": "ledger_main",
            "title": "Consulting payment",
            "amount_home": 1200,
            "date": seed["date"],
            "is_deleted": False,
        },
    }
    witness = {
        "kind": "resource_version",
        "resource": "transaction",
        "id": "txn_1",
        "ledger_id": "ledger_main",
        "updated_at": seed["updated_at"],
        "is_deleted": False,
    }
    assert (preflight["action"], preflight["risk"], preflight["requiresConfirmation"]) == (
        "transaction.delete",
        "high",
        True,
    )
    assert preflight["impact"] == impact and preflight["stateWitness"] == witness
    assert preflight["impactHash"] == reference_hash(
        {"action": "transaction.delete", "payload": payload, "impact": impact}
    )
    assert preflight["stateWitnessHash"] == reference_hash(witness)
    assert preflight["preflightId"].startswith("pfl_")


def test_a_create_with_aliases_becomes_a_draft_an_approver_executes(admin: Admin) -> None:
    _, client = admin.new_app("aliases")
    payload = {
        "ledger_id": "ledger_ops",
        "kind": "expense",
        "title": "Stationery",
        "amountHome": "99.5",
        "note_extra": 1,
    }
    submitted = data(
        client.post("/actions", {"action": "transaction.create", "payload": payload, "requestId": "r1"})
    )
    assert submitted["status"] == "draft" and submitted["autoExecuteDeniedCode"] is None
    draft = submitted["draft"]
    assert draft["action_type"] == "transaction.create" and draft["payload"] == payload
    assert (
        draft["requires_confirmation"] is True
        and draft["confirmed_at"] is None
        and draft["canceled_at"] is None
    )
    approved = admin.approve(draft["id"])
    assert approved.status_code == 200, approved.text
    transaction = approved.json()["data"]["execution"]["result"]["transaction"]
    assert list(transaction) == [*LISTED_FIELDS[:8], "is_deleted", "created_at", "updated_at"]
    assert (transaction["ledger_id"], transaction["amount_home"], transaction["currency_home"]) == (
        "ledger_ops",
        99.5,
        "USD",
    )
    read = data(client.get(f"/drafts/{draft['id']}"))
    assert read["draft"]["status"] == "confirmed" and read["draft"]["confirmed_at"] is not None
    assert read["execution"]["status"] == "success"


def test_the_reference_end_to_end_delete_flow(admin: Admin) -> None:
    app_id, client = admin.new_app("delete flow")
    created = data(
        client.post(
            "/actions",
            {
                "action": "transaction.create",
                "payload": {
                    "ledgerId": "ledger_main",
                    "kind": "expense",
                    "title": "Gone soon",
                    "amount_home": 5,
                },
            },
        )
    )
    assert admin.approve(created["draft"]["id"]).status_code == 200
    target = data(client.get(f"/drafts/{created['draft']['id']}"))["execution"]["result"]["transaction"]["id"]
    window = admin.patch(
        app_id,
        "auto-execute",
        {
            "high_risk": {
                "enabled": True,
                "expires_at": in_an_hour(),
                "allowed_actions": ["transaction.delete"],
            }
        },
    )
    assert window["auto_execute"]["high_risk"] | {"expires_at": None} == {
        "enabled": True,
        "expires_at": None,
        "allowed_actions": ["transaction.delete"],
        "require_preflight": True,
        "require_idempotency": True,
        "max_export_rows": 1000,
    }
    payload = {"transactionId": target}
    no_key = data(
        client.post(
            "/actions",
            {"action": "transaction.delete", "payload": payload, "execute": True, "justification": "cleanup"},
        )
    )
    assert no_key["status"] == "draft" and no_key["autoExecuteDeniedCode"] == "agent.idempotency_required"
    preflight = data(client.post("/preflight", {"action": "transaction.delete", "payload": payload}))
    body = {
        "action": "transaction.delete",
        "preflightId": preflight["preflightId"],
        "execute": True,
        "justification": "cleanup",
        "idempotencyKey": "idem-1",
    }
    executed = data(client.post("/actions", body))
    assert executed["status"] == "executed" and executed["draft"]["status"] == "confirmed"
    assert executed["execution"]["result"] == {"deleted": {"id": target, "deleted": True}}
    replay = data(client.post("/actions", body))
    assert (replay["status"], replay["replayed"], replay["code"]) == (
        "executed",
        True,
        "agent.idempotency_replay",
    )
    assert replay["execution"]["id"] == executed["execution"]["id"]


def test_window_fields_require_preflight_and_idempotency_can_be_turned_off(admin: Admin) -> None:
    app_id, client = admin.new_app("relaxed window")
    stored = admin.patch(
        app_id,
        "auto-execute",
        {
            "high_risk": {
                "enabled": True,
                "expires_at": in_an_hour(),
                "require_preflight": False,
                "require_idempotency": False,
                "max_export_rows": 7,
            }
        },
    )["auto_execute"]["high_risk"]
    assert (stored["require_preflight"], stored["require_idempotency"], stored["max_export_rows"]) == (
        False,
        False,
        100,
    )
    export = data(
        client.post(
            "/actions",
            {
                "action": "transactions.export_csv",
                "payload": {"ledgerId": "ledger_main"},
                "execute": True,
                "justification": "report",
            },
        )
    )
    assert export["status"] == "executed", export
    result = export["execution"]["result"]["export"]
    assert result["format"] == "csv" and result["ledgerId"] == "ledger_main"
    assert (
        result["csv"].split("\n")[0] == "id,date,kind,title,amount_home,currency_home,created_at,updated_at"
    )
    assert result["rowCount"] == len(result["csv"].split("\n")) - 1
    refused = admin.admin.patch(f"/apps/{app_id}/auto-execute", json={"writes": {"require_preflight": False}})
    assert refused.status_code == 400 and refused.json()["code"] == "common.validation"


def test_data_policy_fields_are_enforced(admin: Admin) -> None:
    app_id, client = admin.new_app("policies")
    admin.patch(app_id, "policy", {"data": {"allowed_org_ids": ["org_elsewhere"]}})
    assert data(client.get("/ledgers"))["items"] == []
    denied = data(client.get("/transactions", ledgerId="ledger_main"), 403)
    assert (
        denied["code"] == "agent.policy_denied"
        and denied["message"] == "Organization not allowed for this integration"
    )
    admin.patch(app_id, "policy", {"data": {"max_days": 7, "allow_sensitive_fields": False}})
    listed = data(client.get("/transactions", ledgerId="ledger_main"))["items"]
    assert {"txn_1", "txn_2"} <= {item["id"] for item in listed}  # dated today: inside the window
    assert {item["title"] for item in listed} == {"[redacted]"} and {item["notes"] for item in listed} == {
        None
    }
    old = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=30)).isoformat()
    wide = data(client.get("/transactions", ledgerId="ledger_main", startDate=old), 403)
    assert wide["message"] == "Date range exceeds allowed window"
    assert (
        data(client.get("/transactions", ledgerId="ledger_main", startDate="nonsense"), 400)["code"]
        == "agent.action_invalid"
    )
    impact = data(
        client.post("/preflight", {"action": "transaction.delete", "payload": {"transactionId": "txn_1"}})
    )["impact"]
    assert impact["transaction"]["title"] == "[redacted]"


def test_an_update_cannot_move_a_transaction_out_of_the_workspace(admin: Admin) -> None:
    app_id, client = admin.new_app("mover")
    admin.patch(app_id, "auto-execute", {"writes": {"enabled": True, "expires_at": in_an_hour()}})
    moved = client.post(
        "/actions",
        {
            "action": "transaction.update",
            "payload": {"transactionId": "txn_2", "ledger_id": "ledger_foreign"},
            "execute": True,
        },
    )
    assert moved.status_code == 403, moved.text
    assert moved.json()["code"] == "agent.policy_denied"
    kept = data(
        client.post(
            "/actions",
            {"action": "transaction.update", "payload": {"id": "txn_2", "notes": ""}, "forceDraft": True},
        )
    )
    assert kept["status"] == "draft"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/preflight", {"action": "transaction.delete", "payload": {"transactionId": "txn_foreign_1"}}),
        ("/preflight", {"action": "transaction.delete", "payload": {"transactionId": "txn_nope"}}),
    ],
)
def test_foreign_and_unknown_ids_get_the_same_denial(agent: Client, path: str, body: dict[str, Any]) -> None:
    denied = data(agent.post(path, body), 403)
    assert denied == {"ok": False, "code": "agent.policy_denied", "message": "Resource is not accessible."}


def test_admin_bodies_in_the_reference_spelling(admin: Admin) -> None:
    app_id, _ = admin.new_app("admin bodies")
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()
    key = data(admin.admin.post(f"/apps/{app_id}/keys", json={"name": "ci", "expiresAt": later}))
    assert key["key"]["expires_at"] is not None and key["token"]
    listed = {item["id"]: item for item in data(admin.admin.get("/apps"))["items"]}
    assert {k["name"] for k in listed[app_id]["keys"]} >= {"Default key", "ci"}
    assert all("token_hash" not in k for k in listed[app_id]["keys"])
    policy = admin.patch(app_id, "policy", {"data": {"allowed_org_ids": ["org_demo"], "max_days": 7}})
    assert policy["ok"] is True and policy["policy"]["data"]["allowed_org_ids"] == ["org_demo"]
    tools = data(admin.admin.get(f"/apps/{app_id}/tools"))["items"]
    assert [t["name"] for t in tools] == [name for name, *_ in REFERENCE_TOOLS[2:]]
    assert tools[0] == {
        "name": "transaction.create",
        "description": "Create a new transaction.",
        "risk": "medium",
        "requiredScopes": ["transaction.write"],
        "requiresConfirmation": True,
        "http": {"method": "POST", "path": "/api/agent/v1/actions"},
    }
    both = admin.admin.post(f"/apps/{app_id}/keys", json={"expiresAt": later, "expires_at": later})
    assert both.status_code == 400
