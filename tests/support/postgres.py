"""A throwaway PostgreSQL server for the tests, from Debian's binaries (``postgresql`` package).

:func:`postgres_server` (session-scoped fixture) runs ONE server for the test session: ``initdb``
into a temporary directory, ``postgres`` on 127.0.0.1 and a free port, its Unix socket in the same
directory, ``fsync`` off (commits survive a server crash, not an OS crash), trust authentication
for the ``postgres`` role. :func:`postgres_url`
(function-scoped) creates a fresh database on it for each test and drops it afterwards.

``initdb`` and ``postgres`` refuse to run as root (CI runs as root): then both run as the
``postgres`` system user (``runuser -u postgres --``) and the temporary directory is chowned to it.
The fixture stops the server itself (``pg_ctl stop -m immediate``) when the session ends;
:meth:`PostgresServer.stop`, :meth:`~PostgresServer.start` and :meth:`~PostgresServer.restart`
are there for fault tests (restart it under traffic, see that the gateway recovers).

Without the binaries (or, as root, without the ``postgres`` user) the tests that use it skip, or
FAIL when ``OPP_REQUIRE_INTEROP=1`` (CI installs the ``postgresql`` package).

To use the fixtures in a test directory, import them into its ``conftest.py``::

    from tests.support.postgres import postgres_server, postgres_url  # noqa: F401
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support.required import unavailable
from tests.support.servers import free_port

__all__ = [
    "PostgresServer",
    "find_bindir",
    "postgres_server",
    "postgres_url",
    "require_postgres",
    "running_postgres",
]

SYSTEM_USER = "postgres"
START_TIMEOUT = 60
MAX_CONNECTIONS = 300
"""Enough for several ``opp serve`` replicas, each with a pool per worker."""


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None`` when not installed."""
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            candidates.append(result.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if all((Path(candidate) / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    return None


def _missing() -> str | None:
    if find_bindir() is None:
        return "PostgreSQL binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return f"running as root and there is no {SYSTEM_USER!r} system user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is not installed"
    return None


def require_postgres() -> None:
    """Skip (or, with ``OPP_REQUIRE_INTEROP=1``, fail) unless a PostgreSQL server can be started here."""
    reason = _missing()
    if reason is None:
        return
    unavailable(reason + "; apt-get install postgresql")


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in ``root`` (data in ``root/data``, socket and log beside it)."""

    bindir: Path
    root: Path
    port: int
    _names: Iterator[int]

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database`` over TCP on 127.0.0.1 (trust authentication, no password)."""
        return f"postgresql://{SYSTEM_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command: Sequence[str] = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        result = subprocess.run(
            list(command), capture_output=True, text=True, check=False, timeout=START_TIMEOUT + 30
        )
        if check and result.returncode != 0:
            failed = f"{program} {' '.join(args)} failed ({result.returncode})"
            raise RuntimeError(f"{failed}:\n{result.stderr}{self.log()}")
        return result

    def log(self) -> str:
        """The server's log so far, for failure messages."""
        return self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""

    def initdb(self) -> None:
        data = str(self.data_dir)
        self._run("initdb", "-D", data, "-A", "trust", "-U", SYSTEM_USER, "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        """Start the server and wait until it accepts connections (``pg_ctl start -w``)."""
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                f"-c max_connections={MAX_CONNECTIONS}",
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c shared_buffers=32MB",
            ]
        )
        self._run(
            "pg_ctl", "start", "-w", "-t", str(START_TIMEOUT), "-D", str(self.data_dir),
            "-l", str(self.log_file), "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (disconnect clients, clean shutdown) or ``immediate`` (like a crash)."""
        self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data_dir), check=False)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def is_running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"opp_test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names, disconnecting whoever still uses it."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            connection.execute(drop.format(sql.Identifier(name)))


def running_postgres() -> Iterator[PostgresServer]:
    """Create, start and (when the generator is closed) stop and delete a throwaway cluster."""
    bindir = find_bindir()
    assert bindir is not None, "call require_postgres() first"
    root = Path(tempfile.mkdtemp(prefix="opp-postgres-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(SYSTEM_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
    server = PostgresServer(bindir, root, free_port(), itertools.count(1))
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole test session (skips/fails when it cannot be started)."""
    require_postgres()
    yield from running_postgres()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database on the session's server, dropped after the test."""
    if not postgres_server.is_running():  # a fault test left it stopped
        postgres_server.start()
    url = postgres_server.create_database()
    yield url
    if not postgres_server.is_running():
        postgres_server.start()
    postgres_server.drop_database(url)
