"""The ledger demo's data layer: one SQLite database, seeded on first open.

Used by the embedded backend (:mod:`opp.demo.ledger`) and by the ``examples/ledger-http`` service.
Rows map to the wire shapes here, once:

- ledger: ``{id, org_id, name, currency}``
- transaction: ``{id, ledgerId, kind, amount, currency, title, notes, occurredOn, createdAt,
  updatedAt, deletedAt}``

Dates are ``YYYY-MM-DD`` strings (they sort as dates). Soft-deleted transactions (``deleted_at``
set) are never listed. The file is opened in WAL mode with a busy timeout, and every write is one
``BEGIN IMMEDIATE`` transaction (:meth:`LedgerDatabase.write`), so several server processes can
share it; the writes themselves live in :mod:`opp.demo.ledger_writes`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opp.demo.ledger_seed import SEED_LEDGERS, seed_transactions
from opp.demo.sqlite_file import MEMORY, open_demo_file, write_transaction

__all__ = ["MEMORY", "LedgerDatabase", "transaction_from_row", "transaction_window"]


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ledgers (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        name TEXT NOT NULL,
        currency TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS transactions (
        id TEXT PRIMARY KEY,
        ledger_id TEXT NOT NULL REFERENCES ledgers (id),
        kind TEXT NOT NULL CHECK (kind IN ('income', 'expense')),
        amount NUMERIC NOT NULL,
        currency TEXT NOT NULL,
        title TEXT NOT NULL,
        notes TEXT,
        occurred_on TEXT NOT NULL,
        created_at TEXT NOT NULL,
        deleted_at TEXT,
        updated_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS transactions_by_ledger_date ON transactions (ledger_id, occurred_on)",
    "CREATE TABLE IF NOT EXISTS demo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
# A demo file created before transactions had updated_at gains the column on open.
_TRANSACTION_COLUMNS = "SELECT name FROM pragma_table_info('transactions')"
_ADD_UPDATED_AT = "ALTER TABLE transactions ADD COLUMN updated_at TEXT"
_FILL_UPDATED_AT = "UPDATE transactions SET updated_at = created_at WHERE updated_at IS NULL"

# Spelled out in full (no string building): every statement the demo runs.
_INSERT_LEDGER = "INSERT INTO ledgers (id, org_id, name, currency) VALUES (:id, :org_id, :name, :currency)"
_INSERT_TRANSACTION = (
    "INSERT INTO transactions"
    " (id, ledger_id, kind, amount, currency, title, notes, occurred_on, created_at, updated_at)"
    " VALUES (:id, :ledger_id, :kind, :amount, :currency, :title, :notes, :occurred_on, :created_at,"
    " :created_at)"
)
_SELECT_SEEDED = "SELECT 1 FROM demo_meta WHERE key = 'seeded_at'"
_MARK_SEEDED = "INSERT INTO demo_meta (key, value) VALUES ('seeded_at', ?)"
_SELECT_ALL_LEDGERS = "SELECT id, org_id, name, currency FROM ledgers ORDER BY id"
_COUNT_LISTED = (
    "SELECT COUNT(*) FROM transactions"
    " WHERE ledger_id = ? AND deleted_at IS NULL AND occurred_on BETWEEN ? AND ?"
)
_SELECT_LISTED = (
    "SELECT id, ledger_id, kind, amount, currency, title, notes, occurred_on, created_at, updated_at,"
    " deleted_at FROM transactions"
    " WHERE ledger_id = ? AND deleted_at IS NULL AND occurred_on BETWEEN ? AND ?"
    " ORDER BY occurred_on DESC, id LIMIT ? OFFSET ?"
)
_SELECT_ONE = (
    "SELECT id, ledger_id, kind, amount, currency, title, notes, occurred_on, created_at, updated_at,"
    " deleted_at FROM transactions WHERE id = ?"
)


def transaction_window(
    start: dt.date | None, end: dt.date | None, *, today: dt.date, max_days: int
) -> tuple[dt.date, dt.date]:
    """The inclusive date range a transaction query covers.

    Neither end given: the last ``max_days`` days ending today. Only ``end``: ``max_days`` before
    it. Only ``start``: ``max_days`` after it, but not past today. A window reaching past the
    first or last representable day stops there (``0001-01-01``, ``9999-12-31``).
    """
    if start is None:
        end = end or today
        return _shift_days(end, -max_days), end
    return start, end or min(_shift_days(start, max_days), today)


def _shift_days(day: dt.date, days: int) -> dt.date:
    """``day`` moved by ``days``, clamped to the dates Python can represent (never overflows)."""
    ordinal = min(max(day.toordinal() + days, dt.date.min.toordinal()), dt.date.max.toordinal())
    return dt.date.fromordinal(ordinal)


def transaction_from_row(row: sqlite3.Row) -> dict[str, Any]:
    """A ``transactions`` row (selected with every column) in its wire shape."""
    return {
        "id": row["id"],
        "ledgerId": row["ledger_id"],
        "kind": row["kind"],
        "amount": row["amount"],
        "currency": row["currency"],
        "title": row["title"],
        "notes": row["notes"],
        "occurredOn": row["occurred_on"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "deletedAt": row["deleted_at"],
    }


class LedgerDatabase:
    """An open demo database. Calls are short local queries, safe to run on the event loop."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._ledgers: dict[str, dict[str, Any]] = {}

    @classmethod
    def open(cls, path: str | Path, *, seed_date: dt.date, seeded_at: str) -> LedgerDatabase:
        """Open (creating if needed) the database at ``path`` (or ``:memory:``); seed it once.

        Args:
            path: The SQLite file; parent directories are created.
            seed_date: Seed transactions are dated a few days before it.
            seeded_at: RFC 3339 ``createdAt`` of the seed transactions.
        """
        database = cls(open_demo_file(path))
        database._initialise(seed_date, seeded_at)
        return database

    def _initialise(self, seed_date: dt.date, seeded_at: str) -> None:
        with self.write() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            if "updated_at" not in {row["name"] for row in db.execute(_TRANSACTION_COLUMNS)}:
                db.execute(_ADD_UPDATED_AT)
                db.execute(_FILL_UPDATED_AT)
            if not self._db.execute(_SELECT_SEEDED).fetchone():
                self._db.executemany(_INSERT_LEDGER, SEED_LEDGERS)
                self._db.executemany(_INSERT_TRANSACTION, seed_transactions(seed_date, seeded_at))
                self._db.execute(_MARK_SEEDED, (seeded_at,))
        # Ledgers are reference data no demo tool changes: the demo application keeps them in
        # memory (transactions, which tools do change, are always read from the database).
        self._ledgers = {row["id"]: dict(row) for row in self._db.execute(_SELECT_ALL_LEDGERS)}

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (:func:`~opp.demo.sqlite_file.write_transaction`)."""
        with write_transaction(self._db) as db:
            yield db

    def query(self, statement: str, parameters: tuple[Any, ...]) -> list[sqlite3.Row]:
        """Every row of one read statement (one snapshot)."""
        return self._db.execute(statement, parameters).fetchall()

    def query_one(self, statement: str, parameters: tuple[Any, ...]) -> sqlite3.Row:
        """The first row of one read statement that always returns a row (an aggregate)."""
        row: sqlite3.Row = self._db.execute(statement, parameters).fetchone()
        return row

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def ledgers_of(self, org_id: str) -> list[dict[str, Any]]:
        """The ledgers of one workspace, by id."""
        return [dict(ledger) for ledger in self._ledgers.values() if ledger["org_id"] == org_id]

    def ledger(self, ledger_id: str) -> dict[str, Any] | None:
        """One ledger, whatever its workspace, or None."""
        ledger = self._ledgers.get(ledger_id)
        return dict(ledger) if ledger is not None else None

    def transaction(self, transaction_id: str) -> dict[str, Any] | None:
        """One transaction, soft-deleted or not, with its ledger's ``org_id``; or None."""
        row = self._db.execute(_SELECT_ONE, (transaction_id,)).fetchone()
        if row is None:
            return None
        ledger = self._ledgers.get(row["ledger_id"])
        return {**transaction_from_row(row), "org_id": ledger["org_id"] if ledger else None}

    def transaction_page(
        self, ledger_id: str, window: tuple[dt.date, dt.date], *, page: int, page_size: int
    ) -> dict[str, Any]:
        """A page of a ledger's live transactions in ``window`` (inclusive), newest first.

        Returns:
            ``{items, total, page, pageSize, hasMore}``.
        """
        bounds = (ledger_id, window[0].isoformat(), window[1].isoformat())
        total = self._db.execute(_COUNT_LISTED, bounds).fetchone()[0]
        offset = (page - 1) * page_size
        rows = self._db.execute(_SELECT_LISTED, (*bounds, page_size, offset)).fetchall()
        return {
            "items": [transaction_from_row(row) for row in rows],
            "total": total,
            "page": page,
            "pageSize": page_size,
            "hasMore": page * page_size < total,
        }
