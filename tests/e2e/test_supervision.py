"""Process supervision of a real ``opp serve``: a dead worker is respawned, SIGTERM drains (bounded).

The writes go to ``tests/support/crash_backend.py``, which records one line per effect, so "no
duplicate effect" is read from what the backend actually did, not from what the gateway says.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.admin import AdminPlane
from tests.support.servers import (
    RunningServer,
    crash_backend_config,
    executed_create,
    mint_admin_token,
    mint_token,
    run_cli,
    running_server,
)

ACTIONS = "/api/agent/v1/actions"
LEDGERS = "/api/agent/v1/ledgers"
BURST = 120
CONCURRENCY = 8
KILL_AFTER = 30
"""The worker is killed once this many writes of the burst have been answered."""
DEADLINE_S = 90.0


async def _burst(base_url: str, token: str, kill: Callable[[], None]) -> dict[str, httpx.Response]:
    """Send BURST writes, CONCURRENCY at a time; a write whose connection dies is retried with its key."""
    answered: dict[str, httpx.Response] = {}
    deadline = time.monotonic() + DEADLINE_S
    gate = asyncio.Semaphore(CONCURRENCY)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def one(key: str) -> None:
            async with gate:
                while key not in answered:
                    assert time.monotonic() < deadline, f"{key} never answered"
                    try:
                        answered[key] = await client.post(ACTIONS, json=executed_create(key), headers=headers)
                    except httpx.TransportError:
                        continue  # its worker died with the connection: the client retries the same key
                    if len(answered) == KILL_AFTER:
                        kill()

        await asyncio.gather(*(one(f"burst-{n}") for n in range(BURST)))
    return answered


def _eventually(probe: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not probe():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _governed_read_answers(server: RunningServer, token: str) -> bool:
    try:
        response = httpx.get(f"{server.base_url}{LEDGERS}", headers={"Authorization": f"Bearer {token}"})
    except httpx.TransportError:
        return False
    return response.status_code == 200


def _terminate(server: RunningServer) -> int:
    """SIGTERM to the main process only, as an init system sends it; its exit status."""
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(60)


def test_a_sigkilled_worker_is_respawned_during_a_write_burst_without_a_duplicate_effect(
    tmp_path: Path,
) -> None:
    config = crash_backend_config(tmp_path, "apply")
    token, admin = mint_token(config), mint_admin_token(config)
    with running_server(config, workers=2) as server:
        AdminPlane(server.base_url, admin).open_writes_window()
        victim = server.worker_pids()[1]
        answered = asyncio.run(_burst(server.base_url, token, lambda: os.kill(victim, signal.SIGKILL)))

        assert server.process.poll() is None, server.stdout()
        _eventually(lambda: server.worker_pids()[1] != victim, "worker-1 respawned")
        _eventually(lambda: server.stdout().count("Started worker-1") == 2, "the new worker-1 serving")
        assert not _alive(victim) and _alive(server.worker_pids()[1]) and _alive(server.worker_pids()[2])
        assert all(_governed_read_answers(server, token) for _ in range(20))
        assert _terminate(server) == 0, server.stdout()

    effects = collections.Counter((tmp_path / "effects.log").read_text().split())
    assert set(effects.values()) == {1}, [key for key, n in effects.items() if n > 1]
    outcomes = collections.Counter((r.status_code, r.json()["code"]) for r in answered.values())
    assert set(outcomes) <= {
        (200, "common.success"),
        (200, "agent.idempotency_replay"),
        (409, "agent.idempotency_in_progress"),  # its first execution died with the worker
    }, outcomes
    assert outcomes[(409, "agent.idempotency_in_progress")] <= CONCURRENCY
    executed = {key for key, r in answered.items() if r.status_code == 200}
    assert executed <= set(effects) and len(executed) >= BURST - CONCURRENCY
    verified = run_cli("audit", "verify", str(config), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_sigterm_lets_an_in_flight_write_finish_and_refuses_new_connections(tmp_path: Path) -> None:
    config = crash_backend_config(tmp_path, "apply_then_pause")
    token, admin = mint_token(config), mint_admin_token(config)
    with running_server(config, workers=2) as server:
        AdminPlane(server.base_url, admin).open_writes_window()
        results: list[object] = []
        writer = _post_in_background(server, token, "drain-1", results)
        server.process.send_signal(signal.SIGTERM)
        _eventually(lambda: "Shutting down granian" in server.stdout(), "shutdown begun")
        writer.join(30)
        assert [
            (r.status_code, r.json()["data"]["status"]) for r in results if isinstance(r, httpx.Response)
        ] == [(200, "executed")], results
        assert server.process.wait(30) == 0
        with contextlib.suppress(httpx.ConnectError):
            refused = httpx.get(f"{server.base_url}/healthz")
            raise AssertionError(f"a stopped server answered: {refused.status_code}")


def _post_in_background(server: RunningServer, token: str, key: str, seen: list[object]) -> threading.Thread:
    """POST the write of ``key`` from a thread; its response, or the transport error, lands in ``seen``."""

    def post() -> None:
        try:
            seen.append(
                httpx.post(
                    f"{server.base_url}{ACTIONS}",
                    json=executed_create(key),
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                )
            )
        except httpx.TransportError as error:
            seen.append(error)

    thread = threading.Thread(target=post)
    thread.start()
    effects = server.config.parent / "effects.log"
    _eventually(lambda: effects.exists() and key in effects.read_text(), f"{key} in flight in the backend")
    return thread


def test_sigterm_drain_is_bounded_by_server_shutdown_timeout(tmp_path: Path) -> None:
    config = crash_backend_config(tmp_path, "apply_then_hang", {"server": {"shutdown_timeout": "2s"}})
    token, admin = mint_token(config), mint_admin_token(config)
    with running_server(config, workers=1) as server:
        AdminPlane(server.base_url, admin).open_writes_window()
        seen: list[object] = []
        stuck = _post_in_background(server, token, "stuck-1", seen)
        try:
            code = _terminate(server)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError("SIGTERM waited for a hung request past server.shutdown_timeout") from exc
        assert code == 0
        assert "Killing worker-1 after it refused to gracefully stop" in server.stdout()
        stuck.join(30)
        assert [type(outcome) for outcome in seen] == [httpx.RemoteProtocolError]
