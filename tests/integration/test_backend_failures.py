"""A slow or failing backend gives a sanitised envelope and an audited failure, never a 500 leak."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, Gateway


def _with_backend(function: str, timeout: str = "30s") -> str:
    text = (ROOT / "examples" / "ledger" / "gateway.yaml").read_text()
    text = text.replace(
        "    backend: {backend: demo, call: list_ledgers}", f'    backend: {{function: "{function}"}}'
    )
    return text.replace("  trusted_proxies: []", f"  trusted_proxies: []\n  request_timeout: {timeout}")


@pytest.mark.parametrize(
    "config_text", [_with_backend("tests.integration.slow_backend:hang", "100ms")], indirect=True
)
async def test_a_hanging_backend_is_cut_off_at_the_request_timeout(gateway: Gateway) -> None:
    response = await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth())
    assert response.status_code == 504
    assert response.json() == {
        "ok": False,
        "code": "agent.upstream_unavailable",
        "message": "Tool backend timed out.",
    }
    event = (await gateway.events(tool="ledger.list"))[0]
    assert (event.status, event.code) == ("failed", "agent.upstream_unavailable")


@pytest.mark.parametrize(
    "config_text", [_with_backend("tests.integration.slow_backend:explode")], indirect=True
)
async def test_a_failing_backend_is_sanitised(gateway: Gateway, tmp_path: Path) -> None:
    response = await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth())
    assert response.status_code == 502
    assert response.json()["code"] == "agent.execution_failed"
    assert "hunter2" not in response.text
    event = (await gateway.events(tool="ledger.list"))[0]
    assert event.status == "failed" and "hunter2" not in str(event)
