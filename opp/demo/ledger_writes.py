"""The ledger demo's writes: create, update, soft delete and hard delete a transaction; export rows.

Shared by the embedded backend (:mod:`opp.demo.ledger_actions`) and the ``examples/ledger-http``
service. Each write is one ``BEGIN IMMEDIATE`` transaction (:meth:`LedgerDatabase.write`): the row
is read and changed under the write lock, so concurrent processes never interleave. Creating is
idempotent by id (``ON CONFLICT DO NOTHING``): a retried create with the same id returns the row the
first attempt stored. Refusals raise :class:`~opp.errors.OppError` (``agent.not_found`` for an unknown
transaction, ``agent.action_invalid`` for a change the application refuses).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Mapping
from typing import Any

from opp.clock import IdFactory
from opp.codes import ReasonCode
from opp.demo.ledger_data import LedgerDatabase, transaction_from_row
from opp.errors import OppError

__all__ = [
    "UPDATABLE_FIELDS",
    "count_export",
    "create",
    "export_preview",
    "export_rows",
    "hard_delete",
    "soft_delete",
    "update",
]

UPDATABLE_FIELDS: Mapping[str, str] = {
    "kind": "kind",
    "amount": "amount",
    "title": "title",
    "notes": "notes",
    "occurredOn": "occurred_on",
}
"""Wire name → column of the fields ``transaction.update`` may change."""

_INSERT = (
    "INSERT INTO transactions"
    " (id, ledger_id, kind, amount, currency, title, notes, occurred_on, created_at, updated_at)"
    " VALUES (:id, :ledger_id, :kind, :amount, :currency, :title, :notes, :occurred_on, :now, :now)"
    " ON CONFLICT (id) DO NOTHING"
)
_SELECT = (
    "SELECT id, ledger_id, kind, amount, currency, title, notes, occurred_on, created_at, updated_at,"
    " deleted_at FROM transactions WHERE id = ?"
)
_UPDATE = (
    "UPDATE transactions SET kind = :kind, amount = :amount, title = :title, notes = :notes,"
    " occurred_on = :occurred_on, updated_at = :now WHERE id = :id"
)
_SOFT_DELETE = "UPDATE transactions SET deleted_at = :now, updated_at = :now WHERE id = :id"
_HARD_DELETE = "DELETE FROM transactions WHERE id = ?"
_COUNT_EXPORT = (
    "SELECT COUNT(*) FROM transactions"
    " WHERE ledger_id = ? AND deleted_at IS NULL AND occurred_on BETWEEN ? AND ?"
)
_SELECT_EXPORT = (
    "SELECT id, ledger_id, kind, amount, currency, title, notes, occurred_on, created_at, updated_at,"
    " deleted_at FROM transactions"
    " WHERE ledger_id = ? AND deleted_at IS NULL AND occurred_on BETWEEN ? AND ?"
    " ORDER BY occurred_on, id LIMIT ?"
)


_ids = IdFactory()


def new_transaction_id(app_id: str, idempotency_key: str | None) -> str:
    """A fresh id; with an ``Idempotency-Key``, the same id for every retry of that app's create."""
    if idempotency_key is None:
        return _ids.new("txn")
    digest = hashlib.sha256(f"{app_id}\n{idempotency_key}".encode()).hexdigest()
    return f"txn_{digest[:24]}"


def create(database: LedgerDatabase, values: Mapping[str, Any], *, txn_id: str, now: str) -> dict[str, Any]:
    """Insert a transaction into ``values["ledgerId"]`` (in the ledger's currency); return it.

    Args:
        database: The demo database.
        values: ``ledgerId``, ``kind``, ``amount``, ``title``, ``notes`` (optional), ``occurredOn``.
        txn_id: The new transaction's id; when it exists already, the stored row is returned.
        now: RFC 3339 ``createdAt``/``updatedAt``.
    """
    ledger = database.ledger(str(values["ledgerId"]))
    if ledger is None:
        raise OppError(ReasonCode.NOT_FOUND, "Ledger not found.")
    row = {
        "id": txn_id,
        "ledger_id": ledger["id"],
        "kind": values["kind"],
        "amount": values["amount"],
        "currency": ledger["currency"],
        "title": values["title"],
        "notes": values.get("notes"),
        "occurred_on": values["occurredOn"],
        "now": now,
    }
    with database.write() as db:
        db.execute(_INSERT, row)
        return transaction_from_row(db.execute(_SELECT, (txn_id,)).fetchone())


