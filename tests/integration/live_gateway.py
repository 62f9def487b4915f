"""A live gateway in-process: a :class:`SwappableApp` served in the test's own event loop.

Litestar's test clients run the app on another thread, one request at a time; reload and metrics
tests need concurrent requests, the lifespan (SIGHUP handler, metrics flush) in this loop, and the
per-request instrumentation that :class:`SwappableApp` adds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opp.clock import FrozenClock, IdFactory
from opp.http.app import serving_app
from opp.http.reload import PlanSource, SwappableApp
from opp.http.runtime import Runtime
from opp.store.memory import MemoryStore
from opp.store.records import AuditQuery
from tests.integration.conftest import ROOT, _admin_token

__all__ = ["ADMIN", "MANIFEST", "Live", "config_text", "live", "serving", "sighup", "until"]

ADMIN = "/api/agent-admin/v1"
MANIFEST = "/api/agent/v1/manifest"


@dataclass
class Live:
    client: httpx.AsyncClient
    app: SwappableApp
    root: Runtime
    config: Path
    token: str
    admin: str

    def edit(self, old: str, new: str) -> None:
        text = self.config.read_text()
        assert old in text
        self.config.write_text(text.replace(old, new))

    async def manifest_descriptions(self) -> dict[str, str]:
        response = await self.client.get(MANIFEST, headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == 200, response.text
        return {tool["name"]: tool["description"] for tool in response.json()["data"]["tools"]}

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def reload(self, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        return await self.client.post(f"{ADMIN}/reload", headers=headers)

    async def reload_events(self) -> list[Any]:
        await self.root.audit.flush()
        return await self.root.store.audit.list(AuditQuery(action="agent_admin.reload", limit=50))


@pytest.fixture
def config_text(request: pytest.FixtureRequest) -> str | None:
    return getattr(request, "param", None)


@pytest.fixture
def sighup(request: pytest.FixtureRequest) -> bool:
    return bool(getattr(request, "param", False))


@pytest.fixture
async def live(tmp_path: Path, config_text: str | None, sighup: bool) -> AsyncIterator[Live]:
    config = tmp_path / "gateway.yaml"
    config.write_text(config_text or (ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    source = PlanSource(str(config))
    runtime = Runtime(
        source.compile(), store=MemoryStore(), clock=FrozenClock(dt.datetime.now(dt.UTC)), ids=IdFactory()
    )
    app = SwappableApp(runtime, source, build=serving_app, handle_sighup=sighup)
    async with serving(app) as client:
        await runtime.integrations.bootstrap()
        _, token = await runtime.integrations.add_key("app_demo", "test key")
        yield Live(client, app, runtime, config, token, await _admin_token(runtime, "admin"))


@asynccontextmanager
async def serving(app: SwappableApp) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan in this event loop and talk to it concurrently (httpx ASGI transport).

    Litestar's test clients run the app on another thread, one request at a time.
    """
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await lifespan


async def until(predicate: Callable[[], bool]) -> None:
    """Wait (without asserting on time) until ``predicate`` holds; give up after a long while."""
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never became true")
