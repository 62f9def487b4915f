"""The reference demo's data: one SQLite file shared by every worker, seeded on first open.

Ledgers are fixed reference data (kept in memory); transactions live in the file so that every
``opp serve`` worker sees the same rows and a write survives a restart. Wire shapes (REFERENCE-DEMO.md
§2): ledger ``{id, name, currency_home, tz, organization_id}``; transaction ``{id, ledger_id, kind,
title, amount_home, currency_home, date, notes, is_deleted, created_at, updated_at}``. Both seeded
transactions carry the seed instant ``T0`` as ``date``, ``created_at`` and ``updated_at``; listing
order among equal dates is insertion order (``seq``).

``ledger_foreign`` (workspace ``org_other``) is not in the reference seed: it is the other tenant
that boundary checks reach for, and the demo app never lists it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opp.demo.openport.rules import wire_number
from opp.demo.sqlite_file import MEMORY, open_demo_file, write_transaction

__all__ = ["LEDGERS", "MEMORY", "ReferenceDatabase"]

LEDGERS: tuple[dict[str, Any], ...] = (
    {
        "id": "ledger_main",
        "name": "Main Ledger",
        "currency_home": "USD",
        "tz": "America/Los_Angeles",
        "organization_id": "org_demo",
    },
    {
        "id": "ledger_ops",
        "name": "Ops Ledger",
        "currency_home": "USD",
        "tz": "America/New_York",
        "organization_id": "org_demo",
    },
    {
        "id": "ledger_foreign",
        "name": "Foreign Ledger",
        "currency_home": "EUR",
        "tz": "Europe/Berlin",
        "organization_id": "org_other",
    },
)
_SEED: tuple[tuple[str, str, str, str, float, str, str | None], ...] = (
    ("txn_1", "ledger_main", "income", "Consulting payment", 1200, "USD", None),
    ("txn_2", "ledger_main", "expense", "Software subscription", 80, "USD", "annual plan"),
    ("txn_foreign_1", "ledger_foreign", "income", "Foreign invoice", 500, "EUR", "other workspace"),
)
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS reference_transactions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        ledger_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        amount_home REAL NOT NULL,
        currency_home TEXT NOT NULL,
        date TEXT NOT NULL,
        notes TEXT,
        is_deleted INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS reference_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
# Spelled out in full (no string building): every statement the demo runs.
_INSERT = (
    "INSERT INTO reference_transactions"
    " (id, ledger_id, kind, title, amount_home, currency_home, date, notes, is_deleted, created_at,"
    " updated_at) VALUES"
    " (:id, :ledger_id, :kind, :title, :amount_home, :currency_home, :date, :notes, :is_deleted,"
    " :created_at, :updated_at)"
)
_SELECT_ONE = (
    "SELECT id, ledger_id, kind, title, amount_home, currency_home, date, notes, is_deleted, created_at,"
    " updated_at FROM reference_transactions WHERE id = ?"
)
_SELECT_LEDGER = (
    "SELECT id, ledger_id, kind, title, amount_home, currency_home, date, notes, is_deleted, created_at,"
    " updated_at FROM reference_transactions WHERE ledger_id = ? AND is_deleted = 0 ORDER BY seq"
)
_UPDATE = (
    "UPDATE reference_transactions SET ledger_id = :ledger_id, kind = :kind, title = :title,"
    " amount_home = :amount_home, currency_home = :currency_home, date = :date, notes = :notes,"
    " is_deleted = :is_deleted, updated_at = :updated_at WHERE id = :id"
)
_DELETE = "DELETE FROM reference_transactions WHERE id = ?"
_SEEDED = "SELECT value FROM reference_meta WHERE key = 'seeded_at'"
_MARK_SEEDED = "INSERT INTO reference_meta (key, value) VALUES ('seeded_at', ?)"


def _row(row: sqlite3.Row) -> dict[str, Any]:
    transaction = dict(row)
    transaction["amount_home"] = wire_number(float(row["amount_home"]))
    transaction["is_deleted"] = bool(row["is_deleted"])
    return transaction


class ReferenceDatabase:
    """An open demo database; every call is one short local statement or transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self.ledgers = {ledger["id"]: dict(ledger) for ledger in LEDGERS}

    @classmethod
    def open(cls, path: str | Path, *, seeded_at: str) -> ReferenceDatabase:
        """Open (creating) ``path``; on first open seed it with ``seeded_at`` as ``T0``."""
        database = cls(open_demo_file(path))
        with database.write() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            if db.execute(_SEEDED).fetchone() is None:
                db.executemany(_INSERT, [_seed_row(seed, seeded_at) for seed in _SEED])
                db.execute(_MARK_SEEDED, (seeded_at,))
        return database

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (atomic across worker processes)."""
        with write_transaction(self._db) as db:
            yield db

    def close(self) -> None:
        self._db.close()

    def ledger(self, ledger_id: str) -> dict[str, Any] | None:
        found = self.ledgers.get(ledger_id)
        return dict(found) if found is not None else None

    def ledgers_of(self, organization_id: str) -> list[dict[str, Any]]:
        return [dict(ledger) for ledger in LEDGERS if ledger["organization_id"] == organization_id]

    def transaction(self, transaction_id: str) -> dict[str, Any] | None:
        """One transaction, soft-deleted or not; None when there is no such row."""
        row = self._db.execute(_SELECT_ONE, (transaction_id,)).fetchone()
        return _row(row) if row is not None else None

    def live_transactions(self, ledger_id: str) -> list[dict[str, Any]]:
        """The ledger's transactions that are not deleted, in insertion order."""
        return [_row(row) for row in self._db.execute(_SELECT_LEDGER, (ledger_id,)).fetchall()]

    def insert(self, transaction: dict[str, Any]) -> dict[str, Any]:
        """Store a new transaction; a row with its id already there (a retried call) is returned."""
        with self.write() as db:
            existing = db.execute(_SELECT_ONE, (transaction["id"],)).fetchone()
            if existing is not None:
                return _row(existing)
            db.execute(_INSERT, {**transaction, "is_deleted": int(transaction["is_deleted"])})
        return dict(transaction)

    def modify(
        self, transaction_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any]:
        """Read, change and write one transaction in one write transaction.

        ``change`` gets the current row (soft-deleted or not) and returns the new one, or None to
        remove it; it raises to refuse. Returns what ``change`` returned (the old row on removal).

        Raises:
            LookupError: There is no such transaction.
        """
        with self.write() as db:
            row = db.execute(_SELECT_ONE, (transaction_id,)).fetchone()
            if row is None:
                raise LookupError(transaction_id)
            current = _row(row)
            changed = change(dict(current))
            if changed is None:
                db.execute(_DELETE, (transaction_id,))
                return current
            db.execute(_UPDATE, {**changed, "is_deleted": int(changed["is_deleted"])})
            return changed


def _seed_row(seed: tuple[str, str, str, str, float, str, str | None], seeded_at: str) -> dict[str, Any]:
    txn_id, ledger_id, kind, title, amount, currency, notes = seed
    return {
        "id": txn_id,
        "ledger_id": ledger_id,
        "kind": kind,
        "title": title,
        "amount_home": amount,
        "currency_home": currency,
        "date": seeded_at,
        "notes": notes,
        "is_deleted": 0,
        "created_at": seeded_at,
        "updated_at": seeded_at,
    }
