"""The reference demo backend (``opp.demo.openport``) against REFERENCE-DEMO.md §5-§6: date ranges,
payload aliases, results, CSV, the State Witness, and the gaps opp closes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from opp.codes import ReasonCode
from opp.demo import openport
from opp.demo.openport.database import ReferenceDatabase
from opp.demo.openport.rules import js_iso, js_number, js_string, resolve_range
from opp.errors import OppError
from opp.tools.api import CallContext, ToolCall

NOW = dt.datetime(2026, 2, 13, 12, 0, tzinfo=dt.UTC)
T0 = "2026-02-13T09:00:00.000Z"


@pytest.fixture
def db() -> Iterator[ReferenceDatabase]:
    database = ReferenceDatabase.open(":memory:", seeded_at=T0)
    yield database
    database.close()


def call(
    args: dict[str, Any], *, window: dict[str, Any] | None = None, key: str | None = None, **policy: Any
) -> ToolCall:
    context = CallContext(
        request_id="req_1",
        app_id="app_demo",
        key_id="key_1",
        actor_user_id="svc_org_demo",
        tenant="org_demo",
        app_policy=policy,
        now=NOW,
        idempotency_key=key,
        auto_execute_window=window,
    )
    return ToolCall(operation="t", args=args, context=context)


def refused(code: ReasonCode, message: str, action: Any, *args: Any) -> None:
    with pytest.raises(OppError) as caught:
        action(*args)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_javascript_conversions() -> None:
    assert js_number("99.5") == 99.5 and js_number(10) == 10.0 and js_number("") == 0.0
    assert js_number("ten") is None and js_number(None) is None and js_number(float("inf")) is None
    assert js_string(1200.0) == "1200" and js_string(99.5) == "99.5" and js_string(True) == "true"
    assert js_iso(dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)) == "2026-01-02T03:04:05.678Z"


def test_without_max_days_the_range_is_the_strings_that_parse() -> None:
    found = resolve_range("2026-01-01", "2026-01-31T10:00:00Z", None, NOW)
    assert (found.start_text, found.end_text) == ("2026-01-01", "2026-01-31T10:00:00Z")
    assert resolve_range(None, None, None, NOW).start_text is None


def test_with_max_days_a_date_only_end_reaches_the_end_of_its_day() -> None:
    allowed = resolve_range("2026-01-01", "2026-01-07", 7, NOW)
    assert (allowed.start_text, allowed.end_text) == ("2026-01-01", "2026-01-07")
    assert allowed.holds("2026-01-07T23:00:00.000Z") and not allowed.holds("2026-01-08T00:00:00.000Z")
    refused(
        ReasonCode.POLICY_DENIED,
        "Date range exceeds allowed window",
        resolve_range,
        "2026-01-01",
        "2026-01-08",
        7,
        NOW,
    )
    refused(
        ReasonCode.ACTION_INVALID, "Invalid date range", resolve_range, "2026-01-09", "2026-01-08", 7, NOW
    )
    default = resolve_range(None, None, 30, NOW)
    assert (default.start_text, default.end_text) == ("2026-01-14", "2026-02-13")
    assert default.holds(T0)  # dated today: inside (the reference would exclude it)


def test_an_unreadable_date_is_refused_not_ignored() -> None:
    with pytest.raises(OppError) as caught:
        resolve_range("2026-13-45", None, None, NOW)
    assert caught.value.code is ReasonCode.ACTION_INVALID


def test_listing_pages_and_fields(db: ReferenceDatabase) -> None:
    page = openport.list_transactions(call({"ledgerId": " ledger_main ", "pageSize": 1, "page": 2}), db)
    assert (page["total"], page["page"], page["pageSize"], page["hasMore"]) == (2, 2, 1, False)
    assert page["items"][0]["id"] == "txn_2" and "is_deleted" not in page["items"][0]
    refused(
        ReasonCode.ACTION_INVALID,
        "ledgerId required",
        openport.list_transactions,
        call({"ledgerId": " "}),
        db,
    )


def test_create_reads_the_aliases_and_returns_the_full_row(db: ReferenceDatabase) -> None:
    args = {
        "ledger_id": "ledger_ops",
        "kind": "expense",
        "title": " Taxi ",
        "amountHome": "42.5",
        "currencyHome": "eur",
    }
    created = openport.create_transaction(call(args, key="k-1"), db)["transaction"]
    assert (created["ledger_id"], created["title"], created["amount_home"], created["currency_home"]) == (
        "ledger_ops",
        "Taxi",
        42.5,
        "EUR",
    )
    assert created["date"] == created["created_at"] == js_iso(NOW) and created["is_deleted"] is False
    again = openport.create_transaction(call(args, key="k-1"), db)["transaction"]
    assert again["id"] == created["id"]  # a retried call with the same idempotency key adds no row
    bad = {"ledgerId": "ledger_main", "kind": "expense", "title": "x", "amount_home": "lots"}
    refused(
        ReasonCode.ACTION_INVALID, "Invalid transaction payload", openport.create_transaction, call(bad), db
    )


def test_update_cannot_move_a_transaction_out_of_the_caller_s_reach(db: ReferenceDatabase) -> None:
    refused(
        ReasonCode.POLICY_DENIED,
        "Ledger not allowed for this integration",
        openport.update_transaction,
        call({"transactionId": "txn_1", "ledgerId": "ledger_foreign"}),
        db,
    )
    refused(
        ReasonCode.POLICY_DENIED,
        "Ledger not allowed for this integration",
        openport.update_transaction,
        call({"transactionId": "txn_1", "ledgerId": "ledger_ops"}, allowed_ledger_ids=["ledger_main"]),
        db,
    )
    moved = openport.update_transaction(call({"id": "txn_1", "ledgerId": "ledger_ops", "notes": ""}), db)
    assert moved["transaction"]["ledger_id"] == "ledger_ops" and moved["transaction"]["notes"] is None


def test_delete_witness_and_hard_delete(db: ReferenceDatabase) -> None:
    witness = openport.transaction_witness(call({"transactionId": "txn_2"}), db)
    assert witness == {
        "kind": "resource_version",
        "resource": "transaction",
        "id": "txn_2",
        "ledger_id": "ledger_main",
        "updated_at": T0,
        "is_deleted": False,
    }
    assert openport.delete_transaction(call({"transactionId": "txn_2"}), db) == {
        "deleted": {"id": "txn_2", "deleted": True}
    }
    refused(
        ReasonCode.NOT_FOUND,
        "Transaction not found",
        openport.delete_transaction,
        call({"transactionId": "txn_2"}),
        db,
    )
    assert openport.transaction_witness(call({"id": "txn_2"}), db)["is_deleted"] is True
    hard = openport.hard_delete_transaction(call({"transactionId": "txn_2"}), db)
    assert hard == {"deleted": {"id": "txn_2", "deleted": True, "hard": True}}
    gone = openport.transaction_witness(call({"transactionId": "txn_2"}), db)
    assert gone == {"kind": "resource_version", "resource": "transaction", "id": "txn_2", "exists": False}


def test_impacts_redact_the_title_when_the_app_may_not_see_it(db: ReferenceDatabase) -> None:
    shown = openport.preview_delete(call({"transactionId": "txn_1"}), db)
    assert shown["transaction"]["title"] == "Consulting payment"
    hidden = openport.preview_hard_delete(call({"transactionId": "txn_1"}, allow_sensitive_fields=False), db)
    assert hidden["summary"] == "Hard delete 1 transaction" and hidden["transaction"]["title"] == "[redacted]"


def test_export_csv_and_the_window_row_cap(db: ReferenceDatabase) -> None:
    openport.create_transaction(
        call(
            {
                "ledgerId": "ledger_main",
                "kind": "expense",
                "title": 'Say "hi", ok',
                "amount_home": 3,
                "date": "2026-02-14",
            }
        ),
        db,
    )
    export = openport.export_transactions(call({"ledgerId": "ledger_main"}), db)["export"]
    lines = export["csv"].split("\n")
    assert lines[0] == "id,date,kind,title,amount_home,currency_home,created_at,updated_at"
    assert export["rowCount"] == 3 and '"Say ""hi"", ok"' in lines[1]
    capped = openport.export_transactions(
        call({"ledgerId": "ledger_main"}, window={"max_export_rows": 1}), db
    )
    assert capped["export"]["rowCount"] == 1
    hidden = openport.export_transactions(call({"ledgerId": "ledger_main"}, allow_sensitive_fields=False), db)
    assert all(line.split(",")[3] == "" for line in hidden["export"]["csv"].split("\n")[1:])
    impact = openport.preview_export(call({"ledger_id": "ledger_main", "limit": "20"}), db)
    assert impact == {
        "summary": "Export transactions as CSV",
        "export": {"ledgerId": "ledger_main", "startDate": None, "endDate": None, "requestedLimit": 20},
    }
    assert (
        openport.preview_export(call({"ledgerId": "ledger_main", "limit": 0}), db)["export"]["requestedLimit"]
        is None
    )
