"""The embedded ledger demo backend: seed, tenant scoping, date windows, pagination, persistence."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opp.codes import ReasonCode
from opp.config.schema import BackendRef, PythonBackend
from opp.demo import ledger
from opp.demo.ledger_data import LedgerDatabase, transaction_window
from opp.errors import OppError
from opp.tools.api import CallContext, ToolCall
from opp.tools.registry import build_runtime, resolve_invoker

SEED = dt.date(2025, 3, 15)
NOW = dt.datetime(2025, 3, 15, 18, 30, tzinfo=dt.UTC)


def call(args: dict[str, Any] | None = None, *, tenant: str | None = "org_demo", **policy: Any) -> ToolCall:
    context = CallContext(
        request_id="req_1",
        app_id="app_demo",
        key_id="key_1",
        actor_user_id="svc_org_demo",
        tenant=tenant,
        app_policy=policy,
        now=NOW,
    )
    return ToolCall(operation="transaction.list", args=args or {}, context=context)


def days_ago(days: int) -> str:
    return (SEED - dt.timedelta(days=days)).isoformat()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[LedgerDatabase]:
    state = ledger.setup({"path": ":memory:", "seed_date": SEED.isoformat()}, str(tmp_path))
    yield state
    ledger.teardown(state)


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def test_seed_ledgers_of_the_demo_workspace(db: LedgerDatabase) -> None:
    assert ledger.list_ledgers(call(), db) == {
        "items": [
            {"id": "ledger_main", "org_id": "org_demo", "name": "Main ledger", "currency": "USD"},
            {"id": "ledger_ops", "org_id": "org_demo", "name": "Operations", "currency": "USD"},
        ]
    }


def test_seed_transactions(db: LedgerDatabase) -> None:
    page = ledger.list_transactions(call({"ledgerId": "ledger_main"}), db)
    assert page["items"] == [
        {
            "id": "txn_1",
            "ledgerId": "ledger_main",
            "kind": "income",
            "amount": 1200,
            "currency": "USD",
            "title": "Consulting payment",
            "notes": None,
            "occurredOn": days_ago(2),
            "createdAt": "2025-03-15T00:00:00.000Z",
            "updatedAt": "2025-03-15T00:00:00.000Z",
            "deletedAt": None,
        },
        {
            "id": "txn_2",
            "ledgerId": "ledger_main",
            "kind": "expense",
            "amount": 80,
            "currency": "USD",
            "title": "Software subscription",
            "notes": "annual plan",
            "occurredOn": days_ago(5),
            "createdAt": "2025-03-15T00:00:00.000Z",
            "updatedAt": "2025-03-15T00:00:00.000Z",
            "deletedAt": None,
        },
    ]
    assert (page["total"], page["page"], page["pageSize"], page["hasMore"]) == (2, 1, 50, False)


def test_ledger_list_is_tenant_scoped(db: LedgerDatabase) -> None:
    assert ids(ledger.list_ledgers(call(tenant="org_other"), db)) == ["ledger_foreign"]
    assert ledger.list_ledgers(call(tenant=None), db) == {"items": []}
    assert ledger.list_ledgers(call(tenant="org_nobody"), db) == {"items": []}


def test_get_ledger_returns_any_tenants_ledger_or_none(db: LedgerDatabase) -> None:
    foreign = ledger.get_ledger(call({"id": "ledger_foreign"}), db)
    assert foreign == {
        "id": "ledger_foreign",
        "org_id": "org_other",
        "name": "Foreign ledger",
        "currency": "EUR",
    }
    assert ledger.get_ledger(call({"id": "ledger_nope"}), db) is None
    assert ledger.get_ledger(call({"id": 7}), db) is None
    assert ledger.get_ledger(call({}), db) is None


def test_foreign_ledger_has_its_own_transactions(db: LedgerDatabase) -> None:
    page = ledger.list_transactions(call({"ledgerId": "ledger_foreign"}), db)
    assert ids(page) == ["txn_foreign_1"]
    assert ids(ledger.list_transactions(call({"ledgerId": "ledger_ops"}), db)) == []


@pytest.mark.parametrize(
    ("args", "policy", "expected"),
    [
        ({}, {}, ["txn_1", "txn_2"]),
        ({}, {"max_days": 3}, ["txn_1"]),
        ({}, {"max_days": 5}, ["txn_1", "txn_2"]),
        ({"endDate": days_ago(4)}, {}, ["txn_2"]),
        ({"endDate": days_ago(4)}, {"max_days": 0}, []),
        ({"startDate": days_ago(3)}, {}, ["txn_1"]),
        ({"startDate": days_ago(40)}, {"max_days": 36}, ["txn_2"]),
        ({"startDate": days_ago(5), "endDate": days_ago(5)}, {}, ["txn_2"]),
        ({"startDate": days_ago(2), "endDate": days_ago(2)}, {}, ["txn_1"]),
        ({"startDate": days_ago(4), "endDate": days_ago(3)}, {}, []),
    ],
)
def test_date_window(
    args: dict[str, Any], policy: dict[str, Any], expected: list[str], db: LedgerDatabase
) -> None:
    page = ledger.list_transactions(call({"ledgerId": "ledger_main", **args}, **policy), db)
    assert ids(page) == expected
    assert page["total"] == len(expected)


def test_transaction_window_rules() -> None:
    today = dt.date(2025, 3, 15)
    assert transaction_window(None, None, today=today, max_days=30) == (dt.date(2025, 2, 13), today)
    assert transaction_window(None, dt.date(2025, 1, 31), today=today, max_days=30) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 1, 31),
    )
    assert transaction_window(dt.date(2025, 1, 1), None, today=today, max_days=30) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 1, 31),
    )
    assert transaction_window(dt.date(2025, 3, 1), None, today=today, max_days=30) == (
        dt.date(2025, 3, 1),
        today,
    )


def test_pagination(db: LedgerDatabase) -> None:
    first = ledger.list_transactions(call({"ledgerId": "ledger_main", "page": 1, "pageSize": 1}), db)
    second = ledger.list_transactions(call({"ledgerId": "ledger_main", "page": 2, "pageSize": 1}), db)
    beyond = ledger.list_transactions(call({"ledgerId": "ledger_main", "page": 3, "pageSize": 1}), db)
    assert (ids(first), first["total"], first["hasMore"]) == (["txn_1"], 2, True)
    assert (ids(second), second["page"], second["pageSize"], second["hasMore"]) == (["txn_2"], 2, 1, False)
    assert (ids(beyond), beyond["total"], beyond["hasMore"]) == ([], 2, False)


def test_invalid_date_is_action_invalid(db: LedgerDatabase) -> None:
    with pytest.raises(OppError) as caught:
        ledger.list_transactions(call({"ledgerId": "ledger_main", "startDate": "15/03/2025"}), db)
    assert caught.value.code is ReasonCode.ACTION_INVALID


def test_persistence_and_soft_delete_on_a_file(tmp_path: Path) -> None:
    options = {"path": "data/ledger.db", "seed_date": SEED.isoformat()}
    state = ledger.setup(options, str(tmp_path))
    ledger.teardown(state)
    file = tmp_path / "data" / "ledger.db"
    assert file.is_file()

    with sqlite3.connect(file) as connection:
        connection.execute(
            "UPDATE transactions SET deleted_at = '2025-03-15T01:00:00.000Z' WHERE id = 'txn_2'"
        )
    connection.close()

    reopened = ledger.setup({**options, "seed_date": "2030-01-01"}, str(tmp_path))
    try:
        page = ledger.list_transactions(call({"ledgerId": "ledger_main"}), reopened)
        assert ids(page) == ["txn_1"], "soft-deleted rows are excluded"
        assert page["items"][0]["occurredOn"] == days_ago(2), "a second open must not reseed"
        assert len(ledger.list_ledgers(call(), reopened)["items"]) == 2
    finally:
        ledger.teardown(reopened)


def test_default_path_is_under_base_dir(tmp_path: Path) -> None:
    ledger.teardown(ledger.setup({}, str(tmp_path)))
    assert (tmp_path / ".opp" / "demo-ledger.db").is_file()


async def test_served_through_the_python_backend_registry(tmp_path: Path) -> None:
    backend = PythonBackend(
        module="opp.demo.ledger", options={"path": ":memory:", "seed_date": SEED.isoformat()}
    )
    runtimes = {"demo": build_runtime("demo", backend, base_dir=str(tmp_path), environ={})}
    list_transactions = resolve_invoker(BackendRef(backend="demo", call="list_transactions"), runtimes)
    get_ledger = resolve_invoker(BackendRef(backend="demo", call="get_ledger"), runtimes, lookup=True)
    await runtimes["demo"].start()
    try:
        assert ids(await list_transactions(call({"ledgerId": "ledger_main", "pageSize": 1}))) == ["txn_1"]
        assert (await get_ledger(call({"id": "ledger_ops"})))["org_id"] == "org_demo"
        assert await get_ledger(call({"id": "nope"})) is None
    finally:
        await runtimes["demo"].close()
