"""An Explainer over the root gateway.yaml, a memory store with the demo app, and started backends."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opp.clock import FrozenClock, IdFactory
from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.explain import Explainer
from opp.integrations.service import IntegrationService
from opp.store.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[3]
NOW = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)


@dataclass
class Setup:
    plan: Plan
    store: MemoryStore
    clock: FrozenClock
    integrations: IntegrationService
    explainer: Explainer

    async def token(self, app_id: str = "app_demo", expires_at: dt.datetime | None = None) -> str:
        _, token = await self.integrations.add_key(app_id, "explain test", expires_at)
        return token


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    target = tmp_path / "gateway.yaml"
    shutil.copy(ROOT / "examples" / "ledger" / "gateway.yaml", target)
    return target


@pytest.fixture
async def setup(config_path: Path) -> AsyncIterator[Setup]:
    plan = compile_file(str(config_path))
    store = MemoryStore()
    clock = FrozenClock(NOW)
    await store.open()
    integrations = IntegrationService(plan, store, clock, IdFactory())
    await integrations.bootstrap()
    for runtime in plan.runtimes.values():
        await runtime.start()
    try:
        yield Setup(plan, store, clock, integrations, Explainer(plan, store, clock))
    finally:
        for runtime in plan.runtimes.values():
            await runtime.close()
        await store.close()
