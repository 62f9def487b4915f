"""SQLite implementations of the app, key and admin-token stores (see ``opp.store.protocols``)."""

from __future__ import annotations

import builtins
import datetime as dt
import sqlite3
from typing import Any

import msgspec

from opp.store.codec import encode_timestamp
from opp.store.records import AdminTokenRecord, AppRecord, AuditEvent, KeyRecord
from opp.store.rules import APP_DECLARED_FIELDS, KEY_DECLARED_FIELDS, check_app_status
from opp.store.sql import (
    ADMIN_TOKENS,
    APPS,
    FIND_KEY_AND_APP,
    KEYS,
    TOUCH_KEY,
    insert,
    select,
    update_from_excluded,
)
from opp.store.sqlite.audit import insert_events
from opp.store.sqlite.cache import SignalCache
from opp.store.sqlite.database import SqliteDatabase

__all__ = ["SqliteAdminTokens", "SqliteApps", "SqliteKeys"]

_INSERT_APP = insert("apps", APPS, "ON CONFLICT DO NOTHING")
_UPSERT_APP = insert("apps", APPS, update_from_excluded(APP_DECLARED_FIELDS))
_SELECT_APPS = select("apps", APPS)
_INSERT_KEY = insert("app_keys", KEYS, "ON CONFLICT DO NOTHING")
_UPSERT_KEY = insert("app_keys", KEYS, update_from_excluded(KEY_DECLARED_FIELDS))
_SELECT_KEYS = select("app_keys", KEYS)
_FIND_KEY_AND_APP = FIND_KEY_AND_APP
_TOUCH_KEY = TOUCH_KEY
_INSERT_ADMIN_TOKEN = insert("admin_tokens", ADMIN_TOKENS, "ON CONFLICT DO NOTHING")
_SELECT_ADMIN_TOKENS = select("admin_tokens", ADMIN_TOKENS)


class SqliteApps:
    def __init__(self, db: SqliteDatabase, cache_max_age_s: float) -> None:
        self._db = db
        self._found: SignalCache[str, AppRecord] = SignalCache(db.credentials, cache_max_age_s)

    async def get(self, app_id: str) -> AppRecord | None:
        # Read on every OAuth request (revocation is immediate): reused only while no app or key changed.
        return self._found.get(app_id, lambda: self._get(app_id))

    def _get(self, app_id: str) -> AppRecord | None:
        rows = self._db.read(f"{_SELECT_APPS} WHERE id = ?", (app_id,))
        return APPS.decode(rows[0]) if rows else None

    async def create(self, app: AppRecord) -> None:
        with self._db.changing_credentials() as connection:
            inserted = connection.execute(_INSERT_APP, APPS.encode(app)).rowcount
        if not inserted:
            raise KeyError(f"app {app.id!r} already exists")

    async def upsert_declared(self, app: AppRecord) -> None:
        with self._db.changing_credentials() as connection:
            connection.execute(_UPSERT_APP, APPS.encode(app))

    async def set_status(self, app_id: str, status: str, at: dt.datetime) -> bool:
        check_app_status(status)
        return self._update(app_id, "status", status, at)

    async def set_policy(self, app_id: str, policy: dict[str, Any], at: dt.datetime) -> bool:
        return self._update(app_id, "policy", msgspec.json.encode(policy).decode(), at)

    async def set_auto_execute(
        self,
        app_id: str,
        auto_execute: dict[str, Any],
        at: dt.datetime,
        events: list[AuditEvent] | None = None,
    ) -> bool:
        return self._update(app_id, "auto_execute", msgspec.json.encode(auto_execute).decode(), at, events)

    async def delete(self, app_id: str) -> bool:
        with self._db.changing_credentials() as connection:
            connection.execute("DELETE FROM app_keys WHERE app_id = ?", (app_id,))
            return connection.execute("DELETE FROM apps WHERE id = ?", (app_id,)).rowcount > 0

    async def count(self) -> int:
        return int(self._db.read("SELECT COUNT(*) FROM apps")[0][0])

    async def list(self) -> builtins.list[AppRecord]:
        return [APPS.decode(row) for row in self._db.read(f"{_SELECT_APPS} ORDER BY created_at, id")]

    def _update(
        self,
        app_id: str,
        column: str,
        value: Any,
        at: dt.datetime,
        events: builtins.list[AuditEvent] | None = None,
    ) -> bool:
        sql = f"UPDATE apps SET {column} = ?, updated_at = ? WHERE id = ?"  # noqa: S608
        with self._db.changing_credentials() as connection:
            changed = connection.execute(sql, (value, encode_timestamp(at), app_id)).rowcount > 0
            if changed and events:
                insert_events(connection, events)
            return changed


