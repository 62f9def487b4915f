"""Exactly-once execution across worker processes, and crash safety, against real `opp serve`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.support.servers import (
    crash_backend_config,
    demo_config,
    mint_admin_token,
    mint_token,
    run_cli,
    running_server,
)

T = TypeVar("T")

CREATE = {
    "ledgerId": "ledger_main",
    "kind": "expense",
    "amount": 42.5,
    "title": "Coffee beans",
    "occurredOn": dt.date.today().isoformat(),
}


def _open_window(base_url: str, admin: str, app_id: str = "app_demo") -> None:
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    response = httpx.patch(
        f"{base_url}/api/agent-admin/v1/apps/{app_id}/auto-execute",
        json={"writes": {"enabled": True, "expires_at": expires, "allowed_actions": None}},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 200, response.text


async def _fire(base_url: str, token: str, n: int, body: dict[str, Any]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        headers = {"Authorization": f"Bearer {token}"}
        return await asyncio.gather(
            *(client.post("/api/agent/v1/actions", json=body, headers=headers) for _ in range(n))
        )


def test_one_hundred_concurrent_identical_executes_give_one_effect(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    token, admin = mint_token(config), mint_admin_token(config)
    with running_server(config, workers=2) as server:
        _open_window(server.base_url, admin)
        body = {
            "action": "transaction.create",
            "payload": CREATE,
            "execute": True,
            "idempotencyKey": "once-1",
        }
        responses = asyncio.run(_fire(server.base_url, token, 100, body))
        assert [r.status_code for r in responses] == [200] * 100, {r.status_code: r.text for r in responses}
        data = [r.json()["data"] for r in responses]
        originals = [d for d in data if not d.get("replayed")]
        replays = [d for d in data if d.get("replayed")]
        assert len(originals) == 1 and len(replays) == 99
        assert originals[0]["status"] == "executed"
        execution_ids = {d["execution"]["id"] for d in data}
        assert len(execution_ids) == 1
        assert all(d["code"] == "agent.idempotency_replay" for d in replays)
        admin_headers = {"Authorization": f"Bearer {admin}"}
        drafts = httpx.get(
            f"{server.base_url}/api/agent-admin/v1/drafts",
            params={"tool": "transaction.create"},
            headers=admin_headers,
        ).json()["data"]["items"]
        assert len(drafts) == 1
        # Both workers flush their batched replay events within audit.flush_interval: wait for them.
        replay_events = _until(
            lambda: httpx.get(
                f"{server.base_url}/api/agent-admin/v1/audit",
                params={"action": "agent.action.idempotency_replay", "limit": "200"},
                headers=admin_headers,
            ).json()["data"]["items"],
            lambda events: len(events) >= 99,
        )
        assert len(replay_events) == 99
        listed = httpx.get(
            f"{server.base_url}/api/agent/v1/transactions",
            params={"ledgerId": "ledger_main"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["data"]
        assert sum(1 for item in listed["items"] if item["amount"] == 42.5) == 1


def _until(sample: Callable[[], T], done: Callable[[T], bool], deadline_s: float = 30.0) -> T:
    """Sample until ``done`` holds; fail (with the last sample) if it does not before the deadline."""
    until = time.monotonic() + deadline_s
    while True:
        value = sample()
        if done(value):
            return value
        assert time.monotonic() < until, f"condition never held; last sample: {value!r}"
        time.sleep(0.05)


def _crash_config(directory: Path) -> Path:
    return crash_backend_config(directory, "apply_then_hang", {"writes": {"execution_lease": "1s"}})


def test_a_crash_between_claim_and_completion_never_duplicates_the_effect(tmp_path: Path) -> None:
    config = _crash_config(tmp_path)
    effects = tmp_path / "effects.log"
    token, admin = mint_token(config), mint_admin_token(config)
    body = {"action": "transaction.create", "payload": CREATE, "execute": True, "idempotencyKey": "crash-1"}
    agent = {"Authorization": f"Bearer {token}"}
    admin_headers = {"Authorization": f"Bearer {admin}"}
    with running_server(config, workers=1) as server:
        _open_window(server.base_url, admin)
        with (
            httpx.Client(base_url=server.base_url, timeout=0.5) as client,
            contextlib.suppress(httpx.TimeoutException),
        ):
            client.post("/api/agent/v1/actions", json=body, headers=agent)
        deadline = time.monotonic() + 10
        while not (effects.exists() and effects.read_text()):
            assert time.monotonic() < deadline, "the backend was never called"
            time.sleep(0.05)
        os.killpg(server.process.pid, signal.SIGKILL)  # the whole server, workers included
        server.process.wait(10)
    assert effects.read_text() == "crash-1\n"
    with running_server(config, workers=1) as server:

        def retry() -> httpx.Response:
            response = httpx.post(
                f"{server.base_url}/api/agent/v1/actions", json=body, headers=agent, timeout=30
            )
            # Within writes.execution_lease the claim is still live; past it, its outcome is unknown.
            # Neither may run the backend again.
            assert response.status_code == 409, response.text
            assert response.json()["code"] == "agent.idempotency_in_progress"
            return response

        _until(retry, lambda response: response.json()["details"]["state"] == "unknown")
        drafts = httpx.get(
            f"{server.base_url}/api/agent-admin/v1/drafts",
            params={"tool": "transaction.create"},
            headers=admin_headers,
        ).json()["data"]["items"]
        assert len(drafts) == 1
        detail = httpx.get(
            f"{server.base_url}/api/agent-admin/v1/drafts/{drafts[0]['id']}", headers=admin_headers
        ).json()["data"]
        assert detail["execution"]["status"] == "unknown"
    assert effects.read_text() == "crash-1\n"


async def _drafts_until_killed(
    base_url: str, token: str, kill_after: int, kill: Callable[[], None]
) -> set[str]:
    """32 clients create drafts back to back; after ``kill_after`` acknowledgements the server is
    killed mid-stream. Returns the ids of every draft the server acknowledged (200)."""
    acknowledged: set[str] = set()
    killed = asyncio.Event()
    body = {"action": "transaction.create", "payload": CREATE}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:

        async def creator() -> None:
            while not killed.is_set():
                try:
                    response = await client.post(
                        "/api/agent/v1/actions", json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                except httpx.TransportError:
                    return  # the server is gone: this request was never acknowledged
                assert response.status_code == 200, response.text
                acknowledged.add(response.json()["data"]["draft"]["id"])
                if len(acknowledged) >= kill_after and not killed.is_set():
                    killed.set()
                    kill()

        await asyncio.gather(*(creator() for _ in range(32)))
    return acknowledged


def test_every_acknowledged_draft_survives_sigkill_under_load(tmp_path: Path) -> None:
    """Drafts committed in shared transactions (group commit) are acknowledged only after their
    commit: SIGKILL of the whole server under 32 concurrent writers loses none of them, and the
    audit hash chain still verifies."""
    config = demo_config(tmp_path, {"rate_limits": {"rules": []}})
    token = mint_token(config)
    with running_server(config, workers=2) as server:

        def kill() -> None:
            os.killpg(server.process.pid, signal.SIGKILL)

        acknowledged = asyncio.run(_drafts_until_killed(server.base_url, token, 300, kill))
        server.process.wait(10)
    assert len(acknowledged) >= 300
    with running_server(config, workers=1) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
            missing = [
                i for i in sorted(acknowledged) if client.get(f"/api/agent/v1/drafts/{i}").status_code != 200
            ]
        assert missing == []
    verified = run_cli("audit", "verify", str(config), cwd=config.parent)
    assert verified.returncode == 0, verified.stdout + verified.stderr
