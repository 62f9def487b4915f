"""Replicas starting together on one empty database: the bootstrap app is created once, none crash.

Every replica's ``opp serve`` bootstraps the demo app when the store has no app. Pods of one
Deployment start at the same moment, so several see the empty store and insert the same app: the
one whose insert loses finds it created by another replica and goes on serving.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from opp.compile import compile_file
from opp.http.runtime import Runtime
from tests.support.postgres import PostgresServer
from tests.support.servers import demo_config, run_cli

REPLICAS = 4


async def test_replicas_bootstrapping_an_empty_store_at_once_create_the_app_once(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_server.create_database()
    (tmp_path / "database-url").write_text(url, encoding="utf-8")
    config = demo_config(tmp_path, {"store": {"kind": "postgres", "url_file": "database-url"}})
    assert run_cli("migrate", str(config), cwd=tmp_path).returncode == 0
    plan = compile_file(config)
    runtimes = [Runtime(plan) for _ in range(REPLICAS)]
    try:
        await asyncio.gather(*(runtime.store.open() for runtime in runtimes))
        created = await asyncio.gather(*(runtime.integrations.bootstrap() for runtime in runtimes))
        apps = await runtimes[0].store.apps.list()
    finally:
        await asyncio.gather(*(runtime.store.close() for runtime in runtimes))
        postgres_server.drop_database(url)

    assert [app.id for app in apps] == ["app_demo"]
    assert [app.id for app in created if app is not None] == ["app_demo"]  # one replica created it
