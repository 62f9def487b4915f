"""The reference demo data: two workspaces, their ledgers and a few transactions.

``org_demo`` is the bootstrap app's workspace; ``org_other`` is a foreign workspace that
cross-tenant tests try (and must fail) to reach. Transaction dates are relative to the seed date so
a fresh demo always has data inside the default 30-day window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["SEED_LEDGERS", "seed_transactions"]

SEED_LEDGERS: tuple[dict[str, str], ...] = (
    {"id": "ledger_main", "org_id": "org_demo", "name": "Main ledger", "currency": "USD"},
    {"id": "ledger_ops", "org_id": "org_demo", "name": "Operations", "currency": "USD"},
    {"id": "ledger_foreign", "org_id": "org_other", "name": "Foreign ledger", "currency": "EUR"},
)

# (id, ledger, kind, amount, currency, title, notes, days before the seed date)
_SEED_TRANSACTIONS: tuple[tuple[str, str, str, int, str, str, str | None, int], ...] = (
    ("txn_1", "ledger_main", "income", 1200, "USD", "Consulting payment", None, 2),
    ("txn_2", "ledger_main", "expense", 80, "USD", "Software subscription", "annual plan", 5),
    ("txn_foreign_1", "ledger_foreign", "income", 500, "EUR", "Foreign invoice", "other workspace", 3),
)


def seed_transactions(seed_date: dt.date, created_at: str) -> list[dict[str, Any]]:
    """The seed transactions, dated a few days before ``seed_date`` (rows in storage naming)."""
    return [
        {
            "id": txn_id,
            "ledger_id": ledger_id,
            "kind": kind,
            "amount": amount,
            "currency": currency,
            "title": title,
            "notes": notes,
            "occurred_on": (seed_date - dt.timedelta(days=days_before)).isoformat(),
            "created_at": created_at,
        }
        for txn_id, ledger_id, kind, amount, currency, title, notes, days_before in _SEED_TRANSACTIONS
    ]
