"""Protocol faults at ``/mcp`` against a real ``opp serve``: DNS-rebinding refusals, wrong methods,
media types and bodies each leave as a JSON-RPC error with a 4xx status, never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.servers import RunningServer, mint_token

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def post(server: RunningServer, headers: dict[str, str], **body: Any) -> httpx.Response:
    return httpx.post(server.base_url + "/mcp", headers={**ACCEPT, **headers}, timeout=10, **body)


def rpc_error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    payload = response.json()
    assert payload["jsonrpc"] == "2.0" and "error" in payload, payload
    error: dict[str, Any] = payload["error"]
    return error


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example"}, 421),
        ({"Host": "evil.example:80"}, 421),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
    ],
)
def test_dns_rebinding_is_refused_before_authentication(
    mcp_server: RunningServer, headers: dict[str, str], status: int
) -> None:
    token = mint_token(mcp_server.config)
    response = post(mcp_server, {"Authorization": f"Bearer {token}", **headers}, json=PING)
    assert response.status_code == status
    assert rpc_error(response)["code"] == -32600


def test_the_public_origin_and_loopback_aliases_are_accepted(mcp_server: RunningServer) -> None:
    token = mint_token(mcp_server.config)
    port = mcp_server.base_url.rsplit(":", 1)[1]
    for origin in (mcp_server.base_url, f"http://localhost:{port}"):
        response = post(mcp_server, {"Authorization": f"Bearer {token}", "Origin": origin}, json=PING)
        assert response.status_code == 200, response.text
        assert response.json()["result"] == {}


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}', {"Content-Type": "text/plain"}, 400),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
            {"Content-Type": "application/json", "Accept": "text/html"},
            406,
        ),
        (b"[" * 100_000, {"Content-Type": "application/json"}, 400),
        (b"x" * 2_000_000, {"Content-Type": "application/json"}, 413),
    ],
)
def test_malformed_requests_get_json_rpc_errors(
    mcp_server: RunningServer, content: bytes, headers: dict[str, str], status: int
) -> None:
    token = mint_token(mcp_server.config)
    response = post(mcp_server, {"Authorization": f"Bearer {token}", **headers}, content=content)
    assert response.status_code == status, response.text
    assert rpc_error(response)["code"] in {-32700, -32600, -32602}


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_only_post_is_served(mcp_server: RunningServer, method: str) -> None:
    response = httpx.request(method, mcp_server.base_url + "/mcp", headers=ACCEPT, timeout=10)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert rpc_error(response)["code"] == -32600


def test_bad_params_are_json_rpc_errors_not_5xx(mcp_server: RunningServer) -> None:
    token = mint_token(mcp_server.config)
    auth = {"Authorization": f"Bearer {token}"}
    bodies: list[Any] = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "ledger.list", "arguments": "x"},
        },
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": 5}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call"},
        {"jsonrpc": "2.0", "id": 4, "method": "resources/list"},
        {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": "ledger.list", "_meta": {"openport/write": 1}},
        },
    ]
    for body in bodies:
        response = post(mcp_server, auth, json=body)
        assert response.status_code < 500, response.text
        payload = response.json()
        assert "error" in payload or payload["result"].get("isError") is False, payload


def test_a_message_with_an_object_id_is_not_answered_as_a_request(mcp_server: RunningServer) -> None:
    body = {"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}
    response = post(mcp_server, {"Authorization": f"Bearer {mint_token(mcp_server.config)}"}, json=body)
    assert response.status_code in {202, 400}, response.text  # the SDK reads it as a notification


def test_a_revoked_key_is_refused_on_every_method(mcp_server: RunningServer) -> None:
    for method in ("initialize", "ping", "tools/list", "tools/call"):
        body = {"jsonrpc": "2.0", "id": 9, "method": method, "params": {"name": "ledger.list"}}
        response = post(mcp_server, {"Authorization": "Bearer op_not_a_real_key"}, json=body)
        assert response.status_code == 401, (method, response.text)
        assert rpc_error(response)["data"]["code"] == "agent.token_invalid"


@pytest.mark.parametrize(
    "params",
    [
        {"name": "opp.preflight", "arguments": {"action": 5}},
        {"name": "opp.draft.status", "arguments": {}},
        {"name": "transaction.create", "arguments": {}, "_meta": {"openport/write": {"nope": 1}}},
        {"name": "no.such.tool"},
    ],
)
def test_bad_arguments_without_a_credential_are_a_401_first(mcp_server: RunningServer, params: Any) -> None:
    body = {"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": params}
    response = post(mcp_server, {}, json=body)
    assert response.status_code == 401, response.text
    assert rpc_error(response)["data"]["code"] == "agent.token_invalid"
