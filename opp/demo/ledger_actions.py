"""The ledger demo's action tools (served through ``POST /actions``) and the ``transaction`` lookup.

Reference semantics:

- ``transaction.create``: a new transaction in a ledger, in the ledger's currency;
- ``transaction.update``: change some fields of a live transaction (``updatedAt`` moves);
- ``transaction.delete``: soft delete (``deletedAt`` set; no longer listed);
- ``transaction.hard_delete``: remove the row;
- ``transactions.export_csv``: every live transaction of a ledger in a date window, at most the
  app's ``max_export_rows`` (the gateway redacts and renders the CSV); its preflight
  (:func:`preview_export`) reports how many rows would be exported.

A create carrying an ``Idempotency-Key`` gets an id derived from the app and the key, so a repeated
backend call (a retry after a crash) finds the row the first one stored instead of adding another.
Nothing here sleeps or blocks beyond one short local SQLite transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from opp.clock import iso
from opp.demo import ledger_writes
from opp.demo.ledger_args import DEFAULT_MAX_DAYS, date_arg, invalid, policy_int, transaction_values
from opp.demo.ledger_data import LedgerDatabase, transaction_window
from opp.tools.api import ToolCall

__all__ = [
    "create_transaction",
    "delete_transaction",
    "export_transactions",
    "get_transaction",
    "hard_delete_transaction",
    "preview_export",
    "update_transaction",
]

DEFAULT_MAX_EXPORT_ROWS = 1000
_CREATE_FIELDS = frozenset({"ledgerId", "kind", "amount", "title", "notes", "occurredOn"})
_REQUIRED_TO_CREATE = ("ledgerId", "kind", "amount", "title", "occurredOn")


def get_transaction(call: ToolCall, state: LedgerDatabase) -> dict[str, Any] | None:
    """Resource lookup ``transaction``: ``args.id`` (even soft-deleted) with its ledger's ``org_id``."""
    transaction_id = call.args.get("id")
    return state.transaction(transaction_id) if isinstance(transaction_id, str) else None


def create_transaction(call: ToolCall, state: LedgerDatabase) -> dict[str, Any]:
    """``transaction.create`` → ``{transaction}``."""
    missing = [name for name in _REQUIRED_TO_CREATE if call.args.get(name) is None]
    if missing:
        raise invalid(f"{missing[0]} is required.")
    values = transaction_values(call.args, _CREATE_FIELDS)
    transaction = ledger_writes.create(
        state,
        values,
        txn_id=ledger_writes.new_transaction_id(call.context.app_id, call.context.idempotency_key),
        now=iso(call.context.now),
    )
    return {"transaction": transaction}


def update_transaction(call: ToolCall, state: LedgerDatabase) -> dict[str, Any]:
    """``transaction.update`` → ``{transaction}`` as updated."""
    changes = transaction_values(call.args, frozenset(ledger_writes.UPDATABLE_FIELDS))
    if not changes:
        raise invalid("Give at least one field to change.")
    transaction = ledger_writes.update(state, _transaction_id(call), changes, now=iso(call.context.now))
    return {"transaction": transaction}


def delete_transaction(call: ToolCall, state: LedgerDatabase) -> dict[str, Any]:
    """``transaction.delete`` (soft) → ``{transaction}`` with ``deletedAt`` set."""
    return {"transaction": ledger_writes.soft_delete(state, _transaction_id(call), now=iso(call.context.now))}


def hard_delete_transaction(call: ToolCall, state: LedgerDatabase) -> dict[str, Any]:
    """``transaction.hard_delete`` → ``{deleted: true, transactionId, ledgerId}``."""
    removed = ledger_writes.hard_delete(state, _transaction_id(call))
    return {"deleted": True, "transactionId": removed["id"], "ledgerId": removed["ledgerId"]}


def preview_export(call: ToolCall, state: LedgerDatabase) -> dict[str, Any]:
    """The impact of ``transactions.export_csv``: the window and how many rows it would export.

    Raises:
        OppError: ``agent.action_invalid`` when that is more than the app's ``max_export_rows``.
    """
    ledger_id, window = _export_window(call)
    max_rows = policy_int(call, "max_export_rows", DEFAULT_MAX_EXPORT_ROWS)
    return ledger_writes.export_preview(state, ledger_id, window, max_rows=max_rows)


def export_transactions(call: ToolCall, state: LedgerDatabase) -> dict[str, Any]:
    """``transactions.export_csv`` → ``{ledgerId, startDate, endDate, items}``, oldest first."""
    ledger_id, window = _export_window(call)
    max_rows = policy_int(call, "max_export_rows", DEFAULT_MAX_EXPORT_ROWS)
    items = ledger_writes.export_rows(state, ledger_id, window, max_rows=max_rows)
    return {
        "ledgerId": ledger_id,
        "startDate": window[0].isoformat(),
        "endDate": window[1].isoformat(),
        "items": items,
    }


def _export_window(call: ToolCall) -> tuple[str, tuple[dt.date, dt.date]]:
    ledger_id = call.args.get("ledgerId")
    if not isinstance(ledger_id, str):
        raise invalid("ledgerId is required.")
    window = transaction_window(
        date_arg(call.args, "startDate"),
        date_arg(call.args, "endDate"),
        today=call.context.now.astimezone(dt.UTC).date(),
        max_days=policy_int(call, "max_days", DEFAULT_MAX_DAYS),
    )
    if window[0] > window[1]:
        raise invalid("startDate must not be after endDate.")
    return ledger_id, window


def _transaction_id(call: ToolCall) -> str:
    transaction_id = call.args.get("transactionId")
    if not isinstance(transaction_id, str):
        raise invalid("transactionId is required.")
    return transaction_id
