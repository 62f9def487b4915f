"""An upstream MCP server (``upstream_server.py``, written with the SDK) governed end to end through
opp: declared in ``gateway.yaml`` as a ``kind: mcp`` backend (streamable HTTP and stdio), its tools
served with scopes, CEL on the arguments, a draft, an approval and audit — and the agent's token
never forwarded upstream."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.mcp_binding.support import admin_get, approve, gateway_config, mcp_client
from tests.support.servers import (
    RunningServer,
    free_port,
    mint_token,
    run_cli,
    running_server,
)

HERE = Path(__file__).parent
UPSTREAM = HERE / "upstream_server.py"
SECRET_ENV = "OPP_TEST_SHOP_MCP_TOKEN"
SECRET = "upstream-service-secret"
SHOP_APP = {
    "id": "app_shop",
    "name": "Shop support agent",
    "scope": "workspace",
    "org_id": "org_demo",
    "scopes": ["orders.read", "orders.refund"],
}
ORDER_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["orderId"],
    "properties": {"orderId": {"type": "string"}},
}


def _tools(stdio_command: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "shop.order.get",
            "description": "Look an order up (upstream MCP tool get_order).",
            "required_scopes": ["orders.read"],
            "input_schema": ORDER_INPUT,
            "backend": {"backend": "shop", "call": "get_order"},
        },
        {
            "name": "shop.whoami",
            "description": "What the upstream saw of the caller.",
            "required_scopes": ["orders.read"],
            "input_schema": {"type": "object", "properties": {}, "additionalProperties": False},
            "backend": {"backend": "shop", "call": "whoami"},
        },
        {
            "name": "shop.stdio.order.get",
            "description": "get_order through the stdio upstream.",
            "required_scopes": ["orders.read"],
            "input_schema": ORDER_INPUT,
            "backend": {"backend": "shop_stdio", "call": "get_order"},
        },
        {
            "name": "shop.refund",
            "description": "Refund part of an order (upstream MCP tool refund_order).",
            "kind": "action",
            "risk": "high",
            "required_scopes": ["orders.refund"],
            "input_schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["orderId", "amount"],
                "properties": {
                    "orderId": {"type": "string"},
                    "amount": {"type": "number", "exclusiveMinimum": 0},
                },
            },
            "policies": ["allow-workspace-writes", "refund-cap"],
            "impact": {
                "summary": "Refund {args.amount} on order {args.orderId}",
                "fields": {"orderId": "args.orderId", "amount": "args.amount"},
            },
            "backend": {"backend": "shop", "call": "refund_order"},
        },
    ]


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20.0
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"upstream MCP server did not start ({process.returncode})")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(UPSTREAM), "http", str(port)], start_new_session=True)
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def shop_gateway(tmp_path_factory: pytest.TempPathFactory, upstream_url: str) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("mcp-upstream")
    config, port = gateway_config(directory)
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["scopes"] |= {"orders.read": "Read orders.", "orders.refund": "Refund orders."}
    document["apps"].append(SHOP_APP)
    document["backends"]["shop"] = {
        "kind": "mcp",
        "url": upstream_url,
        "headers": {"Authorization": f"Bearer ${{{SECRET_ENV}}}"},
    }
    document["backends"]["shop_stdio"] = {"kind": "mcp", "command": [sys.executable, str(UPSTREAM), "stdio"]}
    document["policies"].append(
        {
            "id": "refund-cap",
            "effect": "deny",
            "when": "args.amount > 100.0",
            "message": "Refunds above 100 need a manager.",
        }
    )
    document["tools"] += _tools([sys.executable, str(UPSTREAM), "stdio"])
    config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    os.environ[SECRET_ENV] = SECRET
    try:
        with running_server(config, port=port) as server:
            yield server
    finally:
        os.environ.pop(SECRET_ENV, None)


async def test_upstream_tools_are_governed_end_to_end(shop_gateway: RunningServer) -> None:
    token = mint_token(shop_gateway.config, "app_shop")
    async with mcp_client(shop_gateway, token) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        order = await client.call_tool("shop.order.get", {"orderId": "ord_1"})
        over_stdio = await client.call_tool("shop.stdio.order.get", {"orderId": "ord_1"})
        seen = await client.call_tool("shop.whoami", {})
        missing = await client.call_tool("shop.order.get", {"orderId": "ord_nope"})
        capped = await client.call_tool("shop.refund", {"orderId": "ord_1", "amount": 500})
        drafted = await client.call_tool("shop.refund", {"orderId": "ord_1", "amount": 25})
    assert {"shop.order.get", "shop.refund", "shop.whoami"} <= names and "ledger.list" not in names
    assert order.structured_content == {"id": "ord_1", "tenant": "org_demo", "amount": 250, "refunded": 0}
    assert over_stdio.structured_content["id"] == "ord_1"
    # the upstream saw the gateway's own credential and the caller's context, never the agent's key
    assert seen.structured_content["authorization"] == f"Bearer {SECRET}"
    assert token not in str(seen.structured_content)
    assert seen.structured_content["context"]["appId"] == "app_shop"
    assert seen.structured_content["context"]["tenant"] == "org_demo"
    assert missing.is_error is True and missing.structured_content["code"] == "agent.execution_failed"
    assert "no such order" not in str(missing.structured_content)  # upstream text stays upstream
    assert capped.is_error is True and capped.structured_content == {
        "ok": False,
        "code": "agent.policy_denied",
        "message": "Refunds above 100 need a manager.",
    }
    draft = drafted.structured_content
    assert draft["status"] == "draft", draft

    assert approve(shop_gateway, draft["draft"]["id"], "refund ok")["execution"]["status"] == "success"
    async with mcp_client(shop_gateway, token) as client:
        after = await client.call_tool("shop.order.get", {"orderId": "ord_1"})
    assert after.structured_content["refunded"] == 25

    events = admin_get(shop_gateway, "/audit", tool="shop.refund")["items"]
    actions = {(event["action"], event["status"]) for event in events}
    assert ("agent.action.submit", "denied") in actions  # the refund-cap denial
    assert ("agent.action.draft.created", "success") in actions
    assert ("agent.action.execute", "success") in actions


def test_a_reader_without_the_scope_sees_no_upstream_tool(shop_gateway: RunningServer) -> None:
    import anyio

    async def names() -> set[str]:
        async with mcp_client(shop_gateway, mint_token(shop_gateway.config, "app_reader")) as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    assert not any(name.startswith("shop.") for name in anyio.run(names))


def test_opp_import_mcp_prints_a_gateway_snippet(shop_gateway: RunningServer, upstream_url: str) -> None:
    for target in (upstream_url, f"{sys.executable} {UPSTREAM} stdio"):
        result = run_cli("import", "mcp", target, "--name", "shop", cwd=shop_gateway.config.parent)
        assert result.returncode == 0, result.stderr
        snippet = yaml.safe_load(result.stdout)
        assert snippet["backends"]["shop"]["kind"] == "mcp"
        tools = {tool["name"]: tool for tool in snippet["tools"]}
        assert tools["shop.get_order"]["kind"] == "read"
        assert tools["shop.refund_order"]["kind"] == "action" and tools["shop.refund_order"]["risk"] == "high"
        assert tools["shop.get_order"]["backend"] == {"backend": "shop", "call": "get_order"}
        assert tools["shop.get_order"]["input_schema"]["required"] == ["orderId"]
