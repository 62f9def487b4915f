"""SQL shared by the SQL backends: statement builders, the audit-log statements, listing filters.

Statements are written once, with ``?`` placeholders (SQLite's); :func:`postgres` turns them into
psycopg's ``%s``. None of the statements contains a literal ``?`` or ``%``. Table layouts are the
shared migrations' (:mod:`opp.store.migrations`), so the same column lists serve both backends.
"""

from __future__ import annotations

from typing import Any

import msgspec

from opp.store.codec import RecordCodec, encode_timestamp
from opp.store.records import AdminTokenRecord, AppRecord, AuditEvent, AuditQuery, KeyRecord, OAuthKeyRecord
from opp.store.rules import AUDIT_EQUALITY_FILTERS
from opp.store.write_records import DraftQuery

__all__ = [
    "ADMIN_TOKENS",
    "APPS",
    "AUDIT_COLUMNS",
    "FIND_KEY_AND_APP",
    "INSERT_EVENT",
    "KEYS",
    "OAUTH_KEYS",
    "OAUTH_KEYS_ACTIVE",
    "OAUTH_KEY_INSERT",
    "OAUTH_KEY_RETIRE",
    "SELECT_CHAIN_HEAD",
    "SELECT_EVENT_BODIES",
    "SELECT_STORED_EVENTS",
    "TOUCH_KEY",
    "audit_row",
    "audit_where",
    "draft_update",
    "draft_where",
    "insert",
    "postgres",
    "select",
    "update_from_excluded",
]


def postgres(sql: str) -> str:
    """``sql`` with psycopg's ``%s`` placeholders instead of ``?``."""
    return sql.replace("?", "%s")


