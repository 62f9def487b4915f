"""One gateway per fuzz test: the root gateway.yaml on SQLite in a temporary directory, served as
``opp serve`` serves it (the reloadable app), in process.

Rate limits are replaced (see ``FUZZ_LIMITS``). Seeded before serving with the demo app
and its agent key, admin and auditor tokens, a second ("victim") app whose ids the admin fuzzing
may revoke or delete, and drafts of the demo app. The demo app's own id and key are kept out of
the id pools so the agent credential stays valid.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import TestClient

from opp.auth.tokens import ADMIN_TOKEN_PREFIX, hash_token, token_prefix
from opp.clock import new_token
from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.demo.ledger_seed import SEED_LEDGERS
from opp.http.app import serving_app
from opp.http.reload import PlanSource, SwappableApp
from opp.http.runtime import Runtime
from opp.integrations.service import NewApp
from opp.store.records import AdminTokenRecord

from .operations import Operation, operations
from .state import StateProbe
from .strategies import Pools

ROOT = Path(__file__).resolve().parents[2]
FUZZ_LIMITS = {
    "storage": "memory://",
    "strategy": "fixed-window",
    "rules": [
        # High enough that the generic limit never hides deeper paths during a run...
        {"id": "per-key-ip", "per": ["key", "ip"], "limit": "100000/minute"},
        # ...and a tight tool quota, so 429s (and their lack of side effects) are fuzzed too.
        {
            "id": "fuzz-quota",
            "per": ["key"],
            "tools": ["transaction.update", "transactions.export_csv"],
            "limit": "2/minute",
        },
    ],
}


@dataclass
class FuzzGateway:
    client: TestClient[Any]
    document: dict[str, Any]
    operations: list[Operation]
    pools: Pools
    probe: StateProbe
    sent: int = 0
    hit: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, int]] = field(default_factory=Counter)


async def _admin_token(runtime: Runtime, role: str) -> str:
    token = new_token(ADMIN_TOKEN_PREFIX)
    record = AdminTokenRecord(
        id=runtime.ids.new("adm"),
        name=f"fuzz-{role}",
        roles=(role,),
        token_hash=hash_token(token),
        token_prefix=token_prefix(token),
        created_at=runtime.clock.now(),
    )
    await runtime.store.admin_tokens.create(record)
    return token


async def seed(plan: Plan) -> tuple[dict[str, str], dict[str, list[str]]]:
    runtime = Runtime(plan)
    await runtime.store.open()
    try:
        await runtime.integrations.bootstrap()
        _, agent = await runtime.integrations.add_key("app_demo", "fuzz agent")
        victim, victim_key, _ = await runtime.integrations.create_app(
            NewApp(
                name="victim",
                scope="workspace",
                org_id="org_demo",
                scopes=["ledger.read"],
                app_id="app_victim",
            )
        )
        extra, _ = await runtime.integrations.add_key(victim.id, "second")
        credentials = {
            "agent": agent,
            "admin": await _admin_token(runtime, "admin"),
            "auditor": await _admin_token(runtime, "auditor"),
        }
    finally:
        await runtime.store.close()
    ids = {
        "app_id": [victim.id],
        "appId": [victim.id],
        "key_id": [victim_key.id, extra.id],
        "ledgerId": [ledger["id"] for ledger in SEED_LEDGERS],
        "transactionId": ["txn_1", "txn_2", "txn_foreign_1"],
    }
    return credentials, ids


def _drafts(client: TestClient[Any], token: str) -> list[str]:
    payload = {
        "ledgerId": "ledger_main",
        "kind": "expense",
        "amount": 3,
        "title": "t",
        "occurredOn": "2030-01-01",
    }
    ids = []
    for action, body in (
        ("transaction.create", payload),
        ("transaction.delete", {"transactionId": "txn_2"}),
        ("transaction.update", {"transactionId": "txn_1", "amount": 7}),
    ):
        response = client.post(
            "/api/agent/v1/actions",
            json={"action": action, "payload": body},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        ids.append(response.json()["data"]["draft"]["id"])
    return ids


@pytest.fixture
def fuzz_gateway(tmp_path: Path) -> Iterator[FuzzGateway]:
    """A fresh gateway per test: no test depends on what another one sent, or on their order."""
    directory = tmp_path
    config = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    config["rate_limits"] = FUZZ_LIMITS
    (directory / "gateway.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    plan = compile_file(str(directory / "gateway.yaml"))
    credentials, ids = asyncio.run(seed(plan))
    app = SwappableApp(Runtime(plan), PlanSource(str(directory / "gateway.yaml")), build=serving_app)
    with TestClient(app=app) as client:  # type: ignore[arg-type]  # served as `opp serve` serves it
        document = client.get("/openapi.json").json()
        ids["id"] = _drafts(client, credentials["agent"])
        probe = StateProbe(Path(plan.store_path), directory / ".opp" / "demo-ledger.db")
        try:
            yield FuzzGateway(client, document, operations(document), Pools(ids, credentials), probe)
        finally:
            probe.close()
