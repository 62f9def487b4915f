"""Fixtures that drive the whole gateway in-process (Litestar's async test client)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from opp.auth.tokens import ADMIN_TOKEN_PREFIX, hash_token, token_prefix
from opp.clock import FrozenClock, IdFactory, new_token
from opp.compile import compile_file
from opp.http.app import create_app
from opp.http.runtime import Runtime
from opp.store.memory import MemoryStore
from opp.store.records import AdminTokenRecord

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Gateway:
    client: AsyncTestClient[Any]
    runtime: Runtime
    token: str
    clock: FrozenClock
    admin: str
    auditor: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def admin_auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin}"}

    async def events(self, **filters: Any) -> list[Any]:
        from opp.store.records import AuditQuery

        await self.runtime.audit.flush()
        return await self.runtime.store.audit.list(AuditQuery(limit=200, **filters))


async def _admin_token(runtime: Runtime, role: str, name: str | None = None) -> str:
    token = new_token(ADMIN_TOKEN_PREFIX)
    await runtime.store.admin_tokens.create(
        AdminTokenRecord(
            id=runtime.ids.new("adm"),
            name=name or f"test-{role}",
            roles=(role,),
            token_hash=hash_token(token),
            token_prefix=token_prefix(token),
            created_at=runtime.clock.now(),
        )
    )
    return token


def demo_config(tmp_path: Path, text: str | None = None) -> Path:
    """The root gateway.yaml (or ``text``) copied into ``tmp_path`` so state stays there."""
    target = tmp_path / "gateway.yaml"
    if text is None:
        shutil.copy(ROOT / "examples" / "ledger" / "gateway.yaml", target)
    else:
        target.write_text(text)
    return target


@pytest.fixture
def config_text(request: pytest.FixtureRequest) -> str | None:
    """The config to serve; parametrise indirectly to replace the root gateway.yaml."""
    return getattr(request, "param", None)


@pytest.fixture
async def gateway(tmp_path: Path, config_text: str | None) -> AsyncIterator[Gateway]:
    plan = compile_file(str(demo_config(tmp_path, config_text)))
    clock = FrozenClock(dt.datetime.now(dt.UTC))
    runtime = Runtime(plan, store=MemoryStore(), clock=clock, ids=IdFactory())
    app = create_app(plan, runtime)
    async with AsyncTestClient(app=app) as client:
        await runtime.integrations.bootstrap()
        _, token = await runtime.integrations.add_key("app_demo", "test key")
        gw = Gateway(
            client=client,
            runtime=runtime,
            token=token,
            clock=clock,
            admin=await _admin_token(runtime, "admin"),
            auditor=await _admin_token(runtime, "auditor"),
        )
        yield gw
