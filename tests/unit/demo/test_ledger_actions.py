"""The ledger demo's action tools: create, update, soft and hard delete, export, and the lookup."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opp.codes import ReasonCode
from opp.demo import ledger
from opp.demo.ledger_data import LedgerDatabase
from opp.errors import OppError
from opp.tools.api import CallContext, ToolCall

SEED = dt.date(2025, 3, 15)
NOW = dt.datetime(2025, 3, 15, 18, 30, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)
SEEDED_AT = "2025-03-15T00:00:00.000Z"
NEW = {
    "ledgerId": "ledger_ops",
    "kind": "expense",
    "amount": 42.5,
    "title": "Taxi",
    "occurredOn": "2025-03-14",
}


def call(
    args: dict[str, Any],
    *,
    at: dt.datetime = NOW,
    key: str | None = None,
    app: str = "app_demo",
    **policy: Any,
) -> ToolCall:
    context = CallContext(
        request_id="req_1",
        app_id=app,
        key_id="key_1",
        actor_user_id="svc_org_demo",
        tenant="org_demo",
        app_policy=policy,
        now=at,
        idempotency_key=key,
    )
    return ToolCall(operation="action", args=args, context=context)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[LedgerDatabase]:
    state = ledger.setup({"path": ":memory:", "seed_date": SEED.isoformat()}, str(tmp_path))
    yield state
    ledger.teardown(state)


def listed(db: LedgerDatabase, ledger_id: str = "ledger_main") -> list[str]:
    return [item["id"] for item in ledger.list_transactions(call({"ledgerId": ledger_id}), db)["items"]]


def refused(code: ReasonCode, fn: Any, args: dict[str, Any], db: LedgerDatabase) -> str:
    with pytest.raises(OppError) as caught:
        fn(call(args), db)
    assert caught.value.code is code
    return caught.value.message


def test_get_transaction_carries_the_ledgers_tenant(db: LedgerDatabase) -> None:
    assert ledger.get_transaction(call({"id": "txn_foreign_1"}), db) == {
        "id": "txn_foreign_1",
        "ledgerId": "ledger_foreign",
        "org_id": "org_other",
        "kind": "income",
        "amount": 500,
        "currency": "EUR",
        "title": "Foreign invoice",
        "notes": "other workspace",
        "occurredOn": "2025-03-12",
        "createdAt": SEEDED_AT,
        "updatedAt": SEEDED_AT,
        "deletedAt": None,
    }
    assert ledger.get_transaction(call({"id": "txn_nope"}), db) is None
    assert ledger.get_transaction(call({"id": 3}), db) is None


def test_create_adds_a_listed_transaction_in_the_ledgers_currency(db: LedgerDatabase) -> None:
    created = ledger.create_transaction(call({**NEW, "notes": "airport"}), db)["transaction"]
    assert created["id"].startswith("txn_")
    assert {key: created[key] for key in ("ledgerId", "kind", "amount", "currency", "title", "notes")} == {
        "ledgerId": "ledger_ops",
        "kind": "expense",
        "amount": 42.5,
        "currency": "USD",
        "title": "Taxi",
        "notes": "airport",
    }
    assert (created["occurredOn"], created["createdAt"], created["updatedAt"], created["deletedAt"]) == (
        "2025-03-14",
        "2025-03-15T18:30:00.000Z",
        "2025-03-15T18:30:00.000Z",
        None,
    )
    assert listed(db, "ledger_ops") == [created["id"]]
    assert ledger.get_transaction(call({"id": created["id"]}), db) == {**created, "org_id": "org_demo"}


def test_create_with_an_idempotency_key_stores_one_row(db: LedgerDatabase) -> None:
    first = ledger.create_transaction(call(NEW, key="idem-1"), db)
    again = ledger.create_transaction(call(NEW, key="idem-1", at=LATER), db)
    other_app = ledger.create_transaction(call(NEW, key="idem-1", app="app_other"), db)
    other_key = ledger.create_transaction(call(NEW, key="idem-2"), db)
    assert first == again
    assert (
        len({first["transaction"]["id"], other_app["transaction"]["id"], other_key["transaction"]["id"]}) == 3
    )
    assert len(listed(db, "ledger_ops")) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "refund"}, "kind must be income or expense."),
        ({"amount": 0}, "amount must be a number above zero."),
        ({"amount": -3}, "amount must be a number above zero."),
        ({"amount": True}, "amount must be a number above zero."),
        ({"amount": "12"}, "amount must be a number above zero."),
        ({"title": ""}, "title must be 1 to 200 characters."),
        ({"title": "x" * 201}, "title must be 1 to 200 characters."),
        ({"notes": 7}, "notes must be a string or null."),
        ({"occurredOn": "14/03/2025"}, "occurredOn must be a date (YYYY-MM-DD)."),
        ({"title": None}, "title is required."),
    ],
)
def test_create_refuses_bad_input(db: LedgerDatabase, change: dict[str, Any], message: str) -> None:
    assert refused(ReasonCode.ACTION_INVALID, ledger.create_transaction, {**NEW, **change}, db) == message
    assert listed(db, "ledger_ops") == []


def test_create_in_an_unknown_ledger(db: LedgerDatabase) -> None:
    refused(ReasonCode.NOT_FOUND, ledger.create_transaction, {**NEW, "ledgerId": "ledger_nope"}, db)


def test_update_changes_fields_and_moves_updated_at(db: LedgerDatabase) -> None:
    args = {"transactionId": "txn_2", "amount": 95, "notes": None, "occurredOn": "2025-03-11"}
    updated = ledger.update_transaction(call(args, at=LATER), db)["transaction"]
    assert {key: updated[key] for key in ("amount", "notes", "occurredOn", "kind", "title")} == {
        "amount": 95,
        "notes": None,
        "occurredOn": "2025-03-11",
        "kind": "expense",
        "title": "Software subscription",
    }
    assert (updated["createdAt"], updated["updatedAt"]) == (SEEDED_AT, "2025-03-15T18:35:00.000Z")
    assert ledger.get_transaction(call({"id": "txn_2"}), db) == {**updated, "org_id": "org_demo"}


def test_update_refusals(db: LedgerDatabase) -> None:
    message = refused(ReasonCode.ACTION_INVALID, ledger.update_transaction, {"transactionId": "txn_2"}, db)
    assert message == "Give at least one field to change."
    refused(ReasonCode.NOT_FOUND, ledger.update_transaction, {"transactionId": "txn_nope", "amount": 1}, db)
    refused(ReasonCode.ACTION_INVALID, ledger.update_transaction, {"transactionId": "txn_2", "amount": 0}, db)
    ledger.delete_transaction(call({"transactionId": "txn_2"}), db)
    message = refused(
        ReasonCode.ACTION_INVALID, ledger.update_transaction, {"transactionId": "txn_2", "amount": 1}, db
    )
    assert message == "The transaction is deleted."


def test_soft_delete_hides_the_transaction_but_keeps_the_row(db: LedgerDatabase) -> None:
    deleted = ledger.delete_transaction(call({"transactionId": "txn_2"}, at=LATER), db)["transaction"]
    assert (deleted["id"], deleted["deletedAt"], deleted["updatedAt"]) == (
        "txn_2",
        "2025-03-15T18:35:00.000Z",
        "2025-03-15T18:35:00.000Z",
    )
    assert listed(db) == ["txn_1"]
    assert ledger.get_transaction(call({"id": "txn_2"}), db) == {**deleted, "org_id": "org_demo"}
    assert refused(ReasonCode.ACTION_INVALID, ledger.delete_transaction, {"transactionId": "txn_2"}, db) == (
        "The transaction is deleted."
    )
    refused(ReasonCode.NOT_FOUND, ledger.delete_transaction, {"transactionId": "txn_nope"}, db)


def test_hard_delete_removes_live_and_soft_deleted_rows(db: LedgerDatabase) -> None:
    assert ledger.hard_delete_transaction(call({"transactionId": "txn_1"}), db) == {
        "deleted": True,
        "transactionId": "txn_1",
        "ledgerId": "ledger_main",
    }
    ledger.delete_transaction(call({"transactionId": "txn_2"}), db)
    ledger.hard_delete_transaction(call({"transactionId": "txn_2"}), db)
    assert ledger.get_transaction(call({"id": "txn_1"}), db) is None
    assert ledger.get_transaction(call({"id": "txn_2"}), db) is None
    refused(ReasonCode.NOT_FOUND, ledger.hard_delete_transaction, {"transactionId": "txn_1"}, db)


WINDOW = {"ledgerId": "ledger_main", "startDate": "2025-03-01", "endDate": "2025-03-15"}


def test_export_returns_the_windows_live_rows_oldest_first(db: LedgerDatabase) -> None:
    ledger.create_transaction(call({**NEW, "ledgerId": "ledger_main", "occurredOn": "2025-02-27"}), db)
    export = ledger.export_transactions(call(WINDOW), db)
    assert (export["ledgerId"], export["startDate"], export["endDate"]) == (
        "ledger_main",
        "2025-03-01",
        "2025-03-15",
    )
    assert [item["id"] for item in export["items"]] == ["txn_2", "txn_1"]
    assert export["items"][0]["title"] == "Software subscription"
    ledger.delete_transaction(call({"transactionId": "txn_2"}), db)
    assert [item["id"] for item in ledger.export_transactions(call(WINDOW), db)["items"]] == ["txn_1"]


def test_export_preview_counts_rows(db: LedgerDatabase) -> None:
    assert ledger.preview_export(call(WINDOW), db) == {
        "summary": "Export 2 transactions of ledger ledger_main from 2025-03-01 to 2025-03-15 as CSV",
        "ledgerId": "ledger_main",
        "startDate": "2025-03-01",
        "endDate": "2025-03-15",
        "rows": 2,
    }
    assert ledger.preview_export(call({**WINDOW, "ledgerId": "ledger_ops"}), db)["rows"] == 0


def test_export_enforces_max_export_rows(db: LedgerDatabase) -> None:
    assert len(ledger.export_transactions(call(WINDOW, max_export_rows=2), db)["items"]) == 2
    with pytest.raises(OppError) as caught:
        ledger.export_transactions(call(WINDOW, max_export_rows=1), db)
    assert (caught.value.code, caught.value.message, caught.value.details) == (
        ReasonCode.ACTION_INVALID,
        "The window holds more than 1 transactions, the app's max_export_rows.",
        {"maxExportRows": 1},
    )
    with pytest.raises(OppError) as caught:
        ledger.preview_export(call(WINDOW, max_export_rows=1), db)
    assert (caught.value.code, caught.value.message) == (
        ReasonCode.ACTION_INVALID,
        "The window holds 2 transactions; the app may export at most 1.",
    )


def test_export_refuses_an_inverted_window(db: LedgerDatabase) -> None:
    args = {**WINDOW, "startDate": "2025-03-15", "endDate": "2025-03-01"}
    assert refused(ReasonCode.ACTION_INVALID, ledger.export_transactions, args, db) == (
        "startDate must not be after endDate."
    )


def test_two_connections_share_the_file_in_wal_mode(tmp_path: Path) -> None:
    options = {"path": "ledger.db", "seed_date": SEED.isoformat()}
    first, second = ledger.setup(options, str(tmp_path)), ledger.setup(options, str(tmp_path))
    try:
        created = ledger.create_transaction(call(NEW, key="k"), first)["transaction"]
        assert ledger.get_transaction(call({"id": created["id"]}), second) is not None
        assert ledger.create_transaction(call(NEW, key="k"), second)["transaction"] == created
        ledger.delete_transaction(call({"transactionId": "txn_1"}), second)
        assert listed(first) == ["txn_2"]
    finally:
        ledger.teardown(first)
        ledger.teardown(second)
    with sqlite3.connect(tmp_path / "ledger.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_a_database_without_updated_at_is_migrated(tmp_path: Path) -> None:
    file = tmp_path / "old.db"
    with sqlite3.connect(file) as connection:
        connection.executescript(
            "CREATE TABLE ledgers (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL,"
            " currency TEXT NOT NULL);"
            "CREATE TABLE transactions (id TEXT PRIMARY KEY, ledger_id TEXT NOT NULL, kind TEXT NOT NULL,"
            " amount NUMERIC NOT NULL, currency TEXT NOT NULL, title TEXT NOT NULL, notes TEXT,"
            " occurred_on TEXT NOT NULL, created_at TEXT NOT NULL, deleted_at TEXT);"
            "CREATE TABLE demo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO demo_meta VALUES ('seeded_at', 'x');"
            "INSERT INTO ledgers VALUES ('ledger_main', 'org_demo', 'Main', 'USD');"
            "INSERT INTO transactions VALUES ('txn_old', 'ledger_main', 'income', 5, 'USD', 'Old', NULL,"
            " '2025-03-14', '2025-03-01T00:00:00.000Z', NULL);"
        )
    connection.close()
    state = ledger.setup({"path": "old.db"}, str(tmp_path))
    try:
        assert (
            ledger.get_transaction(call({"id": "txn_old"}), state)["updatedAt"] == "2025-03-01T00:00:00.000Z"
        )
    finally:
        ledger.teardown(state)


async def test_the_slow_test_backend_applies_the_demos_effect(tmp_path: Path) -> None:
    from opp.config.schema import BackendRef, PythonBackend
    from opp.tools.registry import build_runtime, resolve_invoker

    backend = PythonBackend(
        module="tests.support.slow_backend",
        options={"path": ":memory:", "seed_date": SEED.isoformat(), "delay_s": 0},
    )
    runtimes = {"demo": build_runtime("demo", backend, base_dir=str(tmp_path), environ={})}
    delete = resolve_invoker(BackendRef(backend="demo", call="delete_transaction"), runtimes)
    lookup = resolve_invoker(BackendRef(backend="demo", call="get_transaction"), runtimes, lookup=True)
    await runtimes["demo"].start()
    try:
        await delete(call({"transactionId": "txn_1"}))
        assert (await lookup(call({"id": "txn_1"})))["deletedAt"] == "2025-03-15T18:30:00.000Z"
    finally:
        await runtimes["demo"].close()
