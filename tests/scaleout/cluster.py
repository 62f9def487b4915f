"""Several real ``opp serve`` replicas on one PostgreSQL database and one Redis (docs/SCALE_OUT.md).

:func:`running_cluster` creates a fresh database, writes a ``gateway.yaml`` with ``store.kind:
postgres`` and a ``redis:`` section (both URLs read from files next to it, as from mounted
secrets), runs ``opp migrate`` once, then starts the replicas: one worker each, each on its own
port, all serving the same directory (as pods serving one ConfigMap). ``transaction.create`` is
served by ``tests/support/crash_backend.py`` so every backend effect is one line of
``effects.log``, whichever replica caused it.

Every replica names the same ``gateway.public_url`` (the address agents would use in front of a
load balancer), so one DPoP proof (``htu``) or one issuer fits all of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

from opp.auth.tokens import hash_token
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer
from tests.support.servers import (
    RunningServer,
    crash_backend_config,
    new_transaction,
    run_cli,
    running_server,
)

__all__ = ["PUBLIC_URL", "Cluster", "fire", "new_transaction", "running_cluster", "spread"]

PUBLIC_URL = "http://gateway.test"
"""What every replica calls itself: the load-balanced name, not its own loopback port."""


@dataclass
class Cluster:
    """The replicas and the two servers they share."""

    directory: Path
    config: Path
    replicas: list[RunningServer]
    database_url: str
    redis: RedisServer
    admin: str
    """A declared admin credential (``admin.credentials``, role ``admin``)."""

    def token(self, app_id: str = "app_demo") -> str:
        """A new key of ``app_id``, made through the admin API of the first replica."""
        response = httpx.post(
            f"{self.replicas[0].base_url}/api/agent-admin/v1/apps/{app_id}/keys",
            json={"name": "scale-out test"},
            headers={"Authorization": f"Bearer {self.admin}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["data"]["token"]
        return token

    def effects(self) -> list[str]:
        """The idempotency keys of every backend effect so far (one line each)."""
        log = self.directory / "effects.log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    def query(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of one SQL statement on the shared database (autocommit)."""
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def open_window(self, app_id: str = "app_demo") -> None:
        """Open the app's auto-execute window (through the first replica)."""
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
        response = httpx.patch(
            f"{self.replicas[0].base_url}/api/agent-admin/v1/apps/{app_id}/auto-execute",
            json={"writes": {"enabled": True, "expires_at": expires, "allowed_actions": None}},
            headers={"Authorization": f"Bearer {self.admin}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text


def _document(
    config: Path, database: Path, redis: Path, admin: str, tool_overrides: Mapping[str, Any]
) -> None:
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["store"] = {"kind": "postgres", "url_file": database.name}
    document["redis"] = {"url_file": redis.name}
    credentials = document.setdefault("admin", {}).setdefault("credentials", [])
    credentials.append({"name": "scale-out-admin", "roles": ["admin"], "token_sha256": hash_token(admin)})
    for tool in document["tools"]:
        tool.update(tool_overrides.get(tool["name"], {}))
    config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


@contextmanager
def running_cluster(
    directory: Path,
    postgres: PostgresServer,
    redis: RedisServer,
    *,
    replicas: int = 3,
    overrides: Mapping[str, Any] | None = None,
    tool_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    backend_call: str = "apply",
) -> Iterator[Cluster]:
    """``replicas`` times ``opp serve`` (1 worker each) on a new database, until the block exits.

    Args:
        overrides: Top-level sections over the cluster's own (``gateway``, ``rate_limits``), each
            deep-merged into the demo ``gateway.yaml``.
        tool_overrides: Tool name → fields replaced in that tool (``{"approvals": 2}``).
        backend_call: The ``crash_backend`` function serving ``transaction.create``.
    """
    if not postgres.is_running():  # a fault test left it stopped
        postgres.start()
    database_url = postgres.create_database()
    database = directory / "database-url"
    database.write_text(database_url, encoding="utf-8")
    redis_url = directory / "redis-url"
    redis_url.write_text(redis.url, encoding="utf-8")
    base = {"gateway": {"public_url": PUBLIC_URL}, "rate_limits": {"storage": "redis"}}
    config = crash_backend_config(directory, backend_call, {**base, **(overrides or {})})
    admin = f"opa_{secrets.token_urlsafe(32)}"
    _document(config, database, redis_url, admin, tool_overrides or {})
    try:
        migrated = run_cli("migrate", str(config), cwd=directory)
        assert migrated.returncode == 0, migrated.stderr
        with ExitStack() as stack:
            servers = _start_together([running_server(config) for _ in range(replicas)], stack)
            yield Cluster(directory, config, servers, database_url, redis, admin)
    finally:
        postgres.drop_database(database_url)


def _start_together(
    managers: list[AbstractContextManager[RunningServer]], stack: ExitStack
) -> list[RunningServer]:
    """Enter every server's context at once (replicas starting together, as pods do)."""
    with ThreadPoolExecutor(max_workers=len(managers)) as pool:
        futures = [pool.submit(manager.__enter__) for manager in managers]
    for manager, future in zip(managers, futures, strict=True):
        if future.exception() is None:
            stack.push(manager.__exit__)
    return [future.result() for future in futures]


def spread(cluster: Cluster, count: int) -> list[str]:
    """``count`` base URLs, round-robin over the replicas."""
    return [cluster.replicas[n % len(cluster.replicas)].base_url for n in range(count)]


async def fire(
    requests: Sequence[tuple[str, str, str, Mapping[str, Any] | None, Mapping[str, str]]],
) -> list[httpx.Response]:
    """Send ``(method, base_url, path, json, headers)`` requests all at once, one connection each."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        return await asyncio.gather(
            *(
                client.request(method, base + path, json=body, headers=dict(headers))
                for method, base, path, body, headers in requests
            )
        )
