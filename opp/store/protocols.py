"""Store protocols: the only way domain code touches durable state.

Each backend (memory for unit tests, SQLite embedded, PostgreSQL later) implements :class:`Store`.
Methods are async so a network database fits behind them unchanged. Every backend passes the same
shared test suite (``tests/unit/store/test_store_contract.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from opp.store.records import AdminTokenRecord, AppRecord, AuditEvent, AuditQuery, KeyRecord

__all__ = ["AdminTokenStore", "AppStore", "AuditLog", "KeyStore", "Store"]


class AppStore(Protocol):
    async def get(self, app_id: str) -> AppRecord | None: ...

    async def list(self) -> list[AppRecord]: ...

    async def create(self, app: AppRecord) -> None:
        """Insert; raises ``KeyError`` if the id exists."""
        ...

    async def upsert_declared(self, app: AppRecord) -> None:
        """Insert or update an app declared in config (GitOps), keeping its status and created_at."""
        ...

    async def set_status(self, app_id: str, status: str, at: dt.datetime) -> bool: ...

    async def set_policy(self, app_id: str, policy: dict[str, Any], at: dt.datetime) -> bool: ...

    async def delete(self, app_id: str) -> bool:
        """Delete the app and its keys."""
        ...

    async def count(self) -> int: ...


class KeyStore(Protocol):
    async def create(self, key: KeyRecord) -> None: ...

    async def upsert_declared(self, key: KeyRecord) -> None:
        """Insert or update a key declared in config, keeping revoked_at/last_used_at."""
        ...

    async def get(self, key_id: str) -> KeyRecord | None: ...

    async def find_by_hash(self, token_hash: str) -> tuple[KeyRecord, AppRecord] | None:
        """The key with this SHA-256 and its app, in one round trip (the hot path)."""
        ...

    async def list_for_app(self, app_id: str) -> list[KeyRecord]: ...

    async def revoke(self, key_id: str, at: dt.datetime) -> bool:
        """Revoke one key; False if unknown or already revoked."""
        ...

    async def revoke_all_for_app(self, app_id: str, at: dt.datetime) -> int: ...

    async def touch(self, last_used: dict[str, dt.datetime]) -> None:
        """Record ``last_used_at`` for many keys at once (batched off the hot path)."""
        ...


class AdminTokenStore(Protocol):
    async def create(self, token: AdminTokenRecord) -> None: ...

    async def find_by_hash(self, token_hash: str) -> AdminTokenRecord | None: ...


class AuditLog(Protocol):
    async def append(self, events: list[AuditEvent]) -> None:
        """Durably append events, in order, in one transaction."""
        ...

    async def list(self, query: AuditQuery) -> list[AuditEvent]:
        """Newest first, filtered; ``query.cursor`` is the id of the last event of the previous page."""
        ...


class Store(Protocol):
    apps: AppStore
    keys: KeyStore
    admin_tokens: AdminTokenStore
    audit: AuditLog

    async def open(self) -> None:
        """Connect and apply pending schema migrations."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the store is unusable (for ``/readyz``)."""
        ...