def update(database: LedgerDatabase, txn_id: str, changes: Mapping[str, Any], *, now: str) -> dict[str, Any]:
    """Apply ``changes`` (wire names of :data:`UPDATABLE_FIELDS`) to a live transaction; return it."""
    with database.write() as db:
        current = _live(db, txn_id)
        row = {column: current[column] for column in UPDATABLE_FIELDS.values()}
        row.update({UPDATABLE_FIELDS[name]: value for name, value in changes.items()})
        db.execute(_UPDATE, {**row, "id": txn_id, "now": now})
        return transaction_from_row(db.execute(_SELECT, (txn_id,)).fetchone())


def soft_delete(database: LedgerDatabase, txn_id: str, *, now: str) -> dict[str, Any]:
    """Mark a live transaction deleted (it is no longer listed); return it."""
    with database.write() as db:
        _live(db, txn_id)
        db.execute(_SOFT_DELETE, {"id": txn_id, "now": now})
        return transaction_from_row(db.execute(_SELECT, (txn_id,)).fetchone())


def hard_delete(database: LedgerDatabase, txn_id: str) -> dict[str, Any]:
    """Remove a transaction (live or soft-deleted) for good; return the row as it was."""
    with database.write() as db:
        row = db.execute(_SELECT, (txn_id,)).fetchone()
        if row is None:
            raise OppError(ReasonCode.NOT_FOUND, "Transaction not found.")
        db.execute(_HARD_DELETE, (txn_id,))
        return transaction_from_row(row)


def count_export(database: LedgerDatabase, ledger_id: str, window: tuple[dt.date, dt.date]) -> int:
    """How many rows :func:`export_rows` would return for ``window``."""
    return int(database.query_one(_COUNT_EXPORT, _bounds(ledger_id, window))[0])


def export_preview(
    database: LedgerDatabase, ledger_id: str, window: tuple[dt.date, dt.date], *, max_rows: int
) -> dict[str, Any]:
    """The impact of an export: ``{summary, ledgerId, startDate, endDate, rows}``.

    Raises:
        OppError: ``agent.action_invalid`` when the window holds more than ``max_rows`` rows.
    """
    rows = count_export(database, ledger_id, window)
    if rows > max_rows:
        raise OppError(
            ReasonCode.ACTION_INVALID,
            f"The window holds {rows} transactions; the app may export at most {max_rows}.",
            {"rows": rows, "maxExportRows": max_rows},
        )
    start, end = window[0].isoformat(), window[1].isoformat()
    return {
        "summary": f"Export {rows} transactions of ledger {ledger_id} from {start} to {end} as CSV",
        "ledgerId": ledger_id,
        "startDate": start,
        "endDate": end,
        "rows": rows,
    }


def export_rows(
    database: LedgerDatabase, ledger_id: str, window: tuple[dt.date, dt.date], *, max_rows: int
) -> list[dict[str, Any]]:
    """A ledger's live transactions in ``window`` (inclusive), oldest first.

    Raises:
        OppError: ``agent.action_invalid`` when the window holds more than ``max_rows`` rows.
    """
    rows = database.query(_SELECT_EXPORT, (*_bounds(ledger_id, window), max_rows + 1))
    if len(rows) > max_rows:
        raise OppError(
            ReasonCode.ACTION_INVALID,
            f"The window holds more than {max_rows} transactions, the app's max_export_rows.",
            {"maxExportRows": max_rows},
        )
    return [transaction_from_row(row) for row in rows]


def _bounds(ledger_id: str, window: tuple[dt.date, dt.date]) -> tuple[str, str, str]:
    return ledger_id, window[0].isoformat(), window[1].isoformat()


def _live(db: sqlite3.Connection, txn_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute(_SELECT, (txn_id,)).fetchone()
    if row is None:
        raise OppError(ReasonCode.NOT_FOUND, "Transaction not found.")
    if row["deleted_at"] is not None:
        raise OppError(ReasonCode.ACTION_INVALID, "The transaction is deleted.")
    return row
