"""A fingerprint of everything a request could change, read straight from the SQLite files.

Drafts (with their status), approvals, executions, preflights, idempotency keys, apps (status,
policy, windows), keys (revocation, expiry), admin tokens and the demo ledger's transactions.
Audit events and ``last_used_at`` are left out: denials are audited by design, and a key that
authenticated is "used" even when the call is then refused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["StateProbe"]

_GATEWAY_QUERIES = (
    "SELECT id, status, updated_at FROM drafts ORDER BY id",
    "SELECT draft_id, approver, decision FROM draft_approvals ORDER BY draft_id, approver",
    "SELECT id, status FROM executions ORDER BY id",
    "SELECT id FROM preflights ORDER BY id",
    "SELECT app_id, key FROM idempotency_keys ORDER BY app_id, key",
    "SELECT id, status, scopes, policy, auto_execute, updated_at FROM apps ORDER BY id",
    "SELECT id, app_id, expires_at, revoked_at FROM app_keys ORDER BY id",
    "SELECT id, revoked_at FROM admin_tokens ORDER BY id",
)
_LEDGER_QUERIES = ("SELECT id, amount, kind, deleted_at, updated_at FROM transactions ORDER BY id",)

Snapshot = tuple[tuple[tuple[object, ...], ...], ...]


class StateProbe:
    """Read-only connections to the gateway store and the demo ledger (WAL lets them read live)."""

    def __init__(self, store: Path, ledger: Path) -> None:
        self._store = sqlite3.connect(f"file:{store}?mode=ro", uri=True, check_same_thread=False)
        self._ledger = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, check_same_thread=False)

    def snapshot(self) -> Snapshot:
        rows = [tuple(self._store.execute(q).fetchall()) for q in _GATEWAY_QUERIES]
        rows += [tuple(self._ledger.execute(q).fetchall()) for q in _LEDGER_QUERIES]
        return tuple(rows)

    def close(self) -> None:
        self._store.close()
        self._ledger.close()
