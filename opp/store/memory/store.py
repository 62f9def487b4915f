"""An in-memory :class:`~opp.store.protocols.Store` for unit tests.

Behaves exactly like the SQLite store (both pass ``tests/unit/store/test_store_contract.py``) but
keeps everything in dicts of one process. Records pass through the SQL row codec on the way in, so
they come back exactly as from SQLite: timestamps in UTC, naive datetimes refused, and containers
not shared with the caller. Usable without :meth:`MemoryStore.open`; after
:meth:`MemoryStore.close`, :meth:`MemoryStore.ping` fails closed like a lost database.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any, TypeVar

import msgspec

from opp.audit.chain import EMPTY_CHAIN, head_of, seal_after
from opp.store.codec import RecordCodec
from opp.store.console_protocols import ConsoleStore
from opp.store.memory.console import MemoryConsole
from opp.store.memory.writes import MemoryWrites
from opp.store.protocols import AdminTokenStore, AppStore, AuditLog, KeyStore, OAuthKeyStore
from opp.store.records import AdminTokenRecord, AppRecord, AuditEvent, AuditQuery, KeyRecord, OAuthKeyRecord
from opp.store.rules import (
    APP_DECLARED_FIELDS,
    AUDIT_EQUALITY_FILTERS,
    KEY_DECLARED_FIELDS,
    apply_declared,
    audit_page_size,
    check_app_status,
    latest,
    store_unavailable,
)
from opp.store.write_protocols import WriteStore

__all__ = ["MemoryStore"]

_Record = TypeVar("_Record", AppRecord, KeyRecord, AdminTokenRecord, AuditEvent, OAuthKeyRecord)


_CODECS: dict[type[Any], RecordCodec[Any]] = {
    record_type: RecordCodec(record_type)
    for record_type in (AppRecord, KeyRecord, AdminTokenRecord, AuditEvent, OAuthKeyRecord)
}


def _stored(record: _Record) -> _Record:
    """``record`` as a SQL backend would give it back."""
    codec: RecordCodec[_Record] = _CODECS[type(record)]
    return codec.round_trip(record)


def _oldest_first(record: AppRecord | KeyRecord) -> tuple[dt.datetime, str]:
    return record.created_at, record.id


class _Tables:
    """The rows apps and keys share (deleting an app deletes its keys; keys need their app)."""

    def __init__(self) -> None:
        self.apps: dict[str, AppRecord] = {}
        self.keys: dict[str, KeyRecord] = {}
        self.key_by_hash: dict[str, str] = {}

    def put_key(self, key: KeyRecord) -> None:
        previous = self.keys.get(key.id)
        if previous is not None:
            del self.key_by_hash[previous.token_hash]
        self.keys[key.id] = _stored(key)
        self.key_by_hash[key.token_hash] = key.id

    def delete_key(self, key_id: str) -> None:
        del self.key_by_hash[self.keys.pop(key_id).token_hash]


class MemoryApps:
    def __init__(self, tables: _Tables, audit: MemoryAuditLog) -> None:
        self._tables = tables
        self._apps = tables.apps
        self._audit = audit

    async def get(self, app_id: str) -> AppRecord | None:
        return self._apps.get(app_id)

    async def create(self, app: AppRecord) -> None:
        if app.id in self._apps:
            raise KeyError(f"app {app.id!r} already exists")
        self._apps[app.id] = _stored(app)

    async def upsert_declared(self, app: AppRecord) -> None:
        existing = self._apps.get(app.id)
        merged = app if existing is None else apply_declared(existing, app, APP_DECLARED_FIELDS)
        self._apps[app.id] = _stored(merged)

    async def set_status(self, app_id: str, status: str, at: dt.datetime) -> bool:
        check_app_status(status)
        return self._update(app_id, at, status=status)

    async def set_policy(self, app_id: str, policy: dict[str, Any], at: dt.datetime) -> bool:
        return self._update(app_id, at, policy=policy)

    async def set_auto_execute(
        self,
        app_id: str,
        auto_execute: dict[str, Any],
        at: dt.datetime,
        events: list[AuditEvent] | None = None,
    ) -> bool:
        prepared = self._audit.prepare(events or [])
        changed = self._update(app_id, at, auto_execute=auto_execute)
        if changed:
            self._audit.extend(prepared)
        return changed

    async def delete(self, app_id: str) -> bool:
        for key_id in [key.id for key in self._tables.keys.values() if key.app_id == app_id]:
            self._tables.delete_key(key_id)
        return self._apps.pop(app_id, None) is not None

    async def count(self) -> int:
        return len(self._apps)

    async def list(self) -> builtins.list[AppRecord]:
        return sorted(self._apps.values(), key=_oldest_first)

    def _update(self, app_id: str, at: dt.datetime, **changes: Any) -> bool:
        app = self._apps.get(app_id)
        if app is None:
            return False
        self._apps[app_id] = _stored(msgspec.structs.replace(app, updated_at=at, **changes))
        return True


class MemoryKeys:
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables
        self._keys = tables.keys

    async def create(self, key: KeyRecord) -> None:
        if key.id in self._keys or key.token_hash in self._tables.key_by_hash:
            raise KeyError(f"key {key.id!r} or its token hash already exists")
        self._require_app(key)
        self._tables.put_key(key)

    async def upsert_declared(self, key: KeyRecord) -> None:
        if self._tables.key_by_hash.get(key.token_hash, key.id) != key.id:
            raise KeyError(f"key {key.id!r}: token hash used by another key")
        self._require_app(key)
        existing = self._keys.get(key.id)
        self._tables.put_key(key if existing is None else apply_declared(existing, key, KEY_DECLARED_FIELDS))

    async def get(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    async def find_by_hash(self, token_hash: str) -> tuple[KeyRecord, AppRecord] | None:
        key_id = self._tables.key_by_hash.get(token_hash)
        if key_id is None:
            return None
        key = self._keys[key_id]
        return key, self._tables.apps[key.app_id]

    async def list_for_app(self, app_id: str) -> list[KeyRecord]:
        return sorted((key for key in self._keys.values() if key.app_id == app_id), key=_oldest_first)

    async def revoke(self, key_id: str, at: dt.datetime) -> bool:
        key = self._keys.get(key_id)
        if key is None or key.revoked_at is not None:
            return False
        self._tables.put_key(msgspec.structs.replace(key, revoked_at=at))
        return True

    async def revoke_all_for_app(self, app_id: str, at: dt.datetime) -> int:
        revoked = [await self.revoke(key.id, at) for key in await self.list_for_app(app_id)]
        return sum(revoked)

    async def touch(self, last_used: dict[str, dt.datetime]) -> None:
        for key_id, at in last_used.items():
            key = self._keys.get(key_id)
            if key is not None:
                self._tables.put_key(msgspec.structs.replace(key, last_used_at=latest(key.last_used_at, at)))

    def _require_app(self, key: KeyRecord) -> None:
        if key.app_id not in self._tables.apps:
            raise KeyError(f"app {key.app_id!r} of key {key.id!r} does not exist")


class MemoryAdminTokens:
    def __init__(self) -> None:
        self._tokens: dict[str, AdminTokenRecord] = {}

    async def create(self, token: AdminTokenRecord) -> None:
        if token.id in self._tokens or await self.find_by_hash(token.token_hash) is not None:
            raise KeyError(f"admin token {token.id!r} or its token hash already exists")
        self._tokens[token.id] = _stored(token)

    async def find_by_hash(self, token_hash: str) -> AdminTokenRecord | None:
        return next((t for t in self._tokens.values() if t.token_hash == token_hash), None)

    async def revoke(self, token_id: str, at: dt.datetime) -> bool:
        token = self._tokens.get(token_id)
        if token is None or token.revoked_at is not None:
            return False
        self._tokens[token_id] = _stored(msgspec.structs.replace(token, revoked_at=at))
        return True


class MemoryOAuthKeys:
    def __init__(self) -> None:
        self._keys: dict[str, OAuthKeyRecord] = {}

    async def add(self, record: OAuthKeyRecord) -> None:
        self._keys.setdefault(record.kid, _stored(record))

    async def active(self, use: str) -> list[OAuthKeyRecord]:
        found = (k for k in self._keys.values() if k.use == use and k.retired_at is None)
        return sorted(found, key=lambda k: (k.created_at, k.kid))

    async def retire(self, kid: str, at: dt.datetime) -> bool:
        key = self._keys.get(kid)
        if key is None or key.retired_at is not None:
            return False
        self._keys[kid] = _stored(msgspec.structs.replace(key, retired_at=at))
        return True


def _matches(event: AuditEvent, query: AuditQuery) -> bool:
    for name in AUDIT_EQUALITY_FILTERS:
        wanted = getattr(query, name)
        if wanted is not None and getattr(event, name) != wanted:
            return False
    if query.since is not None and event.created_at < query.since:
        return False
    return query.until is None or event.created_at < query.until


class MemoryAuditLog:
    """Events in a list; :meth:`extend` seals them onto the hash chain as they are appended."""

    def __init__(self) -> None:
        self._events: list[AuditEvent] = []
        self._positions: dict[str, int] = {}
        self._head = EMPTY_CHAIN

    async def append(self, events: builtins.list[AuditEvent]) -> None:
        self.extend(self.prepare(events))

    def prepare(self, events: builtins.list[AuditEvent]) -> builtins.list[AuditEvent]:
        """``events`` as stored; ``KeyError`` if an id exists. Nothing is appended yet."""
        ids = [event.id for event in events]
        if len(set(ids)) != len(ids) or any(event_id in self._positions for event_id in ids):
            raise KeyError("an audit event with one of these ids already exists")
        return [_stored(event) for event in events]

    def extend(self, prepared: builtins.list[AuditEvent]) -> None:
        """Seal and append events returned by :meth:`prepare` (cannot fail, so a change commits whole)."""
        for event in seal_after(self._head, prepared):
            self._positions[event.id] = len(self._events)
            self._events.append(event)
            self._head = head_of(event)

    async def read_chain(self, after_seq: int, limit: int) -> builtins.list[AuditEvent]:
        start = max(0, after_seq)  # seq n is at index n - 1
        return self._events[start : start + max(0, limit)]

    async def list(self, query: AuditQuery) -> builtins.list[AuditEvent]:
        end = len(self._events) if query.cursor is None else self._positions.get(query.cursor, 0)
        page: builtins.list[AuditEvent] = []
        size = audit_page_size(query)
        for event in reversed(self._events[:end]):
            if len(page) == size:
                break
            if _matches(event, query):
                page.append(event)
        return page


class MemoryStore:
    """A :class:`~opp.store.protocols.Store` in plain dicts; state dies with the instance."""

    def __init__(self) -> None:
        tables = _Tables()
        audit = MemoryAuditLog()
        self.apps: AppStore = MemoryApps(tables, audit)
        self.keys: KeyStore = MemoryKeys(tables)
        self.admin_tokens: AdminTokenStore = MemoryAdminTokens()
        self.oauth_keys: OAuthKeyStore = MemoryOAuthKeys()
        self.audit: AuditLog = audit
        self.writes: WriteStore = MemoryWrites(audit)
        self.console: ConsoleStore = MemoryConsole()
        self._closed = False

    async def open(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True

    async def ping(self) -> None:
        """Raise ``OppError(agent.unavailable)`` once the store is closed."""
        if self._closed:
            raise store_unavailable()
