"""PostgreSQL implementations of the app, key, admin-token and OAuth-key stores.

The statements are the shared ones (:mod:`opp.store.sql`). The one read on every request, a key
and its app by token hash, is reused between change notifications (:mod:`.key_cache`), so a
revocation committed by any replica is still seen on the next request; every other read is one
indexed round trip.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

import msgspec
import psycopg

from opp.store.codec import encode_timestamp
from opp.store.postgres.audit import insert_events
from opp.store.postgres.database import PostgresDatabase
from opp.store.postgres.key_cache import KeyCache
from opp.store.records import AdminTokenRecord, AppRecord, AuditEvent, KeyRecord, OAuthKeyRecord
from opp.store.rules import APP_DECLARED_FIELDS, KEY_DECLARED_FIELDS, check_app_status
from opp.store.sql import (
    ADMIN_TOKENS,
    APPS,
    FIND_KEY_AND_APP,
    KEYS,
    OAUTH_KEY_INSERT,
    OAUTH_KEY_RETIRE,
    OAUTH_KEYS,
    OAUTH_KEYS_ACTIVE,
    TOUCH_KEY,
    insert,
    postgres,
    select,
    update_from_excluded,
)

__all__ = ["PostgresAdminTokens", "PostgresApps", "PostgresKeys", "PostgresOAuthKeys"]

_INSERT_APP = postgres(insert("apps", APPS, "ON CONFLICT DO NOTHING"))
_UPSERT_APP = postgres(insert("apps", APPS, update_from_excluded(APP_DECLARED_FIELDS)))
_SELECT_APPS = select("apps", APPS)
_INSERT_KEY = postgres(insert("app_keys", KEYS, "ON CONFLICT DO NOTHING"))
_UPSERT_KEY = postgres(insert("app_keys", KEYS, update_from_excluded(KEY_DECLARED_FIELDS)))
_SELECT_KEYS = select("app_keys", KEYS)
_FIND_KEY_AND_APP = postgres(FIND_KEY_AND_APP)
_TOUCH_KEY = postgres(TOUCH_KEY)
_INSERT_ADMIN_TOKEN = postgres(insert("admin_tokens", ADMIN_TOKENS, "ON CONFLICT DO NOTHING"))
_SELECT_ADMIN_TOKENS = select("admin_tokens", ADMIN_TOKENS)


class PostgresApps:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def get(self, app_id: str) -> AppRecord | None:
        rows = await self._db.read(f"{_SELECT_APPS} WHERE id = %s", (app_id,))
        return APPS.decode(rows[0]) if rows else None

    async def create(self, app: AppRecord) -> None:
        async with self._db.transaction() as cursor:
            await cursor.execute(_INSERT_APP, APPS.encode(app))
            inserted = cursor.rowcount
        if not inserted:
            raise KeyError(f"app {app.id!r} already exists")

    async def upsert_declared(self, app: AppRecord) -> None:
        async with self._db.transaction() as cursor:
            await cursor.execute(_UPSERT_APP, APPS.encode(app))

    async def set_status(self, app_id: str, status: str, at: dt.datetime) -> bool:
        check_app_status(status)
        return await self._update(app_id, "status", status, at)

    async def set_policy(self, app_id: str, policy: dict[str, Any], at: dt.datetime) -> bool:
        return await self._update(app_id, "policy", msgspec.json.encode(policy).decode(), at)

    async def set_auto_execute(
        self,
        app_id: str,
        auto_execute: dict[str, Any],
        at: dt.datetime,
        events: builtins.list[AuditEvent] | None = None,
    ) -> bool:
        encoded = msgspec.json.encode(auto_execute).decode()
        return await self._update(app_id, "auto_execute", encoded, at, events)

    async def delete(self, app_id: str) -> bool:
        async with self._db.transaction() as cursor:
            await cursor.execute("DELETE FROM app_keys WHERE app_id = %s", (app_id,))
            await cursor.execute("DELETE FROM apps WHERE id = %s", (app_id,))
            return cursor.rowcount > 0

    async def count(self) -> int:
        return int((await self._db.read("SELECT COUNT(*) FROM apps"))[0][0])

    async def list(self) -> builtins.list[AppRecord]:
        return [APPS.decode(row) for row in await self._db.read(f"{_SELECT_APPS} ORDER BY created_at, id")]

    async def _update(
        self,
        app_id: str,
        column: str,
        value: Any,
        at: dt.datetime,
        events: builtins.list[AuditEvent] | None = None,
    ) -> bool:
        sql = f"UPDATE apps SET {column} = %s, updated_at = %s WHERE id = %s"  # noqa: S608
        async with self._db.transaction() as cursor:
            await cursor.execute(sql, (value, encode_timestamp(at), app_id))
            changed = cursor.rowcount > 0
            if changed and events:
                await insert_events(cursor, events)
            return changed


class PostgresKeys:
    def __init__(self, db: PostgresDatabase, cache: KeyCache[str, tuple[KeyRecord, AppRecord]]) -> None:
        self._db = db
        self._cache = cache

    async def create(self, key: KeyRecord) -> None:
        try:
            async with self._db.transaction() as cursor:
                await cursor.execute(_INSERT_KEY, KEYS.encode(key))
                inserted = cursor.rowcount
        except psycopg.IntegrityError as exc:
            raise KeyError(f"app {key.app_id!r} of key {key.id!r} does not exist") from exc
        if not inserted:
            raise KeyError(f"key {key.id!r} or its token hash already exists")

    async def upsert_declared(self, key: KeyRecord) -> None:
        try:
            async with self._db.transaction() as cursor:
                await cursor.execute(_UPSERT_KEY, KEYS.encode(key))
        except psycopg.IntegrityError as exc:
            raise KeyError(f"key {key.id!r}: unknown app or token hash used by another key") from exc

    async def get(self, key_id: str) -> KeyRecord | None:
        rows = await self._db.read(f"{_SELECT_KEYS} WHERE id = %s", (key_id,))
        return KEYS.decode(rows[0]) if rows else None

    async def find_by_hash(self, token_hash: str) -> tuple[KeyRecord, AppRecord] | None:
        generation = await self._cache.validated()  # None: off, or no listener — read the store
        if generation is None:
            return await self._find(token_hash)
        cached = self._cache.get(token_hash, generation)
        if cached is not None:
            return cached
        found = await self._find(token_hash)
        if found is not None:
            self._cache.put(token_hash, found, generation)
        return found

    async def _find(self, token_hash: str) -> tuple[KeyRecord, AppRecord] | None:
        rows = await self._db.read(_FIND_KEY_AND_APP, (token_hash,))
        if not rows:
            return None
        split = len(KEYS.columns)
        return KEYS.decode(rows[0][:split]), APPS.decode(rows[0][split:])

    async def list_for_app(self, app_id: str) -> list[KeyRecord]:
        rows = await self._db.read(f"{_SELECT_KEYS} WHERE app_id = %s ORDER BY created_at, id", (app_id,))
        return [KEYS.decode(row) for row in rows]

    async def revoke(self, key_id: str, at: dt.datetime) -> bool:
        sql = "UPDATE app_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL"
        async with self._db.transaction() as cursor:
            await cursor.execute(sql, (encode_timestamp(at), key_id))
            return cursor.rowcount > 0

    async def revoke_all_for_app(self, app_id: str, at: dt.datetime) -> int:
        sql = "UPDATE app_keys SET revoked_at = %s WHERE app_id = %s AND revoked_at IS NULL"
        async with self._db.transaction() as cursor:
            await cursor.execute(sql, (encode_timestamp(at), app_id))
            return int(cursor.rowcount)

    async def touch(self, last_used: dict[str, dt.datetime]) -> None:
        if not last_used:
            return
        # In key order: replicas flushing overlapping batches lock the rows in the same order.
        params = []
        for key_id in sorted(last_used):
            text = encode_timestamp(last_used[key_id])
            params.append((text, key_id, text))
        async with self._db.transaction() as cursor:
            await cursor.executemany(_TOUCH_KEY, params)


class PostgresAdminTokens:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def create(self, token: AdminTokenRecord) -> None:
        async with self._db.transaction() as cursor:
            await cursor.execute(_INSERT_ADMIN_TOKEN, ADMIN_TOKENS.encode(token))
            inserted = cursor.rowcount
        if not inserted:
            raise KeyError(f"admin token {token.id!r} or its token hash already exists")

    async def find_by_hash(self, token_hash: str) -> AdminTokenRecord | None:
        rows = await self._db.read(f"{_SELECT_ADMIN_TOKENS} WHERE token_hash = %s", (token_hash,))
        return ADMIN_TOKENS.decode(rows[0]) if rows else None

    async def revoke(self, token_id: str, at: dt.datetime) -> bool:
        sql = "UPDATE admin_tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL"
        async with self._db.transaction() as cursor:
            await cursor.execute(sql, (encode_timestamp(at), token_id))
            return cursor.rowcount > 0


class PostgresOAuthKeys:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def add(self, record: OAuthKeyRecord) -> None:
        async with self._db.transaction() as cursor:
            await cursor.execute(postgres(OAUTH_KEY_INSERT), OAUTH_KEYS.encode(record))

    async def active(self, use: str) -> list[OAuthKeyRecord]:
        rows = await self._db.read(postgres(OAUTH_KEYS_ACTIVE), (use,))
        return [OAUTH_KEYS.decode(row) for row in rows]

    async def retire(self, kid: str, at: dt.datetime) -> bool:
        async with self._db.transaction() as cursor:
            await cursor.execute(postgres(OAUTH_KEY_RETIRE), (encode_timestamp(at), kid))
            return cursor.rowcount > 0
