"""Start ``opp serve`` as a real subprocess on loopback, and mint credentials with ``opp token``.

Each server runs on a copy of the root ``gateway.yaml`` in its own directory (its SQLite store and
demo database live there), is awaited on ``/healthz`` and on granian's "Started worker-N" lines,
and is always stopped: SIGTERM to its process group, SIGKILL if it lingers.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

__all__ = [
    "ROOT",
    "RunningServer",
    "crash_backend_config",
    "demo_config",
    "demo_server",
    "executed_create",
    "free_port",
    "ipv6_loopback_available",
    "mint_admin_token",
    "mint_token",
    "new_transaction",
    "run_cli",
    "running_server",
]

ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE = 30.0
STOP_GRACE = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free on ``host`` a moment ago (the OS picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ipv6_loopback_available() -> bool:
    """Whether ``::1`` can be bound on this machine."""
    if not socket.has_ipv6:
        return False
    try:
        free_port("::1")
    except OSError:
        return False
    return True


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def demo_config(directory: Path, overrides: Mapping[str, Any] | None = None) -> Path:
    """Copy the root ``gateway.yaml`` into ``directory``, deep-merging ``overrides`` into it."""
    source = (ROOT / "examples" / "ledger" / "gateway.yaml").read_text(encoding="utf-8")
    target = directory / "gateway.yaml"
    if overrides:
        document = _merge(yaml.safe_load(source), overrides)
        source = yaml.safe_dump(document, sort_keys=False)
    target.write_text(source, encoding="utf-8")
    return target


def crash_backend_config(directory: Path, call: str, overrides: Mapping[str, Any] | None = None) -> Path:
    """:func:`demo_config` with ``transaction.create`` served by ``tests/support/crash_backend.py:CALL``.

    The backend is copied into ``directory`` and records each effect in ``directory/effects.log``.
    """
    config = demo_config(directory, overrides)
    shutil.copy(ROOT / "tests" / "support" / "crash_backend.py", directory / "crash_backend.py")
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["backends"]["crashy"] = {"kind": "python", "module": "crash_backend"}
    for tool in document["tools"]:
        if tool["name"] == "transaction.create":
            tool["backend"] = {"backend": "crashy", "call": call}
    config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return config


def new_transaction(title: str, amount: float) -> dict[str, Any]:
    """A ``transaction.create`` payload for today on the demo's main ledger."""
    return {
        "ledgerId": "ledger_main",
        "kind": "expense",
        "amount": amount,
        "title": title,
        "occurredOn": dt.date.today().isoformat(),
    }


def executed_create(key: str, amount: float = 1.5) -> dict[str, Any]:
    """A ``POST /actions`` body: ``transaction.create`` titled ``key``, executed now, idempotency ``key``."""
    return {
        "action": "transaction.create",
        "payload": new_transaction(key, amount),
        "execute": True,
        "idempotencyKey": key,
    }


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPP_CONFIG"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(*args: str, cwd: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m opp ARGS`` in ``cwd`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "opp", *args],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _token_from(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"opp token failed ({result.returncode}): {result.stderr}"
    return result.stdout.strip()


def mint_token(config: Path, app: str | None = None) -> str:
    """``opp token CONFIG [--app APP]``: a fresh agent key (bootstrap app by default)."""
    extra = ["--app", app] if app else []
    return _token_from(run_cli("token", str(config), *extra, cwd=config.parent))


def mint_admin_token(config: Path, role: str = "admin") -> str:
    """``opp token CONFIG --admin --role ROLE``: a fresh admin-plane token."""
    return _token_from(run_cli("token", str(config), "--admin", "--role", role, cwd=config.parent))


@dataclass
class RunningServer:
    """A live ``opp serve`` process.

    Attributes:
        base_url: e.g. ``http://127.0.0.1:41234`` or ``http://[::1]:41234``.
        config: The config file it serves (its directory holds the store).
        process: The server's main process (leader of its own process group).
    """

    base_url: str
    config: Path
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def stderr(self) -> str:
        """What the server printed on stderr so far (diagnostics, the bootstrap hint)."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        """What the server printed on stdout so far (granian's log)."""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def worker_pids(self) -> dict[int, int]:
        """Worker number → pid of its latest process (granian's "Spawning worker-N with PID" lines)."""
        spawned = re.findall(r"Spawning worker-(\d+) with PID: (\d+)", self.stdout())
        return {int(number): int(pid) for number, pid in spawned}

    def token(self, app: str | None = None) -> str:
        """A new agent key for ``app`` (default: the bootstrap app), minted by ``opp token``."""
        return mint_token(self.config, app)

    def admin_token(self, role: str = "admin") -> str:
        """A new admin token with ``role``, minted by ``opp token --admin``."""
        return mint_admin_token(self.config, role)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(STOP_GRACE)
    _signal_group(process, signal.SIGKILL)  # workers that outlived the main process, if any


def _wait_until_ready(server: RunningServer, workers: int, deadline: float) -> None:
    started = [f"Started worker-{n}" for n in range(1, workers + 1)]
    with httpx.Client(timeout=1.0) as client:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"opp serve exited with {server.process.returncode}:\n{server.stderr()}")
            try:
                healthy = client.get(f"{server.base_url}/healthz").status_code == 200
            except httpx.HTTPError:
                healthy = False
            log = server.stdout()
            if healthy and all(line in log for line in started):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"opp serve not ready at {server.base_url} in time:\n{log}\n{server.stderr()}"
                )
            time.sleep(0.1)


@contextmanager
def running_server(
    config: Path,
    *,
    host: str = "127.0.0.1",
    workers: int = 1,
    startup_deadline: float = STARTUP_DEADLINE,
    port: int | None = None,
) -> Iterator[RunningServer]:
    """Run ``opp serve CONFIG --host HOST --port PORT --workers N`` until the block exits.

    ``port``: the port the config's ``public_url`` names (DPoP ``htu``); default a free one.
    """
    port = port or free_port(host)
    url_host = f"[{host}]" if ":" in host else host
    stdout_path = config.parent / f"serve-{port}.stdout"
    stderr_path = config.parent / f"serve-{port}.stderr"
    command = [
        sys.executable,
        "-m",
        "opp",
        "serve",
        str(config),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            command, cwd=config.parent, env=_environment(), stdout=out, stderr=err, start_new_session=True
        )
    server = RunningServer(f"http://{url_host}:{port}", config, process, stdout_path, stderr_path)
    try:
        _wait_until_ready(server, workers, time.monotonic() + startup_deadline)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One ``opp serve`` with 2 workers on a fresh copy of the root config, shared by a module."""
    config = demo_config(tmp_path_factory.mktemp("demo-server"))
    with running_server(config, workers=2) as server:
        yield server
