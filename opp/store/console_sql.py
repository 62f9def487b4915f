"""SQL of the reviewer console's tables, shared by the SQLite and PostgreSQL backends.

Written with ``?`` placeholders (SQLite's); the PostgreSQL backend swaps them for ``%s``. The tables
are created by migration 5 (:mod:`opp.store.migrations`).
"""

from __future__ import annotations

from typing import Any

from opp.store.codec import RecordCodec
from opp.store.console_records import ConsoleGrantRecord, ConsoleSessionRecord, WebhookDeliveryRecord

__all__ = [
    "DELIVERIES",
    "DUE_DELIVERIES",
    "END_SESSION",
    "GET_SESSION",
    "GRANTS",
    "INSERT_DELIVERY",
    "INSERT_GRANT",
    "INSERT_SESSION",
    "LIST_DELIVERIES",
    "LIST_DRAFT_DELIVERIES",
    "PURGE_GRANTS",
    "PURGE_SESSIONS",
    "REDEEM_GRANT",
    "SELECT_GRANT",
    "SESSIONS",
    "TOUCH_SESSION",
    "delivery_update",
    "postgres",
]

SESSIONS = RecordCodec(ConsoleSessionRecord)
GRANTS = RecordCodec(ConsoleGrantRecord)
DELIVERIES = RecordCodec(WebhookDeliveryRecord)


def _insert(table: str, codec: RecordCodec[Any], suffix: str = "") -> str:
    marks = ", ".join("?" for _ in codec.columns)
    return f"INSERT INTO {table} ({codec.column_list}) VALUES ({marks}) {suffix}".strip()  # noqa: S608


def postgres(sql: str) -> str:
    """``sql`` with psycopg's ``%s`` placeholders."""
    return sql.replace("?", "%s")


INSERT_SESSION = _insert("console_sessions", SESSIONS)
GET_SESSION = f"SELECT {SESSIONS.column_list} FROM console_sessions WHERE id = ?"  # noqa: S608
TOUCH_SESSION = "UPDATE console_sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?"
END_SESSION = "UPDATE console_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL"
PURGE_SESSIONS = "DELETE FROM console_sessions WHERE expires_at <= ?"

INSERT_GRANT = _insert("console_grants", GRANTS)
REDEEM_GRANT = "UPDATE console_grants SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?"
SELECT_GRANT = f"SELECT {GRANTS.column_list} FROM console_grants WHERE id = ?"  # noqa: S608
PURGE_GRANTS = "DELETE FROM console_grants WHERE expires_at <= ?"

INSERT_DELIVERY = _insert("webhook_deliveries", DELIVERIES, "ON CONFLICT (id) DO NOTHING")
DUE_DELIVERIES = (
    f"SELECT {DELIVERIES.column_list} FROM webhook_deliveries "  # noqa: S608
    "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?"
)
LIST_DELIVERIES = (
    f"SELECT {DELIVERIES.column_list} FROM webhook_deliveries "  # noqa: S608
    "ORDER BY created_at DESC, id DESC LIMIT ?"
)
LIST_DRAFT_DELIVERIES = (
    f"SELECT {DELIVERIES.column_list} FROM webhook_deliveries WHERE draft_id = ? "  # noqa: S608
    "ORDER BY created_at DESC, id DESC LIMIT ?"
)


def delivery_update(values: dict[str, Any]) -> tuple[str, list[Any]]:
    """``UPDATE webhook_deliveries SET … WHERE id = ? AND attempts = ?`` and its leading params."""
    encoded = DELIVERIES.encode_fields(values)
    assignments = ", ".join(f"{name} = ?" for name in encoded)
    sql = f"UPDATE webhook_deliveries SET {assignments} WHERE id = ? AND attempts = ?"  # noqa: S608
    return sql, list(encoded.values())