def _marks(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def insert(table: str, codec: RecordCodec[Any], suffix: str = "") -> str:
    """``INSERT INTO table (columns) VALUES (?, …) suffix``."""
    sql = f"INSERT INTO {table} ({codec.column_list}) VALUES ({_marks(len(codec.columns))})"  # noqa: S608
    return f"{sql} {suffix}" if suffix else sql


def select(table: str, codec: RecordCodec[Any]) -> str:
    """``SELECT columns FROM table``."""
    return f"SELECT {codec.column_list} FROM {table}"  # noqa: S608


def update_from_excluded(fields: tuple[str, ...]) -> str:
    """The ``ON CONFLICT (id) DO UPDATE`` clause of an upsert overwriting ``fields``."""
    return "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name in fields)


# -- apps, keys, admin tokens, OAuth keys -------------------------------------------------------

APPS = RecordCodec(AppRecord)
KEYS = RecordCodec(KeyRecord)
ADMIN_TOKENS = RecordCodec(AdminTokenRecord)
OAUTH_KEYS = RecordCodec(OAuthKeyRecord)

FIND_KEY_AND_APP = (
    f"SELECT {KEYS.qualified_columns('k')}, {APPS.qualified_columns('a')} "  # noqa: S608
    "FROM app_keys k JOIN apps a ON a.id = k.app_id WHERE k.token_hash = ?"
)
"""The hot path: a key by its SHA-256 and its app, in one round trip."""
TOUCH_KEY = "UPDATE app_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)"
"""``last_used_at`` moves forward only: flushes from several workers arrive in any order."""

OAUTH_KEY_INSERT = insert("oauth_keys", OAUTH_KEYS, "ON CONFLICT (kid) DO NOTHING")
OAUTH_KEYS_ACTIVE = (
    select("oauth_keys", OAUTH_KEYS) + " WHERE use = ? AND retired_at IS NULL ORDER BY created_at, kid"
)
OAUTH_KEY_RETIRE = "UPDATE oauth_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL"


# -- the audit log -----------------------------------------------------------------------------

AUDIT_COLUMNS = (
    "id",
    "action",
    "status",
    "code",
    "tool",
    "app_id",
    "created_at",
    "body",
    "seq",
    "prev_hash",
    "hash",
)
"""The stored columns of ``audit_events`` after ``insert_order``, in table order."""

INSERT_EVENT = f"INSERT INTO audit_events ({', '.join(AUDIT_COLUMNS)}) VALUES ({_marks(len(AUDIT_COLUMNS))})"  # noqa: S608


SELECT_EVENT_BODIES = "SELECT body FROM audit_events"
SELECT_CHAIN_HEAD = (
    "SELECT seq, hash FROM"
    " (SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1) AS last_event"
    " UNION ALL SELECT seq, hash FROM"
    " (SELECT seq, hash FROM audit_anchors ORDER BY seq DESC LIMIT 1) AS last_anchor"
    " ORDER BY seq DESC LIMIT 1"
)
"""The last sealed event, or the newest anchor once its prefix is archived."""
SELECT_STORED_EVENTS = f"SELECT insert_order, {', '.join(AUDIT_COLUMNS)} FROM audit_events"  # noqa: S608

_encoder = msgspec.json.Encoder()


def audit_row(event: AuditEvent) -> tuple[Any, ...]:
    """The ``AUDIT_COLUMNS`` values of a sealed event (the whole event is the JSON ``body``)."""
    body = _encoder.encode(event).decode()
    created = encode_timestamp(event.created_at)
    return (
        *(event.id, event.action, event.status, event.code, event.tool, event.app_id, created, body),
        *(event.seq, event.prev_hash, event.hash),
    )


def audit_where(query: AuditQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (possibly empty) and its parameters for ``query``."""
    conditions: list[str] = []
    params: list[Any] = []
    for name in AUDIT_EQUALITY_FILTERS:
        value = getattr(query, name)
        if value is not None:
            conditions.append(f"{name} = ?")
            params.append(value)
    if query.since is not None:
        conditions.append("created_at >= ?")
        params.append(encode_timestamp(query.since))
    if query.until is not None:
        conditions.append("created_at < ?")
        params.append(encode_timestamp(query.until))
    if query.cursor is not None:
        # An unknown cursor yields NULL, which matches nothing: an empty page, not the first one.
        conditions.append("insert_order < (SELECT insert_order FROM audit_events WHERE id = ?)")
        params.append(query.cursor)
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), params


# -- drafts ------------------------------------------------------------------------------------

_DRAFT_FILTERS = ("app_id", "status", "action", "risk")


def draft_where(query: DraftQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (possibly empty) and its parameters for a draft listing."""
    conditions = [f"{name} = ?" for name in _DRAFT_FILTERS if getattr(query, name) is not None]
    params: list[Any] = [getattr(query, name) for name in _DRAFT_FILTERS if getattr(query, name) is not None]
    if query.cursor is not None:
        # An unknown cursor yields NULL, which matches nothing: an empty page, not the first one.
        conditions.append("create_order < (SELECT create_order FROM drafts WHERE id = ?)")
        params.append(query.cursor)
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), params


def draft_update(
    draft_id: str, expected: tuple[str, ...] | None, columns: dict[str, Any], *, returning: bool = False
) -> tuple[str, list[Any]]:
    """The compare-and-set statement applying encoded ``columns`` to a draft, and its parameters.

    It changes the draft only while its status is in ``expected`` (if given); with no ``columns``
    it is a ``SELECT 1`` of the same condition. Either way "one row" means the draft qualified:
    ``rowcount``, or with ``returning`` a row back from the UPDATE too (``RETURNING id``), for
    callers that cannot read ``rowcount`` (PostgreSQL's pipeline mode).
    """
    where = " WHERE id = ?"
    params: list[Any] = [draft_id]
    if expected is not None:
        where += f" AND status IN ({_marks(len(expected))})"
        params.extend(expected)
    if not columns:
        return f"SELECT 1 FROM drafts{where}", params  # noqa: S608
    assignments = ", ".join(f"{name} = ?" for name in columns)
    tail = " RETURNING id" if returning else ""
    return f"UPDATE drafts SET {assignments}{where}{tail}", [*columns.values(), *params]  # noqa: S608