class SqliteKeys:
    def __init__(self, db: SqliteDatabase, cache_max_age_s: float) -> None:
        self._db = db
        self._found: SignalCache[str, tuple[KeyRecord, AppRecord]] = SignalCache(
            db.credentials, cache_max_age_s
        )

    async def create(self, key: KeyRecord) -> None:
        try:
            with self._db.changing_credentials() as connection:
                inserted = connection.execute(_INSERT_KEY, KEYS.encode(key)).rowcount
        except sqlite3.IntegrityError as exc:
            raise KeyError(f"app {key.app_id!r} of key {key.id!r} does not exist") from exc
        if not inserted:
            raise KeyError(f"key {key.id!r} or its token hash already exists")

    async def upsert_declared(self, key: KeyRecord) -> None:
        try:
            with self._db.changing_credentials() as connection:
                connection.execute(_UPSERT_KEY, KEYS.encode(key))
        except sqlite3.IntegrityError as exc:
            raise KeyError(f"key {key.id!r}: unknown app or token hash used by another key") from exc

    async def get(self, key_id: str) -> KeyRecord | None:
        rows = self._db.read(f"{_SELECT_KEYS} WHERE id = ?", (key_id,))
        return KEYS.decode(rows[0]) if rows else None

    async def find_by_hash(self, token_hash: str) -> tuple[KeyRecord, AppRecord] | None:
        # Revocation must be visible on the very next request in every process: see SignalCache.
        return self._found.get(token_hash, lambda: self._find(token_hash))

    def _find(self, token_hash: str) -> tuple[KeyRecord, AppRecord] | None:
        rows = self._db.read(_FIND_KEY_AND_APP, (token_hash,))
        if not rows:
            return None
        split = len(KEYS.columns)
        return KEYS.decode(rows[0][:split]), APPS.decode(rows[0][split:])

    async def list_for_app(self, app_id: str) -> list[KeyRecord]:
        rows = self._db.read(f"{_SELECT_KEYS} WHERE app_id = ? ORDER BY created_at, id", (app_id,))
        return [KEYS.decode(row) for row in rows]

    async def revoke(self, key_id: str, at: dt.datetime) -> bool:
        sql = "UPDATE app_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        with self._db.changing_credentials() as connection:
            return connection.execute(sql, (encode_timestamp(at), key_id)).rowcount > 0

    async def revoke_all_for_app(self, app_id: str, at: dt.datetime) -> int:
        sql = "UPDATE app_keys SET revoked_at = ? WHERE app_id = ? AND revoked_at IS NULL"
        with self._db.changing_credentials() as connection:
            return int(connection.execute(sql, (encode_timestamp(at), app_id)).rowcount)

    async def touch(self, last_used: dict[str, dt.datetime]) -> None:
        if not last_used:
            return
        params = []
        for key_id, at in last_used.items():
            text = encode_timestamp(at)
            params.append((text, key_id, text))
        await self._db.write_in_background(lambda connection: connection.executemany(_TOUCH_KEY, params))


class SqliteAdminTokens:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, token: AdminTokenRecord) -> None:
        with self._db.write() as connection:
            inserted = connection.execute(_INSERT_ADMIN_TOKEN, ADMIN_TOKENS.encode(token)).rowcount
        if not inserted:
            raise KeyError(f"admin token {token.id!r} or its token hash already exists")

    async def find_by_hash(self, token_hash: str) -> AdminTokenRecord | None:
        rows = self._db.read(f"{_SELECT_ADMIN_TOKENS} WHERE token_hash = ?", (token_hash,))
        return ADMIN_TOKENS.decode(rows[0]) if rows else None

    async def revoke(self, token_id: str, at: dt.datetime) -> bool:
        sql = "UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        with self._db.write() as connection:
            return connection.execute(sql, (encode_timestamp(at), token_id)).rowcount > 0
