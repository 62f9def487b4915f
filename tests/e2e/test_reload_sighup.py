"""Live reload and metrics against a real ``opp serve --workers 2``.

``SIGHUP`` goes to the main process only, as an operator (or a config-map reloader) sends it;
``opp serve`` forwards it to each worker, which recompiles the file and swaps its Plan. Each worker
audits its own reload with its pid, which is how these tests know every worker took part.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import RunningServer, demo_config, running_server

MANIFEST = "/api/agent/v1/manifest"
LEDGERS = "/api/agent/v1/ledgers"
AUDIT = "/api/agent-admin/v1/audit"
OLD_DESCRIPTION = "List ledgers in the current workspace."
NEW_DESCRIPTION = "List the ledgers of this workspace (reloaded by SIGHUP)."
ROUNDS = 40  # requests per check: both workers answer some of them with overwhelming probability
T = TypeVar("T")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(demo_config(tmp_path), workers=2) as running:
        yield running


def eventually(probe: Callable[[], T | None], deadline_s: float = 30.0) -> T:
    """Poll ``probe`` until it returns something (no assertion on how long that took)."""
    deadline = time.monotonic() + deadline_s
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.1)


def descriptions(client: httpx.Client, token: str) -> set[str]:
    """The ``ledger.list`` descriptions seen over ROUNDS manifest requests."""
    seen = set()
    for _ in range(ROUNDS):
        response = client.get(MANIFEST, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        seen |= {t["description"] for t in response.json()["data"]["tools"] if t["name"] == "ledger.list"}
    return seen


def reload_events(client: httpx.Client, admin: str) -> list[dict[str, Any]]:
    response = client.get(
        AUDIT, params={"action": "agent_admin.reload"}, headers={"Authorization": f"Bearer {admin}"}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return list(reversed(items))  # oldest first


def events_of(client: httpx.Client, admin: str, count: int) -> list[dict[str, Any]] | None:
    events = reload_events(client, admin)
    return events if len(events) >= count else None


def edit(config: Path, old: str, new: str) -> None:
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))


def test_sighup_reloads_every_worker_and_a_broken_file_is_refused_by_each(server: RunningServer) -> None:
    token, admin = server.token(), server.admin_token()
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        assert descriptions(client, token) == {OLD_DESCRIPTION}
        edit(server.config, OLD_DESCRIPTION, NEW_DESCRIPTION)

        server.process.send_signal(signal.SIGHUP)

        reloaded = eventually(lambda: events_of(client, admin, 2))
        assert [(e["status"], e["details"]["trigger"]) for e in reloaded] == [("success", "signal")] * 2
        assert len({e["details"]["pid"] for e in reloaded}) == 2, "each worker reloads itself"
        assert descriptions(client, token) == {NEW_DESCRIPTION}

        edit(
            server.config,
            "    kind: read\n    risk: low\n    required_scopes: [ledger.read]",
            "    kind: reed",
        )
        server.process.send_signal(signal.SIGHUP)

        refused = eventually(lambda: events_of(client, admin, 4))[2:]
        assert [(e["status"], e["code"]) for e in refused] == [("denied", "common.validation")] * 2
        assert {e["details"]["pid"] for e in refused} == {e["details"]["pid"] for e in reloaded}
        assert all("config." in e["details"]["first_diagnostic"] for e in refused)
        for _ in range(ROUNDS):
            read = client.get(LEDGERS, headers={"Authorization": f"Bearer {token}"})
            assert read.status_code == 200
        assert descriptions(client, token) == {NEW_DESCRIPTION}
    log = server.stdout()
    assert "Respawning worker" not in log and "HUP signal received" not in log


def test_an_admin_reload_reaches_the_other_worker(server: RunningServer) -> None:
    token, admin = server.token(), server.admin_token()
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        edit(server.config, OLD_DESCRIPTION, NEW_DESCRIPTION)

        response = client.post("/api/agent-admin/v1/reload", headers={"Authorization": f"Bearer {admin}"})

        assert response.status_code == 200, response.text
        assert response.json()["data"]["allWorkers"] is True
        events = eventually(lambda: events_of(client, admin, 2))
        triggers = sorted(e["details"]["trigger"] for e in events)
        assert triggers == ["admin", "signal"]
        assert len({e["details"]["pid"] for e in events}) == 2
        assert descriptions(client, token) == {NEW_DESCRIPTION}


def _requests_total(text: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "opp_requests_total" and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def test_metrics_aggregate_every_worker(server: RunningServer) -> None:
    token = server.token()
    ledgers = {"route": LEDGERS, "tool": "ledger.list", "code": "common.success", "status": "200"}
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        for _ in range(ROUNDS):
            assert client.get(LEDGERS, headers={"Authorization": f"Bearer {token}"}).status_code == 200

        def counted() -> str | None:
            text = client.get("/metrics").text
            return text if _requests_total(text, **ledgers) == ROUNDS else None

        text = eventually(counted)
    assert "opp_request_duration_seconds_bucket" in text and "opp_backend_duration_seconds_count" in text
    assert "opp_drafts_pending" in text
