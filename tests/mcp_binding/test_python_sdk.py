"""The official MCP Python SDK client against a real ``opp serve``: discovery per credential, reads,
the tenant boundary, the write lifecycle through the admin plane, idempotency, rate limits and an
OAuth DPoP-bound token, each decided by the same engine as the REST binding."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import httpx2
import pytest
from joserfc.jwk import ECKey
from mcp.shared.exceptions import MCPError

from tests.mcp_binding.support import (
    ADMIN,
    QUOTA,
    DpopAuth,
    admin_get,
    approve,
    dpop_client,
    mcp_client,
    oauth_token,
)
from tests.support.servers import RunningServer, mint_token

WRITE = "openport/write"


def create_args(**overrides: Any) -> dict[str, Any]:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    return {
        "ledgerId": "ledger_main",
        "kind": "expense",
        "amount": 12.5,
        "title": "Lunch",
        "occurredOn": today,
        **overrides,
    }


def refusal(error: BaseException) -> MCPError:
    """The JSON-RPC error inside what the client raised (its task groups wrap it)."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, MCPError), repr(error)
    return error


def audit(server: RunningServer, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = admin_get(server, "/audit", **params)["items"]
    return items


async def test_tools_list_is_what_the_credential_may_call(mcp_server: RunningServer) -> None:
    async with mcp_client(mcp_server, mint_token(mcp_server.config)) as client:
        full = {tool.name: tool for tool in (await client.list_tools()).tools}
    async with mcp_client(mcp_server, mint_token(mcp_server.config, "app_reader")) as client:
        narrow = [tool.name for tool in (await client.list_tools()).tools]
    assert narrow == ["ledger.list"]
    assert {
        "ledger.list",
        "transaction.list",
        "transaction.create",
        "opp.preflight",
        "opp.draft.status",
    } <= set(full)
    listed = full["transaction.list"]
    assert listed.input_schema["required"] == ["ledgerId"]
    assert listed.annotations is not None and listed.annotations.read_only_hint is True
    delete = full["transaction.delete"]
    assert delete.annotations is not None
    assert (delete.annotations.read_only_hint, delete.annotations.destructive_hint) == (False, True)
    assert delete.meta is not None and delete.meta["openport/tool"]["risk"] == "high"
    assert full["transaction.create"].meta["openport/tool"]["requiredScopes"] == ["transaction.write"]  # type: ignore[index]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_read_and_the_tenant_boundary(mcp_server: RunningServer, mode: str) -> None:
    async with mcp_client(mcp_server, mint_token(mcp_server.config), mode=mode) as client:
        expected = "2025-11-25" if mode == "legacy" else mode
        assert client.protocol_version == expected
        read = await client.call_tool("transaction.list", {"ledgerId": "ledger_main"})
        foreign = await client.call_tool("transaction.list", {"ledgerId": "ledger_foreign"})
        missing = await client.call_tool("transaction.list", {"ledgerId": "ledger_nope"})
        invalid = await client.call_tool("transaction.list", {"ledgerId": "ledger_main", "pageSize": 9999})
    assert read.is_error is False
    assert {item["id"] for item in read.structured_content["items"]} >= {"txn_1", "txn_2"}
    assert read.structured_content["items"][0]["title"] == "[redacted]"  # redaction, as over REST
    assert foreign.is_error is True and missing.is_error is True
    assert foreign.structured_content == missing.structured_content
    assert foreign.structured_content == {
        "ok": False,
        "code": "agent.policy_denied",
        "message": "Resource is not accessible.",
    }
    assert invalid.is_error is True and invalid.structured_content["code"] == "common.validation"


async def test_the_2025_06_18_handshake_is_accepted(mcp_server: RunningServer) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    headers = {
        "Authorization": f"Bearer {mint_token(mcp_server.config)}",
        "Accept": "application/json, text/event-stream",
    }
    response = httpx.post(mcp_server.base_url + "/mcp", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["protocolVersion"] == "2025-06-18"
    assert "tools" in response.json()["result"]["capabilities"]


async def test_no_credential_is_a_401_challenge_naming_the_resource_metadata(
    mcp_server: RunningServer,
) -> None:
    with pytest.raises(Exception) as refused:
        async with mcp_client(mcp_server) as client:
            await client.list_tools()
    assert refusal(refused.value).error.data["code"] == "agent.token_invalid"
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}
    response = httpx.post(
        mcp_server.base_url + "/mcp", json=body, headers={"Accept": "application/json"}, timeout=10
    )
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert f'resource_metadata="{mcp_server.base_url}/.well-known/oauth-protected-resource"' in challenge
    assert response.json()["error"]["data"]["code"] == "agent.token_invalid"
    events = audit(mcp_server, action="agent.manifest.read", status="denied")
    assert any(e["details"].get("binding") == "mcp" and e["details"].get("jsonrpc_id") == 7 for e in events)
    handshakes = audit(mcp_server, action="agent.mcp.initialize", status="denied")
    assert handshakes and handshakes[0]["code"] == "agent.token_invalid"
    assert handshakes[0]["details"]["jsonrpc_method"] == "initialize"


async def test_a_write_becomes_a_draft_an_approver_executes(mcp_server: RunningServer) -> None:
    token = mint_token(mcp_server.config)
    async with mcp_client(mcp_server, token) as client:
        submitted = await client.call_tool("transaction.create", create_args(title="MCP draft"))
        assert submitted.is_error is False, submitted.structured_content
        result = submitted.structured_content
        assert result["status"] == "draft"
        assert result["autoExecuteDeniedCode"] == "agent.auto_execute_disabled"
        draft_id = result["draft"]["id"]
        assert result["reviewUrl"] == f"{mcp_server.base_url}{ADMIN}/drafts/{draft_id}"

        approve(mcp_server, draft_id, "looks right")

        status = await client.call_tool("opp.draft.status", {"draftId": draft_id})
        assert status.structured_content["draft"]["status"] == "confirmed"
        assert status.structured_content["execution"]["status"] == "success"
        other = await client.call_tool("opp.draft.status", {"draftId": "drf_nope"})
        assert other.is_error is True and other.structured_content["code"] == "agent.draft_not_found"
    created = audit(mcp_server, action="agent.action.draft.created")
    mine = [e for e in created if e["draft_id"] == draft_id]
    assert mine and mine[0]["details"]["binding"] == "mcp"
    assert mine[0]["details"]["jsonrpc_method"] == "tools/call"


async def test_preflight_and_idempotency_over_meta(mcp_server: RunningServer) -> None:
    async with mcp_client(mcp_server, mint_token(mcp_server.config)) as client:
        args = create_args(title="Idempotent lunch")
        preview = await client.call_tool("opp.preflight", {"action": "transaction.create", "arguments": args})
        assert preview.is_error is False, preview.structured_content
        preflight = preview.structured_content
        assert preflight["preflightId"].startswith("pfl") and len(preflight["impactHash"]) == 64
        controls = {"idempotencyKey": "mcp-key-1", "preflightId": preflight["preflightId"], "execute": False}
        first = await client.call_tool("transaction.create", args, meta={WRITE: controls})  # type: ignore[typeddict-unknown-key]
        again = await client.call_tool("transaction.create", args, meta={WRITE: controls})  # type: ignore[typeddict-unknown-key]
        changed = await client.call_tool(
            "transaction.create",
            create_args(title="Another"),
            meta={WRITE: {"idempotencyKey": "mcp-key-1"}},  # type: ignore[typeddict-unknown-key]
        )
        bad = await client.call_tool("transaction.create", args, meta={WRITE: {"nope": 1}})  # type: ignore[typeddict-unknown-key]
    assert first.structured_content["status"] == "draft"
    assert again.structured_content["replayed"] is True
    assert again.structured_content["code"] == "agent.idempotency_replay"
    assert again.structured_content["draft"]["id"] == first.structured_content["draft"]["id"]
    assert changed.is_error is True and changed.structured_content["code"] == "agent.idempotency_conflict"
    assert bad.is_error is True and bad.structured_content["code"] == "common.validation"


async def test_a_rate_limited_call_is_a_tool_error_with_the_reason_code(mcp_server: RunningServer) -> None:
    async with mcp_client(mcp_server, mint_token(mcp_server.config, "app_reader")) as client:
        results = [await client.call_tool("ledger.list", {}) for _ in range(QUOTA + 1)]
    assert [r.is_error for r in results] == [False] * QUOTA + [True]
    refused = results[-1].structured_content
    assert refused["code"] == "agent.rate_limited"
    assert refused["details"]["violatedPolicies"] == ["mcp-ledger-quota"]
    assert refused["details"]["retryAfterSeconds"] >= 1


async def test_a_scope_outside_the_grant_is_refused_at_call_time(mcp_server: RunningServer) -> None:
    async with mcp_client(mcp_server, mint_token(mcp_server.config, "app_reader")) as client:
        denied = await client.call_tool("transaction.list", {"ledgerId": "ledger_main"})
        unknown = await client.call_tool("no.such.tool", {})
    assert denied.is_error is True
    assert denied.structured_content["code"] == "agent.scope_denied"
    assert unknown.is_error is True and unknown.structured_content["code"] == "agent.action_unknown"


async def test_an_oauth_dpop_bound_token(mcp_server: RunningServer) -> None:
    token, key = oauth_token(mcp_server)
    async with dpop_client(mcp_server, token, key) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        read = await client.call_tool("ledger.list", {})
    assert "transaction.create" in names
    assert read.is_error is False and read.structured_content["items"]
    with pytest.raises(Exception) as stolen:
        async with dpop_client(mcp_server, token, ECKey.generate_key("P-256", auto_kid=False)) as client:
            await client.list_tools()
    assert refusal(stolen.value).error.data["code"] in {"agent.token_binding_mismatch", "agent.dpop_invalid"}
    with pytest.raises(Exception) as bearer:
        async with mcp_client(mcp_server, token) as client:  # the DPoP-bound token sent as Bearer
            await client.list_tools()
    assert refusal(bearer.value).error.data["code"] in {"agent.token_binding_mismatch", "agent.token_invalid"}


async def test_step_up_for_a_missing_scope_is_403_insufficient_scope(mcp_server: RunningServer) -> None:
    token, key = oauth_token(mcp_server, "--scope", "ledger.read")
    auth = DpopAuth(token, key)
    body = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "transaction.list", "arguments": {"ledgerId": "ledger_main"}},
    }
    async with httpx2.AsyncClient(auth=auth, timeout=10) as http:
        response = await http.post(
            mcp_server.base_url + "/mcp", json=body, headers={"Accept": "application/json"}
        )
    assert response.status_code == 403, response.text
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="transaction.read"' in challenge
    assert "resource_metadata=" in challenge
    assert response.json()["error"]["data"]["code"] == "agent.scope_denied"
