"""The envelope on every response, including the framework's own errors."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Gateway


def _envelope(body: dict[str, Any], code: str) -> None:
    assert body["ok"] is False and body["code"] == code and isinstance(body["message"], str)


async def test_unknown_route_is_404_envelope(gateway: Gateway) -> None:
    response = await gateway.client.get("/api/agent/v1/nope", headers=gateway.auth())
    assert response.status_code == 404
    _envelope(response.json(), "common.not_found")


async def test_wrong_method_is_405_envelope(gateway: Gateway) -> None:
    response = await gateway.client.delete("/api/agent/v1/ledgers", headers=gateway.auth())
    assert response.status_code == 405
    _envelope(response.json(), "common.method_not_allowed")


async def test_malformed_json_is_400(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/api/agent-admin/v1/apps",
        content=b"{not json",
        headers={**gateway.admin_auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    _envelope(response.json(), "common.validation")


async def test_wrong_content_type_is_415(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/api/agent-admin/v1/apps",
        content=b"name=x",
        headers={**gateway.admin_auth(), "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    _envelope(response.json(), "common.unsupported_media_type")


async def test_oversized_body_is_413(gateway: Gateway) -> None:
    body = b'{"name": "' + b"x" * 2_000_000 + b'"}'
    response = await gateway.client.post(
        "/api/agent-admin/v1/apps",
        content=body,
        headers={**gateway.admin_auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["connection"] == "close"  # the rest of the body was not read
    _envelope(response.json(), "common.payload_too_large")


async def test_internal_errors_are_sanitised(gateway: Gateway) -> None:
    class Exploding:
        async def find_by_hash(self, token_hash: str) -> None:
            raise RuntimeError("secret: /var/lib/opp password=hunter2")

    keys = gateway.runtime.authorizer._authenticator._keys
    keys._store = type("S", (), {"keys": Exploding()})()  # type: ignore[assignment]
    response = await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth())
    assert response.status_code == 500
    body = response.json()
    assert body == {"ok": False, "code": "common.internal_error", "message": "Internal error."}
    assert "hunter2" not in response.text


async def test_health_and_readiness(gateway: Gateway) -> None:
    health = await gateway.client.get("/healthz")
    assert health.json() == {"ok": True, "code": "common.success", "data": {"status": "ok"}}
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["data"]["status"] == "ready"


async def test_request_id_is_echoed(gateway: Gateway) -> None:
    response = await gateway.client.get(
        "/api/agent/v1/ledgers", headers={**gateway.auth(), "X-Request-Id": "abc-123"}
    )
    assert response.headers["x-request-id"] == "abc-123"
    event = (await gateway.events(tool="ledger.list"))[0]
    assert event.request_id == "abc-123"


async def test_openapi_document_lists_tool_routes(gateway: Gateway) -> None:
    doc = (await gateway.client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    params = {p["name"] for p in doc["paths"]["/api/agent/v1/transactions"]["get"]["parameters"]}
    assert params == {"ledgerId", "startDate", "endDate", "page", "pageSize"}
