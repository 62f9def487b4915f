"""The official MCP TypeScript SDK client (``@modelcontextprotocol/sdk`` from npm, run by node)
against a real ``opp serve``: discovery, a read, the tenant boundary, a write that becomes a draft,
an approval through the admin plane, and the draft polled to its result."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.mcp_binding.support import approve
from tests.support.interop import NODE_DIR, require_peers
from tests.support.servers import RunningServer, mint_token


def ts_client(*args: str) -> Any:
    result = subprocess.run(
        ["node", str(NODE_DIR / "mcp_client.mjs"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_typescript_sdk_client_core_flow(mcp_server: RunningServer) -> None:
    require_peers("node")
    url, token = mcp_server.base_url + "/mcp", mint_token(mcp_server.config)
    flow = ts_client("flow", url, token)
    assert flow["server"]["name"] == "opp ledger demo"
    names = [tool["name"] for tool in flow["tools"]]
    assert {"ledger.list", "transaction.list", "transaction.create", "opp.draft.status"} <= set(names)
    listing = next(tool for tool in flow["tools"] if tool["name"] == "transaction.list")
    assert listing["annotations"]["readOnlyHint"] is True
    assert listing["meta"]["openport/tool"]["requiredScopes"] == ["transaction.read"]
    assert flow["read"].get("isError", False) is False
    assert flow["read"]["structuredContent"]["items"]
    assert flow["foreign"]["isError"] is True
    assert flow["foreign"]["structuredContent"]["code"] == "agent.policy_denied"

    write = flow["write"]["structuredContent"]
    assert write["status"] == "draft" and write["autoExecuteDeniedCode"] == "agent.auto_execute_disabled"
    draft_id = write["draft"]["id"]
    approve(mcp_server, draft_id, "ts")
    status = ts_client("status", url, token, draft_id)
    assert status["structuredContent"]["draft"]["status"] == "confirmed"
    assert status["structuredContent"]["execution"]["status"] == "success"
