"""A throwaway ``redis-server`` for tests: loopback only, no persistence, stopped by itself.

:func:`running_redis` starts ``redis-server --port P --bind 127.0.0.1 --save '' --appendonly no``
in a temporary directory (its own process group) and always stops it. The :class:`RedisServer` it
yields can :meth:`~RedisServer.stop` and :meth:`~RedisServer.start` the server again on the same
port, for fault tests (the data is gone after a restart: it never touches a disk).

:func:`require_redis` skips a test when ``redis-server`` is not installed, or fails it when
``OPP_REQUIRE_INTEROP=1`` (CI installs it with ``scripts/ci-install-services.sh``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.required import unavailable
from tests.support.servers import free_port

__all__ = ["RedisServer", "redis_server", "require_redis", "running_redis"]

STARTUP_DEADLINE = 10.0
STOP_GRACE = 5.0


def require_redis() -> str:
    """The ``redis-server`` program; skip (or fail with ``OPP_REQUIRE_INTEROP=1``) when it is missing."""
    program = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if program is not None:
        return program
    unavailable("redis-server is not installed; scripts/ci-install-services.sh installs it")


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


@dataclass
class RedisServer:
    """A ``redis-server`` on ``127.0.0.1:port`` that a test may stop and start again."""

    program: str
    directory: Path
    port: int = field(default_factory=free_port)
    password: str | None = None
    """When set, the server requires it (``--requirepass``) and :attr:`url` carries it."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` (``redis://:PASSWORD@…`` with a password)."""
        credentials = f":{self.password}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.directory / f"redis-{self.port}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server (on the same port as before) and wait until it answers ``PING``."""
        if self.running:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.directory), "--logfile", str(self.log_path),
        ]  # fmt: skip
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            command,
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_DEADLINE
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not start:\n{log}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers); it no longer accepts connections."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(STOP_GRACE)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(STOP_GRACE)

    def restart(self) -> None:
        """Stop, then start again on the same port (empty: nothing is persisted)."""
        self.stop()
        self.start()


@contextmanager
def running_redis(directory: Path, *, password: str | None = None) -> Iterator[RedisServer]:
    """A fresh ``redis-server`` on a free loopback port until the block exits (skips when missing)."""
    server = RedisServer(require_redis(), directory, password=password)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One ``redis-server`` for the whole session (import this fixture into a ``conftest.py``).

    Tests that stop it must start it again; fault tests prefer their own :func:`running_redis`.
    """
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server
