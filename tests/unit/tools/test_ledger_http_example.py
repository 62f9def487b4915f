"""examples/ledger-http: the gateway's HTTP backend against the example ledger service, for real."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
import yaml

from opp.clock import FrozenClock
from opp.codes import ReasonCode
from opp.config.schema import GatewayConfig, HttpBackend
from opp.demo.ledger_data import LedgerDatabase
from opp.errors import OppError
from opp.tools.api import BackendRuntime, Invoker
from opp.tools.registry import build_runtime, resolve_invoker

from .conftest import NOW, MakeCall, ServerThread

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ledger-http"
SERVICE_TOKEN = "svc-token-for-tests"


def load_service() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ledger_service_example", EXAMPLE / "ledger_service.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Litestar resolves the handlers' annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ledger_service() -> Iterator[ServerThread]:
    database = LedgerDatabase.open(":memory:", seed_date=NOW.date(), seeded_at="2025-03-15T00:00:00.000Z")
    app = load_service().create_app(SERVICE_TOKEN, database, FrozenClock(NOW))
    with ServerThread(app) as server:
        yield server
    database.close()


def example_config(base_url: str) -> GatewayConfig:
    config = msgspec.convert(yaml.safe_load((EXAMPLE / "gateway.yaml").read_text()), GatewayConfig)
    backend = config.backends["ledger"]
    assert isinstance(backend, HttpBackend)
    backends = {"ledger": msgspec.structs.replace(backend, base_url=base_url)}
    return msgspec.structs.replace(config, backends=backends)


async def started(config: GatewayConfig, token: str) -> dict[str, BackendRuntime]:
    runtimes = {
        name: build_runtime(name, backend, base_dir=str(EXAMPLE), environ={"LEDGER_SERVICE_TOKEN": token})
        for name, backend in config.backends.items()
    }
    for runtime in runtimes.values():
        await runtime.start()
    return runtimes


@pytest.fixture
async def invokers(ledger_service: ServerThread) -> AsyncIterator[dict[str, Invoker]]:
    config = example_config(ledger_service.base_url)
    runtimes = await started(config, SERVICE_TOKEN)
    found: dict[str, Invoker] = {}
    for tool in config.tools:
        assert tool.backend is not None
        found[tool.name] = resolve_invoker(tool.backend, runtimes)
    found["ledger"] = resolve_invoker(config.resources["ledger"].lookup, runtimes, lookup=True)
    yield found
    for runtime in runtimes.values():
        await runtime.close()


async def test_ledger_list_is_scoped_by_the_forwarded_tenant(
    invokers: dict[str, Invoker], make_call: MakeCall
) -> None:
    result = await invokers["ledger.list"](make_call())
    assert [ledger["id"] for ledger in result["items"]] == ["ledger_main", "ledger_ops"]
    foreign = await invokers["ledger.list"](make_call(tenant="org_other"))
    assert [ledger["id"] for ledger in foreign["items"]] == ["ledger_foreign"]


async def test_resource_lookup(invokers: dict[str, Invoker], make_call: MakeCall) -> None:
    lookup = invokers["ledger"]
    assert await lookup(make_call({"id": "ledger_foreign"})) == {
        "id": "ledger_foreign",
        "org_id": "org_other",
        "name": "Foreign ledger",
        "currency": "EUR",
    }
    assert await lookup(make_call({"id": "ledger_unknown"})) is None


async def test_transaction_list(invokers: dict[str, Invoker], make_call: MakeCall) -> None:
    page: dict[str, Any] = await invokers["transaction.list"](
        make_call({"ledgerId": "ledger_main", "pageSize": 1})
    )
    assert [item["id"] for item in page["items"]] == ["txn_1"]
    assert (page["total"], page["page"], page["pageSize"], page["hasMore"]) == (2, 1, 1, True)
    day = (NOW.date() - dt.timedelta(days=5)).isoformat()
    only = await invokers["transaction.list"](
        make_call({"ledgerId": "ledger_main", "startDate": day, "endDate": day})
    )
    assert [item["id"] for item in only["items"]] == ["txn_2"]


async def test_service_refuses_other_tenants_ledgers(
    invokers: dict[str, Invoker], make_call: MakeCall
) -> None:
    with pytest.raises(OppError) as caught:
        await invokers["transaction.list"](make_call({"ledgerId": "ledger_foreign"}))
    assert caught.value.code is ReasonCode.NOT_FOUND


async def test_rejected_input_maps_to_action_invalid(
    invokers: dict[str, Invoker], make_call: MakeCall
) -> None:
    with pytest.raises(OppError) as caught:
        await invokers["transaction.list"](make_call({"ledgerId": "ledger_main", "pageSize": 1000}))
    assert caught.value.code is ReasonCode.ACTION_INVALID


async def test_wrong_service_token_is_execution_failed(
    ledger_service: ServerThread, make_call: MakeCall
) -> None:
    config = example_config(ledger_service.base_url)
    runtimes = await started(config, "not-the-token")
    try:
        tool = config.tools[0]
        assert tool.backend is not None
        with pytest.raises(OppError) as caught:
            await resolve_invoker(tool.backend, runtimes)(make_call())
    finally:
        for runtime in runtimes.values():
            await runtime.close()
    assert caught.value.code is ReasonCode.EXECUTION_FAILED
    assert "service token" not in caught.value.message
