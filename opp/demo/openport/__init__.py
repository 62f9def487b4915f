"""The OpenPort reference runtime's demo domain on the wire, for the root ``gateway.yaml``
(``backends.demo: {kind: python, module: opp.demo.openport}``).

Same seed, item fields, action payloads (with their aliases), results, impacts and State Witness
objects as the reference (REFERENCE-DEMO.md §2 to §7), so ``impactHash`` and ``stateWitnessHash`` of
the same action on the same data equal the reference's. The gateway has already authenticated the
caller and applied scopes, the tenant boundary, the ledger and organisation allowlists (CEL) and
the input schema when these run; they add what the reference's domain checks itself, and close
three of its gaps (REFERENCE-DEMO.md §16, docs/COMPATIBILITY.md): an update cannot move a
transaction to a ledger outside the caller's workspace or allowlist, impacts redact the title when
the app may not see sensitive fields, and an auto-executed export holds at most the high-risk
window's ``max_export_rows``.

Options (``backends.demo.options``): ``path`` — the SQLite file, relative to ``gateway.yaml``'s
directory (default ``.opp/reference-demo.db``; ``:memory:`` for a throw-away one).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from typing import Any

from opp.clock import SystemClock
from opp.codes import ReasonCode
from opp.demo.openport.database import MEMORY, ReferenceDatabase
from opp.demo.openport.rules import (
    DateRange,
    first_text,
    invalid,
    js_iso,
    js_number,
    js_string,
    policy_of,
    resolve_range,
    wire_number,
)
from opp.errors import OppError
from opp.tools.api import ToolCall

__all__ = [
    "create_transaction",
    "delete_transaction",
    "export_transactions",
    "get_ledger",
    "get_transaction",
    "hard_delete_transaction",
    "list_ledgers",
    "list_transactions",
    "preview_delete",
    "preview_export",
    "preview_hard_delete",
    "setup",
    "teardown",
    "transaction_witness",
    "update_transaction",
]

DEFAULT_PATH = ".opp/reference-demo.db"
_CSV_HEADER = "id,date,kind,title,amount_home,currency_home,created_at,updated_at"
_LISTED = (
    "id",
    "ledger_id",
    "kind",
    "title",
    "amount_home",
    "currency_home",
    "date",
    "notes",
    "created_at",
    "updated_at",
)


def setup(options: dict[str, Any], base_dir: str) -> ReferenceDatabase:
    path = str(options.get("path", DEFAULT_PATH))
    if path != MEMORY:
        path = os.path.join(base_dir, path)
    return ReferenceDatabase.open(path, seeded_at=js_iso(SystemClock().now()))


def teardown(state: ReferenceDatabase) -> None:
    state.close()


def _not_found(what: str) -> OppError:
    return OppError(ReasonCode.NOT_FOUND, f"{what} not found")


def _denied(message: str = "Ledger not allowed for this integration") -> OppError:
    return OppError(ReasonCode.POLICY_DENIED, message)


# ---- lookups and reads ------------------------------------------------------------------------


def get_ledger(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any] | None:
    """Resource lookup ``ledger`` (the gateway compares ``organization_id`` with the tenant)."""
    ledger_id = call.args.get("id")
    return state.ledger(ledger_id.strip()) if isinstance(ledger_id, str) else None


def get_transaction(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any] | None:
    """Resource lookup ``transaction``, soft-deleted included, with its ledger's workspace."""
    transaction_id = call.args.get("id")
    if not isinstance(transaction_id, str):
        return None
    found = state.transaction(transaction_id.strip())
    if found is None:
        return None
    ledger = state.ledger(found["ledger_id"])
    return {**found, "organization_id": ledger["organization_id"] if ledger else None}


