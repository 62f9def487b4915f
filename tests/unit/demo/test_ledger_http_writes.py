"""examples/ledger-http: the example's action tools through the gateway's HTTP invokers, for real."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from tools.conftest import ServerThread  # tests/unit is the import root of unit test packages

from opp.clock import FrozenClock
from opp.codes import ReasonCode
from opp.config.schema import GatewayConfig, HttpBackend
from opp.demo.ledger_data import LedgerDatabase
from opp.errors import OppError
from opp.tools.api import CallContext, Invoker, ToolCall
from opp.tools.registry import build_runtime, resolve_invoker

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ledger-http"
TOKEN = "svc-token-for-write-tests"
NOW = dt.datetime(2025, 3, 15, 12, 0, tzinfo=dt.UTC)


def call(
    operation: str, args: dict[str, Any], *, tenant: str = "org_demo", key: str | None = None
) -> ToolCall:
    context = CallContext(
        request_id="req_1",
        app_id="app_demo",
        key_id="key_1",
        actor_user_id="svc_org_demo",
        tenant=tenant,
        app_policy={},
        now=NOW,
        idempotency_key=key,
    )
    return ToolCall(operation=operation, args=args, context=context)


@pytest.fixture(scope="module")
def service() -> Iterator[ServerThread]:
    spec = importlib.util.spec_from_file_location("ledger_service_writes", EXAMPLE / "ledger_service.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    database = LedgerDatabase.open(":memory:", seed_date=NOW.date(), seeded_at="2025-03-15T00:00:00.000Z")
    with ServerThread(module.create_app(TOKEN, database, FrozenClock(NOW))) as server:
        yield server
    database.close()


@pytest.fixture
async def invokers(service: ServerThread) -> AsyncIterator[dict[str, Invoker]]:
    config = msgspec.convert(yaml.safe_load((EXAMPLE / "gateway.yaml").read_text()), GatewayConfig)
    backend = config.backends["ledger"]
    assert isinstance(backend, HttpBackend)
    backend = msgspec.structs.replace(backend, base_url=service.base_url)
    runtime = build_runtime("ledger", backend, base_dir=str(EXAMPLE), environ={"LEDGER_SERVICE_TOKEN": TOKEN})
    await runtime.start()
    runtimes = {"ledger": runtime}
    found: dict[str, Invoker] = {}
    for tool in config.tools:
        assert tool.backend is not None
        found[tool.name] = resolve_invoker(tool.backend, runtimes)
        if tool.impact is not None and tool.impact.backend is not None:
            found[f"{tool.name}:impact"] = resolve_invoker(tool.impact.backend, runtimes)
    found["transaction"] = resolve_invoker(config.resources["transaction"].lookup, runtimes, lookup=True)
    yield found
    await runtime.close()


NEW = {
    "ledgerId": "ledger_ops",
    "kind": "income",
    "amount": 12.5,
    "title": "Refund",
    "occurredOn": "2025-03-14",
}


async def test_create_update_delete_over_http(invokers: dict[str, Invoker]) -> None:
    created = (await invokers["transaction.create"](call("transaction.create", NEW, key="k1")))["transaction"]
    again = (await invokers["transaction.create"](call("transaction.create", NEW, key="k1")))["transaction"]
    assert again == created
    assert (created["ledgerId"], created["currency"], created["amount"]) == ("ledger_ops", "USD", 12.5)
    txn = created["id"]

    update = call("transaction.update", {"transactionId": txn, "title": "Partial refund"})
    assert (await invokers["transaction.update"](update))["transaction"]["title"] == "Partial refund"
    looked_up = await invokers["transaction"](call("transaction", {"id": txn}))
    assert (looked_up["org_id"], looked_up["title"]) == ("org_demo", "Partial refund")

    deleted = await invokers["transaction.delete"](call("transaction.delete", {"transactionId": txn}))
    assert deleted["transaction"]["deletedAt"] == "2025-03-15T12:00:00.000Z"
    removed = await invokers["transaction.hard_delete"](
        call("transaction.hard_delete", {"transactionId": txn})
    )
    assert removed == {"deleted": True, "transactionId": txn, "ledgerId": "ledger_ops"}
    assert await invokers["transaction"](call("transaction", {"id": txn})) is None


async def test_refusals_over_http(invokers: dict[str, Invoker]) -> None:
    with pytest.raises(OppError) as caught:
        await invokers["transaction.update"](
            call("transaction.update", {"transactionId": "txn_1", "amount": 0})
        )
    assert caught.value.code is ReasonCode.ACTION_INVALID
    with pytest.raises(OppError) as caught:
        await invokers["transaction.delete"](call("transaction.delete", {"transactionId": "txn_foreign_1"}))
    assert caught.value.code is ReasonCode.NOT_FOUND
    assert await invokers["transaction"](call("transaction", {"id": "txn_foreign_1"})) is None


async def test_export_and_preview_over_http(invokers: dict[str, Invoker]) -> None:
    window = {"ledgerId": "ledger_main", "startDate": "2025-03-01", "endDate": "2025-03-15"}
    preview = await invokers["transactions.export_csv:impact"](call("transactions.export_csv", window))
    assert (preview["rows"], preview["startDate"], preview["endDate"]) == (2, "2025-03-01", "2025-03-15")
    export = await invokers["transactions.export_csv"](call("transactions.export_csv", window))
    assert [item["id"] for item in export["items"]] == ["txn_2", "txn_1"]