def list_ledgers(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    """``ledger.list``: the ledgers of the caller's workspace, in seed order."""
    tenant = call.context.tenant
    return {"items": state.ledgers_of(tenant) if tenant is not None else []}


def _clamped(value: Any, default: int, high: int) -> int:
    return (
        min(max(int(value), 1), high) if isinstance(value, int) and not isinstance(value, bool) else default
    )


def _rows(state: ReferenceDatabase, ledger_id: str, window: DateRange) -> list[dict[str, Any]]:
    """Live rows in the window, newest ``date`` first (ties in insertion order)."""
    rows = [row for row in state.live_transactions(ledger_id) if window.holds(row["date"])]
    return sorted(rows, key=lambda row: str(row["date"]), reverse=True)


def list_transactions(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    """``transaction.list`` → ``{items, total, page, pageSize, hasMore}``."""
    args = call.args
    ledger_id = first_text(args, "ledgerId")
    if not ledger_id:
        raise invalid("ledgerId required")
    max_days, _ = policy_of(call.context.app_policy)
    window = resolve_range(args.get("startDate"), args.get("endDate"), max_days, call.context.now)
    page = _clamped(args.get("page"), 1, 10000)
    size = _clamped(args.get("pageSize"), 50, 200)
    rows = _rows(state, ledger_id, window)
    items = [{name: row[name] for name in _LISTED} for row in rows[(page - 1) * size : page * size]]
    return {
        "items": items,
        "total": len(rows),
        "page": page,
        "pageSize": size,
        "hasMore": (page - 1) * size + len(items) < len(rows),
    }


# ---- actions ----------------------------------------------------------------------------------


def _transaction_id(args: dict[str, Any]) -> str:
    found = first_text(args, "transactionId", "id")
    if not found:
        raise invalid("transactionId required")
    return found


def _new_id(call: ToolCall) -> str:
    """``txn_<hex16>``; derived from the app and the idempotency key when there is one, so a
    retried backend call finds the row the first one stored instead of adding another."""
    key = call.context.idempotency_key
    if key is None:
        return f"txn_{secrets.token_hex(8)}"
    return "txn_" + hashlib.sha256(f"{call.context.app_id}:{key}".encode()).hexdigest()[:16]


def create_transaction(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    """``transaction.create`` → ``{transaction}`` (REFERENCE-DEMO.md §6.2)."""
    args = call.args
    ledger_id = first_text(args, "ledgerId", "ledger_id")
    if not ledger_id:
        raise invalid("ledgerId required")
    kind = js_string(args.get("kind") or "").strip()
    title = js_string(args.get("title") or "").strip()
    amount = js_number(args["amount_home"] if args.get("amount_home") else args.get("amountHome"))
    if not kind or not title or amount is None:
        raise invalid("Invalid transaction payload")
    if state.ledger(ledger_id) is None:
        raise _not_found("Ledger")
    now = js_iso(call.context.now)
    notes = args.get("notes")
    transaction = {
        "id": _new_id(call),
        "ledger_id": ledger_id,
        "kind": kind,
        "title": title,
        "amount_home": wire_number(amount),
        "currency_home": (first_text(args, "currency_home", "currencyHome") or "USD").upper(),
        "date": first_text(args, "date") or now,
        "notes": js_string(notes) if notes else None,
        "is_deleted": False,
        "created_at": now,
        "updated_at": now,
    }
    return {"transaction": state.insert(transaction)}


def _target_ledger(call: ToolCall, state: ReferenceDatabase, ledger_id: str) -> None:
    """An update may move a transaction only to a ledger the caller could create it in."""
    ledger = state.ledger(ledger_id)
    if ledger is None:
        raise _not_found("Ledger")
    allowed = call.context.app_policy.get("allowed_ledger_ids")
    if ledger["organization_id"] != call.context.tenant or (allowed is not None and ledger_id not in allowed):
        raise _denied()


def update_transaction(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    """``transaction.update`` → ``{transaction}`` (REFERENCE-DEMO.md §6.3)."""
    args = call.args
    transaction_id = _transaction_id(args)
    target = first_text(args, "ledgerId", "ledger_id")
    if target:
        _target_ledger(call, state, target)

    def change(current: dict[str, Any]) -> dict[str, Any]:
        if current["is_deleted"]:
            raise _not_found("Transaction")
        if target:
            current["ledger_id"] = target
        for name in ("kind", "title", "date"):
            if args.get(name):
                current[name] = js_string(args[name])
        if "amount_home" in args or "amountHome" in args:
            raw = args.get("amount_home")
            amount = js_number(raw if raw is not None else args.get("amountHome"))
            if amount is None:
                raise invalid("Invalid amount")
            current["amount_home"] = wire_number(amount)
        currency = first_text(args, "currency_home", "currencyHome")
        if currency:
            current["currency_home"] = currency.upper()
        if "notes" in args:
            current["notes"] = js_string(args["notes"]) if args["notes"] else None
        current["updated_at"] = js_iso(call.context.now)
        return current

    return {"transaction": _modify(state, transaction_id, change)}


def _modify(state: ReferenceDatabase, transaction_id: str, change: Any) -> dict[str, Any]:
    try:
        return state.modify(transaction_id, change)
    except LookupError:
        raise _not_found("Transaction") from None


def delete_transaction(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    """``transaction.delete`` (soft) → ``{deleted: {id, deleted}}``."""
    transaction_id = _transaction_id(call.args)

    def change(current: dict[str, Any]) -> dict[str, Any]:
        if current["is_deleted"]:
            raise _not_found("Transaction")
        return {**current, "is_deleted": True, "updated_at": js_iso(call.context.now)}

    _modify(state, transaction_id, change)
    return {"deleted": {"id": transaction_id, "deleted": True}}


def hard_delete_transaction(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    """``transaction.hard_delete`` (the row is removed, deleted or not) → ``{deleted: {…, hard}}``."""
    transaction_id = _transaction_id(call.args)
    _modify(state, transaction_id, lambda current: None)
    return {"deleted": {"id": transaction_id, "deleted": True, "hard": True}}


def _export_request(call: ToolCall) -> tuple[str, DateRange]:
    args = call.args
    ledger_id = first_text(args, "ledgerId", "ledger_id")
    if not ledger_id:
        raise invalid("ledgerId required")
    max_days, _ = policy_of(call.context.app_policy)
    start = args.get("startDate") or None
    end = args.get("endDate") or None
    return ledger_id, resolve_range(start, end, max_days, call.context.now)


def _csv_field(value: Any) -> str:
    text = "" if value is None else js_string(value)
    if any(mark in text for mark in ('"', ",", "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


def export_transactions(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    """``transactions.export_csv`` → ``{export: {format, ledgerId, rowCount, csv}}`` (§6.6).

    At most 200 rows (the reference's page clamp), and when an auto-execute window runs it, at
    most that window's ``max_export_rows``.
    """
    ledger_id, window = _export_request(call)
    limit_value = js_number(call.args.get("limit") or 200)
    # the reference clamps the limit to 1..5000, then its page size to 200: at most 200 rows
    limit = 50 if limit_value is None else min(max(int(limit_value), 1), 200)
    cap = (call.context.auto_execute_window or {}).get("max_export_rows")
    if isinstance(cap, int) and not isinstance(cap, bool):
        limit = min(limit, cap)
    _, sensitive = policy_of(call.context.app_policy)
    lines = [_CSV_HEADER]
    rows = _rows(state, ledger_id, window)[:limit]
    for row in rows:
        title = row["title"] if sensitive else ""
        values = (row["id"], row["date"], row["kind"], title, row["amount_home"], row["currency_home"])
        lines.append(",".join(_csv_field(v) for v in (*values, row["created_at"], row["updated_at"])))
    return {
        "export": {"format": "csv", "ledgerId": ledger_id, "rowCount": len(rows), "csv": "\n".join(lines)}
    }


# ---- impacts and the State Witness ------------------------------------------------------------


def _impact_of(call: ToolCall, state: ReferenceDatabase, summary: str) -> dict[str, Any]:
    found = state.transaction(_transaction_id(call.args))
    if found is None:
        raise _not_found("Transaction")
    _, sensitive = policy_of(call.context.app_policy)
    return {
        "summary": summary,
        "transaction": {
            "id": found["id"],
            "ledger_id": found["ledger_id"],
            "title": found["title"] if sensitive else "[redacted]",
            "amount_home": found["amount_home"],
            "date": found["date"],
            "is_deleted": found["is_deleted"],
        },
    }


def preview_delete(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    return _impact_of(call, state, "Delete 1 transaction")


def preview_hard_delete(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    return _impact_of(call, state, "Hard delete 1 transaction")


def preview_export(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    ledger_id, window = _export_request(call)
    requested = js_number(call.args.get("limit")) if call.args.get("limit") is not None else None
    return {
        "summary": "Export transactions as CSV",
        "export": {
            "ledgerId": ledger_id,
            "startDate": window.start_text,
            "endDate": window.end_text,
            "requestedLimit": wire_number(requested) if requested else None,
        },
    }


def transaction_witness(call: ToolCall, state: ReferenceDatabase) -> dict[str, Any]:
    """``{kind: resource_version, resource: transaction, id, ledger_id, updated_at, is_deleted}``,
    or ``{…, id, exists: false}`` once the row is gone (REFERENCE-DEMO.md §6.1)."""
    transaction_id = _transaction_id(call.args)
    found = state.transaction(transaction_id)
    witness: dict[str, Any] = {"kind": "resource_version", "resource": "transaction", "id": transaction_id}
    if found is None:
        return {**witness, "exists": False}
    return {
        **witness,
        "ledger_id": found["ledger_id"],
        "updated_at": found["updated_at"],
        "is_deleted": found["is_deleted"],
    }
